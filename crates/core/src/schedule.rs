//! When the next session may be, and the shape of a course.
//!
//! Waits are elapsed time from the moment the last session ended: a 3-day
//! wait is 72 hours whatever time zone the session, the person or the server
//! is in. Dates shown are those moments in the person's current zone.

use jiff::civil::Date;
use jiff::{Timestamp, ZonedDateTime as Zoned};
use serde::Serialize;

use crate::evidence::{EvidenceBase, IntervalBand};
use crate::records::SessionRecord;

/// The last session, as the schedule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LastSession {
    /// When it ended: waits count from here.
    pub ended_at: Timestamp,
    pub needle_length_mm: f64,
}

impl From<&SessionRecord> for LastSession {
    fn from(s: &SessionRecord) -> Self {
        LastSession {
            ended_at: s.ended_at,
            needle_length_mm: s.needle_length_mm,
        }
    }
}

/// Why the next session is not yet possible, or what allows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum NextSession {
    /// No session yet: the first can be today, once readiness passes.
    FirstSession { earliest: Date },
    /// The skin needs this long after the last session.
    After {
        /// The day of `earliest_at` in the person's zone.
        earliest: Date,
        /// The first moment the next session may start.
        earliest_at: Timestamp,
        /// The day of the last session's end in the person's zone.
        last: Date,
        /// When the last session ended.
        last_at: Timestamp,
        wait: String,
        explanation: String,
        /// The wait is over at the moment asked about.
        now_ok: bool,
        /// The date comes from a clinician's protocol, not the healing
        /// interval.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        by_protocol: bool,
    },
    /// A red flag is open; no date until it is resolved.
    Locked { explanation: String },
    /// The last session used a needle longer than any home interval covers.
    ClinicOnly { explanation: String },
}

impl NextSession {
    /// The earliest date, when there is one.
    pub fn earliest(&self) -> Option<Date> {
        match self {
            NextSession::FirstSession { earliest } | NextSession::After { earliest, .. } => {
                Some(*earliest)
            }
            _ => None,
        }
    }

    /// Whether the wait (if any) is over at the moment asked about; false
    /// when no date can be given.
    pub fn allowed_now(&self) -> bool {
        match self {
            NextSession::FirstSession { .. } => true,
            NextSession::After { now_ok, .. } => *now_ok,
            _ => false,
        }
    }
}

/// The home interval band for a needle length, if home use covers it.
pub fn interval_for(base: &EvidenceBase, needle_length_mm: f64) -> Option<&IntervalBand> {
    base.defaults
        .intervals
        .iter()
        .find(|b| needle_length_mm <= b.max_mm + 1e-9)
}

/// The earliest next session, asked at `now` (whose zone is the person's).
pub fn next_session(
    base: &EvidenceBase,
    last: Option<LastSession>,
    locked: bool,
    now: &Zoned,
) -> NextSession {
    if locked {
        return NextSession::Locked {
            explanation: "A check-in raised a warning sign. No new sessions until your facial plastic surgeon has looked at it and it is marked resolved.".into(),
        };
    }
    let Some(last) = last else {
        return NextSession::FirstSession {
            earliest: now.date(),
        };
    };
    match interval_for(base, last.needle_length_mm) {
        None => NextSession::ClinicOnly {
            explanation: format!(
                "Your last session used a {} mm needle, longer than home use allows. Ask your facial plastic surgeon when to treat again.",
                last.needle_length_mm
            ),
        },
        Some(band) => {
            let earliest_at = band
                .wait
                .after_instant(last.ended_at)
                .unwrap_or(Timestamp::MAX);
            NextSession::After {
                earliest: local_date(earliest_at, now),
                earliest_at,
                last: local_date(last.ended_at, now),
                last_at: last.ended_at,
                wait: band.wait.to_string(),
                explanation: band.cited.explanation.clone(),
                now_ok: now.timestamp() >= earliest_at,
                by_protocol: false,
            }
        }
    }
}

/// The day of a moment in the zone of `now`.
pub fn local_date(t: Timestamp, now: &Zoned) -> Date {
    t.to_zoned_datetime(now.time_zone().clone()).date()
}

/// One session of a course: done, or planned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CourseSession {
    pub number: u32,
    pub date: Date,
    /// A session happened (at or before the moment asked about).
    pub done: bool,
}

/// Where a course stands at the moment asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CourseStatus {
    /// No session yet.
    NotStarted,
    /// Sessions done, more planned, the review not yet passed.
    InProgress,
    /// Every session of the course is done.
    Finished,
    /// The review date passed before the course was finished.
    Lapsed,
}

/// A course: sessions spaced by the larger of the course wait and the
/// needle's healing interval, then a review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoursePlan {
    pub sessions: Vec<CourseSession>,
    pub review_on: Option<Date>,
    pub status: CourseStatus,
    pub explanation: String,
}

/// The course at `now`: the sessions that happened at or before `now`
/// (their dates in `now`'s zone) marked done, the rest planned from the
/// last one, never before today. `sessions` may be in any order; sessions
/// after `now` do not count.
pub fn course_plan(
    base: &EvidenceBase,
    sessions: &[SessionRecord],
    needle_length_mm: f64,
    now: &Zoned,
) -> CoursePlan {
    let course = &base.defaults.course;
    let today = now.date();
    let mut done: Vec<Date> = sessions
        .iter()
        .filter(|s| s.started_at <= now.timestamp())
        .map(|s| local_date(s.started_at, now))
        .collect();
    done.sort();
    let interval = interval_for(base, needle_length_mm);
    let spaced = |date: Date| {
        let by_course = course.wait.after(date).unwrap_or(date);
        let by_healing = interval.and_then(|b| b.wait.after(date)).unwrap_or(date);
        by_course.max(by_healing)
    };
    let start = done.first().copied().unwrap_or(today);
    let mut planned_sessions = Vec::new();
    let mut previous: Option<Date> = None;
    for number in 1..=course.sessions {
        let index = (number - 1) as usize;
        let (date, is_done) = match done.get(index) {
            Some(d) => (*d, true),
            None => (previous.map_or(today, spaced).max(today), false),
        };
        planned_sessions.push(CourseSession {
            number,
            date,
            done: is_done,
        });
        previous = Some(date);
    }
    let review_on = course.review_after.after(start);
    let finished = done.len() >= course.sessions as usize;
    let status = if done.is_empty() {
        CourseStatus::NotStarted
    } else if finished {
        CourseStatus::Finished
    } else if review_on.is_some_and(|r| today > r) {
        CourseStatus::Lapsed
    } else {
        CourseStatus::InProgress
    };
    CoursePlan {
        review_on,
        sessions: planned_sessions,
        status,
        explanation: course.cited.explanation.clone(),
    }
}

impl CoursePlan {
    /// The course's state in a sentence.
    pub fn status_words(&self) -> &'static str {
        match self.status {
            CourseStatus::NotStarted => "Your course starts with your first session.",
            CourseStatus::InProgress => "Your course is under way.",
            CourseStatus::Finished => {
                "Your course is finished: review your results, and ask your facial plastic surgeon before starting another."
            }
            CourseStatus::Lapsed => {
                "Your course ran past its review date before it was finished. Review your results, and ask your facial plastic surgeon before going on."
            }
        }
    }
}
