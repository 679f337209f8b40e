// New messages without a reload: every 10 seconds, while the page is in
// view, ask the thread's updates address for the messages after the last
// one shown, with the tag of what the page holds (304 when nothing
// changed), and append what comes back. Without JavaScript the page works
// as before: reload it, or send a reply.
(() => {
  "use strict";
  const list = document.querySelector("ol.messages[data-updates]");
  if (!list || !window.fetch) return;
  const every = 10000;
  let etag = list.dataset.etag || null;
  let busy = false;

  const lastId = () => {
    const items = list.querySelectorAll("li[id^='m-']");
    return items.length ? items[items.length - 1].id.slice(2) : "";
  };

  const poll = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const url = new URL(list.dataset.updates, window.location.href);
      const after = lastId();
      if (after) url.searchParams.set("after", after);
      const headers = { Accept: "text/html" };
      if (etag) headers["If-None-Match"] = etag;
      const res = await fetch(url, { headers, cache: "no-store", credentials: "same-origin" });
      if (res.status === 304) return;
      if (!res.ok) return;
      etag = res.headers.get("ETag");
      const html = await res.text();
      const box = document.createElement("ol");
      box.innerHTML = html;
      for (const li of Array.from(box.children)) {
        if (li.id && !document.getElementById(li.id)) list.appendChild(li);
      }
    } catch (_) {
      // Offline or the server is away: try again at the next tick.
    } finally {
      busy = false;
    }
  };

  window.setInterval(poll, every);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
})();
