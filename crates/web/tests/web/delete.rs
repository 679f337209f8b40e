//! Deleting a profile or the whole account: confirmation, CSRF, photos
//! removed from disk, sessions ended, and nothing of the person left in
//! the bytes of the SQLite files.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use needlewise_core::ids::AccountId;

use super::{Server, User, csrf_of};

fn png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(64, 48, |x, y| image::Rgba([x as u8, y as u8, 50, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload(server: &Server, user: &User) {
    let boundary = "nwBOUNDARYdel";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n",
            user.csrf
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&png());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::post("/progress/photos")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, &user.cookie)
        .body(Body::from(body))
        .unwrap();
    let (status, _, page) = server.send(req).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
}

fn db_bytes(server: &Server) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let p = server._dir.path().join(format!("db.sqlite3{suffix}"));
        if let Ok(b) = std::fs::read(p) {
            all.extend(b);
        }
    }
    all
}

fn holds(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A person with two profiles: one holding a session with unique notes, a
/// unique product and a photo.
async fn person(server: &Server, tag: &str) -> (User, String, String, String) {
    let email = format!("zelda.{tag}@example.org");
    let user = server.sign_up(&email).await;
    let profile_name = format!("Second-{tag}");
    let (status, _, _) = server
        .post(
            "/profiles",
            Some(&user.cookie),
            &[("csrf", &user.csrf), ("name", &profile_name)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Data in the new (current) profile, straight through the store.
    let account = server.store.account_by_email(&email).unwrap().unwrap();
    let p = server
        .store
        .profile_by_name(account.id, &profile_name)
        .unwrap()
        .unwrap();
    let notes = format!("private-notes-{tag}");
    let product = format!("Unicorn-Serum-{tag}");
    let at = jiff::Timestamp::from_second(super::T0).unwrap();
    let session = needlewise_core::records::SessionRecord {
        id: needlewise_core::ids::SessionId(uuid::Uuid::now_v7()),
        profile_id: p.id,
        device_id: None,
        started_at: at,
        ended_at: at + jiff::SignedDuration::from_mins(10),
        local_date: jiff::civil::date(2026, 11, 25),
        needle_length_mm: 0.25,
        zones: vec![],
        products: vec![needlewise_core::records::ProductUse {
            name: product.clone(),
            category: "occlusive".into(),
            applied_at: at,
            allowed: true,
        }],
        notes: notes.clone(),
        setting: needlewise_core::records::SessionSetting::Home,
        readiness_check_id: None,
    };
    server.store.log_session(&session, None).unwrap();
    upload(server, &user).await;
    (user, profile_name, notes, product)
}

#[tokio::test]
async fn deleting_a_profile_needs_its_name_and_removes_its_data_and_photos() {
    let server = Server::new();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let (user, name, notes, product) = person(&server, &tag).await;
    let account = server
        .store
        .account_by_email(&format!("zelda.{tag}@example.org"))
        .unwrap()
        .unwrap();
    let pid = server
        .store
        .profile_by_name(account.id, &name)
        .unwrap()
        .unwrap()
        .id;
    let photos = server._dir.path().join("photos").join(pid.to_string());
    assert!(photos.is_dir());
    let before = db_bytes(&server);
    for s in [&name, &notes, &product] {
        assert!(holds(&before, s), "{s} should be stored first");
    }

    let (status, _, page) = server.get("/profiles/delete", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&name) && page.contains("confirm_name"));
    let id = pid.to_string();

    // Without the CSRF token: refused.
    let (status, _, _) = server
        .post(
            "/profiles/delete",
            Some(&user.cookie),
            &[("csrf", "x"), ("profile", &id), ("confirm_name", &name)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The wrong name: refused, nothing deleted.
    let (status, _, page) = server
        .post(
            "/profiles/delete",
            Some(&user.cookie),
            &[
                ("csrf", &user.csrf),
                ("profile", &id),
                ("confirm_name", "second"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("nothing was deleted"));
    assert!(server.store.profile(pid).unwrap().is_some());
    // Another account's profile: not found.
    let other = server.sign_up("other@example.org").await;
    let (status, _, _) = server
        .post(
            "/profiles/delete",
            Some(&other.cookie),
            &[
                ("csrf", &other.csrf),
                ("profile", &id),
                ("confirm_name", &name),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(photos.is_dir());

    let (status, headers, _) = server
        .post(
            "/profiles/delete",
            Some(&user.cookie),
            &[
                ("csrf", &user.csrf),
                ("profile", &id),
                ("confirm_name", &name),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/profiles");
    assert!(server.store.profile(pid).unwrap().is_none());
    assert!(!photos.exists(), "the photos are still on disk");
    let after = db_bytes(&server);
    for s in [&name, &notes, &product] {
        assert!(!holds(&after, s), "{s} is still in the database files");
    }
    // Still logged in, in the remaining profile; which is the last one,
    // so it cannot be deleted on its own.
    let (status, _, page) = server.get("/profiles/delete", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("only profile"));
    let last = server.store.profiles(account.id).unwrap()[0].clone();
    let (status, _, _) = server
        .post(
            "/profiles/delete",
            Some(&user.cookie),
            &[
                ("csrf", &user.csrf),
                ("profile", &last.id.to_string()),
                ("confirm_name", &last.name),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(server.store.profile(last.id).unwrap().is_some());
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_leaves_nothing() {
    let server = Server::new();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let email = format!("zelda.{tag}@example.org");
    let (user, name, notes, product) = person(&server, &tag).await;
    // A second browser of the same person.
    let (status, headers, _) = server
        .post(
            "/login",
            None,
            &[("email", &email), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let second = super::cookie_pair(&headers);
    let bystander = server.sign_up("bystander@example.org").await;
    let account = server.store.account_by_email(&email).unwrap().unwrap();
    let profiles = server.store.profiles(account.id).unwrap();
    assert_eq!(profiles.len(), 2);
    let photo_root = server._dir.path().join("photos");

    let (status, _, page) = server.get("/account/delete", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("type=\"password\""));
    assert_eq!(csrf_of(&page), user.csrf);

    let (status, _, _) = server
        .post(
            "/account/delete",
            Some(&user.cookie),
            &[("csrf", "nope"), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = server
        .post(
            "/account/delete",
            Some(&user.cookie),
            &[("csrf", &user.csrf), ("password", "wrong password")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("nothing was deleted"));
    assert!(server.store.account(account.id).unwrap().is_some());

    let (status, headers, _) = server
        .post(
            "/account/delete",
            Some(&user.cookie),
            &[("csrf", &user.csrf), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/signup");
    let cleared = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.contains("Max-Age=0") || cleared.contains("max-age=0"),
        "{cleared}"
    );

    // Every session of the account has ended.
    for cookie in [&user.cookie, &second] {
        let (status, _, _) = server.get("/profiles", Some(cookie)).await;
        assert_ne!(status, StatusCode::OK);
    }
    assert!(server.store.account_by_email(&email).unwrap().is_none());
    for p in &profiles {
        assert!(server.store.profile(p.id).unwrap().is_none());
        assert!(!photo_root.join(p.id.to_string()).exists());
    }
    let after = db_bytes(&server);
    for s in [&email, &name, &notes, &product] {
        assert!(!holds(&after, s), "{s} is still in the database files");
    }
    // Nothing in any table refers to the account or its profiles.
    let snap = server.store.snapshot().unwrap();
    let ids: Vec<String> = std::iter::once(account.id.to_string())
        .chain(profiles.iter().map(|p| p.id.to_string()))
        .collect();
    for t in &snap.tables {
        for row in &t.rows {
            for cell in row {
                if let needlewise_store::snapshot::Cell::Text(s) = cell {
                    assert!(!ids.contains(s), "{} still refers to {s}", t.table);
                }
            }
        }
    }
    // The bystander is untouched.
    let (status, _, _) = server.get("/profiles", Some(&bystander.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(account.id, AccountId::LOCAL);
}
