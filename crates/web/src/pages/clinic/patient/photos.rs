//! A consented photo file, read through `patient_photo` (which checks
//! consent and logs the read) and served from the photo directory.

use std::path::PathBuf;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use needlewise_core::ids::{PhotoId, ProfileId};

use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::clinic::profile_id;
use crate::{AppState, blocking};

pub(super) fn photo_path(
    state: &AppState,
    profile: ProfileId,
    id: PhotoId,
    thumb: bool,
) -> Option<PathBuf> {
    let dir = state.photo_dir.as_ref()?.join(profile.to_string());
    Some(if thumb {
        dir.join(format!("{id}_thumb.jpg"))
    } else {
        dir.join(format!("{id}.jpg"))
    })
}

/// A consented photo file: `<id>.jpg`, or `<id>.thumb.jpg` for its
/// thumbnail. Served with the strict `/files/` policy (see `security`).
pub async fn photo_file(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, file)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let stem = file.strip_suffix(".jpg").ok_or(WebError::NotFound)?;
    let (id, thumb) = match stem.strip_suffix(".thumb") {
        Some(id) => (id, true),
        None => (stem, false),
    };
    let id: PhotoId = id.parse().map_err(|_| WebError::NotFound)?;
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    blocking(&state, move |s| s.patient_photo(&access, profile, id, now))
        .await?
        .ok_or(WebError::NotFound)?;
    let path = photo_path(&state, profile, id, thumb).ok_or(WebError::NotFound)?;
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await?
        .map_err(|_| WebError::NotFound)?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    Ok(response)
}
