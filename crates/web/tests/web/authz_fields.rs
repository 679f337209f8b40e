//! The authorization matrix, field by field: for every combination of the
//! five consent scopes, every clinic-side JSON answer about a patient (the
//! record, the patient list, the red-flag queue, the referral Bundle, the
//! clinic's appointments and the times it offered in a conversation) is
//! walked leaf by leaf. Each leaf's path must be on an allow-list that
//! names the scopes it needs, and a leaf of a scope the patient did not
//! grant may only be null. Then no id or file hash of an unshared record
//! (screening, sessions, check-ins, red-flag episodes, photos) may appear
//! anywhere in the answer's text, whatever field carries it.

use axum::http::StatusCode;
use needlewise_core::ids::ProfileId;
use serde_json::{Value, json};

use super::User;
use super::clinic::{Member, api, clinic_signup, invite, join, patient, seed, upload_photo};

const SCOPES: [&str; 5] = [
    "screening",
    "sessions",
    "checkins",
    "photos_clinical",
    "photos_teaching",
];

/// Every leaf of `v` as (path, value): object keys joined by `.`, array
/// elements as `[]`; empty arrays and objects are leaves too.
fn leaves(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for v in a {
                leaves(v, &format!("{path}[]"), out);
            }
        }
        _ => out.push((path.to_owned(), v.clone())),
    }
}

/// The scopes a leaf of `/api/clinic/patients/{profile}` needs; `None`
/// for a path not on the allow-list.
fn record_needs(path: &str) -> Option<&'static [&'static str]> {
    let top = path.split(['.', '[']).next().unwrap_or("");
    Some(match top {
        "profile" | "joined_at" | "scopes" | "protocol" | "overrides" => &[],
        "screening" => &["screening"],
        "sessions" => &["sessions"],
        "checkins" | "episodes" => &["checkins"],
        "photos" => &["photos_clinical"],
        _ => return None,
    })
}

/// The same for `/api/clinic/patients`.
fn list_needs(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "clinic.id" | "clinic.name" | "clinic.role" => &[],
        "patients[].profile_id" | "patients[].name" | "patients[].joined_at" => &[],
        "patients[].scopes" | "patients[].scopes[]" => &[],
        "patients[].status.last_session" | "patients[].status.next_due" => &["sessions"],
        "patients[].status.open_red_flags" | "patients[].status.unacknowledged_red_flags" => {
            &["checkins"]
        }
        "patients[].status.overdue_checkins" => &["checkins", "sessions"],
        // The next page's cursor: a name key and a profile id, both on
        // the list already.
        "next" => &[],
        // A count over the patients who share their check-ins only: it
        // tells nothing of one who does not.
        "red_flag_patients" => &[],
        _ => return None,
    })
}

/// The clinic's appointments (`/api/clinic/appointments`): scheduling
/// needs no scope (`Act::Schedule`, for linked patients), and an
/// appointment carries nothing clinical, so every leaf is on the list
/// with none.
fn appointments_needs(path: &str) -> Option<&'static [&'static str]> {
    let field = path.strip_prefix("appointments[].")?;
    let top = field.split('.').next().unwrap_or("");
    matches!(
        top,
        "id" | "clinic_id"
            | "clinic_name"
            | "clinic_time_zone"
            | "profile_id"
            | "patient_name"
            | "start"
            | "end"
            | "status"
            | "note"
            | "conversation_id"
            | "proposal_id"
            | "replaces"
            | "booked_by"
            | "booked_at"
            | "ended"
            | "sequence"
    )
    .then_some(&[][..])
}

/// The times offered in a conversation
/// (`/api/clinic/conversations/{profile}/{id}/proposals`).
fn proposals_needs(path: &str) -> Option<&'static [&'static str]> {
    let field = path.strip_prefix("proposals[].")?;
    let top = field.split(['.', '[']).next().unwrap_or("");
    matches!(
        top,
        "id" | "clinic_id" | "conversation_id" | "slots" | "by" | "at" | "booked"
    )
    .then_some(&[][..])
}

/// The red-flag queue: all of it is check-ins.
fn flags_needs(path: &str) -> Option<&'static [&'static str]> {
    (path.is_empty() || path.starts_with("[]")).then_some(&["checkins"][..])
}

/// Checks every leaf of `v` against `needs` with `granted`; returns the
/// scopes that showed at least one non-null leaf.
fn check_leaves(
    what: &str,
    v: &Value,
    granted: &[&str],
    needs: fn(&str) -> Option<&'static [&'static str]>,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    leaves(v, "", &mut out);
    let mut seen = Vec::new();
    for (path, value) in out {
        let Some(scopes) = needs(&path) else {
            panic!("{what}: {path} is on no allow-list; add it with the scopes it needs");
        };
        let empty = value.is_null()
            || value.as_array().is_some_and(Vec::is_empty)
            || value.as_object().is_some_and(serde_json::Map::is_empty);
        if empty {
            continue;
        }
        for s in scopes {
            assert!(
                granted.contains(s),
                "{what} with {granted:?}: {path} = {value} needs {s}"
            );
            if !seen.contains(s) {
                seen.push(*s);
            }
        }
    }
    seen
}

/// The ids (and file hashes) of the patient's records, by scope.
fn secrets(s: &super::Server, profile: ProfileId) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(sc) = s.store.latest_screening(profile).unwrap() {
        out.push(("screening", sc.id.to_string()));
    }
    for x in s.store.sessions(profile).unwrap() {
        out.push(("sessions", x.id.to_string()));
    }
    for x in s.store.checkins(profile).unwrap() {
        out.push(("checkins", x.id.to_string()));
    }
    for x in s.store.episodes(profile).unwrap() {
        out.push(("checkins", x.id.to_string()));
    }
    for x in s.store.photos(profile).unwrap() {
        out.push(("photos_clinical", x.id.to_string()));
        out.push(("photos_clinical", x.sha256.clone()));
    }
    out
}

async fn set_scopes(s: &super::Server, p: &User, clinic: &str, granted: &[&str]) {
    for scope in SCOPES {
        let (status, v) = api(
            s,
            "POST",
            &format!("/api/care-team/{clinic}/consent"),
            Some(p),
            Some(json!({"scope": scope, "granted": granted.contains(&scope)})),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    }
}

async fn get_json(s: &super::Server, dr: &Member, path: &str) -> (StatusCode, Value, String) {
    let (status, _, text) = s.get(path, Some(&dr.user.cookie)).await;
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, v, text)
}

#[tokio::test]
async fn no_clinic_answer_carries_a_field_of_a_scope_the_patient_did_not_grant() {
    let s = super::Server::new();
    let dr = clinic_signup(&s, "fields@clinic.example", "Dr Field", "Field Clinic").await;
    let (p, profile) = patient(&s, "pat@example.org", "Pat Private").await;
    let code = invite(&s, &dr).await;
    assert_eq!(join(&s, &p, &code, &SCOPES).await, StatusCode::SEE_OTHER);
    seed(&s, &p, profile).await;
    upload_photo(&s, &p, profile, 60).await;
    // An appointment booked by the patient, and times offered in a
    // conversation, for the clinic's scheduling answers.
    let mut hours: Vec<(&str, &str)> = vec![
        ("csrf", dr.user.csrf.as_str()),
        ("slot_minutes", "30"),
        ("closed", ""),
    ];
    for d in needlewise_core::appointment::WEEKDAYS {
        hours.push((d, "09:00-12:00"));
    }
    let (status, _, page) = s
        .post("/clinic/appointments/hours", Some(&dr.user.cookie), &hours)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (status, free) = api(
        &s,
        "GET",
        "/api/clinic/appointments/slots",
        Some(&dr.user),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{free}");
    let (status, v) = api(
        &s,
        "POST",
        "/api/appointments",
        Some(&p),
        Some(json!({"clinic_id": dr.clinic, "start": free["slots"][0]["start"], "note": "First visit"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = api(
        &s,
        "POST",
        "/api/conversations",
        Some(&p),
        Some(json!({"clinic_id": dr.clinic, "subject": "Times", "body": "When?"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let conversation = v["id"].as_str().unwrap().to_owned();
    let proposals = format!("/api/clinic/conversations/{profile}/{conversation}/proposals");
    let (status, v) = api(
        &s,
        "POST",
        &proposals,
        Some(&dr.user),
        Some(json!({"starts": [free["slots"][1]["start"]], "body": "This one?"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let secrets = secrets(&s, profile);
    for scope in ["screening", "sessions", "checkins", "photos_clinical"] {
        assert!(
            secrets.iter().any(|(s, _)| *s == scope),
            "the patient has {scope} data"
        );
    }

    for mask in 0u32..(1 << SCOPES.len()) {
        let granted: Vec<&str> = SCOPES
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, s)| *s)
            .collect();
        set_scopes(&s, &p, &dr.clinic, &granted).await;

        let mut texts = Vec::new();
        let (status, v, text) = get_json(&s, &dr, &format!("/api/clinic/patients/{profile}")).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let seen = check_leaves("the record", &v, &granted, record_needs);
        // Every granted scope with data shows it (so the check is not
        // passing on an empty answer).
        for scope in ["screening", "sessions", "checkins", "photos_clinical"] {
            assert_eq!(
                seen.contains(&scope),
                granted.contains(&scope),
                "the record with {granted:?}: {scope}"
            );
        }
        texts.push(("the record", text));

        let (status, v, text) = get_json(&s, &dr, "/api/clinic/patients").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        check_leaves("the patient list", &v, &granted, list_needs);
        texts.push(("the patient list", text));

        let (status, v, text) = get_json(&s, &dr, "/api/clinic/red-flags").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        check_leaves("the red-flag queue", &v, &granted, flags_needs);
        assert_eq!(
            v.as_array().is_some_and(|a| !a.is_empty()),
            granted.contains(&"checkins"),
            "the red-flag queue with {granted:?}: {v}"
        );
        texts.push(("the red-flag queue", text));

        // The clinic's appointments and the times it offered: the same
        // whatever the scopes.
        let (status, v, text) = get_json(&s, &dr, "/api/clinic/appointments").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        check_leaves("the appointments", &v, &granted, appointments_needs);
        assert_eq!(v["appointments"].as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v["appointments"][0]["note"], "First visit", "{v}");
        texts.push(("the appointments", text));
        let (status, v, text) = get_json(&s, &dr, &proposals).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        check_leaves("the proposals", &v, &granted, proposals_needs);
        assert_eq!(v["proposals"].as_array().map(Vec::len), Some(1), "{v}");
        texts.push(("the proposals", text));

        let (status, bundle, text) =
            get_json(&s, &dr, &format!("/clinic/patients/{profile}/record.json")).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let types: Vec<&str> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["resource"]["resourceType"].as_str())
            .collect();
        for (ty, scope) in [
            ("Procedure", "sessions"),
            ("AdverseEvent", "checkins"),
            ("DocumentReference", "photos_clinical"),
            ("QuestionnaireResponse", "screening"),
        ] {
            assert!(
                !types.contains(&ty) || granted.contains(&scope),
                "the Bundle with {granted:?} has a {ty}"
            );
        }
        texts.push(("the referral Bundle", text));

        for (what, text) in &texts {
            for (scope, secret) in &secrets {
                assert!(
                    granted.contains(scope) || !text.contains(secret.as_str()),
                    "{what} with {granted:?} carries {secret} of {scope}: {text}"
                );
            }
        }
    }
}
