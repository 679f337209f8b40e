//! Configuration, layered: defaults < file < environment < flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The documented example, printed by `needlewise default-config`.
pub const DEFAULT_CONFIG: &str = include_str!("../needlewise.example.toml");

/// Everything `needlewise serve` can be told.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite store lives; ignored with `database_url`.
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` to use PostgreSQL.
    pub database_url: Option<String>,
    /// The address people reach needlewise at. When it starts with
    /// `https://`, cookies are marked `Secure` and take the `__Host-` prefix.
    pub public_url: Option<String>,
    /// How long a login lasts, in hours.
    pub session_hours: u32,
    /// Log-in attempts allowed per address and minute (and per email),
    /// counted in the store so that every instance counts together.
    pub login_attempts_per_minute: u32,
    /// Accounts one address may create per hour (patients and clinics
    /// together), counted in the store across instances.
    pub signups_per_hour: u32,
    /// The addresses of the TLS proxies or load balancers in front of
    /// needlewise. Only a request from one of them has its
    /// `X-Forwarded-For` read (from the right) for the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where red-flag and escalation emails go, in lettre's URL form:
    /// `smtps://user:password@host:465` (TLS), `smtp://user:password@host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25` (plain, for a relay on this machine or
    /// network; no credentials). Without it, emails stay queued in the
    /// store's outbox.
    pub smtp_url: Option<String>,
    /// A PEM file with one more CA certificate to trust for the SMTP
    /// server's certificate, besides the public roots (a private CA, or a
    /// test's). Certificates are always verified.
    pub smtp_ca_file: Option<PathBuf>,
    /// The sender of those emails.
    pub mail_from: String,
    /// How often the escalation and email worker runs, in seconds.
    pub escalation_tick_seconds: u64,
    /// `plain` or `json` log lines on standard error (`RUST_LOG` chooses
    /// what is logged).
    pub log_format: crate::telemetry::LogFormat,
    /// Where Prometheus metrics are served (`GET /metrics`); off when
    /// unset. Keep it off the public address.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: None,
            database_url: None,
            public_url: None,
            session_hours: 24 * 14,
            login_attempts_per_minute: 10,
            signups_per_hour: 10,
            trusted_proxies: Vec::new(),
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: "needlewise <needlewise@localhost>".into(),
            escalation_tick_seconds: 30,
            log_format: crate::telemetry::LogFormat::Plain,
            metrics_listen: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("public_url", &self.public_url)
            .field("session_hours", &self.session_hours)
            .field("login_attempts_per_minute", &self.login_attempts_per_minute)
            .field("signups_per_hour", &self.signups_per_hour)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("smtp_ca_file", &self.smtp_ca_file)
            .field("mail_from", &self.mail_from)
            .field("escalation_tick_seconds", &self.escalation_tick_seconds)
            .field("log_format", &self.log_format)
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

/// Why the configuration could not be loaded. Each message names the
/// source and the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{var}: {message}")]
    Env { var: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads a config file over the defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Applies `NEEDLEWISE_*` variables from `get` (the environment, in
    /// production; a map, in tests).
    pub fn apply_env(
        mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        if let Some(v) = get("NEEDLEWISE_LISTEN") {
            self.listen = v.parse().map_err(|_| ConfigError::Env {
                var: "NEEDLEWISE_LISTEN",
                message: format!("{v:?} is not an address such as 127.0.0.1:8080"),
            })?;
        }
        if let Some(v) = get("NEEDLEWISE_DATA_DIR") {
            self.data_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = get("NEEDLEWISE_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("NEEDLEWISE_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = get("NEEDLEWISE_SMTP_URL") {
            self.smtp_url = Some(v);
        }
        if let Some(v) = get("NEEDLEWISE_SMTP_CA_FILE") {
            self.smtp_ca_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("NEEDLEWISE_MAIL_FROM") {
            self.mail_from = v;
        }
        if let Some(v) = get("NEEDLEWISE_SIGNUPS_PER_HOUR") {
            self.signups_per_hour = v.parse().map_err(|_| ConfigError::Env {
                var: "NEEDLEWISE_SIGNUPS_PER_HOUR",
                message: format!("{v:?} is not a whole number"),
            })?;
        }
        if let Some(v) = get("NEEDLEWISE_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| {
                    a.parse().map_err(|_| ConfigError::Env {
                        var: "NEEDLEWISE_TRUSTED_PROXIES",
                        message: format!("{a:?} is not an IP address"),
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get("NEEDLEWISE_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "plain" => crate::telemetry::LogFormat::Plain,
                "json" => crate::telemetry::LogFormat::Json,
                _ => {
                    return Err(ConfigError::Env {
                        var: "NEEDLEWISE_LOG_FORMAT",
                        message: format!("{v:?} is not plain or json"),
                    });
                }
            };
        }
        if let Some(v) = get("NEEDLEWISE_METRICS_LISTEN") {
            self.metrics_listen = Some(v.parse().map_err(|_| ConfigError::Env {
                var: "NEEDLEWISE_METRICS_LISTEN",
                message: format!("{v:?} is not an address such as 127.0.0.1:9090"),
            })?);
        }
        Ok(self)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.session_hours == 0 || self.session_hours > 24 * 90 {
            return Err(ConfigError::Invalid(
                "session_hours must be from 1 to 2160".into(),
            ));
        }
        if self.signups_per_hour == 0 {
            return Err(ConfigError::Invalid(
                "signups_per_hour must be at least 1".into(),
            ));
        }
        if self.login_attempts_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "login_attempts_per_minute must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public_url {url:?} must start with http:// or https://"
            )));
        }
        match (&self.smtp_url, &self.smtp_ca_file) {
            (Some(url), ca) => {
                let ca = ca
                    .as_deref()
                    .map(crate::mail::read_ca)
                    .transpose()
                    .map_err(ConfigError::Invalid)?;
                crate::mail::transport(url, ca.as_deref()).map_err(ConfigError::Invalid)?;
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "smtp_ca_file is set without smtp_url".into(),
                ));
            }
            (None, None) => {}
        }
        crate::mail::parse_mailbox(&self.mail_from).map_err(ConfigError::Invalid)?;
        if self.escalation_tick_seconds == 0 || self.escalation_tick_seconds > 3600 {
            return Err(ConfigError::Invalid(
                "escalation_tick_seconds must be from 1 to 3600".into(),
            ));
        }
        Ok(())
    }

    /// Cookies are `Secure` and `__Host-` only when served over TLS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_example_shows_the_defaults_and_they_validate() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(parsed, Config::default());
        parsed.validate().unwrap();
    }

    #[test]
    fn mail_settings_are_read_and_checked() {
        let env = |k: &str| match k {
            "NEEDLEWISE_SMTP_URL" => Some("smtp://127.0.0.1:2525".to_owned()),
            "NEEDLEWISE_MAIL_FROM" => Some("Clinic alerts <alerts@example.org>".to_owned()),
            _ => None,
        };
        let c = Config::default().apply_env(env).unwrap();
        assert_eq!(c.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
        assert_eq!(c.mail_from, "Clinic alerts <alerts@example.org>");
        c.validate().unwrap();
        assert!(!format!("{c:?}").contains("2525"), "the URL is not logged");

        for good in [
            "smtps://user:pw@mail.example.org:465",
            "smtp://user:pw@mail.example.org:587?tls=required",
            "smtp://mail.example.org:25",
        ] {
            Config {
                smtp_url: Some(good.into()),
                ..Config::default()
            }
            .validate()
            .unwrap();
        }
        for bad in [
            Config {
                smtp_url: Some("smtp://user:pw@mail.example.org".into()),
                ..Config::default()
            },
            Config {
                smtp_ca_file: Some("/nonexistent/ca.pem".into()),
                ..Config::default()
            },
            Config {
                smtp_url: Some("smtps://mail.example.org".into()),
                smtp_ca_file: Some("/nonexistent/ca.pem".into()),
                ..Config::default()
            },
            Config {
                mail_from: "nobody".into(),
                ..Config::default()
            },
            Config {
                escalation_tick_seconds: 0,
                ..Config::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let e = Config {
            smtp_url: Some("mail.example.org:25".into()),
            ..Config::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("smtp_url"), "{e}");
    }
}
