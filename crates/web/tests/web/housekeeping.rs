//! Tidying: expired sessions and old rate-limit windows leave the store;
//! live sessions and windows that still count stay.

use axum::http::StatusCode;
use needlewise_web::Config;
use needlewise_web::housekeeping::{Tidied, tidy};

use super::Server;

fn rate_limit_rows(server: &Server) -> usize {
    server
        .store
        .snapshot()
        .unwrap()
        .table("rate_limits")
        .unwrap()
        .rows
        .len()
}

#[tokio::test]
async fn tidying_removes_expired_sessions_and_stale_windows_only() {
    let server = Server::with_config(Config {
        session_hours: 1,
        ..Config::default()
    });
    let early = server.sign_up("early@example.org").await;
    // A wrong password counts in this minute's windows (per email, per
    // address).
    let (status, _, _) = server
        .post(
            "/login",
            None,
            &[
                ("email", "early@example.org"),
                ("password", "not it at all"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let stale_windows = rate_limit_rows(&server);
    assert!(stale_windows > 0, "the failed log-in was counted");

    // Nothing to tidy yet: the session is live and the windows count.
    assert_eq!(
        tidy(&server.state).await.unwrap(),
        Tidied {
            web_sessions: 0,
            rate_limit_windows: 0,
            invites: 0,
        }
    );

    // Two hours on: the first session has expired; a second person signs
    // up and fails a log-in now.
    server.advance_minutes(120);
    let late = server.sign_up("late@example.org").await;
    server
        .post(
            "/login",
            None,
            &[("email", "late@example.org"), ("password", "not it either")],
        )
        .await;
    let all_windows = rate_limit_rows(&server);
    assert!(all_windows > stale_windows);

    let tidied = tidy(&server.state).await.unwrap();
    assert_eq!(tidied.web_sessions, 1, "the expired session");
    let left = rate_limit_rows(&server);
    // The early email's window (never hit again) went; this minute's
    // windows stay whole. (Hitting a key drops its own older windows, so
    // the shared address's early window may have gone already.)
    assert!(tidied.rate_limit_windows >= 1, "{tidied:?}");
    assert!(left >= 1, "this minute's windows stay");
    assert_eq!(
        u64::try_from(all_windows - left).unwrap(),
        tidied.rate_limit_windows
    );
    assert!(
        u64::try_from(stale_windows).unwrap() >= tidied.rate_limit_windows,
        "only early windows went"
    );
    // The live session still works; the expired one does not.
    let (status, _, _) = server.get("/", Some(&late.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server.get("/", Some(&early.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Once the longest window has passed, this minute's windows go too.
    server.advance_minutes(16);
    let later = tidy(&server.state).await.unwrap();
    assert_eq!(later.rate_limit_windows, u64::try_from(left).unwrap());
    assert_eq!(rate_limit_rows(&server), 0);
}

#[tokio::test]
async fn tidying_removes_invites_that_expired_unused() {
    let server = Server::new();
    let dr =
        super::clinic::clinic_signup(&server, "t@clinic.example", "Dr Tee", "Tee Clinic").await;
    let code = super::clinic::invite(&server, &dr).await;
    let invites = |server: &Server| {
        server
            .store
            .snapshot()
            .unwrap()
            .table("clinic_invites")
            .unwrap()
            .rows
            .len()
    };
    assert_eq!(invites(&server), 1);
    // Open for seven days: kept until then.
    server.advance_minutes(7 * 24 * 60 - 1);
    assert_eq!(tidy(&server.state).await.unwrap().invites, 0);
    assert_eq!(invites(&server), 1);
    server.advance_minutes(2);
    assert_eq!(tidy(&server.state).await.unwrap().invites, 1);
    assert_eq!(invites(&server), 0);
    // The link answers as a link never issued does.
    let patient = server.sign_up("pat@example.org").await;
    let (status, _, page) = server
        .get(&format!("/join/{code}"), Some(&patient.cookie))
        .await;
    let unknown = "0".repeat(code.len());
    let (status_unknown, _, page_unknown) = server
        .get(&format!("/join/{unknown}"), Some(&patient.cookie))
        .await;
    assert_eq!(status, status_unknown);
    assert_eq!(page, page_unknown);
}
