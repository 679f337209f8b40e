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
