//! The store contract: every case runs on SQLite and on PostgreSQL.
//!
//! The PostgreSQL cases need a server: set `NEEDLEWISE_TEST_POSTGRES_URL`
//! (`eval "$(scripts/pg-test-server start)"` starts a throwaway one). Without
//! it they fail; they never pass silently. Each test gets a fresh schema,
//! dropped afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use needlewise_store::{PostgresStore, SqliteStore};

/// Instantiates every contract case once per backend.
macro_rules! contract_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $case() {
                    let db = super::SqliteDb::new();
                    super::cases::$case(&db.store);
                }
            )*
        }

        mod postgres {
            $(
                #[test]
                fn $case() {
                    let store = super::postgres_store();
                    super::cases::$case(&store);
                }
            )*
        }
    };
}

contract_tests!(
    profiles_create_list_and_find_by_name,
    profile_time_zone_is_kept_changed_and_cleared,
    duplicate_profile_name_is_a_conflict,
    screening_latest_is_newest_and_answers_round_trip,
    devices_add_get_and_list_oldest_first,
    hygiene_cycle_is_stored_and_logged_in_order,
    stale_device_version_is_a_conflict_and_changes_nothing,
    log_session_stores_zones_products_and_device_use_together,
    log_session_with_stale_device_stores_no_session,
    log_session_device_must_match_the_session,
    sessions_are_newest_first_with_last_and_by_id,
    add_product_use_appends_after_the_session_products,
    add_product_use_on_unknown_session_is_not_found,
    profiles_are_isolated,
    checkin_opens_episode_and_resolve_closes_it,
    resolve_twice_or_unknown_episode_is_not_found,
    delete_profile_removes_only_that_profile,
    delete_unknown_profile_is_not_found,
    duplicate_ids_are_conflicts_and_missing_parents_not_found,
    timestamps_keep_microseconds,
    accounts_create_get_and_find_by_email,
    duplicate_email_is_a_conflict,
    invalid_accounts_are_refused,
    local_account_exists_and_holds_profiles,
    profile_names_are_unique_per_account,
    profiles_list_only_the_accounts_own,
    profile_of_unknown_account_is_not_found,
    web_session_create_and_get,
    expired_web_session_is_none,
    purge_expired_web_sessions_removes_only_expired,
    invalid_web_sessions_are_refused,
    set_web_session_profile_checks_the_account,
    deleting_a_profile_clears_it_from_web_sessions,
    delete_web_sessions_of_an_account,
    delete_account_removes_everything_it_owns,
    deleting_the_local_account_is_refused,
    calendar_token_set_find_and_delete,
    calendar_token_rotation_invalidates_the_old_one,
    calendar_tokens_are_per_profile_and_checked,
    deleting_a_profile_or_account_removes_its_calendar_token,
    ratings_round_trip_oldest_first_and_delete,
    photos_round_trip_oldest_first_and_delete,
    progress_is_isolated_and_cascades_with_the_profile,
    dashboard_agrees_with_the_full_reads,
    web_session_with_profiles_is_the_session_and_its_accounts_profiles,
    session_dashboard_is_the_working_profiles_dashboard,
    // The clinic side (contract/clinic.rs).
    clinic_create_members_and_memberships,
    member_invites_are_made_by_clinicians_and_checked,
    member_invites_are_accepted_once_by_the_invited_email,
    clinic_invites_are_single_use_and_expire,
    consent_changes_take_effect_on_the_next_read,
    staff_see_the_list_but_no_clinical_data,
    patient_list_pages_by_name_with_search_and_filters,
    an_unshared_scope_leaks_not_even_its_ids,
    outsiders_and_other_clinics_learn_nothing,
    clinic_reads_and_acts_are_audited_for_the_patient,
    acknowledging_twice_is_a_conflict,
    prescribed_protocol_newest_in_force_until_leaving,
    overrides_add_and_revoke,
    patient_status_is_computed_from_the_record,
    patient_list_follows_every_change,
    clinic_web_session_is_the_session_memberships_and_second_factor,
    list_views_are_logged_once_per_window,
    notifications_add_list_and_mark_read,
    escalation_steps_are_claimed_once,
    an_escalation_step_is_claimed_with_its_messages_or_not_at_all,
    open_flags_are_visible_from_the_check_ins_grant,
    email_outbox_leases_and_retries,
    mail_status_counts_the_team_emails_only,
    totp_steps_are_never_accepted_twice,
    totp_enrolment_is_bound_to_its_session,
    web_sessions_verified_and_listed,
    changing_the_password_ends_the_other_sessions,
    rate_limit_counts_per_window,
    purge_rate_limits_drops_only_older_windows,
    purge_expired_invites_drops_only_unused_expired_ones,
    deleting_a_patient_removes_their_clinic_data,
    clinic_data_survives_snapshot_and_restore,
    version_1_data_restores_with_empty_clinic_tables,
    version_2_data_restores_with_no_pending_session,
    version_3_data_restores_with_no_member_invites,
    // Readiness checks, settings, resolvers (contract/readiness.rs).
    readiness_checks_round_trip_and_latest_is_per_device,
    session_setting_and_readiness_check_round_trip,
    resolve_episode_is_atomic_and_records_the_resolver,
    resolver_may_name_an_earlier_check_in,
    resolve_flag_is_for_clinicians_with_the_check_ins_scope,
    dashboard_last_session_is_the_one_that_ended_last,
    readiness_data_survives_snapshot_and_restore,
    version_6_data_restores_as_home_sessions,
    screening_results_from_before_versioning_read_back_typed,
    export_holds_readiness_checks_and_settings,
    // Conversations (contract/conversations.rs).
    a_conversation_is_started_answered_and_read_on_both_sides,
    the_inbox_limit_keeps_a_waiting_red_flag_first_and_views_log_once,
    an_unanswered_red_flag_conversation_is_claimed_once_until_answered,
    canned_replies_are_the_clinics_and_only_clinicians_write_them,
    who_of_the_clinic_reads_a_conversation_is_the_core_rule,
    an_origin_card_is_the_profiles_own_and_clinicians_only,
    message_photos_are_kept_with_their_message_for_the_two_sides,
    conversations_go_with_the_profile_and_survive_a_snapshot,
    // Appointments (contract/appointments.rs).
    clinic_hours_are_set_by_members_and_make_the_free_slots,
    a_patient_books_cancels_and_reschedules_with_the_clinic_seeing_it,
    one_slot_is_booked_once,
    appointment_emails_are_queued_with_the_change,
    a_member_reads_a_patients_schedule_to_book_for_them,
    slots_proposed_in_a_conversation_are_booked_once,
    appointments_go_with_the_profile_and_survive_a_snapshot,
    the_export_archive_holds_appointments_and_proposals,
);

#[path = "contract/appointments.rs"]
mod appointments;
#[path = "contract/backup.rs"]
mod backup;
#[path = "contract/clinic.rs"]
mod clinic;
#[path = "contract/conversations.rs"]
mod conversations;
#[path = "contract/portability.rs"]
mod portability;
#[path = "contract/readiness.rs"]
mod readiness;

/// A SQLite store in a fresh temporary directory (in a subdirectory that
/// does not exist yet, so opening must create it).
struct SqliteDb {
    store: SqliteStore,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SqliteDb {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("needlewise.db");
        let store = SqliteStore::open(&path).unwrap();
        SqliteDb {
            store,
            path,
            _dir: dir,
        }
    }
}

fn postgres_url() -> String {
    match std::env::var("NEEDLEWISE_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "NEEDLEWISE_TEST_POSTGRES_URL is not set, so the PostgreSQL contract tests cannot run. \
             Set NEEDLEWISE_TEST_POSTGRES_URL; scripts/test starts a throwaway server \
             (or run: eval \"$(scripts/pg-test-server start)\")"
        ),
    }
}

fn fresh_schema_name() -> String {
    format!("nw_test_{}", uuid::Uuid::new_v4().simple())
}

/// A PostgreSQL store in a fresh schema, dropped with the store.
fn postgres_store() -> PostgresStore {
    let url = postgres_url();
    PostgresStore::connect_fresh_schema(&url, &fresh_schema_name()).unwrap_or_else(|e| {
        panic!("cannot set up a test schema on NEEDLEWISE_TEST_POSTGRES_URL: {e}")
    })
}

/// The URL with `search_path` set, to open an existing schema with the
/// plain `connect`.
fn url_in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Test data and the contract cases, written once against `&dyn Store`.
mod cases {
    use jiff::{SignedDuration, Timestamp};
    use needlewise_core::answers::{Answer, Answers};
    use needlewise_core::engine::{Reason, SourceRef};
    use needlewise_core::evidence;
    use needlewise_core::evidence::{Grade, Outcome};
    use needlewise_core::hygiene::{
        Device, DeviceKind, HygieneEvent, HygieneState, PenSpec, RollerSpec,
    };
    use needlewise_core::ids::{
        AccountId, CheckinId, DeviceId, EpisodeId, ProfileId, ScreeningId, SessionId,
    };
    use needlewise_core::records::{
        Account, CheckinRecord, Episode, ProductUse, Profile, Resolver, ScreeningRecord,
        SessionRecord, SessionSetting, ZoneRecord,
    };
    use needlewise_core::screening::{ExcludedZone, ScreeningResult, Verdict};
    use needlewise_core::triage::TriageLevel;
    use needlewise_core::zone::Zone;
    use needlewise_store::{Counts, Store, StoreError, WebSession};
    use serde_json::json;
    use uuid::Uuid;

    pub use super::appointments::cases::*;
    pub use super::clinic::cases::*;
    pub use super::conversations::cases::*;
    pub use super::readiness::cases::*;

    pub fn id() -> Uuid {
        Uuid::now_v7()
    }

    /// A fixed instant plus `minutes`, so tests never read the clock.
    pub fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap() + SignedDuration::from_mins(minutes)
    }

    /// A profile of the local account.
    pub fn profile(store: &dyn Store, name: &str) -> Profile {
        profile_in(store, AccountId::LOCAL, name)
    }

    pub fn profile_in(store: &dyn Store, account: AccountId, name: &str) -> Profile {
        let p = Profile {
            id: ProfileId(id()),
            account_id: account,
            name: name.to_owned(),
            created_at: at(0),
            time_zone: None,
        };
        store.create_profile(&p).unwrap();
        p
    }

    pub fn account(store: &dyn Store, email: &str) -> Account {
        let a = Account {
            id: AccountId(id()),
            email: email.to_owned(),
            password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${email}"),
            created_at: at(0),
        };
        store.create_account(&a).unwrap();
        a
    }

    /// A token hash: 64 lower-case hex digits, different each call.
    pub fn token_hash() -> String {
        format!("{}{}", id().simple(), Uuid::new_v4().simple())
    }

    /// A web session of `account` created at `minutes`, expiring an hour later.
    pub fn web_session(account: AccountId, profile: Option<ProfileId>, minutes: i64) -> WebSession {
        WebSession {
            token_hash: token_hash(),
            account_id: account,
            csrf_token: format!("csrf-{}", id().simple()),
            profile_id: profile,
            created_at: at(minutes),
            expires_at: at(minutes + 60),
            verified_at: None,
        }
    }

    pub fn screening(profile: ProfileId, minutes: i64, verdict: Verdict) -> ScreeningRecord {
        let q = &evidence().screening;
        let answers = Answers::from_json(
            q,
            &json!({
                "age": 41,
                "sex": "female",
                "pregnant": false,
                "isotretinoin": "2023-02-14",
                "high_dose_steroids": "never",
                "diabetes": "controlled",
                "needle_length_mm": 0.25,
                "zones": ["forehead", "left_cheek", "neck"],
                "recent_procedures": [{"kind": "filler", "date": "2024-11-03", "zones": ["upper_lip"]}],
            }),
            jiff::civil::date(2025, 6, 1),
        )
        .unwrap();
        ScreeningRecord {
            id: ScreeningId(id()),
            profile_id: profile,
            taken_at: at(minutes),
            answers,
            verdict,
            result: screening_result(verdict),
        }
    }

    /// A typed screening result with text and numbers that a careless
    /// encoding would change.
    pub fn screening_result(verdict: Verdict) -> ScreeningResult {
        ScreeningResult {
            verdict,
            headline: "naïve «quotes» \"escaped\" \\ and a tab\t".to_owned(),
            eligible_from: Some(jiff::civil::date(2025, 5, 3)),
            review_by: Some(jiff::civil::date(2025, 6, 7)),
            zones: vec![Zone::Forehead, Zone::LeftCheek],
            excluded_zones: vec![ExcludedZone {
                zone: Zone::UpperLip,
                rule_ids: vec!["screen.procedure.filler".to_owned()],
                until: Some(jiff::civil::date(2025, 5, 3)),
            }],
            precautions: Vec::new(),
            reasons: vec![Reason {
                rule_id: "screen.procedure.filler".to_owned(),
                title: "Filler in the area in the last 6 months".to_owned(),
                outcome: Outcome::ExcludeZones,
                explanation: "Those zones are left out until then.".to_owned(),
                grade: Grade::V,
                sources: vec![SourceRef {
                    id: "R50".to_owned(),
                    citation: "Instructions for use, sections 2.3-2.4.".to_owned(),
                    link: None,
                }],
                until: Some(jiff::civil::date(2025, 5, 3)),
                zones: vec![Zone::UpperLip],
            }],
            needle_length_mm: 0.30000000000000004,
            overridden: Vec::new(),
        }
    }

    /// A resolution by the person, stating a doctor's examination (the
    /// check-in it names is not stored by the callers that use this).
    pub fn doctor_examined() -> Resolver {
        Resolver::DoctorExamined {
            doctor: "Dr Okafor «ENT»".to_owned(),
            examined_on: jiff::civil::date(2025, 6, 20),
            checkin_id: CheckinId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001)),
        }
    }

    pub fn roller(store: &dyn Store, profile: ProfileId, name: &str, minutes: i64) -> Device {
        let d = Device::new(
            DeviceId(id()),
            profile,
            name.to_owned(),
            DeviceKind::Roller(RollerSpec::standard_192(0.5)),
            at(minutes),
        )
        .unwrap();
        store.add_device(&d).unwrap();
        d
    }

    /// Applies `event` at `minutes` and records it.
    pub fn apply(store: &dyn Store, d: &Device, event: HygieneEvent, minutes: i64) -> Device {
        let next = d
            .apply(&event, at(minutes), &evidence().defaults.hygiene)
            .unwrap();
        store.record_hygiene(&next, &event).unwrap();
        next
    }

    /// Cleans a roller from new/used to ready, starting at `minutes`.
    pub fn make_ready(store: &dyn Store, d: &Device, minutes: i64) -> Device {
        let rules = &evidence().defaults.hygiene;
        let soak = rules.soak.minimum.0.as_mins();
        let dry = rules.dry.minimum.0.as_mins();
        let d = apply(store, d, HygieneEvent::Rinse, minutes);
        let d = apply(
            store,
            &d,
            HygieneEvent::Soak {
                alcohol_percent: rules.soak.min_alcohol_percent,
            },
            minutes + 1,
        );
        let d = apply(store, &d, HygieneEvent::Dry, minutes + 1 + soak);
        apply(store, &d, HygieneEvent::MarkReady, minutes + 1 + soak + dry)
    }

    /// The device after its `Use` at `minutes` (not stored).
    pub fn used(d: &Device, minutes: i64) -> Device {
        d.apply(
            &HygieneEvent::Use,
            at(minutes),
            &evidence().defaults.hygiene,
        )
        .unwrap()
    }

    pub fn session(profile: ProfileId, device: Option<DeviceId>, minutes: i64) -> SessionRecord {
        let zones = [
            Zone::Forehead,
            Zone::LeftCheek,
            Zone::RightCheek,
            Zone::Chin,
            Zone::Nose,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, zone)| ZoneRecord {
            zone,
            seconds: 60 + i as u32,
            strokes: if i % 2 == 0 { Some(8 + i as u32) } else { None },
            skipped: i == 4,
        })
        .collect();
        SessionRecord {
            id: SessionId(id()),
            profile_id: profile,
            device_id: device,
            started_at: at(minutes),
            ended_at: at(minutes + 12),
            local_date: jiff::civil::date(2025, 6, 15),
            needle_length_mm: 0.25,
            zones,
            products: vec![
                product("Hyaluronic serum", "hyaluronic_acid", minutes + 13, true),
                product("Retinol cream", "retinoid", minutes + 14, false),
            ],
            notes: "tingling on the forehead; «fine»".to_owned(),
            setting: SessionSetting::Home,
            readiness_check_id: None,
        }
    }

    pub fn product(name: &str, category: &str, minutes: i64, allowed: bool) -> ProductUse {
        ProductUse {
            name: name.to_owned(),
            category: category.to_owned(),
            applied_at: at(minutes),
            allowed,
        }
    }

    pub fn checkin(
        profile: ProfileId,
        session: Option<SessionId>,
        minutes: i64,
        level: TriageLevel,
    ) -> CheckinRecord {
        let q = &evidence().checkin;
        let mut answers = Answers::from_json(
            q,
            &json!({"redness": "moderate", "redness_trend": "worse", "swelling": true, "fever": false}),
            jiff::civil::date(2025, 6, 16),
        )
        .unwrap();
        // A fact needlewise fills in itself: it must survive the round trip.
        answers.set("hours_since_session", Answer::Number(30.5));
        CheckinRecord {
            id: CheckinId(id()),
            profile_id: profile,
            session_id: session,
            at: at(minutes),
            answers,
            level,
            rule_ids: vec!["C-03".to_owned(), "C-11".to_owned()],
        }
    }

    pub fn episode(c: &CheckinRecord) -> Episode {
        Episode {
            id: EpisodeId(id()),
            profile_id: c.profile_id,
            checkin_id: c.id,
            level: c.level,
            opened_at: c.at,
            resolved_at: None,
            resolution: String::new(),
            resolver: None,
        }
    }

    fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) {
        match r {
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("expected a Conflict, got {other:?}"),
        }
    }

    fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>) {
        match r {
            Err(StoreError::Invalid { .. }) => {}
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
        match r {
            Err(StoreError::NotFound { .. }) => {}
            other => panic!("expected NotFound, got {other:?}"),
        }
    }

    // ----- the cases -----

    pub fn profile_time_zone_is_kept_changed_and_cleared(store: &dyn Store) {
        let mut p = profile(store, "Kai");
        assert_eq!(store.profile(p.id).unwrap().unwrap().time_zone, None);
        store
            .set_profile_time_zone(p.id, Some("Pacific/Kiritimati"))
            .unwrap();
        p.time_zone = Some("Pacific/Kiritimati".into());
        assert_eq!(store.profile(p.id).unwrap(), Some(p.clone()));
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap(), vec![p.clone()]);
        // It travels with snapshots.
        let snap = store.snapshot().unwrap();
        let profiles = snap.table("profiles").unwrap();
        assert!(
            profiles
                .rows
                .iter()
                .any(|r| r.iter().any(|c| format!("{c:?}").contains("Kiritimati")))
        );
        store.set_profile_time_zone(p.id, None).unwrap();
        assert_eq!(store.profile(p.id).unwrap().unwrap().time_zone, None);
        assert_invalid(store.set_profile_time_zone(p.id, Some(" ")));
        assert_not_found(store.set_profile_time_zone(ProfileId(id()), Some("UTC")));
        // A new profile may come with one.
        let q = Profile {
            id: ProfileId(id()),
            account_id: AccountId::LOCAL,
            name: "Noa".into(),
            created_at: at(1),
            time_zone: Some("Europe/Paris".into()),
        };
        store.create_profile(&q).unwrap();
        assert_eq!(store.profile(q.id).unwrap(), Some(q));
    }

    pub fn profiles_create_list_and_find_by_name(store: &dyn Store) {
        assert!(store.profiles(AccountId::LOCAL).unwrap().is_empty());
        let ada = profile(store, "Ada");
        let mut bea = Profile {
            id: ProfileId(id()),
            account_id: AccountId::LOCAL,
            name: "Béa".to_owned(),
            created_at: at(5),
            time_zone: None,
        };
        store.create_profile(&bea).unwrap();
        assert_eq!(
            store.profiles(AccountId::LOCAL).unwrap(),
            vec![ada.clone(), bea.clone()]
        );
        assert_eq!(store.profile(ada.id).unwrap(), Some(ada.clone()));
        assert_eq!(
            store.profile_by_name(AccountId::LOCAL, "Béa").unwrap(),
            Some(bea.clone())
        );
        assert_eq!(
            store.profile_by_name(AccountId::LOCAL, "béa").unwrap(),
            None,
            "names are exact"
        );
        assert_eq!(store.profile(ProfileId(id())).unwrap(), None);
        bea.name = "Bea".into();
        assert_eq!(
            store.profile_by_name(AccountId::LOCAL, "Bea").unwrap(),
            None
        );
    }

    pub fn duplicate_profile_name_is_a_conflict(store: &dyn Store) {
        let ada = profile(store, "Ada");
        let again = Profile {
            id: ProfileId(id()),
            account_id: AccountId::LOCAL,
            name: "Ada".to_owned(),
            created_at: at(1),
            time_zone: None,
        };
        assert_conflict(store.create_profile(&again));
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap(), vec![ada]);
    }

    pub fn screening_latest_is_newest_and_answers_round_trip(store: &dyn Store) {
        let p = profile(store, "Ada");
        assert_eq!(store.latest_screening(p.id).unwrap(), None);
        let newer = screening(p.id, 60, Verdict::GoWithPrecautions);
        let older = screening(p.id, 10, Verdict::AskSurgeonFirst);
        // Saved newest first: "latest" is by time taken, not by insertion.
        store.save_screening(&newer).unwrap();
        store.save_screening(&older).unwrap();
        let latest = store.latest_screening(p.id).unwrap().unwrap();
        assert_eq!(latest, newer);
        assert_eq!(latest.answers.to_json(), newer.answers.to_json());
        assert_eq!(latest.result, newer.result);
        assert_eq!(latest.result.needle_length_mm, 0.30000000000000004);
        assert_eq!(latest.result.headline, newer.result.headline);

        let newest = screening(p.id, 120, Verdict::Go);
        store.save_screening(&newest).unwrap();
        assert_eq!(
            store.latest_screening(p.id).unwrap().unwrap().verdict,
            Verdict::Go
        );
    }

    pub fn devices_add_get_and_list_oldest_first(store: &dyn Store) {
        let p = profile(store, "Ada");
        assert!(store.devices(p.id).unwrap().is_empty());
        let second = roller(store, p.id, "Spare roller", 30);
        let pen = Device::new(
            DeviceId(id()),
            p.id,
            "Pen".into(),
            DeviceKind::Pen(PenSpec {
                needles_per_cartridge: 12,
                needle_length_mm: 0.25,
            }),
            at(10),
        )
        .unwrap();
        store.add_device(&pen).unwrap();
        assert_eq!(store.device(p.id, second.id).unwrap(), Some(second.clone()));
        assert_eq!(store.device(p.id, pen.id).unwrap(), Some(pen.clone()));
        assert_eq!(store.device(p.id, DeviceId(id())).unwrap(), None);
        assert_eq!(store.devices(p.id).unwrap(), vec![pen, second]);
    }

    pub fn hygiene_cycle_is_stored_and_logged_in_order(store: &dyn Store) {
        let p = profile(store, "Ada");
        let d = roller(store, p.id, "Roller", 0);
        let ready = make_ready(store, &d, 1);
        assert_eq!(ready.state, HygieneState::Ready);
        assert_eq!(ready.version, 4);
        assert_eq!(store.device(p.id, d.id).unwrap(), Some(ready.clone()));

        let damaged = apply(
            store,
            &ready,
            HygieneEvent::ReportDamage {
                note: "bent needles".into(),
            },
            200,
        );
        let retired = apply(
            store,
            &damaged,
            HygieneEvent::Retire {
                reason: "replaced".into(),
            },
            201,
        );
        assert_eq!(store.device(p.id, d.id).unwrap(), Some(retired));

        let log = store.hygiene_log(p.id, d.id).unwrap();
        let events: Vec<&str> = log.iter().map(|e| e.event.name()).collect();
        assert_eq!(
            events,
            [
                "rinse",
                "soak",
                "dry",
                "mark_ready",
                "report_damage",
                "retire"
            ]
        );
        let states: Vec<&str> = log.iter().map(|e| e.state_after.as_str()).collect();
        assert_eq!(
            states,
            ["rinsed", "soaking", "drying", "ready", "ready", "retired"]
        );
        assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(log[0].at, at(1));
        assert_eq!(
            log[4].event,
            HygieneEvent::ReportDamage {
                note: "bent needles".into()
            }
        );
        assert!(store.hygiene_log(p.id, DeviceId(id())).unwrap().is_empty());
    }

    pub fn stale_device_version_is_a_conflict_and_changes_nothing(store: &dyn Store) {
        let p = profile(store, "Ada");
        let d = roller(store, p.id, "Roller", 0);
        // Two writers start from the same version; the second one loses.
        let first = apply(store, &d, HygieneEvent::Rinse, 1);
        let stale = d
            .apply(
                &HygieneEvent::Retire {
                    reason: "lost".into(),
                },
                at(2),
                &evidence().defaults.hygiene,
            )
            .unwrap();
        assert_conflict(store.record_hygiene(
            &stale,
            &HygieneEvent::Retire {
                reason: "lost".into(),
            },
        ));
        assert_eq!(store.device(p.id, d.id).unwrap(), Some(first));
        assert_eq!(store.hygiene_log(p.id, d.id).unwrap().len(), 1);

        // A version from the future is refused too.
        let mut ahead = d
            .apply(&HygieneEvent::Rinse, at(3), &evidence().defaults.hygiene)
            .unwrap();
        ahead.version = 7;
        assert_conflict(store.record_hygiene(&ahead, &HygieneEvent::Rinse));
        // So is a device that was never stored as a change.
        assert_conflict(store.record_hygiene(&d, &HygieneEvent::Rinse));
        // And an unknown device is not found.
        let mut ghost = d
            .apply(&HygieneEvent::Rinse, at(3), &evidence().defaults.hygiene)
            .unwrap();
        ghost.id = DeviceId(id());
        assert_not_found(store.record_hygiene(&ghost, &HygieneEvent::Rinse));
        assert_eq!(store.counts().unwrap().hygiene_events, 1);
    }

    pub fn log_session_stores_zones_products_and_device_use_together(store: &dyn Store) {
        let p = profile(store, "Ada");
        let d = roller(store, p.id, "Roller", 0);
        let ready = make_ready(store, &d, 1);
        let after = used(&ready, 100);
        let s = session(p.id, Some(d.id), 100);
        store.log_session(&s, Some(&after)).unwrap();

        assert_eq!(store.session(p.id, s.id).unwrap(), Some(s.clone()));
        let stored = store.device(p.id, d.id).unwrap().unwrap();
        assert_eq!(stored.use_count, 1);
        assert_eq!(stored.state, HygieneState::Used);
        assert_eq!(stored.version, ready.version + 1);
        let log = store.hygiene_log(p.id, d.id).unwrap();
        let last = log.last().unwrap();
        assert_eq!(last.event, HygieneEvent::Use);
        assert_eq!(last.state_after, "used");
        assert_eq!(last.at, at(100));

        // A session without a device.
        let plain = session(p.id, None, 300);
        store.log_session(&plain, None).unwrap();
        assert_eq!(store.session(p.id, plain.id).unwrap(), Some(plain));
        assert_eq!(store.counts().unwrap().sessions, 2);
    }

    pub fn log_session_with_stale_device_stores_no_session(store: &dyn Store) {
        let p = profile(store, "Ada");
        let d = roller(store, p.id, "Roller", 0);
        let ready = make_ready(store, &d, 1);
        // Someone retires the device while the session runs.
        apply(
            store,
            &ready,
            HygieneEvent::ReportDamage {
                note: "dropped".into(),
            },
            90,
        );
        let before = store.counts().unwrap();
        let s = session(p.id, Some(d.id), 100);
        assert_conflict(store.log_session(&s, Some(&used(&ready, 100))));

        assert_eq!(store.session(p.id, s.id).unwrap(), None);
        assert!(store.sessions(p.id).unwrap().is_empty());
        assert_eq!(store.counts().unwrap(), before);
        let stored = store.device(p.id, d.id).unwrap().unwrap();
        assert_eq!(stored.use_count, 0);
        assert!(stored.damaged);
        // The session can be logged afterwards, so nothing half-written is in
        // its way (no leftover zones or products under its id).
        store
            .log_session(
                &SessionRecord {
                    device_id: None,
                    ..s.clone()
                },
                None,
            )
            .unwrap();
        let again = store.session(p.id, s.id).unwrap().unwrap();
        assert_eq!(again.zones, s.zones);
        assert_eq!(again.products, s.products);
    }

    pub fn log_session_device_must_match_the_session(store: &dyn Store) {
        let p = profile(store, "Ada");
        let d = roller(store, p.id, "Roller", 0);
        let other = roller(store, p.id, "Other", 0);
        let ready = make_ready(store, &d, 1);
        let s = session(p.id, Some(other.id), 100);
        match store.log_session(&s, Some(&used(&ready, 100))) {
            Err(StoreError::Invalid { .. }) => {}
            r => panic!("expected Invalid, got {r:?}"),
        }
        assert!(store.sessions(p.id).unwrap().is_empty());
        assert_eq!(store.device(p.id, d.id).unwrap(), Some(ready));
    }

    pub fn sessions_are_newest_first_with_last_and_by_id(store: &dyn Store) {
        let p = profile(store, "Ada");
        assert!(store.sessions(p.id).unwrap().is_empty());
        assert_eq!(store.last_session(p.id).unwrap(), None);
        let middle = session(p.id, None, 2000);
        let oldest = session(p.id, None, 1000);
        let newest = session(p.id, None, 3000);
        for s in [&middle, &oldest, &newest] {
            store.log_session(s, None).unwrap();
        }
        let all = store.sessions(p.id).unwrap();
        assert_eq!(all, vec![newest.clone(), middle.clone(), oldest.clone()]);
        assert_eq!(all[0].zones.len(), 5);
        assert_eq!(all[2].products.len(), 2);
        assert_eq!(store.last_session(p.id).unwrap(), Some(newest));
        assert_eq!(store.session(p.id, oldest.id).unwrap(), Some(oldest));
        assert_eq!(store.session(p.id, SessionId(id())).unwrap(), None);
    }

    pub fn add_product_use_appends_after_the_session_products(store: &dyn Store) {
        let p = profile(store, "Ada");
        let s = session(p.id, None, 100);
        store.log_session(&s, None).unwrap();
        let first = product("Barrier balm", "occlusive", 200, true);
        let second = product("Vitamin C", "vitamin_c", 1500, false);
        store.add_product_use(p.id, s.id, &first).unwrap();
        store.add_product_use(p.id, s.id, &second).unwrap();
        let stored = store.session(p.id, s.id).unwrap().unwrap();
        let mut expected = s.products.clone();
        expected.extend([first, second]);
        assert_eq!(stored.products, expected);
        assert_eq!(stored.zones, s.zones);
    }

    pub fn add_product_use_on_unknown_session_is_not_found(store: &dyn Store) {
        let p = profile(store, "Ada");
        assert_not_found(store.add_product_use(
            p.id,
            SessionId(id()),
            &product("Balm", "occlusive", 1, true),
        ));
    }

    pub fn profiles_are_isolated(store: &dyn Store) {
        let a = profile(store, "Ada");
        let b = profile(store, "Bea");
        let d = roller(store, a.id, "Ada's roller", 0);
        let ready = make_ready(store, &d, 1);
        let s = session(a.id, Some(d.id), 100);
        store.log_session(&s, Some(&used(&ready, 100))).unwrap();
        let c = checkin(a.id, Some(s.id), 2000, TriageLevel::ContactSurgeon);
        let e = episode(&c);
        store.save_checkin(&c, Some(&e)).unwrap();

        // B cannot read A's records by id …
        assert_eq!(store.device(b.id, d.id).unwrap(), None);
        assert_eq!(store.session(b.id, s.id).unwrap(), None);
        assert!(store.devices(b.id).unwrap().is_empty());
        assert!(store.sessions(b.id).unwrap().is_empty());
        assert_eq!(store.last_session(b.id).unwrap(), None);
        assert!(store.hygiene_log(b.id, d.id).unwrap().is_empty());
        assert!(store.checkins(b.id).unwrap().is_empty());
        assert!(store.episodes(b.id).unwrap().is_empty());

        // … nor change them.
        let current = store.device(a.id, d.id).unwrap().unwrap();
        let mut hijack = current
            .apply(&HygieneEvent::Rinse, at(3000), &evidence().defaults.hygiene)
            .unwrap();
        hijack.profile_id = b.id;
        assert_not_found(store.record_hygiene(&hijack, &HygieneEvent::Rinse));
        assert_eq!(store.device(a.id, d.id).unwrap(), Some(current.clone()));
        assert_not_found(store.add_product_use(
            b.id,
            s.id,
            &product("Balm", "occlusive", 3000, true),
        ));
        assert_not_found(store.resolve_episode(
            b.id,
            e.id,
            at(3000),
            "not mine",
            &doctor_examined(),
            None,
        ));
        assert_eq!(store.open_episodes(a.id).unwrap().len(), 1);

        // B's session cannot name A's device, nor B's check-in A's session.
        assert_not_found(store.log_session(&session(b.id, Some(d.id), 3000), None));
        assert_not_found(
            store.save_checkin(&checkin(b.id, Some(s.id), 3000, TriageLevel::Watch), None),
        );
        assert_eq!(
            store.session(a.id, s.id).unwrap().unwrap().products.len(),
            2
        );
        assert_eq!(store.hygiene_log(a.id, d.id).unwrap().len(), 5);
    }

    pub fn checkin_opens_episode_and_resolve_closes_it(store: &dyn Store) {
        let p = profile(store, "Ada");
        let s = session(p.id, None, 100);
        store.log_session(&s, None).unwrap();
        let calm = checkin(p.id, Some(s.id), 1000, TriageLevel::Expected);
        store.save_checkin(&calm, None).unwrap();
        let alarm = checkin(p.id, Some(s.id), 2000, TriageLevel::UrgentCare);
        let e = episode(&alarm);
        store.save_checkin(&alarm, Some(&e)).unwrap();

        let checkins = store.checkins(p.id).unwrap();
        assert_eq!(checkins, vec![alarm.clone(), calm.clone()]);
        assert_eq!(
            checkins[0].answers.number("hours_since_session"),
            Some(30.5)
        );
        assert_eq!(store.open_episodes(p.id).unwrap(), vec![e.clone()]);
        assert_eq!(store.episodes(p.id).unwrap(), vec![e.clone()]);

        store
            .resolve_episode(
                p.id,
                e.id,
                at(5000),
                "seen by the surgeon: healing",
                &doctor_examined(),
                None,
            )
            .unwrap();
        assert!(store.open_episodes(p.id).unwrap().is_empty());
        let resolved = Episode {
            resolved_at: Some(at(5000)),
            resolution: "seen by the surgeon: healing".into(),
            resolver: Some(doctor_examined()),
            ..e
        };
        assert_eq!(store.episodes(p.id).unwrap(), vec![resolved]);

        // The episode given must belong to the check-in.
        let third = checkin(p.id, None, 6000, TriageLevel::ContactSurgeon);
        let wrong = Episode {
            checkin_id: calm.id,
            ..episode(&third)
        };
        match store.save_checkin(&third, Some(&wrong)) {
            Err(StoreError::Invalid { .. }) => {}
            r => panic!("expected Invalid, got {r:?}"),
        }
        assert_eq!(store.checkins(p.id).unwrap().len(), 2);
    }

    pub fn resolve_twice_or_unknown_episode_is_not_found(store: &dyn Store) {
        let p = profile(store, "Ada");
        let c = checkin(p.id, None, 10, TriageLevel::ContactSurgeon);
        let e = episode(&c);
        store.save_checkin(&c, Some(&e)).unwrap();
        store
            .resolve_episode(p.id, e.id, at(20), "fine", &doctor_examined(), None)
            .unwrap();
        assert_not_found(store.resolve_episode(
            p.id,
            e.id,
            at(30),
            "again",
            &doctor_examined(),
            None,
        ));
        assert_not_found(store.resolve_episode(
            p.id,
            EpisodeId(id()),
            at(30),
            "unknown",
            &doctor_examined(),
            None,
        ));
        let stored = store.episodes(p.id).unwrap();
        assert_eq!(stored[0].resolved_at, Some(at(20)));
        assert_eq!(stored[0].resolution, "fine");
    }

    /// The dashboard's one read gives what the full reads give.
    fn assert_dashboard_agrees(store: &dyn Store, p: ProfileId) {
        let d = store.dashboard(p).unwrap();
        assert_eq!(
            d.verdict,
            store.latest_screening(p).unwrap().map(|s| s.verdict)
        );
        assert_eq!(
            d.last_session,
            store
                .last_session(p)
                .unwrap()
                .map(|s| needlewise_core::schedule::LastSession::from(&s))
        );
        assert_eq!(d.locked, !store.open_episodes(p).unwrap().is_empty());
        assert_eq!(d.devices, store.devices(p).unwrap());
        assert_eq!(
            d.latest_checkin,
            store.checkins(p).unwrap().first().map(|c| c.level)
        );
    }

    pub fn dashboard_agrees_with_the_full_reads(store: &dyn Store) {
        let empty = profile(store, "Empty");
        let d = store.dashboard(empty.id).unwrap();
        assert_eq!(d.verdict, None);
        assert_eq!(d.last_session, None);
        assert!(!d.locked);
        assert!(d.devices.is_empty());
        assert_eq!(d.latest_checkin, None);

        let p = populate(store, "Ada");
        let d = store.dashboard(p.id).unwrap();
        assert_eq!(d.verdict, Some(Verdict::Go));
        assert!(d.locked, "populate opens a red-flag episode");
        assert_eq!(d.latest_checkin, Some(TriageLevel::ContactSurgeon));
        assert_eq!(d.devices.len(), 1);
        assert_dashboard_agrees(store, p.id);

        // Newer records win; resolving the episode unlocks.
        store
            .save_screening(&screening(p.id, 50, Verdict::NotAtHome))
            .unwrap();
        let later = SessionRecord {
            local_date: jiff::civil::date(2025, 7, 1),
            needle_length_mm: 0.5,
            ..session(p.id, None, 5000)
        };
        store.log_session(&later, None).unwrap();
        let calm = checkin(p.id, Some(later.id), 6000, TriageLevel::Expected);
        store.save_checkin(&calm, None).unwrap();
        let open = store.open_episodes(p.id).unwrap();
        store
            .resolve_episode(
                p.id,
                open[0].id,
                at(7000),
                "healed",
                &doctor_examined(),
                None,
            )
            .unwrap();
        let d = store.dashboard(p.id).unwrap();
        assert_eq!(d.verdict, Some(Verdict::NotAtHome));
        assert!(!d.locked);
        assert_eq!(d.latest_checkin, Some(TriageLevel::Expected));
        let last = d.last_session.unwrap();
        assert_eq!(
            (last.ended_at, last.needle_length_mm),
            (later.ended_at, 0.5)
        );
        assert_dashboard_agrees(store, p.id);

        // Older records logged late change nothing.
        let before = store.dashboard(p.id).unwrap();
        let early = SessionRecord {
            local_date: jiff::civil::date(2025, 1, 1),
            needle_length_mm: 1.0,
            ..session(p.id, None, 10)
        };
        store.log_session(&early, None).unwrap();
        store
            .save_checkin(&checkin(p.id, None, 20, TriageLevel::Watch), None)
            .unwrap();
        store
            .save_screening(&screening(p.id, 5, Verdict::Go))
            .unwrap();
        assert_eq!(store.dashboard(p.id).unwrap(), before);
        assert_dashboard_agrees(store, p.id);

        // Two red flags: resolving one keeps the lock, both lifts it.
        let first = checkin(p.id, None, 8000, TriageLevel::UrgentCare);
        let second = checkin(p.id, None, 8001, TriageLevel::ContactSurgeon);
        let (e1, e2) = (episode(&first), episode(&second));
        store.save_checkin(&first, Some(&e1)).unwrap();
        store.save_checkin(&second, Some(&e2)).unwrap();
        store
            .resolve_episode(p.id, e1.id, at(8100), "seen", &doctor_examined(), None)
            .unwrap();
        assert!(store.dashboard(p.id).unwrap().locked);
        assert_dashboard_agrees(store, p.id);
        store
            .resolve_episode(p.id, e2.id, at(8200), "seen", &doctor_examined(), None)
            .unwrap();
        assert!(!store.dashboard(p.id).unwrap().locked);

        // A restore rebuilds the same facts.
        let before = store.dashboard(p.id).unwrap();
        let snap = store.snapshot().unwrap();
        store
            .restore_snapshot(&snap, needlewise_store::RestoreMode::Replace)
            .unwrap();
        assert_eq!(store.dashboard(p.id).unwrap(), before);
        assert_dashboard_agrees(store, p.id);

        // Nothing of Ada's shows in another profile's dashboard.
        assert_eq!(store.dashboard(empty.id).unwrap().devices, vec![]);
        assert_dashboard_agrees(store, empty.id);
    }

    /// Everything a profile can have, for the deletion test.
    pub fn populate(store: &dyn Store, name: &str) -> Profile {
        populate_in(store, AccountId::LOCAL, name)
    }

    fn populate_in(store: &dyn Store, account: AccountId, name: &str) -> Profile {
        let p = profile_in(store, account, name);
        store
            .save_screening(&screening(p.id, 1, Verdict::Go))
            .unwrap();
        let d = roller(store, p.id, "Roller", 0);
        let ready = make_ready(store, &d, 1);
        let s = session(p.id, Some(d.id), 100);
        store.log_session(&s, Some(&used(&ready, 100))).unwrap();
        store
            .add_product_use(p.id, s.id, &product("Balm", "occlusive", 200, true))
            .unwrap();
        let c = checkin(p.id, Some(s.id), 1000, TriageLevel::ContactSurgeon);
        store.save_checkin(&c, Some(&episode(&c))).unwrap();
        p
    }

    pub fn delete_profile_removes_only_that_profile(store: &dyn Store) {
        let a = populate(store, "Ada");
        let one = store.counts().unwrap();
        assert_eq!(
            one,
            Counts {
                accounts: 1,
                web_sessions: 0,
                profiles: 1,
                screenings: 1,
                devices: 1,
                hygiene_events: 5,
                sessions: 1,
                checkins: 1,
                episodes: 1,
            }
        );
        let b = populate(store, "Bea");
        let b_sessions = store.sessions(b.id).unwrap();
        let b_devices = store.devices(b.id).unwrap();
        let a_session = store.last_session(a.id).unwrap().unwrap();

        store.delete_profile(a.id).unwrap();
        assert_eq!(store.counts().unwrap(), one, "only Bea's rows remain");
        assert_eq!(store.profile(a.id).unwrap(), None);
        assert!(store.sessions(a.id).unwrap().is_empty());
        assert_eq!(store.sessions(b.id).unwrap(), b_sessions);
        assert_eq!(store.devices(b.id).unwrap(), b_devices);
        assert_eq!(store.open_episodes(b.id).unwrap().len(), 1);

        // Re-creating the profile with the same id finds nothing left behind:
        // the session's zones and products went too.
        store.create_profile(&a).unwrap();
        let replay = SessionRecord {
            device_id: None,
            ..a_session.clone()
        };
        store.log_session(&replay, None).unwrap();
        assert_eq!(store.session(a.id, replay.id).unwrap(), Some(replay));
    }

    pub fn delete_unknown_profile_is_not_found(store: &dyn Store) {
        let a = profile(store, "Ada");
        assert_not_found(store.delete_profile(ProfileId(id())));
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap(), vec![a]);
    }

    pub fn duplicate_ids_are_conflicts_and_missing_parents_not_found(store: &dyn Store) {
        let p = profile(store, "Ada");
        let ghost = ProfileId(id());
        let sc = screening(p.id, 1, Verdict::Go);
        store.save_screening(&sc).unwrap();
        assert_conflict(store.save_screening(&sc));
        assert_not_found(store.save_screening(&screening(ghost, 1, Verdict::Go)));

        let d = roller(store, p.id, "Roller", 0);
        assert_conflict(store.add_device(&d));
        let mut orphan = d.clone();
        orphan.profile_id = ghost;
        assert_not_found(store.add_device(&orphan));

        let s = session(p.id, None, 10);
        store.log_session(&s, None).unwrap();
        assert_conflict(store.log_session(&s, None));
        assert_not_found(store.log_session(&session(ghost, None, 10), None));
        assert_not_found(store.log_session(&session(p.id, Some(DeviceId(id())), 10), None));

        let c = checkin(p.id, None, 20, TriageLevel::Watch);
        store.save_checkin(&c, None).unwrap();
        assert_conflict(store.save_checkin(&c, None));
        assert_not_found(store.save_checkin(&checkin(ghost, None, 20, TriageLevel::Watch), None));

        let mut expected = Counts {
            accounts: 1,
            profiles: 1,
            screenings: 1,
            devices: 1,
            sessions: 1,
            checkins: 1,
            ..Counts::default()
        };
        assert_eq!(store.counts().unwrap(), expected);
        // A failed episode insert takes its check-in with it.
        let c2 = checkin(p.id, None, 30, TriageLevel::UrgentCare);
        let e = episode(&c);
        store
            .save_checkin(&checkin(p.id, None, 25, TriageLevel::UrgentCare), None)
            .unwrap();
        expected.checkins += 1;
        let e2 = Episode {
            checkin_id: c2.id,
            ..e.clone()
        };
        store.save_checkin(&c2, Some(&e2)).unwrap();
        expected.checkins += 1;
        expected.episodes += 1;
        let c3 = checkin(p.id, None, 40, TriageLevel::UrgentCare);
        let e3 = Episode {
            checkin_id: c3.id,
            ..e2
        };
        assert_conflict(store.save_checkin(&c3, Some(&e3)));
        assert_eq!(store.counts().unwrap(), expected);
    }

    pub fn timestamps_keep_microseconds(store: &dyn Store) {
        let exact = Timestamp::from_microsecond(1_750_000_000_123_456).unwrap();
        let finer = Timestamp::from_nanosecond(1_750_000_000_123_456_789).unwrap();
        let p = Profile {
            id: ProfileId(id()),
            account_id: AccountId::LOCAL,
            name: "Ada".into(),
            created_at: exact,
            time_zone: None,
        };
        store.create_profile(&p).unwrap();
        assert_eq!(store.profile(p.id).unwrap().unwrap().created_at, exact);
        let q = Profile {
            id: ProfileId(id()),
            account_id: AccountId::LOCAL,
            name: "Bea".into(),
            created_at: finer,
            time_zone: None,
        };
        store.create_profile(&q).unwrap();
        assert_eq!(
            store.profile(q.id).unwrap().unwrap().created_at,
            exact,
            "both backends keep microseconds and drop the rest"
        );
        // Before 1970 works too.
        let old = Timestamp::from_second(-86_400 * 365).unwrap();
        let r = Profile {
            id: ProfileId(id()),
            account_id: AccountId::LOCAL,
            name: "Cy".into(),
            created_at: old,
            time_zone: None,
        };
        store.create_profile(&r).unwrap();
        assert_eq!(store.profile(r.id).unwrap().unwrap().created_at, old);
    }

    // ----- accounts -----

    pub fn accounts_create_get_and_find_by_email(store: &dyn Store) {
        let ada = account(store, "ada@example.org");
        assert_eq!(store.account(ada.id).unwrap(), Some(ada.clone()));
        assert_eq!(
            store.account_by_email("ada@example.org").unwrap(),
            Some(ada.clone())
        );
        assert_eq!(
            store.account_by_email("ADA@Example.ORG").unwrap(),
            Some(ada.clone()),
            "emails compare lower-cased"
        );
        assert_eq!(store.account_by_email("bea@example.org").unwrap(), None);
        assert_eq!(store.account(AccountId(id())).unwrap(), None);

        // Stored lower-cased, however the caller wrote it.
        let bea = Account {
            id: AccountId(id()),
            email: "Béa@Example.org".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at: at(5),
        };
        store.create_account(&bea).unwrap();
        let stored = store.account_by_email("BÉA@example.ORG").unwrap().unwrap();
        assert_eq!(
            stored,
            Account {
                email: "béa@example.org".into(),
                ..bea.clone()
            }
        );
        assert_eq!(stored.password_hash, bea.password_hash);
        assert_eq!(store.account(bea.id).unwrap(), Some(stored));
        assert_eq!(store.counts().unwrap().accounts, 3, "two and the local one");
    }

    pub fn duplicate_email_is_a_conflict(store: &dyn Store) {
        let ada = account(store, "ada@example.org");
        let same_email = Account {
            id: AccountId(id()),
            email: "Ada@Example.org".into(),
            ..ada.clone()
        };
        assert_conflict(store.create_account(&same_email));
        let same_id = Account {
            email: "other@example.org".into(),
            ..ada.clone()
        };
        assert_conflict(store.create_account(&same_id));
        let local_id = Account {
            id: AccountId::LOCAL,
            email: "local@example.org".into(),
            ..ada.clone()
        };
        assert_conflict(store.create_account(&local_id));
        assert_eq!(store.account(same_email.id).unwrap(), None);
        assert_eq!(store.account_by_email("other@example.org").unwrap(), None);
        assert_eq!(store.account_by_email("local@example.org").unwrap(), None);
        assert_eq!(store.account(ada.id).unwrap(), Some(ada));
        assert_eq!(store.counts().unwrap().accounts, 2);
    }

    pub fn invalid_accounts_are_refused(store: &dyn Store) {
        let ok = Account {
            id: AccountId(id()),
            email: "ada@example.org".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at: at(0),
        };
        for bad in [
            Account {
                email: String::new(),
                ..ok.clone()
            },
            Account {
                email: "  ".into(),
                ..ok.clone()
            },
            Account {
                password_hash: String::new(),
                ..ok.clone()
            },
        ] {
            assert_invalid(store.create_account(&bad));
        }
        assert_eq!(store.counts().unwrap().accounts, 1);
        // The local account has no email: an empty one finds nothing.
        assert_eq!(store.account_by_email("").unwrap(), None);
    }

    pub fn local_account_exists_and_holds_profiles(store: &dyn Store) {
        assert_eq!(
            store.counts().unwrap(),
            Counts {
                accounts: 1,
                ..Counts::default()
            },
            "a fresh store holds the local account and nothing else"
        );
        let local = store.account(AccountId::LOCAL).unwrap().unwrap();
        assert_eq!(local.id, AccountId::LOCAL);
        assert_eq!(local.email, "", "the local account has no email");
        assert_eq!(local.password_hash, "", "nor a password");

        let me = populate(store, "me");
        assert_eq!(me.account_id, AccountId::LOCAL);
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap(), vec![me.clone()]);
        assert_eq!(
            store.profile_by_name(AccountId::LOCAL, "me").unwrap(),
            Some(me.clone())
        );
        assert_eq!(store.profile(me.id).unwrap(), Some(me.clone()));
        assert_eq!(store.sessions(me.id).unwrap().len(), 1);
        assert_eq!(store.open_episodes(me.id).unwrap().len(), 1);
        store.delete_profile(me.id).unwrap();
        assert_eq!(
            store.counts().unwrap(),
            Counts {
                accounts: 1,
                ..Counts::default()
            }
        );
    }

    pub fn profile_names_are_unique_per_account(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let local_me = profile(store, "me");
        let a_me = profile_in(store, a.id, "me");
        let b_me = profile_in(store, b.id, "me");
        let again = Profile {
            id: ProfileId(id()),
            ..a_me.clone()
        };
        assert_conflict(store.create_profile(&again));
        assert_eq!(
            store.profile_by_name(AccountId::LOCAL, "me").unwrap(),
            Some(local_me)
        );
        assert_eq!(
            store.profile_by_name(a.id, "me").unwrap(),
            Some(a_me.clone())
        );
        assert_eq!(store.profile_by_name(b.id, "me").unwrap(), Some(b_me));
        assert_eq!(store.profiles(a.id).unwrap(), vec![a_me]);
        assert_eq!(store.counts().unwrap().profiles, 3);
    }

    pub fn profiles_list_only_the_accounts_own(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let ada = profile_in(store, a.id, "Ada");
        let bea = profile_in(store, b.id, "Bea");
        let cy = Profile {
            id: ProfileId(id()),
            account_id: a.id,
            name: "Cy".into(),
            created_at: at(-5),
            time_zone: None,
        };
        store.create_profile(&cy).unwrap();
        let me = profile(store, "me");
        assert_eq!(store.profiles(a.id).unwrap(), vec![cy, ada], "oldest first");
        assert_eq!(store.profiles(b.id).unwrap(), vec![bea]);
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap(), vec![me]);
        assert!(store.profiles(AccountId(id())).unwrap().is_empty());
        assert_eq!(
            store.profile_by_name(b.id, "Ada").unwrap(),
            None,
            "another account's profile is not found by name"
        );
        assert_eq!(
            store.profile_by_name(AccountId::LOCAL, "Bea").unwrap(),
            None
        );
    }

    pub fn profile_of_unknown_account_is_not_found(store: &dyn Store) {
        let p = Profile {
            id: ProfileId(id()),
            account_id: AccountId(id()),
            name: "Ada".into(),
            created_at: at(0),
            time_zone: None,
        };
        assert_not_found(store.create_profile(&p));
        assert_eq!(store.profile(p.id).unwrap(), None);
    }

    // ----- web sessions -----

    pub fn web_session_with_profiles_is_the_session_and_its_accounts_profiles(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let ada = profile_in(store, a.id, "Ada");
        let ben = profile_in(store, a.id, "Ben");
        profile_in(store, b.id, "Cleo");
        let s = web_session(a.id, Some(ben.id), 0);
        store.create_web_session(&s).unwrap();
        assert_eq!(
            store
                .web_session_with_profiles(&s.token_hash, at(1))
                .unwrap(),
            Some((s.clone(), vec![ada, ben]))
        );
        // An account without profiles still has its session.
        let c = account(store, "c@example.org");
        let bare = web_session(c.id, None, 0);
        store.create_web_session(&bare).unwrap();
        assert_eq!(
            store
                .web_session_with_profiles(&bare.token_hash, at(1))
                .unwrap(),
            Some((bare, vec![]))
        );
        // Expired (the session lasts an hour) or unknown: nothing.
        assert_eq!(
            store
                .web_session_with_profiles(&s.token_hash, at(61))
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .web_session_with_profiles(&token_hash(), at(1))
                .unwrap(),
            None
        );
    }

    pub fn session_dashboard_is_the_working_profiles_dashboard(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let ada = populate_in(store, a.id, "Ada");
        let ben = profile_in(store, a.id, "Ben");
        // Working in Ben's profile: Ben's (empty) dashboard, not Ada's.
        let s = web_session(a.id, Some(ben.id), 0);
        store.create_web_session(&s).unwrap();
        let found = store
            .session_dashboard(&s.token_hash, at(1))
            .unwrap()
            .unwrap();
        assert_eq!(found.session, s);
        assert_eq!(found.profiles, vec![ada.clone(), ben.clone()]);
        assert_eq!(found.profile, ben);
        assert_eq!(found.dashboard, store.dashboard(ben.id).unwrap());
        assert!(found.dashboard.devices.is_empty());
        // Ben's devices, oldest first, even when added out of order; none
        // of Ada's.
        let newer = roller(store, ben.id, "Newer", 30);
        let older = roller(store, ben.id, "Older", -30);
        let found = store
            .session_dashboard(&s.token_hash, at(1))
            .unwrap()
            .unwrap();
        assert_eq!(found.dashboard.devices, vec![older, newer]);
        assert_eq!(found.dashboard, store.dashboard(ben.id).unwrap());
        // No profile chosen: the account's first, Ada, with her red flag.
        let bare = web_session(a.id, None, 0);
        store.create_web_session(&bare).unwrap();
        let found = store
            .session_dashboard(&bare.token_hash, at(1))
            .unwrap()
            .unwrap();
        assert_eq!(found.profile, ada);
        assert_eq!(found.dashboard, store.dashboard(ada.id).unwrap());
        assert!(found.dashboard.locked);
        // Expired or unknown: nothing.
        assert_eq!(
            store.session_dashboard(&s.token_hash, at(61)).unwrap(),
            None
        );
        assert_eq!(store.session_dashboard(&token_hash(), at(1)).unwrap(), None);
        // An account without profiles has no dashboard to show.
        let c = account(store, "c@example.org");
        let lone = web_session(c.id, None, 0);
        store.create_web_session(&lone).unwrap();
        assert_eq!(
            store.session_dashboard(&lone.token_hash, at(1)).unwrap(),
            None
        );
        // Ben deleted: the session falls back to Ada.
        store.delete_profile(ben.id).unwrap();
        let found = store
            .session_dashboard(&s.token_hash, at(1))
            .unwrap()
            .unwrap();
        assert_eq!((found.profile, found.profiles), (ada.clone(), vec![ada]));
    }

    pub fn web_session_create_and_get(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let ada = profile_in(store, a.id, "Ada");
        let s = web_session(a.id, Some(ada.id), 0);
        store.create_web_session(&s).unwrap();
        assert_eq!(
            store.web_session(&s.token_hash, at(0)).unwrap(),
            Some(s.clone())
        );
        assert_eq!(
            store.web_session(&s.token_hash, at(59)).unwrap(),
            Some(s.clone())
        );
        assert_eq!(store.web_session(&token_hash(), at(0)).unwrap(), None);
        let bare = web_session(a.id, None, 0);
        store.create_web_session(&bare).unwrap();
        assert_eq!(
            store.web_session(&bare.token_hash, at(1)).unwrap(),
            Some(bare.clone())
        );

        // A taken token is a conflict, even for another account.
        assert_conflict(store.create_web_session(&WebSession {
            account_id: b.id,
            profile_id: None,
            ..s.clone()
        }));
        // An unknown account, another account's profile or an unknown profile
        // are not found.
        assert_not_found(store.create_web_session(&web_session(AccountId(id()), None, 0)));
        assert_not_found(store.create_web_session(&web_session(b.id, Some(ada.id), 0)));
        assert_not_found(store.create_web_session(&web_session(a.id, Some(ProfileId(id())), 0)));
        assert_eq!(store.counts().unwrap().web_sessions, 2);

        // Logging out ends it; logging out twice is harmless.
        store.delete_web_session(&s.token_hash).unwrap();
        assert_eq!(store.web_session(&s.token_hash, at(1)).unwrap(), None);
        store.delete_web_session(&s.token_hash).unwrap();
        assert_eq!(
            store.web_session(&bare.token_hash, at(1)).unwrap(),
            Some(bare)
        );
        assert_eq!(store.counts().unwrap().web_sessions, 1);
    }

    pub fn expired_web_session_is_none(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let s = web_session(a.id, None, 0);
        store.create_web_session(&s).unwrap();
        assert_eq!(
            store.web_session(&s.token_hash, at(59)).unwrap(),
            Some(s.clone())
        );
        let just_before = s.expires_at - SignedDuration::from_micros(1);
        assert_eq!(
            store.web_session(&s.token_hash, just_before).unwrap(),
            Some(s.clone())
        );
        assert_eq!(
            store.web_session(&s.token_hash, s.expires_at).unwrap(),
            None,
            "a session has expired at its expiry instant"
        );
        assert_eq!(store.web_session(&s.token_hash, at(600)).unwrap(), None);
        // Still stored until purged.
        assert_eq!(store.counts().unwrap().web_sessions, 1);
    }

    pub fn purge_expired_web_sessions_removes_only_expired(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let old = web_session(a.id, None, 0); // expires at 60
        let older_b = web_session(b.id, None, 10); // 70
        let at_edge = web_session(b.id, None, 40); // 100
        let live = web_session(a.id, None, 50); // 110
        let live_b = web_session(b.id, None, 90); // 150
        for s in [&old, &older_b, &at_edge, &live, &live_b] {
            store.create_web_session(s).unwrap();
        }
        assert_eq!(store.purge_expired_web_sessions(at(30)).unwrap(), 0);
        assert_eq!(store.purge_expired_web_sessions(at(100)).unwrap(), 3);
        assert_eq!(store.counts().unwrap().web_sessions, 2);
        for gone in [&old, &older_b, &at_edge] {
            assert_eq!(store.web_session(&gone.token_hash, at(0)).unwrap(), None);
        }
        assert_eq!(
            store.web_session(&live.token_hash, at(100)).unwrap(),
            Some(live.clone())
        );
        assert_eq!(
            store.web_session(&live_b.token_hash, at(100)).unwrap(),
            Some(live_b)
        );
        assert_eq!(store.purge_expired_web_sessions(at(100)).unwrap(), 0);
        assert_eq!(store.account(a.id).unwrap(), Some(a), "accounts stay");
    }

    pub fn invalid_web_sessions_are_refused(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let ok = web_session(a.id, None, 0);
        for bad in [
            WebSession {
                account_id: AccountId::LOCAL,
                ..ok.clone()
            },
            WebSession {
                token_hash: "abc123".into(),
                ..ok.clone()
            },
            WebSession {
                token_hash: "A".repeat(64),
                ..ok.clone()
            },
            WebSession {
                token_hash: "g".repeat(64),
                ..ok.clone()
            },
            WebSession {
                csrf_token: String::new(),
                ..ok.clone()
            },
            WebSession {
                expires_at: ok.created_at,
                ..ok.clone()
            },
        ] {
            assert_invalid(store.create_web_session(&bad));
        }
        assert_eq!(store.counts().unwrap().web_sessions, 0);
        store.create_web_session(&ok).unwrap();
    }

    pub fn set_web_session_profile_checks_the_account(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let ada = profile_in(store, a.id, "Ada");
        let cy = profile_in(store, a.id, "Cy");
        let bea = profile_in(store, b.id, "Bea");
        let me = profile(store, "me");
        let s = web_session(a.id, None, 0);
        store.create_web_session(&s).unwrap();
        let b_session = web_session(b.id, Some(bea.id), 0);
        store.create_web_session(&b_session).unwrap();
        let profile_of = |token: &str| store.web_session(token, at(1)).unwrap().unwrap().profile_id;

        store
            .set_web_session_profile(&s.token_hash, ada.id)
            .unwrap();
        assert_eq!(profile_of(&s.token_hash), Some(ada.id));
        store.set_web_session_profile(&s.token_hash, cy.id).unwrap();
        assert_eq!(profile_of(&s.token_hash), Some(cy.id));

        assert_not_found(store.set_web_session_profile(&s.token_hash, bea.id));
        assert_not_found(store.set_web_session_profile(&s.token_hash, me.id));
        assert_not_found(store.set_web_session_profile(&s.token_hash, ProfileId(id())));
        assert_not_found(store.set_web_session_profile(&token_hash(), ada.id));
        assert_not_found(store.set_web_session_profile(&b_session.token_hash, ada.id));
        assert_eq!(profile_of(&s.token_hash), Some(cy.id), "unchanged");
        assert_eq!(profile_of(&b_session.token_hash), Some(bea.id), "unchanged");
    }

    pub fn deleting_a_profile_clears_it_from_web_sessions(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let ada = populate_in(store, a.id, "Ada");
        let cy = profile_in(store, a.id, "Cy");
        let s = web_session(a.id, Some(ada.id), 0);
        let t = web_session(a.id, Some(cy.id), 0);
        store.create_web_session(&s).unwrap();
        store.create_web_session(&t).unwrap();
        store.delete_profile(ada.id).unwrap();
        assert_eq!(
            store.web_session(&s.token_hash, at(1)).unwrap(),
            Some(WebSession {
                profile_id: None,
                ..s.clone()
            }),
            "the session stays, with no profile"
        );
        assert_eq!(store.web_session(&t.token_hash, at(1)).unwrap(), Some(t));
        assert_eq!(store.account(a.id).unwrap(), Some(a.clone()));
        assert_eq!(store.profiles(a.id).unwrap(), vec![cy]);
    }

    pub fn delete_web_sessions_of_an_account(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let a1 = web_session(a.id, None, 0);
        let a2 = web_session(a.id, None, 500);
        let b1 = web_session(b.id, None, 0);
        for s in [&a1, &a2, &b1] {
            store.create_web_session(s).unwrap();
        }
        assert_eq!(store.delete_web_sessions_of(a.id).unwrap(), 2);
        assert_eq!(store.web_session(&a1.token_hash, at(1)).unwrap(), None);
        assert_eq!(store.web_session(&a2.token_hash, at(501)).unwrap(), None);
        assert_eq!(store.web_session(&b1.token_hash, at(1)).unwrap(), Some(b1));
        assert_eq!(store.delete_web_sessions_of(a.id).unwrap(), 0);
        assert_eq!(store.delete_web_sessions_of(AccountId(id())).unwrap(), 0);
        assert_eq!(store.delete_web_sessions_of(AccountId::LOCAL).unwrap(), 0);
        assert_eq!(store.account(a.id).unwrap(), Some(a), "the account stays");
        assert_eq!(store.counts().unwrap().web_sessions, 1);
    }

    pub fn delete_account_removes_everything_it_owns(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let b = account(store, "b@example.org");
        let ada = populate_in(store, a.id, "Ada");
        let cy = populate_in(store, a.id, "Cy");
        let me = populate(store, "me");
        // The same name as one of a's, in another account.
        let b_ada = populate_in(store, b.id, "Ada");
        let a_sessions = [
            web_session(a.id, Some(ada.id), 0),
            web_session(a.id, Some(cy.id), 0),
            web_session(a.id, None, 0),
        ];
        for s in &a_sessions {
            store.create_web_session(s).unwrap();
        }
        let b_session = web_session(b.id, Some(b_ada.id), 0);
        store.create_web_session(&b_session).unwrap();
        let b_sessions = store.sessions(b_ada.id).unwrap();
        let b_devices = store.devices(b_ada.id).unwrap();
        let me_sessions = store.sessions(me.id).unwrap();

        // Per populated profile: 1 screening, 1 device with 5 hygiene events,
        // 1 session, 1 check-in that opened 1 episode.
        let per_profile = |profiles: u64, accounts: u64, web_sessions: u64| Counts {
            accounts,
            web_sessions,
            profiles,
            screenings: profiles,
            devices: profiles,
            hygiene_events: 5 * profiles,
            sessions: profiles,
            checkins: profiles,
            episodes: profiles,
        };
        assert_eq!(store.counts().unwrap(), per_profile(4, 3, 4));

        store.delete_account(a.id).unwrap();
        assert_eq!(
            store.counts().unwrap(),
            per_profile(2, 2, 1),
            "only the local account's and b's rows remain"
        );
        assert_eq!(store.account(a.id).unwrap(), None);
        assert_eq!(store.account_by_email("a@example.org").unwrap(), None);
        assert!(store.profiles(a.id).unwrap().is_empty());
        for p in [&ada, &cy] {
            assert_eq!(store.profile(p.id).unwrap(), None);
            assert!(store.sessions(p.id).unwrap().is_empty());
            assert!(store.devices(p.id).unwrap().is_empty());
            assert!(store.checkins(p.id).unwrap().is_empty());
            assert!(store.episodes(p.id).unwrap().is_empty());
            assert_eq!(store.latest_screening(p.id).unwrap(), None);
        }
        for s in &a_sessions {
            assert_eq!(store.web_session(&s.token_hash, at(1)).unwrap(), None);
        }

        // Everyone else's is untouched.
        assert_eq!(store.account(b.id).unwrap(), Some(b.clone()));
        assert_eq!(store.profiles(b.id).unwrap(), vec![b_ada.clone()]);
        assert_eq!(store.sessions(b_ada.id).unwrap(), b_sessions);
        assert_eq!(store.devices(b_ada.id).unwrap(), b_devices);
        assert_eq!(
            store.web_session(&b_session.token_hash, at(1)).unwrap(),
            Some(b_session)
        );
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap(), vec![me.clone()]);
        assert_eq!(store.sessions(me.id).unwrap(), me_sessions);

        // Gone for good: deleting again is not found, and the email is free.
        assert_not_found(store.delete_account(a.id));
        account(store, "a@example.org");
    }

    // ----- calendar tokens -----

    pub fn calendar_token_set_find_and_delete(store: &dyn Store) {
        let ada = profile(store, "Ada");
        let h = token_hash();
        assert_eq!(store.profile_by_calendar_token(&h).unwrap(), None);
        assert_eq!(store.calendar_token_created(ada.id).unwrap(), None);
        store.set_calendar_token(ada.id, &h, at(5)).unwrap();
        assert_eq!(
            store.profile_by_calendar_token(&h).unwrap(),
            Some(ada.clone())
        );
        assert_eq!(store.calendar_token_created(ada.id).unwrap(), Some(at(5)));
        assert_eq!(
            store.profile_by_calendar_token(&token_hash()).unwrap(),
            None
        );
        store.delete_calendar_token(ada.id).unwrap();
        assert_eq!(store.profile_by_calendar_token(&h).unwrap(), None);
        assert_eq!(store.calendar_token_created(ada.id).unwrap(), None);
        // Deleting again, or for a profile without one, is harmless.
        store.delete_calendar_token(ada.id).unwrap();
        store.delete_calendar_token(ProfileId(id())).unwrap();
        assert_eq!(
            store.profile(ada.id).unwrap(),
            Some(ada),
            "the profile stays"
        );
    }

    pub fn calendar_token_rotation_invalidates_the_old_one(store: &dyn Store) {
        let ada = profile(store, "Ada");
        let old = token_hash();
        let new = token_hash();
        store.set_calendar_token(ada.id, &old, at(0)).unwrap();
        store.set_calendar_token(ada.id, &new, at(10)).unwrap();
        assert_eq!(store.profile_by_calendar_token(&old).unwrap(), None);
        assert_eq!(
            store.profile_by_calendar_token(&new).unwrap(),
            Some(ada.clone())
        );
        assert_eq!(store.calendar_token_created(ada.id).unwrap(), Some(at(10)));
        // The old hash is free again: another profile may (in theory) get it.
        let cy = profile(store, "Cy");
        store.set_calendar_token(cy.id, &old, at(11)).unwrap();
        assert_eq!(store.profile_by_calendar_token(&old).unwrap(), Some(cy));
        assert_eq!(store.profile_by_calendar_token(&new).unwrap(), Some(ada));
    }

    pub fn calendar_tokens_are_per_profile_and_checked(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let ada = profile_in(store, a.id, "Ada");
        let cy = profile_in(store, a.id, "Cy");
        let (ha, hc) = (token_hash(), token_hash());
        store.set_calendar_token(ada.id, &ha, at(0)).unwrap();
        store.set_calendar_token(cy.id, &hc, at(0)).unwrap();
        assert_eq!(
            store.profile_by_calendar_token(&ha).unwrap(),
            Some(ada.clone())
        );
        assert_eq!(
            store.profile_by_calendar_token(&hc).unwrap(),
            Some(cy.clone())
        );
        // A hash another profile holds is a conflict and changes nothing.
        assert_conflict(store.set_calendar_token(cy.id, &ha, at(1)));
        assert_eq!(store.profile_by_calendar_token(&hc).unwrap(), Some(cy));
        assert_eq!(
            store.profile_by_calendar_token(&ha).unwrap(),
            Some(ada.clone())
        );
        // Setting the same hash again for its own profile is fine.
        store.set_calendar_token(ada.id, &ha, at(2)).unwrap();
        // An unknown profile is not found; a hash that is not SHA-256 hex is
        // invalid.
        assert_not_found(store.set_calendar_token(ProfileId(id()), &token_hash(), at(0)));
        for bad in [
            String::new(),
            "abc".to_owned(),
            ha.to_uppercase(),
            format!("{}g", &ha[..63]),
            format!("{ha}0"),
        ] {
            assert_invalid(store.set_calendar_token(ada.id, &bad, at(0)));
        }
        assert_eq!(store.profile_by_calendar_token(&ha).unwrap(), Some(ada));
    }

    pub fn deleting_a_profile_or_account_removes_its_calendar_token(store: &dyn Store) {
        let a = account(store, "a@example.org");
        let ada = populate_in(store, a.id, "Ada");
        let cy = profile_in(store, a.id, "Cy");
        let b = account(store, "b@example.org");
        let bea = profile_in(store, b.id, "Bea");
        let (ha, hc, hb) = (token_hash(), token_hash(), token_hash());
        store.set_calendar_token(ada.id, &ha, at(0)).unwrap();
        store.set_calendar_token(cy.id, &hc, at(0)).unwrap();
        store.set_calendar_token(bea.id, &hb, at(0)).unwrap();
        store.delete_profile(ada.id).unwrap();
        assert_eq!(store.profile_by_calendar_token(&ha).unwrap(), None);
        assert_eq!(store.calendar_token_created(ada.id).unwrap(), None);
        assert_eq!(store.profile_by_calendar_token(&hc).unwrap(), Some(cy));
        store.delete_account(a.id).unwrap();
        assert_eq!(store.profile_by_calendar_token(&hc).unwrap(), None);
        assert_eq!(store.profile_by_calendar_token(&hb).unwrap(), Some(bea));
    }

    pub fn deleting_the_local_account_is_refused(store: &dyn Store) {
        let me = populate(store, "me");
        let before = store.counts().unwrap();
        assert_invalid(store.delete_account(AccountId::LOCAL));
        assert_eq!(store.counts().unwrap(), before);
        assert!(store.account(AccountId::LOCAL).unwrap().is_some());
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap(), vec![me]);
        assert_not_found(store.delete_account(AccountId(id())));
    }

    // Progress: ratings and photo metadata.

    fn rating(
        profile: ProfileId,
        zone: Zone,
        concern: needlewise_core::progress::Concern,
        score: u8,
        minutes: i64,
    ) -> needlewise_core::progress::Rating {
        needlewise_core::progress::Rating {
            profile_id: profile,
            id: needlewise_core::ids::RatingId(id()),
            zone,
            concern,
            score: needlewise_core::progress::Score::new(score).unwrap(),
            rated_at: at(minutes),
            note: format!("note {minutes}"),
        }
    }

    fn photo(profile: ProfileId, minutes: i64) -> needlewise_core::progress::Photo {
        let pid = needlewise_core::ids::PhotoId(id());
        needlewise_core::progress::Photo {
            profile_id: profile,
            id: pid,
            taken_at: at(minutes),
            zone: (minutes % 2 == 0).then_some(Zone::LeftCheek),
            width: 640,
            height: 480,
            bytes: 12_345,
            sha256: "ab".repeat(32),
            content_type: "image/jpeg".into(),
            stored_name: format!("{pid}.jpg"),
        }
    }

    pub fn ratings_round_trip_oldest_first_and_delete(store: &dyn Store) {
        use needlewise_core::progress::Concern;
        let p = profile(store, "Ada");
        assert!(store.ratings(p.id).unwrap().is_empty());
        let later = rating(p.id, Zone::Forehead, Concern::LinesAndWrinkles, 3, 60);
        let earlier = rating(p.id, Zone::Chin, Concern::AcneScars, 0, 1);
        store.add_rating(&later).unwrap();
        store.add_rating(&earlier).unwrap();
        assert_eq!(
            store.ratings(p.id).unwrap(),
            vec![earlier.clone(), later.clone()]
        );
        assert!(matches!(
            store.add_rating(&later),
            Err(StoreError::Conflict { .. })
        ));
        store.delete_rating(p.id, earlier.id).unwrap();
        assert_eq!(store.ratings(p.id).unwrap(), vec![later]);
        assert!(matches!(
            store.delete_rating(p.id, earlier.id),
            Err(StoreError::NotFound { .. })
        ));
        let orphan = rating(ProfileId(id()), Zone::Nose, Concern::Laxity, 1, 2);
        assert!(matches!(
            store.add_rating(&orphan),
            Err(StoreError::NotFound { .. })
        ));
    }

    pub fn photos_round_trip_oldest_first_and_delete(store: &dyn Store) {
        let p = profile(store, "Ada");
        assert!(store.photos(p.id).unwrap().is_empty());
        let b = photo(p.id, 30);
        let a = photo(p.id, 3);
        store.add_photo(&b).unwrap();
        store.add_photo(&a).unwrap();
        assert_eq!(store.photos(p.id).unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(store.photo(p.id, a.id).unwrap(), Some(a.clone()));
        assert!(matches!(
            store.add_photo(&a),
            Err(StoreError::Conflict { .. })
        ));
        let bad = needlewise_core::progress::Photo {
            width: 0,
            ..photo(p.id, 4)
        };
        assert!(matches!(
            store.add_photo(&bad),
            Err(StoreError::Invalid { .. })
        ));
        store.delete_photo(p.id, a.id).unwrap();
        assert_eq!(store.photo(p.id, a.id).unwrap(), None);
        assert!(matches!(
            store.delete_photo(p.id, a.id),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.add_photo(&photo(ProfileId(id()), 5)),
            Err(StoreError::NotFound { .. })
        ));
    }

    pub fn progress_is_isolated_and_cascades_with_the_profile(store: &dyn Store) {
        use needlewise_core::progress::Concern;
        let a = profile(store, "Ada");
        let b = profile(store, "Bea");
        let ra = rating(a.id, Zone::Neck, Concern::Laxity, 2, 1);
        let rb = rating(b.id, Zone::Neck, Concern::Laxity, 4, 1);
        store.add_rating(&ra).unwrap();
        store.add_rating(&rb).unwrap();
        let pa = photo(a.id, 1);
        let pb = photo(b.id, 1);
        store.add_photo(&pa).unwrap();
        store.add_photo(&pb).unwrap();

        assert_eq!(store.ratings(a.id).unwrap(), vec![ra.clone()]);
        assert_eq!(store.photos(a.id).unwrap(), vec![pa.clone()]);
        // Another profile's ids are not found through this one.
        assert_eq!(store.photo(a.id, pb.id).unwrap(), None);
        assert!(matches!(
            store.delete_photo(a.id, pb.id),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete_rating(a.id, rb.id),
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(store.photo(b.id, pb.id).unwrap(), Some(pb.clone()));

        store.delete_profile(a.id).unwrap();
        assert!(store.ratings(a.id).unwrap().is_empty());
        assert!(store.photos(a.id).unwrap().is_empty());
        assert_eq!(store.ratings(b.id).unwrap(), vec![rb]);
        assert_eq!(store.photos(b.id).unwrap(), vec![pb]);
        // Re-creating the profile with the same id finds nothing left behind.
        store.create_profile(&a).unwrap();
        store.add_rating(&ra).unwrap();
        store.add_photo(&pa).unwrap();
    }
}

mod sqlite_only {
    use needlewise_core::ids::AccountId;
    use needlewise_store::{SqliteStore, Store, StoreError};

    use super::SqliteDb;
    use super::cases;

    /// The database itself refuses a second booked appointment at one
    /// clinic and start time (a cancelled one at that time does not
    /// count), whatever the application checked.
    #[test]
    fn the_database_refuses_a_double_booking() {
        let db = SqliteDb::new();
        let p = cases::profile(&db.store, "Ada");
        let practice = super::clinic::practice(&db.store, "Lakeside");
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        let insert = |id: &str, status: &str, ended: &str| {
            conn.execute(
                &format!(
                    "INSERT INTO appointments (clinic_id, profile_id, id, starts_at, ends_at, status,
                         note, booked_by, booked_side, booked_by_name, booked_at, ended_by,
                         ended_side, ended_by_name, ended_at, end_reason, sequence)
                     VALUES (?1, ?2, ?3, 1000000, 2000000, '{status}', '', ?3, 'patient', 'x', 1, {ended})"
                ),
                rusqlite::params![practice.clinic.id.to_string(), p.id.to_string(), id],
            )
        };
        let ended = "?3, 'patient', 'x', 2, 'r', 1";
        let open = "NULL, NULL, NULL, NULL, NULL, 0";
        insert("00000000-0000-0000-0000-000000000001", "cancelled", ended).unwrap();
        insert("00000000-0000-0000-0000-000000000002", "booked", open).unwrap();
        let e = insert("00000000-0000-0000-0000-000000000003", "booked", open).unwrap_err();
        assert!(
            e.to_string().contains(
                "UNIQUE constraint failed: appointments.clinic_id, appointments.starts_at"
            ),
            "{e}"
        );
    }

    #[test]
    fn reopening_keeps_data_and_applies_no_migration_twice() {
        let db = SqliteDb::new();
        let p = cases::profile(&db.store, "Ada");
        let again = SqliteStore::open(&db.path).unwrap();
        assert_eq!(again.profiles(AccountId::LOCAL).unwrap(), vec![p]);
        drop(again);
        let third = SqliteStore::open(&db.path).unwrap();
        drop(third);
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 14, "one row per migration");
    }

    /// Migration 6 fills the home page's facts of the profiles already
    /// there, as a store at version 5 had them nowhere but in their tables.
    #[test]
    fn migration_6_fills_the_facts_of_existing_profiles() {
        let db = SqliteDb::new();
        let ada = cases::populate(&db.store, "Ada").id;
        let expected = db.store.dashboard(ada).unwrap();
        assert!(expected.locked && expected.last_session.is_some());
        // Back to version 5: nothing of 7, no triggers, no columns, no
        // record of 6.
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        back_to_version_6(&conn);
        let triggers: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '%_facts_%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(triggers.len(), 12);
        for t in triggers {
            conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
        }
        for c in [
            "latest_verdict",
            "last_session_date",
            "last_session_needle_mm",
            "latest_checkin_level",
            "open_episodes",
        ] {
            conn.execute_batch(&format!("ALTER TABLE profiles DROP COLUMN {c}"))
                .unwrap();
        }
        conn.execute_batch("DELETE FROM schema_migrations WHERE version = 6")
            .unwrap();
        drop(conn);
        let again = SqliteStore::open(&db.path).unwrap();
        assert_eq!(again.dashboard(ada).unwrap(), expected);
    }

    /// Undoes migration 9 on a SQLite file: the list keys on the clinic
    /// link, their indexes and triggers gone, no record of 9 (8 changed
    /// nothing on SQLite).
    fn back_to_version_8(conn: &rusqlite::Connection) {
        conn.execute_batch(
            "DROP TRIGGER clinic_patients_list_keys;
             DROP TRIGGER profiles_list_keys;
             DROP INDEX clinic_patients_by_name;
             DROP INDEX clinic_patients_flagged;
             ALTER TABLE clinic_patients DROP COLUMN name_key;
             ALTER TABLE clinic_patients DROP COLUMN flagged;
             DELETE FROM schema_migrations WHERE version IN (8, 9);",
        )
        .unwrap();
    }

    /// Migration 9 fills the list keys of the clinic links already there,
    /// so the paged list reads as before.
    #[test]
    fn migration_9_fills_the_list_keys_of_existing_links() {
        use needlewise_store::ClinicStore;
        use needlewise_store::clinic::{PatientFilter, PatientQuery};
        let db = SqliteDb::new();
        let patients: Vec<_> = ["eve", "Bob", "ada"]
            .iter()
            .map(|n| cases::populate(&db.store, n).id)
            .collect();
        let practice = super::clinic::fill_clinic(&db.store, &patients);
        let now = cases::at(2000);
        let query = |filter| PatientQuery {
            search: String::new(),
            filter,
            after: None,
            limit: 50,
        };
        let all = db
            .store
            .patient_page(&practice.by, &query(PatientFilter::All), now)
            .unwrap();
        let red = db
            .store
            .patient_page(&practice.by, &query(PatientFilter::RedFlags), now)
            .unwrap();
        assert_eq!(
            all.patients
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["ada", "Bob", "eve"]
        );
        assert_eq!(red.red_flag_patients, Some(3));
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        back_to_version_8(&conn);
        drop(conn);
        let again = SqliteStore::open(&db.path).unwrap();
        assert_eq!(
            again
                .patient_page(&practice.by, &query(PatientFilter::All), now)
                .unwrap(),
            all
        );
        assert_eq!(
            again
                .patient_page(&practice.by, &query(PatientFilter::RedFlags), now)
                .unwrap(),
            red
        );
    }

    /// Undoes migration 7 on a SQLite file: its table, columns and index
    /// dropped, the session triggers of migration 6 back, no record of 7
    /// (nor of 8 and 9, which go first).
    fn back_to_version_6(conn: &rusqlite::Connection) {
        back_to_version_8(conn);
        conn.execute_batch(
            "DROP TRIGGER sessions_facts_insert;
             DROP TRIGGER sessions_facts_update;
             DROP TRIGGER sessions_facts_delete;
             DROP TABLE readiness_checks;
             DROP INDEX sessions_last_ended;
             ALTER TABLE sessions DROP COLUMN setting;
             ALTER TABLE sessions DROP COLUMN readiness_check_id;
             ALTER TABLE episodes DROP COLUMN resolver;
             ALTER TABLE profiles DROP COLUMN last_session_ended;
             DELETE FROM schema_migrations WHERE version = 7;",
        )
        .unwrap();
        // Migration 6's own session triggers.
        let v6 = include_str!("../migrations/sqlite/0006_profile_facts.sql");
        let mut restored = 0;
        for part in v6.split("CREATE TRIGGER ").skip(1) {
            if part.starts_with("sessions_facts_") {
                let end = part.find("END;").unwrap() + "END;".len();
                conn.execute_batch(&format!("CREATE TRIGGER {}", &part[..end]))
                    .unwrap();
                restored += 1;
            }
        }
        assert_eq!(restored, 3);
    }

    /// Migration 7 fills the end of the last session on the profiles
    /// already there, and the last session is now the one that ended last
    /// (version 6 kept the one that started last).
    #[test]
    fn migration_7_fills_the_last_session_end_of_existing_profiles() {
        use needlewise_core::records::SessionRecord;
        use needlewise_core::schedule::LastSession;

        let db = SqliteDb::new();
        let ada = cases::profile(&db.store, "Ada").id;
        let long = SessionRecord {
            ended_at: cases::at(500),
            needle_length_mm: 0.5,
            ..cases::session(ada, None, 100)
        };
        let short = SessionRecord {
            ended_at: cases::at(212),
            needle_length_mm: 0.25,
            ..cases::session(ada, None, 200)
        };
        db.store.log_session(&long, None).unwrap();
        db.store.log_session(&short, None).unwrap();
        let bea = cases::profile(&db.store, "Bea").id;
        let expected = db.store.dashboard(ada).unwrap();
        assert_eq!(
            expected.last_session,
            Some(LastSession {
                ended_at: long.ended_at,
                needle_length_mm: 0.5
            })
        );

        let conn = rusqlite::Connection::open(&db.path).unwrap();
        back_to_version_6(&conn);
        // Version 6's triggers keep the session that started last: touch
        // the sessions so they run.
        conn.execute_batch("UPDATE sessions SET notes = notes || ''")
            .unwrap();
        let v6: f64 = conn
            .query_row(
                "SELECT last_session_needle_mm FROM profiles WHERE id = ?1",
                [ada.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v6, 0.25, "version 6 kept the session that started last");
        drop(conn);

        let again = SqliteStore::open(&db.path).unwrap();
        assert_eq!(again.dashboard(ada).unwrap(), expected);
        assert_eq!(again.dashboard(bea).unwrap().last_session, None);
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        let (ended, needle): (i64, f64) = conn
            .query_row(
                "SELECT last_session_ended, last_session_needle_mm FROM profiles WHERE id = ?1",
                [ada.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(ended, long.ended_at.as_microsecond());
        assert_eq!(needle, 0.5);
        let sessions: i64 = conn
            .query_row(
                "SELECT count(*) FROM sessions WHERE setting = 'home' AND readiness_check_id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sessions, 2, "sessions from before were at home");
        drop(conn);
        // The new triggers keep it from here on.
        let later = SessionRecord {
            ended_at: cases::at(900),
            needle_length_mm: 1.0,
            ..cases::session(ada, None, 880)
        };
        again.log_session(&later, None).unwrap();
        assert_eq!(
            again.dashboard(ada).unwrap().last_session,
            Some(LastSession::from(&later))
        );
        assert_eq!(
            again.dashboard(ada).unwrap(),
            db.store.dashboard(ada).unwrap()
        );
    }

    /// Reads run on their own connections while writes commit, and always
    /// see every write committed before they started.
    #[test]
    fn concurrent_readers_see_committed_writes() {
        let db = SqliteDb::new();
        let store = &db.store;
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let mut last = 0;
                        for _ in 0..200 {
                            let seen = store.profiles(AccountId::LOCAL).unwrap().len();
                            assert!(seen >= last, "a later read saw fewer profiles");
                            last = seen;
                        }
                    })
                })
                .collect();
            for i in 0..20 {
                cases::profile(store, &format!("p{i}"));
                assert_eq!(
                    store.profiles(AccountId::LOCAL).unwrap().len(),
                    i + 1,
                    "read-your-writes"
                );
            }
            for r in readers {
                r.join().unwrap();
            }
        });
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap().len(), 20);
    }

    #[test]
    fn the_database_file_is_in_wal_mode() {
        let db = SqliteDb::new();
        drop(db.store);
        // journal_mode is persistent in the file; the others are per
        // connection, so check them on a connection opened the same way.
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_changed_migration_is_refused() {
        let db = SqliteDb::new();
        let path = db.path.clone();
        drop(db.store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
            [],
        )
        .unwrap();
        drop(conn);
        match SqliteStore::open(&path) {
            Err(StoreError::Migration(m)) => {
                assert!(m.contains("changed after it was applied"), "{m}")
            }
            other => panic!("expected a Migration error, got {other:?}"),
        }
    }

    #[test]
    fn a_migration_from_a_newer_version_is_refused() {
        let db = SqliteDb::new();
        let path = db.path.clone();
        drop(db.store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (99, 'future', 'x', 0)",
            [],
        )
        .unwrap();
        drop(conn);
        match SqliteStore::open(&path) {
            Err(StoreError::Migration(m)) => assert!(m.contains("newer"), "{m}"),
            other => panic!("expected a Migration error, got {other:?}"),
        }
    }

    #[test]
    fn in_memory_store_works() {
        let store = SqliteStore::open_in_memory().unwrap();
        let p = cases::profile(&store, "Ada");
        assert_eq!(
            store.profile_by_name(AccountId::LOCAL, "Ada").unwrap(),
            Some(p)
        );
        assert_eq!(store.backend(), "sqlite");
    }

    #[test]
    fn open_by_url() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let store = needlewise_store::open(&format!("sqlite://{}", path.display())).unwrap();
        assert_eq!(store.backend(), "sqlite");
        assert!(path.exists());
    }
}

mod postgres_only {
    use std::sync::{Arc, Barrier};

    use needlewise_core::evidence;
    use needlewise_core::hygiene::HygieneEvent;
    use needlewise_core::ids::AccountId;
    use needlewise_store::{ClinicStore, PostgresStore, Store, StoreError};

    use super::{cases, fresh_schema_name, postgres_url, url_in_schema};

    #[test]
    fn reconnecting_applies_no_migration_twice_and_refuses_a_changed_one() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let owner = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let p = cases::profile(&owner, "Ada");

        let again = needlewise_store::open(&url_in_schema(&url, &schema)).unwrap();
        assert_eq!(again.backend(), "postgres");
        assert_eq!(again.profiles(AccountId::LOCAL).unwrap(), vec![p]);
        drop(again);

        let mut client =
            postgres::Client::connect(&url_in_schema(&url, &schema), postgres::NoTls).unwrap();
        let rows: i64 = client
            .query_one("SELECT count(*) FROM schema_migrations", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, 14, "one row per migration");
        client
            .execute(
                "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
                &[],
            )
            .unwrap();
        match PostgresStore::connect(&url_in_schema(&url, &schema)) {
            Err(StoreError::Migration(m)) => {
                assert!(m.contains("changed after it was applied"), "{m}")
            }
            other => panic!("expected a Migration error, got {other:?}"),
        }
    }

    /// As on SQLite: a schema from a newer needlewise is not touched.
    #[test]
    fn a_migration_from_a_newer_version_is_refused() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let _owner = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let mut client =
            postgres::Client::connect(&url_in_schema(&url, &schema), postgres::NoTls).unwrap();
        client
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'future', 'x')",
                &[],
            )
            .unwrap();
        match PostgresStore::connect(&url_in_schema(&url, &schema)) {
            Err(StoreError::Migration(m)) => assert!(m.contains("newer"), "{m}"),
            other => panic!("expected a Migration error, got {other:?}"),
        }
    }

    /// As on SQLite: the facts kept on the profile (migrations 6 and 8
    /// here) are filled in for the profiles already there when the
    /// migrations run, so the home page and the patient list read the same
    /// as before.
    #[test]
    fn migrations_6_to_14_fill_the_facts_of_existing_profiles() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let owner = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let ada = cases::populate(&owner, "Ada").id;
        let practice = super::clinic::fill_clinic(&owner, &[ada]);
        let now = cases::at(2000);
        let expected = owner.dashboard(ada).unwrap();
        assert!(expected.locked && expected.last_session.is_some());
        assert!(expected.verdict.is_some() && expected.latest_checkin.is_some());
        let list = owner.clinic_patients(&practice.by, now).unwrap();
        // Back to version 5: the list keys of 9, the facts, their triggers
        // and functions, and what 7 added (no readiness checks here) gone,
        // nor the conversations of 10, appointments of 11, canned replies
        // of 12, the outbox's calendar part of 13 and the inbox index of 14, no
        // record of 6 to 14.
        let mut client =
            postgres::Client::connect(&url_in_schema(&url, &schema), postgres::NoTls).unwrap();
        client
            .batch_execute(
                "DROP FUNCTION clinic_patient_list_keys(), profile_list_keys() CASCADE;
                 DROP INDEX clinic_patients_by_name, clinic_patients_flagged;
                 ALTER TABLE clinic_patients DROP COLUMN name_key, DROP COLUMN flagged;
                 DROP FUNCTION screenings_changed(), sessions_changed(), episodes_changed(),
                     checkins_changed() CASCADE;
                 DROP FUNCTION refresh_latest_verdict(uuid[]), refresh_latest_checkin(uuid[]),
                     refresh_last_session(uuid[]), refresh_open_episodes(uuid[]);
                 ALTER TABLE profiles DROP COLUMN last_session_ended,
                     DROP COLUMN last_session_date, DROP COLUMN last_session_needle_mm,
                     DROP COLUMN open_episodes, DROP COLUMN latest_verdict,
                     DROP COLUMN latest_checkin_level;
                 DROP INDEX audit_log_list_views, audit_log_inbox_views;
                 DROP TABLE readiness_checks;
                 DROP INDEX sessions_last_ended;
                 ALTER TABLE sessions DROP COLUMN setting, DROP COLUMN readiness_check_id;
                 ALTER TABLE episodes DROP COLUMN resolver;
                 DROP TABLE appointments, proposed_slots, appointment_proposals, clinic_hours;
                 DROP TABLE conversation_escalations, canned_replies, message_photos, messages, conversations;
                 ALTER TABLE email_outbox DROP COLUMN calendar_method, DROP COLUMN calendar;
                 DELETE FROM schema_migrations WHERE version >= 6;",
            )
            .unwrap();
        let again = PostgresStore::connect(&url_in_schema(&url, &schema)).unwrap();
        assert_eq!(again.dashboard(ada).unwrap(), expected);
        assert_eq!(again.clinic_patients(&practice.by, now).unwrap(), list);
        let rows: i64 = client
            .query_one("SELECT count(*) FROM schema_migrations", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, 14, "6 to 14 applied again");
    }

    #[test]
    fn concurrent_writers_on_one_device_one_wins_one_conflicts() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let owner = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let p = cases::profile(&owner, "Ada");
        let d = cases::roller(&owner, p.id, "Roller", 0);

        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (url, barrier, d) = (url_in_schema(&url, &schema), barrier.clone(), d.clone());
                std::thread::spawn(move || {
                    let store = PostgresStore::connect(&url).unwrap();
                    let event = if i == 0 {
                        HygieneEvent::Rinse
                    } else {
                        HygieneEvent::Retire {
                            reason: "old".into(),
                        }
                    };
                    let next = d
                        .apply(&event, cases::at(1), &evidence().defaults.hygiene)
                        .unwrap();
                    barrier.wait();
                    store.record_hygiene(&next, &event)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict { .. })))
            .count();
        assert_eq!((ok, conflicts), (1, 1), "{results:?}");
        assert_eq!(owner.hygiene_log(p.id, d.id).unwrap().len(), 1);
        assert_eq!(owner.device(p.id, d.id).unwrap().unwrap().version, 1);
    }

    /// Two instances of the app (two stores, each its own pool) book the
    /// same slot for two patients at the same moment, round after round:
    /// exactly one booking commits, the other is a conflict in plain words.
    #[test]
    fn two_instances_booking_one_slot_one_wins_one_conflicts() {
        use needlewise_core::ids::AppointmentId;
        use needlewise_store::AppointmentStore;
        use needlewise_store::appointment::{Asker, NewAppointment};

        let url = postgres_url();
        let schema = fresh_schema_name();
        let owner = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let p = super::clinic::practice(&owner, "Lakeside");
        owner
            .set_clinic_hours(&p.by, &super::appointments::mornings(), cases::at(0))
            .unwrap();
        let patients: Vec<_> = ["Ada", "Bea"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let a = cases::account(&owner, &format!("{}@example.org", name.to_lowercase()));
                let pr = cases::profile_in(&owner, a.id, name);
                super::clinic::join(&owner, &p.by, pr.id, &Default::default(), i as i64);
                pr.id
            })
            .collect();
        let free = owner
            .free_slots(
                p.clinic.id,
                cases::at(0),
                cases::at(60 * 24 * 7),
                cases::at(0),
            )
            .unwrap();
        let instances: Vec<Arc<PostgresStore>> = (0..2)
            .map(|_| Arc::new(PostgresStore::connect(&url_in_schema(&url, &schema)).unwrap()))
            .collect();
        let rounds = 8;
        for (round, slot) in free.iter().take(rounds).enumerate() {
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (store, barrier) = (Arc::clone(&instances[i]), barrier.clone());
                    let (profile, clinic, start) = (patients[i], p.clinic.id, slot.start);
                    std::thread::spawn(move || {
                        let new = NewAppointment {
                            id: AppointmentId(cases::id()),
                            clinic_id: clinic,
                            start,
                            proposal: None,
                            note: String::new(),
                            at: cases::at(1),
                        };
                        barrier.wait();
                        store.book_appointment(
                            Asker::Patient,
                            profile,
                            &new,
                            &needlewise_store::appointment::NoMail,
                        )
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let ok = results.iter().filter(|r| r.is_ok()).count();
            let conflicts: Vec<&str> = results
                .iter()
                .filter_map(|r| match r {
                    Err(StoreError::Conflict { what }) => Some(what.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(ok, 1, "round {round}: {results:?}");
            assert_eq!(
                conflicts,
                ["Someone has just booked that time. Choose another one."],
                "round {round}: {results:?}"
            );
        }
        let booked: usize = patients
            .iter()
            .map(|p| owner.patient_appointments(*p).unwrap().len())
            .sum();
        assert_eq!(booked, rounds);
    }

    /// The database itself refuses a second booked appointment at one
    /// clinic and start time, whatever the application checked (and
    /// accepts it once the first is cancelled).
    #[test]
    fn the_database_refuses_a_double_booking() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let _owner = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let mut client =
            postgres::Client::connect(&url_in_schema(&url, &schema), postgres::NoTls).unwrap();
        let e = client
            .batch_execute(&double_booking_sql("now()"))
            .unwrap_err();
        assert_eq!(
            e.code(),
            Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            "{e}"
        );
        assert!(
            format!("{e:?}").contains("appointments_one_per_slot"),
            "{e:?}"
        );
    }

    fn double_booking_sql(now: &str) -> String {
        let row = |id: &str, profile: &str, status: &str, ended: &str| {
            format!(
                "INSERT INTO appointments (clinic_id, profile_id, id, starts_at, ends_at, status, note,
                     booked_by, booked_side, booked_by_name, booked_at, ended_by, ended_side,
                     ended_by_name, ended_at, end_reason, sequence)
                 VALUES ('00000000-0000-0000-0000-0000000000c1', '{profile}', '{id}',
                     '2030-01-01T09:00:00Z', '2030-01-01T09:30:00Z', '{status}', '',
                     '00000000-0000-0000-0000-000000000000', 'patient', 'x', {now}, {ended});"
            )
        };
        let ended =
            format!("'00000000-0000-0000-0000-000000000000', 'patient', 'x', {now}, 'r', 1");
        let open = "NULL, NULL, NULL, NULL, NULL, 0";
        format!(
            "INSERT INTO clinics (id, name, time_zone, ladder, created_at)
                 VALUES ('00000000-0000-0000-0000-0000000000c1', 'C', 'UTC', '{{\"steps\": []}}', {now});
             INSERT INTO profiles (id, account_id, name, created_at)
                 VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000000', 'A', {now}),
                        ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-000000000000', 'B', {now});
             {}
             {}
             {}",
            row("00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-0000000000a1", "cancelled", &ended),
            row("00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-0000000000a1", "booked", open),
            row("00000000-0000-0000-0000-000000000003", "00000000-0000-0000-0000-0000000000b1", "booked", open),
        )
    }

    /// Many more threads than pooled connections, each reading and
    /// writing: every one is served (none waits forever for a connection
    /// handed back while it queued) and sees the data.
    #[test]
    fn more_threads_than_connections_are_all_served() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let store = Arc::new(PostgresStore::connect_fresh_schema(&url, &schema).unwrap());
        let (done, finished) = std::sync::mpsc::channel();
        let threads = 16;
        for i in 0..threads {
            let (store, done) = (Arc::clone(&store), done.clone());
            std::thread::spawn(move || {
                let result = (|| {
                    let p = cases::profile(store.as_ref(), &format!("Patient {i}"));
                    for _ in 0..20 {
                        let found = store.profile(p.id).map_err(|e| e.to_string())?;
                        if found.as_ref().map(|f| f.id) != Some(p.id) {
                            return Err(format!("thread {i} read {found:?}"));
                        }
                    }
                    Ok(())
                })();
                let _ = done.send(result);
            });
        }
        drop(done);
        for _ in 0..threads {
            let result = finished
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("a thread waited over a minute for a connection, or died");
            result.unwrap();
        }
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap().len(), threads);
    }

    #[test]
    fn connection_errors_do_not_show_the_password() {
        let err =
            PostgresStore::connect("postgres://nobody:s3cret-pw@127.0.0.1:1/none").unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        assert!(
            text.contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
            "{text}"
        );

        for bad in [
            "postgres://nobody:s3cret-pw@127.0.0.1:notaport/none",
            "postgres://nobody:s3cret-pw@[::1/none",
        ] {
            let err = PostgresStore::connect(bad).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("s3cret-pw"), "{text}");
        }
    }

    #[test]
    fn bad_schema_names_are_refused() {
        let url = postgres_url();
        let err = PostgresStore::connect_fresh_schema(&url, "x\"; DROP TABLE y; --").unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    }
}

/// Stores written by an earlier version of needlewise (commit a8cca52,
/// schema 7, every table filled by `portability::populate_all`) open
/// unchanged: the same rows and content checksums as when they were
/// written. Made by a test added to that commit by hand: the SQLite file
/// as written (WAL checkpointed), the PostgreSQL schema with
/// `pg_dump --schema=nw_fixture_main --inserts --no-owner --no-privileges`.
mod written_by_main {
    use needlewise_store::{Checksums, PostgresStore, SqliteStore, Store};

    use super::{fresh_schema_name, postgres_url, url_in_schema};

    fn expected(name: &str) -> Checksums {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The store's checksums as schema 7 computed them (the columns added
    /// since to its tables, such as the outbox's calendar part of 13, are
    /// left out of the sums and must be empty), and the tables added after
    /// 7 empty.
    fn assert_same(store: &dyn Store, expected: &Checksums) {
        use needlewise_store::snapshot::{Cell, ChecksumBuilder, TABLES};
        let mut builder = ChecksumBuilder::for_version(7);
        store
            .snapshot_rows(&mut |row| {
                let def = &TABLES[row.table];
                for (c, cell) in def.columns.iter().zip(&row.cells) {
                    if def.since <= 7 && c.since > 7 && c.default.is_none() {
                        assert_eq!(cell, &Cell::Null, "{}.{}", def.name, c.name);
                    }
                }
                builder.add(&row)
            })
            .unwrap();
        let mut found = builder.finish();
        found.tables.retain(|t| {
            let def = TABLES.iter().find(|d| d.name == t.table).unwrap();
            if def.since > 7 {
                assert_eq!(t.rows, 0, "{}", t.table);
            }
            def.since <= 7
        });
        let differences = found.differences(expected);
        assert!(differences.is_empty(), "{differences:#?}");
        assert!(
            expected.tables.iter().all(|t| t.rows > 0),
            "the fixture fills every table"
        );
    }

    #[test]
    fn a_sqlite_store_from_main_opens_with_the_same_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.sqlite3");
        std::fs::copy(
            format!(
                "{}/tests/fixtures/main-a8cca52.sqlite3",
                env!("CARGO_MANIFEST_DIR")
            ),
            &path,
        )
        .unwrap();
        let store = SqliteStore::open(&path).unwrap();
        assert_same(&store, &expected("main-a8cca52.sqlite3.checksums.json"));
    }

    #[test]
    fn a_postgres_store_from_main_opens_with_the_same_checksums() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let dump = include_str!("fixtures/main-a8cca52.postgres.sql")
            .lines()
            // psql's own commands (\restrict), which the server does not know.
            .filter(|l| !l.starts_with('\\'))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("nw_fixture_main", &schema);
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client.batch_execute(&dump).unwrap();
        let result = std::panic::catch_unwind(|| {
            let store = PostgresStore::connect(&url_in_schema(&url, &schema)).unwrap();
            assert_same(&store, &expected("main-a8cca52.postgres.checksums.json"));
        });
        client
            .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .unwrap();
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}
