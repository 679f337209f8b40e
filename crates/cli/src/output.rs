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
    println!("  • {}{until}{zones}", r.title);
    for line in wrap(&r.explanation, 72) {
        println!("    {line}");
    }
    let ids: Vec<&str> = r.sources.iter().map(|s| s.id.as_str()).collect();
    println!(
        "    evidence: grade {:?}, {} · rule {}",
        r.grade,
        ids.join(", "),
        r.rule_id
    );
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
