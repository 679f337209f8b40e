//! The clinic side end to end: a clinic signs up (second factor required),
//! invites a patient, the patient joins with chosen scopes, the clinician
//! reads the list and the record, consent revoked hides data on the very
//! next request, staff see names only, prescribing checks its fields, and
//! the patient sees the protocol and the audit log.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::Timestamp;
use needlewise_core::evidence;
use needlewise_core::ids::{CheckinId, EpisodeId, PhotoId, ProfileId, SessionId};
use needlewise_core::records::{CheckinRecord, Episode, Profile, SessionRecord, ZoneRecord};
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_web::auth::token_hash;
use needlewise_web::security::CSP_FILES;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Server, User, cookie_pair, csrf_of, refs, screening_form};

pub(super) const PASSWORD: &str = "correct horse battery";

pub(super) fn now(s: &Server) -> Timestamp {
    Timestamp::from_second(s.clock.load(std::sync::atomic::Ordering::SeqCst)).unwrap()
}

/// Gives the user's account an enabled TOTP factor (unless it has one)
/// and marks the session as having passed it now, as `/mfa` does.
pub(super) fn verify(s: &Server, u: &User) {
    super::blocking(|| verify_now(s, u))
}

fn verify_now(s: &Server, u: &User) {
    let token = u.cookie.split_once('=').unwrap().1;
    let hash = token_hash(token);
    let account = s
        .store
        .web_session(&hash, now(s))
        .unwrap()
        .unwrap()
        .account_id;
    if s.store.totp(account).unwrap().is_none() {
        s.store
            .set_totp(
                account,
                Some(&needlewise_store::clinic::TotpSecret {
                    account_id: account,
                    secret: vec![7; 20],
                    enabled_at: Some(now(s)),
                    last_step: 0,
                    pending_session: None,
                }),
            )
            .unwrap();
    }
    s.store.mark_web_session_verified(&hash, now(s)).unwrap();
}

/// A clinic member's browser.
pub(super) struct Member {
    pub user: User,
    pub clinic: String,
}

/// Where `/clinic/signup` sends an anonymous browser, whether the email was
/// new or not: log in, then the second factor.
pub(super) const AFTER_CLINIC_SIGNUP: &str =
    "/login?signed_up=clinic&next=%2Fmfa%3Fnext%3D%252Fclinic";

/// Logs in as the log-in page after a clinic's sign-up does (its `next`
/// is the second factor's page) and returns the session cookie.
pub(super) async fn clinic_log_in(s: &Server, email: &str) -> String {
    let (_, _, page) = s.get(AFTER_CLINIC_SIGNUP, None).await;
    assert!(
        page.contains(r#"name="next" value="/mfa?next=%2Fclinic""#),
        "{page}"
    );
    let (status, h, page) = s
        .post(
            "/login",
            None,
            &[
                ("email", email),
                ("password", PASSWORD),
                ("next", "/mfa?next=%2Fclinic"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(h[header::LOCATION], "/mfa?next=%2Fclinic");
    cookie_pair(&h)
}

/// Signs a clinic up; the founder logs in and is sent to `/mfa` first, and
/// clinic pages refuse them until the second factor is passed.
pub(super) async fn clinic_signup(s: &Server, email: &str, name: &str, clinic: &str) -> Member {
    let (status, h, page) = s
        .post(
            "/clinic/signup",
            None,
            &[
                ("email", email),
                ("password", PASSWORD),
                ("your_name", name),
                ("clinic_name", clinic),
                ("time_zone", "Europe/London"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(h[header::LOCATION], AFTER_CLINIC_SIGNUP);
    assert!(
        h.get(header::SET_COOKIE).is_none(),
        "signing up logs nobody in"
    );
    let cookie = clinic_log_in(s, email).await;
    let (status, h, _) = s.get("/clinic", Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "no second factor yet");
    assert_eq!(h[header::LOCATION], "/mfa?next=%2Fclinic");
    let clinic = super::blocking(|| {
        let account = s.store.account_by_email(email).unwrap().unwrap();
        s.store.memberships(account.id).unwrap()[0].0.id.to_string()
    });
    let mut user = User {
        cookie,
        csrf: String::new(),
    };
    verify(s, &user);
    let (status, _, page) = s.get("/clinic", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    user.csrf = csrf_of(&page);
    Member { user, clinic }
}

/// Invites `email` to the clinic's team as a clinician of it; returns the
/// confirmation page and the invitation code shown on it.
pub(super) async fn invite_member(
    s: &Server,
    by: &Member,
    email: &str,
    name: &str,
    role: &str,
) -> (String, String) {
    let (status, _, page) = s
        .post(
            "/clinic/members",
            Some(&by.user.cookie),
            &[
                ("csrf", &by.user.csrf),
                ("email", email),
                ("display_name", name),
                ("role", role),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let i = page
        .find("/clinic/join/")
        .expect("the invitation link is shown")
        + "/clinic/join/".len();
    let code = page[i..i + 64].to_owned();
    (page, code)
}

/// Accepts a team invitation as `user`; returns the status and location.
pub(super) async fn accept_member_invite(
    s: &Server,
    user: &User,
    code: &str,
) -> (StatusCode, String) {
    let (status, h, page) = s
        .post(
            &format!("/clinic/join/{code}"),
            Some(&user.cookie),
            &[("csrf", &user.csrf)],
        )
        .await;
    let location = h
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or(page);
    (status, location)
}

/// Signs up an account, invites it to the clinic with this role and
/// accepts the invitation as it.
pub(super) async fn add_member(
    s: &Server,
    by: &Member,
    email: &str,
    name: &str,
    role: &str,
) -> Member {
    let user = s.sign_up(email).await;
    let (_, code) = invite_member(s, by, email, name, role).await;
    let (status, location) = accept_member_invite(s, &user, &code).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(location, format!("/clinic?clinic={}", by.clinic));
    verify(s, &user);
    Member {
        user,
        clinic: by.clinic.clone(),
    }
}

/// Makes an invite and returns its code.
pub(super) async fn invite(s: &Server, m: &Member) -> String {
    let (status, _, page) = s
        .post(
            "/clinic/invites",
            Some(&m.user.cookie),
            &[
                ("csrf", &m.user.csrf),
                ("label", "new patient"),
                ("days", "7"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let i = page.find("/join/").expect("the invite link is shown") + 6;
    page[i..i + 64].to_owned()
}

/// A patient with a profile of this name, working in it.
pub(super) async fn patient(s: &Server, email: &str, name: &str) -> (User, ProfileId) {
    let user = s.sign_up(email).await;
    let account = super::blocking(|| s.store.account_by_email(email).unwrap().unwrap());
    let profile = Profile {
        id: ProfileId(Uuid::now_v7()),
        account_id: account.id,
        name: name.to_owned(),
        created_at: now(s),
        time_zone: None,
    };
    let token = user.cookie.split_once('=').unwrap().1;
    super::blocking(|| {
        s.store.create_profile(&profile).unwrap();
        s.store
            .set_web_session_profile(&token_hash(token), profile.id)
            .unwrap();
    });
    (user, profile.id)
}

pub(super) async fn join(s: &Server, u: &User, code: &str, scopes: &[&str]) -> StatusCode {
    let mut form = vec![("csrf", u.csrf.as_str())];
    form.extend(scopes.iter().map(|sc| ("scope", *sc)));
    s.post(&format!("/join/{code}"), Some(&u.cookie), &form)
        .await
        .0
}

/// A screening (by the form), a session and a check-in that raised a red
/// flag, straight into the patient's own record.
pub(super) async fn seed(s: &Server, u: &User, profile: ProfileId) -> EpisodeId {
    let form = screening_form(&u.csrf);
    let (status, _, _) = s.post("/screening", Some(&u.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let t = now(s);
    let session = SessionRecord {
        id: SessionId(Uuid::now_v7()),
        profile_id: profile,
        device_id: None,
        started_at: t - jiff::SignedDuration::from_hours(30),
        ended_at: t - jiff::SignedDuration::from_hours(29),
        local_date: jiff::civil::date(2026, 11, 24),
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
    super::blocking(|| s.store.log_session(&session, None).unwrap());
    red_flag(s, profile, Some(session.id))
}

/// A check-in that raised a red flag an hour ago.
pub(super) fn red_flag(s: &Server, profile: ProfileId, session: Option<SessionId>) -> EpisodeId {
    let t = now(s);
    let answers = needlewise_core::answers::Answers::from_json(
        &evidence().checkin,
        &json!({"redness": "moderate", "redness_trend": "worse", "swelling": true, "fever": true}),
        jiff::civil::date(2026, 11, 25),
    )
    .unwrap();
    let checkin = CheckinRecord {
        id: CheckinId(Uuid::now_v7()),
        profile_id: profile,
        session_id: session,
        at: t - jiff::SignedDuration::from_hours(1),
        answers,
        level: TriageLevel::ContactSurgeon,
        rule_ids: vec!["checkin.fever".into()],
    };
    let episode = Episode {
        id: EpisodeId(Uuid::now_v7()),
        profile_id: profile,
        checkin_id: checkin.id,
        level: TriageLevel::ContactSurgeon,
        opened_at: checkin.at,
        resolved_at: None,
        resolution: String::new(),
        resolver: None,
    };
    super::blocking(|| s.store.save_checkin(&checkin, Some(&episode)).unwrap());
    episode.id
}

pub(super) fn jpeg(shade: u8) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 4, shade]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// Uploads a progress photo as the patient; returns its id.
pub(super) async fn upload_photo(s: &Server, u: &User, profile: ProfileId, shade: u8) -> PhotoId {
    let boundary = "nwCLINICx9";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n",
        u.csrf
    )
    .into_bytes();
    body.extend_from_slice(&jpeg(shade));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::post("/progress/photos")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, &u.cookie)
        .body(Body::from(body))
        .unwrap();
    let (status, _, page) = s.send(req).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    s.store.photos(profile).unwrap().last().unwrap().id
}

async fn get_raw(s: &Server, path: &str, u: &User) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = Request::get(path)
        .header(header::COOKIE, &u.cookie)
        .body(Body::empty())
        .unwrap();
    let res = s.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

pub(super) async fn api(
    s: &Server,
    method: &str,
    path: &str,
    u: Option<&User>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(u) = u {
        req = req
            .header(header::COOKIE, &u.cookie)
            .header("x-csrf-token", &u.csrf);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let (status, _, text) = s.send(req).await;
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

/// The text of a PDF, by `pdftotext` (poppler-utils), as the report
/// crate's tests read it.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn protocol_form<'a>(csrf: &'a str, needle: &'a str, interval: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("needle_length_mm", needle),
        ("zones", "forehead"),
        ("zones", "chin"),
        ("interval_days", interval),
        ("course_sessions", "6"),
        ("target_density_per_cm2", "250"),
        ("note", "Gentle passes on the chin."),
    ]
}

#[tokio::test]
async fn a_clinic_cares_for_a_consenting_patient_from_invite_to_protocol() {
    let s = Server::new();
    let dr = clinic_signup(&s, "ada@clinic.example", "Dr Ada Lee", "Lee Facial Surgery").await;
    let code = invite(&s, &dr).await;

    // The patient sees the clinic and the five scopes, check-ins ticked only.
    let (pat, profile) = patient(&s, "zelda@example.org", "Zelda Quartz").await;
    let (status, _, page) = s.get(&format!("/join/{code}"), Some(&pat.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Join Lee Facial Surgery"), "{page}");
    assert!(page.contains("value=\"checkins\" checked"));
    for other in [
        "screening",
        "sessions",
        "photos_clinical",
        "photos_teaching",
    ] {
        assert!(
            page.contains(&format!("value=\"{other}\">")),
            "{other} is not ticked"
        );
    }
    assert_eq!(
        join(
            &s,
            &pat,
            &code,
            &["screening", "sessions", "checkins", "photos_clinical"]
        )
        .await,
        StatusCode::SEE_OTHER
    );
    // The invite works once.
    let (status, _, page) = s.get(&format!("/join/{code}"), Some(&pat.cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("cannot be used"));

    let episode = seed(&s, &pat, profile).await;
    let first = upload_photo(&s, &pat, profile, 10).await;
    let latest = upload_photo(&s, &pat, profile, 200).await;

    // The clinician's list, queue and record.
    let (status, h, page) = s.get("/clinic", Some(&dr.user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(
        h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert!(
        page.contains("Zelda Quartz") && page.contains("Tue 24 Nov 2026"),
        "{page}"
    );
    assert!(
        page.contains(r#"<td>1 <strong class="bad">(1 waiting for acknowledgement)</strong></td>"#),
        "{page}"
    );
    let (_, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert!(page.contains("Zelda Quartz") && page.contains(&episode.to_string()));
    let record = format!("/clinic/patients/{profile}");
    let (status, _, page) = s.get(&record, Some(&dr.user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Tue 24 Nov 2026: 0.25 mm, forehead"),
        "{page}"
    );
    assert!(page.contains("contact surgeon"));
    assert!(
        page.contains(&format!("/photos/{first}.jpg"))
            && page.contains(&format!("/photos/{latest}.jpg"))
    );
    assert!(
        page.contains("First: ") && page.contains("Latest: "),
        "the first and latest side by side"
    );
    let (status, h, bytes) =
        get_raw(&s, &format!("{record}/photos/{latest}.thumb.jpg"), &dr.user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP_FILES);
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    let (status, h, bytes) = get_raw(&s, &format!("{record}/record.json"), &dr.user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/fhir+json");
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    let kinds = |b: &Value| -> Vec<String> {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(kinds(&bundle).contains(&"Procedure".to_owned()), "{bundle}");
    let (status, h, bytes) = get_raw(&s, &format!("{record}/report.pdf"), &dr.user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/pdf");
    assert!(bytes.starts_with(b"%PDF"));

    // Acknowledge the red flag.
    let (status, _, _) = s
        .post(
            &format!("/clinic/red-flags/{profile}/{episode}/ack"),
            Some(&dr.user.cookie),
            &[
                ("csrf", &dr.user.csrf),
                ("note", "Called her; seen tomorrow"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert!(
        page.contains("Acknowledged by Dr Ada Lee") && page.contains("seen tomorrow"),
        "{page}"
    );
    assert!(page.contains("Nothing is waiting"));

    // Revoking hides the data on the very next request.
    let revoke = |scope: &'static str| {
        let pat = &pat;
        let dr = &dr;
        let s = &s;
        async move {
            let (status, _, _) = s
                .post(
                    &format!("/care-team/{}/consent", dr.clinic),
                    Some(&pat.cookie),
                    &[("csrf", &pat.csrf), ("scope", scope), ("grant", "0")],
                )
                .await;
            assert_eq!(status, StatusCode::SEE_OTHER);
        }
    };
    revoke("sessions").await;
    let (_, _, page) = s.get(&record, Some(&dr.user.cookie)).await;
    assert!(
        !page.contains("24 Nov 2026"),
        "sessions still shown: {page}"
    );
    assert!(
        page.contains("your sessions: dates, zones"),
        "says what is not shared"
    );
    let (_, _, bytes) = get_raw(&s, &format!("{record}/record.json"), &dr.user).await;
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        !kinds(&bundle).contains(&"Procedure".to_owned()),
        "{bundle}"
    );
    let (status, _, pdf) = get_raw(&s, &format!("{record}/report.pdf"), &dr.user).await;
    assert_eq!(status, StatusCode::OK);
    let text = pdf_text(&pdf);
    assert!(text.contains("Zelda Quartz"), "{text}");
    assert!(
        text.contains("Not shared with Lee Facial Surgery"),
        "the report says what it leaves out: {text}"
    );
    revoke("photos_clinical").await;
    let (status, _, _) = get_raw(&s, &format!("{record}/photos/{first}.jpg"), &dr.user).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, page) = s.get(&record, Some(&dr.user.cookie)).await;
    assert!(!page.contains(&first.to_string()));

    // Staff see names only, and never the clinical pages.
    let staff = add_member(&s, &dr, "sam@clinic.example", "Sam Front", "staff").await;
    let (status, _, page) = s.get("/clinic", Some(&staff.user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Zelda Quartz"));
    assert!(
        !page.contains("Last session") && !page.contains("waiting for acknowledgement"),
        "{page}"
    );
    for path in [
        record.clone(),
        format!("{record}/record.json"),
        format!("{record}/report.pdf"),
        format!("{record}/protocol"),
        "/clinic/red-flags".to_owned(),
    ] {
        let (status, _, page) = s.get(&path, Some(&staff.user.cookie)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(!page.contains("2026-11-2"), "{path}");
    }

    // Prescribing: not without the sessions scope; bad input names each
    // field and saves nothing; then a good one.
    let url = format!("{record}/protocol");
    let (status, _, _) = s
        .post(
            &url,
            Some(&dr.user.cookie),
            &protocol_form(&dr.user.csrf, "0.5", "28"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "sessions are not shared");
    let (status, _, _) = s
        .post(
            &format!("/care-team/{}/consent", dr.clinic),
            Some(&pat.cookie),
            &[("csrf", &pat.csrf), ("scope", "sessions"), ("grant", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = s
        .post(
            &url,
            Some(&dr.user.cookie),
            &[
                ("csrf", &dr.user.csrf),
                ("needle_length_mm", "5"),
                ("interval_days", "0"),
                ("course_sessions", "x"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Nothing was saved"));
    for msg in [
        "at most 3 mm",
        "choose at least one zone",
        "give 1 to 365 days",
        "give a number",
    ] {
        assert!(page.contains(msg), "{msg}: {page}");
    }
    assert!(page.contains("aria-invalid=\"true\""));
    assert_eq!(s.store.active_protocol(profile).unwrap(), None);
    let (status, _, _) = s
        .post(
            &url,
            Some(&dr.user.cookie),
            &protocol_form(&dr.user.csrf, "0.5", "28"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let p = s.store.active_protocol(profile).unwrap().unwrap();
    assert_eq!(p.interval_days, 28);
    assert_eq!(p.prescriber_name, "Dr Ada Lee");

    // A sensitive change needs a recent check.
    s.advance_minutes(11);
    let (status, h, _) = s
        .post(
            &url,
            Some(&dr.user.cookie),
            &protocol_form(&dr.user.csrf, "0.25", "35"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        h[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/reauth?next="),
        "{h:?}"
    );
    assert_eq!(
        s.store
            .active_protocol(profile)
            .unwrap()
            .unwrap()
            .interval_days,
        28
    );

    // The patient sees the protocol and who read or changed what.
    let (status, _, page) = s.get("/care-team", Some(&pat.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Lee Facial Surgery"));
    assert!(page.contains("prescribed by Dr Ada Lee"), "{page}");
    assert!(page.contains("at least 28 days") && page.contains("Gentle passes"));
    for line in [
        "Dr Ada Lee at Lee Facial Surgery viewed your record: screening, sessions, check-ins, photos for your care",
        "Dr Ada Lee at Lee Facial Surgery viewed one of your photos",
        "Dr Ada Lee at Lee Facial Surgery acknowledged a red flag",
        "Dr Ada Lee at Lee Facial Surgery prescribed a protocol",
        "stopped sharing your sessions",
    ] {
        assert!(page.contains(line), "{line}: {page}");
    }
}

#[tokio::test]
async fn the_clinic_api_follows_the_same_rules() {
    let s = Server::new();
    let dr = clinic_signup(&s, "bo@clinic.example", "Dr Bo Chan", "Chan Clinic").await;
    let code = invite(&s, &dr).await;
    let (pat, profile) = patient(&s, "yara@example.org", "Yara Quill").await;
    assert_eq!(
        join(&s, &pat, &code, &["checkins", "sessions"]).await,
        StatusCode::SEE_OTHER
    );
    let episode = seed(&s, &pat, profile).await;

    let (status, v) = api(&s, "GET", "/api/clinic/patients", Some(&dr.user), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["patients"][0]["name"], "Yara Quill");
    assert_eq!(v["patients"][0]["status"]["open_red_flags"], 1);
    let (status, v) = api(&s, "GET", "/api/clinic/red-flags", Some(&dr.user), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v[0]["episode"]["id"], episode.to_string());
    let ack = format!("/api/clinic/red-flags/{profile}/{episode}/ack");
    let (status, _) = api(
        &s,
        "POST",
        &ack,
        Some(&dr.user),
        Some(json!({"note": "ok"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, v) = api(
        &s,
        "POST",
        &ack,
        Some(&dr.user),
        Some(json!({"note": "again"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "conflict");

    let (status, v) = api(
        &s,
        "GET",
        &format!("/api/clinic/patients/{profile}"),
        Some(&dr.user),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["profile"]["name"], "Yara Quill");
    assert!(v["screening"].is_null(), "screening is not shared");
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);

    let url = format!("/api/clinic/patients/{profile}/protocol");
    let bad =
        json!({"needle_length_mm": 9.0, "zones": [], "interval_days": 0, "course_sessions": 6});
    let (status, v) = api(&s, "POST", &url, Some(&dr.user), Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["code"], "invalid_answers");
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["needle_length_mm", "zones", "interval_days"],
        "{v}"
    );
    assert_eq!(s.store.active_protocol(profile).unwrap(), None);
    // A body that is not one object is refused as anywhere in the API.
    for path in [&url, &ack] {
        let (status, v) = api(&s, "POST", path, Some(&dr.user), Some(json!([0.5, 30]))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert_eq!(v["error"]["code"], "bad_input", "{path}: {v}");
    }
    let good = json!({"needle_length_mm": 0.5, "zones": ["forehead"], "interval_days": 30, "course_sessions": 4});
    let (status, v) = api(&s, "POST", &url, Some(&dr.user), Some(good)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["target_density_per_cm2"], 250.0);

    let (status, v) = api(&s, "GET", "/api/care-team", Some(&pat), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["clinics"][0]["name"], "Chan Clinic");
    assert_eq!(v["protocol"]["prescriber_name"], "Dr Bo Chan");
    assert!(
        v["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "prescribed")
    );
    let consent = format!("/api/care-team/{}/consent", dr.clinic);
    let (status, _) = api(
        &s,
        "POST",
        &consent,
        Some(&pat),
        Some(json!({"scope": "checkins", "granted": false})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = api(&s, "GET", "/api/clinic/red-flags", Some(&dr.user), None).await;
    assert_eq!(v, json!([]), "revoked check-ins leave the queue at once");
    let (status, v) = api(
        &s,
        "POST",
        &consent,
        Some(&pat),
        Some(json!({"scope": "everything", "granted": true})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["code"], "bad_input");

    // Without a session: JSON 401; without the CSRF header: 403.
    let (status, v) = api(&s, "GET", "/api/clinic/patients", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "unauthenticated");
    let forged = User {
        cookie: dr.user.cookie.clone(),
        csrf: "0".repeat(64),
    };
    let (status, v) = api(&s, "POST", &url, Some(&forged), Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "csrf");
}

#[tokio::test]
async fn clinic_signup_checks_every_field_before_creating_anything() {
    let s = Server::new();
    let (status, _, page) = s
        .post(
            "/clinic/signup",
            None,
            &[
                ("email", "x@clinic.example"),
                ("password", PASSWORD),
                ("your_name", "Dr X"),
                ("clinic_name", "X Clinic"),
                ("time_zone", "Mars/Olympus_Mons"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("time zone: give an IANA name"), "{page}");
    assert!(
        page.contains("value=\"X Clinic\""),
        "the form keeps what was typed"
    );
    assert!(
        s.store
            .account_by_email("x@clinic.example")
            .unwrap()
            .is_none()
    );

    // A logged-in patient may found a clinic too, with the CSRF token.
    let u = s.sign_up("y@example.org").await;
    let (status, _, page) = s.get("/clinic/signup", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("name=\"password\""));
    let form = [
        ("csrf", u.csrf.as_str()),
        ("your_name", "Dr Y"),
        ("clinic_name", "Y Clinic"),
        ("time_zone", "America/New_York"),
    ];
    let (status, _, _) = s.post("/clinic/signup", Some(&u.cookie), &form[1..]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    let (status, h, _) = s.post("/clinic/signup", Some(&u.cookie), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        h[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/clinic?clinic=")
    );
    let account = s.store.account_by_email("y@example.org").unwrap().unwrap();
    let m = s.store.memberships(account.id).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].0.time_zone, "America/New_York");
}

#[tokio::test]
async fn clinic_signup_answers_a_taken_email_like_a_new_one_and_creates_nothing() {
    // With emails going out, the taken address's owner gets a note.
    let s = Server::with_config(needlewise_web::Config {
        smtp_url: Some("smtp://127.0.0.1:1".into()),
        ..needlewise_web::Config::default()
    });
    let patient = s.sign_up("taken@example.org").await;
    let form = |email: &'static str, password: &'static str| {
        [
            ("email", email),
            ("password", password),
            ("your_name", "Dr Who"),
            ("clinic_name", "Who Clinic"),
            ("time_zone", "UTC"),
        ]
    };
    let new = s
        .post(
            "/clinic/signup",
            None,
            &form("fresh@clinic.example", PASSWORD),
        )
        .await;
    let taken = s
        .post(
            "/clinic/signup",
            None,
            &form("Taken@Example.org", "another long password"),
        )
        .await;
    super::assert_same_answer(&new, &taken);
    assert_eq!(new.0, StatusCode::SEE_OTHER);
    assert_eq!(new.1[header::LOCATION], AFTER_CLINIC_SIGNUP);
    assert!(new.1.get(header::SET_COOKIE).is_none());
    // The new account has its clinic; the existing one got none, and its
    // password is unchanged.
    let fresh = s
        .store
        .account_by_email("fresh@clinic.example")
        .unwrap()
        .unwrap();
    assert_eq!(s.store.memberships(fresh.id).unwrap().len(), 1);
    let taken = s
        .store
        .account_by_email("taken@example.org")
        .unwrap()
        .unwrap();
    assert!(s.store.memberships(taken.id).unwrap().is_empty());
    let (status, _, page) = s.get("/profiles", Some(&patient.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    clinic_log_in(&s, "taken@example.org").await;
    // One note, to the existing address only.
    let queued = s
        .store
        .claim_emails(now(&s), jiff::SignedDuration::from_secs(30), 10)
        .unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].to, "taken@example.org");
    assert!(
        queued[0].body.contains("already has an account"),
        "{}",
        queued[0].body
    );
}

#[tokio::test]
async fn care_team_lists_have_empty_states_and_leaving_ends_access() {
    let s = Server::new();
    let (pat, profile) = patient(&s, "w@example.org", "Wren Oak").await;
    let (status, _, page) = s.get("/care-team", Some(&pat.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "You have not joined a clinic",
        "No protocol from a clinic",
        "None: every home rule applies",
        "Nothing yet.",
    ] {
        assert!(page.contains(text), "{text}");
    }
    let dr = clinic_signup(&s, "v@clinic.example", "Dr Vee", "Vee Clinic").await;
    let (_, _, page) = s.get("/clinic", Some(&dr.user.cookie)).await;
    assert!(page.contains("No patients yet"));
    let (_, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert!(page.contains("Nothing is waiting"));
    let code = invite(&s, &dr).await;
    assert_eq!(
        join(&s, &pat, &code, &["checkins"]).await,
        StatusCode::SEE_OTHER
    );
    let (status, _, _) = s
        .get(
            &format!("/clinic/patients/{profile}"),
            Some(&dr.user.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = s
        .post(
            &format!("/care-team/{}/leave", dr.clinic),
            Some(&pat.cookie),
            &[("csrf", &pat.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = s
        .get(
            &format!("/clinic/patients/{profile}"),
            Some(&dr.user.cookie),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("Wren Oak"));
    let (_, _, page) = s.get("/care-team", Some(&pat.cookie)).await;
    assert!(
        page.contains("You left the clinic, and stopped sharing everything with it (Vee Clinic)"),
        "{page}"
    );
    assert!(
        page.contains("Dr Vee at Vee Clinic viewed your record: check-ins"),
        "{page}"
    );
    assert!(page.contains("You have not joined a clinic"));
}

#[tokio::test]
async fn the_ladder_is_validated_and_saved() {
    let s = Server::new();
    let dr = clinic_signup(&s, "l@clinic.example", "Dr Ell", "Ell Clinic").await;
    let (status, _, page) = s.get("/clinic/settings", Some(&dr.user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("value=\"4\""),
        "the default ladder's 4 hours: {page}"
    );
    let (status, _, page) = s
        .post(
            "/clinic/settings",
            Some(&dr.user.cookie),
            &[
                ("csrf", &dr.user.csrf),
                ("after_0", "6"),
                ("notify_0", "role:clinician"),
                ("after_1", "1"),
                ("notify_1", "role:staff"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("time order"), "{page}");
    let (status, _, _) = s
        .post(
            "/clinic/settings",
            Some(&dr.user.cookie),
            &[
                ("csrf", &dr.user.csrf),
                ("after_0", "0"),
                ("notify_0", "role:clinician"),
                ("after_1", "2.5"),
                ("notify_1", "role:staff"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id: needlewise_core::ids::ClinicId = dr.clinic.parse().unwrap();
    let ladder = s.store.clinic(id).unwrap().unwrap().ladder;
    assert_eq!(ladder.steps.len(), 2);
    assert_eq!(ladder.steps[1].after, jiff::SignedDuration::from_mins(150));
}

#[tokio::test]
async fn a_red_flag_raised_before_joining_is_shown_and_escalated_from_the_join() {
    let s = Server::new();
    let store = s.store.as_ref();
    let (pat, profile) = patient(&s, "lark@example.org", "Lark Fenn").await;
    // Three days before the patient joins any clinic.
    super::notify::red_flag(
        store,
        profile,
        now(&s) - jiff::SignedDuration::from_hours(72),
    );
    let dr = clinic_signup(&s, "f@clinic.example", "Dr Fern", "Fern Clinic").await;
    let code = invite(&s, &dr).await;
    assert_eq!(
        join(&s, &pat, &code, &["checkins"]).await,
        StatusCode::SEE_OTHER
    );
    let joined = now(&s);

    // The JSON API carries the same moment, which the ladder counts from.
    let (status, v) = api(&s, "GET", "/api/clinic/red-flags", Some(&dr.user), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v[0]["visible_since"], json!(joined), "{v}");
    assert_ne!(v[0]["visible_since"], v[0]["episode"]["opened_at"], "{v}");
    // So does the mail status: this test server has no mail server, and
    // the red flag's email waits.
    let (status, m) = api(&s, "GET", "/api/clinic/mail", Some(&dr.user), None).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["mail_server"], json!(false), "{m}");
    assert!(m["waiting"].as_u64().is_some_and(|n| n >= 1), "{m}");
    assert_eq!(m["given_up"], json!(0), "{m}");
    assert!(
        m["notice"]
            .as_str()
            .is_some_and(|n| n.starts_with("Emails are off on this server")),
        "{m}"
    );

    let (_, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert!(
        page.contains(
            "Raised Sun 22 Nov 2026, 16:00; shared with the clinic Wed 25 Nov 2026, 16:00."
        ),
        "{page}"
    );

    // The ladder starts at the join: its first step went out with the
    // join itself (no wait for the worker's tick), the staff step comes
    // four hours later, not all at once.
    let doctor = store
        .account_by_email("f@clinic.example")
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        needlewise_web::notify::escalate(store, joined).unwrap(),
        0,
        "already sent when the patient joined"
    );
    let notes = store.notifications(doctor, 10).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "red_flag");
    let four = jiff::SignedDuration::from_hours(4);
    assert_eq!(
        needlewise_web::notify::escalate(store, joined + four - jiff::SignedDuration::from_secs(1))
            .unwrap(),
        0
    );
    assert_eq!(
        needlewise_web::notify::escalate(store, joined + four).unwrap(),
        1
    );
}

#[tokio::test]
async fn sharing_check_ins_later_tells_the_clinic_of_an_open_red_flag_at_once() {
    let s = Server::new();
    let store = s.store.as_ref();
    let (pat, profile) = patient(&s, "wren@example.org", "Wren Hale").await;
    let dr = clinic_signup(&s, "g@clinic.example", "Dr Gale", "Gale Clinic").await;
    let code = invite(&s, &dr).await;
    assert_eq!(
        join(&s, &pat, &code, &["sessions"]).await,
        StatusCode::SEE_OTHER
    );
    super::notify::red_flag(
        store,
        profile,
        now(&s) - jiff::SignedDuration::from_hours(1),
    );
    let doctor = store
        .account_by_email("g@clinic.example")
        .unwrap()
        .unwrap()
        .id;
    // Without the check-ins scope the clinic hears nothing.
    assert_eq!(needlewise_web::notify::escalate(store, now(&s)).unwrap(), 0);
    assert!(store.notifications(doctor, 10).unwrap().is_empty());

    let (status, _, _) = s
        .post(
            &format!("/care-team/{}/consent", dr.clinic),
            Some(&pat.cookie),
            &[("csrf", &pat.csrf), ("scope", "checkins"), ("grant", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The grant itself ran the ladder's first step: no wait for a tick.
    let notes = store.notifications(doctor, 10).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "red_flag");
}

/// The red-flag queue says when red flags cannot reach the team by email:
/// no mail server at all, or emails stuck or given up; nothing while they
/// go out.
#[tokio::test]
async fn the_red_flag_queue_says_when_emails_do_not_go_out() {
    // No mail server set.
    let s = Server::new();
    let dr = clinic_signup(&s, "h@clinic.example", "Dr Holm", "Holm Clinic").await;
    let (status, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Emails are off on this server"), "{page}");

    // A mail server is set (nothing listens there; no worker runs here).
    let s = Server::with_config(needlewise_web::Config {
        smtp_url: Some("smtp://127.0.0.1:1".into()),
        ..needlewise_web::Config::default()
    });
    let dr = clinic_signup(&s, "i@clinic.example", "Dr Ives", "Ives Clinic").await;
    let quiet = |page: &str| !page.contains("Emails are off") && !page.contains("not going out");
    let (_, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert!(quiet(&page), "{page}");
    let email = |minutes_ago: i64, attempts: u32, error: &str| needlewise_store::clinic::Email {
        id: needlewise_core::ids::EmailId(Uuid::now_v7()),
        to: "i@clinic.example".into(),
        subject: "A red flag".into(),
        body: "Please look at the red-flag queue.".into(),
        calendar: None,
        created_at: now(&s) - jiff::SignedDuration::from_mins(minutes_ago),
        sent_at: None,
        attempts,
        last_error: error.into(),
    };
    // Just queued: not stuck yet.
    s.store.queue_email(&email(1, 0, "")).unwrap();
    let (_, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert!(quiet(&page), "{page}");
    // Twenty minutes old with an error: the team is told, with the error.
    s.store
        .queue_email(&email(20, 2, "connection refused"))
        .unwrap();
    let (_, _, page) = s.get("/clinic/red-flags", Some(&dr.user.cookie)).await;
    assert!(
        page.contains("Emails to your team are not going out: 2 emails waiting since"),
        "{page}"
    );
    assert!(
        page.contains("The mail server last said: connection refused."),
        "{page}"
    );
    // Another clinic's stuck email is not this clinic's business.
    let other = clinic_signup(&s, "j@clinic.example", "Dr Jun", "Jun Clinic").await;
    let (_, _, page) = s.get("/clinic/red-flags", Some(&other.user.cookie)).await;
    assert!(quiet(&page), "{page}");
}

/// Issue 16: the patient list comes a page at a time, by name, with a
/// search and status filters, on the page and over the API; bad values
/// get a clear message.
#[tokio::test]
async fn the_patient_list_pages_searches_and_filters() {
    let s = Server::new();
    let dr = clinic_signup(&s, "pager@clinic.example", "Dr Page", "Page Clinic").await;
    let mut profiles = Vec::new();
    for (email, name) in [
        ("c@example.org", "cora Vale"),
        ("a@example.org", "Abel Vale"),
        ("b@example.org", "Bea Stone"),
    ] {
        let (pat, profile) = patient(&s, email, name).await;
        let code = invite(&s, &dr).await;
        assert_eq!(
            join(&s, &pat, &code, &["screening", "sessions", "checkins"]).await,
            StatusCode::SEE_OTHER
        );
        profiles.push(profile);
    }
    red_flag(&s, profiles[2], None);

    let (status, _, page) = s.get("/clinic", Some(&dr.user.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let at = |name: &str| page.find(name).unwrap_or_else(|| panic!("{name}: {page}"));
    assert!(at("Abel Vale") < at("Bea Stone") && at("Bea Stone") < at("cora Vale"));
    assert!(page.contains("1 patient has an open red flag."), "{page}");
    assert!(page.contains(r#"href="/clinic?status=red_flags">Show them"#));
    assert!(!page.contains("Next page"), "one page only");

    let (_, _, page) = s
        .get("/clinic?status=red_flags", Some(&dr.user.cookie))
        .await;
    assert!(page.contains("Bea Stone") && !page.contains("Abel Vale"));
    assert!(!page.contains("Show them"), "the page already shows them");
    let (_, _, page) = s.get("/clinic?q=VALE", Some(&dr.user.cookie)).await;
    assert!(
        page.contains("Abel Vale") && page.contains("cora Vale") && !page.contains("Bea Stone")
    );
    assert!(
        page.contains(r#"value="VALE""#),
        "the search stays in its box"
    );
    let (_, _, page) = s.get("/clinic?q=nobody", Some(&dr.user.cookie)).await;
    assert!(page.contains("No patients match."), "{page}");
    let (status, _, page) = s.get("/clinic?status=flagged", Some(&dr.user.cookie)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("There is no such patient filter."), "{page}");

    // Over the API, two at a time.
    let (status, first) = api(
        &s,
        "GET",
        "/api/clinic/patients?limit=2",
        Some(&dr.user),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let names = |v: &Value| -> Vec<String> {
        v["patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["Abel Vale", "Bea Stone"]);
    assert_eq!(first["red_flag_patients"], 1);
    let next = first["next"].as_str().expect("a next page").to_owned();
    let path = format!(
        "/api/clinic/patients?limit=2&after={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    let (status, second) = api(&s, "GET", &path, Some(&dr.user), None).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(names(&second), ["cora Vale"]);
    assert_eq!(second["next"], Value::Null);
    for bad in ["limit=0", "limit=500", "after=nonsense", "status=everyone"] {
        let (status, body) = api(
            &s,
            "GET",
            &format!("/api/clinic/patients?{bad}"),
            Some(&dr.user),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_input", "{bad}: {body}");
    }
}

/// Issue 19: logged out, `/` says what needlewise is and is not; a new
/// person's home shows the first-run path; with a red flag open, home
/// leads with the lock, what to do now and whom to contact (the clinic
/// when there is one), and offers no readiness check.
#[tokio::test]
async fn home_guides_a_newcomer_and_leads_with_a_lock() {
    let s = Server::new();
    let (status, _, landing) = s.get("/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(landing.contains("What it is not") && landing.contains(r#"href="/signup""#));
    assert!(landing.contains("never makes a diagnosis"));

    let (pat, profile) = patient(&s, "first@example.org", "Fern Ash").await;
    let (_, _, home) = s.get("/", Some(&pat.cookie)).await;
    assert!(
        home.contains("Your first safe session, step by step"),
        "{home}"
    );
    assert!(
        home.contains(r#"<li class="current" aria-current="step"><a href="/screening">Answer the screening</a>"#),
        "{home}"
    );
    assert!(home.contains("Am I ready today?"));
    assert!(!home.contains("Sessions are paused"));

    red_flag(&s, profile, None);
    let (_, _, home) = s.get("/", Some(&pat.cookie)).await;
    let lock = home.find("Sessions are paused").expect("the lock leads");
    assert!(lock < home.find("<h2>Screening</h2>").unwrap());
    assert!(home.contains("Contact a facial plastic surgeon or your own doctor today"));
    assert!(home.contains("Call your local emergency number now"));
    assert!(
        !home.contains("Am I ready today?"),
        "no readiness check while locked"
    );
    assert!(
        !home.contains("step by step"),
        "no first-run path while locked"
    );

    let dr = clinic_signup(&s, "lock@clinic.example", "Dr Lock", "Lock Clinic").await;
    let code = invite(&s, &dr).await;
    assert_eq!(
        join(&s, &pat, &code, &["screening"]).await,
        StatusCode::SEE_OTHER
    );
    let (_, _, home) = s.get("/", Some(&pat.cookie)).await;
    assert!(
        home.contains("Contact your care team today: <strong>Lock Clinic</strong>"),
        "{home}"
    );
}
