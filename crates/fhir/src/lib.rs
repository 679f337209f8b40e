//! FHIR R4 for needlewise.
//!
//! - [`questionnaire`]: the candidacy screening as a `Questionnaire`,
//!   generated from the evidence base;
//! - [`response`]: `Answers` as a `QuestionnaireResponse` and back; an
//!   imported response gives exactly the verdict of the same answer file;
//! - [`bundle`]: a person's whole record as a `collection` Bundle.
//!
//! Like the core, this crate does no IO and reads no clock: time is an
//! argument. The FHIR types are hand-written ([`model`]); only what
//! needlewise writes is modelled.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod model;
pub mod questionnaire;
pub mod response;

use std::fmt;

use needlewise_core::evidence::ProcedureKind;

pub use bundle::{
    AppointmentInput, Bundle, BundleEntry, ConsentInput, ConsentScope, ConversationInput,
    RecordInput, bundle,
};
pub use questionnaire::{canonical, evidence_version, questionnaire};
pub use response::{MAX_IMPORT_BYTES, export_response, import_response, import_value};

/// Where needlewise's own code systems and canonical URLs live.
pub const BASE_URL: &str = "https://needlewise.example/fhir";
/// The screening Questionnaire's canonical URL.
pub const SCREENING_URL: &str = "https://needlewise.example/fhir/Questionnaire/screening";
/// The screening Questionnaire's computable name.
pub const SCREENING_NAME: &str = "NeedlewiseScreening";

/// The answers of an exposure question, as `<id>.status` codes.
pub(crate) const EXPOSURE_STATES: [&str; 3] = ["never", "current", "ended"];

pub(crate) fn choice_system(question: &str) -> String {
    format!("{BASE_URL}/CodeSystem/{question}")
}

pub(crate) fn zone_system() -> String {
    format!("{BASE_URL}/CodeSystem/zone")
}

pub(crate) fn exposure_system() -> String {
    format!("{BASE_URL}/CodeSystem/exposure")
}

/// The procedure kinds with their answer-file codes.
pub(crate) fn procedure_kinds() -> Vec<(String, ProcedureKind)> {
    ProcedureKind::ALL
        .into_iter()
        .filter_map(|k| {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(|s| (s.to_owned(), k)))
        })
        .collect()
}

/// `go_with_precautions` → `Go with precautions`.
pub(crate) fn humanise(code: &str) -> String {
    let text = code.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Why a FHIR resource could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FhirError {
    /// A question's `enable_when` has no FHIR form.
    Unsupported { question: String, message: String },
}

impl fmt::Display for FhirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FhirError::Unsupported { question, message } => write!(f, "{question}: {message}"),
        }
    }
}

impl std::error::Error for FhirError {}

/// A string from outside, made safe to show in a message: at most 60
/// characters, with control, bidirectional and other invisible characters
/// escaped, in quotes.
pub(crate) fn shown(s: &str) -> String {
    let mut out = String::from("\"");
    for (n, c) in s.chars().enumerate() {
        if n == 60 {
            out.push_str(&format!("…\" ({} characters)", s.chars().count()));
            return out;
        }
        let invisible = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
            || c == '"'
            || c == '\\';
        if invisible {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}
