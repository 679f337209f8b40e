//! [`ClinicStore`], written once over [`Backend`]. Every clinic read or
//! change of a patient's data runs in one transaction: the asker's
//! membership and the patient's link and scopes are loaded, the core's
//! [`decide`] answers (`NotFound` or `Forbidden`, decided once), the data
//! is read or changed, and the patient's audit log gets its line, all or
//! nothing. List views write their audit lines in a short transaction of
//! their own, only when the window needs them.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::clinic::{
    Act, CHECKIN_GRACE, Clinic, Grant, Ladder, Member, Override, PatientStatus, Protocol, Refusal,
    Role, Scope, clinician_only, decide, overdue_checkins, permits,
};
use needlewise_core::evidence::evidence;
use needlewise_core::ids::{
    AccountId, AuditId, ClinicId, EmailId, EpisodeId, NotificationId, OverrideId, PhotoId,
    ProfileId,
};
use needlewise_core::progress::Photo;
use needlewise_core::records::Resolver;
use needlewise_core::schedule::{LastSession, next_session};
use needlewise_core::triage::checkin_schedule;

use crate::clinic::{
    Acknowledgement, AuditEntry, CalendarPart, ClinicAccess, ClinicStore, Email, EscalationClaim,
    Invite, LIST_VIEW_AUDIT_WINDOW, MailStatus, MemberInvite, Notification, OpenFlag,
    PatientCursor, PatientFilter, PatientLink, PatientPage, PatientQuery, PatientRecord,
    PatientSummary, RedFlag, TotpSecret, new_audit_id,
};
use crate::codec::{self, to_u32, to_u64};
use crate::sql::{
    Backend, Cols, Dialect, Isolation, Tx, Value, aliased, args, insert_error, json, qualified,
};
use crate::store_impl::{
    ACTIVE_PROTOCOL, CHECKIN_COLUMNS, EPISODE_COLUMNS, NEWEST_SESSIONS, PHOTO_COLUMNS,
    PROFILE_COLUMNS, WEB_SESSION_COLUMNS, checkin_from, episode_from, latest_screening_of,
    photo_from, profile_from, sessions_of, web_session_from,
};
use crate::{ClinicWebSession, Result, StoreError, WebSession};

pub(crate) const CLINIC_COLUMNS: &str = "id, name, time_zone, ladder, created_at";

pub(crate) fn clinic_from(r: Cols<'_>) -> Result<Clinic> {
    Ok(Clinic {
        id: ClinicId(r.uuid("id")?),
        name: r.text("name")?,
        time_zone: r.text("time_zone")?,
        ladder: r.decode("ladder")?,
        created_at: r.ts("created_at")?,
    })
}

pub(crate) const MEMBER_COLUMNS: &str = "clinic_id, account_id, role, display_name, joined_at";

pub(crate) fn member_from(r: Cols<'_>) -> Result<Member> {
    Ok(Member {
        clinic_id: ClinicId(r.uuid("clinic_id")?),
        account_id: AccountId(r.uuid("account_id")?),
        role: r.parse("role", "role")?,
        display_name: r.text("display_name")?,
        joined_at: r.ts("joined_at")?,
    })
}

pub(crate) const TOTP_COLUMNS: &str = "account_id, secret, enabled_at, last_step, pending_session";

pub(crate) fn totp_from(r: Cols<'_>) -> Result<TotpSecret> {
    Ok(TotpSecret {
        account_id: AccountId(r.uuid("account_id")?),
        secret: hex_decode(r.str("secret")?)?,
        enabled_at: r.opt_ts("enabled_at")?,
        last_step: r.int("last_step")?,
        pending_session: r.opt_text("pending_session")?,
    })
}

/// The raw secret from its lower-case hex.
pub(crate) fn hex_decode(s: &str) -> Result<Vec<u8>> {
    let bad = || StoreError::invalid("stored TOTP secret is not hex");
    if s.len() % 2 != 0 {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// [`crate::Store::clinic_web_session`] in one statement: the session's
/// row joined with its second factor and its memberships (one row each,
/// or one row with none).
pub(crate) fn clinic_web_session(
    tx: &mut dyn Tx,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<ClinicWebSession>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {}, {}, {}, {}
             FROM web_sessions w
             LEFT JOIN totp_secrets t ON t.account_id = w.account_id
             LEFT JOIN clinic_members m ON m.account_id = w.account_id
             LEFT JOIN clinics c ON c.id = m.clinic_id
             WHERE w.token_hash = ?1 AND w.expires_at > ?2
             ORDER BY m.joined_at, m.clinic_id",
            qualified(WEB_SESSION_COLUMNS, "w"),
            aliased(TOTP_COLUMNS, "t", "t_"),
            aliased(CLINIC_COLUMNS, "c", "c_"),
            aliased(MEMBER_COLUMNS, "m", "m_"),
        )
    });
    let rows = tx.query(&SQL, args![token_hash, now])?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let totp = first.prefixed("t_");
    let totp = if totp.is_null("account_id")? {
        None
    } else {
        Some(totp_from(totp)?)
    };
    let mut memberships = Vec::new();
    for row in &rows {
        if !row.prefixed("c_").is_null("id")? {
            memberships.push((
                clinic_from(row.prefixed("c_"))?,
                member_from(row.prefixed("m_"))?,
            ));
        }
    }
    Ok(Some(ClinicWebSession {
        session: web_session_from(first.cols())?,
        memberships,
        totp,
    }))
}

const MEMBER_INVITE_COLUMNS: &str = "clinic_id, code_hash, email, role, display_name, created_by, created_at, expires_at, used_by, used_at";

fn member_invite_from(r: Cols<'_>) -> Result<MemberInvite> {
    Ok(MemberInvite {
        clinic_id: ClinicId(r.uuid("clinic_id")?),
        code_hash: r.text("code_hash")?,
        email: r.text("email")?,
        role: r.parse("role", "role")?,
        display_name: r.text("display_name")?,
        created_by: AccountId(r.uuid("created_by")?),
        created_at: r.ts("created_at")?,
        expires_at: r.ts("expires_at")?,
        used_by: r.opt_uuid("used_by")?.map(AccountId),
        used_at: r.opt_ts("used_at")?,
    })
}

/// An acknowledgement from `ack_by`, `ack_name`, `ack_at` and `ack_note`.
fn ack_from(r: Cols<'_>) -> Result<Option<Acknowledgement>> {
    let Some(by) = r.opt_uuid("ack_by")? else {
        return Ok(None);
    };
    Ok(Some(Acknowledgement {
        by: AccountId(by),
        by_name: r.text("ack_name")?,
        at: r.ts("ack_at")?,
        note: r.text("ack_note")?,
    }))
}

/// The columns [`ack_from`] reads, from the acknowledgements aliased `a`.
const ACK_COLUMNS: &str =
    "a.by_account AS ack_by, a.by_name AS ack_name, a.at AS ack_at, a.note AS ack_note";

const OVERRIDE_COLUMNS: &str =
    "clinic_id, profile_id, id, rule_id, by_account, by_name, at, reason";

fn override_from(r: Cols<'_>) -> Result<Override> {
    Ok(Override {
        clinic_id: ClinicId(r.uuid("clinic_id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        id: OverrideId(r.uuid("id")?),
        rule_id: r.text("rule_id")?,
        by: AccountId(r.uuid("by_account")?),
        by_name: r.text("by_name")?,
        at: r.ts("at")?,
        reason: r.text("reason")?,
    })
}

const EMAIL_COLUMNS: &str = "id, recipient, subject, body, created_at, sent_at, attempts, \
     last_error, calendar_method, calendar";

fn email_from(r: Cols<'_>) -> Result<Email> {
    Ok(Email {
        id: EmailId(r.uuid("id")?),
        to: r.text("recipient")?,
        subject: r.text("subject")?,
        body: r.text("body")?,
        calendar: match (r.opt_text("calendar_method")?, r.opt_text("calendar")?) {
            (Some(method), Some(text)) => Some(CalendarPart {
                method: method.parse().map_err(StoreError::invalid)?,
                text,
            }),
            (None, None) => None,
            _ => {
                return Err(StoreError::invalid(
                    "an email's calendar part has its method and its text, or neither",
                ));
            }
        },
        created_at: r.ts("created_at")?,
        sent_at: r.opt_ts("sent_at")?,
        attempts: to_u32(r.int("attempts")?, "email attempts")?,
        last_error: r.text("last_error")?,
    })
}

const NOTIFICATION_COLUMNS: &str =
    "id, account_id, clinic_id, profile_id, kind, title, body, link, created_at, read_at";

fn notification_from(r: Cols<'_>) -> Result<Notification> {
    Ok(Notification {
        id: NotificationId(r.uuid("id")?),
        account_id: AccountId(r.uuid("account_id")?),
        clinic_id: r.opt_uuid("clinic_id")?.map(ClinicId),
        profile_id: r.opt_uuid("profile_id")?.map(ProfileId),
        kind: r.text("kind")?,
        title: r.text("title")?,
        body: r.text("body")?,
        link: r.text("link")?,
        created_at: r.ts("created_at")?,
        read_at: r.opt_ts("read_at")?,
    })
}

/// Scopes from a comma list ([`Dialect::comma_list`]; none for NULL).
fn scope_set(text: Option<&str>) -> Result<BTreeSet<Scope>> {
    text.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| codec::parse(s, "consent scope"))
        .collect()
}

fn scope_list(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.id()).collect::<Vec<_>>().join(", ")
}

/// `(SELECT <comma list of scopes>)` granted on the link aliased `cp`.
fn scopes_of_link(dialect: Dialect) -> String {
    format!(
        "(SELECT {} FROM consents co WHERE co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id)",
        dialect.comma_list("co.scope")
    )
}

/// The most attempts an email gets.
const MAX_EMAIL_ATTEMPTS: i64 = 5;

/// The patient's own actions show as "you" in their audit log.
pub(crate) const PATIENT: &str = "you";

/// One line of a patient's audit log.
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit(
    tx: &mut dyn Tx,
    profile: ProfileId,
    clinic: ClinicId,
    actor: AccountId,
    actor_name: &str,
    action: &str,
    detail: &str,
    at: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit_log (profile_id, id, clinic_id, actor, actor_name, action, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![
            profile,
            new_audit_id(),
            clinic,
            actor,
            actor_name,
            action,
            detail,
            at
        ],
    )?;
    Ok(())
}

/// The same audit line for each of `profiles`, in one statement. List
/// views within [`LIST_VIEW_AUDIT_WINDOW`] are logged once; any other
/// action's window is empty.
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit_many(
    tx: &mut dyn Tx,
    dialect: Dialect,
    profiles: &[ProfileId],
    by: &ClinicAccess,
    actor_name: &str,
    action: &str,
    detail: &str,
    at: Timestamp,
) -> Result<()> {
    if profiles.is_empty() {
        return Ok(());
    }
    let ids = Value::List(profiles.iter().map(|p| Value::Id(p.0)).collect());
    let lines = Value::List(
        profiles
            .iter()
            .map(|_| Value::Id(new_audit_id().0))
            .collect(),
    );
    let since = if action == "viewed_list" || action == "viewed_inbox" {
        at.checked_sub(LIST_VIEW_AUDIT_WINDOW).unwrap_or(at)
    } else {
        at.checked_add(SignedDuration::from_micros(1)).unwrap_or(at)
    };
    let sql = format!(
        "INSERT INTO audit_log (profile_id, id, clinic_id, actor, actor_name, action, detail, at)
         SELECT u.p, u.i, ?3, ?4, ?5, ?6, ?7, ?8 FROM {}
         WHERE NOT EXISTS (SELECT 1 FROM audit_log a
             WHERE a.profile_id = u.p AND a.at >= ?9 AND a.at <= ?8
               AND a.clinic_id = ?3 AND a.actor = ?4 AND a.action = ?6 AND a.detail = ?7)",
        dialect.id_pairs(1, 2)
    );
    tx.execute(
        &sql,
        &[
            ids,
            lines,
            by.clinic.into(),
            by.account.into(),
            actor_name.into(),
            action.into(),
            detail.into(),
            at.into(),
            since.into(),
        ],
    )?;
    Ok(())
}

/// The escalation ladder's steps already sent, by what they were sent for:
/// `sql` reads `clinic_id`, `profile_id`, `step` and whatever `item` reads
/// of the same row (the red flag, or the conversation).
pub(crate) fn sent_steps<K: Eq + std::hash::Hash>(
    tx: &mut dyn Tx,
    sql: &str,
    item: impl Fn(Cols<'_>) -> Result<K>,
) -> Result<HashMap<(ClinicId, ProfileId, K), BTreeSet<usize>>> {
    let sent = tx.all(sql, &[], |r| {
        let step = usize::try_from(r.int("step")?)
            .map_err(|_| StoreError::invalid("stored escalation step is negative"))?;
        let key = (
            ClinicId(r.uuid("clinic_id")?),
            ProfileId(r.uuid("profile_id")?),
            item(r)?,
        );
        Ok((key, step))
    })?;
    let mut by_key: HashMap<_, BTreeSet<usize>> = HashMap::new();
    for (key, step) in sent {
        by_key.entry(key).or_default().insert(step);
    }
    Ok(by_key)
}

/// The views logged once per patient and window.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ListView {
    /// The patient list and the red-flag queue (`viewed_list`).
    List,
    /// The conversations inbox (`viewed_inbox`).
    Inbox,
}

impl ListView {
    fn action(self) -> &'static str {
        match self {
            ListView::List => "viewed_list",
            ListView::Inbox => "viewed_inbox",
        }
    }
}

/// Whether any of `profiles` has no list-view line (`detail`) from this
/// clinician within [`LIST_VIEW_AUDIT_WINDOW`] before `at`: then the view
/// must be logged.
pub(crate) fn unlogged_views(
    tx: &mut dyn Tx,
    dialect: Dialect,
    profiles: &[ProfileId],
    by: &ClinicAccess,
    action: ListView,
    detail: &str,
    at: Timestamp,
) -> Result<bool> {
    if profiles.is_empty() {
        return Ok(false);
    }
    // The action is written into the SQL, not bound: the partial indexes
    // of these lines (`audit_log_list_views`, `audit_log_inbox_views`) serve
    // only a query whose text names their action.
    let action = action.action();
    let since = at.checked_sub(LIST_VIEW_AUDIT_WINDOW).unwrap_or(at);
    // The clinician's list views in the window (one index range), set
    // against the patients shown.
    let sql = format!(
        "SELECT EXISTS (SELECT u.p FROM {}
             EXCEPT
             SELECT a.profile_id FROM audit_log a
             WHERE a.clinic_id = ?2 AND a.actor = ?3 AND a.action = '{action}'
               AND a.detail = ?6 AND a.at >= ?4 AND a.at <= ?5) AS unlogged",
        dialect.ids(1)
    );
    let ids = Value::List(profiles.iter().map(|p| Value::Id(p.0)).collect());
    let args = [
        ids,
        by.clinic.into(),
        by.account.into(),
        since.into(),
        at.into(),
        detail.into(),
    ];
    Ok(tx
        .first(&sql, &args, |r| r.bool("unlogged"))?
        .unwrap_or(false))
}

/// The asker's role and display name in the clinic, if a member.
fn membership(tx: &mut dyn Tx, by: &ClinicAccess) -> Result<Option<(Role, String)>> {
    tx.first(
        "SELECT role, display_name FROM clinic_members WHERE clinic_id = ?1 AND account_id = ?2",
        args![by.clinic, by.account],
        |r| Ok((r.parse("role", "role")?, r.text("display_name")?)),
    )
}

fn not_a_member(by: &ClinicAccess) -> StoreError {
    StoreError::not_found(format!("clinic {}", by.clinic))
}

/// A member's role and name, or `NotFound` for anyone else.
pub(crate) fn member_of(tx: &mut dyn Tx, by: &ClinicAccess) -> Result<(Role, String)> {
    membership(tx, by)?.ok_or_else(|| not_a_member(by))
}

/// A member whose role may do what clinicians do (else `Forbidden`).
fn clinician_of(tx: &mut dyn Tx, by: &ClinicAccess) -> Result<String> {
    let (role, name) = member_of(tx, by)?;
    clinician_only(role).map_err(StoreError::forbidden)?;
    Ok(name)
}

/// What the asker holds over one patient, and the asker's display name.
pub(crate) struct Held {
    pub(crate) grant: Grant,
    pub(crate) name: String,
    joined_at: Option<Timestamp>,
}

impl Held {
    /// [`decide`]: a refusal as `NotFound` (`what`) or `Forbidden`.
    pub(crate) fn check(&self, act: Act, what: impl FnOnce() -> String) -> Result<()> {
        decide(&self.grant, act).map_err(|refusal| match refusal {
            Refusal::Hidden => StoreError::not_found(what()),
            Refusal::Forbidden(why) => StoreError::forbidden(why),
        })
    }

    fn may(&self, act: Act) -> bool {
        permits(&self.grant, act)
    }
}

/// Loads the asker's role and the patient's link and scopes, in one query
/// (a row per scope granted, or one).
pub(crate) fn held(tx: &mut dyn Tx, by: &ClinicAccess, profile: ProfileId) -> Result<Held> {
    let rows = tx.query(
        "SELECT m.role AS role, m.display_name AS display_name, cp.joined_at AS joined_at,
                co.scope AS scope
         FROM clinic_members m
         LEFT JOIN clinic_patients cp ON cp.clinic_id = m.clinic_id AND cp.profile_id = ?3
         LEFT JOIN consents co ON co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id
         WHERE m.clinic_id = ?1 AND m.account_id = ?2",
        args![by.clinic, by.account, profile],
    )?;
    let Some(first) = rows.first().map(crate::sql::Row::cols) else {
        return Ok(Held {
            grant: Grant {
                role: None,
                linked: false,
                scopes: BTreeSet::new(),
            },
            name: String::new(),
            joined_at: None,
        });
    };
    let joined_at = first.opt_ts("joined_at")?;
    let mut scopes = BTreeSet::new();
    for row in &rows {
        if let Some(scope) = row.cols().opt_parse("scope", "consent scope")? {
            scopes.insert(scope);
        }
    }
    Ok(Held {
        grant: Grant {
            role: Some(first.parse("role", "role")?),
            linked: joined_at.is_some(),
            scopes,
        },
        name: first.text("display_name")?,
        joined_at,
    })
}

/// A `NotFound` as `None`, for reads that tell outsiders nothing.
pub(crate) fn or_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn protocol_from(r: Cols<'_>) -> Result<Protocol> {
    r.decode("body")
}

/// The protocol a clinic prescribed a profile last.
fn clinic_protocol(
    tx: &mut dyn Tx,
    clinic: ClinicId,
    profile: ProfileId,
) -> Result<Option<Protocol>> {
    tx.first(
        "SELECT body FROM protocols WHERE clinic_id = ?1 AND profile_id = ?2
         ORDER BY prescribed_at DESC, id DESC LIMIT 1",
        args![clinic, profile],
        protocol_from,
    )
}

/// Now in the clinic's time zone (UTC if the zone is unknown here): the
/// list's dates are the clinic's days.
fn clinic_now(time_zone: &str, now: Timestamp) -> jiff::ZonedDateTime {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    now.to_zoned_datetime(tz)
}

/// What one patient's status is computed from.
struct StatusInput {
    sessions: bool,
    checkins: bool,
    /// The last session (the one that ended last) and its stored date.
    last: Option<(LastSession, Date)>,
    open: u32,
    unacked: u32,
    protocol: Option<Protocol>,
    checkins_at: Vec<Timestamp>,
}

fn status(input: StatusInput, clinic_now: &jiff::ZonedDateTime, now: Timestamp) -> PatientStatus {
    let last_date = input.last.as_ref().map(|(_, d)| *d);
    let next_due = input.sessions.then(|| {
        // An open red flag holds the next session back, but only a clinic
        // that may see check-ins learns of it (a blank date would tell).
        let locked = input.checkins && input.open > 0;
        let next = next_session(
            evidence(),
            input.last.as_ref().map(|(l, _)| *l),
            locked,
            clinic_now,
        );
        match &input.protocol {
            Some(p) => p.apply_to(next, clinic_now),
            None => next,
        }
        .earliest()
    });
    // Timed from the last session: needs the sessions scope too.
    let overdue = (input.checkins && input.sessions).then(|| match &input.last {
        Some((last, _)) => overdue_checkins(
            &checkin_schedule(evidence(), last.ended_at),
            &input.checkins_at,
            now,
        ),
        None => 0,
    });
    PatientStatus {
        last_session: if input.sessions { last_date } else { None },
        next_due: next_due.flatten(),
        open_red_flags: input.checkins.then_some(input.open),
        unacknowledged_red_flags: input.checkins.then_some(input.unacked),
        overdue_checkins: overdue,
    }
}

fn empty_status() -> PatientStatus {
    PatientStatus {
        last_session: None,
        next_due: None,
        open_red_flags: None,
        unacknowledged_red_flags: None,
        overdue_checkins: None,
    }
}

/// How long before the last session's end to count check-ins: the grace
/// before the first due check-in (at least the grace before the session's
/// end). Reading a little more than needed is harmless:
/// [`overdue_checkins`] only counts those in a due check-in's window.
fn checkin_lookback() -> SignedDuration {
    let first = evidence()
        .defaults
        .checkins
        .after
        .iter()
        .map(|d| d.0)
        .min()
        .unwrap_or(SignedDuration::ZERO);
    CHECKIN_GRACE
        .checked_sub(first)
        .unwrap_or(CHECKIN_GRACE)
        .max(CHECKIN_GRACE)
}

/// Every patient of clinic `?1` with their status inputs, in one
/// statement. Each part is read only under its scope (the CASEs test the
/// consents). The last session and the number of open red flags are kept
/// on the profile by triggers (the same facts on both backends); episodes
/// are read only for a patient with open ones, and the check-ins that may
/// count as overdue (from the lookback `?3`, in microseconds, before the
/// last session's end up to `?2`) as a comma list of microseconds.
/// Whether the clinic `cp` links holds the patient's `scope`.
fn scope_held(scope: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM consents co WHERE co.clinic_id = cp.clinic_id
                 AND co.profile_id = cp.profile_id AND co.scope = '{scope}')"
    )
}

/// The page itself: the clinic's links with their profiles' facts, chosen
/// by `conditions` and cut by `limit` before anything per patient is
/// read (the scopes, the status), so a page costs the same in a clinic of
/// 200 or of 2,000. Its columns keep the link's names (`clinic_id`,
/// `profile_id`) so that the layer above can call it `cp`.
fn page_sql(conditions: &str, limit: &str) -> String {
    format!(
        "SELECT cp.clinic_id AS clinic_id, cp.profile_id AS profile_id, p.name AS name,
                cp.name_key AS name_key, cp.joined_at AS joined_at,
                p.last_session_date AS last_date, p.last_session_needle_mm AS last_needle,
                p.last_session_ended AS last_ended, p.open_episodes AS open_episodes
         FROM clinic_patients cp JOIN profiles p ON p.id = cp.profile_id
         WHERE cp.clinic_id = ?1{conditions}
         ORDER BY cp.name_key, cp.profile_id{limit}"
    )
}

/// The patient list's statement: the clinic at `?1`, now at `?2`, the
/// check-in lookback at `?3`; `conditions` and `limit` choose the page
/// (by name key, then profile id), and the scopes and status columns are
/// read for that page only.
fn patient_status_sql(dialect: Dialect, conditions: &str, limit: &str) -> String {
    format!(
        "SELECT profile_id, name, joined_at, scopes, s, c,
                CASE WHEN s OR c THEN last_date END AS last_date,
                CASE WHEN s OR c THEN last_needle END AS last_needle,
                CASE WHEN s OR c THEN last_ended END AS last_ended,
                CASE WHEN s OR c THEN open_episodes ELSE 0 END AS open_episodes,
                CASE WHEN (s OR c) AND open_episodes > 0 THEN (
                    SELECT count(*) FROM episodes e
                    WHERE e.profile_id = v.profile_id AND e.resolved_at IS NULL
                      AND NOT EXISTS (SELECT 1 FROM red_flag_acks a
                          WHERE a.clinic_id = ?1 AND a.profile_id = e.profile_id AND a.episode_id = e.id))
                ELSE 0 END AS unacked,
                CASE WHEN s THEN (
                    SELECT pr.body FROM protocols pr WHERE pr.clinic_id = ?1 AND pr.profile_id = v.profile_id
                    ORDER BY pr.prescribed_at DESC, pr.id DESC LIMIT 1) END AS protocol,
                CASE WHEN s AND c THEN (
                    SELECT {checkins_at} FROM checkins ck
                    WHERE ck.profile_id = v.profile_id
                      AND ck.at >= {from} AND ck.at <= ?2) END AS checkins_at
         FROM (SELECT cp.*, {scopes} AS scopes, {s} AS s, {c} AS c
               FROM ({PAGE}) AS cp) AS v
         ORDER BY name_key, profile_id",
        PAGE = page_sql(conditions, limit),
        scopes = scopes_of_link(dialect),
        s = scope_held("sessions"),
        c = scope_held("checkins"),
        checkins_at = dialect.comma_list(&dialect.micros_text("ck.at")),
        from = dialect.minus_micros("v.last_ended", 3),
    )
}

fn invalid_problems(problems: &[needlewise_core::clinic::FieldProblem]) -> StoreError {
    StoreError::invalid(
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn same_clinic(by: &ClinicAccess, clinic: ClinicId, what: &str) -> Result<()> {
    if clinic != by.clinic {
        return Err(StoreError::invalid(format!(
            "the {what} names clinic {clinic}, not clinic {}",
            by.clinic
        )));
    }
    Ok(())
}

/// The account a profile belongs to (the patient's own actor id).
fn profile_owner(tx: &mut dyn Tx, profile: ProfileId) -> Result<Option<AccountId>> {
    tx.first(
        "SELECT account_id FROM profiles WHERE id = ?1",
        args![profile],
        |r| Ok(AccountId(r.uuid("account_id")?)),
    )
}

/// Stores a membership; `Conflict` if the account already is a member,
/// `NotFound` if it does not exist.
fn insert_member(tx: &mut dyn Tx, m: &Member) -> Result<()> {
    tx.insert(
        "INSERT INTO clinic_members (clinic_id, account_id, role, display_name, joined_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        args![
            m.clinic_id,
            m.account_id,
            m.role.id(),
            &m.display_name,
            m.joined_at
        ],
        || format!("account {} is already a member of the clinic", m.account_id),
        || format!("account {}", m.account_id),
    )
}

fn clinic_by_id(tx: &mut dyn Tx, id: ClinicId) -> Result<Option<Clinic>> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {CLINIC_COLUMNS} FROM clinics WHERE id = ?1"));
    tx.first(&SQL, args![id], clinic_from)
}

/// The episode columns of `episodes` aliased `e`, for joins.
fn episode_columns() -> String {
    qualified(EPISODE_COLUMNS, "e")
}

impl<B: Backend> ClinicStore for B {
    fn create_clinic(&self, clinic: &Clinic, founder: &Member) -> Result<()> {
        if clinic.name.trim().is_empty() {
            return Err(StoreError::invalid("give the clinic a name"));
        }
        clinic.ladder.validate().map_err(StoreError::invalid)?;
        if founder.clinic_id != clinic.id {
            return Err(StoreError::invalid(
                "the founding member belongs to another clinic",
            ));
        }
        if founder.role != Role::Clinician {
            return Err(StoreError::invalid(
                "the founding member must be a clinician",
            ));
        }
        if founder.display_name.trim().is_empty() {
            return Err(StoreError::invalid("give the founding member a name"));
        }
        let ladder = json(&clinic.ladder)?;
        self.write(|tx| {
            tx.insert(
                "INSERT INTO clinics (id, name, time_zone, ladder, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    clinic.id.into(),
                    (&clinic.name).into(),
                    (&clinic.time_zone).into(),
                    ladder.clone(),
                    clinic.created_at.into(),
                ],
                || format!("clinic {} already exists", clinic.id),
                || "clinic".to_owned(),
            )?;
            insert_member(tx, founder)
        })
    }

    fn clinic(&self, id: ClinicId) -> Result<Option<Clinic>> {
        self.read_one(|tx| clinic_by_id(tx, id))
    }

    fn memberships(&self, account: AccountId) -> Result<Vec<(Clinic, Member)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {} FROM clinic_members m JOIN clinics c ON c.id = m.clinic_id
                 WHERE m.account_id = ?1 ORDER BY m.joined_at, m.clinic_id",
                aliased(CLINIC_COLUMNS, "c", "c_"),
                aliased(MEMBER_COLUMNS, "m", "m_")
            )
        });
        self.read_one(|tx| {
            let rows = tx.query(&SQL, args![account])?;
            rows.iter()
                .map(|r| {
                    Ok((
                        clinic_from(r.prefixed("c_"))?,
                        member_from(r.prefixed("m_"))?,
                    ))
                })
                .collect()
        })
    }

    fn members(&self, by: &ClinicAccess) -> Result<Vec<Member>> {
        self.read(|tx| {
            member_of(tx, by)?;
            members_of(tx, by.clinic)
        })
    }

    fn add_member(&self, by: &ClinicAccess, member: &Member) -> Result<()> {
        same_clinic(by, member.clinic_id, "member")?;
        if member.display_name.trim().is_empty() {
            return Err(StoreError::invalid("give the member a name"));
        }
        self.write(|tx| {
            clinician_of(tx, by)?;
            insert_member(tx, member)
        })
    }

    fn create_member_invite(&self, by: &ClinicAccess, invite: &MemberInvite) -> Result<()> {
        invite.check(by)?;
        self.write(|tx| {
            clinician_of(tx, by)?;
            tx.insert(
                "INSERT INTO clinic_member_invites
                   (clinic_id, code_hash, email, role, display_name, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![
                    by.clinic,
                    &invite.code_hash,
                    &invite.email,
                    invite.role.id(),
                    &invite.display_name,
                    by.account,
                    invite.created_at,
                    invite.expires_at,
                ],
                || "this invitation code is taken".to_owned(),
                || format!("clinic {}", by.clinic),
            )
        })
    }

    fn member_invite(&self, code_hash: &str) -> Result<Option<(Clinic, MemberInvite)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {} FROM clinic_member_invites mi JOIN clinics c ON c.id = mi.clinic_id
                 WHERE mi.code_hash = ?1",
                aliased(CLINIC_COLUMNS, "c", "c_"),
                aliased(MEMBER_INVITE_COLUMNS, "mi", "mi_")
            )
        });
        self.read_one(|tx| {
            let rows = tx.query(&SQL, args![code_hash])?;
            rows.first()
                .map(|r| {
                    Ok((
                        clinic_from(r.prefixed("c_"))?,
                        member_invite_from(r.prefixed("mi_"))?,
                    ))
                })
                .transpose()
        })
    }

    fn member_invites(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<MemberInvite>> {
        self.read(|tx| {
            clinician_of(tx, by)?;
            let sql = format!(
                "SELECT {MEMBER_INVITE_COLUMNS} FROM clinic_member_invites
                 WHERE clinic_id = ?1 AND used_at IS NULL AND expires_at > ?2
                 ORDER BY created_at, code_hash"
            );
            tx.all(&sql, args![by.clinic, now], member_invite_from)
        })
    }

    fn accept_member_invite(
        &self,
        code_hash: &str,
        account: AccountId,
        now: Timestamp,
    ) -> Result<Member> {
        // One answer for every reason it cannot be used: the page tells
        // no one whether the code exists or whose it is.
        let unusable = || StoreError::not_found("invitation (unknown, used, expired or another's)");
        self.write(|tx| {
            let sql = format!(
                "SELECT {MEMBER_INVITE_COLUMNS} FROM clinic_member_invites WHERE code_hash = ?1"
            );
            let invite = tx
                .first(&sql, args![code_hash], member_invite_from)?
                .filter(|i| i.usable(now))
                .ok_or_else(unusable)?;
            let email = tx
                .first(
                    "SELECT email FROM accounts WHERE id = ?1",
                    args![account],
                    |r| r.opt_text("email"),
                )?
                .flatten();
            if email.map(|e| e.trim().to_lowercase()) != Some(invite.email.clone()) {
                return Err(unusable());
            }
            let member = Member {
                clinic_id: invite.clinic_id,
                account_id: account,
                role: invite.role,
                display_name: invite.display_name.clone(),
                joined_at: now,
            };
            insert_member(tx, &member)?;
            let used = tx.execute(
                "UPDATE clinic_member_invites SET used_by = ?3, used_at = ?4
                 WHERE clinic_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
                args![invite.clinic_id, code_hash, account, now],
            )?;
            if used != 1 {
                return Err(unusable());
            }
            Ok(member)
        })
    }

    fn set_ladder(&self, by: &ClinicAccess, ladder: &Ladder) -> Result<()> {
        ladder.validate().map_err(StoreError::invalid)?;
        let ladder = json(ladder)?;
        self.write(|tx| {
            clinician_of(tx, by)?;
            tx.execute(
                "UPDATE clinics SET ladder = ?2 WHERE id = ?1",
                &[by.clinic.into(), ladder.clone()],
            )?;
            Ok(())
        })
    }

    fn create_invite(&self, by: &ClinicAccess, invite: &Invite) -> Result<()> {
        same_clinic(by, invite.clinic_id, "invite")?;
        invite.check(by)?;
        self.write(|tx| {
            member_of(tx, by)?;
            tx.insert(
                "INSERT INTO clinic_invites (clinic_id, code_hash, label, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![
                    by.clinic,
                    &invite.code_hash,
                    &invite.label,
                    by.account,
                    invite.created_at,
                    invite.expires_at,
                ],
                || "this invite code is taken".to_owned(),
                || format!("clinic {}", by.clinic),
            )
        })
    }

    fn invite_clinic(&self, code_hash: &str, now: Timestamp) -> Result<Option<Clinic>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM clinic_invites i JOIN clinics c ON c.id = i.clinic_id
                 WHERE i.code_hash = ?1 AND i.used_at IS NULL AND i.expires_at > ?2",
                qualified(CLINIC_COLUMNS, "c")
            )
        });
        self.read_one(|tx| tx.first(&SQL, args![code_hash, now], clinic_from))
    }

    fn redeem_invite(
        &self,
        code_hash: &str,
        profile: ProfileId,
        scopes: &BTreeSet<Scope>,
        now: Timestamp,
    ) -> Result<ClinicId> {
        self.write(|tx| {
            let clinic = tx
                .first(
                    "SELECT clinic_id FROM clinic_invites
                     WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                    args![code_hash, now],
                    |r| Ok(ClinicId(r.uuid("clinic_id")?)),
                )?
                .ok_or_else(|| StoreError::not_found("invite (unknown, used or expired)"))?;
            let owner = profile_owner(tx, profile)?
                .ok_or_else(|| StoreError::not_found(format!("profile {profile}")))?;
            tx.insert(
                "INSERT INTO clinic_patients (clinic_id, profile_id, joined_at) VALUES (?1, ?2, ?3)",
                args![clinic, profile, now],
                || format!("profile {profile} is already this clinic's patient"),
                || format!("profile {profile}"),
            )?;
            audit(tx, profile, clinic, owner, PATIENT, "joined", "", now)?;
            for scope in scopes {
                tx.execute(
                    "INSERT INTO consents (clinic_id, profile_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)",
                    args![clinic, profile, scope.id(), now],
                )?;
                audit(tx, profile, clinic, owner, PATIENT, "consent_granted", scope.id(), now)?;
            }
            tx.execute(
                "UPDATE clinic_invites SET used_by = ?2, used_at = ?3 WHERE code_hash = ?1",
                args![code_hash, profile, now],
            )?;
            Ok(clinic)
        })
    }

    fn patient_clinics(&self, profile: ProfileId) -> Result<Vec<PatientLink>> {
        let sql = format!(
            "SELECT {}, cp.joined_at AS joined_at, {} AS scopes
             FROM clinic_patients cp JOIN clinics c ON c.id = cp.clinic_id
             WHERE cp.profile_id = ?1 ORDER BY cp.joined_at, cp.clinic_id",
            aliased(CLINIC_COLUMNS, "c", "c_"),
            scopes_of_link(B::DIALECT)
        );
        self.read_one(|tx| {
            let rows = tx.query(&sql, args![profile])?;
            rows.iter()
                .map(|r| {
                    Ok(PatientLink {
                        clinic: clinic_from(r.prefixed("c_"))?,
                        joined_at: r.cols().ts("joined_at")?,
                        scopes: scope_set(r.cols().opt_str("scopes")?)?,
                    })
                })
                .collect()
        })
    }

    fn set_consent(
        &self,
        profile: ProfileId,
        clinic: ClinicId,
        scope: Scope,
        granted: bool,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let owner = tx
                .first(
                    "SELECT p.account_id AS account_id FROM clinic_patients cp
                     JOIN profiles p ON p.id = cp.profile_id
                     WHERE cp.clinic_id = ?1 AND cp.profile_id = ?2",
                    args![clinic, profile],
                    |r| Ok(AccountId(r.uuid("account_id")?)),
                )?
                .ok_or_else(|| {
                    StoreError::not_found(format!(
                        "profile {profile} as a patient of clinic {clinic}"
                    ))
                })?;
            let changed = if granted {
                tx.execute(
                    "INSERT INTO consents (clinic_id, profile_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (clinic_id, profile_id, scope) DO NOTHING",
                    args![clinic, profile, scope.id(), at],
                )?
            } else {
                tx.execute(
                    "DELETE FROM consents WHERE clinic_id = ?1 AND profile_id = ?2 AND scope = ?3",
                    args![clinic, profile, scope.id()],
                )?
            };
            if changed > 0 {
                let action = if granted {
                    "consent_granted"
                } else {
                    "consent_revoked"
                };
                audit(tx, profile, clinic, owner, PATIENT, action, scope.id(), at)?;
            }
            Ok(())
        })
    }

    fn leave_clinic(&self, profile: ProfileId, clinic: ClinicId, at: Timestamp) -> Result<()> {
        let sql = format!(
            "SELECT cp.joined_at AS joined_at, {} AS scopes FROM clinic_patients cp
             WHERE cp.clinic_id = ?1 AND cp.profile_id = ?2",
            scopes_of_link(B::DIALECT)
        );
        self.write(|tx| {
            let scopes = tx.first(&sql, args![clinic, profile], |r| {
                scope_set(r.opt_str("scopes")?)
            })?;
            let (Some(scopes), Some(owner)) = (scopes, profile_owner(tx, profile)?) else {
                return Err(StoreError::not_found(format!(
                    "profile {profile} as a patient of clinic {clinic}"
                )));
            };
            // Consents, protocols and overrides go with the link.
            tx.execute(
                "DELETE FROM clinic_patients WHERE clinic_id = ?1 AND profile_id = ?2",
                args![clinic, profile],
            )?;
            audit(
                tx,
                profile,
                clinic,
                owner,
                PATIENT,
                "left",
                &scope_list(&scopes),
                at,
            )
        })
    }

    fn patient_page(
        &self,
        by: &ClinicAccess,
        query: &PatientQuery,
        now: Timestamp,
    ) -> Result<PatientPage> {
        check_patient_query(query)?;
        // Read in a read-only transaction (several views run at once);
        // the audit lines are written before anything is returned, and only
        // when this clinician's last view of a patient is older than the
        // window, so most views write nothing.
        let (page, shown, actor_name, unlogged) = self.read(|tx| {
            let (role, actor_name, time_zone) = tx
                .first(
                    "SELECT m.role AS role, m.display_name AS display_name, c.time_zone AS time_zone
                     FROM clinic_members m JOIN clinics c ON c.id = m.clinic_id
                     WHERE m.clinic_id = ?1 AND m.account_id = ?2",
                    args![by.clinic, by.account],
                    |r| {
                        Ok((
                            r.parse::<Role>("role", "role")?,
                            r.text("display_name")?,
                            r.text("time_zone")?,
                        ))
                    },
                )?
                .ok_or_else(|| not_a_member(by))?;
            let today = clinic_now(&time_zone, now);
            let page = if role.reads_clinical_data() {
                patient_list(tx, B::DIALECT, by.clinic, query, &today, now)?
            } else {
                staff_patient_list(tx, B::DIALECT, by.clinic, query)?
            };
            let shown: Vec<ProfileId> = if role.reads_clinical_data() {
                page.patients
                    .iter()
                    .filter(|p| {
                        p.scopes.contains(&Scope::Sessions) || p.scopes.contains(&Scope::Checkins)
                    })
                    .map(|p| p.profile_id)
                    .collect()
            } else {
                Vec::new()
            };
            let unlogged = unlogged_views(
                tx,
                B::DIALECT,
                &shown,
                by,
                ListView::List,
                "patient list",
                now,
            )?;
            Ok((page, shown, actor_name, unlogged))
        })?;
        if unlogged {
            self.write_at(Isolation::Snapshot, |tx| {
                audit_many(
                    tx,
                    B::DIALECT,
                    &shown,
                    by,
                    &actor_name,
                    "viewed_list",
                    "patient list",
                    now,
                )
            })?;
        }
        Ok(page)
    }

    fn red_flag_queue(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<RedFlag>> {
        let sql = format!(
            "SELECT {episode}, p.name AS patient_name, ck.rule_ids AS rule_ids, {ACK_COLUMNS},
                    {since} AS visible_since
             FROM clinic_patients cp
             JOIN consents co ON co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id
                 AND co.scope = 'checkins'
             JOIN profiles p ON p.id = cp.profile_id
             JOIN episodes e ON e.profile_id = cp.profile_id AND e.resolved_at IS NULL
             JOIN checkins ck ON ck.profile_id = e.profile_id AND ck.id = e.checkin_id
             LEFT JOIN red_flag_acks a ON a.clinic_id = cp.clinic_id
                 AND a.profile_id = e.profile_id AND a.episode_id = e.id
             WHERE cp.clinic_id = ?1 AND cp.flagged
             ORDER BY e.opened_at, e.id",
            episode = episode_columns(),
            since = B::DIALECT.greatest("e.opened_at", "co.granted_at"),
        );
        // As for the patient list: read, then write the audit lines only
        // when the window needs them.
        let (flags, shown, actor_name, unlogged) = self.read(|tx| {
            let actor_name = clinician_of(tx, by)?;
            let flags = tx.all(&sql, args![by.clinic], |r| {
                let episode = episode_from(r)?;
                Ok(RedFlag {
                    profile_id: episode.profile_id,
                    patient_name: r.text("patient_name")?,
                    rule_ids: codec::rule_ids(r.json("rule_ids")?)?,
                    acknowledged: ack_from(r)?,
                    visible_since: r.ts("visible_since")?,
                    episode,
                })
            })?;
            let mut shown: Vec<ProfileId> = flags.iter().map(|f| f.profile_id).collect();
            shown.sort_unstable();
            shown.dedup();
            let unlogged =
                unlogged_views(tx, B::DIALECT, &shown, by, ListView::List, "red flags", now)?;
            Ok((flags, shown, actor_name, unlogged))
        })?;
        if unlogged {
            self.write_at(Isolation::Snapshot, |tx| {
                audit_many(
                    tx,
                    B::DIALECT,
                    &shown,
                    by,
                    &actor_name,
                    "viewed_list",
                    "red flags",
                    now,
                )
            })?;
        }
        Ok(flags)
    }

    fn patient_record(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        now: Timestamp,
    ) -> Result<Option<PatientRecord>> {
        let what = || format!("patient {profile} of clinic {}", by.clinic);
        or_none(self.write_at(Isolation::Snapshot, |tx| {
            let held = held(tx, by, profile)?;
            // Any clinical read at all: refuses staff with Forbidden and
            // outsiders with NotFound (read as None).
            held.check(Act::SeeListed, what)?;
            if !held.grant.role.is_some_and(Role::reads_clinical_data) {
                held.check(Act::Read(Scope::Sessions), what)?;
            }
            let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = ?1");
            let Some(person) = tx.first(&sql, args![profile], profile_from)? else {
                return Err(StoreError::not_found(what()));
            };
            let screening = if held.may(Act::Read(Scope::Screening)) {
                latest_screening_of(tx, profile)?
            } else {
                None
            };
            let sessions = if held.may(Act::Read(Scope::Sessions)) {
                Some(sessions_of(tx, profile, &NEWEST_SESSIONS)?)
            } else {
                None
            };
            let (checkins, episodes) = if held.may(Act::Read(Scope::Checkins)) {
                let sql = format!(
                    "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE profile_id = ?1 ORDER BY at DESC, id DESC"
                );
                let mut checkins = tx.all(&sql, args![profile], checkin_from)?;
                // Nothing of an unshared scope reaches the clinic, not even
                // a session's id (a UUIDv7 says when it was logged).
                if !held.may(Act::Read(Scope::Sessions)) {
                    for c in &mut checkins {
                        c.session_id = None;
                    }
                }
                let sql = format!(
                    "SELECT {}, {ACK_COLUMNS} FROM episodes e
                     LEFT JOIN red_flag_acks a ON a.clinic_id = ?2
                         AND a.profile_id = e.profile_id AND a.episode_id = e.id
                     WHERE e.profile_id = ?1 ORDER BY e.opened_at DESC, e.id DESC",
                    episode_columns()
                );
                let episodes = tx.all(&sql, args![profile, by.clinic], |r| {
                    Ok((episode_from(r)?, ack_from(r)?))
                })?;
                (Some(checkins), Some(episodes))
            } else {
                (None, None)
            };
            let photos = if held.may(Act::Read(Scope::PhotosClinical)) {
                let sql = format!(
                    "SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 ORDER BY taken_at, id"
                );
                Some(tx.all(&sql, args![profile], photo_from)?)
            } else {
                None
            };
            let protocol = clinic_protocol(tx, by.clinic, profile)?;
            let sql = format!(
                "SELECT {OVERRIDE_COLUMNS} FROM rule_overrides
                 WHERE clinic_id = ?1 AND profile_id = ?2 AND revoked_at IS NULL ORDER BY at, id"
            );
            let overrides = tx.all(&sql, args![by.clinic, profile], override_from)?;
            let read: BTreeSet<Scope> = held
                .grant
                .scopes
                .iter()
                .copied()
                .filter(|s| *s != Scope::PhotosTeaching)
                .collect();
            audit(
                tx,
                profile,
                by.clinic,
                by.account,
                &held.name,
                "viewed_record",
                &scope_list(&read),
                now,
            )?;
            Ok(PatientRecord {
                profile: person,
                joined_at: held.joined_at.unwrap_or(now),
                scopes: held.grant.scopes.clone(),
                screening,
                sessions,
                checkins,
                episodes,
                photos,
                protocol,
                overrides,
            })
        }))
    }

    fn patient_photo(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        photo: PhotoId,
        now: Timestamp,
    ) -> Result<Option<Photo>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 AND id = ?2");
        Ok(or_none(self.write_at(Isolation::Snapshot, |tx| {
            let held = held(tx, by, profile)?;
            held.check(Act::Read(Scope::PhotosClinical), || {
                format!("photo {photo}")
            })?;
            let found = tx.first(&sql, args![profile, photo], photo_from)?;
            if found.is_some() {
                let detail = photo.to_string();
                audit(
                    tx,
                    profile,
                    by.clinic,
                    by.account,
                    &held.name,
                    "viewed_photo",
                    &detail,
                    now,
                )?;
            }
            Ok(found)
        }))?
        .flatten())
    }

    fn acknowledge(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        episode: EpisodeId,
        note: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let held = held(tx, by, profile)?;
            held.check(Act::Acknowledge, || format!("red flag {episode}"))?;
            let open = tx.exists(
                "SELECT 1 FROM episodes WHERE profile_id = ?1 AND id = ?2 AND resolved_at IS NULL",
                args![profile, episode],
            )?;
            if !open {
                return Err(StoreError::not_found(format!("open red flag {episode}")));
            }
            let inserted = tx.execute(
                "INSERT INTO red_flag_acks (clinic_id, profile_id, episode_id, by_account, by_name, at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                args![by.clinic, profile, episode, by.account, &held.name, at, note],
            )?;
            if inserted == 0 {
                return Err(StoreError::conflict(format!(
                    "red flag {episode} is already acknowledged"
                )));
            }
            let detail = episode.to_string();
            audit(tx, profile, by.clinic, by.account, &held.name, "acknowledged", &detail, at)
        })
    }

    fn resolve_flag(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        episode: EpisodeId,
        note: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let held = held(tx, by, profile)?;
            held.check(Act::Resolve, || format!("red flag {episode}"))?;
            let resolver = codec::encode_resolver(&Resolver::Clinician {
                clinic_id: by.clinic,
                account_id: by.account,
                name: held.name.clone(),
            })?;
            let changed = tx.execute(
                "UPDATE episodes SET resolved_at = ?3, resolution = ?4, resolver = ?5
                 WHERE profile_id = ?1 AND id = ?2 AND resolved_at IS NULL",
                args![profile, episode, at, note, resolver],
            )?;
            if changed == 0 {
                return Err(StoreError::not_found(format!("open red flag {episode}")));
            }
            let detail = episode.to_string();
            audit(
                tx, profile, by.clinic, by.account, &held.name, "resolved", &detail, at,
            )
        })
    }

    fn prescribe(&self, by: &ClinicAccess, protocol: &Protocol) -> Result<()> {
        protocol.validate().map_err(|p| invalid_problems(&p))?;
        same_clinic(by, protocol.clinic_id, "protocol")?;
        let profile = protocol.profile_id;
        self.write(|tx| {
            let held = held(tx, by, profile)?;
            held.check(Act::Prescribe, || format!("patient {profile}"))?;
            let stored = Protocol {
                prescribed_by: by.account,
                prescriber_name: held.name.clone(),
                ..protocol.clone()
            };
            tx.insert(
                "INSERT INTO protocols (clinic_id, profile_id, id, prescribed_by, prescribed_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    by.clinic.into(),
                    profile.into(),
                    protocol.id.into(),
                    by.account.into(),
                    protocol.prescribed_at.into(),
                    json(&stored)?,
                ],
                || format!("protocol {} already exists", protocol.id),
                || format!("patient {profile}"),
            )?;
            let detail = protocol.id.to_string();
            audit(tx, profile, by.clinic, by.account, &held.name, "prescribed", &detail, protocol.prescribed_at)
        })
    }

    fn add_override(&self, by: &ClinicAccess, ov: &Override) -> Result<()> {
        if ov.reason.trim().is_empty() {
            return Err(StoreError::invalid("give the reason for the override"));
        }
        if ov.rule_id.trim().is_empty() {
            return Err(StoreError::invalid("name the rule to override"));
        }
        same_clinic(by, ov.clinic_id, "override")?;
        self.write(|tx| {
            let held = held(tx, by, ov.profile_id)?;
            held.check(Act::Override, || format!("patient {}", ov.profile_id))?;
            tx.insert(
                "INSERT INTO rule_overrides (clinic_id, profile_id, id, rule_id, by_account, by_name, at, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![
                    by.clinic,
                    ov.profile_id,
                    ov.id,
                    &ov.rule_id,
                    by.account,
                    &held.name,
                    ov.at,
                    &ov.reason,
                ],
                || format!("override {} already exists", ov.id),
                || format!("patient {}", ov.profile_id),
            )?;
            audit(tx, ov.profile_id, by.clinic, by.account, &held.name, "override_added", &ov.rule_id, ov.at)
        })
    }

    fn revoke_override(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        id: OverrideId,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let held = held(tx, by, profile)?;
            held.check(Act::Override, || format!("patient {profile}"))?;
            let rule = tx
                .first(
                    "UPDATE rule_overrides SET revoked_at = ?4
                     WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3 AND revoked_at IS NULL
                     RETURNING rule_id",
                    args![by.clinic, profile, id, at],
                    |r| r.text("rule_id"),
                )?
                .ok_or_else(|| StoreError::not_found(format!("override {id} in force")))?;
            audit(
                tx,
                profile,
                by.clinic,
                by.account,
                &held.name,
                "override_revoked",
                &rule,
                at,
            )
        })
    }

    fn active_protocol(&self, profile: ProfileId) -> Result<Option<Protocol>> {
        self.read_one(|tx| tx.first(ACTIVE_PROTOCOL, args![profile], protocol_from))
    }

    fn active_overrides(&self, profile: ProfileId) -> Result<Vec<Override>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM rule_overrides o
                 JOIN clinic_patients cp ON cp.clinic_id = o.clinic_id AND cp.profile_id = o.profile_id
                 WHERE o.profile_id = ?1 AND o.revoked_at IS NULL
                 ORDER BY o.at, o.id",
                qualified(OVERRIDE_COLUMNS, "o")
            )
        });
        self.read_one(|tx| tx.all(&SQL, args![profile], override_from))
    }

    fn audit_log(&self, profile: ProfileId, limit: u32) -> Result<Vec<AuditEntry>> {
        self.read_one(|tx| {
            tx.all(
                "SELECT id, profile_id, clinic_id, actor, actor_name, action, detail, at
                 FROM audit_log WHERE profile_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
                args![profile, limit],
                |r| {
                    Ok(AuditEntry {
                        id: AuditId(r.uuid("id")?),
                        profile_id: ProfileId(r.uuid("profile_id")?),
                        clinic_id: ClinicId(r.uuid("clinic_id")?),
                        actor: AccountId(r.uuid("actor")?),
                        actor_name: r.text("actor_name")?,
                        action: r.text("action")?,
                        detail: r.text("detail")?,
                        at: r.ts("at")?,
                    })
                },
            )
        })
    }

    fn add_notifications(&self, notes: &[Notification]) -> Result<()> {
        self.write(|tx| notes.iter().try_for_each(|n| insert_notification(tx, n)))
    }

    fn notifications(&self, account: AccountId, limit: u32) -> Result<Vec<Notification>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE account_id = ?1
                 ORDER BY created_at DESC, id DESC LIMIT ?2"
            )
        });
        self.read_one(|tx| tx.all(&SQL, args![account, limit], notification_from))
    }

    fn unread_notifications(&self, account: AccountId) -> Result<u64> {
        self.read_one(|tx| {
            let n = tx
                .first(
                    "SELECT count(*) AS n FROM notifications WHERE account_id = ?1 AND read_at IS NULL",
                    args![account],
                    |r| r.int("n"),
                )?
                .unwrap_or(0);
            to_u64(n, "unread notifications")
        })
    }

    fn mark_notification_read(
        &self,
        account: AccountId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE notifications SET read_at = COALESCE(read_at, ?3)
                 WHERE account_id = ?1 AND id = ?2",
                args![account, id, at],
            )?;
            if changed == 0 {
                return Err(StoreError::not_found(format!("notification {id}")));
            }
            Ok(())
        })
    }

    fn open_flags(&self) -> Result<Vec<OpenFlag>> {
        let sql = format!(
            "SELECT {clinic}, {episode}, p.name AS patient_name,
                    EXISTS (SELECT 1 FROM red_flag_acks a
                            WHERE a.clinic_id = cp.clinic_id AND a.profile_id = e.profile_id
                              AND a.episode_id = e.id) AS acknowledged,
                    {since} AS visible_since
             FROM clinic_patients cp
             JOIN consents co ON co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id
                 AND co.scope = 'checkins'
             JOIN clinics c ON c.id = cp.clinic_id
             JOIN profiles p ON p.id = cp.profile_id
             JOIN episodes e ON e.profile_id = cp.profile_id AND e.resolved_at IS NULL
             ORDER BY e.opened_at, e.id, cp.clinic_id",
            clinic = aliased(CLINIC_COLUMNS, "c", "c_"),
            episode = episode_columns(),
            since = B::DIALECT.greatest("e.opened_at", "co.granted_at"),
        );
        self.read(|tx| {
            let rows = tx.query(&sql, &[])?;
            let mut flags = rows
                .iter()
                .map(|row| {
                    let r = row.cols();
                    let episode = episode_from(r)?;
                    Ok(OpenFlag {
                        clinic: clinic_from(row.prefixed("c_"))?,
                        profile_id: episode.profile_id,
                        patient_name: r.text("patient_name")?,
                        acknowledged: r.bool("acknowledged")?,
                        visible_since: r.ts("visible_since")?,
                        episode,
                        sent_steps: BTreeSet::new(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut by_flag = sent_steps(
                tx,
                "SELECT x.clinic_id AS clinic_id, x.profile_id AS profile_id,
                        x.episode_id AS episode_id, x.step AS step
                 FROM escalations x JOIN episodes e ON e.profile_id = x.profile_id
                     AND e.id = x.episode_id AND e.resolved_at IS NULL",
                |r| Ok(EpisodeId(r.uuid("episode_id")?)),
            )?;
            for f in &mut flags {
                if let Some(steps) = by_flag.remove(&(f.clinic.id, f.profile_id, f.episode.id)) {
                    f.sent_steps = steps;
                }
            }
            Ok(flags)
        })
    }

    fn queue_email(&self, email: &Email) -> Result<()> {
        check_recipient(email)?;
        self.write(|tx| insert_email(tx, email))
    }

    fn escalate_step(
        &self,
        claim: &EscalationClaim,
        notes: &[Notification],
        emails: &[Email],
    ) -> Result<bool> {
        emails.iter().try_for_each(check_recipient)?;
        let step =
            i64::try_from(claim.step).map_err(|_| StoreError::invalid("step out of range"))?;
        // READ COMMITTED: one atomic insert claims the step; of two workers,
        // one claims, and the claim, its notifications and its emails
        // commit together or not at all.
        self.write_at(Isolation::Statement, |tx| {
            let claimed =
                tx.execute(
                    "INSERT INTO escalations (clinic_id, profile_id, episode_id, step, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (clinic_id, profile_id, episode_id, step) DO NOTHING",
                    args![claim.clinic, claim.profile, claim.episode, step, claim.at],
                )
                .map_err(|e| {
                    insert_error(
                        e,
                        || "escalation step".to_owned(),
                        || format!("red flag {} of clinic {}", claim.episode, claim.clinic),
                    )
                })? == 1;
            if claimed {
                notes.iter().try_for_each(|n| insert_notification(tx, n))?;
                emails.iter().try_for_each(|e| insert_email(tx, e))?;
            }
            Ok(claimed)
        })
    }

    fn claim_emails(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<Email>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = now
            .checked_add(lease)
            .map_err(|_| StoreError::invalid("the lease is out of range"))?;
        // READ COMMITTED with SKIP LOCKED on PostgreSQL: two instances
        // claiming at once take different emails instead of failing each
        // other.
        let sql = format!(
            "UPDATE email_outbox SET leased_until = ?2, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM email_outbox
                 WHERE sent_at IS NULL AND attempts < ?4
                   AND (leased_until IS NULL OR leased_until <= ?1)
                 ORDER BY created_at, id LIMIT ?3 {})
             RETURNING {EMAIL_COLUMNS}",
            B::DIALECT.skip_locked()
        );
        let mut emails = self.write_at(Isolation::Statement, |tx| {
            tx.all(
                &sql,
                args![now, until, limit, MAX_EMAIL_ATTEMPTS],
                email_from,
            )
        })?;
        emails.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(emails)
    }

    fn finish_email(
        &self,
        id: EmailId,
        outcome: std::result::Result<(), String>,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let changed = match &outcome {
                Ok(()) => tx.execute(
                    "UPDATE email_outbox SET sent_at = ?2, leased_until = NULL, last_error = ''
                     WHERE id = ?1",
                    args![id, at],
                )?,
                Err(error) => tx.execute(
                    "UPDATE email_outbox SET last_error = ?2 WHERE id = ?1",
                    args![id, error],
                )?,
            };
            if changed == 0 {
                return Err(StoreError::not_found(format!("email {id}")));
            }
            Ok(())
        })
    }

    fn emails(&self, limit: u32) -> Result<Vec<Email>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {EMAIL_COLUMNS} FROM email_outbox ORDER BY created_at DESC, id DESC LIMIT ?1"
            )
        });
        self.read_one(|tx| tx.all(&SQL, args![limit], email_from))
    }

    fn clinic_mail_status(&self, by: &ClinicAccess) -> Result<MailStatus> {
        // One statement: the membership check is its first column, and the
        // team's addresses are read only for a member.
        self.read_one(|tx| {
            tx.first(
                "WITH me AS (
                     SELECT 1 FROM clinic_members WHERE clinic_id = ?1 AND account_id = ?3
                 ), team AS (
                     SELECT a.email FROM clinic_members m JOIN accounts a ON a.id = m.account_id
                     WHERE m.clinic_id = ?1 AND EXISTS (SELECT 1 FROM me))
                 SELECT EXISTS (SELECT 1 FROM me) AS member,
                        count(*) FILTER (WHERE o.attempts < ?2) AS waiting,
                        min(o.created_at) FILTER (WHERE o.attempts < ?2) AS oldest,
                        count(*) FILTER (WHERE o.attempts >= ?2) AS given_up,
                        (SELECT e.last_error FROM email_outbox e
                         WHERE e.sent_at IS NULL AND e.last_error <> ''
                           AND e.recipient IN (SELECT email FROM team)
                         ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS last_error
                 FROM email_outbox o
                 WHERE o.sent_at IS NULL AND o.recipient IN (SELECT email FROM team)",
                args![by.clinic, MAX_EMAIL_ATTEMPTS, by.account],
                |r| {
                    if !r.bool("member")? {
                        return Ok(None);
                    }
                    Ok(Some(MailStatus {
                        waiting: to_u32(r.int("waiting")?, "waiting emails")?,
                        oldest_waiting: r.opt_ts("oldest")?,
                        given_up: to_u32(r.int("given_up")?, "emails given up")?,
                        last_error: r.opt_text("last_error")?,
                    }))
                },
            )?
            .flatten()
            .ok_or_else(|| not_a_member(by))
        })
    }

    fn set_totp(&self, account: AccountId, secret: Option<&TotpSecret>) -> Result<()> {
        if let Some(s) = secret {
            s.check(account)?;
        }
        self.write(|tx| {
            match secret {
                None => {
                    tx.execute(
                        "DELETE FROM totp_secrets WHERE account_id = ?1",
                        args![account],
                    )?;
                }
                Some(s) => tx.insert(
                    "INSERT INTO totp_secrets (account_id, secret, enabled_at, last_step, pending_session)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret,
                         enabled_at = excluded.enabled_at, last_step = excluded.last_step,
                         pending_session = excluded.pending_session",
                    args![
                        account,
                        crate::snapshot::hex(&s.secret),
                        s.enabled_at,
                        s.last_step,
                        &s.pending_session,
                    ],
                    || "TOTP secret".to_owned(),
                    || format!("account {account}"),
                )?,
            }
            Ok(())
        })
    }

    fn totp(&self, account: AccountId) -> Result<Option<TotpSecret>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {TOTP_COLUMNS} FROM totp_secrets WHERE account_id = ?1")
        });
        self.read_one(|tx| tx.first(&SQL, args![account], totp_from))
    }

    fn begin_totp(&self, secret: &TotpSecret) -> Result<bool> {
        let account = secret.account_id;
        secret.check(account)?;
        if secret.enabled_at.is_some() || secret.pending_session.is_none() {
            return Err(StoreError::invalid(
                "enrolment starts with a pending secret bound to a session",
            ));
        }
        // One statement: a secret enabled meanwhile is never replaced.
        self.write_at(Isolation::Statement, |tx| {
            let changed = tx
                .execute(
                    "INSERT INTO totp_secrets (account_id, secret, enabled_at, last_step, pending_session)
                     VALUES (?1, ?2, NULL, ?3, ?4)
                     ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret,
                         last_step = excluded.last_step, pending_session = excluded.pending_session
                     WHERE totp_secrets.enabled_at IS NULL",
                    args![
                        account,
                        crate::snapshot::hex(&secret.secret),
                        secret.last_step,
                        &secret.pending_session,
                    ],
                )
                .map_err(|e| {
                    insert_error(e, || "TOTP secret".to_owned(), || format!("account {account}"))
                })?;
            Ok(changed == 1)
        })
    }

    fn confirm_totp(
        &self,
        account: AccountId,
        session: &str,
        secret: &[u8],
        at: Timestamp,
        step: i64,
    ) -> Result<bool> {
        self.write_at(Isolation::Statement, |tx| {
            let changed = tx.execute(
                "UPDATE totp_secrets SET enabled_at = ?4, last_step = ?5, pending_session = NULL
                 WHERE account_id = ?1 AND enabled_at IS NULL
                     AND pending_session = ?2 AND secret = ?3",
                args![account, session, crate::snapshot::hex(secret), at, step],
            )?;
            Ok(changed == 1)
        })
    }

    fn use_totp_step(&self, account: AccountId, step: i64) -> Result<bool> {
        // One conditional update: of two requests with the same code, only
        // one moves last_step.
        self.write_at(Isolation::Statement, |tx| {
            let changed = tx.execute(
                "UPDATE totp_secrets SET last_step = ?2 WHERE account_id = ?1 AND last_step < ?2",
                args![account, step],
            )?;
            if changed == 1 {
                return Ok(true);
            }
            if tx.exists(
                "SELECT 1 FROM totp_secrets WHERE account_id = ?1",
                args![account],
            )? {
                Ok(false)
            } else {
                Err(StoreError::not_found(format!(
                    "TOTP secret of account {account}"
                )))
            }
        })
    }

    fn mark_web_session_verified(&self, token_hash: &str, at: Timestamp) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE web_sessions SET verified_at = ?2 WHERE token_hash = ?1",
                args![token_hash, at],
            )?;
            if changed == 0 {
                return Err(StoreError::not_found("web session"));
            }
            Ok(())
        })
    }

    fn web_sessions_of(&self, account: AccountId, now: Timestamp) -> Result<Vec<WebSession>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions WHERE account_id = ?1 AND expires_at > ?2
                 ORDER BY created_at DESC, token_hash DESC"
            )
        });
        self.read_one(|tx| tx.all(&SQL, args![account, now], web_session_from))
    }

    fn rate_limit_hit(&self, key: &str, window_start: Timestamp) -> Result<u32> {
        // READ COMMITTED: the upsert is atomic, so instances counting the
        // same key at once neither lose a hit nor fail each other.
        self.write_at(Isolation::Statement, |tx| {
            tx.execute(
                "DELETE FROM rate_limits WHERE key = ?1 AND window_start < ?2",
                args![key, window_start],
            )?;
            let hits = tx
                .first(
                    "INSERT INTO rate_limits (key, window_start, hits) VALUES (?1, ?2, 1)
                     ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
                     RETURNING hits",
                    args![key, window_start],
                    |r| r.int("hits"),
                )?
                .unwrap_or(0);
            to_u32(hits, "rate limit hits")
        })
    }

    fn purge_rate_limits(&self, before: Timestamp) -> Result<u64> {
        self.write_at(Isolation::Statement, |tx| {
            tx.execute(
                "DELETE FROM rate_limits WHERE window_start < ?1",
                args![before],
            )
        })
    }

    fn purge_expired_invites(&self, before: Timestamp) -> Result<u64> {
        self.write_at(Isolation::Statement, |tx| {
            let mut gone = 0;
            for table in ["clinic_invites", "clinic_member_invites"] {
                gone += tx.execute(
                    &format!("DELETE FROM {table} WHERE used_at IS NULL AND expires_at < ?1"),
                    args![before],
                )?;
            }
            Ok(gone)
        })
    }

    fn members_of(&self, clinic: ClinicId) -> Result<Vec<Member>> {
        self.read_one(|tx| members_of(tx, clinic))
    }
}

/// A clinic's members, oldest first.
fn members_of(tx: &mut dyn Tx, clinic: ClinicId) -> Result<Vec<Member>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {MEMBER_COLUMNS} FROM clinic_members WHERE clinic_id = ?1
             ORDER BY joined_at, account_id"
        )
    });
    tx.all(&SQL, args![clinic], member_from)
}

fn check_patient_query(query: &PatientQuery) -> Result<()> {
    if query.limit == 0 || query.limit > PatientQuery::MAX_LIMIT {
        return Err(StoreError::invalid(format!(
            "a page holds 1 to {} patients, not {}",
            PatientQuery::MAX_LIMIT,
            query.limit
        )));
    }
    if query.search.chars().count() > PatientQuery::MAX_SEARCH {
        return Err(StoreError::invalid(format!(
            "search for at most {} characters of a name",
            PatientQuery::MAX_SEARCH
        )));
    }
    Ok(())
}

/// The page's conditions on `cp` (the clinic's link) and `p` (the
/// profile), after `?1` (the clinic): the cursor and the search, with their
/// values appended to `args`.
fn page_conditions(dialect: Dialect, query: &PatientQuery, args: &mut Vec<Value>) -> String {
    let key = "cp.name_key";
    let mut sql = String::new();
    if let Some(after) = &query.after {
        args.push(after.name_key.as_str().into());
        args.push(after.profile_id.into());
        let (k, id) = (args.len() - 1, args.len());
        sql.push_str(&format!(" AND ({key}, cp.profile_id) > (?{k}, ?{id})"));
    }
    let search = PatientCursor::key(query.search.trim());
    if !search.is_empty() {
        args.push(search.into());
        sql.push_str(&format!(" AND {}", dialect.contains(key, args.len())));
    }
    sql
}

/// The statement's `LIMIT`: one more than the page, to learn whether a
/// next page exists.
fn page_limit(query: &PatientQuery, args: &mut Vec<Value>) -> String {
    args.push(i64::from(query.limit + 1).into());
    format!(" LIMIT ?{}", args.len())
}

/// Cuts a list read one past the page's end into the page and where the
/// next one starts.
fn into_page(mut patients: Vec<PatientSummary>, query: &PatientQuery) -> PatientPage {
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let next = (patients.len() > limit).then(|| {
        patients.truncate(limit);
        patients.last().map(PatientCursor::after)
    });
    PatientPage {
        patients,
        next: next.flatten(),
        red_flag_patients: None,
    }
}

/// A staff member's page: names, join dates and scopes; no clinical data
/// read, so no status filter.
fn staff_patient_list(
    tx: &mut dyn Tx,
    dialect: Dialect,
    clinic: ClinicId,
    query: &PatientQuery,
) -> Result<PatientPage> {
    if query.filter != PatientFilter::All {
        return Err(StoreError::invalid(
            "staff see names only: filtering by status needs a clinician",
        ));
    }
    let mut args: Vec<Value> = vec![clinic.into()];
    let conditions = page_conditions(dialect, query, &mut args);
    let limit = page_limit(query, &mut args);
    let sql = format!(
        "SELECT cp.profile_id AS profile_id, cp.name AS name, cp.joined_at AS joined_at,
                {scopes} AS scopes
         FROM ({page}) AS cp
         ORDER BY cp.name_key, cp.profile_id",
        scopes = scopes_of_link(dialect),
        page = page_sql(&conditions, &limit),
    );
    let list = tx.all(&sql, &args, |r| {
        Ok(PatientSummary {
            profile_id: ProfileId(r.uuid("profile_id")?),
            name: r.text("name")?,
            joined_at: r.ts("joined_at")?,
            scopes: scope_set(r.opt_str("scopes")?)?,
            status: empty_status(),
        })
    })?;
    Ok(into_page(list, query))
}

/// A clinician's page of the patient list, with the status the granted
/// scopes allow, from one statement (and one count of the patients with
/// an open red flag).
fn patient_list(
    tx: &mut dyn Tx,
    dialect: Dialect,
    clinic: ClinicId,
    query: &PatientQuery,
    today: &jiff::ZonedDateTime,
    now: Timestamp,
) -> Result<PatientPage> {
    let lookback = i64::try_from(checkin_lookback().as_micros()).unwrap_or(i64::MAX);
    let mut args: Vec<Value> = vec![clinic.into(), now.into(), lookback.into()];
    let mut conditions = page_conditions(dialect, query, &mut args);
    let limit = match query.filter {
        PatientFilter::All => page_limit(query, &mut args),
        PatientFilter::RedFlags => {
            conditions.push_str(&format!(" AND cp.flagged AND {}", scope_held("checkins")));
            page_limit(query, &mut args)
        }
        // Decided from the schedule below, after the read: only the
        // patients who share both can have overdue check-ins.
        PatientFilter::OverdueCheckins => {
            conditions.push_str(&format!(
                " AND p.last_session_ended IS NOT NULL AND {} AND {}",
                scope_held("sessions"),
                scope_held("checkins")
            ));
            String::new()
        }
    };
    let sql = patient_status_sql(dialect, &conditions, &limit);
    let list = tx.all(&sql, &args, |r| {
        let profile_id = ProfileId(r.uuid("profile_id")?);
        let last = match (
            r.opt_date("last_date")?,
            r.opt_ts("last_ended")?,
            r.opt_real("last_needle")?,
        ) {
            (Some(date), Some(ended_at), Some(needle_length_mm)) => Some((
                LastSession {
                    ended_at,
                    needle_length_mm,
                },
                date,
            )),
            _ => None,
        };
        let input = StatusInput {
            sessions: r.bool("s")?,
            checkins: r.bool("c")?,
            last,
            open: to_u32(r.int("open_episodes")?, "open red flags")?,
            unacked: to_u32(r.int("unacked")?, "red flags")?,
            protocol: r.opt_decode("protocol")?,
            checkins_at: r
                .opt_str("checkins_at")?
                .unwrap_or_default()
                .split(',')
                .filter(|t| !t.is_empty())
                .map(|t| codec::from_micros(codec::parse(t, "check-in time")?))
                .collect::<Result<_>>()?,
        };
        Ok(PatientSummary {
            profile_id,
            name: r.text("name")?,
            joined_at: r.ts("joined_at")?,
            scopes: scope_set(r.opt_str("scopes")?)?,
            status: status(input, today, now),
        })
    })?;
    let list = if query.filter == PatientFilter::OverdueCheckins {
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        list.into_iter()
            .filter(|p| p.status.overdue_checkins.unwrap_or(0) > 0)
            .take(limit + 1)
            .collect()
    } else {
        list
    };
    let mut page = into_page(list, query);
    let red = tx
        .first(
            &format!(
                "SELECT count(*) AS n FROM clinic_patients cp
                 WHERE cp.clinic_id = ?1 AND cp.flagged AND {}",
                scope_held("checkins")
            ),
            args![clinic],
            |r| r.int("n"),
        )?
        .unwrap_or(0);
    page.red_flag_patients = Some(to_u32(red, "patients with red flags")?);
    Ok(page)
}

pub(crate) fn insert_notification(tx: &mut dyn Tx, n: &Notification) -> Result<()> {
    tx.insert(
        "INSERT INTO notifications (account_id, id, clinic_id, profile_id, kind, title, body, link, created_at, read_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        args![
            n.account_id,
            n.id,
            n.clinic_id,
            n.profile_id,
            &n.kind,
            &n.title,
            &n.body,
            &n.link,
            n.created_at,
            n.read_at,
        ],
        || format!("notification {} already exists", n.id),
        || format!("account {} (or its clinic or profile)", n.account_id),
    )
}

pub(crate) fn check_recipient(email: &Email) -> Result<()> {
    if email.to.trim().is_empty() {
        return Err(StoreError::invalid("an email needs a recipient"));
    }
    Ok(())
}

pub(crate) fn insert_email(tx: &mut dyn Tx, email: &Email) -> Result<()> {
    tx.insert(
        "INSERT INTO email_outbox (id, recipient, subject, body, created_at, sent_at, attempts,
             last_error, calendar_method, calendar)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        args![
            email.id,
            &email.to,
            &email.subject,
            &email.body,
            email.created_at,
            email.sent_at,
            email.attempts,
            &email.last_error,
            email.calendar.as_ref().map(|c| c.method.id()),
            email.calendar.as_ref().map(|c| c.text.as_str()),
        ],
        || format!("email {} already exists", email.id),
        || "email".to_owned(),
    )
}
