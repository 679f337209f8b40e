use needlewise_core::evidence::{EvidenceBase, EvidenceError, Grade, Outcome};

#[test]
fn the_embedded_evidence_base_is_valid() {
    match EvidenceBase::load() {
        Ok(base) => assert!(base.problems().is_empty()),
        Err(e) => panic!("{e}"),
    }
}

fn loaded() -> EvidenceBase {
    EvidenceBase::load().unwrap()
}

#[test]
fn a_rule_without_sources_is_reported() {
    let mut base = loaded();
    base.screening.rules[0].sources.clear();
    let id = base.screening.rules[0].id.clone();
    let problems = base.problems();
    assert!(
        problems
            .iter()
            .any(|p| p == &format!("rule {id} cites no source")),
        "{problems:?}"
    );
}

#[test]
fn a_rule_citing_an_unknown_source_is_reported() {
    let mut base = loaded();
    base.checkin.rules[0].sources.push("R999".into());
    assert!(
        base.problems()
            .iter()
            .any(|p| p.contains("cites unknown source R999"))
    );
}

#[test]
fn an_unused_source_is_reported() {
    let mut base = loaded();
    let mut extra = base.sources[0].clone();
    extra.id = "UNUSED-1".into();
    base.sources.push(extra);
    assert_eq!(
        base.problems(),
        vec!["source UNUSED-1 is cited by nothing".to_owned()]
    );
}

#[test]
fn a_rule_about_a_missing_question_is_reported() {
    let mut base = loaded();
    base.readiness.rules[0].when = needlewise_core::evidence::Condition::IsTrue {
        question: "no_such_question".into(),
    };
    let problems = base.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("refers to question no_such_question")),
        "{problems:?}"
    );
}

#[test]
fn a_condition_reading_a_question_as_the_wrong_type_is_reported() {
    let mut base = loaded();
    base.screening.rules[0].when = needlewise_core::evidence::Condition::IsTrue {
        question: "age".into(),
    };
    assert!(
        base.problems()
            .iter()
            .any(|p| p.contains("reads age as bool, but it is a integer question"))
    );
}

#[test]
fn a_choice_compared_with_a_value_it_cannot_take_is_reported() {
    let mut base = loaded();
    base.screening.rules[0].when = needlewise_core::evidence::Condition::Equals {
        question: "diabetes".into(),
        value: "sometimes".into(),
    };
    assert!(
        base.problems()
            .iter()
            .any(|p| p.contains("\"sometimes\", which is not one of its options"))
    );
}

#[test]
fn a_low_grade_hard_stop_needs_a_policy() {
    let mut base = loaded();
    let rule = base
        .readiness
        .rules
        .iter_mut()
        .find(|r| r.id == "ready.interval")
        .unwrap();
    assert_eq!((rule.grade, rule.outcome), (Grade::L, Outcome::NoGo));
    rule.policy = None;
    assert!(
        base.problems()
            .iter()
            .any(|p| p.contains("ready.interval: a hard stop graded L needs a `policy`"))
    );
}

#[test]
fn an_outcome_from_another_questionnaire_is_reported() {
    let mut base = loaded();
    base.checkin.rules[0].outcome = Outcome::NotAtHome;
    assert!(
        base.problems()
            .iter()
            .any(|p| p.contains("does not belong to checkin"))
    );
}

#[test]
fn every_source_has_a_citation_and_every_rule_a_real_explanation() {
    let base = loaded();
    for s in &base.sources {
        assert!(s.citation.len() > 20, "source {} has a thin citation", s.id);
    }
    for q in base.questionnaires() {
        for r in &q.rules {
            assert!(!r.sources.is_empty());
            assert!(
                r.explanation.ends_with('.'),
                "{} explanation should be a sentence",
                r.id
            );
        }
    }
}

#[test]
fn load_errors_name_the_file() {
    let err = EvidenceError::Parse {
        file: "screening.toml",
        message: "x".into(),
    };
    assert_eq!(err.to_string(), "evidence/screening.toml: x");
}
