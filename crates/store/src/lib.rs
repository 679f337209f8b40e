//! Persistence for needlewise.
//!
//! One [`Store`] trait, implemented by [`SqliteStore`] (the embedded default)
//! and [`PostgresStore`] (for clinics and several server instances). One
//! contract test suite (`tests/contract.rs`) runs against both.
//!
//! Design rules, so the same schema can later run on distributed
//! PostgreSQL: ids are UUIDs made by the application; every table carries
//! the owning `profile_id` in its primary key; writes that can race use
//! optimistic versions and are retried on serialization failures (SQLSTATE
//! 40001); there are no advisory locks and no `INSERT OR REPLACE`.
#![forbid(unsafe_code)]

use jiff::Timestamp;
use needlewise_core::hygiene::{Device, HygieneEvent};
use needlewise_core::ids::{DeviceId, EpisodeId, ProfileId, SessionId};
use needlewise_core::records::{
    CheckinRecord, Episode, ProductUse, Profile, ScreeningRecord, SessionRecord,
};

mod codec;
mod error;
mod postgres_store;
mod sqlite_store;

pub use error::StoreError;
pub use postgres_store::PostgresStore;
pub use sqlite_store::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A hygiene event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct HygieneLogEntry {
    pub at: Timestamp,
    pub event: HygieneEvent,
    /// The state the device was in after the event.
    pub state_after: String,
}

/// Row counts, for status screens and migration checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub profiles: u64,
    pub screenings: u64,
    pub devices: u64,
    pub hygiene_events: u64,
    pub sessions: u64,
    pub checkins: u64,
    pub episodes: u64,
}

/// Everything needlewise persists. All methods that read or change a
/// profile's data take its id: there is no query that crosses profiles.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend this is, for messages: `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    // Profiles.
    fn create_profile(&self, profile: &Profile) -> Result<()>;
    fn profiles(&self) -> Result<Vec<Profile>>;
    fn profile(&self, id: ProfileId) -> Result<Option<Profile>>;
    fn profile_by_name(&self, name: &str) -> Result<Option<Profile>>;
    /// Deletes the profile and everything that belongs to it.
    fn delete_profile(&self, id: ProfileId) -> Result<()>;

    // Screenings.
    fn save_screening(&self, screening: &ScreeningRecord) -> Result<()>;
    fn latest_screening(&self, profile: ProfileId) -> Result<Option<ScreeningRecord>>;

    // Devices and hygiene.
    fn add_device(&self, device: &Device) -> Result<()>;
    fn device(&self, profile: ProfileId, id: DeviceId) -> Result<Option<Device>>;
    /// All of a profile's devices, oldest first.
    fn devices(&self, profile: ProfileId) -> Result<Vec<Device>>;
    /// Stores `next` (the result of `Device::apply`) and logs the event, in
    /// one transaction. Fails with [`StoreError::Conflict`] if the stored
    /// device is not at `next.version - 1` (someone else changed it).
    fn record_hygiene(&self, next: &Device, event: &HygieneEvent) -> Result<()>;
    /// A device's hygiene log, oldest first.
    fn hygiene_log(&self, profile: ProfileId, device: DeviceId) -> Result<Vec<HygieneLogEntry>>;

    // Sessions.
    /// Stores a session with its zones and products. When `device` is given
    /// (the device after its `Use` event), it is stored and the use logged in
    /// the same transaction, with the same version check as `record_hygiene`.
    fn log_session(&self, session: &SessionRecord, device: Option<&Device>) -> Result<()>;
    /// A profile's sessions, newest first.
    fn sessions(&self, profile: ProfileId) -> Result<Vec<SessionRecord>>;
    fn session(&self, profile: ProfileId, id: SessionId) -> Result<Option<SessionRecord>>;
    fn last_session(&self, profile: ProfileId) -> Result<Option<SessionRecord>>;
    /// Records a product applied after the session (aftercare).
    fn add_product_use(
        &self,
        profile: ProfileId,
        session: SessionId,
        product: &ProductUse,
    ) -> Result<()>;

    // Check-ins and symptom episodes.
    /// Stores a check-in and, when it raised a red flag, the episode it opens.
    fn save_checkin(&self, checkin: &CheckinRecord, episode: Option<&Episode>) -> Result<()>;
    /// A profile's check-ins, newest first.
    fn checkins(&self, profile: ProfileId) -> Result<Vec<CheckinRecord>>;
    fn episodes(&self, profile: ProfileId) -> Result<Vec<Episode>>;
    fn open_episodes(&self, profile: ProfileId) -> Result<Vec<Episode>>;
    fn resolve_episode(
        &self,
        profile: ProfileId,
        id: EpisodeId,
        at: Timestamp,
        note: &str,
    ) -> Result<()>;

    /// Row counts over the whole store.
    fn counts(&self) -> Result<Counts>;
}

/// Opens a store from a URL: `sqlite://PATH` (or a bare path) or
/// `postgres://…`. Migrations run on open.
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(PostgresStore::connect(url)?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(Box::new(SqliteStore::open(std::path::Path::new(path))?))
    }
}
