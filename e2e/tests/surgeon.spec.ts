// Journey 8, "Ask your surgeon", at phone size in two browsers: a patient's
// check-in raises a red flag and the patient sends it to the surgeon with a
// photo; the clinician finds it at the top of the inbox (above an older,
// ordinary question), answers with a canned reply and proposes two times;
// the patient books one; both see it in their calendars (the patient's
// calendar feed, the clinic's appointments); then the clinician cancels it
// with a reason and the patient reads why. axe-core on every page state,
// screenshots in target/e2e-screenshots/surgeon-*.
import { test, expect, type BrowserContext, type Page } from '@playwright/test';
import {
  signUp, screenGo, addRoller, cycleToReady, readyAllClear, signUpClinic, createInvite, joinClinic,
  checkInRedFlag, expectNoAxeViolations, screenshot,
} from './helpers';

// A valid 2×2 RGB PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGNocFAAIgYIBQAaDgOBnA45xwAAAABJRU5ErkJggg==',
  'base64',
);

const CANNED_TITLE = 'Signs of infection';
const CANNED_TEXT = 'Stop microneedling, keep the skin clean and do not squeeze it. We would like to see you.';
const RED_FLAG_SUBJECT = 'Pus on my cheek since yesterday';
const CANCEL_REASON = 'The surgeon is called to theatre that morning; please book another time.';

/** An iCalendar text with its folded lines joined (RFC 5545 §3.1). */
const unfold = (ics: string) => ics.replace(/\r\n[ \t]/g, '');

test.describe.serial('ask your surgeon', () => {
  let clinicContext: BrowserContext;
  let patientContext: BrowserContext;
  let clinic: Page;
  let patient: Page;
  let clinicName = '';
  let clinician = '';
  let joinPath = '';
  let threadPath = '';
  let feedPath = '';
  let booked = '';

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

  test('1. a clinic opens its hours, writes a canned reply and invites a patient', async () => {
    const who = await signUpClinic(clinic, 'surgeon');
    clinicName = who.clinic;
    clinician = who.clinician;

    await clinic.goto('/clinic/appointments');
    await expect(clinic.getByRole('heading', { level: 1, name: 'Appointments' })).toBeVisible();
    await expect(clinic.locator('.notice')).toContainText('has not set its opening hours');
    await expect(clinic.locator('p.empty')).toHaveText('No appointments in this period.');
    await expectNoAxeViolations(clinic, 'clinic appointments, no hours yet');
    await screenshot(clinic, 'surgeon-01-clinic-appointments-empty');

    await clinic.getByRole('link', { name: 'Set them now' }).click();
    await expect(clinic.getByRole('heading', { level: 1, name: 'Opening hours' })).toBeVisible();
    const days = clinic.getByRole('group', { name: 'Opening times' }).locator('input[type="text"]');
    await expect(days).toHaveCount(7);
    // A mistake first: it is shown next to its day, and nothing typed is lost.
    await days.nth(0).fill('9 to 5');
    for (let i = 1; i < 7; i++) await days.nth(i).fill('08:00-12:00, 13:00-18:00');
    await clinic.getByLabel(/^Length of one appointment/).fill('30');
    await clinic.getByRole('button', { name: 'Save the opening hours' }).click();
    await expect(days.nth(0)).toHaveAttribute('aria-invalid', 'true');
    await expect(days.nth(0)).toHaveValue('9 to 5');
    await expect(days.nth(1)).toHaveValue('08:00-12:00, 13:00-18:00');
    await expectNoAxeViolations(clinic, 'opening hours with a mistake');
    await screenshot(clinic, 'surgeon-02-hours-error');
    await days.nth(0).fill('08:00-12:00, 13:00-18:00');
    await clinic.getByRole('button', { name: 'Save the opening hours' }).click();
    await expect(clinic.locator('.notice').filter({ hasText: 'has not set its opening hours' })).toHaveCount(0);

    await clinic.goto('/clinic/canned-replies');
    await expect(clinic.locator('p.empty')).toContainText('No canned replies yet');
    await clinic.getByLabel('Title', { exact: true }).last().fill(CANNED_TITLE);
    await clinic.getByLabel('Text', { exact: true }).last().fill(CANNED_TEXT);
    await clinic.getByRole('button', { name: 'Save' }).last().click();
    await expect(clinic.getByRole('heading', { level: 2, name: CANNED_TITLE })).toBeVisible();
    await expectNoAxeViolations(clinic, 'canned replies with one');

    joinPath = await createInvite(clinic, 'surgeon journey');
  });

  test('2. the patient joins, asks an ordinary question, then a check-in raises a red flag', async () => {
    test.setTimeout(90_000);
    await signUp(patient, 'surgeon-patient');
    await screenGo(patient);
    await joinClinic(patient, joinPath, clinicName, ['screening', 'sessions', 'checkins']);

    // An ordinary question first, so the inbox has an older conversation.
    await patient.goto('/messages/new');
    await patient.getByLabel(/^Subject/).fill('Which serum after a session?');
    await patient.getByLabel('Your message').fill('Is hyaluronic acid fine the evening after?');
    await patient.getByRole('button', { name: 'Send' }).click();
    await expect(patient).toHaveURL(/\/messages\/[0-9a-f-]{36}$/);
    await expect(patient.getByRole('heading', { level: 1 })).toHaveText('Which serum after a session?');

    await addRoller(patient, 'home roller');
    await cycleToReady(patient, 'home roller');
    await readyAllClear(patient);
    await patient.goto('/session');
    await patient.getByRole('button', { name: 'Save the session' }).click();
    await expect(patient).toHaveURL(/\/aftercare\?saved=session$/);

    await checkInRedFlag(patient);
    await expect(patient.locator('.lock')).toBeVisible();
    await expectNoAxeViolations(patient, 'check-in result with a red flag');
    await screenshot(patient, 'surgeon-03-red-flag');
  });

  test('3. "Send this to my surgeon" carries the check-in as a card, with a photo', async () => {
    await patient.getByRole('link', { name: 'Send this to my surgeon' }).click();
    await expect(patient.getByRole('heading', { level: 1, name: 'Ask my care team' })).toBeVisible();
    const card = patient.locator('section.check-card');
    await expect(card.getByRole('heading', { name: 'Your check-in goes with it' })).toBeVisible();
    await expect(card).toContainText(/pus|warmth/i);
    await expect(patient.getByLabel('To', { exact: true })).toHaveValue(/.+/);
    await expect(patient.getByLabel('To', { exact: true }).locator('option:checked')).toHaveText(clinicName);

    // Sent without a subject: the error is beside the field and the text stays.
    await patient.getByLabel('Your message').fill('It started yesterday evening and it is warm to the touch.');
    await patient.getByLabel(/^Subject/).fill('');
    await patient.getByLabel(/^Subject/).evaluate((el) => el.removeAttribute('required'));
    await patient.getByRole('button', { name: 'Send' }).click();
    await expect(patient.getByLabel(/^Subject/)).toHaveAttribute('aria-invalid', 'true');
    await expect(patient.getByLabel('Your message')).toHaveValue('It started yesterday evening and it is warm to the touch.');
    await expect(patient.locator('section.check-card')).toBeVisible();
    await expectNoAxeViolations(patient, 'new message with a missing subject');
    await screenshot(patient, 'surgeon-04-message-error');

    await patient.getByLabel(/^Subject/).fill(RED_FLAG_SUBJECT);
    await patient.locator('#photos').setInputFiles({ name: 'cheek.png', mimeType: 'image/png', buffer: PNG });
    await patient.getByRole('button', { name: 'Send' }).click();
    await expect(patient).toHaveURL(/\/messages\/[0-9a-f-]{36}$/);
    threadPath = new URL(patient.url()).pathname;
    await expect(patient.getByRole('heading', { level: 1 })).toHaveText(RED_FLAG_SUBJECT);
    await expect(patient.locator('section.check-card')).toContainText(/pus|warmth/i);
    const photo = patient.locator('.message-photos img');
    await expect(photo).toHaveCount(1);
    // The photo is served to the patient, re-encoded.
    const src = await photo.getAttribute('src');
    const res = await patient.request.get(src!);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toMatch(/^image\//);
    await expectNoAxeViolations(patient, 'red-flag conversation, sent');
    await screenshot(patient, 'surgeon-05-sent');
  });

  test('4. the clinician finds it at the top of the inbox and answers with a canned reply', async () => {
    await clinic.goto('/clinic/messages');
    const items = clinic.locator('ul.conversations > li');
    await expect(items).toHaveCount(2);
    // The red flag is newer, yet first: it waits for an answer.
    await expect(items.first()).toContainText(RED_FLAG_SUBJECT);
    await expect(items.first().locator('.badge.flag')).toHaveText('Red flag, waiting');
    await expect(items.nth(1)).toContainText('Which serum after a session?');
    await expectNoAxeViolations(clinic, 'clinic inbox with a red-flag conversation');
    await screenshot(clinic, 'surgeon-06-inbox');

    await items.first().getByRole('link').click();
    await expect(clinic.getByRole('heading', { level: 1 })).toHaveText(RED_FLAG_SUBJECT);
    await expect(clinic.locator('section.check-card')).toContainText(/pus|warmth/i);
    await expect(clinic.locator('.message-photos img')).toHaveCount(1);
    await clinic.getByLabel('Start from a canned reply').selectOption({ label: CANNED_TITLE });
    await clinic.getByRole('button', { name: 'Use it' }).click();
    await expect(clinic.getByLabel('Your message')).toHaveValue(CANNED_TEXT);
    await expectNoAxeViolations(clinic, 'clinic conversation with a canned reply');
    await clinic.getByRole('button', { name: 'Send' }).click();
    await expect(clinic.locator('ol.messages > li')).toHaveCount(2);
    await expect(clinic.locator('ol.messages > li').last()).toContainText(CANNED_TEXT);

    // Answered: the conversation no longer waits at the top.
    await clinic.goto('/clinic/messages');
    await expect(clinic.locator('ul.conversations .badge.flag')).toHaveCount(0);
  });

  test('5. the clinician proposes two times', async () => {
    await clinic.goto('/clinic/messages');
    await clinic.locator('ul.conversations > li').filter({ hasText: RED_FLAG_SUBJECT }).getByRole('link').click();
    await clinic.getByRole('link', { name: 'Propose times for an appointment' }).click();
    await expect(clinic.getByRole('heading', { level: 1 })).toContainText('Propose times to');
    const free = clinic.getByRole('group', { name: 'Free times' }).getByRole('checkbox');
    expect(await free.count()).toBeGreaterThanOrEqual(2);
    // None chosen is refused, in words beside the list.
    await clinic.getByRole('button', { name: 'Send these times' }).click();
    await expect(clinic.locator('#err-slots')).toBeVisible();
    await expectNoAxeViolations(clinic, 'propose times with none chosen');
    await screenshot(clinic, 'surgeon-07-propose-error');
    await free.nth(0).check();
    await free.nth(1).check();
    await clinic.getByLabel('Message', { exact: true }).fill('Please come in so we can look at it.');
    await clinic.getByRole('button', { name: 'Send these times' }).click();
    await expect(clinic.getByRole('heading', { level: 1 })).toHaveText(RED_FLAG_SUBJECT);
    await expect(clinic.locator('ol.messages > li').last()).toContainText('Please come in so we can look at it.');
  });

  test('6. the patient reads the answer and books one of the two times', async () => {
    await patient.goto(threadPath);
    await expect(patient.locator('ol.messages > li')).toHaveCount(3);
    await expect(patient.locator('ol.messages')).toContainText(CANNED_TEXT);
    await expect(patient.locator('ol.messages')).toContainText('Please come in so we can look at it.');
    await patient.getByRole('link', { name: 'Times offered for an appointment' }).click();
    await expect(patient.getByRole('heading', { level: 2, name: 'Times your care team offered' })).toBeVisible();
    const offers = patient.url();
    const offer = patient.locator('section[aria-labelledby="offers-h"] .card');
    await expect(offer).toHaveCount(1);
    await expect(offer).toContainText(`${clinician} of ${clinicName}`);
    const times = offer.getByRole('radio');
    await expect(times).toHaveCount(2);
    await expectNoAxeViolations(patient, 'appointments with two offered times');
    await screenshot(patient, 'surgeon-08-offer');
    booked = (await times.nth(1).evaluate((el) => (el.parentElement as HTMLElement).innerText)).trim();
    await times.nth(1).check();
    await offer.getByRole('button', { name: 'Book this time' }).click();

    const upcoming = patient.locator('section[aria-labelledby="upcoming-h"] li.card');
    await expect(upcoming).toHaveCount(1);
    await expect(upcoming).toContainText(booked);
    await expect(upcoming).toContainText(clinicName);
    await expectNoAxeViolations(patient, 'appointments with one booked');
    await screenshot(patient, 'surgeon-09-booked');
    // The offer is used: it cannot book a second time.
    await patient.goto(offers);
    await expect(offer).toContainText('You booked one of these times');
    await expect(offer.getByRole('radio')).toHaveCount(0);
  });

  test('7. both see it in their calendars', async () => {
    // The patient's calendar feed (what the phone's calendar subscribes to).
    await patient.goto('/schedule');
    await patient.getByRole('button', { name: 'Make a calendar link' }).click();
    const url = await patient.getByLabel('Calendar link').inputValue();
    feedPath = new URL(url, patient.url()).pathname;
    expect(feedPath).toMatch(/^\/calendar\/[0-9a-f]{64}\.ics$/);
    const feed = unfold(await (await patient.request.get(feedPath)).text());
    expect(feed).toContain(`SUMMARY:Appointment at ${clinicName}`);
    const event = feed.split('BEGIN:VEVENT').find((e) => e.includes(`SUMMARY:Appointment at ${clinicName}`))!;
    expect(event).toMatch(/UID:appointment-[0-9a-f-]{36}@needlewise/);
    expect(event).toContain('BEGIN:VALARM');

    // The clinic's appointments list.
    await clinic.goto('/clinic/appointments');
    const rows = clinic.locator('ul.appointments > li');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText('Booked');
    await expectNoAxeViolations(clinic, 'clinic appointments with one booked');
    await screenshot(clinic, 'surgeon-10-clinic-appointments');
  });

  test('8. the clinician cancels with a reason and the patient sees why', async () => {
    const row = clinic.locator('ul.appointments > li').first();
    await row.getByText('Cancel this appointment').click();
    // No reason: refused beside the field.
    await row.getByRole('button', { name: 'Cancel the appointment' }).click();
    const again = clinic.locator('ul.appointments > li').first();
    await expect(again.getByLabel('Reason, for the patient')).toHaveAttribute('aria-invalid', 'true');
    await expectNoAxeViolations(clinic, 'cancel without a reason');
    await again.getByLabel('Reason, for the patient').fill(CANCEL_REASON);
    await again.getByRole('button', { name: 'Cancel the appointment' }).click();
    await expect(clinic.locator('ul.appointments > li').first()).toContainText('Cancelled');
    await expect(clinic.locator('ul.appointments > li').first()).toContainText(CANCEL_REASON);

    await patient.goto('/appointments');
    await expect(patient.locator('section[aria-labelledby="upcoming-h"] p.empty')).toHaveText('You have no appointments booked.');
    const past = patient.locator('section[aria-labelledby="past-h"] li');
    await expect(past).toHaveCount(1);
    await expect(past).toContainText(booked);
    await expect(past).toContainText(`Cancelled by ${clinician}`);
    await expect(past).toContainText(CANCEL_REASON);
    await expectNoAxeViolations(patient, 'appointments after the clinic cancelled');
    await screenshot(patient, 'surgeon-11-cancelled');

    // The calendar feed no longer holds it.
    const feed = unfold(await (await patient.request.get(feedPath)).text());
    expect(feed).not.toContain(`SUMMARY:Appointment at ${clinicName}`);
  });
});
