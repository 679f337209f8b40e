//! Server-rendered pages. Every form works without JavaScript; every
//! state change checks the session's CSRF token.

pub mod account;
pub mod account_security;
pub mod aftercare;
pub mod appointments;
pub mod care_team;
pub mod checkin;
pub mod clinic;
pub mod delete;
pub mod devices;
pub mod evidence;
pub mod home;
pub mod messages;
pub mod more;
pub mod progress;
pub mod ready;
pub mod report;
pub mod schedule;
pub mod screening;
pub mod session;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::auth::Auth;
use crate::error::WebError;
use crate::forms;

/// Parses a form body and checks its CSRF token.
pub fn checked_form(auth: &Auth, body: &Bytes) -> Result<Vec<(String, String)>, WebError> {
    if body.len() > 64 * 1024 {
        return Err(WebError::BadInput("the form is too large".into()));
    }
    let pairs = forms::pairs(body);
    auth.check_csrf(forms::field(&pairs, "csrf").unwrap_or_default())?;
    Ok(pairs)
}

/// A page.
pub fn page(t: &impl askama::Template) -> Response {
    Html(crate::views::render(t)).into_response()
}

/// A form shown again because its answers were refused (422), with every
/// answer kept and each problem next to its question.
pub fn form_again(t: &impl askama::Template) -> Response {
    (
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        Html(crate::views::render(t)),
    )
        .into_response()
}

/// After a successful POST: see the result with a GET (no resubmission).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A redirect that also sets a cookie.
pub fn see_other_with_cookie(to: &str, cookie: String) -> Response {
    ([(header::SET_COOKIE, cookie)], Redirect::to(to)).into_response()
}
