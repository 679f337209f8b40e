//! Persistence for needlewise.
//!
//! One [`Store`] trait, implemented by [`SqliteStore`] (the embedded default)
//! and [`PostgresStore`] (for clinics and several server instances). One
//! contract test suite (`tests/contract.rs`) runs against both.
//!
//! Design rules, so the same schema can later run on distributed
//! PostgreSQL: ids are UUIDs made by the application; every table of
//! profile data carries the owning `profile_id` in its primary key (the
//! small `accounts` and `web_sessions` tables are keyed by account and by
//! token); writes that can race use optimistic versions and are retried on
//! serialization failures (SQLSTATE 40001); there are no advisory locks and
//! no `INSERT OR REPLACE`.
#![forbid(unsafe_code)]

use jiff::Timestamp;
use needlewise_core::hygiene::{Device, HygieneEvent};
use needlewise_core::ids::{
    AccountId, DeviceId, EpisodeId, PhotoId, ProfileId, RatingId, ReadinessCheckId, SessionId,
};
use needlewise_core::progress::{Photo, Rating};
use needlewise_core::records::{
    Account, CheckinRecord, Episode, ProductUse, Profile, ReadinessCheckRecord, Resolver,
    ScreeningRecord, SessionRecord,
};
use needlewise_core::schedule::LastSession;
use needlewise_core::screening::Verdict;
use needlewise_core::triage::TriageLevel;

pub mod appointment;
mod appointment_impl;
pub mod backup;
pub mod clinic;
mod clinic_impl;
mod codec;
pub mod conversation;
mod conversation_impl;
mod error;
pub mod export;
mod postgres_store;
pub mod snapshot;
mod snapshot_impl;
mod sql;
mod sqlite_store;
mod store_impl;

pub use appointment::AppointmentStore;
pub use clinic::ClinicStore;
pub use conversation::ConversationStore;
pub use error::{BackendError, StoreError};
pub use postgres_store::PostgresStore;
pub use snapshot::{Checksums, RestoreMode, Snapshot, SnapshotRow};
pub use sqlite_store::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A hygiene event as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HygieneLogEntry {
    pub at: Timestamp,
    pub event: HygieneEvent,
    /// The state the device was in after the event.
    pub state_after: String,
}

/// A logged-in browser. The cookie holds a random token; the store keeps
/// only its SHA-256 hash, so a leaked database cannot be replayed as cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Lower-case hex SHA-256 of the cookie token.
    pub token_hash: String,
    pub account_id: AccountId,
    /// The synchroniser token every state-changing request must carry.
    pub csrf_token: String,
    /// The profile the browser is working in.
    pub profile_id: Option<ProfileId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// When the owner last proved who they are beyond the password at
    /// log-in: a second factor, or the password again before a sensitive
    /// change.
    pub verified_at: Option<Timestamp>,
}

impl WebSession {
    /// A short public handle for the session list: it names the session
    /// without revealing the token or its stored hash.
    pub fn handle(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("handle:{}", self.token_hash).as_bytes());
        snapshot::hex(&digest[..8])
    }
}

/// A web session with what a clinic page needs of its account
/// ([`Store::clinic_web_session`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicWebSession {
    pub session: WebSession,
    /// Every clinic the account belongs to, oldest membership first.
    pub memberships: Vec<(
        needlewise_core::clinic::Clinic,
        needlewise_core::clinic::Member,
    )>,
    pub totp: Option<clinic::TotpSecret>,
}

/// What the home page shows about a profile, read in one transaction from
/// small columns and rows: no answers, reasons or zones are decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dashboard {
    /// The latest screening's verdict.
    pub verdict: Option<Verdict>,
    /// The last session (the one that ended last, then the greatest id):
    /// its end and needle length.
    pub last_session: Option<LastSession>,
    /// Whether a red-flag episode is open (it locks sessions).
    pub locked: bool,
    /// All of the profile's devices, oldest first.
    pub devices: Vec<Device>,
    /// The triage level of the latest check-in.
    pub latest_checkin: Option<TriageLevel>,
    /// The protocol in force (as [`ClinicStore::active_protocol`]): its
    /// spacing moves the next session.
    pub protocol: Option<needlewise_core::clinic::Protocol>,
}

/// What the home page needs in one read: the session, its account's
/// profiles, the profile it works in and that profile's dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDashboard {
    pub session: WebSession,
    pub profiles: Vec<Profile>,
    pub profile: Profile,
    pub dashboard: Dashboard,
}

/// The profile a session works in: the one it chose, else the account's
/// first (oldest).
pub fn working_profile<'a>(session: &WebSession, profiles: &'a [Profile]) -> Option<&'a Profile> {
    session
        .profile_id
        .and_then(|id| profiles.iter().find(|p| p.id == id))
        .or_else(|| profiles.first())
}

/// Row counts, for status screens and migration checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub accounts: u64,
    pub web_sessions: u64,
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
pub trait Store:
    ClinicStore + ConversationStore + AppointmentStore + Send + Sync + std::fmt::Debug
{
    /// Which backend this is, for messages: `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Whether a small read finishes in microseconds without waiting on a
    /// network or another writer, so that an async caller may run it in
    /// place rather than hand it to a thread pool (SQLite's read-only
    /// connections beside the writer). Writes never qualify.
    fn reads_in_place(&self) -> bool {
        false
    }

    // Accounts. The local account (`AccountId::LOCAL`) exists in every store
    // from the first migration on; the command line's profiles belong to it.
    //
    // The local account is returned with an empty email and password hash.
    /// Stores the email lower-cased. Fails with [`StoreError::Conflict`] if
    /// the email (or the id) is taken, and with [`StoreError::Invalid`] if
    /// the email or the password hash is empty.
    fn create_account(&self, account: &Account) -> Result<()>;
    fn account(&self, id: AccountId) -> Result<Option<Account>>;
    /// Looks up by email, compared lower-cased. Never finds the local account.
    fn account_by_email(&self, email: &str) -> Result<Option<Account>>;
    /// Deletes the account, its profiles and everything in them, and its
    /// web sessions. The local account cannot be deleted
    /// ([`StoreError::Invalid`]); an unknown one is [`StoreError::NotFound`].
    fn delete_account(&self, id: AccountId) -> Result<()>;

    // Web sessions (server-side, so several instances can share them).
    /// Fails with [`StoreError::NotFound`] if the account does not exist or
    /// the profile is not the account's, [`StoreError::Conflict`] if the
    /// token hash is taken, and [`StoreError::Invalid`] for the local account
    /// (it cannot log in), a token hash that is not 64 lower-case hex digits,
    /// an empty CSRF token, or an expiry not after the creation time.
    fn create_web_session(&self, session: &WebSession) -> Result<()>;
    /// A session by the hash of its token, if it exists and has not expired
    /// at `now`.
    fn web_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<WebSession>>;
    /// What every logged-in request needs: the session (as
    /// [`Store::web_session`]) and its account's profiles (as
    /// [`Store::profiles`]), from one read.
    fn web_session_with_profiles(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(WebSession, Vec<Profile>)>> {
        let Some(session) = self.web_session(token_hash, now)? else {
            return Ok(None);
        };
        let profiles = self.profiles(session.account_id)?;
        Ok(Some((session, profiles)))
    }
    /// What every clinic page checks first: the session (as
    /// [`Store::web_session`]) with its account's memberships (as
    /// [`ClinicStore::memberships`]) and second factor (as
    /// [`ClinicStore::totp`]). PostgreSQL reads them in one statement.
    fn clinic_web_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ClinicWebSession>> {
        let Some(session) = self.web_session(token_hash, now)? else {
            return Ok(None);
        };
        let memberships = self.memberships(session.account_id)?;
        let totp = self.totp(session.account_id)?;
        Ok(Some(ClinicWebSession {
            session,
            memberships,
            totp,
        }))
    }
    /// Switches the profile a session works in; the profile must belong to
    /// the session's account ([`StoreError::NotFound`] otherwise).
    fn set_web_session_profile(&self, token_hash: &str, profile: ProfileId) -> Result<()>;
    /// Ends a session (log out). Ending one that is already gone is not an
    /// error.
    fn delete_web_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of an account (log out everywhere); returns how many.
    fn delete_web_sessions_of(&self, account: AccountId) -> Result<u64>;
    /// Sets an account's password hash and ends every other session of it
    /// (all but `keep`, a token hash), in one transaction. An unknown or
    /// local account is [`StoreError::NotFound`]; an empty hash
    /// [`StoreError::Invalid`].
    fn change_password(&self, account: AccountId, password_hash: &str, keep: &str) -> Result<()>;
    /// Removes sessions expired at `now`; returns how many.
    fn purge_expired_web_sessions(&self, now: Timestamp) -> Result<u64>;

    // Profiles.
    /// Names are unique within an account ([`StoreError::Conflict`]); the
    /// account must exist ([`StoreError::NotFound`]).
    fn create_profile(&self, profile: &Profile) -> Result<()>;
    /// An account's profiles, oldest first.
    fn profiles(&self, account: AccountId) -> Result<Vec<Profile>>;
    fn profile(&self, id: ProfileId) -> Result<Option<Profile>>;
    fn profile_by_name(&self, account: AccountId, name: &str) -> Result<Option<Profile>>;
    /// Sets a profile's IANA time zone, or with `None` goes back to the
    /// server's. The caller checks the name; [`StoreError::NotFound`] for
    /// an unknown profile, [`StoreError::Invalid`] for an empty name.
    fn set_profile_time_zone(&self, profile: ProfileId, time_zone: Option<&str>) -> Result<()>;
    /// Deletes the profile and everything that belongs to it; web sessions
    /// working in it are left with no profile.
    fn delete_profile(&self, id: ProfileId) -> Result<()>;

    // Calendar subscriptions: one secret link per profile, kept as the
    // SHA-256 hash of its token (the token is the only credential).
    /// Sets the profile's calendar token, replacing any it had (so the old
    /// link stops working). Fails with [`StoreError::NotFound`] for an
    /// unknown profile, [`StoreError::Conflict`] if the hash is taken by
    /// another profile, and [`StoreError::Invalid`] if it is not 64
    /// lower-case hex digits.
    fn set_calendar_token(&self, profile: ProfileId, token_hash: &str, at: Timestamp)
    -> Result<()>;
    /// The profile whose calendar token has this hash, if any.
    fn profile_by_calendar_token(&self, token_hash: &str) -> Result<Option<Profile>>;
    /// Whether the profile has a calendar token, and since when.
    fn calendar_token_created(&self, profile: ProfileId) -> Result<Option<Timestamp>>;
    /// Removes the profile's calendar token, if it has one.
    fn delete_calendar_token(&self, profile: ProfileId) -> Result<()>;

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

    // Readiness checks.
    /// Stores an answered readiness check, go or not. [`StoreError::NotFound`]
    /// for an unknown profile or a device that is not the profile's;
    /// [`StoreError::Conflict`] for a taken id.
    fn save_readiness_check(&self, check: &ReadinessCheckRecord) -> Result<()>;
    /// A profile's readiness checks, newest first.
    fn readiness_checks(&self, profile: ProfileId) -> Result<Vec<ReadinessCheckRecord>>;
    fn readiness_check(
        &self,
        profile: ProfileId,
        id: ReadinessCheckId,
    ) -> Result<Option<ReadinessCheckRecord>>;
    /// The newest check for `device` taken at or before `at`.
    fn latest_readiness_check(
        &self,
        profile: ProfileId,
        device: DeviceId,
        at: Timestamp,
    ) -> Result<Option<ReadinessCheckRecord>>;

    // Sessions.
    /// Stores a session with its zones and products (and its setting and
    /// readiness check). When `device` is given
    /// (the device after its `Use` event), it is stored and the use logged in
    /// the same transaction, with the same version check as `record_hygiene`.
    fn log_session(&self, session: &SessionRecord, device: Option<&Device>) -> Result<()>;
    /// A profile's sessions, newest first.
    fn sessions(&self, profile: ProfileId) -> Result<Vec<SessionRecord>>;
    fn session(&self, profile: ProfileId, id: SessionId) -> Result<Option<SessionRecord>>;
    fn last_session(&self, profile: ProfileId) -> Result<Option<SessionRecord>>;
    /// The home page's facts in one read: the same answers as
    /// `latest_screening`, `last_session`, `open_episodes`, `devices` and
    /// `checkins` give, without decoding what the page does not show.
    fn dashboard(&self, profile: ProfileId) -> Result<Dashboard>;
    /// The home page's whole read: the live session with this token hash,
    /// its account's profiles, the [`working_profile`] and its dashboard;
    /// `None` for an unknown or expired session or an account without
    /// profiles.
    fn session_dashboard(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionDashboard>> {
        let Some((session, profiles)) = self.web_session_with_profiles(token_hash, now)? else {
            return Ok(None);
        };
        let Some(profile) = working_profile(&session, &profiles).cloned() else {
            return Ok(None);
        };
        let dashboard = self.dashboard(profile.id)?;
        Ok(Some(SessionDashboard {
            session,
            profiles,
            profile,
            dashboard,
        }))
    }
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
    /// Resolves an open red flag, recording who did and their note; a
    /// fresh check-in that goes with the resolution (see
    /// [`Resolver::DoctorExamined`]) is stored in the same transaction.
    /// [`StoreError::NotFound`] unless the profile has that episode open.
    fn resolve_episode(
        &self,
        profile: ProfileId,
        id: EpisodeId,
        at: Timestamp,
        note: &str,
        resolver: &Resolver,
        checkin: Option<&CheckinRecord>,
    ) -> Result<()>;

    // Progress: self-ratings and photo metadata (the photo files live
    // outside the store).
    /// Fails with [`StoreError::NotFound`] for an unknown profile and
    /// [`StoreError::Conflict`] for a taken id.
    fn add_rating(&self, rating: &Rating) -> Result<()>;
    /// A profile's ratings, oldest first.
    fn ratings(&self, profile: ProfileId) -> Result<Vec<Rating>>;
    /// [`StoreError::NotFound`] if the profile has no such rating.
    fn delete_rating(&self, profile: ProfileId, id: RatingId) -> Result<()>;
    /// Fails like [`Store::add_rating`]; [`StoreError::Invalid`] for a zero
    /// size or an empty stored name.
    fn add_photo(&self, photo: &Photo) -> Result<()>;
    /// A profile's photos, oldest first.
    fn photos(&self, profile: ProfileId) -> Result<Vec<Photo>>;
    fn photo(&self, profile: ProfileId, id: PhotoId) -> Result<Option<Photo>>;
    /// [`StoreError::NotFound`] if the profile has no such photo.
    fn delete_photo(&self, profile: ProfileId, id: PhotoId) -> Result<()>;

    /// Row counts over the whole store (the local account included).
    fn counts(&self) -> Result<Counts>;

    // Portability: backups, copies between backends (see `snapshot`).
    /// Streams every row of every table to `sink`, table by table in
    /// [`snapshot::TABLES`] order, all read in one consistent read
    /// transaction (so the store may be written meanwhile). An error from
    /// `sink` stops the read and is returned.
    fn snapshot_rows(&self, sink: &mut dyn FnMut(SnapshotRow) -> Result<()>) -> Result<()>;
    /// How many rows [`Store::snapshot_rows`] would stream now: every
    /// table's `count(*)`, in one statement (a copy's progress, without
    /// reading the rows twice).
    fn snapshot_row_count(&self) -> Result<u64>;
    /// Stores the rows in one write transaction: nothing changes unless
    /// every row is stored. Rows must come table by table in
    /// [`snapshot::TABLES`] order and must include the local account. With
    /// [`RestoreMode::IntoEmpty`] a store holding more than the local
    /// account is refused ([`StoreError::Conflict`]); with
    /// [`RestoreMode::Replace`] its rows are deleted first. Returns the
    /// number of rows stored.
    fn restore_rows(
        &self,
        rows: &mut dyn Iterator<Item = Result<SnapshotRow>>,
        mode: RestoreMode,
    ) -> Result<u64>;

    /// Every row of every table, read in one consistent transaction.
    fn snapshot(&self) -> Result<Snapshot> {
        let mut snap = Snapshot::empty();
        self.snapshot_rows(&mut |row| {
            snap.tables[row.table].rows.push(row.cells);
            Ok(())
        })?;
        Ok(snap)
    }

    /// Restores a snapshot; see [`Store::restore_rows`].
    fn restore_snapshot(&self, snap: &Snapshot, mode: RestoreMode) -> Result<()> {
        // Older versions restore with the tables and columns added since
        // left empty.
        snapshot::check_schema_version(snap.schema_version)?;
        let mut rows = snap.rows().map(Ok);
        self.restore_rows(&mut rows, mode).map(|_| ())
    }

    /// Per-table row counts and content checksums, from one consistent
    /// read; the same data gives the same checksums on either backend.
    fn checksums(&self) -> Result<Checksums> {
        let mut builder = snapshot::ChecksumBuilder::new();
        self.snapshot_rows(&mut |row| builder.add(&row))?;
        Ok(builder.finish())
    }
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
