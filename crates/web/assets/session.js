// needlewise guided session. The page works without this script: the form
// below the plan logs a session by hand.
//
// Time: each section's remaining time is its length minus the time it has
// run, measured with performance.now() while running only. A throttled or
// hidden tab therefore never drifts: the next tick (or visibilitychange)
// recomputes from the clock, carrying any overflow into the next sections.
// Progress is saved to localStorage (one key per profile and day) after
// every section, on pause and when the page is hidden; after a reload or a
// crash it comes back paused where it stopped, and the time in between is
// not counted as treatment.
"use strict";
(function guidedSession() {
  const page = document.getElementById("session-page");
  if (!page) return;
  const PREFIX = "nw-session:";
  let store = null;
  try { store = window.localStorage; } catch { store = null; }
  const pageKey = PREFIX + page.dataset.key;

  // Forget this profile's progress from other days, and today's once saved.
  if (store) {
    try {
      const mine = pageKey.slice(0, pageKey.lastIndexOf(":") + 1);
      for (let n = store.length - 1; n >= 0; n--) {
        const k = store.key(n);
        if (k && k.startsWith(mine) && (k !== pageKey || page.dataset.saved)) store.removeItem(k);
      }
    } catch { /* storage blocked: nothing to clean */ }
  }

  const root = document.getElementById("session");
  const form = document.getElementById("complete");
  if (!root || !form) return;
  let plan;
  try { plan = JSON.parse(root.dataset.plan); } catch { return; }
  if (!plan || !Array.isArray(plan.zones) || !plan.zones.length) return;
  const key = PREFIX + plan.key;

  const $ = (id) => document.getElementById(id);
  const ui = {
    guide: $("guide"), zone: $("g-zone"), dir: $("g-dir"), count: $("g-count"), clock: $("clock"),
    bar: $("bar"), eye: $("g-eye"), note: $("g-note"), live: $("g-live"),
    go: $("g-go"), skip: $("g-skip"), finish: $("g-finish"),
  };

  // Every section of every zone, in order.
  const steps = [];
  plan.zones.forEach((z, zi) => z.sections.forEach((s, si) => {
    steps.push({ zi, si, ms: Math.max(1, Number(s.seconds) || 1) * 1000, strokes: Number(s.strokes) || 0 });
  }));
  if (!steps.length) return;
  const ids = plan.zones.map((z) => z.id).join(",");

  // st.i: current step (steps.length once finished); st.done: ms the current
  // step has run before the present run; st.zones: committed time and
  // strokes per zone; st.started / st.at: wall-clock ms, for persistence.
  const fresh = () => ({
    v: 1, ids, i: 0, done: 0, started: 0, finished: false, at: 0,
    zones: plan.zones.map(() => ({ ms: 0, strokes: 0, skipped: false, reached: false })),
  });

  function load() {
    if (!store) return null;
    try {
      const s = JSON.parse(store.getItem(key) || "null");
      if (!s || s.v !== 1 || s.ids !== ids || !Array.isArray(s.zones) || s.zones.length !== plan.zones.length) return null;
      if (!Number.isInteger(s.i) || s.i < 0 || s.i > steps.length || !(s.done >= 0)) return null;
      // Half a day later it is not the same session any more.
      if (!(Math.abs(Date.now() - s.at) < 12 * 3600e3)) return null;
      if (s.i < steps.length) s.done = Math.min(s.done, steps[s.i].ms);
      return s;
    } catch { return null; }
  }

  let st = load() || fresh();
  // One id for this session across reloads, so that the form sent twice
  // (or replayed after being offline) stores it once.
  const sidField = form.elements.namedItem("session_id");
  if (sidField) {
    if (st.sid) sidField.value = st.sid; else st.sid = sidField.value;
  }
  let runStart = null; // performance.now() when the present run began; null while paused
  let timer = 0, audio = null, lock = null, locking = false, announced = -1;

  const running = () => runStart !== null;
  const started = () => st.started > 0;
  const elapsed = () => st.done + (running() ? performance.now() - runStart : 0);

  function save() {
    if (!store) return;
    const snap = Object.assign({}, st, { at: Date.now() });
    if (st.i < steps.length) snap.done = Math.min(elapsed(), steps[st.i].ms);
    try { store.setItem(key, JSON.stringify(snap)); } catch { /* full or blocked: the form still works */ }
  }

  // Sound, vibration and the screen wake lock are extras: each may be
  // missing or refused, and the timer works the same without them.
  function unlockAudio() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch { audio = null; }
  }
  function beep(freq, delay) {
    if (!audio) return;
    try {
      const t = audio.currentTime + (delay || 0);
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.32);
    } catch { /* no sound */ }
  }
  function buzz(pattern) {
    try { if (navigator.vibrate) navigator.vibrate(pattern); } catch { /* no vibration */ }
  }
  async function wake() {
    if (!("wakeLock" in navigator) || lock || locking || document.visibilityState !== "visible") return;
    locking = true;
    try {
      const l = await navigator.wakeLock.request("screen");
      l.addEventListener("release", () => { if (lock === l) lock = null; });
      lock = l;
      // The session may have ended while the request was pending.
      if (st.finished || !started()) sleep();
    } catch { lock = null; } finally { locking = false; }
  }
  function sleep() {
    if (lock) { lock.release().catch(() => {}); lock = null; }
  }
  function zoneCue() { beep(660); buzz(200); }

  // Moves to step j (its first moment) and marks its zone as reached.
  function moveTo(j) {
    st.i = j;
    st.done = 0;
    if (j < steps.length) st.zones[steps[j].zi].reached = true;
  }

  // Adds the current step's partial time to its zone.
  function commitPartial() {
    if (st.i >= steps.length) return;
    const s = steps[st.i];
    st.zones[s.zi].ms += Math.min(elapsed(), s.ms);
    st.done = 0;
    if (running()) runStart = performance.now();
  }

  function tick() {
    if (!started() || st.finished) return render();
    if (running()) {
      const now = performance.now();
      let e = st.done + (now - runStart);
      const zoneBefore = steps[st.i].zi;
      let moved = false;
      while (st.i < steps.length && e >= steps[st.i].ms) {
        const s = steps[st.i];
        st.zones[s.zi].ms += s.ms;
        st.zones[s.zi].strokes += s.strokes;
        e -= s.ms;
        moveTo(st.i + 1);
        moved = true;
      }
      if (st.i >= steps.length) return end();
      st.done = 0;
      runStart = now - e; // the overflow belongs to the new section
      if (moved) {
        if (steps[st.i].zi !== zoneBefore) zoneCue(); else { beep(440); buzz(60); }
        save();
      }
    }
    render();
  }

  function start() {
    unlockAudio();
    if (!started()) {
      st = fresh();
      st.started = Date.now();
      if (sidField) st.sid = sidField.value;
      moveTo(0);
      zoneCue();
    }
    runStart = performance.now();
    wake();
    if (!timer) timer = setInterval(tick, 250);
    save();
    render();
  }

  function pause() {
    st.done = elapsed();
    runStart = null;
    save();
    render();
  }

  function skipZone() {
    if (!started() || st.finished) return;
    unlockAudio();
    const zi = steps[st.i].zi;
    commitPartial();
    st.zones[zi].skipped = true;
    let j = st.i;
    while (j < steps.length && steps[j].zi === zi) j++;
    moveTo(j);
    if (j >= steps.length) return end();
    if (running()) runStart = performance.now();
    zoneCue();
    save();
    render();
  }

  // Ends the session, early or not: the zone in progress counts as
  // stopped early, later zones as not treated.
  function end() {
    if (st.i < steps.length) {
      const zi = steps[st.i].zi;
      commitPartial();
      st.zones[zi].skipped = true;
    }
    st.i = steps.length;
    st.done = 0;
    st.finished = true;
    runStart = null;
    clearInterval(timer);
    timer = 0;
    sleep();
    beep(660);
    beep(880, 0.35);
    buzz([200, 100, 200]);
    save();
    fill();
    render();
    form.scrollIntoView({
      behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth",
      block: "start",
    });
  }

  // Writes the progress into the completion form.
  // The server dates the session from the time between its start and the
  // form's sending, both on this device's clock (see sw.js for a replay).
  form.addEventListener("submit", () => {
    const sent = form.elements.namedItem("sent_at");
    if (sent) sent.value = new Date().toISOString();
  });

  function fill() {
    const startedField = form.elements.namedItem("started_at");
    if (startedField && st.started) startedField.value = new Date(st.started).toISOString();
    plan.zones.forEach((z, k) => {
      const p = st.zones[k];
      const did = p.reached && (p.ms >= 1000 || p.strokes > 0);
      const field = (name) => form.elements.namedItem(`${name}_${z.id}`);
      for (const box of form.querySelectorAll('input[name="zone"]')) {
        if (box.value === z.id) box.checked = did;
      }
      const set = (name, v) => { const f = field(name); if (f) f.value = v; };
      set("seconds", did ? String(Math.round(p.ms / 1000)) : "");
      set("strokes", did && p.strokes ? String(p.strokes) : "");
      set("minutes", did ? (p.ms / 60000).toFixed(1) : "0");
      const skipped = field("skipped");
      if (skipped) skipped.checked = did && p.skipped;
    });
  }

  const mmss = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;

  function render() {
    const fin = st.finished;
    const s = steps[Math.min(st.i, steps.length - 1)];
    const z = plan.zones[s.zi];
    const sec = z.sections[s.si];
    if (fin) {
      ui.zone.textContent = "Session finished";
      ui.dir.textContent = plan.verb === "Roll"
        ? "Rinse the roller now and start its cleaning cycle. Then check the form below and save."
        : "Throw the used cartridge away now. Then check the form below and save.";
      ui.count.textContent = "";
      ui.clock.textContent = "0:00";
      ui.bar.max = 1; ui.bar.value = 1;
      ui.eye.hidden = true;
    } else {
      ui.zone.textContent = `Zone ${s.zi + 1} of ${plan.zones.length}: ${z.label}`;
      ui.dir.textContent = `${plan.verb} ${sec.label}`;
      ui.count.textContent = sec.strokes
        ? `${sec.strokes} strokes, light pressure, lifting between strokes`
        : "Light pressure, even passes";
      const e = Math.min(elapsed(), s.ms);
      ui.clock.textContent = mmss(Math.ceil((s.ms - e) / 1000));
      ui.bar.max = s.ms; ui.bar.value = e;
      ui.eye.hidden = !z.periorbital;
    }
    ui.go.textContent = !started() ? "Start" : running() ? "Pause" : "Resume";
    // Once finished, only the form is left to act on.
    ui.go.hidden = ui.skip.hidden = ui.finish.hidden = fin;
    ui.go.disabled = fin;
    ui.skip.disabled = fin || !started();
    ui.finish.disabled = fin || !started();
    if (started() && !fin && announced !== st.i) {
      announced = st.i;
      ui.live.textContent = `${z.label}: ${plan.verb.toLowerCase()} ${sec.label}`;
    }
    const current = started() && !fin ? z.id : "";
    for (const el of document.querySelectorAll("[data-zone]")) {
      const k = plan.zones.findIndex((p) => p.id === el.dataset.zone);
      el.classList.toggle("current", el.dataset.zone === current);
      el.classList.toggle("done", k >= 0 && el.dataset.zone !== current && st.zones[k].reached);
    }
  }

  ui.go.addEventListener("click", () => {
    if (!started() || !running()) start(); else pause();
  });
  ui.skip.addEventListener("click", skipZone);
  ui.finish.addEventListener("click", () => { if (started() && !st.finished) end(); });

  // Typing minutes by hand replaces the timer's seconds for that zone.
  form.addEventListener("input", (ev) => {
    const name = ev.target && ev.target.name;
    if (name && name.startsWith("minutes_")) {
      const secs = form.elements.namedItem(`seconds_${name.slice(8)}`);
      if (secs) secs.value = "";
    }
  });
  form.addEventListener("submit", () => {
    if (started() && !st.finished) end();
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      tick();
      if (started() && !st.finished) wake();
    } else {
      save();
    }
  });
  window.addEventListener("pagehide", save);

  ui.guide.hidden = false;
  if (st.finished) {
    fill();
    ui.note.textContent = "Your session is finished. Check the form below and save it.";
  } else if (started()) {
    ui.note.textContent = "Welcome back: the timer is paused where you stopped. Press Resume to carry on.";
    timer = setInterval(tick, 250);
  }
  render();
})();
