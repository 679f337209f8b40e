//! The dashboard: the next session, the latest check-in, the device state.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use needlewise_core::evidence;
use needlewise_core::hygiene::HygieneState;
use needlewise_core::schedule::{NextSession, next_session};

use super::page;
use crate::auth::{self, Auth};
use crate::error::WebError;
use crate::views::{Chrome, HomePage, Step};
use crate::{AppState, read};

/// Plain words for the schedule; times in the state's zone.
pub fn describe(state: &AppState, next: &NextSession) -> String {
    match next {
        NextSession::FirstSession { .. } => {
            "Your first session can be today, once the readiness check says go.".into()
        }
        NextSession::After {
            earliest_at,
            now_ok: true,
            ..
        } => format!(
            "You may have a session now (the wait ended {}).",
            state.local(*earliest_at)
        ),
        NextSession::After {
            earliest_at,
            explanation,
            by_protocol: true,
            ..
        } => {
            format!(
                "{explanation} Your next session can be from {}.",
                state.local(*earliest_at)
            )
        }
        NextSession::After { earliest_at, .. } => {
            format!(
                "Your skin is healing: the next session can be from {}.",
                state.local(*earliest_at)
            )
        }
        NextSession::Locked { explanation } | NextSession::ClinicOnly { explanation } => {
            explanation.clone()
        }
    }
}

/// The screening's verdict in a line for the home page, which reads only
/// the verdict: "not at home" may be a contraindication or only that every
/// planned zone is left out for now, so it sends the person to the reasons
/// rather than saying which.
fn home_headline(v: needlewise_core::screening::Verdict) -> String {
    match v {
        needlewise_core::screening::Verdict::NotAtHome => {
            "Your screening found a reason not to microneedle at home now. Read why, and when that may change.".to_owned()
        }
        v => v.headline().to_owned(),
    }
}

/// The dashboard. It reads the session, the profiles and the dashboard in
/// one store read (the `Auth` extractor would make it two): this is the
/// page people open most. Without a session cookie, `/` is the landing
/// page.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let Some(token) = auth::token_from(&headers, &state) else {
        return Ok(landing());
    };
    let hash = auth::token_hash(&token);
    let now = state.now();
    // A cookie whose session ended goes to the log-in page, as elsewhere.
    let found = read(&state, move |s| s.session_dashboard(&hash, now))
        .await?
        .ok_or(WebError::Unauthenticated)?;
    let state = state.for_profile(&found.profile);
    let zoned = state.zoned_now();
    let d = found.dashboard;
    let auth = Auth {
        session: found.session,
        profile: found.profile,
        profiles: found.profiles,
    };
    let base = evidence();
    let mut next = next_session(base, d.last_session, d.locked, &zoned);
    if let Some(p) = &d.protocol {
        next = p.apply_to(next, &zoned);
    }
    let locked = matches!(next, NextSession::Locked { .. });
    // Whom to contact: read only when a red flag is open.
    let clinics = if locked {
        let profile = auth.profile.id;
        read(&state, move |s| s.patient_clinics(profile))
            .await?
            .into_iter()
            .map(|link| link.clinic.name)
            .collect()
    } else {
        Vec::new()
    };
    let rules = &base.defaults.hygiene;
    let live: Vec<_> = d
        .devices
        .iter()
        .filter(|d| d.state != HygieneState::Retired)
        .collect();
    // The first-run path, until the first session is logged.
    let steps = if d.last_session.is_none() && !locked {
        let done = [
            d.verdict.is_some(),
            !live.is_empty(),
            live.iter().any(|d| d.state == HygieneState::Ready),
        ];
        let current = done.iter().position(|done| !done).unwrap_or(done.len());
        [
            ("Answer the screening", "/screening"),
            ("Add your roller", "/devices"),
            ("Clean it: rinse, soak, dry", "/devices"),
            ("Check you are ready today", "/ready"),
            ("Your first session", "/session"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (title, href))| Step {
            title,
            href,
            done: i < current,
            current: i == current,
        })
        .collect()
    } else {
        Vec::new()
    };
    Ok(page(&HomePage {
        chrome: auth.chrome("Home", "home"),
        verdict: d.verdict.map(|v| (v.id().to_owned(), home_headline(v))),
        locked,
        next: describe(&state, &next),
        devices: live
            .iter()
            .map(|d| (d.name.clone(), d.status(now, rules).next_step))
            .collect(),
        checkin: d
            .latest_checkin
            .map(|level| (level.id().to_owned(), level.headline().to_owned())),
        clinics,
        steps,
    }))
}

/// What needlewise is and is not, for someone who has not logged in.
fn landing() -> Response {
    page(&LandingPage {
        chrome: Chrome::public("Microneedling at home, the safe way"),
    })
}

#[derive(Debug, askama::Template)]
#[template(path = "landing.html")]
pub struct LandingPage {
    pub chrome: Chrome,
}
