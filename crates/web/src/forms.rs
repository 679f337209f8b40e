//! HTML forms to typed answers, and questions to form fields.

use std::collections::BTreeMap;

use jiff::civil::Date;
use needlewise_core::answers::{Answer, Answers, InvalidAnswers};
use needlewise_core::engine::applicable_questions;
use needlewise_core::evidence::{Condition, Question, QuestionKind, Questionnaire};
use needlewise_core::zone::Zone;
use serde_json::{Value, json};

use crate::error::WebError;
pub use crate::views::{FieldView, FormErrors, ProcedureRowView};

/// A urlencoded body as ordered pairs; repeated names are kept.
pub fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of a field.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn all<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    pairs
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Rows offered for past procedures.
pub const PROCEDURE_ROWS: usize = 3;

/// Turns a form into answers for a questionnaire. Questions that do not
/// apply given the other answers are dropped, so a hidden field left filled
/// in cannot change the result.
pub fn answers(
    q: &Questionnaire,
    pairs: &[(String, String)],
    today: Date,
) -> Result<Answers, InvalidAnswers> {
    answers_given(q, pairs, today, &Answers::new())
}

/// [`answers`] for a questionnaire whose questions depend on facts
/// needlewise knows (see `needlewise_actions::checkin_facts`): which
/// questions apply is judged with `facts`, which are not returned.
pub fn answers_given(
    q: &Questionnaire,
    pairs: &[(String, String)],
    today: Date,
    facts: &Answers,
) -> Result<Answers, InvalidAnswers> {
    let mut json = serde_json::Map::new();
    for question in q.questions.iter().filter(|q| !q.fact) {
        if let Some(v) = value(question, pairs) {
            json.insert(question.id.clone(), v);
        }
    }
    let mut answers = Answers::from_json(q, &Value::Object(json.clone()), today)
        .map_err(|e| with_unanswered(q, &json, e))?;
    loop {
        let mut seen = answers.clone();
        for (id, fact) in facts.iter() {
            seen.set(id, fact.clone());
        }
        let applicable: Vec<&str> = applicable_questions(q, &seen)
            .map(|q| q.id.as_str())
            .collect();
        let before = json.len();
        json.retain(|id, _| applicable.contains(&id.as_str()));
        if json.len() == before {
            return Ok(answers);
        }
        answers = Answers::from_json(q, &Value::Object(json.clone()), today)?;
    }
}

/// Every problem at once: with some answers refused, the questions always
/// asked that have no answer at all are named too (the core names them only
/// once the rest parse). Conditional questions are left to the core, which
/// knows whether they apply.
fn with_unanswered(
    q: &Questionnaire,
    given: &serde_json::Map<String, Value>,
    mut e: InvalidAnswers,
) -> InvalidAnswers {
    for question in q
        .questions
        .iter()
        .filter(|q| !q.fact && q.enable_when.is_none())
    {
        if !given.contains_key(&question.id) && !e.0.iter().any(|f| f.field == question.id) {
            e.0.push(needlewise_core::answers::FieldError {
                field: question.id.clone(),
                message: format!("is missing; expected {}", question.kind.describe()),
            });
        }
    }
    e
}

fn value(question: &Question, pairs: &[(String, String)]) -> Option<Value> {
    let id = question.id.as_str();
    let one = field(pairs, id).map(str::trim).filter(|v| !v.is_empty());
    match &question.kind {
        QuestionKind::Bool => one.map(|v| match v {
            "yes" | "true" => Value::Bool(true),
            "no" | "false" => Value::Bool(false),
            other => Value::String(other.to_owned()),
        }),
        QuestionKind::Integer { .. } => one.map(|v| {
            v.parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(v.to_owned()))
        }),
        QuestionKind::Number { .. } => one.map(|v| {
            v.replace(',', ".")
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(v.to_owned()))
        }),
        QuestionKind::Choice { .. } | QuestionKind::Date => {
            one.map(|v| Value::String(v.to_owned()))
        }
        QuestionKind::Exposure => one.map(|v| match v {
            "date" => Value::String(
                field(pairs, &format!("{id}_date"))
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            ),
            other => Value::String(other.to_owned()),
        }),
        QuestionKind::Zones => Some(Value::Array(
            all(pairs, id)
                .map(|z| Value::String(z.to_owned()))
                .collect(),
        )),
        QuestionKind::Procedures => {
            let rows: Vec<Value> = (0..PROCEDURE_ROWS)
                .filter_map(|n| {
                    let kind = field(pairs, &format!("{id}_kind_{n}")).filter(|k| !k.is_empty())?;
                    let date = field(pairs, &format!("{id}_date_{n}")).unwrap_or_default();
                    let zones_name = format!("{id}_zones_{n}");
                    let zones: Vec<&str> = all(pairs, &zones_name).collect();
                    Some(json!({"kind": kind, "date": date, "zones": zones}))
                })
                .collect();
            Some(Value::Array(rows))
        }
    }
}

/// The answers `pairs` (a form's body) gives to the questions not in
/// `except`, as the pairs they came in: the hidden inputs that carry one
/// step's answers through the others. Only names a question of `q` owns
/// are kept (its id, an exposure's `_date`, a procedure row's `_kind_N`,
/// `_date_N` and `_zones_N`), so nothing else a body holds is echoed.
pub fn answer_pairs(
    q: &Questionnaire,
    pairs: &[(String, String)],
    except: &[&str],
) -> Vec<(String, String)> {
    let owns = |question: &Question, name: &str| {
        let id = question.id.as_str();
        let Some(rest) = name.strip_prefix(id) else {
            return false;
        };
        let row = |s: &str, prefix: &str| {
            s.strip_prefix(prefix)
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n < PROCEDURE_ROWS)
        };
        match &question.kind {
            _ if rest.is_empty() => true,
            QuestionKind::Exposure => rest == "_date",
            QuestionKind::Procedures => {
                row(rest, "_kind_") || row(rest, "_date_") || row(rest, "_zones_")
            }
            _ => false,
        }
    };
    pairs
        .iter()
        .filter(|(name, _)| {
            q.questions
                .iter()
                .filter(|question| !question.fact && !except.contains(&question.id.as_str()))
                .any(|question| owns(question, name))
        })
        .cloned()
        .collect()
}

/// The fields of a questionnaire, facts left out, empty.
pub fn fields(q: &Questionnaire) -> Vec<FieldView> {
    fields_as_given(q, &[], None)
}

/// The fields of a questionnaire shown again after a refused answer: every
/// answer as it was given (`pairs`, the form's body) and each problem in
/// plain words next to its question.
pub fn fields_as_given(
    q: &Questionnaire,
    pairs: &[(String, String)],
    errors: Option<&InvalidAnswers>,
) -> Vec<FieldView> {
    q.questions
        .iter()
        .filter(|q| !q.fact)
        .map(|question| {
            let id = question.id.as_str();
            let (kind, min, max, step, options) = match &question.kind {
                QuestionKind::Bool => ("bool", String::new(), String::new(), "", yes_no()),
                QuestionKind::Integer { min, max } => {
                    ("number", min.to_string(), max.to_string(), "1", vec![])
                }
                QuestionKind::Number { min, max } => {
                    ("number", min.to_string(), max.to_string(), "0.01", vec![])
                }
                QuestionKind::Choice { options } => (
                    "choice",
                    String::new(),
                    String::new(),
                    "",
                    options
                        .iter()
                        .map(|o| (o.clone(), o.replace('_', " ")))
                        .collect(),
                ),
                QuestionKind::Exposure => ("exposure", String::new(), String::new(), "", vec![]),
                QuestionKind::Zones => ("zones", String::new(), String::new(), "", vec![]),
                QuestionKind::Procedures => (
                    "procedures",
                    String::new(),
                    String::new(),
                    "",
                    procedure_kinds(),
                ),
                QuestionKind::Date => ("date", String::new(), String::new(), "", vec![]),
            };
            let error = errors
                .into_iter()
                .flat_map(|e| e.0.iter())
                .find(|f| f.field == question.id)
                .map(|f| plain_message(question, &f.message))
                .unwrap_or_default();
            FieldView {
                id: question.id.clone(),
                prompt: question.prompt.clone(),
                help: question.help.clone().unwrap_or_default(),
                kind,
                min,
                max,
                step,
                options,
                zones: Zone::ALL
                    .iter()
                    .map(|z| (z.id().to_owned(), z.label().to_owned()))
                    .collect(),
                show_if: question
                    .enable_when
                    .as_ref()
                    .map(condition_json)
                    .unwrap_or_default(),
                conditional: question.enable_when.is_some(),
                // A list of zones or procedures may be left empty.
                required: question.enable_when.is_none()
                    && !matches!(
                        question.kind,
                        QuestionKind::Zones | QuestionKind::Procedures
                    ),
                value: field(pairs, id).unwrap_or_default().to_owned(),
                date_value: field(pairs, &format!("{id}_date"))
                    .unwrap_or_default()
                    .to_owned(),
                chosen: all(pairs, id).map(str::to_owned).collect(),
                rows: (0..PROCEDURE_ROWS)
                    .map(|n| ProcedureRowView {
                        n,
                        kind: field(pairs, &format!("{id}_kind_{n}"))
                            .unwrap_or_default()
                            .to_owned(),
                        date: field(pairs, &format!("{id}_date_{n}"))
                            .unwrap_or_default()
                            .to_owned(),
                        zones: all(pairs, &format!("{id}_zones_{n}"))
                            .map(str::to_owned)
                            .collect(),
                    })
                    .collect(),
                error,
            }
        })
        .collect()
}

/// The summary of a refused form's problems, each linking to its question
/// by the question's prompt (never its answer id).
pub fn form_errors(q: &Questionnaire, fields: &[FieldView], errors: &InvalidAnswers) -> FormErrors {
    let mut items: Vec<(String, String, String)> = fields
        .iter()
        .filter(|f| !f.error.is_empty())
        .map(|f| (format!("q-{}", f.id), f.prompt.clone(), f.error.clone()))
        .collect();
    // A problem the form has no question for (never from these forms).
    if errors.0.iter().any(|f| q.question(&f.field).is_none()) {
        items.push((
            String::new(),
            "Your answers".to_owned(),
            "Some answers could not be read. Please check them and send the form again.".to_owned(),
        ));
    }
    FormErrors { items }
}

pub use crate::error::plain_message;

fn yes_no() -> Vec<(String, String)> {
    vec![("yes".into(), "Yes".into()), ("no".into(), "No".into())]
}

fn procedure_kinds() -> Vec<(String, String)> {
    ["surgery", "filler", "botox", "peel", "laser", "waxing"]
        .into_iter()
        .map(|k| (k.to_owned(), k.to_owned()))
        .collect()
}

fn condition_json(c: &Condition) -> String {
    serde_json::to_string(c).unwrap_or_default()
}

/// Facts as form values (`yes`/`no`, dates, numbers), for the hidden
/// inputs the question-hiding script reads. Never read back: forms take
/// only the questions that are asked.
pub fn fact_inputs(facts: Option<Answers>) -> Vec<(String, String)> {
    facts
        .iter()
        .flat_map(|a| a.iter())
        .map(|(id, answer)| {
            let value = match answer {
                Answer::Bool(true) => "yes".to_owned(),
                Answer::Bool(false) => "no".to_owned(),
                other => match other.to_json() {
                    Value::String(s) => s,
                    v => v.to_string(),
                },
            };
            (id.to_owned(), value)
        })
        .collect()
}

/// The request key a form carries (see `needlewise_actions::RequestKey`);
/// `None` when it has none or not a well-formed one.
pub fn request_key(pairs: &[(String, String)]) -> Option<needlewise_actions::RequestKey> {
    field(pairs, "key").and_then(needlewise_actions::RequestKey::parse)
}

/// The key to render into a form: the one it was sent with when it is
/// shown again (nothing was stored), else a fresh one.
pub fn key_for(pairs: &[(String, String)]) -> String {
    request_key(pairs)
        .unwrap_or_else(needlewise_actions::RequestKey::fresh)
        .to_string()
}

/// Reads a required field, naming it when missing.
pub fn required<'a>(pairs: &'a [(String, String)], name: &str) -> Result<&'a str, WebError> {
    field(pairs, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| WebError::BadInput(format!("{name}: this field is required")))
}

/// For templates that echo a previous answer set.
pub type Prefill = BTreeMap<String, String>;
