//! Evaluating a full screening: target under 20 µs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::Date;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::screening::screen;

fn answers(today: Date) -> Answers {
    let json = serde_json::json!({
        "age": 35, "sex": "female", "pregnant": false, "breastfeeding": false,
        "cardiac_condition": false, "collagen_vascular_disease": false, "bleeding_disorder": false,
        "anticoagulants": false, "isotretinoin": "2026-01-10", "chemo_or_radiotherapy": "never",
        "high_dose_steroids": "never", "chemo_or_radiotherapy_planned": false, "high_dose_steroids_planned": false, "other_serious_condition": false, "device_kind": "roller", "immunosuppressed": false, "systemic_infection": false,
        "diabetes": "none", "keloid_tendency": false, "metal_allergy": false, "anaesthetic_allergy": false,
        "plans_topical_anaesthetic": true, "skin_cancer_or_suspicious_lesion": false,
        "chronic_skin_condition": false, "treating_young_scar": false, "fitzpatrick": 4,
        "needle_length_mm": 0.3, "zones": ["forehead", "left_cheek", "right_cheek", "chin", "upper_lip", "periorbital_left", "periorbital_right"],
        "cold_sores": true, "antiviral_plan_confirmed": true, "active_skin_problem_zones": ["chin"],
        "tattoo_zones": [], "recent_procedures": [
            {"kind": "botox", "date": "2026-10-01", "zones": ["forehead"]},
            {"kind": "filler", "date": "2026-02-01", "zones": ["left_cheek", "right_cheek"]}
        ]
    });
    Answers::from_json(&evidence().screening, &json, today).unwrap()
}

fn bench(c: &mut Criterion) {
    let today = Date::constant(2026, 11, 25);
    let base = evidence();
    let parsed = answers(today);
    c.bench_function("screen: evaluate a full screening", |b| {
        b.iter(|| screen(base, black_box(&parsed), today).unwrap())
    });
    let raw = parsed.to_json();
    c.bench_function("screen: parse answers + evaluate", |b| {
        b.iter(|| {
            let a = Answers::from_json(&base.screening, black_box(&raw), today).unwrap();
            screen(base, &a, today).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
