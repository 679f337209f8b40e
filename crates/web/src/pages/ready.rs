//! The same-day readiness gate.

use axum::body::Bytes;
use axum::response::Response;
use needlewise_core::answers::{Answers, InvalidAnswers};
use needlewise_core::evidence;
use needlewise_core::hygiene::HygieneState;
use needlewise_core::ids::DeviceId;
use needlewise_core::readiness::Readiness;
use needlewise_core::records::Profile;

use super::{checked_form, form_again, page};
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

/// Runs the gate for the chosen device.
pub async fn run(
    state: &AppState,
    auth: &Auth,
    pairs: &[(String, String)],
) -> Result<Readiness, WebError> {
    let answers = forms::answers(&evidence().readiness, pairs, state.today())?;
    let device_id: Option<DeviceId> = forms::field(pairs, "device").and_then(|d| d.parse().ok());
    check(state, &auth.profile, answers, device_id).await
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
    let profile = profile.clone();
    let checked = act(state, move |ctx| {
        needlewise_actions::check_readiness(ctx, &profile, device_id, answers)
    })
    .await?;
    Ok(checked.readiness)
}

pub async fn submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let result = match run(&state, &auth, &pairs).await {
        Ok(result) => result,
        Err(WebError::InvalidAnswers(e)) => {
            return Ok(form_again(
                &form_page(&state, &auth, &pairs, Some(&e)).await?,
            ));
        }
        Err(e) => return Err(e),
    };
    Ok(page(&ReadyResultPage {
        chrome: auth.chrome("Ready today?", "ready"),
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
