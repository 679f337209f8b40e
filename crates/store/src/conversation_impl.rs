//! [`ConversationStore`], written once over [`Backend`]. Every method is
//! one transaction: the patient's link (or the asker's role and the
//! patient's link) is loaded, the core decides
//! ([`needlewise_core::clinic::patient_may_write`],
//! [`needlewise_core::clinic::decide`] on [`Act::Converse`]), the rows are
//! read or written, the audit line appended and the emails queued.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use needlewise_core::clinic::{
    Act, Conversing, Grant, Role, may_edit_canned_replies, patient_may_write, permits,
};
use needlewise_core::conversation::{
    CannedReply, Conversation, MAX_CANNED_REPLIES, MAX_PHOTOS_PER_MESSAGE, Message, MessagePhoto,
    Side, canned_reply, inbox_order,
};
use needlewise_core::ids::{
    AccountId, CannedReplyId, ClinicId, ConversationId, EmailId, MessageId, MessagePhotoId,
    ProfileId,
};
use uuid::Uuid;

use crate::clinic::{ClinicAccess, Email, Notification};
use crate::clinic_impl::{
    CLINIC_COLUMNS, ListView, PATIENT, audit, audit_many, check_recipient, clinic_from, held,
    insert_email, insert_notification, member_of, sent_steps, unlogged_views,
};
use crate::codec::{self, to_i64, to_u32, to_u64};
use crate::conversation::{
    ConversationClaim, ConversationStore, ConversationSummary, MAX_LISTED, MessageMail,
    NewConversation, NewMessage, Posted, Thread, UnansweredRedFlag,
};
use crate::sql::{Backend, Cols, Isolation, Tx, Value, aliased, args, json, qualified};
use crate::{Result, StoreError};

const CONVERSATION_COLUMNS: &str = "clinic_id, profile_id, id, subject, origin_card, \
     shared_with_staff, created_at, last_message_at, last_side, last_patient_at, \
     last_clinic_at, patient_read_at, clinic_read_at";
const MESSAGE_COLUMNS: &str = "id, conversation_id, author, side, author_name, body, created_at";
const PHOTO_COLUMNS: &str = "id, message_id, position, width, height, bytes, sha256, stored_name";

fn conversation_from(r: Cols<'_>) -> Result<Conversation> {
    Ok(Conversation {
        id: ConversationId(r.uuid("id")?),
        clinic_id: ClinicId(r.uuid("clinic_id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        subject: r.text("subject")?,
        origin: r.opt_decode("origin_card")?,
        shared_with_staff: r.bool("shared_with_staff")?,
        created_at: r.ts("created_at")?,
        last_message_at: r.ts("last_message_at")?,
        last_side: r.parse("last_side", "side")?,
        last_patient_at: r.opt_ts("last_patient_at")?,
        last_clinic_at: r.opt_ts("last_clinic_at")?,
        patient_read_at: r.opt_ts("patient_read_at")?,
        clinic_read_at: r.opt_ts("clinic_read_at")?,
    })
}

fn summary_from(r: Cols<'_>) -> Result<ConversationSummary> {
    Ok(ConversationSummary {
        conversation: conversation_from(r)?,
        clinic_name: r.text("clinic_name")?,
        patient_name: r.text("patient_name")?,
    })
}

fn message_from(r: Cols<'_>) -> Result<Message> {
    Ok(Message {
        id: MessageId(r.uuid("id")?),
        conversation_id: ConversationId(r.uuid("conversation_id")?),
        author: AccountId(r.uuid("author")?),
        side: r.parse("side", "side")?,
        author_name: r.text("author_name")?,
        body: r.text("body")?,
        created_at: r.ts("created_at")?,
        photos: Vec::new(),
    })
}

fn photo_from(r: Cols<'_>) -> Result<MessagePhoto> {
    Ok(MessagePhoto {
        id: MessagePhotoId(r.uuid("id")?),
        message_id: MessageId(r.uuid("message_id")?),
        position: to_u32(r.int("position")?, "photo position")?,
        width: to_u32(r.int("width")?, "photo width")?,
        height: to_u32(r.int("height")?, "photo height")?,
        bytes: to_u64(r.int("bytes")?, "photo size")?,
        sha256: r.text("sha256")?,
        stored_name: r.text("stored_name")?,
    })
}

/// The SELECT of summaries: a conversation with its clinic's and
/// patient's names.
/// A conversation started from a red flag that awaits the clinic, in SQL
/// (the core's `from_red_flag() && awaits_clinic()`).
const URGENT: &str =
    "(CASE WHEN c.origin_episode_id IS NOT NULL AND c.last_side = 'patient' THEN 1 ELSE 0 END)";
/// The core's `unread_by(Side::Clinic)`, in SQL.
const UNREAD_BY_CLINIC: &str = "(CASE WHEN c.last_patient_at IS NOT NULL
     AND (c.clinic_read_at IS NULL OR c.last_patient_at > c.clinic_read_at) THEN 1 ELSE 0 END)";

fn summary_select() -> String {
    format!(
        "SELECT {}, cl.name AS clinic_name, p.name AS patient_name
         FROM conversations c
         JOIN clinics cl ON cl.id = c.clinic_id
         JOIN profiles p ON p.id = c.profile_id",
        qualified(CONVERSATION_COLUMNS, "c")
    )
}

fn kind_of(c: &Conversation) -> Conversing {
    Conversing {
        clinical: c.is_clinical(),
        shared_with_staff: c.shared_with_staff,
    }
}

/// One conversation by its keys, with names.
fn summary(
    tx: &mut dyn Tx,
    clinic: Option<ClinicId>,
    profile: ProfileId,
    id: ConversationId,
) -> Result<Option<ConversationSummary>> {
    match clinic {
        Some(clinic) => {
            let sql = format!(
                "{} WHERE c.profile_id = ?1 AND c.id = ?2 AND c.clinic_id = ?3",
                summary_select()
            );
            tx.first(&sql, args![profile, id, clinic], summary_from)
        }
        None => {
            let sql = format!("{} WHERE c.profile_id = ?1 AND c.id = ?2", summary_select());
            tx.first(&sql, args![profile, id], summary_from)
        }
    }
}

/// Every message of a conversation, oldest first, with its photos.
fn messages_of(tx: &mut dyn Tx, c: &Conversation) -> Result<Vec<Message>> {
    let keys = args![c.clinic_id, c.profile_id, c.id];
    let mut messages = tx.all(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE clinic_id = ?1 AND profile_id = ?2 AND conversation_id = ?3
             ORDER BY created_at, id"
        ),
        keys,
        message_from,
    )?;
    let photos = tx.all(
        &format!(
            "SELECT {PHOTO_COLUMNS} FROM message_photos
             WHERE clinic_id = ?1 AND profile_id = ?2 AND conversation_id = ?3
             ORDER BY message_id, position"
        ),
        keys,
        photo_from,
    )?;
    let mut by_message: HashMap<MessageId, Vec<MessagePhoto>> = HashMap::new();
    for p in photos {
        by_message.entry(p.message_id).or_default().push(p);
    }
    for m in &mut messages {
        m.photos = by_message.remove(&m.id).unwrap_or_default();
    }
    Ok(messages)
}

pub(crate) fn check_message(m: &NewMessage) -> Result<()> {
    if m.photos.len() > MAX_PHOTOS_PER_MESSAGE {
        return Err(StoreError::invalid(format!(
            "a message carries at most {MAX_PHOTOS_PER_MESSAGE} photos"
        )));
    }
    if m.body.trim().is_empty() && m.photos.is_empty() {
        return Err(StoreError::invalid("a message needs text or a photo"));
    }
    for (i, p) in m.photos.iter().enumerate() {
        if p.message_id != m.id {
            return Err(StoreError::invalid(format!(
                "photo {} belongs to message {}, not {}",
                p.id, p.message_id, m.id
            )));
        }
        if p.position as usize != i {
            return Err(StoreError::invalid("photos are numbered from 0 in order"));
        }
        if !codec::is_sha256_hex(&p.sha256) || p.width == 0 || p.height == 0 || p.bytes == 0 {
            return Err(StoreError::invalid(format!(
                "photo {} is not a stored photo",
                p.id
            )));
        }
    }
    Ok(())
}

/// Whether this message is stored already (the same request again).
pub(crate) fn message_exists(tx: &mut dyn Tx, c: &Conversation, id: MessageId) -> Result<bool> {
    tx.exists(
        "SELECT 1 FROM messages WHERE clinic_id = ?1 AND profile_id = ?2 AND conversation_id = ?3 AND id = ?4",
        args![c.clinic_id, c.profile_id, c.id, id],
    )
}

/// Stores a message and its photos and moves the conversation's markers:
/// its last message, the author's side's last message, and the author's
/// side has read it.
pub(crate) fn insert_message(
    tx: &mut dyn Tx,
    c: &Conversation,
    side: Side,
    author: AccountId,
    author_name: &str,
    m: &NewMessage,
) -> Result<()> {
    tx.insert(
        "INSERT INTO messages (clinic_id, profile_id, conversation_id, id, author, side, author_name, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        args![
            c.clinic_id,
            c.profile_id,
            c.id,
            m.id,
            author,
            side.id(),
            author_name,
            &m.body,
            m.at
        ],
        || format!("message {} already exists", m.id),
        || format!("conversation {}", c.id),
    )?;
    for p in &m.photos {
        tx.insert(
            "INSERT INTO message_photos (clinic_id, profile_id, conversation_id, message_id, id, position, width, height, bytes, sha256, stored_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            args![
                c.clinic_id,
                c.profile_id,
                c.id,
                m.id,
                p.id,
                p.position,
                p.width,
                p.height,
                to_i64(p.bytes, "photo size")?,
                &p.sha256,
                &p.stored_name
            ],
            || format!("photo {} already exists", p.id),
            || format!("message {}", m.id),
        )?;
    }
    let sql = match side {
        Side::Patient => {
            "UPDATE conversations SET last_message_at = ?4, last_side = 'patient',
                 last_patient_at = ?4, patient_read_at = ?4
             WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3"
        }
        Side::Clinic => {
            "UPDATE conversations SET last_message_at = ?4, last_side = 'clinic',
                 last_clinic_at = ?4, clinic_read_at = ?4
             WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3"
        }
    };
    tx.execute(sql, args![c.clinic_id, c.profile_id, c.id, m.at])?;
    Ok(())
}

/// The emails to queue: one per address, the same words for each.
pub(crate) fn emails(
    to: impl IntoIterator<Item = String>,
    mail: &MessageMail,
    at: Timestamp,
) -> Vec<Email> {
    let unique: BTreeSet<String> = to.into_iter().filter(|e| !e.trim().is_empty()).collect();
    unique
        .into_iter()
        .map(|to| Email {
            id: EmailId(Uuid::now_v7()),
            to,
            subject: mail.subject.clone(),
            body: mail.body.clone(),
            calendar: None,
            created_at: at,
            sent_at: None,
            attempts: 0,
            last_error: String::new(),
        })
        .collect()
}

/// The addresses of the clinic's members who may read `c` (the core's
/// rule, member by member).
fn clinic_recipients(tx: &mut dyn Tx, c: &Conversation) -> Result<Vec<String>> {
    let rows = tx.query(
        "SELECT m.role AS role, a.email AS email FROM clinic_members m
         JOIN accounts a ON a.id = m.account_id
         WHERE m.clinic_id = ?1",
        args![c.clinic_id],
    )?;
    let mut to = Vec::new();
    for row in &rows {
        let r = row.cols();
        let role: Role = r.parse("role", "role")?;
        let grant = Grant {
            role: Some(role),
            linked: true,
            scopes: BTreeSet::new(),
        };
        if permits(&grant, Act::Converse(kind_of(c)))
            && let Some(email) = r.opt_text("email")?
        {
            to.push(email);
        }
    }
    Ok(to)
}

/// The patient's account and its address, and the profile's name.
pub(crate) fn patient_of(
    tx: &mut dyn Tx,
    profile: ProfileId,
) -> Result<(AccountId, Option<String>, String)> {
    tx.first(
        "SELECT p.account_id AS account_id, p.name AS name, a.email AS email
         FROM profiles p JOIN accounts a ON a.id = p.account_id WHERE p.id = ?1",
        args![profile],
        |r| {
            Ok((
                AccountId(r.uuid("account_id")?),
                r.opt_text("email")?,
                r.text("name")?,
            ))
        },
    )?
    .ok_or_else(|| StoreError::not_found(format!("profile {profile}")))
}

pub(crate) fn linked(tx: &mut dyn Tx, clinic: ClinicId, profile: ProfileId) -> Result<bool> {
    tx.exists(
        "SELECT 1 FROM clinic_patients WHERE clinic_id = ?1 AND profile_id = ?2",
        args![clinic, profile],
    )
}

/// The patient may write to `clinic`: linked, else `NotFound`.
fn patient_writes(tx: &mut dyn Tx, clinic: ClinicId, profile: ProfileId) -> Result<()> {
    patient_may_write(linked(tx, clinic, profile)?)
        .map_err(|_| StoreError::not_found(format!("clinic {clinic}")))
}

/// A conversation the clinic asker may read or answer, with the asker's
/// display name: `NotFound` or `Forbidden` as the core decides.
pub(crate) fn clinic_side(
    tx: &mut dyn Tx,
    by: &ClinicAccess,
    profile: ProfileId,
    id: ConversationId,
) -> Result<(ConversationSummary, String)> {
    let held = held(tx, by, profile)?;
    let not_found = || StoreError::not_found(format!("conversation {id}"));
    if held.grant.role.is_none() || !held.grant.linked {
        return Err(not_found());
    }
    let found = summary(tx, Some(by.clinic), profile, id)?.ok_or_else(not_found)?;
    held.check(Act::Converse(kind_of(&found.conversation)), || {
        format!("conversation {id}")
    })?;
    Ok((found, held.name))
}

/// Marks the conversation read by `side` at `at`, only when it holds a
/// message from the other side that `side` has not opened: a view with
/// nothing new writes nothing, so viewers of one conversation never wait on
/// its row (PostgreSQL) and the marker stays the moment the latest message
/// was first seen.
fn mark_read(tx: &mut dyn Tx, c: &Conversation, side: Side, at: Timestamp) -> Result<()> {
    if !c.unread_by(side) {
        return Ok(());
    }
    let sql = match side {
        Side::Patient => {
            "UPDATE conversations SET patient_read_at = ?4
             WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3
               AND (patient_read_at IS NULL OR patient_read_at < ?4)"
        }
        Side::Clinic => {
            "UPDATE conversations SET clinic_read_at = ?4
             WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3
               AND (clinic_read_at IS NULL OR clinic_read_at < ?4)"
        }
    };
    tx.execute(sql, args![c.clinic_id, c.profile_id, c.id, at])?;
    Ok(())
}

/// The staff's narrowing of the clinic's lists, in SQL (the core's rule
/// is applied again to every row read).
fn staff_filter(role: Role) -> &'static str {
    if role.reads_clinical_data() {
        ""
    } else {
        " AND c.origin_card IS NULL AND c.shared_with_staff"
    }
}

impl<B: Backend> ConversationStore for B {
    fn start_conversation(
        &self,
        profile: ProfileId,
        new: &NewConversation,
        first: &NewMessage,
        mail: &MessageMail,
    ) -> Result<Posted> {
        needlewise_core::conversation::subject(&new.subject)
            .map_err(|e| StoreError::invalid(format!("subject: {e}")))?;
        if new.origin.is_some() && new.shared_with_staff {
            return Err(StoreError::invalid(
                "a conversation with a check-in card is for clinicians only",
            ));
        }
        check_message(first)?;
        let card = new.origin.as_ref().map(json).transpose()?;
        self.write(|tx| {
            if tx.exists(
                "SELECT 1 FROM conversations WHERE profile_id = ?1 AND id = ?2",
                args![profile, new.id],
            )? {
                return Ok(Posted::AlreadyStored);
            }
            let (account, _, name) = patient_of(tx, profile)?;
            patient_writes(tx, new.clinic_id, profile)?;
            if let Some(o) = &new.origin {
                let own = tx.exists(
                    "SELECT 1 FROM checkins WHERE profile_id = ?1 AND id = ?2",
                    args![profile, o.checkin_id],
                )?;
                let episode_ok = match o.episode_id {
                    None => true,
                    Some(e) => tx.exists(
                        "SELECT 1 FROM episodes WHERE profile_id = ?1 AND id = ?2 AND checkin_id = ?3",
                        args![profile, e, o.checkin_id],
                    )?,
                };
                if !own || !episode_ok {
                    return Err(StoreError::invalid(
                        "the card names a check-in or red flag that is not the profile's",
                    ));
                }
            }
            tx.insert(
                "INSERT INTO conversations (clinic_id, profile_id, id, subject, origin_checkin_id,
                     origin_episode_id, origin_card, shared_with_staff, started_by, created_at,
                     last_message_at, last_side)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 'patient')",
                &[
                    new.clinic_id.into(),
                    profile.into(),
                    new.id.into(),
                    new.subject.trim().into(),
                    new.origin.as_ref().map(|o| o.checkin_id).into(),
                    new.origin.as_ref().and_then(|o| o.episode_id).into(),
                    card.clone().unwrap_or(Value::Null),
                    new.shared_with_staff.into(),
                    account.into(),
                    first.at.into(),
                ],
                || format!("conversation {} already exists", new.id),
                || format!("clinic {}", new.clinic_id),
            )?;
            let c = Conversation {
                id: new.id,
                clinic_id: new.clinic_id,
                profile_id: profile,
                subject: new.subject.trim().to_owned(),
                origin: new.origin.clone(),
                shared_with_staff: new.shared_with_staff,
                created_at: first.at,
                last_message_at: first.at,
                last_side: Side::Patient,
                last_patient_at: None,
                last_clinic_at: None,
                patient_read_at: None,
                clinic_read_at: None,
            };
            insert_message(tx, &c, Side::Patient, account, &name, first)?;
            audit(
                tx,
                profile,
                c.clinic_id,
                account,
                PATIENT,
                "conversation_started",
                &c.id.to_string(),
                first.at,
            )?;
            for e in emails(clinic_recipients(tx, &c)?, mail, first.at) {
                insert_email(tx, &e)?;
            }
            Ok(Posted::Stored)
        })
    }

    fn post_patient_message(
        &self,
        profile: ProfileId,
        conversation: ConversationId,
        message: &NewMessage,
        mail: &MessageMail,
    ) -> Result<Posted> {
        check_message(message)?;
        self.write(|tx| {
            let c = summary(tx, None, profile, conversation)?
                .ok_or_else(|| StoreError::not_found(format!("conversation {conversation}")))?
                .conversation;
            if message_exists(tx, &c, message.id)? {
                return Ok(Posted::AlreadyStored);
            }
            patient_writes(tx, c.clinic_id, profile)?;
            let (account, _, name) = patient_of(tx, profile)?;
            insert_message(tx, &c, Side::Patient, account, &name, message)?;
            audit(
                tx,
                profile,
                c.clinic_id,
                account,
                PATIENT,
                "message_sent",
                &c.id.to_string(),
                message.at,
            )?;
            for e in emails(clinic_recipients(tx, &c)?, mail, message.at) {
                insert_email(tx, &e)?;
            }
            Ok(Posted::Stored)
        })
    }

    fn patient_conversations(&self, profile: ProfileId) -> Result<Vec<ConversationSummary>> {
        let sql = format!(
            "{} WHERE c.profile_id = ?1 ORDER BY c.last_message_at DESC, c.id DESC LIMIT {MAX_LISTED}",
            summary_select()
        );
        self.read_one(|tx| tx.all(&sql, args![profile], summary_from))
    }

    fn patient_conversation(
        &self,
        profile: ProfileId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<Option<Thread>> {
        self.write_at(Isolation::Snapshot, |tx| {
            let Some(mut found) = summary(tx, None, profile, conversation)? else {
                return Ok(None);
            };
            mark_read(tx, &found.conversation, Side::Patient, now)?;
            let messages = messages_of(tx, &found.conversation)?;
            let c = &mut found.conversation;
            if c.unread_by(Side::Patient) && c.patient_read_at.is_none_or(|r| r < now) {
                c.patient_read_at = Some(now);
            }
            Ok(Some(Thread {
                summary: found,
                messages,
            }))
        })
    }

    fn patient_threads(&self, profile: ProfileId) -> Result<Vec<Thread>> {
        let sql = format!(
            "{} WHERE c.profile_id = ?1 ORDER BY c.created_at, c.id",
            summary_select()
        );
        self.read(|tx| {
            let list = tx.all(&sql, args![profile], summary_from)?;
            list.into_iter()
                .map(|summary| {
                    let messages = messages_of(tx, &summary.conversation)?;
                    Ok(Thread { summary, messages })
                })
                .collect()
        })
    }

    fn patient_conversation_version(
        &self,
        profile: ProfileId,
        conversation: ConversationId,
    ) -> Result<Option<Timestamp>> {
        self.read_one(|tx| {
            tx.first(
                "SELECT last_message_at FROM conversations WHERE profile_id = ?1 AND id = ?2",
                args![profile, conversation],
                |r| r.ts("last_message_at"),
            )
        })
    }

    fn patient_unread(&self, profile: ProfileId) -> Result<u32> {
        self.read_one(|tx| {
            let n = tx
                .first(
                    "SELECT COUNT(*) AS n FROM conversations
                     WHERE profile_id = ?1 AND last_clinic_at IS NOT NULL
                       AND (patient_read_at IS NULL OR last_clinic_at > patient_read_at)",
                    args![profile],
                    |r| r.int("n"),
                )?
                .unwrap_or(0);
            to_u32(n, "unread conversations")
        })
    }

    fn patient_message_photo(
        &self,
        profile: ProfileId,
        photo: MessagePhotoId,
    ) -> Result<Option<MessagePhoto>> {
        let sql =
            format!("SELECT {PHOTO_COLUMNS} FROM message_photos WHERE profile_id = ?1 AND id = ?2");
        self.read_one(|tx| tx.first(&sql, args![profile, photo], photo_from))
    }

    fn clinic_inbox(
        &self,
        by: &ClinicAccess,
        profile: Option<ProfileId>,
        now: Timestamp,
    ) -> Result<Vec<ConversationSummary>> {
        self.clinic_inbox_page(by, profile, 0, MAX_LISTED, now)
    }

    fn clinic_inbox_page(
        &self,
        by: &ClinicAccess,
        profile: Option<ProfileId>,
        offset: u32,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<ConversationSummary>> {
        let limit = limit.min(MAX_LISTED);
        // Read in a read-only transaction (several views run at once); the
        // audit lines are written before anything is returned, and only when
        // this member's last inbox view of a patient is older than the
        // window, so most views write nothing.
        let (ordered, profiles, name, unlogged) = self.read(|tx| {
            let (role, name) = member_of(tx, by)?;
            let mut sql = format!(
                "{} JOIN clinic_patients cp ON cp.clinic_id = c.clinic_id AND cp.profile_id = c.profile_id
                 WHERE c.clinic_id = ?1{}",
                summary_select(),
                staff_filter(role)
            );
            let mut args: Vec<Value> = vec![by.clinic.into()];
            if let Some(p) = profile {
                sql.push_str(" AND c.profile_id = ?2");
                args.push(p.into());
            }
            // The core's inbox order ([`inbox_order`], applied again below)
            // in SQL, so that the limit keeps the conversations that come
            // first: red-flag ones awaiting the clinic, oldest first; then
            // the unread; then newest activity.
            sql.push_str(&format!(
                " ORDER BY {URGENT} DESC,
                   CASE WHEN {URGENT} = 1 THEN c.last_message_at END,
                   CASE WHEN {URGENT} = 1 THEN c.id END,
                   {UNREAD_BY_CLINIC} DESC, c.last_message_at DESC, c.id DESC
                 LIMIT {limit} OFFSET {offset}"
            ));
            let grant = Grant {
                role: Some(role),
                linked: true,
                scopes: BTreeSet::new(),
            };
            let mut list: Vec<ConversationSummary> = tx
                .all(&sql, &args, summary_from)?
                .into_iter()
                .filter(|s| permits(&grant, Act::Converse(kind_of(&s.conversation))))
                .collect();
            let mut convs: Vec<Conversation> =
                list.iter().map(|s| s.conversation.clone()).collect();
            inbox_order(&mut convs);
            let mut by_id: HashMap<ConversationId, ConversationSummary> =
                list.drain(..).map(|s| (s.conversation.id, s)).collect();
            let ordered: Vec<ConversationSummary> = convs
                .iter()
                .filter_map(|c| by_id.remove(&c.id))
                .collect();
            let profiles: Vec<ProfileId> = ordered
                .iter()
                .map(|s| s.conversation.profile_id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let unlogged = unlogged_views(tx, B::DIALECT, &profiles, by, ListView::Inbox, "", now)?;
            Ok((ordered, profiles, name, unlogged))
        })?;
        if unlogged {
            self.write_at(Isolation::Snapshot, |tx| {
                audit_many(
                    tx,
                    B::DIALECT,
                    &profiles,
                    by,
                    &name,
                    "viewed_inbox",
                    "",
                    now,
                )
            })?;
        }
        Ok(ordered)
    }

    fn clinic_conversation(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<Thread> {
        self.write_at(Isolation::Snapshot, |tx| {
            let (mut found, name) = clinic_side(tx, by, profile, conversation)?;
            mark_read(tx, &found.conversation, Side::Clinic, now)?;
            let messages = messages_of(tx, &found.conversation)?;
            audit(
                tx,
                profile,
                by.clinic,
                by.account,
                &name,
                "viewed_conversation",
                &conversation.to_string(),
                now,
            )?;
            let c = &mut found.conversation;
            if c.unread_by(Side::Clinic) && c.clinic_read_at.is_none_or(|r| r < now) {
                c.clinic_read_at = Some(now);
            }
            Ok(Thread {
                summary: found,
                messages,
            })
        })
    }

    fn clinic_conversation_version(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        conversation: ConversationId,
    ) -> Result<Timestamp> {
        self.read(|tx| {
            let (found, _) = clinic_side(tx, by, profile, conversation)?;
            Ok(found.conversation.last_message_at)
        })
    }

    fn post_clinic_message(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        conversation: ConversationId,
        message: &NewMessage,
        mail: &MessageMail,
    ) -> Result<Posted> {
        check_message(message)?;
        self.write(|tx| {
            let (found, name) = clinic_side(tx, by, profile, conversation)?;
            let c = found.conversation;
            if message_exists(tx, &c, message.id)? {
                return Ok(Posted::AlreadyStored);
            }
            insert_message(tx, &c, Side::Clinic, by.account, &name, message)?;
            audit(
                tx,
                profile,
                by.clinic,
                by.account,
                &name,
                "replied",
                &conversation.to_string(),
                message.at,
            )?;
            // The first answer to a red flag's conversation: who advised
            // what (this message), and when, in the patient's audit log.
            if let (Some(episode), None) = (
                c.origin.as_ref().and_then(|o| o.episode_id),
                c.last_clinic_at,
            ) {
                audit(
                    tx,
                    profile,
                    by.clinic,
                    by.account,
                    &name,
                    "advised_on_red_flag",
                    &format!(
                        "red flag {episode}, conversation {conversation}, message {}",
                        message.id
                    ),
                    message.at,
                )?;
            }
            let (_, email, _) = patient_of(tx, profile)?;
            for e in emails(email, mail, message.at) {
                insert_email(tx, &e)?;
            }
            Ok(Posted::Stored)
        })
    }

    fn clinic_unread(&self, by: &ClinicAccess) -> Result<u32> {
        self.read(|tx| {
            let (role, _) = member_of(tx, by)?;
            let sql = format!(
                "SELECT COUNT(*) AS n FROM conversations c
                 JOIN clinic_patients cp ON cp.clinic_id = c.clinic_id AND cp.profile_id = c.profile_id
                 WHERE c.clinic_id = ?1{}
                   AND c.last_patient_at IS NOT NULL
                   AND (c.clinic_read_at IS NULL OR c.last_patient_at > c.clinic_read_at)",
                staff_filter(role)
            );
            let n = tx
                .first(&sql, args![by.clinic], |r| r.int("n"))?
                .unwrap_or(0);
            to_u32(n, "unread conversations")
        })
    }

    fn clinic_message_photo(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        photo: MessagePhotoId,
        now: Timestamp,
    ) -> Result<MessagePhoto> {
        let sql = format!(
            "SELECT {}, mp.conversation_id AS conversation_id FROM message_photos mp
             WHERE mp.clinic_id = ?1 AND mp.profile_id = ?2 AND mp.id = ?3",
            qualified(PHOTO_COLUMNS, "mp")
        );
        self.write_at(Isolation::Snapshot, |tx| {
            let found = tx.first(&sql, args![by.clinic, profile, photo], |r| {
                Ok((photo_from(r)?, ConversationId(r.uuid("conversation_id")?)))
            })?;
            let Some((p, conversation)) = found else {
                // Outsiders and members alike learn nothing.
                return Err(StoreError::not_found(format!("photo {photo}")));
            };
            let (_, name) = clinic_side(tx, by, profile, conversation)?;
            audit(
                tx,
                profile,
                by.clinic,
                by.account,
                &name,
                "viewed_message_photo",
                &photo.to_string(),
                now,
            )?;
            Ok(p)
        })
    }

    fn canned_replies(&self, by: &ClinicAccess) -> Result<Vec<CannedReply>> {
        self.read(|tx| {
            member_of(tx, by)?;
            tx.all(
                "SELECT clinic_id, id, title, body, updated_by, updated_at FROM canned_replies
                 WHERE clinic_id = ?1 ORDER BY title, id",
                args![by.clinic],
                |r| {
                    Ok(CannedReply {
                        id: CannedReplyId(r.uuid("id")?),
                        clinic_id: ClinicId(r.uuid("clinic_id")?),
                        title: r.text("title")?,
                        body: r.text("body")?,
                        updated_by: AccountId(r.uuid("updated_by")?),
                        updated_at: r.ts("updated_at")?,
                    })
                },
            )
        })
    }

    fn save_canned_reply(
        &self,
        by: &ClinicAccess,
        id: CannedReplyId,
        title: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        let (title, body) = canned_reply(title, body).map_err(|problems| {
            StoreError::invalid(
                problems
                    .iter()
                    .map(|(f, p)| format!("{f}: {p}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        self.write(|tx| {
            let (role, _) = member_of(tx, by)?;
            may_edit_canned_replies(role).map_err(StoreError::forbidden)?;
            let changed = tx.execute(
                "UPDATE canned_replies SET title = ?3, body = ?4, updated_by = ?5, updated_at = ?6
                 WHERE clinic_id = ?1 AND id = ?2",
                args![by.clinic, id, &title, &body, by.account, at],
            )?;
            if changed == 1 {
                return Ok(());
            }
            let n = tx
                .first(
                    "SELECT COUNT(*) AS n FROM canned_replies WHERE clinic_id = ?1",
                    args![by.clinic],
                    |r| r.int("n"),
                )?
                .unwrap_or(0);
            if n >= to_i64(MAX_CANNED_REPLIES as u64, "canned replies")? {
                return Err(StoreError::invalid(format!(
                    "a clinic keeps at most {MAX_CANNED_REPLIES} canned replies"
                )));
            }
            tx.insert(
                "INSERT INTO canned_replies (clinic_id, id, title, body, updated_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![by.clinic, id, &title, &body, by.account, at],
                || format!("canned reply {id} already exists"),
                || format!("clinic {}", by.clinic),
            )?;
            Ok(())
        })
    }

    fn delete_canned_reply(&self, by: &ClinicAccess, id: CannedReplyId) -> Result<bool> {
        self.write(|tx| {
            let (role, _) = member_of(tx, by)?;
            may_edit_canned_replies(role).map_err(StoreError::forbidden)?;
            Ok(tx.execute(
                "DELETE FROM canned_replies WHERE clinic_id = ?1 AND id = ?2",
                args![by.clinic, id],
            )? == 1)
        })
    }

    fn unanswered_red_flags(&self) -> Result<Vec<UnansweredRedFlag>> {
        let sql = format!(
            "SELECT {clinic}, c.profile_id AS profile_id, c.id AS id,
                    c.origin_episode_id AS episode_id, c.created_at AS created_at
             FROM conversations c
             JOIN clinic_patients cp ON cp.clinic_id = c.clinic_id AND cp.profile_id = c.profile_id
             JOIN clinics cl ON cl.id = c.clinic_id
             WHERE c.origin_episode_id IS NOT NULL AND c.last_clinic_at IS NULL
             ORDER BY c.created_at, c.id",
            clinic = aliased(CLINIC_COLUMNS, "cl", "cl_"),
        );
        self.read(|tx| {
            let rows = tx.query(&sql, &[])?;
            let mut found = rows
                .iter()
                .map(|row| {
                    let r = row.cols();
                    Ok(UnansweredRedFlag {
                        clinic: clinic_from(row.prefixed("cl_"))?,
                        profile_id: ProfileId(r.uuid("profile_id")?),
                        conversation_id: ConversationId(r.uuid("id")?),
                        episode_id: needlewise_core::ids::EpisodeId(r.uuid("episode_id")?),
                        since: r.ts("created_at")?,
                        sent_steps: BTreeSet::new(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if found.is_empty() {
                return Ok(found);
            }
            let mut by_key = sent_steps(
                tx,
                "SELECT x.clinic_id AS clinic_id, x.profile_id AS profile_id,
                        x.conversation_id AS conversation_id, x.step AS step
                 FROM conversation_escalations x
                 JOIN conversations c ON c.clinic_id = x.clinic_id
                     AND c.profile_id = x.profile_id AND c.id = x.conversation_id
                 WHERE c.origin_episode_id IS NOT NULL AND c.last_clinic_at IS NULL",
                |r| Ok(ConversationId(r.uuid("conversation_id")?)),
            )?;
            for f in &mut found {
                if let Some(steps) = by_key.remove(&(f.clinic.id, f.profile_id, f.conversation_id))
                {
                    f.sent_steps = steps;
                }
            }
            Ok(found)
        })
    }

    fn escalate_conversation_step(
        &self,
        claim: &ConversationClaim,
        notes: &[Notification],
        emails: &[Email],
    ) -> Result<bool> {
        emails.iter().try_for_each(check_recipient)?;
        let step =
            i64::try_from(claim.step).map_err(|_| StoreError::invalid("step out of range"))?;
        // One transaction: still unanswered and still linked, then the
        // claim (the primary key lets one of two workers have it), then its
        // notifications and emails, all or nothing.
        self.write(|tx| {
            let awaits = tx.exists(
                "SELECT 1 FROM conversations c
                 JOIN clinic_patients cp ON cp.clinic_id = c.clinic_id AND cp.profile_id = c.profile_id
                 WHERE c.clinic_id = ?1 AND c.profile_id = ?2 AND c.id = ?3
                   AND c.origin_episode_id IS NOT NULL AND c.last_clinic_at IS NULL",
                args![claim.clinic, claim.profile, claim.conversation],
            )?;
            if !awaits {
                return Ok(false);
            }
            let claimed = tx.execute(
                "INSERT INTO conversation_escalations (clinic_id, profile_id, conversation_id, step, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (clinic_id, profile_id, conversation_id, step) DO NOTHING",
                args![claim.clinic, claim.profile, claim.conversation, step, claim.at],
            )? == 1;
            if claimed {
                notes.iter().try_for_each(|n| insert_notification(tx, n))?;
                emails.iter().try_for_each(|e| insert_email(tx, e))?;
            }
            Ok(claimed)
        })
    }
}
