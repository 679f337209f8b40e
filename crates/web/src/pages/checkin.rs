//! Symptom check-ins and red flags.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use needlewise_actions::{CheckedIn, DoctorStatement, RequestKey, Resolution};
use needlewise_core::answers::{Answers, InvalidAnswers};
use needlewise_core::clinic::ResolvePolicy;
use needlewise_core::evidence;
use needlewise_core::ids::{CheckinId, EpisodeId};
use needlewise_core::records::Profile;
use needlewise_core::triage::Triage;

use super::{checked_form, form_again, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::{self, CheckinForm, CheckinResolvePage, CheckinResultPage};
use crate::{AppState, act, blocking, forms};

pub async fn form(Me { state, auth }: Me) -> Result<Response, WebError> {
    Ok(page(&form_page(&state, &auth, &[], None).await?))
}

/// The check-in page, its form empty or as given with its problems.
async fn form_page(
    state: &AppState,
    auth: &Auth,
    pairs: &[(String, String)],
    errors: Option<&InvalidAnswers>,
) -> Result<CheckinForm, WebError> {
    let profile = auth.profile.id;
    let (session, open, history, links) = blocking(state, move |s| {
        Ok((
            s.last_session(profile)?,
            s.open_episodes(profile)?,
            s.checkins(profile)?,
            s.patient_clinics(profile)?,
        ))
    })
    .await?;
    let facts = act(state, move |ctx| {
        needlewise_actions::checkin_facts(ctx, profile)
    })
    .await?;
    let resolved_by_clinic: Vec<String> = links
        .iter()
        .filter(|l| l.scopes.contains(&needlewise_core::clinic::Scope::Checkins))
        .map(|l| l.clinic.name.clone())
        .collect();
    let q = &evidence().checkin;
    let fields = forms::fields_as_given(q, pairs, errors);
    Ok(CheckinForm {
        chrome: auth.chrome("Check-in", "checkin"),
        key: forms::key_for(pairs),
        resolved_by_clinic: resolved_by_clinic.join(", "),
        has_session: session.is_some(),
        session: session.map(|s| state.local(s.ended_at)).unwrap_or_default(),
        open: open
            .iter()
            .map(|e| {
                (
                    e.id.to_string(),
                    state.local(e.opened_at),
                    e.level.id().replace('_', " "),
                )
            })
            .collect(),
        history: history
            .iter()
            .take(20)
            .map(|c| {
                (
                    state.local(c.at),
                    c.level.id().to_owned(),
                    c.level.id().replace('_', " "),
                )
            })
            .collect(),
        errors: errors
            .map(|e| forms::form_errors(q, &fields, e))
            .unwrap_or_default(),
        fields,
        facts: forms::fact_inputs(facts),
    })
}

pub async fn submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let key = forms::request_key(&pairs);
    let recorded = match checkin_answers(&state, &auth.profile, &pairs).await {
        Ok(answers) => record_keyed(&state, &auth.profile, key, answers).await,
        Err(e) => Err(e),
    };
    match recorded {
        // Post/Redirect/Get: going back to the result never sends the form
        // again, and the same form sent twice is one check-in.
        Ok(checked) => Ok(see_other(&format!("/checkin/{}", checked.record.id))),
        Err(WebError::InvalidAnswers(e)) => Ok(form_again(
            &form_page(&state, &auth, &pairs, Some(&e)).await?,
        )),
        Err(e) => Err(e),
    }
}

/// A check-in form's answers, the questions that apply judged with the
/// facts of the last session (the trend only once there is something to
/// compare with).
async fn checkin_answers(
    state: &AppState,
    profile: &needlewise_core::records::Profile,
    pairs: &[(String, String)],
) -> Result<needlewise_core::answers::Answers, WebError> {
    let id = profile.id;
    let facts = act(state, move |ctx| needlewise_actions::checkin_facts(ctx, id))
        .await?
        .unwrap_or_default();
    Ok(forms::answers_given(
        &evidence().checkin,
        pairs,
        state.today(),
        &facts,
    )?)
}

/// One of the profile's check-ins as it was triaged (404 for anyone
/// else's).
pub async fn result(Me { state, auth }: Me, Path(id): Path<String>) -> Result<Response, WebError> {
    let id: CheckinId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    let checked = act(&state, move |ctx| {
        needlewise_actions::checkin_result(ctx, profile, id)
    })
    .await?;
    Ok(result_page(&state, &auth, &checked))
}

fn result_page(state: &AppState, auth: &Auth, checked: &CheckedIn) -> Response {
    let q = &evidence().checkin;
    let triage = &checked.triage;
    page(&CheckinResultPage {
        send_href: format!("/messages/new?checkin={}", checked.record.id),
        chrome: auth.chrome("Check-in", "checkin"),
        taken: state.local(checked.record.at),
        level: triage.level.id().to_owned(),
        headline: triage.headline.to_owned(),
        locked: triage.locks_sessions,
        reasons: views::reasons(&triage.reasons),
        missing: triage
            .missing
            .iter()
            .map(|id| {
                q.question(id)
                    .map_or_else(|| id.clone(), |question| question.prompt.clone())
            })
            .collect(),
    })
}

/// Triages a check-in about the last session and stores it; a red flag
/// opens an episode, which locks further sessions. A red-flag answer
/// counts even with other answers missing (see
/// `needlewise_actions::checkin`).
pub async fn record(
    state: &AppState,
    profile: &Profile,
    answers: Answers,
) -> Result<Triage, WebError> {
    Ok(record_keyed(state, profile, None, answers).await?.triage)
}

/// [`record`], once per request key.
pub async fn record_keyed(
    state: &AppState,
    profile: &Profile,
    key: Option<RequestKey>,
    answers: Answers,
) -> Result<CheckedIn, WebError> {
    let profile = profile.clone();
    let checked = act(state, move |ctx| {
        needlewise_actions::checkin_keyed(ctx, &profile, key, answers)
    })
    .await?;
    if checked.triage.locks_sessions {
        crate::notify::kick(state).await; // tell the clinic at once
    }
    Ok(checked)
}

/// The page that resolves a red flag on the person's word: who examined
/// them and when, and a fresh check-in.
pub async fn resolve_form(
    Me { state, auth }: Me,
    Path(episode): Path<String>,
) -> Result<Response, WebError> {
    let id: EpisodeId = episode.parse().map_err(|_| WebError::NotFound)?;
    match resolve_page(&state, &auth, id, &[], &ResolveProblems::default()).await? {
        Some(p) => Ok(page(&p)),
        None => Ok(see_other("/checkin")),
    }
}

/// What is wrong with a resolve form: the doctor, the day (plain words)
/// and the check-in's answers.
#[derive(Debug, Default)]
struct ResolveProblems {
    doctor: String,
    examined_on: String,
    answers: Option<InvalidAnswers>,
}

impl ResolveProblems {
    fn is_empty(&self) -> bool {
        self.doctor.is_empty() && self.examined_on.is_empty() && self.answers.is_none()
    }

    /// Takes an error that belongs next to a field; gives back any other.
    fn take(&mut self, e: WebError) -> Option<WebError> {
        match e {
            WebError::InvalidAnswers(a) => {
                self.answers = Some(a);
                None
            }
            WebError::BadInput(m) if m.starts_with("doctor:") => {
                self.doctor =
                    "Please say who examined you: a name of 2 to 120 characters, or \"my GP\"."
                        .into();
                None
            }
            WebError::BadInput(m) if m.starts_with("examined_on:") => {
                self.examined_on = if m.contains("future") {
                    "The examination cannot be in the future.".into()
                } else if m.contains("on or after") {
                    "Please give a day on or after the day the red flag was raised.".into()
                } else {
                    "Please give the day of the examination.".into()
                };
                None
            }
            other => Some(other),
        }
    }
}

/// The resolve page for an open red flag of the profile (not found
/// otherwise); `None` when a clinician of the person's clinic resolves it.
async fn resolve_page(
    state: &AppState,
    auth: &Auth,
    id: EpisodeId,
    pairs: &[(String, String)],
    problems: &ResolveProblems,
) -> Result<Option<CheckinResolvePage>, WebError> {
    let profile = auth.profile.id;
    let (open, policy, facts) = act(state, move |ctx| {
        Ok((
            ctx.store.open_episodes(profile)?,
            needlewise_actions::who_resolves(ctx, profile)?,
            needlewise_actions::checkin_facts(ctx, profile)?,
        ))
    })
    .await?;
    let Some(episode) = open.into_iter().find(|e| e.id == id) else {
        return Err(WebError::NotFound);
    };
    if let ResolvePolicy::ClinicianOf(_) = policy {
        return Ok(None);
    }
    let q = &evidence().checkin;
    let fields = forms::fields_as_given(q, pairs, problems.answers.as_ref());
    let mut errors = forms::FormErrors::default();
    if !problems.doctor.is_empty() {
        errors.items.push((
            "q-doctor".into(),
            "Who examined you?".into(),
            problems.doctor.clone(),
        ));
    }
    if !problems.examined_on.is_empty() {
        errors.items.push((
            "q-examined_on".into(),
            "On which day?".into(),
            problems.examined_on.clone(),
        ));
    }
    if let Some(a) = &problems.answers {
        errors.items.extend(forms::form_errors(q, &fields, a).items);
    }
    Ok(Some(CheckinResolvePage {
        chrome: auth.chrome("Resolve a red flag", "checkin"),
        key: forms::key_for(pairs),
        episode: episode.id.to_string(),
        opened: state.local(episode.opened_at),
        opened_on: episode
            .opened_at
            .to_zoned_datetime(state.tz.clone())
            .date()
            .to_string(),
        today: state.today().to_string(),
        doctor: forms::field(pairs, "doctor").unwrap_or_default().to_owned(),
        doctor_error: problems.doctor.clone(),
        examined_on: forms::field(pairs, "examined_on")
            .unwrap_or_default()
            .to_owned(),
        examined_on_error: problems.examined_on.clone(),
        fields,
        facts: forms::fact_inputs(facts),
        errors,
    }))
}

pub async fn resolve(
    Me { state, auth }: Me,
    Path(episode): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let id: EpisodeId = episode.parse().map_err(|_| WebError::NotFound)?;
    let mut problems = ResolveProblems::default();
    // Every problem of the form at once: the statement's and the answers'.
    let statement = statement(&pairs).map_err(|e| problems.take(e));
    let answers = checkin_answers(&state, &auth.profile, &pairs)
        .await
        .map_err(|e| problems.take(e));
    let closed = match (statement, answers) {
        (Ok(statement), Ok(answers)) => close_keyed(
            &state,
            &auth.profile,
            forms::request_key(&pairs),
            id,
            statement,
            answers,
        )
        .await
        .map_err(|e| problems.take(e)),
        (Err(Some(e)), _) | (_, Err(Some(e))) => return Err(e),
        _ => Err(None),
    };
    match closed {
        Ok(Resolution::Resolved(_)) => Ok(see_other("/checkin")),
        Ok(Resolution::StillFlagged(checked)) => {
            Ok(see_other(&format!("/checkin/{}", checked.record.id)))
        }
        Err(Some(e)) => Err(e),
        Err(None) if !problems.is_empty() => {
            match resolve_page(&state, &auth, id, &pairs, &problems).await? {
                Some(p) => Ok(form_again(&p)),
                None => Ok(see_other("/checkin")),
            }
        }
        Err(None) => Err(WebError::Internal(anyhow::anyhow!(
            "a refused resolve form without a problem"
        ))),
    }
}

/// The doctor and the day, from a form.
pub fn statement(pairs: &[(String, String)]) -> Result<DoctorStatement, WebError> {
    let doctor = forms::required(pairs, "doctor")?.to_owned();
    let examined_on = needlewise_core::answers::parse_date(forms::required(pairs, "examined_on")?)
        .map_err(|e| WebError::BadInput(format!("examined_on: {e}")))?;
    Ok(DoctorStatement {
        doctor,
        examined_on,
    })
}

/// Resolves a red flag on the person's word (see
/// `needlewise_actions::resolve_by_person`).
pub async fn close(
    state: &AppState,
    profile: &Profile,
    id: EpisodeId,
    statement: DoctorStatement,
    answers: Answers,
) -> Result<Resolution, WebError> {
    close_keyed(state, profile, None, id, statement, answers).await
}

/// [`close`], once per request key.
async fn close_keyed(
    state: &AppState,
    profile: &Profile,
    key: Option<RequestKey>,
    id: EpisodeId,
    statement: DoctorStatement,
    answers: Answers,
) -> Result<Resolution, WebError> {
    let profile = profile.clone();
    let resolution = act(state, move |ctx| {
        needlewise_actions::resolve_by_person_keyed(ctx, &profile, key, id, statement, answers)
    })
    .await?;
    if let Resolution::StillFlagged(c) = &resolution
        && c.episode.is_some()
    {
        crate::notify::kick(state).await;
    }
    Ok(resolution)
}
