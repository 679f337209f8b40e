//! Snapshots and restores on SQLite (see `crate::snapshot`).

use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Transaction, params_from_iter};

use super::SqliteStore;
use crate::snapshot::{Cell, ColType, OrderCheck, RestoreMode, SnapshotRow, TABLES, TableDef};
use crate::{Result, StoreError};

const LOCAL: &str = "00000000-0000-0000-0000-000000000000";

fn select_sql(t: &TableDef) -> String {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
    let key: Vec<&str> = t.key.iter().map(|&i| t.columns[i].name).collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        t.name,
        key.join(", ")
    )
}

fn cell(t: &TableDef, i: usize, v: ValueRef<'_>) -> Result<Cell> {
    let c = &t.columns[i];
    let wrong = || {
        StoreError::invalid(format!(
            "table {}, column {}: the stored value is not {}",
            t.name,
            c.name,
            crate::snapshot::type_name(c.ty)
        ))
    };
    let text = |b: &[u8]| -> Result<String> {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| wrong())
    };
    Ok(match (c.ty, v) {
        (_, ValueRef::Null) if c.nullable => Cell::Null,
        (ColType::Uuid | ColType::Text | ColType::Date, ValueRef::Text(b)) => Cell::Text(text(b)?),
        (ColType::Int | ColType::Timestamp, ValueRef::Integer(n)) => Cell::Int(n),
        (ColType::Bool, ValueRef::Integer(n)) => Cell::Bool(n != 0),
        (ColType::Real, ValueRef::Real(f)) => Cell::Real(f),
        (ColType::Real, ValueRef::Integer(n)) => Cell::Real(n as f64),
        (ColType::Json, ValueRef::Text(b)) => {
            Cell::Json(serde_json::from_slice(b).map_err(|_| wrong())?)
        }
        _ => return Err(wrong()),
    })
}

pub(super) fn snapshot_rows(
    store: &SqliteStore,
    sink: &mut dyn FnMut(SnapshotRow) -> Result<()>,
) -> Result<()> {
    // One read transaction: WAL gives it one snapshot of the file, however
    // much is written meanwhile.
    store.read(|tx| {
        for (index, t) in TABLES.iter().enumerate() {
            let mut stmt = tx.prepare(&select_sql(t))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let mut cells = Vec::with_capacity(t.columns.len());
                for i in 0..t.columns.len() {
                    cells.push(cell(t, i, r.get_ref(i)?)?);
                }
                sink(SnapshotRow {
                    table: index,
                    cells,
                })?;
            }
        }
        Ok(())
    })
}

fn to_sql(c: &Cell) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match c {
        Cell::Null => V::Null,
        Cell::Int(n) => V::Integer(*n),
        Cell::Real(f) => V::Real(*f),
        Cell::Bool(b) => V::Integer(i64::from(*b)),
        Cell::Text(s) => V::Text(s.clone()),
        Cell::Json(v) => V::Text(v.to_string()),
    }
}

/// Whether the store holds anything but the local account.
fn holds_data(tx: &Transaction<'_>) -> Result<Option<&'static str>> {
    for t in TABLES {
        let sql = if t.name == "accounts" {
            format!("SELECT 1 FROM accounts WHERE id <> '{LOCAL}' LIMIT 1")
        } else {
            format!("SELECT 1 FROM {} LIMIT 1", t.name)
        };
        if tx.query_row(&sql, [], |_| Ok(())).optional()?.is_some() {
            return Ok(Some(t.name));
        }
    }
    Ok(None)
}

pub(super) fn restore_rows(
    store: &SqliteStore,
    rows: &mut dyn Iterator<Item = Result<SnapshotRow>>,
    mode: RestoreMode,
) -> Result<u64> {
    let n = store.write(|tx| {
        if mode == RestoreMode::IntoEmpty
            && let Some(table) = holds_data(tx)?
        {
            return Err(StoreError::conflict(format!(
                "the target store is not empty (table {table} has rows); restore into a new store or replace its data"
            )));
        }
        for t in TABLES.iter().rev() {
            tx.execute(&format!("DELETE FROM {}", t.name), [])?;
        }
        let inserts: Vec<String> = TABLES
            .iter()
            .map(|t| {
                let cols: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
                let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
                format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    t.name,
                    cols.join(", "),
                    marks.join(", ")
                )
            })
            .collect();
        let mut order = OrderCheck::default();
        let mut n = 0u64;
        for row in rows {
            let row = row?;
            order.check(&row)?;
            let t = row.def();
            tx.prepare_cached(&inserts[row.table])?
                .execute(params_from_iter(row.cells.iter().map(to_sql)))
                .map_err(|e| {
                    StoreError::invalid(format!(
                        "table {}, row ({}): cannot be stored: {e}",
                        t.name,
                        t.describe_key(&row.cells)
                    ))
                })?;
            n += 1;
        }
        let local: Option<i64> = tx
            .query_row(
                &format!("SELECT 1 FROM accounts WHERE id = '{LOCAL}'"),
                [],
                |r| r.get(0),
            )
            .optional()?;
        if local.is_none() {
            return Err(StoreError::invalid(
                "the data has no local account (id 00000000-0000-0000-0000-000000000000), which every store has",
            ));
        }
        Ok(n)
    })?;
    if mode == RestoreMode::Replace {
        scrub(store)?;
    }
    Ok(n)
}

/// Makes deleted rows unrecoverable from the files: with `secure_delete`
/// their pages were overwritten with zeros; checkpointing moves those
/// pages into the database file and truncates the write-ahead log, where
/// older copies of the pages would otherwise linger.
///
/// Best effort: a reader in the middle of a long read (a backup) keeps the
/// log busy; then the log is truncated by a later checkpoint or when the
/// last connection closes. The deletion itself has committed either way.
pub(super) fn scrub(store: &SqliteStore) -> Result<()> {
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
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    result
}
