// needlewise service worker. It keeps the app's look and today's session
// page on the phone so the guided session runs with the network off (in
// a bathroom, say), and keeps a finished session's form until the network
// is back, then sends it. The form carries the session's id, so sending it
// more than once stores one session.
"use strict";
const SHELL = "nw-shell-v1";
const QUEUE = "nw-queue-v1";
const ASSETS = [
  "/assets/app.css", "/assets/app.js", "/assets/session.js", "/assets/icon.svg",
  "/assets/icon-192.png", "/offline", "/offline?kept=session",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== SHELL && name !== QUEUE) await caches.delete(name);
    }
    await self.clients.claim();
    await flush();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data === "flush") event.waitUntil(flush());
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
    event.respondWith(fetch(req).then((res) => {
      // Today's session page is kept for use offline.
      if (res.ok && url.pathname === "/session" && !url.search) {
        const copy = res.clone();
        caches.open(SHELL).then((c) => c.put("/session", copy));
      }
      flush();
      return res;
    }).catch(async () => (await caches.match(req))
      || (url.pathname === "/session" ? await caches.match("/session") : undefined)
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
      headers: { "content-type": req.headers.get("content-type") || "application/x-www-form-urlencoded" },
    }));
    if (self.registration.sync) {
      try { await self.registration.sync.register("nw-sessions"); } catch { /* sent on the next visit */ }
    }
    return Response.redirect("/offline?kept=session", 303);
  }
}

let flushing = null;
// Sends every kept session, oldest first; one the server answered (saved,
// or refused with a reason) leaves the queue; one that met no network, or
// no log-in (the answer is the log-in page), stays for the next try.
function flush() {
  if (!flushing) {
    flushing = (async () => {
      const queue = await caches.open(QUEUE);
      for (const key of await queue.keys()) {
        const kept = await queue.match(key);
        if (!kept) continue;
        // Sent now: the server counts the session's start back from now.
        const body = new URLSearchParams(await kept.text());
        if (body.has("started_at") && body.get("started_at")) body.set("sent_at", new Date().toISOString());
        try {
          const res = await fetch("/session", {
            method: "POST",
            body: body.toString(),
            headers: { "content-type": kept.headers.get("content-type") },
            credentials: "same-origin",
          });
          if (new URL(res.url).pathname === "/login") break;
          await queue.delete(key);
        } catch {
          break;
        }
      }
    })().finally(() => { flushing = null; });
  }
  return flushing;
}
