//! One module per subcommand.

pub mod aftercare;
pub mod checkin;
pub mod coverage;
pub mod evidence;
pub mod next;
pub mod profile;
pub mod ready;
pub mod roller;
pub mod screen;
pub mod session;

use needlewise_core::evidence as evidence_base;
use needlewise_core::hygiene::{Device, HygieneState};
use needlewise_core::readiness::ReadinessFacts;
use needlewise_core::records::Profile;
use needlewise_core::schedule::{LastSession, NextSession, next_session};
use needlewise_core::screening::Verdict;

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

/// The schedule for the profile now.
pub fn schedule(app: &App, profile: &Profile) -> Result<NextSession, Failure> {
    let store = app.store()?;
    let last = store.last_session(profile.id)?.map(|s| LastSession {
        date: s.local_date,
        needle_length_mm: s.needle_length_mm,
    });
    let locked = !store.open_episodes(profile.id)?.is_empty();
    Ok(next_session(evidence_base(), last, locked, app.today()))
}

/// What needlewise knows for today's readiness gate.
pub fn readiness_facts(
    app: &App,
    profile: &Profile,
    device: Option<&Device>,
) -> Result<ReadinessFacts, Failure> {
    let store = app.store()?;
    let screening = store.latest_screening(profile.id)?;
    let planned_zones = screening
        .as_ref()
        .and_then(|s| s.result.get("zones"))
        .and_then(|z| serde_json::from_value(z.clone()).ok())
        .unwrap_or_default();
    let rules = &evidence_base().defaults.hygiene;
    let next = schedule(app, profile)?;
    Ok(ReadinessFacts {
        planned_zones,
        screening_verdict: screening.map(|s| s.verdict),
        device_ready: device.is_some_and(|d| d.is_ready(rules)),
        device_replacement_due: device.is_some_and(|d| d.replacement_due(rules)),
        earliest_next_session: next.earliest(),
        symptom_lock: matches!(next, NextSession::Locked { .. }),
    })
}

/// The needle length the latest screening cleared.
pub fn screened_needle(app: &App, profile: &Profile) -> Result<Option<(Verdict, f64)>, Failure> {
    Ok(app.store()?.latest_screening(profile.id)?.map(|s| {
        let mm = s
            .result
            .get("needle_length_mm")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        (s.verdict, mm)
    }))
}
