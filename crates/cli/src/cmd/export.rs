//! `needlewise export`: the profile's data in formats other tools read.
//!
//! One subcommand per format. Each writes to standard output unless given
//! `--out FILE`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::app::{App, Exit, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub format: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum Format {
    /// Your calendar as an iCalendar (.ics) file for any calendar app:
    /// the earliest next session, the planned course sessions, check-ins
    /// after your last session and roller reminders, each with an alarm.
    ///
    /// The web app's schedule page offers the same calendar as a
    /// subscription link that stays up to date.
    Ics(IcsArgs),
    /// Everything of every profile as one ZIP archive: per profile a
    /// folder with profile.json (all of it), sessions.csv, checkins.csv,
    /// ratings.csv and the photos, plus a README.txt.
    All(super::export_all::AllArgs),
    /// A PDF report for your facial plastic surgeon: screening and its
    /// reasons, devices, sessions, check-ins and red flags, rating trends
    /// and your first and latest photos.
    Pdf(super::export_pdf::PdfArgs),
    /// FHIR R4 JSON: the whole record as a Bundle (default), the
    /// screening as a Questionnaire, or its answers as a
    /// QuestionnaireResponse (`--what bundle|questionnaire|response`).
    Fhir(super::export_fhir::FhirArgs),
}

#[derive(Debug, clap::Args)]
pub struct IcsArgs {
    #[command(flatten)]
    pub output: Output,
}

/// Where an export goes.
#[derive(Debug, clap::Args)]
pub struct Output {
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    match args.format {
        Format::Ics(a) => ics(app, a),
        Format::All(a) => super::export_all::run(app, a),
        Format::Fhir(a) => super::export_fhir::run(app, a),
        Format::Pdf(a) => super::export_pdf::run(app, a),
    }
}

fn ics(app: &App, args: IcsArgs) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    let now = app.zoned_now();
    let model = needlewise_actions::calendar(app.ctx(&now)?, &profile)?;
    if app.json {
        let text = serde_json::to_string_pretty(&model).map_err(|e| Failure::Other(e.into()))?;
        return write(args.output.out.as_deref(), format!("{text}\n").as_bytes())
            .map(|()| Exit::Ok);
    }
    let text = needlewise_web::ics::render(&model);
    write(args.output.out.as_deref(), text.as_bytes())?;
    if let Some(path) = &args.output.out {
        let n = model.events.len();
        eprintln!(
            "Wrote {n} event{} to {}. Import it in your calendar app; export again after changes.",
            if n == 1 { "" } else { "s" },
            path.display()
        );
    }
    Ok(Exit::Ok)
}

/// Writes an export to `path`, or to standard output.
fn write(path: Option<&Path>, bytes: &[u8]) -> Result<(), Failure> {
    match path {
        Some(path) => std::fs::write(path, bytes).map_err(|e| {
            Failure::Other(anyhow::anyhow!("{}: cannot write it: {e}", path.display()))
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| {
                    Failure::Other(anyhow::anyhow!("cannot write to standard output: {e}"))
                })
        }
    }
}
