//! Candidacy screening: may this person microneedle their face at home?

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::answers::{Answers, InvalidAnswers};
use crate::engine::{Reason, fire};
use crate::evidence::{EvidenceBase, Outcome};
use crate::zone::Zone;

/// The screening's answer, from best to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Go,
    GoWithPrecautions,
    AskSurgeonFirst,
    NotAtHome,
}

impl Verdict {
    pub fn id(self) -> &'static str {
        match self {
            Verdict::Go => "go",
            Verdict::GoWithPrecautions => "go_with_precautions",
            Verdict::AskSurgeonFirst => "ask_surgeon_first",
            Verdict::NotAtHome => "not_at_home",
        }
    }

    /// Whether home sessions may go ahead.
    pub fn allows_home_sessions(self) -> bool {
        matches!(self, Verdict::Go | Verdict::GoWithPrecautions)
    }

    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Go => "You can microneedle at home.",
            Verdict::GoWithPrecautions => {
                "You can microneedle at home, with the precautions below."
            }
            Verdict::AskSurgeonFirst => {
                "Please ask your facial plastic surgeon before microneedling."
            }
            Verdict::NotAtHome => "Microneedling at home is not safe for you now.",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Verdict::Go,
            Verdict::GoWithPrecautions,
            Verdict::AskSurgeonFirst,
            Verdict::NotAtHome,
        ]
        .into_iter()
        .find(|v| v.id() == s)
        .ok_or_else(|| format!("unknown verdict {s:?}"))
    }
}

/// A zone left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedZone {
    pub zone: Zone,
    pub rule_ids: Vec<String>,
    /// The zone may be treated again from this day, when the exclusion is
    /// a timed wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
}

/// The outcome of a screening. The store keeps it as this type's JSON; it
/// reads back only if every field still matches (no defaults that would
/// hide a renamed field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreeningResult {
    pub verdict: Verdict,
    pub headline: String,
    /// The first day a timed wait allows home use, when one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_from: Option<Date>,
    /// The day this screening stops holding and must be taken again: a
    /// precaution that ends on a date (such as a planned treatment coming
    /// within its wait). The readiness gate says no from this day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<Date>,
    /// Zones that may be treated.
    pub zones: Vec<Zone>,
    pub excluded_zones: Vec<ExcludedZone>,
    /// Precautions that come with a go.
    pub precautions: Vec<Reason>,
    /// Every rule that fired, strongest first.
    pub reasons: Vec<Reason>,
    /// The needle length screened, in mm.
    pub needle_length_mm: f64,
    /// Rules that would have applied but a clinician set aside for this
    /// person, with who, when and why (they no longer count above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<Overridden>,
}

/// A rule a clinician set aside, as the person sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overridden {
    /// The rule as it would have read.
    pub reason: Reason,
    /// The clinician's decision.
    pub by_name: String,
    pub at: jiff::Timestamp,
    pub why: String,
    /// The evidence that allows the override.
    pub evidence: crate::evidence::Cited,
}

/// Screens validated answers.
///
/// The answers must be complete (see [`Answers::require_complete`]); missing
/// answers are reported as [`InvalidAnswers`].
pub fn screen(
    base: &EvidenceBase,
    answers: &Answers,
    today: Date,
) -> Result<ScreeningResult, InvalidAnswers> {
    screen_with_overrides(base, answers, today, &[])
}

/// Screens as [`screen`] does, with a clinician's overrides in force: a
/// rule that fires and is overridden no longer counts toward the verdict,
/// and is listed in [`ScreeningResult::overridden`]. Only rules whose
/// evidence allows a clinician override can be set aside; overrides of any
/// other rule are ignored.
pub fn screen_with_overrides(
    base: &EvidenceBase,
    answers: &Answers,
    today: Date,
    overrides: &[crate::clinic::Override],
) -> Result<ScreeningResult, InvalidAnswers> {
    let q = &base.screening;
    answers.require_complete(q)?;
    let mut overridden = Vec::new();
    let firings: Vec<_> = fire(q, answers, today)
        .into_iter()
        .filter(|f| {
            let Some(evidence) = &f.rule.clinician_override else {
                return true;
            };
            let Some(o) = overrides.iter().find(|o| o.rule_id == f.rule.id) else {
                return true;
            };
            overridden.push(Overridden {
                reason: Reason::from(f),
                by_name: o.by_name.clone(),
                at: o.at,
                why: o.reason.clone(),
                evidence: evidence.clone(),
            });
            false
        })
        .collect();

    let planned: BTreeSet<Zone> = answers.zones("zones").cloned().unwrap_or_default();
    if planned.is_empty() {
        return Err(InvalidAnswers(vec![crate::answers::FieldError {
            field: "zones".into(),
            message: "name at least one zone to treat".into(),
        }]));
    }

    // Zone exclusions, merged per zone. A zone excluded with no end date
    // stays excluded; otherwise it frees on the latest of its dates.
    let mut excluded: BTreeMap<Zone, (Vec<String>, Option<Option<Date>>)> = BTreeMap::new();
    for f in firings
        .iter()
        .filter(|f| f.rule.outcome == Outcome::ExcludeZones)
    {
        for zone in f.hit.zones.iter().flatten() {
            let entry = excluded.entry(*zone).or_insert((Vec::new(), None));
            entry.0.push(f.rule.id.clone());
            entry.1 = Some(match (entry.1, f.hit.until) {
                (None, until) => until,
                (Some(Some(a)), Some(b)) => Some(a.max(b)),
                (Some(_), _) => None,
            });
        }
    }
    let excluded_zones: Vec<ExcludedZone> = excluded
        .into_iter()
        .map(|(zone, (rule_ids, until))| ExcludedZone {
            zone,
            rule_ids,
            until: until.flatten(),
        })
        .collect();
    let zones: Vec<Zone> = Zone::ALL
        .into_iter()
        .filter(|z| planned.contains(z) && !excluded_zones.iter().any(|e| e.zone == *z))
        .collect();

    let has = |o: Outcome| firings.iter().any(|f| f.rule.outcome == o);
    let (verdict, eligible_from) = if has(Outcome::NotAtHome) {
        let stops = firings
            .iter()
            .filter(|f| f.rule.outcome == Outcome::NotAtHome);
        let mut until = Some(None);
        for f in stops {
            until = match (until, f.hit.until) {
                (Some(prev), Some(d)) => Some(Some(prev.map_or(d, |p: Date| p.max(d)))),
                _ => None,
            };
        }
        (Verdict::NotAtHome, until.flatten())
    } else if has(Outcome::AskSurgeonFirst) {
        (Verdict::AskSurgeonFirst, None)
    } else if zones.is_empty() {
        // Every planned zone is left out: nothing may be treated now. The
        // earliest day a zone frees is when screening could say go again.
        let first_free = excluded_zones.iter().filter_map(|e| e.until).min();
        (Verdict::NotAtHome, first_free)
    } else if has(Outcome::Precaution) || has(Outcome::ExcludeZones) {
        (Verdict::GoWithPrecautions, None)
    } else {
        (Verdict::Go, None)
    };

    // A precaution with an end date turns into something stronger then
    // (a planned treatment coming within its wait): screen again by it.
    let review_by = firings
        .iter()
        .filter(|f| f.rule.outcome == Outcome::Precaution)
        .filter_map(|f| f.hit.until)
        .min();
    let mut reasons: Vec<Reason> = firings.iter().map(Reason::from).collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(severity(r.outcome)));
    let precautions = reasons
        .iter()
        .filter(|r| r.outcome == Outcome::Precaution)
        .cloned()
        .collect();
    // Every planned zone left out is not a contraindication: say so, and
    // name when and how it changes, apart from the absolute stops.
    let no_zone_now = verdict == Verdict::NotAtHome && !has(Outcome::NotAtHome);
    let headline = if no_zone_now {
        no_zone_headline(eligible_from)
    } else {
        verdict.headline().to_owned()
    };
    // The zones that may be treated: none unless home sessions may go ahead.
    let zones = if verdict.allows_home_sessions() {
        zones
    } else {
        Vec::new()
    };
    Ok(ScreeningResult {
        verdict,
        headline,
        eligible_from,
        review_by,
        zones,
        excluded_zones,
        precautions,
        reasons,
        needle_length_mm: answers.number("needle_length_mm").unwrap_or_default(),
        overridden,
    })
}

/// The headline when no planned zone may be treated now, though nothing
/// rules out home microneedling as such.
pub fn no_zone_headline(eligible_from: Option<Date>) -> String {
    let when = match eligible_from {
        Some(d) => format!(" The first of them may be treated again from {d}; screen again then."),
        None => String::new(),
    };
    format!(
        "No zone you planned can be treated at home now. This is not a reason to stop for good: each zone below is left out for its own reason, and some lift on a date or with a change (such as an antiviral plan from your doctor, or a shorter needle).{when}"
    )
}

fn severity(o: Outcome) -> u8 {
    match o {
        Outcome::NotAtHome => 4,
        Outcome::AskSurgeonFirst => 3,
        Outcome::ExcludeZones => 2,
        _ => 1,
    }
}
