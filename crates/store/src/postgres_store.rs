//! The server store: PostgreSQL through the synchronous `postgres` client.
//!
//! Writes run in SERIALIZABLE transactions and are retried as a whole on
//! serialization failures (SQLSTATE 40001) and deadlocks (40P01). A few
//! clinic calls choose a lower level (`write_at`): REPEATABLE READ for a
//! clinic's reads that append audit lines, READ COMMITTED for single
//! atomic statements (claims, counters, the TOTP step). Lost
//! updates are refused by optimistic device versions. There are no advisory
//! locks, so the same schema can run on distributed PostgreSQL.
//!
//! The synchronous client runs its own small runtime: do not call it from
//! inside an async (tokio) runtime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

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
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls, Row, Transaction};
use serde_json::Value;
use uuid::Uuid;

use crate::codec::{
    self, Applied, Migration, check_checkin_episode, check_session_device, from_system_time, parse,
    system_time, to_i64, to_u32, to_u64,
};
use crate::error::pg_message;
mod clinic;
mod snapshot;

use crate::{
    ClinicWebSession, Counts, Dashboard, HygieneLogEntry, Result, Store, StoreError, WebSession,
};

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "clinic",
        sql: include_str!("../migrations/postgres/0002_clinic.sql"),
    },
    Migration {
        version: 3,
        name: "totp_pending_session",
        sql: include_str!("../migrations/postgres/0003_totp_pending_session.sql"),
    },
    Migration {
        version: 4,
        name: "member_invites",
        sql: include_str!("../migrations/postgres/0004_member_invites.sql"),
    },
    Migration {
        version: 5,
        name: "outbox_by_recipient",
        sql: include_str!("../migrations/postgres/0005_outbox_by_recipient.sql"),
    },
    Migration {
        version: 6,
        name: "patient_list_summary",
        sql: include_str!("../migrations/postgres/0006_patient_list_summary.sql"),
    },
    Migration {
        version: 7,
        name: "readiness_checks_resolvers",
        sql: include_str!("../migrations/postgres/0007_readiness_checks_resolvers.sql"),
    },
];

/// How many times a write transaction is tried before giving up.
const MAX_ATTEMPTS: u32 = 5;

/// Connections per store: one more than the cores this process may use,
/// from 2 to 16. Requests from several threads run on separate connections
/// instead of queueing behind one; the first is opened at start-up, the
/// others when first needed. The database's work for a page is mostly CPU,
/// so more connections than cores mostly contend: on a 2-core machine that
/// also runs PostgreSQL, with 8 clinic lists in flight, 4 connections gave
/// a p99 of 53 to 60 ms against 33 ms with 3, for 5 % more throughput
/// (scripts/bench-clinic, alternating runs).
fn pool_size() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() + 1)
        .clamp(2, 16)
}

/// One slot of the pool: a connection, once opened.
#[derive(Default)]
struct Slot {
    client: Option<Client>,
}

thread_local! {
    /// The slot whose connection this thread holds, for
    /// [`PostgresStore::prepared`] (set by [`PostgresStore::client`]; a
    /// transaction runs on the thread that took the connection).
    static SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Which slots are free, and the threads waiting for one, oldest first.
/// A returned slot goes straight to the oldest waiter, so under load no
/// request waits behind later ones (which would stretch the slowest
/// requests, not the average), and only that thread is woken.
#[derive(Default)]
struct Queue {
    /// Free slots; the most recently returned (so connected) last.
    free: Vec<usize>,
    waiting: std::collections::VecDeque<Arc<Waiter>>,
}

/// A thread waiting for a slot: parked until `slot` holds one.
struct Waiter {
    thread: std::thread::Thread,
    slot: AtomicUsize,
}

/// `Waiter::slot` before a slot is handed over.
const NO_SLOT: usize = usize::MAX;

/// A connection taken from the pool; the slot is locked while it lives and
/// handed back, first come first served, when it is dropped.
struct Conn<'a> {
    slot: Option<MutexGuard<'a, Slot>>,
    index: usize,
    store: &'a PostgresStore,
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        // Unlock the slot before handing it on.
        drop(self.slot.take());
        let mut queue = self
            .store
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match queue.waiting.pop_front() {
            Some(waiter) => {
                drop(queue);
                waiter.slot.store(self.index, Ordering::Release);
                waiter.thread.unpark();
            }
            None => queue.free.push(self.index),
        }
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // `PostgresStore::client` connects the slot before handing it out.
        self.slot
            .as_ref()
            .and_then(|s| s.client.as_ref())
            .unwrap_or_else(|| unreachable!("a taken slot is connected"))
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.slot
            .as_mut()
            .and_then(|s| s.client.as_mut())
            .unwrap_or_else(|| unreachable!("a taken slot is connected"))
    }
}

/// A store in a PostgreSQL database.
pub struct PostgresStore {
    pool: Vec<Mutex<Slot>>,
    /// Per slot, the statements prepared on its connection, by their SQL,
    /// for the hot clinic queries (no parse and, after a few runs, no
    /// planning per call). Emptied when the connection is replaced; used
    /// only by the thread holding the slot.
    statements: Vec<Mutex<HashMap<&'static str, postgres::Statement>>>,
    queue: Mutex<Queue>,
    config: Config,
    /// The schema every connection uses (`search_path`), if not the default.
    schema: Option<String>,
    /// Drop `schema` when the store is dropped (test schemas).
    drop_schema: bool,
}

impl std::fmt::Debug for PostgresStore {
    // The config holds the password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("hosts", &self.config.get_hosts().len())
            .field("dbname", &self.config.get_dbname())
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`) and
    /// brings the schema up to date.
    pub fn connect(url: &str) -> Result<Self> {
        let config = parse_url(url)?;
        let mut client = connect_client(&config, None)?;
        migrate(&mut client)?;
        let size = pool_size();
        Ok(PostgresStore {
            pool: pool_with(client, size),
            statements: (0..size).map(|_| Mutex::default()).collect(),
            queue: Mutex::new(Queue {
                // Slot 0 (connected) first.
                free: (0..size).rev().collect(),
                ..Queue::default()
            }),
            config,
            schema: None,
            drop_schema: false,
        })
    }

    /// Connects and creates a new, empty schema `schema` to work in, which
    /// is dropped (with everything in it) when the store is dropped. For
    /// tests: each gets a database of its own on a shared server.
    ///
    /// `schema` must be a plain lowercase identifier (`[a-z_][a-z0-9_]*`,
    /// at most 63 bytes).
    pub fn connect_fresh_schema(url: &str, schema: &str) -> Result<Self> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::invalid(format!(
                "schema name {schema:?} must be lowercase letters, digits and _ (at most 63)"
            )));
        }
        let config = parse_url(url)?;
        let mut client = connect_client(&config, None)?;
        client
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .map_err(|e| match e.code() {
                Some(&SqlState::DUPLICATE_SCHEMA) => {
                    StoreError::conflict(format!("schema {schema} already exists"))
                }
                _ => e.into(),
            })?;
        // From here on the store owns the schema, and drops it even if
        // migrating fails.
        let size = pool_size();
        let store = PostgresStore {
            pool: pool_with(client, size),
            statements: (0..size).map(|_| Mutex::default()).collect(),
            queue: Mutex::new(Queue {
                // Slot 0 (connected) first.
                free: (0..size).rev().collect(),
                ..Queue::default()
            }),
            config,
            schema: Some(schema.to_owned()),
            drop_schema: true,
        };
        {
            let mut client = store.client()?;
            set_search_path(&mut client, schema)?;
            migrate(&mut client)?;
        }
        Ok(store)
    }

    /// A connection: a free one if there is one, else the first freed
    /// after the threads that asked earlier; opened (or reopened, if the
    /// server closed it) as needed.
    fn client(&self) -> Result<Conn<'_>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match queue.free.pop() {
            // Nobody waits when a slot is free: returns go to waiters first.
            Some(index) => {
                drop(queue);
                index
            }
            None => {
                let waiter = Arc::new(Waiter {
                    thread: std::thread::current(),
                    slot: AtomicUsize::new(NO_SLOT),
                });
                queue.waiting.push_back(Arc::clone(&waiter));
                drop(queue);
                loop {
                    // Wakes when handed a slot (or spuriously: look again).
                    std::thread::park();
                    let index = waiter.slot.load(Ordering::Acquire);
                    if index != NO_SLOT {
                        break index;
                    }
                }
            }
        };
        // Free, so nobody holds it (a poisoned slot's transaction was
        // rolled back when its guard unwound).
        let slot = self.pool[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut conn = Conn {
            slot: Some(slot),
            index,
            store: self,
        };
        let slot = conn
            .slot
            .as_mut()
            .unwrap_or_else(|| unreachable!("just taken"));
        if slot.client.as_ref().is_none_or(Client::is_closed) {
            self.statements[index]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            slot.client = Some(connect_client(&self.config, self.schema.as_deref())?);
        }
        SLOT.with(|s| s.set(index));
        Ok(conn)
    }

    /// Runs `f` in a SERIALIZABLE transaction, retried as a whole when the
    /// server reports a serialization failure or a deadlock.
    fn write<T>(&self, f: impl FnMut(&mut Transaction<'_>) -> TxResult<T>) -> Result<T> {
        self.write_at(IsolationLevel::Serializable, f)
    }

    /// Like [`PostgresStore::write`] at another isolation level: REPEATABLE
    /// READ for reads that append audit lines, READ COMMITTED for single
    /// atomic upserts (both still retried on 40001).
    fn write_at<T>(
        &self,
        level: IsolationLevel,
        mut f: impl FnMut(&mut Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let mut client = self.client()?;
        let mut attempt = 1;
        loop {
            let result = (|| {
                let mut tx = client.build_transaction().isolation_level(level).start()?;
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            })();
            match result {
                Err(TxError::Pg(e)) if attempt < MAX_ATTEMPTS && is_transient(&e) => {
                    std::thread::sleep(Duration::from_millis(5 << attempt));
                    attempt += 1;
                }
                other => return other.map_err(TxError::into_store),
            }
        }
    }

    /// `sql` prepared once on this store's connection. Call it only inside
    /// [`PostgresStore::write`], [`PostgresStore::write_at`] or
    /// [`PostgresStore::read`] (which hold the connection).
    fn prepared(
        &self,
        tx: &mut impl GenericClient,
        sql: &'static str,
    ) -> std::result::Result<postgres::Statement, postgres::Error> {
        // This thread holds the slot whose connection runs `tx`.
        let index = SLOT.with(std::cell::Cell::get);
        let mut cache = self.statements[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(statement) = cache.get(sql) {
            return Ok(statement.clone());
        }
        let statement = tx.prepare(sql)?;
        cache.insert(sql, statement.clone());
        Ok(statement)
    }

    /// Runs one read-only statement (prepared once per connection) on its
    /// own, without BEGIN and COMMIT: one round trip instead of four for
    /// the small reads every page makes (its session, its memberships). A
    /// single statement sees one snapshot; reads of several statements
    /// that must agree use [`PostgresStore::read`].
    fn read_one<T>(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        convert: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut client = self.client()?;
        let result = (|| {
            let statement = self.prepared(&mut *client, sql)?;
            let rows = client.query(&statement, params)?;
            Ok(rows.iter().map(&convert).collect::<Result<Vec<T>>>()?)
        })();
        result.map_err(TxError::into_store)
    }

    /// Runs `f` in a read-only snapshot, so multi-query reads agree.
    fn read<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> TxResult<T>) -> Result<T> {
        let mut client = self.client()?;
        let result = (|| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let value = f(&mut tx)?;
            tx.commit()?;
            Ok(value)
        })();
        result.map_err(TxError::into_store)
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let (true, Some(schema)) = (self.drop_schema, &self.schema) {
            // Close the other connections first, then drop the schema from
            // the first one still open.
            let mut clients: Vec<Client> = self
                .pool
                .iter_mut()
                .filter_map(|slot| {
                    slot.get_mut()
                        .unwrap_or_else(PoisonError::into_inner)
                        .client
                        .take()
                })
                .filter(|c| !c.is_closed())
                .collect();
            if let Some(mut client) = clients.pop() {
                drop(clients);
                // Best effort: a leftover test schema is harmless.
                let _ =
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
            }
        }
    }
}

fn parse_url(url: &str) -> Result<Config> {
    // The parser's messages name the bad option, not the URL.
    let mut config: Config = url
        .parse()
        .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("needlewise");
    }
    Ok(config)
}

/// A pool whose first slot holds `first`.
fn pool_with(first: Client, size: usize) -> Vec<Mutex<Slot>> {
    let mut pool: Vec<Mutex<Slot>> = (0..size).map(|_| Mutex::default()).collect();
    pool[0] = Mutex::new(Slot {
        client: Some(first),
    });
    pool
}

fn connect_client(config: &Config, schema: Option<&str>) -> Result<Client> {
    let mut client = config.connect(NoTls).map_err(|e| {
        let target = match (config.get_hosts().first(), config.get_ports().first()) {
            (Some(postgres::config::Host::Tcp(h)), Some(p)) => format!(" at {h}:{p}"),
            (Some(postgres::config::Host::Tcp(h)), None) => format!(" at {h}"),
            _ => String::new(),
        };
        StoreError::Backend(format!(
            "cannot connect to PostgreSQL{target}: {}",
            pg_message(&e)
        ))
    })?;
    if let Some(schema) = schema {
        set_search_path(&mut client, schema)?;
    }
    Ok(client)
}

fn set_search_path(client: &mut Client, schema: &str) -> Result<()> {
    client.batch_execute(&format!("SET search_path TO \"{schema}\""))?;
    Ok(())
}

fn migrate(client: &mut Client) -> Result<()> {
    let mut attempt = 1;
    loop {
        match try_migrate(client) {
            Ok(()) => return Ok(()),
            // Another instance is migrating at the same moment: once it has
            // committed, the next attempt finds the migrations applied.
            Err(TxError::Pg(e)) if attempt < MAX_ATTEMPTS && is_concurrent_migration(&e) => {
                std::thread::sleep(Duration::from_millis(20 << attempt));
                attempt += 1;
            }
            Err(TxError::Pg(e)) => return Err(StoreError::Migration(pg_message(&e))),
            Err(TxError::Store(e)) => return Err(e),
        }
    }
}

fn try_migrate(client: &mut Client) -> TxResult<()> {
    let mut tx = client.transaction()?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    bigint      NOT NULL PRIMARY KEY,
            name       text        NOT NULL,
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )?;
    let applied = tx
        .query(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(Applied {
                version: r.try_get(0)?,
                name: r.try_get(1)?,
                checksum: r.try_get(2)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, postgres::Error>>()?;
    for m in codec::pending(MIGRATIONS, &applied)? {
        tx.batch_execute(m.sql).map_err(|e| {
            TxError::Store(StoreError::Migration(format!(
                "migration {} ({}) failed: {}",
                m.version,
                m.name,
                pg_message(&e)
            )))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &m.checksum()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// An error inside a transaction: a driver error keeps its SQLSTATE so the
/// transaction can be retried.
#[derive(Debug)]
enum TxError {
    Pg(postgres::Error),
    Store(StoreError),
}

type TxResult<T> = std::result::Result<T, TxError>;

impl From<postgres::Error> for TxError {
    fn from(e: postgres::Error) -> Self {
        TxError::Pg(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl TxError {
    fn into_store(self) -> StoreError {
        match self {
            TxError::Pg(e) => e.into(),
            TxError::Store(e) => e,
        }
    }
}

fn is_transient(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    )
}

fn is_concurrent_migration(e: &postgres::Error) -> bool {
    is_transient(e)
        || matches!(
            e.code(),
            Some(&SqlState::UNIQUE_VIOLATION)
                | Some(&SqlState::DUPLICATE_TABLE)
                | Some(&SqlState::DUPLICATE_OBJECT)
        )
}

/// Maps a failed insert: a taken key is a conflict, a missing parent (in
/// this profile) is not found. Transient errors stay retryable.
fn insert_error(
    e: postgres::Error,
    duplicate: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> TxError {
    match e.code() {
        Some(&SqlState::UNIQUE_VIOLATION) => TxError::Store(StoreError::conflict(duplicate())),
        Some(&SqlState::FOREIGN_KEY_VIOLATION) => TxError::Store(StoreError::not_found(missing())),
        _ => TxError::Pg(e),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| StoreError::invalid(format!("cannot encode as JSON: {e}")))
}

fn json_parse<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::invalid(format!("stored {what} does not parse: {e}")))
}

fn ts(row: &Row, idx: usize) -> Result<Timestamp> {
    from_system_time(row.try_get::<_, SystemTime>(idx)?)
}

fn opt_ts(row: &Row, idx: usize) -> Result<Option<Timestamp>> {
    row.try_get::<_, Option<SystemTime>>(idx)?
        .map(from_system_time)
        .transpose()
}

const RATING_COLUMNS: &str = "id, profile_id, zone, concern, score, rated_at, note";

fn rating_from_row(row: &Row) -> Result<Rating> {
    let score: i16 = row.try_get(4)?;
    Ok(Rating {
        id: RatingId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        zone: parse(row.try_get(2)?, "zone")?,
        concern: parse(row.try_get(3)?, "concern")?,
        score: parse(&score.to_string(), "score")?,
        rated_at: ts(row, 5)?,
        note: row.try_get(6)?,
    })
}

const PHOTO_COLUMNS: &str =
    "id, profile_id, taken_at, zone, width, height, bytes, sha256, content_type, stored_name";

fn photo_from_row(row: &Row) -> Result<Photo> {
    let width: i32 = row.try_get(4)?;
    let height: i32 = row.try_get(5)?;
    let bytes: i64 = row.try_get(6)?;
    Ok(Photo {
        id: PhotoId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        taken_at: ts(row, 2)?,
        zone: row
            .try_get::<_, Option<&str>>(3)?
            .map(|z| parse(z, "zone"))
            .transpose()?,
        width: to_u32(i64::from(width), "photo width")?,
        height: to_u32(i64::from(height), "photo height")?,
        bytes: to_u64(bytes, "photo size")?,
        sha256: row.try_get(7)?,
        content_type: row.try_get(8)?,
        stored_name: row.try_get(9)?,
    })
}

fn to_i32(n: u32, what: &str) -> Result<i32> {
    i32::try_from(n).map_err(|_| StoreError::invalid(format!("{what} {n} is too large to store")))
}

/// Runs a query and converts each row.
fn collect<T>(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    convert: impl Fn(&Row) -> Result<T>,
) -> TxResult<Vec<T>> {
    let rows = tx.query(sql, params)?;
    Ok(rows.iter().map(convert).collect::<Result<Vec<T>>>()?)
}

const ACCOUNT_COLUMNS: &str = "id, email, password_hash, created_at";

/// The local account has neither email nor password hash: both come back
/// empty.
fn account_from_row(row: &Row) -> Result<Account> {
    Ok(Account {
        id: AccountId(row.try_get(0)?),
        email: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
        password_hash: row.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
        created_at: ts(row, 3)?,
    })
}

const WEB_SESSION_COLUMNS: &str =
    "token_hash, account_id, csrf_token, profile_id, created_at, expires_at, verified_at";

fn web_session_from_row(row: &Row) -> Result<WebSession> {
    Ok(WebSession {
        token_hash: row.try_get(0)?,
        account_id: AccountId(row.try_get(1)?),
        csrf_token: row.try_get(2)?,
        profile_id: row.try_get::<_, Option<Uuid>>(3)?.map(ProfileId),
        created_at: ts(row, 4)?,
        expires_at: ts(row, 5)?,
        verified_at: opt_ts(row, 6)?,
    })
}

const PROFILE_COLUMNS: &str = "id, account_id, name, created_at, time_zone";

fn profile_from_row(row: &Row) -> Result<Profile> {
    Ok(Profile {
        id: ProfileId(row.try_get(0)?),
        account_id: AccountId(row.try_get(1)?),
        name: row.try_get(2)?,
        created_at: ts(row, 3)?,
        time_zone: row.try_get(4)?,
    })
}

const DEVICE_COLUMNS: &str =
    "id, profile_id, name, kind, state, use_count, damaged, created_at, updated_at, version";

fn device_from_row(row: &Row) -> Result<Device> {
    Ok(Device {
        id: DeviceId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        name: row.try_get(2)?,
        kind: json_parse(row.try_get(3)?, "device kind")?,
        state: json_parse(row.try_get(4)?, "device state")?,
        use_count: to_u32(row.try_get(5)?, "use count")?,
        damaged: row.try_get(6)?,
        created_at: ts(row, 7)?,
        updated_at: ts(row, 8)?,
        version: to_u64(row.try_get(9)?, "device version")?,
    })
}

const SESSION_COLUMNS: &str = "id, profile_id, device_id, started_at, ended_at, to_char(local_date, 'YYYY-MM-DD'), \
                               needle_length_mm, notes, setting, readiness_check_id";

fn session_from_row(row: &Row) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        device_id: row.try_get::<_, Option<Uuid>>(2)?.map(DeviceId),
        started_at: ts(row, 3)?,
        ended_at: ts(row, 4)?,
        local_date: codec::parse_date(row.try_get(5)?)?,
        needle_length_mm: row.try_get(6)?,
        zones: Vec::new(),
        products: Vec::new(),
        notes: row.try_get(7)?,
        setting: parse(row.try_get(8)?, "session setting")?,
        readiness_check_id: row.try_get::<_, Option<Uuid>>(9)?.map(ReadinessCheckId),
    })
}

const EPISODE_COLUMNS: &str =
    "id, profile_id, checkin_id, level, opened_at, resolved_at, resolution, resolver";

fn episode_from_row(row: &Row) -> Result<Episode> {
    Ok(Episode {
        id: EpisodeId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        checkin_id: needlewise_core::ids::CheckinId(row.try_get(2)?),
        level: parse(row.try_get(3)?, "triage level")?,
        opened_at: ts(row, 4)?,
        resolved_at: opt_ts(row, 5)?,
        resolution: row.try_get(6)?,
        resolver: codec::decode_resolver(row.try_get(7)?)?,
    })
}

const READINESS_CHECK_COLUMNS: &str = "id, profile_id, device_id, at, answers, go, rule_ids";

fn readiness_check_from_row(row: &Row) -> Result<ReadinessCheckRecord> {
    Ok(ReadinessCheckRecord {
        id: ReadinessCheckId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        device_id: row.try_get::<_, Option<Uuid>>(2)?.map(DeviceId),
        at: ts(row, 3)?,
        answers: codec::readiness_answers(&row.try_get::<_, Value>(4)?)?,
        go: row.try_get(5)?,
        rule_ids: codec::rule_ids(row.try_get(6)?)?,
    })
}

/// Stores a check-in (a taken id is a conflict, a missing profile or
/// session not found).
fn insert_checkin(tx: &mut Transaction<'_>, c: &CheckinRecord) -> TxResult<()> {
    tx.execute(
        "INSERT INTO checkins (profile_id, id, session_id, at, answers, level, rule_ids) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &c.profile_id.0,
            &c.id.0,
            &c.session_id.map(|s| s.0),
            &system_time(c.at)?,
            &c.answers.to_json(),
            &c.level.id(),
            &json(&c.rule_ids)?,
        ],
    )
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

/// Resolves an open episode, recording the resolver; `NotFound` unless the
/// profile has it open.
fn resolve_open_episode(
    tx: &mut Transaction<'_>,
    profile: ProfileId,
    id: EpisodeId,
    at: Timestamp,
    note: &str,
    resolver: &Resolver,
) -> TxResult<()> {
    let changed = tx.execute(
        "UPDATE episodes SET resolved_at = $3, resolution = $4, resolver = $5
         WHERE profile_id = $1 AND id = $2 AND resolved_at IS NULL",
        &[
            &profile.0,
            &id.0,
            &system_time(at)?,
            &note,
            &codec::encode_resolver(resolver)?,
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("open symptom episode {id}")).into());
    }
    Ok(())
}

fn checkin_from_row(row: &Row) -> Result<CheckinRecord> {
    Ok(CheckinRecord {
        id: needlewise_core::ids::CheckinId(row.try_get(0)?),
        profile_id: ProfileId(row.try_get(1)?),
        session_id: row.try_get::<_, Option<Uuid>>(2)?.map(SessionId),
        at: ts(row, 3)?,
        answers: codec::checkin_answers(&row.try_get::<_, Value>(4)?)?,
        level: parse(row.try_get(5)?, "triage level")?,
        rule_ids: codec::rule_ids(row.try_get(6)?)?,
    })
}

/// Updates a device from `next.version - 1` to `next` and logs the event.
fn store_device_change(
    tx: &mut Transaction<'_>,
    next: &Device,
    event: &HygieneEvent,
) -> TxResult<()> {
    let version = to_i64(next.version, "device version")?;
    let changed = tx.execute(
        "UPDATE devices SET name = $3, kind = $4, state = $5, use_count = $6, damaged = $7, updated_at = $8, version = $9
         WHERE profile_id = $1 AND id = $2 AND version = $10",
        &[
            &next.profile_id.0,
            &next.id.0,
            &next.name,
            &json(&next.kind)?,
            &json(&next.state)?,
            &i64::from(next.use_count),
            &next.damaged,
            &system_time(next.updated_at)?,
            &version,
            &codec::previous_version(next.version)?,
        ],
    )?;
    if changed == 0 {
        let stored = tx.query_opt(
            "SELECT version FROM devices WHERE profile_id = $1 AND id = $2",
            &[&next.profile_id.0, &next.id.0],
        )?;
        return Err(TxError::Store(match stored {
            None => StoreError::not_found(format!("device {}", next.id)),
            Some(row) => StoreError::conflict(format!(
                "device {} was changed by someone else (it is at version {}, this change expected version {}); reload it and try again",
                next.id,
                row.try_get::<_, i64>(0)?,
                next.version.saturating_sub(1)
            )),
        }));
    }
    tx.execute(
        "INSERT INTO hygiene_events (profile_id, device_id, seq, at, event, state_after) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &next.profile_id.0,
            &next.id.0,
            &version,
            &system_time(next.updated_at)?,
            &json(event)?,
            &next.state.name(),
        ],
    )
    .map_err(|e| {
        insert_error(
            e,
            || format!("device {} already has an event at version {}", next.id, next.version),
            || format!("device {}", next.id),
        )
    })?;
    Ok(())
}

fn insert_product(
    tx: &mut Transaction<'_>,
    profile: ProfileId,
    session: SessionId,
    position: i32,
    product: &ProductUse,
) -> TxResult<()> {
    tx.execute(
        "INSERT INTO session_products (profile_id, session_id, position, name, category, applied_at, allowed)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &profile.0,
            &session.0,
            &position,
            &product.name,
            &product.category,
            &system_time(product.applied_at)?,
            &product.allowed,
        ],
    )
    .map_err(|e| insert_error(e, || format!("product {position} of session {session}"), || format!("session {session}")))?;
    Ok(())
}

fn position(i: usize) -> Result<i32> {
    i32::try_from(i).map_err(|_| StoreError::invalid("too many zones or products in one session"))
}

/// Loads the zones and products of `sessions` (all of one profile).
fn fill_sessions(
    tx: &mut Transaction<'_>,
    profile: ProfileId,
    sessions: &mut [SessionRecord],
    only: Option<SessionId>,
) -> TxResult<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let index: HashMap<SessionId, usize> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i))
        .collect();
    let only = only.map(|s| s.0);
    let zones = collect(
        tx,
        "SELECT session_id, zone, seconds, strokes, skipped FROM session_zones
         WHERE profile_id = $1 AND ($2::uuid IS NULL OR session_id = $2) ORDER BY session_id, position",
        &[&profile.0, &only],
        |row| {
            let zone = ZoneRecord {
                zone: parse(row.try_get(1)?, "zone")?,
                seconds: to_u32(row.try_get(2)?, "zone seconds")?,
                strokes: row
                    .try_get::<_, Option<i64>>(3)?
                    .map(|n| to_u32(n, "zone strokes"))
                    .transpose()?,
                skipped: row.try_get(4)?,
            };
            Ok((SessionId(row.try_get(0)?), zone))
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
         WHERE profile_id = $1 AND ($2::uuid IS NULL OR session_id = $2) ORDER BY session_id, position",
        &[&profile.0, &only],
        |row| {
            let product = ProductUse {
                name: row.try_get(1)?,
                category: row.try_get(2)?,
                applied_at: ts(row, 3)?,
                allowed: row.try_get(4)?,
            };
            Ok((SessionId(row.try_get(0)?), product))
        },
    )?;
    for (session, product) in products {
        if let Some(&i) = index.get(&session) {
            sessions[i].products.push(product);
        }
    }
    Ok(())
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_account(&self, account: &Account) -> Result<()> {
        let email = codec::check_account(account)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO accounts (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                &[
                    &account.id.0,
                    &email,
                    &account.password_hash,
                    &system_time(account.created_at)?,
                ],
            )
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
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
            Ok(collect(tx, &sql, &[&id.0], account_from_row)?.pop())
        })
    }

    fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let key = codec::email_key(email);
        self.read(|tx| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1");
            Ok(collect(tx, &sql, &[&key], account_from_row)?.pop())
        })
    }

    fn delete_account(&self, id: AccountId) -> Result<()> {
        codec::check_deletable(id)?;
        self.write(|tx| {
            // The audit log has no foreign key (see 0002_clinic.sql): its
            // lines go first, by hand.
            tx.execute(
                "DELETE FROM audit_log WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = $1)",
                &[&id.0],
            )?;
            // Cascades to its profiles (and on to all their data) and to its
            // web sessions.
            if tx.execute("DELETE FROM accounts WHERE id = $1", &[&id.0])? == 0 {
                return Err(StoreError::not_found(format!("account {id}")).into());
            }
            Ok(())
        })
    }

    fn create_web_session(&self, session: &WebSession) -> Result<()> {
        codec::check_web_session(session)?;
        self.write(|tx| {
            if let Some(p) = session.profile_id {
                let owned = tx
                    .query_opt(
                        "SELECT 1 FROM profiles WHERE id = $1 AND account_id = $2",
                        &[&p.0, &session.account_id.0],
                    )?
                    .is_some();
                if !owned {
                    return Err(StoreError::not_found(format!(
                        "profile {p} of account {}",
                        session.account_id
                    ))
                    .into());
                }
            }
            tx.execute(
                "INSERT INTO web_sessions (token_hash, account_id, csrf_token, profile_id, created_at, expires_at, verified_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &session.token_hash,
                    &session.account_id.0,
                    &session.csrf_token,
                    &session.profile_id.map(|p| p.0),
                    &system_time(session.created_at)?,
                    &system_time(session.expires_at)?,
                    &session.verified_at.map(system_time).transpose()?,
                ],
            )
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
        let now = system_time(now)?;
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions WHERE token_hash = $1 AND expires_at > $2"
            )
        });
        Ok(self
            .read_one(&SQL, &[&token_hash, &now], web_session_from_row)?
            .pop())
    }

    fn clinic_web_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ClinicWebSession>> {
        clinic::clinic_web_session(self, token_hash, system_time(now)?)
    }

    fn set_web_session_profile(&self, token_hash: &str, profile: ProfileId) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE web_sessions SET profile_id = $2
                 WHERE token_hash = $1 AND EXISTS (
                     SELECT 1 FROM profiles
                     WHERE profiles.id = $2 AND profiles.account_id = web_sessions.account_id)",
                &[&token_hash, &profile.0],
            )?;
            if changed == 0 {
                return Err(StoreError::not_found(format!(
                    "web session, or profile {profile} in its account"
                ))
                .into());
            }
            Ok(())
        })
    }

    fn delete_web_session(&self, token_hash: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM web_sessions WHERE token_hash = $1",
                &[&token_hash],
            )?;
            Ok(())
        })
    }

    fn delete_web_sessions_of(&self, account: AccountId) -> Result<u64> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM web_sessions WHERE account_id = $1",
                &[&account.0],
            )?)
        })
    }

    fn purge_expired_web_sessions(&self, now: Timestamp) -> Result<u64> {
        let now = system_time(now)?;
        self.write(|tx| Ok(tx.execute("DELETE FROM web_sessions WHERE expires_at <= $1", &[&now])?))
    }

    fn create_profile(&self, profile: &Profile) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO profiles (id, account_id, name, created_at, time_zone) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &profile.id.0,
                    &profile.account_id.0,
                    &profile.name,
                    &system_time(profile.created_at)?,
                    &profile.time_zone,
                ],
            )
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
        self.read(|tx| {
            let sql = format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = $1 ORDER BY created_at, id"
            );
            collect(tx, &sql, &[&account.0], profile_from_row)
        })
    }

    fn profile(&self, id: ProfileId) -> Result<Option<Profile>> {
        self.read(|tx| {
            let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = $1");
            Ok(collect(tx, &sql, &[&id.0], profile_from_row)?.pop())
        })
    }

    fn profile_by_name(&self, account: AccountId, name: &str) -> Result<Option<Profile>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = $1 AND name = $2"
            );
            Ok(collect(tx, &sql, &[&account.0, &name], profile_from_row)?.pop())
        })
    }

    fn set_profile_time_zone(&self, profile: ProfileId, time_zone: Option<&str>) -> Result<()> {
        if time_zone.is_some_and(|t| t.trim().is_empty()) {
            return Err(StoreError::invalid("a time zone needs a name"));
        }
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE profiles SET time_zone = $2 WHERE id = $1",
                &[&profile.0, &time_zone],
            )?;
            if n == 0 {
                return Err(StoreError::not_found(format!("profile {profile}")).into());
            }
            Ok(())
        })
    }

    fn delete_profile(&self, id: ProfileId) -> Result<()> {
        self.write(|tx| {
            // The audit log has no foreign key (see 0002_clinic.sql).
            tx.execute("DELETE FROM audit_log WHERE profile_id = $1", &[&id.0])?;
            if tx.execute("DELETE FROM profiles WHERE id = $1", &[&id.0])? == 0 {
                return Err(StoreError::not_found(format!("profile {id}")).into());
            }
            Ok(())
        })
    }

    fn set_calendar_token(
        &self,
        profile: ProfileId,
        token_hash: &str,
        at: Timestamp,
    ) -> Result<()> {
        codec::check_calendar_token_hash(token_hash)?;
        let at = system_time(at)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO calendar_tokens (profile_id, token_hash, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (profile_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = EXCLUDED.created_at",
                &[&profile.0, &token_hash, &at],
            )
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
                 WHERE calendar_tokens.token_hash = $1",
                PROFILE_COLUMNS
                    .split(", ")
                    .map(|c| format!("profiles.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(collect(tx, &sql, &[&token_hash], profile_from_row)?.pop())
        })
    }

    fn calendar_token_created(&self, profile: ProfileId) -> Result<Option<Timestamp>> {
        self.read(|tx| {
            Ok(collect(
                tx,
                "SELECT created_at FROM calendar_tokens WHERE profile_id = $1",
                &[&profile.0],
                |row| ts(row, 0),
            )?
            .pop())
        })
    }

    fn delete_calendar_token(&self, profile: ProfileId) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM calendar_tokens WHERE profile_id = $1",
                &[&profile.0],
            )?;
            Ok(())
        })
    }

    fn save_screening(&self, s: &ScreeningRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO screenings (profile_id, id, taken_at, verdict, answers, result) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &s.profile_id.0,
                    &s.id.0,
                    &system_time(s.taken_at)?,
                    &s.verdict.id(),
                    &s.answers.to_json(),
                    &codec::encode_screening_result(&s.result)?,
                ],
            )
            .map_err(|e| {
                insert_error(e, || format!("screening {} already exists", s.id), || format!("profile {}", s.profile_id))
            })?;
            Ok(())
        })
    }

    fn latest_screening(&self, profile: ProfileId) -> Result<Option<ScreeningRecord>> {
        self.read(|tx| {
            let rows = collect(
                tx,
                "SELECT id, profile_id, taken_at, verdict, answers, result FROM screenings
                 WHERE profile_id = $1 ORDER BY taken_at DESC, id DESC LIMIT 1",
                &[&profile.0],
                |row| {
                    Ok(ScreeningRecord {
                        id: needlewise_core::ids::ScreeningId(row.try_get(0)?),
                        profile_id: ProfileId(row.try_get(1)?),
                        taken_at: ts(row, 2)?,
                        verdict: parse(row.try_get(3)?, "verdict")?,
                        answers: codec::screening_answers(&row.try_get::<_, Value>(4)?)?,
                        result: codec::decode_screening_result(row.try_get(5)?)?,
                    })
                },
            )?;
            Ok(rows.into_iter().next())
        })
    }

    fn add_device(&self, d: &Device) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO devices (profile_id, id, name, kind, state, use_count, damaged, created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &d.profile_id.0,
                    &d.id.0,
                    &d.name,
                    &json(&d.kind)?,
                    &json(&d.state)?,
                    &i64::from(d.use_count),
                    &d.damaged,
                    &system_time(d.created_at)?,
                    &system_time(d.updated_at)?,
                    &to_i64(d.version, "device version")?,
                ],
            )
            .map_err(|e| insert_error(e, || format!("device {} already exists", d.id), || format!("profile {}", d.profile_id)))?;
            Ok(())
        })
    }

    fn device(&self, profile: ProfileId, id: DeviceId) -> Result<Option<Device>> {
        self.read(|tx| {
            let sql =
                format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = $1 AND id = $2");
            Ok(collect(tx, &sql, &[&profile.0, &id.0], device_from_row)?.pop())
        })
    }

    fn devices(&self, profile: ProfileId) -> Result<Vec<Device>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = $1 ORDER BY created_at, id"
            );
            collect(tx, &sql, &[&profile.0], device_from_row)
        })
    }

    fn record_hygiene(&self, next: &Device, event: &HygieneEvent) -> Result<()> {
        self.write(|tx| store_device_change(tx, next, event))
    }

    fn hygiene_log(&self, profile: ProfileId, device: DeviceId) -> Result<Vec<HygieneLogEntry>> {
        self.read(|tx| {
            collect(
                tx,
                "SELECT at, event, state_after FROM hygiene_events WHERE profile_id = $1 AND device_id = $2 ORDER BY seq",
                &[&profile.0, &device.0],
                |row| {
                    Ok(HygieneLogEntry {
                        at: ts(row, 0)?,
                        event: json_parse(row.try_get(1)?, "hygiene event")?,
                        state_after: row.try_get(2)?,
                    })
                },
            )
        })
    }

    fn save_readiness_check(&self, c: &ReadinessCheckRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO readiness_checks (profile_id, id, device_id, at, answers, go, rule_ids)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &c.profile_id.0,
                    &c.id.0,
                    &c.device_id.map(|d| d.0),
                    &system_time(c.at)?,
                    &c.answers.to_json(),
                    &c.go,
                    &json(&c.rule_ids)?,
                ],
            )
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
                "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks WHERE profile_id = $1
                 ORDER BY at DESC, id DESC"
            );
            collect(tx, &sql, &[&profile.0], readiness_check_from_row)
        })
    }

    fn readiness_check(
        &self,
        profile: ProfileId,
        id: ReadinessCheckId,
    ) -> Result<Option<ReadinessCheckRecord>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {READINESS_CHECK_COLUMNS} FROM readiness_checks WHERE profile_id = $1 AND id = $2"
            );
            Ok(collect(tx, &sql, &[&profile.0, &id.0], readiness_check_from_row)?.pop())
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
                 WHERE profile_id = $1 AND device_id = $2 AND at <= $3
                 ORDER BY at DESC, id DESC LIMIT 1"
            );
            Ok(collect(
                tx,
                &sql,
                &[&profile.0, &device.0, &system_time(at)?],
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
            if let Some(d) = device {
                store_device_change(tx, d, &HygieneEvent::Use)?;
            }
            if let Some(check) = s.readiness_check_id {
                let known = tx
                    .query_opt(
                        "SELECT 1 FROM readiness_checks WHERE profile_id = $1 AND id = $2",
                        &[&s.profile_id.0, &check.0],
                    )?
                    .is_some();
                if !known {
                    return Err(StoreError::not_found(format!(
                        "readiness check {check} of profile {}",
                        s.profile_id
                    ))
                    .into());
                }
            }
            tx.execute(
                "INSERT INTO sessions (profile_id, id, device_id, started_at, ended_at, local_date, needle_length_mm, notes,
                                       setting, readiness_check_id)
                 VALUES ($1, $2, $3, $4, $5, $6::text::date, $7, $8, $9, $10)",
                &[
                    &s.profile_id.0,
                    &s.id.0,
                    &s.device_id.map(|d| d.0),
                    &system_time(s.started_at)?,
                    &system_time(s.ended_at)?,
                    &codec::date_text(s.local_date),
                    &s.needle_length_mm,
                    &s.notes,
                    &s.setting.id(),
                    &s.readiness_check_id.map(|c| c.0),
                ],
            )
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
            if !s.zones.is_empty() {
                let insert = tx.prepare(
                    "INSERT INTO session_zones (profile_id, session_id, position, zone, seconds, strokes, skipped)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )?;
                for (i, z) in s.zones.iter().enumerate() {
                    tx.execute(
                        &insert,
                        &[
                            &s.profile_id.0,
                            &s.id.0,
                            &position(i)?,
                            &z.zone.id(),
                            &i64::from(z.seconds),
                            &z.strokes.map(i64::from),
                            &z.skipped,
                        ],
                    )?;
                }
            }
            for (i, p) in s.products.iter().enumerate() {
                insert_product(tx, s.profile_id, s.id, position(i)?, p)?;
            }
            Ok(())
        })
    }

    fn sessions(&self, profile: ProfileId) -> Result<Vec<SessionRecord>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = $1 ORDER BY started_at DESC, id DESC"
            );
            let mut sessions = collect(tx, &sql, &[&profile.0], session_from_row)?;
            fill_sessions(tx, profile, &mut sessions, None)?;
            Ok(sessions)
        })
    }

    fn session(&self, profile: ProfileId, id: SessionId) -> Result<Option<SessionRecord>> {
        self.read(|tx| {
            let sql =
                format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = $1 AND id = $2");
            let mut sessions = collect(tx, &sql, &[&profile.0, &id.0], session_from_row)?;
            fill_sessions(tx, profile, &mut sessions, Some(id))?;
            Ok(sessions.pop())
        })
    }

    fn last_session(&self, profile: ProfileId) -> Result<Option<SessionRecord>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE profile_id = $1 ORDER BY ended_at DESC, id DESC LIMIT 1"
            );
            let mut sessions = collect(tx, &sql, &[&profile.0], session_from_row)?;
            let only = sessions.first().map(|s| s.id);
            fill_sessions(tx, profile, &mut sessions, only)?;
            Ok(sessions.pop())
        })
    }

    fn dashboard(&self, profile: ProfileId) -> Result<Dashboard> {
        self.read(|tx| {
            let key = &profile.0;
            let verdict = tx
                .query_opt(
                    "SELECT verdict FROM screenings WHERE profile_id = $1
                     ORDER BY taken_at DESC, id DESC LIMIT 1",
                    &[key],
                )?
                .map(|row| parse(row.try_get(0)?, "verdict"))
                .transpose()?;
            let last_session = tx
                .query_opt(
                    "SELECT ended_at, needle_length_mm FROM sessions
                     WHERE profile_id = $1 ORDER BY ended_at DESC, id DESC LIMIT 1",
                    &[key],
                )?
                .map(|row| {
                    Ok::<_, TxError>(LastSession {
                        ended_at: ts(&row, 0)?,
                        needle_length_mm: row.try_get(1)?,
                    })
                })
                .transpose()?;
            let locked: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM episodes
                     WHERE profile_id = $1 AND resolved_at IS NULL)",
                    &[key],
                )?
                .try_get(0)?;
            let latest_checkin = tx
                .query_opt(
                    "SELECT level FROM checkins WHERE profile_id = $1
                     ORDER BY at DESC, id DESC LIMIT 1",
                    &[key],
                )?
                .map(|row| parse(row.try_get(0)?, "check-in level"))
                .transpose()?;
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE profile_id = $1 ORDER BY created_at, id"
            );
            let devices = collect(tx, &sql, &[key], device_from_row)?;
            let protocol = tx
                .query_opt(clinic::ACTIVE_PROTOCOL, &[key])?
                .map(|row| clinic::protocol_from(row.try_get(0)?))
                .transpose()?;
            Ok(Dashboard {
                verdict,
                last_session,
                locked,
                devices,
                latest_checkin,
                protocol,
            })
        })
    }

    fn add_product_use(
        &self,
        profile: ProfileId,
        session: SessionId,
        product: &ProductUse,
    ) -> Result<()> {
        self.write(|tx| {
            let next: i32 = tx
                .query_one(
                    "SELECT COALESCE(MAX(position) + 1, 0) FROM session_products WHERE profile_id = $1 AND session_id = $2",
                    &[&profile.0, &session.0],
                )?
                .try_get(0)?;
            insert_product(tx, profile, session, next, product).map_err(|e| match e {
                TxError::Store(StoreError::NotFound { .. }) => StoreError::not_found(format!("session {session}")).into(),
                other => other,
            })
        })
    }

    fn save_checkin(&self, c: &CheckinRecord, episode: Option<&Episode>) -> Result<()> {
        if let Some(e) = episode {
            check_checkin_episode(c, e)?;
        }
        self.write(|tx| {
            insert_checkin(tx, c)?;
            if let Some(e) = episode {
                tx.execute(
                    "INSERT INTO episodes (profile_id, id, checkin_id, level, opened_at, resolved_at, resolution, resolver)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &e.profile_id.0,
                        &e.id.0,
                        &e.checkin_id.0,
                        &e.level.id(),
                        &system_time(e.opened_at)?,
                        &e.resolved_at.map(system_time).transpose()?,
                        &e.resolution,
                        &e.resolver.as_ref().map(codec::encode_resolver).transpose()?,
                    ],
                )
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
                 WHERE profile_id = $1 ORDER BY at DESC, id DESC",
                &[&profile.0],
                checkin_from_row,
            )
        })
    }

    fn episodes(&self, profile: ProfileId) -> Result<Vec<Episode>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {EPISODE_COLUMNS} FROM episodes WHERE profile_id = $1 ORDER BY opened_at DESC, id DESC"
            );
            collect(tx, &sql, &[&profile.0], episode_from_row)
        })
    }

    fn open_episodes(&self, profile: ProfileId) -> Result<Vec<Episode>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {EPISODE_COLUMNS} FROM episodes WHERE profile_id = $1 AND resolved_at IS NULL
                 ORDER BY opened_at DESC, id DESC"
            );
            collect(tx, &sql, &[&profile.0], episode_from_row)
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
        self.write(|tx| {
            if let Some(c) = checkin {
                insert_checkin(tx, c)?;
            }
            resolve_open_episode(tx, profile, id, at, note, resolver)
        })
    }

    fn add_rating(&self, r: &Rating) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO ratings (profile_id, id, zone, concern, score, rated_at, note) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &r.profile_id.0,
                    &r.id.0,
                    &r.zone.id(),
                    &r.concern.id(),
                    &i16::from(r.score.value()),
                    &system_time(r.rated_at)?,
                    &r.note,
                ],
            )
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
                "SELECT {RATING_COLUMNS} FROM ratings WHERE profile_id = $1 ORDER BY rated_at, id"
            );
            collect(tx, &sql, &[&profile.0], rating_from_row)
        })
    }

    fn delete_rating(&self, profile: ProfileId, id: RatingId) -> Result<()> {
        self.write(|tx| {
            let deleted = tx.execute(
                "DELETE FROM ratings WHERE profile_id = $1 AND id = $2",
                &[&profile.0, &id.0],
            )?;
            if deleted == 0 {
                return Err(StoreError::not_found(format!("rating {id}")).into());
            }
            Ok(())
        })
    }

    fn add_photo(&self, p: &Photo) -> Result<()> {
        codec::check_photo(p)?;
        let width = to_i32(p.width, "photo width")?;
        let height = to_i32(p.height, "photo height")?;
        let bytes = to_i64(p.bytes, "photo size")?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO photos (profile_id, id, taken_at, zone, width, height, bytes, sha256, content_type, stored_name)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &p.profile_id.0,
                    &p.id.0,
                    &system_time(p.taken_at)?,
                    &p.zone.map(|z| z.id()),
                    &width,
                    &height,
                    &bytes,
                    &p.sha256,
                    &p.content_type,
                    &p.stored_name,
                ],
            )
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
                "SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = $1 ORDER BY taken_at, id"
            );
            collect(tx, &sql, &[&profile.0], photo_from_row)
        })
    }

    fn photo(&self, profile: ProfileId, id: PhotoId) -> Result<Option<Photo>> {
        self.read(|tx| {
            let sql =
                format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = $1 AND id = $2");
            Ok(collect(tx, &sql, &[&profile.0, &id.0], photo_from_row)?.pop())
        })
    }

    fn delete_photo(&self, profile: ProfileId, id: PhotoId) -> Result<()> {
        self.write(|tx| {
            let deleted = tx.execute(
                "DELETE FROM photos WHERE profile_id = $1 AND id = $2",
                &[&profile.0, &id.0],
            )?;
            if deleted == 0 {
                return Err(StoreError::not_found(format!("photo {id}")).into());
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
            let row = tx.query_one(
                "SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM screenings),
                        (SELECT count(*) FROM devices), (SELECT count(*) FROM hygiene_events),
                        (SELECT count(*) FROM sessions), (SELECT count(*) FROM checkins),
                        (SELECT count(*) FROM episodes), (SELECT count(*) FROM accounts),
                        (SELECT count(*) FROM web_sessions)",
                &[],
            )?;
            let n = |i: usize| -> TxResult<u64> { Ok(to_u64(row.try_get(i)?, "row count")?) };
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
