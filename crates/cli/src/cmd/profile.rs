//! `needlewise profile`: the profiles of a household (all of them in the
//! local account).

use needlewise_core::ids::{AccountId, ProfileId};
use needlewise_core::records::Profile;
use uuid::Uuid;

use crate::app::{App, Exit, Failure, bad};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProfileCommand {
    /// Add a profile; choose it later with --profile NAME.
    Add {
        name: String,
    },
    List,
    /// Delete a profile and everything in it: screenings, devices, sessions, check-ins.
    Delete {
        name: String,
        /// Confirm without being asked (otherwise, on a terminal, you type
        /// the profile's name). This cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    let store = app.store()?;
    match args.command {
        ProfileCommand::Add { name } => {
            let name = needlewise_core::text::single_line(&name, 60)
                .map_err(|e| bad(format!("name: {e}")))?
                .to_owned();
            let profile = Profile {
                id: ProfileId(Uuid::now_v7()),
                account_id: AccountId::LOCAL,
                name,
                created_at: app.now,
                time_zone: None,
            };
            store.create_profile(&profile)?;
            if app.json {
                output::json(&profile)?;
            } else {
                println!(
                    "Added profile {}. Use it with --profile {:?}.",
                    profile.name, profile.name
                );
            }
        }
        ProfileCommand::List => {
            let profiles = store.profiles(AccountId::LOCAL)?;
            if app.json {
                output::json(&profiles)?;
            } else if profiles.is_empty() {
                println!(
                    "No profiles yet; one called \"me\" is made the first time you use needlewise."
                );
            } else {
                for p in profiles {
                    println!("{:<24} since {}", p.name, app.local(p.created_at));
                }
            }
        }
        ProfileCommand::Delete { name, yes } => {
            let Some(profile) = store.profile_by_name(AccountId::LOCAL, &name)? else {
                return Err(bad(format!("no profile called {name:?}")));
            };
            if !yes && !confirmed_by_typing(&name)? {
                return Err(bad(format!(
                    "deleting {name:?} removes all of its data and photos for good; \
                     type its name when asked, or run again with --yes to confirm"
                )));
            }
            store.delete_profile(profile.id)?;
            // Its progress photos live on disk, outside the store.
            super::delete_all::remove_photos(app, profile.id)?;
            if !app.json {
                println!("Deleted profile {name} and all of its data.");
            }
        }
    }
    Ok(Exit::Ok)
}

/// On a terminal, asks for the profile's name; anything else (or no
/// terminal) is no.
fn confirmed_by_typing(name: &str) -> Result<bool, Failure> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!(
        "This deletes profile {name:?} with all of its data and photos, for good.\nType its name to confirm: "
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot read the confirmation: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']) == name)
}
