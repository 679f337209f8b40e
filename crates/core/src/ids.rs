//! Typed identifiers. Ids are UUIDs made by the application (never by the
//! database), so records can move between stores and instances unchanged.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map($name)
                    .map_err(|_| format!("{s:?} is not a valid {} id", $what))
            }
        }
    };
}

id_type!(
    /// A login: one person or household, owning one or more profiles.
    AccountId,
    "account"
);

impl AccountId {
    /// The built-in account of a local install: the command line's profiles
    /// belong to it. It has no password and cannot log in to the web app.
    pub const LOCAL: AccountId = AccountId(Uuid::nil());
}

id_type!(
    /// A person's profile; several can share one install (a household).
    ProfileId,
    "profile"
);
id_type!(
    /// A roller or pen, owned by exactly one profile.
    DeviceId,
    "device"
);
id_type!(ScreeningId, "screening");
id_type!(SessionId, "session");
id_type!(CheckinId, "check-in");
id_type!(EpisodeId, "symptom episode");
id_type!(
    /// One answered same-day readiness check.
    ReadinessCheckId,
    "readiness check"
);
id_type!(HygieneEventId, "hygiene event");
id_type!(
    /// A self-rating of one concern in one zone.
    RatingId,
    "rating"
);
id_type!(
    /// A progress photo (its bytes live on disk, not in the store).
    PhotoId,
    "photo"
);
id_type!(
    /// A practice: clinicians and staff who look after consenting patients.
    ClinicId,
    "clinic"
);
id_type!(
    /// A clinician's prescription of a home protocol for one patient.
    ProtocolId,
    "protocol"
);
id_type!(
    /// A clinician's override of one conservative home rule.
    OverrideId,
    "override"
);
id_type!(NotificationId, "notification");
id_type!(
    /// One line of a patient's audit log.
    AuditId,
    "audit entry"
);
id_type!(
    /// A queued email.
    EmailId,
    "email"
);
id_type!(
    /// A conversation between a patient and a clinic.
    ConversationId,
    "conversation"
);
id_type!(
    /// One message of a conversation.
    MessageId,
    "message"
);
id_type!(
    /// A photo attached to a message (its bytes live on disk).
    MessagePhotoId,
    "message photo"
);
id_type!(
    /// A booked (or once booked) appointment at a clinic.
    AppointmentId,
    "appointment"
);
id_type!(
    /// A set of one to three slots a clinic member offered a patient.
    ProposalId,
    "proposal"
);
id_type!(
    /// One of a clinic's canned replies.
    CannedReplyId,
    "canned reply"
);
