//! The report crate's one integration-test binary: a realistic profile in a
//! real SQLite store, gathered, rendered, and read back with poppler's
//! `pdftotext`, `pdfinfo` and `pdfimages` (Debian package poppler-utils).
//! Those tools are required: a test fails, never skips, without them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::hygiene::{Device, DeviceKind, PenSpec, RollerSpec};
use needlewise_core::ids::{
    AccountId, CheckinId, DeviceId, EpisodeId, PhotoId, ProfileId, RatingId, ScreeningId, SessionId,
};
use needlewise_core::progress::{Concern, Photo, Rating, Score};
use needlewise_core::records::{
    CheckinRecord, Episode, ProductUse, Profile, ScreeningRecord, SessionRecord, ZoneRecord,
};
use needlewise_core::screening::screen;
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_report::{ReportInput, gather, render_pdf};
use needlewise_store::{SqliteStore, Store};
use uuid::Uuid;

fn id() -> Uuid {
    Uuid::new_v4()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Runs a poppler tool, failing loudly when it is not installed.
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "`{tool}` could not be run ({e}). The report tests need poppler-utils: \
             apt-get install poppler-utils"
        )
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small real JPEG, a gradient of the given size.
fn jpeg(w: u32, h: u32, tint: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            u8::try_from(x * 255 / w).unwrap(),
            u8::try_from(y * 255 / h).unwrap(),
            tint,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img)
        .unwrap();
    out
}

struct Fixture {
    store: SqliteStore,
    profile: Profile,
    photo_root: PathBuf,
    _dir: tempfile::TempDir,
}

const NOW: &str = "2026-11-25T16:00:00Z";

/// A profile with a screening that has reasons, two devices, 200 sessions,
/// check-ins with a red flag, ratings and two photos.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
    let today = Date::constant(2026, 11, 25);
    let profile = Profile {
        id: ProfileId(id()),
        account_id: AccountId::LOCAL,
        name: "Zo\u{eb} Example".into(),
        created_at: ts("2025-01-01T08:00:00Z"),
        time_zone: None,
    };
    store.create_profile(&profile).unwrap();
    let p = profile.id;

    // The documented example answers: cold sores with an antiviral plan and
    // a recent botox in the forehead give reasons.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/answers.example.json"),
    )
    .unwrap();
    let base = evidence();
    let answers = Answers::from_json(
        &base.screening,
        &serde_json::from_str(&text).unwrap(),
        today,
    )
    .unwrap();
    let result = screen(base, &answers, today).unwrap();
    assert!(!result.reasons.is_empty(), "the example answers fire rules");
    store
        .save_screening(&ScreeningRecord {
            id: ScreeningId(id()),
            profile_id: p,
            taken_at: ts("2025-01-02T09:00:00Z"),
            answers,
            verdict: result.verdict,
            result: result.clone(),
        })
        .unwrap();

    let created = ts("2025-01-01T08:00:00Z");
    let roller = Device::new(
        DeviceId(id()),
        p,
        "Blue titanium roller".into(),
        DeviceKind::Roller(RollerSpec::standard_192(0.25)),
        created,
    )
    .unwrap();
    let pen = Device::new(
        DeviceId(id()),
        p,
        "Derma pen A1".into(),
        DeviceKind::Pen(PenSpec {
            needles_per_cartridge: 12,
            needle_length_mm: 0.5,
        }),
        created,
    )
    .unwrap();
    store.add_device(&roller).unwrap();
    store.add_device(&pen).unwrap();

    let first_day = Date::constant(2025, 1, 6);
    let zones = [
        Zone::Forehead,
        Zone::LeftCheek,
        Zone::RightCheek,
        Zone::Chin,
    ];
    for i in 0..200i64 {
        let day = first_day
            .checked_add(jiff::Span::new().days(i * 3))
            .unwrap();
        let start = day
            .at(19, 0, 0, 0)
            .to_zoned_datetime(TimeZone::UTC)
            .unwrap()
            .timestamp();
        let mut session_zones: Vec<ZoneRecord> = zones
            .iter()
            .map(|z| ZoneRecord {
                zone: *z,
                seconds: 60,
                strokes: Some(24),
                skipped: false,
            })
            .collect();
        let mut products = vec![ProductUse {
            name: "Hyaluronic serum".into(),
            category: "hyaluronic_acid".into(),
            applied_at: start.checked_add(SignedDuration::from_mins(20)).unwrap(),
            allowed: true,
        }];
        if i == 37 {
            session_zones = vec![ZoneRecord {
                zone: Zone::Chin,
                seconds: 90,
                strokes: None,
                skipped: false,
            }];
            products = vec![ProductUse {
                name: "Peptide serum".into(),
                category: "peptide".into(),
                applied_at: start.checked_add(SignedDuration::from_mins(20)).unwrap(),
                allowed: true,
            }];
        }
        store
            .log_session(
                &SessionRecord {
                    id: SessionId(id()),
                    profile_id: p,
                    device_id: Some(roller.id),
                    started_at: start,
                    ended_at: start.checked_add(SignedDuration::from_mins(15)).unwrap(),
                    local_date: day,
                    needle_length_mm: 0.25,
                    zones: session_zones,
                    products,
                    notes: String::new(),
                    setting: needlewise_core::records::SessionSetting::Home,
                    readiness_check_id: None,
                },
                None,
            )
            .unwrap();
    }

    // Check-ins: an expected one, then a red flag that is still open.
    store
        .save_checkin(
            &CheckinRecord {
                id: CheckinId(id()),
                profile_id: p,
                session_id: None,
                at: ts("2026-10-01T09:00:00Z"),
                answers: Answers::new(),
                level: TriageLevel::Expected,
                rule_ids: vec![],
            },
            None,
        )
        .unwrap();
    let flagged = CheckinId(id());
    store
        .save_checkin(
            &CheckinRecord {
                id: flagged,
                profile_id: p,
                session_id: None,
                at: ts("2026-11-20T09:00:00Z"),
                answers: Answers::new(),
                level: TriageLevel::ContactSurgeon,
                rule_ids: vec!["C-03".into()],
            },
            Some(&Episode {
                id: EpisodeId(id()),
                profile_id: p,
                checkin_id: flagged,
                level: TriageLevel::ContactSurgeon,
                opened_at: ts("2026-11-20T09:00:00Z"),
                resolved_at: None,
                resolution: String::new(),
                resolver: None,
            }),
        )
        .unwrap();

    for (k, (zone, concern)) in [
        (Zone::Forehead, Concern::LinesAndWrinkles),
        (Zone::LeftCheek, Concern::AcneScars),
        (Zone::RightCheek, Concern::AcneScars),
    ]
    .into_iter()
    .enumerate()
    {
        for (j, score) in [4u8, 3, 3, 2].into_iter().enumerate() {
            let month = i8::try_from(2 + 3 * j).unwrap();
            store
                .add_rating(&Rating {
                    profile_id: p,
                    id: RatingId(id()),
                    zone,
                    concern,
                    score: Score::new(score.saturating_sub(u8::from(k == 2))).unwrap(),
                    rated_at: Date::constant(2025, month, 1)
                        .at(10, 0, 0, 0)
                        .to_zoned_datetime(TimeZone::UTC)
                        .unwrap()
                        .timestamp(),
                    note: String::new(),
                })
                .unwrap();
        }
    }

    let photo_root = dir.path().join("photos");
    std::fs::create_dir_all(photo_root.join(p.to_string())).unwrap();
    for (k, (when, tint)) in [
        ("2025-01-05T10:00:00Z", 40u8),
        ("2026-11-01T10:00:00Z", 200),
    ]
    .into_iter()
    .enumerate()
    {
        let bytes = jpeg(96 + 32 * u32::try_from(k).unwrap(), 72, tint);
        let photo_id = PhotoId(id());
        std::fs::write(
            photo_root
                .join(p.to_string())
                .join(format!("{photo_id}.jpg")),
            &bytes,
        )
        .unwrap();
        store
            .add_photo(&Photo {
                profile_id: p,
                id: photo_id,
                taken_at: ts(when),
                zone: Some(Zone::LeftCheek),
                width: 96,
                height: 72,
                bytes: u64::try_from(bytes.len()).unwrap(),
                sha256: "0".repeat(64),
                content_type: "image/jpeg".into(),
                stored_name: format!("{p}/{photo_id}.jpg"),
            })
            .unwrap();
    }

    Fixture {
        store,
        profile,
        photo_root,
        _dir: dir,
    }
}

fn gathered(f: &Fixture) -> ReportInput {
    gather(
        &f.store,
        &f.profile,
        Some(&f.photo_root),
        ts(NOW),
        Date::constant(2026, 11, 25),
        &TimeZone::UTC,
    )
    .unwrap()
}

/// Writes the PDF and returns its `pdftotext -layout` text and page count.
fn read_back(dir: &Path, pdf: &[u8]) -> (String, u32, PathBuf) {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let path = dir.join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let p = path.to_str().unwrap();
    let text = poppler("pdftotext", &["-layout", p, "-"]);
    let info = poppler("pdfinfo", &[p]);
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse::<u32>().unwrap())
        .expect("pdfinfo prints the page count");
    (text, pages, path)
}

#[test]
fn a_full_record_reads_back_with_every_key_fact() {
    let f = fixture();
    let input = gathered(&f);
    assert_eq!(input.sessions.len(), 200);
    assert_eq!(input.devices.len(), 2);
    assert_eq!(input.photos.len(), 2);
    let pdf = render_pdf(&input);
    let out = tempfile::tempdir().unwrap();
    let (text, pages, path) = read_back(out.path(), &pdf);
    if let Some(keep) = std::env::var_os("NEEDLEWISE_KEEP_REPORT") {
        std::fs::write(keep, &pdf).unwrap();
    }

    // Header.
    assert!(text.contains("Zo\u{eb} Example"), "{text}");
    assert!(text.contains("2026-11-25"));
    assert!(text.contains("Decision support, not a diagnosis"));
    assert!(text.contains("Prepared for your facial plastic surgeon"));
    // Screening verdict and a reason's rule id, grade and source.
    let s = input.screening.as_ref().unwrap();
    assert!(
        text.contains(&format!("Verdict: {}", s.verdict.id())),
        "{text}"
    );
    let reason = &s.reasons[0];
    assert!(text.contains(&format!("[{}]", reason.rule_id)), "{text}");
    assert!(text.contains(&format!("Evidence grade {}", reason.grade)));
    assert!(text.contains("Source: "));
    // Devices.
    assert!(text.contains("Blue titanium roller"));
    assert!(text.contains("Derma pen A1"));
    assert!(text.contains("roller (192 needles)"));
    assert!(text.contains("0.50 mm"));
    // A session row: date, zone and product on one line.
    let day = Date::constant(2025, 1, 6)
        .checked_add(jiff::Span::new().days(37 * 3))
        .unwrap()
        .to_string();
    let row = text
        .lines()
        .find(|l| l.contains(&day))
        .unwrap_or_else(|| panic!("no session row for {day}:\n{text}"));
    assert!(
        row.contains(Zone::Chin.label()) && row.contains("Peptide serum"),
        "{row}"
    );
    // Every session is in the table (the first and the last day).
    assert!(text.contains("2025-01-06"));
    let last = Date::constant(2025, 1, 6)
        .checked_add(jiff::Span::new().days(199 * 3))
        .unwrap()
        .to_string();
    assert!(text.contains(&last), "{last}");
    // The red flag, open.
    assert!(
        text.contains("RED FLAG raised (contact_surgeon), OPEN"),
        "{text}"
    );
    assert!(text.contains("C-03"));
    assert!(text.contains("1 red flag raised, 1 still open"));
    // Charts' legends.
    assert!(text.contains("Lines and wrinkles"));
    assert!(text.contains("Acne scars"));
    // Several pages, numbered.
    assert!(pages > 1, "{pages} page(s)");
    assert!(text.contains(&format!("Page {pages} of {pages}")));
    // The photos, embedded as JPEG.
    let list = poppler("pdfimages", &["-list", path.to_str().unwrap()]);
    let images: Vec<&str> = list
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(images.len() >= 2, "{list}");
    assert!(images.iter().all(|l| l.contains("jpeg")), "{list}");
    assert!(text.contains("First: 2025-01-05"));
    assert!(text.contains("Latest: 2026-11-01"));
}

#[test]
fn rendering_is_pure_and_deterministic() {
    let f = fixture();
    let input = gathered(&f);
    assert_eq!(render_pdf(&input), render_pdf(&input));
}

#[test]
fn an_empty_profile_still_gets_a_one_page_report() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
    let profile = Profile {
        id: ProfileId(id()),
        account_id: AccountId::LOCAL,
        name: "New \u{4e2d} person".into(),
        created_at: ts(NOW),
        time_zone: None,
    };
    store.create_profile(&profile).unwrap();
    let input = gather(
        &store,
        &profile,
        None,
        ts(NOW),
        Date::constant(2026, 11, 25),
        &TimeZone::UTC,
    )
    .unwrap();
    let (text, pages, _) = read_back(dir.path(), &render_pdf(&input));
    assert_eq!(pages, 1, "{text}");
    // An unmappable character becomes "?", the rest stays.
    assert!(text.contains("New ? person"), "{text}");
    assert!(text.contains("No screening has been taken yet."));
    assert!(text.contains("No sessions recorded."));
    assert!(text.contains("No progress photos."));
}

#[test]
fn a_missing_or_broken_photo_file_is_left_out_with_a_note() {
    let f = fixture();
    let dir = f.photo_root.join(f.profile.id.to_string());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    std::fs::write(&files[0], b"not a jpeg").unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    let input = gathered(&f);
    assert!(input.photos.is_empty());
    assert_eq!(input.notes.len(), 2, "{:?}", input.notes);
    let out = tempfile::tempdir().unwrap();
    let (text, _, _) = read_back(out.path(), &render_pdf(&input));
    assert!(text.contains("is left out"), "{text}");
}

#[test]
fn long_text_wraps_inside_the_page() {
    let f = fixture();
    let mut input = gathered(&f);
    input.sessions.truncate(3);
    input.sessions[0].products =
        vec!["A very long product name that goes on and on about its many ingredients".into(); 4];
    let out = tempfile::tempdir().unwrap();
    let (text, _, _) = read_back(out.path(), &render_pdf(&input));
    // pdftotext -layout keeps text at its place: no line runs far past the
    // page's text width (about 100 columns at this size).
    for line in text.lines() {
        assert!(line.chars().count() < 200, "{line}");
    }
    assert!(text.contains("A very long product name"));
}
