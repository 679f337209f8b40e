//! `needlewise delete-all`: deletes every profile of the command line's
//! local account, with all their data and photos. The store overwrites
//! deleted rows (SQLite `secure_delete`, then a WAL checkpoint), so
//! nothing of them is left in its files.

use needlewise_core::ids::AccountId;

use crate::app::{App, Exit, Failure, bad};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Confirm: this cannot be undone.
    #[arg(long)]
    pub yes: bool,
}

/// Removes a profile's photo folder; a missing one is fine.
pub fn remove_photos(app: &App, profile: needlewise_core::ids::ProfileId) -> Result<(), Failure> {
    let dir = app.data_dir()?.join("photos").join(profile.to_string());
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::Other(anyhow::anyhow!(
            "the profile is deleted, but its photos in {} could not be removed: {e}",
            dir.display()
        ))),
    }
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    let store = app.store()?;
    let profiles = store.profiles(AccountId::LOCAL)?;
    if !args.yes {
        return Err(bad(format!(
            "delete-all removes all {} profile(s) and everything in them for good; run again with --yes to confirm",
            profiles.len()
        )));
    }
    for p in &profiles {
        store.delete_profile(p.id)?;
        remove_photos(app, p.id)?;
    }
    if app.json {
        crate::output::json(&serde_json::json!({ "deleted_profiles": profiles.len() }))?;
    } else {
        println!(
            "Deleted {} profile(s) and all of their data and photos.",
            profiles.len()
        );
    }
    Ok(Exit::Ok)
}
