//! Sign-up, log-in, log-out and profiles.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use needlewise_core::ids::ProfileId;
use needlewise_core::records::Profile;
use uuid::Uuid;

use super::{checked_form, page, see_other, see_other_with_cookie};
use crate::auth::{self, Auth, ClientIp, Me, reauth};
use crate::error::WebError;
use crate::views::{AuthPage, Chrome, ProfilesPage};
use crate::{AppState, blocking, forms};

/// The `next` query or form field, made safe; empty when absent.
fn next_of(raw: Option<&str>) -> String {
    raw.filter(|n| !n.is_empty())
        .map(reauth::safe_next)
        .unwrap_or_default()
}

#[derive(Debug, serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    /// Set by a sign-up (`1`, or `clinic` from the clinic's form).
    signed_up: Option<String>,
}

/// The note on the log-in page after a sign-up. It reads the same whether
/// the email was new or not: the sign-up's answer must not tell.
fn signed_up_note(kind: Option<&str>) -> String {
    match kind {
        Some("clinic") => "If this email address had no account yet, your account and your clinic \
            are ready: log in to set up the second factor. If it had one already, nothing was \
            created: log in with that account's password and sign up the clinic from there."
            .into(),
        Some(_) => "If this email address had no account yet, your account is ready: log in. \
            If it had one already, nothing changed: log in with that account's password."
            .into(),
        None => String::new(),
    }
}

fn auth_page(signup: bool, email: String, message: String, next: String) -> AuthPage {
    auth_page_noted(signup, email, message, String::new(), next)
}

fn auth_page_noted(
    signup: bool,
    email: String,
    message: String,
    notice: String,
    next: String,
) -> AuthPage {
    let heading = if signup {
        "Create an account"
    } else {
        "Log in"
    };
    let other = if signup { "/login" } else { "/signup" };
    AuthPage {
        chrome: Chrome::public(heading),
        heading,
        action: if signup { "/signup" } else { "/login" },
        signup,
        email,
        message,
        notice,
        other: if next.is_empty() {
            other.to_owned()
        } else {
            reauth::with_next(other, &next)
        },
        next,
    }
}

pub async fn signup_form(Query(q): Query<NextQuery>) -> Response {
    page(&auth_page(
        true,
        String::new(),
        String::new(),
        next_of(q.next.as_deref()),
    ))
}

pub async fn login_form(Query(q): Query<LoginQuery>) -> Response {
    page(&auth_page_noted(
        false,
        String::new(),
        String::new(),
        signed_up_note(q.signed_up.as_deref()),
        next_of(q.next.as_deref()),
    ))
}

fn bad_form(signup: bool, email: &str, next: String, e: WebError) -> Response {
    let status = e.status();
    let mut r = page(&auth_page(signup, email.to_owned(), e.to_string(), next));
    *r.status_mut() = status;
    r
}

pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = forms::pairs(&body);
    let email = forms::field(&pairs, "email").unwrap_or_default();
    let password = forms::field(&pairs, "password").unwrap_or_default();
    let next = next_of(forms::field(&pairs, "next"));
    if auth::signups_over_limit(&state, &ip).await? {
        return Ok(bad_form(true, email, next, WebError::TooMany(
            "too many accounts were created from your address in the last hour; try again later".into(),
        )));
    }
    let email = match auth::check_credentials(email, password) {
        Ok(e) => e,
        Err(e) => return Ok(bad_form(true, email, next, e)),
    };
    // A new email and a taken one get the same answer: no session, the
    // log-in page with a note that does not say which (`auth::sign_up`).
    auth::sign_up(&state, email, password.to_owned(), auth::SignUpFor::Person).await?;
    let next = if next.is_empty() {
        "/screening".to_owned()
    } else {
        next
    };
    Ok(see_other(&auth::after_sign_up("1", &next)))
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = forms::pairs(&body);
    let email = forms::field(&pairs, "email")
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let password = forms::field(&pairs, "password")
        .unwrap_or_default()
        .to_owned();
    let next = next_of(forms::field(&pairs, "next"));
    // An address that guesses too much is refused, and so is one address
    // guessing one email; another address (the account's owner) is not,
    // however much someone else guessed. Past the per-minute limit on the
    // email from all addresses together, every attempt on it waits a
    // second: the attacker slows, the owner still gets in.
    if auth::over_limit(
        &state,
        vec![format!("ip:{ip}"), format!("email-from:{email}|{ip}")],
    )
    .await?
    {
        return Ok(bad_form(false, &email, next, WebError::RateLimited));
    }
    if auth::over_limit(&state, vec![format!("email:{email}")]).await? {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let lookup = email.clone();
    let account = blocking(&state, move |s| s.account_by_email(&lookup)).await?;
    let ok =
        auth::verify_password(account.as_ref().map(|a| a.password_hash.clone()), password).await?;
    let Some(account) = account.filter(|_| ok) else {
        return Ok(bad_form(
            false,
            &email,
            next,
            WebError::BadInput("the email or password is not right".into()),
        ));
    };
    let id = account.id;
    let first = blocking(&state, move |s| s.profiles(id))
        .await?
        .first()
        .map(|p| p.id);
    let token = auth::start_session(&state, account.id, first).await?;
    Ok(see_other_with_cookie(
        if next.is_empty() { "/" } else { &next },
        auth::session_cookie(&state, &token),
    ))
}

pub async fn logout(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let hash = auth.session.token_hash.clone();
    blocking(&state, move |s| s.delete_web_session(&hash)).await?;
    let mut response = see_other_with_cookie("/login", auth::clear_cookie(&state));
    // The phone forgets what the service worker kept (today's session
    // page, a session waiting to be sent) and the timer's progress.
    response.headers_mut().insert(
        "clear-site-data",
        axum::http::HeaderValue::from_static("\"cache\", \"storage\""),
    );
    Ok(response)
}

pub async fn profiles(State(state): State<AppState>, auth: Auth) -> Response {
    let profiles = auth
        .profiles
        .iter()
        .map(|p| (p.id.to_string(), p.name.clone(), p.id == auth.profile.id))
        .collect();
    page(&ProfilesPage {
        chrome: auth.chrome("Profiles", ""),
        profiles,
        time_zone: auth.profile.time_zone.clone().unwrap_or_default(),
        server_zone: state.tz.iana_name().unwrap_or("UTC").to_owned(),
    })
}

/// Sets the working profile's own time zone (an IANA name such as
/// `Europe/Paris`), or clears it to use the server's.
pub async fn set_time_zone(
    State(state): State<AppState>,
    auth: Auth,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let raw = forms::field(&pairs, "time_zone").unwrap_or_default().trim();
    let zone = if raw.is_empty() {
        None
    } else {
        let tz = jiff::tz::TimeZone::get(raw).map_err(|_| {
            WebError::BadInput(format!(
                "time_zone: {raw:?} is not a time zone name; use one such as Europe/London or America/New_York"
            ))
        })?;
        Some(tz.iana_name().unwrap_or(raw).to_owned())
    };
    let profile = auth.profile.id;
    blocking(&state, move |s| {
        s.set_profile_time_zone(profile, zone.as_deref())
    })
    .await?;
    Ok(see_other("/profiles"))
}

pub async fn add_profile(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let name = needlewise_core::text::single_line(forms::required(&pairs, "name")?, 60)
        .map_err(|e| WebError::BadInput(format!("name: {e}")))?
        .to_owned();
    let profile = Profile {
        id: ProfileId(Uuid::now_v7()),
        account_id: auth.session.account_id,
        name,
        created_at: state.now(),
        time_zone: None,
    };
    let hash = auth.session.token_hash.clone();
    blocking(&state, move |s| {
        s.create_profile(&profile)?;
        s.set_web_session_profile(&hash, profile.id)
    })
    .await?;
    Ok(see_other("/"))
}

pub async fn switch_profile(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let id: ProfileId = forms::required(&pairs, "profile")?
        .parse()
        .map_err(|_| WebError::NotFound)?;
    if !auth.profiles.iter().any(|p| p.id == id) {
        return Err(WebError::NotFound);
    }
    let hash = auth.session.token_hash.clone();
    blocking(&state, move |s| s.set_web_session_profile(&hash, id)).await?;
    Ok(see_other("/"))
}
