//! `/clinic/signup`: a practice signs up. A new account is made (or the
//! logged-in one used), the clinic is created with the default escalation
//! ladder and the founder as its first clinician. A new account is sent to
//! log in and then to set up the second factor, which clinic roles
//! require; an email that already has an account gets that same answer
//! and nothing is created.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use needlewise_core::clinic::{Clinic, Ladder, Member, Role};
use needlewise_core::ids::{AccountId, ClinicId};
use uuid::Uuid;

use super::page_with;
use crate::clinic_ctx::Session;
use crate::error::WebError;
use crate::pages::{page, see_other};
use crate::views::Chrome;
use crate::{AppState, auth, blocking, forms};

const NAME_MAX: usize = 100;

#[derive(Debug, Template)]
#[template(path = "clinic_signup.html")]
pub struct SignupPage {
    pub chrome: Chrome,
    /// Logged in already: no email or password fields.
    pub existing: bool,
    pub email: String,
    pub your_name: String,
    pub clinic_name: String,
    pub time_zone: String,
    pub message: String,
}

fn chrome(session: Option<&Session>) -> Chrome {
    match session {
        Some(s) => Chrome {
            title: "Sign up your clinic".into(),
            nav: "clinic",
            csrf: s.session.csrf_token.clone(),
            profile: String::new(),
            logged_in: true,
            unread: 0,
        },
        None => Chrome::public("Sign up your clinic"),
    }
}

pub async fn form(session: Option<Session>) -> Response {
    page(&SignupPage {
        chrome: chrome(session.as_ref()),
        existing: session.is_some(),
        email: String::new(),
        your_name: String::new(),
        clinic_name: String::new(),
        time_zone: "Europe/London".into(),
        message: String::new(),
    })
}

/// A name of 1 to 100 characters, trimmed.
fn name(value: &str, field: &str) -> Result<String, WebError> {
    needlewise_core::text::single_line(value, NAME_MAX)
        .map(str::to_owned)
        .map_err(|e| WebError::BadInput(format!("{field}: {e}")))
}

/// An IANA time zone name that this server knows.
pub fn time_zone(value: &str) -> Result<String, WebError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 64 || jiff::tz::TimeZone::get(v).is_err() {
        return Err(WebError::BadInput(
            "time zone: give an IANA name such as Europe/London or America/New_York".into(),
        ));
    }
    Ok(v.to_owned())
}

pub async fn submit(
    State(state): State<AppState>,
    session: Option<Session>,
    auth::ClientIp(ip): auth::ClientIp,
    body: Bytes,
) -> Result<Response, WebError> {
    if body.len() > 64 * 1024 {
        return Err(WebError::BadInput("the form is too large".into()));
    }
    let pairs = forms::pairs(&body);
    let get = |k: &str| forms::field(&pairs, k).unwrap_or_default().to_owned();
    if let Some(s) = &session {
        s.check_csrf(&get("csrf"))?;
    }
    let again = |e: WebError| {
        let status = e.status();
        page_with(
            status,
            &SignupPage {
                chrome: chrome(session.as_ref()),
                existing: session.is_some(),
                email: get("email"),
                your_name: get("your_name"),
                clinic_name: get("clinic_name"),
                time_zone: get("time_zone"),
                message: e.to_string(),
            },
        )
    };
    // Every field is checked before anything is created.
    let checked = (|| {
        Ok::<_, WebError>((
            name(&get("your_name"), "your name")?,
            name(&get("clinic_name"), "clinic name")?,
            time_zone(&get("time_zone"))?,
        ))
    })();
    let (your_name, clinic_name, tz) = match checked {
        Ok(v) => v,
        Err(e) => return Ok(again(e)),
    };
    let account: AccountId = match &session {
        Some(s) => s.session.account_id,
        None => {
            if auth::signups_over_limit(&state, &ip).await? {
                return Ok(again(WebError::TooMany(
                    "too many accounts were created from your address in the last hour; try again later".into(),
                )));
            }
            let email = match auth::check_credentials(&get("email"), &get("password")) {
                Ok(e) => e,
                Err(e) => return Ok(again(e)),
            };
            // A taken email gets the same answer as a new one, and no
            // clinic is made for the existing account (`auth::sign_up`).
            match auth::sign_up(&state, email, get("password"), auth::SignUpFor::Clinic).await? {
                Some((account, _)) => account.id,
                None => return Ok(see_other(&after_clinic_sign_up())),
            }
        }
    };
    let now = state.now();
    let clinic = Clinic {
        id: ClinicId(Uuid::now_v7()),
        name: clinic_name,
        time_zone: tz,
        ladder: Ladder::default(),
        created_at: now,
    };
    let founder = Member {
        clinic_id: clinic.id,
        account_id: account,
        role: Role::Clinician,
        display_name: your_name,
        joined_at: now,
    };
    let id = clinic.id;
    blocking(&state, move |s| s.create_clinic(&clinic, &founder)).await?;
    Ok(match session {
        Some(_) => see_other(&format!("/clinic?clinic={id}")),
        // Log in, then set up the second factor, which clinic roles need.
        None => see_other(&after_clinic_sign_up()),
    })
}

/// Where a clinic's sign-up without a session sends the browser, whether
/// the email was new or not: log in, then the second factor.
fn after_clinic_sign_up() -> String {
    auth::after_sign_up("clinic", "/mfa?next=%2Fclinic")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(time_zone(" Europe/Paris ").unwrap(), "Europe/Paris");
        assert!(time_zone("Mars/Olympus").is_err());
        assert!(time_zone("").is_err());
    }
}
