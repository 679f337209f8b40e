//! Appointments over the API, for patients (`/appointments`, the proposals
//! of a conversation) and for clinic members (`/clinic/appointments`,
//! proposing times in a conversation). The handlers parse and render;
//! every decision is the actions layer's and the store's (who may
//! schedule, `Act::Schedule`; whether a slot may be booked, the core's
//! `Hours::offer`; one booking per slot, the store's unique index), and
//! every clinic read and write is in the patient's audit log.
//!
//! A slot someone else booked first is `409 conflict` with the plain
//! message; a time that has passed, is not offered, or a missing reason
//! is `422 bad_input`; an appointment, clinic or conversation the asker
//! may not reach is `404 not_found`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::{SignedDuration, Timestamp};
use needlewise_actions::{Asker, RequestKey};
use needlewise_core::appointment::{Appointment, MAX_PROPOSED, MAX_RANGE_DAYS, Proposal, Slot};
use needlewise_core::conversation::Side;
use needlewise_core::ids::{AppointmentId, ClinicId, ConversationId, ProfileId, ProposalId};
use needlewise_store::appointment::AppointmentView;
use needlewise_store::clinic::ClinicAccess;
use needlewise_store::conversation::Posted;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::messages::key_of;
use super::{ApiClinicCtx, ApiJson, ApiMe, ApiResult, openapi::ErrorBody};
use crate::auth::Me;
use crate::error::WebError;
use crate::pages::appointments::BOOKING_DAYS;
use crate::pages::messages::mail_for;
use crate::{AppState, act, blocking};

/// Who asks, carried across the blocking pool (an [`Asker`] borrows).
#[derive(Debug, Clone, Copy)]
enum Who {
    Patient,
    Clinic(ClinicAccess),
}

impl Who {
    fn asker(&self) -> Asker<'_> {
        match self {
            Who::Patient => Asker::Patient,
            Who::Clinic(a) => Asker::Clinic(a),
        }
    }
}

/// How many days back and ahead the clinic's list reads by default.
const CLINIC_DAYS_BACK: i64 = 1;
const CLINIC_DAYS_AHEAD: i64 = crate::pages::clinic::appointments::LIST_DAYS;

/// A stretch of time the clinic offers.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SlotOut {
    #[schema(value_type = String, format = DateTime)]
    start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    end: Timestamp,
}

impl From<&Slot> for SlotOut {
    fn from(s: &Slot) -> Self {
        SlotOut {
            start: s.start,
            end: s.end,
        }
    }
}

/// Who did something to an appointment, as shown.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ActorOut {
    /// `patient` or `clinic`.
    #[schema(value_type = String, pattern = "^(patient|clinic)$")]
    side: Side,
    /// The profile's name, or the clinic member's display name.
    name: String,
}

/// How a booked appointment ended.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EndingOut {
    by: ActorOut,
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    reason: String,
    /// The appointment that replaced it, when it was moved.
    #[schema(value_type = Option<String>)]
    replaced_by: Option<AppointmentId>,
}

/// An appointment of a patient at a clinic.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AppointmentOut {
    #[schema(value_type = String)]
    id: AppointmentId,
    #[schema(value_type = String)]
    clinic_id: ClinicId,
    clinic_name: String,
    /// The clinic's IANA time zone, in which its hours are set.
    clinic_time_zone: String,
    #[schema(value_type = String)]
    profile_id: ProfileId,
    patient_name: String,
    #[schema(value_type = String, format = DateTime)]
    start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    end: Timestamp,
    /// `booked`, `cancelled` or `rescheduled`.
    #[schema(value_type = String, pattern = "^(booked|cancelled|rescheduled)$")]
    status: needlewise_core::appointment::Status,
    /// What the booker wrote (may be empty).
    note: String,
    /// The conversation it was arranged in, if any.
    #[schema(value_type = Option<String>)]
    conversation_id: Option<ConversationId>,
    /// The proposal it was booked from, if any.
    #[schema(value_type = Option<String>)]
    proposal_id: Option<ProposalId>,
    /// The appointment it replaces, when it was booked by moving one.
    #[schema(value_type = Option<String>)]
    replaces: Option<AppointmentId>,
    booked_by: ActorOut,
    #[schema(value_type = String, format = DateTime)]
    booked_at: Timestamp,
    /// Null while booked.
    ended: Option<EndingOut>,
    /// The iCalendar SEQUENCE: 0 when booked, one more for each change.
    sequence: u32,
}

impl From<&AppointmentView> for AppointmentOut {
    fn from(v: &AppointmentView) -> Self {
        let a: &Appointment = &v.appointment;
        AppointmentOut {
            id: a.id,
            clinic_id: a.clinic_id,
            clinic_name: v.clinic_name.clone(),
            clinic_time_zone: v.clinic_time_zone.clone(),
            profile_id: a.profile_id,
            patient_name: v.patient_name.clone(),
            start: a.slot.start,
            end: a.slot.end,
            status: a.status,
            note: a.note.clone(),
            conversation_id: a.conversation_id,
            proposal_id: a.proposal_id,
            replaces: a.replaces,
            booked_by: ActorOut {
                side: a.booked_by.side,
                name: a.booked_by.name.clone(),
            },
            booked_at: a.booked_at,
            ended: a.ended.as_ref().map(|e| EndingOut {
                by: ActorOut {
                    side: e.by.side,
                    name: e.by.name.clone(),
                },
                at: e.at,
                reason: e.reason.clone(),
                replaced_by: e.replaced_by,
            }),
            sequence: a.sequence,
        }
    }
}

/// A list of appointments, soonest first.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AppointmentList {
    appointments: Vec<AppointmentOut>,
}

/// A booked appointment and whether this request stored it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Booked {
    appointment: AppointmentOut,
    /// False when the same `key` was sent before: nothing new was stored.
    stored: bool,
}

/// A moved appointment: the one it was, now `rescheduled`, and the new one.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Moved {
    previous: AppointmentOut,
    appointment: AppointmentOut,
}

/// Free slots of a clinic.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct FreeSlots {
    #[schema(value_type = String)]
    clinic_id: ClinicId,
    /// The clinic's IANA time zone.
    time_zone: String,
    /// Whether the clinic has set its opening hours at all.
    hours_set: bool,
    /// The slots, soonest first, from now for `days` days.
    slots: Vec<SlotOut>,
}

/// Times a clinic member offered in a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProposalOut {
    #[schema(value_type = String)]
    id: ProposalId,
    #[schema(value_type = String)]
    clinic_id: ClinicId,
    #[schema(value_type = String)]
    conversation_id: ConversationId,
    /// One to three, in time order.
    slots: Vec<SlotOut>,
    by: ActorOut,
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    /// The appointment booked from it, once one is: then no other slot of
    /// it may be booked.
    #[schema(value_type = Option<String>)]
    booked: Option<AppointmentId>,
}

impl From<&Proposal> for ProposalOut {
    fn from(p: &Proposal) -> Self {
        ProposalOut {
            id: p.id,
            clinic_id: p.clinic_id,
            conversation_id: p.conversation_id,
            slots: p.slots.iter().map(SlotOut::from).collect(),
            by: ActorOut {
                side: p.by.side,
                name: p.by.name.clone(),
            },
            at: p.at,
            booked: p.booked,
        }
    }
}

/// The proposals of one conversation, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProposalList {
    proposals: Vec<ProposalOut>,
}

fn list(views: &[AppointmentView]) -> AppointmentList {
    AppointmentList {
        appointments: views.iter().map(AppointmentOut::from).collect(),
    }
}

fn instant(field: &str, raw: &str) -> Result<Timestamp, WebError> {
    raw.trim().parse().map_err(|_| {
        WebError::BadInput(format!(
            "{field}: an instant such as 2026-12-08T09:00:00Z (one of the free slots' `start`)"
        ))
    })
}

fn id_or_not_found<T: std::str::FromStr>(raw: &str) -> Result<T, WebError> {
    raw.trim().parse().map_err(|_| WebError::NotFound)
}

fn optional_id<T: std::str::FromStr>(
    field: &str,
    raw: &Option<String>,
) -> Result<Option<T>, WebError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| WebError::BadInput(format!("{field}: a UUID"))),
    }
}

/// A query string that does not read (a number that is not one, say) is
/// bad input in the API's own JSON, not axum's plain-text 400.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, WebError> {
    q.map(|Query(q)| q)
        .map_err(|e| WebError::BadInput(format!("query: {}", e.body_text())))
}

fn days_of(raw: Option<i64>) -> Result<i64, WebError> {
    match raw {
        None => Ok(BOOKING_DAYS),
        Some(d) if (1..=MAX_RANGE_DAYS).contains(&d) => Ok(d),
        Some(_) => Err(WebError::BadInput(format!(
            "days: a whole number from 1 to {MAX_RANGE_DAYS}"
        ))),
    }
}

/// The window of free slots asked for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SlotsQuery {
    /// One of the profile's clinics.
    clinic_id: String,
    /// How many days from now, 1 to 62 (default 21).
    #[param(minimum = 1, maximum = 62)]
    days: Option<i64>,
}

/// The profile's appointments at every clinic (also those it has left),
/// soonest first.
#[utoipa::path(
    get,
    path = "/appointments",
    tag = "appointments",
    security(("session" = [])),
    responses(
        (status = 200, description = "The profile's appointments.", body = AppointmentList),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn appointments(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let mine = blocking(&state, move |s| s.patient_appointments(profile)).await?;
    Ok(Json(list(&mine)).into_response())
}

/// The free slots of one of the profile's clinics from now, for a bounded
/// number of days.
#[utoipa::path(
    get,
    path = "/appointments/slots",
    tag = "appointments",
    security(("session" = [])),
    params(SlotsQuery),
    responses(
        (status = 200, description = "The clinic's free slots.", body = FreeSlots),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "Not a clinic this profile is the patient of (`not_found`).",
            body = ErrorBody),
        (status = 422, description = "`days` out of range (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn free_slots(
    ApiMe(Me { state, auth }): ApiMe,
    q: Result<Query<SlotsQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let clinic: ClinicId = id_or_not_found(&q.clinic_id)?;
    let days = days_of(q.days)?;
    let profile = auth.profile.id;
    let links = blocking(&state, move |s| s.patient_clinics(profile)).await?;
    if !links.iter().any(|l| l.clinic.id == clinic) {
        return Err(WebError::NotFound.into());
    }
    slots_answer(&state, clinic, days).await
}

async fn slots_answer(state: &AppState, clinic: ClinicId, days: i64) -> ApiResult {
    let slots = act(state, move |ctx| {
        needlewise_actions::free_slots(ctx, clinic, days)
    })
    .await?;
    let schedule = blocking(state, move |s| s.clinic_schedule(clinic)).await?;
    Ok(Json(FreeSlots {
        clinic_id: clinic,
        time_zone: schedule.time_zone,
        hours_set: schedule.set,
        slots: slots.iter().map(SlotOut::from).collect(),
    })
    .into_response())
}

/// A booking by the patient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewBooking {
    /// One of the profile's clinics.
    clinic_id: String,
    /// The slot's start: one of `GET /api/appointments/slots`, or of a
    /// proposal's slots.
    #[schema(format = DateTime)]
    start: String,
    /// Book one of the times the clinic offered in a conversation.
    #[serde(default)]
    proposal_id: Option<String>,
    /// A few words for the clinic (up to 500 characters; no clinical
    /// details needed).
    #[serde(default)]
    note: String,
    /// A UUID chosen by the client: the same key again stores nothing and
    /// answers the same appointment (which takes the key as its id).
    #[serde(default)]
    key: Option<String>,
}

/// Books a free slot of one of the profile's clinics, or one of the times
/// the clinic offered in a conversation.
#[utoipa::path(
    post,
    path = "/appointments",
    tag = "appointments",
    security(("session" = [], "csrf" = [])),
    request_body = NewBooking,
    responses(
        (status = 201, description = "The appointment, and whether this request stored it.",
            body = Booked),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "Not a clinic this profile is the patient of, or no such \
            proposal (`not_found`).", body = ErrorBody),
        (status = 409, description = "Someone has just booked that time (`conflict`).",
            body = ErrorBody),
        (status = 422, description = "A passed or unoffered time, an already used proposal, a \
            bad note or key (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn book(
    ApiMe(Me { state, auth }): ApiMe,
    ApiJson(b): ApiJson<NewBooking>,
) -> ApiResult {
    let clinic: ClinicId = id_or_not_found(&b.clinic_id)?;
    let start = instant("start", &b.start)?;
    let proposal = optional_id::<ProposalId>("proposal_id", &b.proposal_id)?;
    let key = Some(key_of(&b.key)?.unwrap_or_else(RequestKey::fresh));
    let profile = auth.profile.id;
    booked(
        &state,
        Who::Patient,
        profile,
        clinic,
        start,
        proposal,
        b.note,
        key,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn booked(
    state: &AppState,
    who: Who,
    profile: ProfileId,
    clinic: ClinicId,
    start: Timestamp,
    proposal: Option<ProposalId>,
    note: String,
    key: Option<RequestKey>,
) -> ApiResult {
    let mail = crate::notify::AppointmentMails::from_state(state);
    let (a, posted) = act(state, move |ctx| {
        needlewise_actions::book_appointment(
            ctx,
            who.asker(),
            profile,
            clinic,
            start,
            proposal,
            &note,
            key,
            &mail,
        )
    })
    .await?;
    crate::notify::send_soon(state);
    let view = view_of(state, who, profile, a.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Booked {
            appointment: AppointmentOut::from(&view),
            stored: posted == Posted::Stored,
        }),
    )
        .into_response())
}

/// One appointment with its names, as the asker may read it.
async fn view_of(
    state: &AppState,
    who: Who,
    profile: ProfileId,
    id: AppointmentId,
) -> Result<AppointmentView, WebError> {
    let now = state.now();
    blocking(state, move |s| s.appointment(who.asker(), profile, id, now)).await
}

/// A cancellation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Cancellation {
    /// Why, in a few words (1 to 500 characters). The same reason sent
    /// again by the same person changes nothing.
    reason: String,
}

/// A move to another free slot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Move {
    /// The new slot's start: one of the clinic's free slots.
    #[schema(format = DateTime)]
    start: String,
    /// Why, in a few words (1 to 500 characters).
    reason: String,
    /// A UUID chosen by the client: the new appointment takes it as its id,
    /// and the same request again changes nothing.
    #[serde(default)]
    key: Option<String>,
}

/// Cancels one of the profile's booked appointments with a reason.
#[utoipa::path(
    post,
    path = "/appointments/{id}/cancel",
    tag = "appointments",
    security(("session" = [], "csrf" = [])),
    params(("id" = String, Path, description = "The appointment's id.")),
    request_body = Cancellation,
    responses(
        (status = 200, description = "The appointment, now `cancelled`.", body = AppointmentOut),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "Not one of this profile's appointments, or its clinic \
            was left (`not_found`).", body = ErrorBody),
        (status = 422, description = "No reason, or the appointment has begun or already ended \
            (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn cancel(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Cancellation>,
) -> ApiResult {
    let id: AppointmentId = id_or_not_found(&id)?;
    cancelled(&state, Who::Patient, auth.profile.id, id, b.reason).await
}

async fn cancelled(
    state: &AppState,
    who: Who,
    profile: ProfileId,
    id: AppointmentId,
    reason: String,
) -> ApiResult {
    let mail = crate::notify::AppointmentMails::from_state(state);
    act(state, move |ctx| {
        needlewise_actions::cancel_appointment(ctx, who.asker(), profile, id, &reason, &mail)
    })
    .await?;
    crate::notify::send_soon(state);
    let view = view_of(state, who, profile, id).await?;
    Ok(Json(AppointmentOut::from(&view)).into_response())
}

/// Moves one of the profile's booked appointments to another free slot of
/// its clinic, with a reason.
#[utoipa::path(
    post,
    path = "/appointments/{id}/reschedule",
    tag = "appointments",
    security(("session" = [], "csrf" = [])),
    params(("id" = String, Path, description = "The appointment's id.")),
    request_body = Move,
    responses(
        (status = 201, description = "The previous appointment, now `rescheduled`, and the new \
            one.", body = Moved),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "Not one of this profile's appointments, or its clinic \
            was left (`not_found`).", body = ErrorBody),
        (status = 409, description = "Someone has just booked the new time (`conflict`).",
            body = ErrorBody),
        (status = 422, description = "No reason, a passed or unoffered time, or the appointment \
            has begun or already ended (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn reschedule(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Move>,
) -> ApiResult {
    let id: AppointmentId = id_or_not_found(&id)?;
    moved(&state, Who::Patient, auth.profile.id, id, b).await
}

async fn moved(
    state: &AppState,
    who: Who,
    profile: ProfileId,
    id: AppointmentId,
    b: Move,
) -> ApiResult {
    let start = instant("start", &b.start)?;
    let key = key_of(&b.key)?.unwrap_or_else(RequestKey::fresh);
    let reason = b.reason;
    let mail = crate::notify::AppointmentMails::from_state(state);
    let previous = act(state, move |ctx| {
        needlewise_actions::reschedule_appointment(
            ctx,
            who.asker(),
            profile,
            id,
            start,
            &reason,
            Some(key),
            &mail,
        )
    })
    .await?;
    crate::notify::send_soon(state);
    // The appointment that replaced it (the request's key, or the one a
    // first sending of this change stored).
    let new = previous
        .ended
        .as_ref()
        .and_then(|e| e.replaced_by)
        .ok_or(WebError::NotFound)?;
    let previous = view_of(state, who, profile, previous.id).await?;
    let appointment = view_of(state, who, profile, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(Moved {
            previous: AppointmentOut::from(&previous),
            appointment: AppointmentOut::from(&appointment),
        }),
    )
        .into_response())
}

/// The times the clinic offered in one of the profile's conversations.
#[utoipa::path(
    get,
    path = "/conversations/{id}/proposals",
    tag = "appointments",
    security(("session" = [])),
    params(("id" = String, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation's proposals, oldest first.",
            body = ProposalList),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "Not one of this profile's conversations (`not_found`).",
            body = ErrorBody),
    )
)]
pub(super) async fn proposals(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
) -> ApiResult {
    let conversation: ConversationId = id_or_not_found(&id)?;
    let profile = auth.profile.id;
    let now = state.now();
    let list = blocking(&state, move |s| {
        // The profile's own conversation, or nothing at all.
        if s.patient_conversation_version(profile, conversation)?
            .is_none()
        {
            return Ok(None);
        }
        s.proposals(Asker::Patient, profile, conversation, now)
            .map(Some)
    })
    .await?
    .ok_or(WebError::NotFound)?;
    Ok(Json(ProposalList {
        proposals: list.iter().map(ProposalOut::from).collect(),
    })
    .into_response())
}

// ------------------------------------------------------------ the clinic

/// The window of the clinic's list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct WindowQuery {
    /// A clinic id; else the account's first clinic.
    #[allow(dead_code)] // read by the clinic extractor
    clinic: Option<String>,
    /// From this instant (default: a day ago).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Until this instant, at most 62 days after `from` (default: 28 days
    /// from now).
    #[param(format = DateTime)]
    until: Option<String>,
}

/// The clinic's free slots asked for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ClinicSlotsQuery {
    /// A clinic id; else the account's first clinic.
    #[allow(dead_code)] // read by the clinic extractor
    clinic: Option<String>,
    /// How many days from now, 1 to 62 (default 21).
    #[param(minimum = 1, maximum = 62)]
    days: Option<i64>,
}

/// The clinic's appointments of its linked patients starting in a window
/// (at most 62 days), soonest first; each patient shown is logged
/// `viewed_appointments` in their audit log.
#[utoipa::path(
    get,
    path = "/clinic/appointments",
    tag = "appointments",
    security(("session" = [])),
    params(WindowQuery),
    responses(
        (status = 200, description = "The clinic's appointments in the window.",
            body = AppointmentList),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "No second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not a member of that clinic (`not_found`).", body = ErrorBody),
        (status = 422, description = "A bad instant, `until` before `from`, or a window longer \
            than 62 days (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_appointments(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    q: Result<Query<WindowQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let now = state.now();
    let from = match q.from.as_deref() {
        None | Some("") => now
            .checked_sub(SignedDuration::from_hours(24 * CLINIC_DAYS_BACK))
            .unwrap_or(now),
        Some(raw) => instant("from", raw)?,
    };
    let until = match q.until.as_deref() {
        None | Some("") => now
            .checked_add(SignedDuration::from_hours(24 * CLINIC_DAYS_AHEAD))
            .unwrap_or(Timestamp::MAX),
        Some(raw) => instant("until", raw)?,
    };
    if until <= from {
        return Err(WebError::BadInput("until: an instant after `from`".into()).into());
    }
    if until.duration_since(from) > SignedDuration::from_hours(24 * MAX_RANGE_DAYS) {
        return Err(WebError::BadInput(format!(
            "until: at most {MAX_RANGE_DAYS} days after `from`"
        ))
        .into());
    }
    let access = ctx.access;
    let views = blocking(&state, move |s| {
        s.clinic_appointments(&access, from, until, now)
    })
    .await?;
    Ok(Json(list(&views)).into_response())
}

/// The clinic's free slots from now, for a bounded number of days.
#[utoipa::path(
    get,
    path = "/clinic/appointments/slots",
    tag = "appointments",
    security(("session" = [])),
    params(ClinicSlotsQuery),
    responses(
        (status = 200, description = "The clinic's free slots.", body = FreeSlots),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "No second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not a member of that clinic (`not_found`).", body = ErrorBody),
        (status = 422, description = "`days` out of range (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_free_slots(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    q: Result<Query<ClinicSlotsQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let days = days_of(q.days)?;
    slots_answer(&state, ctx.clinic.id, days).await
}

/// A booking by a clinic member for a linked patient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ClinicBooking {
    /// A patient of the clinic.
    profile_id: String,
    /// The slot's start: one of `GET /api/clinic/appointments/slots`.
    #[schema(format = DateTime)]
    start: String,
    /// A few words for the appointment (up to 500 characters).
    #[serde(default)]
    note: String,
    /// A UUID chosen by the client: the same key again stores nothing and
    /// answers the same appointment (which takes the key as its id).
    #[serde(default)]
    key: Option<String>,
}

/// Books a free slot for a patient of the clinic (clinicians and
/// front-desk staff), logged `appointment_booked` in the patient's audit
/// log.
#[utoipa::path(
    post,
    path = "/clinic/appointments",
    tag = "appointments",
    security(("session" = [], "csrf" = [])),
    params(("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic.")),
    request_body = ClinicBooking,
    responses(
        (status = 201, description = "The appointment, and whether this request stored it.",
            body = Booked),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`), or no second \
            factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not a patient of the clinic (`not_found`).", body = ErrorBody),
        (status = 409, description = "Someone has just booked that time (`conflict`).",
            body = ErrorBody),
        (status = 422, description = "A passed or unoffered time, a bad note or key \
            (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_book(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    ApiJson(b): ApiJson<ClinicBooking>,
) -> ApiResult {
    let profile: ProfileId = id_or_not_found(&b.profile_id)?;
    let start = instant("start", &b.start)?;
    let key = Some(key_of(&b.key)?.unwrap_or_else(RequestKey::fresh));
    booked(
        &state,
        Who::Clinic(ctx.access),
        profile,
        ctx.clinic.id,
        start,
        None,
        b.note,
        key,
    )
    .await
}

/// Cancels a patient's booked appointment with a reason.
#[utoipa::path(
    post,
    path = "/clinic/appointments/{profile}/{id}/cancel",
    tag = "appointments",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("id" = String, Path, description = "The appointment's id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body = Cancellation,
    responses(
        (status = 200, description = "The appointment, now `cancelled`.", body = AppointmentOut),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`), or no second \
            factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not an appointment of a patient of the clinic \
            (`not_found`).", body = ErrorBody),
        (status = 422, description = "No reason, or the appointment has begun or already ended \
            (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_cancel(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<Cancellation>,
) -> ApiResult {
    let profile: ProfileId = id_or_not_found(&profile)?;
    let id: AppointmentId = id_or_not_found(&id)?;
    cancelled(&state, Who::Clinic(ctx.access), profile, id, b.reason).await
}

/// Moves a patient's booked appointment to another free slot, with a
/// reason.
#[utoipa::path(
    post,
    path = "/clinic/appointments/{profile}/{id}/reschedule",
    tag = "appointments",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("id" = String, Path, description = "The appointment's id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body = Move,
    responses(
        (status = 201, description = "The previous appointment, now `rescheduled`, and the new \
            one.", body = Moved),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`), or no second \
            factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not an appointment of a patient of the clinic \
            (`not_found`).", body = ErrorBody),
        (status = 409, description = "Someone has just booked the new time (`conflict`).",
            body = ErrorBody),
        (status = 422, description = "No reason, a passed or unoffered time, or the appointment \
            has begun or already ended (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_reschedule(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<Move>,
) -> ApiResult {
    let profile: ProfileId = id_or_not_found(&profile)?;
    let id: AppointmentId = id_or_not_found(&id)?;
    moved(&state, Who::Clinic(ctx.access), profile, id, b).await
}

/// Times to offer in a conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewProposalBody {
    /// One to three starts of the clinic's free slots.
    #[schema(min_items = 1, max_items = 3)]
    starts: Vec<String>,
    /// The message that offers them (up to 4,000 characters).
    body: String,
    /// A UUID chosen by the client: the message and the proposal take it
    /// as their ids; the same key again stores nothing.
    #[serde(default)]
    key: Option<String>,
}

/// Offers one to three free slots in a conversation the member may answer,
/// as a message the patient books from; the patient is told by email that
/// there is a new message.
#[utoipa::path(
    post,
    path = "/clinic/conversations/{profile}/{id}/proposals",
    tag = "appointments",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("id" = String, Path, description = "The conversation's id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body = NewProposalBody,
    responses(
        (status = 201, description = "`{\"id\", \"stored\"}`: the proposal's (and its \
            message's) id; `stored` is false when the same `key` was sent before.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`); staff, and a \
            conversation about a check-in; or no second factor (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such conversation the asker may answer (`not_found`).",
            body = ErrorBody),
        (status = 422, description = "No time, more than three, one twice, a passed or \
            unoffered time, a bad message or key (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_propose(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<NewProposalBody>,
) -> ApiResult {
    let profile: ProfileId = id_or_not_found(&profile)?;
    let conversation: ConversationId = id_or_not_found(&id)?;
    if b.starts.len() > MAX_PROPOSED {
        return Err(WebError::BadInput(format!(
            "starts: offer at most {MAX_PROPOSED} times at once"
        ))
        .into());
    }
    let starts = b
        .starts
        .iter()
        .map(|s| instant("starts[]", s))
        .collect::<Result<Vec<_>, _>>()?;
    let key = Some(key_of(&b.key)?.unwrap_or_else(RequestKey::fresh));
    let access = ctx.access;
    let mail = mail_for(&state, Side::Patient);
    let body = b.body;
    let posted = act(&state, move |c| {
        needlewise_actions::propose_slots(
            c,
            &access,
            profile,
            conversation,
            &starts,
            &body,
            key,
            &mail,
        )
    })
    .await?;
    if posted == Posted::Stored {
        crate::notify::kick(&state).await;
    }
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": needlewise_actions::message_id_for(key),
            "stored": posted == Posted::Stored,
        })),
    )
        .into_response())
}

/// The times offered in a conversation, as the clinic sees them (logged
/// `viewed_proposals`).
#[utoipa::path(
    get,
    path = "/clinic/conversations/{profile}/{id}/proposals",
    tag = "appointments",
    security(("session" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("id" = String, Path, description = "The conversation's id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    responses(
        (status = 200, description = "The conversation's proposals, oldest first.",
            body = ProposalList),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "Staff, and a conversation about a check-in; or no second \
            factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such conversation the asker may read (`not_found`).",
            body = ErrorBody),
    )
)]
pub(super) async fn clinic_proposals(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, id)): Path<(String, String)>,
) -> ApiResult {
    let profile: ProfileId = id_or_not_found(&profile)?;
    let conversation: ConversationId = id_or_not_found(&id)?;
    let access = ctx.access;
    let now = state.now();
    let list = blocking(&state, move |s| {
        s.proposals(Asker::Clinic(&access), profile, conversation, now)
    })
    .await?;
    Ok(Json(ProposalList {
        proposals: list.iter().map(ProposalOut::from).collect(),
    })
    .into_response())
}
