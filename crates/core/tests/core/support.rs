//! Helpers shared by the test modules.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::ids::{ProfileId, SessionId};
use needlewise_core::records::{SessionRecord, SessionSetting};
use uuid::Uuid;

/// The zones issue 14 names: no offset, one with summer time, one behind
/// UTC, and the furthest ahead (+14 h).
pub const ZONES: [&str; 4] = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Pacific/Kiritimati",
];

/// A time zone from the system's tz database. The core never reads one (it
/// builds jiff without a tz database, so `TimeZone::get` finds nothing
/// there); tests may, so the TZif file is read directly when needed.
pub fn zone(name: &str) -> TimeZone {
    if let Ok(tz) = TimeZone::get(name) {
        return tz;
    }
    let dir = std::env::var("TZDIR").unwrap_or_else(|_| "/usr/share/zoneinfo".to_owned());
    let path = format!("{dir}/{name}");
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("time zone {name}: {path}: {e}"));
    TimeZone::tzif(name, &data).unwrap_or_else(|e| panic!("time zone {name}: {e}"))
}

pub fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn profile() -> ProfileId {
    ProfileId(Uuid::from_u128(0x0197_0000_0000_7000_8000_0000_0000_0001))
}

/// A 20-minute home session that started at `started_at`; `local_date` is
/// its day in UTC (the schedule no longer reads it).
pub fn session_from(started_at: Timestamp, needle_length_mm: f64) -> SessionRecord {
    SessionRecord {
        id: SessionId(Uuid::from_u128(
            started_at.as_second().unsigned_abs().into(),
        )),
        profile_id: profile(),
        device_id: None,
        started_at,
        ended_at: started_at + SignedDuration::from_mins(20),
        local_date: started_at.to_zoned_datetime(TimeZone::UTC).date(),
        needle_length_mm,
        zones: vec![],
        products: vec![],
        notes: String::new(),
        setting: SessionSetting::Home,
        readiness_check_id: None,
    }
}
