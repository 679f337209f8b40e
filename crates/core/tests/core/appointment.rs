//! Appointments: opening hours, free slots (in the clinic's zone, across
//! daylight-saving changes and closed days), proposals, and an
//! appointment's life; who may schedule.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, date, time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::appointment::{
    Actor, Appointment, Hours, MAX_PROPOSED, Opening, Problem, Proposal, Slot, Status, bookable,
    check_proposal, note, required_reason,
};
use needlewise_core::clinic::{
    Act, Grant, Refusal, Role, decide, may_set_hours, patient_may_schedule, permits,
};
use needlewise_core::conversation::Side;
use needlewise_core::ids::{
    AccountId, AppointmentId, ClinicId, ConversationId, ProfileId, ProposalId,
};
use uuid::Uuid;

fn fresh() -> Uuid {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    Uuid::from_u128(u128::from(N.fetch_add(1, Ordering::Relaxed)))
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Paris rules without a tz database: CET, CEST from the last Sunday of
/// March 02:00 to the last Sunday of October 03:00.
fn paris() -> TimeZone {
    TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
}

fn open(start: Time, end: Time) -> Opening {
    Opening { start, end }
}

/// Weekdays 09:00–12:00 and 13:00–17:00, half-hour slots.
fn weekdays() -> Hours {
    let day = vec![
        open(time(9, 0, 0, 0), time(12, 0, 0, 0)),
        open(time(13, 0, 0, 0), time(17, 0, 0, 0)),
    ];
    Hours {
        week: [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            vec![],
            vec![],
        ],
        slot_minutes: 30,
        closed: BTreeSet::new(),
    }
}

fn every_day(o: Opening, minutes: u32) -> Hours {
    Hours {
        week: std::array::from_fn(|_| vec![o]),
        slot_minutes: minutes,
        closed: BTreeSet::new(),
    }
}

fn day_range(tz: &TimeZone, d: Date) -> (Timestamp, Timestamp) {
    let from = tz.to_timestamp(d.to_datetime(Time::midnight())).unwrap();
    let until = tz
        .to_timestamp(d.tomorrow().unwrap().to_datetime(Time::midnight()))
        .unwrap();
    (from, until)
}

fn local(tz: &TimeZone, s: &Slot) -> String {
    let a = s.start.to_zoned_datetime(tz.clone());
    let b = s.end.to_zoned_datetime(tz.clone());
    format!("{}-{}", a.strftime("%H:%M"), b.strftime("%H:%M"))
}

#[test]
fn a_weekday_has_its_openings_in_slots_and_a_weekend_none() {
    let tz = paris();
    let h = weekdays();
    // Monday 12 January 2026.
    let (from, until) = day_range(&tz, date(2026, 1, 12));
    let slots = h.slots(&tz, from, until);
    assert_eq!(slots.len(), 6 + 8);
    assert_eq!(local(&tz, &slots[0]), "09:00-09:30");
    assert_eq!(local(&tz, &slots[5]), "11:30-12:00");
    assert_eq!(local(&tz, &slots[6]), "13:00-13:30");
    assert_eq!(slots[0].start, t("2026-01-12T08:00:00Z"));
    // Saturday.
    let (from, until) = day_range(&tz, date(2026, 1, 17));
    assert!(h.slots(&tz, from, until).is_empty());
}

#[test]
fn closed_days_have_no_slots() {
    let tz = paris();
    let mut h = weekdays();
    h.closed.insert(date(2026, 1, 13));
    let (from, _) = day_range(&tz, date(2026, 1, 12));
    let (_, until) = day_range(&tz, date(2026, 1, 14));
    let slots = h.slots(&tz, from, until);
    assert_eq!(slots.len(), 2 * 14, "Monday and Wednesday only");
    assert!(
        slots
            .iter()
            .all(|s| s.start.to_zoned_datetime(tz.clone()).date() != date(2026, 1, 13))
    );
}

#[test]
fn nine_o_clock_stays_nine_o_clock_across_the_spring_change() {
    let tz = paris();
    let h = weekdays();
    // Friday 27 March (CET) and Monday 30 March 2026 (CEST).
    let (from, until) = day_range(&tz, date(2026, 3, 27));
    assert_eq!(
        h.slots(&tz, from, until)[0].start,
        t("2026-03-27T08:00:00Z")
    );
    let (from, until) = day_range(&tz, date(2026, 3, 30));
    assert_eq!(
        h.slots(&tz, from, until)[0].start,
        t("2026-03-30T07:00:00Z")
    );
}

#[test]
fn a_slot_in_the_skipped_hour_is_not_offered() {
    let tz = paris();
    // Open 01:00–04:00 every day, hour slots; 02:00–03:00 does not exist
    // on Sunday 29 March 2026.
    let h = every_day(open(time(1, 0, 0, 0), time(4, 0, 0, 0)), 60);
    let (from, until) = day_range(&tz, date(2026, 3, 29));
    let slots = h.slots(&tz, from, until);
    let shown: Vec<String> = slots.iter().map(|s| local(&tz, s)).collect();
    // 01:00–02:00 ends at a time that does not exist and 02:00–03:00
    // starts at one: neither is offered, so no slot shows a surprising
    // clock time (01:00 to 03:00 for an hour).
    assert_eq!(shown, ["03:00-04:00"]);
    for s in &slots {
        assert_eq!(s.end.duration_since(s.start), SignedDuration::from_hours(1));
    }
    // The day before has all three.
    let (from, until) = day_range(&tz, date(2026, 3, 28));
    assert_eq!(h.slots(&tz, from, until).len(), 3);
}

#[test]
fn a_slot_the_autumn_change_lengthens_is_not_offered() {
    let tz = paris();
    // 01:30–03:30 on Sunday 25 October 2026: 02:00–03:00 happens twice.
    let h = every_day(open(time(1, 30, 0, 0), time(3, 30, 0, 0)), 60);
    let (from, until) = day_range(&tz, date(2026, 10, 25));
    let slots = h.slots(&tz, from, until);
    // 01:30–02:30 (the first 02:30) is an hour; 02:30–03:30 would be two.
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].start, t("2026-10-24T23:30:00Z"));
    assert_eq!(slots[0].end, t("2026-10-25T00:30:00Z"));
}

#[test]
fn free_slots_leave_out_booked_ones_and_offer_refuses_plainly() {
    let tz = paris();
    let h = weekdays();
    let (from, until) = day_range(&tz, date(2026, 1, 12));
    let all = h.slots(&tz, from, until);
    assert!(!all[0].overlaps(&all[1]), "touching slots do not overlap");
    assert!(all[0].overlaps(&all[0]));
    let booked = [all[1]];
    let free = h.free_slots(&tz, from, until, &booked);
    assert_eq!(free.len(), all.len() - 1);
    assert!(!free.contains(&all[1]));

    let now = t("2026-01-10T10:00:00Z");
    assert_eq!(h.offer(&tz, all[0].start, now, &booked), Ok(all[0]));
    assert_eq!(
        h.offer(&tz, all[1].start, now, &booked),
        Err(Problem::Taken)
    );
    // Not on the grid, outside hours, at the weekend.
    assert_eq!(
        h.offer(&tz, t("2026-01-12T08:10:00Z"), now, &[]),
        Err(Problem::NotOffered)
    );
    assert_eq!(
        h.offer(&tz, t("2026-01-12T11:30:00Z"), now, &[]),
        Err(Problem::NotOffered),
        "12:30 local is lunch"
    );
    assert_eq!(
        h.offer(&tz, t("2026-01-17T08:00:00Z"), now, &[]),
        Err(Problem::NotOffered)
    );
    // Passed.
    assert_eq!(
        h.offer(&tz, all[0].start, t("2026-01-12T08:00:00Z"), &[]),
        Err(Problem::Past)
    );
    assert_eq!(
        Problem::Taken.to_string(),
        "Someone has just booked that time. Choose another one."
    );
    // Too far ahead.
    assert_eq!(
        bookable(&all[0], t("2024-01-01T00:00:00Z"), &[]),
        Err(Problem::TooFar)
    );
}

#[test]
fn a_range_reads_at_most_its_bounded_days() {
    let tz = paris();
    let h = every_day(open(time(9, 0, 0, 0), time(10, 0, 0, 0)), 60);
    let slots = h.slots(&tz, t("2026-01-01T00:00:00Z"), t("2027-01-01T00:00:00Z"));
    assert_eq!(
        slots.len() as i64,
        needlewise_core::appointment::MAX_RANGE_DAYS + 1
    );
}

#[test]
fn hours_are_validated_in_plain_words() {
    let mut h = weekdays();
    assert_eq!(h.validate(), Ok(()));
    h.slot_minutes = 10;
    h.week[0] = vec![open(time(10, 0, 0, 0), time(9, 0, 0, 0))];
    h.week[1] = vec![
        open(time(9, 0, 0, 0), time(11, 0, 0, 0)),
        open(time(10, 0, 0, 0), time(12, 0, 0, 0)),
    ];
    let problems = h.validate().unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
    assert_eq!(fields, ["slot_minutes", "monday", "tuesday"]);
    assert_eq!(
        problems[0].message,
        "give a slot length of 15 to 120 minutes"
    );
    assert_eq!(
        problems[1].message,
        "each opening time must end after it starts"
    );
    assert_eq!(
        problems[2].message,
        "opening times of one day must not overlap"
    );

    let mut h = weekdays();
    h.slot_minutes = 120;
    h.week[2] = vec![open(time(9, 0, 0, 0), time(10, 0, 0, 0))];
    let problems = h.validate().unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, "wednesday");
    assert!(
        problems[0]
            .message
            .contains("at least one slot of 120 minutes")
    );
}

#[test]
fn hours_round_trip_as_json() {
    let mut h = weekdays();
    h.closed.insert(date(2026, 12, 25));
    let json = serde_json::to_string(&h).unwrap();
    assert!(json.contains("\"2026-12-25\""), "{json}");
    assert_eq!(serde_json::from_str::<Hours>(&json).unwrap(), h);
}

fn actor(side: Side) -> Actor {
    Actor {
        side,
        account: AccountId(fresh()),
        name: "Ada".into(),
    }
}

fn appointment(start: &str) -> Appointment {
    let start = t(start);
    Appointment {
        id: AppointmentId(fresh()),
        clinic_id: ClinicId(fresh()),
        profile_id: ProfileId(fresh()),
        slot: Slot {
            start,
            end: start + SignedDuration::from_mins(30),
        },
        status: Status::Booked,
        note: String::new(),
        conversation_id: None,
        proposal_id: None,
        replaces: None,
        booked_by: actor(Side::Patient),
        booked_at: t("2026-01-01T00:00:00Z"),
        ended: None,
        sequence: 0,
    }
}

#[test]
fn a_booked_appointment_is_cancelled_or_moved_once_with_a_reason_before_it_begins() {
    let a = appointment("2026-02-01T09:00:00Z");
    let by = actor(Side::Clinic);
    let before = t("2026-01-20T09:00:00Z");
    assert_eq!(
        a.end(by.clone(), before, "  ", None),
        Err(Problem::ReasonMissing)
    );
    assert_eq!(
        a.end(by.clone(), t("2026-02-01T09:00:00Z"), "ill", None),
        Err(Problem::Started)
    );
    let cancelled = a
        .end(by.clone(), before, " The surgeon is away ", None)
        .unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(cancelled.sequence, 1);
    let ending = cancelled.ended.clone().unwrap();
    assert_eq!(ending.reason, "The surgeon is away");
    assert_eq!(ending.by, by);
    assert_eq!(ending.at, before);
    assert_eq!(
        cancelled.end(by.clone(), before, "again", None),
        Err(Problem::AlreadyEnded(Status::Cancelled))
    );
    assert_eq!(
        Problem::AlreadyEnded(Status::Cancelled).to_string(),
        "This appointment is no longer booked (cancelled)."
    );
    let next = AppointmentId(fresh());
    let moved = a
        .end(by, before, "Another day suits me", Some(next))
        .unwrap();
    assert_eq!(moved.status, Status::Rescheduled);
    assert_eq!(moved.ended.unwrap().replaced_by, Some(next));
}

#[test]
fn notes_and_reasons_are_plain_text_of_bounded_length() {
    assert_eq!(note("  "), Ok(String::new()));
    assert_eq!(
        note(" Line one\nline two "),
        Ok("Line one\nline two".into())
    );
    assert_eq!(note("a\tb"), Err(Problem::ReasonControl));
    assert_eq!(
        required_reason(&"x".repeat(501)),
        Err(Problem::ReasonTooLong)
    );
    assert_eq!(required_reason(""), Err(Problem::ReasonMissing));
}

#[test]
fn a_proposal_offers_one_to_three_free_future_slots() {
    let tz = paris();
    let h = weekdays();
    let (from, until) = day_range(&tz, date(2026, 1, 12));
    let free = h.free_slots(&tz, from, until, &[]);
    let now = t("2026-01-10T00:00:00Z");
    assert_eq!(check_proposal(&[], &free, now), Err(Problem::NoSlots));
    assert_eq!(
        check_proposal(&free[..MAX_PROPOSED + 1], &free, now),
        Err(Problem::TooManySlots)
    );
    assert_eq!(
        check_proposal(&[free[0], free[0]], &free, now),
        Err(Problem::DuplicateSlot)
    );
    let off_grid = Slot {
        start: free[0].start + SignedDuration::from_mins(5),
        end: free[0].end + SignedDuration::from_mins(5),
    };
    assert_eq!(
        check_proposal(&[off_grid], &free, now),
        Err(Problem::NotOffered)
    );
    assert_eq!(
        check_proposal(&[free[0]], &free, t("2026-01-13T00:00:00Z")),
        Err(Problem::Past)
    );
    assert_eq!(
        check_proposal(&[free[2], free[0]], &free, now),
        Ok(vec![free[0], free[2]])
    );

    let mut p = Proposal {
        id: ProposalId(fresh()),
        clinic_id: ClinicId(fresh()),
        profile_id: ProfileId(fresh()),
        conversation_id: ConversationId(fresh()),
        slots: vec![free[0], free[2]],
        by: actor(Side::Clinic),
        at: now,
        booked: None,
    };
    assert_eq!(p.offers(&free[2]), Ok(()));
    assert_eq!(p.offers(&free[1]), Err(Problem::NotOffered));
    p.booked = Some(AppointmentId(fresh()));
    assert_eq!(p.offers(&free[0]), Err(Problem::ProposalUsed));
}

/// Scheduling is front-desk work: clinicians and staff of the patient's
/// clinic, never outsiders or a clinic the patient is not linked to.
#[test]
fn who_may_schedule() {
    let grant = |role, linked| Grant {
        role,
        linked,
        scopes: BTreeSet::new(),
    };
    for role in Role::ALL {
        assert!(permits(&grant(Some(role), true), Act::Schedule), "{role}");
        assert_eq!(
            decide(&grant(Some(role), false), Act::Schedule),
            Err(Refusal::Hidden)
        );
        assert_eq!(may_set_hours(role), Ok(()));
    }
    assert_eq!(
        decide(&grant(None, true), Act::Schedule),
        Err(Refusal::Hidden)
    );
    assert_eq!(patient_may_schedule(true), Ok(()));
    assert_eq!(patient_may_schedule(false), Err(Refusal::Hidden));
}
