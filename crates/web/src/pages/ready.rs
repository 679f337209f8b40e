//! The same-day readiness gate.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::hygiene::HygieneState;
use needlewise_core::ids::{DeviceId, ProfileId};
use needlewise_core::readiness::{self, Readiness};
use needlewise_store::facts;

use super::{checked_form, page};
use crate::auth::Auth;
use crate::error::WebError;
use crate::views::{self, Chrome, ReadyForm, ReadyResultPage};
use crate::{AppState, blocking, forms};

pub async fn form(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    let state = state.for_profile(&auth.profile);
    let profile = auth.profile.id;
    let devices = blocking(&state, move |s| s.devices(profile)).await?;
    Ok(page(&ReadyForm {
        chrome: Chrome::new("Ready today?", "ready", &auth),
        devices: devices
            .iter()
            .filter(|d| d.state != HygieneState::Retired)
            .map(|d| (d.id.to_string(), d.name.clone()))
            .collect(),
        fields: forms::fields(&evidence().readiness),
        procedure_rows: forms::procedure_rows(),
    }))
}

/// Runs the gate for the chosen device.
pub async fn run(
    state: &AppState,
    auth: &Auth,
    pairs: &[(String, String)],
) -> Result<Readiness, WebError> {
    let answers = forms::answers(&evidence().readiness, pairs, state.today())?;
    let device_id: Option<DeviceId> = forms::field(pairs, "device").and_then(|d| d.parse().ok());
    check(state, auth.profile.id, answers, device_id).await
}

/// Runs the gate on today's answers for one of the profile's devices (or
/// none: then the gate says no device is ready). A device id that is not
/// the profile's is not found.
pub async fn check(
    state: &AppState,
    profile: ProfileId,
    answers: Answers,
    device_id: Option<DeviceId>,
) -> Result<Readiness, WebError> {
    let today = state.today();
    let facts = blocking(state, move |s| {
        let device = match device_id {
            Some(id) => match s.device(profile, id)? {
                Some(d) => Some(d),
                None => return Ok(None),
            },
            None => None,
        };
        facts::readiness(s, profile, device.as_ref(), today).map(Some)
    })
    .await?
    .ok_or(WebError::NotFound)?;
    Ok(readiness::check(evidence(), &answers, &facts, today)?)
}

pub async fn submit(
    State(state): State<AppState>,
    auth: Auth,
    body: Bytes,
) -> Result<Response, WebError> {
    let state = state.for_profile(&auth.profile);
    let pairs = checked_form(&auth, &body)?;
    let result = run(&state, &auth, &pairs).await?;
    Ok(page(&ReadyResultPage {
        chrome: Chrome::new("Ready today?", "ready", &auth),
        go: result.go,
        headline: result.headline.clone(),
        zones: result
            .zones
            .iter()
            .map(|z| z.label())
            .collect::<Vec<_>>()
            .join(", "),
        reasons: views::reasons(&result.reasons),
    }))
}
