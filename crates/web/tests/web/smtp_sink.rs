//! A tiny SMTP server for tests: it listens on 127.0.0.1 (a free port),
//! speaks just enough SMTP (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET,
//! NOOP, QUIT) and keeps every message it receives. Each connection runs
//! in its own thread; the threads end with the test process.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, dot-unstuffed, with CRLF line ends.
    pub data: String,
}

impl Received {
    /// A header's value (the first one with this name).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        head.split("\r\n").find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    /// The most connections that were open at once.
    peak: Arc<AtomicUsize>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_slow(Duration::ZERO)
    }

    /// A sink that takes `delay` to accept each message, as a busy relay
    /// would.
    pub fn start_slow(delay: Duration) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let peak = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (m, p) = (messages.clone(), peak.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (m, open) = (m.clone(), open.clone());
                p.fetch_max(open.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = session(conn, &m, delay);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        SmtpSink {
            addr,
            messages,
            peak,
        }
    }

    /// The most SMTP connections that were open at the same time.
    pub fn peak_connections(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// The `smtp_url` to configure.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` messages arrived, then returns
    /// them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() > until {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn session(
    conn: TcpStream,
    messages: &Mutex<Vec<Received>>,
    delay: Duration,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = conn.try_clone()?;
    let mut lines = BufReader::new(conn);
    out.write_all(b"220 sink.test ESMTP test sink\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 sink.test\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd[10..]);
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&cmd[8..]));
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
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
                let unstuffed = bare.strip_prefix('.').unwrap_or(bare);
                data.push_str(unstuffed);
                data.push_str("\r\n");
            }
            std::thread::sleep(delay);
            messages.lock().unwrap().push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            out.write_all(b"250 OK: queued\r\n")?;
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "NOOP" {
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 command not implemented\r\n")?;
        }
    }
}

/// `<a@b> SIZE=…` → `a@b`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(i), Some(j)) if i < j => arg[i + 1..j].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}
