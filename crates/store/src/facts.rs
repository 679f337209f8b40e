//! What needlewise knows about a profile today, assembled from the store
//! for the core's decisions. Shared by the command line and the web app.

use jiff::Timestamp;
use jiff::civil::Date;
use needlewise_core::calendar::{CalendarFacts, CalendarModel};
use needlewise_core::evidence;
use needlewise_core::hygiene::Device;
use needlewise_core::ids::ProfileId;
use needlewise_core::readiness::ReadinessFacts;
use needlewise_core::records::Profile;
use needlewise_core::schedule::{LastSession, NextSession, next_session};

use crate::{Result, Store};

/// The earliest next session for a profile.
pub fn schedule(store: &dyn Store, profile: ProfileId, today: Date) -> Result<NextSession> {
    let last = store.last_session(profile)?.map(|s| LastSession {
        date: s.local_date,
        needle_length_mm: s.needle_length_mm,
    });
    let locked = !store.open_episodes(profile)?.is_empty();
    Ok(next_session(evidence(), last, locked, today))
}

/// The facts of today's readiness gate: the latest screening, the chosen
/// device's hygiene, the schedule and any open red flag.
pub fn readiness(
    store: &dyn Store,
    profile: ProfileId,
    device: Option<&Device>,
    today: Date,
) -> Result<ReadinessFacts> {
    let screening = store.latest_screening(profile)?;
    let planned_zones = screening
        .as_ref()
        .and_then(|s| s.result.get("zones"))
        .and_then(|z| serde_json::from_value(z.clone()).ok())
        .unwrap_or_default();
    let rules = &evidence().defaults.hygiene;
    let next = schedule(store, profile, today)?;
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
pub fn screened_needle(store: &dyn Store, profile: ProfileId) -> Result<Option<f64>> {
    Ok(store.latest_screening(profile)?.map(|s| {
        s.result
            .get("needle_length_mm")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    }))
}

/// A profile's calendar (session days, check-ins, device reminders) at
/// `now`, whose local date is `today`.
pub fn calendar(
    store: &dyn Store,
    profile: &Profile,
    now: Timestamp,
    today: Date,
) -> Result<CalendarModel> {
    let sessions = store.sessions(profile.id)?;
    let locked = !store.open_episodes(profile.id)?.is_empty();
    let devices = store.devices(profile.id)?;
    Ok(needlewise_core::calendar::build(
        evidence(),
        &CalendarFacts {
            profile: profile.id,
            profile_name: &profile.name,
            sessions: &sessions,
            locked,
            devices: &devices,
        },
        now,
        today,
    ))
}
