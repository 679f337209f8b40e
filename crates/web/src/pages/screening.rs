//! The screening form and its verdict.

use axum::body::Bytes;
use axum::response::Response;
use needlewise_actions::RequestKey;
use needlewise_core::answers::{Answers, InvalidAnswers};
use needlewise_core::evidence;
use needlewise_core::screening::ScreeningResult;

use super::{checked_form, form_again, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::{self, ScreeningForm, ScreeningResultPage};
use crate::{AppState, act, blocking, forms};

/// The screening's first step, empty, with a fresh request key.
pub async fn form(auth: Auth) -> Response {
    page(&step_form(&auth, &[], 0, None))
}

/// A step of the screening (counted from 0), its questions as `pairs`
/// gave them with `errors` next to them, the other steps' answers carried
/// as hidden inputs: the steps keep every answer without storing anything.
fn step_form(
    auth: &Auth,
    pairs: &[(String, String)],
    n: usize,
    errors: Option<&InvalidAnswers>,
) -> ScreeningForm {
    let q = &evidence().screening;
    let steps = q.steps();
    let n = n.min(steps.len().saturating_sub(1));
    let here: Vec<&str> = steps
        .get(n)
        .map(|s| s.questions.iter().map(|q| q.id.as_str()).collect())
        .unwrap_or_default();
    let fields: Vec<forms::FieldView> = forms::fields_as_given(q, pairs, errors)
        .into_iter()
        .filter(|f| here.contains(&f.id.as_str()))
        .collect();
    let errors = match errors {
        Some(e) => forms::form_errors(q, &fields, e),
        None => forms::FormErrors::default(),
    };
    let topic = steps.get(n).map(|s| s.topic).unwrap_or_default();
    ScreeningForm {
        chrome: auth.chrome(
            &format!("Screening, step {} of {}: {topic}", n + 1, steps.len()),
            "screening",
        ),
        key: forms::key_for(pairs),
        step: n + 1,
        steps: steps.len(),
        topic: topic.to_owned(),
        next_topic: steps
            .get(n + 1)
            .map(|s| s.topic.to_owned())
            .unwrap_or_default(),
        fields,
        carried: forms::answer_pairs(q, pairs, &here),
        errors,
    }
}

/// The first step (counted from 0) with one of `errors`' problems; the
/// first step for a problem no question owns.
fn first_step_with(errors: &InvalidAnswers) -> usize {
    let q = &evidence().screening;
    q.steps()
        .iter()
        .position(|s| {
            s.questions
                .iter()
                .any(|question| errors.0.iter().any(|e| e.field == question.id))
        })
        .unwrap_or(0)
}

/// Back or Next from a step. Back keeps this step's answers as they are;
/// Next checks the answers so far (this step's and every earlier one's),
/// and shows the first step with a problem again (422), else the next
/// step. Nothing is stored: the last step sends everything to [`submit`].
pub async fn step(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let q = &evidence().screening;
    let last = q.steps().len().saturating_sub(1);
    // Steps are counted from 1 in the form.
    let n = forms::field(&pairs, "step")
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, last + 1)
        - 1;
    if forms::field(&pairs, "go") == Some("back") {
        return Ok(page(&step_form(&auth, &pairs, n.saturating_sub(1), None)));
    }
    let so_far = q.through_step(n);
    let checked = forms::answers(&so_far, &pairs, state.today())
        .and_then(|answers| answers.require_complete(&so_far));
    match checked {
        Ok(()) if n < last => Ok(page(&step_form(&auth, &pairs, n + 1, None))),
        // Next on the last step: the verdict, as its own button asks.
        Ok(()) => submit_pairs(state, auth, pairs).await,
        Err(e) => Ok(form_again(&step_form(
            &auth,
            &pairs,
            first_step_with(&e),
            Some(&e),
        ))),
    }
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

/// Every step's answers: screened and stored once per request key, then
/// the verdict by a GET; refused, the first step with a problem again.
pub async fn submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    submit_pairs(state, auth, pairs).await
}

async fn submit_pairs(
    state: AppState,
    auth: Auth,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let q = &evidence().screening;
    let saved = match forms::answers(q, &pairs, state.today()) {
        Ok(answers) => save_keyed(&state, &auth, forms::request_key(&pairs), answers).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => Ok(see_other("/screening/result")),
        // Shown again as given, each problem next to its question.
        Err(WebError::InvalidAnswers(e)) => Ok(form_again(&step_form(
            &auth,
            &pairs,
            first_step_with(&e),
            Some(&e),
        ))),
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
                let until = e
                    .until
                    .map(|u| format!(" until {}", views::day(u)))
                    .unwrap_or_default();
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
