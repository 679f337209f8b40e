//! The clinic side's pure rules: authorization, protocols, overrides, the
//! escalation ladder and overdue check-ins.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::answers::Answers;
use needlewise_core::clinic::{
    Act, Grant, Ladder, Member, Override, Protocol, Refusal, Role, Scope, Step, Target,
    clinician_only, decide, overdue_checkins, permits,
};
use needlewise_core::ids::{AccountId, ClinicId, OverrideId, ProfileId, ProtocolId};
use needlewise_core::screening::{Verdict, screen, screen_with_overrides};
use needlewise_core::{Zone, evidence};
use uuid::Uuid;

fn grant(role: Option<Role>, linked: bool, scopes: &[Scope]) -> Grant {
    Grant {
        role,
        linked,
        scopes: scopes.iter().copied().collect(),
    }
}

/// The store's one refusal rule: what `permits` refuses is hidden (read
/// as "not found") unless the asker is a member of the patient's clinic
/// whose role can never do it, which is forbidden, with one message.
#[test]
fn decide_hides_everything_but_a_role_that_may_never() {
    let acts: Vec<Act> = [
        Act::SeeListed,
        Act::Acknowledge,
        Act::Resolve,
        Act::Prescribe,
        Act::Override,
    ]
    .into_iter()
    .chain(Scope::ALL.into_iter().map(Act::Read))
    .collect();
    let grants = [
        grant(None, true, &Scope::ALL),
        grant(None, false, &[]),
        grant(Some(Role::Clinician), false, &Scope::ALL),
        grant(Some(Role::Clinician), true, &[]),
        grant(Some(Role::Clinician), true, &[Scope::Checkins]),
        grant(Some(Role::Clinician), true, &Scope::ALL),
        grant(Some(Role::Staff), false, &Scope::ALL),
        grant(Some(Role::Staff), true, &[]),
        grant(Some(Role::Staff), true, &Scope::ALL),
    ];
    for g in &grants {
        for act in &acts {
            let decision = decide(g, *act);
            if permits(g, *act) {
                assert_eq!(decision, Ok(()), "{g:?} {act:?}");
                continue;
            }
            let forbidden = g.role == Some(Role::Staff) && g.linked && *act != Act::SeeListed;
            match decision {
                Err(Refusal::Forbidden(why)) => {
                    assert!(forbidden, "{g:?} {act:?} must be hidden");
                    assert!(why.contains("staff member"), "{why}");
                }
                Err(Refusal::Hidden) => assert!(!forbidden, "{g:?} {act:?} is forbidden"),
                Ok(()) => panic!("{g:?} {act:?} is not permitted"),
            }
        }
    }
    assert_eq!(clinician_only(Role::Clinician), Ok(()));
    let Err(why) = clinician_only(Role::Staff) else {
        panic!("staff may not do what clinicians do");
    };
    assert!(why.contains("ask a clinician"), "{why}");
}

#[test]
fn permits_is_the_table_of_roles_links_and_scopes() {
    let all_acts: Vec<Act> = [
        Act::SeeListed,
        Act::Acknowledge,
        Act::Resolve,
        Act::Prescribe,
        Act::Override,
    ]
    .into_iter()
    .chain(Scope::ALL.into_iter().map(Act::Read))
    .collect();
    // Outsiders and unlinked patients: nothing at all.
    for g in [
        grant(None, true, &Scope::ALL),
        grant(Some(Role::Clinician), false, &Scope::ALL),
        grant(Some(Role::Staff), false, &Scope::ALL),
    ] {
        for act in &all_acts {
            assert!(!permits(&g, *act), "{g:?} must not {act:?}");
        }
    }
    // Staff: the listing only, whatever the patient granted.
    let staff = grant(Some(Role::Staff), true, &Scope::ALL);
    for act in &all_acts {
        assert_eq!(
            permits(&staff, *act),
            *act == Act::SeeListed,
            "staff {act:?}"
        );
    }
    // A clinician: each act needs exactly its scope.
    let needs: BTreeMap<&str, Option<Scope>> = [
        ("see", None),
        ("ack", Some(Scope::Checkins)),
        ("prescribe", Some(Scope::Sessions)),
        ("override", Some(Scope::Screening)),
    ]
    .into_iter()
    .collect();
    for scope in Scope::ALL {
        let only = grant(Some(Role::Clinician), true, &[scope]);
        assert!(permits(&only, Act::SeeListed));
        for other in Scope::ALL {
            assert_eq!(permits(&only, Act::Read(other)), other == scope);
        }
        assert_eq!(
            permits(&only, Act::Acknowledge),
            Some(scope) == needs["ack"]
        );
        assert_eq!(permits(&only, Act::Resolve), Some(scope) == needs["ack"]);
        assert_eq!(
            permits(&only, Act::Prescribe),
            Some(scope) == needs["prescribe"]
        );
        assert_eq!(
            permits(&only, Act::Override),
            Some(scope) == needs["override"]
        );
    }
    let none = grant(Some(Role::Clinician), true, &[]);
    assert!(permits(&none, Act::SeeListed));
    assert!(all_acts[1..].iter().all(|a| !permits(&none, *a)));
}

/// Conversations: clinicians of the patient's clinic read and answer
/// every one, whatever the scopes; staff only a non-clinical one the
/// patient shared with the front desk; a clinical one is forbidden to
/// staff, an unshared one hidden; outsiders and unlinked patients see none.
#[test]
fn conversations_are_for_clinicians_and_shared_front_desk_questions() {
    use needlewise_core::clinic::{Conversing, patient_may_write};
    let kinds = [
        Conversing {
            clinical: false,
            shared_with_staff: false,
        },
        Conversing {
            clinical: false,
            shared_with_staff: true,
        },
        Conversing {
            clinical: true,
            shared_with_staff: false,
        },
        Conversing {
            clinical: true,
            shared_with_staff: true,
        },
    ];
    for c in kinds {
        let act = Act::Converse(c);
        for scopes in [&[][..], &Scope::ALL[..]] {
            let clinician = grant(Some(Role::Clinician), true, scopes);
            assert_eq!(decide(&clinician, act), Ok(()), "{c:?} {scopes:?}");
            let staff = grant(Some(Role::Staff), true, scopes);
            let expected = match (c.clinical, c.shared_with_staff) {
                (true, _) => "forbidden",
                (false, true) => "allowed",
                (false, false) => "hidden",
            };
            let got = match decide(&staff, act) {
                Ok(()) => "allowed",
                Err(Refusal::Hidden) => "hidden",
                Err(Refusal::Forbidden(why)) => {
                    assert!(why.contains("staff member"), "{why}");
                    "forbidden"
                }
            };
            assert_eq!(got, expected, "staff {c:?} {scopes:?}");
            for outsider in [
                grant(None, true, scopes),
                grant(Some(Role::Clinician), false, scopes),
                grant(Some(Role::Staff), false, scopes),
            ] {
                assert_eq!(decide(&outsider, act), Err(Refusal::Hidden), "{outsider:?}");
            }
        }
    }
    assert_eq!(patient_may_write(true), Ok(()));
    assert_eq!(patient_may_write(false), Err(Refusal::Hidden));
}

#[test]
fn roles_and_scopes_parse_from_their_ids() {
    for r in Role::ALL {
        assert_eq!(r.id().parse::<Role>().unwrap(), r);
    }
    for s in Scope::ALL {
        assert_eq!(s.id().parse::<Scope>().unwrap(), s);
        assert!(!s.describe().is_empty());
    }
    assert!("owner".parse::<Role>().is_err());
    assert!("everything".parse::<Scope>().is_err());
}

fn protocol() -> Protocol {
    Protocol {
        id: ProtocolId(Uuid::nil()),
        clinic_id: ClinicId(Uuid::nil()),
        profile_id: ProfileId(Uuid::nil()),
        needle_length_mm: 0.5,
        zones: [Zone::Forehead, Zone::LeftCheek].into_iter().collect(),
        interval_days: 28,
        course_sessions: 4,
        target_density_per_cm2: 250.0,
        note: String::new(),
        prescribed_by: AccountId(Uuid::nil()),
        prescriber_name: "Dr Example".into(),
        prescribed_at: Timestamp::UNIX_EPOCH,
    }
}

#[test]
fn a_protocol_validates_every_field_at_once() {
    assert_eq!(protocol().validate(), Ok(()));
    let bad = Protocol {
        needle_length_mm: 0.0,
        zones: BTreeSet::new(),
        interval_days: 0,
        course_sessions: 99,
        target_density_per_cm2: f64::NAN,
        note: "x".repeat(3000),
        ..protocol()
    };
    let fields: Vec<&str> = bad
        .validate()
        .unwrap_err()
        .iter()
        .map(|p| p.field)
        .collect();
    assert_eq!(
        fields,
        [
            "needle_length_mm",
            "zones",
            "interval_days",
            "course_sessions",
            "target_density_per_cm2",
            "note"
        ]
    );
    let long = Protocol {
        needle_length_mm: 3.5,
        ..protocol()
    };
    assert_eq!(long.validate().unwrap_err()[0].field, "needle_length_mm");
}

#[test]
fn a_protocol_narrows_zones_and_spaces_sessions() {
    let p = protocol();
    let allowed: BTreeSet<Zone> = [Zone::Forehead, Zone::Nose].into_iter().collect();
    assert_eq!(
        p.narrow_zones(&allowed),
        [Zone::Forehead].into_iter().collect()
    );
    // 28 days of 24 hours from the end of the last session.
    assert_eq!(
        p.earliest_after("2026-11-25T21:15:00Z".parse().unwrap()),
        "2026-12-23T21:15:00Z".parse::<Timestamp>().unwrap()
    );
    // Across Europe's change back from summer time (2026-10-25) too.
    assert_eq!(
        p.earliest_after("2026-10-10T10:00:00Z".parse().unwrap()),
        "2026-11-07T10:00:00Z".parse::<Timestamp>().unwrap()
    );
    assert!(!p.course_complete(3));
    assert!(p.course_complete(4));
    assert!(p.needle_matches(0.5));
    assert!(!p.needle_matches(0.25));
}

fn at(hours: i64) -> Timestamp {
    Timestamp::UNIX_EPOCH + SignedDuration::from_hours(hours)
}

fn member(role: Role, n: u128) -> Member {
    Member {
        clinic_id: ClinicId(Uuid::nil()),
        account_id: AccountId(Uuid::from_u128(n)),
        role,
        display_name: format!("member {n}"),
        joined_at: at(0),
    }
}

#[test]
fn the_ladder_climbs_until_someone_acknowledges() {
    let ladder = Ladder::default();
    assert_eq!(ladder.validate(), Ok(()));
    assert_eq!(ladder.due(at(0), false, at(0)), vec![0]);
    assert_eq!(ladder.due(at(0), false, at(3)), vec![0]);
    assert_eq!(ladder.due(at(0), false, at(4)), vec![0, 1]);
    assert!(ladder.due(at(0), true, at(10)).is_empty());

    let members = [
        member(Role::Clinician, 1),
        member(Role::Staff, 2),
        member(Role::Clinician, 3),
    ];
    let ids = |step| -> Vec<u128> {
        ladder
            .recipients(step, &members)
            .iter()
            .map(|m| m.account_id.0.as_u128())
            .collect()
    };
    assert_eq!(ids(0), vec![1, 3]);
    assert_eq!(ids(1), vec![2]);
    assert!(ids(7).is_empty());

    let one = Ladder {
        steps: vec![Step {
            after: SignedDuration::from_hours(2),
            notify: Target::Member {
                account_id: AccountId(Uuid::from_u128(3)),
            },
        }],
    };
    assert_eq!(
        one.recipients(0, &members)
            .iter()
            .map(|m| m.account_id.0.as_u128())
            .collect::<Vec<_>>(),
        vec![3]
    );
    assert!(one.due(at(0), false, at(1)).is_empty());
}

#[test]
fn a_ladder_is_checked_and_round_trips_in_hours() {
    assert!(Ladder { steps: vec![] }.validate().is_err());
    let mut backwards = Ladder::default();
    backwards.steps.reverse();
    assert!(backwards.validate().is_err());
    let json = serde_json::to_value(Ladder::default()).unwrap();
    assert_eq!(json["steps"][1]["after"], 4.0);
    assert_eq!(json["steps"][0]["notify"]["role"], "clinician");
    let back: Ladder = serde_json::from_value(json).unwrap();
    assert_eq!(back, Ladder::default());
    let too_long = serde_json::json!({"steps": [{"after": 1000.0, "notify": {"kind": "role", "role": "staff"}}]});
    assert!(serde_json::from_value::<Ladder>(too_long).is_err());
}

#[test]
fn overdue_checkins_count_due_times_without_an_answer() {
    let due = [at(24), at(72), at(168)];
    // Nothing due yet.
    assert_eq!(overdue_checkins(&due, &[], at(10)), 0);
    // One due, none answered.
    assert_eq!(overdue_checkins(&due, &[], at(30)), 1);
    // Answered a little early (within the grace) counts.
    assert_eq!(overdue_checkins(&due, &[at(14)], at(30)), 0);
    // Too early does not.
    assert_eq!(overdue_checkins(&due, &[at(2)], at(30)), 1);
    // Two due, the first answered late but before the second fell due.
    assert_eq!(overdue_checkins(&due, &[at(50)], at(100)), 1);
    // All three answered.
    assert_eq!(
        overdue_checkins(&due, &[at(25), at(73), at(170)], at(200)),
        0
    );
}

fn answers_with_isotretinoin(when: &str) -> Answers {
    let base = evidence();
    let json = serde_json::json!({
        "age": 35, "sex": "female", "pregnant": false, "breastfeeding": false,
        "cardiac_condition": false, "collagen_vascular_disease": false,
        "bleeding_disorder": false, "anticoagulants": false, "isotretinoin": when,
        "chemo_or_radiotherapy": "never", "high_dose_steroids": "never",
        "immunosuppressed": false, "systemic_infection": false, "diabetes": "none",
        "keloid_tendency": false, "metal_allergy": false, "anaesthetic_allergy": false,
        "plans_topical_anaesthetic": false, "skin_cancer_or_suspicious_lesion": false,
        "chronic_skin_condition": false, "treating_young_scar": false, "fitzpatrick": 2,
    });
    let mut json = json;
    // The remaining answers of a healthy adult come from the case file's
    // base, so this test follows the questionnaire as it grows.
    let cases: toml::Value = toml::from_str(include_str!("cases/screening.toml")).unwrap();
    for (k, v) in cases["base"].as_table().unwrap() {
        if json.get(k).is_none() {
            json[k] = serde_json::to_value(v).unwrap();
        }
    }
    Answers::from_json(&base.screening, &json, Date::constant(2026, 11, 25)).unwrap()
}

fn override_of(rule: &str) -> Override {
    Override {
        id: OverrideId(Uuid::nil()),
        clinic_id: ClinicId(Uuid::nil()),
        profile_id: ProfileId(Uuid::nil()),
        rule_id: rule.into(),
        by: AccountId(Uuid::nil()),
        by_name: "Dr Example".into(),
        at: at(5),
        reason: "Stopped 3 months ago; superficial needling only; reviewed skin in clinic.".into(),
    }
}

#[test]
fn a_clinician_override_sets_aside_only_rules_the_evidence_allows() {
    let base = evidence();
    let today = Date::constant(2026, 11, 25);
    let answers = answers_with_isotretinoin("2026-08-25");
    let plain = screen(base, &answers, today).unwrap();
    assert_eq!(plain.verdict, Verdict::NotAtHome);
    assert!(plain.overridden.is_empty());

    let with = screen_with_overrides(base, &answers, today, &[override_of("screen.isotretinoin")])
        .unwrap();
    assert_eq!(with.verdict, Verdict::Go);
    assert_eq!(with.eligible_from, None);
    assert!(
        with.reasons
            .iter()
            .all(|r| r.rule_id != "screen.isotretinoin")
    );
    assert_eq!(with.overridden.len(), 1);
    let o = &with.overridden[0];
    assert_eq!(o.reason.rule_id, "screen.isotretinoin");
    assert_eq!(o.by_name, "Dr Example");
    assert!(o.evidence.sources.iter().any(|s| s == "R23"));

    // A rule without an override policy cannot be set aside.
    let mut pregnant = answers.clone();
    pregnant.set("pregnant", needlewise_core::answers::Answer::Bool(true));
    let still = screen_with_overrides(
        base,
        &pregnant,
        today,
        &[
            override_of("screen.isotretinoin"),
            override_of("screen.pregnancy"),
        ],
    )
    .unwrap();
    assert_eq!(still.verdict, Verdict::NotAtHome);
    assert!(still.reasons.iter().any(|r| r.rule_id.contains("pregnan")));
    assert_eq!(still.overridden.len(), 1);
}

#[test]
fn only_screening_rules_carry_override_evidence() {
    let base = evidence();
    let overridable: Vec<&str> = base
        .screening
        .rules
        .iter()
        .filter(|r| r.clinician_override.is_some())
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(overridable, ["screen.isotretinoin"]);
    for q in [&base.readiness, &base.checkin] {
        assert!(q.rules.iter().all(|r| r.clinician_override.is_none()));
    }
    let mut broken = base.clone();
    broken.readiness.rules[0].clinician_override = base
        .screening
        .rules
        .iter()
        .find_map(|r| r.clinician_override.clone());
    assert!(
        broken
            .problems()
            .iter()
            .any(|p| p.contains("only screening rules may be overridden")),
        "{:?}",
        broken.problems()
    );
}

#[test]
fn a_protocol_pushes_the_schedule_only_when_it_is_longer() {
    use needlewise_core::schedule::{LastSession, NextSession, next_session};
    let base = evidence();
    let ended: Timestamp = "2026-11-01T18:00:00Z".parse().unwrap();
    let last = LastSession {
        ended_at: ended,
        needle_length_mm: 0.5,
    };
    let now = "2026-11-25T10:00:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .to_zoned_datetime(crate::support::zone("Europe/Berlin"));
    let healing = next_session(base, Some(last), false, &now);
    // 0.5 mm heals in 4 weeks: from 18:00Z on 29 Nov. A 28-day protocol is
    // the same.
    assert_eq!(healing.earliest(), Some(Date::constant(2026, 11, 29)));
    assert_eq!(protocol().apply_to(healing.clone(), &now), healing);
    // A 42-day protocol moves the date and says why.
    let longer = Protocol {
        interval_days: 42,
        ..protocol()
    };
    match longer.apply_to(healing.clone(), &now) {
        NextSession::After {
            earliest,
            earliest_at,
            last,
            last_at,
            explanation,
            now_ok,
            by_protocol,
            ..
        } => {
            assert!(by_protocol);
            assert_eq!(earliest, Date::constant(2026, 12, 13));
            assert_eq!(earliest_at, ended + SignedDuration::from_hours(42 * 24));
            assert_eq!(last, Date::constant(2026, 11, 1));
            assert_eq!(last_at, ended);
            assert!(explanation.contains("Dr Example"), "{explanation}");
            assert!(!now_ok);
        }
        other => panic!("expected a date, got {other:?}"),
    }
    // The protocol's wait is elapsed time too: over at 42 × 24 hours, not
    // at the start of the 42nd day.
    let at = |s: &str| {
        s.parse::<Timestamp>()
            .unwrap()
            .to_zoned_datetime(crate::support::zone("Pacific/Kiritimati"))
    };
    let just_before = at("2026-12-13T17:59:59Z");
    let next = next_session(base, Some(last), false, &just_before);
    assert!(!longer.apply_to(next, &just_before).allowed_now());
    let exact = at("2026-12-13T18:00:00Z");
    let next = next_session(base, Some(last), false, &exact);
    let pushed = longer.apply_to(next, &exact);
    assert!(pushed.allowed_now());
    // In Kiritimati that instant is already 14 Dec.
    assert_eq!(pushed.earliest(), Some(Date::constant(2026, 12, 14)));
    // A lock stays a lock; a first session stays a first session.
    let locked = next_session(base, Some(last), true, &now);
    assert_eq!(longer.apply_to(locked.clone(), &now), locked);
    let first = next_session(base, None, false, &now);
    assert_eq!(longer.apply_to(first.clone(), &now), first);
}

#[test]
fn only_a_clinic_that_sees_check_ins_resolves_red_flags() {
    use needlewise_core::clinic::{ResolvePolicy, resolve_policy};
    let a = ClinicId(Uuid::from_u128(1));
    let b = ClinicId(Uuid::from_u128(2));
    let c = ClinicId(Uuid::from_u128(3));
    let scopes = |s: &[Scope]| s.iter().copied().collect::<BTreeSet<Scope>>();
    // No clinic: the person, with a doctor's examination stated.
    assert_eq!(
        resolve_policy(std::iter::empty()),
        ResolvePolicy::SelfWithExamination
    );
    // Linked clinics that do not see check-ins cannot resolve them.
    let sessions_only = scopes(&[Scope::Sessions, Scope::Screening, Scope::PhotosClinical]);
    let nothing = scopes(&[]);
    assert_eq!(
        resolve_policy([(a, &sessions_only), (b, &nothing)]),
        ResolvePolicy::SelfWithExamination
    );
    // A clinic that sees check-ins: only its clinicians.
    let checkins = scopes(&[Scope::Checkins]);
    assert_eq!(
        resolve_policy([(a, &sessions_only), (b, &checkins)]),
        ResolvePolicy::ClinicianOf(vec![b])
    );
    let all = scopes(&Scope::ALL);
    assert_eq!(
        resolve_policy([(a, &all), (b, &nothing), (c, &checkins)]),
        ResolvePolicy::ClinicianOf(vec![a, c])
    );
    // And the act itself needs a linked clinician with the check-ins scope.
    assert!(permits(
        &grant(Some(Role::Clinician), true, &[Scope::Checkins]),
        Act::Resolve
    ));
    for g in [
        grant(Some(Role::Clinician), true, &[Scope::Sessions]),
        grant(Some(Role::Clinician), false, &[Scope::Checkins]),
        grant(Some(Role::Staff), true, &Scope::ALL),
        grant(None, true, &Scope::ALL),
    ] {
        assert!(!permits(&g, Act::Resolve), "{g:?}");
    }
}
