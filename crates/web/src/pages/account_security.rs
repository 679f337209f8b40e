//! The account's security: the TOTP second factor (`/mfa`), entering the
//! password again before a sensitive change (`/reauth`), the list of
//! sessions with the power to end them (`/account/sessions`), and in-app
//! notifications (`/notifications`).
//!
//! What counts as a recent verification, and where the browser goes to get
//! one, is [`crate::auth::reauth`]'s; this module holds the pages. Codes
//! and passwords typed here are rate limited per account like log-ins, in
//! the store, so several instances count together.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use needlewise_core::ids::{AccountId, NotificationId};
use needlewise_store::clinic::TotpSecret;
use serde::Deserialize;

use super::{checked_form, page, see_other, see_other_with_cookie};
use crate::auth::reauth::{RECENT, recently_verified, require_recent, safe_next, with_next};
use crate::auth::{self, Auth, Me};
use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, blocking, forms, read, totp};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mfa", get(mfa_form).post(mfa_submit))
        .route("/mfa/disable", post(mfa_disable))
        .route("/reauth", get(reauth_form).post(reauth_submit))
        .route("/account/sessions", get(sessions))
        .route("/account/sessions/end", post(end_session))
        .route("/account/sessions/end-others", post(end_others))
        .route("/account/password", post(change_password))
        .route("/notifications", get(notifications))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/{id}/read", post(mark_read))
}

/// The account's unread notifications; 0 (logged) if the store cannot say.
pub async fn unread_count(state: &AppState, account: AccountId) -> u64 {
    match read(state, move |s| s.unread_notifications(account)).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot count unread notifications");
            0
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
}

impl Next {
    fn path(&self, default: &str) -> String {
        safe_next(self.next.as_deref().unwrap_or(default))
    }
}

fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r
}

/// Counts one typed code or password under `key`; `true` when over the
/// limit.
async fn limited(state: &AppState, what: &str, account: AccountId) -> Result<bool, WebError> {
    let per_minute = auth::over_limit(state, vec![format!("{what}:{account}")]).await?;
    // Codes also have a longer window (see `auth::CODES_PER_WINDOW`).
    let per_window = what == "mfa" && auth::codes_over_limit(state, account).await?;
    Ok(per_minute || per_window)
}

// ---------------------------------------------------------------- /mfa

#[derive(Debug, Template)]
#[template(path = "security_mfa.html")]
pub struct MfaPage {
    pub chrome: Chrome,
    /// A confirmed second factor exists: ask for a code.
    pub enabled: bool,
    /// While enrolling: the secret in groups of four, and the key URI.
    pub secret: String,
    pub uri: String,
    /// The key URI as an inline SVG QR code; empty when not enrolling.
    pub qr: String,
    pub next: String,
    pub message: String,
    pub verified: bool,
}

fn mfa_page(auth: &Auth, enabled: bool, secret: Option<(&[u8], &str)>, next: String) -> MfaPage {
    MfaPage {
        chrome: auth.chrome("Second factor", ""),
        enabled,
        secret: secret
            .map(|(s, _)| totp::base32_grouped(s))
            .unwrap_or_default(),
        uri: secret
            .map(|(s, email)| totp::otpauth_uri(email, s))
            .unwrap_or_default(),
        qr: secret
            .and_then(|(s, email)| totp::qr_svg(&totp::otpauth_uri(email, s)))
            .unwrap_or_default(),
        next,
        message: String::new(),
        verified: false,
    }
}

async fn account_email(state: &AppState, account: AccountId) -> Result<String, WebError> {
    Ok(blocking(state, move |s| s.account(account))
        .await?
        .map(|a| a.email)
        .unwrap_or_default())
}

/// The second factor: a code to enter, or (without one) enrolment.
pub async fn mfa_form(Me { state, auth }: Me, Query(q): Query<Next>) -> Result<Response, WebError> {
    let account = auth.session.account_id;
    let now = state.now();
    let next = q.path("/mfa");
    let current = blocking(&state, move |s| s.totp(account)).await?;
    if current.as_ref().is_some_and(|t| t.enabled_at.is_some()) {
        let mut p = mfa_page(&auth, true, None, next);
        p.verified = recently_verified(&auth.session, now);
        return Ok(page(&p));
    }
    // Turning the second factor on is a sensitive change.
    if let Err(r) = require_enrol(&auth, now, &next) {
        return Ok(r);
    }
    // A pending secret is shown again only to the session it was made for:
    // any other session (another browser that knows the password) gets a
    // fresh one, which replaces it and is bound to that session instead.
    let hash = auth.session.token_hash.clone();
    // Started from another session (another browser that knows the
    // password, or this person elsewhere): say so, whoever sees it.
    let replaced = current
        .as_ref()
        .is_some_and(|p| p.pending_session.as_deref().is_some_and(|s| s != hash));
    let secret = match current {
        Some(pending) if pending.pending_session.as_deref() == Some(hash.as_str()) => {
            pending.secret
        }
        _ => {
            let secret = totp::new_secret()
                .map_err(|e| WebError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
            let row = TotpSecret {
                account_id: account,
                secret: secret.clone(),
                enabled_at: None,
                last_step: 0,
                pending_session: Some(hash),
            };
            if !blocking(&state, move |s| s.begin_totp(&row)).await? {
                // Turned on meanwhile, from another session: ask for a code.
                return Ok(see_other(&with_next("/mfa", &next)));
            }
            secret
        }
    };
    let email = account_email(&state, account).await?;
    let mut p = mfa_page(&auth, false, Some((&secret, &email)), next);
    if replaced {
        p.message = REPLACED.to_owned();
    }
    Ok(page(&p))
}

/// Shown when setting up the second factor had been started from another
/// session, whose key this page has just replaced.
pub const REPLACED: &str = "Setting up a second factor had been started from another browser or \
     device; that key no longer works, and the one below replaces it. If that was not you, \
     change your password now.";

/// Turning the second factor on needs a recent verification, or a log-in
/// (the password) within [`RECENT`]: right after signing up or logging in,
/// nobody is asked for the password twice.
#[allow(clippy::result_large_err)]
fn require_enrol(auth: &Auth, now: Timestamp, next: &str) -> Result<(), Response> {
    if now.duration_since(auth.session.created_at) <= RECENT {
        return Ok(());
    }
    let back = if next == "/mfa" {
        "/mfa".to_owned()
    } else {
        with_next("/mfa", next)
    };
    require_recent(&auth.session, now, &back)
}

/// A code: confirms enrolment, or verifies this session.
pub async fn mfa_submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let next = safe_next(forms::field(&pairs, "next").unwrap_or("/"));
    let code = forms::field(&pairs, "code").unwrap_or_default().to_owned();
    let account = auth.session.account_id;
    let now = state.now();
    let Some(current) = blocking(&state, move |s| s.totp(account)).await? else {
        return Ok(see_other(&with_next("/mfa", &next)));
    };
    let enabled = current.enabled_at.is_some();
    if !enabled && let Err(r) = require_enrol(&auth, now, &next) {
        return Ok(r);
    }
    let hash = auth.session.token_hash.clone();
    // A pending secret made for another session is not this one's to see
    // or confirm: back to /mfa, which makes this session its own.
    if !enabled && current.pending_session.as_deref() != Some(hash.as_str()) {
        return Ok(see_other(&with_next("/mfa", &next)));
    }
    let refuse = |message: &str, status: StatusCode, email: &str| {
        let secret = (!enabled).then_some((current.secret.as_slice(), email));
        let mut p = mfa_page(&auth, enabled, secret, next.clone());
        p.message = message.to_owned();
        with_status(page(&p), status)
    };
    let email = if enabled {
        String::new()
    } else {
        account_email(&state, account).await?
    };
    if limited(&state, "mfa", account).await? {
        return Ok(refuse(
            &WebError::RateLimited.to_string(),
            StatusCode::TOO_MANY_REQUESTS,
            &email,
        ));
    }
    let Some(step) = totp::verify(&current.secret, &code, now) else {
        return Ok(refuse(
            "that code is not right: check the clock on your phone and type the 6 digits your authenticator app shows now",
            StatusCode::UNPROCESSABLE_ENTITY,
            &email,
        ));
    };
    if enabled {
        let fresh = blocking(&state, move |s| {
            let fresh = s.use_totp_step(account, step)?;
            if fresh {
                s.mark_web_session_verified(&hash, now)?;
            }
            Ok(fresh)
        })
        .await?;
        if !fresh {
            return Ok(refuse(
                "that code has been used already: wait for the next one (codes change every 30 seconds)",
                StatusCode::UNPROCESSABLE_ENTITY,
                &email,
            ));
        }
    } else {
        let secret = current.secret.clone();
        let confirmed = blocking(&state, move |s| {
            let confirmed = s.confirm_totp(account, &hash, &secret, now, step)?;
            if confirmed {
                s.mark_web_session_verified(&hash, now)?;
            }
            Ok(confirmed)
        })
        .await?;
        if !confirmed {
            // Another session started over (or finished) meanwhile.
            return Ok(see_other(&with_next("/mfa", &next)));
        }
    }
    Ok(see_other(&next))
}

/// Turns the second factor off (after a recent verification).
pub async fn mfa_disable(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    if let Err(r) = require_recent(&auth.session, state.now(), "/mfa") {
        return Ok(r);
    }
    let account = auth.session.account_id;
    // Clinic roles require the second factor: a member cannot turn it off.
    if !blocking(&state, move |s| s.memberships(account))
        .await?
        .is_empty()
    {
        return Err(WebError::Forbidden(
            "members of a clinic need the second factor, so it stays on".into(),
        ));
    }
    blocking(&state, move |s| s.set_totp(account, None)).await?;
    Ok(see_other("/mfa"))
}

// ---------------------------------------------------------------- /reauth

#[derive(Debug, Template)]
#[template(path = "security_reauth.html")]
pub struct ReauthPage {
    pub chrome: Chrome,
    pub next: String,
    pub mfa_link: String,
    pub message: String,
}

fn reauth_page(auth: &Auth, next: String, message: &str) -> ReauthPage {
    ReauthPage {
        chrome: auth.chrome("Confirm it is you", ""),
        mfa_link: with_next("/mfa", &next),
        next,
        message: message.to_owned(),
    }
}

pub async fn reauth_form(auth: Auth, Query(q): Query<Next>) -> Response {
    page(&reauth_page(&auth, q.path("/"), ""))
}

pub async fn reauth_submit(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let next = safe_next(forms::field(&pairs, "next").unwrap_or("/"));
    let password = forms::field(&pairs, "password")
        .unwrap_or_default()
        .to_owned();
    let account = auth.session.account_id;
    // With a second factor on, the password alone never verifies a session
    // that has not passed the code: else a stolen password would reach the
    // clinic pages (and could turn the second factor off) through here.
    if auth.session.verified_at.is_none()
        && blocking(&state, move |s| s.totp(account))
            .await?
            .is_some_and(|t| t.enabled_at.is_some())
    {
        return Ok(see_other(&with_next("/mfa", &next)));
    }
    if limited(&state, "reauth", account).await? {
        return Ok(with_status(
            page(&reauth_page(
                &auth,
                next,
                &WebError::RateLimited.to_string(),
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let hash = blocking(&state, move |s| s.account(account))
        .await?
        .map(|a| a.password_hash)
        .filter(|h| !h.is_empty());
    if !auth::verify_password(hash, password).await? {
        return Ok(with_status(
            page(&reauth_page(&auth, next, "that password is not right")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let now = state.now();
    let token = auth.session.token_hash.clone();
    blocking(&state, move |s| s.mark_web_session_verified(&token, now)).await?;
    Ok(see_other(&next))
}

// ---------------------------------------------------------------- sessions

#[derive(Debug, Clone)]
pub struct SessionView {
    pub handle: String,
    pub created: String,
    pub expires: String,
    pub verified: String,
    pub current: bool,
}

#[derive(Debug, Template)]
#[template(path = "security_sessions.html")]
pub struct SessionsPage {
    pub chrome: Chrome,
    pub sessions: Vec<SessionView>,
    pub others: usize,
}

pub async fn sessions(Me { state, auth }: Me) -> Result<Response, WebError> {
    let account = auth.session.account_id;
    let now = state.now();
    let list = blocking(&state, move |s| s.web_sessions_of(account, now)).await?;
    let current = auth.session.token_hash.clone();
    let sessions: Vec<SessionView> = list
        .iter()
        .map(|s| SessionView {
            handle: s.handle(),
            created: state.local(s.created_at),
            expires: state.local(s.expires_at),
            verified: s.verified_at.map(|t| state.local(t)).unwrap_or_default(),
            current: s.token_hash == current,
        })
        .collect();
    let others = sessions.iter().filter(|s| !s.current).count();
    Ok(page(&SessionsPage {
        chrome: auth.chrome("Your sessions", ""),
        sessions,
        others,
    }))
}

/// Changes the password: the current one is asked again (that is the
/// re-authentication; wrong guesses count against the per-minute limit),
/// the new one follows the sign-up rules, and every other session of the
/// account ends in the same transaction.
pub async fn change_password(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let current = forms::field(&pairs, "current_password")
        .unwrap_or_default()
        .to_owned();
    let new = forms::field(&pairs, "new_password")
        .unwrap_or_default()
        .to_owned();
    let account = auth.session.account_id;
    if auth::over_limit(&state, vec![format!("password:{account}")]).await? {
        return Err(WebError::RateLimited);
    }
    let stored = blocking(&state, move |s| s.account(account))
        .await?
        .map(|a| a.password_hash)
        .filter(|h| !h.is_empty());
    if !auth::verify_password(stored, current).await? {
        return Err(WebError::BadInput(
            "current password: that is not your password".into(),
        ));
    }
    auth::check_password("new password", &new)?;
    let hash = auth::hash_password(new).await?;
    let keep = auth.session.token_hash.clone();
    blocking(&state, move |s| s.change_password(account, &hash, &keep)).await?;
    Ok(see_other("/account/sessions#password-changed"))
}

/// Ends one of the account's sessions, named by its handle. Ending the
/// current one logs out; ending another needs a recent verification.
pub async fn end_session(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let handle = forms::required(&pairs, "session")?.to_owned();
    let account = auth.session.account_id;
    let now = state.now();
    if auth.session.handle() == handle {
        let hash = auth.session.token_hash.clone();
        blocking(&state, move |s| s.delete_web_session(&hash)).await?;
        return Ok(see_other_with_cookie("/login", auth::clear_cookie(&state)));
    }
    if let Err(r) = require_recent(&auth.session, now, "/account/sessions") {
        return Ok(r);
    }
    blocking(&state, move |s| {
        let target = s
            .web_sessions_of(account, now)?
            .into_iter()
            .find(|w| w.handle() == handle)
            .ok_or(needlewise_store::StoreError::NotFound {
                what: "session".into(),
            })?;
        s.delete_web_session(&target.token_hash)
    })
    .await?;
    Ok(see_other("/account/sessions"))
}

/// Ends every session of the account but this one.
pub async fn end_others(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let now = state.now();
    if let Err(r) = require_recent(&auth.session, now, "/account/sessions") {
        return Ok(r);
    }
    let account = auth.session.account_id;
    let current = auth.session.token_hash.clone();
    blocking(&state, move |s| {
        for w in s.web_sessions_of(account, now)? {
            if w.token_hash != current {
                s.delete_web_session(&w.token_hash)?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(see_other("/account/sessions"))
}

// ---------------------------------------------------------------- notifications

#[derive(Debug, Clone)]
pub struct NotificationView {
    pub id: String,
    pub title: String,
    pub body: String,
    pub link: String,
    pub at: String,
    pub unread: bool,
}

#[derive(Debug, Template)]
#[template(path = "security_notifications.html")]
pub struct NotificationsPage {
    pub chrome: Chrome,
    pub notes: Vec<NotificationView>,
    pub unread: usize,
}

pub async fn notifications(Me { state, auth }: Me) -> Result<Response, WebError> {
    let account = auth.session.account_id;
    let list = blocking(&state, move |s| s.notifications(account, 200)).await?;
    let notes: Vec<NotificationView> = list
        .iter()
        .map(|n| NotificationView {
            id: n.id.to_string(),
            title: n.title.clone(),
            body: n.body.clone(),
            link: if n.link.is_empty() || safe_next(&n.link) != n.link {
                String::new()
            } else {
                n.link.clone()
            },
            at: state.local(n.created_at),
            unread: n.read_at.is_none(),
        })
        .collect();
    let unread = notes.iter().filter(|n| n.unread).count();
    Ok(page(&NotificationsPage {
        chrome: auth.chrome("Notifications", ""),
        notes,
        unread,
    }))
}

pub async fn mark_read(
    Me { state, auth }: Me,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let id: NotificationId = id.parse().map_err(|_| WebError::NotFound)?;
    let account = auth.session.account_id;
    let now = state.now();
    blocking(&state, move |s| s.mark_notification_read(account, id, now)).await?;
    Ok(see_other("/notifications"))
}

pub async fn read_all(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let account = auth.session.account_id;
    let now = state.now();
    blocking(&state, move |s| {
        for n in s.notifications(account, 1000)? {
            if n.read_at.is_none() {
                s.mark_notification_read(account, n.id, now)?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(see_other("/notifications"))
}
