//! The needlewise web app: server-rendered HTML with a little vanilla JS,
//! and a JSON API, over the same core and store as the command line.
//!
//! Handlers parse input, call the pure core, and run store calls on the
//! blocking pool (the store is synchronous). Security headers are added in
//! one middleware ([`security`]); every state change checks a CSRF token.
#![forbid(unsafe_code)]

pub mod api;
pub mod assets;
pub mod auth;
pub mod clinic_ctx;
pub mod config;
pub mod error;
pub mod forms;
pub mod housekeeping;
pub mod ics;
pub mod mail;
pub mod notify;
pub mod pages;
pub mod security;
pub mod telemetry;
pub mod test_clock;
pub mod totp;
pub mod views;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use axum::Router;
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use needlewise_store::{Store, StoreError};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

pub use config::{Config, ConfigError, DEFAULT_CONFIG};
use error::WebError;

/// Where the server reads the time. Tests and the browser suite's fake
/// clock use a fixed or shifted one.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// What every handler shares: the server-wide parts behind one `Arc`
/// (a request's clone is one reference count, not one per part), and the
/// time zone of the person being served.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
    /// The zone "today" and the times shown are in: the server's, or the
    /// person's own after [`AppState::for_profile`].
    pub tz: TimeZone,
}

/// The server-wide parts of [`AppState`], reached through it by `Deref`.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// Sends the outbox's emails (or holds them, without `smtp_url`).
    pub mailer: Arc<mail::Mailer>,
    /// The test clock's offset in seconds, only with `serve --test-clock`
    /// (see [`test_clock`]).
    pub test_clock: Option<Arc<AtomicI64>>,
    /// Where progress photos are written (`<dir>/<profile>/<photo>.jpg`);
    /// without it, uploads are refused.
    pub photo_dir: Option<Arc<std::path::Path>>,
    /// This instance's request and delivery counters ([`telemetry`]).
    pub metrics: Arc<telemetry::Metrics>,
    /// Permits for whole-record exports (FHIR Bundles, PDF reports): each
    /// holds a record in memory, so only [`HEAVY_EXPORTS`] run at once.
    pub heavy: Arc<tokio::sync::Semaphore>,
    /// One email delivery loop at a time on this instance (the worker's
    /// and each red flag's [`notify::kick`]): with one email claimed at a
    /// time, an instance that dies holds at most one, so at most one is
    /// late by a lease or sent twice.
    pub delivering: Arc<tokio::sync::Mutex<()>>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl AppState {
    /// The server-wide parts, to change while the state is being built
    /// (copied first if a clone of this state already shares them).
    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }
}

/// Whole-record exports one instance builds at the same time; more wait
/// up to [`HEAVY_WAIT`], then get 429.
pub const HEAVY_EXPORTS: usize = 2;
/// How long a whole-record export waits for its turn.
pub const HEAVY_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// A turn to build a whole-record export, or 429 when the server is busy
/// with others (memory stays bounded whatever the number of requests).
pub async fn heavy_turn(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, WebError> {
    match tokio::time::timeout(HEAVY_WAIT, state.heavy.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(WebError::TooMany(
            "the server is busy with other exports; try again in a minute".into(),
        )),
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("shared", &self.shared)
            .field("tz", &self.tz)
            .finish()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config, clock: Clock, tz: TimeZone) -> AppState {
        let mailer = Arc::new(mail::Mailer::from_config(&config));
        AppState {
            shared: Arc::new(Shared {
                store,
                config: Arc::new(config),
                clock,
                mailer,
                test_clock: None,
                photo_dir: None,
                metrics: Arc::new(telemetry::Metrics::new()),
                heavy: Arc::new(tokio::sync::Semaphore::new(HEAVY_EXPORTS)),
                delivering: Arc::new(tokio::sync::Mutex::new(())),
            }),
            tz,
        }
    }

    /// Stores progress photos under `dir`.
    pub fn with_photo_dir(mut self, dir: std::path::PathBuf) -> AppState {
        self.shared_mut().photo_dir = Some(dir.into());
        self
    }

    /// This state as one person sees it: their own time zone (their
    /// profile's, else the server's) for "today" and the times shown.
    pub fn for_profile(&self, profile: &needlewise_core::records::Profile) -> AppState {
        match profile
            .time_zone
            .as_deref()
            .and_then(|name| TimeZone::get(name).ok())
        {
            Some(tz) => AppState {
                shared: self.shared.clone(),
                tz,
            },
            None => self.clone(),
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub fn today(&self) -> jiff::civil::Date {
        self.now().to_zoned_datetime(self.tz.clone()).date()
    }

    /// This moment in the person's zone.
    pub fn zoned_now(&self) -> jiff::ZonedDateTime {
        self.now().to_zoned_datetime(self.tz.clone())
    }

    /// A moment in local time, to the minute, as [`views::moment`] writes it.
    pub fn local(&self, t: Timestamp) -> String {
        views::moment(&t.to_zoned_datetime(self.tz.clone()))
    }

    /// The day of a moment in local time, as [`views::day`] writes it.
    pub fn local_date(&self, t: Timestamp) -> String {
        views::day(t.to_zoned_datetime(self.tz.clone()).date())
    }
}

/// Answers a request with the date style its `Accept-Language` asks for
/// (see [`views::DateStyle`]).
async fn date_style(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let style = req
        .headers()
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(views::DateStyle::from_accept_language)
        .unwrap_or_default();
    style.scope(next.run(req)).await
}

/// Runs a store call on the blocking pool.
pub async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await??)
}

/// Runs one action of `needlewise_actions` on the blocking pool, at this
/// moment in the state's zone (see [`AppState::for_profile`]).
pub async fn act<T, F>(state: &AppState, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(needlewise_actions::Ctx<'_>) -> Result<T, needlewise_actions::ActionError>
        + Send
        + 'static,
{
    let store = state.store.clone();
    let now = state.zoned_now();
    Ok(tokio::task::spawn_blocking(move || {
        f(needlewise_actions::Ctx {
            store: store.as_ref(),
            now: &now,
        })
    })
    .await??)
}

/// Runs a short read of the store. Where the store says its reads finish
/// in place (SQLite, with read-only connections beside the writer), it runs
/// here: the hop to the blocking pool and back would cost several times the
/// read itself on the hot pages. Otherwise it goes through [`blocking`].
pub async fn read<T, F>(state: &AppState, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    if state.store.reads_in_place() {
        Ok(f(state.store.as_ref())?)
    } else {
        blocking(state, f).await
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::home::show))
        .route(
            "/signup",
            get(pages::account::signup_form).post(pages::account::signup),
        )
        .route(
            "/login",
            get(pages::account::login_form).post(pages::account::login),
        )
        .route("/logout", post(pages::account::logout))
        .route(
            "/profiles",
            get(pages::account::profiles).post(pages::account::add_profile),
        )
        .route("/profiles/switch", post(pages::account::switch_profile))
        .route("/profiles/time-zone", post(pages::account::set_time_zone))
        .route(
            "/profiles/delete",
            get(pages::delete::profile_form).post(pages::delete::delete_profile),
        )
        .route(
            "/account/delete",
            get(pages::delete::account_form).post(pages::delete::delete_account),
        )
        .route(
            "/screening",
            get(pages::screening::form).post(pages::screening::submit),
        )
        .route("/screening/step", post(pages::screening::step))
        .route("/screening/result", get(pages::screening::latest))
        .route(
            "/devices",
            get(pages::devices::list).post(pages::devices::add),
        )
        .route("/devices/{id}/{action}", post(pages::devices::transition))
        .route("/ready", get(pages::ready::form).post(pages::ready::submit))
        .route("/ready/{check}", get(pages::ready::result))
        .route(
            "/aftercare",
            get(pages::aftercare::show).post(pages::aftercare::product),
        )
        .route(
            "/checkin",
            get(pages::checkin::form).post(pages::checkin::submit),
        )
        .route("/checkin/{id}", get(pages::checkin::result))
        .route(
            "/checkin/{id}/resolve",
            get(pages::checkin::resolve_form).post(pages::checkin::resolve),
        )
        .route(
            "/session",
            get(pages::session::show).post(pages::session::complete),
        )
        .route("/schedule", get(pages::schedule::show))
        .route("/schedule/calendar", post(pages::schedule::calendar_link))
        .route("/calendar/{file}", get(pages::schedule::calendar_feed))
        .route("/evidence", get(pages::evidence::show))
        .merge(pages::progress::routes())
        .merge(pages::more::routes())
        .merge(pages::account_security::routes())
        .merge(pages::care_team::routes())
        .merge(pages::messages::routes())
        .merge(pages::appointments::routes())
        .merge(pages::clinic::routes())
        .route("/report.pdf", get(pages::report::pdf))
        .route("/healthz", get(|| async { "ok" }))
        .merge(test_clock::routes(state.test_clock.is_some()))
        .nest("/api", api::router())
        .route("/assets/{*path}", get(assets::serve))
        .route("/sw.js", get(assets::service_worker))
        .route("/manifest.webmanifest", get(assets::manifest))
        .route("/offline", get(pages::more::offline))
        .route_layer(axum::middleware::from_fn(telemetry::mark_route))
        .fallback(|| async { WebError::NotFound })
        // Every date a page writes follows the reader's Accept-Language.
        .layer(axum::middleware::from_fn(date_style))
        // Text only: photos and PDFs are compressed already.
        .layer(
            CompressionLayer::new().compress_when(
                SizeAbove::new(256)
                    .and(NotForContentType::IMAGES)
                    .and(NotForContentType::const_new("application/pdf"))
                    .and(NotForContentType::SSE)
                    .and(NotForContentType::GRPC),
            ),
        )
        .layer(axum::middleware::from_fn(security::headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::hsts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::track,
        ))
        .with_state(state)
}

/// Resolves on Ctrl-C, or on SIGTERM as containers and systemd send it;
/// the server then stops taking connections and finishes the requests in
/// flight.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                eprintln!("needlewise: cannot listen for SIGTERM ({e}); Ctrl-C still stops");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("needlewise: stopping; finishing the requests in flight");
}

/// Serves until Ctrl-C or SIGTERM, working the escalation ladder and the
/// email outbox every `escalation_tick_seconds` beside the requests (every
/// instance does; the store's claims make each step and email go out once),
/// and tidying expired sessions and old rate-limit windows
/// ([`housekeeping`]).
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = state.config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    eprintln!("needlewise is running at http://{}", listener.local_addr()?);
    if !state.mailer.enabled() {
        eprintln!("needlewise: no smtp_url is set, so emails stay queued in the store");
    }
    let metrics = match state.config.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
            eprintln!(
                "needlewise metrics at http://{}/metrics",
                listener.local_addr()?
            );
            let app = telemetry::metrics_router(state.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            }))
        }
        None => None,
    };
    let worker = notify::spawn_worker(state.clone());
    let tidying = housekeeping::spawn(state.clone());
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    worker.abort();
    tidying.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    served?;
    Ok(())
}
