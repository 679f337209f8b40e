//! Seeds a SQLite store for `scripts/bench-web`: N accounts of one profile
//! each, every profile with a history of sessions.
//!
//! ```text
//! cargo run --release -p needlewise-web --example seed -- DATA_DIR [--profiles N] [--sessions M]
//! ```
//!
//! Every account's email is `bench{i}@example.invalid` and its password
//! `bench password`. The store file is `DATA_DIR/needlewise.sqlite3`, where
//! `needlewise serve --data-dir DATA_DIR` finds it. Writes go through the
//! `Store` trait, one commit each, so put DATA_DIR on tmpfs for a fast seed.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use jiff::{Timestamp, ToSpan};
use needlewise_core::ids::{AccountId, ProfileId, SessionId};
use needlewise_core::records::{Account, Profile, SessionRecord, ZoneRecord};
use needlewise_core::zone::Zone;
use needlewise_store::{SqliteStore, Store};
use uuid::Uuid;

const PASSWORD: &str = "bench password";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut profiles = 10_000_u32;
    let mut sessions = 50_u32;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--profiles" => profiles = args.next().context("--profiles N")?.parse()?,
            "--sessions" => sessions = args.next().context("--sessions M")?.parse()?,
            other if other.starts_with('-') => bail!("unknown option {other}"),
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let dir = dir.context("usage: seed DATA_DIR [--profiles N] [--sessions M]")?;
    std::fs::create_dir_all(&dir)?;
    let store = SqliteStore::open(&dir.join("needlewise.sqlite3"))?;

    let hash = tokio::runtime::Builder::new_current_thread()
        .build()?
        .block_on(needlewise_web::auth::hash_password(PASSWORD.into()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = Timestamp::now();
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let zones = [
        Zone::Forehead,
        Zone::LeftCheek,
        Zone::RightCheek,
        Zone::Chin,
    ];
    let started = Instant::now();
    for i in 0..profiles {
        let account = Account {
            id: AccountId(Uuid::now_v7()),
            email: format!("bench{i}@example.invalid"),
            password_hash: hash.clone(),
            created_at: now,
        };
        store.create_account(&account)?;
        let profile = Profile {
            id: ProfileId(Uuid::now_v7()),
            account_id: account.id,
            name: "Me".into(),
            created_at: now,
            time_zone: None,
        };
        store.create_profile(&profile)?;
        // One session every four weeks, the last one four weeks ago.
        for k in (1..=sessions).rev() {
            let date = today.checked_sub((28 * i64::from(k)).days())?;
            let start = date.to_zoned_datetime(jiff::tz::TimeZone::UTC)?.timestamp() + 19.hours();
            store.log_session(
                &SessionRecord {
                    id: SessionId(Uuid::now_v7()),
                    profile_id: profile.id,
                    device_id: None,
                    started_at: start,
                    ended_at: start + 20.minutes(),
                    local_date: date,
                    needle_length_mm: 0.5,
                    zones: zones
                        .iter()
                        .map(|&zone| ZoneRecord {
                            zone,
                            seconds: 120,
                            strokes: Some(48),
                            skipped: false,
                        })
                        .collect(),
                    products: Vec::new(),
                    notes: String::new(),
                    setting: needlewise_core::records::SessionSetting::Home,
                    readiness_check_id: None,
                },
                None,
            )?;
        }
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "seeded {} profiles in {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "seeded {profiles} profiles x {sessions} sessions in {:.1} s; log in as bench0@example.invalid / {PASSWORD:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
