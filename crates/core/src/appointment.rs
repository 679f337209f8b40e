//! Appointments at the clinic: the clinic's weekly opening hours, slot
//! length and closed days; the free slots of a range (in the clinic's own
//! time zone, safe across daylight-saving changes); the slots a clinic
//! member proposes in a conversation; and an appointment's life (booked,
//! then perhaps cancelled or rescheduled, each with who, when and why).
//!
//! Who may do what is decided in [`crate::clinic`] ([`crate::clinic::Act::Schedule`],
//! [`crate::clinic::may_set_hours`], [`crate::clinic::patient_may_schedule`]).
//! Nothing here reads a clock or a store: the caller passes the moment and
//! the booked appointments, and the store's unique index on a clinic's
//! booked start times is the last word on a race between two bookings.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::clinic::FieldProblem;
use crate::conversation::Side;
use crate::ids::{AccountId, AppointmentId, ClinicId, ConversationId, ProfileId, ProposalId};

/// The shortest slot a clinic may offer, in minutes.
pub const MIN_SLOT_MINUTES: u32 = 15;
/// The longest slot a clinic may offer, in minutes.
pub const MAX_SLOT_MINUTES: u32 = 120;
/// The most opening intervals of one weekday (a morning and an afternoon,
/// say).
pub const MAX_OPENINGS_PER_DAY: usize = 4;
/// The most closed days a clinic lists at once.
pub const MAX_CLOSED_DAYS: usize = 366;
/// The longest range of days whose slots are listed at once.
pub const MAX_RANGE_DAYS: i64 = 62;
/// How far ahead an appointment may be booked, in days.
pub const MAX_AHEAD_DAYS: i64 = 366;
/// The most slots one proposal offers.
pub const MAX_PROPOSED: usize = 3;
/// The most characters of a reason or a note.
pub const MAX_REASON_CHARS: usize = 500;

/// The weekdays' names, Monday first, as fields and forms name them.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// One opening interval of a weekday, in the clinic's civil time: from
/// `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Opening {
    pub start: Time,
    pub end: Time,
}

/// A clinic's opening hours: for each weekday (Monday first) its opening
/// intervals, the length of one appointment slot, and the dates it is
/// closed whatever the weekday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    pub week: [Vec<Opening>; 7],
    pub slot_minutes: u32,
    #[serde(default)]
    pub closed: BTreeSet<Date>,
}

impl Default for Hours {
    /// No opening hours yet (so no free slots), half-hour slots.
    fn default() -> Self {
        Hours {
            week: Default::default(),
            slot_minutes: 30,
            closed: BTreeSet::new(),
        }
    }
}

/// One bookable stretch of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Slot {
    /// Whether the two share any moment (touching ends do not overlap).
    pub fn overlaps(&self, other: &Slot) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The one instant a civil time names in `tz`: a time skipped by a
/// daylight-saving change names none (no slot there); a time that occurs
/// twice names its first occurrence.
fn instant(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let amb = tz.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => amb.earlier().ok(),
    }
}

impl Hours {
    /// A slot's length.
    pub fn slot_length(&self) -> SignedDuration {
        SignedDuration::from_mins(i64::from(self.slot_minutes))
    }

    /// Checks every field; all problems at once, each in plain words.
    pub fn validate(&self) -> Result<(), Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut bad = |field, message: String| problems.push(FieldProblem { field, message });
        if !(MIN_SLOT_MINUTES..=MAX_SLOT_MINUTES).contains(&self.slot_minutes) {
            bad(
                "slot_minutes",
                format!("give a slot length of {MIN_SLOT_MINUTES} to {MAX_SLOT_MINUTES} minutes"),
            );
        }
        let slot = i64::from(self.slot_minutes.max(1));
        for (i, day) in self.week.iter().enumerate() {
            let field = WEEKDAYS[i];
            if day.len() > MAX_OPENINGS_PER_DAY {
                bad(
                    field,
                    format!("give at most {MAX_OPENINGS_PER_DAY} opening times a day"),
                );
                continue;
            }
            let mut sorted = day.clone();
            sorted.sort();
            if sorted.iter().any(|o| o.start >= o.end) {
                bad(field, "each opening time must end after it starts".into());
            } else if sorted
                .iter()
                .any(|o| o.end.duration_since(o.start) < SignedDuration::from_mins(slot))
            {
                bad(
                    field,
                    format!(
                        "each opening time must hold at least one slot of {} minutes",
                        self.slot_minutes
                    ),
                );
            } else if sorted.windows(2).any(|w| w[1].start < w[0].end) {
                bad(field, "opening times of one day must not overlap".into());
            }
        }
        if self.closed.len() > MAX_CLOSED_DAYS {
            bad(
                "closed",
                format!("list at most {MAX_CLOSED_DAYS} closed days"),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Every slot of the opening hours that lies wholly within
    /// `from..until`, in time order, in the clinic's zone `tz`. A slot is a
    /// slot length of civil time from an opening's start; a slot that a
    /// daylight-saving change shortens, lengthens or skips is not offered.
    /// At most [`MAX_RANGE_DAYS`] days are read.
    pub fn slots(&self, tz: &TimeZone, from: Timestamp, until: Timestamp) -> Vec<Slot> {
        let mut out = Vec::new();
        if from >= until || self.slot_minutes == 0 {
            return out;
        }
        let len = self.slot_length();
        let first = from.to_zoned_datetime(tz.clone()).date();
        let last = until.to_zoned_datetime(tz.clone()).date();
        let mut day = first;
        let mut days = 0;
        while day <= last && days <= MAX_RANGE_DAYS {
            if !self.closed.contains(&day) {
                let weekday = usize::try_from(day.weekday().to_monday_zero_offset()).unwrap_or(0);
                let mut openings = self.week[weekday].clone();
                openings.sort();
                for o in openings {
                    let mut t = day.to_datetime(o.start);
                    let end = day.to_datetime(o.end);
                    while let Ok(next) = t.checked_add(len) {
                        if next > end {
                            break;
                        }
                        if let (Some(s), Some(e)) = (instant(tz, t), instant(tz, next))
                            && e.duration_since(s) == len
                            && s >= from
                            && e <= until
                        {
                            out.push(Slot { start: s, end: e });
                        }
                        t = next;
                    }
                }
            }
            days += 1;
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        out
    }

    /// The slots of `from..until` that no booked appointment overlaps.
    pub fn free_slots(
        &self,
        tz: &TimeZone,
        from: Timestamp,
        until: Timestamp,
        booked: &[Slot],
    ) -> Vec<Slot> {
        self.slots(tz, from, until)
            .into_iter()
            .filter(|s| !booked.iter().any(|b| b.overlaps(s)))
            .collect()
    }

    /// The free slot that starts at `start`, for a booking at `now`:
    /// refused when it has passed, is too far ahead, is not one of the
    /// clinic's slots, or is taken.
    pub fn offer(
        &self,
        tz: &TimeZone,
        start: Timestamp,
        now: Timestamp,
        booked: &[Slot],
    ) -> Result<Slot, Problem> {
        let until = start
            .checked_add(self.slot_length())
            .unwrap_or(Timestamp::MAX);
        let slot = self
            .slots(tz, start, until)
            .into_iter()
            .find(|s| s.start == start)
            .ok_or(Problem::NotOffered)?;
        bookable(&slot, now, booked)?;
        Ok(slot)
    }
}

/// Whether `slot` may be booked at `now`: in the future, at most
/// [`MAX_AHEAD_DAYS`] ahead, and overlapping no booked appointment.
pub fn bookable(slot: &Slot, now: Timestamp, booked: &[Slot]) -> Result<(), Problem> {
    if slot.start <= now {
        return Err(Problem::Past);
    }
    if slot.start.duration_since(now) > SignedDuration::from_hours(24 * MAX_AHEAD_DAYS) {
        return Err(Problem::TooFar);
    }
    if booked.iter().any(|b| b.overlaps(slot)) {
        return Err(Problem::Taken);
    }
    Ok(())
}

/// Checks the slots a clinic member proposes at `now`: one to
/// [`MAX_PROPOSED`], different, each a free slot of the clinic (`free`,
/// from [`Hours::free_slots`]). Returns them in time order.
pub fn check_proposal(slots: &[Slot], free: &[Slot], now: Timestamp) -> Result<Vec<Slot>, Problem> {
    if slots.is_empty() {
        return Err(Problem::NoSlots);
    }
    if slots.len() > MAX_PROPOSED {
        return Err(Problem::TooManySlots);
    }
    let unique: BTreeSet<Slot> = slots.iter().copied().collect();
    if unique.len() != slots.len() {
        return Err(Problem::DuplicateSlot);
    }
    for s in &unique {
        bookable(s, now, &[])?;
        if !free.contains(s) {
            return Err(Problem::NotOffered);
        }
    }
    Ok(unique.into_iter().collect())
}

/// Where an appointment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Booked: the slot is the patient's.
    Booked,
    /// Cancelled by the patient or the clinic, with a reason.
    Cancelled,
    /// Replaced by another appointment, with a reason.
    Rescheduled,
}

impl Status {
    pub fn id(self) -> &'static str {
        match self {
            Status::Booked => "booked",
            Status::Cancelled => "cancelled",
            Status::Rescheduled => "rescheduled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Booked => "Booked",
            Status::Cancelled => "Cancelled",
            Status::Rescheduled => "Moved to another time",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "booked" => Ok(Status::Booked),
            "cancelled" => Ok(Status::Cancelled),
            "rescheduled" => Ok(Status::Rescheduled),
            _ => Err(format!("unknown appointment status {s:?}")),
        }
    }
}

/// Who did something to an appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub side: Side,
    pub account: AccountId,
    /// As shown: the profile's name or the member's display name.
    pub name: String,
}

/// How a booked appointment ended: cancelled or moved, by whom, when and
/// why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    pub by: Actor,
    pub at: Timestamp,
    pub reason: String,
    /// The appointment that replaced it, when rescheduled.
    pub replaced_by: Option<AppointmentId>,
}

/// An appointment of a patient at a clinic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: AppointmentId,
    pub clinic_id: ClinicId,
    pub profile_id: ProfileId,
    pub slot: Slot,
    pub status: Status,
    /// What the booker wrote to arrange it (may be empty).
    pub note: String,
    /// The conversation it was arranged in, if any.
    pub conversation_id: Option<ConversationId>,
    /// The proposal it was booked from, if any.
    pub proposal_id: Option<ProposalId>,
    /// The appointment it replaces, when it was booked by rescheduling.
    pub replaces: Option<AppointmentId>,
    pub booked_by: Actor,
    pub booked_at: Timestamp,
    pub ended: Option<Ending>,
    /// The iCalendar SEQUENCE: 0 when booked, one more for each change.
    pub sequence: u32,
}

impl Appointment {
    /// Whether it holds its slot.
    pub fn is_booked(&self) -> bool {
        self.status == Status::Booked
    }

    /// The appointment ended at `at` by `by` for `reason` (cancelled, or
    /// rescheduled to `replaced_by`): only a booked appointment that has
    /// not begun, with a reason.
    pub fn end(
        &self,
        by: Actor,
        at: Timestamp,
        reason: &str,
        replaced_by: Option<AppointmentId>,
    ) -> Result<Appointment, Problem> {
        if !self.is_booked() {
            return Err(Problem::AlreadyEnded(self.status));
        }
        if at >= self.slot.start {
            return Err(Problem::Started);
        }
        let reason = required_reason(reason)?;
        let mut next = self.clone();
        next.status = if replaced_by.is_some() {
            Status::Rescheduled
        } else {
            Status::Cancelled
        };
        next.ended = Some(Ending {
            by,
            at,
            reason,
            replaced_by,
        });
        next.sequence = self.sequence.saturating_add(1);
        Ok(next)
    }
}

/// Slots a clinic member offered a patient in a conversation; the patient
/// books one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: ProposalId,
    pub clinic_id: ClinicId,
    pub profile_id: ProfileId,
    pub conversation_id: ConversationId,
    /// One to [`MAX_PROPOSED`], in time order.
    pub slots: Vec<Slot>,
    pub by: Actor,
    pub at: Timestamp,
    /// The appointment booked from it, once one is.
    pub booked: Option<AppointmentId>,
}

impl Proposal {
    /// Whether the patient may still book `slot` from it.
    pub fn offers(&self, slot: &Slot) -> Result<(), Problem> {
        if self.booked.is_some() {
            return Err(Problem::ProposalUsed);
        }
        if !self.slots.contains(slot) {
            return Err(Problem::NotOffered);
        }
        Ok(())
    }
}

/// A note or reason, trimmed: empty is allowed for a note.
pub fn note(value: &str) -> Result<String, Problem> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    check_text(v)
}

/// A reason to cancel or reschedule: required.
pub fn required_reason(value: &str) -> Result<String, Problem> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Problem::ReasonMissing);
    }
    check_text(v)
}

fn check_text(v: &str) -> Result<String, Problem> {
    if v.chars().count() > MAX_REASON_CHARS {
        return Err(Problem::ReasonTooLong);
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(Problem::ReasonControl);
    }
    Ok(v.to_owned())
}

/// Why a scheduling step was refused, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("That time has passed. Choose a later one.")]
    Past,
    #[error("That time is too far ahead. Choose one within the next {MAX_AHEAD_DAYS} days.")]
    TooFar,
    #[error("The clinic does not offer that time. Choose one of the times shown.")]
    NotOffered,
    #[error("Someone has just booked that time. Choose another one.")]
    Taken,
    #[error("Choose at least one time to offer.")]
    NoSlots,
    #[error("Offer at most {MAX_PROPOSED} times at once.")]
    TooManySlots,
    #[error("Each time may be offered once.")]
    DuplicateSlot,
    #[error("An appointment was already booked from these times.")]
    ProposalUsed,
    #[error("This appointment is no longer booked ({}).", .0.label().to_lowercase())]
    AlreadyEnded(Status),
    #[error("This appointment has already begun. Please call the clinic.")]
    Started,
    #[error("Please say why, in a few words.")]
    ReasonMissing,
    #[error("Keep it to {MAX_REASON_CHARS} characters.")]
    ReasonTooLong,
    #[error("Use plain text without control characters such as tabs.")]
    ReasonControl,
}
