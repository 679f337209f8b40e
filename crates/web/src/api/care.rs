//! The API for the day-to-day care: the dashboard, devices and their
//! cleaning cycle, the readiness gate, today's plan and logged sessions,
//! aftercare, check-ins and progress ratings.
//!
//! Each handler calls the same function as its web page (in `pages`), so
//! the API and the forms cannot disagree on a rule, a limit or a message.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use needlewise_actions::RequestKey;
use needlewise_core::aftercare::timeline;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::hygiene::Device;
use needlewise_core::ids::{DeviceId, EpisodeId, RatingId};
use needlewise_core::progress;
use needlewise_core::schedule::next_session;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ApiJson, ApiMe, ApiResult, openapi::ErrorBody};
use crate::auth::Me;
use crate::blocking;
use crate::error::WebError;
use crate::pages::session::ZoneEntry;
use crate::pages::{
    aftercare as aftercare_pages, checkin, devices as device_pages, progress as progress_pages,
    ready, session,
};

fn device_entry(d: &Device, now: jiff::Timestamp) -> Value {
    json!({"device": d, "status": d.status(now, &evidence().defaults.hygiene)})
}

/// What the home page shows: the screening verdict, the next session, the
/// latest check-in and the devices.
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "schedule",
    security(("session" = [])),
    responses(
        (status = 200, description = "`verdict` (or null), `next` (the earliest next session \
            and why), `locked` (a red flag is open), `latest_checkin` (`level` and `headline`, \
            or null) and `devices` (each with its status now).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn dashboard(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let d = blocking(&state, move |s| s.dashboard(profile)).await?;
    let now = state.now();
    let zoned = state.zoned_now();
    let mut next = next_session(evidence(), d.last_session, d.locked, &zoned);
    if let Some(p) = &d.protocol {
        next = p.apply_to(next, &zoned);
    }
    Ok(Json(json!({
        "profile": {"id": auth.profile.id, "name": auth.profile.name},
        "verdict": d.verdict,
        "next": next,
        "locked": d.locked,
        "latest_checkin": d.latest_checkin.map(|l| json!({"level": l, "headline": l.headline()})),
        "devices": d.devices.iter().map(|dev| device_entry(dev, now)).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// A new roller or pen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewDevice {
    /// A name to tell it apart, such as "0.25 roller" (1 to 80 characters
    /// on one line, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 80,
        pattern = "^[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f][^\\x00-\\x1f\\x7f]*$"
    )]
    name: String,
    /// `roller` (192 needles on a 2 × 2 cm drum) or `pen` (12-needle
    /// cartridges). `rf_microneedling` is refused (`refused`): RF
    /// microneedling is never for home use.
    #[serde(default)]
    kind: DeviceKindName,
    /// The needle length in millimetres (above 0, at most 3).
    #[schema(exclusive_minimum = 0.0, maximum = 3.0)]
    needle_mm: f64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum DeviceKindName {
    #[default]
    Roller,
    Pen,
    RfMicroneedling,
}

/// Adds a device to the current profile.
#[utoipa::path(
    post,
    path = "/devices",
    tag = "devices",
    security(("session" = [], "csrf" = [])),
    request_body = NewDevice,
    responses(
        (status = 201, description = "The new device with its status.", body = super::openapi::DeviceEntry),
        (status = 409, description = "A radiofrequency microneedling device (`conflict`): RF \
            microneedling is never for home use, and nothing is saved.", body = ErrorBody),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 422, description = "A bad field (`bad_input`), such as a needle length outside \
            what needlewise knows.", body = ErrorBody),
    )
)]
pub(super) async fn add_device(
    ApiMe(Me { state, auth }): ApiMe,
    ApiJson(new): ApiJson<NewDevice>,
) -> ApiResult {
    if matches!(new.kind, DeviceKindName::RfMicroneedling) {
        return Err(WebError::from(needlewise_actions::radiofrequency_refused()).into());
    }
    let pen = matches!(new.kind, DeviceKindName::Pen);
    let device = device_pages::create(&state, &auth.profile, &new.name, pen, new.needle_mm).await?;
    Ok((
        StatusCode::CREATED,
        Json(device_entry(&device, state.now())),
    )
        .into_response())
}

/// Details of a cleaning step.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StepDetails {
    /// For `soak`: the alcohol strength in percent, 70 to 90 (default 70).
    #[schema(minimum = 70, maximum = 90)]
    alcohol_percent: Option<u8>,
    /// For `damage`: what is wrong.
    note: Option<String>,
}

/// One step of a device's cycle: `rinse`, `soak`, `dry`, `ready`,
/// `cartridge` (pens), `damage` or `retire`.
#[utoipa::path(
    post,
    path = "/devices/{id}/{action}",
    tag = "devices",
    security(("session" = [], "csrf" = [])),
    params(
        ("id" = String, Path, description = "The device id."),
        ("action" = String, Path, description = "`rinse`, `soak`, `dry`, `ready`, `cartridge`, `damage` or `retire`."),
    ),
    request_body(content = StepDetails, description = "Optional; an empty body is the same as `{}`."),
    responses(
        (status = 200, description = "The device after the step, with its status.", body = super::openapi::DeviceEntry),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "No such device in this profile, or no such action (`not_found`).", body = ErrorBody),
        (status = 409, description = "The device changed meanwhile (`conflict`).", body = ErrorBody),
        (status = 422, description = "A body that cannot be read (`bad_input`), or a step \
            not allowed now, such as drying a roller that has not soaked long enough \
            (`wrong_transition`).", body = ErrorBody),
    )
)]
pub(super) async fn device_step(
    ApiMe(Me { state, auth }): ApiMe,
    Path((id, action)): Path<(String, String)>,
    details: Option<ApiJson<StepDetails>>,
) -> ApiResult {
    let details = details.map(|ApiJson(d)| d).unwrap_or_default();
    let id: DeviceId = id.parse().map_err(|_| WebError::NotFound)?;
    let alcohol = details.alcohol_percent.map(|p| p.to_string());
    let event = device_pages::event(&action, alcohol.as_deref(), details.note.as_deref())?
        .ok_or(WebError::NotFound)?;
    let device = device_pages::apply(&state, auth.profile.id, id, event).await?;
    Ok(Json(device_entry(&device, state.now())).into_response())
}

/// A device's cleaning log, oldest first: every rinse, soak, drying,
/// use, damage report and retirement, with the state after it.
#[utoipa::path(
    get,
    path = "/devices/{id}/log",
    tag = "devices",
    security(("session" = [])),
    params(("id" = String, Path, description = "The device id.")),
    responses(
        (status = 200, description = "Each entry: `at`, `event` (with its details, such as \
            `alcohol_percent`) and `state_after`.", body = [Object]),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "No such device in this profile (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn device_log(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
) -> ApiResult {
    let id: DeviceId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    let log = blocking(&state, move |s| {
        Ok(match s.device(profile, id)? {
            None => None,
            Some(_) => Some(s.hygiene_log(profile, id)?),
        })
    })
    .await?
    .ok_or(WebError::NotFound)?;
    Ok(Json(log).into_response())
}

/// Today's readiness answers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReadinessRequest {
    /// The device to use today (its id); without one the gate says no device is ready.
    #[schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    device: Option<String>,
    /// Answers keyed by question id (see `readiness.questions` in `/api/evidence`).
    #[schema(value_type = Object)]
    answers: Value,
}

/// The same-day readiness gate: go or no-go, with the reasons.
#[utoipa::path(
    post,
    path = "/readiness",
    tag = "session",
    security(("session" = [], "csrf" = [])),
    request_body = ReadinessRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    responses(
        (status = 200, description = "`go`, the `headline`, the `zones` allowed today and the \
            `reasons`, each with its rule id and sources.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "No such device in this profile (`not_found`).", body = ErrorBody),
        (status = 422, description = "A bad body (`bad_input`) or bad answers (`invalid_answers`).", body = ErrorBody),
    )
)]
pub(super) async fn readiness(
    ApiMe(Me { state, auth }): ApiMe,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ReadinessRequest>,
) -> ApiResult {
    let key = idempotency_key(&headers)?;
    let answers = Answers::from_json(&evidence().readiness, &req.answers, state.today())?;
    let device = match req.device {
        None => None,
        Some(id) => Some(
            id.parse::<DeviceId>()
                .map_err(|_| WebError::BadInput("device: not a device id".into()))?,
        ),
    };
    let result = ready::check_keyed(&state, &auth.profile, key, answers, device)
        .await?
        .readiness;
    Ok(Json(result).into_response())
}

/// Readiness at this moment, without new answers: the verdict of the
/// newest check for the device that still holds (its answers with the
/// facts now), else the reasons the facts alone give and
/// `needs_answers`. The guided session, the readiness page and
/// `needlewise ready --json` show the same verdict.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "session",
    security(("session" = [])),
    params(("device" = Option<String>, Query, description = "A device id; else the best ready device.")),
    responses(
        (status = 200, description = "`device_id`, `check` and `checked_at` (the check the \
            verdict rests on, or null), `needs_answers`, and `readiness` (`go`, `headline`, \
            `zones`, `skipped_zones`, `reasons`).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "No such device in this profile (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn ready_now(
    ApiMe(Me { state, auth }): ApiMe,
    Query(q): Query<TodayQuery>,
) -> ApiResult {
    let device = q.device()?;
    let profile = auth.profile.id;
    let view = crate::act(&state, move |ctx| {
        needlewise_actions::readiness_now(ctx, profile, device)
    })
    .await?;
    Ok(Json(view).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct TodayQuery {
    device: Option<String>,
}

impl TodayQuery {
    /// The device asked about; an id that is not one is not found.
    fn device(&self) -> Result<Option<DeviceId>, WebError> {
        self.device
            .as_deref()
            .map(|id| id.parse::<DeviceId>().map_err(|_| WebError::NotFound))
            .transpose()
    }
}

/// Today's guided-session plan: the device, each zone with its sections
/// (direction, strokes, seconds), the zones left out and what blocks the day.
#[utoipa::path(
    get,
    path = "/session/today",
    tag = "session",
    security(("session" = [])),
    params(("device" = Option<String>, Query, description = "A device id; else the best ready device.")),
    responses(
        (status = 200, description = "`allowed`, `date`, `device`, `zones` (each with `id`, \
            `label`, `periorbital` and `sections`, and also as a `ZoneEntry`: `zone`, the planned \
            `seconds` and `strokes`, `skipped`, so they post back unchanged to `POST /api/sessions`), \
            `excluded`, `blockers` and `saved` (today's session, if logged).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "No such device in this profile (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn today(
    ApiMe(Me { state, auth }): ApiMe,
    Query(q): Query<TodayQuery>,
) -> ApiResult {
    let device = q.device()?;
    let today = session::today(&state, auth.profile.id, device).await?;
    Ok(Json(json!({
        "allowed": today.allowed(),
        "date": today.date,
        "device": today.device,
        "zones": today.zones,
        "excluded": today.excluded,
        "blockers": today.blockers,
        "saved": today.saved,
    }))
    .into_response())
}

/// A finished session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSession {
    /// A UUID the client chose for this session: sending the same session
    /// again (a retry after a lost answer) returns the stored one and
    /// stores nothing more.
    #[serde(default)]
    id: Option<String>,
    /// The device used (its id).
    #[schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    device: String,
    /// The zones treated, each of today's plan.
    zones: Vec<ZoneEntry>,
    /// Products applied straight after (at most 10, each at most 200
    /// characters); each goes through the serum gate.
    #[serde(default)]
    #[schema(max_items = 10, value_type = Vec<String>)]
    products: Vec<String>,
}

/// Logs a finished session: the gate is checked again, only zones of
/// today's plan are accepted, and the device's use is counted.
#[utoipa::path(
    post,
    path = "/sessions",
    tag = "session",
    security(("session" = [], "csrf" = [])),
    request_body = NewSession,
    responses(
        (status = 201, description = "The session as stored, with each product's serum-gate \
            decision in `allowed`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "No such device in this profile (`not_found`).", body = ErrorBody),
        (status = 409, description = "Not today: the gate blocks it; nothing was saved (`conflict`).", body = ErrorBody),
        (status = 422, description = "A bad field, such as a zone not in today's plan (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn log_session(
    ApiMe(Me { state, auth }): ApiMe,
    ApiJson(new): ApiJson<NewSession>,
) -> ApiResult {
    let device: DeviceId = new
        .device
        .parse()
        .map_err(|_| WebError::BadInput("device: not a device id".into()))?;
    let products = session::check_products(new.products.iter().map(String::as_str))?;
    let id = new
        .id
        .as_deref()
        .map(session::parse_session_id)
        .transpose()?;
    let zones = new.zones;
    let saved = session::save(
        &state,
        &auth.profile,
        device,
        session::Key { id, ran_for: None },
        |plan| session::check_zones(&zones, plan),
        products,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

/// The current profile's sessions, newest first.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "session",
    security(("session" = [])),
    responses(
        (status = 200, description = "Every session with its zones and products.", body = [Object]),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn sessions(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let list = blocking(&state, move |s| s.sessions(profile)).await?;
    Ok(Json(list).into_response())
}

/// The aftercare timeline after the last session.
#[utoipa::path(
    get,
    path = "/aftercare",
    tag = "aftercare",
    security(("session" = [])),
    responses(
        (status = 200, description = "`session_ended_at` (or null before the first session) and \
            `steps`: what to apply or avoid, until when, and whether it applies now.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn aftercare(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let last = blocking(&state, move |s| s.last_session(profile)).await?;
    let now = state.now();
    Ok(Json(match last {
        None => json!({"session_ended_at": null, "steps": []}),
        Some(s) => json!({
            "session_ended_at": s.ended_at,
            "steps": timeline(evidence(), s.ended_at, now),
        }),
    })
    .into_response())
}

/// A product to put on after the session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ProductRequest {
    /// The product's name as on its label (1 to 1000 characters).
    #[schema(min_length = 1, max_length = 1000)]
    product: String,
}

/// The serum gate: may this product go on now? An allowed product is
/// recorded as applied after the last session.
#[utoipa::path(
    post,
    path = "/aftercare/products",
    tag = "aftercare",
    security(("session" = [], "csrf" = [])),
    request_body = ProductRequest,
    responses(
        (status = 200, description = "The decision: `allowed`, `product`, `category`, `reason` \
            and, when refused, from when it is allowed.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 409, description = "No session yet (`conflict`).", body = ErrorBody),
        (status = 422, description = "A bad field (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn product(
    ApiMe(Me { state, auth }): ApiMe,
    ApiJson(req): ApiJson<ProductRequest>,
) -> ApiResult {
    let decision = aftercare_pages::apply(&state, auth.profile.id, &req.product)
        .await?
        .ok_or_else(|| WebError::Conflict("no session yet: nothing to apply after".into()))?;
    Ok(Json(decision).into_response())
}

/// The current profile's check-ins (newest first) and red-flag episodes.
#[utoipa::path(
    get,
    path = "/checkins",
    tag = "checkins",
    security(("session" = [])),
    responses(
        (status = 200, description = "`checkins`, newest first, and `episodes`, each open \
            until `resolved_at`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn checkins(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let (checkins, episodes) = blocking(&state, move |s| {
        Ok((s.checkins(profile)?, s.episodes(profile)?))
    })
    .await?;
    Ok(Json(json!({"checkins": checkins, "episodes": episodes})).into_response())
}

/// A symptom check-in about the last session, triaged against the expected
/// course. A red flag opens an episode that locks further sessions.
#[utoipa::path(
    post,
    path = "/checkins",
    tag = "checkins",
    security(("session" = [], "csrf" = [])),
    request_body(content = Object, description = "Answers keyed by question id (see \
        `checkin.questions` in `/api/evidence`)."),
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    responses(
        (status = 200, description = "The triage: `level`, `headline`, `locks_sessions`, \
            the `reasons` and, when an answer already calls for the surgeon or urgent care \
            while others are missing, `missing` (the questions to answer next; the \
            check-in is stored as partial and the red flag is raised).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 422, description = "No session yet or a bad body (`bad_input`), or bad \
            answers (`invalid_answers`).", body = ErrorBody),
    )
)]
pub(super) async fn add_checkin(
    ApiMe(Me { state, auth }): ApiMe,
    headers: HeaderMap,
    ApiJson(value): ApiJson<Value>,
) -> ApiResult {
    let key = idempotency_key(&headers)?;
    let answers = Answers::from_json(&evidence().checkin, &value, state.today())?;
    let triage = checkin::record_keyed(&state, &auth.profile, key, answers)
        .await?
        .triage;
    Ok(Json(triage).into_response())
}

const IDEMPOTENCY_KEY: &str = "A UUID the client makes for this request. Sent again with \
    the same key (a retry after a lost answer), nothing more is stored and the first \
    result comes back.";

/// The request's `Idempotency-Key` header, when it has one; anything but a
/// UUID is `bad_input`.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<RequestKey>, WebError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(RequestKey::parse)
        .map(Some)
        .ok_or_else(|| WebError::BadInput("Idempotency-Key: expected a UUID".into()))
}

/// A red flag resolved on the person's word: who examined them and when,
/// and a fresh check-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Resolution {
    /// Who examined them (2 to 120 characters), such as "my GP".
    doctor: String,
    /// The day of the examination (`YYYY-MM-DD`): on or after the red
    /// flag, not in the future.
    examined_on: String,
    /// Today's check-in answers, keyed by question id.
    #[schema(value_type = Object)]
    answers: Value,
}

/// Resolves a red flag on the person's word. Only when no clinic sees the
/// person's check-ins (otherwise a clinician of that clinic resolves it,
/// `POST /api/clinic/red-flags/{profile}/{episode}/resolve`): the person
/// states which doctor examined them and when, and answers a fresh
/// check-in; only a check-in without a warning sign resolves it.
#[utoipa::path(
    post,
    path = "/episodes/{id}/resolve",
    tag = "checkins",
    security(("session" = [], "csrf" = [])),
    params(("id" = String, Path, description = "The episode id.")),
    request_body = Resolution,
    responses(
        (status = 200, description = "`resolved` (true, or false when the fresh check-in \
            still shows a warning sign: it is stored and the red flag stays) and `triage`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`), or a clinic \
            sees the check-ins and resolves it (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such open episode in this profile (`not_found`).", body = ErrorBody),
        (status = 422, description = "A bad field (`bad_input`) or bad answers (`invalid_answers`).", body = ErrorBody),
    )
)]
pub(super) async fn resolve_episode(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Resolution>,
) -> ApiResult {
    let id: EpisodeId = id.parse().map_err(|_| WebError::NotFound)?;
    let examined_on = needlewise_core::answers::parse_date(&req.examined_on)
        .map_err(|e| WebError::BadInput(format!("examined_on: {e}")))?;
    let answers = Answers::from_json(&evidence().checkin, &req.answers, state.today())?;
    let statement = needlewise_actions::DoctorStatement {
        doctor: req.doctor,
        examined_on,
    };
    let outcome = checkin::close(&state, &auth.profile, id, statement, answers).await?;
    let (resolved, triage) = match outcome {
        needlewise_actions::Resolution::Resolved(c) => (true, c.triage),
        needlewise_actions::Resolution::StillFlagged(c) => (false, c.triage),
    };
    Ok(Json(json!({"resolved": resolved, "triage": triage})).into_response())
}

/// Ratings (oldest first), their trends per concern and zone, and photo
/// metadata.
#[utoipa::path(
    get,
    path = "/progress",
    tag = "progress",
    security(("session" = [])),
    responses(
        (status = 200, description = "`ratings`, `trends` (per concern, a series per zone) \
            and `photos` (metadata; the files are at `/progress/photos/{id}`).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn progress_json(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let (ratings, photos) = blocking(&state, move |s| {
        Ok((s.ratings(profile)?, s.photos(profile)?))
    })
    .await?;
    Ok(Json(json!({
        "ratings": ratings,
        "trends": progress::trends(&ratings),
        "photos": photos,
    }))
    .into_response())
}

/// A self-rating.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewRating {
    /// A zone id, such as `forehead`.
    #[schema(
        pattern = "^(forehead|nose|left_cheek|right_cheek|chin|upper_lip|periorbital_left|periorbital_right|neck)$"
    )]
    zone: String,
    /// `lines_and_wrinkles`, `acne_scars`, `hyperpigmentation_and_brown_spots`,
    /// `laxity` or `tone_and_texture`.
    #[schema(
        pattern = "^(lines_and_wrinkles|acne_scars|hyperpigmentation_and_brown_spots|laxity|tone_and_texture)$"
    )]
    concern: String,
    /// 0 (none) to 4 (severe), as anchored on the progress page.
    #[schema(minimum = 0, maximum = 4)]
    score: u8,
    #[serde(default)]
    note: String,
}

/// Rates one concern in one zone, now.
#[utoipa::path(
    post,
    path = "/ratings",
    tag = "progress",
    security(("session" = [], "csrf" = [])),
    request_body = NewRating,
    responses(
        (status = 201, description = "The rating as stored.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 422, description = "A bad field (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn add_rating(
    ApiMe(Me { state, auth }): ApiMe,
    ApiJson(new): ApiJson<NewRating>,
) -> ApiResult {
    let zone = progress_pages::parse_zone(&new.zone)?;
    let concern = progress_pages::parse_concern(&new.concern)?;
    let score = needlewise_core::progress::Score::new(new.score)
        .map_err(|_| WebError::BadInput("score: choose a level from 0 to 4".into()))?;
    let rating =
        progress_pages::rate(&state, auth.profile.id, zone, concern, score, &new.note).await?;
    Ok((StatusCode::CREATED, Json(rating)).into_response())
}

/// Deletes one of the profile's ratings.
#[utoipa::path(
    delete,
    path = "/ratings/{id}",
    tag = "progress",
    security(("session" = [], "csrf" = [])),
    params(("id" = String, Path, description = "The rating id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "No such rating in this profile (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn delete_rating(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
) -> ApiResult {
    let id: RatingId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    blocking(&state, move |s| s.delete_rating(profile, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
