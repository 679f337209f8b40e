//! The referral report: a PDF a person takes or sends to their facial
//! plastic surgeon, summarising what needlewise recorded.
//!
//! Two steps, so the rendering is pure and testable:
//! [`gather`] reads the store (and the stored photo files) into a plain
//! [`ReportInput`]; [`render_pdf`] turns that into PDF bytes and does no IO.
//!
//! The PDF uses only the standard Type 1 fonts (Helvetica and
//! Helvetica-Bold in WinAnsiEncoding), so no font files are embedded and
//! the text stays extractable; photos are the stored JPEGs embedded as they
//! are (DCTDecode). Everything in it is self-reported or decision support,
//! never a diagnosis, and the report says so on every page.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use needlewise_core::engine::Reason;
use needlewise_core::hygiene::DeviceKind;
use needlewise_core::progress::{Trend, trends};
use needlewise_core::records::{Profile, ScreeningRecord};
use needlewise_core::screening::Verdict;
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_store::Store;

pub mod jpeg;
mod render;
pub mod winansi;

pub use render::render_pdf;

/// The oldest photo is shown beside at most this many of the latest.
pub const LATEST_PHOTOS: usize = 3;

/// The media type of the report.
pub const CONTENT_TYPE: &str = "application/pdf";

/// Everything the report shows, already read from the store.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub profile_name: String,
    pub generated_at: Timestamp,
    /// The local date of `generated_at`.
    pub generated_on: Date,
    /// The zone local times are shown in.
    pub tz: TimeZone,
    /// The latest screening, if there is one.
    pub screening: Option<ScreeningSummary>,
    pub devices: Vec<DeviceLine>,
    /// Oldest first.
    pub sessions: Vec<SessionLine>,
    /// Check-ins and red flags, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Self-rating trends, per concern (from `needlewise_core::progress`).
    pub trends: Vec<Trend>,
    /// The first photo, then the latest ones, newest first.
    pub photos: Vec<ReportPhoto>,
    /// Things the report could not include, said plainly (a photo file
    /// that is missing, say).
    pub notes: Vec<String>,
}

/// The latest screening's verdict and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreeningSummary {
    pub taken_at: Timestamp,
    pub verdict: Verdict,
    pub headline: String,
    /// The first day a timed wait allows home use.
    pub eligible_from: Option<Date>,
    pub needle_length_mm: Option<f64>,
    /// Zones that may be treated.
    pub zones: Vec<Zone>,
    /// Zones left out, each with its rule ids (and end date, if timed).
    pub excluded_zones: Vec<String>,
    /// Every rule that fired, strongest first.
    pub reasons: Vec<ReasonLine>,
}

/// One fired rule, with its evidence grade and sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonLine {
    pub rule_id: String,
    pub title: String,
    pub outcome: String,
    pub explanation: String,
    /// `V`, `S`, `K` or `L`.
    pub grade: String,
    /// What the grade means, in words.
    pub grade_meaning: String,
    /// Source citations.
    pub sources: Vec<String>,
}

/// A device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLine {
    pub name: String,
    /// "roller (192 needles)" or "pen (12-needle cartridges)".
    pub kind: String,
    pub needle_length_mm: f64,
    pub uses: u32,
    /// The hygiene state's name (`ready`, `used`, `retired`, …).
    pub state: String,
    pub damaged: bool,
}

/// A session, as one row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLine {
    pub date: Date,
    /// Zone labels; a skipped zone is marked "(skipped)".
    pub zones: Vec<String>,
    pub needle_length_mm: f64,
    /// "name (category)", marked when the serum gate refused it.
    pub products: Vec<String>,
    pub device: Option<String>,
}

impl SessionLine {
    /// A stored session as the report lists it; `device` names the device.
    pub fn from_record(
        s: &needlewise_core::records::SessionRecord,
        device: Option<String>,
    ) -> SessionLine {
        SessionLine {
            date: s.local_date,
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
                .collect(),
            needle_length_mm: s.needle_length_mm,
            products: s
                .products
                .iter()
                .map(|p| {
                    let mut t = format!("{} ({})", p.name, p.category.replace('_', " "));
                    if !p.allowed {
                        t.push_str(", refused by the serum gate");
                    }
                    t
                })
                .collect(),
            device,
        }
    }
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineKind {
    Checkin,
    /// A red flag was raised; `open` tells whether it still is.
    RedFlagOpened {
        open: bool,
    },
    RedFlagResolved,
}

/// One entry of the check-in and red-flag timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: TimelineKind,
    pub level: TriageLevel,
    /// Rule ids, or the resolution note.
    pub detail: String,
}

/// Which photo this is in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoRole {
    First,
    Latest,
}

/// A stored photo: the JPEG bytes as they are on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPhoto {
    pub role: PhotoRole,
    pub taken_at: Timestamp,
    pub zone: Option<Zone>,
    pub jpeg: Vec<u8>,
}

/// Why the report could not be gathered.
#[derive(Debug)]
pub enum GatherError {
    Store(needlewise_store::StoreError),
}

impl std::fmt::Display for GatherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatherError::Store(e) => write!(f, "the store failed: {e}"),
        }
    }
}

impl std::error::Error for GatherError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GatherError::Store(e) => Some(e),
        }
    }
}

impl From<needlewise_store::StoreError> for GatherError {
    fn from(e: needlewise_store::StoreError) -> Self {
        GatherError::Store(e)
    }
}

/// Reads a profile's report from the store. `photo_root` is the photo
/// directory (`<data dir>/photos`, holding `<profile>/<photo>.jpg`); with
/// none, the report has no photos. A photo file that cannot be read is
/// left out with a note, never a failure.
pub fn gather(
    store: &dyn Store,
    profile: &Profile,
    photo_root: Option<&Path>,
    now: Timestamp,
    today: Date,
    tz: &TimeZone,
) -> Result<ReportInput, GatherError> {
    let id = profile.id;
    let screening = store
        .latest_screening(id)?
        .map(|s| ScreeningSummary::from_record(&s));

    let devices = store.devices(id)?;
    let names: HashMap<_, _> = devices.iter().map(|d| (d.id, d.name.clone())).collect();
    let device_lines = devices
        .iter()
        .map(|d| DeviceLine {
            name: d.name.clone(),
            kind: match d.kind {
                DeviceKind::Roller(r) => format!("roller ({} needles)", r.needle_count),
                DeviceKind::Pen(p) => {
                    format!("pen ({}-needle cartridges)", p.needles_per_cartridge)
                }
            },
            needle_length_mm: d.kind.needle_length_mm(),
            uses: d.use_count,
            state: d.state.name().to_owned(),
            damaged: d.damaged,
        })
        .collect();

    let mut sessions = store.sessions(id)?;
    sessions.sort_by_key(|s| s.started_at);
    let sessions = sessions
        .iter()
        .map(|s| SessionLine::from_record(s, s.device_id.and_then(|d| names.get(&d).cloned())))
        .collect();

    let mut timeline: Vec<TimelineEntry> = store
        .checkins(id)?
        .into_iter()
        .map(|c| TimelineEntry {
            at: c.at,
            kind: TimelineKind::Checkin,
            level: c.level,
            detail: c.rule_ids.join(", "),
        })
        .collect();
    for e in store.episodes(id)? {
        timeline.push(TimelineEntry {
            at: e.opened_at,
            kind: TimelineKind::RedFlagOpened { open: e.is_open() },
            level: e.level,
            detail: String::new(),
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

    let ratings = store.ratings(id)?;
    let mut notes = Vec::new();
    let photos = match photo_root {
        Some(root) => read_photos(
            &store.photos(id)?,
            &root.join(id.to_string()),
            tz,
            &mut notes,
        ),
        None => Vec::new(),
    };

    Ok(ReportInput {
        profile_name: profile.name.clone(),
        generated_at: now,
        generated_on: today,
        tz: tz.clone(),
        screening,
        devices: device_lines,
        sessions,
        timeline,
        trends: trends(&ratings),
        photos,
        notes,
    })
}

/// The first photo and up to [`LATEST_PHOTOS`] of the latest, read from
/// `dir` (the profile's photo folder). The file name comes from the photo's
/// id, never from the stored name.
fn read_photos(
    photos: &[needlewise_core::progress::Photo],
    dir: &Path,
    tz: &TimeZone,
    notes: &mut Vec<String>,
) -> Vec<ReportPhoto> {
    let mut chosen: Vec<(PhotoRole, &needlewise_core::progress::Photo)> = Vec::new();
    if let Some(first) = photos.first() {
        chosen.push((PhotoRole::First, first));
    }
    for p in photos.iter().skip(1).rev().take(LATEST_PHOTOS) {
        chosen.push((PhotoRole::Latest, p));
    }
    let mut out = Vec::new();
    for (role, p) in chosen {
        let path = dir.join(format!("{}.jpg", p.id));
        let when = p.taken_at.to_zoned_datetime(tz.clone()).date();
        match std::fs::read(&path) {
            Ok(bytes) if jpeg::info(&bytes).is_some() => out.push(ReportPhoto {
                role,
                taken_at: p.taken_at,
                zone: p.zone,
                jpeg: bytes,
            }),
            Ok(_) => notes.push(format!(
                "The photo of {when} is not a readable JPEG and is left out."
            )),
            Err(_) => notes.push(format!(
                "The photo of {when} could not be read from disk and is left out."
            )),
        }
    }
    out
}

impl ScreeningSummary {
    /// The stored screening as the report shows it (as it was given, not
    /// re-run through today's rules).
    pub fn from_record(s: &ScreeningRecord) -> ScreeningSummary {
        let r = &s.result;
        ScreeningSummary {
            taken_at: s.taken_at,
            verdict: s.verdict,
            headline: r.headline.clone(),
            eligible_from: r.eligible_from,
            needle_length_mm: Some(r.needle_length_mm),
            zones: r.zones.clone(),
            excluded_zones: r
                .excluded_zones
                .iter()
                .map(|e| {
                    let ids: Vec<&str> = e.rule_ids.iter().map(String::as_str).collect();
                    let mut line = format!("{} (rule {})", e.zone.label(), ids.join(", "));
                    if let Some(until) = e.until {
                        line.push_str(&format!(", until {until}"));
                    }
                    line
                })
                .collect(),
            reasons: r.reasons.iter().map(ReasonLine::from).collect(),
        }
    }
}

impl From<&Reason> for ReasonLine {
    fn from(r: &Reason) -> ReasonLine {
        let word = |v: serde_json::Result<serde_json::Value>| {
            v.ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        ReasonLine {
            rule_id: r.rule_id.clone(),
            title: r.title.clone(),
            outcome: word(serde_json::to_value(r.outcome)).replace('_', " "),
            explanation: r.explanation.clone(),
            grade: word(serde_json::to_value(r.grade)),
            grade_meaning: r.grade.describe().to_owned(),
            sources: r
                .sources
                .iter()
                .map(|s| match &s.link {
                    Some(link) => format!("{} {link}", s.citation),
                    None => s.citation.clone(),
                })
                .collect(),
        }
    }
}
