//! The clinic's canned replies (standard answers such as aftercare
//! advice): `/clinic/canned-replies` lists them (an empty state says what
//! they are for) and, for clinicians, takes a new one or a change
//! (`POST /clinic/canned-replies`, the form's request key is the reply's
//! id, so a form sent twice stores once) or a deletion
//! (`POST /clinic/canned-replies/{id}/delete`). Who may write them is the
//! core's rule (`clinic::may_edit_canned_replies`), applied by the store;
//! a refused title or text comes back next to its field with every answer
//! kept.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use needlewise_actions::RequestKey;
use needlewise_core::conversation::{
    CannedReply, MAX_CANNED_REPLIES, MAX_CANNED_TITLE_CHARS, MAX_MESSAGE_CHARS, canned_reply,
};
use needlewise_core::ids::CannedReplyId;

use super::{ClinicHead, checked, chrome, head, page_with};
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::{page, see_other};
use crate::views::Chrome;
use crate::{AppState, blocking, forms};

pub const PATH: &str = "/clinic/canned-replies";

/// A canned reply's form: a new one (a fresh id) or one being changed.
#[derive(Debug, Clone, Default)]
pub struct ReplyForm {
    pub id: String,
    pub title: String,
    pub body: String,
    pub title_error: String,
    pub body_error: String,
}

impl ReplyForm {
    fn fresh() -> Self {
        ReplyForm {
            id: RequestKey::fresh().to_string(),
            ..ReplyForm::default()
        }
    }

    fn of(r: &CannedReply) -> Self {
        ReplyForm {
            id: r.id.to_string(),
            title: r.title.clone(),
            body: r.body.clone(),
            ..ReplyForm::default()
        }
    }

    fn has_errors(&self) -> bool {
        !self.title_error.is_empty() || !self.body_error.is_empty()
    }
}

/// One reply as the page shows it, with its form for clinicians.
#[derive(Debug, Clone)]
pub struct ReplyView {
    pub id: String,
    pub title: String,
    pub body: String,
    pub updated: String,
    pub form: ReplyForm,
}

#[derive(Debug, Template)]
#[template(path = "clinic_canned.html")]
pub struct CannedPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    pub clinician: bool,
    pub replies: Vec<ReplyView>,
    pub new: ReplyForm,
    pub suffix: String,
    pub max_title: usize,
    pub max_chars: usize,
    pub max_replies: usize,
}

async fn the_page(
    state: &AppState,
    ctx: &ClinicCtx,
    again: Option<ReplyForm>,
) -> Result<CannedPage, WebError> {
    let access = ctx.access;
    let list = blocking(state, move |s| s.canned_replies(&access)).await?;
    let mut new = ReplyForm::fresh();
    let replies = list
        .iter()
        .map(|r| {
            let form = match &again {
                Some(f) if f.id == r.id.to_string() => f.clone(),
                _ => ReplyForm::of(r),
            };
            ReplyView {
                id: r.id.to_string(),
                title: r.title.clone(),
                body: r.body.clone(),
                updated: state.local(r.updated_at),
                form,
            }
        })
        .collect::<Vec<_>>();
    if let Some(f) = again
        && !replies.iter().any(|r| r.id == f.id)
    {
        new = f;
    }
    Ok(CannedPage {
        chrome: chrome("Canned replies", ctx),
        head: head(ctx, PATH),
        clinician: ctx.is_clinician(),
        replies,
        new,
        suffix: ctx.link(""),
        max_title: MAX_CANNED_TITLE_CHARS,
        max_chars: MAX_MESSAGE_CHARS,
        max_replies: MAX_CANNED_REPLIES,
    })
}

pub async fn list(State(state): State<AppState>, ctx: ClinicCtx) -> Result<Response, WebError> {
    Ok(page(&the_page(&state, &ctx, None).await?))
}

/// Adds a canned reply or changes one (by the form's id).
pub async fn save(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    let field = |name: &str| forms::field(&pairs, name).unwrap_or_default().to_owned();
    let id: CannedReplyId = field("id")
        .parse()
        .map_err(|_| WebError::BadInput("id: send the form again".into()))?;
    let mut form = ReplyForm {
        id: id.to_string(),
        title: field("title"),
        body: field("body"),
        ..ReplyForm::default()
    };
    if let Err(problems) = canned_reply(&form.title, &form.body) {
        for (f, p) in problems {
            let p = crate::pages::messages::plain_problem(&p);
            match f {
                "title" => form.title_error = p,
                _ => form.body_error = p,
            }
        }
    }
    if !form.has_errors() {
        let access = ctx.access;
        let (title, text) = (form.title.clone(), form.body.clone());
        let now = state.now();
        match blocking(&state, move |s| {
            s.save_canned_reply(&access, id, &title, &text, now)
        })
        .await
        {
            Ok(()) => return Ok(see_other(&format!("{}#r-{id}", ctx.link(PATH)))),
            Err(WebError::BadInput(m)) => {
                form.body_error = crate::pages::messages::plain_problem(&m);
            }
            Err(e) => return Err(e),
        }
    }
    let p = the_page(&state, &ctx, Some(form)).await?;
    Ok(page_with(StatusCode::UNPROCESSABLE_ENTITY, &p))
}

pub async fn delete(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    checked(&ctx, &body)?;
    let id: CannedReplyId = id.parse().map_err(|_| WebError::NotFound)?;
    let access = ctx.access;
    let deleted = blocking(&state, move |s| s.delete_canned_reply(&access, id)).await?;
    if !deleted {
        return Err(WebError::NotFound);
    }
    Ok(see_other(&ctx.link(PATH)))
}
