//! Tidying the store beside the requests: expired web sessions,
//! rate-limit windows nobody can hit any more, and invitations that
//! expired unused. All only grow otherwise (a key that is never hit again
//! keeps its last window for good).

use std::time::Duration;

use crate::AppState;
use crate::auth::CODE_WINDOW;

/// How often [`spawn`] tidies.
pub const EVERY: Duration = Duration::from_secs(600);

/// What one round removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tidied {
    pub web_sessions: u64,
    pub rate_limit_windows: u64,
    /// Patient and team invitations that expired unused.
    pub invites: u64,
}

/// One round: sessions past their expiry, rate-limit windows that started
/// before the longest window (so every window that still counts is kept
/// whole), and invitations past their expiry that nobody used.
pub async fn tidy(state: &AppState) -> Result<Tidied, crate::error::WebError> {
    let now = state.now();
    let before = now.checked_sub(CODE_WINDOW).unwrap_or(now);
    crate::blocking(state, move |s| {
        Ok(Tidied {
            web_sessions: s.purge_expired_web_sessions(now)?,
            rate_limit_windows: s.purge_rate_limits(before)?,
            invites: s.purge_expired_invites(now)?,
        })
    })
    .await
}

/// Runs [`tidy`] every [`EVERY`], for as long as the runtime lives.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match tidy(&state).await {
                Ok(t) if t.web_sessions + t.rate_limit_windows + t.invites > 0 => tracing::debug!(
                    web_sessions = t.web_sessions,
                    rate_limit_windows = t.rate_limit_windows,
                    invites = t.invites,
                    "tidied the store"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "tidying the store failed"),
            }
        }
    })
}
