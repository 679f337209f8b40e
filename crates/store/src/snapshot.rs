//! A backend-agnostic picture of the whole store: every row of every
//! table, as generic typed cells.
//!
//! [`TABLES`] describes each table's columns in a type both backends can
//! hold exactly (ids as lower-case hyphenated UUID text, moments as unix
//! microseconds, civil dates as `YYYY-MM-DD`, structured values as JSON).
//! The tables are listed parents first, so inserting in this order (and
//! deleting in the reverse) never breaks a foreign key.
//!
//! [`Checksums`] are computed from the cells, never from a backend's text,
//! so a SQLite store and a PostgreSQL copy of it agree: per table, the row
//! count and a SHA-256 over each row's canonical encoding, sorted by a
//! hash of the canonical encoding of the primary key (so the order rows
//! are read in does not matter, and memory is 64 bytes a row).

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// The schema version (the newest migration) this build reads and writes.
/// Both backends have the same numbered migrations. A migration that adds
/// only an index (5) or derived columns and triggers (6) changes no table
/// here; 7 adds readiness checks, a session's setting and readiness check,
/// and an episode's resolver; 8 (the same derived facts on both backends)
/// changes no table either; 10 adds conversations, their messages and
/// the messages' photos; 11 adds the clinics' hours, appointments and the
/// slots proposed in conversations; 12 adds canned replies and the ladder's
/// steps sent for red-flag conversations; 13 adds an email's calendar
/// invitation (its METHOD and text); 14 adds an index only.
pub const SCHEMA_VERSION: i64 = 14;

/// The oldest schema version whose snapshots and backups this build still
/// restores: tables added since are left empty, columns added since take
/// their [`Column::default`] (null for most).
pub const OLDEST_SCHEMA_VERSION: i64 = 1;

/// Checks that data of schema `version` can be restored here.
pub fn check_schema_version(version: i64) -> Result<()> {
    if (OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&version) {
        return Ok(());
    }
    Err(StoreError::invalid(format!(
        "the data has schema version {version}, but this needlewise stores version {SCHEMA_VERSION}{}",
        if version > SCHEMA_VERSION {
            ": upgrade needlewise"
        } else {
            ""
        }
    )))
}

/// How a column's value is held in a [`Cell`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// A UUID, as lower-case hyphenated text ([`Cell::Text`]).
    Uuid,
    Text,
    /// A whole number ([`Cell::Int`]).
    Int,
    /// A finite float ([`Cell::Real`]).
    Real,
    Bool,
    /// A moment as unix microseconds ([`Cell::Int`]).
    Timestamp,
    /// A civil date as `YYYY-MM-DD` ([`Cell::Text`]).
    Date,
    /// A JSON value ([`Cell::Json`]).
    Json,
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub nullable: bool,
    /// The schema version that added the column (nullable if after 1,
    /// unless it has a default).
    pub since: i64,
    /// The text value rows of older schema versions get for this column
    /// (the column's SQL default); `None` gives null.
    pub default: Option<&'static str>,
}

impl Column {
    /// The cell a row of a schema version without this column gets.
    pub fn missing_cell(&self) -> Cell {
        match self.default {
            Some(text) => Cell::Text(text.to_owned()),
            None => Cell::Null,
        }
    }
}

/// One table of the store.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// Indexes into `columns` of the primary key.
    pub key: &'static [usize],
    /// The schema version that added the table.
    pub since: i64,
}

impl TableDef {
    /// The index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Whether data of schema `version` has this table.
    pub fn in_version(&self, version: i64) -> bool {
        self.since <= version
    }

    /// The columns data of schema `version` has, with their indexes.
    pub fn columns_in(&self, version: i64) -> impl Iterator<Item = (usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.since <= version)
    }

    /// The row's primary key as text, for messages.
    pub fn describe_key(&self, cells: &[Cell]) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .map(|&i| {
                let v = cells.get(i).map_or_else(|| "?".to_owned(), Cell::display);
                format!("{}={v}", self.columns[i].name)
            })
            .collect();
        parts.join(", ")
    }
}

const fn col(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
        since: 1,
        default: None,
    }
}

const fn opt(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
        since: 1,
        default: None,
    }
}

/// A nullable column added by schema `since`.
const fn added(since: i64, name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
        since,
        default: None,
    }
}

/// A text column added by schema `since` that is never null: older rows
/// get `default`, as the migration gave the rows it found.
const fn added_with_default(
    since: i64,
    name: &'static str,
    ty: ColType,
    default: &'static str,
) -> Column {
    Column {
        name,
        ty,
        nullable: false,
        since,
        default: Some(default),
    }
}

use ColType::{Bool, Date, Int, Json, Real, Text, Timestamp, Uuid};

/// Every table, parents first. `schema_migrations` is not data: it is
/// the schema's own bookkeeping, and is checked through
/// [`SCHEMA_VERSION`].
pub static TABLES: &[TableDef] = &[
    TableDef {
        name: "accounts",
        columns: &[
            col("id", Uuid),
            opt("email", Text),
            opt("password_hash", Text),
            col("created_at", Timestamp),
        ],
        key: &[0],
        since: 1,
    },
    TableDef {
        name: "profiles",
        columns: &[
            col("id", Uuid),
            col("account_id", Uuid),
            col("name", Text),
            col("created_at", Timestamp),
            added(2, "time_zone", Text),
        ],
        key: &[0],
        since: 1,
    },
    TableDef {
        name: "web_sessions",
        columns: &[
            col("token_hash", Text),
            col("account_id", Uuid),
            col("csrf_token", Text),
            opt("profile_id", Uuid),
            col("created_at", Timestamp),
            col("expires_at", Timestamp),
            added(2, "verified_at", Timestamp),
        ],
        key: &[0],
        since: 1,
    },
    TableDef {
        name: "calendar_tokens",
        columns: &[
            col("profile_id", Uuid),
            col("token_hash", Text),
            col("created_at", Timestamp),
        ],
        key: &[0],
        since: 1,
    },
    TableDef {
        name: "screenings",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            col("taken_at", Timestamp),
            col("verdict", Text),
            col("answers", Json),
            col("result", Json),
        ],
        key: &[0, 1],
        since: 1,
    },
    TableDef {
        name: "devices",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            col("name", Text),
            col("kind", Json),
            col("state", Json),
            col("use_count", Int),
            col("damaged", Bool),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
            col("version", Int),
        ],
        key: &[0, 1],
        since: 1,
    },
    TableDef {
        name: "hygiene_events",
        columns: &[
            col("profile_id", Uuid),
            col("device_id", Uuid),
            col("seq", Int),
            col("at", Timestamp),
            col("event", Json),
            col("state_after", Text),
        ],
        key: &[0, 1, 2],
        since: 1,
    },
    // Schema 7: every answered readiness check (a home session names the
    // one that allowed it).
    TableDef {
        name: "readiness_checks",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            opt("device_id", Uuid),
            col("at", Timestamp),
            col("answers", Json),
            col("go", Bool),
            col("rule_ids", Json),
        ],
        key: &[0, 1],
        since: 7,
    },
    TableDef {
        name: "sessions",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            opt("device_id", Uuid),
            col("started_at", Timestamp),
            col("ended_at", Timestamp),
            col("local_date", Date),
            col("needle_length_mm", Real),
            col("notes", Text),
            added_with_default(7, "setting", Text, "home"),
            added(7, "readiness_check_id", Uuid),
        ],
        key: &[0, 1],
        since: 1,
    },
    TableDef {
        name: "session_zones",
        columns: &[
            col("profile_id", Uuid),
            col("session_id", Uuid),
            col("position", Int),
            col("zone", Text),
            col("seconds", Int),
            opt("strokes", Int),
            col("skipped", Bool),
        ],
        key: &[0, 1, 2],
        since: 1,
    },
    TableDef {
        name: "session_products",
        columns: &[
            col("profile_id", Uuid),
            col("session_id", Uuid),
            col("position", Int),
            col("name", Text),
            col("category", Text),
            col("applied_at", Timestamp),
            col("allowed", Bool),
        ],
        key: &[0, 1, 2],
        since: 1,
    },
    TableDef {
        name: "checkins",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            opt("session_id", Uuid),
            col("at", Timestamp),
            col("answers", Json),
            col("level", Text),
            col("rule_ids", Json),
        ],
        key: &[0, 1],
        since: 1,
    },
    TableDef {
        name: "episodes",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            col("checkin_id", Uuid),
            col("level", Text),
            col("opened_at", Timestamp),
            opt("resolved_at", Timestamp),
            col("resolution", Text),
            added(7, "resolver", Json),
        ],
        key: &[0, 1],
        since: 1,
    },
    TableDef {
        name: "ratings",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            col("zone", Text),
            col("concern", Text),
            col("score", Int),
            col("rated_at", Timestamp),
            col("note", Text),
        ],
        key: &[0, 1],
        since: 1,
    },
    TableDef {
        name: "photos",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            col("taken_at", Timestamp),
            opt("zone", Text),
            col("width", Int),
            col("height", Int),
            col("bytes", Int),
            col("sha256", Text),
            col("content_type", Text),
            col("stored_name", Text),
        ],
        key: &[0, 1],
        since: 1,
    },
    // Schema 2: the clinic side.
    TableDef {
        name: "clinics",
        columns: &[
            col("id", Uuid),
            col("name", Text),
            col("time_zone", Text),
            col("ladder", Json),
            col("created_at", Timestamp),
        ],
        key: &[0],
        since: 2,
    },
    TableDef {
        name: "clinic_members",
        columns: &[
            col("clinic_id", Uuid),
            col("account_id", Uuid),
            col("role", Text),
            col("display_name", Text),
            col("joined_at", Timestamp),
        ],
        key: &[0, 1],
        since: 2,
    },
    TableDef {
        name: "clinic_invites",
        columns: &[
            col("clinic_id", Uuid),
            col("code_hash", Text),
            col("label", Text),
            col("created_by", Uuid),
            col("created_at", Timestamp),
            col("expires_at", Timestamp),
            opt("used_by", Uuid),
            opt("used_at", Timestamp),
        ],
        key: &[0, 1],
        since: 2,
    },
    TableDef {
        name: "clinic_member_invites",
        columns: &[
            col("clinic_id", Uuid),
            col("code_hash", Text),
            col("email", Text),
            col("role", Text),
            col("display_name", Text),
            col("created_by", Uuid),
            col("created_at", Timestamp),
            col("expires_at", Timestamp),
            opt("used_by", Uuid),
            opt("used_at", Timestamp),
        ],
        key: &[0, 1],
        since: 4,
    },
    TableDef {
        name: "clinic_patients",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("joined_at", Timestamp),
        ],
        key: &[0, 1],
        since: 2,
    },
    TableDef {
        name: "consents",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("scope", Text),
            col("granted_at", Timestamp),
        ],
        key: &[0, 1, 2],
        since: 2,
    },
    TableDef {
        name: "protocols",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("id", Uuid),
            col("prescribed_by", Uuid),
            col("prescribed_at", Timestamp),
            col("body", Json),
        ],
        key: &[0, 1, 2],
        since: 2,
    },
    TableDef {
        name: "rule_overrides",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("id", Uuid),
            col("rule_id", Text),
            col("by_account", Uuid),
            col("by_name", Text),
            col("at", Timestamp),
            col("reason", Text),
            opt("revoked_at", Timestamp),
        ],
        key: &[0, 1, 2],
        since: 2,
    },
    TableDef {
        name: "red_flag_acks",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("episode_id", Uuid),
            col("by_account", Uuid),
            col("by_name", Text),
            col("at", Timestamp),
            col("note", Text),
        ],
        key: &[0, 1, 2],
        since: 2,
    },
    TableDef {
        name: "escalations",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("episode_id", Uuid),
            col("step", Int),
            col("at", Timestamp),
        ],
        key: &[0, 1, 2, 3],
        since: 2,
    },
    TableDef {
        name: "notifications",
        columns: &[
            col("account_id", Uuid),
            col("id", Uuid),
            opt("clinic_id", Uuid),
            opt("profile_id", Uuid),
            col("kind", Text),
            col("title", Text),
            col("body", Text),
            col("link", Text),
            col("created_at", Timestamp),
            opt("read_at", Timestamp),
        ],
        key: &[0, 1],
        since: 2,
    },
    TableDef {
        name: "audit_log",
        columns: &[
            col("profile_id", Uuid),
            col("id", Uuid),
            col("clinic_id", Uuid),
            col("actor", Uuid),
            col("actor_name", Text),
            col("action", Text),
            col("detail", Text),
            col("at", Timestamp),
        ],
        key: &[0, 1],
        since: 2,
    },
    TableDef {
        name: "email_outbox",
        columns: &[
            col("id", Uuid),
            col("recipient", Text),
            col("subject", Text),
            col("body", Text),
            col("created_at", Timestamp),
            opt("sent_at", Timestamp),
            col("attempts", Int),
            opt("leased_until", Timestamp),
            col("last_error", Text),
            added(13, "calendar_method", Text),
            added(13, "calendar", Text),
        ],
        key: &[0],
        since: 2,
    },
    TableDef {
        name: "totp_secrets",
        columns: &[
            col("account_id", Uuid),
            col("secret", Text),
            opt("enabled_at", Timestamp),
            col("last_step", Int),
            added(3, "pending_session", Text),
        ],
        key: &[0],
        since: 2,
    },
    TableDef {
        name: "rate_limits",
        columns: &[
            col("key", Text),
            col("window_start", Timestamp),
            col("hits", Int),
        ],
        key: &[0, 1],
        since: 2,
    },
    // Schema 10: conversations between a patient and their clinic.
    TableDef {
        name: "conversations",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("id", Uuid),
            col("subject", Text),
            opt("origin_checkin_id", Uuid),
            opt("origin_episode_id", Uuid),
            opt("origin_card", Json),
            col("shared_with_staff", Bool),
            col("started_by", Uuid),
            col("created_at", Timestamp),
            col("last_message_at", Timestamp),
            col("last_side", Text),
            opt("last_patient_at", Timestamp),
            opt("last_clinic_at", Timestamp),
            opt("patient_read_at", Timestamp),
            opt("clinic_read_at", Timestamp),
        ],
        key: &[0, 1, 2],
        since: 10,
    },
    TableDef {
        name: "messages",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("conversation_id", Uuid),
            col("id", Uuid),
            col("author", Uuid),
            col("side", Text),
            col("author_name", Text),
            col("body", Text),
            col("created_at", Timestamp),
        ],
        key: &[0, 1, 2, 3],
        since: 10,
    },
    TableDef {
        name: "message_photos",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("conversation_id", Uuid),
            col("message_id", Uuid),
            col("id", Uuid),
            col("position", Int),
            col("width", Int),
            col("height", Int),
            col("bytes", Int),
            col("sha256", Text),
            col("stored_name", Text),
        ],
        key: &[0, 1, 2, 3, 4],
        since: 10,
    },
    // Schema 11: appointments at the clinic.
    TableDef {
        name: "clinic_hours",
        columns: &[
            col("clinic_id", Uuid),
            col("week", Json),
            col("slot_minutes", Int),
            col("closed", Json),
            col("updated_by", Uuid),
            col("updated_at", Timestamp),
        ],
        key: &[0],
        since: 11,
    },
    TableDef {
        name: "appointment_proposals",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("id", Uuid),
            col("conversation_id", Uuid),
            col("message_id", Uuid),
            col("proposed_by", Uuid),
            col("proposed_by_name", Text),
            col("created_at", Timestamp),
            opt("booked", Uuid),
        ],
        key: &[0, 1, 2],
        since: 11,
    },
    TableDef {
        name: "proposed_slots",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("proposal_id", Uuid),
            col("position", Int),
            col("starts_at", Timestamp),
            col("ends_at", Timestamp),
        ],
        key: &[0, 1, 2, 3],
        since: 11,
    },
    TableDef {
        name: "appointments",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("id", Uuid),
            col("starts_at", Timestamp),
            col("ends_at", Timestamp),
            col("status", Text),
            col("note", Text),
            opt("conversation_id", Uuid),
            opt("proposal_id", Uuid),
            opt("replaces", Uuid),
            col("booked_by", Uuid),
            col("booked_side", Text),
            col("booked_by_name", Text),
            col("booked_at", Timestamp),
            opt("ended_by", Uuid),
            opt("ended_side", Text),
            opt("ended_by_name", Text),
            opt("ended_at", Timestamp),
            opt("end_reason", Text),
            opt("replaced_by", Uuid),
            col("sequence", Int),
        ],
        key: &[0, 1, 2],
        since: 11,
    },
    // Schema 12: canned replies; ladder steps of red-flag conversations.
    TableDef {
        name: "canned_replies",
        columns: &[
            col("clinic_id", Uuid),
            col("id", Uuid),
            col("title", Text),
            col("body", Text),
            col("updated_by", Uuid),
            col("updated_at", Timestamp),
        ],
        key: &[0, 1],
        since: 12,
    },
    TableDef {
        name: "conversation_escalations",
        columns: &[
            col("clinic_id", Uuid),
            col("profile_id", Uuid),
            col("conversation_id", Uuid),
            col("step", Int),
            col("at", Timestamp),
        ],
        key: &[0, 1, 2, 3],
        since: 12,
    },
];

/// The index of a table in [`TABLES`].
pub fn table_index(name: &str) -> Option<usize> {
    TABLES.iter().position(|t| t.name == name)
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
    Json(Value),
}

impl Cell {
    fn display(&self) -> String {
        match self {
            Cell::Null => "null".to_owned(),
            Cell::Int(n) => n.to_string(),
            Cell::Real(f) => f.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Text(s) => format!("{s:?}"),
            Cell::Json(_) => "(json)".to_owned(),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// One row of one table (`table` indexes [`TABLES`]); cells in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub table: usize,
    pub cells: Vec<Cell>,
}

impl SnapshotRow {
    pub fn def(&self) -> &'static TableDef {
        &TABLES[self.table]
    }
}

/// The rows of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: Vec<Vec<Cell>>,
}

/// Every row of every table, read in one consistent transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub schema_version: i64,
    /// One entry per table of [`TABLES`], in that order.
    pub tables: Vec<TableRows>,
}

impl Snapshot {
    pub fn empty() -> Snapshot {
        Snapshot {
            schema_version: SCHEMA_VERSION,
            tables: TABLES
                .iter()
                .map(|t| TableRows {
                    table: t.name,
                    rows: Vec::new(),
                })
                .collect(),
        }
    }

    /// The rows in restore order. Rows of an older schema version get
    /// null cells for the columns added since.
    pub fn rows(&self) -> impl Iterator<Item = SnapshotRow> + '_ {
        let version = self.schema_version;
        self.tables.iter().flat_map(move |t| {
            let index = table_index(t.table).unwrap_or(usize::MAX);
            t.rows.iter().map(move |cells| SnapshotRow {
                table: index,
                cells: match TABLES.get(index) {
                    Some(def) if version < SCHEMA_VERSION => upgrade_cells(def, version, cells),
                    _ => cells.clone(),
                },
            })
        })
    }

    pub fn table(&self, name: &str) -> Option<&TableRows> {
        self.tables.iter().find(|t| t.table == name)
    }

    pub fn checksums(&self) -> Result<Checksums> {
        let mut b = ChecksumBuilder::new();
        for row in self.rows() {
            b.add(&row)?;
        }
        Ok(b.finish())
    }
}

/// A row of schema `version` (its cells in that version's column order)
/// as a row of this build: the columns added since are null or their
/// default ([`Column::missing_cell`]). A row that
/// does not have that version's number of cells is returned unchanged, for
/// [`check_row`] to refuse by name.
pub fn upgrade_cells(def: &TableDef, version: i64, cells: &[Cell]) -> Vec<Cell> {
    if def.columns_in(version).count() != cells.len() || cells.len() == def.columns.len() {
        return cells.to_vec();
    }
    let mut old = cells.iter();
    def.columns
        .iter()
        .map(|c| {
            if c.since <= version {
                old.next().cloned().unwrap_or(Cell::Null)
            } else {
                c.missing_cell()
            }
        })
        .collect()
}

/// What restoring does with a store that already holds data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreMode {
    /// Refuse unless the store is empty: nothing but the local account,
    /// with no profiles (a freshly made store).
    IntoEmpty,
    /// Delete everything first (in the same transaction).
    Replace,
}

/// The row count and content checksum of one table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableChecksum {
    pub table: String,
    pub rows: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// Per-table counts and checksums, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checksums {
    pub tables: Vec<TableChecksum>,
}

impl Checksums {
    pub fn get(&self, table: &str) -> Option<&TableChecksum> {
        self.tables.iter().find(|t| t.table == table)
    }

    /// The tables whose count or checksum differ, described.
    pub fn differences(&self, other: &Checksums) -> Vec<String> {
        let mut out = Vec::new();
        for t in TABLES {
            match (self.get(t.name), other.get(t.name)) {
                (Some(a), Some(b)) if a == b => {}
                (None, None) => {}
                (Some(a), Some(b)) => out.push(format!(
                    "{}: {} rows (sha256 {}) vs {} rows (sha256 {})",
                    t.name, a.rows, a.sha256, b.rows, b.sha256
                )),
                _ => out.push(format!("{}: missing on one side", t.name)),
            }
        }
        out
    }
}

/// Builds [`Checksums`] from rows given in any order.
#[derive(Debug)]
pub struct ChecksumBuilder {
    /// Per table: (SHA-256 of the key, SHA-256 of the row): 64 bytes a
    /// row, whatever the rows hold.
    tables: Vec<Vec<([u8; 32], [u8; 32])>>,
    /// The schema version whose tables and columns are summed.
    version: i64,
}

impl Default for ChecksumBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChecksumBuilder {
    pub fn new() -> Self {
        Self::for_version(SCHEMA_VERSION)
    }

    /// Checksums as a build of schema `version` computed them: only the
    /// tables and columns that version has (rows are given in this build's
    /// shape; see [`upgrade_cells`]).
    pub fn for_version(version: i64) -> Self {
        ChecksumBuilder {
            tables: TABLES.iter().map(|_| Vec::new()).collect(),
            version,
        }
    }

    pub fn add(&mut self, row: &SnapshotRow) -> Result<()> {
        let Some(def) = TABLES.get(row.table) else {
            return Err(StoreError::invalid(format!("unknown table #{}", row.table)));
        };
        let mut key = Vec::new();
        for &i in def.key {
            if let Some(c) = row.cells.get(i) {
                encode_cell(c, &mut key);
            }
        }
        let mut encoded = Vec::new();
        for (i, _) in def.columns_in(self.version) {
            if let Some(c) = row.cells.get(i) {
                encode_cell(c, &mut encoded);
            }
        }
        let digest: [u8; 32] = Sha256::digest(&encoded).into();
        let key: [u8; 32] = Sha256::digest(&key).into();
        self.tables[row.table].push((key, digest));
        Ok(())
    }

    pub fn finish(mut self) -> Checksums {
        let version = self.version;
        let tables = TABLES
            .iter()
            .zip(self.tables.iter_mut())
            .filter(|(def, _)| def.in_version(version))
            .map(|(def, rows)| {
                rows.sort_unstable();
                let mut h = Sha256::new();
                h.update(def.name.as_bytes());
                h.update([0]);
                for (_, digest) in rows.iter() {
                    h.update(digest);
                }
                TableChecksum {
                    table: def.name.to_owned(),
                    rows: rows.len() as u64,
                    sha256: hex(&h.finalize()),
                }
            })
            .collect();
        Checksums { tables }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn encode_cell(c: &Cell, out: &mut Vec<u8>) {
    match c {
        Cell::Null => out.push(0),
        Cell::Int(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Cell::Real(f) => {
            out.push(2);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Cell::Bool(b) => {
            out.push(3);
            out.push(u8::from(*b));
        }
        Cell::Text(s) => {
            out.push(4);
            out.extend_from_slice(&(s.len() as u64).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Cell::Json(v) => {
            let text = canonical_json(v);
            out.push(5);
            out.extend_from_slice(&(text.len() as u64).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// JSON with object keys sorted and no spaces: the same text whichever
/// backend (SQLite text, PostgreSQL jsonb) the value came from.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(*k) {
                    write_canonical(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Checks a row against its table before it is stored: the number of
/// cells, each cell's type, canonical ids and dates, moments in range, no
/// NUL characters (PostgreSQL cannot store them). Errors name the table,
/// the row's key and the column.
pub fn check_row(row: &SnapshotRow) -> Result<()> {
    let Some(def) = TABLES.get(row.table) else {
        return Err(StoreError::invalid(format!("unknown table #{}", row.table)));
    };
    if row.cells.len() != def.columns.len() {
        return Err(StoreError::invalid(format!(
            "table {}: a row has {} values, but the table has {} columns",
            def.name,
            row.cells.len(),
            def.columns.len()
        )));
    }
    for (c, cell) in def.columns.iter().zip(&row.cells) {
        check_cell(c, cell).map_err(|problem| {
            StoreError::invalid(format!(
                "table {}, row ({}), column {}: {problem}",
                def.name,
                def.describe_key(&row.cells),
                c.name
            ))
        })?;
    }
    Ok(())
}

fn check_cell(c: &Column, cell: &Cell) -> std::result::Result<(), String> {
    match (c.ty, cell) {
        (_, Cell::Null) if c.nullable => Ok(()),
        (_, Cell::Null) => Err("must not be null".to_owned()),
        (Uuid, Cell::Text(s)) => match uuid::Uuid::parse_str(s) {
            Ok(u) if u.hyphenated().to_string() == *s => Ok(()),
            Ok(_) => Err(format!("{s:?} is not a UUID in lower-case hyphenated form")),
            Err(e) => Err(format!("{s:?} is not a UUID: {e}")),
        },
        (Text, Cell::Text(s)) => no_nul(s),
        (Date, Cell::Text(s)) => match needlewise_core::answers::parse_date(s) {
            Ok(d) if crate::codec::date_text(d) == *s => Ok(()),
            _ => Err(format!("{s:?} is not a date (YYYY-MM-DD)")),
        },
        (Int, Cell::Int(_)) => Ok(()),
        (Timestamp, Cell::Int(us)) => jiff::Timestamp::from_microsecond(*us)
            .map(|_| ())
            .map_err(|_| format!("{us} µs is out of the range of timestamps")),
        (Real, Cell::Real(f)) if f.is_finite() => Ok(()),
        (Real, Cell::Real(f)) => Err(format!("{f} is not a finite number")),
        (Bool, Cell::Bool(_)) => Ok(()),
        (Json, Cell::Json(v)) => json_no_nul(v),
        (ty, _) => Err(format!("expected {}", type_name(ty))),
    }
}

fn no_nul(s: &str) -> std::result::Result<(), String> {
    if s.contains('\0') {
        Err("text must not contain NUL characters".to_owned())
    } else {
        Ok(())
    }
}

fn json_no_nul(v: &Value) -> std::result::Result<(), String> {
    match v {
        Value::String(s) => no_nul(s),
        Value::Array(items) => items.iter().try_for_each(json_no_nul),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            no_nul(k)?;
            json_no_nul(v)
        }),
        _ => Ok(()),
    }
}

/// How a column type is named in messages.
pub fn type_name(ty: ColType) -> &'static str {
    match ty {
        Uuid => "a UUID (text)",
        Text => "text",
        Int => "a whole number",
        Real => "a number",
        Bool => "true or false",
        Timestamp => "a timestamp in unix microseconds (whole number)",
        Date => "a date (text, YYYY-MM-DD)",
        Json => "a JSON value",
    }
}

/// Checks that rows come table by table in [`TABLES`] order (parents
/// before children), and checks each row.
#[derive(Debug, Default)]
pub(crate) struct OrderCheck {
    last: usize,
}

impl OrderCheck {
    pub fn check(&mut self, row: &SnapshotRow) -> Result<()> {
        if row.table < self.last {
            return Err(StoreError::invalid(format!(
                "rows of table {} come after rows of table {}: tables must come in the order {}",
                TABLES.get(row.table).map_or("?", |t| t.name),
                TABLES[self.last].name,
                TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            )));
        }
        self.last = row.table;
        check_row(row)
    }
}
