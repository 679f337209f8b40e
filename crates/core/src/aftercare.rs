//! Aftercare: what to avoid after a session and for how long, and the serum
//! gate that decides whether a product may touch freshly needled skin.

use jiff::Timestamp;
use serde::Serialize;

use crate::evidence::{EvidenceBase, IngredientClass};

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

/// A product as the person describes it: its name, a colon, then the
/// ingredients from its label separated by commas (`Night serum: aqua,
/// sodium hyaluronate`). Without a colon the whole text is read as the
/// ingredient list, so `hyaluronic acid` alone is one ingredient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductLabel {
    pub name: String,
    pub ingredients: Vec<String>,
}

impl ProductLabel {
    pub fn parse(text: &str) -> ProductLabel {
        let text = text.trim();
        let (name, list) = match text.split_once(':') {
            Some((name, list)) if !name.trim().is_empty() => (name.trim(), list),
            Some((_, list)) => (list.trim(), list),
            None => (text, text),
        };
        let ingredients = list
            .split([',', ';', '\n', '+'])
            .map(normalise)
            .filter(|i| !i.is_empty())
            .collect();
        ProductLabel {
            name: name.to_owned(),
            ingredients,
        }
    }
}

/// Lower case, single spaces, without concentrations (`0.5%`) and the
/// marks labels add (`*` for organic, a closing full stop).
fn normalise(raw: &str) -> String {
    raw.split_whitespace()
        .filter(|w| !w.contains('%'))
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['*', '.'])
        .trim()
        .to_lowercase()
}

/// The names an ingredient may be known by: as written, without a
/// parenthesis, the parenthesis alone (`parfum (fragrance)`), and each
/// side of a slash (`aqua/water`).
fn candidates(ingredient: &str) -> Vec<String> {
    let mut out = vec![ingredient.to_owned()];
    if let (Some(open), Some(close)) = (ingredient.find('('), ingredient.rfind(')'))
        && open < close
    {
        let outside = format!("{} {}", &ingredient[..open], &ingredient[close + 1..]);
        out.push(normalise(&outside));
        out.push(normalise(&ingredient[open + 1..close]));
    }
    let slashed: Vec<String> = out
        .iter()
        .filter(|c| c.contains('/'))
        .flat_map(|c| c.split('/').map(normalise).collect::<Vec<_>>())
        .collect();
    out.extend(slashed);
    out.retain(|c| !c.is_empty());
    out
}

/// One ingredient and the class the gate placed it in (`None`: unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngredientVerdict {
    pub name: String,
    pub class: Option<String>,
}

/// The serum gate's decision about one product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateDecision {
    pub product: String,
    /// The class of the ingredient that waits longest, or
    /// [`UNKNOWN_CATEGORY`] when an ingredient is unknown.
    pub category: String,
    pub allowed: bool,
    /// When this product becomes allowed.
    pub allowed_from: Timestamp,
    pub ingredients: Vec<IngredientVerdict>,
    /// Ingredients the gate does not know; the product waits the longest
    /// wait of all while any are listed.
    pub unknown: Vec<String>,
    pub reason: String,
}

/// The category for products with an ingredient needlewise does not know.
pub const UNKNOWN_CATEGORY: &str = "unrecognised";

/// The classes an ingredient belongs to: by exact name, and by part of a
/// name for the classes that allow that.
fn classes_of<'a>(base: &'a EvidenceBase, ingredient: &str) -> Vec<&'a IngredientClass> {
    let names = candidates(ingredient);
    base.defaults
        .ingredients
        .iter()
        .filter(|c| {
            c.names.iter().any(|n| names.contains(n))
                || c.contains
                    .iter()
                    .any(|part| ingredient.contains(part.as_str()))
        })
        .collect()
}

/// Whether the product `text` (see [`ProductLabel`]) may be applied at
/// `now` after a session that ended at `ended_at`. The gate is an
/// allow-list by ingredient: a product waits for its slowest ingredient,
/// and a product with an unknown ingredient, or none listed, waits as long
/// as the strictest class.
pub fn serum_gate(
    base: &EvidenceBase,
    text: &str,
    ended_at: Timestamp,
    now: Timestamp,
) -> GateDecision {
    let label = ProductLabel::parse(text);
    let strictest = base
        .defaults
        .ingredients
        .iter()
        .map(|c| c.allowed_after.0)
        .max()
        .unwrap_or_default();
    let mut ingredients = Vec::new();
    let mut unknown = Vec::new();
    // The slowest ingredient sets the wait; among equal waits, the class
    // listed first in the evidence base names the product.
    let rank = |c: &IngredientClass| {
        let position = base
            .defaults
            .ingredients
            .iter()
            .position(|x| x.class == c.class);
        (c.allowed_after, std::cmp::Reverse(position))
    };
    let mut slowest: Option<(&IngredientClass, &str)> = None;
    for ingredient in &label.ingredients {
        let classes = classes_of(base, ingredient);
        let class = classes.iter().copied().max_by_key(|c| rank(c));
        match class {
            None => unknown.push(ingredient.clone()),
            Some(c) if slowest.is_none_or(|(s, _)| rank(c) > rank(s)) => {
                slowest = Some((c, ingredient));
            }
            Some(_) => {}
        }
        ingredients.push(IngredientVerdict {
            name: ingredient.clone(),
            class: class.map(|c| c.class.clone()),
        });
    }
    let unsure = !unknown.is_empty() || ingredients.is_empty();
    let (category, wait) = match slowest {
        _ if unsure => (UNKNOWN_CATEGORY.to_owned(), strictest),
        Some((c, _)) => (c.class.clone(), c.allowed_after.0),
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
    let plain_ha = !unsure && wait.is_zero();
    let reason = if allowed && plain_ha {
        "Allowed: plain hyaluronic acid. Use a sterile, fragrance-free product with nothing else in it.".to_owned()
    } else if allowed {
        "Allowed now.".to_owned()
    } else if let (false, Some((class, ingredient))) = (unsure, slowest) {
        format!(
            "Not yet: {ingredient} ({}) may go on needled skin from {allowed_from}. {serum_window}",
            class.title.to_lowercase()
        )
    } else if ingredients.is_empty() {
        format!(
            "needlewise decides by ingredients, not by a product's name: type the name, a colon, then the ingredients from the label, separated by commas. Until then it waits as long as the strongest actives, until {allowed_from}. {serum_window}"
        )
    } else {
        format!(
            "needlewise does not know {}, so this product waits as long as the strongest actives, until {allowed_from}. {serum_window} If you want to use it sooner, ask your facial plastic surgeon.",
            unknown.join(", ")
        )
    };
    GateDecision {
        product: label.name,
        category,
        allowed,
        allowed_from,
        ingredients,
        unknown,
        reason,
    }
}
