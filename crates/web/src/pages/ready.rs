//! The same-day readiness gate.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use needlewise_actions::{Checked, RequestKey};
use needlewise_core::answers::{Answers, InvalidAnswers};
use needlewise_core::evidence;
use needlewise_core::hygiene::HygieneState;
use needlewise_core::ids::{DeviceId, ReadinessCheckId};
use needlewise_core::readiness::Readiness;
use needlewise_core::records::Profile;

use super::{checked_form, form_again, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::{self, ReadyForm, ReadyResultPage};
use crate::{AppState, act, blocking, forms};

pub async fn form(Me { state, auth }: Me) -> Result<Response, WebError> {
    Ok(page(&form_page(&state, &auth, &[], None).await?))
}

/// The form, empty or as given with its problems.
async fn form_page(
    state: &AppState,
    auth: &Auth,
    pairs: &[(String, String)],
    errors: Option<&InvalidAnswers>,
) -> Result<ReadyForm, WebError> {
    let profile = auth.profile.id;
    let devices = blocking(state, move |s| s.devices(profile)).await?;
    let q = &evidence().readiness;
    let fields = forms::fields_as_given(q, pairs, errors);
    Ok(ReadyForm {
        chrome: auth.chrome("Ready today?", "ready"),
        key: forms::key_for(pairs),
        devices: devices
            .iter()
            .filter(|d| d.state != HygieneState::Retired)
            .map(|d| (d.id.to_string(), d.name.clone()))
            .collect(),
        device: forms::field(pairs, "device").unwrap_or_default().to_owned(),
        errors: errors
            .map(|e| forms::form_errors(q, &fields, e))
            .unwrap_or_default(),
        fields,
    })
}

/// Runs the gate for the chosen device, once per request key.
async fn run(
    state: &AppState,
    auth: &Auth,
    pairs: &[(String, String)],
) -> Result<Checked, WebError> {
    let answers = forms::answers(&evidence().readiness, pairs, state.today())?;
    let device_id: Option<DeviceId> = forms::field(pairs, "device").and_then(|d| d.parse().ok());
    check_keyed(
        state,
        &auth.profile,
        forms::request_key(pairs),
        answers,
        device_id,
    )
    .await
}

/// Answers today's check for one of the profile's devices (or the one the
/// actions layer chooses) and stores it: a home session rests on it. A
/// device id that is not the profile's is not found.
pub async fn check(
    state: &AppState,
    profile: &Profile,
    answers: Answers,
    device_id: Option<DeviceId>,
) -> Result<Readiness, WebError> {
    Ok(check_keyed(state, profile, None, answers, device_id)
        .await?
        .readiness)
}

/// [`check`], once per request key.
pub async fn check_keyed(
    state: &AppState,
    profile: &Profile,
    key: Option<RequestKey>,
    answers: Answers,
    device_id: Option<DeviceId>,
) -> Result<Checked, WebError> {
    let profile = profile.clone();
    act(state, move |ctx| {
        needlewise_actions::check_readiness_keyed(ctx, &profile, key, device_id, answers)
    })
    .await
}

/// Stores the check, then shows it at its own address (Post/Redirect/Get:
/// going back to it never sends the form again).
pub async fn submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    match run(&state, &auth, &pairs).await {
        Ok(checked) => Ok(see_other(&format!("/ready/{}", checked.check.id))),
        Err(WebError::InvalidAnswers(e)) => Ok(form_again(
            &form_page(&state, &auth, &pairs, Some(&e)).await?,
        )),
        Err(e) => Err(e),
    }
}

/// One of the profile's readiness checks (404 for anyone else's).
pub async fn result(Me { state, auth }: Me, Path(id): Path<String>) -> Result<Response, WebError> {
    let id: ReadinessCheckId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    let shown = act(&state, move |ctx| {
        needlewise_actions::readiness_check(ctx, profile, id)
    })
    .await?;
    let result = &shown.readiness;
    Ok(page(&ReadyResultPage {
        chrome: auth.chrome("Ready today?", "ready"),
        taken: state.local(shown.check.at),
        holds: shown.holds,
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
