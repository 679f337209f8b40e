//! One error type for the web layer. Pages get a plain HTML page, the API
//! gets JSON with a stable code; server errors log their cause and show
//! nothing of it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use needlewise_core::answers::InvalidAnswers;
use needlewise_core::evidence::{Question, QuestionKind};
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

impl WebError {
    /// The error as the service worker reads it when it sends a session
    /// kept offline (it asks for JSON): the stable code, and the page's own
    /// title and message in plain words, which the phone shows the person
    /// so that a refused session is never lost in silence.
    pub fn into_replay_json(self) -> Response {
        self.log();
        let body = json!({"error": {
            "code": self.code(),
            "title": self.title(),
            "message": self.page_message(),
        }});
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
            A::Conflict(m) => WebError::Conflict(m),
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

impl WebError {
    /// A title in plain words for the page that shows this error.
    pub fn title(&self) -> &'static str {
        match self {
            WebError::Unauthenticated => "Please log in",
            WebError::Csrf => "This form has expired",
            WebError::NotFound => "Page not found",
            WebError::RateLimited => "Too many tries",
            WebError::TooMany(_) => "That is all for today",
            WebError::BadInput(_) => "Something needs another look",
            WebError::InvalidAnswers(_) => "Some answers need another look",
            WebError::Hygiene(_) => "That cleaning step was not recorded",
            WebError::Conflict(_) => "That was not done",
            WebError::Forbidden(_) => "Not allowed",
            WebError::Internal(_) => "Something went wrong",
        }
    }

    /// The message a page shows: no answer ids and no machine timestamps
    /// (the API's `message` keeps the exact text).
    pub fn page_message(&self) -> String {
        use HygieneError as H;
        match self {
            WebError::InvalidAnswers(_) => {
                "Nothing was saved. Please go back and look at these answers again.".to_owned()
            }
            WebError::Hygiene(H::SoakTooShort {
                elapsed_min,
                required_min,
                ..
            }) => format!(
                "The roller has soaked for {elapsed_min} min; it needs at least {required_min} min in alcohol, so about {} min more.",
                (required_min - elapsed_min).max(1)
            ),
            WebError::Hygiene(H::DryTooShort {
                elapsed_min,
                required_min,
                ..
            }) => format!(
                "The roller has dried for {elapsed_min} min; it needs at least {required_min} min in the air, so about {} min more.",
                (required_min - elapsed_min).max(1)
            ),
            WebError::Hygiene(H::TimeWentBackwards { .. }) => {
                "The time given is before this device's last change. Check your device's date and time, then try again.".to_owned()
            }
            WebError::NotFound => {
                "There is nothing here to show you. Check the link, or start again from the home page.".to_owned()
            }
            WebError::Internal(_) => {
                "Something went wrong on our side. Nothing you did caused it; please try again in a moment.".to_owned()
            }
            // These name the form's field, as the person saw it.
            other => other.to_string(),
        }
    }
}

/// The question an answer id names, in whichever questionnaire has it.
fn question_named(id: &str) -> Option<&'static Question> {
    let base = needlewise_core::evidence();
    [&base.screening, &base.readiness, &base.checkin]
        .into_iter()
        .find_map(|q| q.question(id))
}

/// A problem the core found with an answer, in plain words for the
/// question's kind. The core's message names the field and the format for
/// files and the API; a person filling in a form needs neither.
pub fn plain_message(question: &Question, core_message: &str) -> String {
    let missing = core_message.starts_with("is missing");
    let future = core_message.contains("in the future");
    match &question.kind {
        QuestionKind::Bool => "Please choose yes or no.".to_owned(),
        QuestionKind::Choice { .. } => "Please choose one of the answers.".to_owned(),
        QuestionKind::Integer { min, max } => {
            format!("Please give a whole number from {min} to {max}.")
        }
        QuestionKind::Number { min, max } => format!("Please give a number from {min} to {max}."),
        QuestionKind::Date if missing => "Please give a date.".to_owned(),
        QuestionKind::Date if future => "Please give a date that is not in the future.".to_owned(),
        QuestionKind::Date => "Please give a real date.".to_owned(),
        QuestionKind::Exposure if missing => {
            "Please choose never, currently, or the date it stopped.".to_owned()
        }
        QuestionKind::Exposure if future => {
            "Please give the date it stopped; it cannot be in the future.".to_owned()
        }
        QuestionKind::Exposure => "Please give the real date it stopped.".to_owned(),
        QuestionKind::Zones => "Please choose zones from the list.".to_owned(),
        QuestionKind::Procedures if future => {
            "Please give each procedure the date it was done; it cannot be in the future."
                .to_owned()
        }
        QuestionKind::Procedures => {
            "Please give each procedure its kind and the real date it was done.".to_owned()
        }
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
        let title = self.title().to_owned();
        let page = views::ErrorPage {
            chrome: views::Chrome::public(&title),
            title,
            message: self.page_message(),
            // Each problem by its question's prompt, never its answer id.
            fields: match &self {
                WebError::InvalidAnswers(e) => {
                    e.0.iter()
                        .map(|f| match question_named(&f.field) {
                            Some(q) => (q.prompt.clone(), plain_message(q, &f.message)),
                            None => (
                                "An answer".to_owned(),
                                "It could not be read; please check it.".to_owned(),
                            ),
                        })
                        .collect()
                }
                _ => Vec::new(),
            },
        };
        (status, Html(views::render(&page))).into_response()
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use needlewise_core::answers::FieldError;

    fn body(e: WebError) -> (StatusCode, String) {
        let res = e.into_response();
        let status = res.status();
        let bytes = text_of(res);
        (status, bytes)
    }

    fn text_of(res: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            use http_body_util::BodyExt;
            let b = res.into_body().collect().await.expect("body").to_bytes();
            String::from_utf8_lossy(&b).into_owned()
        })
    }

    #[test]
    fn an_error_page_names_questions_by_their_prompt_in_plain_words() {
        let e = WebError::InvalidAnswers(InvalidAnswers(vec![FieldError {
            field: "cold_sores".into(),
            message: "is missing; expected true or false".into(),
        }]));
        let (status, page) = body(e);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.contains("<h1>Some answers need another look</h1>"),
            "{page}"
        );
        assert!(page.contains("Have you ever had cold sores (herpes simplex)?"));
        assert!(page.contains("Please choose yes or no."));
        assert!(!page.contains("cold_sores"), "{page}");
        assert!(!page.contains("Unprocessable Entity"));
        assert!(!page.contains("expected true or false"));
    }

    #[test]
    fn a_replayed_session_learns_why_in_plain_words() {
        let res = WebError::Conflict(
            "Not today: open red flag. Nothing was saved; see the session page for what to do."
                .into(),
        )
        .into_replay_json();
        assert_eq!(res.status(), StatusCode::CONFLICT);
        let v: serde_json::Value = serde_json::from_str(&text_of(res)).expect("JSON");
        assert_eq!(v["error"]["code"], "conflict");
        assert_eq!(v["error"]["title"], "That was not done");
        assert_eq!(
            v["error"]["message"],
            "Not today: open red flag. Nothing was saved; see the session page for what to do."
        );
        // The page's words, not the machine's.
        let res = WebError::Internal(anyhow::anyhow!("disk on fire")).into_replay_json();
        let text = text_of(res);
        assert!(!text.contains("disk on fire"), "{text}");
        assert!(text.contains("Something went wrong on our side"), "{text}");
    }

    #[test]
    fn titles_are_plain_words() {
        let (status, page) = body(WebError::BadInput(
            "zones: name at least one zone you treated".into(),
        ));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("<h1>Something needs another look</h1>"));
        assert!(
            page.contains("zones: name at least one zone you treated"),
            "{page}"
        );
        let (_, page) = body(WebError::NotFound);
        assert!(page.contains("<h1>Page not found</h1>"), "{page}");
        assert!(!page.contains("Not Found"));
    }
}
