//! Prescribing a protocol: the form, reading what was entered (every
//! problem at once, per field), and storing it through the actions layer.
//! The API's `POST /api/clinic/patients/{profile}/protocol` uses the same
//! functions.

use std::collections::BTreeSet;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use needlewise_actions::Prescription;
use needlewise_core::clinic::{Protocol, Scope, limits};
use needlewise_core::ids::ProfileId;
use needlewise_core::zone::Zone;
use needlewise_store::clinic::PatientRecord;
use serde::Deserialize;

use super::record_of;
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::clinic::{
    ClinicHead, checked, chrome, head, needs_reauth, page_with, profile_id,
};
use crate::pages::{page, see_other};
use crate::views::Chrome;
use crate::{AppState, forms};

/// The default target density, in needles per cm².
pub const DEFAULT_DENSITY: f64 = 250.0;

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
