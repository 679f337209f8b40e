//! Aftercare: what to avoid after a session and for how long, and the serum
//! gate that decides whether a product may touch freshly needled skin.

use jiff::Timestamp;
use serde::Serialize;

use crate::evidence::EvidenceBase;

/// One aftercare restriction, placed in time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AftercareStep {
    pub id: String,
    pub title: String,
    pub avoid: String,
    pub until: Timestamp,
    /// Still in force at `now`.
    pub active: bool,
    pub explanation: String,
}

/// The aftercare timeline for a session that ended at `ended_at`, ordered by
/// when each restriction lifts.
pub fn timeline(base: &EvidenceBase, ended_at: Timestamp, now: Timestamp) -> Vec<AftercareStep> {
    let mut steps: Vec<AftercareStep> = base
        .defaults
        .aftercare
        .iter()
        .map(|item| {
            let until = ended_at
                .checked_add(item.duration.0)
                .unwrap_or(Timestamp::MAX);
            AftercareStep {
                id: item.id.clone(),
                title: item.title.clone(),
                avoid: item.avoid.clone(),
                until,
                active: now < until,
                explanation: item.cited.explanation.clone(),
            }
        })
        .collect();
    steps.sort_by_key(|s| s.until);
    steps
}

/// The serum gate's decision about one product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateDecision {
    pub product: String,
    pub category: String,
    pub allowed: bool,
    /// When this product becomes allowed.
    pub allowed_from: Timestamp,
    pub reason: String,
}

/// The category for products needlewise does not recognise.
pub const UNKNOWN_CATEGORY: &str = "unrecognised";

/// Whether `product` may be applied at `now` after a session that ended at
/// `ended_at`. Unrecognised products wait as long as the strictest actives.
pub fn serum_gate(
    base: &EvidenceBase,
    product: &str,
    ended_at: Timestamp,
    now: Timestamp,
) -> GateDecision {
    let name = product.trim();
    let lower = name.to_lowercase();
    let rule = base
        .defaults
        .products
        .iter()
        .find(|p| p.keywords.iter().any(|k| lower.contains(k.as_str())));
    let strictest = base
        .defaults
        .products
        .iter()
        .map(|p| p.allowed_after)
        .max()
        .map(|d| d.0)
        .unwrap_or_default();
    let (category, wait) = match rule {
        Some(r) => (r.category.clone(), r.allowed_after.0),
        None => (UNKNOWN_CATEGORY.to_owned(), strictest),
    };
    let allowed_from = ended_at.checked_add(wait).unwrap_or(Timestamp::MAX);
    let allowed = now >= allowed_from;
    let serum_window = base
        .defaults
        .aftercare
        .iter()
        .find(|a| a.id == "serum")
        .map(|a| a.cited.explanation.as_str())
        .unwrap_or_default();
    let reason = match (allowed, category.as_str()) {
        (true, "plain_hyaluronic_acid") => {
            "Allowed: use only a plain, sterile, fragrance-free hyaluronic acid with nothing added."
                .to_owned()
        }
        (true, _) => "Allowed now.".to_owned(),
        (false, UNKNOWN_CATEGORY) => format!(
            "needlewise does not recognise this product, so it waits as long as the strongest actives, until {allowed_from}. {serum_window} If you are unsure, ask your facial plastic surgeon."
        ),
        (false, _) => format!(
            "Not yet: {} products are allowed from {allowed_from}. {serum_window}",
            category.replace('_', " ")
        ),
    };
    GateDecision {
        product: name.to_owned(),
        category,
        allowed,
        allowed_from,
        reason,
    }
}
