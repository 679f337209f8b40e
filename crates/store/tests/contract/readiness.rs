//! Readiness checks, where a session was done, who resolved a red flag,
//! the last session on the home page, and their place in snapshots and
//! backups (schema 7).

use needlewise_core::answers::{Answer, Answers};
use needlewise_core::clinic::{Role, Scope};
use needlewise_core::evidence;
use needlewise_core::ids::{DeviceId, EpisodeId, ProfileId, ReadinessCheckId};
use needlewise_core::records::{ReadinessCheckRecord, Resolver, SessionRecord, SessionSetting};
use needlewise_core::schedule::LastSession;
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_store::snapshot::{Cell, TABLES, TableRows};
use needlewise_store::{RestoreMode, Snapshot, Store, StoreError};
use serde_json::json;

use crate::cases::{at, checkin, id, profile, roller, session};
use crate::clinic::{all_scopes, join, member, practice, red_flag, scopes};

/// A readiness check for `device` at `minutes`, with a fact and a
/// person's answer that must both survive the round trip.
pub fn readiness_check(
    profile: ProfileId,
    device: Option<DeviceId>,
    minutes: i64,
    go: bool,
) -> ReadinessCheckRecord {
    let mut answers = Answers::from_stored_json(
        &evidence().readiness,
        &json!({"skin_cleansed": true, "cold_sore_now": !go, "active_problem_zones": ["chin"]}),
    )
    .unwrap();
    answers.set("interval_waiting", Answer::Bool(false));
    answers.set(
        "planned_zones",
        Answer::Zones([Zone::Forehead, Zone::LeftCheek].into_iter().collect()),
    );
    ReadinessCheckRecord {
        id: ReadinessCheckId(id()),
        profile_id: profile,
        device_id: device,
        at: at(minutes),
        answers,
        go,
        rule_ids: if go {
            Vec::new()
        } else {
            vec!["ready.cold_sore_now".to_owned()]
        },
    }
}

/// Saves a readiness check, a home session it allowed and a clinic
/// session, for a profile that has a device.
pub fn fill_readiness(store: &dyn Store, p: ProfileId) -> (ReadinessCheckRecord, SessionRecord) {
    let device = store.devices(p).unwrap().first().map(|d| d.id);
    let check = readiness_check(p, device, 5000, true);
    store.save_readiness_check(&check).unwrap();
    store
        .save_readiness_check(&readiness_check(p, device, 4990, false))
        .unwrap();
    let home = SessionRecord {
        readiness_check_id: Some(check.id),
        ..session(p, None, 5010)
    };
    store.log_session(&home, None).unwrap();
    let clinic = SessionRecord {
        setting: SessionSetting::Clinic,
        needle_length_mm: 1.5,
        ..session(p, None, 9000)
    };
    store.log_session(&clinic, None).unwrap();
    (check, clinic)
}

fn expect_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn expect_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn expect_forbidden<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Forbidden { .. }) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

pub mod cases {
    use super::*;

    pub fn readiness_checks_round_trip_and_latest_is_per_device(store: &dyn Store) {
        let p = profile(store, "Ada");
        let other = profile(store, "Bea");
        let d1 = roller(store, p.id, "Bathroom roller", 0).id;
        let d2 = roller(store, p.id, "Travel roller", 1).id;
        let theirs = roller(store, other.id, "Bea's roller", 2).id;
        assert!(store.readiness_checks(p.id).unwrap().is_empty());

        let c1 = readiness_check(p.id, Some(d1), 100, true);
        let c2 = readiness_check(p.id, Some(d1), 200, false);
        let c3 = readiness_check(p.id, Some(d2), 300, true);
        let c4 = readiness_check(p.id, Some(d1), 400, true);
        let c5 = readiness_check(p.id, None, 150, true);
        // Saved out of order: reads order by time.
        for c in [&c4, &c2, &c5, &c1, &c3] {
            store.save_readiness_check(c).unwrap();
        }
        let all = store.readiness_checks(p.id).unwrap();
        assert_eq!(
            all,
            vec![c4.clone(), c3.clone(), c2.clone(), c5.clone(), c1.clone()]
        );
        assert_eq!(all[2].answers.to_json(), c2.answers.to_json());
        assert_eq!(all[2].rule_ids, vec!["ready.cold_sore_now".to_owned()]);
        assert_eq!(
            all[2].answers.get("interval_waiting"),
            Some(&Answer::Bool(false))
        );
        assert_eq!(
            store.readiness_check(p.id, c2.id).unwrap(),
            Some(c2.clone())
        );
        assert_eq!(
            store.readiness_check(p.id, ReadinessCheckId(id())).unwrap(),
            None
        );
        // Another profile sees none of them, not even by id.
        assert_eq!(store.readiness_check(other.id, c2.id).unwrap(), None);
        assert!(store.readiness_checks(other.id).unwrap().is_empty());

        // The newest for that device at or before the moment.
        let latest = |device, minutes| {
            store
                .latest_readiness_check(p.id, device, at(minutes))
                .unwrap()
                .map(|c| c.id)
        };
        assert_eq!(latest(d1, 99), None);
        assert_eq!(latest(d1, 100), Some(c1.id));
        assert_eq!(latest(d1, 199), Some(c1.id));
        assert_eq!(latest(d1, 200), Some(c2.id), "at the same moment counts");
        assert_eq!(latest(d1, 350), Some(c2.id), "not the other device's");
        assert_eq!(latest(d1, 10_000), Some(c4.id));
        assert_eq!(latest(d2, 299), None);
        assert_eq!(latest(d2, 10_000), Some(c3.id));
        assert_eq!(
            store
                .latest_readiness_check(other.id, d1, at(10_000))
                .unwrap(),
            None
        );

        // A taken id, an unknown profile, another profile's device.
        let before = store.checksums().unwrap();
        expect_conflict(store.save_readiness_check(&ReadinessCheckRecord {
            at: at(500),
            ..c1.clone()
        }));
        expect_not_found(store.save_readiness_check(&readiness_check(
            ProfileId(id()),
            None,
            500,
            true,
        )));
        expect_not_found(store.save_readiness_check(&readiness_check(
            p.id,
            Some(theirs),
            500,
            true,
        )));
        assert_eq!(store.checksums().unwrap(), before);

        // They go with their profile.
        store.delete_profile(p.id).unwrap();
        assert!(store.readiness_checks(p.id).unwrap().is_empty());
        let sums = store.checksums().unwrap();
        assert_eq!(sums.get("readiness_checks").unwrap().rows, 0);
    }

    pub fn session_setting_and_readiness_check_round_trip(store: &dyn Store) {
        let p = profile(store, "Ada");
        let other = profile(store, "Bea");
        let d = roller(store, p.id, "Roller", 0).id;
        let check = readiness_check(p.id, Some(d), 90, true);
        store.save_readiness_check(&check).unwrap();
        let home = SessionRecord {
            readiness_check_id: Some(check.id),
            ..session(p.id, None, 100)
        };
        let clinic = SessionRecord {
            setting: SessionSetting::Clinic,
            needle_length_mm: 1.5,
            ..session(p.id, None, 2000)
        };
        store.log_session(&home, None).unwrap();
        store.log_session(&clinic, None).unwrap();
        assert_eq!(store.session(p.id, home.id).unwrap(), Some(home.clone()));
        let stored = store.session(p.id, clinic.id).unwrap().unwrap();
        assert_eq!(stored, clinic);
        assert_eq!(stored.setting, SessionSetting::Clinic);
        assert_eq!(stored.readiness_check_id, None);
        assert_eq!(
            store.sessions(p.id).unwrap(),
            vec![clinic.clone(), home.clone()]
        );
        assert_eq!(store.last_session(p.id).unwrap(), Some(clinic.clone()));

        // A session cannot name a check that is not the profile's.
        let before = store.checksums().unwrap();
        expect_not_found(store.log_session(
            &SessionRecord {
                readiness_check_id: Some(ReadinessCheckId(id())),
                ..session(p.id, None, 3000)
            },
            None,
        ));
        expect_not_found(store.log_session(
            &SessionRecord {
                readiness_check_id: Some(check.id),
                ..session(other.id, None, 3000)
            },
            None,
        ));
        assert_eq!(store.checksums().unwrap(), before);
        assert!(store.sessions(other.id).unwrap().is_empty());
    }

    pub fn resolve_episode_is_atomic_and_records_the_resolver(store: &dyn Store) {
        let p = profile(store, "Ada");
        let other = profile(store, "Bea");
        let first = red_flag(store, p.id, 100);
        let second = red_flag(store, p.id, 110);
        let third = red_flag(store, p.id, 120);

        // With the fresh check-in that goes with a doctor's examination.
        let fresh = checkin(p.id, None, 200, TriageLevel::Expected);
        let by_doctor = Resolver::DoctorExamined {
            doctor: "Dr Okafor".to_owned(),
            examined_on: jiff::civil::date(2025, 6, 20),
            checkin_id: fresh.id,
        };
        store
            .resolve_episode(
                p.id,
                first,
                at(201),
                "examined: healing",
                &by_doctor,
                Some(&fresh),
            )
            .unwrap();
        assert!(store.checkins(p.id).unwrap().contains(&fresh));
        let stored = |e: EpisodeId| {
            store
                .episodes(p.id)
                .unwrap()
                .into_iter()
                .find(|x| x.id == e)
                .unwrap()
        };
        let one = stored(first);
        assert_eq!(one.resolved_at, Some(at(201)));
        assert_eq!(one.resolution, "examined: healing");
        assert_eq!(one.resolver, Some(by_doctor.clone()));

        // Without a check-in: a clinician.
        let clinician = Resolver::Clinician {
            clinic_id: needlewise_core::ids::ClinicId(id()),
            account_id: needlewise_core::ids::AccountId(id()),
            name: "Dr «Lee»".to_owned(),
        };
        store
            .resolve_episode(p.id, second, at(210), "seen", &clinician, None)
            .unwrap();
        assert_eq!(stored(second).resolver, Some(clinician.clone()));
        let open = store.open_episodes(p.id).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].resolver, None);

        // Every refusal leaves the store as it was.
        let before = store.checksums().unwrap();
        let checkins_before = store.checkins(p.id).unwrap().len();
        // Not open any more, with a check-in: the check-in is not kept.
        let again = checkin(p.id, None, 300, TriageLevel::Expected);
        expect_not_found(store.resolve_episode(
            p.id,
            first,
            at(301),
            "again",
            &Resolver::DoctorExamined {
                doctor: "Dr Okafor".to_owned(),
                examined_on: jiff::civil::date(2025, 6, 21),
                checkin_id: again.id,
            },
            Some(&again),
        ));
        assert_eq!(store.checksums().unwrap(), before);
        // Unknown, and another profile's.
        expect_not_found(store.resolve_episode(
            p.id,
            EpisodeId(id()),
            at(301),
            "unknown",
            &clinician,
            Some(&again),
        ));
        expect_not_found(store.resolve_episode(
            other.id,
            third,
            at(301),
            "not mine",
            &clinician,
            None,
        ));
        assert_eq!(store.checksums().unwrap(), before);
        // A check-in whose id is taken: the episode stays open.
        let taken = checkin(p.id, None, 302, TriageLevel::Expected);
        let taken = needlewise_core::records::CheckinRecord {
            id: fresh.id,
            ..taken
        };
        expect_conflict(store.resolve_episode(
            p.id,
            third,
            at(303),
            "seen",
            &clinician,
            Some(&taken),
        ));
        assert_eq!(store.checksums().unwrap(), before);
        assert_eq!(store.open_episodes(p.id).unwrap().len(), 1);
        // A check-in of another profile, or one the resolution does not
        // name, is refused before anything is written.
        let theirs = checkin(other.id, None, 304, TriageLevel::Expected);
        assert!(matches!(
            store.resolve_episode(p.id, third, at(305), "seen", &clinician, Some(&theirs)),
            Err(StoreError::Invalid { .. })
        ));
        let unnamed = checkin(p.id, None, 306, TriageLevel::Expected);
        assert!(matches!(
            store.resolve_episode(p.id, third, at(307), "seen", &by_doctor, Some(&unnamed)),
            Err(StoreError::Invalid { .. })
        ));
        assert_eq!(store.checksums().unwrap(), before);
        assert_eq!(store.checkins(p.id).unwrap().len(), checkins_before);
        assert!(store.dashboard(p.id).unwrap().locked);
    }

    pub fn resolve_flag_is_for_clinicians_with_the_check_ins_scope(store: &dyn Store) {
        let p = practice(store, "Resolving");
        let nurse = member(store, &p, Role::Staff, "Nurse", 1);
        let elsewhere = practice(store, "Elsewhere");
        let narrow = practice(store, "Narrow");
        let ada = profile(store, "Ada");
        join(store, &p.by, ada.id, &all_scopes(), 2);
        join(
            store,
            &narrow.by,
            ada.id,
            &scopes(&[Scope::Sessions, Scope::Screening]),
            3,
        );
        let flag = red_flag(store, ada.id, 200);

        let before = store.checksums().unwrap();
        // Staff: Forbidden, as acknowledging is.
        expect_forbidden(store.resolve_flag(&nurse, ada.id, flag, "done", at(300)));
        expect_forbidden(store.acknowledge(&nurse, ada.id, flag, "", at(300)));
        // Outsiders learn nothing.
        expect_not_found(store.resolve_flag(&elsewhere.by, ada.id, flag, "done", at(300)));
        let posing = needlewise_store::clinic::ClinicAccess {
            clinic: p.clinic.id,
            account: elsewhere.doctor.id,
        };
        expect_not_found(store.resolve_flag(&posing, ada.id, flag, "done", at(300)));
        // A clinic without the check-ins scope: as acknowledging.
        expect_not_found(store.resolve_flag(&narrow.by, ada.id, flag, "done", at(300)));
        expect_not_found(store.acknowledge(&narrow.by, ada.id, flag, "", at(300)));
        // Not an open red flag of this patient.
        expect_not_found(store.resolve_flag(&p.by, ada.id, EpisodeId(id()), "done", at(300)));
        assert_eq!(store.checksums().unwrap(), before);
        assert!(store.dashboard(ada.id).unwrap().locked);

        let audit_before = store.audit_log(ada.id, 1000).unwrap().len();
        store
            .resolve_flag(&p.by, ada.id, flag, "seen in clinic: healing", at(310))
            .unwrap();
        let e = store.episodes(ada.id).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].resolved_at, Some(at(310)));
        assert_eq!(e[0].resolution, "seen in clinic: healing");
        assert_eq!(
            e[0].resolver,
            Some(Resolver::Clinician {
                clinic_id: p.clinic.id,
                account_id: p.doctor.id,
                name: "Dr Resolving".to_owned(),
            })
        );
        assert!(!store.dashboard(ada.id).unwrap().locked);
        assert!(store.open_episodes(ada.id).unwrap().is_empty());
        assert!(store.red_flag_queue(&p.by, at(311)).unwrap().is_empty());
        assert!(store.open_flags().unwrap().is_empty());
        let log = store.audit_log(ada.id, 1000).unwrap();
        let resolved: Vec<_> = log.iter().filter(|a| a.action == "resolved").collect();
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].at, at(310));
        assert_eq!(resolved[0].detail, flag.to_string());
        assert_eq!(resolved[0].actor, p.doctor.id);
        assert_eq!(resolved[0].actor_name, "Dr Resolving");
        assert_eq!(resolved[0].clinic_id, p.clinic.id);
        // Only the resolution: the queue read since showed no patient, so
        // it logged no view.
        assert_eq!(log.len(), audit_before + 1);
        // The clinic's record of the patient shows who resolved it.
        let record = store
            .patient_record(&p.by, ada.id, at(312))
            .unwrap()
            .unwrap();
        let episodes = record.episodes.unwrap();
        assert_eq!(episodes[0].0.resolver, e[0].resolver);
        // Once resolved it is no longer open.
        let before = store.checksums().unwrap();
        expect_not_found(store.resolve_flag(&p.by, ada.id, flag, "again", at(320)));
        assert_eq!(store.checksums().unwrap(), before);
    }

    pub fn dashboard_last_session_is_the_one_that_ended_last(store: &dyn Store) {
        let p = profile(store, "Ada");
        // A long session and a short one that started after it but ended
        // before it.
        let long = SessionRecord {
            ended_at: at(500),
            needle_length_mm: 0.5,
            ..session(p.id, None, 100)
        };
        let short = SessionRecord {
            ended_at: at(212),
            ..session(p.id, None, 200)
        };
        store.log_session(&long, None).unwrap();
        store.log_session(&short, None).unwrap();
        let expected = LastSession {
            ended_at: at(500),
            needle_length_mm: 0.5,
        };
        assert_eq!(store.dashboard(p.id).unwrap().last_session, Some(expected));
        assert_eq!(store.last_session(p.id).unwrap(), Some(long.clone()));
        // Ends that tie: the greatest id.
        let (a, b) = (session(p.id, None, 400), session(p.id, None, 450));
        let (a, b) = (
            SessionRecord {
                ended_at: at(600),
                ..a
            },
            SessionRecord {
                ended_at: at(600),
                needle_length_mm: 0.75,
                ..b
            },
        );
        let greater = if a.id > b.id { &a } else { &b };
        store.log_session(&a, None).unwrap();
        store.log_session(&b, None).unwrap();
        assert_eq!(
            store.dashboard(p.id).unwrap().last_session,
            Some(LastSession::from(greater))
        );
        assert_eq!(store.last_session(p.id).unwrap().unwrap().id, greater.id);
        // The session dashboard (one read) agrees.
        let acct = crate::cases::account(store, "ada@example.org");
        let mine = crate::cases::profile_in(store, acct.id, "Mine");
        store.log_session(&long_of(mine.id), None).unwrap();
        let ws = crate::cases::web_session(acct.id, Some(mine.id), 10);
        store.create_web_session(&ws).unwrap();
        let sd = store
            .session_dashboard(&ws.token_hash, at(20))
            .unwrap()
            .unwrap();
        assert_eq!(
            sd.dashboard.last_session,
            Some(LastSession {
                ended_at: at(500),
                needle_length_mm: 0.5
            })
        );
    }

    fn long_of(p: ProfileId) -> SessionRecord {
        SessionRecord {
            ended_at: at(500),
            needle_length_mm: 0.5,
            ..session(p, None, 100)
        }
    }

    pub fn readiness_data_survives_snapshot_and_restore(store: &dyn Store) {
        let p = crate::portability::fill(
            store,
            needlewise_core::ids::AccountId::LOCAL,
            "me",
            "notes",
            "balm",
        );
        let (check, clinic) = fill_readiness(store, p.id);
        let sums = store.checksums().unwrap();
        assert_eq!(sums.get("readiness_checks").unwrap().rows, 2);
        let snap = store.snapshot().unwrap();
        let reads = |s: &dyn Store| {
            (
                s.readiness_checks(p.id).unwrap(),
                s.sessions(p.id).unwrap(),
                s.episodes(p.id).unwrap(),
                s.dashboard(p.id).unwrap(),
            )
        };
        let typed = reads(store);
        assert!(typed.0.contains(&check));
        assert!(typed.1.contains(&clinic));
        assert!(typed.2.iter().any(|e| e.resolver.is_some()));
        store.restore_snapshot(&snap, RestoreMode::Replace).unwrap();
        assert_eq!(store.checksums().unwrap(), sums);
        assert_eq!(store.snapshot().unwrap(), snap);
        assert_eq!(reads(store), typed);

        // Through a backup file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.nwb.gz");
        let now = "2026-11-25T19:00:00Z".parse().unwrap();
        needlewise_store::backup::write_backup(store, &path, now, &mut |_| {}).unwrap();
        store.delete_profile(p.id).unwrap();
        assert_ne!(store.checksums().unwrap(), sums);
        needlewise_store::backup::restore_file(store, &path, RestoreMode::Replace, &mut |_| {})
            .unwrap();
        assert_eq!(store.checksums().unwrap(), sums);
        assert_eq!(reads(store), typed);
    }

    /// Data of schema 6 (before readiness checks, settings and resolvers)
    /// restores with no readiness checks, every session at home and no
    /// resolvers, from a snapshot and from a backup file.
    pub fn version_6_data_restores_as_home_sessions(store: &dyn Store) {
        use needlewise_store::backup;

        let p = crate::portability::fill(
            store,
            needlewise_core::ids::AccountId::LOCAL,
            "me",
            "v6 notes",
            "v6 balm",
        );
        fill_readiness(store, p.id);
        let current = store.snapshot().unwrap();
        // What schema-6 data of this store restores to.
        let mut expected = current.clone();
        for t in &mut expected.tables {
            let def = TABLES.iter().find(|d| d.name == t.table).unwrap();
            if !def.in_version(6) {
                t.rows.clear();
                continue;
            }
            for row in &mut t.rows {
                for (i, c) in def.columns.iter().enumerate() {
                    if c.since > 6 {
                        row[i] = c.missing_cell();
                    }
                }
            }
        }
        let sessions = expected.table("sessions").unwrap();
        let setting = TABLES
            .iter()
            .find(|d| d.name == "sessions")
            .unwrap()
            .column("setting")
            .unwrap();
        assert!(sessions.rows.len() >= 3);
        assert!(
            sessions
                .rows
                .iter()
                .all(|r| r[setting] == Cell::Text("home".into()))
        );
        assert_ne!(expected, current, "the data uses schema 7");
        let v6 = Snapshot {
            schema_version: 6,
            tables: TABLES
                .iter()
                .filter(|t| t.in_version(6))
                .map(|t| TableRows {
                    table: t.name,
                    rows: current
                        .table(t.name)
                        .unwrap()
                        .rows
                        .iter()
                        .map(|r| t.columns_in(6).map(|(i, _)| r[i].clone()).collect())
                        .collect(),
                })
                .collect(),
        };
        store.restore_snapshot(&v6, RestoreMode::Replace).unwrap();
        assert_eq!(store.snapshot().unwrap(), expected);
        assert!(store.readiness_checks(p.id).unwrap().is_empty());
        assert!(
            store
                .sessions(p.id)
                .unwrap()
                .iter()
                .all(|s| s.setting == SessionSetting::Home && s.readiness_check_id.is_none())
        );
        assert!(
            store
                .episodes(p.id)
                .unwrap()
                .iter()
                .all(|e| e.resolver.is_none())
        );

        // A schema-6 backup file, checksums as schema 6 computed them.
        let dir = tempfile::tempdir().unwrap();
        let path = crate::backup::old_backup_file(&expected, 6, "2026-11-01T00:00:00Z", dir.path());
        fill_readiness(store, p.id);
        assert_ne!(store.snapshot().unwrap(), expected);
        let header = backup::restore_file(store, &path, RestoreMode::Replace, &mut |_| {}).unwrap();
        assert_eq!(header.schema_version, 6);
        assert_eq!(store.snapshot().unwrap(), expected);
    }

    /// A doctor's examination may name a check-in stored before the
    /// resolution (nothing else to store with it).
    pub fn resolver_may_name_an_earlier_check_in(store: &dyn Store) {
        let p = profile(store, "Ada");
        let flag = red_flag(store, p.id, 100);
        let fresh = checkin(p.id, None, 150, TriageLevel::Expected);
        store.save_checkin(&fresh, None).unwrap();
        let r = Resolver::DoctorExamined {
            doctor: "Dr Okafor".to_owned(),
            examined_on: jiff::civil::date(2025, 6, 20),
            checkin_id: fresh.id,
        };
        let before = store.checkins(p.id).unwrap();
        store
            .resolve_episode(p.id, flag, at(160), "examined", &r, None)
            .unwrap();
        let e = store.episodes(p.id).unwrap();
        assert_eq!(e[0].resolver, Some(r));
        assert_eq!(store.checkins(p.id).unwrap(), before);
        assert!(!store.dashboard(p.id).unwrap().locked);
    }

    /// A screening result stored by a build before results were versioned
    /// (no "format" key; see `tests/fixtures`) reads back typed; one whose
    /// fields no longer fit, or of an unknown format, is an error, never
    /// an empty value.
    pub fn screening_results_from_before_versioning_read_back_typed(store: &dyn Store) {
        let p = profile(store, "Ada");
        let saved = crate::cases::screening(p.id, 10, needlewise_core::screening::Verdict::Go);
        store.save_screening(&saved).unwrap();
        let with_result = |result: serde_json::Value| {
            let mut snap = store.snapshot().unwrap();
            let def = TABLES.iter().find(|t| t.name == "screenings").unwrap();
            let column = def.column("result").unwrap();
            let rows = &mut snap
                .tables
                .iter_mut()
                .find(|t| t.table == "screenings")
                .unwrap()
                .rows;
            assert_eq!(rows.len(), 1);
            rows[0][column] = Cell::Json(result);
            store.restore_snapshot(&snap, RestoreMode::Replace).unwrap();
        };
        // What this build writes carries its format.
        let snap = store.snapshot().unwrap();
        let def = TABLES.iter().find(|t| t.name == "screenings").unwrap();
        match &snap.table("screenings").unwrap().rows[0][def.column("result").unwrap()] {
            Cell::Json(v) => assert_eq!(v["format"], json!(1)),
            other => panic!("expected JSON, got {other:?}"),
        }
        let main: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/screening_result_v0_main.json"))
                .unwrap();
        with_result(main.clone());
        let read = store.latest_screening(p.id).unwrap().unwrap();
        assert_eq!(read.id, saved.id);
        assert_eq!(
            read.result.verdict,
            needlewise_core::screening::Verdict::GoWithPrecautions
        );
        assert_eq!(
            read.result.excluded_zones[0].until,
            Some(jiff::civil::date(2027, 4, 25))
        );
        assert_eq!(serde_json::to_value(&read.result).unwrap(), main);

        let mut renamed = main.clone();
        let zones = renamed.as_object_mut().unwrap().remove("zones").unwrap();
        renamed["treatable_zones"] = zones;
        with_result(renamed);
        assert!(matches!(
            store.latest_screening(p.id),
            Err(StoreError::Invalid { .. })
        ));
        let mut newer = main;
        newer["format"] = json!(2);
        with_result(newer);
        match store.latest_screening(p.id) {
            Err(StoreError::Invalid { what }) => assert!(what.contains("format 2"), "{what}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    /// The archive carries readiness checks (JSON and CSV) and each
    /// session's setting; its CarePlan counts only what happened by then.
    pub fn export_holds_readiness_checks_and_settings(store: &dyn Store) {
        use std::io::Read;

        let p = crate::portability::fill(
            store,
            needlewise_core::ids::AccountId::LOCAL,
            "me",
            "notes",
            "balm",
        );
        let (check, clinic) = fill_readiness(store, p.id);
        // Logged with a start after the moment of the export: not done.
        store
            .log_session(&session(p.id, None, 30_000), None)
            .unwrap();
        let profile = store.profile(p.id).unwrap().unwrap();
        let now = at(20_000);
        let (out, summary) = needlewise_store::export::write_archive(
            store,
            std::slice::from_ref(&profile),
            None,
            now,
            std::io::Cursor::new(Vec::new()),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(summary.readiness_checks, 2);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(out.into_inner())).unwrap();
        let dir = needlewise_store::export::folder_name(&profile);
        let mut read = |name: &str| {
            let mut text = String::new();
            zip.by_name(&format!("{dir}/{name}"))
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        };
        let doc: serde_json::Value = serde_json::from_str(&read("profile.json")).unwrap();
        let checks = doc["readiness_checks"].as_array().unwrap();
        assert_eq!(checks.len(), 2);
        assert!(
            checks
                .iter()
                .any(|c| c["id"] == json!(check.id.to_string()))
        );
        let sessions = doc["sessions"].as_array().unwrap();
        assert!(
            sessions
                .iter()
                .any(|s| s["id"] == json!(clinic.id.to_string()) && s["setting"] == "clinic")
        );
        assert!(
            doc["episodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["resolver"]["by"] == "doctor_examined")
        );
        let csv = read("readiness_checks.csv");
        assert!(
            csv.starts_with("id,at,device_id,go,rule_ids,answers"),
            "{csv}"
        );
        assert!(csv.contains(&check.id.to_string()));
        assert!(csv.contains("no-go"));
        let sessions_csv = read("sessions.csv");
        assert!(
            sessions_csv
                .lines()
                .next()
                .unwrap()
                .ends_with("setting,readiness_check_id")
        );
        assert!(sessions_csv.contains(&format!("home,{}", check.id)));
        let bundle: serde_json::Value = serde_json::from_str(&read("fhir-bundle.json")).unwrap();
        let plan = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .find(|r| r["resourceType"] == "CarePlan")
            .unwrap();
        let done = plan["activity"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["detail"]["status"] == "completed")
            .count();
        // Three sessions happened by then; the fourth is after it.
        assert_eq!(done, 3);
        assert_eq!(sessions.len(), 4);
    }
}
