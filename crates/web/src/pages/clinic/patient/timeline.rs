//! The patient's page: screening, sessions, check-ins and red flags with
//! acknowledgements, photos with a side-by-side comparison, and the
//! protocol and overrides in force, as far as the patient's consent allows.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use jiff::Timestamp;
use needlewise_core::clinic::Scope;

use super::record_of;
use super::{OverrideView, ProtocolView, overridable_rules};
use crate::AppState;
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::clinic::dashboard::NOTE_MAX;
use crate::pages::clinic::{ClinicHead, chrome, head, profile_id};
use crate::pages::page;
use crate::views::Chrome;

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
                    date: crate::views::day(s.local_date),
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
