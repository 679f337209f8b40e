// Journeys 5 and 6: axe-core finds no violations on any main page, and
// each page is saved as a phone-size screenshot (target/e2e-screenshots/).
import { test, expect } from '@playwright/test';
import {
  signUp, screenGo, addRoller, cycleToReady, readyAllClear, expectNoAxeViolations, screenshot,
} from './helpers';

test('every main page passes axe-core, and is saved as a phone-size screenshot', async ({ page }) => {
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
  await expect(page).toHaveURL(/\/aftercare$/);
  await check(null, '12-aftercare');
  await check('/session', '13-session-saved');
  await check('/checkin', '14-checkin');
  await check('/schedule', '15-schedule');
  await check('/evidence', '16-evidence');
  await check('/profiles', '17-profiles');
  await check('/profiles/delete', '17a-delete-profile');
  await check('/account/delete', '17b-delete-account');
  await check('/', '18-home');
  await check('/nothing-here', '19-not-found');
});
