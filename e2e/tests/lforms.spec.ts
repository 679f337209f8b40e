// LHC-Forms (npm lforms) renders needlewise's FHIR Questionnaire in
// Chromium; a person fills it; the QuestionnaireResponse LHC-Forms produces
// is imported with `needlewise screen --fhir-response` and must give the
// verdict that the same answers give as an answer file.
//
// Needs no server and no network: the page and lforms' built files are
// served from e2e/node_modules by page.route. The binary is
// $NEEDLEWISE_BIN, or target/debug/needlewise (under $CARGO_TARGET_DIR
// when set), as built by scripts/e2e.
import { test, expect, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = process.env.E2E_ROOT ?? path.resolve(__dirname, '..', '..');
const bin = process.env.NEEDLEWISE_BIN
  ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'debug', 'needlewise');
const dist = path.resolve(__dirname, '..', 'node_modules', 'lforms', 'dist', 'lforms');
const NOW = '2026-11-25T12:00:00Z';
const ORIGIN = 'http://lforms.test';

let work: string;
let questionnaire: unknown;

function needlewise(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC' };
  delete env.NEEDLEWISE_DATABASE_URL;
  delete env.NEEDLEWISE_PROFILE;
  const r = spawnSync(bin, ['--data-dir', path.join(work, 'data'), '--now', NOW, ...args], {
    encoding: 'utf8',
    env,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The verdict of `screen --json` with these arguments. */
function verdict(args: string[]): string {
  const r = needlewise(['--json', 'screen', ...args]);
  expect([0, 3], `needlewise screen ${args.join(' ')}: ${r.stderr}`).toContain(r.code);
  return JSON.parse(r.stdout).verdict;
}

test.beforeAll(() => {
  expect(fs.existsSync(bin), `${bin} is missing: build it with cargo build -p needlewise`).toBe(true);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'needlewise-lforms-'));
  const out = path.join(work, 'questionnaire.json');
  const r = needlewise(['export', 'fhir', '--what', 'questionnaire', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  questionnaire = JSON.parse(fs.readFileSync(out, 'utf8'));
});

test.afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Serves a blank page and lforms' built files, then renders the form. */
async function openForm(page: Page): Promise<void> {
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/') {
      return route.fulfill({
        contentType: 'text/html; charset=utf-8',
        body: `<!doctype html><html lang="en"><head><title>needlewise screening (LHC-Forms)</title>
<link rel="stylesheet" href="/webcomponent/styles.css"></head><body><div id="form"></div>
<script src="/webcomponent/assets/lib/zone.min.js"></script>
<script src="/webcomponent/runtime.js"></script>
<script src="/webcomponent/polyfills.js"></script>
<script src="/webcomponent/main.js"></script></body></html>`,
      });
    }
    const file = path.join(dist, path.normalize(url.pathname));
    if (!file.startsWith(dist + path.sep) || !fs.existsSync(file)) {
      return route.fulfill({ status: 404, body: 'not found' });
    }
    // lforms' FHIRPath parser holds non-ASCII data: serve it as UTF-8.
    const type = file.endsWith('.js') ? 'text/javascript; charset=utf-8'
      : file.endsWith('.css') ? 'text/css; charset=utf-8' : 'application/octet-stream';
    return route.fulfill({ contentType: type, body: fs.readFileSync(file) });
  });
  // Anything else (a CDN, a font) would be a network call: refuse it.
  await page.route(/^https?:\/\/(?!lforms\.test)/, (route) => route.abort());
  await page.goto(`${ORIGIN}/`);
  await page.waitForFunction(() => (window as any).LForms?.Util);
  // The FHIR support file needs LForms defined first.
  await page.addScriptTag({ url: '/fhir/R4/lformsFHIR.min.js' });
  await page.waitForFunction(() => (window as any).LForms?.FHIR);
  await page.evaluate(async (q) => {
    await (window as any).LForms.Util.addFormToPage(q, 'form', {});
  }, questionnaire);
  await expect(page.locator('[id="age/1"]')).toBeVisible();
}

type Answers = Record<string, unknown>;

/** A healthy adult who may roll at home (the core's base case). */
const healthy: Answers = {
  age: 35, sex: 'female', pregnant: false, breastfeeding: false, cardiac_condition: false,
  collagen_vascular_disease: false, bleeding_disorder: false, anticoagulants: false,
  isotretinoin: 'never', chemo_or_radiotherapy: 'never', chemo_or_radiotherapy_planned: false,
  high_dose_steroids: 'never', high_dose_steroids_planned: false,
  immunosuppressed: false, systemic_infection: false, diabetes: 'none', other_serious_condition: false,
  keloid_tendency: false, metal_allergy: false, anaesthetic_allergy: false, plans_topical_anaesthetic: false,
  skin_cancer_or_suspicious_lesion: false, chronic_skin_condition: false, treating_young_scar: false,
  fitzpatrick: 2, device_kind: 'roller', needle_length_mm: 0.25, zones: ['forehead', 'left_cheek', 'right_cheek'],
  cold_sores: false, active_skin_problem_zones: [], tattoo_zones: [], recent_procedures: [],
};

const exposures = ['isotretinoin', 'chemo_or_radiotherapy', 'high_dose_steroids'];

/** Clicks an option's label, as a person would. */
async function pick(page: Page, idStart: string, code: string): Promise<void> {
  const start = idStart.endsWith('/') ? idStart : `${idStart}|`;
  const option = page.locator(`[id^="${start}"][id$="|${code}"]`);
  await expect(option).toHaveCount(1);
  await option.click();
}

/** Fills the form in questionnaire order, one answer at a time. */
async function fill(page: Page, answers: Answers): Promise<void> {
  for (const [id, value] of Object.entries(answers)) {
    if (exposures.includes(id)) {
      await pick(page, `${id}.status/1/1`, String(value));
    } else if (Array.isArray(value)) {
      for (const zone of value) await pick(page, `${id}/1`, String(zone));
    } else if (typeof value === 'boolean') {
      // Nested under an enableWhen group, the id has more levels.
      await pick(page, `${id}/`, String(value));
    } else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
      // LHC-Forms takes a date as MM/DD/YYYY.
      const [y, m, d] = value.split('-');
      const input = page.locator(`[id^="${id}/"] input, input[id^="${id}/"]`).first();
      await input.click();
      await input.pressSequentially(`${m}/${d}/${y}`);
      await input.blur();
    } else if (typeof value === 'number') {
      const input = page.locator(`[id="${id}/1"]`);
      await input.click();
      await input.pressSequentially(String(value));
      await input.blur();
    } else {
      await pick(page, `${id}/1`, String(value));
    }
  }
}

async function responseFrom(page: Page): Promise<any> {
  return page.evaluate(() => (window as any).LForms.Util.getFormFHIRData(
    'QuestionnaireResponse', 'R4', document.getElementById('form')));
}

const cases: { name: string; answers: Answers; verdict: string; check?: (qr: any) => void }[] = [
  { name: 'a healthy adult: go', answers: healthy, verdict: 'go' },
  { name: 'pregnant: not at home', answers: { ...healthy, pregnant: true }, verdict: 'not_at_home' },
  { name: 'a motorised pen: go with precautions', answers: { ...healthy, device_kind: 'pen' }, verdict: 'go_with_precautions' },
  {
    // The start date shows only after a yes: an enableWhen on a new question.
    name: 'chemotherapy planned in 2 weeks: not at home',
    answers: { ...healthy, chemo_or_radiotherapy_planned: true, chemo_or_radiotherapy_start: '2026-12-09' },
    verdict: 'not_at_home',
    check: (qr) => {
      const start = qr.item.find((i: any) => i.linkId === 'chemo_or_radiotherapy_start');
      expect(start?.answer?.[0]?.valueDate).toBe('2026-12-09');
    },
  },
  {
    name: 'another serious illness: ask the surgeon first',
    answers: { ...healthy, other_serious_condition: true },
    verdict: 'ask_surgeon_first',
  },
  {
    // The antiviral question shows only for cold sores and a perioral zone:
    // a nested enableWhen group in the Questionnaire.
    name: 'cold sores near the mouth with an antiviral plan: go with precautions',
    answers: {
      ...healthy, zones: ['forehead', 'upper_lip'], cold_sores: true, antiviral_plan_confirmed: true,
    },
    verdict: 'go_with_precautions',
    check: (qr) => {
      // LHC-Forms nests the answer under the enableWhen group.
      const group = qr.item.find((i: any) => i.linkId === 'antiviral_plan_confirmed.if1');
      expect(group?.item?.[0]?.linkId).toBe('antiviral_plan_confirmed');
      expect(group?.item?.[0]?.answer?.[0]?.valueBoolean).toBe(true);
    },
  },
];

for (const c of cases) {
  test(`LHC-Forms: ${c.name}`, async ({ page }) => {
    await openForm(page);
    if ('antiviral_plan_confirmed' in c.answers) {
      // Hidden until both conditions hold.
      await expect(page.locator('[id^="antiviral_plan_confirmed/"]')).toHaveCount(0);
    }
    await fill(page, c.answers);
    const qr = await responseFrom(page);
    expect(qr.resourceType).toBe('QuestionnaireResponse');
    c.check?.(qr);
    const slug = c.name.replace(/[^a-z0-9]+/gi, '-');
    const file = path.join(work, `response-${slug}.json`);
    fs.writeFileSync(file, JSON.stringify(qr, null, 2));
    const answersFile = path.join(work, `answers-${slug}.json`);
    fs.writeFileSync(answersFile, JSON.stringify(c.answers));

    const fromForm = verdict(['--fhir-response', file]);
    const fromFile = verdict(['--answers', answersFile]);
    expect(fromForm).toBe(fromFile);
    expect(fromForm).toBe(c.verdict);
  });
}
