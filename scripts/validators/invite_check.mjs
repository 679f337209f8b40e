// Checks needlewise's appointment invitations with ical.js (Mozilla's
// parser, used by Thunderbird's calendar).
//
// Usage: node invite_check.mjs ICALJS_DIR DIR PYTHON_VIEW.json
//
// Parses DIR/request.ics and DIR/cancel.ics, reads each one's METHOD and
// its one VEVENT as the Python checker does (UID, SEQUENCE, DTSTART/DTEND
// as UTC instants, ORGANIZER, ATTENDEEs, STATUS, DTSTAMP and SUMMARY
// present), requires the very same view as icalendar's (PYTHON_VIEW.json,
// written by invite_check.py, which also holds the model's checks), the
// same UID and a higher SEQUENCE in the CANCEL, and a round trip that
// changes nothing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [icalDir, dir, pyPath] = process.argv.slice(2);
if (!icalDir || !dir || !pyPath) {
  console.error("usage: node invite_check.mjs ICALJS_DIR DIR PYTHON_VIEW.json");
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(icalDir, "package.json"), "utf8"));
const ICAL = (await import(pathToFileURL(join(icalDir, "dist", "ical.js")).href)).default;

const problems = [];
const problem = (m) => problems.push(m);

function view(comp, where) {
  const events = comp.getAllSubcomponents("vevent");
  if (events.length !== 1) {
    problem(`${where}: ${events.length} VEVENTs, not one`);
    return null;
  }
  const v = events[0];
  const instant = (name) => {
    const prop = v.getFirstProperty(name);
    if (!prop) {
      problem(`${where} ${name.toUpperCase()}: missing`);
      return null;
    }
    const t = prop.getFirstValue();
    if (t.isDate || (t.zone === ICAL.Timezone.localTimezone && !prop.getParameter("tzid"))) {
      problem(`${where} ${name.toUpperCase()}: not an instant`);
      return null;
    }
    return t.toUnixTime();
  };
  const seq = v.getFirstPropertyValue("sequence");
  let sequence = seq === null || seq === undefined ? null : Number(seq);
  const method = comp.getFirstPropertyValue("method") ?? "";
  if (method === "REQUEST" && sequence === null) sequence = 0;
  return {
    method,
    uid: v.getFirstPropertyValue("uid") ?? "",
    sequence,
    start: instant("dtstart"),
    end: instant("dtend"),
    organizer: v.getFirstPropertyValue("organizer") ?? "",
    attendees: v.getAllProperties("attendee").map((p) => p.getFirstValue()).sort(),
    status: v.getFirstPropertyValue("status") ?? "",
    has_dtstamp: v.getFirstProperty("dtstamp") !== null,
    has_summary: v.getFirstProperty("summary") !== null,
  };
}

function canonical(x) {
  if (Array.isArray(x)) return x.map(canonical);
  if (x && typeof x === "object") {
    return Object.fromEntries(Object.keys(x).sort().map((k) => [k, canonical(x[k])]));
  }
  return x;
}
const same = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

const python = JSON.parse(readFileSync(pyPath, "utf8"));
const views = {};
for (const name of ["request", "cancel"]) {
  const path = join(dir, `${name}.ics`);
  let comp;
  try {
    comp = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
  } catch (e) {
    problem(`${name}.ics: cannot parse: ${e.message}`);
    continue;
  }
  const v = view(comp, `${name}.ics`);
  if (!v) continue;
  if (v.method !== name.toUpperCase()) problem(`${name}.ics: METHOD ${v.method}`);
  for (const key of ["uid", "organizer"]) {
    if (!v[key]) problem(`${name}.ics: no ${key.toUpperCase()}`);
  }
  if (!v.has_dtstamp) problem(`${name}.ics: no DTSTAMP`);
  if (v.attendees.length === 0) problem(`${name}.ics: no ATTENDEE`);
  if (name === "cancel" && v.status !== "CANCELLED") problem(`cancel.ics: STATUS ${v.status}`);
  if (!same(v, python[name])) {
    problem(`${name}.ics: ical.js reads ${JSON.stringify(v)}, icalendar read ${JSON.stringify(python[name])}`);
  }
  const again = view(new ICAL.Component(ICAL.parse(comp.toString())), `${name}.ics again`);
  if (!same(again, v)) problem(`${name}.ics: serialising and re-parsing changed it`);
  views[name] = v;
}
if (views.request && views.cancel) {
  if (views.request.uid !== views.cancel.uid) problem("the CANCEL's UID is not the REQUEST's");
  if (!(views.cancel.sequence > views.request.sequence)) {
    problem("the CANCEL's SEQUENCE is not higher than the REQUEST's");
  }
}
if (problems.length) {
  for (const p of problems) console.error(`ical.js: ${p}`);
  process.exit(1);
}
console.log(
  `ical.js ${pkg.version}: REQUEST and CANCEL: same UID, SEQUENCE ${views.request.sequence} then ${views.cancel.sequence}, the same instants, organizer and attendee as icalendar, survive a round trip`,
);
