// Shared steps of the journeys: each test signs up its own user.
import { expect, type BrowserContext, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import path from 'node:path';
import { createHmac } from 'node:crypto';

export const PASSWORD = 'correct horse battery';
let serial = 0;

/** A fresh address per call, unique across runs on the same server. */
export function uniqueEmail(tag: string): string {
  serial += 1;
  return `${tag}-${Date.now().toString(36)}-${process.pid}-${serial}@example.org`;
}

export async function signUp(page: Page, tag: string): Promise<string> {
  const email = uniqueEmail(tag);
  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create an account' }).click();
  // Signing up logs nobody in (a taken email gets the same answer): log in.
  await expect(page).toHaveURL(/\/login\?signed_up=1/);
  await expect(page.getByRole('status')).toContainText('your account is ready');
  await logIn(page, email);
  // Logged in: at phone width the tab bar stands at the foot of every page.
  await expect(page.getByRole('navigation', { name: 'Sections' })).toBeVisible();
  return email;
}

/** Fills the log-in form the page shows. */
export async function logIn(page: Page, email: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The fieldset of one question. */
export const question = (page: Page, id: string) => page.locator(`#q-${id}`);

/** Ticks one option (radio or checkbox) of a question, by its visible label. */
export async function choose(page: Page, id: string, label: string): Promise<void> {
  const q = question(page, id);
  await expect(q).toBeVisible();
  await q.getByLabel(label, { exact: true }).check();
}

/** Moves the server's clock forward (scripts/e2e serves with --test-clock). */
export async function advanceServerClock(page: Page, minutes: number): Promise<void> {
  const res = await page.request.post(`/__test/clock/advance?minutes=${minutes}`);
  expect(res.status(), await res.text()).toBe(200);
}

/** The step of the screening the page shows, checked on its progress element. */
export async function expectStep(page: Page, n: number): Promise<void> {
  await expect(page.locator('.step-progress p')).toHaveText(new RegExp(`^Step ${n} of \\d+: `));
  await expect(page.locator('.step-progress progress')).toHaveAttribute('value', String(n));
}

/** Next, to step `n` of the screening. */
export async function nextStep(page: Page, n: number): Promise<void> {
  await page.getByRole('button', { name: /^Next: / }).click();
  await expectStep(page, n);
}

/** Back, to step `n` of the screening. */
export async function backStep(page: Page, n: number): Promise<void> {
  await page.getByRole('button', { name: 'Back', exact: true }).click();
  await expectStep(page, n);
}

/**
 * Fills the screening a topic at a time as a user would, one visible
 * question at a time, with answers that end in `go`; `overrides` change
 * single answers. It stops on the last step, before "See my verdict".
 */
export async function fillScreening(page: Page, overrides: Record<string, string> = {}): Promise<void> {
  const no = (id: string) => choose(page, id, overrides[id] ?? 'No');
  await page.goto('/screening');
  await expectStep(page, 1);
  await question(page, 'age').getByRole('spinbutton').fill('35');
  await choose(page, 'sex', 'female');
  for (const id of ['pregnant', 'breastfeeding']) await no(id);
  await nextStep(page, 2);
  for (const id of ['cardiac_condition', 'collagen_vascular_disease', 'bleeding_disorder', 'anticoagulants',
    'immunosuppressed', 'systemic_infection']) await no(id);
  await choose(page, 'diabetes', 'none');
  await no('other_serious_condition');
  await nextStep(page, 3);
  for (const id of ['isotretinoin', 'chemo_or_radiotherapy', 'high_dose_steroids']) {
    await choose(page, id, 'Never');
  }
  for (const id of ['chemo_or_radiotherapy_planned', 'high_dose_steroids_planned']) await no(id);
  // The planned start dates show only after a yes.
  await expect(question(page, 'chemo_or_radiotherapy_start')).toBeHidden();
  await nextStep(page, 4);
  for (const id of ['keloid_tendency', 'skin_cancer_or_suspicious_lesion', 'chronic_skin_condition',
    'treating_young_scar']) await no(id);
  await question(page, 'fitzpatrick').getByRole('spinbutton').fill('2');
  await nextStep(page, 5);
  for (const id of ['metal_allergy', 'anaesthetic_allergy', 'plans_topical_anaesthetic']) await no(id);
  await nextStep(page, 6);
  await choose(page, 'device_kind', overrides.device_kind ?? 'roller');
  await question(page, 'needle_length_mm').getByRole('spinbutton').fill('0.25');
  await choose(page, 'zones', 'forehead');
  await choose(page, 'zones', 'left cheek');
  await nextStep(page, 7);
  await no('cold_sores');
  // Not applicable with these answers, so hidden by the page's script.
  await expect(question(page, 'antiviral_plan_confirmed')).toBeHidden();
}

export async function submitScreening(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'See my verdict' }).click();
  await expect(page).toHaveURL(/\/screening\/result$/);
}

export async function screenGo(page: Page): Promise<void> {
  await fillScreening(page);
  await submitScreening(page);
  await expect(page.locator('p.verdict')).toHaveClass(/\bgo\b/);
}

/** Adds a roller on the roller page and returns its card. */
export async function addRoller(page: Page, name: string) {
  await page.goto('/devices');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Needle length (mm)').fill('0.25');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const card = page.locator('article.device').filter({ has: page.getByRole('heading', { name: new RegExp(`^${name}`) }) });
  await expect(card).toBeVisible();
  return card;
}

/** The id of a roller card (`device-<uuid>`). */
export async function deviceId(card: ReturnType<Page['locator']>): Promise<string> {
  const id = await card.getAttribute('id');
  expect(id).toMatch(/^device-/);
  return id!.slice('device-'.length);
}

/**
 * Rinse, soak (11 minutes pass), dry (31 minutes pass), ready. `after`, when
 * given, runs after each step with the state reached (`rinsed`, `soaking`,
 * `drying`, `ready`), on the roller page as it stands.
 */
export async function cycleToReady(page: Page, name: string, after?: (state: string) => Promise<void>): Promise<void> {
  const card = () => page.locator('article.device').filter({ has: page.getByRole('heading', { name: new RegExp(`^${name}`) }) });
  const state = () => card().locator('.state');
  await page.goto('/devices');
  await card().getByRole('button', { name: 'Rinsed' }).click();
  await expect(state()).toHaveText('rinsed');
  await after?.('rinsed');
  await card().getByRole('button', { name: 'Put to soak' }).click();
  await expect(state()).toHaveText(/soak/);
  // The next step's button waits for its time, on the server's clock.
  await expect(card().getByRole('button', { name: 'Out of the soak, air-drying' })).toBeDisabled();
  await after?.('soaking');
  await advanceServerClock(page, 11);
  await page.reload();
  await card().getByRole('button', { name: 'Out of the soak, air-drying' }).click();
  await expect(state()).toHaveText(/dry/);
  await after?.('drying');
  await advanceServerClock(page, 31);
  await page.reload();
  await card().getByRole('button', { name: 'Dry and capped' }).click();
  await expect(state()).toHaveText('ready');
  await after?.('ready');
}

/** Today's readiness questions, all clear. */
export async function readyAllClear(page: Page): Promise<void> {
  await page.goto('/ready');
  await choose(page, 'skin_cleansed', 'Yes');
  for (const id of ['device_damaged', 'cold_sore_now', 'sunburn_or_tan', 'actives_recently',
    'new_medication', 'pregnant_now', 'feeling_unwell']) {
    if (await question(page, id).isVisible()) await choose(page, id, 'No');
  }
  await page.getByRole('button', { name: 'Check' }).click();
  await expect(page.locator('p.verdict')).toHaveClass(/\bgo\b/);
}

/** The sessions stored for the logged-in profile, counted through the API. */
export async function sessionCount(page: Page): Promise<number> {
  const res = await page.request.get('/api/sessions');
  expect(res.status()).toBe(200);
  return (await res.json()).length;
}

/**
 * Opens today's session page until the service worker controls it and
 * keeps a copy for use offline.
 */
export async function workerKeepsSessionPage(page: Page): Promise<void> {
  await page.goto('/session');
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
  await expect.poll(() => page.evaluate(async () => !!(await caches.match('/session')))).toBe(true);
}

/** How many finished sessions the phone keeps, not sent yet (the service worker's queue). */
export async function keptSessions(page: Page): Promise<number> {
  return page.evaluate(async () => (await caches.has('nw-queue-v1'))
    ? (await (await caches.open('nw-queue-v1')).keys()).length : 0);
}

/**
 * With the network off (the page's clock installed, `page.clock.install()`):
 * today's session page from the phone, three seconds of the guided
 * session, finished early and saved; the phone keeps it to send later.
 */
export async function keepSessionOffline(page: Page, context: BrowserContext): Promise<void> {
  await context.setOffline(true);
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: 'Zone by zone' })).toBeVisible();
  await page.locator('#g-go').click(); // Start
  await expect(page.locator('#g-go')).toHaveText('Pause');
  await page.clock.runFor(3_000);
  await page.locator('#g-finish').click(); // Finish early
  await expect(page.locator('#g-zone')).toHaveText('Session finished');
  await page.getByRole('button', { name: 'Save the session' }).click();
  await expect(page.getByRole('heading', { name: 'Session kept on this phone' })).toBeVisible();
  expect(await keptSessions(page)).toBe(1);
}

/** axe-core on the page as it stands: no violations. */
export async function expectNoAxeViolations(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) =>
    `${v.id} (${v.impact}): ${v.help}\n` + v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1, 2).join('')}`).join('\n'));
  expect(summary, `axe violations on ${what}`).toEqual([]);
}

/** A full-page phone-size screenshot under target/e2e-screenshots/ (or $E2E_SCREENSHOTS). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const root = process.env.E2E_ROOT ?? path.resolve(__dirname, '..', '..');
  const dir = process.env.E2E_SCREENSHOTS ?? path.join(root, 'target', 'e2e-screenshots');
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

// ---------------------------------------------------------------- the clinic side

/** The server's clock now (the test clock: `--test-clock` moves it, so never `Date.now()`). */
export async function serverTime(page: Page): Promise<Date> {
  const res = await page.request.post('/__test/clock/advance?minutes=0');
  const text = (await res.text()).trim();
  expect(res.status(), text).toBe(200);
  // A jiff timestamp such as 2026-11-26T02:30:00.123456789Z: keep whole seconds.
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z$/.exec(text);
  expect(m, `the server's time: ${text}`).not.toBeNull();
  return new Date(`${m![1]}Z`);
}

/** A base32 (RFC 4648) key as authenticator apps show it; spaces and case do not matter. */
export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${JSON.stringify(c)} in ${JSON.stringify(text)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (HMAC-SHA-1, 30-second steps, 6 digits) at a moment. */
export function totpAt(secret: Buffer, at: Date): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at.getTime() / 1000 / 30)));
  const h = createHmac('sha1', secret).update(counter).digest();
  const offset = h[h.length - 1] & 0x0f;
  const binary = ((h[offset] & 0x7f) << 24) | (h[offset + 1] << 16) | (h[offset + 2] << 8) | h[offset + 3];
  return String(binary % 1_000_000).padStart(6, '0');
}

/** The code an authenticator app would show now, by the server's clock. */
export async function currentTotp(page: Page, secretBase32: string): Promise<string> {
  return totpAt(base32Decode(secretBase32), await serverTime(page));
}

export type ClinicSignUp = { email: string; clinic: string; clinician: string };

/** Fills /clinic/signup as a new account and logs in; the page is then on /mfa, enrolling. */
export async function startClinicSignUp(page: Page, tag: string): Promise<ClinicSignUp> {
  const email = uniqueEmail(tag);
  const suffix = email.split('@')[0].split('-').slice(1).join('-');
  const who = { email, clinic: `Clinic ${suffix}`, clinician: `Dr Ada ${suffix}` };
  await page.goto('/clinic/signup');
  await page.getByLabel('Your email').fill(email);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByLabel(/^Your name/).fill(who.clinician);
  await page.getByLabel('Clinic name').fill(who.clinic);
  await expect(page.getByLabel("The clinic's time zone")).toHaveValue('Europe/London');
  await page.getByRole('button', { name: 'Create the clinic' }).click();
  await expect(page).toHaveURL(/\/login\?signed_up=clinic/);
  await expect(page.getByRole('status')).toContainText('your clinic');
  await logIn(page, email);
  await expect(page).toHaveURL(/\/mfa\?next=%2Fclinic$/);
  await expect(page.locator('#secret')).toBeVisible();
  return who;
}

/** On the enrolment page: reads the key shown, types the current code, and returns the key. */
export async function enrolTotp(page: Page): Promise<string> {
  const secret = (await page.locator('#secret').textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
  await page.getByLabel('Code').fill(await currentTotp(page, secret));
  await page.getByRole('button', { name: 'Turn on the second factor' }).click();
  return secret;
}

/** A new clinic with its second factor on; the page is then on /clinic. */
export async function signUpClinic(page: Page, tag: string): Promise<ClinicSignUp & { secret: string }> {
  const who = await startClinicSignUp(page, tag);
  const secret = await enrolTotp(page);
  await expect(page).toHaveURL(/\/clinic$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Patients' })).toBeVisible();
  return { ...who, secret };
}

/** Makes an invite on /clinic/invites and returns its path, `/join/<code>`. */
export async function createInvite(page: Page, label = ''): Promise<string> {
  await page.goto('/clinic/invites');
  if (label) await page.getByLabel(/^A note for the clinic/).fill(label);
  await page.getByRole('button', { name: 'Make an invite link' }).click();
  const link = (await page.locator('#invite-link').textContent())!.trim();
  const m = /\/join\/[0-9a-f]{64}$/.exec(link);
  expect(m, `an invite link: ${link}`).not.toBeNull();
  return m![0];
}

/** Opens an invite as a logged-in patient, ticks exactly `scopes`, and joins. */
export async function joinClinic(page: Page, joinPath: string, clinic: string, scopes: string[]): Promise<void> {
  await page.goto(joinPath);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Join ${clinic}`);
  for (const box of await page.locator('input[name="scope"]').all()) {
    const wanted = scopes.includes((await box.getAttribute('value'))!);
    if (wanted) await box.check(); else await box.uncheck();
  }
  await page.getByRole('button', { name: `Join ${clinic}` }).click();
  await expect(page).toHaveURL(/\/care-team#clinic-/);
}

/** A check-in with one red flag (pus or spreading warmth), every other answer calm. */
export async function checkInRedFlag(page: Page): Promise<void> {
  await page.goto('/checkin');
  const checkin = page.locator('form.questions');
  for (const fs of await checkin.locator('fieldset.q').all()) {
    if (!(await fs.isVisible())) continue;
    const id = (await fs.getAttribute('id'))!.slice(2);
    if (id === 'pus_or_spreading_warmth') await fs.getByLabel('Yes', { exact: true }).check();
    else if (await fs.getByLabel('No', { exact: true }).count()) await fs.getByLabel('No', { exact: true }).check();
    else if (await fs.getByRole('radio').count()) await fs.getByRole('radio').first().check();
    else if (await fs.getByRole('spinbutton').count()) await fs.getByRole('spinbutton').fill('24');
  }
  await page.getByRole('button', { name: 'Send check-in' }).click();
}
