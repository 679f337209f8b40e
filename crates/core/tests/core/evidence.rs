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

// ------------------------------------- grades against the kinds of sources

#[test]
fn a_grade_v_rule_citing_only_lower_kinds_of_source_is_reported() {
    let mut base = loaded();
    let rule = base
        .screening
        .rules
        .iter_mut()
        .find(|r| r.id == "screen.tattoo")
        .unwrap();
    assert_eq!(rule.grade, Grade::L);
    // A practice page and a secondary restatement cannot carry a V.
    rule.grade = Grade::V;
    rule.sources = vec!["PRACTICE-TATTOO".into(), "R51".into()];
    let problems = base.problems();
    assert_eq!(
        problems,
        vec![
            "rule screen.tattoo is graded V but cites only sources of a lower kind \
             (PRACTICE-TATTOO, R51): grade it by its best source"
                .to_owned()
        ]
    );
}

#[test]
fn a_grade_v_rule_with_one_primary_source_is_not_reported() {
    let mut base = loaded();
    let rule = base
        .screening
        .rules
        .iter_mut()
        .find(|r| r.id == "screen.tattoo")
        .unwrap();
    rule.grade = Grade::V;
    rule.sources = vec!["PRACTICE-TATTOO".into(), "R50".into()];
    assert!(base.problems().is_empty(), "{:?}", base.problems());
}

#[test]
fn a_grade_v_default_or_override_citing_only_lower_kinds_is_reported() {
    let mut base = loaded();
    base.defaults.hygiene.replace.cited.grade = Grade::V;
    base.defaults.hygiene.replace.cited.sources = vec!["PRACTICE-HOME".into()];
    let o = base
        .screening
        .rules
        .iter_mut()
        .find_map(|r| r.clinician_override.as_mut())
        .unwrap();
    o.grade = Grade::V;
    o.sources = vec!["R25".into()];
    let problems = base.problems();
    assert!(
        problems.iter().any(|p| p.starts_with(
            "default hygiene.replace is graded V but cites only sources of a lower kind (PRACTICE-HOME)"
        )),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with(
            "rule screen.isotretinoin's clinician override is graded V but cites only sources of a lower kind (R25)"
        )),
        "{problems:?}"
    );
}

#[test]
fn a_source_without_a_kind_does_not_load() {
    let text = "[[source]]\nid = \"X1\"\ncitation = \"A citation long enough.\"\n";
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct File {
        source: Vec<needlewise_core::evidence::Source>,
    }
    let err = toml::from_str::<File>(text)
        .err()
        .expect("kind is required");
    assert!(err.to_string().contains("kind"), "{err}");
}

// ------------------------------- numbers in explanations against defaults

#[test]
fn a_default_whose_explanation_states_another_number_is_reported() {
    let mut base = loaded();
    base.defaults.hygiene.soak.minimum = "PT15M".to_owned().try_into().unwrap();
    let problems = base.problems();
    assert!(
        problems.contains(
            &"default hygiene.soak: the explanation says 10 minutes, but defaults.toml has \
              hygiene.soak.minimum = 15 minutes"
                .to_owned()
        ),
        "{problems:?}"
    );
    // The readiness rule that names the soak time says 10 minutes too.
    assert!(
        problems.contains(
            &"rule ready.device.not_ready: the explanation says 10 minutes, but defaults.toml has \
              hygiene.soak.minimum = 15 minutes"
                .to_owned()
        ),
        "{problems:?}"
    );
}

#[test]
fn a_rule_whose_explanation_states_another_number_than_its_default_is_reported() {
    let mut base = loaded();
    let band = base
        .defaults
        .intervals
        .iter_mut()
        .find(|b| b.max_mm == 0.5)
        .unwrap();
    band.wait = "P3W".to_owned().try_into().unwrap();
    let problems = base.problems();
    assert!(
        problems.contains(
            &"rule screen.needle.above_home_default: the explanation says 4 weeks, but \
              defaults.toml has interval<=0.5mm.wait = 3 weeks"
                .to_owned()
        ),
        "{problems:?}"
    );
}

#[test]
fn numbers_in_other_units_or_agreeing_ranges_are_not_reported() {
    let mut base = loaded();
    // The default's value stated among other numbers of its unit agrees.
    let rule = base
        .readiness
        .rules
        .iter_mut()
        .find(|r| r.id == "ready.device.not_ready")
        .unwrap();
    rule.explanation = "Soak it for at least 10 minutes in 70 to 90% alcohol, then let it dry \
                        for 2 hours; 99% of rollers are dry by then."
        .to_owned();
    assert!(base.problems().is_empty(), "{:?}", base.problems());
    // A percentage none of which is the default is reported.
    let rule = base
        .readiness
        .rules
        .iter_mut()
        .find(|r| r.id == "ready.device.not_ready")
        .unwrap();
    rule.explanation = "Soak it for a 10-minute stretch in 60% alcohol.".to_owned();
    assert_eq!(
        base.problems(),
        vec![
            "rule ready.device.not_ready: the explanation says 60%, but defaults.toml has \
             hygiene.soak.min_alcohol_percent = 70%"
                .to_owned(),
            "rule ready.device.not_ready: the explanation says 60%, but defaults.toml has \
             hygiene.soak.max_alcohol_percent = 90%"
                .to_owned()
        ]
    );
}

#[test]
fn a_rule_naming_a_default_that_does_not_exist_is_reported() {
    let mut base = loaded();
    base.checkin.rules[0].defaults = vec!["hygiene.soak.maximum".into()];
    let id = base.checkin.rules[0].id.clone();
    assert_eq!(
        base.problems(),
        vec![format!(
            "rule {id} relies on default hygiene.soak.maximum, which defaults.toml does not have"
        )]
    );
}

#[test]
fn stated_amounts_reads_units_ranges_and_days() {
    use needlewise_core::evidence::{Amount, stated_amounts};
    let got = stated_amounts(
        "A 10-minute soak in 60 to 90% alcohol; 0.5mm needles; judged at day 90; SPF 30 or more; 1.5 hours; two or three times.",
    );
    let want = vec![
        ("10-minute", Amount::Seconds(600.0)),
        ("60 to 90%", Amount::Percent(60.0)),
        ("90%", Amount::Percent(90.0)),
        ("0.5mm", Amount::Millimetres(0.5)),
        ("day 90", Amount::Seconds(90.0 * 86_400.0)),
        ("1.5 hours", Amount::Seconds(5400.0)),
    ];
    let got: Vec<(&str, Amount)> = got.iter().map(|(w, a)| (w.as_str(), *a)).collect();
    assert_eq!(got, want);
}

#[test]
fn an_impossible_alcohol_range_is_reported() {
    let mut base = loaded();
    base.defaults.hygiene.soak.max_alcohol_percent = 60;
    assert!(
        base.problems()
            .contains(&"default hygiene.soak: the alcohol range 70-60% is impossible".to_owned()),
        "{:?}",
        base.problems()
    );
}

#[test]
fn the_screening_is_asked_a_topic_at_a_time_with_every_question_once() {
    let base = loaded();
    let q = &base.screening;
    let steps = q.steps();
    assert!(steps.len() >= 5, "{} steps", steps.len());
    let mut asked: Vec<&str> = steps
        .iter()
        .flat_map(|s| s.questions.iter().map(|q| q.id.as_str()))
        .collect();
    let mut all: Vec<&str> = q.questions.iter().map(|q| q.id.as_str()).collect();
    asked.sort_unstable();
    all.sort_unstable();
    assert_eq!(asked, all);
    assert_eq!(steps[0].topic, "About you");
    assert_eq!(steps[0].questions[0].id, "age");
    // Through the second step: its questions and the first's, no rules.
    let two = q.through_step(1);
    assert_eq!(
        two.questions.len(),
        steps[0].questions.len() + steps[1].questions.len()
    );
    assert!(two.rules.is_empty());
    assert_eq!(two.planned_zones, None, "the zones are asked later");
    assert_eq!(
        q.through_step(steps.len() - 1).questions,
        q.questions,
        "the last step holds them all"
    );
}

#[test]
fn a_question_asked_before_the_answer_its_condition_reads_is_reported() {
    // "About you" stays first (with the age); the sex question moves to a
    // step of its own after it.
    let mut base = loaded();
    let sex = base
        .screening
        .questions
        .iter_mut()
        .find(|q| q.id == "sex")
        .unwrap();
    sex.topic = Some("Later".into());
    let problems = base.problems();
    assert!(
        problems
            .iter()
            .any(|p| p == "question pregnant is asked before sex, which its condition reads"),
        "{problems:?}"
    );
    let mut base = loaded();
    base.screening.questions[3].topic = None;
    let problems = base.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.ends_with("has no topic, but the others do")),
        "{problems:?}"
    );
}
