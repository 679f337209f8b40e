//! Sending the outbox's emails over plain SMTP.
//!
//! Emails are never sent from a request: they are queued in the store
//! (`ClinicStore::queue_email`) and a worker claims, sends and finishes them
//! (see [`crate::notify::deliver`]), so any instance may send and each email
//! goes out once. The transport is lettre's synchronous SMTP client,
//! without TLS: point `smtp_url` at a relay on this machine or a trusted
//! network. It runs on the blocking pool.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{Message, SmtpTransport, Transport};
use needlewise_store::clinic::Email;

use crate::Config;

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An SMTP server from `smtp://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
}

impl SmtpServer {
    /// Parses `smtp://host[:port]` (port 25 by default). Anything else,
    /// including credentials and `smtps://`, is refused with a message that
    /// says why.
    pub fn parse(url: &str) -> Result<SmtpServer, String> {
        let rest = url.strip_prefix("smtp://").ok_or_else(|| {
            format!("smtp_url {url:?} must look like smtp://host:port (plain SMTP to a relay)")
        })?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['@', '/', '?', '#']) {
            return Err(format!(
                "smtp_url {url:?} must be smtp://host:port, without a user, path or query"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("smtp_url {url:?}: {p:?} is not a port"))?;
                (h, port)
            }
            _ => (rest, 25),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("smtp_url {url:?} names no host"));
        }
        Ok(SmtpServer {
            host: host.to_owned(),
            port,
        })
    }
}

/// A `Message-ID` that stays the same for every attempt at one outbox row:
/// an email sent again after an instance died between the SMTP server's
/// acceptance and the row being marked carries the same id, so receiving
/// systems can drop the repeat (delivery is at least once).
pub fn message_id(email: &Email, from: &Mailbox) -> String {
    format!("<{}.outbox@{}>", email.id, from.email.domain())
}

/// Parses a sender such as `needlewise <needlewise@example.org>`.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    s.parse::<Mailbox>()
        .map_err(|e| format!("mail_from {s:?} is not an email address: {e}"))
}

/// Sends emails, or holds them when no server is configured.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<SmtpTransport>,
    server: Option<SmtpServer>,
    from: Option<Mailbox>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.as_ref().map(ToString::to_string))
            .finish()
    }
}

impl Mailer {
    /// A mailer for `smtp_url` (none: emails stay queued).
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Mailer, String> {
        let from = parse_mailbox(from)?;
        let server = smtp_url.map(SmtpServer::parse).transpose()?;
        let transport = server.as_ref().map(|s| {
            SmtpTransport::builder_dangerous(s.host.clone())
                .port(s.port)
                .timeout(Some(TIMEOUT))
                .build()
        });
        Ok(Mailer {
            transport,
            server,
            from: Some(from),
        })
    }

    /// From the configuration; a bad setting (which `Config::validate`
    /// refuses first) leaves emails queued and says so in the log.
    pub fn from_config(config: &Config) -> Mailer {
        Mailer::new(config.smtp_url.as_deref(), &config.mail_from).unwrap_or_else(|e| {
            tracing::error!(error = %e, "emails will stay queued");
            Mailer::disabled()
        })
    }

    /// Holds every email in the outbox.
    pub fn disabled() -> Mailer {
        Mailer {
            transport: None,
            server: None,
            from: None,
        }
    }

    /// Whether emails are sent at all.
    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends one email as plain text. Blocking: run it on the blocking pool.
    pub fn send(&self, email: &Email) -> Result<(), String> {
        let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
            return Err("no smtp_url is configured".into());
        };
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| format!("the recipient is not an email address: {e}"))?;
        let message = Message::builder()
            .message_id(Some(message_id(email, from)))
            .from(from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| format!("cannot build the email: {e}"))?;
        transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| format!("the SMTP server refused or could not be reached: {e}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn smtp_urls() {
        assert_eq!(
            SmtpServer::parse("smtp://127.0.0.1:2525").unwrap(),
            SmtpServer {
                host: "127.0.0.1".into(),
                port: 2525
            }
        );
        assert_eq!(
            SmtpServer::parse("smtp://mail.example.org/").unwrap(),
            SmtpServer {
                host: "mail.example.org".into(),
                port: 25
            }
        );
        assert_eq!(SmtpServer::parse("smtp://[::1]:2525").unwrap().host, "::1");
        for bad in [
            "mail.example.org",
            "smtps://mail.example.org",
            "smtp://user:pw@mail.example.org",
            "smtp://mail.example.org:0",
            "smtp://mail.example.org:99999",
            "smtp://",
            "smtp://:25",
        ] {
            assert!(SmtpServer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_outbox_row_keeps_its_message_id() {
        let email = Email {
            id: needlewise_core::ids::EmailId(uuid::Uuid::nil()),
            to: "dr@example.org".into(),
            subject: "s".into(),
            body: "b".into(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
            sent_at: None,
            attempts: 0,
            last_error: String::new(),
        };
        let from = parse_mailbox("needlewise <nw@clinic.example>").unwrap();
        let first = message_id(&email, &from);
        assert_eq!(
            first,
            message_id(
                &Email {
                    attempts: 3,
                    ..email.clone()
                },
                &from
            )
        );
        assert_eq!(
            first,
            "<00000000-0000-0000-0000-000000000000.outbox@clinic.example>"
        );
    }

    #[test]
    fn senders() {
        assert!(parse_mailbox("needlewise <needlewise@localhost>").is_ok());
        assert!(parse_mailbox("clinic@example.org").is_ok());
        assert!(parse_mailbox("not an address").is_err());
    }

    #[test]
    fn without_a_server_nothing_is_sent() {
        let m = Mailer::new(None, "a@example.org").unwrap();
        assert!(!m.enabled());
        assert!(
            Mailer::new(Some("smtp://127.0.0.1:2525"), "a@example.org")
                .unwrap()
                .enabled()
        );
        assert!(!Mailer::disabled().enabled());
    }
}
