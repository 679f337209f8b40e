//! The clinic's messages: the inbox (conversations from a red flag that
//! await an answer at the very top, oldest first; then unread ones), one
//! patient's conversations (linked from their page), a conversation with
//! its reply form (up to four photos), and a message photo's file.
//!
//! Every read and write goes through the store's clinic methods, which
//! decide with the core's `Act::Converse` (clinicians: every conversation
//! of a linked patient; staff: only non-clinical ones the patient shared
//! with the front desk), mark the conversation read and write the
//! patient's audit log.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::Response;
use needlewise_actions::RequestKey;
use needlewise_core::conversation::{CannedReply, MAX_MESSAGE_CHARS, MAX_PHOTOS_PER_MESSAGE, Side};
use needlewise_core::ids::{ConversationId, ProfileId};
use needlewise_store::conversation::{Posted, Thread};

use super::{chrome, head, profile_id};
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::messages::{
    CardView, ConversationRow, MessageForm, MessageView, ThreadPage, UpdatesParams, holds_etag,
    mail_for, not_modified, remove_message_photos, save_message_photos, serve_message_photo,
    thread_etag, updates_fragment,
};
use crate::pages::{form_again, page, progress, see_other};
use crate::views::Chrome;
use crate::{AppState, act, blocking, forms};

#[derive(Debug, Template)]
#[template(path = "clinic_messages.html")]
pub struct InboxPage {
    pub chrome: Chrome,
    pub head: super::ClinicHead,
    /// The patient whose conversations these are, when only one's.
    pub patient: Option<String>,
    pub conversations: Vec<ConversationRow>,
    pub staff: bool,
    /// Links to the previous and the next page of the inbox.
    pub newer: Option<String>,
    pub older: Option<String>,
}

async fn inbox_of(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: Option<ProfileId>,
    page_no: u32,
) -> Result<Response, WebError> {
    let access = ctx.access;
    let now = state.now();
    // One patient's conversations fit on one page; the whole inbox is
    // paged (one more read than shown says whether a next page exists).
    let (offset, limit) = match profile {
        Some(_) => (0, needlewise_store::conversation::MAX_LISTED),
        None => ((page_no - 1) * INBOX_PAGE, INBOX_PAGE + 1),
    };
    let (mut list, unread) = blocking(state, move |s| {
        Ok((
            s.clinic_inbox_page(&access, profile, offset, limit, now)?,
            s.clinic_unread(&access)?,
        ))
    })
    .await?;
    let more = profile.is_none() && list.len() > INBOX_PAGE as usize;
    if more {
        list.truncate(INBOX_PAGE as usize);
    }
    let pager = |n: u32| ctx.link(&format!("/clinic/messages?page={n}"));
    let newer = (page_no > 1).then(|| pager(page_no - 1));
    let older = more.then(|| pager(page_no + 1));
    let mut head = head(ctx, "/clinic/messages");
    head.unread = unread;
    let patient = profile.map(|_| {
        list.first()
            .map(|s| s.patient_name.clone())
            .unwrap_or_default()
    });
    Ok(page(&InboxPage {
        chrome: chrome("Messages", ctx),
        head,
        patient,
        conversations: list
            .iter()
            .map(|s| {
                let c = &s.conversation;
                ConversationRow::new(
                    state,
                    s,
                    Side::Clinic,
                    ctx.link(&format!("/clinic/messages/{}/{}", c.profile_id, c.id)),
                )
            })
            .collect(),
        staff: !ctx.is_clinician(),
        newer,
        older,
    }))
}

/// Conversations on one page of the inbox.
const INBOX_PAGE: u32 = 50;

#[derive(serde::Deserialize)]
pub struct InboxParams {
    /// 1 for the first page.
    #[serde(default)]
    page: Option<u32>,
}

pub async fn inbox(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Query(params): Query<InboxParams>,
) -> Result<Response, WebError> {
    let pages = needlewise_store::conversation::MAX_LISTED / INBOX_PAGE;
    let page = params.page.unwrap_or(1);
    if page == 0 || page > pages {
        return Err(WebError::BadInput(format!("page: choose 1 to {pages}")));
    }
    inbox_of(&state, &ctx, None, page).await
}

pub async fn patient_inbox(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path(profile): Path<String>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    inbox_of(&state, &ctx, Some(profile), 1).await
}

fn thread_page(
    state: &AppState,
    ctx: &ClinicCtx,
    t: &Thread,
    canned: &[CannedReply],
    form: MessageForm,
) -> ThreadPage {
    let c = &t.summary.conversation;
    let suffix = if ctx.memberships.len() > 1 {
        format!("?clinic={}", ctx.clinic.id)
    } else {
        String::new()
    };
    let photo_base = format!("/clinic/messages/{}/photos/", c.profile_id);
    ThreadPage {
        chrome: chrome(&c.subject, ctx),
        head: Some(head(ctx, "/clinic/messages")),
        appointments: (
            ctx.link(&format!(
                "/clinic/messages/{}/{}/propose",
                c.profile_id, c.id
            )),
            "Propose times for an appointment".to_owned(),
        ),
        subject: c.subject.clone(),
        with: t.summary.patient_name.clone(),
        card: c.origin.as_ref().map(|o| CardView::new(state, o)),
        messages: t
            .messages
            .iter()
            .map(|m| MessageView::new(state, m, Side::Clinic, &photo_base, &suffix))
            .collect(),
        action: ctx.link(&format!("/clinic/messages/{}/{}", c.profile_id, c.id)),
        closed: String::new(),
        staff_note: if c.is_clinical() {
            "Clinicians only: it holds the patient's check-in.".into()
        } else if c.shared_with_staff {
            "The patient shared this conversation with the front desk.".into()
        } else {
            "Clinicians only: the patient did not share it with the front desk.".into()
        },
        back: ctx.link("/clinic/messages"),
        form,
        max_photos: MAX_PHOTOS_PER_MESSAGE,
        max_chars: MAX_MESSAGE_CHARS,
        canned: canned
            .iter()
            .map(|r| (r.id.to_string(), r.title.clone()))
            .collect(),
        canned_path: format!("/clinic/messages/{}/{}", c.profile_id, c.id),
        clinic_id: ctx.clinic.id.to_string(),
        canned_link: ctx.link("/clinic/canned-replies"),
        updates: ctx.link(&format!(
            "/clinic/messages/{}/{}/updates",
            c.profile_id, c.id
        )),
        etag: thread_etag(c.last_message_at),
    }
}

fn ids(profile: &str, conversation: &str) -> Result<(ProfileId, ConversationId), WebError> {
    Ok((
        profile_id(profile)?,
        conversation.parse().map_err(|_| WebError::NotFound)?,
    ))
}

/// The conversation (the store decides, marks it read and logs it) and
/// the clinic's canned replies.
async fn load(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: ProfileId,
    id: ConversationId,
) -> Result<(Thread, Vec<CannedReply>), WebError> {
    let access = ctx.access;
    let now = state.now();
    blocking(state, move |s| {
        let thread = s.clinic_conversation(&access, profile, id, now)?;
        Ok((thread, s.canned_replies(&access)?))
    })
    .await
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ShowParams {
    /// A canned reply to start the reply's text with.
    #[serde(default)]
    canned: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, conversation)): Path<(String, String)>,
    Query(params): Query<ShowParams>,
) -> Result<Response, WebError> {
    let (profile, id) = ids(&profile, &conversation)?;
    let (thread, canned) = load(&state, &ctx, profile, id).await?;
    let mut form = MessageForm::fresh();
    if let Some(chosen) = params.canned.as_deref().filter(|c| !c.is_empty()) {
        let chosen = canned
            .iter()
            .find(|r| r.id.to_string() == chosen)
            .ok_or(WebError::NotFound)?;
        form.body = chosen.body.clone();
    }
    Ok(page(&thread_page(&state, &ctx, &thread, &canned, form)))
}

pub async fn reply(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, conversation)): Path<(String, String)>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let (profile, id) = ids(&profile, &conversation)?;
    let (fields, files) = progress::read_photo_form(
        multipart,
        MAX_PHOTOS_PER_MESSAGE,
        4 * MAX_MESSAGE_CHARS + 1024,
    )
    .await?;
    ctx.check_csrf(forms::field(&fields, "csrf").unwrap_or_default())?;
    let field = |name: &str| forms::field(&fields, name).unwrap_or_default().to_owned();
    let key = RequestKey::parse(&field("key"))
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let mut form = MessageForm {
        key: key.to_string(),
        body: field("body"),
        ..MessageForm::default()
    };
    // Whether the asker may answer at all, before any photo is decoded
    // (this read is audited like any other).
    let (thread, canned) = load(&state, &ctx, profile, id).await?;
    if let Err(e) = needlewise_core::conversation::message_text(&form.body, files.len()) {
        form.text_problem(&e);
        return Ok(form_again(&thread_page(
            &state, &ctx, &thread, &canned, form,
        )));
    }
    let message = needlewise_actions::message_id_for(Some(key));
    let photos = match save_message_photos(&state, profile, message, files).await {
        Ok(p) => p,
        Err(e) => {
            if let Some(e) = form.take(e) {
                return Err(e);
            }
            return Ok(form_again(&thread_page(
                &state, &ctx, &thread, &canned, form,
            )));
        }
    };
    let mail = mail_for(&state, Side::Patient);
    let access = ctx.access;
    let (body, kept) = (form.body.clone(), photos.clone());
    let posted = act(&state, move |c| {
        needlewise_actions::send_clinic_message(
            c,
            &access,
            profile,
            id,
            &body,
            kept,
            Some(key),
            &mail,
        )
    })
    .await;
    let back = ctx.link(&format!("/clinic/messages/{profile}/{id}"));
    match posted {
        Ok(Posted::Stored) => {
            crate::notify::kick(&state).await;
            Ok(see_other(&format!("{back}#m-{message}")))
        }
        Ok(Posted::AlreadyStored) => {
            remove_message_photos(&state, profile, &photos);
            Ok(see_other(&format!("{back}#m-{message}")))
        }
        Err(e) => {
            remove_message_photos(&state, profile, &photos);
            if let Some(e) = form.take(e) {
                return Err(e);
            }
            Ok(form_again(&thread_page(
                &state, &ctx, &thread, &canned, form,
            )))
        }
    }
}

/// `GET /clinic/messages/{profile}/{conversation}/updates?after=<message>`:
/// 304 while nothing has changed since the tag the page holds (no message
/// read, nothing logged), else the newer messages, read (and logged) as
/// opening the conversation is.
pub async fn updates(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, conversation)): Path<(String, String)>,
    Query(params): Query<UpdatesParams>,
    headers: axum::http::HeaderMap,
) -> Result<Response, WebError> {
    let (profile, id) = ids(&profile, &conversation)?;
    let access = ctx.access;
    let version = blocking(&state, move |s| {
        s.clinic_conversation_version(&access, profile, id)
    })
    .await?;
    let etag = thread_etag(version);
    if holds_etag(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let now = state.now();
    let thread = blocking(&state, move |s| {
        s.clinic_conversation(&access, profile, id, now)
    })
    .await?;
    let etag = thread_etag(thread.summary.conversation.last_message_at);
    let suffix = if ctx.memberships.len() > 1 {
        format!("?clinic={}", ctx.clinic.id)
    } else {
        String::new()
    };
    let photo_base = format!("/clinic/messages/{profile}/photos/");
    Ok(updates_fragment(
        &etag,
        &thread.messages,
        params.after.as_deref(),
        |m| MessageView::new(&state, m, Side::Clinic, &photo_base, &suffix),
    ))
}

/// A photo of a message in a conversation the asker may read (the store
/// decides and logs it); 404 or 403 otherwise.
pub async fn photo_file(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    Path((profile, file)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let profile = profile_id(&profile)?;
    let (id, thumb) = crate::pages::messages::photo_file_name(&file)?;
    let access = ctx.access;
    let now = state.now();
    blocking(&state, move |s| {
        s.clinic_message_photo(&access, profile, id, now)
    })
    .await?;
    serve_message_photo(&state, profile, id, thumb).await
}
