//! Sending the outbox's emails over SMTP.
//!
//! Emails are never sent from a request: they are queued in the store
//! (`ClinicStore::queue_email`) and a worker claims, sends and finishes them
//! (see [`crate::notify::deliver`]), so any instance may send and each email
//! goes out once. The transport is lettre's synchronous SMTP client, built
//! from `smtp_url` in lettre's own URL form ([`transport`]): `smtps://` for
//! TLS from the start, `smtp://…?tls=required` for STARTTLS, plain
//! `smtp://` for a relay on this machine or a trusted network; credentials
//! as `user:password@`. TLS is rustls with the public web roots, plus the
//! CA of `smtp_ca_file` when set; certificates are always verified. It
//! runs on the blocking pool.

use std::path::Path;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use needlewise_store::clinic::Email;

use crate::Config;

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `url` with its password, if any, replaced by `***`, for messages.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(not a URL)".into(),
    }
}

/// How a `smtp_url` asks for TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtp://host` without `tls=`: no TLS at all.
    Plain,
    /// `smtp://host?tls=opportunistic`: STARTTLS when offered.
    Opportunistic,
    /// `smtp://host?tls=required`: STARTTLS or nothing.
    Required,
    /// `smtps://host`: TLS from the first byte.
    Wrapper,
}

/// Checks `url` the way lettre reads it, and says how it asks for TLS.
/// Credentials without TLS are refused: they would cross the network in
/// clear. Messages never contain the password.
pub fn check_url(url: &str) -> Result<TlsMode, String> {
    let shown = redacted(url);
    let u = url::Url::parse(url).map_err(|e| {
        format!(
            "smtp_url {shown}: {e}; use smtps://user:password@host:465, \
             smtp://user:password@host:587?tls=required or smtp://host:25"
        )
    })?;
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("smtp_url {shown} names no host"));
    }
    if u.port() == Some(0) {
        return Err(format!("smtp_url {shown}: 0 is not a port"));
    }
    let tls = u.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v);
    let mode = match (u.scheme(), tls.as_deref()) {
        ("smtp", None) => TlsMode::Plain,
        ("smtp", Some("required")) => TlsMode::Required,
        ("smtp", Some("opportunistic")) => TlsMode::Opportunistic,
        ("smtps", None) => TlsMode::Wrapper,
        (scheme, tls) => {
            return Err(format!(
                "smtp_url {shown}: scheme {scheme:?} with tls={tls:?} is not understood; \
                 use smtps://, smtp://…?tls=required or plain smtp://"
            ));
        }
    };
    let credentials = !u.username().is_empty() || u.password().is_some();
    if credentials && matches!(mode, TlsMode::Plain | TlsMode::Opportunistic) {
        return Err(format!(
            "smtp_url {shown}: a user and password need TLS; use smtps:// or add ?tls=required"
        ));
    }
    Ok(mode)
}

/// The SMTP transport for `url` (lettre's `SmtpTransport::from_url`), also
/// trusting the CA certificate in `ca_pem` (PEM) when given. An extra CA
/// needs a URL with TLS.
pub fn transport(url: &str, ca_pem: Option<&[u8]>) -> Result<SmtpTransport, String> {
    let mode = check_url(url)?;
    let shown = redacted(url);
    let mut builder = SmtpTransport::from_url(url)
        .map_err(|e| format!("smtp_url {shown}: {e}"))?
        .timeout(Some(TIMEOUT));
    if let Some(pem) = ca_pem {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
            .unwrap_or_default();
        // lettre's rustls reader skips what is not a certificate, so a
        // file without one would trust nothing extra, silently.
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(
                "smtp_ca_file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            );
        }
        let cert = Certificate::from_pem(pem)
            .map_err(|e| format!("smtp_ca_file is not a PEM certificate: {e}"))?;
        let params = TlsParameters::builder(host)
            .add_root_certificate(cert)
            .build()
            .map_err(|e| format!("smtp_ca_file: {e}"))?;
        builder = builder.tls(match mode {
            TlsMode::Required => Tls::Required(params),
            TlsMode::Opportunistic => Tls::Opportunistic(params),
            TlsMode::Wrapper => Tls::Wrapper(params),
            TlsMode::Plain => {
                return Err(format!(
                    "smtp_ca_file is set but smtp_url {shown} uses no TLS; \
                     use smtps:// or add ?tls=required"
                ));
            }
        });
    }
    Ok(builder.build())
}

/// Reads `smtp_ca_file`.
pub fn read_ca(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("smtp_ca_file {}: {e}", path.display()))
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

/// The email as sent: plain text, or, with a calendar part, the layout
/// calendar apps and webmail read invitations from (Google Calendar sends
/// the same): `multipart/mixed` of a `multipart/alternative` (the text,
/// then `text/calendar; method=…; charset=UTF-8`, which Outlook, Gmail and
/// Apple Mail turn into the invitation's buttons) and the same object as
/// an `invite.ics` attachment (`application/ics`), for clients that only
/// offer attachments.
pub fn message(email: &Email, from: &Mailbox, to: Mailbox) -> Result<Message, String> {
    let builder = Message::builder()
        .message_id(Some(message_id(email, from)))
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone());
    let built = match &email.calendar {
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone()),
        Some(calendar) => {
            let part = ContentType::parse(&format!(
                "text/calendar; method={}; charset=UTF-8",
                calendar.method.id()
            ))
            .map_err(|e| format!("cannot build the calendar part: {e}"))?;
            let file = ContentType::parse("application/ics; name=\"invite.ics\"")
                .map_err(|e| format!("cannot build the calendar attachment: {e}"))?;
            builder.multipart(
                MultiPart::mixed()
                    .multipart(
                        MultiPart::alternative()
                            .singlepart(SinglePart::plain(email.body.clone()))
                            .singlepart(
                                SinglePart::builder()
                                    .header(part)
                                    .body(calendar.text.clone()),
                            ),
                    )
                    .singlepart(
                        Attachment::new("invite.ics".to_owned()).body(calendar.text.clone(), file),
                    ),
            )
        }
    };
    built.map_err(|e| format!("cannot build the email: {e}"))
}

/// Sends emails, or holds them when no server is configured.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<SmtpTransport>,
    /// The URL without its password, for the log.
    server: Option<String>,
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
        Mailer::with_ca(smtp_url, None, from)
    }

    /// A mailer for `smtp_url` that also trusts the CA certificate in the
    /// PEM file `ca_file` (`smtp_ca_file`).
    pub fn with_ca(
        smtp_url: Option<&str>,
        ca_file: Option<&Path>,
        from: &str,
    ) -> Result<Mailer, String> {
        let from = parse_mailbox(from)?;
        let ca = ca_file.map(read_ca).transpose()?;
        if ca.is_some() && smtp_url.is_none() {
            return Err("smtp_ca_file is set without smtp_url".into());
        }
        let transport = smtp_url
            .map(|url| transport(url, ca.as_deref()))
            .transpose()?;
        Ok(Mailer {
            transport,
            server: smtp_url.map(redacted),
            from: Some(from),
        })
    }

    /// From the configuration; a bad setting (which `Config::validate`
    /// refuses first) leaves emails queued and says so in the log.
    pub fn from_config(config: &Config) -> Mailer {
        Mailer::with_ca(
            config.smtp_url.as_deref(),
            config.smtp_ca_file.as_deref(),
            &config.mail_from,
        )
        .unwrap_or_else(|e| {
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
        let message = message(email, from, to)?;
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
    fn smtp_urls_in_lettres_form() {
        for (url, mode) in [
            ("smtp://127.0.0.1:2525", TlsMode::Plain),
            ("smtp://mail.example.org", TlsMode::Plain),
            ("smtp://[::1]:2525", TlsMode::Plain),
            (
                "smtp://user:pw@mail.example.org:587?tls=required",
                TlsMode::Required,
            ),
            (
                "smtp://mail.example.org:587?tls=opportunistic",
                TlsMode::Opportunistic,
            ),
            ("smtps://user:pw@mail.example.org:465", TlsMode::Wrapper),
            ("smtps://mail.example.org", TlsMode::Wrapper),
        ] {
            assert_eq!(check_url(url).unwrap(), mode, "{url}");
            transport(url, None).unwrap();
        }
        for bad in [
            "mail.example.org",
            "http://mail.example.org",
            "smtp://user:secret@mail.example.org",
            "smtp://user:secret@mail.example.org?tls=opportunistic",
            "smtp://mail.example.org?tls=sometimes",
            "smtp://mail.example.org:0",
            "smtp://mail.example.org:99999",
            "smtp://",
            "smtp://:25",
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(!e.contains("secret"), "the password is never shown: {e}");
        }
        assert_eq!(
            redacted("smtps://u:secret@mail.example.org:465"),
            "smtps://u:***@mail.example.org:465"
        );
    }

    #[test]
    fn an_extra_ca_needs_tls_and_a_pem_certificate() {
        assert!(transport("smtp://127.0.0.1:2525", Some(b"x")).is_err());
        let e = transport("smtps://mail.example.org", Some(b"not pem")).unwrap_err();
        assert!(e.contains("smtp_ca_file"), "{e}");
    }

    #[test]
    fn an_outbox_row_keeps_its_message_id() {
        let email = Email {
            id: needlewise_core::ids::EmailId(uuid::Uuid::nil()),
            to: "dr@example.org".into(),
            subject: "s".into(),
            body: "b".into(),
            calendar: None,
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
