//! The guided session page (see `pages/session.rs`): the plan, the gate in
//! front of it, and the completion form.

use axum::http::{StatusCode, header};
use needlewise_core::coverage::planner::ZoneMethod;
use needlewise_core::coverage::{self, CoverageRequest, Scope};
use needlewise_core::hygiene::HygieneState;
use needlewise_core::ids::ProfileId;
use needlewise_core::zone::Zone;

use super::{Server, User, refs, screening_form};

/// Screens with the usual answers, a needle length and extra zones.
async fn screen(s: &Server, u: &User, needle: &str, extra_zones: &[&str]) {
    let mut form = screening_form(&u.csrf);
    form.retain(|(k, _)| *k != "needle_length_mm");
    form.push(("needle_length_mm", needle.to_owned()));
    for z in extra_zones {
        form.push(("zones", (*z).to_owned()));
    }
    let (status, h, page) = s.post("/screening", Some(&u.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{h:?} {page}");
}

/// Adds a 0.25 mm roller and returns its id.
async fn add_roller(s: &Server, u: &User, name: &str) -> String {
    let (status, _, _) = s
        .post(
            "/devices",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("name", name),
                ("kind", "roller"),
                ("needle_mm", "0.25"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get("/devices", Some(&u.cookie)).await;
    let at = page
        .find(&format!("<h2>{name} "))
        .expect("the new roller is listed");
    let i = page[..at]
        .rfind("id=\"device-")
        .expect("its card has an id")
        + 11;
    page[i..i + 36].to_owned()
}

/// Takes a roller through its cleaning cycle to ready (40 minutes pass).
async fn cycle_to_ready(s: &Server, u: &User, id: &str) {
    let step = |action: &str| format!("/devices/{id}/{action}");
    assert_eq!(
        s.post(&step("rinse"), Some(&u.cookie), &[("csrf", &u.csrf)])
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        s.post(
            &step("soak"),
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("alcohol", "70")]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    s.advance_minutes(10);
    assert_eq!(
        s.post(&step("dry"), Some(&u.cookie), &[("csrf", &u.csrf)])
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    s.advance_minutes(30);
    assert_eq!(
        s.post(&step("ready"), Some(&u.cookie), &[("csrf", &u.csrf)])
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    check_ready(s, u, id).await;
}

/// Answers today's readiness check for the roller, nothing wrong: a home
/// session may start within the hour if it says go.
async fn check_ready(s: &Server, u: &User, id: &str) -> String {
    let form = [
        ("csrf", u.csrf.as_str()),
        ("device", id),
        ("skin_cleansed", "yes"),
        ("device_damaged", "no"),
        ("cold_sore_now", "no"),
        ("sunburn_or_tan", "no"),
        ("actives_recently", "no"),
        ("new_medication", "no"),
        ("pregnant_now", "no"),
        ("feeling_unwell", "no"),
    ];
    let (status, _, page) = s.post_follow("/ready", Some(&u.cookie), &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

/// A person screened `go` (forehead and left cheek, 0.25 mm) with a ready roller.
async fn ready_person(s: &Server, email: &str) -> (User, String) {
    let u = s.sign_up(email).await;
    screen(s, &u, "0.25", &[]).await;
    let id = add_roller(s, &u, "bathroom roller").await;
    cycle_to_ready(s, &u, &id).await;
    (u, id)
}

fn profile_of(s: &Server, email: &str) -> ProfileId {
    let account = s.store.account_by_email(email).unwrap().unwrap();
    s.store.profiles(account.id).unwrap()[0].id
}

/// Undoes askama's HTML escaping of an attribute value.
fn unescape(v: &str) -> String {
    v.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

fn attr(page: &str, name: &str) -> Option<String> {
    let i = page.find(&format!("{name}=\""))? + name.len() + 2;
    let len = page[i..].find('"')?;
    Some(unescape(&page[i..i + len]))
}

/// The class of a zone's shape on the face map, and its title.
fn shape(page: &str, zone: &str) -> (String, String) {
    let marker = format!("data-zone=\"{zone}\" d=\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{zone} has a shape"));
    let class_at = page[..at].rfind("class=\"").unwrap() + 7;
    let class = page[class_at..at]
        .trim_end()
        .trim_end_matches('"')
        .to_owned();
    let t = page[at..].find("<title>").unwrap() + at + 7;
    let end = page[t..].find("</title>").unwrap() + t;
    (class, unescape(&page[t..end]))
}

fn strokes_for(zone: Zone) -> Vec<u32> {
    let request = CoverageRequest {
        device: coverage::Device::Roller(coverage::Roller::standard_192(0.25)),
        scope: Scope::Zone(zone),
        ..CoverageRequest::default()
    };
    let report = coverage::report(&request).unwrap();
    match &report.zones[0].plan {
        ZoneMethod::Roller(p) => p.directions.iter().map(|d| d.strokes).collect(),
        ZoneMethod::Pen(_) => panic!("a roller plan"),
    }
}

#[tokio::test]
async fn a_guided_session_from_plan_to_aftercare() {
    let s = Server::new();
    let u = s.sign_up("plan@example.org").await;
    // 0.3 mm is too long around the eyes: the screening leaves that zone out.
    screen(&s, &u, "0.3", &["periorbital_left"]).await;
    let id = add_roller(&s, &u, "bathroom roller").await;
    cycle_to_ready(&s, &u, &id).await;

    let (status, h, page) = s.get("/session", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("Not today"), "{page}");
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"));
    assert!(
        !page.contains("<script>") && !page.contains(" style=") && !page.contains(" onclick="),
        "no inline script or style"
    );
    assert!(page.contains("src=\"/assets/session.js\" defer"));

    let plan: serde_json::Value =
        serde_json::from_str(&attr(&page, "data-plan").expect("the plan for the script")).unwrap();
    let zones = plan["zones"].as_array().unwrap();
    let ids: Vec<&str> = zones.iter().map(|z| z["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["forehead", "left_cheek"]);
    for (z, zone) in zones.iter().zip([Zone::Forehead, Zone::LeftCheek]) {
        let strokes: Vec<u32> = z["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["strokes"].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            strokes,
            strokes_for(zone),
            "{zone}: strokes per direction from the coverage model"
        );
        assert!(
            z["sections"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["seconds"].as_u64().unwrap() >= 5)
        );
    }
    assert!(plan["key"].as_str().unwrap().ends_with(":2026-11-25"));

    assert_eq!(shape(&page, "forehead").0, "zone planned");
    let (class, title) = shape(&page, "periorbital_left");
    assert_eq!(class, "zone excluded");
    assert!(
        title.contains("Needle too long for the skin around the eyes"),
        "{title}"
    );
    assert_eq!(shape(&page, "neck").0, "zone off");
    assert!(page.contains("Light pressure: at home no bleeding is expected"));
    assert!(page.contains("horizontally (side to side)"));

    // The completion form, as the script fills it in.
    let device = attr(&page, "name=\"device\" value").unwrap();
    assert_eq!(device, id);
    let session_id = attr(&page, "name=\"session_id\" value").unwrap();
    assert!(uuid::Uuid::try_parse(&session_id).is_ok(), "{session_id}");
    let forehead_strokes: u32 = strokes_for(Zone::Forehead).iter().sum();
    let strokes = forehead_strokes.to_string();
    let form = [
        ("csrf", u.csrf.as_str()),
        ("device", &device),
        ("session_id", &session_id),
        ("started_at", ""),
        ("zone", "forehead"),
        ("seconds_forehead", "95"),
        ("strokes_forehead", &strokes),
        ("skipped_forehead", ""),
        ("minutes_forehead", "1.6"),
        ("zone", "left_cheek"),
        ("seconds_left_cheek", ""),
        ("minutes_left_cheek", "1.5"),
        ("skipped_left_cheek", "yes"),
        ("product", "Plain HA serum: aqua, sodium hyaluronate"),
        ("product", ""),
    ];
    let (status, h, page) = s.post("/session", Some(&u.cookie), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(h.get(header::LOCATION).unwrap(), "/aftercare?saved=session");

    let profile = profile_of(&s, "plan@example.org");
    let sessions = s.store.sessions(profile).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id.to_string(), session_id, "the page's id");
    // Issue 19: the same form again (a phone replaying it after being
    // offline, a resubmission) stores nothing more and answers the same,
    // though the roller is used now and today's gate would refuse it.
    let (status, h, page) = s.post("/session", Some(&u.cookie), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(h.get(header::LOCATION).unwrap(), "/aftercare?saved=session");
    assert_eq!(s.store.sessions(profile).unwrap(), sessions);
    let session = &sessions[0];
    assert_eq!(session.zones.len(), 2);
    assert_eq!(
        (
            session.zones[0].zone,
            session.zones[0].seconds,
            session.zones[0].strokes,
            session.zones[0].skipped
        ),
        (Zone::Forehead, 95, Some(forehead_strokes), false)
    );
    assert_eq!(
        (
            session.zones[1].zone,
            session.zones[1].seconds,
            session.zones[1].strokes,
            session.zones[1].skipped
        ),
        (Zone::LeftCheek, 90, None, true)
    );
    assert_eq!(session.needle_length_mm, 0.25);
    assert!(session.products[0].allowed);
    let roller = &s.store.devices(profile).unwrap()[0];
    assert_eq!((roller.state, roller.use_count), (HygieneState::Used, 1));

    let (_, _, page) = s.get("/aftercare?saved=session", Some(&u.cookie)).await;
    assert!(page.contains("Your session is saved."), "{page}");
    let (_, _, page) = s.get("/aftercare", Some(&u.cookie)).await;
    assert!(page.contains("After your session of"), "{page}");
    assert!(!page.contains("Your session is saved."));
    // The serum gate answers at its own address (Post/Redirect/Get); an
    // allowed product is recorded once, and showing the answer again
    // records nothing.
    let products = |s: &Server| {
        s.store
            .last_session(profile)
            .unwrap()
            .unwrap()
            .products
            .len()
    };
    let before = products(&s);
    let (status, h, _) = s
        .post(
            "/aftercare",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("product", "HA serum: aqua, sodium hyaluronate"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = h[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(
        to,
        "/aftercare?product=HA+serum%3A+aqua%2C+sodium+hyaluronate#gate"
    );
    let (status, _, page) = s.get(to.split('#').next().unwrap(), Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<strong>HA serum</strong>: Allowed"),
        "{page}"
    );
    assert_eq!(products(&s), before + 1);
    let (_, _, page) = s.get("/schedule", Some(&u.cookie)).await;
    assert!(
        page.contains("the next session can be from Sat 28 Nov 2026, "),
        "{page}"
    );

    let (status, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Today's session is saved") && page.contains("Not today"),
        "{page}"
    );
    assert!(
        page.contains("Too soon since the last session") && page.contains("until Sat 28 Nov 2026")
    );
    assert!(page.contains("Device not ready") && page.contains("href=\"/devices\""));
    assert!(
        !page.contains("data-plan"),
        "no plan on a day without a session"
    );
    assert!(
        page.contains("data-saved=\"1\""),
        "the script forgets today's progress"
    );

    // Posting the old page again is refused: the gate is checked again.
    let (status, _, page) = s
        .post(
            "/session",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("device", &device),
                ("zone", "forehead"),
                ("minutes_forehead", "2"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("Nothing was saved"));
    assert_eq!(s.store.sessions(profile).unwrap().len(), 1);
}

#[tokio::test]
async fn zones_outside_the_plan_and_bad_numbers_are_refused_and_nothing_is_stored() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "outside@example.org").await;
    for (form, field) in [
        (
            vec![("zone", "neck"), ("minutes_neck", "2")],
            "zone: \"neck\" is not in today's plan",
        ),
        (
            vec![("zone", "forehead"), ("seconds_nose", "10")],
            "seconds_nose",
        ),
        (
            vec![("zone", "forehead"), ("seconds_forehead", "99999")],
            "seconds_forehead: enter whole seconds",
        ),
        (
            vec![("zone", "forehead"), ("minutes_forehead", "-1")],
            "minutes_forehead",
        ),
        (
            vec![("zone", "forehead"), ("zone", "forehead")],
            "listed twice",
        ),
        (vec![("minutes_forehead", "2")], "tick at least one zone"),
        (
            vec![("zone", "forehead"), ("minutes_forehead", "0")],
            "no time was recorded",
        ),
        (
            vec![("zone", "forehead"), ("skipped_forehead", "maybe")],
            "skipped_forehead",
        ),
    ] {
        let mut all = vec![("csrf", u.csrf.as_str()), ("device", id.as_str())];
        all.extend(form);
        let (status, _, page) = s.post("/session", Some(&u.cookie), &all).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {page}");
        assert!(unescape(&page).contains(field), "{field}: {page}");
    }
    let long = "x".repeat(201);
    let (status, _, page) = s
        .post(
            "/session",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("device", &id),
                ("zone", "forehead"),
                ("product", &long),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("product: at most 200 characters"));
    let (status, _, _) = s
        .post(
            "/session",
            Some(&u.cookie),
            &[
                ("csrf", &"0".repeat(64)),
                ("device", &id),
                ("zone", "forehead"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    assert_eq!(s.store.counts().unwrap().sessions, 0);
    let profile = profile_of(&s, "outside@example.org");
    let roller = &s.store.devices(profile).unwrap()[0];
    assert_eq!(
        (roller.state, roller.use_count),
        (HygieneState::Ready, 0),
        "the roller is untouched"
    );
}

#[tokio::test]
async fn without_a_screening_or_a_ready_roller_the_page_says_why_and_the_post_is_refused() {
    let s = Server::new();
    let u = s.sign_up("notready@example.org").await;
    let (status, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Not today")
            && page.contains("No screening yet")
            && page.contains("href=\"/screening\""),
        "{page}"
    );
    assert!(page.contains("You have not added a roller or pen yet."));

    screen(&s, &u, "0.25", &[]).await;
    let id = add_roller(&s, &u, "new roller").await;
    let step = format!("/devices/{id}/rinse");
    assert_eq!(
        s.post(&step, Some(&u.cookie), &[("csrf", &u.csrf)]).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert!(
        page.contains("Not today") && page.contains("Device not ready"),
        "{page}"
    );
    assert!(!page.contains("No screening yet"));
    assert!(
        page.contains("new roller: "),
        "each device's next step is named"
    );
    assert!(
        !page.contains("data-plan") && !page.contains("action=\"/session\""),
        "no form to submit"
    );

    let (status, _, page) = s
        .post(
            "/session",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("device", &id),
                ("zone", "forehead"),
                ("minutes_forehead", "2"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("device not ready"), "{page}");
    assert_eq!(s.store.counts().unwrap().sessions, 0);

    // The service worker sending a session kept offline asks for JSON, and
    // learns why in the page's plain words.
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", u.csrf.as_str()),
            ("device", id.as_str()),
            ("zone", "forehead"),
            ("minutes_forehead", "2"),
        ])
        .finish();
    let req = axum::http::Request::post("/session")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::COOKIE, &u.cookie)
        .body(axum::body::Body::from(body))
        .unwrap();
    let (status, headers, text) = s.send(req).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "conflict", "{text}");
    assert_eq!(v["error"]["title"], "That was not done", "{text}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Not today: device not ready.")
            && message.contains("Nothing was saved"),
        "{message}"
    );
    assert_eq!(s.store.counts().unwrap().sessions, 0);
}

#[tokio::test]
async fn a_vitamin_c_serum_is_recorded_as_refused_and_the_page_says_why() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "serum@example.org").await;
    let (status, h, _) = s
        .post(
            "/session",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("device", &id),
                ("zone", "forehead"),
                ("minutes_forehead", "1"),
                ("product", "Vitamin C serum"),
                ("product", "hyaluronic acid"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(header::LOCATION).unwrap(), "/session#saved");
    let profile = profile_of(&s, "serum@example.org");
    let session = s.store.last_session(profile).unwrap().unwrap();
    let vc = session
        .products
        .iter()
        .find(|p| p.name == "Vitamin C serum")
        .unwrap();
    assert!(!vc.allowed);
    assert_eq!(vc.category, "vitamin_c");
    assert!(
        session
            .products
            .iter()
            .any(|p| p.name == "hyaluronic acid" && p.allowed)
    );

    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert!(page.contains("<strong>Vitamin C serum</strong>: recorded as applied, but not advised yet. Not yet: vitamin c serum (vitamin c) may go on needled skin from"), "{page}");
    // The moment in words, in the person's zone: never an RFC 3339 instant.
    let i = page.find("may go on needled skin from ").unwrap() + 28;
    let when = &page[i..i + 24];
    assert!(!when.contains('Z') && when.contains(" 2026, "), "{when}");
}

#[tokio::test]
async fn nobody_can_log_a_session_with_someone_elses_roller() {
    let s = Server::new();
    let (_owner, id) = ready_person(&s, "owner@example.org").await;
    let (other, _) = ready_person(&s, "other@example.org").await;
    let (status, _, _) = s
        .post(
            "/session",
            Some(&other.cookie),
            &[
                ("csrf", &other.csrf),
                ("device", &id),
                ("zone", "forehead"),
                ("minutes_forehead", "2"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(s.store.counts().unwrap().sessions, 0);
    let owner = profile_of(&s, "owner@example.org");
    assert_eq!(
        s.store.devices(owner).unwrap()[0].state,
        HygieneState::Ready
    );
}

#[tokio::test]
async fn the_session_script_and_styles_stay_small() {
    let s = Server::new();
    let (u, _) = ready_person(&s, "small@example.org").await;
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    let (status, h, js) = s.get("/assets/session.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h.get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        js.contains("performance.now()") && js.contains("wakeLock") && js.contains("localStorage")
    );
    let (_, _, css) = s.get("/assets/app.css", None).await;
    let (_, _, app) = s.get("/assets/app.js", None).await;
    let total = page.len() + js.len() + css.len() + app.len();
    assert!(
        total < 100 * 1024,
        "page, scripts and styles are {total} bytes"
    );
}

#[tokio::test]
async fn a_pen_gets_timed_sections_and_the_eye_zone_its_reminder() {
    let s = Server::new();
    let u = s.sign_up("pen@example.org").await;
    screen(&s, &u, "0.25", &["periorbital_right"]).await;
    let (status, _, _) = s
        .post(
            "/devices",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("name", "pen"),
                ("kind", "pen"),
                ("needle_mm", "0.25"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get("/devices", Some(&u.cookie)).await;
    let i = page.find("id=\"device-").unwrap() + 11;
    let id = page[i..i + 36].to_owned();
    let fit = format!("/devices/{id}/cartridge");
    assert_eq!(
        s.post(&fit, Some(&u.cookie), &[("csrf", &u.csrf)]).await.0,
        StatusCode::SEE_OTHER
    );
    check_ready(&s, &u, &id).await;

    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    let plan: serde_json::Value =
        serde_json::from_str(&attr(&page, "data-plan").expect("a plan")).unwrap();
    assert_eq!(plan["verb"], "Glide the pen");
    let zones = plan["zones"].as_array().unwrap();
    let ids: Vec<&str> = zones.iter().map(|z| z["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["forehead", "periorbital_right", "left_cheek"]);
    for z in zones {
        for section in z["sections"].as_array().unwrap() {
            assert_eq!(section["seconds"], 15);
            assert!(section["strokes"].is_null());
        }
    }
    assert_eq!(zones[1]["periorbital"], true);
    assert!(page.contains(
        "Stay on the bone below the eye. Never inside the orbital rim or on the eyelid."
    ));
    assert_eq!(shape(&page, "periorbital_right").0, "zone planned");
}

/// The guided session page, with its inline stylesheet and every script
/// and image it loads, transfers under 100 KB (uncompressed: the bound holds without
/// gzip too).
#[tokio::test]
async fn the_guided_session_page_with_its_assets_is_under_100_kb() {
    let s = Server::new();
    let (u, _) = ready_person(&s, "weight@example.org").await;
    let (status, _, _) = s.get("/session", Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = s.get_raw("/session", Some(&u.cookie)).await;
    assert!(
        page.contains("data-zone"),
        "the planned zones are on the page"
    );
    let mut assets: Vec<String> = Vec::new();
    for marker in ["src=\"", "href=\""] {
        for (i, _) in page.match_indices(marker) {
            let rest = &page[i + marker.len()..];
            let url = &rest[..rest.find('"').unwrap()];
            if url.starts_with("/assets/") && !assets.iter().any(|a| a == url) {
                assets.push(url.to_owned());
            }
        }
    }
    // The stylesheet is inline (its bytes are in the page's length).
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && page.contains("<style>:root"),
        "{assets:?}"
    );
    let mut total = page.len();
    for a in &assets {
        let (status, _, body) = s.get(a, Some(&u.cookie)).await;
        assert_eq!(status, StatusCode::OK, "{a}");
        total += body.len();
    }
    assert!(total < 100 * 1024, "{total} bytes: the page and {assets:?}");
}

/// Saves a session of the forehead through the completion form.
async fn save_session(s: &Server, u: &User, device: &str) -> StatusCode {
    let form = [
        ("csrf", u.csrf.as_str()),
        ("device", device),
        ("zone", "forehead"),
        ("seconds_forehead", "60"),
    ];
    s.post("/session", Some(&u.cookie), &form).await.0
}

#[tokio::test]
async fn no_session_is_offered_or_stored_without_todays_check() {
    let s = Server::new();
    let u = s.sign_up("nocheck@example.org").await;
    screen(&s, &u, "0.25", &[]).await;
    let id = add_roller(&s, &u, "bathroom roller").await;
    let step = |action: &str| format!("/devices/{id}/{action}");
    for (action, minutes) in [("rinse", 0), ("soak", 0), ("dry", 10), ("ready", 30)] {
        s.advance_minutes(minutes);
        let (status, _, _) = s
            .post(
                &step(action),
                Some(&u.cookie),
                &[("csrf", &u.csrf), ("alcohol", "70")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}");
    }
    // Ready roller, cleared screening, but no answers today: no plan.
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert!(page.contains("Today&#39;s readiness check first"), "{page}");
    assert!(attr(&page, "data-plan").is_none());
    assert_eq!(save_session(&s, &u, &id).await, StatusCode::CONFLICT);
    assert!(
        s.store
            .sessions(profile_of(&s, "nocheck@example.org"))
            .unwrap()
            .is_empty()
    );
    // A check that says go opens the plan for an hour, not longer.
    check_ready(&s, &u, &id).await;
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert!(attr(&page, "data-plan").is_some(), "{page}");
    s.advance_minutes(62);
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert!(
        attr(&page, "data-plan").is_none(),
        "the check's go has lapsed"
    );
    // A minute's session that ended now began 61 minutes after the check.
    assert_eq!(save_session(&s, &u, &id).await, StatusCode::CONFLICT);
    let profile = profile_of(&s, "nocheck@example.org");
    assert!(s.store.sessions(profile).unwrap().is_empty());
    // A session begun in time is recorded even when it ends after the hour.
    check_ready(&s, &u, &id).await;
    s.advance_minutes(65);
    let form = [
        ("csrf", u.csrf.as_str()),
        ("device", id.as_str()),
        ("zone", "forehead"),
        ("seconds_forehead", "600"),
    ];
    let (status, _, page) = s.post("/session", Some(&u.cookie), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let sessions = s.store.sessions(profile).unwrap();
    assert_eq!(sessions.len(), 1);
    let check = s
        .store
        .readiness_check(profile, sessions[0].readiness_check_id.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        sessions[0].started_at,
        s.now() - jiff::SignedDuration::from_mins(10)
    );
    assert!(sessions[0].started_at - check.at <= jiff::SignedDuration::from_hours(1));
}

#[tokio::test]
async fn readiness_the_api_and_the_guided_session_agree() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "agree@example.org").await;
    let (status, _, body) = s
        .get(&format!("/api/ready?device={id}"), Some(&u.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["readiness"]["go"], true, "{view}");
    assert_eq!(view["needs_answers"], false);
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    let plan: serde_json::Value =
        serde_json::from_str(&attr(&page, "data-plan").expect("a plan")).unwrap();
    let planned: Vec<&str> = plan["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["id"].as_str().unwrap())
        .collect();
    let allowed: Vec<&str> = view["readiness"]["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_str().unwrap())
        .collect();
    assert_eq!(planned, allowed);
    // A cold sore today: the answers the session rests on change the
    // verdict on every path at once.
    let form = [
        ("csrf", u.csrf.as_str()),
        ("device", id.as_str()),
        ("skin_cleansed", "yes"),
        ("device_damaged", "no"),
        ("cold_sore_now", "yes"),
        ("sunburn_or_tan", "no"),
        ("actives_recently", "no"),
        ("new_medication", "no"),
        ("pregnant_now", "no"),
        ("feeling_unwell", "no"),
    ];
    let (_, _, result) = s.post_follow("/ready", Some(&u.cookie), &form).await;
    assert!(result.contains("Not today"), "{result}");
    let (_, _, body) = s
        .get(&format!("/api/ready?device={id}"), Some(&u.cookie))
        .await;
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["readiness"]["go"], false);
    let ids: Vec<&str> = view["readiness"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ready.cold_sore"]);
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert!(page.contains("Cold sore now"), "{page}");
    assert!(attr(&page, "data-plan").is_none());
}

#[tokio::test]
async fn a_red_flag_answer_counts_in_the_browser_with_other_answers_missing() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "partial@example.org").await;
    assert_eq!(save_session(&s, &u, &id).await, StatusCode::SEE_OTHER);
    s.advance_minutes(30 * 60);
    let form = [
        ("csrf", u.csrf.as_str()),
        ("pus_or_spreading_warmth", "yes"),
        ("redness", "severe"),
    ];
    let (status, _, page) = s.post_follow("/checkin", Some(&u.cookie), &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Please contact your facial plastic surgeon"),
        "{page}"
    );
    assert!(page.contains("still unanswered"), "{page}");
    assert!(
        page.contains("fever"),
        "the missing questions are listed: {page}"
    );
    let profile = profile_of(&s, "partial@example.org");
    assert_eq!(s.store.open_episodes(profile).unwrap().len(), 1);
    let (_, _, page) = s.get("/session", Some(&u.cookie)).await;
    assert!(page.contains("Open red flag"), "{page}");
}

#[tokio::test]
async fn the_person_resolves_a_red_flag_with_a_doctors_examination_and_a_fresh_check_in() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "resolve@example.org").await;
    assert_eq!(save_session(&s, &u, &id).await, StatusCode::SEE_OTHER);
    s.advance_minutes(30 * 60);
    let (status, _, _) = s
        .post_follow(
            "/checkin",
            Some(&u.cookie),
            &[
                ("csrf", u.csrf.as_str()),
                ("pus_or_spreading_warmth", "yes"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let profile = profile_of(&s, "resolve@example.org");
    let episode = s.store.open_episodes(profile).unwrap()[0].id;
    let (_, _, page) = s.get("/checkin", Some(&u.cookie)).await;
    assert!(
        page.contains(&format!("/checkin/{episode}/resolve")),
        "{page}"
    );
    let (status, _, page) = s
        .get(&format!("/checkin/{episode}/resolve"), Some(&u.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Who examined you?"), "{page}");
    let fine = [
        ("csrf", u.csrf.as_str()),
        ("doctor", "Dr Rivera"),
        ("examined_on", "2026-11-26"),
        ("redness", "none"),
        ("swelling", "no"),
        ("pus_or_spreading_warmth", "no"),
        ("fever", "no"),
        ("blisters", "no"),
        ("new_bumps", "no"),
        ("track_marks", "no"),
        ("darker_patches", "no"),
        ("numbness", "no"),
        ("allergic_reaction", "no"),
        ("anaesthetic_toxicity", "no"),
        ("feeling_unwell", "no"),
        ("widespread_rash", "no"),
        ("blood_exposure_shared_device", "no"),
    ];
    // The old three-letter note is refused and changes nothing.
    let before = s.store.checksums().unwrap();
    let (status, _, _) = s
        .post(
            &format!("/checkin/{episode}/resolve"),
            Some(&u.cookie),
            &[("csrf", u.csrf.as_str()), ("note", "abc")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.store.checksums().unwrap(), before);
    let (status, h, page) = s
        .post(
            &format!("/checkin/{episode}/resolve"),
            Some(&u.cookie),
            &fine,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{h:?} {page}");
    assert!(s.store.open_episodes(profile).unwrap().is_empty());
    let e = &s.store.episodes(profile).unwrap()[0];
    assert!(matches!(
        &e.resolver,
        Some(needlewise_core::records::Resolver::DoctorExamined { doctor, .. }) if doctor == "Dr Rivera"
    ));
}

/// Issue 15 §1.9: the form carries the facts the trend question depends on,
/// and the server judges which questions apply with them.
#[tokio::test]
async fn the_check_in_form_asks_the_trend_only_once_there_is_something_to_compare_with() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "trend@example.org").await;
    assert_eq!(save_session(&s, &u, &id).await, StatusCode::SEE_OTHER);
    let calm = |redness: &'static str, trend: Option<&'static str>| {
        let mut f = vec![("csrf", u.csrf.clone()), ("redness", redness.to_owned())];
        for q in [
            "swelling",
            "pus_or_spreading_warmth",
            "fever",
            "blisters",
            "new_bumps",
            "track_marks",
            "darker_patches",
            "numbness",
            "allergic_reaction",
            "anaesthetic_toxicity",
            "feeling_unwell",
            "widespread_rash",
            "blood_exposure_shared_device",
        ] {
            f.push((q, "no".to_owned()));
        }
        if let Some(t) = trend {
            f.push(("redness_trend", t.to_owned()));
        }
        f
    };
    let send = |form: Vec<(&'static str, String)>| {
        let s = &s;
        let u = &u;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.post_follow("/checkin", Some(&u.cookie), &pairs).await
        }
    };
    s.advance_minutes(6 * 60);
    let (_, _, page) = s.get("/checkin", Some(&u.cookie)).await;
    assert!(page.contains(r#"name="day_passed" value="no""#), "{page}");
    assert!(
        page.contains(r#"name="earlier_checkin" value="no""#),
        "{page}"
    );
    // Six hours on, the first check-in: mild redness without a trend is
    // complete.
    let (status, _, page) = send(calm("mild", None)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("still unanswered"), "{page}");
    // Now there is an earlier check-in: the trend is asked, and kept.
    let (_, _, page) = s.get("/checkin", Some(&u.cookie)).await;
    assert!(
        page.contains(r#"name="earlier_checkin" value="yes""#),
        "{page}"
    );
    let (status, _, page) = send(calm("mild", None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("redness_trend"), "{page}");
    let (status, _, page) = send(calm("mild", Some("better"))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let profile = profile_of(&s, "trend@example.org");
    let checkins = s.store.checkins(profile).unwrap();
    assert_eq!(checkins.len(), 2);
    assert!(
        checkins
            .iter()
            .any(|c| c.answers.choice("redness_trend") == Some("better")),
        "the trend answer was kept"
    );
    assert!(
        checkins
            .iter()
            .all(|c| c.answers.get("earlier_checkin").is_none()),
        "facts are not stored as answers"
    );
}

/// The request key a form page carries.
fn key_of(page: &str) -> String {
    let i = page
        .find(r#"name="key" value=""#)
        .expect("a form with a key")
        + 18;
    page[i..i + 36].to_owned()
}

fn calm_checkin<'a>(csrf: &'a str, key: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut f = vec![("csrf", csrf), ("key", key), ("redness", "mild")];
    for q in [
        "swelling",
        "pus_or_spreading_warmth",
        "fever",
        "blisters",
        "new_bumps",
        "track_marks",
        "darker_patches",
        "numbness",
        "allergic_reaction",
        "anaesthetic_toxicity",
        "feeling_unwell",
        "widespread_rash",
        "blood_exposure_shared_device",
    ] {
        f.push((q, "no"));
    }
    f
}

/// Issue 19 §2: Post/Redirect/Get, and the same form sent twice is one
/// check-in.
#[tokio::test]
async fn a_check_in_sent_twice_is_stored_once_and_shown_at_its_own_address() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "twice@example.org").await;
    assert_eq!(save_session(&s, &u, &id).await, StatusCode::SEE_OTHER);
    s.advance_minutes(6 * 60);
    let (_, _, page) = s.get("/checkin", Some(&u.cookie)).await;
    let key = key_of(&page);
    let form = calm_checkin(&u.csrf, &key);
    let (first, h1, _) = s.post("/checkin", Some(&u.cookie), &form).await;
    s.advance_minutes(1);
    let (again, h2, _) = s.post("/checkin", Some(&u.cookie), &form).await;
    assert_eq!(
        (first, again),
        (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER)
    );
    assert_eq!(h1[header::LOCATION], h2[header::LOCATION]);
    let profile = profile_of(&s, "twice@example.org");
    let stored = s.store.checkins(profile).unwrap();
    assert_eq!(stored.len(), 1, "one check-in for one key");
    let to = h1[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(to, format!("/checkin/{}", stored[0].id));
    let (status, _, result) = s.get(&to, Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert!(
        result.contains("Answered Wed 25 Nov 2026, 22:40"),
        "{result}"
    );
    assert!(result.contains(r#"class="level expected""#), "{result}");
    // A fresh form has a fresh key.
    let (_, _, page) = s.get("/checkin", Some(&u.cookie)).await;
    assert_ne!(key_of(&page), key);
    // Someone else's check-in is not found, and so is no check-in at all.
    let other = s.sign_up("other-twice@example.org").await;
    assert_eq!(
        s.get(&to, Some(&other.cookie)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get("/checkin/not-an-id", Some(&u.cookie)).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_readiness_check_sent_twice_is_stored_once_and_shown_at_its_own_address() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "ready-twice@example.org").await;
    let profile = profile_of(&s, "ready-twice@example.org");
    let before = s.store.readiness_checks(profile).unwrap().len();
    let (_, _, page) = s.get("/ready", Some(&u.cookie)).await;
    let key = key_of(&page);
    let form = [
        ("csrf", u.csrf.as_str()),
        ("key", key.as_str()),
        ("device", id.as_str()),
        ("skin_cleansed", "yes"),
        ("device_damaged", "no"),
        ("cold_sore_now", "no"),
        ("sunburn_or_tan", "no"),
        ("actives_recently", "no"),
        ("new_medication", "no"),
        ("pregnant_now", "no"),
        ("feeling_unwell", "no"),
    ];
    let (first, h1, _) = s.post("/ready", Some(&u.cookie), &form).await;
    let (again, h2, _) = s.post("/ready", Some(&u.cookie), &form).await;
    assert_eq!(
        (first, again),
        (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER)
    );
    assert_eq!(h1[header::LOCATION], h2[header::LOCATION]);
    let checks = s.store.readiness_checks(profile).unwrap();
    assert_eq!(checks.len(), before + 1, "one check for one key");
    let to = h1[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(to, format!("/ready/{}", checks[0].id));
    let (status, _, result) = s.get(&to, Some(&u.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(result.contains("Go: you are ready"), "{result}");
    assert!(
        result.contains("Today's zones: forehead, left cheek"),
        "{result}"
    );
    let other = s.sign_up("other-ready@example.org").await;
    assert_eq!(
        s.get(&to, Some(&other.cookie)).await.0,
        StatusCode::NOT_FOUND
    );
    // Hours later it no longer holds, and says so.
    s.advance_minutes(3 * 60);
    let (_, _, later) = s.get(&to, Some(&u.cookie)).await;
    assert!(later.contains("no longer holds"), "{later}");
}

#[tokio::test]
async fn a_check_in_with_answers_missing_is_shown_again_with_them_kept() {
    let s = Server::new();
    let (u, id) = ready_person(&s, "again@example.org").await;
    assert_eq!(save_session(&s, &u, &id).await, StatusCode::SEE_OTHER);
    s.advance_minutes(6 * 60);
    let (_, _, page) = s.get("/checkin", Some(&u.cookie)).await;
    // Required questions are marked, but the browser never holds back a
    // warning sign for an unrelated answer.
    assert!(page.contains(r#"name="fever" value="yes" required"#));
    assert!(page.contains(r#"class="questions" novalidate"#));
    let key = key_of(&page);
    let mut form = calm_checkin(&u.csrf, &key);
    form.retain(|(k, _)| *k != "fever");
    let (status, _, page) = s.post("/checkin", Some(&u.cookie), &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(r#"name="redness" value="mild" checked"#),
        "{page}"
    );
    assert!(page.contains(r#"name="fever" value="yes" required aria-invalid="true""#));
    assert!(page.contains("Please choose yes or no."));
    assert_eq!(key_of(&page), key, "nothing was stored: the same key again");
    assert!(
        s.store
            .checkins(profile_of(&s, "again@example.org"))
            .unwrap()
            .is_empty()
    );
}
