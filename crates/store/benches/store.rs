//! How many sessions per second the SQLite store logs with durable commits
//! (WAL, `synchronous=FULL`): each a session with 5 zones and 2 products
//! plus the device's use, in one transaction. The target is 2,000/s.
//!
//!     CARGO_TARGET_DIR=/work/target-store cargo bench -p needlewise-store --bench store
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use needlewise_core::hygiene::{Device, DeviceKind, HygieneState, RollerSpec};
use needlewise_core::ids::{AccountId, DeviceId, ProfileId, SessionId};
use needlewise_core::records::{ProductUse, Profile, SessionRecord, ZoneRecord};
use needlewise_core::zone::Zone;
use needlewise_store::{SqliteStore, Store};
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

criterion_group!(benches, log_sessions);
criterion_main!(benches);
