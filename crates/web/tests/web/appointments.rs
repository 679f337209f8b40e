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
    super::blocking(|| {
        s.store
            .free_slots(clinic, now, now + SignedDuration::from_hours(24 * 21), now)
            .unwrap()
            .iter()
            .map(|s| s.start)
            .collect()
    })
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
    world_on(Server::new()).await
}

/// The same world on a given server (SQLite or PostgreSQL).
async fn world_on(s: Server) -> World {
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
    super::blocking(|| {
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
            .unwrap()
    });
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
    appointment_matrix(Server::new()).await;
}

/// The same table on PostgreSQL. Needs `NEEDLEWISE_TEST_POSTGRES_URL`
/// (scripts/pg-test-server start); it fails, never skips, without it.
#[test]
fn every_appointment_route_answers_each_role_as_the_table_says_on_postgres() {
    Server::on_postgres(appointment_matrix);
}

async fn appointment_matrix(s: Server) {
    let w = world_on(s).await;
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
        // Booking for A: members of a clinic A is linked to (with or
        // without shared scopes), each at their own clinic; no time chosen
        // gives the form again and books nothing.
        Route {
            method: "GET",
            path: format!("/clinic/appointments/{a}/book"),
            send: Send_::Get,
            about: true,
            expect: ["login", "404", "404", "200", "200", "404", "200"],
        },
        Route {
            method: "POST",
            path: format!("/clinic/appointments/{a}/book"),
            send: Send_::Form(vec![("note", "matrix".into())]),
            about: false,
            expect: ["login", "404", "404", "422", "422", "404", "422"],
        },
        // Moving A's appointment at clinic one: its members only; without
        // a reason, the form again and nothing moves.
        Route {
            method: "GET",
            path: format!("/clinic/appointments/{a}/{}/reschedule", w.kept),
            send: Send_::Get,
            about: true,
            expect: ["login", "404", "404", "200", "404", "404", "200"],
        },
        Route {
            method: "POST",
            path: format!("/clinic/appointments/{a}/{}/reschedule", w.kept),
            send: Send_::Form(vec![
                ("start", slots[2].to_string()),
                ("reason", " ".into()),
            ]),
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
    let mine = super::blocking(|| w.s.store.patient_appointments(a).unwrap());
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
    let log = super::blocking(|| w.s.store.audit_log(a, 500).unwrap());
    let actor =
        |email: &str| super::blocking(|| w.s.store.account_by_email(email).unwrap().unwrap().id);
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
    // Clinic two, which A is linked to without sharing anything, read only
    // what booking for A there shows: her name and her appointments at
    // clinic two (none); clinic three, nothing.
    let two = actor("two@clinic.example");
    let c2: ClinicId = log
        .iter()
        .find(|e| e.actor == two && e.action == "viewed_appointments")
        .map(|e| e.clinic_id)
        .unwrap();
    assert_ne!(c2.to_string(), w.c1.clinic);
    for e in log.iter().filter(|e| e.actor == two) {
        assert!(
            e.action == "viewed_list" || (e.action == "viewed_appointments" && e.clinic_id == c2),
            "{e:?}"
        );
    }
    let three = actor("three@clinic.example");
    assert!(
        log.iter()
            .all(|e| e.actor != three || e.action == "viewed_list"),
        "{log:?}"
    );
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

/// A MIME entity of a received message: its headers (unfolded, names in
/// lower case) and its decoded body, or its parts.
#[derive(Debug)]
struct Entity {
    headers: Vec<(String, String)>,
    body: String,
    parts: Vec<Entity>,
}

impl Entity {
    fn parse(raw: &str) -> Entity {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let headers: Vec<(String, String)> = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut e = Entity {
            headers,
            body: String::new(),
            parts: Vec::new(),
        };
        let ty = e.header("content-type").unwrap_or_default();
        if ty.starts_with("multipart/") {
            let boundary = ty
                .split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
                .unwrap()
                .trim_matches('"')
                .to_owned();
            let delimiter = format!("--{boundary}");
            let inner = body.split(&format!("{delimiter}--")).next().unwrap();
            e.parts = inner
                .split(&delimiter)
                .skip(1)
                .map(|p| Entity::parse(p.trim_start_matches("\r\n")))
                .collect();
        } else {
            e.body = match e.header("content-transfer-encoding").as_deref() {
                Some("base64") => String::from_utf8(
                    data_encoding::BASE64_MIME
                        .decode(body.trim().as_bytes())
                        .unwrap(),
                )
                .unwrap(),
                Some("quoted-printable") => quoted_printable(body),
                _ => body.to_owned(),
            };
        }
        e
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// Every leaf entity, depth first.
    fn leaves(&self) -> Vec<&Entity> {
        if self.parts.is_empty() {
            return vec![self];
        }
        self.parts.iter().flat_map(Entity::leaves).collect()
    }
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// What the patient's email says, its calendar part and attachment, each
/// checked for shape: the text, `text/calendar; method=…` beside it, and
/// the same calendar as `invite.ics`.
struct Sent {
    subject: String,
    text: String,
    calendar: icalendar::Calendar,
    raw_calendar: String,
}

fn sent(m: &super::smtp_sink::Received, method: &str) -> Sent {
    let top = Entity::parse(&m.data);
    assert!(
        top.header("content-type")
            .unwrap()
            .starts_with("multipart/mixed"),
        "{}",
        m.data
    );
    let leaves = top.leaves();
    assert_eq!(leaves.len(), 3, "{}", m.data);
    let text = leaves[0];
    assert!(
        text.header("content-type")
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        text.headers
    );
    let part = leaves[1];
    assert_eq!(
        part.header("content-type").unwrap().to_ascii_lowercase(),
        format!(
            "text/calendar; method={}; charset=utf-8",
            method.to_ascii_lowercase()
        ),
    );
    let file = leaves[2];
    assert!(
        file.header("content-disposition")
            .unwrap()
            .contains("filename=\"invite.ics\""),
        "{:?}",
        file.headers
    );
    assert_eq!(file.body, part.body, "the attachment is the same calendar");
    let calendar: icalendar::Calendar = part.body.parse().unwrap();
    assert_eq!(calendar.property_value("METHOD"), Some(method));
    Sent {
        subject: m.header("subject").unwrap(),
        text: text.body.clone(),
        calendar,
        raw_calendar: part.body.clone(),
    }
}

fn event(c: &icalendar::Calendar) -> &icalendar::Event {
    let events: Vec<_> = c.components.iter().filter_map(|c| c.as_event()).collect();
    assert_eq!(events.len(), 1);
    events[0]
}

/// Booking, a move and a cancellation by the pages each queue the
/// patient's email with its invitation in the same write; the worker sends
/// it as text plus `text/calendar` (and `invite.ics`): REQUEST when
/// booked, CANCEL with the same UID and a higher SEQUENCE when cancelled,
/// a move as the old one's CANCEL and the new one's REQUEST. Times are in
/// the patient's zone, the reason is in plain words, the note nowhere.
#[tokio::test]
async fn appointment_emails_carry_invitations_in_the_patients_zone() {
    use icalendar::Component;
    use needlewise_web::mail::Mailer;

    let sink = super::smtp_sink::SmtpSink::start();
    let from = "needlewise <nw@clinic.example>";
    let s = Server::with_config(needlewise_web::Config {
        mail_from: from.to_owned(),
        ..needlewise_web::Config::default()
    });
    let c1 = clinic_signup(&s, "one@clinic.example", "Dr One", "Clinic One").await;
    let (a, pa) = patient(&s, "alice@example.org", ALICE).await;
    s.store
        .set_profile_time_zone(pa, Some("Asia/Tokyo"))
        .unwrap();
    let code = invite(&s, &c1).await;
    assert_eq!(join(&s, &a, &code, &[]).await, StatusCode::SEE_OTHER);
    let (status, _, page) = post(
        &s,
        "/clinic/appointments/hours",
        Some(&c1.user),
        &hours_form(&c1.user.csrf),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let slots = free(&s, &c1.clinic);
    // The organizer is the address the emails come from.
    let mailer = Mailer::new(Some(&sink.url()), from).unwrap();
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let words = |t: Timestamp| {
        t.to_zoned_datetime(tokyo.clone())
            .strftime("%a %-d %b %Y, %H:%M")
            .to_string()
    };
    let utc = |t: Timestamp| {
        icalendar::CalendarDateTime::Utc(
            chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap(),
        )
    };

    // Booked by Alice: the confirmation, a REQUEST.
    let booked = book(&s, &a, &c1.clinic, slots[0], NOTE).await;
    assert_eq!(
        needlewise_web::notify::deliver(s.store.as_ref(), &mailer, s.now()).unwrap(),
        1
    );
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["alice@example.org"]);
    let request = sent(&got[0], "REQUEST");
    assert_eq!(
        request.subject,
        "needlewise: your appointment at Clinic One is booked"
    );
    assert!(
        request.text.contains(&format!(
            "You booked your appointment at Clinic One on {} to {} (Asia/Tokyo time).",
            words(slots[0]),
            (slots[0] + SignedDuration::from_mins(30))
                .to_zoned_datetime(tokyo.clone())
                .strftime("%H:%M")
        )),
        "{}",
        request.text
    );
    let e = event(&request.calendar);
    let uid = format!("appointment-{booked}@needlewise");
    assert_eq!(e.get_uid(), Some(uid.as_str()));
    assert_eq!(e.get_sequence(), Some(0));
    assert_eq!(e.get_start(), Some(utc(slots[0]).into()));
    assert_eq!(
        e.get_end(),
        Some(utc(slots[0] + SignedDuration::from_mins(30)).into())
    );
    assert_eq!(
        e.property_value("ORGANIZER"),
        Some("mailto:nw@clinic.example")
    );
    let attendees: Vec<&str> = e.multi_properties()["ATTENDEE"]
        .iter()
        .map(|p| p.value())
        .collect();
    assert_eq!(attendees, ["mailto:alice@example.org"]);

    // Moved by Alice: the old one's CANCEL (same UID, SEQUENCE 1), then
    // the new one's REQUEST, with her reason.
    let key = uuid::Uuid::now_v7().to_string();
    let to = slots[1].to_string();
    let (status, _, page) = post(
        &s,
        &format!("/appointments/{booked}/reschedule"),
        Some(&a),
        &[
            ("csrf".to_owned(), a.csrf.clone()),
            ("key".to_owned(), key.clone()),
            ("start".to_owned(), to),
            ("reason".to_owned(), "Work came up".to_owned()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(
        needlewise_web::notify::deliver(s.store.as_ref(), &mailer, s.now()).unwrap(),
        2
    );
    let got = sink.wait_for(3).await;
    assert_eq!(got.len(), 3);
    let cancel = sent(&got[1], "CANCEL");
    assert_eq!(
        cancel.subject,
        "needlewise: your appointment at Clinic One has moved"
    );
    assert!(
        cancel.text.contains(&format!(
            "You moved your appointment at Clinic One from {} to",
            words(slots[0])
        )) && cancel.text.contains("Reason: Work came up"),
        "{}",
        cancel.text
    );
    let e = event(&cancel.calendar);
    assert_eq!(e.get_uid(), Some(uid.as_str()));
    assert_eq!(e.get_sequence(), Some(1));
    assert_eq!(e.property_value("STATUS"), Some("CANCELLED"));
    let moved = sent(&got[2], "REQUEST");
    let e = event(&moved.calendar);
    let new_uid = format!("appointment-{key}@needlewise");
    assert_eq!(e.get_uid(), Some(new_uid.as_str()));
    assert_eq!(e.get_start(), Some(utc(slots[1]).into()));
    assert!(
        moved
            .text
            .contains(&format!("is now on {}", words(slots[1]))),
        "{}",
        moved.text
    );

    // Cancelled by the clinic: a CANCEL with the clinic's reason.
    let (status, _, page) = post(
        &s,
        &format!("/clinic/appointments/{pa}/{key}/cancel"),
        Some(&c1.user),
        &[
            ("csrf".to_owned(), c1.user.csrf.clone()),
            ("reason".to_owned(), "The surgeon is away".to_owned()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(
        needlewise_web::notify::deliver(s.store.as_ref(), &mailer, s.now()).unwrap(),
        1
    );
    let got = sink.wait_for(4).await;
    assert_eq!(got.len(), 4);
    let cancelled = sent(&got[3], "CANCEL");
    assert_eq!(
        cancelled.subject,
        "needlewise: your appointment at Clinic One is cancelled"
    );
    assert!(
        cancelled.text.contains(&format!(
            "The clinic cancelled your appointment at Clinic One on {}",
            words(slots[1])
        )) && cancelled.text.contains("Reason: The surgeon is away"),
        "{}",
        cancelled.text
    );
    let e = event(&cancelled.calendar);
    assert_eq!(e.get_uid(), Some(new_uid.as_str()));
    assert_eq!(e.get_sequence(), Some(1));

    // Nothing of the note, in any part of any email.
    for m in sink.messages() {
        assert!(!m.data.contains(NOTE), "{}", m.data);
    }
    for m in [&request, &cancel, &moved, &cancelled] {
        assert!(!m.raw_calendar.contains(NOTE) && !m.text.contains(NOTE));
    }
}

/// The clinic books for a patient and moves the appointment by its own
/// pages, without script (Post/Redirect/Get): each refusal comes back in
/// plain words next to its field with nothing stored, each success
/// queues the patient's email with its invitation; a clinic without
/// hours says so.
#[tokio::test]
async fn the_clinic_books_for_a_patient_and_moves_it_with_a_reason() {
    use needlewise_store::clinic::CalendarMethod;

    let w = world().await;
    let (s, c1, a) = (&w.s, &w.c1, w.a);
    let clinician = &c1.user;
    let slots = free(s, &c1.clinic);
    let outbox = |method: CalendarMethod| {
        s.store
            .emails(1000)
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.to == "alice@example.org" && e.calendar.as_ref().map(|c| c.method) == Some(method)
            })
            .count()
    };
    let (requests, cancels) = (
        outbox(CalendarMethod::Request),
        outbox(CalendarMethod::Cancel),
    );

    // The form: the patient's name, her booked times, the free times as
    // radio buttons, in the clinic's zone (Europe/London: UTC in winter).
    let book = format!("/clinic/appointments/{a}/book");
    let (status, _, page) = s.get(&book, Some(&clinician.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(&format!("Book an appointment for {ALICE}")),
        "{page}"
    );
    assert!(page.contains("Already booked"), "{page}");
    assert!(
        page.contains(&format!(
            "type=\"radio\" name=\"start\" value=\"{}\"",
            slots[4]
        )),
        "{page}"
    );
    // A time already taken: the form again, the problem by the times.
    let (status, _, page) = post(
        s,
        &book,
        Some(clinician),
        &form(
            Some(clinician),
            &[
                ("start", &start_of(s, a, w.kept)),
                ("note", "Bring the roller"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("id=\"err-slot\""), "{page}");
    assert!(
        page.contains("Bring the roller"),
        "the note is kept: {page}"
    );
    assert_eq!(outbox(CalendarMethod::Request), requests, "nothing queued");
    // A free time: booked, back to the list, Alice's invitation queued.
    let start = slots[4].to_string();
    let (status, h, page) = post(
        s,
        &book,
        Some(clinician),
        &form(
            Some(clinician),
            &[("start", &start), ("note", "Bring the roller")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let to = h[header::LOCATION].to_str().unwrap().to_owned();
    let id: AppointmentId = to
        .strip_prefix("/clinic/appointments#a-")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(outbox(CalendarMethod::Request), requests + 1);
    let booked = s
        .store
        .patient_appointments(a)
        .unwrap()
        .into_iter()
        .find(|v| v.appointment.id == id)
        .unwrap()
        .appointment;
    assert_eq!(booked.slot.start, slots[4]);
    assert_eq!(booked.booked_by.name, "Dr One");
    let (_, _, list) = s.get("/clinic/appointments", Some(&clinician.cookie)).await;
    let moving = format!("/clinic/appointments/{a}/{id}/reschedule");
    assert!(list.contains(&moving), "the list links the move: {list}");

    // Moving it: the current time and note shown; no reason, the form
    // again with the problem by the reason and nothing moved.
    let (status, _, page) = s.get(&moving, Some(&clinician.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(&format!("Move {ALICE}&#39;s appointment")),
        "{page}"
    );
    assert!(page.contains("Bring the roller"), "{page}");
    let new_start = slots[5].to_string();
    let (status, _, page) = post(
        s,
        &moving,
        Some(clinician),
        &form(Some(clinician), &[("start", &new_start), ("reason", "  ")]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("Please say why, in a few words."), "{page}");
    assert!(page.contains("aria-invalid=\"true\""), "{page}");
    assert_eq!(outbox(CalendarMethod::Cancel), cancels);
    // With a reason: moved, the old time's CANCEL and the new REQUEST.
    let key = uuid::Uuid::now_v7().to_string();
    let (status, h, page) = post(
        s,
        &moving,
        Some(clinician),
        &[
            ("csrf".to_owned(), clinician.csrf.clone()),
            ("key".to_owned(), key.clone()),
            ("start".to_owned(), new_start.clone()),
            ("reason".to_owned(), "The surgeon is in theatre".to_owned()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(h[header::LOCATION], format!("/clinic/appointments#a-{key}"));
    assert_eq!(outbox(CalendarMethod::Cancel), cancels + 1);
    assert_eq!(outbox(CalendarMethod::Request), requests + 2);
    // Moved once: the form says it can no longer be moved, with no times.
    let (status, _, page) = s.get(&moving, Some(&clinician.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("can no longer be moved"), "{page}");
    assert!(!page.contains("name=\"start\""), "{page}");

    // A clinic without hours: the empty state, linking to them.
    let c2 = &w.users[4].as_ref().unwrap();
    let (status, _, page) = s.get(&book, Some(&c2.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("No free times in the next three weeks"),
        "{page}"
    );
    assert!(!page.contains("Already booked"), "{page}");
}

/// The start of one of `profile`'s appointments, as the form sends it.
fn start_of(s: &Server, profile: ProfileId, id: AppointmentId) -> String {
    super::blocking(|| {
        s.store
            .patient_appointments(profile)
            .unwrap()
            .into_iter()
            .find(|v| v.appointment.id == id)
            .unwrap()
            .appointment
            .slot
            .start
            .to_string()
    })
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
