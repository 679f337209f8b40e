//! The safety invariants of issue 14, checked after every step of random
//! sequences of actions (random instants, time zones and zone changes,
//! devices, answers) on SQLite and on PostgreSQL. The checks use their own
//! arithmetic (hours, needle bands), not the code under test.
//!
//! `NEEDLEWISE_PROPTEST_CASES` sets the number of sequences per backend
//! (default 2,000); a failure prints the seed to replay it with
//! `PROPTEST_RNG_SEED`.

use jiff::{SignedDuration, Timestamp};
use needlewise_actions::{
    ActionError, DoctorStatement, NewDevice, NewSession, Resolution, check_readiness, checkin,
    course, device_step, log_session, plan_today, readiness_now, register_device,
    resolve_by_person, screen,
};
use needlewise_core::hygiene::{Device, HygieneEvent, HygieneState};
use needlewise_core::records::{Profile, SessionSetting, ZoneRecord};
use needlewise_core::schedule::CourseStatus;
use needlewise_core::zone::Zone;
use needlewise_store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::support::{self, Checkin, at, ctx};

const ZONES: [&str; 4] = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Pacific/Kiritimati",
];
const NEEDLES: [f64; 4] = [0.25, 0.3, 0.5, 1.0];

/// One step of a sequence. Each first moves the clock forward.
#[derive(Debug, Clone)]
enum Op {
    Screen {
        needle: usize,
        clears: bool,
    },
    AddDevice {
        needle: usize,
    },
    /// Rinse, soak, dry and ready (the clock moves 45 minutes).
    Clean {
        device: usize,
    },
    Ready {
        device: usize,
        clear: bool,
    },
    LogHome {
        device: usize,
        zones: u8,
        back: u16,
    },
    LogClinic {
        needle: usize,
        back: u16,
    },
    Checkin {
        kind: u8,
    },
    Resolve {
        fine: bool,
        days_after: u8,
    },
    Move {
        zone: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..NEEDLES.len(), prop::bool::weighted(0.85))
            .prop_map(|(needle, clears)| Op::Screen { needle, clears }),
        2 => (0..NEEDLES.len()).prop_map(|needle| Op::AddDevice { needle }),
        3 => (0..3usize).prop_map(|device| Op::Clean { device }),
        4 => (0..3usize, prop::bool::weighted(0.85))
            .prop_map(|(device, clear)| Op::Ready { device, clear }),
        4 => (0..3usize, 1..=255u8, 0..90u16)
            .prop_map(|(device, zones, back)| Op::LogHome { device, zones, back }),
        1 => (0..NEEDLES.len(), 0..600u16).prop_map(|(needle, back)| Op::LogClinic { needle, back }),
        2 => (0..3u8).prop_map(|kind| Op::Checkin { kind }),
        1 => (any::<bool>(), 0..4u8).prop_map(|(fine, days_after)| Op::Resolve { fine, days_after }),
        1 => (0..ZONES.len()).prop_map(|zone| Op::Move { zone }),
    ]
}

/// How far the clock moves before a step: mostly minutes, sometimes days.
fn advance() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => 0..120i64,
        3 => 120..(3 * 24 * 60i64),
        1 => (3 * 24 * 60i64)..(40 * 24 * 60i64),
    ]
}

fn sequence() -> impl Strategy<Value = (usize, Vec<(i64, Op)>)> {
    (
        0..ZONES.len(),
        prop::collection::vec((advance(), op()), 1..=40),
    )
}

/// The home healing wait after a needle, in hours; `None` past home use.
fn wait_hours(needle: f64) -> Option<i64> {
    if needle <= 0.3 + 1e-9 {
        Some(72)
    } else if needle <= 0.5 + 1e-9 {
        Some(28 * 24)
    } else {
        None
    }
}

struct World<'a> {
    store: &'a dyn Store,
    profile: Profile,
    now: Timestamp,
    zone: &'static str,
    devices: Vec<Device>,
    /// The latest screening: its needle and whether it clears home use.
    screened: Option<(f64, bool)>,
}

impl World<'_> {
    fn zoned(&self) -> jiff::ZonedDateTime {
        at(self.now, self.zone)
    }

    fn open_flags(&self) -> Vec<needlewise_core::records::Episode> {
        self.store.open_episodes(self.profile.id).expect("read")
    }
}

impl Op {
    /// Whether the action may be refused in these sequences; any other
    /// refusal fails the test by itself, so only these need the store's
    /// checksums compared around them.
    fn may_be_refused(&self) -> bool {
        !matches!(
            self,
            Op::Screen { .. }
                | Op::AddDevice { .. }
                | Op::Clean { .. }
                | Op::Ready { .. }
                | Op::Move { .. }
        )
    }
}

fn run_step(w: &mut World<'_>, minutes: i64, op: &Op) -> Result<(), TestCaseError> {
    w.now += SignedDuration::from_mins(minutes);
    let before = op
        .may_be_refused()
        .then(|| w.store.checksums().expect("checksums"));
    let now = w.zoned();
    let c = ctx(w.store, &now);
    let sessions_before = w.store.sessions(w.profile.id).expect("read");
    let locked_before = !w.open_flags().is_empty();
    let result: Result<(), ActionError> = match op {
        Op::Screen { needle, clears } => {
            let answers = if *clears {
                support::screening(NEEDLES[*needle], now.date())
            } else {
                support::screening_pregnant(now.date())
            };
            screen(c, &w.profile, answers).map(|r| {
                w.screened = Some((r.needle_length_mm, r.verdict.allows_home_sessions()));
            })
        }
        Op::AddDevice { needle } => register_device(
            c,
            &w.profile,
            NewDevice::simple(&format!("d{}", w.devices.len()), false, NEEDLES[*needle]),
        )
        .map(|d| w.devices.push(d)),
        Op::Clean { device } => match w.devices.get(*device).cloned() {
            None => Ok(()),
            Some(d) => {
                let steps = [
                    (0, HygieneEvent::Rinse),
                    (
                        1,
                        HygieneEvent::Soak {
                            alcohol_percent: 70,
                        },
                    ),
                    (12, HygieneEvent::Dry),
                    (44, HygieneEvent::MarkReady),
                ];
                let start = w.now;
                let mut out = Ok(());
                for (m, e) in steps {
                    w.now = start + SignedDuration::from_mins(m);
                    let now = w.zoned();
                    match device_step(ctx(w.store, &now), w.profile.id, d.id, &e, None) {
                        Ok(next) => w.devices[*device] = next,
                        Err(err) => {
                            // A refused step (a retired or worn-out roller)
                            // writes nothing; the cycle stops there.
                            prop_assert!(matches!(err, ActionError::Hygiene(_)), "{err:?}");
                            out = Err(err);
                            break;
                        }
                    }
                }
                w.now = start + SignedDuration::from_mins(45);
                // Earlier steps of the cycle did write: compare from here.
                return check_all(w, out.err().map(|_| ()), None, &sessions_before, false);
            }
        },
        Op::Ready { device, clear } => {
            let id = w.devices.get(*device).map(|d| d.id);
            match check_readiness(c, &w.profile, id, support::readiness(*clear, now.date())) {
                Ok(checked) => {
                    if locked_before {
                        prop_assert!(!checked.readiness.go, "a red flag locks readiness");
                    }
                    if !clear {
                        prop_assert!(!checked.readiness.go, "a cold sore is a no-go");
                    }
                    // Every path agrees at this moment.
                    let view =
                        readiness_now(c, w.profile.id, checked.device.as_ref().map(|d| d.id))
                            .expect("a view");
                    prop_assert_eq!(&view.readiness, &checked.readiness);
                    prop_assert_eq!(view.check, Some(checked.check.id));
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Op::LogHome {
            device,
            zones,
            back,
        } => match w.devices.get(*device).cloned() {
            None => Ok(()),
            Some(d) => {
                let picked: Vec<ZoneRecord> = Zone::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| zones & (1 << (i % 8)) != 0)
                    .map(|(_, z)| ZoneRecord {
                        zone: *z,
                        seconds: 30,
                        strokes: None,
                        skipped: false,
                    })
                    .collect();
                let started =
                    (*back > 0).then(|| w.now - SignedDuration::from_mins(i64::from(*back)));
                log_session(
                    c,
                    &w.profile,
                    NewSession {
                        id: None,
                        ran_for: None,
                        setting: SessionSetting::Home,
                        device: Some(d.id),
                        started_at: started,
                        zones: picked,
                        products: Vec::new(),
                        notes: String::new(),
                        needle_length_mm: None,
                    },
                )
                .map(|s| {
                    if let Some(dev) = w.devices.iter_mut().find(|x| x.id == d.id) {
                        *dev = w
                            .store
                            .device(w.profile.id, d.id)
                            .expect("read")
                            .expect("the device");
                    }
                    let _ = s;
                })
            }
        },
        Op::LogClinic { needle, back } => log_session(
            c,
            &w.profile,
            NewSession {
                id: None,
                ran_for: None,
                setting: SessionSetting::Clinic,
                device: None,
                started_at: Some(w.now - SignedDuration::from_mins(i64::from(*back))),
                zones: vec![ZoneRecord {
                    zone: Zone::Forehead,
                    seconds: 60,
                    strokes: None,
                    skipped: false,
                }],
                products: Vec::new(),
                notes: String::new(),
                needle_length_mm: Some(NEEDLES[*needle]),
            },
        )
        .map(|_| ()),
        Op::Checkin { kind } => {
            let kind = [Checkin::Fine, Checkin::Pus, Checkin::PusOnly][usize::from(*kind)];
            let has_session = !sessions_before.is_empty();
            match checkin(c, &w.profile, support::checkin(kind, now.date())) {
                Ok(done) => {
                    prop_assert!(has_session);
                    if kind != Checkin::Fine {
                        prop_assert!(done.triage.locks_sessions, "pus calls for the surgeon");
                        prop_assert!(done.episode.is_some());
                    }
                    prop_assert_eq!(done.triage.is_partial(), kind == Checkin::PusOnly);
                    Ok(())
                }
                Err(e) => {
                    prop_assert!(!has_session, "a check-in after a session is taken: {e}");
                    Err(e)
                }
            }
        }
        Op::Resolve { fine, days_after } => match w.open_flags().first().cloned() {
            None => Ok(()),
            Some(flag) => {
                let opened = at(flag.opened_at, w.zone).date();
                let examined = opened
                    .checked_add(jiff::Span::new().days(i64::from(*days_after)))
                    .expect("a date");
                let kind = if *fine { Checkin::Fine } else { Checkin::Pus };
                match resolve_by_person(
                    c,
                    &w.profile,
                    flag.id,
                    DoctorStatement {
                        doctor: "Dr Weber".into(),
                        examined_on: examined,
                    },
                    support::checkin(kind, now.date()),
                ) {
                    Ok(Resolution::Resolved(_)) => {
                        prop_assert!(*fine && examined <= now.date());
                        Ok(())
                    }
                    Ok(Resolution::StillFlagged(_)) => {
                        prop_assert!(!fine);
                        prop_assert!(w.open_flags().iter().any(|e| e.id == flag.id));
                        Ok(())
                    }
                    Err(e) => {
                        prop_assert!(examined > now.date(), "refused: {e}");
                        Err(e)
                    }
                }
            }
        },
        Op::Move { zone } => {
            w.zone = ZONES[*zone];
            w.store
                .set_profile_time_zone(w.profile.id, Some(w.zone))
                .expect("a zone");
            Ok(())
        }
    };
    if let Err(e) = &result {
        prop_assert!(op.may_be_refused(), "{op:?} was refused: {e}");
    }
    let refused = result.as_ref().err().map(|_| ());
    check_all(w, refused, before, &sessions_before, locked_before)
}

/// The invariants after a step. `refused` says the step's action returned
/// an error; `before` are the checksums before it.
fn check_all(
    w: &World<'_>,
    refused: Option<()>,
    before: Option<needlewise_store::Checksums>,
    sessions_before: &[needlewise_core::records::SessionRecord],
    locked_before: bool,
) -> Result<(), TestCaseError> {
    let store = w.store;
    // 5. Refusals write nothing.
    if let (Some(()), Some(before)) = (refused, before) {
        prop_assert_eq!(
            &store.checksums().expect("checksums"),
            &before,
            "a refusal wrote"
        );
    }
    let sessions = store.sessions(w.profile.id).expect("read");
    // A new session, if the step stored one.
    if let Some(new) = sessions
        .iter()
        .find(|s| !sessions_before.iter().any(|b| b.id == s.id))
    {
        if new.setting == SessionSetting::Home {
            // 1. No home session without a go for that instant and that
            // device.
            let id = new
                .readiness_check_id
                .expect("a home session rests on a check");
            let check = store
                .readiness_check(w.profile.id, id)
                .expect("read")
                .expect("the check");
            prop_assert!(check.go);
            prop_assert_eq!(check.device_id, new.device_id);
            prop_assert!(check.at <= new.started_at);
            prop_assert!(new.started_at <= check.at + SignedDuration::from_hours(1));
            // 6. A red flag locks every path.
            prop_assert!(!locked_before, "a home session while a red flag was open");
            // 2. The needle is the one that was screened.
            let (screened, clears) = w.screened.expect("a home session after a screening");
            prop_assert!(clears, "a home session without a clearing screening");
            prop_assert!(
                new.needle_length_mm <= screened + 1e-9,
                "needle {} over the screened {}",
                new.needle_length_mm,
                screened
            );
            // 3. Intervals are elapsed time from the last session's end.
            if let Some(last) = sessions_before.iter().max_by_key(|s| s.ended_at) {
                let wait = wait_hours(last.needle_length_mm);
                prop_assert!(
                    wait.is_some(),
                    "a home session after a clinic-length needle"
                );
                prop_assert!(
                    new.started_at >= last.ended_at + SignedDuration::from_hours(wait.unwrap_or(0)),
                    "{} is less than the wait after {}",
                    new.started_at,
                    last.ended_at
                );
            }
        }
    }
    // Stored sessions never change afterwards.
    for b in sessions_before {
        prop_assert!(sessions.contains(b), "a stored session changed");
    }
    let now = w.zoned();
    let c = ctx(store, &now);
    // 4. The course is what happened.
    if let Some(plan) = course(c, w.profile.id).expect("course") {
        let happened = sessions.iter().filter(|s| s.started_at <= w.now).count();
        let done = plan.sessions.iter().filter(|s| s.done).count();
        prop_assert_eq!(done, happened.min(plan.sessions.len()));
        prop_assert_eq!(
            plan.status == CourseStatus::Finished,
            happened >= plan.sessions.len()
        );
        prop_assert!(plan.sessions.iter().all(|s| s.done || s.date >= now.date()));
    }
    // 6 and 7. Every path agrees, and a red flag shows on it: the guided
    // session's plan rests on the same verdict as the readiness view.
    let locked = !w.open_flags().is_empty();
    if let Some(d) = w.devices.iter().find(|d| d.state != HygieneState::Retired) {
        let plan = plan_today(c, w.profile.id, Some(d.id)).expect("a plan");
        let view = &plan.view;
        prop_assert_eq!(plan.allowed(), view.readiness.go && !plan.zones.is_empty());
        prop_assert_eq!(
            plan.zones.iter().map(|(z, _)| *z).collect::<Vec<_>>(),
            if view.readiness.go {
                view.readiness.zones.clone()
            } else {
                Vec::new()
            }
        );
        if locked {
            prop_assert!(!view.readiness.go);
            prop_assert!(
                view.readiness
                    .reasons
                    .iter()
                    .any(|r| r.rule_id == "ready.symptom_lock"),
                "the lock shows with its reason"
            );
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("NEEDLEWISE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn run(store: &dyn Store, name: &str, cases: u32) {
    let seed: u64 = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let result = runner.run(&sequence(), |(zone, steps)| {
        let start: Timestamp = "2026-09-01T07:00:00Z".parse().expect("a time");
        let zone = ZONES[zone];
        let profile = support::person(store, start, Some(zone));
        let account = profile.account_id;
        let mut w = World {
            store,
            profile,
            now: start,
            zone,
            devices: Vec::new(),
            screened: None,
        };
        let outcome = steps
            .iter()
            .try_for_each(|(minutes, op)| run_step(&mut w, *minutes, op));
        // Keep the store small: the next sequence starts from scratch.
        store.delete_account(account).expect("delete");
        outcome
    });
    if let Err(e) = result {
        panic!("{name}: {e}\nreplay with PROPTEST_RNG_SEED={seed}");
    }
}

#[test]
fn invariants_hold_over_random_sequences_on_sqlite() {
    let s = support::sqlite();
    run(s.store.as_ref(), "sqlite", cases());
}

/// PostgreSQL answers over a socket: two runners, each in a schema of its
/// own (the checksums cover the whole store), keep both cores busy.
#[test]
fn invariants_hold_over_random_sequences_on_postgres() {
    const RUNNERS: u32 = 2;
    let total = cases();
    std::thread::scope(|scope| {
        let runners: Vec<_> = (0..RUNNERS)
            .map(|i| {
                let share = total / RUNNERS + u32::from(i < total % RUNNERS);
                scope.spawn(move || {
                    let s = support::postgres();
                    run(s.store.as_ref(), &format!("postgres, runner {i}"), share);
                })
            })
            .collect();
        for r in runners {
            if let Err(panic) = r.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}
