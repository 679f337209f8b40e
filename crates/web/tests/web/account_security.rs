//! The second factor, re-authentication, the session list and the
//! notifications page, through the router.

use axum::http::{StatusCode, header};
use jiff::Timestamp;
use needlewise_core::ids::NotificationId;
use needlewise_store::clinic::Notification;
use needlewise_web::Config;
use needlewise_web::auth::token_hash;
use needlewise_web::pages::account_security::REPLACED;
use needlewise_web::totp;
use uuid::Uuid;

use super::notify::{account_of, now_of};
use super::{Server, User, cookie_pair, csrf_of};

const PASSWORD: &str = "correct horse battery";

fn hash_of(u: &User) -> String {
    token_hash(u.cookie.split_once('=').unwrap().1)
}

fn location(h: &axum::http::HeaderMap) -> String {
    h.get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Logs in again: a second session of the same account.
async fn log_in(s: &Server, email: &str) -> User {
    let (status, h, _) = s
        .post("/login", None, &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie_pair(&h);
    let (_, _, page) = s.get("/profiles", Some(&cookie)).await;
    User {
        cookie,
        csrf: csrf_of(&page),
    }
}

/// The secret shown on the enrolment page.
fn shown_secret(page: &str) -> Vec<u8> {
    let i = page
        .find("<code id=\"secret\">")
        .expect("the secret is shown")
        + 18;
    let j = page[i..].find("</code>").unwrap() + i;
    totp::decode_base32(&page[i..j]).unwrap()
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 500_000) % 1_000_000)
}

/// Enrols the user's account (right after log-in, so no password again).
async fn enrol(s: &Server, u: &User) -> Vec<u8> {
    let (status, _, page) = s.get("/mfa", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let secret = shown_secret(&page);
    let code = totp::code_at(&secret, now_of(s));
    let (status, h, page) = s
        .post(
            "/mfa",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("code", &code), ("next", "/mfa")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location(&h), "/mfa");
    secret
}

fn verified_at(s: &Server, u: &User) -> Option<Timestamp> {
    s.store
        .web_session(&hash_of(u), now_of(s))
        .unwrap()
        .unwrap()
        .verified_at
}

#[tokio::test]
async fn a_confirmed_code_turns_the_second_factor_on_and_is_accepted_once() {
    let s = Server::new();
    let u = s.sign_up("mfa@example.org").await;
    let account = account_of(s.store.as_ref(), "mfa@example.org");

    let (status, _, page) = s.get("/mfa", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("otpauth://totp/needlewise:mfa%40example.org?secret="),
        "{page}"
    );
    let secret = shown_secret(&page);
    assert_eq!(secret.len(), 20);
    let pending = s.store.totp(account).unwrap().unwrap();
    assert_eq!(pending.secret, secret);
    assert_eq!(pending.enabled_at, None);
    // Coming back shows the same key.
    let (_, _, again) = s.get("/mfa", Some(&u.cookie)).await;
    assert_eq!(shown_secret(&again), secret);

    let code = totp::code_at(&secret, now_of(&s));
    let (status, _, page) = s
        .post(
            "/mfa",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("code", &wrong(&code)), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("that code is not right"), "{page}");
    assert_eq!(s.store.totp(account).unwrap().unwrap().enabled_at, None);
    assert_eq!(verified_at(&s, &u), None);

    let (status, h, _) = s
        .post(
            "/mfa",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("code", &code),
                ("next", "/account/sessions"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/account/sessions");
    let on = s.store.totp(account).unwrap().unwrap();
    assert_eq!(on.enabled_at, Some(now_of(&s)));
    assert_eq!(verified_at(&s, &u), Some(now_of(&s)));

    // Another browser: asked for a code, the key is not shown again.
    let b = log_in(&s, "mfa@example.org").await;
    let (status, _, page) = s.get("/mfa", Some(&b.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("id=\"secret\"") && !page.contains(&totp::base32(&secret)));
    assert!(page.contains("name=\"code\""));
    // The code already used is refused: a replay.
    let (status, _, page) = s
        .post(
            "/mfa",
            Some(&b.cookie),
            &[("csrf", &b.csrf), ("code", &code), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("used already"), "{page}");
    assert_eq!(verified_at(&s, &b), None);
    // The next one works; an address off the site is never followed.
    s.advance_minutes(1);
    let code = totp::code_at(&secret, now_of(&s));
    let (status, h, _) = s
        .post(
            "/mfa",
            Some(&b.cookie),
            &[
                ("csrf", &b.csrf),
                ("code", &code),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/");
    assert_eq!(verified_at(&s, &b), Some(now_of(&s)));
    // Without the CSRF token: refused.
    s.advance_minutes(1);
    let code = totp::code_at(&secret, now_of(&s));
    let (status, _, _) = s
        .post("/mfa", Some(&b.cookie), &[("code", &code), ("next", "/")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Someone who knows only the password logs in while the owner is
/// enrolling: they never see the owner's pending key, and the key they are
/// shown instead is theirs alone; a key replaced this way no longer turns
/// the second factor on.
#[tokio::test]
async fn a_pending_key_is_shown_and_confirmed_only_in_the_session_that_made_it() {
    let s = Server::new();
    let a = s.sign_up("bound@example.org").await;
    let account = account_of(s.store.as_ref(), "bound@example.org");
    let (status, _, page) = s.get("/mfa", Some(&a.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let secret_a = shown_secret(&page);
    assert!(!page.contains(REPLACED), "nothing was replaced: {page}");
    let pending = s.store.totp(account).unwrap().unwrap();
    assert_eq!(pending.secret, secret_a);
    assert_eq!(pending.pending_session, Some(hash_of(&a)));

    // Another browser, logged in with the password: a key of its own.
    let b = log_in(&s, "bound@example.org").await;
    let (status, _, page) = s.get("/mfa", Some(&b.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains(&totp::base32(&secret_a)), "{page}");
    let secret_b = shown_secret(&page);
    assert_ne!(secret_b, secret_a);
    let pending = s.store.totp(account).unwrap().unwrap();
    assert_eq!(pending.secret, secret_b);
    assert_eq!(pending.pending_session, Some(hash_of(&b)));
    assert_eq!(pending.enabled_at, None);
    // B is told a key from elsewhere was replaced; B's own reload is not.
    assert!(page.contains(REPLACED), "{page}");
    let (_, _, again) = s.get("/mfa", Some(&b.cookie)).await;
    assert_eq!(shown_secret(&again), secret_b);
    assert!(!again.contains(REPLACED), "{again}");
    // Its wrong code shows its own key again, never A's.
    let code_b = totp::code_at(&secret_b, now_of(&s));
    let (status, _, page) = s
        .post(
            "/mfa",
            Some(&b.cookie),
            &[("csrf", &b.csrf), ("code", &wrong(&code_b)), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(shown_secret(&page), secret_b);
    assert!(!page.contains(&totp::base32(&secret_a)), "{page}");

    // In A's browser: the code of the key A was shown no longer turns it
    // on, nor does B's key, and a wrong code does not show B's key.
    let code_a = totp::code_at(&secret_a, now_of(&s));
    for code in [code_a.clone(), code_b.clone(), wrong(&code_a)] {
        let (status, h, page) = s
            .post(
                "/mfa",
                Some(&a.cookie),
                &[("csrf", &a.csrf), ("code", &code), ("next", "/")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location(&h), "/mfa?next=%2F");
        assert!(!page.contains(&totp::base32(&secret_b)), "{page}");
        let now = s.store.totp(account).unwrap().unwrap();
        assert_eq!((now.enabled_at, now.secret), (None, secret_b.clone()));
        assert_eq!(verified_at(&s, &a), None);
    }

    // A starts over with a new key, bound to A; B's key is then dead.
    let (status, _, page) = s.get("/mfa", Some(&a.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let secret_a2 = shown_secret(&page);
    assert!(secret_a2 != secret_a && secret_a2 != secret_b);
    // A learns that setting up was started elsewhere meanwhile.
    assert!(page.contains(REPLACED), "{page}");
    assert!(!page.contains(&totp::base32(&secret_b)), "{page}");
    let (status, h, _) = s
        .post(
            "/mfa",
            Some(&b.cookie),
            &[("csrf", &b.csrf), ("code", &code_b), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/mfa?next=%2F");
    assert_eq!(s.store.totp(account).unwrap().unwrap().enabled_at, None);
    assert_eq!(verified_at(&s, &b), None);

    // A's code for A's own key turns the second factor on.
    let code = totp::code_at(&secret_a2, now_of(&s));
    let (status, h, _) = s
        .post(
            "/mfa",
            Some(&a.cookie),
            &[
                ("csrf", &a.csrf),
                ("code", &code),
                ("next", "/account/sessions"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/account/sessions");
    let on = s.store.totp(account).unwrap().unwrap();
    assert_eq!(on.secret, secret_a2);
    assert_eq!(on.enabled_at, Some(now_of(&s)));
    assert_eq!(on.pending_session, None);
    assert_eq!(verified_at(&s, &a), Some(now_of(&s)));
    // B is now asked for a code, and shown no key.
    let (status, _, page) = s.get("/mfa", Some(&b.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("id=\"secret\""), "{page}");
    assert!(page.contains("name=\"code\""), "{page}");
    assert_eq!(s.store.totp(account).unwrap().unwrap(), on);
}

#[tokio::test]
async fn enrolling_long_after_log_in_asks_for_the_password_again() {
    let s = Server::new();
    let u = s.sign_up("late@example.org").await;
    s.advance_minutes(11);
    let (status, h, _) = s.get("/mfa", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/reauth?next=%2Fmfa");
    let account = account_of(s.store.as_ref(), "late@example.org");
    assert!(
        s.store.totp(account).unwrap().is_none(),
        "no key is made before"
    );

    let (status, _, page) = s.get("/reauth?next=%2Fmfa", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"next\" value=\"/mfa\""), "{page}");
    let (status, _, page) = s
        .post(
            "/reauth",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("password", "not my password"),
                ("next", "/mfa"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("that password is not right"), "{page}");
    assert_eq!(verified_at(&s, &u), None);

    let (status, h, _) = s
        .post(
            "/reauth",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("password", PASSWORD), ("next", "/mfa")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/mfa");
    assert_eq!(verified_at(&s, &u), Some(now_of(&s)));
    let (status, _, page) = s.get("/mfa", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown_secret(&page).len(), 20);

    // A protocol-relative or absolute next is not followed.
    for bad in [
        "//evil.example/x",
        "https://evil.example",
        "/\\evil.example",
    ] {
        let (status, h, _) = s
            .post(
                "/reauth",
                Some(&u.cookie),
                &[("csrf", &u.csrf), ("password", PASSWORD), ("next", bad)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location(&h), "/", "{bad}");
    }
}

#[tokio::test]
async fn passwords_and_codes_typed_again_are_rate_limited() {
    let s = Server::with_config(Config {
        login_attempts_per_minute: 3,
        ..Config::default()
    });
    let u = s.sign_up("slow@example.org").await;
    for _ in 0..3 {
        let (status, _, _) = s
            .post(
                "/reauth",
                Some(&u.cookie),
                &[
                    ("csrf", &u.csrf),
                    ("password", "guess guess"),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, _, page) = s
        .post(
            "/reauth",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("password", PASSWORD), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("too many attempts"), "{page}");
    assert_eq!(verified_at(&s, &u), None);
    s.advance_minutes(1);
    let (status, _, _) = s
        .post(
            "/reauth",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("password", PASSWORD), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a new minute, a new count");

    // Codes too (enrolling took one code: start a new minute).
    let secret = enrol(&s, &u).await;
    s.advance_minutes(1);
    let b = log_in(&s, "slow@example.org").await;
    for _ in 0..3 {
        let code = totp::code_at(&secret, now_of(&s));
        let (status, _, _) = s
            .post(
                "/mfa",
                Some(&b.cookie),
                &[("csrf", &b.csrf), ("code", &wrong(&code)), ("next", "/")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let code = totp::code_at(&secret, now_of(&s));
    let (status, _, _) = s
        .post(
            "/mfa",
            Some(&b.cookie),
            &[("csrf", &b.csrf), ("code", &code), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn turning_the_second_factor_off_needs_a_recent_confirmation() {
    let s = Server::new();
    let u = s.sign_up("off@example.org").await;
    let account = account_of(s.store.as_ref(), "off@example.org");
    let secret = enrol(&s, &u).await;
    s.advance_minutes(11);
    let (status, h, _) = s
        .post("/mfa/disable", Some(&u.cookie), &[("csrf", &u.csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/reauth?next=%2Fmfa");
    assert!(s.store.totp(account).unwrap().unwrap().enabled_at.is_some());

    let code = totp::code_at(&secret, now_of(&s));
    let (status, _, _) = s
        .post(
            "/mfa",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("code", &code), ("next", "/mfa")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, h, _) = s
        .post("/mfa/disable", Some(&u.cookie), &[("csrf", &u.csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/mfa");
    assert!(s.store.totp(account).unwrap().is_none());
}

#[tokio::test]
async fn the_session_list_shows_every_session_and_ends_them() {
    let s = Server::new();
    let one = s.sign_up("many@example.org").await;
    let two = log_in(&s, "many@example.org").await;
    let three = log_in(&s, "many@example.org").await;
    let other = s.sign_up("someone@example.org").await;
    let handle = |u: &User| {
        s.store
            .web_session(&hash_of(u), now_of(&s))
            .unwrap()
            .unwrap()
            .handle()
    };
    let (h_two, h_three, h_other) = (handle(&two), handle(&three), handle(&other));

    let (status, _, page) = s.get("/account/sessions", Some(&one.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("name=\"session\"").count(), 3, "{page}");
    assert_eq!(page.matches("this browser").count(), 1);
    assert!(page.contains(&h_two) && page.contains(&h_three));
    assert!(!page.contains(&h_other), "only this account's sessions");
    assert!(!page.contains(&hash_of(&two)), "never the token's hash");
    assert!(page.contains("End all other sessions (2)"));

    // Ending another session needs the password again.
    s.advance_minutes(11);
    let (status, h, _) = s
        .post(
            "/account/sessions/end",
            Some(&one.cookie),
            &[("csrf", &one.csrf), ("session", &h_two)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/reauth?next=%2Faccount%2Fsessions");
    assert_eq!(s.get("/", Some(&two.cookie)).await.0, StatusCode::OK);

    let (status, h, _) = s
        .post(
            "/reauth",
            Some(&one.cookie),
            &[
                ("csrf", &one.csrf),
                ("password", PASSWORD),
                ("next", "/account/sessions"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/account/sessions");
    let (status, h, _) = s
        .post(
            "/account/sessions/end",
            Some(&one.cookie),
            &[("csrf", &one.csrf), ("session", &h_two)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/account/sessions");
    let (status, h, _) = s.get("/", Some(&two.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the ended session is gone");
    assert_eq!(location(&h), "/login");
    assert_eq!(s.get("/", Some(&three.cookie)).await.0, StatusCode::OK);

    // Someone else's session cannot be ended from here.
    let (status, _, _) = s
        .post(
            "/account/sessions/end",
            Some(&one.cookie),
            &[("csrf", &one.csrf), ("session", &h_other)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/", Some(&other.cookie)).await.0, StatusCode::OK);

    // End all the others.
    let (status, _, _) = s
        .post(
            "/account/sessions/end-others",
            Some(&one.cookie),
            &[("csrf", &one.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        s.get("/", Some(&three.cookie)).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, _, page) = s.get("/account/sessions", Some(&one.cookie)).await;
    assert_eq!(page.matches("name=\"session\"").count(), 1);
    assert!(page.contains("No other sessions"), "{page}");

    // Ending this one logs out.
    let mine = handle(&one);
    let (status, h, _) = s
        .post(
            "/account/sessions/end",
            Some(&one.cookie),
            &[("csrf", &one.csrf), ("session", &mine)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/login");
    assert!(
        h.get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(s.get("/", Some(&one.cookie)).await.0, StatusCode::SEE_OTHER);
    // Without a login, the page is not there.
    let (status, h, _) = s.get("/account/sessions", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/login");
}

#[tokio::test]
async fn notifications_are_listed_newest_first_and_marked_read() {
    let s = Server::new();
    let u = s.sign_up("notes@example.org").await;
    let intruder = s.sign_up("intruder@example.org").await;
    let account = account_of(s.store.as_ref(), "notes@example.org");

    let (status, _, page) = s.get("/notifications", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No notifications yet"), "{page}");

    let t = now_of(&s);
    let note = |title: &str, at: Timestamp| Notification {
        id: NotificationId(Uuid::now_v7()),
        account_id: account,
        clinic_id: None,
        profile_id: None,
        kind: "red_flag".into(),
        title: title.into(),
        body: format!("{title}, in words"),
        link: "/clinic/red-flags".into(),
        created_at: at,
        read_at: None,
    };
    let older = note("Older news", t - jiff::SignedDuration::from_hours(2));
    let newer = note("Newer news", t);
    s.store
        .add_notifications(&[older.clone(), newer.clone()])
        .unwrap();

    let (_, _, page) = s.get("/notifications", Some(&u.cookie)).await;
    let (i_new, i_old) = (
        page.find("Newer news").unwrap(),
        page.find("Older news").unwrap(),
    );
    assert!(i_new < i_old, "newest first");
    assert!(page.contains("2 unread"), "{page}");
    let (_, _, theirs) = s.get("/notifications", Some(&intruder.cookie)).await;
    assert!(!theirs.contains("Newer news"));

    let path = format!("/notifications/{}/read", older.id);
    let (status, _, _) = s
        .post(&path, Some(&intruder.cookie), &[("csrf", &intruder.csrf)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not theirs to mark");
    let (status, _, _) = s.post(&path, Some(&u.cookie), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(s.store.unread_notifications(account).unwrap(), 2);
    let (status, h, _) = s.post(&path, Some(&u.cookie), &[("csrf", &u.csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/notifications");
    assert_eq!(s.store.unread_notifications(account).unwrap(), 1);
    let (_, _, page) = s.get("/notifications", Some(&u.cookie)).await;
    assert!(page.contains("1 unread"), "{page}");

    let (status, _, _) = s
        .post(
            "/notifications/read-all",
            Some(&u.cookie),
            &[("csrf", &u.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(s.store.unread_notifications(account).unwrap(), 0);
    let (_, _, page) = s.get("/notifications", Some(&u.cookie)).await;
    assert!(page.contains("All read."), "{page}");
}

/// Signs a clinic up over the web and returns the founder's browser (with
/// a profile, so `csrf` comes from the profiles page).
async fn clinic_founder(s: &Server, email: &str) -> User {
    let (status, h, page) = s
        .post(
            "/clinic/signup",
            None,
            &[
                ("email", email),
                ("password", PASSWORD),
                ("your_name", "Dr Founder"),
                ("clinic_name", "Founders' Clinic"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(h.get(header::SET_COOKIE).is_none());
    let cookie = super::clinic::clinic_log_in(s, email).await;
    let (_, _, page) = s.get("/profiles", Some(&cookie)).await;
    User {
        cookie,
        csrf: csrf_of(&page),
    }
}

#[tokio::test]
async fn a_password_alone_never_opens_clinic_pages() {
    let s = Server::new();
    let founder = clinic_founder(&s, "dr@clinic.example").await;
    // Without a second factor, the password confirmation is not enough.
    let (status, _, _) = s
        .post(
            "/reauth",
            Some(&founder.cookie),
            &[
                ("csrf", &founder.csrf),
                ("password", PASSWORD),
                ("next", "/clinic"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, h, _) = s.get("/clinic", Some(&founder.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "no TOTP yet: enrol first");
    assert!(location(&h).starts_with("/mfa"), "{}", location(&h));

    // With TOTP on, the enrolled session gets in.
    enrol(&s, &founder).await;
    let (status, _, _) = s.get("/clinic", Some(&founder.cookie)).await;
    assert_eq!(status, StatusCode::OK);

    // Someone with the password only: a new session, the password again.
    s.advance_minutes(2);
    let thief = log_in(&s, "dr@clinic.example").await;
    let (status, h, _) = s.get("/clinic", Some(&thief.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&h).starts_with("/mfa"));
    let (status, h, _) = s
        .post(
            "/reauth",
            Some(&thief.cookie),
            &[
                ("csrf", &thief.csrf),
                ("password", PASSWORD),
                ("next", "/clinic"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&h).starts_with("/mfa"), "{}", location(&h));
    let (status, h, _) = s.get("/clinic", Some(&thief.cookie)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the password alone opened the clinic"
    );
    assert!(location(&h).starts_with("/mfa"));
    // Nor can it turn the second factor off; a clinic member cannot at all.
    s.post(
        "/mfa/disable",
        Some(&thief.cookie),
        &[("csrf", &thief.csrf)],
    )
    .await;
    let (status, _, _) = s
        .post(
            "/mfa/disable",
            Some(&founder.cookie),
            &[("csrf", &founder.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let account = s
        .store
        .account_by_email("dr@clinic.example")
        .unwrap()
        .unwrap()
        .id;
    assert!(s.store.totp(account).unwrap().unwrap().enabled_at.is_some());
}

#[tokio::test]
async fn second_factor_codes_have_a_quarter_hour_cap_too() {
    let s = Server::new();
    let u = s.sign_up("cap@example.org").await;
    let secret = enrol(&s, &u).await;
    s.advance_minutes(1);
    let b = log_in(&s, "cap@example.org").await;
    // Enrolling typed one code in this quarter hour; nine wrong ones more,
    // spread over minutes so the per-minute limit never bites, reach the
    // cap; then even the right one is refused until the window turns.
    let mut typed = 1;
    while typed < needlewise_web::auth::CODES_PER_WINDOW {
        let code = totp::code_at(&secret, now_of(&s));
        let (status, _, _) = s
            .post(
                "/mfa",
                Some(&b.cookie),
                &[("csrf", &b.csrf), ("code", &wrong(&code)), ("next", "/")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        typed += 1;
        if typed % 5 == 0 {
            s.advance_minutes(1);
        }
    }
    let window_end = {
        let t = now_of(&s).as_second();
        let span = needlewise_web::auth::CODE_WINDOW.as_secs();
        span - t.rem_euclid(span)
    };
    let code = totp::code_at(&secret, now_of(&s));
    let (status, _, _) = s
        .post(
            "/mfa",
            Some(&b.cookie),
            &[("csrf", &b.csrf), ("code", &code), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(verified_at(&s, &b), None);
    // The next quarter of an hour counts afresh.
    s.advance_minutes(window_end / 60 + 1);
    let code = totp::code_at(&secret, now_of(&s));
    let (status, _, _) = s
        .post(
            "/mfa",
            Some(&b.cookie),
            &[("csrf", &b.csrf), ("code", &code), ("next", "/")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(verified_at(&s, &b).is_some());
}
