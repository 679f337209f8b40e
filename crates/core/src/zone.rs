//! Facial zones and the person's sex, the two axes of every per-zone table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A treatable section of the face or neck.
///
/// The ids are a stable public contract: they appear in answer files, the
/// store, exports and the calendar feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    Forehead,
    Nose,
    LeftCheek,
    RightCheek,
    Chin,
    UpperLip,
    PeriorbitalLeft,
    PeriorbitalRight,
    Neck,
}

impl Zone {
    /// Every zone, in the order a guided session walks them.
    pub const ALL: [Zone; 9] = [
        Zone::Forehead,
        Zone::PeriorbitalLeft,
        Zone::PeriorbitalRight,
        Zone::Nose,
        Zone::LeftCheek,
        Zone::RightCheek,
        Zone::UpperLip,
        Zone::Chin,
        Zone::Neck,
    ];

    /// The stable id, as used in answer files.
    pub fn id(self) -> &'static str {
        match self {
            Zone::Forehead => "forehead",
            Zone::Nose => "nose",
            Zone::LeftCheek => "left_cheek",
            Zone::RightCheek => "right_cheek",
            Zone::Chin => "chin",
            Zone::UpperLip => "upper_lip",
            Zone::PeriorbitalLeft => "periorbital_left",
            Zone::PeriorbitalRight => "periorbital_right",
            Zone::Neck => "neck",
        }
    }

    /// A plain-language label.
    pub fn label(self) -> &'static str {
        match self {
            Zone::Forehead => "forehead",
            Zone::Nose => "nose",
            Zone::LeftCheek => "left cheek",
            Zone::RightCheek => "right cheek",
            Zone::Chin => "chin",
            Zone::UpperLip => "upper lip",
            Zone::PeriorbitalLeft => "under the left eye",
            Zone::PeriorbitalRight => "under the right eye",
            Zone::Neck => "neck",
        }
    }

    /// Around the eye: the thinnest skin of the face.
    pub fn is_periorbital(self) -> bool {
        matches!(self, Zone::PeriorbitalLeft | Zone::PeriorbitalRight)
    }

    /// Around the mouth, where cold sores come back.
    pub fn is_perioral(self) -> bool {
        matches!(self, Zone::UpperLip | Zone::Chin)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The error for an unknown zone id; it lists the ones that exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown zone {0:?}; expected one of forehead, nose, left_cheek, right_cheek, chin, upper_lip, periorbital_left, periorbital_right, neck"
)]
pub struct UnknownZone(pub String);

impl FromStr for Zone {
    type Err = UnknownZone;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Zone::ALL
            .into_iter()
            .find(|z| z.id() == s)
            .ok_or_else(|| UnknownZone(s.to_owned()))
    }
}

/// Sex as it matters here: the skin-thickness tables differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    /// Uses the thinner (female) column of every thickness table: the
    /// conservative choice.
    Other,
}
