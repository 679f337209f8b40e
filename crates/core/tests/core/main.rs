//! The core crate's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aftercare;
mod calendar;
mod cases;
mod clinic;
mod docs;
mod evidence;
mod hygiene;
mod review;
mod schedule;
