//! The aftercare timeline and the serum gate.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::response::Response;
use needlewise_core::aftercare::{GateDecision, timeline};
use needlewise_core::evidence;
use needlewise_core::ids::ProfileId;

use super::{checked_form, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::{AftercarePage, StepView};
use crate::{AppState, blocking, forms};

async fn render(
    state: &AppState,
    auth: &Auth,
    decision: Option<GateDecision>,
    saved: bool,
) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let session = blocking(state, move |s| s.last_session(profile)).await?;
    let now = state.now();
    let (when, steps) = match &session {
        None => (String::new(), Vec::new()),
        Some(s) => (
            state.local(s.ended_at),
            timeline(evidence(), s.ended_at, now)
                .into_iter()
                .map(|step| StepView {
                    title: step.title,
                    avoid: step.avoid,
                    until: state.local(step.until),
                    active: step.active,
                    explanation: step.explanation,
                })
                .collect(),
        ),
    };
    Ok(page(&AftercarePage {
        chrome: auth.chrome("Aftercare", "aftercare"),
        saved,
        session: when,
        steps,
        decision: decision.map(|d| {
            let reason = reason_words(state, &d);
            (d.allowed, d.product, reason)
        }),
    }))
}

/// The serum gate's reason as a page shows it: the moment a product is
/// allowed from in the person's own zone, in words, not as the core's
/// RFC 3339 instant (the API keeps that).
pub fn reason_words(state: &AppState, d: &GateDecision) -> String {
    d.reason
        .replace(&d.allowed_from.to_string(), &state.local(d.allowed_from))
}

/// The timeline, and with `?product=…` the serum gate's answer for that
/// product now (asked only: nothing is recorded by a GET).
pub async fn show(Me { state, auth }: Me, RawQuery(query): RawQuery) -> Result<Response, WebError> {
    let pairs = forms::pairs(query.unwrap_or_default().as_bytes());
    let decision = match forms::field(&pairs, "product").filter(|p| !p.trim().is_empty()) {
        Some(name) => {
            let (profile, name) = (auth.profile.id, name.to_owned());
            crate::act(&state, move |ctx| {
                needlewise_actions::aftercare_product(ctx, profile, &name, true)
            })
            .await?
            .map(|(_, decision)| decision)
        }
        None => None,
    };
    let saved = forms::field(&pairs, "saved") == Some("session");
    render(&state, &auth, decision, saved).await
}

/// Asks the serum gate; an allowed product is recorded as applied. Then
/// the answer is shown at its own address (Post/Redirect/Get), so going
/// back to it never sends the form again.
pub async fn product(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let name = forms::required(&pairs, "product")?;
    apply(&state, auth.profile.id, name).await?;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("product", name)
        .finish();
    Ok(see_other(&format!("/aftercare?{query}#gate")))
}

/// Puts a product through the serum gate for the last session; an allowed
/// one is recorded as applied. `None` before the first session.
pub async fn apply(
    state: &AppState,
    profile: ProfileId,
    name: &str,
) -> Result<Option<GateDecision>, WebError> {
    let name = name.to_owned();
    let done = crate::act(state, move |ctx| {
        needlewise_actions::aftercare_product(ctx, profile, &name, false)
    })
    .await?;
    Ok(done.map(|(_, decision)| decision))
}
