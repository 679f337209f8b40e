//! Portability: snapshots, restores, checksums across backends, backups,
//! and deletion that leaves nothing behind. Part of the contract suite
//! (one test binary); cases in `both` run on SQLite and on PostgreSQL.

use needlewise_core::hygiene::HygieneEvent;
use needlewise_core::ids::{AccountId, PhotoId, ProfileId, RatingId};
use needlewise_core::progress::{Concern, Photo, Rating, Score};
use needlewise_core::records::Profile;
use needlewise_core::screening::Verdict;
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_store::snapshot::{Cell, TABLES, table_index};
use needlewise_store::{RestoreMode, Snapshot, Store, StoreError};

use super::cases::*;

/// Strings that appear nowhere but in one person's data.
pub struct Marks {
    pub email: String,
    pub profile_name: String,
    pub notes: String,
    pub product: String,
}

impl Marks {
    pub fn new() -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Marks {
            email: format!("zelda.{}@example.org", &tag[..12]),
            profile_name: format!("Zelda-{}", &tag[12..24]),
            notes: format!("private-note-{}", &tag[..20]),
            product: format!("Unicorn-Serum-{}", &tag[4..16]),
        }
    }

    pub fn all(&self) -> [&str; 4] {
        [&self.email, &self.profile_name, &self.notes, &self.product]
    }
}

/// A profile with everything a profile can have: screening, a device
/// with its hygiene log, a session with zones and products, a check-in
/// with an episode (resolved), ratings, photos and a calendar token.
pub fn fill(
    store: &dyn Store,
    account: AccountId,
    name: &str,
    notes: &str,
    product_name: &str,
) -> Profile {
    let p = profile_in(store, account, name);
    store
        .save_screening(&screening(p.id, 1, Verdict::Go))
        .unwrap();
    let d = roller(store, p.id, &format!("Roller of {name}"), 0);
    let ready = make_ready(store, &d, 1);
    let mut s = session(p.id, Some(d.id), 100);
    s.notes = notes.to_owned();
    store.log_session(&s, Some(&used(&ready, 100))).unwrap();
    store
        .add_product_use(p.id, s.id, &product(product_name, "occlusive", 200, true))
        .unwrap();
    let after = used(&ready, 100);
    apply(store, &after, HygieneEvent::Rinse, 300);
    let c = checkin(p.id, Some(s.id), 1000, TriageLevel::ContactSurgeon);
    let e = episode(&c);
    store.save_checkin(&c, Some(&e)).unwrap();
    store
        .resolve_episode(
            p.id,
            e.id,
            at(2000),
            "seen by my surgeon",
            &crate::cases::doctor_examined(),
            None,
        )
        .unwrap();
    store
        .save_checkin(&checkin(p.id, None, 3000, TriageLevel::Expected), None)
        .unwrap();
    for (i, concern) in [Concern::ToneAndTexture, Concern::AcneScars]
        .into_iter()
        .enumerate()
    {
        store
            .add_rating(&Rating {
                profile_id: p.id,
                id: RatingId(id()),
                zone: Zone::LeftCheek,
                concern,
                score: Score::new(i as u8 + 1).unwrap(),
                rated_at: at(400 + i as i64),
                note: format!("{notes} rating {i}"),
            })
            .unwrap();
    }
    let pid = PhotoId(id());
    store
        .add_photo(&Photo {
            profile_id: p.id,
            id: pid,
            taken_at: at(500),
            zone: Some(Zone::Forehead),
            width: 640,
            height: 480,
            bytes: 1234,
            sha256: "cd".repeat(32),
            content_type: "image/jpeg".into(),
            stored_name: format!("{}/{pid}.jpg", p.id),
        })
        .unwrap();
    store
        .set_calendar_token(p.id, &token_hash(), at(600))
        .unwrap();
    p
}

/// A store with two accounts' worth of data plus the local account's.
pub fn populate_all(store: &dyn Store) -> (Marks, AccountId, Profile) {
    let m = Marks::new();
    fill(store, AccountId::LOCAL, "me", "local notes", "Local balm");
    let other = account(store, "other@example.org");
    let op = fill(store, other.id, "Other", "other notes", "Other balm");
    store
        .create_web_session(&web_session(other.id, Some(op.id), 10))
        .unwrap();
    let zelda = account(store, &m.email);
    let zp = fill(store, zelda.id, &m.profile_name, &m.notes, &m.product);
    store
        .create_web_session(&web_session(zelda.id, Some(zp.id), 10))
        .unwrap();
    store
        .create_web_session(&web_session(zelda.id, None, 20))
        .unwrap();
    // Readiness checks, a home session one allowed and a clinic session.
    super::readiness::fill_readiness(store, zp.id);
    super::readiness::fill_readiness(store, op.id);
    // The clinic side: every clinic table gets rows, zelda's the most.
    let practice = super::clinic::fill_clinic(store, &[zp.id, op.id]);
    super::conversations::fill_conversations(store, &practice, &[zp.id, op.id]);
    super::appointments::fill_appointments(store, &practice, &[zp.id, op.id]);
    (m, zelda.id, zp)
}

fn rows_of<'a>(snap: &'a Snapshot, table: &str) -> &'a Vec<Vec<Cell>> {
    &snap.table(table).unwrap().rows
}

/// Whether any cell of the snapshot mentions `needle`.
pub fn mentions(snap: &Snapshot, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for t in &snap.tables {
        for row in &t.rows {
            for cell in row {
                let text = match cell {
                    Cell::Text(s) => s.clone(),
                    Cell::Json(v) => v.to_string(),
                    _ => continue,
                };
                if text.contains(needle) {
                    found.push(format!("{}: {text}", t.table));
                }
            }
        }
    }
    found
}

pub mod cases {
    use super::*;

    pub fn snapshot_holds_every_row_and_replace_round_trips(store: &dyn Store) {
        populate_all(store);
        let before = store.checksums().unwrap();
        let snap = store.snapshot().unwrap();
        // Every table has rows, and the counts agree with the store's own.
        for t in TABLES {
            assert!(
                !rows_of(&snap, t.name).is_empty(),
                "table {} is empty",
                t.name
            );
            assert_eq!(
                before.get(t.name).unwrap().rows,
                rows_of(&snap, t.name).len() as u64,
                "{}",
                t.name
            );
        }
        let counts = store.counts().unwrap();
        assert_eq!(counts.sessions, rows_of(&snap, "sessions").len() as u64);
        assert_eq!(
            counts.hygiene_events,
            rows_of(&snap, "hygiene_events").len() as u64
        );
        assert_eq!(snap.checksums().unwrap(), before);
        assert_eq!(
            store.snapshot_row_count().unwrap(),
            snap.tables.iter().map(|t| t.rows.len() as u64).sum::<u64>()
        );
        let sessions_before = store.sessions(snap_profile(&snap)).unwrap();

        // Refused into a store that holds data; nothing changes.
        match store.restore_snapshot(&snap, RestoreMode::IntoEmpty) {
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(store.checksums().unwrap(), before);

        // Replace: the same data again, every column.
        store.restore_snapshot(&snap, RestoreMode::Replace).unwrap();
        assert_eq!(store.checksums().unwrap(), before);
        assert_eq!(store.snapshot().unwrap(), snap);
        assert_eq!(
            store.sessions(snap_profile(&snap)).unwrap(),
            sessions_before
        );

        // Replace with an empty store's worth of data (only the local account).
        let mut only_local = Snapshot::empty();
        only_local.tables[0].rows = rows_of(&snap, "accounts")
            .iter()
            .filter(|r| r[0] == Cell::Text(AccountId::LOCAL.to_string()))
            .cloned()
            .collect();
        store
            .restore_snapshot(&only_local, RestoreMode::Replace)
            .unwrap();
        assert_eq!(store.snapshot().unwrap(), only_local);
        // ...which counts as empty: the full snapshot restores into it.
        store
            .restore_snapshot(&snap, RestoreMode::IntoEmpty)
            .unwrap();
        assert_eq!(store.checksums().unwrap(), before);
    }

    fn snap_profile(snap: &Snapshot) -> ProfileId {
        match &rows_of(snap, "sessions")[0][0] {
            Cell::Text(s) => ProfileId(s.parse().unwrap()),
            other => panic!("{other:?}"),
        }
    }

    pub fn a_bad_row_is_refused_by_name_and_changes_nothing(store: &dyn Store) {
        populate_all(store);
        let before = store.checksums().unwrap();
        let snap = store.snapshot().unwrap();
        let sessions = table_index("sessions").unwrap();
        let notes = TABLES[sessions].column("notes").unwrap();
        let profile_id = TABLES[sessions].column("profile_id").unwrap();

        let expect_invalid = |broken: &Snapshot, words: &[&str]| {
            match store.restore_snapshot(broken, RestoreMode::Replace) {
                Err(StoreError::Invalid { what: m }) => {
                    for w in words {
                        assert!(m.contains(w), "{m:?} should mention {w:?}");
                    }
                }
                other => panic!("expected Invalid, got {other:?}"),
            }
            assert_eq!(store.checksums().unwrap(), before, "the store changed");
        };

        let mut wrong_type = snap.clone();
        wrong_type.tables[sessions].rows[0][notes] = Cell::Int(7);
        expect_invalid(&wrong_type, &["sessions", "notes", "text"]);

        let mut nul = snap.clone();
        nul.tables[sessions].rows[0][notes] = Cell::Text("a\0b".into());
        expect_invalid(&nul, &["sessions", "notes", "NUL"]);

        let mut not_uuid = snap.clone();
        not_uuid.tables[sessions].rows[0][profile_id] =
            Cell::Text("Robert'); DROP TABLE sessions;--".into());
        expect_invalid(&not_uuid, &["sessions", "profile_id", "UUID"]);

        let mut upper = snap.clone();
        if let Cell::Text(s) = &upper.tables[sessions].rows[0][profile_id] {
            upper.tables[sessions].rows[0][profile_id] = Cell::Text(s.to_uppercase());
        }
        expect_invalid(&upper, &["sessions", "profile_id", "lower-case"]);

        // A session of a profile that is not there: the database refuses it.
        let mut orphan = snap.clone();
        orphan.tables[sessions].rows[0][profile_id] = Cell::Text(id().to_string());
        expect_invalid(&orphan, &["sessions", "cannot be stored"]);

        // A duplicate row.
        let mut dup = snap.clone();
        let first = dup.tables[sessions].rows[0].clone();
        dup.tables[sessions].rows.push(first);
        expect_invalid(&dup, &["sessions", "cannot be stored"]);

        let mut short = snap.clone();
        short.tables[sessions].rows[0].pop();
        expect_invalid(&short, &["sessions", "columns"]);

        let mut no_local = snap.clone();
        no_local.tables[0]
            .rows
            .retain(|r| r[0] != Cell::Text(AccountId::LOCAL.to_string()));
        // Profiles of the local account now have no parent; drop them all
        // to reach the check for the local account itself.
        let mut empty = Snapshot::empty();
        empty.tables[0].rows = no_local.tables[0].rows.clone();
        expect_invalid(&empty, &["local account"]);

        let mut newer = snap.clone();
        newer.schema_version += 1;
        expect_invalid(&newer, &["schema version"]);
    }

    pub fn deleting_an_account_leaves_no_row_that_mentions_it(store: &dyn Store) {
        let (m, zelda, zp) = populate_all(store);
        let snap = store.snapshot().unwrap();
        for s in m.all() {
            assert!(!mentions(&snap, s).is_empty(), "{s} should be stored first");
        }
        store.delete_account(zelda).unwrap();
        let after = store.snapshot().unwrap();
        for s in m.all() {
            assert_eq!(mentions(&after, s), Vec::<String>::new(), "{s} remains");
        }
        for s in [zelda.to_string(), zp.id.to_string()] {
            assert_eq!(mentions(&after, &s), Vec::<String>::new(), "{s} remains");
        }
        // The other people's data is all still there.
        assert_eq!(store.profiles(AccountId::LOCAL).unwrap().len(), 1);
        // The local account, the other person's and the clinician's.
        assert_eq!(rows_of(&after, "accounts").len(), 3);
    }
}

/// A snapshot taken while another connection writes sees the store as
/// it was when the snapshot began: rows written meanwhile are absent,
/// whichever table they are in.
pub fn snapshot_is_consistent_while_another_connection_writes(
    store: &dyn Store,
    writer: &dyn Store,
) {
    populate_all(store);
    let before = store.checksums().unwrap();
    let profiles = table_index("profiles").unwrap();
    let mut wrote = false;
    let mut rows = Snapshot::empty();
    store
        .snapshot_rows(&mut |row| {
            if row.table == profiles && !wrote {
                wrote = true;
                // Commits on another connection in the middle of the read.
                let p = profile(writer, "written meanwhile");
                writer
                    .save_screening(&screening(p.id, 1, Verdict::Go))
                    .unwrap();
                writer.delete_profile(p.id).unwrap();
                let q = profile(writer, "written meanwhile too");
                writer
                    .save_screening(&screening(q.id, 1, Verdict::Go))
                    .unwrap();
            }
            rows.tables[row.table].rows.push(row.cells);
            Ok(())
        })
        .unwrap();
    assert!(wrote);
    assert_eq!(
        rows.checksums().unwrap(),
        before,
        "the snapshot saw later writes"
    );
    assert_ne!(store.checksums().unwrap(), before);
}

/// Copies a populated store into `second` and from there into `third`;
/// checksums and every cell agree, and so do the typed reads.
pub fn copies_agree(first: &dyn Store, second: &dyn Store, third: &dyn Store) {
    let (_, _, zp) = populate_all(first);
    let snap = first.snapshot().unwrap();
    let sums = first.checksums().unwrap();
    second
        .restore_snapshot(&snap, RestoreMode::IntoEmpty)
        .unwrap();
    assert_eq!(second.checksums().unwrap(), sums);
    let snap2 = second.snapshot().unwrap();
    assert_eq!(snap2, snap);
    third
        .restore_snapshot(&snap2, RestoreMode::IntoEmpty)
        .unwrap();
    assert_eq!(third.checksums().unwrap(), sums);
    assert_eq!(third.snapshot().unwrap(), snap);
    for s in [first, second, third] {
        assert_eq!(s.sessions(zp.id).unwrap(), first.sessions(zp.id).unwrap());
        assert_eq!(s.checkins(zp.id).unwrap(), first.checkins(zp.id).unwrap());
        assert_eq!(
            s.latest_screening(zp.id).unwrap(),
            first.latest_screening(zp.id).unwrap()
        );
        assert_eq!(s.devices(zp.id).unwrap(), first.devices(zp.id).unwrap());
        let d = first.devices(zp.id).unwrap()[0].id;
        assert_eq!(
            s.hygiene_log(zp.id, d).unwrap(),
            first.hygiene_log(zp.id, d).unwrap()
        );
        assert_eq!(s.ratings(zp.id).unwrap(), first.ratings(zp.id).unwrap());
        assert_eq!(s.photos(zp.id).unwrap(), first.photos(zp.id).unwrap());
        assert_eq!(s.episodes(zp.id).unwrap(), first.episodes(zp.id).unwrap());
        assert_eq!(
            s.calendar_token_created(zp.id).unwrap(),
            first.calendar_token_created(zp.id).unwrap()
        );
        assert_eq!(s.counts().unwrap(), first.counts().unwrap());
    }
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $case() {
                    let db = crate::SqliteDb::new();
                    super::cases::$case(&db.store);
                }
            )*
        }

        mod postgres {
            $(
                #[test]
                fn $case() {
                    let store = crate::postgres_store();
                    super::cases::$case(&store);
                }
            )*
        }
    };
}

both!(
    snapshot_holds_every_row_and_replace_round_trips,
    a_bad_row_is_refused_by_name_and_changes_nothing,
    deleting_an_account_leaves_no_row_that_mentions_it,
);

mod cross {
    use needlewise_store::{PostgresStore, SqliteStore, Store};

    use super::*;
    use crate::{SqliteDb, fresh_schema_name, postgres_store, postgres_url, url_in_schema};

    #[test]
    fn sqlite_snapshot_is_consistent_while_writing() {
        let db = SqliteDb::new();
        let writer = SqliteStore::open(&db.path).unwrap();
        snapshot_is_consistent_while_another_connection_writes(&db.store, &writer);
    }

    #[test]
    fn postgres_snapshot_is_consistent_while_writing() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let owner = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let writer = PostgresStore::connect(&url_in_schema(&url, &schema)).unwrap();
        snapshot_is_consistent_while_another_connection_writes(&owner, &writer);
    }

    #[test]
    fn sqlite_to_postgres_to_sqlite() {
        let a = SqliteDb::new();
        let b = postgres_store();
        let c = SqliteDb::new();
        copies_agree(&a.store, &b, &c.store);
    }

    #[test]
    fn postgres_to_sqlite_to_postgres() {
        let a = postgres_store();
        let b = SqliteDb::new();
        let c = postgres_store();
        copies_agree(&a, &b.store, &c);
    }

    /// After deleting an account and its profile, none of the person's
    /// strings is left in the bytes of the database, its WAL or its
    /// shared-memory file.
    #[test]
    fn sqlite_delete_leaves_no_bytes_on_disk() {
        for delete_account in [true, false] {
            let db = SqliteDb::new();
            let (m, zelda, zp) = populate_all(&db.store);
            let files = |path: &std::path::Path| -> Vec<u8> {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    if let Ok(bytes) = std::fs::read(std::path::PathBuf::from(p)) {
                        all.extend(bytes);
                    }
                }
                all
            };
            let contains = |hay: &[u8], needle: &str| {
                hay.windows(needle.len()).any(|w| w == needle.as_bytes())
            };
            let before = files(&db.path);
            for s in m.all() {
                assert!(contains(&before, s), "{s} should be on disk first");
            }
            if delete_account {
                db.store.delete_account(zelda).unwrap();
            } else {
                // Deleting the profile (the account stays, with its email).
                db.store.delete_profile(zp.id).unwrap();
            }
            let after = files(&db.path);
            let gone: Vec<&str> = if delete_account {
                m.all().to_vec()
            } else {
                vec![&m.profile_name, &m.notes, &m.product]
            };
            for s in gone {
                assert!(!contains(&after, s), "{s} is still in the database files");
            }
            // Other people's data stays.
            assert!(contains(&after, "Other balm"));
            let _ = zp;
        }
    }

    /// The facts the triggers keep on each profile's row, as text, by id.
    fn facts(client: &mut ::postgres::Client) -> Vec<String> {
        client
            .query(
                "SELECT concat_ws(' | ', id, quote_nullable(latest_verdict),
                        quote_nullable(latest_checkin_level), quote_nullable(last_session_ended),
                        quote_nullable(last_session_date), quote_nullable(last_session_needle_mm),
                        quote_nullable(open_episodes))
                 FROM profiles ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// The user triggers of the tables with facts, and whether each is on.
    fn triggers(client: &mut ::postgres::Client) -> Vec<(String, String)> {
        client
            .query(
                "SELECT tgname::text, tgenabled::text FROM pg_trigger
                 WHERE NOT tgisinternal AND tgrelid = ANY (
                     ARRAY['screenings', 'sessions', 'checkins', 'episodes']::regclass[])
                 ORDER BY tgname",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    /// A restore into PostgreSQL appends with COPY while the facts
    /// triggers are off, then rebuilds the facts once: they equal those
    /// the triggers kept in a store filled call by call, the triggers are
    /// on again afterwards, and later writes keep the facts on both alike.
    #[test]
    fn postgres_restore_rebuilds_the_facts_the_triggers_keep() {
        let url = postgres_url();
        let (schema_a, schema_b) = (fresh_schema_name(), fresh_schema_name());
        let a = PostgresStore::connect_fresh_schema(&url, &schema_a).unwrap();
        let b = PostgresStore::connect_fresh_schema(&url, &schema_b).unwrap();
        let connect = |schema: &str| {
            ::postgres::Client::connect(&url_in_schema(&url, schema), ::postgres::NoTls).unwrap()
        };
        let (mut ca, mut cb) = (connect(&schema_a), connect(&schema_b));

        let (_, _, zp) = populate_all(&a);
        // Facts with more to choose from: sessions ending in another order
        // than they started, two at the same end (the greater id wins), an
        // open red flag and a later check-in, a newer screening.
        let mut early_end = session(zp.id, None, 5000);
        early_end.ended_at = at(5001);
        a.log_session(&early_end, None).unwrap();
        let mut tie = [session(zp.id, None, 4000), session(zp.id, None, 4100)];
        for (i, s) in tie.iter_mut().enumerate() {
            s.ended_at = at(6000);
            s.local_date = jiff::civil::date(2025, 7, 1 + i as i8);
            s.needle_length_mm = 0.5 + i as f64 / 4.0;
            a.log_session(s, None).unwrap();
        }
        let c = checkin(zp.id, None, 7000, TriageLevel::ContactSurgeon);
        a.save_checkin(&c, Some(&episode(&c))).unwrap();
        a.save_checkin(&checkin(zp.id, None, 7100, TriageLevel::Expected), None)
            .unwrap();
        a.save_screening(&screening(zp.id, 8000, Verdict::NotAtHome))
            .unwrap();
        let kept = facts(&mut ca);
        assert!(kept.len() >= 3, "{kept:?}");
        assert!(
            kept.iter()
                .any(|f| f.starts_with(&zp.id.to_string()) && !f.ends_with(" | '0'")),
            "{kept:?}"
        );

        let snap = a.snapshot().unwrap();
        b.restore_snapshot(&snap, RestoreMode::IntoEmpty).unwrap();
        assert_eq!(b.checksums().unwrap(), a.checksums().unwrap());
        assert_eq!(facts(&mut cb), kept);
        let on = triggers(&mut ca);
        assert!(on.len() >= 12, "{on:?}");
        assert!(on.iter().all(|(_, enabled)| enabled == "O"), "{on:?}");
        assert_eq!(triggers(&mut cb), on);

        // Replacing what is there: the same again.
        b.restore_snapshot(&snap, RestoreMode::Replace).unwrap();
        assert_eq!(facts(&mut cb), kept);
        assert_eq!(triggers(&mut cb), on);

        // The triggers keep the facts after the restore as before it.
        for store in [&a, &b] {
            let s = session(zp.id, None, 9000);
            store.log_session(&s, None).unwrap();
            let c = checkin(zp.id, Some(s.id), 9100, TriageLevel::ContactSurgeon);
            store.save_checkin(&c, Some(&episode(&c))).unwrap();
        }
        let later = facts(&mut ca);
        assert_ne!(later, kept);
        assert_eq!(facts(&mut cb), later);

        // A restore that fails leaves the store as it was, triggers on.
        let before = b.checksums().unwrap();
        let mut orphan = snap.clone();
        let sessions = table_index("sessions").unwrap();
        let profile_id = TABLES[sessions].column("profile_id").unwrap();
        orphan.tables[sessions].rows[0][profile_id] = Cell::Text(id().to_string());
        match b.restore_snapshot(&orphan, RestoreMode::Replace) {
            Err(StoreError::Invalid { what }) => {
                assert!(what.contains("sessions"), "{what}");
                assert!(what.contains("is not present in table"), "{what}");
                assert!(what.contains("cannot be stored"), "{what}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert_eq!(b.checksums().unwrap(), before);
        assert_eq!(facts(&mut cb), later);
        assert_eq!(triggers(&mut cb), on);
    }

    /// A role that may write the tables but does not own them cannot
    /// switch their triggers off: its restore leaves them on (they fire
    /// once per COPY) and still ends with the same facts.
    #[test]
    fn postgres_restore_by_a_role_that_does_not_own_the_tables() {
        let url = postgres_url();
        let (schema_a, schema_b) = (fresh_schema_name(), fresh_schema_name());
        let a = PostgresStore::connect_fresh_schema(&url, &schema_a).unwrap();
        let owner = PostgresStore::connect_fresh_schema(&url, &schema_b).unwrap();
        let connect = |url: &str, schema: &str| {
            ::postgres::Client::connect(&url_in_schema(url, schema), ::postgres::NoTls).unwrap()
        };
        let (mut ca, mut cb) = (connect(&url, &schema_a), connect(&url, &schema_b));
        populate_all(&a);
        let role = format!("nw_writer_{}", uuid::Uuid::new_v4().simple());
        cb.batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE, CREATE ON SCHEMA {schema_b} TO {role};
             GRANT ALL ON ALL TABLES IN SCHEMA {schema_b} TO {role};"
        ))
        .unwrap();
        // The same server, logged in as the role (the test server trusts
        // loopback connections).
        let (scheme, rest) = url.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let role_url = format!("{scheme}://{role}@{host}");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let writer = PostgresStore::connect(&url_in_schema(&role_url, &schema_b)).unwrap();
            writer
                .restore_snapshot(&a.snapshot().unwrap(), RestoreMode::IntoEmpty)
                .unwrap();
            assert_eq!(writer.checksums().unwrap(), a.checksums().unwrap());
        }));
        let same_facts = facts(&mut cb) == facts(&mut ca);
        let on = triggers(&mut cb);
        cb.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
            .unwrap();
        drop(owner);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
        assert!(same_facts);
        assert!(on.iter().all(|(_, enabled)| enabled == "O"), "{on:?}");
    }

    /// On PostgreSQL: after deleting, no row of any table refers to the
    /// person's ids or holds their strings (every column, as row text).
    #[test]
    fn postgres_delete_leaves_no_row_that_refers_to_the_person() {
        let url = postgres_url();
        let schema = fresh_schema_name();
        let store = PostgresStore::connect_fresh_schema(&url, &schema).unwrap();
        let (m, zelda, zp) = populate_all(&store);
        let mut client =
            ::postgres::Client::connect(&url_in_schema(&url, &schema), ::postgres::NoTls).unwrap();
        let tables: Vec<String> = client
            .query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                &[&schema],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(tables.len() > TABLES.len(), "{tables:?}");
        let hits = |client: &mut ::postgres::Client| -> Vec<String> {
            let mut found = Vec::new();
            for t in &tables {
                for s in m
                    .all()
                    .iter()
                    .map(|s| s.to_string())
                    .chain([zelda.to_string(), zp.id.to_string()])
                {
                    let n: i64 = client
                        .query_one(
                            format!(
                                "SELECT count(*) FROM \"{t}\" t WHERE t::text LIKE '%' || $1 || '%'"
                            )
                            .as_str(),
                            &[&s],
                        )
                        .unwrap()
                        .get(0);
                    if n > 0 {
                        found.push(format!("{t}: {s}"));
                    }
                }
            }
            found
        };
        assert!(hits(&mut client).len() >= 6);
        store.delete_account(zelda).unwrap();
        assert_eq!(hits(&mut client), Vec::<String>::new());
        // The others' rows are still there.
        assert_eq!(store.counts().unwrap().accounts, 3);
        let _: &dyn Store = &store;
    }
}
