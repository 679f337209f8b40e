//! One date format everywhere, chosen by the request's `Accept-Language`,
//! in the person's own zone (`views::day`, `views::moment`).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::{Server, User, refs, screening_form, visible_text};

async fn get_in(s: &Server, u: &User, path: &str, lang: &str) -> String {
    let req = Request::get(path)
        .header(header::COOKIE, &u.cookie)
        .header(header::ACCEPT_LANGUAGE, lang)
        .body(Body::empty())
        .unwrap();
    let (status, _, page) = s.send(req).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    page
}

/// The machine forms of a date in a text: `YYYY-MM-DD`, with or without a
/// time after it (RFC 3339).
fn machine_dates(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b[i].is_ascii_digit());
    (0..b.len().saturating_sub(9))
        .filter(|&i| {
            (i == 0 || !b[i - 1].is_ascii_digit())
                && digits(i..i + 4)
                && b[i + 4] == b'-'
                && digits(i + 5..i + 7)
                && b[i + 7] == b'-'
                && digits(i + 8..i + 10)
        })
        .map(|i| text[i..(i + 25).min(text.len())].to_owned())
        .collect()
}

#[test]
fn the_machine_date_finder_finds_both_forms() {
    assert_eq!(machine_dates("on 2026-12-07.").len(), 1);
    assert_eq!(machine_dates("at 2026-12-07T14:05:00Z").len(), 1);
    assert!(machine_dates("Mon 7 Dec 2026, 14:05 (YYYY-MM-DD)").is_empty());
}

#[tokio::test]
async fn every_page_writes_dates_the_readers_way_in_their_zone_and_never_as_a_machine_does() {
    let s = Server::new();
    let u = s.sign_up("dates@example.org").await;
    // A screening with a zone left out until a date, in New York.
    let (status, _, _) = s
        .post(
            "/profiles/time-zone",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("time_zone", "America/New_York")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mut form = screening_form(&u.csrf);
    form.push(("recent_procedures_kind_0", "botox".into()));
    form.push(("recent_procedures_date_0", "2026-11-01".into()));
    form.push(("recent_procedures_zones_0", "forehead".into()));
    let (status, _, page) = s.post("/screening", Some(&u.cookie), &refs(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    // A roller in its soak, whose end time the page writes.
    let (status, _, _) = s
        .post(
            "/devices",
            Some(&u.cookie),
            &[
                ("csrf", &u.csrf),
                ("name", "bathroom roller"),
                ("kind", "roller"),
                ("needle_mm", "0.25"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, devices) = s.get("/devices", Some(&u.cookie)).await;
    let i = devices.find("/devices/").unwrap() + 9;
    let id = devices[i..i + 36].to_owned();
    for (action, extra) in [("rinse", None), ("soak", Some(("alcohol", "70")))] {
        let mut body = vec![("csrf", u.csrf.as_str())];
        body.extend(extra);
        let (status, _, page) = s
            .post(&format!("/devices/{id}/{action}"), Some(&u.cookie), &body)
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}: {page}");
    }

    // Taken at 16:00 UTC on Wed 25 Nov 2026: 11:00 in New York. Botox on
    // 1 Nov keeps the forehead out for 3 months.
    let gb = get_in(&s, &u, "/screening/result", "en-GB,en;q=0.8").await;
    let us = get_in(&s, &u, "/screening/result", "en-US,en;q=0.9").await;
    assert!(gb.contains("Wed 25 Nov 2026, 11:00"), "{gb}");
    assert!(gb.contains("Mon 1 Feb 2027"), "{gb}");
    assert!(us.contains("Wed, Nov 25, 2026, 11:00 AM"), "{us}");
    assert!(us.contains("Mon, Feb 1, 2027"), "{us}");
    assert!(!us.contains("25 Nov 2026") && !gb.contains("Nov 25, 2026"));
    // The preferred language decides, by its weight; other languages and
    // none at all write the day first.
    let de = get_in(&s, &u, "/screening/result", "de-DE,de;q=0.9,en-US;q=0.8").await;
    assert!(de.contains("Wed 25 Nov 2026, 11:00"), "{de}");
    let weighted = get_in(&s, &u, "/screening/result", "en-GB;q=0.5,en-US").await;
    assert!(weighted.contains("Wed, Nov 25, 2026, 11:00 AM"));
    let (_, _, none) = s.get("/screening/result", Some(&u.cookie)).await;
    assert!(none.contains("Wed 25 Nov 2026, 11:00"));

    // The soak's end on the rollers page, both ways.
    let gb = get_in(&s, &u, "/devices", "en-GB").await;
    let us = get_in(&s, &u, "/devices", "en-US").await;
    assert!(visible_text(&gb).contains("Wed 25 Nov 2026, 11:"), "{gb}");
    assert!(visible_text(&us).contains("Wed, Nov 25, 2026, 11:"), "{us}");

    for path in [
        "/",
        "/screening/result",
        "/devices",
        "/ready",
        "/session",
        "/schedule",
        "/aftercare",
        "/checkin",
        "/progress",
        "/care-team",
        "/account/sessions",
        "/notifications",
        "/profiles",
        "/more",
        "/data",
    ] {
        for lang in ["en-US", "en-GB"] {
            let text = visible_text(&get_in(&s, &u, path, lang).await);
            assert_eq!(
                machine_dates(&text),
                Vec::<String>::new(),
                "{path} ({lang})"
            );
        }
    }
}
