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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{FromSql, IsNull, ToSql, Type};
use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls};
use serde_json::Value;
use uuid::Uuid;

use crate::codec::{self, Applied, Migration, from_system_time, system_time};
use crate::error::pg_message;
use crate::sql::{
    Backend, Dialect, Isolation, Row as SqlRow, RowSink, Tx, Value as SqlValue, dollar_placeholders,
};
use crate::{Result, StoreError};

const MIGRATIONS: &[Migration] = codec::POSTGRES_MIGRATIONS;

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
    /// The statements prepared on `client`, by their SQL: each is parsed
    /// once per connection (and, after a few runs, planned once).
    /// Emptied when the connection is replaced.
    prepared: HashMap<String, Prepared>,
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
            slot.prepared.clear();
            slot.client = Some(connect_client(&self.config, self.schema.as_deref())?);
        }
        Ok(conn)
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
        .map_err(|e| StoreError::backend_caused(format!("invalid PostgreSQL URL: {e}"), e))?;
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
        prepared: HashMap::new(),
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
        StoreError::backend_caused(
            format!("cannot connect to PostgreSQL{target}: {}", pg_message(&e)),
            e,
        )
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

/// The PostgreSQL side of [`crate::sql`]: each value is bound as the type
/// the statement's parameter has.
impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Bool(b) => b.to_sql(ty, out),
            SqlValue::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            SqlValue::Real(x) => x.to_sql(ty, out),
            SqlValue::Text(s) => match *ty {
                Type::UUID => Uuid::parse_str(s)?.to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
            SqlValue::Id(u) => match *ty {
                Type::TEXT | Type::VARCHAR => u.hyphenated().to_string().to_sql(ty, out),
                _ => u.to_sql(ty, out),
            },
            SqlValue::Time(t) => system_time(*t)?.to_sql(ty, out),
            SqlValue::Json(j) => j.to_sql(ty, out),
            SqlValue::Date(d) => match *ty {
                Type::DATE => {
                    let days = PG_EPOCH.until(*d)?.get_days();
                    out.extend_from_slice(&days.to_be_bytes());
                    Ok(IsNull::No)
                }
                _ => codec::date_text(*d).to_sql(ty, out),
            },
            SqlValue::List(items) => match *ty {
                Type::UUID_ARRAY => items
                    .iter()
                    .map(|v| match v {
                        SqlValue::Id(u) => Ok(*u),
                        _ => Err("a uuid[] parameter takes ids"),
                    })
                    .collect::<std::result::Result<Vec<Uuid>, _>>()?
                    .to_sql(ty, out),
                _ => items
                    .iter()
                    .map(|v| match v {
                        SqlValue::Text(s) => Ok(s.as_str()),
                        _ => Err("a text[] parameter takes text"),
                    })
                    .collect::<std::result::Result<Vec<&str>, _>>()?
                    .to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// Day 0 of PostgreSQL's `date`.
const PG_EPOCH: jiff::civil::Date = jiff::civil::date(2000, 1, 1);

impl<'a> FromSql<'a> for SqlValue {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::BOOL => SqlValue::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => SqlValue::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => SqlValue::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => SqlValue::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => SqlValue::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw)?),
            Type::UUID => SqlValue::Id(Uuid::from_sql(ty, raw)?),
            Type::TIMESTAMPTZ | Type::TIMESTAMP => {
                SqlValue::Time(from_system_time(SystemTime::from_sql(ty, raw)?)?)
            }
            Type::JSON | Type::JSONB => SqlValue::Json(Value::from_sql(ty, raw)?),
            Type::DATE => {
                let days = i32::from_sql(&Type::INT4, raw)?;
                SqlValue::Date(PG_EPOCH.checked_add(jiff::Span::new().days(days))?)
            }
            Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => SqlValue::List(
                Vec::<String>::from_sql(ty, raw)?
                    .into_iter()
                    .map(SqlValue::Text)
                    .collect(),
            ),
            Type::UUID_ARRAY => SqlValue::List(
                Vec::<Uuid>::from_sql(ty, raw)?
                    .into_iter()
                    .map(SqlValue::Id)
                    .collect(),
            ),
            Type::TIMESTAMPTZ_ARRAY => SqlValue::List(
                Vec::<SystemTime>::from_sql(ty, raw)?
                    .into_iter()
                    .map(|t| from_system_time(t).map(SqlValue::Time))
                    .collect::<Result<_>>()?,
            ),
            _ => SqlValue::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(SqlValue::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A statement prepared on a connection, with its columns' names.
#[derive(Clone)]
struct Prepared {
    statement: postgres::Statement,
    names: Arc<[String]>,
}

/// Statements on one connection (in a transaction or not), each prepared
/// once per connection and kept in the connection's slot.
struct PgTx<'a, C> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Prepared>,
}

impl<C: GenericClient> PgTx<'_, C> {
    fn prepared(&mut self, sql: &str) -> Result<Prepared> {
        if let Some(prepared) = self.statements.get(sql) {
            return Ok(prepared.clone());
        }
        let statement = self.client.prepare(&dollar_placeholders(sql))?;
        let names = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let prepared = Prepared { statement, names };
        self.statements.insert(sql.to_owned(), prepared.clone());
        Ok(prepared)
    }
}

impl<C: GenericClient> Tx for PgTx<'_, C> {
    fn each(&mut self, sql: &str, args: &[SqlValue], f: RowSink<'_>) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let Prepared { statement, names } = self.prepared(sql)?;
        let params = args.iter().map(|a| a as &dyn ToSql);
        let mut rows = self.client.query_raw(&statement, params)?;
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                values.push(row.try_get::<_, SqlValue>(i)?);
            }
            f(SqlRow::new(Arc::clone(&names), values))?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, args: &[SqlValue]) -> Result<u64> {
        let statement = self.prepared(sql)?.statement;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        Ok(self.client.execute(&statement, &params)?)
    }

    /// One `COPY … FROM STDIN (FORMAT binary)`: each value is written as
    /// the type its column has, read from the table itself (a prepared
    /// `SELECT` of the columns), so a value the column cannot hold fails
    /// here as it would when bound to an INSERT.
    fn append(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut dyn Iterator<Item = Vec<SqlValue>>,
    ) -> Result<u64> {
        let columns = columns.join(", ");
        let types: Vec<Type> = self
            .prepared(&format!("SELECT {columns} FROM {table} LIMIT 0"))?
            .statement
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let copy = format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)");
        let mut writer = BinaryCopyInWriter::new(
            self.client.copy_in(copy.as_str()).map_err(copy_error)?,
            &types,
        );
        for row in rows {
            writer
                .write_raw(row.iter().map(|v| v as &dyn ToSql))
                .map_err(copy_error)?;
        }
        writer.finish().map_err(copy_error)
    }
}

/// A failed COPY: the driver's error, and which row it was where the
/// server says so: the key of a missing parent or a taken primary key
/// (ids, as a row-by-row restore names its row), else where the server
/// was in the stream (`COPY sessions, line 3`). No other detail, which
/// may quote a row's values.
fn copy_error(e: postgres::Error) -> StoreError {
    let which = e.as_db_error().and_then(|db| {
        let key = match *db.code() {
            SqlState::FOREIGN_KEY_VIOLATION => true,
            SqlState::UNIQUE_VIOLATION => db.constraint().is_some_and(|c| c.ends_with("_pkey")),
            _ => false,
        };
        match (key, db.detail(), db.where_()) {
            (true, Some(detail), _) => Some(format!("; {detail}")),
            (_, _, Some(place)) => Some(format!(" ({})", place.lines().next().unwrap_or(place))),
            _ => None,
        }
    });
    match (StoreError::from(e), which) {
        (StoreError::Backend(b), Some(which)) => StoreError::Backend(b.with_suffix(&which)),
        (other, _) => other,
    }
}

impl Conn<'_> {
    /// The connection and its slot's prepared statements.
    fn parts(&mut self) -> (&mut Client, &mut HashMap<String, Prepared>) {
        let slot = self
            .slot
            .as_mut()
            .unwrap_or_else(|| unreachable!("a taken slot is held"));
        let Slot { client, prepared } = &mut **slot;
        let client = client
            .as_mut()
            .unwrap_or_else(|| unreachable!("a taken slot is connected"));
        (client, prepared)
    }
}

/// One write transaction on `conn`, committed if `f` succeeds.
fn write_in<T>(
    conn: &mut Conn<'_>,
    isolation: Isolation,
    f: impl FnOnce(&mut dyn Tx) -> Result<T>,
) -> Result<T> {
    let level = match isolation {
        Isolation::Serializable => IsolationLevel::Serializable,
        Isolation::Snapshot => IsolationLevel::RepeatableRead,
        Isolation::Statement => IsolationLevel::ReadCommitted,
    };
    let (client, statements) = conn.parts();
    let mut tx = client.build_transaction().isolation_level(level).start()?;
    let value = f(&mut PgTx {
        client: &mut tx,
        statements,
    })?;
    tx.commit()?;
    Ok(value)
}

impl Backend for PostgresStore {
    const NAME: &'static str = "postgres";
    const DIALECT: Dialect = Dialect::Postgres;

    /// A read-only REPEATABLE READ transaction: every statement sees the
    /// same snapshot.
    fn read<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.client()?;
        let (client, statements) = conn.parts();
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let value = f(&mut PgTx {
            client: &mut tx,
            statements,
        })?;
        tx.commit()?;
        Ok(value)
    }

    /// One statement on its own, without BEGIN and COMMIT: one round trip
    /// instead of three for the small reads every page makes.
    fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.client()?;
        let (client, statements) = conn.parts();
        f(&mut PgTx { client, statements })
    }

    /// Retried as a whole on serialization failures and deadlocks.
    fn write_at<T>(
        &self,
        isolation: Isolation,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.client()?;
        let mut attempt = 1;
        loop {
            match write_in(&mut conn, isolation, &mut f) {
                Err(e) if attempt < MAX_ATTEMPTS && e.is_transient() => {
                    std::thread::sleep(Duration::from_millis(5 << attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn write_once<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        write_in(&mut self.client()?, Isolation::Serializable, f)
    }
}
