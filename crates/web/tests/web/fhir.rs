//! FHIR R4 over the API: the Questionnaire, a response round trip that
//! gives the same verdict, the record Bundle, and bad responses.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

use super::{Server, refs, screening_form};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn questionnaire_response_round_trip_gives_the_same_verdict() {
    let s = Server::new();
    let (status, h, body) = s.get("/api/fhir/Questionnaire/screening", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.get(header::CONTENT_TYPE).unwrap(),
        "application/fhir+json"
    );
    let q = json(&body);
    assert_eq!(q["resourceType"], "Questionnaire");
    assert!(
        q["item"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["linkId"] == "pregnant")
    );

    let u = s.sign_up("fhir@example.org").await;
    let (status, _, _) = s
        .get("/api/fhir/QuestionnaireResponse/latest", Some(&u.cookie))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no screening yet");
    let form = screening_form(&u.csrf);
    let (status, _, _) = s.post("/screening", Some(&u.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, native) = s.get("/api/screening", Some(&u.cookie)).await;
    let native = json(&native);

    let (status, h, response) = s
        .get("/api/fhir/QuestionnaireResponse/latest", Some(&u.cookie))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.get(header::CONTENT_TYPE).unwrap(),
        "application/fhir+json"
    );
    assert_eq!(json(&response)["resourceType"], "QuestionnaireResponse");

    let import = |body: String, csrf: &str| {
        Request::post("/api/fhir/QuestionnaireResponse")
            .header(header::COOKIE, &u.cookie)
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .header("x-csrf-token", csrf)
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, imported) = s.send(import(response.clone(), &u.csrf)).await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    let imported = json(&imported);
    assert_eq!(imported["verdict"], native["verdict"]);
    assert_eq!(imported["verdict"], native["result"]["verdict"]);

    // A wrong type is refused with its FHIR path, and nothing is stored.
    let mut bad = json(&response);
    let item = bad["item"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|i| i["linkId"] == "pregnant")
        .unwrap();
    item["answer"][0] = serde_json::json!({"valueBoolean": "nope"});
    let (status, _, err) = s.send(import(bad.to_string(), &u.csrf)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let err = json(&err);
    assert_eq!(err["error"]["code"], "invalid_answers");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("valueBoolean"),
        "{err}"
    );
    // Without the CSRF token nothing is imported.
    let (status, _, _) = s.send(import(response, "wrong")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_record_bundle_is_the_callers_own() {
    let s = Server::new();
    let (status, _, _) = s.get("/api/fhir/Bundle/record", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let a = s.sign_up("bundle-a@example.org").await;
    let form = screening_form(&a.csrf);
    s.post("/screening", Some(&a.cookie), &refs(&form)).await;
    let (status, h, body) = s.get("/api/fhir/Bundle/record", Some(&a.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h.get(header::CONTENT_DISPOSITION)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let bundle = json(&body);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"Patient"), "{kinds:?}");
    assert!(kinds.contains(&"QuestionnaireResponse"), "{kinds:?}");

    // Another person's bundle has no QuestionnaireResponse: nothing of A's.
    let b = s.sign_up("bundle-b@example.org").await;
    let (_, _, body) = s.get("/api/fhir/Bundle/record", Some(&b.cookie)).await;
    assert!(!body.contains("QuestionnaireResponse\""), "{body}");
    assert!(!body.contains("bundle-a@example.org"));
}
