// needlewise service worker. It keeps the app's look and today's session
// page on the phone so the guided session runs with the network off (in
// a bathroom, say), and keeps a finished session's form until the network
// is back, then sends it. The form carries the session's id, so sending it
// more than once stores one session.
"use strict";
// v2: pages carry their stylesheet inline; app.css is no longer kept.
const SHELL = "nw-shell-v2";
const QUEUE = "nw-queue-v1";
// Kept sessions the server answered with a refusal, with its reason, until
// the person has read it (app.js shows them on every page).
const REFUSED = "nw-refused-v1";
const ASSETS = [
  "/assets/app.js", "/assets/session.js", "/assets/icon.svg",
  "/assets/icon-192.png", "/offline", "/offline?kept=session",
];
// Pages kept for use offline: today's session, and "More", where the phone
// logs out (so that logging out offline can warn about a kept session).
const PAGES = ["/session", "/more"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== SHELL && name !== QUEUE && name !== REFUSED) await caches.delete(name);
    }
    await self.clients.claim();
    await flush();
  })());
});

// "flush", or { type: "flush", csrf } from a page: sends what is kept. A
// page logged in gives its form token, which a log-in since the session was
// kept has changed. With a port, answers how many sessions are still kept.
self.addEventListener("message", (event) => {
  const data = typeof event.data === "string" ? { type: event.data } : (event.data || {});
  if (data.type !== "flush") return;
  if (typeof data.csrf === "string" && data.csrf) csrf = data.csrf;
  const port = event.ports && event.ports[0];
  event.waitUntil(flush().then(async () => {
    if (port) port.postMessage({ kept: await keptCount() });
  }));
});

self.addEventListener("sync", (event) => {
  if (event.tag === "nw-sessions") event.waitUntil(flush());
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST" && url.pathname === "/session") {
    event.respondWith(sendOrKeep(req));
    return;
  }
  if (req.method !== "GET") return;
  if (url.pathname.startsWith("/assets/")) {
    // The network first, so a new version shows at once; the copy when offline.
    event.respondWith(fetch(req).then((res) => {
      if (res.ok) { const copy = res.clone(); caches.open(SHELL).then((c) => c.put(req, copy)); }
      return res;
    }).catch(() => caches.match(req).then((hit) => hit || Response.error())));
    return;
  }
  if (req.mode === "navigate") {
    const kept = PAGES.includes(url.pathname) && !url.search;
    event.respondWith(fetch(req).then((res) => {
      // Today's session page (and "More") are kept for use offline.
      if (res.ok && kept && !res.redirected) {
        const copy = res.clone();
        caches.open(SHELL).then((c) => c.put(url.pathname, copy));
      }
      flush();
      return res;
    }).catch(async () => (await caches.match(req))
      || (kept ? await caches.match(url.pathname) : undefined)
      || (await caches.match("/offline"))
      || new Response("You are offline.", { status: 503, headers: { "content-type": "text/plain; charset=utf-8" } })));
  }
});

// Sends a finished session; without a network, keeps it to send later and
// says so.
async function sendOrKeep(req) {
  const body = await req.clone().text();
  try {
    return await fetch(req);
  } catch {
    const id = new URLSearchParams(body).get("session_id") || String(Date.now());
    const queue = await caches.open(QUEUE);
    await queue.put(new Request(`/__queued/${encodeURIComponent(id)}`), new Response(body, {
      headers: {
        "content-type": req.headers.get("content-type") || "application/x-www-form-urlencoded",
        "x-kept-at": new Date().toISOString(),
      },
    }));
    if (self.registration.sync) {
      try { await self.registration.sync.register("nw-sessions"); } catch { /* sent on the next visit */ }
    }
    return Response.redirect("/offline?kept=session", 303);
  }
}

async function keptCount() {
  if (!(await caches.has(QUEUE))) return 0;
  return (await (await caches.open(QUEUE)).keys()).length;
}

// The newest form token a logged-in page gave (see the message handler).
let csrf = "";
let flushing = null;
let again = false;
// Sends every kept session, oldest first. One the server saved leaves the
// queue. One it refused leaves the queue for the list of refusals, with
// the server's reason, and open pages are told. One that met no network,
// no log-in (the answer is the log-in page), a form token from an earlier
// log-in, or trouble on the server (5xx) stays for the next try. A call
// while sending sends once more afterwards (a page may have brought a
// fresh token).
function flush() {
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = (async () => {
    let refused = 0;
    do {
      again = false;
      refused += await sendKept();
    } while (again);
    if (refused) {
      for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "refused" });
    }
  })().catch(() => { /* the cache is unreadable: nothing to send */ }).finally(() => { flushing = null; });
  return flushing;
}

async function sendKept() {
  let refused = 0;
  if (!(await caches.has(QUEUE))) return refused;
  const queue = await caches.open(QUEUE);
  for (const key of await queue.keys()) {
    const kept = await queue.match(key);
    if (!kept) continue;
    // Sent now: the server counts the session's start back from now.
    const body = new URLSearchParams(await kept.text());
    if (body.get("started_at")) body.set("sent_at", new Date().toISOString());
    if (csrf) body.set("csrf", csrf);
    let res;
    try {
      res = await fetch("/session", {
        method: "POST",
        body: body.toString(),
        // A refusal answers in JSON, with its reason in plain words.
        headers: { "content-type": kept.headers.get("content-type"), accept: "application/json" },
        credentials: "same-origin",
      });
    } catch {
      break;
    }
    if (new URL(res.url).pathname === "/login" || res.status >= 500) break;
    if (!res.ok) {
      const why = await reason(res);
      if (why.code === "csrf") break;
      const refusals = await caches.open(REFUSED);
      await refusals.put(new Request(`/__refused/${key.url.split("/").pop()}`), new Response(JSON.stringify({
        started_at: body.get("started_at") || "",
        kept_at: kept.headers.get("x-kept-at") || "",
        refused_at: new Date().toISOString(),
        message: why.message,
      }), { headers: { "content-type": "application/json" } }));
      refused += 1;
    }
    await queue.delete(key);
  }
  return refused;
}

// The server's reason for a refusal (see WebError::into_replay_json).
async function reason(res) {
  try {
    const v = await res.json();
    if (v && v.error && typeof v.error.message === "string") {
      return { code: String(v.error.code || ""), message: v.error.message };
    }
  } catch { /* not JSON: a proxy's page, say */ }
  return { code: "", message: `needlewise did not accept it (error ${res.status}).` };
}
