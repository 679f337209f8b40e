//! The calendar subscription: the link on the schedule page and the feed.

use axum::http::{StatusCode, header};
use icalendar::Component;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::hygiene::{Device, DeviceKind, HygieneState, RollerSpec};
use needlewise_core::ids::{DeviceId, ProfileId, SessionId};
use needlewise_core::records::SessionRecord;
use needlewise_web::Config;
use needlewise_web::auth::token_hash;
use uuid::Uuid;

use super::{Server, User};

fn profile_of(s: &Server, email: &str) -> ProfileId {
    let account = s.store.account_by_email(email).unwrap().unwrap();
    s.store.profiles(account.id).unwrap()[0].id
}

/// Logs a session that ended at `ended` (UTC) directly in the store.
fn log_session(s: &Server, profile: ProfileId, date: &str, ended: &str, mm: f64) {
    let ended_at: Timestamp = ended.parse().unwrap();
    s.store
        .log_session(
            &SessionRecord {
                id: SessionId(Uuid::now_v7()),
                profile_id: profile,
                device_id: None,
                started_at: ended_at - SignedDuration::from_mins(20),
                ended_at,
                local_date: date.parse().unwrap(),
                needle_length_mm: mm,
                zones: vec![],
                products: vec![],
                notes: String::new(),
                setting: needlewise_core::records::SessionSetting::Home,
                readiness_check_id: None,
            },
            None,
        )
        .unwrap();
}

/// A roller with one use left, whose name needs escaping in iCalendar.
fn add_worn_roller(s: &Server, profile: ProfileId) {
    let mut d = Device::new(
        DeviceId(Uuid::now_v7()),
        profile,
        "Bathroom roller, 0.5 mm; the blue one".into(),
        DeviceKind::Roller(RollerSpec::standard_192(0.5)),
        "2026-11-01T10:00:00Z".parse().unwrap(),
    )
    .unwrap();
    d.use_count = 9;
    d.state = HygieneState::Used;
    s.store.add_device(&d).unwrap();
}

/// Makes (or remakes) the link with the form; returns the page.
async fn post_link(s: &Server, user: &User, action: &str) -> (StatusCode, String) {
    let (status, _, page) = s
        .post(
            "/schedule/calendar",
            Some(&user.cookie),
            &[("csrf", user.csrf.as_str()), ("action", action)],
        )
        .await;
    (status, page)
}

/// The token in the link the page shows.
fn token_in(page: &str) -> String {
    let i = page.find("/calendar/").expect("a calendar link") + "/calendar/".len();
    let token = &page[i..i + 64];
    assert_eq!(&page[i + 64..i + 68], ".ics", "{page}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    token.to_owned()
}

async fn feed(s: &Server, token: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    s.get(&format!("/calendar/{token}.ics"), None).await
}

/// The raw DTSTART line of each event, by the kind it names.
fn dtstarts(body: &str, kind: &str) -> Vec<String> {
    let cal: icalendar::Calendar = body.parse().unwrap();
    let mut out: Vec<String> = cal
        .events()
        .filter(|e| e.property_value("X-NEEDLEWISE-KIND") == Some(kind))
        .map(|e| e.property_value("DTSTART").unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_form_makes_a_link_and_the_feed_needs_no_login() {
    let s = Server::new();
    let user = s.sign_up("a@example.org").await;
    let profile = profile_of(&s, "a@example.org");
    log_session(&s, profile, "2026-11-20", "2026-11-20T19:30:00Z", 0.5);
    add_worn_roller(&s, profile);

    let (status, _, page) = s.get("/schedule", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Calendar subscription"), "{page}");
    assert!(page.contains("Make a calendar link"));
    assert!(page.contains("Anyone who has the link can see these dates"));

    // Without the CSRF token nothing is made.
    let (status, _, _) = s
        .post(
            "/schedule/calendar",
            Some(&user.cookie),
            &[("csrf", "0".repeat(64).as_str()), ("action", "create")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.store.calendar_token_created(profile).unwrap(), None);
    // Nor without a login.
    let (status, _, _) = s
        .post("/schedule/calendar", None, &[("action", "create")])
        .await;
    assert_ne!(status, StatusCode::OK);
    assert_eq!(s.store.calendar_token_created(profile).unwrap(), None);

    let (status, page) = post_link(&s, &user, "create").await;
    assert_eq!(status, StatusCode::OK);
    let token = token_in(&page);
    // Without a public URL or a Host header the link is relative.
    assert!(
        page.contains(&format!("value=\"/calendar/{token}.ics\"")),
        "{page}"
    );
    // Only the hash is stored.
    assert_eq!(s.store.profile_by_calendar_token(&token).unwrap(), None);
    assert_eq!(
        s.store
            .profile_by_calendar_token(&token_hash(&token))
            .unwrap()
            .unwrap()
            .id,
        profile
    );

    // The feed, with no cookie at all.
    let (status, h, body) = feed(&s, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.get(header::CONTENT_TYPE).unwrap(),
        "text/calendar; charset=utf-8"
    );
    assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(h.get(header::SET_COOKIE).is_none());

    // Strict text checks: CRLF everywhere, lines of at most 75 octets.
    assert!(
        body.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
        "{body}"
    );
    assert!(body.ends_with("END:VCALENDAR\r\n"));
    for line in body.split("\r\n") {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "bare newline in {line:?}"
        );
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    assert!(
        body.contains("\r\nDTSTART;VALUE=DATE:20261218\r\n"),
        "{body}"
    );
    assert!(body.contains("\r\nDTEND;VALUE=DATE:20261219\r\n"));
    assert!(body.contains("\r\nDTSTART:20261121T193000Z\r\n"));
    assert!(body.contains("\r\nTRIGGER;RELATED=START:PT9H\r\n"));
    assert!(body.contains("\r\nTRIGGER;RELATED=START:PT0S\r\n"));
    assert!(
        body.contains(r"Bathroom roller\, 0.5 mm\; the blue one"),
        "{body}"
    );
    assert_eq!(body.matches("BEGIN:VEVENT").count(), 10);
    assert_eq!(body.matches("BEGIN:VALARM").count(), 10);

    // Parsed back: events, dates, alarms and text survive.
    let cal: icalendar::Calendar = body.parse().unwrap();
    let events: Vec<_> = cal.events().collect();
    assert_eq!(events.len(), 10);
    for e in &events {
        let uid = e.get_uid().unwrap();
        assert!(uid.contains(&profile.to_string()), "{uid}");
        assert!(e.get_summary().unwrap().starts_with("Microneedling: "));
        assert!(e.get_start().is_some() && e.get_end().is_some());
        let alarms: Vec<_> = e
            .components()
            .iter()
            .filter(|c| c.component_kind() == "VALARM")
            .collect();
        assert_eq!(alarms.len(), 1, "{uid}");
        assert_eq!(alarms[0].property_value("ACTION"), Some("DISPLAY"));
        let trigger = alarms[0].property_value("TRIGGER").unwrap();
        let all_day = e.property_value("DTSTART").unwrap().len() == 8;
        assert_eq!(trigger, if all_day { "PT9H" } else { "PT0S" }, "{uid}");
    }
    assert_eq!(dtstarts(&body, "next-session"), ["20261218"]);
    assert_eq!(
        dtstarts(&body, "course-session"),
        ["20261220", "20270119", "20270218"]
    );
    assert_eq!(dtstarts(&body, "course-review"), ["20270218"]);
    assert_eq!(
        dtstarts(&body, "checkin"),
        [
            "20261121T193000Z",
            "20261123T193000Z",
            "20261127T193000Z",
            "20261204T193000Z"
        ]
    );
    assert_eq!(dtstarts(&body, "replace-device"), ["20261218"]);
    let roller = events
        .iter()
        .find(|e| e.property_value("X-NEEDLEWISE-KIND") == Some("replace-device"))
        .unwrap();
    assert!(
        roller
            .get_summary()
            .unwrap()
            .contains("Bathroom roller, 0.5 mm; the blue one"),
        "{:?}",
        roller.get_summary()
    );
    assert_eq!(cal.get_name(), Some("needlewise: me"));

    // A later fetch gives the same UIDs (calendar apps update, not duplicate).
    s.advance_minutes(60 * 24);
    let (_, _, again) = feed(&s, &token).await;
    let uids = |b: &str| {
        let c: icalendar::Calendar = b.parse().unwrap();
        let mut v: Vec<String> = c
            .events()
            .map(|e| e.get_uid().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(uids(&body), uids(&again));
}

#[tokio::test]
async fn the_link_is_shown_once_and_can_be_remade_or_turned_off() {
    let s = Server::new();
    let user = s.sign_up("a@example.org").await;
    let (_, page) = post_link(&s, &user, "create").await;
    let old = token_in(&page);

    // Only its hash is kept: the page no longer shows it.
    let (_, _, page) = s.get("/schedule", Some(&user.cookie)).await;
    assert!(!page.contains(&old));
    assert!(page.contains("You have a calendar link"), "{page}");
    assert!(page.contains("Make a new link"));
    assert!(!page.contains("Make a calendar link"));

    // Rotation kills the old link.
    let (status, page) = post_link(&s, &user, "rotate").await;
    assert_eq!(status, StatusCode::OK);
    let new = token_in(&page);
    assert_ne!(old, new);
    assert_eq!(feed(&s, &old).await.0, StatusCode::NOT_FOUND);
    let (status, _, body) = feed(&s, &new).await;
    assert_eq!(status, StatusCode::OK);
    // No session yet: a valid, empty calendar.
    assert!(body.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(!body.contains("BEGIN:VEVENT"));

    // Turning it off kills the new one too.
    let (status, h, _) = s
        .post(
            "/schedule/calendar",
            Some(&user.cookie),
            &[("csrf", user.csrf.as_str()), ("action", "delete")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(header::LOCATION).unwrap(), "/schedule");
    assert_eq!(feed(&s, &new).await.0, StatusCode::NOT_FOUND);
    let (_, _, page) = s.get("/schedule", Some(&user.cookie)).await;
    assert!(page.contains("Make a calendar link"));
}

#[tokio::test]
async fn unknown_or_malformed_tokens_are_not_found() {
    let s = Server::new();
    let user = s.sign_up("a@example.org").await;
    let (_, page) = post_link(&s, &user, "create").await;
    let token = token_in(&page);
    let hash = token_hash(&token);
    for path in [
        format!("/calendar/{}.ics", "ab".repeat(32)),
        format!("/calendar/{}.ics", token.to_uppercase()),
        format!("/calendar/{token}"),
        format!("/calendar/{token}.ics.ics"),
        format!("/calendar/{}.ics", &token[..63]),
        // The stored hash is not a credential.
        format!("/calendar/{hash}.ics"),
        "/calendar/.ics".to_owned(),
    ] {
        let (status, h, body) = s.get(&path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("BEGIN:VCALENDAR"), "{path}");
        assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    }
    // Even with a login cookie, a wrong token shows nothing.
    let (status, _, _) = s
        .get(
            &format!("/calendar/{}.ics", "cd".repeat(32)),
            Some(&user.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_link_shows_only_its_own_profile() {
    let s = Server::new();
    let a = s.sign_up("a@example.org").await;
    let b = s.sign_up("b@example.org").await;
    let pa = profile_of(&s, "a@example.org");
    let pb = profile_of(&s, "b@example.org");
    log_session(&s, pa, "2026-11-20", "2026-11-20T19:30:00Z", 0.5);
    log_session(&s, pb, "2026-11-24", "2026-11-24T07:15:00Z", 0.25);
    let ta = token_in(&post_link(&s, &a, "create").await.1);
    let tb = token_in(&post_link(&s, &b, "create").await.1);
    assert_ne!(ta, tb);

    let (_, _, body_a) = feed(&s, &ta).await;
    let (_, _, body_b) = feed(&s, &tb).await;
    assert!(body_a.contains(&pa.to_string()) && !body_a.contains(&pb.to_string()));
    assert!(body_b.contains(&pb.to_string()) && !body_b.contains(&pa.to_string()));
    assert_eq!(dtstarts(&body_a, "next-session"), ["20261218"]);
    // 0.25 mm waits three days.
    assert_eq!(dtstarts(&body_b, "next-session"), ["20261127"]);
    assert!(
        !body_a.contains("20261124T071500Z") && !body_a.contains("DTSTART;VALUE=DATE:20261127")
    );
    assert!(
        !body_b.contains("20261121T193000Z") && !body_b.contains("DTSTART;VALUE=DATE:20261218")
    );

    // B remaking their link leaves A's working.
    let tb2 = token_in(&post_link(&s, &b, "rotate").await.1);
    assert_eq!(feed(&s, &tb).await.0, StatusCode::NOT_FOUND);
    assert_eq!(feed(&s, &tb2).await.0, StatusCode::OK);
    assert_eq!(feed(&s, &ta).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_link_uses_the_public_url() {
    let s = Server::with_config(Config {
        public_url: Some("https://nw.example.org/".into()),
        ..Config::default()
    });
    let user = s.sign_up("a@example.org").await;
    let (_, page) = post_link(&s, &user, "create").await;
    let token = token_in(&page);
    assert!(
        page.contains(&format!("https://nw.example.org/calendar/{token}.ics")),
        "{page}"
    );
    assert!(page.contains(&format!("webcal://nw.example.org/calendar/{token}.ics")));
}

/// Issue 17: without `public_url` the link is never built from the
/// request's Host header (anyone can send any): it stays relative.
#[tokio::test]
async fn the_link_never_trusts_the_host_header() {
    use axum::body::Body;
    use axum::http::Request;
    let s = Server::new();
    let user = s.sign_up("host@example.org").await;
    let req = Request::post("/schedule/calendar")
        .header(header::COOKIE, &user.cookie)
        .header(header::HOST, "evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}&action=create", user.csrf)))
        .unwrap();
    let (status, _, page) = s.send(req).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let token = token_in(&page);
    assert!(
        page.contains(&format!("value=\"/calendar/{token}.ics\"")),
        "{page}"
    );
    assert!(!page.contains("evil.example"), "{page}");
    assert!(!page.contains("webcal://"));
    assert!(page.contains("public_url"));
}
