//! One error type for the web layer. Pages get a plain HTML page, the API
//! gets JSON with a stable code; server errors log their cause and show
//! nothing of it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use needlewise_core::answers::InvalidAnswers;
use needlewise_core::hygiene::HygieneError;
use needlewise_store::StoreError;
use serde_json::json;

use crate::views;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("please log in")]
    Unauthenticated,
    #[error("this form has expired; go back, reload the page and try again")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("too many attempts; wait a minute and try again")]
    RateLimited,
    /// A per-profile limit on records (see `needlewise_actions::DailyLimits`).
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    InvalidAnswers(#[from] InvalidAnswers),
    #[error("{0}")]
    Hygiene(#[from] HygieneError),
    #[error("{0}")]
    Conflict(String),
    /// Known, but not allowed: a role that may not do this, or a change
    /// that needs the password or second factor again.
    #[error("{0}")]
    Forbidden(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::RateLimited | WebError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::BadInput(_) | WebError::InvalidAnswers(_) | WebError::Hygiene(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::Unauthenticated => "unauthenticated",
            WebError::Csrf => "csrf",
            WebError::NotFound => "not_found",
            WebError::RateLimited | WebError::TooMany(_) => "rate_limited",
            WebError::BadInput(_) => "bad_input",
            WebError::InvalidAnswers(_) => "invalid_answers",
            WebError::Hygiene(_) => "wrong_transition",
            WebError::Conflict(_) => "conflict",
            WebError::Forbidden(_) => "forbidden",
            WebError::Internal(_) => "internal",
        }
    }

    fn log(&self) {
        if let WebError::Internal(e) = self {
            tracing::error!(error = ?e, "request failed");
        }
    }

    /// The error as JSON, for the API.
    pub fn into_json(self) -> Response {
        self.log();
        let fields = match &self {
            WebError::InvalidAnswers(e) => json!(e.0),
            _ => json!([]),
        };
        let body =
            json!({"error": {"code": self.code(), "message": self.to_string(), "fields": fields}});
        (self.status(), Json(body)).into_response()
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => WebError::NotFound,
            StoreError::Conflict { .. } => WebError::Conflict(e.to_string()),
            StoreError::Forbidden { what } => {
                WebError::Forbidden(format!("your role cannot do this: {what}"))
            }
            other => WebError::Internal(other.into()),
        }
    }
}

impl From<needlewise_actions::ActionError> for WebError {
    fn from(e: needlewise_actions::ActionError) -> Self {
        use needlewise_actions::ActionError as A;
        match e {
            A::Answers(a) => WebError::InvalidAnswers(a),
            A::BadInput(m) => WebError::BadInput(m),
            A::Refused { message, .. } => {
                WebError::Conflict(format!("{message} Nothing was saved."))
            }
            A::NotFound(_) => WebError::NotFound,
            A::Forbidden(m) => WebError::Forbidden(m),
            // A bad spec (a needle of 0 mm, an empty name) is bad input,
            // not a step the cleaning cycle refused.
            A::Hygiene(h @ HygieneError::InvalidSpec { .. }) => WebError::BadInput(h.to_string()),
            A::Hygiene(h) => WebError::Hygiene(h),
            A::Store(s) => s.into(),
            A::TooMany(m) => WebError::TooMany(m),
        }
    }
}

impl From<tokio::task::JoinError> for WebError {
    fn from(e: tokio::task::JoinError) -> Self {
        WebError::Internal(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        if matches!(self, WebError::Unauthenticated) {
            return (
                StatusCode::SEE_OTHER,
                [(axum::http::header::LOCATION, "/login")],
            )
                .into_response();
        }
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let page = views::ErrorPage {
            chrome: views::Chrome::public(&title),
            title,
            message: self.to_string(),
            fields: match &self {
                WebError::InvalidAnswers(e) => {
                    e.0.iter()
                        .map(|f| (f.field.clone(), f.message.clone()))
                        .collect()
                }
                _ => Vec::new(),
            },
        };
        (status, Html(views::render(&page))).into_response()
    }
}
