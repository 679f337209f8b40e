//! `needlewise aftercare`: the timeline after the last session, and the
//! serum gate.

use needlewise_core::aftercare::timeline;
use needlewise_core::evidence;
use serde_json::json;

use crate::app::{App, Exit, Failure};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ask the serum gate about a product, and record it as applied when it
    /// is allowed (repeatable): its name, a colon, then the ingredients from
    /// the label, e.g. --product "HA serum: aqua, sodium hyaluronate".
    #[arg(long, value_name = "NAME")]
    product: Vec<String>,
    /// Only ask; record nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    let base = evidence();
    let profile = app.profile()?;
    let store = app.store()?;
    let Some(session) = store.last_session(profile.id)? else {
        if app.json {
            output::json(&json!({"session": null, "steps": [], "products": []}))?;
        } else {
            println!("No session yet: aftercare starts when you log one.");
        }
        return Ok(Exit::Ok);
    };
    let steps = timeline(base, session.ended_at, app.now);
    let now = app.zoned_now();
    let mut decisions = Vec::new();
    for name in &args.product {
        if let Some((_, decision)) =
            needlewise_actions::aftercare_product(app.ctx(&now)?, profile.id, name, args.dry_run)?
        {
            decisions.push(decision);
        }
    }
    if app.json {
        output::json(
            &json!({"session": session.id, "ended_at": session.ended_at, "steps": steps, "products": decisions}),
        )?;
    } else {
        println!(
            "Aftercare for the session of {}:",
            app.local(session.ended_at)
        );
        for s in &steps {
            let mark = if s.active { "avoid" } else { "ok   " };
            println!("  {mark} {:<34} until {}", s.title, app.local(s.until));
        }
        for d in &decisions {
            let verdict = if d.allowed { "allowed" } else { "refused" };
            println!(
                "\n{}: {verdict} ({})",
                d.product,
                d.category.replace('_', " ")
            );
            for line in output::wrap(&d.reason, 76) {
                println!("  {line}");
            }
        }
    }
    Ok(Exit::stop_if(decisions.iter().any(|d| !d.allowed)))
}
