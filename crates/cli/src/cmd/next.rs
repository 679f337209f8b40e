//! `needlewise next`: the earliest next session and the course.

use needlewise_core::schedule::NextSession;
use serde_json::json;

use crate::app::{App, Exit, Failure};
use crate::output;

pub fn run(app: &App) -> Result<Exit, Failure> {
    let profile = app.profile()?;
    let now = app.zoned_now();
    let ctx = app.ctx(&now)?;
    let next = needlewise_actions::schedule(ctx, profile.id)?;
    let course = needlewise_actions::course(ctx, profile.id)?;
    if app.json {
        output::json(&json!({ "next": next, "course": course }))?;
    } else {
        match &next {
            NextSession::FirstSession { earliest } => println!(
                "Your first session can be today ({earliest}), once `needlewise ready` says go."
            ),
            NextSession::After {
                earliest_at,
                last,
                now_ok,
                explanation,
                ..
            } => {
                let when = if *now_ok {
                    "now or later".to_owned()
                } else {
                    format!("from {}", app.local(*earliest_at))
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
            println!("  {}", course.status_words());
        }
    }
    Ok(Exit::stop_if(next.earliest().is_none()))
}
