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
        "chemo_or_radiotherapy": "never", "chemo_or_radiotherapy_planned": false,
        "high_dose_steroids": "never", "high_dose_steroids_planned": false,
        "immunosuppressed": false, "systemic_infection": false, "diabetes": "none",
        "other_serious_condition": false, "device_kind": "roller", "keloid_tendency": false, "metal_allergy": false, "anaesthetic_allergy": false,
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

// ------------------------------------- §1.1 the serum gate by ingredient

fn gate(text: &str, after_hours: i64) -> needlewise_core::aftercare::GateDecision {
    let ended: jiff::Timestamp = "2026-11-25T20:00:00Z".parse().unwrap();
    let now = ended
        .checked_add(jiff::SignedDuration::from_hours(after_hours))
        .unwrap();
    needlewise_core::aftercare::serum_gate(evidence(), text, ended, now)
}

#[test]
fn serum_gate_plain_hyaluronic_acid_is_allowed_at_minute_zero() {
    for text in [
        "hyaluronic acid",
        "Plain HA: Aqua/Water, Sodium Hyaluronate",
        "HA drops: water, hydrolyzed hyaluronic acid, sodium hyaluronate",
    ] {
        let d = gate(text, 0);
        assert!(d.allowed, "{text}: {}", d.reason);
        assert!(d.reason.contains("fragrance-free"), "{}", d.reason);
    }
}

#[test]
fn serum_gate_hyaluronic_acid_plus_thd_ascorbate_is_vitamin_c() {
    for text in [
        "hyaluronic acid + THD ascorbate",
        "Glow serum: aqua, sodium hyaluronate, tetrahexyldecyl ascorbate",
        "C serum: ascorbyl glucoside",
        "magnesium ascorbyl phosphate",
    ] {
        let d = gate(text, 1);
        assert!(!d.allowed, "{text}");
        assert_eq!(d.category, "vitamin_c", "{text}");
        assert!(gate(text, 24 * 7).allowed, "{text} after 7 days");
    }
}

#[test]
fn serum_gate_hyaluronic_acid_with_vitamin_a_is_a_retinoid() {
    for text in [
        "HA with vitamin A: aqua, sodium hyaluronate, retinyl palmitate",
        "hyaluronic acid, vitamin A",
        "Night: aqua, retinal",
        "tretinoin",
        "adapalene 0.1%",
    ] {
        let d = gate(text, 30);
        assert!(!d.allowed, "{text}");
        assert_eq!(d.category, "retinoid", "{text}");
    }
}

#[test]
fn serum_gate_hyaluronic_acid_with_fragrance_waits() {
    for text in [
        "HA serum: aqua, sodium hyaluronate, parfum",
        "HA serum: aqua, sodium hyaluronate, Parfum (Fragrance)",
        "HA oil: sodium hyaluronate, essential oils",
    ] {
        let d = gate(text, 1);
        assert!(!d.allowed, "{text}: {}", d.reason);
        assert_eq!(d.category, "fragrance", "{text}");
    }
}

#[test]
fn serum_gate_an_essential_oil_is_never_allowed_early() {
    // The oil's name is not one the gate knows, and linalool is a fragrance:
    // refused either way, and the fragrance is named.
    let d = gate(
        "HA mist: aqua, hyaluronic acid, lavandula angustifolia (lavender) oil, linalool",
        1,
    );
    assert!(!d.allowed);
    let linalool = d.ingredients.iter().find(|i| i.name == "linalool").unwrap();
    assert_eq!(linalool.class.as_deref(), Some("fragrance"));
}

#[test]
fn serum_gate_hyaluronic_acid_with_hydroquinone_waits() {
    let d = gate("Even tone: aqua, sodium hyaluronate, hydroquinone", 30);
    assert!(!d.allowed);
    assert_eq!(d.category, "pigment_lightener");
}

#[test]
fn serum_gate_a_cream_is_not_a_moisturiser_by_name() {
    // Named "cream", each waited only 24 hours under the old name match.
    for (text, class, wait_hours) in [
        ("Retinol cream: aqua, glycerin, retinol", "retinoid", 24 * 7),
        (
            "Vitamin A cream: aqua, glycerin, retinyl palmitate",
            "retinoid",
            24 * 7,
        ),
        (
            "C cream: aqua, glycerin, ascorbyl glucoside",
            "vitamin_c",
            24 * 7,
        ),
        (
            "Lightening cream: aqua, glycerin, hydroquinone",
            "pigment_lightener",
            24 * 7,
        ),
        (
            "Hair removal cream: aqua, potassium thioglycolate",
            "depilatory",
            72,
        ),
        ("Night cream", "unrecognised", 24 * 14),
    ] {
        let d = gate(text, 25);
        assert!(!d.allowed, "{text} at 25 h: {}", d.reason);
        assert_eq!(d.category, class, "{text}");
        assert!(!gate(text, wait_hours - 1).allowed, "{text}");
        assert!(gate(text, wait_hours).allowed, "{text}");
    }
}

#[test]
fn serum_gate_an_unknown_ingredient_is_refused_with_ask_your_surgeon() {
    for text in [
        "Plain Hyaluronic Acid serum",
        "HA serum: aqua, sodium hyaluronate, snail mucin",
        "Name only:",
    ] {
        let d = gate(text, 1);
        assert!(!d.allowed, "{text}");
        assert_eq!(d.category, "unrecognised", "{text}");
        assert!(
            !gate(text, 24 * 14 - 1).allowed,
            "{text} waits the longest wait"
        );
        assert!(gate(text, 24 * 14).allowed, "{text}");
    }
    let d = gate("HA serum: aqua, sodium hyaluronate, snail mucin", 1);
    assert_eq!(d.unknown, ["snail mucin"]);
    assert!(
        d.reason.contains("ask your facial plastic surgeon"),
        "{}",
        d.reason
    );
    let none = gate("Name only:", 1);
    assert!(none.reason.contains("ingredients"), "{}", none.reason);
}

#[test]
fn serum_gate_niacinamide_and_acids_and_benzoyl_peroxide_wait_a_week() {
    for (text, class) in [
        ("niacinamide", "niacinamide"),
        ("glycolic acid", "acid_or_exfoliant"),
        ("lactic acid", "acid_or_exfoliant"),
        ("salicylic acid", "acid_or_exfoliant"),
        ("benzoyl peroxide 5%", "acid_or_exfoliant"),
    ] {
        let d = gate(text, 24 * 6);
        assert!(!d.allowed, "{text}");
        assert_eq!(d.category, class, "{text}");
    }
}

#[test]
fn serum_gate_data_stays_an_allow_list() {
    use needlewise_core::evidence::EvidenceBase;
    let mut base: EvidenceBase = evidence().clone();
    let ha = base
        .defaults
        .ingredients
        .iter_mut()
        .find(|c| c.class == "hyaluronic_acid")
        .unwrap();
    ha.contains.push("hyaluronic".into());
    let problems = base.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("matches parts of names")),
        "{problems:?}"
    );
}

// ------------------------------------------- §1.2 planned treatment dates

#[test]
fn planned_chemotherapy_in_two_weeks_is_not_at_home() {
    use needlewise_core::screening::Verdict;
    // Before: "never" was the only honest answer, and it gave go.
    let soon = verdict(serde_json::json!({
        "chemo_or_radiotherapy_planned": true,
        "chemo_or_radiotherapy_start": "2026-12-09",
    }));
    assert_eq!(soon.verdict, Verdict::NotAtHome);
    assert!(soon.zones.is_empty());
    // Eight weeks away: a go with a precaution, and the screening must be
    // taken again on the first day within 4 weeks of the start.
    let later = verdict(serde_json::json!({
        "chemo_or_radiotherapy_planned": true,
        "chemo_or_radiotherapy_start": "2027-01-20",
    }));
    assert_eq!(later.verdict, Verdict::GoWithPrecautions);
    assert_eq!(later.review_by, Some(jiff::civil::date(2026, 12, 24)));
    // That day the start is within 4 weeks, and the screening says no.
    let that_day = needlewise_core::screening::screen(
        evidence(),
        &screening_answers(serde_json::json!({
            "chemo_or_radiotherapy_planned": true,
            "chemo_or_radiotherapy_start": "2027-01-20",
        })),
        jiff::civil::date(2026, 12, 24),
    )
    .unwrap();
    assert_eq!(that_day.verdict, Verdict::NotAtHome);
}

#[test]
fn planned_treatment_the_readiness_gate_says_screen_again_on_the_review_day() {
    use needlewise_core::readiness::{Known, ReadinessFacts};
    let screened = verdict(serde_json::json!({
        "high_dose_steroids_planned": true,
        "high_dose_steroids_start": "2027-03-01",
    }));
    let review = screened.review_by.expect("a review date");
    let facts_on = |day: jiff::civil::Date| {
        let now = day
            .at(9, 0, 0, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .unwrap();
        let known = Known {
            screening: Some(&screened),
            device: None,
            sessions: &[],
            locked: false,
            protocol: None,
        };
        ReadinessFacts::at(evidence(), &known, &now)
    };
    assert!(!facts_on(review.yesterday().unwrap()).screening_review_due);
    assert!(facts_on(review).screening_review_due);
    assert_eq!(rule("ready.screening.review_due").outcome, Outcome::NoGo);
}

// --------------------------------------------------- §1.3 catch-all

#[test]
fn another_serious_condition_asks_the_surgeon_first() {
    use needlewise_core::screening::Verdict;
    let result = verdict(serde_json::json!({"other_serious_condition": true}));
    assert_eq!(result.verdict, Verdict::AskSurgeonFirst);
    let r = rule("screen.other_serious_condition");
    assert!(r.explanation.contains("ask your facial plastic surgeon"));
}

// ------------------------------- §1.4 procedures since the last session

fn ready_facts() -> needlewise_core::readiness::ReadinessFacts {
    needlewise_core::readiness::ReadinessFacts {
        planned_zones: [
            needlewise_core::zone::Zone::Forehead,
            needlewise_core::zone::Zone::UpperLip,
        ]
        .into_iter()
        .collect(),
        screening_verdict: Some(needlewise_core::screening::Verdict::Go),
        device_ready: true,
        device_replacement_due: false,
        earliest_next_session: None,
        interval_waiting: false,
        symptom_lock: false,
        device_needle_over_screening: false,
        last_needle_beyond_home: false,
        screening_review_due: false,
        device_is_pen: false,
        protocol: None,
    }
}

fn ready_with(procedures: serde_json::Value) -> needlewise_core::readiness::Readiness {
    let answers = serde_json::json!({
        "skin_cleansed": true, "device_damaged": false, "cold_sore_now": false,
        "active_problem_zones": [], "sunburn_or_tan": false, "actives_recently": false,
        "waxed_zones": [], "procedures_since": procedures, "new_medication": false,
        "pregnant_now": false, "feeling_unwell": false,
    });
    let answers =
        needlewise_core::answers::Answers::from_json(&evidence().readiness, &answers, today())
            .unwrap();
    needlewise_core::readiness::check(evidence(), &answers, &ready_facts(), today()).unwrap()
}

#[test]
fn readiness_asks_about_procedures_since_the_last_session() {
    use needlewise_core::zone::Zone;
    let question = evidence().readiness.question("procedures_since").unwrap();
    assert!(!question.fact, "asked every time");
    let r = ready_with(serde_json::json!([
        {"kind": "filler", "date": "2026-11-20", "zones": ["upper_lip"]},
    ]));
    assert!(r.go);
    assert_eq!(r.zones, [Zone::Forehead]);
    assert_eq!(r.skipped_zones, [Zone::UpperLip]);
    let r = ready_with(serde_json::json!([
        {"kind": "laser", "date": "2026-10-01", "zones": []},
    ]));
    assert!(!r.go, "a resurfacing laser on the whole face last month");
    assert!(
        r.reasons
            .iter()
            .any(|x| x.rule_id == "ready.procedure.laser")
    );
    assert!(ready_with(serde_json::json!([])).go);
}

// ----------------------------------------------------------- §1.7 devices

#[test]
fn rf_microneedling_is_not_at_home_and_a_pen_carries_a_precaution() {
    use needlewise_core::screening::Verdict;
    let rf = verdict(serde_json::json!({"device_kind": "rf_microneedling"}));
    assert_eq!(rf.verdict, Verdict::NotAtHome);
    assert!(
        rf.reasons
            .iter()
            .any(|r| r.rule_id == "screen.device.rf" && r.sources.iter().any(|s| s.id == "R18"))
    );
    let pen = verdict(serde_json::json!({"device_kind": "pen"}));
    assert_eq!(pen.verdict, Verdict::GoWithPrecautions);
    let precaution = pen
        .precautions
        .iter()
        .find(|r| r.rule_id == "screen.device.pen")
        .unwrap();
    assert!(precaution.sources.iter().any(|s| s.id == "R11"));
    assert_eq!(rule("ready.device.pen").outcome, Outcome::Caution);
}

// ------------------------------------------------------ §1.8 lower impact

#[test]
fn upper_lip_warns_to_keep_off_the_red_margin() {
    let r = verdict(serde_json::json!({"zones": ["upper_lip"]}));
    let warning = r
        .precautions
        .iter()
        .find(|x| x.rule_id == "screen.upper_lip.red_margin")
        .unwrap();
    assert!(warning.explanation.contains("red part of the lips"));
    let without = verdict(serde_json::json!({"zones": ["forehead"]}));
    assert!(
        !without
            .reasons
            .iter()
            .any(|x| x.rule_id == "screen.upper_lip.red_margin")
    );
}

fn checkin(
    json: serde_json::Value,
    hours: i64,
    earlier: bool,
) -> Result<needlewise_core::triage::Triage, needlewise_core::answers::InvalidAnswers> {
    let ended: jiff::Timestamp = "2026-11-24T20:00:00Z".parse().unwrap();
    let now = ended
        .checked_add(jiff::SignedDuration::from_hours(hours))
        .unwrap();
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let mut answers =
        needlewise_core::answers::Answers::from_json(&evidence().checkin, &json, today).unwrap();
    answers.set(
        "earlier_checkin",
        needlewise_core::answers::Answer::Bool(earlier),
    );
    needlewise_core::triage::assess(evidence(), &answers, ended, now, today)
}

fn calm_checkin() -> serde_json::Value {
    serde_json::json!({
        "redness": "none", "swelling": false, "pus_or_spreading_warmth": false,
        "fever": false, "blisters": false, "new_bumps": false, "track_marks": false,
        "darker_patches": false, "numbness": false, "allergic_reaction": false,
        "anaesthetic_toxicity": false, "feeling_unwell": false, "widespread_rash": false,
        "blood_exposure_shared_device": false,
    })
}

#[test]
fn checkin_asks_about_feeling_unwell_and_a_widespread_rash() {
    use needlewise_core::triage::TriageLevel;
    for question in ["feeling_unwell", "widespread_rash"] {
        let mut json = calm_checkin();
        json[question] = true.into();
        let t = checkin(json, 96, false).unwrap();
        assert_eq!(t.level, TriageLevel::ContactSurgeon, "{question}");
        assert_eq!(t.reasons[0].rule_id, "checkin.systemic_reaction");
        assert!(t.reasons[0].sources.iter().any(|s| s.id == "R10"));
    }
    let mut missing = calm_checkin();
    missing.as_object_mut().unwrap().remove("feeling_unwell");
    assert!(checkin(missing, 30, false).is_err(), "asked every time");
}

// ------------------------------------------------------ §1.9 the trend

#[test]
fn checkin_asks_the_trend_only_after_a_day_or_an_earlier_checkin() {
    let mut json = calm_checkin();
    json["redness"] = "mild".into();
    // Six hours on, first check-in: nothing to compare with.
    assert!(checkin(json.clone(), 6, false).is_ok());
    // After an earlier check-in, or a day on, the trend is asked.
    for (hours, earlier) in [(6, true), (24, false), (30, true)] {
        let e = checkin(json.clone(), hours, earlier).unwrap_err();
        assert!(
            e.0.iter().any(|f| f.field == "redness_trend"),
            "{hours} h, earlier {earlier}: {e}"
        );
    }
    json["redness_trend"] = "better".into();
    assert!(checkin(json, 30, true).is_ok());
}
