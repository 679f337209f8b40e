//! Stores, people, answers and clocks for the actions tests.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use needlewise_actions::Ctx;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::ids::{AccountId, ProfileId};
use needlewise_core::records::{Account, Profile};
use needlewise_store::{PostgresStore, SqliteStore, Store};
use serde_json::{Value, json};
use uuid::Uuid;

/// A store of either backend, with what keeps it alive.
pub struct TestStore {
    pub store: Box<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("needlewise.sqlite3")).expect("a SQLite store");
    TestStore {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

/// A PostgreSQL store in a fresh schema. Fails loudly without a server.
pub fn postgres() -> TestStore {
    let url = match std::env::var("NEEDLEWISE_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "NEEDLEWISE_TEST_POSTGRES_URL is not set, so the PostgreSQL half of the actions tests cannot run. \
             scripts/test starts a throwaway server (or run: eval \"$(scripts/pg-test-server start)\")"
        ),
    };
    let schema = format!("nw_actions_{}", Uuid::new_v4().simple());
    let store = PostgresStore::connect_fresh_schema(&url, &schema)
        .unwrap_or_else(|e| panic!("cannot set up a test schema: {e}"));
    TestStore {
        store: Box::new(store),
        _dir: None,
    }
}

/// A web account with one profile, in `zone`.
pub fn person(store: &dyn Store, now: Timestamp, zone: Option<&str>) -> Profile {
    let account = Account {
        id: AccountId(Uuid::now_v7()),
        email: format!("{}@example.test", Uuid::new_v4().simple()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        created_at: now,
    };
    store.create_account(&account).expect("an account");
    let profile = Profile {
        id: ProfileId(Uuid::now_v7()),
        account_id: account.id,
        name: "Alex".into(),
        created_at: now,
        time_zone: zone.map(str::to_owned),
    };
    store.create_profile(&profile).expect("a profile");
    profile
}

pub fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| panic!("time zone {name}: {e}"))
}

pub fn at(t: Timestamp, tz: &str) -> ZonedDateTime {
    t.to_zoned_datetime(zone(tz))
}

pub fn ctx<'a>(store: &'a dyn Store, now: &'a ZonedDateTime) -> Ctx<'a> {
    Ctx { store, now }
}

pub fn ts(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 timestamp")
}

pub fn minutes(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

/// A screening that clears home use, for a needle length.
pub fn screening(needle_mm: f64, today: jiff::civil::Date) -> Answers {
    let mut v: Value = serde_json::from_str(include_str!("../../../../docs/answers.example.json"))
        .expect("the example answers");
    v["needle_length_mm"] = json!(needle_mm);
    v["recent_procedures"] = json!([]);
    Answers::from_json(&evidence().screening, &v, today).expect("valid screening answers")
}

/// A screening that does not clear home use (pregnancy).
pub fn screening_pregnant(today: jiff::civil::Date) -> Answers {
    let mut v: Value = serde_json::from_str(include_str!("../../../../docs/answers.example.json"))
        .expect("the example answers");
    v["pregnant"] = json!(true);
    v["recent_procedures"] = json!([]);
    Answers::from_json(&evidence().screening, &v, today).expect("valid screening answers")
}

/// Today's answers with nothing wrong (`clear`), or with a cold sore.
pub fn readiness(clear: bool, today: jiff::civil::Date) -> Answers {
    let v = json!({
        "skin_cleansed": true,
        "device_damaged": false,
        "cold_sore_now": !clear,
        "active_problem_zones": [],
        "sunburn_or_tan": false,
        "actives_recently": false,
        "waxed_zones": [], "procedures_since": [],
        "new_medication": false,
        "pregnant_now": false,
        "feeling_unwell": false
    });
    Answers::from_json(&evidence().readiness, &v, today).expect("valid readiness answers")
}

/// A check-in: the expected course, a red flag (pus), or a red flag with
/// every other answer missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkin {
    Fine,
    Pus,
    PusOnly,
}

pub fn checkin(kind: Checkin, today: jiff::civil::Date) -> Answers {
    let v = match kind {
        Checkin::PusOnly => json!({ "pus_or_spreading_warmth": true, "redness": "severe" }),
        // No redness: mild redness is expected only in the first 72 hours.
        _ => json!({
            "redness": "none",
            "swelling": false,
            "pus_or_spreading_warmth": kind == Checkin::Pus,
            "fever": false,
            "blisters": false,
            "new_bumps": false,
            "track_marks": false,
            "darker_patches": false,
            "numbness": false,
            "allergic_reaction": false,
            "anaesthetic_toxicity": false,
            "feeling_unwell": false, "widespread_rash": false, "blood_exposure_shared_device": false
        }),
    };
    Answers::from_json(&evidence().checkin, &v, today).expect("valid check-in answers")
}
