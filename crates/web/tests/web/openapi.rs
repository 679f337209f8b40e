//! The OpenAPI document at `/api/openapi.json` and Swagger UI at `/api/docs`.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use needlewise_core::answers::InvalidAnswers;
use needlewise_core::hygiene::HygieneError;
use needlewise_web::api::openapi::ErrorCode;
use needlewise_web::error::WebError;
use serde_json::Value;

use super::Server;

/// What the API must keep offering. The router and the document are both
/// built from `api::routes()`; this list guards against a route vanishing
/// from both at once.
const API: [(&str, &str); 58] = [
    ("get", "/api/evidence"),
    ("get", "/api/screening"),
    ("post", "/api/screening"),
    ("get", "/api/dashboard"),
    ("get", "/api/devices"),
    ("post", "/api/devices"),
    ("post", "/api/devices/{id}/{action}"),
    ("get", "/api/devices/{id}/log"),
    ("get", "/api/schedule"),
    ("post", "/api/readiness"),
    ("get", "/api/ready"),
    ("get", "/api/session/today"),
    ("get", "/api/sessions"),
    ("post", "/api/sessions"),
    ("get", "/api/aftercare"),
    ("post", "/api/aftercare/products"),
    ("get", "/api/checkins"),
    ("post", "/api/checkins"),
    ("post", "/api/episodes/{id}/resolve"),
    ("get", "/api/progress"),
    ("post", "/api/ratings"),
    ("delete", "/api/ratings/{id}"),
    ("get", "/api/fhir/Questionnaire/screening"),
    ("get", "/api/fhir/QuestionnaireResponse/latest"),
    ("post", "/api/fhir/QuestionnaireResponse"),
    ("get", "/api/fhir/Bundle/record"),
    ("get", "/api/clinic/patients"),
    ("get", "/api/clinic/mail"),
    ("get", "/api/clinic/red-flags"),
    ("post", "/api/clinic/red-flags/{profile}/{episode}/ack"),
    ("post", "/api/clinic/red-flags/{profile}/{episode}/resolve"),
    ("get", "/api/clinic/patients/{profile}"),
    ("post", "/api/clinic/patients/{profile}/protocol"),
    ("get", "/api/care-team"),
    ("post", "/api/care-team/{clinic}/consent"),
    ("get", "/api/conversations"),
    ("post", "/api/conversations"),
    ("get", "/api/conversations/{id}"),
    ("post", "/api/conversations/{id}/messages"),
    ("post", "/api/conversations/{id}/messages/photos"),
    ("get", "/api/clinic/conversations"),
    ("get", "/api/clinic/conversations/{profile}/{id}"),
    ("post", "/api/clinic/conversations/{profile}/{id}/messages"),
    (
        "post",
        "/api/clinic/conversations/{profile}/{id}/messages/photos",
    ),
    ("get", "/api/appointments"),
    ("post", "/api/appointments"),
    ("get", "/api/appointments/slots"),
    ("post", "/api/appointments/{id}/cancel"),
    ("post", "/api/appointments/{id}/reschedule"),
    ("get", "/api/conversations/{id}/proposals"),
    ("get", "/api/clinic/appointments"),
    ("post", "/api/clinic/appointments"),
    ("get", "/api/clinic/appointments/slots"),
    ("post", "/api/clinic/appointments/{profile}/{id}/cancel"),
    ("post", "/api/clinic/appointments/{profile}/{id}/reschedule"),
    ("get", "/api/clinic/conversations/{profile}/{id}/proposals"),
    ("post", "/api/clinic/conversations/{profile}/{id}/proposals"),
    ("get", "/api/openapi.json"),
];

async fn document(s: &Server) -> Value {
    let (status, h, body) = s.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "application/json");
    serde_json::from_str(&body).expect("the document is JSON")
}

/// Every (method, path) the document lists.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_openapi_3_and_lists_exactly_the_routed_api() {
    let s = Server::new();
    let doc = document(&s).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3."), "{version}");
    assert_eq!(doc["info"]["title"], "needlewise API");

    let expected: BTreeSet<(String, String)> = API
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(operations(&doc), expected);

    // Every documented operation is routed: without a session it answers
    // 200 or 401, never the fallback's 404 or a 405.
    for (method, path) in &expected {
        let req = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
            .uri(path.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, _, body) = s.send(req).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
            "{method} {path}: {status} {body}"
        );
    }
    // A method the document does not list is not routed either.
    let req = Request::delete("/api/evidence")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = s.send(req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_document_describes_the_session_cookie_and_the_csrf_header() {
    let s = Server::new();
    let doc = document(&s).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "nw_session");
    assert_eq!(schemes["csrf"]["type"], "apiKey");
    assert_eq!(schemes["csrf"]["in"], "header");
    assert_eq!(schemes["csrf"]["name"], "x-csrf-token");

    let post = &doc["paths"]["/api/screening"]["post"];
    assert_eq!(
        post["security"],
        serde_json::json!([{"session": [], "csrf": []}])
    );
    for path in ["/api/screening", "/api/devices", "/api/schedule"] {
        assert_eq!(
            doc["paths"][path]["get"]["security"],
            serde_json::json!([{"session": []}]),
            "{path}"
        );
        assert!(
            doc["paths"][path]["get"]["responses"]["401"].is_object(),
            "{path}"
        );
    }
    assert!(doc["paths"]["/api/evidence"]["get"]["security"].is_null());
}

#[tokio::test]
async fn the_error_schema_and_its_codes_match_the_errors_served() {
    let s = Server::new();
    let doc = document(&s).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ErrorBody"]["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorDetail"
    );
    let detail = &schemas["ErrorDetail"];
    let required: BTreeSet<&str> = detail["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "message", "fields"]));
    assert_eq!(
        detail["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );

    // The documented codes are exactly the codes the errors carry.
    let documented: BTreeSet<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let errors = [
        WebError::Unauthenticated,
        WebError::Csrf,
        WebError::NotFound,
        WebError::RateLimited,
        WebError::BadInput(String::new()),
        WebError::InvalidAnswers(InvalidAnswers(Vec::new())),
        WebError::Hygiene(HygieneError::WrongState {
            action: "use",
            state: "soaking",
            hint: "",
        }),
        WebError::Conflict(String::new()),
        WebError::Forbidden(String::new()),
        WebError::Internal(anyhow::anyhow!("x")),
    ];
    let served: BTreeSet<&str> = errors.iter().map(|e| e.code()).collect();
    assert_eq!(documented, served);
    for e in &errors {
        assert!(ErrorCode::of(e).is_some(), "{}", e.code());
    }

    // Every error response refers to the schema.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }

    // And real errors have that shape.
    for path in ["/api/devices", "/api/nothing"] {
        let (_, _, body) = s.get(path, None).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        let keys: BTreeSet<&str> = v["error"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["code", "message", "fields"]),
            "{path}"
        );
        assert!(
            documented.contains(v["error"]["code"].as_str().unwrap()),
            "{path}"
        );
    }
}

#[cfg(feature = "swagger-ui")]
#[tokio::test]
async fn swagger_ui_is_served_from_vendored_files_under_the_csp() {
    let s = Server::new();
    let (status, h, page) = s.get("/api/docs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h.get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        h.get(header::CONTENT_SECURITY_POLICY).unwrap(),
        needlewise_web::security::csp()
    );
    assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
    // Nothing inline for the CSP to refuse.
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script src=\"/api/docs/").count()
    );
    assert!(!page.contains("style="));
    assert!(!page.contains("<style"));
    assert!(!page.contains("http"), "no outside URL");
    let (status, _, same) = s.get("/api/docs/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, page);

    // Every file the page loads is served, with its type.
    let mut rest = page.as_str();
    let mut loaded = 0;
    while let Some(i) = rest.find("\"/api/docs/") {
        let url = &rest[i + 1..];
        let url = &url[..url.find('"').unwrap()];
        let (status, h, body) = s.get(url, None).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let ty = h.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
        let want = match url.rsplit('.').next().unwrap() {
            "js" => "javascript",
            "css" => "text/css",
            "png" => "image/png",
            other => panic!("{other}"),
        };
        assert!(ty.contains(want), "{url}: {ty}");
        assert!(!body.is_empty(), "{url}");
        if url.ends_with("init.js") {
            assert!(body.contains("url: \"/api/openapi.json\""));
            assert!(body.contains("validatorUrl: null"));
        }
        loaded += 1;
        rest = &rest[i + 1..];
    }
    assert_eq!(loaded, 5);

    // Swagger UI's own page and initializer are replaced by ours.
    for url in [
        "/api/docs/index.html",
        "/api/docs/swagger-initializer.js",
        "/api/docs/nothing.js",
    ] {
        let (status, _, body) = s.get(url, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        assert!(body.contains("\"not_found\""), "{url}");
    }
}

/// Issue 17 §5: a session's zones are a typed schema, so a generated
/// client knows what to send.
#[tokio::test]
async fn a_sessions_zones_are_described_field_by_field() {
    let s = Server::new();
    let doc = document(&s).await;
    let zones = &doc["components"]["schemas"]["NewSession"]["properties"]["zones"];
    assert_eq!(
        zones["items"]["$ref"], "#/components/schemas/ZoneEntry",
        "{zones}"
    );
    let entry = &doc["components"]["schemas"]["ZoneEntry"];
    for field in ["zone", "seconds", "strokes", "skipped"] {
        assert!(entry["properties"].get(field).is_some(), "{field}: {entry}");
    }
    assert_eq!(entry["required"], serde_json::json!(["zone"]), "{entry}");
}

/// The rating's `zone` and `concern` patterns list exactly the ids the
/// server accepts, so a new zone or concern cannot leave the document
/// behind.
#[tokio::test]
async fn the_rating_patterns_list_every_zone_and_concern() {
    let s = Server::new();
    let doc = document(&s).await;
    let rating = &doc["components"]["schemas"]["NewRating"]["properties"];
    let ids = |pattern: &Value| -> BTreeSet<String> {
        let p = pattern.as_str().unwrap();
        p.trim_start_matches("^(")
            .trim_end_matches(")$")
            .split('|')
            .map(str::to_owned)
            .collect()
    };
    let zones: BTreeSet<String> = needlewise_core::zone::Zone::ALL
        .iter()
        .map(|z| z.id().to_owned())
        .collect();
    assert_eq!(ids(&rating["zone"]["pattern"]), zones, "{rating}");
    let concerns: BTreeSet<String> = needlewise_core::progress::Concern::ALL
        .iter()
        .map(|c| c.id().to_owned())
        .collect();
    assert_eq!(ids(&rating["concern"]["pattern"]), concerns, "{rating}");
}

/// A message with photos is documented as a multipart form.
#[tokio::test]
async fn messages_with_photos_are_documented_as_multipart() {
    let s = Server::new();
    let doc = document(&s).await;
    for path in [
        "/conversations/{id}/messages/photos",
        "/clinic/conversations/{profile}/{id}/messages/photos",
    ] {
        let op = if doc["paths"][path].is_null() {
            &doc["paths"][format!("/api{path}")]["post"]
        } else {
            &doc["paths"][path]["post"]
        };
        let content = &op["requestBody"]["content"];
        let form = &content["multipart/form-data"]["schema"];
        assert!(!form.is_null(), "{path}: {content}");
        let text = form.to_string();
        let resolved = if let Some(r) = form["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap();
            doc["components"]["schemas"][name].to_string()
        } else {
            text
        };
        assert!(
            resolved.contains("photos") && resolved.contains("binary"),
            "{path}: {resolved}"
        );
    }
}

/// The appointments' answers are typed schemas, field by field, and every
/// booking or move documents the 409 of a slot taken meanwhile.
#[tokio::test]
async fn appointments_are_documented_with_their_schemas_and_conflicts() {
    let s = Server::new();
    let doc = document(&s).await;
    let schema_of = |path: &str, method: &str, status: &str| -> String {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} {status}: a typed schema"))
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    for (path, method, status, schema) in [
        ("/api/appointments", "get", "200", "AppointmentList"),
        ("/api/appointments", "post", "201", "Booked"),
        ("/api/appointments/slots", "get", "200", "FreeSlots"),
        (
            "/api/appointments/{id}/cancel",
            "post",
            "200",
            "AppointmentOut",
        ),
        ("/api/appointments/{id}/reschedule", "post", "201", "Moved"),
        (
            "/api/conversations/{id}/proposals",
            "get",
            "200",
            "ProposalList",
        ),
        ("/api/clinic/appointments", "get", "200", "AppointmentList"),
        ("/api/clinic/appointments", "post", "201", "Booked"),
        ("/api/clinic/appointments/slots", "get", "200", "FreeSlots"),
        (
            "/api/clinic/appointments/{profile}/{id}/cancel",
            "post",
            "200",
            "AppointmentOut",
        ),
        (
            "/api/clinic/appointments/{profile}/{id}/reschedule",
            "post",
            "201",
            "Moved",
        ),
        (
            "/api/clinic/conversations/{profile}/{id}/proposals",
            "get",
            "200",
            "ProposalList",
        ),
    ] {
        assert_eq!(schema_of(path, method, status), schema, "{method} {path}");
        assert_eq!(doc["paths"][path][method]["tags"][0], "appointments");
    }
    for path in [
        "/api/appointments",
        "/api/appointments/{id}/reschedule",
        "/api/clinic/appointments",
        "/api/clinic/appointments/{profile}/{id}/reschedule",
    ] {
        assert!(
            doc["paths"][path]["post"]["responses"]["409"].is_object(),
            "{path} documents the taken slot"
        );
    }
    let appointment = &doc["components"]["schemas"]["AppointmentOut"]["properties"];
    for field in [
        "id",
        "clinic_id",
        "profile_id",
        "start",
        "end",
        "status",
        "note",
        "booked_by",
        "booked_at",
        "ended",
        "sequence",
    ] {
        assert!(appointment.get(field).is_some(), "{field}: {appointment}");
    }
    assert_eq!(appointment["start"]["format"], "date-time");
    let booking = &doc["components"]["schemas"]["NewBooking"];
    let required: BTreeSet<&str> = booking["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from(["clinic_id", "start"]),
        "{booking}"
    );
}
