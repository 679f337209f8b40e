// Shared steps of the journeys: each test signs up its own user.
import { expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import path from 'node:path';

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
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  return email;
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

/**
 * Fills the screening form as a user would, one visible question at a
 * time, with answers that end in `go`; `overrides` change single answers.
 */
export async function fillScreening(page: Page, overrides: Record<string, string> = {}): Promise<void> {
  const no = (id: string) => choose(page, id, overrides[id] ?? 'No');
  await page.goto('/screening');
  await question(page, 'age').getByRole('spinbutton').fill('35');
  await choose(page, 'sex', 'female');
  for (const id of ['pregnant', 'breastfeeding', 'cardiac_condition', 'collagen_vascular_disease',
    'bleeding_disorder', 'anticoagulants']) await no(id);
  for (const id of ['isotretinoin', 'chemo_or_radiotherapy', 'high_dose_steroids']) {
    await choose(page, id, 'Never');
  }
  for (const id of ['immunosuppressed', 'systemic_infection']) await no(id);
  await choose(page, 'diabetes', 'none');
  for (const id of ['keloid_tendency', 'metal_allergy', 'anaesthetic_allergy', 'plans_topical_anaesthetic',
    'skin_cancer_or_suspicious_lesion', 'chronic_skin_condition', 'treating_young_scar']) await no(id);
  await question(page, 'fitzpatrick').getByRole('spinbutton').fill('2');
  await question(page, 'needle_length_mm').getByRole('spinbutton').fill('0.25');
  await choose(page, 'zones', 'forehead');
  await choose(page, 'zones', 'left cheek');
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

/** Rinse, soak (11 minutes pass), dry (31 minutes pass), ready. */
export async function cycleToReady(page: Page, name: string): Promise<void> {
  const card = () => page.locator('article.device').filter({ has: page.getByRole('heading', { name: new RegExp(`^${name}`) }) });
  const state = () => card().locator('.state');
  await page.goto('/devices');
  await card().getByRole('button', { name: 'Rinsed' }).click();
  await expect(state()).toHaveText('rinsed');
  await card().getByRole('button', { name: 'Put to soak' }).click();
  await expect(state()).toHaveText(/soak/);
  await advanceServerClock(page, 11);
  await card().getByRole('button', { name: 'Out of the soak, air-drying' }).click();
  await expect(state()).toHaveText(/dry/);
  await advanceServerClock(page, 31);
  await card().getByRole('button', { name: 'Dry and capped' }).click();
  await expect(state()).toHaveText('ready');
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

/** axe-core on the page as it stands: no violations. */
export async function expectNoAxeViolations(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) =>
    `${v.id} (${v.impact}): ${v.help}\n` + v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1, 2).join('')}`).join('\n'));
  expect(summary, `axe violations on ${what}`).toEqual([]);
}

/** A full-page phone-size screenshot under target/e2e-screenshots/. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const root = process.env.E2E_ROOT ?? path.resolve(__dirname, '..', '..');
  await page.screenshot({ path: path.join(root, 'target', 'e2e-screenshots', `${name}.png`), fullPage: true });
}
