#![allow(clippy::unwrap_used, clippy::expect_used)]
//! needlewise-fhir's one integration-test binary.

mod bundle;
mod cases;
mod fuzz;
mod import;
mod questionnaire;
