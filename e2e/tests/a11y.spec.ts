// Journeys 5 and 6: axe-core finds no violations on any main page, and
// each page is saved as a phone-size screenshot (target/e2e-screenshots/).
import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import {
  signUp, screenGo, addRoller, cycleToReady, readyAllClear, expectNoAxeViolations, screenshot,
  fillScreening, backStep, expectStep, question, startClinicSignUp, enrolTotp, createInvite, joinClinic,
} from './helpers';

test('every main page passes axe-core, and is saved as a phone-size screenshot', async ({ page }) => {
  // Twenty-two pages, each with axe, and the screening's seven steps: slow
  // on a busy machine.
  test.setTimeout(180_000);
  const check = async (path: string | null, name: string) => {
    if (path) await page.goto(path);
    await expect(page.locator('main h1')).toBeVisible();
    await expectNoAxeViolations(page, `${name} (${page.url()})`);
    await screenshot(page, name);
  };

  await check('/login', '01-login');
  await check('/signup', '02-signup');
  await signUp(page, 'a11y');
  await check('/', '03-home-new');
  await check('/screening', '04-screening');
  // A later step, with Back, and one shown again with a problem on it.
  await fillScreening(page);
  await check(null, '04a-screening-last-step');
  await backStep(page, 6);
  await question(page, 'needle_length_mm').getByRole('spinbutton').fill('');
  await page.locator('form.questions').evaluate((f: HTMLFormElement) => { f.noValidate = true; });
  await page.getByRole('button', { name: /^Next: / }).click();
  await expectStep(page, 6);
  await expect(page.locator('#err-needle_length_mm')).toBeVisible();
  await check(null, '04b-screening-step-problem');
  await screenGo(page);
  await check(null, '05-screening-result');
  await check('/devices', '06-devices-empty');
  await addRoller(page, 'bathroom roller');
  await check('/session', '07-session-not-today');
  await cycleToReady(page, 'bathroom roller');
  await check(null, '08-devices-ready');
  await check('/ready', '09-ready');
  await readyAllClear(page);
  await check(null, '10-ready-result');
  await check('/session', '11-session-plan');
  await page.getByRole('button', { name: 'Save the session' }).click();
  await expect(page).toHaveURL(/\/aftercare\?saved=session$/);
  await check(null, '12-aftercare');
  await check('/session', '13-session-saved');
  await check('/checkin', '14-checkin');
  // Sent with nothing answered: the same form, each problem marked.
  await page.getByRole('button', { name: 'Send check-in' }).click();
  await expect(page.getByRole('alert')).toContainText('Some answers need another look');
  await expect(page.locator('input[aria-invalid="true"]').first()).toBeVisible();
  await check(null, '14a-checkin-problems');
  await check('/schedule', '15-schedule');
  await check('/evidence', '16-evidence');
  await check('/profiles', '17-profiles');
  await check('/profiles/delete', '17a-delete-profile');
  await check('/account/delete', '17b-delete-account');
  await check('/', '18-home');
  await check('/nothing-here', '19-not-found');
});

test('every clinic, care-team and security page passes axe-core, and is saved as a phone-size screenshot', async ({ page, browser }) => {
  test.setTimeout(120_000);
  const check = async (p: Page, path: string | null, name: string) => {
    if (path) await p.goto(path);
    await expect(p.locator('main h1')).toBeVisible();
    await expectNoAxeViolations(p, `${name} (${p.url()})`);
    await screenshot(p, name);
  };

  // The clinic's side, from sign-up with the second factor.
  await check(page, '/clinic/signup', '20-clinic-signup');
  const who = await startClinicSignUp(page, 'a11y-clinic');
  await check(page, null, '21-mfa-enrol');
  await enrolTotp(page);
  await expect(page).toHaveURL(/\/clinic$/);
  await check(page, null, '22-clinic-empty');
  await check(page, '/clinic/invites', '23-clinic-invites');
  const joinPath = await createInvite(page, 'a11y patient');
  await check(page, null, '24-clinic-invite-made');
  await check(page, '/clinic/members', '25-clinic-members');
  await check(page, '/clinic/settings', '26-clinic-settings');
  await check(page, '/clinic/canned-replies', '26b-clinic-canned-replies-empty');
  // A refused canned reply (inline errors), then a saved one.
  await page.getByLabel('Text').fill('Water only for a day.');
  await page.getByRole('button', { name: 'Save' }).click();
  await check(page, null, '26c-clinic-canned-reply-problems');
  await page.getByLabel('Title').fill('Aftercare');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { name: 'Aftercare' })).toBeVisible();
  await check(page, null, '26d-clinic-canned-replies');
  await check(page, '/clinic/red-flags', '27-clinic-red-flags-empty');
  await check(page, '/notifications', '28-notifications-empty');
  await check(page, '/mfa', '29-mfa-verify');
  await check(page, '/reauth?next=%2Fclinic', '30-reauth');
  await check(page, '/account/sessions', '31-account-sessions');

  // The patient's side: the care team, an invite, joining.
  const context = await browser.newContext();
  const patient = await context.newPage();
  await signUp(patient, 'a11y-patient');
  await check(patient, '/care-team', '32-care-team-empty');
  await screenGo(patient);
  await check(patient, joinPath, '33-join');
  await joinClinic(patient, joinPath, who.clinic, ['screening', 'sessions', 'checkins']);
  await check(patient, null, '34-care-team');
  await check(patient, joinPath, '35-join-used');
  await context.close();

  // Back at the clinic: the patient's page and the protocol form, blank and with problems.
  await check(page, '/clinic', '36-clinic-patients');
  await page.locator('table.patients tbody > tr').first().getByRole('link').click();
  await expect(page).toHaveURL(/\/clinic\/patients\/[0-9a-f-]{36}$/);
  await check(page, null, '37-clinic-patient');
  await page.getByRole('link', { name: 'Prescribe a protocol' }).click();
  await check(page, null, '38-clinic-protocol');
  await page.getByLabel(/^Needle length/).fill('0.25');
  await page.getByLabel(/^Days between sessions/).fill('7');
  await page.getByLabel(/^Sessions in the course/).fill('3');
  await page.getByRole('button', { name: 'Prescribe' }).click(); // no zone ticked
  await expect(page.getByRole('alert')).toContainText('Nothing was saved');
  await check(page, null, '39-clinic-protocol-problems');
});
