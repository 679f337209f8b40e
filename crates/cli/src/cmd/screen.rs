//! `needlewise screen`: candidacy screening.

use std::path::PathBuf;

use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::screening::ScreeningResult;

use crate::app::{App, Exit, Failure, read_json};
use crate::{output, prompt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON answer file; without it, the questions are asked here.
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
    /// A FHIR R4 QuestionnaireResponse to the screening Questionnaire
    /// (`needlewise export fhir --what questionnaire`), for example saved
    /// from LHC-Forms; it is checked like an answer file.
    #[arg(long, value_name = "FILE", conflicts_with = "answers")]
    fhir_response: Option<PathBuf>,
    /// Print an example answer file and exit.
    #[arg(long, conflicts_with_all = ["answers", "fhir_response"])]
    template: bool,
}

pub const TEMPLATE: &str = include_str!("../../../../docs/answers.example.json");

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    if args.template {
        print!("{TEMPLATE}");
        return Ok(Exit::Ok);
    }
    let base = evidence();
    let today = app.zoned_now().date();
    let answers = match (&args.answers, &args.fhir_response) {
        (Some(path), _) => Answers::from_json(&base.screening, &read_json(path)?, today)?,
        (None, Some(path)) => needlewise_fhir::import_response(base, &read_limited(path)?, today)?,
        (None, None) => prompt::ask_all(&base.screening, today, Answers::new())?,
    };
    let profile = app.profile()?;
    // A clinician's overrides (for a profile that joined a clinic on this
    // store) count here as on the web.
    let now = app.zoned_now();
    let result = needlewise_actions::screen(app.ctx(&now)?, &profile, answers)?;
    if app.json {
        output::json(&result)?;
    } else {
        print_result(&result);
    }
    Ok(Exit::stop_if(!result.verdict.allows_home_sessions()))
}

/// Reads a file of at most one byte more than a response may have, so the
/// importer can say it is too large without reading all of it.
fn read_limited(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    crate::app::read_bounded(path, needlewise_fhir::MAX_IMPORT_BYTES as u64 + 1)
}

fn print_result(r: &ScreeningResult) {
    println!("Verdict: {}  —  {}", r.verdict, r.headline);
    if let Some(d) = r.eligible_from {
        println!("Eligible from: {d} (screen again then)");
    }
    if !r.zones.is_empty() && r.verdict.allows_home_sessions() {
        println!(
            "Zones you may treat: {}",
            r.zones
                .iter()
                .map(|z| z.label())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for e in &r.excluded_zones {
        let until = e.until.map(|d| format!(" until {d}")).unwrap_or_default();
        println!(
            "Left out: {}{until} ({})",
            e.zone.label(),
            e.rule_ids.join(", ")
        );
    }
    if !r.reasons.is_empty() {
        println!("\nWhy:");
        for reason in &r.reasons {
            output::reason(reason);
        }
    }
    if !r.overridden.is_empty() {
        println!("\nSet aside by your clinician:");
        for o in &r.overridden {
            println!(
                "  {} — by {} on {}: {}\n    Evidence ({}): {}",
                o.reason.title,
                o.by_name,
                o.at.strftime("%Y-%m-%d"),
                o.why,
                o.evidence.sources.join(", "),
                o.evidence.explanation
            );
        }
    }
    println!(
        "\nneedlewise explains and refers; it does not diagnose. When in doubt, ask your facial plastic surgeon."
    );
}
