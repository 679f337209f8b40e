// Journey 1: a new user's whole way from sign-up to a locked next session.
import { test, expect } from '@playwright/test';
import {
  signUp, fillScreening, submitScreening, question, choose, addRoller, cycleToReady, readyAllClear, expectStep, nextStep, backStep,
} from './helpers';

type Plan = { zones: { id: string; label: string; sections: { seconds: number }[] }[] };

test('a new user screens, cleans a roller, runs a guided session, checks in with a red flag and is locked', async ({ page }) => {
  await signUp(page, 'journey');

  // Screening, a topic at a time: each step hides the questions that do
  // not apply, reading earlier steps' answers too.
  await page.goto('/screening');
  await expectStep(page, 1);
  await choose(page, 'sex', 'male');
  await expect(question(page, 'pregnant')).toBeHidden();
  await choose(page, 'sex', 'female');
  await expect(question(page, 'pregnant')).toBeVisible();
  await fillScreening(page);
  // The antiviral question (last step) follows the zones (the step before).
  await choose(page, 'cold_sores', 'Yes');
  await expect(question(page, 'antiviral_plan_confirmed')).toBeHidden();
  await backStep(page, 6);
  await expect(question(page, 'zones').getByLabel('forehead', { exact: true })).toBeChecked();
  await choose(page, 'zones', 'chin');
  await nextStep(page, 7);
  // Back and Next kept the answer given on this step before going back.
  await expect(question(page, 'cold_sores').getByLabel('Yes', { exact: true })).toBeChecked();
  await expect(question(page, 'antiviral_plan_confirmed')).toBeVisible();
  await backStep(page, 6);
  await question(page, 'zones').getByLabel('chin', { exact: true }).uncheck();
  await nextStep(page, 7);
  await choose(page, 'cold_sores', 'No');
  await expect(question(page, 'antiviral_plan_confirmed')).toBeHidden();
  await submitScreening(page);
  await expect(page.locator('p.verdict')).toHaveClass(/\bgo\b/);

  // The roller's cleaning cycle, with the server's clock moved on.
  await addRoller(page, 'bathroom roller');
  await cycleToReady(page, 'bathroom roller');

  // Today's readiness: all clear.
  await readyAllClear(page);

  // The guided session, with the page's timers on a fake clock.
  await page.clock.install();
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: 'Zone by zone' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Not today' })).toHaveCount(0);
  const plan: Plan = JSON.parse((await page.locator('#session').getAttribute('data-plan'))!);
  expect(plan.zones.map((z) => z.id)).toEqual(['forehead', 'left_cheek']);
  await expect(page.locator('ol.zoneplans > li')).toHaveCount(2);
  const guide = page.locator('#guide');
  await expect(guide).toBeVisible();
  const go = page.locator('#g-go');
  const zone = page.locator('#g-zone');
  const clock = page.locator('#clock');
  const firstMs = plan.zones[0].sections[0].seconds * 1000;

  await go.click(); // Start
  await expect(go).toHaveText('Pause');
  await expect(zone).toHaveText(`Zone 1 of 2: ${plan.zones[0].label}`);
  await page.clock.runFor(firstMs + 2_000); // into the second section
  await expect(page.locator('#g-dir')).not.toHaveText(/^$/);

  await go.click(); // Pause
  await expect(go).toHaveText('Resume');
  const pausedAt = await clock.textContent();
  await page.clock.runFor(10_000);
  await expect(clock).toHaveText(pausedAt!);
  await go.click(); // Resume
  await expect(go).toHaveText('Pause');
  await page.clock.runFor(1_000);
  await expect(clock).not.toHaveText(pausedAt!);

  // A reload in the middle comes back paused where it stopped.
  const before = await clock.textContent();
  await page.reload();
  await expect(page.locator('#g-note')).toHaveText(/Welcome back/);
  await expect(go).toHaveText('Resume');
  await expect(zone).toHaveText(`Zone 1 of 2: ${plan.zones[0].label}`);
  await expect(clock).toHaveText(before!);
  const saved = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('nw-session:')).length);
  expect(saved).toBe(1);

  // Skip the rest of the first zone, then let the second run to its end.
  await go.click(); // Resume
  await page.locator('#g-skip').click();
  await expect(zone).toHaveText(`Zone 2 of 2: ${plan.zones[1].label}`);
  const secondMs = plan.zones[1].sections.reduce((t, s) => t + s.seconds * 1000, 0);
  await page.clock.runFor(secondMs + 1_000);
  await expect(zone).toHaveText('Session finished');

  // The completion form filled itself in.
  const form = page.locator('#complete');
  await expect(form.locator('input[name="zone"][value="forehead"]')).toBeChecked();
  await expect(form.locator('input[name="skipped_forehead"]')).toBeChecked();
  await expect(form.locator('input[name="zone"][value="left_cheek"]')).toBeChecked();
  await expect(form.locator('input[name="skipped_left_cheek"]')).not.toBeChecked();
  await page.getByLabel('Product 1').fill('Plain HA serum: aqua, sodium hyaluronate');
  await page.getByRole('button', { name: 'Save the session' }).click();

  // Saving leads to the aftercare timeline.
  await expect(page).toHaveURL(/\/aftercare\?saved=session$/);
  await expect(page.getByRole('status')).toContainText('Your session is saved');
  await expect(page.getByRole('heading', { level: 1, name: 'Aftercare' })).toBeVisible();
  await expect(page.locator('ol.timeline > li.active').first()).toBeVisible();
  await expect(page.locator('ol.timeline')).toContainText('Only plain hyaluronic acid');
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: "Today's session is saved" })).toBeVisible();
  expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('nw-session:')).length)).toBe(0);

  // A check-in with a red flag locks new sessions.
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
  // The result has its own address (Post/Redirect/Get): an evidence link
  // and Back come home to it without sending the form again.
  await expect(page).toHaveURL(/\/checkin\/[0-9a-f-]{36}$/);
  const result = page.url();
  await expect(page.locator('.lock')).toBeVisible();
  await page.locator('.cite a[href^="/evidence#"]').first().click();
  await expect(page).toHaveURL(/\/evidence#/);
  await page.goBack();
  await expect(page).toHaveURL(result);
  await expect(page.locator('.lock')).toBeVisible();
  await page.goto('/checkin');
  await expect(page.getByRole('alert')).toContainText('New sessions are locked');
  await page.goto('/');
  await expect(page.getByText('A red flag is open')).toBeVisible();
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: 'Not today' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Zone by zone' })).toHaveCount(0);
});
