//! The core crate's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aftercare;
mod appointment;
mod calendar;
mod cases;
mod clinic;
mod docs;
mod engine;
mod evidence;
mod hygiene;
mod readiness;
mod review;
mod schedule;
mod support;
mod triage;
