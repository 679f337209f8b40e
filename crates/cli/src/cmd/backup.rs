//! `needlewise backup` and `needlewise restore`: the whole store in one
//! checked file (see `needlewise_store::backup` for the format).
//!
//! A backup is read in one consistent read transaction, so it can be taken
//! while `needlewise serve` runs on the same store.

use std::path::PathBuf;

use needlewise_store::backup;
use needlewise_store::{RestoreMode, StoreError};

use super::progress::Progress;
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

/// The passphrase for an encrypted backup: NEEDLEWISE_PASSPHRASE, or the
/// first line of `file`.
fn passphrase(file: Option<&std::path::Path>) -> Result<age::secrecy::SecretString, Failure> {
    let text = match file {
        Some(path) => {
            let bytes = crate::app::read_bounded(path, 4096)?;
            String::from_utf8_lossy(&bytes)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        }
        None => std::env::var("NEEDLEWISE_PASSPHRASE").unwrap_or_default(),
    };
    if text.chars().count() < 10 {
        return Err(bad(
            "a backup passphrase of at least 10 characters is needed: set NEEDLEWISE_PASSPHRASE or give --passphrase-file",
        ));
    }
    Ok(age::secrecy::SecretString::from(text))
}

/// The header every age file starts with.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

fn is_encrypted(path: &std::path::Path) -> Result<bool, Failure> {
    use std::io::Read;
    let mut head = [0u8; 21];
    let mut f = std::fs::File::open(path)
        .map_err(|e| bad(format!("{}: cannot read it: {e}", path.display())))?;
    let n = f
        .read(&mut head)
        .map_err(|e| bad(format!("{}: cannot read it: {e}", path.display())))?;
    Ok(&head[..n] == AGE_MAGIC)
}

/// A private temporary file beside `near` (0600, removed when dropped).
fn temp_beside(near: &std::path::Path) -> Result<tempfile::NamedTempFile, Failure> {
    let dir = near
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    tempfile::Builder::new()
        .prefix(".needlewise-")
        .tempfile_in(dir)
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot make a temporary file")))
}

pub fn backup(app: &App, args: BackupArgs) -> Result<Exit, Failure> {
    let secret = if args.encrypt {
        Some(passphrase(args.passphrase_file.as_deref())?)
    } else {
        None
    };
    let store = app.store()?;
    let mut progress = Progress::new("Backing up", None, "rows");
    // Encrypted: the backup is written to a private temporary file beside
    // the target, then encrypted into place.
    let plain = match &secret {
        Some(_) => Some(temp_beside(&args.out)?),
        None => None,
    };
    let first = plain.as_ref().map_or(args.out.as_path(), |t| t.path());
    let written = backup::write_backup(store, first, app.now, &mut |n| progress.set(n))
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("the backup failed")))?;
    progress.finish(written.rows);
    if let (Some(secret), Some(plain)) = (secret, plain) {
        encrypt_into(plain.path(), &args.out, secret)?;
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

/// Encrypts `plain` into `out` with the passphrase; `out` is replaced only
/// once the encrypted file is complete.
fn encrypt_into(
    plain: &std::path::Path,
    out: &std::path::Path,
    secret: age::secrecy::SecretString,
) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::Other(anyhow::Error::new(e).context("encrypting the backup failed"))
    };
    let target = temp_beside(out)?;
    let mut input = std::fs::File::open(plain).map_err(fail)?;
    let encryptor = age::Encryptor::with_user_passphrase(secret);
    let mut writer = encryptor
        .wrap_output(std::io::BufWriter::new(target.as_file()))
        .map_err(fail)?;
    std::io::copy(&mut input, &mut writer).map_err(fail)?;
    let mut buffered = writer.finish().map_err(fail)?;
    std::io::Write::flush(&mut buffered).map_err(fail)?;
    drop(buffered);
    target.as_file().sync_all().map_err(fail)?;
    target.persist(out).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Decrypts an encrypted backup into a private temporary file; a wrong
/// passphrase is refused before anything else happens.
fn decrypt_to_temp(
    file: &std::path::Path,
    secret: age::secrecy::SecretString,
) -> Result<tempfile::NamedTempFile, Failure> {
    let input = std::fs::File::open(file)
        .map_err(|e| bad(format!("{}: cannot read it: {e}", file.display())))?;
    let decryptor = age::Decryptor::new(std::io::BufReader::new(input)).map_err(|e| {
        bad(format!(
            "{}: not a readable encrypted backup: {e}; nothing was changed",
            file.display()
        ))
    })?;
    let identity = age::scrypt::Identity::new(secret);
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| {
            bad(format!(
                "{}: {e} (is the passphrase right?); nothing was changed",
                file.display()
            ))
        })?;
    let out = temp_beside(file)?;
    let mut writer = std::io::BufWriter::new(out.as_file());
    std::io::copy(&mut reader, &mut writer).map_err(|e| {
        bad(format!(
            "{}: the encrypted file is damaged ({e}); nothing was changed",
            file.display()
        ))
    })?;
    std::io::Write::flush(&mut writer).map_err(|e| {
        Failure::Other(anyhow::Error::new(e).context("cannot write the decrypted backup"))
    })?;
    drop(writer);
    Ok(out)
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
    let _decrypted = if is_encrypted(&args.file)? {
        let plain = decrypt_to_temp(&args.file, passphrase(args.passphrase_file.as_deref())?)?;
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
