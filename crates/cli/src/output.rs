//! Printing: JSON for machines, plain words for people.

use serde::Serialize;

use crate::app::Failure;

pub fn json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Other(e.into()))?;
    println!("{text}");
    Ok(())
}

/// Prints a reason: title, explanation and its sources.
pub fn reason(r: &needlewise_core::engine::Reason) {
    print!("{}", reason_text(r));
}

/// [`reason`], on standard error (beside an error message).
pub fn reason_to_stderr(r: &needlewise_core::engine::Reason) {
    eprint!("{}", reason_text(r));
}

fn reason_text(r: &needlewise_core::engine::Reason) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let until = r.until.map(|d| format!(" (until {d})")).unwrap_or_default();
    let zones = if r.zones.is_empty() {
        String::new()
    } else {
        format!(
            " [{}]",
            r.zones
                .iter()
                .map(|z| z.label())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let _ = writeln!(out, "  • {}{until}{zones}", r.title);
    for line in wrap(&r.explanation, 72) {
        let _ = writeln!(out, "    {line}");
    }
    let ids: Vec<&str> = r.sources.iter().map(|s| s.id.as_str()).collect();
    let _ = writeln!(
        out,
        "    evidence: grade {:?}, {} · rule {}",
        r.grade,
        ids.join(", "),
        r.rule_id
    );
    out
}

/// Wraps text at word boundaries.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
