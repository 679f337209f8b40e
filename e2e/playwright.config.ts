// Browser tests against a running `needlewise serve --test-clock`; run them
// with scripts/e2e, which starts the server and sets E2E_BASE_URL.
import { defineConfig } from '@playwright/test';
import path from 'node:path';

const root = process.env.E2E_ROOT ?? path.resolve(__dirname, '..');

export default defineConfig({
  testDir: './tests',
  // One server with one shared test clock: tests run one at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 60_000,
  expect: { timeout: 5_000 },
  // scripts/e2e gives each backend its own.
  outputDir: process.env.E2E_OUTPUT_DIR ?? path.join(root, 'target', 'e2e-results'),
  // list prints each test and the summary line; json feeds scripts/e2e's count.
  reporter: [['list'], ['json']],
  use: {
    baseURL: process.env.E2E_BASE_URL ?? 'http://127.0.0.1:8080',
    // Mobile first: every test runs at phone size.
    viewport: { width: 390, height: 844 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
});
