//! Red flags reach the clinic: in-app notifications and emails through a
//! local SMTP sink, the ladder's later steps after their delay and only
//! while nobody acknowledged (timed from when the clinic could first see
//! the flag), and each step once even when two instances run the worker at
//! the same moment. Clinics are set up through the store.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::{SignedDuration, Timestamp};
use needlewise_core::clinic::{Clinic, Ladder, Member, Role, Scope};
use needlewise_core::evidence;
use needlewise_core::ids::{AccountId, CheckinId, ClinicId, EpisodeId, ProfileId, SessionId};
use needlewise_core::records::{
    Account, CheckinRecord, Episode, Profile, SessionRecord, ZoneRecord,
};
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_store::clinic::{ClinicAccess, Invite};
use needlewise_store::{SqliteStore, Store};
use needlewise_web::auth::token_hash;
use needlewise_web::mail::Mailer;
use needlewise_web::{Config, notify};
use serde_json::{Value, json};
use uuid::Uuid;

use super::smtp_sink::SmtpSink;
use super::{Server, User};

pub(super) fn now_of(s: &Server) -> Timestamp {
    Timestamp::from_second(s.clock.load(std::sync::atomic::Ordering::SeqCst)).unwrap()
}

pub(super) fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

pub(super) fn account_of(store: &dyn Store, email: &str) -> AccountId {
    store.account_by_email(email).unwrap().unwrap().id
}

/// An account made straight in the store (no password to log in with).
pub(super) fn account(store: &dyn Store, email: &str, at: Timestamp) -> AccountId {
    let a = Account {
        id: AccountId(Uuid::now_v7()),
        email: email.to_owned(),
        password_hash: "not a hash".into(),
        created_at: at,
    };
    store.create_account(&a).unwrap();
    a.id
}

/// A clinic whose founder is a clinician, with the default ladder
/// (clinicians at once, staff after 4 hours).
pub(super) fn clinic(store: &dyn Store, founder: AccountId, at: Timestamp) -> ClinicId {
    let c = Clinic {
        id: ClinicId(Uuid::now_v7()),
        name: "Harbour Facial Surgery".into(),
        time_zone: "Europe/London".into(),
        ladder: Ladder::default(),
        created_at: at,
    };
    let m = Member {
        clinic_id: c.id,
        account_id: founder,
        role: Role::Clinician,
        display_name: "Dr Lee".into(),
        joined_at: at,
    };
    store.create_clinic(&c, &m).unwrap();
    c.id
}

pub(super) fn member(
    store: &dyn Store,
    clinic: ClinicId,
    by: AccountId,
    who: AccountId,
    role: Role,
    name: &str,
    at: Timestamp,
) {
    let m = Member {
        clinic_id: clinic,
        account_id: who,
        role,
        display_name: name.to_owned(),
        joined_at: at,
    };
    store
        .add_member(
            &ClinicAccess {
                clinic,
                account: by,
            },
            &m,
        )
        .unwrap();
}

/// Invites the profile and joins it with these scopes.
pub(super) fn enrol(
    store: &dyn Store,
    clinic: ClinicId,
    by: AccountId,
    profile: ProfileId,
    scopes: &[Scope],
    at: Timestamp,
) {
    let code = Uuid::new_v4().simple().to_string();
    let hash = token_hash(&code);
    let invite = Invite {
        clinic_id: clinic,
        code_hash: hash.clone(),
        label: "patient".into(),
        created_by: by,
        created_at: at,
        expires_at: at + hours(24 * 7),
        used_by: None,
        used_at: None,
    };
    store
        .create_invite(
            &ClinicAccess {
                clinic,
                account: by,
            },
            &invite,
        )
        .unwrap();
    let scopes: BTreeSet<Scope> = scopes.iter().copied().collect();
    assert_eq!(
        store.redeem_invite(&hash, profile, &scopes, at).unwrap(),
        clinic
    );
}

/// A profile with this name for the account.
pub(super) fn profile(
    store: &dyn Store,
    account: AccountId,
    name: &str,
    at: Timestamp,
) -> ProfileId {
    let p = Profile {
        id: ProfileId(Uuid::now_v7()),
        account_id: account,
        name: name.to_owned(),
        created_at: at,
        time_zone: None,
    };
    store.create_profile(&p).unwrap();
    p.id
}

/// A signed-up patient working in a profile of this name.
pub(super) async fn patient(s: &Server, email: &str, name: &str) -> (User, ProfileId) {
    let user = s.sign_up(email).await;
    let id = account_of(s.store.as_ref(), email);
    let p = profile(s.store.as_ref(), id, name, now_of(s));
    let token = user.cookie.split_once('=').unwrap().1;
    s.store
        .set_web_session_profile(&token_hash(token), p)
        .unwrap();
    (user, p)
}

/// A session that ended at `ended`.
pub(super) fn session(store: &dyn Store, profile: ProfileId, ended: Timestamp) {
    let s = SessionRecord {
        id: SessionId(Uuid::now_v7()),
        profile_id: profile,
        device_id: None,
        started_at: ended - SignedDuration::from_mins(20),
        ended_at: ended,
        local_date: ended.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(),
        needle_length_mm: 0.25,
        zones: vec![ZoneRecord {
            zone: Zone::Forehead,
            seconds: 60,
            strokes: Some(8),
            skipped: false,
        }],
        products: Vec::new(),
        notes: String::new(),
        setting: needlewise_core::records::SessionSetting::Home,
        readiness_check_id: None,
    };
    store.log_session(&s, None).unwrap();
}

/// A check-in at `at` that opened a red-flag episode, straight into the
/// store.
pub(super) fn red_flag(store: &dyn Store, profile: ProfileId, at: Timestamp) -> EpisodeId {
    let answers = needlewise_core::answers::Answers::from_json(
        &evidence().checkin,
        &json!({"redness": "moderate", "redness_trend": "worse", "swelling": true, "fever": true}),
        at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(),
    )
    .unwrap();
    let checkin = CheckinRecord {
        id: CheckinId(Uuid::now_v7()),
        profile_id: profile,
        session_id: None,
        at,
        answers,
        level: TriageLevel::ContactSurgeon,
        rule_ids: vec!["checkin.fever".into()],
    };
    let episode = Episode {
        id: EpisodeId(Uuid::now_v7()),
        profile_id: profile,
        checkin_id: checkin.id,
        level: TriageLevel::ContactSurgeon,
        opened_at: at,
        resolved_at: None,
        resolution: String::new(),
        resolver: None,
    };
    store.save_checkin(&checkin, Some(&episode)).unwrap();
    episode.id
}

pub(super) fn checkin_answers(pus: bool) -> Value {
    json!({
        "redness": "none", "swelling": false, "pus_or_spreading_warmth": pus,
        "fever": false, "blisters": false, "new_bumps": false, "track_marks": false,
        "darker_patches": false, "numbness": false, "allergic_reaction": false,
        "anaesthetic_toxicity": false, "feeling_unwell": false, "widespread_rash": false, "blood_exposure_shared_device": false
    })
}

/// A check-in through the JSON API.
pub(super) async fn api_checkin(s: &Server, u: &User, pus: bool) -> (StatusCode, Value) {
    let req = Request::post("/api/checkins")
        .header(header::COOKIE, &u.cookie)
        .header("x-csrf-token", &u.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(checkin_answers(pus).to_string()))
        .unwrap();
    let (status, _, body) = s.send(req).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_red_flag_tells_the_clinicians_in_the_app_and_by_email() {
    let sink = SmtpSink::start();
    let s = Server::with_config(Config {
        smtp_url: Some(sink.url()),
        mail_from: "needlewise <alerts@clinic.test>".into(),
        ..Config::default()
    });
    let t0 = now_of(&s);
    let store = s.store.as_ref();
    let lee_user = s.sign_up("lee@clinic.test").await;
    let lee = account_of(store, "lee@clinic.test");
    let kim = account(store, "kim@clinic.test", t0);
    let sam = account(store, "sam@clinic.test", t0);
    let c = clinic(store, lee, t0);
    member(store, c, lee, kim, Role::Clinician, "Dr Kim", t0);
    member(store, c, lee, sam, Role::Staff, "Sam at the desk", t0);

    let (pat, p) = patient(&s, "pat@home.test", "Juniper Quill").await;
    enrol(store, c, lee, p, &[Scope::Checkins, Scope::Sessions], t0);
    session(store, p, t0 - hours(30));
    // Another patient who did not share check-ins: the clinic hears nothing.
    let quiet_account = account(store, "quiet@home.test", t0);
    let quiet = profile(store, quiet_account, "Quiet Patient", t0);
    enrol(store, c, lee, quiet, &[Scope::Screening], t0);
    red_flag(store, quiet, t0 - hours(1));

    let (status, v) = api_checkin(&s, &pat, true).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["locks_sessions"], true, "{v}");

    // In the app, at once, for each clinician; staff wait for step two.
    for who in [lee, kim] {
        let notes = store.notifications(who, 10).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].kind, "red_flag");
        assert_eq!(notes[0].link, "/clinic/red-flags");
        assert_eq!(notes[0].clinic_id, Some(c));
        assert_eq!(notes[0].profile_id, Some(p));
        assert_eq!(notes[0].read_at, None);
        assert!(!notes[0].body.contains("Juniper"), "{}", notes[0].body);
        assert_eq!(store.unread_notifications(who).unwrap(), 1);
    }
    assert!(store.notifications(sam, 10).unwrap().is_empty());

    let (status, _, page) = s.get("/notifications", Some(&lee_user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("A patient has a warning sign to review"),
        "{page}"
    );
    assert!(page.contains("href=\"/clinic/red-flags\""), "{page}");
    assert!(page.contains("1 unread"), "{page}");

    // By email, through the sink: one to each clinician, nothing clinical.
    let got = sink.wait_for(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let mut to: Vec<String> = got.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["kim@clinic.test", "lee@clinic.test"]);
    for m in &got {
        assert_eq!(m.from, "alerts@clinic.test");
        let subject = m.header("Subject").unwrap();
        assert!(
            subject.contains("a patient has a warning sign to review"),
            "{subject}"
        );
        let body = m.body();
        assert!(
            body.contains("A patient has a warning sign to review"),
            "{body}"
        );
        assert!(body.contains("/clinic/red-flags"), "{body}");
        for secret in ["Juniper", "Quill", "pat@home.test", "pus", "fever", "Quiet"] {
            assert!(!m.data.contains(secret), "{secret} in {}", m.data);
        }
    }
    // The outbox says they went.
    let mut sent = Vec::new();
    for _ in 0..200 {
        sent = store.emails(10).unwrap();
        if sent.iter().all(|e| e.sent_at.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter().all(|e| e.sent_at.is_some() && e.attempts == 1),
        "{sent:?}"
    );

    // Nothing is sent twice, and a worker run sends nothing new.
    assert_eq!(notify::escalate(store, t0).unwrap(), 0);
    let mailer = Mailer::new(Some(&sink.url()), "alerts@clinic.test").unwrap();
    assert_eq!(notify::deliver(store, &mailer, t0).unwrap(), 0);
    assert_eq!(sink.messages().len(), 2);
    assert_eq!(store.notifications(lee, 10).unwrap().len(), 1);

    // An ordinary check-in tells nobody.
    s.advance_minutes(60);
    let (status, v) = api_checkin(&s, &pat, false).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(store.notifications(lee, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn the_second_step_waits_for_its_delay_and_an_acknowledgement_stops_it() {
    let s = Server::new();
    let store = s.store.as_ref();
    let t0 = now_of(&s);
    let lee = account(store, "lee@clinic.test", t0);
    let sam = account(store, "sam@clinic.test", t0);
    let c = clinic(store, lee, t0);
    member(store, c, lee, sam, Role::Staff, "Sam", t0);
    let pa = account(store, "a@home.test", t0);
    let pb = account(store, "b@home.test", t0);
    let p1 = profile(store, pa, "Ann", t0);
    let p2 = profile(store, pb, "Bea", t0);
    enrol(store, c, lee, p1, &[Scope::Checkins], t0);
    enrol(store, c, lee, p2, &[Scope::Checkins], t0);
    let _e1 = red_flag(store, p1, t0);
    let e2 = red_flag(store, p2, t0);

    assert_eq!(
        notify::escalate(store, t0).unwrap(),
        2,
        "step one, for each flag"
    );
    assert_eq!(store.notifications(lee, 10).unwrap().len(), 2);
    assert!(store.notifications(sam, 10).unwrap().is_empty());

    // Not yet four hours: nothing more.
    let almost = t0 + hours(4) - SignedDuration::from_secs(1);
    assert_eq!(notify::escalate(store, almost).unwrap(), 0);
    assert!(store.notifications(sam, 10).unwrap().is_empty());

    // Lee acknowledges Bea's flag; Ann's is left.
    store
        .acknowledge(
            &ClinicAccess {
                clinic: c,
                account: lee,
            },
            p2,
            e2,
            "called her; seeing her today",
            t0 + hours(1),
        )
        .unwrap();
    assert_eq!(notify::escalate(store, t0 + hours(4)).unwrap(), 1);
    let staff = store.notifications(sam, 10).unwrap();
    assert_eq!(staff.len(), 1, "{staff:?}");
    assert_eq!(staff[0].kind, "escalation");
    assert_eq!(
        staff[0].profile_id, None,
        "staff are not pointed at the patient"
    );
    assert!(
        staff[0].body.contains("about 4 hours ago"),
        "{}",
        staff[0].body
    );
    assert!(!staff[0].body.contains("Ann"));
    assert_eq!(
        store.notifications(lee, 10).unwrap().len(),
        2,
        "step two is for staff"
    );

    // Without an SMTP server the emails wait in the outbox.
    let queued = store.emails(10).unwrap();
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert!(queued.iter().all(|e| e.sent_at.is_none()));
    assert_eq!(
        queued.iter().filter(|e| e.to == "sam@clinic.test").count(),
        1
    );
    assert_eq!(
        notify::deliver(store, &Mailer::disabled(), t0 + hours(4)).unwrap(),
        0
    );

    // Days later, nothing more: every step went out once.
    assert_eq!(notify::escalate(store, t0 + hours(72)).unwrap(), 0);
    assert_eq!(store.notifications(sam, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn a_flag_raised_before_the_clinic_could_see_it_starts_the_ladder_when_shared() {
    let s = Server::new();
    let store = s.store.as_ref();
    let t0 = now_of(&s);
    let lee = account(store, "lee@clinic.test", t0 - hours(200));
    let sam = account(store, "sam@clinic.test", t0 - hours(200));
    let c = clinic(store, lee, t0 - hours(200));
    member(store, c, lee, sam, Role::Staff, "Sam", t0 - hours(200));
    // Ann's red flag opened three days ago; she joins the clinic, sharing
    // check-ins, only now.
    let pa = account(store, "a@home.test", t0 - hours(100));
    let ann = profile(store, pa, "Ann", t0 - hours(100));
    red_flag(store, ann, t0 - hours(72));
    // Bea joined long ago without check-ins; her flag opened two days ago
    // and she shares check-ins in an hour.
    let pb = account(store, "b@home.test", t0 - hours(100));
    let bea = profile(store, pb, "Bea", t0 - hours(100));
    enrol(store, c, lee, bea, &[Scope::Sessions], t0 - hours(100));
    red_flag(store, bea, t0 - hours(48));
    assert_eq!(notify::escalate(store, t0 - hours(1)).unwrap(), 0);

    enrol(store, c, lee, ann, &[Scope::Checkins], t0);
    // Only the first step, at once: the staff step waits its 4 hours from
    // now, not from the flag.
    assert_eq!(notify::escalate(store, t0).unwrap(), 1);
    let notes = store.notifications(lee, 10).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "red_flag");
    assert!(
        notes[0].body.contains("and shared it with the clinic at"),
        "{}",
        notes[0].body
    );
    assert!(store.notifications(sam, 10).unwrap().is_empty());

    store
        .set_consent(bea, c, Scope::Checkins, true, t0 + hours(1))
        .unwrap();
    assert_eq!(notify::escalate(store, t0 + hours(1)).unwrap(), 1);
    let notes = store.notifications(lee, 10).unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().all(|n| n.kind == "red_flag"), "{notes:?}");
    assert!(store.notifications(sam, 10).unwrap().is_empty());

    let almost = t0 + hours(4) - SignedDuration::from_secs(1);
    assert_eq!(notify::escalate(store, almost).unwrap(), 0);
    assert!(store.notifications(sam, 10).unwrap().is_empty());
    // Four hours after Ann joined: her staff step, counted from then.
    assert_eq!(notify::escalate(store, t0 + hours(4)).unwrap(), 1);
    let staff = store.notifications(sam, 10).unwrap();
    assert_eq!(staff.len(), 1, "{staff:?}");
    assert_eq!(staff[0].kind, "escalation");
    assert!(
        staff[0].body.contains("about 4 hours ago"),
        "{}",
        staff[0].body
    );
    // Bea's, four hours after she shared.
    assert_eq!(
        notify::escalate(store, t0 + hours(5) - SignedDuration::from_secs(1)).unwrap(),
        0
    );
    assert_eq!(notify::escalate(store, t0 + hours(5)).unwrap(), 1);
    assert_eq!(store.notifications(sam, 10).unwrap().len(), 2);
    assert_eq!(notify::escalate(store, t0 + hours(72)).unwrap(), 0);
}

#[tokio::test]
async fn two_instances_running_the_worker_send_each_step_once() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    // Two handles on one database: two instances.
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let t0 = Timestamp::from_second(super::T0).unwrap();
    let lee = account(a.as_ref(), "lee@clinic.test", t0);
    let kim = account(a.as_ref(), "kim@clinic.test", t0);
    let sam = account(a.as_ref(), "sam@clinic.test", t0);
    let c = clinic(a.as_ref(), lee, t0);
    member(a.as_ref(), c, lee, kim, Role::Clinician, "Dr Kim", t0);
    member(a.as_ref(), c, lee, sam, Role::Staff, "Sam", t0);
    for i in 0..3 {
        let acc = account(a.as_ref(), &format!("p{i}@home.test"), t0);
        let p = profile(a.as_ref(), acc, &format!("Patient {i}"), t0);
        enrol(a.as_ref(), c, lee, p, &[Scope::Checkins], t0);
        red_flag(a.as_ref(), p, t0);
    }

    let both = |at: Timestamp| -> (u32, u32) {
        let barrier = Arc::new(Barrier::new(2));
        let runs: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|store| {
                let barrier = barrier.clone();
                let url = sink.url();
                std::thread::spawn(move || {
                    let mailer = Mailer::new(Some(&url), "alerts@clinic.test").unwrap();
                    barrier.wait();
                    let stepped = notify::escalate(store.as_ref(), at).unwrap();
                    barrier.wait();
                    let sent = notify::deliver(store.as_ref(), &mailer, at).unwrap();
                    (stepped, sent)
                })
            })
            .collect();
        runs.into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |acc, x| (acc.0 + x.0, acc.1 + x.1))
    };

    // Step one: 3 flags, each to 2 clinicians.
    assert_eq!(both(t0), (3, 6));
    assert_eq!(sink.wait_for(6).await.len(), 6);
    assert_eq!(a.notifications(lee, 10).unwrap().len(), 3);
    assert_eq!(b.notifications(kim, 10).unwrap().len(), 3);
    // Again, at once: nothing.
    assert_eq!(both(t0 + SignedDuration::from_mins(1)), (0, 0));
    // Step two, for staff.
    assert_eq!(both(t0 + hours(4)), (3, 3));
    let got = sink.wait_for(9).await;
    assert_eq!(got.len(), 9);
    assert_eq!(
        got.iter().filter(|m| m.to == ["sam@clinic.test"]).count(),
        3
    );
    assert_eq!(b.notifications(sam, 10).unwrap().len(), 3);
    assert_eq!(both(t0 + hours(5)), (0, 0));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(sink.messages().len(), 9, "no email went twice");
}

#[tokio::test]
async fn an_email_that_could_not_be_sent_is_retried_after_its_lease() {
    let sink = SmtpSink::start();
    let s = Server::new();
    let store = s.store.as_ref();
    let t0 = now_of(&s);
    let email = needlewise_store::clinic::Email {
        id: needlewise_core::ids::EmailId(Uuid::now_v7()),
        to: "lee@clinic.test".into(),
        subject: "needlewise: a patient has a warning sign to review".into(),
        body: "A patient has a warning sign to review.\n".into(),
        calendar: None,
        created_at: t0,
        sent_at: None,
        attempts: 0,
        last_error: String::new(),
    };
    store.queue_email(&email).unwrap();
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = Mailer::new(Some(&format!("smtp://{closed}")), "alerts@clinic.test").unwrap();
    let up = Mailer::new(Some(&sink.url()), "alerts@clinic.test").unwrap();

    assert_eq!(notify::deliver(store, &down, t0).unwrap(), 0);
    let after = &store.emails(10).unwrap()[0];
    assert_eq!(after.attempts, 1);
    assert_eq!(after.sent_at, None);
    assert!(!after.last_error.is_empty());
    // Leased for a while: not even a working server gets it yet.
    assert_eq!(
        notify::deliver(store, &up, t0 + SignedDuration::from_secs(10)).unwrap(),
        0
    );
    // The lease is seconds, not minutes: a red-flag email is late by that.
    assert!(notify::EMAIL_LEASE <= SignedDuration::from_secs(60));
    let later = t0 + notify::EMAIL_LEASE + SignedDuration::from_mins(1);
    assert_eq!(notify::deliver(store, &up, later).unwrap(), 1);
    assert_eq!(sink.wait_for(1).await.len(), 1);
    let done = &store.emails(10).unwrap()[0];
    assert_eq!(done.sent_at, Some(later));
    assert_eq!(done.attempts, 2);
    assert_eq!(
        notify::deliver(store, &up, later + notify::EMAIL_LEASE * 2).unwrap(),
        0
    );
}

#[tokio::test]
async fn the_background_worker_escalates_and_sends_on_its_own() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap());
    let t0 = Timestamp::from_second(super::T0).unwrap();
    let state = needlewise_web::AppState::new(
        store.clone(),
        Config {
            smtp_url: Some(sink.url()),
            escalation_tick_seconds: 1,
            ..Config::default()
        },
        Arc::new(move || t0),
        jiff::tz::TimeZone::UTC,
    );
    let lee = account(store.as_ref(), "lee@clinic.test", t0);
    let c = clinic(store.as_ref(), lee, t0);
    let pa = account(store.as_ref(), "a@home.test", t0);
    let p = profile(store.as_ref(), pa, "Ann", t0);
    enrol(store.as_ref(), c, lee, p, &[Scope::Checkins], t0);
    red_flag(store.as_ref(), p, t0);

    let worker = notify::spawn_worker(state);
    let got = sink.wait_for(1).await;
    worker.abort();
    assert_eq!(got.len(), 1, "the worker sent the email");
    assert_eq!(got[0].to, ["lee@clinic.test"]);
    assert_eq!(store.notifications(lee, 10).unwrap().len(), 1);
}

/// Twenty red flags at once on one instance each start a delivery: they
/// take turns, so the instance holds one claimed email at a time. An
/// instance that dies then leaves at most one email late by a lease (or
/// sent twice, with the same Message-ID), not one per red flag in flight,
/// as scripts/multi-instance found (up to 9 repeats from one kill -9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_on_one_instance_take_turns() {
    let sink = SmtpSink::start_slow(std::time::Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap());
    let t0 = Timestamp::from_second(super::T0).unwrap();
    let state = needlewise_web::AppState::new(
        store.clone(),
        Config {
            smtp_url: Some(sink.url()),
            ..Config::default()
        },
        Arc::new(move || t0),
        jiff::tz::TimeZone::UTC,
    );
    for n in 0..8 {
        store
            .queue_email(&needlewise_store::clinic::Email {
                id: needlewise_core::ids::EmailId(Uuid::now_v7()),
                to: format!("lee{n}@clinic.test"),
                subject: "needlewise: a patient has a warning sign to review".into(),
                body: "A patient has a warning sign to review.\n".into(),
                calendar: None,
                created_at: t0,
                sent_at: None,
                attempts: 0,
                last_error: String::new(),
            })
            .unwrap();
    }
    let kicks: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { notify::kick(&state).await })
        })
        .collect();
    for k in kicks {
        k.await.unwrap();
    }
    assert_eq!(sink.wait_for(8).await.len(), 8);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(sink.messages().len(), 8, "each email once");
    assert_eq!(
        sink.peak_connections(),
        1,
        "one email at a time from one instance"
    );
    assert!(
        store
            .emails(10)
            .unwrap()
            .iter()
            .all(|e| e.sent_at.is_some())
    );
}
