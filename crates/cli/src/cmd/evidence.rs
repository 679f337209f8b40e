//! `needlewise evidence`: every rule and source.

use needlewise_core::evidence;

use crate::app::{App, Exit, Failure};
use crate::output;

pub fn run(app: &App) -> Result<Exit, Failure> {
    let base = evidence();
    if app.json {
        output::json(base)?;
        return Ok(Exit::Ok);
    }
    for q in base.questionnaires() {
        println!(
            "{} — {} questions, {} rules",
            q.questionnaire.id(),
            q.questions.len(),
            q.rules.len()
        );
        for r in &q.rules {
            println!(
                "  {:<40} {:?}  {:<17} {}",
                r.id,
                r.grade,
                format!("{:?}", r.outcome),
                r.title
            );
            println!("  {:<40}     sources: {}", "", r.sources.join(", "));
        }
        println!();
    }
    println!(
        "Grades: V read in the primary source · S secondary source · K background knowledge · L common practice\n"
    );
    println!("Sources");
    for s in &base.sources {
        let link = s
            .url
            .clone()
            .or_else(|| s.doi.as_ref().map(|d| format!("https://doi.org/{d}")));
        println!("  {:<20} {}", s.id, s.citation);
        if let Some(link) = link {
            println!("  {:<20} {link}", "");
        }
    }
    Ok(Exit::Ok)
}
