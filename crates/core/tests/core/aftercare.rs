use jiff::{SignedDuration, Timestamp};
use needlewise_core::aftercare::{UNKNOWN_CATEGORY, serum_gate, timeline};
use needlewise_core::evidence;
use needlewise_core::triage::checkin_schedule;

fn ended() -> Timestamp {
    "2026-11-25T20:00:00Z".parse().unwrap()
}

fn hours(h: i64) -> Timestamp {
    ended().checked_add(SignedDuration::from_hours(h)).unwrap()
}

#[test]
fn only_plain_hyaluronic_acid_in_the_first_day() {
    let ha = serum_gate(
        evidence(),
        "Plain HA serum: Aqua, Sodium Hyaluronate",
        ended(),
        hours(1),
    );
    assert!(ha.allowed, "{}", ha.reason);
    assert_eq!(ha.product, "Plain HA serum");
    assert_eq!(ha.category, "hyaluronic_acid");
    let vit_c = serum_gate(
        evidence(),
        "Brightening serum: aqua, ascorbic acid",
        ended(),
        hours(1),
    );
    assert!(!vit_c.allowed);
    assert_eq!(vit_c.category, "vitamin_c");
    assert!(
        vit_c.reason.contains("granuloma"),
        "the refusal says why: {}",
        vit_c.reason
    );
    let moisturiser = "night cream: aqua, glycerin, squalane, phenoxyethanol";
    assert!(!serum_gate(evidence(), moisturiser, ended(), hours(2)).allowed);
    assert!(serum_gate(evidence(), moisturiser, ended(), hours(25)).allowed);
}

#[test]
fn a_mixed_product_takes_its_slowest_ingredient() {
    let mixed = serum_gate(
        evidence(),
        "Hyaluronic acid + vitamin C",
        ended(),
        hours(30),
    );
    assert!(!mixed.allowed);
    assert_eq!(mixed.category, "vitamin_c");
    assert_eq!(mixed.ingredients.len(), 2);
}

#[test]
fn actives_wait_a_week_and_unknown_ingredients_wait_longest() {
    assert!(!serum_gate(evidence(), "retinol 0.5%", ended(), hours(24 * 6)).allowed);
    assert!(serum_gate(evidence(), "retinol 0.5%", ended(), hours(24 * 7)).allowed);
    let unknown = serum_gate(evidence(), "Mystery elixir", ended(), hours(24 * 8));
    assert_eq!(unknown.category, UNKNOWN_CATEGORY);
    assert_eq!(unknown.unknown, ["mystery elixir"]);
    assert!(!unknown.allowed);
    assert!(unknown.reason.contains("ask your facial plastic surgeon"));
}

#[test]
fn the_timeline_lifts_restrictions_in_order() {
    let steps = timeline(evidence(), ended(), hours(30));
    let by_id = |id: &str| steps.iter().find(|s| s.id == id).unwrap();
    assert!(!by_id("makeup").active, "make-up is fine after 24 h");
    assert!(by_id("exercise").active, "no exercise until 72 h");
    assert_eq!(by_id("pool_sauna").until, hours(72));
    assert_eq!(by_id("actives").until, hours(24 * 7));
    assert!(steps.windows(2).all(|w| w[0].until <= w[1].until));
}

#[test]
fn check_ins_fall_in_each_window() {
    let due = checkin_schedule(evidence(), ended());
    assert_eq!(
        due,
        vec![hours(24), hours(72), hours(24 * 7), hours(24 * 14)]
    );
}
