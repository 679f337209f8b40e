// Appearance: the dark scheme and reduced motion follow the phone's
// settings, stay axe-clean (contrast included) and are kept as phone-size
// screenshots.
import { test, expect } from '@playwright/test';
import { signUp, expectNoAxeViolations, screenshot } from './helpers';

test('the dark scheme and reduced motion are clean on every main page', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark', reducedMotion: 'reduce' });
  await signUp(page, 'dark');
  for (const [path, name] of [
    ['/', 'home'], ['/more', 'more'], ['/screening', 'screening'], ['/devices', 'devices'],
    ['/checkin', 'checkin'], ['/progress', 'progress'], ['/session', 'session'], ['/data', 'data'],
  ]) {
    await page.goto(path);
    // The page really is dark: the body's background is the dark one.
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg, path).toBe('rgb(21, 24, 27)');
    expect(await page.evaluate(() => matchMedia('(prefers-reduced-motion: reduce)').matches)).toBe(true);
    await expectNoAxeViolations(page, `${path} (dark)`);
    await screenshot(page, `dark-${name}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto('/');
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(251, 250, 248)');
});
