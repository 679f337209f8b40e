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
