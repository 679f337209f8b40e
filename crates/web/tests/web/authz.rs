//! The authorization matrix: every clinic and care-team route (pages and
//! API, GET and POST) × every kind of asker, with the status each cell
//! must get, written out as a table. A denial is 404 for outsiders (they
//! learn nothing), 403 for staff on clinical data, a redirect to `/login`
//! (401 in the API) without a session; no denial carries the patient's
//! name. A property test then swaps profile, episode and photo ids at
//! random between two patients and unknown ids.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::Timestamp;
use needlewise_core::clinic::Override;
use needlewise_core::ids::{AccountId, ClinicId, EpisodeId, OverrideId, PhotoId, ProfileId};
use needlewise_store::clinic::ClinicAccess;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Value, json};
use uuid::Uuid;

use super::clinic::{
    Member, add_member, clinic_signup, invite, invite_member, join, now, patient, red_flag, seed,
    upload_photo,
};
use super::{Server, User};

const ALICE: &str = "Alice Ardent";
const ROLES: [&str; 7] = [
    "anonymous",
    "patient A",
    "patient B",
    "clinician with consent",
    "clinician without consent",
    "clinician of another clinic",
    "staff",
];

/// Everyone, and what they act on.
struct World {
    s: Server,
    users: Vec<Option<User>>,
    c1: Member,
    c2: Member,
    c3: Member,
    a: ProfileId,
    b: ProfileId,
    ep_a: EpisodeId,
    ep_a2: EpisodeId,
    /// Resolved through the API by the clinician in the table.
    ep_a3: EpisodeId,
    ep_b: EpisodeId,
    photo_a: PhotoId,
    photo_b: PhotoId,
    ov: OverrideId,
}

const ALL: [&str; 5] = [
    "screening",
    "sessions",
    "checkins",
    "photos_clinical",
    "photos_teaching",
];

async fn world() -> World {
    let s = Server::new();
    let c1 = clinic_signup(&s, "one@clinic.example", "Dr One", "Clinic One").await;
    let staff = add_member(&s, &c1, "staff@clinic.example", "Stella Staff", "staff").await;
    let c2 = clinic_signup(&s, "two@clinic.example", "Dr Two", "Clinic Two").await;
    let c3 = clinic_signup(&s, "three@clinic.example", "Dr Three", "Clinic Three").await;
    s.sign_up("extra@clinic.example").await;
    let (a, pa) = patient(&s, "alice@example.org", ALICE).await;
    let (b, pb) = patient(&s, "bruno@example.org", "Bruno Bright").await;
    // A shares everything with clinic one and nothing with clinic two; B
    // shares everything with clinic three.
    let code = invite(&s, &c1).await;
    assert_eq!(join(&s, &a, &code, &ALL).await, StatusCode::SEE_OTHER);
    let code = invite(&s, &c2).await;
    assert_eq!(join(&s, &a, &code, &[]).await, StatusCode::SEE_OTHER);
    let code = invite(&s, &c3).await;
    assert_eq!(join(&s, &b, &code, &ALL).await, StatusCode::SEE_OTHER);
    let ep_a = seed(&s, &a, pa).await;
    let ep_a2 = red_flag(&s, pa, None);
    let ep_a3 = red_flag(&s, pa, None);
    let ep_b = seed(&s, &b, pb).await;
    let photo_a = upload_photo(&s, &a, pa, 40).await;
    let photo_b = upload_photo(&s, &b, pb, 90).await;
    let account: AccountId = s
        .store
        .account_by_email("one@clinic.example")
        .unwrap()
        .unwrap()
        .id;
    let clinic: ClinicId = c1.clinic.parse().unwrap();
    let ov = Override {
        id: OverrideId(Uuid::now_v7()),
        clinic_id: clinic,
        profile_id: pa,
        rule_id: "screen.isotretinoin".into(),
        by: account,
        by_name: "Dr One".into(),
        at: now(&s),
        reason: "Last dose long ago; superficial needling".into(),
    };
    s.store
        .add_override(&ClinicAccess { clinic, account }, &ov)
        .unwrap();
    let users = vec![
        None,
        Some(a),
        Some(b),
        Some(clone_user(&c1.user)),
        Some(clone_user(&c2.user)),
        Some(clone_user(&c3.user)),
        Some(staff.user),
    ];
    World {
        s,
        users,
        c1,
        c2,
        c3,
        a: pa,
        b: pb,
        ep_a,
        ep_a2,
        ep_a3,
        ep_b,
        photo_a,
        photo_b,
        ov: ov.id,
    }
}

fn clone_user(u: &User) -> User {
    User {
        cookie: u.cookie.clone(),
        csrf: u.csrf.clone(),
    }
}

/// What a request sends.
enum Body_ {
    None,
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

struct Route {
    method: &'static str,
    path: String,
    body: Body_,
    /// The expected status for each of [`ROLES`]: a number, or "login"
    /// for the redirect to `/login`.
    expect: [&'static str; 7],
}

async fn send(
    s: &Server,
    method: &str,
    path: &str,
    user: Option<&User>,
    body: &Body_,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(u) = user {
        req = req
            .header(header::COOKIE, &u.cookie)
            .header("x-csrf-token", &u.csrf);
    }
    let csrf = user.map(|u| u.csrf.clone()).unwrap_or_default();
    let req = match body {
        Body_::None => req.body(Body::empty()),
        Body_::Form(fields) => {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            ser.append_pair("csrf", &csrf);
            for (k, v) in fields {
                ser.append_pair(k, v);
            }
            req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(ser.finish()))
        }
        Body_::Json(v) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
    }
    .unwrap();
    s.send(req).await
}

fn form(pairs: &[(&'static str, &str)]) -> Body_ {
    Body_::Form(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
}

fn protocol_fields() -> Body_ {
    form(&[
        ("needle_length_mm", "0.5"),
        ("zones", "forehead"),
        ("interval_days", "28"),
        ("course_sessions", "6"),
        ("target_density_per_cm2", "250"),
    ])
}

#[tokio::test]
async fn every_clinic_and_care_team_route_answers_each_role_as_the_table_says() {
    let w = world().await;
    let (a, c1) = (w.a, &w.c1.clinic);
    let p = format!("/clinic/patients/{a}");
    // Fresh invite codes for the joins at the end, one per role.
    let mut codes = Vec::new();
    for _ in ROLES {
        codes.push(invite(&w.s, &w.c1).await);
    }
    let (_, team_code) = invite_member(
        &w.s,
        &w.c2,
        "staff@clinic.example",
        "Stella at Two",
        "staff",
    )
    .await;
    let mut routes = vec![
        Route {
            method: "GET",
            path: "/clinic".into(),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: "/clinic/red-flags".into(),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "200", "403"],
        },
        Route {
            method: "POST",
            path: format!("/clinic/red-flags/{a}/{}/ack", w.ep_a),
            body: form(&[("note", "seen")]),
            expect: ["login", "404", "404", "303", "404", "404", "403"],
        },
        // Resolving lifts the patient's lock: clinicians of a clinic that
        // sees the check-ins only.
        Route {
            method: "POST",
            path: format!("/clinic/red-flags/{a}/{}/resolve", w.ep_a),
            body: form(&[("note", "Seen in clinic; healing as expected")]),
            expect: ["login", "404", "404", "303", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: p.clone(),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("{p}/photos/{}.jpg", w.photo_a),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("{p}/photos/{}.thumb.jpg", w.photo_a),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("{p}/record.json"),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("{p}/report.pdf"),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("{p}/protocol"),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "403", "404", "403"],
        },
        Route {
            method: "POST",
            path: format!("{p}/protocol"),
            body: protocol_fields(),
            expect: ["login", "404", "404", "303", "404", "404", "403"],
        },
        Route {
            method: "POST",
            path: format!("{p}/overrides/{}/revoke", w.ov),
            body: form(&[]),
            expect: ["login", "404", "404", "303", "404", "404", "403"],
        },
        Route {
            method: "POST",
            path: format!("{p}/overrides"),
            body: form(&[
                ("rule", "screen.isotretinoin"),
                ("reason", "Reviewed in clinic"),
            ]),
            expect: ["login", "404", "404", "303", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: "/clinic/invites".into(),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "POST",
            path: "/clinic/invites".into(),
            body: form(&[("label", "x"), ("days", "3")]),
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: "/clinic/members".into(),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "POST",
            path: "/clinic/members".into(),
            body: form(&[
                ("email", "extra@clinic.example"),
                ("display_name", "Ex Tra"),
                ("role", "staff"),
            ]),
            expect: ["login", "404", "404", "200", "200", "200", "403"],
        },
        Route {
            method: "GET",
            path: "/clinic/settings".into(),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "POST",
            path: "/clinic/settings".into(),
            body: form(&[("after_0", "0"), ("notify_0", "role:clinician")]),
            expect: ["login", "404", "404", "303", "303", "303", "403"],
        },
        Route {
            method: "GET",
            path: "/clinic/signup".into(),
            body: Body_::None,
            expect: ["200", "200", "200", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: format!("/join/{}", codes[0]),
            body: Body_::None,
            expect: ["login", "200", "200", "200", "200", "200", "200"],
        },
        // A team invitation to clinic two for the staff member's address:
        // only that account sees it (the others get the page every unusable
        // invitation gets) and accepts it, staff last.
        Route {
            method: "GET",
            path: format!("/clinic/join/{team_code}"),
            body: Body_::None,
            expect: ["login", "404", "404", "404", "404", "404", "200"],
        },
        Route {
            method: "POST",
            path: format!("/clinic/join/{team_code}"),
            body: form(&[]),
            expect: ["login", "404", "404", "404", "404", "404", "303"],
        },
        Route {
            method: "GET",
            path: "/care-team".into(),
            body: Body_::None,
            expect: ["login", "200", "200", "200", "200", "200", "200"],
        },
        Route {
            method: "POST",
            path: format!("/care-team/{c1}/consent"),
            body: form(&[("scope", "photos_teaching"), ("grant", "0")]),
            expect: ["login", "303", "404", "404", "404", "404", "404"],
        },
        Route {
            method: "GET",
            path: "/api/clinic/patients".into(),
            body: Body_::None,
            expect: ["401", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: "/api/clinic/mail".into(),
            body: Body_::None,
            expect: ["401", "404", "404", "200", "200", "200", "200"],
        },
        Route {
            method: "GET",
            path: "/api/clinic/red-flags".into(),
            body: Body_::None,
            expect: ["401", "404", "404", "200", "200", "200", "403"],
        },
        Route {
            method: "POST",
            path: format!("/api/clinic/red-flags/{a}/{}/ack", w.ep_a2),
            body: Body_::Json(json!({"note": "seen"})),
            expect: ["401", "404", "404", "204", "404", "404", "403"],
        },
        Route {
            method: "POST",
            path: format!("/api/clinic/red-flags/{a}/{}/resolve", w.ep_a3),
            body: Body_::Json(json!({"note": "Seen in clinic; healing as expected"})),
            expect: ["401", "404", "404", "204", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: format!("/api/clinic/patients/{a}"),
            body: Body_::None,
            expect: ["401", "404", "404", "200", "200", "404", "403"],
        },
        Route {
            method: "POST",
            path: format!("/api/clinic/patients/{a}/protocol"),
            body: Body_::Json(
                json!({"needle_length_mm": 0.5, "zones": ["chin"], "interval_days": 30, "course_sessions": 3}),
            ),
            expect: ["401", "404", "404", "201", "404", "404", "403"],
        },
        Route {
            method: "GET",
            path: "/api/care-team".into(),
            body: Body_::None,
            expect: ["401", "200", "200", "200", "200", "200", "200"],
        },
        Route {
            method: "POST",
            path: format!("/api/care-team/{c1}/consent"),
            body: Body_::Json(json!({"scope": "photos_teaching", "granted": true})),
            expect: ["401", "204", "404", "404", "404", "404", "404"],
        },
        // Booking for A: any member of a clinic A is linked to, at their
        // own clinic, whatever A shares (her name and appointments there,
        // no clinical data); no time chosen gives the form again.
        Route {
            method: "GET",
            path: format!("/clinic/appointments/{a}/book"),
            body: Body_::None,
            expect: ["login", "404", "404", "200", "200", "404", "200"],
        },
        Route {
            method: "POST",
            path: format!("/clinic/appointments/{a}/book"),
            body: form(&[("note", "authz"), ("key", &Uuid::now_v7().to_string())]),
            expect: ["login", "404", "404", "422", "422", "404", "422"],
        },
        // Moving an appointment nobody has: not found for everyone.
        Route {
            method: "GET",
            path: format!("/clinic/appointments/{a}/{}/reschedule", Uuid::now_v7()),
            body: Body_::None,
            expect: ["login", "404", "404", "404", "404", "404", "404"],
        },
        // Leaving last but one: it ends A's link with clinic one.
        Route {
            method: "POST",
            path: format!("/care-team/{c1}/leave"),
            body: form(&[]),
            expect: ["login", "303", "404", "404", "404", "404", "404"],
        },
    ];
    // Joining (a fresh code for each role) and founding a clinic are open
    // to anyone logged in; founding, to anyone at all.
    for (i, code) in codes.iter().enumerate().skip(1) {
        let mut expect = ["login"; 7];
        expect[i] = "303";
        routes.push(Route {
            method: "POST",
            path: format!("/join/{code}"),
            body: form(&[("scope", "checkins")]),
            expect,
        });
    }
    routes.push(Route {
        method: "POST",
        path: "/clinic/signup".into(),
        body: Body_::None,
        expect: ["303"; 7],
    });

    let mut checked = 0;
    for route in &routes {
        for (role, user) in w.users.iter().enumerate() {
            // A join with another role's code is left to that role's row.
            if route.path.starts_with("/join/") && route.method == "POST" {
                let mine = route.expect[role] == "303";
                if !mine && role != 0 {
                    continue;
                }
            }
            let body = match (&route.body, route.path.as_str()) {
                (Body_::None, "/clinic/signup") if route.method == "POST" => form(&[
                    ("email", &format!("founder{role}@clinic.example")),
                    ("password", super::clinic::PASSWORD),
                    ("your_name", "Dr New"),
                    ("clinic_name", &format!("New Clinic {role}")),
                    ("time_zone", "UTC"),
                ]),
                (Body_::None, _) => Body_::None,
                (Body_::Form(f), _) => Body_::Form(f.clone()),
                (Body_::Json(v), _) => Body_::Json(v.clone()),
            };
            let (status, h, text) =
                send(&w.s, route.method, &route.path, user.as_ref(), &body).await;
            let want = route.expect[role];
            let cell = format!("{} {} as {}", route.method, route.path, ROLES[role]);
            if want == "login" {
                assert_eq!(status, StatusCode::SEE_OTHER, "{cell}: {text}");
                // The join page keeps its link across the log-in.
                let location = h[header::LOCATION].to_str().unwrap();
                if route.method == "GET"
                    && (route.path.starts_with("/join/") || route.path.starts_with("/clinic/join/"))
                {
                    let back: String =
                        form_urlencoded::byte_serialize(route.path.as_bytes()).collect();
                    assert_eq!(location, format!("/login?next={back}"), "{cell}");
                } else {
                    assert_eq!(location, "/login", "{cell}");
                }
            } else {
                assert_eq!(status.as_str(), want, "{cell}: {text}");
            }
            // A denial names nobody; a 422 is the form again for someone
            // allowed (the booking form names the patient).
            if !(status.is_success() || status.is_redirection() || want == "422") {
                assert!(
                    !text.contains(ALICE),
                    "{cell} leaks the patient's name: {text}"
                );
                if route.path.starts_with("/api/") {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    assert!(v["error"]["code"].is_string(), "{cell}: {text}");
                }
            }
            // The booking form names the patient it books for.
            if route.path.ends_with("/book") && status.is_success() {
                assert!(
                    text.contains(&format!("Book an appointment for {ALICE}")),
                    "{cell}: {text}"
                );
            }
            // Allowed, but blind to A: clinic three never had A; clinic two
            // was not shown A's check-ins.
            if role == 5 || (role == 4 && route.path.contains("red-flags")) {
                assert!(!text.contains(ALICE), "{cell} shows A: {text}");
            }
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked} cells");
    // A clinician who was denied left no line in A's log.
    let log = w.s.store.audit_log(a, 500).unwrap();
    let c3_account =
        w.s.store
            .account_by_email("three@clinic.example")
            .unwrap()
            .unwrap()
            .id;
    assert!(log.iter().all(|e| e.actor != c3_account));
    assert!(log.iter().any(|e| e.action == "viewed_record"));
    // The two red flags clinic one's clinician resolved record who did,
    // and the patient's log shows it.
    let episodes = w.s.store.episodes(a).unwrap();
    for ep in [w.ep_a, w.ep_a3] {
        let e = episodes.iter().find(|e| e.id == ep).unwrap();
        assert!(!e.is_open(), "{e:?}");
        assert!(
            matches!(
                &e.resolver,
                Some(needlewise_core::records::Resolver::Clinician { name, .. }) if name == "Dr One"
            ),
            "{e:?}"
        );
    }
    assert_eq!(log.iter().filter(|e| e.action == "resolved").count(), 2);
    let _ = (&w.c2, &w.c3, w.b, w.ep_b, w.photo_b);
}

/// Which patient an id belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    A,
    B,
    Unknown,
}

#[test]
fn swapped_ids_never_reach_a_patient_who_did_not_consent() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = rt.block_on(world());
    let who = prop_oneof![Just(Who::A), Just(Who::B), Just(Who::Unknown)];
    // (clinician: 0 = clinic one, 1 = clinic two, 2 = clinic three), then
    // the profile, episode and photo ids, and the route.
    let strategy = (0usize..3, who.clone(), who.clone(), who, 0usize..6);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let unknown = ProfileId(Uuid::now_v7());
    runner
        .run(&strategy, |(c, pw, ew, phw, route)| {
            let profile = match pw {
                Who::A => w.a,
                Who::B => w.b,
                Who::Unknown => unknown,
            };
            let episode = match ew {
                Who::A => w.ep_a,
                Who::B => w.ep_b,
                Who::Unknown => EpisodeId(Uuid::now_v7()),
            };
            let photo = match phw {
                Who::A => w.photo_a,
                Who::B => w.photo_b,
                Who::Unknown => PhotoId(Uuid::now_v7()),
            };
            let user = match c {
                0 => &w.c1.user,
                1 => &w.c2.user,
                _ => &w.c3.user,
            };
            // Clinic one: A, every scope. Clinic two: A, no scope. Clinic
            // three: B, every scope.
            let linked = matches!((c, pw), (0 | 1, Who::A) | (2, Who::B));
            let scoped = matches!((c, pw), (0, Who::A) | (2, Who::B));
            let (method, path, body, allowed): (&str, String, Body_, bool) = match route {
                0 => ("GET", format!("/clinic/patients/{profile}"), Body_::None, linked),
                1 => ("GET", format!("/clinic/patients/{profile}/record.json"), Body_::None, linked),
                2 => ("GET", format!("/api/clinic/patients/{profile}"), Body_::None, linked),
                3 => ("GET", format!("/clinic/patients/{profile}/photos/{photo}.jpg"), Body_::None,
                    scoped && phw == pw),
                4 => ("POST", format!("/api/clinic/red-flags/{profile}/{episode}/ack"),
                    Body_::Json(json!({"note": "x"})), scoped && ew == pw),
                _ => ("POST", format!("/api/clinic/patients/{profile}/protocol"),
                    Body_::Json(json!({"needle_length_mm": 0.25, "zones": ["nose"], "interval_days": 40, "course_sessions": 2})),
                    scoped),
            };
            let (status, _, text) = rt.block_on(send(&w.s, method, &path, Some(user), &body));
            if allowed {
                // The first acknowledgement succeeds; later ones conflict.
                prop_assert!(
                    status.is_success() || status == StatusCode::CONFLICT,
                    "{method} {path}: {status} {text}"
                );
            } else {
                prop_assert_eq!(status, StatusCode::NOT_FOUND, "{} {}: {}", method, path, text);
                prop_assert!(!text.contains(ALICE) && !text.contains("Bruno Bright"));
            }
            Ok(())
        })
        .unwrap();
    // Sanity: the clock did not move, so no check was skipped for staleness.
    assert_eq!(now(&w.s), Timestamp::from_second(super::T0).unwrap());
}

// ------------------------------------------------------------ appointments

/// The note on A's appointments: only A and A's clinic's members may read
/// it.
const NOTE: &str = "zq-api-appointment-note";

async fn api_as(
    s: &Server,
    method: &str,
    path: &str,
    u: Option<&User>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let b = match body {
        Some(v) => Body_::Json(v),
        None => Body_::None,
    };
    let (status, _, text) = send(s, method, path, u, &b).await;
    (status, text)
}

/// Mornings 09:00–12:00 every day, half-hour slots, by the hours page.
async fn open_mornings(s: &Server, m: &Member) {
    let mut f: Vec<(&str, &str)> = vec![
        ("csrf", m.user.csrf.as_str()),
        ("slot_minutes", "30"),
        ("closed", ""),
    ];
    for d in needlewise_core::appointment::WEEKDAYS {
        f.push((d, "09:00-12:00"));
    }
    let (status, _, page) = s
        .post(
            &format!("/clinic/appointments/hours?clinic={}", m.clinic),
            Some(&m.user.cookie),
            &f,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
}

/// The clinic's free slot starts, by the API.
async fn free_starts(s: &Server, m: &Member) -> Vec<String> {
    let (status, text) = api_as(
        s,
        "GET",
        &format!("/api/clinic/appointments/slots?clinic={}&days=21", m.clinic),
        Some(&m.user),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect()
}

/// One cell per role: the path and body each role sends (most rows send
/// the same to everyone; rows that change an appointment give each role
/// an appointment or a slot of its own, so one role's success never
/// changes what the next one meets).
struct ApiRow {
    method: &'static str,
    paths: Vec<String>,
    bodies: Vec<Option<Value>>,
    expect: [&'static str; 7],
    /// Whether the answer could show A's appointment note.
    about: bool,
}

fn same(
    method: &'static str,
    path: String,
    body: Option<Value>,
    expect: [&'static str; 7],
) -> ApiRow {
    ApiRow {
        method,
        about: method == "GET" && path == "/api/appointments",
        paths: vec![path; 7],
        bodies: vec![body; 7],
        expect,
    }
}

/// Every appointment route of the API × the seven askers, on the given
/// server (SQLite or PostgreSQL): statuses, what each answer shows of A's
/// appointments, what changed, and the audit lines.
async fn appointment_api_matrix(s: Server) {
    let c1 = clinic_signup(&s, "one@clinic.example", "Dr One", "Clinic One").await;
    let staff = add_member(&s, &c1, "staff@clinic.example", "Stella Staff", "staff").await;
    let c2 = clinic_signup(&s, "two@clinic.example", "Dr Two", "Clinic Two").await;
    let c3 = clinic_signup(&s, "three@clinic.example", "Dr Three", "Clinic Three").await;
    let (a_user, a) = patient(&s, "alice@example.org", ALICE).await;
    let (b_user, _) = patient(&s, "bruno@example.org", "Bruno Bright").await;
    for (m, p) in [(&c1, &a_user), (&c2, &a_user), (&c3, &b_user)] {
        let code = invite(&s, m).await;
        assert_eq!(join(&s, p, &code, &[]).await, StatusCode::SEE_OTHER);
    }
    for m in [&c1, &c2, &c3] {
        open_mornings(&s, m).await;
    }
    // A's conversation with clinic one, shared with the front desk.
    let (status, text) = api_as(
        &s,
        "POST",
        "/api/conversations",
        Some(&a_user),
        Some(json!({"clinic_id": c1.clinic, "subject": "Booking",
            "body": "When can I come in?", "shared_with_staff": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let conv = serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A books sixteen appointments at clinic one by the API: one to
    // cancel and one to move on her own, and one of each per role for the
    // clinic's rows.
    let free = free_starts(&s, &c1).await;
    let mut booked = Vec::new();
    for start in free.iter().take(16) {
        let (status, text) = api_as(
            &s,
            "POST",
            "/api/appointments",
            Some(&a_user),
            Some(json!({"clinic_id": c1.clinic, "start": start, "note": NOTE})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        booked.push(v["appointment"]["id"].as_str().unwrap().to_owned());
    }
    let free = free_starts(&s, &c1).await;
    let free2 = free_starts(&s, &c2).await;
    let (mine_cancel, mine_move) = (booked[0].clone(), booked[1].clone());
    let clinic_cancel: Vec<String> = booked[2..9].to_vec();
    let clinic_move: Vec<String> = booked[9..16].to_vec();
    let users: Vec<Option<&User>> = vec![
        None,
        Some(&a_user),
        Some(&b_user),
        Some(&c1.user),
        Some(&c2.user),
        Some(&c3.user),
        Some(&staff.user),
    ];
    // Each clinic asks about its own clinic (the `clinic` query).
    let q = |role: usize| match role {
        4 => format!("?clinic={}", c2.clinic),
        5 => format!("?clinic={}", c3.clinic),
        _ => format!("?clinic={}", c1.clinic),
    };
    let rows =
        vec![
        same(
            "GET",
            "/api/appointments".into(),
            None,
            ["401", "200", "200", "200", "200", "200", "200"],
        ),
        same(
            "GET",
            format!("/api/appointments/slots?clinic_id={}&days=7", c1.clinic),
            None,
            ["401", "200", "404", "404", "404", "404", "404"],
        ),
        same(
            "POST",
            "/api/appointments".into(),
            Some(json!({"clinic_id": c1.clinic, "start": free[0], "note": "matrix"})),
            ["401", "201", "404", "404", "404", "404", "404"],
        ),
        same(
            "POST",
            format!("/api/appointments/{mine_cancel}/cancel"),
            Some(json!({"reason": "I am away"})),
            ["401", "200", "404", "404", "404", "404", "404"],
        ),
        same(
            "POST",
            format!("/api/appointments/{mine_move}/reschedule"),
            Some(json!({"start": free[1], "reason": "Later suits me"})),
            ["401", "201", "404", "404", "404", "404", "404"],
        ),
        same(
            "GET",
            format!("/api/conversations/{conv}/proposals"),
            None,
            ["401", "200", "404", "404", "404", "404", "404"],
        ),
        ApiRow {
            method: "GET",
            paths: (0..7).map(|r| format!("/api/clinic/appointments{}", q(r))).collect(),
            bodies: vec![None; 7],
            expect: ["401", "404", "404", "200", "200", "200", "200"],
            about: true,
        },
        ApiRow {
            method: "GET",
            paths: (0..7)
                .map(|r| format!("/api/clinic/appointments/slots{}", q(r)))
                .collect(),
            bodies: vec![None; 7],
            expect: ["401", "404", "404", "200", "200", "200", "200"],
            about: false,
        },
        // Clinic one's clinician and staff book A at clinic one; clinic
        // two's clinician books A there (A is its patient too, scopes do
        // not matter for scheduling); clinic three never had A.
        ApiRow {
            method: "POST",
            paths: (0..7).map(|r| format!("/api/clinic/appointments{}", q(r))).collect(),
            bodies: (0..7)
                .map(|r| {
                    let start = if r == 4 { &free2[0] } else { &free[2 + r] };
                    Some(json!({"profile_id": a, "start": start, "note": format!("by role {r}")}))
                })
                .collect(),
            expect: ["401", "404", "404", "201", "201", "404", "201"],
            about: false,
        },
        ApiRow {
            method: "POST",
            paths: (0..7)
                .map(|r| {
                    format!(
                        "/api/clinic/appointments/{a}/{}/cancel{}",
                        clinic_cancel[r],
                        q(r)
                    )
                })
                .collect(),
            bodies: vec![Some(json!({"reason": "The surgeon is away"})); 7],
            expect: ["401", "404", "404", "200", "404", "404", "200"],
            about: false,
        },
        ApiRow {
            method: "POST",
            paths: (0..7)
                .map(|r| {
                    format!(
                        "/api/clinic/appointments/{a}/{}/reschedule{}",
                        clinic_move[r],
                        q(r)
                    )
                })
                .collect(),
            bodies: (0..7)
                .map(|r| Some(json!({"start": free[10 + r], "reason": "Theatre overran"})))
                .collect(),
            expect: ["401", "404", "404", "201", "404", "404", "201"],
            about: false,
        },
        ApiRow {
            method: "POST",
            paths: (0..7)
                .map(|r| format!("/api/clinic/conversations/{a}/{conv}/proposals{}", q(r)))
                .collect(),
            bodies: vec![Some(json!({"starts": [free[20], free[21]], "body": "Two times"})); 7],
            expect: ["401", "404", "404", "201", "404", "404", "201"],
            about: false,
        },
        ApiRow {
            method: "GET",
            paths: (0..7)
                .map(|r| format!("/api/clinic/conversations/{a}/{conv}/proposals{}", q(r)))
                .collect(),
            bodies: vec![None; 7],
            expect: ["401", "404", "404", "200", "404", "404", "200"],
            about: false,
        },
    ];
    let mut checked = 0;
    for row in &rows {
        for (role, user) in users.iter().enumerate() {
            let path = &row.paths[role];
            let (status, text) =
                api_as(&s, row.method, path, *user, row.bodies[role].clone()).await;
            let cell = format!("{} {path} as {}", row.method, ROLES[role]);
            assert_eq!(status.as_str(), row.expect[role], "{cell}: {text}");
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status.is_success() {
                assert!(v.is_object(), "{cell}: {text}");
            } else {
                assert!(v["error"]["code"].is_string(), "{cell}: {text}");
                assert!(!text.contains(ALICE), "{cell} leaks the name: {text}");
                assert!(!text.contains(NOTE), "{cell} leaks the note: {text}");
            }
            if row.about && status.is_success() {
                // A on her own list; clinic one's members on theirs.
                let may = if path.starts_with("/api/clinic/") {
                    matches!(role, 3 | 6)
                } else {
                    role == 1
                };
                assert_eq!(text.contains(NOTE), may, "{cell}: {text}");
                assert_eq!(text.contains(ALICE), may, "{cell}: {text}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, rows.len() * 7);

    // The proposals the clinic made are A's to read, with their slots.
    let (status, text) = api_as(
        &s,
        "GET",
        &format!("/api/conversations/{conv}/proposals"),
        Some(&a_user),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let proposals = v["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 2, "{v}");
    for p in proposals {
        assert_eq!(p["slots"][0]["start"], free[20].as_str(), "{p}");
        assert_eq!(p["slots"][1]["start"], free[21].as_str(), "{p}");
    }

    // What changed: only the allowed roles' appointments.
    let (status, text) = api_as(&s, "GET", "/api/appointments", Some(&a_user), None).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&text).unwrap();
    let status_of = |id: &str| -> String {
        v["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {v}"))["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status_of(&mine_cancel), "cancelled");
    assert_eq!(status_of(&mine_move), "rescheduled");
    for r in 0..7 {
        let allowed = matches!(r, 3 | 6);
        let (c, m) = if allowed {
            ("cancelled", "rescheduled")
        } else {
            ("booked", "booked")
        };
        assert_eq!(status_of(&clinic_cancel[r]), c, "role {r}");
        assert_eq!(status_of(&clinic_move[r]), m, "role {r}");
    }
    let at_two = v["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["clinic_id"] == c2.clinic.as_str())
        .count();
    assert_eq!(at_two, 1, "clinic two booked A once: {v}");

    // Every clinic read and write is in A's audit log, by who did it;
    // clinic three left no line and clinic two only its booking.
    let log = super::blocking(|| s.store.audit_log(a, 1000).unwrap());
    let accounts = super::blocking(|| {
        [
            "one@clinic.example",
            "staff@clinic.example",
            "two@clinic.example",
            "three@clinic.example",
        ]
        .map(|e| super::notify::account_of(s.store.as_ref(), e))
    });
    let did =
        |who: AccountId, action: &str| log.iter().any(|e| e.actor == who && e.action == action);
    for who in [accounts[0], accounts[1]] {
        for action in [
            "viewed_appointments",
            "appointment_booked",
            "appointment_cancelled",
            "appointment_rescheduled",
            "slots_proposed",
            "viewed_proposals",
        ] {
            assert!(did(who, action), "{action} by {who}: {log:?}");
        }
    }
    assert!(did(accounts[2], "appointment_booked"), "{log:?}");
    assert!(
        log.iter()
            .filter(|e| e.actor == accounts[2])
            .all(|e| matches!(
                e.action.as_str(),
                "appointment_booked" | "viewed_appointment" | "viewed_appointments"
            )),
        "{log:?}"
    );
    assert!(log.iter().all(|e| e.actor != accounts[3]), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_appointment_api_route_answers_each_role_as_the_table_says_on_sqlite() {
    let s = Server::new();
    assert_eq!(s.store.backend(), "sqlite");
    appointment_api_matrix(s).await;
}

/// The same table on PostgreSQL. Needs `NEEDLEWISE_TEST_POSTGRES_URL`
/// (scripts/pg-test-server start); it fails, never skips, without it.
#[test]
fn every_appointment_api_route_answers_each_role_as_the_table_says_on_postgres() {
    Server::on_postgres(appointment_api_matrix);
}
