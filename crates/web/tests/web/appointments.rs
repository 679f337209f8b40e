//! Appointments by page: the clinic's opening hours, booking, proposing
//! times in a conversation, cancelling and moving with a reason, and the
//! authorization matrix of every appointment route × every kind of asker,
//! with the status each cell must get and whether the patient's
//! appointment note may appear in the answer.

use axum::http::{StatusCode, header};
use jiff::{SignedDuration, Timestamp};
use needlewise_core::ids::{AppointmentId, ClinicId, ConversationId, ProfileId};

use super::clinic::{Member, add_member, clinic_signup, invite, join, patient};
use super::{Server, User};

const ALICE: &str = "Alice Ardent";
/// The note of Alice's appointment: shown to Alice and her clinic only.
const NOTE: &str = "zq-appointment-note";
const ROLES: [&str; 7] = [
    "anonymous",
    "patient A",
    "patient B",
    "clinician of A's clinic",
    "clinician of a clinic A shares nothing with",
    "clinician of another clinic",
    "staff of A's clinic",
];

/// Mornings 09:00–12:00, every day, half-hour slots, as the form takes them.
fn hours_form(csrf: &str) -> Vec<(String, String)> {
    let mut f = vec![
        ("csrf".to_owned(), csrf.to_owned()),
        ("slot_minutes".to_owned(), "30".to_owned()),
        ("closed".to_owned(), String::new()),
    ];
    for d in needlewise_core::appointment::WEEKDAYS {
        f.push((d.to_owned(), "09:00-12:00".to_owned()));
    }
    f
}

async fn post(
    s: &Server,
    path: &str,
    u: Option<&User>,
    fields: &[(String, String)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    s.post(path, u.map(|u| u.cookie.as_str()), &pairs).await
}

fn form(u: Option<&User>, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f = vec![
        (
            "csrf".to_owned(),
            u.map(|u| u.csrf.clone()).unwrap_or_default(),
        ),
        ("key".to_owned(), uuid::Uuid::now_v7().to_string()),
    ];
    f.extend(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    f
}

fn clone_user(u: &User) -> User {
    User {
        cookie: u.cookie.clone(),
        csrf: u.csrf.clone(),
    }
}

fn free(s: &Server, clinic: &str) -> Vec<Timestamp> {
    let clinic: ClinicId = clinic.parse().unwrap();
    let now = s.now();
    s.store
        .free_slots(clinic, now, now + SignedDuration::from_hours(24 * 21), now)
        .unwrap()
        .iter()
        .map(|s| s.start)
        .collect()
}

/// Books `start` at `clinic` as `u` by the page; the new appointment's id.
async fn book(s: &Server, u: &User, clinic: &str, start: Timestamp, note: &str) -> AppointmentId {
    let start = start.to_string();
    let f = form(
        Some(u),
        &[("clinic", clinic), ("start", &start), ("note", note)],
    );
    let (status, h, page) = post(s, "/appointments", Some(u), &f).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let to = h[header::LOCATION].to_str().unwrap();
    to.strip_prefix("/appointments#a-")
        .unwrap()
        .parse()
        .unwrap()
}

struct World {
    s: Server,
    users: Vec<Option<User>>,
    c1: Member,
    a: ProfileId,
    /// A conversation A shared with the front desk.
    conversation: ConversationId,
    /// A's appointments: to cancel, to move, for the clinic's refusals.
    cancel: AppointmentId,
    moving: AppointmentId,
    kept: AppointmentId,
}

async fn world() -> World {
    let s = Server::new();
    let c1 = clinic_signup(&s, "one@clinic.example", "Dr One", "Clinic One").await;
    let staff = add_member(&s, &c1, "staff@clinic.example", "Stella Staff", "staff").await;
    let c2 = clinic_signup(&s, "two@clinic.example", "Dr Two", "Clinic Two").await;
    let c3 = clinic_signup(&s, "three@clinic.example", "Dr Three", "Clinic Three").await;
    let (a, pa) = patient(&s, "alice@example.org", ALICE).await;
    let (b, _) = patient(&s, "bruno@example.org", "Bruno Bright").await;
    let code = invite(&s, &c1).await;
    assert_eq!(join(&s, &a, &code, &[]).await, StatusCode::SEE_OTHER);
    let code = invite(&s, &c2).await;
    assert_eq!(join(&s, &a, &code, &[]).await, StatusCode::SEE_OTHER);
    let code = invite(&s, &c3).await;
    assert_eq!(join(&s, &b, &code, &[]).await, StatusCode::SEE_OTHER);
    let (status, _, page) = post(
        &s,
        "/clinic/appointments/hours",
        Some(&c1.user),
        &hours_form(&c1.user.csrf),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let slots = free(&s, &c1.clinic);
    let cancel = book(&s, &a, &c1.clinic, slots[0], NOTE).await;
    let moving = book(&s, &a, &c1.clinic, slots[1], NOTE).await;
    let kept = book(&s, &a, &c1.clinic, slots[2], NOTE).await;
    // A conversation shared with the front desk, to propose times in.
    let clinic: ClinicId = c1.clinic.parse().unwrap();
    let new = needlewise_store::conversation::NewConversation {
        id: ConversationId(uuid::Uuid::now_v7()),
        clinic_id: clinic,
        subject: "Booking".into(),
        origin: None,
        shared_with_staff: true,
    };
    s.store
        .start_conversation(
            pa,
            &new,
            &needlewise_store::conversation::NewMessage {
                id: needlewise_core::ids::MessageId(uuid::Uuid::now_v7()),
                body: "When can I come in?".into(),
                photos: vec![],
                at: s.now(),
            },
            &needlewise_store::conversation::MessageMail {
                subject: "s".into(),
                body: "b".into(),
            },
        )
        .unwrap();
    World {
        users: vec![
            None,
            Some(a),
            Some(b),
            Some(clone_user(&c1.user)),
            Some(c2.user),
            Some(c3.user),
            Some(staff.user),
        ],
        s,
        c1,
        a: pa,
        conversation: new.id,
        cancel,
        moving,
        kept,
    }
}

enum Send_ {
    Get,
    /// A form with these fields (the CSRF token and a fresh key added).
    Form(Vec<(&'static str, String)>),
    Hours,
}

struct Route {
    method: &'static str,
    path: String,
    send: Send_,
    /// Whether this route could show A's appointment note.
    about: bool,
    /// Per role: a status, or "login" for the redirect to `/login`.
    expect: [&'static str; 7],
}

/// Who may see A's note: A on her own pages, A's clinic's members on the
/// clinic's.
fn may_see(role: usize, clinic_side: bool) -> bool {
    matches!((role, clinic_side), (1, false) | (3, true) | (6, true))
}

#[tokio::test]
async fn every_appointment_route_answers_each_role_as_the_table_says() {
    let w = world().await;
    let (a, c1, conv) = (w.a, w.c1.clinic.clone(), w.conversation);
    let slots = free(&w.s, &c1);
    let routes = vec![
        // The patient's pages.
        Route {
            method: "GET",
            path: "/appointments".into(),
            send: Send_::Get,
            about: true,
            expect: ["login", "200", "200", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/appointments?conversation={conv}"),
            send: Send_::Get,
            about: true,
            expect: ["login", "200", "200", "200", "200", "200", "200"],
        },
        // Only a patient of clinic one may book there.
        Route {
            method: "POST",
            path: "/appointments".into(),
            send: Send_::Form(vec![
                ("clinic", c1.clone()),
                ("start", slots[0].to_string()),
                ("note", "matrix".into()),
            ]),
            about: false,
            expect: ["login", "303", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "POST",
            path: format!("/appointments/{}/cancel", w.cancel),
            send: Send_::Form(vec![("reason", "I am away".into())]),
            about: false,
            expect: ["login", "303", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "POST",
            path: format!("/appointments/{}/reschedule", w.moving),
            send: Send_::Form(vec![
                ("start", slots[1].to_string()),
                ("reason", "Later suits me".into()),
            ]),
            about: false,
            expect: ["login", "303", "404", "404", "404", "404", "404"],
        },
        // The clinic's pages: members of each clinic see their own.
        Route {
            method: "GET",
            path: "/clinic/appointments".into(),
            send: Send_::Get,
            about: true,
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: "/clinic/appointments/hours".into(),
            send: Send_::Get,
            about: false,
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "POST",
            path: "/clinic/appointments/hours".into(),
            send: Send_::Hours,
            about: false,
            expect: ["login", "404", "404", "303", "303", "303", "303"],
        },
        // With no reason: A's clinic's members get the form back (422),
        // everyone else learns nothing (404) and nothing changes.
        Route {
            method: "POST",
            path: format!("/clinic/appointments/{a}/{}/cancel", w.kept),
            send: Send_::Form(vec![("reason", " ".into())]),
            about: false,
            expect: ["login", "404", "404", "422", "404", "404", "422"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/{conv}/propose"),
            send: Send_::Get,
            about: false,
            expect: ["login", "404", "404", "200", "404", "404", "200"],
        },
        // No time chosen: the form again for those who may propose.
        Route {
            method: "POST",
            path: format!("/clinic/messages/{a}/{conv}/propose"),
            send: Send_::Form(vec![("body", "Times".into())]),
            about: false,
            expect: ["login", "404", "404", "422", "404", "404", "422"],
        },
    ];
    let mut checked = 0;
    for r in &routes {
        for (role, user) in w.users.iter().enumerate() {
            let fields = match &r.send {
                Send_::Get => None,
                Send_::Hours => Some(hours_form(
                    &user.as_ref().map(|u| u.csrf.clone()).unwrap_or_default(),
                )),
                Send_::Form(f) => {
                    let pairs: Vec<(&str, &str)> =
                        f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    Some(form(user.as_ref(), &pairs))
                }
            };
            let (status, h, text) = match fields {
                None => {
                    w.s.get(&r.path, user.as_ref().map(|u| u.cookie.as_str()))
                        .await
                }
                Some(f) => post(&w.s, &r.path, user.as_ref(), &f).await,
            };
            let cell = format!("{} {} as {}", r.method, r.path, ROLES[role]);
            let want = r.expect[role];
            if want == "login" {
                assert_eq!(status, StatusCode::SEE_OTHER, "{cell}: {text}");
                assert_eq!(h[header::LOCATION], "/login", "{cell}");
            } else {
                assert_eq!(status.as_str(), want, "{cell}: {text}");
            }
            if r.about {
                let clinic_side = r.path.starts_with("/clinic/");
                let may = status.is_success() && may_see(role, clinic_side);
                assert_eq!(text.contains(NOTE), may, "{cell}: {text}");
            }
            if !(status.is_success() || status.is_redirection()) && status.as_u16() != 422 {
                assert!(!text.contains(ALICE), "{cell} leaks the name: {text}");
                assert!(!text.contains(NOTE), "{cell} leaks the note: {text}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * ROLES.len());

    // What happened: A cancelled one, moved one, booked one; the clinic's
    // refusals changed nothing.
    let mine = w.s.store.patient_appointments(a).unwrap();
    let status_of = |id: AppointmentId| {
        mine.iter()
            .find(|v| v.appointment.id == id)
            .unwrap()
            .appointment
            .status
    };
    use needlewise_core::appointment::Status;
    assert_eq!(status_of(w.cancel), Status::Cancelled);
    assert_eq!(status_of(w.moving), Status::Rescheduled);
    assert_eq!(status_of(w.kept), Status::Booked);
    assert_eq!(mine.iter().filter(|v| v.appointment.is_booked()).count(), 3);

    // Every clinic read of A's appointments is in A's audit log; the other
    // clinics' members left no line.
    let log = w.s.store.audit_log(a, 500).unwrap();
    let actor = |email: &str| w.s.store.account_by_email(email).unwrap().unwrap().id;
    for (email, action) in [
        ("one@clinic.example", "viewed_appointments"),
        ("staff@clinic.example", "viewed_appointments"),
        ("one@clinic.example", "viewed_conversation"),
    ] {
        let who = actor(email);
        assert!(
            log.iter().any(|e| e.actor == who && e.action == action),
            "{email} {action}: {log:?}"
        );
    }
    for email in ["two@clinic.example", "three@clinic.example"] {
        let who = actor(email);
        assert!(
            log.iter()
                .all(|e| e.actor != who || e.action == "viewed_list"),
            "{email}: {log:?}"
        );
    }
}

#[tokio::test]
async fn the_clinic_proposes_times_the_patient_books_one_and_the_clinic_cancels_it() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let doctor = &w.c1.user;
    let (a, conv) = (w.a, w.conversation);

    // The hours form keeps every answer and says what is wrong, where.
    let mut bad = hours_form(&doctor.csrf);
    bad.retain(|(k, _)| k != "monday" && k != "slot_minutes");
    bad.push(("monday".into(), "9-12".into()));
    bad.push(("slot_minutes".into(), "5".into()));
    let (status, _, page) = post(s, "/clinic/appointments/hours", Some(doctor), &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("write times as 24-hour HH:MM"), "{page}");
    assert!(page.contains("value=\"9-12\""), "{page}");
    assert!(page.contains("value=\"5\""), "{page}");

    // Three free times proposed in the conversation: the form again.
    let slots = free(s, &w.c1.clinic);
    let picks: Vec<String> = slots[3..7].iter().map(ToString::to_string).collect();
    let path = format!("/clinic/messages/{a}/{conv}/propose");
    let mut f = form(Some(doctor), &[("body", "Would one of these suit you?")]);
    for p in &picks {
        f.push(("start".into(), p.clone()));
    }
    let (status, _, page) = post(s, &path, Some(doctor), &f).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("Offer at most 3 times at once."), "{page}");
    f.retain(|(k, v)| k != "start" || *v != picks[3]);
    let (status, h, page) = post(s, &path, Some(doctor), &f).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(
        h[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with(&format!("/clinic/messages/{a}/{conv}#m-"))
    );
    // Sent twice: stored once.
    let (status, _, _) = post(s, &path, Some(doctor), &f).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Alice reads the message and the times in her thread's link.
    let (_, _, thread) = s
        .get(&format!("/messages/{conv}"), Some(&alice.cookie))
        .await;
    assert!(thread.contains("Would one of these suit you?"));
    assert!(thread.contains(&format!("/appointments?conversation={conv}")));
    let (_, _, offers) = s
        .get(
            &format!("/appointments?conversation={conv}"),
            Some(&alice.cookie),
        )
        .await;
    assert!(offers.contains("Times your care team offered"), "{offers}");
    assert_eq!(
        offers.matches("name=\"start\" value=").count(),
        3,
        "{offers}"
    );
    let proposals = s
        .store
        .proposals(
            needlewise_store::appointment::Asker::Patient,
            a,
            conv,
            s.now(),
        )
        .unwrap();
    assert_eq!(proposals.len(), 1);
    let proposal = proposals[0].id.to_string();
    let f = form(
        Some(alice),
        &[
            ("clinic", &w.c1.clinic),
            ("proposal", &proposal),
            ("conversation", &conv.to_string()),
            ("start", &picks[1]),
        ],
    );
    let (status, _, list) = s
        .post_follow(
            "/appointments",
            Some(&alice.cookie),
            &f.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("Clinic One"), "{list}");
    // Booking the proposal's other time: refused in plain words, next to
    // the times.
    let f = form(
        Some(alice),
        &[
            ("clinic", &w.c1.clinic),
            ("proposal", &proposal),
            ("conversation", &conv.to_string()),
            ("start", &picks[0]),
        ],
    );
    let (status, _, page) = post(s, "/appointments", Some(alice), &f).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("An appointment was already booked from these times."),
        "{page}"
    );
    let booked = s
        .store
        .patient_appointments(a)
        .unwrap()
        .into_iter()
        .find(|v| v.appointment.proposal_id.is_some())
        .unwrap()
        .appointment;

    // Someone else's time: taken, in plain words.
    let f = form(
        Some(alice),
        &[("clinic", &w.c1.clinic), ("start", &picks[1])],
    );
    let (status, _, page) = post(s, "/appointments", Some(alice), &f).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Someone has just booked that time. Choose another one."),
        "{page}"
    );

    // The clinic cancels it with a reason; Alice sees why, who and when.
    let cancel = format!("/clinic/appointments/{a}/{}/cancel", booked.id);
    let (status, _, page) = post(
        s,
        &cancel,
        Some(doctor),
        &form(Some(doctor), &[("reason", "")]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Please say why, in a few words."), "{page}");
    let (status, h, _) = post(
        s,
        &cancel,
        Some(doctor),
        &form(Some(doctor), &[("reason", "The surgeon is in theatre")]),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        h[header::LOCATION],
        format!("/clinic/appointments#a-{}", booked.id).as_str()
    );
    let after = s.store.patient_appointments(a).unwrap();
    let ended = after
        .iter()
        .find(|v| v.appointment.id == booked.id)
        .unwrap();
    assert_eq!(
        ended.appointment.status,
        needlewise_core::appointment::Status::Cancelled,
        "{after:?}"
    );
    let (_, _, list) = s.get("/appointments", Some(&alice.cookie)).await;
    assert!(
        list.contains("Cancelled by Dr One on") && list.contains("The surgeon is in theatre"),
        "{list}"
    );
    let log = s.store.audit_log(a, 500).unwrap();
    for action in [
        "slots_proposed",
        "appointment_booked",
        "appointment_cancelled",
    ] {
        assert!(log.iter().any(|e| e.action == action), "{action}: {log:?}");
    }
}

#[tokio::test]
async fn lists_have_empty_states() {
    let s = Server::new();
    let c1 = clinic_signup(&s, "one@clinic.example", "Dr One", "Clinic One").await;
    let (a, _) = patient(&s, "alice@example.org", ALICE).await;
    let (_, _, page) = s.get("/appointments", Some(&a.cookie)).await;
    assert!(page.contains("You have no appointments booked."), "{page}");
    assert!(
        page.contains("join your facial plastic surgeon's clinic first"),
        "{page}"
    );
    let (_, _, page) = s.get("/clinic/appointments", Some(&c1.user.cookie)).await;
    assert!(page.contains("No appointments in this period."), "{page}");
    assert!(page.contains("has not set its opening hours yet"), "{page}");
    let code = invite(&s, &c1).await;
    assert_eq!(join(&s, &a, &code, &[]).await, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get("/appointments", Some(&a.cookie)).await;
    assert!(
        page.contains("No free times in the next 21 days."),
        "{page}"
    );
}

/// A booked appointment is in the patient's calendar feed, from its start
/// to its end with a reminder two hours before; a cancelled one leaves it.
#[tokio::test]
async fn booked_appointments_are_in_the_calendar_feed() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let (status, _, page) = s
        .post(
            "/schedule/calendar",
            Some(&alice.cookie),
            &[("csrf", alice.csrf.as_str()), ("action", "create")],
        )
        .await;
    assert!(status.is_success(), "{page}");
    let i = page.find("/calendar/").expect("a calendar link") + "/calendar/".len();
    let token = page[i..i + 64].to_owned();
    let (status, _, ics) = s.get(&format!("/calendar/{token}.ics"), None).await;
    assert_eq!(status, StatusCode::OK);
    let uid = |id: AppointmentId| format!("UID:appointment-{id}@needlewise");
    for id in [w.cancel, w.moving, w.kept] {
        assert!(ics.contains(&uid(id)), "{id}: {ics}");
    }
    assert!(ics.contains("SUMMARY:Appointment at Clinic One"), "{ics}");
    assert!(ics.contains("TRIGGER;RELATED=START:-PT2H"), "{ics}");
    let kept = s
        .store
        .patient_appointments(w.a)
        .unwrap()
        .into_iter()
        .find(|v| v.appointment.id == w.kept)
        .unwrap()
        .appointment;
    let start = kept
        .slot
        .start
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("DTSTART:%Y%m%dT%H%M%SZ")
        .to_string();
    let end = kept
        .slot
        .end
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("DTEND:%Y%m%dT%H%M%SZ")
        .to_string();
    assert!(ics.contains(&start) && ics.contains(&end), "{ics}");
    let (status, _, _) = post(
        s,
        &format!("/appointments/{}/cancel", w.kept),
        Some(alice),
        &form(Some(alice), &[("reason", "I am away")]),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, ics) = s.get(&format!("/calendar/{token}.ics"), None).await;
    assert!(!ics.contains(&uid(w.kept)), "{ics}");
    assert!(ics.contains(&uid(w.cancel)), "{ics}");
}

/// Checks that `v` has exactly the fields the document's schema `name`
/// describes (every required one, none it does not list), following
/// `$ref`s into objects and arrays of objects.
fn conforms(doc: &serde_json::Value, name: &str, v: &serde_json::Value, at: &str) {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "{name} is documented");
    if let Some(values) = schema["enum"].as_array() {
        assert!(values.contains(v), "{at}: {v} is not one of {name}");
        return;
    }
    let props = schema["properties"].as_object().unwrap();
    let obj = v.as_object().unwrap_or_else(|| panic!("{at}: {v}"));
    for k in obj.keys() {
        assert!(props.contains_key(k), "{at}.{k} is not in {name}");
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap();
        assert!(obj.contains_key(r), "{at}.{r} ({name}) is missing: {v}");
    }
    for (k, p) in props {
        let Some(value) = obj.get(k) else { continue };
        let refs = |p: &serde_json::Value| -> Option<String> {
            p["$ref"]
                .as_str()
                .or_else(|| {
                    p["oneOf"]
                        .as_array()
                        .and_then(|a| a.iter().find_map(|x| x["$ref"].as_str()))
                })
                .map(|r| r.rsplit('/').next().unwrap().to_owned())
        };
        if let Some(inner) = refs(p) {
            if !value.is_null() {
                conforms(doc, &inner, value, &format!("{at}.{k}"));
            }
        } else if let Some(inner) = refs(&p["items"]) {
            for (i, item) in value.as_array().unwrap().iter().enumerate() {
                conforms(doc, &inner, item, &format!("{at}.{k}[{i}]"));
            }
        }
    }
}

async fn api(
    s: &Server,
    method: &str,
    path: &str,
    u: &User,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    super::clinic::api(s, method, path, Some(u), body).await
}

/// The API end to end: free slots, booking (a key sent twice books once;
/// a taken slot is 409 with the plain message), bad input named by its
/// field, cancelling and moving with a reason, the clinic's list, slots,
/// booking and proposals, and a proposal booked once. Every answer has
/// exactly the fields the OpenAPI document describes.
#[tokio::test]
async fn the_appointments_api_books_cancels_moves_and_proposes_as_documented() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let bruno = w.users[2].as_ref().unwrap();
    let doctor = &w.c1.user;
    let c1 = w.c1.clinic.clone();
    let (_, _, doc) = s.get("/api/openapi.json", None).await;
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();

    // Alice's list: the three appointments booked by the pages.
    let (status, v) = api(s, "GET", "/api/appointments", alice, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    conforms(&doc, "AppointmentList", &v, "list");
    let list = v["appointments"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{v}");
    assert!(
        list.iter()
            .all(|a| a["status"] == "booked" && a["note"] == NOTE)
    );
    assert_eq!(list[0]["clinic_name"], "Clinic One");
    assert_eq!(list[0]["booked_by"]["side"], "patient");

    // Free slots: a bounded window of Alice's clinic only.
    let (status, v) = api(
        s,
        "GET",
        &format!("/api/appointments/slots?clinic_id={c1}&days=2"),
        alice,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    conforms(&doc, "FreeSlots", &v, "slots");
    assert_eq!(v["time_zone"], "Europe/London");
    assert_eq!(v["hours_set"], true);
    let slots: Vec<String> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["start"].as_str().unwrap().to_owned())
        .collect();
    // Two mornings of six half-hour slots, less the three booked.
    assert_eq!(slots.len(), 12 - 3, "{v}");
    for days in ["0", "63", "x"] {
        let (status, v) = api(
            s,
            "GET",
            &format!("/api/appointments/slots?clinic_id={c1}&days={days}"),
            alice,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{days}: {v}");
        assert_eq!(v["error"]["code"], "bad_input", "{days}: {v}");
    }
    let (status, v) = api(s, "GET", "/api/appointments/slots", alice, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no clinic: {v}");
    assert_eq!(v["error"]["code"], "bad_input", "{v}");
    let (status, v) = api(
        s,
        "GET",
        &format!("/api/appointments/slots?clinic_id={c1}"),
        bruno,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "not_found");

    // Booking with a key: sent twice, stored once.
    let key = uuid::Uuid::now_v7().to_string();
    let body =
        serde_json::json!({"clinic_id": c1, "start": slots[0], "note": "API visit", "key": key});
    let (status, first) = api(s, "POST", "/api/appointments", alice, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    conforms(&doc, "Booked", &first, "booked");
    assert_eq!(first["stored"], true);
    assert_eq!(first["appointment"]["id"], key.as_str());
    assert_eq!(first["appointment"]["start"], slots[0].as_str());
    assert_eq!(first["appointment"]["sequence"], 0);
    let (status, again) = api(s, "POST", "/api/appointments", alice, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["stored"], false);
    assert_eq!(again["appointment"], first["appointment"]);

    // The same slot with another key: taken, 409 in plain words.
    let (status, v) = api(
        s,
        "POST",
        "/api/appointments",
        alice,
        Some(serde_json::json!({"clinic_id": c1, "start": slots[0]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "conflict");
    assert_eq!(
        v["error"]["message"],
        "Someone has just booked that time. Choose another one."
    );
    conforms(&doc, "ErrorBody", &v, "conflict");

    // Bad input is named by its field; nothing is stored.
    for (body, says) in [
        (
            serde_json::json!({"clinic_id": c1, "start": "tomorrow"}),
            "start:",
        ),
        (
            serde_json::json!({"clinic_id": c1, "start": slots[1], "key": "nope"}),
            "key:",
        ),
        (
            serde_json::json!({"clinic_id": c1, "start": slots[1], "colour": "red"}),
            "colour",
        ),
        (
            serde_json::json!({"clinic_id": c1, "start": "2026-11-25T09:00:00Z"}),
            "That time has passed",
        ),
        (
            serde_json::json!({"clinic_id": c1, "start": "2026-11-26T09:10:00Z"}),
            "does not offer that time",
        ),
    ] {
        let (status, v) = api(s, "POST", "/api/appointments", alice, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["code"], "bad_input", "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains(says), "{body}: {m}");
    }
    let (status, v) = api(
        s,
        "POST",
        "/api/appointments",
        bruno,
        Some(serde_json::json!({"clinic_id": c1, "start": slots[1]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (_, v) = api(s, "GET", "/api/appointments", alice, None).await;
    assert_eq!(v["appointments"].as_array().unwrap().len(), 4, "{v}");

    // Cancelling needs a reason; then it is cancelled, once.
    let id = key.clone();
    let (status, v) = api(
        s,
        "POST",
        &format!("/api/appointments/{id}/cancel"),
        alice,
        Some(serde_json::json!({"reason": "  "})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["message"], "Please say why, in a few words.");
    let (status, v) = api(
        s,
        "POST",
        &format!("/api/appointments/{id}/cancel"),
        alice,
        Some(serde_json::json!({"reason": "I am away"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    conforms(&doc, "AppointmentOut", &v, "cancelled");
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["ended"]["reason"], "I am away");
    assert_eq!(v["ended"]["by"]["side"], "patient");
    assert_eq!(v["sequence"], 1);
    let (status, v) = api(
        s,
        "POST",
        &format!("/api/appointments/{id}/cancel"),
        alice,
        Some(serde_json::json!({"reason": "Another reason"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("This appointment is no longer booked"),
        "{v}"
    );
    let (status, _) = api(
        s,
        "POST",
        &format!("/api/appointments/{}/cancel", uuid::Uuid::now_v7()),
        alice,
        Some(serde_json::json!({"reason": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Moving: the previous one rescheduled, the new one booked at the new
    // time with the note kept; the freed slot is free again.
    let (status, v) = api(
        s,
        "POST",
        &format!("/api/appointments/{}/reschedule", w.moving),
        alice,
        Some(serde_json::json!({"start": slots[2], "reason": "Later suits me"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    conforms(&doc, "Moved", &v, "moved");
    assert_eq!(v["previous"]["status"], "rescheduled");
    assert_eq!(
        v["previous"]["ended"]["replaced_by"],
        v["appointment"]["id"]
    );
    assert_eq!(v["appointment"]["replaces"], w.moving.to_string().as_str());
    assert_eq!(v["appointment"]["start"], slots[2].as_str());
    assert_eq!(v["appointment"]["note"], NOTE);

    // The clinic: its list in a window, a bad window refused.
    let (status, v) = api(s, "GET", "/api/clinic/appointments", doctor, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    conforms(&doc, "AppointmentList", &v, "clinic list");
    assert!(
        v["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["patient_name"] == ALICE),
        "{v}"
    );
    for q in [
        "from=2026-12-01T00:00:00Z&until=2026-11-30T00:00:00Z",
        "from=2026-11-01T00:00:00Z&until=2027-01-15T00:00:00Z",
        "from=yesterday",
    ] {
        let (status, v) = api(
            s,
            "GET",
            &format!("/api/clinic/appointments?{q}"),
            doctor,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {v}");
    }
    let (status, v) = api(
        s,
        "GET",
        "/api/clinic/appointments?from=2027-01-01T00:00:00Z&until=2027-01-02T00:00:00Z",
        doctor,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["appointments"], serde_json::json!([]));

    // The clinic books for Alice; the same slot again is a conflict.
    let (status, v) = api(
        s,
        "POST",
        "/api/clinic/appointments",
        doctor,
        Some(serde_json::json!({"profile_id": w.a, "start": slots[3], "note": "Review"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["appointment"]["booked_by"]["side"], "clinic");
    assert_eq!(v["appointment"]["booked_by"]["name"], "Dr One");
    let by_clinic = v["appointment"]["id"].as_str().unwrap().to_owned();
    let (status, v) = api(
        s,
        "POST",
        "/api/clinic/appointments",
        doctor,
        Some(serde_json::json!({"profile_id": w.a, "start": slots[3]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (status, v) = api(
        s,
        "POST",
        &format!("/api/clinic/appointments/{}/{by_clinic}/reschedule", w.a),
        doctor,
        Some(serde_json::json!({"start": slots[2], "reason": "Moved"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "taken by Alice's move: {v}");
    let (status, v) = api(
        s,
        "POST",
        &format!("/api/clinic/appointments/{}/{by_clinic}/cancel", w.a),
        doctor,
        Some(serde_json::json!({"reason": "The surgeon is away"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ended"]["by"]["name"], "Dr One");

    // Proposals: one to three times, each a free slot.
    let conv = w.conversation;
    let path = format!("/api/clinic/conversations/{}/{conv}/proposals", w.a);
    for (starts, says) in [
        (serde_json::json!([]), "at least one"),
        (
            serde_json::json!([slots[4], slots[5], slots[6], slots[7]]),
            "at most 3",
        ),
        (serde_json::json!([slots[4], slots[4]]), "once"),
        (serde_json::json!(["soon"]), "starts[]"),
    ] {
        let (status, v) = api(
            s,
            "POST",
            &path,
            doctor,
            Some(serde_json::json!({"starts": starts, "body": "Times"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{starts}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{v}"
        );
    }
    let key = uuid::Uuid::now_v7().to_string();
    let body = serde_json::json!({"starts": [slots[4], slots[5]], "body": "Two times", "key": key});
    let (status, v) = api(s, "POST", &path, doctor, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["id"].as_str(), &v["stored"]),
        (Some(key.as_str()), &serde_json::json!(true))
    );
    let (status, v) = api(s, "POST", &path, doctor, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["stored"], false);
    let (status, v) = api(s, "GET", &path, doctor, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    conforms(&doc, "ProposalList", &v, "clinic proposals");
    let (status, v) = api(
        s,
        "GET",
        &format!("/api/conversations/{conv}/proposals"),
        alice,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    conforms(&doc, "ProposalList", &v, "proposals");
    let p = &v["proposals"][0];
    assert_eq!(p["id"], key.as_str());
    assert_eq!(p["by"]["name"], "Dr One");
    assert_eq!(p["slots"].as_array().unwrap().len(), 2);
    assert_eq!(p["booked"], serde_json::Value::Null);

    // Alice books the second time offered; the proposal is then used.
    let (status, v) = api(
        s,
        "POST",
        "/api/appointments",
        alice,
        Some(serde_json::json!({"clinic_id": c1, "start": slots[5], "proposal_id": key})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["appointment"]["proposal_id"], key.as_str());
    assert_eq!(
        v["appointment"]["conversation_id"],
        conv.to_string().as_str()
    );
    let booked = v["appointment"]["id"].clone();
    let (status, v) = api(
        s,
        "POST",
        "/api/appointments",
        alice,
        Some(serde_json::json!({"clinic_id": c1, "start": slots[4], "proposal_id": key})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        v["error"]["message"],
        "An appointment was already booked from these times."
    );
    let (_, v) = api(
        s,
        "GET",
        &format!("/api/conversations/{conv}/proposals"),
        alice,
        None,
    )
    .await;
    assert_eq!(v["proposals"][0]["booked"], booked);
    let (status, _) = api(
        s,
        "GET",
        &format!("/api/conversations/{}/proposals", uuid::Uuid::now_v7()),
        alice,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Alice's record as FHIR holds each of her appointments, booked or
    // cancelled (moved ones too), as the list says.
    let (_, list) = api(s, "GET", "/api/appointments", alice, None).await;
    let (status, bundle) = api(s, "GET", "/api/fhir/Bundle/record", alice, None).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    let fhir: Vec<&serde_json::Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Appointment")
        .collect();
    let list = list["appointments"].as_array().unwrap();
    assert_eq!(fhir.len(), list.len(), "{bundle}");
    for a in list {
        let r = fhir.iter().find(|r| r["id"] == a["id"]).unwrap();
        let want = if a["status"] == "booked" {
            "booked"
        } else {
            "cancelled"
        };
        assert_eq!(r["status"], want, "{r}");
        assert_eq!(r["start"], a["start"], "{r}");
        assert_eq!(r["description"], "Appointment at Clinic One", "{r}");
        assert_eq!(
            r.get("cancelationReason").is_some(),
            want == "cancelled",
            "{r}"
        );
    }
    assert!(list.iter().any(|a| a["status"] == "rescheduled"));
    assert!(list.iter().any(|a| a["status"] == "cancelled"));
}
