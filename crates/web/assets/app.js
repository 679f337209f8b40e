// needlewise: a little progressive enhancement. Every page works without it.
"use strict";
document.documentElement.classList.add("js");

// Hide questions that do not apply, using the same conditions as the server
// (which ignores answers to questions that do not apply in any case).
(function conditionalQuestions() {
  const form = document.querySelector("form.questions");
  if (!form) return;
  const values = (name) => Array.from(form.querySelectorAll(`[name="${name}"]`))
    .filter((el) => (el.type === "radio" || el.type === "checkbox") ? el.checked : el.value !== "")
    .map((el) => el.value);
  const holds = (c) => {
    switch (c.op) {
      case "is_true": return values(c.question).includes("yes");
      case "equals": return values(c.question).includes(c.value);
      case "one_of": return values(c.question).some((v) => c.values.includes(v));
      case "zones_intersect": return values(c.question).some((v) => c.zones.includes(v));
      case "not": return !holds(c.of);
      case "all": return c.of.every(holds);
      case "any": return c.of.some(holds);
      default: return true;
    }
  };
  const update = () => {
    for (const fs of form.querySelectorAll("fieldset[data-show-if]")) {
      let cond;
      try { cond = JSON.parse(fs.dataset.showIf); } catch { continue; }
      fs.hidden = !holds(cond);
    }
  };
  form.addEventListener("change", update);
  update();
})();

// Soak and air-dry countdowns, from the server's end time (so a hidden tab
// or a sleeping phone never drifts), with a sound when a step is done.
(function countdowns() {
  const els = Array.from(document.querySelectorAll(".countdown[data-until]"));
  if (!els.length) return;
  const beep = () => {
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      const osc = ctx.createOscillator();
      osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.25);
    } catch { /* no audio: the text still changes */ }
    if (navigator.vibrate) navigator.vibrate(200);
  };
  const tick = () => {
    for (const el of els) {
      const left = Math.ceil((Date.parse(el.dataset.until) - Date.now()) / 1000);
      if (left > 0) {
        const m = Math.floor(left / 60), s = String(left % 60).padStart(2, "0");
        el.textContent = `${m}:${s} to go`;
      } else if (!el.dataset.done) {
        el.dataset.done = "1";
        el.textContent = "Long enough: you can take the next step now.";
        beep();
      }
    }
    // The step's button waits for its time, as the server does.
    for (const button of document.querySelectorAll("button[data-enable-at]")) {
      if (Date.parse(button.dataset.enableAt) <= Date.now()) {
        button.disabled = false;
        button.removeAttribute("data-enable-at");
        const hint = document.getElementById(button.getAttribute("aria-describedby") || "");
        if (hint) hint.textContent = "You can take this step now.";
      }
    }
  };
  tick();
  setInterval(tick, 1000);
})();

// Install to the home screen and work offline: the service worker keeps
// the session page, and a session finished offline is sent when the
// network is back (see /sw.js).
(function offline() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch(() => { /* the app works online without it */ });
  const flush = () => navigator.serviceWorker.ready.then((r) => r.active && r.active.postMessage("flush"));
  window.addEventListener("online", flush);
  if (navigator.onLine) flush();
})();

// "Go back" links: the previous page when there is one to go back to;
// otherwise (or without script) their href.
(function backLinks() {
  for (const a of document.querySelectorAll("a[data-back]")) {
    a.addEventListener("click", (e) => {
      if (window.history.length > 1) {
        e.preventDefault();
        window.history.back();
      }
    });
  }
})();
