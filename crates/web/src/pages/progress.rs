//! Progress: self-ratings with trend charts, progress photos (re-encoded,
//! so EXIF and GPS data never reach the disk), a side-by-side comparison and
//! a ghost overlay of the first photo for lining up new ones.
//!
//! Ratings are self-reported. The page says so, and never calls a trend an
//! improvement or a result of treatment.

use std::io::Cursor;
use std::path::{Path as FsPath, PathBuf};

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use data_encoding::HEXLOWER;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use needlewise_core::ids::{PhotoId, ProfileId, RatingId};
use needlewise_core::progress::{self, Concern, Photo, Rating, Score};
use needlewise_core::zone::Zone;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{checked_form, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, blocking, forms};

/// The largest photo accepted, in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The largest width or height decoded.
pub const MAX_DIMENSION: u32 = 8000;
/// The most memory a decoder may allocate (an 8000 × 8000 RGBA image fits).
const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;
/// Photos decoded at once; more wait their turn, so a burst of large
/// uploads cannot exhaust memory.
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// The longest side of a thumbnail.
const THUMB_SIZE: u32 = 320;

/// The progress routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/progress", get(show))
        .route("/progress/ratings", post(add_rating))
        .route("/progress/ratings/{id}/delete", post(delete_rating))
        .route(
            "/progress/photos",
            // A little over the photo limit, so an oversized photo is read
            // far enough to be refused with a clear message.
            post(upload).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES + 256 * 1024)),
        )
        .route("/progress/photos/{id}/delete", post(delete_photo))
        .route("/progress/compare", get(compare))
        .route("/files/photos/{file}", get(photo_file))
        .route("/files/photos/{id}/thumb.jpg", get(thumb_file))
}

/// One concern's section of the page.
#[derive(Debug)]
pub struct ConcernView {
    pub id: &'static str,
    pub label: &'static str,
    /// (score, anchor)
    pub levels: Vec<(u8, &'static str)>,
    /// The inline SVG chart, empty when never rated.
    pub chart: String,
    /// (zone label, latest score, number of ratings)
    pub latest: Vec<(&'static str, u8, usize)>,
    /// The chart's points as table rows: (date, area, score), oldest first.
    pub table: Vec<(String, &'static str, u8)>,
}

#[derive(Debug)]
pub struct PhotoView {
    pub id: String,
    pub taken: String,
    pub zone: String,
}

impl PhotoView {
    fn new(state: &AppState, p: &Photo) -> PhotoView {
        PhotoView {
            id: p.id.to_string(),
            taken: state.local(p.taken_at),
            zone: p.zone.map(|z| z.label().to_owned()).unwrap_or_default(),
        }
    }
}

/// A rating in the recent list.
#[derive(Debug)]
pub struct RatingView {
    pub id: String,
    pub when: String,
    pub zone: &'static str,
    pub concern: &'static str,
    pub score: u8,
    pub note: String,
}

#[derive(Debug, Template)]
#[template(path = "progress.html")]
pub struct ProgressPage {
    pub chrome: Chrome,
    /// The latest ratings, newest first.
    pub recent: Vec<RatingView>,
    pub zones: Vec<(&'static str, &'static str)>,
    pub concerns: Vec<ConcernView>,
    pub rated: bool,
    pub photos: Vec<PhotoView>,
    pub first: Option<PhotoView>,
    pub uploads: bool,
    pub max_mb: usize,
}

#[derive(Debug, Template)]
#[template(path = "progress_compare.html")]
pub struct ComparePage {
    pub chrome: Chrome,
    pub photos: Vec<PhotoView>,
    /// The two photos, when both were chosen.
    pub pair: Option<(PhotoView, PhotoView)>,
    pub a: String,
    pub b: String,
}

fn zones() -> Vec<(&'static str, &'static str)> {
    Zone::ALL.iter().map(|z| (z.id(), z.label())).collect()
}

pub async fn show(Me { state, auth }: Me) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let (ratings, photos) = blocking(&state, move |s| {
        Ok((s.ratings(profile)?, s.photos(profile)?))
    })
    .await?;
    let trends = progress::trends(&ratings);
    let concerns = Concern::ALL
        .iter()
        .map(|&c| {
            let trend = trends.iter().find(|t| t.concern == c);
            ConcernView {
                id: c.id(),
                label: c.label(),
                levels: (0u8..=Score::MAX)
                    .zip(c.anchors())
                    .collect::<Vec<(u8, &'static str)>>(),
                chart: trend
                    .map(|t| progress::render_chart(t, &format!("chart-{}", c.id()), &state.tz))
                    .unwrap_or_default(),
                latest: trend
                    .map(|t| {
                        t.series
                            .iter()
                            .filter_map(|s| {
                                s.points
                                    .last()
                                    .map(|p| (s.zone.label(), p.score.value(), s.points.len()))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                table: trend
                    .map(|t| {
                        let mut rows: Vec<(jiff::Timestamp, &'static str, u8)> = t
                            .series
                            .iter()
                            .flat_map(|s| {
                                s.points
                                    .iter()
                                    .map(|p| (p.at, s.zone.label(), p.score.value()))
                            })
                            .collect();
                        rows.sort_by_key(|r| r.0);
                        rows.into_iter()
                            .map(|(at, zone, score)| (state.local_date(at), zone, score))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let views: Vec<PhotoView> = photos.iter().map(|p| PhotoView::new(&state, p)).collect();
    Ok(page(&ProgressPage {
        chrome: auth.chrome("Progress", "progress"),
        recent: ratings
            .iter()
            .rev()
            .take(20)
            .map(|r| RatingView {
                id: r.id.to_string(),
                when: state.local(r.rated_at),
                zone: r.zone.label(),
                concern: r.concern.label(),
                score: r.score.value(),
                note: r.note.clone(),
            })
            .collect(),
        zones: zones(),
        concerns,
        rated: !ratings.is_empty(),
        first: photos.first().map(|p| PhotoView::new(&state, p)),
        photos: views,
        uploads: state.photo_dir.is_some(),
        max_mb: MAX_PHOTO_BYTES / (1024 * 1024),
    }))
}

pub fn parse_zone(value: &str) -> Result<Zone, WebError> {
    value
        .parse()
        .map_err(|_| WebError::BadInput("zone: choose one of the listed areas".into()))
}

pub async fn add_rating(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let rating = rate(
        &state,
        auth.profile.id,
        parse_zone(forms::required(&pairs, "zone")?)?,
        parse_concern(forms::required(&pairs, "concern")?)?,
        parse_score(forms::required(&pairs, "score")?)?,
        forms::field(&pairs, "note").unwrap_or_default(),
    )
    .await?;
    Ok(see_other(&format!("/progress#{}", rating.concern.id())))
}

/// A concern from its id: a bad one is a bad field, named.
pub fn parse_concern(concern: &str) -> Result<Concern, WebError> {
    concern
        .parse()
        .map_err(|_| WebError::BadInput("concern: choose one of the listed concerns".into()))
}

/// A score from its text: a bad one is a bad field, named.
pub fn parse_score(score: &str) -> Result<Score, WebError> {
    score
        .parse()
        .map_err(|_| WebError::BadInput("score: choose a level from 0 to 4".into()))
}

/// Stores a self-rating of one concern in one zone, now (see
/// `needlewise_actions::rate`).
pub async fn rate(
    state: &AppState,
    profile: ProfileId,
    zone: Zone,
    concern: Concern,
    score: Score,
    note: &str,
) -> Result<Rating, WebError> {
    let note = note.to_owned();
    crate::act(state, move |ctx| {
        needlewise_actions::rate(ctx, profile, zone, concern, score, &note)
    })
    .await
}

pub async fn delete_rating(
    Me { state, auth }: Me,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let id: RatingId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    blocking(&state, move |s| s.delete_rating(profile, id)).await?;
    Ok(see_other("/progress#recent"))
}

/// The image formats accepted, recognised by their first bytes.
fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// A photo ready to store: the re-encoded JPEG and its thumbnail.
#[derive(Debug)]
pub struct Processed {
    pub jpeg: Vec<u8>,
    pub thumb: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Checks, decodes (with limits), turns upright and re-encodes a photo as
/// JPEG. Nothing of the original file's metadata (EXIF, GPS, XMP, ICC) is
/// carried over: only pixels.
pub fn process_photo(bytes: &[u8]) -> Result<Processed, WebError> {
    let bad = |m: &str| WebError::BadInput(format!("photo: {m}"));
    if bytes.is_empty() {
        return Err(bad("choose a photo to upload"));
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(bad("the file is larger than 10 MB"));
    }
    let format = sniff(bytes).ok_or_else(|| bad("only JPEG, PNG or WebP images are accepted"))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let unreadable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => bad("the image is too large (at most 8000 × 8000 pixels)"),
        _ => bad("the file could not be read as an image"),
    };
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let (width, height) = (img.width(), img.height());
    if width == 0 || height == 0 {
        return Err(bad("the image is empty"));
    }
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    let encode = |im: &DynamicImage, quality: u8| -> Result<Vec<u8>, WebError> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(im)
            .map_err(|e| WebError::Internal(anyhow::anyhow!("cannot encode a JPEG: {e}")))?;
        Ok(out)
    };
    let jpeg = encode(&rgb, 88)?;
    let thumb = encode(&rgb.thumbnail(THUMB_SIZE, THUMB_SIZE), 80)?;
    Ok(Processed {
        jpeg,
        thumb,
        width,
        height,
    })
}

/// A photo's files written under the profile's photo directory.
#[derive(Debug)]
pub struct StoredPhoto {
    pub full: PathBuf,
    pub thumb: PathBuf,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    /// `<profile>/<id>.jpg`, relative to the photo directory.
    pub stored_name: String,
}

/// The one photo pipeline, for progress photos and message photos alike:
/// judged by content, decoded with limits (two at a time), re-encoded as
/// JPEG with a thumbnail, so EXIF/GPS never reach the disk, and written
/// whole as `<profile>/<id>.jpg` and `<profile>/<id>_thumb.jpg`.
pub async fn save_photo_files(
    state: &AppState,
    profile: ProfileId,
    id: Uuid,
    bytes: Vec<u8>,
) -> Result<StoredPhoto, WebError> {
    let dir = state.photo_dir.clone().ok_or_else(|| {
        WebError::BadInput("photo: photo storage is not set up on this server".into())
    })?;
    let permit = DECODES
        .acquire()
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    let processed = tokio::task::spawn_blocking(move || process_photo(&bytes)).await??;
    drop(permit);
    let (full, thumb) = photo_paths(&dir, profile, PhotoId(id));
    let stored = StoredPhoto {
        full: full.clone(),
        thumb: thumb.clone(),
        width: processed.width,
        height: processed.height,
        bytes: processed.jpeg.len() as u64,
        sha256: HEXLOWER.encode(&Sha256::digest(&processed.jpeg)),
        stored_name: format!("{profile}/{id}.jpg"),
    };
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_atomic(&full, &processed.jpeg)?;
        write_atomic(&thumb, &processed.thumb).inspect_err(|_| remove_quietly(&[&full]))
    })
    .await?
    .map_err(|e| WebError::Internal(anyhow::anyhow!("cannot write a photo: {e}")))?;
    Ok(stored)
}

/// The files of a photo (full size, thumbnail) under the photo directory.
pub fn photo_paths(dir: &FsPath, profile: ProfileId, id: PhotoId) -> (PathBuf, PathBuf) {
    let d = dir.join(profile.to_string());
    (
        d.join(format!("{id}.jpg")),
        d.join(format!("{id}_thumb.jpg")),
    )
}

/// Writes a file whole or not at all (a temporary name, then a rename).
fn write_atomic(path: &FsPath, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

pub fn remove_quietly(paths: &[&PathBuf]) {
    for p in paths {
        if let Err(e) = std::fs::remove_file(p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), error = %e, "cannot remove a photo file");
        }
    }
}

/// A multipart form's text fields (each at most `max_text` bytes) and its
/// `photo` files (each at most 10 MB; an empty file input is skipped),
/// read with the progress photos' limits. One file more than `max_photos`
/// is still returned, for the caller to refuse next to its field; more
/// than that is refused here.
pub async fn read_photo_form(
    mut multipart: Multipart,
    max_photos: usize,
    max_text: usize,
) -> Result<(Vec<(String, String)>, Vec<Vec<u8>>), WebError> {
    let too_large = || WebError::BadInput("photo: the file is larger than 10 MB".into());
    let incomplete = || WebError::BadInput("photo: the upload was incomplete".into());
    let mut fields = Vec::new();
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large());
            }
            Err(_) => return Err(incomplete()),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "photo" || name == "photos" {
            let mut field = field;
            let mut buf = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if buf.len() + chunk.len() > MAX_PHOTO_BYTES {
                            return Err(too_large());
                        }
                        buf.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(too_large());
                    }
                    Err(_) => return Err(incomplete()),
                }
            }
            if buf.is_empty() {
                continue;
            }
            // One more than allowed is kept, so the caller can say so next
            // to the field with the rest of the form kept.
            if files.len() > max_photos {
                return Err(WebError::BadInput(format!(
                    "photos: at most {max_photos} photo{}",
                    if max_photos == 1 { "" } else { "s" }
                )));
            }
            files.push(buf);
        } else {
            let text = field
                .text()
                .await
                .map_err(|_| WebError::BadInput(format!("{name}: could not be read")))?;
            if text.len() > max_text {
                return Err(WebError::BadInput(format!("{name}: too long")));
            }
            fields.push((name, text));
        }
    }
    Ok((fields, files))
}

pub async fn upload(Me { state, auth }: Me, multipart: Multipart) -> Result<Response, WebError> {
    let (fields, mut files) = read_photo_form(multipart, 1, 256).await?;
    // As before: the last photo of the form counts.
    let csrf = forms::field(&fields, "csrf").unwrap_or_default().to_owned();
    let zone = forms::field(&fields, "zone").unwrap_or_default().to_owned();
    let file = files.pop();
    auth.check_csrf(&csrf)?;
    let zone = match zone.trim() {
        "" => None,
        z => Some(parse_zone(z)?),
    };
    let bytes = file.ok_or_else(|| WebError::BadInput("photo: choose a photo to upload".into()))?;
    let profile = auth.profile.id;
    let id = PhotoId(Uuid::now_v7());
    let stored = save_photo_files(&state, profile, id.0, bytes).await?;
    let (full, thumb) = (stored.full.clone(), stored.thumb.clone());
    let record = Photo {
        profile_id: profile,
        id,
        taken_at: state.now(),
        zone,
        width: stored.width,
        height: stored.height,
        bytes: stored.bytes,
        sha256: stored.sha256,
        content_type: "image/jpeg".into(),
        stored_name: stored.stored_name,
    };
    if let Err(e) = blocking(&state, move |s| s.add_photo(&record)).await {
        remove_quietly(&[&full, &thumb]);
        return Err(e);
    }
    Ok(see_other("/progress#photos"))
}

pub async fn delete_photo(
    Me { state, auth }: Me,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    checked_form(&auth, &body)?;
    let id: PhotoId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    blocking(&state, move |s| s.delete_photo(profile, id)).await?;
    if let Some(dir) = &state.photo_dir {
        let (full, thumb) = photo_paths(dir, profile, id);
        remove_quietly(&[&full, &thumb]);
    }
    Ok(see_other("/progress#photos"))
}

/// Serves one of the profile's photo files; anything else is 404.
async fn serve_photo(
    state: &AppState,
    auth: &Auth,
    id: &str,
    thumb: bool,
) -> Result<Response, WebError> {
    let id: PhotoId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    blocking(state, move |s| s.photo(profile, id))
        .await?
        .ok_or(WebError::NotFound)?;
    let dir = state.photo_dir.as_ref().ok_or(WebError::NotFound)?;
    let (full, small) = photo_paths(dir, profile, id);
    let path = if thumb { small } else { full };
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

pub async fn photo_file(
    Me { state, auth }: Me,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let id = file.strip_suffix(".jpg").ok_or(WebError::NotFound)?;
    serve_photo(&state, &auth, id, false).await
}

pub async fn thumb_file(
    Me { state, auth }: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    serve_photo(&state, &auth, &id, true).await
}

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    #[serde(default)]
    a: String,
    #[serde(default)]
    b: String,
}

pub async fn compare(
    Me { state, auth }: Me,
    Query(q): Query<CompareQuery>,
) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let photos = blocking(&state, move |s| s.photos(profile)).await?;
    let find = |id: &str| -> Result<Option<PhotoView>, WebError> {
        if id.is_empty() {
            return Ok(None);
        }
        let id: PhotoId = id.parse().map_err(|_| WebError::NotFound)?;
        photos
            .iter()
            .find(|p| p.id == id)
            .map(|p| Some(PhotoView::new(&state, p)))
            .ok_or(WebError::NotFound)
    };
    let pair = match (find(&q.a)?, find(&q.b)?) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    Ok(page(&ComparePage {
        chrome: auth.chrome("Compare photos", "progress"),
        photos: photos.iter().map(|p| PhotoView::new(&state, p)).collect(),
        pair,
        a: q.a,
        b: q.b,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageFormat::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::WebP));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"<svg"), None);
    }

    #[test]
    fn corrupt_image_is_bad_input() {
        let err = process_photo(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).unwrap_err();
        assert!(err.to_string().starts_with("photo:"), "{err}");
    }
}
