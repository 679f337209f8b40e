#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole record as a Bundle.

use std::collections::BTreeSet;

use jiff::Timestamp;
use needlewise_core::answers::Answers;
use needlewise_core::evidence;
use needlewise_core::hygiene::{Device, DeviceKind, RollerSpec};
use needlewise_core::ids::*;
use needlewise_core::progress::{Concern, Photo, Rating, Score};
use needlewise_core::records::{
    CheckinRecord, Episode, ProductUse, Profile, ScreeningRecord, SessionRecord, ZoneRecord,
};
use needlewise_core::schedule::{CourseStatus, NextSession, course_plan};
use needlewise_core::screening::{Verdict, screen};
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_fhir::{
    AppointmentInput, ConsentInput, ConsentScope, ConversationInput, RecordInput, bundle,
};
use serde_json::{Value, json};
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn sample() -> Value {
    let base = evidence();
    let profile = Profile {
        id: ProfileId(id(1)),
        account_id: AccountId(id(2)),
        name: "Ada".into(),
        created_at: at("2026-11-01T09:00:00Z"),
        time_zone: None,
    };
    let answers = crate::import::healthy();
    let result = screen(base, &answers, "2026-11-02".parse().unwrap()).unwrap();
    assert_eq!(result.verdict, Verdict::Go);
    let screening = ScreeningRecord {
        id: ScreeningId(id(3)),
        profile_id: profile.id,
        taken_at: at("2026-11-02T09:00:00Z"),
        answers,
        verdict: Verdict::Go,
        result,
    };
    let device = Device::new(
        DeviceId(id(4)),
        profile.id,
        "bathroom roller".into(),
        DeviceKind::Roller(RollerSpec::standard_192(0.25)),
        at("2026-11-02T10:00:00Z"),
    )
    .unwrap();
    let session = SessionRecord {
        id: SessionId(id(5)),
        profile_id: profile.id,
        device_id: Some(device.id),
        started_at: at("2026-11-03T20:00:00Z"),
        ended_at: at("2026-11-03T20:20:00Z"),
        local_date: "2026-11-03".parse().unwrap(),
        needle_length_mm: 0.25,
        zones: vec![
            ZoneRecord {
                zone: Zone::Forehead,
                seconds: 120,
                strokes: Some(40),
                skipped: false,
            },
            ZoneRecord {
                zone: Zone::LeftCheek,
                seconds: 0,
                strokes: None,
                skipped: true,
            },
        ],
        products: vec![ProductUse {
            name: "plain hyaluronic acid".into(),
            category: "hyaluronic_acid".into(),
            applied_at: at("2026-11-03T20:25:00Z"),
            allowed: true,
        }],
        notes: String::new(),
        setting: Default::default(),
        readiness_check_id: None,
    };
    let checkin_answers = Answers::from_stored_json(
        &base.checkin,
        &json!({"hours_since_session": 30.0, "redness": "severe", "redness_trend": "worse",
                "swelling": true, "pus_or_spreading_warmth": true, "fever": false}),
    )
    .unwrap();
    let checkin = CheckinRecord {
        id: CheckinId(id(6)),
        profile_id: profile.id,
        session_id: Some(session.id),
        at: at("2026-11-05T02:00:00Z"),
        answers: checkin_answers,
        level: TriageLevel::ContactSurgeon,
        rule_ids: vec!["checkin.infection".into()],
    };
    let episode = Episode {
        id: EpisodeId(id(7)),
        profile_id: profile.id,
        checkin_id: checkin.id,
        level: TriageLevel::ContactSurgeon,
        opened_at: checkin.at,
        resolved_at: None,
        resolution: String::new(),
        resolver: None,
    };
    let rating = Rating {
        profile_id: profile.id,
        id: RatingId(id(8)),
        zone: Zone::Forehead,
        concern: Concern::LinesAndWrinkles,
        score: Score::new(3).unwrap(),
        rated_at: at("2026-11-02T08:00:00Z"),
        note: String::new(),
    };
    let photo = Photo {
        profile_id: profile.id,
        id: PhotoId(id(9)),
        taken_at: at("2026-11-02T08:05:00Z"),
        zone: Some(Zone::Forehead),
        width: 800,
        height: 600,
        bytes: 12345,
        sha256: "ab".repeat(32),
        content_type: "image/jpeg".into(),
        stored_name: format!("{}.jpg", id(9)),
    };
    let next = NextSession::Locked {
        explanation: "A red flag is open.".into(),
    };
    let now = at("2026-11-25T20:00:00Z").to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let course = course_plan(base, std::slice::from_ref(&session), 0.25, &now);
    let consents = [ConsentInput {
        id: id(10),
        given_at: at("2026-11-25T20:00:00Z"),
        scope: ConsentScope::OwnExport,
    }];
    let input = RecordInput {
        profile: &profile,
        account_email: Some("ada@example.org"),
        screening: Some(&screening),
        devices: std::slice::from_ref(&device),
        sessions: std::slice::from_ref(&session),
        checkins: std::slice::from_ref(&checkin),
        episodes: std::slice::from_ref(&episode),
        ratings: std::slice::from_ref(&rating),
        photos: std::slice::from_ref(&photo),
        next_session: Some(&next),
        course: Some(&course),
        consents: &consents,
        conversations: &conversations(&profile, &checkin, &episode),
        appointments: &appointments(&profile),
    };
    serde_json::to_value(bundle(base, &input, at("2026-11-25T20:00:00Z"), id(11)).unwrap()).unwrap()
}

/// A conversation started from the red flag's check-in: the patient's
/// question with a photo, and the clinician's answer.
fn conversations(
    profile: &Profile,
    checkin: &CheckinRecord,
    episode: &Episode,
) -> Vec<ConversationInput> {
    use needlewise_core::conversation::{Conversation, Message, MessagePhoto, OriginCard, Side};
    use needlewise_core::ids::{ConversationId, MessageId, MessagePhotoId};
    let card = OriginCard::of(evidence::evidence(), checkin, Some(episode)).unwrap();
    let question = MessageId(id(21));
    let conversation = Conversation {
        id: ConversationId(id(20)),
        clinic_id: needlewise_core::ids::ClinicId(id(19)),
        profile_id: profile.id,
        subject: "Send this to my surgeon".into(),
        origin: Some(card),
        shared_with_staff: false,
        created_at: at("2026-11-05T02:05:00Z"),
        last_message_at: at("2026-11-05T03:00:00Z"),
        last_side: Side::Clinic,
        patient_read_at: None,
        clinic_read_at: Some(at("2026-11-05T03:00:00Z")),
        last_patient_at: Some(at("2026-11-05T02:05:00Z")),
        last_clinic_at: Some(at("2026-11-05T03:00:00Z")),
    };
    vec![ConversationInput {
        conversation: conversation.clone(),
        clinic_name: "Harbour Skin".into(),
        messages: vec![
            Message {
                id: question,
                conversation_id: conversation.id,
                author: profile.account_id,
                side: Side::Patient,
                author_name: "Ada".into(),
                body: "There is pus on my cheek since this morning.".into(),
                created_at: at("2026-11-05T02:05:00Z"),
                photos: vec![MessagePhoto {
                    id: MessagePhotoId(id(23)),
                    message_id: question,
                    position: 0,
                    width: 640,
                    height: 480,
                    bytes: 23456,
                    sha256: "cd".repeat(32),
                    stored_name: format!("{}/{}.jpg", profile.id, id(23)),
                }],
            },
            Message {
                id: MessageId(id(22)),
                conversation_id: conversation.id,
                author: AccountId(id(24)),
                side: Side::Clinic,
                author_name: "Dr Lee".into(),
                body: "Please stop the sessions and come in today at 11.".into(),
                created_at: at("2026-11-05T03:00:00Z"),
                photos: vec![],
            },
        ],
    }]
}

/// Appointments at the clinic: one booked by the clinic (still booked),
/// one the patient cancelled, and one the clinic moved to another time
/// (the booked one), each with a note that says something clinical the
/// description must never repeat.
fn appointments(profile: &Profile) -> Vec<AppointmentInput> {
    use needlewise_core::appointment::{Actor, Appointment, Ending, Slot, Status};
    use needlewise_core::conversation::Side;
    let patient = Actor {
        side: Side::Patient,
        account: profile.account_id,
        name: "Ada".into(),
    };
    let doctor = Actor {
        side: Side::Clinic,
        account: AccountId(id(24)),
        name: "Dr Lee".into(),
    };
    let slot = |start: &str, end: &str| Slot {
        start: at(start),
        end: at(end),
    };
    let booked = Appointment {
        id: AppointmentId(id(30)),
        clinic_id: ClinicId(id(19)),
        profile_id: profile.id,
        slot: slot("2026-12-02T11:00:00Z", "2026-12-02T11:30:00Z"),
        status: Status::Booked,
        note: "zq-pus-on-cheek review".into(),
        conversation_id: Some(ConversationId(id(20))),
        proposal_id: None,
        replaces: Some(AppointmentId(id(32))),
        booked_by: doctor.clone(),
        booked_at: at("2026-11-06T09:00:00Z"),
        ended: None,
        sequence: 0,
    };
    let cancelled = Appointment {
        id: AppointmentId(id(31)),
        slot: slot("2026-11-20T09:00:00Z", "2026-11-20T09:30:00Z"),
        status: Status::Cancelled,
        note: "zq-pus-on-cheek first look".into(),
        conversation_id: None,
        replaces: None,
        booked_by: patient.clone(),
        booked_at: at("2026-11-05T04:00:00Z"),
        ended: Some(Ending {
            by: patient,
            at: at("2026-11-06T08:00:00Z"),
            reason: "I am away that week".into(),
            replaced_by: None,
        }),
        sequence: 1,
        ..booked.clone()
    };
    let moved = Appointment {
        id: AppointmentId(id(32)),
        slot: slot("2026-12-01T10:00:00Z", "2026-12-01T10:30:00Z"),
        status: Status::Rescheduled,
        replaces: None,
        booked_at: at("2026-11-05T05:00:00Z"),
        ended: Some(Ending {
            by: doctor,
            at: at("2026-11-06T09:00:00Z"),
            reason: "The surgeon is in theatre".into(),
            replaced_by: Some(AppointmentId(id(30))),
        }),
        sequence: 1,
        ..booked.clone()
    };
    [cancelled, moved, booked]
        .into_iter()
        .map(|appointment| AppointmentInput {
            appointment,
            clinic_name: "Harbour Skin".into(),
        })
        .collect()
}

#[test]
fn appointments_are_booked_or_cancelled_with_their_reason_and_participants() {
    let b = sample();
    let list = of_type(&b, "Appointment");
    assert_eq!(list.len(), 3);
    let by_id = |n: u128| *list.iter().find(|a| a["id"] == id(n).to_string()).unwrap();
    let patient = format!("urn:uuid:{}", id(1));

    let booked = by_id(30);
    assert_eq!(booked["status"], "booked");
    assert_eq!(booked["start"], "2026-12-02T11:00:00Z");
    assert_eq!(booked["end"], "2026-12-02T11:30:00Z");
    assert_eq!(booked["minutesDuration"], 30);
    assert_eq!(booked["created"], "2026-11-06T09:00:00Z");
    assert_eq!(booked["identifier"][0]["value"], id(30).to_string());
    assert!(booked.get("cancelationReason").is_none(), "{booked}");
    // The patient, the clinic, and the clinician who booked it.
    let participants = booked["participant"].as_array().unwrap();
    assert_eq!(participants.len(), 3, "{booked}");
    assert_eq!(participants[0]["actor"]["reference"], patient.as_str());
    assert_eq!(participants[1]["actor"]["display"], "Harbour Skin");
    assert_eq!(participants[1]["actor"]["type"], "HealthcareService");
    assert_eq!(participants[2]["actor"]["display"], "Dr Lee (Harbour Skin)");
    assert_eq!(participants[2]["actor"]["type"], "Practitioner");
    assert!(participants.iter().all(|p| p["status"] == "accepted"));

    // Cancelled by the patient: her reason, no clinician among the
    // participants.
    let cancelled = by_id(31);
    assert_eq!(cancelled["status"], "cancelled");
    let reason = &cancelled["cancelationReason"];
    assert_eq!(reason["coding"][0]["code"], "patient-cancelled");
    assert_eq!(
        reason["text"],
        "Cancelled by the patient on 2026-11-06T08:00:00Z: I am away that week"
    );
    assert_eq!(cancelled["participant"].as_array().unwrap().len(), 2);

    // Moved by the clinic: cancelled in FHIR's words, with who moved it
    // and the appointment that replaced it.
    let moved = by_id(32);
    assert_eq!(moved["status"], "cancelled");
    assert_eq!(
        moved["cancelationReason"]["coding"][0]["code"],
        "clinic-moved"
    );
    let text = moved["cancelationReason"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Moved to another time by the clinic (Dr Lee, Harbour Skin)"),
        "{text}"
    );
    assert!(text.contains("The surgeon is in theatre"), "{text}");
    assert!(text.contains(&id(30).to_string()), "{text}");

    // The description names the clinic only; the patient's own note is
    // the comment.
    for a in &list {
        assert_eq!(a["description"], "Appointment at Harbour Skin");
        assert!(
            a["comment"]
                .as_str()
                .unwrap()
                .starts_with("zq-pus-on-cheek")
        );
    }
    assert_eq!(
        b.to_string().matches("zq-pus-on-cheek").count(),
        3,
        "the note appears once per appointment, as its comment"
    );
}

fn of_type<'a>(b: &'a Value, ty: &str) -> Vec<&'a Value> {
    b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == ty)
        .collect()
}

fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let (true, Some(r)) = (k == "reference", x.as_str()) {
                    out.push(r.to_owned());
                } else {
                    references(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

#[test]
fn the_bundle_holds_every_record_with_resolvable_references() {
    let b = sample();
    // scripts/validate-fhir validates this sample too (it has the ratings
    // and photos that the command line cannot make).
    if let Some(dir) = std::env::var_os("NEEDLEWISE_FHIR_SAMPLE_DIR") {
        let path = std::path::Path::new(&dir).join("sample-bundle.json");
        std::fs::write(path, serde_json::to_vec_pretty(&b).unwrap()).unwrap();
    }
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "collection");
    assert_eq!(b["timestamp"], "2026-11-25T20:00:00Z");
    let entries = b["entry"].as_array().unwrap();
    let urls: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), entries.len(), "fullUrls are unique");
    for e in entries {
        let url = e["fullUrl"].as_str().unwrap();
        assert_eq!(
            url,
            format!("urn:uuid:{}", e["resource"]["id"].as_str().unwrap())
        );
    }
    let mut refs = Vec::new();
    references(&b, &mut refs);
    assert!(refs.len() > 10);
    for r in &refs {
        assert!(urls.contains(r.as_str()), "dangling reference {r}");
    }
    let mut types: Vec<&str> = entries
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "AdverseEvent",
            "Appointment",
            "Appointment",
            "Appointment",
            "CarePlan",
            "Communication",
            "Communication",
            "Consent",
            "Device",
            "DocumentReference",
            "Observation",
            "Observation",
            "Observation",
            "Patient",
            "Procedure",
            "Questionnaire",
            "QuestionnaireResponse"
        ]
    );
}

#[test]
fn conversations_are_communications_in_order_about_their_red_flag() {
    let b = sample();
    let messages = of_type(&b, "Communication");
    assert_eq!(messages.len(), 2);
    let (question, answer) = (messages[0], messages[1]);
    assert_eq!(question["id"], id(21).to_string());
    assert_eq!(question["status"], "completed");
    assert_eq!(question["identifier"][0]["value"], id(20).to_string());
    assert_eq!(question["topic"]["text"], "Send this to my surgeon");
    assert_eq!(question["sent"], "2026-11-05T02:05:00Z");
    assert_eq!(
        question["sender"]["reference"],
        format!("urn:uuid:{}", id(1))
    );
    assert_eq!(question["recipient"][0]["display"], "Harbour Skin");
    assert_eq!(
        question["payload"][0]["contentString"],
        "There is pus on my cheek since this morning."
    );
    assert_eq!(question["payload"][1]["contentAttachment"]["size"], 23456);
    // About the check-in and its red flag, both in the Bundle.
    let reasons: Vec<&str> = question["reasonReference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec![format!("urn:uuid:{}", id(6)), format!("urn:uuid:{}", id(7))]
    );
    // The answer: who advised what, and when.
    assert_eq!(answer["sender"]["display"], "Dr Lee (Harbour Skin)");
    assert_eq!(
        answer["recipient"][0]["reference"],
        format!("urn:uuid:{}", id(1))
    );
    assert_eq!(answer["sent"], "2026-11-05T03:00:00Z");
    assert_eq!(
        answer["inResponseTo"][0]["reference"],
        format!("urn:uuid:{}", id(21))
    );
    assert!(answer.get("reasonReference").is_none());
}

#[test]
fn each_resource_carries_what_it_records() {
    let b = sample();
    let patient = of_type(&b, "Patient")[0];
    assert_eq!(patient["name"][0]["text"], "Ada");
    assert_eq!(patient["telecom"][0]["value"], "ada@example.org");

    let device = of_type(&b, "Device")[0];
    assert_eq!(device["status"], "active");
    assert_eq!(device["deviceName"][0]["type"], "user-friendly-name");
    let props = device["property"].as_array().unwrap();
    assert_eq!(props[0]["type"]["coding"][0]["code"], "needle-length");
    assert_eq!(props[0]["valueQuantity"][0]["value"], 0.25);
    assert_eq!(props[0]["valueQuantity"][0]["code"], "mm");
    assert_eq!(props[1]["type"]["coding"][0]["code"], "use-count");

    let proc = of_type(&b, "Procedure")[0];
    assert_eq!(proc["status"], "completed");
    assert_eq!(proc["performedPeriod"]["start"], "2026-11-03T20:00:00Z");
    // The skipped cheek is not a body site.
    assert_eq!(proc["bodySite"].as_array().unwrap().len(), 1);
    assert_eq!(proc["bodySite"][0]["coding"][0]["code"], "forehead");
    assert_eq!(
        proc["focalDevice"][0]["manipulated"]["reference"],
        format!("urn:uuid:{}", id(4))
    );
    assert_eq!(proc["usedCode"][0]["text"], "plain hyaluronic acid");

    let obs = of_type(&b, "Observation");
    let rating = obs.iter().find(|o| o["valueInteger"] == 3).unwrap();
    assert_eq!(rating["code"]["coding"][0]["code"], "lines_and_wrinkles");
    assert_eq!(rating["bodySite"]["coding"][0]["code"], "forehead");
    let checkin = obs
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "symptom-checkin")
        .unwrap();
    assert_eq!(
        checkin["valueCodeableConcept"]["coding"][0]["code"],
        "contact_surgeon"
    );
    assert_eq!(
        checkin["partOf"][0]["reference"],
        format!("urn:uuid:{}", id(5))
    );
    let comps = checkin["component"].as_array().unwrap();
    assert!(comps.iter().any(
        |c| c["code"]["coding"][0]["code"] == "pus_or_spreading_warmth"
            && c["valueBoolean"] == true
    ));
    assert!(comps.iter().any(|c| c["valueQuantity"]["code"] == "h"));
    let verdict = obs
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "screening-verdict")
        .unwrap();
    assert_eq!(verdict["valueCodeableConcept"]["coding"][0]["code"], "go");

    let ae = of_type(&b, "AdverseEvent")[0];
    assert_eq!(ae["actuality"], "actual");
    assert_eq!(ae["outcome"]["coding"][0]["code"], "ongoing");
    assert_eq!(
        ae["suspectEntity"][0]["instance"]["reference"],
        format!("urn:uuid:{}", id(5))
    );

    let plan = of_type(&b, "CarePlan")[0];
    assert_eq!(plan["status"], "on-hold");
    assert_eq!(plan["intent"], "plan");
    let acts = plan["activity"].as_array().unwrap();
    assert_eq!(acts[0]["detail"]["status"], "on-hold");
    assert_eq!(acts[1]["detail"]["status"], "completed");
    assert_eq!(acts[2]["detail"]["status"], "scheduled");

    let doc = of_type(&b, "DocumentReference")[0];
    let att = &doc["content"][0]["attachment"];
    assert_eq!(att["contentType"], "image/jpeg");
    assert_eq!(att["size"], 12345);
    assert!(
        att.get("hash").is_none(),
        "FHIR's hash is SHA-1; we only have SHA-256"
    );
    assert!(
        !att["url"].as_str().unwrap().contains("://"),
        "a relative url"
    );
    assert_eq!(doc["identifier"][0]["value"], "ab".repeat(32));

    let consent = of_type(&b, "Consent")[0];
    assert_eq!(consent["scope"]["coding"][0]["code"], "patient-privacy");
    assert_eq!(consent["provision"]["type"], "permit");

    // The screening's response imports back to the same answers.
    let qr = of_type(&b, "QuestionnaireResponse")[0];
    let again = crate::import::import(qr).unwrap();
    assert_eq!(again, crate::import::healthy());
}

/// A session of 0.25 mm that started at `start` and took 20 minutes.
fn session_at(n: u128, start: &str) -> SessionRecord {
    let started_at = at(start);
    SessionRecord {
        id: SessionId(id(100 + n)),
        profile_id: ProfileId(id(1)),
        device_id: None,
        started_at,
        ended_at: started_at
            .checked_add(jiff::SignedDuration::from_mins(20))
            .unwrap(),
        local_date: started_at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(),
        needle_length_mm: 0.25,
        zones: Vec::new(),
        products: Vec::new(),
        notes: String::new(),
        setting: Default::default(),
        readiness_check_id: None,
    }
}

/// The CarePlan of a record holding only `sessions`, at `now` (UTC), with
/// the course as the core plans it at that moment.
fn care_plan_at(sessions: &[SessionRecord], now: &str) -> (Value, CourseStatus) {
    let base = evidence();
    let profile = Profile {
        id: ProfileId(id(1)),
        account_id: AccountId(id(2)),
        name: "Ada".into(),
        created_at: at("2026-01-01T09:00:00Z"),
        time_zone: None,
    };
    let now = at(now);
    let zoned = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let course = course_plan(base, sessions, 0.25, &zoned);
    let input = RecordInput {
        profile: &profile,
        account_email: None,
        screening: None,
        devices: &[],
        sessions,
        checkins: &[],
        episodes: &[],
        ratings: &[],
        photos: &[],
        next_session: None,
        course: Some(&course),
        consents: &[],
        conversations: &[],
        appointments: &[],
    };
    let b = serde_json::to_value(bundle(base, &input, now, id(12)).unwrap()).unwrap();
    let plan = of_type(&b, "CarePlan")[0].clone();
    (plan, course.status)
}

fn course_statuses(plan: &Value) -> Vec<String> {
    plan["activity"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["detail"]["code"]["coding"][0]["code"] == "course-session")
        .map(|a| a["detail"]["status"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sessions_after_now_are_not_marked_completed() {
    // One session in the past, two logged with start times after now.
    let sessions = [
        session_at(1, "2026-10-01T20:00:00Z"),
        session_at(2, "2026-11-30T20:00:00Z"),
        session_at(3, "2026-12-30T20:00:00Z"),
    ];
    let (plan, status) = care_plan_at(&sessions, "2026-10-13T12:00:00Z");
    assert_eq!(status, CourseStatus::InProgress);
    assert_eq!(plan["status"], "active");
    assert_eq!(
        course_statuses(&plan),
        ["completed", "scheduled", "scheduled", "scheduled"]
    );
    assert!(plan.get("note").is_none());

    // Only future sessions: nothing is done yet.
    let (plan, status) = care_plan_at(&sessions[1..], "2026-10-13T12:00:00Z");
    assert_eq!(status, CourseStatus::NotStarted);
    assert_eq!(plan["status"], "active");
    assert_eq!(course_statuses(&plan), ["scheduled"; 4]);
}

#[test]
fn a_finished_course_is_a_completed_care_plan() {
    let sessions: Vec<SessionRecord> = (0..4)
        .map(|i| session_at(i, &format!("2026-{:02}-01T20:00:00Z", 3 + i)))
        .collect();
    let (plan, status) = care_plan_at(&sessions, "2026-07-15T12:00:00Z");
    assert_eq!(status, CourseStatus::Finished);
    assert_eq!(plan["status"], "completed");
    assert_eq!(course_statuses(&plan), ["completed"; 4]);
    assert!(
        plan["note"][0]["text"]
            .as_str()
            .unwrap()
            .contains("finished")
    );
    // The same sessions asked about before the last one happened: still
    // under way, the last one scheduled.
    let (plan, status) = care_plan_at(&sessions, "2026-05-15T12:00:00Z");
    assert_eq!(status, CourseStatus::InProgress);
    assert_eq!(plan["status"], "active");
    assert_eq!(
        course_statuses(&plan),
        ["completed", "completed", "completed", "scheduled"]
    );
}

#[test]
fn a_lapsed_course_is_revoked_with_a_note() {
    // Two sessions, then nothing until long after the 90-day review.
    let sessions = [
        session_at(1, "2026-01-05T20:00:00Z"),
        session_at(2, "2026-02-05T20:00:00Z"),
    ];
    let (plan, status) = care_plan_at(&sessions, "2026-09-01T12:00:00Z");
    assert_eq!(status, CourseStatus::Lapsed);
    assert_eq!(plan["status"], "revoked");
    let note = plan["note"][0]["text"].as_str().unwrap();
    assert!(note.contains("passed its review date"), "{note}");
    assert!(note.contains("unfinished"), "{note}");
    assert_eq!(
        course_statuses(&plan),
        ["completed", "completed", "scheduled", "scheduled"]
    );
}
