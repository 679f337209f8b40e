//! The rule engine: evaluates a questionnaire's conditions against answers.
//!
//! A condition that matches yields a [`Hit`]: possibly a date until which it
//! holds (timed waits) and possibly the zones it concerns (zone exclusions).
//! Missing answers never match, so a rule about an unasked question stays
//! quiet; completeness is checked separately before evaluation.

use std::collections::BTreeSet;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::answers::{Answer, Answers, Exposure};
use crate::evidence::{Condition, Question, Questionnaire, Rule, Source, evidence, rule_sources};
use crate::zone::Zone;

/// What a matching condition found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hit {
    /// The condition stops holding on this day.
    pub until: Option<Date>,
    /// The zones the condition concerns, if it is about zones.
    pub zones: Option<BTreeSet<Zone>>,
}

impl Hit {
    fn merge_all(mut self, other: Hit) -> Hit {
        self.until = max_opt(self.until, other.until);
        self.zones = match (self.zones, other.zones) {
            (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
            (a, b) => a.or(b),
        };
        self
    }

    fn merge_any(mut self, other: Hit) -> Hit {
        self.until = max_opt(self.until, other.until);
        self.zones = match (self.zones, other.zones) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            (a, b) => a.or(b),
        };
        self
    }
}

fn max_opt(a: Option<Date>, b: Option<Date>) -> Option<Date> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The context a condition is evaluated in.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub questionnaire: &'a Questionnaire,
    pub answers: &'a Answers,
    pub today: Date,
}

impl Context<'_> {
    /// The zones to be treated, when the questionnaire plans zones.
    fn planned(&self) -> Option<&BTreeSet<Zone>> {
        let id = self.questionnaire.planned_zones.as_deref()?;
        self.answers.zones(id)
    }

    fn restrict(&self, zones: &BTreeSet<Zone>) -> BTreeSet<Zone> {
        match self.planned() {
            Some(planned) => zones.intersection(planned).copied().collect(),
            None => zones.clone(),
        }
    }

    /// Evaluates a condition.
    pub fn eval(&self, cond: &Condition) -> Option<Hit> {
        let yes = Some(Hit::default());
        let a = self.answers;
        match cond {
            Condition::IsTrue { question } => {
                (a.bool(question) == Some(true)).then_some(Hit::default())
            }
            Condition::Equals { question, value } => {
                (a.choice(question) == Some(value)).then_some(Hit::default())
            }
            Condition::OneOf { question, values } => {
                let c = a.choice(question)?;
                values.iter().any(|v| v == c).then_some(Hit::default())
            }
            Condition::Lt { question, value } => {
                (a.number(question)? < *value).then_some(Hit::default())
            }
            Condition::Le { question, value } => {
                (a.number(question)? <= *value).then_some(Hit::default())
            }
            Condition::Gt { question, value } => {
                (a.number(question)? > *value).then_some(Hit::default())
            }
            Condition::Ge { question, value } => {
                (a.number(question)? >= *value).then_some(Hit::default())
            }
            Condition::ExposureWithin { question, wait } => match a.get(question)? {
                Answer::Exposure(Exposure::Current) => yes,
                Answer::Exposure(Exposure::Ended(last)) => {
                    let until = wait.after(*last)?;
                    (until > self.today).then_some(Hit {
                        until: Some(until),
                        zones: None,
                    })
                }
                _ => None,
            },
            Condition::ProcedureWithin {
                question,
                kind,
                wait,
            } => {
                let Answer::Procedures(procedures) = a.get(question)? else {
                    return None;
                };
                let mut hit: Option<Hit> = None;
                for p in procedures.iter().filter(|p| p.kind == *kind) {
                    let Some(until) = wait.after(p.date) else {
                        continue;
                    };
                    if until <= self.today {
                        continue;
                    }
                    let area = if p.zones.is_empty() {
                        Zone::ALL.into_iter().collect()
                    } else {
                        p.zones.clone()
                    };
                    let zones = self.restrict(&area);
                    if zones.is_empty() {
                        continue;
                    }
                    let this = Hit {
                        until: Some(until),
                        zones: Some(zones),
                    };
                    hit = Some(match hit {
                        Some(h) => h.merge_any(this),
                        None => this,
                    });
                }
                hit
            }
            Condition::ZonesIntersect { question, zones } => {
                let answered = a.zones(question)?;
                let matched: BTreeSet<Zone> = zones
                    .iter()
                    .copied()
                    .filter(|z| answered.contains(z))
                    .collect();
                (!matched.is_empty()).then_some(Hit {
                    until: None,
                    zones: Some(matched),
                })
            }
            Condition::ListedZones { question } => {
                let zones = self.restrict(a.zones(question)?);
                (!zones.is_empty()).then_some(Hit {
                    until: None,
                    zones: Some(zones),
                })
            }
            Condition::DateAfterToday { question } => match a.get(question)? {
                Answer::Date(d) if *d > self.today => Some(Hit {
                    until: Some(*d),
                    zones: None,
                }),
                _ => None,
            },
            Condition::DateFromToday { question } => match a.get(question)? {
                Answer::Date(d) if *d >= self.today => Some(Hit {
                    until: Some(*d),
                    zones: None,
                }),
                _ => None,
            },
            Condition::DateWithin { question, wait } => match a.get(question)? {
                Answer::Date(d) => (*d < wait.after(self.today)?).then_some(Hit::default()),
                _ => None,
            },
            Condition::DateBeyond { question, wait } => match a.get(question)? {
                Answer::Date(d) if *d >= wait.after(self.today)? => Some(Hit {
                    until: d.checked_sub(wait.0).ok().and_then(|x| x.tomorrow().ok()),
                    zones: None,
                }),
                _ => None,
            },
            Condition::All { of } => {
                let mut acc = Hit::default();
                for c in of {
                    acc = acc.merge_all(self.eval(c)?);
                }
                if acc.zones.as_ref().is_some_and(BTreeSet::is_empty) {
                    return None;
                }
                Some(acc)
            }
            Condition::Any { of } => of
                .iter()
                .filter_map(|c| self.eval(c))
                .reduce(Hit::merge_any),
            Condition::Not { of } => match self.eval(of) {
                Some(_) => None,
                None => yes,
            },
        }
    }
}

/// What a condition comes to when some answers may be missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Partial {
    /// It holds whatever the missing answers turn out to be.
    Fires(Hit),
    /// It cannot hold, whatever the missing answers turn out to be.
    Quiet,
    /// It depends on an answer not given yet.
    Unknown,
}

impl Context<'_> {
    /// Evaluates a condition in three-valued (Kleene) logic: a condition
    /// over a missing answer is unknown, `all` is quiet as soon as one part
    /// is quiet and `any` fires as soon as one part fires. With every answer
    /// given this agrees with [`Context::eval`].
    pub fn eval_partial(&self, cond: &Condition) -> Partial {
        match cond {
            Condition::All { of } => {
                let mut unknown = false;
                let mut acc = Hit::default();
                for c in of {
                    match self.eval_partial(c) {
                        Partial::Quiet => return Partial::Quiet,
                        Partial::Unknown => unknown = true,
                        Partial::Fires(h) => acc = acc.merge_all(h),
                    }
                }
                if unknown {
                    Partial::Unknown
                } else if acc.zones.as_ref().is_some_and(BTreeSet::is_empty) {
                    Partial::Quiet
                } else {
                    Partial::Fires(acc)
                }
            }
            Condition::Any { of } => {
                let mut unknown = false;
                let mut hit: Option<Hit> = None;
                for c in of {
                    match self.eval_partial(c) {
                        Partial::Fires(h) => {
                            hit = Some(match hit {
                                Some(prev) => prev.merge_any(h),
                                None => h,
                            })
                        }
                        Partial::Unknown => unknown = true,
                        Partial::Quiet => {}
                    }
                }
                match hit {
                    Some(h) => Partial::Fires(h),
                    None if unknown => Partial::Unknown,
                    None => Partial::Quiet,
                }
            }
            Condition::Not { of } => match self.eval_partial(of) {
                Partial::Fires(_) => Partial::Quiet,
                Partial::Quiet => Partial::Fires(Hit::default()),
                Partial::Unknown => Partial::Unknown,
            },
            leaf => {
                let mut read = Vec::new();
                leaf.visit_questions(&mut read);
                // Zone conditions also read the planned zones (`restrict`).
                let planned = match leaf {
                    Condition::ListedZones { .. } | Condition::ProcedureWithin { .. } => {
                        self.questionnaire.planned_zones.as_deref()
                    }
                    _ => None,
                };
                if read
                    .iter()
                    .map(|(id, _)| *id)
                    .chain(planned)
                    .any(|id| self.answers.get(id).is_none())
                {
                    return Partial::Unknown;
                }
                match self.eval(leaf) {
                    Some(h) => Partial::Fires(h),
                    None => Partial::Quiet,
                }
            }
        }
    }
}

/// The rules that fire whatever the missing answers turn out to be.
pub fn fire_partial<'a>(q: &'a Questionnaire, answers: &Answers, today: Date) -> Vec<Firing<'a>> {
    let ctx = Context {
        questionnaire: q,
        answers,
        today,
    };
    q.rules
        .iter()
        .filter_map(|rule| match ctx.eval_partial(&rule.when) {
            Partial::Fires(hit) => Some(Firing { rule, hit }),
            _ => None,
        })
        .collect()
}

/// Questions that apply given the answers so far, in questionnaire order.
pub fn applicable_questions<'a>(
    q: &'a Questionnaire,
    answers: &'a Answers,
) -> impl Iterator<Item = &'a Question> {
    // `today` does not matter for enable_when conditions, which never use
    // timed operators; a fixed date keeps this function pure and total.
    let ctx = Context {
        questionnaire: q,
        answers,
        today: Date::constant(2000, 1, 1),
    };
    q.questions
        .iter()
        .filter(move |question| match &question.enable_when {
            None => true,
            Some(cond) => ctx.eval(cond).is_some(),
        })
}

/// A rule that fired, with what its condition found.
#[derive(Debug, Clone)]
pub struct Firing<'a> {
    pub rule: &'a Rule,
    pub hit: Hit,
}

/// Every rule of the questionnaire that fires, in file order.
pub fn fire<'a>(q: &'a Questionnaire, answers: &Answers, today: Date) -> Vec<Firing<'a>> {
    let ctx = Context {
        questionnaire: q,
        answers,
        today,
    };
    q.rules
        .iter()
        .filter_map(|rule| ctx.eval(&rule.when).map(|hit| Firing { rule, hit }))
        .collect()
}

/// A cited source, as shown beside a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    pub id: String,
    pub citation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl From<&Source> for SourceRef {
    fn from(s: &Source) -> Self {
        SourceRef {
            id: s.id.clone(),
            citation: s.citation.clone(),
            link: s
                .url
                .clone()
                .or_else(|| s.doi.as_ref().map(|d| format!("https://doi.org/{d}"))),
        }
    }
}

/// Why a verdict came out as it did: one fired rule, explained and cited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub rule_id: String,
    pub title: String,
    pub outcome: crate::evidence::Outcome,
    pub explanation: String,
    pub grade: crate::evidence::Grade,
    pub sources: Vec<SourceRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<Zone>,
}

impl From<&Firing<'_>> for Reason {
    fn from(f: &Firing<'_>) -> Self {
        let base = evidence();
        Reason {
            rule_id: f.rule.id.clone(),
            title: f.rule.title.clone(),
            outcome: f.rule.outcome,
            explanation: f.rule.explanation.clone(),
            grade: f.rule.grade,
            sources: rule_sources(base, f.rule)
                .into_iter()
                .map(SourceRef::from)
                .collect(),
            until: f.hit.until,
            zones: f.hit.zones.iter().flatten().copied().collect(),
        }
    }
}
