#!/usr/bin/env python3
"""Checks needlewise's appointment invitations with the Python `icalendar`
package.

Usage: invite_check.py DIR OUT.json

DIR holds request.ics and cancel.ics (one appointment's METHOD:REQUEST and
METHOD:CANCEL, as the patient's emails carry them) and invitations.json
(what they must say). For each: parses it strictly; requires its METHOD,
one VEVENT and what RFC 5546 (iTIP) requires of that method's VEVENT:
REQUEST: ATTENDEE (one or more), DTSTAMP, DTSTART, ORGANIZER, SUMMARY, UID,
SEQUENCE (or 0); CANCEL: DTSTAMP, ORGANIZER, SEQUENCE, UID, STATUS:CANCELLED
and the attendee being told. Then across the pair: the same UID (the
model's), SEQUENCE higher in the CANCEL, DTSTART/DTEND the model's UTC
instants, ORGANIZER and ATTENDEE the model's addresses; and a serialise
and re-parse keeps each event. Writes the normalised view to OUT.json so
the ical.js checker can be compared with this one.

Exits 1 with one message per problem.
"""

import datetime as dt
import json
import os
import sys

import icalendar

problems = []


def problem(msg):
    problems.append(msg)


def instant(ev, name, where):
    prop = ev.get(name)
    if prop is None:
        problem(f"{where} {name}: missing")
        return None
    value = prop.dt
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        problem(f"{where} {name}: {value!r} is not an instant (UTC or with a TZID)")
        return None
    return int(value.timestamp())


def view(cal, where):
    """What both checkers compare, of the one VEVENT."""
    events = list(cal.walk("VEVENT"))
    if len(events) != 1:
        problem(f"{where}: {len(events)} VEVENTs, not one")
        return None
    ev = events[0]
    attendees = ev.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    seq = ev.get("SEQUENCE")
    return {
        "method": str(cal.get("METHOD", "")),
        "uid": str(ev.get("UID", "")),
        "sequence": None if seq is None else int(seq),
        "start": instant(ev, "DTSTART", where),
        "end": instant(ev, "DTEND", where),
        "organizer": str(ev.get("ORGANIZER", "")),
        "attendees": sorted(str(a) for a in attendees),
        "status": str(ev.get("STATUS", "")),
        "has_dtstamp": ev.get("DTSTAMP") is not None,
        "has_summary": ev.get("SUMMARY") is not None,
    }


def check_itip(v, where):
    """RFC 5546 3.2.2 (REQUEST) and 3.2.5 (CANCEL), as needlewise uses them."""
    for key, name in (("uid", "UID"), ("organizer", "ORGANIZER")):
        if not v[key]:
            problem(f"{where}: no {name}")
    if not v["has_dtstamp"]:
        problem(f"{where}: no DTSTAMP")
    if not v["attendees"]:
        problem(f"{where}: no ATTENDEE")
    if v["method"] == "REQUEST":
        if not v["has_summary"]:
            problem(f"{where}: a REQUEST needs a SUMMARY")
        if v["start"] is None:
            problem(f"{where}: a REQUEST needs a DTSTART")
        if v["sequence"] is None:
            v["sequence"] = 0
        if v["status"] not in ("", "CONFIRMED", "TENTATIVE"):
            problem(f"{where}: a REQUEST with STATUS {v['status']}")
    elif v["method"] == "CANCEL":
        if v["sequence"] is None:
            problem(f"{where}: a CANCEL needs a SEQUENCE")
        if v["status"] != "CANCELLED":
            problem(f"{where}: a CANCEL of the whole event needs STATUS:CANCELLED, not {v['status']!r}")
    else:
        problem(f"{where}: METHOD {v['method']!r}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    folder, out_path = sys.argv[1:]
    with open(os.path.join(folder, "invitations.json"), encoding="utf-8") as f:
        model = json.load(f)
    views = {}
    for name in ("request", "cancel"):
        path = os.path.join(folder, f"{name}.ics")
        with open(path, "rb") as f:
            raw = f.read()
        if b"\r\n" not in raw or raw.replace(b"\r\n", b"").find(b"\n") >= 0:
            problem(f"{name}.ics: lines must end with CRLF (RFC 5545 3.1)")
        try:
            cal = icalendar.Calendar.from_ical(raw)
        except Exception as e:  # noqa: BLE001 - any parse error fails
            problem(f"{name}.ics: cannot parse: {e}")
            continue
        v = view(cal, f"{name}.ics")
        if v is None:
            continue
        expected = model[name]
        if v["method"] != expected["method"]:
            problem(f"{name}.ics: METHOD {v['method']!r}, expected {expected['method']!r}")
        check_itip(v, f"{name}.ics")
        if v["sequence"] != expected["sequence"]:
            problem(f"{name}.ics: SEQUENCE {v['sequence']}, expected {expected['sequence']}")
        for key in ("uid", "start", "end", "organizer"):
            if v[key] != model[key]:
                problem(f"{name}.ics: {key} {v[key]!r}, expected {model[key]!r}")
        if v["attendees"] != [model["attendee"]]:
            problem(f"{name}.ics: ATTENDEE {v['attendees']!r}, expected {[model['attendee']]!r}")
        again = view(icalendar.Calendar.from_ical(cal.to_ical()), f"{name}.ics again")
        if again is not None:
            check_itip(again, f"{name}.ics again")
        if again != v:
            problem(f"{name}.ics: serialising and re-parsing changed it: {again!r} vs {v!r}")
        views[name] = v
    if len(views) == 2:
        if views["request"]["uid"] != views["cancel"]["uid"]:
            problem("the CANCEL's UID is not the REQUEST's")
        if not views["cancel"]["sequence"] > views["request"]["sequence"]:
            problem("the CANCEL's SEQUENCE is not higher than the REQUEST's")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(views, f, indent=2, sort_keys=True)
    if problems:
        for p in problems:
            print(f"icalendar: {p}", file=sys.stderr)
        sys.exit(1)
    print(
        f"icalendar {icalendar.__version__}: REQUEST and CANCEL of {model['uid']}: "
        f"SEQUENCE {views['request']['sequence']} then {views['cancel']['sequence']}, "
        "same instants, organizer and attendee as written, RFC 5546's properties, survive a round trip"
    )


if __name__ == "__main__":
    main()
