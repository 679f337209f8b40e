//! Snapshots and restores on PostgreSQL (see `crate::snapshot`).

use std::time::SystemTime;

use postgres::types::ToSql;
use postgres::{IsolationLevel, Row};
use serde_json::Value;

use super::{PostgresStore, TxError, TxResult};
use crate::codec::{from_micros, from_system_time, system_time};
use crate::error::pg_message;
use crate::snapshot::{Cell, ColType, OrderCheck, RestoreMode, SnapshotRow, TABLES, TableDef};
use crate::{Result, StoreError};

const LOCAL: &str = "00000000-0000-0000-0000-000000000000";

/// Rows fetched per round trip, so a large table is never held at once.
const BATCH: i32 = 500;

fn select_sql(t: &TableDef) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| match c.ty {
            ColType::Uuid => format!("{}::text", c.name),
            ColType::Int => format!("{}::bigint", c.name),
            ColType::Real => format!("{}::float8", c.name),
            ColType::Date => format!("to_char({}, 'YYYY-MM-DD')", c.name),
            _ => c.name.to_owned(),
        })
        .collect();
    let key: Vec<&str> = t.key.iter().map(|&i| t.columns[i].name).collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        t.name,
        key.join(", ")
    )
}

fn cells(t: &TableDef, r: &Row) -> Result<Vec<Cell>> {
    let mut out = Vec::with_capacity(t.columns.len());
    for (i, c) in t.columns.iter().enumerate() {
        let cell = match c.ty {
            ColType::Uuid | ColType::Text | ColType::Date => {
                r.try_get::<_, Option<String>>(i)?.map(Cell::Text)
            }
            ColType::Int => r.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
            ColType::Real => r.try_get::<_, Option<f64>>(i)?.map(Cell::Real),
            ColType::Bool => r.try_get::<_, Option<bool>>(i)?.map(Cell::Bool),
            ColType::Timestamp => r
                .try_get::<_, Option<SystemTime>>(i)?
                .map(|t| from_system_time(t).map(|t| Cell::Int(t.as_microsecond())))
                .transpose()?,
            ColType::Json => r.try_get::<_, Option<Value>>(i)?.map(Cell::Json),
        };
        out.push(cell.unwrap_or(Cell::Null));
    }
    Ok(out)
}

pub(super) fn snapshot_rows(
    store: &PostgresStore,
    sink: &mut dyn FnMut(SnapshotRow) -> Result<()>,
) -> Result<()> {
    // `read` is one REPEATABLE READ, read-only transaction: every table is
    // read from the same snapshot while the server goes on writing.
    store.read_tx(|tx| {
        for (index, t) in TABLES.iter().enumerate() {
            let portal = tx.bind(select_sql(t).as_str(), &[])?;
            loop {
                let rows = tx.query_portal(&portal, BATCH)?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    sink(SnapshotRow {
                        table: index,
                        cells: cells(t, r)?,
                    })?;
                }
                // A short batch ends the table: no round trip to learn it.
                if rows.len() < BATCH as usize {
                    break;
                }
            }
        }
        Ok(())
    })
}

fn insert_sql(t: &TableDef) -> String {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
    let marks: Vec<String> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let n = i + 1;
            match c.ty {
                ColType::Uuid => format!("${n}::text::uuid"),
                ColType::Text => format!("${n}::text"),
                ColType::Int => format!("${n}::bigint"),
                ColType::Real => format!("${n}::float8"),
                ColType::Bool => format!("${n}::boolean"),
                ColType::Timestamp => format!("${n}::timestamptz"),
                ColType::Date => format!("${n}::text::date"),
                ColType::Json => format!("${n}::jsonb"),
            }
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        t.name,
        cols.join(", "),
        marks.join(", ")
    )
}

fn param(ty: ColType, c: &Cell) -> Result<Box<dyn ToSql + Sync>> {
    Ok(match (ty, c) {
        (ColType::Uuid | ColType::Text | ColType::Date, Cell::Null) => Box::new(None::<String>),
        (ColType::Int, Cell::Null) => Box::new(None::<i64>),
        (ColType::Real, Cell::Null) => Box::new(None::<f64>),
        (ColType::Bool, Cell::Null) => Box::new(None::<bool>),
        (ColType::Timestamp, Cell::Null) => Box::new(None::<SystemTime>),
        (ColType::Json, Cell::Null) => Box::new(None::<Value>),
        (ColType::Timestamp, Cell::Int(us)) => Box::new(system_time(from_micros(*us)?)?),
        (_, Cell::Int(n)) => Box::new(*n),
        (_, Cell::Real(f)) => Box::new(*f),
        (_, Cell::Bool(b)) => Box::new(*b),
        (_, Cell::Text(s)) => Box::new(s.clone()),
        (_, Cell::Json(v)) => Box::new(v.clone()),
    })
}

pub(super) fn restore_rows(
    store: &PostgresStore,
    rows: &mut dyn Iterator<Item = Result<SnapshotRow>>,
    mode: RestoreMode,
) -> Result<u64> {
    let mut client = store.client()?;
    // Not retried like other writes: the rows cannot be read twice. One
    // SERIALIZABLE transaction; any error rolls all of it back.
    let result = (|| -> TxResult<u64> {
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()?;
        if mode == RestoreMode::IntoEmpty {
            for t in TABLES {
                let sql = if t.name == "accounts" {
                    format!("SELECT 1 FROM accounts WHERE id <> '{LOCAL}' LIMIT 1")
                } else {
                    format!("SELECT 1 FROM {} LIMIT 1", t.name)
                };
                if tx.query_opt(sql.as_str(), &[])?.is_some() {
                    return Err(StoreError::conflict(format!(
                        "the target store is not empty (table {} has rows); restore into a new store or replace its data",
                        t.name
                    ))
                    .into());
                }
            }
        }
        for t in TABLES.iter().rev() {
            tx.execute(format!("DELETE FROM {}", t.name).as_str(), &[])?;
        }
        let mut statements = Vec::with_capacity(TABLES.len());
        for t in TABLES {
            statements.push(tx.prepare(&insert_sql(t))?);
        }
        let mut order = OrderCheck::default();
        let mut n = 0u64;
        for row in rows {
            let row = row?;
            order.check(&row)?;
            let t = row.def();
            let params = t
                .columns
                .iter()
                .zip(&row.cells)
                .map(|(c, cell)| param(c.ty, cell))
                .collect::<Result<Vec<_>>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            tx.execute(&statements[row.table], &refs).map_err(|e| {
                TxError::Store(StoreError::invalid(format!(
                    "table {}, row ({}): cannot be stored: {}",
                    t.name,
                    t.describe_key(&row.cells),
                    pg_message(&e)
                )))
            })?;
            n += 1;
        }
        if tx
            .query_opt(
                format!("SELECT 1 FROM accounts WHERE id = '{LOCAL}'").as_str(),
                &[],
            )?
            .is_none()
        {
            return Err(StoreError::invalid(
                "the data has no local account (id 00000000-0000-0000-0000-000000000000), which every store has",
            )
            .into());
        }
        tx.commit()?;
        Ok(n)
    })();
    result.map_err(TxError::into_store)
}
