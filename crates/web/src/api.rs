//! The JSON API. Errors are JSON with stable codes (see [`WebError::code`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_store::facts;
use serde_json::json;

use crate::auth::Auth;
use crate::error::WebError;
use crate::{AppState, blocking};

/// API errors are JSON, never HTML.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_json()
    }
}

type ApiResult = Result<Response, ApiError>;

/// The logged-in caller; without a session the API answers 401 in JSON
/// rather than redirecting to the log-in page.
#[derive(Debug)]
pub struct ApiAuth(pub Auth);

impl axum::extract::FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        <Auth as axum::extract::FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(ApiAuth)
            .map_err(ApiError)
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/evidence", get(evidence_json))
        .route("/screening", get(latest_screening).post(submit_screening))
        .route("/devices", get(devices))
        .route("/schedule", get(schedule))
        .fallback(|| async { ApiError(WebError::NotFound) })
}

async fn evidence_json() -> Response {
    Json(evidence()).into_response()
}

/// API calls carry the session cookie and, for changes, the CSRF token in
/// the `x-csrf-token` header.
fn check_csrf(auth: &Auth, headers: &HeaderMap) -> Result<(), WebError> {
    auth.check_csrf(
        headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    )
}

async fn submit_screening(
    State(state): State<AppState>,
    ApiAuth(auth): ApiAuth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_csrf(&auth, &headers)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| WebError::BadInput(format!("the body is not valid JSON: {e}")))?;
    let answers = Answers::from_json(&evidence().screening, &value, state.today())?;
    let result = crate::pages::screening::save(&state, &auth, answers).await?;
    Ok(Json(result).into_response())
}

async fn latest_screening(State(state): State<AppState>, ApiAuth(auth): ApiAuth) -> ApiResult {
    let profile = auth.profile.id;
    let record = blocking(&state, move |s| s.latest_screening(profile))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Json(
        json!({"taken_at": record.taken_at, "verdict": record.verdict, "result": record.result}),
    )
    .into_response())
}

async fn devices(State(state): State<AppState>, ApiAuth(auth): ApiAuth) -> ApiResult {
    let profile = auth.profile.id;
    let now = state.now();
    let devices = blocking(&state, move |s| s.devices(profile)).await?;
    let rules = &evidence().defaults.hygiene;
    let list: Vec<_> = devices
        .iter()
        .map(|d| json!({"device": d, "status": d.status(now, rules)}))
        .collect();
    Ok(Json(list).into_response())
}

async fn schedule(State(state): State<AppState>, ApiAuth(auth): ApiAuth) -> ApiResult {
    let profile = auth.profile.id;
    let today = state.today();
    let next = blocking(&state, move |s| facts::schedule(s, profile, today)).await?;
    Ok(Json(next).into_response())
}
