//! Conversations over the API, for patients (`/conversations`) and for
//! clinic members (`/clinic/conversations`). The handlers call the same
//! actions and store methods as the pages; the store decides who of the
//! clinic may read or answer (`Act::Converse`) and logs it. A message with
//! photos is sent as `multipart/form-data` to `…/messages/photos` (the
//! pages' pipeline: type judged by content, decoded with limits,
//! re-encoded without metadata); a message's photos are listed by id and
//! size.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use needlewise_actions::{ConversationOrigin, RequestKey};
use needlewise_core::conversation::Side;
use needlewise_core::ids::{CheckinId, ClinicId, ConversationId, ProfileId};
use needlewise_store::conversation::{ConversationSummary, Posted, Thread};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ApiClinicCtx, ApiJson, ApiMe, ApiResult, openapi::ErrorBody};
use crate::auth::Me;
use crate::error::WebError;
use crate::pages::messages::mail_for;
use crate::{AppState, act, blocking};

fn summary_json(s: &ConversationSummary, side: Side) -> Value {
    let c = &s.conversation;
    json!({
        "id": c.id,
        "clinic_id": c.clinic_id,
        "clinic_name": s.clinic_name,
        "profile_id": c.profile_id,
        "patient_name": s.patient_name,
        "subject": c.subject,
        "clinical": c.is_clinical(),
        "from_red_flag": c.from_red_flag(),
        "shared_with_staff": c.shared_with_staff,
        "created_at": c.created_at,
        "last_message_at": c.last_message_at,
        "last_side": c.last_side,
        "unread": c.unread_by(side),
    })
}

fn thread_json(t: &Thread, side: Side) -> Value {
    let mut v = summary_json(&t.summary, side);
    v["origin"] = json!(t.summary.conversation.origin);
    v["messages"] = Value::Array(
        t.messages
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "side": m.side,
                    "author_name": m.author_name,
                    "body": m.body,
                    "created_at": m.created_at,
                    "photos": m.photos.iter().map(|p| json!({
                        "id": p.id, "width": p.width, "height": p.height,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    );
    v
}

pub(super) fn key_of(raw: &Option<String>) -> Result<Option<RequestKey>, WebError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(k) => RequestKey::parse(k)
            .map(Some)
            .ok_or_else(|| WebError::BadInput("key: a UUID".into())),
    }
}

/// The profile's conversations with its clinics, newest activity first.
#[utoipa::path(
    get,
    path = "/conversations",
    tag = "messages",
    security(("session" = [])),
    responses(
        (status = 200, description = "`{\"conversations\": [...], \"unread\"}`. See the \
            description of `GET /clinic/conversations` for each conversation's fields.",
            body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
    )
)]
pub(super) async fn conversations(ApiMe(Me { state, auth }): ApiMe) -> ApiResult {
    let profile = auth.profile.id;
    let (list, unread) = blocking(&state, move |s| {
        Ok((
            s.patient_conversations(profile)?,
            s.patient_unread(profile)?,
        ))
    })
    .await?;
    Ok(Json(json!({
        "conversations": list.iter().map(|s| summary_json(s, Side::Patient)).collect::<Vec<_>>(),
        "unread": unread,
    }))
    .into_response())
}

/// A new conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewConversationBody {
    /// A clinic the profile is the patient of.
    clinic_id: String,
    /// One line, 1 to 120 characters.
    subject: String,
    /// The first message: up to 4,000 characters.
    body: String,
    /// Start from one of the profile's check-ins: its answers and rules
    /// (and its red flag) travel as a card, and only clinicians read it.
    #[serde(default)]
    checkin_id: Option<String>,
    /// Whether the clinic's front-desk staff may read it (not with a
    /// check-in).
    #[serde(default)]
    shared_with_staff: bool,
    /// A UUID chosen by the client: the same key again stores nothing and
    /// answers the same conversation.
    #[serde(default)]
    key: Option<String>,
}

/// Starts a conversation with one of the profile's clinics. The clinic's
/// members who may read it get an email that says only that there is a
/// new message.
#[utoipa::path(
    post,
    path = "/conversations",
    tag = "messages",
    security(("session" = [], "csrf" = [])),
    request_body = NewConversationBody,
    responses(
        (status = 201, description = "`{\"id\", \"stored\"}`: `stored` is false when the \
            same `key` was sent before.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "Not a clinic of this profile's, or not one of its \
            check-ins (`not_found`).", body = ErrorBody),
        (status = 422, description = "A bad subject, message or key (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn start(
    ApiMe(Me { state, auth }): ApiMe,
    ApiJson(b): ApiJson<NewConversationBody>,
) -> ApiResult {
    let clinic: ClinicId = b.clinic_id.parse().map_err(|_| WebError::NotFound)?;
    let origin = match b.checkin_id.as_deref().map(str::trim) {
        None | Some("") => ConversationOrigin::Question {
            shared_with_staff: b.shared_with_staff,
        },
        Some(id) => {
            if b.shared_with_staff {
                return Err(WebError::BadInput(
                    "shared_with_staff: a conversation with a check-in is for clinicians only"
                        .into(),
                )
                .into());
            }
            ConversationOrigin::Checkin(id.parse::<CheckinId>().map_err(|_| WebError::NotFound)?)
        }
    };
    let key = key_of(&b.key)?;
    let profile = auth.profile.id;
    let mail = mail_for(&state, Side::Clinic);
    let (id, posted) = act(&state, move |ctx| {
        needlewise_actions::start_conversation(
            ctx,
            profile,
            clinic,
            &b.subject,
            &b.body,
            origin,
            vec![],
            key,
            &mail,
        )
    })
    .await?;
    if posted == Posted::Stored {
        crate::notify::kick(&state).await;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "stored": posted == Posted::Stored })),
    )
        .into_response())
}

/// One of the profile's conversations with every message, marked read.
#[utoipa::path(
    get,
    path = "/conversations/{id}",
    tag = "messages",
    security(("session" = [])),
    params(("id" = String, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation's fields (see `GET /clinic/conversations`), \
            `origin` (null, or the check-in card: `checkin_id`, `checkin_at`, `level`, \
            `episode_id`, `rules` with `id`, `title`, `explanation`, and `answers` with \
            `question`, `answer`) and `messages`, oldest first (`id`, `side`, `author_name`, \
            `body`, `created_at`, `photos` with `id`, `width`, `height`).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "Not one of this profile's conversations (`not_found`).",
            body = ErrorBody),
    )
)]
pub(super) async fn conversation(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
) -> ApiResult {
    let id: ConversationId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    let now = state.now();
    let thread = blocking(&state, move |s| s.patient_conversation(profile, id, now))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Json(thread_json(&thread, Side::Patient)).into_response())
}

/// A message (text only over the API).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageBody {
    /// Up to 4,000 characters.
    body: String,
    /// A UUID chosen by the client: the same key again stores nothing.
    #[serde(default)]
    key: Option<String>,
}

fn posted_response(posted: Posted, key: Option<RequestKey>) -> axum::response::Response {
    (
        StatusCode::CREATED,
        Json(json!({
            "id": needlewise_actions::message_id_for(key),
            "stored": posted == Posted::Stored,
        })),
    )
        .into_response()
}

/// Writes in one of the profile's conversations; the clinic is told by
/// email that there is a new message.
#[utoipa::path(
    post,
    path = "/conversations/{id}/messages",
    tag = "messages",
    security(("session" = [], "csrf" = [])),
    params(("id" = String, Path, description = "The conversation's id.")),
    request_body = MessageBody,
    responses(
        (status = 201, description = "`{\"id\", \"stored\"}`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "Not one of this profile's conversations, or its clinic \
            was left (`not_found`).", body = ErrorBody),
        (status = 422, description = "A bad message or key (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn post_message(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MessageBody>,
) -> ApiResult {
    let id: ConversationId = id.parse().map_err(|_| WebError::NotFound)?;
    let key = Some(key_of(&b.key)?.unwrap_or_else(RequestKey::fresh));
    let profile = auth.profile.id;
    let mail = mail_for(&state, Side::Clinic);
    let posted = act(&state, move |ctx| {
        needlewise_actions::send_patient_message(ctx, profile, id, &b.body, vec![], key, &mail)
    })
    .await?;
    if posted == Posted::Stored {
        crate::notify::kick(&state).await;
    }
    Ok(posted_response(posted, key))
}

/// The clinic's inbox: the conversations the asker may read (clinicians:
/// every patient's; front-desk staff: only those patients shared with the
/// front desk, never one about a check-in), red flags awaiting an answer
/// first, then unread ones.
#[utoipa::path(
    get,
    path = "/clinic/conversations",
    tag = "messages",
    security(("session" = [])),
    params(("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic.")),
    responses(
        (status = 200, description = "`{\"conversations\": [...], \"unread\"}`. Each \
            conversation: `id`, `clinic_id`, `clinic_name`, `profile_id`, `patient_name`, \
            `subject`, `clinical` (started from a check-in: clinicians only), `from_red_flag`, \
            `shared_with_staff`, `created_at`, `last_message_at`, `last_side` (`patient` or \
            `clinic`) and `unread` (a message from the other side not opened yet).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "No second factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "Not a member of that clinic (`not_found`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_conversations(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
) -> ApiResult {
    let access = ctx.access;
    let now = state.now();
    let (list, unread) = blocking(&state, move |s| {
        Ok((
            s.clinic_inbox(&access, None, now)?,
            s.clinic_unread(&access)?,
        ))
    })
    .await?;
    Ok(Json(json!({
        "conversations": list.iter().map(|s| summary_json(s, Side::Clinic)).collect::<Vec<_>>(),
        "unread": unread,
    }))
    .into_response())
}

fn clinic_ids(profile: &str, id: &str) -> Result<(ProfileId, ConversationId), WebError> {
    Ok((
        profile.parse().map_err(|_| WebError::NotFound)?,
        id.parse().map_err(|_| WebError::NotFound)?,
    ))
}

/// One conversation as the clinic sees it, marked read and logged in the
/// patient's audit log.
#[utoipa::path(
    get,
    path = "/clinic/conversations/{profile}/{id}",
    tag = "messages",
    security(("session" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("id" = String, Path, description = "The conversation's id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    responses(
        (status = 200, description = "As `GET /conversations/{id}`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "Staff, and a conversation about a check-in; or no second \
            factor this session (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such conversation the asker may read (`not_found`).",
            body = ErrorBody),
    )
)]
pub(super) async fn clinic_conversation(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, id)): Path<(String, String)>,
) -> ApiResult {
    let (profile, id) = clinic_ids(&profile, &id)?;
    let access = ctx.access;
    let now = state.now();
    let thread = blocking(&state, move |s| {
        s.clinic_conversation(&access, profile, id, now)
    })
    .await?;
    Ok(Json(thread_json(&thread, Side::Clinic)).into_response())
}

/// Answers a patient; the patient is told by email that there is a new
/// message.
#[utoipa::path(
    post,
    path = "/clinic/conversations/{profile}/{id}/messages",
    tag = "messages",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("id" = String, Path, description = "The conversation's id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body = MessageBody,
    responses(
        (status = 201, description = "`{\"id\", \"stored\"}`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`); staff, and a \
            conversation about a check-in; or no second factor (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such conversation the asker may read (`not_found`).",
            body = ErrorBody),
        (status = 422, description = "A bad message or key (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_post_message(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<MessageBody>,
) -> ApiResult {
    let (profile, id) = clinic_ids(&profile, &id)?;
    let key = Some(key_of(&b.key)?.unwrap_or_else(RequestKey::fresh));
    let access = ctx.access;
    let mail = mail_for(&state, Side::Patient);
    let posted = act(&state, move |c| {
        needlewise_actions::send_clinic_message(
            c,
            &access,
            profile,
            id,
            &b.body,
            vec![],
            key,
            &mail,
        )
    })
    .await?;
    if posted == Posted::Stored {
        crate::notify::kick(&state).await;
    }
    Ok(posted_response(posted, key))
}

/// A message with photos, as `multipart/form-data`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; the handler reads the parts
pub(super) struct MessageWithPhotos {
    /// Up to 4,000 characters; may be empty when photos come with it.
    body: Option<String>,
    /// A UUID chosen by the client: the same key again stores nothing.
    key: Option<String>,
    /// One to four JPEG, PNG or WebP images, 10 MB each, each a `photos`
    /// part.
    #[schema(value_type = Vec<String>, format = Binary)]
    photos: Vec<Vec<u8>>,
}

/// The text, key and photos of a multipart message.
async fn read_message_parts(
    multipart: axum::extract::Multipart,
) -> Result<(String, Option<String>, Vec<Vec<u8>>), WebError> {
    use needlewise_core::conversation::{MAX_MESSAGE_CHARS, MAX_PHOTOS_PER_MESSAGE};
    let (fields, files) = crate::pages::progress::read_photo_form(
        multipart,
        MAX_PHOTOS_PER_MESSAGE,
        4 * MAX_MESSAGE_CHARS + 1024,
    )
    .await?;
    let field = |name: &str| crate::forms::field(&fields, name).map(str::to_owned);
    let body = field("body").unwrap_or_default();
    needlewise_core::conversation::message_text(&body, files.len())
        .map_err(|e| WebError::BadInput(format!("message: {e}")))?;
    Ok((body, field("key").filter(|k| !k.is_empty()), files))
}

/// Writes in one of the profile's conversations with photos; the clinic is
/// told by email that there is a new message.
#[utoipa::path(
    post,
    path = "/conversations/{id}/messages/photos",
    tag = "messages",
    security(("session" = [], "csrf" = [])),
    params(("id" = String, Path, description = "The conversation's id.")),
    request_body(content = MessageWithPhotos, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "`{\"id\", \"stored\", \"photos\"}` (`photos`: how many \
            the message carries).", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`).", body = ErrorBody),
        (status = 404, description = "Not one of this profile's conversations, or its clinic \
            was left (`not_found`).", body = ErrorBody),
        (status = 413, description = "The upload is larger than four photos.", body = ErrorBody),
        (status = 422, description = "A bad message, key or photo: not an image, too large, \
            more than four (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn post_message_with_photos(
    ApiMe(Me { state, auth }): ApiMe,
    Path(id): Path<String>,
    multipart: axum::extract::Multipart,
) -> ApiResult {
    let id: ConversationId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    // The profile's own conversation, before any photo is decoded.
    blocking(&state, move |s| s.patient_conversation_version(profile, id))
        .await?
        .ok_or(WebError::NotFound)?;
    let (body, key, files) = read_message_parts(multipart).await?;
    let key = Some(key_of(&key)?.unwrap_or_else(RequestKey::fresh));
    let message = needlewise_actions::message_id_for(key);
    let photos =
        crate::pages::messages::save_message_photos(&state, profile, message, files).await?;
    let count = photos.len();
    let mail = mail_for(&state, Side::Clinic);
    let kept = photos.clone();
    let posted = act(&state, move |ctx| {
        needlewise_actions::send_patient_message(ctx, profile, id, &body, kept, key, &mail)
    })
    .await;
    photos_posted(&state, profile, &photos, posted, key, count).await
}

/// The answer to a message with photos; its files are removed when it was
/// not stored now.
async fn photos_posted(
    state: &AppState,
    profile: ProfileId,
    photos: &[needlewise_core::conversation::MessagePhoto],
    posted: Result<Posted, WebError>,
    key: Option<RequestKey>,
    count: usize,
) -> ApiResult {
    match posted {
        Ok(Posted::Stored) => {
            crate::notify::kick(state).await;
            let mut r = posted_response(Posted::Stored, key);
            *r.body_mut() = axum::body::Body::from(
                json!({
                    "id": needlewise_actions::message_id_for(key),
                    "stored": true,
                    "photos": count,
                })
                .to_string(),
            );
            Ok(r)
        }
        Ok(Posted::AlreadyStored) => {
            crate::pages::messages::remove_message_photos(state, profile, photos);
            Ok(posted_response(Posted::AlreadyStored, key))
        }
        Err(e) => {
            crate::pages::messages::remove_message_photos(state, profile, photos);
            Err(e.into())
        }
    }
}

/// Answers a conversation with photos, as `POST
/// /clinic/conversations/{profile}/{id}/messages` does with text.
#[utoipa::path(
    post,
    path = "/clinic/conversations/{profile}/{id}/messages/photos",
    tag = "messages",
    security(("session" = [], "csrf" = [])),
    params(
        ("profile" = String, Path, description = "The patient's profile id."),
        ("id" = String, Path, description = "The conversation's id."),
        ("clinic" = Option<String>, Query, description = "A clinic id; else the account's first clinic."),
    ),
    request_body(content = MessageWithPhotos, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "`{\"id\", \"stored\", \"photos\"}`.", body = Object),
        (status = 401, description = "No valid session (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A missing or wrong `x-csrf-token` (`csrf`); staff, and a \
            conversation about a check-in; or no second factor (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such conversation the asker may read (`not_found`).",
            body = ErrorBody),
        (status = 413, description = "The upload is larger than four photos.", body = ErrorBody),
        (status = 422, description = "A bad message, key or photo (`bad_input`).", body = ErrorBody),
    )
)]
pub(super) async fn clinic_post_message_with_photos(
    State(state): State<AppState>,
    ApiClinicCtx(ctx): ApiClinicCtx,
    Path((profile, id)): Path<(String, String)>,
    multipart: axum::extract::Multipart,
) -> ApiResult {
    let (profile, id) = clinic_ids(&profile, &id)?;
    let access = ctx.access;
    // Whether the asker may answer at all, before any photo is decoded.
    blocking(&state, move |s| {
        s.clinic_conversation_version(&access, profile, id)
    })
    .await?;
    let (body, key, files) = read_message_parts(multipart).await?;
    let key = Some(key_of(&key)?.unwrap_or_else(RequestKey::fresh));
    let message = needlewise_actions::message_id_for(key);
    let photos =
        crate::pages::messages::save_message_photos(&state, profile, message, files).await?;
    let count = photos.len();
    let mail = mail_for(&state, Side::Patient);
    let kept = photos.clone();
    let posted = act(&state, move |c| {
        needlewise_actions::send_clinic_message(c, &access, profile, id, &body, kept, key, &mail)
    })
    .await;
    photos_posted(&state, profile, &photos, posted, key, count).await
}
