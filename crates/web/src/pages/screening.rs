//! The screening form and its verdict.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::ids::ScreeningId;
use needlewise_core::records::ScreeningRecord;
use needlewise_core::screening::{ScreeningResult, screen_with_overrides};
use uuid::Uuid;

use super::{checked_form, page, see_other};
use crate::auth::Auth;
use crate::error::WebError;
use crate::views::{self, Chrome, ScreeningForm, ScreeningResultPage};
use crate::{AppState, blocking, forms};

pub async fn form(auth: Auth) -> Response {
    page(&ScreeningForm {
        chrome: Chrome::new("Screening", "screening", &auth),
        fields: forms::fields(&evidence().screening),
        procedure_rows: forms::procedure_rows(),
    })
}

/// Screens the answers and stores the result; nothing is stored when the
/// answers have problems. Shared by the form and the API.
pub async fn save(
    state: &AppState,
    auth: &Auth,
    answers: Answers,
) -> Result<ScreeningResult, WebError> {
    let profile = auth.profile.id;
    let overrides = blocking(state, move |s| s.active_overrides(profile)).await?;
    let result = screen_with_overrides(evidence(), &answers, state.today(), &overrides)?;
    let record = ScreeningRecord {
        id: ScreeningId(Uuid::now_v7()),
        profile_id: auth.profile.id,
        taken_at: state.now(),
        answers,
        verdict: result.verdict,
        result: serde_json::to_value(&result).map_err(|e| WebError::Internal(e.into()))?,
    };
    blocking(state, move |s| s.save_screening(&record)).await?;
    Ok(result)
}

pub async fn submit(
    State(state): State<AppState>,
    auth: Auth,
    body: Bytes,
) -> Result<Response, WebError> {
    let state = state.for_profile(&auth.profile);
    let pairs = checked_form(&auth, &body)?;
    let answers = forms::answers(&evidence().screening, &pairs, state.today())?;
    save(&state, &auth, answers).await?;
    Ok(see_other("/screening/result"))
}

pub async fn latest(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    let state = state.for_profile(&auth.profile);
    let profile = auth.profile.id;
    let Some(record) = blocking(&state, move |s| s.latest_screening(profile)).await? else {
        return Ok(see_other("/screening"));
    };
    let result: serde_json::Value = record.result;
    let get = |k: &str| {
        result
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    // The stored result is shown as it was given: re-running the answers
    // through today's rules would rewrite history.
    let stored_reasons = result
        .get("reasons")
        .and_then(|r| r.as_array())
        .map(|rs| rs.iter().filter_map(reason_from_json).collect())
        .unwrap_or_default();
    let zones = zone_labels(result.get("zones"));
    let excluded = result
        .get("excluded_zones")
        .and_then(|z| z.as_array())
        .map(|zs| {
            zs.iter()
                .filter_map(|e| {
                    let zone: needlewise_core::Zone = e.get("zone")?.as_str()?.parse().ok()?;
                    let until = e
                        .get("until")
                        .and_then(|u| u.as_str())
                        .map(|u| format!(" until {u}"))
                        .unwrap_or_default();
                    Some(format!("{}{until}", zone.label()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(page(&ScreeningResultPage {
        chrome: Chrome::new("Your screening", "screening", &auth),
        verdict: record.verdict.id().to_owned(),
        headline: record.verdict.headline().to_owned(),
        eligible_from: get("eligible_from"),
        zones: if record.verdict.allows_home_sessions() {
            zones
        } else {
            String::new()
        },
        excluded,
        reasons: stored_reasons,
        taken: state.local(record.taken_at),
        overridden: result
            .get("overridden")
            .and_then(|o| o.as_array())
            .map(|os| {
                os.iter()
                    .filter_map(|o| overridden_from_json(|t| state.local(t), o))
                    .collect()
            })
            .unwrap_or_default(),
    }))
}

/// A stored override, as it was shown when the screening was taken.
fn overridden_from_json(
    local: impl Fn(jiff::Timestamp) -> String,
    v: &serde_json::Value,
) -> Option<views::OverriddenView> {
    let reason = reason_from_json(v.get("reason")?)?;
    let at: jiff::Timestamp = v.get("at")?.as_str()?.parse().ok()?;
    let evidence = v.get("evidence")?;
    Some(views::OverriddenView {
        title: reason.title,
        by: format!("{} on {}", v.get("by_name")?.as_str()?, local(at)),
        why: v.get("why")?.as_str()?.to_owned(),
        evidence: evidence.get("explanation")?.as_str()?.to_owned(),
        sources: evidence
            .get("sources")?
            .as_array()?
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
    })
}

fn reason_from_json(v: &serde_json::Value) -> Option<views::ReasonView> {
    let s = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Some(views::ReasonView {
        rule_id: s("rule_id"),
        title: s("title"),
        outcome: s("outcome"),
        explanation: s("explanation"),
        grade: s("grade"),
        sources: v
            .get("sources")?
            .as_array()?
            .iter()
            .filter_map(|x| x.get("id")?.as_str().map(str::to_owned))
            .collect(),
        until: s("until"),
        zones: zone_labels(v.get("zones")),
    })
}

/// Plain labels for a stored list of zone ids.
fn zone_labels(zones: Option<&serde_json::Value>) -> String {
    zones
        .and_then(|z| z.as_array())
        .map(|zs| {
            zs.iter()
                .filter_map(|z| z.as_str()?.parse::<needlewise_core::Zone>().ok())
                .map(|z| z.label())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
