//! `needlewise screen`: candidacy screening.

use std::path::PathBuf;

use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::ids::ScreeningId;
use needlewise_core::records::ScreeningRecord;
use needlewise_core::screening::{ScreeningResult, screen};
use uuid::Uuid;

use crate::app::{App, Exit, Failure, read_json};
use crate::{output, prompt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON answer file; without it, the questions are asked here.
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
    /// Print an example answer file and exit.
    #[arg(long, conflicts_with = "answers")]
    template: bool,
}

pub const TEMPLATE: &str = include_str!("../../../../docs/answers.example.json");

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    if args.template {
        print!("{TEMPLATE}");
        return Ok(Exit::Ok);
    }
    let base = evidence();
    let today = app.today();
    let answers = match &args.answers {
        Some(path) => Answers::from_json(&base.screening, &read_json(path)?, today)?,
        None => prompt::ask_all(&base.screening, today, Answers::new())?,
    };
    let result = screen(base, &answers, today)?;
    let profile = app.profile()?;
    let record = ScreeningRecord {
        id: ScreeningId(Uuid::now_v7()),
        profile_id: profile.id,
        taken_at: app.now,
        answers,
        verdict: result.verdict,
        result: serde_json::to_value(&result).map_err(|e| Failure::Other(e.into()))?,
    };
    app.store()?.save_screening(&record)?;
    if app.json {
        output::json(&result)?;
    } else {
        print_result(&result);
    }
    Ok(Exit::stop_if(!result.verdict.allows_home_sessions()))
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
    println!(
        "\nneedlewise explains and refers; it does not diagnose. When in doubt, ask your facial plastic surgeon."
    );
}
