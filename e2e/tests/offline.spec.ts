// Offline: the app installs (manifest, service worker), the guided session
// runs with the network off, and a session finished offline is stored
// exactly once when the network is back; a refusal on the way is shown
// with its reason, and logging out warns before it would lose a session
// not sent yet.
import { test, expect, type Page } from '@playwright/test';
import {
  signUp, screenGo, addRoller, cycleToReady, readyAllClear, screenshot, expectNoAxeViolations, advanceServerClock,
  logIn, checkInRedFlag, sessionCount, workerKeepsSessionPage, keepSessionOffline, keptSessions,
} from './helpers';

/** Asks the service worker to send what it keeps, and waits for its answer: how many are still kept. */
const flushAndWait = (page: Page): Promise<number> => page.evaluate(() => navigator.serviceWorker.ready.then((r) =>
  new Promise<number>((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (e) => resolve(e.data.kept);
    r.active!.postMessage({ type: 'flush' }, [channel.port2]);
  })));

/** Signed up, screened, a roller ready and today's check clear. */
async function readyForASession(page: Page, tag: string): Promise<string> {
  const email = await signUp(page, tag);
  await screenGo(page);
  await addRoller(page, 'travel roller');
  await cycleToReady(page, 'travel roller');
  await readyAllClear(page);
  return email;
}

test('a session finished offline is stored exactly once when the network is back', async ({ page, context }) => {
  await page.clock.install();
  await readyForASession(page, 'offline');

  // Online, the service worker takes over and keeps today's session page.
  await workerKeepsSessionPage(page);
  expect(await sessionCount(page)).toBe(0);

  // Offline: the page comes from the phone, the timer runs, the session is kept.
  await keepSessionOffline(page, context);
  await screenshot(page, 'offline-session-kept');
  await expectNoAxeViolations(page, 'the session kept offline');

  // Back online: the kept session is sent, once.
  await context.setOffline(false);
  await page.goto('/');
  await expect.poll(() => sessionCount(page), { timeout: 20_000 }).toBe(1);
  await expect.poll(() => keptSessions(page)).toBe(0);
  // Asking the worker to send again stores nothing more.
  expect(await flushAndWait(page)).toBe(0);
  expect(await sessionCount(page)).toBe(1);
  await expect(page.locator('#refused')).toHaveCount(0);
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: "Today's session is saved" })).toBeVisible();
});

test('a kept session that needlewise refuses when it is sent is not lost in silence: the page says why', async ({ page, context, browser }) => {
  test.setTimeout(120_000);
  await page.clock.install();
  const email = await readyForASession(page, 'refused');
  // A first session, saved online, so that a check-in can follow it.
  await page.goto('/session');
  await page.getByRole('button', { name: 'Save the session' }).click();
  await expect(page).toHaveURL(/\/aftercare\?saved=session$/);

  // Three days on (the wait for a 0.25 mm needle), ready again.
  await advanceServerClock(page, 3 * 24 * 60 + 5);
  await cycleToReady(page, 'travel roller');
  await readyAllClear(page);
  await workerKeepsSessionPage(page);
  await keepSessionOffline(page, context);

  // Meanwhile, on another device: a check-in with a red flag locks sessions.
  const other = await browser.newContext();
  const elsewhere = await other.newPage();
  await elsewhere.goto('/login');
  await logIn(elsewhere, email);
  await checkInRedFlag(elsewhere);
  await expect(elsewhere.locator('.lock')).toBeVisible();
  await other.close();

  // Back online: the kept session is sent, refused, and the page says so, with the reason.
  await context.setOffline(false);
  await page.goto('/');
  const notice = page.locator('#refused');
  await expect(notice).toBeVisible({ timeout: 20_000 });
  await expect(notice).toHaveAttribute('role', 'alert');
  await expect(notice.getByRole('heading', { level: 2 })).toHaveText('A session kept on this phone was not saved');
  await expect(notice).toContainText('was sent when the network came back, and needlewise refused it: Not today: open red flag.');
  await expect(notice).toContainText('It is not in your record');
  // Under the page's heading; the locked home still leads with the lock.
  await expect(page.locator('main > h1 + #refused')).toHaveCount(1);
  await expect(page.locator('main > section').first()).toHaveClass(/\block\b/);
  expect(await sessionCount(page)).toBe(1);
  expect(await keptSessions(page)).toBe(0);
  await expectNoAxeViolations(page, 'home with a refused kept session');
  await screenshot(page, 'offline-session-refused');

  // It stays on every page until dismissed, and sending again changes nothing.
  expect(await flushAndWait(page)).toBe(0);
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: 'Not today' })).toBeVisible();
  await expect(notice).toContainText('Not today: open red flag.');
  await notice.getByRole('button', { name: 'Dismiss' }).click();
  await expect(notice).toHaveCount(0);
  await expect(page.locator('main h1')).toBeFocused();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Not today' })).toBeVisible();
  await expect(page.locator('main h1')).toBeVisible();
  await expect(notice).toHaveCount(0);
  expect(await sessionCount(page)).toBe(1);
});

test('logging out with a session not sent yet warns in plain words and can send it first', async ({ page, context }) => {
  test.setTimeout(90_000);
  await page.clock.install();
  const email = await readyForASession(page, 'logout');
  await workerKeepsSessionPage(page);
  // "More", where the phone logs out, is kept for use offline too.
  await page.goto('/more');
  await expect.poll(() => page.evaluate(async () => !!(await caches.match('/more')))).toBe(true);
  await keepSessionOffline(page, context);

  // Still offline: More, Log out. The phone warns before it clears the session.
  await page.goto('/more');
  await page.getByRole('button', { name: 'Log out' }).click();
  const dialog = page.getByRole('dialog', { name: 'A session is waiting to be sent' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('It is kept on this phone and has not reached needlewise yet.');
  await expect(dialog).toContainText('Logging out clears what this phone keeps, so it would be lost.');
  await expectNoAxeViolations(page, 'the warning before logging out');
  await screenshot(page, 'offline-logout-warning');

  // Sending it needs the network: the dialog says so, and nothing is lost.
  await dialog.getByRole('button', { name: 'Send it now, then log out' }).click();
  await expect(dialog.getByRole('status')).toContainText('It could not be sent: this phone cannot reach needlewise just now.');
  await expect(page).toHaveURL(/\/more$/);
  expect(await keptSessions(page)).toBe(1);
  await dialog.getByRole('button', { name: 'Stay logged in' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page).toHaveURL(/\/more$/);
  expect(await keptSessions(page)).toBe(1);

  // With the network back: send it first, then log out.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(dialog).toBeVisible();
  await context.setOffline(false);
  await dialog.getByRole('button', { name: 'Send it now, then log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await logIn(page, email);
  await expect(page.getByRole('navigation', { name: 'Sections' })).toBeVisible();
  expect(await sessionCount(page)).toBe(1);

  // Nothing kept: Log out logs out at once.
  await page.goto('/more');
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('dialog')).toHaveCount(0);
});

test('without script, Log out logs out at once, as before', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signUp(page, 'logout-noscript');
  await page.goto('/more');
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await page.goto('/more');
  await expect(page).toHaveURL(/\/login$/);
  await context.close();
});
