//! Invites, the clinic's team and its escalation ladder.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::SignedDuration;
use needlewise_core::clinic::{Ladder, Member, Role, Step, Target};
use needlewise_core::ids::{AccountId, EmailId};
use needlewise_store::clinic::{Email, Invite, MemberInvite};

use super::{ClinicHead, checked, chrome, head, needs_reauth, page_with};
use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::pages::{page, see_other};
use crate::views::Chrome;
use crate::{AppState, auth, blocking, forms};

const LABEL_MAX: usize = 100;

#[derive(Debug, Template)]
#[template(path = "clinic_invites.html")]
pub struct InvitesPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    pub suffix: String,
    /// The new invite's link, shown once: (path, full url or "", label, expires).
    pub created: Option<(String, String, String, String)>,
    pub message: String,
}

pub async fn invites(ctx: ClinicCtx) -> Response {
    page(&InvitesPage {
        chrome: chrome("Invite a patient", &ctx),
        head: head(&ctx, "/clinic/invites"),
        suffix: ctx.link(""),
        created: None,
        message: String::new(),
    })
}

/// Creates an invite; returns the code (shown once; only its hash is kept).
pub async fn create_invite(
    state: &AppState,
    ctx: &ClinicCtx,
    label: &str,
    days: &str,
) -> Result<(String, Invite), WebError> {
    let label = label.trim();
    if !label.is_empty() {
        needlewise_core::text::single_line(label, LABEL_MAX)
            .map_err(|e| WebError::BadInput(format!("label: {e}")))?;
    }
    let days: i64 = days
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=30).contains(d))
        .ok_or_else(|| WebError::BadInput("expires: give 1 to 30 days".into()))?;
    let code = auth::random_token()?;
    let now = state.now();
    let invite = Invite {
        clinic_id: ctx.clinic.id,
        code_hash: auth::token_hash(&code),
        label: label.to_owned(),
        created_by: ctx.access.account,
        created_at: now,
        expires_at: now
            .checked_add(SignedDuration::from_hours(24 * days))
            .map_err(|e| WebError::Internal(e.into()))?,
        used_by: None,
        used_at: None,
    };
    let access = ctx.access;
    let stored = invite.clone();
    blocking(state, move |s| s.create_invite(&access, &stored)).await?;
    Ok((code, invite))
}

pub async fn invite(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    let result = create_invite(
        &state,
        &ctx,
        forms::field(&pairs, "label").unwrap_or_default(),
        forms::field(&pairs, "days").unwrap_or("7"),
    )
    .await;
    let (created, message, status) = match result {
        Ok((code, inv)) => {
            let path = format!("/join/{code}");
            let full = state
                .config
                .public_url
                .as_deref()
                .map(|u| format!("{}{path}", u.trim_end_matches('/')))
                .unwrap_or_default();
            (
                Some((path, full, inv.label, ctx.local(inv.expires_at))),
                String::new(),
                StatusCode::OK,
            )
        }
        Err(e @ WebError::BadInput(_)) => (None, e.to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => return Err(e),
    };
    Ok(page_with(
        status,
        &InvitesPage {
            chrome: chrome("Invite a patient", &ctx),
            head: head(&ctx, "/clinic/invites"),
            suffix: ctx.link(""),
            created,
            message,
        },
    ))
}

#[derive(Debug, Template)]
#[template(path = "clinic_members.html")]
pub struct MembersPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    /// (name, role, joined, is me)
    pub members: Vec<(String, &'static str, String, bool)>,
    /// Open team invitations, for clinicians: (email, role, expires).
    pub pending: Vec<(String, &'static str, String)>,
    /// Right after inviting, shown once: (path, full url or "").
    pub invited: Option<(String, String)>,
    pub clinician: bool,
    pub suffix: String,
    pub message: String,
}

/// How long a team invitation stays open.
const MEMBER_INVITE_DAYS: i64 = 7;

async fn members_page(
    state: &AppState,
    ctx: &ClinicCtx,
    message: String,
) -> Result<MembersPage, WebError> {
    let access = ctx.access;
    let list = blocking(state, move |s| s.members(&access)).await?;
    let pending = if ctx.is_clinician() {
        let now = state.now();
        blocking(state, move |s| s.member_invites(&access, now)).await?
    } else {
        Vec::new()
    };
    Ok(MembersPage {
        chrome: chrome("Team", ctx),
        head: head(ctx, "/clinic/members"),
        members: list
            .iter()
            .map(|m| {
                (
                    m.display_name.clone(),
                    m.role.label(),
                    ctx.local(m.joined_at),
                    m.account_id == ctx.access.account,
                )
            })
            .collect(),
        pending: pending
            .iter()
            .map(|i| (i.email.clone(), i.role.label(), ctx.local(i.expires_at)))
            .collect(),
        invited: None,
        clinician: ctx.is_clinician(),
        suffix: ctx.link(""),
        message,
    })
}

pub async fn members(State(state): State<AppState>, ctx: ClinicCtx) -> Result<Response, WebError> {
    Ok(page(&members_page(&state, &ctx, String::new()).await?))
}

/// Whether `email` looks like an address (lower-cased, trimmed).
fn plausible_email(email: &str) -> bool {
    let n = email.chars().count();
    (3..=254).contains(&n)
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// Invites someone to the team: an invitation for the address, an email
/// to it, and the same confirmation whether or not the address has an
/// account (this page never looks).
pub async fn add_member(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    if !ctx.is_clinician() {
        return Err(WebError::Forbidden(
            "only a clinician can add people to the team".into(),
        ));
    }
    if let Some(r) = needs_reauth(&state, &ctx, "/clinic/members") {
        return Ok(r);
    }
    let get = |k: &str| {
        forms::field(&pairs, k)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let checked_input = (|| {
        let email = get("email").to_lowercase();
        if !plausible_email(&email) {
            return Err(WebError::BadInput(
                "email: give the address they use, or will use, for needlewise".into(),
            ));
        }
        let role: Role = get("role")
            .parse()
            .map_err(|_| WebError::BadInput("role: choose clinician or staff".into()))?;
        let name = get("display_name");
        needlewise_core::text::single_line(&name, 100).map_err(|e| {
            WebError::BadInput(format!("name: how patients and colleagues see them: {e}"))
        })?;
        Ok((role, name, email))
    })();
    let (role, name, email) = match checked_input {
        Ok(v) => v,
        Err(e) => {
            let p = members_page(&state, &ctx, e.to_string()).await?;
            return Ok(page_with(StatusCode::UNPROCESSABLE_ENTITY, &p));
        }
    };
    let code = auth::random_token()?;
    let now = state.now();
    let invite = MemberInvite {
        clinic_id: ctx.clinic.id,
        code_hash: auth::token_hash(&code),
        email,
        role,
        display_name: name,
        created_by: ctx.access.account,
        created_at: now,
        expires_at: now
            .checked_add(SignedDuration::from_hours(24 * MEMBER_INVITE_DAYS))
            .map_err(|e| WebError::Internal(e.into()))?,
        used_by: None,
        used_at: None,
    };
    let path = format!("/clinic/join/{code}");
    let full = state
        .config
        .public_url
        .as_deref()
        .map(|u| format!("{}{path}", u.trim_end_matches('/')))
        .unwrap_or_default();
    let link = if full.is_empty() {
        path.clone()
    } else {
        full.clone()
    };
    let email = Email {
        id: EmailId(uuid::Uuid::now_v7()),
        to: invite.email.clone(),
        subject: format!("needlewise: join the team of {}", ctx.clinic.name),
        body: format!(
            "Hello {name},\n\n{by} has invited you to join the team of {clinic} on needlewise, as {role}.\n\nTo accept, open {link} and log in with this email address. If you have no needlewise account yet, sign up with this address first, then open the link again. The invitation can be used once, until {expires}.\n\nIf you did not expect this, you can ignore this email: nothing happens unless you accept.\n\n-- needlewise for {clinic}\n",
            name = invite.display_name,
            by = ctx.member.display_name,
            clinic = ctx.clinic.name,
            role = invite.role.label().to_lowercase(),
            expires = ctx.local(invite.expires_at),
        ),
        calendar: None,
        created_at: now,
        sent_at: None,
        attempts: 0,
        last_error: String::new(),
    };
    let access = ctx.access;
    blocking(&state, move |s| {
        s.create_member_invite(&access, &invite)?;
        s.queue_email(&email)
    })
    .await?;
    let mut p = members_page(&state, &ctx, String::new()).await?;
    p.invited = Some((path, full));
    Ok(page(&p))
}

/// One row of the ladder form.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub index: usize,
    pub hours: String,
    /// The chosen target's value (`role:clinician`, `member:<id>`).
    pub target: String,
}

#[derive(Debug, Template)]
#[template(path = "clinic_settings.html")]
pub struct SettingsPage {
    pub chrome: Chrome,
    pub head: ClinicHead,
    pub steps: Vec<StepRow>,
    /// (value, label)
    pub targets: Vec<(String, String)>,
    pub clinician: bool,
    pub time_zone: String,
    pub suffix: String,
    pub message: String,
}

fn target_value(t: &Target) -> String {
    match t {
        Target::Role { role } => format!("role:{role}"),
        Target::Member { account_id } => format!("member:{account_id}"),
    }
}

async fn settings_page(
    state: &AppState,
    ctx: &ClinicCtx,
    rows: Option<Vec<StepRow>>,
    message: String,
) -> Result<SettingsPage, WebError> {
    let access = ctx.access;
    let members = blocking(state, move |s| s.members(&access)).await?;
    let mut targets: Vec<(String, String)> = Role::ALL
        .iter()
        .map(|r| {
            (
                format!("role:{r}"),
                format!("every {}", r.label().to_lowercase()),
            )
        })
        .collect();
    targets.extend(members.iter().map(|m| {
        (
            format!("member:{}", m.account_id),
            format!("{} ({})", m.display_name, m.role.label().to_lowercase()),
        )
    }));
    let mut steps = rows.unwrap_or_else(|| {
        ctx.clinic
            .ladder
            .steps
            .iter()
            .enumerate()
            .map(|(index, s)| StepRow {
                index,
                hours: format!("{}", s.after.as_secs_f64() / 3600.0),
                target: target_value(&s.notify),
            })
            .collect()
    });
    // Room for two more steps.
    let n = steps.len();
    for index in n..(n + 2).min(10) {
        steps.push(StepRow {
            index,
            hours: String::new(),
            target: String::new(),
        });
    }
    Ok(SettingsPage {
        chrome: chrome("Escalation", ctx),
        head: head(ctx, "/clinic/settings"),
        steps,
        targets,
        clinician: ctx.is_clinician(),
        time_zone: ctx.clinic.time_zone.clone(),
        suffix: ctx.link(""),
        message,
    })
}

pub async fn settings(State(state): State<AppState>, ctx: ClinicCtx) -> Result<Response, WebError> {
    Ok(page(
        &settings_page(&state, &ctx, None, String::new()).await?,
    ))
}

/// Reads the ladder from the form's rows (`after_<i>` hours, `notify_<i>`);
/// rows with no hours are skipped.
pub fn ladder_from_form(
    pairs: &[(String, String)],
    members: &[Member],
) -> Result<Ladder, WebError> {
    let mut steps = Vec::new();
    for i in 0..12 {
        let hours = forms::field(pairs, &format!("after_{i}"))
            .unwrap_or_default()
            .trim();
        if hours.is_empty() {
            continue;
        }
        let n = i + 1;
        let h: f64 = hours
            .parse()
            .ok()
            .filter(|h: &f64| h.is_finite() && (0.0..=720.0).contains(h))
            .ok_or_else(|| WebError::BadInput(format!("step {n}: give 0 to 720 hours")))?;
        let after = SignedDuration::try_from_secs_f64(h * 3600.0)
            .map_err(|_| WebError::BadInput(format!("step {n}: give 0 to 720 hours")))?;
        let target = forms::field(pairs, &format!("notify_{i}")).unwrap_or_default();
        let notify = if let Some(role) = target.strip_prefix("role:") {
            Target::Role {
                role: role
                    .parse()
                    .map_err(|_| WebError::BadInput(format!("step {n}: choose who to tell")))?,
            }
        } else if let Some(id) = target.strip_prefix("member:") {
            let account_id: AccountId = id
                .parse()
                .map_err(|_| WebError::BadInput(format!("step {n}: choose who to tell")))?;
            if !members.iter().any(|m| m.account_id == account_id) {
                return Err(WebError::BadInput(format!(
                    "step {n}: that person is not on the team"
                )));
            }
            Target::Member { account_id }
        } else {
            return Err(WebError::BadInput(format!("step {n}: choose who to tell")));
        };
        steps.push(Step { after, notify });
    }
    let ladder = Ladder { steps };
    ladder.validate().map_err(WebError::BadInput)?;
    Ok(ladder)
}

pub async fn save_ladder(
    State(state): State<AppState>,
    ctx: ClinicCtx,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked(&ctx, &body)?;
    if !ctx.is_clinician() {
        return Err(WebError::Forbidden(
            "only a clinician can change the escalation ladder".into(),
        ));
    }
    if let Some(r) = needs_reauth(&state, &ctx, "/clinic/settings") {
        return Ok(r);
    }
    let access = ctx.access;
    let members = blocking(&state, move |s| s.members(&access)).await?;
    match ladder_from_form(&pairs, &members) {
        Ok(ladder) => {
            blocking(&state, move |s| s.set_ladder(&access, &ladder)).await?;
            Ok(see_other(&format!(
                "{}#ladder",
                ctx.link("/clinic/settings")
            )))
        }
        Err(e) => {
            let rows = (0..12)
                .filter_map(|i| {
                    let hours = forms::field(&pairs, &format!("after_{i}"))?.to_owned();
                    Some(StepRow {
                        index: i,
                        hours,
                        target: forms::field(&pairs, &format!("notify_{i}"))
                            .unwrap_or_default()
                            .to_owned(),
                    })
                })
                .enumerate()
                .map(|(index, r)| StepRow { index, ..r })
                .collect();
            let p = settings_page(&state, &ctx, Some(rows), e.to_string()).await?;
            Ok(page_with(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn the_ladder_form_reads_rows_and_skips_empty_ones() {
        let ladder = ladder_from_form(
            &pairs(&[
                ("after_0", "0"),
                ("notify_0", "role:clinician"),
                ("after_1", ""),
                ("notify_1", "role:staff"),
                ("after_2", "1.5"),
                ("notify_2", "role:staff"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(ladder.steps.len(), 2);
        assert_eq!(ladder.steps[1].after, SignedDuration::from_mins(90));
    }

    #[test]
    fn the_ladder_form_refuses_strangers_bad_hours_and_disorder() {
        let stranger = format!("member:{}", uuid::Uuid::now_v7());
        for (form, want) in [
            (
                vec![("after_0", "0"), ("notify_0", stranger.as_str())],
                "not on the team",
            ),
            (
                vec![("after_0", "-1"), ("notify_0", "role:staff")],
                "0 to 720 hours",
            ),
            (
                vec![("after_0", "800"), ("notify_0", "role:staff")],
                "0 to 720 hours",
            ),
            (
                vec![("after_0", "1"), ("notify_0", "role:nurse")],
                "choose who",
            ),
            (vec![], "at least one step"),
            (
                vec![
                    ("after_0", "5"),
                    ("notify_0", "role:staff"),
                    ("after_1", "1"),
                    ("notify_1", "role:staff"),
                ],
                "time order",
            ),
        ] {
            let err = ladder_from_form(&pairs(&form), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{form:?}: {err}");
        }
    }
}
