#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Importing responses: what renderers produce, and clear errors.

use jiff::civil::Date;
use needlewise_core::answers::{Answer, Answers, Exposure};
use needlewise_core::evidence;
use needlewise_core::screening::{Verdict, screen};
use needlewise_fhir::{MAX_IMPORT_BYTES, export_response, import_response};
use serde_json::{Value, json};

use crate::cases;

pub fn today() -> Date {
    cases::load().0
}

/// The healthy adult of the cases, as answers.
pub fn healthy() -> Answers {
    let (today, cases) = cases::load();
    Answers::from_json(&evidence().screening, &cases[0].1, today).unwrap()
}

/// The healthy adult's response as JSON.
pub fn valid() -> Value {
    static VALID: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    VALID
        .get_or_init(|| {
            serde_json::to_value(
                export_response(evidence(), &healthy(), cases::authored(today()), None, None)
                    .unwrap(),
            )
            .unwrap()
        })
        .clone()
}

pub fn import(v: &Value) -> Result<Answers, String> {
    import_response(evidence(), &serde_json::to_vec(v).unwrap(), today()).map_err(|e| e.to_string())
}

fn position(v: &Value, link_id: &str) -> usize {
    v["item"]
        .as_array()
        .unwrap()
        .iter()
        .position(|i| i["linkId"] == link_id)
        .unwrap()
}

#[test]
fn a_response_shaped_like_lhc_forms_output_imports() {
    // LHC-Forms style: codings with display only where it knows them, no
    // system on some, a decimal given as an integer, groups, unanswered
    // items, extra FHIR elements.
    let mut items = vec![
        json!({"linkId": "age", "text": "How old are you?", "answer": [{"valueInteger": 40}]}),
        json!({"linkId": "sex", "answer": [{"valueCoding": {"code": "male", "display": "Male"}}]}),
        json!({"linkId": "isotretinoin", "item": [
            {"linkId": "isotretinoin.status", "answer": [{"valueCoding": {"code": "ended"}}]},
            {"linkId": "isotretinoin.ended", "answer": [{"valueDate": "2025-01-02"}]}
        ]}),
        json!({"linkId": "diabetes", "answer": [{"valueCoding": {"system": "https://needlewise.example/fhir/CodeSystem/diabetes", "code": "controlled"}}]}),
        json!({"linkId": "fitzpatrick", "answer": [{"valueInteger": 3}]}),
        json!({"linkId": "needle_length_mm", "answer": [{"valueInteger": 1}]}),
        json!({"linkId": "zones", "answer": [{"valueCoding": {"code": "forehead"}}, {"valueCoding": {"code": "chin"}}]}),
        json!({"linkId": "tattoo_zones"}),
        json!({"linkId": "recent_procedures", "item": [
            {"linkId": "recent_procedures.kind", "answer": [{"valueCoding": {"code": "peel"}}]},
            {"linkId": "recent_procedures.date", "answer": [{"valueDate": "2024-01-01"}]}
        ]}),
        json!({"linkId": "cold_sores", "answer": [{"valueBoolean": true}]}),
        json!({"linkId": "antiviral_plan_confirmed.if1", "item": [
            {"linkId": "antiviral_plan_confirmed", "answer": [{"valueBoolean": true}]}
        ]}),
    ];
    for id in [
        "cardiac_condition",
        "collagen_vascular_disease",
        "bleeding_disorder",
        "anticoagulants",
        "immunosuppressed",
        "systemic_infection",
        "keloid_tendency",
        "metal_allergy",
        "anaesthetic_allergy",
        "plans_topical_anaesthetic",
        "skin_cancer_or_suspicious_lesion",
        "chronic_skin_condition",
        "treating_young_scar",
        "other_serious_condition",
        "chemo_or_radiotherapy_planned",
        "high_dose_steroids_planned",
    ] {
        items.push(json!({"linkId": id, "answer": [{"valueBoolean": false}]}));
    }
    items.push(json!({"linkId": "device_kind", "answer": [{"valueCoding": {"system": "https://needlewise.example/fhir/CodeSystem/device_kind", "code": "roller"}}]}));
    for id in ["chemo_or_radiotherapy", "high_dose_steroids"] {
        items.push(json!({"linkId": id, "item": [
            {"linkId": format!("{id}.status"), "answer": [{"valueCoding": {"code": "never"}}]}
        ]}));
    }
    let r = json!({
        "resourceType": "QuestionnaireResponse",
        "meta": {"profile": ["http://hl7.org/fhir/4.0/StructureDefinition/QuestionnaireResponse"]},
        "status": "completed",
        "authored": "2026-11-25T10:00:00.000Z",
        "questionnaire": "https://needlewise.example/fhir/Questionnaire/screening",
        "item": items,
    });
    let a = import(&r).unwrap();
    assert_eq!(a.get("age"), Some(&Answer::Integer(40)));
    assert_eq!(a.number("needle_length_mm"), Some(1.0));
    assert_eq!(
        a.get("isotretinoin"),
        Some(&Answer::Exposure(Exposure::Ended(
            "2025-01-02".parse().unwrap()
        )))
    );
    assert_eq!(a.bool("antiviral_plan_confirmed"), Some(true));
    assert_eq!(a.zones("tattoo_zones").map(|z| z.len()), Some(0));
    let Some(Answer::Procedures(ps)) = a.get("recent_procedures") else {
        panic!()
    };
    assert_eq!(ps.len(), 1);
    // The same answers as an answer file.
    let file = json!({
        "age": 40, "sex": "male", "isotretinoin": "2025-01-02", "diabetes": "controlled",
        "fitzpatrick": 3, "needle_length_mm": 1.0, "zones": ["forehead", "chin"],
        "tattoo_zones": [], "active_skin_problem_zones": [],
        "recent_procedures": [{"kind": "peel", "date": "2024-01-01"}],
        "cold_sores": true, "antiviral_plan_confirmed": true,
        "cardiac_condition": false, "collagen_vascular_disease": false, "bleeding_disorder": false,
        "anticoagulants": false, "immunosuppressed": false, "systemic_infection": false,
        "keloid_tendency": false, "metal_allergy": false, "anaesthetic_allergy": false,
        "plans_topical_anaesthetic": false, "skin_cancer_or_suspicious_lesion": false,
        "chronic_skin_condition": false, "treating_young_scar": false,
        "chemo_or_radiotherapy": "never", "high_dose_steroids": "never",
        "other_serious_condition": false, "chemo_or_radiotherapy_planned": false,
        "high_dose_steroids_planned": false, "device_kind": "roller",
    });
    let native = Answers::from_json(&evidence().screening, &file, today()).unwrap();
    assert_eq!(a, native);
    let got = screen(evidence(), &a, today()).unwrap();
    let want = screen(evidence(), &native, today()).unwrap();
    assert_eq!(got.verdict, want.verdict);
    assert_eq!(
        got.verdict,
        Verdict::NotAtHome,
        "a 1 mm needle is for clinics"
    );
}

#[test]
fn answers_to_disabled_items_are_ignored() {
    // pregnant is disabled for sex = male: its answer is dropped.
    let mut r = valid();
    let sex = position(&r, "sex");
    r["item"][sex]["answer"][0]["valueCoding"]["code"] = json!("male");
    let p = position(&r, "pregnant");
    r["item"][p]["answer"][0]["valueBoolean"] = json!(true);
    let a = import(&r).unwrap();
    assert_eq!(a.get("pregnant"), None);
    assert_eq!(
        screen(evidence(), &a, today()).unwrap().verdict,
        Verdict::Go
    );
}

#[test]
fn an_incomplete_response_imports_but_does_not_screen() {
    let mut r = valid();
    let age = position(&r, "age");
    r["item"].as_array_mut().unwrap().remove(age);
    let a = import(&r).unwrap();
    let e = screen(evidence(), &a, today()).unwrap_err().to_string();
    assert!(e.contains("age: is missing"), "{e}");
}

fn fails(r: &Value, wants: &[&str]) {
    let e = import(r).unwrap_err();
    for w in wants {
        assert!(e.contains(w), "wanted {w:?} in {e:?}");
    }
}

#[test]
fn errors_name_the_field() {
    let v = valid();
    let p = position(&v, "pregnant");
    let age = position(&v, "age");
    let mut r = v.clone();
    r["item"][p]["answer"][0]["valueBoolean"] = json!("yes");
    fails(
        &r,
        &[&format!(
            "item[{p}].answer[0].valueBoolean: expected a boolean, got a string"
        )],
    );

    let mut r = v.clone();
    r["item"][p]["answer"][0] = json!({"valueString": "true"});
    fails(
        &r,
        &[&format!(
            "item[{p}].answer[0]: \"pregnant\" takes valueBoolean, not \"valueString\""
        )],
    );

    let mut r = v.clone();
    r["item"][age]["answer"][0]["valueInteger"] = json!(150);
    fails(
        &r,
        &[&format!("item[{age}].answer[0] (age): 150 is out of range")],
    );

    let mut r = v.clone();
    r["item"][age]["answer"][0]["valueInteger"] = json!(35.5);
    fails(
        &r,
        &[&format!(
            "item[{age}].answer[0].valueInteger: expected a whole number"
        )],
    );

    let mut r = v.clone();
    r["item"][age]["linkId"] = json!("favourite_colour");
    fails(
        &r,
        &[&format!(
            "item[{age}].linkId: \"favourite_colour\" is not a question"
        )],
    );

    let mut r = v.clone();
    r["resourceType"] = json!("Patient");
    fails(
        &r,
        &["resourceType: expected \"QuestionnaireResponse\", got \"Patient\""],
    );

    let mut r = v.clone();
    r.as_object_mut().unwrap().remove("resourceType");
    fails(&r, &["resourceType: is missing"]);

    let mut r = v.clone();
    r["status"] = json!("entered-in-error");
    fails(&r, &["status: \"entered-in-error\" is not one of"]);

    let mut r = v.clone();
    r["questionnaire"] = json!("http://example.org/Questionnaire/other");
    fails(
        &r,
        &[
            "questionnaire: \"http://example.org/Questionnaire/other\" is not needlewise's screening",
        ],
    );

    let mut r = v.clone();
    r["surprise"] = json!(1);
    fails(
        &r,
        &["\"surprise\": is not an element of a QuestionnaireResponse"],
    );

    let mut r = v.clone();
    let sex = position(&v, "sex");
    r["item"][sex]["answer"][0]["valueCoding"]["code"] = json!("robot");
    fails(
        &r,
        &[&format!(
            "item[{sex}].answer[0].valueCoding.code: \"robot\" is not one of female, male, other"
        )],
    );

    let mut r = v.clone();
    r["item"][sex]["answer"][0]["valueCoding"]["system"] = json!("http://snomed.info/sct");
    fails(&r, &[&format!("item[{sex}].answer[0].valueCoding.system")]);

    let mut r = v.clone();
    r["item"][p]["answer"] = json!([{"valueBoolean": true}, {"valueBoolean": false}]);
    fails(
        &r,
        &[&format!(
            "item[{p}].answer: \"pregnant\" takes one answer, got 2"
        )],
    );

    // A date in the future is refused as in an answer file, at its item.
    let mut r = v.clone();
    let iso = position(&v, "isotretinoin");
    r["item"][iso]["item"] = json!([
        {"linkId": "isotretinoin.status", "answer": [{"valueCoding": {"code": "ended"}}]},
        {"linkId": "isotretinoin.ended", "answer": [{"valueDate": "2099-01-01"}]}
    ]);
    fails(
        &r,
        &[&format!(
            "item[{iso}].item[1].answer[0] (isotretinoin): 2099-01-01 is in the future"
        )],
    );

    let mut r = v.clone();
    r["item"][iso]["item"] = json!([
        {"linkId": "isotretinoin.status", "answer": [{"valueCoding": {"code": "ended"}}]}
    ]);
    fails(
        &r,
        &[&format!(
            "item[{iso}].item[0].answer[0]: isotretinoin ended: the date it ended (isotretinoin.ended) is missing"
        )],
    );

    let mut r = v.clone();
    r["item"][iso]["item"][0]["answer"][0]["valueCoding"]["code"] = json!("2025-02-30");
    fails(
        &r,
        &[&format!(
            "item[{iso}].item[0].answer[0].valueCoding.code: \"2025-02-30\" is not one of never, current, ended"
        )],
    );

    let mut r = v.clone();
    r["item"]
        .as_array_mut()
        .unwrap()
        .push(v["item"][age].clone());
    fails(&r, &["\"age\" is answered twice"]);
}

#[test]
fn bad_bytes_are_refused_with_a_position() {
    let e = import_response(evidence(), b"{\"resourceType\": \"QuestionnaireRe", today())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("(json) line 1 column"), "{e}");
    let big = vec![b' '; MAX_IMPORT_BYTES + 1];
    let e = import_response(evidence(), &big, today())
        .unwrap_err()
        .to_string();
    assert!(e.contains("(input): is 1048577 bytes"), "{e}");
    let e = import_response(evidence(), b"[1, 2]", today())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("(root): expected a QuestionnaireResponse object, got a list"),
        "{e}"
    );
}

#[test]
fn hostile_strings_are_escaped_and_cut_in_messages() {
    let mut r = valid();
    r["item"][0]["linkId"] = json!(format!("\u{202e}evil\u{0}{}", "x".repeat(100_000)));
    let e = import(&r).unwrap_err();
    assert!(
        e.contains("\\u{202e}evil\\u{0}"),
        "{}",
        &e[..e.len().min(300)]
    );
    assert!(!e.contains('\u{202e}') && !e.contains('\0'));
    assert!(e.len() < 400, "{} bytes", e.len());
}
