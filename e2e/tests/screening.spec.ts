// Journey 2: a screening that ends `not_at_home` explains itself.
import { test, expect } from '@playwright/test';
import { signUp, fillScreening, submitScreening } from './helpers';

test('a pregnant user is told not at home, with reasons and their sources', async ({ page }) => {
  await signUp(page, 'pregnant');
  await fillScreening(page, { pregnant: 'Yes' });
  await submitScreening(page);
  await expect(page.locator('p.verdict')).toHaveClass(/\bnot_at_home\b/);
  await expect(page.getByRole('heading', { name: 'Why' })).toBeVisible();
  const reason = page.locator('li.reason').filter({ hasText: /pregnan/i }).first();
  await expect(reason).toBeVisible();
  const sources = reason.locator('.cite a[href^="/evidence#"]');
  expect(await sources.count()).toBeGreaterThan(1);
  const href = (await sources.first().getAttribute('href'))!;
  await sources.first().click();
  await expect(page).toHaveURL(new RegExp(`${href}$`));
  await expect(page.locator(`[id="${href.split('#')[1]}"]`)).toBeVisible();
});
