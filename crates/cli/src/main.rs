//! `needlewise`: the command line over the same core the web app uses.
#![forbid(unsafe_code)]

mod app;
mod cmd;
mod output;
mod prompt;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{Exit, Failure};

const EXIT_CODES: &str = "\
Exit codes:
  0  done; the answer is go
  1  something went wrong (the store could not be opened, a file could not be written)
  2  bad input: a malformed file, an unknown answer id, an impossible date, a wrong transition
  3  a safety stop: not at home, ask your surgeon first, no-go today, or a red flag

needlewise is decision support, not a medical device. When in doubt, ask your facial plastic surgeon.";

/// A safety-first companion for microneedling your face at home.
///
/// needlewise screens whether home microneedling is safe for you, checks
/// each day that you and your roller are ready, guides the session zone by
/// zone, tracks the roller's cleaning cycle, tells you when the next session
/// may be, and compares your check-ins with the expected course. Every
/// verdict cites its evidence (`needlewise evidence`).
#[derive(Debug, Parser)]
#[command(name = "needlewise", version, after_long_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// Where the SQLite store lives [default: $XDG_DATA_HOME/needlewise].
    #[arg(long, global = true, env = "NEEDLEWISE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead, e.g. postgres://user@localhost/needlewise.
    #[arg(
        long,
        global = true,
        env = "NEEDLEWISE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Whose data: a household can keep several profiles.
    #[arg(long, global = true, env = "NEEDLEWISE_PROFILE", default_value = "me")]
    pub profile: String,
    /// Pretend it is this moment (RFC 3339, e.g. 2026-11-25T20:00:00Z), for
    /// reproducible results.
    #[arg(long, global = true, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web app (SQLite in the data dir by default), at
    /// http://127.0.0.1:8080 unless told otherwise.
    Serve(cmd::serve::Args),
    /// Print a documented example configuration file.
    DefaultConfig,
    /// Check whether microneedling at home is safe for you.
    ///
    /// With --answers, reads a JSON answer file (see docs/answers.md or
    /// `needlewise screen --template`); without it, asks the questions that
    /// apply, one by one.
    Screen(cmd::screen::Args),
    /// Today's go or no-go: your skin, your roller, the interval, red flags.
    Ready(cmd::ready::Args),
    /// Register rollers and pens and walk them through their cleaning cycle.
    Roller(cmd::roller::Args),
    /// The earliest next session and the course plan.
    Next,
    /// What to avoid after your last session, and the serum gate.
    Aftercare(cmd::aftercare::Args),
    /// Report how your skin is doing after a session.
    Checkin(cmd::checkin::Args),
    /// Run a guided session or log one done elsewhere.
    Session(cmd::session::Args),
    /// Punctures per cm², coverage and a stroke plan per zone.
    Coverage(cmd::coverage::Args),
    /// Every rule and source needlewise uses.
    Evidence,
    /// Export your data: `ics` (your calendar), `fhir` (FHIR R4 JSON),
    /// `pdf` (a referral report for your surgeon), `all` (one ZIP of
    /// everything, photos included).
    Export(cmd::export::Args),
    /// Manage the profiles of a household.
    Profile(cmd::profile::Args),
    /// Write a backup of the whole store to one checked file; safe while
    /// `needlewise serve` runs.
    Backup(cmd::backup::BackupArgs),
    /// Restore a backup made by `needlewise backup` (into an empty store,
    /// or with --replace). A damaged or foreign file changes nothing.
    Restore(cmd::backup::RestoreArgs),
    /// Copy everything from one store to another (SQLite ⇄ PostgreSQL),
    /// then compare row counts and checksums on both sides.
    MigrateStore(cmd::migrate_store::Args),
    /// Delete every profile of this computer's store, with all their data
    /// and photos.
    DeleteAll(cmd::delete_all::Args),
}

/// mimalloc, measured against glibc's malloc with scripts/soak: see
/// ARCHITECTURE.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    match run(cli) {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(Exit::SafetyStop) => ExitCode::from(3),
        Err(Failure::BadInput(message)) => {
            eprintln!("needlewise: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Refused { message, reasons }) => {
            eprintln!("needlewise: {message} Nothing was saved.");
            for r in &reasons {
                output::reason_to_stderr(r);
            }
            ExitCode::from(3)
        }
        Err(Failure::Other(e)) => {
            eprintln!("needlewise: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Everything needlewise creates is its owner's alone: directories 0700 and
/// files 0600 (the database and its journal, photos, backups, exports),
/// whatever the shell's umask. A health record is not for the other
/// accounts of the same computer.
fn private_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// A reader that closes the pipe early (`needlewise next | head -1`) ends
/// the command quietly, as Unix tools do, instead of with a panic and a
/// stack trace: exit status 141, as for a process ended by SIGPIPE. Not for
/// `serve`, whose connections close all the time.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn run(cli: Cli) -> Result<Exit, Failure> {
    needlewise_core::try_evidence().map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))?;
    let app = app::App::new(&cli.global)?;
    match cli.command {
        Command::Serve(args) => cmd::serve::run(&app, args),
        Command::DefaultConfig => cmd::serve::default_config(),
        Command::Screen(args) => cmd::screen::run(&app, args),
        Command::Ready(args) => cmd::ready::run(&app, args),
        Command::Roller(args) => cmd::roller::run(&app, args),
        Command::Next => cmd::next::run(&app),
        Command::Aftercare(args) => cmd::aftercare::run(&app, args),
        Command::Checkin(args) => cmd::checkin::run(&app, args),
        Command::Session(args) => cmd::session::run(&app, args),
        Command::Coverage(args) => cmd::coverage::run(&app, args),
        Command::Evidence => cmd::evidence::run(&app),
        Command::Export(args) => cmd::export::run(&app, args),
        Command::Profile(args) => cmd::profile::run(&app, args),
        Command::Backup(args) => cmd::backup::backup(&app, args),
        Command::Restore(args) => cmd::backup::restore(&app, args),
        Command::MigrateStore(args) => cmd::migrate_store::run(&app, args),
        Command::DeleteAll(args) => cmd::delete_all::run(&app, args),
    }
}
