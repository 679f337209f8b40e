//! Conversations between a patient and their clinic: starting, answering,
//! read markers and unread counts, who of the clinic may read which
//! (the core's `Act::Converse`), origin cards, message photos, the audit
//! log, the emails queued with each message, deletion and snapshots.
//! Every case runs on both backends (names in `contract_tests!`).

/// A conversation for each patient of `p` (who must be its patients),
/// each with a photo; the clinic answers all but the first (so no email
/// goes to the first patient's address).
pub fn fill_conversations(
    store: &dyn needlewise_store::Store,
    p: &crate::clinic::Practice,
    patients: &[needlewise_core::ids::ProfileId],
) {
    use cases::{general, mail, message, photo};
    for (i, who) in patients.iter().enumerate() {
        let new = general(p.clinic.id, i % 2 == 1);
        let mut first = message(750, "hello");
        first.photos = vec![photo(first.id, 0, *who)];
        store
            .start_conversation(*who, &new, &first, &mail("clinic"))
            .unwrap();
        if i > 0 {
            store
                .post_clinic_message(&p.by, *who, new.id, &message(751, "hi"), &mail("patient"))
                .unwrap();
        }
    }
    // A canned reply.
    store
        .save_canned_reply(
            &p.by,
            needlewise_core::ids::CannedReplyId(crate::cases::id()),
            "Aftercare",
            "Keep the skin clean and use only the products we agreed.",
            crate::cases::at(749),
        )
        .unwrap();
    // A red-flag conversation of the first patient, its first ladder step
    // claimed.
    let (new, _) = cases::red_flag_conversation(store, patients[0], p.clinic.id, 752);
    assert!(
        store
            .escalate_conversation_step(
                &needlewise_store::conversation::ConversationClaim {
                    clinic: p.clinic.id,
                    profile: patients[0],
                    conversation: new.id,
                    step: 0,
                    at: crate::cases::at(753),
                },
                &[],
                &[],
            )
            .unwrap()
    );
}

pub mod cases {
    use needlewise_core::clinic::Role;
    use needlewise_core::conversation::{MessagePhoto, OriginCard, Side};
    use needlewise_core::evidence;
    use needlewise_core::ids::{ConversationId, MessageId, MessagePhotoId, ProfileId};
    use needlewise_core::records::Account;
    use needlewise_core::triage::TriageLevel;
    use needlewise_store::conversation::{MessageMail, NewConversation, NewMessage, Posted};
    use needlewise_store::{Store, StoreError};

    use crate::cases::{account, at, checkin, episode, id, profile_in};
    use crate::clinic::{all_scopes, join, member, practice};

    pub fn mail(to_side: &str) -> MessageMail {
        MessageMail {
            subject: format!("needlewise: a new message for the {to_side}"),
            body: "You have a new message. Log in to read it.".to_owned(),
        }
    }

    pub fn message(minutes: i64, body: &str) -> NewMessage {
        NewMessage {
            id: MessageId(id()),
            body: body.to_owned(),
            photos: Vec::new(),
            at: at(minutes),
        }
    }

    pub fn general(clinic: needlewise_core::ids::ClinicId, shared: bool) -> NewConversation {
        NewConversation {
            id: ConversationId(id()),
            clinic_id: clinic,
            subject: "A question about my next session".to_owned(),
            origin: None,
            shared_with_staff: shared,
        }
    }

    pub fn photo(message: MessageId, position: u32, profile: ProfileId) -> MessagePhoto {
        let pid = MessagePhotoId(id());
        MessagePhoto {
            id: pid,
            message_id: message,
            position,
            width: 640,
            height: 480,
            bytes: 12_345,
            sha256: "ab".repeat(32),
            stored_name: format!("{profile}/{pid}.jpg"),
        }
    }

    /// A check-in of `profile` that opened a red flag at `minutes`, and a
    /// conversation started from it with the clinic (not stored yet).
    pub fn red_flag_conversation(
        store: &dyn Store,
        profile: ProfileId,
        clinic: needlewise_core::ids::ClinicId,
        minutes: i64,
    ) -> (NewConversation, needlewise_core::ids::EpisodeId) {
        let c = checkin(profile, None, minutes, TriageLevel::UrgentCare);
        let e = episode(&c);
        store.save_checkin(&c, Some(&e)).unwrap();
        let card = OriginCard::of(evidence::evidence(), &c, Some(&e)).unwrap();
        let new = NewConversation {
            origin: Some(card),
            subject: "Send this to my surgeon".to_owned(),
            ..general(clinic, false)
        };
        store
            .start_conversation(
                profile,
                &new,
                &message(minutes, "pus since this morning"),
                &mail("clinic"),
            )
            .unwrap();
        (new, e.id)
    }

    /// The escalation worker sees a red-flag conversation while the clinic
    /// has not answered it and the patient is linked; each step is claimed
    /// once, with its notifications and emails; the clinic's first answer
    /// ends it (no claim written after) and logs who advised what, when.
    pub fn an_unanswered_red_flag_conversation_is_claimed_once_until_answered(store: &dyn Store) {
        use needlewise_core::ids::{EmailId, NotificationId};
        use needlewise_store::clinic::{Email, Notification};
        use needlewise_store::conversation::ConversationClaim;

        let p = practice(store, "Lakeside");
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &all_scopes(), 1);
        join(store, &p.by, bea, &all_scopes(), 1);
        // A conversation that is not from a red flag never climbs.
        store
            .start_conversation(
                bea,
                &general(p.clinic.id, false),
                &message(5, "hi"),
                &mail("clinic"),
            )
            .unwrap();
        assert!(store.unanswered_red_flags().unwrap().is_empty());
        let (new, episode) = red_flag_conversation(store, ada, p.clinic.id, 10);
        let open = store.unanswered_red_flags().unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].conversation_id, new.id);
        assert_eq!(open[0].episode_id, episode);
        assert_eq!(open[0].profile_id, ada);
        assert_eq!(open[0].clinic.id, p.clinic.id);
        assert_eq!(open[0].since, at(10));
        assert!(open[0].sent_steps.is_empty());

        let claim = |step: usize, minutes: i64| ConversationClaim {
            clinic: p.clinic.id,
            profile: ada,
            conversation: new.id,
            step,
            at: at(minutes),
        };
        let note = || Notification {
            id: NotificationId(id()),
            account_id: p.doctor.id,
            clinic_id: Some(p.clinic.id),
            profile_id: Some(ada),
            kind: "red_flag_message".into(),
            title: "A patient asks about a warning sign".into(),
            body: "Please answer.".into(),
            link: "/clinic/messages".into(),
            created_at: at(11),
            read_at: None,
        };
        let email = || Email {
            id: EmailId(id()),
            to: p.doctor.email.clone(),
            subject: "needlewise: a question about a warning sign".into(),
            body: "Please log in.".into(),
            calendar: None,
            created_at: at(11),
            sent_at: None,
            attempts: 0,
            last_error: String::new(),
        };
        let before = store.emails(1000).unwrap().len();
        assert!(
            store
                .escalate_conversation_step(&claim(0, 11), &[note()], &[email()])
                .unwrap()
        );
        // The same step again (another instance): nothing written.
        assert!(
            !store
                .escalate_conversation_step(&claim(0, 11), &[note()], &[email()])
                .unwrap()
        );
        assert_eq!(store.notifications(p.doctor.id, 10).unwrap().len(), 1);
        assert_eq!(store.emails(1000).unwrap().len(), before + 1);
        let open = store.unanswered_red_flags().unwrap();
        assert_eq!(open[0].sent_steps, [0].into_iter().collect());

        // The patient writing again changes nothing; the clinic's answer
        // ends it.
        store
            .post_patient_message(ada, new.id, &message(12, "worse now"), &mail("clinic"))
            .unwrap();
        assert_eq!(store.unanswered_red_flags().unwrap().len(), 1);
        let answer = message(13, "Please come in now.");
        store
            .post_clinic_message(&p.by, ada, new.id, &answer, &mail("patient"))
            .unwrap();
        assert!(store.unanswered_red_flags().unwrap().is_empty());
        assert!(
            !store
                .escalate_conversation_step(&claim(1, 300), &[note()], &[email()])
                .unwrap()
        );
        assert_eq!(store.notifications(p.doctor.id, 10).unwrap().len(), 1);
        // The patient's new message and the answer queued one each.
        assert_eq!(store.emails(1000).unwrap().len(), before + 3);
        let advised: Vec<_> = store
            .audit_log(ada, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "advised_on_red_flag")
            .collect();
        assert_eq!(advised.len(), 1);
        assert_eq!(advised[0].actor, p.doctor.id);
        assert_eq!(advised[0].at, at(13));
        assert!(advised[0].detail.contains(&answer.id.to_string()));
        assert!(advised[0].detail.contains(&episode.to_string()));
        // A second answer is not advice on the flag again.
        store
            .post_clinic_message(
                &p.by,
                ada,
                new.id,
                &message(14, "And rest."),
                &mail("patient"),
            )
            .unwrap();
        assert_eq!(
            store
                .audit_log(ada, 100)
                .unwrap()
                .iter()
                .filter(|e| e.action == "advised_on_red_flag")
                .count(),
            1
        );

        // A patient who left the clinic: nobody there is told.
        let (_, cy) = patient(store, "Cy");
        join(store, &p.by, cy, &all_scopes(), 1);
        let (left, _) = red_flag_conversation(store, cy, p.clinic.id, 20);
        store.leave_clinic(cy, p.clinic.id, at(21)).unwrap();
        assert!(store.unanswered_red_flags().unwrap().is_empty());
        assert!(
            !store
                .escalate_conversation_step(
                    &ConversationClaim {
                        profile: cy,
                        conversation: left.id,
                        ..claim(0, 22)
                    },
                    &[],
                    &[]
                )
                .unwrap()
        );
    }

    /// A clinic's canned replies: every member lists them, only clinicians
    /// add, change and delete them; another clinic never sees them; titles
    /// and texts follow the text rules; a clinic keeps at most 100.
    pub fn canned_replies_are_the_clinics_and_only_clinicians_write_them(store: &dyn Store) {
        use needlewise_core::ids::CannedReplyId;
        let p = practice(store, "Lakeside");
        let other = practice(store, "Hillside");
        let front = member(store, &p, Role::Staff, "Front", 1);
        assert!(store.canned_replies(&p.by).unwrap().is_empty());
        let aftercare = CannedReplyId(id());
        store
            .save_canned_reply(
                &p.by,
                aftercare,
                "  Aftercare ",
                "Keep it clean.\nNo make-up for a day.",
                at(5),
            )
            .unwrap();
        let come_in = CannedReplyId(id());
        store
            .save_canned_reply(&p.by, come_in, "Come in", "Please come in today.", at(6))
            .unwrap();
        let list = store.canned_replies(&p.by).unwrap();
        assert_eq!(
            list.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(),
            vec!["Aftercare", "Come in"]
        );
        assert_eq!(list[0].body, "Keep it clean.\nNo make-up for a day.");
        assert_eq!(list[0].updated_by, p.doctor.id);
        assert_eq!(list[0].updated_at, at(5));
        assert_eq!(list[0].clinic_id, p.clinic.id);
        // Staff read them, and may not write or delete one.
        assert_eq!(store.canned_replies(&front).unwrap(), list);
        assert!(matches!(
            store.save_canned_reply(&front, aftercare, "Mine", "changed", at(7)),
            Err(StoreError::Forbidden { .. })
        ));
        assert!(matches!(
            store.save_canned_reply(&front, CannedReplyId(id()), "New", "text", at(7)),
            Err(StoreError::Forbidden { .. })
        ));
        assert!(matches!(
            store.delete_canned_reply(&front, come_in),
            Err(StoreError::Forbidden { .. })
        ));
        assert_eq!(store.canned_replies(&p.by).unwrap(), list);
        // Another clinic sees none of them and changes none.
        assert!(store.canned_replies(&other.by).unwrap().is_empty());
        store
            .save_canned_reply(&other.by, aftercare, "Theirs", "text", at(8))
            .unwrap();
        assert_eq!(store.canned_replies(&p.by).unwrap(), list);
        assert!(!store.delete_canned_reply(&other.by, come_in).unwrap());
        // A stranger is no member.
        let stranger = needlewise_store::clinic::ClinicAccess {
            clinic: p.clinic.id,
            account: other.doctor.id,
        };
        assert!(matches!(
            store.canned_replies(&stranger),
            Err(StoreError::NotFound { .. })
        ));
        // A clinician changes one; bad titles and texts are refused.
        store
            .save_canned_reply(&p.by, aftercare, "Aftercare", "Keep it clean.", at(9))
            .unwrap();
        assert_eq!(
            store.canned_replies(&p.by).unwrap()[0].body,
            "Keep it clean."
        );
        for (title, body) in [
            ("", "x"),
            ("a\nb", "x"),
            ("ok", "   "),
            ("ok", &"x".repeat(4001)),
        ] {
            assert!(
                matches!(
                    store.save_canned_reply(&p.by, CannedReplyId(id()), title, body, at(10)),
                    Err(StoreError::Invalid { .. })
                ),
                "{title:?} {body:?}"
            );
        }
        assert!(store.delete_canned_reply(&p.by, come_in).unwrap());
        assert!(!store.delete_canned_reply(&p.by, come_in).unwrap());
        assert_eq!(store.canned_replies(&p.by).unwrap().len(), 1);
        for i in 0..99 {
            store
                .save_canned_reply(&p.by, CannedReplyId(id()), &format!("r{i}"), "x", at(11))
                .unwrap();
        }
        assert!(matches!(
            store.save_canned_reply(&p.by, CannedReplyId(id()), "one too many", "x", at(12)),
            Err(StoreError::Invalid { .. })
        ));
        // Changing one at the limit is still fine.
        store
            .save_canned_reply(&p.by, aftercare, "Aftercare", "Clean.", at(12))
            .unwrap();
    }

    /// A patient with an account (so emails reach them) of their own.
    fn patient(store: &dyn Store, name: &str) -> (Account, ProfileId) {
        let a = account(
            store,
            &format!("{}.{}@example.org", name.to_lowercase(), id().simple()),
        );
        let p = profile_in(store, a.id, name);
        (a, p.id)
    }

    fn emails_to(store: &dyn Store, to: &str) -> Vec<needlewise_store::clinic::Email> {
        store
            .emails(1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.to == to)
            .collect()
    }

    fn actions(store: &dyn Store, profile: ProfileId) -> Vec<String> {
        let mut a: Vec<String> = store
            .audit_log(profile, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        a.reverse();
        a
    }

    /// The inbox holds at most `MAX_LISTED` conversations, chosen in the
    /// inbox's own order: an old red-flag conversation that awaits the
    /// clinic is first even behind more newer ones than the limit. A view
    /// of the inbox is logged once per patient in the list-view window, and
    /// a conversation viewed with nothing new keeps its read marker.
    pub fn the_inbox_limit_keeps_a_waiting_red_flag_first_and_views_log_once(store: &dyn Store) {
        use needlewise_store::conversation::MAX_LISTED;

        let p = practice(store, "Lakeside");
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &all_scopes(), 1);
        join(store, &p.by, bea, &Default::default(), 1);
        let (urgent, _) = red_flag_conversation(store, ada, p.clinic.id, 10);
        let newer = i64::from(MAX_LISTED) + 1;
        for i in 0..newer {
            store
                .start_conversation(
                    bea,
                    &general(p.clinic.id, false),
                    &message(20 + i, "hello"),
                    &mail("clinic"),
                )
                .unwrap();
        }
        let now = 20 + newer + 5;
        let inbox = store.clinic_inbox(&p.by, None, at(now)).unwrap();
        assert_eq!(inbox.len(), MAX_LISTED as usize);
        assert_eq!(inbox[0].conversation.id, urgent.id);
        // Then newest first: the oldest of Bea's is the one left out.
        assert_eq!(inbox[1].conversation.last_message_at, at(20 + newer - 1));
        assert!(
            inbox
                .iter()
                .all(|s| s.conversation.last_message_at != at(20))
        );
        // A page is a slice of the same order.
        let ids = |l: &[needlewise_store::conversation::ConversationSummary]| {
            l.iter().map(|s| s.conversation.id).collect::<Vec<_>>()
        };
        let page = store.clinic_inbox_page(&p.by, None, 1, 3, at(now)).unwrap();
        assert_eq!(ids(&page), ids(&inbox[1..4]));
        let last = store
            .clinic_inbox_page(&p.by, None, MAX_LISTED, 10, at(now))
            .unwrap();
        assert_eq!(last.len(), 2, "the two beyond the full inbox's limit");
        assert_eq!(last[1].conversation.last_message_at, at(20));

        let views = |who| {
            store
                .audit_log(who, 10_000)
                .unwrap()
                .into_iter()
                .filter(|e| e.action == "viewed_inbox")
                .count()
        };
        assert_eq!((views(ada), views(bea)), (1, 1));
        store.clinic_inbox(&p.by, None, at(now + 1)).unwrap();
        assert_eq!((views(ada), views(bea)), (1, 1), "within the window");
        store.clinic_inbox(&p.by, None, at(now + 16)).unwrap();
        assert_eq!((views(ada), views(bea)), (2, 2), "after the window");

        // Read markers: the clinic opens Ada's conversation (new to it),
        // then again with nothing new; the marker stays at the first view.
        let t = store
            .clinic_conversation(&p.by, ada, urgent.id, at(now + 20))
            .unwrap();
        assert_eq!(t.summary.conversation.clinic_read_at, Some(at(now + 20)));
        let t = store
            .clinic_conversation(&p.by, ada, urgent.id, at(now + 30))
            .unwrap();
        assert_eq!(t.summary.conversation.clinic_read_at, Some(at(now + 20)));
        assert!(!t.summary.conversation.unread_by(Side::Clinic));
        // A new message from Ada is unread until the next view.
        store
            .post_patient_message(
                ada,
                urgent.id,
                &message(now + 40, "still there"),
                &mail("clinic"),
            )
            .unwrap();
        assert_eq!(store.clinic_unread(&p.by).unwrap(), 1 + newer as u32);
        let t = store
            .clinic_conversation(&p.by, ada, urgent.id, at(now + 50))
            .unwrap();
        assert_eq!(t.summary.conversation.clinic_read_at, Some(at(now + 50)));
        assert_eq!(store.clinic_unread(&p.by).unwrap(), newer as u32);
    }

    pub fn a_conversation_is_started_answered_and_read_on_both_sides(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        let (ada_account, ada) = patient(store, "Ada");
        join(store, &p.by, ada, &Default::default(), 1);
        let new = general(p.clinic.id, false);
        let first = message(10, "Is a little redness on day two normal?\nThanks");
        assert_eq!(
            store
                .start_conversation(ada, &new, &first, &mail("clinic"))
                .unwrap(),
            Posted::Stored
        );
        // The same request again stores nothing and queues nothing.
        assert_eq!(
            store
                .start_conversation(ada, &new, &first, &mail("clinic"))
                .unwrap(),
            Posted::AlreadyStored
        );
        let to_doctor = emails_to(store, &p.doctor.email);
        assert_eq!(to_doctor.len(), 1, "{to_doctor:?}");
        assert!(!to_doctor[0].body.contains("redness"));
        assert!(!to_doctor[0].subject.contains("redness"));

        assert_eq!(store.clinic_unread(&p.by).unwrap(), 1);
        assert_eq!(store.patient_unread(ada).unwrap(), 0);
        let inbox = store.clinic_inbox(&p.by, None, at(11)).unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].patient_name, "Ada");
        assert_eq!(inbox[0].clinic_name, "Lakeside");
        assert!(inbox[0].conversation.unread_by(Side::Clinic));

        let thread = store
            .clinic_conversation(&p.by, ada, new.id, at(12))
            .unwrap();
        assert_eq!(thread.messages.len(), 1);
        assert_eq!(
            thread.messages[0].body,
            "Is a little redness on day two normal?\nThanks"
        );
        assert_eq!(thread.messages[0].side, Side::Patient);
        assert_eq!(thread.messages[0].author, ada_account.id);
        assert_eq!(thread.messages[0].author_name, "Ada");
        assert!(!thread.summary.conversation.unread_by(Side::Clinic));
        assert_eq!(store.clinic_unread(&p.by).unwrap(), 0);

        let reply = message(20, "Yes, that is expected for 48 hours.");
        assert_eq!(
            store
                .post_clinic_message(&p.by, ada, new.id, &reply, &mail("patient"))
                .unwrap(),
            Posted::Stored
        );
        assert_eq!(
            store
                .post_clinic_message(&p.by, ada, new.id, &reply, &mail("patient"))
                .unwrap(),
            Posted::AlreadyStored
        );
        let to_ada = emails_to(store, &ada_account.email);
        assert_eq!(to_ada.len(), 1);
        assert!(!to_ada[0].body.contains("48 hours"));
        assert_eq!(store.patient_unread(ada).unwrap(), 1);
        assert_eq!(store.clinic_unread(&p.by).unwrap(), 0);

        let list = store.patient_conversations(ada).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].conversation.last_side, Side::Clinic);
        assert_eq!(list[0].conversation.last_message_at, at(20));
        let mine = store
            .patient_conversation(ada, new.id, at(21))
            .unwrap()
            .unwrap();
        assert_eq!(
            mine.messages.iter().map(|m| m.side).collect::<Vec<_>>(),
            vec![Side::Patient, Side::Clinic]
        );
        assert_eq!(mine.messages[1].author_name, "Dr Lakeside");
        assert_eq!(store.patient_unread(ada).unwrap(), 0);

        let more = message(30, "Thank you!");
        store
            .post_patient_message(ada, new.id, &more, &mail("clinic"))
            .unwrap();
        assert_eq!(store.clinic_unread(&p.by).unwrap(), 1);
        assert_eq!(emails_to(store, &p.doctor.email).len(), 2);

        assert_eq!(
            actions(store, ada)
                .into_iter()
                .filter(|a| a != "joined")
                .collect::<Vec<_>>(),
            vec![
                "conversation_started",
                "viewed_inbox",
                "viewed_conversation",
                "replied",
                "message_sent"
            ]
        );
    }

    pub fn who_of_the_clinic_reads_a_conversation_is_the_core_rule(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        let front = member(store, &p, Role::Staff, "Front", 1);
        let other = practice(store, "Elsewhere");
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &all_scopes(), 1);
        join(store, &other.by, bea, &all_scopes(), 1);

        let unshared = general(p.clinic.id, false);
        store
            .start_conversation(ada, &unshared, &message(10, "private"), &mail("clinic"))
            .unwrap();
        let shared = general(p.clinic.id, true);
        store
            .start_conversation(ada, &shared, &message(11, "about billing"), &mail("clinic"))
            .unwrap();
        let c = checkin(ada, None, 5, TriageLevel::ContactSurgeon);
        let e = episode(&c);
        store.save_checkin(&c, Some(&e)).unwrap();
        let card = OriginCard::of(evidence::evidence(), &c, Some(&e)).unwrap();
        let clinical = NewConversation {
            origin: Some(card),
            ..general(p.clinic.id, false)
        };
        store
            .start_conversation(
                ada,
                &clinical,
                &message(12, "see my check-in"),
                &mail("clinic"),
            )
            .unwrap();

        // The front desk: the shared one only; the clinical one forbidden,
        // the unshared one hidden.
        let staff_inbox = store.clinic_inbox(&front, None, at(20)).unwrap();
        assert_eq!(
            staff_inbox
                .iter()
                .map(|s| s.conversation.id)
                .collect::<Vec<_>>(),
            vec![shared.id]
        );
        assert_eq!(store.clinic_unread(&front).unwrap(), 1);
        assert!(
            store
                .clinic_conversation(&front, ada, shared.id, at(21))
                .is_ok()
        );
        store
            .post_clinic_message(
                &front,
                ada,
                shared.id,
                &message(22, "We will call."),
                &mail("patient"),
            )
            .unwrap();
        assert!(matches!(
            store.clinic_conversation(&front, ada, clinical.id, at(21)),
            Err(StoreError::Forbidden { .. })
        ));
        assert!(matches!(
            store.post_clinic_message(
                &front,
                ada,
                clinical.id,
                &message(23, "x"),
                &mail("patient")
            ),
            Err(StoreError::Forbidden { .. })
        ));
        assert!(matches!(
            store.clinic_conversation(&front, ada, unshared.id, at(21)),
            Err(StoreError::NotFound { .. })
        ));
        // Emails: staff heard of the shared one only.
        let staff_email = store.account(front.account).unwrap().unwrap().email;
        assert_eq!(emails_to(store, &staff_email).len(), 1);
        assert_eq!(emails_to(store, &p.doctor.email).len(), 3);

        // The clinician: all three, the red flag awaiting an answer first.
        let inbox = store.clinic_inbox(&p.by, None, at(30)).unwrap();
        assert_eq!(inbox.len(), 3);
        assert_eq!(inbox[0].conversation.id, clinical.id);
        assert!(inbox[0].conversation.from_red_flag());
        assert_eq!(
            store.clinic_inbox(&p.by, Some(bea), at(30)).unwrap(),
            vec![]
        );

        // Another clinic's clinician, and a patient of another clinic.
        assert!(matches!(
            store.clinic_conversation(&other.by, ada, unshared.id, at(31)),
            Err(StoreError::NotFound { .. })
        ));
        assert!(
            store
                .clinic_inbox(&other.by, None, at(31))
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            store.start_conversation(
                bea,
                &general(p.clinic.id, false),
                &message(32, "hi"),
                &mail("clinic")
            ),
            Err(StoreError::NotFound { .. })
        ));
        assert!(
            store
                .patient_conversation(bea, unshared.id, at(33))
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            store.post_patient_message(bea, unshared.id, &message(33, "hi"), &mail("clinic")),
            Err(StoreError::NotFound { .. })
        ));

        // After leaving: the patient still reads, nobody writes, the clinic
        // sees nothing.
        store.leave_clinic(ada, p.clinic.id, at(40)).unwrap();
        assert!(store.clinic_inbox(&p.by, None, at(41)).unwrap().is_empty());
        assert_eq!(store.clinic_unread(&p.by).unwrap(), 0);
        assert!(matches!(
            store.clinic_conversation(&p.by, ada, unshared.id, at(41)),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.post_patient_message(ada, unshared.id, &message(42, "hello?"), &mail("clinic")),
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(store.patient_conversations(ada).unwrap().len(), 3);
    }

    pub fn an_origin_card_is_the_profiles_own_and_clinicians_only(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &Default::default(), 1);
        join(store, &p.by, bea, &Default::default(), 1);
        let c = checkin(bea, None, 5, TriageLevel::Watch);
        store.save_checkin(&c, None).unwrap();
        let card = OriginCard::of(evidence::evidence(), &c, None).unwrap();
        assert!(!card.answers.is_empty());
        assert_eq!(card.level, "watch");
        // Bea's check-in on Ada's conversation.
        let stolen = NewConversation {
            origin: Some(card.clone()),
            ..general(p.clinic.id, false)
        };
        assert!(matches!(
            store.start_conversation(ada, &stolen, &message(10, "x"), &mail("clinic")),
            Err(StoreError::Invalid { .. })
        ));
        let shared = NewConversation {
            origin: Some(card.clone()),
            ..general(p.clinic.id, true)
        };
        assert!(matches!(
            store.start_conversation(bea, &shared, &message(10, "x"), &mail("clinic")),
            Err(StoreError::Invalid { .. })
        ));
        let empty = NewConversation {
            subject: "  ".into(),
            ..general(p.clinic.id, false)
        };
        assert!(matches!(
            store.start_conversation(bea, &empty, &message(10, "x"), &mail("clinic")),
            Err(StoreError::Invalid { .. })
        ));
        assert!(store.patient_conversations(ada).unwrap().is_empty());
        assert!(store.patient_conversations(bea).unwrap().is_empty());
        let own = NewConversation {
            origin: Some(card.clone()),
            ..general(p.clinic.id, false)
        };
        store
            .start_conversation(bea, &own, &message(10, "see the card"), &mail("clinic"))
            .unwrap();
        let thread = store
            .clinic_conversation(&p.by, bea, own.id, at(11))
            .unwrap();
        assert_eq!(thread.summary.conversation.origin, Some(card));
        assert!(!thread.summary.conversation.from_red_flag());
    }

    pub fn message_photos_are_kept_with_their_message_for_the_two_sides(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        let front = member(store, &p, Role::Staff, "Front", 1);
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &Default::default(), 1);
        let new = general(p.clinic.id, false);
        let mut first = message(10, "");
        first.photos = (0..4).map(|i| photo(first.id, i, ada)).collect();
        let mut five = message(10, "");
        five.photos = (0..5).map(|i| photo(five.id, i, ada)).collect();
        assert!(matches!(
            store.start_conversation(ada, &new, &five, &mail("clinic")),
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store.start_conversation(ada, &new, &message(10, " "), &mail("clinic")),
            Err(StoreError::Invalid { .. })
        ));
        store
            .start_conversation(ada, &new, &first, &mail("clinic"))
            .unwrap();
        let thread = store
            .patient_conversation(ada, new.id, at(11))
            .unwrap()
            .unwrap();
        assert_eq!(thread.messages[0].photos, first.photos);
        let one = first.photos[2].id;
        assert_eq!(
            store.patient_message_photo(ada, one).unwrap(),
            Some(first.photos[2].clone())
        );
        assert_eq!(store.patient_message_photo(bea, one).unwrap(), None);
        assert_eq!(
            store.clinic_message_photo(&p.by, ada, one, at(12)).unwrap(),
            first.photos[2]
        );
        assert!(matches!(
            store.clinic_message_photo(&front, ada, one, at(12)),
            Err(StoreError::NotFound { .. })
        ));
        assert!(actions(store, ada).contains(&"viewed_message_photo".to_owned()));
    }

    pub fn conversations_go_with_the_profile_and_survive_a_snapshot(store: &dyn Store) {
        let p = practice(store, "Lakeside");
        let (_, ada) = patient(store, "Ada");
        let (_, bea) = patient(store, "Bea");
        join(store, &p.by, ada, &Default::default(), 1);
        join(store, &p.by, bea, &Default::default(), 1);
        for who in [ada, bea] {
            let new = general(p.clinic.id, false);
            let mut first = message(10, "hello");
            first.photos = vec![photo(first.id, 0, who)];
            store
                .start_conversation(who, &new, &first, &mail("clinic"))
                .unwrap();
            store
                .post_clinic_message(&p.by, who, new.id, &message(11, "hi"), &mail("patient"))
                .unwrap();
        }
        let before = store.checksums().unwrap();
        for t in ["conversations", "messages", "message_photos"] {
            assert!(before.get(t).unwrap().rows > 0, "{t} is empty");
        }
        let snap = store.snapshot().unwrap();
        let read = |s: &dyn Store| {
            let list = s.patient_conversations(ada).unwrap();
            let thread = s
                .patient_conversation(ada, list[0].conversation.id, at(12))
                .unwrap();
            (list, thread)
        };
        let typed = read(store);
        store
            .restore_snapshot(&snap, needlewise_store::RestoreMode::Replace)
            .unwrap();
        assert_eq!(store.checksums().unwrap(), before);
        assert_eq!(read(store), typed);

        store.delete_profile(ada).unwrap();
        assert!(store.patient_conversations(ada).unwrap().is_empty());
        let left = store.clinic_inbox(&p.by, None, at(20)).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].conversation.profile_id, bea);
        assert_eq!(
            store
                .checksums()
                .unwrap()
                .get("message_photos")
                .unwrap()
                .rows,
            1
        );
    }
}
