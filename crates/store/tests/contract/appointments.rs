//! Appointments: the clinic's hours and free slots, booking, cancelling
//! and rescheduling from both sides (the core's `Act::Schedule`), slots
//! proposed in a conversation, the audit log, double booking refused by
//! the database, deletion and snapshots. Every case runs on both backends
//! (names in `contract_tests!`).

use needlewise_core::appointment::{Hours, Opening};

/// Every day 09:00–12:00 in the clinic's zone, half-hour slots.
pub fn mornings() -> Hours {
    let o = Opening {
        start: jiff::civil::time(9, 0, 0, 0),
        end: jiff::civil::time(12, 0, 0, 0),
    };
    Hours {
        week: std::array::from_fn(|_| vec![o]),
        slot_minutes: 30,
        closed: Default::default(),
    }
}

/// A confirmation with a calendar part for each booking, so the outbox's
/// calendar columns travel through copies, backups and checksums.
struct Confirmation;

impl needlewise_store::appointment::AppointmentMail for Confirmation {
    fn emails(
        &self,
        n: &needlewise_store::appointment::AppointmentNews<'_>,
    ) -> Vec<needlewise_store::appointment::AppointmentEmail> {
        vec![needlewise_store::appointment::AppointmentEmail {
            subject: format!("Booked at {}", n.clinic_name),
            body: "Your appointment is booked.".into(),
            calendar: Some(needlewise_store::clinic::CalendarPart {
                method: needlewise_store::clinic::CalendarMethod::Request,
                text: format!(
                    "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nUID:{}\r\nEND:VCALENDAR\r\n",
                    n.appointment.id
                ),
            }),
        }]
    }
}

/// Hours for the practice and a booked appointment for each patient (the
/// first also moves one), and a proposal in the first conversation of
/// each patient but the first (so, as with `fill_conversations`, no email
/// goes to the first patient's address: the others' bookings queue a
/// confirmation with its calendar part).
pub fn fill_appointments(
    store: &dyn needlewise_store::Store,
    p: &crate::clinic::Practice,
    patients: &[needlewise_core::ids::ProfileId],
) {
    use needlewise_core::ids::AppointmentId;
    use needlewise_store::appointment::{Asker, Change, NewAppointment, NoMail};

    use crate::cases::{at, id};
    store.set_clinic_hours(&p.by, &mornings(), at(0)).unwrap();
    let free = store
        .free_slots(p.clinic.id, at(0), at(60 * 24 * 7), at(0))
        .unwrap();
    for (i, who) in patients.iter().enumerate() {
        let new = NewAppointment {
            id: AppointmentId(id()),
            clinic_id: p.clinic.id,
            start: free[2 * i].start,
            proposal: None,
            note: format!("note {i}"),
            at: at(1),
        };
        let mail: &dyn needlewise_store::appointment::AppointmentMail =
            if i == 0 { &NoMail } else { &Confirmation };
        store
            .book_appointment(Asker::Patient, *who, &new, mail)
            .unwrap();
        if i == 0 {
            store
                .change_appointment(
                    Asker::Clinic(&p.by),
                    *who,
                    &Change {
                        appointment: new.id,
                        reason: "The surgeon is away".into(),
                        to: Some((AppointmentId(id()), free[2 * patients.len()].start)),
                        at: at(2),
                    },
                    &NoMail,
                )
                .unwrap();
        }
        let convs = store.patient_conversations(*who).unwrap();
        if let Some(c) = convs.first().filter(|_| i > 0) {
            store
                .propose_slots(
                    &p.by,
                    *who,
                    &needlewise_store::appointment::NewProposal {
                        id: needlewise_core::ids::ProposalId(id()),
                        conversation: c.conversation.id,
                        slots: vec![free[2 * patients.len() + 2 + i]],
                        message: crate::conversations::cases::message(3, "How about this time?"),
                    },
                    &crate::conversations::cases::mail("patient"),
                )
                .unwrap();
        }
    }
}

pub mod cases {
    use jiff::{SignedDuration, Timestamp};
    use needlewise_core::appointment::{Hours, Problem, Slot, Status};
    use needlewise_core::clinic::{Role, Scope};
    use needlewise_core::conversation::Side;
    use needlewise_core::ids::{AppointmentId, ClinicId, ProfileId, ProposalId};
    use needlewise_core::records::Account;
    use needlewise_store::appointment::{
        AppointmentEmail, AppointmentMail, AppointmentNews, Asker, Change, Happened,
        NewAppointment, NewProposal, NoMail,
    };
    use needlewise_store::clinic::{CalendarMethod, CalendarPart};
    use needlewise_store::conversation::Posted;
    use needlewise_store::{Store, StoreError};

    use super::mornings;
    use crate::cases::{account, at, id, profile_in};
    use crate::clinic::{join, member, practice};
    use crate::conversations::cases::{general, mail, message};

    fn patient(store: &dyn Store, name: &str) -> (Account, ProfileId) {
        let a = account(
            store,
            &format!("{}.{}@example.org", name.to_lowercase(), id().simple()),
        );
        let p = profile_in(store, a.id, name);
        (a, p.id)
    }

    fn actions(store: &dyn Store, profile: ProfileId) -> Vec<(String, String)> {
        let mut a: Vec<(String, String)> = store
            .audit_log(profile, 100)
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.actor_name))
            .collect();
        a.reverse();
        a
    }

    fn week(store: &dyn Store, clinic: ClinicId) -> Vec<Slot> {
        store
            .free_slots(clinic, at(0), at(60 * 24 * 7), at(0))
            .unwrap()
    }

    fn new(clinic: ClinicId, start: Timestamp, minutes: i64) -> NewAppointment {
        NewAppointment {
            id: AppointmentId(id()),
            clinic_id: clinic,
            start,
            proposal: None,
            note: "First visit".into(),
            at: at(minutes),
        }
    }

    fn conflict(e: StoreError) -> String {
        match e {
            StoreError::Conflict { what } => what,
            e => panic!("expected a conflict, got {e:?}"),
        }
    }

    pub fn clinic_hours_are_set_by_members_and_make_the_free_slots(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        let s = store.clinic_schedule(p.clinic.id).unwrap();
        assert!(!s.set);
        assert_eq!(s.hours, Hours::default());
        assert_eq!(s.time_zone, "UTC");
        assert!(week(store, p.clinic.id).is_empty(), "no hours, no slots");

        // Front-desk staff set the hours; an outsider cannot.
        let desk = member(store, &p, Role::Staff, "Desk", 1);
        let mut bad = mornings();
        bad.slot_minutes = 5;
        match store.set_clinic_hours(&desk, &bad, at(2)) {
            Err(StoreError::Invalid { what }) => {
                assert!(what.contains("slot length of 15 to 120 minutes"), "{what}")
            }
            other => panic!("{other:?}"),
        }
        let outsider = practice(store, "Elsewhere");
        let stranger = needlewise_store::clinic::ClinicAccess {
            clinic: p.clinic.id,
            account: outsider.doctor.id,
        };
        assert!(matches!(
            store.set_clinic_hours(&stranger, &mornings(), at(2)),
            Err(StoreError::NotFound { .. })
        ));
        let mut hours = mornings();
        let closed = at(60 * 24)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        hours.closed.insert(closed);
        store.set_clinic_hours(&desk, &hours, at(3)).unwrap();
        let s = store.clinic_schedule(p.clinic.id).unwrap();
        assert!(s.set);
        assert_eq!(s.hours, hours);

        // at(0) is 15:06 UTC: the mornings of the next seven days but the
        // closed one.
        let free = week(store, p.clinic.id);
        assert_eq!(free.len(), 6 * 6);
        assert!(free.iter().all(|s| s.start > at(0)));
        assert!(
            free.iter()
                .all(|s| s.start.to_zoned_datetime(jiff::tz::TimeZone::UTC).date() != closed)
        );
        assert_eq!(
            free[0].end.duration_since(free[0].start),
            SignedDuration::from_mins(30)
        );
        // Setting again replaces.
        store.set_clinic_hours(&p.by, &mornings(), at(4)).unwrap();
        assert_eq!(week(store, p.clinic.id).len(), 7 * 6);
    }

    pub fn a_patient_books_cancels_and_reschedules_with_the_clinic_seeing_it(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        store.set_clinic_hours(&p.by, &mornings(), at(0)).unwrap();
        let (_, ada) = patient(store, "Ada");
        let free = week(store, p.clinic.id);

        // Not yet the clinic's patient: the clinic is not Ada's to book.
        let first = new(p.clinic.id, free[0].start, 5);
        assert!(matches!(
            store.book_appointment(Asker::Patient, ada, &first, &NoMail),
            Err(StoreError::NotFound { .. })
        ));
        join(store, &p.by, ada, &Default::default(), 6);
        let (a, posted) = store
            .book_appointment(Asker::Patient, ada, &first, &NoMail)
            .unwrap();
        assert_eq!(posted, Posted::Stored);
        assert_eq!(a.slot, free[0]);
        assert_eq!(a.status, Status::Booked);
        assert_eq!(a.booked_by.side, Side::Patient);
        assert_eq!(a.booked_by.name, "Ada");
        assert_eq!(a.note, "First visit");
        // The same request again stores nothing.
        let (again, posted) = store
            .book_appointment(Asker::Patient, ada, &first, &NoMail)
            .unwrap();
        assert_eq!((again, posted), (a.clone(), Posted::AlreadyStored));
        assert!(!week(store, p.clinic.id).contains(&free[0]));

        // A time the clinic does not offer, or one that has passed.
        let off = new(
            p.clinic.id,
            free[0].start + SignedDuration::from_mins(10),
            7,
        );
        match store.book_appointment(Asker::Patient, ada, &off, &NoMail) {
            Err(StoreError::Invalid { what }) => assert_eq!(what, Problem::NotOffered.to_string()),
            other => panic!("{other:?}"),
        }
        let late = new(p.clinic.id, free[1].start, 60 * 24 * 8);
        match store.book_appointment(Asker::Patient, ada, &late, &NoMail) {
            Err(StoreError::Invalid { what }) => assert_eq!(what, Problem::Past.to_string()),
            other => panic!("{other:?}"),
        }

        // The clinic's list, staff included; each view is audited.
        let desk = member(store, &p, Role::Staff, "Desk", 8);
        let list = store
            .clinic_appointments(&desk, at(0), at(60 * 24 * 7), at(9))
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].patient_name, "Ada");
        assert_eq!(list[0].clinic_name, "Lakeside");
        let one = store
            .appointment(Asker::Clinic(&desk), ada, a.id, at(9))
            .unwrap();
        assert_eq!(one.appointment, a);

        // Ada moves it; then the clinic cancels the new one.
        let moved_to = AppointmentId(id());
        let missing_reason = Change {
            appointment: a.id,
            reason: " ".into(),
            to: Some((moved_to, free[3].start)),
            at: at(10),
        };
        match store.change_appointment(Asker::Patient, ada, &missing_reason, &NoMail) {
            Err(StoreError::Invalid { what }) => {
                assert_eq!(what, Problem::ReasonMissing.to_string())
            }
            other => panic!("{other:?}"),
        }
        let mv = Change {
            reason: "A later time suits me".into(),
            ..missing_reason
        };
        let old = store
            .change_appointment(Asker::Patient, ada, &mv, &NoMail)
            .unwrap();
        assert_eq!(old.status, Status::Rescheduled);
        assert_eq!(old.sequence, 1);
        let ending = old.ended.clone().unwrap();
        assert_eq!(ending.replaced_by, Some(moved_to));
        assert_eq!(ending.by.side, Side::Patient);
        // The same change again answers the stored one.
        assert_eq!(
            store
                .change_appointment(Asker::Patient, ada, &mv, &NoMail)
                .unwrap(),
            old
        );
        let mine = store.patient_appointments(ada).unwrap();
        assert_eq!(mine.len(), 2);
        let new_one = mine.iter().find(|v| v.appointment.id == moved_to).unwrap();
        assert_eq!(new_one.appointment.slot, free[3]);
        assert_eq!(new_one.appointment.replaces, Some(a.id));
        assert_eq!(new_one.appointment.note, "First visit");
        assert!(
            week(store, p.clinic.id).contains(&free[0]),
            "the old slot is free again"
        );

        let cancel = Change {
            appointment: moved_to,
            reason: "The surgeon is away that day".into(),
            to: None,
            at: at(11),
        };
        let cancelled = store
            .change_appointment(Asker::Clinic(&desk), ada, &cancel, &NoMail)
            .unwrap();
        assert_eq!(cancelled.status, Status::Cancelled);
        assert_eq!(cancelled.ended.as_ref().unwrap().by.name, "Desk");
        match store.change_appointment(
            Asker::Clinic(&p.by),
            ada,
            &Change {
                at: at(12),
                ..cancel.clone()
            },
            &NoMail,
        ) {
            Err(StoreError::Invalid { what }) => {
                assert_eq!(what, Problem::AlreadyEnded(Status::Cancelled).to_string())
            }
            other => panic!("{other:?}"),
        }

        let log = actions(store, ada);
        let expect = [
            ("appointment_booked", "you"),
            ("viewed_appointments", "Desk"),
            ("viewed_appointment", "Desk"),
            ("appointment_rescheduled", "you"),
            ("appointment_cancelled", "Desk"),
        ];
        let found: Vec<(&str, &str)> = log
            .iter()
            .filter(|(a, _)| a.contains("appointment"))
            .map(|(a, n)| (a.as_str(), n.as_str()))
            .collect();
        assert_eq!(found, expect);

        // After leaving the clinic Ada still reads her appointments, but
        // neither side books any more and the clinic sees none.
        store.leave_clinic(ada, p.clinic.id, at(13)).unwrap();
        assert_eq!(store.patient_appointments(ada).unwrap().len(), 2);
        assert!(matches!(
            store.book_appointment(
                Asker::Patient,
                ada,
                &new(p.clinic.id, free[5].start, 14),
                &NoMail
            ),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.book_appointment(
                Asker::Clinic(&p.by),
                ada,
                &new(p.clinic.id, free[5].start, 14),
                &NoMail
            ),
            Err(StoreError::NotFound { .. })
        ));
        assert!(
            store
                .clinic_appointments(&p.by, at(0), at(60 * 24 * 7), at(14))
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            store.appointment(Asker::Clinic(&p.by), ada, a.id, at(14)),
            Err(StoreError::NotFound { .. })
        ));
    }

    /// Writes what it is told, so a test sees the facts the store gave it;
    /// `broken` writes an empty calendar part, which the outbox refuses.
    struct Recorder {
        broken: bool,
    }

    impl AppointmentMail for Recorder {
        fn emails(&self, n: &AppointmentNews<'_>) -> Vec<AppointmentEmail> {
            let part = |a: &needlewise_core::appointment::Appointment, method| CalendarPart {
                method,
                text: if self.broken {
                    String::new()
                } else {
                    format!("{} {}", a.id, a.sequence)
                },
            };
            let method = match n.happened {
                Happened::Booked => CalendarMethod::Request,
                Happened::Cancelled | Happened::Moved => CalendarMethod::Cancel,
            };
            let reason = n.appointment.ended.as_ref().map(|e| e.reason.as_str());
            let mut out = vec![AppointmentEmail {
                subject: format!("{:?} at {}", n.happened, n.clinic_name),
                body: format!(
                    "to {} in {:?} at {}; reason: {reason:?}",
                    n.patient_email, n.patient_time_zone, n.at
                ),
                calendar: Some(part(n.appointment, method)),
            }];
            if let Some(new) = n.new {
                out.push(AppointmentEmail {
                    subject: format!("Booked at {}", n.clinic_name),
                    body: String::new(),
                    calendar: Some(part(new, CalendarMethod::Request)),
                });
            }
            out
        }
    }

    /// The unsent emails to `to`, oldest first.
    fn outbox(store: &dyn Store, to: &str) -> Vec<needlewise_store::clinic::Email> {
        let mut list: Vec<_> = store
            .emails(1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.to == to)
            .collect();
        list.sort_by_key(|e| (e.created_at, e.id));
        list
    }

    /// Every booking, cancellation and move queues the patient's emails
    /// (with their calendar parts) in its own transaction, from the facts
    /// the store read in it; a refused change queues none, and an email the
    /// outbox refuses takes the change with it.
    pub fn appointment_emails_are_queued_with_the_change(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        store.set_clinic_hours(&p.by, &mornings(), at(0)).unwrap();
        let (ada_account, ada) = patient(store, "Ada");
        let (bea_account, bea) = patient(store, "Bea");
        store
            .set_profile_time_zone(ada, Some("America/New_York"))
            .unwrap();
        join(store, &p.by, ada, &Default::default(), 1);
        join(store, &p.by, bea, &Default::default(), 2);
        let free = week(store, p.clinic.id);
        let told = Recorder { broken: false };
        let ada_to = ada_account.email.clone();

        // Booked by the patient: one email, a REQUEST, with the facts.
        let first = new(p.clinic.id, free[0].start, 5);
        let (a, _) = store
            .book_appointment(Asker::Patient, ada, &first, &told)
            .unwrap();
        let queued = outbox(store, &ada_to);
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].subject, "Booked at Lakeside");
        assert_eq!(
            queued[0].body,
            format!(
                "to {ada_to} in Some(\"America/New_York\") at {}; reason: None",
                at(5)
            )
        );
        assert_eq!(queued[0].created_at, at(5));
        assert_eq!(
            queued[0].calendar,
            Some(CalendarPart {
                method: CalendarMethod::Request,
                text: format!("{} 0", a.id)
            })
        );
        // The same request again queues nothing more.
        store
            .book_appointment(Asker::Patient, ada, &first, &told)
            .unwrap();
        assert_eq!(outbox(store, &ada_to).len(), 1);

        // A slot taken: refused, nothing queued for Bea, by her or the clinic.
        for asker in [Asker::Patient, Asker::Clinic(&p.by)] {
            let e = store
                .book_appointment(asker, bea, &new(p.clinic.id, free[0].start, 6), &told)
                .unwrap_err();
            assert_eq!(conflict(e), Problem::Taken.to_string());
        }
        assert_eq!(outbox(store, &bea_account.email), vec![]);

        // Booked by the clinic for Bea: her confirmation.
        let (b, _) = store
            .book_appointment(
                Asker::Clinic(&p.by),
                bea,
                &new(p.clinic.id, free[1].start, 7),
                &told,
            )
            .unwrap();
        let to_bea = outbox(store, &bea_account.email);
        assert_eq!(to_bea.len(), 1);
        assert!(to_bea[0].body.contains("in None"), "{}", to_bea[0].body);

        // A move to a taken slot, or without a reason: nothing changes,
        // nothing is queued.
        let taken = Change {
            appointment: a.id,
            reason: "Work".into(),
            to: Some((AppointmentId(id()), free[1].start)),
            at: at(8),
        };
        let no_reason = Change {
            appointment: a.id,
            reason: " ".into(),
            to: None,
            at: at(8),
        };
        for (asker, change) in [(Asker::Patient, &taken), (Asker::Clinic(&p.by), &no_reason)] {
            assert!(store.change_appointment(asker, ada, change, &told).is_err());
        }
        assert_eq!(outbox(store, &ada_to).len(), 1);
        assert_eq!(
            store
                .appointment(Asker::Patient, ada, a.id, at(8))
                .unwrap()
                .appointment
                .status,
            Status::Booked
        );

        // Moved by the patient: a CANCEL of the old one (its SEQUENCE one
        // more), then a REQUEST of the new one, with the reason.
        let moved_to = AppointmentId(id());
        let mv = Change {
            appointment: a.id,
            reason: "Work".into(),
            to: Some((moved_to, free[2].start)),
            at: at(9),
        };
        store
            .change_appointment(Asker::Patient, ada, &mv, &told)
            .unwrap();
        let queued = outbox(store, &ada_to);
        assert_eq!(queued.len(), 3);
        assert_eq!(queued[1].subject, "Moved at Lakeside");
        assert!(
            queued[1].body.ends_with("reason: Some(\"Work\")"),
            "{}",
            queued[1].body
        );
        assert_eq!(
            queued[1].calendar,
            Some(CalendarPart {
                method: CalendarMethod::Cancel,
                text: format!("{} 1", a.id)
            })
        );
        assert_eq!(
            queued[2].calendar,
            Some(CalendarPart {
                method: CalendarMethod::Request,
                text: format!("{moved_to} 0")
            })
        );
        assert!(queued[1].id < queued[2].id, "the CANCEL goes first");
        // The same move again queues nothing more.
        store
            .change_appointment(Asker::Patient, ada, &mv, &told)
            .unwrap();
        assert_eq!(outbox(store, &ada_to).len(), 3);

        // Cancelled by the clinic: a CANCEL with the clinic's reason.
        let cancel = Change {
            appointment: moved_to,
            reason: "The surgeon is away".into(),
            to: None,
            at: at(10),
        };
        store
            .change_appointment(Asker::Clinic(&p.by), ada, &cancel, &told)
            .unwrap();
        let queued = outbox(store, &ada_to);
        assert_eq!(queued.len(), 4);
        assert_eq!(queued[3].subject, "Cancelled at Lakeside");
        assert!(
            queued[3]
                .body
                .ends_with("reason: Some(\"The surgeon is away\")")
        );
        assert_eq!(
            queued[3].calendar.as_ref().map(|c| c.method),
            Some(CalendarMethod::Cancel)
        );

        // An email the outbox refuses (an empty calendar part) takes the
        // change with it: nothing booked, cancelled or queued.
        let broken = Recorder { broken: true };
        let before = store.checksums().unwrap();
        assert!(
            store
                .book_appointment(
                    Asker::Patient,
                    ada,
                    &new(p.clinic.id, free[3].start, 11),
                    &broken
                )
                .is_err()
        );
        assert!(
            store
                .change_appointment(
                    Asker::Clinic(&p.by),
                    bea,
                    &Change {
                        appointment: b.id,
                        reason: "Closed".into(),
                        to: None,
                        at: at(11),
                    },
                    &broken,
                )
                .is_err()
        );
        assert_eq!(store.checksums().unwrap(), before);

        // A patient without an address (the command line's) gets none.
        let local = crate::cases::profile(store, "Cy");
        join(store, &p.by, local.id, &Default::default(), 12);
        let outbox_before = store.emails(1000).unwrap().len();
        store
            .book_appointment(
                Asker::Patient,
                local.id,
                &new(p.clinic.id, free[4].start, 13),
                &told,
            )
            .unwrap();
        assert_eq!(store.emails(1000).unwrap().len(), outbox_before);
    }

    /// A member booking for a patient reads the patient's name and coming
    /// appointments at the clinic, logged; nobody else reads them.
    pub fn a_member_reads_a_patients_schedule_to_book_for_them(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        store.set_clinic_hours(&p.by, &mornings(), at(0)).unwrap();
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &Default::default(), 1);
        let free = week(store, p.clinic.id);
        let (a, _) = store
            .book_appointment(
                Asker::Patient,
                ada,
                &new(p.clinic.id, free[0].start, 2),
                &NoMail,
            )
            .unwrap();
        let desk = member(store, &p, Role::Staff, "Desk", 3);
        let (name, list) = store.patient_schedule(&desk, ada, at(3)).unwrap();
        assert_eq!(name, "Ada");
        assert_eq!(
            list.iter().map(|v| v.appointment.id).collect::<Vec<_>>(),
            vec![a.id]
        );
        // Once it has ended, it is no longer shown.
        let (_, later) = store.patient_schedule(&p.by, ada, free[0].end).unwrap();
        assert!(later.is_empty());
        assert_eq!(
            actions(store, ada)
                .into_iter()
                .filter(|(a, _)| a == "viewed_appointments")
                .map(|(_, who)| who)
                .collect::<Vec<_>>(),
            vec!["Desk".to_owned(), "Dr Lakeside".to_owned()]
        );
        // Not linked, or another clinic: not found, nothing logged.
        let other = practice(store, "Elsewhere");
        for (by, who) in [(&p.by, bea), (&other.by, ada)] {
            assert!(matches!(
                store.patient_schedule(by, who, at(4)),
                Err(StoreError::NotFound { .. })
            ));
        }
        assert!(actions(store, bea).is_empty());
    }

    pub fn one_slot_is_booked_once(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        store.set_clinic_hours(&p.by, &mornings(), at(0)).unwrap();
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &Default::default(), 1);
        join(store, &p.by, bea, &Default::default(), 2);
        let free = week(store, p.clinic.id);
        store
            .book_appointment(
                Asker::Patient,
                ada,
                &new(p.clinic.id, free[0].start, 3),
                &NoMail,
            )
            .unwrap();
        let e = store
            .book_appointment(
                Asker::Patient,
                bea,
                &new(p.clinic.id, free[0].start, 4),
                &NoMail,
            )
            .unwrap_err();
        assert_eq!(
            conflict(e),
            "Someone has just booked that time. Choose another one."
        );
        // A clinician booking for Bea meets the same refusal.
        let e = store
            .book_appointment(
                Asker::Clinic(&p.by),
                bea,
                &new(p.clinic.id, free[0].start, 4),
                &NoMail,
            )
            .unwrap_err();
        assert_eq!(conflict(e), Problem::Taken.to_string());
        // Another clinic's member books nothing here.
        let other = practice(store, "Elsewhere");
        assert!(matches!(
            store.book_appointment(
                Asker::Clinic(&other.by),
                bea,
                &new(p.clinic.id, free[1].start, 5),
                &NoMail
            ),
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(store.patient_appointments(bea).unwrap().len(), 0);
    }

    pub fn slots_proposed_in_a_conversation_are_booked_once(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        store.set_clinic_hours(&p.by, &mornings(), at(0)).unwrap();
        let (ada_account, ada) = patient(store, "Ada");
        join(
            store,
            &p.by,
            ada,
            &[Scope::Checkins].into_iter().collect(),
            1,
        );
        let conv = general(p.clinic.id, false);
        store
            .start_conversation(ada, &conv, &message(2, "Can I come in?"), &mail("clinic"))
            .unwrap();
        let free = week(store, p.clinic.id);
        let proposal = NewProposal {
            id: ProposalId(id()),
            conversation: conv.id,
            slots: vec![free[4], free[1]],
            message: message(3, "Would one of these suit you?"),
        };
        // Staff cannot answer a conversation Ada did not share with them.
        let desk = member(store, &p, Role::Staff, "Desk", 2);
        assert!(matches!(
            store.propose_slots(&desk, ada, &proposal, &mail("patient")),
            Err(StoreError::NotFound { .. })
        ));
        let too_many = NewProposal {
            slots: free[..4].to_vec(),
            ..proposal.clone()
        };
        match store.propose_slots(&p.by, ada, &too_many, &mail("patient")) {
            Err(StoreError::Invalid { what }) => {
                assert_eq!(what, Problem::TooManySlots.to_string())
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store
                .propose_slots(&p.by, ada, &proposal, &mail("patient"))
                .unwrap(),
            Posted::Stored
        );
        assert_eq!(
            store
                .propose_slots(&p.by, ada, &proposal, &mail("patient"))
                .unwrap(),
            Posted::AlreadyStored
        );
        let emails: Vec<_> = store
            .emails(100)
            .unwrap()
            .into_iter()
            .filter(|e| e.to == ada_account.email)
            .collect();
        assert_eq!(emails.len(), 1);

        let seen = store
            .proposals(Asker::Patient, ada, conv.id, at(4))
            .unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].slots, vec![free[1], free[4]], "in time order");
        assert_eq!(seen[0].by.name, "Dr Lakeside");
        assert_eq!(seen[0].booked, None);
        let thread = store
            .patient_conversation(ada, conv.id, at(4))
            .unwrap()
            .unwrap();
        assert_eq!(
            thread.messages.last().unwrap().body,
            "Would one of these suit you?"
        );

        // Ada books the second slot from the proposal.
        let from_proposal = NewAppointment {
            proposal: Some(proposal.id),
            ..new(p.clinic.id, free[4].start, 5)
        };
        let (a, _) = store
            .book_appointment(Asker::Patient, ada, &from_proposal, &NoMail)
            .unwrap();
        assert_eq!(a.proposal_id, Some(proposal.id));
        assert_eq!(a.conversation_id, Some(conv.id));
        let seen = store
            .proposals(Asker::Clinic(&p.by), ada, conv.id, at(6))
            .unwrap();
        assert_eq!(seen[0].booked, Some(a.id));
        // The proposal is used: its other slot is not Ada's to book from it.
        let again = NewAppointment {
            proposal: Some(proposal.id),
            ..new(p.clinic.id, free[1].start, 7)
        };
        match store.book_appointment(Asker::Patient, ada, &again, &NoMail) {
            Err(StoreError::Invalid { what }) => {
                assert_eq!(what, Problem::ProposalUsed.to_string())
            }
            other => panic!("{other:?}"),
        }
        let log = actions(store, ada);
        assert!(log.contains(&("slots_proposed".into(), "Dr Lakeside".into())));
        assert!(log.contains(&("viewed_proposals".into(), "Dr Lakeside".into())));
    }

    pub fn appointments_go_with_the_profile_and_survive_a_snapshot(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &Default::default(), 1);
        join(store, &p.by, bea, &Default::default(), 2);
        for who in [ada, bea] {
            store
                .start_conversation(
                    who,
                    &general(p.clinic.id, false),
                    &message(2, "hi"),
                    &mail("clinic"),
                )
                .unwrap();
        }
        super::fill_appointments(store, &p, &[ada, bea]);
        let snap = store.snapshot().unwrap();
        for t in [
            "clinic_hours",
            "appointments",
            "appointment_proposals",
            "proposed_slots",
        ] {
            assert!(!snap.table(t).unwrap().rows.is_empty(), "{t}");
        }
        store
            .restore_snapshot(&snap, needlewise_store::RestoreMode::Replace)
            .unwrap();
        assert_eq!(store.snapshot().unwrap(), snap);
        assert_eq!(store.patient_appointments(ada).unwrap().len(), 2);

        store.delete_profile(ada).unwrap();
        let snap = store.snapshot().unwrap();
        let ada_text = ada.to_string();
        for t in ["appointments", "appointment_proposals", "proposed_slots"] {
            assert!(
                snap.table(t)
                    .unwrap()
                    .rows
                    .iter()
                    .all(|r| r[1].as_text() != Some(ada_text.as_str())),
                "{t}"
            );
        }
        assert_eq!(store.patient_appointments(bea).unwrap().len(), 1);
    }

    /// The "export everything" archive holds the profile's appointments
    /// (JSON with the clinic's name, a CSV line each, an `Appointment` in
    /// the FHIR Bundle, a moved one `cancelled` with its reason) and the
    /// times the clinic offered in its conversations.
    pub fn the_export_archive_holds_appointments_and_proposals(store: &dyn Store) {
        use std::io::Read;

        let p = practice(store, "Lakeside");
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &Default::default(), 1);
        join(store, &p.by, bea, &Default::default(), 2);
        for who in [ada, bea] {
            store
                .start_conversation(
                    who,
                    &general(p.clinic.id, false),
                    &message(2, "hi"),
                    &mail("clinic"),
                )
                .unwrap();
        }
        super::fill_appointments(store, &p, &[ada, bea]);
        let profiles = [
            store.profile(ada).unwrap().unwrap(),
            store.profile(bea).unwrap().unwrap(),
        ];
        let (out, summary) = needlewise_store::export::write_archive(
            store,
            &profiles,
            None,
            at(10),
            std::io::Cursor::new(Vec::new()),
            &mut |_, _| {},
        )
        .unwrap();
        // Ada's moved one and its replacement, and Bea's.
        assert_eq!(summary.appointments, 3);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(out.into_inner())).unwrap();
        let mut read = |p: &needlewise_core::records::Profile, name: &str| {
            let dir = needlewise_store::export::folder_name(p);
            let mut text = String::new();
            zip.by_name(&format!("{dir}/{name}"))
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        };

        let doc: serde_json::Value =
            serde_json::from_str(&read(&profiles[0], "profile.json")).unwrap();
        let list = doc["appointments"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{doc}");
        let moved = list.iter().find(|a| a["status"] == "rescheduled").unwrap();
        let booked = list.iter().find(|a| a["status"] == "booked").unwrap();
        assert_eq!(moved["clinic"], "Lakeside");
        assert_eq!(moved["note"], "note 0");
        assert_eq!(moved["ended"]["reason"], "The surgeon is away");
        assert_eq!(moved["ended"]["replaced_by"], booked["id"]);
        assert_eq!(booked["replaces"], moved["id"]);
        // Ada's conversation had no times offered; Bea's had one.
        assert_eq!(doc["appointment_proposals"], serde_json::json!([]));
        let bea_doc: serde_json::Value =
            serde_json::from_str(&read(&profiles[1], "profile.json")).unwrap();
        let offered = bea_doc["appointment_proposals"].as_array().unwrap();
        assert_eq!(offered.len(), 1, "{bea_doc}");
        assert_eq!(offered[0]["slots"].as_array().unwrap().len(), 1);
        assert_eq!(offered[0]["by"]["name"], "Dr Lakeside");
        assert_eq!(bea_doc["appointments"].as_array().unwrap().len(), 1);

        let csv = read(&profiles[0], "appointments.csv");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "id,clinic,start,end,status,note,booked_by,booked_at,ended_by,ended_at,reason,replaces,replaced_by"
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 2, "{csv}");
        let moved_id = moved["id"].as_str().unwrap();
        let booked_id = booked["id"].as_str().unwrap();
        let moved_row = rows.iter().find(|r| r.starts_with(moved_id)).unwrap();
        assert!(
            moved_row.contains(",rescheduled,note 0,you,"),
            "{moved_row}"
        );
        assert!(moved_row.contains(",Dr Lakeside,"), "{moved_row}");
        assert!(moved_row.contains(",The surgeon is away,"), "{moved_row}");
        assert!(moved_row.ends_with(booked_id), "{moved_row}");

        let bundle: serde_json::Value =
            serde_json::from_str(&read(&profiles[0], "fhir-bundle.json")).unwrap();
        let fhir: Vec<&serde_json::Value> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == "Appointment")
            .collect();
        assert_eq!(fhir.len(), 2);
        let by_id = |id: &str| *fhir.iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(by_id(booked_id)["status"], "booked");
        assert_eq!(by_id(moved_id)["status"], "cancelled");
        assert!(
            by_id(moved_id)["cancelationReason"]["text"]
                .as_str()
                .unwrap()
                .contains("The surgeon is away")
        );
        assert_eq!(by_id(booked_id)["description"], "Appointment at Lakeside");
    }
}
