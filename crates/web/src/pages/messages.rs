//! "Ask my care team": the patient's conversations with their clinics.
//!
//! `/messages` lists them (an empty state says how to start one),
//! `/messages/new` starts one (prefilled from a check-in or the open red
//! flag: its answers and rules travel as a structured card, never as
//! pasted text), `/messages/{id}` shows one and takes a reply. Forms are
//! multipart (up to four photos, each through the progress photos'
//! pipeline), carry a request key (sent twice, stored once) and answer
//! with a redirect; a refused form comes back with its problems next to
//! their fields. Text is shown as typed: escaped, links not made
//! clickable, line breaks kept by CSS.
//!
//! The shared pieces (views of messages and cards, saving photos, the
//! clinic's pages use them too) live here; who may do what is the core's
//! and the store's.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use needlewise_actions::{ConversationOrigin, RequestKey};
use needlewise_core::conversation::{
    MAX_MESSAGE_CHARS, MAX_PHOTOS_PER_MESSAGE, MAX_SUBJECT_CHARS, Message, MessagePhoto,
    OriginCard, Side,
};
use needlewise_core::ids::{
    CheckinId, ClinicId, ConversationId, MessageId, MessagePhotoId, PhotoId, ProfileId,
};
use needlewise_store::conversation::{ConversationSummary, Thread};
use serde::Deserialize;

use super::progress::{self, MAX_PHOTO_BYTES};
use super::{form_again, page, see_other};
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, act, blocking, forms};

/// The body limit of a message form: four photos and the text.
pub const MAX_MESSAGE_FORM: usize = MAX_PHOTOS_PER_MESSAGE * MAX_PHOTO_BYTES + 256 * 1024;
/// The longest text field a message form reads, in bytes.
const MAX_TEXT_FIELD: usize = 4 * MAX_MESSAGE_CHARS + 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/messages",
            get(list)
                .post(start)
                .layer(DefaultBodyLimit::max(MAX_MESSAGE_FORM)),
        )
        .route("/messages/new", get(new_form))
        .route(
            "/messages/{id}",
            get(show)
                .post(reply)
                .layer(DefaultBodyLimit::max(MAX_MESSAGE_FORM)),
        )
        .route("/messages/{id}/updates", get(updates))
        .route("/files/messages/{file}", get(photo_file))
}

// ------------------------------------------------------------------ views

/// A conversation in a list.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub href: String,
    pub subject: String,
    /// The other side: the clinic (for the patient) or the patient.
    pub with: String,
    pub last: String,
    pub unread: bool,
    pub red_flag: bool,
    /// The patient wrote last (the clinic owes an answer).
    pub awaits_clinic: bool,
}

impl ConversationRow {
    pub fn new(state: &AppState, s: &ConversationSummary, side: Side, href: String) -> Self {
        let c = &s.conversation;
        ConversationRow {
            href,
            subject: c.subject.clone(),
            with: match side {
                Side::Patient => s.clinic_name.clone(),
                Side::Clinic => s.patient_name.clone(),
            },
            last: state.local(c.last_message_at),
            unread: c.unread_by(side),
            red_flag: c.from_red_flag(),
            awaits_clinic: c.awaits_clinic(),
        }
    }
}

/// A check-in card as a page shows it.
#[derive(Debug, Clone)]
pub struct CardView {
    pub level: String,
    pub taken: String,
    pub red_flag: bool,
    /// (title, explanation)
    pub rules: Vec<(String, String)>,
    /// (question, answer)
    pub answers: Vec<(String, String)>,
}

impl CardView {
    pub fn new(state: &AppState, card: &OriginCard) -> Self {
        CardView {
            level: card.level.replace('_', " "),
            taken: state.local(card.checkin_at),
            red_flag: card.episode_id.is_some(),
            rules: card
                .rules
                .iter()
                .map(|r| (r.title.clone(), r.explanation.clone()))
                .collect(),
            answers: card
                .answers
                .iter()
                .map(|a| (a.question.clone(), a.answer.clone()))
                .collect(),
        }
    }
}

/// One message as a page shows it.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub id: String,
    pub mine: bool,
    pub author: String,
    pub when: String,
    pub body: String,
    /// (full, thumbnail) links.
    pub photos: Vec<(String, String)>,
}

impl MessageView {
    /// `photo_base` is where this side serves a photo: the photo's id and
    /// `.jpg` or `.thumb.jpg` follow it; `suffix` ends each link.
    pub fn new(state: &AppState, m: &Message, me: Side, photo_base: &str, suffix: &str) -> Self {
        MessageView {
            id: m.id.to_string(),
            mine: m.side == me,
            author: match (m.side, me) {
                (Side::Patient, Side::Patient) => "You".to_owned(),
                _ => m.author_name.clone(),
            },
            when: state.local(m.created_at),
            body: m.body.clone(),
            photos: m
                .photos
                .iter()
                .map(|p| {
                    (
                        format!("{photo_base}{}.jpg{suffix}", p.id),
                        format!("{photo_base}{}.thumb.jpg{suffix}", p.id),
                    )
                })
                .collect(),
        }
    }
}

/// The fields of a message form, as given, with the problem next to each.
#[derive(Debug, Clone, Default)]
pub struct MessageForm {
    pub key: String,
    pub subject: String,
    pub body: String,
    pub shared: bool,
    pub subject_error: String,
    pub body_error: String,
    pub photos_error: String,
    /// A problem that belongs to no field.
    pub error: String,
}

impl MessageForm {
    pub fn fresh() -> Self {
        MessageForm {
            key: RequestKey::fresh().to_string(),
            ..MessageForm::default()
        }
    }

    /// Takes an error that belongs next to a field; gives back any other.
    pub fn take(&mut self, e: WebError) -> Option<WebError> {
        match e {
            WebError::BadInput(m) => {
                let (field, text) = m.split_once(": ").unwrap_or(("", m.as_str()));
                let text = plain_problem(text);
                match field {
                    "subject" => self.subject_error = text,
                    "message" => self.body_error = text,
                    "photo" | "photos" => self.photos_error = text,
                    _ => self.error = text,
                }
                None
            }
            other => Some(other),
        }
    }

    /// A refused text (or too many photos) next to its field.
    pub fn text_problem(&mut self, e: &needlewise_core::conversation::TextProblem) {
        use needlewise_core::conversation::TextProblem;
        let text = plain_problem(&e.to_string());
        match e {
            TextProblem::TooManyPhotos { .. } => self.photos_error = text,
            _ => self.body_error = text,
        }
    }

    fn has_errors(&self) -> bool {
        !(self.subject_error.is_empty()
            && self.body_error.is_empty()
            && self.photos_error.is_empty()
            && self.error.is_empty())
    }
}

/// A problem as a sentence.
pub(crate) fn plain_problem(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            let s = first.to_uppercase().collect::<String>() + chars.as_str();
            if s.ends_with('.') { s } else { s + "." }
        }
        None => String::new(),
    }
}

// ------------------------------------------------------------------ photos

/// Saves a message's photos through the progress photos' pipeline, under
/// the patient's photo directory; on any failure the files written so far
/// are removed.
pub async fn save_message_photos(
    state: &AppState,
    profile: ProfileId,
    message: MessageId,
    files: Vec<Vec<u8>>,
) -> Result<Vec<MessagePhoto>, WebError> {
    let mut saved: Vec<MessagePhoto> = Vec::new();
    for (i, bytes) in files.into_iter().enumerate() {
        let id = MessagePhotoId(uuid::Uuid::now_v7());
        match progress::save_photo_files(state, profile, id.0, bytes).await {
            Ok(stored) => saved.push(MessagePhoto {
                id,
                message_id: message,
                position: i as u32,
                width: stored.width,
                height: stored.height,
                bytes: stored.bytes,
                sha256: stored.sha256,
                stored_name: stored.stored_name,
            }),
            Err(e) => {
                remove_message_photos(state, profile, &saved);
                return Err(e);
            }
        }
    }
    Ok(saved)
}

/// Removes photo files a refused or repeated message did not keep.
pub fn remove_message_photos(state: &AppState, profile: ProfileId, photos: &[MessagePhoto]) {
    let Some(dir) = &state.photo_dir else { return };
    for p in photos {
        let (full, thumb) = progress::photo_paths(dir, profile, PhotoId(p.id.0));
        progress::remove_quietly(&[&full, &thumb]);
    }
}

/// A message photo's file: `<id>.jpg` or `<id>.thumb.jpg`, once `found`
/// said the asker may see it.
pub async fn serve_message_photo(
    state: &AppState,
    profile: ProfileId,
    id: MessagePhotoId,
    thumb: bool,
) -> Result<Response, WebError> {
    let dir = state.photo_dir.as_ref().ok_or(WebError::NotFound)?;
    let (full, small) = progress::photo_paths(dir, profile, PhotoId(id.0));
    let path = if thumb { small } else { full };
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await?
        .map_err(|_| WebError::NotFound)?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    Ok(response)
}

/// `<id>.jpg` or `<id>.thumb.jpg`.
pub fn photo_file_name(file: &str) -> Result<(MessagePhotoId, bool), WebError> {
    let stem = file.strip_suffix(".jpg").ok_or(WebError::NotFound)?;
    let (id, thumb) = match stem.strip_suffix(".thumb") {
        Some(id) => (id, true),
        None => (stem, false),
    };
    Ok((id.parse().map_err(|_| WebError::NotFound)?, thumb))
}

// ------------------------------------------------------------------ pages

#[derive(Debug, Template)]
#[template(path = "messages.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub conversations: Vec<ConversationRow>,
    pub has_clinic: bool,
}

pub async fn list(Me { state, auth }: Me) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let (list, links, unread) = blocking(&state, move |s| {
        Ok((
            s.patient_conversations(profile)?,
            s.patient_clinics(profile)?,
            s.patient_unread(profile)?,
        ))
    })
    .await?;
    let mut chrome = auth.chrome("Messages", "more");
    chrome.unread = unread;
    Ok(page(&ListPage {
        chrome,
        conversations: list
            .iter()
            .map(|s| {
                ConversationRow::new(
                    &state,
                    s,
                    Side::Patient,
                    format!("/messages/{}", s.conversation.id),
                )
            })
            .collect(),
        has_clinic: !links.is_empty(),
    }))
}

#[derive(Debug, Template)]
#[template(path = "message_new.html")]
pub struct NewPage {
    pub chrome: Chrome,
    /// (id, name, chosen)
    pub clinics: Vec<(String, String, bool)>,
    /// The check-in the conversation starts from (empty for none), and
    /// its card.
    pub checkin_id: String,
    pub card: Option<CardView>,
    pub form: MessageForm,
    pub max_photos: usize,
    pub max_chars: usize,
    pub max_subject: usize,
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    clinic: String,
    /// A check-in of the profile's.
    #[serde(default)]
    checkin: String,
    /// `open`: the newest open red flag's check-in.
    #[serde(default)]
    red_flag: String,
}

/// The card a new conversation would carry, for the form to show.
async fn card_of(
    state: &AppState,
    profile: ProfileId,
    checkin: CheckinId,
) -> Result<CardView, WebError> {
    let (checkins, episodes) = blocking(state, move |s| {
        Ok((s.checkins(profile)?, s.episodes(profile)?))
    })
    .await?;
    let record = checkins
        .iter()
        .find(|c| c.id == checkin)
        .ok_or(WebError::NotFound)?;
    let episode = episodes.iter().find(|e| e.checkin_id == checkin);
    let card =
        OriginCard::of(needlewise_core::evidence(), record, episode).map_err(WebError::BadInput)?;
    Ok(CardView::new(state, &card))
}

async fn new_page(
    state: &AppState,
    auth: &Auth,
    clinic: Option<ClinicId>,
    checkin: Option<CheckinId>,
    form: MessageForm,
) -> Result<NewPage, WebError> {
    let profile = auth.profile.id;
    let links = blocking(state, move |s| s.patient_clinics(profile)).await?;
    let card = match checkin {
        Some(id) => Some(card_of(state, profile, id).await?),
        None => None,
    };
    let chosen = clinic.or_else(|| links.first().map(|l| l.clinic.id));
    Ok(NewPage {
        chrome: auth.chrome("Ask my care team", "more"),
        clinics: links
            .iter()
            .map(|l| {
                (
                    l.clinic.id.to_string(),
                    l.clinic.name.clone(),
                    Some(l.clinic.id) == chosen,
                )
            })
            .collect(),
        checkin_id: checkin.map(|c| c.to_string()).unwrap_or_default(),
        card,
        form,
        max_photos: MAX_PHOTOS_PER_MESSAGE,
        max_chars: MAX_MESSAGE_CHARS,
        max_subject: MAX_SUBJECT_CHARS,
    })
}

pub async fn new_form(
    Me { state, auth }: Me,
    Query(q): Query<NewQuery>,
) -> Result<Response, WebError> {
    let clinic = parse_opt::<ClinicId>(&q.clinic)?;
    let mut checkin = parse_opt::<CheckinId>(&q.checkin)?;
    let mut form = MessageForm::fresh();
    if q.red_flag == "open" {
        let profile = auth.profile.id;
        let open = blocking(&state, move |s| s.open_episodes(profile)).await?;
        if let Some(e) = open.iter().max_by_key(|e| e.opened_at) {
            checkin = Some(e.checkin_id);
        }
    }
    if checkin.is_some() {
        form.subject = "My check-in".to_owned();
    }
    Ok(page(&new_page(&state, &auth, clinic, checkin, form).await?))
}

fn parse_opt<T: std::str::FromStr>(raw: &str) -> Result<Option<T>, WebError> {
    match raw.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|_| WebError::NotFound),
    }
}

/// The words of the email to the other side: there is a new message, and
/// where to read it. Never its content.
pub fn mail_for(state: &AppState, to: Side) -> needlewise_store::conversation::MessageMail {
    crate::notify::message_mail(to, state.config.public_url.as_deref())
}

pub async fn start(Me { state, auth }: Me, multipart: Multipart) -> Result<Response, WebError> {
    let (fields, files) =
        progress::read_photo_form(multipart, MAX_PHOTOS_PER_MESSAGE, MAX_TEXT_FIELD).await?;
    auth.check_csrf(forms::field(&fields, "csrf").unwrap_or_default())?;
    let field = |name: &str| forms::field(&fields, name).unwrap_or_default().to_owned();
    let key = RequestKey::parse(&field("key"))
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let clinic: ClinicId = field("clinic").parse().map_err(|_| WebError::NotFound)?;
    let checkin = parse_opt::<CheckinId>(&field("checkin"))?;
    let mut form = MessageForm {
        key: key.to_string(),
        subject: field("subject"),
        body: field("body"),
        shared: field("shared") == "on",
        ..MessageForm::default()
    };
    let origin = match checkin {
        Some(id) => ConversationOrigin::Checkin(id),
        None => ConversationOrigin::Question {
            shared_with_staff: form.shared,
        },
    };
    // The text first: a refused message never costs a photo's decoding.
    if let Err(e) = needlewise_core::conversation::subject(&form.subject) {
        form.subject_error = plain_problem(&e.to_string());
    }
    if let Err(e) = needlewise_core::conversation::message_text(&form.body, files.len()) {
        form.text_problem(&e);
    }
    if form.has_errors() {
        return Ok(form_again(
            &new_page(&state, &auth, Some(clinic), checkin, form).await?,
        ));
    }
    let profile = auth.profile.id;
    let message = needlewise_actions::message_id_for(Some(key));
    let photos = match save_message_photos(&state, profile, message, files).await {
        Ok(p) => p,
        Err(e) => {
            if let Some(e) = form.take(e) {
                return Err(e);
            }
            return Ok(form_again(
                &new_page(&state, &auth, Some(clinic), checkin, form).await?,
            ));
        }
    };
    let mail = mail_for(&state, Side::Clinic);
    let (subject, body, kept) = (form.subject.clone(), form.body.clone(), photos.clone());
    let started = act(&state, move |ctx| {
        needlewise_actions::start_conversation(
            ctx,
            profile,
            clinic,
            &subject,
            &body,
            origin,
            kept,
            Some(key),
            &mail,
        )
    })
    .await;
    match started {
        Ok((id, posted)) => {
            if posted == needlewise_store::conversation::Posted::AlreadyStored {
                // A form sent twice keeps the first sending's photos.
                remove_message_photos(&state, profile, &photos);
            } else {
                crate::notify::kick(&state).await;
            }
            Ok(see_other(&format!("/messages/{id}")))
        }
        Err(e) => {
            remove_message_photos(&state, profile, &photos);
            if let Some(e) = form.take(e) {
                return Err(e);
            }
            Ok(form_again(
                &new_page(&state, &auth, Some(clinic), checkin, form).await?,
            ))
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "message_thread.html")]
pub struct ThreadPage {
    pub chrome: Chrome,
    pub head: Option<super::clinic::ClinicHead>,
    pub subject: String,
    pub with: String,
    pub card: Option<CardView>,
    pub messages: Vec<MessageView>,
    /// Where the reply form posts; empty when no reply is possible.
    pub action: String,
    /// Why no reply is possible, when it is not.
    pub closed: String,
    pub staff_note: String,
    pub back: String,
    /// Appointments from this conversation: (href, label); the clinic
    /// proposes times, the patient books one of those offered.
    pub appointments: (String, String),
    pub form: MessageForm,
    pub max_photos: usize,
    pub max_chars: usize,
    /// The clinic's canned replies (id, title), on the clinic's side only.
    pub canned: Vec<(String, String)>,
    /// The conversation's path (no query) and the clinic's id, for the
    /// canned replies' GET form.
    pub canned_path: String,
    pub clinic_id: String,
    /// The canned replies' page.
    pub canned_link: String,
    /// Where the page's script asks for new messages, and the tag of the
    /// messages shown.
    pub updates: String,
    pub etag: String,
}

/// New messages of a thread as list items, for the page's script.
#[derive(Debug, Template)]
#[template(path = "message_items.html")]
pub struct MessageItems {
    pub messages: Vec<MessageView>,
}

/// What the poller asks: the messages after this one.
#[derive(Debug, Default, Deserialize)]
pub struct UpdatesParams {
    #[serde(default)]
    pub after: Option<String>,
}

/// A conversation's version as an entity tag: its newest message's time.
pub fn thread_etag(last_message_at: jiff::Timestamp) -> String {
    format!("\"m{}\"", last_message_at.as_microsecond())
}

/// Whether the request already holds `etag` (`If-None-Match`).
pub fn holds_etag(headers: &axum::http::HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == etag || t == "*" || t.strip_prefix("W/") == Some(etag))
}

/// 304 Not Modified with its tag.
pub fn not_modified(etag: &str) -> Response {
    let mut r = axum::http::StatusCode::NOT_MODIFIED.into_response();
    set_etag(&mut r, etag);
    r
}

fn set_etag(r: &mut Response, etag: &str) {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
}

/// The messages after `after` (all of them when it is not one of them),
/// as list items with the thread's tag.
pub fn updates_fragment(
    etag: &str,
    messages: &[Message],
    after: Option<&str>,
    view: impl Fn(&Message) -> MessageView,
) -> Response {
    let start = after
        .and_then(|a| messages.iter().position(|m| m.id.to_string() == a))
        .map_or(0, |i| i + 1);
    let items = MessageItems {
        messages: messages[start..].iter().map(view).collect(),
    };
    let mut r = page(&items);
    set_etag(&mut r, etag);
    r
}

/// `GET /messages/{id}/updates?after=<message>`: 304 while nothing has
/// changed since the tag the page holds, else the newer messages (which
/// marks the conversation read, as opening it does).
pub async fn updates(
    Me { state, auth }: Me,
    Path(id): Path<String>,
    Query(params): Query<UpdatesParams>,
    headers: axum::http::HeaderMap,
) -> Result<Response, WebError> {
    let id: ConversationId = id.parse().map_err(|_| WebError::NotFound)?;
    let profile = auth.profile.id;
    let version = blocking(&state, move |s| s.patient_conversation_version(profile, id))
        .await?
        .ok_or(WebError::NotFound)?;
    let etag = thread_etag(version);
    if holds_etag(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let (thread, _) = load_thread(&state, &auth, id).await?;
    let etag = thread_etag(thread.summary.conversation.last_message_at);
    Ok(updates_fragment(
        &etag,
        &thread.messages,
        params.after.as_deref(),
        |m| MessageView::new(&state, m, Side::Patient, "/files/messages/", ""),
    ))
}

fn thread_page(
    state: &AppState,
    auth: &Auth,
    t: &Thread,
    linked: bool,
    form: MessageForm,
) -> ThreadPage {
    let c = &t.summary.conversation;
    ThreadPage {
        chrome: auth.chrome(&c.subject, "more"),
        head: None,
        appointments: (
            format!("/appointments?conversation={}", c.id),
            "Times offered for an appointment".to_owned(),
        ),
        subject: c.subject.clone(),
        with: t.summary.clinic_name.clone(),
        card: c.origin.as_ref().map(|o| CardView::new(state, o)),
        messages: t
            .messages
            .iter()
            .map(|m| MessageView::new(state, m, Side::Patient, "/files/messages/", ""))
            .collect(),
        action: if linked {
            format!("/messages/{}", c.id)
        } else {
            String::new()
        },
        closed: if linked {
            String::new()
        } else {
            format!(
                "You have left {}, so nobody there reads this conversation any more.",
                t.summary.clinic_name
            )
        },
        staff_note: if c.is_clinical() {
            "Only the clinic's clinicians read this conversation: it holds your check-in.".into()
        } else if c.shared_with_staff {
            "The clinic's clinicians and front-desk staff read this conversation.".into()
        } else {
            "Only the clinic's clinicians read this conversation.".into()
        },
        back: "/messages".into(),
        form,
        max_photos: MAX_PHOTOS_PER_MESSAGE,
        max_chars: MAX_MESSAGE_CHARS,
        canned: Vec::new(),
        canned_path: String::new(),
        clinic_id: String::new(),
        canned_link: String::new(),
        updates: format!("/messages/{}/updates", c.id),
        etag: thread_etag(c.last_message_at),
    }
}

async fn load_thread(
    state: &AppState,
    auth: &Auth,
    id: ConversationId,
) -> Result<(Thread, bool), WebError> {
    let profile = auth.profile.id;
    let now = state.now();
    let (thread, links) = blocking(state, move |s| {
        Ok((
            s.patient_conversation(profile, id, now)?,
            s.patient_clinics(profile)?,
        ))
    })
    .await?;
    let thread = thread.ok_or(WebError::NotFound)?;
    let linked = links
        .iter()
        .any(|l| l.clinic.id == thread.summary.conversation.clinic_id);
    Ok((thread, linked))
}

pub async fn show(Me { state, auth }: Me, Path(id): Path<String>) -> Result<Response, WebError> {
    let id: ConversationId = id.parse().map_err(|_| WebError::NotFound)?;
    let (thread, linked) = load_thread(&state, &auth, id).await?;
    Ok(page(&thread_page(
        &state,
        &auth,
        &thread,
        linked,
        MessageForm::fresh(),
    )))
}

pub async fn reply(
    Me { state, auth }: Me,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let id: ConversationId = id.parse().map_err(|_| WebError::NotFound)?;
    let (fields, files) =
        progress::read_photo_form(multipart, MAX_PHOTOS_PER_MESSAGE, MAX_TEXT_FIELD).await?;
    auth.check_csrf(forms::field(&fields, "csrf").unwrap_or_default())?;
    let field = |name: &str| forms::field(&fields, name).unwrap_or_default().to_owned();
    let key = RequestKey::parse(&field("key"))
        .ok_or_else(|| WebError::BadInput("key: send the form again".into()))?;
    let mut form = MessageForm {
        key: key.to_string(),
        body: field("body"),
        ..MessageForm::default()
    };
    let again = |form: MessageForm| {
        let state = state.clone();
        let auth = auth.clone();
        async move {
            let (thread, linked) = load_thread(&state, &auth, id).await?;
            Ok::<_, WebError>(form_again(&thread_page(
                &state, &auth, &thread, linked, form,
            )))
        }
    };
    if let Err(e) = needlewise_core::conversation::message_text(&form.body, files.len()) {
        form.text_problem(&e);
        return again(form).await;
    }
    let profile = auth.profile.id;
    let message = needlewise_actions::message_id_for(Some(key));
    let photos = match save_message_photos(&state, profile, message, files).await {
        Ok(p) => p,
        Err(e) => {
            if let Some(e) = form.take(e) {
                return Err(e);
            }
            return again(form).await;
        }
    };
    let mail = mail_for(&state, Side::Clinic);
    let (body, kept) = (form.body.clone(), photos.clone());
    let posted = act(&state, move |ctx| {
        needlewise_actions::send_patient_message(ctx, profile, id, &body, kept, Some(key), &mail)
    })
    .await;
    match posted {
        Ok(needlewise_store::conversation::Posted::Stored) => {
            crate::notify::kick(&state).await;
            Ok(see_other(&format!("/messages/{id}#m-{message}")))
        }
        Ok(needlewise_store::conversation::Posted::AlreadyStored) => {
            remove_message_photos(&state, profile, &photos);
            Ok(see_other(&format!("/messages/{id}#m-{message}")))
        }
        Err(e) => {
            remove_message_photos(&state, profile, &photos);
            if let Some(e) = form.take(e) {
                return Err(e);
            }
            again(form).await
        }
    }
}

/// A photo of one of the profile's messages; 404 for anything else.
pub async fn photo_file(
    Me { state, auth }: Me,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let (id, thumb) = photo_file_name(&file)?;
    let profile = auth.profile.id;
    blocking(&state, move |s| s.patient_message_photo(profile, id))
        .await?
        .ok_or(WebError::NotFound)?;
    serve_message_photo(&state, profile, id, thumb).await
}
