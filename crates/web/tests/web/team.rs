//! Joining a clinic's team: a clinician invites an email address and sees
//! the same confirmation whatever the address; only the account with that
//! address may accept, once, before the invitation expires.

use axum::http::{StatusCode, header};
use needlewise_core::clinic::Role;

use super::clinic::{PASSWORD, accept_member_invite, clinic_signup, invite_member};
use super::{Server, User, cookie_pair, csrf_of};

/// The confirmation block of the members page, with the code masked.
fn confirmation(page: &str, code: &str) -> String {
    let i = page
        .find("<div class=\"notice\" role=\"status\" id=\"invited\">")
        .expect("a confirmation is shown");
    let j = page[i..].find("</div>").unwrap() + i;
    page[i..j].replace(code, "CODE")
}

#[tokio::test]
async fn inviting_looks_the_same_whether_or_not_the_address_has_an_account() {
    let s = Server::new();
    let dr = clinic_signup(&s, "ada@clinic.example", "Dr Ada", "Lee Clinic").await;
    s.sign_up("known@example.org").await;

    let (unknown_page, unknown_code) =
        invite_member(&s, &dr, "nobody@example.org", "No Body", "staff").await;
    let (known_page, known_code) =
        invite_member(&s, &dr, "Known@Example.org", "Kno Wn", "staff").await;
    assert_ne!(unknown_code, known_code);
    assert_eq!(
        confirmation(&unknown_page, &unknown_code),
        confirmation(&known_page, &known_code),
    );
    assert!(confirmation(&known_page, &known_code).contains(
        "If this address belongs to a needlewise account, or becomes one, its owner can accept"
    ));
    for page in [&unknown_page, &known_page] {
        assert!(!page.contains("no needlewise account"), "{page}");
        assert!(!page.contains("already on the team"), "{page}");
    }
    // Nobody joined yet.
    let known = s
        .store
        .account_by_email("known@example.org")
        .unwrap()
        .unwrap();
    assert!(s.store.memberships(known.id).unwrap().is_empty());

    // Each address gets its invitation by email, with its link.
    let emails = s.store.emails(10).unwrap();
    for (to, code) in [
        ("nobody@example.org", &unknown_code),
        ("known@example.org", &known_code),
    ] {
        let e = emails.iter().find(|e| e.to == to).expect("an email");
        assert!(
            e.body.contains(&format!("/clinic/join/{code}")),
            "{}",
            e.body
        );
        assert!(e.body.contains("Lee Clinic"), "{}", e.body);
    }

    // The members page lists both as invited, and shows no link again.
    let (status, _, page) = s.get("/clinic/members", Some(&dr.user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("nobody@example.org"), "{page}");
    assert!(page.contains("known@example.org"), "{page}");
    assert!(!page.contains(&unknown_code) && !page.contains(&known_code));

    // A bad address is bad input, and invites no one.
    let (status, _, page) = s
        .post(
            "/clinic/members",
            Some(&dr.user.cookie),
            &[
                ("csrf", &dr.user.csrf),
                ("email", "not an address"),
                ("display_name", "X"),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert_eq!(s.store.emails(10).unwrap().len(), emails.len());
}

#[tokio::test]
async fn only_the_invited_account_accepts_once_and_joins_with_the_role() {
    let s = Server::new();
    let dr = clinic_signup(&s, "ada@clinic.example", "Dr Ada", "Lee Clinic").await;
    s.sign_up("new.doc@example.org").await;
    let other = s.sign_up("other@example.org").await;
    let (_, code) = invite_member(&s, &dr, "new.doc@example.org", "Dr Newton", "clinician").await;
    let path = format!("/clinic/join/{code}");

    // Without a session: log in first, and come back.
    let (status, h, _) = s.get(&path, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let back: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
    assert_eq!(h[header::LOCATION], format!("/login?next={back}"));

    // Someone else logged in sees the same page as for an unknown code,
    // and cannot accept.
    let (status, _, wrong) = s.get(&path, Some(&other.cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!wrong.contains("Lee Clinic") && !wrong.contains("Dr Newton"));
    let (status, _, unknown) = s
        .get(
            &format!("/clinic/join/{}", "ab".repeat(32)),
            Some(&other.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(wrong, unknown);
    let (status, _) = accept_member_invite(&s, &other, &code).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other_account = s
        .store
        .account_by_email("other@example.org")
        .unwrap()
        .unwrap();
    assert!(s.store.memberships(other_account.id).unwrap().is_empty());

    // The invited person logs in, comes back to the link, sees the
    // clinic, role and name, and accepts.
    let (status, h, _) = s
        .post(
            "/login",
            None,
            &[
                ("email", "new.doc@example.org"),
                ("password", PASSWORD),
                ("next", &path),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], path.as_str());
    let cookie = cookie_pair(&h);
    let (status, _, page) = s.get(&path, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Lee Clinic") && page.contains("Dr Newton"));
    assert!(page.contains("Clinician"), "{page}");
    let invitee = User {
        cookie,
        csrf: csrf_of(&page),
    };
    // Not without the form's token.
    let (status, _, _) = s
        .post(&path, Some(&invitee.cookie), &[("csrf", "forged")])
        .await;
    assert_ne!(status, StatusCode::SEE_OTHER);
    let (status, location) = accept_member_invite(&s, &invitee, &code).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(location, format!("/clinic?clinic={}", dr.clinic));
    let account = s
        .store
        .account_by_email("new.doc@example.org")
        .unwrap()
        .unwrap();
    let ms = s.store.memberships(account.id).unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].0.id.to_string(), dr.clinic);
    assert_eq!(ms[0].1.role, Role::Clinician);
    assert_eq!(ms[0].1.display_name, "Dr Newton");
    // The clinic's pages then ask for a second factor.
    let (status, h, _) = s.get(&location, Some(&invitee.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(h[header::LOCATION].to_str().unwrap().starts_with("/mfa"));

    // Once only.
    let (status, _) = accept_member_invite(&s, &invitee, &code).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, again) = s.get(&path, Some(&invitee.cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(again.contains("cannot be used"));
    assert_eq!(s.store.memberships(account.id).unwrap().len(), 1);

    // The team shows them, and the invitation is no longer open.
    let (_, _, page) = s.get("/clinic/members", Some(&dr.user.cookie)).await;
    assert!(page.contains("Dr Newton"), "{page}");
    assert!(!page.contains("new.doc@example.org"), "{page}");
}

#[tokio::test]
async fn an_expired_team_invitation_cannot_be_accepted() {
    let s = Server::new();
    let dr = clinic_signup(&s, "ada@clinic.example", "Dr Ada", "Lee Clinic").await;
    let (_, code) = invite_member(&s, &dr, "late@example.org", "Lately", "staff").await;
    s.advance_minutes(7 * 24 * 60 + 1);
    let late = s.sign_up("late@example.org").await;
    let (status, _, page) = s
        .get(&format!("/clinic/join/{code}"), Some(&late.cookie))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("Lee Clinic"), "{page}");
    let (status, _) = accept_member_invite(&s, &late, &code).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let account = s
        .store
        .account_by_email("late@example.org")
        .unwrap()
        .unwrap();
    assert!(s.store.memberships(account.id).unwrap().is_empty());
}
