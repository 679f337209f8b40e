//! The clinic side on SQLite: see [`crate::clinic`].
//!
//! Every clinic read or change of a patient's data runs in one write
//! transaction: the asker's membership and the patient's link and scopes
//! are loaded, [`permits`] decides, the data is read or changed, and the
//! patient's audit log gets its line, all or nothing.

use std::collections::{BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use needlewise_core::clinic::{
    Act, CHECKIN_GRACE, Clinic, Grant, Ladder, Member, Override, PatientStatus, Protocol, Role,
    Scope, overdue_checkins, permits,
};
use needlewise_core::evidence;
use needlewise_core::ids::{
    AccountId, ClinicId, EmailId, EpisodeId, NotificationId, OverrideId, PhotoId, ProfileId,
};
use needlewise_core::progress::Photo;
use needlewise_core::records::{Episode, Resolver};
use needlewise_core::schedule::{LastSession, next_session};
use needlewise_core::triage::checkin_schedule;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    EPISODE_COLUMNS, PHOTO_COLUMNS, PROFILE_COLUMNS, SESSION_COLUMNS, SqliteStore,
    WEB_SESSION_COLUMNS, checkin_from_row, collect, episode_from_row, fill_sessions, id_text,
    insert_error, json_parse, json_text, json_value, latest_screening_of, photo_from_row,
    profile_from_row, resolve_open_episode, session_from_row, ts, web_session_from_row,
};
use crate::clinic::{
    Acknowledgement, AuditEntry, ClinicAccess, ClinicStore, Email, Invite, LIST_VIEW_AUDIT_WINDOW,
    MailStatus, MemberInvite, Notification, OpenFlag, PatientLink, PatientRecord, PatientSummary,
    RedFlag, TotpSecret, new_audit_id,
};
use crate::codec::{self, from_micros, micros, parse, to_u32};
use crate::{Result, StoreError, WebSession};

/// The most attempts an email gets.
const MAX_EMAIL_ATTEMPTS: i64 = 5;

const CLINIC_COLUMNS: &str =
    "clinics.id, clinics.name, clinics.time_zone, clinics.ladder, clinics.created_at";

/// A clinic from five columns starting at `at`.
fn clinic_at(row: &Row<'_>, at: usize) -> Result<Clinic> {
    Ok(Clinic {
        id: parse(&row.get::<_, String>(at)?, "clinic id")?,
        name: row.get(at + 1)?,
        time_zone: row.get(at + 2)?,
        ladder: json_parse(&row.get::<_, String>(at + 3)?, "escalation ladder")?,
        created_at: ts(row, at + 4)?,
    })
}

const MEMBER_COLUMNS: &str = "clinic_members.clinic_id, clinic_members.account_id, clinic_members.role, clinic_members.display_name, clinic_members.joined_at";

/// A member from five columns starting at `at`.
fn member_at(row: &Row<'_>, at: usize) -> Result<Member> {
    Ok(Member {
        clinic_id: parse(&row.get::<_, String>(at)?, "clinic id")?,
        account_id: parse(&row.get::<_, String>(at + 1)?, "account id")?,
        role: parse(&row.get::<_, String>(at + 2)?, "role")?,
        display_name: row.get(at + 3)?,
        joined_at: ts(row, at + 4)?,
    })
}

const MEMBER_INVITE_COLUMNS: &str = "clinic_member_invites.clinic_id, clinic_member_invites.code_hash, clinic_member_invites.email, clinic_member_invites.role, clinic_member_invites.display_name, clinic_member_invites.created_by, clinic_member_invites.created_at, clinic_member_invites.expires_at, clinic_member_invites.used_by, clinic_member_invites.used_at";

/// A team invitation from ten columns starting at `at`.
fn member_invite_at(row: &Row<'_>, at: usize) -> Result<MemberInvite> {
    Ok(MemberInvite {
        clinic_id: parse(&row.get::<_, String>(at)?, "clinic id")?,
        code_hash: row.get(at + 1)?,
        email: row.get(at + 2)?,
        role: parse(&row.get::<_, String>(at + 3)?, "role")?,
        display_name: row.get(at + 4)?,
        created_by: parse(&row.get::<_, String>(at + 5)?, "account id")?,
        created_at: ts(row, at + 6)?,
        expires_at: ts(row, at + 7)?,
        used_by: row
            .get::<_, Option<String>>(at + 8)?
            .map(|a| parse(&a, "account id"))
            .transpose()?,
        used_at: opt_ts(row, at + 9)?,
    })
}

/// An acknowledgement from four nullable columns starting at `at`.
fn ack_at(row: &Row<'_>, at: usize) -> Result<Option<Acknowledgement>> {
    let Some(by) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(Acknowledgement {
        by: parse(&by, "account id")?,
        by_name: row.get(at + 1)?,
        at: ts(row, at + 2)?,
        note: row.get(at + 3)?,
    }))
}

fn opt_ts(row: &Row<'_>, at: usize) -> Result<Option<Timestamp>> {
    row.get::<_, Option<i64>>(at)?.map(from_micros).transpose()
}

fn scope_set(text: Option<String>) -> Result<BTreeSet<Scope>> {
    text.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(s, "consent scope"))
        .collect()
}

fn scope_list(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.id()).collect::<Vec<_>>().join(", ")
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

fn overrides_at(row: &Row<'_>) -> Result<Override> {
    Ok(Override {
        clinic_id: parse(&row.get::<_, String>(0)?, "clinic id")?,
        profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
        id: parse(&row.get::<_, String>(2)?, "override id")?,
        rule_id: row.get(3)?,
        by: parse(&row.get::<_, String>(4)?, "account id")?,
        by_name: row.get(5)?,
        at: ts(row, 6)?,
        reason: row.get(7)?,
    })
}

const OVERRIDE_COLUMNS: &str = "rule_overrides.clinic_id, rule_overrides.profile_id, rule_overrides.id, rule_overrides.rule_id, rule_overrides.by_account, rule_overrides.by_name, rule_overrides.at, rule_overrides.reason";

const EMAIL_COLUMNS: &str =
    "id, recipient, subject, body, created_at, sent_at, attempts, last_error";

fn email_from_row(row: &Row<'_>) -> Result<Email> {
    Ok(Email {
        id: parse(&row.get::<_, String>(0)?, "email id")?,
        to: row.get(1)?,
        subject: row.get(2)?,
        body: row.get(3)?,
        created_at: ts(row, 4)?,
        sent_at: opt_ts(row, 5)?,
        attempts: to_u32(row.get(6)?, "email attempts")?,
        last_error: row.get(7)?,
    })
}

const NOTIFICATION_COLUMNS: &str =
    "id, account_id, clinic_id, profile_id, kind, title, body, link, created_at, read_at";

fn notification_from_row(row: &Row<'_>) -> Result<Notification> {
    Ok(Notification {
        id: parse(&row.get::<_, String>(0)?, "notification id")?,
        account_id: parse(&row.get::<_, String>(1)?, "account id")?,
        clinic_id: row
            .get::<_, Option<String>>(2)?
            .map(|s| parse(&s, "clinic id"))
            .transpose()?,
        profile_id: row
            .get::<_, Option<String>>(3)?
            .map(|s| parse(&s, "profile id"))
            .transpose()?,
        kind: row.get(4)?,
        title: row.get(5)?,
        body: row.get(6)?,
        link: row.get(7)?,
        created_at: ts(row, 8)?,
        read_at: opt_ts(row, 9)?,
    })
}

/// `EPISODE_COLUMNS` of the `episodes` table, qualified for joins.
fn episode_columns() -> String {
    EPISODE_COLUMNS
        .split(", ")
        .map(|c| format!("episodes.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A line of a patient's audit log.
struct Audit<'a> {
    profile: &'a str,
    clinic: &'a str,
    actor: &'a str,
    actor_name: &'a str,
    action: &'a str,
    detail: &'a str,
    at: Timestamp,
}

fn audit(tx: &Connection, a: &Audit<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log (profile_id, id, clinic_id, actor, actor_name, action, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        a.profile,
        id_text(new_audit_id().0),
        a.clinic,
        a.actor,
        a.actor_name,
        a.action,
        a.detail,
        micros(a.at),
    ])?;
    Ok(())
}

/// One audit line for each of `profiles`, in one statement.
fn audit_each(
    tx: &Connection,
    profiles: &[String],
    by: &ClinicAccess,
    actor_name: &str,
    action: &str,
    detail: &str,
    at: Timestamp,
) -> Result<()> {
    if profiles.is_empty() {
        return Ok(());
    }
    let rows: Vec<[String; 2]> = profiles
        .iter()
        .map(|p| [p.clone(), id_text(new_audit_id().0)])
        .collect();
    // List views within the window are logged once (see
    // LIST_VIEW_AUDIT_WINDOW); any other action's window is empty.
    let since = if action == "viewed_list" {
        at.checked_sub(LIST_VIEW_AUDIT_WINDOW).unwrap_or(at)
    } else {
        at.checked_add(SignedDuration::from_micros(1)).unwrap_or(at)
    };
    tx.prepare_cached(
        "INSERT INTO audit_log (profile_id, id, clinic_id, actor, actor_name, action, detail, at)
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2, ?3, ?4, ?5, ?6, ?7
         FROM json_each(?1)
         WHERE NOT EXISTS (SELECT 1 FROM audit_log a
             WHERE a.profile_id = json_extract(value, '$[0]') AND a.at >= ?8 AND a.at <= ?7
               AND a.clinic_id = ?2 AND a.actor = ?3 AND a.action = ?5 AND a.detail = ?6)",
    )?
    .execute(params![
        json_text(&rows)?,
        id_text(by.clinic.0),
        id_text(by.account.0),
        actor_name,
        action,
        detail,
        micros(at),
        micros(since),
    ])?;
    Ok(())
}

/// Whether any of these patients has no `viewed_list` line with this
/// detail by this clinician within [`LIST_VIEW_AUDIT_WINDOW`] before `at`.
fn unlogged_views(
    tx: &Connection,
    profiles: &[String],
    by: &ClinicAccess,
    detail: &str,
    at: Timestamp,
) -> Result<bool> {
    if profiles.is_empty() {
        return Ok(false);
    }
    let since = at.checked_sub(LIST_VIEW_AUDIT_WINDOW).unwrap_or(at);
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM json_each(?1)
             WHERE NOT EXISTS (SELECT 1 FROM audit_log a
                 WHERE a.profile_id = value AND a.at >= ?4 AND a.at <= ?5
                   AND a.clinic_id = ?2 AND a.actor = ?3 AND a.action = 'viewed_list'
                   AND a.detail = ?6))",
        )?
        .query_row(
            params![
                json_text(&profiles)?,
                id_text(by.clinic.0),
                id_text(by.account.0),
                micros(since),
                micros(at),
                detail,
            ],
            |r| r.get::<_, bool>(0),
        )?)
}

/// The asker's role and display name in the clinic, if a member.
fn membership(tx: &Connection, by: &ClinicAccess) -> Result<Option<(Role, String)>> {
    tx.prepare_cached(
        "SELECT role, display_name FROM clinic_members WHERE clinic_id = ?1 AND account_id = ?2",
    )?
    .query_row(params![id_text(by.clinic.0), id_text(by.account.0)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })
    .optional()?
    .map(|(role, name)| Ok((parse(&role, "role")?, name)))
    .transpose()
}

/// A member's role and name, or `NotFound` for anyone else.
fn member_of(tx: &Connection, by: &ClinicAccess) -> Result<(Role, String)> {
    membership(tx, by)?.ok_or_else(|| StoreError::not_found(format!("clinic {}", by.clinic)))
}

/// A member whose role may read clinical data (else `Forbidden`).
fn clinician_of(tx: &Connection, by: &ClinicAccess) -> Result<String> {
    let (role, name) = member_of(tx, by)?;
    if !role.reads_clinical_data() {
        return Err(StoreError::forbidden(format!(
            "a {} member of the clinic may not do this",
            role.label().to_lowercase()
        )));
    }
    Ok(name)
}

/// When the profile joined the clinic and what it granted, if linked.
fn link(
    tx: &Connection,
    clinic: &str,
    profile: &str,
) -> Result<Option<(Timestamp, BTreeSet<Scope>)>> {
    let row = tx
        .prepare_cached(
            "SELECT joined_at, (SELECT group_concat(scope) FROM consents
                 WHERE consents.clinic_id = clinic_patients.clinic_id
                   AND consents.profile_id = clinic_patients.profile_id)
             FROM clinic_patients WHERE clinic_id = ?1 AND profile_id = ?2",
        )?
        .query_row(params![clinic, profile], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?;
    row.map(|(joined, scopes)| Ok((from_micros(joined)?, scope_set(scopes)?)))
        .transpose()
}

/// What an authorized asker holds for one patient.
struct Allowed {
    actor_name: String,
    joined_at: Timestamp,
    grant: Grant,
}

impl Allowed {
    fn may(&self, act: Act) -> bool {
        permits(&self.grant, act)
    }
}

/// Loads the grant of `by` for `profile` and asks [`permits`]: not a
/// member, not linked or a scope missing is `NotFound`; a member whose
/// role can never do `act` is `Forbidden`.
fn authorize(tx: &Connection, by: &ClinicAccess, profile: ProfileId, act: Act) -> Result<Allowed> {
    let not_found = || StoreError::not_found(format!("patient {profile} of clinic {}", by.clinic));
    let Some((role, actor_name)) = membership(tx, by)? else {
        return Err(not_found());
    };
    let Some((joined_at, scopes)) = link(tx, &id_text(by.clinic.0), &id_text(profile.0))? else {
        return Err(not_found());
    };
    let grant = Grant {
        role: Some(role),
        linked: true,
        scopes,
    };
    if permits(&grant, act) {
        return Ok(Allowed {
            actor_name,
            joined_at,
            grant,
        });
    }
    let everything = Grant {
        role: Some(role),
        linked: true,
        scopes: Scope::ALL.into_iter().collect(),
    };
    if permits(&everything, act) {
        Err(not_found())
    } else {
        Err(StoreError::forbidden(format!(
            "a {} member of the clinic may not do this",
            role.label().to_lowercase()
        )))
    }
}

/// A `NotFound` denial as `None`, for reads.
fn or_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The protocol a clinic prescribed a profile last.
fn clinic_protocol(tx: &Connection, clinic: &str, profile: &str) -> Result<Option<Protocol>> {
    tx.prepare_cached(
        "SELECT body FROM protocols WHERE clinic_id = ?1 AND profile_id = ?2
         ORDER BY prescribed_at DESC, id DESC LIMIT 1",
    )?
    .query_row(params![clinic, profile], |r| r.get::<_, String>(0))
    .optional()?
    .map(|b| json_parse(&b, "protocol"))
    .transpose()
}

fn clinic_by_id(tx: &Connection, clinic: &str) -> Result<Option<Clinic>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {CLINIC_COLUMNS} FROM clinics WHERE id = ?1"));
    Ok(collect(tx, &SQL, [clinic], |r| clinic_at(r, 0))?.pop())
}

/// Now in the clinic's time zone (UTC if the zone is unknown here): the
/// list's dates are the clinic's days.
fn clinic_now(clinic: &Clinic, now: Timestamp) -> jiff::ZonedDateTime {
    let tz = jiff::tz::TimeZone::get(&clinic.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    now.to_zoned_datetime(tz)
}

/// One patient's status under the scopes granted.
fn patient_status(
    tx: &Connection,
    today: &jiff::ZonedDateTime,
    clinic_key: &str,
    profile: &str,
    scopes: &BTreeSet<Scope>,
    now: Timestamp,
) -> Result<PatientStatus> {
    let sessions = scopes.contains(&Scope::Sessions);
    let checkins = scopes.contains(&Scope::Checkins);
    let mut status = PatientStatus {
        last_session: None,
        next_due: None,
        open_red_flags: None,
        unacknowledged_red_flags: None,
        overdue_checkins: None,
    };
    if !sessions && !checkins {
        return Ok(status);
    }
    let last = tx
        .prepare_cached(
            "SELECT local_date, needle_length_mm, ended_at FROM sessions WHERE profile_id = ?1
             ORDER BY ended_at DESC, id DESC LIMIT 1",
        )?
        .query_row([profile], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()?
        .map(|(date, needle_length_mm, ended)| {
            let ended_at = from_micros(ended)?;
            Ok::<_, StoreError>((
                LastSession {
                    ended_at,
                    needle_length_mm,
                },
                codec::parse_date(&date)?,
            ))
        })
        .transpose()?;
    let (open, unacknowledged): (i64, i64) = tx
        .prepare_cached(
            "SELECT count(*), count(*) - count(red_flag_acks.episode_id) FROM episodes
             LEFT JOIN red_flag_acks ON red_flag_acks.clinic_id = ?2
                 AND red_flag_acks.profile_id = episodes.profile_id
                 AND red_flag_acks.episode_id = episodes.id
             WHERE episodes.profile_id = ?1 AND episodes.resolved_at IS NULL",
        )?
        .query_row(params![profile, clinic_key], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if sessions {
        status.last_session = last.as_ref().map(|(_, date)| *date);
        // An open red flag holds the next session back, but only a clinic
        // that may see check-ins learns of it (a blank date would tell).
        let locked = checkins && open > 0;
        let next = next_session(evidence(), last.as_ref().map(|(l, _)| *l), locked, today);
        let protocol = clinic_protocol(tx, clinic_key, profile)?;
        let next = match &protocol {
            Some(p) => p.apply_to(next, today),
            None => next,
        };
        status.next_due = next.earliest();
    }
    if checkins {
        status.open_red_flags = Some(to_u32(open, "open red flags")?);
        status.unacknowledged_red_flags = Some(to_u32(unacknowledged, "red flags")?);
        // Overdue check-ins are timed from the last session: shown only
        // with the sessions scope too.
        let overdue = match last.as_ref().filter(|_| sessions) {
            None => 0,
            Some((last, _)) => {
                let ended_at = &last.ended_at;
                let due = checkin_schedule(evidence(), *ended_at);
                let from = due
                    .first()
                    .and_then(|d| d.checked_sub(CHECKIN_GRACE).ok())
                    .unwrap_or(*ended_at);
                let done = collect(
                    tx,
                    "SELECT at FROM checkins WHERE profile_id = ?1 AND at >= ?2 AND at <= ?3",
                    params![profile, micros(from), micros(now)],
                    |r| ts(r, 0),
                )?;
                overdue_checkins(&due, &done, now)
            }
        };
        status.overdue_checkins = sessions.then_some(overdue);
    }
    Ok(status)
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

fn require_same_clinic(by: &ClinicAccess, clinic: ClinicId, what: &str) -> Result<()> {
    if clinic != by.clinic {
        return Err(StoreError::invalid(format!(
            "the {what} names clinic {clinic}, not clinic {}",
            by.clinic
        )));
    }
    Ok(())
}

/// The account a profile belongs to (the patient's own actor id).
fn profile_account(tx: &Connection, profile: &str) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT account_id FROM profiles WHERE id = ?1")?
        .query_row([profile], |r| r.get::<_, String>(0))
        .optional()?)
}

/// The patient's own actions show as "you" in their audit log.
const PATIENT: &str = "you";

impl ClinicStore for SqliteStore {
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
        self.write(|tx| {
            let id = id_text(clinic.id.0);
            tx.prepare_cached(
                "INSERT INTO clinics (id, name, time_zone, ladder, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                id,
                clinic.name,
                clinic.time_zone,
                json_text(&clinic.ladder)?,
                micros(clinic.created_at),
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("clinic {} already exists", clinic.id),
                    || "clinic".to_owned(),
                )
            })?;
            insert_member(tx, founder)
        })
    }

    fn clinic(&self, id: ClinicId) -> Result<Option<Clinic>> {
        self.read(|tx| clinic_by_id(tx, &id_text(id.0)))
    }

    fn memberships(&self, account: AccountId) -> Result<Vec<(Clinic, Member)>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS}, {MEMBER_COLUMNS} FROM clinic_members
                 JOIN clinics ON clinics.id = clinic_members.clinic_id
                 WHERE clinic_members.account_id = ?1
                 ORDER BY clinic_members.joined_at, clinic_members.clinic_id"
            );
            collect(tx, &sql, [id_text(account.0)], |r| {
                Ok((clinic_at(r, 0)?, member_at(r, 5)?))
            })
        })
    }

    fn members(&self, by: &ClinicAccess) -> Result<Vec<Member>> {
        self.read(|tx| {
            member_of(tx, by)?;
            let sql = format!(
                "SELECT {MEMBER_COLUMNS} FROM clinic_members WHERE clinic_id = ?1
                 ORDER BY joined_at, account_id"
            );
            collect(tx, &sql, [id_text(by.clinic.0)], |r| member_at(r, 0))
        })
    }

    fn add_member(&self, by: &ClinicAccess, member: &Member) -> Result<()> {
        require_same_clinic(by, member.clinic_id, "member")?;
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
            tx.prepare_cached(
                "INSERT INTO clinic_member_invites
                   (clinic_id, code_hash, email, role, display_name, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id_text(by.clinic.0),
                invite.code_hash,
                invite.email,
                invite.role.id(),
                invite.display_name,
                id_text(by.account.0),
                micros(invite.created_at),
                micros(invite.expires_at),
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || "this invitation code is taken".to_owned(),
                    || format!("clinic {}", by.clinic),
                )
            })?;
            Ok(())
        })
    }

    fn member_invite(&self, code_hash: &str) -> Result<Option<(Clinic, MemberInvite)>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS}, {MEMBER_INVITE_COLUMNS} FROM clinic_member_invites
                 JOIN clinics ON clinics.id = clinic_member_invites.clinic_id
                 WHERE clinic_member_invites.code_hash = ?1"
            );
            Ok(collect(tx, &sql, [code_hash], |r| {
                Ok((clinic_at(r, 0)?, member_invite_at(r, 5)?))
            })?
            .pop())
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
            collect(tx, &sql, params![id_text(by.clinic.0), micros(now)], |r| {
                member_invite_at(r, 0)
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
        let unusable = || StoreError::not_found("invitation (unknown, used, expired or another's)");
        self.write(|tx| {
            let sql = format!(
                "SELECT {MEMBER_INVITE_COLUMNS} FROM clinic_member_invites WHERE code_hash = ?1"
            );
            let invite = collect(tx, &sql, [code_hash], |r| member_invite_at(r, 0))?
                .pop()
                .filter(|i| i.usable(now))
                .ok_or_else(unusable)?;
            let email: Option<String> = tx
                .prepare_cached("SELECT email FROM accounts WHERE id = ?1")?
                .query_row([id_text(account.0)], |r| r.get(0))
                .optional()?
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
            let used = tx
                .prepare_cached(
                    "UPDATE clinic_member_invites SET used_by = ?3, used_at = ?4
                     WHERE clinic_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
                )?
                .execute(params![
                    id_text(invite.clinic_id.0),
                    code_hash,
                    id_text(account.0),
                    micros(now)
                ])?;
            if used != 1 {
                return Err(unusable());
            }
            Ok(member)
        })
    }

    fn set_ladder(&self, by: &ClinicAccess, ladder: &Ladder) -> Result<()> {
        ladder.validate().map_err(StoreError::invalid)?;
        self.write(|tx| {
            clinician_of(tx, by)?;
            tx.prepare_cached("UPDATE clinics SET ladder = ?2 WHERE id = ?1")?
                .execute(params![id_text(by.clinic.0), json_text(ladder)?])?;
            Ok(())
        })
    }

    fn create_invite(&self, by: &ClinicAccess, invite: &Invite) -> Result<()> {
        require_same_clinic(by, invite.clinic_id, "invite")?;
        invite.check(by)?;
        self.write(|tx| {
            member_of(tx, by)?;
            tx.prepare_cached(
                "INSERT INTO clinic_invites (clinic_id, code_hash, label, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id_text(by.clinic.0),
                invite.code_hash,
                invite.label,
                id_text(by.account.0),
                micros(invite.created_at),
                micros(invite.expires_at),
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || "this invite code is taken".to_owned(),
                    || format!("clinic {}", by.clinic),
                )
            })?;
            Ok(())
        })
    }

    fn invite_clinic(&self, code_hash: &str, now: Timestamp) -> Result<Option<Clinic>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS} FROM clinic_invites
                 JOIN clinics ON clinics.id = clinic_invites.clinic_id
                 WHERE clinic_invites.code_hash = ?1 AND clinic_invites.used_at IS NULL
                   AND clinic_invites.expires_at > ?2"
            );
            Ok(collect(tx, &sql, params![code_hash, micros(now)], |r| {
                clinic_at(r, 0)
            })?
            .pop())
        })
    }

    fn redeem_invite(
        &self,
        code_hash: &str,
        profile: ProfileId,
        scopes: &BTreeSet<Scope>,
        now: Timestamp,
    ) -> Result<ClinicId> {
        self.write(|tx| {
            let clinic: String = tx
                .prepare_cached(
                    "SELECT clinic_id FROM clinic_invites
                     WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                )?
                .query_row(params![code_hash, micros(now)], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::not_found("invite (unknown, used or expired)"))?;
            let key = id_text(profile.0);
            let account = profile_account(tx, &key)?
                .ok_or_else(|| StoreError::not_found(format!("profile {profile}")))?;
            tx.prepare_cached(
                "INSERT INTO clinic_patients (clinic_id, profile_id, joined_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![clinic, key, micros(now)])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("profile {profile} is already this clinic's patient"),
                    || format!("profile {profile}"),
                )
            })?;
            let line = |action, detail| Audit {
                profile: &key,
                clinic: &clinic,
                actor: &account,
                actor_name: PATIENT,
                action,
                detail,
                at: now,
            };
            audit(tx, &line("joined", ""))?;
            for scope in scopes {
                tx.prepare_cached(
                    "INSERT INTO consents (clinic_id, profile_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![clinic, key, scope.id(), micros(now)])?;
                audit(tx, &line("consent_granted", scope.id()))?;
            }
            tx.prepare_cached(
                "UPDATE clinic_invites SET used_by = ?2, used_at = ?3 WHERE code_hash = ?1",
            )?
            .execute(params![code_hash, key, micros(now)])?;
            parse(&clinic, "clinic id")
        })
    }

    fn patient_clinics(&self, profile: ProfileId) -> Result<Vec<PatientLink>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS}, clinic_patients.joined_at,
                     (SELECT group_concat(scope) FROM consents
                      WHERE consents.clinic_id = clinic_patients.clinic_id
                        AND consents.profile_id = clinic_patients.profile_id)
                 FROM clinic_patients JOIN clinics ON clinics.id = clinic_patients.clinic_id
                 WHERE clinic_patients.profile_id = ?1
                 ORDER BY clinic_patients.joined_at, clinic_patients.clinic_id"
            );
            collect(tx, &sql, [id_text(profile.0)], |r| {
                Ok(PatientLink {
                    clinic: clinic_at(r, 0)?,
                    joined_at: ts(r, 5)?,
                    scopes: scope_set(r.get(6)?)?,
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
        self.write(|tx| {
            let (key, clinic_key) = (id_text(profile.0), id_text(clinic.0));
            if link(tx, &clinic_key, &key)?.is_none() {
                return Err(StoreError::not_found(format!(
                    "profile {profile} as a patient of clinic {clinic}"
                )));
            }
            let changed = if granted {
                tx.prepare_cached(
                    "INSERT INTO consents (clinic_id, profile_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (clinic_id, profile_id, scope) DO NOTHING",
                )?
                .execute(params![clinic_key, key, scope.id(), micros(at)])?
            } else {
                tx.prepare_cached(
                    "DELETE FROM consents WHERE clinic_id = ?1 AND profile_id = ?2 AND scope = ?3",
                )?
                .execute(params![clinic_key, key, scope.id()])?
            };
            if changed > 0 {
                let account = profile_account(tx, &key)?.unwrap_or_default();
                audit(
                    tx,
                    &Audit {
                        profile: &key,
                        clinic: &clinic_key,
                        actor: &account,
                        actor_name: PATIENT,
                        action: if granted {
                            "consent_granted"
                        } else {
                            "consent_revoked"
                        },
                        detail: scope.id(),
                        at,
                    },
                )?;
            }
            Ok(())
        })
    }

    fn leave_clinic(&self, profile: ProfileId, clinic: ClinicId, at: Timestamp) -> Result<()> {
        self.write(|tx| {
            let (key, clinic_key) = (id_text(profile.0), id_text(clinic.0));
            let Some((_, scopes)) = link(tx, &clinic_key, &key)? else {
                return Err(StoreError::not_found(format!(
                    "profile {profile} as a patient of clinic {clinic}"
                )));
            };
            // Cascades to its consents, protocols and overrides.
            tx.prepare_cached(
                "DELETE FROM clinic_patients WHERE clinic_id = ?1 AND profile_id = ?2",
            )?
            .execute(params![clinic_key, key])?;
            let account = profile_account(tx, &key)?.unwrap_or_default();
            audit(
                tx,
                &Audit {
                    profile: &key,
                    clinic: &clinic_key,
                    actor: &account,
                    actor_name: PATIENT,
                    action: "left",
                    detail: &scope_list(&scopes),
                    at,
                },
            )
        })
    }

    fn clinic_patients(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<PatientSummary>> {
        // The list is read on a read-only connection (several views run at
        // once); the audit lines are written before anything is returned,
        // and only when this clinician's last view of a patient is older
        // than the window, so most views never wait for the writer.
        let (out, shown, actor_name, unlogged) = self.read(|tx| {
            let (role, actor_name) = member_of(tx, by)?;
            let clinic_key = id_text(by.clinic.0);
            let clinic = clinic_by_id(tx, &clinic_key)?
                .ok_or_else(|| StoreError::not_found(format!("clinic {}", by.clinic)))?;
            let rows = collect(
                tx,
                "SELECT clinic_patients.profile_id, profiles.name, clinic_patients.joined_at,
                     (SELECT group_concat(scope) FROM consents
                      WHERE consents.clinic_id = clinic_patients.clinic_id
                        AND consents.profile_id = clinic_patients.profile_id)
                 FROM clinic_patients JOIN profiles ON profiles.id = clinic_patients.profile_id
                 WHERE clinic_patients.clinic_id = ?1",
                [&clinic_key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        ts(r, 2)?,
                        scope_set(r.get(3)?)?,
                    ))
                },
            )?;
            let today = clinic_now(&clinic, now);
            let mut out = Vec::with_capacity(rows.len());
            let mut shown = Vec::new();
            for (key, name, joined_at, scopes) in rows {
                let status = if role.reads_clinical_data() {
                    patient_status(tx, &today, &clinic_key, &key, &scopes, now)?
                } else {
                    PatientStatus {
                        last_session: None,
                        next_due: None,
                        open_red_flags: None,
                        unacknowledged_red_flags: None,
                        overdue_checkins: None,
                    }
                };
                let showed = role.reads_clinical_data()
                    && (scopes.contains(&Scope::Sessions) || scopes.contains(&Scope::Checkins));
                if showed {
                    shown.push(key.clone());
                }
                out.push(PatientSummary {
                    profile_id: parse(&key, "profile id")?,
                    name,
                    joined_at,
                    scopes,
                    status,
                });
            }
            let unlogged = unlogged_views(tx, &shown, by, "patient list", now)?;
            // By name: sorted here, so both backends agree whatever their
            // collation.
            out.sort_by(|a, b| a.name.cmp(&b.name).then(a.profile_id.cmp(&b.profile_id)));
            Ok((out, shown, actor_name, unlogged))
        })?;
        if unlogged {
            self.write(|tx| {
                audit_each(
                    tx,
                    &shown,
                    by,
                    &actor_name,
                    "viewed_list",
                    "patient list",
                    now,
                )
            })?;
        }
        Ok(out)
    }

    fn red_flag_queue(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<RedFlag>> {
        self.write(|tx| {
            let actor_name = clinician_of(tx, by)?;
            let sql = format!(
                "SELECT {}, profiles.name, checkins.rule_ids,
                     red_flag_acks.by_account, red_flag_acks.by_name, red_flag_acks.at, red_flag_acks.note,
                     MAX(episodes.opened_at, consents.granted_at)
                 FROM clinic_patients
                 JOIN consents ON consents.clinic_id = clinic_patients.clinic_id
                     AND consents.profile_id = clinic_patients.profile_id AND consents.scope = 'checkins'
                 JOIN profiles ON profiles.id = clinic_patients.profile_id
                 JOIN episodes ON episodes.profile_id = clinic_patients.profile_id
                     AND episodes.resolved_at IS NULL
                 JOIN checkins ON checkins.profile_id = episodes.profile_id
                     AND checkins.id = episodes.checkin_id
                 LEFT JOIN red_flag_acks ON red_flag_acks.clinic_id = clinic_patients.clinic_id
                     AND red_flag_acks.profile_id = episodes.profile_id
                     AND red_flag_acks.episode_id = episodes.id
                 WHERE clinic_patients.clinic_id = ?1
                 ORDER BY episodes.opened_at, episodes.id",
                episode_columns()
            );
            let flags = collect(tx, &sql, [id_text(by.clinic.0)], |r| {
                let episode = episode_from_row(r)?;
                Ok(RedFlag {
                    profile_id: episode.profile_id,
                    patient_name: r.get(8)?,
                    rule_ids: codec::rule_ids(json_value(&r.get::<_, String>(9)?, "rule ids")?)?,
                    acknowledged: ack_at(r, 10)?,
                    visible_since: ts(r, 14)?,
                    episode,
                })
            })?;
            let patients: BTreeSet<String> =
                flags.iter().map(|f| id_text(f.profile_id.0)).collect();
            let patients: Vec<String> = patients.into_iter().collect();
            audit_each(tx, &patients, by, &actor_name, "viewed_list", "red flags", now)?;
            Ok(flags)
        })
    }

    fn patient_record(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        now: Timestamp,
    ) -> Result<Option<PatientRecord>> {
        self.write(|tx| {
            let Some(allowed) = or_none(authorize(tx, by, profile, Act::SeeListed))? else {
                return Ok(None);
            };
            if allowed.grant.role.is_some_and(|r| !r.reads_clinical_data()) {
                return Err(StoreError::forbidden(
                    "staff may not read a patient's clinical record",
                ));
            }
            let key = id_text(profile.0);
            let clinic_key = id_text(by.clinic.0);
            let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = ?1");
            let Some(person) = collect(tx, &sql, [&key], profile_from_row)?.pop() else {
                return Ok(None);
            };
            let screening = if allowed.may(Act::Read(Scope::Screening)) {
                latest_screening_of(tx, &key)?
            } else {
                None
            };
            let sessions = if allowed.may(Act::Read(Scope::Sessions)) {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = ?1 ORDER BY started_at DESC, id DESC"
                );
                let mut sessions = collect(tx, &sql, [&key], session_from_row)?;
                fill_sessions(tx, &key, &mut sessions, None)?;
                Some(sessions)
            } else {
                None
            };
            let (checkins, episodes) = if allowed.may(Act::Read(Scope::Checkins)) {
                let checkins = collect(
                    tx,
                    "SELECT id, profile_id, session_id, at, answers, level, rule_ids FROM checkins
                     WHERE profile_id = ?1 ORDER BY at DESC, id DESC",
                    [&key],
                    checkin_from_row,
                )?;
                let sql = format!(
                    "SELECT {}, red_flag_acks.by_account, red_flag_acks.by_name, red_flag_acks.at, red_flag_acks.note
                     FROM episodes LEFT JOIN red_flag_acks ON red_flag_acks.clinic_id = ?2
                         AND red_flag_acks.profile_id = episodes.profile_id
                         AND red_flag_acks.episode_id = episodes.id
                     WHERE episodes.profile_id = ?1
                     ORDER BY episodes.opened_at DESC, episodes.id DESC",
                    episode_columns()
                );
                let episodes = collect(tx, &sql, params![key, clinic_key], |r| {
                    Ok((episode_from_row(r)?, ack_at(r, 8)?))
                })?;
                (Some(checkins), Some(episodes))
            } else {
                (None, None)
            };
            let photos = if allowed.may(Act::Read(Scope::PhotosClinical)) {
                let sql = format!(
                    "SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 ORDER BY taken_at, id"
                );
                Some(collect(tx, &sql, [&key], photo_from_row)?)
            } else {
                None
            };
            let protocol = clinic_protocol(tx, &clinic_key, &key)?;
            let sql = format!(
                "SELECT {OVERRIDE_COLUMNS} FROM rule_overrides
                 WHERE clinic_id = ?1 AND profile_id = ?2 AND revoked_at IS NULL ORDER BY at, id"
            );
            let overrides = collect(tx, &sql, params![clinic_key, key], overrides_at)?;
            let read: BTreeSet<Scope> = allowed
                .grant
                .scopes
                .iter()
                .copied()
                .filter(|s| *s != Scope::PhotosTeaching)
                .collect();
            audit(
                tx,
                &Audit {
                    profile: &key,
                    clinic: &clinic_key,
                    actor: &id_text(by.account.0),
                    actor_name: &allowed.actor_name,
                    action: "viewed_record",
                    detail: &scope_list(&read),
                    at: now,
                },
            )?;
            Ok(Some(PatientRecord {
                profile: person,
                joined_at: allowed.joined_at,
                scopes: allowed.grant.scopes.clone(),
                screening,
                sessions,
                checkins,
                episodes,
                photos,
                protocol,
                overrides,
            }))
        })
    }

    fn patient_photo(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        photo: PhotoId,
        now: Timestamp,
    ) -> Result<Option<Photo>> {
        self.write(|tx| {
            let Some(allowed) =
                or_none(authorize(tx, by, profile, Act::Read(Scope::PhotosClinical)))?
            else {
                return Ok(None);
            };
            let key = id_text(profile.0);
            let sql =
                format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 AND id = ?2");
            let found = collect(tx, &sql, params![key, id_text(photo.0)], photo_from_row)?.pop();
            if found.is_some() {
                audit(
                    tx,
                    &Audit {
                        profile: &key,
                        clinic: &id_text(by.clinic.0),
                        actor: &id_text(by.account.0),
                        actor_name: &allowed.actor_name,
                        action: "viewed_photo",
                        detail: &photo.to_string(),
                        at: now,
                    },
                )?;
            }
            Ok(found)
        })
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
            let allowed = authorize(tx, by, profile, Act::Acknowledge)?;
            let (key, episode_key, clinic_key) =
                (id_text(profile.0), id_text(episode.0), id_text(by.clinic.0));
            let open = tx
                .prepare_cached(
                    "SELECT 1 FROM episodes WHERE profile_id = ?1 AND id = ?2 AND resolved_at IS NULL",
                )?
                .query_row(params![key, episode_key], |_| Ok(()))
                .optional()?
                .is_some();
            if !open {
                return Err(StoreError::not_found(format!("open red flag {episode}")));
            }
            tx.prepare_cached(
                "INSERT INTO red_flag_acks (clinic_id, profile_id, episode_id, by_account, by_name, at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                clinic_key,
                key,
                episode_key,
                id_text(by.account.0),
                allowed.actor_name,
                micros(at),
                note,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("red flag {episode} is already acknowledged"),
                    || format!("red flag {episode}"),
                )
            })?;
            audit(
                tx,
                &Audit {
                    profile: &key,
                    clinic: &clinic_key,
                    actor: &id_text(by.account.0),
                    actor_name: &allowed.actor_name,
                    action: "acknowledged",
                    detail: &episode_key,
                    at,
                },
            )
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
            let allowed = authorize(tx, by, profile, Act::Resolve)?;
            let resolver = Resolver::Clinician {
                clinic_id: by.clinic,
                account_id: by.account,
                name: allowed.actor_name.clone(),
            };
            let resolver = json_text(&codec::encode_resolver(&resolver)?)?;
            resolve_open_episode(tx, profile, episode, at, note, &resolver).map_err(
                |e| match e {
                    StoreError::NotFound { .. } => {
                        StoreError::not_found(format!("open red flag {episode}"))
                    }
                    other => other,
                },
            )?;
            audit(
                tx,
                &Audit {
                    profile: &id_text(profile.0),
                    clinic: &id_text(by.clinic.0),
                    actor: &id_text(by.account.0),
                    actor_name: &allowed.actor_name,
                    action: "resolved",
                    detail: &id_text(episode.0),
                    at,
                },
            )
        })
    }

    fn prescribe(&self, by: &ClinicAccess, protocol: &Protocol) -> Result<()> {
        protocol.validate().map_err(|p| invalid_problems(&p))?;
        require_same_clinic(by, protocol.clinic_id, "protocol")?;
        self.write(|tx| {
            let allowed = authorize(tx, by, protocol.profile_id, Act::Prescribe)?;
            let stored = Protocol {
                prescribed_by: by.account,
                prescriber_name: allowed.actor_name.clone(),
                ..protocol.clone()
            };
            let (key, clinic_key) = (id_text(protocol.profile_id.0), id_text(by.clinic.0));
            tx.prepare_cached(
                "INSERT INTO protocols (clinic_id, profile_id, id, prescribed_by, prescribed_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                clinic_key,
                key,
                id_text(protocol.id.0),
                id_text(by.account.0),
                micros(protocol.prescribed_at),
                json_text(&stored)?,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("protocol {} already exists", protocol.id),
                    || format!("patient {}", protocol.profile_id),
                )
            })?;
            audit(
                tx,
                &Audit {
                    profile: &key,
                    clinic: &clinic_key,
                    actor: &id_text(by.account.0),
                    actor_name: &allowed.actor_name,
                    action: "prescribed",
                    detail: &protocol.id.to_string(),
                    at: protocol.prescribed_at,
                },
            )
        })
    }

    fn add_override(&self, by: &ClinicAccess, ov: &Override) -> Result<()> {
        if ov.reason.trim().is_empty() {
            return Err(StoreError::invalid("give the reason for the override"));
        }
        if ov.rule_id.trim().is_empty() {
            return Err(StoreError::invalid("name the rule to override"));
        }
        require_same_clinic(by, ov.clinic_id, "override")?;
        self.write(|tx| {
            let allowed = authorize(tx, by, ov.profile_id, Act::Override)?;
            let (key, clinic_key) = (id_text(ov.profile_id.0), id_text(by.clinic.0));
            tx.prepare_cached(
                "INSERT INTO rule_overrides (clinic_id, profile_id, id, rule_id, by_account, by_name, at, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                clinic_key,
                key,
                id_text(ov.id.0),
                ov.rule_id,
                id_text(by.account.0),
                allowed.actor_name,
                micros(ov.at),
                ov.reason,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("override {} already exists", ov.id),
                    || format!("patient {}", ov.profile_id),
                )
            })?;
            audit(
                tx,
                &Audit {
                    profile: &key,
                    clinic: &clinic_key,
                    actor: &id_text(by.account.0),
                    actor_name: &allowed.actor_name,
                    action: "override_added",
                    detail: &ov.rule_id,
                    at: ov.at,
                },
            )
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
            let allowed = authorize(tx, by, profile, Act::Override)?;
            let (key, clinic_key) = (id_text(profile.0), id_text(by.clinic.0));
            let rule: String = tx
                .prepare_cached(
                    "UPDATE rule_overrides SET revoked_at = ?4
                     WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3 AND revoked_at IS NULL
                     RETURNING rule_id",
                )?
                .query_row(params![clinic_key, key, id_text(id.0), micros(at)], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| StoreError::not_found(format!("override {id} in force")))?;
            audit(
                tx,
                &Audit {
                    profile: &key,
                    clinic: &clinic_key,
                    actor: &id_text(by.account.0),
                    actor_name: &allowed.actor_name,
                    action: "override_revoked",
                    detail: &rule,
                    at,
                },
            )
        })
    }

    fn active_protocol(&self, profile: ProfileId) -> Result<Option<Protocol>> {
        self.read(|tx| {
            tx.prepare_cached(super::ACTIVE_PROTOCOL)?
                .query_row([id_text(profile.0)], |r| r.get::<_, String>(0))
                .optional()?
                .map(|b| json_parse(&b, "protocol"))
                .transpose()
        })
    }

    fn active_overrides(&self, profile: ProfileId) -> Result<Vec<Override>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {OVERRIDE_COLUMNS} FROM rule_overrides
                 JOIN clinic_patients ON clinic_patients.clinic_id = rule_overrides.clinic_id
                     AND clinic_patients.profile_id = rule_overrides.profile_id
                 WHERE rule_overrides.profile_id = ?1 AND rule_overrides.revoked_at IS NULL
                 ORDER BY rule_overrides.at, rule_overrides.id"
            );
            collect(tx, &sql, [id_text(profile.0)], overrides_at)
        })
    }

    fn audit_log(&self, profile: ProfileId, limit: u32) -> Result<Vec<AuditEntry>> {
        self.read(|tx| {
            collect(
                tx,
                "SELECT id, profile_id, clinic_id, actor, actor_name, action, detail, at
                 FROM audit_log WHERE profile_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
                params![id_text(profile.0), i64::from(limit)],
                |r| {
                    Ok(AuditEntry {
                        id: parse(&r.get::<_, String>(0)?, "audit id")?,
                        profile_id: parse(&r.get::<_, String>(1)?, "profile id")?,
                        clinic_id: parse(&r.get::<_, String>(2)?, "clinic id")?,
                        actor: parse(&r.get::<_, String>(3)?, "account id")?,
                        actor_name: r.get(4)?,
                        action: r.get(5)?,
                        detail: r.get(6)?,
                        at: ts(r, 7)?,
                    })
                },
            )
        })
    }

    fn add_notifications(&self, notes: &[Notification]) -> Result<()> {
        self.write(|tx| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO notifications (account_id, id, clinic_id, profile_id, kind, title, body, link, created_at, read_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for n in notes {
                insert
                    .execute(params![
                        id_text(n.account_id.0),
                        id_text(n.id.0),
                        n.clinic_id.map(|c| id_text(c.0)),
                        n.profile_id.map(|p| id_text(p.0)),
                        n.kind,
                        n.title,
                        n.body,
                        n.link,
                        micros(n.created_at),
                        n.read_at.map(micros),
                    ])
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

    fn notifications(&self, account: AccountId, limit: u32) -> Result<Vec<Notification>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE account_id = ?1
                 ORDER BY created_at DESC, id DESC LIMIT ?2"
            );
            collect(
                tx,
                &sql,
                params![id_text(account.0), i64::from(limit)],
                notification_from_row,
            )
        })
    }

    fn unread_notifications(&self, account: AccountId) -> Result<u64> {
        self.read(|tx| {
            let n: i64 = tx
                .prepare_cached(
                    "SELECT count(*) FROM notifications WHERE account_id = ?1 AND read_at IS NULL",
                )?
                .query_row([id_text(account.0)], |r| r.get(0))?;
            codec::to_u64(n, "unread notifications")
        })
    }

    fn mark_notification_read(
        &self,
        account: AccountId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE notifications SET read_at = COALESCE(read_at, ?3)
                     WHERE account_id = ?1 AND id = ?2",
                )?
                .execute(params![id_text(account.0), id_text(id.0), micros(at)])?;
            if changed == 0 {
                return Err(StoreError::not_found(format!("notification {id}")));
            }
            Ok(())
        })
    }

    fn open_flags(&self) -> Result<Vec<OpenFlag>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {CLINIC_COLUMNS}, {}, profiles.name,
                     red_flag_acks.episode_id IS NOT NULL,
                     MAX(episodes.opened_at, consents.granted_at)
                 FROM clinic_patients
                 JOIN consents ON consents.clinic_id = clinic_patients.clinic_id
                     AND consents.profile_id = clinic_patients.profile_id AND consents.scope = 'checkins'
                 JOIN clinics ON clinics.id = clinic_patients.clinic_id
                 JOIN profiles ON profiles.id = clinic_patients.profile_id
                 JOIN episodes ON episodes.profile_id = clinic_patients.profile_id
                     AND episodes.resolved_at IS NULL
                 LEFT JOIN red_flag_acks ON red_flag_acks.clinic_id = clinic_patients.clinic_id
                     AND red_flag_acks.profile_id = episodes.profile_id
                     AND red_flag_acks.episode_id = episodes.id
                 ORDER BY episodes.opened_at, episodes.id, clinic_patients.clinic_id",
                EPISODE_COLUMNS
                    .split(", ")
                    .map(|c| format!("episodes.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut flags = collect(tx, &sql, [], |r| {
                // The episode's columns start after the clinic's five.
                let episode = Episode {
                    id: parse(&r.get::<_, String>(5)?, "episode id")?,
                    profile_id: parse(&r.get::<_, String>(6)?, "profile id")?,
                    checkin_id: parse(&r.get::<_, String>(7)?, "check-in id")?,
                    level: parse(&r.get::<_, String>(8)?, "triage level")?,
                    opened_at: ts(r, 9)?,
                    resolved_at: opt_ts(r, 10)?,
                    resolution: r.get(11)?,
                    resolver: codec::decode_resolver(
                        r.get::<_, Option<String>>(12)?
                            .map(|t| json_value(&t, "resolver"))
                            .transpose()?,
                    )?,
                };
                Ok(OpenFlag {
                    clinic: clinic_at(r, 0)?,
                    profile_id: episode.profile_id,
                    patient_name: r.get(13)?,
                    acknowledged: r.get(14)?,
                    visible_since: ts(r, 15)?,
                    episode,
                    sent_steps: BTreeSet::new(),
                })
            })?;
            let sent = collect(
                tx,
                "SELECT escalations.clinic_id, escalations.profile_id, escalations.episode_id, escalations.step
                 FROM escalations JOIN episodes ON episodes.profile_id = escalations.profile_id
                     AND episodes.id = escalations.episode_id AND episodes.resolved_at IS NULL",
                [],
                |r| {
                    Ok((
                        (
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ),
                        usize::try_from(r.get::<_, i64>(3)?)
                            .map_err(|_| StoreError::invalid("stored escalation step"))?,
                    ))
                },
            )?;
            let mut by_flag: HashMap<(String, String, String), BTreeSet<usize>> = HashMap::new();
            for (k, step) in sent {
                by_flag.entry(k).or_default().insert(step);
            }
            for f in &mut flags {
                let k = (
                    id_text(f.clinic.id.0),
                    id_text(f.profile_id.0),
                    id_text(f.episode.id.0),
                );
                if let Some(steps) = by_flag.remove(&k) {
                    f.sent_steps = steps;
                }
            }
            Ok(flags)
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
        let step = i64::try_from(step).map_err(|_| StoreError::invalid("step out of range"))?;
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "INSERT INTO escalations (clinic_id, profile_id, episode_id, step, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (clinic_id, profile_id, episode_id, step) DO NOTHING",
                )?
                .execute(params![
                    id_text(clinic.0),
                    id_text(profile.0),
                    id_text(episode.0),
                    step,
                    micros(at),
                ])
                .map_err(|e| {
                    insert_error(
                        e,
                        || "escalation step".to_owned(),
                        || format!("red flag {episode} of clinic {clinic}"),
                    )
                })?;
            Ok(n == 1)
        })
    }

    fn queue_email(&self, email: &Email) -> Result<()> {
        if email.to.trim().is_empty() {
            return Err(StoreError::invalid("an email needs a recipient"));
        }
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO email_outbox (id, recipient, subject, body, created_at, sent_at, attempts, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id_text(email.id.0),
                email.to,
                email.subject,
                email.body,
                micros(email.created_at),
                email.sent_at.map(micros),
                i64::from(email.attempts),
                email.last_error,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("email {} already exists", email.id),
                    || "email".to_owned(),
                )
            })?;
            Ok(())
        })
    }

    fn claim_emails(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<Email>> {
        let until = now
            .checked_add(lease)
            .map_err(|_| StoreError::invalid("the lease is out of range"))?;
        self.write(|tx| {
            let sql = format!(
                "UPDATE email_outbox SET leased_until = ?2, attempts = attempts + 1
                 WHERE id IN (
                     SELECT id FROM email_outbox
                     WHERE sent_at IS NULL AND attempts < ?4
                       AND (leased_until IS NULL OR leased_until <= ?1)
                     ORDER BY created_at, id LIMIT ?3)
                 RETURNING {EMAIL_COLUMNS}"
            );
            let mut emails = collect(
                tx,
                &sql,
                params![
                    micros(now),
                    micros(until),
                    i64::from(limit),
                    MAX_EMAIL_ATTEMPTS
                ],
                email_from_row,
            )?;
            emails.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            Ok(emails)
        })
    }

    fn finish_email(
        &self,
        id: EmailId,
        outcome: std::result::Result<(), String>,
        at: Timestamp,
    ) -> Result<()> {
        self.write(|tx| {
            let changed = match &outcome {
                Ok(()) => tx
                    .prepare_cached(
                        "UPDATE email_outbox SET sent_at = ?2, leased_until = NULL, last_error = ''
                         WHERE id = ?1",
                    )?
                    .execute(params![id_text(id.0), micros(at)])?,
                Err(error) => tx
                    .prepare_cached("UPDATE email_outbox SET last_error = ?2 WHERE id = ?1")?
                    .execute(params![id_text(id.0), error])?,
            };
            if changed == 0 {
                return Err(StoreError::not_found(format!("email {id}")));
            }
            Ok(())
        })
    }

    fn emails(&self, limit: u32) -> Result<Vec<Email>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {EMAIL_COLUMNS} FROM email_outbox ORDER BY created_at DESC, id DESC LIMIT ?1"
            );
            collect(tx, &sql, [i64::from(limit)], email_from_row)
        })
    }

    fn clinic_mail_status(&self, by: &ClinicAccess) -> Result<MailStatus> {
        self.read(|tx| {
            member_of(tx, by)?;
            let (waiting, oldest, given_up, last_error) = tx
                .prepare_cached(
                    "SELECT count(*) FILTER (WHERE o.attempts < ?2), min(o.created_at) FILTER (WHERE o.attempts < ?2),
                            count(*) FILTER (WHERE o.attempts >= ?2),
                            (SELECT e.last_error FROM email_outbox e
                             WHERE e.sent_at IS NULL AND e.last_error <> ''
                               AND e.recipient IN (SELECT a.email FROM clinic_members m
                                                   JOIN accounts a ON a.id = m.account_id
                                                   WHERE m.clinic_id = ?1)
                             ORDER BY e.created_at DESC, e.id DESC LIMIT 1)
                     FROM email_outbox o
                     WHERE o.sent_at IS NULL
                       AND o.recipient IN (SELECT a.email FROM clinic_members m
                                           JOIN accounts a ON a.id = m.account_id
                                           WHERE m.clinic_id = ?1)",
                )?
                .query_row(params![id_text(by.clinic.0), MAX_EMAIL_ATTEMPTS], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })?;
            Ok(MailStatus {
                waiting: to_u32(waiting, "waiting emails")?,
                oldest_waiting: oldest.map(from_micros).transpose()?,
                given_up: to_u32(given_up, "emails given up")?,
                last_error,
            })
        })
    }

    fn set_totp(&self, account: AccountId, secret: Option<&TotpSecret>) -> Result<()> {
        if let Some(s) = secret {
            s.check(account)?;
        }
        self.write(|tx| {
            let key = id_text(account.0);
            match secret {
                None => {
                    tx.prepare_cached("DELETE FROM totp_secrets WHERE account_id = ?1")?
                        .execute([key])?;
                }
                Some(s) => {
                    tx.prepare_cached(
                        "INSERT INTO totp_secrets (account_id, secret, enabled_at, last_step, pending_session)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret,
                             enabled_at = excluded.enabled_at, last_step = excluded.last_step,
                             pending_session = excluded.pending_session",
                    )?
                    .execute(params![
                        key,
                        crate::snapshot::hex(&s.secret),
                        s.enabled_at.map(micros),
                        s.last_step,
                        s.pending_session,
                    ])
                    .map_err(|e| {
                        insert_error(e, || "TOTP secret".to_owned(), || format!("account {account}"))
                    })?;
                }
            }
            Ok(())
        })
    }

    fn totp(&self, account: AccountId) -> Result<Option<TotpSecret>> {
        self.read(|tx| {
            Ok(collect(
                tx,
                "SELECT account_id, secret, enabled_at, last_step, pending_session
                 FROM totp_secrets WHERE account_id = ?1",
                [id_text(account.0)],
                |r| {
                    Ok(TotpSecret {
                        account_id: parse(&r.get::<_, String>(0)?, "account id")?,
                        secret: hex_decode(&r.get::<_, String>(1)?)?,
                        enabled_at: opt_ts(r, 2)?,
                        last_step: r.get(3)?,
                        pending_session: r.get(4)?,
                    })
                },
            )?
            .pop())
        })
    }

    fn begin_totp(&self, secret: &TotpSecret) -> Result<bool> {
        let account = secret.account_id;
        secret.check(account)?;
        if secret.enabled_at.is_some() || secret.pending_session.is_none() {
            return Err(StoreError::invalid(
                "enrolment starts with a pending secret bound to a session",
            ));
        }
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "INSERT INTO totp_secrets (account_id, secret, enabled_at, last_step, pending_session)
                     VALUES (?1, ?2, NULL, ?3, ?4)
                     ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret,
                         last_step = excluded.last_step, pending_session = excluded.pending_session
                     WHERE totp_secrets.enabled_at IS NULL",
                )?
                .execute(params![
                    id_text(account.0),
                    crate::snapshot::hex(&secret.secret),
                    secret.last_step,
                    secret.pending_session,
                ])
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
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE totp_secrets SET enabled_at = ?4, last_step = ?5, pending_session = NULL
                     WHERE account_id = ?1 AND enabled_at IS NULL
                         AND pending_session = ?2 AND secret = ?3",
                )?
                .execute(params![
                    id_text(account.0),
                    session,
                    crate::snapshot::hex(secret),
                    micros(at),
                    step,
                ])?;
            Ok(changed == 1)
        })
    }

    fn use_totp_step(&self, account: AccountId, step: i64) -> Result<bool> {
        self.write(|tx| {
            let key = id_text(account.0);
            let changed = tx
                .prepare_cached(
                    "UPDATE totp_secrets SET last_step = ?2 WHERE account_id = ?1 AND last_step < ?2",
                )?
                .execute(params![key, step])?;
            if changed == 1 {
                return Ok(true);
            }
            let exists = tx
                .prepare_cached("SELECT 1 FROM totp_secrets WHERE account_id = ?1")?
                .query_row([&key], |_| Ok(()))
                .optional()?
                .is_some();
            if exists {
                Ok(false)
            } else {
                Err(StoreError::not_found(format!("TOTP secret of account {account}")))
            }
        })
    }

    fn mark_web_session_verified(&self, token_hash: &str, at: Timestamp) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE web_sessions SET verified_at = ?2 WHERE token_hash = ?1")?
                .execute(params![token_hash, micros(at)])?;
            if changed == 0 {
                return Err(StoreError::not_found("web session"));
            }
            Ok(())
        })
    }

    fn web_sessions_of(&self, account: AccountId, now: Timestamp) -> Result<Vec<WebSession>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions WHERE account_id = ?1 AND expires_at > ?2
                 ORDER BY created_at DESC, token_hash DESC"
            );
            collect(
                tx,
                &sql,
                params![id_text(account.0), micros(now)],
                web_session_from_row,
            )
        })
    }

    fn rate_limit_hit(&self, key: &str, window_start: Timestamp) -> Result<u32> {
        self.write(|tx| {
            let start = micros(window_start);
            let hits: i64 = tx
                .prepare_cached(
                    "INSERT INTO rate_limits (key, window_start, hits) VALUES (?1, ?2, 1)
                     ON CONFLICT (key, window_start) DO UPDATE SET hits = hits + 1
                     RETURNING hits",
                )?
                .query_row(params![key, start], |r| r.get(0))?;
            tx.prepare_cached("DELETE FROM rate_limits WHERE key = ?1 AND window_start < ?2")?
                .execute(params![key, start])?;
            to_u32(hits, "rate limit hits")
        })
    }

    fn purge_rate_limits(&self, before: Timestamp) -> Result<u64> {
        self.write(|tx| {
            let gone = tx
                .prepare_cached("DELETE FROM rate_limits WHERE window_start < ?1")?
                .execute([micros(before)])?;
            Ok(u64::try_from(gone).unwrap_or(u64::MAX))
        })
    }

    fn purge_expired_invites(&self, before: Timestamp) -> Result<u64> {
        self.write(|tx| {
            let mut gone = 0;
            for table in ["clinic_invites", "clinic_member_invites"] {
                gone += tx
                    .prepare_cached(&format!(
                        "DELETE FROM {table} WHERE used_at IS NULL AND expires_at < ?1"
                    ))?
                    .execute([micros(before)])?;
            }
            Ok(u64::try_from(gone).unwrap_or(u64::MAX))
        })
    }

    // Added for the escalation worker (members without an asker).
    fn members_of(&self, clinic: ClinicId) -> Result<Vec<Member>> {
        self.read(|tx| {
            super::collect(
                tx,
                "SELECT clinic_id, account_id, role, display_name, joined_at FROM clinic_members \
                 WHERE clinic_id = ?1 ORDER BY joined_at, account_id",
                [super::id_text(clinic.0)],
                |row| {
                    Ok(Member {
                        clinic_id: crate::codec::parse(&row.get::<_, String>(0)?, "clinic id")?,
                        account_id: crate::codec::parse(&row.get::<_, String>(1)?, "account id")?,
                        role: crate::codec::parse(&row.get::<_, String>(2)?, "role")?,
                        display_name: row.get(3)?,
                        joined_at: super::ts(row, 4)?,
                    })
                },
            )
        })
    }
}

fn insert_member(tx: &Connection, m: &Member) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO clinic_members (clinic_id, account_id, role, display_name, joined_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        id_text(m.clinic_id.0),
        id_text(m.account_id.0),
        m.role.id(),
        m.display_name,
        micros(m.joined_at),
    ])
    .map_err(|e| {
        insert_error(
            e,
            || format!("account {} is already a member of the clinic", m.account_id),
            || format!("account {}", m.account_id),
        )
    })?;
    Ok(())
}
