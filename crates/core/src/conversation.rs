//! Conversations between a patient and their clinic ("Ask your surgeon"):
//! what one is, what a message may hold, and the structured card a
//! conversation started from a check-in or a red flag carries.
//!
//! Who may read or answer one is decided in [`crate::clinic`]
//! ([`crate::clinic::Act::Converse`], [`crate::clinic::patient_may_write`]).
//! Nothing here reads a clock or a store.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::answers::{Answer, Exposure};
use crate::evidence::{EvidenceBase, QuestionKind};
use crate::ids::{
    AccountId, CheckinId, ClinicId, ConversationId, EpisodeId, MessageId, MessagePhotoId, ProfileId,
};
use crate::records::{CheckinRecord, Episode};

/// The most characters a message's text may have.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// The most characters a conversation's subject may have.
pub const MAX_SUBJECT_CHARS: usize = 120;
/// The most photos one message may carry.
pub const MAX_PHOTOS_PER_MESSAGE: usize = 4;

/// Which side of a conversation wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Patient,
    Clinic,
}

impl Side {
    pub fn id(self) -> &'static str {
        match self {
            Side::Patient => "patient",
            Side::Clinic => "clinic",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Side {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "patient" => Ok(Side::Patient),
            "clinic" => Ok(Side::Clinic),
            _ => Err(format!("unknown side {s:?}")),
        }
    }
}

/// A rule a check-in fired, as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRule {
    pub id: String,
    pub title: String,
    pub explanation: String,
}

/// One answer of a check-in, as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardAnswer {
    pub question: String,
    pub answer: String,
}

/// What a conversation started from a check-in (and its red flag, if it
/// raised one) carries: the check-in's answers and the rules it fired, as
/// they were when the patient sent them. Structured, never pasted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginCard {
    pub checkin_id: CheckinId,
    pub checkin_at: Timestamp,
    /// The check-in's triage level id (`expected`, `watch`,
    /// `contact_surgeon`, `urgent_care`).
    pub level: String,
    /// The red flag the check-in opened, if any.
    pub episode_id: Option<EpisodeId>,
    pub rules: Vec<CardRule>,
    pub answers: Vec<CardAnswer>,
}

impl OriginCard {
    /// The card of a check-in and, when given, the red flag it opened
    /// (which must be that check-in's, of the same profile).
    pub fn of(
        base: &EvidenceBase,
        checkin: &CheckinRecord,
        episode: Option<&Episode>,
    ) -> Result<OriginCard, String> {
        if let Some(e) = episode
            && (e.checkin_id != checkin.id || e.profile_id != checkin.profile_id)
        {
            return Err(format!(
                "red flag {} was not raised by check-in {}",
                e.id, checkin.id
            ));
        }
        let q = &base.checkin;
        let rules = checkin
            .rule_ids
            .iter()
            .map(|id| match q.rule(id) {
                Some(r) => CardRule {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    explanation: r.explanation.clone(),
                },
                None => CardRule {
                    id: id.clone(),
                    title: id.clone(),
                    explanation: String::new(),
                },
            })
            .collect();
        // In the questionnaire's order; facts filled in by needlewise are
        // not the patient's answers.
        let answers = q
            .questions
            .iter()
            .filter(|question| !question.fact)
            .filter_map(|question| {
                checkin.answers.get(&question.id).map(|a| CardAnswer {
                    question: question.prompt.clone(),
                    answer: answer_text(&question.kind, a),
                })
            })
            .collect();
        Ok(OriginCard {
            checkin_id: checkin.id,
            checkin_at: checkin.at,
            level: checkin.level.id().to_owned(),
            episode_id: episode.map(|e| e.id),
            rules,
            answers,
        })
    }
}

/// An answer in plain words.
fn answer_text(kind: &QuestionKind, a: &Answer) -> String {
    match a {
        Answer::Bool(true) => "Yes".into(),
        Answer::Bool(false) => "No".into(),
        Answer::Integer(i) => i.to_string(),
        Answer::Number(n) => n.to_string(),
        Answer::Choice(c) => match kind {
            QuestionKind::Choice { options } if options.contains(c) => c.replace('_', " "),
            _ => c.clone(),
        },
        Answer::Exposure(Exposure::Never) => "Never".into(),
        Answer::Exposure(Exposure::Current) => "Currently".into(),
        Answer::Exposure(Exposure::Ended(d)) | Answer::Date(d) => d.to_string(),
        Answer::Zones(zs) => zs.iter().map(|z| z.label()).collect::<Vec<_>>().join(", "),
        Answer::Procedures(_) => a.to_json().to_string(),
    }
}

/// A conversation between one patient profile and one clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub clinic_id: ClinicId,
    pub profile_id: ProfileId,
    pub subject: String,
    /// Set when it was started from a check-in (and its red flag).
    pub origin: Option<OriginCard>,
    /// Whether the patient let the clinic's front-desk staff read it
    /// (never for a conversation with an origin card).
    pub shared_with_staff: bool,
    pub created_at: Timestamp,
    pub last_message_at: Timestamp,
    /// Who wrote last.
    pub last_side: Side,
    /// When the patient last opened it.
    pub patient_read_at: Option<Timestamp>,
    /// When someone of the clinic last opened it.
    pub clinic_read_at: Option<Timestamp>,
    /// The newest message from each side.
    pub last_patient_at: Option<Timestamp>,
    pub last_clinic_at: Option<Timestamp>,
}

impl Conversation {
    /// Whether it carries check-in data (an origin card): then only
    /// clinicians of the clinic may read it.
    pub fn is_clinical(&self) -> bool {
        self.origin.is_some()
    }

    /// Whether it was started from a red flag.
    pub fn from_red_flag(&self) -> bool {
        self.origin.as_ref().is_some_and(|o| o.episode_id.is_some())
    }

    /// Whether `side` has a message it has not opened yet.
    pub fn unread_by(&self, side: Side) -> bool {
        let (theirs, read) = match side {
            Side::Patient => (self.last_clinic_at, self.patient_read_at),
            Side::Clinic => (self.last_patient_at, self.clinic_read_at),
        };
        match (theirs, read) {
            (Some(t), Some(r)) => t > r,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The patient wrote last: the clinic owes an answer.
    pub fn awaits_clinic(&self) -> bool {
        self.last_side == Side::Patient
    }
}

/// The clinic's inbox order: conversations started from a red flag that
/// still await the clinic's answer first, oldest first; then the unread
/// ones, then the rest, newest activity first.
pub fn inbox_order(conversations: &mut [Conversation]) {
    conversations.sort_by(|a, b| {
        let urgent = |c: &Conversation| c.from_red_flag() && c.awaits_clinic();
        match (urgent(a), urgent(b)) {
            (true, false) => return std::cmp::Ordering::Less,
            (false, true) => return std::cmp::Ordering::Greater,
            (true, true) => {
                return a
                    .last_message_at
                    .cmp(&b.last_message_at)
                    .then(a.id.cmp(&b.id));
            }
            (false, false) => {}
        }
        b.unread_by(Side::Clinic)
            .cmp(&a.unread_by(Side::Clinic))
            .then(b.last_message_at.cmp(&a.last_message_at))
            .then(b.id.cmp(&a.id))
    });
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub author: AccountId,
    pub side: Side,
    /// The author's name at the time: the patient's profile name, or the
    /// clinic member's display name.
    pub author_name: String,
    pub body: String,
    pub created_at: Timestamp,
    pub photos: Vec<MessagePhoto>,
}

/// A photo attached to a message: re-encoded like a progress photo, its
/// file under the patient's photo directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePhoto {
    pub id: MessagePhotoId,
    pub message_id: MessageId,
    pub position: u32,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    /// Relative to the photo directory: `<profile>/<photo>.jpg`.
    pub stored_name: String,
}

/// The most canned replies one clinic keeps.
pub const MAX_CANNED_REPLIES: usize = 100;
/// The longest title of a canned reply, in characters.
pub const MAX_CANNED_TITLE_CHARS: usize = 80;

/// One of a clinic's canned replies: a title to pick it by and the text it
/// puts into a reply (the message text rule, never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedReply {
    pub id: crate::ids::CannedReplyId,
    pub clinic_id: ClinicId,
    pub title: String,
    pub body: String,
    /// The clinician who wrote it last, and when.
    pub updated_by: AccountId,
    pub updated_at: Timestamp,
}

/// A canned reply's title and text, checked: the title one line of 1 to
/// [`MAX_CANNED_TITLE_CHARS`] characters, the text a message's (not
/// empty). Every problem at once, by field (`title`, `body`).
pub fn canned_reply(
    title: &str,
    body: &str,
) -> Result<(String, String), Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    let title = match crate::text::single_line(title, MAX_CANNED_TITLE_CHARS) {
        Ok(t) => Some(t.to_owned()),
        Err(e) => {
            problems.push(("title", e.to_string()));
            None
        }
    };
    let body = match message_text(body, 0) {
        Ok(b) => Some(b),
        Err(TextProblem::Empty) => {
            problems.push(("body", "write the reply's text".to_owned()));
            None
        }
        Err(e) => {
            problems.push(("body", e.to_string()));
            None
        }
    };
    match (title, body) {
        (Some(t), Some(b)) if problems.is_empty() => Ok((t, b)),
        _ => Err(problems),
    }
}

/// Why a message or subject was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextProblem {
    #[error("write a message, or add a photo")]
    Empty,
    #[error("at most {max} characters")]
    TooLong { max: usize },
    #[error("use text without control characters")]
    Control,
    #[error("at most {max} photos")]
    TooManyPhotos { max: usize },
}

/// A message's text: trimmed, at most [`MAX_MESSAGE_CHARS`] characters,
/// line breaks and tabs allowed, no other control characters. Empty only
/// with photos.
pub fn message_text(value: &str, photos: usize) -> Result<String, TextProblem> {
    if photos > MAX_PHOTOS_PER_MESSAGE {
        return Err(TextProblem::TooManyPhotos {
            max: MAX_PHOTOS_PER_MESSAGE,
        });
    }
    let normalised = value.replace("\r\n", "\n");
    let v = normalised.trim();
    if v.is_empty() && photos == 0 {
        return Err(TextProblem::Empty);
    }
    if v.chars().count() > MAX_MESSAGE_CHARS {
        return Err(TextProblem::TooLong {
            max: MAX_MESSAGE_CHARS,
        });
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(TextProblem::Control);
    }
    Ok(v.to_owned())
}

/// A conversation's subject: one line of 1 to [`MAX_SUBJECT_CHARS`].
pub fn subject(value: &str) -> Result<String, crate::text::LineError> {
    crate::text::single_line(value, MAX_SUBJECT_CHARS).map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conv(id: u128, last: i64, side: Side, red: bool, clinic_read: Option<i64>) -> Conversation {
        let at = |s: i64| Timestamp::from_second(s).unwrap();
        Conversation {
            id: ConversationId(uuid::Uuid::from_u128(id)),
            clinic_id: ClinicId(uuid::Uuid::nil()),
            profile_id: ProfileId(uuid::Uuid::nil()),
            subject: "s".into(),
            origin: red.then(|| OriginCard {
                checkin_id: CheckinId(uuid::Uuid::nil()),
                checkin_at: at(0),
                level: "contact_surgeon".into(),
                episode_id: Some(EpisodeId(uuid::Uuid::nil())),
                rules: vec![],
                answers: vec![],
            }),
            shared_with_staff: false,
            created_at: at(0),
            last_message_at: at(last),
            last_side: side,
            patient_read_at: None,
            clinic_read_at: clinic_read.map(at),
            last_patient_at: Some(at(last)),
            last_clinic_at: None,
        }
    }

    #[test]
    fn red_flags_awaiting_an_answer_lead_oldest_first_then_unread() {
        let mut list = vec![
            conv(1, 500, Side::Patient, false, Some(600)), // read
            conv(2, 400, Side::Patient, false, None),      // unread
            conv(3, 300, Side::Patient, true, None),       // red flag, waiting
            conv(4, 100, Side::Patient, true, Some(900)),  // red flag, older, read
            conv(5, 900, Side::Clinic, true, None),        // red flag, answered
        ];
        inbox_order(&mut list);
        let ids: Vec<u128> = list.iter().map(|c| c.id.0.as_u128()).collect();
        assert_eq!(ids, vec![4, 3, 5, 2, 1]);
    }

    #[test]
    fn canned_replies_are_titled_texts_written_by_clinicians_only() {
        use crate::clinic::{Role, may_edit_canned_replies};
        assert_eq!(
            canned_reply(" Aftercare ", "Water only.\nNo make-up."),
            Ok((
                "Aftercare".to_owned(),
                "Water only.\nNo make-up.".to_owned()
            ))
        );
        let problems = canned_reply("a\nb", " ").unwrap_err();
        assert_eq!(
            problems.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec!["title", "body"]
        );
        assert!(canned_reply(&"t".repeat(81), "x").is_err());
        assert!(canned_reply("t", &"x".repeat(4001)).is_err());
        assert!(may_edit_canned_replies(Role::Clinician).is_ok());
        assert!(may_edit_canned_replies(Role::Staff).is_err());
    }

    #[test]
    fn message_text_is_bounded_and_keeps_line_breaks() {
        assert_eq!(message_text("  hi\r\nthere ", 0).unwrap(), "hi\nthere");
        assert_eq!(message_text("  ", 0), Err(TextProblem::Empty));
        assert_eq!(message_text("", 1).unwrap(), "");
        assert_eq!(
            message_text("x", 5),
            Err(TextProblem::TooManyPhotos { max: 4 })
        );
        assert!(message_text(&"é".repeat(MAX_MESSAGE_CHARS), 0).is_ok());
        assert_eq!(
            message_text(&"é".repeat(MAX_MESSAGE_CHARS + 1), 0),
            Err(TextProblem::TooLong { max: 4000 })
        );
        assert_eq!(message_text("a\u{7}b", 0), Err(TextProblem::Control));
    }
}
