//! The clinic side on PostgreSQL: see [`crate::clinic`].
//!
//! Every clinic read or change of patient data runs in one transaction
//! that loads the asker's role, the patient's link and scopes, asks
//! [`permits`], does the work and appends the audit lines. The clinic's
//! list and red-flag queue are set-based: one statement for every patient
//! of the clinic and one multi-row insert for their audit lines, whatever
//! the clinic's size.

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::SystemTime;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use needlewise_core::clinic::{
    Act, CHECKIN_GRACE, Clinic, Grant, Ladder, Member, Override, PatientStatus, Protocol, Role,
    Scope, overdue_checkins, permits,
};
use needlewise_core::evidence::evidence;
use needlewise_core::ids::{
    AccountId, CheckinId, ClinicId, EmailId, EpisodeId, NotificationId, OverrideId, PhotoId,
    ProfileId, ScreeningId,
};
use needlewise_core::progress::Photo;
use needlewise_core::records::{Episode, Resolver, ScreeningRecord};
use needlewise_core::schedule::{LastSession, next_session};
use needlewise_core::triage::checkin_schedule;
use postgres::{IsolationLevel, Row, Transaction};
use serde_json::Value;
use uuid::Uuid;

use super::{
    EPISODE_COLUMNS, PHOTO_COLUMNS, PROFILE_COLUMNS, PostgresStore, SESSION_COLUMNS, TxError,
    TxResult, WEB_SESSION_COLUMNS, checkin_from_row, collect, episode_from_row, fill_sessions,
    insert_error, json, json_parse, opt_ts, photo_from_row, profile_from_row, resolve_open_episode,
    session_from_row, to_i32, ts, web_session_from_row,
};
use crate::clinic::{
    Acknowledgement, AuditEntry, ClinicAccess, ClinicStore, Email, Invite, LIST_VIEW_AUDIT_WINDOW,
    MailStatus, MemberInvite, Notification, OpenFlag, PatientLink, PatientRecord, PatientSummary,
    RedFlag, TotpSecret, new_audit_id,
};
use crate::codec::{self, parse, system_time, to_u32, to_u64};
use crate::{Result, StoreError, WebSession};

/// An email is tried at most this many times.
const MAX_EMAIL_ATTEMPTS: i32 = 5;

const CLINIC_COLUMNS: &str = "c.id, c.name, c.time_zone, c.ladder, c.created_at";

fn clinic_from_row(row: &Row, at: usize) -> Result<Clinic> {
    Ok(Clinic {
        id: ClinicId(row.try_get(at)?),
        name: row.try_get(at + 1)?,
        time_zone: row.try_get(at + 2)?,
        ladder: json_parse(row.try_get(at + 3)?, "escalation ladder")?,
        created_at: ts(row, at + 4)?,
    })
}

const MEMBER_COLUMNS: &str = "m.clinic_id, m.account_id, m.role, m.display_name, m.joined_at";

fn member_from_row(row: &Row, at: usize) -> Result<Member> {
    Ok(Member {
        clinic_id: ClinicId(row.try_get(at)?),
        account_id: AccountId(row.try_get(at + 1)?),
        role: parse(row.try_get(at + 2)?, "role")?,
        display_name: row.try_get(at + 3)?,
        joined_at: ts(row, at + 4)?,
    })
}

const MEMBER_INVITE_COLUMNS: &str = "mi.clinic_id, mi.code_hash, mi.email, mi.role, mi.display_name, mi.created_by, mi.created_at, mi.expires_at, mi.used_by, mi.used_at";

/// A team invitation from ten columns starting at `at`.
fn member_invite_from_row(row: &Row, at: usize) -> Result<MemberInvite> {
    Ok(MemberInvite {
        clinic_id: ClinicId(row.try_get(at)?),
        code_hash: row.try_get(at + 1)?,
        email: row.try_get(at + 2)?,
        role: parse(row.try_get(at + 3)?, "role")?,
        display_name: row.try_get(at + 4)?,
        created_by: AccountId(row.try_get(at + 5)?),
        created_at: ts(row, at + 6)?,
        expires_at: ts(row, at + 7)?,
        used_by: row.try_get::<_, Option<Uuid>>(at + 8)?.map(AccountId),
        used_at: opt_ts(row, at + 9)?,
    })
}

fn scopes_from(texts: Vec<String>) -> Result<BTreeSet<Scope>> {
    texts.iter().map(|s| parse(s, "consent scope")).collect()
}

/// The newest protocol from a clinic the profile is still the patient of.
pub(super) const ACTIVE_PROTOCOL: &str = "SELECT pr.body FROM protocols pr
     JOIN clinic_patients cp ON cp.clinic_id = pr.clinic_id AND cp.profile_id = pr.profile_id
     WHERE pr.profile_id = $1
     ORDER BY pr.prescribed_at DESC, pr.id DESC LIMIT 1";

pub(super) fn protocol_from(body: Value) -> Result<Protocol> {
    json_parse(body, "protocol")
}

const OVERRIDE_COLUMNS: &str =
    "clinic_id, profile_id, id, rule_id, by_account, by_name, at, reason";

fn override_from_row(row: &Row) -> Result<Override> {
    Ok(Override {
        clinic_id: ClinicId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        id: OverrideId(row.try_get(2)?),
        rule_id: row.try_get(3)?,
        by: AccountId(row.try_get(4)?),
        by_name: row.try_get(5)?,
        at: ts(row, 6)?,
        reason: row.try_get(7)?,
    })
}

/// An acknowledgement from four nullable columns starting at `at`.
fn ack_from_row(row: &Row, at: usize) -> Result<Option<Acknowledgement>> {
    let Some(by) = row.try_get::<_, Option<Uuid>>(at)? else {
        return Ok(None);
    };
    Ok(Some(Acknowledgement {
        by: AccountId(by),
        by_name: row.try_get(at + 1)?,
        at: ts(row, at + 2)?,
        note: row.try_get(at + 3)?,
    }))
}

const NOTIFICATION_COLUMNS: &str =
    "id, account_id, clinic_id, profile_id, kind, title, body, link, created_at, read_at";

fn notification_from_row(row: &Row) -> Result<Notification> {
    Ok(Notification {
        id: NotificationId(row.try_get(0)?),
        account_id: AccountId(row.try_get(1)?),
        clinic_id: row.try_get::<_, Option<Uuid>>(2)?.map(ClinicId),
        profile_id: row.try_get::<_, Option<Uuid>>(3)?.map(ProfileId),
        kind: row.try_get(4)?,
        title: row.try_get(5)?,
        body: row.try_get(6)?,
        link: row.try_get(7)?,
        created_at: ts(row, 8)?,
        read_at: opt_ts(row, 9)?,
    })
}

const EMAIL_COLUMNS: &str =
    "id, recipient, subject, body, created_at, sent_at, attempts, last_error";

fn email_from_row(row: &Row) -> Result<Email> {
    Ok(Email {
        id: EmailId(row.try_get(0)?),
        to: row.try_get(1)?,
        subject: row.try_get(2)?,
        body: row.try_get(3)?,
        created_at: ts(row, 4)?,
        sent_at: opt_ts(row, 5)?,
        attempts: to_u32(i64::from(row.try_get::<_, i32>(6)?), "email attempts")?,
        last_error: row.try_get(7)?,
    })
}

fn hex_decode(s: &str) -> Result<Vec<u8>> {
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

fn limit(n: u32) -> i64 {
    i64::from(n)
}

fn scope_list(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.id()).collect::<Vec<_>>().join(", ")
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

/// The asker's role and display name in `by.clinic`, if a member.
fn member_of(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    by: &ClinicAccess,
) -> TxResult<Option<(Role, String)>> {
    let statement = store.prepared(
        tx,
        "SELECT role, display_name FROM clinic_members WHERE clinic_id = $1 AND account_id = $2",
    )?;
    let row = tx.query_opt(&statement, &[&by.clinic.0, &by.account.0])?;
    Ok(row
        .map(|r| -> Result<(Role, String)> { Ok((parse(r.try_get(0)?, "role")?, r.try_get(1)?)) })
        .transpose()?)
}

fn not_a_member(by: &ClinicAccess) -> TxError {
    StoreError::not_found(format!("clinic {}", by.clinic)).into()
}

/// A member of the clinic (any role): `NotFound` otherwise.
fn require_member(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    by: &ClinicAccess,
) -> TxResult<(Role, String)> {
    member_of(store, tx, by)?.ok_or_else(|| not_a_member(by))
}

/// A clinician of the clinic: `NotFound` for outsiders, `Forbidden` for
/// other roles.
fn require_clinician(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    by: &ClinicAccess,
) -> TxResult<String> {
    let (role, name) = require_member(store, tx, by)?;
    if !role.reads_clinical_data() {
        return Err(StoreError::forbidden(format!(
            "a {} of clinic {} may not do this; ask a clinician",
            role.id(),
            by.clinic
        ))
        .into());
    }
    Ok(name)
}

/// What the asker holds over one patient, and the asker's display name.
struct Held {
    grant: Grant,
    name: String,
    joined_at: Option<Timestamp>,
}

/// Loads the asker's role and the patient's link and scopes, in one query.
fn held(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    by: &ClinicAccess,
    profile: ProfileId,
) -> TxResult<Held> {
    let statement = store.prepared(
        tx,
        "SELECT m.role, m.display_name, cp.joined_at,
                ARRAY(SELECT scope FROM consents c
                      WHERE c.clinic_id = m.clinic_id AND c.profile_id = cp.profile_id)
         FROM clinic_members m
         LEFT JOIN clinic_patients cp ON cp.clinic_id = m.clinic_id AND cp.profile_id = $3
         WHERE m.clinic_id = $1 AND m.account_id = $2",
    )?;
    let row = tx.query_opt(&statement, &[&by.clinic.0, &by.account.0, &profile.0])?;
    let Some(row) = row else {
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
    let joined_at = opt_ts(&row, 2)?;
    Ok(Held {
        grant: Grant {
            role: Some(parse(row.try_get(0)?, "role")?),
            linked: joined_at.is_some(),
            scopes: scopes_from(row.try_get(3)?)?,
        },
        name: row.try_get(1)?,
        joined_at,
    })
}

/// Why `act` is refused: `Forbidden` for a member whose role may not do
/// it with a patient of the clinic, `NotFound` for everything else.
fn refusal(grant: &Grant, act: Act, what: &str) -> StoreError {
    match grant.role {
        Some(role) if grant.linked && !role.reads_clinical_data() && act != Act::SeeListed => {
            StoreError::forbidden(format!("a {} may not see or change {what}", role.id()))
        }
        _ => StoreError::not_found(what.to_owned()),
    }
}

fn authorize(held: &Held, act: Act, what: &str) -> TxResult<()> {
    if permits(&held.grant, act) {
        Ok(())
    } else {
        Err(refusal(&held.grant, act, what).into())
    }
}

/// One audit line.
#[allow(clippy::too_many_arguments)]
fn audit(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    profile: ProfileId,
    clinic: ClinicId,
    actor: AccountId,
    actor_name: &str,
    action: &str,
    detail: &str,
    at: Timestamp,
) -> TxResult<()> {
    let statement = store.prepared(
        tx,
        "INSERT INTO audit_log (profile_id, id, clinic_id, actor, actor_name, action, detail, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )?;
    tx.execute(
        &statement,
        &[
            &profile.0,
            &new_audit_id().0,
            &clinic.0,
            &actor.0,
            &actor_name,
            &action,
            &detail,
            &system_time(at)?,
        ],
    )?;
    Ok(())
}

/// The same audit line for many patients, in one statement.
#[allow(clippy::too_many_arguments)]
fn audit_many(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    profiles: &[Uuid],
    by: &ClinicAccess,
    actor_name: &str,
    action: &str,
    detail: &str,
    at: Timestamp,
) -> TxResult<()> {
    if profiles.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = profiles.iter().map(|_| new_audit_id().0).collect();
    // List views within the window are logged once (see
    // LIST_VIEW_AUDIT_WINDOW); any other action's window is empty.
    let since = if action == "viewed_list" {
        at.checked_sub(LIST_VIEW_AUDIT_WINDOW).unwrap_or(at)
    } else {
        at.checked_add(SignedDuration::from_micros(1)).unwrap_or(at)
    };
    let statement = store.prepared(
        tx,
        "INSERT INTO audit_log (profile_id, id, clinic_id, actor, actor_name, action, detail, at)
         SELECT p, i, $3, $4, $5, $6, $7, $8 FROM unnest($1::uuid[], $2::uuid[]) AS u (p, i)
         WHERE NOT EXISTS (SELECT 1 FROM audit_log a
             WHERE a.profile_id = u.p AND a.at >= $9 AND a.at <= $8
               AND a.clinic_id = $3 AND a.actor = $4 AND a.action = $6 AND a.detail = $7)",
    )?;
    tx.execute(
        &statement,
        &[
            &profiles,
            &ids,
            &by.clinic.0,
            &by.account.0,
            &actor_name,
            &action,
            &detail,
            &system_time(at)?,
            &system_time(since)?,
        ],
    )?;
    Ok(())
}

/// Whether any of `profiles` has no list-view line (`detail`) from this
/// clinician within [`LIST_VIEW_AUDIT_WINDOW`]: then the view must be
/// logged. Stops at the first such patient.
fn unlogged_views(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    profiles: &[Uuid],
    by: &ClinicAccess,
    detail: &str,
    at: Timestamp,
) -> TxResult<bool> {
    if profiles.is_empty() {
        return Ok(false);
    }
    let since = at.checked_sub(LIST_VIEW_AUDIT_WINDOW).unwrap_or(at);
    // One range of the clinician's list views in the window
    // (audit_log_list_views), set against the patients shown.
    let statement = store.prepared(
        tx,
        "SELECT EXISTS (SELECT u.p FROM unnest($1::uuid[]) AS u (p)
             EXCEPT
             SELECT a.profile_id FROM audit_log a
             WHERE a.clinic_id = $2 AND a.actor = $3 AND a.action = 'viewed_list'
               AND a.detail = $6 AND a.at >= $4 AND a.at <= $5)",
    )?;
    let row = tx.query_one(
        &statement,
        &[
            &profiles,
            &by.clinic.0,
            &by.account.0,
            &system_time(since)?,
            &system_time(at)?,
            &detail,
        ],
    )?;
    Ok(row.try_get(0)?)
}

/// Writes the list-view audit lines (`detail`) of `shown`, in a short
/// transaction of their own, when [`unlogged_views`] found one missing in
/// the window. Called before the list is returned.
fn log_list_view(
    store: &PostgresStore,
    shown: &[Uuid],
    by: &ClinicAccess,
    actor_name: &str,
    detail: &str,
    now: Timestamp,
) -> Result<()> {
    store.write_at(IsolationLevel::RepeatableRead, |tx| {
        audit_many(store, tx, shown, by, actor_name, "viewed_list", detail, now)
    })
}

/// Runs a statement prepared once per connection and converts each row.
fn collect_prepared<T>(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    sql: &'static str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    convert: impl Fn(&Row) -> Result<T>,
) -> TxResult<Vec<T>> {
    let statement = store.prepared(tx, sql)?;
    let rows = tx.query(&statement, params)?;
    Ok(rows.iter().map(convert).collect::<Result<Vec<T>>>()?)
}

/// The patient's own account, the actor of their consent changes.
fn profile_owner(tx: &mut Transaction<'_>, profile: ProfileId) -> TxResult<Option<AccountId>> {
    Ok(tx
        .query_opt(
            "SELECT account_id FROM profiles WHERE id = $1",
            &[&profile.0],
        )?
        .map(|r| r.try_get(0).map(AccountId))
        .transpose()?)
}

/// How the patient's own actions are named in their audit log.
const PATIENT_ACTOR: &str = "you";

fn check_clinic(clinic: &Clinic) -> Result<()> {
    if clinic.name.trim().is_empty() {
        return Err(StoreError::invalid("give the clinic a name"));
    }
    clinic.ladder.validate().map_err(StoreError::invalid)
}

fn check_member(member: &Member) -> Result<()> {
    if member.display_name.trim().is_empty() {
        return Err(StoreError::invalid("give the member a display name"));
    }
    Ok(())
}

/// `now` in the clinic's time zone (UTC if the zone is not known here):
/// the list's dates are the clinic's days.
fn clinic_now(time_zone: &str, now: Timestamp) -> jiff::ZonedDateTime {
    let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
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
        // Only a clinic that may see check-ins learns of a red flag.
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

/// Every patient of clinic `$1` with their status inputs, in one statement.
/// Each part is read only under its scope (the CASEs are gated on the
/// consent flags, the protocol on the sessions scope). The scopes, the last
/// session, the number of open episodes and the check-ins around the last
/// session are kept on the clinic link and the profile by triggers
/// (migration 6), so most patients cost one row of each; episodes are read
/// only for a patient with open ones (to count the unacknowledged).
/// Protocols are read for the whole clinic at once and joined.
const PATIENT_STATUS_SQL: &str = "
WITH pr AS (
    SELECT DISTINCT ON (pr.profile_id) pr.profile_id, pr.body FROM protocols pr
    WHERE pr.clinic_id = $1 ORDER BY pr.profile_id, pr.prescribed_at DESC, pr.id DESC
)
SELECT cp.profile_id, p.name, cp.joined_at, cp.scopes, v.s, v.c,
       CASE WHEN v.s OR v.c THEN to_char(p.last_session_date, 'YYYY-MM-DD') END,
       CASE WHEN v.s OR v.c THEN p.last_session_needle END,
       CASE WHEN v.s OR v.c THEN p.last_session_ended END,
       CASE WHEN v.s OR v.c THEN p.open_episodes::bigint END,
       CASE WHEN (v.s OR v.c) AND p.open_episodes > 0 THEN (
           SELECT count(*) FROM episodes e
           WHERE e.profile_id = cp.profile_id AND e.resolved_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM red_flag_acks a
                 WHERE a.clinic_id = $1 AND a.profile_id = e.profile_id AND a.episode_id = e.id))
       END,
       CASE WHEN v.s THEN pr.body END,
       CASE WHEN v.c THEN p.recent_checkins END
FROM clinic_patients cp
CROSS JOIN LATERAL (
    -- One index probe per patient. OFFSET 0 keeps it a probe: as a plain
    -- join the planner prefers hashing every profile of the store.
    SELECT p.name, p.last_session_date, p.last_session_needle, p.last_session_ended,
           p.open_episodes, p.recent_checkins
    FROM profiles p WHERE p.id = cp.profile_id OFFSET 0
) p
CROSS JOIN LATERAL (
    SELECT 'sessions' = ANY (cp.scopes) AS s, 'checkins' = ANY (cp.scopes) AS c
) v
LEFT JOIN pr ON pr.profile_id = cp.profile_id
WHERE cp.clinic_id = $1";

/// How long before the last session's end to count check-ins: the grace
/// before the first due check-in (at least the grace before the session's
/// end). It must not exceed the week of check-ins migration 6 keeps beside
/// the profile (a test holds it).
/// Reading a little more than needed is harmless: [`overdue_checkins`]
/// only counts those in a due check-in's window.
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

const RED_FLAG_SQL: &str = "
SELECT e.id, e.profile_id, e.checkin_id, e.level, e.opened_at, e.resolved_at, e.resolution, e.resolver,
       p.name, ck.rule_ids, a.by_account, a.by_name, a.at, a.note,
       GREATEST(e.opened_at, co.granted_at)
FROM clinic_patients cp
JOIN consents co ON co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id AND co.scope = 'checkins'
JOIN profiles p ON p.id = cp.profile_id
JOIN episodes e ON e.profile_id = cp.profile_id AND e.resolved_at IS NULL
JOIN checkins ck ON ck.profile_id = e.profile_id AND ck.id = e.checkin_id
LEFT JOIN red_flag_acks a ON a.clinic_id = cp.clinic_id AND a.profile_id = e.profile_id AND a.episode_id = e.id
WHERE cp.clinic_id = $1
ORDER BY e.opened_at, e.id";

/// Stores a membership of `clinic`; `Conflict` if the account already is a
/// member, `NotFound` if it does not exist.
fn insert_member(tx: &mut Transaction<'_>, clinic: ClinicId, member: &Member) -> TxResult<()> {
    tx.execute(
        "INSERT INTO clinic_members (clinic_id, account_id, role, display_name, joined_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &clinic.0,
            &member.account_id.0,
            &member.role.id(),
            &member.display_name,
            &system_time(member.joined_at)?,
        ],
    )
    .map_err(|e| {
        insert_error(
            e,
            || format!("account {} is already a member", member.account_id),
            || format!("account {}", member.account_id),
        )
    })?;
    Ok(())
}

impl ClinicStore for PostgresStore {
    fn create_clinic(&self, clinic: &Clinic, founder: &Member) -> Result<()> {
        check_clinic(clinic)?;
        check_member(founder)?;
        if founder.clinic_id != clinic.id {
            return Err(StoreError::invalid(
                "the founder must be a member of the new clinic",
            ));
        }
        if founder.role != Role::Clinician {
            return Err(StoreError::invalid("a clinic is founded by a clinician"));
        }
        let ladder = json(&clinic.ladder)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO clinics (id, name, time_zone, ladder, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &clinic.id.0,
                    &clinic.name,
                    &clinic.time_zone,
                    &ladder,
                    &system_time(clinic.created_at)?,
                ],
            )
            .map_err(|e| {
                insert_error(e, || format!("clinic {} already exists", clinic.id), || "clinic".into())
            })?;
            insert_member(tx, clinic.id, founder)
        })
    }

    fn clinic(&self, id: ClinicId) -> Result<Option<Clinic>> {
        self.read(|tx| {
            let sql = format!("SELECT {CLINIC_COLUMNS} FROM clinics c WHERE c.id = $1");
            Ok(collect(tx, &sql, &[&id.0], |r| clinic_from_row(r, 0))?.pop())
        })
    }

    fn memberships(&self, account: AccountId) -> Result<Vec<(Clinic, Member)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {CLINIC_COLUMNS}, {MEMBER_COLUMNS} FROM clinic_members m
                 JOIN clinics c ON c.id = m.clinic_id
                 WHERE m.account_id = $1 ORDER BY m.joined_at, m.clinic_id"
            )
        });
        self.read_one(&SQL, &[&account.0], |r| {
            Ok((clinic_from_row(r, 0)?, member_from_row(r, 5)?))
        })
    }

    fn members(&self, by: &ClinicAccess) -> Result<Vec<Member>> {
        self.read(|tx| {
            require_member(self, tx, by)?;
            let sql = format!(
                "SELECT {MEMBER_COLUMNS} FROM clinic_members m WHERE m.clinic_id = $1
                 ORDER BY m.joined_at, m.account_id"
            );
            collect(tx, &sql, &[&by.clinic.0], |r| member_from_row(r, 0))
        })
    }

    fn add_member(&self, by: &ClinicAccess, member: &Member) -> Result<()> {
        same_clinic(by, member.clinic_id, "member")?;
        check_member(member)?;
        self.write(|tx| {
            require_clinician(self, tx, by)?;
            insert_member(tx, by.clinic, member)
        })
    }

    fn create_member_invite(&self, by: &ClinicAccess, invite: &MemberInvite) -> Result<()> {
        invite.check(by)?;
        let created_at = system_time(invite.created_at)?;
        let expires_at = system_time(invite.expires_at)?;
        self.write(|tx| {
            require_clinician(self, tx, by)?;
            tx.execute(
                "INSERT INTO clinic_member_invites
                   (clinic_id, code_hash, email, role, display_name, created_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &by.clinic.0,
                    &invite.code_hash,
                    &invite.email,
                    &invite.role.id(),
                    &invite.display_name,
                    &by.account.0,
                    &created_at,
                    &expires_at,
                ],
            )
            .map_err(|e| {
                insert_error(
                    e,
                    || "this invitation code is taken".into(),
                    || format!("clinic {}", by.clinic),
                )
            })?;
            Ok(())
        })
    }

    fn member_invite(&self, code_hash: &str) -> Result<Option<(Clinic, MemberInvite)>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS}, {MEMBER_INVITE_COLUMNS}
                 FROM clinic_member_invites mi JOIN clinics c ON c.id = mi.clinic_id
                 WHERE mi.code_hash = $1"
            );
            Ok(collect(tx, &sql, &[&code_hash], |r| {
                Ok((clinic_from_row(r, 0)?, member_invite_from_row(r, 5)?))
            })?
            .pop())
        })
    }

    fn member_invites(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<MemberInvite>> {
        let now = system_time(now)?;
        self.read(|tx| {
            require_clinician(self, tx, by)?;
            let sql = format!(
                "SELECT {MEMBER_INVITE_COLUMNS} FROM clinic_member_invites mi
                 WHERE mi.clinic_id = $1 AND mi.used_at IS NULL AND mi.expires_at > $2
                 ORDER BY mi.created_at, mi.code_hash"
            );
            collect(tx, &sql, &[&by.clinic.0, &now], |r| {
                member_invite_from_row(r, 0)
            })
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
        let unusable = || -> TxError {
            StoreError::not_found("invitation (unknown, used, expired or another's)").into()
        };
        let at = system_time(now)?;
        self.write(|tx| {
            let sql = format!(
                "SELECT {MEMBER_INVITE_COLUMNS} FROM clinic_member_invites mi
                 WHERE mi.code_hash = $1 FOR UPDATE"
            );
            let invite = collect(tx, &sql, &[&code_hash], |r| member_invite_from_row(r, 0))?
                .pop()
                .filter(|i| i.usable(now))
                .ok_or_else(unusable)?;
            let email: Option<String> = tx
                .query_opt("SELECT email FROM accounts WHERE id = $1", &[&account.0])?
                .map(|r| r.try_get::<_, Option<String>>(0))
                .transpose()?
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
            insert_member(tx, invite.clinic_id, &member)?;
            let used = tx.execute(
                "UPDATE clinic_member_invites SET used_by = $3, used_at = $4
                 WHERE clinic_id = $1 AND code_hash = $2 AND used_at IS NULL",
                &[&invite.clinic_id.0, &code_hash, &account.0, &at],
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
            require_clinician(self, tx, by)?;
            tx.execute(
                "UPDATE clinics SET ladder = $2 WHERE id = $1",
                &[&by.clinic.0, &ladder],
            )?;
            Ok(())
        })
    }

    fn create_invite(&self, by: &ClinicAccess, invite: &Invite) -> Result<()> {
        same_clinic(by, invite.clinic_id, "invite")?;
        invite.check(by)?;
        self.write(|tx| {
            require_member(self, tx, by)?;
            tx.execute(
                "INSERT INTO clinic_invites (clinic_id, code_hash, label, created_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &by.clinic.0,
                    &invite.code_hash,
                    &invite.label,
                    &by.account.0,
                    &system_time(invite.created_at)?,
                    &system_time(invite.expires_at)?,
                ],
            )
            .map_err(|e| {
                insert_error(e, || "this invite code is taken".into(), || "clinic".into())
            })?;
            Ok(())
        })
    }

    fn invite_clinic(&self, code_hash: &str, now: Timestamp) -> Result<Option<Clinic>> {
        let now = system_time(now)?;
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS} FROM clinic_invites i JOIN clinics c ON c.id = i.clinic_id
                 WHERE i.code_hash = $1 AND i.used_at IS NULL AND i.expires_at > $2"
            );
            Ok(collect(tx, &sql, &[&code_hash, &now], |r| clinic_from_row(r, 0))?.pop())
        })
    }

    fn redeem_invite(
        &self,
        code_hash: &str,
        profile: ProfileId,
        scopes: &BTreeSet<Scope>,
        now: Timestamp,
    ) -> Result<ClinicId> {
        let at = system_time(now)?;
        self.write(|tx| {
            let clinic = tx
                .query_opt(
                    "SELECT clinic_id FROM clinic_invites
                     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE",
                    &[&code_hash, &at],
                )?
                .map(|r| r.try_get(0).map(ClinicId))
                .transpose()?
                .ok_or_else(|| StoreError::not_found("invite"))?;
            let owner = profile_owner(tx, profile)?
                .ok_or_else(|| StoreError::not_found(format!("profile {profile}")))?;
            tx.execute(
                "INSERT INTO clinic_patients (clinic_id, profile_id, joined_at) VALUES ($1, $2, $3)",
                &[&clinic.0, &profile.0, &at],
            )
            .map_err(|e| {
                insert_error(
                    e,
                    || "this profile is already the clinic's patient".into(),
                    || format!("profile {profile}"),
                )
            })?;
            tx.execute(
                "UPDATE clinic_invites SET used_by = $2, used_at = $3 WHERE code_hash = $1",
                &[&code_hash, &profile.0, &at],
            )?;
            audit(self, tx, profile, clinic, owner, PATIENT_ACTOR, "joined", "", now)?;
            for scope in scopes {
                tx.execute(
                    "INSERT INTO consents (clinic_id, profile_id, scope, granted_at) VALUES ($1, $2, $3, $4)",
                    &[&clinic.0, &profile.0, &scope.id(), &at],
                )?;
                audit(self, tx, profile, clinic, owner, PATIENT_ACTOR, "consent_granted", scope.id(), now)?;
            }
            Ok(clinic)
        })
    }

    fn patient_clinics(&self, profile: ProfileId) -> Result<Vec<PatientLink>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS}, cp.joined_at,
                        ARRAY(SELECT scope FROM consents co
                              WHERE co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id)
                 FROM clinic_patients cp JOIN clinics c ON c.id = cp.clinic_id
                 WHERE cp.profile_id = $1 ORDER BY cp.joined_at, cp.clinic_id"
            );
            collect(tx, &sql, &[&profile.0], |r| {
                Ok(PatientLink {
                    clinic: clinic_from_row(r, 0)?,
                    joined_at: ts(r, 5)?,
                    scopes: scopes_from(r.try_get(6)?)?,
                })
            })
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
        let when = system_time(at)?;
        self.write(|tx| {
            let owner = tx
                .query_opt(
                    "SELECT p.account_id FROM clinic_patients cp JOIN profiles p ON p.id = cp.profile_id
                     WHERE cp.clinic_id = $1 AND cp.profile_id = $2",
                    &[&clinic.0, &profile.0],
                )?
                .map(|r| r.try_get(0).map(AccountId))
                .transpose()?
                .ok_or_else(|| {
                    StoreError::not_found(format!("profile {profile} at clinic {clinic}"))
                })?;
            let changed = if granted {
                tx.execute(
                    "INSERT INTO consents (clinic_id, profile_id, scope, granted_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&clinic.0, &profile.0, &scope.id(), &when],
                )?
            } else {
                tx.execute(
                    "DELETE FROM consents WHERE clinic_id = $1 AND profile_id = $2 AND scope = $3",
                    &[&clinic.0, &profile.0, &scope.id()],
                )?
            };
            if changed > 0 {
                let action = if granted {
                    "consent_granted"
                } else {
                    "consent_revoked"
                };
                audit(self, tx, profile, clinic, owner, PATIENT_ACTOR, action, scope.id(), at)?;
            }
            Ok(())
        })
    }

    fn leave_clinic(&self, profile: ProfileId, clinic: ClinicId, at: Timestamp) -> Result<()> {
        self.write(|tx| {
            let owner = profile_owner(tx, profile)?;
            // Consents, protocols and overrides go with the link.
            let left = tx.query_opt(
                "WITH gone AS (
                     DELETE FROM clinic_patients WHERE clinic_id = $1 AND profile_id = $2
                     RETURNING clinic_id, profile_id)
                 SELECT ARRAY(SELECT co.scope FROM consents co JOIN gone
                              ON co.clinic_id = gone.clinic_id AND co.profile_id = gone.profile_id)
                 FROM gone",
                &[&clinic.0, &profile.0],
            )?;
            let (Some(owner), Some(left)) = (owner, left) else {
                return Err(
                    StoreError::not_found(format!("profile {profile} at clinic {clinic}")).into(),
                );
            };
            let scopes = scopes_from(left.try_get(0)?)?;
            audit(
                self,
                tx,
                profile,
                clinic,
                owner,
                PATIENT_ACTOR,
                "left",
                &scope_list(&scopes),
                at,
            )?;
            Ok(())
        })
    }

    fn clinic_patients(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<PatientSummary>> {
        let lookback = checkin_lookback();
        // Read in a read-only snapshot (no write lock, no transaction id);
        // the audit lines are written before anything is returned, and only
        // when this clinician's last view of a patient is older than the
        // window, so most views write nothing.
        let (list, shown, actor_name, unlogged) = self.read(|tx| {
            let asker = self.prepared(
                tx,
                "SELECT m.role, m.display_name, c.time_zone FROM clinic_members m
                 JOIN clinics c ON c.id = m.clinic_id
                 WHERE m.clinic_id = $1 AND m.account_id = $2",
            )?;
            let row = tx.query_opt(&asker, &[&by.clinic.0, &by.account.0])?;
            let Some(row) = row else {
                return Err(not_a_member(by));
            };
            let role: Role = parse(row.try_get(0)?, "role")?;
            let actor_name: String = row.try_get(1)?;
            let today = clinic_now(row.try_get(2)?, now);
            let mut list = if !role.reads_clinical_data() {
                // Staff: names and join dates only; no clinical data read.
                collect(
                    tx,
                    "SELECT cp.profile_id, p.name, cp.joined_at, cp.scopes
                     FROM clinic_patients cp JOIN profiles p ON p.id = cp.profile_id
                     WHERE cp.clinic_id = $1",
                    &[&by.clinic.0],
                    |r| {
                        Ok(PatientSummary {
                            profile_id: ProfileId(r.try_get(0)?),
                            name: r.try_get(1)?,
                            joined_at: ts(r, 2)?,
                            scopes: scopes_from(r.try_get(3)?)?,
                            status: empty_status(),
                        })
                    },
                )?
            } else {
                collect_prepared(self, tx, PATIENT_STATUS_SQL, &[&by.clinic.0], |r| {
                    let sessions: bool = r.try_get(4)?;
                    let checkins: bool = r.try_get(5)?;
                    let last = match r.try_get::<_, Option<&str>>(6)? {
                        Some(d) => Some((
                            LastSession {
                                ended_at: ts(r, 8)?,
                                needle_length_mm: r.try_get(7)?,
                            },
                            codec::parse_date(d)?,
                        )),
                        None => None,
                    };
                    let count = |i: usize| -> Result<u32> {
                        to_u32(
                            r.try_get::<_, Option<i64>>(i)?.unwrap_or(0),
                            "red flag count",
                        )
                    };
                    let protocol = r
                        .try_get::<_, Option<Value>>(11)?
                        .map(protocol_from)
                        .transpose()?;
                    // Those from the lookback before the last
                    // session's end up to now (none without one).
                    let from = last
                        .as_ref()
                        .map(|(l, _)| l.ended_at.checked_sub(lookback).unwrap_or(Timestamp::MIN));
                    let mut checkins_at = Vec::new();
                    for at in r
                        .try_get::<_, Option<Vec<SystemTime>>>(12)?
                        .unwrap_or_default()
                    {
                        let at = codec::from_system_time(at)?;
                        if from.is_some_and(|from| at >= from) && at <= now {
                            checkins_at.push(at);
                        }
                    }
                    let input = StatusInput {
                        sessions,
                        checkins,
                        last,
                        open: count(9)?,
                        unacked: count(10)?,
                        protocol,
                        checkins_at,
                    };
                    Ok(PatientSummary {
                        profile_id: ProfileId(r.try_get(0)?),
                        name: r.try_get(1)?,
                        joined_at: ts(r, 2)?,
                        scopes: scopes_from(r.try_get(3)?)?,
                        status: status(input, &today, now),
                    })
                })?
            };
            list.sort_by(|a, b| a.name.cmp(&b.name).then(a.profile_id.cmp(&b.profile_id)));
            let shown: Vec<Uuid> = if role.reads_clinical_data() {
                list.iter()
                    .filter(|p| {
                        p.scopes.contains(&Scope::Sessions) || p.scopes.contains(&Scope::Checkins)
                    })
                    .map(|p| p.profile_id.0)
                    .collect()
            } else {
                Vec::new()
            };
            let unlogged = unlogged_views(self, tx, &shown, by, "patient list", now)?;
            Ok((list, shown, actor_name, unlogged))
        })?;
        if unlogged {
            log_list_view(self, &shown, by, &actor_name, "patient list", now)?;
        }
        Ok(list)
    }

    fn red_flag_queue(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<RedFlag>> {
        // As for the patient list: read in a read-only snapshot, then write
        // the audit lines only when the window needs them.
        let (flags, shown, actor_name, unlogged) = self.read(|tx| {
            let actor_name = require_clinician(self, tx, by)?;
            let flags = collect_prepared(self, tx, RED_FLAG_SQL, &[&by.clinic.0], |r| {
                Ok(RedFlag {
                    profile_id: ProfileId(r.try_get(1)?),
                    patient_name: r.try_get(8)?,
                    episode: episode_from_row(r)?,
                    rule_ids: codec::rule_ids(r.try_get(9)?)?,
                    acknowledged: ack_from_row(r, 10)?,
                    visible_since: ts(r, 14)?,
                })
            })?;
            let mut shown: Vec<Uuid> = flags.iter().map(|f| f.profile_id.0).collect();
            shown.sort_unstable();
            shown.dedup();
            let unlogged = unlogged_views(self, tx, &shown, by, "red flags", now)?;
            Ok((flags, shown, actor_name, unlogged))
        })?;
        if unlogged {
            log_list_view(self, &shown, by, &actor_name, "red flags", now)?;
        }
        Ok(flags)
    }

    fn patient_record(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        now: Timestamp,
    ) -> Result<Option<PatientRecord>> {
        let result = self.write_at(IsolationLevel::RepeatableRead, |tx| {
            let held = held(self, tx, by, profile)?;
            let what = format!("patient {profile}");
            // Any clinical read at all: refuses staff with Forbidden and
            // outsiders with NotFound (read as None below).
            if !permits(&held.grant, Act::SeeListed) {
                return Err(refusal(&held.grant, Act::SeeListed, &what).into());
            }
            if !held.grant.role.is_some_and(Role::reads_clinical_data) {
                return Err(refusal(&held.grant, Act::Read(Scope::Sessions), &what).into());
            }
            let can = |scope| permits(&held.grant, Act::Read(scope));
            let key = &profile.0;
            let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = $1");
            let Some(profile_row) = collect(tx, &sql, &[key], profile_from_row)?.pop() else {
                return Err(StoreError::not_found(what).into());
            };
            let screening = if can(Scope::Screening) {
                collect(
                    tx,
                    "SELECT id, profile_id, taken_at, verdict, answers, result FROM screenings
                     WHERE profile_id = $1 ORDER BY taken_at DESC, id DESC LIMIT 1",
                    &[key],
                    |row| {
                        Ok(ScreeningRecord {
                            id: ScreeningId(row.try_get(0)?),
                            profile_id: ProfileId(row.try_get(1)?),
                            taken_at: ts(row, 2)?,
                            verdict: parse(row.try_get(3)?, "verdict")?,
                            answers: codec::screening_answers(&row.try_get::<_, Value>(4)?)?,
                            result: codec::decode_screening_result(row.try_get(5)?)?,
                        })
                    },
                )?
                .pop()
            } else {
                None
            };
            let sessions = if can(Scope::Sessions) {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = $1
                     ORDER BY started_at DESC, id DESC"
                );
                let mut sessions = collect(tx, &sql, &[key], session_from_row)?;
                fill_sessions(tx, profile, &mut sessions, None)?;
                Some(sessions)
            } else {
                None
            };
            let (checkins, episodes) = if can(Scope::Checkins) {
                let checkins = collect(
                    tx,
                    "SELECT id, profile_id, session_id, at, answers, level, rule_ids FROM checkins
                     WHERE profile_id = $1 ORDER BY at DESC, id DESC",
                    &[key],
                    checkin_from_row,
                )?;
                let cols: Vec<String> = EPISODE_COLUMNS
                    .split(", ")
                    .map(|c| format!("e.{c}"))
                    .collect();
                let sql = format!(
                    "SELECT {}, a.by_account, a.by_name, a.at, a.note FROM episodes e
                     LEFT JOIN red_flag_acks a
                       ON a.clinic_id = $2 AND a.profile_id = e.profile_id AND a.episode_id = e.id
                     WHERE e.profile_id = $1 ORDER BY e.opened_at DESC, e.id DESC",
                    cols.join(", ")
                );
                let episodes = collect(tx, &sql, &[key, &by.clinic.0], |r| {
                    Ok((episode_from_row(r)?, ack_from_row(r, 8)?))
                })?;
                (Some(checkins), Some(episodes))
            } else {
                (None, None)
            };
            let photos = if can(Scope::PhotosClinical) {
                let sql = format!(
                    "SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = $1 ORDER BY taken_at, id"
                );
                Some(collect(tx, &sql, &[key], photo_from_row)?)
            } else {
                None
            };
            let protocol = tx
                .query_opt(
                    "SELECT body FROM protocols WHERE clinic_id = $1 AND profile_id = $2
                     ORDER BY prescribed_at DESC, id DESC LIMIT 1",
                    &[&by.clinic.0, key],
                )?
                .map(|r| -> Result<Protocol> { protocol_from(r.try_get(0)?) })
                .transpose()?;
            let sql = format!(
                "SELECT {OVERRIDE_COLUMNS} FROM rule_overrides
                 WHERE clinic_id = $1 AND profile_id = $2 AND revoked_at IS NULL ORDER BY at, id"
            );
            let overrides = collect(tx, &sql, &[&by.clinic.0, key], override_from_row)?;
            let read: BTreeSet<Scope> = held
                .grant
                .scopes
                .iter()
                .copied()
                .filter(|s| *s != Scope::PhotosTeaching)
                .collect();
            audit(
                self,
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
                profile: profile_row,
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
        });
        match result {
            Ok(record) => Ok(Some(record)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn patient_photo(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        photo: PhotoId,
        now: Timestamp,
    ) -> Result<Option<Photo>> {
        let result = self.write_at(IsolationLevel::RepeatableRead, |tx| {
            let held = held(self, tx, by, profile)?;
            authorize(
                &held,
                Act::Read(Scope::PhotosClinical),
                &format!("photo {photo}"),
            )?;
            let sql =
                format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = $1 AND id = $2");
            let found = collect(tx, &sql, &[&profile.0, &photo.0], photo_from_row)?.pop();
            if found.is_some() {
                audit(
                    self,
                    tx,
                    profile,
                    by.clinic,
                    by.account,
                    &held.name,
                    "viewed_photo",
                    &photo.to_string(),
                    now,
                )?;
            }
            Ok(found)
        });
        match result {
            Err(StoreError::NotFound { .. }) => Ok(None),
            other => other,
        }
    }

    fn acknowledge(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        episode: EpisodeId,
        note: &str,
        at: Timestamp,
    ) -> Result<()> {
        let when = system_time(at)?;
        self.write(|tx| {
            let held = held(self, tx, by, profile)?;
            authorize(&held, Act::Acknowledge, &format!("red flag {episode}"))?;
            let open = tx
                .query_opt(
                    "SELECT 1 FROM episodes WHERE profile_id = $1 AND id = $2 AND resolved_at IS NULL",
                    &[&profile.0, &episode.0],
                )?
                .is_some();
            if !open {
                return Err(StoreError::not_found(format!("open red flag {episode}")).into());
            }
            let inserted = tx.execute(
                "INSERT INTO red_flag_acks (clinic_id, profile_id, episode_id, by_account, by_name, at, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[&by.clinic.0, &profile.0, &episode.0, &by.account.0, &held.name, &when, &note],
            )?;
            if inserted == 0 {
                return Err(StoreError::conflict(format!(
                    "red flag {episode} is already acknowledged"
                ))
                .into());
            }
            audit(
                self,
                tx,
                profile,
                by.clinic,
                by.account,
                &held.name,
                "acknowledged",
                &episode.to_string(),
                at,
            )?;
            Ok(())
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
            let held = held(self, tx, by, profile)?;
            authorize(&held, Act::Resolve, &format!("red flag {episode}"))?;
            let resolver = Resolver::Clinician {
                clinic_id: by.clinic,
                account_id: by.account,
                name: held.name.clone(),
            };
            resolve_open_episode(tx, profile, episode, at, note, &resolver).map_err(
                |e| match e {
                    TxError::Store(StoreError::NotFound { .. }) => {
                        StoreError::not_found(format!("open red flag {episode}")).into()
                    }
                    other => other,
                },
            )?;
            audit(
                self,
                tx,
                profile,
                by.clinic,
                by.account,
                &held.name,
                "resolved",
                &episode.to_string(),
                at,
            )?;
            Ok(())
        })
    }

    fn prescribe(&self, by: &ClinicAccess, protocol: &Protocol) -> Result<()> {
        protocol.validate().map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            StoreError::invalid(text.join("; "))
        })?;
        same_clinic(by, protocol.clinic_id, "protocol")?;
        let profile = protocol.profile_id;
        self.write(|tx| {
            let held = held(self, tx, by, profile)?;
            authorize(&held, Act::Prescribe, &format!("patient {profile}"))?;
            // Who prescribed is who asks, whatever the caller wrote.
            let mut stored = protocol.clone();
            stored.prescribed_by = by.account;
            stored.prescriber_name = held.name.clone();
            tx.execute(
                "INSERT INTO protocols (clinic_id, profile_id, id, prescribed_by, prescribed_at, body)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &by.clinic.0,
                    &profile.0,
                    &stored.id.0,
                    &by.account.0,
                    &system_time(stored.prescribed_at)?,
                    &json(&stored)?,
                ],
            )
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("protocol {} already exists", stored.id),
                    || format!("patient {profile}"),
                )
            })?;
            audit(
                self,
                tx,
                profile,
                by.clinic,
                by.account,
                &held.name,
                "prescribed",
                &stored.id.to_string(),
                stored.prescribed_at,
            )?;
            Ok(())
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
        let profile = ov.profile_id;
        self.write(|tx| {
            let held = held(self, tx, by, profile)?;
            authorize(&held, Act::Override, &format!("patient {profile}"))?;
            tx.execute(
                "INSERT INTO rule_overrides (clinic_id, profile_id, id, rule_id, by_account, by_name, at, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &by.clinic.0,
                    &profile.0,
                    &ov.id.0,
                    &ov.rule_id,
                    &by.account.0,
                    &held.name,
                    &system_time(ov.at)?,
                    &ov.reason,
                ],
            )
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("override {} already exists", ov.id),
                    || format!("patient {profile}"),
                )
            })?;
            audit(
                self,
                tx,
                profile,
                by.clinic,
                by.account,
                &held.name,
                "override_added",
                &ov.rule_id,
                ov.at,
            )?;
            Ok(())
        })
    }

    fn revoke_override(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        id: OverrideId,
        at: Timestamp,
    ) -> Result<()> {
        let when = system_time(at)?;
        self.write(|tx| {
            let held = held(self, tx, by, profile)?;
            authorize(&held, Act::Override, &format!("patient {profile}"))?;
            let rule = tx
                .query_opt(
                    "UPDATE rule_overrides SET revoked_at = $4
                     WHERE clinic_id = $1 AND profile_id = $2 AND id = $3 AND revoked_at IS NULL
                     RETURNING rule_id",
                    &[&by.clinic.0, &profile.0, &id.0, &when],
                )?
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?
                .ok_or_else(|| StoreError::not_found(format!("override {id}")))?;
            audit(
                self,
                tx,
                profile,
                by.clinic,
                by.account,
                &held.name,
                "override_revoked",
                &rule,
                at,
            )?;
            Ok(())
        })
    }

    fn active_protocol(&self, profile: ProfileId) -> Result<Option<Protocol>> {
        self.read(|tx| {
            Ok(collect(tx, ACTIVE_PROTOCOL, &[&profile.0], |r| {
                protocol_from(r.try_get(0)?)
            })?
            .pop())
        })
    }

    fn active_overrides(&self, profile: ProfileId) -> Result<Vec<Override>> {
        self.read(|tx| {
            let cols: Vec<String> = OVERRIDE_COLUMNS
                .split(", ")
                .map(|c| format!("o.{c}"))
                .collect();
            let sql = format!(
                "SELECT {} FROM rule_overrides o
                 JOIN clinic_patients cp ON cp.clinic_id = o.clinic_id AND cp.profile_id = o.profile_id
                 WHERE o.profile_id = $1 AND o.revoked_at IS NULL ORDER BY o.at, o.id",
                cols.join(", ")
            );
            collect(tx, &sql, &[&profile.0], override_from_row)
        })
    }

    fn audit_log(&self, profile: ProfileId, limit_n: u32) -> Result<Vec<AuditEntry>> {
        self.read(|tx| {
            collect(
                tx,
                "SELECT id, profile_id, clinic_id, actor, actor_name, action, detail, at
                 FROM audit_log WHERE profile_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
                &[&profile.0, &limit(limit_n)],
                |r| {
                    Ok(AuditEntry {
                        id: needlewise_core::ids::AuditId(r.try_get(0)?),
                        profile_id: ProfileId(r.try_get(1)?),
                        clinic_id: ClinicId(r.try_get(2)?),
                        actor: AccountId(r.try_get(3)?),
                        actor_name: r.try_get(4)?,
                        action: r.try_get(5)?,
                        detail: r.try_get(6)?,
                        at: ts(r, 7)?,
                    })
                },
            )
        })
    }

    fn add_notifications(&self, notes: &[Notification]) -> Result<()> {
        if notes.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let insert = tx.prepare(
                "INSERT INTO notifications (account_id, id, clinic_id, profile_id, kind, title, body, link, created_at, read_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )?;
            for n in notes {
                tx.execute(
                    &insert,
                    &[
                        &n.account_id.0,
                        &n.id.0,
                        &n.clinic_id.map(|c| c.0),
                        &n.profile_id.map(|p| p.0),
                        &n.kind,
                        &n.title,
                        &n.body,
                        &n.link,
                        &system_time(n.created_at)?,
                        &n.read_at.map(system_time).transpose()?,
                    ],
                )
                .map_err(|e| {
                    insert_error(
                        e,
                        || format!("notification {} already exists", n.id),
                        || format!("account {} (or its clinic or profile)", n.account_id),
                    )
                })?;
            }
            Ok(())
        })
    }

    fn notifications(&self, account: AccountId, limit_n: u32) -> Result<Vec<Notification>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE account_id = $1
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            );
            collect(
                tx,
                &sql,
                &[&account.0, &limit(limit_n)],
                notification_from_row,
            )
        })
    }

    fn unread_notifications(&self, account: AccountId) -> Result<u64> {
        self.read(|tx| {
            let n: i64 = tx
                .query_one(
                    "SELECT count(*) FROM notifications WHERE account_id = $1 AND read_at IS NULL",
                    &[&account.0],
                )?
                .try_get(0)?;
            Ok(to_u64(n, "notification count")?)
        })
    }

    fn mark_notification_read(
        &self,
        account: AccountId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<()> {
        let at = system_time(at)?;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE notifications SET read_at = coalesce(read_at, $3)
                 WHERE account_id = $1 AND id = $2",
                &[&account.0, &id.0, &at],
            )?;
            if changed == 0 {
                return Err(StoreError::not_found(format!("notification {id}")).into());
            }
            Ok(())
        })
    }

    fn open_flags(&self) -> Result<Vec<OpenFlag>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS}, p.name,
                        e.id, e.profile_id, e.checkin_id, e.level, e.opened_at, e.resolved_at, e.resolution,
                        e.resolver,
                        EXISTS (SELECT 1 FROM red_flag_acks a
                                WHERE a.clinic_id = cp.clinic_id AND a.profile_id = e.profile_id
                                  AND a.episode_id = e.id),
                        ARRAY(SELECT x.step FROM escalations x
                              WHERE x.clinic_id = cp.clinic_id AND x.profile_id = e.profile_id
                                AND x.episode_id = e.id),
                        GREATEST(e.opened_at, co.granted_at)
                 FROM clinic_patients cp
                 JOIN consents co ON co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id
                                 AND co.scope = 'checkins'
                 JOIN clinics c ON c.id = cp.clinic_id
                 JOIN profiles p ON p.id = cp.profile_id
                 JOIN episodes e ON e.profile_id = cp.profile_id AND e.resolved_at IS NULL
                 ORDER BY e.opened_at, e.id, cp.clinic_id"
            );
            collect(tx, &sql, &[], |r| {
                let episode = Episode {
                    id: EpisodeId(r.try_get(6)?),
                    profile_id: ProfileId(r.try_get(7)?),
                    checkin_id: CheckinId(r.try_get(8)?),
                    level: parse(r.try_get(9)?, "triage level")?,
                    opened_at: ts(r, 10)?,
                    resolved_at: opt_ts(r, 11)?,
                    resolution: r.try_get(12)?,
                    resolver: codec::decode_resolver(r.try_get(13)?)?,
                };
                let sent_steps = r
                    .try_get::<_, Vec<i32>>(15)?
                    .into_iter()
                    .map(|s| {
                        usize::try_from(s)
                            .map_err(|_| StoreError::invalid("stored escalation step is negative"))
                    })
                    .collect::<Result<BTreeSet<usize>>>()?;
                Ok(OpenFlag {
                    clinic: clinic_from_row(r, 0)?,
                    profile_id: episode.profile_id,
                    patient_name: r.try_get(5)?,
                    episode,
                    visible_since: ts(r, 16)?,
                    acknowledged: r.try_get(14)?,
                    sent_steps,
                })
            })
        })
    }

    fn claim_escalation(
        &self,
        clinic: ClinicId,
        profile: ProfileId,
        episode: EpisodeId,
        step: usize,
        at: Timestamp,
    ) -> Result<bool> {
        let step = i32::try_from(step).map_err(|_| StoreError::invalid("step is too large"))?;
        let at = system_time(at)?;
        self.write_at(IsolationLevel::ReadCommitted, |tx| {
            let claimed = tx
                .execute(
                    "INSERT INTO escalations (clinic_id, profile_id, episode_id, step, at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[&clinic.0, &profile.0, &episode.0, &step, &at],
                )
                .map_err(|e| {
                    insert_error(
                        e,
                        || "escalation step".into(),
                        || format!("clinic {clinic} or red flag {episode}"),
                    )
                })?;
            Ok(claimed == 1)
        })
    }

    fn queue_email(&self, email: &Email) -> Result<()> {
        if email.to.trim().is_empty() {
            return Err(StoreError::invalid("an email needs a recipient"));
        }
        let attempts = to_i32(email.attempts, "email attempts")?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO email_outbox (id, recipient, subject, body, created_at, sent_at, attempts, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &email.id.0,
                    &email.to,
                    &email.subject,
                    &email.body,
                    &system_time(email.created_at)?,
                    &email.sent_at.map(system_time).transpose()?,
                    &attempts,
                    &email.last_error,
                ],
            )
            .map_err(|e| {
                insert_error(e, || format!("email {} already exists", email.id), || "email".into())
            })?;
            Ok(())
        })
    }

    fn claim_emails(&self, now: Timestamp, lease: SignedDuration, n: u32) -> Result<Vec<Email>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let until = now
            .checked_add(lease)
            .map_err(|_| StoreError::invalid("the lease is too long"))?;
        let (now, until) = (system_time(now)?, system_time(until)?);
        // READ COMMITTED with SKIP LOCKED: two instances claiming at once
        // take different emails instead of failing each other.
        let mut claimed = self.write_at(IsolationLevel::ReadCommitted, |tx| {
            let sql = format!(
                "WITH c AS (
                     SELECT id FROM email_outbox
                     WHERE sent_at IS NULL AND attempts < $4
                       AND (leased_until IS NULL OR leased_until <= $1)
                     ORDER BY created_at, id LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 UPDATE email_outbox o SET leased_until = $2, attempts = o.attempts + 1
                 FROM c WHERE o.id = c.id
                 RETURNING {}",
                EMAIL_COLUMNS
                    .split(", ")
                    .map(|c| format!("o.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            collect(
                tx,
                &sql,
                &[&now, &until, &limit(n), &MAX_EMAIL_ATTEMPTS],
                email_from_row,
            )
        })?;
        claimed.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(claimed)
    }

    fn finish_email(
        &self,
        id: EmailId,
        outcome: std::result::Result<(), String>,
        at: Timestamp,
    ) -> Result<()> {
        let at = system_time(at)?;
        self.write(|tx| {
            let changed = match &outcome {
                Ok(()) => tx.execute(
                    "UPDATE email_outbox SET sent_at = $2, leased_until = NULL, last_error = ''
                     WHERE id = $1",
                    &[&id.0, &at],
                )?,
                Err(message) => tx.execute(
                    "UPDATE email_outbox SET last_error = $2 WHERE id = $1",
                    &[&id.0, message],
                )?,
            };
            if changed == 0 {
                return Err(StoreError::not_found(format!("email {id}")).into());
            }
            Ok(())
        })
    }

    fn emails(&self, limit_n: u32) -> Result<Vec<Email>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {EMAIL_COLUMNS} FROM email_outbox ORDER BY created_at DESC, id DESC LIMIT $1"
            );
            collect(tx, &sql, &[&limit(limit_n)], email_from_row)
        })
    }

    fn clinic_mail_status(&self, by: &ClinicAccess) -> Result<MailStatus> {
        // One statement: the membership check is its first column, and the
        // team's addresses are read only for a member.
        let rows = self.read_one(
            "WITH me AS (
                 SELECT 1 FROM clinic_members WHERE clinic_id = $1 AND account_id = $3
             ), team AS (
                 SELECT a.email FROM clinic_members m JOIN accounts a ON a.id = m.account_id
                 WHERE m.clinic_id = $1 AND EXISTS (SELECT 1 FROM me))
             SELECT EXISTS (SELECT 1 FROM me),
                    count(*) FILTER (WHERE o.attempts < $2),
                    min(o.created_at) FILTER (WHERE o.attempts < $2),
                    count(*) FILTER (WHERE o.attempts >= $2),
                    (SELECT e.last_error FROM email_outbox e
                     WHERE e.sent_at IS NULL AND e.last_error <> ''
                       AND e.recipient IN (SELECT email FROM team)
                     ORDER BY e.created_at DESC, e.id DESC LIMIT 1)
             FROM email_outbox o
             WHERE o.sent_at IS NULL AND o.recipient IN (SELECT email FROM team)",
            &[&by.clinic.0, &MAX_EMAIL_ATTEMPTS, &by.account.0],
            |row| {
                if !row.try_get::<_, bool>(0)? {
                    return Ok(None);
                }
                Ok(Some(MailStatus {
                    waiting: to_u32(row.try_get::<_, i64>(1)?, "waiting emails")?,
                    oldest_waiting: opt_ts(row, 2)?,
                    given_up: to_u32(row.try_get::<_, i64>(3)?, "emails given up")?,
                    last_error: row.try_get(4)?,
                }))
            },
        )?;
        rows.into_iter()
            .next()
            .flatten()
            .ok_or_else(|| StoreError::not_found(format!("clinic {}", by.clinic)))
    }

    fn set_totp(&self, account: AccountId, secret: Option<&TotpSecret>) -> Result<()> {
        if let Some(s) = secret {
            s.check(account)?;
        }
        self.write(|tx| {
            match secret {
                None => {
                    tx.execute(
                        "DELETE FROM totp_secrets WHERE account_id = $1",
                        &[&account.0],
                    )?;
                }
                Some(s) => {
                    tx.execute(
                        "INSERT INTO totp_secrets (account_id, secret, enabled_at, last_step, pending_session)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (account_id) DO UPDATE SET secret = EXCLUDED.secret,
                             enabled_at = EXCLUDED.enabled_at, last_step = EXCLUDED.last_step,
                             pending_session = EXCLUDED.pending_session",
                        &[
                            &account.0,
                            &crate::snapshot::hex(&s.secret),
                            &s.enabled_at.map(system_time).transpose()?,
                            &s.last_step,
                            &s.pending_session,
                        ],
                    )
                    .map_err(|e| {
                        insert_error(e, || "TOTP secret".into(), || format!("account {account}"))
                    })?;
                }
            }
            Ok(())
        })
    }

    fn totp(&self, account: AccountId) -> Result<Option<TotpSecret>> {
        Ok(self
            .read_one(
                "SELECT account_id, secret, enabled_at, last_step, pending_session
                 FROM totp_secrets WHERE account_id = $1",
                &[&account.0],
                |r| {
                    Ok(TotpSecret {
                        account_id: AccountId(r.try_get(0)?),
                        secret: hex_decode(r.try_get(1)?)?,
                        enabled_at: opt_ts(r, 2)?,
                        last_step: r.try_get(3)?,
                        pending_session: r.try_get(4)?,
                    })
                },
            )?
            .pop())
    }

    fn begin_totp(&self, secret: &TotpSecret) -> Result<bool> {
        let account = secret.account_id;
        secret.check(account)?;
        if secret.enabled_at.is_some() || secret.pending_session.is_none() {
            return Err(StoreError::invalid(
                "enrolment starts with a pending secret bound to a session",
            ));
        }
        let hex = crate::snapshot::hex(&secret.secret);
        // One statement: a secret enabled meanwhile is never replaced.
        self.write_at(IsolationLevel::ReadCommitted, |tx| {
            let changed = tx
                .execute(
                    "INSERT INTO totp_secrets (account_id, secret, enabled_at, last_step, pending_session)
                     VALUES ($1, $2, NULL, $3, $4)
                     ON CONFLICT (account_id) DO UPDATE SET secret = EXCLUDED.secret,
                         last_step = EXCLUDED.last_step, pending_session = EXCLUDED.pending_session
                     WHERE totp_secrets.enabled_at IS NULL",
                    &[&account.0, &hex, &secret.last_step, &secret.pending_session],
                )
                .map_err(|e| {
                    insert_error(e, || "TOTP secret".into(), || format!("account {account}"))
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
        let at = system_time(at)?;
        let hex = crate::snapshot::hex(secret);
        self.write_at(IsolationLevel::ReadCommitted, |tx| {
            let changed = tx.execute(
                "UPDATE totp_secrets SET enabled_at = $4, last_step = $5, pending_session = NULL
                 WHERE account_id = $1 AND enabled_at IS NULL
                     AND pending_session = $2 AND secret = $3",
                &[&account.0, &session, &hex, &at, &step],
            )?;
            Ok(changed == 1)
        })
    }

    fn use_totp_step(&self, account: AccountId, step: i64) -> Result<bool> {
        // One conditional update: of two requests with the same code, only
        // one moves last_step.
        self.write_at(IsolationLevel::ReadCommitted, |tx| {
            let changed = tx.execute(
                "UPDATE totp_secrets SET last_step = $2 WHERE account_id = $1 AND last_step < $2",
                &[&account.0, &step],
            )?;
            if changed == 1 {
                return Ok(true);
            }
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM totp_secrets WHERE account_id = $1",
                    &[&account.0],
                )?
                .is_some();
            if exists {
                Ok(false)
            } else {
                Err(StoreError::not_found(format!("TOTP secret of account {account}")).into())
            }
        })
    }

    fn mark_web_session_verified(&self, token_hash: &str, at: Timestamp) -> Result<()> {
        let at = system_time(at)?;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE web_sessions SET verified_at = $2 WHERE token_hash = $1",
                &[&token_hash, &at],
            )?;
            if changed == 0 {
                return Err(StoreError::not_found("web session").into());
            }
            Ok(())
        })
    }

    fn web_sessions_of(&self, account: AccountId, now: Timestamp) -> Result<Vec<WebSession>> {
        let now = system_time(now)?;
        self.read(|tx| {
            let sql = format!(
                "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions WHERE account_id = $1 AND expires_at > $2
                 ORDER BY created_at DESC, token_hash DESC"
            );
            collect(tx, &sql, &[&account.0, &now], web_session_from_row)
        })
    }

    fn rate_limit_hit(&self, key: &str, window_start: Timestamp) -> Result<u32> {
        let window = system_time(window_start)?;
        // READ COMMITTED: the upsert is atomic, so instances counting the
        // same key at once neither lose a hit nor fail each other.
        self.write_at(IsolationLevel::ReadCommitted, |tx| {
            tx.execute(
                "DELETE FROM rate_limits WHERE key = $1 AND window_start < $2",
                &[&key, &window],
            )?;
            let hits: i32 = tx
                .query_one(
                    "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1)
                     ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
                     RETURNING hits",
                    &[&key, &window],
                )?
                .try_get(0)?;
            Ok(to_u32(i64::from(hits), "rate limit hits")?)
        })
    }

    fn purge_rate_limits(&self, before: Timestamp) -> Result<u64> {
        let before = system_time(before)?;
        self.write_at(IsolationLevel::ReadCommitted, |tx| {
            Ok(tx.execute(
                "DELETE FROM rate_limits WHERE window_start < $1",
                &[&before],
            )?)
        })
    }

    fn purge_expired_invites(&self, before: Timestamp) -> Result<u64> {
        let before = system_time(before)?;
        self.write_at(IsolationLevel::ReadCommitted, |tx| {
            let mut gone = 0;
            for sql in [
                "DELETE FROM clinic_invites WHERE used_at IS NULL AND expires_at < $1",
                "DELETE FROM clinic_member_invites WHERE used_at IS NULL AND expires_at < $1",
            ] {
                gone += tx.execute(sql, &[&before])?;
            }
            Ok(gone)
        })
    }

    fn members_of(&self, clinic: ClinicId) -> Result<Vec<Member>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {MEMBER_COLUMNS} FROM clinic_members m WHERE m.clinic_id = $1
                 ORDER BY m.joined_at, m.account_id"
            );
            collect(tx, &sql, &[&clinic.0], |r| member_from_row(r, 0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long before the last session's end the check-ins kept beside
    /// the profile (`profiles.recent_checkins`, migration 6) begin.
    const RECENT_CHECKINS_KEPT: SignedDuration = SignedDuration::from_hours(7 * 24);

    /// The trigger keeps a week of check-ins before the last session's
    /// end; the status must never need more.
    #[test]
    fn the_lookback_fits_in_the_check_ins_kept() {
        assert!(checkin_lookback() <= RECENT_CHECKINS_KEPT);
        assert!(checkin_lookback() >= CHECKIN_GRACE);
        let kept = include_str!("../../migrations/postgres/0006_patient_list_summary.sql");
        let days = RECENT_CHECKINS_KEPT.as_hours() / 24;
        assert!(
            kept.contains(&format!("p.last_session_ended - interval '{days} days'")),
            "migration 6 keeps check-ins from {days} days before the last session's end"
        );
    }
}
