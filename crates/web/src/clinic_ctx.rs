//! Who is asking on a clinic page: the logged-in account, its memberships,
//! the clinic chosen and the member's role there.
//!
//! A clinician's account may have a patient profile too, but clinic pages
//! never need one, so this reads the session itself rather than through
//! [`crate::auth::Auth`]. The store checks every read again
//! ([`ClinicAccess`] carries no role: the store looks it up), so this is
//! the first gate, not the only one.
//!
//! Order of checks: no session → the log-in page; not a member of the
//! clinic asked for (or of any) → 404, so an outsider learns nothing; no
//! second factor this session → `/mfa?next=<path>`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use needlewise_core::clinic::{Clinic, Member, Role};
use needlewise_core::ids::ClinicId;
use needlewise_store::WebSession;
use needlewise_store::clinic::ClinicAccess;

use crate::AppState;
use crate::auth::{self, reauth, token_from, token_hash};
use crate::error::WebError;

/// A logged-in account, with or without a patient profile.
#[derive(Debug, Clone)]
pub struct Session {
    pub session: WebSession,
}

impl Session {
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        auth::check_csrf(&self.session, token)
    }
}

async fn session_of(parts: &Parts, state: &AppState) -> Result<Option<WebSession>, WebError> {
    let Some(token) = token_from(&parts.headers, state) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let now = state.now();
    crate::read(state, move |s| s.web_session(&hash, now)).await
}

impl FromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        session_of(parts, state)
            .await?
            .map(|session| Session { session })
            .ok_or(WebError::Unauthenticated)
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, WebError> {
        Ok(session_of(parts, state)
            .await?
            .map(|session| Session { session }))
    }
}

/// A member of a clinic, on one of its pages.
#[derive(Debug, Clone)]
pub struct ClinicCtx {
    pub session: WebSession,
    /// Every clinic the account belongs to, oldest membership first.
    pub memberships: Vec<(Clinic, Member)>,
    pub clinic: Clinic,
    pub member: Member,
    pub access: ClinicAccess,
}

impl ClinicCtx {
    pub fn role(&self) -> Role {
        self.member.role
    }

    pub fn is_clinician(&self) -> bool {
        self.member.role.reads_clinical_data()
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }

    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        auth::check_csrf(&self.session, token)
    }

    /// Refuses clinical pages to staff, plainly (403).
    pub fn require_clinician(&self) -> Result<(), WebError> {
        if self.is_clinician() {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "this page holds clinical data, which only clinicians may see".into(),
            ))
        }
    }

    /// A path on this clinic's pages, keeping the clinic chosen when the
    /// account belongs to more than one.
    pub fn link(&self, path: &str) -> String {
        if self.memberships.len() > 1 {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}clinic={}", self.clinic.id)
        } else {
            path.to_owned()
        }
    }

    /// A moment in the clinic's time zone, to the minute.
    pub fn local(&self, t: Timestamp) -> String {
        local_in(&self.clinic.time_zone, t)
    }
}

/// A moment in an IANA time zone (UTC if the name is unknown), to the minute.
pub fn local_in(tz: &str, t: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    crate::views::moment(&t.to_zoned_datetime(tz))
}

/// Why a clinic page was refused.
#[derive(Debug)]
pub enum Denied {
    /// Not logged in.
    Login,
    /// Logged in, but the second factor has not been passed this session.
    Mfa(String),
    Web(WebError),
}

impl Denied {
    /// The refusal as the JSON API gives it: 401, 404, or 403 with code
    /// `forbidden` when the second factor is missing.
    pub fn into_web_error(self) -> WebError {
        match self {
            Denied::Login => WebError::Unauthenticated,
            Denied::Mfa(_) => WebError::Forbidden(
                "clinic data needs your second factor: verify at /mfa first".into(),
            ),
            Denied::Web(e) => e,
        }
    }
}

impl From<WebError> for Denied {
    fn from(e: WebError) -> Self {
        Denied::Web(e)
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Login => WebError::Unauthenticated.into_response(),
            Denied::Mfa(next) => Redirect::to(&reauth::with_next("/mfa", &next)).into_response(),
            Denied::Web(e) => e.into_response(),
        }
    }
}

/// Percent-encodes a path for a `next=` parameter.
pub fn encode(path: &str) -> String {
    form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

/// The clinic asked for with `?clinic=<id>`, if any.
fn clinic_param(parts: &Parts) -> Option<String> {
    let q = parts.uri.query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "clinic")
        .map(|(_, v)| v.into_owned())
}

async fn load(parts: &Parts, state: &AppState) -> Result<ClinicCtx, Denied> {
    // The session, its memberships and its second factor in one read.
    let token = token_from(&parts.headers, state).ok_or(Denied::Login)?;
    let hash = token_hash(&token);
    let now = state.now();
    let found = crate::read(state, move |s| s.clinic_web_session(&hash, now))
        .await?
        .ok_or(Denied::Login)?;
    let (session, memberships, totp) = (found.session, found.memberships, found.totp);
    let account = session.account_id;
    let wanted = match clinic_param(parts) {
        None => None,
        Some(id) => Some(
            id.parse::<ClinicId>()
                .map_err(|_| Denied::Web(WebError::NotFound))?,
        ),
    };
    let (clinic, member) = memberships
        .iter()
        .find(|(c, _)| wanted.is_none_or(|w| w == c.id))
        .cloned()
        .ok_or(Denied::Web(WebError::NotFound))?;
    // Clinic roles need a second factor: TOTP enabled on the account, and
    // this session verified since it was enabled (a password confirmation
    // from before, or on an account without TOTP, does not count).
    let second_factor = match (totp.and_then(|t| t.enabled_at), session.verified_at) {
        (Some(enabled), Some(verified)) => verified >= enabled,
        _ => false,
    };
    if !second_factor {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/clinic", |p| p.as_str())
            .to_owned();
        return Err(Denied::Mfa(next));
    }
    Ok(ClinicCtx {
        access: ClinicAccess {
            clinic: clinic.id,
            account,
        },
        session,
        memberships,
        clinic,
        member,
    })
}

impl FromRequestParts<AppState> for ClinicCtx {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Denied> {
        load(parts, state).await
    }
}
