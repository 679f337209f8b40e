//! `needlewise session`: the guided session, and logging one done elsewhere.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use needlewise_actions::NewSession;
use needlewise_core::evidence;
use needlewise_core::guide;
use needlewise_core::records::{SessionRecord, SessionSetting, ZoneRecord};
use needlewise_core::zone::Zone;
use serde_json::json;

use crate::app::{App, Exit, Failure, bad};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SessionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SessionCommand {
    /// Walk through today's zones with a countdown, direction prompts and a
    /// bell at every change. The readiness gate runs first.
    Guide(GuideArgs),
    /// Record a session: at home it needs a readiness check that said go
    /// for that device in the hour before it started (`needlewise ready`);
    /// with --clinic, one done in a clinic.
    Log(LogArgs),
    /// Past sessions, newest first.
    List,
}

#[derive(Debug, clap::Args)]
struct GuideArgs {
    #[command(flatten)]
    ready: super::ready::Args,
    /// Seconds for each section (one direction of a zone) [default: the
    /// stroke plan's pace for rollers, 15 s for pens].
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=300))]
    section_seconds: Option<u32>,
    /// Products applied afterwards (repeatable), each as "name: ingredient,
    /// ingredient"; each passes the serum gate, which decides by ingredient.
    #[arg(long, value_name = "PRODUCT")]
    product: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct LogArgs {
    /// The zones treated, separated by commas.
    #[arg(long, value_delimiter = ',', required = true)]
    zones: Vec<String>,
    /// The roller or pen used (name or id); at home it must have been
    /// ready and checked.
    #[arg(long)]
    device: Option<String>,
    /// Done in a clinic by a professional: recorded as a clinic session,
    /// without the home readiness check. It counts for the wait before the
    /// next session and for the course.
    #[arg(long)]
    clinic: bool,
    /// Needle length in mm of a clinic session [default: the device's].
    #[arg(long)]
    needle_mm: Option<f64>,
    /// When it started (RFC 3339) [default: now minus its length].
    #[arg(long, value_name = "RFC3339")]
    started_at: Option<String>,
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    seconds_per_zone: u32,
    /// Products applied (repeatable), each as "name: ingredient, ingredient";
    /// recorded with the serum gate's decision.
    #[arg(long, value_name = "PRODUCT")]
    product: Vec<String>,
    #[arg(long, default_value = "")]
    notes: String,
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    match args.command {
        SessionCommand::Guide(a) => guide(app, a),
        SessionCommand::Log(a) => log(app, a),
        SessionCommand::List => list(app),
    }
}

/// What the person typed during the countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    PauseResume,
    Skip,
    Quit,
}

/// Reads lines from standard input on a thread: Enter pauses or resumes,
/// `s` skips the rest of the zone, `q` ends the session early.
fn keys() -> mpsc::Receiver<Key> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let key = match line.trim() {
                "s" | "skip" => Key::Skip,
                "q" | "quit" => Key::Quit,
                _ => Key::PauseResume,
            };
            if tx.send(key).is_err() {
                break;
            }
        }
    });
    rx
}

fn guide(app: &App, args: GuideArgs) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    if args.ready.device.is_none() && super::resolve_device(app, &profile, None).is_err() {
        return Err(bad(
            "a guided session needs a ready device: add one with `needlewise roller add`",
        ));
    }
    let readiness = super::ready::gate(app, &args.ready, !app.json)?;
    if !readiness.go {
        if app.json {
            output::json(&json!({ "readiness": readiness, "session": null }))?;
        }
        return Ok(Exit::SafetyStop);
    }
    let device = super::resolve_device(app, &profile, args.ready.device.as_deref())?;
    let started = Instant::now();
    let started_at = app.now;
    let mut zones = Vec::new();
    let mut err = std::io::stderr();
    let input = keys();
    let _ = writeln!(
        err,
        "\nDuring a countdown: Enter pauses and resumes, s then Enter skips the zone, q then Enter ends the session."
    );
    let mut quit = false;
    for (i, zone) in readiness.zones.iter().enumerate() {
        if quit {
            break;
        }
        let _ = writeln!(
            err,
            "\x07\nZone {} of {}: {}",
            i + 1,
            readiness.zones.len(),
            zone.label()
        );
        let _ = writeln!(
            err,
            "  Stretch the skin gently. Light pressure: at home no bleeding is expected. Lift the roller between strokes."
        );
        if zone.is_periorbital() {
            let _ = writeln!(
                err,
                "  Stay on the bone below the eye, never inside the orbital rim or on the eyelid."
            );
        }
        let zone_start = Instant::now();
        let mut strokes = 0;
        let mut skipped = false;
        for section in guide::sections(&device.kind, *zone, args.section_seconds) {
            let count = section
                .strokes
                .map(|n| format!(", {n} strokes"))
                .unwrap_or_default();
            let _ = writeln!(err, "  Roll {}{count}.", section.label);
            match countdown(section.seconds, &input, &mut err) {
                None => strokes += section.strokes.unwrap_or(0),
                Some(Key::Skip) => {
                    skipped = true;
                    let _ = writeln!(err, "  Skipped the rest of this zone.");
                    break;
                }
                Some(_) => {
                    quit = true;
                    skipped = true;
                    let _ = writeln!(err, "  Ending the session here.");
                    break;
                }
            }
        }
        zones.push(ZoneRecord {
            zone: *zone,
            seconds: zone_start.elapsed().as_secs() as u32,
            strokes: (strokes > 0).then_some(strokes),
            skipped,
        });
    }
    let _ = writeln!(
        err,
        "\x07\nDone. Rinse the roller now and start its cleaning cycle."
    );
    let _ = started;
    let now = app.zoned_now();
    let session = needlewise_actions::log_session(
        app.ctx(&now)?,
        &profile,
        NewSession {
            id: None,
            ran_for: None,
            setting: SessionSetting::Home,
            device: Some(device.id),
            started_at: Some(started_at),
            zones,
            products: product_names(&args.product),
            notes: String::new(),
            needle_length_mm: None,
        },
    )?;
    report(app, &session)
}

/// Counts down in place. Time is measured with a monotonic clock and only
/// while running, so a pause or a busy machine cannot shorten a section.
/// Returns the key that cut the section short, if any.
fn countdown(seconds: u32, input: &mpsc::Receiver<Key>, err: &mut impl Write) -> Option<Key> {
    let total = Duration::from_secs(u64::from(seconds));
    let mut done = Duration::ZERO;
    let mut running_since = Some(Instant::now());
    loop {
        let elapsed = done + running_since.map_or(Duration::ZERO, |t| t.elapsed());
        if elapsed >= total {
            let _ = write!(err, "\r              \r");
            return None;
        }
        match input.try_recv() {
            Ok(Key::PauseResume) => match running_since.take() {
                Some(t) => {
                    done += t.elapsed();
                    let _ = write!(err, "\r    paused — Enter resumes ");
                }
                None => running_since = Some(Instant::now()),
            },
            Ok(other) => return Some(other),
            Err(_) => {}
        }
        if running_since.is_some() {
            let left = (total - elapsed).as_secs() + 1;
            let _ = write!(err, "\r    {left:>3} s                 ");
        }
        let _ = err.flush();
        std::thread::sleep(Duration::from_millis(100).min(total - elapsed));
    }
}

fn log(app: &App, args: LogArgs) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    let mut zones = Vec::new();
    for z in &args.zones {
        let zone: Zone = z.trim().parse().map_err(|e| bad(format!("--zones: {e}")))?;
        zones.push(ZoneRecord {
            zone,
            seconds: args.seconds_per_zone,
            strokes: None,
            skipped: false,
        });
    }
    let started_at = match &args.started_at {
        Some(t) => Some(t.parse::<Timestamp>().map_err(|e| {
            bad(format!(
                "--started-at: {t:?} is not an RFC 3339 timestamp ({e})"
            ))
        })?),
        None => None,
    };
    let device = match &args.device {
        Some(d) => Some(super::resolve_device(app, &profile, Some(d))?),
        None if args.clinic => None,
        None => super::resolve_device(app, &profile, None).ok(),
    };
    if !args.clinic
        && let (Some(mm), Some(d)) = (args.needle_mm, &device)
        && (mm - d.kind.needle_length_mm()).abs() > 1e-9
    {
        return Err(bad(format!(
            "--needle-mm: a home session uses the device's needle ({} mm)",
            d.kind.needle_length_mm()
        )));
    }
    let now = app.zoned_now();
    let session = needlewise_actions::log_session(
        app.ctx(&now)?,
        &profile,
        NewSession {
            id: None,
            ran_for: None,
            setting: if args.clinic {
                SessionSetting::Clinic
            } else {
                SessionSetting::Home
            },
            device: device.map(|d| d.id),
            started_at,
            zones,
            products: product_names(&args.product),
            notes: args.notes,
            needle_length_mm: args.needle_mm,
        },
    )?;
    report(app, &session)
}

fn product_names(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect()
}

fn report(app: &App, session: &SessionRecord) -> Result<Exit, Failure> {
    for p in session.products.iter().filter(|p| !p.allowed) {
        eprintln!(
            "Warning: {} is recorded, but not advised yet; see `needlewise aftercare`.",
            p.name
        );
    }
    let due = needlewise_core::triage::checkin_schedule(evidence(), session.ended_at);
    if app.json {
        output::json(&json!({"session": session, "checkins_due": due}))?;
    } else {
        println!(
            "Session saved: {} zones, {} mm, {}.",
            session.zones.len(),
            session.needle_length_mm,
            app.local(session.ended_at)
        );
        println!(
            "Check in at: {}",
            due.iter()
                .map(|t| app.local(*t))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("See `needlewise aftercare` for what to avoid and for how long.");
    }
    Ok(Exit::Ok)
}

fn list(app: &App) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    let sessions = app.store()?.sessions(profile.id)?;
    if app.json {
        output::json(&sessions)?;
    } else if sessions.is_empty() {
        println!("No sessions yet. `needlewise session guide` walks you through one.");
    } else {
        for s in &sessions {
            let zones: Vec<&str> = s.zones.iter().map(|z| z.zone.id()).collect();
            println!(
                "{}  {} mm  {:<6}  {}",
                app.local(s.started_at),
                s.needle_length_mm,
                s.setting.id(),
                zones.join(", ")
            );
        }
    }
    Ok(Exit::Ok)
}
