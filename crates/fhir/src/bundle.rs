//! A person's whole record as a FHIR R4 `collection` Bundle.
//!
//! Built from a plain [`RecordInput`] of the core's record types; nothing
//! here reads the store or the clock. Every entry's `fullUrl` is
//! `urn:uuid:` with needlewise's own id, and references between entries
//! use those URNs. Resources that have no id of their own (the care plan,
//! the screening's verdict) get one derived from a related id, so an
//! export of the same data gives the same Bundle.

use jiff::Timestamp;
use needlewise_core::answers::Answer;
use needlewise_core::appointment::{Appointment, Status as AppointmentStatus};
use needlewise_core::conversation::{Conversation, Message, Side};
use needlewise_core::evidence::{EvidenceBase, QuestionKind};
use needlewise_core::hygiene::{Device, DeviceKind, HygieneState};
use needlewise_core::progress::{Photo, Rating};
use needlewise_core::records::{CheckinRecord, Episode, Profile, ScreeningRecord, SessionRecord};
use needlewise_core::schedule::{CoursePlan, CourseStatus, NextSession};
use needlewise_core::zone::Zone;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::{Annotation, CodeableConcept, Coding, Identifier, Period, Quantity, Reference};
use crate::{BASE_URL, FhirError, humanise};

/// What is shared, and with whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScope {
    /// The person's own export of their own record, for themselves.
    OwnExport,
}

/// A consent to share the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentInput {
    pub id: Uuid,
    pub given_at: Timestamp,
    pub scope: ConsentScope,
}

/// A conversation with a clinic, with every message (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationInput {
    pub conversation: Conversation,
    pub clinic_name: String,
    pub messages: Vec<Message>,
}

/// An appointment at a clinic, with the clinic's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentInput {
    pub appointment: Appointment,
    pub clinic_name: String,
}

/// Everything the Bundle is built from.
#[derive(Debug, Clone, Copy)]
pub struct RecordInput<'a> {
    pub profile: &'a Profile,
    /// The account's email, when the profile belongs to a web account.
    pub account_email: Option<&'a str>,
    /// The latest screening, with its answers.
    pub screening: Option<&'a ScreeningRecord>,
    pub devices: &'a [Device],
    pub sessions: &'a [SessionRecord],
    pub checkins: &'a [CheckinRecord],
    pub episodes: &'a [Episode],
    pub ratings: &'a [Rating],
    pub photos: &'a [Photo],
    pub next_session: Option<&'a NextSession>,
    pub course: Option<&'a CoursePlan>,
    pub consents: &'a [ConsentInput],
    /// Conversations with clinics: a `Communication` per message.
    pub conversations: &'a [ConversationInput],
    /// Appointments at clinics: an `Appointment` each.
    pub appointments: &'a [AppointmentInput],
}

/// `Bundle` of type `collection`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub resource_type: &'static str,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub timestamp: String,
    pub entry: Vec<BundleEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntry {
    pub full_url: String,
    pub resource: Value,
}

fn system(name: &str) -> String {
    format!("{BASE_URL}/CodeSystem/{name}")
}

fn code(name: &str, code: &str, display: &str) -> Coding {
    Coding::new(&system(name), code, Some(display))
}

fn zone_concept(z: Zone) -> CodeableConcept {
    CodeableConcept::coded(code("zone", z.id(), z.label()), Some(z.label()))
}

/// An id derived from another, for resources that have none of their own.
fn derived(from: Uuid, tag: u8) -> Uuid {
    let mut bytes = *from.as_bytes();
    bytes[15] ^= tag;
    bytes[13] ^= 0xa5;
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn survey() -> Value {
    json!([{ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "survey",
        "display": "Survey",
    }]}])
}

/// The record as a `collection` Bundle, stamped `now`, with id `bundle_id`.
pub fn bundle(
    base: &EvidenceBase,
    input: &RecordInput<'_>,
    now: Timestamp,
    bundle_id: Uuid,
) -> Result<Bundle, FhirError> {
    let patient_id = input.profile.id.as_uuid();
    let patient = to_value(&Reference::urn(patient_id));
    let mut entries: Vec<(Uuid, Value)> = Vec::new();

    // Patient.
    let mut p = json!({
        "resourceType": "Patient",
        "id": patient_id.to_string(),
        "identifier": [to_value(&Identifier {
            system: format!("{BASE_URL}/identifier/profile"),
            value: patient_id.to_string(),
        })],
        "active": true,
        "name": [{ "text": input.profile.name }],
    });
    if let Some(email) = input.account_email {
        p["telecom"] = json!([{ "system": "email", "value": email, "use": "home" }]);
    }
    entries.push((patient_id, p));

    // The Questionnaire, the screening's response and its verdict.
    if let Some(s) = input.screening {
        let qid = derived(patient_id, 1);
        let mut form = to_value(&crate::questionnaire(base)?);
        form["id"] = json!(qid.to_string());
        entries.push((qid, form));
        let rid = s.id.as_uuid();
        let response =
            crate::export_response(base, &s.answers, s.taken_at, Some(rid), Some(patient_id))?;
        entries.push((rid, to_value(&response)));
        let vid = derived(rid, 2);
        entries.push((
            vid,
            json!({
                "resourceType": "Observation",
                "id": vid.to_string(),
                "status": "final",
                "category": survey(),
                "code": CodeableConcept::coded(
                    code("record", "screening-verdict", "needlewise screening verdict"),
                    Some("needlewise screening verdict (decision support, not a diagnosis)"),
                ),
                "subject": patient,
                "effectiveDateTime": s.taken_at.to_string(),
                "valueCodeableConcept": CodeableConcept::coded(
                    code("verdict", s.verdict.id(), &humanise(s.verdict.id())),
                    Some(s.verdict.headline()),
                ),
                "derivedFrom": [Reference::urn(rid)],
            }),
        ));
    }

    // Devices.
    for d in input.devices {
        entries.push((d.id.as_uuid(), device(d, &patient)));
    }

    // Sessions.
    for s in input.sessions {
        entries.push((s.id.as_uuid(), procedure(s, &patient, input.devices)));
    }

    // Ratings.
    for r in input.ratings {
        let mut o = json!({
            "resourceType": "Observation",
            "id": r.id.as_uuid().to_string(),
            "status": "final",
            "category": survey(),
            "code": CodeableConcept::coded(
                code("concern", r.concern.id(), r.concern.label()),
                Some(&format!("Self-rated {} (0–4, self-reported, not a diagnosis)", r.concern.label())),
            ),
            "subject": patient,
            "effectiveDateTime": r.rated_at.to_string(),
            "valueInteger": r.score.value(),
            "bodySite": zone_concept(r.zone),
        });
        if !r.note.is_empty() {
            o["note"] = json!([Annotation {
                text: r.note.clone()
            }]);
        }
        entries.push((r.id.as_uuid(), o));
    }

    // Check-ins.
    for c in input.checkins {
        entries.push((c.id.as_uuid(), checkin(base, c, &patient, input.sessions)));
    }

    // Red flags.
    for e in input.episodes {
        let checkin = input.checkins.iter().find(|c| c.id == e.checkin_id);
        let session = checkin
            .and_then(|c| c.session_id)
            .and_then(|sid| input.sessions.iter().find(|s| s.id == sid));
        let mut suspects = Vec::new();
        if let Some(s) = session {
            suspects.push(json!({ "instance": Reference::urn(s.id.as_uuid()) }));
            if let Some(d) = s
                .device_id
                .filter(|d| input.devices.iter().any(|x| x.id == *d))
            {
                suspects.push(json!({ "instance": Reference::urn(d.as_uuid()) }));
            }
        }
        let outcome = if e.is_open() {
            CodeableConcept::coded(
                Coding::new(
                    "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
                    "ongoing",
                    Some("Ongoing"),
                ),
                None,
            )
        } else {
            CodeableConcept::coded(
                Coding::new(
                    "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
                    "resolved",
                    Some("Resolved"),
                ),
                (!e.resolution.is_empty()).then_some(e.resolution.as_str()),
            )
        };
        let mut a = json!({
            "resourceType": "AdverseEvent",
            "id": e.id.as_uuid().to_string(),
            "actuality": "actual",
            "event": CodeableConcept::coded(
                code("triage-level", e.level.id(), &humanise(e.level.id())),
                Some(&format!("Red flag after microneedling: {}", e.level.headline())),
            ),
            "subject": patient,
            "date": e.opened_at.to_string(),
            "detected": e.opened_at.to_string(),
            "recordedDate": e.opened_at.to_string(),
            "outcome": outcome,
        });
        if !suspects.is_empty() {
            a["suspectEntity"] = Value::Array(suspects);
        }
        entries.push((e.id.as_uuid(), a));
    }

    // The schedule and the course.
    if input.next_session.is_some() || input.course.is_some() {
        let id = derived(patient_id, 3);
        entries.push((id, care_plan(id, input, &patient, now)));
    }

    // Photos.
    for ph in input.photos {
        entries.push((ph.id.as_uuid(), document(ph, &patient)));
    }

    // Consents.
    for c in input.consents {
        entries.push((c.id, consent(c, &patient)));
    }

    // Conversations with clinics: a Communication per message.
    for c in input.conversations {
        let mut previous: Option<Uuid> = None;
        for (i, m) in c.messages.iter().enumerate() {
            let mut res = communication(c, m, &patient);
            if let Some(p) = previous {
                res["inResponseTo"] = json!([Reference::urn(p)]);
            }
            // The first message carries what the conversation is about:
            // the check-in (and its red flag) it was started from, where
            // this Bundle holds them.
            if i == 0
                && let Some(o) = &c.conversation.origin
            {
                let mut about = Vec::new();
                if input.checkins.iter().any(|k| k.id == o.checkin_id) {
                    about.push(to_value(&Reference::urn(o.checkin_id.as_uuid())));
                }
                if let Some(e) = o.episode_id
                    && input.episodes.iter().any(|k| k.id == e)
                {
                    about.push(to_value(&Reference::urn(e.as_uuid())));
                }
                if !about.is_empty() {
                    res["reasonReference"] = Value::Array(about);
                }
            }
            previous = Some(m.id.as_uuid());
            entries.push((m.id.as_uuid(), res));
        }
    }

    // Appointments at clinics.
    for a in input.appointments {
        entries.push((a.appointment.id.as_uuid(), appointment(a, &patient)));
    }

    Ok(Bundle {
        resource_type: "Bundle",
        id: bundle_id.to_string(),
        kind: "collection",
        timestamp: now.to_string(),
        entry: entries
            .into_iter()
            .map(|(id, resource)| BundleEntry {
                full_url: format!("urn:uuid:{id}"),
                resource,
            })
            .collect(),
    })
}

fn device(d: &Device, patient: &Value) -> Value {
    let (kind, extra) = match &d.kind {
        DeviceKind::Roller(r) => (
            "Microneedle roller (dermaroller)",
            vec![("needle-count", "Needle count", r.needle_count)],
        ),
        DeviceKind::Pen(p) => (
            "Microneedling pen with single-use cartridges",
            vec![(
                "needles-per-cartridge",
                "Needles per cartridge",
                p.needles_per_cartridge,
            )],
        ),
    };
    let mut property = vec![
        json!({
            "type": CodeableConcept::coded(code("device-property", "needle-length", "Needle length"), Some("Needle length")),
            "valueQuantity": [Quantity::ucum(d.kind.needle_length_mm(), "mm", "mm")],
        }),
        json!({
            "type": CodeableConcept::coded(code("device-property", "use-count", "Use count"), Some("Uses so far")),
            "valueQuantity": [Quantity::ucum(f64::from(d.use_count), "uses", "{uses}")],
        }),
    ];
    for (c, label, n) in extra {
        property.push(json!({
            "type": CodeableConcept::coded(code("device-property", c, label), Some(label)),
            "valueQuantity": [Quantity::ucum(f64::from(n), "needles", "{needles}")],
        }));
    }
    let retired = d.state == HygieneState::Retired;
    let mut notes = vec![Annotation {
        text: format!("Cleaning state: {}", d.state.name()),
    }];
    if d.damaged {
        notes.push(Annotation {
            text: "Reported damaged: replace it.".into(),
        });
    }
    json!({
        "resourceType": "Device",
        "id": d.id.as_uuid().to_string(),
        "identifier": [Identifier { system: format!("{BASE_URL}/identifier/device"), value: d.id.to_string() }],
        "status": if retired { "inactive" } else { "active" },
        "deviceName": [{ "name": d.name, "type": "user-friendly-name" }],
        "type": CodeableConcept::text(kind),
        "property": property,
        "patient": patient,
        "note": notes,
    })
}

fn procedure(s: &SessionRecord, patient: &Value, devices: &[Device]) -> Value {
    let treated: Vec<CodeableConcept> = s
        .zones
        .iter()
        .filter(|z| !z.skipped)
        .map(|z| zone_concept(z.zone))
        .collect();
    let mut notes = vec![Annotation {
        text: format!("Needle length {} mm.", s.needle_length_mm),
    }];
    for z in &s.zones {
        notes.push(Annotation {
            text: if z.skipped {
                format!("{}: skipped.", z.zone.label())
            } else {
                format!(
                    "{}: {} s{}.",
                    z.zone.label(),
                    z.seconds,
                    z.strokes
                        .map(|n| format!(", {n} strokes"))
                        .unwrap_or_default()
                )
            },
        });
    }
    for p in &s.products {
        notes.push(Annotation {
            text: format!(
                "Applied {} ({}) at {}{}",
                p.name,
                humanise(&p.category).to_lowercase(),
                p.applied_at,
                if p.allowed {
                    "."
                } else {
                    "; the serum gate advised against it."
                }
            ),
        });
    }
    if !s.notes.is_empty() {
        notes.push(Annotation {
            text: s.notes.clone(),
        });
    }
    let mut v = json!({
        "resourceType": "Procedure",
        "id": s.id.as_uuid().to_string(),
        "status": "completed",
        "code": CodeableConcept::coded(
            code("record", "home-microneedling", "Microneedling at home"),
            Some("Microneedling of the face at home"),
        ),
        "subject": patient,
        "performedPeriod": Period { start: Some(s.started_at.to_string()), end: Some(s.ended_at.to_string()) },
        "performer": [{ "actor": patient }],
        "note": notes,
    });
    if !treated.is_empty() {
        v["bodySite"] = to_value(&treated);
    }
    if let Some(d) = s.device_id.filter(|d| devices.iter().any(|x| x.id == *d)) {
        v["focalDevice"] = json!([{
            "action": CodeableConcept::text("used"),
            "manipulated": Reference::urn(d.as_uuid()),
        }]);
    }
    if !s.products.is_empty() {
        v["usedCode"] = to_value(
            &s.products
                .iter()
                .map(|p| CodeableConcept::text(p.name.clone()))
                .collect::<Vec<_>>(),
        );
    }
    v
}

fn checkin(
    base: &EvidenceBase,
    c: &CheckinRecord,
    patient: &Value,
    sessions: &[SessionRecord],
) -> Value {
    let mut components = Vec::new();
    for (id, answer) in c.answers.iter() {
        let Some(question) = base.checkin.question(id) else {
            continue;
        };
        let mut comp = json!({
            "code": CodeableConcept::coded(code("checkin", id, &humanise(id)), Some(&question.prompt)),
        });
        match (answer, &question.kind) {
            (Answer::Bool(b), _) => comp["valueBoolean"] = json!(b),
            (Answer::Integer(n), _) => comp["valueInteger"] = json!(n),
            (Answer::Number(n), _) if id == "hours_since_session" => {
                comp["valueQuantity"] = to_value(&Quantity::ucum(*n, "h", "h"));
            }
            (Answer::Number(n), _) => comp["valueQuantity"] = json!({ "value": n }),
            (Answer::Choice(s), QuestionKind::Choice { .. }) => {
                comp["valueCodeableConcept"] = to_value(&CodeableConcept::coded(
                    code(&format!("checkin-{id}"), s, &humanise(s)),
                    None,
                ));
            }
            (other, _) => comp["valueString"] = json!(other.to_json().to_string()),
        }
        components.push(comp);
    }
    let mut o = json!({
        "resourceType": "Observation",
        "id": c.id.as_uuid().to_string(),
        "status": "final",
        "category": survey(),
        "code": CodeableConcept::coded(
            code("record", "symptom-checkin", "Symptom check-in after microneedling"),
            Some("Symptom check-in after microneedling (self-reported)"),
        ),
        "subject": patient,
        "effectiveDateTime": c.at.to_string(),
        "valueCodeableConcept": CodeableConcept::coded(
            code("triage-level", c.level.id(), &humanise(c.level.id())),
            Some(c.level.headline()),
        ),
    });
    if !components.is_empty() {
        o["component"] = Value::Array(components);
    }
    if let Some(sid) = c
        .session_id
        .filter(|sid| sessions.iter().any(|s| s.id == *sid))
    {
        o["partOf"] = json!([Reference::urn(sid.as_uuid())]);
    }
    if !c.rule_ids.is_empty() {
        o["note"] = json!([Annotation {
            text: format!("Rules that fired: {}", c.rule_ids.join(", ")),
        }]);
    }
    o
}

fn care_plan(id: Uuid, input: &RecordInput<'_>, patient: &Value, now: Timestamp) -> Value {
    let mut activities = Vec::new();
    let mut status = "active";
    if let Some(next) = input.next_session {
        let (detail_status, when, text) = match next {
            NextSession::FirstSession { earliest } => (
                "scheduled",
                Some(*earliest),
                "The first session can be on this day, once the day's readiness check passes."
                    .to_owned(),
            ),
            NextSession::After {
                earliest,
                explanation,
                ..
            } => ("scheduled", Some(*earliest), explanation.clone()),
            NextSession::Locked { explanation } => {
                status = "on-hold";
                ("on-hold", None, explanation.clone())
            }
            NextSession::ClinicOnly { explanation } => {
                status = "on-hold";
                ("on-hold", None, explanation.clone())
            }
        };
        let mut detail = json!({
            "code": CodeableConcept::coded(code("record", "next-session", "Next microneedling session"), Some("Next microneedling session")),
            "status": detail_status,
            "description": text,
        });
        if let Some(d) = when {
            detail["scheduledPeriod"] = json!({ "start": d.to_string() });
        }
        activities.push(json!({ "detail": detail }));
    }
    let mut period = Period::default();
    let mut notes = Vec::new();
    if let Some(course) = input.course {
        // The course is what happened: only sessions at or before now are
        // done (the plan marks them so); the rest are scheduled.
        for s in &course.sessions {
            activities.push(json!({ "detail": {
                "code": CodeableConcept::coded(code("record", "course-session", "Course session"), Some(&format!("Course session {}", s.number))),
                "status": if s.done { "completed" } else { "scheduled" },
                "scheduledPeriod": { "start": s.date.to_string() },
            }}));
        }
        match course.status {
            CourseStatus::NotStarted | CourseStatus::InProgress => {}
            CourseStatus::Finished => {
                status = "completed";
                notes.push(Annotation {
                    text: course.status_words().to_owned(),
                });
            }
            CourseStatus::Lapsed => {
                status = "revoked";
                notes.push(Annotation {
                    text: format!(
                        "The course passed its review date{} unfinished. {}",
                        course
                            .review_on
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default(),
                        course.status_words()
                    ),
                });
            }
        }
        period.start = course.sessions.first().map(|s| s.date.to_string());
        if let Some(r) = course.review_on {
            period.end = Some(r.to_string());
            activities.push(json!({ "detail": {
                "code": CodeableConcept::coded(code("record", "course-review", "Course review"), Some("Review the course, ideally with your facial plastic surgeon")),
                "status": "scheduled",
                "scheduledPeriod": { "start": r.to_string() },
                "description": course.explanation,
            }}));
        }
    }
    let mut v = json!({
        "resourceType": "CarePlan",
        "id": id.to_string(),
        "status": status,
        "intent": "plan",
        "title": "Microneedling at home: next session and course",
        "description": "When the next session may be and the planned course, from needlewise's cited intervals. Decision support, not a prescription.",
        "subject": patient,
        "created": now.to_string(),
        "activity": activities,
    });
    if period.start.is_some() || period.end.is_some() {
        v["period"] = to_value(&period);
    }
    if !notes.is_empty() {
        v["note"] = to_value(&notes);
    }
    v
}

fn document(ph: &Photo, patient: &Value) -> Value {
    let mut attachment = json!({
        "contentType": ph.content_type,
        "url": format!("photos/{}/{}", ph.profile_id, ph.stored_name),
        "title": format!("Progress photo {}", ph.taken_at),
        "creation": ph.taken_at.to_string(),
    });
    // FHIR's Attachment.hash is a SHA-1; needlewise keeps a SHA-256, so it
    // goes in an identifier instead.
    if let Ok(size) = i32::try_from(ph.bytes) {
        attachment["size"] = json!(size);
    }
    let description = match ph.zone {
        Some(z) => format!(
            "Progress photo of the {}, {}×{} px",
            z.label(),
            ph.width,
            ph.height
        ),
        None => format!("Progress photo, {}×{} px", ph.width, ph.height),
    };
    json!({
        "resourceType": "DocumentReference",
        "id": ph.id.as_uuid().to_string(),
        "identifier": [Identifier { system: format!("{BASE_URL}/identifier/sha256"), value: ph.sha256.clone() }],
        "status": "current",
        "type": CodeableConcept::coded(code("record", "progress-photo", "Progress photo"), Some("Progress photo")),
        "subject": patient,
        "date": ph.taken_at.to_string(),
        "description": description,
        "content": [{ "attachment": attachment }],
    })
}

fn consent(c: &ConsentInput, patient: &Value) -> Value {
    let ConsentScope::OwnExport = c.scope;
    json!({
        "resourceType": "Consent",
        "id": c.id.to_string(),
        "status": "active",
        "scope": CodeableConcept::coded(
            Coding::new("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", Some("Privacy Consent")),
            None,
        ),
        "category": [CodeableConcept::coded(
            Coding::new("http://loinc.org", "59284-0", Some("Patient Consent")),
            None,
        )],
        "patient": patient,
        "dateTime": c.given_at.to_string(),
        "performer": [patient],
        "policyRule": CodeableConcept::coded(
            Coding::new("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN", Some("opt-in")),
            Some("The person exports their own record for themselves; nothing is sent anywhere."),
        ),
        "provision": {
            "type": "permit",
            "period": { "start": c.given_at.to_string() },
            "actor": [{
                "role": CodeableConcept::coded(
                    Coding::new("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", Some("information recipient")),
                    None,
                ),
                "reference": patient,
            }],
            "purpose": [Coding::new("http://terminology.hl7.org/CodeSystem/v3-ActReason", "PATRQT", Some("patient requested"))],
        },
    })
}

/// One message as a `Communication`: who sent it to whom and when, its
/// text and its photos (described, not embedded), the conversation as
/// an identifier and topic.
fn communication(c: &ConversationInput, m: &Message, patient: &Value) -> Value {
    let clinic = json!({ "display": c.clinic_name });
    let (sender, recipient) = match m.side {
        Side::Patient => (patient.clone(), clinic),
        Side::Clinic => (
            json!({ "display": format!("{} ({})", m.author_name, c.clinic_name) }),
            patient.clone(),
        ),
    };
    let mut payload = Vec::new();
    if !m.body.is_empty() {
        payload.push(json!({ "contentString": m.body }));
    }
    for (i, p) in m.photos.iter().enumerate() {
        let mut attachment = json!({
            "contentType": "image/jpeg",
            "title": format!("Photo {} of this message, {}×{} px", i + 1, p.width, p.height),
            "creation": m.created_at.to_string(),
        });
        if let Ok(size) = i32::try_from(p.bytes) {
            attachment["size"] = json!(size);
        }
        payload.push(json!({ "contentAttachment": attachment }));
    }
    json!({
        "resourceType": "Communication",
        "id": m.id.as_uuid().to_string(),
        "identifier": [Identifier {
            system: format!("{BASE_URL}/identifier/conversation"),
            value: c.conversation.id.to_string(),
        }],
        "status": "completed",
        "category": [CodeableConcept::coded(
            code("record", "care-team-message", "Message between the patient and their care team"),
            None,
        )],
        "subject": patient,
        "topic": { "text": c.conversation.subject },
        "sent": m.created_at.to_string(),
        "sender": sender,
        "recipient": [recipient],
        "payload": payload,
    })
}

/// An appointment as an R4 `Appointment`: `booked`, or `cancelled` (also
/// when it was moved to another time, which its `cancelationReason` says,
/// with the reason given) with who ended it, when and why; its start and
/// end as instants; the patient and the clinic as participants, and the
/// clinic member who booked it when one did. The description names only
/// the clinic: what the appointment is about stays in the patient's own
/// note (`comment`), never in the description.
fn appointment(input: &AppointmentInput, patient: &Value) -> Value {
    let a = &input.appointment;
    let status = match a.status {
        AppointmentStatus::Booked => "booked",
        AppointmentStatus::Cancelled | AppointmentStatus::Rescheduled => "cancelled",
    };
    let clinic = json!({ "type": "HealthcareService", "display": input.clinic_name });
    let mut participant = vec![
        json!({ "actor": patient, "required": "required", "status": "accepted" }),
        json!({ "actor": clinic, "required": "required", "status": "accepted" }),
    ];
    if a.booked_by.side == Side::Clinic {
        participant.push(json!({
            "type": [CodeableConcept::coded(
                Coding::new(
                    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "AUT",
                    Some("author (originator)"),
                ),
                Some("Booked the appointment"),
            )],
            "actor": {
                "type": "Practitioner",
                "display": format!("{} ({})", a.booked_by.name, input.clinic_name),
            },
            "required": "information-only",
            "status": "accepted",
        }));
    }
    let mut v = json!({
        "resourceType": "Appointment",
        "id": a.id.as_uuid().to_string(),
        "identifier": [Identifier {
            system: format!("{BASE_URL}/identifier/appointment"),
            value: a.id.to_string(),
        }],
        "status": status,
        "description": format!("Appointment at {}", input.clinic_name),
        "start": a.slot.start.to_string(),
        "end": a.slot.end.to_string(),
        "created": a.booked_at.to_string(),
        "participant": participant,
    });
    if let Ok(minutes) = u32::try_from(a.slot.end.duration_since(a.slot.start).as_mins())
        && minutes > 0
    {
        v["minutesDuration"] = json!(minutes);
    }
    if !a.note.is_empty() {
        v["comment"] = json!(a.note);
    }
    if let Some(e) = &a.ended {
        let (code_id, display) = match (a.status, e.by.side) {
            (AppointmentStatus::Rescheduled, Side::Patient) => {
                ("patient-moved", "Moved to another time by the patient")
            }
            (AppointmentStatus::Rescheduled, Side::Clinic) => {
                ("clinic-moved", "Moved to another time by the clinic")
            }
            (_, Side::Patient) => ("patient-cancelled", "Cancelled by the patient"),
            (_, Side::Clinic) => ("clinic-cancelled", "Cancelled by the clinic"),
        };
        let by = match e.by.side {
            Side::Patient => String::new(),
            Side::Clinic => format!(" ({}, {})", e.by.name, input.clinic_name),
        };
        let moved = e
            .replaced_by
            .map(|r| format!(" The new appointment is {r}."))
            .unwrap_or_default();
        v["cancelationReason"] = to_value(&CodeableConcept::coded(
            code("appointment-ending", code_id, display),
            Some(&format!("{display}{by} on {}: {}{moved}", e.at, e.reason)),
        ));
    }
    v
}
