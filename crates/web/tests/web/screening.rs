//! The screening a topic at a time (`pages/screening.rs`): each step
//! carries the other steps' answers, Back and Next keep every answer, a
//! problem is shown on its own step, and the last step screens exactly as
//! the one-page form did.

use axum::http::StatusCode;
use needlewise_core::ids::ProfileId;

use super::{Server, refs, screening_form};

fn profile_of(s: &Server, email: &str) -> ProfileId {
    let account = s.store.account_by_email(email).unwrap().unwrap();
    s.store.profiles(account.id).unwrap()[0].id
}

/// The value of an attribute in a tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// An attribute's text as the browser reads it.
fn unescape(v: &str) -> String {
    v.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden inputs of a page's form, as a browser sends them back.
fn hidden(page: &str) -> Vec<(String, String)> {
    page.split("<input ")
        .skip(1)
        .filter_map(|rest| {
            let tag = format!(" {}", &rest[..rest.find('>')?]);
            (attr(&tag, "type") == Some("hidden")).then(|| {
                (
                    attr(&tag, "name").unwrap_or_default().to_owned(),
                    unescape(attr(&tag, "value").unwrap_or_default()),
                )
            })
        })
        .collect()
}

/// The questions a page shows, by their fieldsets' ids.
fn shown(page: &str) -> Vec<String> {
    page.split("<fieldset ")
        .skip(1)
        .filter_map(|rest| attr(&rest[..rest.find('>')?], "id"))
        .filter_map(|id| id.strip_prefix("q-"))
        .map(str::to_owned)
        .collect()
}

/// What a person sends from a step: the page's hidden inputs and their own
/// answers (from `answers`) to the questions it shows, as a browser would
/// after filling them in.
fn send_from(page: &str, answers: &[(&'static str, String)], go: &str) -> Vec<(String, String)> {
    let here = shown(page);
    let mut body = hidden(page);
    body.extend(
        answers
            .iter()
            .filter(|(k, _)| {
                here.iter().any(|q| {
                    *k == q
                        || k.strip_prefix(q.as_str())
                            .is_some_and(|r| r.starts_with('_'))
                })
            })
            .map(|(k, v)| ((*k).to_owned(), v.clone())),
    );
    body.push(("go".into(), go.into()));
    body
}

fn pairs(body: &[(String, String)]) -> Vec<(&str, &str)> {
    body.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The step a page shows, from its progress element: (value, max).
fn step_of(page: &str) -> (usize, usize) {
    let start = page.find("<progress ").expect("a progress element");
    let tag = &page[start..start + page[start..].find('>').unwrap()];
    (
        attr(tag, "value").unwrap().parse().unwrap(),
        attr(tag, "max").unwrap().parse().unwrap(),
    )
}

/// Answers that touch steps far apart: the zones (device step) decide
/// whether the antiviral question (last step) is asked; a darker skin type
/// and a pen give precautions.
fn answers(csrf: &str) -> Vec<(&'static str, String)> {
    let mut form = screening_form(csrf);
    form.retain(|(k, _)| !matches!(*k, "csrf" | "fitzpatrick" | "cold_sores" | "device_kind"));
    for (k, v) in [
        ("fitzpatrick", "5"),
        ("device_kind", "pen"),
        ("zones", "chin"),
        ("cold_sores", "yes"),
        ("antiviral_plan_confirmed", "yes"),
        ("tattoo_zones", "forehead"),
        ("recent_procedures_kind_0", "botox"),
        ("recent_procedures_date_0", "2026-11-01"),
        ("recent_procedures_zones_0", "left_cheek"),
    ] {
        form.push((k, v.to_owned()));
    }
    form
}

#[tokio::test]
async fn stepping_forward_and_back_keeps_every_answer_and_screens_like_the_one_page_form() {
    let s = Server::new();
    let user = s.sign_up("steps@example.org").await;
    let given = answers(&user.csrf);

    let (status, _, mut page) = s.get("/screening", Some(&user.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, steps) = step_of(&page);
    assert!(steps >= 5, "{steps} steps");
    assert!(
        page.contains(&format!("Step 1 of {steps}: About you")),
        "{page}"
    );
    assert_eq!(shown(&page), ["age", "sex", "pregnant", "breastfeeding"]);
    assert!(page.contains(r#"action="/screening/step""#));
    assert!(
        !page.contains(r#"value="back""#),
        "no Back on the first step"
    );

    let mut seen = Vec::new();
    for n in 1..steps {
        assert_eq!(step_of(&page), (n, steps), "{page}");
        seen.extend(shown(&page));
        if n == 4 {
            // Back from step 4 to step 3, and on again: both steps' answers
            // come back as given.
            let body = send_from(&page, &given, "back");
            let (status, _, back) = s
                .post("/screening/step", Some(&user.cookie), &pairs(&body))
                .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(step_of(&back).0, 3);
            assert!(
                back.contains(r#"name="isotretinoin" value="never" checked"#),
                "{back}"
            );
            assert!(
                back.contains(r#"<input type="hidden" name="fitzpatrick" value="5">"#),
                "{back}"
            );
            let body: Vec<(String, String)> = hidden(&back)
                .into_iter()
                .chain(
                    given
                        .iter()
                        .filter(|(k, _)| shown(&back).iter().any(|q| q == k))
                        .map(|(k, v)| ((*k).to_owned(), v.clone())),
                )
                .chain([("go".to_owned(), "next".to_owned())])
                .collect();
            let (_, _, again) = s
                .post("/screening/step", Some(&user.cookie), &pairs(&body))
                .await;
            assert_eq!(step_of(&again).0, 4, "{again}");
            assert!(again.contains(r#"name="fitzpatrick" id="fitzpatrick" min="1" max="6" step="1" inputmode="decimal" aria-label="#));
            assert!(again.contains(r#"value="5""#), "the skin type is kept");
            assert!(again.contains(r#"name="keloid_tendency" value="no" checked"#));
        }
        let body = send_from(&page, &given, "next");
        let (status, _, next) = s
            .post("/screening/step", Some(&user.cookie), &pairs(&body))
            .await;
        assert_eq!(status, StatusCode::OK, "step {n}: {next}");
        page = next;
    }
    // The last step: its questions, every earlier answer carried.
    assert_eq!(step_of(&page), (steps, steps));
    assert!(
        page.contains(r#"action="/screening""#),
        "the last step sends everything"
    );
    assert!(page.contains("See my verdict"));
    assert!(
        page.contains(r#"<input type="hidden" name="zones" value="chin">"#),
        "{page}"
    );
    assert!(page.contains(r#"<input type="hidden" name="age" value="35">"#));
    seen.extend(shown(&page));
    let mut all: Vec<String> = needlewise_core::evidence()
        .screening
        .questions
        .iter()
        .map(|q| q.id.clone())
        .collect();
    seen.sort();
    all.sort();
    assert_eq!(seen, all, "every question is asked on exactly one step");
    assert_eq!(
        s.store.counts().unwrap().screenings,
        0,
        "steps store nothing"
    );

    let body = send_from(&page, &given, "next");
    let (status, _, _) = s
        .post("/screening", Some(&user.cookie), &pairs(&body))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // The same answers on the one-page form, for someone else.
    let other = s.sign_up("one-page@example.org").await;
    let mut one_page = answers(&other.csrf);
    one_page.push(("csrf", other.csrf.clone()));
    let (status, _, _) = s
        .post("/screening", Some(&other.cookie), &refs(&one_page))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let stepped = s
        .store
        .latest_screening(profile_of(&s, "steps@example.org"))
        .unwrap()
        .unwrap();
    let whole = s
        .store
        .latest_screening(profile_of(&s, "one-page@example.org"))
        .unwrap()
        .unwrap();
    assert_eq!(stepped.answers, whole.answers);
    assert_eq!(stepped.verdict, whole.verdict);
    assert_eq!(stepped.result, whole.result);
    // Not a trivial verdict: the answers on far-apart steps each counted.
    let rules: Vec<&str> = stepped
        .result
        .reasons
        .iter()
        .map(|r| r.rule_id.as_str())
        .collect();
    for rule in [
        "screen.fitzpatrick_iv_vi",
        "screen.device.pen",
        "screen.cold_sores.with_antiviral_plan",
        "screen.tattoo",
        "screen.procedure.botox",
    ] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
}

#[tokio::test]
async fn a_missing_answer_is_shown_on_its_own_step_with_no_answer_lost() {
    let s = Server::new();
    let user = s.sign_up("missing@example.org").await;
    let mut given = answers(&user.csrf);
    let (_, _, step1) = s.get("/screening", Some(&user.cookie)).await;
    let body = send_from(&step1, &given, "next");
    let (_, _, step2) = s
        .post("/screening/step", Some(&user.cookie), &pairs(&body))
        .await;
    assert_eq!(step_of(&step2).0, 2);
    assert!(shown(&step2).contains(&"diabetes".to_owned()));

    // Step 2 sent without the diabetes answer.
    given.retain(|(k, _)| *k != "diabetes");
    let body = send_from(&step2, &given, "next");
    let (status, _, again) = s
        .post("/screening/step", Some(&user.cookie), &pairs(&body))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(step_of(&again).0, 2, "the same step again");
    assert!(
        again.contains(
            r#"<p class="field-error" id="err-diabetes">Please choose one of the answers.</p>"#
        ),
        "{again}"
    );
    assert!(
        again.contains(
            r##"<a href="#q-diabetes">Diabetes: none, controlled, or uncontrolled?</a>"##
        )
    );
    // This step's other answers, and the first step's, are all kept.
    assert!(again.contains(r#"name="cardiac_condition" value="no" checked"#));
    assert!(again.contains(r#"name="other_serious_condition" value="no" checked"#));
    assert!(again.contains(r#"<input type="hidden" name="age" value="35">"#));
    assert!(again.contains(r#"<input type="hidden" name="sex" value="female">"#));
    assert!(!again.contains(r#"aria-describedby="err-cardiac_condition""#));
    assert_eq!(s.store.counts().unwrap().screenings, 0);

    // A problem an earlier step hides (a tampered hidden input) brings
    // that step back, not the one sent.
    let mut body = send_from(&step2, &answers(&user.csrf), "next");
    for (k, v) in body.iter_mut() {
        if k == "age" {
            *v = "many".into();
        }
    }
    let (status, _, first) = s
        .post("/screening/step", Some(&user.cookie), &pairs(&body))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(step_of(&first).0, 1);
    assert!(first.contains(r#"id="err-age""#), "{first}");
    assert!(first.contains(r#"<input type="hidden" name="diabetes" value="none">"#));
}
