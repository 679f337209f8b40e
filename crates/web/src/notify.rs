//! The red-flag escalation ladder and the email outbox, worked by any
//! instance.
//!
//! [`escalate`] looks at every open red flag (of patients who granted the
//! check-ins scope), works out which of its clinic's ladder steps are due,
//! timed from when that clinic could first see the flag
//! ([`OpenFlag::visible_since`]: a flag raised before the patient shared
//! check-ins with the clinic starts at its first step then), and for each
//! one not yet sent claims it in the store together with its in-app
//! notifications and queued emails, in one transaction
//! (`ClinicStore::escalate_step`): only the instance whose claim succeeds
//! notifies, so two instances running the worker at the same moment send
//! each step once, and an instance that dies mid-step leaves the step
//! unclaimed for the next run. [`deliver`] sends queued emails (each leased
//! to one instance at a time; at least once, with a stable `Message-ID`).
//!
//! Emails say no more than that a patient has a warning sign to review,
//! with the link: no name, no symptom. The in-app notification names no
//! patient either (staff may receive an escalation and may not read
//! clinical data); the red-flag queue shows the rest to those allowed.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use needlewise_core::clinic::Member;
use needlewise_core::ids::{EmailId, NotificationId};
use needlewise_store::clinic::{Email, EscalationClaim, Notification, OpenFlag};
use needlewise_store::conversation::{ConversationClaim, UnansweredRedFlag};
use needlewise_store::{Store, StoreError};
use uuid::Uuid;

use crate::AppState;
use crate::mail::Mailer;

/// Where a notification sends its reader.
pub const RED_FLAG_LINK: &str = "/clinic/red-flags";
/// How long a claimed email is held by one instance before another may
/// retry it. Emails are claimed one at a time, so an instance that dies
/// holds at most one, and for seconds: a red-flag email is late by about
/// this much, not by minutes.
pub const EMAIL_LEASE: SignedDuration = SignedDuration::from_secs(30);
/// Emails sent per run at most.
pub const EMAIL_BATCH: u32 = 50;

/// Notifies the due, unsent ladder steps of every open red flag. Returns
/// how many steps this call sent (claimed). `public_url`, when known, makes
/// the emails' link absolute.
pub fn escalate(store: &dyn Store, now: Timestamp) -> Result<u32, StoreError> {
    escalate_with(store, now, None)
}

/// [`escalate`], with the address people reach needlewise at.
pub fn escalate_with(
    store: &dyn Store,
    now: Timestamp,
    public_url: Option<&str>,
) -> Result<u32, StoreError> {
    escalate_observed(store, now, public_url, None)
}

/// [`escalate_with`], telling `metrics` how long the steps it claimed had
/// been due.
fn escalate_observed(
    store: &dyn Store,
    now: Timestamp,
    public_url: Option<&str>,
    metrics: Option<&crate::telemetry::Metrics>,
) -> Result<u32, StoreError> {
    let mut sent = 0;
    let mut lag: Option<i64> = None;
    for flag in store.open_flags()? {
        let due = flag
            .clinic
            .ladder
            .due(flag.visible_since, flag.acknowledged, now);
        let mut members: Option<Vec<Member>> = None;
        for step in due {
            if flag.sent_steps.contains(&step) {
                continue;
            }
            if members.is_none() {
                members = Some(store.members_of(flag.clinic.id)?);
            }
            let all = members.as_deref().unwrap_or_default();
            let recipients = flag.clinic.ladder.recipients(step, all);
            let (notes, emails) = messages(store, &flag, step, &recipients, now, public_url)?;
            let claim = EscalationClaim {
                clinic: flag.clinic.id,
                profile: flag.profile_id,
                episode: flag.episode.id,
                step,
                at: now,
            };
            if !store.escalate_step(&claim, &notes, &emails)? {
                continue; // another instance has it
            }
            sent += 1;
            if let Some(after) = flag.clinic.ladder.steps.get(step).map(|s| s.after) {
                let due_at = flag.visible_since.checked_add(after).unwrap_or(now);
                let waited = now.duration_since(due_at).as_secs().max(0);
                lag = Some(lag.map_or(waited, |l| l.max(waited)));
            }
        }
    }
    let (conversations, conversation_lag) = escalate_conversations(store, now, public_url)?;
    sent += conversations;
    if let Some(waited) = conversation_lag {
        lag = Some(lag.map_or(waited, |l| l.max(waited)));
    }
    if let (Some(m), Some(lag)) = (metrics, lag) {
        m.escalation_lag(lag);
    }
    Ok(sent)
}

/// Climbs the clinic's ladder for every conversation started from a red
/// flag that the clinic has not answered yet, like the flag itself, timed
/// from when the patient started it; the clinic's first answer stops it.
/// Returns the steps claimed and how long the latest-claimed had been due
/// at most, in seconds.
fn escalate_conversations(
    store: &dyn Store,
    now: Timestamp,
    public_url: Option<&str>,
) -> Result<(u32, Option<i64>), StoreError> {
    let mut sent = 0;
    let mut lag: Option<i64> = None;
    for open in store.unanswered_red_flags()? {
        let ladder = &open.clinic.ladder;
        let mut members: Option<Vec<Member>> = None;
        for step in ladder.due(open.since, false, now) {
            if open.sent_steps.contains(&step) {
                continue;
            }
            if members.is_none() {
                members = Some(store.members_of(open.clinic.id)?);
            }
            let all = members.as_deref().unwrap_or_default();
            let recipients = ladder.recipients(step, all);
            let (notes, emails) =
                conversation_messages(store, &open, step, &recipients, now, public_url)?;
            let claim = ConversationClaim {
                clinic: open.clinic.id,
                profile: open.profile_id,
                conversation: open.conversation_id,
                step,
                at: now,
            };
            if !store.escalate_conversation_step(&claim, &notes, &emails)? {
                continue; // another instance has it, or it was answered
            }
            sent += 1;
            if let Some(after) = ladder.steps.get(step).map(|s| s.after) {
                let due_at = open.since.checked_add(after).unwrap_or(now);
                let waited = now.duration_since(due_at).as_secs().max(0);
                lag = Some(lag.map_or(waited, |l| l.max(waited)));
            }
        }
    }
    Ok((sent, lag))
}

/// Where a conversation's notification sends a member: the conversation
/// for those who may read it, the inbox for the others.
pub fn conversation_link(open: &UnansweredRedFlag, reads_clinical: bool) -> String {
    if reads_clinical {
        format!(
            "/clinic/messages/{}/{}",
            open.profile_id, open.conversation_id
        )
    } else {
        "/clinic/messages".to_owned()
    }
}

/// The words of a conversation's step: no name, no symptom, no text.
fn conversation_words(open: &UnansweredRedFlag, step: usize, now: Timestamp) -> (String, String) {
    let clinic = &open.clinic.name;
    let asked = local_in(&open.clinic.time_zone, open.since);
    if step == 0 {
        (
            "A patient asks about a warning sign".to_owned(),
            format!(
                "A patient of {clinic} wrote to the clinic about a warning sign at {asked} and is waiting for an answer. Please answer in the clinic's messages."
            ),
        )
    } else {
        (
            "A question about a warning sign is still unanswered".to_owned(),
            format!(
                "A patient of {clinic} wrote to the clinic about a warning sign at {asked}, {} ago, and nobody has answered yet. Please answer in the clinic's messages, or make sure a clinician does.",
                waited(now.duration_since(open.since))
            ),
        )
    }
}

/// A wait in plain words.
fn waited(waited: SignedDuration) -> String {
    let hours = waited.as_secs() / 3600;
    if hours >= 1 {
        format!("about {hours} hour{}", if hours == 1 { "" } else { "s" })
    } else {
        format!("{} minutes", waited.as_secs() / 60)
    }
}

/// A conversation step's in-app notifications and emails. A step due at
/// once does not email those who may read the conversation: the message
/// itself queued them an email already.
fn conversation_messages(
    store: &dyn Store,
    open: &UnansweredRedFlag,
    step: usize,
    recipients: &[&Member],
    now: Timestamp,
    public_url: Option<&str>,
) -> Result<(Vec<Notification>, Vec<Email>), StoreError> {
    if recipients.is_empty() {
        tracing::warn!(clinic = %open.clinic.id, step, "an escalation step reaches nobody: check the clinic's ladder");
        return Ok((Vec::new(), Vec::new()));
    }
    let (title, body) = conversation_words(open, step, now);
    let kind = if step == 0 {
        "red_flag_message"
    } else {
        "red_flag_message_escalation"
    };
    let notes = recipients
        .iter()
        .map(|m| {
            let clinical = m.role.reads_clinical_data();
            Notification {
                id: NotificationId(Uuid::now_v7()),
                account_id: m.account_id,
                clinic_id: Some(open.clinic.id),
                profile_id: clinical.then_some(open.profile_id),
                kind: kind.to_owned(),
                title: title.clone(),
                body: body.clone(),
                link: conversation_link(open, clinical),
                created_at: now,
                read_at: None,
            }
        })
        .collect();
    let at_once = open
        .clinic
        .ladder
        .steps
        .get(step)
        .is_some_and(|s| s.after <= SignedDuration::ZERO);
    let mut emails = Vec::new();
    for m in recipients {
        let clinical = m.role.reads_clinical_data();
        if at_once && clinical {
            continue;
        }
        let Some(account) = store.account(m.account_id)? else {
            continue;
        };
        if account.email.is_empty() {
            continue;
        }
        let path = conversation_link(open, clinical);
        let link = match public_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => format!("needlewise, Clinic, Messages ({path})"),
        };
        emails.push(Email {
            id: EmailId(Uuid::now_v7()),
            to: account.email,
            subject: format!("needlewise: {}", title.to_lowercase()),
            body: format!(
                "Hello {},\n\nA patient has asked the clinic about a warning sign and is waiting for an answer.\n\nPlease open {link} and make sure a clinician answers.\n\nThis email holds no patient details on purpose; you will see them after logging in.\n\n-- needlewise for {}\n",
                m.display_name, open.clinic.name
            ),
            calendar: None,
            created_at: now,
            sent_at: None,
            attempts: 0,
            last_error: String::new(),
        });
    }
    Ok((notes, emails))
}

/// The words of a step. Plain, kind, and free of clinical detail.
fn words(flag: &OpenFlag, step: usize, now: Timestamp) -> (String, String, String) {
    let clinic = &flag.clinic.name;
    let raised = local(flag, flag.episode.opened_at);
    // A flag raised before the patient shared check-ins with the clinic:
    // say when the clinic could first see it, and count the wait from then.
    let shared_later = flag.visible_since > flag.episode.opened_at;
    let reported = if shared_later {
        format!(
            "reported a warning sign at {raised} and shared it with the clinic at {}",
            local(flag, flag.visible_since)
        )
    } else {
        format!("reported a warning sign at {raised}")
    };
    if step == 0 {
        (
            "red_flag".to_owned(),
            "A patient has a warning sign to review".to_owned(),
            format!(
                "A patient of {clinic} {reported}. Please look at it in the red-flag queue and acknowledge it once someone is on it."
            ),
        )
    } else {
        let waited = now.duration_since(flag.visible_since);
        let hours = waited.as_secs() / 3600;
        let waited = if hours >= 1 {
            format!("about {hours} hour{}", if hours == 1 { "" } else { "s" })
        } else {
            format!("{} minutes", waited.as_secs() / 60)
        };
        (
            "escalation".to_owned(),
            "A warning sign is still waiting for someone".to_owned(),
            format!(
                "A patient of {clinic} {reported}, {waited} ago, and nobody has acknowledged it yet. Please look at it in the red-flag queue, or make sure a clinician does."
            ),
        )
    }
}

/// A moment in the clinic's time zone.
fn local(flag: &OpenFlag, at: Timestamp) -> String {
    local_in(&flag.clinic.time_zone, at)
}

/// A moment in a time zone.
fn local_in(zone: &str, at: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let at = at.to_zoned_datetime(tz);
    format!("{} {}", crate::views::moment(&at), at.strftime("%Z"))
}

/// A step's in-app notifications and emails, written with its claim.
fn messages(
    store: &dyn Store,
    flag: &OpenFlag,
    step: usize,
    recipients: &[&Member],
    now: Timestamp,
    public_url: Option<&str>,
) -> Result<(Vec<Notification>, Vec<Email>), StoreError> {
    if recipients.is_empty() {
        tracing::warn!(clinic = %flag.clinic.id, step, "an escalation step reaches nobody: check the clinic's ladder");
        return Ok((Vec::new(), Vec::new()));
    }
    let (kind, title, body) = words(flag, step, now);
    let notes: Vec<Notification> = recipients
        .iter()
        .map(|m| Notification {
            id: NotificationId(Uuid::now_v7()),
            account_id: m.account_id,
            clinic_id: Some(flag.clinic.id),
            // Only those who may read clinical data are pointed at the
            // patient.
            profile_id: m.role.reads_clinical_data().then_some(flag.profile_id),
            kind: kind.clone(),
            title: title.clone(),
            body: body.clone(),
            link: RED_FLAG_LINK.to_owned(),
            created_at: now,
            read_at: None,
        })
        .collect();
    let mut emails = Vec::new();
    let link = match public_url {
        Some(base) => format!("{}{RED_FLAG_LINK}", base.trim_end_matches('/')),
        None => format!("needlewise, Clinic, Red flags ({RED_FLAG_LINK})"),
    };
    for m in recipients {
        let Some(account) = store.account(m.account_id)? else {
            continue;
        };
        if account.email.is_empty() {
            continue;
        }
        let email = Email {
            id: EmailId(Uuid::now_v7()),
            to: account.email,
            subject: format!("needlewise: {}", title.to_lowercase()),
            body: format!(
                "Hello {},\n\nA patient has a warning sign to review.\n\nPlease open {link} and acknowledge it once someone is on it.\n\nThis email holds no patient details on purpose; you will see them after logging in.\n\n-- needlewise for {}\n",
                m.display_name, flag.clinic.name
            ),
            calendar: None,
            created_at: now,
            sent_at: None,
            attempts: 0,
            last_error: String::new(),
        };
        emails.push(email);
    }
    Ok((notes, emails))
}

/// Sends queued emails whose lease has lapsed. Without an SMTP server they
/// stay queued. Returns how many were sent.
pub fn deliver(store: &dyn Store, mailer: &Mailer, now: Timestamp) -> Result<u32, StoreError> {
    deliver_observed(store, mailer, now, None)
}

/// [`deliver`], counting failed deliveries in `metrics`.
fn deliver_observed(
    store: &dyn Store,
    mailer: &Mailer,
    now: Timestamp,
    metrics: Option<&crate::telemetry::Metrics>,
) -> Result<u32, StoreError> {
    if !mailer.enabled() {
        return Ok(0);
    }
    let mut sent = 0;
    // One email per claim, and no new claim past half the lease: a slow
    // SMTP server (10 s per step) could otherwise keep this run going past
    // a lease, and another instance would send the same email again. What
    // is left waits for the next tick.
    let started = std::time::Instant::now();
    let budget = EMAIL_LEASE.unsigned_abs() / 2;
    for _ in 0..EMAIL_BATCH {
        if started.elapsed() > budget {
            tracing::warn!(
                "the SMTP server is slow: the rest of the outbox waits for the next run"
            );
            break;
        }
        let Some(email) = store.claim_emails(now, EMAIL_LEASE, 1)?.pop() else {
            break;
        };
        let outcome = mailer.send(&email);
        if let Err(e) = &outcome {
            tracing::warn!(email = %email.id, attempts = email.attempts + 1, error = %e, "an email could not be sent; it will be retried");
            if let Some(m) = metrics {
                m.delivery_failed();
            }
        } else {
            sent += 1;
        }
        store.finish_email(email.id, outcome, now)?;
    }
    Ok(sent)
}

/// Runs the ladder and the outbox once, on the blocking pool. Errors are
/// logged, never raised: the worker must keep running.
pub async fn run_once(state: &AppState) {
    let store = state.store.clone();
    let public_url = state.config.public_url.clone();
    let metrics = state.metrics.clone();
    let now = state.now();
    let escalated = tokio::task::spawn_blocking(move || {
        escalate_observed(store.as_ref(), now, public_url.as_deref(), Some(&metrics))
    })
    .await;
    match escalated {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "escalation failed"),
        Err(e) => tracing::error!(error = %e, "the notification worker stopped abruptly"),
    }
    // Deliver even when escalating failed: the outbox may hold earlier
    // emails.
    deliver_in_turn(state).await;
}

/// Sends the outbox's emails once this instance's previous delivery loop
/// has finished ([`AppState::delivering`]), on the blocking pool.
async fn deliver_in_turn(state: &AppState) {
    let _turn = state.delivering.lock().await;
    let store = state.store.clone();
    let mailer = state.mailer.clone();
    let metrics = state.metrics.clone();
    // Read after waiting for the turn: leases are taken from this moment.
    let now = state.now();
    let delivered = tokio::task::spawn_blocking(move || {
        deliver_observed(store.as_ref(), &mailer, now, Some(&metrics))
    })
    .await;
    match delivered {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "sending emails failed"),
        Err(e) => tracing::error!(error = %e, "sending emails stopped abruptly"),
    }
}

/// Runs the ladder at once, after a check-in opened a red-flag episode, so
/// the clinic hears of it without waiting for the next tick. The in-app
/// notifications exist when this returns; emails go out in the background
/// so the patient never waits for an SMTP server, in turn with any other
/// delivery of this instance.
pub async fn kick(state: &AppState) {
    let store = state.store.clone();
    let public_url = state.config.public_url.clone();
    let now = state.now();
    let escalated = tokio::task::spawn_blocking(move || {
        escalate_with(store.as_ref(), now, public_url.as_deref())
    })
    .await;
    match escalated {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "escalation failed"),
        Err(e) => tracing::error!(error = %e, "escalation stopped abruptly"),
    }
    if state.mailer.enabled() {
        let state = state.clone();
        tokio::spawn(async move { deliver_in_turn(&state).await });
    }
}

/// Sends what the outbox holds in the background, in turn with any other
/// delivery of this instance, after a write that queued emails (an
/// appointment booked, moved or cancelled), so they go out without waiting
/// for the next tick.
pub fn send_soon(state: &AppState) {
    if state.mailer.enabled() {
        let state = state.clone();
        tokio::spawn(async move { deliver_in_turn(&state).await });
    }
}

/// Runs [`run_once`] every `escalation_tick_seconds`, for as long as the
/// runtime lives.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(state.config.escalation_tick_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            run_once(&state).await;
        }
    })
}

/// The email that tells one side of a conversation there is a new message:
/// where to read it, and nothing of what it says (nor who wrote, nor about
/// what), queued by the store with the message itself.
pub fn message_mail(
    to: needlewise_core::conversation::Side,
    public_url: Option<&str>,
) -> needlewise_store::conversation::MessageMail {
    use needlewise_core::conversation::Side;
    let path = match to {
        Side::Patient => "/messages",
        Side::Clinic => "/clinic/messages",
    };
    let link = match public_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => format!("needlewise ({path})"),
    };
    match to {
        Side::Patient => needlewise_store::conversation::MessageMail {
            subject: "needlewise: a new message from your care team".to_owned(),
            body: format!(
                "Hello,\n\nYour care team has answered you in needlewise.\n\nPlease log in to read it: {link}\n\nThis email holds nothing of the message on purpose.\n\n-- needlewise\n"
            ),
        },
        Side::Clinic => needlewise_store::conversation::MessageMail {
            subject: "needlewise: a patient sent a new message".to_owned(),
            body: format!(
                "Hello,\n\nA patient has sent your clinic a new message in needlewise.\n\nPlease log in to read it: {link}\n\nThis email holds no patient details on purpose; you will see them after logging in.\n\n-- needlewise\n"
            ),
        },
    }
}

/// The emails that tell a patient about their appointment, queued by the
/// store with the change itself ([`needlewise_store::appointment::AppointmentMail`]):
/// what happened, when, in the patient's own zone, and the reason given
/// for a cancellation or a move, in plain words, with an iCalendar
/// invitation ([`crate::ics::invitation`]: METHOD:REQUEST to put it in the
/// calendar, METHOD:CANCEL with the same UID and a higher SEQUENCE to take
/// it out). Never the appointment's note, nor anything clinical.
#[derive(Debug, Clone)]
pub struct AppointmentMails {
    /// The invitations' ORGANIZER: the address the emails come from
    /// (`mail_from`), named after the clinic.
    pub organizer: String,
    /// The zone of a patient whose profile has none (the server's).
    pub default_zone: jiff::tz::TimeZone,
    pub public_url: Option<String>,
}

impl AppointmentMails {
    pub fn from_state(state: &AppState) -> AppointmentMails {
        let organizer = crate::mail::parse_mailbox(&state.config.mail_from)
            .map(|m| m.email.to_string())
            .unwrap_or_else(|_| "needlewise@localhost".to_owned());
        AppointmentMails {
            organizer,
            default_zone: state.tz.clone(),
            public_url: state.config.public_url.clone(),
        }
    }

    fn invitation(
        &self,
        news: &needlewise_store::appointment::AppointmentNews<'_>,
        a: &needlewise_core::appointment::Appointment,
        method: crate::ics::Method,
    ) -> needlewise_store::clinic::CalendarPart {
        needlewise_store::clinic::CalendarPart {
            method,
            text: crate::ics::invitation(
                a,
                news.clinic_name,
                &self.organizer,
                news.patient_email,
                method,
                news.at,
            ),
        }
    }
}

/// "Mon 7 Dec 2026, 14:00 to 14:30 (Europe/Paris time)": a slot in `tz`,
/// named, so an email read elsewhere still says which clock it means.
pub fn slot_words(tz: &jiff::tz::TimeZone, s: &needlewise_core::appointment::Slot) -> String {
    let start = s.start.to_zoned_datetime(tz.clone());
    let end = s.end.to_zoned_datetime(tz.clone());
    let end = match crate::views::DateStyle::current() {
        crate::views::DateStyle::DayFirst => end.strftime("%H:%M").to_string(),
        crate::views::DateStyle::MonthFirst => end.strftime("%-I:%M %p").to_string(),
    };
    format!(
        "{} to {end} ({} time)",
        crate::views::moment(&start),
        tz.iana_name().unwrap_or("UTC")
    )
}

impl needlewise_store::appointment::AppointmentMail for AppointmentMails {
    fn emails(
        &self,
        news: &needlewise_store::appointment::AppointmentNews<'_>,
    ) -> Vec<needlewise_store::appointment::AppointmentEmail> {
        use needlewise_core::conversation::Side;
        use needlewise_store::appointment::{AppointmentEmail, Happened};

        use crate::ics::Method;
        let tz = news
            .patient_time_zone
            .and_then(|z| jiff::tz::TimeZone::get(z).ok())
            .unwrap_or_else(|| self.default_zone.clone());
        let link = match &self.public_url {
            Some(base) => format!("{}/appointments", base.trim_end_matches('/')),
            None => "needlewise (/appointments)".to_owned(),
        };
        let clinic = news.clinic_name;
        let a = news.appointment;
        let when = slot_words(&tz, &a.slot);
        let footer =
            format!("To see, cancel or move your appointments, log in: {link}\n\n-- needlewise\n");
        let ending = a.ended.as_ref();
        let who = |side: Side, you: &str, clinic_did: &str| match side {
            Side::Patient => you.to_owned(),
            Side::Clinic => clinic_did.to_owned(),
        };
        let reason = ending.map(|e| e.reason.as_str()).unwrap_or_default();
        match (news.happened, news.new) {
            (Happened::Booked, _) => {
                let booked = who(a.booked_by.side, "You booked", "The clinic booked");
                vec![AppointmentEmail {
                    subject: format!("needlewise: your appointment at {clinic} is booked"),
                    body: format!(
                        "Hello,\n\n{booked} your appointment at {clinic} on {when}.\n\nThe invitation attached puts it in your calendar.\n\n{footer}"
                    ),
                    calendar: Some(self.invitation(news, a, Method::Request)),
                }]
            }
            (Happened::Moved, Some(new)) => {
                let moved = who(
                    ending.map_or(Side::Clinic, |e| e.by.side),
                    "You moved",
                    "The clinic moved",
                );
                let to = slot_words(&tz, &new.slot);
                // Two emails, not one REQUEST with the old UID and a higher
                // SEQUENCE: the move is a new appointment with its own UID
                // (the calendar feed's), so a CANCEL of the old UID and a
                // REQUEST of the new keep the invitations and the feed
                // agreeing, and a cancellation and a new invitation are
                // the two messages every calendar app handles (an update
                // that changes DTSTART is where clients differ: some keep
                // the old time until the attendee accepts again). The
                // CANCEL is queued first and sent first.
                vec![
                    AppointmentEmail {
                        subject: format!("needlewise: your appointment at {clinic} has moved"),
                        body: format!(
                            "Hello,\n\n{moved} your appointment at {clinic} from {when} to {to}.\nReason: {reason}\n\nThe invitation attached takes the old time out of your calendar; the next email puts the new time in.\n\n{footer}"
                        ),
                        calendar: Some(self.invitation(news, a, Method::Cancel)),
                    },
                    AppointmentEmail {
                        subject: format!("needlewise: your appointment at {clinic} is booked"),
                        body: format!(
                            "Hello,\n\nYour appointment at {clinic} is now on {to} (moved from {when}).\n\nThe invitation attached puts it in your calendar.\n\n{footer}"
                        ),
                        calendar: Some(self.invitation(news, new, Method::Request)),
                    },
                ]
            }
            (Happened::Cancelled | Happened::Moved, _) => {
                let cancelled = who(
                    ending.map_or(Side::Clinic, |e| e.by.side),
                    "You cancelled",
                    "The clinic cancelled",
                );
                vec![AppointmentEmail {
                    subject: format!("needlewise: your appointment at {clinic} is cancelled"),
                    body: format!(
                        "Hello,\n\n{cancelled} your appointment at {clinic} on {when}.\nReason: {reason}\n\nThe invitation attached takes it out of your calendar.\n\n{footer}"
                    ),
                    calendar: Some(self.invitation(news, a, Method::Cancel)),
                }]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use needlewise_core::clinic::{Clinic, Ladder};
    use needlewise_core::ids::{CheckinId, ClinicId, EpisodeId, ProfileId};
    use needlewise_core::records::Episode;
    use needlewise_core::triage::TriageLevel;

    /// A move is two emails, the old time's CANCEL then the new time's
    /// REQUEST, each with its own UID; times are in the patient's zone, or
    /// the server's when the profile has none; the note is in neither.
    #[test]
    fn a_move_is_a_cancel_then_a_request_in_the_patients_zone() {
        use needlewise_core::appointment::{Actor, Appointment, Slot, Status};
        use needlewise_core::conversation::Side;
        use needlewise_core::ids::{AccountId, AppointmentId};
        use needlewise_store::appointment::{AppointmentMail, AppointmentNews, Happened};
        use needlewise_store::clinic::CalendarMethod;

        let start: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let old = Appointment {
            id: AppointmentId(Uuid::from_u128(1)),
            clinic_id: ClinicId(Uuid::from_u128(2)),
            profile_id: ProfileId(Uuid::from_u128(3)),
            slot: Slot {
                start,
                end: start + SignedDuration::from_mins(30),
            },
            status: Status::Booked,
            note: "zq-private-note".into(),
            conversation_id: None,
            proposal_id: None,
            replaces: None,
            booked_by: Actor {
                side: Side::Patient,
                account: AccountId(Uuid::from_u128(4)),
                name: "Ada".into(),
            },
            booked_at: start - SignedDuration::from_hours(48),
            ended: None,
            sequence: 0,
        };
        let later = start + SignedDuration::from_hours(24);
        let new = Appointment {
            id: AppointmentId(Uuid::from_u128(5)),
            slot: Slot {
                start: later,
                end: later + SignedDuration::from_mins(30),
            },
            replaces: Some(old.id),
            ..old.clone()
        };
        let by = Actor {
            side: Side::Clinic,
            account: AccountId(Uuid::from_u128(6)),
            name: "Dr Lee".into(),
        };
        let moved = old
            .end(
                by,
                start - SignedDuration::from_hours(24),
                "Theatre",
                Some(new.id),
            )
            .unwrap();
        let mails = AppointmentMails {
            organizer: "nw@clinic.example".into(),
            default_zone: jiff::tz::TimeZone::get("Asia/Tokyo").unwrap(),
            public_url: Some("https://nw.example/".into()),
        };
        let news = |zone| AppointmentNews {
            happened: Happened::Moved,
            appointment: &moved,
            new: Some(&new),
            clinic_name: "Lakeside",
            patient_email: "ada@example.org",
            patient_time_zone: zone,
            at: start - SignedDuration::from_hours(24),
        };
        let emails = mails.emails(&news(Some("America/New_York")));
        assert_eq!(emails.len(), 2);
        let methods: Vec<_> = emails
            .iter()
            .map(|e| e.calendar.as_ref().unwrap().method)
            .collect();
        assert_eq!(methods, [CalendarMethod::Cancel, CalendarMethod::Request]);
        assert!(
            emails[0].body.contains(
                "The clinic moved your appointment at Lakeside from Tue 1 Dec 2026, 04:00 to 04:30 \
                 (America/New_York time) to Wed 2 Dec 2026, 04:00 to 04:30 (America/New_York time).\nReason: Theatre"
            ),
            "{}",
            emails[0].body
        );
        assert!(emails[0].body.contains("https://nw.example/appointments"));
        let cancel = &emails[0].calendar.as_ref().unwrap().text;
        assert!(cancel.contains(&format!("UID:appointment-{}@needlewise", old.id)));
        assert!(cancel.contains("SEQUENCE:1"), "{cancel}");
        let request = &emails[1].calendar.as_ref().unwrap().text;
        assert!(request.contains(&format!("UID:appointment-{}@needlewise", new.id)));
        // No zone on the profile: the server's.
        let emails = mails.emails(&news(None));
        assert!(
            emails[1]
                .body
                .contains("is now on Wed 2 Dec 2026, 18:00 to 18:30 (Asia/Tokyo time)"),
            "{}",
            emails[1].body
        );
        for e in &emails {
            assert!(!e.body.contains("zq-private-note"));
            assert!(
                !e.calendar
                    .as_ref()
                    .unwrap()
                    .text
                    .contains("zq-private-note")
            );
        }
    }

    fn flag(opened: i64) -> OpenFlag {
        shared(opened, opened)
    }

    fn shared(opened: i64, visible: i64) -> OpenFlag {
        OpenFlag {
            clinic: Clinic {
                id: ClinicId(Uuid::now_v7()),
                name: "Harbour Skin".into(),
                time_zone: "Europe/London".into(),
                ladder: Ladder::default(),
                created_at: Timestamp::from_second(0).unwrap(),
            },
            profile_id: ProfileId(Uuid::now_v7()),
            patient_name: "Secret Name".into(),
            episode: Episode {
                id: EpisodeId(Uuid::now_v7()),
                profile_id: ProfileId(Uuid::now_v7()),
                checkin_id: CheckinId(Uuid::now_v7()),
                level: TriageLevel::UrgentCare,
                opened_at: Timestamp::from_second(opened).unwrap(),
                resolved_at: None,
                resolution: String::new(),
                resolver: None,
            },
            visible_since: Timestamp::from_second(visible).unwrap(),
            acknowledged: false,
            sent_steps: Default::default(),
        }
    }

    #[test]
    fn words_name_no_patient_and_use_the_clinic_time_zone() {
        // 2026-07-01T12:00:00Z is 13:00 BST in London.
        let f = flag(1_782_907_200);
        let now = Timestamp::from_second(1_782_907_200 + 5 * 3600).unwrap();
        let (kind, title, body) = words(&f, 0, now);
        assert_eq!(kind, "red_flag");
        assert_eq!(title, "A patient has a warning sign to review");
        assert!(body.contains("13:00 BST"), "{body}");
        assert!(!body.contains("Secret Name"));
        let (kind, _, body) = words(&f, 1, now);
        assert_eq!(kind, "escalation");
        assert!(body.contains("about 5 hours ago"), "{body}");
        assert!(!body.contains("Secret Name"));
        assert!(!body.contains("shared"), "{body}");
    }

    #[test]
    fn words_for_a_flag_shared_later_say_when_and_count_from_then() {
        // Raised 2026-07-01 13:00 BST; shared three days later at 09:30 BST.
        let opened = 1_782_907_200;
        let visible = opened + 3 * 86_400 - 3 * 3600 - 1800;
        let f = shared(opened, visible);
        let (kind, _, body) = words(&f, 0, Timestamp::from_second(visible).unwrap());
        assert_eq!(kind, "red_flag");
        assert!(
            body.contains("at Wed 1 Jul 2026, 13:00 BST and shared it with the clinic at Sat 4 Jul 2026, 09:30 BST."),
            "{body}"
        );
        let (_, _, body) = words(&f, 1, Timestamp::from_second(visible + 4 * 3600).unwrap());
        assert!(body.contains("09:30 BST, about 4 hours ago"), "{body}");
    }
}
