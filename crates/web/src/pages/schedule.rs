//! The next session and the course, and the calendar subscription.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use needlewise_core::schedule::NextSession;

use super::{checked_form, page, see_other};
use crate::auth::{Auth, Me, random_token, token_hash};
use crate::error::WebError;
use crate::views::{CalendarLinkView, SchedulePage};
use crate::{AppState, act, blocking, forms, ics};

pub async fn show(Me { state, auth }: Me) -> Result<Response, WebError> {
    render(&state, &auth, None).await
}

/// The schedule page; `new_link` is a calendar link just made, shown once.
async fn render(
    state: &AppState,
    auth: &Auth,
    new_link: Option<(String, String)>,
) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let (next, course, sessions, calendar_since) = act(state, move |ctx| {
        Ok((
            needlewise_actions::schedule(ctx, profile)?,
            needlewise_actions::course(ctx, profile)?,
            ctx.store.sessions(profile)?,
            ctx.store.calendar_token_created(profile)?,
        ))
    })
    .await?;
    let explanation = match &next {
        NextSession::After { explanation, .. } => explanation.clone(),
        _ => String::new(),
    };
    let (url, webcal) = new_link.unwrap_or_default();
    Ok(page(&SchedulePage {
        chrome: auth.chrome("Schedule", "schedule"),
        next: super::home::describe(state, &next),
        explanation,
        course: course
            .as_ref()
            .map(|c| {
                c.sessions
                    .iter()
                    .map(|s| (s.number, s.done, crate::views::day(s.date)))
                    .collect()
            })
            .unwrap_or_default(),
        review: course
            .as_ref()
            .and_then(|c| c.review_on)
            .map(crate::views::day)
            .unwrap_or_default(),
        course_note: course
            .map(|c| format!("{} {}", c.status_words(), c.explanation))
            .unwrap_or_default(),
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
        calendar: CalendarLinkView {
            since: calendar_since.map(|t| state.local(t)).unwrap_or_default(),
            url,
            webcal,
        },
    }))
}

/// Where people reach this server: the configured public URL only. The
/// request's `Host` header is never trusted for a link that leaves the
/// page (anyone can send any); without `public_url` the link stays
/// relative and the page says so.
fn base_url(state: &AppState) -> String {
    state
        .config
        .public_url
        .as_deref()
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// Makes (or remakes) the profile's calendar link, or turns it off.
pub async fn calendar_link(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let profile = auth.profile.id;
    match forms::field(&pairs, "action").unwrap_or("create") {
        "create" | "rotate" => {
            let token = random_token()?;
            let hash = token_hash(&token);
            let now = state.now();
            blocking(&state, move |s| s.set_calendar_token(profile, &hash, now)).await?;
            let url = format!("{}/calendar/{token}.ics", base_url(&state));
            let webcal = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .map(|rest| format!("webcal://{rest}"))
                .unwrap_or_default();
            render(&state, &auth, Some((url, webcal))).await
        }
        "delete" => {
            blocking(&state, move |s| s.delete_calendar_token(profile)).await?;
            Ok(see_other("/schedule"))
        }
        _ => Err(WebError::BadInput(
            "action: choose create, rotate or delete".into(),
        )),
    }
}

/// The calendar feed, `GET /calendar/{token}.ics`. No login: the token is
/// the credential, so an unknown one is simply not found.
pub async fn calendar_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let token = file
        .strip_suffix(".ics")
        .filter(|t| {
            t.len() == 64
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or(WebError::NotFound)?;
    let hash = token_hash(token);
    let profile = blocking(&state, move |s| s.profile_by_calendar_token(&hash))
        .await?
        .ok_or(WebError::NotFound)?;
    // The person's own "today", in their time zone.
    let state = state.for_profile(&profile);
    let model = act(&state, move |ctx| {
        needlewise_actions::calendar(ctx, &profile)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, ics::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"needlewise.ics\"",
            ),
        ],
        ics::render(&model),
    )
        .into_response())
}
