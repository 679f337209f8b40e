//! The clinic's pages: sign-up, the patient list, the red-flag queue, a
//! patient's timeline with photos and the referral packet, protocols and
//! overrides, invites, members (joining by an accepted invitation) and
//! the escalation ladder.
//!
//! Every page takes a [`ClinicCtx`] (a member, second factor passed this
//! session; otherwise 404 or `/mfa`), except sign-up and accepting a team
//! invitation (`team_join`), which are not a member's yet. Every read of patient data goes
//! through the store's clinic methods, which check membership, role and
//! consent and write the patient's audit log: nothing here calls the
//! patient-side store methods with a profile id from a clinic request.

mod admin;
pub(crate) mod appointments;
mod canned;
pub(crate) mod dashboard;
pub(crate) mod messages;
mod patient;
mod signup;
mod team_join;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use needlewise_core::ids::ProfileId;

use crate::AppState;
use crate::auth::reauth;
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::forms;
use crate::views::Chrome;

pub use dashboard::{ListParams, acknowledge_flag, resolve_flag};
pub(crate) use patient::record_of;
pub use patient::rule_title as patient_rule_title;
pub use patient::{
    DEFAULT_DENSITY, OverrideView, Prescribed, ProtocolInput, ProtocolView, checked_prescription,
    overridable_rules, prescribe_protocol, prescription_from_input, zones_of,
};

/// The clinic routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/clinic/signup", get(signup::form).post(signup::submit))
        .route("/clinic", get(dashboard::patients))
        .route("/clinic/red-flags", get(dashboard::red_flags))
        .route(
            "/clinic/red-flags/{profile}/{episode}/ack",
            post(dashboard::acknowledge),
        )
        .route(
            "/clinic/red-flags/{profile}/{episode}/resolve",
            post(dashboard::resolve),
        )
        .route("/clinic/patients/{profile}", get(patient::timeline::show))
        .route(
            "/clinic/patients/{profile}/photos/{photo}",
            get(patient::photos::photo_file),
        )
        .route(
            "/clinic/patients/{profile}/record.json",
            get(patient::referral::record_json),
        )
        .route(
            "/clinic/patients/{profile}/report.pdf",
            get(patient::referral::report_pdf),
        )
        .route(
            "/clinic/patients/{profile}/protocol",
            get(patient::protocol::protocol_form).post(patient::protocol::prescribe),
        )
        .route(
            "/clinic/patients/{profile}/overrides",
            post(patient::overrides::add_override),
        )
        .route(
            "/clinic/patients/{profile}/overrides/{id}/revoke",
            post(patient::overrides::revoke_override),
        )
        .route("/clinic/appointments", get(appointments::list))
        .route(
            "/clinic/appointments/hours",
            get(appointments::hours_form).post(appointments::save_hours),
        )
        .route(
            "/clinic/appointments/{profile}/{id}/cancel",
            post(appointments::cancel),
        )
        .route(
            "/clinic/appointments/{profile}/{id}/reschedule",
            get(appointments::reschedule_form).post(appointments::reschedule),
        )
        .route(
            "/clinic/appointments/{profile}/book",
            get(appointments::book_form).post(appointments::book),
        )
        .route(
            "/clinic/messages/{profile}/{conversation}/propose",
            get(appointments::propose_form).post(appointments::propose),
        )
        .route("/clinic/messages", get(messages::inbox))
        .route(
            "/clinic/messages/patients/{profile}",
            get(messages::patient_inbox),
        )
        .route(
            "/clinic/messages/{profile}/{conversation}",
            get(messages::show)
                .post(messages::reply)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::pages::messages::MAX_MESSAGE_FORM,
                )),
        )
        .route(
            "/clinic/messages/{profile}/{conversation}/updates",
            get(messages::updates),
        )
        .route(
            "/clinic/messages/{profile}/photos/{file}",
            get(messages::photo_file),
        )
        .route(canned::PATH, get(canned::list).post(canned::save))
        .route("/clinic/canned-replies/{id}/delete", post(canned::delete))
        .route("/clinic/invites", get(admin::invites).post(admin::invite))
        .route(
            "/clinic/members",
            get(admin::members).post(admin::add_member),
        )
        .route(
            "/clinic/settings",
            get(admin::settings).post(admin::save_ladder),
        )
        .route(
            "/clinic/join/{code}",
            get(team_join::form).post(team_join::accept),
        )
}

/// The frame of a clinic page.
pub(crate) fn chrome(title: &str, ctx: &ClinicCtx) -> Chrome {
    Chrome {
        title: format!("{title} · {}", ctx.clinic.name),
        nav: "clinic",
        csrf: ctx.csrf().to_owned(),
        profile: ctx.member.display_name.clone(),
        logged_in: true,
        unread: 0,
    }
}

/// The clinic's own navigation, shown at the top of its pages.
#[derive(Debug, Clone)]
pub struct ClinicHead {
    pub clinic: String,
    pub role: &'static str,
    /// (href, label, current)
    pub links: Vec<(String, &'static str, bool)>,
    /// Other clinics of this account: (href, name).
    pub others: Vec<(String, String)>,
    /// Conversations with a patient message nobody here has opened, on
    /// the pages that count them (the messages pages).
    pub unread: u32,
}

pub(crate) fn head(ctx: &ClinicCtx, current: &str) -> ClinicHead {
    let mut links = vec![("/clinic", "Patients")];
    if ctx.is_clinician() {
        links.push(("/clinic/red-flags", "Red flags"));
    }
    links.push(("/clinic/messages", "Messages"));
    links.push(("/clinic/appointments", "Appointments"));
    links.push((canned::PATH, "Canned replies"));
    links.extend([
        ("/clinic/invites", "Invite a patient"),
        ("/clinic/members", "Team"),
        ("/clinic/settings", "Escalation"),
    ]);
    ClinicHead {
        clinic: ctx.clinic.name.clone(),
        role: ctx.role().label(),
        links: links
            .into_iter()
            .map(|(href, label)| (ctx.link(href), label, href == current))
            .collect(),
        others: ctx
            .memberships
            .iter()
            .filter(|(c, _)| c.id != ctx.clinic.id)
            .map(|(c, _)| (format!("/clinic?clinic={}", c.id), c.name.clone()))
            .collect(),
        unread: 0,
    }
}

/// A profile id from the path; anything unreadable is "not found".
pub(crate) fn profile_id(raw: &str) -> Result<ProfileId, WebError> {
    raw.parse().map_err(|_| WebError::NotFound)
}

/// Checks the form's CSRF token against the clinic session.
pub(crate) fn checked(
    ctx: &ClinicCtx,
    body: &axum::body::Bytes,
) -> Result<Vec<(String, String)>, WebError> {
    if body.len() > 64 * 1024 {
        return Err(WebError::BadInput("the form is too large".into()));
    }
    let pairs = forms::pairs(body);
    ctx.check_csrf(forms::field(&pairs, "csrf").unwrap_or_default())?;
    Ok(pairs)
}

/// For a sensitive change: `None` when the member proved who they are in
/// the last few minutes, else the redirect to `/reauth?next=<back>`.
pub(crate) fn needs_reauth(state: &AppState, ctx: &ClinicCtx, back: &str) -> Option<Response> {
    reauth::require_recent(&ctx.session, state.now(), &ctx.link(back)).err()
}

/// A page with a status other than 200 (a form shown again with its
/// problems).
pub(crate) fn page_with(status: axum::http::StatusCode, t: &impl askama::Template) -> Response {
    let mut r = super::page(t);
    *r.status_mut() = status;
    r
}
