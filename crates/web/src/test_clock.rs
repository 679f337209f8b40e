//! An explicitly opt-in test clock for the browser suite (`needlewise serve
//! --test-clock`, hidden from `--help`): the server's clock becomes its
//! usual clock plus an offset that `POST /__test/clock/advance?minutes=N`
//! moves forward. The route exists only when the state carries a test
//! clock; `serve` refuses the flag together with an https `public_url`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::post;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebError;

/// The longest single step: a year.
const MAX_MINUTES: i64 = 366 * 24 * 60;

impl AppState {
    /// Wraps this state's clock in an adjustable offset (seconds) and
    /// registers the advance route. For tests only.
    pub fn with_test_clock(mut self) -> AppState {
        let offset = Arc::new(AtomicI64::new(0));
        let base = self.clock.clone();
        let o = offset.clone();
        let shared = self.shared_mut();
        shared.clock = Arc::new(move || {
            base()
                .checked_add(SignedDuration::from_secs(o.load(Ordering::SeqCst)))
                .unwrap_or(Timestamp::MAX)
        });
        shared.test_clock = Some(offset);
        self
    }
}

/// The test clock's route, or nothing when it is off.
pub fn routes(enabled: bool) -> Router<AppState> {
    if enabled {
        Router::new().route("/__test/clock/advance", post(advance))
    } else {
        Router::new()
    }
}

#[derive(Debug, Deserialize)]
pub struct Advance {
    minutes: i64,
}

/// Moves the server's clock forward by `minutes` and returns the new time.
async fn advance(
    State(state): State<AppState>,
    Query(q): Query<Advance>,
) -> Result<String, WebError> {
    let offset = state.test_clock.as_ref().ok_or(WebError::NotFound)?;
    if !(0..=MAX_MINUTES).contains(&q.minutes) {
        return Err(WebError::BadInput(format!(
            "minutes must be from 0 to {MAX_MINUTES}"
        )));
    }
    offset.fetch_add(q.minutes * 60, Ordering::SeqCst);
    Ok(format!("{}\n", state.now()))
}
