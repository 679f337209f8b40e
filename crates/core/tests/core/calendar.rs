use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::calendar::{
    ALL_DAY_ALARM, CalendarFacts, CalendarModel, EventKind, EventTime, build,
};
use needlewise_core::evidence;
use needlewise_core::hygiene::{Device, DeviceKind, HygieneState, PenSpec, RollerSpec};
use needlewise_core::ids::{DeviceId, ProfileId, SessionId};
use needlewise_core::records::{SessionRecord, SessionSetting};
use uuid::Uuid;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn profile() -> ProfileId {
    ProfileId(Uuid::from_u128(0x0197_0000_0000_7000_8000_0000_0000_0001))
}

fn session(date: &str, ended: &str, mm: f64) -> SessionRecord {
    let ended_at = t(ended);
    SessionRecord {
        id: SessionId(Uuid::from_u128(ended_at.as_second() as u128)),
        profile_id: profile(),
        device_id: None,
        started_at: ended_at - SignedDuration::from_mins(20),
        ended_at,
        local_date: d(date),
        needle_length_mm: mm,
        zones: vec![],
        products: vec![],
        notes: String::new(),
        setting: SessionSetting::Home,
        readiness_check_id: None,
    }
}

fn roller(uses: u32) -> Device {
    let mut r = Device::new(
        DeviceId(Uuid::from_u128(7)),
        profile(),
        "Bathroom roller, 0.5 mm; \"blue\"".into(),
        DeviceKind::Roller(RollerSpec::standard_192(0.5)),
        t("2026-11-01T10:00:00Z"),
    )
    .unwrap();
    r.use_count = uses;
    r.state = HygieneState::Used;
    r
}

fn calendar(
    sessions: &[SessionRecord],
    locked: bool,
    devices: &[Device],
    now: &str,
) -> CalendarModel {
    calendar_in(sessions, locked, devices, now, jiff::tz::TimeZone::UTC)
}

fn calendar_in(
    sessions: &[SessionRecord],
    locked: bool,
    devices: &[Device],
    now: &str,
    tz: jiff::tz::TimeZone,
) -> CalendarModel {
    build(
        evidence(),
        &CalendarFacts {
            profile: profile(),
            profile_name: "Ada",
            sessions,
            locked,
            devices,
            appointments: &[],
        },
        &t(now).to_zoned_datetime(tz),
    )
}

fn of_kind(c: &CalendarModel, kind: EventKind) -> Vec<EventTime> {
    c.events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.when)
        .collect()
}

fn one_session() -> Vec<SessionRecord> {
    vec![session("2026-11-20", "2026-11-20T19:30:00Z", 0.5)]
}

#[test]
fn a_logged_session_gives_next_session_course_checkins_and_alarms() {
    let sessions = one_session();
    let c = calendar(&sessions, false, &[roller(8)], "2026-11-21T08:00:00Z");
    assert_eq!(c.name, "needlewise: Ada");
    assert_eq!(c.generated_at, t("2026-11-21T08:00:00Z"));

    // A 0.5 mm needle waits four weeks.
    assert_eq!(
        of_kind(&c, EventKind::NextSession),
        vec![EventTime::AllDay(d("2026-12-18"))]
    );
    // The course: sessions 30 days apart from the first, then a review at
    // 90 days; session 1 is done.
    assert_eq!(
        of_kind(&c, EventKind::CourseSession),
        vec![
            EventTime::AllDay(d("2026-12-20")),
            EventTime::AllDay(d("2027-01-19")),
            EventTime::AllDay(d("2027-02-18")),
        ]
    );
    assert_eq!(
        of_kind(&c, EventKind::CourseReview),
        vec![EventTime::AllDay(d("2027-02-18"))]
    );
    // Check-ins at 24 h, 72 h, 7 and 14 days after the session ended.
    assert_eq!(
        of_kind(&c, EventKind::Checkin),
        vec![
            EventTime::At(t("2026-11-21T19:30:00Z")),
            EventTime::At(t("2026-11-23T19:30:00Z")),
            EventTime::At(t("2026-11-27T19:30:00Z")),
            EventTime::At(t("2026-12-04T19:30:00Z")),
        ]
    );
    // Two uses left: a reminder on the next session's day.
    assert_eq!(
        of_kind(&c, EventKind::ReplaceDevice),
        vec![EventTime::AllDay(d("2026-12-18"))]
    );
    assert_eq!(c.events.len(), 10);

    // Alarms: 9:00 on the day for all-day events, at the time for check-ins.
    for e in &c.events {
        let expected = match e.when {
            EventTime::AllDay(_) => ALL_DAY_ALARM,
            EventTime::At(_) => SignedDuration::ZERO,
            EventTime::Between(..) => unreachable!("no appointments here: {e:?}"),
        };
        assert_eq!(e.alarm.after_start, expected, "{e:?}");
        assert!(!e.alarm.description.is_empty());
        assert!(e.summary.starts_with("Microneedling: "), "{}", e.summary);
    }
    assert_eq!(ALL_DAY_ALARM, SignedDuration::from_hours(9));

    // Earliest first.
    let dates: Vec<Date> = c.events.iter().map(|e| e.when.date()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
}

#[test]
fn uids_are_stable_across_calls_and_unique() {
    let sessions = one_session();
    let devices = [roller(9)];
    let a = calendar(&sessions, false, &devices, "2026-11-21T08:00:00Z");
    let b = calendar(&sessions, false, &devices, "2026-11-21T08:00:00Z");
    assert_eq!(a, b, "the same facts and time give the same calendar");
    // A later fetch (the same facts) keeps every UID.
    let later = calendar(&sessions, false, &devices, "2026-11-25T18:00:00Z");
    let uids = |c: &CalendarModel| c.events.iter().map(|e| e.uid.clone()).collect::<Vec<_>>();
    assert_eq!(uids(&a), uids(&later));

    let mut unique = uids(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), a.events.len(), "{:?}", uids(&a));
    for e in &a.events {
        assert!(e.uid.contains(&profile().to_string()), "{}", e.uid);
        assert!(e.uid.starts_with(e.kind.id()), "{}", e.uid);
        assert!(e.uid.ends_with("@needlewise"), "{}", e.uid);
    }
    let next = a
        .events
        .iter()
        .find(|e| e.kind == EventKind::NextSession)
        .unwrap();
    assert!(next.uid.contains("2026-12-18"), "{}", next.uid);

    // Another profile with the same schedule gets other UIDs.
    let other = build(
        evidence(),
        &CalendarFacts {
            profile: ProfileId(Uuid::from_u128(99)),
            profile_name: "Cy",
            sessions: &sessions,
            locked: false,
            devices: &devices,
            appointments: &[],
        },
        &t("2026-11-21T08:00:00Z").to_zoned_datetime(jiff::tz::TimeZone::UTC),
    );
    for (x, y) in a.events.iter().zip(&other.events) {
        assert_ne!(x.uid, y.uid);
    }
}

#[test]
fn a_new_session_moves_the_next_date_and_replaces_its_uid() {
    let first = one_session();
    let mut both = vec![session("2026-12-20", "2026-12-20T20:00:00Z", 0.5)];
    both.extend(first.clone());
    let before = calendar(&first, false, &[], "2026-11-21T08:00:00Z");
    let after = calendar(&both, false, &[], "2026-12-21T08:00:00Z");
    assert_eq!(
        of_kind(&after, EventKind::NextSession),
        vec![EventTime::AllDay(d("2027-01-17"))]
    );
    // Course sessions 1 and 2 are done; 3 and 4 keep their dates and UIDs.
    assert_eq!(
        of_kind(&after, EventKind::CourseSession),
        vec![
            EventTime::AllDay(d("2027-01-19")),
            EventTime::AllDay(d("2027-02-18")),
        ]
    );
    let uid_on = |c: &CalendarModel, kind, date: &str| {
        c.events
            .iter()
            .find(|e| e.kind == kind && e.when == EventTime::AllDay(d(date)))
            .map(|e| e.uid.clone())
    };
    assert_eq!(
        uid_on(&before, EventKind::CourseSession, "2027-01-19"),
        uid_on(&after, EventKind::CourseSession, "2027-01-19")
    );
    // Check-ins follow the newest session only.
    assert_eq!(
        of_kind(&after, EventKind::Checkin)[0],
        EventTime::At(t("2026-12-21T20:00:00Z"))
    );
}

#[test]
fn an_open_warning_sign_removes_session_dates_but_keeps_checkins() {
    let sessions = one_session();
    let c = calendar(&sessions, true, &[roller(10)], "2026-11-22T08:00:00Z");
    assert!(of_kind(&c, EventKind::NextSession).is_empty());
    assert!(of_kind(&c, EventKind::CourseSession).is_empty());
    assert!(of_kind(&c, EventKind::CourseReview).is_empty());
    assert_eq!(of_kind(&c, EventKind::Checkin).len(), 4);
    // The roller reminder has no session to come before: today.
    assert_eq!(
        of_kind(&c, EventKind::ReplaceDevice),
        vec![EventTime::AllDay(d("2026-11-22"))]
    );
}

#[test]
fn a_needle_longer_than_home_use_gives_no_session_dates() {
    let sessions = vec![session("2026-11-20", "2026-11-20T19:30:00Z", 1.5)];
    let c = calendar(&sessions, false, &[], "2026-11-21T08:00:00Z");
    assert!(of_kind(&c, EventKind::NextSession).is_empty());
    assert!(of_kind(&c, EventKind::CourseSession).is_empty());
    assert_eq!(of_kind(&c, EventKind::Checkin).len(), 4);
}

#[test]
fn nothing_logged_gives_an_empty_calendar() {
    let c = calendar(&[], false, &[roller(0)], "2026-11-21T08:00:00Z");
    assert!(c.events.is_empty(), "{:?}", c.events);
}

#[test]
fn only_rollers_near_their_limit_or_damaged_get_a_reminder() {
    let sessions = one_session();
    let plenty = roller(7);
    let mut retired = roller(10);
    retired.state = HygieneState::Retired;
    let pen = Device::new(
        DeviceId(Uuid::from_u128(8)),
        profile(),
        "Pen".into(),
        DeviceKind::Pen(PenSpec {
            needles_per_cartridge: 12,
            needle_length_mm: 0.25,
        }),
        t("2026-11-01T10:00:00Z"),
    )
    .unwrap();
    let c = calendar(
        &sessions,
        false,
        &[plenty.clone(), retired, pen.clone()],
        "2026-11-21T08:00:00Z",
    );
    assert!(of_kind(&c, EventKind::ReplaceDevice).is_empty());

    let mut damaged_pen = pen;
    damaged_pen.damaged = true;
    let mut damaged = plenty;
    damaged.damaged = true;
    damaged.id = DeviceId(Uuid::from_u128(9));
    let c = calendar(
        &sessions,
        false,
        &[damaged, damaged_pen],
        "2026-11-21T08:00:00Z",
    );
    let reminders: Vec<_> = c
        .events
        .iter()
        .filter(|e| e.kind == EventKind::ReplaceDevice)
        .collect();
    assert_eq!(reminders.len(), 2);
    assert!(
        reminders
            .iter()
            .any(|e| e.summary.contains("replace your pen"))
    );
    assert!(
        reminders
            .iter()
            .any(|e| e.summary.contains("replace your roller"))
    );
    assert_ne!(reminders[0].uid, reminders[1].uid);
}

#[test]
fn words_are_plain_and_point_to_the_surgeon() {
    let sessions = one_session();
    let c = calendar(&sessions, false, &[roller(9)], "2026-11-21T08:00:00Z");
    for e in &c.events {
        let text =
            format!("{} {} {}", e.summary, e.description, e.alarm.description).to_lowercase();
        for word in ["infection", "diagnos", "disease", "herpes", "allerg"] {
            assert!(!text.contains(word), "{word:?} in {text}");
        }
    }
    let next = c
        .events
        .iter()
        .find(|e| e.kind == EventKind::NextSession)
        .unwrap();
    assert!(next.description.contains("facial plastic surgeon"));
    assert!(
        next.description.contains("4 weeks") || next.description.contains("28"),
        "{}",
        next.description
    );
    let checkin = c
        .events
        .iter()
        .find(|e| e.kind == EventKind::Checkin)
        .unwrap();
    assert!(
        checkin.summary.contains("1 day after"),
        "{}",
        checkin.summary
    );
    assert!(checkin.description.contains("facial plastic surgeon"));
}

#[test]
fn the_next_session_is_the_end_instant_plus_the_wait_in_the_persons_zone() {
    // The session ended at 19:30Z on 11-20; 0.5 mm waits 672 hours, so the
    // next may start from 19:30Z on 12-18: 20:30 in Berlin (winter time),
    // 11:30 in Los Angeles, and 09:30 the next day in Kiritimati.
    let sessions = one_session();
    for (name, last, day, time) in [
        ("UTC", "2026-11-20", "2026-12-18", "19:30"),
        ("Europe/Berlin", "2026-11-20", "2026-12-18", "20:30"),
        ("America/Los_Angeles", "2026-11-20", "2026-12-18", "11:30"),
        ("Pacific/Kiritimati", "2026-11-21", "2026-12-19", "09:30"),
    ] {
        let c = calendar_in(
            &sessions,
            false,
            &[],
            "2026-11-21T08:00:00Z",
            crate::support::zone(name),
        );
        assert_eq!(
            of_kind(&c, EventKind::NextSession),
            vec![EventTime::AllDay(d(day))],
            "{name}"
        );
        let next = c
            .events
            .iter()
            .find(|e| e.kind == EventKind::NextSession)
            .unwrap();
        assert!(
            next.description.contains(&format!("From {time} ")),
            "{name}: {}",
            next.description
        );
        assert!(
            next.description
                .contains(&format!("your last one, on {last}.")),
            "{name}: {}",
            next.description
        );
        assert!(next.uid.contains(day), "{name}: {}", next.uid);
    }
}

/// A booked appointment still to come is an event from its start to its
/// end with a reminder two hours before, under a UID made from its id
/// only (the invitation's); a cancelled or past one is not.
#[test]
fn booked_appointments_to_come_are_events_with_a_reminder() {
    use needlewise_core::appointment::{Actor, Appointment, Slot, Status};
    use needlewise_core::calendar::appointment_uid;
    use needlewise_core::conversation::Side;
    use needlewise_core::ids::{AccountId, AppointmentId, ClinicId};
    let appointment = |n: u128, start: &str, status: Status| Appointment {
        id: AppointmentId(Uuid::from_u128(n)),
        clinic_id: ClinicId(Uuid::from_u128(7)),
        profile_id: profile(),
        slot: Slot {
            start: t(start),
            end: t(start) + SignedDuration::from_mins(30),
        },
        status,
        note: String::new(),
        conversation_id: None,
        proposal_id: None,
        replaces: None,
        booked_by: Actor {
            side: Side::Patient,
            account: AccountId(Uuid::from_u128(8)),
            name: "Ada".into(),
        },
        booked_at: t("2026-11-01T08:00:00Z"),
        ended: None,
        sequence: 0,
    };
    let list = vec![
        (
            appointment(1, "2026-11-25T09:00:00Z", Status::Booked),
            "Lakeside".to_owned(),
        ),
        (
            appointment(2, "2026-11-26T09:00:00Z", Status::Cancelled),
            "Lakeside".to_owned(),
        ),
        (
            appointment(3, "2026-11-20T09:00:00Z", Status::Booked),
            "Lakeside".to_owned(),
        ),
    ];
    let c = build(
        evidence(),
        &CalendarFacts {
            profile: profile(),
            profile_name: "Ada",
            sessions: &[],
            locked: false,
            devices: &[],
            appointments: &list,
        },
        &t("2026-11-21T08:00:00Z").to_zoned_datetime(jiff::tz::TimeZone::UTC),
    );
    let events: Vec<_> = c
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Appointment)
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = events[0];
    assert_eq!(
        e.when,
        EventTime::Between(t("2026-11-25T09:00:00Z"), t("2026-11-25T09:30:00Z"))
    );
    assert_eq!(e.uid, appointment_uid(AppointmentId(Uuid::from_u128(1))));
    assert_eq!(e.summary, "Appointment at Lakeside");
    assert_eq!(e.alarm.after_start, SignedDuration::from_hours(-2));
}
