//! The API's extractors: who is calling (refusals in JSON, never a
//! redirect) and the JSON body, read the same way by every endpoint.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::Method;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;
use super::openapi::CSRF_HEADER;
use crate::AppState;
use crate::auth::{Auth, Me};
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;

/// Whether the request may change something: anything but GET, HEAD and
/// OPTIONS, which must carry the session's CSRF token.
fn changes(parts: &Parts) -> bool {
    !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF token the request carries in its `x-csrf-token` header.
fn csrf_header(parts: &Parts) -> &str {
    parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The logged-in caller; without a session the API answers 401 in JSON
/// rather than redirecting to the log-in page. A request that may change
/// something must carry the session's CSRF token in `x-csrf-token` (else
/// 403 `csrf`), checked here, before the handler reads its body.
#[derive(Debug)]
pub struct ApiAuth(pub Auth);

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if changes(parts) {
            auth.check_csrf(csrf_header(parts))?;
        }
        Ok(ApiAuth(auth))
    }
}

/// [`Me`] for the JSON API: the caller and the state in their profile's
/// time zone, refused and CSRF-checked as by [`ApiAuth`].
#[derive(Debug)]
pub struct ApiMe(pub Me);

impl FromRequestParts<AppState> for ApiMe {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiAuth(auth) = ApiAuth::from_request_parts(parts, state).await?;
        Ok(ApiMe(Me {
            state: state.for_profile(&auth.profile),
            auth,
        }))
    }
}

/// [`ClinicCtx`] for the JSON API: refusals are JSON (401, 404, or 403
/// with code `forbidden` when the second factor is missing), and the CSRF
/// token is checked as by [`ApiAuth`].
#[derive(Debug)]
pub struct ApiClinicCtx(pub ClinicCtx);

impl FromRequestParts<AppState> for ApiClinicCtx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = <ClinicCtx as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map_err(|d| ApiError(d.into_web_error()))?;
        if changes(parts) {
            ctx.check_csrf(csrf_header(parts))?;
        }
        Ok(ApiClinicCtx(ctx))
    }
}

/// The most a JSON request body may hold: the same as a form's.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON request body: at most [`MAX_BODY`], a JSON object at the top
/// (an array, a string or a number is refused even where the type could
/// read it, as serde reads a struct from an array), and a wrong field
/// named by its path. Every refusal is a 422 with code `bad_input`, in the
/// API's one error shape. The content type is not checked.
///
/// `Option<ApiJson<T>>` takes an empty (or all-whitespace) body as `None`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> ApiJson<T> {
    /// Reads a body that is already in memory.
    pub fn parse(bytes: &[u8]) -> Result<T, WebError> {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
        if start.is_none_or(|i| bytes[i] != b'{') {
            return Err(WebError::BadInput(
                "the body: expected a JSON object ({…})".into(),
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(value) => Ok(value),
            // JSON has one number type: `70.0` is a whole number, as JSON
            // Schema's `integer` says, but serde reads it as a float only.
            // Such a body is read again with its whole floats as integers;
            // every other refusal stands as it is.
            Err(e)
                if e.inner()
                    .to_string()
                    .contains("invalid type: floating point") =>
            {
                let mut value: serde_json::Value =
                    serde_json::from_slice(bytes).map_err(|e| bad_body(".", &e))?;
                whole_floats_to_integers(&mut value);
                serde_path_to_error::deserialize(value)
                    .map_err(|e| bad_body(&e.path().to_string(), e.inner()))
            }
            Err(e) => Err(bad_body(&e.path().to_string(), e.inner())),
        }
    }
}

fn bad_body(path: &str, inner: &serde_json::Error) -> WebError {
    WebError::BadInput(if path == "." {
        format!("the body: {inner}")
    } else {
        format!("{path}: {inner}")
    })
}

/// Writes every float with no fraction (within ±2⁵³) as an integer.
fn whole_floats_to_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= 9_007_199_254_740_992.0
            {
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *v = serde_json::Value::from(i);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(whole_floats_to_integers),
        serde_json::Value::Object(m) => m.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

/// The body, up to [`MAX_BODY`].
async fn bytes_of(req: Request) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| {
            ApiError(WebError::BadInput(format!(
                "the body is larger than {} KiB, or was cut off",
                MAX_BODY / 1024
            )))
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes_of(req).await?;
        Ok(ApiJson(Self::parse(&bytes)?))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        let bytes = bytes_of(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        Ok(Some(ApiJson(Self::parse(&bytes)?)))
    }
}
