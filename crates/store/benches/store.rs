//! How many sessions per second the SQLite store logs with durable commits
//! (WAL, `synchronous=FULL`): each a session with 5 zones and 2 products
//! plus the device's use, in one transaction. The target is 2,000/s.
//!
//! And what the home page's one read costs (`session_dashboard`: the web
//! session, the account's profiles and the dashboard) in a store of 1,000
//! profiles with 50 sessions each. This is the store's share of the
//! dashboard's budget in `scripts/bench-web`; it has no target of its own,
//! and it is steadier than the whole server for comparing two versions.
//!
//!     CARGO_TARGET_DIR=/work/target-store cargo bench -p needlewise-store --bench store
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use needlewise_core::hygiene::{Device, DeviceKind, HygieneState, RollerSpec};
use needlewise_core::ids::{AccountId, DeviceId, ProfileId, SessionId};
use needlewise_core::records::{Account, ProductUse, Profile, SessionRecord, ZoneRecord};
use needlewise_core::zone::Zone;
use needlewise_store::{SqliteStore, Store, WebSession};
use uuid::Uuid;

fn session(profile: ProfileId, device: DeviceId, start: Timestamp) -> SessionRecord {
    let zones = [
        Zone::Forehead,
        Zone::LeftCheek,
        Zone::RightCheek,
        Zone::Chin,
        Zone::Nose,
    ]
    .into_iter()
    .map(|zone| ZoneRecord {
        zone,
        seconds: 90,
        strokes: Some(8),
        skipped: false,
    })
    .collect();
    let product = |name: &str, category: &str| ProductUse {
        name: name.to_owned(),
        category: category.to_owned(),
        applied_at: start + SignedDuration::from_mins(15),
        allowed: true,
    };
    SessionRecord {
        id: SessionId(Uuid::now_v7()),
        profile_id: profile,
        device_id: Some(device),
        started_at: start,
        ended_at: start + SignedDuration::from_mins(12),
        local_date: jiff::civil::date(2025, 6, 15),
        needle_length_mm: 0.25,
        zones,
        products: vec![
            product("Hyaluronic serum", "hyaluronic_acid"),
            product("Barrier balm", "occlusive"),
        ],
        notes: String::new(),
        setting: Default::default(),
        readiness_check_id: None,
    }
}

fn log_sessions(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("bench.db")).unwrap();
    let start = Timestamp::from_second(1_750_000_000).unwrap();
    let profile = Profile {
        id: ProfileId(Uuid::now_v7()),
        account_id: AccountId::LOCAL,
        name: "Bench".into(),
        created_at: start,
        time_zone: None,
    };
    store.create_profile(&profile).unwrap();
    let mut device = Device::new(
        DeviceId(Uuid::now_v7()),
        profile.id,
        "Roller".into(),
        DeviceKind::Roller(RollerSpec::standard_192(0.25)),
        start,
    )
    .unwrap();
    store.add_device(&device).unwrap();

    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "log_session (5 zones, 2 products, device use; durable)",
        |b| {
            b.iter(|| {
                // The device after its use: what `Device::apply(Use)` returns,
                // without walking the cleaning cycle between sessions.
                let at = device.updated_at + SignedDuration::from_secs(1);
                let next = Device {
                    state: HygieneState::Used,
                    use_count: device.use_count + 1,
                    updated_at: at,
                    version: device.version + 1,
                    ..device.clone()
                };
                let s = session(profile.id, device.id, at);
                store.log_session(black_box(&s), Some(&next)).unwrap();
                device = next;
            });
        },
    );
    group.finish();

    let sessions = store.counts().unwrap().sessions;
    eprintln!(
        "logged {sessions} sessions in total; device at version {}",
        device.version
    );
}

fn session_dashboard(c: &mut Criterion) {
    // On tmpfs when there is one: the seed commits once per record.
    let dir = match tempfile::tempdir_in("/dev/shm") {
        Ok(dir) => dir,
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let store = SqliteStore::open(&dir.path().join("bench.db")).unwrap();
    let start = Timestamp::from_second(1_700_000_000).unwrap();
    let mut last = None;
    for i in 0..1_000 {
        let account = Account {
            id: AccountId(Uuid::now_v7()),
            email: format!("bench{i}@example.invalid"),
            // Any PHC string: the bench never checks it.
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
                .into(),
            created_at: start,
        };
        store.create_account(&account).unwrap();
        let profile = Profile {
            id: ProfileId(Uuid::now_v7()),
            account_id: account.id,
            name: "Me".into(),
            created_at: start,
            time_zone: None,
        };
        store.create_profile(&profile).unwrap();
        let device = Device::new(
            DeviceId(Uuid::now_v7()),
            profile.id,
            "Roller".into(),
            DeviceKind::Roller(RollerSpec::standard_192(0.5)),
            start,
        )
        .unwrap();
        store.add_device(&device).unwrap();
        for k in 0..50 {
            let at = start + SignedDuration::from_hours(24 * 28 * k);
            let s = SessionRecord {
                device_id: None,
                ..session(profile.id, device.id, at)
            };
            store.log_session(&s, None).unwrap();
        }
        last = Some((account, profile));
    }
    let (account, profile) = last.unwrap();
    let web = WebSession {
        token_hash: "a".repeat(64),
        account_id: account.id,
        csrf_token: "b".repeat(43),
        profile_id: Some(profile.id),
        created_at: start,
        expires_at: start + SignedDuration::from_hours(24 * 365 * 10),
        verified_at: None,
    };
    store.create_web_session(&web).unwrap();
    let now = start + SignedDuration::from_hours(24 * 28 * 50);

    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(1));
    group.bench_function("session_dashboard (1,000 profiles x 50 sessions)", |b| {
        b.iter(|| {
            let found = store
                .session_dashboard(black_box(&web.token_hash), now)
                .unwrap()
                .unwrap();
            assert_eq!(found.dashboard.devices.len(), 1);
            found
        });
    });
    group.finish();
}

criterion_group!(benches, log_sessions, session_dashboard);
criterion_main!(benches);
