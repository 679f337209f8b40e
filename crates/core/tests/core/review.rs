//! Issue 15, clinical review second pass: each test is named after the
//! item it checks, and failed before the change it guards.

use needlewise_core::evidence;
use needlewise_core::evidence::{Grade, Outcome, Rule};

fn rule(id: &str) -> &'static Rule {
    evidence()
        .rule(id)
        .unwrap_or_else(|| panic!("no rule {id}"))
}

fn cites(r: &Rule, source: &str) -> bool {
    r.sources.iter().any(|s| s == source)
}

// ------------------------------------------------ §3 citations that carry

#[test]
fn citation_screen_tattoo_cites_a_source_about_tattoos() {
    let r = rule("screen.tattoo");
    assert!(!cites(r, "PRACTICE-PROCEDURES"), "{:?}", r.sources);
    assert!(cites(r, "PRACTICE-TATTOO"), "{:?}", r.sources);
    let source = evidence().source("PRACTICE-TATTOO").unwrap();
    assert!(source.citation.contains("tattoo"));
    assert_eq!(r.grade, Grade::L);
}

#[test]
fn citation_orbital_rim_cites_the_chapter_that_reports_the_fda_review() {
    let r = rule("screen.periorbital.orbital_rim");
    assert!(cites(r, "CH21"), "{:?}", r.sources);
    let chapter = evidence().source("CH21").unwrap();
    assert!(chapter.citation.contains("orbital rim"));
    assert!(r.explanation.contains("textbook chapter"));
    assert_eq!(r.grade, Grade::S, "the chapter is a restatement");
}

#[test]
fn citation_needle_clinic_only_line_is_not_graded_as_regulation() {
    let r = rule("screen.needle.clinic_only");
    assert_eq!(r.outcome, Outcome::NotAtHome);
    assert_eq!(r.grade, Grade::L, "no regulator set a numeric line");
    assert!(cites(r, "PRACTICE-HOME"));
    let policy = r.policy.as_deref().expect("a low-grade hard stop says why");
    assert!(policy.contains("No regulator"), "{policy}");
    assert!(r.explanation.contains("No regulator has set"));
}

#[test]
fn citation_roller_use_limit_is_graded_as_vendor_advice() {
    let replace = &evidence().defaults.hygiene.replace;
    assert_eq!(replace.max_uses, 10);
    assert_eq!(replace.cited.grade, Grade::L);
    assert!(replace.cited.explanation.contains("No study has measured"));
    assert!(replace.cited.explanation.contains("vendors advise"));
}

#[test]
fn citation_metal_allergy_does_not_claim_lumps_for_months() {
    let r = rule("screen.metal_allergy");
    assert!(
        !r.explanation.contains("months"),
        "lasting lumps are documented for serums (R10-R12), not metal: {}",
        r.explanation
    );
    assert!(r.explanation.contains("tested negative for nickel"));
    assert!(cites(r, "R54") && cites(r, "R8") && cites(r, "R51"));
}

#[test]
fn citation_shared_device_says_exactly_what_r44_reports() {
    let r = rule("checkin.shared_device");
    assert!(
        !r.explanation.contains("has spread HIV"),
        "{}",
        r.explanation
    );
    assert!(r.explanation.contains("presumed"));
    assert!(r.explanation.contains("PRP"));
    assert!(cites(r, "R44"));
}

#[test]
fn citation_ready_actives_cites_pre_care_not_aftercare_sheets() {
    let r = rule("ready.actives");
    assert!(!cites(r, "PRACTICE-AFTERCARE"), "{:?}", r.sources);
    assert!(cites(r, "PRACTICE-PRECARE"));
    let source = evidence().source("PRACTICE-PRECARE").unwrap();
    assert!(source.citation.contains("before microneedling"));
}
