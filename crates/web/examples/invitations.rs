//! Writes sample appointment invitations for `scripts/validate-ics`, from
//! the code that writes the patient's emails (`notify::AppointmentMails`,
//! which the store calls inside the booking's and the cancellation's
//! transaction):
//!
//! ```text
//! cargo run -p needlewise-web --example invitations -- OUT_DIR
//! ```
//!
//! `OUT_DIR/request.ics` is the booking's METHOD:REQUEST,
//! `OUT_DIR/cancel.ics` the cancellation's METHOD:CANCEL of the same
//! appointment, and `OUT_DIR/invitations.json` what both must say (UID,
//! SEQUENCE of each, start and end in unix seconds, organizer, attendee).
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use needlewise_core::appointment::{Actor, Appointment, Slot, Status};
use needlewise_core::conversation::Side;
use needlewise_core::ids::{AccountId, AppointmentId, ClinicId, ProfileId};
use needlewise_store::appointment::{AppointmentMail, AppointmentNews, Happened};
use needlewise_store::clinic::CalendarMethod;
use needlewise_web::notify::AppointmentMails;

const ORGANIZER: &str = "needlewise@clinic.example";
const ATTENDEE: &str = "ada@example.org";
/// A name with characters iCalendar escapes or cannot hold in a parameter.
const CLINIC: &str = "Lakeside: Skin, \"Face\"; Clinic";

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: invitations OUT_DIR")?;
    std::fs::create_dir_all(&dir)?;
    let start: Timestamp = "2026-12-01T09:00:00Z".parse()?;
    let booked_at: Timestamp = "2026-11-25T18:00:00Z".parse()?;
    let booked = Appointment {
        id: AppointmentId(uuid::Uuid::from_u128(0x5a)),
        clinic_id: ClinicId(uuid::Uuid::from_u128(0x6b)),
        profile_id: ProfileId(uuid::Uuid::from_u128(0x7c)),
        slot: Slot {
            start,
            end: start + SignedDuration::from_mins(45),
        },
        status: Status::Booked,
        note: "never in an email".into(),
        conversation_id: None,
        proposal_id: None,
        replaces: None,
        booked_by: Actor {
            side: Side::Patient,
            account: AccountId(uuid::Uuid::from_u128(0x8d)),
            name: "Ada".into(),
        },
        booked_at,
        ended: None,
        sequence: 0,
    };
    let cancelled_at = booked_at + SignedDuration::from_hours(3);
    let cancelled = booked
        .end(
            Actor {
                side: Side::Clinic,
                account: AccountId(uuid::Uuid::from_u128(0x9e)),
                name: "Dr Lee".into(),
            },
            cancelled_at,
            "The surgeon is away",
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mails = AppointmentMails {
        organizer: ORGANIZER.into(),
        default_zone: jiff::tz::TimeZone::get("Europe/Berlin")?,
        public_url: None,
    };
    for (name, happened, a, at, method) in [
        (
            "request.ics",
            Happened::Booked,
            &booked,
            booked_at,
            CalendarMethod::Request,
        ),
        (
            "cancel.ics",
            Happened::Cancelled,
            &cancelled,
            cancelled_at,
            CalendarMethod::Cancel,
        ),
    ] {
        let emails = mails.emails(&AppointmentNews {
            happened,
            appointment: a,
            new: None,
            clinic_name: CLINIC,
            patient_email: ATTENDEE,
            patient_time_zone: Some("America/New_York"),
            at,
        });
        let [email] = emails.as_slice() else {
            bail!("{name}: {} emails, not one", emails.len());
        };
        let part = email.calendar.as_ref().context("no calendar part")?;
        if part.method != method {
            bail!(
                "{name}: METHOD {} instead of {}",
                part.method.id(),
                method.id()
            );
        }
        std::fs::write(dir.join(name), &part.text)?;
    }
    let model = serde_json::json!({
        "uid": needlewise_core::calendar::appointment_uid(booked.id),
        "start": booked.slot.start.as_second(),
        "end": booked.slot.end.as_second(),
        "organizer": format!("mailto:{ORGANIZER}"),
        "attendee": format!("mailto:{ATTENDEE}"),
        "request": { "method": "REQUEST", "sequence": booked.sequence },
        "cancel": { "method": "CANCEL", "sequence": cancelled.sequence },
    });
    std::fs::write(
        dir.join("invitations.json"),
        serde_json::to_string_pretty(&model)?,
    )?;
    println!(
        "wrote request.ics, cancel.ics and invitations.json to {}",
        dir.display()
    );
    Ok(())
}
