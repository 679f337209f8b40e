//! Encrypted files: backups and export archives that leave the machine,
//! sealed with a passphrase in the age format (its scrypt recipient), so
//! the standard `age -d` tool opens them too.

use crate::app::{Failure, bad};

/// The passphrase: NEEDLEWISE_PASSPHRASE, or the first line of `file`.
pub fn passphrase(file: Option<&std::path::Path>) -> Result<age::secrecy::SecretString, Failure> {
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
            "a passphrase of at least 10 characters is needed: set NEEDLEWISE_PASSPHRASE or give --passphrase-file",
        ));
    }
    Ok(age::secrecy::SecretString::from(text))
}

/// The header every age file starts with.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

pub fn is_encrypted(path: &std::path::Path) -> Result<bool, Failure> {
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
pub fn temp_beside(near: &std::path::Path) -> Result<tempfile::NamedTempFile, Failure> {
    let dir = near
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    tempfile::Builder::new()
        .prefix(".needlewise-")
        .tempfile_in(dir)
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot make a temporary file")))
}

/// Encrypts `plain` into `out` with the passphrase; `out` is replaced only
/// once the encrypted file is complete.
pub fn encrypt_into(
    plain: &std::path::Path,
    out: &std::path::Path,
    secret: age::secrecy::SecretString,
) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::Other(anyhow::Error::new(e).context("encrypting the file failed"))
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
pub fn decrypt_to_temp(
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
