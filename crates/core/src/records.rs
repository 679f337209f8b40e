//! The records a profile accumulates: the shapes the store persists.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::answers::Answers;
use crate::ids::{
    AccountId, CheckinId, ClinicId, DeviceId, EpisodeId, ProfileId, ReadinessCheckId, ScreeningId,
    SessionId,
};
use crate::screening::{ScreeningResult, Verdict};
use crate::triage::TriageLevel;
use crate::zone::Zone;

/// A login for the web app. Its profiles hold the data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    /// Stored lower-cased; unique.
    pub email: String,
    /// An argon2id PHC string.
    #[serde(skip_serializing)]
    pub password_hash: String,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A person using needlewise. An account can hold several (a household);
/// names are unique within an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: ProfileId,
    pub account_id: AccountId,
    pub name: String,
    pub created_at: Timestamp,
    /// The person's own IANA time zone (their "today" and the times they
    /// see); `None` means the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A completed screening: the answers and the result they gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScreeningRecord {
    pub id: ScreeningId,
    pub profile_id: ProfileId,
    pub taken_at: Timestamp,
    pub answers: Answers,
    pub verdict: Verdict,
    /// The full result, kept as it was shown (the store keeps it as the
    /// versioned JSON of this type, so a renamed field fails loudly).
    pub result: ScreeningResult,
}

/// One zone of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRecord {
    pub zone: Zone,
    pub seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strokes: Option<u32>,
    #[serde(default)]
    pub skipped: bool,
}

/// A product applied during or after a session, with the gate's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductUse {
    pub name: String,
    pub category: String,
    pub applied_at: Timestamp,
    /// False when the serum gate refused it; it is recorded all the same.
    pub allowed: bool,
}

/// Where a session was done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionSetting {
    /// At home, after a readiness check that said go for that moment and
    /// that device.
    #[default]
    Home,
    /// By a professional, in a clinic: recorded so the interval lock and
    /// the course count it, never gated by the home readiness check.
    Clinic,
}

impl SessionSetting {
    pub fn id(self) -> &'static str {
        match self {
            SessionSetting::Home => "home",
            SessionSetting::Clinic => "clinic",
        }
    }
}

impl std::str::FromStr for SessionSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "home" => Ok(SessionSetting::Home),
            "clinic" => Ok(SessionSetting::Clinic),
            _ => Err(format!("unknown session setting {s:?}")),
        }
    }
}

/// A microneedling session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub profile_id: ProfileId,
    pub device_id: Option<DeviceId>,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    /// The calendar day the session started, in the zone it was logged in
    /// (history only: waits count elapsed time from `ended_at`).
    pub local_date: Date,
    pub needle_length_mm: f64,
    pub zones: Vec<ZoneRecord>,
    pub products: Vec<ProductUse>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Home or clinic.
    #[serde(default)]
    pub setting: SessionSetting,
    /// The readiness check that allowed a home session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_check_id: Option<ReadinessCheckId>,
}

/// An answered same-day readiness check, go or not. A home session points
/// at the one that allowed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadinessCheckRecord {
    pub id: ReadinessCheckId,
    pub profile_id: ProfileId,
    /// The roller or pen the check was for.
    pub device_id: Option<DeviceId>,
    pub at: Timestamp,
    /// The person's answers (facts are not stored: they are read again
    /// whenever the check is used).
    pub answers: Answers,
    pub go: bool,
    pub rule_ids: Vec<String>,
}

/// A symptom check-in and its triage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckinRecord {
    pub id: CheckinId,
    pub profile_id: ProfileId,
    pub session_id: Option<SessionId>,
    pub at: Timestamp,
    pub answers: Answers,
    pub level: TriageLevel,
    pub rule_ids: Vec<String>,
}

/// A red flag that locks new sessions until it is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub id: EpisodeId,
    pub profile_id: ProfileId,
    pub checkin_id: CheckinId,
    pub level: TriageLevel,
    pub opened_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resolution: String,
    /// Who resolved it (absent while open, and for red flags resolved
    /// before this was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<Resolver>,
}

/// Who may end a red flag's lock, and what they recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Resolver {
    /// A clinician of a clinic the person shares check-ins with.
    Clinician {
        clinic_id: ClinicId,
        account_id: AccountId,
        name: String,
    },
    /// With no clinic that sees the check-ins: the person stated that a
    /// doctor examined them on a date, and a fresh check-in without a red
    /// flag followed.
    DoctorExamined {
        doctor: String,
        examined_on: Date,
        checkin_id: CheckinId,
    },
}

impl Resolver {
    /// Who resolved it, in words.
    pub fn describe(&self) -> String {
        match self {
            Resolver::Clinician { name, .. } => format!("resolved by {name}, clinician"),
            Resolver::DoctorExamined {
                doctor,
                examined_on,
                ..
            } => format!(
                "resolved by the patient, stating an examination by {doctor} on {examined_on}, followed by a check-in without a warning sign"
            ),
        }
    }
}

impl Episode {
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
}
