//! `needlewise serve` and `needlewise default-config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use needlewise_web::{AppState, Config, DEFAULT_CONFIG};

use crate::app::{App, Exit, Failure, bad};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A configuration file (see `needlewise default-config`).
    #[arg(long, env = "NEEDLEWISE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// For the browser test suite only: the server's clock becomes now plus
    /// an offset that `POST /__test/clock/advance?minutes=N` moves forward.
    /// Refused with an https public_url.
    #[arg(long, hide = true)]
    test_clock: bool,
}

pub fn default_config() -> Result<Exit, Failure> {
    print!("{DEFAULT_CONFIG}");
    Ok(Exit::Ok)
}

/// Layers defaults < file < environment < flags, then serves.
pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| bad(e.to_string()))?,
        None => Config::default(),
    };
    config = config
        .apply_env(|k| std::env::var(k).ok())
        .map_err(|e| bad(e.to_string()))?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.validate().map_err(|e| bad(e.to_string()))?;
    let _log = needlewise_web::telemetry::init_logging(config.log_format)
        .map_err(|e| Failure::Other(e.into()))?;
    if args.test_clock && config.secure_cookies() {
        return Err(bad(
            "--test-clock is for the test suite only and cannot run with an https public_url",
        ));
    }
    let store = app.open_store()?;
    // --now shifts the server's clock: time still passes, from that moment.
    // Without it the real clock is read, so every instance agrees.
    let offset = app.now_offset();
    let clock = Arc::new(move || match offset {
        None => Timestamp::now(),
        Some(offset) => Timestamp::now()
            .checked_add(offset)
            .unwrap_or(Timestamp::MAX),
    });
    // Progress photos live on disk next to the store, never in it.
    let photo_dir = app.data_dir()?.join("photos");
    let mut state = AppState::new(Arc::from(store), config, clock, TimeZone::system())
        .with_photo_dir(photo_dir);
    if args.test_clock {
        eprintln!("needlewise: TEST CLOCK ON: POST /__test/clock/advance moves the server's time");
        state = state.with_test_clock();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(e.into()))?;
    runtime.block_on(needlewise_web::serve(state))?;
    Ok(Exit::Ok)
}
