//! The clinic side, as pure rules: who may see what (roles and consent
//! scopes), what a prescribed protocol changes at home, the escalation
//! ladder for red flags, and a patient's status on the clinician's list.
//!
//! Nothing here reads a clock or a store: the store enforces these rules in
//! its queries, and the web and command line show them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, ClinicId, OverrideId, ProfileId, ProtocolId};
use crate::schedule::NextSession;
use crate::zone::Zone;

/// A practice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clinic {
    pub id: ClinicId,
    pub name: String,
    /// The clinic's IANA time zone, for its dashboard and escalations.
    pub time_zone: String,
    /// Who is told about a red flag, and when.
    pub ladder: Ladder,
    pub created_at: Timestamp,
}

/// What a member of a clinic may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A facial plastic surgeon or other clinician: reads consented patient
    /// data, acknowledges red flags, prescribes protocols and overrides.
    Clinician,
    /// Front-desk staff: invites patients and sees who the clinic serves,
    /// never their clinical data.
    Staff,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Clinician, Role::Staff];

    pub fn id(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Staff => "staff",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Clinician => "Clinician",
            Role::Staff => "Staff",
        }
    }

    /// Whether this role may read clinical data (always also subject to the
    /// patient's consent).
    pub fn reads_clinical_data(self) -> bool {
        self == Role::Clinician
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.id() == s)
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// A member of a clinic: an account with a role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub clinic_id: ClinicId,
    pub account_id: AccountId,
    pub role: Role,
    /// How patients and colleagues see this person, e.g. "Dr Ada Lovelace".
    pub display_name: String,
    pub joined_at: Timestamp,
}

/// What a patient lets a clinic see. Each scope is granted and revoked on
/// its own; revoking takes effect on the next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Screening,
    Sessions,
    Checkins,
    /// Photos, for the clinicians caring for the patient.
    PhotosClinical,
    /// Photos, for teaching (anonymised use by the clinic).
    PhotosTeaching,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Screening,
        Scope::Sessions,
        Scope::Checkins,
        Scope::PhotosClinical,
        Scope::PhotosTeaching,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Scope::Screening => "screening",
            Scope::Sessions => "sessions",
            Scope::Checkins => "checkins",
            Scope::PhotosClinical => "photos_clinical",
            Scope::PhotosTeaching => "photos_teaching",
        }
    }

    /// What the patient is agreeing to, in plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Screening => "your screening answers and verdict",
            Scope::Sessions => "your sessions: dates, zones, needle length and products",
            Scope::Checkins => {
                "your symptom check-ins and red flags (needed for the clinic to act on a warning sign)"
            }
            Scope::PhotosClinical => "your progress photos, for your care",
            Scope::PhotosTeaching => {
                "your progress photos, for teaching other clinicians (without your name)"
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|r| r.id() == s)
            .ok_or_else(|| format!("unknown consent scope {s:?}"))
    }
}

/// Who asks, and what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The asker's role in the clinic, or `None` when not a member.
    pub role: Option<Role>,
    /// Whether the patient is the clinic's patient at all.
    pub linked: bool,
    /// The scopes the patient granted this clinic.
    pub scopes: BTreeSet<Scope>,
}

/// Something a clinic member may try to do with one patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// See that the patient is the clinic's patient: name and join date.
    SeeListed,
    /// Read data under a scope.
    Read(Scope),
    /// Acknowledge a red flag (needs the check-ins scope).
    Acknowledge,
    /// Resolve a red flag, which lifts the session lock (needs the
    /// check-ins scope).
    Resolve,
    /// Prescribe a protocol (needs the sessions scope).
    Prescribe,
    /// Override a conservative home rule (needs the screening scope).
    Override,
    /// Read or answer one of the patient's conversations with the clinic
    /// (see [`Conversing`]).
    Converse(Conversing),
    /// See, propose, book, cancel or reschedule the patient's appointments
    /// (see [`crate::appointment`]). Scheduling is front-desk work too:
    /// clinicians and staff alike, but only for a patient linked to the
    /// clinic, and an appointment carries no clinical data (its note is
    /// what the patient or the clinic wrote to arrange it).
    Schedule,
}

/// What decides who of a clinic may read and answer a conversation.
///
/// The rule: the patient wrote to the clinic, so its clinicians read and
/// answer every conversation of a patient linked to it, whatever the
/// consent scopes (the patient chose to send it; an origin card holds only
/// what the patient sent). Front-desk staff never see clinical data, so
/// they read and answer only a conversation that is not clinical (no
/// check-in or red flag behind it) **and** that the patient shared with the
/// front desk when starting it. A clinical conversation is `Forbidden` to
/// staff (their role can never see it); an unshared one is hidden from
/// them, as a scope not granted hides data from a clinician.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conversing {
    /// Started from a check-in or red flag (carries an origin card).
    pub clinical: bool,
    /// The patient let the clinic's staff read it.
    pub shared_with_staff: bool,
}

/// The one authorization rule for clinic access to a patient. The store
/// applies it inside its queries; it lives here so that it is written
/// once, tested as a table, and read by everyone.
pub fn permits(grant: &Grant, act: Act) -> bool {
    let Some(role) = grant.role else {
        return false;
    };
    if !grant.linked {
        return false;
    }
    let clinical = role.reads_clinical_data();
    match act {
        Act::SeeListed => true,
        Act::Read(scope) => clinical && grant.scopes.contains(&scope),
        Act::Acknowledge | Act::Resolve => clinical && grant.scopes.contains(&Scope::Checkins),
        Act::Prescribe => clinical && grant.scopes.contains(&Scope::Sessions),
        Act::Override => clinical && grant.scopes.contains(&Scope::Screening),
        Act::Converse(c) => clinical || (!c.clinical && c.shared_with_staff),
        Act::Schedule => true,
    }
}

/// Why a clinic member's request about one patient is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a member, not the clinic's patient, or a scope not granted:
    /// the asker learns nothing, not even that the patient exists.
    Hidden,
    /// A member of the patient's clinic whose role can never do this.
    Forbidden(String),
}

/// The one decision on a clinic member's request about one patient:
/// allowed by [`permits`], or refused as [`Refusal::Hidden`] or
/// [`Refusal::Forbidden`] (the asker's role, not a missing scope, stands
/// in the way).
pub fn decide(grant: &Grant, act: Act) -> Result<(), Refusal> {
    if permits(grant, act) {
        return Ok(());
    }
    match grant.role {
        Some(role)
            if grant.linked
                && act != Act::SeeListed
                && !role.reads_clinical_data()
                && role_never_may(act) =>
        {
            Err(Refusal::Forbidden(role_may_not(role)))
        }
        _ => Err(Refusal::Hidden),
    }
}

/// Whether a role without clinical reads can never do `act`, whatever the
/// patient shares: every clinical act, and a clinical conversation. A
/// non-clinical conversation the patient did not share with the front desk
/// is hidden instead, as the patient could share the next one.
fn role_never_may(act: Act) -> bool {
    match act {
        Act::Converse(c) => c.clinical,
        _ => true,
    }
}

/// Whether a patient may start a conversation with a clinic, or write in
/// one: only while linked to it (after leaving, the history stays readable
/// to the patient, and nobody at the clinic reads it). A refusal is
/// [`Refusal::Hidden`]: an unlinked clinic is not the patient's to write to.
pub fn patient_may_write(linked: bool) -> Result<(), Refusal> {
    if linked { Ok(()) } else { Err(Refusal::Hidden) }
}

/// Whether a member may set the clinic's opening hours, slot length and
/// closed days: clinicians and front-desk staff alike (scheduling is the
/// front desk's work); only members reach this question.
pub fn may_set_hours(role: Role) -> Result<(), String> {
    match role {
        Role::Clinician | Role::Staff => Ok(()),
    }
}

/// Whether a patient may book, cancel or reschedule with a clinic: only
/// while linked to it, as for writing ([`patient_may_write`]). Their own
/// appointments stay readable after leaving.
pub fn patient_may_schedule(linked: bool) -> Result<(), Refusal> {
    patient_may_write(linked)
}

/// Whether a member's role may do what only clinicians do (manage the
/// team, read clinical data): `Err` with the one refusal message.
pub fn clinician_only(role: Role) -> Result<(), String> {
    if role.reads_clinical_data() {
        Ok(())
    } else {
        Err(role_may_not(role))
    }
}

/// Who of a clinic may use and who may write its canned replies (standard
/// answers such as aftercare advice). Every member lists them and inserts
/// one into a reply (front-desk staff answer the conversations patients
/// share with them); only clinicians write, change or delete them, as
/// what they say is advice. `Err` with the one refusal message.
pub fn may_edit_canned_replies(role: Role) -> Result<(), String> {
    clinician_only(role)
}

/// The refusal message for a role that may not do something.
fn role_may_not(role: Role) -> String {
    format!(
        "a {} member of the clinic may not do this; ask a clinician",
        role.label().to_lowercase()
    )
}

/// Who may resolve a person's red flag, given the scopes each of their
/// clinics holds: when any clinic sees their check-ins, only a clinician of
/// such a clinic; otherwise the person, with a doctor's examination stated
/// and a fresh check-in without a red flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvePolicy {
    /// A clinician of one of these clinics.
    ClinicianOf(Vec<ClinicId>),
    /// The person, stating a doctor's examination.
    SelfWithExamination,
}

/// Decides [`ResolvePolicy`] from the clinics a person is linked to, with
/// the scopes each holds.
pub fn resolve_policy<'a>(
    links: impl IntoIterator<Item = (ClinicId, &'a BTreeSet<Scope>)>,
) -> ResolvePolicy {
    let clinics: Vec<ClinicId> = links
        .into_iter()
        .filter(|(_, scopes)| scopes.contains(&Scope::Checkins))
        .map(|(c, _)| c)
        .collect();
    if clinics.is_empty() {
        ResolvePolicy::SelfWithExamination
    } else {
        ResolvePolicy::ClinicianOf(clinics)
    }
}

/// A home protocol prescribed by a clinician. Where it is stricter than
/// the evidence defaults it wins; it never loosens a safety rule (only an
/// [`Override`] does that, for the rules that allow it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub id: ProtocolId,
    pub clinic_id: ClinicId,
    pub profile_id: ProfileId,
    /// The needle length to use, in mm.
    pub needle_length_mm: f64,
    /// The zones to treat; the screening's exclusions still apply.
    pub zones: BTreeSet<Zone>,
    /// Days between sessions, at least; the healing interval still applies.
    pub interval_days: u32,
    /// Sessions in the course; after that, a review with the clinician.
    pub course_sessions: u32,
    /// Target needle density per cm², for the coverage plan.
    pub target_density_per_cm2: f64,
    /// Free text for the patient.
    #[serde(default)]
    pub note: String,
    pub prescribed_by: AccountId,
    /// The prescriber's display name, as shown to the patient.
    pub prescriber_name: String,
    pub prescribed_at: Timestamp,
}

/// Limits a protocol's fields must respect, with the reason for each.
pub mod limits {
    /// The longest needle needlewise accepts in a home protocol (mm).
    pub const MAX_NEEDLE_MM: f64 = 3.0;
    pub const MAX_INTERVAL_DAYS: u32 = 365;
    pub const MAX_COURSE_SESSIONS: u32 = 24;
    pub const MAX_DENSITY: f64 = 1000.0;
    pub const MAX_NOTE_CHARS: usize = 2000;
}

/// A field of a protocol or override that is out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Protocol {
    /// Checks every field; all problems at once.
    pub fn validate(&self) -> Result<(), Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut bad = |field, message: String| problems.push(FieldProblem { field, message });
        if !(self.needle_length_mm > 0.0 && self.needle_length_mm <= limits::MAX_NEEDLE_MM) {
            bad(
                "needle_length_mm",
                format!(
                    "give a length above 0 and at most {} mm",
                    limits::MAX_NEEDLE_MM
                ),
            );
        }
        if self.zones.is_empty() {
            bad("zones", "choose at least one zone".into());
        }
        if self.interval_days == 0 || self.interval_days > limits::MAX_INTERVAL_DAYS {
            bad(
                "interval_days",
                format!(
                    "give 1 to {} days between sessions",
                    limits::MAX_INTERVAL_DAYS
                ),
            );
        }
        if self.course_sessions == 0 || self.course_sessions > limits::MAX_COURSE_SESSIONS {
            bad(
                "course_sessions",
                format!("give 1 to {} sessions", limits::MAX_COURSE_SESSIONS),
            );
        }
        if !(self.target_density_per_cm2 > 0.0
            && self.target_density_per_cm2 <= limits::MAX_DENSITY)
        {
            bad(
                "target_density_per_cm2",
                format!("give a density above 0 and at most {}", limits::MAX_DENSITY),
            );
        }
        if self.note.chars().count() > limits::MAX_NOTE_CHARS {
            bad(
                "note",
                format!("keep the note to {} characters", limits::MAX_NOTE_CHARS),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The first moment the protocol allows a session after one that ended
    /// at `last`: its spacing in elapsed days of 24 hours.
    pub fn earliest_after(&self, last: Timestamp) -> Timestamp {
        last.checked_add(jiff::SignedDuration::from_hours(
            i64::from(self.interval_days) * 24,
        ))
        .unwrap_or(Timestamp::MAX)
    }

    /// The zones to plan today: the screening's allowed zones that the
    /// protocol prescribes.
    pub fn narrow_zones(&self, allowed: &BTreeSet<Zone>) -> BTreeSet<Zone> {
        allowed.intersection(&self.zones).copied().collect()
    }

    /// Whether the course is complete after `done` sessions under it.
    pub fn course_complete(&self, done: u32) -> bool {
        done >= self.course_sessions
    }

    /// The schedule with this protocol's spacing, where it is longer than
    /// the healing interval: the same date the readiness gate enforces.
    pub fn apply_to(&self, next: NextSession, now: &jiff::ZonedDateTime) -> NextSession {
        match next {
            NextSession::After {
                earliest_at,
                last,
                last_at,
                ..
            } if self.earliest_after(last_at) > earliest_at => {
                let earliest_at = self.earliest_after(last_at);
                NextSession::After {
                    earliest: crate::schedule::local_date(earliest_at, now),
                    earliest_at,
                    last,
                    last_at,
                    wait: format!("{} days", self.interval_days),
                    explanation: format!(
                        "Your facial plastic surgeon's protocol ({}, {}) spaces your sessions {} days apart.",
                        self.prescriber_name,
                        self.prescribed_at.strftime("%-d %b %Y"),
                        self.interval_days
                    ),
                    now_ok: now.timestamp() >= earliest_at,
                    by_protocol: true,
                }
            }
            next => next,
        }
    }

    /// Whether a session with this needle length follows the protocol.
    pub fn needle_matches(&self, needle_length_mm: f64) -> bool {
        (self.needle_length_mm - needle_length_mm).abs() < 1e-6
    }
}

/// A clinician's decision to set aside one conservative home rule for one
/// patient, for instance the isotretinoin wait (the evidence marks which
/// rules allow it, and cites why). Who, when and why are kept and shown to
/// the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub id: OverrideId,
    pub clinic_id: ClinicId,
    pub profile_id: ProfileId,
    pub rule_id: String,
    pub by: AccountId,
    /// The clinician's display name, as shown to the patient.
    pub by_name: String,
    pub at: Timestamp,
    pub reason: String,
}

/// One rung of the escalation ladder: after `after` without an
/// acknowledgement, tell `notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Time since the clinic could first see the red flag (raised, or
    /// shared with the clinic later: whichever came last).
    #[serde(with = "hours")]
    pub after: SignedDuration,
    pub notify: Target,
}

/// Who a step tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Every member with this role.
    Role { role: Role },
    /// One member.
    Member { account_id: AccountId },
}

mod hours {
    use jiff::SignedDuration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() / 3600.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
        let h = f64::deserialize(d)?;
        if !(0.0..=24.0 * 30.0).contains(&h) {
            return Err(serde::de::Error::custom(
                "a step's delay must be 0 to 720 hours",
            ));
        }
        SignedDuration::try_from_secs_f64(h * 3600.0).map_err(serde::de::Error::custom)
    }
}

/// Who is told about a red flag, and when, until someone acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ladder {
    pub steps: Vec<Step>,
}

impl Default for Ladder {
    /// Every clinician at once; if nobody has acknowledged after 4 hours,
    /// every member (staff too, who can reach a clinician by phone).
    fn default() -> Self {
        Ladder {
            steps: vec![
                Step {
                    after: SignedDuration::ZERO,
                    notify: Target::Role {
                        role: Role::Clinician,
                    },
                },
                Step {
                    after: SignedDuration::from_hours(4),
                    notify: Target::Role { role: Role::Staff },
                },
            ],
        }
    }
}

impl Ladder {
    /// The steps due at `now` for a red flag the clinic could see from
    /// `since` (the later of when it was raised and when the patient shared
    /// check-ins with the clinic): none once it is acknowledged. The caller
    /// remembers which it has sent.
    pub fn due(&self, since: Timestamp, acknowledged: bool, now: Timestamp) -> Vec<usize> {
        if acknowledged {
            return Vec::new();
        }
        let elapsed = now.duration_since(since);
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| elapsed >= s.after)
            .map(|(i, _)| i)
            .collect()
    }

    /// The members a step reaches.
    pub fn recipients<'a>(&self, step: usize, members: &'a [Member]) -> Vec<&'a Member> {
        let Some(step) = self.steps.get(step) else {
            return Vec::new();
        };
        members
            .iter()
            .filter(|m| match &step.notify {
                Target::Role { role } => m.role == *role,
                Target::Member { account_id } => m.account_id == *account_id,
            })
            .collect()
    }

    /// Checks the ladder: at least one step, steps in time order, at most
    /// ten.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("the ladder needs at least one step".into());
        }
        if self.steps.len() > 10 {
            return Err("the ladder may have at most 10 steps".into());
        }
        if self.steps.windows(2).any(|w| w[0].after > w[1].after) {
            return Err("list the steps in time order".into());
        }
        Ok(())
    }
}

/// A patient's line on the clinician's list. Each field is `None` where
/// the patient has not granted the scope that would show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientStatus {
    pub last_session: Option<Date>,
    pub next_due: Option<Date>,
    /// Open red flags (needs the check-ins scope).
    pub open_red_flags: Option<u32>,
    /// Open red flags nobody at the clinic has acknowledged yet.
    pub unacknowledged_red_flags: Option<u32>,
    /// Check-ins that were due and have not been done.
    pub overdue_checkins: Option<u32>,
}

/// A check-in up to this long before one falls due counts for it.
pub const CHECKIN_GRACE: SignedDuration = SignedDuration::from_hours(12);

/// How many scheduled check-ins are overdue at `now`. `due` comes from
/// [`crate::triage::checkin_schedule`] for the last session, in time
/// order. A due check-in counts as done when one was recorded from
/// [`CHECKIN_GRACE`] before it until the next one falls due (or now).
pub fn overdue_checkins(due: &[Timestamp], checkins_at: &[Timestamp], now: Timestamp) -> u32 {
    let mut overdue = 0;
    for (i, at) in due.iter().enumerate() {
        if *at > now {
            continue;
        }
        let from = at.checked_sub(CHECKIN_GRACE).unwrap_or(*at);
        let until = due.get(i + 1).copied().filter(|n| *n <= now).unwrap_or(now);
        if !checkins_at.iter().any(|c| *c >= from && *c <= until) {
            overdue += 1;
        }
    }
    overdue
}
