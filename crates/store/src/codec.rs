//! Conversions shared by both backends: timestamps, dates, enums, answers,
//! and the migration bookkeeping.

use std::str::FromStr;
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::civil::Date;
use needlewise_core::answers::Answers;
use needlewise_core::evidence::Questionnaire;
use needlewise_core::hygiene::Device;
use needlewise_core::ids::AccountId;
use needlewise_core::records::{Account, CheckinRecord, Episode, Resolver, SessionRecord};
use needlewise_core::screening::ScreeningResult;
use serde_json::Value;

use crate::{Result, StoreError, WebSession};

/// Both backends keep microseconds: what one stores, the other can too.
pub(crate) fn micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(us)
        .map_err(|_| StoreError::invalid(format!("stored timestamp {us} µs is out of range")))
}

pub(crate) fn system_time(ts: Timestamp) -> Result<SystemTime> {
    let truncated = from_micros(micros(ts))?;
    SystemTime::try_from(truncated)
        .map_err(|_| StoreError::invalid(format!("timestamp {ts} cannot be stored")))
}

pub(crate) fn from_system_time(t: SystemTime) -> Result<Timestamp> {
    Timestamp::try_from(t).map_err(|_| StoreError::invalid("stored timestamp is out of range"))
}

pub(crate) fn date_text(d: Date) -> String {
    d.strftime("%Y-%m-%d").to_string()
}

pub(crate) fn parse_date(s: &str) -> Result<Date> {
    needlewise_core::answers::parse_date(s)
        .map_err(|e| StoreError::invalid(format!("stored date: {e}")))
}

/// Parses a stored id or enum (`Verdict`, `TriageLevel`, `Zone`, ids).
pub(crate) fn parse<T>(s: &str, what: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| StoreError::invalid(format!("stored {what} {s:?} does not parse: {e}")))
}

pub(crate) fn to_u32(n: i64, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::invalid(format!("stored {what} {n} is out of range")))
}

pub(crate) fn to_u64(n: i64, what: &str) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::invalid(format!("stored {what} {n} is out of range")))
}

pub(crate) fn to_i64(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::invalid(format!("{what} {n} is too large to store")))
}

/// The version a stored device must have for `next` to replace it.
pub(crate) fn previous_version(next_version: u64) -> Result<i64> {
    match next_version.checked_sub(1) {
        Some(v) => to_i64(v, "device version"),
        None => Err(StoreError::conflict(
            "a device at version 0 is new: add it with add_device, not as a change",
        )),
    }
}

pub(crate) fn screening_answers(value: &Value) -> Result<Answers> {
    load_answers(&needlewise_core::evidence().screening, value, "screening")
}

pub(crate) fn checkin_answers(value: &Value) -> Result<Answers> {
    load_answers(&needlewise_core::evidence().checkin, value, "check-in")
}

/// Reloads stored answers, facts included.
fn load_answers(q: &Questionnaire, value: &Value, what: &str) -> Result<Answers> {
    Answers::from_stored_json(q, value)
        .map_err(|e| StoreError::invalid(format!("stored {what} answers no longer parse: {e}")))
}

pub(crate) fn readiness_answers(value: &Value) -> Result<Answers> {
    load_answers(&needlewise_core::evidence().readiness, value, "readiness")
}

/// The version of the stored screening result's JSON (its `"format"`
/// key). A stored result without the key was written before results were
/// versioned, by a build whose JSON is exactly format 1.
pub(crate) const SCREENING_RESULT_FORMAT: u64 = 1;

/// A screening result as stored: the JSON of [`ScreeningResult`] with a
/// `"format"` key added.
pub(crate) fn encode_screening_result(result: &ScreeningResult) -> Result<Value> {
    let mut value = serde_json::to_value(result)
        .map_err(|e| StoreError::invalid(format!("cannot encode the screening result: {e}")))?;
    let Value::Object(map) = &mut value else {
        return Err(StoreError::invalid(
            "a screening result does not encode as a JSON object",
        ));
    };
    map.insert("format".to_owned(), Value::from(SCREENING_RESULT_FORMAT));
    Ok(value)
}

/// Reads a stored screening result strictly: the `"format"` key (absent
/// means 1) must be one this build reads, and the rest must be exactly a
/// [`ScreeningResult`] (no unknown or missing field). Anything else is
/// [`StoreError::Invalid`], never a default.
pub(crate) fn decode_screening_result(value: Value) -> Result<ScreeningResult> {
    let Value::Object(mut map) = value else {
        return Err(StoreError::invalid(
            "the stored screening result is not a JSON object",
        ));
    };
    match map.remove("format") {
        None => {}
        Some(Value::Number(n)) if n.as_u64() == Some(SCREENING_RESULT_FORMAT) => {}
        Some(other) => {
            return Err(StoreError::invalid(format!(
                "the stored screening result has format {other}, but this needlewise reads format {SCREENING_RESULT_FORMAT}: upgrade needlewise"
            )));
        }
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| {
        StoreError::invalid(format!(
            "the stored screening result (format {SCREENING_RESULT_FORMAT}) no longer reads: {e}"
        ))
    })
}

/// A red flag's resolver as stored (JSON, tagged by `by`).
pub(crate) fn encode_resolver(resolver: &Resolver) -> Result<Value> {
    serde_json::to_value(resolver)
        .map_err(|e| StoreError::invalid(format!("cannot encode the resolver: {e}")))
}

pub(crate) fn decode_resolver(value: Option<Value>) -> Result<Option<Resolver>> {
    value
        .map(|v| {
            serde_json::from_value(v)
                .map_err(|e| StoreError::invalid(format!("stored resolver does not parse: {e}")))
        })
        .transpose()
}

/// The check-in stored with a resolution must be the profile's own.
pub(crate) fn check_resolution_checkin(
    profile: needlewise_core::ids::ProfileId,
    resolver: &Resolver,
    checkin: Option<&CheckinRecord>,
) -> Result<()> {
    if let Some(c) = checkin
        && c.profile_id != profile
    {
        return Err(StoreError::invalid(format!(
            "check-in {} belongs to profile {}, not to profile {profile}",
            c.id, c.profile_id
        )));
    }
    if let (Resolver::DoctorExamined { checkin_id, .. }, Some(c)) = (resolver, checkin)
        && *checkin_id != c.id
    {
        return Err(StoreError::invalid(format!(
            "the resolution names check-in {checkin_id}, but check-in {} was given",
            c.id
        )));
    }
    Ok(())
}

pub(crate) fn rule_ids(value: Value) -> Result<Vec<String>> {
    serde_json::from_value(value).map_err(|e| StoreError::invalid(format!("stored rule ids: {e}")))
}

/// A migration embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Each backend's migrations, embedded: per version, the file stem on
/// SQLite and on PostgreSQL (`migrations/<backend>/<NNNN>_<stem>.sql`; the
/// stem is the name recorded in `schema_migrations`). A migration file is
/// never edited once applied: a change is a new version.
macro_rules! migrations {
    ($($version:literal $file:literal: $sqlite:literal, $postgres:literal;)*) => {
        pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[$(Migration {
            version: $version,
            name: $sqlite,
            sql: include_str!(concat!("../migrations/sqlite/", $file, "_", $sqlite, ".sql")),
        }),*];
        pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[$(Migration {
            version: $version,
            name: $postgres,
            sql: include_str!(concat!("../migrations/postgres/", $file, "_", $postgres, ".sql")),
        }),*];
    };
}

migrations! {
    1 "0001": "init", "init";
    2 "0002": "clinic", "clinic";
    3 "0003": "totp_pending_session", "totp_pending_session";
    4 "0004": "member_invites", "member_invites";
    5 "0005": "outbox_by_recipient", "outbox_by_recipient";
    6 "0006": "profile_facts", "patient_list_summary";
    7 "0007": "readiness_checks_resolvers", "readiness_checks_resolvers";
    8 "0008": "home_facts", "home_facts";
    9 "0009": "patient_list_keys", "patient_list_keys";
    10 "0010": "conversations", "conversations";
    11 "0011": "appointments", "appointments";
    12 "0012": "canned_replies", "canned_replies";
    13 "0013": "outbox_calendar", "outbox_calendar";
    14 "0014": "inbox_views", "inbox_views";
}

impl Migration {
    /// SHA-256 of the file, hex, with line endings normalised so a checkout
    /// with CRLF endings does not count as an edit.
    pub fn checksum(&self) -> String {
        use sha2::{Digest, Sha256};
        let normalised = self.sql.replace("\r\n", "\n");
        Sha256::digest(normalised.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A row of `schema_migrations`.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub version: i64,
    pub name: String,
    pub checksum: String,
}

/// Checks what the database has applied against the embedded migrations
/// and returns those still to apply, in order.
pub(crate) fn pending(
    embedded: &'static [Migration],
    applied: &[Applied],
) -> Result<Vec<Migration>> {
    for row in applied {
        let Some(m) = embedded.iter().find(|m| m.version == row.version) else {
            return Err(StoreError::Migration(format!(
                "the database has migration {} ({}) which this needlewise does not know: it was written by a newer version",
                row.version, row.name
            )));
        };
        if m.checksum() != row.checksum {
            return Err(StoreError::Migration(format!(
                "migration {} ({}) was changed after it was applied: its checksum is {} in the database but {} in this build; \
                 restore the original file and put changes in a new migration",
                m.version,
                m.name,
                row.checksum,
                m.checksum()
            )));
        }
    }
    Ok(embedded
        .iter()
        .filter(|m| !applied.iter().any(|row| row.version == m.version))
        .copied()
        .collect())
}

/// The device given with a session must be the session's own.
pub(crate) fn check_session_device(s: &SessionRecord, d: &Device) -> Result<()> {
    if s.device_id != Some(d.id) || s.profile_id != d.profile_id {
        return Err(StoreError::invalid(format!(
            "session {} names device {} of profile {}, but the device given is {} of profile {}",
            s.id,
            s.device_id
                .map_or_else(|| "none".to_owned(), |d| d.to_string()),
            s.profile_id,
            d.id,
            d.profile_id
        )));
    }
    Ok(())
}

/// The episode given with a check-in must be the one it opens.
pub(crate) fn check_checkin_episode(c: &CheckinRecord, e: &Episode) -> Result<()> {
    if e.checkin_id != c.id || e.profile_id != c.profile_id {
        return Err(StoreError::invalid(format!(
            "episode {} belongs to check-in {} of profile {}, not to check-in {} of profile {}",
            e.id, e.checkin_id, e.profile_id, c.id, c.profile_id
        )));
    }
    Ok(())
}

/// Emails are stored and compared lower-cased.
pub(crate) fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// Checks an account before it is stored; returns the email to store.
pub(crate) fn check_account(a: &Account) -> Result<String> {
    if a.email.trim().is_empty() {
        return Err(StoreError::invalid(format!(
            "account {} has no email",
            a.id
        )));
    }
    if a.password_hash.is_empty() {
        return Err(StoreError::invalid(format!(
            "account {} has no password hash",
            a.id
        )));
    }
    Ok(email_key(&a.email))
}

/// The local account owns the command line's profiles and stays.
pub(crate) fn check_deletable(id: AccountId) -> Result<()> {
    if id == AccountId::LOCAL {
        return Err(StoreError::invalid(
            "the local account holds the command line's profiles and cannot be deleted",
        ));
    }
    Ok(())
}

/// Checks a web session before it is stored.
pub(crate) fn check_web_session(s: &WebSession) -> Result<()> {
    if s.account_id == AccountId::LOCAL {
        return Err(StoreError::invalid(
            "the local account cannot log in, so it cannot have web sessions",
        ));
    }
    if !is_sha256_hex(&s.token_hash) {
        return Err(StoreError::invalid(
            "a web session's token hash must be 64 lower-case hex digits (SHA-256)",
        ));
    }
    if s.csrf_token.is_empty() {
        return Err(StoreError::invalid("a web session needs a CSRF token"));
    }
    if micros(s.expires_at) <= micros(s.created_at) {
        return Err(StoreError::invalid(
            "a web session must expire after it is created",
        ));
    }
    Ok(())
}

/// 64 lower-case hex digits: how token hashes are stored.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) fn check_calendar_token_hash(token_hash: &str) -> Result<()> {
    if is_sha256_hex(token_hash) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "a calendar token hash must be 64 lower-case hex digits (SHA-256)",
        ))
    }
}

/// Refuses photo metadata that cannot describe a stored file.
pub(crate) fn check_photo(p: &needlewise_core::progress::Photo) -> Result<()> {
    if p.width == 0 || p.height == 0 {
        return Err(StoreError::invalid(format!(
            "photo {} has a zero size",
            p.id
        )));
    }
    if p.stored_name.trim().is_empty() || p.content_type.trim().is_empty() {
        return Err(StoreError::invalid(format!(
            "photo {} needs a stored name and a content type",
            p.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use needlewise_core::screening::Verdict;
    use needlewise_core::zone::Zone;
    use serde_json::{Value, json};

    use super::*;

    /// A screening result exactly as the store wrote it before results
    /// were versioned: made by the `needlewise` binary of main at commit
    /// 04ac0b9 (`screen --answers screening_answers_v0_main.json --now
    /// 2026-11-25T10:00:00Z`) and copied from its SQLite file's
    /// `screenings.result`. It has reasons with sources, a zone excluded
    /// until a date and one excluded without.
    const MAIN: &str = include_str!("../tests/fixtures/screening_result_v0_main.json");
    /// The same with one rule a clinician set aside, in the shape that
    /// build's `Overridden` serialised to (the command line cannot make one).
    const OVERRIDDEN: &str = include_str!("../tests/fixtures/screening_result_v0_overridden.json");

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_result_written_before_versioning_reads_as_format_1() {
        let stored = fixture(MAIN);
        assert!(stored.get("format").is_none());
        let r = decode_screening_result(stored.clone()).unwrap();
        assert_eq!(r.verdict, Verdict::GoWithPrecautions);
        assert_eq!(
            r.headline,
            "You can microneedle at home, with the precautions below."
        );
        assert_eq!(r.zones, vec![Zone::Forehead, Zone::RightCheek]);
        assert_eq!(r.excluded_zones.len(), 2);
        assert_eq!(r.excluded_zones[0].zone, Zone::LeftCheek);
        assert_eq!(
            r.excluded_zones[0].until,
            Some(jiff::civil::date(2027, 4, 25))
        );
        assert_eq!(r.excluded_zones[1].until, None);
        let filler = &r.reasons[1];
        assert_eq!(filler.rule_id, "screen.procedure.filler");
        assert_eq!(
            filler
                .sources
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>(),
            ["R50", "PRACTICE-PROCEDURES"]
        );
        assert_eq!(filler.until, Some(jiff::civil::date(2027, 4, 25)));
        assert_eq!(r.needle_length_mm, 0.25);
        assert!(r.overridden.is_empty());
        // Nothing was lost: written again, it is the same JSON, now with
        // its format.
        let mut expected = stored;
        expected["format"] = json!(1);
        assert_eq!(encode_screening_result(&r).unwrap(), expected);
    }

    #[test]
    fn an_overridden_rule_written_before_versioning_reads_back() {
        let stored = fixture(OVERRIDDEN);
        let r = decode_screening_result(stored.clone()).unwrap();
        assert_eq!(r.overridden.len(), 1);
        let o = &r.overridden[0];
        assert_eq!(o.by_name, "Dr Lee");
        assert_eq!(o.at, "2026-11-20T09:00:00Z".parse().unwrap());
        assert_eq!(o.reason.rule_id, "screen.procedure.filler");
        assert_eq!(o.evidence.sources, vec!["R50".to_owned()]);
        let mut expected = stored;
        expected["format"] = json!(1);
        assert_eq!(encode_screening_result(&r).unwrap(), expected);
    }

    #[test]
    fn results_are_written_with_their_format_and_read_back_equal() {
        let r = decode_screening_result(fixture(OVERRIDDEN)).unwrap();
        let stored = encode_screening_result(&r).unwrap();
        assert_eq!(stored["format"], json!(SCREENING_RESULT_FORMAT));
        assert_eq!(decode_screening_result(stored).unwrap(), r);
    }

    fn expect_invalid(value: Value, mentions: &str) {
        match decode_screening_result(value) {
            Err(StoreError::Invalid { what }) => assert!(what.contains(mentions), "{what}"),
            other => panic!("expected Invalid mentioning {mentions:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_renamed_field_fails_loudly() {
        // A field renamed at the top...
        let mut v = fixture(MAIN);
        let headline = v.as_object_mut().unwrap().remove("headline").unwrap();
        v["title"] = headline;
        expect_invalid(v, "title");
        // ...inside a reason...
        let mut v = fixture(MAIN);
        let reason = v["reasons"][0].as_object_mut().unwrap();
        let id = reason.remove("rule_id").unwrap();
        reason.insert("rule".to_owned(), id);
        expect_invalid(v, "rule");
        // ...or inside a source.
        let mut v = fixture(MAIN);
        let source = v["reasons"][0]["sources"][0].as_object_mut().unwrap();
        let citation = source.remove("citation").unwrap();
        source.insert("cite".to_owned(), citation);
        expect_invalid(v, "cite");
        // A field gone.
        let mut v = fixture(MAIN);
        v.as_object_mut().unwrap().remove("needle_length_mm");
        expect_invalid(v, "needle_length_mm");
    }

    #[test]
    fn an_unknown_format_fails_loudly() {
        let mut v = fixture(MAIN);
        v["format"] = json!(2);
        expect_invalid(v, "format 2");
        let mut v = fixture(MAIN);
        v["format"] = json!("1");
        expect_invalid(v, "format");
        expect_invalid(json!([1, 2]), "not a JSON object");
    }
}
