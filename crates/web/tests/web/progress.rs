//! The progress page: ratings and charts, photo uploads (limits, EXIF
//! stripped), serving only to the owner, compare.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use needlewise_core::ids::ProfileId;
use needlewise_web::security::CSP_FILES;

use super::{Server, User};

async fn profile_of(server: &Server, email: &str) -> ProfileId {
    let account = server.store.account_by_email(email).unwrap().unwrap();
    server.store.profiles(account.id).unwrap()[0].id
}

fn rating_form<'a>(csrf: &'a str, score: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("zone", "forehead"),
        ("concern", "lines_and_wrinkles"),
        ("score", score),
        ("note", "morning light"),
    ]
}

/// A small JPEG with an APP1 Exif segment (orientation and GPS-looking
/// text) spliced in after the start-of-image marker.
fn jpeg_with_exif() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&img)
        .unwrap();
    let mut tiff: Vec<u8> = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    // IFD0: one entry, Orientation (0x0112) SHORT 1 = upright; no next IFD.
    tiff.extend_from_slice(&[0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    tiff.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    tiff.extend_from_slice(b"GPSLatitude 51.5074N GPSLongitude 0.1278W");
    let mut payload = b"Exif\x00\x00".to_vec();
    payload.extend_from_slice(&tiff);
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&plain[2..]);
    assert!(contains(&out, b"Exif") && contains(&out, b"GPS"));
    image::load_from_memory(&out).expect("the test JPEG decodes");
    out
}

fn png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(400, 200, |x, _| image::Rgba([x as u8, 100, 50, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn upload(
    server: &Server,
    user: &User,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> (StatusCode, String) {
    let boundary = "nwBOUNDARYx7";
    let mut body = Vec::new();
    for (field, value) in [("csrf", user.csrf.as_str()), ("zone", "left_cheek")] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::post("/progress/photos")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, &user.cookie)
        .body(Body::from(body))
        .unwrap();
    let (status, headers, page) = server.send(req).await;
    if status == StatusCode::SEE_OTHER {
        assert_eq!(
            headers[header::LOCATION],
            "/progress#photos",
            "not sent to log in"
        );
    }
    (status, page)
}

async fn get_bytes(server: &Server, path: &str, user: &User) -> (StatusCode, String, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = Request::get(path)
        .header(header::COOKIE, &user.cookie)
        .body(Body::empty())
        .unwrap();
    let res = server.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let csp = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, csp, body)
}

/// Every file under `dir` (none if it does not exist).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn progress_page_has_empty_states_and_rating_round_trip_draws_a_chart() {
    let server = Server::new();
    let user = server.sign_up("ada@example.com").await;
    let (status, _, page) = server.get("/progress", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No ratings yet"));
    assert!(page.contains("No photos yet"));
    assert!(page.contains("not a diagnosis"));
    assert!(page.contains("None: I see no lines, even when I make expressions."));
    assert!(page.contains(r#"href="/progress" aria-current="page""#));
    assert!(!page.contains("trend-chart"), "no chart before a rating");

    let (status, headers, _) = server
        .post(
            "/progress/ratings",
            Some(&user.cookie),
            &rating_form(&user.csrf, "2"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/progress#lines_and_wrinkles");
    server.advance_minutes(60 * 24 * 7);
    server
        .post(
            "/progress/ratings",
            Some(&user.cookie),
            &rating_form(&user.csrf, "1"),
        )
        .await;

    let profile = profile_of(&server, "ada@example.com").await;
    let ratings = server.store.ratings(profile).unwrap();
    assert_eq!(ratings.len(), 2);
    assert_eq!(ratings[0].score.value(), 2);
    assert_eq!(ratings[0].note, "morning light");

    let (_, _, page) = server.get("/progress", Some(&user.cookie)).await;
    assert!(!page.contains("No ratings yet"));
    assert!(page.contains("<svg"));
    assert!(page.contains("Lines and wrinkles: self-rated trend"));
    assert!(page.contains("forehead: 2 on 2026-11-25, 1 on 2026-12-02."));
    assert!(page.contains("<polyline"));
    assert!(page.contains("Recent ratings"));

    // Another account cannot delete it; the owner can.
    let bea = server.sign_up("bea@example.com").await;
    let delete = format!("/progress/ratings/{}/delete", ratings[0].id);
    let (status, _, _) = server
        .post(&delete, Some(&bea.cookie), &[("csrf", &bea.csrf)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = server
        .post(&delete, Some(&user.cookie), &[("csrf", &user.csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(server.store.ratings(profile).unwrap(), ratings[1..]);
}

#[tokio::test]
async fn bad_rating_is_422_naming_the_field_and_stores_nothing() {
    let server = Server::new();
    let user = server.sign_up("ada@example.com").await;
    for (score, zone) in [("7", "forehead"), ("two", "forehead"), ("", "forehead")] {
        let mut form = rating_form(&user.csrf, score);
        form[1] = ("zone", zone);
        let (status, _, page) = server
            .post("/progress/ratings", Some(&user.cookie), &form)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{score:?}");
        assert!(page.contains("score:"), "{page}");
    }
    let mut form = rating_form(&user.csrf, "1");
    form[1] = ("zone", "elbow");
    let (status, _, page) = server
        .post("/progress/ratings", Some(&user.cookie), &form)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("zone:"));
    // A wrong CSRF token changes nothing either.
    let (status, _, _) = server
        .post(
            "/progress/ratings",
            Some(&user.cookie),
            &rating_form("0000", "1"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let profile = profile_of(&server, "ada@example.com").await;
    assert!(server.store.ratings(profile).unwrap().is_empty());
}

#[tokio::test]
async fn uploaded_jpeg_is_reencoded_without_exif_and_served_to_its_owner_only() {
    let server = Server::new();
    let ada = server.sign_up("ada@example.com").await;
    let (status, page) = upload(&server, &ada, "face.jpg", "image/jpeg", &jpeg_with_exif()).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let profile = profile_of(&server, "ada@example.com").await;
    let photos = server.store.photos(profile).unwrap();
    assert_eq!(photos.len(), 1);
    let photo = &photos[0];
    assert_eq!((photo.width, photo.height), (64, 48));
    assert_eq!(photo.content_type, "image/jpeg");
    assert_eq!(photo.zone, Some(needlewise_core::zone::Zone::LeftCheek));

    let url = format!("/files/photos/{}.jpg", photo.id);
    let (status, csp, served) = get_bytes(&server, &url, &ada).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csp, CSP_FILES);
    assert!(served.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert!(!contains(&served, b"Exif"), "EXIF survived");
    assert!(!contains(&served, b"GPS"), "GPS survived");
    assert_eq!(served.len() as u64, photo.bytes);
    let decoded = image::load_from_memory(&served).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));

    let (status, _, thumb) = get_bytes(
        &server,
        &format!("/files/photos/{}/thumb.jpg", photo.id),
        &ada,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!contains(&thumb, b"Exif"));
    image::load_from_memory(&thumb).unwrap();

    // On disk under <photos>/<profile>/<id>.jpg, and the gallery shows it.
    let dir = server._dir.path().join("photos").join(profile.to_string());
    assert!(dir.join(format!("{}.jpg", photo.id)).is_file());
    assert!(dir.join(format!("{}_thumb.jpg", photo.id)).is_file());
    let (_, _, page) = server.get("/progress", Some(&ada.cookie)).await;
    assert!(page.contains(&format!("/files/photos/{}/thumb.jpg", photo.id)));
    assert!(page.contains("id=\"ghost-first\""));
    assert!(page.contains("/assets/progress.js"));

    // Another account: 404 for both files, the compare page and delete.
    let bea = server.sign_up("bea@example.com").await;
    for path in [url.clone(), format!("/files/photos/{}/thumb.jpg", photo.id)] {
        let (status, _, body) = get_bytes(&server, &path, &bea).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.starts_with(&[0xFF, 0xD8]));
    }
    let (status, _, _) = server
        .get(
            &format!("/progress/compare?a={0}&b={0}", photo.id),
            Some(&bea.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = server
        .post(
            &format!("/progress/photos/{}/delete", photo.id),
            Some(&bea.cookie),
            &[("csrf", &bea.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(server.store.photos(profile).unwrap().len(), 1);
    // Logged out: sent to log in.
    let (status, _, _) = server.get(&url, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // The owner deletes it: the record and both files go.
    let (status, _, _) = server
        .post(
            &format!("/progress/photos/{}/delete", photo.id),
            Some(&ada.cookie),
            &[("csrf", &ada.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(server.store.photos(profile).unwrap().is_empty());
    assert!(files_under(&dir).is_empty());
    let (status, _, _) = get_bytes(&server, &url, &ada).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn non_image_and_oversized_uploads_are_422_and_store_nothing() {
    let server = Server::new();
    let ada = server.sign_up("ada@example.com").await;
    let mut big = vec![0xFF, 0xD8, 0xFF, 0xE0];
    big.resize(10 * 1024 * 1024 + 1, 0);
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        // Named like a JPEG, but a GIF: judged by content, not by name.
        (
            "face.jpg",
            "image/jpeg",
            b"GIF89a\x01\x00\x01\x00".to_vec(),
            "only JPEG, PNG or WebP",
        ),
        (
            "notes.txt",
            "text/plain",
            b"hello".to_vec(),
            "only JPEG, PNG or WebP",
        ),
        (
            "x.svg",
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "only JPEG",
        ),
        (
            "broken.jpg",
            "image/jpeg",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
            "could not be read",
        ),
        ("big.jpg", "image/jpeg", big, "larger than 10 MB"),
        ("empty.jpg", "image/jpeg", Vec::new(), "choose a photo"),
    ];
    for (name, ct, bytes, message) in cases {
        let (status, page) = upload(&server, &ada, name, ct, &bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(page.contains("photo:"), "{name}: {page}");
        assert!(page.contains(message), "{name}: {page}");
    }
    let profile = profile_of(&server, "ada@example.com").await;
    assert!(server.store.photos(profile).unwrap().is_empty());
    assert!(files_under(&server._dir.path().join("photos")).is_empty());
}

#[tokio::test]
async fn compare_shows_both_photos_side_by_side() {
    let server = Server::new();
    let ada = server.sign_up("ada@example.com").await;
    let (_, _, page) = server.get("/progress/compare", Some(&ada.cookie)).await;
    assert!(page.contains("You need at least two photos"));
    let (status, page) = upload(&server, &ada, "one.png", "image/png", &png()).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    server.advance_minutes(60 * 24 * 7);
    let (status, _) = upload(&server, &ada, "two.jpg", "image/jpeg", &jpeg_with_exif()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let profile = profile_of(&server, "ada@example.com").await;
    let photos = server.store.photos(profile).unwrap();
    assert_eq!(photos.len(), 2);
    assert_eq!((photos[0].width, photos[0].height), (400, 200));

    // The PNG's thumbnail is at most 320 pixels wide.
    let (_, _, thumb) = get_bytes(
        &server,
        &format!("/files/photos/{}/thumb.jpg", photos[0].id),
        &ada,
    )
    .await;
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert!(thumb.width() <= 320 && thumb.height() <= 320);

    let (_, _, page) = server.get("/progress", Some(&ada.cookie)).await;
    assert!(page.contains("Compare two photos side by side"));
    let (status, _, page) = server
        .get(
            &format!("/progress/compare?a={}&b={}", photos[0].id, photos[1].id),
            Some(&ada.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!(r#"<img src="/files/photos/{}.jpg""#, photos[0].id)));
    assert!(page.contains(&format!(r#"<img src="/files/photos/{}.jpg""#, photos[1].id)));
    assert!(page.contains("not a measurement"));
    let (status, _, _) = server
        .get("/progress/compare?a=nonsense&b=", Some(&ada.cookie))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
