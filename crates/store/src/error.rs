//! The store's errors. Messages name what went wrong and never carry
//! connection strings or passwords.

use std::sync::Arc;

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
    /// The database driver failed; the driver's error is the source.
    #[error("database error: {0}")]
    Backend(#[source] BackendError),
    /// The schema cannot be brought up to date.
    #[error("migration error: {0}")]
    Migration(String),
}

/// What a driver error means to the store, beyond its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A unique or primary key is taken.
    Unique,
    /// A referenced row is missing.
    ForeignKey,
    /// A serialization failure or deadlock: the transaction may be retried.
    Transient,
    Other,
}

/// A database driver's failure: a message without secrets and, when the
/// driver raised it, the driver's own error as [`std::error::Error::source`].
#[derive(Debug, Clone)]
pub struct BackendError {
    message: String,
    kind: Kind,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// A failure described by the caller, with no driver error behind it.
    pub fn msg(message: impl Into<String>) -> Self {
        BackendError {
            message: message.into(),
            kind: Kind::Other,
            source: None,
        }
    }

    /// The same error, its message followed by `suffix`.
    pub(crate) fn with_suffix(mut self, suffix: &str) -> Self {
        self.message.push_str(suffix);
        self
    }

    pub(crate) fn driver(
        message: String,
        kind: Kind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        BackendError {
            message,
            kind,
            source: Some(Arc::new(source)),
        }
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Two backend errors are equal when they say the same.
impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message && self.kind == other.kind
    }
}

impl Eq for BackendError {}

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

    /// A driver-independent backend failure (a path that cannot be made,
    /// a reader that stopped).
    pub fn backend(message: impl Into<String>) -> Self {
        StoreError::Backend(BackendError::msg(message))
    }

    /// A backend failure (`message`, which names what failed) caused by
    /// `source`, kept as the error's source.
    pub(crate) fn backend_caused(
        message: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend(BackendError::driver(message, Kind::Other, source))
    }

    pub(crate) fn kind(&self) -> Kind {
        match self {
            StoreError::Backend(e) => e.kind,
            _ => Kind::Other,
        }
    }

    /// Whether retrying the whole transaction may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        self.kind() == Kind::Transient
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        let kind = match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Kind::Unique,
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Kind::ForeignKey,
                _ => Kind::Other,
            },
            _ => Kind::Other,
        };
        // rusqlite's messages hold the SQLite error text and, for type
        // errors, the column: no data and no paths.
        StoreError::Backend(BackendError::driver(format!("sqlite: {e}"), kind, e))
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        let kind = match e.code() {
            Some(&SqlState::UNIQUE_VIOLATION) => Kind::Unique,
            Some(&SqlState::FOREIGN_KEY_VIOLATION) => Kind::ForeignKey,
            Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED) => {
                Kind::Transient
            }
            _ => Kind::Other,
        };
        // A server error: its SQLSTATE and message. Anything else (IO,
        // protocol, configuration) is described by the driver without the
        // connection string.
        StoreError::Backend(BackendError::driver(pg_message(&e), kind, e))
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
