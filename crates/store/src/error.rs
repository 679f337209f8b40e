//! The store's errors. Messages name what went wrong and never carry
//! connection strings or passwords.

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (for this profile).
    #[error("not found: {what}")]
    NotFound { what: String },
    /// Someone else changed the record first, or the name or id is taken.
    #[error("conflict: {what}")]
    Conflict { what: String },
    /// The asker is known but their role may not do this (staff reading
    /// clinical data, say).
    #[error("forbidden: {what}")]
    Forbidden { what: String },
    /// A record that cannot be stored as given, or stored data that no
    /// longer parses.
    #[error("invalid data: {what}")]
    Invalid { what: String },
    /// The database driver failed.
    #[error("database error: {0}")]
    Backend(String),
    /// The schema cannot be brought up to date.
    #[error("migration error: {0}")]
    Migration(String),
}

impl StoreError {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    pub(crate) fn conflict(what: impl Into<String>) -> Self {
        StoreError::Conflict { what: what.into() }
    }

    pub(crate) fn forbidden(what: impl Into<String>) -> Self {
        StoreError::Forbidden { what: what.into() }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        StoreError::Invalid { what: what.into() }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // rusqlite's messages hold the SQLite error text and, for type
        // errors, the column: no data and no paths.
        StoreError::Backend(format!("sqlite: {e}"))
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // A server error: its SQLSTATE and message. Anything else (IO,
        // protocol, configuration) is described by the driver without the
        // connection string.
        StoreError::Backend(pg_message(&e))
    }
}

/// A PostgreSQL error as `postgres SQLSTATE: message`.
pub(crate) fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("postgres {}: {}", db.code().code(), db.message()),
        None => format!("postgres: {e}"),
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Invalid {
            what: format!("stored JSON does not parse: {e}"),
        }
    }
}
