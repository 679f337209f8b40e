//! Text for the standard Type 1 fonts: characters mapped to
//! WinAnsiEncoding, and glyph widths from Adobe's Helvetica and
//! Helvetica-Bold metrics (AFM), so text can be measured and wrapped
//! without font files.

/// Which of the two standard fonts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

/// Code points 0x80–0x9F of WinAnsiEncoding (0 where the code is unused).
const HIGH: [char; 32] = [
    '\u{20ac}', '\0', '\u{201a}', '\u{0192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02c6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\0', '\u{017d}', '\0', '\0',
    '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02dc}',
    '\u{2122}', '\u{0161}', '\u{203a}', '\u{0153}', '\0', '\u{017e}', '\u{0178}',
];

/// The WinAnsi code of a character, if it has one.
pub fn code(c: char) -> Option<u8> {
    let u = u32::from(c);
    match u {
        0x20..=0x7e | 0xa0..=0xff => u8::try_from(u).ok(),
        _ => HIGH
            .iter()
            .position(|h| *h == c && c != '\0')
            .and_then(|i| u8::try_from(0x80 + i).ok()),
    }
}

/// Encodes text as WinAnsi bytes. Tabs and line breaks become spaces; a
/// few common symbols outside the encoding get an ASCII spelling; anything
/// else unmappable becomes `?`.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(b) = code(c) {
            out.push(b);
            continue;
        }
        let fallback: &str = match c {
            '\t' | '\n' | '\r' => " ",
            '\u{2264}' => "<=",
            '\u{2265}' => ">=",
            '\u{2192}' => "->",
            '\u{2190}' => "<-",
            '\u{2212}' | '\u{2010}' | '\u{2011}' => "-",
            '\u{00a0}' | '\u{2009}' | '\u{202f}' | '\u{2002}' | '\u{2003}' => " ",
            '\u{2032}' => "'",
            '\u{2033}' => "\"",
            '\u{2248}' => "~",
            c if c.is_control() => "",
            _ => "?",
        };
        out.extend_from_slice(fallback.as_bytes());
    }
    out
}

/// Helvetica widths (per 1000 em) of codes 0x20–0x7E.
const REGULAR_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 0x70
];

/// Helvetica-Bold widths of codes 0x20–0x7E.
const BOLD_ASCII: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // 0x70
];

/// Helvetica widths of codes 0x80–0xFF (0 for unused codes).
const REGULAR_HIGH: [u16; 128] = [
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xF0
];

/// Helvetica-Bold widths of codes 0x80–0xFF (0 for unused codes).
const BOLD_HIGH: [u16; 128] = [
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xF0
];

/// The width of one WinAnsi code, per 1000 em.
pub fn code_width(font: Font, b: u8) -> u16 {
    let (ascii, high) = match font {
        Font::Regular => (&REGULAR_ASCII, &REGULAR_HIGH),
        Font::Bold => (&BOLD_ASCII, &BOLD_HIGH),
    };
    match b {
        0x20..=0x7e => ascii[usize::from(b - 0x20)],
        0x80..=0xff => match high[usize::from(b - 0x80)] {
            0 => 278,
            w => w,
        },
        _ => 0,
    }
}

/// The width of encoded text at a font size, in points.
pub fn width(font: Font, size: f32, encoded: &[u8]) -> f32 {
    let units: u32 = encoded
        .iter()
        .map(|b| u32::from(code_width(font, *b)))
        .sum();
    units as f32 * size / 1000.0
}

/// Splits text into lines no wider than `max` points (a word longer than
/// a line is broken between characters). Each line is WinAnsi-encoded.
pub fn wrap(font: Font, size: f32, text: &str, max: f32) -> Vec<Vec<u8>> {
    let encoded = encode(text);
    let space = width(font, size, b" ");
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_w = 0.0f32;
    for word in encoded.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
        let w = width(font, size, word);
        if !line.is_empty() && line_w + space + w <= max {
            line.push(b' ');
            line.extend_from_slice(word);
            line_w += space + w;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line_w = 0.0;
        }
        if w <= max {
            line.extend_from_slice(word);
            line_w = w;
        } else {
            // Break an over-long word (a URL, an id) between characters.
            for b in word {
                let cw = width(font, size, &[*b]);
                if !line.is_empty() && line_w + cw > max {
                    lines.push(std::mem::take(&mut line));
                    line_w = 0.0;
                }
                line.push(*b);
                line_w += cw;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_winansi() {
        assert_eq!(
            encode("A\u{e9}\u{2014}\u{20ac}\u{2265}\u{4e2d}"),
            b"A\xe9\x97\x80>=?".to_vec()
        );
        assert_eq!(code('\u{2019}'), Some(0x92));
        assert_eq!(code('\u{1f600}'), None);
    }

    #[test]
    fn measures_like_the_afm() {
        // "Hello" in Helvetica: 722 + 556 + 222 + 222 + 556 = 2278.
        assert!((width(Font::Regular, 10.0, b"Hello") - 22.78).abs() < 1e-3);
        assert!((width(Font::Bold, 10.0, b"Hello") - 24.45).abs() < 1e-3);
    }

    #[test]
    fn wraps_within_the_width() {
        let text = "the quick brown fox jumps over the lazy dog ".repeat(10);
        let lines = wrap(Font::Regular, 10.0, &text, 120.0);
        assert!(lines.len() > 5);
        for l in &lines {
            assert!(width(Font::Regular, 10.0, l) <= 120.0);
        }
        let long = wrap(Font::Regular, 10.0, &"x".repeat(200), 50.0);
        assert!(long.len() > 3);
    }
}
