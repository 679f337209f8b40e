//! `needlewise backup` and `needlewise restore`: the whole store in one
//! checked file (see `needlewise_store::backup` for the format).
//!
//! A backup is read in one consistent read transaction, so it can be taken
//! while `needlewise serve` runs on the same store.

use std::path::PathBuf;

use needlewise_store::backup;
use needlewise_store::{RestoreMode, StoreError};

use super::progress::Progress;
use super::sealed;
use crate::app::{App, Exit, Failure, bad};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (gzip-compressed JSON lines, e.g.
    /// needlewise-2026-11-25.nwbackup.gz). An existing file is replaced
    /// only once the new backup is complete.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Encrypt the backup with a passphrase, in the age format (readable
    /// with the standard `age -d` tool too). The passphrase comes from
    /// NEEDLEWISE_PASSPHRASE or the first line of --passphrase-file.
    #[arg(long)]
    pub encrypt: bool,
    /// A file whose first line is the passphrase (see --encrypt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file made by `needlewise backup`.
    pub file: PathBuf,
    /// Replace everything in the store with the backup. Without it, the
    /// store must be empty (freshly made).
    #[arg(long)]
    pub replace: bool,
    /// For an encrypted backup: a file whose first line is the passphrase
    /// (or set NEEDLEWISE_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

pub fn backup(app: &App, args: BackupArgs) -> Result<Exit, Failure> {
    let secret = if args.encrypt {
        Some(sealed::passphrase(args.passphrase_file.as_deref())?)
    } else {
        None
    };
    let store = app.store()?;
    let mut progress = Progress::new("Backing up", None, "rows");
    // Encrypted: the backup is written to a private temporary file beside
    // the target, then encrypted into place.
    let plain = match &secret {
        Some(_) => Some(sealed::temp_beside(&args.out)?),
        None => None,
    };
    let first = plain.as_ref().map_or(args.out.as_path(), |t| t.path());
    let written = backup::write_backup(store, first, app.now, &mut |n| progress.set(n))
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("the backup failed")))?;
    progress.finish(written.rows);
    if let (Some(secret), Some(plain)) = (secret, plain) {
        sealed::encrypt_into(plain.path(), &args.out, secret)?;
    }
    if app.json {
        crate::output::json(&serde_json::json!({
            "file": args.out,
            "rows": written.rows,
            "tables": written.checksums.tables,
        }))?;
    } else {
        println!(
            "Wrote {} rows from the {} store to {}.",
            written.rows,
            store.backend(),
            args.out.display()
        );
        print_checksums(&written.checksums);
    }
    Ok(Exit::Ok)
}

pub fn print_checksums(sums: &needlewise_store::Checksums) {
    for t in &sums.tables {
        println!("  {:<18} {:>8} rows  sha256 {}", t.table, t.rows, t.sha256);
    }
}

/// A refused file is bad input (exit 2); the store failing is not.
fn restore_failure(file: &std::path::Path, e: StoreError) -> Failure {
    match e {
        StoreError::Invalid { what } => {
            bad(format!("{}: {what}; nothing was changed", file.display()))
        }
        StoreError::Conflict { what } => bad(format!(
            "{what}; nothing was changed (use --replace to replace everything in it)"
        )),
        other => Failure::Other(
            anyhow::Error::new(other).context("the restore failed; nothing was changed"),
        ),
    }
}

pub fn restore(app: &App, mut args: RestoreArgs) -> Result<Exit, Failure> {
    // An encrypted backup is decrypted to a private temporary file first;
    // a wrong passphrase stops here.
    let shown = args.file.clone();
    let _decrypted = if sealed::is_encrypted(&args.file)? {
        let plain = sealed::decrypt_to_temp(
            &args.file,
            sealed::passphrase(args.passphrase_file.as_deref())?,
        )?;
        args.file = plain.path().to_owned();
        Some(plain)
    } else {
        None
    };
    // Check the whole file before touching the store.
    let (header, _) = backup::verify_file(&args.file).map_err(|e| restore_failure(&shown, e))?;
    let store = app.store()?;
    let mode = if args.replace {
        RestoreMode::Replace
    } else {
        RestoreMode::IntoEmpty
    };
    let mut progress = Progress::new("Restoring", Some(header.total_rows()), "rows");
    backup::restore_file(store, &args.file, mode, &mut |n| progress.set(n))
        .map_err(|e| restore_failure(&shown, e))?;
    progress.finish(header.total_rows());
    let now = store.checksums()?;
    let problems = header.checksums.differences(&now);
    if !problems.is_empty() {
        return Err(Failure::Other(anyhow::anyhow!(
            "the restored store does not match the backup: {}",
            problems.join("; ")
        )));
    }
    if app.json {
        crate::output::json(&serde_json::json!({
            "file": shown,
            "created_at": header.created_at,
            "rows": header.total_rows(),
            "tables": now.tables,
        }))?;
    } else {
        println!(
            "Restored {} rows from {} (taken {} from a {} store); counts and checksums match:",
            header.total_rows(),
            shown.display(),
            header.created_at,
            header.source
        );
        print_checksums(&now);
    }
    Ok(Exit::Ok)
}
