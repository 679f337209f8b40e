//! `needlewise session`: the guided session, and logging one done elsewhere.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use needlewise_core::aftercare::serum_gate;
use needlewise_core::evidence;
use needlewise_core::guide;
use needlewise_core::hygiene::{Device, HygieneEvent};
use needlewise_core::ids::SessionId;
use needlewise_core::records::{ProductUse, SessionRecord, ZoneRecord};
use needlewise_core::zone::Zone;
use serde_json::json;
use uuid::Uuid;

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
    /// Record a session done elsewhere.
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
    /// Products applied afterwards (repeatable); each passes the serum gate.
    #[arg(long, value_name = "NAME")]
    product: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct LogArgs {
    /// The zones treated, separated by commas.
    #[arg(long, value_delimiter = ',', required = true)]
    zones: Vec<String>,
    /// The roller or pen used (name or id); it must have been ready.
    #[arg(long)]
    device: Option<String>,
    /// Needle length in mm [default: the device's].
    #[arg(long)]
    needle_mm: Option<f64>,
    /// When it started (RFC 3339) [default: now minus its length].
    #[arg(long, value_name = "RFC3339")]
    started_at: Option<String>,
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    seconds_per_zone: u32,
    /// Products applied (repeatable); recorded with the serum gate's decision.
    #[arg(long, value_name = "NAME")]
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
    check_needle(app, &profile, &device)?;
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
    let elapsed = SignedDuration::try_from(started.elapsed()).unwrap_or(SignedDuration::ZERO);
    let ended_at = started_at.checked_add(elapsed).unwrap_or(started_at);
    let session = build_session(
        app,
        &profile,
        Some(&device),
        started_at,
        ended_at,
        zones,
        &args.product,
        String::new(),
    );
    save(app, session, Some(device))
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
        if zones.iter().any(|r: &ZoneRecord| r.zone == zone) {
            return Err(bad(format!("--zones: {zone} is listed twice")));
        }
        zones.push(ZoneRecord {
            zone,
            seconds: args.seconds_per_zone,
            strokes: None,
            skipped: false,
        });
    }
    let total = SignedDuration::from_secs(i64::from(args.seconds_per_zone) * zones.len() as i64);
    let started_at = match &args.started_at {
        Some(t) => t.parse::<Timestamp>().map_err(|e| {
            bad(format!(
                "--started-at: {t:?} is not an RFC 3339 timestamp ({e})"
            ))
        })?,
        None => app.now.checked_sub(total).unwrap_or(app.now),
    };
    if started_at > app.now {
        return Err(bad("--started-at is in the future"));
    }
    let ended_at = started_at.checked_add(total).unwrap_or(started_at);
    let device = match &args.device {
        Some(d) => Some(super::resolve_device(app, &profile, Some(d))?),
        None => None,
    };
    let needle = match (args.needle_mm, &device) {
        (Some(mm), _) => mm,
        (None, Some(d)) => d.kind.needle_length_mm(),
        (None, None) => return Err(bad("give --needle-mm or --device")),
    };
    if !(needle.is_finite() && needle > 0.0 && needle <= 3.0) {
        return Err(bad("--needle-mm: must be more than 0 and at most 3"));
    }
    let mut session = build_session(
        app,
        &profile,
        device.as_ref(),
        started_at,
        ended_at,
        zones,
        &args.product,
        args.notes,
    );
    session.needle_length_mm = needle;
    save(app, session, device)
}

fn check_needle(
    app: &App,
    profile: &needlewise_core::records::Profile,
    device: &Device,
) -> Result<(), Failure> {
    if let Some(screened) = super::screened_needle(app, profile)?
        && device.kind.needle_length_mm() > screened + 1e-9
    {
        return Err(bad(format!(
            "{} has {} mm needles but your screening was for {screened} mm; screen again with this needle length",
            device.name,
            device.kind.needle_length_mm()
        )));
    }
    Ok(())
}

fn products(app: &App, ended_at: Timestamp, names: &[String]) -> Vec<ProductUse> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|name| {
            // Products go on once the session is over.
            let at = app.now.max(ended_at);
            let d = serum_gate(evidence(), name, ended_at, at);
            if !d.allowed {
                eprintln!("Warning: {} — {}", d.product, d.reason);
            }
            ProductUse {
                name: d.product,
                category: d.category,
                applied_at: at,
                allowed: d.allowed,
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn build_session(
    app: &App,
    profile: &needlewise_core::records::Profile,
    device: Option<&Device>,
    started_at: Timestamp,
    ended_at: Timestamp,
    zones: Vec<ZoneRecord>,
    product_names: &[String],
    notes: String,
) -> SessionRecord {
    SessionRecord {
        id: SessionId(Uuid::now_v7()),
        profile_id: profile.id,
        device_id: device.map(|d| d.id),
        started_at,
        ended_at,
        local_date: app.zoned(started_at).date(),
        needle_length_mm: device.map_or(0.0, |d| d.kind.needle_length_mm()),
        zones,
        products: products(app, ended_at, product_names),
        notes,
    }
}

/// Saves the session; a device used in it is marked used in the same
/// transaction.
fn save(app: &App, session: SessionRecord, device: Option<Device>) -> Result<Exit, Failure> {
    let rules = &evidence().defaults.hygiene;
    let used = match device {
        Some(d) => Some(d.apply(&HygieneEvent::Use, app.now.max(d.updated_at), rules)?),
        None => None,
    };
    app.store()?.log_session(&session, used.as_ref())?;
    report(app, &session)
}

fn report(app: &App, session: &SessionRecord) -> Result<Exit, Failure> {
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
                "{}  {} mm  {}",
                app.local(s.started_at),
                s.needle_length_mm,
                zones.join(", ")
            );
        }
    }
    Ok(Exit::Ok)
}
