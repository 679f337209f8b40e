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
/// Lines go to standard error through [`LogWriter`], off the request's
/// thread. Call once, from the binary, and keep the guard until the end:
/// dropping it writes out what is queued. Fails only if the writer's
/// thread cannot start.
pub fn init_logging(format: LogFormat) -> std::io::Result<LogGuard> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = LogWriter::stderr()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(guard)
}

/// What goes to the log's thread.
enum LogMessage {
    Line(Vec<u8>),
    /// Write out everything queued before this, then answer.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// Log lines queued for a thread that writes them, so a request never
/// waits for a write to standard error (a system call per line, about a
/// fifth of a small request's time). The queue is bounded: when the
/// thread falls behind by [`LogWriter::QUEUE`] lines, loggers wait rather
/// than lose lines. The thread writes whatever has queued up in one go,
/// flushes, and then rests for [`LOG_BATCH`] before it looks again: a
/// thread that blocked on the empty queue would be woken (two system
/// calls and a context switch) for every line, which cost more than the
/// write it saves. A line is out within about a millisecond.
#[derive(Clone)]
pub struct LogWriter {
    queue: std::sync::mpsc::SyncSender<LogMessage>,
}

/// Flushes the queue of its [`LogWriter`] when dropped (at the end of
/// `serve`).
pub struct LogGuard {
    queue: std::sync::mpsc::SyncSender<LogMessage>,
}

impl LogWriter {
    /// Lines the queue holds before loggers wait.
    pub const QUEUE: usize = 65_536;

    /// A writer to standard error and its guard.
    pub fn stderr() -> std::io::Result<(LogWriter, LogGuard)> {
        LogWriter::to(std::io::stderr())
    }

    /// A writer to `out` (any `Write`, for tests) and its guard.
    pub fn to(out: impl std::io::Write + Send + 'static) -> std::io::Result<(LogWriter, LogGuard)> {
        let (queue, lines) = std::sync::mpsc::sync_channel(LogWriter::QUEUE);
        std::thread::Builder::new()
            .name("log writer".to_owned())
            .spawn(move || write_lines(&lines, out))?;
        Ok((
            LogWriter {
                queue: queue.clone(),
            },
            LogGuard { queue },
        ))
    }
}

/// The log thread: each line into a buffer, the buffer out when nothing
/// more is queued, until every sender is gone.
/// How long the log thread rests between batches.
const LOG_BATCH: std::time::Duration = std::time::Duration::from_millis(1);

fn write_lines(lines: &std::sync::mpsc::Receiver<LogMessage>, out: impl std::io::Write) {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                // A log that cannot be written has nowhere to say so.
                LogMessage::Line(line) => drop(out.write_all(&line)),
                LogMessage::Flush(done) => {
                    drop(out.flush());
                    let _ = done.send(());
                }
            }
            next = lines.try_recv().ok();
        }
        drop(out.flush());
        // Lines logged meanwhile queue up without waking this thread.
        std::thread::sleep(LOG_BATCH);
    }
}

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter hands over each event whole, in one call.
        self.queue
            .send(LogMessage::Line(buf.to_vec()))
            .map_err(|_| std::io::Error::other("the log writer stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogGuard {
    /// Waits (up to a second) until every line queued so far is written.
    pub fn flush(&self) {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        if self.queue.send(LogMessage::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(std::time::Duration::from_secs(1));
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogWriter")
    }
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogGuard")
    }
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

/// A request's id: this process's random prefix (drawn once) and a
/// counter, so ids never repeat across instances and restarts (but for a
/// 2^-64 chance) and cost no system call, unlike a fresh UUID.
fn request_id() -> String {
    use std::sync::LazyLock;
    static PREFIX: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:016x}{:08x}",
        *PREFIX,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The middleware: a request id and span, one log line at the end, and
/// the request counted.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = request_id();
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write as _;
    use std::sync::{Arc, Mutex};

    use super::{LogWriter, request_id};

    /// A `Write` whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn queued_lines_are_all_written_in_order_by_the_time_the_guard_flushes() {
        let out = Shared::default();
        let (writer, guard) = LogWriter::to(out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        w.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        guard.flush();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let mut next = [0; 4];
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let t: usize = t.parse().unwrap();
            assert_eq!(
                i.parse::<usize>().unwrap(),
                next[t],
                "thread {t}'s lines in order"
            );
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4], "no line lost");
    }

    #[test]
    fn request_ids_do_not_repeat() {
        let ids: std::collections::BTreeSet<String> = (0..1_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 1_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}
