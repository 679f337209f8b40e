//! The referral packet, built from the same consented record as the page:
//! the record as a FHIR R4 Bundle and the PDF report.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use needlewise_core::clinic::Scope;
use needlewise_core::evidence;
use needlewise_store::clinic::PatientRecord;
use uuid::Uuid;

use super::photos::photo_path;
use super::record_of;
use crate::AppState;
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::clinic::profile_id;

/// The record as a FHIR R4 Bundle, built only from what the patient shares
/// with this clinic: parts whose scope is not granted are left out (and
/// devices and self-ratings, which no scope shares, are never in it). No
/// Consent resource is added: the patient's consent lives in needlewise,
/// and this Bundle is not the patient's own export.
pub fn bundle_of(r: &PatientRecord, now: Timestamp) -> Result<needlewise_fhir::Bundle, WebError> {
    let sessions = r.sessions.clone().unwrap_or_default();
    let checkins = r.checkins.clone().unwrap_or_default();
    let episodes: Vec<_> = r
        .episodes
        .as_ref()
        .map(|es| es.iter().map(|(e, _)| e.clone()).collect())
        .unwrap_or_default();
    let photos = r.photos.clone().unwrap_or_default();
    let input = needlewise_fhir::RecordInput {
        profile: &r.profile,
        account_email: None,
        screening: r.screening.as_ref(),
        devices: &[],
        sessions: &sessions,
        checkins: &checkins,
        episodes: &episodes,
        ratings: &[],
        photos: &photos,
        next_session: None,
        course: None,
        consents: &[],
        // Conversations stay in needlewise: the referral holds what the
        // patient's scopes share, and no scope shares conversations.
        conversations: &[],
        // No scope shares appointments' notes; the clinic has its own.
        appointments: &[],
    };
    needlewise_fhir::bundle(evidence(), &input, now, Uuid::now_v7())
        .map_err(|e| WebError::Internal(anyhow::anyhow!("cannot build the FHIR bundle: {e}")))
}

pub async fn record_json(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(profile): Path<String>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let _turn = crate::heavy_turn(&state).await?;
    let r = record_of(&state, &ctx, profile).await?;
    let bundle = bundle_of(&r, state.now())?;
    let body = serde_json::to_vec(&bundle).map_err(|e| WebError::Internal(e.into()))?;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"needlewise-referral.fhir.json\""),
    );
    Ok(response)
}

/// The PDF report's input from the consented record only.
fn report_input(
    state: &AppState,
    ctx: &ClinicCtx,
    r: &PatientRecord,
) -> needlewise_report::ReportInput {
    use needlewise_report::{
        PhotoRole, ReportInput, ReportPhoto, ScreeningSummary, SessionLine, TimelineEntry,
        TimelineKind,
    };
    let tz = jiff::tz::TimeZone::get(&ctx.clinic.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = state.now();
    let mut notes = Vec::new();
    let missing: Vec<&str> = Scope::ALL
        .iter()
        .filter(|s| !r.scopes.contains(s) && **s != Scope::PhotosTeaching)
        .map(|s| s.describe())
        .collect();
    if !missing.is_empty() {
        notes.push(format!(
            "Not shared with {} by the patient, so not in this report: {}.",
            ctx.clinic.name,
            missing.join("; ")
        ));
    }
    notes.push("Devices and self-ratings are not shared with clinics.".into());
    let screening = r.screening.as_ref().map(ScreeningSummary::from_record);
    let mut sessions: Vec<SessionLine> = r
        .sessions
        .iter()
        .flatten()
        .map(|s| SessionLine::from_record(s, None))
        .collect();
    sessions.sort_by_key(|s| s.date);
    let mut timeline: Vec<TimelineEntry> = r
        .checkins
        .iter()
        .flatten()
        .map(|c| TimelineEntry {
            at: c.at,
            kind: TimelineKind::Checkin,
            level: c.level,
            detail: c.rule_ids.join(", "),
        })
        .collect();
    for (e, ack) in r.episodes.iter().flatten() {
        timeline.push(TimelineEntry {
            at: e.opened_at,
            kind: TimelineKind::RedFlagOpened { open: e.is_open() },
            level: e.level,
            detail: ack
                .as_ref()
                .map(|a| format!("acknowledged by {}: {}", a.by_name, a.note))
                .unwrap_or_default(),
        });
        if let Some(at) = e.resolved_at {
            timeline.push(TimelineEntry {
                at,
                kind: TimelineKind::RedFlagResolved,
                level: e.level,
                detail: match &e.resolver {
                    Some(r) => format!("{}: {}", r.describe(), e.resolution),
                    None => e.resolution.clone(),
                },
            });
        }
    }
    timeline.sort_by_key(|t| t.at);
    let mut photos = Vec::new();
    if let Some(ps) = &r.photos {
        let mut chosen = Vec::new();
        if let Some(first) = ps.first() {
            chosen.push((PhotoRole::First, first));
        }
        for p in ps
            .iter()
            .skip(1)
            .rev()
            .take(needlewise_report::LATEST_PHOTOS)
        {
            chosen.push((PhotoRole::Latest, p));
        }
        for (role, p) in chosen {
            let bytes = photo_path(state, r.profile.id, p.id, false).and_then(|path| {
                std::fs::read(path)
                    .ok()
                    .filter(|b| needlewise_report::jpeg::info(b).is_some())
            });
            match bytes {
                Some(jpeg) => photos.push(ReportPhoto {
                    role,
                    taken_at: p.taken_at,
                    zone: p.zone,
                    jpeg,
                }),
                None => notes.push(format!(
                    "The photo of {} could not be read and is left out.",
                    p.taken_at.to_zoned_datetime(tz.clone()).date()
                )),
            }
        }
    }
    ReportInput {
        profile_name: r.profile.name.clone(),
        generated_at: now,
        generated_on: now.to_zoned_datetime(tz.clone()).date(),
        tz,
        screening,
        devices: Vec::new(),
        sessions,
        timeline,
        trends: Vec::new(),
        photos,
        notes,
    }
}

pub async fn report_pdf(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(profile): Path<String>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let _turn = crate::heavy_turn(&state).await?;
    let r = record_of(&state, &ctx, profile).await?;
    let st = state.clone();
    let pdf = tokio::task::spawn_blocking(move || {
        let input = report_input(&st, &ctx, &r);
        needlewise_report::render_pdf(&input)
    })
    .await?;
    let mut response = pdf.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(needlewise_report::CONTENT_TYPE),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"needlewise-referral.pdf\""),
    );
    Ok(response)
}
