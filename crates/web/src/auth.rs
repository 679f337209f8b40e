//! Accounts, server-side sessions, CSRF and log-in rate limits; the
//! re-authentication policy is in [`reauth`].

pub mod reauth;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use data_encoding::HEXLOWER;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::ids::{AccountId, ProfileId};
use needlewise_core::records::{Account, Profile};
use needlewise_store::WebSession;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, blocking};

/// The session cookie's name: `__Host-` when served over TLS.
pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies() {
        "__Host-nw_session"
    } else {
        "nw_session"
    }
}

/// A `Set-Cookie` value for a new session token.
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let max_age = i64::from(state.config.session_hours) * 3600;
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        cookie_name(state)
    )
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> String {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        cookie_name(state)
    )
}

/// 32 random bytes as hex.
pub fn random_token() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| WebError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(HEXLOWER.encode(&bytes))
}

/// The store keeps only this hash of a session token.
pub fn token_hash(token: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// The stored hash of an invitation code from a link (64 hex digits, any
/// case); `None` for anything else, which no invitation can match.
pub fn invite_code_hash(code: &str) -> Option<String> {
    (code.len() == 64 && code.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| token_hash(&code.to_ascii_lowercase()))
}

/// Refuses a state change whose CSRF token is not the session's; the
/// tokens are compared in constant time.
pub fn check_csrf(session: &WebSession, token: &str) -> Result<(), WebError> {
    if bool::from(token.as_bytes().ct_eq(session.csrf_token.as_bytes())) {
        Ok(())
    } else {
        Err(WebError::Csrf)
    }
}

/// Hashes a password with argon2id, off the async executor.
pub async fn hash_password(password: String) -> Result<String, WebError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| WebError::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await?
}

/// Checks a password, off the executor. With no account, it verifies
/// against a dummy hash so that unknown emails take as long as known ones.
pub async fn verify_password(hash: Option<String>, password: String) -> Result<bool, WebError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = match hash {
            Some(h) => h,
            None => DUMMY
                .get_or_init(|| {
                    let salt = SaltString::encode_b64(b"needlewise-dummy")
                        .unwrap_or_else(|_| SaltString::generate(&mut OsRng));
                    Argon2::default()
                        .hash_password(b"dummy password", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone(),
        };
        let ok = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        Ok(known && ok)
    })
    .await?
}

/// Checks an email and password at sign-up, naming what is wrong.
pub fn check_credentials(email: &str, password: &str) -> Result<String, WebError> {
    let email = email.trim().to_lowercase();
    let at = email.find('@');
    if email.len() > 254
        || at.is_none_or(|i| i == 0 || i == email.len() - 1)
        || email.contains(char::is_whitespace)
    {
        return Err(WebError::BadInput(
            "email: enter an address such as name@example.org".into(),
        ));
    }
    check_password("password", password)?;
    Ok(email)
}

/// A password of 10 to 200 characters; `field` names it in the message.
pub fn check_password(field: &str, password: &str) -> Result<(), WebError> {
    let chars = password.chars().count();
    if chars < 10 {
        return Err(WebError::BadInput(format!(
            "{field}: use at least 10 characters"
        )));
    }
    if chars > 200 {
        return Err(WebError::BadInput(format!(
            "{field}: use at most 200 characters"
        )));
    }
    Ok(())
}

/// Starts a session for an account: a fresh token every time (so the id
/// rotates at every log-in), stored only as its hash.
pub async fn start_session(
    state: &AppState,
    account: AccountId,
    profile: Option<ProfileId>,
) -> Result<String, WebError> {
    let token = random_token()?;
    let now = state.now();
    let session = WebSession {
        token_hash: token_hash(&token),
        account_id: account,
        csrf_token: random_token()?,
        profile_id: profile,
        created_at: now,
        expires_at: now
            .checked_add(SignedDuration::from_hours(i64::from(
                state.config.session_hours,
            )))
            .unwrap_or(Timestamp::MAX),
        verified_at: None,
    };
    blocking(state, move |s| s.create_web_session(&session)).await?;
    Ok(token)
}

/// What a sign-up form was for, to word the note to an address that
/// already has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpFor {
    Person,
    Clinic,
}

/// Creates an account with its first profile, or, when the email has an
/// account already, changes nothing and returns `None`. Both paths hash
/// the password and write to the store (the new account, or a note to the
/// address's owner when emails go out), so neither their answer nor their
/// time tells the requester whether the email was known; the callers give
/// the same response for both and log nobody in.
pub async fn sign_up(
    state: &AppState,
    email: String,
    password: String,
    purpose: SignUpFor,
) -> Result<Option<(Account, Profile)>, WebError> {
    let hash = hash_password(password).await?;
    let now = state.now();
    let account = Account {
        id: AccountId(Uuid::now_v7()),
        email,
        password_hash: hash,
        created_at: now,
    };
    let profile = Profile {
        id: ProfileId(Uuid::now_v7()),
        account_id: account.id,
        name: "me".into(),
        created_at: now,
        time_zone: None,
    };
    let (a, p) = (account.clone(), profile.clone());
    let created = blocking(state, move |s| {
        s.create_account(&a)?;
        s.create_profile(&p)
    })
    .await;
    match created {
        Ok(()) => Ok(Some((account, profile))),
        Err(WebError::Conflict(_)) => {
            if state.mailer.enabled() {
                let note = account_exists_note(&account.email, now, purpose, state);
                blocking(state, move |s| s.queue_email(&note)).await?;
            }
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// The email to an address that already has an account when someone signs
/// up with it again: nothing changed, and how to get in.
fn account_exists_note(
    to: &str,
    now: Timestamp,
    purpose: SignUpFor,
    state: &AppState,
) -> needlewise_store::clinic::Email {
    let login = state
        .config
        .public_url
        .as_deref()
        .map(|u| format!("{}/login", u.trim_end_matches('/')))
        .unwrap_or_else(|| "the log-in page".into());
    let what = match purpose {
        SignUpFor::Person => "create a needlewise account",
        SignUpFor::Clinic => "sign up a clinic on needlewise with a new account",
    };
    let after = match purpose {
        SignUpFor::Person => "",
        SignUpFor::Clinic => " Once logged in, sign up the clinic again from your account.",
    };
    needlewise_store::clinic::Email {
        id: needlewise_core::ids::EmailId(Uuid::now_v7()),
        to: to.to_owned(),
        subject: "needlewise: someone tried to sign up with your email".into(),
        body: format!(
            "Hello,\n\nSomeone, perhaps you, tried to {what} with this email address, which already has an account. Nothing was created and nothing about your account changed.\n\nIf it was you, log in at {login} with your existing password.{after}\n\nIf it was not you, you can ignore this email.\n\n-- needlewise\n"
        ),
        calendar: None,
        created_at: now,
        sent_at: None,
        attempts: 0,
        last_error: String::new(),
    }
}

/// Where both answers of a sign-up send the browser: the log-in page, with
/// a note that does not say whether the email was new, then `next`.
pub fn after_sign_up(kind: &str, next: &str) -> String {
    let mut to = format!("/login?signed_up={kind}");
    if !next.is_empty() {
        let next = reauth::safe_next(next);
        let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
        to.push_str("&next=");
        to.push_str(&encoded);
    }
    to
}

/// The logged-in browser: its session, account and current profile.
#[derive(Debug, Clone)]
pub struct Auth {
    pub session: WebSession,
    pub profile: Profile,
    pub profiles: Vec<Profile>,
}

impl Auth {
    /// Refuses a state change that does not carry the session's token.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        check_csrf(&self.session, token)
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }

    /// The frame of a page this person sees.
    pub fn chrome(&self, title: &str, nav: &'static str) -> Chrome {
        Chrome::signed_in(title, nav, self.csrf(), &self.profile.name)
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session token from the request's cookie, if any.
pub fn token_from(headers: &HeaderMap, state: &AppState) -> Option<String> {
    cookie(headers, cookie_name(state))
        .filter(|t| t.len() == 64)
        .map(str::to_owned)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_from(&parts.headers, state).ok_or(WebError::Unauthenticated)?;
        let hash = token_hash(&token);
        let now = state.now();
        let found = crate::read(state, move |s| s.web_session_with_profiles(&hash, now)).await?;
        let (session, profiles) = found.ok_or(WebError::Unauthenticated)?;
        let profile = needlewise_store::working_profile(&session, &profiles)
            .cloned()
            .ok_or(WebError::Unauthenticated)?;
        Ok(Auth {
            session,
            profile,
            profiles,
        })
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Auth {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(auth) => Ok(Some(auth)),
            Err(WebError::Unauthenticated) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The logged-in person as a handler needs them: their session and working
/// profile (`auth`), and the app's state in that profile's time zone
/// (`state`, see [`AppState::for_profile`]), so that "today", the times
/// shown and the actions' clock are theirs.
///
/// ```text
/// pub async fn show(Me { state, auth }: Me) -> Result<Response, WebError> { … }
/// ```
#[derive(Debug, Clone)]
pub struct Me {
    pub state: AppState,
    pub auth: Auth,
}

impl FromRequestParts<AppState> for Me {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        Ok(Me {
            state: state.for_profile(&auth.profile),
            auth,
        })
    }
}

/// The client's address, when the server was started with connection info
/// (tests that send no connection info get `"local"`). Behind a proxy or
/// balancer named in `trusted_proxies`, the address is read from
/// `X-Forwarded-For`, from the right: the first address that is not a
/// trusted proxy. From anyone else the header is ignored, so a client can
/// never choose its own address.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(ClientIp("local".to_owned()));
        };
        Ok(ClientIp(
            client_address(peer, &parts.headers, &state.config.trusted_proxies).to_string(),
        ))
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy,
/// then the rightmost `X-Forwarded-For` entry that is not one (a malformed
/// entry stops the walk at the last trusted hop).
pub fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

/// The start of the minute `now` falls in: rate-limit windows are whole
/// minutes, the same on every instance.
pub fn minute_window(now: Timestamp) -> Timestamp {
    let s = now.as_second();
    Timestamp::from_second(s - s.rem_euclid(60)).unwrap_or(now)
}

/// The stored form of a rate-limit key: a SHA-256, so that the table never
/// holds an email, address or account id (deleting an account leaves
/// nothing readable behind).
pub fn rate_key(key: &str) -> String {
    token_hash(&format!("needlewise rate limit:{key}"))
}

/// Counts one attempt under each key in the store (so every instance
/// counts together) and says whether any key is over
/// `login_attempts_per_minute` in this minute. Every key is counted, even
/// after one is over, so that the counts stay honest.
/// Counts one sign-up from `ip`; `true` when over the configured
/// `signups_per_hour` in the current hour (counted in the store, so every
/// instance counts together). The default, 10, is enough for a household
/// or a clinic's front desk behind one address and far too few to fill the
/// server.
pub async fn signups_over_limit(state: &AppState, ip: &str) -> Result<bool, WebError> {
    let now = state.now().as_second();
    let window = Timestamp::from_second(now - now.rem_euclid(3600)).unwrap_or(state.now());
    let key = rate_key(&format!("signup-hour:{ip}"));
    let hits = blocking(state, move |s| s.rate_limit_hit(&key, window)).await?;
    Ok(hits > state.config.signups_per_hour)
}

/// Second-factor codes typed per account in [`CODE_WINDOW`], at most: with
/// three codes valid at any moment, guessing one would take years at this
/// pace, where the per-minute log-in limit alone allowed it in weeks.
pub const CODES_PER_WINDOW: u32 = 10;
/// The longer window for second-factor codes.
pub const CODE_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// Counts one typed second-factor code of `account`; `true` when over
/// [`CODES_PER_WINDOW`] in the current quarter of an hour.
pub async fn codes_over_limit(state: &AppState, account: AccountId) -> Result<bool, WebError> {
    let now = state.now().as_second();
    let span = CODE_WINDOW.as_secs();
    let window = Timestamp::from_second(now - now.rem_euclid(span)).unwrap_or(state.now());
    let key = rate_key(&format!("mfa-window:{account}"));
    let hits = blocking(state, move |s| s.rate_limit_hit(&key, window)).await?;
    Ok(hits > CODES_PER_WINDOW)
}

pub async fn over_limit(state: &AppState, keys: Vec<String>) -> Result<bool, WebError> {
    let limit = state.config.login_attempts_per_minute;
    let window = minute_window(state.now());
    let keys: Vec<String> = keys.iter().map(|k| rate_key(k)).collect();
    blocking(state, move |s| {
        let mut over = false;
        for key in &keys {
            over |= s.rate_limit_hit(key, window)? > limit;
        }
        Ok(over)
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn tokens_and_hashes_are_lower_case_hex() {
        let t = random_token().unwrap();
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(t, random_token().unwrap());
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            invite_code_hash(&"AB".repeat(32)),
            Some(token_hash(&"ab".repeat(32)))
        );
        assert_eq!(invite_code_hash("ab"), None);
    }

    #[test]
    fn the_csrf_token_must_be_the_sessions_exactly() {
        let now = Timestamp::from_second(1_795_622_400).unwrap();
        let session = WebSession {
            token_hash: "h".into(),
            account_id: AccountId(Uuid::now_v7()),
            csrf_token: "c0ffee".into(),
            profile_id: None,
            created_at: now,
            expires_at: now,
            verified_at: None,
        };
        assert!(check_csrf(&session, "c0ffee").is_ok());
        for wrong in ["", "c0ffe", "c0ffee0", "C0FFEE", "c0ffef"] {
            assert!(
                matches!(check_csrf(&session, wrong), Err(WebError::Csrf)),
                "{wrong:?}"
            );
        }
    }
}
