//! `needlewise export fhir`: FHIR R4 JSON for other health software.
//!
//! `--what questionnaire` writes the screening as a Questionnaire (no
//! profile needed), `--what response` the latest screening's answers as a
//! QuestionnaireResponse, and `--what bundle` (the default) the profile's
//! whole record as a `collection` Bundle. `needlewise screen
//! --fhir-response FILE` reads a response back.

use std::io::Write;
use std::path::Path;

use needlewise_core::evidence;

use crate::app::{App, Exit, Failure, bad};
use crate::cmd::export::Output;

/// Which FHIR resource to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    /// The whole record of the profile: Patient, the screening's
    /// QuestionnaireResponse, Devices, Procedures (sessions), Observations
    /// (ratings, check-ins), AdverseEvents (red flags), a CarePlan,
    /// DocumentReferences (photos) and a Consent.
    Bundle,
    /// The candidacy screening as a Questionnaire.
    Questionnaire,
    /// The latest screening's answers as a QuestionnaireResponse.
    Response,
}

#[derive(Debug, clap::Args)]
pub struct FhirArgs {
    /// What to export.
    #[arg(long, value_enum, default_value_t = What::Bundle)]
    pub what: What,
    #[command(flatten)]
    pub output: Output,
}

fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(anyhow::anyhow!("{e}"))
}

pub fn run(app: &App, args: FhirArgs) -> Result<Exit, Failure> {
    let base = evidence();
    let value = match args.what {
        What::Questionnaire => {
            serde_json::to_value(needlewise_fhir::questionnaire(base).map_err(other)?)
        }
        What::Response => {
            let profile = app.profile()?;
            let screening = app.store()?.latest_screening(profile.id)?.ok_or_else(|| {
                bad(format!(
                    "profile {} has no screening yet; run `needlewise screen` first",
                    profile.name
                ))
            })?;
            serde_json::to_value(
                needlewise_fhir::export_response(
                    base,
                    &screening.answers,
                    screening.taken_at,
                    Some(screening.id.as_uuid()),
                    None,
                )
                .map_err(other)?,
            )
        }
        What::Bundle => {
            let profile = app.profile()?;
            serde_json::to_value(needlewise_store::export::fhir_bundle(
                app.store()?,
                &profile,
                app.now,
            )?)
        }
    }
    .map_err(other)?;
    let text = serde_json::to_string_pretty(&value).map_err(other)?;
    write(args.output.out.as_deref(), format!("{text}\n").as_bytes())?;
    if let Some(path) = &args.output.out {
        eprintln!("Wrote FHIR R4 JSON to {}.", path.display());
    }
    Ok(Exit::Ok)
}

fn write(path: Option<&Path>, bytes: &[u8]) -> Result<(), Failure> {
    match path {
        Some(path) => std::fs::write(path, bytes)
            .map_err(|e| other(format!("{}: cannot write it: {e}", path.display()))),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| other(format!("cannot write to standard output: {e}")))
        }
    }
}
