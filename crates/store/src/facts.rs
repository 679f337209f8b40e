//! What needlewise knows about a profile today, assembled from the store
//! for the core's decisions. Shared by the command line and the web app.

use jiff::Timestamp;
use jiff::civil::Date;
use needlewise_core::calendar::{CalendarFacts, CalendarModel};
use needlewise_core::clinic::Protocol;
use needlewise_core::evidence;
use needlewise_core::hygiene::Device;
use needlewise_core::ids::ProfileId;
use needlewise_core::readiness::{ProtocolFacts, ReadinessFacts};
use needlewise_core::records::Profile;
use needlewise_core::schedule::{LastSession, NextSession, next_session};

use crate::{Result, Store};

/// The earliest next session for a profile: the healing interval, and a
/// prescribed protocol's spacing where it is longer.
pub fn schedule(store: &dyn Store, profile: ProfileId, today: Date) -> Result<NextSession> {
    let last = store.last_session(profile)?.map(|s| LastSession {
        date: s.local_date,
        needle_length_mm: s.needle_length_mm,
    });
    let locked = !store.open_episodes(profile)?.is_empty();
    let next = next_session(evidence(), last, locked, today);
    Ok(match store.active_protocol(profile)? {
        Some(p) => p.apply_to(next, today),
        None => next,
    })
}

/// What a prescribed protocol adds to today's readiness facts, and the
/// screened zones narrowed to the prescribed ones.
fn with_protocol(
    store: &dyn Store,
    profile: ProfileId,
    screened_mm: Option<f64>,
    facts: &mut ReadinessFacts,
) -> Result<Option<Protocol>> {
    let Some(p) = store.active_protocol(profile)? else {
        return Ok(None);
    };
    facts.planned_zones = p.narrow_zones(&facts.planned_zones);
    let sessions = store.sessions(profile)?;
    let done = sessions
        .iter()
        .filter(|s| s.started_at >= p.prescribed_at)
        .count();
    facts.protocol = Some(ProtocolFacts {
        earliest_next_session: sessions.first().map(|s| p.earliest_after(s.local_date)),
        course_complete: p.course_complete(u32::try_from(done).unwrap_or(u32::MAX)),
        needle_mismatch: screened_mm.is_some_and(|mm| !p.needle_matches(mm)),
    });
    Ok(Some(p))
}

/// The facts of today's readiness gate: the latest screening, the chosen
/// device's hygiene, the schedule and any open red flag.
pub fn readiness(
    store: &dyn Store,
    profile: ProfileId,
    device: Option<&Device>,
    today: Date,
) -> Result<ReadinessFacts> {
    Ok(readiness_and_protocol(store, profile, device, today)?.0)
}

/// [`readiness`], with the protocol in force it read (for pages that show
/// it too).
pub fn readiness_and_protocol(
    store: &dyn Store,
    profile: ProfileId,
    device: Option<&Device>,
    today: Date,
) -> Result<(ReadinessFacts, Option<Protocol>)> {
    let screening = store.latest_screening(profile)?;
    let planned_zones = screening
        .as_ref()
        .and_then(|s| s.result.get("zones"))
        .and_then(|z| serde_json::from_value(z.clone()).ok())
        .unwrap_or_default();
    let rules = &evidence().defaults.hygiene;
    // The healing interval alone: a protocol's spacing is its own fact,
    // with its own rule and words.
    let last = store.last_session(profile)?.map(|s| LastSession {
        date: s.local_date,
        needle_length_mm: s.needle_length_mm,
    });
    let locked = !store.open_episodes(profile)?.is_empty();
    let next = next_session(evidence(), last, locked, today);
    let screened_mm = screening.as_ref().map(screened_mm);
    let mut facts = ReadinessFacts {
        planned_zones,
        screening_verdict: screening.map(|s| s.verdict),
        device_ready: device.is_some_and(|d| d.is_ready(rules)),
        device_replacement_due: device.is_some_and(|d| d.replacement_due(rules)),
        earliest_next_session: next.earliest(),
        symptom_lock: matches!(next, NextSession::Locked { .. }),
        protocol: None,
    };
    let protocol = with_protocol(store, profile, screened_mm, &mut facts)?;
    Ok((facts, protocol))
}

fn screened_mm(s: &needlewise_core::records::ScreeningRecord) -> f64 {
    s.result
        .get("needle_length_mm")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

/// The needle length the latest screening cleared.
pub fn screened_needle(store: &dyn Store, profile: ProfileId) -> Result<Option<f64>> {
    Ok(store.latest_screening(profile)?.as_ref().map(screened_mm))
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
