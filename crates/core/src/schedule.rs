//! When the next session may be, and the shape of a course.

use jiff::civil::Date;
use serde::Serialize;

use crate::evidence::{EvidenceBase, IntervalBand};

/// The last session, as the schedule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LastSession {
    pub date: Date,
    pub needle_length_mm: f64,
}

/// Why the next session is not yet possible, or what allows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum NextSession {
    /// No session yet: the first can be today, once readiness passes.
    FirstSession { earliest: Date },
    /// The skin needs this long after the last session.
    After {
        earliest: Date,
        last: Date,
        wait: String,
        explanation: String,
        today_ok: bool,
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
}

/// The home interval band for a needle length, if home use covers it.
pub fn interval_for(base: &EvidenceBase, needle_length_mm: f64) -> Option<&IntervalBand> {
    base.defaults
        .intervals
        .iter()
        .find(|b| needle_length_mm <= b.max_mm + 1e-9)
}

/// The earliest next session.
pub fn next_session(
    base: &EvidenceBase,
    last: Option<LastSession>,
    locked: bool,
    today: Date,
) -> NextSession {
    if locked {
        return NextSession::Locked {
            explanation: "A check-in raised a warning sign. No new sessions until your facial plastic surgeon has looked at it and it is marked resolved.".into(),
        };
    }
    let Some(last) = last else {
        return NextSession::FirstSession { earliest: today };
    };
    match interval_for(base, last.needle_length_mm) {
        None => NextSession::ClinicOnly {
            explanation: format!(
                "Your last session used a {} mm needle, longer than home use allows. Ask your facial plastic surgeon when to treat again.",
                last.needle_length_mm
            ),
        },
        Some(band) => {
            let earliest = band.wait.after(last.date).unwrap_or(last.date);
            NextSession::After {
                earliest,
                last: last.date,
                wait: band.wait.to_string(),
                explanation: band.cited.explanation.clone(),
                today_ok: today >= earliest,
                by_protocol: false,
            }
        }
    }
}

/// One planned session of a course.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CourseSession {
    pub number: u32,
    pub date: Date,
    pub done: bool,
}

/// A course: sessions spaced by the larger of the course wait and the
/// needle's healing interval, then a review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoursePlan {
    pub sessions: Vec<CourseSession>,
    pub review_on: Option<Date>,
    pub explanation: String,
}

/// Plans a course starting on `start`, with `done` sessions already behind.
pub fn course_plan(
    base: &EvidenceBase,
    start: Date,
    needle_length_mm: f64,
    done: u32,
) -> CoursePlan {
    let course = &base.defaults.course;
    let interval = interval_for(base, needle_length_mm);
    let mut sessions = Vec::new();
    let mut date = start;
    for number in 1..=course.sessions {
        sessions.push(CourseSession {
            number,
            date,
            done: number <= done,
        });
        let by_course = course.wait.after(date).unwrap_or(date);
        let by_healing = interval.and_then(|b| b.wait.after(date)).unwrap_or(date);
        date = by_course.max(by_healing);
    }
    CoursePlan {
        review_on: course.review_after.after(start),
        sessions,
        explanation: course.cited.explanation.clone(),
    }
}
