//! `needlewise ready`: the same-day readiness gate.

use std::path::PathBuf;

use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::readiness::Readiness;

use crate::app::{App, Exit, Failure, read_json};
use crate::{output, prompt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Today's answers as JSON (see docs/answers.md); without it, asked here.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// The roller or pen to use (name or id); defaults to your only one.
    #[arg(long)]
    pub device: Option<String>,
}

/// Runs the gate, stores the check (a home session rests on it) and
/// prints it; shared with `session guide`.
pub fn gate(app: &App, args: &Args, print: bool) -> Result<Readiness, Failure> {
    let base = evidence();
    let profile = app.profile()?;
    let device = match super::resolve_device(app, &profile, args.device.as_deref()) {
        Ok(d) => Some(d),
        Err(_) if args.device.is_none() => None,
        Err(e) => return Err(e),
    };
    let now = app.zoned_now();
    let answers = match &args.answers {
        Some(path) => Answers::from_json(&base.readiness, &read_json(path)?, now.date())?,
        None => prompt::ask_all(&base.readiness, now.date(), Answers::new())?,
    };
    let checked = needlewise_actions::check_readiness(
        app.ctx(&now)?,
        &profile,
        device.as_ref().map(|d| d.id),
        answers,
    )?;
    let result = checked.readiness;
    if !print {
        return Ok(result);
    }
    if app.json {
        output::json(&result)?;
    } else {
        println!("{}", result.headline);
        if let Some(d) = &device {
            let status = d.status(app.now, &base.defaults.hygiene);
            println!(
                "Device: {} — {} ({})",
                d.name, status.state, status.next_step
            );
        } else {
            println!("Device: none registered yet (`needlewise roller add`).");
        }
        if result.go {
            println!(
                "Today's zones: {}",
                result
                    .zones
                    .iter()
                    .map(|z| z.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for r in &result.reasons {
            output::reason(r);
        }
    }
    Ok(result)
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    let result = gate(app, &args, true)?;
    Ok(Exit::stop_if(!result.go))
}
