#!/usr/bin/env python3
"""Checks needlewise's iCalendar export with the Python `icalendar` package.

Usage: ics_check.py CALENDAR.ics MODEL.json OUT.json

- parses CALENDAR.ics (strictly: a parse error fails),
- compares every VEVENT with the calendar model that `needlewise export ics
  --json` printed (MODEL.json): UID, DTSTART/DTEND (all-day DATE values or
  UTC instants), one VALARM each with ACTION and TRIGGER,
- checks time zones: every TZID used has a VTIMEZONE, and a TZID'd time
  resolves to a UTC instant,
- serialises the parsed calendar again, re-parses it and requires the same
  events (round trip),
- writes the normalised events to OUT.json so the ical.js checker's view can
  be compared with this one.

Exits 1 with one message per problem.
"""

import datetime as dt
import json
import re
import sys

import icalendar

problems = []


def problem(msg):
    problems.append(msg)


def iso_duration_seconds(text):
    """Seconds of an ISO 8601 / RFC 5545 duration such as PT9H or -P1DT2H."""
    m = re.fullmatch(
        r"([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
        text,
    )
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    sign = -1 if m.group(1) == "-" else 1
    w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups()[1:])
    return int(sign * (w * 604800 + d * 86400 + h * 3600 + mi * 60 + s))


def model_seconds(value):
    """A jiff SignedDuration as serialised in the model."""
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, dict) and "secs" in value:
        return int(value["secs"])
    return iso_duration_seconds(str(value).upper())


def tzids(cal):
    return {str(tz.get("TZID")) for tz in cal.walk("VTIMEZONE")}


def when(prop, known_tzids, where):
    """(all_day, value): a DATE as 'YYYY-MM-DD', a DATE-TIME as UTC seconds."""
    if prop is None:
        problem(f"{where}: missing")
        return None
    value = prop.dt
    tzid = prop.params.get("TZID")
    if tzid is not None and str(tzid) not in known_tzids:
        problem(f"{where}: TZID={tzid} has no VTIMEZONE in the calendar")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            problem(f"{where}: floating DATE-TIME {value} (no Z, no TZID): its instant is unknown")
            return (False, None)
        return (False, int(value.timestamp()))
    if isinstance(value, dt.date):
        return (True, value.isoformat())
    problem(f"{where}: unexpected value {value!r}")
    return None


def normalise(cal):
    """{uid: {...}} of every VEVENT, with what both checkers compare."""
    out = {}
    known = tzids(cal)
    for ev in cal.walk("VEVENT"):
        uid = str(ev.get("UID", ""))
        if not uid:
            problem("a VEVENT has no UID")
            continue
        if uid in out:
            problem(f"UID {uid} appears twice")
        start = when(ev.get("DTSTART"), known, f"{uid} DTSTART")
        end = when(ev.get("DTEND"), known, f"{uid} DTEND")
        alarms = []
        for a in ev.walk("VALARM"):
            trig = a.get("TRIGGER")
            action = str(a.get("ACTION", ""))
            if trig is None:
                problem(f"{uid}: VALARM without TRIGGER")
                continue
            if not isinstance(trig.dt, dt.timedelta):
                problem(f"{uid}: TRIGGER is absolute ({trig.dt}); needlewise writes relative ones")
                continue
            related = str(trig.params.get("RELATED", "START"))
            if action not in ("AUDIO", "DISPLAY", "EMAIL"):
                problem(f"{uid}: VALARM ACTION is {action!r}, not AUDIO, DISPLAY or EMAIL")
            if action == "DISPLAY" and not a.get("DESCRIPTION"):
                problem(f"{uid}: a DISPLAY alarm needs a DESCRIPTION (RFC 5545 3.6.6)")
            alarms.append([action, int(trig.dt.total_seconds()), related])
        out[uid] = {
            "all_day": bool(start and start[0]),
            "start": start[1] if start else None,
            "end": end[1] if end else None,
            "alarms": alarms,
        }
    return out


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    ics_path, model_path, out_path = sys.argv[1:]
    raw = open(ics_path, "rb").read()
    try:
        cal = icalendar.Calendar.from_ical(raw)
    except Exception as e:  # noqa: BLE001 - any parse failure is the finding
        print(f"icalendar {icalendar.__version__}: cannot parse {ics_path}: {e}", file=sys.stderr)
        return 1
    for key in ("VERSION", "PRODID"):
        if not cal.get(key):
            problem(f"the calendar has no {key}")
    for comp in cal.walk():
        for err in getattr(comp, "errors", []) or []:
            problem(f"{comp.name}: parser reported {err}")

    events = normalise(cal)
    model = json.load(open(model_path))
    expected = {}
    for e in model["events"]:
        w = e["when"]
        if w["type"] == "all_day":
            day = dt.date.fromisoformat(w["value"])
            start, end, all_day = day.isoformat(), (day + dt.timedelta(days=1)).isoformat(), True
        else:
            t = dt.datetime.fromisoformat(w["value"].replace("Z", "+00:00"))
            start, end, all_day = int(t.timestamp()), int(t.timestamp()) + 15 * 60, False
        expected[e["uid"]] = {
            "all_day": all_day,
            "start": start,
            "end": end,
            "alarms": [["DISPLAY", model_seconds(e["alarm"]["after_start"]), "START"]],
        }
    if not expected:
        problem("the model has no events: seed a profile with a session first")
    if set(events) != set(expected):
        problem(
            f"UIDs differ from the model: missing {sorted(set(expected) - set(events))}, "
            f"extra {sorted(set(events) - set(expected))}"
        )
    for uid, want in expected.items():
        got = events.get(uid)
        if got is not None and got != want:
            problem(f"{uid}: parsed {got}, the model says {want}")

    # Round trip: serialise what was parsed, parse again, same events.
    again = icalendar.Calendar.from_ical(cal.to_ical())
    if normalise(again) != events:
        problem("serialising and re-parsing changed the events")

    n_tz = len(list(cal.walk("VTIMEZONE")))
    n_tzid = raw.count(b"TZID=")
    json.dump(events, open(out_path, "w"), indent=1, sort_keys=True)
    if problems:
        for p in problems:
            print(f"icalendar: {p}", file=sys.stderr)
        return 1
    print(
        f"icalendar {icalendar.__version__}: {len(events)} events, "
        f"{sum(len(e['alarms']) for e in events.values())} alarms, "
        f"{n_tzid} TZID parameters, {n_tz} VTIMEZONEs: match the model and survive a round trip"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
