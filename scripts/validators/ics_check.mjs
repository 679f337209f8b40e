// Checks needlewise's iCalendar export with ical.js (Mozilla's parser, used
// by Thunderbird's calendar).
//
// Usage: node ics_check.mjs ICALJS_DIR CALENDAR.ics PYTHON_VIEW.json
//
// Parses the calendar, registers its VTIMEZONEs (a TZID without one is a
// failure), normalises every VEVENT as the Python checker does (UID,
// DTSTART/DTEND as a DATE or a UTC instant, alarms as action, trigger in
// seconds and RELATED), requires the same view as the Python checker's
// (PYTHON_VIEW.json: so a time resolves to the same UTC instant in both),
// then serialises, re-parses and requires the same events again.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [icalDir, icsPath, pyPath] = process.argv.slice(2);
if (!icalDir || !icsPath || !pyPath) {
  console.error("usage: node ics_check.mjs ICALJS_DIR CALENDAR.ics PYTHON_VIEW.json");
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(icalDir, "package.json"), "utf8"));
const ICAL = (await import(pathToFileURL(join(icalDir, "dist", "ical.js")).href)).default;

const problems = [];
const problem = (m) => problems.push(m);

function normalise(comp) {
  const tzids = new Set();
  for (const vtz of comp.getAllSubcomponents("vtimezone")) {
    const tz = new ICAL.Timezone(vtz);
    tzids.add(tz.tzid);
    ICAL.TimezoneService.register(vtz);
  }
  const out = {};
  for (const v of comp.getAllSubcomponents("vevent")) {
    const uid = v.getFirstPropertyValue("uid");
    if (!uid) {
      problem("a VEVENT has no UID");
      continue;
    }
    if (uid in out) problem(`UID ${uid} appears twice`);
    const when = (name) => {
      const prop = v.getFirstProperty(name);
      if (!prop) {
        problem(`${uid} ${name.toUpperCase()}: missing`);
        return [false, null];
      }
      const tzid = prop.getParameter("tzid");
      if (tzid && !tzids.has(tzid)) {
        problem(`${uid} ${name.toUpperCase()}: TZID=${tzid} has no VTIMEZONE in the calendar`);
      }
      const t = prop.getFirstValue();
      if (t.isDate) {
        const p = (n) => String(n).padStart(2, "0");
        return [true, `${t.year}-${p(t.month)}-${p(t.day)}`];
      }
      if (t.zone === ICAL.Timezone.localTimezone && !tzid) {
        problem(`${uid} ${name.toUpperCase()}: floating DATE-TIME (no Z, no TZID): its instant is unknown`);
      }
      return [false, t.toUnixTime()];
    };
    const [allDay, start] = when("dtstart");
    const [, end] = when("dtend");
    const alarms = [];
    for (const a of v.getAllSubcomponents("valarm")) {
      const trigger = a.getFirstProperty("trigger");
      const action = a.getFirstPropertyValue("action") ?? "";
      if (!trigger) {
        problem(`${uid}: VALARM without TRIGGER`);
        continue;
      }
      const value = trigger.getFirstValue();
      if (!(value instanceof ICAL.Duration)) {
        problem(`${uid}: TRIGGER is absolute; needlewise writes relative ones`);
        continue;
      }
      if (!["AUDIO", "DISPLAY", "EMAIL"].includes(action)) {
        problem(`${uid}: VALARM ACTION is "${action}", not AUDIO, DISPLAY or EMAIL`);
      }
      if (action === "DISPLAY" && !a.getFirstPropertyValue("description")) {
        problem(`${uid}: a DISPLAY alarm needs a DESCRIPTION (RFC 5545 3.6.6)`);
      }
      alarms.push([action, value.toSeconds(), trigger.getParameter("related") ?? "START"]);
    }
    out[uid] = { all_day: allDay, start, end, alarms };
  }
  return out;
}

// Keys sorted at every level, so two views compare as text.
function canonical(x) {
  if (Array.isArray(x)) return x.map(canonical);
  if (x && typeof x === "object") {
    return Object.fromEntries(Object.keys(x).sort().map((k) => [k, canonical(x[k])]));
  }
  return x;
}
const same = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

let comp;
try {
  comp = new ICAL.Component(ICAL.parse(readFileSync(icsPath, "utf8")));
} catch (e) {
  console.error(`ical.js ${pkg.version}: cannot parse ${icsPath}: ${e.message}`);
  process.exit(1);
}
for (const key of ["version", "prodid"]) {
  if (!comp.getFirstPropertyValue(key)) problem(`the calendar has no ${key.toUpperCase()}`);
}
const events = normalise(comp);
const python = JSON.parse(readFileSync(pyPath, "utf8"));
if (Object.keys(events).length === 0) problem("no events parsed");
for (const uid of new Set([...Object.keys(events), ...Object.keys(python)])) {
  if (!same(events[uid], python[uid])) {
    problem(`${uid}: ical.js reads ${JSON.stringify(events[uid])}, icalendar read ${JSON.stringify(python[uid])}`);
  }
}
// Round trip.
const again = normalise(new ICAL.Component(ICAL.parse(comp.toString())));
if (!same(again, events)) problem("serialising and re-parsing changed the events");

if (problems.length) {
  for (const p of problems) console.error(`ical.js: ${p}`);
  process.exit(1);
}
const n = Object.keys(events).length;
const alarms = Object.values(events).reduce((s, e) => s + e.alarms.length, 0);
console.log(`ical.js ${pkg.version}: ${n} events, ${alarms} alarms: same instants and alarms as icalendar, survive a round trip`);
