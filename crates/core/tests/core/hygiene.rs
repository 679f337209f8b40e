use jiff::{SignedDuration, Timestamp};
use needlewise_core::evidence;
use needlewise_core::hygiene::{
    Device, DeviceKind, HygieneError, HygieneEvent, HygieneState, PenSpec, RollerSpec,
};
use needlewise_core::ids::{DeviceId, ProfileId};
use proptest::prelude::*;
use uuid::Uuid;

fn t0() -> Timestamp {
    "2026-11-25T08:00:00Z".parse().unwrap()
}

fn mins(m: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_mins(m)).unwrap()
}

fn roller() -> Device {
    Device::new(
        DeviceId(Uuid::from_u128(1)),
        ProfileId(Uuid::from_u128(2)),
        "bathroom roller".into(),
        DeviceKind::Roller(RollerSpec::standard_192(0.25)),
        t0(),
    )
    .unwrap()
}

fn rules() -> &'static needlewise_core::evidence::HygieneDefaults {
    &evidence().defaults.hygiene
}

/// Runs the whole cleaning cycle starting at minute `start`.
fn clean(d: &Device, start: i64) -> Device {
    let d = d.apply(&HygieneEvent::Rinse, mins(start), rules()).unwrap();
    let d = d
        .apply(
            &HygieneEvent::Soak {
                alcohol_percent: 70,
            },
            mins(start + 1),
            rules(),
        )
        .unwrap();
    let d = d
        .apply(&HygieneEvent::Dry, mins(start + 11), rules())
        .unwrap();
    d.apply(&HygieneEvent::MarkReady, mins(start + 41), rules())
        .unwrap()
}

#[test]
fn a_new_roller_must_be_cleaned_before_its_first_use() {
    let d = roller();
    assert_eq!(d.state, HygieneState::New);
    assert!(!d.is_ready(rules()));
    let err = d.apply(&HygieneEvent::Use, t0(), rules()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot use a device that is new: rinse it, soak it in alcohol and let it air-dry first"
    );
    let ready = clean(&d, 0);
    assert!(ready.is_ready(rules()));
    let used = ready.apply(&HygieneEvent::Use, mins(60), rules()).unwrap();
    assert_eq!(
        (used.state, used.use_count, used.version),
        (HygieneState::Used, 1, 5)
    );
}

#[test]
fn soaking_takes_at_least_ten_minutes_in_strong_enough_alcohol() {
    let rinsed = roller().apply(&HygieneEvent::Rinse, t0(), rules()).unwrap();
    let weak = rinsed.apply(
        &HygieneEvent::Soak {
            alcohol_percent: 60,
        },
        mins(1),
        rules(),
    );
    assert_eq!(
        weak.unwrap_err(),
        HygieneError::AlcoholTooWeak {
            percent: 60,
            required: 70
        }
    );
    let soaking = rinsed
        .apply(
            &HygieneEvent::Soak {
                alcohol_percent: 90,
            },
            mins(1),
            rules(),
        )
        .unwrap();
    match soaking
        .apply(&HygieneEvent::Dry, mins(10), rules())
        .unwrap_err()
    {
        HygieneError::SoakTooShort {
            elapsed_min,
            required_min,
            ready_at,
        } => {
            assert_eq!((elapsed_min, required_min, ready_at), (9, 10, mins(11)));
        }
        other => panic!("{other}"),
    }
    assert!(soaking.apply(&HygieneEvent::Dry, mins(11), rules()).is_ok());
}

#[test]
fn drying_has_a_minimum_air_dry_time() {
    let d = roller().apply(&HygieneEvent::Rinse, t0(), rules()).unwrap();
    let d = d
        .apply(
            &HygieneEvent::Soak {
                alcohol_percent: 70,
            },
            t0(),
            rules(),
        )
        .unwrap();
    let d = d.apply(&HygieneEvent::Dry, mins(10), rules()).unwrap();
    let err = d
        .apply(&HygieneEvent::MarkReady, mins(39), rules())
        .unwrap_err();
    assert!(
        err.to_string().contains("needs at least 30 min in the air"),
        "{err}"
    );
    let status = d.status(mins(25), rules());
    assert_eq!(status.step_done_at, Some(mins(40)));
    assert!(
        status.next_step.contains("in 15 min"),
        "{}",
        status.next_step
    );
}

#[test]
fn uses_are_counted_and_replacement_falls_due_at_the_limit() {
    let max = rules().replace.max_uses;
    let mut d = roller();
    for i in 0..max {
        d = clean(&d, i64::from(i) * 100);
        d = d
            .apply(&HygieneEvent::Use, mins(i64::from(i) * 100 + 50), rules())
            .unwrap();
    }
    assert_eq!(d.use_count, max);
    assert!(d.replacement_due(rules()));
    let ready_again = clean(&d, 10_000);
    assert!(
        !ready_again.is_ready(rules()),
        "a worn-out roller is never ready"
    );
    let err = ready_again
        .apply(&HygieneEvent::Use, mins(10_100), rules())
        .unwrap_err();
    assert_eq!(err, HygieneError::ReplacementDue { max_uses: max });
    assert!(
        ready_again
            .status(mins(10_100), rules())
            .next_step
            .starts_with("Replace")
    );
}

#[test]
fn reported_damage_makes_replacement_due_at_once() {
    let d = clean(&roller(), 0)
        .apply(
            &HygieneEvent::ReportDamage {
                note: "bent needles".into(),
            },
            mins(50),
            rules(),
        )
        .unwrap();
    assert!(d.replacement_due(rules()));
    assert!(!d.is_ready(rules()));
}

/// Issue 17 §5: a damage note is bounded like every other note.
#[test]
fn a_damage_note_or_a_retirement_reason_is_bounded() {
    let long = "x".repeat(needlewise_core::hygiene::MAX_NOTE_CHARS + 1);
    for event in [
        HygieneEvent::ReportDamage { note: long.clone() },
        HygieneEvent::Retire { reason: long },
        HygieneEvent::ReportDamage {
            note: "bent\u{7}".into(),
        },
    ] {
        let e = clean(&roller(), 0).apply(&event, mins(50), rules());
        assert!(
            matches!(e, Err(HygieneError::InvalidSpec { .. })),
            "{event:?}: {e:?}"
        );
    }
    let fine = HygieneEvent::ReportDamage {
        note: "bent needles\r\nand rust".into(),
    };
    assert!(clean(&roller(), 0).apply(&fine, mins(50), rules()).is_ok());
}

#[test]
fn a_retired_device_stays_retired() {
    let d = roller()
        .apply(
            &HygieneEvent::Retire {
                reason: "old".into(),
            },
            t0(),
            rules(),
        )
        .unwrap();
    let err = d.apply(&HygieneEvent::Rinse, mins(1), rules()).unwrap_err();
    assert!(err.to_string().contains("a retired device stays retired"));
}

#[test]
fn pens_need_a_new_cartridge_every_session() {
    let pen = Device::new(
        DeviceId(Uuid::from_u128(3)),
        ProfileId(Uuid::from_u128(2)),
        "pen".into(),
        DeviceKind::Pen(PenSpec {
            needles_per_cartridge: 12,
            needle_length_mm: 0.25,
        }),
        t0(),
    )
    .unwrap();
    assert_eq!(
        pen.apply(&HygieneEvent::Rinse, t0(), rules()).unwrap_err(),
        HygieneError::PenNotSoaked
    );
    let ready = pen
        .apply(&HygieneEvent::FitCartridge, t0(), rules())
        .unwrap();
    let used = ready.apply(&HygieneEvent::Use, mins(5), rules()).unwrap();
    assert!(used.apply(&HygieneEvent::Use, mins(6), rules()).is_err());
    assert_eq!(
        roller()
            .apply(&HygieneEvent::FitCartridge, t0(), rules())
            .unwrap_err(),
        HygieneError::RollerHasNoCartridge
    );
}

#[test]
fn time_may_not_run_backwards() {
    let d = roller()
        .apply(&HygieneEvent::Rinse, mins(10), rules())
        .unwrap();
    assert!(matches!(
        d.apply(
            &HygieneEvent::Soak {
                alcohol_percent: 70
            },
            mins(5),
            rules()
        ),
        Err(HygieneError::TimeWentBackwards { .. })
    ));
}

#[test]
fn impossible_geometry_names_the_field() {
    let mut spec = RollerSpec::standard_192(0.25);
    spec.drum_width_mm = 0.0;
    let err = DeviceKind::Roller(spec).validate().unwrap_err();
    assert_eq!(err.to_string(), "drum_width_mm: must be from 2 to 100 mm");
    let err = DeviceKind::Roller(RollerSpec::standard_192(f64::NAN))
        .validate()
        .unwrap_err();
    assert!(err.to_string().starts_with("needle_length_mm"));
}

fn any_event() -> impl Strategy<Value = HygieneEvent> {
    prop_oneof![
        Just(HygieneEvent::Rinse),
        (0u8..=120).prop_map(|p| HygieneEvent::Soak { alcohol_percent: p }),
        Just(HygieneEvent::Dry),
        Just(HygieneEvent::MarkReady),
        Just(HygieneEvent::FitCartridge),
        Just(HygieneEvent::Use),
        Just(HygieneEvent::ReportDamage { note: "x".into() }),
        Just(HygieneEvent::Retire { reason: "x".into() }),
    ]
}

proptest! {
    /// Whatever happens to a roller, in whatever order and at whatever
    /// pace, it is only ever used when it went through a full, long enough
    /// cycle since its last use, and the counters only move forward.
    #[test]
    fn a_roller_is_only_used_after_a_full_cycle(steps in prop::collection::vec((any_event(), 0i64..40), 0..60)) {
        let mut d = roller();
        let mut now = t0();
        let mut cycle: Vec<(&'static str, Timestamp)> = Vec::new();
        for (event, gap) in steps {
            now = now.checked_add(SignedDuration::from_mins(gap)).unwrap();
            let before = d.clone();
            match d.apply(&event, now, rules()) {
                Ok(next) => {
                    prop_assert_eq!(next.version, before.version + 1);
                    prop_assert!(next.use_count >= before.use_count);
                    prop_assert!(next.use_count <= rules().replace.max_uses);
                    if event == HygieneEvent::Use {
                        prop_assert_eq!(before.state, HygieneState::Ready);
                        prop_assert!(!before.damaged);
                        // The cycle since the last use: rinse, soak >= 10 min, dry >= 30 min.
                        let names: Vec<&str> = cycle.iter().map(|(n, _)| *n).collect();
                        prop_assert_eq!(&names[names.len() - 4..], &["rinse", "soak", "dry", "mark_ready"][..]);
                        let at = |i: usize| cycle[cycle.len() - 4 + i].1;
                        prop_assert!(at(2).duration_since(at(1)) >= SignedDuration::from_mins(10));
                        prop_assert!(at(3).duration_since(at(2)) >= SignedDuration::from_mins(30));
                        cycle.clear();
                    } else {
                        cycle.push((event.name(), now));
                    }
                    d = next;
                }
                Err(_) => prop_assert_eq!(&d, &before),
            }
            if d.state == HygieneState::Retired {
                prop_assert!(d.apply(&HygieneEvent::Rinse, now, rules()).is_err());
            }
        }
    }
}

#[test]
fn soaking_alcohol_is_accepted_from_70_to_90_percent_only() {
    let rinsed = roller().apply(&HygieneEvent::Rinse, t0(), rules()).unwrap();
    let soak = |p: u8| rinsed.apply(&HygieneEvent::Soak { alcohol_percent: p }, mins(1), rules());
    assert_eq!(
        (
            rules().soak.min_alcohol_percent,
            rules().soak.max_alcohol_percent
        ),
        (70, 90)
    );
    for ok in [70, 80, 90] {
        assert!(soak(ok).is_ok(), "{ok}% is accepted");
    }
    for strong in [91, 95, 99, 100] {
        assert_eq!(
            soak(strong).unwrap_err(),
            HygieneError::AlcoholTooStrong {
                percent: strong,
                min: 70,
                max: 90
            }
        );
    }
    assert_eq!(
        soak(99).unwrap_err().to_string(),
        "99% alcohol is too strong: alcohol disinfects less well above 90%, so use isopropyl alcohol of 70 to 90%"
    );
    assert!(matches!(
        soak(101),
        Err(HygieneError::AlcoholImpossible { percent: 101 })
    ));
    assert!(matches!(
        soak(69),
        Err(HygieneError::AlcoholTooWeak {
            percent: 69,
            required: 70
        })
    ));
    let status = rinsed.status(mins(1), rules());
    assert_eq!(
        status.next_step,
        "Soak it in 70 to 90% isopropyl alcohol for at least 10 min."
    );
}
