//! The patient's side of the clinic: joining with an invite (choosing what
//! to share), the care team with each consent scope to grant or revoke at
//! once, leaving a clinic, the protocol and overrides in force, and the
//! audit log of everything a clinic read or changed.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use needlewise_core::clinic::Scope;
use needlewise_core::ids::{ClinicId, ProfileId};
use needlewise_store::clinic::{AuditEntry, PatientLink};

use super::clinic::{OverrideView, ProtocolView};
use super::{checked_form, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, blocking, forms};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/join/{code}", get(join_form).post(join))
        .route("/care-team", get(show))
        .route("/care-team/{clinic}/consent", post(consent))
        .route("/care-team/{clinic}/leave", post(leave))
}

/// An invite code: 64 lower-case hex characters.
fn code_hash(code: &str) -> Result<String, WebError> {
    crate::auth::invite_code_hash(code).ok_or(WebError::NotFound)
}

#[derive(Debug, Template)]
#[template(path = "care_join.html")]
pub struct JoinPage {
    pub chrome: Chrome,
    /// `None`: the invite is unknown, used or expired.
    pub clinic: Option<String>,
    pub code: String,
    /// (scope id, description, ticked)
    pub scopes: Vec<(&'static str, &'static str, bool)>,
    pub message: String,
}

fn scope_choices(ticked: &BTreeSet<Scope>) -> Vec<(&'static str, &'static str, bool)> {
    Scope::ALL
        .iter()
        .map(|s| (s.id(), s.describe(), ticked.contains(s)))
        .collect()
}

fn invalid_invite(auth: &Auth) -> Response {
    let mut r = page(&JoinPage {
        chrome: auth.chrome("Join a clinic", "care"),
        clinic: None,
        code: String::new(),
        scopes: Vec::new(),
        message: String::new(),
    });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

pub async fn join_form(
    State(state): State<AppState>,
    auth: Option<Auth>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let Some(auth) = auth else {
        return Ok(crate::auth::reauth::log_in_then(&format!("/join/{code}")));
    };
    let Ok(hash) = code_hash(&code) else {
        return Ok(invalid_invite(&auth));
    };
    let now = state.now();
    let Some(clinic) = blocking(&state, move |s| s.invite_clinic(&hash, now)).await? else {
        return Ok(invalid_invite(&auth));
    };
    Ok(page(&JoinPage {
        chrome: auth.chrome("Join a clinic", "care"),
        clinic: Some(clinic.name),
        code,
        // Check-ins, so the clinic can act on a warning sign; nothing else.
        scopes: scope_choices(&BTreeSet::from([Scope::Checkins])),
        message: String::new(),
    }))
}

/// The scopes ticked on a form (`scope` fields); an unknown one is bad input.
pub fn scopes_of(values: &[&str]) -> Result<BTreeSet<Scope>, WebError> {
    values
        .iter()
        .map(|v| {
            v.parse::<Scope>()
                .map_err(|_| WebError::BadInput(format!("scope: {v:?} is not one of the choices")))
        })
        .collect()
}

/// Joins the profile to the invite's clinic with these scopes.
pub async fn redeem(
    state: &AppState,
    profile: ProfileId,
    code: &str,
    scopes: BTreeSet<Scope>,
) -> Result<ClinicId, WebError> {
    let hash = code_hash(code)?;
    let now = state.now();
    let shares_checkins = scopes.contains(&Scope::Checkins);
    let clinic = blocking(state, move |s| {
        s.redeem_invite(&hash, profile, &scopes, now)
    })
    .await
    .map_err(|e| match e {
        WebError::Conflict(_) => WebError::Conflict("you have already joined this clinic".into()),
        other => other,
    })?;
    if shares_checkins {
        // A red flag raised before joining reaches the clinic now, not at
        // the next tick of the ladder.
        crate::notify::kick(state).await;
    }
    Ok(clinic)
}

pub async fn join(
    Me { state, auth }: Me,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let ticked: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let scopes = scopes_of(&ticked)?;
    match redeem(&state, auth.profile.id, &code, scopes).await {
        Ok(clinic) => Ok(see_other(&format!("/care-team#clinic-{clinic}"))),
        Err(WebError::NotFound) => Ok(invalid_invite(&auth)),
        Err(e) => Err(e),
    }
}

/// One clinic the patient has joined.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub id: String,
    pub name: String,
    pub joined: String,
    /// (scope id, description, granted)
    pub scopes: Vec<(&'static str, &'static str, bool)>,
}

/// A line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditView {
    pub at: String,
    /// "Dr Lee at Clinic A viewed your record", or "You shared … (Clinic A)".
    pub line: String,
}

/// A scope in a few words, for the audit log.
fn scope_short(s: Scope) -> &'static str {
    match s {
        Scope::Screening => "screening",
        Scope::Sessions => "sessions",
        Scope::Checkins => "check-ins",
        Scope::PhotosClinical => "photos for your care",
        Scope::PhotosTeaching => "photos for teaching",
    }
}

/// An audit action in plain words. Ids in the detail (of a photo, a red
/// flag, a protocol) mean nothing to a person and are left out.
pub fn action_words(action: &str, detail: &str) -> String {
    let scope = |d: &str| {
        d.parse::<Scope>()
            .map(|s| s.describe().to_owned())
            .unwrap_or_else(|_| d.to_owned())
    };
    let scopes = |d: &str| {
        d.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<Scope>().map(scope_short).unwrap_or(t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match action {
        "viewed_list" if detail == "red flags" => {
            "saw your open red flags in the clinic's queue".to_owned()
        }
        "viewed_list" => "saw your name on the clinic's patient list".to_owned(),
        "viewed_record" => match scopes(detail) {
            s if s.is_empty() => "viewed your name and join date".to_owned(),
            s => format!("viewed your record: {s}"),
        },
        "viewed_photo" => "viewed one of your photos".to_owned(),
        "acknowledged" => "acknowledged a red flag".to_owned(),
        "prescribed" => "prescribed a protocol".to_owned(),
        "override_added" => format!(
            "set aside a home rule: {}",
            super::clinic::patient_rule_title(detail)
        ),
        "override_revoked" => "withdrew an override".to_owned(),
        "joined" => "joined the clinic".to_owned(),
        "left" => "left the clinic, and stopped sharing everything with it".to_owned(),
        "consent_granted" => format!("shared {}", scope(detail)),
        "consent_revoked" => format!("stopped sharing {}", scope(detail)),
        "conversation_started" => "started a conversation with the clinic".to_owned(),
        "message_sent" => "sent the clinic a message".to_owned(),
        "viewed_inbox" => "saw your conversations in the clinic's inbox".to_owned(),
        "viewed_conversation" => "read a conversation with you".to_owned(),
        "replied" => "answered you in a conversation".to_owned(),
        "viewed_message_photo" => "viewed a photo you sent".to_owned(),
        "advised_on_red_flag" => "answered your message about a warning sign".to_owned(),
        other => other.replace('_', " "),
    }
}

#[derive(Debug, Template)]
#[template(path = "care_team.html")]
pub struct CareTeamPage {
    pub chrome: Chrome,
    pub links: Vec<LinkView>,
    /// (clinic name, the protocol in force)
    pub protocol: Option<(String, ProtocolView)>,
    /// (clinic name, override)
    pub overrides: Vec<(String, OverrideView)>,
    pub audit: Vec<AuditView>,
}

pub(crate) fn link_view(state: &AppState, l: &PatientLink) -> LinkView {
    LinkView {
        id: l.clinic.id.to_string(),
        name: l.clinic.name.clone(),
        joined: state.local(l.joined_at),
        scopes: Scope::ALL
            .iter()
            .map(|s| (s.id(), s.describe(), l.scopes.contains(s)))
            .collect(),
    }
}

pub(crate) fn audit_views(
    state: &AppState,
    links: &[PatientLink],
    left: &[(ClinicId, String)],
    log: &[AuditEntry],
) -> Vec<AuditView> {
    let names: BTreeMap<ClinicId, &str> = links
        .iter()
        .map(|l| (l.clinic.id, l.clinic.name.as_str()))
        .chain(left.iter().map(|(id, n)| (*id, n.as_str())))
        .collect();
    log.iter()
        .map(|e| {
            let clinic = names
                .get(&e.clinic_id)
                .map_or_else(|| "a clinic you have left".to_owned(), |n| (*n).to_owned());
            let what = action_words(&e.action, &e.detail);
            AuditView {
                at: state.local(e.at),
                line: if e.actor_name == "you" {
                    format!("You {what} ({clinic})")
                } else {
                    format!("{} at {clinic} {what}", e.actor_name)
                },
            }
        })
        .collect()
}

pub async fn show(Me { state, auth }: Me) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let (links, protocol, overrides, log, left, unread) = blocking(&state, move |s| {
        let links = s.patient_clinics(profile)?;
        let unread = s.patient_unread(profile)?;
        let log = s.audit_log(profile, 200)?;
        // The names of clinics the patient has left, for their log.
        let mut left = Vec::new();
        let known: BTreeSet<ClinicId> = links.iter().map(|l| l.clinic.id).collect();
        let gone: BTreeSet<ClinicId> = log
            .iter()
            .map(|e| e.clinic_id)
            .filter(|c| !known.contains(c))
            .collect();
        for id in gone {
            if let Some(c) = s.clinic(id)? {
                left.push((c.id, c.name));
            }
        }
        Ok((
            links,
            s.active_protocol(profile)?,
            s.active_overrides(profile)?,
            log,
            left,
            unread,
        ))
    })
    .await?;
    let local = |t| state.local(t);
    let name_of = |id: ClinicId| {
        links
            .iter()
            .find(|l| l.clinic.id == id)
            .map_or_else(String::new, |l| l.clinic.name.clone())
    };
    let mut chrome = auth.chrome("Care team", "care");
    chrome.unread = unread;
    Ok(page(&CareTeamPage {
        chrome,
        links: links.iter().map(|l| link_view(&state, l)).collect(),
        protocol: protocol
            .as_ref()
            .map(|p| (name_of(p.clinic_id), ProtocolView::new(p, local))),
        overrides: overrides
            .iter()
            .map(|o| (name_of(o.clinic_id), OverrideView::new(o, local)))
            .collect(),
        audit: audit_views(&state, &links, &left, &log),
    }))
}

/// A clinic id and a scope from a path and a field: an unknown clinic is
/// not found, an unknown scope a bad field.
pub fn parse_scope(clinic: &str, scope: &str) -> Result<(ClinicId, Scope), WebError> {
    let clinic: ClinicId = clinic.parse().map_err(|_| WebError::NotFound)?;
    let scope: Scope = scope
        .parse()
        .map_err(|_| WebError::BadInput("scope: not one of the choices".into()))?;
    Ok((clinic, scope))
}

/// Grants or revokes one scope for one clinic, at once.
pub async fn set_scope(
    state: &AppState,
    profile: ProfileId,
    clinic: ClinicId,
    scope: Scope,
    granted: bool,
) -> Result<(), WebError> {
    crate::act(state, move |ctx| {
        needlewise_actions::share(ctx, profile, clinic, scope, granted)
    })
    .await?;
    if granted && scope == Scope::Checkins {
        // An open red flag becomes visible to the clinic now: tell it now.
        crate::notify::kick(state).await;
    }
    Ok(())
}

pub async fn consent(
    Me { state, auth }: Me,
    Path(clinic): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let granted = match forms::field(&pairs, "grant") {
        Some("1") => true,
        Some("0") => false,
        _ => {
            return Err(WebError::BadInput(
                "grant: say 1 to share or 0 to stop".into(),
            ));
        }
    };
    let (clinic_id, scope) =
        parse_scope(&clinic, forms::field(&pairs, "scope").unwrap_or_default())?;
    set_scope(&state, auth.profile.id, clinic_id, scope, granted).await?;
    Ok(see_other(&format!("/care-team#clinic-{clinic}")))
}

pub async fn leave(
    Me { state, auth }: Me,
    Path(clinic): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let clinic: ClinicId = clinic.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    let now = state.now();
    blocking(&state, move |s| s.leave_clinic(profile, clinic, now)).await?;
    Ok(see_other("/care-team"))
}
