//! FHIR R4 over the API: the screening as a Questionnaire, the latest
//! screening as a QuestionnaireResponse (and a response imported back into
//! a screening), and the profile's whole record as a Bundle. Bodies are
//! `application/fhir+json`.

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use needlewise_core::evidence;
use serde::Serialize;

use super::{ApiMe, ApiResult, openapi::ErrorBody};
use crate::auth::Me;
use crate::blocking;
use crate::error::WebError;

/// FHIR's own JSON media type.
const FHIR_JSON: &str = "application/fhir+json";

fn fhir(value: &impl Serialize) -> Result<Response, WebError> {
    let body = serde_json::to_vec(value).map_err(|e| WebError::Internal(e.into()))?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        body,
    )
        .into_response())
}

/// The candidacy screening as a FHIR R4 Questionnaire, generated from the
/// evidence base: one item per question, `linkId` = the answer id,
/// conditional items with `enableWhen`.
#[utoipa::path(
    get,
    path = "/fhir/Questionnaire/screening",
    tag = "fhir",
    responses(
        (status = 200, description = "The Questionnaire.", body = Object,
            content_type = "application/fhir+json"),
    )
)]
pub(super) async fn questionnaire() -> ApiResult {
    let q = needlewise_fhir::questionnaire(evidence())
        .map_err(|e| WebError::Internal(anyhow::anyhow!("{e}")))?;
    Ok(fhir(&q)?)
}

/// The latest screening's answers as a FHIR R4 QuestionnaireResponse.
#[utoipa::path(
    get,
    path = "/fhir/QuestionnaireResponse/latest",
    tag = "fhir",
    security(("session" = [])),
    responses(
        (status = 200, description = "The QuestionnaireResponse.", body = Object,
            content_type = "application/fhir+json"),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "No screening yet (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn latest_response(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let screening = blocking(&state, move |s| s.latest_screening(profile))
        .await?
        .ok_or(WebError::NotFound)?;
    let response = needlewise_fhir::export_response(
        evidence(),
        &screening.answers,
        screening.taken_at,
        Some(screening.id.as_uuid()),
        None,
    )
    .map_err(|e| WebError::Internal(anyhow::anyhow!("{e}")))?;
    Ok(fhir(&response)?)
}

/// Screens the current profile from a QuestionnaireResponse to our
/// Questionnaire (as LHC-Forms and other FHIR form renderers produce) and
/// stores the result, exactly as `POST /api/screening` would.
#[utoipa::path(
    post,
    path = "/fhir/QuestionnaireResponse",
    tag = "fhir",
    security(("session" = [], "csrf" = [])),
    request_body(content = Object, content_type = "application/fhir+json",
        description = "A QuestionnaireResponse to `/api/fhir/Questionnaire/screening` (at most 1 MiB)."),
    responses(
        (status = 200, description = "The decision, as `POST /api/screening` returns it.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 422, description = "The response is not one to our Questionnaire or some \
            answers are wrong (`invalid_answers`, each field named by its FHIR path).", body = ErrorBody),
    )
)]
pub(super) async fn import_response(ApiMe(Me { state, auth }): ApiMe, body: Bytes) -> ApiResult {
    let answers = needlewise_fhir::import_response(evidence(), &body, state.today())?;
    let result = crate::pages::screening::save(&state, &auth, answers).await?;
    Ok(axum::Json(result).into_response())
}

/// The current profile's whole record as a FHIR R4 `collection` Bundle:
/// Patient, QuestionnaireResponse, Devices, Procedures, Observations,
/// AdverseEvents, a CarePlan, DocumentReferences and a Consent.
#[utoipa::path(
    get,
    path = "/fhir/Bundle/record",
    tag = "fhir",
    security(("session" = [])),
    responses(
        (status = 200, description = "The Bundle.", body = Object,
            content_type = "application/fhir+json"),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 429, description = "Too many whole-record exports at once (`rate_limited`); \
            try again in a minute.", body = ErrorBody),
    )
)]
pub(super) async fn record(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let _turn = crate::heavy_turn(&state).await?;
    let profile = auth.profile.clone();
    let now = state.now();
    let bundle = blocking(&state, move |s| {
        needlewise_store::export::fhir_bundle(s, &profile, now)
    })
    .await?;
    let mut response = fhir(&bundle)?;
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"needlewise-record.fhir.json\""),
    );
    Ok(response)
}
