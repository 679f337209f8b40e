//! Benchmark: the referral report of 200 sessions with 50 photos. Target:
//! under 2 s.
//!
//! - `render_pdf/200_sessions_50_photos`: the pure rendering, every one of
//!   50 photos (1200 x 900 JPEGs) embedded: the worst case.
//! - `gather_and_render/...`: what `export pdf` and `GET /report.pdf` do: read
//!   a SQLite store holding 200 sessions and 50 photo files, then render
//!   (the report shows the first and the latest photos).
//! - `fhir/bundle/...`: the same record as a FHIR R4 Bundle, read from the
//!   same store and serialised, as `export fhir` and
//!   `GET /api/fhir/Bundle/record` do. Target: under 200 ms.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::ids::{ProfileId, RatingId};
use needlewise_core::progress::{Concern, Rating, Score, trends};
use needlewise_core::screening::Verdict;
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_report::{
    DeviceLine, PhotoRole, ReasonLine, ReportInput, ReportPhoto, ScreeningSummary, SessionLine,
    TimelineEntry, TimelineKind, render_pdf,
};
use uuid::Uuid;

fn photo(tint: u8) -> Vec<u8> {
    let (w, h) = (1200u32, 900u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            u8::try_from(x * 255 / w).unwrap(),
            u8::try_from(y * 255 / h).unwrap(),
            tint.wrapping_add(u8::try_from((x ^ y) & 31).unwrap()),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

fn input() -> ReportInput {
    let t0: Timestamp = "2025-01-06T19:00:00Z".parse().unwrap();
    let day0 = Date::constant(2025, 1, 6);
    let at = |days: i64| {
        t0.checked_add(SignedDuration::from_hours(24 * days))
            .unwrap()
    };
    let profile = ProfileId(Uuid::nil());
    let sessions = (0..200)
        .map(|i| SessionLine {
            date: day0.checked_add(jiff::Span::new().days(i * 3)).unwrap(),
            zones: vec![
                "forehead".into(),
                "left cheek".into(),
                "right cheek".into(),
                "chin".into(),
            ],
            needle_length_mm: 0.25,
            products: vec!["Hyaluronic serum (hyaluronic acid)".into()],
            device: Some("Blue titanium roller".into()),
        })
        .collect();
    let mut ratings = Vec::new();
    for (k, zone) in Zone::ALL.into_iter().enumerate() {
        for concern in Concern::ALL {
            for j in 0..8 {
                ratings.push(Rating {
                    profile_id: profile,
                    id: RatingId(Uuid::nil()),
                    zone,
                    concern,
                    score: Score::new(u8::try_from((k + j) % 5).unwrap()).unwrap(),
                    rated_at: at(i64::try_from(j).unwrap() * 60),
                    note: String::new(),
                });
            }
        }
    }
    let photos = (0..50)
        .map(|i| ReportPhoto {
            role: if i == 0 {
                PhotoRole::First
            } else {
                PhotoRole::Latest
            },
            taken_at: at(i * 10),
            zone: Some(Zone::LeftCheek),
            jpeg: photo(u8::try_from(i * 5).unwrap()),
        })
        .collect();
    ReportInput {
        profile_name: "Bench Person".into(),
        generated_at: at(600),
        generated_on: Date::constant(2026, 8, 29),
        tz: TimeZone::UTC,
        screening: Some(ScreeningSummary {
            taken_at: t0,
            verdict: Verdict::GoWithPrecautions,
            headline: Verdict::GoWithPrecautions.headline().into(),
            eligible_from: None,
            needle_length_mm: Some(0.25),
            zones: vec![Zone::Forehead, Zone::Chin],
            excluded_zones: vec!["forehead (rule screen.recent_botox)".into()],
            reasons: (0..6)
                .map(|i| ReasonLine {
                    rule_id: format!("screen.rule_{i}"),
                    title: "A rule that fired".into(),
                    outcome: "precaution".into(),
                    explanation: "An explanation of a few sentences, as the evidence base has them, wrapped to the page width. ".repeat(3),
                    grade: "S".into(),
                    grade_meaning: "seen in a secondary source".into(),
                    sources: vec!["Author A, Author B. A title. Journal 2020;1(2):3-4.".into()],
                })
                .collect(),
        }),
        devices: vec![
            DeviceLine {
                name: "Blue titanium roller".into(),
                kind: "roller (192 needles)".into(),
                needle_length_mm: 0.25,
                uses: 12,
                state: "ready".into(),
                damaged: false,
            },
            DeviceLine {
                name: "Derma pen A1".into(),
                kind: "pen (12-needle cartridges)".into(),
                needle_length_mm: 0.5,
                uses: 3,
                state: "used".into(),
                damaged: false,
            },
        ],
        sessions,
        timeline: (0..40)
            .map(|i| TimelineEntry {
                at: at(i * 15),
                kind: if i == 39 {
                    TimelineKind::RedFlagOpened { open: true }
                } else {
                    TimelineKind::Checkin
                },
                level: if i == 39 {
                    TriageLevel::ContactSurgeon
                } else {
                    TriageLevel::Expected
                },
                detail: String::new(),
            })
            .collect(),
        trends: trends(&ratings),
        photos,
        notes: Vec::new(),
    }
}

fn bench_render(c: &mut Criterion) {
    let input = input();
    let mut group = c.benchmark_group("report");
    group.sample_size(20);
    group.bench_function("render_pdf/200_sessions_50_photos", |b| {
        b.iter(|| render_pdf(black_box(&input)))
    });
    group.finish();
}

fn bench_gather_and_render(c: &mut Criterion) {
    use needlewise_core::ids::{AccountId, PhotoId, SessionId};
    use needlewise_core::progress::Photo;
    use needlewise_core::records::{ProductUse, Profile, SessionRecord, ZoneRecord};
    use needlewise_store::{SqliteStore, Store};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
    let t0: Timestamp = "2025-01-06T19:00:00Z".parse().unwrap();
    let profile = Profile {
        id: ProfileId(Uuid::new_v4()),
        account_id: AccountId::LOCAL,
        name: "Bench Person".into(),
        created_at: t0,
        time_zone: None,
    };
    store.create_profile(&profile).unwrap();
    let p = profile.id;
    for i in 0..200i64 {
        let start = t0.checked_add(SignedDuration::from_hours(72 * i)).unwrap();
        store
            .log_session(
                &SessionRecord {
                    id: SessionId(Uuid::new_v4()),
                    profile_id: p,
                    device_id: None,
                    started_at: start,
                    ended_at: start.checked_add(SignedDuration::from_mins(15)).unwrap(),
                    local_date: start.to_zoned_datetime(TimeZone::UTC).date(),
                    needle_length_mm: 0.25,
                    zones: [
                        Zone::Forehead,
                        Zone::LeftCheek,
                        Zone::RightCheek,
                        Zone::Chin,
                    ]
                    .into_iter()
                    .map(|zone| ZoneRecord {
                        zone,
                        seconds: 60,
                        strokes: Some(24),
                        skipped: false,
                    })
                    .collect(),
                    products: vec![ProductUse {
                        name: "Hyaluronic serum".into(),
                        category: "hyaluronic_acid".into(),
                        applied_at: start,
                        allowed: true,
                    }],
                    notes: String::new(),
                    setting: needlewise_core::records::SessionSetting::Home,
                    readiness_check_id: None,
                },
                None,
            )
            .unwrap();
    }
    let photo_root = dir.path().join("photos");
    let folder = photo_root.join(p.to_string());
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..50i64 {
        let bytes = photo(u8::try_from(i * 5).unwrap());
        let id = PhotoId(Uuid::new_v4());
        std::fs::write(folder.join(format!("{id}.jpg")), &bytes).unwrap();
        store
            .add_photo(&Photo {
                profile_id: p,
                id,
                taken_at: t0.checked_add(SignedDuration::from_hours(240 * i)).unwrap(),
                zone: Some(Zone::LeftCheek),
                width: 1200,
                height: 900,
                bytes: u64::try_from(bytes.len()).unwrap(),
                sha256: "0".repeat(64),
                content_type: "image/jpeg".into(),
                stored_name: format!("{p}/{id}.jpg"),
            })
            .unwrap();
    }
    let now = t0
        .checked_add(SignedDuration::from_hours(24 * 700))
        .unwrap();
    let today = now.to_zoned_datetime(TimeZone::UTC).date();
    let mut group = c.benchmark_group("report");
    group.sample_size(20);
    group.bench_function("gather_and_render/sqlite_200_sessions_50_photos", |b| {
        b.iter(|| {
            let input = needlewise_report::gather(
                &store,
                &profile,
                Some(&photo_root),
                now,
                today,
                &TimeZone::UTC,
            )
            .unwrap();
            render_pdf(black_box(&input))
        })
    });
    group.finish();

    // The other export a surgeon gets from the same record: the FHIR R4
    // Bundle, read from the store and serialised. Target: under 200 ms.
    let mut group = c.benchmark_group("fhir");
    group.sample_size(20);
    group.bench_function("bundle/sqlite_200_sessions_50_photos", |b| {
        b.iter(|| {
            let bundle = needlewise_store::export::fhir_bundle(&store, &profile, now).unwrap();
            serde_json::to_vec(black_box(&bundle)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_render, bench_gather_and_render);
criterion_main!(benches);
