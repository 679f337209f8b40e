//! Asking a questionnaire in the terminal, only the questions that apply.
//!
//! Reads plain lines from standard input, so it works when typed at and when
//! piped into.

use std::io::{BufRead, Write};

use jiff::civil::Date;
use needlewise_core::answers::{Answers, parse_answer};
use needlewise_core::engine::applicable_questions;
use needlewise_core::evidence::{Question, QuestionKind, Questionnaire};
use serde_json::Value;

use crate::app::{Failure, bad};

const ATTEMPTS: usize = 3;

/// Asks every question that applies, in order, re-checking which apply as
/// answers come in. Prompts go to standard error so `--json` output stays
/// clean.
pub fn ask_all(q: &Questionnaire, today: Date, preset: Answers) -> Result<Answers, Failure> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut answers = preset;
    loop {
        let next = applicable_questions(q, &answers)
            .find(|question| !question.fact && answers.get(&question.id).is_none())
            .cloned();
        let Some(question) = next else {
            return Ok(answers);
        };
        let answer = ask_one(&mut input, &question, today)?;
        answers.set(question.id.clone(), answer);
    }
}

fn ask_one(
    input: &mut impl BufRead,
    question: &Question,
    today: Date,
) -> Result<needlewise_core::answers::Answer, Failure> {
    let mut err = std::io::stderr();
    for _ in 0..ATTEMPTS {
        let _ = writeln!(err, "\n{}", question.prompt);
        if let Some(help) = &question.help {
            let _ = writeln!(err, "  ({help})");
        }
        let _ = write!(err, "  [{}] > ", hint(&question.kind));
        let _ = err.flush();
        let mut line = String::new();
        let read = input
            .read_line(&mut line)
            .map_err(|e| Failure::Other(e.into()))?;
        if read == 0 {
            return Err(bad(format!(
                "input ended before {} was answered; nothing was saved",
                question.id
            )));
        }
        match to_json(&question.kind, line.trim()).and_then(|v| parse_answer(question, &v, today)) {
            Ok(answer) => return Ok(answer),
            Err(message) => {
                let _ = writeln!(err, "  That answer does not fit: {message}");
            }
        }
    }
    Err(bad(format!(
        "{}: no valid answer after {ATTEMPTS} tries; nothing was saved",
        question.id
    )))
}

fn hint(kind: &QuestionKind) -> String {
    match kind {
        QuestionKind::Bool => "y/n".into(),
        QuestionKind::Zones => "zones separated by commas, or empty".into(),
        QuestionKind::Procedures => {
            "e.g. filler 2026-05-01 left_cheek right_cheek; botox 2026-09-01 forehead — or empty"
                .into()
        }
        other => other.describe(),
    }
}

/// Turns a typed line into the JSON form the answer parser takes.
fn to_json(kind: &QuestionKind, text: &str) -> Result<Value, String> {
    Ok(match kind {
        QuestionKind::Bool => match text.to_lowercase().as_str() {
            "y" | "yes" | "true" => Value::Bool(true),
            "n" | "no" | "false" => Value::Bool(false),
            _ => return Err("answer y or n".into()),
        },
        QuestionKind::Integer { .. } => Value::from(text.parse::<i64>().map_err(|_| format!("{text:?} is not a whole number"))?),
        QuestionKind::Number { .. } => {
            let n: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
            serde_json::Number::from_f64(n).map(Value::Number).ok_or("not a finite number")?
        }
        QuestionKind::Choice { .. } | QuestionKind::Exposure | QuestionKind::Date => Value::String(text.to_owned()),
        QuestionKind::Zones => Value::Array(
            text.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        QuestionKind::Procedures => Value::Array(
            text.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|item| {
                    let mut words = item.split_whitespace();
                    let kind = words.next().unwrap_or_default();
                    let date = words.next().unwrap_or_default();
                    serde_json::json!({"kind": kind, "date": date, "zones": words.collect::<Vec<_>>()})
                })
                .collect(),
        ),
    })
}
