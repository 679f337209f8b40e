//! The one rule for a single line of text a person types: a name, a label,
//! a product. It is trimmed, has 1 to `max` characters, and no control
//! characters, so nothing typed can break a line of an email, a log or a
//! calendar.

/// Why a single line of text was refused; the message says what to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("give 1 to {max} characters")]
    Length { max: usize },
    #[error("use one line without control characters (such as line breaks or tabs)")]
    Control,
}

/// `value`, trimmed, when it is one line of 1 to `max` characters.
pub fn single_line(value: &str, max: usize) -> Result<&str, LineError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(LineError::Length { max });
    }
    if v.chars().any(char::is_control) {
        return Err(LineError::Control);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_only() {
        assert_eq!(single_line("  Dr Lee ", 10), Ok("Dr Lee"));
        assert_eq!(single_line("", 10), Err(LineError::Length { max: 10 }));
        assert_eq!(
            single_line("x".repeat(11).as_str(), 10),
            Err(LineError::Length { max: 10 })
        );
        for bad in ["Dr\r\nBcc: x@example.org", "a\tb", "a\u{7}", "a\u{85}b"] {
            assert_eq!(single_line(bad, 100), Err(LineError::Control), "{bad:?}");
        }
        assert_eq!(single_line("Zoë Ødegård", 20), Ok("Zoë Ødegård"));
    }
}
