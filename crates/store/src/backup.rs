//! The backup file: a versioned, checksummed copy of a whole store.
//!
//! A backup is gzip-compressed JSON lines (UTF-8, one JSON object a line):
//!
//! 1. a header: `{"magic":"needlewise-backup","format":1,
//!    "schema_version":1,"created_at":"…","source":"sqlite",
//!    "tables":[{"table":"accounts","rows":1,"sha256":"…"},…]}`: the
//!    per-table row counts and content checksums of [`crate::Checksums`];
//! 2. one line per row, tables in [`TABLES`] order:
//!    `{"table":"profiles","row":{"id":"…","name":"…",…}}`, every column
//!    named, ids as UUID text, moments as unix microseconds, dates as
//!    `YYYY-MM-DD`, structured values as JSON;
//! 3. a trailer: `{"end":true,"rows":N}`, so a cut-off file is noticed even
//!    where gzip would not notice.
//!
//! Reading checks everything before a row reaches the store: gzip, magic,
//! format and schema versions, every row's fields and types (messages name
//! the line, table, row and column), the trailer, and the counts and
//! checksums of the header. Lines are read with a size limit, so memory
//! stays bounded whatever the file holds.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::snapshot::{
    Cell, ChecksumBuilder, Checksums, ColType, SCHEMA_VERSION, SnapshotRow, TABLES, TableChecksum,
    check_row, check_schema_version, table_index, type_name,
};
use crate::{Result, Store, StoreError};

pub const MAGIC: &str = "needlewise-backup";
/// The newest format this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// The longest line accepted (a row with its JSON answers is a few KB).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// What a backup's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub format: u64,
    pub schema_version: i64,
    pub created_at: Timestamp,
    /// The backend it was taken from: `sqlite` or `postgres`.
    pub source: String,
    pub checksums: Checksums,
}

impl Header {
    pub fn total_rows(&self) -> u64 {
        self.checksums.tables.iter().map(|t| t.rows).sum()
    }
}

fn bad(message: impl std::fmt::Display) -> StoreError {
    StoreError::invalid(format!("not a usable needlewise backup: {message}"))
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::backend_caused(format!("{}: {e}", path.display()), e)
}

/// A row as a JSON object, every column named.
pub fn row_json(row: &SnapshotRow) -> Value {
    let def = row.def();
    let mut map = Map::new();
    for (c, cell) in def.columns.iter().zip(&row.cells) {
        let v = match cell {
            Cell::Null => Value::Null,
            Cell::Int(n) => Value::from(*n),
            Cell::Real(f) => Value::from(*f),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Json(v) => v.clone(),
        };
        map.insert(c.name.to_owned(), v);
    }
    Value::Object(map)
}

/// Parses a row object of `table`; errors name the column.
pub fn row_from_json(table: usize, value: Value) -> std::result::Result<SnapshotRow, String> {
    row_from_json_in(table, value, SCHEMA_VERSION)
}

/// Parses a row object of `table` written by schema `version`: the
/// columns added since are absent from it and come back null or their
/// default ([`crate::snapshot::Column::missing_cell`]).
pub fn row_from_json_in(
    table: usize,
    value: Value,
    version: i64,
) -> std::result::Result<SnapshotRow, String> {
    let def = &TABLES[table];
    let Value::Object(mut map) = value else {
        return Err("\"row\" is not an object".to_owned());
    };
    let mut cells = Vec::with_capacity(def.columns.len());
    for c in def.columns {
        if c.since > version {
            cells.push(c.missing_cell());
            continue;
        }
        let v = map
            .remove(c.name)
            .ok_or_else(|| format!("column {} is missing", c.name))?;
        let wrong = || {
            format!(
                "column {}: expected {}, found {}",
                c.name,
                type_name(c.ty),
                kind(&v)
            )
        };
        let cell = match (c.ty, &v) {
            (_, Value::Null) => Cell::Null,
            (ColType::Uuid | ColType::Text | ColType::Date, Value::String(s)) => {
                Cell::Text(s.clone())
            }
            (ColType::Int | ColType::Timestamp, Value::Number(n)) => {
                Cell::Int(n.as_i64().ok_or_else(wrong)?)
            }
            (ColType::Real, Value::Number(n)) => Cell::Real(n.as_f64().ok_or_else(wrong)?),
            (ColType::Bool, Value::Bool(b)) => Cell::Bool(*b),
            (ColType::Json, _) => Cell::Json(v.clone()),
            _ => return Err(wrong()),
        };
        cells.push(cell);
    }
    if let Some(extra) = map.keys().next() {
        return Err(format!("unknown column {extra:?}"));
    }
    Ok(SnapshotRow { table, cells })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub rows: u64,
    pub checksums: Checksums,
}

/// Writes a backup of `store` to `out`, from one consistent snapshot.
///
/// The rows go to a temporary file beside `out` first (the header needs
/// their checksums), then the backup is assembled in `out.partial` and
/// renamed over `out`, so a failed backup never leaves a half file at
/// `out`. `progress` is called with the number of rows read so far.
pub fn write_backup(
    store: &dyn Store,
    out: &Path,
    now: Timestamp,
    progress: &mut dyn FnMut(u64),
) -> Result<Written> {
    let rows_path = sibling(out, ".rows.partial");
    let partial = sibling(out, ".partial");
    let result = write_backup_inner(store, out, &rows_path, &partial, now, progress);
    let _ = std::fs::remove_file(&rows_path);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn write_backup_inner(
    store: &dyn Store,
    out: &Path,
    rows_path: &Path,
    partial: &Path,
    now: Timestamp,
    progress: &mut dyn FnMut(u64),
) -> Result<Written> {
    let mut builder = ChecksumBuilder::new();
    let mut n = 0u64;
    {
        let file = File::create(rows_path).map_err(|e| io_error(rows_path, e))?;
        let mut w = BufWriter::new(file);
        store.snapshot_rows(&mut |row| {
            builder.add(&row)?;
            let line = serde_json::json!({ "table": row.def().name, "row": row_json(&row) });
            serde_json::to_writer(&mut w, &line).map_err(|e| {
                StoreError::backend_caused(format!("cannot write the backup: {e}"), e)
            })?;
            w.write_all(b"\n").map_err(|e| io_error(rows_path, e))?;
            n += 1;
            if n % 1000 == 0 {
                progress(n);
            }
            Ok(())
        })?;
        w.flush().map_err(|e| io_error(rows_path, e))?;
    }
    progress(n);
    let checksums = builder.finish();
    let header = serde_json::json!({
        "magic": MAGIC,
        "format": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "created_at": now.to_string(),
        "source": store.backend(),
        "tables": checksums.tables,
    });
    let file = File::create(partial).map_err(|e| io_error(partial, e))?;
    let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
    let io = |e: std::io::Error| io_error(partial, e);
    serde_json::to_writer(&mut gz, &header)
        .map_err(|e| StoreError::backend_caused(format!("cannot write the backup: {e}"), e))?;
    gz.write_all(b"\n").map_err(io)?;
    let mut rows = File::open(rows_path).map_err(|e| io_error(rows_path, e))?;
    std::io::copy(&mut rows, &mut gz).map_err(io)?;
    writeln!(gz, "{}", serde_json::json!({ "end": true, "rows": n })).map_err(io)?;
    let file = gz
        .finish()
        .map_err(io)?
        .into_inner()
        .map_err(|e| io_error(partial, e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(partial, out).map_err(|e| io_error(out, e))?;
    Ok(Written { rows: n, checksums })
}

/// Reads a backup row by row, checking it as it goes. As an iterator it
/// yields the rows, then (after the trailer) checks the counts and
/// checksums; any problem is an `Err` item and ends the iteration.
pub struct BackupReader<'a> {
    header: Header,
    input: BufReader<GzDecoder<Box<dyn Read + 'a>>>,
    builder: Option<ChecksumBuilder>,
    buf: Vec<u8>,
    line: u64,
    rows: u64,
    last_table: usize,
    done: bool,
}

impl std::fmt::Debug for BackupReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupReader")
            .field("header", &self.header)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl BackupReader<'static> {
    pub fn open_file(path: &Path) -> Result<Self> {
        let file = File::open(path)
            .map_err(|e| StoreError::invalid(format!("{}: cannot read it: {e}", path.display())))?;
        BackupReader::new(Box::new(BufReader::new(file)))
    }
}

impl<'a> BackupReader<'a> {
    /// Checks the gzip magic and reads the header.
    pub fn new(mut input: Box<dyn Read + 'a>) -> Result<Self> {
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            match input.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(bad(format!("cannot read it: {e}"))),
            }
        }
        if got < 2 || magic != [0x1f, 0x8b] {
            return Err(bad(
                "it is not gzip-compressed (a needlewise backup is a .gz file made by `needlewise backup`)",
            ));
        }
        let chained: Box<dyn Read + 'a> = Box::new(std::io::Cursor::new(magic).chain(input));
        let mut reader = BackupReader {
            header: Header {
                format: 0,
                schema_version: 0,
                created_at: Timestamp::UNIX_EPOCH,
                source: String::new(),
                checksums: Checksums { tables: Vec::new() },
            },
            input: BufReader::new(GzDecoder::new(chained)),
            builder: Some(ChecksumBuilder::new()),
            buf: Vec::new(),
            line: 0,
            rows: 0,
            last_table: 0,
            done: false,
        };
        let Some(first) = reader.next_line()? else {
            return Err(bad("it is empty"));
        };
        reader.header = parse_header(&first)?;
        reader.builder = Some(ChecksumBuilder::for_version(reader.header.schema_version));
        Ok(reader)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next line (without its newline), at most [`MAX_LINE`] bytes.
    fn next_line(&mut self) -> Result<Option<Value>> {
        self.buf.clear();
        self.line += 1;
        let line = self.line;
        let mut limited = (&mut self.input).take(MAX_LINE as u64 + 1);
        limited.read_until(b'\n', &mut self.buf).map_err(|e| {
            bad(format!(
                "line {line}: the file is truncated or corrupt ({e})"
            ))
        })?;
        if self.buf.is_empty() {
            return Ok(None);
        }
        if self.buf.len() > MAX_LINE {
            return Err(bad(format!(
                "line {line} is longer than {} MB",
                MAX_LINE / (1024 * 1024)
            )));
        }
        if self.buf.last() != Some(&b'\n') {
            return Err(bad(format!(
                "line {line} is cut off: the file is truncated"
            )));
        }
        serde_json::from_slice(&self.buf)
            .map(Some)
            .map_err(|e| bad(format!("line {line} is not valid JSON: {e}")))
    }

    fn next_row(&mut self) -> Result<Option<SnapshotRow>> {
        let line = self.line + 1;
        let Some(value) = self.next_line()? else {
            return Err(bad(format!(
                "it ends at line {line} without its end marker: the file is truncated"
            )));
        };
        let Value::Object(mut map) = value else {
            return Err(bad(format!("line {line} is not a JSON object")));
        };
        if map.contains_key("end") {
            let rows = map.get("rows").and_then(Value::as_u64);
            if map.len() != 2 || map.get("end") != Some(&Value::Bool(true)) || rows.is_none() {
                return Err(bad(format!(
                    "line {line}: the end marker must be {{\"end\":true,\"rows\":N}}"
                )));
            }
            if rows != Some(self.rows) {
                return Err(bad(format!(
                    "the end marker counts {} rows but the file has {}",
                    rows.unwrap_or_default(),
                    self.rows
                )));
            }
            // Nothing may follow the end marker.
            let mut rest = [0u8; 1];
            let more = self
                .input
                .read(&mut rest)
                .map_err(|e| bad(format!("after line {line}: the file is corrupt ({e})")))?;
            if more != 0 {
                return Err(bad(format!(
                    "there is data after the end marker (line {line})"
                )));
            }
            self.check_totals()?;
            return Ok(None);
        }
        let table_name = match map.remove("table") {
            Some(Value::String(s)) => s,
            Some(_) => return Err(bad(format!("line {line}: \"table\" is not text"))),
            None => return Err(bad(format!("line {line}: no \"table\""))),
        };
        let version = self.header.schema_version;
        let Some(table) = table_index(&table_name).filter(|&t| TABLES[t].in_version(version))
        else {
            return Err(bad(format!("line {line}: unknown table {table_name:?}")));
        };
        let row = map
            .remove("row")
            .ok_or_else(|| bad(format!("line {line}, table {table_name}: no \"row\"")))?;
        if let Some(extra) = map.keys().next() {
            return Err(bad(format!(
                "line {line}, table {table_name}: unknown field {extra:?}"
            )));
        }
        let row = row_from_json_in(table, row, version)
            .map_err(|e| bad(format!("line {line}, table {table_name}: {e}")))?;
        if table < self.last_table {
            return Err(bad(format!(
                "line {line}: a row of table {table_name} after rows of table {}",
                TABLES[self.last_table].name
            )));
        }
        self.last_table = table;
        check_row(&row).map_err(|e| bad(format!("line {line}: {e}")))?;
        if let Some(b) = &mut self.builder {
            b.add(&row)?;
        }
        self.rows += 1;
        Ok(Some(row))
    }

    fn check_totals(&mut self) -> Result<()> {
        let Some(builder) = self.builder.take() else {
            return Ok(());
        };
        let found = builder.finish();
        let problems = self.header.checksums.differences(&found);
        if !problems.is_empty() {
            return Err(bad(format!(
                "its rows do not match the checksums in its header (the file was changed or damaged): {}",
                problems.join("; ")
            )));
        }
        Ok(())
    }

    /// Reads to the end, checking everything; returns the row count.
    pub fn verify(mut self) -> Result<u64> {
        for row in &mut self {
            row?;
        }
        Ok(self.rows)
    }
}

impl Iterator for BackupReader<'_> {
    type Item = Result<SnapshotRow>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_row() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn parse_header(value: &Value) -> Result<Header> {
    let Value::Object(map) = value else {
        return Err(bad("its first line is not a JSON object"));
    };
    if map.get("magic").and_then(Value::as_str) != Some(MAGIC) {
        return Err(bad(format!(
            "its header does not start with the magic {MAGIC:?}: it is some other gzip file"
        )));
    }
    let format = map
        .get("format")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("header field \"format\" is missing or not a whole number"))?;
    if format > FORMAT_VERSION {
        return Err(bad(format!(
            "it has format version {format}, newer than this needlewise reads ({FORMAT_VERSION}): upgrade needlewise"
        )));
    }
    if format == 0 {
        return Err(bad("header field \"format\" is 0"));
    }
    let schema_version = map
        .get("schema_version")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("header field \"schema_version\" is missing or not a whole number"))?;
    if check_schema_version(schema_version).is_err() {
        return Err(bad(format!(
            "it has schema version {schema_version}, but this needlewise stores version {SCHEMA_VERSION}{}",
            if schema_version > SCHEMA_VERSION {
                ": upgrade needlewise"
            } else {
                ""
            }
        )));
    }
    let created_at = map
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
        .ok_or_else(|| bad("header field \"created_at\" is missing or not a timestamp"))?;
    let source = map
        .get("source")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("header field \"source\" is missing or not text"))?
        .to_owned();
    let tables: Vec<TableChecksum> = map
        .get("tables")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| bad(format!("header field \"tables\": {e}")))?
        .ok_or_else(|| bad("header field \"tables\" is missing"))?;
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "magic" | "format" | "schema_version" | "created_at" | "source" | "tables"
        ) {
            return Err(bad(format!("unknown header field {key:?}")));
        }
    }
    for t in &tables {
        if table_index(&t.table).is_none_or(|i| !TABLES[i].in_version(schema_version)) {
            return Err(bad(format!(
                "the header names an unknown table {:?}",
                t.table
            )));
        }
    }
    for t in TABLES.iter().filter(|t| t.in_version(schema_version)) {
        if !tables.iter().any(|c| c.table == t.name) {
            return Err(bad(format!(
                "the header has no checksum for table {}",
                t.name
            )));
        }
    }
    Ok(Header {
        format,
        schema_version,
        created_at,
        source,
        checksums: Checksums { tables },
    })
}

/// Checks a whole backup file without touching any store.
pub fn verify_file(path: &Path) -> Result<(Header, u64)> {
    let reader = BackupReader::open_file(path)?;
    let header = reader.header().clone();
    let rows = reader.verify()?;
    Ok((header, rows))
}

/// Restores a backup file into `store`: the whole file is checked first,
/// then read again into one write transaction (which is rolled back on
/// any error), so a bad file changes nothing. `progress` gets the rows
/// stored so far.
pub fn restore_file(
    store: &dyn Store,
    path: &Path,
    mode: crate::RestoreMode,
    progress: &mut dyn FnMut(u64),
) -> Result<Header> {
    let (header, _) = verify_file(path)?;
    let reader = BackupReader::open_file(path)?;
    let mut n = 0u64;
    let mut rows = reader.inspect(|_| {
        n += 1;
        if n % 1000 == 0 {
            progress(n);
        }
    });
    store.restore_rows(&mut rows, mode)?;
    progress(header.total_rows());
    Ok(header)
}
