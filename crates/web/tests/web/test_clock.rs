//! The hidden test clock (`serve --test-clock`): its route exists only when
//! the state carries one, and it moves the server's clock forward.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use needlewise_store::{SqliteStore, Store};
use needlewise_web::{AppState, Config, router};
use tower::ServiceExt;

use super::{Server, T0};

async fn advance(app: &axum::Router, minutes: &str) -> (StatusCode, String) {
    let req = Request::post(format!("/__test/clock/advance?minutes={minutes}"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_advance_route_is_not_found_without_the_test_clock() {
    let s = Server::new();
    let (status, _) = advance(&s.app, "11").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = s.get("/__test/clock/advance?minutes=11", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_test_clock_moves_the_servers_time_forward() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap());
    let t0 = Timestamp::from_second(T0).unwrap();
    let state = AppState::new(
        store,
        Config::default(),
        Arc::new(move || t0),
        TimeZone::UTC,
    )
    .with_test_clock();
    assert_eq!(state.now(), t0);
    let app = router(state.clone());

    let (status, body) = advance(&app, "11").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(state.now(), Timestamp::from_second(T0 + 11 * 60).unwrap());
    assert_eq!(body.trim(), state.now().to_string());

    let (status, _) = advance(&app, "31").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.now(), Timestamp::from_second(T0 + 42 * 60).unwrap());

    for bad in ["-5", "lots", "99999999"] {
        let (status, _) = advance(&app, bad).await;
        assert!(status.is_client_error(), "{bad}: {status}");
    }
    assert_eq!(state.now(), Timestamp::from_second(T0 + 42 * 60).unwrap());
}
