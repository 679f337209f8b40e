//! The embedded store: one SQLite file in WAL mode with durable commits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::codec::{self, Applied, Migration, micros};
use crate::sql::{Backend, Dialect, Isolation, Row as SqlRow, RowSink, Tx, Value as SqlValue};
use crate::{Result, StoreError};

const MIGRATIONS: &[Migration] = codec::SQLITE_MIGRATIONS;

fn cannot_open(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::backend_caused(format!("cannot open {}: {e}", path.display()), e)
}

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
    conn: Mutex<LiteConn>,
    /// Read-only connections to the same file; empty in memory.
    readers: Vec<Mutex<LiteConn>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date. Commits are durable: WAL with `synchronous=FULL`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::backend_caused(
                    format!("cannot create the directory {}: {e}", dir.display()),
                    e,
                )
            })?;
        }
        let conn = Connection::open(path).map_err(|e| cannot_open(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::backend(format!(
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
            .map_err(|e| cannot_open(path, e))?;
            reader.busy_timeout(BUSY_TIMEOUT)?;
            stable_plans(&reader)?;
            cache_pages(&reader)?;
            reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            store.readers.push(Mutex::new(LiteConn::new(reader)));
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
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(LiteConn::new(conn)),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A free reader if there is one, else the next in turn (or the writer,
    /// in memory).
    fn reader(&self) -> MutexGuard<'_, LiteConn> {
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

    fn conn(&self) -> MutexGuard<'_, LiteConn> {
        // A panic while holding the lock rolled its transaction back (the
        // transaction's Drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one write transaction, taking the write lock up front so
    /// two processes never deadlock upgrading a read lock.
    fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut guard = self.conn();
        let LiteConn { conn, names } = &mut *guard;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&mut LiteTx { conn: &tx, names })?;
        tx.commit()?;
        Ok(value)
    }

    /// A reader with no transaction left open by a panic inside an earlier
    /// read (the lock was poisoned and taken over).
    fn clean_reader(&self) -> Result<MutexGuard<'_, LiteConn>> {
        let conn = self.reader();
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
        Ok(conn)
    }
}

impl std::ops::Deref for LiteConn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// A connection and the column names of the statements it ran.
#[derive(Debug)]
struct LiteConn {
    conn: Connection,
    names: ColumnNames,
}

impl LiteConn {
    fn new(conn: Connection) -> Self {
        LiteConn {
            conn,
            names: ColumnNames::default(),
        }
    }
}

/// The column names of statements, so a row need not copy them each time.
/// Keyed by where the statement's text is (most are built once) and
/// checked against the text; emptied when it holds more statements than
/// the statement cache.
#[derive(Debug, Default)]
struct ColumnNames(HashMap<(usize, usize), Named>);

/// A statement's text and its columns' names.
type Named = (String, Arc<[String]>);

impl ColumnNames {
    fn of(&mut self, sql: &str, stmt: &rusqlite::Statement<'_>) -> Arc<[String]> {
        let key = (sql.as_ptr() as usize, sql.len());
        if let Some((text, names)) = self.0.get(&key)
            && text == sql
        {
            return Arc::clone(names);
        }
        if self.0.len() >= STATEMENT_CACHE {
            self.0.clear();
        }
        let names: Arc<[String]> = stmt.column_names().map(str::to_owned).collect();
        self.0.insert(key, (sql.to_owned(), Arc::clone(&names)));
        names
    }
}

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

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

fn id_text(id: uuid::Uuid) -> String {
    id.hyphenated().to_string()
}

/// The SQLite side of [`crate::sql`]: ids as text, instants as
/// microseconds, JSON and dates as text, booleans as integers.
impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V, ValueRef};
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Owned(V::Null),
            SqlValue::Bool(b) => ToSqlOutput::Owned(V::Integer(i64::from(*b))),
            SqlValue::Int(n) => ToSqlOutput::Owned(V::Integer(*n)),
            SqlValue::Real(x) => ToSqlOutput::Owned(V::Real(*x)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Id(u) => ToSqlOutput::Owned(V::Text(id_text(*u))),
            SqlValue::Time(t) => ToSqlOutput::Owned(V::Integer(micros(*t))),
            SqlValue::Json(j) => ToSqlOutput::Owned(V::Text(j.to_string())),
            SqlValue::Date(d) => ToSqlOutput::Owned(V::Text(codec::date_text(*d))),
            // A JSON array, for `json_each` (see `Dialect::ids`).
            SqlValue::List(items) => ToSqlOutput::Owned(V::Text(
                serde_json::Value::Array(
                    items
                        .iter()
                        .map(|v| match v {
                            SqlValue::Id(u) => serde_json::Value::String(id_text(*u)),
                            SqlValue::Text(s) => serde_json::Value::String(s.clone()),
                            SqlValue::Int(n) => serde_json::Value::from(*n),
                            _ => serde_json::Value::Null,
                        })
                        .collect(),
                )
                .to_string(),
            )),
        })
    }
}

fn lite_value(v: rusqlite::types::ValueRef<'_>) -> Result<SqlValue> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Int(n),
        ValueRef::Real(x) => SqlValue::Real(x),
        ValueRef::Text(t) => SqlValue::Text(
            std::str::from_utf8(t)
                .map_err(|_| StoreError::invalid("stored text is not UTF-8"))?
                .to_owned(),
        ),
        ValueRef::Blob(_) => return Err(StoreError::invalid("the store keeps no blobs")),
    })
}

/// Statements on one connection, inside whatever transaction it is in.
struct LiteTx<'c> {
    conn: &'c Connection,
    names: &'c mut ColumnNames,
}

impl Tx for LiteTx<'_> {
    fn each(&mut self, sql: &str, args: &[SqlValue], f: RowSink<'_>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let names = self.names.of(sql, &stmt);
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            // Sized up front: collecting through `?` would grow it step
            // by step.
            let mut values = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                values.push(lite_value(row.get_ref(i)?)?);
            }
            f(SqlRow::new(Arc::clone(&names), values))?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, args: &[SqlValue]) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(args))?;
        Ok(n as u64)
    }
}

impl Backend for SqliteStore {
    const NAME: &'static str = "sqlite";
    const DIALECT: Dialect = Dialect::Sqlite;

    /// One read transaction, so multi-query reads are consistent. `BEGIN`
    /// and `COMMIT` are cached statements: on the hot pages, parsing them
    /// anew for every read cost more than the reads.
    fn read<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut guard = self.clean_reader()?;
        let LiteConn { conn, names } = &mut *guard;
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        let value = f(&mut LiteTx { conn, names });
        // A read has nothing to keep, so its end is the same either way.
        conn.prepare_cached("COMMIT")?.execute([])?;
        value
    }

    /// A single statement on a reader without `BEGIN` and `COMMIT`: one
    /// statement is its own read transaction, consistent on its own.
    fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut guard = self.clean_reader()?;
        let LiteConn { conn, names } = &mut *guard;
        f(&mut LiteTx { conn, names })
    }

    fn write_at<T>(&self, _: Isolation, mut f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
        SqliteStore::write(self, |tx| f(tx))
    }

    fn write_once<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        SqliteStore::write(self, f)
    }

    fn reads_in_place(&self) -> bool {
        // In memory there are no read-only connections: reads share the
        // writer's lock and could wait on a write.
        !self.readers.is_empty()
    }

    fn after_erase(&self) -> Result<()> {
        scrub(self)
    }
}

/// Makes deleted rows unrecoverable from the files: with `secure_delete`
/// their pages were overwritten with zeros; checkpointing moves those
/// pages into the database file and truncates the write-ahead log, where
/// older copies of the pages would otherwise linger.
///
/// Best effort: a reader in the middle of a long read (a backup) keeps the
/// log busy; then the log is truncated by a later checkpoint or when the
/// last connection closes. The deletion itself has committed either way.
fn scrub(store: &SqliteStore) -> Result<()> {
    let conn = store.conn();
    // Wait for readers briefly, not the writer's usual 5 s.
    conn.busy_timeout(std::time::Duration::from_millis(100))?;
    let mut result = Ok(());
    for attempt in 0..3u32 {
        match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(0) => break,
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(20 << attempt)),
            Err(e) => {
                result = Err(e.into());
                break;
            }
        }
    }
    conn.busy_timeout(BUSY_TIMEOUT)?;
    result
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
