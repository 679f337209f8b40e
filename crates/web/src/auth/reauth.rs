//! Re-authentication policy: a session is "verified" when its owner passed
//! the second factor or typed the password again
//! ([`needlewise_store::WebSession::verified_at`]), and sensitive changes
//! need that to be recent. Pages send the browser to `/reauth` and back
//! ([`require_recent`]); the JSON API answers 403 ([`require_recent_api`]).
//!
//! Where the browser is sent back to is always a path on this site
//! ([`safe_next`]).

use axum::response::{IntoResponse, Redirect, Response};
use jiff::{SignedDuration, Timestamp};
use needlewise_store::WebSession;

use crate::error::WebError;

/// How long a verification lets sensitive changes through.
pub const RECENT: SignedDuration = SignedDuration::from_mins(10);

/// Whether the session's owner proved who they are within [`RECENT`] of
/// `now` (second factor, or the password again).
pub fn recently_verified(session: &WebSession, now: Timestamp) -> bool {
    session
        .verified_at
        .is_some_and(|at| now.duration_since(at) <= RECENT)
}

/// For a sensitive change on a page: passes when the session was verified
/// recently; otherwise the response to return at once, a redirect to
/// `/reauth` that comes back to `next` (a path on this site; anything else
/// comes back to `/`). The person then submits the change again.
///
/// ```text
/// if let Err(r) = reauth::require_recent(&auth.session, state.now(), "/account/sessions") {
///     return Ok(r);
/// }
/// ```
#[allow(clippy::result_large_err)]
pub fn require_recent(session: &WebSession, now: Timestamp, next: &str) -> Result<(), Response> {
    if recently_verified(session, now) {
        Ok(())
    } else {
        Err(Redirect::to(&with_next("/reauth", next)).into_response())
    }
}

/// The same check for the JSON API, where a redirect makes no sense: a 403
/// (`forbidden`) that says what to do. `what` names the change, as in
/// "prescribing needs a fresh check".
pub fn require_recent_api(
    session: &WebSession,
    now: Timestamp,
    what: &str,
) -> Result<(), WebError> {
    if recently_verified(session, now) {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!(
            "{what} needs a fresh check: confirm your password or code at /reauth first"
        )))
    }
}

/// A redirect target the browser may be sent to: a path on this site
/// (`/…`, not `//host` nor `/\host`), without control characters. Anything
/// else becomes `/`.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 2000
        && !next.chars().any(char::is_control);
    if ok { next.to_owned() } else { "/".to_owned() }
}

/// `path?next=<next>`, with `next` made safe and encoded.
pub fn with_next(path: &str, next: &str) -> String {
    let next = safe_next(next);
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("{path}?next={encoded}")
}

/// For a link followed without a session (an invitation): log in (or sign
/// up) first, then come back to `back`.
pub fn log_in_then(back: &str) -> Response {
    Redirect::to(&with_next("/login", back)).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use needlewise_core::ids::AccountId;
    use uuid::Uuid;

    #[test]
    fn only_same_site_paths_are_followed() {
        for ok in ["/", "/clinic/red-flags", "/mfa?next=%2Fclinic", "/a/b#c"] {
            assert_eq!(safe_next(ok), ok);
        }
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "evil",
            "",
            "javascript:alert(1)",
            "/ok\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        assert_eq!(
            with_next("/reauth", "/mfa?next=/clinic"),
            "/reauth?next=%2Fmfa%3Fnext%3D%2Fclinic"
        );
        assert_eq!(with_next("/reauth", "//evil"), "/reauth?next=%2F");
    }

    #[test]
    fn recent_means_within_ten_minutes() {
        let t0 = Timestamp::from_second(1_795_622_400).unwrap();
        let mut s = WebSession {
            token_hash: "h".into(),
            account_id: AccountId(Uuid::now_v7()),
            csrf_token: "c".into(),
            profile_id: None,
            created_at: t0,
            expires_at: t0,
            verified_at: None,
        };
        assert!(!recently_verified(&s, t0));
        assert!(require_recent_api(&s, t0, "this").is_err());
        s.verified_at = Some(t0);
        assert!(recently_verified(&s, t0));
        assert!(require_recent_api(&s, t0, "this").is_ok());
        assert!(recently_verified(
            &s,
            t0.checked_add(SignedDuration::from_mins(10)).unwrap()
        ));
        assert!(!recently_verified(
            &s,
            t0.checked_add(SignedDuration::from_secs(601)).unwrap()
        ));
    }
}
