//! Every rule and source.

use axum::response::Response;
use needlewise_core::evidence;

use super::page;
use crate::auth::Auth;
use crate::views::{Chrome, EvidencePage, RuleView};

/// Public: the evidence is the same for everyone. A logged-in visitor gets
/// the full navigation.
pub async fn show(auth: Option<Auth>) -> Response {
    let base = evidence();
    let groups = base
        .questionnaires()
        .into_iter()
        .map(|q| {
            let rules = q
                .rules
                .iter()
                .map(|r| RuleView {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    outcome: serde_json::to_value(r.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                        .unwrap_or_default(),
                    grade: format!("{:?}", r.grade),
                    explanation: r.explanation.clone(),
                    policy: r.policy.clone().unwrap_or_default(),
                    sources: r.sources.clone(),
                })
                .collect();
            let title = match q.questionnaire {
                needlewise_core::evidence::QuestionnaireKind::Screening => "Screening",
                needlewise_core::evidence::QuestionnaireKind::Readiness => "Readiness on the day",
                needlewise_core::evidence::QuestionnaireKind::Checkin => {
                    "Check-ins after a session"
                }
            };
            (title.to_owned(), rules)
        })
        .collect();
    let sources = base
        .sources
        .iter()
        .map(|s| {
            let link = s
                .url
                .clone()
                .or_else(|| s.doi.as_ref().map(|d| format!("https://doi.org/{d}")));
            (s.id.clone(), s.citation.clone(), link.unwrap_or_default())
        })
        .collect();
    let chrome = match &auth {
        Some(a) => a.chrome("Evidence", "evidence"),
        None => Chrome::public("Evidence"),
    };
    page(&EvidencePage {
        chrome,
        groups,
        sources,
    })
}
