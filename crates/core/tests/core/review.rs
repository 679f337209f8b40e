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

// ---------------------------------------------- §1.5 calm chronic skin

fn screening_answers(over: serde_json::Value) -> needlewise_core::answers::Answers {
    let mut answers = serde_json::json!({
        "age": 35, "sex": "female", "pregnant": false, "breastfeeding": false,
        "cardiac_condition": false, "collagen_vascular_disease": false,
        "bleeding_disorder": false, "anticoagulants": false, "isotretinoin": "never",
        "chemo_or_radiotherapy": "never", "high_dose_steroids": "never",
        "immunosuppressed": false, "systemic_infection": false, "diabetes": "none",
        "keloid_tendency": false, "metal_allergy": false, "anaesthetic_allergy": false,
        "plans_topical_anaesthetic": false, "skin_cancer_or_suspicious_lesion": false,
        "chronic_skin_condition": false, "treating_young_scar": false, "fitzpatrick": 2,
        "needle_length_mm": 0.25, "zones": ["forehead", "left_cheek"], "cold_sores": false,
        "active_skin_problem_zones": [], "tattoo_zones": [], "recent_procedures": [],
    });
    for (k, v) in over.as_object().unwrap() {
        answers[k] = v.clone();
    }
    needlewise_core::answers::Answers::from_json(&evidence().screening, &answers, today()).unwrap()
}

fn today() -> jiff::civil::Date {
    jiff::civil::Date::constant(2026, 11, 25)
}

fn verdict(over: serde_json::Value) -> needlewise_core::screening::ScreeningResult {
    needlewise_core::screening::screen(evidence(), &screening_answers(over), today()).unwrap()
}

#[test]
fn calm_chronic_skin_condition_asks_the_surgeon_first() {
    use needlewise_core::screening::Verdict;
    let r = rule("screen.chronic_skin_condition");
    assert_eq!(r.outcome, Outcome::AskSurgeonFirst);
    assert!(cites(r, "R50"));
    let result = verdict(serde_json::json!({"chronic_skin_condition": true}));
    assert_eq!(result.verdict, Verdict::AskSurgeonFirst);
    assert!(!result.verdict.allows_home_sessions());
    assert!(r.explanation.contains("eczema and rosacea"));
}

// ------------------------------------------------ §1.6 aftercare waits

#[test]
fn aftercare_waits_for_hair_removal_peels_pools_saunas_and_self_tanner() {
    use jiff::{SignedDuration, Timestamp};
    let ended: Timestamp = "2026-11-25T20:00:00Z".parse().unwrap();
    let at = |h: i64| ended.checked_add(SignedDuration::from_hours(h)).unwrap();
    let steps = needlewise_core::aftercare::timeline(evidence(), ended, at(48));
    for id in ["hair_removal", "peel", "pool_sauna", "self_tanner"] {
        let step = steps
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no aftercare step {id}"));
        // R50 says 2 to 3 days; at home, the conservative end.
        assert_eq!(step.until, at(72), "{id}");
        assert!(step.active, "{id} is still in force at 48 hours");
        let item = evidence()
            .defaults
            .aftercare
            .iter()
            .find(|a| a.id == id)
            .unwrap();
        assert_eq!(item.cited.sources, vec!["R50".to_owned()], "{id}");
        assert_eq!(item.cited.grade, Grade::V, "{id}");
    }
    let later = needlewise_core::aftercare::timeline(evidence(), ended, at(72));
    for id in ["hair_removal", "peel", "self_tanner"] {
        assert!(!later.iter().find(|s| s.id == id).unwrap().active, "{id}");
    }
    assert!(
        steps
            .iter()
            .find(|s| s.id == "hair_removal")
            .unwrap()
            .avoid
            .contains("waxing")
    );
    assert!(
        steps
            .iter()
            .find(|s| s.id == "self_tanner")
            .unwrap()
            .avoid
            .contains("self-tanning")
    );
}

// ------------------------------------- §1.8 longer waits (data only)

#[test]
fn resurfacing_laser_and_dermabrasion_wait_three_months() {
    use needlewise_core::Zone;
    for kind in ["laser", "peel"] {
        let result = verdict(serde_json::json!({
            "recent_procedures": [{"kind": kind, "date": "2026-09-25", "zones": ["left_cheek"]}],
        }));
        let excluded = result
            .excluded_zones
            .iter()
            .find(|e| e.zone == Zone::LeftCheek)
            .unwrap_or_else(|| panic!("{kind} 2 months ago still excludes the zone"));
        assert_eq!(
            excluded.until,
            Some(jiff::civil::Date::constant(2026, 12, 25))
        );
    }
    let laser = rule("screen.procedure.laser");
    assert!(laser.explanation.contains("resurfacing laser"));
    assert!(
        rule("screen.procedure.peel")
            .explanation
            .contains("dermabrasion")
    );
    let help = evidence()
        .screening
        .question("recent_procedures")
        .unwrap()
        .help
        .as_deref()
        .unwrap();
    assert!(help.contains("dermabrasion") && help.contains("resurfacing laser"));
}

#[test]
fn radiotherapy_to_the_face_waits_three_months() {
    use needlewise_core::screening::Verdict;
    // Ended 6 weeks ago: past the 4 weeks of the device instructions.
    let result = verdict(serde_json::json!({"chemo_or_radiotherapy": "2026-10-14"}));
    assert_eq!(result.verdict, Verdict::AskSurgeonFirst);
    let reason = result
        .reasons
        .iter()
        .find(|r| r.rule_id == "screen.radiotherapy.three_months")
        .unwrap();
    assert_eq!(reason.until, Some(jiff::civil::Date::constant(2027, 1, 14)));
    assert!(reason.explanation.contains("cannot tell which you had"));
    let later = verdict(serde_json::json!({"chemo_or_radiotherapy": "2026-08-24"}));
    assert_eq!(later.verdict, Verdict::Go);
}

// ------------------------------------- §2 every zone left out is not a stop

#[test]
fn all_zones_excluded_names_the_cause_not_a_contraindication() {
    use needlewise_core::screening::Verdict;
    // Cold sores without an antiviral plan, planning only the upper lip
    // and chin: both zones are left out.
    let lips = verdict(serde_json::json!({
        "zones": ["upper_lip", "chin"], "cold_sores": true, "antiviral_plan_confirmed": false,
    }));
    assert_eq!(
        lips.verdict,
        Verdict::NotAtHome,
        "nothing may be treated now"
    );
    assert!(lips.zones.is_empty(), "no zone may be treated");
    assert_eq!(lips.excluded_zones.len(), 2);
    assert_ne!(lips.headline, Verdict::NotAtHome.headline());
    assert!(
        lips.headline.contains("No zone you planned"),
        "{}",
        lips.headline
    );
    assert!(
        lips.headline.contains("antiviral plan"),
        "{}",
        lips.headline
    );
    assert!(lips.headline.contains("not a reason to stop for good"));

    // Whole-face waxing three days ago: the date it lifts is named.
    let waxed = verdict(serde_json::json!({
        "recent_procedures": [{"kind": "waxing", "date": "2026-11-22", "zones": []}],
    }));
    assert_eq!(waxed.verdict, Verdict::NotAtHome);
    let from = waxed.eligible_from.expect("the wait has an end");
    assert!(
        waxed.headline.contains(&from.to_string()),
        "{}",
        waxed.headline
    );
    assert!(waxed.zones.is_empty());

    // A true contraindication keeps its own words, and lists no zone.
    let pregnant = verdict(serde_json::json!({ "pregnant": true }));
    assert_eq!(pregnant.verdict, Verdict::NotAtHome);
    assert_eq!(pregnant.headline, Verdict::NotAtHome.headline());
    assert!(pregnant.zones.is_empty(), "{:?}", pregnant.zones);
    // And a go still lists its zones.
    assert!(!verdict(serde_json::json!({})).zones.is_empty());
}
