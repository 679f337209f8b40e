//! The dashboard: the next session, the latest check-in, the device state.

use axum::extract::State;
use axum::response::Response;
use needlewise_core::evidence;
use needlewise_core::schedule::NextSession;
use needlewise_store::facts;

use super::page;
use crate::auth::Auth;
use crate::error::WebError;
use crate::views::{Chrome, HomePage};
use crate::{AppState, blocking};

/// Plain words for the schedule.
pub fn describe(next: &NextSession) -> String {
    match next {
        NextSession::FirstSession { .. } => {
            "Your first session can be today, once the readiness check says go.".into()
        }
        NextSession::After {
            earliest,
            today_ok: true,
            ..
        } => format!("You may have a session today (from {earliest})."),
        NextSession::After { earliest, .. } => {
            format!("Your skin is healing: the next session can be from {earliest}.")
        }
        NextSession::Locked { explanation } | NextSession::ClinicOnly { explanation } => {
            explanation.clone()
        }
    }
}

pub async fn show(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let today = state.today();
    let now = state.now();
    let (screening, next, devices, checkin) = blocking(&state, move |s| {
        Ok((
            s.latest_screening(profile)?,
            facts::schedule(s, profile, today)?,
            s.devices(profile)?,
            s.checkins(profile)?.into_iter().next(),
        ))
    })
    .await?;
    let rules = &evidence().defaults.hygiene;
    Ok(page(&HomePage {
        chrome: Chrome::new("Home", "home", &auth),
        verdict: screening.map(|s| (s.verdict.id().to_owned(), s.verdict.headline().to_owned())),
        locked: matches!(next, NextSession::Locked { .. }),
        next: describe(&next),
        devices: devices
            .iter()
            .filter(|d| d.state != needlewise_core::hygiene::HygieneState::Retired)
            .map(|d| (d.name.clone(), d.status(now, rules).next_step))
            .collect(),
        checkin: checkin.map(|c| (c.level.id().to_owned(), c.level.headline().to_owned())),
    }))
}
