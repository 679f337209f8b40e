// The progress page: a self-rating draws a chart, photos upload and show
// as thumbnails, the first photo appears as a ghost over the next one's
// preview, and two photos compare side by side. axe-core on each view.
import { test, expect } from '@playwright/test';
import { signUp, expectNoAxeViolations, screenshot } from './helpers';

// A valid 2×2 RGB PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGNocFAAIgYIBQAaDgOBnA45xwAAAABJRU5ErkJggg==',
  'base64',
);

test('rate, upload, ghost overlay and compare', async ({ page }) => {
  await signUp(page, 'progress');
  await page.goto('/progress');
  await expect(page.getByText('No ratings yet')).toBeVisible();
  await expectNoAxeViolations(page, 'progress (empty)');

  const section = page.locator('#acne_scars');
  await section.getByText('Rate acne scars').click();
  await section.getByLabel('Area', { exact: true }).selectOption('left_cheek');
  await section.getByLabel(/^2 · Mild/).check();
  await section.getByRole('button', { name: 'Save rating' }).click();
  await expect(page.locator('#acne_scars svg[role="img"]')).toBeVisible();

  const file = page.locator('#photo-file');
  await file.setInputFiles({ name: 'first.png', mimeType: 'image/png', buffer: PNG });
  await page.getByRole('button', { name: 'Upload photo' }).click();
  await expect(page.locator('.gallery img')).toHaveCount(1);

  // The ghost appears once a new photo is chosen; the slider sets its opacity.
  await expect(page.locator('#ghost')).toBeHidden();
  await file.setInputFiles({ name: 'second.png', mimeType: 'image/png', buffer: PNG });
  await expect(page.locator('#ghost')).toBeVisible();
  await page.locator('#ghost-opacity').fill('70');
  await expect(page.locator('#ghost-first')).toHaveCSS('opacity', '0.7');
  await expectNoAxeViolations(page, 'progress (rated, one photo, ghost)');
  await screenshot(page, '30-progress');
  await page.getByRole('button', { name: 'Upload photo' }).click();
  await expect(page.locator('.gallery img')).toHaveCount(2);

  await page.getByRole('link', { name: 'Compare two photos side by side' }).click();
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.locator('.compare img')).toHaveCount(2);
  await expectNoAxeViolations(page, 'progress compare');
  await screenshot(page, '31-progress-compare');
});
