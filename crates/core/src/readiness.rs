//! The same-day readiness gate: go or no-go, with reasons.

use std::collections::BTreeSet;

use jiff::civil::Date;
use serde::Serialize;

use crate::answers::{Answer, Answers, InvalidAnswers};
use crate::engine::{Reason, fire};
use crate::evidence::{EvidenceBase, Outcome};
use crate::screening::Verdict;
use crate::zone::Zone;

/// What needlewise knows, filled in as facts beside the person's answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadinessFacts {
    /// The zones the latest screening allows.
    pub planned_zones: BTreeSet<Zone>,
    pub screening_verdict: Option<Verdict>,
    pub device_ready: bool,
    pub device_replacement_due: bool,
    /// From the schedule; `None` when no date can be given (locked or
    /// clinic-only), which the symptom lock or screening then explains.
    pub earliest_next_session: Option<Date>,
    pub symptom_lock: bool,
    /// What a clinician's protocol adds, when one is in force.
    pub protocol: Option<ProtocolFacts>,
}

/// The readiness facts a prescribed protocol adds (see
/// [`crate::clinic::Protocol`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtocolFacts {
    /// The protocol's spacing after the last session (`None` before the
    /// first session).
    pub earliest_next_session: Option<Date>,
    /// The prescribed course is done: time for a review.
    pub course_complete: bool,
    /// The screened needle length is not the prescribed one.
    pub needle_mismatch: bool,
}

impl ReadinessFacts {
    fn apply(&self, answers: &mut Answers) {
        answers.set("planned_zones", Answer::Zones(self.planned_zones.clone()));
        answers.set(
            "screening_verdict",
            Answer::Choice(
                self.screening_verdict
                    .map_or("none", Verdict::id)
                    .to_owned(),
            ),
        );
        answers.set("device_ready", Answer::Bool(self.device_ready));
        answers.set(
            "device_replacement_due",
            Answer::Bool(self.device_replacement_due),
        );
        if let Some(d) = self.earliest_next_session {
            answers.set("earliest_next_session", Answer::Date(d));
        }
        answers.set("symptom_lock", Answer::Bool(self.symptom_lock));
        let p = self.protocol.as_ref();
        if let Some(d) = p.and_then(|p| p.earliest_next_session) {
            answers.set("protocol_earliest_next_session", Answer::Date(d));
        }
        answers.set(
            "protocol_course_complete",
            Answer::Bool(p.is_some_and(|p| p.course_complete)),
        );
        answers.set(
            "protocol_needle_mismatch",
            Answer::Bool(p.is_some_and(|p| p.needle_mismatch)),
        );
    }
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    pub go: bool,
    pub headline: String,
    /// The zones to treat today.
    pub zones: Vec<Zone>,
    /// Zones skipped today, with the rules that skipped them.
    pub skipped_zones: Vec<Zone>,
    pub reasons: Vec<Reason>,
}

/// Runs the gate on today's answers and the facts.
pub fn check(
    base: &EvidenceBase,
    answers: &Answers,
    facts: &ReadinessFacts,
    today: Date,
) -> Result<Readiness, InvalidAnswers> {
    let q = &base.readiness;
    let mut answers = answers.clone();
    facts.apply(&mut answers);
    answers.require_complete(q)?;
    let firings = fire(q, &answers, today);
    let skipped: BTreeSet<Zone> = firings
        .iter()
        .filter(|f| f.rule.outcome == Outcome::SkipZones)
        .flat_map(|f| f.hit.zones.iter().flatten().copied())
        .collect();
    let zones: Vec<Zone> = Zone::ALL
        .into_iter()
        .filter(|z| facts.planned_zones.contains(z) && !skipped.contains(z))
        .collect();
    let no_go = firings.iter().any(|f| f.rule.outcome == Outcome::NoGo);
    let go = !no_go && !zones.is_empty();
    let mut reasons: Vec<Reason> = firings.iter().map(Reason::from).collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.outcome == Outcome::NoGo));
    let headline = if go && skipped.is_empty() {
        "Go: you are ready for today's session.".to_owned()
    } else if go {
        format!(
            "Go, skipping {}.",
            skipped
                .iter()
                .map(|z| z.label())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if no_go {
        "Not today. The reasons are below.".to_owned()
    } else {
        "Not today: no zone is left to treat.".to_owned()
    };
    Ok(Readiness {
        go,
        headline,
        zones,
        skipped_zones: skipped.into_iter().collect(),
        reasons,
    })
}

/// The no-go rules that hold on facts alone (screening, device, interval,
/// red flag), before the person has answered today's questions: the same
/// rules, words and sources as [`check`]. A page can show these at once.
pub fn fact_reasons(base: &EvidenceBase, facts: &ReadinessFacts, today: Date) -> Vec<Reason> {
    let q = &base.readiness;
    let is_fact = |id: &str| q.question(id).is_some_and(|question| question.fact);
    let mut answers = Answers::new();
    facts.apply(&mut answers);
    fire(q, &answers, today)
        .iter()
        .filter(|f| f.rule.outcome == Outcome::NoGo)
        .filter(|f| {
            let mut read = Vec::new();
            f.rule.when.visit_questions(&mut read);
            !read.is_empty() && read.iter().all(|(id, _)| is_fact(id))
        })
        .map(Reason::from)
        .collect()
}
