//! The readiness gate's facts as `ReadinessFacts::at` gathers them from
//! what the store knows, and the gate's decision on them.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use needlewise_core::answers::Answers;
use needlewise_core::clinic::Protocol;
use needlewise_core::hygiene::{Device, DeviceKind, HygieneState, PenSpec, RollerSpec};
use needlewise_core::ids::{AccountId, ClinicId, DeviceId, ProfileId, ProtocolId};
use needlewise_core::readiness::{self, Known, Readiness, ReadinessFacts};
use needlewise_core::records::SessionRecord;
use needlewise_core::screening::{ScreeningResult, Verdict, screen};
use needlewise_core::{Zone, evidence};
use uuid::Uuid;

use crate::support::{ZONES, profile, session_from, t, zone};

/// The screening cases' healthy adult, screened for `mm`.
fn screening(mm: f64) -> ScreeningResult {
    #[derive(serde::Deserialize)]
    struct File {
        base: serde_json::Map<String, serde_json::Value>,
    }
    let file: File = toml::from_str(include_str!("cases/screening.toml")).unwrap();
    let mut answers = serde_json::Value::Object(file.base);
    answers["needle_length_mm"] = mm.into();
    let today = Date::constant(2026, 8, 1);
    let answers = Answers::from_json(&evidence().screening, &answers, today).unwrap();
    let result = screen(evidence(), &answers, today).unwrap();
    assert!(
        matches!(result.verdict, Verdict::Go | Verdict::GoWithPrecautions),
        "{:?}",
        result.verdict
    );
    assert_eq!(result.needle_length_mm, mm);
    result
}

fn ready(kind: DeviceKind) -> Device {
    let mut d = Device::new(
        DeviceId(Uuid::from_u128(7)),
        profile(),
        "Roller".into(),
        kind,
        t("2026-08-01T10:00:00Z"),
    )
    .unwrap();
    d.state = HygieneState::Ready;
    d
}

fn roller(mm: f64) -> Device {
    ready(DeviceKind::Roller(RollerSpec::standard_192(mm)))
}

/// The readiness cases' all-clear answers.
fn all_clear(today: Date) -> Answers {
    #[derive(serde::Deserialize)]
    struct File {
        base: serde_json::Map<String, serde_json::Value>,
    }
    let file: File = toml::from_str(include_str!("cases/readiness.toml")).unwrap();
    Answers::from_json(
        &evidence().readiness,
        &serde_json::Value::Object(file.base),
        today,
    )
    .unwrap()
}

fn check(facts: &ReadinessFacts, now: &ZonedDateTime) -> Readiness {
    readiness::check(evidence(), &all_clear(now.date()), facts, now.date()).unwrap()
}

fn rule_ids(r: &Readiness) -> Vec<&str> {
    r.reasons.iter().map(|r| r.rule_id.as_str()).collect()
}

fn known<'a>(
    screening: &'a ScreeningResult,
    device: &'a Device,
    sessions: &'a [SessionRecord],
) -> Known<'a> {
    Known {
        screening: Some(screening),
        device: Some(device),
        sessions,
        locked: false,
        protocol: None,
    }
}

fn berlin(s: &str) -> ZonedDateTime {
    t(s).to_zoned_datetime(zone("Europe/Berlin"))
}

/// Issue 14's reproduction: screened for 0.25 mm, a 1.0 mm roller got a
/// plain go.
#[test]
fn a_needle_longer_than_the_screened_one_is_a_cited_no_go() {
    let screened = screening(0.25);
    let now = berlin("2026-09-03T08:00:00Z");
    for device in [
        roller(1.0),
        ready(DeviceKind::Pen(PenSpec {
            needles_per_cartridge: 12,
            needle_length_mm: 0.5,
        })),
    ] {
        let facts = ReadinessFacts::at(evidence(), &known(&screened, &device, &[]), &now);
        assert!(facts.device_needle_over_screening, "{:?}", device.kind);
        assert!(facts.device_ready);
        let r = check(&facts, &now);
        assert!(!r.go, "{r:?}");
        let mut expected = vec!["ready.device.needle_not_screened"];
        if device.kind.is_pen() {
            expected.push("ready.device.pen");
        }
        assert_eq!(rule_ids(&r), expected);
        assert!(!r.reasons[0].sources.is_empty());
        assert!(r.reasons[0].explanation.contains("Screen again"));
    }
}

#[test]
fn the_screened_needle_or_a_shorter_one_is_quiet() {
    let screened = screening(0.25);
    let now = berlin("2026-09-03T08:00:00Z");
    for mm in [0.25, 0.2] {
        let device = roller(mm);
        let facts = ReadinessFacts::at(evidence(), &known(&screened, &device, &[]), &now);
        assert!(!facts.device_needle_over_screening, "{mm} mm");
        let r = check(&facts, &now);
        assert!(r.go, "{mm} mm: {r:?}");
        assert!(rule_ids(&r).is_empty(), "{mm} mm: {:?}", rule_ids(&r));
        assert_eq!(
            r.zones,
            [Zone::Forehead, Zone::LeftCheek, Zone::RightCheek],
            "the screening's zones"
        );
    }
}

#[test]
fn no_screening_or_no_device_is_a_no_go_without_a_needle_comparison() {
    let now = berlin("2026-09-03T08:00:00Z");
    let device = roller(1.0);
    let facts = ReadinessFacts::at(
        evidence(),
        &Known {
            screening: None,
            device: Some(&device),
            sessions: &[],
            locked: false,
            protocol: None,
        },
        &now,
    );
    assert!(!facts.device_needle_over_screening);
    assert_eq!(facts.screening_verdict, None);
    assert_eq!(rule_ids(&check(&facts, &now)), ["ready.screening.missing"]);
    let screened = screening(0.25);
    let facts = ReadinessFacts::at(
        evidence(),
        &Known {
            screening: Some(&screened),
            device: None,
            sessions: &[],
            locked: false,
            protocol: None,
        },
        &now,
    );
    assert!(!facts.device_ready);
    assert_eq!(rule_ids(&check(&facts, &now)), ["ready.device.not_ready"]);
}

/// Issue 14's reproduction: a session ending at 23:28Z on 09-01, and the
/// gate asked with the profile in Berlin at 22:30Z on 09-03 said go.
#[test]
fn the_gate_waits_72_hours_from_the_end_of_the_session_in_every_zone() {
    let screened = screening(0.25);
    let device = roller(0.25);
    // Started 20 minutes before it ended.
    let sessions = [session_from(t("2026-09-01T23:08:00Z"), 0.25)];
    assert_eq!(sessions[0].ended_at, t("2026-09-01T23:28:00Z"));
    for name in ZONES {
        let at = |s: &str| t(s).to_zoned_datetime(zone(name));
        let early = at("2026-09-03T22:30:00Z");
        let facts = ReadinessFacts::at(evidence(), &known(&screened, &device, &sessions), &early);
        assert!(facts.interval_waiting, "{name}");
        assert_eq!(
            facts.earliest_next_session,
            Some(
                t("2026-09-04T23:28:00Z")
                    .to_zoned_datetime(zone(name))
                    .date()
            ),
            "{name}"
        );
        let r = check(&facts, &early);
        assert!(!r.go, "{name}: {r:?}");
        assert_eq!(rule_ids(&r), ["ready.interval"], "{name}");
        assert_eq!(r.reasons[0].until, facts.earliest_next_session, "{name}");

        let just_before = at("2026-09-04T23:27:59Z");
        let facts = ReadinessFacts::at(
            evidence(),
            &known(&screened, &device, &sessions),
            &just_before,
        );
        assert!(!check(&facts, &just_before).go, "{name}: a second early");

        let exact = at("2026-09-04T23:28:00Z");
        let facts = ReadinessFacts::at(evidence(), &known(&screened, &device, &sessions), &exact);
        assert!(!facts.interval_waiting, "{name}");
        let r = check(&facts, &exact);
        assert!(r.go, "{name}: {r:?}");
    }
}

#[test]
fn the_newest_session_counts_whatever_the_order() {
    let screened = screening(0.25);
    let device = roller(0.25);
    let older = session_from(t("2026-08-20T10:00:00Z"), 0.25);
    let newer = session_from(t("2026-09-01T23:08:00Z"), 0.25);
    let now = berlin("2026-09-03T22:30:00Z");
    for sessions in [[older.clone(), newer.clone()], [newer, older]] {
        let facts = ReadinessFacts::at(evidence(), &known(&screened, &device, &sessions), &now);
        assert!(facts.interval_waiting);
    }
}

#[test]
fn a_clinic_length_last_session_and_a_red_flag_give_their_own_reasons() {
    let screened = screening(0.25);
    let device = roller(0.25);
    let now = berlin("2026-11-01T10:00:00Z");
    let clinic = [session_from(t("2026-09-01T10:00:00Z"), 1.0)];
    let facts = ReadinessFacts::at(evidence(), &known(&screened, &device, &clinic), &now);
    assert!(facts.last_needle_beyond_home);
    assert!(facts.interval_waiting, "no date is no permission");
    assert_eq!(facts.earliest_next_session, None);
    assert_eq!(
        rule_ids(&check(&facts, &now)),
        ["ready.after_clinic_needle"]
    );

    let home = [session_from(t("2026-09-01T10:00:00Z"), 0.25)];
    let locked = Known {
        locked: true,
        ..known(&screened, &device, &home)
    };
    let facts = ReadinessFacts::at(evidence(), &locked, &now);
    assert!(facts.symptom_lock);
    assert!(!facts.last_needle_beyond_home);
    assert_eq!(rule_ids(&check(&facts, &now)), ["ready.symptom_lock"]);
}

fn protocol(interval_days: u32, prescribed_at: Timestamp) -> Protocol {
    Protocol {
        id: ProtocolId(Uuid::nil()),
        clinic_id: ClinicId(Uuid::nil()),
        profile_id: ProfileId(Uuid::nil()),
        needle_length_mm: 0.5,
        zones: [Zone::Forehead, Zone::LeftCheek].into_iter().collect(),
        interval_days,
        course_sessions: 4,
        target_density_per_cm2: 250.0,
        note: String::new(),
        prescribed_by: AccountId(Uuid::nil()),
        prescriber_name: "Dr Example".into(),
        prescribed_at,
    }
}

#[test]
fn a_protocols_spacing_is_elapsed_time_from_the_end_of_the_last_session() {
    let screened = screening(0.5);
    let device = roller(0.5);
    let p = protocol(42, t("2026-08-01T00:00:00Z"));
    let sessions = [session_from(t("2026-09-01T23:08:00Z"), 0.5)];
    let ended = sessions[0].ended_at;
    let with_protocol = Known {
        protocol: Some(&p),
        ..known(&screened, &device, &sessions)
    };
    let at = |s: Timestamp| s.to_zoned_datetime(zone("America/Los_Angeles"));
    // After the 4 weeks of healing, before the protocol's 6 weeks.
    let healed = at(ended + SignedDuration::from_hours(42 * 24 - 1));
    let facts = ReadinessFacts::at(evidence(), &with_protocol, &healed);
    assert!(!facts.interval_waiting);
    let pf = facts.protocol.clone().unwrap();
    assert!(pf.waiting);
    assert_eq!(
        pf.earliest_next_session,
        Some(at(ended + SignedDuration::from_hours(42 * 24)).date())
    );
    assert_eq!(pf.earliest_next_session, Some(Date::constant(2026, 10, 13)));
    assert_eq!(facts.planned_zones.len(), 2, "the protocol's zones");
    assert_eq!(
        rule_ids(&check(&facts, &healed)),
        ["ready.protocol_interval"]
    );
    let exact = at(ended + SignedDuration::from_hours(42 * 24));
    let facts = ReadinessFacts::at(evidence(), &with_protocol, &exact);
    assert!(!facts.protocol.as_ref().unwrap().waiting);
    let r = check(&facts, &exact);
    assert!(r.go, "{r:?}");
}

#[test]
fn a_protocols_course_counts_only_sessions_since_it_and_until_now() {
    let screened = screening(0.5);
    let device = roller(0.5);
    let p = protocol(28, t("2026-01-01T00:00:00Z"));
    // One before the protocol, four after it, the last one still to come.
    let sessions: Vec<SessionRecord> = [
        "2025-12-01",
        "2026-01-10",
        "2026-02-10",
        "2026-03-10",
        "2026-04-10",
    ]
    .iter()
    .map(|d| session_from(t(&format!("{d}T10:00:00Z")), 0.5))
    .collect();
    let with_protocol = |now: &ZonedDateTime| {
        ReadinessFacts::at(
            evidence(),
            &Known {
                protocol: Some(&p),
                ..known(&screened, &device, &sessions)
            },
            now,
        )
    };
    let before_last = with_protocol(&berlin("2026-04-01T10:00:00Z"));
    assert!(!before_last.protocol.unwrap().course_complete, "3 of 4");
    let after_last = with_protocol(&berlin("2026-05-20T10:00:00Z"));
    let pf = after_last.protocol.as_ref().unwrap();
    assert!(pf.course_complete, "4 of 4");
    assert!(!pf.needle_mismatch);
    assert_eq!(
        rule_ids(&check(&after_last, &berlin("2026-05-20T10:00:00Z"))),
        ["ready.protocol_course_complete"]
    );
}
