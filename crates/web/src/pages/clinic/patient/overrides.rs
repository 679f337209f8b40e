//! Screening rules a clinician sets aside for one patient, and revoking
//! such an override.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use jiff::Timestamp;
use needlewise_core::clinic::{Override, Scope};
use needlewise_core::evidence;
use needlewise_core::ids::OverrideId;

use super::record_of;
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::clinic::{checked, needs_reauth, profile_id};
use crate::pages::see_other;
use crate::{AppState, blocking, forms};

/// The screening rules a clinician may set aside, by the evidence:
/// (rule id, title, why it may be overridden).
pub fn overridable_rules() -> Vec<(String, String, String)> {
    evidence()
        .screening
        .rules
        .iter()
        .filter_map(|r| {
            r.clinician_override
                .as_ref()
                .map(|c| (r.id.clone(), r.title.clone(), c.explanation.clone()))
        })
        .collect()
}

/// A rule's title, or its id when the evidence no longer has it.
pub fn rule_title(id: &str) -> String {
    evidence()
        .screening
        .rules
        .iter()
        .find(|r| r.id == id)
        .map_or_else(|| id.to_owned(), |r| r.title.clone())
}

#[derive(Debug, Clone)]
pub struct OverrideView {
    pub id: String,
    pub rule: String,
    pub by: String,
    pub at: String,
    pub reason: String,
}

impl OverrideView {
    pub fn new(o: &Override, local: impl Fn(Timestamp) -> String) -> OverrideView {
        OverrideView {
            id: o.id.to_string(),
            rule: rule_title(&o.rule_id),
            by: o.by_name.clone(),
            at: local(o.at),
            reason: o.reason.clone(),
        }
    }
}

pub async fn add_override(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let profile = profile_id(&raw)?;
    let pairs = checked(&ctx, &body)?;
    ctx.require_clinician()?;
    if let Some(r) = needs_reauth(&state, &ctx, &format!("/clinic/patients/{profile}")) {
        return Ok(r);
    }
    let rule = forms::field(&pairs, "rule").unwrap_or_default().to_owned();
    let reason = forms::field(&pairs, "reason")
        .unwrap_or_default()
        .to_owned();
    let (access, name) = (ctx.access, ctx.member.display_name.clone());
    let done = crate::act(&state, move |c| {
        needlewise_actions::override_rule(c, &access, &name, profile, &rule, &reason)
    })
    .await;
    if let Err(e @ WebError::BadInput(_)) = done {
        // Say what is wrong only to a clinician who may override here.
        let r = record_of(&state, &ctx, profile).await?;
        if !r.scopes.contains(&Scope::Screening) {
            return Err(WebError::NotFound);
        }
        return Err(e);
    }
    done?;
    Ok(see_other(&format!(
        "{}#overrides",
        ctx.link(&format!("/clinic/patients/{profile}"))
    )))
}

pub async fn revoke_override(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((raw, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let profile = profile_id(&raw)?;
    let id: OverrideId = id.parse().map_err(|_| WebError::NotFound)?;
    checked(&ctx, &body)?;
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    blocking(&state, move |s| {
        s.revoke_override(&access, profile, id, now)
    })
    .await?;
    Ok(see_other(&format!(
        "{}#overrides",
        ctx.link(&format!("/clinic/patients/{profile}"))
    )))
}
