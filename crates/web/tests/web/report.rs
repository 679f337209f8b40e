//! `GET /report.pdf`: the logged-in profile's referral report, as an
//! attachment, never cached, and never another user's.

use axum::http::{StatusCode, header};
use needlewise_core::hygiene::{Device, DeviceKind, RollerSpec};
use needlewise_core::ids::DeviceId;
use needlewise_store::Store;

use super::Server;

fn add_device(store: &dyn Store, email: &str, name: &str) {
    let account = store.account_by_email(email).unwrap().unwrap();
    let profile = store.profiles(account.id).unwrap().remove(0);
    let device = Device::new(
        DeviceId(uuid::Uuid::new_v4()),
        profile.id,
        name.into(),
        DeviceKind::Roller(RollerSpec::standard_192(0.25)),
        jiff::Timestamp::from_second(super::T0).unwrap(),
    )
    .unwrap();
    store.add_device(&device).unwrap();
}

#[tokio::test]
async fn the_report_is_a_pdf_attachment_of_ones_own_profile_only() {
    let s = Server::new();
    let a = s.sign_up("a@example.org").await;
    let b = s.sign_up("b@example.org").await;
    add_device(s.store.as_ref(), "a@example.org", "Alpha private roller");
    add_device(s.store.as_ref(), "b@example.org", "Bravo own roller");

    let (status, h, body) = s.get("/report.pdf", Some(&a.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        "attachment; filename=\"needlewise-report-2026-11-25.pdf\""
    );
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(h.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(body.starts_with("%PDF-"), "{}", &body[..body.len().min(40)]);
    assert!(body.contains("Alpha private roller"));
    assert!(!body.contains("Bravo own roller"));

    // Another user gets their own report, never the first user's.
    let (status, _, other) = s.get("/report.pdf", Some(&b.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(other.starts_with("%PDF-"));
    assert!(other.contains("Bravo own roller"));
    assert!(!other.contains("Alpha private roller"));

    // Without a session: to the log-in page, no PDF.
    let (status, h, body) = s.get("/report.pdf", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/login");
    assert!(!body.starts_with("%PDF-"));

    // The progress page links to it.
    let (_, _, page) = s.get("/progress", Some(&a.cookie)).await;
    assert!(page.contains("href=\"/report.pdf\""), "{page}");
}
