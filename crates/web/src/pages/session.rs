//! The guided session: today's plan worked out on the server, a page that
//! walks it zone by zone (with `assets/session.js`), and the completion
//! form that stores it.
//!
//! The page only offers a session when the readiness facts allow one: the
//! screening clears home use, a roller or pen is ready and its needle is no
//! longer than the one screened, the interval since the last session has
//! passed and no red flag is open. Otherwise it lists each reason with a
//! link to fix it. The POST checks all of it again, so a stale page cannot
//! get past the gate; nothing is stored on any error.

use askama::Template;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use needlewise_core::aftercare::serum_gate;
use needlewise_core::clinic::Protocol;
use needlewise_core::engine::Reason;
use needlewise_core::evidence;
use needlewise_core::guide::Section;
use needlewise_core::hygiene::{Device, DeviceKind, HygieneState};
use needlewise_core::ids::{DeviceId, ProfileId, SessionId};
use needlewise_core::records::{Profile, SessionRecord, SessionSetting, ZoneRecord};
use needlewise_core::screening::ScreeningResult;
use needlewise_core::zone::Zone;
use serde::Serialize;

use super::{checked_form, page, see_other};
use crate::auth::Me;
use crate::error::WebError;
use crate::views::{self, Chrome};
use crate::{AppState, act, blocking, forms};

/// The most time one zone may record.
pub const MAX_ZONE_SECONDS: u32 = 3600;
/// The most strokes one zone may record.
pub const MAX_ZONE_STROKES: u32 = 10_000;
/// Product fields on the form, and the most a session may record.
const PRODUCT_SLOTS: usize = 3;
const MAX_PRODUCTS: usize = 10;
const MAX_PRODUCT_CHARS: usize = 200;

/// One step of a zone: a direction, its strokes and its time.
/// A zone of today's plan.
///
/// In JSON it also carries a [`ZoneEntry`]'s fields (`zone`, the planned
/// `seconds` and `strokes`, `skipped: false`), so an API client can post
/// today's zones back unchanged when the session went as planned.
#[derive(Debug, Clone)]
pub struct ZonePlan {
    pub id: &'static str,
    pub label: &'static str,
    pub periorbital: bool,
    pub sections: Vec<Section>,
    pub zone: Zone,
}

impl Serialize for ZonePlan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            zone: &'a str,
            seconds: u32,
            strokes: Option<u32>,
            skipped: bool,
            id: &'a str,
            label: &'a str,
            periorbital: bool,
            sections: &'a [Section],
        }
        Json {
            zone: self.id,
            seconds: self.seconds(),
            strokes: self.strokes(),
            skipped: false,
            id: self.id,
            label: self.label,
            periorbital: self.periorbital,
            sections: &self.sections,
        }
        .serialize(serializer)
    }
}

impl ZonePlan {
    pub fn seconds(&self) -> u32 {
        self.sections.iter().map(|s| s.seconds).sum()
    }

    /// The planned strokes, for rollers (none for pens).
    pub fn strokes(&self) -> Option<u32> {
        self.sections
            .iter()
            .map(|s| s.strokes)
            .try_fold(0u32, |sum, n| n.map(|n| sum.saturating_add(n)))
    }

    /// About how long, in words.
    pub fn duration(&self) -> String {
        duration_words(self.seconds())
    }

    /// The no-script form's default minutes, to one decimal.
    pub fn minutes_value(&self) -> String {
        let tenths = (self.seconds() as f64 / 6.0).round() / 10.0;
        format!("{tenths}")
    }
}

fn duration_words(seconds: u32) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{} min {} s", s / 60, s % 60),
    }
}

/// A zone the screening left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct ExcludedView {
    pub id: &'static str,
    pub label: &'static str,
    pub why: String,
    pub until: String,
}

/// One reason there is no session today, and where to fix it.
#[derive(Debug, Clone, Serialize)]
pub struct Blocker {
    pub rule_id: String,
    pub title: String,
    pub explanation: String,
    pub detail: String,
    pub until: String,
    pub grade: String,
    pub sources: Vec<String>,
    pub fix_href: &'static str,
    pub fix_label: &'static str,
}

impl Blocker {
    fn from_reason(r: &Reason, detail: String) -> Blocker {
        let (fix_href, fix_label) = match r.rule_id.as_str() {
            "ready.screening.missing" => ("/screening", "Do the screening"),
            "ready.screening.not_cleared" => ("/screening/result", "Read your screening result"),
            "ready.device.needle_not_screened" => ("/screening", "Screen again"),
            id if id.starts_with("ready.device.") => ("/devices", "Go to your roller"),
            "ready.interval" | "ready.after_clinic_needle" => ("/schedule", "See your schedule"),
            "ready.symptom_lock" => ("/checkin", "Go to check-in"),
            _ => ("/ready", "Check readiness"),
        };
        Blocker {
            rule_id: r.rule_id.clone(),
            title: r.title.clone(),
            explanation: r.explanation.clone(),
            detail,
            until: r.until.map(views::day).unwrap_or_default(),
            grade: format!("{:?}", r.grade),
            sources: r.sources.iter().map(|s| s.id.clone()).collect(),
            fix_href,
            fix_label,
        }
    }

    fn plain(
        title: &str,
        explanation: String,
        fix_href: &'static str,
        fix_label: &'static str,
    ) -> Blocker {
        Blocker {
            rule_id: String::new(),
            title: title.to_owned(),
            explanation,
            detail: String::new(),
            until: String::new(),
            grade: String::new(),
            sources: Vec::new(),
            fix_href,
            fix_label,
        }
    }
}

/// Everything the page and the POST need about today.
#[derive(Debug, Clone)]
pub struct Today {
    pub date: Date,
    pub device: Option<Device>,
    pub zones: Vec<ZonePlan>,
    pub excluded: Vec<ExcludedView>,
    pub blockers: Vec<Blocker>,
    /// Today's session, when one is saved already.
    pub saved: Option<SessionRecord>,
    /// The protocol a clinician prescribed, when one is in force: it
    /// narrows the zones, sets the needle and the target density.
    pub protocol: Option<Protocol>,
}

impl Today {
    pub fn allowed(&self) -> bool {
        self.blockers.is_empty() && self.device.is_some() && !self.zones.is_empty()
    }
}

type Loaded = (needlewise_actions::Plan, Option<SessionRecord>);

/// Today's plan from the actions layer, or why there is none: the
/// readiness verdict at this moment for the device (the one asked for, or
/// the one the actions layer chooses), and the last session.
async fn load(
    state: &AppState,
    profile: ProfileId,
    wanted: Option<DeviceId>,
) -> Result<Loaded, WebError> {
    act(state, move |ctx| {
        let plan = needlewise_actions::plan_today(ctx, profile, wanted)?;
        let last = ctx.store.last_session(profile)?;
        Ok((plan, last))
    })
    .await
}

/// Today's plan, or why there is none.
fn plan(state: &AppState, (plan, last): Loaded) -> Today {
    let date = state.today();
    let allowed = plan.allowed();
    let view = plan.view;
    let mut blockers: Vec<Blocker> = view
        .readiness
        .reasons
        .iter()
        .filter(|r| needlewise_actions::is_no_go(r))
        .map(|r| {
            let detail = if r.rule_id == "ready.device.not_ready" {
                device_detail(state, &view.devices)
            } else {
                String::new()
            };
            Blocker::from_reason(r, detail)
        })
        .collect();
    if blockers.is_empty() && view.needs_answers {
        blockers.push(Blocker::plain(
            "Today's readiness check first",
            "Answer today's questions for this roller or pen: a session can start within an hour of a check that says go.".into(),
            "/ready",
            "Check readiness",
        ));
    } else if blockers.is_empty() && !allowed {
        blockers.push(Blocker::plain(
            "No zone left to treat",
            view.readiness.headline.clone(),
            "/ready",
            "Check readiness",
        ));
    }
    let zones = if allowed {
        plan.zones
            .into_iter()
            .map(|(z, sections)| ZonePlan {
                id: z.id(),
                label: z.label(),
                periorbital: z.is_periorbital(),
                sections,
                zone: z,
            })
            .collect()
    } else {
        Vec::new()
    };
    let saved = last.filter(|s| s.local_date == date);
    Today {
        date,
        excluded: view.screening.as_ref().map(excluded).unwrap_or_default(),
        device: view.device,
        zones,
        blockers,
        saved,
        protocol: view.protocol,
    }
}

/// Each device's next step, for the "not ready" reason.
fn device_detail(state: &AppState, devices: &[Device]) -> String {
    let now = state.now();
    let rules = &evidence().defaults.hygiene;
    let live: Vec<String> = devices
        .iter()
        .filter(|d| d.state != HygieneState::Retired)
        .map(|d| format!("{}: {}", d.name, d.status(now, rules).next_step))
        .collect();
    if live.is_empty() {
        "You have not added a roller or pen yet.".into()
    } else {
        live.join(" ")
    }
}

/// The zones the screening left out, with its reasons' titles.
fn excluded(result: &ScreeningResult) -> Vec<ExcludedView> {
    let title = |id: &str| {
        result
            .reasons
            .iter()
            .find(|r| r.rule_id == id)
            .map(|r| r.title.clone())
    };
    result
        .excluded_zones
        .iter()
        .map(|e| {
            let why: Vec<String> = e.rule_ids.iter().filter_map(|id| title(id)).collect();
            ExcludedView {
                id: e.zone.id(),
                label: e.zone.label(),
                why: if why.is_empty() {
                    "left out by your screening".into()
                } else {
                    why.join("; ")
                },
                until: e.until.map(views::day).unwrap_or_default(),
            }
        })
        .collect()
}

/// A zone's outline on the face map, drawn as in a mirror: the person's
/// left is on the left of the picture.
const SHAPES: [(Zone, &str); 9] = [
    (Zone::Forehead, "M50 70C52 40 74 28 100 28S148 40 150 70Z"),
    (
        Zone::PeriorbitalLeft,
        "M62 93Q76 103 90 93L92 101Q76 113 60 101Z",
    ),
    (
        Zone::PeriorbitalRight,
        "M110 93Q124 103 138 93L140 101Q124 113 108 101Z",
    ),
    (Zone::Nose, "M94 84L106 84L112 126Q100 132 88 126Z"),
    (
        Zone::LeftCheek,
        "M50 106Q60 110 82 114L84 146Q66 152 54 140Q48 124 50 106Z",
    ),
    (
        Zone::RightCheek,
        "M150 106Q140 110 118 114L116 146Q134 152 146 140Q152 124 150 106Z",
    ),
    (Zone::UpperLip, "M86 134Q100 138 114 134L115 145L85 145Z"),
    (
        Zone::Chin,
        "M82 164Q100 170 118 164Q116 188 100 194Q84 188 82 164Z",
    ),
    (Zone::Neck, "M74 206Q100 220 126 206L132 262L68 262Z"),
];

#[derive(Debug, Clone)]
pub struct ShapeView {
    pub id: &'static str,
    pub class: &'static str,
    pub d: &'static str,
    pub title: String,
}

fn shapes(today: &Today) -> Vec<ShapeView> {
    SHAPES
        .iter()
        .map(|(zone, d)| {
            let (class, title) = if let Some(p) = today.zones.iter().find(|p| p.zone == *zone) {
                (
                    "planned",
                    format!("{}: today, about {}", zone.label(), p.duration()),
                )
            } else if let Some(e) = today.excluded.iter().find(|e| e.id == zone.id()) {
                (
                    "excluded",
                    format!("{}: left out ({})", zone.label(), e.why),
                )
            } else {
                ("off", format!("{}: not in your plan", zone.label()))
            };
            ShapeView {
                id: zone.id(),
                class,
                d,
                title,
            }
        })
        .collect()
}

/// What the page shows about a session saved today.
#[derive(Debug, Clone)]
pub struct SavedView {
    pub when: String,
    pub zones: String,
    /// (product, allowed, reason)
    pub products: Vec<(String, bool, String)>,
}

fn saved_view(state: &AppState, s: &SessionRecord) -> SavedView {
    SavedView {
        when: state.local(s.ended_at),
        zones: s
            .zones
            .iter()
            .map(|z| {
                if z.skipped {
                    format!("{} (stopped early)", z.zone.label())
                } else {
                    z.zone.label().to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        products: s
            .products
            .iter()
            .map(|p| {
                let d = serum_gate(evidence(), &p.name, s.ended_at, p.applied_at);
                let words = super::aftercare::reason_words(state, &d);
                let reason = if p.allowed {
                    words
                } else {
                    format!("recorded as applied, but not advised yet. {words}")
                };
                (p.name.clone(), p.allowed, reason)
            })
            .collect(),
    }
}

/// The plan as the script reads it (from a `data-plan` attribute).
#[derive(Debug, Serialize)]
struct PlanJson<'a> {
    key: &'a str,
    date: String,
    verb: &'static str,
    zones: &'a [ZonePlan],
}

#[derive(Debug, Template)]
#[template(path = "session.html")]
pub struct SessionPage {
    pub chrome: Chrome,
    pub key: String,
    pub saved: Option<SavedView>,
    pub blockers: Vec<Blocker>,
    /// A new session id for the form: a form sent twice (a phone replaying
    /// it after being offline) stores one session.
    pub session_id: String,
    pub device_id: String,
    pub device_name: String,
    pub device_spec: String,
    pub verb: &'static str,
    pub zones: Vec<ZonePlan>,
    pub total: String,
    pub shapes: Vec<ShapeView>,
    pub excluded: Vec<ExcludedView>,
    pub plan_json: String,
    pub product_slots: Vec<usize>,
    /// The prescribed protocol in words, when one is in force.
    pub protocol: String,
}

/// A protocol in one sentence, as the patient's pages show it.
pub fn protocol_words(state: &AppState, p: &Protocol) -> String {
    let zones: Vec<&str> = Zone::ALL
        .into_iter()
        .filter(|z| p.zones.contains(z))
        .map(Zone::label)
        .collect();
    format!(
        "{} prescribed on {}: {} mm needle; {}; sessions at least {} days apart; {} sessions in the course; about {} needle channels per cm².",
        p.prescriber_name,
        state.local(p.prescribed_at),
        p.needle_length_mm,
        zones.join(", "),
        p.interval_days,
        p.course_sessions,
        p.target_density_per_cm2
    )
}

fn verb(device: Option<&Device>) -> &'static str {
    match device.map(|d| d.kind) {
        Some(DeviceKind::Pen(_)) => "Glide the pen",
        _ => "Roll",
    }
}

pub async fn show(Me { state, auth }: Me) -> Result<Response, WebError> {
    let today = plan(&state, load(&state, auth.profile.id, None).await?);
    let key = format!("{}:{}", auth.profile.id, today.date);
    let allowed = today.allowed();
    let device = today.device.as_ref().filter(|_| allowed);
    let verb = verb(device);
    let plan_json = if allowed {
        serde_json::to_string(&PlanJson {
            key: &key,
            date: today.date.to_string(),
            verb,
            zones: &today.zones,
        })
        .map_err(|e| WebError::Internal(e.into()))?
    } else {
        String::new()
    };
    let total = duration_words(today.zones.iter().map(ZonePlan::seconds).sum());
    Ok(page(&SessionPage {
        chrome: auth.chrome("Today's session", "session"),
        saved: today.saved.as_ref().map(|s| saved_view(&state, s)),
        session_id: uuid::Uuid::now_v7().to_string(),
        device_id: device.map(|d| d.id.to_string()).unwrap_or_default(),
        device_name: device.map(|d| d.name.clone()).unwrap_or_default(),
        device_spec: device
            .map(|d| match d.kind {
                DeviceKind::Roller(r) => format!(
                    "roller, {} needles of {} mm",
                    r.needle_count, r.needle_length_mm
                ),
                DeviceKind::Pen(p) => format!("pen, {} mm", p.needle_length_mm),
            })
            .unwrap_or_default(),
        verb,
        shapes: shapes(&today),
        total,
        blockers: if allowed { Vec::new() } else { today.blockers },
        zones: if allowed { today.zones } else { Vec::new() },
        excluded: today.excluded,
        plan_json,
        product_slots: (1..=PRODUCT_SLOTS).collect(),
        protocol: today
            .protocol
            .as_ref()
            .map(|p| protocol_words(&state, p))
            .unwrap_or_default(),
        key,
    }))
}

/// Stores the session and the device's use, after checking everything
/// again. Only zones of today's plan are accepted.
///
/// The service worker sends a session kept offline with `Accept:
/// application/json`: a refusal then answers in JSON (`into_replay_json`),
/// so the phone can tell the person it was not saved, and why. A browser's
/// own form gets the error page as always.
pub async fn complete(me: Me, headers: HeaderMap, body: Bytes) -> Response {
    let replay = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    match record(me, body).await {
        Ok(res) => res,
        Err(e) if replay => e.into_replay_json(),
        Err(e) => e.into_response(),
    }
}

async fn record(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let device_id: DeviceId = forms::required(&pairs, "device")?
        .parse()
        .map_err(|_| WebError::BadInput("device: reload the session page and try again".into()))?;
    let names = parse_products(&pairs)?;
    let key = Key {
        id: forms::field(&pairs, "session_id")
            .filter(|v| !v.is_empty())
            .map(parse_session_id)
            .transpose()?,
        ran_for: ran_for(&pairs)?,
    };
    let session = save(
        &state,
        &auth.profile,
        device_id,
        key,
        |plan| parse_zones(&pairs, plan),
        names,
    )
    .await?;
    // A refused product is explained on the session page (which links the
    // aftercare timeline); otherwise the timeline comes next.
    Ok(see_other(if session.products.iter().any(|p| !p.allowed) {
        "/session#saved"
    } else {
        "/aftercare?saved=session"
    }))
}

/// What makes a session sent twice the same session: the id the page (or
/// client) chose, and when the timer started.
#[derive(Debug, Clone, Copy, Default)]
pub struct Key {
    pub id: Option<SessionId>,
    /// How long before sending the session started (see `ran_for`).
    pub ran_for: Option<jiff::SignedDuration>,
}

/// How long before its form was sent the guided session started: the
/// page's script sends its own clock's `started_at` and `sent_at` (the
/// moment the form went, or a phone's replay of it), and only their
/// difference is used, so a phone whose clock is off, or that kept the
/// form offline for hours, still dates the session right (the actions
/// layer counts back from the server's now). Without both, `None`: the
/// session is dated from the zones' time.
fn ran_for(pairs: &[(String, String)]) -> Result<Option<jiff::SignedDuration>, WebError> {
    let read = |name: &str| -> Result<Option<Timestamp>, WebError> {
        forms::field(pairs, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<Timestamp>().map_err(|_| {
                    WebError::BadInput(
                        "The session's times could not be read. Reload the session page and save again."
                            .into(),
                    )
                })
            })
            .transpose()
    };
    let (Some(started), Some(sent)) = (read("started_at")?, read("sent_at")?) else {
        return Ok(None);
    };
    let ran = sent.duration_since(started);
    // Longer than half a day, or backwards: not a session's clock.
    if ran.is_negative() || ran > jiff::SignedDuration::from_hours(12) {
        return Ok(None);
    }
    Ok(Some(ran))
}

/// A session id a client chose: a UUID.
pub fn parse_session_id(v: &str) -> Result<SessionId, WebError> {
    v.trim().parse().map(SessionId).map_err(|_| {
        WebError::BadInput(
            "The session's id is not one needlewise made. Reload the session page and save again."
                .into(),
        )
    })
}

/// Takes the zones treated from `zones` (given today's plan) and records
/// the session through the actions layer, which checks the gate again at
/// the session's start: a blocked day is a conflict and saves nothing. A
/// session already stored under `key.id` is the answer as it is (its
/// roller is used now, so today's gate would refuse it a second time).
pub async fn save(
    state: &AppState,
    profile: &Profile,
    device_id: DeviceId,
    key: Key,
    zones: impl FnOnce(&[ZonePlan]) -> Result<Vec<ZoneRecord>, WebError>,
    product_names: Vec<String>,
) -> Result<SessionRecord, WebError> {
    let id = profile.id;
    if let Some(sid) = key.id
        && let Some(done) = blocking(state, move |s| s.session(id, sid)).await?
    {
        return Ok(done);
    }
    let loaded = act(state, move |ctx| {
        let plan = needlewise_actions::plan_for_record(ctx, id, device_id)?;
        let last = ctx.store.last_session(id)?;
        Ok((plan, last))
    })
    .await?;
    let today = plan(state, loaded);
    if !today.allowed() {
        let why: Vec<String> = today
            .blockers
            .iter()
            .map(|b| b.title.to_lowercase())
            .collect();
        return Err(WebError::Conflict(format!(
            "Not today: {}. Nothing was saved; see the session page for what to do.",
            if why.is_empty() {
                "this device is not ready".to_owned()
            } else {
                why.join("; ")
            }
        )));
    }
    let zones = zones(&today.zones)?;
    let profile = profile.clone();
    act(state, move |ctx| {
        needlewise_actions::log_session(
            ctx,
            &profile,
            needlewise_actions::NewSession {
                id: key.id,
                ran_for: key.ran_for,
                setting: SessionSetting::Home,
                device: Some(device_id),
                started_at: None,
                zones,
                products: product_names,
                notes: String::new(),
                needle_length_mm: None,
            },
        )
    })
    .await
}

/// Today's plan for the API: the device chosen, the zones with their
/// sections, the zones left out and what blocks the day.
pub async fn today(
    state: &AppState,
    profile: ProfileId,
    device: Option<DeviceId>,
) -> Result<Today, WebError> {
    Ok(plan(state, load(state, profile, device).await?))
}

/// One zone as an API client reports it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneEntry {
    /// The zone's id, such as `forehead`.
    pub zone: String,
    /// Seconds spent; the plan's time when left out.
    #[schema(maximum = 3600)]
    pub seconds: Option<u32>,
    /// Strokes counted, if counted.
    #[schema(maximum = 10000)]
    pub strokes: Option<u32>,
    /// Whether the zone was skipped.
    #[serde(default)]
    pub skipped: bool,
    /// Echoed from today's plan (`/api/session/today`) and ignored; when
    /// given, `id` must be `zone`.
    #[serde(default)]
    pub id: Option<String>,
    /// Echoed from today's plan and ignored.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub label: Option<serde::de::IgnoredAny>,
    /// Echoed from today's plan and ignored.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub periorbital: Option<serde::de::IgnoredAny>,
    /// Echoed from today's plan and ignored.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub sections: Option<serde::de::IgnoredAny>,
}

/// Checks zones reported through the API against today's plan, with the
/// same limits as the form.
pub fn check_zones(entries: &[ZoneEntry], plan: &[ZonePlan]) -> Result<Vec<ZoneRecord>, WebError> {
    let listed = plan.iter().map(|p| p.id).collect::<Vec<_>>().join(", ");
    let mut out: Vec<ZoneRecord> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(id) = e.id.as_deref().filter(|id| *id != e.zone) {
            return Err(WebError::BadInput(format!(
                "zones[{i}].id: {id:?} is not the zone {:?}; leave id out or give the same",
                e.zone
            )));
        }
        let Some(p) = plan.iter().find(|p| p.id == e.zone) else {
            return Err(WebError::BadInput(format!(
                "zones[{i}].zone: {:?} is not in today's plan ({listed})",
                e.zone
            )));
        };
        if out.iter().any(|z| z.zone == p.zone) {
            return Err(WebError::BadInput(format!(
                "zones[{i}].zone: {} is listed twice",
                e.zone
            )));
        }
        let seconds = e.seconds.unwrap_or_else(|| p.seconds());
        if seconds > MAX_ZONE_SECONDS {
            return Err(WebError::BadInput(format!(
                "zones[{i}].seconds: at most {MAX_ZONE_SECONDS}"
            )));
        }
        if e.strokes.is_some_and(|n| n > MAX_ZONE_STROKES) {
            return Err(WebError::BadInput(format!(
                "zones[{i}].strokes: at most {MAX_ZONE_STROKES}"
            )));
        }
        out.push(ZoneRecord {
            zone: p.zone,
            seconds,
            strokes: e.strokes.filter(|n| *n > 0),
            skipped: e.skipped,
        });
    }
    finish_zones(out, "zones")
}

/// The checks every list of treated zones passes, then walk order.
fn finish_zones(mut out: Vec<ZoneRecord>, field: &str) -> Result<Vec<ZoneRecord>, WebError> {
    if out.is_empty() {
        return Err(WebError::BadInput(format!(
            "{field}: tick at least one zone you treated"
        )));
    }
    if out.iter().all(|z| z.seconds == 0 && z.strokes.is_none()) {
        return Err(WebError::BadInput(format!(
            "{field}: no time was recorded for any zone; enter the minutes you spent"
        )));
    }
    out.sort_by_key(|z| Zone::ALL.iter().position(|a| *a == z.zone));
    Ok(out)
}

/// Checks product names (from the form or the API): blanks dropped, at most
/// ten, each at most 200 characters.
pub fn check_products<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, WebError> {
    let names: Vec<String> = names
        .into_iter()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() > MAX_PRODUCTS {
        return Err(WebError::BadInput(format!(
            "product: at most {MAX_PRODUCTS} products"
        )));
    }
    if names.iter().any(|n| n.chars().count() > MAX_PRODUCT_CHARS) {
        return Err(WebError::BadInput(format!(
            "product: at most {MAX_PRODUCT_CHARS} characters each"
        )));
    }
    Ok(names)
}

const ZONE_FIELDS: [&str; 4] = ["seconds_", "minutes_", "strokes_", "skipped_"];

/// The zones treated, from the form. Every zone named anywhere must be in
/// today's plan.
fn parse_zones(pairs: &[(String, String)], plan: &[ZonePlan]) -> Result<Vec<ZoneRecord>, WebError> {
    let in_plan = |id: &str| plan.iter().find(|p| p.id == id);
    let listed = plan.iter().map(|p| p.id).collect::<Vec<_>>().join(", ");
    for (k, v) in pairs {
        if k == "zone" && in_plan(v).is_none() {
            return Err(WebError::BadInput(format!(
                "zone: {v:?} is not in today's plan ({listed})"
            )));
        }
        if let Some(id) = ZONE_FIELDS.iter().find_map(|p| k.strip_prefix(p))
            && in_plan(id).is_none()
        {
            return Err(WebError::BadInput(format!(
                "{k}: {id:?} is not in today's plan ({listed})"
            )));
        }
    }
    let value = |name: String| {
        forms::field(pairs, &name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| (name, v))
    };
    let mut out: Vec<ZoneRecord> = Vec::new();
    for id in pairs
        .iter()
        .filter(|(k, _)| k == "zone")
        .map(|(_, v)| v.as_str())
    {
        let Some(p) = in_plan(id) else { continue };
        if out.iter().any(|z| z.zone == p.zone) {
            return Err(WebError::BadInput(format!("zone: {id} is listed twice")));
        }
        let seconds = if let Some((name, v)) = value(format!("seconds_{id}")) {
            v.parse::<u32>()
                .ok()
                .filter(|s| *s <= MAX_ZONE_SECONDS)
                .ok_or_else(|| {
                    WebError::BadInput(format!(
                        "{name}: enter whole seconds from 0 to {MAX_ZONE_SECONDS}"
                    ))
                })?
        } else if let Some((name, v)) = value(format!("minutes_{id}")) {
            let max = f64::from(MAX_ZONE_SECONDS / 60);
            let m = v
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|m| m.is_finite() && (0.0..=max).contains(m))
                .ok_or_else(|| {
                    WebError::BadInput(format!("{name}: enter minutes from 0 to {max}"))
                })?;
            (m * 60.0).round() as u32
        } else {
            p.seconds()
        };
        let strokes = match value(format!("strokes_{id}")) {
            None => None,
            Some((name, v)) => Some(
                v.parse::<u32>()
                    .ok()
                    .filter(|s| *s <= MAX_ZONE_STROKES)
                    .ok_or_else(|| {
                        WebError::BadInput(format!(
                            "{name}: enter a whole number from 0 to {MAX_ZONE_STROKES}"
                        ))
                    })?,
            ),
        };
        let skipped = match value(format!("skipped_{id}")) {
            None => false,
            Some((_, "yes" | "on" | "true" | "1")) => true,
            Some((_, "no" | "false" | "0")) => false,
            Some((name, _)) => {
                return Err(WebError::BadInput(format!(
                    "{name}: tick it or leave it empty"
                )));
            }
        };
        out.push(ZoneRecord {
            zone: p.zone,
            seconds,
            strokes: strokes.filter(|n| *n > 0),
            skipped,
        });
    }
    finish_zones(out, "zone")
}

/// The products named on the form.
fn parse_products(pairs: &[(String, String)]) -> Result<Vec<String>, WebError> {
    check_products(
        pairs
            .iter()
            .filter(|(k, _)| k == "product")
            .map(|(_, v)| v.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_plainly() {
        assert_eq!(duration_words(45), "45 s");
        assert_eq!(duration_words(120), "2 min");
        assert_eq!(duration_words(135), "2 min 15 s");
    }

    #[test]
    fn every_zone_has_a_shape() {
        for z in Zone::ALL {
            assert!(SHAPES.iter().any(|(s, _)| *s == z), "{z}");
        }
    }
}

#[cfg(test)]
mod start_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pairs(started: &str, sent: &str) -> Vec<(String, String)> {
        vec![
            ("started_at".into(), started.into()),
            ("sent_at".into(), sent.into()),
        ]
    }

    #[test]
    fn only_the_time_between_start_and_sending_counts() {
        // A phone whose clock is years ahead, replaying a session two hours
        // after it started: it ran two hours before the sending.
        let got = ran_for(&pairs("2030-01-01T08:00:00Z", "2030-01-01T10:00:00.5Z")).unwrap();
        assert_eq!(got, Some(jiff::SignedDuration::from_millis(7_200_500)));
        // Missing, backwards or longer than half a day: not used.
        for (a, b) in [
            ("", "2030-01-01T10:00:00Z"),
            ("2030-01-01T08:00:00Z", ""),
            ("2030-01-01T10:00:00Z", "2030-01-01T08:00:00Z"),
            ("2030-01-01T08:00:00Z", "2030-01-02T08:00:00Z"),
        ] {
            assert_eq!(ran_for(&pairs(a, b)).unwrap(), None, "{a} {b}");
        }
        assert!(ran_for(&pairs("yesterday", "2030-01-01T08:00:00Z")).is_err());
    }
}
