//! `needlewise export all`: everything of every local profile as one ZIP
//! archive (a folder per profile with profile.json, CSV files and the
//! photos; see `needlewise_store::export`).

use std::path::PathBuf;

use needlewise_core::ids::AccountId;

use super::progress::Progress;
use crate::app::{App, Exit, Failure, bad};

#[derive(Debug, clap::Args)]
pub struct AllArgs {
    /// The archive to write (ZIP).
    #[arg(long, short, value_name = "FILE.zip")]
    pub out: PathBuf,
    /// Only this profile (by name) instead of all of them.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Option<String>,
    /// Encrypt the archive with a passphrase, in the age format (readable
    /// with the standard `age -d` tool). The passphrase comes from
    /// NEEDLEWISE_PASSPHRASE or the first line of --passphrase-file.
    #[arg(long)]
    pub encrypt: bool,
    /// A file whose first line is the passphrase (see --encrypt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

pub fn run(app: &App, args: AllArgs) -> Result<Exit, Failure> {
    let secret = if args.encrypt {
        Some(super::sealed::passphrase(args.passphrase_file.as_deref())?)
    } else {
        None
    };
    let store = app.store()?;
    let mut profiles = store.profiles(AccountId::LOCAL)?;
    if let Some(name) = &args.only {
        profiles.retain(|p| &p.name == name);
        if profiles.is_empty() {
            return Err(bad(format!("no profile called {name:?}")));
        }
    }
    let photo_dir = app.data_dir()?.join("photos");
    let mut partial = args.out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = std::fs::File::create(&partial).map_err(|e| {
        Failure::Other(anyhow::anyhow!(
            "{}: cannot write it: {e}",
            args.out.display()
        ))
    })?;
    let mut progress: Option<Progress> = None;
    let result = needlewise_store::export::write_archive(
        store,
        &profiles,
        Some(&photo_dir),
        app.now,
        std::io::BufWriter::new(file),
        &mut |done, total| {
            progress
                .get_or_insert_with(|| Progress::new("Exporting", Some(total), "items"))
                .set(done);
        },
    );
    let (out, summary) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(Failure::Other(
                anyhow::Error::new(e).context("the export failed"),
            ));
        }
    };
    let file = out
        .into_inner()
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot write the archive: {}", e.error())))?;
    let cannot = |e: std::io::Error| {
        Failure::Other(anyhow::anyhow!(
            "{}: cannot write it: {e}",
            args.out.display()
        ))
    };
    match secret {
        // Sealed into place, then the plain archive goes.
        Some(secret) => {
            file.sync_all().map_err(cannot)?;
            let sealed = super::sealed::encrypt_into(&partial, &args.out, secret);
            let _ = std::fs::remove_file(&partial);
            sealed?;
        }
        None => file
            .sync_all()
            .and_then(|()| std::fs::rename(&partial, &args.out))
            .map_err(cannot)?,
    }
    if let Some(p) = progress {
        p.finish(summary.profiles + summary.photos + summary.missing_photos);
    }
    if app.json {
        crate::output::json(&serde_json::json!({
            "file": args.out,
            "profiles": summary.profiles,
            "sessions": summary.sessions,
            "checkins": summary.checkins,
            "ratings": summary.ratings,
            "photos": summary.photos,
            "missing_photos": summary.missing_photos,
        }))?;
    } else {
        println!(
            "Wrote {} profile{} ({} sessions, {} check-ins, {} ratings, {} photos) to {}.",
            summary.profiles,
            if summary.profiles == 1 { "" } else { "s" },
            summary.sessions,
            summary.checkins,
            summary.ratings,
            summary.photos,
            args.out.display()
        );
        if summary.missing_photos > 0 {
            eprintln!(
                "{} photo file(s) were missing from {} and are not in the archive.",
                summary.missing_photos,
                photo_dir.display()
            );
        }
    }
    Ok(Exit::Ok)
}
