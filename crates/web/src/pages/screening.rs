//! The screening form and its verdict.

use axum::body::Bytes;
use axum::response::Response;
use needlewise_actions::RequestKey;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::screening::ScreeningResult;

use super::{checked_form, form_again, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::{self, ScreeningForm, ScreeningResultPage};
use crate::{AppState, act, blocking, forms};

pub async fn form(auth: Auth) -> Response {
    page(&ScreeningForm {
        chrome: auth.chrome("Screening", "screening"),
        key: forms::key_for(&[]),
        fields: forms::fields(&evidence().screening),
        errors: forms::FormErrors::default(),
    })
}

/// Screens the answers and stores the result; nothing is stored when the
/// answers have problems. Shared by the form and the API.
pub async fn save(
    state: &AppState,
    auth: &Auth,
    answers: Answers,
) -> Result<ScreeningResult, WebError> {
    save_keyed(state, auth, None, answers).await
}

/// [`save`], once per request key.
async fn save_keyed(
    state: &AppState,
    auth: &Auth,
    key: Option<RequestKey>,
    answers: Answers,
) -> Result<ScreeningResult, WebError> {
    let profile = auth.profile.clone();
    act(state, move |ctx| {
        needlewise_actions::screen_keyed(ctx, &profile, key, answers)
    })
    .await
}

pub async fn submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let q = &evidence().screening;
    let saved = match forms::answers(q, &pairs, state.today()) {
        Ok(answers) => save_keyed(&state, &auth, forms::request_key(&pairs), answers).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => Ok(see_other("/screening/result")),
        // Shown again as given, each problem next to its question.
        Err(WebError::InvalidAnswers(e)) => {
            let fields = forms::fields_as_given(q, &pairs, Some(&e));
            Ok(form_again(&ScreeningForm {
                chrome: auth.chrome("Screening", "screening"),
                key: forms::key_for(&pairs),
                errors: forms::form_errors(q, &fields, &e),
                fields,
            }))
        }
        Err(e) => Err(e),
    }
}

pub async fn latest(Me { state, auth }: Me) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let Some(record) = blocking(&state, move |s| s.latest_screening(profile)).await? else {
        return Ok(see_other("/screening"));
    };
    // The stored result is shown as it was given: re-running the answers
    // through today's rules would rewrite history.
    let result = record.result;
    let labels = |zones: &[needlewise_core::Zone]| {
        zones
            .iter()
            .map(|z| z.label())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(page(&ScreeningResultPage {
        chrome: auth.chrome("Your screening", "screening"),
        verdict: record.verdict.id().to_owned(),
        headline: result.headline.clone(),
        eligible_from: result
            .eligible_from
            .map(crate::views::day)
            .unwrap_or_default(),
        zones: if record.verdict.allows_home_sessions() {
            labels(&result.zones)
        } else {
            String::new()
        },
        excluded: result
            .excluded_zones
            .iter()
            .map(|e| {
                let until = e.until.map(|u| format!(" until {u}")).unwrap_or_default();
                format!("{}{until}", e.zone.label())
            })
            .collect(),
        reasons: views::reasons(&result.reasons),
        taken: state.local(record.taken_at),
        overridden: result
            .overridden
            .iter()
            .map(|o| views::OverriddenView {
                title: o.reason.title.clone(),
                by: format!("{} on {}", o.by_name, state.local(o.at)),
                why: o.why.clone(),
                evidence: o.evidence.explanation.clone(),
                sources: o.evidence.sources.clone(),
            })
            .collect(),
    }))
}
