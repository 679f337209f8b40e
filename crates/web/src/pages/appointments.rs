//! "Your appointments": the patient's appointments at their clinics, and
//! booking one (a free slot of a clinic the profile is linked to, or one of
//! the times the clinic offered in a conversation), cancelling and moving
//! one with a reason.
//!
//! Every form carries a request key (sent twice, booked once), answers
//! with a redirect, and comes back with its problem next to its field when
//! refused (every answer kept). Times are shown in the person's own zone.
//! Who may book what is the store's and the core's
//! (`patient_may_schedule`, `Hours::offer`, the one-booking-per-slot
//! index).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use needlewise_actions::{Asker, RequestKey};
use needlewise_core::appointment::{MAX_REASON_CHARS, Slot, Status};
use needlewise_core::ids::{AppointmentId, ClinicId, ConversationId, ProposalId};
use serde::Deserialize;

use super::{checked_form, form_again, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, act, blocking, forms};

/// How many days of free slots the booking form offers.
pub const BOOKING_DAYS: i64 = 21;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/appointments", get(list).post(book))
        .route("/appointments/{id}/cancel", post(cancel))
        .route("/appointments/{id}/reschedule", post(reschedule))
}

/// A slot as a form offers it: its start as the value, its times as the
/// label (in the viewer's zone).
#[derive(Debug, Clone)]
pub struct SlotChoice {
    pub value: String,
    pub label: String,
    pub chosen: bool,
}

pub fn slot_choices(state: &AppState, slots: &[Slot], chosen: &[String]) -> Vec<SlotChoice> {
    slot_choices_in(&state.tz, slots, chosen)
}

/// The slots as choices, labelled in `tz`.
pub fn slot_choices_in(
    tz: &jiff::tz::TimeZone,
    slots: &[Slot],
    chosen: &[String],
) -> Vec<SlotChoice> {
    slots
        .iter()
        .map(|s| {
            let value = s.start.to_string();
            SlotChoice {
                chosen: chosen.contains(&value),
                label: slot_label_in(tz, s),
                value,
            }
        })
        .collect()
}

/// "Mon 7 Dec 2026, 14:00 to 14:30", in the state's zone.
pub fn slot_label(state: &AppState, s: &Slot) -> String {
    slot_label_in(&state.tz, s)
}

/// "Mon 7 Dec 2026, 14:00 to 14:30", in `tz`.
pub fn slot_label_in(tz: &jiff::tz::TimeZone, s: &Slot) -> String {
    let end = s.end.to_zoned_datetime(tz.clone());
    let end = match crate::views::DateStyle::current() {
        crate::views::DateStyle::DayFirst => end.strftime("%H:%M").to_string(),
        crate::views::DateStyle::MonthFirst => end.strftime("%-I:%M %p").to_string(),
    };
    format!(
        "{} to {end}",
        crate::views::moment(&s.start.to_zoned_datetime(tz.clone()))
    )
}

/// One appointment in the list.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub when: String,
    pub clinic: String,
    pub status: String,
    pub booked: bool,
    pub upcoming: bool,
    pub note: String,
    /// Who ended it, when and why.
    pub ended: String,
    /// The clinic's free slots to move it to.
    pub moves: Vec<SlotChoice>,
}

/// What a refused form gives back.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    /// The form it belongs to: `book`, or an appointment's id.
    pub form: String,
    pub slot: String,
    pub reason: String,
    pub note: String,
    pub other: String,
    /// The answers as given.
    pub given_reason: String,
    pub given_note: String,
    pub given_start: String,
}

/// Times a clinic offered in a conversation.
#[derive(Debug, Clone)]
pub struct Offer {
    pub proposal: String,
    pub clinic_id: String,
    pub clinic: String,
    pub by: String,
    pub when: String,
    pub slots: Vec<SlotChoice>,
    pub booked: bool,
}

#[derive(Debug, Template)]
#[template(path = "appointments.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub key: String,
    /// (id, name, chosen)
    pub clinics: Vec<(String, String, bool)>,
    pub clinic: String,
    pub free: Vec<SlotChoice>,
    pub offers: Vec<Offer>,
    pub conversation: String,
    pub upcoming: Vec<Row>,
    pub past: Vec<Row>,
    pub problems: Problems,
    pub max_reason: usize,
    pub days: i64,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    clinic: String,
    #[serde(default)]
    conversation: String,
}

fn parse_opt<T: std::str::FromStr>(raw: &str) -> Result<Option<T>, WebError> {
    match raw.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|_| WebError::NotFound),
    }
}

async fn list_page(
    state: &AppState,
    auth: &Auth,
    clinic: Option<ClinicId>,
    conversation: Option<ConversationId>,
    problems: Problems,
) -> Result<ListPage, WebError> {
    let profile = auth.profile.id;
    let now = state.now();
    let (links, mine, offers) = blocking(state, move |s| {
        let offers = match conversation {
            Some(c) => s.proposals(Asker::Patient, profile, c, now)?,
            None => Vec::new(),
        };
        Ok((
            s.patient_clinics(profile)?,
            s.patient_appointments(profile)?,
            offers,
        ))
    })
    .await?;
    let chosen = clinic
        .filter(|c| links.iter().any(|l| l.clinic.id == *c))
        .or_else(|| links.first().map(|l| l.clinic.id));
    // Free slots of the chosen clinic and of each clinic with a booked
    // appointment (to move one).
    let mut clinics_needed: Vec<ClinicId> = chosen.into_iter().collect();
    for v in &mine {
        let a = &v.appointment;
        if a.is_booked()
            && a.slot.start > now
            && links.iter().any(|l| l.clinic.id == a.clinic_id)
            && !clinics_needed.contains(&a.clinic_id)
        {
            clinics_needed.push(a.clinic_id);
        }
    }
    let mut free = std::collections::HashMap::new();
    for c in clinics_needed {
        let slots = act(state, move |ctx| {
            needlewise_actions::free_slots(ctx, c, BOOKING_DAYS)
        })
        .await?;
        free.insert(c, slots);
    }
    let given = [problems.given_start.clone()];
    let mut upcoming = Vec::new();
    let mut past = Vec::new();
    for v in &mine {
        let a = &v.appointment;
        let is_upcoming = a.is_booked() && a.slot.start > now;
        let row = Row {
            id: a.id.to_string(),
            when: slot_label(state, &a.slot),
            clinic: v.clinic_name.clone(),
            status: a.status.label().to_owned(),
            booked: a.is_booked(),
            upcoming: is_upcoming,
            note: a.note.clone(),
            ended: a
                .ended
                .as_ref()
                .map(|e| {
                    format!(
                        "{} by {} on {}: {}",
                        if a.status == Status::Rescheduled {
                            "Moved"
                        } else {
                            "Cancelled"
                        },
                        match e.by.side {
                            needlewise_core::conversation::Side::Patient => "you".to_owned(),
                            needlewise_core::conversation::Side::Clinic => e.by.name.clone(),
                        },
                        state.local(e.at),
                        e.reason
                    )
                })
                .unwrap_or_default(),
            moves: if is_upcoming {
                slot_choices(
                    state,
                    free.get(&a.clinic_id).map(Vec::as_slice).unwrap_or(&[]),
                    &given,
                )
            } else {
                Vec::new()
            },
        };
        if is_upcoming {
            upcoming.push(row);
        } else {
            past.push(row);
        }
    }
    past.reverse();
    let clinic_names: std::collections::HashMap<ClinicId, String> = links
        .iter()
        .map(|l| (l.clinic.id, l.clinic.name.clone()))
        .collect();
    Ok(ListPage {
        chrome: auth.chrome("Your appointments", "more"),
        key: RequestKey::fresh().to_string(),
        clinics: links
            .iter()
            .map(|l| {
                (
                    l.clinic.id.to_string(),
                    l.clinic.name.clone(),
                    Some(l.clinic.id) == chosen,
                )
            })
            .collect(),
        clinic: chosen.map(|c| c.to_string()).unwrap_or_default(),
        free: chosen
            .and_then(|c| free.get(&c))
            .map(|slots| slot_choices(state, slots, &given))
            .unwrap_or_default(),
        offers: offers
            .iter()
            .map(|p| Offer {
                proposal: p.id.to_string(),
                clinic_id: p.clinic_id.to_string(),
                clinic: clinic_names.get(&p.clinic_id).cloned().unwrap_or_default(),
                by: p.by.name.clone(),
                when: state.local(p.at),
                slots: slot_choices(
                    state,
                    &p.slots
                        .iter()
                        .filter(|s| s.start > now)
                        .copied()
                        .collect::<Vec<_>>(),
                    &given,
                ),
                booked: p.booked.is_some(),
            })
            .collect(),
        conversation: conversation.map(|c| c.to_string()).unwrap_or_default(),
        upcoming,
        past,
        problems,
        max_reason: MAX_REASON_CHARS,
        days: BOOKING_DAYS,
    })
}

pub async fn list(
    Me { state, auth }: Me,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let clinic = parse_opt::<ClinicId>(&q.clinic)?;
    let conversation = parse_opt::<ConversationId>(&q.conversation)?;
    Ok(page(
        &list_page(&state, &auth, clinic, conversation, Problems::default()).await?,
    ))
}

fn start_of(raw: &str) -> Result<Timestamp, WebError> {
    raw.trim()
        .parse()
        .map_err(|_| WebError::BadInput("slot: choose one of the times shown".into()))
}

/// A refusal the person can fix, next to its field (the core's words
/// about a reason or note next to it, about the time next to the times);
/// any other error is given back.
fn take(problems: &mut Problems, e: WebError) -> Option<WebError> {
    use needlewise_core::appointment::Problem;
    let about_text = [
        Problem::ReasonMissing,
        Problem::ReasonTooLong,
        Problem::ReasonControl,
    ]
    .map(|p| p.to_string());
    let ended = [Problem::Started.to_string()];
    match e {
        // A slot someone booked first: choose another time.
        WebError::Conflict(m) => {
            problems.slot = m;
            None
        }
        WebError::BadInput(m) => {
            let text = m.split_once(": ").map_or(m.as_str(), |(_, t)| t).to_owned();
            if about_text.contains(&m) {
                if problems.form == "book" || problems.form == "offer" {
                    problems.note = m;
                } else {
                    problems.reason = m;
                }
            } else if ended.contains(&m) || m.starts_with("This appointment is no longer") {
                problems.other = m;
            } else {
                problems.slot = text;
            }
            None
        }
        other => Some(other),
    }
}

pub async fn book(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let field = |name: &str| forms::field(&pairs, name).unwrap_or_default().to_owned();
    let key = forms::request_key(&pairs)
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let clinic: ClinicId = field("clinic").parse().map_err(|_| WebError::NotFound)?;
    let proposal = parse_opt::<ProposalId>(&field("proposal"))?;
    let conversation = parse_opt::<ConversationId>(&field("conversation"))?;
    let mut problems = Problems {
        form: if proposal.is_some() {
            "offer".into()
        } else {
            "book".into()
        },
        given_note: field("note"),
        given_start: field("start"),
        ..Problems::default()
    };
    let profile = auth.profile.id;
    let outcome = match start_of(&field("start")) {
        Ok(start) => {
            let note = field("note");
            let mail = crate::notify::AppointmentMails::from_state(&state);
            act(&state, move |c| {
                needlewise_actions::book_appointment(
                    c,
                    Asker::Patient,
                    profile,
                    clinic,
                    start,
                    proposal,
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
            Ok(see_other(&format!("/appointments#a-{}", a.id)))
        }
        Err(e) => {
            if let Some(e) = take(&mut problems, e) {
                return Err(e);
            }
            Ok(form_again(
                &list_page(&state, &auth, Some(clinic), conversation, problems).await?,
            ))
        }
    }
}

fn appointment_id(raw: &str) -> Result<AppointmentId, WebError> {
    raw.parse().map_err(|_| WebError::NotFound)
}

pub async fn cancel(
    Me { state, auth }: Me,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let id = appointment_id(&id)?;
    let reason = forms::field(&pairs, "reason")
        .unwrap_or_default()
        .to_owned();
    let profile = auth.profile.id;
    let given = reason.clone();
    let mail = crate::notify::AppointmentMails::from_state(&state);
    let done = act(&state, move |c| {
        needlewise_actions::cancel_appointment(c, Asker::Patient, profile, id, &reason, &mail)
    })
    .await;
    match done {
        Ok(_) => {
            crate::notify::send_soon(&state);
            Ok(see_other(&format!("/appointments#a-{id}")))
        }
        Err(e) => {
            let mut problems = Problems {
                form: id.to_string(),
                given_reason: given,
                ..Problems::default()
            };
            if let Some(e) = take(&mut problems, e) {
                return Err(e);
            }
            Ok(form_again(
                &list_page(&state, &auth, None, None, problems).await?,
            ))
        }
    }
}

pub async fn reschedule(
    Me { state, auth }: Me,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let id = appointment_id(&id)?;
    let key = forms::request_key(&pairs)
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let field = |name: &str| forms::field(&pairs, name).unwrap_or_default().to_owned();
    let reason = field("reason");
    let mut problems = Problems {
        form: format!("move-{id}"),
        given_reason: reason.clone(),
        given_start: field("start"),
        ..Problems::default()
    };
    let profile = auth.profile.id;
    let done = match start_of(&field("start")) {
        Ok(start) => {
            let mail = crate::notify::AppointmentMails::from_state(&state);
            act(&state, move |c| {
                needlewise_actions::reschedule_appointment(
                    c,
                    Asker::Patient,
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
    match done {
        Ok(_) => {
            crate::notify::send_soon(&state);
            Ok(see_other(&format!("/appointments#a-{}", key.0)))
        }
        Err(e) => {
            if let Some(e) = take(&mut problems, e) {
                return Err(e);
            }
            Ok(form_again(
                &list_page(&state, &auth, None, None, problems).await?,
            ))
        }
    }
}
