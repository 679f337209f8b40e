//! Symptom check-ins compared with the expected course.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::answers::{Answer, Answers, InvalidAnswers};
use crate::engine::{Reason, fire, fire_partial};
use crate::evidence::{EvidenceBase, Outcome};

/// How a check-in compares with the expected course, mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageLevel {
    Expected,
    Watch,
    ContactSurgeon,
    UrgentCare,
}

impl TriageLevel {
    pub fn id(self) -> &'static str {
        match self {
            TriageLevel::Expected => "expected",
            TriageLevel::Watch => "watch",
            TriageLevel::ContactSurgeon => "contact_surgeon",
            TriageLevel::UrgentCare => "urgent_care",
        }
    }

    /// From `contact_surgeon` up, new sessions are locked until resolved.
    pub fn locks_sessions(self) -> bool {
        self >= TriageLevel::ContactSurgeon
    }

    pub fn headline(self) -> &'static str {
        match self {
            TriageLevel::Expected => "This is the expected course. Keep following your aftercare.",
            TriageLevel::Watch => "Keep an eye on this and check in again tomorrow.",
            TriageLevel::ContactSurgeon => {
                "Please contact your facial plastic surgeon. New sessions are locked until this is resolved."
            }
            TriageLevel::UrgentCare => {
                "Seek urgent care now. If you have trouble breathing or a seizure, call emergency services."
            }
        }
    }

    fn from_outcome(o: Outcome) -> TriageLevel {
        match o {
            Outcome::UrgentCare => TriageLevel::UrgentCare,
            Outcome::ContactSurgeon => TriageLevel::ContactSurgeon,
            Outcome::Watch => TriageLevel::Watch,
            _ => TriageLevel::Expected,
        }
    }
}

impl fmt::Display for TriageLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for TriageLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            TriageLevel::Expected,
            TriageLevel::Watch,
            TriageLevel::ContactSurgeon,
            TriageLevel::UrgentCare,
        ]
        .into_iter()
        .find(|l| l.id() == s)
        .ok_or_else(|| format!("unknown triage level {s:?}"))
    }
}

/// The result of a check-in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    pub level: TriageLevel,
    pub headline: &'static str,
    pub locks_sessions: bool,
    pub hours_since_session: f64,
    pub reasons: Vec<Reason>,
    /// Questions still unanswered: a check-in is taken with answers missing
    /// only when the answers given already call for the surgeon or urgent
    /// care, whatever the rest turn out to be. Ask these next.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl Triage {
    /// Some answers were missing (see [`Triage::missing`]).
    pub fn is_partial(&self) -> bool {
        !self.missing.is_empty()
    }
}

/// Classifies a check-in. `answers` are the person's; the time since the
/// session is added here as a fact.
pub fn assess(
    base: &EvidenceBase,
    answers: &Answers,
    session_ended_at: Timestamp,
    now: Timestamp,
    today: jiff::civil::Date,
) -> Result<Triage, InvalidAnswers> {
    let q = &base.checkin;
    let (answers, hours) = with_hours(answers, session_ended_at, now);
    answers.require_complete(q)?;
    Ok(triage(&fire(q, &answers, today), hours, Vec::new()))
}

/// The triage the fired rules give: the strongest level, reasons strongest
/// first.
fn triage(firings: &[crate::engine::Firing<'_>], hours: f64, missing: Vec<String>) -> Triage {
    let level = firings
        .iter()
        .map(|f| TriageLevel::from_outcome(f.rule.outcome))
        .max()
        .unwrap_or(TriageLevel::Expected);
    let mut reasons: Vec<Reason> = firings.iter().map(Reason::from).collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(TriageLevel::from_outcome(r.outcome)));
    Triage {
        level,
        headline: level.headline(),
        locks_sessions: level.locks_sessions(),
        hours_since_session: (hours * 10.0).round() / 10.0,
        reasons,
        missing,
    }
}

fn with_hours(answers: &Answers, session_ended_at: Timestamp, now: Timestamp) -> (Answers, f64) {
    let mut answers = answers.clone();
    let hours = now
        .duration_since(session_ended_at)
        .max(SignedDuration::ZERO)
        .as_secs_f64()
        / 3600.0;
    answers.set("hours_since_session", Answer::Number(hours));
    answers.set("day_passed", Answer::Bool(hours >= 24.0));
    if answers.get("earlier_checkin").is_none() {
        answers.set("earlier_checkin", Answer::Bool(false));
    }
    (answers, hours)
}

/// Classifies a check-in that may have answers missing. Complete answers
/// are assessed as [`assess`] does. With answers missing, the rules that
/// fire whatever the missing answers turn out to be are applied: when they
/// reach `contact_surgeon` or `urgent_care` the check-in counts, partial
/// (a red flag must never wait for an unrelated answer), and
/// [`Triage::missing`] lists what to ask next; otherwise the missing
/// answers are the error, as for [`assess`].
pub fn assess_partial(
    base: &EvidenceBase,
    answers: &Answers,
    session_ended_at: Timestamp,
    now: Timestamp,
    today: jiff::civil::Date,
) -> Result<Triage, InvalidAnswers> {
    let q = &base.checkin;
    let (full, hours) = with_hours(answers, session_ended_at, now);
    let Err(missing) = full.require_complete(q) else {
        return assess(base, answers, session_ended_at, now, today);
    };
    let partial = triage(
        &fire_partial(q, &full, today),
        hours,
        missing.0.iter().map(|f| f.field.clone()).collect(),
    );
    if partial.locks_sessions {
        Ok(partial)
    } else {
        Err(missing)
    }
}

/// The facts a check-in's questions depend on, before it is answered:
/// whether a day has passed since the session and whether an earlier
/// check-in about it exists. A front end starts from these, so it asks
/// exactly what [`assess`] will require.
pub fn checkin_facts(
    session_ended_at: Timestamp,
    now: Timestamp,
    earlier_checkin: bool,
) -> Answers {
    let mut answers = Answers::new();
    answers.set("earlier_checkin", Answer::Bool(earlier_checkin));
    with_hours(&answers, session_ended_at, now).0
}

/// When to check in after a session that ended at `ended_at`.
pub fn checkin_schedule(base: &EvidenceBase, ended_at: Timestamp) -> Vec<Timestamp> {
    base.defaults
        .checkins
        .after
        .iter()
        .filter_map(|d| ended_at.checked_add(d.0).ok())
        .collect()
}
