//! One module per subcommand.

pub mod aftercare;
pub mod backup;
pub mod checkin;
pub mod coverage;
pub mod delete_all;
pub mod evidence;
pub mod export;
pub mod export_all;
pub mod export_fhir;
pub mod export_pdf;
pub mod migrate_store;
pub mod next;
pub mod profile;
pub mod progress;
pub mod ready;
pub mod roller;
pub mod screen;
pub mod sealed;
pub mod serve;
pub mod session;

use needlewise_core::hygiene::{Device, HygieneState};
use needlewise_core::records::Profile;

use crate::app::{App, Failure, bad};

/// Finds a device by id, id prefix or name; with none given, the profile's
/// only device in service.
pub fn resolve_device(
    app: &App,
    profile: &Profile,
    wanted: Option<&str>,
) -> Result<Device, Failure> {
    let devices = app.store()?.devices(profile.id)?;
    let in_service: Vec<&Device> = devices
        .iter()
        .filter(|d| d.state != HygieneState::Retired)
        .collect();
    match wanted {
        Some(w) => {
            let w = w.trim();
            let matches: Vec<&Device> = devices
                .iter()
                .filter(|d| {
                    d.name.eq_ignore_ascii_case(w)
                        || (w.len() >= 4 && d.id.to_string().starts_with(w))
                })
                .collect();
            match matches.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(bad(format!(
                    "no device {w:?} in profile {}; see `needlewise roller list`",
                    profile.name
                ))),
                _ => Err(bad(format!(
                    "{w:?} matches several devices; use more of the id"
                ))),
            }
        }
        None => match in_service.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(bad(
                "no device yet: add one with `needlewise roller add --name NAME`",
            )),
            _ => Err(bad(
                "you have several devices; name one (see `needlewise roller list`)",
            )),
        },
    }
}
