// Journey 2: a screening that ends `not_at_home` explains itself.
import { test, expect } from '@playwright/test';
import { signUp, fillScreening, submitScreening, question, choose, expectStep, nextStep, backStep } from './helpers';

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

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the screening steps forward and back, keeping every answer', async ({ page }) => {
    await signUp(page, 'nojs');
    await page.goto('/screening');
    await expectStep(page, 1);
    await expect(page.getByRole('progressbar')).toHaveAccessibleName(/^Step 1 of \d+: About you$/);
    await question(page, 'age').getByRole('spinbutton').fill('41');
    await choose(page, 'sex', 'other');
    await choose(page, 'pregnant', 'No');
    await choose(page, 'breastfeeding', 'No');
    await nextStep(page, 2);
    await choose(page, 'diabetes', 'controlled');
    await backStep(page, 1);
    await expect(question(page, 'age').getByRole('spinbutton')).toHaveValue('41');
    await expect(question(page, 'sex').getByLabel('other', { exact: true })).toBeChecked();
    await nextStep(page, 2);
    await expect(question(page, 'diabetes').getByLabel('controlled', { exact: true })).toBeChecked();
  });
});
