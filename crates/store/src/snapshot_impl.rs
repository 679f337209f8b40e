//! Snapshots and restores (see [`crate::snapshot`]) written once over
//! [`Backend`]: each table's rows stream out of one read transaction as
//! [`Cell`]s, and go back in one write transaction.

use crate::codec::{self, from_micros};
use crate::snapshot::{Cell, ColType, OrderCheck, RestoreMode, SnapshotRow, TABLES, TableDef};
use crate::sql::{Backend, Row, Tx, Value};
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

/// A stored value as the snapshot's cell of column `i`, the same on
/// either backend.
fn cell(t: &TableDef, i: usize, v: &Value) -> Result<Cell> {
    let c = &t.columns[i];
    let wrong = || {
        StoreError::invalid(format!(
            "table {}, column {}: the stored value is not {}",
            t.name,
            c.name,
            crate::snapshot::type_name(c.ty)
        ))
    };
    Ok(match (c.ty, v) {
        (_, Value::Null) if c.nullable => Cell::Null,
        (ColType::Uuid | ColType::Text | ColType::Date, Value::Text(s)) => Cell::Text(s.clone()),
        (ColType::Uuid, Value::Id(u)) => Cell::Text(u.hyphenated().to_string()),
        (ColType::Date, Value::Date(d)) => Cell::Text(codec::date_text(*d)),
        (ColType::Int | ColType::Timestamp, Value::Int(n)) => Cell::Int(*n),
        (ColType::Timestamp, Value::Time(t)) => Cell::Int(t.as_microsecond()),
        (ColType::Bool, Value::Int(n)) => Cell::Bool(*n != 0),
        (ColType::Bool, Value::Bool(b)) => Cell::Bool(*b),
        (ColType::Real, Value::Real(f)) => Cell::Real(*f),
        #[allow(clippy::cast_precision_loss)]
        (ColType::Real, Value::Int(n)) => Cell::Real(*n as f64),
        (ColType::Json, Value::Json(j)) => Cell::Json(j.clone()),
        (ColType::Json, Value::Text(s)) => {
            Cell::Json(serde_json::from_str(s).map_err(|_| wrong())?)
        }
        _ => return Err(wrong()),
    })
}

/// A cell as the value to store in a column of type `ty`.
fn value(ty: ColType, c: &Cell) -> Result<Value> {
    Ok(match (ty, c) {
        (_, Cell::Null) => Value::Null,
        (ColType::Timestamp, Cell::Int(us)) => Value::Time(from_micros(*us)?),
        (ColType::Date, Cell::Text(s)) => Value::Date(codec::parse_date(s)?),
        (_, Cell::Int(n)) => Value::Int(*n),
        (_, Cell::Real(f)) => Value::Real(*f),
        (_, Cell::Bool(b)) => Value::Bool(*b),
        (_, Cell::Text(s)) => Value::Text(s.clone()),
        (_, Cell::Json(v)) => Value::Json(v.clone()),
    })
}

/// See [`crate::Store::snapshot_rows`]: one read transaction, so every
/// table is read from the same snapshot while the store goes on writing.
pub(crate) fn snapshot_rows<B: Backend>(
    store: &B,
    sink: &mut dyn FnMut(SnapshotRow) -> Result<()>,
) -> Result<()> {
    store.read(|tx| {
        for (index, t) in TABLES.iter().enumerate() {
            tx.each(&select_sql(t), &[], &mut |row: Row| {
                let cells = (0..t.columns.len())
                    .map(|i| cell(t, i, row.at(i)))
                    .collect::<Result<Vec<_>>>()?;
                sink(SnapshotRow {
                    table: index,
                    cells,
                })
            })?;
        }
        Ok(())
    })
}

/// See [`crate::Store::snapshot_row_count`].
pub(crate) fn row_count<B: Backend>(store: &B) -> Result<u64> {
    let counts: Vec<String> = TABLES
        .iter()
        .map(|t| format!("(SELECT count(*) FROM {})", t.name))
        .collect();
    let sql = format!("SELECT {} AS n", counts.join(" + "));
    let n = store.read_one(|tx| tx.first(&sql, &[], |r| r.int("n")))?;
    u64::try_from(n.unwrap_or(0))
        .map_err(|_| StoreError::invalid("a negative row count".to_owned()))
}

/// Whether the store holds anything but the local account.
fn holds_data(tx: &mut dyn Tx) -> Result<Option<&'static str>> {
    for t in TABLES {
        let sql = if t.name == "accounts" {
            format!("SELECT 1 FROM accounts WHERE id <> '{LOCAL}' LIMIT 1")
        } else {
            format!("SELECT 1 FROM {} LIMIT 1", t.name)
        };
        if tx.exists(&sql, &[])? {
            return Ok(Some(t.name));
        }
    }
    Ok(None)
}

/// See [`crate::Store::restore_rows`]. One write transaction, not retried:
/// the rows cannot be read twice. Any error rolls all of it back.
///
/// Each table's rows go in as one stream ([`Tx::append`]: a binary COPY
/// on PostgreSQL), between the dialect's bulk-load statements (on
/// PostgreSQL the facts triggers are off meanwhile, and the facts are
/// rebuilt once at the end).
pub(crate) fn restore_rows<B: Backend>(
    store: &B,
    rows: &mut dyn Iterator<Item = Result<SnapshotRow>>,
    mode: RestoreMode,
) -> Result<u64> {
    let dialect = B::DIALECT;
    let n = store.write_once(|tx| {
        if mode == RestoreMode::IntoEmpty
            && let Some(table) = holds_data(tx)?
        {
            return Err(StoreError::conflict(format!(
                "the target store is not empty (table {table} has rows); restore into a new store or replace its data"
            )));
        }
        for sql in dialect.bulk_load_start() {
            tx.execute(sql, &[])?;
        }
        for t in TABLES.iter().rev() {
            tx.execute(&format!("DELETE FROM {}", t.name), &[])?;
        }
        let columns: Vec<Vec<&str>> = TABLES
            .iter()
            .map(|t| t.columns.iter().map(|c| c.name).collect())
            .collect();
        let mut order = OrderCheck::default();
        // The first row of the next table, taken while appending the last.
        let mut next: Option<SnapshotRow> = None;
        let mut n = 0u64;
        loop {
            let first = match next.take() {
                Some(row) => row,
                None => match rows.next() {
                    None => break,
                    Some(row) => {
                        let row = row?;
                        order.check(&row)?;
                        row
                    }
                },
            };
            let table = first.table;
            let t = first.def();
            // The table's rows as values: a failed read or check ends the
            // stream and is returned once the table is appended, so it
            // rolls everything back. The last row taken is kept for the
            // message if storing it fails.
            let mut failed: Option<StoreError> = None;
            let mut last: Option<SnapshotRow> = None;
            let mut pending = Some(first);
            let mut values = std::iter::from_fn(|| {
                let row = match pending.take() {
                    Some(row) => row,
                    None => match rows.next()? {
                        Err(e) => {
                            failed = Some(e);
                            return None;
                        }
                        Ok(row) => {
                            if let Err(e) = order.check(&row) {
                                failed = Some(e);
                                return None;
                            }
                            if row.table != table {
                                next = Some(row);
                                return None;
                            }
                            row
                        }
                    },
                };
                let args = t
                    .columns
                    .iter()
                    .zip(&row.cells)
                    .map(|(c, cell)| value(c.ty, cell))
                    .collect::<Result<Vec<_>>>();
                last = Some(row);
                match args {
                    Ok(args) => Some(args),
                    Err(e) => {
                        failed = Some(e);
                        None
                    }
                }
            });
            let appended = tx.append(t.name, &columns[table], &mut values);
            if let Some(e) = failed {
                return Err(e);
            }
            n += appended.map_err(|e| {
                StoreError::invalid(match (&last, dialect.appends_in_bulk()) {
                    (Some(row), false) => format!(
                        "table {}, row ({}): cannot be stored: {e}",
                        t.name,
                        t.describe_key(&row.cells)
                    ),
                    _ => format!("table {}: the rows cannot be stored: {e}", t.name),
                })
            })?;
        }
        if !tx.exists(&format!("SELECT 1 FROM accounts WHERE id = '{LOCAL}'"), &[])? {
            return Err(StoreError::invalid(
                "the data has no local account (id 00000000-0000-0000-0000-000000000000), which every store has",
            ));
        }
        for sql in dialect.bulk_load_end() {
            tx.execute(sql, &[])?;
        }
        Ok(n)
    })?;
    if mode == RestoreMode::Replace {
        store.after_erase()?;
    }
    Ok(n)
}
