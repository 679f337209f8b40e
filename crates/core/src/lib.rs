//! The pure core of needlewise.
//!
//! Everything that decides something lives here: the evidence base, the rule
//! engine and what it drives (screening, readiness, triage), the hygiene state
//! machine, the schedule, aftercare and the coverage model.
//!
//! Architecture invariant: this crate does no IO, spawns nothing and never
//! reads a clock. Time is an argument. CI checks that no async runtime,
//! database or web crate is in its dependency tree.
#![forbid(unsafe_code)]

pub mod aftercare;
pub mod answers;
pub mod appointment;
pub mod calendar;
pub mod clinic;
pub mod conversation;
pub mod coverage;
pub mod engine;
pub mod evidence;
pub mod guide;
pub mod hygiene;
pub mod ids;
pub mod progress;
pub mod readiness;
pub mod records;
pub mod schedule;
pub mod screening;
pub mod text;
pub mod triage;
pub mod zone;

pub use evidence::{EvidenceBase, evidence, try_evidence};
pub use zone::{Sex, Zone};
