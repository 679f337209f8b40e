//! What every command shares: the store, the clock reading, the profile.

use std::cell::OnceCell;
use std::path::PathBuf;

use anyhow::Context as _;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use needlewise_actions::{ActionError, Ctx};
use needlewise_core::answers::InvalidAnswers;
use needlewise_core::hygiene::HygieneError;
use needlewise_core::ids::{AccountId, ProfileId};
use needlewise_core::records::Profile;
use needlewise_store::{Store, StoreError};
use uuid::Uuid;

use crate::Global;

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    /// The answer is a safety stop: exit code 3.
    SafetyStop,
}

impl Exit {
    pub fn stop_if(stop: bool) -> Exit {
        if stop { Exit::SafetyStop } else { Exit::Ok }
    }
}

/// How a command failed.
#[derive(Debug)]
pub enum Failure {
    /// The person's input is wrong; the message says how (exit code 2).
    BadInput(String),
    /// The safety gate said no; nothing was saved (exit code 3).
    Refused {
        message: String,
        reasons: Vec<needlewise_core::engine::Reason>,
    },
    Other(anyhow::Error),
}

pub fn bad(message: impl Into<String>) -> Failure {
    Failure::BadInput(message.into())
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<InvalidAnswers> for Failure {
    fn from(e: InvalidAnswers) -> Self {
        let lines: Vec<String> =
            e.0.iter()
                .map(|f| format!("  {}: {}", f.field, f.message))
                .collect();
        Failure::BadInput(format!(
            "the answers have problems; nothing was saved:\n{}",
            lines.join("\n")
        ))
    }
}

impl From<HygieneError> for Failure {
    fn from(e: HygieneError) -> Self {
        Failure::BadInput(e.to_string())
    }
}

impl From<ActionError> for Failure {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Answers(a) => a.into(),
            ActionError::Hygiene(h) => h.into(),
            ActionError::Store(s) => s.into(),
            ActionError::Refused { message, reasons } => Failure::Refused { message, reasons },
            other => Failure::BadInput(other.to_string()),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } | StoreError::Conflict { .. } => {
                Failure::BadInput(e.to_string())
            }
            other => Failure::Other(anyhow::Error::new(other).context("the store failed")),
        }
    }
}

/// The shared context of one command.
#[derive(Debug)]
pub struct App {
    store_url: String,
    data_dir: Option<PathBuf>,
    store: OnceCell<Box<dyn Store>>,
    pub now: Timestamp,
    /// How far `--now` was from the real clock when it was read; `None`
    /// without `--now`, when the real clock is read every time.
    now_offset: Option<jiff::SignedDuration>,
    /// The machine's zone; a profile's own zone, when it has one, wins
    /// (see [`App::tz`]).
    system_tz: TimeZone,
    tz: OnceCell<TimeZone>,
    pub json: bool,
    pub profile_name: String,
}

impl App {
    pub fn new(global: &Global) -> Result<App, Failure> {
        let (now, now_offset) = match &global.now {
            None => (Timestamp::now(), None),
            Some(text) => {
                let given = text
                    .parse::<Timestamp>()
                    .map_err(|e| bad(format!("--now: {text:?} is not an RFC 3339 timestamp such as 2026-11-25T20:00:00Z ({e})")))?;
                (given, Some(given.duration_since(Timestamp::now())))
            }
        };
        let store_url = match (&global.database_url, &global.data_dir) {
            (Some(url), _) => url.clone(),
            (None, Some(dir)) => format!("sqlite://{}", dir.join("needlewise.sqlite3").display()),
            (None, None) => format!(
                "sqlite://{}",
                default_data_dir()?.join("needlewise.sqlite3").display()
            ),
        };
        let profile_name = needlewise_core::text::single_line(&global.profile, 60)
            .map_err(|e| bad(format!("--profile: {e}")))?
            .to_owned();
        Ok(App {
            store_url,
            data_dir: global.data_dir.clone(),
            store: OnceCell::new(),
            now,
            now_offset,
            system_tz: TimeZone::system(),
            tz: OnceCell::new(),
            json: global.json,
            profile_name,
        })
    }

    /// The store, opened on first use (so `evidence` needs no data dir).
    pub fn store(&self) -> Result<&dyn Store, Failure> {
        if let Some(s) = self.store.get() {
            return Ok(s.as_ref());
        }
        let opened = self.open_store()?;
        Ok(self.store.get_or_init(|| opened).as_ref())
    }

    /// Opens a store of its own (the web server shares it across threads).
    pub fn open_store(&self) -> Result<Box<dyn Store>, Failure> {
        if let Some(dir) = self
            .store_url
            .strip_prefix("sqlite://")
            .and_then(|file| std::path::Path::new(file).parent())
        {
            warn_if_shared(dir);
        }
        needlewise_store::open(&self.store_url).map_err(|e| {
            Failure::Other(anyhow::Error::new(e).context(format!(
                "could not open the store at {}",
                redact(&self.store_url)
            )))
        })
    }

    /// The data directory: `--data-dir`, or the default under
    /// `XDG_DATA_HOME` or `HOME`.
    pub fn data_dir(&self) -> Result<PathBuf, Failure> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_data_dir(),
        }
    }

    /// How far `--now` is from the real clock, read once when the command
    /// started; `None` without `--now`: a server then reads the real clock
    /// every time, so instances started at different moments agree.
    pub fn now_offset(&self) -> Option<jiff::SignedDuration> {
        self.now_offset
    }

    /// The person's zone: the selected profile's own, when it has one
    /// (set in the web app), else the machine's.
    pub fn tz(&self) -> &TimeZone {
        self.tz.get_or_init(|| {
            let own = self
                .store()
                .ok()
                .and_then(|s| {
                    s.profile_by_name(AccountId::LOCAL, &self.profile_name)
                        .ok()
                        .flatten()
                })
                .and_then(|p| p.time_zone)
                .and_then(|name| TimeZone::get(&name).ok());
            own.unwrap_or_else(|| self.system_tz.clone())
        })
    }

    pub fn zoned(&self, t: Timestamp) -> ZonedDateTime {
        t.to_zoned_datetime(self.tz().clone())
    }

    /// The actions' context: the store and the moment in the person's zone.
    pub fn ctx<'a>(&'a self, now: &'a ZonedDateTime) -> Result<Ctx<'a>, Failure> {
        Ok(Ctx {
            store: self.store()?,
            now,
        })
    }

    /// The moment of this command in the person's zone.
    pub fn zoned_now(&self) -> ZonedDateTime {
        self.zoned(self.now)
    }

    pub fn today(&self) -> Date {
        self.zoned(self.now).date()
    }

    /// Formats a moment in local time, to the minute.
    pub fn local(&self, t: Timestamp) -> String {
        self.zoned(t).strftime("%Y-%m-%d %H:%M").to_string()
    }

    /// The selected profile of the local account. A profile that does not
    /// exist yet is returned unsaved: the first action that writes creates
    /// it, once every check has passed (a refused command writes nothing).
    pub fn profile(&self) -> Result<Profile, Failure> {
        let store = self.store()?;
        if let Some(p) = store.profile_by_name(AccountId::LOCAL, &self.profile_name)? {
            return Ok(p);
        }
        Ok(Profile {
            id: ProfileId(Uuid::now_v7()),
            account_id: AccountId::LOCAL,
            name: self.profile_name.clone(),
            created_at: self.now,
            time_zone: None,
        })
    }
}

/// Warns, with the fix, when an existing data directory can be read or
/// entered by other accounts of this computer (one made before needlewise
/// created its files private, or by hand).
fn warn_if_shared(dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "needlewise: WARNING: {} can be read by other accounts on this computer, and it holds a health record. Make it yours alone: chmod -R go-rwx '{}'",
                dir.display(),
                dir.display()
            );
        }
    }
}

fn default_data_dir() -> Result<PathBuf, Failure> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("needlewise"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/needlewise"))
}

/// Hides a password in a database URL.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Reads and parses a JSON file, naming the file and position on error.
/// The largest answer or request file read.
const MAX_JSON_BYTES: u64 = 1_000_000;

/// Reads a file of at most `max` bytes, reading no more than one byte past
/// it whatever the file is (a huge or endless file such as `/dev/zero` is
/// refused without being read whole).
pub fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(|e| bad(format!("{}: cannot read it: {e}", path.display())))?;
    if bytes.len() as u64 > max {
        return Err(bad(format!(
            "{}: larger than {} kB; an answer file is a few kilobytes",
            path.display(),
            max / 1000
        )));
    }
    Ok(bytes)
}

pub fn read_json(path: &std::path::Path) -> Result<serde_json::Value, Failure> {
    let bytes = read_bounded(path, MAX_JSON_BYTES)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("{}: not valid JSON: {e}", path.display())))
}
