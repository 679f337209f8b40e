// How fast the screening's first step appears on a phone, against a plain
// HTML form of the same questions, and what each page of the journey
// costs over the wire. Run by scripts/speed-screening, which serves
// needlewise and sets SPEED_BASE_URL; not part of CI.
//
// In one Chromium (the one Playwright uses for the browser suite):
//   1. signs up and logs in through the pages, recording every page's
//      bytes on the wire (compressed, headers included, subresources the
//      navigation fetched included);
//   2. walks the screening's steps, screens, cleans a roller with the test
//      clock, answers today's readiness and opens the guided session,
//      recording the same;
//   3. N times each, alternating, in a fresh browser context: the time
//      from navigation to the first step's last question being shown,
//      with a cold cache and arriving from the home page (its assets
//      cached), and the same for a static page with the same questions as
//      plain HTML (generated from /api/evidence), served over loopback
//      with gzip by a small server process of its own, with the security
//      headers needlewise sends with every page (copied from its own
//      answer to /screening). Cross-Origin-Opener-Policy among them makes
//      Chromium move a page out of the new tab's first process, which
//      costs the same for any page that sends it; the plain form without
//      those headers is timed too and printed, for information;
//   4. adds up what the session page needs offline: the page itself, what
//      it loads, and what the service worker keeps (its ASSETS list).
// Prints the medians, the per-page bytes and the verdicts; exits 1 when a
// target fails: first step <= 1.5 x plain (cold and warm), every page <= 30 KB, the
// session page's offline set <= 100 KB.
import { chromium } from '@playwright/test';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';

const base = process.env.SPEED_BASE_URL;
if (!base) throw new Error('SPEED_BASE_URL is not set (run scripts/speed-screening)');
const runs = Number(process.env.SPEED_RUNS ?? 15);
const PASSWORD = 'correct horse battery';
const PAGE_LIMIT = 30 * 1024;
const OFFLINE_LIMIT = 100 * 1024;
const RATIO_LIMIT = 1.5;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
// No service worker while measuring: a page it answers shows no bytes on
// the page's own network log (the worker's list is counted on its own).
const phone = { viewport: { width: 390, height: 844 }, baseURL: base, serviceWorkers: 'block' };

/** Bytes on the wire per navigation, from the DevTools protocol. */
async function meter(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map();
  let bytes = new Map();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => bytes.set(e.requestId, e.encodedDataLength));
  return {
    /** The requests since the last call: [url, bytes]. */
    take() {
      const out = [...bytes].map(([id, n]) => [urls.get(id) ?? '?', n]);
      bytes = new Map();
      return out;
    },
  };
}

const pages = [];
async function visited(page, m, name) {
  await page.waitForLoadState('load');
  // Let deferred scripts and the service worker's fetches settle.
  await page.waitForTimeout(150);
  const requests = m.take().filter(([url]) => !url.includes('/__test/'));
  const total = requests.reduce((s, [, n]) => s + n, 0);
  const doc = requests.find(([url]) => new URL(url).pathname === new URL(page.url()).pathname);
  pages.push({ name, path: new URL(page.url()).pathname, total, doc: doc ? doc[1] : 0, requests });
}

const q = (page, id) => page.locator(`#q-${id}`);
const choose = (page, id, label) => q(page, id).getByLabel(label, { exact: true }).check();
const next = async (page, m, n) => {
  await page.getByRole('button', { name: /^Next: / }).click();
  await page.locator('.step-progress progress[value="' + n + '"]').waitFor();
  await visited(page, m, `screening step ${n}`);
};

// ---- 1 and 2: the journey, one person, one context.
const context = await browser.newContext(phone);
const page = await context.newPage();
const m = await meter(context, page);
const email = `speed-${Date.now().toString(36)}-${process.pid}@example.org`;
await page.goto('/');
await visited(page, m, 'landing');
await page.goto('/signup');
await visited(page, m, 'sign up');
await page.getByLabel('Email').fill(email);
await page.getByLabel(/^Password/).fill(PASSWORD);
await page.getByRole('button', { name: 'Create an account' }).click();
await page.waitForURL(/\/login\?signed_up=1/);
await visited(page, m, 'log in');
await page.getByLabel('Email').fill(email);
await page.getByLabel(/^Password/).fill(PASSWORD);
await page.getByRole('button', { name: 'Log in' }).click();
await page.getByRole('navigation', { name: 'Sections' }).waitFor();
await visited(page, m, 'after log-in');

await page.goto('/screening');
await visited(page, m, 'screening step 1');
const evidence = await (await page.request.get('/api/evidence')).json();
const questions = evidence.screening.questions.filter((x) => !x.fact);
const firstTopic = questions[0].topic;
const firstStep = questions.filter((x) => x.topic === firstTopic);
const lastOfFirst = firstStep[firstStep.length - 1].id;

await q(page, 'age').getByRole('spinbutton').fill('35');
await choose(page, 'sex', 'female');
for (const id of ['pregnant', 'breastfeeding']) await choose(page, id, 'No');
await next(page, m, 2);
for (const id of ['cardiac_condition', 'collagen_vascular_disease', 'bleeding_disorder', 'anticoagulants',
  'immunosuppressed', 'systemic_infection', 'other_serious_condition']) await choose(page, id, 'No');
await choose(page, 'diabetes', 'none');
await next(page, m, 3);
for (const id of ['isotretinoin', 'chemo_or_radiotherapy', 'high_dose_steroids']) await choose(page, id, 'Never');
for (const id of ['chemo_or_radiotherapy_planned', 'high_dose_steroids_planned']) await choose(page, id, 'No');
await next(page, m, 4);
for (const id of ['keloid_tendency', 'skin_cancer_or_suspicious_lesion', 'chronic_skin_condition',
  'treating_young_scar']) await choose(page, id, 'No');
await q(page, 'fitzpatrick').getByRole('spinbutton').fill('2');
await next(page, m, 5);
for (const id of ['metal_allergy', 'anaesthetic_allergy', 'plans_topical_anaesthetic']) await choose(page, id, 'No');
await next(page, m, 6);
await choose(page, 'device_kind', 'roller');
await q(page, 'needle_length_mm').getByRole('spinbutton').fill('0.25');
await choose(page, 'zones', 'forehead');
await next(page, m, 7);
await choose(page, 'cold_sores', 'No');
await page.getByRole('button', { name: 'See my verdict' }).click();
await page.waitForURL(/\/screening\/result$/);
await visited(page, m, 'screening result');

// A roller, cleaned on the server's test clock, and today's check.
await page.goto('/devices');
await visited(page, m, 'rollers');
await page.getByLabel('Name').fill('speed roller');
await page.getByLabel('Needle length (mm)').fill('0.25');
await page.getByRole('button', { name: 'Add', exact: true }).click();
const card = page.locator('article.device');
const step = async (name, minutes) => {
  if (minutes) {
    const r = await page.request.post(`/__test/clock/advance?minutes=${minutes}`);
    if (r.status() !== 200) throw new Error(`the test clock: ${r.status()} (serve --test-clock)`);
    await page.reload();
  }
  await card.getByRole('button', { name }).click();
  await page.waitForLoadState('load');
};
await step('Rinsed');
await step('Put to soak');
await step('Out of the soak, air-drying', 11);
await step('Dry and capped', 31);
m.take();
await page.goto('/ready');
await visited(page, m, 'readiness');
await choose(page, 'skin_cleansed', 'Yes');
for (const id of ['device_damaged', 'cold_sore_now', 'sunburn_or_tan', 'actives_recently', 'new_medication',
  'pregnant_now', 'feeling_unwell']) {
  if (await q(page, id).isVisible()) await choose(page, id, 'No');
}
await page.getByRole('button', { name: 'Check' }).click();
await page.locator('p.verdict').waitFor();
await visited(page, m, 'readiness result');
await page.goto('/');
await visited(page, m, 'home');
await page.goto('/session');
await page.getByRole('heading', { name: 'Zone by zone' }).waitFor();
await visited(page, m, 'session');
const sessionPage = pages[pages.length - 1];
const storage = await context.storageState();
await context.close();

/** The bytes of a response's body as sent, compressed when the server compresses. */
const sentBytes = (url) => new Promise((ok, fail) => {
  http.get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
    let n = 0;
    res.on('data', (c) => { n += c.length; });
    res.on('end', () => ok(n));
  }).on('error', fail);
});
// ---- 4: what the session page needs offline, each URL counted once: the
// page and what it loaded (above), the worker, the manifest and the
// worker's own list, fetched compressed as the browser would.
const offline = new Map();
for (const [url, n] of sessionPage.requests) offline.set(new URL(url).pathname + new URL(url).search, n);
// A file the journey had cached already shows 0 bytes there: fetched again.
for (const [p, n] of offline) if (n === 0 && p !== '/session') offline.set(p, await sentBytes(new URL(p, base)));
const swText = await (await fetch(new URL('/sw.js', base))).text();
const list = JSON.parse(swText.match(/const ASSETS = (\[[\s\S]*?\]);/)[1].replace(/,\s*\]/, ']'));
for (const path of ['/sw.js', '/manifest.webmanifest', ...list]) {
  if (!offline.has(path)) offline.set(path, await sentBytes(new URL(path, base)));
}
const offlineTotal = [...offline.values()].reduce((s, n) => s + n, 0);

// ---- 3: first step against a plain form of the same questions.
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
function plainForm(qs) {
  const field = (x) => {
    const legend = `<legend>${esc(x.prompt)}</legend>`;
    let input;
    switch (x.kind) {
      case 'bool': input = ['yes', 'no'].map((v) => `<label><input type="radio" name="${x.id}" value="${v}"> ${v}</label>`).join(' '); break;
      case 'choice': input = x.options.map((v) => `<label><input type="radio" name="${x.id}" value="${v}"> ${v}</label>`).join(' '); break;
      case 'integer': case 'number': input = `<input type="number" name="${x.id}" min="${x.min}" max="${x.max}">`; break;
      case 'date': input = `<input type="date" name="${x.id}">`; break;
      case 'exposure': input = ['never', 'current'].map((v) => `<label><input type="radio" name="${x.id}" value="${v}"> ${v}</label>`).join(' ') + ` <input type="date" name="${x.id}_date">`; break;
      default: input = `<input name="${x.id}">`;
    }
    return `<fieldset id="q-${x.id}">${legend}${input}</fieldset>`;
  };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Screening</title></head><body><h1>Screening</h1><form method="post" action="/">${qs.map(field).join('\n')}<button>Next</button></form></body></html>`;
}
const plainHtml = plainForm(firstStep);
// The plain page is served by a process of its own, as needlewise is, so
// this script's own work never delays it.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'speed-screening-'));
fs.writeFileSync(path.join(dir, 'plain.html'), plainHtml);
// needlewise's own page headers, the same for every page: the security
// policy (CSP, COOP, framing, referrer, permissions, nosniff).
const policy = await fetch(new URL('/screening', base), {
  headers: { cookie: storage.cookies.map((c) => `${c.name}=${c.value}`).join('; ') },
  redirect: 'manual',
});
if (policy.status !== 200) throw new Error(`GET /screening with the journey's log-in answered ${policy.status}`);
const POLICY_HEADERS = ['content-security-policy', 'cross-origin-opener-policy', 'x-frame-options',
  'referrer-policy', 'permissions-policy', 'x-content-type-options'];
const policyHeaders = Object.fromEntries(POLICY_HEADERS.map((h) => [h, policy.headers.get(h)]).filter(([, v]) => v));
if (!policyHeaders['cross-origin-opener-policy']) throw new Error('needlewise sent no Cross-Origin-Opener-Policy; update this script');
fs.writeFileSync(path.join(dir, 'headers.json'), JSON.stringify(policyHeaders));
const plain = spawn(process.execPath, ['-e', `
  const http = require('node:http'), zlib = require('node:zlib'), fs = require('node:fs');
  const html = fs.readFileSync(process.argv[1]);
  const policy = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const gz = zlib.gzipSync(html);
  const s = http.createServer((req, res) => {
    const z = /\\bgzip\\b/.test(req.headers['accept-encoding'] || '');
    const body = z ? gz : html;
    // /bare: the same form without needlewise's security headers.
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
      'content-length': body.length, ...(z ? { 'content-encoding': 'gzip' } : {}),
      ...(req.url.startsWith('/bare') ? {} : policy) });
    res.end(body);
  }).listen(0, '127.0.0.1', () => console.log(s.address().port));
`, path.join(dir, 'plain.html'), path.join(dir, 'headers.json')], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((ok) => plain.stdout.once('data', (d) => ok(Number(String(d).trim()))));
const plainUrl = `http://127.0.0.1:${port}/`;
const bareUrl = `http://127.0.0.1:${port}/bare`;

/** Milliseconds from navigation start to the question's fieldset shown. */
async function timeToLast(url, withLogin, from) {
  const ctx = await browser.newContext(withLogin ? { ...phone, storageState: storage } : phone);
  const p = await ctx.newPage();
  // Warm: arriving from another page of the same site, its assets cached.
  if (from) await p.goto(from, { waitUntil: 'load' });
  await p.goto(url, { waitUntil: 'commit' });
  const ms = await p.waitForFunction((id) => {
    const el = document.getElementById(`q-${id}`);
    return el && !el.hidden && el.getBoundingClientRect().height > 0 ? performance.now() : false;
  }, lastOfFirst, { polling: 'raf' });
  const shown = await ms.jsonValue();
  // When the page's own bytes had arrived, for the report.
  const doc = await p.evaluate(() => performance.getEntriesByType('navigation')[0].responseEnd);
  await ctx.close();
  return [shown, doc];
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const app = [], flat = [];
await timeToLast(`${base}/screening`, true); // warm the server once
await timeToLast(plainUrl, false);
const appDoc = [], flatDoc = [], appWarm = [], flatWarm = [], bare = [];
for (let i = 0; i < runs; i++) {
  const [a1, a2] = await timeToLast(`${base}/screening`, true);
  const [f1, f2] = await timeToLast(plainUrl, false);
  app.push(a1); appDoc.push(a2); flat.push(f1); flatDoc.push(f2);
  bare.push((await timeToLast(bareUrl, false))[0]);
  appWarm.push((await timeToLast(`${base}/screening`, true, `${base}/`))[0]);
  flatWarm.push((await timeToLast(plainUrl, false, plainUrl))[0]);
}
plain.kill();
fs.rmSync(dir, { recursive: true, force: true });
await browser.close();

// ---- The report.
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
let ok = true;
console.log(`first step "${firstTopic}" (${firstStep.length} questions, the last ${lastOfFirst}), ${runs} runs each,`);
console.log('navigation start to the last question shown:');
const row = (name, xs) => console.log(`  ${name.padEnd(40)} median ${median(xs).toFixed(1).padStart(6)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`);
row('needlewise /screening, cold cache', app);
row('plain static form, cold cache', flat);
row('  (the same without the security headers)', bare);
row('needlewise /screening, from the home page', appWarm);
row('plain static form, from itself', flatWarm);
console.log(`  (cold, the page's own bytes in: needlewise median ${median(appDoc).toFixed(1)} ms, plain ${median(flatDoc).toFixed(1)} ms)`);
console.log(`  (for information, cold against the plain form without needlewise's security headers: ${(median(app) / median(bare)).toFixed(2)} x;`);
console.log('   its Cross-Origin-Opener-Policy moves the page to a process of its own, whatever the page holds)');
for (const [name, a, b] of [['cold', app, flat], ['warm', appWarm, flatWarm]]) {
  const r = median(a) / median(b);
  ok &&= r <= RATIO_LIMIT;
  console.log(`  first step <= ${RATIO_LIMIT} x plain, ${name}: ${r <= RATIO_LIMIT ? 'yes' : 'NO'} (${r.toFixed(2)} x)`);
}
console.log('bytes on the wire per page (compressed, headers and the subresources it fetched included):');
for (const p of pages) {
  const pass = p.total <= PAGE_LIMIT;
  ok &&= pass;
  console.log(`  ${pass ? 'ok  ' : 'OVER'} ${kb(p.total).padStart(8)}  (document ${kb(p.doc)}, ${p.requests.length} requests)  ${p.name} ${p.path}`);
}
console.log(`  every page <= ${kb(PAGE_LIMIT)}: ${pages.every((p) => p.total <= PAGE_LIMIT) ? 'yes' : 'NO'}`);
const offlineOk = offlineTotal <= OFFLINE_LIMIT;
ok &&= offlineOk;
console.log(`the session page offline (page, what it loads, the worker and what it keeps): ${kb(offlineTotal)} in ${offline.size} files`);
for (const [path, n] of offline) console.log(`  ${kb(n).padStart(8)}  ${path}`);
console.log(`  <= ${kb(OFFLINE_LIMIT)}: ${offlineOk ? 'yes' : 'NO'}`);
process.exit(ok ? 0 : 1);
