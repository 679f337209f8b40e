//! Devices and their hygiene lifecycle.
//!
//! A roller is cleaned after every use and before its first:
//!
//! ```text
//!   new ─┐
//!  used ─┼─ rinse ─▶ rinsed ─ soak ─▶ soaking ─ (≥10 min) ─▶ drying ─ (≥30 min) ─▶ ready ─ use ─▶ used
//! ready ─┘
//! ```
//!
//! A pen is made ready by fitting a new sterile cartridge, and a use
//! discards it. Any device can be reported damaged (which makes its
//! replacement due) or retired. Every transition takes the time it happens;
//! nothing here reads a clock.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::evidence::HygieneDefaults;
use crate::ids::{DeviceId, ProfileId};

/// What the needles are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Material {
    StainlessSteel,
    Titanium,
    Other,
}

/// A roller's geometry, as printed on the box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RollerSpec {
    pub needle_count: u32,
    pub rings: u32,
    pub drum_diameter_mm: f64,
    pub drum_width_mm: f64,
    pub needle_length_mm: f64,
    pub material: Material,
}

impl RollerSpec {
    /// The documented 192-needle roller: 8 rings of 24 on a 2 × 2 cm drum.
    pub fn standard_192(needle_length_mm: f64) -> Self {
        RollerSpec {
            needle_count: 192,
            rings: 8,
            drum_diameter_mm: 20.0,
            drum_width_mm: 20.0,
            needle_length_mm,
            material: Material::StainlessSteel,
        }
    }
}

/// A microneedling pen with single-use cartridges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PenSpec {
    pub needles_per_cartridge: u32,
    pub needle_length_mm: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeviceKind {
    Roller(RollerSpec),
    Pen(PenSpec),
}

impl DeviceKind {
    pub fn needle_length_mm(&self) -> f64 {
        match self {
            DeviceKind::Roller(r) => r.needle_length_mm,
            DeviceKind::Pen(p) => p.needle_length_mm,
        }
    }

    pub fn is_pen(&self) -> bool {
        matches!(self, DeviceKind::Pen(_))
    }

    /// Checks the numbers, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), HygieneError> {
        let bad = |field: &'static str, message: &str| {
            Err(HygieneError::InvalidSpec {
                field,
                message: message.to_owned(),
            })
        };
        let length = self.needle_length_mm();
        if !(length.is_finite() && length > 0.0 && length <= 3.0) {
            return bad("needle_length_mm", "must be more than 0 and at most 3 mm");
        }
        match self {
            DeviceKind::Roller(r) => {
                if r.needle_count == 0 || r.needle_count > 5000 {
                    return bad("needle_count", "must be from 1 to 5000");
                }
                if r.rings == 0 || r.rings > r.needle_count {
                    return bad("rings", "must be from 1 to the number of needles");
                }
                if !(r.drum_diameter_mm.is_finite()
                    && r.drum_diameter_mm >= 2.0
                    && r.drum_diameter_mm <= 100.0)
                {
                    return bad("drum_diameter_mm", "must be from 2 to 100 mm");
                }
                if !(r.drum_width_mm.is_finite()
                    && r.drum_width_mm >= 2.0
                    && r.drum_width_mm <= 100.0)
                {
                    return bad("drum_width_mm", "must be from 2 to 100 mm");
                }
            }
            DeviceKind::Pen(p) => {
                if p.needles_per_cartridge == 0 || p.needles_per_cartridge > 100 {
                    return bad("needles_per_cartridge", "must be from 1 to 100");
                }
            }
        }
        Ok(())
    }
}

/// Where a device is in its cleaning cycle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HygieneState {
    /// Out of the box: cleaned like a used one before its first session.
    New,
    Used,
    Rinsed,
    Soaking {
        since: Timestamp,
        alcohol_percent: u8,
    },
    Drying {
        since: Timestamp,
    },
    Ready,
    Retired,
}

impl HygieneState {
    pub fn name(&self) -> &'static str {
        match self {
            HygieneState::New => "new",
            HygieneState::Used => "used",
            HygieneState::Rinsed => "rinsed",
            HygieneState::Soaking { .. } => "soaking",
            HygieneState::Drying { .. } => "drying",
            HygieneState::Ready => "ready",
            HygieneState::Retired => "retired",
        }
    }
}

impl fmt::Display for HygieneState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something done to a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HygieneEvent {
    /// Rinsed under warm running water.
    Rinse,
    /// Put to soak in isopropyl alcohol of this strength.
    Soak {
        alcohol_percent: u8,
    },
    /// Taken out of the soak to air-dry.
    Dry,
    /// Checked dry and put away capped.
    MarkReady,
    /// A new sterile cartridge fitted (pens only).
    FitCartridge,
    /// Used in a session.
    Use,
    /// Bent, blunt or rusty needles, scratching, or it drew blood.
    ReportDamage {
        note: String,
    },
    Retire {
        reason: String,
    },
}

impl HygieneEvent {
    pub fn name(&self) -> &'static str {
        match self {
            HygieneEvent::Rinse => "rinse",
            HygieneEvent::Soak { .. } => "soak",
            HygieneEvent::Dry => "dry",
            HygieneEvent::MarkReady => "mark_ready",
            HygieneEvent::FitCartridge => "fit_cartridge",
            HygieneEvent::Use => "use",
            HygieneEvent::ReportDamage { .. } => "report_damage",
            HygieneEvent::Retire { .. } => "retire",
        }
    }
}

/// Why a transition was refused. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HygieneError {
    #[error("cannot {action} a device that is {state}: {hint}")]
    WrongState {
        action: &'static str,
        state: &'static str,
        hint: &'static str,
    },
    #[error(
        "the roller has soaked for {elapsed_min} min; it needs at least {required_min} min in alcohol (ready to take out at {ready_at})"
    )]
    SoakTooShort {
        elapsed_min: i64,
        required_min: i64,
        ready_at: Timestamp,
    },
    #[error(
        "the roller has dried for {elapsed_min} min; it needs at least {required_min} min in the air (dry at {ready_at})"
    )]
    DryTooShort {
        elapsed_min: i64,
        required_min: i64,
        ready_at: Timestamp,
    },
    #[error("{percent}% alcohol is too weak: use isopropyl alcohol of at least {required}%")]
    AlcoholTooWeak { percent: u8, required: u8 },
    #[error(
        "{percent}% alcohol is too strong: alcohol disinfects less well above {max}%, so use isopropyl alcohol of {min} to {max}%"
    )]
    AlcoholTooStrong { percent: u8, min: u8, max: u8 },
    #[error("{percent}% is not a possible alcohol strength")]
    AlcoholImpossible { percent: u8 },
    #[error("pens are not soaked: fit a new sterile cartridge instead")]
    PenNotSoaked,
    #[error("only pens take cartridges; clean a roller by rinsing, soaking and drying it")]
    RollerHasNoCartridge,
    #[error(
        "this device has reached its limit of {max_uses} uses or was reported damaged; retire it and use a new one"
    )]
    ReplacementDue { max_uses: u32 },
    #[error("{field}: {message}")]
    InvalidSpec {
        field: &'static str,
        message: String,
    },
    #[error("the time given ({now}) is before the device's last change ({last}); check --now")]
    TimeWentBackwards { now: Timestamp, last: Timestamp },
}

/// The longest note a damage report or a retirement keeps, in characters
/// (the same bound as every other note).
pub const MAX_NOTE_CHARS: usize = 500;

/// A damage note or a reason for retiring: at most [`MAX_NOTE_CHARS`], on
/// one line or several, without other control characters.
fn check_note(event: &'static str, text: &str) -> Result<(), HygieneError> {
    let field = match event {
        "retire" => "reason",
        _ => "note",
    };
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(HygieneError::InvalidSpec {
            field,
            message: format!("at most {MAX_NOTE_CHARS} characters"),
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(HygieneError::InvalidSpec {
            field,
            message: "control characters are not allowed".into(),
        });
    }
    Ok(())
}

/// A roller or pen owned by one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub profile_id: ProfileId,
    pub name: String,
    pub kind: DeviceKind,
    pub state: HygieneState,
    pub use_count: u32,
    pub damaged: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped on every change; the store uses it to refuse lost updates.
    pub version: u64,
}

/// The device's state, with what it means now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceStatus {
    pub state: &'static str,
    pub ready: bool,
    pub use_count: u32,
    pub uses_left: u32,
    pub replacement_due: bool,
    /// When the current soak or air-dry step is long enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_done_at: Option<Timestamp>,
    /// What to do next, in plain words.
    pub next_step: String,
}

impl Device {
    /// A new device, not yet cleaned.
    pub fn new(
        id: DeviceId,
        profile_id: ProfileId,
        name: String,
        kind: DeviceKind,
        now: Timestamp,
    ) -> Result<Device, HygieneError> {
        kind.validate()?;
        let name = crate::text::single_line(&name, 80).map_err(|e| HygieneError::InvalidSpec {
            field: "name",
            message: e.to_string(),
        })?;
        Ok(Device {
            id,
            profile_id,
            name: name.to_owned(),
            kind,
            state: HygieneState::New,
            use_count: 0,
            damaged: false,
            created_at: now,
            updated_at: now,
            version: 0,
        })
    }

    pub fn replacement_due(&self, rules: &HygieneDefaults) -> bool {
        self.damaged || (!self.kind.is_pen() && self.use_count >= rules.replace.max_uses)
    }

    /// Ready for a session: clean, dry, undamaged and within its use limit.
    pub fn is_ready(&self, rules: &HygieneDefaults) -> bool {
        self.state == HygieneState::Ready && !self.replacement_due(rules)
    }

    /// Applies an event, returning the changed device or why it cannot be.
    pub fn apply(
        &self,
        event: &HygieneEvent,
        now: Timestamp,
        rules: &HygieneDefaults,
    ) -> Result<Device, HygieneError> {
        use HygieneState as S;
        if now < self.updated_at {
            return Err(HygieneError::TimeWentBackwards {
                now,
                last: self.updated_at,
            });
        }
        let wrong = |action, hint| {
            Err(HygieneError::WrongState {
                action,
                state: self.state.name(),
                hint,
            })
        };
        if self.state == S::Retired {
            return wrong(
                event.name(),
                "a retired device stays retired; register a new one",
            );
        }
        if let HygieneEvent::ReportDamage { note: text } | HygieneEvent::Retire { reason: text } =
            event
        {
            check_note(event.name(), text)?;
        }
        let mut next = self.clone();
        match (event, self.state, self.kind.is_pen()) {
            (HygieneEvent::Retire { .. }, _, _) => next.state = S::Retired,
            (HygieneEvent::ReportDamage { .. }, _, _) => next.damaged = true,
            (HygieneEvent::Use, S::Ready, _) => {
                if self.replacement_due(rules) {
                    return Err(HygieneError::ReplacementDue {
                        max_uses: rules.replace.max_uses,
                    });
                }
                next.use_count += 1;
                next.state = S::Used;
            }
            (HygieneEvent::Use, _, true) => {
                return wrong("use", "fit a new sterile cartridge first");
            }
            (HygieneEvent::Use, _, false) => {
                return wrong(
                    "use",
                    "rinse it, soak it in alcohol and let it air-dry first",
                );
            }
            (HygieneEvent::FitCartridge, S::New | S::Used | S::Ready, true) => {
                next.state = S::Ready
            }
            (HygieneEvent::FitCartridge, _, false) => {
                return Err(HygieneError::RollerHasNoCartridge);
            }
            (
                HygieneEvent::Rinse
                | HygieneEvent::Soak { .. }
                | HygieneEvent::Dry
                | HygieneEvent::MarkReady,
                _,
                true,
            ) => {
                return Err(HygieneError::PenNotSoaked);
            }
            (HygieneEvent::Rinse, S::New | S::Used | S::Ready, false) => next.state = S::Rinsed,
            (HygieneEvent::Rinse, _, false) => {
                return wrong("rinse", "finish the cycle it is in: soak, then dry");
            }
            (HygieneEvent::Soak { alcohol_percent }, S::Rinsed, false) => {
                let required = rules.soak.min_alcohol_percent;
                if *alcohol_percent > 100 {
                    return Err(HygieneError::AlcoholImpossible {
                        percent: *alcohol_percent,
                    });
                }
                if *alcohol_percent > rules.soak.max_alcohol_percent {
                    return Err(HygieneError::AlcoholTooStrong {
                        percent: *alcohol_percent,
                        min: required,
                        max: rules.soak.max_alcohol_percent,
                    });
                }
                if *alcohol_percent < required {
                    return Err(HygieneError::AlcoholTooWeak {
                        percent: *alcohol_percent,
                        required,
                    });
                }
                next.state = S::Soaking {
                    since: now,
                    alcohol_percent: *alcohol_percent,
                };
            }
            (HygieneEvent::Soak { .. }, _, false) => {
                return wrong("soak", "rinse it under warm running water first");
            }
            (HygieneEvent::Dry, S::Soaking { since, .. }, false) => {
                let required = rules.soak.minimum.0;
                let elapsed = now.duration_since(since);
                if elapsed < required {
                    return Err(HygieneError::SoakTooShort {
                        elapsed_min: elapsed.as_mins(),
                        required_min: required.as_mins(),
                        ready_at: add(since, required),
                    });
                }
                next.state = S::Drying { since: now };
            }
            (HygieneEvent::Dry, _, false) => return wrong("dry", "it must soak in alcohol first"),
            (HygieneEvent::MarkReady, S::Drying { since }, false) => {
                let required = rules.dry.minimum.0;
                let elapsed = now.duration_since(since);
                if elapsed < required {
                    return Err(HygieneError::DryTooShort {
                        elapsed_min: elapsed.as_mins(),
                        required_min: required.as_mins(),
                        ready_at: add(since, required),
                    });
                }
                next.state = S::Ready;
            }
            (HygieneEvent::MarkReady, _, false) => {
                return wrong("mark ready", "rinse, soak and air-dry it first");
            }
            (HygieneEvent::FitCartridge, _, true) => {
                return wrong("fit a cartridge to", "this state does not take a cartridge");
            }
        }
        next.updated_at = now;
        next.version = self.version + 1;
        Ok(next)
    }

    /// What the device's state means at `now`.
    pub fn status(&self, now: Timestamp, rules: &HygieneDefaults) -> DeviceStatus {
        use HygieneState as S;
        let replacement_due = self.replacement_due(rules);
        let max = rules.replace.max_uses;
        let step_done_at = match self.state {
            S::Soaking { since, .. } => Some(add(since, rules.soak.minimum.0)),
            S::Drying { since } => Some(add(since, rules.dry.minimum.0)),
            _ => None,
        };
        let wait_note = |what: &str| match step_done_at {
            Some(t) if t > now => {
                let mins = (t.duration_since(now).as_secs() + 59) / 60;
                format!("{what} in {mins} min")
            }
            _ => format!("{what} now"),
        };
        let next_step = if self.state == S::Retired {
            "Retired. Register a new device.".to_owned()
        } else if replacement_due {
            "Replace this device: it has reached its use limit or was reported damaged.".to_owned()
        } else {
            match (self.state, self.kind.is_pen()) {
                (S::Ready, _) => "Ready for a session.".to_owned(),
                (_, true) => "Fit a new sterile cartridge before the session.".to_owned(),
                (S::New | S::Used, false) => "Rinse it under warm running water.".to_owned(),
                (S::Rinsed, false) => format!(
                    "Soak it in {} to {}% isopropyl alcohol for at least {} min.",
                    rules.soak.min_alcohol_percent,
                    rules.soak.max_alcohol_percent,
                    rules.soak.minimum.0.as_mins()
                ),
                (S::Soaking { .. }, false) => wait_note("Take it out to air-dry"),
                (S::Drying { .. }, false) => wait_note("Mark it ready"),
                (S::Retired, _) => String::new(),
            }
        };
        DeviceStatus {
            state: self.state.name(),
            ready: self.is_ready(rules),
            use_count: self.use_count,
            uses_left: if self.kind.is_pen() {
                max
            } else {
                max.saturating_sub(self.use_count)
            },
            replacement_due,
            step_done_at,
            next_step,
        }
    }
}

fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}
