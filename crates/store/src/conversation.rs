//! Conversations between a patient and their clinic: the store's side.
//!
//! The patient's methods take the profile (the caller has checked that it
//! is the session's own); they refuse a clinic the profile is not linked to
//! ([`needlewise_core::clinic::patient_may_write`]) and find only the
//! profile's own conversations. The clinic's methods take a
//! [`ClinicAccess`] and, in one transaction, load the asker's role and the
//! patient's link, ask the core ([`needlewise_core::clinic::Act::Converse`]:
//! `NotFound` for outsiders and conversations hidden from the asker,
//! `Forbidden` for staff and a clinical conversation), read or write, and
//! append to the patient's audit log. Every message queues, in the same
//! transaction, an email to the other side that says only that there is a
//! new message (a transactional outbox, like the red-flag ladder's).

use std::collections::BTreeSet;

use jiff::Timestamp;
use needlewise_core::clinic::Clinic;
use needlewise_core::conversation::{CannedReply, Conversation, Message, MessagePhoto, OriginCard};
use needlewise_core::ids::{
    CannedReplyId, ClinicId, ConversationId, EpisodeId, MessageId, MessagePhotoId, ProfileId,
};

use crate::Result;
use crate::clinic::{ClinicAccess, Email, Notification};

/// A conversation started from a red flag that nobody at the clinic has
/// answered yet, of a patient still linked to the clinic: the escalation
/// worker climbs the clinic's ladder for it, timed from when it was
/// started, until the clinic's first answer.
#[derive(Debug, Clone, PartialEq)]
pub struct UnansweredRedFlag {
    pub clinic: Clinic,
    pub profile_id: ProfileId,
    pub conversation_id: ConversationId,
    pub episode_id: EpisodeId,
    /// When the patient started it: the ladder is timed from here.
    pub since: Timestamp,
    /// The ladder steps already sent for it.
    pub sent_steps: BTreeSet<usize>,
}

/// One ladder step of an unanswered red-flag conversation, claimed at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationClaim {
    pub clinic: ClinicId,
    pub profile: ProfileId,
    pub conversation: ConversationId,
    pub step: usize,
    pub at: Timestamp,
}

/// A conversation to start, with its first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    /// Chosen by the caller (the form's request key): starting the same
    /// id again stores nothing and answers the stored conversation.
    pub id: ConversationId,
    pub clinic_id: ClinicId,
    pub subject: String,
    pub origin: Option<OriginCard>,
    /// Whether the patient lets the clinic's front-desk staff read it;
    /// `Invalid` together with an origin card.
    pub shared_with_staff: bool,
}

/// A message to post. The author is the asker (the patient's account for
/// the patient's methods, the member for the clinic's); its name is the
/// store's (the profile's name, the member's display name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Chosen by the caller (the form's request key): posting the same id
    /// again stores nothing.
    pub id: MessageId,
    pub body: String,
    /// At most [`needlewise_core::conversation::MAX_PHOTOS_PER_MESSAGE`],
    /// their files already written under the patient's photo directory.
    pub photos: Vec<MessagePhoto>,
    pub at: Timestamp,
}

/// The email queued for the other side: the same words for each
/// recipient, never the message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMail {
    pub subject: String,
    pub body: String,
}

/// A conversation with the names its pages show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    pub clinic_name: String,
    pub patient_name: String,
}

/// A conversation with every message, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub summary: ConversationSummary,
    pub messages: Vec<Message>,
}

/// What a posted message did: stored now, or already stored (the same
/// request again), in which case nothing was written or queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Stored,
    AlreadyStored,
}

/// The most conversations one inbox or list shows.
pub const MAX_LISTED: u32 = 500;

pub trait ConversationStore {
    // The patient's side.
    /// Starts a conversation with a clinic the profile is linked to, with
    /// its first message, in one transaction: logged `conversation_started`
    /// in the profile's audit log, and an email queued to each member of
    /// the clinic who may read it. `NotFound` when the profile is not the
    /// clinic's patient (or does not exist); `Invalid` for an empty
    /// subject, an origin card with `shared_with_staff`, an origin card of
    /// another profile's check-in, or more than four photos. The same id
    /// again answers `AlreadyStored` and writes nothing.
    fn start_conversation(
        &self,
        profile: ProfileId,
        new: &NewConversation,
        first: &NewMessage,
        mail: &MessageMail,
    ) -> Result<Posted>;
    /// Posts the patient's message to one of the profile's conversations
    /// (the clinic still linked), logged `message_sent`, with an email to
    /// the clinic's members who may read it. `NotFound` for another
    /// profile's or an unknown conversation, or a clinic the profile left.
    fn post_patient_message(
        &self,
        profile: ProfileId,
        conversation: ConversationId,
        message: &NewMessage,
        mail: &MessageMail,
    ) -> Result<Posted>;
    /// The profile's conversations, newest activity first (at most
    /// [`MAX_LISTED`]), with clinics it has left too.
    fn patient_conversations(&self, profile: ProfileId) -> Result<Vec<ConversationSummary>>;
    /// One of the profile's conversations, marked read by the patient at
    /// `now`; `None` for any other.
    fn patient_conversation(
        &self,
        profile: ProfileId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<Option<Thread>>;
    /// Every conversation of the profile with all its messages, oldest
    /// first, without marking any read: for the profile's own exports.
    fn patient_threads(&self, profile: ProfileId) -> Result<Vec<Thread>>;
    /// When one of the profile's conversations last changed (its newest
    /// message), without reading its messages or marking it read; `None`
    /// for any other. What a page polls for new messages.
    fn patient_conversation_version(
        &self,
        profile: ProfileId,
        conversation: ConversationId,
    ) -> Result<Option<Timestamp>>;
    /// How many of the profile's conversations have a clinic message the
    /// patient has not opened.
    fn patient_unread(&self, profile: ProfileId) -> Result<u32>;
    /// A photo of one of the profile's messages; `None` otherwise.
    fn patient_message_photo(
        &self,
        profile: ProfileId,
        photo: MessagePhotoId,
    ) -> Result<Option<MessagePhoto>>;

    // The clinic's side.
    /// The clinic's conversations the asker may read (clinicians: every
    /// linked patient's; staff: the non-clinical ones patients shared with
    /// them), in [`needlewise_core::conversation::inbox_order`], at most
    /// [`MAX_LISTED`]; only one patient's with `profile`. Logs
    /// `viewed_inbox` for each patient shown (once per
    /// [`crate::clinic::LIST_VIEW_AUDIT_WINDOW`]). `NotFound` for
    /// non-members.
    fn clinic_inbox(
        &self,
        by: &ClinicAccess,
        profile: Option<ProfileId>,
        now: Timestamp,
    ) -> Result<Vec<ConversationSummary>>;
    /// One page of [`ConversationStore::clinic_inbox`]: at most `limit`
    /// (up to [`MAX_LISTED`]) conversations after the first `offset`, in the
    /// same order, the view logged for the patients shown only.
    fn clinic_inbox_page(
        &self,
        by: &ClinicAccess,
        profile: Option<ProfileId>,
        offset: u32,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<ConversationSummary>>;
    /// One conversation, marked read by the clinic at `now` and logged
    /// `viewed_conversation`. `NotFound` when hidden from the asker,
    /// `Forbidden` for staff and a clinical conversation.
    fn clinic_conversation(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<Thread>;
    /// When a conversation the asker may read last changed (its newest
    /// message), refusals as [`ConversationStore::clinic_conversation`];
    /// no message is read, so nothing is logged (reading the new messages
    /// is, by [`ConversationStore::clinic_conversation`]).
    fn clinic_conversation_version(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        conversation: ConversationId,
    ) -> Result<Timestamp>;
    /// Posts the asker's answer, logged `replied`, with an email to the
    /// patient's account; refusals as [`ConversationStore::clinic_conversation`].
    /// The clinic's first answer to a conversation started from a red flag
    /// also logs `advised_on_red_flag` (the red flag and the message: who
    /// advised what, and when) and stops the conversation's ladder.
    fn post_clinic_message(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        conversation: ConversationId,
        message: &NewMessage,
        mail: &MessageMail,
    ) -> Result<Posted>;
    /// How many conversations the asker may read have a patient message
    /// nobody at the clinic has opened. `NotFound` for non-members.
    fn clinic_unread(&self, by: &ClinicAccess) -> Result<u32>;
    /// A photo of a message in a conversation the asker may read, logged
    /// `viewed_message_photo`; refusals as
    /// [`ConversationStore::clinic_conversation`].
    fn clinic_message_photo(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        photo: MessagePhotoId,
        now: Timestamp,
    ) -> Result<MessagePhoto>;

    // Canned replies.
    /// The clinic's canned replies, by title; every member may list them.
    /// `NotFound` for non-members.
    fn canned_replies(&self, by: &ClinicAccess) -> Result<Vec<CannedReply>>;
    /// Writes (adds, or changes by its id) one of the clinic's canned
    /// replies, as the asker at `at`: clinicians only
    /// ([`needlewise_core::clinic::may_edit_canned_replies`]), else
    /// `Forbidden`; `NotFound` for non-members; `Invalid` for a bad title
    /// or text, or past [`needlewise_core::conversation::MAX_CANNED_REPLIES`].
    fn save_canned_reply(
        &self,
        by: &ClinicAccess,
        id: CannedReplyId,
        title: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// Deletes one of the clinic's canned replies (clinicians only, as
    /// [`ConversationStore::save_canned_reply`]); `false` when there was none.
    fn delete_canned_reply(&self, by: &ClinicAccess, id: CannedReplyId) -> Result<bool>;

    // The escalation worker.
    /// Every conversation started from a red flag that awaits the clinic's
    /// first answer, of a patient still linked to the clinic, oldest
    /// first, with the ladder steps sent for it.
    fn unanswered_red_flags(&self) -> Result<Vec<UnansweredRedFlag>>;
    /// Claims one ladder step of an unanswered red-flag conversation and,
    /// in the same transaction, writes its notifications and emails.
    /// `false` (nothing written) when the step was claimed already, or the
    /// conversation has been answered or its patient has left the clinic
    /// meanwhile.
    fn escalate_conversation_step(
        &self,
        claim: &ConversationClaim,
        notes: &[Notification],
        emails: &[Email],
    ) -> Result<bool>;
}
