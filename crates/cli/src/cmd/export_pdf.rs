//! `needlewise export pdf`: the referral report for the facial plastic
//! surgeon, as a PDF (see `needlewise-report`).

use std::io::{IsTerminal as _, Write as _};

use crate::app::{App, Exit, Failure, bad};
use crate::cmd::export::Output;

#[derive(Debug, clap::Args)]
pub struct PdfArgs {
    #[command(flatten)]
    pub output: Output,
}

pub fn run(app: &App, args: PdfArgs) -> Result<Exit, Failure> {
    let out = args.output.out.as_deref();
    // Check before any work: binary PDF bytes are no use on a terminal.
    if out.is_none() && std::io::stdout().is_terminal() {
        return Err(bad(format!(
            "a PDF cannot be shown in the terminal: add --out needlewise-report-{}.pdf",
            app.today()
        )));
    }
    let profile = app.profile()?;
    let photo_root = app.data_dir()?.join("photos");
    let input = needlewise_report::gather(
        app.store()?,
        &profile,
        Some(&photo_root),
        app.now,
        app.today(),
        app.tz(),
    )
    .map_err(|e| Failure::Other(anyhow::Error::new(e)))?;
    let pdf = needlewise_report::render_pdf(&input);
    match out {
        Some(path) => {
            std::fs::write(path, &pdf).map_err(|e| {
                Failure::Other(anyhow::anyhow!("{}: cannot write it: {e}", path.display()))
            })?;
            let n = input.sessions.len();
            eprintln!(
                "Wrote the report ({n} session{}, {} photo{}) to {}. Take it or send it to your facial plastic surgeon.",
                if n == 1 { "" } else { "s" },
                input.photos.len(),
                if input.photos.len() == 1 { "" } else { "s" },
                path.display()
            );
            for note in &input.notes {
                eprintln!("note: {note}");
            }
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&pdf)
                .and_then(|()| stdout.flush())
                .map_err(|e| {
                    Failure::Other(anyhow::anyhow!("cannot write to standard output: {e}"))
                })?;
        }
    }
    Ok(Exit::Ok)
}
