//! Two `needlewise serve` instances on one PostgreSQL database, each with
//! its own connection, and no sticky routing: requests alternate between
//! them through a whole flow. Sessions, the log-in rate limit and
//! notifications are shared through the store.
//!
//! Needs `NEEDLEWISE_TEST_POSTGRES_URL` (scripts/pg-test-server start); it
//! fails, never skips, without it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use needlewise_core::clinic::{Role, Scope};
use needlewise_store::{PostgresStore, Store};
use needlewise_web::{AppState, Config, notify, router};
use serde_json::{Value, json};
use uuid::Uuid;

use super::notify::{account_of, clinic, enrol, member, now_of};
use super::smtp_sink::SmtpSink;
use super::{Server, T0, User, cookie_pair, csrf_of, refs, screening_form};

const PASSWORD: &str = "correct horse battery";

fn postgres_url() -> String {
    match std::env::var("NEEDLEWISE_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "NEEDLEWISE_TEST_POSTGRES_URL is not set, so the scale-out test cannot run. \
             Start a throwaway server: eval \"$(scripts/pg-test-server start)\""
        ),
    }
}

fn url_in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Two instances: each its own `PostgresStore` connection to one fresh
/// schema, its own `AppState` and router, one shared clock. Also returns
/// the two stores, to be dropped last, outside the async runtime (the
/// synchronous PostgreSQL client may not be dropped inside one).
fn two_instances(config: Config) -> (Server, Server, [Arc<dyn Store>; 2]) {
    let url = postgres_url();
    let schema = format!("nw_web_{}", Uuid::new_v4().simple());
    // The first owns the schema (dropped with it); the second opens it.
    let first: Arc<dyn Store> = Arc::new(
        PostgresStore::connect_fresh_schema(&url, &schema).unwrap_or_else(|e| {
            panic!("cannot set up a schema on NEEDLEWISE_TEST_POSTGRES_URL: {e}")
        }),
    );
    let second: Arc<dyn Store> =
        Arc::new(PostgresStore::connect(&url_in_schema(&url, &schema)).unwrap());
    let clock = Arc::new(AtomicI64::new(T0));
    let instance = |store: Arc<dyn Store>| {
        let c = clock.clone();
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::new(
            store.clone(),
            config.clone(),
            Arc::new(move || Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap()),
            TimeZone::UTC,
        )
        .with_photo_dir(dir.path().join("photos"));
        Server {
            app: router(state.clone()),
            store,
            clock: clock.clone(),
            state,
            _dir: dir,
        }
    };
    let stores = [first.clone(), second.clone()];
    (instance(first), instance(second), stores)
}

/// Runs a direct store call on the blocking pool (the synchronous
/// PostgreSQL client cannot run on the async executor's threads).
async fn off<T, F>(s: &Server, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> T + Send + 'static,
{
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .unwrap()
}

async fn api(s: &Server, method: &str, path: &str, u: &User, body: Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, &u.cookie)
        .header("x-csrf-token", &u.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, text) = s.send(req).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn log_in(s: &Server, email: &str, password: &str) -> (StatusCode, Option<User>) {
    let (status, h, _) = s
        .post("/login", None, &[("email", email), ("password", password)])
        .await;
    if status != StatusCode::SEE_OTHER {
        return (status, None);
    }
    let cookie = cookie_pair(&h);
    let (_, _, page) = s.get("/profiles", Some(&cookie)).await;
    (
        status,
        Some(User {
            cookie,
            csrf: csrf_of(&page),
        }),
    )
}

#[test]
fn two_instances_share_sessions_rate_limits_and_notifications() {
    let sink = SmtpSink::start();
    let (a, b, stores) = two_instances(Config {
        login_attempts_per_minute: 4,
        smtp_url: Some(sink.url()),
        ..Config::default()
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(whole_flow(a, b, sink));
    // The runtime goes first, then the stores, outside it.
    drop(runtime);
    drop(stores);
}

async fn whole_flow(a: Server, b: Server, sink: SmtpSink) {
    assert_eq!(a.store.backend(), "postgres");
    assert_eq!(b.store.backend(), "postgres");

    // Sign up on A, log in on B; from here each request goes to the other.
    let first = a.sign_up("pat@home.test").await;
    let (status, pat) = log_in(&b, "pat@home.test", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let pat = pat.unwrap();
    assert_ne!(first.cookie, pat.cookie);

    // Screening on A, its result on B.
    let form = screening_form(&pat.csrf);
    let (status, _, page) = a.post("/screening", Some(&pat.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (status, _, page) = b.get("/screening/result", Some(&pat.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("verdict"), "{page}");

    // A roller added on B, cleaned step by step on alternate instances.
    let (status, _, _) = b
        .post(
            "/devices",
            Some(&pat.cookie),
            &[
                ("csrf", &pat.csrf),
                ("name", "bathroom roller"),
                ("kind", "roller"),
                ("needle_mm", "0.25"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = a.get("/devices", Some(&pat.cookie)).await;
    let i = page.find("/devices/").expect("the roller is listed on A") + 9;
    let device = page[i..i + 36].to_owned();
    let step = |action: &str| format!("/devices/{device}/{action}");
    let csrf = [("csrf", pat.csrf.as_str())];
    assert_eq!(
        a.post(&step("rinse"), Some(&pat.cookie), &csrf).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post(
            &step("soak"),
            Some(&pat.cookie),
            &[("csrf", &pat.csrf), ("alcohol", "70")]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    a.advance_minutes(10);
    assert_eq!(
        a.post(&step("dry"), Some(&pat.cookie), &csrf).await.0,
        StatusCode::SEE_OTHER
    );
    b.advance_minutes(30);
    assert_eq!(
        b.post(&step("ready"), Some(&pat.cookie), &csrf).await.0,
        StatusCode::SEE_OTHER
    );

    // Ready on A, the session on B.
    let ready = json!({
        "device": device,
        "answers": {
            "skin_cleansed": true, "device_damaged": false, "cold_sore_now": false,
            "active_problem_zones": [], "sunburn_or_tan": false, "actives_recently": false,
            "waxed_zones": [], "procedures_since": [], "new_medication": false, "pregnant_now": false,
            "feeling_unwell": false
        }
    });
    let (status, v) = api(&a, "POST", "/api/readiness", &pat, ready).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["go"], true, "{v}");
    let (status, v) = api(
        &b,
        "POST",
        "/api/sessions",
        &pat,
        json!({"device": device, "zones": [{"zone": "forehead", "seconds": 60}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");

    // The patient's clinic (set up in the store), with two clinicians.
    let lee_user = a.sign_up("lee@clinic.test").await;
    let t = now_of(&a);
    let (lee, kim, c) = off(&a, move |store| {
        let lee = account_of(store, "lee@clinic.test");
        let kim = super::notify::account(store, "kim@clinic.test", t);
        (lee, kim, clinic(store, lee, t))
    })
    .await;
    off(&b, move |store| {
        member(store, c, lee, kim, Role::Clinician, "Dr Kim", t);
        let profile = store.profiles(account_of(store, "pat@home.test")).unwrap()[0].id;
        enrol(store, c, lee, profile, &[Scope::Checkins], t);
    })
    .await;

    // A red flag, checked in on A: the notification is made there...
    a.advance_minutes(24 * 60);
    let (status, v) = api(
        &a,
        "POST",
        "/api/checkins",
        &pat,
        super::notify::checkin_answers(true),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["locks_sessions"], true);
    // ...and seen on B.
    let (status, _, page) = b.get("/notifications", Some(&lee_user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("A patient has a warning sign to review"),
        "{page}"
    );
    assert!(page.contains("1 unread"), "{page}");
    // Marked read on A, read on B.
    let (_, _, page_a) = a.get("/notifications", Some(&lee_user.cookie)).await;
    let i = page_a.find("data-notification=\"").unwrap() + 19;
    let id = page_a[i..i + 36].to_owned();
    let (status, _, _) = a
        .post(
            &format!("/notifications/{id}/read"),
            Some(&lee_user.cookie),
            &[("csrf", &lee_user.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = b.get("/notifications", Some(&lee_user.cookie)).await;
    assert!(page.contains("All read."), "{page}");
    assert_eq!(
        off(&b, move |s| s.notifications(kim, 10).unwrap().len()).await,
        1
    );
    // The emails went once, and B's worker running now has nothing to do.
    let got = sink.wait_for(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let now = now_of(&b);
    let mailer = needlewise_web::mail::Mailer::new(Some(&sink.url()), "a@b.test").unwrap();
    let (stepped, sent) = off(&b, move |s| {
        (
            notify::escalate(s, now).unwrap(),
            notify::deliver(s, &mailer, now).unwrap(),
        )
    })
    .await;
    assert_eq!((stepped, sent), (0, 0));
    assert_eq!(sink.messages().len(), 2);

    // The session list is the same on both; logging out on B ends it on A.
    let (_, _, list_a) = a.get("/account/sessions", Some(&pat.cookie)).await;
    let (_, _, list_b) = b.get("/account/sessions", Some(&pat.cookie)).await;
    assert_eq!(list_a.matches("name=\"session\"").count(), 2);
    assert_eq!(list_b.matches("name=\"session\"").count(), 2);
    let (status, _, _) = b
        .post("/logout", Some(&first.cookie), &[("csrf", &first.csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.get("/", Some(&first.cookie)).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(a.get("/", Some(&pat.cookie)).await.0, StatusCode::OK);

    // The log-in limit counts across both: 4 wrong attempts split over A
    // and B, then even the right password is refused on either.
    a.advance_minutes(1);
    for (i, server) in [&a, &b, &a, &b].into_iter().enumerate() {
        let (status, _) = log_in(server, "lee@clinic.test", "wrong password!").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    for server in [&a, &b] {
        let (status, _) = log_in(server, "lee@clinic.test", PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    // A new minute, a new count.
    b.advance_minutes(1);
    let (status, user) = log_in(&b, "lee@clinic.test", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.get("/notifications", Some(&user.unwrap().cookie)).await.0,
        StatusCode::OK
    );
}
