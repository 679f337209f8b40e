//! The clinic side over the API: the patient list, the red-flag queue and
//! acknowledgements, a patient's consented record and prescribing, and the
//! patient's care team with consent changes.
//!
//! The handlers call the same functions as the pages (`pages::clinic`,
//! `pages::care_team`); the store checks membership, role and consent and
//! writes the patient's audit log. Clinic calls need a session that passed
//! the second factor (else 403 `forbidden`); pick a clinic with
//! `?clinic=<id>` when the account belongs to several.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use needlewise_core::answers::{FieldError, InvalidAnswers};
use needlewise_core::clinic::Scope;
use needlewise_store::clinic::{PatientCursor, PatientRecord, RedFlag};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ApiAuth, ApiClinicCtx, ApiJson, ApiResult, openapi::ErrorBody};
use crate::auth::reauth;
use crate::error::WebError;
use crate::pages::care_team;
use crate::pages::clinic::{self as clinic_pages, ListParams, Prescribed};
use crate::{AppState, blocking};
use needlewise_actions::Prescription;

fn scopes(s: &BTreeSet<Scope>) -> Vec<&'static str> {
    s.iter().map(|s| s.id()).collect()
}

/// One page of the clinic's patients by name: names and join dates for
/// every member; for clinicians, each one's status as far as their consent
/// allows.
#[utoipa::path(
    get,
    path = "/clinic/patients",
    tag = "clinic",
    security(("session" = [])),
    params(
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
        ("q" = Option<String>, Query, description = "Part of a name (at most 100 characters); \
            ASCII letters match in any case."),
        ("status" = Option<String>, Query, description = "`all` (the default), `red_flags` \
            (an open red flag the clinic may see) or `overdue_checkins`. Clinicians only."),
        ("after" = Option<String>, Query, description = "The `next` of the page before; \
            absent for the first page."),
        ("limit" = Option<u32>, Query, description = "Patients per page, 1 to 200 (default 50)."),
    ),
    responses(
        (status = 200, description = "`clinic`, `patients`, `next` and `red_flag_patients`. \
            `patients` are by name (ASCII letters lowered, then byte order, then id), each with \
            `profile_id`, `name`, `joined_at`, `scopes` and (clinicians only) `status` \
            (`last_session`, `next_due`, `open_red_flags`, `unacknowledged_red_flags`, \
            `overdue_checkins`; null where not shared). `next` is the `after` of the next \
            page, or null on the last. `red_flag_patients` counts the clinic's patients with \
            an open red flag it may see, whatever the page (null for staff).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The second factor was not passed this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not a member of this clinic (`not_found`).", body = ErrorBody),
        (status = 422, description = "A bad `q`, `status`, `after` or `limit`, or a status \
            filter asked by staff (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn patients(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Query(params): Query<ListParams>,
) -> ApiResult {
    let query = params.query()?;
    let access = ctx.access;
    let now = state.now();
    let page = blocking(&state, move |s| s.patient_page(&access, &query, now)).await?;
    let clinician = ctx.is_clinician();
    let patients: Vec<Value> = page
        .patients
        .iter()
        .map(|p| {
            let mut v = json!({
                "profile_id": p.profile_id,
                "name": p.name,
                "joined_at": p.joined_at,
                "scopes": scopes(&p.scopes),
            });
            if clinician {
                v["status"] = json!(p.status);
            }
            v
        })
        .collect();
    Ok(Json(json!({
        "clinic": {"id": ctx.clinic.id, "name": ctx.clinic.name, "role": ctx.role()},
        "patients": patients,
        "next": page.next.as_ref().map(PatientCursor::encode),
        "red_flag_patients": page.red_flag_patients,
    }))
    .into_response())
}

fn flag_json(f: &RedFlag) -> Value {
    json!({
        "profile_id": f.profile_id,
        "patient_name": f.patient_name,
        "episode": f.episode,
        "visible_since": f.visible_since,
        "rule_ids": f.rule_ids,
        "acknowledged": f.acknowledged.as_ref().map(|a| json!({
            "by": a.by, "by_name": a.by_name, "at": a.at, "note": a.note,
        })),
    })
}

/// Open red flags of patients who share their check-ins, oldest first.
#[utoipa::path(
    get,
    path = "/clinic/red-flags",
    tag = "clinic",
    security(("session" = [])),
    params(("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic.")),
    responses(
        (status = 200, description = "Each open red flag: `profile_id`, `patient_name`, \
            `episode`, `visible_since` (when the clinic could first see it: the later of \
            the episode's opening and the check-ins grant; the escalation ladder counts \
            from it), `rule_ids` and `acknowledged` (null, or `by`, `by_name`, `at`, `note`).",
            body = [Object]),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "Staff, or no second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not a member of this clinic (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn red_flags(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
) -> ApiResult {
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    let queue = blocking(&state, move |s| s.red_flag_queue(&access, now)).await?;
    Ok(Json(queue.iter().map(flag_json).collect::<Vec<_>>()).into_response())
}

/// Whether emails to the clinic's team are going out: red flags and
/// escalations are emailed, and a misconfigured mail server must not fail
/// silently. Any member may read it (no patient data).
#[utoipa::path(
    get,
    path = "/clinic/mail",
    tag = "clinic",
    security(("session" = [])),
    params(("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic.")),
    responses(
        (status = 200, description = "`mail_server` (whether this server sends email), \
            `waiting` (unsent emails to the team still to be tried), `oldest_waiting` \
            (when the oldest was queued, or null), `given_up` (unsent after every attempt), \
            `last_error` (the mail server's newest error, or null) and `notice` (what the \
            red-flag page tells the team, or null while emails go out).",
            body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "No second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not a member of this clinic (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn mail(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
) -> ApiResult {
    let access = ctx.access;
    let now = state.now();
    let status = blocking(&state, move |s| s.clinic_mail_status(&access)).await?;
    let enabled = state.mailer.enabled();
    let notice =
        crate::pages::clinic::dashboard::mail_notice(enabled, &status, now, |t| t.to_string());
    Ok(Json(json!({
        "mail_server": enabled,
        "waiting": status.waiting,
        "oldest_waiting": status.oldest_waiting,
        "given_up": status.given_up,
        "last_error": status.last_error,
        "notice": notice,
    }))
    .into_response())
}

/// An acknowledgement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Ack {
    /// What was done, for the team (at most 500 characters).
    #[serde(default)]
    note: String,
}

/// Acknowledges an open red flag for the clinic (the patient must share
/// their check-ins). The escalation ladder stops for it.
#[utoipa::path(
    post,
    path = "/clinic/red-flags/{profile}/{episode}/ack",
    tag = "clinic",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("episode" = String, Path, description = "The red flag's episode id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body = Ack,
    responses(
        (status = 204, description = "Acknowledged."),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`); staff, or no \
            second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such open red flag of a patient who shares their \
            check-ins with this clinic (`not_found`).", body = ErrorBody),
        (status = 409, description = "Already acknowledged (`conflict`).", body = ErrorBody),
        (status = 422, description = "A bad note (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn acknowledge(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, episode)): Path<(String, String)>,
    ApiJson(ack): ApiJson<Ack>,
) -> ApiResult {
    clinic_pages::acknowledge_flag(&state, &ctx, &profile, &episode, &ack.note).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Resolves an open red flag for the clinic: the patient's sessions
/// unlock and the episode records the clinician who resolved it. Only
/// clinicians of a clinic the patient shares check-ins with.
#[utoipa::path(
    post,
    path = "/clinic/red-flags/{profile}/{episode}/resolve",
    tag = "clinic",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("episode" = String, Path, description = "The red flag's episode id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body = Ack,
    responses(
        (status = 204, description = "Resolved."),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`); staff, or no \
            second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such open red flag of a patient who shares their \
            check-ins with this clinic (`not_found`).", body = ErrorBody),
        (status = 422, description = "A missing or bad note (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn resolve(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, episode)): Path<(String, String)>,
    ApiJson(ack): ApiJson<Ack>,
) -> ApiResult {
    clinic_pages::resolve_flag(&state, &ctx, &profile, &episode, &ack.note).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn record_json(r: &PatientRecord) -> Value {
    json!({
        "profile": {"id": r.profile.id, "name": r.profile.name},
        "joined_at": r.joined_at,
        "scopes": scopes(&r.scopes),
        "screening": r.screening.as_ref().map(|s| json!({
            "taken_at": s.taken_at, "verdict": s.verdict, "result": s.result,
        })),
        "sessions": r.sessions,
        "checkins": r.checkins,
        "episodes": r.episodes.as_ref().map(|es| es.iter().map(|(e, a)| json!({
            "episode": e,
            "acknowledged": a.as_ref().map(|a| json!({
                "by": a.by, "by_name": a.by_name, "at": a.at, "note": a.note,
            })),
        })).collect::<Vec<_>>()),
        "photos": r.photos,
        "protocol": r.protocol,
        "overrides": r.overrides,
    })
}

/// One patient's record as far as their consent allows; each part is null
/// where its scope is not granted. The read is logged for the patient.
#[utoipa::path(
    get,
    path = "/clinic/patients/{profile}",
    tag = "clinic",
    security(("session" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    responses(
        (status = 200, description = "`profile`, `joined_at`, `scopes`, and `screening`, \
            `sessions`, `checkins`, `episodes`, `photos` (each null unless shared), \
            `protocol` and `overrides`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "Staff, or no second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not this clinic's patient (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn patient(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path(profile): Path<String>,
) -> ApiResult {
    let profile = clinic_pages::profile_id(&profile)?;
    let r = clinic_pages::record_of(&state, &ctx, profile).await?;
    Ok(Json(record_json(&r)).into_response())
}

/// A protocol to prescribe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewProtocol {
    /// The needle length in mm (above 0, at most 3).
    needle_length_mm: f64,
    /// Zone ids, such as `forehead`; at least one.
    zones: Vec<String>,
    /// Days between sessions, at least (1 to 365).
    interval_days: u32,
    /// Sessions in the course (1 to 24).
    course_sessions: u32,
    /// Needles per cm² (above 0, at most 1000); 250 if left out.
    #[serde(default)]
    target_density_per_cm2: Option<f64>,
    /// For the patient (at most 2000 characters).
    #[serde(default)]
    note: String,
}

/// Prescribes a protocol (the patient must share their sessions). Needs a
/// second-factor or password check in the last 10 minutes.
#[utoipa::path(
    post,
    path = "/clinic/patients/{profile}/protocol",
    tag = "clinic",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body = NewProtocol,
    responses(
        (status = 201, description = "The protocol as stored.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`); staff, or no \
            recent second-factor or password check (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not this clinic's patient, or sessions not shared (`not_found`).", body = ErrorBody),
        (status = 422, description = "A body that cannot be read (`bad_input`) or fields out of \
            range (`invalid_answers`, one entry in `fields` for each); nothing was saved.", body = ErrorBody),
    )
)]
pub(super) async fn prescribe(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path(profile): Path<String>,
    ApiJson(new): ApiJson<NewProtocol>,
) -> ApiResult {
    let profile = clinic_pages::profile_id(&profile)?;
    ctx.require_clinician()?;
    reauth::require_recent_api(&ctx.session, state.now(), "prescribing")?;
    let mut problems = Vec::new();
    let zones = clinic_pages::zones_of(&new.zones, &mut problems);
    let prescription = Prescription {
        needle_length_mm: new.needle_length_mm,
        zones,
        interval_days: new.interval_days,
        course_sessions: new.course_sessions,
        target_density_per_cm2: new
            .target_density_per_cm2
            .unwrap_or(clinic_pages::DEFAULT_DENSITY),
        note: new.note,
    };
    let parsed = clinic_pages::checked_prescription(&ctx, profile, prescription, problems);
    match clinic_pages::prescribe_protocol(&state, &ctx, profile, parsed).await? {
        Prescribed::Saved(p) => Ok((StatusCode::CREATED, Json(p)).into_response()),
        Prescribed::Invalid(problems, _) => Err(WebError::InvalidAnswers(InvalidAnswers(
            problems
                .into_iter()
                .map(|(field, message)| FieldError { field, message })
                .collect(),
        ))
        .into()),
    }
}

/// The current profile's clinics with what each may see, the protocol and
/// overrides in force, and the audit log (newest first, at most 200).
#[utoipa::path(
    get,
    path = "/care-team",
    tag = "care_team",
    security(("session" = [])),
    responses(
        (status = 200, description = "`clinics` (each with `id`, `name`, `joined_at`, \
            `scopes`), `protocol` (or null), `overrides` and `audit` (each with `at`, \
            `clinic_id`, `actor_name`, `action`, `detail`).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn care_team(State(state): State<AppState>, ApiAuth(auth): ApiAuth) -> ApiResult {
    let profile = auth.profile.id;
    let (links, protocol, overrides, log) = blocking(&state, move |s| {
        Ok((
            s.patient_clinics(profile)?,
            s.active_protocol(profile)?,
            s.active_overrides(profile)?,
            s.audit_log(profile, 200)?,
        ))
    })
    .await?;
    Ok(Json(json!({
        "clinics": links.iter().map(|l| json!({
            "id": l.clinic.id, "name": l.clinic.name, "joined_at": l.joined_at,
            "scopes": scopes(&l.scopes),
        })).collect::<Vec<_>>(),
        "protocol": protocol,
        "overrides": overrides,
        "audit": log.iter().map(|e| json!({
            "at": e.at, "clinic_id": e.clinic_id, "actor_name": e.actor_name,
            "action": e.action, "detail": e.detail,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// A consent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentChange {
    /// `screening`, `sessions`, `checkins`, `photos_clinical` or `photos_teaching`.
    scope: String,
    /// `true` to share, `false` to stop.
    granted: bool,
}

/// Grants or revokes one scope for one clinic; effective at once, logged.
#[utoipa::path(
    post,
    path = "/care-team/{clinic}/consent",
    tag = "care_team",
    security(("session" = [], "csrf" = [])),
    params(("clinic" = String, Path, description = "The clinic id.")),
    request_body = ConsentChange,
    responses(
        (status = 204, description = "Done."),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "The profile has not joined this clinic (`not_found`).", body = ErrorBody),
        (status = 422, description = "A bad body or scope (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn consent(
    State(state): State<AppState>,
    ApiAuth(auth): ApiAuth,
    Path(clinic): Path<String>,
    ApiJson(change): ApiJson<ConsentChange>,
) -> ApiResult {
    let (clinic, scope) = care_team::parse_scope(&clinic, &change.scope)?;
    care_team::set_scope(&state, auth.profile.id, clinic, scope, change.granted).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
