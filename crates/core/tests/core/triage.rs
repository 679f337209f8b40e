//! Partial check-ins (`assess_partial`): a red-flag answer takes effect
//! even when other answers are missing; otherwise the missing answers are
//! the error, and complete answers are assessed as `assess` does.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::answers::{Answers, InvalidAnswers};
use needlewise_core::evidence;
use needlewise_core::triage::{Triage, TriageLevel, assess, assess_partial};
use proptest::prelude::*;

use crate::engine::complete;

fn ended() -> Timestamp {
    "2026-11-24T20:00:00Z".parse().unwrap()
}

/// A check-in `hours` after the session ended (the engine tests' today).
fn at(hours: i64) -> (Timestamp, Date) {
    let now = ended() + SignedDuration::from_hours(hours);
    (now, now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
}

fn given(json: serde_json::Value, today: Date) -> Answers {
    Answers::from_json(&evidence().checkin, &json, today).unwrap()
}

fn partial(json: serde_json::Value, hours: i64) -> Result<Triage, InvalidAnswers> {
    let (now, today) = at(hours);
    assess_partial(evidence(), &given(json, today), ended(), now, today)
}

fn fields(e: &InvalidAnswers) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

fn rule_ids(t: &Triage) -> Vec<&str> {
    t.reasons.iter().map(|r| r.rule_id.as_str()).collect()
}

/// The questions a person answers, in order (`darker_patches_days` is
/// asked only after darker patches; `redness_trend` only once a day has
/// passed or after an earlier check-in).
const QUESTIONS: [&str; 15] = [
    "redness",
    "redness_trend",
    "swelling",
    "pus_or_spreading_warmth",
    "fever",
    "blisters",
    "new_bumps",
    "track_marks",
    "darker_patches",
    "numbness",
    "allergic_reaction",
    "anaesthetic_toxicity",
    "feeling_unwell",
    "widespread_rash",
    "blood_exposure_shared_device",
];

/// The questions other than `given`, in order.
fn others(given: &[&str]) -> Vec<&'static str> {
    QUESTIONS
        .into_iter()
        .filter(|q| !given.contains(q))
        .collect()
}

/// Issue 14's reproduction: "pus or spreading warmth: yes" and severe
/// redness, the rest unanswered, gave a 422 and stored nothing.
#[test]
fn pus_with_everything_else_missing_still_calls_the_surgeon() {
    let t = partial(
        serde_json::json!({"pus_or_spreading_warmth": true, "redness": "severe"}),
        30,
    )
    .unwrap();
    assert_eq!(t.level, TriageLevel::ContactSurgeon);
    assert!(t.locks_sessions);
    assert!(t.is_partial());
    assert_eq!(t.hours_since_session, 30.0);
    // The rules that hold whatever the rest is: the infection sign, and
    // strong redness within 72 hours.
    assert_eq!(
        rule_ids(&t),
        ["checkin.infection", "checkin.redness.early_strong"]
    );
    assert_eq!(t.missing, others(&["pus_or_spreading_warmth", "redness"]));

    // Pus alone: redness and its trend are missing too.
    let t = partial(serde_json::json!({"pus_or_spreading_warmth": true}), 30).unwrap();
    assert_eq!(t.level, TriageLevel::ContactSurgeon);
    assert!(t.is_partial() && t.locks_sessions);
    assert_eq!(rule_ids(&t), ["checkin.infection"]);
    assert_eq!(t.missing, others(&["pus_or_spreading_warmth"]));
    assert_eq!(t.missing[..2], ["redness", "redness_trend"]);
    assert!(!t.missing.iter().any(|m| m == "pus_or_spreading_warmth"));
    assert!(!t.missing.iter().any(|m| m == "hours_since_session"));
}

#[test]
fn an_urgent_answer_alone_is_urgent() {
    let t = partial(serde_json::json!({"allergic_reaction": true}), 5).unwrap();
    assert_eq!(t.level, TriageLevel::UrgentCare);
    assert!(t.is_partial() && t.locks_sessions);
    assert_eq!(rule_ids(&t), ["checkin.allergy"]);
    // Five hours on, with no earlier check-in, the trend is not asked.
    assert_eq!(t.missing, others(&["allergic_reaction", "redness_trend"]));
}

#[test]
fn the_time_since_the_session_counts_as_an_answer() {
    // Mild redness 80 hours on is past the expected course, whatever else.
    let t = partial(serde_json::json!({"redness": "mild"}), 80).unwrap();
    assert_eq!(t.level, TriageLevel::ContactSurgeon);
    assert_eq!(rule_ids(&t), ["checkin.redness.past_72h"]);
    // At 30 hours it is expected so far: the missing answers are the error.
    let e = partial(serde_json::json!({"redness": "mild"}), 30).unwrap_err();
    assert!(fields(&e).contains(&"swelling"));
}

#[test]
fn mild_answers_with_others_missing_ask_for_the_missing_ones() {
    let json = serde_json::json!({"redness": "mild", "redness_trend": "better", "swelling": true});
    let e = partial(json.clone(), 30).unwrap_err();
    assert_eq!(
        fields(&e),
        others(&["redness", "redness_trend", "swelling"]),
        "exactly the unanswered questions"
    );
    for f in &e.0 {
        assert!(f.message.contains("is missing"), "{f:?}");
    }
    // The same list as the complete assessment gives.
    let (now, today) = at(30);
    let full = assess(evidence(), &given(json, today), ended(), now, today).unwrap_err();
    assert_eq!(e, full);
    // A rule that might yet fire (worse after 48 hours, trend unknown) is
    // not enough either.
    let e = partial(serde_json::json!({"redness": "moderate"}), 60).unwrap_err();
    assert_eq!(fields(&e)[0], "redness_trend");
}

#[test]
fn complete_answers_are_assessed_as_assess_does() {
    let mut json = serde_json::json!({
        "redness": "moderate",
        "redness_trend": "worse",
        "darker_patches": true,
        "darker_patches_days": 3,
    });
    for q in QUESTIONS {
        json.as_object_mut()
            .unwrap()
            .entry(q)
            .or_insert(serde_json::Value::Bool(false));
    }
    for hours in [10, 50, 80, 400] {
        let (now, today) = at(hours);
        let answers = given(json.clone(), today);
        let full = assess(evidence(), &answers, ended(), now, today).unwrap();
        let p = assess_partial(evidence(), &answers, ended(), now, today).unwrap();
        assert_eq!(p, full, "{hours} h");
        assert!(!p.is_partial());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn partial_assessment_agrees_with_the_complete_one(
        random in prop::collection::vec(any::<u64>(), 64..256),
        drop in any::<u64>(),
        minutes in 0i64..(30 * 24 * 60),
    ) {
        let base = evidence();
        let full = complete(&base.checkin, &random);
        let now = ended() + SignedDuration::from_mins(minutes);
        let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        let whole = assess(base, &full, ended(), now, today).unwrap();
        let again = assess_partial(base, &full, ended(), now, today);
        prop_assert_eq!(again.as_ref(), Ok(&whole));

        let mut some = Answers::new();
        for (i, (id, a)) in full.iter().enumerate() {
            if drop >> (i % 64) & 1 == 0 {
                some.set(id, a.clone());
            }
        }
        // The questions that apply are those the facts assess adds allow.
        let mut seen = some.clone();
        let earlier = some.bool("earlier_checkin") == Some(true);
        for (id, a) in needlewise_core::triage::checkin_facts(ended(), now, earlier).iter() {
            seen.set(id, a.clone());
        }
        let missing: Vec<String> = match seen.require_complete(&base.checkin) {
            Ok(()) => Vec::new(),
            Err(e) => e.0.into_iter().map(|f| f.field).collect(),
        };
        match assess_partial(base, &some, ended(), now, today) {
            Ok(t) if missing.is_empty() => {
                prop_assert_eq!(t, assess(base, &some, ended(), now, today).unwrap());
            }
            Ok(t) => {
                prop_assert!(t.level >= TriageLevel::ContactSurgeon);
                prop_assert!(t.locks_sessions && t.is_partial());
                prop_assert_eq!(&t.missing, &missing);
                // What the given answers decide holds whatever the rest is.
                prop_assert!(t.level <= whole.level);
                for r in &t.reasons {
                    prop_assert!(
                        whole.reasons.iter().any(|w| w.rule_id == r.rule_id),
                        "{} fired on part of the answers but not on all", r.rule_id
                    );
                }
            }
            Err(e) => {
                let fields: Vec<String> = e.0.into_iter().map(|f| f.field).collect();
                prop_assert_eq!(fields, missing);
            }
        }
    }
}
