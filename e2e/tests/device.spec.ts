// Journeys 3 and 4: a roller that is not ready, and one that is not yours.
import { test, expect } from '@playwright/test';
import { signUp, screenGo, addRoller, deviceId } from './helpers';

test('a roller that is not ready: the session page says why and links to the roller', async ({ page }) => {
  await signUp(page, 'notready');
  await screenGo(page);
  await addRoller(page, 'new roller');
  await page.goto('/session');
  await expect(page.getByRole('heading', { name: 'Not today' })).toBeVisible();
  const blocker = page.locator('li.reason').filter({ has: page.locator('a[href^="/devices"]') });
  await expect(blocker).toHaveCount(1);
  await blocker.locator('a[href^="/devices"]').click();
  await expect(page).toHaveURL(/\/devices/);
  await expect(page.getByRole('heading', { level: 1, name: 'Your roller' })).toBeVisible();
});

test("a second user cannot touch the first user's roller by its id", async ({ page, browser }) => {
  await signUp(page, 'owner');
  const card = await addRoller(page, 'my roller');
  const id = await deviceId(card);

  const other = await browser.newContext();
  const intruder = await other.newPage();
  await signUp(intruder, 'intruder');
  await intruder.goto('/devices');
  const csrf = (await intruder.locator('input[name="csrf"]').first().inputValue());
  // Submit a form to the first user's roller, as a tampered page would.
  await intruder.evaluate(({ id, csrf }) => {
    const f = document.createElement('form');
    f.method = 'post';
    f.action = `/devices/${id}/rinse`;
    const i = document.createElement('input');
    i.type = 'hidden'; i.name = 'csrf'; i.value = csrf;
    f.append(i);
    document.body.append(f);
    f.submit();
  }, { id, csrf });
  await expect(intruder.getByRole('heading', { level: 1 })).toHaveText(/not found/i);
  const res = await intruder.request.post(`/devices/${id}/rinse`, { form: { csrf } });
  expect(res.status()).toBe(404);
  await expect(intruder.getByText('my roller')).toHaveCount(0);
  await other.close();

  await page.goto('/devices');
  await expect(page.locator(`#device-${id} .state`)).toHaveText('new');
});
