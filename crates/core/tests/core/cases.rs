//! Data-driven rule cases: every rule fires in one case and stays quiet in
//! a near miss. See `cases/*.toml`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use needlewise_core::answers::{Answer, Answers};
use needlewise_core::evidence::{EvidenceBase, Questionnaire};
use needlewise_core::readiness::{self, ProtocolFacts, ReadinessFacts};
use needlewise_core::screening::{Verdict, screen};
use needlewise_core::triage::{TriageLevel, assess, assess_partial};
use needlewise_core::{Zone, evidence};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    today: Option<String>,
    base: BTreeMap<String, toml::Value>,
    #[serde(default)]
    facts: BTreeMap<String, toml::Value>,
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    set: BTreeMap<String, toml::Value>,
    #[serde(default)]
    unset: Vec<String>,
    #[serde(default)]
    facts: BTreeMap<String, toml::Value>,
    #[serde(default)]
    fires: Vec<String>,
    #[serde(default)]
    quiet: Vec<String>,
    // Screening.
    verdict: Option<String>,
    eligible_from: Option<String>,
    #[serde(default)]
    no_eligible_from: bool,
    excluded: Option<Vec<String>>,
    // Readiness.
    go: Option<bool>,
    zones: Option<Vec<String>>,
    skipped: Option<Vec<String>>,
    // Check-ins.
    hours: Option<f64>,
    level: Option<String>,
}

fn load(text: &str) -> CaseFile {
    toml::from_str(text).unwrap()
}

fn answers_for(
    q: &Questionnaire,
    base: &BTreeMap<String, toml::Value>,
    case: &Case,
    today: Date,
) -> Answers {
    let mut merged = base.clone();
    merged.extend(case.set.clone());
    for id in &case.unset {
        merged.remove(id);
    }
    let json = serde_json::to_value(&merged).unwrap();
    Answers::from_json(q, &json, today).unwrap_or_else(|e| panic!("case {:?}: {e}", case.name))
}

fn zones(ids: &[String]) -> Vec<Zone> {
    ids.iter().map(|z| z.parse().unwrap()).collect()
}

/// Records which rules fired and which stayed quiet across all cases.
#[derive(Default)]
struct Coverage {
    fired: BTreeSet<String>,
    quiet: BTreeSet<String>,
}

impl Coverage {
    fn check(&mut self, case: &Case, fired: &BTreeSet<String>) {
        for id in &case.fires {
            assert!(
                fired.contains(id),
                "case {:?}: {id} should fire; fired {fired:?}",
                case.name
            );
            self.fired.insert(id.clone());
        }
        for id in &case.quiet {
            assert!(
                !fired.contains(id),
                "case {:?}: {id} should stay quiet",
                case.name
            );
            self.quiet.insert(id.clone());
        }
    }

    fn assert_complete(&self, q: &Questionnaire) {
        for rule in &q.rules {
            assert!(
                self.fired.contains(&rule.id),
                "no case shows {} firing",
                rule.id
            );
            assert!(
                self.quiet.contains(&rule.id),
                "no near-miss case shows {} quiet",
                rule.id
            );
        }
        for id in self.fired.union(&self.quiet) {
            assert!(q.rule(id).is_some(), "cases name unknown rule {id}");
        }
    }
}

#[test]
fn screening_cases() {
    let base: &EvidenceBase = evidence();
    let file = load(include_str!("cases/screening.toml"));
    let today: Date = file.today.as_deref().unwrap().parse().unwrap();
    let mut coverage = Coverage::default();
    for case in &file.case {
        let answers = answers_for(&base.screening, &file.base, case, today);
        let result =
            screen(base, &answers, today).unwrap_or_else(|e| panic!("case {:?}: {e}", case.name));
        let fired: BTreeSet<String> = result.reasons.iter().map(|r| r.rule_id.clone()).collect();
        coverage.check(case, &fired);
        let expected: Verdict = case.verdict.as_deref().unwrap().parse().unwrap();
        assert_eq!(
            result.verdict, expected,
            "case {:?}: reasons {fired:?}",
            case.name
        );
        if let Some(d) = &case.eligible_from {
            assert_eq!(
                result.eligible_from,
                Some(d.parse().unwrap()),
                "case {:?}",
                case.name
            );
        }
        if case.no_eligible_from {
            assert_eq!(result.eligible_from, None, "case {:?}", case.name);
        }
        if expected == Verdict::Go {
            assert!(
                result.reasons.is_empty(),
                "case {:?}: a go has no reasons",
                case.name
            );
        }
        if let Some(ex) = &case.excluded {
            let got: Vec<Zone> = result.excluded_zones.iter().map(|e| e.zone).collect();
            let mut want = zones(ex);
            want.sort();
            assert_eq!(got, want, "case {:?}", case.name);
            for z in &result.zones {
                assert!(
                    !got.contains(z),
                    "case {:?}: {z} is both excluded and allowed",
                    case.name
                );
            }
        }
        for reason in &result.reasons {
            assert!(
                !reason.sources.is_empty(),
                "{} has no sources",
                reason.rule_id
            );
        }
    }
    coverage.assert_complete(&base.screening);
}

fn facts_from(
    base: &BTreeMap<String, toml::Value>,
    over: &BTreeMap<String, toml::Value>,
) -> ReadinessFacts {
    let mut m = base.clone();
    m.extend(over.clone());
    let get = |k: &str| m.get(k).unwrap_or_else(|| panic!("fact {k} missing"));
    let flag = |k: &str| {
        get(k)
            .as_bool()
            .unwrap_or_else(|| panic!("fact {k}: a boolean"))
    };
    // A date, or "none" when the schedule gives none (locked, clinic-only).
    let date = |k: &str| match m.get(k).map(|d| d.as_str().unwrap()) {
        None | Some("none") => None,
        Some(d) => Some(d.parse().unwrap()),
    };
    ReadinessFacts {
        planned_zones: get("planned_zones")
            .as_array()
            .unwrap()
            .iter()
            .map(|z| z.as_str().unwrap().parse().unwrap())
            .collect(),
        screening_verdict: match get("screening_verdict").as_str().unwrap() {
            "none" => None,
            v => Some(v.parse().unwrap()),
        },
        device_ready: flag("device_ready"),
        device_replacement_due: flag("device_replacement_due"),
        earliest_next_session: date("earliest_next_session"),
        interval_waiting: flag("interval_waiting"),
        symptom_lock: flag("symptom_lock"),
        device_needle_over_screening: flag("device_needle_over_screening"),
        last_needle_beyond_home: flag("last_needle_beyond_home"),
        screening_review_due: m
            .get("screening_review_due")
            .is_some_and(|v| v.as_bool() == Some(true)),
        device_is_pen: m
            .get("device_is_pen")
            .is_some_and(|v| v.as_bool() == Some(true)),
        // A prescribed protocol, when the case gives any of its facts.
        protocol: [
            "protocol_earliest_next_session",
            "protocol_interval_waiting",
            "protocol_course_complete",
            "protocol_needle_mismatch",
        ]
        .iter()
        .any(|k| m.contains_key(*k))
        .then(|| ProtocolFacts {
            earliest_next_session: date("protocol_earliest_next_session"),
            waiting: m.contains_key("protocol_interval_waiting")
                && flag("protocol_interval_waiting"),
            course_complete: m.contains_key("protocol_course_complete")
                && flag("protocol_course_complete"),
            needle_mismatch: m.contains_key("protocol_needle_mismatch")
                && flag("protocol_needle_mismatch"),
        }),
    }
}

#[test]
fn readiness_cases() {
    let base = evidence();
    let file = load(include_str!("cases/readiness.toml"));
    let today: Date = file.today.as_deref().unwrap().parse().unwrap();
    let mut coverage = Coverage::default();
    for case in &file.case {
        let answers = answers_for(&base.readiness, &file.base, case, today);
        let facts = facts_from(&file.facts, &case.facts);
        let result = readiness::check(base, &answers, &facts, today)
            .unwrap_or_else(|e| panic!("case {:?}: {e}", case.name));
        let fired: BTreeSet<String> = result.reasons.iter().map(|r| r.rule_id.clone()).collect();
        coverage.check(case, &fired);
        assert_eq!(Some(result.go), case.go, "case {:?}: {fired:?}", case.name);
        if let Some(z) = &case.zones {
            assert_eq!(result.zones, zones(z), "case {:?}", case.name);
        }
        if let Some(z) = &case.skipped {
            assert_eq!(result.skipped_zones, zones(z), "case {:?}", case.name);
        }
        if !result.go {
            assert!(
                !result.reasons.is_empty() || result.zones.is_empty(),
                "case {:?}: a no-go needs a reason",
                case.name
            );
        }
    }
    coverage.assert_complete(&base.readiness);
}

#[test]
fn checkin_cases() {
    let base = evidence();
    let file = load(include_str!("cases/checkin.toml"));
    let ended: Timestamp = "2026-11-20T20:00:00Z".parse().unwrap();
    let mut coverage = Coverage::default();
    for case in &file.case {
        let hours = case.hours.unwrap();
        let now = ended
            .checked_add(jiff::SignedDuration::from_secs_f64(hours * 3600.0))
            .unwrap();
        let today = now.to_string()[..10].parse().unwrap();
        let answers = answers_for(&base.checkin, &file.base, case, today);
        let triage = assess(base, &answers, ended, now, today)
            .unwrap_or_else(|e| panic!("case {:?}: {e}", case.name));
        // With every answer given, the partial assessment is the same.
        assert_eq!(
            assess_partial(base, &answers, ended, now, today).as_ref(),
            Ok(&triage),
            "case {:?}",
            case.name
        );
        assert!(!triage.is_partial());
        let fired: BTreeSet<String> = triage.reasons.iter().map(|r| r.rule_id.clone()).collect();
        coverage.check(case, &fired);
        let level: TriageLevel = case.level.as_deref().unwrap().parse().unwrap();
        assert_eq!(triage.level, level, "case {:?}: {fired:?}", case.name);
        assert_eq!(triage.locks_sessions, level >= TriageLevel::ContactSurgeon);
    }
    coverage.assert_complete(&base.checkin);
}

#[test]
fn answers_name_the_field_that_is_wrong() {
    let base = evidence();
    let today = Date::constant(2026, 11, 25);
    let bad = serde_json::json!({
        "age": "thirty",
        "isotretinoin": "2026-02-30",
        "zones": ["forehead", "ear"],
        "pregnnant": true,
        "fitzpatrick": 9,
        "chemo_or_radiotherapy": "2027-01-01",
        "recent_procedures": [{"kind": "tattoo", "date": "2026-01-01"}],
    });
    let err = Answers::from_json(&base.screening, &bad, today).unwrap_err();
    let by_field: BTreeMap<&str, &str> = err
        .0
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(by_field.len(), 7, "{err}");
    assert!(by_field["age"].contains("expected a whole number from 0 to 120, got a string"));
    assert!(by_field["isotretinoin"].contains("not a real calendar date"));
    assert!(by_field["zones"].contains("unknown zone \"ear\""));
    assert!(by_field["pregnnant"].contains("unknown answer id"));
    assert!(by_field["fitzpatrick"].contains("9 is out of range"));
    assert!(by_field["chemo_or_radiotherapy"].contains("in the future"));
    assert!(by_field["recent_procedures"].contains("item 0: kind \"tattoo\""));
}

#[test]
fn missing_answers_are_listed_and_only_those_that_apply() {
    let base = evidence();
    let today = Date::constant(2026, 11, 25);
    let answers = Answers::from_json(
        &base.screening,
        &serde_json::json!({"sex": "male", "age": 40}),
        today,
    )
    .unwrap();
    let err = screen(base, &answers, today).unwrap_err();
    let missing: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
    assert!(missing.contains(&"needle_length_mm"));
    assert!(
        !missing.contains(&"pregnant"),
        "men are not asked about pregnancy"
    );
    assert!(
        !missing.contains(&"antiviral_plan_confirmed"),
        "asked only with cold sores and perioral zones"
    );
}

#[test]
fn facts_cannot_be_smuggled_in_as_answers() {
    let base = evidence();
    let err = Answers::from_json(
        &base.readiness,
        &serde_json::json!({"device_ready": true}),
        Date::constant(2026, 1, 1),
    )
    .unwrap_err();
    assert_eq!(err.0[0].field, "device_ready");
    assert!(err.0[0].message.contains("filled in by needlewise"));
}

#[test]
fn a_non_object_answer_file_is_refused() {
    let err = Answers::from_json(
        &evidence().screening,
        &Value::Array(vec![]),
        Date::constant(2026, 1, 1),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a JSON object of answers, got a list")
    );
}

#[test]
fn answers_round_trip_through_json() {
    let base = evidence();
    let file = load(include_str!("cases/screening.toml"));
    let today = Date::constant(2026, 11, 25);
    let case = file
        .case
        .iter()
        .find(|c| c.name.starts_with("facelift"))
        .unwrap();
    let answers = answers_for(&base.screening, &file.base, case, today);
    let again = Answers::from_json(&base.screening, &answers.to_json(), today).unwrap();
    assert_eq!(answers, again);
    assert!(matches!(again.get("recent_procedures"), Some(Answer::Procedures(p)) if p.len() == 1));
}

#[test]
fn fact_reasons_give_only_the_no_go_rules_that_facts_alone_decide() {
    let base = evidence();
    let today = Date::constant(2026, 11, 25);
    let mut facts = ReadinessFacts {
        planned_zones: [Zone::Forehead].into_iter().collect(),
        screening_verdict: Some(Verdict::Go),
        device_ready: false,
        device_replacement_due: false,
        earliest_next_session: Some(Date::constant(2026, 11, 27)),
        interval_waiting: true,
        symptom_lock: false,
        device_needle_over_screening: true,
        last_needle_beyond_home: false,
        screening_review_due: false,
        device_is_pen: false,
        protocol: None,
    };
    let ids = |f: &ReadinessFacts| -> Vec<String> {
        readiness::fact_reasons(base, f, today)
            .into_iter()
            .map(|r| r.rule_id)
            .collect()
    };
    assert_eq!(
        ids(&facts),
        [
            "ready.device.not_ready",
            "ready.device.needle_not_screened",
            "ready.interval"
        ]
    );
    // The wait ends later today: still a fact reason.
    facts.earliest_next_session = Some(today);
    assert_eq!(
        ids(&facts),
        [
            "ready.device.not_ready",
            "ready.device.needle_not_screened",
            "ready.interval"
        ]
    );
    facts.device_ready = true;
    facts.device_needle_over_screening = false;
    facts.interval_waiting = false;
    assert!(
        ids(&facts).is_empty(),
        "questions only the person answers never fire here"
    );
    // A clinic-length last session: waiting, with no date to give.
    facts.earliest_next_session = None;
    facts.interval_waiting = true;
    facts.last_needle_beyond_home = true;
    assert_eq!(ids(&facts), ["ready.after_clinic_needle"]);
}
