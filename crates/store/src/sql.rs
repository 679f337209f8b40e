//! The narrow SQL layer both backends implement, so every store method is
//! written once (in `store_impl`).
//!
//! - [`Value`]: what a statement binds and a row holds. Each driver binds
//!   it its own way: SQLite stores ids as text, instants as microseconds
//!   and JSON as text; PostgreSQL binds each value as the type the
//!   statement's parameter has (uuid, timestamptz, jsonb, date, int2/4/8).
//! - [`Row`] and [`Cols`]: typed access by column name, decoding either
//!   backend's encoding.
//! - [`Tx`]: `query` and `execute` inside a transaction; [`Backend`]:
//!   `read` and `write` with the retry policy the backend needs.
//! - [`Dialect`]: the few statements that differ.
//!
//! Statements are written with `?1`, `?2`, … placeholders (SQLite's); the
//! PostgreSQL driver rewrites them to `$1`, `$2`, … once, when it prepares
//! the statement on a connection.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

use crate::codec::{self, from_micros};
use crate::{Result, StoreError};

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
    Id(Uuid),
    Time(Timestamp),
    Json(serde_json::Value),
    Date(Date),
    /// A PostgreSQL array (read only).
    List(Vec<Value>),
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Value::Id(v)
    }
}
impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Time(v)
    }
}
impl From<Date> for Value {
    fn from(v: Date) -> Self {
        Value::Date(v)
    }
}
impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Value::Json(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl<T: Clone + Into<Value>> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Self {
        v.clone().map_or(Value::Null, Into::into)
    }
}

macro_rules! id_values {
    ($($id:ident),* $(,)?) => {$(
        impl From<needlewise_core::ids::$id> for Value {
            fn from(v: needlewise_core::ids::$id) -> Self {
                Value::Id(v.0)
            }
        }
    )*};
}
id_values!(
    AppointmentId,
    ProposalId,
    ConversationId,
    MessageId,
    MessagePhotoId,
    CannedReplyId,
    AccountId,
    ProfileId,
    DeviceId,
    SessionId,
    ScreeningId,
    CheckinId,
    EpisodeId,
    RatingId,
    PhotoId,
    ReadinessCheckId,
    ClinicId,
    AuditId,
    NotificationId,
    OverrideId,
    EmailId,
    ProtocolId,
);

/// The arguments of a statement: `args![a, b]` is `&[Value::from(a), …]`.
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($x)),*][..]
    };
}
pub(crate) use args;

/// A statement built once, on first use, from constants:
/// `sql!("SELECT {COLUMNS} FROM t WHERE id = ?1")` is a `&'static str`.
macro_rules! sql {
    ($($format:tt)*) => {{
        static SQL: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| format!($($format)*));
        SQL.as_str()
    }};
}
pub(crate) use sql;

/// JSON to bind: a value that serializes.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value)
        .map(Value::Json)
        .map_err(|e| StoreError::invalid(format!("cannot encode as JSON: {e}")))
}

/// One row of a result, its cells by column name.
#[derive(Debug, Clone)]
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
    /// Where the last column asked for was, plus one: columns are mostly
    /// read in the order they were selected, so the next one is usually
    /// found at once.
    next: std::cell::Cell<usize>,
}

impl Row {
    pub(crate) fn new(names: Arc<[String]>, values: Vec<Value>) -> Self {
        Row {
            names,
            values,
            next: std::cell::Cell::new(0),
        }
    }

    /// The row's columns by their names.
    pub fn cols(&self) -> Cols<'_> {
        Cols {
            row: self,
            prefix: "",
        }
    }

    /// The cell of column `i`.
    pub fn at(&self, i: usize) -> &Value {
        &self.values[i]
    }

    /// The columns named `prefix` + name (a join's `d.id AS d_id`).
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> Cols<'a> {
        Cols { row: self, prefix }
    }
}

/// Typed access to a row's columns (each name after an optional prefix).
#[derive(Debug, Clone, Copy)]
pub struct Cols<'a> {
    row: &'a Row,
    prefix: &'a str,
}

fn type_error(name: &str, want: &str, got: &Value) -> StoreError {
    StoreError::invalid(format!("column {name} holds {got:?}, not {want}"))
}

impl<'a> Cols<'a> {
    pub fn value(&self, name: &str) -> Result<&'a Value> {
        let (p, names) = (self.prefix, &self.row.names);
        // Byte by byte: the names are short, and a call to memcmp for each
        // cost more than the comparison.
        let is = |n: &str| {
            n.len() == p.len() + name.len()
                && n.bytes()
                    .zip(p.bytes().chain(name.bytes()))
                    .all(|(a, b)| a == b)
        };
        let start = self.row.next.get();
        for k in 0..names.len() {
            let i = (start + k) % names.len();
            if is(&names[i]) {
                self.row.next.set(i + 1);
                return Ok(&self.row.values[i]);
            }
        }
        Err(StoreError::invalid(format!(
            "no column {p}{name} in the row"
        )))
    }

    pub fn is_null(&self, name: &str) -> Result<bool> {
        Ok(matches!(self.value(name)?, Value::Null))
    }

    fn opt<T>(&self, name: &str, f: impl FnOnce(&'a Value) -> Result<T>) -> Result<Option<T>> {
        match self.value(name)? {
            Value::Null => Ok(None),
            v => f(v).map(Some),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>> {
        self.opt(name, |v| match v {
            Value::Text(s) => Ok(s.as_str()),
            v => Err(type_error(name, "text", v)),
        })
    }

    pub fn str(&self, name: &str) -> Result<&'a str> {
        self.opt_str(name)?
            .ok_or_else(|| type_error(name, "text", &Value::Null))
    }

    pub fn opt_text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.opt_str(name)?.map(str::to_owned))
    }

    pub fn text(&self, name: &str) -> Result<String> {
        self.str(name).map(str::to_owned)
    }

    pub fn opt_uuid(&self, name: &str) -> Result<Option<Uuid>> {
        self.opt(name, |v| match v {
            Value::Id(u) => Ok(*u),
            Value::Text(s) => Uuid::parse_str(s)
                .map_err(|_| StoreError::invalid(format!("stored {name} {s:?} is not a UUID"))),
            v => Err(type_error(name, "a UUID", v)),
        })
    }

    pub fn uuid(&self, name: &str) -> Result<Uuid> {
        self.opt_uuid(name)?
            .ok_or_else(|| type_error(name, "a UUID", &Value::Null))
    }

    pub fn opt_ts(&self, name: &str) -> Result<Option<Timestamp>> {
        self.opt(name, |v| match v {
            Value::Time(t) => Ok(*t),
            Value::Int(us) => from_micros(*us),
            v => Err(type_error(name, "an instant", v)),
        })
    }

    pub fn ts(&self, name: &str) -> Result<Timestamp> {
        self.opt_ts(name)?
            .ok_or_else(|| type_error(name, "an instant", &Value::Null))
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        self.opt(name, |v| match v {
            Value::Int(n) => Ok(*n),
            v => Err(type_error(name, "an integer", v)),
        })
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        self.opt_int(name)?
            .ok_or_else(|| type_error(name, "an integer", &Value::Null))
    }

    pub fn opt_real(&self, name: &str) -> Result<Option<f64>> {
        self.opt(name, |v| match v {
            Value::Real(x) => Ok(*x),
            #[allow(clippy::cast_precision_loss)]
            Value::Int(n) => Ok(*n as f64),
            v => Err(type_error(name, "a number", v)),
        })
    }

    pub fn real(&self, name: &str) -> Result<f64> {
        self.opt_real(name)?
            .ok_or_else(|| type_error(name, "a number", &Value::Null))
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.value(name)? {
            Value::Bool(b) => Ok(*b),
            Value::Int(n) => Ok(*n != 0),
            v => Err(type_error(name, "a boolean", v)),
        }
    }

    pub fn opt_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        self.opt(name, |v| match v {
            Value::Json(j) => Ok(j.clone()),
            Value::Text(s) => serde_json::from_str(s)
                .map_err(|e| StoreError::invalid(format!("stored {name} is not JSON: {e}"))),
            v => Err(type_error(name, "JSON", v)),
        })
    }

    pub fn json(&self, name: &str) -> Result<serde_json::Value> {
        self.opt_json(name)?
            .ok_or_else(|| type_error(name, "JSON", &Value::Null))
    }

    /// A JSON column decoded as `T` (parsed once, straight from the text).
    pub fn decode<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.opt_decode(name)?
            .ok_or_else(|| type_error(name, "JSON", &Value::Null))
    }

    pub fn opt_decode<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let bad = |e: serde_json::Error| {
            StoreError::invalid(format!("stored {name} does not parse: {e}"))
        };
        self.opt(name, |v| match v {
            Value::Json(j) => T::deserialize(j).map_err(bad),
            Value::Text(s) => serde_json::from_str(s).map_err(bad),
            v => Err(type_error(name, "JSON", v)),
        })
    }

    pub fn opt_date(&self, name: &str) -> Result<Option<Date>> {
        self.opt(name, |v| match v {
            Value::Date(d) => Ok(*d),
            Value::Text(s) => codec::parse_date(s),
            v => Err(type_error(name, "a date", v)),
        })
    }

    pub fn date(&self, name: &str) -> Result<Date> {
        self.opt_date(name)?
            .ok_or_else(|| type_error(name, "a date", &Value::Null))
    }

    /// A text column parsed with `FromStr` (`what` names it in errors).
    pub fn parse<T>(&self, name: &str, what: &str) -> Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        codec::parse(self.str(name)?, what)
    }

    pub fn opt_parse<T>(&self, name: &str, what: &str) -> Result<Option<T>>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        self.opt_str(name)?
            .map(|s| codec::parse(s, what))
            .transpose()
    }
}

/// The statements that differ between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A table `u (p)` of the ids in the list bound at `?n`.
    pub fn ids(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("(SELECT value AS p FROM json_each(?{n})) AS u"),
            Dialect::Postgres => format!("unnest(?{n}::uuid[]) AS u (p)"),
        }
    }

    /// A table `u (p, i)` pairing the ids of the lists bound at `?a` and
    /// `?b`, in order.
    pub fn id_pairs(self, a: usize, b: usize) -> String {
        match self {
            Dialect::Sqlite => format!(
                "(SELECT x.value AS p, y.value AS i FROM json_each(?{a}) AS x
                  JOIN json_each(?{b}) AS y ON y.key = x.key) AS u"
            ),
            Dialect::Postgres => format!("unnest(?{a}::uuid[], ?{b}::uuid[]) AS u (p, i)"),
        }
    }

    /// The greater of two values.
    pub fn greatest(self, x: &str, y: &str) -> String {
        match self {
            Dialect::Sqlite => format!("max({x}, {y})"),
            Dialect::Postgres => format!("GREATEST({x}, {y})"),
        }
    }

    /// Whether the text `x` contains the text bound at `?n`.
    pub fn contains(self, x: &str, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("instr({x}, ?{n}) > 0"),
            Dialect::Postgres => format!("strpos({x}, ?{n}::text) > 0"),
        }
    }

    /// The group's `text` values joined with commas.
    pub fn comma_list(self, x: &str) -> String {
        match self {
            Dialect::Sqlite => format!("group_concat({x}, ',')"),
            Dialect::Postgres => format!("string_agg({x}, ',')"),
        }
    }

    /// An instant column as the text of its unix microseconds.
    pub fn micros_text(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST({column} AS TEXT)"),
            Dialect::Postgres => {
                format!("(extract(epoch FROM {column}) * 1000000)::bigint::text")
            }
        }
    }

    /// An instant column less a number of microseconds bound at `?n`.
    pub fn minus_micros(self, column: &str, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("({column} - ?{n})"),
            Dialect::Postgres => format!("({column} - ?{n}::bigint * interval '1 microsecond')"),
        }
    }

    /// Whether [`Tx::append`] stores a table's rows as one statement
    /// (PostgreSQL's COPY), so that its errors belong to no single row.
    pub fn appends_in_bulk(self) -> bool {
        self == Dialect::Postgres
    }

    /// Statements that start a bulk load (a restore into a whole store,
    /// in its write transaction, before anything is deleted or appended):
    /// on PostgreSQL they switch off the triggers that keep the profiles'
    /// facts, so no statement refreshes them on the way;
    /// [`Dialect::bulk_load_end`] rebuilds them once. Only a table's
    /// owner may switch its triggers off: for another role they stay on
    /// (and fire once per COPY). The switch takes the four tables' SHARE
    /// ROW EXCLUSIVE lock (writers wait; readers do not) and is undone by
    /// the end statements or by a rollback. SQLite's triggers fire per
    /// row, in process, and stay on.
    pub fn bulk_load_start(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => &[],
            Dialect::Postgres => &[FACT_TRIGGERS_OFF],
        }
    }

    /// Statements that end a bulk load: the facts on every profile, from
    /// the same functions the triggers call (so they cannot differ), and
    /// the triggers back on.
    pub fn bulk_load_end(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => &[],
            Dialect::Postgres => &[
                REFRESH_FACTS[0],
                REFRESH_FACTS[1],
                REFRESH_FACTS[2],
                REFRESH_FACTS[3],
                FACT_TRIGGERS_ON,
            ],
        }
    }

    /// Rows a queue worker claims: locked, and skipped by the others.
    pub fn skip_locked(self) -> &'static str {
        match self {
            // One writer at a time: nothing to skip.
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// PostgreSQL's tables whose triggers keep the profiles' facts
/// (migrations 6 and 8), as a `regclass[]`.
macro_rules! fact_tables {
    () => {
        "ARRAY['screenings', 'sessions', 'checkins', 'episodes']::regclass[]"
    };
}

/// Whether this role owns every table with facts triggers, and may switch
/// them off (a superuser may; a role the owner granted only privileges
/// to may not).
macro_rules! owns_fact_tables {
    () => {
        concat!(
            "(SELECT bool_and(pg_has_role(relowner, 'USAGE')) FROM pg_class WHERE oid = ANY (",
            fact_tables!(),
            "))"
        )
    };
}

/// See [`Dialect::bulk_load_start`]. `DISABLE TRIGGER USER` leaves the
/// foreign keys' system triggers on: every row is still checked.
const FACT_TRIGGERS_OFF: &str = concat!(
    "DO $$ BEGIN IF ",
    owns_fact_tables!(),
    " THEN
        ALTER TABLE screenings DISABLE TRIGGER USER;
        ALTER TABLE sessions DISABLE TRIGGER USER;
        ALTER TABLE checkins DISABLE TRIGGER USER;
        ALTER TABLE episodes DISABLE TRIGGER USER;
    END IF; END $$"
);

const FACT_TRIGGERS_ON: &str = concat!(
    "DO $$ BEGIN IF ",
    owns_fact_tables!(),
    " THEN
        ALTER TABLE screenings ENABLE TRIGGER USER;
        ALTER TABLE sessions ENABLE TRIGGER USER;
        ALTER TABLE checkins ENABLE TRIGGER USER;
        ALTER TABLE episodes ENABLE TRIGGER USER;
    END IF; END $$"
);

/// Every profile's facts, set by the functions the triggers call (each
/// one UPDATE of the profiles it is given, here all of them), as
/// migrations 6 and 8 set them on the rows they found.
const REFRESH_FACTS: [&str; 4] = [
    "SELECT refresh_latest_verdict(ARRAY(SELECT id FROM profiles))",
    "SELECT refresh_last_session(ARRAY(SELECT id FROM profiles))",
    "SELECT refresh_latest_checkin(ARRAY(SELECT id FROM profiles))",
    "SELECT refresh_open_episodes(ARRAY(SELECT id FROM profiles))",
];

/// How a write transaction isolates itself (PostgreSQL; SQLite has one
/// writer and ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// SERIALIZABLE, retried on serialization failures: the default.
    Serializable,
    /// REPEATABLE READ: reads that append audit lines.
    Snapshot,
    /// READ COMMITTED: single atomic statements (claims, counters).
    Statement,
}

/// Where [`Tx::each`] hands the rows.
pub type RowSink<'a> = &'a mut dyn FnMut(Row) -> Result<()>;

/// Statements inside one transaction.
pub trait Tx {
    /// The rows of a query.
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.each(sql, args, &mut |row| {
            out.push(row);
            Ok(())
        })?;
        Ok(out)
    }
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64>;
    /// Hands each row of a query to `f` as it arrives, without holding
    /// them all (a backup of a large table).
    fn each(&mut self, sql: &str, args: &[Value], f: RowSink<'_>) -> Result<()>;
    /// Appends `rows` (each row's values in `columns` order) to `table`,
    /// for restores and copies; the number of rows appended. By default
    /// one INSERT per row, so an error is the last row's. PostgreSQL
    /// streams them as one `COPY … FROM STDIN (FORMAT binary)`, whose
    /// error may come at its end and names the table, not the row (see
    /// [`Dialect::appends_in_bulk`]).
    fn append(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut dyn Iterator<Item = Vec<Value>>,
    ) -> Result<u64> {
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            marks.join(", ")
        );
        let mut n = 0;
        for row in rows {
            self.execute(&sql, &row)?;
            n += 1;
        }
        Ok(n)
    }
}

impl dyn Tx + '_ {
    /// Every row, converted.
    pub fn all<T>(
        &mut self,
        sql: &str,
        args: &[Value],
        f: impl Fn(Cols<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.query(sql, args)?.iter().map(|r| f(r.cols())).collect()
    }

    /// The first row, converted, if there is one.
    pub fn first<T>(
        &mut self,
        sql: &str,
        args: &[Value],
        f: impl Fn(Cols<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        self.query(sql, args)?
            .first()
            .map(|r| f(r.cols()))
            .transpose()
    }

    /// Whether the query finds a row.
    pub fn exists(&mut self, sql: &str, args: &[Value]) -> Result<bool> {
        Ok(!self.query(sql, args)?.is_empty())
    }

    /// An insert: a taken key is [`StoreError::Conflict`] (`duplicate`), a
    /// missing parent [`StoreError::NotFound`] (`missing`).
    pub fn insert(
        &mut self,
        sql: &str,
        args: &[Value],
        duplicate: impl FnOnce() -> String,
        missing: impl FnOnce() -> String,
    ) -> Result<()> {
        self.execute(sql, args)
            .map_err(|e| insert_error(e, duplicate, missing))?;
        Ok(())
    }
}

/// Maps a failed insert: a taken key is a conflict, a missing parent (in
/// this profile) is not found. Transient errors stay retryable.
pub(crate) fn insert_error(
    e: StoreError,
    duplicate: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> StoreError {
    use crate::error::Kind;
    match e.kind() {
        Kind::Unique => StoreError::conflict(duplicate()),
        Kind::ForeignKey => StoreError::not_found(missing()),
        _ => e,
    }
}

/// A database the store runs on: transactions with the backend's retry
/// policy. Implemented by [`crate::SqliteStore`] and
/// [`crate::PostgresStore`]; the traits' methods are written once over it.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// `"sqlite"` or `"postgres"`.
    const NAME: &'static str;
    const DIALECT: Dialect;

    /// Runs `f` in one read-only transaction, so multi-query reads agree.
    fn read<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T>;

    /// Runs `f`, a single statement, without BEGIN and COMMIT where the
    /// backend can (a single statement is consistent on its own).
    fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        self.read(f)
    }

    /// Runs `f` in one write transaction, retried as a whole where the
    /// backend may refuse it for a concurrent one.
    fn write_at<T>(
        &self,
        isolation: Isolation,
        f: impl FnMut(&mut dyn Tx) -> Result<T>,
    ) -> Result<T>;

    fn write<T>(&self, f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
        self.write_at(Isolation::Serializable, f)
    }

    /// One write transaction at the default isolation, tried once (its
    /// input cannot be read twice).
    fn write_once<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T>;

    /// Whether small reads may run in place (see
    /// [`crate::Store::reads_in_place`]).
    fn reads_in_place(&self) -> bool {
        false
    }

    /// After a person's data is deleted: make sure no copy lingers.
    fn after_erase(&self) -> Result<()> {
        Ok(())
    }
}

/// `?N` placeholders as PostgreSQL's `$N`.
pub(crate) fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// `columns` ("a, b") each prefixed with `table` and named with `alias`
/// ("t.a AS t_a, t.b AS t_b"), for joins where tables share column names.
pub(crate) fn aliased(columns: &str, table: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{c} AS {alias}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `columns` ("a, b") each prefixed with `table` ("t.a, t.b").
pub(crate) fn qualified(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
