//! [`Store`], written once over [`Backend`]: both backends run these
//! statements (the few that differ are in `clinic_impl`, through `Dialect`).

use std::collections::HashMap;
use std::sync::LazyLock;

use jiff::Timestamp;
use needlewise_core::hygiene::{Device, HygieneEvent};
use needlewise_core::ids::{
    AccountId, CheckinId, DeviceId, EpisodeId, PhotoId, ProfileId, RatingId, ReadinessCheckId,
    ScreeningId, SessionId,
};
use needlewise_core::progress::{Photo, Rating};
use needlewise_core::records::{
    Account, CheckinRecord, Episode, ProductUse, Profile, ReadinessCheckRecord, Resolver,
    ScreeningRecord, SessionRecord, ZoneRecord,
};
use needlewise_core::schedule::LastSession;

use crate::codec::{self, check_checkin_episode, check_session_device, to_i64, to_u32, to_u64};
use crate::sql::{Backend, Cols, Tx, Value, aliased, args, json, qualified, sql};
use crate::{
    Counts, Dashboard, HygieneLogEntry, Result, SessionDashboard, Store, StoreError, WebSession,
    working_profile,
};

pub(crate) const ACCOUNT_COLUMNS: &str = "id, email, password_hash, created_at";

/// The local account has neither email nor password hash: both come back
/// empty.
fn account_from(r: Cols<'_>) -> Result<Account> {
    Ok(Account {
        id: AccountId(r.uuid("id")?),
        email: r.opt_text("email")?.unwrap_or_default(),
        password_hash: r.opt_text("password_hash")?.unwrap_or_default(),
        created_at: r.ts("created_at")?,
    })
}

pub(crate) const WEB_SESSION_COLUMNS: &str =
    "token_hash, account_id, csrf_token, profile_id, created_at, expires_at, verified_at";

pub(crate) fn web_session_from(r: Cols<'_>) -> Result<WebSession> {
    Ok(WebSession {
        token_hash: r.text("token_hash")?,
        account_id: AccountId(r.uuid("account_id")?),
        csrf_token: r.text("csrf_token")?,
        profile_id: r.opt_uuid("profile_id")?.map(ProfileId),
        created_at: r.ts("created_at")?,
        expires_at: r.ts("expires_at")?,
        verified_at: r.opt_ts("verified_at")?,
    })
}

pub(crate) const PROFILE_COLUMNS: &str = "id, account_id, name, created_at, time_zone";

pub(crate) fn profile_from(r: Cols<'_>) -> Result<Profile> {
    Ok(Profile {
        id: ProfileId(r.uuid("id")?),
        account_id: AccountId(r.uuid("account_id")?),
        name: r.text("name")?,
        created_at: r.ts("created_at")?,
        time_zone: r.opt_text("time_zone")?,
    })
}

pub(crate) const DEVICE_COLUMNS: &str =
    "id, profile_id, name, kind, state, use_count, damaged, created_at, updated_at, version";

pub(crate) fn device_from(r: Cols<'_>) -> Result<Device> {
    Ok(Device {
        id: DeviceId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        name: r.text("name")?,
        kind: r.decode("kind")?,
        state: r.decode("state")?,
        use_count: to_u32(r.int("use_count")?, "use count")?,
        damaged: r.bool("damaged")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
        version: to_u64(r.int("version")?, "device version")?,
    })
}

pub(crate) const SESSION_COLUMNS: &str = "id, profile_id, device_id, started_at, ended_at, local_date, \
                                          needle_length_mm, notes, setting, readiness_check_id";

/// A profile's sessions, newest first.
pub(crate) static NEWEST_SESSIONS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = ?1
         ORDER BY started_at DESC, id DESC"
    )
});

/// A session without its zones and products (see [`fill_sessions`]).
pub(crate) fn session_from(r: Cols<'_>) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        device_id: r.opt_uuid("device_id")?.map(DeviceId),
        started_at: r.ts("started_at")?,
        ended_at: r.ts("ended_at")?,
        local_date: r.date("local_date")?,
        needle_length_mm: r.real("needle_length_mm")?,
        zones: Vec::new(),
        products: Vec::new(),
        notes: r.text("notes")?,
        setting: r.parse("setting", "session setting")?,
        readiness_check_id: r.opt_uuid("readiness_check_id")?.map(ReadinessCheckId),
    })
}

pub(crate) const EPISODE_COLUMNS: &str =
    "id, profile_id, checkin_id, level, opened_at, resolved_at, resolution, resolver";

pub(crate) fn episode_from(r: Cols<'_>) -> Result<Episode> {
    Ok(Episode {
        id: EpisodeId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        checkin_id: CheckinId(r.uuid("checkin_id")?),
        level: r.parse("level", "triage level")?,
        opened_at: r.ts("opened_at")?,
        resolved_at: r.opt_ts("resolved_at")?,
        resolution: r.text("resolution")?,
        resolver: codec::decode_resolver(r.opt_json("resolver")?)?,
    })
}

pub(crate) const CHECKIN_COLUMNS: &str = "id, profile_id, session_id, at, answers, level, rule_ids";

pub(crate) fn checkin_from(r: Cols<'_>) -> Result<CheckinRecord> {
    Ok(CheckinRecord {
        id: CheckinId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        session_id: r.opt_uuid("session_id")?.map(SessionId),
        at: r.ts("at")?,
        answers: codec::checkin_answers(&r.json("answers")?)?,
        level: r.parse("level", "triage level")?,
        rule_ids: codec::rule_ids(r.json("rule_ids")?)?,
    })
}

pub(crate) const SCREENING_COLUMNS: &str = "id, profile_id, taken_at, verdict, answers, result";

pub(crate) fn screening_from(r: Cols<'_>) -> Result<ScreeningRecord> {
    Ok(ScreeningRecord {
        id: ScreeningId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        taken_at: r.ts("taken_at")?,
        verdict: r.parse("verdict", "verdict")?,
        answers: codec::screening_answers(&r.json("answers")?)?,
        result: codec::decode_screening_result(r.json("result")?)?,
    })
}

const READINESS_CHECK_COLUMNS: &str = "id, profile_id, device_id, at, answers, go, rule_ids";

fn readiness_check_from(r: Cols<'_>) -> Result<ReadinessCheckRecord> {
    Ok(ReadinessCheckRecord {
        id: ReadinessCheckId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        device_id: r.opt_uuid("device_id")?.map(DeviceId),
        at: r.ts("at")?,
        answers: codec::readiness_answers(&r.json("answers")?)?,
        go: r.bool("go")?,
        rule_ids: codec::rule_ids(r.json("rule_ids")?)?,
    })
}

const RATING_COLUMNS: &str = "id, profile_id, zone, concern, score, rated_at, note";

fn rating_from(r: Cols<'_>) -> Result<Rating> {
    Ok(Rating {
        id: RatingId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        zone: r.parse("zone", "zone")?,
        concern: r.parse("concern", "concern")?,
        score: codec::parse(&r.int("score")?.to_string(), "score")?,
        rated_at: r.ts("rated_at")?,
        note: r.text("note")?,
    })
}

pub(crate) const PHOTO_COLUMNS: &str =
    "id, profile_id, taken_at, zone, width, height, bytes, sha256, content_type, stored_name";

pub(crate) fn photo_from(r: Cols<'_>) -> Result<Photo> {
    Ok(Photo {
        id: PhotoId(r.uuid("id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        taken_at: r.ts("taken_at")?,
        zone: r.opt_parse("zone", "zone")?,
        width: to_u32(r.int("width")?, "photo width")?,
        height: to_u32(r.int("height")?, "photo height")?,
        bytes: to_u64(r.int("bytes")?, "photo size")?,
        sha256: r.text("sha256")?,
        content_type: r.text("content_type")?,
        stored_name: r.text("stored_name")?,
    })
}

/// The newest protocol from a clinic the profile is still the patient of.
pub(crate) const ACTIVE_PROTOCOL: &str = "SELECT protocols.body FROM protocols
     JOIN clinic_patients ON clinic_patients.clinic_id = protocols.clinic_id
         AND clinic_patients.profile_id = protocols.profile_id
     WHERE protocols.profile_id = ?1
     ORDER BY protocols.prescribed_at DESC, protocols.id DESC LIMIT 1";

/// The home page's facts about the profile `p`, as columns named
/// `latest_verdict`, `last_session_ended`, `last_session_needle`, `locked`,
/// `latest_checkin_level` and `protocol`. All but the protocol are kept on
/// the profile's row by triggers (SQLite's migrations 6 and 7,
/// PostgreSQL's 6 to 8).
static FACTS_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "p.latest_verdict AS latest_verdict, p.last_session_ended AS last_session_ended,
         p.last_session_needle_mm AS last_session_needle, p.open_episodes > 0 AS locked,
         p.latest_checkin_level AS latest_checkin_level, ({}) AS protocol",
        ACTIVE_PROTOCOL.replace("?1", "p.id")
    )
});

/// A [`Dashboard`] without its devices, from [`facts_columns`].
fn facts_from(r: Cols<'_>) -> Result<Dashboard> {
    let last_session = match (
        r.opt_ts("last_session_ended")?,
        r.opt_real("last_session_needle")?,
    ) {
        (Some(ended_at), Some(needle_length_mm)) => Some(LastSession {
            ended_at,
            needle_length_mm,
        }),
        _ => None,
    };
    Ok(Dashboard {
        verdict: r.opt_parse("latest_verdict", "verdict")?,
        last_session,
        locked: r.bool("locked")?,
        devices: Vec::new(),
        latest_checkin: r.opt_parse("latest_checkin_level", "check-in level")?,
        protocol: r.opt_decode("protocol")?,
    })
}

/// A profile's devices, oldest first.
fn devices_of(tx: &mut dyn Tx, profile: ProfileId) -> Result<Vec<Device>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = ?1 ORDER BY created_at, id"
        )
    });
    tx.all(&SQL, args![profile], device_from)
}

/// The home page's facts about a profile (see [`Store::dashboard`]); an
/// unknown profile has none.
fn dashboard_of(tx: &mut dyn Tx, profile: ProfileId) -> Result<Dashboard> {
    let sql = sql!(
        "SELECT {} FROM profiles AS p WHERE p.id = ?1",
        *FACTS_COLUMNS
    );
    let mut dashboard = tx
        .first(sql, args![profile], facts_from)?
        .unwrap_or_default();
    dashboard.devices = devices_of(tx, profile)?;
    Ok(dashboard)
}

/// The home page's read (see [`Store::session_dashboard`]) in one
/// statement: the session, its account's profiles, each with its facts,
/// and each with its devices (a row per device, or one row with the device
/// NULL). A household has few profiles and devices; the other profiles'
/// devices are read and dropped, which costs less than a second statement.
fn session_dashboard_of(
    tx: &mut dyn Tx,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<SessionDashboard>> {
    let sql = sql!(
        "SELECT {session}, {profile}, {facts}, {device} FROM web_sessions AS ws
         JOIN profiles AS p ON p.account_id = ws.account_id
         LEFT JOIN devices AS d ON d.profile_id = p.id
         WHERE ws.token_hash = ?1 AND ws.expires_at > ?2",
        session = qualified(WEB_SESSION_COLUMNS, "ws"),
        profile = aliased(PROFILE_COLUMNS, "p", "p_"),
        facts = *FACTS_COLUMNS,
        device = aliased(DEVICE_COLUMNS, "d", "d_"),
    );
    let rows = tx.query(sql, args![token_hash, now])?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let session = web_session_from(first.cols())?;
    let mut found: Vec<(Profile, Dashboard)> = Vec::new();
    for row in &rows {
        let id = ProfileId(row.prefixed("p_").uuid("id")?);
        let at = match found.iter().position(|(p, _)| p.id == id) {
            Some(at) => at,
            None => {
                found.push((profile_from(row.prefixed("p_"))?, facts_from(row.cols())?));
                found.len() - 1
            }
        };
        let device = row.prefixed("d_");
        if !device.is_null("id")? {
            found[at].1.devices.push(device_from(device)?);
        }
    }
    // Ordered here, as the other reads order them in SQL.
    found.sort_by_key(|(p, _)| (p.created_at, p.id));
    let profiles: Vec<Profile> = found.iter().map(|(p, _)| p.clone()).collect();
    let Some(profile) = working_profile(&session, &profiles).cloned() else {
        return Ok(None);
    };
    let Some(at) = found.iter().position(|(p, _)| p.id == profile.id) else {
        return Ok(None);
    };
    let (_, mut dashboard) = found.swap_remove(at);
    dashboard.devices.sort_by_key(|d| (d.created_at, d.id));
    Ok(Some(SessionDashboard {
        session,
        profiles,
        profile,
        dashboard,
    }))
}

/// A session by its token's hash, if it has not expired at `now`.
pub(crate) fn live_web_session(
    tx: &mut dyn Tx,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<WebSession>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions WHERE token_hash = ?1 AND expires_at > ?2"
        )
    });
    tx.first(&SQL, args![token_hash, now], web_session_from)
}

/// A session by its token's hash, if it has not expired at `now`, with its
/// account's profiles, oldest first. One statement, not two: every signed-in
/// page starts here. The session's columns repeat on each profile's row,
/// and an account without profiles gives one row with the profile NULL.
fn live_session_with_profiles(
    tx: &mut dyn Tx,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(WebSession, Vec<Profile>)>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {}, {} FROM web_sessions AS ws
             LEFT JOIN profiles AS p ON p.account_id = ws.account_id
             WHERE ws.token_hash = ?1 AND ws.expires_at > ?2
             ORDER BY p.created_at, p.id",
            qualified(WEB_SESSION_COLUMNS, "ws"),
            aliased(PROFILE_COLUMNS, "p", "p_")
        )
    });
    let rows = tx.query(&SQL, args![token_hash, now])?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let session = web_session_from(first.cols())?;
    let mut profiles = Vec::new();
    for row in &rows {
        let p = row.prefixed("p_");
        if !p.is_null("id")? {
            profiles.push(profile_from(p)?);
        }
    }
    Ok(Some((session, profiles)))
}

/// An account's profiles, oldest first.
pub(crate) fn account_profiles(tx: &mut dyn Tx, account: AccountId) -> Result<Vec<Profile>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = ?1 ORDER BY created_at, id"
        )
    });
    tx.all(&SQL, args![account], profile_from)
}

/// Updates a device from `next.version - 1` to `next` and logs the event.
fn store_device_change(tx: &mut dyn Tx, next: &Device, event: &HygieneEvent) -> Result<()> {
    let version = to_i64(next.version, "device version")?;
    let changed = tx.execute(
        "UPDATE devices SET name = ?3, kind = ?4, state = ?5, use_count = ?6, damaged = ?7, updated_at = ?8, version = ?9
         WHERE profile_id = ?1 AND id = ?2 AND version = ?10",
        &[
            next.profile_id.into(),
            next.id.into(),
            (&next.name).into(),
            json(&next.kind)?,
            json(&next.state)?,
            next.use_count.into(),
            next.damaged.into(),
            next.updated_at.into(),
            version.into(),
            codec::previous_version(next.version)?.into(),
        ],
    )?;
    if changed == 0 {
        let stored = tx.first(
            "SELECT version FROM devices WHERE profile_id = ?1 AND id = ?2",
            args![next.profile_id, next.id],
            |r| r.int("version"),
        )?;
        return Err(match stored {
            None => StoreError::not_found(format!("device {}", next.id)),
            Some(v) => StoreError::conflict(format!(
                "device {} was changed by someone else (it is at version {v}, this change expected version {}); reload it and try again",
                next.id,
                next.version.saturating_sub(1)
            )),
        });
    }
    tx.insert(
        "INSERT INTO hygiene_events (profile_id, device_id, seq, at, event, state_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            next.profile_id.into(),
            next.id.into(),
            version.into(),
            next.updated_at.into(),
            json(event)?,
            next.state.name().into(),
        ],
        || format!("device {} already has an event at version {}", next.id, next.version),
        || format!("device {}", next.id),
    )
}

/// Stores a check-in (a taken id is a conflict, a missing profile or
/// session not found).
fn insert_checkin(tx: &mut dyn Tx, c: &CheckinRecord) -> Result<()> {
    tx.insert(
        "INSERT INTO checkins (profile_id, id, session_id, at, answers, level, rule_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            c.profile_id.into(),
            c.id.into(),
            c.session_id.into(),
            c.at.into(),
            c.answers.to_json().into(),
            c.level.id().into(),
            json(&c.rule_ids)?,
        ],
        || format!("check-in {} already exists", c.id),
        || match c.session_id {
            Some(s) => format!("profile {} or its session {s}", c.profile_id),
            None => format!("profile {}", c.profile_id),
        },
    )
}

fn insert_product(
    tx: &mut dyn Tx,
    profile: ProfileId,
    session: SessionId,
    position: i64,
    product: &ProductUse,
) -> Result<()> {
    tx.insert(
        "INSERT INTO session_products (profile_id, session_id, position, name, category, applied_at, allowed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            profile,
            session,
            position,
            &product.name,
            &product.category,
            product.applied_at,
            product.allowed,
        ],
        || format!("product {position} of session {session}"),
        || format!("session {session}"),
    )
}

/// Loads the zones and products of `sessions` (all of one profile; only
/// session `only`'s, if given).
pub(crate) fn fill_sessions(
    tx: &mut dyn Tx,
    profile: ProfileId,
    sessions: &mut [SessionRecord],
    only: Option<SessionId>,
) -> Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let index: HashMap<SessionId, usize> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i))
        .collect();
    let (zones_sql, products_sql, args) = match only {
        Some(id) => (
            sql!(
                "SELECT session_id, zone, seconds, strokes, skipped FROM session_zones
                 WHERE profile_id = ?1 AND session_id = ?2 ORDER BY session_id, position"
            ),
            sql!(
                "SELECT session_id, name, category, applied_at, allowed FROM session_products
                 WHERE profile_id = ?1 AND session_id = ?2 ORDER BY session_id, position"
            ),
            vec![profile.into(), id.into()],
        ),
        None => (
            sql!(
                "SELECT session_id, zone, seconds, strokes, skipped FROM session_zones
                 WHERE profile_id = ?1 ORDER BY session_id, position"
            ),
            sql!(
                "SELECT session_id, name, category, applied_at, allowed FROM session_products
                 WHERE profile_id = ?1 ORDER BY session_id, position"
            ),
            vec![profile.into()],
        ),
    };
    let zones = tx.all(zones_sql, &args, |r| {
        let zone = ZoneRecord {
            zone: r.parse("zone", "zone")?,
            seconds: to_u32(r.int("seconds")?, "zone seconds")?,
            strokes: r
                .opt_int("strokes")?
                .map(|n| to_u32(n, "zone strokes"))
                .transpose()?,
            skipped: r.bool("skipped")?,
        };
        Ok((SessionId(r.uuid("session_id")?), zone))
    })?;
    for (session, zone) in zones {
        if let Some(&i) = index.get(&session) {
            sessions[i].zones.push(zone);
        }
    }
    let products = tx.all(products_sql, &args, |r| {
        let product = ProductUse {
            name: r.text("name")?,
            category: r.text("category")?,
            applied_at: r.ts("applied_at")?,
            allowed: r.bool("allowed")?,
        };
        Ok((SessionId(r.uuid("session_id")?), product))
    })?;
    for (session, product) in products {
        if let Some(&i) = index.get(&session) {
            sessions[i].products.push(product);
        }
    }
    Ok(())
}

/// A profile's sessions from `sql` (a select of [`SESSION_COLUMNS`] by
/// profile `?1`), filled.
pub(crate) fn sessions_of(
    tx: &mut dyn Tx,
    profile: ProfileId,
    sql: &str,
) -> Result<Vec<SessionRecord>> {
    let mut sessions = tx.all(sql, args![profile], session_from)?;
    let only = (sessions.len() == 1).then(|| sessions[0].id);
    fill_sessions(tx, profile, &mut sessions, only)?;
    Ok(sessions)
}

/// A profile's newest screening.
pub(crate) fn latest_screening_of(
    tx: &mut dyn Tx,
    profile: ProfileId,
) -> Result<Option<ScreeningRecord>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {SCREENING_COLUMNS} FROM screenings
             WHERE profile_id = ?1 ORDER BY taken_at DESC, id DESC LIMIT 1"
        )
    });
    tx.first(&SQL, args![profile], screening_from)
}

/// Deletes one row by its key; [`StoreError::NotFound`] (`what`) if there
/// was none.
fn delete_one(
    tx: &mut dyn Tx,
    sql: &str,
    args: &[Value],
    what: impl FnOnce() -> String,
) -> Result<()> {
    if tx.execute(sql, args)? == 0 {
        return Err(StoreError::not_found(what()));
    }
    Ok(())
}

impl<B: Backend> Store for B {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn reads_in_place(&self) -> bool {
        Backend::reads_in_place(self)
    }

    fn create_account(&self, account: &Account) -> Result<()> {
        let email = codec::check_account(account)?;
        self.write(|tx| {
            tx.insert(
                "INSERT INTO accounts (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                args![account.id, &email, &account.password_hash, account.created_at],
                || {
                    format!(
                        "an account with this email (or with id {}) already exists",
                        account.id
                    )
                },
                || "account".to_owned(),
            )
        })
    }

    fn account(&self, id: AccountId) -> Result<Option<Account>> {
        let sql = sql!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1");
        self.read_one(|tx| tx.first(sql, args![id], account_from))
    }

    fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let sql = sql!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = ?1");
        self.read_one(|tx| tx.first(sql, args![codec::email_key(email)], account_from))
    }

    fn delete_account(&self, id: AccountId) -> Result<()> {
        codec::check_deletable(id)?;
        self.write(|tx| {
            // The audit log has no foreign key on PostgreSQL (see
            // 0002_clinic.sql): its lines go first, by hand.
            tx.execute(
                "DELETE FROM audit_log WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = ?1)",
                args![id],
            )?;
            // Cascades to its profiles (and on to all their data) and to its
            // web sessions.
            delete_one(tx, "DELETE FROM accounts WHERE id = ?1", args![id], || {
                format!("account {id}")
            })
        })?;
        self.after_erase()
    }

    fn create_web_session(&self, session: &WebSession) -> Result<()> {
        codec::check_web_session(session)?;
        self.write(|tx| {
            if let Some(p) = session.profile_id {
                let owned = tx.exists(
                    "SELECT 1 FROM profiles WHERE id = ?1 AND account_id = ?2",
                    args![p, session.account_id],
                )?;
                if !owned {
                    return Err(StoreError::not_found(format!(
                        "profile {p} of account {}",
                        session.account_id
                    )));
                }
            }
            tx.insert(
                "INSERT INTO web_sessions (token_hash, account_id, csrf_token, profile_id, created_at, expires_at, verified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![
                    &session.token_hash,
                    session.account_id,
                    &session.csrf_token,
                    session.profile_id,
                    session.created_at,
                    session.expires_at,
                    session.verified_at,
                ],
                || "a web session with this token already exists".to_owned(),
                || format!("account {}", session.account_id),
            )
        })
    }

    fn web_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<WebSession>> {
        self.read_one(|tx| live_web_session(tx, token_hash, now))
    }

    fn web_session_with_profiles(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(WebSession, Vec<Profile>)>> {
        self.read_one(|tx| live_session_with_profiles(tx, token_hash, now))
    }

    fn clinic_web_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<crate::ClinicWebSession>> {
        self.read_one(|tx| crate::clinic_impl::clinic_web_session(tx, token_hash, now))
    }

    fn set_web_session_profile(&self, token_hash: &str, profile: ProfileId) -> Result<()> {
        self.write(|tx| {
            delete_one(
                tx,
                "UPDATE web_sessions SET profile_id = ?2
                 WHERE token_hash = ?1 AND EXISTS (
                     SELECT 1 FROM profiles
                     WHERE profiles.id = ?2 AND profiles.account_id = web_sessions.account_id)",
                args![token_hash, profile],
                || format!("web session, or profile {profile} in its account"),
            )
        })
    }

    fn delete_web_session(&self, token_hash: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM web_sessions WHERE token_hash = ?1",
                args![token_hash],
            )?;
            Ok(())
        })
    }

    fn delete_web_sessions_of(&self, account: AccountId) -> Result<u64> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM web_sessions WHERE account_id = ?1",
                args![account],
            )
        })
    }

    fn change_password(&self, account: AccountId, password_hash: &str, keep: &str) -> Result<()> {
        if password_hash.is_empty() {
            return Err(StoreError::invalid("a password hash cannot be empty"));
        }
        if account == AccountId::LOCAL {
            return Err(StoreError::not_found("the local account has no password"));
        }
        self.write(|tx| {
            delete_one(
                tx,
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                args![account, password_hash],
                || format!("account {account}"),
            )?;
            tx.execute(
                "DELETE FROM web_sessions WHERE account_id = ?1 AND token_hash <> ?2",
                args![account, keep],
            )?;
            Ok(())
        })
    }

    fn purge_expired_web_sessions(&self, now: Timestamp) -> Result<u64> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM web_sessions WHERE expires_at <= ?1",
                args![now],
            )
        })
    }

    fn create_profile(&self, profile: &Profile) -> Result<()> {
        self.write(|tx| {
            tx.insert(
                "INSERT INTO profiles (id, account_id, name, created_at, time_zone) VALUES (?1, ?2, ?3, ?4, ?5)",
                args![
                    profile.id,
                    profile.account_id,
                    &profile.name,
                    profile.created_at,
                    &profile.time_zone,
                ],
                || {
                    format!(
                        "a profile named {:?} (or with id {}) already exists",
                        profile.name, profile.id
                    )
                },
                || format!("account {}", profile.account_id),
            )
        })
    }

    fn profiles(&self, account: AccountId) -> Result<Vec<Profile>> {
        self.read_one(|tx| account_profiles(tx, account))
    }

    fn profile(&self, id: ProfileId) -> Result<Option<Profile>> {
        let sql = sql!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = ?1");
        self.read_one(|tx| tx.first(sql, args![id], profile_from))
    }

    fn profile_by_name(&self, account: AccountId, name: &str) -> Result<Option<Profile>> {
        let sql =
            format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = ?1 AND name = ?2");
        self.read_one(|tx| tx.first(&sql, args![account, name], profile_from))
    }

    fn set_profile_time_zone(&self, profile: ProfileId, time_zone: Option<&str>) -> Result<()> {
        if time_zone.is_some_and(|t| t.trim().is_empty()) {
            return Err(StoreError::invalid("a time zone needs a name"));
        }
        self.write(|tx| {
            delete_one(
                tx,
                "UPDATE profiles SET time_zone = ?2 WHERE id = ?1",
                args![profile, time_zone],
                || format!("profile {profile}"),
            )
        })
    }

    fn delete_profile(&self, id: ProfileId) -> Result<()> {
        self.write(|tx| {
            // The audit log has no foreign key on PostgreSQL.
            tx.execute("DELETE FROM audit_log WHERE profile_id = ?1", args![id])?;
            delete_one(tx, "DELETE FROM profiles WHERE id = ?1", args![id], || {
                format!("profile {id}")
            })
        })?;
        self.after_erase()
    }

    fn set_calendar_token(
        &self,
        profile: ProfileId,
        token_hash: &str,
        at: Timestamp,
    ) -> Result<()> {
        codec::check_calendar_token_hash(token_hash)?;
        self.write(|tx| {
            tx.insert(
                "INSERT INTO calendar_tokens (profile_id, token_hash, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (profile_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
                args![profile, token_hash, at],
                || "this calendar token is taken".to_owned(),
                || format!("profile {profile}"),
            )
        })
    }

    fn profile_by_calendar_token(&self, token_hash: &str) -> Result<Option<Profile>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM profiles JOIN calendar_tokens ON calendar_tokens.profile_id = profiles.id
                 WHERE calendar_tokens.token_hash = ?1",
                qualified(PROFILE_COLUMNS, "profiles")
            )
        });
        self.read_one(|tx| tx.first(&SQL, args![token_hash], profile_from))
    }

    fn calendar_token_created(&self, profile: ProfileId) -> Result<Option<Timestamp>> {
        self.read_one(|tx| {
            tx.first(
                "SELECT created_at FROM calendar_tokens WHERE profile_id = ?1",
                args![profile],
                |r| r.ts("created_at"),
            )
        })
    }

    fn delete_calendar_token(&self, profile: ProfileId) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM calendar_tokens WHERE profile_id = ?1",
                args![profile],
            )?;
            Ok(())
        })
    }

    fn save_screening(&self, s: &ScreeningRecord) -> Result<()> {
        let result = codec::encode_screening_result(&s.result)?;
        self.write(|tx| {
            tx.insert(
                "INSERT INTO screenings (profile_id, id, taken_at, verdict, answers, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![
                    s.profile_id,
                    s.id,
                    s.taken_at,
                    s.verdict.id(),
                    s.answers.to_json(),
                    result.clone(),
                ],
                || format!("screening {} already exists", s.id),
                || format!("profile {}", s.profile_id),
            )
        })
    }

    fn latest_screening(&self, profile: ProfileId) -> Result<Option<ScreeningRecord>> {
        self.read_one(|tx| latest_screening_of(tx, profile))
    }

    fn add_device(&self, d: &Device) -> Result<()> {
        let version = to_i64(d.version, "device version")?;
        self.write(|tx| {
            tx.insert(
                "INSERT INTO devices (profile_id, id, name, kind, state, use_count, damaged, created_at, updated_at, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                &[
                    d.profile_id.into(),
                    d.id.into(),
                    (&d.name).into(),
                    json(&d.kind)?,
                    json(&d.state)?,
                    d.use_count.into(),
                    d.damaged.into(),
                    d.created_at.into(),
                    d.updated_at.into(),
                    version.into(),
                ],
                || format!("device {} already exists", d.id),
                || format!("profile {}", d.profile_id),
            )
        })
    }

    fn device(&self, profile: ProfileId, id: DeviceId) -> Result<Option<Device>> {
        let sql = sql!("SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = ?1 AND id = ?2");
        self.read_one(|tx| tx.first(sql, args![profile, id], device_from))
    }

    fn devices(&self, profile: ProfileId) -> Result<Vec<Device>> {
        self.read_one(|tx| devices_of(tx, profile))
    }

    fn record_hygiene(&self, next: &Device, event: &HygieneEvent) -> Result<()> {
        self.write(|tx| store_device_change(tx, next, event))
    }

    fn hygiene_log(&self, profile: ProfileId, device: DeviceId) -> Result<Vec<HygieneLogEntry>> {
        self.read_one(|tx| {
            tx.all(
                "SELECT at, event, state_after FROM hygiene_events
                 WHERE profile_id = ?1 AND device_id = ?2 ORDER BY seq",
                args![profile, device],
                |r| {
                    Ok(HygieneLogEntry {
                        at: r.ts("at")?,
                        event: r.decode("event")?,
                        state_after: r.text("state_after")?,
                    })
                },
            )
        })
    }

    fn save_readiness_check(&self, c: &ReadinessCheckRecord) -> Result<()> {
        self.write(|tx| {
            tx.insert(
                "INSERT INTO readiness_checks (profile_id, id, device_id, at, answers, go, rule_ids)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[
                    c.profile_id.into(),
                    c.id.into(),
                    c.device_id.into(),
                    c.at.into(),
                    c.answers.to_json().into(),
                    c.go.into(),
                    json(&c.rule_ids)?,
                ],
                || format!("readiness check {} already exists", c.id),
                || match c.device_id {
                    Some(d) => format!("profile {} or its device {d}", c.profile_id),
                    None => format!("profile {}", c.profile_id),
                },
            )
        })
    }

    fn readiness_checks(&self, profile: ProfileId) -> Result<Vec<ReadinessCheckRecord>> {
        let sql = sql!(
            "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks WHERE profile_id = ?1
             ORDER BY at DESC, id DESC"
        );
        self.read_one(|tx| tx.all(sql, args![profile], readiness_check_from))
    }

    fn readiness_check(
        &self,
        profile: ProfileId,
        id: ReadinessCheckId,
    ) -> Result<Option<ReadinessCheckRecord>> {
        let sql = sql!(
            "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks WHERE profile_id = ?1 AND id = ?2"
        );
        self.read_one(|tx| tx.first(sql, args![profile, id], readiness_check_from))
    }

    fn latest_readiness_check(
        &self,
        profile: ProfileId,
        device: DeviceId,
        at: Timestamp,
    ) -> Result<Option<ReadinessCheckRecord>> {
        let sql = sql!(
            "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks
             WHERE profile_id = ?1 AND device_id = ?2 AND at <= ?3
             ORDER BY at DESC, id DESC LIMIT 1"
        );
        self.read_one(|tx| tx.first(sql, args![profile, device, at], readiness_check_from))
    }

    fn log_session(&self, s: &SessionRecord, device: Option<&Device>) -> Result<()> {
        if let Some(d) = device {
            check_session_device(s, d)?;
        }
        self.write(|tx| {
            if let Some(d) = device {
                store_device_change(tx, d, &HygieneEvent::Use)?;
            }
            if let Some(check) = s.readiness_check_id {
                let known = tx.exists(
                    "SELECT 1 FROM readiness_checks WHERE profile_id = ?1 AND id = ?2",
                    args![s.profile_id, check],
                )?;
                if !known {
                    return Err(StoreError::not_found(format!(
                        "readiness check {check} of profile {}",
                        s.profile_id
                    )));
                }
            }
            tx.insert(
                "INSERT INTO sessions (profile_id, id, device_id, started_at, ended_at, local_date, needle_length_mm, notes,
                                       setting, readiness_check_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                args![
                    s.profile_id,
                    s.id,
                    s.device_id,
                    s.started_at,
                    s.ended_at,
                    s.local_date,
                    s.needle_length_mm,
                    &s.notes,
                    s.setting.id(),
                    s.readiness_check_id,
                ],
                || format!("session {} already exists", s.id),
                || match s.device_id {
                    Some(d) => format!("profile {} or its device {d}", s.profile_id),
                    None => format!("profile {}", s.profile_id),
                },
            )?;
            for (position, z) in (0_i64..).zip(&s.zones) {
                tx.execute(
                    "INSERT INTO session_zones (profile_id, session_id, position, zone, seconds, strokes, skipped)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    args![
                        s.profile_id,
                        s.id,
                        position,
                        z.zone.id(),
                        z.seconds,
                        z.strokes,
                        z.skipped,
                    ],
                )?;
            }
            for (position, p) in (0_i64..).zip(&s.products) {
                insert_product(tx, s.profile_id, s.id, position, p)?;
            }
            Ok(())
        })
    }

    fn sessions(&self, profile: ProfileId) -> Result<Vec<SessionRecord>> {
        self.read(|tx| sessions_of(tx, profile, &NEWEST_SESSIONS))
    }

    fn session(&self, profile: ProfileId, id: SessionId) -> Result<Option<SessionRecord>> {
        self.read(|tx| {
            let sql =
                format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = ?1 AND id = ?2");
            let mut sessions = tx.all(&sql, args![profile, id], session_from)?;
            fill_sessions(tx, profile, &mut sessions, Some(id))?;
            Ok(sessions.pop())
        })
    }

    fn last_session(&self, profile: ProfileId) -> Result<Option<SessionRecord>> {
        self.read(|tx| {
            Ok(sessions_of(
                tx,
                profile,
                sql!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = ?1
                     ORDER BY ended_at DESC, id DESC LIMIT 1"
                ),
            )?
            .pop())
        })
    }

    fn dashboard(&self, profile: ProfileId) -> Result<Dashboard> {
        self.read(|tx| dashboard_of(tx, profile))
    }

    fn session_dashboard(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionDashboard>> {
        self.read_one(|tx| session_dashboard_of(tx, token_hash, now))
    }

    fn add_product_use(
        &self,
        profile: ProfileId,
        session: SessionId,
        product: &ProductUse,
    ) -> Result<()> {
        self.write(|tx| {
            let position = tx
                .first(
                    "SELECT COALESCE(MAX(position) + 1, 0) AS next FROM session_products
                     WHERE profile_id = ?1 AND session_id = ?2",
                    args![profile, session],
                    |r| r.int("next"),
                )?
                .unwrap_or(0);
            insert_product(tx, profile, session, position, product).map_err(|e| match e {
                StoreError::NotFound { .. } => StoreError::not_found(format!("session {session}")),
                other => other,
            })
        })
    }

    fn save_checkin(&self, c: &CheckinRecord, episode: Option<&Episode>) -> Result<()> {
        if let Some(e) = episode {
            check_checkin_episode(c, e)?;
        }
        let resolver = episode
            .and_then(|e| e.resolver.as_ref())
            .map(codec::encode_resolver)
            .transpose()?;
        self.write(|tx| {
            insert_checkin(tx, c)?;
            if let Some(e) = episode {
                tx.insert(
                    "INSERT INTO episodes (profile_id, id, checkin_id, level, opened_at, resolved_at, resolution, resolver)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    args![
                        e.profile_id,
                        e.id,
                        e.checkin_id,
                        e.level.id(),
                        e.opened_at,
                        e.resolved_at,
                        &e.resolution,
                        resolver.clone(),
                    ],
                    || format!("episode {} already exists", e.id),
                    || format!("check-in {}", c.id),
                )?;
            }
            Ok(())
        })
    }

    fn checkins(&self, profile: ProfileId) -> Result<Vec<CheckinRecord>> {
        let sql = sql!(
            "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE profile_id = ?1 ORDER BY at DESC, id DESC"
        );
        self.read_one(|tx| tx.all(sql, args![profile], checkin_from))
    }

    fn episodes(&self, profile: ProfileId) -> Result<Vec<Episode>> {
        let sql = sql!(
            "SELECT {EPISODE_COLUMNS} FROM episodes WHERE profile_id = ?1 ORDER BY opened_at DESC, id DESC"
        );
        self.read_one(|tx| tx.all(sql, args![profile], episode_from))
    }

    fn open_episodes(&self, profile: ProfileId) -> Result<Vec<Episode>> {
        let sql = sql!(
            "SELECT {EPISODE_COLUMNS} FROM episodes WHERE profile_id = ?1 AND resolved_at IS NULL
             ORDER BY opened_at DESC, id DESC"
        );
        self.read_one(|tx| tx.all(sql, args![profile], episode_from))
    }

    fn resolve_episode(
        &self,
        profile: ProfileId,
        id: EpisodeId,
        at: Timestamp,
        note: &str,
        resolver: &Resolver,
        checkin: Option<&CheckinRecord>,
    ) -> Result<()> {
        codec::check_resolution_checkin(profile, resolver, checkin)?;
        let resolver = codec::encode_resolver(resolver)?;
        self.write(|tx| {
            if let Some(c) = checkin {
                insert_checkin(tx, c)?;
            }
            delete_one(
                tx,
                "UPDATE episodes SET resolved_at = ?3, resolution = ?4, resolver = ?5
                 WHERE profile_id = ?1 AND id = ?2 AND resolved_at IS NULL",
                args![profile, id, at, note, resolver.clone()],
                || format!("open symptom episode {id}"),
            )
        })
    }

    fn add_rating(&self, r: &Rating) -> Result<()> {
        self.write(|tx| {
            tx.insert(
                "INSERT INTO ratings (profile_id, id, zone, concern, score, rated_at, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![
                    r.profile_id,
                    r.id,
                    r.zone.id(),
                    r.concern.id(),
                    r.score.value(),
                    r.rated_at,
                    &r.note,
                ],
                || format!("rating {} already exists", r.id),
                || format!("profile {}", r.profile_id),
            )
        })
    }

    fn ratings(&self, profile: ProfileId) -> Result<Vec<Rating>> {
        let sql = sql!(
            "SELECT {RATING_COLUMNS} FROM ratings WHERE profile_id = ?1 ORDER BY rated_at, id"
        );
        self.read_one(|tx| tx.all(sql, args![profile], rating_from))
    }

    fn delete_rating(&self, profile: ProfileId, id: RatingId) -> Result<()> {
        self.write(|tx| {
            delete_one(
                tx,
                "DELETE FROM ratings WHERE profile_id = ?1 AND id = ?2",
                args![profile, id],
                || format!("rating {id}"),
            )
        })
    }

    fn add_photo(&self, p: &Photo) -> Result<()> {
        codec::check_photo(p)?;
        let bytes = to_i64(p.bytes, "photo size")?;
        self.write(|tx| {
            tx.insert(
                "INSERT INTO photos (profile_id, id, taken_at, zone, width, height, bytes, sha256, content_type, stored_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                args![
                    p.profile_id,
                    p.id,
                    p.taken_at,
                    p.zone.map(|z| z.id()),
                    p.width,
                    p.height,
                    bytes,
                    &p.sha256,
                    &p.content_type,
                    &p.stored_name,
                ],
                || format!("photo {} already exists", p.id),
                || format!("profile {}", p.profile_id),
            )
        })
    }

    fn photos(&self, profile: ProfileId) -> Result<Vec<Photo>> {
        let sql =
            sql!("SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 ORDER BY taken_at, id");
        self.read_one(|tx| tx.all(sql, args![profile], photo_from))
    }

    fn photo(&self, profile: ProfileId, id: PhotoId) -> Result<Option<Photo>> {
        let sql = sql!("SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 AND id = ?2");
        self.read_one(|tx| tx.first(sql, args![profile, id], photo_from))
    }

    fn delete_photo(&self, profile: ProfileId, id: PhotoId) -> Result<()> {
        self.write(|tx| {
            delete_one(
                tx,
                "DELETE FROM photos WHERE profile_id = ?1 AND id = ?2",
                args![profile, id],
                || format!("photo {id}"),
            )
        })
    }

    fn snapshot_rows(&self, sink: &mut dyn FnMut(crate::SnapshotRow) -> Result<()>) -> Result<()> {
        crate::snapshot_impl::snapshot_rows(self, sink)
    }

    fn snapshot_row_count(&self) -> Result<u64> {
        crate::snapshot_impl::row_count(self)
    }

    fn restore_rows(
        &self,
        rows: &mut dyn Iterator<Item = Result<crate::SnapshotRow>>,
        mode: crate::RestoreMode,
    ) -> Result<u64> {
        crate::snapshot_impl::restore_rows(self, rows, mode)
    }

    fn counts(&self) -> Result<Counts> {
        self.read_one(|tx| {
            let row = tx
                .first(
                    "SELECT (SELECT count(*) FROM profiles) AS profiles,
                            (SELECT count(*) FROM screenings) AS screenings,
                            (SELECT count(*) FROM devices) AS devices,
                            (SELECT count(*) FROM hygiene_events) AS hygiene_events,
                            (SELECT count(*) FROM sessions) AS sessions,
                            (SELECT count(*) FROM checkins) AS checkins,
                            (SELECT count(*) FROM episodes) AS episodes,
                            (SELECT count(*) FROM accounts) AS accounts,
                            (SELECT count(*) FROM web_sessions) AS web_sessions",
                    &[],
                    |r| {
                        let n = |name: &str| to_u64(r.int(name)?, "row count");
                        Ok(Counts {
                            accounts: n("accounts")?,
                            web_sessions: n("web_sessions")?,
                            profiles: n("profiles")?,
                            screenings: n("screenings")?,
                            devices: n("devices")?,
                            hygiene_events: n("hygiene_events")?,
                            sessions: n("sessions")?,
                            checkins: n("checkins")?,
                            episodes: n("episodes")?,
                        })
                    },
                )?
                .unwrap_or_default();
            Ok(row)
        })
    }
}
