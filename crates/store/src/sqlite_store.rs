//! The embedded store: one SQLite file in WAL mode with durable commits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use jiff::Timestamp;
use needlewise_core::hygiene::{Device, HygieneEvent};
use needlewise_core::ids::{
    AccountId, DeviceId, EpisodeId, PhotoId, ProfileId, RatingId, ReadinessCheckId, SessionId,
};
use needlewise_core::progress::{Photo, Rating};
use needlewise_core::records::{
    Account, CheckinRecord, Episode, ProductUse, Profile, ReadinessCheckRecord, Resolver,
    ScreeningRecord, SessionRecord, ZoneRecord,
};
use needlewise_core::schedule::LastSession;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde_json::Value;

use crate::codec::{
    self, Applied, Migration, check_checkin_episode, check_session_device, from_micros, micros,
    parse, to_i64, to_u32, to_u64,
};
mod clinic;
mod snapshot;

use crate::{
    Counts, Dashboard, HygieneLogEntry, Result, SessionDashboard, Store, StoreError, WebSession,
    working_profile,
};

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "clinic",
        sql: include_str!("../migrations/sqlite/0002_clinic.sql"),
    },
    Migration {
        version: 3,
        name: "totp_pending_session",
        sql: include_str!("../migrations/sqlite/0003_totp_pending_session.sql"),
    },
    Migration {
        version: 4,
        name: "member_invites",
        sql: include_str!("../migrations/sqlite/0004_member_invites.sql"),
    },
    Migration {
        version: 5,
        name: "outbox_by_recipient",
        sql: include_str!("../migrations/sqlite/0005_outbox_by_recipient.sql"),
    },
    Migration {
        version: 6,
        name: "profile_facts",
        sql: include_str!("../migrations/sqlite/0006_profile_facts.sql"),
    },
    Migration {
        version: 7,
        name: "readiness_checks_resolvers",
        sql: include_str!("../migrations/sqlite/0007_readiness_checks_resolvers.sql"),
    },
];

/// How long a writer waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections beside the writer. WAL lets readers run while
/// the writer commits, so a busy web server does not queue every page
/// behind one connection.
const READERS: usize = 4;

/// A store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    /// The one writer (and the reader of an in-memory database).
    conn: Mutex<Connection>,
    /// Read-only connections to the same file; empty in memory.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date. Commits are durable: WAL with `synchronous=FULL`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!(
                    "cannot create the directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{} cannot use write-ahead logging (journal mode is {mode})",
                path.display()
            )));
        }
        let mut store = Self::setup(conn)?;
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
            reader.busy_timeout(BUSY_TIMEOUT)?;
            stable_plans(&reader)?;
            cache_pages(&reader)?;
            reader.set_prepared_statement_cache_capacity(64);
            store.readers.push(Mutex::new(reader));
        }
        Ok(store)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows are overwritten with zeros, not just unlinked: a
        // deleted person's data must not linger in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        stable_plans(&conn)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A free reader if there is one, else the next in turn (or the writer,
    /// in memory).
    fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.conn();
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            match self.readers[(start + i) % self.readers.len()].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back (the
        // transaction's Drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one write transaction, taking the write lock up front so
    /// two processes never deadlock upgrading a read lock.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f`, a single statement, on a reader without `BEGIN` and
    /// `COMMIT`: one statement is its own read transaction, consistent on
    /// its own.
    fn read_one<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.reader();
        if !conn.is_autocommit() {
            // As in `read`: a panic left a transaction open.
            conn.execute_batch("ROLLBACK")?;
        }
        f(&conn)
    }

    /// Runs `f` in one read transaction, so multi-query reads are
    /// consistent. `BEGIN` and `COMMIT` are cached statements: on the hot
    /// pages, parsing them anew for every read cost more than the reads.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.reader();
        if !conn.is_autocommit() {
            // Left open by a panic inside an earlier read (the lock was
            // poisoned and taken over): end it before starting afresh.
            conn.execute_batch("ROLLBACK")?;
        }
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        let value = f(&conn);
        // A read has nothing to keep, so its end is the same either way.
        conn.prepare_cached("COMMIT")?.execute([])?;
        value
    }
}

/// Each reader keeps up to [`READER_CACHE_KIB`] of pages (SQLite's default
/// is 2 MB). A clinic's patient list touches more pages than that, and
/// copying them in again from the file on every view cost about a tenth of
/// its time (perf: `_copy_to_iter`, `filemap_read`). A small database
/// never fills it. (A memory map did as well on average, but stalled now
/// and then when the file grew and the readers remapped it.)
fn cache_pages(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(())
}

/// How much each reader caches, in KiB.
const READER_CACHE_KIB: i64 = 32 * 1024;

/// Query plans that do not depend on the values bound to a statement.
/// Without this, SQLite marks a cached statement whose plan looked at a
/// bound value (every `WHERE profile_id = ? ORDER BY …` here) to be parsed
/// and planned again each time a new value is bound: half of the
/// dashboard's CPU went to that. Every query here is a key look-up whose
/// best plan is the same for any key.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let fail = |e: rusqlite::Error| StoreError::Migration(format!("sqlite: {e}"));
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            name       TEXT    NOT NULL,
            checksum   TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        ) STRICT;",
    )
    .map_err(fail)?;
    let applied = {
        let mut stmt = tx
            .prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
            .map_err(fail)?;
        stmt.query_map([], |r| {
            Ok(Applied {
                version: r.get(0)?,
                name: r.get(1)?,
                checksum: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(fail)?
    };
    for m in codec::pending(MIGRATIONS, &applied)? {
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Migration(format!("migration {} ({}) failed: {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, m.checksum(), micros(Timestamp::now())],
        )
        .map_err(fail)?;
    }
    tx.commit().map_err(fail)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Violation {
    Unique,
    ForeignKey,
}

fn violation(e: &rusqlite::Error) -> Option<Violation> {
    use rusqlite::ffi;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                Some(Violation::Unique)
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(Violation::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

/// Maps a failed insert: a taken key is a conflict, a missing parent (in
/// this profile) is not found.
fn insert_error(
    e: rusqlite::Error,
    duplicate: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> StoreError {
    match violation(&e) {
        Some(Violation::Unique) => StoreError::conflict(duplicate()),
        Some(Violation::ForeignKey) => StoreError::not_found(missing()),
        None => e.into(),
    }
}

fn id_text(id: uuid::Uuid) -> String {
    id.hyphenated().to_string()
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::invalid(format!("cannot encode as JSON: {e}")))
}

fn json_value(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::invalid(format!("stored {what} is not JSON: {e}")))
}

fn json_parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::invalid(format!("stored {what} does not parse: {e}")))
}

fn ts(row: &Row<'_>, idx: usize) -> Result<Timestamp> {
    from_micros(row.get(idx)?)
}

const ACCOUNT_COLUMNS: &str = "id, email, password_hash, created_at";

/// The local account has neither email nor password hash: both come back
/// empty.
fn account_from_row(row: &Row<'_>) -> Result<Account> {
    Ok(Account {
        id: parse(&row.get::<_, String>(0)?, "account id")?,
        email: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
        password_hash: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
        created_at: ts(row, 3)?,
    })
}

const WEB_SESSION_COLUMNS: &str =
    "token_hash, account_id, csrf_token, profile_id, created_at, expires_at, verified_at";

fn web_session_from_row(row: &Row<'_>) -> Result<WebSession> {
    Ok(WebSession {
        token_hash: row.get(0)?,
        account_id: parse(&row.get::<_, String>(1)?, "account id")?,
        csrf_token: row.get(2)?,
        profile_id: row
            .get::<_, Option<String>>(3)?
            .map(|s| parse(&s, "profile id"))
            .transpose()?,
        created_at: ts(row, 4)?,
        expires_at: ts(row, 5)?,
        verified_at: row.get::<_, Option<i64>>(6)?.map(from_micros).transpose()?,
    })
}

const PROFILE_COLUMNS: &str = "id, account_id, name, created_at, time_zone";

fn profile_from_row(row: &Row<'_>) -> Result<Profile> {
    profile_at(row, 0)
}

/// A profile from [`PROFILE_COLUMNS`] starting at column `at`.
fn profile_at(row: &Row<'_>, at: usize) -> Result<Profile> {
    Ok(Profile {
        id: parse(&row.get::<_, String>(at)?, "profile id")?,
        account_id: parse(&row.get::<_, String>(at + 1)?, "account id")?,
        name: row.get(at + 2)?,
        created_at: ts(row, at + 3)?,
        time_zone: row.get(at + 4)?,
    })
}

const DEVICE_COLUMNS: &str =
    "id, profile_id, name, kind, state, use_count, damaged, created_at, updated_at, version";

fn device_from_row(row: &Row<'_>) -> Result<Device> {
    device_at(row, 0)
}

/// A device from [`DEVICE_COLUMNS`] starting at column `at`.
fn device_at(row: &Row<'_>, at: usize) -> Result<Device> {
    Ok(Device {
        id: parse(&row.get::<_, String>(at)?, "device id")?,
        profile_id: parse(&row.get::<_, String>(at + 1)?, "profile id")?,
        name: row.get(at + 2)?,
        kind: json_parse(&row.get::<_, String>(at + 3)?, "device kind")?,
        state: json_parse(&row.get::<_, String>(at + 4)?, "device state")?,
        use_count: to_u32(row.get(at + 5)?, "use count")?,
        damaged: row.get(at + 6)?,
        created_at: ts(row, at + 7)?,
        updated_at: ts(row, at + 8)?,
        version: to_u64(row.get(at + 9)?, "device version")?,
    })
}

const SESSION_COLUMNS: &str = "id, profile_id, device_id, started_at, ended_at, local_date, needle_length_mm, notes, \
                               setting, readiness_check_id";

fn session_from_row(row: &Row<'_>) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: parse(&row.get::<_, String>(0)?, "session id")?,
        profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
        device_id: row
            .get::<_, Option<String>>(2)?
            .map(|s| parse(&s, "device id"))
            .transpose()?,
        started_at: ts(row, 3)?,
        ended_at: ts(row, 4)?,
        local_date: codec::parse_date(&row.get::<_, String>(5)?)?,
        needle_length_mm: row.get(6)?,
        zones: Vec::new(),
        products: Vec::new(),
        notes: row.get(7)?,
        setting: parse(&row.get::<_, String>(8)?, "session setting")?,
        readiness_check_id: row
            .get::<_, Option<String>>(9)?
            .map(|s| parse(&s, "readiness check id"))
            .transpose()?,
    })
}

const EPISODE_COLUMNS: &str =
    "id, profile_id, checkin_id, level, opened_at, resolved_at, resolution, resolver";

fn episode_from_row(row: &Row<'_>) -> Result<Episode> {
    Ok(Episode {
        id: parse(&row.get::<_, String>(0)?, "episode id")?,
        profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
        checkin_id: parse(&row.get::<_, String>(2)?, "check-in id")?,
        level: parse(&row.get::<_, String>(3)?, "triage level")?,
        opened_at: ts(row, 4)?,
        resolved_at: row.get::<_, Option<i64>>(5)?.map(from_micros).transpose()?,
        resolution: row.get(6)?,
        resolver: codec::decode_resolver(
            row.get::<_, Option<String>>(7)?
                .map(|t| json_value(&t, "resolver"))
                .transpose()?,
        )?,
    })
}

const READINESS_CHECK_COLUMNS: &str = "id, profile_id, device_id, at, answers, go, rule_ids";

fn readiness_check_from_row(row: &Row<'_>) -> Result<ReadinessCheckRecord> {
    Ok(ReadinessCheckRecord {
        id: parse(&row.get::<_, String>(0)?, "readiness check id")?,
        profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
        device_id: row
            .get::<_, Option<String>>(2)?
            .map(|s| parse(&s, "device id"))
            .transpose()?,
        at: ts(row, 3)?,
        answers: codec::readiness_answers(&json_value(
            &row.get::<_, String>(4)?,
            "readiness answers",
        )?)?,
        go: row.get(5)?,
        rule_ids: codec::rule_ids(json_value(&row.get::<_, String>(6)?, "rule ids")?)?,
    })
}

const RATING_COLUMNS: &str = "id, profile_id, zone, concern, score, rated_at, note";

fn rating_from_row(row: &Row<'_>) -> Result<Rating> {
    let score: i64 = row.get(4)?;
    Ok(Rating {
        id: parse(&row.get::<_, String>(0)?, "rating id")?,
        profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
        zone: parse(&row.get::<_, String>(2)?, "zone")?,
        concern: parse(&row.get::<_, String>(3)?, "concern")?,
        score: parse(&score.to_string(), "score")?,
        rated_at: ts(row, 5)?,
        note: row.get(6)?,
    })
}

const PHOTO_COLUMNS: &str =
    "id, profile_id, taken_at, zone, width, height, bytes, sha256, content_type, stored_name";

fn photo_from_row(row: &Row<'_>) -> Result<Photo> {
    Ok(Photo {
        id: parse(&row.get::<_, String>(0)?, "photo id")?,
        profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
        taken_at: ts(row, 2)?,
        zone: row
            .get::<_, Option<String>>(3)?
            .map(|z| parse(&z, "zone"))
            .transpose()?,
        width: to_u32(row.get(4)?, "photo width")?,
        height: to_u32(row.get(5)?, "photo height")?,
        bytes: to_u64(row.get(6)?, "photo size")?,
        sha256: row.get(7)?,
        content_type: row.get(8)?,
        stored_name: row.get(9)?,
    })
}

/// The newest protocol from a clinic the profile is still the patient of.
const ACTIVE_PROTOCOL: &str = "SELECT protocols.body FROM protocols
     JOIN clinic_patients ON clinic_patients.clinic_id = protocols.clinic_id
         AND clinic_patients.profile_id = protocols.profile_id
     WHERE protocols.profile_id = ?1
     ORDER BY protocols.prescribed_at DESC, protocols.id DESC LIMIT 1";

/// The home page's facts about the profile `p`, as columns: the latest
/// verdict, the last session's end and needle (the session that ended
/// last), the open red flags, the latest check-in's level (all kept on the
/// profile's row by the triggers of migrations 6 and 7) and the protocol
/// in force.
static FACTS_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let protocol = ACTIVE_PROTOCOL.replace("?1", "p.id");
    format!(
        "p.latest_verdict, p.last_session_ended, p.last_session_needle_mm, p.open_episodes > 0,
         p.latest_checkin_level, ({protocol})"
    )
});

/// A [`Dashboard`] without its devices, from [`FACTS_COLUMNS`] starting at
/// column `at`.
fn facts_at(row: &Row<'_>, at: usize) -> Result<Dashboard> {
    let ended: Option<i64> = row.get(at + 1)?;
    let needle: Option<f64> = row.get(at + 2)?;
    let last_session = match (ended, needle) {
        (Some(ended), Some(needle_length_mm)) => Some(LastSession {
            ended_at: from_micros(ended)?,
            needle_length_mm,
        }),
        _ => None,
    };
    Ok(Dashboard {
        verdict: row
            .get::<_, Option<String>>(at)?
            .map(|v| parse(&v, "verdict"))
            .transpose()?,
        last_session,
        locked: row.get(at + 3)?,
        devices: Vec::new(),
        latest_checkin: row
            .get::<_, Option<String>>(at + 4)?
            .map(|v| parse(&v, "check-in level"))
            .transpose()?,
        protocol: row
            .get::<_, Option<String>>(at + 5)?
            .map(|b| json_parse(&b, "protocol"))
            .transpose()?,
    })
}

/// A profile's devices, oldest first.
fn devices_of(tx: &Connection, profile: &str) -> Result<Vec<Device>> {
    static DEVICES: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = ?1 ORDER BY created_at, id"
        )
    });
    collect(tx, &DEVICES, [profile], device_from_row)
}

/// The home page's facts about a profile (see [`Store::dashboard`]); an
/// unknown profile has none.
fn dashboard_of(tx: &Connection, profile: ProfileId) -> Result<Dashboard> {
    let key = id_text(profile.0);
    static FACTS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM profiles AS p WHERE p.id = ?1",
            *FACTS_COLUMNS
        )
    });
    let mut dashboard = tx
        .prepare_cached(&FACTS)?
        .query_and_then([&key], |r| facts_at(r, 0))?
        .next()
        .transpose()?
        .unwrap_or_default();
    dashboard.devices = devices_of(tx, &key)?;
    Ok(dashboard)
}

/// The home page's read (see [`Store::session_dashboard`]) in one
/// statement, so one implicit read transaction without `BEGIN` and
/// `COMMIT`: the session, its account's profiles oldest first, each with
/// its facts, and each with its devices (a row per device, or one row with
/// the device NULL). A household has few profiles and devices; the other
/// profiles' devices are read and dropped, which costs less than a second
/// statement.
fn session_dashboard_of(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<SessionDashboard>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let session = qualified(WEB_SESSION_COLUMNS, "ws");
        let profile = qualified(PROFILE_COLUMNS, "p");
        let device = qualified(DEVICE_COLUMNS, "d");
        format!(
            "SELECT {session}, {profile}, {facts}, {device} FROM web_sessions AS ws
             JOIN profiles AS p ON p.account_id = ws.account_id
             LEFT JOIN devices AS d ON d.profile_id = p.id
             WHERE ws.token_hash = ?1 AND ws.expires_at > ?2",
            facts = *FACTS_COLUMNS
        )
    });
    const PROFILE_AT: usize = 7;
    const FACTS_AT: usize = PROFILE_AT + 5;
    const DEVICE_AT: usize = FACTS_AT + 6;
    let mut stmt = conn.prepare_cached(&SQL)?;
    let mut rows = stmt.query(params![token_hash, micros(now)])?;
    let mut session = None;
    let mut found: Vec<(Profile, Dashboard)> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    while let Some(row) = rows.next()? {
        if session.is_none() {
            session = Some(web_session_from_row(row)?);
        }
        let id = row
            .get_ref(PROFILE_AT)?
            .as_str()
            .map_err(rusqlite::Error::from)?;
        let at = match ids.iter().position(|seen| seen == id) {
            Some(at) => at,
            None => {
                ids.push(id.to_owned());
                found.push((profile_at(row, PROFILE_AT)?, facts_at(row, FACTS_AT)?));
                found.len() - 1
            }
        };
        if row.get_ref(DEVICE_AT)? != rusqlite::types::ValueRef::Null {
            found[at].1.devices.push(device_at(row, DEVICE_AT)?);
        }
    }
    drop(rows);
    drop(stmt);
    let Some(session) = session else {
        return Ok(None);
    };
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

/// `columns` ("a, b") each prefixed with `table` ("t.a, t.b"), for joins
/// where two tables share column names.
fn qualified(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A session by its token's hash, if it has not expired at `now`.
fn live_web_session(
    tx: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<WebSession>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions WHERE token_hash = ?1 AND expires_at > ?2"
        )
    });
    Ok(collect(
        tx,
        &SQL,
        params![token_hash, micros(now)],
        web_session_from_row,
    )?
    .pop())
}

/// A session by its token's hash, if it has not expired at `now`, with its
/// account's profiles, oldest first. One statement, not two: every signed-in
/// page starts here. The session's columns repeat on each profile's row,
/// and an account without profiles gives one row with the profile NULL.
fn live_session_with_profiles(
    tx: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(WebSession, Vec<Profile>)>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let session = qualified(WEB_SESSION_COLUMNS, "ws");
        let profile = qualified(PROFILE_COLUMNS, "p");
        format!(
            "SELECT {session}, {profile} FROM web_sessions AS ws
             LEFT JOIN profiles AS p ON p.account_id = ws.account_id
             WHERE ws.token_hash = ?1 AND ws.expires_at > ?2
             ORDER BY p.created_at, p.id"
        )
    });
    const PROFILE_AT: usize = 7;
    let mut stmt = tx.prepare_cached(&SQL)?;
    let mut rows = stmt.query(params![token_hash, micros(now)])?;
    let mut found: Option<(WebSession, Vec<Profile>)> = None;
    while let Some(row) = rows.next()? {
        let (_, profiles) = match &mut found {
            Some(found) => found,
            None => found.insert((web_session_from_row(row)?, Vec::new())),
        };
        if row.get_ref(PROFILE_AT)? != rusqlite::types::ValueRef::Null {
            profiles.push(profile_at(row, PROFILE_AT)?);
        }
    }
    Ok(found)
}

/// An account's profiles, oldest first.
fn account_profiles(tx: &Connection, account: AccountId) -> Result<Vec<Profile>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = ?1 ORDER BY created_at, id"
        )
    });
    collect(tx, &SQL, [id_text(account.0)], profile_from_row)
}

/// Collects the rows of a query, converting each.
fn collect<T>(
    tx: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    convert: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(convert(row)?);
    }
    Ok(out)
}

/// Updates a device from `next.version - 1` to `next` and logs the event.
fn store_device_change(tx: &Transaction<'_>, next: &Device, event: &HygieneEvent) -> Result<()> {
    let profile = id_text(next.profile_id.0);
    let device = id_text(next.id.0);
    let changed = tx
        .prepare_cached(
            "UPDATE devices SET name = ?3, kind = ?4, state = ?5, use_count = ?6, damaged = ?7, updated_at = ?8, version = ?9
             WHERE profile_id = ?1 AND id = ?2 AND version = ?10",
        )?
        .execute(params![
            profile,
            device,
            next.name,
            json_text(&next.kind)?,
            json_text(&next.state)?,
            i64::from(next.use_count),
            next.damaged,
            micros(next.updated_at),
            to_i64(next.version, "device version")?,
            codec::previous_version(next.version)?,
        ])?;
    if changed == 0 {
        let stored: Option<i64> = tx
            .prepare_cached("SELECT version FROM devices WHERE profile_id = ?1 AND id = ?2")?
            .query_row(params![profile, device], |r| r.get(0))
            .optional()?;
        return Err(match stored {
            None => StoreError::not_found(format!("device {}", next.id)),
            Some(v) => StoreError::conflict(format!(
                "device {} was changed by someone else (it is at version {v}, this change expected version {}); reload it and try again",
                next.id,
                next.version.saturating_sub(1)
            )),
        });
    }
    tx.prepare_cached(
        "INSERT INTO hygiene_events (profile_id, device_id, seq, at, event, state_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        profile,
        device,
        to_i64(next.version, "device version")?,
        micros(next.updated_at),
        json_text(event)?,
        next.state.name(),
    ])
    .map_err(|e| {
        insert_error(
            e,
            || format!("device {} already has an event at version {}", next.id, next.version),
            || format!("device {}", next.id),
        )
    })?;
    Ok(())
}

/// Stores a check-in (a taken id is a conflict, a missing profile or
/// session not found).
fn insert_checkin(tx: &Transaction<'_>, c: &CheckinRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO checkins (profile_id, id, session_id, at, answers, level, rule_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id_text(c.profile_id.0),
        id_text(c.id.0),
        c.session_id.map(|s| id_text(s.0)),
        micros(c.at),
        json_text(&c.answers.to_json())?,
        c.level.id(),
        json_text(&c.rule_ids)?,
    ])
    .map_err(|e| {
        insert_error(
            e,
            || format!("check-in {} already exists", c.id),
            || match c.session_id {
                Some(s) => format!("profile {} or its session {s}", c.profile_id),
                None => format!("profile {}", c.profile_id),
            },
        )
    })?;
    Ok(())
}

/// Resolves an open episode, recording the resolver (JSON text);
/// `NotFound` unless the profile has it open.
fn resolve_open_episode(
    tx: &Connection,
    profile: ProfileId,
    id: EpisodeId,
    at: Timestamp,
    note: &str,
    resolver: &str,
) -> Result<()> {
    let changed = tx
        .prepare_cached(
            "UPDATE episodes SET resolved_at = ?3, resolution = ?4, resolver = ?5
             WHERE profile_id = ?1 AND id = ?2 AND resolved_at IS NULL",
        )?
        .execute(params![
            id_text(profile.0),
            id_text(id.0),
            micros(at),
            note,
            resolver
        ])?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("open symptom episode {id}")));
    }
    Ok(())
}

fn insert_product(
    tx: &Transaction<'_>,
    profile: &str,
    session: &str,
    position: i64,
    product: &ProductUse,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO session_products (profile_id, session_id, position, name, category, applied_at, allowed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        profile,
        session,
        position,
        product.name,
        product.category,
        micros(product.applied_at),
        product.allowed,
    ])
    .map_err(|e| insert_error(e, || format!("product {position} of session {session}"), || format!("session {session}")))?;
    Ok(())
}

/// Loads the zones and products of `sessions` (all of one profile).
fn fill_sessions(
    tx: &Connection,
    profile: &str,
    sessions: &mut [SessionRecord],
    only: Option<&str>,
) -> Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let index: HashMap<SessionId, usize> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i))
        .collect();
    let zones = collect(
        tx,
        "SELECT session_id, zone, seconds, strokes, skipped FROM session_zones
         WHERE profile_id = ?1 AND (?2 IS NULL OR session_id = ?2) ORDER BY session_id, position",
        params![profile, only],
        |row| {
            let session: SessionId = parse(&row.get::<_, String>(0)?, "session id")?;
            let zone = ZoneRecord {
                zone: parse(&row.get::<_, String>(1)?, "zone")?,
                seconds: to_u32(row.get(2)?, "zone seconds")?,
                strokes: row
                    .get::<_, Option<i64>>(3)?
                    .map(|n| to_u32(n, "zone strokes"))
                    .transpose()?,
                skipped: row.get(4)?,
            };
            Ok((session, zone))
        },
    )?;
    for (session, zone) in zones {
        if let Some(&i) = index.get(&session) {
            sessions[i].zones.push(zone);
        }
    }
    let products = collect(
        tx,
        "SELECT session_id, name, category, applied_at, allowed FROM session_products
         WHERE profile_id = ?1 AND (?2 IS NULL OR session_id = ?2) ORDER BY session_id, position",
        params![profile, only],
        |row| {
            let session: SessionId = parse(&row.get::<_, String>(0)?, "session id")?;
            let product = ProductUse {
                name: row.get(1)?,
                category: row.get(2)?,
                applied_at: ts(row, 3)?,
                allowed: row.get(4)?,
            };
            Ok((session, product))
        },
    )?;
    for (session, product) in products {
        if let Some(&i) = index.get(&session) {
            sessions[i].products.push(product);
        }
    }
    Ok(())
}

/// A profile's newest screening.
fn latest_screening_of(tx: &Connection, profile: &str) -> Result<Option<ScreeningRecord>> {
    let rows = collect(
        tx,
        "SELECT id, profile_id, taken_at, verdict, answers, result FROM screenings
         WHERE profile_id = ?1 ORDER BY taken_at DESC, id DESC LIMIT 1",
        [profile],
        |row| {
            Ok(ScreeningRecord {
                id: parse(&row.get::<_, String>(0)?, "screening id")?,
                profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
                taken_at: ts(row, 2)?,
                verdict: parse(&row.get::<_, String>(3)?, "verdict")?,
                answers: codec::screening_answers(&json_value(
                    &row.get::<_, String>(4)?,
                    "screening answers",
                )?)?,
                result: codec::decode_screening_result(json_value(
                    &row.get::<_, String>(5)?,
                    "screening result",
                )?)?,
            })
        },
    )?;
    Ok(rows.into_iter().next())
}

fn checkin_from_row(row: &Row<'_>) -> Result<CheckinRecord> {
    Ok(CheckinRecord {
        id: parse(&row.get::<_, String>(0)?, "check-in id")?,
        profile_id: parse(&row.get::<_, String>(1)?, "profile id")?,
        session_id: row
            .get::<_, Option<String>>(2)?
            .map(|s| parse(&s, "session id"))
            .transpose()?,
        at: ts(row, 3)?,
        answers: codec::checkin_answers(&json_value(
            &row.get::<_, String>(4)?,
            "check-in answers",
        )?)?,
        level: parse(&row.get::<_, String>(5)?, "triage level")?,
        rule_ids: codec::rule_ids(json_value(&row.get::<_, String>(6)?, "rule ids")?)?,
    })
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn reads_in_place(&self) -> bool {
        // In memory there are no read-only connections: reads share the
        // writer's lock and could wait on a write.
        !self.readers.is_empty()
    }

    fn create_account(&self, account: &Account) -> Result<()> {
        let email = codec::check_account(account)?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO accounts (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                id_text(account.id.0),
                email,
                account.password_hash,
                micros(account.created_at)
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || {
                        format!(
                            "an account with this email (or with id {}) already exists",
                            account.id
                        )
                    },
                    || "account".to_owned(),
                )
            })?;
            Ok(())
        })
    }

    fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.read(|tx| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1");
            Ok(collect(tx, &sql, [id_text(id.0)], account_from_row)?.pop())
        })
    }

    fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        self.read(|tx| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = ?1");
            Ok(collect(tx, &sql, [codec::email_key(email)], account_from_row)?.pop())
        })
    }

    fn delete_account(&self, id: AccountId) -> Result<()> {
        codec::check_deletable(id)?;
        self.write(|tx| {
            // Cascades to its profiles (and on to all their data) and to its
            // web sessions.
            let deleted = tx
                .prepare_cached("DELETE FROM accounts WHERE id = ?1")?
                .execute([id_text(id.0)])?;
            if deleted == 0 {
                return Err(StoreError::not_found(format!("account {id}")));
            }
            Ok(())
        })?;
        snapshot::scrub(self)
    }

    fn create_web_session(&self, session: &WebSession) -> Result<()> {
        codec::check_web_session(session)?;
        self.write(|tx| {
            let account = id_text(session.account_id.0);
            let profile = session.profile_id.map(|p| id_text(p.0));
            if let (Some(p), Some(text)) = (session.profile_id, &profile) {
                let owned = tx
                    .prepare_cached("SELECT 1 FROM profiles WHERE id = ?1 AND account_id = ?2")?
                    .query_row(params![text, account], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !owned {
                    return Err(StoreError::not_found(format!(
                        "profile {p} of account {}",
                        session.account_id
                    )));
                }
            }
            tx.prepare_cached(
                "INSERT INTO web_sessions (token_hash, account_id, csrf_token, profile_id, created_at, expires_at, verified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                session.token_hash,
                account,
                session.csrf_token,
                profile,
                micros(session.created_at),
                micros(session.expires_at),
                session.verified_at.map(micros),
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || "a web session with this token already exists".to_owned(),
                    || format!("account {}", session.account_id),
                )
            })?;
            Ok(())
        })
    }

    fn web_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<WebSession>> {
        self.read(|tx| live_web_session(tx, token_hash, now))
    }

    fn web_session_with_profiles(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(WebSession, Vec<Profile>)>> {
        self.read(|tx| live_session_with_profiles(tx, token_hash, now))
    }

    fn set_web_session_profile(&self, token_hash: &str, profile: ProfileId) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE web_sessions SET profile_id = ?2
                     WHERE token_hash = ?1 AND EXISTS (
                         SELECT 1 FROM profiles
                         WHERE profiles.id = ?2 AND profiles.account_id = web_sessions.account_id)",
                )?
                .execute(params![token_hash, id_text(profile.0)])?;
            if changed == 0 {
                return Err(StoreError::not_found(format!(
                    "web session, or profile {profile} in its account"
                )));
            }
            Ok(())
        })
    }

    fn delete_web_session(&self, token_hash: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM web_sessions WHERE token_hash = ?1")?
                .execute([token_hash])?;
            Ok(())
        })
    }

    fn delete_web_sessions_of(&self, account: AccountId) -> Result<u64> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM web_sessions WHERE account_id = ?1")?
                .execute([id_text(account.0)])?;
            Ok(n as u64)
        })
    }

    fn purge_expired_web_sessions(&self, now: Timestamp) -> Result<u64> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM web_sessions WHERE expires_at <= ?1")?
                .execute([micros(now)])?;
            Ok(n as u64)
        })
    }

    fn create_profile(&self, profile: &Profile) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO profiles (id, account_id, name, created_at, time_zone) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                id_text(profile.id.0),
                id_text(profile.account_id.0),
                profile.name,
                micros(profile.created_at),
                profile.time_zone,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || {
                        format!(
                            "a profile named {:?} (or with id {}) already exists",
                            profile.name, profile.id
                        )
                    },
                    || format!("account {}", profile.account_id),
                )
            })?;
            Ok(())
        })
    }

    fn profiles(&self, account: AccountId) -> Result<Vec<Profile>> {
        self.read(|tx| account_profiles(tx, account))
    }

    fn profile(&self, id: ProfileId) -> Result<Option<Profile>> {
        self.read(|tx| {
            let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = ?1");
            Ok(collect(tx, &sql, [id_text(id.0)], profile_from_row)?.pop())
        })
    }

    fn profile_by_name(&self, account: AccountId, name: &str) -> Result<Option<Profile>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = ?1 AND name = ?2"
            );
            Ok(collect(
                tx,
                &sql,
                params![id_text(account.0), name],
                profile_from_row,
            )?
            .pop())
        })
    }

    fn set_profile_time_zone(&self, profile: ProfileId, time_zone: Option<&str>) -> Result<()> {
        if time_zone.is_some_and(|t| t.trim().is_empty()) {
            return Err(StoreError::invalid("a time zone needs a name"));
        }
        self.write(|tx| {
            let n = tx
                .prepare_cached("UPDATE profiles SET time_zone = ?2 WHERE id = ?1")?
                .execute(params![id_text(profile.0), time_zone])?;
            if n == 0 {
                return Err(StoreError::not_found(format!("profile {profile}")));
            }
            Ok(())
        })
    }

    fn delete_profile(&self, id: ProfileId) -> Result<()> {
        self.write(|tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM profiles WHERE id = ?1")?
                .execute([id_text(id.0)])?;
            if deleted == 0 {
                return Err(StoreError::not_found(format!("profile {id}")));
            }
            Ok(())
        })?;
        snapshot::scrub(self)
    }

    fn set_calendar_token(
        &self,
        profile: ProfileId,
        token_hash: &str,
        at: Timestamp,
    ) -> Result<()> {
        codec::check_calendar_token_hash(token_hash)?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO calendar_tokens (profile_id, token_hash, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (profile_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
            )?
            .execute(params![id_text(profile.0), token_hash, micros(at)])
            .map_err(|e| {
                insert_error(
                    e,
                    || "this calendar token is taken".to_owned(),
                    || format!("profile {profile}"),
                )
            })?;
            Ok(())
        })
    }

    fn profile_by_calendar_token(&self, token_hash: &str) -> Result<Option<Profile>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {} FROM profiles JOIN calendar_tokens ON calendar_tokens.profile_id = profiles.id
                 WHERE calendar_tokens.token_hash = ?1",
                PROFILE_COLUMNS
                    .split(", ")
                    .map(|c| format!("profiles.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(collect(tx, &sql, [token_hash], profile_from_row)?.pop())
        })
    }

    fn calendar_token_created(&self, profile: ProfileId) -> Result<Option<Timestamp>> {
        self.read(|tx| {
            Ok(collect(
                tx,
                "SELECT created_at FROM calendar_tokens WHERE profile_id = ?1",
                [id_text(profile.0)],
                |row| ts(row, 0),
            )?
            .pop())
        })
    }

    fn delete_calendar_token(&self, profile: ProfileId) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM calendar_tokens WHERE profile_id = ?1")?
                .execute([id_text(profile.0)])?;
            Ok(())
        })
    }

    fn save_screening(&self, s: &ScreeningRecord) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO screenings (profile_id, id, taken_at, verdict, answers, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id_text(s.profile_id.0),
                id_text(s.id.0),
                micros(s.taken_at),
                s.verdict.id(),
                json_text(&s.answers.to_json())?,
                json_text(&codec::encode_screening_result(&s.result)?)?,
            ])
            .map_err(|e| {
                insert_error(e, || format!("screening {} already exists", s.id), || format!("profile {}", s.profile_id))
            })?;
            Ok(())
        })
    }

    fn latest_screening(&self, profile: ProfileId) -> Result<Option<ScreeningRecord>> {
        self.read(|tx| latest_screening_of(tx, &id_text(profile.0)))
    }

    fn add_device(&self, d: &Device) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO devices (profile_id, id, name, kind, state, use_count, damaged, created_at, updated_at, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                id_text(d.profile_id.0),
                id_text(d.id.0),
                d.name,
                json_text(&d.kind)?,
                json_text(&d.state)?,
                i64::from(d.use_count),
                d.damaged,
                micros(d.created_at),
                micros(d.updated_at),
                to_i64(d.version, "device version")?,
            ])
            .map_err(|e| insert_error(e, || format!("device {} already exists", d.id), || format!("profile {}", d.profile_id)))?;
            Ok(())
        })
    }

    fn device(&self, profile: ProfileId, id: DeviceId) -> Result<Option<Device>> {
        self.read(|tx| {
            let sql =
                format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = ?1 AND id = ?2");
            Ok(collect(
                tx,
                &sql,
                [id_text(profile.0), id_text(id.0)],
                device_from_row,
            )?
            .pop())
        })
    }

    fn devices(&self, profile: ProfileId) -> Result<Vec<Device>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = ?1 ORDER BY created_at, id"
            );
            collect(tx, &sql, [id_text(profile.0)], device_from_row)
        })
    }

    fn record_hygiene(&self, next: &Device, event: &HygieneEvent) -> Result<()> {
        self.write(|tx| store_device_change(tx, next, event))
    }

    fn hygiene_log(&self, profile: ProfileId, device: DeviceId) -> Result<Vec<HygieneLogEntry>> {
        self.read(|tx| {
            collect(
                tx,
                "SELECT at, event, state_after FROM hygiene_events
                 WHERE profile_id = ?1 AND device_id = ?2 ORDER BY seq",
                [id_text(profile.0), id_text(device.0)],
                |row| {
                    Ok(HygieneLogEntry {
                        at: ts(row, 0)?,
                        event: json_parse(&row.get::<_, String>(1)?, "hygiene event")?,
                        state_after: row.get(2)?,
                    })
                },
            )
        })
    }

    fn save_readiness_check(&self, c: &ReadinessCheckRecord) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO readiness_checks (profile_id, id, device_id, at, answers, go, rule_ids)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id_text(c.profile_id.0),
                id_text(c.id.0),
                c.device_id.map(|d| id_text(d.0)),
                micros(c.at),
                json_text(&c.answers.to_json())?,
                c.go,
                json_text(&c.rule_ids)?,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("readiness check {} already exists", c.id),
                    || match c.device_id {
                        Some(d) => format!("profile {} or its device {d}", c.profile_id),
                        None => format!("profile {}", c.profile_id),
                    },
                )
            })?;
            Ok(())
        })
    }

    fn readiness_checks(&self, profile: ProfileId) -> Result<Vec<ReadinessCheckRecord>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks WHERE profile_id = ?1
                 ORDER BY at DESC, id DESC"
            );
            collect(tx, &sql, [id_text(profile.0)], readiness_check_from_row)
        })
    }

    fn readiness_check(
        &self,
        profile: ProfileId,
        id: ReadinessCheckId,
    ) -> Result<Option<ReadinessCheckRecord>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks WHERE profile_id = ?1 AND id = ?2"
            );
            Ok(collect(
                tx,
                &sql,
                [id_text(profile.0), id_text(id.0)],
                readiness_check_from_row,
            )?
            .pop())
        })
    }

    fn latest_readiness_check(
        &self,
        profile: ProfileId,
        device: DeviceId,
        at: Timestamp,
    ) -> Result<Option<ReadinessCheckRecord>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks
                 WHERE profile_id = ?1 AND device_id = ?2 AND at <= ?3
                 ORDER BY at DESC, id DESC LIMIT 1"
            );
            Ok(collect(
                tx,
                &sql,
                params![id_text(profile.0), id_text(device.0), micros(at)],
                readiness_check_from_row,
            )?
            .pop())
        })
    }

    fn log_session(&self, s: &SessionRecord, device: Option<&Device>) -> Result<()> {
        if let Some(d) = device {
            check_session_device(s, d)?;
        }
        self.write(|tx| {
            let profile = id_text(s.profile_id.0);
            let session = id_text(s.id.0);
            if let Some(d) = device {
                store_device_change(tx, d, &HygieneEvent::Use)?;
            }
            if let Some(check) = s.readiness_check_id {
                let known = tx
                    .prepare_cached(
                        "SELECT 1 FROM readiness_checks WHERE profile_id = ?1 AND id = ?2",
                    )?
                    .query_row(params![profile, id_text(check.0)], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !known {
                    return Err(StoreError::not_found(format!(
                        "readiness check {check} of profile {}",
                        s.profile_id
                    )));
                }
            }
            tx.prepare_cached(
                "INSERT INTO sessions (profile_id, id, device_id, started_at, ended_at, local_date, needle_length_mm, notes,
                                       setting, readiness_check_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                profile,
                session,
                s.device_id.map(|d| id_text(d.0)),
                micros(s.started_at),
                micros(s.ended_at),
                codec::date_text(s.local_date),
                s.needle_length_mm,
                s.notes,
                s.setting.id(),
                s.readiness_check_id.map(|c| id_text(c.0)),
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("session {} already exists", s.id),
                    || match s.device_id {
                        Some(d) => format!("profile {} or its device {d}", s.profile_id),
                        None => format!("profile {}", s.profile_id),
                    },
                )
            })?;
            let mut zone_insert = tx.prepare_cached(
                "INSERT INTO session_zones (profile_id, session_id, position, zone, seconds, strokes, skipped)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (position, z) in (0_i64..).zip(&s.zones) {
                zone_insert.execute(params![
                    profile,
                    session,
                    position,
                    z.zone.id(),
                    i64::from(z.seconds),
                    z.strokes.map(i64::from),
                    z.skipped,
                ])?;
            }
            for (position, p) in (0_i64..).zip(&s.products) {
                insert_product(tx, &profile, &session, position, p)?;
            }
            Ok(())
        })
    }

    fn sessions(&self, profile: ProfileId) -> Result<Vec<SessionRecord>> {
        self.read(|tx| {
            let profile = id_text(profile.0);
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = ?1 ORDER BY started_at DESC, id DESC"
            );
            let mut sessions = collect(tx, &sql, [&profile], session_from_row)?;
            fill_sessions(tx, &profile, &mut sessions, None)?;
            Ok(sessions)
        })
    }

    fn session(&self, profile: ProfileId, id: SessionId) -> Result<Option<SessionRecord>> {
        self.read(|tx| {
            let (profile, id) = (id_text(profile.0), id_text(id.0));
            let sql =
                format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = ?1 AND id = ?2");
            let mut sessions = collect(tx, &sql, [&profile, &id], session_from_row)?;
            fill_sessions(tx, &profile, &mut sessions, Some(&id))?;
            Ok(sessions.pop())
        })
    }

    fn last_session(&self, profile: ProfileId) -> Result<Option<SessionRecord>> {
        self.read(|tx| {
            let profile = id_text(profile.0);
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = ?1 ORDER BY ended_at DESC, id DESC LIMIT 1"
            );
            let mut sessions = collect(tx, &sql, [&profile], session_from_row)?;
            let only = sessions.first().map(|s| id_text(s.id.0));
            fill_sessions(tx, &profile, &mut sessions, only.as_deref())?;
            Ok(sessions.pop())
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
        self.read_one(|conn| session_dashboard_of(conn, token_hash, now))
    }

    fn add_product_use(
        &self,
        profile: ProfileId,
        session: SessionId,
        product: &ProductUse,
    ) -> Result<()> {
        self.write(|tx| {
            let (profile, session_text) = (id_text(profile.0), id_text(session.0));
            let position: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(MAX(position) + 1, 0) FROM session_products WHERE profile_id = ?1 AND session_id = ?2",
                )?
                .query_row([&profile, &session_text], |r| r.get(0))?;
            insert_product(tx, &profile, &session_text, position, product).map_err(|e| match e {
                StoreError::NotFound { .. } => StoreError::not_found(format!("session {session}")),
                other => other,
            })
        })
    }

    fn save_checkin(&self, c: &CheckinRecord, episode: Option<&Episode>) -> Result<()> {
        if let Some(e) = episode {
            check_checkin_episode(c, e)?;
        }
        self.write(|tx| {
            let profile = id_text(c.profile_id.0);
            insert_checkin(tx, c)?;
            if let Some(e) = episode {
                tx.prepare_cached(
                    "INSERT INTO episodes (profile_id, id, checkin_id, level, opened_at, resolved_at, resolution, resolver)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    profile,
                    id_text(e.id.0),
                    id_text(e.checkin_id.0),
                    e.level.id(),
                    micros(e.opened_at),
                    e.resolved_at.map(micros),
                    e.resolution,
                    e.resolver
                        .as_ref()
                        .map(|r| codec::encode_resolver(r).and_then(|v| json_text(&v)))
                        .transpose()?,
                ])
                .map_err(|err| insert_error(err, || format!("episode {} already exists", e.id), || format!("check-in {}", c.id)))?;
            }
            Ok(())
        })
    }

    fn checkins(&self, profile: ProfileId) -> Result<Vec<CheckinRecord>> {
        self.read(|tx| {
            collect(
                tx,
                "SELECT id, profile_id, session_id, at, answers, level, rule_ids FROM checkins
                 WHERE profile_id = ?1 ORDER BY at DESC, id DESC",
                [id_text(profile.0)],
                checkin_from_row,
            )
        })
    }

    fn episodes(&self, profile: ProfileId) -> Result<Vec<Episode>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {EPISODE_COLUMNS} FROM episodes WHERE profile_id = ?1 ORDER BY opened_at DESC, id DESC"
            );
            collect(tx, &sql, [id_text(profile.0)], episode_from_row)
        })
    }

    fn open_episodes(&self, profile: ProfileId) -> Result<Vec<Episode>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {EPISODE_COLUMNS} FROM episodes WHERE profile_id = ?1 AND resolved_at IS NULL
                 ORDER BY opened_at DESC, id DESC"
            );
            collect(tx, &sql, [id_text(profile.0)], episode_from_row)
        })
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
        let resolver = json_text(&codec::encode_resolver(resolver)?)?;
        self.write(|tx| {
            if let Some(c) = checkin {
                insert_checkin(tx, c)?;
            }
            resolve_open_episode(tx, profile, id, at, note, &resolver)
        })
    }

    fn add_rating(&self, r: &Rating) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO ratings (profile_id, id, zone, concern, score, rated_at, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id_text(r.profile_id.0),
                id_text(r.id.0),
                r.zone.id(),
                r.concern.id(),
                i64::from(r.score.value()),
                micros(r.rated_at),
                r.note,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("rating {} already exists", r.id),
                    || format!("profile {}", r.profile_id),
                )
            })?;
            Ok(())
        })
    }

    fn ratings(&self, profile: ProfileId) -> Result<Vec<Rating>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {RATING_COLUMNS} FROM ratings WHERE profile_id = ?1 ORDER BY rated_at, id"
            );
            collect(tx, &sql, [id_text(profile.0)], rating_from_row)
        })
    }

    fn delete_rating(&self, profile: ProfileId, id: RatingId) -> Result<()> {
        self.write(|tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM ratings WHERE profile_id = ?1 AND id = ?2")?
                .execute([id_text(profile.0), id_text(id.0)])?;
            if deleted == 0 {
                return Err(StoreError::not_found(format!("rating {id}")));
            }
            Ok(())
        })
    }

    fn add_photo(&self, p: &Photo) -> Result<()> {
        codec::check_photo(p)?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO photos (profile_id, id, taken_at, zone, width, height, bytes, sha256, content_type, stored_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                id_text(p.profile_id.0),
                id_text(p.id.0),
                micros(p.taken_at),
                p.zone.map(|z| z.id()),
                i64::from(p.width),
                i64::from(p.height),
                to_i64(p.bytes, "photo size")?,
                p.sha256,
                p.content_type,
                p.stored_name,
            ])
            .map_err(|e| {
                insert_error(
                    e,
                    || format!("photo {} already exists", p.id),
                    || format!("profile {}", p.profile_id),
                )
            })?;
            Ok(())
        })
    }

    fn photos(&self, profile: ProfileId) -> Result<Vec<Photo>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 ORDER BY taken_at, id"
            );
            collect(tx, &sql, [id_text(profile.0)], photo_from_row)
        })
    }

    fn photo(&self, profile: ProfileId, id: PhotoId) -> Result<Option<Photo>> {
        self.read(|tx| {
            let sql =
                format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = ?1 AND id = ?2");
            Ok(collect(
                tx,
                &sql,
                [id_text(profile.0), id_text(id.0)],
                photo_from_row,
            )?
            .pop())
        })
    }

    fn delete_photo(&self, profile: ProfileId, id: PhotoId) -> Result<()> {
        self.write(|tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM photos WHERE profile_id = ?1 AND id = ?2")?
                .execute([id_text(profile.0), id_text(id.0)])?;
            if deleted == 0 {
                return Err(StoreError::not_found(format!("photo {id}")));
            }
            Ok(())
        })
    }

    fn snapshot_rows(&self, sink: &mut dyn FnMut(crate::SnapshotRow) -> Result<()>) -> Result<()> {
        snapshot::snapshot_rows(self, sink)
    }

    fn restore_rows(
        &self,
        rows: &mut dyn Iterator<Item = Result<crate::SnapshotRow>>,
        mode: crate::RestoreMode,
    ) -> Result<u64> {
        snapshot::restore_rows(self, rows, mode)
    }

    fn counts(&self) -> Result<Counts> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM screenings),
                        (SELECT count(*) FROM devices), (SELECT count(*) FROM hygiene_events),
                        (SELECT count(*) FROM sessions), (SELECT count(*) FROM checkins),
                        (SELECT count(*) FROM episodes), (SELECT count(*) FROM accounts),
                        (SELECT count(*) FROM web_sessions)",
            )?;
            let raw: [i64; 9] = stmt.query_row([], |r| {
                Ok([
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ])
            })?;
            let n = |i: usize| to_u64(raw[i], "row count");
            Ok(Counts {
                accounts: n(7)?,
                web_sessions: n(8)?,
                profiles: n(0)?,
                screenings: n(1)?,
                devices: n(2)?,
                hygiene_events: n(3)?,
                sessions: n(4)?,
                checkins: n(5)?,
                episodes: n(6)?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rusqlite::StatementStatus;
    use rusqlite::config::DbConfig;

    use super::*;

    /// A cached look-up with an ORDER BY runs again with new keys without
    /// being parsed and planned again, on the writer and on every reader.
    #[test]
    fn cached_statements_are_not_prepared_again_for_new_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
        let sql =
            "SELECT level FROM checkins WHERE profile_id = ?1 ORDER BY at DESC, id DESC LIMIT 1";
        let conns = std::iter::once(&store.conn).chain(store.readers.iter());
        for conn in conns {
            let conn = conn.lock().unwrap();
            assert!(
                conn.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)
                    .unwrap()
            );
            for key in ["a", "b", "c", "d"] {
                let mut stmt = conn.prepare_cached(sql).unwrap();
                let _ = stmt.query_row([key], |r| r.get::<_, String>(0));
            }
            let stmt = conn.prepare_cached(sql).unwrap();
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
        }
    }
}
