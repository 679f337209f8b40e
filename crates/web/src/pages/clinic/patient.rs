//! One patient, as the clinic sees them: the timeline (screening, sessions,
//! check-ins and red flags with acknowledgements, photos with a side-by-side
//! comparison), the protocol and overrides, and the referral packet (FHIR
//! Bundle and PDF) built from the same consented record.
//!
//! Everything is read through `patient_record` and `patient_photo`: the
//! store applies the patient's consent and logs the read. What a scope does
//! not allow is absent from the page, the Bundle and the PDF alike.

use std::collections::BTreeSet;
use std::path::PathBuf;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use needlewise_actions::Prescription;
use needlewise_core::clinic::{Override, Protocol, Scope, limits};
use needlewise_core::evidence;
use needlewise_core::ids::{OverrideId, PhotoId, ProfileId};
use needlewise_core::zone::Zone;
use needlewise_store::clinic::PatientRecord;
use serde::Deserialize;
use uuid::Uuid;

use super::dashboard::NOTE_MAX;
use super::{ClinicHead, checked, chrome, head, needs_reauth, page_with, profile_id};
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::{page, see_other};
use crate::views::Chrome;
use crate::{AppState, blocking, forms};

/// The default target density, in needles per cm².
pub const DEFAULT_DENSITY: f64 = 250.0;

/// Reads the patient's record for this clinic: 404 when the patient is not
/// the clinic's (or not at all), 403 for staff.
pub async fn record_of(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: ProfileId,
) -> Result<PatientRecord, WebError> {
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    blocking(state, move |s| s.patient_record(&access, profile, now))
        .await?
        .ok_or(WebError::NotFound)
}

/// The screening rules a clinician may set aside, by the evidence:
/// (rule id, title, why it may be overridden).
pub fn overridable_rules() -> Vec<(String, String, String)> {
    evidence()
        .screening
        .rules
        .iter()
        .filter_map(|r| {
            r.clinician_override
                .as_ref()
                .map(|c| (r.id.clone(), r.title.clone(), c.explanation.clone()))
        })
        .collect()
}

/// A rule's title, or its id when the evidence no longer has it.
pub fn rule_title(id: &str) -> String {
    evidence()
        .screening
        .rules
        .iter()
        .find(|r| r.id == id)
        .map_or_else(|| id.to_owned(), |r| r.title.clone())
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub date: String,
    pub needle: String,
    pub zones: String,
    pub products: String,
}

#[derive(Debug, Clone)]
pub struct CheckinRow {
    pub at: String,
    pub level: String,
    pub rules: String,
}

#[derive(Debug, Clone)]
pub struct EpisodeRow {
    pub id: String,
    pub opened: String,
    pub level: String,
    pub open: bool,
    pub resolved: String,
    /// (by, at, note)
    pub ack: Option<(String, String, String)>,
}

#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub id: String,
    pub taken: String,
    pub zone: String,
}

#[derive(Debug, Clone)]
pub struct ProtocolView {
    pub needle: String,
    pub zones: String,
    pub interval_days: u32,
    pub course_sessions: u32,
    pub density: String,
    pub note: String,
    pub by: String,
    pub at: String,
}

impl ProtocolView {
    pub fn new(p: &Protocol, local: impl Fn(Timestamp) -> String) -> ProtocolView {
        ProtocolView {
            needle: format!("{} mm", p.needle_length_mm),
            zones: p
                .zones
                .iter()
                .map(|z| z.label())
                .collect::<Vec<_>>()
                .join(", "),
            interval_days: p.interval_days,
            course_sessions: p.course_sessions,
            density: format!("{} per cm²", p.target_density_per_cm2),
            note: p.note.clone(),
            by: p.prescriber_name.clone(),
            at: local(p.prescribed_at),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OverrideView {
    pub id: String,
    pub rule: String,
    pub by: String,
    pub at: String,
    pub reason: String,
}

impl OverrideView {
    pub fn new(o: &Override, local: impl Fn(Timestamp) -> String) -> OverrideView {
        OverrideView {
            id: o.id.to_string(),
            rule: rule_title(&o.rule_id),
            by: o.by_name.clone(),
            at: local(o.at),
            reason: o.reason.clone(),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "clinic_patient.html")]
pub struct PatientPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    pub id: String,
    pub name: String,
    pub joined: String,
    /// Scopes not granted, in words.
    pub not_shared: Vec<&'static str>,
    /// (headline, taken) when shared and present; "" otherwise.
    pub screening_shared: bool,
    pub screening: Option<(String, String)>,
    pub sessions: Option<Vec<SessionRow>>,
    pub checkins: Option<Vec<CheckinRow>>,
    pub episodes: Option<Vec<EpisodeRow>>,
    pub photos: Option<Vec<PhotoRow>>,
    /// The first and the latest photo, when there are two or more.
    pub compare: Option<(PhotoRow, PhotoRow)>,
    pub protocol: Option<ProtocolView>,
    pub overrides: Vec<OverrideView>,
    /// (rule id, title, why it may be overridden)
    pub rules: Vec<(String, String, String)>,
    pub can_prescribe: bool,
    pub can_override: bool,
    pub can_ack: bool,
    pub suffix: String,
    pub note_max: usize,
}

fn photo_row(ctx: &ClinicCtx, p: &needlewise_core::progress::Photo) -> PhotoRow {
    PhotoRow {
        id: p.id.to_string(),
        taken: ctx.local(p.taken_at),
        zone: p.zone.map(|z| z.label().to_owned()).unwrap_or_default(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(profile): Path<String>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let r = record_of(&state, &ctx, profile).await?;
    let local = |t: Timestamp| ctx.local(t);
    let photos: Option<Vec<PhotoRow>> = r
        .photos
        .as_ref()
        .map(|ps| ps.iter().map(|p| photo_row(&ctx, p)).collect());
    let compare = photos
        .as_ref()
        .and_then(|ps| match (ps.first(), ps.last()) {
            (Some(a), Some(b)) if ps.len() > 1 => Some((a.clone(), b.clone())),
            _ => None,
        });
    let page_view = PatientPage {
        chrome: chrome(&r.profile.name, &ctx),
        head: head(&ctx, ""),
        id: profile.to_string(),
        name: r.profile.name.clone(),
        joined: local(r.joined_at),
        not_shared: Scope::ALL
            .iter()
            .filter(|s| !r.scopes.contains(s))
            .map(|s| s.describe())
            .collect(),
        screening_shared: r.scopes.contains(&Scope::Screening),
        screening: r
            .screening
            .as_ref()
            .map(|s| (s.verdict.headline().to_owned(), local(s.taken_at))),
        sessions: r.sessions.as_ref().map(|ss| {
            ss.iter()
                .map(|s| SessionRow {
                    date: s.local_date.to_string(),
                    needle: format!("{} mm", s.needle_length_mm),
                    zones: s
                        .zones
                        .iter()
                        .map(|z| {
                            if z.skipped {
                                format!("{} (skipped)", z.zone.label())
                            } else {
                                z.zone.label().to_owned()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    products: s
                        .products
                        .iter()
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect()
        }),
        checkins: r.checkins.as_ref().map(|cs| {
            cs.iter()
                .map(|c| CheckinRow {
                    at: local(c.at),
                    level: c.level.id().replace('_', " "),
                    rules: c.rule_ids.join(", "),
                })
                .collect()
        }),
        episodes: r.episodes.as_ref().map(|es| {
            es.iter()
                .map(|(e, ack)| EpisodeRow {
                    id: e.id.to_string(),
                    opened: local(e.opened_at),
                    level: e.level.id().replace('_', " "),
                    open: e.is_open(),
                    resolved: e.resolved_at.map(&local).unwrap_or_default(),
                    ack: ack
                        .as_ref()
                        .map(|a| (a.by_name.clone(), local(a.at), a.note.clone())),
                })
                .collect()
        }),
        photos,
        compare,
        protocol: r.protocol.as_ref().map(|p| ProtocolView::new(p, local)),
        overrides: r
            .overrides
            .iter()
            .map(|o| OverrideView::new(o, local))
            .collect(),
        rules: overridable_rules(),
        can_prescribe: r.scopes.contains(&Scope::Sessions),
        can_override: r.scopes.contains(&Scope::Screening),
        can_ack: r.scopes.contains(&Scope::Checkins),
        suffix: ctx.link(""),
        note_max: NOTE_MAX,
    };
    Ok(page(&page_view))
}

fn photo_path(state: &AppState, profile: ProfileId, id: PhotoId, thumb: bool) -> Option<PathBuf> {
    let dir = state.photo_dir.as_ref()?.join(profile.to_string());
    Some(if thumb {
        dir.join(format!("{id}_thumb.jpg"))
    } else {
        dir.join(format!("{id}.jpg"))
    })
}

/// A consented photo file: `<id>.jpg`, or `<id>.thumb.jpg` for its
/// thumbnail. Served with the strict `/files/` policy (see `security`).
pub async fn photo_file(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, file)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let stem = file.strip_suffix(".jpg").ok_or(WebError::NotFound)?;
    let (id, thumb) = match stem.strip_suffix(".thumb") {
        Some(id) => (id, true),
        None => (stem, false),
    };
    let id: PhotoId = id.parse().map_err(|_| WebError::NotFound)?;
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    blocking(&state, move |s| s.patient_photo(&access, profile, id, now))
        .await?
        .ok_or(WebError::NotFound)?;
    let path = photo_path(&state, profile, id, thumb).ok_or(WebError::NotFound)?;
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await?
        .map_err(|_| WebError::NotFound)?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    Ok(response)
}

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

/// A protocol as entered, before it is checked.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtocolInput {
    /// The needle length in mm (above 0, at most 3).
    pub needle_length_mm: String,
    /// Zone ids, such as `forehead`.
    pub zones: Vec<String>,
    /// Days between sessions, at least (1 to 365).
    pub interval_days: String,
    /// Sessions in the course (1 to 24).
    pub course_sessions: String,
    /// Needles per cm² (above 0, at most 1000; 250 if empty).
    #[serde(default)]
    pub target_density_per_cm2: String,
    #[serde(default)]
    pub note: String,
}

/// Parses a protocol as entered: every problem at once, each with its
/// field. Ranges are checked by the actions layer.
pub fn prescription_from_input(
    ctx: &ClinicCtx,
    profile: ProfileId,
    input: &ProtocolInput,
) -> Result<Prescription, Vec<(String, String)>> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut number = |field: &str, raw: &str, fallback: f64| -> f64 {
        match raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                problems.push((field.to_owned(), "give a number".into()));
                fallback
            }
        }
    };
    let needle = number("needle_length_mm", &input.needle_length_mm, 0.25);
    let interval = number("interval_days", &input.interval_days, 1.0);
    let course = number("course_sessions", &input.course_sessions, 1.0);
    let density = if input.target_density_per_cm2.trim().is_empty() {
        DEFAULT_DENSITY
    } else {
        number(
            "target_density_per_cm2",
            &input.target_density_per_cm2,
            DEFAULT_DENSITY,
        )
    };
    let whole = |v: f64| -> Option<u32> {
        (v.fract() == 0.0 && v >= 0.0 && v <= f64::from(u32::MAX)).then_some(v as u32)
    };
    let interval_days = whole(interval).unwrap_or_else(|| {
        problems.push(("interval_days".into(), "give a whole number of days".into()));
        1
    });
    let course_sessions = whole(course).unwrap_or_else(|| {
        problems.push((
            "course_sessions".into(),
            "give a whole number of sessions".into(),
        ));
        1
    });
    let zones = zones_of(&input.zones, &mut problems);
    let prescription = Prescription {
        needle_length_mm: needle,
        zones,
        interval_days,
        course_sessions,
        target_density_per_cm2: density,
        note: input.note.clone(),
    };
    checked_prescription(ctx, profile, prescription, problems)
}

/// A prescription with the problems found reading it: itself when there
/// are none, else every problem at once, the ranges of what could be read
/// too.
pub fn checked_prescription(
    ctx: &ClinicCtx,
    profile: ProfileId,
    prescription: Prescription,
    mut problems: Vec<(String, String)>,
) -> Result<Prescription, Vec<(String, String)>> {
    if problems.is_empty() {
        return Ok(prescription);
    }
    for p in prescription.problems(&ctx.access, profile) {
        if !problems.iter().any(|(f, _)| *f == p.field) {
            problems.push((p.field, p.message));
        }
    }
    Err(problems)
}

/// Zone ids to zones; an unknown id is a problem of the `zones` field.
pub fn zones_of(ids: &[String], problems: &mut Vec<(String, String)>) -> BTreeSet<Zone> {
    let mut zones = BTreeSet::new();
    for z in ids {
        match z.parse::<Zone>() {
            Ok(z) => {
                zones.insert(z);
            }
            Err(_) => problems.push(("zones".into(), format!("{z:?} is not a zone"))),
        }
    }
    zones
}

#[derive(Debug, Template)]
#[template(path = "clinic_protocol.html")]
pub struct ProtocolPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    pub id: String,
    pub name: String,
    pub input: ProtocolInput,
    /// (zone id, label, checked)
    pub zones: Vec<(&'static str, &'static str, bool)>,
    /// (field, message)
    pub problems: Vec<(String, String)>,
    pub current: Option<ProtocolView>,
    pub suffix: String,
    pub max_needle: f64,
    pub max_interval: u32,
    pub max_course: u32,
    pub max_density: f64,
    pub max_note: usize,
}

impl ProtocolPage {
    /// The problem with one field, if any.
    pub fn problem(&self, field: &str) -> String {
        self.problems
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn protocol_page(
    ctx: &ClinicCtx,
    r: &PatientRecord,
    input: ProtocolInput,
    problems: Vec<(String, String)>,
) -> ProtocolPage {
    let chosen: BTreeSet<&str> = input.zones.iter().map(String::as_str).collect();
    ProtocolPage {
        chrome: chrome(&format!("Protocol for {}", r.profile.name), ctx),
        head: head(ctx, ""),
        id: r.profile.id.to_string(),
        name: r.profile.name.clone(),
        zones: Zone::ALL
            .iter()
            .map(|z| (z.id(), z.label(), chosen.contains(z.id())))
            .collect(),
        input,
        problems,
        current: r
            .protocol
            .as_ref()
            .map(|p| ProtocolView::new(p, |t| ctx.local(t))),
        suffix: ctx.link(""),
        max_needle: limits::MAX_NEEDLE_MM,
        max_interval: limits::MAX_INTERVAL_DAYS,
        max_course: limits::MAX_COURSE_SESSIONS,
        max_density: limits::MAX_DENSITY,
        max_note: limits::MAX_NOTE_CHARS,
    }
}

pub async fn protocol_form(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(profile): Path<String>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let r = record_of(&state, &ctx, profile).await?;
    if !r.scopes.contains(&Scope::Sessions) {
        return Err(WebError::Forbidden(
            "this patient has not shared their sessions with the clinic, so no protocol can be \
             prescribed; ask them to grant the sessions scope on their care-team page"
                .into(),
        ));
    }
    let input = match &r.protocol {
        Some(p) => ProtocolInput {
            needle_length_mm: p.needle_length_mm.to_string(),
            zones: p.zones.iter().map(|z| z.id().to_owned()).collect(),
            interval_days: p.interval_days.to_string(),
            course_sessions: p.course_sessions.to_string(),
            target_density_per_cm2: p.target_density_per_cm2.to_string(),
            note: p.note.clone(),
        },
        None => ProtocolInput {
            target_density_per_cm2: DEFAULT_DENSITY.to_string(),
            ..ProtocolInput::default()
        },
    };
    Ok(page(&protocol_page(&ctx, &r, input, Vec::new())))
}

/// What prescribing came to.
#[derive(Debug)]
pub enum Prescribed {
    Saved(Protocol),
    /// The input's problems, per field; nothing was saved.
    Invalid(Vec<(String, String)>, Box<PatientRecord>),
}

/// Stores a protocol through the actions layer. Invalid input is reported
/// only to a clinician who may prescribe for this patient (others get 404
/// or 403, exactly as for valid input).
pub async fn prescribe_protocol(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: ProfileId,
    parsed: Result<Prescription, Vec<(String, String)>>,
) -> Result<Prescribed, WebError> {
    ctx.require_clinician()?;
    let problems = match parsed {
        Ok(p) => {
            let access = ctx.access;
            let name = ctx.member.display_name.clone();
            let done = crate::act(state, move |c| {
                needlewise_actions::prescribe(c, &access, &name, profile, p)
            })
            .await;
            match done {
                Ok(protocol) => return Ok(Prescribed::Saved(protocol)),
                Err(WebError::InvalidAnswers(invalid)) => invalid
                    .0
                    .into_iter()
                    .map(|f| (f.field, f.message))
                    .collect(),
                Err(e) => return Err(e),
            }
        }
        Err(problems) => problems,
    };
    let r = record_of(state, ctx, profile).await?;
    if !r.scopes.contains(&Scope::Sessions) {
        return Err(WebError::NotFound);
    }
    Ok(Prescribed::Invalid(problems, Box::new(r)))
}

/// The form's fields as a [`ProtocolInput`].
fn form_input(pairs: &[(String, String)]) -> ProtocolInput {
    let get = |k: &str| forms::field(pairs, k).unwrap_or_default().to_owned();
    ProtocolInput {
        needle_length_mm: get("needle_length_mm"),
        zones: pairs
            .iter()
            .filter(|(k, _)| k == "zones")
            .map(|(_, v)| v.clone())
            .collect(),
        interval_days: get("interval_days"),
        course_sessions: get("course_sessions"),
        target_density_per_cm2: get("target_density_per_cm2"),
        note: get("note"),
    }
}

pub async fn prescribe(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let profile = profile_id(&raw)?;
    let pairs = checked(&ctx, &body)?;
    ctx.require_clinician()?;
    if let Some(r) = needs_reauth(
        &state,
        &ctx,
        &format!("/clinic/patients/{profile}/protocol"),
    ) {
        return Ok(r);
    }
    let input = form_input(&pairs);
    let parsed = prescription_from_input(&ctx, profile, &input);
    match prescribe_protocol(&state, &ctx, profile, parsed).await? {
        Prescribed::Saved(_) => Ok(see_other(&format!(
            "{}#protocol",
            ctx.link(&format!("/clinic/patients/{profile}"))
        ))),
        Prescribed::Invalid(problems, r) => Ok(page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &protocol_page(&ctx, &r, input, problems),
        )),
    }
}

pub async fn add_override(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let profile = profile_id(&raw)?;
    let pairs = checked(&ctx, &body)?;
    ctx.require_clinician()?;
    if let Some(r) = needs_reauth(&state, &ctx, &format!("/clinic/patients/{profile}")) {
        return Ok(r);
    }
    let rule = forms::field(&pairs, "rule").unwrap_or_default().to_owned();
    let reason = forms::field(&pairs, "reason")
        .unwrap_or_default()
        .to_owned();
    let (access, name) = (ctx.access, ctx.member.display_name.clone());
    let done = crate::act(&state, move |c| {
        needlewise_actions::override_rule(c, &access, &name, profile, &rule, &reason)
    })
    .await;
    if let Err(e @ WebError::BadInput(_)) = done {
        // Say what is wrong only to a clinician who may override here.
        let r = record_of(&state, &ctx, profile).await?;
        if !r.scopes.contains(&Scope::Screening) {
            return Err(WebError::NotFound);
        }
        return Err(e);
    }
    done?;
    Ok(see_other(&format!(
        "{}#overrides",
        ctx.link(&format!("/clinic/patients/{profile}"))
    )))
}

pub async fn revoke_override(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((raw, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let profile = profile_id(&raw)?;
    let id: OverrideId = id.parse().map_err(|_| WebError::NotFound)?;
    checked(&ctx, &body)?;
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    blocking(&state, move |s| {
        s.revoke_override(&access, profile, id, now)
    })
    .await?;
    Ok(see_other(&format!(
        "{}#overrides",
        ctx.link(&format!("/clinic/patients/{profile}"))
    )))
}
