use jiff::civil::Date;
use needlewise_core::evidence;
use needlewise_core::schedule::{LastSession, NextSession, course_plan, next_session};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

#[test]
fn short_needles_wait_three_days() {
    let next = next_session(
        evidence(),
        Some(LastSession {
            date: d("2026-11-20"),
            needle_length_mm: 0.25,
        }),
        false,
        d("2026-11-22"),
    );
    match next {
        NextSession::After {
            earliest, today_ok, ..
        } => {
            assert_eq!(earliest, d("2026-11-23"));
            assert!(!today_ok);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn half_millimetre_needles_wait_four_weeks() {
    let next = next_session(
        evidence(),
        Some(LastSession {
            date: d("2026-11-20"),
            needle_length_mm: 0.5,
        }),
        false,
        d("2026-12-18"),
    );
    assert_eq!(next.earliest(), Some(d("2026-12-18")));
    assert!(matches!(next, NextSession::After { today_ok: true, .. }));
}

#[test]
fn the_band_boundary_belongs_to_the_shorter_wait() {
    let next = next_session(
        evidence(),
        Some(LastSession {
            date: d("2026-11-20"),
            needle_length_mm: 0.3,
        }),
        false,
        d("2026-11-20"),
    );
    assert_eq!(next.earliest(), Some(d("2026-11-23")));
}

#[test]
fn an_open_red_flag_gives_no_date() {
    let next = next_session(
        evidence(),
        Some(LastSession {
            date: d("2026-01-01"),
            needle_length_mm: 0.25,
        }),
        true,
        d("2026-11-25"),
    );
    assert!(matches!(next, NextSession::Locked { .. }));
    assert_eq!(next.earliest(), None);
}

#[test]
fn a_clinic_length_needle_has_no_home_interval() {
    let next = next_session(
        evidence(),
        Some(LastSession {
            date: d("2026-11-01"),
            needle_length_mm: 1.0,
        }),
        false,
        d("2026-11-25"),
    );
    assert!(matches!(next, NextSession::ClinicOnly { .. }));
}

#[test]
fn the_first_session_can_be_today() {
    assert_eq!(
        next_session(evidence(), None, false, d("2026-11-25")).earliest(),
        Some(d("2026-11-25"))
    );
}

#[test]
fn a_course_spaces_sessions_by_the_longer_of_course_and_healing() {
    let short = course_plan(evidence(), d("2026-12-01"), 0.25, 1);
    let dates: Vec<String> = short.sessions.iter().map(|s| s.date.to_string()).collect();
    assert_eq!(
        dates,
        ["2026-12-01", "2026-12-31", "2027-01-30", "2027-03-01"]
    );
    assert_eq!(short.sessions.iter().filter(|s| s.done).count(), 1);
    assert_eq!(short.review_on, Some(d("2027-03-01")));
    // 0.5 mm: four weeks of healing is shorter than the 30-day course wait.
    let long = course_plan(evidence(), d("2026-12-01"), 0.5, 0);
    assert_eq!(long.sessions[1].date, d("2026-12-31"));
}
