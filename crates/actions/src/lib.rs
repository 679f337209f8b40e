//! The one path for every decision.
//!
//! Each use case here takes typed input (parsed at the edge: never a form
//! map or an id as text), the moment and the person's zone ([`Ctx`]),
//! loads the facts it needs, asks the core, and writes with one store call
//! (one transaction), or writes nothing. The command line, the web pages,
//! the JSON API and the clinic pages call these and only render what they
//! return, so every safety promise is a property of this crate:
//!
//! 1. No home session without a go for that moment and that device
//!    ([`log_session`]).
//! 2. The needle is the one that was screened (the readiness facts).
//! 3. Waits are elapsed time ([`needlewise_core::schedule`]).
//! 4. The course is what happened ([`course`]).
//! 5. Refusals write nothing: every check comes before the one write.
//! 6. A red flag locks every path, a red-flag answer counts even with
//!    others missing ([`checkin`]), and only someone allowed resolves it
//!    ([`resolve_by_person`], [`resolve_by_clinician`]).
//! 7. Every path agrees: they all read [`readiness_now`].
#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use needlewise_core::aftercare::serum_gate;
use needlewise_core::answers::{Answer, Answers, InvalidAnswers};
use needlewise_core::clinic::{Protocol, ResolvePolicy, Scope, resolve_policy};
use needlewise_core::engine::Reason;
use needlewise_core::evidence;
use needlewise_core::evidence::{EvidenceBase, Outcome};
use needlewise_core::guide::{self, Section};
use needlewise_core::hygiene::{Device, DeviceKind, HygieneError, HygieneEvent, HygieneState};
use needlewise_core::ids::{
    CheckinId, ClinicId, DeviceId, EpisodeId, ProfileId, ProtocolId, ReadinessCheckId, ScreeningId,
    SessionId,
};
use needlewise_core::readiness::{self, Known, Readiness, ReadinessFacts};
use needlewise_core::records::{
    CheckinRecord, Episode, ProductUse, Profile, ReadinessCheckRecord, Resolver, ScreeningRecord,
    SessionRecord, SessionSetting, ZoneRecord,
};
use needlewise_core::schedule::{CoursePlan, LastSession, NextSession, course_plan, next_session};
use needlewise_core::screening::{ScreeningResult, screen_with_overrides};
use needlewise_core::triage::{Triage, assess_partial};
use needlewise_core::zone::Zone;
use needlewise_store::clinic::ClinicAccess;
use needlewise_store::{Store, StoreError};
use uuid::Uuid;

/// Where and when an action runs: the store, and the moment in the
/// person's own zone (their "today").
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub now: &'a ZonedDateTime,
}

impl Ctx<'_> {
    pub fn at(&self) -> Timestamp {
        self.now.timestamp()
    }

    pub fn today(&self) -> Date {
        self.now.date()
    }

    /// A moment as a date in the person's zone.
    pub fn date_of(&self, t: Timestamp) -> Date {
        needlewise_core::schedule::local_date(t, self.now)
    }
}

/// Why an action did not happen. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The answers have problems, each naming its field.
    #[error("{0}")]
    Answers(#[from] InvalidAnswers),
    /// Other input is wrong; the message names the field and the fix.
    #[error("{0}")]
    BadInput(String),
    /// The safety gate says no; the reasons say why, with their sources.
    #[error("{message}")]
    Refused {
        message: String,
        reasons: Vec<Reason>,
    },
    /// Someone else took it first (a slot booked meanwhile); the message
    /// says so in plain words. Nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// The thing asked about is not the person's, or does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Someone who may not do this asked.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Hygiene(#[from] HygieneError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The profile has made as many of these today as anyone could need
    /// (see [`DailyLimits`]); the message says when to try again.
    #[error("{0}")]
    TooMany(String),
}

/// How many records of each kind one profile may create in one day of its
/// own zone. Far above real use (a person checks in a few times a day at
/// most) and low enough that nobody can fill the server's memory and disk
/// through their own record.
#[derive(Debug, Clone, Copy)]
pub struct DailyLimits;

impl DailyLimits {
    pub const CHECKINS: usize = 24;
    pub const SESSIONS: usize = 6;
    pub const READINESS_CHECKS: usize = 48;
    pub const RATINGS: usize = 100;
    /// Roller and pen registrations, in all (not per day).
    pub const DEVICES: usize = 50;
}

/// Refuses one more record when `times` already holds `max` from today.
fn within_daily_limit(
    ctx: Ctx<'_>,
    what: &str,
    times: impl Iterator<Item = Timestamp>,
    max: usize,
) -> Result<()> {
    let today = ctx.today();
    if times.filter(|t| ctx.date_of(*t) == today).count() >= max {
        return Err(ActionError::TooMany(format!(
            "{what}: at most {max} a day, and today's are used; try again tomorrow. If something is wrong with your skin, contact your facial plastic surgeon."
        )));
    }
    Ok(())
}

pub type Result<T, E = ActionError> = std::result::Result<T, E>;

/// What makes a request that stores a record safe to send twice: a front
/// end renders a fresh key into each form (or a client makes one), and the
/// record the action stores takes it as its id. The same request sent again
/// (a double click, a resubmitted form, a retried call) finds that record
/// and gets the first result back; nothing is stored twice. Keys are
/// scoped by the profile, as every record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKey(pub Uuid);

impl RequestKey {
    /// A new key (time-ordered, like every id the store keeps).
    pub fn fresh() -> RequestKey {
        RequestKey(Uuid::now_v7())
    }

    /// A key as a form or a client sent it; `None` unless it is a UUID.
    pub fn parse(text: &str) -> Option<RequestKey> {
        Uuid::parse_str(text.trim()).ok().map(RequestKey)
    }
}

impl std::fmt::Display for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The id a keyed request's record takes.
fn id_for(key: Option<RequestKey>) -> Uuid {
    key.map_or_else(Uuid::now_v7, |k| k.0)
}

fn base() -> &'static EvidenceBase {
    evidence()
}

/// Creates the profile in the store if it is not there yet (the command
/// line's profiles come into being with their first write). Called only
/// once every check of an action has passed.
fn ensure_profile(store: &dyn Store, profile: &Profile) -> Result<()> {
    if store.profile(profile.id)?.is_none() {
        store.create_profile(profile)?;
    }
    Ok(())
}

// ----------------------------------------------------------------- screening

/// Screens the answers, with a clinician's overrides in force, and stores
/// the result. Incomplete answers are refused and nothing is stored.
pub fn screen(ctx: Ctx<'_>, profile: &Profile, answers: Answers) -> Result<ScreeningResult> {
    screen_keyed(ctx, profile, None, answers)
}

/// [`screen`], once per [`RequestKey`]: the same key again returns the
/// stored result while it is the latest screening.
pub fn screen_keyed(
    ctx: Ctx<'_>,
    profile: &Profile,
    key: Option<RequestKey>,
    answers: Answers,
) -> Result<ScreeningResult> {
    if let Some(key) = key
        && let Some(latest) = ctx.store.latest_screening(profile.id)?
        && latest.id.0 == key.0
    {
        return Ok(latest.result);
    }
    let overrides = ctx.store.active_overrides(profile.id)?;
    let result = screen_with_overrides(base(), &answers, ctx.today(), &overrides)?;
    let record = ScreeningRecord {
        id: ScreeningId(id_for(key)),
        profile_id: profile.id,
        taken_at: ctx.at(),
        answers,
        verdict: result.verdict,
        result: result.clone(),
    };
    ensure_profile(ctx.store, profile)?;
    ctx.store.save_screening(&record)?;
    Ok(result)
}

// ------------------------------------------------------------------- devices

/// Registering a radiofrequency (RF) microneedling device is refused: RF
/// microneedling is never for home use. The refusal carries the screening
/// rule that says why, with its sources.
pub fn radiofrequency_refused() -> ActionError {
    let reasons: Vec<Reason> = base()
        .screening
        .rule("screen.device.rf")
        .map(|rule| {
            Reason::from(&needlewise_core::engine::Firing {
                rule,
                hit: Default::default(),
            })
        })
        .into_iter()
        .collect();
    let why = reasons.first().map_or(
        "RF microneedling is a medical procedure, never for home use.",
        |r| r.explanation.as_str(),
    );
    ActionError::Refused {
        message: format!(
            "needlewise does not track radiofrequency (RF) microneedling devices: {why}"
        ),
        reasons,
    }
}

/// What a person registers: a name and a roller's or pen's spec.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDevice {
    pub name: String,
    pub kind: DeviceKind,
}

impl NewDevice {
    /// A standard roller (192 needles) or a pen with 12-needle cartridges.
    pub fn simple(name: &str, pen: bool, needle_length_mm: f64) -> NewDevice {
        let kind = if pen {
            DeviceKind::Pen(needlewise_core::hygiene::PenSpec {
                needles_per_cartridge: 12,
                needle_length_mm,
            })
        } else {
            DeviceKind::Roller(needlewise_core::hygiene::RollerSpec::standard_192(
                needle_length_mm,
            ))
        };
        NewDevice {
            name: name.to_owned(),
            kind,
        }
    }
}

/// Registers a roller or pen; names are unique within a profile.
pub fn register_device(ctx: Ctx<'_>, profile: &Profile, new: NewDevice) -> Result<Device> {
    let device = Device::new(
        DeviceId(Uuid::now_v7()),
        profile.id,
        new.name.trim().to_owned(),
        new.kind,
        ctx.at(),
    )?;
    let devices = ctx.store.devices(profile.id)?;
    if devices
        .iter()
        .any(|d| d.name.eq_ignore_ascii_case(&device.name))
    {
        return Err(ActionError::BadInput(format!(
            "name: you already have a device called {:?}",
            device.name
        )));
    }
    if devices.len() >= DailyLimits::DEVICES {
        return Err(ActionError::TooMany(format!(
            "devices: at most {} rollers and pens in all; retired ones count too",
            DailyLimits::DEVICES
        )));
    }
    ensure_profile(ctx.store, profile)?;
    ctx.store.add_device(&device)?;
    Ok(device)
}

/// One step of the cleaning cycle (or damage, retirement), at `at` (the
/// present moment unless the person says when it happened, never later).
pub fn device_step(
    ctx: Ctx<'_>,
    profile: ProfileId,
    device: DeviceId,
    event: &HygieneEvent,
    at: Option<Timestamp>,
) -> Result<Device> {
    let at = at.unwrap_or(ctx.at());
    if at > ctx.at() {
        return Err(ActionError::BadInput(
            "the time given is in the future".into(),
        ));
    }
    let current = ctx
        .store
        .device(profile, device)?
        .ok_or_else(|| ActionError::NotFound(format!("device {device}")))?;
    let next = current.apply(event, at, &base().defaults.hygiene)?;
    ctx.store.record_hygiene(&next, event)?;
    Ok(next)
}

// ----------------------------------------------------------------- readiness

/// Everything the store knows for a readiness decision about one device.
#[derive(Debug, Clone)]
struct Loaded {
    screening: Option<ScreeningResult>,
    devices: Vec<Device>,
    device: Option<Device>,
    sessions: Vec<SessionRecord>,
    locked: bool,
    protocol: Option<Protocol>,
}

impl Loaded {
    fn read(store: &dyn Store, profile: ProfileId, wanted: Option<DeviceId>) -> Result<Loaded> {
        let screening = store.latest_screening(profile)?.map(|s| s.result);
        let devices = store.devices(profile)?;
        let device = match wanted {
            Some(id) => Some(
                devices
                    .iter()
                    .find(|d| d.id == id)
                    .cloned()
                    .ok_or_else(|| ActionError::NotFound(format!("device {id}")))?,
            ),
            None => choose(&devices, screening.as_ref().map(|s| s.needle_length_mm)),
        };
        let protocol = store.active_protocol(profile)?;
        // The facts need the last session, and a protocol's course counts
        // the sessions since it was prescribed.
        let sessions = match protocol {
            Some(_) => store.sessions(profile)?,
            None => store.last_session(profile)?.into_iter().collect(),
        };
        Ok(Loaded {
            screening,
            devices,
            device,
            sessions,
            locked: !store.open_episodes(profile)?.is_empty(),
            protocol,
        })
    }

    fn facts(&self, now: &ZonedDateTime) -> ReadinessFacts {
        ReadinessFacts::at(
            base(),
            &Known {
                screening: self.screening.as_ref(),
                device: self.device.as_ref(),
                sessions: &self.sessions,
                locked: self.locked,
                protocol: self.protocol.as_ref(),
            },
            now,
        )
    }
}

/// The device a check is for when none is named: a ready one whose needle
/// the screening covers, else any ready one, else the first in service.
fn choose(devices: &[Device], screened_mm: Option<f64>) -> Option<Device> {
    let rules = &base().defaults.hygiene;
    let fits = |d: &Device| screened_mm.is_none_or(|mm| d.kind.needle_length_mm() <= mm + 1e-9);
    let live = || devices.iter().filter(|d| d.state != HygieneState::Retired);
    live()
        .find(|d| d.is_ready(rules) && fits(d))
        .or_else(|| live().find(|d| d.is_ready(rules)))
        .or_else(|| live().next())
        .cloned()
}

/// Readiness as every path shows it: the device, the facts, the answered
/// check whose go still holds (if any) and the verdict at this moment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadinessView {
    #[serde(skip)]
    pub device: Option<Device>,
    pub device_id: Option<DeviceId>,
    /// The check the verdict rests on: the newest for this device, taken
    /// within the time its go holds.
    pub check: Option<ReadinessCheckId>,
    pub checked_at: Option<Timestamp>,
    /// Today's questions still need answers (no check holds).
    pub needs_answers: bool,
    pub readiness: Readiness,
    #[serde(skip)]
    pub facts: ReadinessFacts,
    #[serde(skip)]
    pub protocol: Option<Protocol>,
    #[serde(skip)]
    pub screening: Option<ScreeningResult>,
    #[serde(skip)]
    pub devices: Vec<Device>,
}

fn valid_for() -> SignedDuration {
    base().defaults.readiness_check.valid_for.0
}

/// The verdict at `at` for the device, from a stored check's answers and
/// the facts at that moment; `None` when no check holds then.
fn verdict_at(
    store: &dyn Store,
    profile: ProfileId,
    loaded: &Loaded,
    at: &ZonedDateTime,
) -> Result<Option<(ReadinessCheckRecord, Readiness)>> {
    let check = match &loaded.device {
        Some(device) => store.latest_readiness_check(profile, device.id, at.timestamp())?,
        // No device at all (none registered): the newest check taken
        // without one. It can never say go, but every path shows it alike.
        None => store
            .readiness_checks(profile)?
            .into_iter()
            .find(|c| c.device_id.is_none() && c.at <= at.timestamp()),
    };
    let Some(check) = check else {
        return Ok(None);
    };
    if at.timestamp().duration_since(check.at) > valid_for() {
        return Ok(None);
    }
    let readiness = readiness::check(base(), &check.answers, &loaded.facts(at), at.date())?;
    Ok(Some((check, readiness)))
}

/// Readiness now, without new answers: what the dashboard, the guided
/// session, `GET /api/ready` and `needlewise ready --json` (after its
/// check) all show. Without a check that holds, the facts' own no-go
/// reasons are shown and the verdict is "answer today's questions".
pub fn readiness_now(
    ctx: Ctx<'_>,
    profile: ProfileId,
    device: Option<DeviceId>,
) -> Result<ReadinessView> {
    let loaded = Loaded::read(ctx.store, profile, device)?;
    let facts = loaded.facts(ctx.now);
    let held = verdict_at(ctx.store, profile, &loaded, ctx.now)?;
    let (check, readiness) = match held {
        Some((check, r)) => (Some(check), r),
        None => (None, facts_only(&facts, ctx.today())),
    };
    Ok(ReadinessView {
        device_id: loaded.device.as_ref().map(|d| d.id),
        check: check.as_ref().map(|c| c.id),
        checked_at: check.as_ref().map(|c| c.at),
        needs_answers: check.is_none(),
        readiness,
        facts,
        protocol: loaded.protocol,
        screening: loaded.screening,
        device: loaded.device,
        devices: loaded.devices,
    })
}

/// The verdict before today's questions are answered: never a go.
fn facts_only(facts: &ReadinessFacts, today: Date) -> Readiness {
    let reasons = readiness::fact_reasons(base(), facts, today);
    let headline = if reasons.is_empty() {
        "Answer today's questions to check that you are ready.".to_owned()
    } else {
        "Not today. The reasons are below.".to_owned()
    };
    Readiness {
        go: false,
        headline,
        zones: Vec::new(),
        skipped_zones: Vec::new(),
        reasons,
    }
}

/// A readiness check answered now for a device (the chosen one when none
/// is named): the gate's decision, stored go or not, so a home session
/// can rest on it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub check: ReadinessCheckRecord,
    pub readiness: Readiness,
    pub device: Option<Device>,
}

pub fn check_readiness(
    ctx: Ctx<'_>,
    profile: &Profile,
    device: Option<DeviceId>,
    answers: Answers,
) -> Result<Checked> {
    check_readiness_keyed(ctx, profile, None, device, answers)
}

/// [`check_readiness`], once per [`RequestKey`]: the same key again
/// stores nothing and returns that check as [`readiness_check`] shows it.
pub fn check_readiness_keyed(
    ctx: Ctx<'_>,
    profile: &Profile,
    key: Option<RequestKey>,
    device: Option<DeviceId>,
    answers: Answers,
) -> Result<Checked> {
    if let Some(key) = key {
        match readiness_check(ctx, profile.id, ReadinessCheckId(key.0)) {
            Ok(first) => {
                return Ok(Checked {
                    check: first.check,
                    readiness: first.readiness,
                    device: first.device,
                });
            }
            Err(ActionError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let loaded = Loaded::read(ctx.store, profile.id, device)?;
    let readiness = readiness::check(base(), &answers, &loaded.facts(ctx.now), ctx.today())?;
    let check = ReadinessCheckRecord {
        id: ReadinessCheckId(id_for(key)),
        profile_id: profile.id,
        device_id: loaded.device.as_ref().map(|d| d.id),
        at: ctx.at(),
        answers,
        go: readiness.go,
        rule_ids: readiness
            .reasons
            .iter()
            .map(|r| r.rule_id.clone())
            .collect(),
    };
    ensure_profile(ctx.store, profile)?;
    within_daily_limit(
        ctx,
        "readiness checks",
        ctx.store.readiness_checks(profile.id)?.iter().map(|c| c.at),
        DailyLimits::READINESS_CHECKS,
    )?;
    match ctx.store.save_readiness_check(&check) {
        // The same key, sent twice at once: the other one stored it.
        Err(StoreError::Conflict { .. }) if key.is_some() => {
            let first = readiness_check(ctx, profile.id, check.id)?;
            return Ok(Checked {
                check: first.check,
                readiness: first.readiness,
                device: first.device,
            });
        }
        saved => saved?,
    }
    Ok(Checked {
        check,
        readiness,
        device: loaded.device,
    })
}

/// A stored readiness check shown again (the page a form redirects to).
#[derive(Debug, Clone)]
pub struct CheckShown {
    pub check: ReadinessCheckRecord,
    /// While the check holds (the newest for its device, within
    /// `readiness_check.valid_for`), the verdict now, as every path shows
    /// it; afterwards, the stored go or no-go and the rules that fired.
    pub readiness: Readiness,
    pub holds: bool,
    pub device: Option<Device>,
}

/// One of the profile's readiness checks (not found otherwise), as
/// [`CheckShown`] describes.
pub fn readiness_check(
    ctx: Ctx<'_>,
    profile: ProfileId,
    id: ReadinessCheckId,
) -> Result<CheckShown> {
    let check = ctx
        .store
        .readiness_checks(profile)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ActionError::NotFound(format!("readiness check {id}")))?;
    // The device it was for (none: none was registered then). A device
    // chosen now instead is another device's verdict.
    let loaded = Loaded::read(ctx.store, profile, check.device_id)
        .ok()
        .filter(|l| l.device.as_ref().map(|d| d.id) == check.device_id);
    if let Some(loaded) = &loaded
        && let Some((held, readiness)) = verdict_at(ctx.store, profile, loaded, ctx.now)?
        && held.id == check.id
    {
        return Ok(CheckShown {
            check,
            readiness,
            holds: true,
            device: loaded.device.clone(),
        });
    }
    let reasons: Vec<Reason> = check
        .rule_ids
        .iter()
        .filter_map(|id| base().readiness.rule(id))
        .map(|rule| stored_reason(base(), rule))
        .collect();
    let headline = if check.go {
        "It said go when you answered it; it no longer holds.".to_owned()
    } else {
        "Not then. The reasons are below.".to_owned()
    };
    Ok(CheckShown {
        readiness: Readiness {
            go: check.go,
            headline,
            zones: Vec::new(),
            skipped_zones: Vec::new(),
            reasons,
        },
        check,
        holds: false,
        device: loaded.and_then(|l| l.device),
    })
}

/// A rule that fired, as a reason, from its stored id alone (without the
/// end date or zones of the moment it fired).
fn stored_reason(base: &EvidenceBase, rule: &needlewise_core::evidence::Rule) -> Reason {
    Reason {
        rule_id: rule.id.clone(),
        title: rule.title.clone(),
        outcome: rule.outcome,
        explanation: rule.explanation.clone(),
        grade: rule.grade,
        sources: needlewise_core::evidence::rule_sources(base, rule)
            .into_iter()
            .map(needlewise_core::engine::SourceRef::from)
            .collect(),
        until: None,
        zones: Vec::new(),
    }
}

// ------------------------------------------------------------------ sessions

/// Today's guided session: the device, each zone with its sections, or
/// why there is none (the same verdict as [`readiness_now`]).
#[derive(Debug, Clone)]
pub struct Plan {
    pub view: ReadinessView,
    pub zones: Vec<(Zone, Vec<Section>)>,
}

impl Plan {
    pub fn allowed(&self) -> bool {
        self.view.readiness.go && self.view.device.is_some() && !self.zones.is_empty()
    }
}

pub fn plan_today(ctx: Ctx<'_>, profile: ProfileId, device: Option<DeviceId>) -> Result<Plan> {
    let view = readiness_now(ctx, profile, device)?;
    let zones = match (&view.device, view.readiness.go) {
        (Some(d), true) => view
            .readiness
            .zones
            .iter()
            .map(|z| {
                (
                    *z,
                    guide::sections_at(
                        &d.kind,
                        *z,
                        None,
                        view.protocol.as_ref().map(|p| p.target_density_per_cm2),
                    ),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Plan { view, zones })
}

/// The plan a finished home session is recorded against: today's plan
/// now, or, when the check it rests on has lapsed while the session ran,
/// the plan at the moment of that check ([`log_session`] then checks that
/// the session began within the time the check holds). A session done in
/// time is never lost to a slow finish.
pub fn plan_for_record(ctx: Ctx<'_>, profile: ProfileId, device: DeviceId) -> Result<Plan> {
    let now = plan_today(ctx, profile, Some(device))?;
    if now.allowed() {
        return Ok(now);
    }
    match ctx
        .store
        .latest_readiness_check(profile, device, ctx.at())?
        .filter(|c| c.go)
    {
        Some(check) => {
            let then = check.at.to_zoned_datetime(ctx.now.time_zone().clone());
            plan_today(
                Ctx {
                    store: ctx.store,
                    now: &then,
                },
                profile,
                Some(device),
            )
        }
        None => Ok(now),
    }
}

/// A session to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// An id the client chose, so that sending the same session again (a
    /// phone replaying a session it kept while offline, a resubmitted form)
    /// stores it once: when this profile already has a session with this
    /// id, that session is the answer and nothing is written. `None`: a
    /// new id.
    pub id: Option<SessionId>,
    pub setting: SessionSetting,
    /// The device used; required at home.
    pub device: Option<DeviceId>,
    /// When it started; at home, left out, it is taken as the later of
    /// "now minus `ran_for`" (or minus the zones' time) and the check it
    /// rests on.
    pub started_at: Option<Timestamp>,
    /// How long ago the session started, by the client's own clock (the
    /// time between its start and the sending of its form, which a phone
    /// may send hours later after being offline): an estimate of the
    /// start that no clock difference between phone and server spoils.
    pub ran_for: Option<SignedDuration>,
    pub zones: Vec<ZoneRecord>,
    /// Products applied afterwards, each as a name, a colon and its
    /// ingredients (see `ProductLabel`); each passes the serum gate.
    pub products: Vec<String>,
    pub notes: String,
    /// The needle length of a clinic session without a registered device.
    pub needle_length_mm: Option<f64>,
}

/// The most time one zone may record, and the most strokes.
pub const MAX_ZONE_SECONDS: u32 = 3600;
pub const MAX_ZONE_STROKES: u32 = 10_000;
pub const MAX_PRODUCTS: usize = 10;
pub const MAX_PRODUCT_CHARS: usize = 1000;
pub const MAX_NOTE_CHARS: usize = 500;

fn check_session_input(new: &NewSession) -> Result<()> {
    if new.zones.is_empty() {
        return Err(ActionError::BadInput(
            "zones: name at least one zone you treated".into(),
        ));
    }
    for (i, z) in new.zones.iter().enumerate() {
        if new.zones[..i].iter().any(|o| o.zone == z.zone) {
            return Err(ActionError::BadInput(format!(
                "zones: {} is listed twice",
                z.zone
            )));
        }
        if z.seconds > MAX_ZONE_SECONDS {
            return Err(ActionError::BadInput(format!(
                "zones: at most {MAX_ZONE_SECONDS} seconds a zone"
            )));
        }
        if z.strokes.is_some_and(|n| n > MAX_ZONE_STROKES) {
            return Err(ActionError::BadInput(format!(
                "zones: at most {MAX_ZONE_STROKES} strokes a zone"
            )));
        }
    }
    if new.products.len() > MAX_PRODUCTS {
        return Err(ActionError::BadInput(format!(
            "product: at most {MAX_PRODUCTS} products"
        )));
    }
    if new
        .products
        .iter()
        .any(|p| p.trim().is_empty() || p.chars().count() > MAX_PRODUCT_CHARS)
    {
        return Err(ActionError::BadInput(format!(
            "product: each name is 1 to {MAX_PRODUCT_CHARS} characters"
        )));
    }
    if new.notes.chars().count() > MAX_NOTE_CHARS {
        return Err(ActionError::BadInput(format!(
            "notes: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(())
}

/// Records a session. At home it must rest on a readiness check for that
/// device that said go and still says go at the session's start (its
/// answers with the facts at that moment), and only the zones that check
/// allows may be recorded; the device's use is stored with it. A clinic
/// session is recorded as such, without the home gate, and counts for the
/// interval and the course all the same.
pub fn log_session(ctx: Ctx<'_>, profile: &Profile, new: NewSession) -> Result<SessionRecord> {
    check_session_input(&new)?;
    let total = SignedDuration::from_secs(new.zones.iter().map(|z| i64::from(z.seconds)).sum());
    if new.started_at.is_some_and(|t| t > ctx.at()) {
        return Err(ActionError::BadInput(
            "started_at: the session cannot start in the future".into(),
        ));
    }
    // Sent before: the first answer stands (before any check, which the
    // session itself has since changed: its roller is now used).
    if let Some(id) = new.id
        && let Some(done) = ctx.store.session(profile.id, id)?
    {
        return Ok(done);
    }
    let loaded = Loaded::read(ctx.store, profile.id, new.device)?;
    let (started_at, device, check_id, needle) = match new.setting {
        SessionSetting::Home => {
            let Some(device) = loaded.device.clone() else {
                return Err(ActionError::BadInput(
                    "device: a home session needs the roller or pen it was done with".into(),
                ));
            };
            let guess = ctx
                .at()
                .checked_sub(new.ran_for.filter(|d| !d.is_negative()).unwrap_or(total))
                .unwrap_or(ctx.at());
            let start = match new.started_at {
                Some(t) => t,
                // Left out: the session began no earlier than the check it
                // rests on.
                None => ctx
                    .store
                    .latest_readiness_check(profile.id, device.id, ctx.at())?
                    .map_or(guess, |c| guess.max(c.at)),
            };
            let zoned_start = start.to_zoned_datetime(ctx.now.time_zone().clone());
            let Some((check, readiness)) =
                verdict_at(ctx.store, profile.id, &loaded, &zoned_start)?
            else {
                return Err(ActionError::Refused {
                    message: format!(
                        "No readiness check said go for {} in the {} before this session started. Run today's readiness check first; a session done in a clinic can be recorded as a clinic session.",
                        device.name,
                        humanise(valid_for())
                    ),
                    reasons: Vec::new(),
                });
            };
            if !readiness.go {
                return Err(ActionError::Refused {
                    message: format!("Not a home session: {}", readiness.headline),
                    reasons: readiness.reasons,
                });
            }
            if let Some(z) = new
                .zones
                .iter()
                .find(|z| !readiness.zones.contains(&z.zone))
            {
                return Err(ActionError::BadInput(format!(
                    "zones: {} is not in today's plan ({})",
                    z.zone,
                    readiness
                        .zones
                        .iter()
                        .map(|z| z.id())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let needle = device.kind.needle_length_mm();
            (start, Some(device), Some(check.id), needle)
        }
        SessionSetting::Clinic => {
            let start = new
                .started_at
                .unwrap_or_else(|| ctx.at().checked_sub(total).unwrap_or(ctx.at()));
            let needle = match (new.needle_length_mm, &loaded.device) {
                (Some(mm), _) => mm,
                (None, Some(d)) if new.device.is_some() => d.kind.needle_length_mm(),
                _ => {
                    return Err(ActionError::BadInput(
                        "needle_length_mm: give the needle length the clinic used".into(),
                    ));
                }
            };
            if !(needle.is_finite() && needle > 0.0 && needle <= 3.0) {
                return Err(ActionError::BadInput(
                    "needle_length_mm: more than 0 and at most 3".into(),
                ));
            }
            let device = new.device.and(loaded.device.clone());
            (start, device, None, needle)
        }
    };
    let mut ended_at = started_at.checked_add(total).unwrap_or(started_at);
    if new.started_at.is_none() {
        // A session recorded as it ends ends now, even when its start was
        // moved up to the check it rests on.
        ended_at = ended_at.min(ctx.at().max(started_at));
    }
    if let Some(last) = loaded.sessions.iter().max_by_key(|s| s.ended_at)
        && started_at < last.ended_at
        && ended_at > last.started_at
    {
        return Err(ActionError::BadInput(
            "started_at: it overlaps a session already recorded".into(),
        ));
    }
    let products = new
        .products
        .iter()
        .map(|name| {
            let at = ctx.at().max(ended_at);
            let d = serum_gate(base(), name, ended_at, at);
            ProductUse {
                name: name.trim().to_owned(),
                category: d.category,
                applied_at: at,
                allowed: d.allowed,
            }
        })
        .collect();
    let mut zones = new.zones;
    zones.sort_by_key(|z| Zone::ALL.iter().position(|a| *a == z.zone));
    let session = SessionRecord {
        id: new.id.unwrap_or_else(|| SessionId(Uuid::now_v7())),
        profile_id: profile.id,
        device_id: device.as_ref().map(|d| d.id),
        started_at,
        ended_at,
        local_date: ctx.date_of(started_at),
        needle_length_mm: needle,
        zones,
        products,
        notes: new.notes,
        setting: new.setting,
        readiness_check_id: check_id,
    };
    let used = match (&device, new.setting) {
        (Some(d), SessionSetting::Home) => Some(d.apply(
            &HygieneEvent::Use,
            ended_at.max(d.updated_at),
            &base().defaults.hygiene,
        )?),
        _ => None,
    };
    ensure_profile(ctx.store, profile)?;
    within_daily_limit(
        ctx,
        "sessions",
        loaded.sessions.iter().map(|s| s.started_at),
        DailyLimits::SESSIONS,
    )?;
    match ctx.store.log_session(&session, used.as_ref()) {
        Ok(()) => Ok(session),
        // The same session sent twice at once: the other one was stored
        // first, and is the answer.
        Err(e @ StoreError::Conflict { .. }) if new.id.is_some() => {
            ctx.store.session(profile.id, session.id)?.ok_or(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn humanise(d: SignedDuration) -> String {
    let minutes = d.as_secs() / 60;
    match minutes {
        m if m % 60 == 0 && m >= 60 => {
            let h = m / 60;
            if h == 1 {
                "hour".into()
            } else {
                format!("{h} hours")
            }
        }
        m => format!("{m} minutes"),
    }
}

// ------------------------------------------------------------------ schedule

/// The earliest next session now: the healing interval in elapsed time,
/// and a prescribed protocol's spacing where it is longer.
pub fn schedule(ctx: Ctx<'_>, profile: ProfileId) -> Result<NextSession> {
    let last = ctx.store.last_session(profile)?;
    let sessions = ctx.store.sessions(profile)?;
    let newest = sessions
        .iter()
        .max_by_key(|s| (s.ended_at, s.id))
        .or(last.as_ref());
    let locked = !ctx.store.open_episodes(profile)?.is_empty();
    let next = next_session(base(), newest.map(LastSession::from), locked, ctx.now);
    Ok(match ctx.store.active_protocol(profile)? {
        Some(p) => p.apply_to(next, ctx.now),
        None => next,
    })
}

/// The course as it stands now: only sessions at or before now count.
/// `None` before anything says which needle (no session, no screening).
pub fn course(ctx: Ctx<'_>, profile: ProfileId) -> Result<Option<CoursePlan>> {
    let sessions = ctx.store.sessions(profile)?;
    let needle = match sessions.iter().max_by_key(|s| (s.ended_at, s.id)) {
        Some(s) => Some(s.needle_length_mm),
        None => ctx
            .store
            .latest_screening(profile)?
            .map(|s| s.result.needle_length_mm),
    };
    Ok(needle.map(|mm| course_plan(base(), &sessions, mm, ctx.now)))
}

/// The person's calendar now (session days, check-ins, device reminders).
pub fn calendar(
    ctx: Ctx<'_>,
    profile: &Profile,
) -> Result<needlewise_core::calendar::CalendarModel> {
    let sessions = ctx.store.sessions(profile.id)?;
    let locked = !ctx.store.open_episodes(profile.id)?.is_empty();
    let devices = ctx.store.devices(profile.id)?;
    let appointments: Vec<(needlewise_core::appointment::Appointment, String)> = ctx
        .store
        .patient_appointments(profile.id)?
        .into_iter()
        .map(|v| (v.appointment, v.clinic_name))
        .collect();
    Ok(needlewise_core::calendar::build(
        base(),
        &needlewise_core::calendar::CalendarFacts {
            profile: profile.id,
            profile_name: &profile.name,
            sessions: &sessions,
            locked,
            devices: &devices,
            appointments: &appointments,
        },
        ctx.now,
    ))
}

/// Puts a product through the serum gate for the last session; an allowed
/// one is recorded as applied (unless `dry_run`). `None` before the first
/// session.
pub fn aftercare_product(
    ctx: Ctx<'_>,
    profile: ProfileId,
    name: &str,
    dry_run: bool,
) -> Result<Option<(SessionRecord, needlewise_core::aftercare::GateDecision)>> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_PRODUCT_CHARS {
        return Err(ActionError::BadInput(format!(
            "product: a product (its name, a colon, then its ingredients) is 1 to {MAX_PRODUCT_CHARS} characters"
        )));
    }
    let Some(session) = ctx.store.last_session(profile)? else {
        return Ok(None);
    };
    let decision = serum_gate(base(), name, session.ended_at, ctx.at());
    if decision.allowed && !dry_run {
        ctx.store.add_product_use(
            profile,
            session.id,
            &ProductUse {
                name: name.to_owned(),
                category: decision.category.clone(),
                applied_at: ctx.at(),
                allowed: true,
            },
        )?;
    }
    Ok(Some((session, decision)))
}

// ------------------------------------------------------------------ check-ins

/// A stored check-in and what it means.
#[derive(Debug, Clone)]
pub struct CheckedIn {
    pub record: CheckinRecord,
    pub triage: Triage,
    pub episode: Option<Episode>,
}

/// Triages a check-in about the last session and stores it; a red flag
/// opens an episode, which locks every session path. An answer that on
/// its own calls for the surgeon or urgent care counts even with other
/// answers missing: the check-in is stored as partial and
/// [`Triage::missing`] lists what to ask next.
pub fn checkin(ctx: Ctx<'_>, profile: &Profile, answers: Answers) -> Result<CheckedIn> {
    checkin_keyed(ctx, profile, None, answers)
}

/// [`checkin`], once per [`RequestKey`]: the same key again stores
/// nothing and returns the first check-in as [`checkin_result`] shows it.
pub fn checkin_keyed(
    ctx: Ctx<'_>,
    profile: &Profile,
    key: Option<RequestKey>,
    answers: Answers,
) -> Result<CheckedIn> {
    let earlier = ctx.store.checkins(profile.id)?;
    if let Some(key) = key
        && let Some(first) = earlier.iter().find(|c| c.id.0 == key.0)
    {
        return shown(ctx, profile.id, first, &earlier);
    }
    let session = ctx.store.last_session(profile.id)?.ok_or_else(|| {
        ActionError::BadInput("no session to check in about yet; log one first".into())
    })?;
    within_daily_limit(
        ctx,
        "check-ins",
        earlier.iter().map(|c| c.at),
        DailyLimits::CHECKINS,
    )?;
    let given = with_checkin_facts(ctx, &earlier, &session, &answers);
    let triage = assess_partial(base(), &given, session.ended_at, ctx.at(), ctx.today())?;
    let record = checkin_record(ctx, profile.id, key, &session, answers, &triage);
    let episode = triage.locks_sessions.then(|| Episode {
        id: EpisodeId(Uuid::now_v7()),
        profile_id: profile.id,
        checkin_id: record.id,
        level: triage.level,
        opened_at: ctx.at(),
        resolved_at: None,
        resolution: String::new(),
        resolver: None,
    });
    match ctx.store.save_checkin(&record, episode.as_ref()) {
        // The same key, sent twice at once: the other one stored it.
        Err(StoreError::Conflict { .. }) if key.is_some() => {
            return checkin_result(ctx, profile.id, record.id);
        }
        saved => saved?,
    }
    Ok(CheckedIn {
        record,
        triage,
        episode,
    })
}

/// One of the profile's check-ins (not found otherwise) as it was triaged:
/// its answers assessed again at its own moment (the core reads no clock,
/// so this is the triage it got), or, should the rules have changed since,
/// its stored level and the rules that fired.
pub fn checkin_result(ctx: Ctx<'_>, profile: ProfileId, id: CheckinId) -> Result<CheckedIn> {
    let all = ctx.store.checkins(profile)?;
    let record = all
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ActionError::NotFound(format!("check-in {id}")))?;
    shown(ctx, profile, record, &all)
}

fn shown(
    ctx: Ctx<'_>,
    profile: ProfileId,
    record: &CheckinRecord,
    all: &[CheckinRecord],
) -> Result<CheckedIn> {
    let session = match record.session_id {
        Some(s) => ctx.store.session(profile, s)?,
        None => None,
    };
    let again = session.and_then(|session| {
        let mut given = record.answers.clone();
        given.set(
            "earlier_checkin",
            Answer::Bool(all.iter().any(|c| {
                c.id != record.id && c.session_id == Some(session.id) && c.at <= record.at
            })),
        );
        assess_partial(
            base(),
            &given,
            session.ended_at,
            record.at,
            ctx.date_of(record.at),
        )
        .ok()
    });
    let triage = match again {
        Some(t) if t.level == record.level => t,
        _ => Triage {
            level: record.level,
            headline: record.level.headline(),
            locks_sessions: record.level.locks_sessions(),
            hours_since_session: 0.0,
            reasons: record
                .rule_ids
                .iter()
                .filter_map(|id| base().checkin.rule(id))
                .map(|rule| stored_reason(base(), rule))
                .collect(),
            missing: Vec::new(),
        },
    };
    let episode = ctx
        .store
        .episodes(profile)?
        .into_iter()
        .find(|e| e.checkin_id == record.id);
    Ok(CheckedIn {
        record: record.clone(),
        triage,
        episode,
    })
}

/// The facts today's check-in questions depend on (see
/// [`needlewise_core::triage::checkin_facts`]), so a front end asks what
/// [`checkin`] will require. `None` before the first session.
pub fn checkin_facts(ctx: Ctx<'_>, profile: ProfileId) -> Result<Option<Answers>> {
    let Some(session) = ctx.store.last_session(profile)? else {
        return Ok(None);
    };
    let earlier = earlier_checkin(ctx, &ctx.store.checkins(profile)?, &session);
    Ok(Some(needlewise_core::triage::checkin_facts(
        session.ended_at,
        ctx.at(),
        earlier,
    )))
}

/// Whether `checkins` holds one about `session` taken by now.
fn earlier_checkin(ctx: Ctx<'_>, checkins: &[CheckinRecord], session: &SessionRecord) -> bool {
    checkins
        .iter()
        .any(|c| c.session_id == Some(session.id) && c.at <= ctx.at())
}

/// The person's answers with the store's facts added for triage (the
/// stored check-in keeps the answers as given).
fn with_checkin_facts(
    ctx: Ctx<'_>,
    checkins: &[CheckinRecord],
    session: &SessionRecord,
    answers: &Answers,
) -> Answers {
    let mut given = answers.clone();
    given.set(
        "earlier_checkin",
        Answer::Bool(earlier_checkin(ctx, checkins, session)),
    );
    given
}

/// A check-in about `session`, as triaged.
fn checkin_record(
    ctx: Ctx<'_>,
    profile: ProfileId,
    key: Option<RequestKey>,
    session: &SessionRecord,
    answers: Answers,
    triage: &Triage,
) -> CheckinRecord {
    CheckinRecord {
        id: CheckinId(id_for(key)),
        profile_id: profile,
        session_id: Some(session.id),
        at: ctx.at(),
        answers,
        level: triage.level,
        rule_ids: triage.reasons.iter().map(|r| r.rule_id.clone()).collect(),
    }
}

/// Who may resolve this person's red flags now.
pub fn who_resolves(ctx: Ctx<'_>, profile: ProfileId) -> Result<ResolvePolicy> {
    let links = ctx.store.patient_clinics(profile)?;
    Ok(resolve_policy(
        links.iter().map(|l| (l.clinic.id, &l.scopes)),
    ))
}

/// What the person states when no clinic sees their check-ins.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorStatement {
    /// Who examined them (a name, or "my GP").
    pub doctor: String,
    pub examined_on: Date,
}

/// How a resolution by the person ended.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// The red flag is resolved; the fresh check-in is stored with it.
    Resolved(CheckedIn),
    /// The fresh check-in still shows a warning sign: it is stored, and
    /// the red flag stays open.
    StillFlagged(CheckedIn),
}

/// Resolves a red flag on the person's word: allowed only when no clinic
/// sees their check-ins. They state which doctor examined them and when
/// (on or after the flag, not in the future), and answer a fresh check-in;
/// only a check-in without a red flag resolves it.
pub fn resolve_by_person(
    ctx: Ctx<'_>,
    profile: &Profile,
    episode: EpisodeId,
    statement: DoctorStatement,
    answers: Answers,
) -> Result<Resolution> {
    resolve_by_person_keyed(ctx, profile, None, episode, statement, answers)
}

/// [`resolve_by_person`], once per [`RequestKey`] (the fresh check-in
/// takes the key): the same key again stores nothing and says how the
/// first one ended.
pub fn resolve_by_person_keyed(
    ctx: Ctx<'_>,
    profile: &Profile,
    key: Option<RequestKey>,
    episode: EpisodeId,
    statement: DoctorStatement,
    answers: Answers,
) -> Result<Resolution> {
    if let Some(key) = key {
        let all = ctx.store.checkins(profile.id)?;
        if let Some(first) = all.iter().find(|c| c.id.0 == key.0) {
            let shown = shown(ctx, profile.id, first, &all)?;
            let resolved = ctx
                .store
                .episodes(profile.id)?
                .iter()
                .any(|e| e.id == episode && e.resolved_at.is_some());
            return Ok(if resolved {
                Resolution::Resolved(shown)
            } else {
                Resolution::StillFlagged(shown)
            });
        }
    }
    if let ResolvePolicy::ClinicianOf(_) = who_resolves(ctx, profile.id)? {
        return Err(ActionError::Forbidden(
            "Your care team sees your check-ins, so a clinician of your clinic resolves this red flag. Please contact them.".into(),
        ));
    }
    let open = ctx
        .store
        .open_episodes(profile.id)?
        .into_iter()
        .find(|e| e.id == episode)
        .ok_or_else(|| ActionError::NotFound(format!("open red flag {episode}")))?;
    let doctor = statement.doctor.trim().to_owned();
    if doctor.chars().count() < 2
        || doctor.chars().count() > 120
        || doctor.chars().any(char::is_control)
    {
        return Err(ActionError::BadInput(
            "doctor: say who examined you (2 to 120 characters)".into(),
        ));
    }
    if statement.examined_on > ctx.today() {
        return Err(ActionError::BadInput(
            "examined_on: the examination cannot be in the future".into(),
        ));
    }
    if statement.examined_on < ctx.date_of(open.opened_at) {
        return Err(ActionError::BadInput(
            "examined_on: the examination must be on or after the day the red flag was raised"
                .into(),
        ));
    }
    let session = ctx
        .store
        .last_session(profile.id)?
        .ok_or_else(|| ActionError::BadInput("no session to check in about yet".into()))?;
    let given = with_checkin_facts(ctx, &ctx.store.checkins(profile.id)?, &session, &answers);
    let triage =
        needlewise_core::triage::assess(base(), &given, session.ended_at, ctx.at(), ctx.today())?;
    if triage.locks_sessions {
        // The red flag stays; the fresh answers count like any check-in.
        return Ok(Resolution::StillFlagged(checkin_keyed(
            ctx, profile, key, answers,
        )?));
    }
    let record = checkin_record(ctx, profile.id, key, &session, answers, &triage);
    let resolver = Resolver::DoctorExamined {
        doctor: doctor.clone(),
        examined_on: statement.examined_on,
        checkin_id: record.id,
    };
    let note = format!(
        "Examined by {doctor} on {}; a fresh check-in showed no warning sign.",
        statement.examined_on
    );
    ctx.store.resolve_episode(
        profile.id,
        episode,
        ctx.at(),
        &note,
        &resolver,
        Some(&record),
    )?;
    Ok(Resolution::Resolved(CheckedIn {
        record,
        triage,
        episode: None,
    }))
}

/// Resolves a red flag as a clinician of a clinic that sees the patient's
/// check-ins (the store checks membership, role and consent in the same
/// transaction and logs it for the patient).
pub fn resolve_by_clinician(
    ctx: Ctx<'_>,
    by: &ClinicAccess,
    profile: ProfileId,
    episode: EpisodeId,
    note: &str,
) -> Result<()> {
    let note = note.trim();
    if note.chars().count() < 3 || note.chars().count() > 500 {
        return Err(ActionError::BadInput(
            "note: say what you advised (3 to 500 characters)".into(),
        ));
    }
    ctx.store
        .resolve_flag(by, profile, episode, note, ctx.at())?;
    Ok(())
}

// ------------------------------------------------------------------ progress

/// The most characters a rating's note may have.
pub const MAX_RATING_NOTE_CHARS: usize = 500;

/// Stores a self-rating of one concern in one zone, now (self-reported,
/// never a diagnosis).
pub fn rate(
    ctx: Ctx<'_>,
    profile: ProfileId,
    zone: Zone,
    concern: needlewise_core::progress::Concern,
    score: needlewise_core::progress::Score,
    note: &str,
) -> Result<needlewise_core::progress::Rating> {
    let note = note.trim();
    if note.chars().count() > MAX_RATING_NOTE_CHARS {
        return Err(ActionError::BadInput(format!(
            "note: at most {MAX_RATING_NOTE_CHARS} characters"
        )));
    }
    let rating = needlewise_core::progress::Rating {
        profile_id: profile,
        id: needlewise_core::ids::RatingId(Uuid::now_v7()),
        zone,
        concern,
        score,
        rated_at: ctx.at(),
        note: note.to_owned(),
    };
    within_daily_limit(
        ctx,
        "ratings",
        ctx.store.ratings(profile)?.iter().map(|r| r.rated_at),
        DailyLimits::RATINGS,
    )?;
    ctx.store.add_rating(&rating)?;
    Ok(rating)
}

// -------------------------------------------------------------------- clinic

/// Shares one scope of the person's record with a clinic they joined, or
/// stops sharing it; it holds from the next read.
pub fn share(
    ctx: Ctx<'_>,
    profile: ProfileId,
    clinic: ClinicId,
    scope: Scope,
    granted: bool,
) -> Result<()> {
    ctx.store
        .set_consent(profile, clinic, scope, granted, ctx.at())?;
    Ok(())
}

/// A protocol as a clinician prescribes it, parsed at the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Prescription {
    pub needle_length_mm: f64,
    pub zones: BTreeSet<Zone>,
    pub interval_days: u32,
    pub course_sessions: u32,
    pub target_density_per_cm2: f64,
    pub note: String,
}

/// Prescribes a protocol for a patient who shares their sessions with the
/// clinic (the store checks membership, role and consent in the same
/// transaction). Each field out of range is an [`ActionError::Answers`]
/// entry naming it; nothing is stored then.
pub fn prescribe(
    ctx: Ctx<'_>,
    by: &ClinicAccess,
    prescriber_name: &str,
    profile: ProfileId,
    p: Prescription,
) -> Result<Protocol> {
    let protocol = p.protocol(by, prescriber_name, profile, ctx.at());
    let problems = p.problems(by, profile);
    if !problems.is_empty() {
        return Err(InvalidAnswers(problems).into());
    }
    ctx.store.prescribe(by, &protocol)?;
    Ok(protocol)
}

impl Prescription {
    fn protocol(
        &self,
        by: &ClinicAccess,
        prescriber_name: &str,
        profile: ProfileId,
        at: Timestamp,
    ) -> Protocol {
        Protocol {
            id: ProtocolId(Uuid::now_v7()),
            clinic_id: by.clinic,
            profile_id: profile,
            needle_length_mm: self.needle_length_mm,
            zones: self.zones.clone(),
            interval_days: self.interval_days,
            course_sessions: self.course_sessions,
            target_density_per_cm2: self.target_density_per_cm2,
            note: self.note.trim().to_owned(),
            prescribed_by: by.account,
            prescriber_name: prescriber_name.to_owned(),
            prescribed_at: at,
        }
    }

    /// Every field out of range, each naming its field (the protocol's own
    /// checks, `Protocol::validate`); empty when it may be prescribed.
    pub fn problems(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
    ) -> Vec<needlewise_core::answers::FieldError> {
        match self
            .protocol(by, "", profile, Timestamp::UNIX_EPOCH)
            .validate()
        {
            Ok(()) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .map(|p| needlewise_core::answers::FieldError {
                    field: p.field.to_owned(),
                    message: p.message,
                })
                .collect(),
        }
    }
}

/// The most characters an override's reason may have.
pub const MAX_OVERRIDE_REASON_CHARS: usize = 1000;

/// Sets aside one screening rule for one patient, when the evidence lets
/// a clinician do so for that rule (`clinician_override` in
/// `screening.toml`; only those rules can be set aside). The store checks
/// membership, role and the screening scope in the same transaction. The
/// reason is shown to the patient.
pub fn override_rule(
    ctx: Ctx<'_>,
    by: &ClinicAccess,
    by_name: &str,
    profile: ProfileId,
    rule_id: &str,
    reason: &str,
) -> Result<needlewise_core::clinic::Override> {
    let overridable = base()
        .screening
        .rules
        .iter()
        .any(|r| r.id == rule_id && r.clinician_override.is_some());
    if !overridable {
        return Err(ActionError::BadInput(
            "rule: choose one of the rules the evidence lets a clinician set aside".into(),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_OVERRIDE_REASON_CHARS {
        return Err(ActionError::BadInput(format!(
            "reason: say why, in 1 to {MAX_OVERRIDE_REASON_CHARS} characters (the patient sees it)"
        )));
    }
    let ov = needlewise_core::clinic::Override {
        id: needlewise_core::ids::OverrideId(Uuid::now_v7()),
        clinic_id: by.clinic,
        profile_id: profile,
        rule_id: rule_id.to_owned(),
        by: by.account,
        by_name: by_name.to_owned(),
        at: ctx.at(),
        reason: reason.to_owned(),
    };
    ctx.store.add_override(by, &ov)?;
    Ok(ov)
}

/// Acknowledges an open red flag for a clinic that sees the patient's
/// check-ins: the escalation ladder stops for it (the lock stays until it
/// is resolved).
pub fn acknowledge(
    ctx: Ctx<'_>,
    by: &ClinicAccess,
    profile: ProfileId,
    episode: EpisodeId,
    note: &str,
) -> Result<()> {
    ctx.store
        .acknowledge(by, profile, episode, note.trim(), ctx.at())?;
    Ok(())
}

/// Whether a reason is a hard stop.
pub fn is_no_go(r: &Reason) -> bool {
    r.outcome == Outcome::NoGo
}

// ------------------------------------------------------------- conversations

/// What a patient's new conversation starts from: nothing (a question of
/// their own) or one of their check-ins (and the red flag it opened, if
/// any), whose answers and rules travel as a structured card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationOrigin {
    Question {
        /// The patient lets the clinic's front-desk staff read it.
        shared_with_staff: bool,
    },
    Checkin(CheckinId),
}

fn message_problem(e: needlewise_core::conversation::TextProblem) -> ActionError {
    use needlewise_core::conversation::TextProblem;
    match e {
        TextProblem::TooManyPhotos { .. } => ActionError::BadInput(format!("photos: {e}")),
        _ => ActionError::BadInput(format!("message: {e}")),
    }
}

fn new_message(
    ctx: &Ctx<'_>,
    key: Option<RequestKey>,
    body: &str,
    photos: Vec<needlewise_core::conversation::MessagePhoto>,
) -> Result<needlewise_store::conversation::NewMessage> {
    let body =
        needlewise_core::conversation::message_text(body, photos.len()).map_err(message_problem)?;
    Ok(needlewise_store::conversation::NewMessage {
        id: needlewise_core::ids::MessageId(id_for(key)),
        body,
        photos,
        at: ctx.at(),
    })
}

/// The id of the message a keyed request stores, so a caller can name its
/// photos' files before the message is stored.
pub fn message_id_for(key: Option<RequestKey>) -> needlewise_core::ids::MessageId {
    needlewise_core::ids::MessageId(id_for(key))
}

/// Starts a conversation with one of the patient's clinics, with its first
/// message: the subject and text checked by the core's rules, a check-in
/// origin turned into its card (the check-in must be the profile's; its
/// red flag comes along when it opened one). The store checks the link,
/// logs it and queues `mail` to the clinic's members who may read it, in
/// one transaction. The same `key` again stores nothing and answers the
/// same id, with [`needlewise_store::conversation::Posted::AlreadyStored`].
#[allow(clippy::too_many_arguments)]
pub fn start_conversation(
    ctx: Ctx<'_>,
    profile: ProfileId,
    clinic: needlewise_core::ids::ClinicId,
    subject: &str,
    body: &str,
    origin: ConversationOrigin,
    photos: Vec<needlewise_core::conversation::MessagePhoto>,
    key: Option<RequestKey>,
    mail: &needlewise_store::conversation::MessageMail,
) -> Result<(
    needlewise_core::ids::ConversationId,
    needlewise_store::conversation::Posted,
)> {
    let subject = needlewise_core::conversation::subject(subject)
        .map_err(|e| ActionError::BadInput(format!("subject: {e}")))?;
    let first = new_message(&ctx, key, body, photos)?;
    let (card, shared_with_staff) = match origin {
        ConversationOrigin::Question { shared_with_staff } => (None, shared_with_staff),
        ConversationOrigin::Checkin(id) => {
            let checkin = ctx
                .store
                .checkins(profile)?
                .into_iter()
                .find(|c| c.id == id)
                .ok_or_else(|| ActionError::NotFound(format!("check-in {id}")))?;
            let episode = ctx
                .store
                .episodes(profile)?
                .into_iter()
                .find(|e| e.checkin_id == id);
            let card =
                needlewise_core::conversation::OriginCard::of(base(), &checkin, episode.as_ref())
                    .map_err(ActionError::BadInput)?;
            (Some(card), false)
        }
    };
    let new = needlewise_store::conversation::NewConversation {
        // The conversation takes the request's key too: its id and its
        // first message's are the same request.
        id: needlewise_core::ids::ConversationId(first.id.0),
        clinic_id: clinic,
        subject,
        origin: card,
        shared_with_staff,
    };
    let posted = ctx.store.start_conversation(profile, &new, &first, mail)?;
    Ok((new.id, posted))
}

/// The patient writes in one of their conversations (the clinic still
/// theirs); the store logs it and queues `mail` to the clinic.
pub fn send_patient_message(
    ctx: Ctx<'_>,
    profile: ProfileId,
    conversation: needlewise_core::ids::ConversationId,
    body: &str,
    photos: Vec<needlewise_core::conversation::MessagePhoto>,
    key: Option<RequestKey>,
    mail: &needlewise_store::conversation::MessageMail,
) -> Result<needlewise_store::conversation::Posted> {
    let message = new_message(&ctx, key, body, photos)?;
    Ok(ctx
        .store
        .post_patient_message(profile, conversation, &message, mail)?)
}

/// A member of the clinic answers; the store decides whether they may
/// (`Act::Converse`), logs it and queues `mail` to the patient.
#[allow(clippy::too_many_arguments)]
pub fn send_clinic_message(
    ctx: Ctx<'_>,
    by: &ClinicAccess,
    profile: ProfileId,
    conversation: needlewise_core::ids::ConversationId,
    body: &str,
    photos: Vec<needlewise_core::conversation::MessagePhoto>,
    key: Option<RequestKey>,
    mail: &needlewise_store::conversation::MessageMail,
) -> Result<needlewise_store::conversation::Posted> {
    let message = new_message(&ctx, key, body, photos)?;
    Ok(ctx
        .store
        .post_clinic_message(by, profile, conversation, &message, mail)?)
}

// Appointments ("Ask your surgeon", part 2). The store decides who may do
// what (`Act::Schedule`, `patient_may_schedule`) and asks the core whether
// a slot may be booked, in the same transaction as the write.

pub use needlewise_store::appointment::{AppointmentMail, Asker, NoMail};

/// The core's refusal, or the store's in plain words: a passed time or a
/// missing reason is bad input the person can fix; a slot someone else
/// booked first is a conflict (choose another time).
fn scheduling_error(e: StoreError) -> ActionError {
    match e {
        StoreError::Invalid { what } => ActionError::BadInput(what),
        StoreError::Conflict { what } => ActionError::Conflict(what),
        e => e.into(),
    }
}

/// Sets the clinic's opening hours, slot length and closed days. Returns
/// the core's problems, each naming its field (nothing stored), or none
/// (stored).
pub fn set_clinic_hours(
    ctx: Ctx<'_>,
    by: &ClinicAccess,
    hours: &needlewise_core::appointment::Hours,
) -> Result<Vec<needlewise_core::clinic::FieldProblem>> {
    if let Err(problems) = hours.validate() {
        return Ok(problems);
    }
    ctx.store.set_clinic_hours(by, hours, ctx.at())?;
    Ok(Vec::new())
}

/// The clinic's free slots from now for `days` days (at most
/// [`needlewise_core::appointment::MAX_RANGE_DAYS`]).
pub fn free_slots(
    ctx: Ctx<'_>,
    clinic: needlewise_core::ids::ClinicId,
    days: i64,
) -> Result<Vec<needlewise_core::appointment::Slot>> {
    let days = days.clamp(1, needlewise_core::appointment::MAX_RANGE_DAYS);
    let until = ctx
        .at()
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap_or(Timestamp::MAX);
    Ok(ctx.store.free_slots(clinic, ctx.at(), until, ctx.at())?)
}

/// Books the slot starting at `start` (from `proposal`'s slots, or the
/// clinic's free ones), keyed by the request: the appointment takes the
/// key as its id, so the same request again stores nothing. `mail` writes
/// the patient's confirmation (with its METHOD:REQUEST invitation), queued
/// in the booking's transaction.
#[allow(clippy::too_many_arguments)]
pub fn book_appointment(
    ctx: Ctx<'_>,
    asker: Asker<'_>,
    profile: ProfileId,
    clinic: needlewise_core::ids::ClinicId,
    start: Timestamp,
    proposal: Option<needlewise_core::ids::ProposalId>,
    note: &str,
    key: Option<RequestKey>,
    mail: &dyn AppointmentMail,
) -> Result<(
    needlewise_core::appointment::Appointment,
    needlewise_store::conversation::Posted,
)> {
    let note = needlewise_core::appointment::note(note)
        .map_err(|e| ActionError::BadInput(e.to_string()))?;
    let new = needlewise_store::appointment::NewAppointment {
        id: needlewise_core::ids::AppointmentId(id_for(key)),
        clinic_id: clinic,
        start,
        proposal,
        note,
        at: ctx.at(),
    };
    ctx.store
        .book_appointment(asker, profile, &new, mail)
        .map_err(scheduling_error)
}

/// Cancels a booked appointment with a reason; `mail` writes the
/// patient's email (with its METHOD:CANCEL invitation), queued with it.
pub fn cancel_appointment(
    ctx: Ctx<'_>,
    asker: Asker<'_>,
    profile: ProfileId,
    appointment: needlewise_core::ids::AppointmentId,
    reason: &str,
    mail: &dyn AppointmentMail,
) -> Result<needlewise_core::appointment::Appointment> {
    let change = needlewise_store::appointment::Change {
        appointment,
        reason: reason.to_owned(),
        to: None,
        at: ctx.at(),
    };
    ctx.store
        .change_appointment(asker, profile, &change, mail)
        .map_err(scheduling_error)
}

/// Moves a booked appointment to the free slot starting at `start`, with
/// a reason; the new appointment takes the request's key as its id.
/// `mail` writes the patient's emails (the old time's METHOD:CANCEL, the
/// new one's METHOD:REQUEST), queued with the move.
#[allow(clippy::too_many_arguments)]
pub fn reschedule_appointment(
    ctx: Ctx<'_>,
    asker: Asker<'_>,
    profile: ProfileId,
    appointment: needlewise_core::ids::AppointmentId,
    start: Timestamp,
    reason: &str,
    key: Option<RequestKey>,
    mail: &dyn AppointmentMail,
) -> Result<needlewise_core::appointment::Appointment> {
    let change = needlewise_store::appointment::Change {
        appointment,
        reason: reason.to_owned(),
        to: Some((needlewise_core::ids::AppointmentId(id_for(key)), start)),
        at: ctx.at(),
    };
    ctx.store
        .change_appointment(asker, profile, &change, mail)
        .map_err(scheduling_error)
}

/// A member offers the free slots starting at `starts` (one to three) in
/// a conversation, with the message `body`; the proposal and its message
/// take the request's key as their ids.
#[allow(clippy::too_many_arguments)]
pub fn propose_slots(
    ctx: Ctx<'_>,
    by: &ClinicAccess,
    profile: ProfileId,
    conversation: needlewise_core::ids::ConversationId,
    starts: &[Timestamp],
    body: &str,
    key: Option<RequestKey>,
    mail: &needlewise_store::conversation::MessageMail,
) -> Result<needlewise_store::conversation::Posted> {
    let length = ctx.store.clinic_schedule(by.clinic)?.hours.slot_length();
    let slots = starts
        .iter()
        .map(|s| needlewise_core::appointment::Slot {
            start: *s,
            end: s.checked_add(length).unwrap_or(Timestamp::MAX),
        })
        .collect();
    let message = new_message(&ctx, key, body, Vec::new())?;
    let proposal = needlewise_store::appointment::NewProposal {
        id: needlewise_core::ids::ProposalId(message.id.0),
        conversation,
        slots,
        message,
    };
    ctx.store
        .propose_slots(by, profile, &proposal, mail)
        .map_err(scheduling_error)
}
