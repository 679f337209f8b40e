// Offline: the app installs (manifest, service worker), the guided session
// runs with the network off, and a session finished offline is stored
// exactly once when the network is back.
import { test, expect } from '@playwright/test';
import { signUp, fillScreening, submitScreening, addRoller, cycleToReady, readyAllClear, screenshot, expectNoAxeViolations } from './helpers';

const sessionCount = async (page: import('@playwright/test').Page): Promise<number> => {
  const res = await page.request.get('/api/sessions');
  expect(res.status()).toBe(200);
  return (await res.json()).length;
};

test('a session finished offline is stored exactly once when the network is back', async ({ page, context }) => {
  await signUp(page, 'offline');
  await fillScreening(page);
  await submitScreening(page);
  await addRoller(page, 'travel roller');
  await cycleToReady(page, 'travel roller');
  await readyAllClear(page);

  // Online, the service worker takes over and keeps today's session page.
  await page.goto('/session');
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
  await expect.poll(() => page.evaluate(async () => !!(await caches.match('/session')))).toBe(true);
  expect(await sessionCount(page)).toBe(0);

  // Offline: the page comes from the phone, and the timer runs.
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Zone by zone' })).toBeVisible();
  await page.locator('#g-go').click(); // Start
  await expect(page.locator('#g-go')).toHaveText('Pause');
  await page.waitForTimeout(2_500);
  await page.locator('#g-finish').click(); // Finish early
  await expect(page.locator('#g-zone')).toHaveText('Session finished');
  await expect(page.locator('#g-go')).toBeHidden();
  await page.getByRole('button', { name: 'Save the session' }).click();
  await expect(page.getByRole('heading', { name: 'Session kept on this phone' })).toBeVisible();
  await screenshot(page, 'offline-session-kept');
  await expectNoAxeViolations(page, 'the session kept offline');

  // Back online: the kept session is sent, once.
  await context.setOffline(false);
  await page.goto('/');
  await expect.poll(() => sessionCount(page), { timeout: 20_000 }).toBe(1);
  // Asking the worker to send again stores nothing more.
  await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.postMessage('flush')));
  await page.waitForTimeout(1_000);
  expect(await sessionCount(page)).toBe(1);
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: "Today's session is saved" })).toBeVisible();
});
