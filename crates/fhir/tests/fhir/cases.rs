#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every screening case of the core's data-driven tests: the native answer
//! file and its QuestionnaireResponse round trip give the same verdict.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::screening::screen;
use needlewise_fhir::{export_response, import_response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct CaseFile {
    pub today: String,
    pub base: BTreeMap<String, toml::Value>,
    pub case: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub unset: Vec<String>,
    pub verdict: Option<String>,
}

pub fn load() -> (Date, Vec<(String, serde_json::Value, String)>) {
    let file: CaseFile = toml::from_str(include_str!(
        "../../../core/tests/core/cases/screening.toml"
    ))
    .unwrap();
    let today: Date = file.today.parse().unwrap();
    let cases = file
        .case
        .into_iter()
        .map(|case| {
            let mut merged = file.base.clone();
            merged.extend(case.set.clone());
            for id in &case.unset {
                merged.remove(id);
            }
            (
                case.name,
                serde_json::to_value(&merged).unwrap(),
                case.verdict.unwrap(),
            )
        })
        .collect();
    (today, cases)
}

pub fn authored(today: Date) -> Timestamp {
    today
        .at(12, 0, 0, 0)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
}

#[test]
fn every_case_gives_the_same_verdict_after_a_fhir_round_trip() {
    let base = evidence();
    let (today, cases) = load();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut verdicts = std::collections::BTreeSet::new();
    for (name, json, expected) in cases {
        let native = Answers::from_json(&base.screening, &json, today).unwrap();
        let want = screen(base, &native, today).unwrap();
        assert_eq!(want.verdict.id(), expected, "case {name:?}");
        let response = export_response(base, &native, authored(today), None, None).unwrap();
        let bytes = serde_json::to_vec(&response).unwrap();
        let imported = import_response(base, &bytes, today)
            .unwrap_or_else(|e| panic!("case {name:?}: {e}\n{}", String::from_utf8_lossy(&bytes)));
        let got = screen(base, &imported, today).unwrap();
        assert_eq!(got.verdict, want.verdict, "case {name:?}");
        assert_eq!(got.eligible_from, want.eligible_from, "case {name:?}");
        assert_eq!(got.zones, want.zones, "case {name:?}");
        assert_eq!(got.excluded_zones, want.excluded_zones, "case {name:?}");
        let ids = |r: &needlewise_core::screening::ScreeningResult| {
            r.reasons
                .iter()
                .map(|x| x.rule_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&got), ids(&want), "case {name:?}");
        // Exporting the imported answers gives the same response.
        let again = export_response(base, &imported, authored(today), None, None).unwrap();
        assert_eq!(again, response, "case {name:?}");
        verdicts.insert(got.verdict);
    }
    // The cases cover every verdict, so the test compares all four.
    assert_eq!(verdicts.len(), 4, "{verdicts:?}");
}

#[test]
fn the_response_names_the_questionnaire_and_nests_exposures_and_procedures() {
    let base = evidence();
    let (today, cases) = load();
    let (_, json, _) = cases
        .iter()
        .find(|(_, j, _)| {
            j["recent_procedures"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
                && j["isotretinoin"].as_str().is_some_and(|s| s.len() == 10)
        })
        .or_else(|| {
            cases.iter().find(|(_, j, _)| {
                j["recent_procedures"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            })
        })
        .expect("a case with a recent procedure");
    let answers = Answers::from_json(&base.screening, json, today).unwrap();
    let r =
        serde_json::to_value(export_response(base, &answers, authored(today), None, None).unwrap())
            .unwrap();
    assert_eq!(r["resourceType"], "QuestionnaireResponse");
    assert_eq!(r["status"], "completed");
    assert!(
        r["questionnaire"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}|", needlewise_fhir::SCREENING_URL))
    );
    let items = r["item"].as_array().unwrap();
    let proc = items
        .iter()
        .find(|i| i["linkId"] == "recent_procedures")
        .unwrap();
    assert!(proc.get("answer").is_none());
    let kinds: Vec<&str> = proc["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["linkId"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"recent_procedures.kind") && kinds.contains(&"recent_procedures.date"),
        "{kinds:?}"
    );
    let iso = items
        .iter()
        .find(|i| i["linkId"] == "isotretinoin")
        .unwrap();
    assert_eq!(iso["item"][0]["linkId"], "isotretinoin.status");
    let age = items.iter().find(|i| i["linkId"] == "age").unwrap();
    assert_eq!(age["answer"][0]["valueInteger"], 35);
    let needle = items
        .iter()
        .find(|i| i["linkId"] == "needle_length_mm")
        .unwrap();
    assert_eq!(needle["answer"][0]["valueDecimal"], 0.25);
    let zones = items.iter().find(|i| i["linkId"] == "zones").unwrap();
    assert!(zones["answer"].as_array().unwrap().len() >= 2);
    // Empty zone lists are unanswered items.
    assert!(
        items.iter().all(|i| i["linkId"] != "tattoo_zones"
            || !json["tattoo_zones"].as_array().unwrap().is_empty())
    );
}
