//! `GET /report.pdf`: the logged-in profile's referral report for their
//! facial plastic surgeon (see `needlewise-report`). Only ever the session's
//! own profile: there is no id in the path to change.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use needlewise_report::GatherError;

use crate::auth::Me;
use crate::blocking;
use crate::error::WebError;

pub async fn pdf(Me { state, auth }: Me) -> Result<Response, WebError> {
    let _turn = crate::heavy_turn(&state).await?;
    let profile = auth.profile.clone();
    let photo_root = state.photo_dir.clone();
    let (now, today, tz) = (state.now(), state.today(), state.tz.clone());
    // The store, the photo files and the rendering all run off the executor.
    let pdf = blocking(&state, move |s| {
        needlewise_report::gather(s, &profile, photo_root.as_deref(), now, today, &tz)
            .map(|input| needlewise_report::render_pdf(&input))
            .map_err(|e| match e {
                GatherError::Store(e) => e,
            })
    })
    .await?;
    let disposition = format!("attachment; filename=\"needlewise-report-{today}.pdf\"");
    let mut response = pdf.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(needlewise_report::CONTENT_TYPE),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition)
            .map_err(|e| WebError::Internal(anyhow::Error::new(e)))?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
