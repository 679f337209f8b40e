//! "Ask your surgeon": conversations by page and API, and their
//! authorization matrix. Every conversation route (patient and clinic
//! pages, photo files, API) × every kind of asker, with the status each
//! cell must get and, on every answer, which conversations' text it may
//! show: a conversation's subject appears exactly where the asker may read
//! it, never in a refusal, never to another patient or clinic.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use needlewise_core::ids::{ConversationId, ProfileId};
use serde_json::{Value, json};

use super::clinic::{Member, add_member, api, clinic_signup, invite, join, jpeg, patient, seed};
use super::{Server, User};

const ALICE: &str = "Alice Ardent";
/// Subjects: each names what the conversation is.
const UNSHARED: &str = "zq-unshared";
const SHARED: &str = "zq-shared";
const CLINICAL: &str = "zq-clinical";
/// The title of clinic one's canned reply.
const CANNED: &str = "zq-canned";
const ALL_SCOPES: [&str; 5] = [
    "screening",
    "sessions",
    "checkins",
    "photos_clinical",
    "photos_teaching",
];

/// A multipart message form: text fields and `photos` files.
fn multipart(fields: &[(&str, &str)], photos: &[Vec<u8>]) -> (String, Vec<u8>) {
    let boundary = "nwMSGx7";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (i, p) in photos.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"p{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(
    s: &Server,
    path: &str,
    u: Option<&User>,
    fields: &[(&str, &str)],
    photos: &[Vec<u8>],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let csrf = u.map(|u| u.csrf.clone()).unwrap_or_default();
    let key = uuid::Uuid::now_v7().to_string();
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf), ("key", &key)];
    all.extend_from_slice(fields);
    let (ct, body) = multipart(&all, photos);
    let mut req = Request::post(path).header(header::CONTENT_TYPE, ct);
    if let Some(u) = u {
        req = req.header(header::COOKIE, &u.cookie);
    }
    s.send(req.body(Body::from(body)).unwrap()).await
}

/// Starts a conversation by the page; returns its id from the redirect.
async fn start(
    s: &Server,
    u: &User,
    clinic: &str,
    subject: &str,
    extra: &[(&str, &str)],
    photos: &[Vec<u8>],
) -> ConversationId {
    let mut fields = vec![
        ("clinic", clinic),
        ("subject", subject),
        ("body", "Is this <b>normal</b>? See https://example.org/x"),
    ];
    fields.extend_from_slice(extra);
    let (status, h, page) = post_multipart(s, "/messages", Some(u), &fields, photos).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let to = h[header::LOCATION].to_str().unwrap();
    to.strip_prefix("/messages/").unwrap().parse().unwrap()
}

struct World {
    s: Server,
    /// anonymous, patient A, patient B, clinician of A's clinic, clinician
    /// of a clinic A shares nothing with, clinician of B's clinic, staff
    /// of A's clinic.
    users: Vec<Option<User>>,
    c1: Member,
    a: ProfileId,
    unshared: ConversationId,
    shared: ConversationId,
    clinical: ConversationId,
    photo: String,
    canned: needlewise_core::ids::CannedReplyId,
}

const ROLES: [&str; 7] = [
    "anonymous",
    "patient A",
    "patient B",
    "clinician of A's clinic",
    "clinician of a clinic A shares nothing with",
    "clinician of another clinic",
    "staff of A's clinic",
];

/// Which subjects each role may read on the patient's side (A only) or
/// the clinic's (A's clinician all three, the staff only the one A shared
/// with the front desk); nobody else any.
fn may_read(role: usize, clinic_side: bool) -> &'static [&'static str] {
    match (role, clinic_side) {
        (1, false) => &[UNSHARED, SHARED, CLINICAL],
        (3, true) => &[UNSHARED, SHARED, CLINICAL, CANNED],
        (6, true) => &[SHARED, CANNED],
        _ => &[],
    }
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
    let (b, pb) = patient(&s, "bruno@example.org", "Bruno Bright").await;
    let code = invite(&s, &c1).await;
    assert_eq!(
        join(&s, &a, &code, &ALL_SCOPES).await,
        StatusCode::SEE_OTHER
    );
    let code = invite(&s, &c2).await;
    assert_eq!(join(&s, &a, &code, &[]).await, StatusCode::SEE_OTHER);
    let code = invite(&s, &c3).await;
    assert_eq!(
        join(&s, &b, &code, &ALL_SCOPES).await,
        StatusCode::SEE_OTHER
    );
    let episode = seed(&s, &a, pa).await;
    let checkin = super::blocking(|| {
        s.store
            .episodes(pa)
            .unwrap()
            .into_iter()
            .find(|e| e.id == episode)
            .unwrap()
            .checkin_id
            .to_string()
    });
    let _ = pb;
    let unshared = start(&s, &a, &c1.clinic, UNSHARED, &[], &[]).await;
    let shared = start(&s, &a, &c1.clinic, SHARED, &[("shared", "on")], &[]).await;
    let clinical = start(
        &s,
        &a,
        &c1.clinic,
        CLINICAL,
        &[("checkin", &checkin)],
        &[jpeg(30)],
    )
    .await;
    let photo = super::blocking(|| {
        s.store
            .patient_conversation(pa, clinical, s.now())
            .unwrap()
            .unwrap()
            .messages[0]
            .photos[0]
            .id
            .to_string()
    });
    let dr = super::blocking(|| {
        s.store
            .account_by_email("one@clinic.example")
            .unwrap()
            .unwrap()
            .id
    });
    let canned = needlewise_core::ids::CannedReplyId(uuid::Uuid::now_v7());
    super::blocking(|| {
        s.store
            .save_canned_reply(
                &needlewise_store::clinic::ClinicAccess {
                    clinic: c1.clinic.parse().unwrap(),
                    account: dr,
                },
                canned,
                CANNED,
                "Keep the skin clean and use only water for a day.",
                s.now(),
            )
            .unwrap()
    });
    World {
        canned,
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
        unshared,
        shared,
        clinical,
        photo,
    }
}

fn clone_user(u: &User) -> User {
    User {
        cookie: u.cookie.clone(),
        csrf: u.csrf.clone(),
    }
}

enum Send_ {
    Get,
    /// A multipart message with one photo to the API (CSRF in the header).
    ApiPhotos,
    /// A urlencoded form with the CSRF token (and a fresh `id`).
    Form(&'static [(&'static str, &'static str)]),
    Message,
    Start,
    Json(Value),
}

struct Route {
    method: &'static str,
    path: String,
    send: Send_,
    /// The subjects this route could show.
    about: &'static [&'static str],
    /// Per role: a status, or "login" for the redirect to `/login`.
    expect: [&'static str; 7],
}

async fn send(
    s: &Server,
    r: &Route,
    u: Option<&User>,
    c1: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    match &r.send {
        Send_::Get => {
            let mut req = Request::get(&r.path);
            if let Some(u) = u {
                req = req.header(header::COOKIE, &u.cookie);
            }
            s.send(req.body(Body::empty()).unwrap()).await
        }
        Send_::ApiPhotos => api_photos(s, &r.path, u, &[("body", "api photo")], &[jpeg(40)]).await,
        Send_::Form(fields) => {
            let csrf = u.map(|u| u.csrf.clone()).unwrap_or_default();
            let id = uuid::Uuid::now_v7().to_string();
            let mut body = form_urlencoded::Serializer::new(String::new());
            body.append_pair("csrf", &csrf).append_pair("id", &id);
            for (k, v) in *fields {
                body.append_pair(k, v);
            }
            let mut req = Request::post(&r.path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            if let Some(u) = u {
                req = req.header(header::COOKIE, &u.cookie);
            }
            s.send(req.body(Body::from(body.finish())).unwrap()).await
        }
        Send_::Message => post_multipart(s, &r.path, u, &[("body", "An answer")], &[]).await,
        Send_::Start => {
            post_multipart(
                s,
                &r.path,
                u,
                &[
                    ("clinic", c1),
                    ("subject", "Another question"),
                    ("body", "Hello"),
                ],
                &[],
            )
            .await
        }
        Send_::Json(v) => {
            let mut req = Request::builder().method(r.method).uri(&r.path);
            if let Some(u) = u {
                req = req
                    .header(header::COOKIE, &u.cookie)
                    .header("x-csrf-token", &u.csrf);
            }
            let req = if r.method == "GET" {
                req.body(Body::empty())
            } else {
                req.header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(v.to_string()))
            };
            s.send(req.unwrap()).await
        }
    }
}

#[tokio::test]
async fn every_conversation_route_answers_each_role_as_the_table_says() {
    conversation_matrix(Server::new()).await;
}

/// The same table on PostgreSQL. Needs `NEEDLEWISE_TEST_POSTGRES_URL`
/// (scripts/pg-test-server start); it fails, never skips, without it.
#[test]
fn every_conversation_route_answers_each_role_as_the_table_says_on_postgres() {
    Server::on_postgres(conversation_matrix);
}

async fn conversation_matrix(s: Server) {
    let backend = s.store.backend();
    let w = world_on(s).await;
    let (a, c1) = (w.a, w.c1.clinic.clone());
    let (u, sh, cl) = (w.unshared, w.shared, w.clinical);
    let routes = vec![
        // The patient's pages.
        Route {
            method: "GET",
            path: "/messages".into(),
            send: Send_::Get,
            about: &[UNSHARED, SHARED, CLINICAL],
            expect: ["login", "200", "200", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: "/messages/new".into(),
            send: Send_::Get,
            about: &[],
            expect: ["login", "200", "200", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/messages/{u}"),
            send: Send_::Get,
            about: &[UNSHARED],
            expect: ["login", "200", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "GET",
            path: format!("/messages/{cl}"),
            send: Send_::Get,
            about: &[CLINICAL],
            expect: ["login", "200", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "POST",
            path: format!("/messages/{u}"),
            send: Send_::Message,
            about: &[],
            expect: ["login", "303", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "GET",
            path: format!("/files/messages/{}.jpg", w.photo),
            send: Send_::Get,
            about: &[],
            expect: ["login", "200", "404", "404", "404", "404", "404"],
        },
        // Only a patient of clinic one may write to it.
        Route {
            method: "POST",
            path: "/messages".into(),
            send: Send_::Start,
            about: &[],
            expect: ["login", "303", "404", "404", "404", "404", "404"],
        },
        // The clinic's pages.
        Route {
            method: "GET",
            path: "/clinic/messages".into(),
            send: Send_::Get,
            about: &[UNSHARED, SHARED, CLINICAL],
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/patients/{a}"),
            send: Send_::Get,
            about: &[UNSHARED, SHARED, CLINICAL],
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/{u}"),
            send: Send_::Get,
            about: &[UNSHARED],
            expect: ["login", "404", "404", "200", "404", "404", "404"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/{sh}"),
            send: Send_::Get,
            about: &[SHARED],
            expect: ["login", "404", "404", "200", "404", "404", "200"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/{cl}"),
            send: Send_::Get,
            about: &[CLINICAL],
            expect: ["login", "404", "404", "200", "404", "404", "403"],
        },
        Route {
            method: "POST",
            path: format!("/clinic/messages/{a}/{cl}"),
            send: Send_::Message,
            about: &[],
            expect: ["login", "404", "404", "303", "404", "404", "403"],
        },
        Route {
            method: "POST",
            path: format!("/clinic/messages/{a}/{sh}"),
            send: Send_::Message,
            about: &[],
            expect: ["login", "404", "404", "303", "404", "404", "303"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/photos/{}.thumb.jpg", w.photo),
            send: Send_::Get,
            about: &[],
            expect: ["login", "404", "404", "200", "404", "404", "403"],
        },
        // The API.
        Route {
            method: "GET",
            path: "/api/conversations".into(),
            send: Send_::Json(Value::Null),
            about: &[UNSHARED, SHARED, CLINICAL],
            expect: ["401", "200", "200", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/api/conversations/{cl}"),
            send: Send_::Json(Value::Null),
            about: &[CLINICAL],
            expect: ["401", "200", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "POST",
            path: format!("/api/conversations/{sh}/messages"),
            send: Send_::Json(json!({"body": "by the API"})),
            about: &[],
            expect: ["401", "201", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "POST",
            path: "/api/conversations".into(),
            send: Send_::Json(json!({"clinic_id": c1, "subject": "API question", "body": "hi"})),
            about: &[],
            expect: ["401", "201", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "GET",
            path: "/api/clinic/conversations".into(),
            send: Send_::Json(Value::Null),
            about: &[UNSHARED, SHARED, CLINICAL],
            expect: ["401", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/api/clinic/conversations/{a}/{cl}"),
            send: Send_::Json(Value::Null),
            about: &[CLINICAL],
            expect: ["401", "404", "404", "200", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("/api/clinic/conversations/{a}/{sh}"),
            send: Send_::Json(Value::Null),
            about: &[SHARED],
            expect: ["401", "404", "404", "200", "404", "404", "200"],
        },
        Route {
            method: "POST",
            path: format!("/api/clinic/conversations/{a}/{cl}/messages"),
            send: Send_::Json(json!({"body": "by the clinic's API"})),
            about: &[],
            expect: ["401", "404", "404", "201", "404", "404", "403"],
        },
        // New messages for the pages' poller.
        Route {
            method: "GET",
            path: format!("/messages/{cl}/updates"),
            send: Send_::Get,
            about: &[],
            expect: ["login", "200", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/{cl}/updates"),
            send: Send_::Get,
            about: &[],
            expect: ["login", "404", "404", "200", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/{sh}/updates"),
            send: Send_::Get,
            about: &[],
            expect: ["login", "404", "404", "200", "404", "404", "200"],
        },
        // Messages with photos over the API.
        Route {
            method: "POST",
            path: format!("/api/conversations/{sh}/messages/photos"),
            send: Send_::ApiPhotos,
            about: &[],
            expect: ["401", "201", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "POST",
            path: format!("/api/clinic/conversations/{a}/{cl}/messages/photos"),
            send: Send_::ApiPhotos,
            about: &[],
            expect: ["401", "404", "404", "201", "404", "404", "403"],
        },
        // Canned replies: every member lists and uses their clinic's own,
        // only clinicians write them (other clinics' clinicians write
        // their own clinic's).
        Route {
            method: "GET",
            path: "/clinic/canned-replies".into(),
            send: Send_::Get,
            about: &[CANNED],
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/clinic/messages/{a}/{sh}?canned={}", w.canned),
            send: Send_::Get,
            about: &[SHARED, CANNED],
            expect: ["login", "404", "404", "200", "404", "404", "200"],
        },
        Route {
            method: "POST",
            path: "/clinic/canned-replies".into(),
            send: Send_::Form(&[("title", "By the matrix"), ("body", "Rest.")]),
            about: &[],
            expect: ["login", "404", "404", "303", "303", "303", "403"],
        },
        // Last: the clinician deletes it.
        Route {
            method: "POST",
            path: format!("/clinic/canned-replies/{}/delete", w.canned),
            send: Send_::Form(&[]),
            about: &[],
            expect: ["login", "404", "404", "303", "404", "404", "403"],
        },
    ];
    let mut checked = 0;
    for r in &routes {
        for (role, user) in w.users.iter().enumerate() {
            let (status, h, text) = send(&w.s, r, user.as_ref(), &c1).await;
            let cell = format!("{backend}: {} {} as {}", r.method, r.path, ROLES[role]);
            let want = r.expect[role];
            if want == "login" {
                assert_eq!(status, StatusCode::SEE_OTHER, "{cell}: {text}");
                assert_eq!(h[header::LOCATION], "/login", "{cell}");
            } else {
                assert_eq!(status.as_str(), want, "{cell}: {text}");
            }
            // The text of a conversation appears exactly where the asker
            // may read it.
            for subject in r.about {
                let shown = text.contains(subject);
                let clinic_side = r.path.contains("/clinic/");
                let may = status.is_success() && may_read(role, clinic_side).contains(subject);
                assert_eq!(shown, may, "{cell}: {subject} shown {shown}: {text}");
            }
            if !(status.is_success() || status.is_redirection()) {
                assert!(
                    !text.contains(ALICE),
                    "{cell} leaks the patient's name: {text}"
                );
                assert!(!text.contains("normal"), "{cell} leaks a message: {text}");
                if r.path.starts_with("/api/") {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    assert!(v["error"]["code"].is_string(), "{cell}: {text}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * ROLES.len());
    // Every clinic read of A's conversations is in A's audit log; the
    // clinicians who were refused left no line.
    let log = super::blocking(|| w.s.store.audit_log(a, 500).unwrap());
    let actor =
        |email: &str| super::blocking(|| w.s.store.account_by_email(email).unwrap().unwrap().id);
    for (email, action) in [
        ("one@clinic.example", "viewed_conversation"),
        ("one@clinic.example", "viewed_inbox"),
        ("one@clinic.example", "replied"),
        ("one@clinic.example", "viewed_message_photo"),
        ("staff@clinic.example", "viewed_conversation"),
        ("staff@clinic.example", "replied"),
    ] {
        let who = actor(email);
        assert!(
            log.iter().any(|e| e.actor == who && e.action == action),
            "{email} {action}: {log:?}"
        );
    }
    for email in ["two@clinic.example", "three@clinic.example"] {
        let who = actor(email);
        assert!(log.iter().all(|e| e.actor != who), "{email}: {log:?}");
    }
    // The staff member's refusals changed nothing: no staff reply in the
    // clinical conversation.
    let t = super::blocking(|| {
        w.s.store
            .patient_conversation(a, cl, w.s.now())
            .unwrap()
            .unwrap()
    });
    assert!(t.messages.iter().all(|m| m.author_name != "Stella Staff"));
    assert_eq!(
        t.messages
            .iter()
            .filter(|m| m.author_name == "Dr One")
            .count(),
        3,
        "one reply by page, one by the API, one with a photo by the API"
    );
}

#[tokio::test]
async fn a_patient_asks_and_the_clinic_answers() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let dr = &w.c1.user;
    let staff = w.users[6].as_ref().unwrap();

    // Emails: the clinician heard of all three, the staff of the shared
    // one only; none holds a word of the messages.
    let emails = s.store.emails(100).unwrap();
    // (The red flag's own ladder emails the clinician too.)
    let to = |addr: &str| {
        emails
            .iter()
            .filter(|e| e.to == addr && e.subject == "needlewise: a patient sent a new message")
            .collect::<Vec<_>>()
    };
    assert_eq!(to("one@clinic.example").len(), 3);
    assert_eq!(to("staff@clinic.example").len(), 1);
    for e in &emails {
        for secret in [UNSHARED, SHARED, CLINICAL, "normal", ALICE] {
            assert!(
                !e.body.contains(secret) && !e.subject.contains(secret),
                "{e:?}"
            );
        }
    }

    // The patient's page: text as typed, escaped, no link made.
    let (status, _, page) = s
        .get(&format!("/messages/{}", w.clinical), Some(&alice.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Is this &#60;b&#62;normal&#60;/b&#62;?"),
        "{page}"
    );
    assert!(!page.contains("<b>normal</b>"));
    assert!(!page.contains("href=\"https://example.org/x\""));
    // The check-in travels as a card: its rules and answers, structured.
    assert!(page.contains("The check-in this is about"), "{page}");
    assert!(page.contains("<table class=\"answers\">"), "{page}");
    assert!(page.contains("Red flag"));
    assert!(page.contains(&format!("/files/messages/{}.thumb.jpg", w.photo)));

    // The clinic's inbox: the red flag waiting for an answer first.
    let (status, _, inbox) = s.get("/clinic/messages", Some(&dr.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let first = [CLINICAL, SHARED, UNSHARED].map(|subject| inbox.find(subject).unwrap());
    assert!(first[0] < first[1] && first[0] < first[2], "{inbox}");
    assert!(inbox.contains("Red flag, waiting"));
    assert!(inbox.contains("<span class=\"badge unread\">3<"), "{inbox}");

    // A reply, a minute later: a refused one comes back with its problem
    // and its text, nothing stored; then by PRG.
    s.advance_minutes(1);
    let path = format!("/clinic/messages/{}/{}", w.a, w.clinical);
    let long = "x".repeat(4001);
    let (status, _, page) =
        post_multipart(s, &path, Some(dr), &[("body", long.as_str())], &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("At most 4000 characters."), "{page}");
    assert!(page.contains("aria-invalid=\"true\""));
    let (status, h, _) = post_multipart(
        s,
        &path,
        Some(dr),
        &[("body", "Please come in tomorrow at 9.")],
        &[jpeg(60), jpeg(90)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = h[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with(&format!("{path}#m-")), "{location}");
    let emails = s.store.emails(100).unwrap();
    let to_alice: Vec<_> = emails
        .iter()
        .filter(|e| e.to == "alice@example.org")
        .collect();
    assert_eq!(to_alice.len(), 1);
    assert!(!to_alice[0].body.contains("tomorrow"));

    // The same form sent twice is stored once.
    let key = uuid::Uuid::now_v7().to_string();
    for _ in 0..2 {
        let (ct, body) = multipart(
            &[("csrf", &dr.csrf), ("key", &key), ("body", "Sent twice")],
            &[],
        );
        let req = Request::post(&path)
            .header(header::CONTENT_TYPE, ct)
            .header(header::COOKIE, &dr.cookie)
            .body(Body::from(body))
            .unwrap();
        assert_eq!(s.send(req).await.0, StatusCode::SEE_OTHER);
    }
    // Unread on the patient's side: a badge on More and the care team.
    let (_, _, more) = s.get("/more", Some(&alice.cookie)).await;
    assert!(more.contains("1 unread"), "{more}");
    let (_, _, care) = s.get("/care-team", Some(&alice.cookie)).await;
    assert!(care.contains("Ask my care team"));
    assert!(care.contains("1 unread"));
    let (_, _, list) = s.get("/messages", Some(&alice.cookie)).await;
    assert!(list.contains("New answer"), "{list}");
    // Opening it reads it.
    s.get(&format!("/messages/{}", w.clinical), Some(&alice.cookie))
        .await;
    let (_, _, more) = s.get("/more", Some(&alice.cookie)).await;
    assert!(!more.contains("unread"), "{more}");

    let t = s
        .store
        .patient_conversation(w.a, w.clinical, s.now())
        .unwrap()
        .unwrap();
    assert_eq!(
        t.messages.iter().filter(|m| m.body == "Sent twice").count(),
        1
    );
    let answer = t
        .messages
        .iter()
        .find(|m| m.body.contains("tomorrow"))
        .unwrap();
    assert_eq!(answer.photos.len(), 2);

    // Five photos are refused next to the field; nothing is stored.
    let before = s
        .store
        .patient_conversation(w.a, w.shared, s.now())
        .unwrap()
        .unwrap();
    let five: Vec<Vec<u8>> = (0..5).map(|i| jpeg(i * 10)).collect();
    let (status, _, page) = post_multipart(
        s,
        &format!("/messages/{}", w.shared),
        Some(alice),
        &[("body", "five")],
        &five,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("At most 4 photos."), "{page}");
    assert!(page.contains("five"), "the text is kept");
    let after = s
        .store
        .patient_conversation(w.a, w.shared, s.now())
        .unwrap()
        .unwrap();
    assert_eq!(before.messages.len(), after.messages.len());

    // A file that is not an image is refused; an empty message too.
    let (status, _, page) = post_multipart(
        s,
        &format!("/messages/{}", w.shared),
        Some(alice),
        &[("body", "")],
        &[b"GIF89a not really".to_vec()],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("Only JPEG, PNG or WebP images are accepted."),
        "{page}"
    );
    let (status, _, page) = post_multipart(
        s,
        &format!("/messages/{}", w.shared),
        Some(alice),
        &[("body", "  ")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Write a message, or add a photo."), "{page}");

    // "Send this to my surgeon" from the check-in's result and the lock.
    let checkin = t.summary.conversation.origin.as_ref().unwrap().checkin_id;
    let (_, _, result) = s
        .get(&format!("/checkin/{checkin}"), Some(&alice.cookie))
        .await;
    assert!(
        result.contains(&format!("/messages/new?checkin={checkin}")),
        "{result}"
    );
    let (_, _, form) = s
        .get(
            &format!("/messages/new?checkin={checkin}"),
            Some(&alice.cookie),
        )
        .await;
    assert!(form.contains("Your check-in goes with it"), "{form}");
    assert!(form.contains(&format!("name=\"checkin\" value=\"{checkin}\"")));
    assert!(
        !form.contains("name=\"shared\""),
        "clinicians only: no staff box"
    );
    let (_, _, home) = s.get("/", Some(&alice.cookie)).await;
    assert!(home.contains("/messages/new?red_flag=open"), "{home}");
    let (_, _, form) = s
        .get("/messages/new?red_flag=open", Some(&alice.cookie))
        .await;
    assert!(form.contains(&format!("value=\"{checkin}\"")), "{form}");

    // The staff member's inbox holds the shared conversation only, and the
    // API agrees.
    let (status, v) = api(s, "GET", "/api/clinic/conversations", Some(staff), None).await;
    assert_eq!(status, StatusCode::OK);
    let subjects: Vec<&str> = v["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, vec![SHARED]);
    // The API thread carries the card as structured fields.
    let (status, v) = api(
        s,
        "GET",
        &format!("/api/conversations/{}", w.clinical),
        Some(alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["origin"]["checkin_id"], checkin.to_string());
    assert!(!v["origin"]["rules"].as_array().unwrap().is_empty());
    assert!(v["origin"]["episode_id"].is_string());
    assert_eq!(v["clinical"], true);
    // A key sent twice over the API stores once.
    let body = json!({"body": "twice by API", "key": uuid::Uuid::now_v7().to_string()});
    let path = format!("/api/conversations/{}/messages", w.unshared);
    let (s1, v1) = api(s, "POST", &path, Some(alice), Some(body.clone())).await;
    let (s2, v2) = api(s, "POST", &path, Some(alice), Some(body)).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(
        (v1["stored"].clone(), v2["stored"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(v1["id"], v2["id"]);
    let (status, v) = api(
        s,
        "POST",
        &path,
        Some(alice),
        Some(json!({"body": "y".repeat(4001)})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "bad_input");
}

/// A conversation started from a red flag climbs the clinic's ladder like
/// the flag itself while nobody at the clinic has answered it: in-app
/// notifications at once (the clinicians had the new-message email
/// already), then the next rungs with emails that hold nothing of it. The
/// clinic's first answer stops it, and records who advised what and when,
/// for the patient to see and in the audit log.
#[tokio::test]
async fn an_unanswered_red_flag_conversation_climbs_the_ladder_until_answered() {
    use needlewise_core::clinic::{Ladder, Role, Step, Target};
    use needlewise_store::clinic::ClinicAccess;
    use needlewise_web::notify;

    let w = world().await;
    let s = &w.s;
    let store = s.store.as_ref();
    let account = |email: &str| store.account_by_email(email).unwrap().unwrap().id;
    let (dr, staff) = (
        account("one@clinic.example"),
        account("staff@clinic.example"),
    );
    let clinic = w.c1.clinic.parse().unwrap();
    // A third rung: the clinician in person after 8 hours.
    let ladder = Ladder {
        steps: vec![
            Step {
                after: jiff::SignedDuration::ZERO,
                notify: Target::Role {
                    role: Role::Clinician,
                },
            },
            Step {
                after: jiff::SignedDuration::from_hours(4),
                notify: Target::Role { role: Role::Staff },
            },
            Step {
                after: jiff::SignedDuration::from_hours(8),
                notify: Target::Member { account_id: dr },
            },
        ],
    };
    store
        .set_ladder(
            &ClinicAccess {
                clinic,
                account: dr,
            },
            &ladder,
        )
        .unwrap();
    let thread = format!("/clinic/messages/{}/{}", w.a, w.clinical);
    let about = |who| {
        store
            .notifications(who, 50)
            .unwrap()
            .into_iter()
            .filter(|n| n.kind.starts_with("red_flag_message"))
            .collect::<Vec<_>>()
    };
    let ladder_emails = || {
        store
            .emails(200)
            .unwrap()
            .into_iter()
            .filter(|e| e.subject.contains("warning sign") && e.body.contains("/clinic/messages"))
            .collect::<Vec<_>>()
    };

    // Started (and kicked) from a red flag: the clinician was told in-app
    // at once, pointed at the conversation; the staff not yet; no ladder
    // email to the clinician, who had the new-message email already.
    let notes = about(dr);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "red_flag_message");
    assert_eq!(notes[0].link, thread);
    assert_eq!(notes[0].profile_id, Some(w.a));
    assert!(!notes[0].body.contains(ALICE) && !notes[0].body.contains(CLINICAL));
    assert!(about(staff).is_empty());
    assert!(ladder_emails().is_empty());
    // Nothing more before the next rung, however often the worker runs.
    s.advance_minutes(3 * 60 + 59);
    notify::escalate(store, s.now()).unwrap();
    assert_eq!(about(dr).len(), 1);
    assert!(about(staff).is_empty());

    // Four hours on: the staff, who may not read it, are told without the
    // patient and sent to the inbox; their email says nothing of it.
    s.advance_minutes(1);
    notify::escalate(store, s.now()).unwrap();
    notify::escalate(store, s.now()).unwrap();
    let notes = about(staff);
    assert_eq!(notes.len(), 1, "each rung once: {notes:?}");
    assert_eq!(notes[0].kind, "red_flag_message_escalation");
    assert_eq!(notes[0].link, "/clinic/messages");
    assert_eq!(notes[0].profile_id, None);
    assert!(
        notes[0].body.contains("about 4 hours ago"),
        "{}",
        notes[0].body
    );
    let emails = ladder_emails();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0].to, "staff@clinic.example");
    for secret in [ALICE, CLINICAL, "normal"] {
        assert!(!emails[0].body.contains(secret) && !emails[0].subject.contains(secret));
    }

    // The clinician answers: who advised what, and when.
    s.advance_minutes(60);
    let answered_at = s.now();
    let (status, _, _) = post_multipart(
        s,
        &thread,
        Some(&w.c1.user),
        &[("body", "Please stop and come in today.")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let t = store
        .patient_conversation(w.a, w.clinical, s.now())
        .unwrap()
        .unwrap();
    let advice = t.messages.last().unwrap();
    assert_eq!(advice.author, dr);
    assert_eq!(advice.author_name, "Dr One");
    assert_eq!(advice.created_at, answered_at);
    let log = store.audit_log(w.a, 500).unwrap();
    let advised: Vec<_> = log
        .iter()
        .filter(|e| e.action == "advised_on_red_flag")
        .collect();
    assert_eq!(advised.len(), 1, "{log:?}");
    assert_eq!(advised[0].actor, dr);
    assert_eq!(advised[0].at, answered_at);
    assert!(advised[0].detail.contains(&advice.id.to_string()));
    // The patient sees who answered and when, and the care team's log says
    // it in plain words.
    let alice = w.users[1].as_ref().unwrap();
    let (_, _, page) = s
        .get(&format!("/messages/{}", w.clinical), Some(&alice.cookie))
        .await;
    assert!(page.contains("Dr One"), "{page}");
    assert!(page.contains(&s.state.local(answered_at)), "{page}");
    let (_, _, care) = s.get("/care-team", Some(&alice.cookie)).await;
    assert!(
        care.contains("answered your message about a warning sign"),
        "{care}"
    );

    // Answered: the third rung never comes, and a second answer logs no
    // second advice line.
    s.advance_minutes(5 * 60);
    notify::escalate(store, s.now()).unwrap();
    assert_eq!(about(dr).len(), 1);
    assert_eq!(about(staff).len(), 1);
    assert_eq!(ladder_emails().len(), 1);
    let (status, _, _) =
        post_multipart(s, &thread, Some(&w.c1.user), &[("body", "And rest.")], &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let log = store.audit_log(w.a, 500).unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "advised_on_red_flag")
            .count(),
        1
    );
}

/// A multipart message to the API: the CSRF token in `x-csrf-token`.
async fn api_photos(
    s: &Server,
    path: &str,
    u: Option<&User>,
    fields: &[(&str, &str)],
    photos: &[Vec<u8>],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let (ct, body) = multipart(fields, photos);
    let mut req = Request::post(path).header(header::CONTENT_TYPE, ct);
    if let Some(u) = u {
        req = req
            .header(header::COOKIE, &u.cookie)
            .header("x-csrf-token", &u.csrf);
    }
    s.send(req.body(Body::from(body)).unwrap()).await
}

async fn post_form(
    s: &Server,
    path: &str,
    u: &User,
    fields: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("csrf", &u.csrf);
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &u.cookie)
        .body(Body::from(body.finish()))
        .unwrap();
    s.send(req).await
}

/// Canned replies by the pages: an empty state, a clinician's new reply by
/// Post/Redirect/Get (sent twice, stored once), a refused one back with its
/// problems next to its fields and every answer kept, the staff's read-only
/// page, and a reply started from one without JavaScript.
#[tokio::test]
async fn clinicians_keep_canned_replies_and_a_reply_starts_from_one() {
    let s = Server::new();
    let c1 = clinic_signup(&s, "one@clinic.example", "Dr One", "Clinic One").await;
    let staff = add_member(&s, &c1, "staff@clinic.example", "Stella Staff", "staff").await;
    let (a, _pa) = patient(&s, "alice@example.org", ALICE).await;
    let code = invite(&s, &c1).await;
    assert_eq!(
        join(&s, &a, &code, &ALL_SCOPES).await,
        StatusCode::SEE_OTHER
    );
    let conversation = start(&s, &a, &c1.clinic, SHARED, &[("shared", "on")], &[]).await;
    let dr = &c1.user;

    let (status, _, page) = s.get("/clinic/canned-replies", Some(&dr.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("No canned replies yet. Write the first one below."),
        "{page}"
    );
    assert!(
        page.contains("<label for=\"title-new\">Title</label>"),
        "{page}"
    );
    let (_, _, page) = s
        .get("/clinic/canned-replies", Some(&staff.user.cookie))
        .await;
    assert!(
        page.contains("No canned replies yet. Ask a clinician to write some."),
        "{page}"
    );
    assert!(!page.contains("name=\"title\""), "{page}");
    // The thread says where to write some.
    let thread = format!("/clinic/messages/{}/{}", _pa, conversation);
    let (_, _, page) = s.get(&thread, Some(&dr.cookie)).await;
    assert!(page.contains("No canned replies yet"), "{page}");

    // A refused one: both problems, both answers kept, nothing stored.
    let id = uuid::Uuid::now_v7().to_string();
    let (status, _, page) = post_form(
        &s,
        "/clinic/canned-replies",
        dr,
        &[
            ("id", &id),
            ("title", "Line one\nline two"),
            ("body", "   "),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"err-title-new\""), "{page}");
    assert!(
        page.contains("Write the reply&#39;s text.") || page.contains("Write the reply's text."),
        "{page}"
    );
    assert!(
        page.contains("Line one\nline two") || page.contains("Line one&#10;line two"),
        "{page}"
    );
    assert!(
        page.contains(&format!("value=\"{id}\"")),
        "the request key is kept"
    );
    // Then right, twice: stored once.
    for _ in 0..2 {
        let (status, h, _) = post_form(
            &s,
            "/clinic/canned-replies",
            dr,
            &[
                ("id", &id),
                ("title", "Aftercare"),
                ("body", "Water only for a day.\nNo make-up."),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            h[header::LOCATION],
            format!("/clinic/canned-replies#r-{id}")
        );
    }
    let (_, _, page) = s.get("/clinic/canned-replies", Some(&dr.cookie)).await;
    assert_eq!(page.matches("<h2>Aftercare</h2>").count(), 1, "{page}");
    assert!(!page.contains("No canned replies yet"));
    // Staff see it and cannot write.
    let (_, _, page) = s
        .get("/clinic/canned-replies", Some(&staff.user.cookie))
        .await;
    assert!(page.contains("<h2>Aftercare</h2>"), "{page}");
    assert!(page.contains("Only a clinician can write canned replies."));
    let (status, _, page) = post_form(
        &s,
        "/clinic/canned-replies",
        &staff.user,
        &[("id", &id), ("title", "Mine"), ("body", "changed")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");

    // The reply form offers it; choosing it fills the text (no script).
    let (_, _, page) = s.get(&thread, Some(&staff.user.cookie)).await;
    assert!(
        page.contains(&format!("<option value=\"{id}\">Aftercare</option>")),
        "{page}"
    );
    assert!(page.contains("<label for=\"canned\">Start from a canned reply</label>"));
    let (status, _, page) = s
        .get(&format!("{thread}?canned={id}"), Some(&staff.user.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(">Water only for a day.\nNo make-up.</textarea>"),
        "{page}"
    );
    let (status, _, _) = s
        .get(
            &format!("{thread}?canned={}", uuid::Uuid::now_v7()),
            Some(&staff.user.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `GET` with `If-None-Match`.
async fn get_tagged(
    s: &Server,
    path: &str,
    u: &User,
    etag: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(path).header(header::COOKIE, &u.cookie);
    if let Some(t) = etag {
        req = req.header(header::IF_NONE_MATCH, t);
    }
    s.send(req.body(Body::empty()).unwrap()).await
}

/// New messages without a reload: the thread pages carry the updates
/// address, its tag and the script; the address answers 304 while nothing
/// changed (and then logs no read) and, once a message arrives, 200 with
/// only the messages after the one named, and a new tag.
#[tokio::test]
async fn thread_updates_answer_304_until_a_new_message_then_only_the_new_ones() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let dr = &w.c1.user;
    let mine = format!("/messages/{}", w.shared);
    let theirs = format!("/clinic/messages/{}/{}", w.a, w.shared);

    let (_, _, page) = s.get(&mine, Some(&alice.cookie)).await;
    assert!(page.contains("<script src=\"/assets/thread.js\" defer></script>"));
    assert!(
        page.contains(&format!("data-updates=\"{mine}/updates\"")),
        "{page}"
    );
    let tag = page
        .split("data-etag=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&#34;", "\"")
        .replace("&quot;", "\"");
    assert!(tag.starts_with("\"m"), "{tag}");
    let (_, _, page) = s.get(&theirs, Some(&dr.cookie)).await;
    assert!(
        page.contains(&format!("data-updates=\"{theirs}/updates\"")),
        "{page}"
    );
    let (status, _, js) = s.get("/assets/thread.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("If-None-Match"));

    // Nothing new: 304 on both sides, with the tag; the clinic's poll
    // logs no read.
    let (status, h, body) = get_tagged(s, &format!("{mine}/updates"), alice, Some(&tag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "{body}");
    assert_eq!(h[header::ETAG], tag.as_str());
    assert!(body.is_empty());
    let reads = || {
        s.store
            .audit_log(w.a, 500)
            .unwrap()
            .iter()
            .filter(|e| e.action == "viewed_conversation")
            .count()
    };
    let before = reads();
    let (status, _, _) = get_tagged(s, &format!("{theirs}/updates"), dr, Some(&tag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(reads(), before);
    // Without a tag: 200, every message.
    let (status, h, body) = get_tagged(s, &format!("{mine}/updates"), alice, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::ETAG], tag.as_str());
    assert_eq!(body.matches("<li id=\"m-").count(), 1, "{body}");
    let first = body
        .split("<li id=\"m-")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();

    // The clinic answers: the patient's poll gets just that message.
    s.advance_minutes(1);
    let (status, _, _) =
        post_multipart(s, &theirs, Some(dr), &[("body", "zq-new-answer")], &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let path = format!("{mine}/updates?after={first}");
    let (status, h, body) = get_tagged(s, &path, alice, Some(&tag)).await;
    assert_eq!(status, StatusCode::OK);
    let new_tag = h[header::ETAG].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    assert_eq!(body.matches("<li id=\"m-").count(), 1, "{body}");
    assert!(
        body.contains("zq-new-answer") && body.contains("Dr One"),
        "{body}"
    );
    assert!(!body.contains("normal"), "only what is new: {body}");
    // Read by that poll, as opening it would.
    assert_eq!(s.store.patient_unread(w.a).unwrap(), 0);
    let (status, _, _) = get_tagged(s, &path, alice, Some(&new_tag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    // The clinic's poll with the old tag: 200, logged as a read.
    let before = reads();
    let (status, _, body) = get_tagged(
        s,
        &format!("{theirs}/updates?after={first}"),
        dr,
        Some(&tag),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("zq-new-answer"));
    assert_eq!(reads(), before + 1);
}

/// The patient's FHIR Bundle holds every message of their conversations as
/// a `Communication` (the red flag's about its check-in and red flag), and
/// exporting reads nothing as read; the clinic's referral Bundle holds
/// none (no scope shares conversations).
#[tokio::test]
async fn the_patients_bundle_holds_their_conversations_as_communications() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    s.advance_minutes(1);
    let theirs = format!("/clinic/messages/{}/{}", w.a, w.clinical);
    let (status, _, _) =
        post_multipart(s, &theirs, Some(&w.c1.user), &[("body", "zq-advice")], &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(s.store.patient_unread(w.a).unwrap(), 1);
    let (status, _, body) = s.get("/api/fhir/Bundle/record", Some(&alice.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let b: Value = serde_json::from_str(&body).unwrap();
    let comms: Vec<&Value> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Communication")
        .collect();
    assert_eq!(comms.len(), 4, "three questions and one answer");
    let advice = comms
        .iter()
        .find(|c| c["payload"][0]["contentString"] == "zq-advice")
        .unwrap();
    assert_eq!(advice["sender"]["display"], "Dr One (Clinic One)");
    assert_eq!(advice["identifier"][0]["value"], w.clinical.to_string());
    assert_eq!(advice["inResponseTo"].as_array().unwrap().len(), 1);
    let question = comms
        .iter()
        .find(|c| c["topic"]["text"] == CLINICAL && c.get("inResponseTo").is_none())
        .unwrap();
    assert_eq!(question["reasonReference"].as_array().unwrap().len(), 2);
    assert_eq!(
        question["payload"].as_array().unwrap().len(),
        2,
        "text and photo"
    );
    // Exporting is not reading.
    assert_eq!(s.store.patient_unread(w.a).unwrap(), 1);
    // The clinic's referral Bundle: no conversation.
    let (status, _, body) = s
        .get(
            &format!("/clinic/patients/{}/record.json", w.a),
            Some(&w.c1.user.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("Communication"));
    assert!(!body.contains("zq-advice"));
}

/// Photos over the API: the pages' pipeline (re-encoded JPEGs, at most
/// four, images only), keyed like text messages, listed in the thread.
#[tokio::test]
async fn messages_with_photos_go_through_the_api() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let path = format!("/api/conversations/{}/messages/photos", w.shared);
    let key = uuid::Uuid::now_v7().to_string();
    let fields = [("body", "zq-two-photos"), ("key", key.as_str())];
    let (status, _, body) = api_photos(s, &path, Some(alice), &fields, &[jpeg(10), jpeg(20)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["stored"].clone(), v["photos"].clone()),
        (json!(true), json!(2))
    );
    // The same key again stores nothing.
    let (status, _, body) = api_photos(s, &path, Some(alice), &fields, &[jpeg(10), jpeg(20)]).await;
    assert_eq!(status, StatusCode::CREATED);
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (again["stored"].clone(), again["id"].clone()),
        (json!(false), v["id"].clone())
    );
    let (status, t) = api(
        s,
        "GET",
        &format!("/api/conversations/{}", w.shared),
        Some(alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sent: Vec<&Value> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == "zq-two-photos")
        .collect();
    assert_eq!(sent.len(), 1, "{t}");
    assert_eq!(sent[0]["photos"].as_array().unwrap().len(), 2);
    // The photo is served to the patient, re-encoded as JPEG.
    let photo = sent[0]["photos"][0]["id"].as_str().unwrap();
    let (status, h, _) = s
        .get(&format!("/files/messages/{photo}.jpg"), Some(&alice.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "image/jpeg");
    // Refusals in JSON: five photos, a file that is no image, nothing.
    let five: Vec<Vec<u8>> = (0..5).map(|i| jpeg(i * 10)).collect();
    for (photos, text) in [
        (five, "five"),
        (vec![b"GIF89a not really".to_vec()], ""),
        (vec![], " "),
    ] {
        let (status, _, body) = api_photos(s, &path, Some(alice), &[("body", text)], &photos).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "bad_input", "{body}");
    }
    // The clinician answers with a photo; the patient sees it.
    let path = format!(
        "/api/clinic/conversations/{}/{}/messages/photos",
        w.a, w.clinical
    );
    let (status, _, body) = api_photos(
        s,
        &path,
        Some(&w.c1.user),
        &[("body", "zq-see-this")],
        &[jpeg(70)],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, t) = api(
        s,
        "GET",
        &format!("/api/conversations/{}", w.clinical),
        Some(alice),
        None,
    )
    .await;
    let answer = t["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(answer["body"], "zq-see-this");
    assert_eq!(answer["side"], "clinic");
    assert_eq!(answer["photos"].as_array().unwrap().len(), 1);
}

/// The care team page's statements about conversations, each held: a
/// revoked scope leaves them readable and answerable by the clinic;
/// leaving the clinic keeps them readable by the patient only, who can no
/// longer write; deleting the account deletes them, photos included.
#[tokio::test]
async fn the_care_team_page_says_what_happens_to_conversations_and_it_does() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let dr = &w.c1.user;
    let staff = w.users[6].as_ref().unwrap();
    let (_, _, care) = s.get("/care-team", Some(&alice.cookie)).await;
    for statement in [
        "Stopping sharing something does not touch your conversations: you sent them, so the clinic&#39;s clinicians still read and answer them, and front-desk staff still read the ones you shared with the front desk.",
        "If you leave a clinic, you keep reading your conversations with it, but you can no longer write in them, and nobody at the clinic can read them any more.",
        "If you delete your account (or this profile), your conversations, their messages and their photos are deleted too, for the clinic as well.",
    ] {
        let alt = statement.replace("&#39;", "'");
        assert!(
            care.contains(statement) || care.contains(&alt),
            "{statement}: {care}"
        );
    }
    let clinic = |p: &str| format!("/clinic/messages/{}/{p}", w.a);

    // 1. Every scope revoked: clinicians still read and answer, staff
    //    still read the shared one.
    for scope in ALL_SCOPES {
        let (status, _, _) = s
            .post(
                &format!("/care-team/{}/consent", w.c1.clinic),
                Some(&alice.cookie),
                &[("csrf", &alice.csrf), ("scope", scope), ("grant", "0")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{scope}");
    }
    let (status, _, page) = s
        .get(&clinic(&w.clinical.to_string()), Some(&dr.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(CLINICAL));
    let (status, _, _) = post_multipart(
        s,
        &clinic(&w.clinical.to_string()),
        Some(dr),
        &[("body", "still here")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = s
        .get(&clinic(&w.shared.to_string()), Some(&staff.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(SHARED));

    // 2. Leaving: the patient reads, cannot write; the clinic reads nothing.
    let (status, _, _) = s
        .post(
            &format!("/care-team/{}/leave", w.c1.clinic),
            Some(&alice.cookie),
            &[("csrf", &alice.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mine = format!("/messages/{}", w.clinical);
    let (status, _, page) = s.get(&mine, Some(&alice.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("still here"));
    assert!(
        page.contains("nobody there reads this conversation any more"),
        "{page}"
    );
    assert!(!page.contains("name=\"body\""), "no reply form: {page}");
    let (status, _, _) = post_multipart(s, &mine, Some(alice), &[("body", "hello?")], &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (who, path) in [
        (dr, clinic(&w.clinical.to_string())),
        (staff, clinic(&w.shared.to_string())),
        (dr, format!("{}/updates", clinic(&w.clinical.to_string()))),
    ] {
        let (status, _, page) = s.get(&path, Some(&who.cookie)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.contains("still here") && !page.contains(ALICE));
    }
    let (_, _, inbox) = s.get("/clinic/messages", Some(&dr.cookie)).await;
    assert!(
        !inbox.contains(CLINICAL) && !inbox.contains(ALICE),
        "{inbox}"
    );

    // 3. Deleting the account deletes them, photos included.
    let stored = s
        .store
        .patient_conversation(w.a, w.clinical, s.now())
        .unwrap()
        .unwrap()
        .messages[0]
        .photos[0]
        .stored_name
        .clone();
    let file = s.state.photo_dir.as_ref().unwrap().join(&stored);
    assert!(file.exists(), "{}", file.display());
    let (status, _, _) = s
        .post(
            "/account/delete",
            Some(&alice.cookie),
            &[("csrf", &alice.csrf), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!file.exists(), "the photo file is gone");
    assert!(s.store.patient_threads(w.a).unwrap().is_empty());
    assert_eq!(
        s.store
            .patient_conversation_version(w.a, w.clinical)
            .unwrap(),
        None
    );
}

/// The clinic's inbox is paged, 50 conversations a page, in the inbox's
/// order across pages: the red-flag conversation that awaits an answer
/// heads the first page; the last page links back and not on; a page out
/// of range is a plain error.
#[tokio::test]
async fn the_inbox_is_paged_in_its_own_order() {
    let w = world().await;
    let s = &w.s;
    let alice = w.users[1].as_ref().unwrap();
    let dr = &w.c1.user;
    // The world holds three conversations; 57 more make 60.
    for i in 0..57 {
        s.advance_minutes(1);
        start(
            s,
            alice,
            &w.c1.clinic,
            &format!("Question {i:02}"),
            &[],
            &[],
        )
        .await;
    }
    let (status, _, first) = s.get("/clinic/messages", Some(&dr.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first.matches("<li><a href=\"/clinic/messages/").count(),
        50,
        "{first}"
    );
    let red_flag = first.find(CLINICAL).unwrap();
    assert!(first.find("Question 56").unwrap() > red_flag, "{first}");
    assert!(
        first.contains("href=\"/clinic/messages?page=2\" rel=\"next\">Older conversations"),
        "{first}"
    );
    assert!(!first.contains("rel=\"prev\""), "{first}");
    assert!(!first.contains("Question 00"), "{first}");

    let (status, _, second) = s.get("/clinic/messages?page=2", Some(&dr.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second.matches("<li><a href=\"/clinic/messages/").count(),
        10,
        "{second}"
    );
    assert!(second.contains("Question 00"), "{second}");
    assert!(!second.contains(CLINICAL), "{second}");
    assert!(
        second.contains("href=\"/clinic/messages?page=1\" rel=\"prev\">Newer conversations"),
        "{second}"
    );
    assert!(!second.contains("rel=\"next\""), "{second}");

    for bad in ["0", "11", "x"] {
        let (status, _, page) = s
            .get(&format!("/clinic/messages?page={bad}"), Some(&dr.cookie))
            .await;
        assert!(status.is_client_error(), "page={bad}: {status} {page}");
        assert!(!page.contains("Question"), "page={bad}: {page}");
    }
}
