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
// network is back (see /sw.js). Here: asking it to send, showing the
// sessions it sent that needlewise refused (with the reason), and a
// warning before logging out would clear a session not sent yet.
(function offline() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch(() => { /* the app works online without it */ });
  const QUEUE = "nw-queue-v1";
  const REFUSED = "nw-refused-v1";
  const hasCaches = "caches" in window;
  // This page's form token when logged in (every such page has the log-out
  // form): a log-in since a session was kept has changed it.
  const token = () => {
    const el = document.querySelector('form[action="/logout"] input[name="csrf"]');
    return el ? el.value : "";
  };
  // Asks the worker to send what is kept; resolves with how many sessions
  // are still kept, or null when the worker did not answer.
  const flush = () => new Promise((resolve) => {
    const gaveUp = setTimeout(() => resolve(null), 15000);
    navigator.serviceWorker.ready.then((r) => {
      if (!r.active) { clearTimeout(gaveUp); resolve(null); return; }
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => { clearTimeout(gaveUp); resolve(e.data && e.data.kept); };
      r.active.postMessage({ type: "flush", csrf: token() }, [channel.port2]);
    }, () => { clearTimeout(gaveUp); resolve(null); });
  });
  const kept = async () => {
    if (!hasCaches || !(await caches.has(QUEUE))) return 0;
    return (await (await caches.open(QUEUE)).keys()).length;
  };

  // Kept sessions that needlewise refused when they were sent: a notice
  // under the page's heading until the person dismisses it.
  const when = (iso) => {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    try {
      return d.toLocaleString(undefined, { day: "numeric", month: "long", hour: "numeric", minute: "2-digit" });
    } catch { return d.toLocaleString(); }
  };
  const el = (tag, props, ...children) => {
    const e = Object.assign(document.createElement(tag), props || {});
    for (const c of children) e.append(c);
    return e;
  };
  async function showRefused(focus) {
    const main = document.getElementById("main");
    if (!hasCaches || !main) return false;
    const old = document.getElementById("refused");
    if (!(await caches.has(REFUSED))) {
      if (old) old.remove();
      return false;
    }
    const cache = await caches.open(REFUSED);
    const items = [];
    for (const req of await cache.keys()) {
      try {
        const res = await cache.match(req);
        if (res) items.push({ req, v: await res.json() });
      } catch { /* unreadable: left out */ }
    }
    if (!items.length) {
      if (old) old.remove();
      return false;
    }
    // Shown already: left as it is (and where the person's focus may be).
    if (old && old.isConnected && old.dataset.count === String(items.length)) return true;
    const one = items.length === 1;
    const box = el("div", { id: "refused", className: "notice bad refused", role: "alert", tabIndex: -1 });
    box.dataset.count = String(items.length);
    box.setAttribute("aria-labelledby", "refused-h");
    box.append(el("h2", { id: "refused-h", textContent: one
      ? "A session kept on this phone was not saved"
      : `${items.length} sessions kept on this phone were not saved` }));
    const list = el("ul", { className: "plain" });
    for (const { v } of items) {
      const at = when(v.started_at || v.kept_at);
      list.append(el("li", {}, el("strong", { textContent: at ? `The session you started ${at}` : "A session you finished offline" }),
        ` was sent when the network came back, and needlewise refused it: ${v.message}`));
    }
    box.append(list);
    box.append(el("p", { textContent: one
      ? "It is not in your record, and the phone no longer keeps it."
      : "They are not in your record, and the phone no longer keeps them." }));
    const dismiss = el("button", { type: "button", className: "secondary", textContent: "Dismiss" });
    dismiss.addEventListener("click", async () => {
      for (const { req } of items) await cache.delete(req);
      box.remove();
      const h1 = main.querySelector("h1");
      if (h1) { h1.tabIndex = -1; h1.focus(); }
    });
    box.append(el("p", { className: "actions" }, el("a", { href: "/session", textContent: "Today's session page" }), dismiss));
    const before = document.getElementById("refused");
    if (before) before.remove();
    const h1 = main.querySelector("h1");
    if (h1) h1.after(box); else main.prepend(box);
    if (focus) box.focus();
    return true;
  }
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && e.data.type === "refused") showRefused(false);
  });
  navigator.serviceWorker.startMessages();
  showRefused(false);

  // Logging out clears what the phone keeps (Clear-Site-Data): with a
  // session not sent yet, say so first and offer to send it.
  function warn(form, count) {
    const one = count === 1;
    const dialog = el("dialog", { id: "logout-warning", className: "warning" });
    dialog.setAttribute("aria-labelledby", "lw-h");
    dialog.setAttribute("aria-describedby", "lw-p");
    const status = el("p", { id: "lw-status", role: "status" });
    const send = el("button", { type: "button", textContent: `Send ${one ? "it" : "them"} now, then log out` });
    const stay = el("button", { type: "button", className: "secondary", textContent: "Stay logged in" });
    const lose = el("button", { type: "button", className: "link", textContent: `Log out and lose ${one ? "it" : "them"}` });
    dialog.append(
      el("h2", { id: "lw-h", textContent: one ? "A session is waiting to be sent" : `${count} sessions are waiting to be sent` }),
      el("p", { id: "lw-p", textContent: (one
        ? "You finished a session while offline. It is kept on this phone and has not reached needlewise yet."
        : "You finished sessions while offline. They are kept on this phone and have not reached needlewise yet.")
        + " Logging out clears what this phone keeps, so " + (one ? "it" : "they") + " would be lost." }),
      status,
      el("p", { className: "actions" }, send, stay, lose));
    const logOut = () => { form.dataset.confirmed = "1"; dialog.close(); form.submit(); };
    stay.addEventListener("click", () => dialog.close());
    lose.addEventListener("click", logOut);
    send.addEventListener("click", async () => {
      send.disabled = true;
      status.textContent = "Sending…";
      const left = await flush();
      send.disabled = false;
      if (left === 0) {
        // Refused meanwhile: the reason comes first, logging out can wait.
        if (await showRefused(false)) {
          dialog.close();
          document.getElementById("refused").focus();
          return;
        }
        logOut();
        return;
      }
      status.textContent = "It could not be sent: this phone cannot reach needlewise just now. Stay logged in, and "
        + (one ? "it is" : "they are") + " sent by " + (one ? "itself" : "themselves") + " as soon as the network is back.";
    });
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }
  for (const form of document.querySelectorAll('form[action="/logout"]')) {
    form.addEventListener("submit", async (e) => {
      if (form.dataset.confirmed || !hasCaches) return;
      e.preventDefault();
      let count = 0;
      try { count = await kept(); } catch { count = 0; }
      if (count) warn(form, count);
      else { form.dataset.confirmed = "1"; form.submit(); }
    });
  }

  // Sent on each page load and when the network is back; a refusal met on
  // the way shows at once.
  const send = () => { flush().then(() => showRefused(false)); };
  window.addEventListener("online", send);
  if (navigator.onLine) send();
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
