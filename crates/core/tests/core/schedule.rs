//! The schedule: waits in elapsed time from the last session's end, dates
//! shown in the asking zone, and the course from what happened.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use needlewise_core::evidence;
use needlewise_core::records::SessionRecord;
use needlewise_core::schedule::{
    CourseStatus, LastSession, NextSession, course_plan, next_session,
};
use proptest::prelude::*;

use crate::support::{ZONES, session_from, t, zone};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn utc(s: &str) -> ZonedDateTime {
    t(s).to_zoned_datetime(TimeZone::UTC)
}

fn last(ended: &str, mm: f64) -> Option<LastSession> {
    Some(LastSession {
        ended_at: t(ended),
        needle_length_mm: mm,
    })
}

#[test]
fn short_needles_wait_three_days() {
    let next = next_session(
        evidence(),
        last("2026-11-20T19:30:00Z", 0.25),
        false,
        &utc("2026-11-22T08:00:00Z"),
    );
    match next {
        NextSession::After {
            earliest,
            earliest_at,
            last,
            last_at,
            now_ok,
            by_protocol,
            ..
        } => {
            assert_eq!(earliest, d("2026-11-23"));
            assert_eq!(earliest_at, t("2026-11-23T19:30:00Z"));
            assert_eq!(last, d("2026-11-20"));
            assert_eq!(last_at, t("2026-11-20T19:30:00Z"));
            assert!(!now_ok);
            assert!(!by_protocol);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_wait_ends_at_the_time_of_day_the_session_ended() {
    // Changed for issue 14: this used to say yes all day on 2026-11-23 (the
    // wait was counted in calendar days). It is 72 hours from the end of
    // the session, so the morning of the third day is still too soon.
    let ask = |now: &str| {
        next_session(
            evidence(),
            last("2026-11-20T19:30:00Z", 0.25),
            false,
            &utc(now),
        )
    };
    assert!(!ask("2026-11-23T08:00:00Z").allowed_now());
    assert!(!ask("2026-11-23T19:29:59Z").allowed_now());
    assert!(ask("2026-11-23T19:30:00Z").allowed_now());
    assert!(ask("2026-11-24T08:00:00Z").allowed_now());
}

#[test]
fn half_millimetre_needles_wait_four_weeks() {
    // Four weeks from the end of the session: 672 hours. (The old test
    // asked on 2026-12-18 with no time of day and expected a yes; in the
    // morning of that day the wait is not over yet.)
    let ask = |now: &str| {
        next_session(
            evidence(),
            last("2026-11-20T19:30:00Z", 0.5),
            false,
            &utc(now),
        )
    };
    let next = ask("2026-12-18T20:00:00Z");
    assert_eq!(next.earliest(), Some(d("2026-12-18")));
    assert!(matches!(next, NextSession::After { now_ok: true, .. }));
    assert!(next.allowed_now());
    let morning = ask("2026-12-18T08:00:00Z");
    assert_eq!(morning.earliest(), Some(d("2026-12-18")));
    assert!(matches!(morning, NextSession::After { now_ok: false, .. }));
}

#[test]
fn the_band_boundary_belongs_to_the_shorter_wait() {
    let next = next_session(
        evidence(),
        last("2026-11-20T10:00:00Z", 0.3),
        false,
        &utc("2026-11-20T12:00:00Z"),
    );
    assert_eq!(next.earliest(), Some(d("2026-11-23")));
    assert!(matches!(
        next,
        NextSession::After { earliest_at, .. } if earliest_at == t("2026-11-23T10:00:00Z")
    ));
}

#[test]
fn an_open_red_flag_gives_no_date() {
    let next = next_session(
        evidence(),
        last("2026-01-01T10:00:00Z", 0.25),
        true,
        &utc("2026-11-25T10:00:00Z"),
    );
    assert!(matches!(next, NextSession::Locked { .. }));
    assert_eq!(next.earliest(), None);
    assert!(!next.allowed_now());
}

#[test]
fn a_clinic_length_needle_has_no_home_interval() {
    let next = next_session(
        evidence(),
        last("2026-11-01T10:00:00Z", 1.0),
        false,
        &utc("2026-11-25T10:00:00Z"),
    );
    assert!(matches!(next, NextSession::ClinicOnly { .. }));
    assert_eq!(next.earliest(), None);
    assert!(!next.allowed_now(), "no date is no permission");
}

#[test]
fn the_first_session_can_be_today_in_the_persons_zone() {
    let first = next_session(evidence(), None, false, &utc("2026-11-25T10:00:00Z"));
    assert_eq!(first.earliest(), Some(d("2026-11-25")));
    assert!(first.allowed_now());
    // 20:00Z on the 25th is already the 26th at +14 h.
    let kiritimati = t("2026-11-25T20:00:00Z").to_zoned_datetime(zone("Pacific/Kiritimati"));
    assert_eq!(
        next_session(evidence(), None, false, &kiritimati).earliest(),
        Some(d("2026-11-26"))
    );
}

/// Issue 14's reproduction: a session logged with the profile in UTC at
/// 23:28Z on 09-01 (01:28 on 09-02 in Berlin); with the profile moved to
/// Europe/Berlin, readiness said go at 22:30Z on 09-03, about 47 hours
/// later (already 09-04 in Berlin, the old "earliest date").
#[test]
fn a_three_day_wait_is_72_hours_in_every_zone() {
    let ended = t("2026-09-01T23:28:00Z");
    let mut shown = Vec::new();
    for name in ZONES {
        let tz = zone(name);
        let ask = |now: &str| {
            next_session(
                evidence(),
                Some(LastSession {
                    ended_at: ended,
                    needle_length_mm: 0.25,
                }),
                false,
                &t(now).to_zoned_datetime(tz.clone()),
            )
        };
        let early = ask("2026-09-03T22:30:00Z");
        let NextSession::After {
            earliest,
            earliest_at,
            last,
            last_at,
            now_ok,
            ..
        } = early
        else {
            panic!("{name}: {early:?}");
        };
        assert!(!now_ok, "{name}: 47 hours after the session");
        assert_eq!(earliest_at, t("2026-09-04T23:28:00Z"), "{name}");
        assert_eq!(earliest, earliest_at.to_zoned_datetime(tz.clone()).date());
        assert_eq!(last_at, ended, "{name}");
        assert_eq!(last, ended.to_zoned_datetime(tz.clone()).date());
        shown.push((name, last, earliest));

        assert!(!ask("2026-09-04T23:27:59Z").allowed_now(), "{name}");
        let exact = ask("2026-09-04T23:28:00Z");
        assert!(exact.allowed_now(), "{name}: exactly 72 hours");
        assert!(matches!(exact, NextSession::After { now_ok: true, .. }));
        assert_eq!(exact.earliest(), Some(earliest), "{name}");
    }
    // The dates shown are the same instants in each zone.
    assert_eq!(
        shown,
        [
            ("UTC", d("2026-09-01"), d("2026-09-04")),
            ("Europe/Berlin", d("2026-09-02"), d("2026-09-05")),
            ("America/Los_Angeles", d("2026-09-01"), d("2026-09-04")),
            ("Pacific/Kiritimati", d("2026-09-02"), d("2026-09-05")),
        ]
    );
}

#[test]
fn a_wait_does_not_shrink_across_a_daylight_saving_change() {
    // Berlin leaves summer time on 2026-10-25: three calendar days from
    // 10-24 20:00 local are 73 hours, but the wait is still 72.
    let berlin = zone("Europe/Berlin");
    let next = next_session(
        evidence(),
        last("2026-10-24T18:00:00Z", 0.25),
        false,
        &t("2026-10-27T17:59:59Z").to_zoned_datetime(berlin.clone()),
    );
    assert!(!next.allowed_now());
    let next = next_session(
        evidence(),
        last("2026-10-24T18:00:00Z", 0.25),
        false,
        &t("2026-10-27T18:00:00Z").to_zoned_datetime(berlin),
    );
    assert!(next.allowed_now(), "72 hours, not 3 local days");
}

/// Zones with odd offsets besides issue 14's four: half and quarter hours,
/// a 30-minute daylight-saving shift, and the southern hemisphere.
const MORE_ZONES: [&str; 4] = [
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
];

fn any_zone() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        ZONES
            .iter()
            .chain(MORE_ZONES.iter())
            .copied()
            .collect::<Vec<_>>(),
    )
}

/// A needle length within the home bands, in hundredths of a millimetre.
fn home_needle() -> impl Strategy<Value = f64> {
    (1u32..=50).prop_map(|h| f64::from(h) / 100.0)
}

/// The wait the evidence sets for a home needle, in hours.
fn wait_hours(mm: f64) -> i64 {
    if mm <= 0.3 { 72 } else { 28 * 24 }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_wait_is_over_exactly_when_its_hours_have_passed(
        end_secs in 1_600_000_000i64..2_000_000_000,
        mm in home_needle(),
        zone_name in any_zone(),
        other_zone in any_zone(),
        // Anywhere in the wait and after it, or within two minutes of its end.
        near_end in any::<bool>(),
        offset in -2 * 86_400i64..35 * 86_400,
        jitter in -120i64..=120,
    ) {
        let ended_at = Timestamp::from_second(end_secs).unwrap();
        let wait = SignedDuration::from_hours(wait_hours(mm));
        let now = if near_end {
            ended_at + wait + SignedDuration::from_secs(jitter)
        } else {
            ended_at + SignedDuration::from_secs(offset)
        };
        let tz = zone(zone_name);
        let zoned = now.to_zoned_datetime(tz.clone());
        let l = Some(LastSession { ended_at, needle_length_mm: mm });
        let next = next_session(evidence(), l, false, &zoned);
        let NextSession::After { earliest, earliest_at, last, now_ok, .. } = next.clone() else {
            panic!("{next:?}");
        };
        prop_assert_eq!(now_ok, now >= ended_at + wait);
        prop_assert_eq!(next.allowed_now(), now_ok);
        prop_assert_eq!(earliest_at, ended_at + wait);
        prop_assert_eq!(earliest, earliest_at.to_zoned_datetime(tz.clone()).date());
        prop_assert_eq!(last, ended_at.to_zoned_datetime(tz).date());
        // The same instant asked in another zone gives the same answer.
        let elsewhere = now.to_zoned_datetime(zone(other_zone));
        prop_assert_eq!(next_session(evidence(), l, false, &elsewhere).allowed_now(), now_ok);
    }
}

// The course.

/// Sessions starting at 10:00Z on each of these days.
fn sessions_on(days: &[&str], mm: f64) -> Vec<SessionRecord> {
    days.iter()
        .map(|day| session_from(t(&format!("{day}T10:00:00Z")), mm))
        .collect()
}

fn done(plan: &needlewise_core::schedule::CoursePlan) -> usize {
    plan.sessions.iter().filter(|s| s.done).count()
}

#[test]
fn a_course_spaces_sessions_by_the_longer_of_course_and_healing() {
    let sessions = sessions_on(&["2026-12-01"], 0.25);
    let short = course_plan(evidence(), &sessions, 0.25, &utc("2026-12-02T08:00:00Z"));
    let dates: Vec<String> = short.sessions.iter().map(|s| s.date.to_string()).collect();
    assert_eq!(
        dates,
        ["2026-12-01", "2026-12-31", "2027-01-30", "2027-03-01"]
    );
    assert_eq!(done(&short), 1);
    assert!(short.sessions[0].done);
    assert_eq!(short.review_on, Some(d("2027-03-01")));
    assert_eq!(short.status, CourseStatus::InProgress);
    // 0.5 mm: four weeks of healing is shorter than the 30-day course wait.
    // Nothing done yet: the plan starts today.
    let long = course_plan(evidence(), &[], 0.5, &utc("2026-12-01T08:00:00Z"));
    assert_eq!(long.sessions[0].date, d("2026-12-01"));
    assert_eq!(long.sessions[1].date, d("2026-12-31"));
    assert_eq!(done(&long), 0);
    assert_eq!(long.status, CourseStatus::NotStarted);
}

/// Issue 14's reproduction: on 2026-10-13, `next` showed session 4 of
/// 2026-11-30 as done because it counted sessions, not dates.
#[test]
fn the_course_counts_only_sessions_that_have_happened() {
    let sessions = sessions_on(
        &["2026-09-01", "2026-10-01", "2026-10-31", "2026-11-30"],
        0.25,
    );
    let plan = course_plan(evidence(), &sessions, 0.25, &utc("2026-10-13T12:00:00Z"));
    let marks: Vec<(u32, bool)> = plan.sessions.iter().map(|s| (s.number, s.done)).collect();
    assert_eq!(marks, [(1, true), (2, true), (3, false), (4, false)]);
    assert_eq!(plan.status, CourseStatus::InProgress);
    assert_eq!(plan.sessions[2].date, d("2026-10-31"));
    assert_eq!(plan.sessions[3].date, d("2026-11-30"));
    // In any order; a session that starts exactly now counts.
    let mut reversed = sessions.clone();
    reversed.reverse();
    let at_start = course_plan(evidence(), &reversed, 0.25, &utc("2026-10-31T10:00:00Z"));
    assert_eq!(done(&at_start), 3);
    let before = course_plan(evidence(), &reversed, 0.25, &utc("2026-10-31T09:59:59Z"));
    assert_eq!(done(&before), 2);
}

#[test]
fn done_sessions_show_their_day_in_the_persons_zone() {
    // 23:28Z on 09-01 is 09-02 in Berlin and 09-01 in Los Angeles.
    let sessions = vec![session_from(t("2026-09-01T23:28:00Z"), 0.25)];
    let now = t("2026-09-10T12:00:00Z");
    let berlin = course_plan(
        evidence(),
        &sessions,
        0.25,
        &now.to_zoned_datetime(zone("Europe/Berlin")),
    );
    assert_eq!(berlin.sessions[0].date, d("2026-09-02"));
    assert_eq!(berlin.review_on, Some(d("2026-12-01")));
    let la = course_plan(
        evidence(),
        &sessions,
        0.25,
        &now.to_zoned_datetime(zone("America/Los_Angeles")),
    );
    assert_eq!(la.sessions[0].date, d("2026-09-01"));
    assert_eq!(la.review_on, Some(d("2026-11-30")));
}

#[test]
fn two_hundred_sessions_finish_the_course() {
    let start = t("2025-01-01T10:00:00Z");
    let sessions: Vec<SessionRecord> = (0..200)
        .map(|i| session_from(start + SignedDuration::from_hours(72 * i), 0.25))
        .collect();
    let plan = course_plan(evidence(), &sessions, 0.25, &utc("2026-11-25T12:00:00Z"));
    assert_eq!(plan.status, CourseStatus::Finished);
    assert_eq!(plan.sessions.len(), 4);
    assert!(plan.sessions.iter().all(|s| s.done));
    assert_eq!(plan.sessions[0].date, d("2025-01-01"));
    assert_eq!(plan.review_on, Some(d("2025-04-01")));
    assert!(plan.status_words().contains("finished"));
}

#[test]
fn a_course_past_its_review_unfinished_has_lapsed() {
    let sessions = sessions_on(&["2026-01-05", "2026-02-04"], 0.25);
    let at = |now: &str| course_plan(evidence(), &sessions, 0.25, &utc(now));
    let on_review = at("2026-04-05T12:00:00Z");
    assert_eq!(on_review.review_on, Some(d("2026-04-05")));
    assert_eq!(
        on_review.status,
        CourseStatus::InProgress,
        "not past it yet"
    );
    let lapsed = at("2026-04-06T12:00:00Z");
    assert_eq!(lapsed.status, CourseStatus::Lapsed);
    assert_eq!(done(&lapsed), 2);
    assert!(lapsed.status_words().contains("review date"));
    // What is left is planned from today, not in the past.
    let later = at("2026-06-01T12:00:00Z");
    assert_eq!(later.status, CourseStatus::Lapsed);
    assert_eq!(later.sessions[2].date, d("2026-06-01"));
    assert_eq!(later.sessions[3].date, d("2026-07-01"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_course_is_what_happened_and_plans_nothing_before_today(
        starts in prop::collection::vec(1_700_000_000i64..1_900_000_000, 0..8),
        now_secs in 1_700_000_000i64..1_950_000_000,
        mm in home_needle(),
        zone_name in any_zone(),
    ) {
        let sessions: Vec<SessionRecord> = starts
            .iter()
            .map(|s| session_from(Timestamp::from_second(*s).unwrap(), mm))
            .collect();
        let now = Timestamp::from_second(now_secs).unwrap().to_zoned_datetime(zone(zone_name));
        let plan = course_plan(evidence(), &sessions, mm, &now);
        let happened = starts.iter().filter(|s| **s <= now_secs).count();
        let total = evidence().defaults.course.sessions as usize;
        prop_assert_eq!(plan.sessions.len(), total);
        prop_assert_eq!(done(&plan), happened.min(total));
        // Done sessions first, then the planned ones, never before today.
        let done_flags: Vec<bool> = plan.sessions.iter().map(|s| s.done).collect();
        let mut sorted = done_flags.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        prop_assert_eq!(&done_flags, &sorted);
        for s in plan.sessions.iter().filter(|s| !s.done) {
            prop_assert!(s.date >= now.date(), "{:?} before {}", s, now.date());
        }
        let dates: Vec<Date> = plan.sessions.iter().map(|s| s.date).collect();
        prop_assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{:?}", dates);
        let expected = if happened == 0 {
            CourseStatus::NotStarted
        } else if happened >= total {
            CourseStatus::Finished
        } else if plan.review_on.is_some_and(|r| now.date() > r) {
            CourseStatus::Lapsed
        } else {
            CourseStatus::InProgress
        };
        prop_assert_eq!(plan.status, expected);
    }
}
