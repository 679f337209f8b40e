//! `needlewise checkin`: symptoms compared with the expected course.

use std::path::PathBuf;

use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::ids::EpisodeId;
use serde_json::json;

use crate::app::{App, Exit, Failure, bad, read_json};
use crate::{output, prompt};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<CheckinCommand>,
    /// The answers as JSON (see docs/answers.md); without it, asked here.
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum CheckinCommand {
    /// Past check-ins and red flags.
    List,
    /// Mark a red flag resolved after a doctor examined you. Only when no
    /// clinic sees your check-ins (otherwise your clinician resolves it);
    /// a fresh check-in is asked (or read from --answers) and must show no
    /// warning sign.
    Resolve {
        /// The red flag's id (from `needlewise checkin list`).
        episode: String,
        /// Who examined you (a name, or "my GP").
        #[arg(long)]
        doctor: String,
        /// The day of the examination (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        examined_on: String,
        /// Today's check-in answers as JSON; without it, asked here.
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
    },
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    match args.command {
        Some(CheckinCommand::List) => list(app),
        Some(CheckinCommand::Resolve {
            episode,
            doctor,
            examined_on,
            answers,
        }) => resolve(app, &episode, doctor, &examined_on, answers),
        None => new(app, args.answers),
    }
}

/// The answers from a file, or asked here: the questions asked are those
/// the facts of the last session make apply (the trend, for instance, only
/// once there is something to compare with).
fn read_answers(
    app: &App,
    profile: needlewise_core::ids::ProfileId,
    path: Option<PathBuf>,
) -> Result<Answers, Failure> {
    let base = evidence();
    let now = app.zoned_now();
    let today = now.date();
    Ok(match path {
        Some(path) => Answers::from_json(&base.checkin, &read_json(&path)?, today)?,
        None => {
            let facts = needlewise_actions::checkin_facts(app.ctx(&now)?, profile)?;
            prompt::ask_all(&base.checkin, today, facts.unwrap_or_default())?
                .without_facts(&base.checkin)
        }
    })
}

fn new(app: &App, answers: Option<PathBuf>) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    let answers = read_answers(app, profile.id, answers)?;
    let now = app.zoned_now();
    let checked = needlewise_actions::checkin(app.ctx(&now)?, &profile, answers)?;
    print_checkin(app, &checked)?;
    Ok(Exit::stop_if(checked.triage.locks_sessions))
}

fn print_checkin(app: &App, checked: &needlewise_actions::CheckedIn) -> Result<(), Failure> {
    let (triage, episode) = (&checked.triage, &checked.episode);
    if app.json {
        output::json(&json!({"checkin": checked.record.id, "triage": triage, "episode": episode}))?;
    } else {
        println!("{} — {}", triage.level, triage.headline);
        for r in &triage.reasons {
            output::reason(r);
        }
        if triage.is_partial() {
            println!(
                "\nSome answers are still missing ({}); the warning sign above counts already. Please answer them in a new check-in.",
                triage.missing.join(", ")
            );
        }
        if let Some(e) = episode {
            println!(
                "\nRed flag {} opened: new sessions are locked until it is resolved.",
                e.id
            );
        }
    }
    Ok(())
}

fn list(app: &App) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    let store = app.store()?;
    let checkins = store.checkins(profile.id)?;
    let episodes = store.episodes(profile.id)?;
    if app.json {
        output::json(&json!({"checkins": checkins, "episodes": episodes}))?;
    } else if checkins.is_empty() {
        println!("No check-ins yet. After a session, check in at 24 h, 72 h, 7 and 14 days.");
    } else {
        for c in &checkins {
            println!(
                "{}  {:<16} {}",
                app.local(c.at),
                c.level.id(),
                c.rule_ids.join(", ")
            );
        }
        for e in &episodes {
            let state = match e.resolved_at {
                Some(t) => format!("resolved {} — {}", app.local(t), e.resolution),
                None => "OPEN: sessions locked".to_owned(),
            };
            println!("red flag {}  {}  {state}", e.id, e.level.id());
        }
    }
    Ok(Exit::Ok)
}

fn resolve(
    app: &App,
    episode: &str,
    doctor: String,
    examined_on: &str,
    answers: Option<PathBuf>,
) -> Result<Exit, Failure> {
    let id: EpisodeId = episode.parse().map_err(bad)?;
    let examined_on = needlewise_core::answers::parse_date(examined_on)
        .map_err(|e| bad(format!("--examined-on: {e}")))?;
    let profile = app.profile()?;
    let now = app.zoned_now();
    let ctx = app.ctx(&now)?;
    // Asked before the fresh check-in, so nobody answers it for nothing.
    if let needlewise_core::clinic::ResolvePolicy::ClinicianOf(_) =
        needlewise_actions::who_resolves(ctx, profile.id)?
    {
        return Err(bad(
            "your care team sees your check-ins, so a clinician of your clinic resolves this red flag; please contact them",
        ));
    }
    let answers = read_answers(app, profile.id, answers)?;
    let statement = needlewise_actions::DoctorStatement {
        doctor,
        examined_on,
    };
    match needlewise_actions::resolve_by_person(ctx, &profile, id, statement, answers)? {
        needlewise_actions::Resolution::Resolved(_) => {
            if app.json {
                output::json(&json!({"resolved": id}))?;
            } else {
                println!("Red flag {id} resolved.");
            }
            Ok(Exit::Ok)
        }
        needlewise_actions::Resolution::StillFlagged(checked) => {
            print_checkin(app, &checked)?;
            if !app.json {
                println!(
                    "\nRed flag {id} stays open: today's answers still show a warning sign. Please contact your facial plastic surgeon."
                );
            }
            Ok(Exit::SafetyStop)
        }
    }
}
