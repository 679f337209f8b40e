//! `needlewise checkin`: symptoms compared with the expected course.

use std::path::PathBuf;

use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::ids::{CheckinId, EpisodeId};
use needlewise_core::records::{CheckinRecord, Episode};
use needlewise_core::triage::assess;
use serde_json::json;
use uuid::Uuid;

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
    /// Mark a red flag resolved, once your surgeon has seen it.
    Resolve {
        /// The red flag's id (from `needlewise checkin list`).
        episode: String,
        /// Who cleared it and what they said.
        #[arg(long)]
        note: String,
    },
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    match args.command {
        Some(CheckinCommand::List) => list(app),
        Some(CheckinCommand::Resolve { episode, note }) => resolve(app, &episode, &note),
        None => new(app, args.answers),
    }
}

fn new(app: &App, answers: Option<PathBuf>) -> Result<Exit, Failure> {
    let base = evidence();
    let profile = app.profile()?;
    let store = app.store()?;
    let Some(session) = store.last_session(profile.id)? else {
        return Err(bad(
            "no session to check in about yet; log one with `needlewise session log`",
        ));
    };
    let answers = match answers {
        Some(path) => Answers::from_json(&base.checkin, &read_json(&path)?, app.today())?,
        None => prompt::ask_all(&base.checkin, app.today(), Answers::new())?,
    };
    let triage = assess(base, &answers, session.ended_at, app.now, app.today())?;
    let record = CheckinRecord {
        id: CheckinId(Uuid::now_v7()),
        profile_id: profile.id,
        session_id: Some(session.id),
        at: app.now,
        answers,
        level: triage.level,
        rule_ids: triage.reasons.iter().map(|r| r.rule_id.clone()).collect(),
    };
    let episode = triage.locks_sessions.then(|| Episode {
        id: EpisodeId(Uuid::now_v7()),
        profile_id: profile.id,
        checkin_id: record.id,
        level: triage.level,
        opened_at: app.now,
        resolved_at: None,
        resolution: String::new(),
    });
    store.save_checkin(&record, episode.as_ref())?;
    if app.json {
        output::json(&json!({"checkin": record.id, "triage": triage, "episode": episode}))?;
    } else {
        println!("{} — {}", triage.level, triage.headline);
        for r in &triage.reasons {
            output::reason(r);
        }
        if let Some(e) = &episode {
            println!(
                "\nRed flag {} opened: new sessions are locked until it is resolved",
                e.id
            );
            println!(
                "(`needlewise checkin resolve {} --note \"…\"` once your surgeon has seen it).",
                e.id
            );
        }
    }
    Ok(Exit::stop_if(triage.locks_sessions))
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

fn resolve(app: &App, episode: &str, note: &str) -> Result<Exit, Failure> {
    let id: EpisodeId = episode.parse().map_err(bad)?;
    let note = note.trim();
    if note.len() < 3 {
        return Err(bad("--note: say who cleared it and what they said"));
    }
    let profile = app.profile()?;
    app.store()?
        .resolve_episode(profile.id, id, app.now, note)?;
    if !app.json {
        println!("Red flag {id} resolved.");
    } else {
        output::json(&json!({"resolved": id}))?;
    }
    Ok(Exit::Ok)
}
