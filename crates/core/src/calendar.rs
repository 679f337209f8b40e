//! A profile's calendar: what to put in the person's own calendar app so
//! reminders live there (a subscription feed or an exported file).
//!
//! This builds a calendar *model*, not text: the web app and the command
//! line render it as iCalendar. It is derived only from the facts passed in
//! and the time passed in, so every fetch of the same state gives the same
//! events with the same UIDs, and a calendar app updates rather than
//! duplicates them.
//!
//! What goes in:
//! - the earliest next session after the last one (none while a warning sign
//!   is open, and none when the last needle was longer than home use covers),
//! - the planned sessions of the course still ahead, and its review,
//! - the check-ins due after the last session,
//! - a reminder to replace a roller that is due for replacement or has two
//!   uses or fewer left.
//!
//! Words are plain and never diagnostic.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::evidence::EvidenceBase;
use crate::hygiene::{Device, HygieneState};
use crate::ids::ProfileId;
use crate::records::SessionRecord;
use crate::schedule::{LastSession, NextSession, course_plan, next_session};
use crate::triage::checkin_schedule;

/// Rollers with this many uses left or fewer get a replacement reminder.
pub const REPLACE_REMINDER_USES_LEFT: u32 = 2;

/// All-day reminders alarm at this time of day, in the calendar's own time
/// zone (an offset from the start of the day).
pub const ALL_DAY_ALARM: SignedDuration = SignedDuration::from_hours(9);

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    NextSession,
    CourseSession,
    CourseReview,
    Checkin,
    ReplaceDevice,
    /// A booked appointment at the clinic.
    Appointment,
}

impl EventKind {
    /// The kind's name in UIDs.
    pub fn id(self) -> &'static str {
        match self {
            EventKind::NextSession => "next-session",
            EventKind::CourseSession => "course-session",
            EventKind::CourseReview => "course-review",
            EventKind::Checkin => "checkin",
            EventKind::ReplaceDevice => "replace-device",
            EventKind::Appointment => "appointment",
        }
    }
}

/// When an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum EventTime {
    /// A whole day, in whatever time zone the calendar app is in.
    AllDay(Date),
    /// A moment.
    At(Timestamp),
    /// From one moment to another (an appointment).
    Between(Timestamp, Timestamp),
}

impl EventTime {
    /// The (local) date of an all-day event, or the UTC date of a moment:
    /// used for ordering and in UIDs.
    pub fn date(&self) -> Date {
        match self {
            EventTime::AllDay(d) => *d,
            EventTime::At(t) | EventTime::Between(t, _) => {
                t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()
            }
        }
    }
}

/// A reminder, relative to the event's start (for an all-day event, the
/// start of its day: 9 hours is 9:00 on the day).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub after_start: SignedDuration,
    pub description: String,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarEvent {
    /// Stable: derived from the profile, the kind and the date (and the
    /// device, for device reminders).
    pub uid: String,
    pub kind: EventKind,
    pub when: EventTime,
    pub summary: String,
    pub description: String,
    pub alarm: Alarm,
}

/// A profile's calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarModel {
    pub name: String,
    pub description: String,
    /// When this was made (the calendar's DTSTAMP).
    pub generated_at: Timestamp,
    /// Earliest first.
    pub events: Vec<CalendarEvent>,
}

/// What the calendar is built from.
#[derive(Debug, Clone, Copy)]
pub struct CalendarFacts<'a> {
    pub profile: ProfileId,
    /// The profile's name, for the calendar's title.
    pub profile_name: &'a str,
    /// The profile's sessions, newest first (as the store returns them).
    pub sessions: &'a [SessionRecord],
    /// A warning sign is open: no session dates until it is resolved.
    pub locked: bool,
    pub devices: &'a [Device],
    /// The profile's appointments, with their clinic's name; the booked
    /// ones still to come are events.
    pub appointments: &'a [(crate::appointment::Appointment, String)],
}

/// An appointment's reminder: this long before it starts.
pub const APPOINTMENT_ALARM: SignedDuration = SignedDuration::from_hours(-2);

/// The UID of an appointment's event, the same in the feed and in the
/// invitation emailed when it is booked or cancelled.
pub fn appointment_uid(id: crate::ids::AppointmentId) -> String {
    format!("appointment-{id}@needlewise")
}

/// An appointment's event.
pub fn appointment_event(a: &crate::appointment::Appointment, clinic: &str) -> CalendarEvent {
    CalendarEvent {
        uid: appointment_uid(a.id),
        kind: EventKind::Appointment,
        when: EventTime::Between(a.slot.start, a.slot.end),
        summary: format!("Appointment at {clinic}"),
        description: format!(
            "Your appointment at {clinic}. If you cannot come, cancel or move it in needlewise, or call the clinic."
        ),
        alarm: Alarm {
            after_start: APPOINTMENT_ALARM,
            description: format!("Your appointment at {clinic} is in two hours."),
        },
    }
}

/// Builds the calendar for `facts` at `now` (in the person's zone).
pub fn build(
    base: &EvidenceBase,
    facts: &CalendarFacts<'_>,
    zoned_now: &jiff::ZonedDateTime,
) -> CalendarModel {
    let now = zoned_now.timestamp();
    let today = zoned_now.date();
    let uid =
        |kind: EventKind, key: &str| format!("{}-{key}-{}@needlewise", kind.id(), facts.profile);
    let day_alarm = |description: &str| Alarm {
        after_start: ALL_DAY_ALARM,
        description: description.to_owned(),
    };
    let mut events = Vec::new();

    let newest = facts.sessions.iter().max_by_key(|s| (s.ended_at, s.id));
    let next = next_session(base, newest.map(LastSession::from), facts.locked, zoned_now);

    // The next session and the course: only once a session is logged (the
    // plan is anchored on real dates) and only while sessions are allowed.
    let mut next_day = None;
    if let (
        Some(newest),
        NextSession::After {
            earliest,
            earliest_at,
            last,
            ..
        },
    ) = (newest, &next)
    {
        let earliest = *earliest;
        let days = earliest_at.duration_since(newest.ended_at).as_hours() / 24;
        let from = earliest_at
            .to_zoned_datetime(zoned_now.time_zone().clone())
            .strftime("%H:%M");
        next_day = Some(earliest);
        events.push(CalendarEvent {
            uid: uid(EventKind::NextSession, &earliest.to_string()),
            kind: EventKind::NextSession,
            when: EventTime::AllDay(earliest),
            summary: "Microneedling: earliest day for your next session".into(),
            description: format!(
                "Your skin needs {days} days to recover after a session like your last one, on {last}. \
                 From {from} this day on you may have your next session: it is the earliest time, not a must. \
                 Run the readiness check in needlewise before you start. \
                 If your skin does not look or feel right, wait and ask your facial plastic surgeon."
            ),
            alarm: day_alarm("From today you may have your next microneedling session. Run the readiness check first."),
        });
        let plan = course_plan(base, facts.sessions, newest.needle_length_mm, zoned_now);
        let total = plan.sessions.len();
        for s in plan
            .sessions
            .iter()
            .filter(|s| !s.done && s.date > earliest)
        {
            events.push(CalendarEvent {
                uid: uid(EventKind::CourseSession, &s.date.to_string()),
                kind: EventKind::CourseSession,
                when: EventTime::AllDay(s.date),
                summary: format!("Microneedling: course session {} of {total} (planned)", s.number),
                description: "A planned session of your course. Run the readiness check in needlewise before you start, \
                     and move it if your skin is not ready."
                    .into(),
                alarm: day_alarm("A planned microneedling session is today. Run the readiness check first."),
            });
        }
        if let Some(review) = plan.review_on.filter(|d| *d >= today) {
            events.push(CalendarEvent {
                uid: uid(EventKind::CourseReview, &review.to_string()),
                kind: EventKind::CourseReview,
                when: EventTime::AllDay(review),
                summary: "Microneedling: review your course".into(),
                description: "Your course is about complete. Look back at your notes and photos, \
                     and ask your facial plastic surgeon before you plan more sessions."
                    .into(),
                alarm: day_alarm("Time to review your microneedling course."),
            });
        }
    }

    // Check-ins after the last session, whatever the schedule says.
    if let Some(newest) = newest {
        let session_day = newest.local_date;
        for at in checkin_schedule(base, newest.ended_at) {
            let hours = at.duration_since(newest.ended_at).as_hours();
            let after = match hours {
                24 => "1 day".to_owned(),
                h if h % 24 == 0 => format!("{} days", h / 24),
                h => format!("{h} h"),
            };
            events.push(CalendarEvent {
                uid: uid(EventKind::Checkin, &at.strftime("%Y%m%dT%H%M%SZ").to_string()),
                kind: EventKind::Checkin,
                when: EventTime::At(at),
                summary: format!("Microneedling: skin check-in ({after} after your session)"),
                description: format!(
                    "A quick check-in in needlewise about your session on {session_day}: how does your skin look and feel? \
                     If something worries you, ask your facial plastic surgeon."
                ),
                alarm: Alarm {
                    after_start: SignedDuration::ZERO,
                    description: "Time for your skin check-in in needlewise.".into(),
                },
            });
        }
    }

    // Device replacement: before the next session when there is one.
    let rules = &base.defaults.hygiene;
    let reminder_day = next_day.filter(|d| *d >= today).unwrap_or(today);
    for device in facts
        .devices
        .iter()
        .filter(|d| d.state != HygieneState::Retired)
    {
        let status = device.status(now, rules);
        let low = !device.kind.is_pen() && status.uses_left <= REPLACE_REMINDER_USES_LEFT;
        if !(status.replacement_due || low) {
            continue;
        }
        let what = if device.kind.is_pen() {
            "pen"
        } else {
            "roller"
        };
        let (summary, description) = if status.replacement_due {
            (
                format!(
                    "Microneedling: replace your {what} \u{201c}{}\u{201d}",
                    device.name
                ),
                format!(
                    "Your {what} \u{201c}{}\u{201d} has reached its use limit or was reported damaged. \
                     Use a new one for your next session.",
                    device.name
                ),
            )
        } else {
            (
                format!(
                    "Microneedling: get a new {what} soon (\u{201c}{}\u{201d})",
                    device.name
                ),
                format!(
                    "Your {what} \u{201c}{}\u{201d} has {} use{} left before it must be replaced. \
                     Have a new one ready.",
                    device.name,
                    status.uses_left,
                    if status.uses_left == 1 { "" } else { "s" }
                ),
            )
        };
        events.push(CalendarEvent {
            uid: uid(
                EventKind::ReplaceDevice,
                &format!("{reminder_day}-{}", device.id),
            ),
            kind: EventKind::ReplaceDevice,
            when: EventTime::AllDay(reminder_day),
            summary,
            description,
            alarm: day_alarm(&format!(
                "Check your {what} before your next microneedling session."
            )),
        });
    }

    for (a, clinic) in facts.appointments {
        if a.is_booked() && a.slot.end > now {
            events.push(appointment_event(a, clinic));
        }
    }

    events.sort_by(|a, b| (a.when.date(), a.kind, &a.uid).cmp(&(b.when.date(), b.kind, &b.uid)));
    CalendarModel {
        name: format!("needlewise: {}", facts.profile_name),
        description: "Microneedling reminders from needlewise: when to treat and when to check in."
            .into(),
        generated_at: now,
        events,
    }
}
