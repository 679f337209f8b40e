//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA-1,
//! 6 digits, 30-second steps, accepting the step before and after the
//! current one for clock drift. Pure: the time is passed in.
//!
//! A code is accepted once: the caller stores the accepted step with
//! `ClinicStore::use_totp_step`, which refuses any step not after the last.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per time step.
pub const PERIOD: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const WINDOW: i64 = 1;
/// Bytes in a new secret (the HMAC-SHA-1 block output size, as RFC 4226
/// recommends).
pub const SECRET_BYTES: usize = 20;

/// The time step (RFC 6238 `T`) at `now`.
pub fn step_at(now: Timestamp) -> i64 {
    now.as_second().div_euclid(PERIOD)
}

/// The HOTP value (RFC 4226) of `counter`, truncated to `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts a key of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = (u32::from(hash[offset]) & 0x7f) << 24
        | u32::from(hash[offset + 1]) << 16
        | u32::from(hash[offset + 2]) << 8
        | u32::from(hash[offset + 3]);
    binary % 10u32.pow(digits)
}

/// The 6-digit code for a time step, zero-padded.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!(
        "{:0width$}",
        hotp(secret, counter, DIGITS),
        width = DIGITS as usize
    )
}

/// The current code at `now` (for tests and for showing in a test clock).
pub fn code_at(secret: &[u8], now: Timestamp) -> String {
    code_at_step(secret, step_at(now))
}

/// Checks a typed code against the steps around `now`. Returns the step it
/// matched, which the caller must then claim once in the store. Spaces and
/// dashes in the typed code are ignored.
pub fn verify(secret: &[u8], typed: &str, now: Timestamp) -> Option<i64> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    // Newest first, so a code valid for two steps claims the later one;
    // every candidate is computed, so timing says nothing about which.
    let mut found = None;
    for step in (current - WINDOW..=current + WINDOW).rev() {
        if step < 0 {
            continue;
        }
        let ok = bool::from(code_at_step(secret, step).as_bytes().ct_eq(code.as_bytes()));
        if ok && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// A new random secret.
pub fn new_secret() -> Result<Vec<u8>, getrandom::Error> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// The secret as authenticator apps take it: base32 (RFC 4648), upper
/// case, without padding.
pub fn base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// Reads a base32 secret as typed or shown (spaces and case ignored).
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    BASE32_NOPAD.decode(clean.as_bytes()).ok()
}

/// The base32 secret in groups of four, easier to type.
pub fn base32_grouped(secret: &[u8]) -> String {
    let plain = base32(secret);
    plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The key URI as an SVG QR code for an authenticator app's camera:
/// black modules on white, with the quiet zone, sized by the page.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // Drop the XML prolog: the SVG goes inline in the page.
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen(
        "<svg",
        r#"<svg class="qr" role="img" aria-label="Scannable square of your authenticator key (QR)""#,
        1,
    ))
}

/// The `otpauth://` key URI that authenticator apps import (the Google
/// Authenticator key URI format).
pub fn otpauth_uri(email: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/needlewise:{}?secret={}&issuer=needlewise&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        percent(email),
        base32(secret)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn rfc_6238_sha1_vectors_in_eight_digits() {
        // RFC 6238 appendix B, SHA-1 column.
        for (t, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            let step = u64::try_from(step_at(at(t))).unwrap();
            assert_eq!(hotp(RFC_SECRET, step, 8), expected, "T={t}");
        }
    }

    #[test]
    fn six_digits_are_the_last_six_of_the_same_value() {
        assert_eq!(code_at(RFC_SECRET, at(59)), "287082");
        assert_eq!(code_at(RFC_SECRET, at(1_111_111_109)), "081804");
        assert_eq!(code_at(RFC_SECRET, at(1_234_567_890)), "005924");
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), code, "count {counter}");
        }
    }

    #[test]
    fn verify_accepts_one_step_either_side_and_no_further() {
        let now = at(1_234_567_890);
        let step = step_at(now);
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, now), now),
            Some(step)
        );
        let before = code_at_step(RFC_SECRET, step - 1);
        let after = code_at_step(RFC_SECRET, step + 1);
        assert_eq!(verify(RFC_SECRET, &before, now), Some(step - 1));
        assert_eq!(verify(RFC_SECRET, &after, now), Some(step + 1));
        let too_old = code_at_step(RFC_SECRET, step - 2);
        let too_new = code_at_step(RFC_SECRET, step + 2);
        assert_eq!(verify(RFC_SECRET, &too_old, now), None);
        assert_eq!(verify(RFC_SECRET, &too_new, now), None);
    }

    #[test]
    fn verify_ignores_spacing_and_refuses_malformed_codes() {
        let now = at(59);
        assert_eq!(verify(RFC_SECRET, " 287 082 ", now), Some(1));
        assert_eq!(verify(RFC_SECRET, "287-082", now), Some(1));
        for bad in ["", "28708", "2870822", "28708a", "94287082"] {
            assert_eq!(verify(RFC_SECRET, bad, now), None, "{bad:?}");
        }
        assert_eq!(verify(b"another secret", "287082", now), None);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            base32_grouped(RFC_SECRET),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        assert_eq!(
            decode_base32("gezd gnbv gy3t qojq GEZD GNBV GY3T QOJQ").unwrap(),
            RFC_SECRET
        );
        assert_eq!(decode_base32("not base32!"), None);
        let uri = otpauth_uri("ada+clinic@example.org", RFC_SECRET);
        let qr = qr_svg(&uri).unwrap();
        assert!(qr.starts_with("<svg class=\"qr\" role=\"img\""), "{qr}");
        assert!(qr.contains("<path") && qr.ends_with("</svg>"), "{qr}");
        assert!(!qr.contains("<?xml") && !qr.contains("<script"));
        assert_eq!(
            uri,
            "otpauth://totp/needlewise:ada%2Bclinic%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=needlewise&algorithm=SHA1&digits=6&period=30"
        );
        let s = new_secret().unwrap();
        assert_eq!(s.len(), 20);
        assert_ne!(s, new_secret().unwrap());
    }
}
