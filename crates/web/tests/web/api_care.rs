//! The JSON API for day-to-day care, driven like a client would: a whole
//! journey, bad bodies, and another person's ids.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::{Server, User};

impl Server {
    /// A JSON request with the session cookie and, unless `csrf` is None,
    /// the CSRF header.
    async fn api(
        &self,
        method: &str,
        path: &str,
        u: &User,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &u.cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let (status, headers, text) = self.send(req.body(body).unwrap()).await;
        if !text.is_empty() {
            assert_eq!(
                headers.get(header::CONTENT_TYPE).unwrap(),
                "application/json",
                "{method} {path}: {text}"
            );
        }
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    /// A POST with an `Idempotency-Key` header.
    async fn keyed_post(
        &self,
        path: &str,
        u: &User,
        key: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let req = Request::post(path)
            .header(header::COOKIE, &u.cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", &u.csrf)
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, _, text) = self.send(req).await;
        (status, serde_json::from_str(&text).unwrap())
    }

    async fn api_get(&self, path: &str, u: &User) -> (StatusCode, Value) {
        self.api("GET", path, u, None, None).await
    }

    async fn api_post(&self, path: &str, u: &User, body: Value) -> (StatusCode, Value) {
        self.api("POST", path, u, Some(&u.csrf.clone()), Some(body))
            .await
    }
}

fn screening_answers() -> Value {
    json!({
        "age": 35, "sex": "female", "pregnant": false, "breastfeeding": false,
        "cardiac_condition": false, "collagen_vascular_disease": false,
        "bleeding_disorder": false, "anticoagulants": false, "isotretinoin": "never",
        "chemo_or_radiotherapy": "never", "high_dose_steroids": "never", "chemo_or_radiotherapy_planned": false, "high_dose_steroids_planned": false, "other_serious_condition": false, "device_kind": "roller",
        "immunosuppressed": false, "systemic_infection": false, "diabetes": "none",
        "keloid_tendency": false, "metal_allergy": false, "anaesthetic_allergy": false,
        "plans_topical_anaesthetic": false, "skin_cancer_or_suspicious_lesion": false,
        "chronic_skin_condition": false, "treating_young_scar": false, "fitzpatrick": 2,
        "needle_length_mm": 0.25, "zones": ["forehead", "left_cheek"], "cold_sores": false,
        "active_skin_problem_zones": [], "tattoo_zones": [], "recent_procedures": []
    })
}

fn ready_answers() -> Value {
    json!({
        "skin_cleansed": true, "device_damaged": false, "cold_sore_now": false,
        "active_problem_zones": [], "sunburn_or_tan": false, "actives_recently": false,
        "waxed_zones": [], "procedures_since": [], "new_medication": false, "pregnant_now": false,
        "feeling_unwell": false
    })
}

fn checkin_answers(pus: bool) -> Value {
    json!({
        "redness": "none", "swelling": false, "pus_or_spreading_warmth": pus,
        "fever": false, "blisters": false, "new_bumps": false, "track_marks": false,
        "darker_patches": false, "numbness": false, "allergic_reaction": false,
        "anaesthetic_toxicity": false, "feeling_unwell": false, "widespread_rash": false, "blood_exposure_shared_device": false
    })
}

/// Screens `go`, adds a roller and takes it through its cycle (40 minutes
/// pass); returns the device id.
#[tokio::test]
async fn a_radiofrequency_device_is_refused_with_its_reason() {
    let s = Server::new();
    let u = s.sign_up("rf@example.org").await;
    let (status, v) = s
        .api_post(
            "/api/devices",
            &u,
            json!({"name": "RF pen", "kind": "rf_microneedling", "needle_mm": 0.5}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(v.to_string().contains("should not be used at home"), "{v}");
    let (_, list) = s.api_get("/api/devices", &u).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
}

async fn screened_with_ready_roller(s: &Server, u: &User) -> String {
    let (status, v) = s.api_post("/api/screening", u, screening_answers()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["verdict"], "go");

    let (status, v) = s
        .api_post(
            "/api/devices",
            u,
            json!({"name": "Bathroom roller", "needle_mm": 0.25}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["device"]["name"], "Bathroom roller");
    let id = v["device"]["id"].as_str().unwrap().to_owned();

    let step = |a: &str| format!("/api/devices/{id}/{a}");
    let (status, _) = s.api_post(&step("rinse"), u, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = s
        .api_post(&step("soak"), u, json!({"alcohol_percent": 70}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // Out of the soak too early: the state machine refuses, in JSON.
    let (status, v) = s.api_post(&step("dry"), u, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "wrong_transition");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("soaked for 0 min"),
        "{v}"
    );
    s.advance_minutes(10);
    let (status, _) = s.api_post(&step("dry"), u, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    s.advance_minutes(30);
    let (status, v) = s.api_post(&step("ready"), u, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"]["ready"], true, "{v}");
    // The log holds each accepted step, oldest first; the refused one is not there.
    let (status, log) = s.api_get(&format!("/api/devices/{id}/log"), u).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let events: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["rinse", "soak", "dry", "mark_ready"], "{log}");
    assert_eq!(log[1]["event"]["alcohol_percent"], 70);
    assert_eq!(log[3]["state_after"], "ready");
    id
}

/// A client may post today's zones back exactly as `/api/session/today`
/// gave them: each zone carries the session endpoint's fields (`zone`, the
/// planned `seconds` and `strokes`, `skipped`) beside the plan's own.
#[tokio::test]
async fn todays_zones_post_back_unchanged() {
    let s = Server::new();
    let u = s.sign_up("echo@example.org").await;
    let id = screened_with_ready_roller(&s, &u).await;
    let (status, v) = s
        .api_post(
            "/api/readiness",
            &u,
            json!({"device": id, "answers": ready_answers()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, today) = s.api_get("/api/session/today", &u).await;
    assert_eq!(status, StatusCode::OK);
    let zones = today["zones"].clone();
    for z in zones.as_array().unwrap() {
        assert_eq!(z["zone"], z["id"], "{z}");
        assert_eq!(z["skipped"], false, "{z}");
        let planned: u64 = z["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["seconds"].as_u64().unwrap())
            .sum();
        assert_eq!(z["seconds"], planned, "{z}");
    }
    // The echoed plan fields must agree with the zone they sit beside;
    // a disagreement saves nothing.
    let mut wrong = today["zones"].clone();
    wrong[0]["id"] = json!("nose");
    let (status, v) = s
        .api_post("/api/sessions", &u, json!({"device": id, "zones": wrong}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("zones[0].id"),
        "{v}"
    );
    let (status, saved) = s
        .api_post("/api/sessions", &u, json!({"device": id, "zones": zones}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let stored = saved["zones"].as_array().unwrap();
    assert_eq!(stored.len(), zones.as_array().unwrap().len(), "{saved}");
    for (z, plan) in stored.iter().zip(zones.as_array().unwrap()) {
        assert_eq!(z["zone"], plan["zone"]);
        assert_eq!(z["seconds"], plan["seconds"]);
        assert_eq!(z["strokes"], plan["strokes"]);
    }
}

#[tokio::test]
async fn a_whole_day_through_the_api() {
    let s = Server::new();
    let u = s.sign_up("api@example.org").await;

    let (status, v) = s.api_get("/api/dashboard", &u).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["verdict"], Value::Null);
    assert_eq!(v["devices"], json!([]));
    assert_eq!(v["latest_checkin"], Value::Null);

    let id = screened_with_ready_roller(&s, &u).await;

    let (status, v) = s
        .api_post(
            "/api/readiness",
            &u,
            json!({"device": id, "answers": ready_answers()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["go"], true, "{v}");

    let (status, today) = s.api_get("/api/session/today", &u).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(today["allowed"], true, "{today}");
    let zones: Vec<&str> = today["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["id"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["forehead", "left_cheek"]);
    assert!(!today["zones"][0]["sections"].as_array().unwrap().is_empty());

    // A zone the screening did not clear is refused, by name.
    let (status, v) = s
        .api_post(
            "/api/sessions",
            &u,
            json!({"device": id, "zones": [{"zone": "nose", "seconds": 60}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("zones[0].zone"),
        "{v}"
    );

    let (status, saved) = s
        .api_post(
            "/api/sessions",
            &u,
            json!({
                "device": id,
                "zones": [{"zone": "left_cheek", "seconds": 75, "strokes": 40},
                          {"zone": "forehead"}],
                "products": ["Hyaluronic serum: aqua, sodium hyaluronate", "Retinol night cream: aqua, glycerin, retinol"]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    // Walk order, the plan's time for a zone without one, and the serum gate.
    assert_eq!(saved["zones"][0]["zone"], "forehead");
    assert!(saved["zones"][0]["seconds"].as_u64().unwrap() > 0);
    assert_eq!(saved["zones"][1]["seconds"], 75);
    assert_eq!(saved["products"][0]["allowed"], true);
    assert_eq!(saved["products"][1]["allowed"], false);

    let (_, list) = s.api_get("/api/sessions", &u).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], saved["id"]);

    let (status, after) = s.api_get("/api/aftercare", &u).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["session_ended_at"], saved["ended_at"]);
    assert!(!after["steps"].as_array().unwrap().is_empty());
    let (status, gate) = s
        .api_post(
            "/api/aftercare/products",
            &u,
            json!({"product": "Glycolic acid toner"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{gate}");
    assert_eq!(gate["allowed"], false, "{gate}");

    // A red flag locks the next session, through the API too.
    s.advance_minutes(24 * 60);
    let (status, triage) = s.api_post("/api/checkins", &u, checkin_answers(true)).await;
    assert_eq!(status, StatusCode::OK, "{triage}");
    assert_eq!(triage["locks_sessions"], true, "{triage}");
    let (_, dash) = s.api_get("/api/dashboard", &u).await;
    assert_eq!(dash["locked"], true, "{dash}");
    assert_eq!(dash["latest_checkin"]["level"], triage["level"]);
    assert_eq!(dash["verdict"], "go");
    let (_, history) = s.api_get("/api/checkins", &u).await;
    let episode = history["episodes"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(history["checkins"].as_array().unwrap().len(), 1);

    // A note of three letters resolves nothing: the person states who
    // examined them and when, with a fresh check-in.
    let (status, v) = s
        .api_post(
            &format!("/api/episodes/{episode}/resolve"),
            &u,
            json!({"note": "abc"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let today = s
        .now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let (status, v) = s
        .api_post(
            &format!("/api/episodes/{episode}/resolve"),
            &u,
            json!({"doctor": "Dr Rivera", "examined_on": today, "answers": checkin_answers(true)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["resolved"], false, "still a warning sign: {v}");
    let (status, v) = s
        .api_post(
            &format!("/api/episodes/{episode}/resolve"),
            &u,
            json!({"doctor": "Dr Rivera", "examined_on": today, "answers": checkin_answers(false)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["resolved"], true, "{v}");
    // The answers that still showed a warning sign raised a red flag of
    // their own; it locks until resolved too.
    let (_, history) = s.api_get("/api/checkins", &u).await;
    let open: Vec<&str> = history["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resolved_at"].is_null())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(open.len(), 1, "{history}");
    let (_, dash) = s.api_get("/api/dashboard", &u).await;
    assert_eq!(dash["locked"], true);
    let second = open[0].to_owned();
    let (status, v) = s
        .api_post(
            &format!("/api/episodes/{second}/resolve"),
            &u,
            json!({"doctor": "Dr Rivera", "examined_on": today, "answers": checkin_answers(false)}),
        )
        .await;
    assert_eq!(v["resolved"], true, "{status} {v}");
    let (_, dash) = s.api_get("/api/dashboard", &u).await;
    assert_eq!(dash["locked"], false);

    // A check-in sent again with its Idempotency-Key is stored once and
    // answered alike; a key that is not a UUID is refused.
    let (_, history) = s.api_get("/api/checkins", &u).await;
    let count = history["checkins"].as_array().unwrap().len();
    let key = "0192f0c4-5b7a-7d3e-8f00-0123456789ab";
    let (status, first) = s
        .keyed_post("/api/checkins", &u, key, checkin_answers(false))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = s
        .keyed_post("/api/checkins", &u, key, checkin_answers(false))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
    let (_, history) = s.api_get("/api/checkins", &u).await;
    assert_eq!(history["checkins"].as_array().unwrap().len(), count + 1);
    assert!(
        history["checkins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == key),
        "the key is the check-in's id: {history}"
    );
    let (status, v) = s
        .keyed_post("/api/checkins", &u, "again", checkin_answers(false))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["code"], "bad_input");

    // Progress ratings: add, read with trends, delete.
    let (status, r) = s
        .api_post(
            "/api/ratings",
            &u,
            json!({"zone": "forehead", "concern": "lines_and_wrinkles", "score": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (status, v) = s
        .api_post(
            "/api/ratings",
            &u,
            json!({"zone": "forehead", "concern": "lines_and_wrinkles", "score": 9}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, p) = s.api_get("/api/progress", &u).await;
    assert_eq!(p["ratings"].as_array().unwrap().len(), 1);
    assert_eq!(p["trends"][0]["concern"], "lines_and_wrinkles");
    assert_eq!(p["photos"], json!([]));
    let rid = r["id"].as_str().unwrap();
    let (status, _) = s
        .api(
            "DELETE",
            &format!("/api/ratings/{rid}"),
            &u,
            Some(&u.csrf.clone()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, p) = s.api_get("/api/progress", &u).await;
    assert_eq!(p["ratings"], json!([]));
}

#[tokio::test]
async fn bad_bodies_name_the_field_and_change_nothing() {
    let s = Server::new();
    let u = s.sign_up("badapi@example.org").await;
    let cases = [
        ("/api/devices", json!({"name": "R"}), "needle_mm"),
        (
            "/api/devices",
            json!({"name": 3, "needle_mm": 0.25}),
            "name",
        ),
        (
            "/api/devices",
            json!({"name": "R", "needle_mm": 0.25, "colour": "red"}),
            "colour",
        ),
        (
            "/api/devices",
            json!({"name": "R", "needle_mm": 0.25, "kind": "stamp"}),
            "kind",
        ),
        (
            "/api/sessions",
            json!({"device": "x", "zones": [{"zone": "forehead", "seconds": -1}]}),
            "zones[0].seconds",
        ),
        (
            "/api/ratings",
            json!({"zone": "forehead", "concern": "acne_scars", "score": "high"}),
            "score",
        ),
    ];
    for (path, body, field) in cases {
        let (status, v) = s.api_post(path, &u, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {v}"
        );
        assert_eq!(v["error"]["code"], "bad_input", "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{path} {body}: {message}");
    }
    // Not JSON at all.
    let req = Request::post("/api/devices")
        .header(header::COOKIE, &u.cookie)
        .header("x-csrf-token", &u.csrf)
        .body(Body::from("name=R"))
        .unwrap();
    let (status, _, text) = s.send(req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    // Too large.
    let big = json!({"name": "R".repeat(300 * 1024), "needle_mm": 0.25});
    let (status, v) = s.api_post("/api/devices", &u, big).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"]["message"].as_str().unwrap().contains("KiB"));
    // Without the CSRF header nothing changes.
    let (status, v) = s
        .api(
            "POST",
            "/api/devices",
            &u,
            None,
            Some(json!({"name": "R", "needle_mm": 0.25})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "csrf");

    let (_, dash) = s.api_get("/api/dashboard", &u).await;
    assert_eq!(dash["devices"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn another_persons_ids_are_not_found_and_a_blocked_day_saves_nothing() {
    let s = Server::new();
    let owner = s.sign_up("owner-api@example.org").await;
    let id = screened_with_ready_roller(&s, &owner).await;
    let other = s.sign_up("other-api@example.org").await;

    let (status, v) = s
        .api_post(&format!("/api/devices/{id}/rinse"), &other, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, _) = s.api_get(&format!("/api/devices/{id}/log"), &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
    let (status, _) = s
        .api_get(&format!("/api/session/today?device={id}"), &other)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .api_post(
            "/api/readiness",
            &other,
            json!({"device": id, "answers": ready_answers()}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .api_post(
            "/api/sessions",
            &other,
            json!({"device": id, "zones": [{"zone": "forehead"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The owner's device, still ready and unused.
    let (_, dash) = s.api_get("/api/dashboard", &owner).await;
    assert_eq!(dash["devices"][0]["device"]["use_count"], 0, "{dash}");

    // The other person has not screened: their own day is blocked, and a
    // session is refused with 409 and saves nothing.
    let (status, v) = s
        .api_post(
            "/api/devices",
            &other,
            json!({"name": "Mine", "needle_mm": 0.25}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mine = v["device"]["id"].as_str().unwrap();
    let (status, v) = s
        .api_post(
            "/api/sessions",
            &other,
            json!({"device": mine, "zones": [{"zone": "forehead"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (_, list) = s.api_get("/api/sessions", &other).await;
    assert_eq!(list, json!([]));
}

/// Sends a raw body with the session and its CSRF token.
async fn raw_post(s: &Server, u: &User, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::post(path)
        .header(header::COOKIE, &u.cookie)
        .header("x-csrf-token", &u.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, _, text) = s.send(req).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_json_body_is_one_object_of_at_most_64_kib_refused_alike() {
    let s = Server::new();
    let u = s.sign_up("bodies@example.org").await;
    let (_, doc) = s.api_get("/api/openapi.json", &u).await;
    // Every documented endpoint that takes JSON, but the clinic's (their
    // caller must be a verified member before the body is read).
    let mut paths = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"]
                .get("application/json")
                .is_some()
                && !path.starts_with("/api/clinic/")
            {
                assert_eq!(method, "post", "{path}");
                let path = path
                    .replace("{id}", "00000000-0000-7000-8000-000000000000")
                    .replace("{action}", "rinse");
                paths.push(path);
            }
        }
    }
    assert!(paths.len() >= 9, "{paths:?}");
    let large = json!({"note": "x".repeat(needlewise_web::api::MAX_BODY)}).to_string();
    for path in &paths {
        for body in [
            b"[]".to_vec(),
            br#"["R", 0.25]"#.to_vec(),
            b"\"x\"".to_vec(),
            b"not json".to_vec(),
            b"{".to_vec(),
            large.clone().into_bytes(),
        ] {
            let (status, v) = raw_post(&s, &u, path, body.clone()).await;
            let shown = String::from_utf8_lossy(&body[..body.len().min(20)]).into_owned();
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {shown}: {v}"
            );
            assert_eq!(v["error"]["code"], "bad_input", "{path} {shown}: {v}");
            assert_eq!(v["error"]["fields"], json!([]), "{path} {shown}: {v}");
            assert!(v["error"]["message"].is_string(), "{path} {shown}: {v}");
        }
    }
    // The documented limit is the one applied.
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!(
            "at most {} KiB",
            needlewise_web::api::MAX_BODY / 1024
        )),
        "{description}"
    );
    // An array of what a device is made of is not a device.
    let (status, v) = s.api_post("/api/devices", &u, json!(["R", 0.25])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, dash) = s.api_get("/api/dashboard", &u).await;
    assert_eq!(dash["devices"], json!([]), "nothing was stored");
}

/// Issue 17 §5: a needle length of 0 is a bad field, not a refused
/// cleaning step, as the OpenAPI document says.
#[tokio::test]
async fn an_impossible_needle_length_is_bad_input() {
    let s = Server::new();
    let u = s.sign_up("zero@example.org").await;
    let (status, v) = s
        .api_post("/api/devices", &u, json!({"name": "Zero", "needle_mm": 0}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "bad_input", "{v}");
}

/// JSON has one number type: `2.0` is the whole number 2 (as JSON Schema's
/// `integer` says), so it is read as one; `2.5` is still refused.
#[tokio::test]
async fn a_whole_number_written_as_a_float_is_a_whole_number() {
    let s = Server::new();
    let u = s.sign_up("floats@example.org").await;
    let (status, v) = s
        .api_post(
            "/api/ratings",
            &u,
            json!({"zone": "forehead", "concern": "laxity", "score": 2.0}),
        )
        .await;
    assert!(status.is_success(), "{status} {v}");
    assert_eq!(v["score"], 2, "{v}");
    let (status, v) = s
        .api_post(
            "/api/ratings",
            &u,
            json!({"zone": "forehead", "concern": "laxity", "score": 2.5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("score:"),
        "{v}"
    );
}
