//! Static assets, embedded in the binary.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::WebError;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("wav") => "audio/wav",
        Some("png") => "image/png",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// The stylesheet, inlined in every page's head (`base.html`) rather than
/// linked: it is about 5 KB gzipped, well inside the first round trip of a
/// phone's connection, and a linked stylesheet blocks the first paint for
/// a request of its own (on a first visit, that request was most of the
/// wait before the screening's first step showed). `/assets/app.css` is
/// still served, for anything that links it.
pub fn style() -> &'static str {
    include_str!("../assets/app.css")
}

pub async fn serve(Path(path): Path<String>) -> Result<Response, WebError> {
    let file = Assets::get(&path).ok_or(WebError::NotFound)?;
    let mut response = file.data.into_owned().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(response)
}

/// An embedded file at a path of its own (outside `/assets/`).
fn root_file(name: &str) -> Result<Response, WebError> {
    let file = Assets::get(name).ok_or(WebError::NotFound)?;
    let mut response = file.data.into_owned().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    Ok(response)
}

/// `/sw.js`: the service worker, from the root so that it may look after
/// every page.
pub async fn service_worker() -> Result<Response, WebError> {
    root_file("sw.js")
}

/// `/manifest.webmanifest`: what a phone needs to install the app.
pub async fn manifest() -> Result<Response, WebError> {
    root_file("manifest.webmanifest")
}
