//! Symptom check-ins and red flags.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use needlewise_actions::{DoctorStatement, Resolution};
use needlewise_core::answers::Answers;
use needlewise_core::clinic::ResolvePolicy;
use needlewise_core::evidence;
use needlewise_core::ids::EpisodeId;
use needlewise_core::records::Profile;
use needlewise_core::triage::Triage;

use super::{checked_form, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::{self, CheckinForm, CheckinResolvePage, CheckinResultPage};
use crate::{AppState, act, blocking, forms};

pub async fn form(Me { state, auth }: Me) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let (session, open, history, links) = blocking(&state, move |s| {
        Ok((
            s.last_session(profile)?,
            s.open_episodes(profile)?,
            s.checkins(profile)?,
            s.patient_clinics(profile)?,
        ))
    })
    .await?;
    let facts = act(&state, move |ctx| {
        needlewise_actions::checkin_facts(ctx, profile)
    })
    .await?;
    let resolved_by_clinic: Vec<String> = links
        .iter()
        .filter(|l| l.scopes.contains(&needlewise_core::clinic::Scope::Checkins))
        .map(|l| l.clinic.name.clone())
        .collect();
    Ok(page(&CheckinForm {
        chrome: auth.chrome("Check-in", "checkin"),
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
        fields: forms::fields(&evidence().checkin),
        facts: forms::fact_inputs(facts),
        procedure_rows: forms::procedure_rows(),
    }))
}

pub async fn submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let answers = checkin_answers(&state, &auth.profile, &pairs).await?;
    let triage = record(&state, &auth.profile, answers).await?;
    Ok(result_page(&auth, &triage))
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

fn result_page(auth: &Auth, triage: &Triage) -> Response {
    let q = &evidence().checkin;
    page(&CheckinResultPage {
        chrome: auth.chrome("Check-in", "checkin"),
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
    let profile = profile.clone();
    let checked = act(state, move |ctx| {
        needlewise_actions::checkin(ctx, &profile, answers)
    })
    .await?;
    if checked.triage.locks_sessions {
        crate::notify::kick(state).await; // tell the clinic at once
    }
    Ok(checked.triage)
}

/// The page that resolves a red flag on the person's word: who examined
/// them and when, and a fresh check-in.
pub async fn resolve_form(
    Me { state, auth }: Me,
    Path(episode): Path<String>,
) -> Result<Response, WebError> {
    let id: EpisodeId = episode.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    let (open, policy, facts) = act(&state, move |ctx| {
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
        return Ok(see_other("/checkin"));
    }
    Ok(page(&CheckinResolvePage {
        chrome: auth.chrome("Resolve a red flag", "checkin"),
        episode: episode.id.to_string(),
        opened: state.local(episode.opened_at),
        opened_on: episode
            .opened_at
            .to_zoned_datetime(state.tz.clone())
            .date()
            .to_string(),
        today: state.today().to_string(),
        fields: forms::fields(&evidence().checkin),
        facts: forms::fact_inputs(facts),
        procedure_rows: forms::procedure_rows(),
    }))
}

pub async fn resolve(
    Me { state, auth }: Me,
    Path(episode): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let id: EpisodeId = episode.parse().map_err(|_| WebError::NotFound)?;
    let statement = statement(&pairs)?;
    let answers = checkin_answers(&state, &auth.profile, &pairs).await?;
    match close(&state, &auth.profile, id, statement, answers).await? {
        Resolution::Resolved(_) => Ok(see_other("/checkin")),
        Resolution::StillFlagged(checked) => Ok(result_page(&auth, &checked.triage)),
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
    let profile = profile.clone();
    let resolution = act(state, move |ctx| {
        needlewise_actions::resolve_by_person(ctx, &profile, id, statement, answers)
    })
    .await?;
    if let Resolution::StillFlagged(c) = &resolution
        && c.episode.is_some()
    {
        crate::notify::kick(state).await;
    }
    Ok(resolution)
}
