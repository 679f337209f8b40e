//! Accepting a team invitation (`/clinic/join/{code}`): the invited person,
//! logged in with the invited email address, sees the clinic, role and
//! name and accepts. Every invitation that cannot be used (unknown, used,
//! expired, or for another address) gets the same 404 page, so the page
//! tells no one whether a code exists or whose it is.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use needlewise_core::clinic::Role;

use crate::auth::{Auth, invite_code_hash};
use crate::error::WebError;
use crate::pages::{checked_form, page, see_other};
use crate::views::Chrome;
use crate::{AppState, blocking};

/// What the invited person is shown.
#[derive(Debug)]
pub struct InviteView {
    pub clinic: String,
    pub email: String,
    pub role: &'static str,
    pub role_means: &'static str,
    pub name: String,
}

#[derive(Debug, Template)]
#[template(path = "clinic_join.html")]
pub struct JoinTeamPage {
    pub chrome: Chrome,
    /// `None`: the invitation cannot be used by this account.
    pub invite: Option<InviteView>,
    pub code: String,
}

fn unusable(auth: &Auth) -> Response {
    // Nothing of the asker's on it, not even the profile's name.
    let mut r = page(&JoinTeamPage {
        chrome: Chrome {
            profile: "Your profiles".to_owned(),
            ..auth.chrome("Join a clinic's team", "clinic")
        },
        invite: None,
        code: String::new(),
    });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

fn role_means(role: Role) -> &'static str {
    match role {
        Role::Clinician => {
            "As a clinician you will see what the clinic's patients choose to share, and act on it."
        }
        Role::Staff => "As staff you will see who the clinic serves, never clinical data.",
    }
}

pub async fn form(
    State(state): State<AppState>,
    auth: Option<Auth>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let Some(auth) = auth else {
        return Ok(crate::auth::reauth::log_in_then(&format!(
            "/clinic/join/{code}"
        )));
    };
    let Some(hash) = invite_code_hash(&code) else {
        return Ok(unusable(&auth));
    };
    let account = auth.session.account_id;
    let found = blocking(&state, move |s| {
        Ok((s.member_invite(&hash)?, s.account(account)?))
    })
    .await?;
    let now = state.now();
    let view = match found {
        (Some((clinic, invite)), Some(me))
            if invite.usable(now) && me.email.trim().to_lowercase() == invite.email =>
        {
            InviteView {
                clinic: clinic.name,
                email: invite.email,
                role: invite.role.label(),
                role_means: role_means(invite.role),
                name: invite.display_name,
            }
        }
        _ => return Ok(unusable(&auth)),
    };
    Ok(page(&JoinTeamPage {
        chrome: auth.chrome("Join a clinic's team", "clinic"),
        invite: Some(view),
        code,
    }))
}

pub async fn accept(
    State(state): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let Some(hash) = invite_code_hash(&code) else {
        return Ok(unusable(&auth));
    };
    let account = auth.session.account_id;
    let now = state.now();
    match blocking(&state, move |s| s.accept_member_invite(&hash, account, now)).await {
        // The clinic's pages ask for the second factor first.
        Ok(member) => Ok(see_other(&format!("/clinic?clinic={}", member.clinic_id))),
        Err(WebError::NotFound) => Ok(unusable(&auth)),
        Err(WebError::Conflict(_)) => Err(WebError::Conflict(
            "you are already on this clinic's team".into(),
        )),
        Err(e) => Err(e),
    }
}
