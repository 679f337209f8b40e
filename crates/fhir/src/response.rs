//! Answers as a FHIR R4 QuestionnaireResponse, and back.
//!
//! Export writes the answers to the questions that apply, in the shape of
//! [`crate::questionnaire()`]. Import reads what LHC-Forms and other
//! renderers produce (items nested under groups, `valueBoolean`,
//! `valueInteger`, `valueDecimal`, `valueDate`, `valueCoding`), skips
//! unanswered items, turns the rest into an answer file and parses that
//! with [`Answers::from_json`], so an imported response is checked exactly
//! like an answer file (computed facts refused, future dates refused).
//! Answers to questions that do not apply are dropped, as disabled items'
//! answers are in FHIR. Every problem names its field
//! (`item[3].answer[0].valueBoolean: expected a boolean, got a string`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use needlewise_core::answers::{Answer, Answers, Exposure, FieldError, InvalidAnswers, parse_date};
use needlewise_core::engine::applicable_questions;
use needlewise_core::evidence::{EvidenceBase, Question, QuestionKind, Questionnaire};
use needlewise_core::zone::Zone;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{
    Coding, QuestionnaireItem, QuestionnaireResponse, Reference, ResponseAnswer, ResponseItem,
};
use crate::{
    EXPOSURE_STATES, FhirError, SCREENING_URL, choice_system, exposure_system, humanise,
    procedure_kinds, shown, zone_system,
};

/// The largest response [`import_response`] reads: 1 MiB.
pub const MAX_IMPORT_BYTES: usize = 1 << 20;

// ------------------------------------------------------------------ export

/// The answers as a `completed` QuestionnaireResponse to the screening
/// Questionnaire, authored at `authored`, about the Patient `subject` (a
/// `urn:uuid:` reference) when given.
pub fn export_response(
    base: &EvidenceBase,
    answers: &Answers,
    authored: Timestamp,
    id: Option<Uuid>,
    subject: Option<Uuid>,
) -> Result<QuestionnaireResponse, FhirError> {
    let form = crate::questionnaire(base)?;
    let q = &base.screening;
    let applicable: Vec<&str> = applicable_questions(q, answers)
        .map(|question| question.id.as_str())
        .collect();
    let mut items = Vec::new();
    for item in &form.item {
        items.extend(respond(q, item, answers, &applicable));
    }
    Ok(QuestionnaireResponse {
        resource_type: "QuestionnaireResponse",
        id: id.map(|u| u.to_string()),
        questionnaire: crate::canonical(base),
        status: "completed",
        subject: subject.map(Reference::urn),
        authored: authored.to_string(),
        author: subject.map(Reference::urn),
        item: items,
    })
}

fn coding(system: String, code: &str, display: String) -> ResponseAnswer {
    ResponseAnswer::Coding(Coding {
        system: Some(system),
        code: code.to_owned(),
        display: Some(display),
    })
}

fn zone_answers(zones: impl IntoIterator<Item = Zone>) -> Vec<ResponseAnswer> {
    zones
        .into_iter()
        .map(|z| coding(zone_system(), z.id(), z.label().to_owned()))
        .collect()
}

fn answered(link_id: String, text: Option<String>, answer: Vec<ResponseAnswer>) -> ResponseItem {
    ResponseItem {
        link_id,
        text,
        answer,
        item: Vec::new(),
    }
}

fn respond(
    q: &Questionnaire,
    item: &QuestionnaireItem,
    answers: &Answers,
    applicable: &[&str],
) -> Vec<ResponseItem> {
    let Some(question) = q.question(&item.link_id) else {
        // An enableWhen group around a question.
        let inner: Vec<ResponseItem> = item
            .item
            .iter()
            .flat_map(|child| respond(q, child, answers, applicable))
            .collect();
        if inner.is_empty() {
            return Vec::new();
        }
        return vec![ResponseItem {
            link_id: item.link_id.clone(),
            text: item.text.clone(),
            answer: Vec::new(),
            item: inner,
        }];
    };
    if !applicable.contains(&question.id.as_str()) {
        return Vec::new();
    }
    let Some(answer) = answers.get(&question.id) else {
        return Vec::new();
    };
    let id = &question.id;
    let text = item.text.clone();
    let values = match answer {
        Answer::Bool(b) => vec![ResponseAnswer::Boolean(*b)],
        Answer::Integer(n) => vec![ResponseAnswer::Integer(*n)],
        Answer::Number(n) => vec![ResponseAnswer::Decimal(*n)],
        Answer::Choice(c) => vec![coding(choice_system(id), c, humanise(c))],
        Answer::Date(d) => vec![ResponseAnswer::Date(d.to_string())],
        Answer::Zones(zs) => {
            if zs.is_empty() {
                return Vec::new();
            }
            zone_answers(zs.iter().copied())
        }
        Answer::Exposure(e) => {
            let (state, date) = match e {
                Exposure::Never => ("never", None),
                Exposure::Current => ("current", None),
                Exposure::Ended(d) => ("ended", Some(*d)),
            };
            let mut inner = vec![answered(
                format!("{id}.status"),
                Some("Never, current, or ended?".into()),
                vec![coding(exposure_system(), state, humanise(state))],
            )];
            if let Some(d) = date {
                inner.push(answered(
                    format!("{id}.ended"),
                    Some("When did it end (the last dose or the last treatment)?".into()),
                    vec![ResponseAnswer::Date(d.to_string())],
                ));
            }
            return vec![ResponseItem {
                link_id: id.clone(),
                text,
                answer: Vec::new(),
                item: inner,
            }];
        }
        Answer::Procedures(ps) => {
            let kinds = procedure_kinds();
            return ps
                .iter()
                .map(|p| {
                    let code = kinds
                        .iter()
                        .find(|(_, k)| *k == p.kind)
                        .map(|(c, _)| c.clone())
                        .unwrap_or_default();
                    let mut inner = vec![
                        answered(
                            format!("{id}.kind"),
                            Some("Procedure".into()),
                            vec![coding(
                                choice_system(&format!("{id}.kind")),
                                &code,
                                humanise(&code),
                            )],
                        ),
                        answered(
                            format!("{id}.date"),
                            Some("Date".into()),
                            vec![ResponseAnswer::Date(p.date.to_string())],
                        ),
                    ];
                    if !p.zones.is_empty() {
                        inner.push(answered(
                            format!("{id}.zones"),
                            Some("Zones it touched (none ticked: the whole face)".into()),
                            zone_answers(p.zones.iter().copied()),
                        ));
                    }
                    ResponseItem {
                        link_id: id.clone(),
                        text: text.clone(),
                        answer: Vec::new(),
                        item: inner,
                    }
                })
                .collect();
        }
    };
    vec![answered(id.clone(), text, values)]
}

// ------------------------------------------------------------------ import

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn one(field: impl Into<String>, message: impl Into<String>) -> InvalidAnswers {
    InvalidAnswers(vec![err(field, message)])
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

const TOP_LEVEL: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "identifier",
    "basedOn",
    "partOf",
    "questionnaire",
    "status",
    "subject",
    "encounter",
    "authored",
    "author",
    "source",
    "item",
];
const ITEM_KEYS: &[&str] = &[
    "id",
    "extension",
    "linkId",
    "definition",
    "text",
    "answer",
    "item",
];
const STATUSES: &[&str] = &["in-progress", "completed", "amended", "stopped"];

/// Reads a QuestionnaireResponse (JSON bytes) to the screening as answers.
///
/// `today` is the day the answers are given: dates after it are refused,
/// as in an answer file. The input is limited to [`MAX_IMPORT_BYTES`].
pub fn import_response(
    base: &EvidenceBase,
    json: &[u8],
    today: Date,
) -> Result<Answers, InvalidAnswers> {
    if json.len() > MAX_IMPORT_BYTES {
        return Err(one(
            "(input)",
            format!(
                "is {} bytes; a QuestionnaireResponse may be at most {MAX_IMPORT_BYTES} bytes",
                json.len()
            ),
        ));
    }
    let value: Value = serde_json::from_slice(json).map_err(|e| {
        one(
            format!("(json) line {} column {}", e.line(), e.column()),
            format!("not valid JSON: {}", e),
        )
    })?;
    import_value(base, &value, today)
}

/// As [`import_response`], from parsed JSON.
pub fn import_value(
    base: &EvidenceBase,
    value: &Value,
    today: Date,
) -> Result<Answers, InvalidAnswers> {
    let q = &base.screening;
    let Value::Object(root) = value else {
        return Err(one(
            "(root)",
            format!(
                "expected a QuestionnaireResponse object, got {}",
                type_name(value)
            ),
        ));
    };
    match root.get("resourceType") {
        Some(Value::String(s)) if s == "QuestionnaireResponse" => {}
        Some(Value::String(s)) => {
            return Err(one(
                "resourceType",
                format!("expected \"QuestionnaireResponse\", got {}", shown(s)),
            ));
        }
        Some(other) => {
            return Err(one(
                "resourceType",
                format!(
                    "expected the string \"QuestionnaireResponse\", got {}",
                    type_name(other)
                ),
            ));
        }
        None => {
            return Err(one(
                "resourceType",
                "is missing; expected \"QuestionnaireResponse\"",
            ));
        }
    }
    let mut walk = Walk {
        q,
        out: Map::new(),
        paths: BTreeMap::new(),
        errors: Vec::new(),
    };
    for key in root.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            walk.errors.push(err(
                shown(key),
                "is not an element of a QuestionnaireResponse",
            ));
        }
    }
    shapes(
        root,
        "",
        &[
            ("id", Shape::Id),
            ("meta", Shape::Object),
            ("implicitRules", Shape::Text),
            ("language", Shape::Text),
            ("text", Shape::Object),
            ("contained", Shape::List),
            ("extension", Shape::List),
            ("identifier", Shape::Object),
            ("basedOn", Shape::List),
            ("partOf", Shape::List),
            ("subject", Shape::Object),
            ("encounter", Shape::Object),
            ("authored", Shape::DateTime),
            ("author", Shape::Object),
            ("source", Shape::Object),
        ],
        &mut walk.errors,
    );
    match root.get("status") {
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => {}
        Some(Value::String(s)) => walk.errors.push(err(
            "status",
            format!("{} is not one of {}", shown(s), STATUSES.join(", ")),
        )),
        Some(other) => walk.errors.push(err(
            "status",
            format!("expected a string, got {}", type_name(other)),
        )),
        None => walk.errors.push(err("status", "is missing")),
    }
    match root.get("questionnaire") {
        None => {}
        Some(Value::String(s)) => {
            let url = s.split('|').next().unwrap_or_default();
            if url != SCREENING_URL {
                walk.errors.push(err(
                    "questionnaire",
                    format!(
                        "{} is not needlewise's screening ({SCREENING_URL})",
                        shown(s)
                    ),
                ));
            }
        }
        Some(other) => walk.errors.push(err(
            "questionnaire",
            format!("expected a canonical URL string, got {}", type_name(other)),
        )),
    }
    match root.get("item") {
        None => {}
        Some(Value::Array(items)) => walk.items(items, ""),
        Some(other) => walk.errors.push(err(
            "item",
            format!("expected a list of items, got {}", type_name(other)),
        )),
    }
    if !walk.errors.is_empty() {
        return Err(InvalidAnswers(walk.errors));
    }
    let Walk { mut out, paths, .. } = walk;
    // An unanswered zone or procedure list means none.
    for question in &q.questions {
        if matches!(
            question.kind,
            QuestionKind::Zones | QuestionKind::Procedures
        ) && !question.fact
        {
            out.entry(question.id.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
        }
    }
    let parsed = Answers::from_json(q, &Value::Object(out), today).map_err(|e| {
        InvalidAnswers(
            e.0.into_iter()
                .map(|f| {
                    let field = match paths.get(&f.field) {
                        Some(path) => format!("{path} ({})", f.field),
                        None => f.field,
                    };
                    err(field, f.message)
                })
                .collect(),
        )
    })?;
    Ok(only_applicable(q, parsed))
}

/// Drops answers to questions that do not apply, until nothing changes
/// (a dropped answer can disable another question).
fn only_applicable(q: &Questionnaire, mut answers: Answers) -> Answers {
    loop {
        let keep: Vec<String> = applicable_questions(q, &answers)
            .map(|question| question.id.clone())
            .collect();
        let mut next = Answers::new();
        for (id, a) in answers.iter() {
            if keep.iter().any(|k| k == id) {
                next.set(id, a.clone());
            }
        }
        if next == answers {
            return answers;
        }
        answers = next;
    }
}

struct Walk<'a> {
    q: &'a Questionnaire,
    /// The answer file being built.
    out: Map<String, Value>,
    /// Answer id → where in the response it came from.
    paths: BTreeMap<String, String>,
    errors: Vec<FieldError>,
}

/// One item, checked: its path, linkId, answers and sub-items.
struct Item<'v> {
    path: String,
    link_id: &'v str,
    answers: &'v [Value],
    items: &'v [Value],
}

impl<'a> Walk<'a> {
    fn items(&mut self, items: &[Value], prefix: &str) {
        for (i, raw) in items.iter().enumerate() {
            let path = format!("{prefix}item[{i}]");
            match self.item(raw, path) {
                Ok(item) => self.dispatch(item),
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn item<'v>(&self, raw: &'v Value, path: String) -> Result<Item<'v>, FieldError> {
        let Value::Object(map) = raw else {
            return Err(err(
                path,
                format!("expected an item object, got {}", type_name(raw)),
            ));
        };
        for key in map.keys() {
            if !ITEM_KEYS.contains(&key.as_str()) {
                return Err(err(
                    format!("{path}.{}", shown(key)),
                    "is not an element of a QuestionnaireResponse item",
                ));
            }
        }
        let link_id = match map.get("linkId") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(err(
                    format!("{path}.linkId"),
                    format!("expected a string, got {}", type_name(other)),
                ));
            }
            None => return Err(err(format!("{path}.linkId"), "is missing")),
        };
        let list = |key: &str| -> Result<&'v [Value], FieldError> {
            match map.get(key) {
                None => Ok(&[]),
                Some(Value::Array(a)) => Ok(a.as_slice()),
                Some(other) => Err(err(
                    format!("{path}.{key}"),
                    format!("expected a list, got {}", type_name(other)),
                )),
            }
        };
        let answers = list("answer")?;
        let items = list("item")?;
        let mut problems = Vec::new();
        shapes(
            map,
            &path,
            &[
                ("id", Shape::Text),
                ("extension", Shape::List),
                ("definition", Shape::Text),
                ("text", Shape::Text),
            ],
            &mut problems,
        );
        if let Some(p) = problems.into_iter().next() {
            return Err(p);
        }
        Ok(Item {
            path,
            link_id,
            answers,
            items,
        })
    }

    fn dispatch(&mut self, item: Item<'_>) {
        let q = self.q;
        if let Some(question) = q.question(item.link_id).filter(|qq| !qq.fact) {
            match question.kind {
                QuestionKind::Exposure => self.exposure(question, item),
                QuestionKind::Procedures => self.procedure(question, item),
                _ => self.leaf(question, item),
            }
            return;
        }
        // An enableWhen group around a question: `<id>.if<n>`.
        let wrapper = item.link_id.rsplit_once(".if").is_some_and(|(id, n)| {
            q.question(id).is_some() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        });
        if wrapper {
            if !item.answers.is_empty() {
                self.errors.push(err(
                    format!("{}.answer", item.path),
                    "a group has no answers of its own",
                ));
                return;
            }
            let prefix = format!("{}.", item.path);
            self.items(item.items, &prefix);
            return;
        }
        self.errors.push(err(
            format!("{}.linkId", item.path),
            format!(
                "{} is not a question of needlewise's screening",
                shown(item.link_id)
            ),
        ));
    }

    /// Records an answer, refusing a second one to the same question.
    fn put(&mut self, id: &str, path: String, value: Value) {
        if self.out.contains_key(id) {
            self.errors
                .push(err(path, format!("{} is answered twice", shown(id))));
            return;
        }
        self.out.insert(id.to_owned(), value);
        self.paths.insert(id.to_owned(), path);
    }

    /// The items inside a group, each parsed and without children of its
    /// own; the others are recorded as errors and left out.
    fn leaf_children<'v>(&mut self, item: &Item<'v>) -> Vec<Item<'v>> {
        let mut out = Vec::with_capacity(item.items.len());
        for (i, raw) in item.items.iter().enumerate() {
            match self.item(raw, format!("{}.item[{i}]", item.path)) {
                Ok(child) if self.no_children(&child) => out.push(child),
                Ok(_) => {}
                Err(e) => self.errors.push(e),
            }
        }
        out
    }

    fn no_children(&mut self, item: &Item<'_>) -> bool {
        if item.items.is_empty() {
            true
        } else {
            self.errors.push(err(
                format!("{}.item", item.path),
                format!("question {} has no sub-items", shown(item.link_id)),
            ));
            false
        }
    }

    fn leaf(&mut self, question: &Question, item: Item<'_>) {
        if !self.no_children(&item) {
            return;
        }
        match leaf_value(question, &question.id, &item) {
            Ok(Some((path, value))) => self.put(&question.id, path, value),
            Ok(None) => {}
            Err(e) => self.errors.push(e),
        }
    }

    fn exposure(&mut self, question: &Question, item: Item<'_>) {
        let id = &question.id;
        if !item.answers.is_empty() {
            self.errors.push(err(
                format!("{}.answer", item.path),
                format!(
                    "{} is a group: answer {id}.status and {id}.ended",
                    shown(id)
                ),
            ));
            return;
        }
        let mut status: Option<(String, String)> = None;
        let mut ended: Option<(String, String)> = None;
        for child in self.leaf_children(&item) {
            let (slot, kind) = if child.link_id == format!("{id}.status") {
                (&mut status, Role::Exposure)
            } else if child.link_id == format!("{id}.ended") {
                (&mut ended, Role::Date)
            } else {
                self.errors.push(err(
                    format!("{}.linkId", child.path),
                    format!("{} is not part of {}", shown(child.link_id), shown(id)),
                ));
                continue;
            };
            if slot.is_some() {
                self.errors
                    .push(err(child.path.clone(), "is answered twice"));
                continue;
            }
            match role_value(kind, child.link_id, &child) {
                Ok(Some((path, Value::String(s)))) => *slot = Some((path, s)),
                Ok(_) => {}
                Err(e) => self.errors.push(e),
            }
        }
        match (status, ended) {
            (None, _) => {}
            (Some((path, s)), _) if s != "ended" => self.put(id, path, Value::String(s)),
            (Some(_), Some((path, date))) => self.put(id, path, Value::String(date)),
            (Some((path, _)), None) => self.errors.push(err(
                path,
                format!("{id} ended: the date it ended ({id}.ended) is missing"),
            )),
        }
    }

    fn procedure(&mut self, question: &Question, item: Item<'_>) {
        let id = &question.id;
        if !item.answers.is_empty() {
            self.errors.push(err(
                format!("{}.answer", item.path),
                format!(
                    "{} is a group: answer {id}.kind, {id}.date and {id}.zones",
                    shown(id)
                ),
            ));
            return;
        }
        let mut fields: BTreeMap<&str, Value> = BTreeMap::new();
        for child in self.leaf_children(&item) {
            let (field, role) = if child.link_id == format!("{id}.kind") {
                ("kind", Role::Procedure)
            } else if child.link_id == format!("{id}.date") {
                ("date", Role::Date)
            } else if child.link_id == format!("{id}.zones") {
                ("zones", Role::Zones)
            } else {
                self.errors.push(err(
                    format!("{}.linkId", child.path),
                    format!("{} is not part of {}", shown(child.link_id), shown(id)),
                ));
                continue;
            };
            if fields.contains_key(field) {
                self.errors
                    .push(err(child.path.clone(), "is answered twice"));
                continue;
            }
            match role_value(role, child.link_id, &child) {
                Ok(Some((_, v))) => {
                    fields.insert(field, v);
                }
                Ok(None) => {}
                Err(e) => self.errors.push(e),
            }
        }
        if fields.is_empty() {
            return;
        }
        let obj: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        match self.out.get_mut(id) {
            Some(Value::Array(list)) => list.push(Value::Object(obj)),
            _ => {
                self.out
                    .insert(id.clone(), Value::Array(vec![Value::Object(obj)]));
                self.paths.insert(id.clone(), item.path);
            }
        }
    }
}

/// What an item's answers are read as.
#[derive(Debug, Clone, Copy)]
enum Role {
    Bool,
    Integer,
    Decimal,
    Choice,
    Date,
    Zones,
    Exposure,
    Procedure,
}

fn leaf_value(
    question: &Question,
    link_id: &str,
    item: &Item<'_>,
) -> Result<Option<(String, Value)>, FieldError> {
    let role = match question.kind {
        QuestionKind::Bool => Role::Bool,
        QuestionKind::Integer { .. } => Role::Integer,
        QuestionKind::Number { .. } => Role::Decimal,
        QuestionKind::Choice { .. } => Role::Choice,
        QuestionKind::Date => Role::Date,
        QuestionKind::Zones => Role::Zones,
        QuestionKind::Exposure => Role::Exposure,
        QuestionKind::Procedures => Role::Procedure,
    };
    let found = role_value(role, link_id, item)?;
    // Check a choice's code here, so the message names the answer.
    if let (QuestionKind::Choice { options }, Some((path, Value::String(code)))) =
        (&question.kind, &found)
    {
        if !options.iter().any(|o| o == code) {
            return Err(err(
                format!("{path}.valueCoding.code"),
                format!("{} is not one of {}", shown(code), options.join(", ")),
            ));
        }
    }
    Ok(found)
}

/// The value of an item's answers in answer-file form, with the path of the
/// first answer; `None` when it has none.
fn role_value(
    role: Role,
    link_id: &str,
    item: &Item<'_>,
) -> Result<Option<(String, Value)>, FieldError> {
    if item.answers.is_empty() {
        return Ok(None);
    }
    let repeats = matches!(role, Role::Zones);
    if !repeats && item.answers.len() > 1 {
        return Err(err(
            format!("{}.answer", item.path),
            format!(
                "{} takes one answer, got {}",
                shown(link_id),
                item.answers.len()
            ),
        ));
    }
    let mut values = Vec::new();
    for (j, raw) in item.answers.iter().enumerate() {
        let path = format!("{}.answer[{j}]", item.path);
        values.push(answer_value(role, link_id, raw, &path)?);
    }
    let first = format!("{}.answer[0]", item.path);
    if repeats {
        return Ok(Some((first, Value::Array(values))));
    }
    Ok(values.pop().map(|v| (first, v)))
}

fn answer_value(role: Role, link_id: &str, raw: &Value, path: &str) -> Result<Value, FieldError> {
    let Value::Object(map) = raw else {
        return Err(err(
            path,
            format!("expected an answer object, got {}", type_name(raw)),
        ));
    };
    let mut value_key = None;
    for key in map.keys() {
        match key.as_str() {
            "id" | "extension" => {}
            "item" => match map.get("item") {
                Some(Value::Array(a)) if a.is_empty() => {}
                _ => {
                    return Err(err(
                        format!("{path}.item"),
                        format!("question {} has no sub-items", shown(link_id)),
                    ));
                }
            },
            k if k.starts_with("value") => {
                if value_key.is_some() {
                    return Err(err(path, "has more than one value[x]"));
                }
                value_key = Some(k);
            }
            other => {
                return Err(err(
                    format!("{path}.{}", shown(other)),
                    "is not an element of an answer",
                ));
            }
        }
    }
    let mut problems = Vec::new();
    shapes(
        map,
        path,
        &[("id", Shape::Text), ("extension", Shape::List)],
        &mut problems,
    );
    if let Some(p) = problems.into_iter().next() {
        return Err(p);
    }
    let Some(key) = value_key else {
        return Err(err(path, "has no value[x]"));
    };
    let v = &map[key];
    let at = format!("{path}.{key}");
    let wrong = |expected: &str| {
        err(
            path,
            format!("{} takes {expected}, not {}", shown(link_id), shown(key)),
        )
    };
    let not = |what: &str| err(at.clone(), format!("expected {what}, got {}", type_name(v)));
    match role {
        Role::Bool => {
            if key != "valueBoolean" {
                return Err(wrong("valueBoolean"));
            }
            v.as_bool().map(Value::Bool).ok_or_else(|| not("a boolean"))
        }
        Role::Integer => {
            if key != "valueInteger" {
                return Err(wrong("valueInteger"));
            }
            let n = v.as_i64().ok_or_else(|| not("a whole number"))?;
            if i32::try_from(n).is_err() {
                return Err(err(at, format!("{n} does not fit a FHIR integer")));
            }
            Ok(Value::from(n))
        }
        Role::Decimal => match key {
            "valueDecimal" | "valueInteger" => {
                let n = v
                    .as_f64()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| not("a number"))?;
                if key == "valueInteger" && v.as_i64().is_none() {
                    return Err(not("a whole number"));
                }
                Ok(Value::from(n))
            }
            _ => Err(wrong("valueDecimal")),
        },
        Role::Date => {
            if key != "valueDate" {
                return Err(wrong("valueDate"));
            }
            let s = v.as_str().ok_or_else(|| not("a date string YYYY-MM-DD"))?;
            if s.len() != 10 {
                return Err(err(
                    at,
                    format!("{} is not a full date; expected YYYY-MM-DD", shown(s)),
                ));
            }
            parse_date(s).map_err(|e| err(at.clone(), e))?;
            Ok(Value::String(s.to_owned()))
        }
        Role::Choice | Role::Zones | Role::Exposure | Role::Procedure => {
            if key != "valueCoding" {
                return Err(wrong("valueCoding"));
            }
            let (system, allowed): (String, Vec<String>) = match role {
                Role::Zones => (
                    zone_system(),
                    Zone::ALL.iter().map(|z| z.id().to_owned()).collect(),
                ),
                Role::Exposure => (
                    exposure_system(),
                    EXPOSURE_STATES.iter().map(|s| (*s).to_owned()).collect(),
                ),
                Role::Procedure => (
                    choice_system(link_id),
                    procedure_kinds().into_iter().map(|(c, _)| c).collect(),
                ),
                // Checked against the question's options by the caller.
                _ => (choice_system(link_id), Vec::new()),
            };
            let code = coding_code(v, &at, &system)?;
            if !allowed.is_empty() && !allowed.contains(&code) {
                return Err(err(
                    format!("{at}.code"),
                    format!("{} is not one of {}", shown(&code), allowed.join(", ")),
                ));
            }
            Ok(Value::String(code))
        }
    }
}

fn coding_code(v: &Value, at: &str, system: &str) -> Result<String, FieldError> {
    let Value::Object(c) = v else {
        return Err(err(
            at,
            format!("expected a Coding object, got {}", type_name(v)),
        ));
    };
    for key in c.keys() {
        if !matches!(
            key.as_str(),
            "id" | "extension" | "system" | "version" | "code" | "display" | "userSelected"
        ) {
            return Err(err(
                format!("{at}.{}", shown(key)),
                "is not an element of a Coding",
            ));
        }
    }
    let mut problems = Vec::new();
    shapes(
        c,
        at,
        &[
            ("id", Shape::Text),
            ("extension", Shape::List),
            ("version", Shape::Text),
            ("display", Shape::Text),
            ("userSelected", Shape::Bool),
        ],
        &mut problems,
    );
    if let Some(p) = problems.into_iter().next() {
        return Err(p);
    }
    match c.get("system") {
        None => {}
        Some(Value::String(s)) if s == system => {}
        Some(Value::String(s)) => {
            return Err(err(
                format!("{at}.system"),
                format!("{} is not {system}", shown(s)),
            ));
        }
        Some(other) => {
            return Err(err(
                format!("{at}.system"),
                format!("expected a string, got {}", type_name(other)),
            ));
        }
    }
    match c.get("code") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => Ok(s.clone()),
        Some(Value::String(s)) => Err(err(
            format!("{at}.code"),
            format!("{} is not a code", shown(s)),
        )),
        Some(other) => Err(err(
            format!("{at}.code"),
            format!("expected a string, got {}", type_name(other)),
        )),
        None => Err(err(format!("{at}.code"), "is missing")),
    }
}

/// The JSON shape an element must have.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Text,
    Id,
    Bool,
    Object,
    List,
    DateTime,
}

/// Checks the shapes of the elements present, naming each that is wrong.
fn shapes(
    map: &Map<String, Value>,
    path: &str,
    spec: &[(&str, Shape)],
    errors: &mut Vec<FieldError>,
) {
    for (key, shape) in spec {
        let Some(v) = map.get(*key) else { continue };
        let field = if path.is_empty() {
            (*key).to_owned()
        } else {
            format!("{path}.{key}")
        };
        let problem = match shape {
            Shape::Text => {
                (!v.is_string()).then(|| format!("expected a string, got {}", type_name(v)))
            }
            Shape::Bool => {
                (!v.is_boolean()).then(|| format!("expected a boolean, got {}", type_name(v)))
            }
            Shape::Object => {
                (!v.is_object()).then(|| format!("expected an object, got {}", type_name(v)))
            }
            Shape::List => {
                (!v.is_array()).then(|| format!("expected a list, got {}", type_name(v)))
            }
            Shape::Id => match v.as_str() {
                Some(s)
                    if !s.is_empty()
                        && s.len() <= 64
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
                {
                    None
                }
                Some(s) => Some(format!("{} is not a FHIR id", shown(s))),
                None => Some(format!("expected a string, got {}", type_name(v))),
            },
            Shape::DateTime => match v.as_str() {
                Some(s) if is_date_time(s) => None,
                Some(s) => Some(format!("{} is not a FHIR dateTime", shown(s))),
                None => Some(format!("expected a dateTime string, got {}", type_name(v))),
            },
        };
        if let Some(message) = problem {
            errors.push(err(field, message));
        }
    }
}

/// A FHIR dateTime: `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or a full timestamp
/// with a zone.
fn is_date_time(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !s.is_ascii() {
        return false;
    }
    match s.len() {
        4 => digits(s),
        7 => digits(&s[..4]) && s.as_bytes()[4] == b'-' && digits(&s[5..]),
        10 => parse_date(s).is_ok(),
        11..=40 => s.parse::<Timestamp>().is_ok(),
        _ => false,
    }
}
