#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Questionnaire generated from the evidence base.

use std::collections::BTreeMap;

use needlewise_core::evidence;
use needlewise_core::evidence::QuestionKind;
use needlewise_fhir::{SCREENING_URL, questionnaire};
use serde_json::Value;

fn flatten<'a>(items: &'a [Value], out: &mut BTreeMap<String, &'a Value>) {
    for i in items {
        out.insert(i["linkId"].as_str().unwrap().to_owned(), i);
        if let Some(children) = i["item"].as_array() {
            flatten(children, out);
        }
    }
}

fn form() -> Value {
    serde_json::to_value(questionnaire(evidence()).unwrap()).unwrap()
}

#[test]
fn it_has_the_required_metadata() {
    let q = form();
    assert_eq!(q["resourceType"], "Questionnaire");
    assert_eq!(q["url"], SCREENING_URL);
    assert_eq!(q["status"], "active");
    assert!(q["version"].as_str().unwrap().starts_with("0."));
    let name = q["name"].as_str().unwrap();
    assert!(name.chars().next().unwrap().is_ascii_uppercase());
    assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    assert!(!q["title"].as_str().unwrap().is_empty());
    // The version follows the evidence: it is stable between calls.
    assert_eq!(form()["version"], q["version"]);
}

#[test]
fn one_item_per_question_with_the_answer_id_as_link_id_and_a_matching_type() {
    let q = form();
    let mut items = BTreeMap::new();
    flatten(q["item"].as_array().unwrap(), &mut items);
    let base = evidence();
    for question in &base.screening.questions {
        let item = items
            .get(&question.id)
            .unwrap_or_else(|| panic!("no item {}", question.id));
        let (ty, repeats) = match &question.kind {
            QuestionKind::Bool => ("boolean", false),
            QuestionKind::Integer { .. } => ("integer", false),
            QuestionKind::Number { .. } => ("decimal", false),
            QuestionKind::Choice { .. } => ("choice", false),
            QuestionKind::Date => ("date", false),
            QuestionKind::Zones => ("choice", true),
            QuestionKind::Exposure => ("group", false),
            QuestionKind::Procedures => ("group", true),
        };
        assert_eq!(item["type"], ty, "{}", question.id);
        assert_eq!(
            item["repeats"].as_bool().unwrap_or(false),
            repeats,
            "{}",
            question.id
        );
        assert_eq!(item["text"], question.prompt.as_str());
        if let QuestionKind::Choice { options } = &question.kind {
            let codes: Vec<&str> = item["answerOption"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["valueCoding"]["code"].as_str().unwrap())
                .collect();
            assert_eq!(
                codes,
                options.iter().map(String::as_str).collect::<Vec<_>>()
            );
        }
        if question.enable_when.is_none() {
            assert!(item.get("enableWhen").is_none(), "{}", question.id);
        }
    }
    // Every enableWhen names an item; several of them need enableBehavior.
    for (id, item) in &items {
        if let Some(ew) = item["enableWhen"].as_array() {
            for e in ew {
                assert!(items.contains_key(e["question"].as_str().unwrap()), "{id}");
            }
            assert_eq!(item.get("enableBehavior").is_some(), ew.len() > 1, "{id}");
        }
        if item["type"] == "group" {
            assert!(
                !item["item"].as_array().unwrap().is_empty(),
                "{id}: an empty group"
            );
        }
    }
}

#[test]
fn conditions_become_enable_when() {
    let q = form();
    let mut items = BTreeMap::new();
    flatten(q["item"].as_array().unwrap(), &mut items);
    // not(sex = male)
    let pregnant = items["pregnant"];
    assert_eq!(pregnant["enableWhen"][0]["question"], "sex");
    assert_eq!(pregnant["enableWhen"][0]["operator"], "!=");
    assert_eq!(pregnant["enableWhen"][0]["answerCoding"]["code"], "male");
    // not(is_true anaesthetic_allergy)
    let numbing = items["plans_topical_anaesthetic"];
    assert_eq!(numbing["enableWhen"][0]["operator"], "!=");
    assert_eq!(numbing["enableWhen"][0]["answerBoolean"], true);
    // all(cold_sores, zones ∩ {upper_lip, chin}): a group for the first
    // clause, the item keeps the `any` of the zones.
    let wrapper = items["antiviral_plan_confirmed.if1"];
    assert_eq!(wrapper["type"], "group");
    assert_eq!(wrapper["enableWhen"][0]["question"], "cold_sores");
    assert_eq!(wrapper["enableWhen"][0]["answerBoolean"], true);
    assert_eq!(wrapper["item"][0]["linkId"], "antiviral_plan_confirmed");
    let antiviral = items["antiviral_plan_confirmed"];
    assert_eq!(antiviral["enableBehavior"], "any");
    let zones: Vec<&str> = antiviral["enableWhen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["answerCoding"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["upper_lip", "chin"]);
    // The exposure's date shows only when it ended.
    let ended = items["isotretinoin.ended"];
    assert_eq!(ended["type"], "date");
    assert_eq!(ended["enableWhen"][0]["question"], "isotretinoin.status");
    assert_eq!(ended["enableWhen"][0]["answerCoding"]["code"], "ended");
}

#[test]
fn nested_conditions_are_put_in_conjunctive_form_and_timed_ones_refused() {
    use needlewise_core::evidence::Condition;
    let t = |q: &str| Condition::IsTrue { question: q.into() };
    let mut base = evidence().clone();
    let i = base
        .screening
        .questions
        .iter()
        .position(|q| q.id == "treating_young_scar")
        .unwrap();
    // (keloid ∧ metal) ∨ cardiac = (keloid ∨ cardiac) ∧ (metal ∨ cardiac)
    base.screening.questions[i].enable_when = Some(Condition::Any {
        of: vec![
            Condition::All {
                of: vec![t("keloid_tendency"), t("metal_allergy")],
            },
            t("cardiac_condition"),
        ],
    });
    let q = serde_json::to_value(questionnaire(&base).unwrap()).unwrap();
    let mut items = BTreeMap::new();
    flatten(q["item"].as_array().unwrap(), &mut items);
    let outer = items["treating_young_scar.if1"];
    let inner = items["treating_young_scar"];
    let questions = |v: &Value| -> Vec<String> {
        v["enableWhen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["question"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(questions(outer), ["keloid_tendency", "cardiac_condition"]);
    assert_eq!(outer["enableBehavior"], "any");
    assert_eq!(questions(inner), ["metal_allergy", "cardiac_condition"]);
    assert_eq!(outer["item"][0]["linkId"], "treating_young_scar");

    base.screening.questions[i].enable_when = Some(Condition::DateAfterToday {
        question: "age".into(),
    });
    let e = questionnaire(&base).unwrap_err().to_string();
    assert!(e.starts_with("treating_young_scar: "), "{e}");
}
