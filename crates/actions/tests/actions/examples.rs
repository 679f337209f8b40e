//! The reproductions of issue 14, each as a plain example on SQLite (the
//! property test runs every invariant on both backends).

use jiff::Timestamp;
use needlewise_actions::{
    ActionError, DoctorStatement, NewDevice, NewSession, Resolution, check_readiness, checkin,
    course, device_step, log_session, readiness_now, register_device, resolve_by_person, schedule,
    screen,
};
use needlewise_core::hygiene::{Device, HygieneEvent};
use needlewise_core::records::{Profile, SessionSetting, ZoneRecord};
use needlewise_core::schedule::{CourseStatus, NextSession};
use needlewise_core::zone::Zone;
use needlewise_store::Store;

use crate::support::{self, Checkin, at, ctx, minutes, ts};

/// Registers a roller and takes it through its cleaning cycle, ending at
/// `t`; returns it ready.
pub fn ready_roller(store: &dyn Store, p: &Profile, needle: f64, t: Timestamp, tz: &str) -> Device {
    let start = t - minutes(45);
    let now = at(start, tz);
    let d = register_device(
        ctx(store, &now),
        p,
        NewDevice::simple(
            &format!("roller {}", uuid::Uuid::new_v4().simple()),
            false,
            needle,
        ),
    )
    .expect("a device");
    cycle(store, p, &d, start, tz)
}

/// Rinse, soak, dry and ready, starting at `t` (45 minutes in all).
pub fn cycle(store: &dyn Store, p: &Profile, d: &Device, t: Timestamp, tz: &str) -> Device {
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
    let mut last = d.clone();
    for (m, e) in steps {
        let now = at(t + minutes(m), tz);
        last = device_step(ctx(store, &now), p.id, d.id, &e, None)
            .unwrap_or_else(|err| panic!("{e:?} at +{m} min: {err}"));
    }
    last
}

fn zones(z: &[Zone]) -> Vec<ZoneRecord> {
    z.iter()
        .map(|zone| ZoneRecord {
            zone: *zone,
            seconds: 60,
            strokes: None,
            skipped: false,
        })
        .collect()
}

fn home(device: &Device, z: &[Zone]) -> NewSession {
    NewSession {
        id: None,
        ran_for: None,
        setting: SessionSetting::Home,
        device: Some(device.id),
        started_at: None,
        zones: zones(z),
        products: Vec::new(),
        notes: String::new(),
        needle_length_mm: None,
    }
}

#[test]
fn a_needle_the_screening_never_allowed_is_a_no_go_on_every_path() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let p = support::person(store, t, None);
    let now = at(t, "UTC");
    screen(ctx(store, &now), &p, support::screening(0.25, now.date())).expect("screened");
    let long = ready_roller(store, &p, 1.0, t + minutes(50), "UTC");
    let now = at(t + minutes(60), "UTC");
    let checked = check_readiness(
        ctx(store, &now),
        &p,
        Some(long.id),
        support::readiness(true, now.date()),
    )
    .expect("a check");
    assert!(!checked.readiness.go);
    assert!(
        checked
            .readiness
            .reasons
            .iter()
            .any(|r| r.rule_id == "ready.device.needle_not_screened"),
        "{:?}",
        checked.readiness.reasons
    );
    let view = readiness_now(ctx(store, &now), p.id, Some(long.id)).expect("a view");
    assert_eq!(view.readiness, checked.readiness, "every path agrees");
    let before = store.checksums().expect("checksums");
    let err = log_session(ctx(store, &now), &p, home(&long, &[Zone::Forehead]))
        .expect_err("no home session with that needle");
    assert!(matches!(err, ActionError::Refused { .. }), "{err:?}");
    assert_eq!(
        store.checksums().expect("checksums"),
        before,
        "nothing written"
    );
}

#[test]
fn the_wait_is_elapsed_time_whatever_the_zone_the_session_was_logged_in() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T22:00:00Z");
    let p = support::person(store, t, None);
    let now = at(t, "UTC");
    screen(ctx(store, &now), &p, support::screening(0.25, now.date())).expect("screened");
    let roller = ready_roller(store, &p, 0.25, ts("2026-09-01T23:10:00Z"), "UTC");
    let now = at(ts("2026-09-01T23:20:00Z"), "UTC");
    check_readiness(
        ctx(store, &now),
        &p,
        Some(roller.id),
        support::readiness(true, now.date()),
    )
    .expect("go");
    let now = at(ts("2026-09-01T23:28:00Z"), "UTC");
    let session = log_session(
        ctx(store, &now),
        &p,
        home(&roller, &[Zone::Forehead, Zone::Chin]),
    )
    .expect("a home session");
    // The person moves to Berlin: 22:30Z on 09-03 is about 47 hours later.
    store
        .set_profile_time_zone(p.id, Some("Europe/Berlin"))
        .expect("zone");
    let roller = cycle(
        store,
        &p,
        &roller,
        ts("2026-09-03T21:40:00Z"),
        "Europe/Berlin",
    );
    let now = at(ts("2026-09-03T22:30:00Z"), "Europe/Berlin");
    let checked = check_readiness(
        ctx(store, &now),
        &p,
        Some(roller.id),
        support::readiness(true, now.date()),
    )
    .expect("a check");
    assert!(!checked.readiness.go, "47 hours is not 3 days");
    assert!(
        checked
            .readiness
            .reasons
            .iter()
            .any(|r| r.rule_id == "ready.interval")
    );
    match schedule(ctx(store, &now), p.id).expect("schedule") {
        NextSession::After {
            earliest_at,
            earliest,
            now_ok,
            ..
        } => {
            assert_eq!(
                earliest_at,
                session.ended_at + jiff::SignedDuration::from_hours(72)
            );
            assert_eq!(earliest.to_string(), "2026-09-05", "01:28 in Berlin");
            assert!(!now_ok);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_course_counts_only_sessions_that_have_happened() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let p = support::person(store, t, None);
    let now = at(t, "UTC");
    screen(ctx(store, &now), &p, support::screening(0.25, now.date())).expect("screened");
    // Four clinic sessions, 30 days apart, the last on 2026-11-30.
    for day in ["2026-09-01", "2026-10-01", "2026-10-31", "2026-11-30"] {
        let start = ts(&format!("{day}T09:00:00Z"));
        let now = at(start + minutes(90), "UTC");
        log_session(
            ctx(store, &now),
            &p,
            NewSession {
                id: None,
                ran_for: None,
                setting: SessionSetting::Clinic,
                device: None,
                started_at: Some(start),
                zones: zones(&[Zone::Forehead]),
                products: Vec::new(),
                notes: String::new(),
                needle_length_mm: Some(0.25),
            },
        )
        .expect("a clinic session");
    }
    let now = at(ts("2026-10-13T12:00:00Z"), "UTC");
    let plan = course(ctx(store, &now), p.id)
        .expect("course")
        .expect("a plan");
    let done: Vec<bool> = plan.sessions.iter().map(|s| s.done).collect();
    assert_eq!(done, [true, true, false, false]);
    assert_eq!(plan.status, CourseStatus::InProgress);
    assert!(plan.sessions.iter().all(|s| s.done || s.date >= now.date()));
    let later = at(ts("2026-12-01T12:00:00Z"), "UTC");
    let plan = course(ctx(store, &later), p.id)
        .expect("course")
        .expect("a plan");
    assert_eq!(plan.status, CourseStatus::Finished);
}

#[test]
fn a_refused_screening_writes_nothing() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let now = at(t, "UTC");
    // A profile of the command line's local account, not stored yet.
    let p = Profile {
        id: needlewise_core::ids::ProfileId(uuid::Uuid::now_v7()),
        account_id: needlewise_core::ids::AccountId::LOCAL,
        name: "default".into(),
        created_at: t,
        time_zone: None,
    };
    let before = store.checksums().expect("checksums");
    let partial = needlewise_core::answers::Answers::from_json(
        &needlewise_core::evidence().screening,
        &serde_json::json!({"age": 35}),
        now.date(),
    )
    .expect("parses");
    let err = screen(ctx(store, &now), &p, partial).expect_err("incomplete");
    assert!(matches!(err, ActionError::Answers(_)), "{err:?}");
    assert_eq!(store.checksums().expect("checksums"), before);
    assert!(store.profile(p.id).expect("read").is_none());
}

/// A person screened for 0.25 mm whose roller is ready and whose
/// readiness check said go 55 minutes after `t`; returns them and their
/// roller.
fn ready_to_roll(store: &dyn Store, t: Timestamp) -> (Profile, Device) {
    let p = support::person(store, t, None);
    let now = at(t, "UTC");
    screen(ctx(store, &now), &p, support::screening(0.25, now.date())).expect("screened");
    let roller = ready_roller(store, &p, 0.25, t + minutes(50), "UTC");
    let now = at(t + minutes(55), "UTC");
    check_readiness(
        ctx(store, &now),
        &p,
        Some(roller.id),
        support::readiness(true, now.date()),
    )
    .expect("go");
    (p, roller)
}

/// [`ready_to_roll`], then a home session of the forehead at once.
fn after_a_home_session(store: &dyn Store, t: Timestamp) -> (Profile, Device) {
    let (p, roller) = ready_to_roll(store, t);
    let now = at(t + minutes(55), "UTC");
    log_session(ctx(store, &now), &p, home(&roller, &[Zone::Forehead])).expect("session");
    (p, roller)
}

#[test]
fn a_red_flag_answer_counts_with_other_answers_missing() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let (p, roller) = after_a_home_session(store, t);
    let now = at(t + jiff::SignedDuration::from_hours(40), "UTC");
    let checked = checkin(
        ctx(store, &now),
        &p,
        support::checkin(Checkin::PusOnly, now.date()),
    )
    .expect("a partial check-in counts");
    assert!(checked.triage.locks_sessions);
    assert!(checked.triage.is_partial());
    assert!(checked.triage.missing.iter().any(|m| m == "fever"));
    assert!(checked.episode.is_some());
    assert_eq!(store.open_episodes(p.id).expect("read").len(), 1);
    // Every path is locked now.
    let view = readiness_now(ctx(store, &now), p.id, Some(roller.id)).expect("view");
    assert!(!view.readiness.go);
    assert!(
        view.readiness
            .reasons
            .iter()
            .any(|r| r.rule_id == "ready.symptom_lock")
    );
    assert!(matches!(
        schedule(ctx(store, &now), p.id).expect("schedule"),
        NextSession::Locked { .. }
    ));
    // Only mild answers with others missing: the missing ones are the error.
    let mild = needlewise_core::answers::Answers::from_json(
        &needlewise_core::evidence().checkin,
        &serde_json::json!({"redness": "mild"}),
        now.date(),
    )
    .expect("parses");
    let before = store.checksums().expect("checksums");
    assert!(matches!(
        checkin(ctx(store, &now), &p, mild),
        Err(ActionError::Answers(_))
    ));
    assert_eq!(store.checksums().expect("checksums"), before);
}

#[test]
fn only_someone_allowed_resolves_a_red_flag() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let (p, _) = after_a_home_session(store, t);
    let now = at(t + jiff::SignedDuration::from_hours(30), "UTC");
    let flag = checkin(
        ctx(store, &now),
        &p,
        support::checkin(Checkin::Pus, now.date()),
    )
    .expect("check-in")
    .episode
    .expect("a red flag");
    let before = store.checksums().expect("checksums");
    // Three letters are not a doctor's examination.
    let err = resolve_by_person(
        ctx(store, &now),
        &p,
        flag.id,
        DoctorStatement {
            doctor: "a".into(),
            examined_on: now.date(),
        },
        support::checkin(Checkin::Fine, now.date()),
    )
    .expect_err("refused");
    assert!(matches!(err, ActionError::BadInput(_)), "{err:?}");
    // An examination before the flag was raised does not count.
    let err = resolve_by_person(
        ctx(store, &now),
        &p,
        flag.id,
        DoctorStatement {
            doctor: "Dr Weber".into(),
            examined_on: now
                .date()
                .yesterday()
                .expect("a day")
                .yesterday()
                .expect("a day"),
        },
        support::checkin(Checkin::Fine, now.date()),
    )
    .expect_err("refused");
    assert!(matches!(err, ActionError::BadInput(_)), "{err:?}");
    assert_eq!(
        store.checksums().expect("checksums"),
        before,
        "refusals write nothing"
    );
    // Still a warning sign today: the check-in is stored, the flag stays.
    let now = at(t + jiff::SignedDuration::from_hours(50), "UTC");
    let outcome = resolve_by_person(
        ctx(store, &now),
        &p,
        flag.id,
        DoctorStatement {
            doctor: "Dr Weber".into(),
            examined_on: now.date(),
        },
        support::checkin(Checkin::Pus, now.date()),
    )
    .expect("answered");
    assert!(matches!(outcome, Resolution::StillFlagged(_)));
    assert!(
        store
            .open_episodes(p.id)
            .expect("read")
            .iter()
            .any(|e| e.id == flag.id)
    );
    // A doctor's examination and a fresh check-in without a warning sign.
    let outcome = resolve_by_person(
        ctx(store, &now),
        &p,
        flag.id,
        DoctorStatement {
            doctor: "Dr Weber".into(),
            examined_on: now.date(),
        },
        support::checkin(Checkin::Fine, now.date()),
    )
    .expect("resolved");
    let Resolution::Resolved(fresh) = outcome else {
        panic!("not resolved");
    };
    let episode = store
        .episodes(p.id)
        .expect("read")
        .into_iter()
        .find(|e| e.id == flag.id)
        .expect("the episode");
    assert!(!episode.is_open());
    assert_eq!(
        episode.resolver,
        Some(needlewise_core::records::Resolver::DoctorExamined {
            doctor: "Dr Weber".into(),
            examined_on: now.date(),
            checkin_id: fresh.record.id,
        })
    );
}

/// Issue 17 §1: one person cannot fill the server through their own
/// record: the day's check-ins are bounded, the refusal writes nothing, and
/// the next day the limit starts again.
#[test]
fn check_ins_are_bounded_per_day_and_the_refusal_writes_nothing() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let (p, _) = after_a_home_session(store, t);
    let day = at(t + jiff::SignedDuration::from_hours(30), "UTC");
    for _ in 0..needlewise_actions::DailyLimits::CHECKINS {
        checkin(
            ctx(store, &day),
            &p,
            support::checkin(Checkin::Fine, day.date()),
        )
        .expect("within the day's limit");
    }
    let before = store.checksums().expect("checksums");
    let err = checkin(
        ctx(store, &day),
        &p,
        support::checkin(Checkin::Fine, day.date()),
    )
    .expect_err("one too many");
    assert!(matches!(err, ActionError::TooMany(_)), "{err:?}");
    assert!(err.to_string().contains("try again tomorrow"), "{err}");
    assert_eq!(store.checksums().expect("checksums"), before);
    let next_day = at(t + jiff::SignedDuration::from_hours(54), "UTC");
    checkin(
        ctx(store, &next_day),
        &p,
        support::checkin(Checkin::Fine, next_day.date()),
    )
    .expect("a new day");
}

/// Issue 19: a phone that kept a finished session offline sends it later,
/// perhaps more than once. The session's own id makes the sending
/// idempotent, and `ran_for` (start to sending, on the phone's clock)
/// dates it from the server's now, no earlier than the check it rests on.
#[test]
fn a_session_sent_again_is_stored_once_and_dated_by_how_long_ago_it_ran() {
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let (p, roller) = ready_to_roll(store, t);
    // Started at minute 60, finished offline, sent at minute 180.
    let sent = at(t + minutes(180), "UTC");
    let id = needlewise_core::ids::SessionId(uuid::Uuid::now_v7());
    let new = || NewSession {
        id: Some(id),
        ran_for: Some(minutes(120)),
        ..home(&roller, &[Zone::Forehead])
    };
    let first = log_session(ctx(store, &sent), &p, new()).expect("stored");
    assert_eq!(first.id, id);
    assert_eq!(first.started_at, t + minutes(60));
    assert!(first.ended_at > first.started_at && first.ended_at <= t + minutes(180));
    let before = store.checksums().expect("checksums");
    let again = at(t + minutes(181), "UTC");
    assert_eq!(
        log_session(ctx(store, &again), &p, new()).expect("the same"),
        first
    );
    assert_eq!(
        store.checksums().expect("checksums"),
        before,
        "nothing written"
    );
    assert_eq!(store.sessions(p.id).expect("read").len(), 1);
}

/// Issue 19 §2: a request sent twice with the same key stores one record
/// and gets the first result back, for check-ins and readiness checks.
#[test]
fn a_request_sent_twice_with_its_key_is_stored_once() {
    use needlewise_actions::{
        RequestKey, check_readiness_keyed, checkin_keyed, checkin_result, readiness_check,
    };
    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let (p, roller) = after_a_home_session(store, t);
    let now = at(t + jiff::SignedDuration::from_hours(30), "UTC");
    let key = RequestKey::fresh();
    let answers = || support::checkin(Checkin::PusOnly, now.date());
    let first = checkin_keyed(ctx(store, &now), &p, Some(key), answers()).expect("first");
    let later = at(t + jiff::SignedDuration::from_hours(31), "UTC");
    let before = store.checksums().expect("checksums");
    let again = checkin_keyed(ctx(store, &later), &p, Some(key), answers()).expect("again");
    assert_eq!(
        store.checksums().expect("checksums"),
        before,
        "nothing stored"
    );
    assert_eq!(again.record.id, first.record.id);
    assert_eq!(again.triage.level, first.triage.level);
    assert_eq!(again.triage.missing, first.triage.missing);
    assert_eq!(
        again.episode.map(|e| e.id),
        first.episode.as_ref().map(|e| e.id)
    );
    let shown = checkin_result(ctx(store, &later), p.id, first.record.id).expect("shown");
    assert_eq!(shown.triage.reasons, first.triage.reasons);
    // Another profile's key is its own.
    let other = support::person(store, t, None);
    assert!(matches!(
        checkin_result(ctx(store, &later), other.id, first.record.id),
        Err(ActionError::NotFound(_))
    ));

    let q = at(t + jiff::SignedDuration::from_hours(32), "UTC");
    let key = RequestKey::fresh();
    let answers = || support::readiness(true, q.date());
    let first = check_readiness_keyed(ctx(store, &q), &p, Some(key), Some(roller.id), answers())
        .expect("first");
    let before = store.checksums().expect("checksums");
    let again = check_readiness_keyed(ctx(store, &q), &p, Some(key), Some(roller.id), answers())
        .expect("again");
    assert_eq!(
        store.checksums().expect("checksums"),
        before,
        "nothing stored"
    );
    assert_eq!(again.check.id, first.check.id);
    assert_eq!(again.readiness.go, first.readiness.go);
    let shown = readiness_check(ctx(store, &q), p.id, first.check.id).expect("shown");
    assert!(shown.holds);
    assert_eq!(shown.readiness.reasons, first.readiness.reasons);
}

/// "Send this to my surgeon": a conversation started from a check-in that
/// raised a red flag carries the check-in's answers and the fired rule as
/// its card; a refused message writes nothing; the same request twice is
/// stored once; a clinic the patient is not linked to is not found.
#[test]
fn a_red_flag_goes_to_the_surgeon_as_a_card() {
    use needlewise_actions::{ConversationOrigin, RequestKey, start_conversation};
    use needlewise_core::clinic::{Clinic, Ladder, Member, Role};
    use needlewise_core::ids::{AccountId, ClinicId};
    use needlewise_core::records::Account;
    use needlewise_store::clinic::{ClinicAccess, Invite};
    use needlewise_store::conversation::MessageMail;

    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-09-01T08:00:00Z");
    let (p, _) = after_a_home_session(store, t);
    let now = at(t + jiff::SignedDuration::from_hours(30), "UTC");
    let result = checkin(
        ctx(store, &now),
        &p,
        support::checkin(Checkin::Pus, now.date()),
    )
    .expect("check-in");
    let flag = result.episode.clone().expect("a red flag");

    let doctor = Account {
        id: AccountId(uuid::Uuid::now_v7()),
        email: "dr@example.org".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$x".into(),
        created_at: t,
    };
    store.create_account(&doctor).expect("account");
    let clinic = Clinic {
        id: ClinicId(uuid::Uuid::now_v7()),
        name: "Lakeside".into(),
        time_zone: "UTC".into(),
        ladder: Ladder::default(),
        created_at: t,
    };
    store
        .create_clinic(
            &clinic,
            &Member {
                clinic_id: clinic.id,
                account_id: doctor.id,
                role: Role::Clinician,
                display_name: "Dr Lee".into(),
                joined_at: t,
            },
        )
        .expect("clinic");
    let by = ClinicAccess {
        clinic: clinic.id,
        account: doctor.id,
    };
    let mail = MessageMail {
        subject: "needlewise: a new message".into(),
        body: "A patient sent a new message.".into(),
    };
    let origin = ConversationOrigin::Checkin(result.record.id);
    let key = RequestKey::fresh();
    // Not linked yet: not found, nothing written.
    let before = store.checksums().expect("checksums");
    let err = start_conversation(
        ctx(store, &now),
        p.id,
        clinic.id,
        "My check-in",
        "Please look",
        origin,
        vec![],
        Some(key),
        &mail,
    )
    .expect_err("not linked");
    assert!(
        matches!(
            err,
            ActionError::Store(needlewise_store::StoreError::NotFound { .. })
        ),
        "{err:?}"
    );
    assert_eq!(store.checksums().expect("checksums"), before);

    let code = "ab".repeat(32);
    store
        .create_invite(
            &by,
            &Invite {
                clinic_id: clinic.id,
                code_hash: code.clone(),
                label: String::new(),
                created_by: doctor.id,
                created_at: t,
                expires_at: t + jiff::SignedDuration::from_hours(100),
                used_by: None,
                used_at: None,
            },
        )
        .expect("invite");
    store
        .redeem_invite(&code, p.id, &Default::default(), now.timestamp())
        .expect("joined");

    // Too long, or empty: refused by the core's rule, nothing written.
    let before = store.checksums().expect("checksums");
    for (subject, body) in [
        ("My check-in", "x".repeat(4001)),
        ("My check-in", " ".into()),
        ("", "hi".into()),
    ] {
        let err = start_conversation(
            ctx(store, &now),
            p.id,
            clinic.id,
            subject,
            &body,
            origin,
            vec![],
            Some(key),
            &mail,
        )
        .expect_err("refused");
        assert!(matches!(err, ActionError::BadInput(_)), "{err:?}");
    }
    assert_eq!(store.checksums().expect("checksums"), before);

    let (id, first) = start_conversation(
        ctx(store, &now),
        p.id,
        clinic.id,
        "My check-in",
        "Please look",
        origin,
        vec![],
        Some(key),
        &mail,
    )
    .expect("started");
    let again = start_conversation(
        ctx(store, &now),
        p.id,
        clinic.id,
        "My check-in",
        "Please look",
        origin,
        vec![],
        Some(key),
        &mail,
    )
    .expect("the same request");
    assert_eq!(first, needlewise_store::conversation::Posted::Stored);
    assert_eq!(
        again,
        (id, needlewise_store::conversation::Posted::AlreadyStored)
    );
    assert_eq!(store.patient_conversations(p.id).expect("list").len(), 1);
    assert_eq!(
        store
            .emails(10)
            .expect("emails")
            .iter()
            .filter(|e| e.to == "dr@example.org")
            .count(),
        1
    );
    let thread = store
        .clinic_conversation(&by, p.id, id, now.timestamp())
        .expect("the clinician reads it");
    let card = thread.summary.conversation.origin.clone().expect("a card");
    assert_eq!(card.episode_id, Some(flag.id));
    assert_eq!(card.checkin_id, result.record.id);
    assert_eq!(
        card.rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        result.record.rule_ids
    );
    assert!(card.rules.iter().all(|r| !r.explanation.is_empty()));
    assert!(
        card.answers
            .iter()
            .any(|a| a.answer == "Yes" && a.question.to_lowercase().contains("pus")),
        "{:?}",
        card.answers
    );
    assert!(thread.summary.conversation.from_red_flag());
    assert_eq!(thread.messages[0].body, "Please look");
}

/// Appointments through the actions: hours refused with the core's
/// problems (nothing stored), a booking sent twice stored once, a taken
/// slot refused in plain words, a reschedule and a cancellation sent twice
/// each done once, the free slots following along, in the clinic's zone.
#[test]
fn appointments_are_booked_moved_and_cancelled_once_per_request() {
    use needlewise_actions::{
        Asker, NoMail, RequestKey, book_appointment, cancel_appointment, free_slots,
        reschedule_appointment, set_clinic_hours,
    };
    use needlewise_core::appointment::{Hours, Opening, Status};
    use needlewise_core::clinic::{Clinic, Ladder, Member, Role};
    use needlewise_core::ids::{AccountId, ClinicId};
    use needlewise_core::records::Account;
    use needlewise_store::clinic::{ClinicAccess, Invite};

    let s = support::sqlite();
    let store = s.store.as_ref();
    let t = ts("2026-10-20T08:00:00Z");
    let now = at(t, "Europe/Paris");
    let doctor = Account {
        id: AccountId(uuid::Uuid::now_v7()),
        email: "dr@example.org".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$x".into(),
        created_at: t,
    };
    store.create_account(&doctor).expect("account");
    let clinic = Clinic {
        id: ClinicId(uuid::Uuid::now_v7()),
        name: "Lakeside".into(),
        time_zone: "Europe/Paris".into(),
        ladder: Ladder::default(),
        created_at: t,
    };
    store
        .create_clinic(
            &clinic,
            &Member {
                clinic_id: clinic.id,
                account_id: doctor.id,
                role: Role::Clinician,
                display_name: "Dr Lee".into(),
                joined_at: t,
            },
        )
        .expect("clinic");
    let by = ClinicAccess {
        clinic: clinic.id,
        account: doctor.id,
    };
    let morning = Opening {
        start: jiff::civil::time(9, 0, 0, 0),
        end: jiff::civil::time(10, 0, 0, 0),
    };
    let mut hours = Hours {
        week: std::array::from_fn(|_| vec![morning]),
        slot_minutes: 200,
        closed: Default::default(),
    };
    let before = store.checksums().expect("checksums");
    let problems = set_clinic_hours(ctx(store, &now), &by, &hours).expect("checked");
    assert_eq!(problems.len(), 1 + 7, "{problems:?}");
    assert_eq!(problems[0].field, "slot_minutes");
    assert_eq!(store.checksums().expect("checksums"), before);
    hours.slot_minutes = 30;
    assert!(
        set_clinic_hours(ctx(store, &now), &by, &hours)
            .expect("set")
            .is_empty()
    );

    let ada = support::person(store, t, Some("America/New_York"));
    let code = "cd".repeat(32);
    store
        .create_invite(
            &by,
            &Invite {
                clinic_id: clinic.id,
                code_hash: code.clone(),
                label: String::new(),
                created_by: doctor.id,
                created_at: t,
                expires_at: t + jiff::SignedDuration::from_hours(100),
                used_by: None,
                used_at: None,
            },
        )
        .expect("invite");
    store
        .redeem_invite(&code, ada.id, &Default::default(), t)
        .expect("joined");

    // 08:00Z is 10:00 in Paris: today's morning has gone. The clocks go
    // back on Sunday 25 October; 09:00 in Paris is 07:00Z before, 08:00Z
    // after.
    let free = free_slots(ctx(store, &now), clinic.id, 7).expect("free");
    // Six mornings of two slots: the seventh ends after the week.
    assert_eq!(free.len(), 12);
    assert_eq!(free[0].start, ts("2026-10-21T07:00:00Z"));
    assert_eq!(free[8].start, ts("2026-10-25T08:00:00Z"));

    let key = RequestKey::fresh();
    let book = |key| {
        book_appointment(
            ctx(store, &now),
            Asker::Patient,
            ada.id,
            clinic.id,
            free[0].start,
            None,
            "First visit",
            Some(key),
            &NoMail,
        )
    };
    let (a, first) = book(key).expect("booked");
    let (again, second) = book(key).expect("the same request");
    assert_eq!(a, again);
    assert_eq!(
        (first, second),
        (
            needlewise_store::conversation::Posted::Stored,
            needlewise_store::conversation::Posted::AlreadyStored
        )
    );
    let err = book(RequestKey::fresh()).expect_err("taken");
    assert!(matches!(err, ActionError::Conflict(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Someone has just booked that time. Choose another one."
    );
    assert_eq!(
        free_slots(ctx(store, &now), clinic.id, 7)
            .expect("free")
            .len(),
        11
    );

    let move_key = RequestKey::fresh();
    let moved = || {
        reschedule_appointment(
            ctx(store, &now),
            Asker::Patient,
            ada.id,
            a.id,
            free[1].start,
            "Thursday suits me better",
            Some(move_key),
            &NoMail,
        )
    };
    let old = moved().expect("moved");
    assert_eq!(old.status, Status::Rescheduled);
    assert_eq!(moved().expect("the same request"), old);
    let new_id = needlewise_core::ids::AppointmentId(move_key.0);
    let cancel = || {
        cancel_appointment(
            ctx(store, &now),
            Asker::Clinic(&by),
            ada.id,
            new_id,
            "The surgeon is away",
            &NoMail,
        )
    };
    let cancelled = cancel().expect("cancelled");
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(cancel().expect("the same request"), cancelled);
    let err = cancel_appointment(
        ctx(store, &now),
        Asker::Patient,
        ada.id,
        new_id,
        "again",
        &NoMail,
    )
    .expect_err("already cancelled");
    assert_eq!(
        err.to_string(),
        "This appointment is no longer booked (cancelled)."
    );
    assert_eq!(
        free_slots(ctx(store, &now), clinic.id, 7)
            .expect("free")
            .len(),
        12
    );
}
