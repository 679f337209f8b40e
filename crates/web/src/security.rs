//! Security headers, set in one place for every response.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use data_encoding::BASE64;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The content security policy: everything from this server, nothing
/// else, and of inline code only the app's own stylesheet (by its SHA-256,
/// see [`crate::assets::style`]): no inline script, no other inline style.
pub fn csp() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        let hash = BASE64.encode(&Sha256::digest(crate::assets::style().as_bytes()));
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'sha256-{hash}'; \
             img-src 'self' data:; media-src 'self' data:; connect-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        )
    });
    &CSP
}

/// A stricter policy for photos and other user files: they can never run
/// anything, even if opened directly.
pub const CSP_FILES: &str = "default-src 'none'; img-src 'self'; style-src 'none'; sandbox";

/// `Strict-Transport-Security` when needlewise is reached over https
/// (`public_url`): browsers then never try plain http again.
pub async fn hsts(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if state.config.secure_cookies() {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000"),
        );
    }
    response
}

/// Adds the headers. Pages that show personal data are never cached;
/// embedded assets may be.
pub async fn headers(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let csp = if path.starts_with("/files/")
        || (path.starts_with("/clinic/patients/") && path.contains("/photos/"))
    {
        CSP_FILES
    } else {
        csp()
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=(), payment=()"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !path.starts_with("/assets/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
