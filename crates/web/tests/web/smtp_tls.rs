//! Sending through an SMTP server that requires TLS and a password, as
//! most mail providers do: a small server in this file speaks STARTTLS
//! (`smtp://…?tls=required`) or TLS from the first byte (`smtps://`) with
//! a certificate from a CA made for the test run, offers only AUTH PLAIN,
//! and refuses MAIL before TLS and authentication. needlewise trusts that
//! CA only because the test sets `smtp_ca_file`; without it the server's
//! certificate is refused and nothing is sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use data_encoding::BASE64;
use needlewise_core::ids::EmailId;
use needlewise_store::clinic::Email;
use needlewise_web::mail::Mailer;
use needlewise_web::{Config, notify};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::Server;
use super::smtp_sink::Received;

const USER: &str = "needlewise";
/// Percent-encoded in the URL as `s3cret%21%40x`.
const PASSWORD: &str = "s3cret!@x";

/// A CA and a certificate it signed for 127.0.0.1 and localhost.
struct TestPki {
    ca_pem: String,
    server: Arc<ServerConfig>,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "needlewise test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    // ring, as lettre's `rustls-tls` uses (deprecated in rustls only for
    // its lack of post-quantum key exchange, which a test does not need).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let server = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain first, STARTTLS required before anything else.
    StartTls,
    /// TLS from the first byte.
    Wrapper,
}

/// A message the server accepted, with who had logged in.
#[derive(Debug, Clone)]
struct Authenticated {
    user: String,
    message: Received,
}

struct SecureSink {
    addr: SocketAddr,
    mode: Mode,
    messages: Arc<Mutex<Vec<Authenticated>>>,
    /// What the server saw go wrong (a failed handshake, a bad password).
    errors: Arc<Mutex<Vec<String>>>,
}

impl SecureSink {
    fn start(mode: Mode, tls: Arc<ServerConfig>) -> SecureSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (m, e) = (messages.clone(), errors.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (m, e, tls) = (m.clone(), e.clone(), tls.clone());
                std::thread::spawn(move || {
                    if let Err(err) = session(conn, mode, tls, &m, &e) {
                        e.lock().unwrap().push(err.to_string());
                    }
                });
            }
        });
        SecureSink {
            addr,
            mode,
            messages,
            errors,
        }
    }

    fn messages(&self) -> Vec<Authenticated> {
        self.messages.lock().unwrap().clone()
    }

    fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }

    fn url(&self, password: &str) -> String {
        let password: String =
            form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>();
        match self.mode {
            Mode::StartTls => format!(
                "smtp://{USER}:{password}@127.0.0.1:{}?tls=required",
                self.addr.port()
            ),
            Mode::Wrapper => format!("smtps://{USER}:{password}@127.0.0.1:{}", self.addr.port()),
        }
    }
}

/// The connection, before and after TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn wrap(tcp: TcpStream, tls: &Arc<ServerConfig>) -> std::io::Result<Conn> {
    let server = rustls::ServerConnection::new(tls.clone()).map_err(std::io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(server, tcp);
    // Finish the handshake now, so a refused certificate shows up here.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| std::io::Error::other(format!("TLS handshake: {e}")))?;
    }
    Ok(Conn::Tls(Box::new(stream)))
}

fn reply(lines: &mut BufReader<Conn>, text: &str) -> std::io::Result<()> {
    let out = lines.get_mut();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn session(
    tcp: TcpStream,
    mode: Mode,
    tls: Arc<ServerConfig>,
    messages: &Mutex<Vec<Authenticated>>,
    errors: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let conn = match mode {
        Mode::StartTls => Conn::Plain(tcp),
        Mode::Wrapper => wrap(tcp, &tls)?,
    };
    let mut lines = BufReader::new(conn);
    reply(&mut lines, "220 secure.test ESMTP\r\n")?;
    let mut user: Option<String> = None;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']).to_owned();
        let upper = cmd.to_ascii_uppercase();
        let encrypted = matches!(lines.get_ref(), Conn::Tls(_));
        if upper.starts_with("EHLO") {
            if encrypted {
                reply(
                    &mut lines,
                    "250-secure.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
                )?;
            } else {
                reply(
                    &mut lines,
                    "250-secure.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
                )?;
            }
        } else if upper == "STARTTLS" && !encrypted {
            reply(&mut lines, "220 go ahead\r\n")?;
            // The client waits for the 220 before its handshake, so nothing
            // is left in the buffer.
            assert!(lines.buffer().is_empty(), "data after STARTTLS");
            let Conn::Plain(tcp) = lines.into_inner() else {
                unreachable!()
            };
            lines = BufReader::new(wrap(tcp, &tls)?);
            user = None;
        } else if upper.starts_with("AUTH PLAIN") {
            if !encrypted {
                reply(
                    &mut lines,
                    "530 5.7.0 Must issue a STARTTLS command first\r\n",
                )?;
                continue;
            }
            let arg = cmd[10..].trim().to_owned();
            let arg = if arg.is_empty() {
                reply(&mut lines, "334 \r\n")?;
                let mut l = String::new();
                lines.read_line(&mut l)?;
                l.trim().to_owned()
            } else {
                arg
            };
            let decoded = BASE64.decode(arg.as_bytes()).unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            if parts.len() == 3 && parts[1] == USER.as_bytes() && parts[2] == PASSWORD.as_bytes() {
                user = Some(USER.to_owned());
                reply(&mut lines, "235 2.7.0 Authentication successful\r\n")?;
            } else {
                errors.lock().unwrap().push("bad credentials".into());
                reply(
                    &mut lines,
                    "535 5.7.8 Authentication credentials invalid\r\n",
                )?;
            }
        } else if upper.starts_with("MAIL FROM:") {
            if !encrypted {
                reply(
                    &mut lines,
                    "530 5.7.0 Must issue a STARTTLS command first\r\n",
                )?;
            } else if user.is_none() {
                reply(&mut lines, "530 5.7.0 Authentication required\r\n")?;
            } else {
                from = cmd[10..].trim().trim_matches(['<', '>']).to_owned();
                to.clear();
                reply(&mut lines, "250 OK\r\n")?;
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().trim_matches(['<', '>']).to_owned());
            reply(&mut lines, "250 OK\r\n")?;
        } else if upper == "DATA" {
            reply(&mut lines, "354 end with <CRLF>.<CRLF>\r\n")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                let bare = l.trim_end_matches(['\r', '\n']);
                if bare == "." {
                    break;
                }
                data.push_str(bare.strip_prefix('.').unwrap_or(bare));
                data.push_str("\r\n");
            }
            messages.lock().unwrap().push(Authenticated {
                user: user.clone().unwrap_or_default(),
                message: Received {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                },
            });
            reply(&mut lines, "250 OK: queued\r\n")?;
        } else if upper == "RSET" || upper == "NOOP" {
            reply(&mut lines, "250 OK\r\n")?;
        } else if upper == "QUIT" {
            reply(&mut lines, "221 bye\r\n")?;
            return Ok(());
        } else {
            reply(&mut lines, "502 command not implemented\r\n")?;
        }
    }
}

fn ca_file(dir: &tempfile::TempDir, pem: &str) -> std::path::PathBuf {
    let path = dir.path().join("smtp-ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

fn email(to: &str) -> Email {
    Email {
        id: EmailId(uuid::Uuid::now_v7()),
        to: to.into(),
        subject: "needlewise: a test".into(),
        body: "Hello over TLS.\n".into(),
        calendar: None,
        created_at: jiff::Timestamp::from_second(super::T0).unwrap(),
        sent_at: None,
        attempts: 0,
        last_error: String::new(),
    }
}

/// Runs the worker once (on the blocking pool, as `serve` does).
async fn deliver(s: &Server) {
    notify::run_once(&s.state).await;
}

#[tokio::test]
async fn the_app_sends_through_starttls_with_a_password_and_a_trusted_ca() {
    let pki = test_pki();
    let sink = SecureSink::start(Mode::StartTls, pki.server.clone());
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with_config(Config {
        smtp_url: Some(sink.url(PASSWORD)),
        smtp_ca_file: Some(ca_file(&dir, &pki.ca_pem)),
        mail_from: "needlewise <alerts@clinic.test>".into(),
        ..Config::default()
    });
    assert!(s.state.mailer.enabled(), "{:?}", s.state.mailer);
    // The app queues one email of its own: a sign-up with a taken address
    // tells that address's owner.
    s.sign_up("owner@example.org").await;
    let (status, _, _) = s
        .post(
            "/signup",
            None,
            &[
                ("email", "owner@example.org"),
                ("password", "another long password"),
            ],
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::SEE_OTHER);
    deliver(&s).await;
    let got = sink.messages();
    assert_eq!(got.len(), 1, "errors: {:?}", sink.errors());
    assert_eq!(got[0].user, USER, "sent after AUTH PLAIN, inside TLS");
    assert_eq!(got[0].message.from, "alerts@clinic.test");
    assert_eq!(got[0].message.to, ["owner@example.org"]);
    assert!(
        got[0].message.body().contains("already has an account"),
        "{}",
        got[0].message.data
    );
}

#[tokio::test]
async fn smtps_works_too_and_a_wrong_password_sends_nothing() {
    let pki = test_pki();
    let sink = SecureSink::start(Mode::Wrapper, pki.server.clone());
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, &pki.ca_pem);
    let mailer = Mailer::with_ca(Some(&sink.url(PASSWORD)), Some(&ca), "a@clinic.test").unwrap();
    let m = mailer.clone();
    tokio::task::spawn_blocking(move || m.send(&email("dr@clinic.test")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.messages()[0].user, USER);

    let wrong = Mailer::with_ca(Some(&sink.url("not it")), Some(&ca), "a@clinic.test").unwrap();
    let e = tokio::task::spawn_blocking(move || wrong.send(&email("dr@clinic.test")))
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.contains("refused"), "{e}");
    assert_eq!(sink.messages().len(), 1, "nothing more was accepted");
}

#[tokio::test]
async fn without_the_ca_the_servers_certificate_is_refused_and_nothing_is_sent() {
    let pki = test_pki();
    for mode in [Mode::StartTls, Mode::Wrapper] {
        let sink = SecureSink::start(mode, pki.server.clone());
        let mailer = Mailer::new(Some(&sink.url(PASSWORD)), "a@clinic.test").unwrap();
        let e = tokio::task::spawn_blocking(move || mailer.send(&email("dr@clinic.test")))
            .await
            .unwrap()
            .unwrap_err();
        assert!(!e.contains(PASSWORD), "{e}");
        assert!(sink.messages().is_empty(), "{mode:?}");
        // The server saw the handshake fail: the client refused the
        // certificate, not the other way round.
        let mut errors = sink.errors();
        for _ in 0..100 {
            if !errors.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            errors = sink.errors();
        }
        assert!(
            errors.iter().any(|e| e.contains("TLS handshake")),
            "{mode:?}: {errors:?} / client: {e}"
        );
    }
}
