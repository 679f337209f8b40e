//! The web crate's one integration-test binary: the real router and a real
//! SQLite store, in process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account_security;
mod api_care;
mod appointments;
mod authz;
mod authz_fields;
mod calendar;
mod clinic;
mod dates;
mod delete;
mod fhir;
mod housekeeping;
mod layering;
mod messages;
mod notify;
mod openapi;
mod progress;
mod report;
mod scale_out;
mod screening;
mod session;
mod smtp_sink;
mod smtp_tls;
mod team;
mod test_clock;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use needlewise_store::{SqliteStore, Store};
use needlewise_web::{AppState, Config, router};
use tempfile::TempDir;
use tower::ServiceExt;

/// Runs a synchronous store call from async test code on either backend.
/// On a multi-thread runtime (the PostgreSQL tests' one) it leaves the
/// runtime's context first, since the synchronous PostgreSQL client blocks
/// on a runtime of its own; SQLite's tests run on a current-thread
/// runtime, where the call simply runs.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A server with a clock the test moves.
struct Server {
    app: Router,
    store: Arc<dyn Store>,
    clock: Arc<AtomicI64>,
    state: AppState,
    _dir: TempDir,
}

const T0: i64 = 1_795_622_400; // 2026-11-25T16:00:00Z

impl Server {
    fn new() -> Server {
        Server::with_config(Config::default())
    }

    fn with_config(config: Config) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap());
        let clock = Arc::new(AtomicI64::new(T0));
        let c = clock.clone();
        let state = AppState::new(
            store.clone(),
            config,
            Arc::new(move || Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap()),
            TimeZone::UTC,
        )
        .with_photo_dir(dir.path().join("photos"));
        Server {
            app: router(state.clone()),
            store,
            clock,
            state,
            _dir: dir,
        }
    }

    /// Runs `test` on a server over a fresh PostgreSQL schema, in a
    /// runtime of its own that ends before the store is dropped.
    fn on_postgres<F, Fut>(test: F)
    where
        F: FnOnce(Server) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let (s, store) = Server::postgres();
        assert_eq!(s.store.backend(), "postgres");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(test(s));
        drop(runtime);
        drop(store);
    }

    /// A server on a fresh schema of `NEEDLEWISE_TEST_POSTGRES_URL` (it
    /// panics, never skips, without one). Also returns the store, to be
    /// dropped last, outside any async runtime (the synchronous
    /// PostgreSQL client may not be dropped inside one); direct store
    /// calls go through the blocking pool.
    fn postgres() -> (Server, Arc<dyn Store>) {
        let url = match std::env::var("NEEDLEWISE_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => panic!(
                "NEEDLEWISE_TEST_POSTGRES_URL is not set, so the PostgreSQL half cannot run. \
                 Start a throwaway server: eval \"$(scripts/pg-test-server start)\""
            ),
        };
        let schema = format!("nw_web_{}", uuid::Uuid::new_v4().simple());
        let store: Arc<dyn Store> = Arc::new(
            needlewise_store::PostgresStore::connect_fresh_schema(&url, &schema)
                .unwrap_or_else(|e| panic!("cannot set up a schema: {e}")),
        );
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(AtomicI64::new(T0));
        let c = clock.clone();
        let state = AppState::new(
            store.clone(),
            Config::default(),
            Arc::new(move || Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap()),
            TimeZone::UTC,
        )
        .with_photo_dir(dir.path().join("photos"));
        (
            Server {
                app: router(state.clone()),
                store: store.clone(),
                clock,
                state,
                _dir: dir,
            },
            store,
        )
    }

    /// The server's clock now.
    fn now(&self) -> Timestamp {
        Timestamp::from_second(self.clock.load(Ordering::SeqCst)).unwrap()
    }

    fn advance_minutes(&self, m: i64) {
        self.clock.fetch_add(m * 60, Ordering::SeqCst);
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let res: Response<Body> = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        // A page's inline stylesheet is the same 17 KB everywhere; it is
        // left out here so that a test's "the page does not say X" is about
        // what the page says, not about a class name in the stylesheet.
        // `pages_inline_the_stylesheet_and_the_csp_allows_only_that` reads
        // the raw pages and checks the stylesheet itself.
        let text = text.replacen(
            &format!("<style>{}</style>", needlewise_web::assets::style()),
            "<style></style>",
            1,
        );
        (status, headers, text)
    }

    /// A page as it is sent, inline stylesheet included.
    async fn get_raw(&self, path: &str, cookie: Option<&str>) -> (axum::http::HeaderMap, String) {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let res: Response<Body> = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (headers, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn get(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// Posts a form and, when it answers with a redirect (Post/Redirect/Get),
    /// gets the page it leads to.
    async fn post_follow(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let (status, headers, body) = self.post(path, cookie, form).await;
        if status != StatusCode::SEE_OTHER {
            return (status, headers, body);
        }
        let to = headers[header::LOCATION].to_str().unwrap().to_owned();
        self.get(&to, cookie).await
    }

    /// Signs up and returns the cookie pair and the CSRF token.
    /// Signs up (which logs nobody in: the answer is the same whether the
    /// email was new) and then logs in.
    async fn sign_up(&self, email: &str) -> User {
        self.sign_up_only(email).await;
        self.log_in(email).await
    }

    /// Signs up without logging in (a log-in counts against the limits).
    async fn sign_up_only(&self, email: &str) {
        let (status, headers, _) = self
            .post(
                "/signup",
                None,
                &[("email", email), ("password", "correct horse battery")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            headers[header::LOCATION],
            "/login?signed_up=1&next=%2Fscreening"
        );
        assert!(headers.get(header::SET_COOKIE).is_none());
    }

    async fn log_in(&self, email: &str) -> User {
        let (status, headers, page) = self
            .post(
                "/login",
                None,
                &[("email", email), ("password", "correct horse battery")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        let cookie = cookie_pair(&headers);
        let (_, _, page) = self.get("/profiles", Some(&cookie)).await;
        User {
            cookie,
            csrf: csrf_of(&page),
        }
    }
}

struct User {
    cookie: String,
    csrf: String,
}

fn cookie_pair(headers: &axum::http::HeaderMap) -> String {
    let set = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

fn csrf_of(page: &str) -> String {
    let i = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[i..i + 64].to_owned()
}

fn screening_form(csrf: &str) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = vec![("csrf", csrf.to_owned())];
    for (k, v) in [
        ("age", "35"),
        ("sex", "female"),
        ("pregnant", "no"),
        ("breastfeeding", "no"),
        ("cardiac_condition", "no"),
        ("collagen_vascular_disease", "no"),
        ("bleeding_disorder", "no"),
        ("anticoagulants", "no"),
        ("isotretinoin", "never"),
        ("chemo_or_radiotherapy", "never"),
        ("chemo_or_radiotherapy_planned", "no"),
        ("high_dose_steroids", "never"),
        ("high_dose_steroids_planned", "no"),
        ("immunosuppressed", "no"),
        ("other_serious_condition", "no"),
        ("device_kind", "roller"),
        ("systemic_infection", "no"),
        ("diabetes", "none"),
        ("keloid_tendency", "no"),
        ("metal_allergy", "no"),
        ("anaesthetic_allergy", "no"),
        ("plans_topical_anaesthetic", "no"),
        ("skin_cancer_or_suspicious_lesion", "no"),
        ("chronic_skin_condition", "no"),
        ("treating_young_scar", "no"),
        ("fitzpatrick", "2"),
        ("needle_length_mm", "0.25"),
        ("zones", "forehead"),
        ("zones", "left_cheek"),
        ("cold_sores", "no"),
    ] {
        f.push((k, v.to_owned()));
    }
    f
}

fn refs<'a>(f: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    f.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn security_headers_on_every_route_family() {
    let s = Server::new();
    let user = s.sign_up("a@example.org").await;
    for (path, cookie) in [
        ("/login", None),
        ("/evidence", None),
        ("/", Some(user.cookie.as_str())),
        ("/devices", Some(user.cookie.as_str())),
        ("/progress", Some(user.cookie.as_str())),
        ("/api/evidence", None),
        ("/api/devices", Some(user.cookie.as_str())),
        ("/care-team", Some(user.cookie.as_str())),
        ("/clinic", Some(user.cookie.as_str())),
        ("/clinic/signup", None),
        ("/mfa", Some(user.cookie.as_str())),
        ("/notifications", Some(user.cookie.as_str())),
        ("/account/sessions", Some(user.cookie.as_str())),
        ("/api/care-team", Some(user.cookie.as_str())),
        ("/assets/app.css", None),
        ("/nothing-here", None),
    ] {
        let (_, h, _) = s.get(path, cookie).await;
        let csp = h
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(
            h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
            "nosniff",
            "{path}"
        );
        assert_eq!(
            h.get(header::REFERRER_POLICY).unwrap(),
            "no-referrer",
            "{path}"
        );
        let cache = h
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if path.starts_with("/assets/") {
            assert!(cache.starts_with("public"), "{path}: {cache}");
        } else {
            assert_eq!(cache, "no-store", "{path}");
        }
    }
}

/// Every page carries the stylesheet inline (no request of its own before
/// the first paint), and the CSP allows exactly that style by its hash:
/// no other inline style, and no inline script at all.
#[tokio::test]
async fn pages_inline_the_stylesheet_and_the_csp_allows_only_that() {
    use data_encoding::BASE64;
    use sha2::{Digest, Sha256};
    let s = Server::new();
    let user = s.sign_up("inline-style@example.org").await;
    let (_, _, css) = s.get("/assets/app.css", None).await;
    let hash = BASE64.encode(&Sha256::digest(css.as_bytes()));
    for (path, cookie) in [
        ("/", None),
        ("/login", None),
        ("/nothing-here", None),
        ("/", Some(user.cookie.as_str())),
        ("/screening", Some(user.cookie.as_str())),
        ("/session", Some(user.cookie.as_str())),
        ("/clinic/signup", None),
    ] {
        let (h, page) = s.get_raw(path, cookie).await;
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains(&format!("style-src 'self' 'sha256-{hash}';")),
            "{path}: {csp}"
        );
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert_eq!(page.matches("<style").count(), 1, "{path}");
        let inline = page
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(inside, _)| inside)
            .unwrap();
        assert_eq!(
            inline, css,
            "{path}: the inline style is app.css, byte for byte"
        );
        assert!(!page.contains("rel=\"stylesheet\""), "{path}");
        assert!(!page.contains(" style=\""), "{path}");
    }
}

#[tokio::test]
async fn pages_need_a_login_and_the_api_says_so_in_json() {
    let s = Server::new();
    let (status, h, _) = s.get("/devices", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(header::LOCATION).unwrap(), "/login");
    let (status, _, body) = s.get("/api/devices", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "unauthenticated");
    let (status, _, body) = s.get("/api/nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"not_found\""));
}

/// Signs up, logs in and returns the log-in's `Set-Cookie`.
async fn log_in_cookie(s: &Server) -> String {
    s.sign_up("b@example.org").await;
    let (_, h, _) = s
        .post(
            "/login",
            None,
            &[
                ("email", "b@example.org"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    h.get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn session_cookies_are_http_only_and_secure_behind_tls() {
    let s = Server::new();
    let set = log_in_cookie(&s).await;
    assert!(
        set.starts_with("nw_session=") && set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(!set.contains("Secure"));

    let tls = Server::with_config(Config {
        public_url: Some("https://needlewise.example.org".into()),
        ..Config::default()
    });
    let set = log_in_cookie(&tls).await;
    assert!(
        set.starts_with("__Host-nw_session=") && set.contains("; Secure") && set.contains("Path=/"),
        "{set}"
    );
}

#[tokio::test]
async fn sign_up_checks_its_input_and_answers_a_taken_email_like_a_new_one() {
    let s = Server::new();
    let (status, _, page) = s
        .post(
            "/signup",
            None,
            &[
                ("email", "not-an-email"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("email: enter an address"));
    let (status, _, page) = s
        .post(
            "/signup",
            None,
            &[("email", "c@example.org"), ("password", "short")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("at least 10 characters"));
    // A new email and a taken one (in another case, another password): the
    // same status, the same headers but the request id, the same body.
    let new = s
        .post(
            "/signup",
            None,
            &[
                ("email", "c@example.org"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    let taken = s
        .post(
            "/signup",
            None,
            &[
                ("email", "C@Example.org"),
                ("password", "another long password"),
            ],
        )
        .await;
    assert_same_answer(&new, &taken);
    assert_eq!(new.0, StatusCode::SEE_OTHER);
    assert_eq!(
        new.1[header::LOCATION],
        "/login?signed_up=1&next=%2Fscreening"
    );
    assert!(
        new.1.get(header::SET_COOKIE).is_none(),
        "nobody is logged in"
    );
    // The taken email's account is unchanged: its own password still
    // works, the one typed at the second sign-up does not.
    s.log_in("c@example.org").await;
    let (status, _, _) = s
        .post(
            "/login",
            None,
            &[
                ("email", "c@example.org"),
                ("password", "another long password"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The log-in page after a sign-up says the same either way.
    let (status, _, page) = s.get(new.1[header::LOCATION].to_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("If this email address had no account yet"),
        "{page}"
    );
    assert!(page.contains(r#"name="next" value="/screening""#), "{page}");
}

/// Two answers a requester cannot tell apart: status, every header but the
/// request id, and body.
fn assert_same_answer(
    a: &(StatusCode, axum::http::HeaderMap, String),
    b: &(StatusCode, axum::http::HeaderMap, String),
) {
    let headers = |h: &axum::http::HeaderMap| {
        let mut v: Vec<(String, Vec<u8>)> = h
            .iter()
            .filter(|(k, _)| k.as_str() != "x-request-id")
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(a.0, b.0, "status");
    assert_eq!(headers(&a.1), headers(&b.1), "headers");
    assert_eq!(a.2, b.2, "body");
}

#[tokio::test]
async fn log_in_rotates_the_session_and_log_out_ends_it() {
    let s = Server::new();
    let first = s.sign_up("d@example.org").await;
    let (status, h, _) = s
        .post(
            "/login",
            None,
            &[
                ("email", "D@example.org"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let second = cookie_pair(&h);
    assert_ne!(first.cookie, second, "a new log-in gets a new session id");
    let (status, h, _) = s
        .post("/logout", Some(&first.cookie), &[("csrf", &first.csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The browser also drops what the service worker kept for offline use.
    assert_eq!(h["clear-site-data"], "\"cache\", \"storage\"");
    let (status, _, _) = s.get("/", Some(&first.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the old session is gone");
    let (status, _, _) = s.get("/", Some(&second)).await;
    assert_eq!(status, StatusCode::OK, "the other session lives on");
}

#[tokio::test]
async fn an_invitation_link_survives_log_in_and_sign_up_but_never_leaves_the_site() {
    let s = Server::new();
    s.sign_up("e@example.org").await;
    // Anonymous: the join page sends to log-in, carrying the link along.
    let (status, h, _) = s.get("/join/abc123", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        h.get(header::LOCATION).unwrap(),
        "/login?next=%2Fjoin%2Fabc123"
    );
    let (_, _, page) = s.get("/login?next=%2Fjoin%2Fabc123", None).await;
    assert!(
        page.contains(r#"name="next" value="/join/abc123""#),
        "{page}"
    );
    assert!(
        page.contains(r#"href="/signup?next=%2Fjoin%2Fabc123""#),
        "{page}"
    );
    let login = |next: &'static str| {
        [
            ("email", "e@example.org"),
            ("password", "correct horse battery"),
            ("next", next),
        ]
    };
    let (status, h, _) = s.post("/login", None, &login("/join/abc123")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(header::LOCATION).unwrap(), "/join/abc123");
    // Another site, however it is spelled, becomes the home page.
    for evil in [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "evil",
    ] {
        let (_, h, _) = s.post("/login", None, &login(evil)).await;
        assert_eq!(h.get(header::LOCATION).unwrap(), "/", "{evil}");
    }
    let (status, h, _) = s
        .post(
            "/signup",
            None,
            &[
                ("email", "f@example.org"),
                ("password", "correct horse battery"),
                ("next", "/join/abc123"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        h.get(header::LOCATION).unwrap(),
        "/login?signed_up=1&next=%2Fjoin%2Fabc123"
    );
    let (_, _, page) = s
        .get("/login?signed_up=1&next=%2Fjoin%2Fabc123", None)
        .await;
    assert!(
        page.contains(r#"name="next" value="/join/abc123""#),
        "{page}"
    );
    // A bad sign-up keeps the link in the form it shows again.
    let (_, _, page) = s
        .post(
            "/signup",
            None,
            &[
                ("email", "nope"),
                ("password", "x"),
                ("next", "/join/abc123"),
            ],
        )
        .await;
    assert!(
        page.contains(r#"name="next" value="/join/abc123""#),
        "{page}"
    );
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_rate_limited() {
    let s = Server::with_config(Config {
        login_attempts_per_minute: 3,
        ..Config::default()
    });
    s.sign_up_only("e@example.org").await;
    for _ in 0..3 {
        let (status, _, page) = s
            .post(
                "/login",
                None,
                &[("email", "e@example.org"), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("the email or password is not right"));
    }
    let (status, _, page) = s
        .post(
            "/login",
            None,
            &[
                ("email", "e@example.org"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("too many attempts"));
}

#[tokio::test]
async fn a_state_change_without_the_csrf_token_is_refused_and_changes_nothing() {
    let s = Server::new();
    let user = s.sign_up("f@example.org").await;
    let form = screening_form("0".repeat(64).as_str());
    let (status, _, _) = s.post("/screening", Some(&user.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.store.counts().unwrap().screenings, 0);
}

#[tokio::test]
async fn screening_by_form_gives_a_cited_verdict() {
    let s = Server::new();
    let user = s.sign_up("g@example.org").await;
    let (_, _, page) = s.get("/screening", Some(&user.cookie)).await;
    assert!(
        page.contains("data-show-if"),
        "conditional questions carry their condition"
    );
    let mut form = screening_form(&user.csrf);
    form.push(("fitzpatrick", "5".into()));
    form.retain(|(k, v)| !(*k == "fitzpatrick" && v == "2"));
    let (status, h, _) = s.post("/screening", Some(&user.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{h:?}");
    let (_, _, page) = s.get("/screening/result", Some(&user.cookie)).await;
    assert!(page.contains("with the precautions below"), "{page}");
    assert!(
        page.contains("href=\"/evidence#R27\""),
        "reasons link their sources"
    );
}

/// The page's text as a person reads it: tags (and their attributes, such
/// as field names) left out.
fn visible_text(page: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in page.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn a_bad_screening_form_is_shown_again_with_its_answers_and_plain_problems() {
    let s = Server::new();
    let user = s.sign_up("h@example.org").await;
    let (_, _, empty) = s.get("/screening", Some(&user.cookie)).await;
    assert!(
        empty.contains(r#"name="sex" value="female" required"#),
        "questions always asked are required"
    );
    assert!(
        !empty.contains(r#"name="pregnant" value="yes" required"#),
        "a question that can be hidden is never required"
    );
    let mut form = screening_form(&user.csrf);
    form.retain(|(k, _)| !matches!(*k, "cold_sores" | "isotretinoin"));
    form.push(("isotretinoin", "date".into()));
    form.push(("isotretinoin_date", "2026-02-30".into()));
    let (status, _, page) = s.post("/screening", Some(&user.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.store.counts().unwrap().screenings, 0);
    // The first step with a problem, every answer kept: this step's as
    // given, the others' as hidden inputs.
    assert!(
        page.contains("Step 3 of 7: Medicines and treatments"),
        "{page}"
    );
    assert!(page.contains(r#"action="/screening/step""#), "{page}");
    assert!(
        page.contains(r#"<input type="hidden" name="age" value="35">"#),
        "numbers are kept"
    );
    assert!(page.contains(r#"<input type="hidden" name="needle_length_mm" value="0.25">"#));
    assert!(page.contains(r#"<input type="hidden" name="sex" value="female">"#));
    assert!(page.contains(r#"<input type="hidden" name="zones" value="forehead">"#));
    assert!(!page.contains(r#"name="zones" value="chin""#));
    assert!(page.contains(r#"name="isotretinoin" value="date" checked"#));
    assert!(page.contains(r#"value="2026-02-30""#));
    // The impossible date is marked and explained on its step.
    assert!(page.contains(r#"aria-invalid="true" aria-describedby="err-isotretinoin""#));
    assert!(page.contains("Please give the real date it stopped."));
    assert!(page.contains(r#"role="alert""#) && page.contains("Some answers need another look"));
    // Fixed, the last step's missing answer is marked on the last step.
    let mut form: Vec<(&str, String)> = form
        .into_iter()
        .filter(|(k, _)| *k != "isotretinoin_date")
        .collect();
    form.push(("isotretinoin_date", "2026-02-03".into()));
    let (status, _, page) = s.post("/screening", Some(&user.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Step 7 of 7"), "{page}");
    assert!(page.contains(r#"action="/screening""#), "{page}");
    assert!(page.contains(
        r#"name="cold_sores" value="yes" required aria-invalid="true" aria-describedby="err-cold_sores""#
    ));
    assert!(page.contains("Please choose yes or no."), "{page}");
    assert!(page.contains(
        r##"<a href="#q-cold_sores">Have you ever had cold sores (herpes simplex)?</a>"##
    ));
    assert!(page.contains(r#"<input type="hidden" name="isotretinoin_date" value="2026-02-03">"#));
    let text = visible_text(&page);
    for developer in [
        "cold_sores",
        "isotretinoin_date",
        "is missing",
        "expected",
        "Unprocessable",
    ] {
        assert!(!text.contains(developer), "{developer} in {text}");
    }
}

#[tokio::test]
async fn the_roller_cycle_by_form_with_its_refusals() {
    let s = Server::new();
    let user = s.sign_up("i@example.org").await;
    let (status, _, _) = s
        .post(
            "/devices",
            Some(&user.cookie),
            &[
                ("csrf", &user.csrf),
                ("name", "bathroom roller"),
                ("kind", "roller"),
                ("needle_mm", "0.25"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get("/devices", Some(&user.cookie)).await;
    let i = page.find("/devices/").unwrap() + 9;
    let id = page[i..i + 36].to_owned();
    let step = |action: &'static str| format!("/devices/{id}/{action}");
    assert_eq!(
        s.post(&step("rinse"), Some(&user.cookie), &[("csrf", &user.csrf)])
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    let (status, _, page) = s
        .post(
            &step("soak"),
            Some(&user.cookie),
            &[("csrf", &user.csrf), ("alcohol", "40")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("40% alcohol is too weak"));
    assert_eq!(
        s.post(
            &step("soak"),
            Some(&user.cookie),
            &[("csrf", &user.csrf), ("alcohol", "70")]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    let (_, _, page) = s.get("/devices", Some(&user.cookie)).await;
    assert!(
        page.contains("data-until=\"2026-11-25T16:10:00Z\""),
        "the soak countdown has its end time"
    );
    // Issue 19: its button waits, disabled, with the time it opens.
    assert!(
        page.contains(&format!(
            r#"<button type="submit" disabled data-enable-at="2026-11-25T16:10:00Z" aria-describedby="wait-{id}">Out of the soak, air-drying</button>"#
        )),
        "{page}"
    );
    assert!(
        page.contains("Available at Wed 25 Nov 2026, 16:10."),
        "{page}"
    );
    let (status, _, page) = s
        .post(&step("dry"), Some(&user.cookie), &[("csrf", &user.csrf)])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("needs at least 10 min"));
    // In plain words: no HTTP reason phrase, no machine timestamp, and a
    // way back that works under the CSP (no javascript: link).
    assert!(
        page.contains("<h1>That cleaning step was not recorded</h1>"),
        "{page}"
    );
    assert!(page.contains("so about 10 min more"), "{page}");
    let text = visible_text(&page);
    assert!(!text.contains("Unprocessable"), "{text}");
    assert!(!text.contains("2026-11-25T"), "{text}");
    assert!(!page.contains("javascript:"));
    assert!(page.contains(r#"<a href="/" data-back"#));
    s.advance_minutes(10);
    let (_, _, page) = s.get("/devices", Some(&user.cookie)).await;
    assert!(
        page.contains(r#"<button type="submit" class="">Out of the soak, air-drying</button>"#),
        "open once the soak has run its time: {page}"
    );
    assert_eq!(
        s.post(&step("dry"), Some(&user.cookie), &[("csrf", &user.csrf)])
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    s.advance_minutes(30);
    assert_eq!(
        s.post(&step("ready"), Some(&user.cookie), &[("csrf", &user.csrf)])
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    let (_, _, page) = s.get("/", Some(&user.cookie)).await;
    assert!(page.contains("Ready for a session."));

    // Someone else cannot touch it, and learns nothing from trying.
    let other = s.sign_up("j@example.org").await;
    let (status, _, _) = s
        .post(
            &step("rinse"),
            Some(&other.cookie),
            &[("csrf", &other.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readiness_says_no_go_without_a_screening_or_a_ready_roller() {
    let s = Server::new();
    let user = s.sign_up("k@example.org").await;
    let form = [
        ("csrf", user.csrf.as_str()),
        ("skin_cleansed", "yes"),
        ("device_damaged", "no"),
        ("cold_sore_now", "no"),
        ("sunburn_or_tan", "no"),
        ("actives_recently", "no"),
        ("new_medication", "no"),
        ("pregnant_now", "no"),
        ("feeling_unwell", "no"),
    ];
    let (status, _, page) = s.post_follow("/ready", Some(&user.cookie), &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Not today"), "{page}");
    assert!(page.contains("Please complete the screening first"));
    assert!(page.contains("The roller must be rinsed"));
}

#[tokio::test]
async fn the_api_screens_json_answers_with_the_csrf_header() {
    let s = Server::new();
    let user = s.sign_up("l@example.org").await;
    let answers = serde_json::json!({
        "age": 17, "sex": "male", "cardiac_condition": false, "collagen_vascular_disease": false,
        "bleeding_disorder": false, "anticoagulants": false, "isotretinoin": "never", "chemo_or_radiotherapy": "never",
        "high_dose_steroids": "never", "chemo_or_radiotherapy_planned": false, "high_dose_steroids_planned": false, "other_serious_condition": false, "device_kind": "roller", "immunosuppressed": false, "systemic_infection": false, "diabetes": "none",
        "keloid_tendency": false, "metal_allergy": false, "anaesthetic_allergy": false, "plans_topical_anaesthetic": false,
        "skin_cancer_or_suspicious_lesion": false, "chronic_skin_condition": false, "treating_young_scar": false,
        "fitzpatrick": 3, "needle_length_mm": 0.25, "zones": ["forehead"], "cold_sores": false,
        "active_skin_problem_zones": [], "tattoo_zones": [], "recent_procedures": []
    });
    let req = |csrf: &str, body: String| {
        Request::post("/api/screening")
            .header(header::COOKIE, &user.cookie)
            .header("x-csrf-token", csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, body) = s.send(req("nope", answers.to_string())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("\"csrf\""));
    let (status, _, body) = s.send(req(&user.csrf, answers.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["verdict"], "not_at_home");
    assert_eq!(v["reasons"][0]["rule_id"], "screen.age.under_18");
    let (status, _, body) = s.send(req(&user.csrf, "{\"age\": \"old\"}".into())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_answers");
    assert_eq!(v["error"]["fields"][0]["field"], "age");
}

#[tokio::test]
async fn every_list_has_an_empty_state() {
    let s = Server::new();
    let user = s.sign_up("m@example.org").await;
    for (path, text) in [
        ("/devices", "No roller or pen yet"),
        ("/aftercare", "No session yet"),
        ("/checkin", "No session yet"),
        ("/schedule", "No sessions yet"),
    ] {
        let (status, _, page) = s.get(path, Some(&user.cookie)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(page.contains(text), "{path} lacks its empty state");
    }
}

#[tokio::test]
async fn each_profile_keeps_its_own_time_zone() {
    // 16:00 UTC on 25 November is already 26 November in Kiribati.
    let s = Server::new();
    let user = s.sign_up("tz@example.org").await;
    let earliest = |body: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["earliest"].as_str().unwrap().to_owned()
    };
    let (_, _, body) = s.get("/api/schedule", Some(&user.cookie)).await;
    assert_eq!(
        earliest(&body),
        "2026-11-25",
        "the server's zone (UTC) by default"
    );

    let (status, _, page) = s
        .post(
            "/profiles/time-zone",
            Some(&user.cookie),
            &[("csrf", &user.csrf), ("time_zone", "Mars/Olympus_Mons")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("time_zone"), "{page}");
    let (status, _, _) = s
        .post(
            "/profiles/time-zone",
            Some(&user.cookie),
            &[("csrf", &user.csrf), ("time_zone", "Pacific/Kiritimati")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get("/profiles", Some(&user.cookie)).await;
    assert!(page.contains(r#"value="Pacific/Kiritimati""#), "{page}");
    let (_, _, body) = s.get("/api/schedule", Some(&user.cookie)).await;
    assert_eq!(earliest(&body), "2026-11-26", "the profile's own zone");

    // Empty goes back to the server's.
    s.post(
        "/profiles/time-zone",
        Some(&user.cookie),
        &[("csrf", &user.csrf), ("time_zone", "")],
    )
    .await;
    let (_, _, body) = s.get("/api/schedule", Some(&user.cookie)).await;
    assert_eq!(earliest(&body), "2026-11-25");
}

/// Issue 17 §2: a name is one line; CR/LF could reach an email's headers.
#[tokio::test]
async fn names_with_line_breaks_are_refused() {
    let s = Server::new();
    let user = s.sign_up("crlf@example.org").await;
    let before = s.store.checksums().unwrap();
    for name in ["Kim\r\nBcc: all@example.org", "Kim\tLee", "Kim\u{7}"] {
        let (status, _, page) = s
            .post(
                "/profiles",
                Some(&user.cookie),
                &[("csrf", &user.csrf), ("name", name)],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {page}");
        assert!(page.contains("one line"), "{page}");
    }
    assert_eq!(s.store.checksums().unwrap(), before);
}

/// Issue 17 §1: sign-up is limited per address and hour, across patient
/// and clinic sign-ups; the next hour it opens again.
#[tokio::test]
async fn sign_ups_are_limited_per_address_and_hour() {
    let s = Server::new();
    let limit = s.state.config.signups_per_hour;
    for n in 0..limit {
        s.sign_up(&format!("many{n}@example.org")).await;
    }
    let form = [
        ("email", "one-more@example.org"),
        ("password", "correct horse battery"),
    ];
    let (status, _, page) = s.post("/signup", None, &form).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains("try again later"), "{page}");
    assert!(
        s.store
            .account_by_email("one-more@example.org")
            .unwrap()
            .is_none()
    );
    let (status, _, _) = s
        .post(
            "/clinic/signup",
            None,
            &[
                ("email", "clinic@example.org"),
                ("password", "correct horse battery"),
                ("your_name", "Dr Lee"),
                ("clinic_name", "Lee Facial Plastics"),
                ("time_zone", "Europe/London"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    s.advance_minutes(60);
    let (status, _, _) = s.post("/signup", None, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a new hour");
}

/// A log-in form from a given peer, with an optional `X-Forwarded-For`.
async fn login_from(
    s: &Server,
    peer: &str,
    forwarded: Option<&str>,
    email: &str,
    password: &str,
) -> StatusCode {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("email", email), ("password", password)])
        .finish();
    let mut req =
        Request::post("/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::from(body)).unwrap();
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    s.send(req).await.0
}

/// Issue 17 §2: someone guessing another person's password from their
/// address is stopped; the owner, from theirs, still gets in.
#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_owner_out() {
    let s = Server::new();
    s.sign_up("owner@example.org").await;
    let limit = s.state.config.login_attempts_per_minute;
    for _ in 0..limit {
        assert_eq!(
            login_from(&s, "203.0.113.7", None, "owner@example.org", "wrong guess").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        login_from(&s, "203.0.113.7", None, "owner@example.org", "wrong again").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address is stopped"
    );
    assert_eq!(
        login_from(
            &s,
            "198.51.100.2",
            None,
            "owner@example.org",
            "correct horse battery"
        )
        .await,
        StatusCode::SEE_OTHER,
        "the owner gets in from their own address"
    );
}

/// Issue 17 §2: behind a trusted balancer, each person counts by their own
/// address; from anyone else `X-Forwarded-For` is ignored.
#[tokio::test]
async fn behind_a_trusted_balancer_each_person_counts_by_their_own_address() {
    let s = Server::with_config(Config {
        trusted_proxies: vec!["10.0.0.5".parse().unwrap()],
        signups_per_hour: 100,
        ..Config::default()
    });
    let limit = s.state.config.login_attempts_per_minute;
    // More people than the per-address limit log in through one balancer.
    for n in 0..limit + 2 {
        let email = format!("p{n}@example.org");
        s.sign_up_only(&email).await;
        let client = format!("192.0.2.{}", n + 1);
        assert_eq!(
            login_from(
                &s,
                "10.0.0.5",
                Some(&format!("{client}, 10.0.0.5")),
                &email,
                "correct horse battery"
            )
            .await,
            StatusCode::SEE_OTHER,
            "{email} through the balancer"
        );
    }
    // A client that is not a trusted proxy cannot pick its address: its
    // attempts all count against its own.
    for n in 0..limit {
        let _ = login_from(
            &s,
            "203.0.113.9",
            Some(&format!("192.0.2.{}", 100 + n)),
            "nobody@example.org",
            "x",
        )
        .await;
    }
    assert_eq!(
        login_from(
            &s,
            "203.0.113.9",
            Some("192.0.2.250"),
            "nobody@example.org",
            "x"
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let headers = axum::http::HeaderMap::new();
    let trusted: Vec<std::net::IpAddr> = vec!["10.0.0.5".parse().unwrap()];
    assert_eq!(
        needlewise_web::auth::client_address("10.0.0.5".parse().unwrap(), &headers, &trusted),
        "10.0.0.5".parse::<std::net::IpAddr>().unwrap(),
        "a trusted proxy without the header is the client"
    );
}

/// Issue 17 §2: HSTS only when needlewise is reached over https.
#[tokio::test]
async fn hsts_is_sent_only_over_https() {
    let (_, headers, _) = Server::new().get("/healthz", None).await;
    assert!(headers.get(header::STRICT_TRANSPORT_SECURITY).is_none());
    let config = Config {
        public_url: Some("https://needlewise.example.org".into()),
        ..Config::default()
    };
    let (_, headers, _) = Server::with_config(config).get("/healthz", None).await;
    assert_eq!(
        headers.get(header::STRICT_TRANSPORT_SECURITY).unwrap(),
        "max-age=63072000"
    );
}

/// Issue 17 §2: the password can be changed, with the current one asked
/// again; every other session ends, this one stays.
#[tokio::test]
async fn changing_the_password_asks_the_old_one_and_ends_the_other_sessions() {
    let s = Server::new();
    let me = s.sign_up("change@example.org").await;
    let (status, h, _) = s
        .post(
            "/login",
            None,
            &[
                ("email", "change@example.org"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let elsewhere = cookie_pair(&h);
    // Accounts and sessions; the rate-limit counter counts the guess.
    let kept = |s: &Server| {
        s.store
            .checksums()
            .unwrap()
            .tables
            .into_iter()
            .filter(|t| t.table == "accounts" || t.table == "web_sessions")
            .collect::<Vec<_>>()
    };
    let before = kept(&s);
    let (status, _, page) = s
        .post(
            "/account/password",
            Some(&me.cookie),
            &[
                ("csrf", &me.csrf),
                ("current_password", "not my password"),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert_eq!(kept(&s), before, "nothing changed");
    let (status, _, page) = s
        .post(
            "/account/password",
            Some(&me.cookie),
            &[
                ("csrf", &me.csrf),
                ("current_password", "correct horse battery"),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("new password: use at least 10 characters"),
        "{page}"
    );
    let (status, _, _) = s
        .post(
            "/account/password",
            Some(&me.cookie),
            &[
                ("csrf", &me.csrf),
                ("current_password", "correct horse battery"),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // This session stays; the other one is gone.
    let (status, _, _) = s.get("/profiles", Some(&me.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = s.get("/profiles", Some(&elsewhere)).await;
    assert_ne!(status, StatusCode::OK, "the other session ended");
    let login = |pw: &'static str| {
        let s = &s;
        async move {
            s.post(
                "/login",
                None,
                &[("email", "change@example.org"), ("password", pw)],
            )
            .await
            .0
        }
    };
    assert_eq!(
        login("correct horse battery").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(login("a brand new passphrase").await, StatusCode::SEE_OTHER);
}

/// Issue 17 §1: whole-record exports take turns, so memory stays bounded
/// however many are asked for at once; one that waits too long gets 429.
#[tokio::test(start_paused = true)]
async fn whole_record_exports_take_turns() {
    let s = Server::new();
    let u = s.sign_up("exports@example.org").await;
    let busy = s
        .state
        .heavy
        .clone()
        .acquire_many_owned(needlewise_web::HEAVY_EXPORTS as u32)
        .await
        .unwrap();
    let (status, _, body) = s.get("/api/fhir/Bundle/record", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("busy with other exports"), "{body}");
    drop(busy);
    let (status, _, _) = s.get("/api/fhir/Bundle/record", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Issue 19: at phone width the pages end with a tab bar of the four most
/// used sections and More; More lists every other section and the
/// account's pages; "Your data" links every export; the clinic's pages
/// carry only their own navigation; the second factor's key is also a QR
/// code.
#[tokio::test]
async fn the_tab_bar_more_and_your_data_reach_every_section() {
    let s = Server::new();
    let user = s.sign_up("tabs@example.org").await;
    let (status, _, home) = s.get("/", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let tabbar = &home[home.find(r#"<nav class="tabbar""#).expect("a tab bar")..];
    let tabbar = &tabbar[..tabbar.find("</nav>").unwrap()];
    for link in [
        r#"<a href="/" aria-current="page">"#,
        r#"<a href="/session">"#,
        r#"<a href="/checkin">"#,
        r#"<a href="/progress">"#,
        r#"<a href="/more">"#,
    ] {
        assert!(tabbar.contains(link), "{link} in {tabbar}");
    }
    let (status, _, more) = s.get("/more", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    for href in [
        "/screening",
        "/devices",
        "/ready",
        "/aftercare",
        "/schedule",
        "/care-team",
        "/evidence",
        "/data",
        "/profiles",
        "/notifications",
        "/account/sessions",
        "/account/delete",
    ] {
        assert!(more.contains(&format!(r#"<a href="{href}">"#)), "{href}");
        let (status, _, _) = s.get(href, Some(&user.cookie)).await;
        assert_eq!(status, StatusCode::OK, "{href}");
    }
    assert!(more.contains(r#"action="/logout""#));
    assert!(more.contains(r#"<a href="/more" aria-current="page">"#));
    // From another section, More is lit without claiming to be the page.
    let (_, _, page) = s.get("/evidence", Some(&user.cookie)).await;
    assert!(page.contains(r#"<a href="/more" class="current">"#));

    let (_, _, data) = s.get("/data", Some(&user.cookie)).await;
    for href in [
        "/api/fhir/Bundle/record",
        "/report.pdf",
        "/api/fhir/QuestionnaireResponse/latest",
        "/api/fhir/Questionnaire/screening",
        "/profiles/delete",
        "/account/delete",
    ] {
        assert!(data.contains(&format!(r#"<a href="{href}""#)), "{href}");
    }
    for href in [
        "/api/fhir/Bundle/record",
        "/api/fhir/Questionnaire/screening",
    ] {
        let (status, _, _) = s.get(href, Some(&user.cookie)).await;
        assert_eq!(status, StatusCode::OK, "{href}");
    }
    assert!(data.contains("export all --encrypt"));

    // Logged out: no tab bar, and More needs a login.
    let (_, _, login) = s.get("/login", None).await;
    assert!(!login.contains("tabbar"));
    let (status, _, _) = s.get("/more", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (_, _, mfa) = s.get("/mfa", Some(&user.cookie)).await;
    assert!(mfa.contains(r#"<svg class="qr" role="img""#), "{mfa}");
}

/// Issue 19: text responses are gzip-compressed for a client that asks,
/// and each page stays under 30 KB on the wire; PDFs and photos are not
/// compressed again.
#[tokio::test]
async fn pages_are_compressed_and_small_on_the_wire() {
    use http_body_util::BodyExt;
    use std::io::Read;
    use tower::ServiceExt;
    let s = Server::new();
    let user = s.sign_up("gzip@example.org").await;
    for path in [
        "/",
        "/screening",
        "/checkin",
        "/ready",
        "/session",
        "/evidence",
        "/assets/app.css",
        "/assets/session.js",
    ] {
        let req = Request::get(path)
            .header(header::COOKIE, &user.cookie)
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(Body::empty())
            .unwrap();
        let res = s.app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip", "{path}");
        let wire = res.into_body().collect().await.unwrap().to_bytes();
        assert!(wire.len() < 30_000, "{path}: {} bytes", wire.len());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&wire[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.len() > wire.len(), "{path}");
    }
    let req = Request::get("/report.pdf")
        .header(header::COOKIE, &user.cookie)
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let res = s.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get(header::CONTENT_ENCODING).is_none(),
        "a PDF is compressed already"
    );
}

/// Issue 19: the app installs to a phone's home screen (a manifest with
/// icons, a service worker at the root) and says what happens offline.
#[tokio::test]
async fn the_app_installs_and_says_what_happens_offline() {
    let s = Server::new();
    let (status, h, manifest) = s.get("/manifest.webmanifest", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/manifest+json");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["display"], "standalone");
    assert_eq!(manifest["start_url"], "/");
    for icon in manifest["icons"].as_array().unwrap() {
        let src = icon["src"].as_str().unwrap();
        let (status, h, _) = s.get(src, None).await;
        assert_eq!(status, StatusCode::OK, "{src}");
        assert_eq!(
            h[header::CONTENT_TYPE],
            icon["type"].as_str().unwrap(),
            "{src}"
        );
    }
    let sizes: Vec<&str> = manifest["icons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["sizes"].as_str())
        .collect();
    assert!(sizes.contains(&"192x192") && sizes.contains(&"512x512"));
    let (status, h, sw) = s.get("/sw.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(sw.contains("addEventListener(\"fetch\""));
    let (_, _, page) = s.get("/login", None).await;
    assert!(page.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#));
    let (status, _, offline) = s.get("/offline", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(offline.contains("You are offline"));
    let (_, _, kept) = s.get("/offline?kept=session", None).await;
    assert!(kept.contains("Session kept on this phone") && kept.contains("once"));
}

/// Issue 19: every result ends with the next action: a screening that
/// allows home sessions points to the roller, with a word on why there
/// are no reasons; a no-go readiness check offers no session.
#[tokio::test]
async fn results_end_with_the_next_action() {
    let s = Server::new();
    let user = s.sign_up("next@example.org").await;
    let form = screening_form(&user.csrf);
    let (status, _, _) = s.post("/screening", Some(&user.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get("/screening/result", Some(&user.cookie)).await;
    assert!(page.contains("<h2>What next</h2>"), "{page}");
    assert!(page.contains(r#"<a class="button" href="/devices">Your roller</a>"#));
    if !page.contains("<h2>Why</h2>") {
        assert!(page.contains("None of your answers matched a rule"));
    }
    // No roller: the readiness check says no, and offers no session.
    let (_, _, ready) = s.get("/ready", Some(&user.cookie)).await;
    let csrf = csrf_of(&ready);
    let (status, h, page) = s
        .post(
            "/ready",
            Some(&user.cookie),
            &[("csrf", csrf.as_str()), ("skin_cleansed", "yes")],
        )
        .await;
    let page = if status == StatusCode::SEE_OTHER {
        let to = h[header::LOCATION].to_str().unwrap().to_owned();
        s.get(&to, Some(&user.cookie)).await.2
    } else {
        page
    };
    assert!(!page.contains("Start today's session"), "{page}");
}
