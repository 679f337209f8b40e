//! The next session and the course.

use axum::extract::State;
use axum::response::Response;
use needlewise_core::evidence;
use needlewise_core::schedule::{NextSession, course_plan};
use needlewise_store::facts;

use super::page;
use crate::auth::Auth;
use crate::error::WebError;
use crate::views::{Chrome, SchedulePage};
use crate::{AppState, blocking};

pub async fn show(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let today = state.today();
    let (next, sessions, screened) = blocking(&state, move |s| {
        Ok((
            facts::schedule(s, profile, today)?,
            s.sessions(profile)?,
            facts::screened_needle(s, profile)?,
        ))
    })
    .await?;
    let needle = sessions.first().map(|s| s.needle_length_mm).or(screened);
    let course = needle.map(|mm| {
        let start = sessions.last().map_or(today, |s| s.local_date);
        course_plan(evidence(), start, mm, sessions.len() as u32)
    });
    let explanation = match &next {
        NextSession::After { explanation, .. } => explanation.clone(),
        _ => String::new(),
    };
    Ok(page(&SchedulePage {
        chrome: Chrome::new("Schedule", "schedule", &auth),
        next: super::home::describe(&next),
        explanation,
        course: course
            .as_ref()
            .map(|c| {
                c.sessions
                    .iter()
                    .map(|s| (s.number, s.done, s.date.to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        review: course
            .as_ref()
            .and_then(|c| c.review_on)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        course_note: course.map(|c| c.explanation).unwrap_or_default(),
        sessions: sessions
            .iter()
            .map(|s| {
                let zones: Vec<&str> = s.zones.iter().map(|z| z.zone.label()).collect();
                format!(
                    "{} · {} mm · {}",
                    state.local(s.started_at),
                    s.needle_length_mm,
                    zones.join(", ")
                )
            })
            .collect(),
    }))
}
