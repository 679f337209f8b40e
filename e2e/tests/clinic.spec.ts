// Journey 7: the clinic side, in two browsers. A practice signs up with a
// second factor and invites a patient; the patient joins and chooses what
// to share, logs a red flag; the clinician is told, acknowledges it and
// prescribes a protocol; the patient's next session follows it; the patient
// reads who saw what, revokes a scope, and the clinic loses it at once.
import { test, expect, type BrowserContext, type Page } from '@playwright/test';
import {
  PASSWORD, signUp, screenGo, addRoller, cycleToReady, readyAllClear, advanceServerClock,
  startClinicSignUp, enrolTotp, currentTotp, createInvite, joinClinic, checkInRedFlag,
  expectNoAxeViolations, screenshot,
} from './helpers';

type Plan = { zones: { id: string }[] };

test.describe.serial('a clinic and its patient', () => {
  let clinicContext: BrowserContext;
  let patientContext: BrowserContext;
  let clinic: Page; // the clinician's browser
  let patient: Page; // the patient's browser
  let clinicName = '';
  let clinician = '';
  let joinPath = '';
  let patientId = '';

  const roller = 'home roller';
  const patientPage = () => `/clinic/patients/${patientId}`;
  /** The patient's clinic card on /care-team, and one scope's line on it. */
  const careCard = () => patient.locator('section.card').filter({ has: patient.getByRole('heading', { level: 2, name: clinicName }) });
  const scopeLine = (words: RegExp) => careCard().locator('li').filter({ hasText: words });
  /** The plan's zone ids on /session (absent when the day is blocked). */
  const planZones = async (): Promise<string[]> => {
    const plan: Plan = JSON.parse((await patient.locator('#session').getAttribute('data-plan'))!);
    return plan.zones.map((z) => z.id);
  };

  test.beforeAll(async ({ browser }) => {
    clinicContext = await browser.newContext();
    clinic = await clinicContext.newPage();
    patientContext = await browser.newContext();
    patient = await patientContext.newPage();
  });

  test.afterAll(async () => {
    await clinicContext?.close();
    await patientContext?.close();
  });

  test('1. a clinic signs up and turns on its second factor (TOTP) before seeing any clinic page', async () => {
    const who = await startClinicSignUp(clinic, 'clinic');
    clinicName = who.clinic;
    clinician = who.clinician;

    // Without the second factor, clinic pages send the clinician to set it up.
    await clinic.goto('/clinic/red-flags');
    await expect(clinic).toHaveURL(/\/mfa\?next=%2Fclinic%2Fred-flags$/);
    const secret = (await clinic.locator('#secret').textContent())!.trim();
    await expect(clinic.locator('#otpauth')).toContainText('otpauth://totp/');

    // A wrong code is refused and the key stays on the page.
    const right = await currentTotp(clinic, secret);
    await clinic.getByLabel('Code').fill(String((Number(right) + 500_000) % 1_000_000).padStart(6, '0'));
    await clinic.getByRole('button', { name: 'Turn on the second factor' }).click();
    await expect(clinic.getByRole('alert')).toContainText('that code is not right');
    await expect(clinic.locator('#secret')).toHaveText(secret);

    // The code for the server's time (RFC 6238) turns it on and goes on.
    expect(await enrolTotp(clinic)).toBe(secret);
    await expect(clinic).toHaveURL(/\/clinic\/red-flags$/);
    await clinic.goto('/clinic');
    await expect(clinic.getByRole('heading', { level: 1, name: 'Patients' })).toBeVisible();
    const nav = clinic.getByRole('navigation', { name: 'Clinic' });
    await expect(nav).toContainText(clinicName);
    await expect(nav.getByRole('link', { name: 'Patients' })).toHaveAttribute('aria-current', 'page');
    await expect(clinic.locator('p.empty')).toContainText('No patients yet');
    await screenshot(clinic, 'clinic-01-dashboard-empty');
  });

  test('2. the clinic makes an invite link', async () => {
    joinPath = await createInvite(clinic, 'E2E patient');
    await expect(clinic.getByRole('status')).toContainText('for E2E patient');
    await expect(clinic.getByRole('status')).toContainText('It works once');
  });

  test('3. a patient joins with the link, sharing screening, sessions and check-ins', async () => {
    await signUp(patient, 'clinic-patient');
    await screenGo(patient);
    await joinClinic(patient, joinPath, clinicName, ['screening', 'sessions', 'checkins']);

    await expect(careCard()).toBeVisible();
    await expect(scopeLine(/your screening answers/)).toContainText('Shared:');
    await expect(scopeLine(/your sessions:/)).toContainText('Shared:');
    await expect(scopeLine(/your symptom check-ins/)).toContainText('Shared:');
    await expect(scopeLine(/for your care/)).toContainText('Not shared:');
    await expect(scopeLine(/for teaching/)).toContainText('Not shared:');
    await expect(patient.locator('ol.audit')).toContainText(`You joined the clinic (${clinicName})`);

    // The link works once.
    await patient.goto(joinPath);
    await expect(patient.getByRole('heading', { level: 1 })).toHaveText('This invite cannot be used');

    // The clinic now lists the patient, with what they share.
    await clinic.goto('/clinic');
    const rows = clinic.locator('table.patients tbody > tr');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText('screening, sessions, checkins');
    await expect(rows.first()).not.toHaveClass(/\bflagged\b/);
    const href = await rows.first().getByRole('link').getAttribute('href');
    expect(href).toMatch(/^\/clinic\/patients\/[0-9a-f-]{36}$/);
    patientId = href!.split('/').pop()!;
  });

  test('4. the patient has a session, then a check-in with a red flag locks new sessions', async () => {
    test.setTimeout(90_000);
    await addRoller(patient, roller);
    await cycleToReady(patient, roller);
    await readyAllClear(patient);
    await patient.goto('/session');
    await expect(patient.getByRole('heading', { name: 'Zone by zone' })).toBeVisible();
    // No protocol yet: the screening's zones, and no protocol notice.
    expect(await planZones()).toEqual(['forehead', 'left_cheek']);
    await expect(patient.locator('#protocol')).toHaveCount(0);
    await patient.getByRole('button', { name: 'Save the session' }).click();
    await expect(patient).toHaveURL(/\/aftercare\?saved=session$/);

    await checkInRedFlag(patient);
    await expect(patient.locator('.lock')).toBeVisible();
    await patient.goto('/session');
    await expect(patient.getByRole('heading', { name: 'Not today' })).toBeVisible();
  });

  test('5. the clinician is notified, acknowledges the red flag and prescribes a protocol', async () => {
    // The in-app notification: no patient name, a link to the queue.
    await clinic.goto('/notifications');
    const note = clinic.locator('li.card').filter({ hasText: 'A patient has a warning sign to review' });
    await expect(async () => {
      await clinic.reload();
      await expect(note).toHaveCount(1, { timeout: 500 });
    }).toPass({ timeout: 10_000 });
    await expect(note).toHaveClass(/\bunread\b/);
    await expect(note).toContainText(`A patient of ${clinicName} reported a warning sign`);
    await expectNoAxeViolations(clinic, 'notifications with one unread');
    await screenshot(clinic, 'clinic-02-notifications');

    // The patient list puts the flagged patient first, marked.
    await clinic.goto('/clinic');
    const row = clinic.locator('table.patients tbody > tr').first();
    await expect(row).toHaveClass(/\bflagged\b/);
    await expect(row.locator('td').nth(2)).toHaveText('1 (1 waiting for acknowledgement)');
    await expectNoAxeViolations(clinic, 'clinic dashboard with a red flag');
    await screenshot(clinic, 'clinic-03-dashboard');

    // From the notification to the queue.
    await clinic.goto('/notifications');
    await note.getByRole('link', { name: 'Open' }).click();
    await expect(clinic).toHaveURL(/\/clinic\/red-flags$/);
    const waiting = clinic.locator('li.card.flagged');
    await expect(waiting).toHaveCount(1);
    await expect(waiting).toContainText('Rules that fired: checkin.infection');
    await expect(waiting.locator('.level')).toHaveText('contact surgeon');
    await expectNoAxeViolations(clinic, 'red-flag queue with one waiting');
    await screenshot(clinic, 'clinic-04-red-flags');
    await waiting.getByLabel(/^Note/).fill('Called the patient; seen in clinic today');
    await waiting.getByRole('button', { name: 'Acknowledge' }).click();
    await expect(clinic).toHaveURL(/\/clinic\/red-flags#flags$/);
    await expect(clinic.getByText('Nothing is waiting.')).toBeVisible();
    await expect(clinic.locator('li.card').filter({ hasText: 'Acknowledged by' }))
      .toContainText(`Acknowledged by ${clinician}`);
    await expect(clinic.locator('li.card').filter({ hasText: 'Acknowledged by' }))
      .toContainText('Called the patient; seen in clinic today');

    // The patient's page: what they share, including the session.
    await clinic.goto(patientPage());
    await expect(clinic.locator('h2#sessions + ul > li')).toHaveCount(1);
    await expect(clinic.locator('h2#sessions + ul > li')).toContainText('forehead');
    await expect(clinic.locator('h2#flags + ul > li')).toContainText(`Acknowledged by ${clinician}`);

    // Prescribing is a sensitive change: ten minutes after the second
    // factor, it asks for the password again, then for the form again.
    await advanceServerClock(clinic, 11);
    await clinic.getByRole('link', { name: 'Prescribe a protocol' }).click();
    await expect(clinic.getByRole('heading', { level: 1 })).toHaveText(/^Protocol for /);
    const fill = async () => {
      await clinic.getByLabel(/^Needle length/).fill('0.25');
      for (const box of await clinic.locator('input[name="zones"]').all()) await box.uncheck();
      await clinic.locator('input[name="zones"][value="forehead"]').check();
      await clinic.getByLabel(/^Days between sessions/).fill('7');
      await clinic.getByLabel(/^Sessions in the course/).fill('3');
      await clinic.getByLabel(/^Target density/).fill('250');
      await clinic.getByRole('button', { name: 'Prescribe' }).click();
    };
    await fill();
    await expect(clinic).toHaveURL(/\/reauth\?next=/);
    await expect(clinic.getByRole('heading', { level: 1 })).toHaveText('Confirm it is you');
    await clinic.getByLabel('Your password').fill(PASSWORD);
    await clinic.getByRole('button', { name: 'Confirm' }).click();
    await expect(clinic).toHaveURL(new RegExp(`${patientPage()}/protocol$`));
    await fill();

    await expect(clinic).toHaveURL(new RegExp(`${patientPage()}#protocol$`));
    const protocol = clinic.locator('h2#protocol + dl');
    await expect(protocol).toContainText('0.25 mm');
    await expect(protocol.locator('dt', { hasText: 'Zones' }).locator('+ dd')).toHaveText('forehead');
    await expect(protocol).toContainText('at least 7 days');
    await expect(protocol).toContainText('3 sessions');
    await expect(protocol).toContainText('250 per cm²');
    await expect(clinic.getByText(`Prescribed by ${clinician}`)).toBeVisible();
    await expectNoAxeViolations(clinic, 'patient page with a protocol');
    await screenshot(clinic, 'clinic-05-patient');
  });

  test("6. the clinician resolves the red flag, and the next session follows the clinician's protocol", async () => {
    test.setTimeout(90_000);
    // The patient shares check-ins with the clinic: a clinician there
    // resolves the red flag, not the patient.
    await patient.goto('/checkin');
    const lock = patient.locator('.lock');
    await expect(lock).toHaveCount(1);
    await expect(lock).toContainText('a clinician there resolves this red flag');
    await expect(lock.getByRole('link', { name: 'A doctor has examined me' })).toHaveCount(0);
    await clinic.goto('/clinic/red-flags');
    const open = clinic.locator('li.card').filter({ hasText: 'Acknowledged by' });
    await open.getByLabel(/^Resolved:/).fill('Seen in clinic; healing as expected');
    await expectNoAxeViolations(clinic, 'red-flag queue with a resolve form');
    await open.getByRole('button', { name: 'Resolve' }).click();
    await expect(clinic).toHaveURL(/\/clinic\/red-flags#flags$/);
    await expect(clinic.locator('li.card').filter({ hasText: 'Acknowledged by' })).toHaveCount(0);
    await patient.goto('/checkin');
    await expect(patient.locator('.lock')).toHaveCount(0);

    // The protocol shows at once; its 7 days count from the last session.
    await patient.goto('/session');
    await expect(patient.locator('#protocol')).toContainText("Your clinician's protocol");
    await expect(patient.locator('#protocol')).toContainText(`${clinician} prescribed`);
    await expect(patient.getByRole('heading', { name: 'Not today' })).toBeVisible();
    await expect(patient.locator('li.reason').filter({ has: patient.locator('a[href="/schedule"]') })).toHaveCount(1);

    // A week on, with the roller cleaned again: a plan of the forehead only.
    await advanceServerClock(patient, 7 * 24 * 60);
    await cycleToReady(patient, roller);
    await readyAllClear(patient);
    await patient.goto('/session');
    await expect(patient.getByRole('heading', { name: 'Not today' })).toHaveCount(0);
    await expect(patient.getByRole('heading', { name: 'Zone by zone' })).toBeVisible();
    await expect(patient.locator('#protocol')).toContainText("Your clinician's protocol");
    expect(await planZones()).toEqual(['forehead']);
    await expect(patient.locator('ol.zoneplans > li')).toHaveCount(1);
    await expectNoAxeViolations(patient, 'session with a protocol');
    await screenshot(patient, 'clinic-06-session-protocol');
    await patient.getByRole('button', { name: 'Save the session' }).click();
    await expect(patient).toHaveURL(/\/aftercare\?saved=session$/);

    // The clinic sees the second session: the forehead only.
    await clinic.goto(patientPage());
    const sessions = clinic.locator('h2#sessions + ul > li');
    await expect(sessions).toHaveCount(2);
    await expect(sessions.filter({ hasNotText: 'cheek' })).toHaveCount(1);
  });

  test("7. the patient reads the clinic's reads in the log, revokes sessions, and the clinic loses them at once", async () => {
    await patient.goto('/care-team');
    const log = patient.locator('ol.audit');
    await expect(log).toContainText(`${clinician} at ${clinicName} viewed your record: screening, sessions, check-ins`);
    await expect(log).toContainText(`${clinician} at ${clinicName} saw your open red flags in the clinic's queue`);
    await expect(log).toContainText(`${clinician} at ${clinicName} acknowledged a red flag`);
    await expect(log).toContainText(`${clinician} at ${clinicName} prescribed a protocol`);
    await expect(patient.locator('h2#protocol + p')).toContainText(`From ${clinicName}: prescribed by ${clinician}`);
    await expectNoAxeViolations(patient, 'care team with a clinic, a protocol and a log');
    await screenshot(patient, 'clinic-07-care-team');

    await scopeLine(/your sessions:/).getByRole('button', { name: 'Stop sharing' }).click();
    await expect(patient).toHaveURL(/\/care-team#clinic-/);
    await expect(scopeLine(/your sessions:/)).toContainText('Not shared:');
    await expect(scopeLine(/your screening answers/)).toContainText('Shared:');
    await expect(log).toContainText(`You stopped sharing your sessions: dates, zones, needle length and products (${clinicName})`);

    // The clinician's next look: no sessions, no prescribing.
    await clinic.goto(patientPage());
    await expect(clinic.locator('h2#sessions + p.empty')).toHaveText('Not shared.');
    await expect(clinic.locator('h2#sessions + ul')).toHaveCount(0);
    await expect(clinic.locator('.notice').filter({ hasText: 'does not share with the clinic' }))
      .toContainText('your sessions: dates, zones, needle length and products');
    await expect(clinic.getByRole('link', { name: /protocol/i })).toHaveCount(0);
    await expect(clinic.locator('h2#flags + ul > li')).toHaveCount(1); // check-ins are still shared
    const form = await clinic.request.get(`${patientPage()}/protocol`);
    expect(form.status()).toBe(403);
    await clinic.goto('/clinic');
    const row = clinic.locator('table.patients tbody > tr').first();
    await expect(row.locator('td').first()).toHaveText('not shared');
    await expect(row).toContainText('screening, checkins');

    // That read is in the patient's log too, without the sessions.
    await patient.goto('/care-team');
    await expect(log).toContainText(`${clinician} at ${clinicName} viewed your record: screening, check-ins`);
  });
});
