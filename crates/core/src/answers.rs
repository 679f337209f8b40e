//! Answers to a questionnaire: parsed once at the edge, typed from then on.
//!
//! Parsing checks every field against the questionnaire and reports every
//! problem at once, each naming its field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::evidence::{ProcedureKind, Question, QuestionKind, Questionnaire};
use crate::zone::Zone;

/// An exposure to a medicine or treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    Never,
    Current,
    /// The last dose or the end of treatment.
    Ended(Date),
}

/// A past procedure on the face or neck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Procedure {
    pub kind: ProcedureKind,
    pub date: Date,
    /// The zones it touched; empty means the whole face.
    #[serde(default)]
    pub zones: BTreeSet<Zone>,
}

/// One typed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Bool(bool),
    Integer(i64),
    Number(f64),
    Choice(String),
    Exposure(Exposure),
    Zones(BTreeSet<Zone>),
    Procedures(Vec<Procedure>),
    Date(Date),
}

impl Answer {
    /// The answer as it appears in an answer file.
    pub fn to_json(&self) -> Value {
        match self {
            Answer::Bool(b) => Value::Bool(*b),
            Answer::Integer(i) => Value::from(*i),
            Answer::Number(n) => Value::from(*n),
            Answer::Choice(s) => Value::String(s.clone()),
            Answer::Exposure(Exposure::Never) => Value::String("never".into()),
            Answer::Exposure(Exposure::Current) => Value::String("current".into()),
            Answer::Exposure(Exposure::Ended(d)) | Answer::Date(d) => Value::String(d.to_string()),
            Answer::Zones(zs) => {
                Value::Array(zs.iter().map(|z| Value::String(z.id().into())).collect())
            }
            Answer::Procedures(ps) => Value::Array(
                ps.iter()
                    .map(|p| {
                        serde_json::json!({
                            "kind": p.kind,
                            "date": p.date.to_string(),
                            "zones": p.zones.iter().map(|z| z.id()).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            ),
        }
    }
}

/// A problem with one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a set of answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", display_errors(.0))]
pub struct InvalidAnswers(pub Vec<FieldError>);

fn display_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl InvalidAnswers {
    fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        InvalidAnswers(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

/// Validated answers, keyed by question id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers(BTreeMap<String, Answer>);

impl Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl Serialize for Answers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl Answers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, id: &str) -> Option<&Answer> {
        self.0.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Answer)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Sets an answer without checking it; for facts that needlewise fills
    /// in itself and for tests.
    pub fn set(&mut self, id: impl Into<String>, answer: Answer) {
        self.0.insert(id.into(), answer);
    }

    pub fn bool(&self, id: &str) -> Option<bool> {
        match self.get(id)? {
            Answer::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn number(&self, id: &str) -> Option<f64> {
        match self.get(id)? {
            Answer::Integer(i) => Some(*i as f64),
            Answer::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn choice(&self, id: &str) -> Option<&str> {
        match self.get(id)? {
            Answer::Choice(c) => Some(c),
            _ => None,
        }
    }

    pub fn zones(&self, id: &str) -> Option<&BTreeSet<Zone>> {
        match self.get(id)? {
            Answer::Zones(z) => Some(z),
            _ => None,
        }
    }

    /// The answers as a JSON object, the format of an answer file.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// Parses an answer file's JSON object against a questionnaire.
    ///
    /// `today` rejects dates in the future where only the past makes sense.
    /// Facts are refused: needlewise fills them in itself.
    pub fn from_json(
        q: &Questionnaire,
        value: &Value,
        today: Date,
    ) -> Result<Answers, InvalidAnswers> {
        Answers::parse(q, value, today, false)
    }

    /// Reloads answers that were stored after validation, facts included.
    /// Dates are not compared with today: a stored answer was in the past
    /// when it was given.
    pub fn from_stored_json(q: &Questionnaire, value: &Value) -> Result<Answers, InvalidAnswers> {
        Answers::parse(q, value, Date::MAX, true)
    }

    fn parse(
        q: &Questionnaire,
        value: &Value,
        today: Date,
        allow_facts: bool,
    ) -> Result<Answers, InvalidAnswers> {
        let Value::Object(map) = value else {
            return Err(InvalidAnswers::one(
                "(answers)",
                format!(
                    "expected a JSON object of answers, got {}",
                    type_name(value)
                ),
            ));
        };
        let mut answers = Answers::new();
        let mut errors = Vec::new();
        for (id, raw) in map {
            let Some(question) = q.question(id) else {
                errors.push(FieldError {
                    field: id.clone(),
                    message: format!(
                        "unknown answer id for the {} questionnaire",
                        q.questionnaire.id()
                    ),
                });
                continue;
            };
            if question.fact && !allow_facts {
                errors.push(FieldError {
                    field: id.clone(),
                    message: "is filled in by needlewise and cannot be answered".into(),
                });
                continue;
            }
            match parse_answer(question, raw, today) {
                Ok(a) => answers.set(id.clone(), a),
                Err(message) => errors.push(FieldError {
                    field: id.clone(),
                    message,
                }),
            }
        }
        if errors.is_empty() {
            Ok(answers)
        } else {
            Err(InvalidAnswers(errors))
        }
    }

    /// The answers without the facts needlewise fills in itself (a front
    /// end that started from the facts hands back only what was asked).
    pub fn without_facts(mut self, q: &Questionnaire) -> Answers {
        self.0
            .retain(|id, _| !q.question(id).is_some_and(|question| question.fact));
        self
    }

    /// Checks that every question that applies has an answer.
    pub fn require_complete(&self, q: &Questionnaire) -> Result<(), InvalidAnswers> {
        let errors: Vec<FieldError> = crate::engine::applicable_questions(q, self)
            .filter(|question| !question.fact && self.get(&question.id).is_none())
            .map(|question| FieldError {
                field: question.id.clone(),
                message: format!("is missing; expected {}", question.kind.describe()),
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(InvalidAnswers(errors))
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn expected(question: &Question, got: &Value) -> String {
    format!(
        "expected {}, got {}",
        question.kind.describe(),
        type_name(got)
    )
}

/// Parses one answer from its text or JSON form.
pub fn parse_answer(question: &Question, raw: &Value, today: Date) -> Result<Answer, String> {
    match &question.kind {
        QuestionKind::Bool => raw
            .as_bool()
            .map(Answer::Bool)
            .ok_or_else(|| expected(question, raw)),
        QuestionKind::Integer { min, max } => {
            let n = raw.as_i64().ok_or_else(|| expected(question, raw))?;
            if n < *min || n > *max {
                return Err(format!(
                    "{n} is out of range; expected {}",
                    question.kind.describe()
                ));
            }
            Ok(Answer::Integer(n))
        }
        QuestionKind::Number { min, max } => {
            let n = raw.as_f64().ok_or_else(|| expected(question, raw))?;
            if !n.is_finite() || n < *min || n > *max {
                return Err(format!(
                    "{n} is out of range; expected {}",
                    question.kind.describe()
                ));
            }
            Ok(Answer::Number(n))
        }
        QuestionKind::Choice { options } => {
            let s = raw.as_str().ok_or_else(|| expected(question, raw))?;
            if options.iter().any(|o| o == s) {
                Ok(Answer::Choice(s.to_owned()))
            } else {
                Err(format!("{s:?} is not {}", question.kind.describe()))
            }
        }
        QuestionKind::Exposure => {
            let s = raw.as_str().ok_or_else(|| expected(question, raw))?;
            match s {
                "never" => Ok(Answer::Exposure(Exposure::Never)),
                "current" => Ok(Answer::Exposure(Exposure::Current)),
                other => past_date(other, today)
                    .map(|d| Answer::Exposure(Exposure::Ended(d)))
                    .map_err(|e| format!("{e}; expected {}", question.kind.describe())),
            }
        }
        QuestionKind::Date => {
            let s = raw.as_str().ok_or_else(|| expected(question, raw))?;
            Ok(Answer::Date(parse_date(s)?))
        }
        QuestionKind::Zones => {
            let items = raw.as_array().ok_or_else(|| expected(question, raw))?;
            parse_zones(items).map(Answer::Zones)
        }
        QuestionKind::Procedures => {
            let items = raw.as_array().ok_or_else(|| expected(question, raw))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(parse_procedure(item, today).map_err(|e| format!("item {i}: {e}"))?);
            }
            Ok(Answer::Procedures(out))
        }
    }
}

/// Parses a `YYYY-MM-DD` date, naming what is wrong with an impossible one.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let shape_ok = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape_ok {
        return Err(format!("{s:?} is not a date; expected YYYY-MM-DD"));
    }
    s.parse::<Date>()
        .map_err(|_| format!("{s:?} is not a real calendar date"))
}

fn past_date(s: &str, today: Date) -> Result<Date, String> {
    let d = parse_date(s)?;
    if d > today {
        return Err(format!("{d} is in the future"));
    }
    Ok(d)
}

fn parse_zones(items: &[Value]) -> Result<BTreeSet<Zone>, String> {
    let mut zones = BTreeSet::new();
    for item in items {
        let s = item
            .as_str()
            .ok_or_else(|| format!("zones must be strings, got {}", type_name(item)))?;
        zones.insert(s.parse::<Zone>().map_err(|e| e.to_string())?);
    }
    Ok(zones)
}

fn parse_procedure(item: &Value, today: Date) -> Result<Procedure, String> {
    let Value::Object(map) = item else {
        return Err(format!(
            "expected an object {{kind, date, zones}}, got {}",
            type_name(item)
        ));
    };
    for key in map.keys() {
        if !matches!(key.as_str(), "kind" | "date" | "zones") {
            return Err(format!("unknown field {key:?}; expected kind, date, zones"));
        }
    }
    let kind = map
        .get("kind")
        .ok_or("kind is missing")?
        .as_str()
        .ok_or("kind must be a string")?;
    let kind = ProcedureKind::ALL
        .into_iter()
        .find(|k| {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(|s| s == kind))
                == Some(true)
        })
        .ok_or_else(|| {
            format!("kind {kind:?} is not one of surgery, filler, botox, peel, laser, waxing")
        })?;
    let date = map
        .get("date")
        .ok_or("date is missing")?
        .as_str()
        .ok_or("date must be a string YYYY-MM-DD")?;
    let date = past_date(date, today).map_err(|e| format!("date: {e}"))?;
    let zones = match map.get("zones") {
        None | Some(Value::Null) => BTreeSet::new(),
        Some(Value::Array(items)) => parse_zones(items).map_err(|e| format!("zones: {e}"))?,
        Some(other) => return Err(format!("zones: expected a list, got {}", type_name(other))),
    };
    Ok(Procedure { kind, date, zones })
}
