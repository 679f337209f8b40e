//! The clinic side of the store contract: clinics and members, invites
//! and consent, authorization inside the store (membership, role, scope),
//! the audit log, protocols and overrides, patient status, notifications,
//! escalation claims, the email outbox, second factors, shared rate
//! limits, deletion, and snapshots. Every case runs on both backends (the
//! names are in `contract_tests!`).

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use needlewise_core::clinic::{
    Clinic, Ladder, Member, Override, Protocol, Role, Scope, Step, Target,
};
use needlewise_core::ids::{
    AccountId, ClinicId, EmailId, EpisodeId, NotificationId, OverrideId, PhotoId, ProfileId,
    ProtocolId,
};
use needlewise_core::progress::Photo;
use needlewise_core::records::Account;
use needlewise_core::screening::Verdict;
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_store::clinic::{
    ClinicAccess, Email, EscalationClaim, Invite, MailStatus, MemberInvite, Notification,
    TotpSecret,
};
use needlewise_store::snapshot::RestoreMode;
use needlewise_store::{ClinicWebSession, Store, StoreError};

use crate::cases::{
    account, at, checkin, episode, id, profile, profile_in, screening, session, token_hash,
    web_session,
};

/// Claims a ladder step without messages (`ClinicStore::escalate_step`).
trait ClaimStep {
    fn escalate_step_alone(
        &self,
        clinic: ClinicId,
        profile: ProfileId,
        episode: EpisodeId,
        step: usize,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
}

impl ClaimStep for dyn Store + '_ {
    fn escalate_step_alone(
        &self,
        clinic: ClinicId,
        profile: ProfileId,
        episode: EpisodeId,
        step: usize,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let claim = EscalationClaim {
            clinic,
            profile,
            episode,
            step,
            at,
        };
        self.escalate_step(&claim, &[], &[])
    }
}

/// A clinic with its founding clinician.
pub struct Practice {
    pub clinic: Clinic,
    pub doctor: Account,
    pub by: ClinicAccess,
}

pub fn practice(store: &dyn Store, name: &str) -> Practice {
    let doctor = account(
        store,
        &format!(
            "dr.{}@{}.example.org",
            &id().simple().to_string()[20..],
            name.to_lowercase()
        ),
    );
    let clinic = Clinic {
        id: ClinicId(id()),
        name: name.to_owned(),
        time_zone: "UTC".to_owned(),
        ladder: Ladder::default(),
        created_at: at(0),
    };
    let founder = Member {
        clinic_id: clinic.id,
        account_id: doctor.id,
        role: Role::Clinician,
        display_name: format!("Dr {name}"),
        joined_at: at(0),
    };
    store.create_clinic(&clinic, &founder).unwrap();
    Practice {
        by: ClinicAccess {
            clinic: clinic.id,
            account: doctor.id,
        },
        clinic,
        doctor,
    }
}

/// Adds a member with `role`; returns their access.
pub fn member(
    store: &dyn Store,
    p: &Practice,
    role: Role,
    name: &str,
    minutes: i64,
) -> ClinicAccess {
    let a = account(
        store,
        &format!(
            "{}.{}@example.org",
            name.to_lowercase(),
            &id().simple().to_string()[20..]
        ),
    );
    store
        .add_member(
            &p.by,
            &Member {
                clinic_id: p.clinic.id,
                account_id: a.id,
                role,
                display_name: name.to_owned(),
                joined_at: at(minutes),
            },
        )
        .unwrap();
    ClinicAccess {
        clinic: p.clinic.id,
        account: a.id,
    }
}

pub fn invite(by: &ClinicAccess, minutes: i64) -> Invite {
    Invite {
        clinic_id: by.clinic,
        code_hash: token_hash(),
        label: "a new patient".to_owned(),
        created_by: by.account,
        created_at: at(minutes),
        expires_at: at(minutes + 24 * 60),
        used_by: None,
        used_at: None,
    }
}

/// A team invitation for `email` from `by`, open for a day.
pub fn member_invite(by: &ClinicAccess, email: &str, role: Role, minutes: i64) -> MemberInvite {
    MemberInvite {
        clinic_id: by.clinic,
        code_hash: token_hash(),
        email: email.to_owned(),
        role,
        display_name: "Dr Newcomer".to_owned(),
        created_by: by.account,
        created_at: at(minutes),
        expires_at: at(minutes + 24 * 60),
        used_by: None,
        used_at: None,
    }
}

pub fn scopes(list: &[Scope]) -> BTreeSet<Scope> {
    list.iter().copied().collect()
}

pub fn all_scopes() -> BTreeSet<Scope> {
    Scope::ALL.into_iter().collect()
}

/// Invites `profile` and redeems the invite with `granted` at `minutes`.
pub fn join(
    store: &dyn Store,
    by: &ClinicAccess,
    profile: ProfileId,
    granted: &BTreeSet<Scope>,
    minutes: i64,
) {
    let inv = invite(by, minutes);
    store.create_invite(by, &inv).unwrap();
    assert_eq!(
        store
            .redeem_invite(&inv.code_hash, profile, granted, at(minutes))
            .unwrap(),
        by.clinic
    );
}

pub fn protocol(p: &Practice, profile: ProfileId, interval_days: u32, minutes: i64) -> Protocol {
    Protocol {
        id: ProtocolId(id()),
        clinic_id: p.clinic.id,
        profile_id: profile,
        needle_length_mm: 0.25,
        zones: [Zone::Forehead, Zone::LeftCheek].into_iter().collect(),
        interval_days,
        course_sessions: 6,
        target_density_per_cm2: 100.0,
        note: "Gentle pressure on the forehead.".to_owned(),
        prescribed_by: p.doctor.id,
        prescriber_name: format!("Dr {}", p.clinic.name),
        prescribed_at: at(minutes),
    }
}

pub fn an_override(p: &Practice, profile: ProfileId, rule: &str, minutes: i64) -> Override {
    Override {
        id: OverrideId(id()),
        clinic_id: p.clinic.id,
        profile_id: profile,
        rule_id: rule.to_owned(),
        by: p.doctor.id,
        by_name: format!("Dr {}", p.clinic.name),
        at: at(minutes),
        reason: "Low-dose isotretinoin stopped; see the 2017 consensus.".to_owned(),
    }
}

pub fn photo(store: &dyn Store, profile: ProfileId, minutes: i64) -> Photo {
    let pid = PhotoId(id());
    let p = Photo {
        profile_id: profile,
        id: pid,
        taken_at: at(minutes),
        zone: Some(Zone::Forehead),
        width: 640,
        height: 480,
        bytes: 1234,
        sha256: "ab".repeat(32),
        content_type: "image/jpeg".into(),
        stored_name: format!("{profile}/{pid}.jpg"),
    };
    store.add_photo(&p).unwrap();
    p
}

/// Saves a check-in at `minutes` that opens a red flag; returns its episode.
pub fn red_flag(store: &dyn Store, profile: ProfileId, minutes: i64) -> EpisodeId {
    let c = checkin(profile, None, minutes, TriageLevel::ContactSurgeon);
    let e = episode(&c);
    store.save_checkin(&c, Some(&e)).unwrap();
    e.id
}

pub fn notification(account: AccountId, profile: Option<ProfileId>, minutes: i64) -> Notification {
    Notification {
        id: NotificationId(id()),
        account_id: account,
        clinic_id: None,
        profile_id: profile,
        kind: "red_flag".to_owned(),
        title: "A red flag needs you".to_owned(),
        body: "A patient's check-in raised a warning sign.".to_owned(),
        link: "/clinic/red-flags".to_owned(),
        created_at: at(minutes),
        read_at: None,
    }
}

pub fn email(to: &str, minutes: i64) -> Email {
    Email {
        id: EmailId(id()),
        to: to.to_owned(),
        subject: "A red flag".to_owned(),
        body: "Please look at the red-flag queue.".to_owned(),
        calendar: None,
        created_at: at(minutes),
        sent_at: None,
        attempts: 0,
        last_error: String::new(),
    }
}

fn expect_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn expect_forbidden<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Forbidden { .. }) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

fn expect_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn expect_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Invalid { .. }) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn actions(store: &dyn Store, profile: ProfileId) -> Vec<String> {
    store
        .audit_log(profile, 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// Clinic data for every clinic table: a clinic with a clinician whose
/// session passed the second factor, the patients joined with every
/// scope (the first with a protocol, an override, an open and
/// acknowledged red flag and an escalation sent), a used and an unused
/// invite, a notification, an email, a TOTP secret and a rate-limit
/// counter. Used by the portability cases.
pub fn fill_clinic(store: &dyn Store, patients: &[ProfileId]) -> Practice {
    let p = practice(store, "Portability");
    for (i, patient) in patients.iter().enumerate() {
        join(store, &p.by, *patient, &all_scopes(), 700 + i as i64);
    }
    store.create_invite(&p.by, &invite(&p.by, 710)).unwrap();
    store
        .create_member_invite(
            &p.by,
            &member_invite(&p.by, "colleague@example.org", Role::Staff, 710),
        )
        .unwrap();
    if let Some(&first) = patients.first() {
        store
            .prescribe(&p.by, &protocol(&p, first, 10, 720))
            .unwrap();
        store
            .add_override(&p.by, &an_override(&p, first, "S-ISO", 721))
            .unwrap();
        let flag = red_flag(store, first, 730);
        store
            .acknowledge(&p.by, first, flag, "called", at(731))
            .unwrap();
        assert!(
            store
                .escalate_step_alone(p.clinic.id, first, flag, 0, at(730))
                .unwrap()
        );
        store
            .patient_record(&p.by, first, at(732))
            .unwrap()
            .unwrap();
        store
            .add_notifications(&[notification(p.doctor.id, Some(first), 730)])
            .unwrap();
    }
    store.queue_email(&email(&p.doctor.email, 730)).unwrap();
    store
        .set_totp(
            p.doctor.id,
            Some(&TotpSecret {
                account_id: p.doctor.id,
                secret: vec![7; 20],
                enabled_at: Some(at(740)),
                last_step: 9,
                pending_session: None,
            }),
        )
        .unwrap();
    store.rate_limit_hit("login:ip:192.0.2.1", at(740)).unwrap();
    let ws = web_session(p.doctor.id, None, 740);
    store.create_web_session(&ws).unwrap();
    store
        .mark_web_session_verified(&ws.token_hash, at(741))
        .unwrap();
    p
}

pub mod cases {
    use super::*;

    pub fn clinic_create_members_and_memberships(store: &dyn Store) {
        let p = practice(store, "Lovelace");
        assert_eq!(store.clinic(p.clinic.id).unwrap(), Some(p.clinic.clone()));
        assert_eq!(store.clinic(ClinicId(id())).unwrap(), None);
        let nurse = member(store, &p, Role::Staff, "Nurse", 5);
        let colleague = member(store, &p, Role::Clinician, "Colleague", 10);
        let members = store.members(&p.by).unwrap();
        assert_eq!(
            members
                .iter()
                .map(|m| (m.account_id, m.role))
                .collect::<Vec<_>>(),
            vec![
                (p.doctor.id, Role::Clinician),
                (nurse.account, Role::Staff),
                (colleague.account, Role::Clinician)
            ]
        );
        assert_eq!(store.members(&nurse).unwrap(), members);

        // A second clinic for the nurse: memberships oldest first.
        let q = practice(store, "Hopper");
        store
            .add_member(
                &q.by,
                &Member {
                    clinic_id: q.clinic.id,
                    account_id: nurse.account,
                    role: Role::Clinician,
                    display_name: "Nurse H".into(),
                    joined_at: at(20),
                },
            )
            .unwrap();
        let ms = store.memberships(nurse.account).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!((ms[0].0.id, ms[0].1.role), (p.clinic.id, Role::Staff));
        assert_eq!((ms[1].0.id, ms[1].1.role), (q.clinic.id, Role::Clinician));
        assert_eq!(ms[1].1.display_name, "Nurse H");
        assert!(store.memberships(AccountId(id())).unwrap().is_empty());

        // Already a member; staff may not add; outsiders learn nothing.
        expect_conflict(store.add_member(
            &p.by,
            &Member {
                clinic_id: p.clinic.id,
                account_id: nurse.account,
                role: Role::Clinician,
                display_name: "Again".into(),
                joined_at: at(30),
            },
        ));
        let stranger = account(store, "stranger@example.org");
        let newcomer = Member {
            clinic_id: p.clinic.id,
            account_id: stranger.id,
            role: Role::Staff,
            display_name: "Newcomer".into(),
            joined_at: at(30),
        };
        expect_forbidden(store.add_member(&nurse, &newcomer));
        let outsider = ClinicAccess {
            clinic: p.clinic.id,
            account: stranger.id,
        };
        expect_not_found(store.add_member(&outsider, &newcomer));
        expect_not_found(store.members(&outsider));
        // A member of an unknown account.
        expect_not_found(store.add_member(
            &p.by,
            &Member {
                account_id: AccountId(id()),
                ..newcomer.clone()
            },
        ));
        assert_eq!(store.members(&p.by).unwrap().len(), 3);

        // The ladder: clinicians only, validated.
        let ladder = Ladder {
            steps: vec![Step {
                after: SignedDuration::from_hours(1),
                notify: Target::Member {
                    account_id: colleague.account,
                },
            }],
        };
        expect_forbidden(store.set_ladder(&nurse, &ladder));
        expect_invalid(store.set_ladder(&p.by, &Ladder { steps: vec![] }));
        store.set_ladder(&p.by, &ladder).unwrap();
        assert_eq!(store.clinic(p.clinic.id).unwrap().unwrap().ladder, ladder);

        // Creating: taken id, empty name, unknown founder.
        let founder = |c: &Clinic, a: AccountId| Member {
            clinic_id: c.id,
            account_id: a,
            role: Role::Clinician,
            display_name: "Founder".into(),
            joined_at: at(0),
        };
        expect_conflict(store.create_clinic(&p.clinic, &founder(&p.clinic, stranger.id)));
        let blank = Clinic {
            id: ClinicId(id()),
            name: "  ".into(),
            ..p.clinic.clone()
        };
        expect_invalid(store.create_clinic(&blank, &founder(&blank, stranger.id)));
        let bad_ladder = Clinic {
            id: ClinicId(id()),
            ladder: Ladder { steps: vec![] },
            ..p.clinic.clone()
        };
        expect_invalid(store.create_clinic(&bad_ladder, &founder(&bad_ladder, stranger.id)));
        let orphan = Clinic {
            id: ClinicId(id()),
            ..p.clinic.clone()
        };
        expect_not_found(store.create_clinic(&orphan, &founder(&orphan, AccountId(id()))));
        assert_eq!(store.clinic(orphan.id).unwrap(), None, "nothing half made");
    }

    pub fn member_invites_are_made_by_clinicians_and_checked(store: &dyn Store) {
        let p = practice(store, "Lister");
        let nurse = member(store, &p, Role::Staff, "Nurse", 5);
        let stranger = account(store, "stranger.mi@example.org");
        let outsider = ClinicAccess {
            clinic: p.clinic.id,
            account: stranger.id,
        };
        let good = member_invite(&p.by, "new.doc@example.org", Role::Clinician, 10);
        let other_clinic = practice(store, "Semmelweis");
        for bad in [
            MemberInvite {
                code_hash: "not-a-hash".into(),
                ..good.clone()
            },
            MemberInvite {
                expires_at: good.created_at,
                ..good.clone()
            },
            MemberInvite {
                created_by: nurse.account,
                ..good.clone()
            },
            MemberInvite {
                email: "New.Doc@example.org".into(),
                ..good.clone()
            },
            MemberInvite {
                email: "no-at-sign".into(),
                ..good.clone()
            },
            MemberInvite {
                display_name: "  ".into(),
                ..good.clone()
            },
            MemberInvite {
                clinic_id: other_clinic.clinic.id,
                ..good.clone()
            },
            MemberInvite {
                used_by: Some(stranger.id),
                used_at: Some(at(11)),
                ..good.clone()
            },
        ] {
            expect_invalid(store.create_member_invite(&p.by, &bad));
        }
        // Staff may not invite; outsiders learn nothing.
        expect_forbidden(store.create_member_invite(
            &nurse,
            &MemberInvite {
                created_by: nurse.account,
                ..good.clone()
            },
        ));
        expect_not_found(store.create_member_invite(
            &outsider,
            &MemberInvite {
                created_by: stranger.id,
                ..good.clone()
            },
        ));
        assert_eq!(store.member_invite(&good.code_hash).unwrap(), None);

        // Whether the address has an account plays no part.
        store.create_member_invite(&p.by, &good).unwrap();
        expect_conflict(store.create_member_invite(&p.by, &good));
        let known = member_invite(&p.by, &stranger.email, Role::Staff, 12);
        store.create_member_invite(&p.by, &known).unwrap();
        assert_eq!(
            store.member_invite(&good.code_hash).unwrap(),
            Some((p.clinic.clone(), good.clone()))
        );
        assert_eq!(store.member_invite(&token_hash()).unwrap(), None);

        // Open invitations, oldest first: clinicians only.
        assert_eq!(
            store.member_invites(&p.by, at(13)).unwrap(),
            vec![good.clone(), known.clone()]
        );
        assert_eq!(
            store.member_invites(&p.by, good.expires_at).unwrap(),
            vec![known.clone()],
            "an expired invitation is no longer open"
        );
        expect_forbidden(store.member_invites(&nurse, at(13)));
        expect_not_found(store.member_invites(&outsider, at(13)));
        assert!(
            store
                .member_invites(&other_clinic.by, at(13))
                .unwrap()
                .is_empty()
        );
    }

    pub fn member_invites_are_accepted_once_by_the_invited_email(store: &dyn Store) {
        let p = practice(store, "Nightingale");
        let invited = member_invite(&p.by, "new.doc@example.org", Role::Staff, 10);
        store.create_member_invite(&p.by, &invited).unwrap();
        let newcomer = account(store, "new.doc@example.org");
        let someone_else = account(store, "someone.else@example.org");

        // Another account, an unknown code and an unknown account get the
        // same refusal, and nothing changes.
        let unknown = store
            .accept_member_invite(&token_hash(), newcomer.id, at(20))
            .unwrap_err();
        let wrong = store
            .accept_member_invite(&invited.code_hash, someone_else.id, at(20))
            .unwrap_err();
        let nobody = store
            .accept_member_invite(&invited.code_hash, AccountId(id()), at(20))
            .unwrap_err();
        assert!(
            matches!(unknown, StoreError::NotFound { .. }),
            "{unknown:?}"
        );
        assert_eq!(wrong.to_string(), unknown.to_string());
        assert_eq!(nobody.to_string(), unknown.to_string());
        // The local account has no email.
        expect_not_found(store.accept_member_invite(&invited.code_hash, AccountId::LOCAL, at(20)));
        assert_eq!(store.members(&p.by).unwrap().len(), 1);
        assert!(store.memberships(someone_else.id).unwrap().is_empty());

        // The invited account joins with the invited role and name.
        let joined = store
            .accept_member_invite(&invited.code_hash, newcomer.id, at(20))
            .unwrap();
        assert_eq!(
            joined,
            Member {
                clinic_id: p.clinic.id,
                account_id: newcomer.id,
                role: Role::Staff,
                display_name: "Dr Newcomer".into(),
                joined_at: at(20),
            }
        );
        assert_eq!(store.members(&p.by).unwrap()[1], joined);
        let ms = store.memberships(newcomer.id).unwrap();
        assert_eq!(ms, vec![(p.clinic.clone(), joined.clone())]);
        let (_, used) = store.member_invite(&invited.code_hash).unwrap().unwrap();
        assert_eq!(used.used_by, Some(newcomer.id));
        assert_eq!(used.used_at, Some(at(20)));
        assert!(!used.usable(at(21)));
        assert!(store.member_invites(&p.by, at(21)).unwrap().is_empty());

        // Single use, even by the same account.
        let again = store
            .accept_member_invite(&invited.code_hash, newcomer.id, at(30))
            .unwrap_err();
        assert_eq!(again.to_string(), unknown.to_string());
        assert_eq!(store.members(&p.by).unwrap().len(), 2);

        // Expired: refused at its expiry, the same way.
        let late = member_invite(&p.by, "someone.else@example.org", Role::Clinician, 40);
        store.create_member_invite(&p.by, &late).unwrap();
        let expired = store
            .accept_member_invite(&late.code_hash, someone_else.id, late.expires_at)
            .unwrap_err();
        assert_eq!(expired.to_string(), unknown.to_string());
        assert!(store.memberships(someone_else.id).unwrap().is_empty());

        // Already a member: a conflict, and the invitation stays open.
        let twice = member_invite(&p.by, "new.doc@example.org", Role::Clinician, 50);
        store.create_member_invite(&p.by, &twice).unwrap();
        expect_conflict(store.accept_member_invite(&twice.code_hash, newcomer.id, at(51)));
        assert!(
            store
                .member_invite(&twice.code_hash)
                .unwrap()
                .unwrap()
                .1
                .usable(at(52))
        );
        assert_eq!(
            store.memberships(newcomer.id).unwrap()[0].1.role,
            Role::Staff,
            "the role is not changed"
        );
    }

    pub fn clinic_invites_are_single_use_and_expire(store: &dyn Store) {
        let p = practice(store, "Invites");
        let nurse = member(store, &p, Role::Staff, "Nurse", 1);
        let ada = profile(store, "Ada");
        let bea = profile(store, "Bea");

        // Staff may invite; bad hashes and expiries are refused.
        let inv = invite(&nurse, 10);
        store.create_invite(&nurse, &inv).unwrap();
        expect_conflict(store.create_invite(
            &p.by,
            &Invite {
                created_by: p.by.account,
                ..inv.clone()
            },
        ));
        expect_invalid(store.create_invite(
            &p.by,
            &Invite {
                code_hash: "NOT-HEX".into(),
                ..invite(&p.by, 10)
            },
        ));
        expect_invalid(store.create_invite(
            &p.by,
            &Invite {
                expires_at: at(10),
                ..invite(&p.by, 10)
            },
        ));
        let stranger = account(store, "stranger@example.org");
        expect_not_found(store.create_invite(
            &ClinicAccess {
                clinic: p.clinic.id,
                account: stranger.id,
            },
            &Invite {
                created_by: stranger.id,
                ..invite(&p.by, 10)
            },
        ));

        assert_eq!(
            store
                .invite_clinic(&inv.code_hash, at(11))
                .unwrap()
                .map(|c| c.id),
            Some(p.clinic.id)
        );
        assert_eq!(store.invite_clinic(&token_hash(), at(11)).unwrap(), None);
        // Unknown code, unknown profile: not found, nothing used up.
        expect_not_found(store.redeem_invite(&token_hash(), ada.id, &all_scopes(), at(11)));
        expect_not_found(store.redeem_invite(
            &inv.code_hash,
            ProfileId(id()),
            &all_scopes(),
            at(11),
        ));
        assert!(
            store
                .invite_clinic(&inv.code_hash, at(11))
                .unwrap()
                .is_some()
        );

        let granted = scopes(&[Scope::Sessions, Scope::Checkins]);
        assert_eq!(
            store
                .redeem_invite(&inv.code_hash, ada.id, &granted, at(12))
                .unwrap(),
            p.clinic.id
        );
        let links = store.patient_clinics(ada.id).unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].clinic.id, p.clinic.id);
        assert_eq!(links[0].joined_at, at(12));
        assert_eq!(links[0].scopes, granted);

        // Single use.
        assert_eq!(store.invite_clinic(&inv.code_hash, at(13)).unwrap(), None);
        expect_not_found(store.redeem_invite(&inv.code_hash, bea.id, &granted, at(13)));
        assert!(store.patient_clinics(bea.id).unwrap().is_empty());

        // Expired: at its expiry it no longer works.
        let short = invite(&p.by, 20);
        store.create_invite(&p.by, &short).unwrap();
        assert!(
            store
                .invite_clinic(&short.code_hash, at(20 + 24 * 60 - 1))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            store
                .invite_clinic(&short.code_hash, short.expires_at)
                .unwrap(),
            None
        );
        expect_not_found(store.redeem_invite(&short.code_hash, bea.id, &granted, short.expires_at));

        // Joining again is a conflict, and uses nothing up.
        let again = invite(&p.by, 30);
        store.create_invite(&p.by, &again).unwrap();
        expect_conflict(store.redeem_invite(&again.code_hash, ada.id, &granted, at(31)));
        assert!(
            store
                .invite_clinic(&again.code_hash, at(31))
                .unwrap()
                .is_some()
        );
        store
            .redeem_invite(&again.code_hash, bea.id, &BTreeSet::new(), at(32))
            .unwrap();
        assert_eq!(
            store.patient_clinics(bea.id).unwrap()[0].scopes,
            BTreeSet::new()
        );

        // The join is in the patient's audit log, with each grant.
        let log = store.audit_log(ada.id, 10).unwrap();
        let mut lines: Vec<(String, String)> = log
            .iter()
            .map(|e| (e.action.clone(), e.detail.clone()))
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                ("consent_granted".into(), "checkins".into()),
                ("consent_granted".into(), "sessions".into()),
                ("joined".into(), String::new()),
            ]
        );
        assert!(
            log.iter()
                .all(|e| e.actor_name == "you" && e.clinic_id == p.clinic.id)
        );
    }

    pub fn consent_changes_take_effect_on_the_next_read(store: &dyn Store) {
        let p = practice(store, "Consent");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        store
            .log_session(&session(ada.id, None, 100), None)
            .unwrap();
        let flag = red_flag(store, ada.id, 200);

        let queue = store.red_flag_queue(&p.by, at(300)).unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].episode.id, flag);
        assert_eq!(queue[0].patient_name, "Ada");
        assert_eq!(
            queue[0].rule_ids,
            vec!["C-03".to_owned(), "C-11".to_owned()]
        );
        let record = store
            .patient_record(&p.by, ada.id, at(300))
            .unwrap()
            .unwrap();
        assert_eq!(record.checkins.as_ref().map(Vec::len), Some(1));
        assert_eq!(record.episodes.as_ref().map(Vec::len), Some(1));

        let before = store.audit_log(ada.id, 1000).unwrap().len();
        // Granting a held scope changes nothing and logs nothing.
        store
            .set_consent(ada.id, p.clinic.id, Scope::Checkins, true, at(301))
            .unwrap();
        assert_eq!(store.audit_log(ada.id, 1000).unwrap().len(), before);

        store
            .set_consent(ada.id, p.clinic.id, Scope::Checkins, false, at(302))
            .unwrap();
        assert!(store.red_flag_queue(&p.by, at(303)).unwrap().is_empty());
        let record = store
            .patient_record(&p.by, ada.id, at(303))
            .unwrap()
            .unwrap();
        assert_eq!(record.checkins, None);
        assert_eq!(record.episodes, None);
        assert!(record.sessions.is_some());
        assert!(!record.scopes.contains(&Scope::Checkins));
        expect_not_found(store.acknowledge(&p.by, ada.id, flag, "", at(303)));
        assert!(store.open_flags().unwrap().is_empty());
        let list = store.clinic_patients(&p.by, at(303)).unwrap();
        assert_eq!(list[0].status.open_red_flags, None);
        assert_eq!(list[0].status.overdue_checkins, None);
        assert!(list[0].status.last_session.is_some());
        // Revoking one not held changes nothing and logs nothing.
        let n = store.audit_log(ada.id, 1000).unwrap().len();
        store
            .set_consent(ada.id, p.clinic.id, Scope::Checkins, false, at(304))
            .unwrap();
        assert_eq!(store.audit_log(ada.id, 1000).unwrap().len(), n);

        // Sessions revoked: no prescribing, no sessions in the record.
        store
            .set_consent(ada.id, p.clinic.id, Scope::Sessions, false, at(305))
            .unwrap();
        expect_not_found(store.prescribe(&p.by, &protocol(&p, ada.id, 7, 306)));
        let record = store
            .patient_record(&p.by, ada.id, at(306))
            .unwrap()
            .unwrap();
        assert_eq!(record.sessions, None);
        // Photos revoked: a photo reads as not there.
        let ph = photo(store, ada.id, 307);
        assert_eq!(
            store.patient_photo(&p.by, ada.id, ph.id, at(308)).unwrap(),
            Some(ph.clone())
        );
        store
            .set_consent(ada.id, p.clinic.id, Scope::PhotosClinical, false, at(309))
            .unwrap();
        assert_eq!(
            store.patient_photo(&p.by, ada.id, ph.id, at(310)).unwrap(),
            None
        );
        assert_eq!(
            store
                .patient_record(&p.by, ada.id, at(310))
                .unwrap()
                .unwrap()
                .photos,
            None
        );

        // Granting again shows it again at once.
        store
            .set_consent(ada.id, p.clinic.id, Scope::Checkins, true, at(311))
            .unwrap();
        assert_eq!(store.red_flag_queue(&p.by, at(312)).unwrap().len(), 1);
        assert_eq!(
            store.patient_clinics(ada.id).unwrap()[0].scopes,
            scopes(&[Scope::Screening, Scope::Checkins, Scope::PhotosTeaching])
        );
        let log = store.audit_log(ada.id, 1000).unwrap();
        let consent: Vec<(String, String)> = log
            .iter()
            .filter(|e| e.action.starts_with("consent_") && e.at >= at(301))
            .map(|e| (e.action.clone(), e.detail.clone()))
            .collect();
        assert_eq!(
            consent,
            vec![
                ("consent_granted".into(), "checkins".into()),
                ("consent_revoked".into(), "photos_clinical".into()),
                ("consent_revoked".into(), "sessions".into()),
                ("consent_revoked".into(), "checkins".into()),
            ]
        );

        // Not the clinic's patient: not found.
        let bea = profile(store, "Bea");
        expect_not_found(store.set_consent(bea.id, p.clinic.id, Scope::Sessions, true, at(320)));
        expect_not_found(store.leave_clinic(bea.id, p.clinic.id, at(320)));

        // Leaving: everything stops.
        store.leave_clinic(ada.id, p.clinic.id, at(330)).unwrap();
        assert!(store.patient_clinics(ada.id).unwrap().is_empty());
        assert_eq!(store.patient_record(&p.by, ada.id, at(331)).unwrap(), None);
        assert!(store.red_flag_queue(&p.by, at(331)).unwrap().is_empty());
        assert!(store.clinic_patients(&p.by, at(331)).unwrap().is_empty());
        assert_eq!(actions(store, ada.id)[0], "left");
    }

    /// Issue 17 §4: a patient who shares check-ins but not sessions: the
    /// check-ins reach the clinic without their session's id (a UUIDv7
    /// says when the session was logged).
    pub fn an_unshared_scope_leaks_not_even_its_ids(store: &dyn Store) {
        let p = practice(store, "Ids");
        let ada = profile(store, "Ada");
        join(
            store,
            &p.by,
            ada.id,
            &scopes(&[Scope::Screening, Scope::Checkins]),
            1,
        );
        let s = session(ada.id, None, 100);
        store.log_session(&s, None).unwrap();
        let c = checkin(ada.id, Some(s.id), 200, TriageLevel::Expected);
        store.save_checkin(&c, None).unwrap();
        let record = store
            .patient_record(&p.by, ada.id, at(300))
            .unwrap()
            .unwrap();
        assert_eq!(record.sessions, None);
        let seen = record.checkins.unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].id, c.id);
        assert_eq!(seen[0].session_id, None, "the session's id stays home");
        // With the sessions scope the link is there.
        store
            .set_consent(ada.id, p.clinic.id, Scope::Sessions, true, at(301))
            .unwrap();
        let record = store
            .patient_record(&p.by, ada.id, at(302))
            .unwrap()
            .unwrap();
        assert_eq!(record.checkins.unwrap()[0].session_id, Some(s.id));
    }

    /// Issue 16: the list comes a page at a time, by name whatever the
    /// case of its ASCII letters, with a search and status filters; the
    /// pages read in turn are the whole list, each patient once, and only
    /// the page's patients are logged as viewed.
    pub fn patient_list_pages_by_name_with_search_and_filters(store: &dyn Store) {
        use needlewise_store::clinic::{PatientCursor, PatientFilter, PatientQuery};
        let p = practice(store, "Paged");
        let names = [
            "bea", "Ada", "carl", "Dora", "eli", "Émile", "Zed", "ada", "Natalie", "Al",
        ];
        let mut ids = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let patient = profile(store, name);
            let shared = if i == 3 {
                scopes(&[Scope::Screening])
            } else {
                all_scopes()
            };
            join(store, &p.by, patient.id, &shared, 1 + i as i64);
            ids.push(patient.id);
        }
        // A red flag for carl (shared) and for Dora (check-ins not shared).
        red_flag(store, ids[2], 100);
        red_flag(store, ids[3], 101);
        // eli had a session and no check-in since: overdue 80 h later.
        store
            .log_session(&session(ids[4], None, 110), None)
            .unwrap();
        let later = 122 + 80 * 60;

        let query = |search: &str, filter, limit| PatientQuery {
            search: search.to_owned(),
            filter,
            after: None,
            limit,
        };
        let read_all = |q: PatientQuery, minutes: i64| {
            let mut q = q;
            let mut pages = Vec::new();
            loop {
                let page = store.patient_page(&p.by, &q, at(minutes)).unwrap();
                assert!(page.patients.len() <= q.limit as usize);
                pages.push(
                    page.patients
                        .iter()
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>(),
                );
                match page.next {
                    Some(next) => {
                        // The cursor survives its text form.
                        assert_eq!(PatientCursor::parse(&next.encode()), Some(next.clone()));
                        q.after = Some(next);
                    }
                    None => return pages,
                }
            }
        };
        // By the name with ASCII letters lowered, then byte order (É after
        // z), then id; "Ada" and "ada" tie on the name and go by id.
        let mut expected: Vec<(String, ProfileId)> = names
            .iter()
            .zip(&ids)
            .map(|(n, id)| (n.to_ascii_lowercase(), *id))
            .collect();
        expected.sort();
        let by_name: Vec<String> = expected
            .iter()
            .map(|(_, id)| names[ids.iter().position(|i| i == id).unwrap()].to_owned())
            .collect();
        let pages = read_all(query("", PatientFilter::All, 3), 200);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
        assert_eq!(pages.concat(), by_name);
        assert_eq!(by_name.last().map(String::as_str), Some("Émile"));
        // A page that ends exactly at the end has no next page.
        assert_eq!(read_all(query("", PatientFilter::All, 5), 200).len(), 2);
        assert_eq!(
            store.clinic_patients(&p.by, at(200)).unwrap().len(),
            names.len()
        );

        // Search: part of a name, any case of its ASCII letters.
        assert_eq!(
            read_all(query("AL", PatientFilter::All, 2), 200).concat(),
            ["Al", "Natalie"]
        );
        assert_eq!(
            read_all(query(" ada ", PatientFilter::All, 50), 200).concat(),
            by_name
                .iter()
                .filter(|n| n.eq_ignore_ascii_case("ada"))
                .cloned()
                .collect::<Vec<_>>()
        );
        assert!(
            read_all(query("nobody", PatientFilter::All, 50), 200)
                .concat()
                .is_empty()
        );

        // Filters: red flags the clinic may see; overdue check-ins.
        let first = store
            .patient_page(&p.by, &query("", PatientFilter::RedFlags, 50), at(200))
            .unwrap();
        assert_eq!(
            first
                .patients
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["carl"]
        );
        assert_eq!(first.red_flag_patients, Some(1));
        assert_eq!(
            read_all(query("", PatientFilter::OverdueCheckins, 1), later).concat(),
            ["eli"]
        );
        assert!(
            read_all(query("", PatientFilter::OverdueCheckins, 1), 200)
                .concat()
                .is_empty(),
            "nothing is overdue before the first check-in falls due"
        );
        // The count stands whatever the page shows.
        let page = store
            .patient_page(&p.by, &query("eli", PatientFilter::All, 50), at(200))
            .unwrap();
        assert_eq!(page.red_flag_patients, Some(1));

        // Only the page's patients are logged as viewed (from a clinician
        // who has not looked yet).
        let colleague = member(store, &p, Role::Clinician, "Colleague", 300);
        let page = store
            .patient_page(&colleague, &query("", PatientFilter::All, 2), at(301))
            .unwrap();
        let viewed = |id: ProfileId| {
            store
                .audit_log(id, 1000)
                .unwrap()
                .iter()
                .any(|e| e.action == "viewed_list" && e.at == at(301))
        };
        for (id, name) in ids.iter().zip(names) {
            let on_page = page.patients.iter().any(|s| s.profile_id == *id);
            assert_eq!(viewed(*id), on_page, "{name}");
        }

        // Refused: an empty or too long page, a too long search, and a
        // status filter for staff.
        expect_invalid(store.patient_page(&p.by, &query("", PatientFilter::All, 0), at(200)));
        expect_invalid(store.patient_page(
            &p.by,
            &query("", PatientFilter::All, PatientQuery::MAX_LIMIT + 1),
            at(200),
        ));
        expect_invalid(store.patient_page(
            &p.by,
            &query(
                &"a".repeat(PatientQuery::MAX_SEARCH + 1),
                PatientFilter::All,
                5,
            ),
            at(200),
        ));
        let nurse = member(store, &p, Role::Staff, "Nurse", 302);
        expect_invalid(store.patient_page(&nurse, &query("", PatientFilter::RedFlags, 5), at(303)));
        let staff = store
            .patient_page(&nurse, &query("a", PatientFilter::All, 50), at(303))
            .unwrap();
        assert_eq!(staff.red_flag_patients, None);
        assert_eq!(
            staff
                .patients
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            by_name
                .iter()
                .filter(|n| n.to_ascii_lowercase().contains('a'))
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        assert!(PatientCursor::parse("not a cursor").is_none());
        assert!(PatientCursor::parse("é").is_none());

        // The list's keys follow the red flags: one raised before the
        // patient joined counts, a resolved one no longer does.
        let fay = profile(store, "Fay");
        let fay_flag = red_flag(store, fay.id, 400);
        join(store, &p.by, fay.id, &all_scopes(), 401);
        let red_names = |minutes| {
            let page = store
                .patient_page(&p.by, &query("", PatientFilter::RedFlags, 50), at(minutes))
                .unwrap();
            let names: Vec<String> = page.patients.iter().map(|s| s.name.clone()).collect();
            (names, page.red_flag_patients)
        };
        assert_eq!(
            red_names(402),
            (vec!["carl".to_owned(), "Fay".to_owned()], Some(2))
        );
        let carl_flag = store.open_episodes(ids[2]).unwrap()[0].id;
        store
            .resolve_episode(
                ids[2],
                carl_flag,
                at(403),
                "seen",
                &crate::cases::doctor_examined(),
                None,
            )
            .unwrap();
        assert_eq!(red_names(404), (vec!["Fay".to_owned()], Some(1)));
        store
            .resolve_episode(
                fay.id,
                fay_flag,
                at(405),
                "seen",
                &crate::cases::doctor_examined(),
                None,
            )
            .unwrap();
        assert_eq!(red_names(406), (Vec::new(), Some(0)));
    }

    pub fn staff_see_the_list_but_no_clinical_data(store: &dyn Store) {
        let p = practice(store, "Staffed");
        let nurse = member(store, &p, Role::Staff, "Nurse", 1);
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 2);
        store
            .log_session(&session(ada.id, None, 100), None)
            .unwrap();
        let flag = red_flag(store, ada.id, 200);
        let ph = photo(store, ada.id, 210);

        let list = store.clinic_patients(&nurse, at(300)).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].profile_id, ada.id);
        assert_eq!(list[0].name, "Ada");
        assert_eq!(list[0].joined_at, at(2));
        assert_eq!(list[0].scopes, all_scopes());
        let s = &list[0].status;
        assert_eq!(
            (
                s.last_session,
                s.next_due,
                s.open_red_flags,
                s.unacknowledged_red_flags,
                s.overdue_checkins
            ),
            (None, None, None, None, None)
        );

        expect_forbidden(store.red_flag_queue(&nurse, at(300)));
        expect_forbidden(store.patient_record(&nurse, ada.id, at(300)));
        expect_forbidden(store.patient_photo(&nurse, ada.id, ph.id, at(300)));
        expect_forbidden(store.acknowledge(&nurse, ada.id, flag, "", at(300)));
        let mut rx = protocol(&p, ada.id, 7, 300);
        rx.prescribed_by = nurse.account;
        expect_forbidden(store.prescribe(&nurse, &rx));
        expect_forbidden(store.add_override(&nurse, &an_override(&p, ada.id, "S-ISO", 300)));
        expect_forbidden(store.set_ladder(&nurse, &Ladder::default()));
        // Nothing was done or logged by the nurse.
        assert!(store.active_protocol(ada.id).unwrap().is_none());
        assert!(store.active_overrides(ada.id).unwrap().is_empty());
        assert!(
            store
                .audit_log(ada.id, 1000)
                .unwrap()
                .iter()
                .all(|e| e.actor != nurse.account)
        );
        // The clinician's view of the same patient has the status.
        let list = store.clinic_patients(&p.by, at(300)).unwrap();
        assert_eq!(list[0].status.open_red_flags, Some(1));
    }

    pub fn outsiders_and_other_clinics_learn_nothing(store: &dyn Store) {
        let a = practice(store, "Alpha");
        let b = practice(store, "Beta");
        let ada = profile(store, "Ada");
        let bea = profile(store, "Bea");
        join(store, &a.by, ada.id, &all_scopes(), 1);
        join(store, &b.by, bea.id, &all_scopes(), 1);
        let flag = red_flag(store, ada.id, 100);
        let ph = photo(store, ada.id, 110);

        // The clinician of another clinic, asking as themselves.
        assert_eq!(store.patient_record(&b.by, ada.id, at(200)).unwrap(), None);
        assert_eq!(
            store.patient_photo(&b.by, ada.id, ph.id, at(200)).unwrap(),
            None
        );
        expect_not_found(store.acknowledge(&b.by, ada.id, flag, "", at(200)));
        expect_not_found(store.prescribe(&b.by, &protocol(&b, ada.id, 7, 200)));
        expect_not_found(store.add_override(&b.by, &an_override(&b, ada.id, "S-ISO", 200)));
        expect_not_found(store.revoke_override(&b.by, ada.id, OverrideId(id()), at(200)));
        let theirs = store.clinic_patients(&b.by, at(200)).unwrap();
        assert_eq!(
            theirs.iter().map(|s| s.profile_id).collect::<Vec<_>>(),
            vec![bea.id]
        );
        assert!(store.red_flag_queue(&b.by, at(200)).unwrap().is_empty());

        // Naming the other clinic without being its member.
        let posing = ClinicAccess {
            clinic: a.clinic.id,
            account: b.doctor.id,
        };
        assert_eq!(
            store.patient_record(&posing, ada.id, at(200)).unwrap(),
            None
        );
        assert_eq!(
            store
                .patient_photo(&posing, ada.id, ph.id, at(200))
                .unwrap(),
            None
        );
        expect_not_found(store.clinic_patients(&posing, at(200)));
        expect_not_found(store.red_flag_queue(&posing, at(200)));
        expect_not_found(store.members(&posing));
        expect_not_found(store.acknowledge(&posing, ada.id, flag, "", at(200)));
        let mut rx = protocol(&a, ada.id, 7, 200);
        rx.prescribed_by = b.doctor.id;
        expect_not_found(store.prescribe(&posing, &rx));
        // A protocol naming another clinic than the asker's is invalid.
        expect_invalid(store.prescribe(&b.by, &protocol(&a, bea.id, 7, 200)));

        // The own clinic and a profile that is not its patient.
        assert_eq!(store.patient_record(&a.by, bea.id, at(200)).unwrap(), None);
        assert_eq!(
            store
                .patient_record(&a.by, ProfileId(id()), at(200))
                .unwrap(),
            None
        );
        // The own clinic and a photo of another patient.
        let bph = photo(store, bea.id, 120);
        assert_eq!(
            store.patient_photo(&a.by, ada.id, bph.id, at(200)).unwrap(),
            None
        );

        // Nothing was acted on, and the patients' logs show only what
        // their own clinic did.
        assert!(store.active_protocol(ada.id).unwrap().is_none());
        assert!(
            store.red_flag_queue(&a.by, at(201)).unwrap()[0]
                .acknowledged
                .is_none()
        );
        for e in store.audit_log(ada.id, 1000).unwrap() {
            assert_eq!(e.clinic_id, a.clinic.id, "{e:?}");
            assert_ne!(e.actor, b.doctor.id, "{e:?}");
        }
    }

    pub fn clinic_reads_and_acts_are_audited_for_the_patient(store: &dyn Store) {
        let p = practice(store, "Audit");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        store
            .log_session(&session(ada.id, None, 100), None)
            .unwrap();
        let flag = red_flag(store, ada.id, 200);
        let ph = photo(store, ada.id, 210);
        let joined = store.audit_log(ada.id, 1000).unwrap().len();
        assert_eq!(joined, 1 + Scope::ALL.len());

        store.clinic_patients(&p.by, at(300)).unwrap();
        store.red_flag_queue(&p.by, at(301)).unwrap();
        store
            .patient_record(&p.by, ada.id, at(302))
            .unwrap()
            .unwrap();
        store
            .patient_photo(&p.by, ada.id, ph.id, at(303))
            .unwrap()
            .unwrap();
        // A photo that is not there reads nothing and logs nothing.
        assert_eq!(
            store
                .patient_photo(&p.by, ada.id, PhotoId(id()), at(303))
                .unwrap(),
            None
        );
        store
            .acknowledge(&p.by, ada.id, flag, "called her", at(304))
            .unwrap();
        let rx = protocol(&p, ada.id, 10, 305);
        store.prescribe(&p.by, &rx).unwrap();
        let ov = an_override(&p, ada.id, "S-ISO", 306);
        store.add_override(&p.by, &ov).unwrap();
        store
            .revoke_override(&p.by, ada.id, ov.id, at(307))
            .unwrap();
        store
            .set_consent(ada.id, p.clinic.id, Scope::PhotosTeaching, false, at(308))
            .unwrap();

        let log = store.audit_log(ada.id, 1000).unwrap();
        assert_eq!(log.len(), joined + 9);
        let newest: Vec<(&str, Timestamp)> =
            log[..9].iter().map(|e| (e.action.as_str(), e.at)).collect();
        assert_eq!(
            newest,
            vec![
                ("consent_revoked", at(308)),
                ("override_revoked", at(307)),
                ("override_added", at(306)),
                ("prescribed", at(305)),
                ("acknowledged", at(304)),
                ("viewed_photo", at(303)),
                ("viewed_record", at(302)),
                ("viewed_list", at(301)),
                ("viewed_list", at(300)),
            ]
        );
        for e in &log[1..9] {
            assert_eq!(e.actor, p.doctor.id);
            assert_eq!(e.actor_name, "Dr Audit");
            assert_eq!(e.clinic_id, p.clinic.id);
            assert_eq!(e.profile_id, ada.id);
        }
        assert_eq!(log[0].actor_name, "you");
        assert_eq!(log[0].detail, "photos_teaching");
        assert_eq!(log[3].detail, rx.id.to_string());
        assert_eq!(log[4].detail, flag.to_string());
        assert_eq!(log[5].detail, ph.id.to_string());
        assert_eq!(log[2].detail, "S-ISO");
        // The limit keeps the newest.
        let two = store.audit_log(ada.id, 2).unwrap();
        assert_eq!(two, log[..2].to_vec());
        // Ids are unique.
        let ids: BTreeSet<_> = log.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), log.len());

        // A list read logs one line per patient whose status it showed:
        // not for a patient who granted no status scope.
        let bea = profile(store, "Bea");
        join(store, &p.by, bea.id, &scopes(&[Scope::Screening]), 400);
        let n_ada = store.audit_log(ada.id, 1000).unwrap().len();
        let n_bea = store.audit_log(bea.id, 1000).unwrap().len();
        assert_eq!(store.clinic_patients(&p.by, at(401)).unwrap().len(), 2);
        assert_eq!(store.audit_log(ada.id, 1000).unwrap().len(), n_ada + 1);
        assert_eq!(store.audit_log(bea.id, 1000).unwrap().len(), n_bea);
        // Other patients' logs are their own.
        assert!(actions(store, bea.id).iter().all(|a| a != "acknowledged"));
    }

    pub fn acknowledging_twice_is_a_conflict(store: &dyn Store) {
        let p = practice(store, "Acks");
        let colleague = member(store, &p, Role::Clinician, "Colleague", 1);
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 2);
        let flag = red_flag(store, ada.id, 100);
        store
            .acknowledge(&colleague, ada.id, flag, "phoned", at(110))
            .unwrap();
        expect_conflict(store.acknowledge(&p.by, ada.id, flag, "again", at(111)));
        let queue = store.red_flag_queue(&p.by, at(112)).unwrap();
        let ack = queue[0].acknowledged.clone().unwrap();
        assert_eq!(
            (ack.by, ack.by_name.as_str(), ack.at, ack.note.as_str()),
            (colleague.account, "Colleague", at(110), "phoned")
        );
        let record = store
            .patient_record(&p.by, ada.id, at(113))
            .unwrap()
            .unwrap();
        let episodes = record.episodes.unwrap();
        assert_eq!(episodes[0].0.id, flag);
        assert_eq!(
            episodes[0].1.as_ref().map(|a| a.by),
            Some(colleague.account)
        );
        // Unknown and resolved episodes: not found.
        expect_not_found(store.acknowledge(&p.by, ada.id, EpisodeId(id()), "", at(114)));
        let other = red_flag(store, ada.id, 120);
        store
            .resolve_episode(
                ada.id,
                other,
                at(121),
                "fine",
                &crate::cases::doctor_examined(),
                None,
            )
            .unwrap();
        expect_not_found(store.acknowledge(&p.by, ada.id, other, "", at(122)));
        // Resolved flags leave the queue.
        store
            .resolve_episode(
                ada.id,
                flag,
                at(130),
                "seen",
                &crate::cases::doctor_examined(),
                None,
            )
            .unwrap();
        assert!(store.red_flag_queue(&p.by, at(131)).unwrap().is_empty());

        // Acknowledgements are per clinic.
        let q = practice(store, "Second");
        join(store, &q.by, ada.id, &all_scopes(), 140);
        let third = red_flag(store, ada.id, 150);
        store
            .acknowledge(&p.by, ada.id, third, "", at(151))
            .unwrap();
        let theirs = store.red_flag_queue(&q.by, at(152)).unwrap();
        assert_eq!(theirs.len(), 1);
        assert!(theirs[0].acknowledged.is_none());
        store
            .acknowledge(&q.by, ada.id, third, "", at(153))
            .unwrap();
    }

    pub fn prescribed_protocol_newest_in_force_until_leaving(store: &dyn Store) {
        let p = practice(store, "Rx");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        assert_eq!(store.active_protocol(ada.id).unwrap(), None);

        let mut bad = protocol(&p, ada.id, 0, 10);
        bad.needle_length_mm = 4.0;
        expect_invalid(store.prescribe(&p.by, &bad));
        assert_eq!(store.active_protocol(ada.id).unwrap(), None);

        let first = protocol(&p, ada.id, 10, 10);
        store.prescribe(&p.by, &first).unwrap();
        assert_eq!(store.active_protocol(ada.id).unwrap(), Some(first.clone()));
        expect_conflict(store.prescribe(&p.by, &first));
        let second = protocol(&p, ada.id, 14, 20);
        store.prescribe(&p.by, &second).unwrap();
        assert_eq!(store.active_protocol(ada.id).unwrap(), Some(second.clone()));
        // An older prescription added later is not in force.
        let older = protocol(&p, ada.id, 21, 15);
        store.prescribe(&p.by, &older).unwrap();
        assert_eq!(store.active_protocol(ada.id).unwrap(), Some(second.clone()));
        let record = store
            .patient_record(&p.by, ada.id, at(30))
            .unwrap()
            .unwrap();
        assert_eq!(record.protocol, Some(second.clone()));

        // A newer one from another clinic wins while both are linked.
        let q = practice(store, "Other");
        join(store, &q.by, ada.id, &all_scopes(), 25);
        let theirs = protocol(&q, ada.id, 7, 40);
        store.prescribe(&q.by, &theirs).unwrap();
        assert_eq!(store.active_protocol(ada.id).unwrap(), Some(theirs.clone()));
        // Each clinic's record shows its own.
        assert_eq!(
            store
                .patient_record(&p.by, ada.id, at(41))
                .unwrap()
                .unwrap()
                .protocol,
            Some(second.clone())
        );
        store.leave_clinic(ada.id, q.clinic.id, at(50)).unwrap();
        assert_eq!(store.active_protocol(ada.id).unwrap(), Some(second));
        store.leave_clinic(ada.id, p.clinic.id, at(51)).unwrap();
        assert_eq!(store.active_protocol(ada.id).unwrap(), None);
        // Another patient's protocol never applies.
        let bea = profile(store, "Bea");
        assert_eq!(store.active_protocol(bea.id).unwrap(), None);
    }

    pub fn overrides_add_and_revoke(store: &dyn Store) {
        let p = practice(store, "Overrides");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        let mut empty = an_override(&p, ada.id, "S-ISO", 10);
        empty.reason = "   ".into();
        expect_invalid(store.add_override(&p.by, &empty));

        let iso = an_override(&p, ada.id, "S-ISO", 10);
        let steroid = an_override(&p, ada.id, "S-STEROID", 11);
        store.add_override(&p.by, &iso).unwrap();
        store.add_override(&p.by, &steroid).unwrap();
        expect_conflict(store.add_override(&p.by, &iso));
        assert_eq!(
            store.active_overrides(ada.id).unwrap(),
            vec![iso.clone(), steroid.clone()]
        );
        assert_eq!(
            store
                .patient_record(&p.by, ada.id, at(12))
                .unwrap()
                .unwrap()
                .overrides,
            vec![iso.clone(), steroid.clone()]
        );
        store
            .revoke_override(&p.by, ada.id, iso.id, at(13))
            .unwrap();
        expect_not_found(store.revoke_override(&p.by, ada.id, iso.id, at(14)));
        expect_not_found(store.revoke_override(&p.by, ada.id, OverrideId(id()), at(14)));
        assert_eq!(
            store.active_overrides(ada.id).unwrap(),
            vec![steroid.clone()]
        );

        // The screening scope is needed.
        store
            .set_consent(ada.id, p.clinic.id, Scope::Screening, false, at(15))
            .unwrap();
        expect_not_found(store.add_override(&p.by, &an_override(&p, ada.id, "S-X", 16)));
        expect_not_found(store.revoke_override(&p.by, ada.id, steroid.id, at(16)));
        // Leaving: no override applies.
        store.leave_clinic(ada.id, p.clinic.id, at(17)).unwrap();
        assert!(store.active_overrides(ada.id).unwrap().is_empty());
    }

    pub fn list_views_are_logged_once_per_window(store: &dyn Store) {
        let p = practice(store, "Window");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        let views = |store: &dyn Store| {
            store
                .audit_log(ada.id, 100)
                .unwrap()
                .into_iter()
                .filter(|e| e.action == "viewed_list" && e.detail == "patient list")
                .count()
        };
        store.clinic_patients(&p.by, at(10)).unwrap();
        assert_eq!(views(store), 1);
        // Again within the window: no new line.
        store.clinic_patients(&p.by, at(20)).unwrap();
        store.clinic_patients(&p.by, at(24)).unwrap();
        assert_eq!(views(store), 1);
        // After it: a new line.
        store.clinic_patients(&p.by, at(26)).unwrap();
        assert_eq!(views(store), 2);
        // Another clinician's view is their own line.
        let other = member(store, &p, Role::Clinician, "Dr Other", 2);
        store.clinic_patients(&other, at(27)).unwrap();
        assert_eq!(views(store), 3);
        // Other reads are logged every time.
        store.patient_record(&p.by, ada.id, at(28)).unwrap();
        store.patient_record(&p.by, ada.id, at(28)).unwrap();
        let records = store
            .audit_log(ada.id, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "viewed_record")
            .count();
        assert_eq!(records, 2);
        // The red-flag queue is a list too: logged once per window.
        red_flag(store, ada.id, 30);
        let queue_views = |store: &dyn Store| {
            store
                .audit_log(ada.id, 100)
                .unwrap()
                .into_iter()
                .filter(|e| e.action == "viewed_list" && e.detail == "red flags")
                .count()
        };
        assert_eq!(store.red_flag_queue(&p.by, at(40)).unwrap().len(), 1);
        assert_eq!(queue_views(store), 1);
        store.red_flag_queue(&p.by, at(50)).unwrap();
        assert_eq!(queue_views(store), 1);
        store.red_flag_queue(&p.by, at(56)).unwrap();
        assert_eq!(queue_views(store), 2);
        store.red_flag_queue(&other, at(57)).unwrap();
        assert_eq!(queue_views(store), 3);
    }

    /// The clinic pages' first read is the session with its account's
    /// memberships and second factor, exactly as the three reads give them.
    pub fn clinic_web_session_is_the_session_memberships_and_second_factor(store: &dyn Store) {
        let first = practice(store, "First");
        let second = practice(store, "Second");
        let doctor = first.doctor.id;
        let s = web_session(doctor, None, 0);
        store.create_web_session(&s).unwrap();
        let read = |store: &dyn Store, minutes: i64| {
            store
                .clinic_web_session(&s.token_hash, at(minutes))
                .unwrap()
        };
        let by_three = |store: &dyn Store| ClinicWebSession {
            session: s.clone(),
            memberships: store.memberships(doctor).unwrap(),
            totp: store.totp(doctor).unwrap(),
        };
        // One membership, no second factor.
        let one = read(store, 1).unwrap();
        assert_eq!(one, by_three(store));
        assert_eq!(one.memberships.len(), 1);
        assert_eq!(one.totp, None);

        // A second clinic (joined later) and a second factor.
        store
            .add_member(
                &second.by,
                &Member {
                    clinic_id: second.clinic.id,
                    account_id: doctor,
                    role: Role::Staff,
                    display_name: "Dr First at Second".to_owned(),
                    joined_at: at(5),
                },
            )
            .unwrap();
        store
            .set_totp(
                doctor,
                Some(&TotpSecret {
                    account_id: doctor,
                    secret: vec![9; 20],
                    enabled_at: Some(at(6)),
                    last_step: 3,
                    pending_session: None,
                }),
            )
            .unwrap();
        let both = read(store, 7).unwrap();
        assert_eq!(both, by_three(store));
        assert_eq!(
            both.memberships
                .iter()
                .map(|(c, m)| (c.id, m.role))
                .collect::<Vec<_>>(),
            vec![
                (first.clinic.id, Role::Clinician),
                (second.clinic.id, Role::Staff)
            ]
        );
        assert_eq!(both.totp.map(|t| t.last_step), Some(3));

        // Expired (the session lasts an hour) or unknown: nothing.
        assert_eq!(read(store, 61), None);
        assert_eq!(
            store.clinic_web_session(&token_hash(), at(1)).unwrap(),
            None
        );
    }

    /// The list's status follows every write it depends on: sessions
    /// logged out of order, red flags opened, acknowledged and resolved,
    /// scopes revoked and granted, a restore, a deleted profile. (On
    /// PostgreSQL part of it is kept beside the profile by triggers: this
    /// holds it to the record.)
    pub fn patient_list_follows_every_change(store: &dyn Store) {
        let p = practice(store, "Follow");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        let date = jiff::civil::date;
        let row = |store: &dyn Store, minutes: i64| {
            let mut list = store.clinic_patients(&p.by, at(minutes)).unwrap();
            assert_eq!(list.len(), 1);
            list.remove(0)
        };
        let first = row(store, 2);
        assert_eq!(first.scopes, all_scopes());
        assert_eq!(
            (first.status.last_session, first.status.open_red_flags),
            (None, Some(0))
        );

        // The later session by start counts, in whatever order they are
        // logged.
        let mut later = session(ada.id, None, 100);
        later.local_date = date(2025, 6, 16);
        store.log_session(&later, None).unwrap();
        let mut earlier = session(ada.id, None, 50);
        earlier.local_date = date(2025, 6, 14);
        store.log_session(&earlier, None).unwrap();
        assert_eq!(row(store, 200).status.last_session, Some(date(2025, 6, 16)));

        // Check-ins count against the last session (ended at minute 112):
        // at 80 h the 24 h and 72 h ones are overdue, until one near 24 h
        // is saved.
        let hours = |h: i64| 112 + h * 60;
        let overdue = |store: &dyn Store| row(store, hours(80)).status.overdue_checkins;
        assert_eq!(overdue(store), Some(2));
        store
            .save_checkin(
                &checkin(ada.id, Some(later.id), hours(23), TriageLevel::Expected),
                None,
            )
            .unwrap();
        assert_eq!(overdue(store), Some(1));

        // Two red flags: both open, then one acknowledged, the other
        // resolved.
        let one = red_flag(store, ada.id, 210);
        let two = red_flag(store, ada.id, 220);
        let flags = |store: &dyn Store, minutes: i64| {
            let s = row(store, minutes).status;
            (s.open_red_flags, s.unacknowledged_red_flags)
        };
        assert_eq!(flags(store, 230), (Some(2), Some(2)));
        store
            .acknowledge(&p.by, ada.id, one, "called", at(231))
            .unwrap();
        assert_eq!(flags(store, 232), (Some(2), Some(1)));
        store
            .resolve_episode(
                ada.id,
                two,
                at(233),
                "settled",
                &crate::cases::doctor_examined(),
                None,
            )
            .unwrap();
        assert_eq!(flags(store, 234), (Some(1), Some(0)));

        // Revoking shows at once, and so does granting again.
        for scope in [Scope::Sessions, Scope::Checkins] {
            store
                .set_consent(ada.id, p.clinic.id, scope, false, at(235))
                .unwrap();
        }
        let r = row(store, 236);
        assert!(!r.scopes.contains(&Scope::Sessions) && !r.scopes.contains(&Scope::Checkins));
        assert_eq!(
            (r.status.last_session, r.status.open_red_flags),
            (None, None)
        );
        store
            .set_consent(ada.id, p.clinic.id, Scope::Sessions, true, at(237))
            .unwrap();
        let r = row(store, 238);
        assert!(r.scopes.contains(&Scope::Sessions));
        assert_eq!(r.status.last_session, Some(date(2025, 6, 16)));
        // Red flags are shown with the check-ins scope only.
        assert_eq!(r.status.open_red_flags, None);
        store
            .set_consent(ada.id, p.clinic.id, Scope::Checkins, true, at(239))
            .unwrap();
        assert_eq!(flags(store, 239), (Some(1), Some(0)));

        // Replaced from its own snapshot: the same list.
        let before = store.clinic_patients(&p.by, at(240)).unwrap();
        let snap = store.snapshot().unwrap();
        store.restore_snapshot(&snap, RestoreMode::Replace).unwrap();
        assert_eq!(store.clinic_patients(&p.by, at(240)).unwrap(), before);

        // A deleted profile leaves the list.
        store.delete_profile(ada.id).unwrap();
        assert!(store.clinic_patients(&p.by, at(241)).unwrap().is_empty());
    }

    pub fn patient_status_is_computed_from_the_record(store: &dyn Store) {
        let p = practice(store, "Status");
        let ada = profile(store, "Ada");
        let bea = profile(store, "Bea");
        let cy = profile(store, "Cy");
        let dee = profile(store, "Dee");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        join(store, &p.by, bea.id, &scopes(&[Scope::Sessions]), 2);
        join(store, &p.by, cy.id, &BTreeSet::new(), 3);
        join(store, &p.by, dee.id, &all_scopes(), 4);
        // Ada: a 0.25 mm session on 2025-06-15 ending at minute 112; a
        // check-in 23 h later (within the grace of the 24 h one); none
        // near the 72 h one.
        let s = session(ada.id, None, 100);
        store.log_session(&s, None).unwrap();
        let ended = s.ended_at;
        let mins = |h: i64| 112 + h * 60;
        store
            .save_checkin(
                &checkin(ada.id, Some(s.id), mins(23), TriageLevel::Expected),
                None,
            )
            .unwrap();
        store
            .log_session(&session(bea.id, None, 100), None)
            .unwrap();
        let now = ended + SignedDuration::from_hours(80);

        let list = store.clinic_patients(&p.by, now).unwrap();
        assert_eq!(
            list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            vec!["Ada", "Bea", "Cy", "Dee"]
        );
        let date = jiff::civil::date;
        let a = &list[0].status;
        assert_eq!(a.last_session, Some(date(2025, 6, 15)));
        // The 0.25 mm band waits 3 days.
        assert_eq!(a.next_due, Some(date(2025, 6, 18)));
        assert_eq!(a.open_red_flags, Some(0));
        assert_eq!(a.unacknowledged_red_flags, Some(0));
        // Due at 24 h (done) and 72 h (missed); 7 and 14 days are ahead.
        assert_eq!(a.overdue_checkins, Some(1));
        let b = &list[1].status;
        assert_eq!(
            (
                b.last_session,
                b.next_due,
                b.open_red_flags,
                b.overdue_checkins
            ),
            (Some(date(2025, 6, 15)), Some(date(2025, 6, 18)), None, None)
        );
        let c = &list[2].status;
        assert_eq!(
            (
                c.last_session,
                c.next_due,
                c.open_red_flags,
                c.unacknowledged_red_flags,
                c.overdue_checkins
            ),
            (None, None, None, None, None)
        );
        assert_eq!(list[2].scopes, BTreeSet::new());
        // Dee: no session yet, so the first can be today; nothing overdue.
        let d = &list[3].status;
        let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        assert_eq!(
            (
                d.last_session,
                d.next_due,
                d.open_red_flags,
                d.overdue_checkins
            ),
            (None, Some(today), Some(0), Some(0))
        );

        // Nothing crosses scopes: Bea's red flag (check-ins not shared)
        // does not blank her next date, and with check-ins alone Eve's
        // overdue count (timed from her last session) stays hidden.
        red_flag(store, bea.id, 130);
        let eve = profile(store, "Eve");
        join(store, &p.by, eve.id, &scopes(&[Scope::Checkins]), 5);
        store
            .log_session(&session(eve.id, None, 100), None)
            .unwrap();
        let list = store.clinic_patients(&p.by, now).unwrap();
        let b = &list[1].status;
        assert_eq!(
            (b.next_due, b.open_red_flags),
            (Some(date(2025, 6, 18)), None)
        );
        let e = &list[4].status;
        assert_eq!(
            (
                e.last_session,
                e.next_due,
                e.open_red_flags,
                e.overdue_checkins
            ),
            (None, None, Some(0), None)
        );

        // A protocol with a longer interval moves the date.
        store
            .prescribe(&p.by, &protocol(&p, ada.id, 10, mins(81)))
            .unwrap();
        let list = store.clinic_patients(&p.by, now).unwrap();
        assert_eq!(list[0].status.next_due, Some(date(2025, 6, 25)));
        // A shorter one does not bring it forward.
        store
            .prescribe(&p.by, &protocol(&p, ada.id, 1, mins(82)))
            .unwrap();
        let list = store.clinic_patients(&p.by, now).unwrap();
        assert_eq!(list[0].status.next_due, Some(date(2025, 6, 18)));

        // A red flag 79 h after: open, unacknowledged, it counts for the
        // 72 h check-in, and no date while it is open.
        let flag = red_flag(store, ada.id, mins(79));
        let list = store.clinic_patients(&p.by, now).unwrap();
        let a = &list[0].status;
        assert_eq!(
            (
                a.open_red_flags,
                a.unacknowledged_red_flags,
                a.overdue_checkins,
                a.next_due
            ),
            (Some(1), Some(1), Some(0), None)
        );
        store.acknowledge(&p.by, ada.id, flag, "", now).unwrap();
        let a = store.clinic_patients(&p.by, now).unwrap()[0].status.clone();
        assert_eq!(
            (a.open_red_flags, a.unacknowledged_red_flags),
            (Some(1), Some(0))
        );
        // Fifteen days on, the 7 and 14 day check-ins are missed too.
        store
            .resolve_episode(
                ada.id,
                flag,
                now,
                "fine",
                &crate::cases::doctor_examined(),
                None,
            )
            .unwrap();
        let later = ended + SignedDuration::from_hours(15 * 24);
        let a = store.clinic_patients(&p.by, later).unwrap()[0]
            .status
            .clone();
        assert_eq!(
            (
                a.open_red_flags,
                a.unacknowledged_red_flags,
                a.overdue_checkins,
                a.next_due
            ),
            (Some(0), Some(0), Some(2), Some(date(2025, 6, 18)))
        );
    }

    pub fn notifications_add_list_and_mark_read(store: &dyn Store) {
        let doc = account(store, "doc@example.org");
        let other = account(store, "other@example.org");
        let ada = profile(store, "Ada");
        let n1 = notification(doc.id, Some(ada.id), 10);
        let n2 = notification(doc.id, None, 20);
        let n3 = notification(doc.id, None, 30);
        let theirs = notification(other.id, None, 40);
        store
            .add_notifications(&[n1.clone(), n2.clone(), n3.clone(), theirs.clone()])
            .unwrap();
        assert_eq!(
            store.notifications(doc.id, 10).unwrap(),
            vec![n3.clone(), n2.clone(), n1.clone()]
        );
        assert_eq!(
            store.notifications(doc.id, 2).unwrap(),
            vec![n3.clone(), n2.clone()]
        );
        assert_eq!(store.unread_notifications(doc.id).unwrap(), 3);
        store.mark_notification_read(doc.id, n2.id, at(50)).unwrap();
        assert_eq!(store.unread_notifications(doc.id).unwrap(), 2);
        assert_eq!(
            store.notifications(doc.id, 10).unwrap()[1].read_at,
            Some(at(50))
        );
        // Marking again keeps the first time.
        store.mark_notification_read(doc.id, n2.id, at(60)).unwrap();
        assert_eq!(
            store.notifications(doc.id, 10).unwrap()[1].read_at,
            Some(at(50))
        );
        // Another account's notification: not found, unchanged.
        expect_not_found(store.mark_notification_read(doc.id, theirs.id, at(60)));
        expect_not_found(store.mark_notification_read(doc.id, NotificationId(id()), at(60)));
        assert_eq!(store.unread_notifications(other.id).unwrap(), 1);
        // All or nothing; duplicates and unknown accounts refused.
        expect_conflict(store.add_notifications(&[notification(doc.id, None, 70), n1.clone()]));
        expect_not_found(store.add_notifications(&[notification(AccountId(id()), None, 70)]));
        assert_eq!(store.notifications(doc.id, 10).unwrap().len(), 3);
        // A notification about a profile goes with the profile.
        store.delete_profile(ada.id).unwrap();
        assert_eq!(
            store
                .notifications(doc.id, 10)
                .unwrap()
                .iter()
                .map(|n| n.id)
                .collect::<Vec<_>>(),
            vec![n3.id, n2.id]
        );
    }

    pub fn escalation_steps_are_claimed_once(store: &dyn Store) {
        let p = practice(store, "Escalate");
        let ada = profile(store, "Ada");
        let bea = profile(store, "Bea");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        join(store, &p.by, bea.id, &scopes(&[Scope::Sessions]), 2);
        let flag = red_flag(store, ada.id, 100);
        red_flag(store, bea.id, 90); // not consented: never escalated

        let open = store.open_flags().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].clinic, p.clinic);
        assert_eq!(open[0].profile_id, ada.id);
        assert_eq!(open[0].patient_name, "Ada");
        assert_eq!(open[0].episode.id, flag);
        assert!(!open[0].acknowledged);
        assert!(open[0].sent_steps.is_empty());

        assert!(
            store
                .escalate_step_alone(p.clinic.id, ada.id, flag, 0, at(100))
                .unwrap()
        );
        assert!(
            !store
                .escalate_step_alone(p.clinic.id, ada.id, flag, 0, at(101))
                .unwrap()
        );
        assert!(
            store
                .escalate_step_alone(p.clinic.id, ada.id, flag, 1, at(340))
                .unwrap()
        );
        assert_eq!(
            store.open_flags().unwrap()[0].sent_steps,
            [0usize, 1].into_iter().collect()
        );
        expect_not_found(store.escalate_step_alone(p.clinic.id, ada.id, EpisodeId(id()), 0, at(1)));

        store.acknowledge(&p.by, ada.id, flag, "", at(350)).unwrap();
        assert!(store.open_flags().unwrap()[0].acknowledged);
        // The same patient in a second clinic: a separate line there.
        let q = practice(store, "Second");
        join(store, &q.by, ada.id, &all_scopes(), 360);
        let open = store.open_flags().unwrap();
        assert_eq!(open.len(), 2);
        let second = open.iter().find(|f| f.clinic.id == q.clinic.id).unwrap();
        assert!(!second.acknowledged);
        assert!(second.sent_steps.is_empty());
        store
            .resolve_episode(
                ada.id,
                flag,
                at(400),
                "fine",
                &crate::cases::doctor_examined(),
                None,
            )
            .unwrap();
        assert!(store.open_flags().unwrap().is_empty());
    }

    /// Issue 18: a step's claim, notifications and emails commit together
    /// or not at all, so a crash or a failure mid-step leaves it unclaimed
    /// for the next run, never claimed with nothing sent.
    pub fn an_escalation_step_is_claimed_with_its_messages_or_not_at_all(store: &dyn Store) {
        let p = practice(store, "Outbox");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 1);
        let flag = red_flag(store, ada.id, 100);
        let claim = EscalationClaim {
            clinic: p.clinic.id,
            profile: ada.id,
            episode: flag,
            step: 0,
            at: at(100),
        };
        let outbox = |s: &dyn Store| s.emails(100).unwrap().len();
        let (emails_before, notes_before) = (
            outbox(store),
            store.notifications(p.doctor.id, 100).unwrap().len(),
        );
        // A notification for an account that does not exist fails the
        // whole step: nothing is claimed, nothing queued.
        let bad_note = notification(AccountId(id()), None, 100);
        let err = store.escalate_step(
            &claim,
            &[notification(p.doctor.id, None, 100), bad_note],
            &[email("dr@clinic.example", 100)],
        );
        assert!(err.is_err(), "{err:?}");
        assert!(store.open_flags().unwrap()[0].sent_steps.is_empty());
        assert_eq!(outbox(store), emails_before);
        assert_eq!(
            store.notifications(p.doctor.id, 100).unwrap().len(),
            notes_before
        );
        // An email without a recipient is refused before anything is written.
        expect_invalid(store.escalate_step(&claim, &[], &[email(" ", 100)]));
        assert!(store.open_flags().unwrap()[0].sent_steps.is_empty());
        // The next run claims it with everything.
        assert!(
            store
                .escalate_step(
                    &claim,
                    &[notification(p.doctor.id, None, 100)],
                    &[email("dr@clinic.example", 100)],
                )
                .unwrap()
        );
        assert_eq!(outbox(store), emails_before + 1);
        assert_eq!(
            store.notifications(p.doctor.id, 100).unwrap().len(),
            notes_before + 1
        );
        // A second worker's claim of the same step writes nothing.
        assert!(
            !store
                .escalate_step(
                    &claim,
                    &[notification(p.doctor.id, None, 101)],
                    &[email("dr@clinic.example", 101)],
                )
                .unwrap()
        );
        assert_eq!(outbox(store), emails_before + 1);
        assert_eq!(
            store.open_flags().unwrap()[0].sent_steps,
            [0usize].into_iter().collect()
        );
    }

    pub fn open_flags_are_visible_from_the_check_ins_grant(store: &dyn Store) {
        let p = practice(store, "Visible");
        let flag_of = |profile: ProfileId, clinic: ClinicId| {
            store
                .open_flags()
                .unwrap()
                .into_iter()
                .filter(|f| f.profile_id == profile && f.clinic.id == clinic)
                .map(|f| f.visible_since)
                .collect::<Vec<_>>()
        };
        let three_days = 3 * 24 * 60;

        // Raised three days before joining with check-ins: visible from the
        // join, not from the flag.
        let ada = profile(store, "Ada");
        let old = red_flag(store, ada.id, 0);
        join(store, &p.by, ada.id, &all_scopes(), three_days);
        let open = store.open_flags().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].episode.id, old);
        assert_eq!(open[0].episode.opened_at, at(0));
        assert_eq!(open[0].visible_since, at(three_days));

        // Raised after the grant: visible from the flag.
        let cara = profile(store, "Cara");
        join(store, &p.by, cara.id, &all_scopes(), 10);
        red_flag(store, cara.id, 50);
        assert_eq!(flag_of(cara.id, p.clinic.id), [at(50)]);

        // Joined without check-ins, raised, then shared: visible from the
        // grant. Granting a held scope again keeps the first grant; a
        // revoke and a new grant start afresh.
        let bea = profile(store, "Bea");
        join(store, &p.by, bea.id, &scopes(&[Scope::Sessions]), 10);
        red_flag(store, bea.id, 20);
        assert!(flag_of(bea.id, p.clinic.id).is_empty());
        store
            .set_consent(bea.id, p.clinic.id, Scope::Checkins, true, at(100))
            .unwrap();
        assert_eq!(flag_of(bea.id, p.clinic.id), [at(100)]);
        store
            .set_consent(bea.id, p.clinic.id, Scope::Checkins, true, at(200))
            .unwrap();
        assert_eq!(flag_of(bea.id, p.clinic.id), [at(100)]);
        store
            .set_consent(bea.id, p.clinic.id, Scope::Checkins, false, at(300))
            .unwrap();
        assert!(flag_of(bea.id, p.clinic.id).is_empty());
        store
            .set_consent(bea.id, p.clinic.id, Scope::Checkins, true, at(400))
            .unwrap();
        assert_eq!(flag_of(bea.id, p.clinic.id), [at(400)]);

        // Each clinic has its own moment.
        let q = practice(store, "Later");
        join(store, &q.by, ada.id, &all_scopes(), three_days + 500);
        assert_eq!(flag_of(ada.id, p.clinic.id), [at(three_days)]);
        assert_eq!(flag_of(ada.id, q.clinic.id), [at(three_days + 500)]);

        // The red-flag queue says the same.
        let queue = store.red_flag_queue(&p.by, at(three_days + 600)).unwrap();
        let mut seen: Vec<_> = queue
            .iter()
            .map(|f| {
                (
                    f.patient_name.as_str(),
                    f.episode.opened_at,
                    f.visible_since,
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("Ada", at(0), at(three_days)),
                ("Bea", at(20), at(400)),
                ("Cara", at(50), at(50)),
            ]
        );
        let queue = store.red_flag_queue(&q.by, at(three_days + 600)).unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].visible_since, at(three_days + 500));
    }

    pub fn mail_status_counts_the_team_emails_only(store: &dyn Store) {
        let p = practice(store, "Alder");
        let staff = member(store, &p, Role::Staff, "Sam", 1);
        let staff_email = store.account(staff.account).unwrap().unwrap().email;
        let other = practice(store, "Birch");
        // Nothing queued yet.
        assert_eq!(
            store.clinic_mail_status(&p.by).unwrap(),
            MailStatus::default()
        );
        let waiting_old = email(&p.doctor.email, 10);
        let waiting_new = Email {
            attempts: 2,
            last_error: "connection refused".into(),
            ..email(&staff_email, 20)
        };
        let given_up = Email {
            attempts: 5,
            last_error: "mailbox unavailable".into(),
            ..email(&p.doctor.email, 15)
        };
        let sent = Email {
            sent_at: Some(at(6)),
            attempts: 1,
            ..email(&p.doctor.email, 5)
        };
        let elsewhere = Email {
            last_error: "not ours".into(),
            attempts: 1,
            ..email(&other.doctor.email, 1)
        };
        for e in [&waiting_old, &waiting_new, &given_up, &sent, &elsewhere] {
            store.queue_email(e).unwrap();
        }
        let status = store.clinic_mail_status(&p.by).unwrap();
        assert_eq!(
            status,
            MailStatus {
                waiting: 2,
                oldest_waiting: Some(at(10)),
                given_up: 1,
                last_error: Some("connection refused".into()),
            }
        );
        // Any member may see it; the other clinic sees only its own.
        assert_eq!(store.clinic_mail_status(&staff).unwrap(), status);
        assert_eq!(
            store.clinic_mail_status(&other.by).unwrap(),
            MailStatus {
                waiting: 1,
                oldest_waiting: Some(at(1)),
                given_up: 0,
                last_error: Some("not ours".into()),
            }
        );
        // Sending clears it.
        store.finish_email(waiting_old.id, Ok(()), at(30)).unwrap();
        store.finish_email(waiting_new.id, Ok(()), at(30)).unwrap();
        let after = store.clinic_mail_status(&p.by).unwrap();
        assert_eq!((after.waiting, after.oldest_waiting), (0, None));
        assert_eq!(after.last_error.as_deref(), Some("mailbox unavailable"));
        // Outsiders learn nothing.
        expect_not_found(store.clinic_mail_status(&ClinicAccess {
            clinic: p.clinic.id,
            account: other.doctor.id,
        }));
    }

    pub fn email_outbox_leases_and_retries(store: &dyn Store) {
        let lease = SignedDuration::from_mins(5);
        let e1 = email("a@example.org", 1);
        let e2 = email("b@example.org", 2);
        let e3 = email("c@example.org", 3);
        for e in [&e1, &e2, &e3] {
            store.queue_email(e).unwrap();
        }
        expect_conflict(store.queue_email(&e1));
        let claimed = store.claim_emails(at(10), lease, 2).unwrap();
        assert_eq!(
            claimed
                .iter()
                .map(|e| (e.id, e.attempts))
                .collect::<Vec<_>>(),
            vec![(e1.id, 1), (e2.id, 1)]
        );
        assert_eq!(claimed[0].to, "a@example.org");
        // Leased: another instance gets only the third.
        let other = store.claim_emails(at(11), lease, 10).unwrap();
        assert_eq!(other.iter().map(|e| e.id).collect::<Vec<_>>(), vec![e3.id]);
        assert!(store.claim_emails(at(12), lease, 10).unwrap().is_empty());

        store.finish_email(e1.id, Ok(()), at(13)).unwrap();
        store
            .finish_email(e2.id, Err("connection refused".into()), at(13))
            .unwrap();
        expect_not_found(store.finish_email(EmailId(id()), Ok(()), at(13)));
        // After the lease: the failed one again, the sent one never.
        let retry = store.claim_emails(at(15), lease, 10).unwrap();
        assert_eq!(
            retry.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(),
            vec![(e2.id, 2)]
        );
        assert_eq!(retry[0].last_error, "connection refused");
        // At most 5 attempts in all.
        let mut t = 15;
        for attempt in 3..=5 {
            t += 5;
            let got = store.claim_emails(at(t), lease, 10).unwrap();
            let e2s: Vec<u32> = got
                .iter()
                .filter(|e| e.id == e2.id)
                .map(|e| e.attempts)
                .collect();
            assert_eq!(e2s, vec![attempt]);
        }
        t += 5;
        assert!(
            store
                .claim_emails(at(t), lease, 10)
                .unwrap()
                .iter()
                .all(|e| e.id != e2.id)
        );
        let all = store.emails(10).unwrap();
        assert_eq!(
            all.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![e3.id, e2.id, e1.id]
        );
        assert_eq!(all[2].sent_at, Some(at(13)));
        assert_eq!(all[2].attempts, 1);
        assert_eq!(all[1].sent_at, None);
        assert_eq!(all[1].attempts, 5);
        assert_eq!(store.emails(1).unwrap().len(), 1);
    }

    pub fn totp_steps_are_never_accepted_twice(store: &dyn Store) {
        let doc = account(store, "doc@example.org");
        assert_eq!(store.totp(doc.id).unwrap(), None);
        let secret = TotpSecret {
            account_id: doc.id,
            secret: (0u8..20).collect(),
            enabled_at: None,
            last_step: 0,
            pending_session: None,
        };
        store.set_totp(doc.id, Some(&secret)).unwrap();
        assert_eq!(store.totp(doc.id).unwrap(), Some(secret.clone()));
        let shown = format!("{secret:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("18, 19"), "{shown}");
        assert!(store.use_totp_step(doc.id, 100).unwrap());
        assert!(!store.use_totp_step(doc.id, 100).unwrap(), "a replay");
        assert!(!store.use_totp_step(doc.id, 99).unwrap(), "an older code");
        assert!(store.use_totp_step(doc.id, 101).unwrap());
        assert_eq!(store.totp(doc.id).unwrap().unwrap().last_step, 101);
        // Enabling replaces the whole secret.
        let enabled = TotpSecret {
            enabled_at: Some(at(5)),
            last_step: 101,
            pending_session: None,
            ..secret.clone()
        };
        store.set_totp(doc.id, Some(&enabled)).unwrap();
        assert_eq!(store.totp(doc.id).unwrap(), Some(enabled));
        store.set_totp(doc.id, None).unwrap();
        assert_eq!(store.totp(doc.id).unwrap(), None);
        expect_not_found(store.use_totp_step(doc.id, 200));
        let unknown = AccountId(id());
        expect_not_found(store.set_totp(
            unknown,
            Some(&TotpSecret {
                account_id: unknown,
                ..secret.clone()
            }),
        ));
        let other = account(store, "other@example.org");
        expect_invalid(store.set_totp(other.id, Some(&secret)));
    }

    /// A pending secret names the session it was made for; starting again
    /// from another session replaces it, and only the session it names may
    /// confirm it. An enabled secret is never replaced by enrolment.
    pub fn totp_enrolment_is_bound_to_its_session(store: &dyn Store) {
        let doc = account(store, "doc@example.org");
        let pending = |secret: Vec<u8>, session: &str| TotpSecret {
            account_id: doc.id,
            secret,
            enabled_at: None,
            last_step: 0,
            pending_session: Some(session.to_owned()),
        };
        let a = pending(vec![1; 20], "hash-of-a");
        assert!(store.begin_totp(&a).unwrap());
        assert_eq!(store.totp(doc.id).unwrap(), Some(a.clone()));
        let shown = format!("{a:?}");
        assert!(!shown.contains("hash-of-a"), "{shown}");
        // Another session starts over: its own secret, bound to it.
        let b = pending(vec![2; 20], "hash-of-b");
        assert!(store.begin_totp(&b).unwrap());
        assert_eq!(store.totp(doc.id).unwrap(), Some(b.clone()));
        // A's old secret, or B's secret from A, or A's from B: refused.
        assert!(
            !store
                .confirm_totp(doc.id, "hash-of-a", &a.secret, at(5), 7)
                .unwrap()
        );
        assert!(
            !store
                .confirm_totp(doc.id, "hash-of-a", &b.secret, at(5), 7)
                .unwrap()
        );
        assert!(
            !store
                .confirm_totp(doc.id, "hash-of-b", &a.secret, at(5), 7)
                .unwrap()
        );
        assert_eq!(store.totp(doc.id).unwrap(), Some(b.clone()));
        // B confirms its own: enabled, no longer any session's.
        assert!(
            store
                .confirm_totp(doc.id, "hash-of-b", &b.secret, at(5), 7)
                .unwrap()
        );
        let on = TotpSecret {
            enabled_at: Some(at(5)),
            last_step: 7,
            pending_session: None,
            ..b.clone()
        };
        assert_eq!(store.totp(doc.id).unwrap(), Some(on.clone()));
        assert!(
            !store
                .confirm_totp(doc.id, "hash-of-b", &b.secret, at(6), 8)
                .unwrap()
        );
        // Enrolling again never replaces the enabled secret.
        assert!(
            !store
                .begin_totp(&pending(vec![3; 20], "hash-of-c"))
                .unwrap()
        );
        assert_eq!(store.totp(doc.id).unwrap(), Some(on.clone()));
        // set_totp carries the binding too, and refuses it on an enabled
        // secret.
        store.set_totp(doc.id, Some(&a)).unwrap();
        assert_eq!(store.totp(doc.id).unwrap(), Some(a.clone()));
        expect_invalid(store.set_totp(
            doc.id,
            Some(&TotpSecret {
                pending_session: Some("hash-of-a".into()),
                ..on.clone()
            }),
        ));
        expect_invalid(store.begin_totp(&TotpSecret {
            pending_session: None,
            ..a.clone()
        }));
        expect_invalid(store.begin_totp(&TotpSecret {
            enabled_at: Some(at(9)),
            ..a.clone()
        }));
        expect_invalid(store.begin_totp(&pending(vec![4; 20], "")));
        assert_eq!(store.totp(doc.id).unwrap(), Some(a.clone()));
        // A confirmation with no pending secret at all changes nothing.
        store.set_totp(doc.id, None).unwrap();
        assert!(
            !store
                .confirm_totp(doc.id, "hash-of-a", &a.secret, at(5), 7)
                .unwrap()
        );
        assert_eq!(store.totp(doc.id).unwrap(), None);
        let unknown = AccountId(id());
        expect_not_found(store.begin_totp(&TotpSecret {
            account_id: unknown,
            ..a.clone()
        }));
    }

    /// Issue 17 §2: a new password ends every other session of the account
    /// in the same transaction; the one that changed it stays.
    pub fn changing_the_password_ends_the_other_sessions(store: &dyn Store) {
        let doc = account(store, "pw@example.org");
        let other = account(store, "pw-other@example.org");
        let here = web_session(doc.id, None, 0);
        let there = web_session(doc.id, None, 1);
        let theirs = web_session(other.id, None, 2);
        for s in [&here, &there, &theirs] {
            store.create_web_session(s).unwrap();
        }
        store
            .change_password(doc.id, "$argon2id$new", &here.token_hash)
            .unwrap();
        assert_eq!(
            store.account(doc.id).unwrap().unwrap().password_hash,
            "$argon2id$new"
        );
        assert_eq!(
            store.web_sessions_of(doc.id, at(3)).unwrap(),
            vec![here.clone()]
        );
        assert_eq!(store.web_sessions_of(other.id, at(3)).unwrap().len(), 1);
        expect_not_found(store.change_password(AccountId(id()), "$x", "t"));
        expect_not_found(store.change_password(AccountId::LOCAL, "$x", "t"));
        expect_invalid(store.change_password(doc.id, "", &here.token_hash));
    }

    pub fn web_sessions_verified_and_listed(store: &dyn Store) {
        let doc = account(store, "doc@example.org");
        let other = account(store, "other@example.org");
        let s0 = web_session(doc.id, None, 0);
        let s1 = web_session(doc.id, None, 10);
        let s2 = web_session(doc.id, None, 20);
        let theirs = web_session(other.id, None, 5);
        for s in [&s0, &s1, &s2, &theirs] {
            store.create_web_session(s).unwrap();
        }
        assert_eq!(
            store.web_sessions_of(doc.id, at(30)).unwrap(),
            vec![s2.clone(), s1.clone(), s0.clone()]
        );
        // s0 expires at 60.
        assert_eq!(
            store.web_sessions_of(doc.id, at(60)).unwrap(),
            vec![s2.clone(), s1.clone()]
        );
        store
            .mark_web_session_verified(&s1.token_hash, at(35))
            .unwrap();
        let got = store.web_session(&s1.token_hash, at(36)).unwrap().unwrap();
        assert_eq!(got.verified_at, Some(at(35)));
        assert_eq!(
            store.web_sessions_of(doc.id, at(36)).unwrap()[1].verified_at,
            Some(at(35))
        );
        assert_eq!(
            store
                .web_session(&s2.token_hash, at(36))
                .unwrap()
                .unwrap()
                .verified_at,
            None
        );
        expect_not_found(store.mark_web_session_verified(&token_hash(), at(36)));
        // A session created verified keeps it.
        let mut v = web_session(other.id, None, 40);
        v.verified_at = Some(at(40));
        store.create_web_session(&v).unwrap();
        assert_eq!(
            store.web_sessions_of(other.id, at(41)).unwrap(),
            vec![v, theirs]
        );
    }

    pub fn purge_expired_invites_drops_only_unused_expired_ones(store: &dyn Store) {
        let p = practice(store, "Tidy");
        let rows = |store: &dyn Store, table: &str| {
            store.snapshot().unwrap().table(table).unwrap().rows.len()
        };
        // Patient invites open for a day from minutes 0, 10 and 2000; the
        // one from 10 is used.
        let (stale, used, fresh) = (invite(&p.by, 0), invite(&p.by, 10), invite(&p.by, 2000));
        for i in [&stale, &used, &fresh] {
            store.create_invite(&p.by, i).unwrap();
        }
        let ada = profile(store, "Ada");
        store
            .redeem_invite(&used.code_hash, ada.id, &all_scopes(), at(20))
            .unwrap();
        // Team invitations alike; the one from 10 is accepted.
        let newcomer = account(store, "newcomer@example.org");
        let (t_stale, t_used, t_fresh) = (
            member_invite(&p.by, "late@example.org", Role::Staff, 0),
            member_invite(&p.by, "newcomer@example.org", Role::Staff, 10),
            member_invite(&p.by, "soon@example.org", Role::Staff, 2000),
        );
        for i in [&t_stale, &t_used, &t_fresh] {
            store.create_member_invite(&p.by, i).unwrap();
        }
        store
            .accept_member_invite(&t_used.code_hash, newcomer.id, at(20))
            .unwrap();

        // Before anything expired: nothing goes.
        assert_eq!(store.purge_expired_invites(at(24 * 60)).unwrap(), 0);
        // At minute 3000 the invites from 0 and 10 have expired; only the
        // unused ones go.
        assert_eq!(store.purge_expired_invites(at(3000)).unwrap(), 2);
        assert_eq!(rows(store, "clinic_invites"), 2);
        assert_eq!(rows(store, "clinic_member_invites"), 2);
        assert_eq!(store.purge_expired_invites(at(3000)).unwrap(), 0);
        // The open ones still work.
        let bea = profile(store, "Bea");
        assert_eq!(
            store
                .redeem_invite(&fresh.code_hash, bea.id, &all_scopes(), at(2001))
                .unwrap(),
            p.clinic.id
        );
        assert_eq!(
            store.member_invites(&p.by, at(2001)).unwrap(),
            vec![t_fresh]
        );
    }

    pub fn purge_rate_limits_drops_only_older_windows(store: &dyn Store) {
        let rows = |store: &dyn Store| {
            let mut keys: Vec<String> = store
                .snapshot()
                .unwrap()
                .table("rate_limits")
                .unwrap()
                .rows
                .iter()
                .map(|r| format!("{:?}", r[0]))
                .collect();
            keys.sort();
            keys
        };
        store.rate_limit_hit("login:ip:192.0.2.1", at(0)).unwrap();
        store.rate_limit_hit("login:ip:192.0.2.2", at(10)).unwrap();
        store.rate_limit_hit("mfa:code", at(20)).unwrap();
        store.rate_limit_hit("mfa:code", at(20)).unwrap();
        assert_eq!(store.purge_rate_limits(at(0)).unwrap(), 0);
        assert_eq!(rows(store).len(), 3);
        // Windows started before minute 20 go; the one at 20 stays whole.
        assert_eq!(store.purge_rate_limits(at(20)).unwrap(), 2);
        let left = rows(store);
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].contains("mfa:code"), "{left:?}");
        assert_eq!(store.rate_limit_hit("mfa:code", at(20)).unwrap(), 3);
        assert_eq!(store.purge_rate_limits(at(20)).unwrap(), 0);
    }

    pub fn rate_limit_counts_per_window(store: &dyn Store) {
        let key = "login:email:ada@example.org";
        assert_eq!(store.rate_limit_hit(key, at(0)).unwrap(), 1);
        assert_eq!(store.rate_limit_hit(key, at(0)).unwrap(), 2);
        assert_eq!(store.rate_limit_hit(key, at(0)).unwrap(), 3);
        assert_eq!(
            store.rate_limit_hit("login:ip:192.0.2.1", at(0)).unwrap(),
            1
        );
        assert_eq!(
            store.rate_limit_hit(key, at(15)).unwrap(),
            1,
            "a new window"
        );
        assert_eq!(store.rate_limit_hit(key, at(15)).unwrap(), 2);
        // The older window was dropped: counting in it starts afresh.
        assert_eq!(store.rate_limit_hit(key, at(0)).unwrap(), 1);
        // The other key's window is untouched.
        assert_eq!(
            store.rate_limit_hit("login:ip:192.0.2.1", at(0)).unwrap(),
            2
        );
        let rows = store
            .snapshot()
            .unwrap()
            .table("rate_limits")
            .unwrap()
            .rows
            .len();
        assert_eq!(rows, 3);
    }

    pub fn deleting_a_patient_removes_their_clinic_data(store: &dyn Store) {
        let p = practice(store, "Deletion");
        let patient = account(store, "patient@example.org");
        let ada = profile_in(store, patient.id, "Ada");
        let keep = profile(store, "Keep");
        for (i, who) in [ada.id, keep.id].into_iter().enumerate() {
            join(store, &p.by, who, &all_scopes(), i as i64);
            store.log_session(&session(who, None, 100), None).unwrap();
            let flag = red_flag(store, who, 200);
            store.acknowledge(&p.by, who, flag, "", at(201)).unwrap();
            store
                .escalate_step_alone(p.clinic.id, who, flag, 0, at(200))
                .unwrap();
            store.prescribe(&p.by, &protocol(&p, who, 10, 202)).unwrap();
            store
                .add_override(&p.by, &an_override(&p, who, "S-ISO", 203))
                .unwrap();
            store.patient_record(&p.by, who, at(204)).unwrap().unwrap();
            store
                .add_notifications(&[notification(p.doctor.id, Some(who), 205)])
                .unwrap();
        }
        let inv = invite(&p.by, 300);
        store.create_invite(&p.by, &inv).unwrap();
        let ben = profile_in(store, patient.id, "Ben");
        join(store, &p.by, ben.id, &scopes(&[Scope::Sessions]), 301);

        store.delete_profile(ada.id).unwrap();
        let snap = store.snapshot().unwrap();
        let ada_text = ada.id.to_string();
        for t in &snap.tables {
            for row in &t.rows {
                assert!(
                    !row.iter().any(|c| c.as_text() == Some(ada_text.as_str())),
                    "{} still mentions the deleted profile: {row:?}",
                    t.table
                );
            }
        }
        assert!(store.audit_log(ada.id, 100).unwrap().is_empty());
        assert!(store.patient_clinics(ada.id).unwrap().is_empty());
        assert_eq!(store.patient_record(&p.by, ada.id, at(400)).unwrap(), None);
        assert_eq!(
            store
                .clinic_patients(&p.by, at(400))
                .unwrap()
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            vec!["Ben", "Keep"]
        );
        assert_eq!(store.notifications(p.doctor.id, 10).unwrap().len(), 1);
        assert_eq!(store.open_flags().unwrap().len(), 1);
        // The other patient's clinic data is all there.
        assert!(store.active_protocol(keep.id).unwrap().is_some());
        assert_eq!(store.active_overrides(keep.id).unwrap().len(), 1);
        assert!(!store.audit_log(keep.id, 100).unwrap().is_empty());

        // Deleting the patient's account takes the rest.
        store.delete_account(patient.id).unwrap();
        assert!(store.patient_clinics(ben.id).unwrap().is_empty());
        assert!(store.audit_log(ben.id, 100).unwrap().is_empty());

        // The clinician's account: the clinic stays, without them.
        let colleague = member(store, &p, Role::Clinician, "Colleague", 500);
        store
            .set_totp(
                p.doctor.id,
                Some(&TotpSecret {
                    account_id: p.doctor.id,
                    secret: vec![1; 20],
                    enabled_at: None,
                    last_step: 0,
                    pending_session: None,
                }),
            )
            .unwrap();
        store.delete_account(p.doctor.id).unwrap();
        assert!(store.memberships(p.doctor.id).unwrap().is_empty());
        assert_eq!(store.totp(p.doctor.id).unwrap(), None);
        assert!(store.notifications(p.doctor.id, 10).unwrap().is_empty());
        assert!(store.clinic(p.clinic.id).unwrap().is_some());
        assert_eq!(
            store
                .members(&colleague)
                .unwrap()
                .iter()
                .map(|m| m.account_id)
                .collect::<Vec<_>>(),
            vec![colleague.account]
        );
        assert_eq!(store.clinic_patients(&colleague, at(600)).unwrap().len(), 1);
        // The last member leaving does not break the clinic either.
        store.delete_account(colleague.account).unwrap();
        assert!(store.clinic(p.clinic.id).unwrap().is_some());
        assert_eq!(store.patient_clinics(keep.id).unwrap().len(), 1);
    }

    pub fn clinic_data_survives_snapshot_and_restore(store: &dyn Store) {
        let ada = profile(store, "Ada");
        store
            .save_screening(&screening(ada.id, 1, Verdict::Go))
            .unwrap();
        let bea = profile(store, "Bea");
        let p = fill_clinic(store, &[ada.id, bea.id]);
        let before = store.checksums().unwrap();
        for t in [
            "clinics",
            "clinic_members",
            "clinic_member_invites",
            "clinic_invites",
            "clinic_patients",
            "consents",
            "protocols",
            "rule_overrides",
            "red_flag_acks",
            "escalations",
            "notifications",
            "audit_log",
            "email_outbox",
            "totp_secrets",
            "rate_limits",
        ] {
            assert!(before.get(t).unwrap().rows > 0, "{t} is empty");
        }
        let snap = store.snapshot().unwrap();
        let reads = |s: &dyn Store| {
            (
                s.patient_clinics(ada.id).unwrap(),
                s.audit_log(ada.id, 100).unwrap(),
                s.active_protocol(ada.id).unwrap(),
                s.active_overrides(ada.id).unwrap(),
                s.notifications(p.doctor.id, 10).unwrap(),
                s.totp(p.doctor.id).unwrap(),
                s.emails(10).unwrap(),
                s.web_sessions_of(p.doctor.id, at(741)).unwrap(),
                s.memberships(p.doctor.id).unwrap(),
            )
        };
        let typed = reads(store);
        assert_eq!(typed.7[0].verified_at, Some(at(741)));
        store
            .restore_snapshot(&snap, needlewise_store::RestoreMode::Replace)
            .unwrap();
        assert_eq!(store.checksums().unwrap(), before);
        assert_eq!(store.snapshot().unwrap(), snap);
        assert_eq!(reads(store), typed);
        // And it still works as a store.
        let cy = profile(store, "Cy");
        join(store, &p.by, cy.id, &all_scopes(), 800);
        assert_eq!(store.clinic_patients(&p.by, at(801)).unwrap().len(), 3);
    }

    /// Data from before the clinic side (schema 1) restores into this
    /// schema, its clinic tables empty and its sessions not verified,
    /// from a snapshot and from a backup file.
    pub fn version_1_data_restores_with_empty_clinic_tables(store: &dyn Store) {
        use needlewise_store::backup;
        use needlewise_store::snapshot::{ChecksumBuilder, TABLES, TableRows};
        use needlewise_store::{RestoreMode, Snapshot};

        crate::portability::fill(store, AccountId::LOCAL, "me", "v1 notes", "v1 balm");
        let other = account(store, "old@example.org");
        store
            .create_web_session(&web_session(other.id, None, 10))
            .unwrap();
        let mut current = store.snapshot().unwrap();
        // The one column of a later schema this data uses: the resolver of
        // its resolved red flag (schema 7), which schema 1 cannot hold.
        let episodes = TABLES.iter().find(|t| t.name == "episodes").unwrap();
        let resolver = episodes.column("resolver").unwrap();
        for row in &mut current
            .tables
            .iter_mut()
            .find(|t| t.table == "episodes")
            .unwrap()
            .rows
        {
            assert_ne!(row[resolver], needlewise_store::snapshot::Cell::Null);
            row[resolver] = needlewise_store::snapshot::Cell::Null;
        }
        let sums = current.checksums().unwrap();
        // The same data as a schema-1 build had it.
        let old = Snapshot {
            schema_version: 1,
            tables: TABLES
                .iter()
                .filter(|t| t.in_version(1))
                .map(|t| TableRows {
                    table: t.name,
                    rows: current
                        .table(t.name)
                        .unwrap()
                        .rows
                        .iter()
                        .map(|r| t.columns_in(1).map(|(i, _)| r[i].clone()).collect())
                        .collect(),
                })
                .collect(),
        };
        let ws = old.table("web_sessions").unwrap();
        assert_eq!(ws.rows[0].len(), TABLES[2].columns.len() - 1);
        store.restore_snapshot(&old, RestoreMode::Replace).unwrap();
        assert_eq!(store.checksums().unwrap(), sums);
        assert_eq!(store.snapshot().unwrap(), current);

        // A schema-1 backup file: header, rows without the new columns,
        // checksums as schema 1 computed them.
        let mut builder = ChecksumBuilder::for_version(1);
        let mut lines = Vec::new();
        for row in current.rows() {
            let def = row.def();
            if !def.in_version(1) {
                continue;
            }
            builder.add(&row).unwrap();
            let mut json = backup::row_json(&row);
            for (i, c) in def.columns.iter().enumerate() {
                if c.since > 1 {
                    assert_eq!(row.cells[i], c.missing_cell());
                    json.as_object_mut().unwrap().remove(c.name);
                }
            }
            lines.push(serde_json::json!({"table": def.name, "row": json}).to_string());
        }
        let v1_sums = builder.finish();
        assert_eq!(
            v1_sums.tables.len(),
            TABLES.iter().filter(|t| t.in_version(1)).count()
        );
        let header = serde_json::json!({
            "magic": backup::MAGIC,
            "format": 1,
            "schema_version": 1,
            "created_at": "2025-06-01T00:00:00Z",
            "source": "sqlite",
            "tables": v1_sums.tables,
        });
        let mut text = format!("{header}\n");
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        text.push_str(&format!(
            "{}\n",
            serde_json::json!({"end": true, "rows": lines.len()})
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.nwb.gz");
        {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(
                std::fs::File::create(&path).unwrap(),
                flate2::Compression::fast(),
            );
            gz.write_all(text.as_bytes()).unwrap();
            gz.finish().unwrap();
        }
        // Replace the store's data with something else first.
        let p = practice(store, "Later");
        assert_ne!(store.checksums().unwrap(), sums);
        let header = backup::restore_file(store, &path, RestoreMode::Replace, &mut |_| {}).unwrap();
        assert_eq!(header.schema_version, 1);
        assert_eq!(store.checksums().unwrap(), sums);
        assert_eq!(store.clinic(p.clinic.id).unwrap(), None);
        // A damaged schema-1 file is still refused by its checksums.
        let changed = text.replace("v1 notes", "v1 notez");
        std::fs::write(&path, {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(changed.as_bytes()).unwrap();
            gz.finish().unwrap()
        })
        .unwrap();
        match backup::restore_file(store, &path, RestoreMode::Replace, &mut |_| {}) {
            Err(StoreError::Invalid { what }) => assert!(what.contains("checksums"), "{what}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert_eq!(store.checksums().unwrap(), sums);
    }

    /// Data from schema 2 (before pending secrets named their session)
    /// restores into this schema with no session bound, from a snapshot
    /// and from a backup file.
    pub fn version_2_data_restores_with_no_pending_session(store: &dyn Store) {
        use needlewise_store::backup;
        use needlewise_store::snapshot::{Cell, TABLES, TableRows};
        use needlewise_store::{RestoreMode, Snapshot};

        let ada = profile(store, "Ada");
        let p = fill_clinic(store, &[ada.id]);
        // A pending secret, bound to a session: schema 2 cannot hold that.
        let pending = TotpSecret {
            account_id: p.doctor.id,
            secret: vec![5; 20],
            enabled_at: None,
            last_step: 0,
            pending_session: Some("hash-of-a".into()),
        };
        store.set_totp(p.doctor.id, Some(&pending)).unwrap();
        let current = store.snapshot().unwrap();
        let totp = TABLES
            .iter()
            .position(|t| t.name == "totp_secrets")
            .unwrap();
        let column = TABLES[totp].column("pending_session").unwrap();
        assert_eq!(TABLES[totp].columns[column].since, 3);
        // What this store holds once restored from schema-2 data.
        let mut expected = current.clone();
        let rows = &mut expected
            .tables
            .iter_mut()
            .find(|t| t.table == "totp_secrets")
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 1);
        for row in rows {
            assert_eq!(row[column], Cell::Text("hash-of-a".into()));
            row[column] = Cell::Null;
        }
        // Schema 2 has no team invitations either.
        let invites = &mut expected
            .tables
            .iter_mut()
            .find(|t| t.table == "clinic_member_invites")
            .unwrap()
            .rows;
        assert_eq!(invites.len(), 1);
        invites.clear();
        let expected_sums = expected.checksums().unwrap();
        let v2 = |snap: &Snapshot| Snapshot {
            schema_version: 2,
            tables: TABLES
                .iter()
                .filter(|t| t.in_version(2))
                .map(|t| TableRows {
                    table: t.name,
                    rows: snap
                        .table(t.name)
                        .unwrap()
                        .rows
                        .iter()
                        .map(|r| t.columns_in(2).map(|(i, _)| r[i].clone()).collect())
                        .collect(),
                })
                .collect(),
        };
        let old = v2(&current);
        assert_eq!(
            old.table("totp_secrets").unwrap().rows[0].len(),
            TABLES[totp].columns.len() - 1
        );
        store.restore_snapshot(&old, RestoreMode::Replace).unwrap();
        assert_eq!(store.snapshot().unwrap(), expected);
        assert_eq!(store.checksums().unwrap(), expected_sums);
        assert_eq!(
            store.totp(p.doctor.id).unwrap(),
            Some(TotpSecret {
                pending_session: None,
                ..pending.clone()
            })
        );

        // A schema-2 backup file, checksums as schema 2 computed them.
        let dir = tempfile::tempdir().unwrap();
        let path = crate::backup::old_backup_file(&expected, 2, "2026-01-01T00:00:00Z", dir.path());
        store.set_totp(p.doctor.id, None).unwrap();
        assert_ne!(store.checksums().unwrap(), expected_sums);
        let header = backup::restore_file(store, &path, RestoreMode::Replace, &mut |_| {}).unwrap();
        assert_eq!(header.schema_version, 2);
        assert_eq!(store.checksums().unwrap(), expected_sums);
        assert_eq!(store.snapshot().unwrap(), expected);
    }

    /// Data from schema 3 (before team invitations) restores into this
    /// schema with no team invitations.
    pub fn version_3_data_restores_with_no_member_invites(store: &dyn Store) {
        use needlewise_store::snapshot::{SCHEMA_VERSION, TABLES, TableRows};
        use needlewise_store::{RestoreMode, Snapshot};

        assert_eq!(SCHEMA_VERSION, 14);
        let invites = TABLES
            .iter()
            .find(|t| t.name == "clinic_member_invites")
            .unwrap();
        assert_eq!(invites.since, 4);
        assert!(!invites.in_version(3));
        let ada = profile(store, "Ada");
        let p = fill_clinic(store, &[ada.id]);
        let open = store.member_invites(&p.by, at(711)).unwrap();
        assert_eq!(open.len(), 1);
        let current = store.snapshot().unwrap();
        assert_eq!(current.schema_version, SCHEMA_VERSION);
        assert_eq!(
            current.table("clinic_member_invites").unwrap().rows.len(),
            1
        );
        let v3 = Snapshot {
            schema_version: 3,
            tables: TABLES
                .iter()
                .filter(|t| t.in_version(3))
                .map(|t| TableRows {
                    table: t.name,
                    rows: current.table(t.name).unwrap().rows.clone(),
                })
                .collect(),
        };
        store.restore_snapshot(&v3, RestoreMode::Replace).unwrap();
        let mut expected = current.clone();
        expected
            .tables
            .iter_mut()
            .find(|t| t.table == "clinic_member_invites")
            .unwrap()
            .rows
            .clear();
        assert_eq!(store.snapshot().unwrap(), expected);
        assert_eq!(store.member_invite(&open[0].code_hash).unwrap(), None);
        assert_eq!(store.members(&p.by).unwrap().len(), 1);
    }
}
