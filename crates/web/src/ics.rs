//! The calendar model as iCalendar (RFC 5545) text, for the subscription
//! feed and `needlewise export ics`.
//!
//! The `icalendar` crate writes the text: CRLF line endings, folding at 75
//! octets and escaping of text values. Times are consistent without a
//! VTIMEZONE: all-day events are floating DATE values (the day in whatever
//! zone the calendar app is in), moments are UTC DATE-TIMEs. All-day alarms
//! are relative to the start of the day (`PT9H` is 9:00 local on the day).

use icalendar::{Alarm, Calendar, Component, EventLike, Property};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::calendar::{CalendarModel, EventTime};

/// The product identifier in every calendar.
pub const PRODID: &str = "-//needlewise//needlewise calendar//EN";

/// How often calendar apps should fetch the feed again.
pub const REFRESH: &str = "PT6H";

/// How long a timed event (a check-in) lasts in the calendar.
pub const TIMED_EVENT_LENGTH: SignedDuration = SignedDuration::from_mins(15);

/// The `text/calendar` media type the feed is served as.
pub const CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// Renders the model as an iCalendar object.
pub fn render(model: &CalendarModel) -> String {
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .name(&header_text(&model.name))
        .description(&header_text(&model.description))
        .append_property(
            Property::new("REFRESH-INTERVAL", REFRESH)
                .add_parameter("VALUE", "DURATION")
                .done(),
        )
        .append_property(Property::new("X-PUBLISHED-TTL", REFRESH));

    let stamp = utc(model.generated_at);
    for e in &model.events {
        let mut event = icalendar::Event::new();
        event
            .uid(&e.uid)
            .add_property("DTSTAMP", &stamp)
            .summary(&text(&e.summary))
            .description(&text(&e.description))
            .add_property("TRANSP", "TRANSPARENT")
            .add_property("CLASS", "PRIVATE")
            .add_property("X-NEEDLEWISE-KIND", e.kind.id());
        match e.when {
            EventTime::AllDay(day) => {
                let end = day.tomorrow().unwrap_or(day);
                event
                    .append_property(date_property("DTSTART", day))
                    .append_property(date_property("DTEND", end));
            }
            EventTime::At(t) => {
                let end = t.checked_add(TIMED_EVENT_LENGTH).unwrap_or(t);
                event
                    .add_property("DTSTART", utc(t))
                    .add_property("DTEND", utc(end));
            }
            EventTime::Between(start, end) => {
                event
                    .add_property("DTSTART", utc(start))
                    .add_property("DTEND", utc(end));
            }
        }
        // The crate's constructor takes a chrono trigger; the property is
        // then replaced with the exact RFC 5545 duration.
        // The crate gives every component a DTSTAMP and a UID, from the
        // clock and at random when not set: set them so the output depends
        // only on the model (RFC 9074 gives alarms UIDs).
        let mut alarm = Alarm::display(&text(&e.alarm.description), chrono::TimeDelta::zero());
        alarm
            .append_property(
                Property::new("TRIGGER", duration(e.alarm.after_start))
                    .add_parameter("RELATED", "START")
                    .done(),
            )
            .uid(&format!("alarm-{}", e.uid))
            .add_property("DTSTAMP", &stamp);
        event.alarm(alarm.done());
        cal.push(event.done());
    }
    cal.done().to_string()
}

/// What an appointment invitation asks of the calendar app (RFC 5546):
/// the store's type, as the outbox keeps it beside the text.
pub use needlewise_store::clinic::CalendarMethod as Method;

/// An appointment as an iTIP invitation, for the email that confirms or
/// cancels it: the feed's UID, its SEQUENCE (one more for each change, so
/// a cancellation replaces the request), the clinic as organizer and the
/// patient as attendee, a reminder two hours before.
pub fn invitation(
    a: &needlewise_core::appointment::Appointment,
    clinic: &str,
    organizer: &str,
    attendee: &str,
    method: Method,
    now: Timestamp,
) -> String {
    let model = needlewise_core::calendar::appointment_event(a, clinic);
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", method.id()));
    let stamp = utc(now);
    let mut event = icalendar::Event::new();
    event
        .uid(&model.uid)
        .add_property("DTSTAMP", &stamp)
        .add_property("SEQUENCE", a.sequence.to_string())
        .add_property("DTSTART", utc(a.slot.start))
        .add_property("DTEND", utc(a.slot.end))
        .summary(&text(&model.summary))
        .description(&text(&model.description))
        .add_property(
            "STATUS",
            match method {
                Method::Request => "CONFIRMED",
                Method::Cancel => "CANCELLED",
            },
        )
        .append_property(
            Property::new("ORGANIZER", format!("mailto:{}", header_text(organizer)))
                .add_parameter("CN", &param_text(clinic))
                .done(),
        )
        .append_property(
            Property::new("ATTENDEE", format!("mailto:{}", header_text(attendee)))
                .add_parameter("ROLE", "REQ-PARTICIPANT")
                .add_parameter("PARTSTAT", "ACCEPTED")
                .done(),
        );
    if method == Method::Request {
        let mut alarm = Alarm::display(&text(&model.alarm.description), chrono::TimeDelta::zero());
        alarm
            .append_property(
                Property::new("TRIGGER", duration(model.alarm.after_start))
                    .add_parameter("RELATED", "START")
                    .done(),
            )
            .uid(&format!("alarm-{}", model.uid))
            .add_property("DTSTAMP", &stamp);
        event.alarm(alarm.done());
    }
    cal.push(event.done());
    cal.done().to_string()
}

/// Text for a TEXT value: the crate escapes `\\ , ;` and newlines; other
/// control characters (a stray carriage return) become spaces.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// Text for the calendar's name and description, which some apps read from
/// `X-WR-*` properties that are written unescaped: no characters that would
/// need escaping.
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, ',' | ';' | '\\') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Text for a parameter value such as CN (RFC 5545 3.1: `paramtext` or a
/// quoted string, neither of which may hold a DQUOTE): the crate quotes a
/// value with a `:` but not one with `;` or `,`, so those become spaces,
/// a `"` becomes `'`, and control characters spaces.
fn param_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            ';' | ',' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

fn date_property(key: &str, day: jiff::civil::Date) -> Property {
    Property::new(key, day.strftime("%Y%m%d").to_string())
        .add_parameter("VALUE", "DATE")
        .done()
}

/// A moment as a UTC DATE-TIME (`20261121T193000Z`).
fn utc(t: Timestamp) -> String {
    t.to_zoned_datetime(TimeZone::UTC)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// A duration as an RFC 5545 `dur-value`: `PT9H`, `-PT15H`, `PT0S`,
/// `PT1H30M`, `P2D`.
pub fn duration(d: SignedDuration) -> String {
    let sign = if d.is_negative() { "-" } else { "" };
    let secs = d.as_secs().unsigned_abs();
    if secs == 0 {
        return "PT0S".to_owned();
    }
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = format!("{sign}P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        // dur-hour may be followed only by dur-minute, so keep minutes
        // when there are seconds.
        if m > 0 || (h > 0 && s > 0) {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use needlewise_core::calendar::{Alarm as ModelAlarm, CalendarEvent, EventKind};

    fn appointment() -> needlewise_core::appointment::Appointment {
        use needlewise_core::appointment::{Actor, Appointment, Slot, Status};
        use needlewise_core::conversation::Side;
        use needlewise_core::ids::{AccountId, AppointmentId, ClinicId, ProfileId};
        let start: Timestamp = "2026-12-01T09:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        Appointment {
            id: AppointmentId(uuid::Uuid::from_u128(5)),
            clinic_id: ClinicId(uuid::Uuid::from_u128(6)),
            profile_id: ProfileId(uuid::Uuid::from_u128(7)),
            slot: Slot {
                start,
                end: start + SignedDuration::from_mins(30),
            },
            status: Status::Booked,
            note: String::new(),
            conversation_id: None,
            proposal_id: None,
            replaces: None,
            booked_by: Actor {
                side: Side::Patient,
                account: AccountId(uuid::Uuid::from_u128(8)),
                name: "Ada".into(),
            },
            booked_at: start,
            ended: None,
            sequence: 0,
        }
    }

    /// A request and its cancellation: the same UID (the feed's), the
    /// cancellation's SEQUENCE one more, the times in UTC, an alarm on
    /// the request only.
    #[test]
    fn an_invitation_and_its_cancellation_share_the_uid() {
        let now: Timestamp = "2026-11-25T16:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let a = appointment();
        let request = invitation(
            &a,
            "Lakeside; Clinic",
            "desk@lakeside.example",
            "ada@example.org",
            Method::Request,
            now,
        );
        let uid = "UID:appointment-00000000-0000-0000-0000-000000000005@needlewise";
        for line in [
            "METHOD:REQUEST",
            uid,
            "SEQUENCE:0",
            "DTSTART:20261201T090000Z",
            "DTEND:20261201T093000Z",
            "STATUS:CONFIRMED",
            "TRIGGER;RELATED=START:-PT2H",
            "ATTENDEE;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:ada@example.org",
        ] {
            assert!(request.contains(line), "{line}: {request}");
        }
        // A parameter cannot hold a bare ';': it is dropped, never passed on.
        assert!(
            request.contains("ORGANIZER;CN=Lakeside  Clinic:mailto:desk@lakeside.example"),
            "{request}"
        );
        // Nor a '"' at all; a ':' is quoted.
        let quoted = invitation(
            &a,
            "Lakeside: \"Skin\"",
            "desk@lakeside.example",
            "ada@example.org",
            Method::Request,
            now,
        );
        assert!(
            quoted.contains("ORGANIZER;CN=\"Lakeside: 'Skin'\":mailto:desk@lakeside.example"),
            "{quoted}"
        );
        let by = needlewise_core::appointment::Actor {
            side: needlewise_core::conversation::Side::Clinic,
            account: needlewise_core::ids::AccountId(uuid::Uuid::from_u128(9)),
            name: "Dr Lee".into(),
        };
        let Ok(cancelled) = a.end(by, now, "The surgeon is away", None) else {
            panic!("a booked appointment to come can be cancelled");
        };
        let cancel = invitation(
            &cancelled,
            "Lakeside; Clinic",
            "desk@lakeside.example",
            "ada@example.org",
            Method::Cancel,
            now,
        );
        for line in ["METHOD:CANCEL", uid, "SEQUENCE:1", "STATUS:CANCELLED"] {
            assert!(cancel.contains(line), "{line}: {cancel}");
        }
        assert!(!cancel.contains("BEGIN:VALARM"), "{cancel}");
        assert!(request.contains("\r\n"), "CRLF line endings");
    }

    fn model(summary: &str) -> CalendarModel {
        let at: Timestamp = "2026-11-21T19:30:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        CalendarModel {
            name: "needlewise: Ada, Bea; \\ C\r".into(),
            description: "d".into(),
            generated_at: at,
            events: vec![CalendarEvent {
                uid: "checkin-x@needlewise".into(),
                kind: EventKind::Checkin,
                when: EventTime::At(at),
                summary: summary.into(),
                description: "line one\nline two".into(),
                alarm: ModelAlarm {
                    after_start: SignedDuration::ZERO,
                    description: "now".into(),
                },
            }],
        }
    }

    #[test]
    fn output_depends_only_on_the_model() {
        let a = render(&model("s"));
        assert_eq!(a, render(&model("s")));
        assert!(a.contains("\r\nUID:alarm-checkin-x@needlewise\r\n"), "{a}");
        assert_eq!(a.matches("DTSTAMP:20261121T193000Z\r\n").count(), 2, "{a}");
        assert!(a.contains("\r\nDTEND:20261121T194500Z\r\n"));
    }

    #[test]
    fn text_is_escaped_and_control_characters_dropped() {
        let long = "Roller \u{201c}Blue, 0.5 mm; left\\right\u{201d}\r\x07 ".repeat(4);
        let a = render(&model(&long));
        assert!(a.contains(r"Blue\, 0.5 mm\; left\\right"), "{a}");
        assert!(a.contains(r"line one\nline two"), "{a}");
        assert!(
            a.contains("X-WR-CALNAME:needlewise: Ada  Bea    C \r\n"),
            "{a}"
        );
        for line in a.split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n') && !line.contains('\x07'));
            assert!(line.len() <= 75, "{line:?}");
        }
    }

    #[test]
    fn durations_follow_rfc_5545() {
        let cases = [
            (SignedDuration::ZERO, "PT0S"),
            (SignedDuration::from_hours(9), "PT9H"),
            (SignedDuration::from_hours(-15), "-PT15H"),
            (SignedDuration::from_mins(90), "PT1H30M"),
            (SignedDuration::from_secs(3605), "PT1H0M5S"),
            (SignedDuration::from_secs(65), "PT1M5S"),
            (SignedDuration::from_hours(48), "P2D"),
            (SignedDuration::from_hours(49), "P2DT1H"),
        ];
        for (d, text) in cases {
            assert_eq!(duration(d), text, "{d:?}");
        }
    }
}
