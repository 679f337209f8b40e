//! [`AppointmentStore`], written once over [`Backend`]. Every method is one
//! transaction: the asker is checked ([`patient_may_schedule`], or
//! [`Act::Schedule`] through [`held`]), the clinic's zone, hours and booked
//! slots are loaded and the core decides ([`Hours::offer`], [`bookable`],
//! [`Appointment::end`], [`check_proposal`]), the rows are written and the
//! audit line appended. The partial unique index of migration 11 refuses a
//! second booked appointment at one clinic and start time.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use needlewise_core::appointment::{
    Actor, Appointment, Ending, Hours, Opening, Problem, Proposal, Slot, Status, bookable,
    check_proposal, note,
};
use needlewise_core::clinic::{Act, Grant, decide, may_set_hours, patient_may_schedule};
use needlewise_core::conversation::Side;
use needlewise_core::ids::{
    AccountId, AppointmentId, ClinicId, ConversationId, ProfileId, ProposalId,
};

use crate::appointment::{
    AppointmentMail, AppointmentNews, AppointmentStore, AppointmentView, Asker, Change,
    ClinicSchedule, Happened, MAX_APPOINTMENTS_LISTED, NewAppointment, NewProposal,
};
use crate::clinic::{ClinicAccess, Email};
use crate::clinic_impl::{PATIENT, audit, audit_many, held, insert_email, member_of};
use crate::codec::to_u32;
use crate::conversation::{MessageMail, Posted};
use crate::conversation_impl::{
    check_message, clinic_side, emails, insert_message, linked, message_exists, patient_of,
};
use crate::sql::{Backend, Cols, Isolation, Tx, Value, args, json, qualified};
use crate::{Result, StoreError};

const APPOINTMENT_COLUMNS: &str = "clinic_id, profile_id, id, starts_at, ends_at, status, note, \
     conversation_id, proposal_id, replaces, booked_by, booked_side, booked_by_name, booked_at, \
     ended_by, ended_side, ended_by_name, ended_at, end_reason, replaced_by, sequence";

/// The core's problem as the store's error: a taken slot is a conflict,
/// anything else cannot be stored as given.
fn problem(p: Problem) -> StoreError {
    match p {
        Problem::Taken => StoreError::conflict(p.to_string()),
        p => StoreError::invalid(p.to_string()),
    }
}

fn appointment_from(r: Cols<'_>) -> Result<Appointment> {
    let ended = match r.opt_ts("ended_at")? {
        None => None,
        Some(at) => Some(Ending {
            by: Actor {
                side: r.parse("ended_side", "side")?,
                account: AccountId(r.uuid("ended_by")?),
                name: r.text("ended_by_name")?,
            },
            at,
            reason: r.text("end_reason")?,
            replaced_by: r.opt_uuid("replaced_by")?.map(AppointmentId),
        }),
    };
    Ok(Appointment {
        id: AppointmentId(r.uuid("id")?),
        clinic_id: ClinicId(r.uuid("clinic_id")?),
        profile_id: ProfileId(r.uuid("profile_id")?),
        slot: Slot {
            start: r.ts("starts_at")?,
            end: r.ts("ends_at")?,
        },
        status: r.parse("status", "appointment status")?,
        note: r.text("note")?,
        conversation_id: r.opt_uuid("conversation_id")?.map(ConversationId),
        proposal_id: r.opt_uuid("proposal_id")?.map(ProposalId),
        replaces: r.opt_uuid("replaces")?.map(AppointmentId),
        booked_by: Actor {
            side: r.parse("booked_side", "side")?,
            account: AccountId(r.uuid("booked_by")?),
            name: r.text("booked_by_name")?,
        },
        booked_at: r.ts("booked_at")?,
        ended,
        sequence: to_u32(r.int("sequence")?, "appointment sequence")?,
    })
}

fn view_from(r: Cols<'_>) -> Result<AppointmentView> {
    Ok(AppointmentView {
        appointment: appointment_from(r)?,
        clinic_name: r.text("clinic_name")?,
        clinic_time_zone: r.text("clinic_time_zone")?,
        patient_name: r.text("patient_name")?,
    })
}

fn view_select() -> String {
    format!(
        "SELECT {}, cl.name AS clinic_name, cl.time_zone AS clinic_time_zone,
                p.name AS patient_name
         FROM appointments a
         JOIN clinics cl ON cl.id = a.clinic_id
         JOIN profiles p ON p.id = a.profile_id",
        qualified(APPOINTMENT_COLUMNS, "a")
    )
}

/// One of the profile's appointments.
fn find(tx: &mut dyn Tx, profile: ProfileId, id: AppointmentId) -> Result<Option<AppointmentView>> {
    let sql = format!("{} WHERE a.profile_id = ?1 AND a.id = ?2", view_select());
    tx.first(&sql, args![profile, id], view_from)
}

/// The clinic's zone and scheduling settings.
fn schedule_of(tx: &mut dyn Tx, clinic: ClinicId) -> Result<ClinicSchedule> {
    let found = tx.first(
        "SELECT c.name AS name, c.time_zone AS time_zone, h.week AS week,
                h.slot_minutes AS slot_minutes, h.closed AS closed
         FROM clinics c LEFT JOIN clinic_hours h ON h.clinic_id = c.id
         WHERE c.id = ?1",
        args![clinic],
        |r| {
            let hours = match r.opt_decode::<[Vec<Opening>; 7]>("week")? {
                None => None,
                Some(week) => Some(Hours {
                    week,
                    slot_minutes: to_u32(r.int("slot_minutes")?, "slot length")?,
                    closed: r.decode::<BTreeSet<jiff::civil::Date>>("closed")?,
                }),
            };
            Ok((r.text("name")?, r.text("time_zone")?, hours))
        },
    )?;
    let (name, time_zone, hours) =
        found.ok_or_else(|| StoreError::not_found(format!("clinic {clinic}")))?;
    Ok(ClinicSchedule {
        clinic_id: clinic,
        clinic_name: name,
        time_zone,
        set: hours.is_some(),
        hours: hours.unwrap_or_default(),
    })
}

fn zone(s: &ClinicSchedule) -> TimeZone {
    TimeZone::get(&s.time_zone).unwrap_or(TimeZone::UTC)
}

/// The clinic's booked slots that overlap `range`.
fn booked_over(tx: &mut dyn Tx, clinic: ClinicId, range: Slot) -> Result<Vec<Slot>> {
    tx.all(
        "SELECT starts_at, ends_at FROM appointments
         WHERE clinic_id = ?1 AND status = 'booked' AND starts_at < ?3 AND ends_at > ?2",
        args![clinic, range.start, range.end],
        |r| {
            Ok(Slot {
                start: r.ts("starts_at")?,
                end: r.ts("ends_at")?,
            })
        },
    )
}

/// Who acts, once allowed: the patient while linked to `clinic` (else
/// `NotFound`), or a member of `clinic` with [`Act::Schedule`] over the
/// patient. The second value is the name the audit log shows.
fn actor_for(
    tx: &mut dyn Tx,
    asker: Asker<'_>,
    profile: ProfileId,
    clinic: ClinicId,
    writes: bool,
) -> Result<(Actor, String)> {
    match asker {
        Asker::Patient => {
            let (account, _, name) = patient_of(tx, profile)?;
            if writes {
                patient_may_schedule(linked(tx, clinic, profile)?)
                    .map_err(|_| StoreError::not_found(format!("clinic {clinic}")))?;
            }
            Ok((
                Actor {
                    side: Side::Patient,
                    account,
                    name,
                },
                PATIENT.to_owned(),
            ))
        }
        Asker::Clinic(by) => {
            if by.clinic != clinic {
                return Err(StoreError::not_found(format!("clinic {clinic}")));
            }
            let held = held(tx, by, profile)?;
            held.check(Act::Schedule, || format!("patient {profile}"))?;
            Ok((
                Actor {
                    side: Side::Clinic,
                    account: by.account,
                    name: held.name.clone(),
                },
                held.name,
            ))
        }
    }
}

/// What a booking stores besides its slot.
struct Booking<'a> {
    id: AppointmentId,
    clinic: ClinicId,
    profile: ProfileId,
    slot: Slot,
    note: &'a str,
    conversation: Option<ConversationId>,
    proposal: Option<ProposalId>,
    replaces: Option<AppointmentId>,
    by: &'a Actor,
    at: Timestamp,
}

fn insert_booking(tx: &mut dyn Tx, b: &Booking<'_>) -> Result<Appointment> {
    let taken = Problem::Taken.to_string();
    tx.insert(
        &format!(
            "INSERT INTO appointments ({APPOINTMENT_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, 'booked', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                     NULL, NULL, NULL, NULL, NULL, NULL, 0)"
        ),
        args![
            b.clinic,
            b.profile,
            b.id,
            b.slot.start,
            b.slot.end,
            b.note,
            b.conversation,
            b.proposal,
            b.replaces,
            b.by.account,
            b.by.side.id(),
            b.by.name.as_str(),
            b.at
        ],
        // The request key is checked before, so a taken key here is the
        // slot's index (or the same request racing itself).
        || taken,
        || format!("clinic {}", b.clinic),
    )?;
    Ok(Appointment {
        id: b.id,
        clinic_id: b.clinic,
        profile_id: b.profile,
        slot: b.slot,
        status: Status::Booked,
        note: b.note.to_owned(),
        conversation_id: b.conversation,
        proposal_id: b.proposal,
        replaces: b.replaces,
        booked_by: b.by.clone(),
        booked_at: b.at,
        ended: None,
        sequence: 0,
    })
}

/// The proposals of one conversation, with their slots.
fn proposals_of(
    tx: &mut dyn Tx,
    clinic: Option<ClinicId>,
    profile: ProfileId,
    conversation: ConversationId,
    only: Option<ProposalId>,
) -> Result<Vec<Proposal>> {
    let mut sql =
        "SELECT clinic_id, profile_id, id, conversation_id, proposed_by, proposed_by_name,
                created_at, booked
         FROM appointment_proposals WHERE profile_id = ?1 AND conversation_id = ?2"
            .to_owned();
    let mut a: Vec<Value> = vec![profile.into(), conversation.into()];
    if let Some(c) = clinic {
        a.push(c.into());
        sql.push_str(&format!(" AND clinic_id = ?{}", a.len()));
    }
    if let Some(p) = only {
        a.push(p.into());
        sql.push_str(&format!(" AND id = ?{}", a.len()));
    }
    sql.push_str(" ORDER BY created_at, id");
    let mut list = tx.all(&sql, &a, |r| {
        Ok(Proposal {
            id: ProposalId(r.uuid("id")?),
            clinic_id: ClinicId(r.uuid("clinic_id")?),
            profile_id: ProfileId(r.uuid("profile_id")?),
            conversation_id: ConversationId(r.uuid("conversation_id")?),
            slots: Vec::new(),
            by: Actor {
                side: Side::Clinic,
                account: AccountId(r.uuid("proposed_by")?),
                name: r.text("proposed_by_name")?,
            },
            at: r.ts("created_at")?,
            booked: r.opt_uuid("booked")?.map(AppointmentId),
        })
    })?;
    if list.is_empty() {
        return Ok(list);
    }
    let slots = tx.all(
        "SELECT s.proposal_id AS proposal_id, s.starts_at AS starts_at, s.ends_at AS ends_at
         FROM proposed_slots s JOIN appointment_proposals ap
           ON ap.clinic_id = s.clinic_id AND ap.profile_id = s.profile_id AND ap.id = s.proposal_id
         WHERE ap.profile_id = ?1 AND ap.conversation_id = ?2
         ORDER BY s.proposal_id, s.position",
        args![profile, conversation],
        |r| {
            Ok((
                ProposalId(r.uuid("proposal_id")?),
                Slot {
                    start: r.ts("starts_at")?,
                    end: r.ts("ends_at")?,
                },
            ))
        },
    )?;
    let mut by: BTreeMap<ProposalId, Vec<Slot>> = BTreeMap::new();
    for (p, s) in slots {
        by.entry(p).or_default().push(s);
    }
    for p in &mut list {
        p.slots = by.remove(&p.id).unwrap_or_default();
    }
    Ok(list)
}

/// Queues `mail`'s emails about `news` to the patient of `profile`, in the
/// transaction of the change (none without an address).
#[allow(clippy::too_many_arguments)]
fn queue_news(
    tx: &mut dyn Tx,
    profile: ProfileId,
    clinic_name: &str,
    happened: Happened,
    appointment: &Appointment,
    new: Option<&Appointment>,
    mail: &dyn AppointmentMail,
    at: Timestamp,
) -> Result<()> {
    let Some((email, zone)) = tx.first(
        "SELECT p.time_zone AS time_zone, a.email AS email
         FROM profiles p JOIN accounts a ON a.id = p.account_id WHERE p.id = ?1",
        args![profile],
        |r| Ok((r.opt_text("email")?, r.opt_text("time_zone")?)),
    )?
    else {
        return Err(StoreError::not_found(format!("profile {profile}")));
    };
    let Some(email) = email.filter(|e| !e.trim().is_empty()) else {
        return Ok(());
    };
    let news = AppointmentNews {
        happened,
        appointment,
        new,
        clinic_name,
        patient_email: &email,
        patient_time_zone: zone.as_deref(),
        at,
    };
    for e in mail.emails(&news) {
        insert_email(
            tx,
            &Email {
                id: needlewise_core::ids::EmailId(uuid::Uuid::now_v7()),
                to: email.clone(),
                subject: e.subject,
                body: e.body,
                calendar: e.calendar,
                created_at: at,
                sent_at: None,
                attempts: 0,
                last_error: String::new(),
            },
        )?;
    }
    Ok(())
}

/// Books `slot` after the core's check, from a proposal or the clinic's
/// free slots.
#[allow(clippy::too_many_arguments)]
fn book(
    tx: &mut dyn Tx,
    profile: ProfileId,
    clinic: ClinicId,
    id: AppointmentId,
    start: Timestamp,
    proposal: Option<ProposalId>,
    note: &str,
    conversation: Option<ConversationId>,
    replaces: Option<AppointmentId>,
    by: &Actor,
    at: Timestamp,
) -> Result<Appointment> {
    let sched = schedule_of(tx, clinic)?;
    let (slot, conversation) = match proposal {
        Some(pid) => {
            let p = tx
                .first(
                    "SELECT conversation_id FROM appointment_proposals
                     WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3",
                    args![clinic, profile, pid],
                    |r| Ok(ConversationId(r.uuid("conversation_id")?)),
                )?
                .ok_or_else(|| StoreError::not_found(format!("proposal {pid}")))?;
            let found = proposals_of(tx, Some(clinic), profile, p, Some(pid))?;
            let proposal = found
                .first()
                .ok_or_else(|| StoreError::not_found(format!("proposal {pid}")))?;
            let slot = proposal
                .slots
                .iter()
                .find(|s| s.start == start)
                .copied()
                .ok_or_else(|| problem(Problem::NotOffered))?;
            proposal.offers(&slot).map_err(problem)?;
            let booked = booked_over(tx, clinic, slot)?;
            bookable(&slot, at, &booked).map_err(problem)?;
            (slot, Some(p))
        }
        None => {
            let range = Slot {
                start,
                end: start
                    .checked_add(sched.hours.slot_length())
                    .unwrap_or(Timestamp::MAX),
            };
            let booked = booked_over(tx, clinic, range)?;
            let slot = sched
                .hours
                .offer(&zone(&sched), start, at, &booked)
                .map_err(problem)?;
            (slot, conversation)
        }
    };
    let a = insert_booking(
        tx,
        &Booking {
            id,
            clinic,
            profile,
            slot,
            note,
            conversation,
            proposal,
            replaces,
            by,
            at,
        },
    )?;
    if let Some(pid) = proposal {
        tx.execute(
            "UPDATE appointment_proposals SET booked = ?4
             WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3 AND booked IS NULL",
            args![clinic, profile, pid, id],
        )?;
    }
    Ok(a)
}

impl<B: Backend> AppointmentStore for B {
    fn clinic_schedule(&self, clinic: ClinicId) -> Result<ClinicSchedule> {
        self.read(|tx| schedule_of(tx, clinic))
    }

    fn set_clinic_hours(&self, by: &ClinicAccess, hours: &Hours, at: Timestamp) -> Result<()> {
        hours.validate().map_err(|problems| {
            StoreError::invalid(
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let week = json(&hours.week)?;
        let closed = json(&hours.closed)?;
        self.write(|tx| {
            let (role, _) = member_of(tx, by)?;
            may_set_hours(role).map_err(StoreError::forbidden)?;
            tx.execute(
                "DELETE FROM clinic_hours WHERE clinic_id = ?1",
                args![by.clinic],
            )?;
            tx.execute(
                "INSERT INTO clinic_hours (clinic_id, week, slot_minutes, closed, updated_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    by.clinic.into(),
                    week.clone(),
                    hours.slot_minutes.into(),
                    closed.clone(),
                    by.account.into(),
                    at.into(),
                ],
            )?;
            Ok(())
        })
    }

    fn free_slots(
        &self,
        clinic: ClinicId,
        from: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Slot>> {
        let from = from.max(now);
        self.read(|tx| {
            let sched = schedule_of(tx, clinic)?;
            if from >= until {
                return Ok(Vec::new());
            }
            let booked = booked_over(
                tx,
                clinic,
                Slot {
                    start: from,
                    end: until,
                },
            )?;
            Ok(sched
                .hours
                .free_slots(&zone(&sched), from, until, &booked)
                .into_iter()
                .filter(|s| bookable(s, now, &[]).is_ok())
                .collect())
        })
    }

    fn book_appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        new: &NewAppointment,
        mail: &dyn AppointmentMail,
    ) -> Result<(Appointment, Posted)> {
        let note = note(&new.note).map_err(problem)?;
        self.write(|tx| {
            if let Some(found) = find(tx, profile, new.id)? {
                if found.appointment.clinic_id != new.clinic_id {
                    return Err(StoreError::conflict(format!(
                        "appointment {} already exists",
                        new.id
                    )));
                }
                actor_for(tx, asker, profile, new.clinic_id, false)?;
                return Ok((found.appointment, Posted::AlreadyStored));
            }
            let (actor, audit_name) = actor_for(tx, asker, profile, new.clinic_id, true)?;
            let a = book(
                tx,
                profile,
                new.clinic_id,
                new.id,
                new.start,
                new.proposal,
                &note,
                None,
                None,
                &actor,
                new.at,
            )?;
            audit(
                tx,
                profile,
                new.clinic_id,
                actor.account,
                &audit_name,
                "appointment_booked",
                &a.id.to_string(),
                new.at,
            )?;
            let clinic_name = schedule_of(tx, new.clinic_id)?.clinic_name;
            queue_news(
                tx,
                profile,
                &clinic_name,
                Happened::Booked,
                &a,
                None,
                mail,
                new.at,
            )?;
            Ok((a, Posted::Stored))
        })
    }

    fn change_appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        change: &Change,
        mail: &dyn AppointmentMail,
    ) -> Result<Appointment> {
        self.write(|tx| {
            let found = find(tx, profile, change.appointment)?.ok_or_else(|| {
                StoreError::not_found(format!("appointment {}", change.appointment))
            })?;
            let a = found.appointment;
            let (actor, audit_name) = actor_for(tx, asker, profile, a.clinic_id, true)?;
            // The same change sent again (the same asker, reason and
            // new appointment): answer what it stored.
            if let Some(e) = &a.ended
                && e.by.account == actor.account
                && e.by.side == actor.side
                && e.reason == change.reason.trim()
                && e.replaced_by == change.to.map(|t| t.0)
            {
                return Ok(a);
            }
            let ended = a
                .end(
                    actor.clone(),
                    change.at,
                    &change.reason,
                    change.to.map(|t| t.0),
                )
                .map_err(problem)?;
            let e = ended
                .ended
                .as_ref()
                .ok_or_else(|| StoreError::invalid("an ended appointment has its ending"))?;
            tx.execute(
                "UPDATE appointments SET status = ?4, ended_by = ?5, ended_side = ?6,
                     ended_by_name = ?7, ended_at = ?8, end_reason = ?9, replaced_by = ?10,
                     sequence = ?11
                 WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3 AND status = 'booked'",
                args![
                    a.clinic_id,
                    profile,
                    a.id,
                    ended.status.id(),
                    e.by.account,
                    e.by.side.id(),
                    e.by.name.as_str(),
                    e.at,
                    e.reason.as_str(),
                    e.replaced_by,
                    ended.sequence
                ],
            )?;
            let (action, moved) = match change.to {
                None => ("appointment_cancelled", None),
                Some((new_id, start)) => {
                    let moved = book(
                        tx,
                        profile,
                        a.clinic_id,
                        new_id,
                        start,
                        None,
                        &a.note,
                        a.conversation_id,
                        Some(a.id),
                        &actor,
                        change.at,
                    )?;
                    ("appointment_rescheduled", Some(moved))
                }
            };
            audit(
                tx,
                profile,
                a.clinic_id,
                actor.account,
                &audit_name,
                action,
                &a.id.to_string(),
                change.at,
            )?;
            queue_news(
                tx,
                profile,
                &found.clinic_name,
                if moved.is_some() {
                    Happened::Moved
                } else {
                    Happened::Cancelled
                },
                &ended,
                moved.as_ref(),
                mail,
                change.at,
            )?;
            Ok(ended)
        })
    }

    fn appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        id: AppointmentId,
        now: Timestamp,
    ) -> Result<AppointmentView> {
        self.write_at(Isolation::Snapshot, |tx| {
            let not_found = || StoreError::not_found(format!("appointment {id}"));
            let found = find(tx, profile, id)?.ok_or_else(not_found)?;
            if let Asker::Clinic(by) = asker {
                let (actor, name) =
                    actor_for(tx, asker, profile, found.appointment.clinic_id, false)
                        .map_err(|_| not_found())?;
                audit(
                    tx,
                    profile,
                    by.clinic,
                    actor.account,
                    &name,
                    "viewed_appointment",
                    &id.to_string(),
                    now,
                )?;
            }
            Ok(found)
        })
    }

    fn patient_appointments(&self, profile: ProfileId) -> Result<Vec<AppointmentView>> {
        let sql = format!(
            "{} WHERE a.profile_id = ?1 ORDER BY a.starts_at, a.id LIMIT {MAX_APPOINTMENTS_LISTED}",
            view_select()
        );
        self.read_one(|tx| tx.all(&sql, args![profile], view_from))
    }

    fn clinic_appointments(
        &self,
        by: &ClinicAccess,
        from: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<AppointmentView>> {
        let sql = format!(
            "{} JOIN clinic_patients cp ON cp.clinic_id = a.clinic_id AND cp.profile_id = a.profile_id
             WHERE a.clinic_id = ?1 AND a.starts_at >= ?2 AND a.starts_at < ?3
             ORDER BY a.starts_at, a.id LIMIT {MAX_APPOINTMENTS_LISTED}",
            view_select()
        );
        self.write_at(Isolation::Snapshot, |tx| {
            let (role, name) = member_of(tx, by)?;
            // Every row is a linked patient's: the core's rule for them.
            let grant = Grant {
                role: Some(role),
                linked: true,
                scopes: BTreeSet::new(),
            };
            if decide(&grant, Act::Schedule).is_err() {
                return Ok(Vec::new());
            }
            let list = tx.all(&sql, args![by.clinic, from, until], view_from)?;
            let profiles: Vec<ProfileId> = list
                .iter()
                .map(|v| v.appointment.profile_id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            audit_many(
                tx,
                B::DIALECT,
                &profiles,
                by,
                &name,
                "viewed_appointments",
                "",
                now,
            )?;
            Ok(list)
        })
    }

    fn patient_schedule(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        now: Timestamp,
    ) -> Result<(String, Vec<AppointmentView>)> {
        let sql = format!(
            "{} WHERE a.profile_id = ?1 AND a.clinic_id = ?2 AND a.ends_at > ?3
             ORDER BY a.starts_at, a.id LIMIT {MAX_APPOINTMENTS_LISTED}",
            view_select()
        );
        self.write_at(Isolation::Snapshot, |tx| {
            let (actor, name) = actor_for(tx, Asker::Clinic(by), profile, by.clinic, false)
                .map_err(|_| StoreError::not_found(format!("patient {profile}")))?;
            let (_, _, patient) = patient_of(tx, profile)?;
            let list = tx.all(&sql, args![profile, by.clinic, now], view_from)?;
            audit(
                tx,
                profile,
                by.clinic,
                actor.account,
                &name,
                "viewed_appointments",
                "",
                now,
            )?;
            Ok((patient, list))
        })
    }

    fn propose_slots(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        proposal: &NewProposal,
        mail: &MessageMail,
    ) -> Result<Posted> {
        check_message(&proposal.message)?;
        self.write(|tx| {
            let (found, name) = clinic_side(tx, by, profile, proposal.conversation)?;
            let c = found.conversation;
            held(tx, by, profile)?.check(Act::Schedule, || format!("patient {profile}"))?;
            if message_exists(tx, &c, proposal.message.id)?
                || tx.exists(
                    "SELECT 1 FROM appointment_proposals WHERE clinic_id = ?1 AND profile_id = ?2 AND id = ?3",
                    args![by.clinic, profile, proposal.id],
                )?
            {
                return Ok(Posted::AlreadyStored);
            }
            let at = proposal.message.at;
            let sched = schedule_of(tx, by.clinic)?;
            let range = Slot {
                start: proposal
                    .slots
                    .iter()
                    .map(|s| s.start)
                    .min()
                    .unwrap_or(at),
                end: proposal.slots.iter().map(|s| s.end).max().unwrap_or(at),
            };
            let booked = booked_over(tx, by.clinic, range)?;
            let free = sched
                .hours
                .free_slots(&zone(&sched), range.start, range.end, &booked);
            let slots = check_proposal(&proposal.slots, &free, at).map_err(problem)?;
            insert_message(tx, &c, Side::Clinic, by.account, &name, &proposal.message)?;
            tx.insert(
                "INSERT INTO appointment_proposals (clinic_id, profile_id, id, conversation_id,
                     message_id, proposed_by, proposed_by_name, created_at, booked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)",
                args![
                    by.clinic,
                    profile,
                    proposal.id,
                    c.id,
                    proposal.message.id,
                    by.account,
                    name.as_str(),
                    at
                ],
                || format!("proposal {} already exists", proposal.id),
                || format!("conversation {}", c.id),
            )?;
            for (i, s) in slots.iter().enumerate() {
                tx.execute(
                    "INSERT INTO proposed_slots (clinic_id, profile_id, proposal_id, position, starts_at, ends_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    args![by.clinic, profile, proposal.id, i as i64, s.start, s.end],
                )?;
            }
            audit(
                tx,
                profile,
                by.clinic,
                by.account,
                &name,
                "slots_proposed",
                &c.id.to_string(),
                at,
            )?;
            let (_, email, _) = patient_of(tx, profile)?;
            for e in emails(email, mail, at) {
                insert_email(tx, &e)?;
            }
            Ok(Posted::Stored)
        })
    }

    fn proposals(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<Vec<Proposal>> {
        self.write_at(Isolation::Snapshot, |tx| match asker {
            Asker::Patient => proposals_of(tx, None, profile, conversation, None),
            Asker::Clinic(by) => {
                let (_, name) = clinic_side(tx, by, profile, conversation)?;
                let list = proposals_of(tx, Some(by.clinic), profile, conversation, None)?;
                audit(
                    tx,
                    profile,
                    by.clinic,
                    by.account,
                    &name,
                    "viewed_proposals",
                    &conversation.to_string(),
                    now,
                )?;
                Ok(list)
            }
        })
    }
}
