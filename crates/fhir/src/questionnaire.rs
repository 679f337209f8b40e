//! The candidacy screening as a FHIR R4 Questionnaire, generated from the
//! evidence base.
//!
//! Every screening question becomes one item whose `linkId` is the answer
//! id of an answer file. Two kinds need more than one FHIR item:
//!
//! - an exposure (`never`, `current` or the date it ended) is a group with
//!   the answer id as `linkId`, holding a choice `<id>.status` (`never`,
//!   `current`, `ended`) and a date `<id>.ended` shown when it ended;
//! - the recent procedures are a repeating group `<id>` with a choice
//!   `<id>.kind`, a date `<id>.date` and zones `<id>.zones`.
//!
//! A zone list is a repeating choice; leaving it unanswered means none.
//!
//! A question's `enable_when` condition is written as `enableWhen`. FHIR's
//! `enableWhen` is one flat `all` or `any` list, so a condition that needs
//! both (an `all` of `any`s) is put in conjunctive form: the item keeps the
//! last clause, and each other clause wraps it in a group
//! (`<id>.if1`, `<id>.if2`…) with that clause's `enableWhen`.

use needlewise_core::evidence::{Condition, EvidenceBase, Question, QuestionKind, Questionnaire};
use needlewise_core::zone::Zone;
use serde_json::json;

use crate::model::{
    AnswerOption, Coding, EnableAnswer, EnableWhen, Extension, Questionnaire as FhirQuestionnaire,
    QuestionnaireItem,
};
use crate::{
    EXPOSURE_STATES, FhirError, SCREENING_NAME, SCREENING_URL, choice_system, exposure_system,
    humanise, procedure_kinds, zone_system,
};

/// The screening Questionnaire for this evidence base.
///
/// Fails only if the evidence base has an `enable_when` that FHIR's
/// `enableWhen` cannot express (a timed condition); the shipped base has
/// none, and a test keeps it that way.
pub fn questionnaire(base: &EvidenceBase) -> Result<FhirQuestionnaire, FhirError> {
    let q = &base.screening;
    let mut items = Vec::new();
    for question in q.questions.iter().filter(|qq| !qq.fact) {
        items.push(item_for(q, question)?);
    }
    Ok(FhirQuestionnaire {
        resource_type: "Questionnaire",
        id: "needlewise-screening".into(),
        url: SCREENING_URL.into(),
        version: evidence_version(base),
        name: SCREENING_NAME.into(),
        title: "needlewise candidacy screening for microneedling at home".into(),
        status: "active",
        subject_type: vec!["Patient"],
        publisher: "needlewise".into(),
        description: "May this person microneedle their face at home? Every question of needlewise's candidacy screening; the verdict comes from needlewise's cited rules, not from this form. Decision support, not a diagnosis: when in doubt, ask your facial plastic surgeon.".into(),
        item: items,
    })
}

fn item_for(q: &Questionnaire, question: &Question) -> Result<QuestionnaireItem, FhirError> {
    let mut item = leaf(question);
    let Some(cond) = &question.enable_when else {
        return Ok(item);
    };
    let clauses = cnf(q, cond).ok_or_else(|| FhirError::Unsupported {
        question: question.id.clone(),
        message: "its enable_when cannot be written as FHIR enableWhen".into(),
    })?;
    // The last clause goes on the item itself, each earlier one on a group
    // around it, innermost last.
    let mut clauses = clauses.into_iter().rev();
    if let Some(last) = clauses.next() {
        set_enable(&mut item, last);
    }
    for (n, clause) in clauses.enumerate() {
        let mut group = QuestionnaireItem {
            extension: Vec::new(),
            link_id: format!("{}.if{}", question.id, n + 1),
            text: None,
            kind: "group",
            enable_when: Vec::new(),
            enable_behavior: None,
            required: false,
            repeats: false,
            answer_option: Vec::new(),
            item: vec![item],
        };
        set_enable(&mut group, clause);
        item = group;
    }
    Ok(item)
}

fn set_enable(item: &mut QuestionnaireItem, clause: Vec<EnableWhen>) {
    if clause.len() > 1 {
        item.enable_behavior = Some("any");
    }
    item.enable_when = clause;
}

fn control(code: &str) -> Extension {
    Extension {
        url: "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl".into(),
        value: json!({ "valueCodeableConcept": { "coding": [{
            "system": "http://hl7.org/fhir/questionnaire-item-control",
            "code": code,
        }]}}),
    }
}

fn bound(url: &str, value: serde_json::Value) -> Extension {
    Extension {
        url: format!("http://hl7.org/fhir/StructureDefinition/{url}"),
        value,
    }
}

fn plain(link_id: String, text: Option<String>, kind: &'static str) -> QuestionnaireItem {
    QuestionnaireItem {
        extension: Vec::new(),
        link_id,
        text,
        kind,
        enable_when: Vec::new(),
        enable_behavior: None,
        required: false,
        repeats: false,
        answer_option: Vec::new(),
        item: Vec::new(),
    }
}

fn options(system: &str, codes: impl IntoIterator<Item = (String, String)>) -> Vec<AnswerOption> {
    codes
        .into_iter()
        .map(|(code, display)| AnswerOption {
            value_coding: Coding::new(system, &code, Some(&display)),
        })
        .collect()
}

fn zone_options() -> Vec<AnswerOption> {
    options(
        &zone_system(),
        Zone::ALL
            .into_iter()
            .map(|z| (z.id().to_owned(), z.label().to_owned())),
    )
}

fn leaf(question: &Question) -> QuestionnaireItem {
    let id = question.id.clone();
    let text = Some(question.prompt.clone());
    match &question.kind {
        QuestionKind::Bool => {
            let mut item = plain(id, text, "boolean");
            item.required = true;
            item
        }
        QuestionKind::Integer { min, max } => {
            let mut item = plain(id, text, "integer");
            item.required = true;
            item.extension = vec![
                bound("minValue", json!({ "valueInteger": min })),
                bound("maxValue", json!({ "valueInteger": max })),
            ];
            item
        }
        QuestionKind::Number { min, max } => {
            let mut item = plain(id, text, "decimal");
            item.required = true;
            item.extension = vec![
                bound("minValue", json!({ "valueDecimal": min })),
                bound("maxValue", json!({ "valueDecimal": max })),
            ];
            item
        }
        QuestionKind::Choice { options: opts } => {
            let mut item = plain(id.clone(), text, "choice");
            item.required = true;
            item.extension = vec![control("radio-button")];
            item.answer_option = options(
                &choice_system(&id),
                opts.iter().map(|o| (o.clone(), humanise(o))),
            );
            item
        }
        QuestionKind::Date => {
            let mut item = plain(id, text, "date");
            item.required = true;
            item
        }
        QuestionKind::Zones => {
            let mut item = plain(id, text, "choice");
            item.repeats = true;
            item.extension = vec![control("check-box")];
            item.answer_option = zone_options();
            item
        }
        QuestionKind::Exposure => {
            let mut status = plain(
                format!("{id}.status"),
                Some("Never, current, or ended?".into()),
                "choice",
            );
            status.required = true;
            status.extension = vec![control("radio-button")];
            status.answer_option = options(
                &exposure_system(),
                EXPOSURE_STATES
                    .iter()
                    .map(|s| ((*s).to_owned(), humanise(s))),
            );
            let mut ended = plain(
                format!("{id}.ended"),
                Some("When did it end (the last dose or the last treatment)?".into()),
                "date",
            );
            ended.required = true;
            ended.enable_when = vec![EnableWhen {
                question: format!("{id}.status"),
                operator: "=",
                answer: EnableAnswer::Coding(Coding::new(
                    &exposure_system(),
                    "ended",
                    Some("ended"),
                )),
            }];
            let mut group = plain(id, text, "group");
            group.item = vec![status, ended];
            group
        }
        QuestionKind::Procedures => {
            let mut kind = plain(format!("{id}.kind"), Some("Procedure".into()), "choice");
            kind.required = true;
            kind.extension = vec![control("radio-button")];
            kind.answer_option = options(
                &choice_system(&format!("{id}.kind")),
                procedure_kinds()
                    .into_iter()
                    .map(|(code, _)| (code.clone(), humanise(&code))),
            );
            let mut date = plain(format!("{id}.date"), Some("Date".into()), "date");
            date.required = true;
            let mut zones = plain(
                format!("{id}.zones"),
                Some("Zones it touched (none ticked: the whole face)".into()),
                "choice",
            );
            zones.repeats = true;
            zones.extension = vec![control("check-box")];
            zones.answer_option = zone_options();
            let mut group = plain(id, text, "group");
            group.repeats = true;
            group.item = vec![kind, date, zones];
            group
        }
    }
}

/// A condition in conjunctive normal form: every clause must hold, and a
/// clause holds when any of its `enableWhen` does. `None` when a literal
/// has no `enableWhen` form.
fn cnf(q: &Questionnaire, cond: &Condition) -> Option<Vec<Vec<EnableWhen>>> {
    match cond {
        Condition::All { of } => {
            let mut out = Vec::new();
            for c in of {
                out.extend(cnf(q, c)?);
            }
            Some(out)
        }
        Condition::Any { of } => {
            // (a ∧ b) ∨ c = (a ∨ c) ∧ (b ∨ c): the product of the clauses.
            let mut acc: Vec<Vec<EnableWhen>> = vec![Vec::new()];
            for c in of {
                let part = cnf(q, c)?;
                let mut next = Vec::new();
                for left in &acc {
                    for right in &part {
                        let mut clause = left.clone();
                        clause.extend(right.iter().cloned());
                        next.push(clause);
                    }
                }
                acc = next;
            }
            Some(acc)
        }
        Condition::Not { of } => negate(q, of),
        literal => Some(vec![atoms(q, literal, false)?]),
    }
}

fn negate(q: &Questionnaire, cond: &Condition) -> Option<Vec<Vec<EnableWhen>>> {
    match cond {
        // ¬(a ∧ b) = ¬a ∨ ¬b
        Condition::All { of } => cnf(
            q,
            &Condition::Any {
                of: of
                    .iter()
                    .map(|c| Condition::Not {
                        of: Box::new(c.clone()),
                    })
                    .collect(),
            },
        ),
        Condition::Any { of } => cnf(
            q,
            &Condition::All {
                of: of
                    .iter()
                    .map(|c| Condition::Not {
                        of: Box::new(c.clone()),
                    })
                    .collect(),
            },
        ),
        Condition::Not { of } => cnf(q, of),
        literal => {
            // ¬(x = a ∨ x = b) = x ≠ a ∧ x ≠ b: one clause per atom.
            let atoms = atoms(q, literal, true)?;
            Some(atoms.into_iter().map(|a| vec![a]).collect())
        }
    }
}

/// The `enableWhen` atoms of a literal condition, read as an `any` (or,
/// negated, as an `all` of the negated atoms).
fn atoms(q: &Questionnaire, cond: &Condition, negated: bool) -> Option<Vec<EnableWhen>> {
    let eq = if negated { "!=" } else { "=" };
    let number = |question: &str, op: &'static str, value: f64| -> Option<Vec<EnableWhen>> {
        let answer = match &q.question(question)?.kind {
            QuestionKind::Integer { .. } if value.fract() == 0.0 => {
                EnableAnswer::Integer(value as i64)
            }
            QuestionKind::Number { .. } => EnableAnswer::Decimal(value),
            _ => return None,
        };
        let op = if negated {
            match op {
                "<" => ">=",
                "<=" => ">",
                ">" => "<=",
                _ => "<",
            }
        } else {
            op
        };
        Some(vec![EnableWhen {
            question: question.to_owned(),
            operator: op,
            answer,
        }])
    };
    let coding = |question: &str, system: String, code: &str| EnableWhen {
        question: question.to_owned(),
        operator: eq,
        answer: EnableAnswer::Coding(Coding::new(&system, code, None)),
    };
    match cond {
        Condition::IsTrue { question } => Some(vec![EnableWhen {
            question: question.clone(),
            operator: eq,
            answer: EnableAnswer::Boolean(true),
        }]),
        Condition::Equals { question, value } => {
            Some(vec![coding(question, choice_system(question), value)])
        }
        Condition::OneOf { question, values } => Some(
            values
                .iter()
                .map(|v| coding(question, choice_system(question), v))
                .collect(),
        ),
        Condition::ZonesIntersect { question, zones } => Some(
            zones
                .iter()
                .map(|z| coding(question, zone_system(), z.id()))
                .collect(),
        ),
        Condition::ListedZones { question } => Some(vec![EnableWhen {
            question: question.clone(),
            operator: "exists",
            answer: EnableAnswer::Boolean(!negated),
        }]),
        Condition::Lt { question, value } => number(question, "<", *value),
        Condition::Le { question, value } => number(question, "<=", *value),
        Condition::Gt { question, value } => number(question, ">", *value),
        Condition::Ge { question, value } => number(question, ">=", *value),
        _ => None,
    }
}

/// The canonical reference a response gives for this Questionnaire.
pub fn canonical(base: &EvidenceBase) -> String {
    format!("{SCREENING_URL}|{}", evidence_version(base))
}

/// The Questionnaire's `version`: the crate version and a fingerprint of the
/// screening's questions and rules (64-bit FNV-1a of their JSON), so any
/// change to the evidence base gives a new version.
pub fn evidence_version(base: &EvidenceBase) -> String {
    let text = serde_json::to_string(&base.screening).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}+{hash:016x}", env!("CARGO_PKG_VERSION"))
}
