//! `needlewise next`: the earliest next session and the course.

use needlewise_core::evidence;
use needlewise_core::schedule::{NextSession, course_plan};
use serde_json::json;

use crate::app::{App, Exit, Failure};
use crate::output;

pub fn run(app: &App) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    let next = super::schedule(app, &profile)?;
    let sessions = app.store()?.sessions(profile.id)?;
    let needle = match sessions.first() {
        Some(s) => Some(s.needle_length_mm),
        None => super::screened_needle(app, &profile)?,
    };
    let course = needle.map(|mm| {
        let start = sessions.last().map_or(app.today(), |s| s.local_date);
        course_plan(evidence(), start, mm, sessions.len() as u32)
    });
    if app.json {
        output::json(&json!({ "next": next, "course": course }))?;
    } else {
        match &next {
            NextSession::FirstSession { earliest } => println!(
                "Your first session can be today ({earliest}), once `needlewise ready` says go."
            ),
            NextSession::After {
                earliest,
                last,
                today_ok,
                explanation,
                ..
            } => {
                let when = if *today_ok {
                    "today or later".to_owned()
                } else {
                    format!("from {earliest}")
                };
                println!("Last session {last}; the next can be {when}.");
                for line in output::wrap(explanation, 76) {
                    println!("  {line}");
                }
            }
            NextSession::Locked { explanation } | NextSession::ClinicOnly { explanation } => {
                println!("No date: {explanation}")
            }
        }
        if let Some(course) = course {
            println!("\nCourse plan:");
            for s in &course.sessions {
                println!(
                    "  {} session {} — {}",
                    if s.done { "✓" } else { "·" },
                    s.number,
                    s.date
                );
            }
            if let Some(r) = course.review_on {
                println!("  review results around {r}");
            }
        }
    }
    Ok(Exit::stop_if(next.earliest().is_none()))
}
