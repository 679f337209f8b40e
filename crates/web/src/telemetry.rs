//! Logs and metrics an operator can run a clinic on.
//!
//! Every request gets an id (sent back as `x-request-id`) and a tracing
//! span, so every line logged while it runs carries the id; when it ends,
//! one line says its method, route, status and latency. Server errors log
//! their cause ([`crate::error`]), failed deliveries theirs
//! ([`crate::notify`]). Paths are logged without their query string, and
//! ids of people never appear in a route's template.
//!
//! [`Metrics`] counts requests by status class and latency, and is served
//! in the Prometheus text format on a separate address (`metrics_listen`,
//! off by default), with the outbox's depth and the escalation lag read
//! when it is scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::AppState;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Plain,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Installs the process's log subscriber: `RUST_LOG` chooses what is
/// logged (`info` when unset: each request, and every warning and error).
/// Call once, from the binary.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Counters shared by every request of one instance.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by status class: 1xx … 5xx.
    by_class: [AtomicU64; 5],
    /// Requests at or under each bound of [`BUCKETS`] (cumulative).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// The longest a due escalation step waited before a worker of this
    /// instance claimed it, in its last run (seconds; -1 before any).
    escalation_lag_seconds: AtomicI64,
    deliveries_failed: AtomicU64,
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics::default();
        m.escalation_lag_seconds.store(-1, Ordering::Relaxed);
        m
    }

    fn observe(&self, status: StatusCode, seconds: f64) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The escalation worker's latest lag (see [`crate::notify`]).
    pub fn escalation_lag(&self, seconds: i64) {
        self.escalation_lag_seconds
            .store(seconds, Ordering::Relaxed);
    }

    /// One email the SMTP server did not take.
    pub fn delivery_failed(&self) {
        self.deliveries_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The metrics in the Prometheus text exposition format (0.0.4), with
    /// the outbox's unsent emails as read from the store.
    pub fn render(&self, outbox_depth: Option<u64>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP needlewise_http_requests_total HTTP requests answered, by status class.\n# TYPE needlewise_http_requests_total counter"
        );
        for (i, n) in self.by_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "needlewise_http_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP needlewise_http_request_duration_seconds Time to answer a request.\n# TYPE needlewise_http_request_duration_seconds histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "needlewise_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "needlewise_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "needlewise_http_request_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "needlewise_http_request_duration_seconds_count {count}"
        );
        if let Some(depth) = outbox_depth {
            let _ = writeln!(
                out,
                "# HELP needlewise_outbox_depth Emails queued and not yet sent.\n# TYPE needlewise_outbox_depth gauge\nneedlewise_outbox_depth {depth}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP needlewise_escalation_lag_seconds How long the last due escalation step waited before this instance claimed it (-1: none yet).\n# TYPE needlewise_escalation_lag_seconds gauge\nneedlewise_escalation_lag_seconds {}",
            self.escalation_lag_seconds.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP needlewise_email_deliveries_failed_total Emails the SMTP server did not take (each is retried).\n# TYPE needlewise_email_deliveries_failed_total counter\nneedlewise_email_deliveries_failed_total {}",
            self.deliveries_failed.load(Ordering::Relaxed)
        );
        out
    }
}

/// The route a request matched, as its template.
#[derive(Debug, Clone)]
struct Route(String);

/// Inside the router: carries the matched route's template out on the
/// response, for [`track`] (which runs outside routing).
pub async fn mark_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| Route(p.as_str().to_owned()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// The middleware: a request id and span, one log line at the end, and
/// the request counted.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let method = request.method().clone();
    let span = tracing::info_span!("request", id = %id);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status();
    // The route's template (`/api/devices/{id}`), never the ids in a path.
    let route = response
        .extensions()
        .get::<Route>()
        .map_or("(unmatched)", |r| r.0.as_str());
    state.metrics.observe(status, seconds);
    span.in_scope(|| {
        let latency_ms = (seconds * 1e4).round() / 10.0;
        if status.is_server_error() {
            tracing::error!(%method, route, status = status.as_u16(), latency_ms, "request failed");
        } else {
            tracing::info!(%method, route, status = status.as_u16(), latency_ms, "request");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// `GET /metrics` on the metrics address.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let depth = tokio::task::spawn_blocking(move || {
        store
            .emails(10_000)
            .map(|emails| emails.iter().filter(|e| e.sent_at.is_none()).count() as u64)
    })
    .await;
    let depth = match depth {
        Ok(Ok(n)) => Some(n),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "metrics: could not count the outbox");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: counting the outbox stopped abruptly");
            None
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(depth),
    )
        .into_response()
}

/// The router of the metrics address.
pub fn metrics_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(state)
}
