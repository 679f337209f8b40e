//! The same-day readiness gate: go or no-go, with reasons.

use std::collections::BTreeSet;

use jiff::ZonedDateTime as Zoned;
use jiff::civil::Date;
use serde::Serialize;

use crate::answers::{Answer, Answers, InvalidAnswers};
use crate::clinic::Protocol;
use crate::engine::{Reason, fire};
use crate::evidence::{EvidenceBase, Outcome};
use crate::hygiene::Device;
use crate::records::SessionRecord;
use crate::schedule::{LastSession, NextSession, next_session};
use crate::screening::{ScreeningResult, Verdict};
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
    /// The healing interval after the last session has not yet elapsed at
    /// the moment of the check (elapsed time, not calendar days), or no
    /// date can be given at all.
    pub interval_waiting: bool,
    pub symptom_lock: bool,
    /// The device's needle is longer than the one the latest screening
    /// was for.
    pub device_needle_over_screening: bool,
    /// The last session used a needle longer than any home interval.
    pub last_needle_beyond_home: bool,
    /// The latest screening asked to be taken again by today (see
    /// [`ScreeningResult::review_by`]).
    pub screening_review_due: bool,
    /// The chosen device is a motorised pen.
    pub device_is_pen: bool,
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
    /// That spacing has not yet elapsed at the moment of the check.
    pub waiting: bool,
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
        answers.set("interval_waiting", Answer::Bool(self.interval_waiting));
        answers.set(
            "screening_review_due",
            Answer::Bool(self.screening_review_due),
        );
        answers.set("device_is_pen", Answer::Bool(self.device_is_pen));
        answers.set("symptom_lock", Answer::Bool(self.symptom_lock));
        answers.set(
            "last_needle_beyond_home",
            Answer::Bool(self.last_needle_beyond_home),
        );
        answers.set(
            "device_needle_over_screening",
            Answer::Bool(self.device_needle_over_screening),
        );
        let p = self.protocol.as_ref();
        if let Some(d) = p.and_then(|p| p.earliest_next_session) {
            answers.set("protocol_earliest_next_session", Answer::Date(d));
        }
        answers.set(
            "protocol_interval_waiting",
            Answer::Bool(p.is_some_and(|p| p.waiting)),
        );
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

/// What the store knows that the gate needs, as loaded by the actions
/// layer.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// The latest screening's result.
    pub screening: Option<&'a ScreeningResult>,
    /// The roller or pen the check is for.
    pub device: Option<&'a Device>,
    /// Every session of the profile, in any order.
    pub sessions: &'a [SessionRecord],
    /// A red flag is open.
    pub locked: bool,
    /// The protocol a clinician prescribed, when one is in force.
    pub protocol: Option<&'a Protocol>,
}

impl ReadinessFacts {
    /// The facts at `now` (whose zone is the person's). Waits are elapsed
    /// time from the last session's end, so the answer does not depend on
    /// the zone a session was logged in.
    pub fn at(base: &EvidenceBase, known: &Known<'_>, now: &Zoned) -> ReadinessFacts {
        let rules = &base.defaults.hygiene;
        let screened_mm = known.screening.map(|s| s.needle_length_mm);
        let last = known
            .sessions
            .iter()
            .max_by_key(|s| (s.ended_at, s.id))
            .map(LastSession::from);
        let next = next_session(base, last, known.locked, now);
        let mut planned_zones: BTreeSet<Zone> = known
            .screening
            .map(|s| s.zones.iter().copied().collect())
            .unwrap_or_default();
        let protocol = known.protocol.map(|p| {
            planned_zones = p.narrow_zones(&planned_zones);
            let done = known
                .sessions
                .iter()
                .filter(|s| s.started_at >= p.prescribed_at && s.started_at <= now.timestamp())
                .count();
            let earliest_at = last.map(|l| p.earliest_after(l.ended_at));
            ProtocolFacts {
                earliest_next_session: earliest_at.map(|t| crate::schedule::local_date(t, now)),
                waiting: earliest_at.is_some_and(|t| now.timestamp() < t),
                course_complete: p.course_complete(u32::try_from(done).unwrap_or(u32::MAX)),
                needle_mismatch: screened_mm.is_some_and(|mm| !p.needle_matches(mm))
                    || known
                        .device
                        .is_some_and(|d| !p.needle_matches(d.kind.needle_length_mm())),
            }
        });
        ReadinessFacts {
            planned_zones,
            screening_verdict: known.screening.map(|s| s.verdict),
            device_ready: known.device.is_some_and(|d| d.is_ready(rules)),
            device_replacement_due: known.device.is_some_and(|d| d.replacement_due(rules)),
            earliest_next_session: next.earliest(),
            interval_waiting: !next.allowed_now(),
            symptom_lock: matches!(next, NextSession::Locked { .. }),
            last_needle_beyond_home: matches!(next, NextSession::ClinicOnly { .. }),
            device_needle_over_screening: match (known.device, screened_mm) {
                (Some(d), Some(mm)) => d.kind.needle_length_mm() > mm + 1e-9,
                _ => false,
            },
            screening_review_due: known
                .screening
                .and_then(|s| s.review_by)
                .is_some_and(|d| now.date() >= d),
            device_is_pen: known.device.is_some_and(|d| d.kind.is_pen()),
            protocol,
        }
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
