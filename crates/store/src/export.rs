//! "Export all": a person's data as a ZIP archive that ordinary tools open.
//!
//! The archive (ZIP, deflate) holds a `README.txt` and one folder per
//! profile:
//!
//! - `profile.json`: everything of the profile (the latest screening
//!   typed, and every screening as stored, with their answers, devices with their hygiene logs, sessions with zones and
//!   products, readiness checks, check-ins, episodes, ratings, photo
//!   metadata, whether a calendar link exists);
//!   and the appointments at clinics with the times clinics offered in
//!   conversations;
//! - `sessions.csv`, `readiness_checks.csv`, `checkins.csv`, `ratings.csv`,
//!   `appointments.csv`: the same records as spreadsheets (RFC 4180
//!   quoting);
//! - `photos/<photo id>.jpg`: the progress photos (already re-encoded
//!   without EXIF/GPS when they were uploaded);
//! - `fhir-bundle.json`: the whole record as a FHIR R4 Bundle (see
//!   [`fhir_bundle`]);
//!
//! The code writes to any `Write + Seek`, so the web app can offer the same
//! archive as a download.

use std::io::{Seek, Write};
use std::path::Path;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use needlewise_core::evidence;
use needlewise_core::records::Profile;
use needlewise_core::schedule::{LastSession, course_plan, next_session};
use needlewise_fhir::{ConsentInput, ConsentScope, RecordInput};
use serde_json::json;
use uuid::Uuid;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::{Result, Store, StoreError};

/// What the export did, for the caller's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub profiles: u64,
    pub sessions: u64,
    pub readiness_checks: u64,
    pub checkins: u64,
    pub ratings: u64,
    pub appointments: u64,
    pub photos: u64,
    /// Photos in the store whose file was missing on disk.
    pub missing_photos: u64,
}

/// One step done: `(done, total)` steps, a step being a profile's records
/// or one photo.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

fn zip_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::backend_caused(format!("cannot write the archive: {e}"), e)
}

fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o600)
}

/// JPEGs do not shrink: store them as they are.
fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .unix_permissions(0o600)
}

/// A folder name for a profile: its name with anything that is not a
/// letter, digit, `-` or `_` replaced, plus the start of its id so two
/// names that look alike never share a folder.
pub fn folder_name(p: &Profile) -> String {
    let clean: String = p
        .name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let id = p.id.to_string();
    format!("{clean}-{}", &id[id.len() - 8..])
}

/// Writes the archive of `profiles` to `out`. `photo_dir` is the photo
/// root (`<data dir>/photos`), whose `<profile id>/<photo id>.jpg` files
/// are included; without it, photos are left out.
pub fn write_archive<W: Write + Seek>(
    store: &dyn Store,
    profiles: &[Profile],
    photo_dir: Option<&Path>,
    now: Timestamp,
    out: W,
    progress: Progress<'_>,
) -> Result<(W, ExportSummary)> {
    let mut zip = ZipWriter::new(out);
    let mut summary = ExportSummary::default();
    let mut photo_lists = Vec::with_capacity(profiles.len());
    for p in profiles {
        photo_lists.push(store.photos(p.id)?);
    }
    // Every screening (the typed API gives the latest only), from one
    // read of the store, as rows with every column.
    let screenings_table = crate::snapshot::table_index("screenings");
    let wanted: Vec<String> = profiles.iter().map(|p| p.id.to_string()).collect();
    let mut screenings: Vec<Vec<serde_json::Value>> = profiles.iter().map(|_| Vec::new()).collect();
    store.snapshot_rows(&mut |row| {
        if Some(row.table) == screenings_table
            && let Some(i) = row
                .cells
                .first()
                .and_then(|c| c.as_text())
                .and_then(|id| wanted.iter().position(|w| w == id))
        {
            screenings[i].push(crate::backup::row_json(&row));
        }
        Ok(())
    })?;
    let total: u64 = photo_lists.iter().map(|l| l.len() as u64 + 1).sum();
    let mut done = 0u64;
    progress(done, total);
    zip.start_file("README.txt", options()).map_err(zip_err)?;
    zip.write_all(readme(profiles, now).as_bytes())
        .map_err(zip_err)?;
    for ((p, photos), screenings) in profiles.iter().zip(photo_lists).zip(screenings) {
        let dir = folder_name(p);
        add_profile(
            store,
            &mut zip,
            &dir,
            p,
            &photos,
            screenings,
            now,
            &mut summary,
        )?;
        add_fhir_bundle(store, &mut zip, &dir, p, now)?;
        done += 1;
        progress(done, total);
        for photo in &photos {
            let path = photo_dir.map(|d| {
                d.join(photo.profile_id.to_string())
                    .join(format!("{}.jpg", photo.id))
            });
            match path.map(std::fs::read) {
                Some(Ok(bytes)) => {
                    zip.start_file(format!("{dir}/photos/{}.jpg", photo.id), stored())
                        .map_err(zip_err)?;
                    zip.write_all(&bytes).map_err(zip_err)?;
                    summary.photos += 1;
                }
                Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::backend(format!(
                        "cannot read photo {}: {e}",
                        photo.id
                    )));
                }
                _ => summary.missing_photos += 1,
            }
            done += 1;
            progress(done, total);
        }
        summary.profiles += 1;
    }
    let out = zip.finish().map_err(zip_err)?;
    Ok((out, summary))
}

/// `now` in the profile's own time zone, or in UTC when it has none (or
/// one this build does not know): the zone of the dates in the archive's
/// schedule and course.
pub fn profile_now(profile: &Profile, now: Timestamp) -> ZonedDateTime {
    let tz = profile
        .time_zone
        .as_deref()
        .and_then(|name| TimeZone::get(name).ok())
        .unwrap_or(TimeZone::UTC);
    now.to_zoned_datetime(tz)
}

/// The profile's whole record as a FHIR R4 `collection` Bundle (see
/// `needlewise_fhir::bundle`) at `now`, its dates in the profile's zone
/// ([`profile_now`]). The command line, the archive and the web app all
/// build it here.
pub fn fhir_bundle(
    store: &dyn Store,
    profile: &Profile,
    now: Timestamp,
) -> Result<needlewise_fhir::Bundle> {
    let zoned = profile_now(profile, now);
    let base = evidence();
    let screening = store.latest_screening(profile.id)?;
    let devices = store.devices(profile.id)?;
    let sessions = store.sessions(profile.id)?;
    let checkins = store.checkins(profile.id)?;
    let episodes = store.episodes(profile.id)?;
    let ratings = store.ratings(profile.id)?;
    let photos = store.photos(profile.id)?;
    let email = store
        .account(profile.account_id)?
        .map(|a| a.email)
        .filter(|e| !e.is_empty());
    // The schedule: the healing interval after the session that ended
    // last (as the readiness gate reads it), a protocol's spacing where it
    // is longer, nothing while a red flag is open.
    let last = sessions
        .iter()
        .max_by_key(|s| (s.ended_at, s.id))
        .map(LastSession::from);
    let locked = episodes.iter().any(|e| e.resolved_at.is_none());
    let next = next_session(base, last, locked, &zoned);
    let next = match store.active_protocol(profile.id)? {
        Some(p) => p.apply_to(next, &zoned),
        None => next,
    };
    // The course follows the last session's needle, else the one
    // screened; only sessions at or before now count.
    let needle = last
        .map(|l| l.needle_length_mm)
        .or_else(|| screening.as_ref().map(|s| s.result.needle_length_mm));
    let course = needle.map(|mm| course_plan(base, &sessions, mm, &zoned));
    let consents = [ConsentInput {
        id: Uuid::now_v7(),
        given_at: now,
        scope: ConsentScope::OwnExport,
    }];
    let conversations: Vec<needlewise_fhir::ConversationInput> = store
        .patient_threads(profile.id)?
        .into_iter()
        .map(|t| needlewise_fhir::ConversationInput {
            conversation: t.summary.conversation,
            clinic_name: t.summary.clinic_name,
            messages: t.messages,
        })
        .collect();
    let appointments: Vec<needlewise_fhir::AppointmentInput> = store
        .patient_appointments(profile.id)?
        .into_iter()
        .map(|v| needlewise_fhir::AppointmentInput {
            appointment: v.appointment,
            clinic_name: v.clinic_name,
        })
        .collect();
    let input = RecordInput {
        profile,
        account_email: email.as_deref(),
        screening: screening.as_ref(),
        devices: &devices,
        sessions: &sessions,
        checkins: &checkins,
        episodes: &episodes,
        ratings: &ratings,
        photos: &photos,
        next_session: Some(&next),
        course: course.as_ref(),
        consents: &consents,
        conversations: &conversations,
        appointments: &appointments,
    };
    needlewise_fhir::bundle(base, &input, now, Uuid::now_v7())
        .map_err(|e| StoreError::backend(format!("cannot build the FHIR bundle: {e}")))
}

/// Adds `<profile folder>/fhir-bundle.json`: the record as FHIR R4.
fn add_fhir_bundle<W: Write + Seek>(
    store: &dyn Store,
    zip: &mut ZipWriter<W>,
    dir: &str,
    profile: &Profile,
    now: Timestamp,
) -> Result<()> {
    let bundle = fhir_bundle(store, profile, now)?;
    let text = serde_json::to_vec_pretty(&bundle)
        .map_err(|e| StoreError::backend_caused(format!("cannot write the FHIR bundle: {e}"), e))?;
    zip.start_file(format!("{dir}/fhir-bundle.json"), options())
        .map_err(zip_err)?;
    zip.write_all(&text).map_err(zip_err)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn add_profile<W: Write + Seek>(
    store: &dyn Store,
    zip: &mut ZipWriter<W>,
    dir: &str,
    p: &Profile,
    photos: &[needlewise_core::progress::Photo],
    screenings: Vec<serde_json::Value>,
    now: Timestamp,
    summary: &mut ExportSummary,
) -> Result<()> {
    let sessions = store.sessions(p.id)?;
    let readiness_checks = store.readiness_checks(p.id)?;
    let checkins = store.checkins(p.id)?;
    let episodes = store.episodes(p.id)?;
    let ratings = store.ratings(p.id)?;
    let screening = store.latest_screening(p.id)?;
    let mut devices = Vec::new();
    for d in store.devices(p.id)? {
        let log: Vec<_> = store
            .hygiene_log(p.id, d.id)?
            .into_iter()
            .map(|e| json!({ "at": e.at, "event": e.event, "state_after": e.state_after }))
            .collect();
        devices.push(json!({ "device": d, "hygiene_log": log }));
    }
    let calendar = store.calendar_token_created(p.id)?;
    let care_team = care_team(store, p)?;
    let appointments = store.patient_appointments(p.id)?;
    // The times clinics offered in the profile's conversations (read as
    // the patient reads them: nothing is marked read or logged).
    let mut proposals = Vec::new();
    for c in store.patient_conversations(p.id)? {
        proposals.extend(store.proposals(
            crate::appointment::Asker::Patient,
            p.id,
            c.conversation.id,
            now,
        )?);
    }
    let doc = json!({
        "exported_at": now,
        "profile": p,
        "latest_screening": screening,
        "screenings": screenings,
        "devices": devices,
        "sessions": sessions,
        "readiness_checks": readiness_checks,
        "checkins": checkins,
        "episodes": episodes,
        "ratings": ratings,
        "photos": photos,
        "calendar_link_created_at": calendar,
        "care_team": care_team,
        "appointments": appointments
            .iter()
            .map(|v| {
                let mut a = json!(v.appointment);
                a["clinic"] = json!(v.clinic_name);
                a
            })
            .collect::<Vec<_>>(),
        "appointment_proposals": proposals,
    });
    let text = serde_json::to_vec_pretty(&doc).map_err(zip_err)?;
    zip.start_file(format!("{dir}/profile.json"), options())
        .map_err(zip_err)?;
    zip.write_all(&text).map_err(zip_err)?;

    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| zip_err(e);
    w.write_record([
        "id",
        "local_date",
        "started_at",
        "ended_at",
        "needle_length_mm",
        "device_id",
        "zones",
        "products",
        "notes",
        "setting",
        "readiness_check_id",
    ])
    .map_err(csv_err)?;
    for s in &sessions {
        let zones: Vec<String> = s
            .zones
            .iter()
            .map(|z| {
                if z.skipped {
                    format!("{}: skipped", z.zone)
                } else {
                    match z.strokes {
                        Some(n) => format!("{}: {} s, {n} strokes", z.zone, z.seconds),
                        None => format!("{}: {} s", z.zone, z.seconds),
                    }
                }
            })
            .collect();
        let products: Vec<String> = s
            .products
            .iter()
            .map(|u| {
                format!(
                    "{} ({}, {}{})",
                    u.name,
                    u.category,
                    u.applied_at,
                    if u.allowed {
                        ""
                    } else {
                        ", refused by the serum gate"
                    }
                )
            })
            .collect();
        w.write_record([
            s.id.to_string(),
            s.local_date.to_string(),
            s.started_at.to_string(),
            s.ended_at.to_string(),
            s.needle_length_mm.to_string(),
            s.device_id.map(|d| d.to_string()).unwrap_or_default(),
            zones.join("; "),
            products.join("; "),
            s.notes.clone(),
            s.setting.id().to_owned(),
            s.readiness_check_id
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ])
        .map_err(csv_err)?;
    }
    add_csv(zip, &format!("{dir}/sessions.csv"), w)?;
    summary.sessions += sessions.len() as u64;

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "at", "device_id", "go", "rule_ids", "answers"])
        .map_err(csv_err)?;
    for c in &readiness_checks {
        let answers = serde_json::to_string(&c.answers).map_err(zip_err)?;
        w.write_record([
            c.id.to_string(),
            c.at.to_string(),
            c.device_id.map(|d| d.to_string()).unwrap_or_default(),
            if c.go { "go" } else { "no-go" }.to_owned(),
            c.rule_ids.join(" "),
            answers,
        ])
        .map_err(csv_err)?;
    }
    add_csv(zip, &format!("{dir}/readiness_checks.csv"), w)?;
    summary.readiness_checks += readiness_checks.len() as u64;

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "at", "session_id", "level", "rule_ids", "answers"])
        .map_err(csv_err)?;
    for c in &checkins {
        let answers = serde_json::to_string(&c.answers).map_err(zip_err)?;
        w.write_record([
            c.id.to_string(),
            c.at.to_string(),
            c.session_id.map(|s| s.to_string()).unwrap_or_default(),
            c.level.to_string(),
            c.rule_ids.join(" "),
            answers,
        ])
        .map_err(csv_err)?;
    }
    add_csv(zip, &format!("{dir}/checkins.csv"), w)?;
    summary.checkins += checkins.len() as u64;

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "rated_at", "zone", "concern", "score", "note"])
        .map_err(csv_err)?;
    for r in &ratings {
        w.write_record([
            r.id.to_string(),
            r.rated_at.to_string(),
            r.zone.to_string(),
            r.concern.to_string(),
            serde_json::to_string(&r.score).map_err(zip_err)?,
            r.note.clone(),
        ])
        .map_err(csv_err)?;
    }
    add_csv(zip, &format!("{dir}/ratings.csv"), w)?;
    summary.ratings += ratings.len() as u64;

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "clinic",
        "start",
        "end",
        "status",
        "note",
        "booked_by",
        "booked_at",
        "ended_by",
        "ended_at",
        "reason",
        "replaces",
        "replaced_by",
    ])
    .map_err(csv_err)?;
    for v in &appointments {
        let a = &v.appointment;
        let who = |actor: &needlewise_core::appointment::Actor| match actor.side {
            needlewise_core::conversation::Side::Patient => "you".to_owned(),
            needlewise_core::conversation::Side::Clinic => actor.name.clone(),
        };
        let ended = a.ended.as_ref();
        w.write_record([
            a.id.to_string(),
            v.clinic_name.clone(),
            a.slot.start.to_string(),
            a.slot.end.to_string(),
            a.status.id().to_owned(),
            a.note.clone(),
            who(&a.booked_by),
            a.booked_at.to_string(),
            ended.map(|e| who(&e.by)).unwrap_or_default(),
            ended.map(|e| e.at.to_string()).unwrap_or_default(),
            ended.map(|e| e.reason.clone()).unwrap_or_default(),
            a.replaces.map(|r| r.to_string()).unwrap_or_default(),
            ended
                .and_then(|e| e.replaced_by)
                .map(|r| r.to_string())
                .unwrap_or_default(),
        ])
        .map_err(csv_err)?;
    }
    add_csv(zip, &format!("{dir}/appointments.csv"), w)?;
    summary.appointments += appointments.len() as u64;
    Ok(())
}

fn add_csv<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    name: &str,
    w: csv::Writer<Vec<u8>>,
) -> Result<()> {
    let bytes = w.into_inner().map_err(|e| zip_err(e.into_error()))?;
    zip.start_file(name, options()).map_err(zip_err)?;
    zip.write_all(&bytes).map_err(zip_err)
}

/// The clinics a profile joined, what each may see, the protocol and
/// overrides in force, and the audit log of what clinics read or changed.
fn care_team(store: &dyn Store, p: &Profile) -> Result<serde_json::Value> {
    let clinics: Vec<_> = store
        .patient_clinics(p.id)?
        .into_iter()
        .map(|l| {
            json!({
                "clinic_id": l.clinic.id,
                "clinic": l.clinic.name,
                "joined_at": l.joined_at,
                "scopes": l.scopes,
            })
        })
        .collect();
    let audit: Vec<_> = store
        .audit_log(p.id, u32::MAX)?
        .into_iter()
        .map(|a| {
            json!({
                "at": a.at,
                "clinic_id": a.clinic_id,
                "who": a.actor_name,
                "action": a.action,
                "detail": a.detail,
            })
        })
        .collect();
    Ok(json!({
        "clinics": clinics,
        "protocol": store.active_protocol(p.id)?,
        "overrides": store.active_overrides(p.id)?,
        "audit_log": audit,
    }))
}

fn readme(profiles: &[Profile], now: Timestamp) -> String {
    let mut s = format!(
        "needlewise export, made {now}\n\
         ============================\n\n\
         Everything needlewise keeps about the profiles below. Each has a folder:\n\n\
         \x20 profile.json   everything of the profile as JSON: the latest screening\n\
         \x20                with its answers, devices and their cleaning logs,\n\
         \x20                sessions (zones, products, home or clinic), readiness\n\
         \x20                checks, check-ins, red-flag episodes and who resolved them,\n\
         \x20                self-ratings, photo details, and your care team: the\n\
         \x20                clinics you joined, what each may see, their protocol\n\
         \x20                and overrides, the log of what they read or changed,\n\
         \x20                your appointments at clinics and the times clinics\n\
         \x20                offered you in conversations.\n\
         \x20                Times are UTC (RFC 3339).\n\
         \x20 sessions.csv   one line per session: date, times, needle length,\n\
         \x20                zones, products applied, notes, home or clinic, the\n\
         \x20                readiness check that allowed it.\n\
         \x20 readiness_checks.csv  one line per readiness check: time, device,\n\
         \x20                go or no-go, the rules that fired, the answers as JSON.\n\
         \x20 checkins.csv   one line per check-in: time, triage level, the rules\n\
         \x20                that fired, the answers as JSON.\n\
         \x20 ratings.csv    one line per self-rating (0 = none to 4 = severe).\n\
         \x20 appointments.csv  one line per appointment: clinic, start and end,\n\
         \x20                booked, cancelled or moved, who did it, when and why.\n\
         \x20 fhir-bundle.json  the same record as a FHIR R4 Bundle, the format\n\
         \x20                clinics' software reads.\n\
         \x20 photos/        the progress photos as JPEG, named by photo id\n\
         \x20                (their details are in profile.json).\n\n\
         The CSV files are UTF-8 with a header line and standard quoting; any\n\
         spreadsheet opens them. Ratings are self-reported, never a diagnosis.\n\n\
         Profiles:\n"
    );
    for p in profiles {
        s.push_str(&format!("  {}  ({})\n", folder_name(p), p.name));
    }
    s
}
