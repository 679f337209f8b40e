//! Symptom check-ins and red flags.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::ids::{EpisodeId, ProfileId};
use needlewise_core::records::Profile;
use needlewise_core::triage::Triage;

use super::{checked_form, page, see_other};
use crate::auth::Auth;
use crate::error::WebError;
use crate::views::{self, CheckinForm, CheckinResultPage, Chrome};
use crate::{AppState, act, blocking, forms};

pub async fn form(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    let state = state.for_profile(&auth.profile);
    let profile = auth.profile.id;
    let (session, open, history) = blocking(&state, move |s| {
        Ok((
            s.last_session(profile)?,
            s.open_episodes(profile)?,
            s.checkins(profile)?,
        ))
    })
    .await?;
    Ok(page(&CheckinForm {
        chrome: Chrome::new("Check-in", "checkin", &auth),
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
        procedure_rows: forms::procedure_rows(),
    }))
}

pub async fn submit(
    State(state): State<AppState>,
    auth: Auth,
    body: Bytes,
) -> Result<Response, WebError> {
    let state = state.for_profile(&auth.profile);
    let pairs = checked_form(&auth, &body)?;
    let answers = forms::answers(&evidence().checkin, &pairs, state.today())?;
    let triage = record(&state, &auth.profile, answers).await?;
    Ok(page(&CheckinResultPage {
        chrome: Chrome::new("Check-in", "checkin", &auth),
        level: triage.level.id().to_owned(),
        headline: triage.headline.to_owned(),
        locked: triage.locks_sessions,
        reasons: views::reasons(&triage.reasons),
    }))
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
    let checked = act(state, move |ctx| needlewise_actions::checkin(ctx, &profile, answers)).await?;
    if checked.triage.locks_sessions {
        crate::notify::kick(state).await; // tell the clinic at once
    }
    Ok(checked.triage)
}

pub async fn resolve(
    State(state): State<AppState>,
    auth: Auth,
    Path(episode): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let state = state.for_profile(&auth.profile);
    let pairs = checked_form(&auth, &body)?;
    let id: EpisodeId = episode.parse().map_err(|_| WebError::NotFound)?;
    let note = forms::required(&pairs, "note")?;
    close(&state, auth.profile.id, id, note).await?;
    Ok(see_other("/checkin"))
}

/// Closes a red-flag episode with a note of who cleared it.
pub async fn close(
    state: &AppState,
    profile: ProfileId,
    id: EpisodeId,
    note: &str,
) -> Result<(), WebError> {
    let note = note.trim().to_owned();
    if note.chars().count() < 3 || note.chars().count() > 500 {
        return Err(WebError::BadInput(
            "note: say who cleared it and what they said (3 to 500 characters)".into(),
        ));
    }
    let now = state.now();
    blocking(state, move |s| s.resolve_episode(profile, id, now, &note)).await?;
    Ok(())
}
