//! The clinic's appointments: the next weeks' appointments of its linked
//! patients (each cancellable with a reason, or movable to another free
//! time with a reason), booking for a patient, the opening hours, slot
//! length and closed days, and "Propose slots" from a conversation (one to
//! three free times, posted as a message the patient books from). Every
//! booking, move and cancellation queues the patient's email with its
//! calendar invitation in the same write.
//!
//! Clinicians and front-desk staff alike (the core's `Act::Schedule`, for
//! linked patients only); every read and write of a patient's appointments
//! is in the patient's audit log (the store writes it). Times are in the
//! clinic's zone.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use needlewise_actions::{Asker, RequestKey};
use needlewise_core::appointment::{
    Hours, MAX_PROPOSED, MAX_REASON_CHARS, MAX_SLOT_MINUTES, MIN_SLOT_MINUTES, Opening, WEEKDAYS,
};
use needlewise_core::ids::{AppointmentId, ConversationId};

use super::{checked, chrome, head, profile_id};
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::appointments::{SlotChoice, slot_choices_in, slot_label_in};
use crate::pages::{form_again, page, see_other};
use crate::views::Chrome;
use crate::{AppState, act, blocking, forms};

/// How many days the clinic's list shows.
pub const LIST_DAYS: i64 = 28;

fn zone(ctx: &ClinicCtx) -> TimeZone {
    TimeZone::get(&ctx.clinic.time_zone).unwrap_or(TimeZone::UTC)
}

#[derive(Debug, Clone)]
pub struct ClinicRow {
    pub id: String,
    pub patient: String,
    pub when: String,
    pub status: String,
    pub booked: bool,
    pub note: String,
    pub ended: String,
    pub cancel: String,
    pub reschedule: String,
    pub book: String,
}

#[derive(Debug, Template)]
#[template(path = "clinic_appointments.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub head: super::ClinicHead,
    pub rows: Vec<ClinicRow>,
    pub hours_set: bool,
    pub hours_link: String,
    /// The appointment whose cancel form was refused, its reason as given
    /// and the problem.
    pub failed: String,
    pub given: String,
    pub error: String,
    pub max_reason: usize,
    pub days: i64,
}

async fn list_page(
    state: &AppState,
    ctx: &ClinicCtx,
    failed: String,
    given: String,
    error: String,
) -> Result<ListPage, WebError> {
    let access = ctx.access;
    let now = state.now();
    let until = now
        .checked_add(jiff::SignedDuration::from_hours(24 * LIST_DAYS))
        .unwrap_or(jiff::Timestamp::MAX);
    let from = now
        .checked_sub(jiff::SignedDuration::from_hours(24))
        .unwrap_or(now);
    let clinic = ctx.clinic.id;
    let (list, schedule) = blocking(state, move |s| {
        Ok((
            s.clinic_appointments(&access, from, until, now)?,
            s.clinic_schedule(clinic)?,
        ))
    })
    .await?;
    let tz = zone(ctx);
    Ok(ListPage {
        chrome: chrome("Appointments", ctx),
        head: head(ctx, "/clinic/appointments"),
        rows: list
            .iter()
            .map(|v| {
                let a = &v.appointment;
                ClinicRow {
                    id: a.id.to_string(),
                    patient: v.patient_name.clone(),
                    when: slot_label_in(&tz, &a.slot),
                    status: a.status.label().to_owned(),
                    booked: a.is_booked() && a.slot.start > now,
                    note: a.note.clone(),
                    ended: a
                        .ended
                        .as_ref()
                        .map(|e| format!("{} on {}: {}", e.by.name, ctx.local(e.at), e.reason))
                        .unwrap_or_default(),
                    cancel: ctx.link(&format!(
                        "/clinic/appointments/{}/{}/cancel",
                        a.profile_id, a.id
                    )),
                    reschedule: ctx.link(&format!(
                        "/clinic/appointments/{}/{}/reschedule",
                        a.profile_id, a.id
                    )),
                    book: ctx.link(&format!("/clinic/appointments/{}/book", a.profile_id)),
                }
            })
            .collect(),
        hours_set: schedule.set,
        hours_link: ctx.link("/clinic/appointments/hours"),
        failed,
        given,
        error,
        max_reason: MAX_REASON_CHARS,
        days: LIST_DAYS,
    })
}

pub async fn list(State(state): State<AppState>, ctx: ClinicCtx) -> Result<Response, WebError> {
    Ok(page(
        &list_page(&state, &ctx, String::new(), String::new(), String::new()).await?,
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    let profile = profile_id(&profile)?;
    let id: AppointmentId = id.parse().map_err(|_| WebError::NotFound)?;
    let reason = forms::field(&pairs, "reason")
        .unwrap_or_default()
        .to_owned();
    let access = ctx.access;
    let given = reason.clone();
    let mail = crate::notify::AppointmentMails::from_state(&state);
    let done = act(&state, move |c| {
        needlewise_actions::cancel_appointment(
            c,
            Asker::Clinic(&access),
            profile,
            id,
            &reason,
            &mail,
        )
    })
    .await;
    match done {
        Ok(_) => {
            crate::notify::send_soon(&state);
            Ok(see_other(&format!(
                "{}#a-{id}",
                ctx.link("/clinic/appointments")
            )))
        }
        Err(WebError::BadInput(m)) => Ok(form_again(
            &list_page(&state, &ctx, id.to_string(), given, m).await?,
        )),
        Err(e) => Err(e),
    }
}

// ------------------------------------------------------------ book and move

/// "Book for a patient" and "Move an appointment": one form, the clinic's
/// free times of the next three weeks as radio buttons, a note (booking)
/// or a reason (moving), each problem next to its field.
#[derive(Debug, Template)]
#[template(path = "clinic_book.html")]
pub struct BookPage {
    pub chrome: Chrome,
    pub head: super::ClinicHead,
    pub heading: String,
    pub intro: String,
    pub patient: String,
    pub action: String,
    pub back: String,
    pub key: String,
    /// Moving: when the appointment is now, and its note.
    pub current: String,
    pub current_note: String,
    /// Booking: the patient's coming appointments at this clinic (when,
    /// note).
    pub booked: Vec<(String, String)>,
    pub slots: Vec<SlotChoice>,
    pub slot_error: String,
    pub text_label: &'static str,
    pub text_name: &'static str,
    pub text: String,
    pub text_error: String,
    pub max_text: usize,
    pub other: String,
    pub button: &'static str,
    pub hours_link: String,
}

/// What the form sent back, and what was wrong with it.
#[derive(Debug, Default)]
struct Given {
    start: String,
    text: String,
    slot_error: String,
    text_error: String,
    other: String,
}

/// The core's refusal next to its field: about the note or reason by the
/// text, an appointment that has begun or ended above the form, anything
/// about the time by the times. Any other error is given back.
fn place(given: &mut Given, e: WebError) -> Option<WebError> {
    use needlewise_core::appointment::Problem;
    let about_text = [
        Problem::ReasonMissing,
        Problem::ReasonTooLong,
        Problem::ReasonControl,
    ]
    .map(|p| p.to_string());
    match e {
        WebError::BadInput(m) => {
            if about_text.contains(&m) {
                given.text_error = m;
            } else if m == Problem::Started.to_string()
                || m.starts_with("This appointment is no longer")
            {
                given.other = m;
            } else {
                given.slot_error = m;
            }
            None
        }
        // The time was taken meanwhile: shown by the times, like the
        // patient's page does.
        WebError::Conflict(m) => {
            given.slot_error = m;
            None
        }
        other => Some(other),
    }
}

fn start_of(raw: &str) -> Result<jiff::Timestamp, WebError> {
    raw.trim()
        .parse()
        .map_err(|_| WebError::BadInput("Choose one of the times shown.".into()))
}

/// The days of free times the forms offer.
const FORM_DAYS: i64 = 21;

async fn book_page(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: needlewise_core::ids::ProfileId,
    given: Given,
) -> Result<BookPage, WebError> {
    let access = ctx.access;
    let now = state.now();
    let (patient, coming) =
        blocking(state, move |s| s.patient_schedule(&access, profile, now)).await?;
    let clinic = ctx.clinic.id;
    let free = act(state, move |c| {
        needlewise_actions::free_slots(c, clinic, FORM_DAYS)
    })
    .await?;
    let tz = zone(ctx);
    Ok(BookPage {
        chrome: chrome("Book an appointment", ctx),
        head: head(ctx, "/clinic/appointments"),
        heading: format!("Book an appointment for {patient}"),
        intro: "Choose a free time.".into(),
        action: ctx.link(&format!("/clinic/appointments/{profile}/book")),
        back: ctx.link("/clinic/appointments"),
        key: RequestKey::fresh().to_string(),
        current: String::new(),
        current_note: String::new(),
        booked: coming
            .iter()
            .filter(|v| v.appointment.is_booked())
            .map(|v| {
                (
                    slot_label_in(&tz, &v.appointment.slot),
                    v.appointment.note.clone(),
                )
            })
            .collect(),
        slots: slot_choices_in(&tz, &free, std::slice::from_ref(&given.start)),
        slot_error: given.slot_error,
        text_label: "Note for the appointment (optional; the patient sees it)",
        text_name: "note",
        text: given.text,
        text_error: given.text_error,
        max_text: MAX_REASON_CHARS,
        other: given.other,
        button: "Book this time",
        hours_link: ctx.link("/clinic/appointments/hours"),
        patient,
    })
}

pub async fn book_form(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(profile): Path<String>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    Ok(page(
        &book_page(&state, &ctx, profile, Given::default()).await?,
    ))
}

pub async fn book(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(profile): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let pairs = checked(&ctx, &body)?;
    let key = forms::request_key(&pairs)
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let field = |name: &str| forms::field(&pairs, name).unwrap_or_default().to_owned();
    let mut given = Given {
        start: field("start"),
        text: field("note"),
        ..Given::default()
    };
    let outcome = match start_of(&given.start) {
        Ok(start) => {
            let access = ctx.access;
            let clinic = ctx.clinic.id;
            let note = given.text.clone();
            let mail = crate::notify::AppointmentMails::from_state(&state);
            act(&state, move |c| {
                needlewise_actions::book_appointment(
                    c,
                    Asker::Clinic(&access),
                    profile,
                    clinic,
                    start,
                    None,
                    &note,
                    Some(key),
                    &mail,
                )
            })
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok((a, _)) => {
            crate::notify::send_soon(&state);
            Ok(see_other(&format!(
                "{}#a-{}",
                ctx.link("/clinic/appointments"),
                a.id
            )))
        }
        Err(e) => {
            if let Some(e) = place(&mut given, e) {
                return Err(e);
            }
            Ok(form_again(&book_page(&state, &ctx, profile, given).await?))
        }
    }
}

async fn move_page(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: needlewise_core::ids::ProfileId,
    id: AppointmentId,
    given: Given,
) -> Result<BookPage, WebError> {
    let access = ctx.access;
    let now = state.now();
    let view = blocking(state, move |s| {
        s.appointment(Asker::Clinic(&access), profile, id, now)
    })
    .await?;
    let clinic = ctx.clinic.id;
    let free = act(state, move |c| {
        needlewise_actions::free_slots(c, clinic, FORM_DAYS)
    })
    .await?;
    let tz = zone(ctx);
    let a = &view.appointment;
    let other = if given.other.is_empty() && !(a.is_booked() && a.slot.start > now) {
        format!(
            "This appointment is {} and can no longer be moved.",
            a.status.label().to_lowercase()
        )
    } else {
        given.other
    };
    Ok(BookPage {
        chrome: chrome("Move an appointment", ctx),
        head: head(ctx, "/clinic/appointments"),
        heading: format!("Move {}'s appointment", view.patient_name),
        intro: "Choose the new time and say why it moves.".into(),
        action: ctx.link(&format!("/clinic/appointments/{profile}/{id}/reschedule")),
        back: format!("{}#a-{id}", ctx.link("/clinic/appointments")),
        key: RequestKey::fresh().to_string(),
        current: slot_label_in(&tz, &a.slot),
        current_note: a.note.clone(),
        booked: Vec::new(),
        slots: if other.is_empty() {
            slot_choices_in(&tz, &free, std::slice::from_ref(&given.start))
        } else {
            Vec::new()
        },
        slot_error: given.slot_error,
        text_label: "Reason, for the patient",
        text_name: "reason",
        text: given.text,
        text_error: given.text_error,
        max_text: MAX_REASON_CHARS,
        other,
        button: "Move the appointment",
        hours_link: ctx.link("/clinic/appointments/hours"),
        patient: view.patient_name,
    })
}

/// A patient's id and the id of one of their records, from a path; a
/// malformed one is simply not found.
fn path_ids<T: std::str::FromStr>(
    profile: &str,
    id: &str,
) -> Result<(needlewise_core::ids::ProfileId, T), WebError> {
    Ok((
        profile_id(profile)?,
        id.parse().map_err(|_| WebError::NotFound)?,
    ))
}

pub async fn reschedule_form(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (profile, id): (_, AppointmentId) = path_ids(&profile, &id)?;
    Ok(page(
        &move_page(&state, &ctx, profile, id, Given::default()).await?,
    ))
}

pub async fn reschedule(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let (profile, id): (_, AppointmentId) = path_ids(&profile, &id)?;
    let pairs = checked(&ctx, &body)?;
    let key = forms::request_key(&pairs)
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let field = |name: &str| forms::field(&pairs, name).unwrap_or_default().to_owned();
    let mut given = Given {
        start: field("start"),
        text: field("reason"),
        ..Given::default()
    };
    let outcome = match start_of(&given.start) {
        Ok(start) => {
            let access = ctx.access;
            let reason = given.text.clone();
            let mail = crate::notify::AppointmentMails::from_state(&state);
            act(&state, move |c| {
                needlewise_actions::reschedule_appointment(
                    c,
                    Asker::Clinic(&access),
                    profile,
                    id,
                    start,
                    &reason,
                    Some(key),
                    &mail,
                )
            })
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => {
            crate::notify::send_soon(&state);
            Ok(see_other(&format!(
                "{}#a-{}",
                ctx.link("/clinic/appointments"),
                key.0
            )))
        }
        Err(e) => {
            if let Some(e) = place(&mut given, e) {
                return Err(e);
            }
            Ok(form_again(
                &move_page(&state, &ctx, profile, id, given).await?,
            ))
        }
    }
}

// ------------------------------------------------------------------ hours

#[derive(Debug, Clone)]
pub struct DayRow {
    pub field: &'static str,
    pub label: &'static str,
    pub value: String,
    pub error: String,
}

#[derive(Debug, Template)]
#[template(path = "clinic_hours.html")]
pub struct HoursPage {
    pub chrome: Chrome,
    pub head: super::ClinicHead,
    pub action: String,
    pub zone: String,
    pub days: Vec<DayRow>,
    pub slot_minutes: String,
    pub slot_error: String,
    pub closed: String,
    pub closed_error: String,
    pub min_slot: u32,
    pub max_slot: u32,
}

const LABELS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn hhmm(t: Time) -> String {
    t.strftime("%H:%M").to_string()
}

fn hours_page(ctx: &ClinicCtx, given: Vec<String>, slot: String, closed: String) -> HoursPage {
    HoursPage {
        chrome: chrome("Opening hours", ctx),
        head: head(ctx, "/clinic/appointments"),
        action: ctx.link("/clinic/appointments/hours"),
        zone: ctx.clinic.time_zone.clone(),
        days: WEEKDAYS
            .iter()
            .zip(LABELS)
            .zip(given)
            .map(|((field, label), value)| DayRow {
                field,
                label,
                value,
                error: String::new(),
            })
            .collect(),
        slot_minutes: slot,
        slot_error: String::new(),
        closed,
        closed_error: String::new(),
        min_slot: MIN_SLOT_MINUTES,
        max_slot: MAX_SLOT_MINUTES,
    }
}

pub async fn hours_form(
    State(state): State<AppState>,
    ctx: ClinicCtx,
) -> Result<Response, WebError> {
    let clinic = ctx.clinic.id;
    let s = blocking(&state, move |s| s.clinic_schedule(clinic)).await?;
    let given = s
        .hours
        .week
        .iter()
        .map(|day| {
            day.iter()
                .map(|o| format!("{}-{}", hhmm(o.start), hhmm(o.end)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    let closed = s
        .hours
        .closed
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    Ok(page(&hours_page(
        &ctx,
        given,
        s.hours.slot_minutes.to_string(),
        closed,
    )))
}

/// "09:00-12:00, 13:00-17:00" (empty: closed that day).
fn parse_day(raw: &str) -> Result<Vec<Opening>, String> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part
            .split_once('-')
            .ok_or_else(|| format!("write each opening time as 09:00-12:00, not {part:?}"))?;
        let t = |x: &str| {
            Time::strptime("%H:%M", x.trim())
                .map_err(|_| format!("write times as 24-hour HH:MM, not {:?}", x.trim()))
        };
        out.push(Opening {
            start: t(a)?,
            end: t(b)?,
        });
    }
    Ok(out)
}

pub async fn save_hours(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    let field = |name: &str| forms::field(&pairs, name).unwrap_or_default().to_owned();
    let given: Vec<String> = WEEKDAYS.iter().map(|d| field(d)).collect();
    let mut p = hours_page(&ctx, given.clone(), field("slot_minutes"), field("closed"));
    let mut week: [Vec<Opening>; 7] = Default::default();
    let mut bad = false;
    for (i, raw) in given.iter().enumerate() {
        match parse_day(raw) {
            Ok(day) => week[i] = day,
            Err(e) => {
                p.days[i].error = e;
                bad = true;
            }
        }
    }
    let slot_minutes = match field("slot_minutes").trim().parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            p.slot_error =
                format!("give a whole number of minutes, {MIN_SLOT_MINUTES} to {MAX_SLOT_MINUTES}");
            bad = true;
            0
        }
    };
    let mut closed = std::collections::BTreeSet::new();
    for line in field("closed")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match line.parse::<Date>() {
            Ok(d) => {
                closed.insert(d);
            }
            Err(_) => {
                p.closed_error =
                    format!("write each closed day as YYYY-MM-DD on its own line, not {line:?}");
                bad = true;
            }
        }
    }
    if !bad {
        let hours = Hours {
            week,
            slot_minutes,
            closed,
        };
        let access = ctx.access;
        let problems = act(&state, move |c| {
            needlewise_actions::set_clinic_hours(c, &access, &hours)
        })
        .await?;
        if problems.is_empty() {
            return Ok(see_other(&ctx.link("/clinic/appointments")));
        }
        for problem in problems {
            match problem.field {
                "slot_minutes" => p.slot_error = problem.message,
                "closed" => p.closed_error = problem.message,
                day => {
                    if let Some(row) = p.days.iter_mut().find(|r| r.field == day) {
                        row.error = problem.message;
                    }
                }
            }
        }
    }
    Ok(form_again(&p))
}

// ------------------------------------------------------------------ propose

#[derive(Debug, Template)]
#[template(path = "clinic_propose.html")]
pub struct ProposePage {
    pub chrome: Chrome,
    pub head: super::ClinicHead,
    pub action: String,
    pub back: String,
    pub patient: String,
    pub key: String,
    pub slots: Vec<SlotChoice>,
    pub body: String,
    pub error: String,
    pub max: usize,
    pub hours_link: String,
}

async fn propose_page(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: needlewise_core::ids::ProfileId,
    conversation: ConversationId,
    chosen: Vec<String>,
    body: String,
    error: String,
) -> Result<ProposePage, WebError> {
    let access = ctx.access;
    let now = state.now();
    // Whether the asker may answer this conversation (audited read).
    let thread = blocking(state, move |s| {
        s.clinic_conversation(&access, profile, conversation, now)
    })
    .await?;
    let clinic = ctx.clinic.id;
    let free = act(state, move |c| {
        needlewise_actions::free_slots(c, clinic, 21)
    })
    .await?;
    let back = ctx.link(&format!("/clinic/messages/{profile}/{conversation}"));
    Ok(ProposePage {
        chrome: chrome("Propose times", ctx),
        head: head(ctx, "/clinic/messages"),
        action: ctx.link(&format!(
            "/clinic/messages/{profile}/{conversation}/propose"
        )),
        back,
        patient: thread.summary.patient_name,
        key: RequestKey::fresh().to_string(),
        slots: slot_choices_in(&zone(ctx), &free, &chosen),
        body: if body.is_empty() {
            "Here are some times for an appointment. Choose the one that suits you.".into()
        } else {
            body
        },
        error,
        max: MAX_PROPOSED,
        hours_link: ctx.link("/clinic/appointments/hours"),
    })
}

pub async fn propose_form(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, conversation)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (profile, conversation): (_, ConversationId) = path_ids(&profile, &conversation)?;
    Ok(page(
        &propose_page(
            &state,
            &ctx,
            profile,
            conversation,
            Vec::new(),
            String::new(),
            String::new(),
        )
        .await?,
    ))
}

pub async fn propose(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, conversation)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let (profile, conversation): (_, ConversationId) = path_ids(&profile, &conversation)?;
    let pairs = checked(&ctx, &body)?;
    let key = forms::request_key(&pairs)
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let chosen: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "start")
        .map(|(_, v)| v.clone())
        .collect();
    let text = forms::field(&pairs, "body").unwrap_or_default().to_owned();
    let starts: Result<Vec<jiff::Timestamp>, _> = chosen.iter().map(|v| v.parse()).collect();
    let outcome = match starts {
        Err(_) => Err(WebError::BadInput("Choose times from the list.".into())),
        Ok(starts) => {
            let access = ctx.access;
            let mail = crate::pages::messages::mail_for(
                &state,
                needlewise_core::conversation::Side::Patient,
            );
            let body = text.clone();
            act(&state, move |c| {
                needlewise_actions::propose_slots(
                    c,
                    &access,
                    profile,
                    conversation,
                    &starts,
                    &body,
                    Some(key),
                    &mail,
                )
            })
            .await
        }
    };
    match outcome {
        Ok(_) => {
            crate::notify::kick(&state).await;
            Ok(see_other(&format!(
                "{}#m-{}",
                ctx.link(&format!("/clinic/messages/{profile}/{conversation}")),
                key.0
            )))
        }
        Err(WebError::BadInput(m)) => Ok(form_again(
            &propose_page(&state, &ctx, profile, conversation, chosen, text, m).await?,
        )),
        Err(e) => Err(e),
    }
}
