//! `/clinic`: the patient list; `/clinic/red-flags`: the queue, with
//! acknowledgements.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use jiff::Timestamp;
use needlewise_core::clinic::Scope;
use needlewise_core::ids::{EpisodeId, ProfileId};
use needlewise_store::clinic::{MailStatus, PatientCursor, PatientFilter, PatientQuery, RedFlag};
use serde::Deserialize;

use super::{ClinicHead, checked, chrome, head, profile_id};
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::{page, see_other};
use crate::views::Chrome;
use crate::{AppState, blocking, forms};

/// The longest acknowledgement note.
pub const NOTE_MAX: usize = 500;

/// A patient's row on the list.
#[derive(Debug, Clone)]
pub struct PatientRow {
    pub id: String,
    pub name: String,
    pub joined: String,
    pub last_session: String,
    pub next_due: String,
    pub open_flags: String,
    pub unacknowledged: u32,
    pub overdue: String,
    /// Scopes granted, in words ("everything" when all are).
    pub scopes: String,
}

fn opt<T: ToString>(v: Option<T>, none: &str) -> String {
    v.map_or_else(|| none.to_owned(), |v| v.to_string())
}

/// The list's query string, as a link or a form sends it: `q` (part of a
/// name), `status` (a [`PatientFilter`] id), `after` (a page cursor) and,
/// over the API, `limit`. Everything is text here so that a bad value
/// gets a clear message instead of the extractor's.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub q: Option<String>,
    pub status: Option<String>,
    pub after: Option<String>,
    pub limit: Option<String>,
}

impl ListParams {
    /// The store's query; a clear `BadRequest` for a value it cannot be.
    pub fn query(&self) -> Result<PatientQuery, WebError> {
        let search = self.q.as_deref().unwrap_or("").trim().to_owned();
        if search.chars().count() > PatientQuery::MAX_SEARCH {
            return Err(WebError::BadInput(format!(
                "Search for at most {} characters of a name.",
                PatientQuery::MAX_SEARCH
            )));
        }
        let filter = match self.status.as_deref().map(str::trim) {
            None | Some("") => PatientFilter::All,
            Some(id) => PatientFilter::from_id(id).ok_or_else(|| {
                WebError::BadInput(format!(
                    "There is no such patient filter. Choose one of: {}.",
                    PatientFilter::ALL.map(PatientFilter::id).join(", ")
                ))
            })?,
        };
        let after = match self.after.as_deref().filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(PatientCursor::parse(a).ok_or_else(|| {
                WebError::BadInput(
                    "That page link is not one needlewise made. Start again from the first page."
                        .into(),
                )
            })?),
        };
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => PatientQuery::DEFAULT_LIMIT,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=PatientQuery::MAX_LIMIT).contains(l))
                .ok_or_else(|| {
                    WebError::BadInput(format!(
                        "limit is a whole number from 1 to {}.",
                        PatientQuery::MAX_LIMIT
                    ))
                })?,
        };
        Ok(PatientQuery {
            search,
            filter,
            after,
            limit,
        })
    }
}

/// A link to the list with this search and filter, from `after` (or the
/// first page).
fn list_link(ctx: &ClinicCtx, query: &PatientQuery, after: Option<&PatientCursor>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if !query.search.is_empty() {
        q.append_pair("q", &query.search);
    }
    if query.filter != PatientFilter::All {
        q.append_pair("status", query.filter.id());
    }
    if let Some(after) = after {
        q.append_pair("after", &after.encode());
    }
    let q = q.finish();
    ctx.link(&if q.is_empty() {
        "/clinic".to_owned()
    } else {
        format!("/clinic?{q}")
    })
}

/// A filter the page offers.
#[derive(Debug, Clone)]
pub struct FilterOption {
    pub id: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Template)]
#[template(path = "clinic_dashboard.html")]
pub struct DashboardPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    pub clinician: bool,
    pub patients: Vec<PatientRow>,
    pub invites: String,
    pub suffix: String,
    /// Blank, or the search the page shows.
    pub search: String,
    pub filters: Vec<FilterOption>,
    /// The clinic id to keep in the search form when the account has
    /// several.
    pub clinic_field: Option<String>,
    /// "N patients have an open red flag", with a link to them, unless
    /// the page shows only them.
    pub red_flags: Option<(String, String)>,
    /// True when no search, filter or page narrows the list.
    pub unfiltered: bool,
    pub first_page: Option<String>,
    pub next_page: Option<String>,
    pub show_all: String,
}

pub async fn patients(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Query(params): Query<ListParams>,
) -> Result<Response, WebError> {
    let query = params.query()?;
    let access = ctx.access;
    let now = state.now();
    let store_query = query.clone();
    let listed = blocking(&state, move |s| s.patient_page(&access, &store_query, now)).await?;
    let clinician = ctx.is_clinician();
    let not_shared = "not shared";
    let rows = listed
        .patients
        .iter()
        .map(|p| PatientRow {
            id: p.profile_id.to_string(),
            name: p.name.clone(),
            joined: ctx.local(p.joined_at),
            last_session: if p.scopes.contains(&Scope::Sessions) {
                opt(p.status.last_session.map(crate::views::day), "none yet")
            } else {
                not_shared.into()
            },
            next_due: opt(p.status.next_due.map(crate::views::day), "—"),
            open_flags: opt(p.status.open_red_flags, not_shared),
            unacknowledged: p.status.unacknowledged_red_flags.unwrap_or(0),
            overdue: opt(p.status.overdue_checkins, not_shared),
            scopes: if p.scopes.len() == Scope::ALL.len() {
                "everything".to_owned()
            } else {
                p.scopes
                    .iter()
                    .map(|s| s.id().replace('_', " "))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
        .collect();
    let red_count = listed.red_flag_patients.unwrap_or(0);
    let filters = if clinician {
        PatientFilter::ALL
            .into_iter()
            .map(|f| FilterOption {
                id: f.id(),
                label: match f {
                    PatientFilter::All => "All patients".to_owned(),
                    PatientFilter::RedFlags => format!("With an open red flag ({red_count})"),
                    PatientFilter::OverdueCheckins => "With overdue check-ins".to_owned(),
                },
                selected: f == query.filter,
            })
            .collect()
    } else {
        Vec::new()
    };
    let red_flags = (red_count > 0 && query.filter != PatientFilter::RedFlags).then(|| {
        let with = PatientQuery {
            filter: PatientFilter::RedFlags,
            search: String::new(),
            ..query.clone()
        };
        (
            if red_count == 1 {
                "1 patient has an open red flag.".to_owned()
            } else {
                format!("{red_count} patients have an open red flag.")
            },
            list_link(&ctx, &with, None),
        )
    });
    Ok(page(&DashboardPage {
        chrome: chrome("Patients", &ctx),
        head: head(&ctx, "/clinic"),
        clinician,
        patients: rows,
        invites: ctx.link("/clinic/invites"),
        suffix: ctx.link(""),
        search: query.search.clone(),
        filters,
        clinic_field: (ctx.memberships.len() > 1).then(|| ctx.clinic.id.to_string()),
        red_flags,
        unfiltered: query.search.is_empty()
            && query.filter == PatientFilter::All
            && query.after.is_none(),
        first_page: query.after.is_some().then(|| list_link(&ctx, &query, None)),
        next_page: listed
            .next
            .as_ref()
            .map(|next| list_link(&ctx, &query, Some(next))),
        show_all: ctx.link("/clinic"),
    }))
}

/// A red flag in the queue.
#[derive(Debug, Clone)]
pub struct FlagRow {
    pub profile: String,
    pub episode: String,
    pub patient: String,
    pub opened: String,
    /// When the patient shared it with the clinic, if after it was raised
    /// (they joined or shared check-ins later).
    pub shared: Option<String>,
    pub level: String,
    pub level_id: &'static str,
    pub headline: String,
    pub rules: String,
    /// "by, at: note" once acknowledged.
    pub acknowledged: Option<(String, String, String)>,
}

pub(crate) fn flag_row(ctx: &ClinicCtx, f: &RedFlag) -> FlagRow {
    FlagRow {
        profile: f.profile_id.to_string(),
        episode: f.episode.id.to_string(),
        patient: f.patient_name.clone(),
        opened: ctx.local(f.episode.opened_at),
        shared: (f.visible_since > f.episode.opened_at).then(|| ctx.local(f.visible_since)),
        level: f.episode.level.id().replace('_', " "),
        level_id: f.episode.level.id(),
        headline: f.episode.level.headline().to_owned(),
        rules: f.rule_ids.join(", "),
        acknowledged: f
            .acknowledged
            .as_ref()
            .map(|a| (a.by_name.clone(), ctx.local(a.at), a.note.clone())),
    }
}

#[derive(Debug, Template)]
#[template(path = "clinic_red_flags.html")]
pub struct RedFlagsPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    pub waiting: Vec<FlagRow>,
    pub acknowledged: Vec<FlagRow>,
    pub note_max: usize,
    pub ack_suffix: String,
    /// Why red flags may not reach the team by email, if they may not.
    pub mail: Option<String>,
}

pub async fn red_flags(
    State(state): State<AppState>,
    ctx: ClinicCtx,
) -> Result<Response, WebError> {
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    let (queue, mail) = blocking(&state, move |s| {
        Ok((
            s.red_flag_queue(&access, now)?,
            s.clinic_mail_status(&access)?,
        ))
    })
    .await?;
    let mail = mail_notice(state.mailer.enabled(), &mail, now, |t| ctx.local(t));
    let (acknowledged, waiting): (Vec<_>, Vec<_>) = queue
        .iter()
        .map(|f| flag_row(&ctx, f))
        .partition(|f| f.acknowledged.is_some());
    Ok(page(&RedFlagsPage {
        chrome: chrome("Red flags", &ctx),
        head: head(&ctx, "/clinic/red-flags"),
        waiting,
        acknowledged,
        note_max: NOTE_MAX,
        ack_suffix: ctx.link(""),
        mail,
    }))
}

/// How long an email may wait before the team is told it is stuck.
pub const MAIL_STUCK_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// What to tell the team when red flags cannot reach them by email: the
/// server has no mail server set, or emails wait too long or were given
/// up. `None` when emails are going out.
pub fn mail_notice(
    enabled: bool,
    status: &MailStatus,
    now: Timestamp,
    local: impl Fn(Timestamp) -> String,
) -> Option<String> {
    if !enabled {
        return Some(
            "Emails are off on this server (no mail server is set), so red flags and \
             escalations reach your team here in the app only."
                .into(),
        );
    }
    let stuck = status
        .oldest_waiting
        .filter(|t| now.duration_since(*t) >= MAIL_STUCK_AFTER);
    if stuck.is_none() && status.given_up == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(since) = stuck {
        parts.push(format!(
            "{} waiting since {}",
            plural(status.waiting, "email", "emails"),
            local(since)
        ));
    }
    if status.given_up > 0 {
        parts.push(format!(
            "{} given up after repeated failures",
            plural(status.given_up, "email", "emails")
        ));
    }
    let error = status
        .last_error
        .as_deref()
        .map(|e| format!(" The mail server last said: {e}."))
        .unwrap_or_default();
    Some(format!(
        "Emails to your team are not going out: {}.{error} Notifications here in the app \
         still work; ask whoever runs needlewise to check its mail settings.",
        parts.join("; ")
    ))
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Checks an acknowledgement note.
pub fn ack_note(note: &str) -> Result<String, WebError> {
    let note = note.trim();
    if note.chars().count() > NOTE_MAX {
        return Err(WebError::BadInput(format!(
            "note: keep it to {NOTE_MAX} characters"
        )));
    }
    Ok(note.to_owned())
}

/// The parts of a red-flag form a clinician sends: checked once for
/// acknowledging and resolving alike.
fn flag_input(
    ctx: &ClinicCtx,
    profile: &str,
    episode: &str,
    note: &str,
) -> Result<(ProfileId, EpisodeId, String), WebError> {
    let profile = profile_id(profile)?;
    let episode: EpisodeId = episode.parse().map_err(|_| WebError::NotFound)?;
    ctx.require_clinician()?;
    Ok((profile, episode, ack_note(note)?))
}

/// Acknowledges a red flag for the clinic (check-ins scope; clinicians).
pub async fn acknowledge_flag(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: &str,
    episode: &str,
    note: &str,
) -> Result<(), WebError> {
    let (profile, episode, note) = flag_input(ctx, profile, episode, note)?;
    let access = ctx.access;
    crate::act(state, move |c| {
        needlewise_actions::acknowledge(c, &access, profile, episode, &note)
    })
    .await
}

/// Resolves a red flag for the clinic (check-ins scope; clinicians): the
/// patient's sessions unlock, and the episode records who resolved it.
pub async fn resolve_flag(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: &str,
    episode: &str,
    note: &str,
) -> Result<(), WebError> {
    let (profile, episode, note) = flag_input(ctx, profile, episode, note)?;
    let access = ctx.access;
    crate::act(state, move |c| {
        needlewise_actions::resolve_by_clinician(c, &access, profile, episode, &note)
    })
    .await
}

/// Back to the patient's page or the queue, where the form was.
fn back_to_flags(ctx: &ClinicCtx, pairs: &[(String, String)], profile: &str) -> Response {
    let back = if forms::field(pairs, "back") == Some("patient") {
        format!("/clinic/patients/{profile}")
    } else {
        "/clinic/red-flags".to_owned()
    };
    see_other(&format!("{}#flags", ctx.link(&back)))
}

pub async fn resolve(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, episode)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    let note = forms::field(&pairs, "note").unwrap_or_default();
    resolve_flag(&state, &ctx, &profile, &episode, note).await?;
    Ok(back_to_flags(&ctx, &pairs, &profile))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, episode)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    let note = forms::field(&pairs, "note").unwrap_or_default();
    acknowledge_flag(&state, &ctx, &profile, &episode, note).await?;
    Ok(back_to_flags(&ctx, &pairs, &profile))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(q: &str, status: &str, after: &str, limit: &str) -> ListParams {
        let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        ListParams {
            q: some(q),
            status: some(status),
            after: some(after),
            limit: some(limit),
        }
    }

    #[test]
    fn list_params_become_the_store_query_or_a_clear_error() {
        assert_eq!(
            ListParams::default().query().unwrap(),
            PatientQuery::first_page()
        );
        let cursor = PatientCursor {
            name_key: "ada lovelace".into(),
            profile_id: needlewise_core::ids::ProfileId(uuid::Uuid::now_v7()),
        };
        let q = params("  Ada ", "red_flags", &cursor.encode(), "7")
            .query()
            .unwrap();
        assert_eq!(
            q,
            PatientQuery {
                search: "Ada".into(),
                filter: PatientFilter::RedFlags,
                after: Some(cursor),
                limit: 7,
            }
        );
        let message = |p: ListParams| match p.query() {
            Err(WebError::BadInput(m)) => m,
            other => panic!("expected a bad request, got {other:?}"),
        };
        assert!(message(params("", "flagged", "", "")).contains("red_flags"));
        assert!(message(params("", "", "garbage", "")).contains("first page"));
        for limit in ["0", "201", "ten", "-1"] {
            assert!(message(params("", "", "", limit)).contains("1 to 200"));
        }
        assert!(message(params(&"a".repeat(101), "", "", "")).contains("100 characters"));
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(ack_note("  called  ").unwrap(), "called");
        assert!(ack_note(&"x".repeat(NOTE_MAX + 1)).is_err());
    }
}
