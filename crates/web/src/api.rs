//! The JSON API. Errors are JSON with stable codes (see [`WebError::code`]).
//!
//! Every handler carries its OpenAPI description (`#[utoipa::path]`), and
//! [`routes`] is the one list of API routes: the router and the document at
//! `/api/openapi.json` are both built from it, so neither can list a path
//! the other lacks. See [`openapi`].

mod appointments;
mod care;
mod clinic;
mod extract;
mod fhir;
mod messages;
pub mod openapi;

pub use extract::{ApiAuth, ApiClinicCtx, ApiJson, ApiMe, MAX_BODY};

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use serde_json::json;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Me;
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

/// The API's routes, relative to `/api`, each with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(utoipa_axum::routes!(evidence_json))
        .routes(utoipa_axum::routes!(latest_screening, submit_screening))
        .routes(utoipa_axum::routes!(care::dashboard))
        .routes(utoipa_axum::routes!(devices, care::add_device))
        .routes(utoipa_axum::routes!(care::device_step))
        .routes(utoipa_axum::routes!(care::device_log))
        .routes(utoipa_axum::routes!(schedule))
        .routes(utoipa_axum::routes!(fhir::questionnaire))
        .routes(utoipa_axum::routes!(fhir::latest_response))
        .routes(utoipa_axum::routes!(fhir::import_response))
        .routes(utoipa_axum::routes!(fhir::record))
        .routes(utoipa_axum::routes!(care::readiness))
        .routes(utoipa_axum::routes!(care::ready_now))
        .routes(utoipa_axum::routes!(care::today))
        .routes(utoipa_axum::routes!(care::sessions, care::log_session))
        .routes(utoipa_axum::routes!(care::aftercare))
        .routes(utoipa_axum::routes!(care::product))
        .routes(utoipa_axum::routes!(care::checkins, care::add_checkin))
        .routes(utoipa_axum::routes!(care::resolve_episode))
        .routes(utoipa_axum::routes!(care::progress_json))
        .routes(utoipa_axum::routes!(care::add_rating))
        .routes(utoipa_axum::routes!(care::delete_rating))
        .routes(utoipa_axum::routes!(clinic::patients))
        .routes(utoipa_axum::routes!(clinic::red_flags))
        .routes(utoipa_axum::routes!(clinic::mail))
        .routes(utoipa_axum::routes!(clinic::acknowledge))
        .routes(utoipa_axum::routes!(clinic::resolve))
        .routes(utoipa_axum::routes!(clinic::patient))
        .routes(utoipa_axum::routes!(clinic::prescribe))
        .routes(utoipa_axum::routes!(clinic::care_team))
        .routes(utoipa_axum::routes!(clinic::consent))
        .routes(utoipa_axum::routes!(
            messages::conversations,
            messages::start
        ))
        .routes(utoipa_axum::routes!(messages::conversation))
        .routes(utoipa_axum::routes!(messages::post_message))
        .routes(utoipa_axum::routes!(messages::clinic_conversations))
        .routes(utoipa_axum::routes!(messages::clinic_conversation))
        .routes(utoipa_axum::routes!(messages::clinic_post_message))
        .routes(utoipa_axum::routes!(
            appointments::appointments,
            appointments::book
        ))
        .routes(utoipa_axum::routes!(appointments::free_slots))
        .routes(utoipa_axum::routes!(appointments::cancel))
        .routes(utoipa_axum::routes!(appointments::reschedule))
        .routes(utoipa_axum::routes!(appointments::proposals))
        .routes(utoipa_axum::routes!(
            appointments::clinic_appointments,
            appointments::clinic_book
        ))
        .routes(utoipa_axum::routes!(appointments::clinic_free_slots))
        .routes(utoipa_axum::routes!(appointments::clinic_cancel))
        .routes(utoipa_axum::routes!(appointments::clinic_reschedule))
        .routes(utoipa_axum::routes!(
            appointments::clinic_proposals,
            appointments::clinic_propose
        ))
        // Messages with photos: multipart, up to four photos.
        .merge(
            OpenApiRouter::new()
                .routes(utoipa_axum::routes!(messages::post_message_with_photos))
                .routes(utoipa_axum::routes!(
                    messages::clinic_post_message_with_photos
                ))
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::pages::messages::MAX_MESSAGE_FORM,
                )),
        )
        .routes(utoipa_axum::routes!(openapi::document))
}

/// The router nested at `/api`: the documented routes and Swagger UI.
pub fn router() -> Router<AppState> {
    let (router, _) = routes().split_for_parts();
    openapi::swagger_ui(router).fallback(|| async { ApiError(WebError::NotFound) })
}

/// The evidence base: sources, questionnaires with their rules, defaults.
#[utoipa::path(
    get,
    path = "/evidence",
    tag = "evidence",
    responses(
        (status = 200, description = "The whole evidence base: `sources`, the `screening`, \
            `readiness` and `checkin` questionnaires with their rules, and `defaults`.",
            body = Object),
    )
)]
async fn evidence_json() -> Response {
    Json(evidence()).into_response()
}

/// Screens the current profile with a full set of answers and stores the result.
#[utoipa::path(
    post,
    path = "/screening",
    tag = "screening",
    security(("session" = [], "csrf" = [])),
    request_body(
        content = Object,
        content_type = "application/json",
        description = "Answers keyed by question id (see `screening.questions` in \
            `/api/evidence`); questions that do not apply may be left out.",
    ),
    responses(
        (status = 200, description = "The decision: `verdict`, `eligible_from` and the \
            `reasons`, each with its rule id, explanation and sources.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = openapi::ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = openapi::ErrorBody),
        (status = 422, description = "The body is not JSON (`bad_input`) or some answers are \
            wrong (`invalid_answers`, one entry in `fields` for each).", body = openapi::ErrorBody),
        (status = 500, description = "A server error (`internal`); its cause is logged, not shown.", body = openapi::ErrorBody),
    )
)]
async fn submit_screening(
    ApiMe(Me { state, auth }): ApiMe,
    ApiJson(value): ApiJson<serde_json::Value>,
) -> ApiResult {
    let answers = Answers::from_json(&evidence().screening, &value, state.today())?;
    let result = crate::pages::screening::save(&state, &auth, answers).await?;
    Ok(Json(result).into_response())
}

/// The current profile's latest screening.
#[utoipa::path(
    get,
    path = "/screening",
    tag = "screening",
    security(("session" = [])),
    responses(
        (status = 200, description = "The latest screening: `taken_at`, `verdict` and the \
            full `result`.", body = openapi::LatestScreening),
        (status = 401, description = "No valid session (`unauthenticated`).", body = openapi::ErrorBody),
        (status = 404, description = "No screening yet (`not_found`).", body = openapi::ErrorBody),
        (status = 500, description = "A server error (`internal`); its cause is logged, not shown.", body = openapi::ErrorBody),
    )
)]
async fn latest_screening(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let record = blocking(&state, move |s| s.latest_screening(profile))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Json(
        json!({"taken_at": record.taken_at, "verdict": record.verdict, "result": record.result}),
    )
    .into_response())
}

/// The current profile's rollers and pens, each with its cleaning status now.
#[utoipa::path(
    get,
    path = "/devices",
    tag = "devices",
    security(("session" = [])),
    responses(
        (status = 200, description = "Every device of the profile.", body = [openapi::DeviceEntry]),
        (status = 401, description = "No valid session (`unauthenticated`).", body = openapi::ErrorBody),
        (status = 500, description = "A server error (`internal`); its cause is logged, not shown.", body = openapi::ErrorBody),
    )
)]
async fn devices(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
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

/// The earliest next session and the course so far.
#[utoipa::path(
    get,
    path = "/schedule",
    tag = "schedule",
    security(("session" = [])),
    responses(
        (status = 200, description = "The schedule facts: the earliest next session and \
            why, and the course plan.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = openapi::ErrorBody),
        (status = 500, description = "A server error (`internal`); its cause is logged, not shown.", body = openapi::ErrorBody),
    )
)]
async fn schedule(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let next = crate::act(&state, move |ctx| {
        needlewise_actions::schedule(ctx, profile)
    })
    .await?;
    Ok(Json(next).into_response())
}
