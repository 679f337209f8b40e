//! Seeds a SQLite store for `scripts/bench-clinic`: C clinics, each with
//! one clinician and P consenting patients, every patient with S sessions,
//! a check-in after the last one, and every 20th patient with an open red
//! flag; every patient with one conversation with the clinic of M messages
//! (the patient's and the clinic's in turn; started from the red flag for
//! those who have one).
//!
//! ```text
//! cargo run --release -p needlewise-web --example seed_clinic -- DATA_DIR \
//!     [--clinics C] [--patients P] [--sessions S] [--messages M] [--first-clinic N]
//! ```
//!
//! The first clinic's first patient gets a logged-in web session too: its
//! token is written to `DATA_DIR/patient.token` and its conversation's id
//! to `DATA_DIR/patient.conversation`.
//!
//! `--first-clinic N` gives the first clinic (the one whose clinician the
//! benchmark logs in as) N patients instead of P, to measure a large
//! clinic's list.
//!
//! The store file is `DATA_DIR/needlewise.sqlite3`. The first clinic's
//! clinician gets a logged-in, second-factor-verified web session whose
//! cookie token is written to `DATA_DIR/clinician.token` (a benchmark
//! cannot type TOTP codes). Writes go through the `Store` trait, one commit
//! each, so put DATA_DIR on tmpfs for a fast seed; copy the result to
//! PostgreSQL with `needlewise migrate-store`.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp, ToSpan};
use needlewise_core::answers::{Answer, Answers};
use needlewise_core::clinic::{Clinic, Ladder, Member, Role, Scope};
use needlewise_core::ids::{AccountId, CheckinId, ClinicId, EpisodeId, ProfileId, SessionId};
use needlewise_core::records::{
    Account, CheckinRecord, Episode, Profile, SessionRecord, ZoneRecord,
};
use needlewise_core::triage::TriageLevel;
use needlewise_core::zone::Zone;
use needlewise_store::clinic::Invite;
use needlewise_store::{ClinicStore, SqliteStore, Store, WebSession};
use uuid::Uuid;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut clinics, mut patients, mut sessions) = (50_u32, 200_u32, 30_u32);
    let mut messages = 20_u32;
    let mut first_clinic = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--clinics" => clinics = args.next().context("--clinics C")?.parse()?,
            "--patients" => patients = args.next().context("--patients P")?.parse()?,
            "--sessions" => sessions = args.next().context("--sessions S")?.parse()?,
            "--messages" => messages = args.next().context("--messages M")?.parse()?,
            "--first-clinic" => {
                first_clinic = Some(args.next().context("--first-clinic N")?.parse()?);
            }
            other if other.starts_with('-') => bail!("unknown option {other}"),
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let dir = dir.context(
        "usage: seed_clinic DATA_DIR [--clinics C] [--patients P] [--sessions S] [--first-clinic N]",
    )?;
    std::fs::create_dir_all(&dir)?;
    let store = SqliteStore::open(&dir.join("needlewise.sqlite3"))?;
    // The password is never used (the benchmark's session is made here),
    // so a placeholder PHC string avoids 10,000 argon2 hashes.
    let hash =
        "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hiZW5jaA$unusedunusedunusedunusedunusedunusedunuse";
    let now = Timestamp::now();
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let zones = [
        Zone::Forehead,
        Zone::LeftCheek,
        Zone::RightCheek,
        Zone::Chin,
    ];
    let started = Instant::now();
    let mut token = None;
    let mut patient_token = None;
    for c in 0..clinics {
        let clinician = Account {
            id: AccountId(Uuid::now_v7()),
            email: format!("clinic{c}@example.invalid"),
            password_hash: hash.into(),
            created_at: now,
        };
        store.create_account(&clinician)?;
        let clinic = Clinic {
            id: ClinicId(Uuid::now_v7()),
            name: format!("Bench clinic {c}"),
            time_zone: "UTC".into(),
            ladder: Ladder::default(),
            created_at: now,
        };
        store.create_clinic(
            &clinic,
            &Member {
                clinic_id: clinic.id,
                account_id: clinician.id,
                role: Role::Clinician,
                display_name: format!("Dr Bench {c}"),
                joined_at: now,
            },
        )?;
        if c == 0 {
            // Clinic pages need an enabled second factor and a session
            // verified since.
            store.set_totp(
                clinician.id,
                Some(&needlewise_store::clinic::TotpSecret {
                    account_id: clinician.id,
                    secret: vec![7; 20],
                    enabled_at: Some(now),
                    last_step: 0,
                    pending_session: None,
                }),
            )?;
            let t = format!(
                "{:032x}{:032x}",
                Uuid::new_v4().as_u128(),
                Uuid::new_v4().as_u128()
            );
            store.create_web_session(&WebSession {
                token_hash: needlewise_web::auth::token_hash(&t),
                account_id: clinician.id,
                csrf_token: Uuid::new_v4().simple().to_string(),
                profile_id: None,
                created_at: now,
                expires_at: now + SignedDuration::from_hours(24),
                verified_at: Some(now),
            })?;
            token = Some(t);
        }
        let access = needlewise_store::clinic::ClinicAccess {
            clinic: clinic.id,
            account: clinician.id,
        };
        let count = if c == 0 {
            first_clinic.unwrap_or(patients)
        } else {
            patients
        };
        for p in 0..count {
            let account = Account {
                id: AccountId(Uuid::now_v7()),
                email: format!("patient{c}-{p}@example.invalid"),
                password_hash: hash.into(),
                created_at: now,
            };
            store.create_account(&account)?;
            let profile = Profile {
                id: ProfileId(Uuid::now_v7()),
                account_id: account.id,
                name: format!("Patient {c}-{p}"),
                created_at: now,
                time_zone: None,
            };
            store.create_profile(&profile)?;
            let code = format!("{:064x}", Uuid::now_v7().as_u128());
            store.create_invite(
                &access,
                &Invite {
                    clinic_id: clinic.id,
                    code_hash: code.clone(),
                    label: profile.name.clone(),
                    created_by: clinician.id,
                    created_at: now,
                    expires_at: now + SignedDuration::from_hours(24),
                    used_by: None,
                    used_at: None,
                },
            )?;
            let scopes: BTreeSet<Scope> = Scope::ALL.into_iter().collect();
            store.redeem_invite(&code, profile.id, &scopes, now)?;
            // One session every four weeks, the last one four weeks ago.
            let mut last_end = now;
            let mut last_id = None;
            for k in (1..=sessions).rev() {
                let date = today.checked_sub((28 * i64::from(k)).days())?;
                let start =
                    date.to_zoned_datetime(jiff::tz::TimeZone::UTC)?.timestamp() + 19.hours();
                let id = SessionId(Uuid::now_v7());
                store.log_session(
                    &SessionRecord {
                        id,
                        profile_id: profile.id,
                        device_id: None,
                        started_at: start,
                        ended_at: start + 20.minutes(),
                        local_date: date,
                        needle_length_mm: 0.5,
                        zones: zones
                            .iter()
                            .map(|&zone| ZoneRecord {
                                zone,
                                seconds: 120,
                                strokes: Some(48),
                                skipped: false,
                            })
                            .collect(),
                        products: Vec::new(),
                        notes: String::new(),
                        setting: needlewise_core::records::SessionSetting::Home,
                        readiness_check_id: None,
                    },
                    None,
                )?;
                last_end = start + 20.minutes();
                last_id = Some(id);
            }
            let red = p % 20 == 0;
            let mut answers = Answers::new();
            answers.set("pus_or_spreading_warmth", Answer::Bool(red));
            let checkin = CheckinRecord {
                id: CheckinId(Uuid::now_v7()),
                profile_id: profile.id,
                session_id: last_id,
                at: last_end + 1.hours(),
                answers,
                level: if red {
                    TriageLevel::ContactSurgeon
                } else {
                    TriageLevel::Expected
                },
                rule_ids: if red {
                    vec!["checkin.infection".into()]
                } else {
                    Vec::new()
                },
            };
            let episode = red.then(|| Episode {
                id: EpisodeId(Uuid::now_v7()),
                profile_id: profile.id,
                checkin_id: checkin.id,
                level: TriageLevel::ContactSurgeon,
                opened_at: checkin.at,
                resolved_at: None,
                resolution: String::new(),
                resolver: None,
            });
            store.save_checkin(&checkin, episode.as_ref())?;
            if messages > 0 {
                let id = seed_conversation(
                    &store,
                    &access,
                    &clinic,
                    &checkin,
                    episode.as_ref(),
                    messages,
                    now,
                )?;
                if c == 0 && p == 0 {
                    let t = format!(
                        "{:032x}{:032x}",
                        Uuid::new_v4().as_u128(),
                        Uuid::new_v4().as_u128()
                    );
                    store.create_web_session(&WebSession {
                        token_hash: needlewise_web::auth::token_hash(&t),
                        account_id: account.id,
                        csrf_token: Uuid::new_v4().simple().to_string(),
                        profile_id: Some(profile.id),
                        created_at: now,
                        expires_at: now + SignedDuration::from_hours(24),
                        verified_at: None,
                    })?;
                    patient_token = Some((t, id));
                }
            }
        }
        eprintln!(
            "seeded {} clinics in {:.1} s",
            c + 1,
            started.elapsed().as_secs_f64()
        );
    }
    let token = token.context("no clinic was seeded")?;
    std::fs::write(dir.join("clinician.token"), &token)?;
    if let Some((t, id)) = patient_token {
        std::fs::write(dir.join("patient.token"), t)?;
        std::fs::write(dir.join("patient.conversation"), id.to_string())?;
    }
    println!(
        "seeded {clinics} clinics x {patients} patients x {sessions} sessions x {messages} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One conversation of the check-in's patient with the clinic, started
/// from its red flag when it raised one, with `messages` messages, the
/// patient's and the clinic's in turn, a minute apart (ending before
/// `now`). No emails: the mail text is empty and nobody sends them.
fn seed_conversation(
    store: &SqliteStore,
    access: &needlewise_store::clinic::ClinicAccess,
    clinic: &Clinic,
    checkin: &CheckinRecord,
    episode: Option<&Episode>,
    messages: u32,
    now: Timestamp,
) -> anyhow::Result<needlewise_core::ids::ConversationId> {
    use needlewise_core::conversation::OriginCard;
    use needlewise_core::ids::{ConversationId, MessageId};
    use needlewise_store::ConversationStore;
    use needlewise_store::conversation::{MessageMail, NewConversation, NewMessage};
    let mail = MessageMail {
        subject: "needlewise: a new message".into(),
        body: "Log in to read it.".into(),
    };
    let origin = match episode {
        Some(e) => Some(
            OriginCard::of(needlewise_core::evidence::evidence(), checkin, Some(e))
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    let new = NewConversation {
        id: ConversationId(Uuid::now_v7()),
        clinic_id: clinic.id,
        subject: if origin.is_some() {
            "About my red flag".into()
        } else {
            "A question about my next session".into()
        },
        shared_with_staff: origin.is_none(),
        origin,
    };
    let start = now - SignedDuration::from_mins(i64::from(messages) + 5);
    let message = |k: u32| NewMessage {
        id: MessageId(Uuid::now_v7()),
        body: format!(
            "Message {k} of this conversation: a few plain sentences, as a patient or a clinician would write them."
        ),
        photos: Vec::new(),
        at: start + SignedDuration::from_mins(i64::from(k)),
    };
    store.start_conversation(checkin.profile_id, &new, &message(0), &mail)?;
    for k in 1..messages {
        if k % 2 == 1 {
            store.post_clinic_message(access, checkin.profile_id, new.id, &message(k), &mail)?;
        } else {
            store.post_patient_message(checkin.profile_id, new.id, &message(k), &mail)?;
        }
    }
    Ok(new.id)
}
