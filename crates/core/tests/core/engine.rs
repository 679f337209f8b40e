//! The engine's three-valued evaluation (`Context::eval_partial`): it agrees
//! with `eval` on complete answers, and with missing answers it only fires
//! or stays quiet when every way of answering them would.

use std::collections::BTreeSet;

use jiff::civil::Date;
use needlewise_core::answers::{Answer, Answers, Exposure, Procedure};
use needlewise_core::engine::{Context, Hit, Partial};
use needlewise_core::evidence::{Condition, ProcedureKind, QuestionKind, Questionnaire};
use needlewise_core::{Zone, evidence};
use proptest::prelude::*;

const TODAY: Date = Date::constant(2026, 11, 25);

fn days(n: u64) -> Date {
    // Within about a year either side of today.
    TODAY
        .checked_add(jiff::Span::new().days(i64::try_from(n % 720).unwrap() - 360))
        .unwrap()
}

fn zones(bits: u64) -> BTreeSet<Zone> {
    Zone::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits >> i & 1 == 1)
        .map(|(_, z)| z)
        .collect()
}

/// An answer of the question's kind from random numbers, leaning towards
/// the small values and the dates near today that the rules test.
fn answer(kind: &QuestionKind, r: &mut impl Iterator<Item = u64>) -> Answer {
    let mut next = || r.next().unwrap();
    match kind {
        QuestionKind::Bool => Answer::Bool(next() % 2 == 0),
        QuestionKind::Integer { min, max } => {
            let span = u64::try_from(max - min).unwrap() + 1;
            let n = if next() % 2 == 0 {
                next() % 40
            } else {
                next() % span
            };
            Answer::Integer((min + i64::try_from(n).unwrap()).min(*max))
        }
        QuestionKind::Number { min, max } => {
            // Tenths up to 200: the 48 and 72 hour thresholds exactly too.
            let n = (next() % 2000) as f64 / 10.0;
            Answer::Number(n.clamp(*min, *max))
        }
        QuestionKind::Choice { options } => {
            Answer::Choice(options[(next() % options.len() as u64) as usize].clone())
        }
        QuestionKind::Exposure => Answer::Exposure(match next() % 3 {
            0 => Exposure::Never,
            1 => Exposure::Current,
            _ => Exposure::Ended(days(next()).min(TODAY)),
        }),
        QuestionKind::Zones => Answer::Zones(zones(next())),
        QuestionKind::Procedures => Answer::Procedures(
            (0..next() % 3)
                .map(|_| Procedure {
                    kind: ProcedureKind::ALL[(next() % 6) as usize],
                    date: days(next()).min(TODAY),
                    zones: if next() % 3 == 0 {
                        BTreeSet::new()
                    } else {
                        zones(next())
                    },
                })
                .collect(),
        ),
        QuestionKind::Date => Answer::Date(match next() % 3 {
            0 => TODAY,
            _ => days(next()),
        }),
    }
}

/// Every question of `q` answered, facts included.
pub(crate) fn complete(q: &Questionnaire, random: &[u64]) -> Answers {
    let mut r = random.iter().copied().cycle();
    let mut answers = Answers::new();
    for question in &q.questions {
        answers.set(question.id.clone(), answer(&question.kind, &mut r));
    }
    answers
}

fn questionnaires() -> [&'static Questionnaire; 3] {
    let base = evidence();
    [&base.checkin, &base.readiness, &base.screening]
}

fn ctx<'a>(q: &'a Questionnaire, answers: &'a Answers) -> Context<'a> {
    Context {
        questionnaire: q,
        answers,
        today: TODAY,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// On complete answers (every question, in particular the check-in
    /// questionnaire), three-valued evaluation is plain evaluation.
    #[test]
    fn eval_partial_agrees_with_eval_on_complete_answers(
        random in prop::collection::vec(any::<u64>(), 64..256),
    ) {
        for q in questionnaires() {
            let answers = complete(q, &random);
            let c = ctx(q, &answers);
            for rule in &q.rules {
                let expected = match c.eval(&rule.when) {
                    Some(hit) => Partial::Fires(hit),
                    None => Partial::Quiet,
                };
                prop_assert_eq!(c.eval_partial(&rule.when), expected, "{}", rule.id);
            }
        }
    }

    /// With answers taken away, a rule that fires (or stays quiet) does so
    /// for the answers that were taken away too: the complete answers are
    /// one way of filling the gaps. The check-in questionnaire, which
    /// `assess_partial` uses.
    #[test]
    fn eval_partial_is_sound_when_answers_are_missing(
        random in prop::collection::vec(any::<u64>(), 64..256),
        drop in any::<u64>(),
    ) {
        let q = &evidence().checkin;
        let full = complete(q, &random);
        let mut partial = Answers::new();
        for (i, (id, a)) in full.iter().enumerate() {
            if drop >> (i % 64) & 1 == 0 {
                partial.set(id, a.clone());
            }
        }
        let (c_full, c_partial) = (ctx(q, &full), ctx(q, &partial));
        for rule in &q.rules {
            match c_partial.eval_partial(&rule.when) {
                Partial::Fires(_) => prop_assert!(c_full.eval(&rule.when).is_some(), "{}", rule.id),
                Partial::Quiet => prop_assert!(c_full.eval(&rule.when).is_none(), "{}", rule.id),
                Partial::Unknown => {}
            }
        }
    }
}

fn is_true(q: &str) -> Condition {
    Condition::IsTrue {
        question: q.to_owned(),
    }
}

fn answers(given: &[(&str, bool)]) -> Answers {
    let mut a = Answers::new();
    for (id, v) in given {
        a.set(*id, Answer::Bool(*v));
    }
    a
}

#[test]
fn not_over_a_missing_answer_is_unknown() {
    let q = &evidence().checkin;
    let none = Answers::new();
    let not_fever = Condition::Not {
        of: Box::new(is_true("fever")),
    };
    assert_eq!(ctx(q, &none).eval_partial(&not_fever), Partial::Unknown);
    // Plain evaluation would have said yes: a missing answer never matches.
    assert_eq!(ctx(q, &none).eval(&not_fever), Some(Hit::default()));
    let no = answers(&[("fever", false)]);
    assert_eq!(
        ctx(q, &no).eval_partial(&not_fever),
        Partial::Fires(Hit::default())
    );
    let yes = answers(&[("fever", true)]);
    assert_eq!(ctx(q, &yes).eval_partial(&not_fever), Partial::Quiet);
    // The real rule: "skin not cleansed" is `not is_true skin_cleansed`.
    let readiness = &evidence().readiness;
    let rule = readiness.rule("ready.skin_not_cleansed").unwrap();
    assert_eq!(
        ctx(readiness, &none).eval_partial(&rule.when),
        Partial::Unknown
    );
}

#[test]
fn any_fires_on_one_firing_part_and_all_is_quiet_on_one_quiet_part() {
    let q = &evidence().checkin;
    let given = answers(&[("fever", true), ("numbness", false)]);
    let c = ctx(q, &given);
    let any = |parts: &[&str]| Condition::Any {
        of: parts.iter().map(|p| is_true(p)).collect(),
    };
    let all = |parts: &[&str]| Condition::All {
        of: parts.iter().map(|p| is_true(p)).collect(),
    };
    // `blisters` is not answered.
    assert_eq!(
        c.eval_partial(&any(&["blisters", "fever"])),
        Partial::Fires(Hit::default())
    );
    assert_eq!(
        c.eval_partial(&any(&["blisters", "numbness"])),
        Partial::Unknown
    );
    assert_eq!(c.eval_partial(&any(&["numbness"])), Partial::Quiet);
    assert_eq!(
        c.eval_partial(&all(&["blisters", "numbness"])),
        Partial::Quiet
    );
    assert_eq!(
        c.eval_partial(&all(&["blisters", "fever"])),
        Partial::Unknown
    );
    assert_eq!(
        c.eval_partial(&all(&["fever"])),
        Partial::Fires(Hit::default())
    );
    // The real rules: "worse after 48 hours" needs the trend, unless the
    // hours alone rule it out.
    let rule = q.rule("checkin.redness.worse_after_48h").unwrap();
    let mut early = Answers::new();
    early.set("hours_since_session", Answer::Number(24.0));
    assert_eq!(ctx(q, &early).eval_partial(&rule.when), Partial::Quiet);
    let mut late = Answers::new();
    late.set("hours_since_session", Answer::Number(60.0));
    assert_eq!(ctx(q, &late).eval_partial(&rule.when), Partial::Unknown);
}
