//! The API's OpenAPI 3.1 document, served at `GET /api/openapi.json`, and
//! Swagger UI at `/api/docs` (feature `swagger-ui`, on by default).
//!
//! The paths come from the handlers' `#[utoipa::path]` attributes through
//! [`super::routes`], the same list the router is built from. What the
//! handlers return as free-form JSON (the evidence base, screening results,
//! schedule facts) is documented as an object with a description: the shapes
//! belong to the core, which stays free of web crates.

use std::sync::OnceLock;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::WebError;

/// The document's fixed parts; the paths are added by [`super::routes`].
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "needlewise API",
        description = "The JSON API of needlewise, a safety-first companion for at-home \
facial microneedling. It reads and writes the same data as the web pages.\n\n\
**Authentication.** Log in through the web pages (`POST /login`); the API uses the same \
session cookie, `nw_session` (`__Host-nw_session` when served over HTTPS). Without a valid \
session the API answers `401` with code `unauthenticated` (it never redirects).\n\n\
**CSRF.** Every request that changes something must carry the session's CSRF token in the \
`x-csrf-token` header; the token is the value of the hidden `csrf` field of any form on the \
pages. A missing or wrong token is refused with `403` and code `csrf`.\n\n\
**Errors.** Every error is JSON of the shape `ErrorBody`: \
`{\"error\": {\"code\", \"message\", \"fields\"}}`. `code` is stable (see `ErrorCode`); \
`message` is for people and may change; `fields` lists the answers that were wrong, \
each with its question id.\n\n\
**Bodies.** A JSON request body is one JSON object of at most 64 KiB (the FHIR import \
takes a QuestionnaireResponse of up to 1 MiB). A larger body, one that is not JSON, a \
top-level array or other non-object, or a field of the wrong type is refused with `422` \
and code `bad_input`, its `message` naming the field by its path.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode, FieldProblem)),
    modifiers(&Security),
    tags(
        (name = "evidence", description = "The evidence base: sources, rules and defaults."),
        (name = "screening", description = "The eligibility screening."),
        (name = "devices", description = "Rollers and pens with their cleaning state."),
        (name = "schedule", description = "When the next session may be, and the dashboard."),
        (name = "session", description = "The readiness gate, today's guided plan and logged sessions."),
        (name = "aftercare", description = "What to apply or avoid after a session, and the serum gate."),
        (name = "checkins", description = "Symptom check-ins, triage and red-flag episodes."),
        (name = "progress", description = "Self-ratings, their trends and photo metadata."),
        (name = "fhir", description = "FHIR R4 JSON: the screening Questionnaire, responses and the whole record."),
        (name = "clinic", description = "For clinic members: patients, red flags, records and protocols, as far as each patient's consent allows."),
        (name = "care_team", description = "For patients: the clinics they share with, consent, and who saw what."),
        (name = "messages", description = "Conversations between a patient and their clinic (text only over the API)."),
        (name = "appointments", description = "Appointments at the clinic: free slots, booking, cancelling and moving with a reason, and times offered in a conversation (for patients and for clinic members)."),
        (name = "meta", description = "This document."),
    )
)]
pub struct ApiDoc;

/// The security schemes: the session cookie and the CSRF header.
#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "nw_session",
                "The session cookie set by `POST /login` (named `__Host-nw_session` over HTTPS).",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                CSRF_HEADER,
                "The session's CSRF token (the hidden `csrf` field of any form on the pages); \
                 required on every request that changes something.",
            ))),
        );
    }
}

/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people; may change between versions.
    pub message: String,
    /// The answers that were wrong (code `invalid_answers`); empty otherwise.
    pub fields: Vec<FieldProblem>,
}

/// A stable error code: clients branch on it, never on the message.
///
/// `unauthenticated` (401): no valid session. `csrf` (403): a missing or wrong
/// `x-csrf-token`. `forbidden` (403): known, but not allowed (a role that may
/// not do this, or a change that needs the second factor or password again).
/// `not_found` (404). `rate_limited` (429). `bad_input` (422):
/// the request could not be read. `invalid_answers` (422): some answers are
/// wrong, see `fields`. `wrong_transition` (422): a device cannot make that
/// step now. `conflict` (409): the data changed meanwhile; reload and retry.
/// `internal` (500): a server error, logged and not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthenticated,
    Csrf,
    NotFound,
    Forbidden,
    RateLimited,
    BadInput,
    InvalidAnswers,
    WrongTransition,
    Conflict,
    Internal,
}

impl ErrorCode {
    /// Every code, in the order above.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Csrf,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::BadInput,
        ErrorCode::InvalidAnswers,
        ErrorCode::WrongTransition,
        ErrorCode::Conflict,
        ErrorCode::Internal,
    ];

    /// The code as it appears in the JSON, as [`WebError::code`] writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Csrf => "csrf",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::BadInput => "bad_input",
            ErrorCode::InvalidAnswers => "invalid_answers",
            ErrorCode::WrongTransition => "wrong_transition",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
        }
    }

    /// The documented code of an error.
    pub fn of(error: &WebError) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == error.code())
    }
}

/// One wrong answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The question id.
    pub field: String,
    pub message: String,
}

/// The latest screening.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatestScreening {
    /// When it was taken (RFC 3339).
    #[schema(format = DateTime)]
    pub taken_at: String,
    /// `go`, `go_with_precautions`, `ask_surgeon_first` or `not_at_home`.
    pub verdict: String,
    /// The full decision as `POST /api/screening` returned it.
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
}

/// A device with its status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceEntry {
    /// The device: `id`, `name`, `kind`, `state`, `use_count`, `damaged`,
    /// `created_at`, `updated_at`, `version`.
    #[schema(value_type = Object)]
    pub device: serde_json::Value,
    /// What its state means now: whether it may be used, what comes next and when.
    #[schema(value_type = Object)]
    pub status: serde_json::Value,
}

/// The whole document, with paths as routed (under `/api`). Built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = super::routes().into_openapi();
        let paths = std::mem::take(&mut doc.paths.paths);
        doc.paths.paths = paths
            .into_iter()
            .map(|(path, item)| (format!("/api{path}"), item))
            .collect();
        doc
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This OpenAPI document.", body = Object))
)]
pub(super) async fn document() -> Response {
    Json(openapi()).into_response()
}

/// Adds Swagger UI at `/api/docs`: an own index page and start-up script
/// (no inline script, so the app's CSP holds unchanged) over the files of
/// the vendored Swagger UI.
#[cfg(feature = "swagger-ui")]
pub(super) fn swagger_ui(router: axum::Router<crate::AppState>) -> axum::Router<crate::AppState> {
    use axum::routing::get;
    router
        .route("/docs", get(docs::index))
        .route("/docs/", get(docs::index))
        .route("/docs/{file}", get(docs::file))
}

#[cfg(not(feature = "swagger-ui"))]
pub(super) fn swagger_ui(router: axum::Router<crate::AppState>) -> axum::Router<crate::AppState> {
    router
}

#[cfg(feature = "swagger-ui")]
mod docs {
    use std::sync::Arc;

    use axum::extract::Path;
    use axum::http::header;
    use axum::response::{Html, IntoResponse, Response};

    use crate::api::ApiError;
    use crate::error::WebError;

    const INDEX: &str = include_str!("docs/index.html");
    const INIT: &str = include_str!("docs/init.js");

    pub(super) async fn index() -> Html<&'static str> {
        Html(INDEX)
    }

    /// A file of the vendored Swagger UI, or the start-up script. Its own
    /// index page and initializer are not served: ours replace them.
    pub(super) async fn file(Path(file): Path<String>) -> Result<Response, ApiError> {
        if file == "init.js" {
            return Ok(([(header::CONTENT_TYPE, "text/javascript")], INIT).into_response());
        }
        if file == "index.html" || file == "swagger-initializer.js" {
            return Err(ApiError(WebError::NotFound));
        }
        let config = Arc::new(utoipa_swagger_ui::Config::new(["/api/openapi.json"]));
        match utoipa_swagger_ui::serve(&file, config) {
            Ok(Some(f)) => Ok(([(header::CONTENT_TYPE, f.content_type)], f.bytes).into_response()),
            Ok(None) => Err(ApiError(WebError::NotFound)),
            Err(e) => Err(ApiError(WebError::Internal(anyhow::anyhow!(
                "swagger ui file {file}: {e}"
            )))),
        }
    }
}
