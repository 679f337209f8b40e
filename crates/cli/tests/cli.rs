//! The CLI's one integration-test binary: runs the real `needlewise` in a
//! fresh data directory for each test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, json: &Value) -> String {
        let p = self.path(name);
        std::fs::write(&p, serde_json::to_vec(json).unwrap()).unwrap();
        p.display().to_string()
    }

    fn cmd(&self, now: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_needlewise"));
        c.arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--now")
            .arg(now)
            .args(args);
        c.env_remove("NEEDLEWISE_DATABASE_URL")
            .env_remove("NEEDLEWISE_PROFILE")
            .env("TZ", "UTC");
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, now: &str, args: &[&str]) -> Output {
        self.cmd(now, args).output().unwrap()
    }

    /// Runs and expects the given exit code, returning stdout.
    fn ok(&self, now: &str, args: &[&str], code: i32) -> String {
        let out = self.run(now, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "needlewise {args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, now: &str, args: &[&str], code: i32) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(now, &all, code)).unwrap()
    }
}

fn example_answers() -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/answers.example.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn readiness_answers() -> Value {
    serde_json::json!({
        "skin_cleansed": true, "device_damaged": false, "cold_sore_now": false,
        "active_problem_zones": [], "sunburn_or_tan": false, "actives_recently": false,
        "waxed_zones": [], "procedures_since": [], "new_medication": false, "pregnant_now": false, "feeling_unwell": false
    })
}

const T0: &str = "2026-11-25T18:00:00Z";

#[test]
fn help_teaches_commands_and_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_needlewise"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "screen",
        "ready",
        "roller",
        "session",
        "checkin",
        "aftercare",
        "evidence",
        "3  a safety stop",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
}

#[test]
fn evidence_lists_every_rule_with_sources() {
    let env = Env::new();
    let v = env.json(T0, &["evidence"], 0);
    let rules = v["screening"]["rules"].as_array().unwrap();
    assert!(rules.len() >= 30);
    assert!(
        rules
            .iter()
            .all(|r| !r["sources"].as_array().unwrap().is_empty())
    );
    assert!(
        v["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "R50")
    );
    assert!(
        !env.path("data").exists(),
        "listing evidence creates no data"
    );
}

#[test]
fn screening_from_a_file_explains_and_cites() {
    let env = Env::new();
    let file = env.write("answers.json", &example_answers());
    let v = env.json(T0, &["screen", "--answers", &file], 0);
    assert_eq!(v["verdict"], "go_with_precautions");
    let ids: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"screen.cold_sores.with_antiviral_plan"),
        "{ids:?}"
    );
    assert!(
        v["reasons"][0]["sources"][0]["citation"]
            .as_str()
            .unwrap()
            .len()
            > 20
    );
    let text = env.ok(T0, &["screen", "--answers", &file], 0);
    assert!(text.contains("Verdict: go_with_precautions"));
    assert!(text.contains("ask your facial plastic surgeon"));
}

#[test]
fn a_timed_wait_gives_the_date_and_exit_code_3() {
    let env = Env::new();
    let mut answers = example_answers();
    answers["isotretinoin"] = "2026-10-01".into();
    let file = env.write("a.json", &answers);
    let v = env.json(T0, &["screen", "--answers", &file], 3);
    assert_eq!(v["verdict"], "not_at_home");
    assert_eq!(v["eligible_from"], "2027-04-01");
}

#[test]
fn bad_answers_name_the_field_and_save_nothing() {
    let env = Env::new();
    let mut answers = example_answers();
    answers["fitzpatrick"] = 9.into();
    answers["isotretinion"] = "never".into();
    let file = env.write("bad.json", &answers);
    let out = env.run(T0, &["screen", "--answers", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("fitzpatrick: 9 is out of range"), "{err}");
    assert!(err.contains("isotretinion: unknown answer id"), "{err}");
    assert!(err.contains("nothing was saved"));
    assert_eq!(env.json(T0, &["profile", "list"], 0), serde_json::json!([]));

    let broken = env.path("broken.json");
    std::fs::write(&broken, "{\"age\": 3").unwrap();
    let out = env.run(T0, &["screen", "--answers", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("not valid JSON")
    );
}

#[test]
fn a_radiofrequency_device_is_refused_with_its_reason() {
    let env = Env::new();
    let out = env.run(T0, &["roller", "add", "--name", "RF pen", "--rf"]);
    assert_eq!(out.status.code(), Some(3), "a safety stop");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("radiofrequency"), "{err}");
    assert!(err.contains("should not be used at home"), "{err}");
    assert_eq!(
        env.json(T0, &["roller", "list"], 0),
        serde_json::json!([]),
        "nothing was stored"
    );
}

#[test]
fn an_impossible_now_is_refused() {
    let env = Env::new();
    let out = env.run("2026-13-40T00:00:00Z", &["next"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--now"));
}

#[test]
fn the_terminal_screening_asks_only_what_applies() {
    let env = Env::new();
    // A man with cold sores who treats only his forehead: no pregnancy
    // questions, no antiviral-plan question.
    let lines = [
        "44", "male", "n", "n", "n", "n", "never", "never", "n", "never", "n", "n", "n", "none",
        "n", "n", "n", "n", "n", "n", "n", "n", "2", "roller", "0.25", "forehead", "y", "", "", "",
    ];
    let mut child = env
        .cmd(T0, &["screen", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("pregnant"), "{err}");
    assert!(!err.contains("antiviral plan"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "go");
}

#[test]
fn input_that_ends_early_saves_nothing() {
    let env = Env::new();
    let mut child = env
        .cmd(T0, &["screen"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"35\nfemale\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("input ended before pregnant was answered")
    );
}

fn at(min: i64) -> String {
    let t: jiff::Timestamp = T0.parse().unwrap();
    t.checked_add(jiff::SignedDuration::from_mins(min))
        .unwrap()
        .to_string()
}

#[test]
fn a_whole_journey_from_screening_to_a_red_flag_and_back() {
    let env = Env::new();
    let answers = env.write("screen.json", &example_answers());
    let ready = env.write("ready.json", &readiness_answers());
    env.ok(&at(0), &["screen", "--answers", &answers], 0);

    // The roller's cycle, with its refusals.
    env.ok(&at(1), &["roller", "add", "--name", "bathroom roller"], 0);
    let v = env.json(&at(2), &["ready", "--answers", &ready], 3);
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule_id"] == "ready.device.not_ready")
    );
    env.ok(&at(2), &["roller", "rinse"], 0);
    let out = env.run(&at(3), &["roller", "soak", "--alcohol", "60"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("60% alcohol is too weak")
    );
    env.ok(&at(3), &["roller", "soak"], 0);
    let out = env.run(&at(8), &["roller", "dry"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("needs at least 10 min")
    );
    let status = env.json(&at(8), &["roller", "status"], 0);
    assert_eq!(status["status"]["state"], "soaking");
    env.ok(&at(13), &["roller", "dry"], 0);
    env.ok(&at(43), &["roller", "ready"], 0);

    // Ready, then a guided session (sections of 0 s keep the test fast).
    let v = env.json(&at(45), &["ready", "--answers", &ready], 0);
    assert_eq!(v["go"], true);
    let v = env.json(
        &at(46),
        &[
            "session",
            "guide",
            "--answers",
            &ready,
            "--section-seconds",
            "0",
            "--product",
            "Plain HA: aqua, sodium hyaluronate",
        ],
        0,
    );
    assert_eq!(v["session"]["zones"].as_array().unwrap().len(), 4);
    assert_eq!(v["session"]["products"][0]["allowed"], true);
    assert_eq!(v["checkins_due"].as_array().unwrap().len(), 4);
    let status = env.json(&at(47), &["roller", "status"], 0);
    assert_eq!(
        (
            status["status"]["state"].as_str(),
            status["status"]["use_count"].as_u64()
        ),
        (Some("used"), Some(1))
    );

    // The serum gate refuses vitamin C on the first day.
    let v = env.json(&at(60), &["aftercare", "--product", "vitamin C serum"], 3);
    assert_eq!(v["products"][0]["allowed"], false);

    // Too soon: the next session is three days on.
    let v = env.json(&at(60), &["next"], 0);
    assert_eq!(v["next"]["earliest"], "2026-11-28");
    let v = env.json(&at(24 * 60), &["ready", "--answers", &ready], 3);
    let fired: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap())
        .collect();
    assert!(
        fired.contains(&"ready.interval") && fired.contains(&"ready.device.not_ready"),
        "{fired:?}"
    );

    // A red flag on day 2 locks sessions until resolved.
    let symptoms = env.write("symptoms.json", &serde_json::json!({
        "redness": "moderate", "redness_trend": "worse", "swelling": false, "pus_or_spreading_warmth": true,
        "fever": false, "blisters": false, "new_bumps": false, "track_marks": false, "darker_patches": false,
        "numbness": false, "allergic_reaction": false, "anaesthetic_toxicity": false, "feeling_unwell": false, "widespread_rash": false, "blood_exposure_shared_device": false
    }));
    let v = env.json(&at(50 * 60), &["checkin", "--answers", &symptoms], 3);
    assert_eq!(v["triage"]["level"], "contact_surgeon");
    let episode = v["episode"]["id"].as_str().unwrap().to_owned();
    let v = env.json(&at(6 * 24 * 60), &["next"], 3);
    assert_eq!(v["next"]["status"], "locked");
    // Three letters do not resolve it: a doctor's examination and a
    // fresh check-in without a warning sign do.
    let fine = env.write("fine.json", &serde_json::json!({
        "redness": "none", "swelling": false, "pus_or_spreading_warmth": false,
        "fever": false, "blisters": false, "new_bumps": false, "track_marks": false, "darker_patches": false,
        "numbness": false, "allergic_reaction": false, "anaesthetic_toxicity": false, "feeling_unwell": false, "widespread_rash": false, "blood_exposure_shared_device": false
    }));
    let out = env.run(
        &at(6 * 24 * 60),
        &["checkin", "resolve", &episode, "--note", "abc"],
    );
    assert_eq!(out.status.code(), Some(2), "--note alone is not enough");
    env.ok(
        &at(6 * 24 * 60),
        &[
            "checkin",
            "resolve",
            &episode,
            "--doctor",
            "Dr Lee",
            "--examined-on",
            "2026-11-30",
            "--answers",
            &fine,
        ],
        0,
    );
    let v = env.json(&at(6 * 24 * 60), &["next"], 0);
    assert_eq!(v["next"]["status"], "after");
    let v = env.json(&at(6 * 24 * 60), &["checkin", "list"], 0);
    assert_eq!(v["episodes"][0]["resolver"]["by"], "doctor_examined");
    assert_eq!(v["episodes"][0]["resolver"]["doctor"], "Dr Lee");
}

#[test]
fn another_profile_cannot_reach_a_device_by_id() {
    let env = Env::new();
    let v = env.json(T0, &["roller", "add", "--name", "mine"], 0);
    let id = v["device"]["id"].as_str().unwrap().to_owned();
    let out = env.run(T0, &["--profile", "partner", "roller", "rinse", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("no device"));
    let v = env.json(T0, &["roller", "status", &id], 0);
    assert_eq!(
        v["status"]["state"], "new",
        "the owner's roller is untouched"
    );
}

#[test]
fn a_guided_session_needs_readiness_first() {
    let env = Env::new();
    let ready = env.write("ready.json", &readiness_answers());
    env.ok(T0, &["roller", "add", "--name", "r"], 0);
    let out = env.run(
        T0,
        &[
            "session",
            "guide",
            "--answers",
            &ready,
            "--section-seconds",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "no screening, roller not ready");
    assert_eq!(env.json(T0, &["session", "list"], 0), serde_json::json!([]));
}

#[test]
fn logging_a_session_done_in_a_clinic() {
    let env = Env::new();
    let v = env.json(
        T0,
        &[
            "session",
            "log",
            "--clinic",
            "--zones",
            "forehead,chin",
            "--needle-mm",
            "0.25",
        ],
        0,
    );
    assert_eq!(v["session"]["zones"][1]["zone"], "chin");
    assert_eq!(v["session"]["setting"], "clinic");
    let out = env.run(
        T0,
        &[
            "session",
            "log",
            "--clinic",
            "--zones",
            "forehead,ear",
            "--needle-mm",
            "0.25",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unknown zone \"ear\"")
    );
    assert_eq!(
        env.json(T0, &["session", "list"], 0)
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn deleting_a_profile_needs_confirmation_and_removes_its_data() {
    let env = Env::new();
    env.ok(T0, &["--profile", "kim", "roller", "add", "--name", "r"], 0);
    env.ok(T0, &["roller", "add", "--name", "mine"], 0);
    assert_eq!(
        env.run(T0, &["profile", "delete", "kim"]).status.code(),
        Some(2)
    );
    env.ok(T0, &["profile", "delete", "kim", "--yes"], 0);
    let names: Vec<Value> = env
        .json(T0, &["profile", "list"], 0)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, vec![Value::from("me")]);
    assert_eq!(
        env.json(T0, &["--profile", "kim", "roller", "list"], 0),
        serde_json::json!([])
    );
}

#[test]
fn the_answer_docs_cover_every_question() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/answers.md"),
    )
    .unwrap();
    for q in needlewise_core::evidence().questionnaires() {
        for question in q.questions.iter().filter(|q| !q.fact) {
            assert!(
                docs.contains(&format!("`{}`", question.id)),
                "docs/answers.md lacks {}",
                question.id
            );
        }
    }
    let example: Value = example_answers();
    let today = jiff::civil::Date::constant(2026, 11, 25);
    needlewise_core::answers::Answers::from_json(
        &needlewise_core::evidence().screening,
        &example,
        today,
    )
    .unwrap();
}

/// Screens, registers and cleans a roller so a session can start at `at(45)`.
fn ready_roller(env: &Env) -> String {
    let answers = env.write("screen.json", &example_answers());
    env.ok(&at(0), &["screen", "--answers", &answers], 0);
    env.ok(&at(1), &["roller", "add", "--name", "r"], 0);
    env.ok(&at(2), &["roller", "rinse"], 0);
    env.ok(&at(3), &["roller", "soak", "--alcohol", "90"], 0);
    env.ok(&at(13), &["roller", "dry"], 0);
    env.ok(&at(43), &["roller", "ready"], 0);
    env.write("ready.json", &readiness_answers())
}

#[test]
fn quitting_a_guided_session_early_records_what_was_done() {
    let env = Env::new();
    let ready = ready_roller(&env);
    let mut child = env
        .cmd(
            &at(45),
            &[
                "session",
                "guide",
                "--json",
                "--answers",
                &ready,
                "--section-seconds",
                "30",
            ],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"q\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("Ending the session here"), "{err}");
    assert!(
        err.contains("strokes"),
        "the roller's stroke plan is shown: {err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let zones = v["session"]["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 1, "the session stopped in its first zone");
    assert_eq!(zones[0]["skipped"], true);
    assert!(
        zones[0]["seconds"].as_u64().unwrap() < 30,
        "quitting did not wait out the countdown"
    );
}

#[test]
fn a_session_refuses_a_needle_longer_than_the_screening_cleared() {
    let env = Env::new();
    let answers = env.write("screen.json", &example_answers());
    env.ok(&at(0), &["screen", "--answers", &answers], 0);
    env.ok(
        &at(1),
        &["roller", "add", "--name", "long", "--needle-mm", "0.5"],
        0,
    );
    for (t, step) in [(2, "rinse"), (3, "soak"), (13, "dry"), (43, "ready")] {
        env.ok(&at(t), &["roller", step], 0);
    }
    let ready = env.write("ready.json", &readiness_answers());
    let out = env.run(
        &at(45),
        &[
            "session",
            "guide",
            "--answers",
            &ready,
            "--section-seconds",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "a safety stop");
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("Needle longer than the one screened")
    );
    // Every path says no: readiness, logging, and nothing is stored.
    let v = env.json(&at(46), &["ready", "--answers", &ready], 3);
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule_id"] == "ready.device.needle_not_screened"),
        "{v}"
    );
    let out = env.run(&at(47), &["session", "log", "--zones", "forehead"]);
    assert_eq!(out.status.code(), Some(3), "refused as a home session");
    assert_eq!(
        env.json(&at(48), &["session", "list"], 0),
        serde_json::json!([])
    );
}

#[test]
fn coverage_shows_what_fifteen_seconds_really_gives() {
    let env = Env::new();
    let forehead = env.json(T0, &["coverage", "--zone", "forehead"], 0);
    let eyes = env.json(T0, &["coverage", "--zone", "periorbital_left"], 0);
    let dose = |v: &Value| {
        v["zones"][0]["fixed_time"]["density_per_cm2"]
            .as_f64()
            .unwrap()
    };
    assert!((dose(&forehead) - 17.0).abs() < 2.0, "{}", dose(&forehead));
    assert!((dose(&eyes) - 115.0).abs() < 8.0, "{}", dose(&eyes));
    let svg = env.path("cheek.svg");
    env.ok(
        T0,
        &[
            "coverage",
            "--zone",
            "left_cheek",
            "--svg",
            svg.to_str().unwrap(),
        ],
        0,
    );
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    assert_eq!(
        env.run(T0, &["coverage", "--svg", svg.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        env.run(T0, &["coverage", "--needles", "0"]).status.code(),
        Some(2)
    );
}

#[test]
fn default_config_prints_a_valid_documented_example() {
    let env = Env::new();
    let text = env.ok(T0, &["default-config"], 0);
    assert!(text.contains("listen = \"127.0.0.1:8080\"") && text.contains("# "));
    let parsed: needlewise_web::Config = toml::from_str(&text).unwrap();
    assert_eq!(
        parsed,
        needlewise_web::Config::default(),
        "the example shows the defaults"
    );
}

#[test]
fn serve_refuses_a_bad_config_file_and_names_it() {
    let env = Env::new();
    let path = env.path("bad.toml");
    std::fs::write(&path, "listen = 8080\nsesion_hours = 2\n").unwrap();
    let out = env.run(T0, &["serve", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.toml"), "{err}");
}

#[test]
fn export_ics_writes_the_calendar_with_alarms() {
    let env = Env::new();
    // Nothing logged yet: a valid calendar without events.
    let empty = env.ok(T0, &["export", "ics"], 0);
    assert!(empty.starts_with("BEGIN:VCALENDAR\r\n"), "{empty}");
    assert!(!empty.contains("BEGIN:VEVENT"));

    env.ok(
        T0,
        &[
            "session",
            "log",
            "--clinic",
            "--zones",
            "forehead,chin",
            "--needle-mm",
            "0.25",
        ],
        0,
    );
    let later = at(60);
    let ics = env.ok(&later, &["export", "ics"], 0);
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
        "{ics}"
    );
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(
        !ics.replace("\r\n", "").contains('\n'),
        "every line ends in CRLF"
    );
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{line:?}");
    }
    // The next session (0.25 mm: three days on), the rest of the course and
    // its review, and four check-ins: each with an alarm.
    let events = ics.matches("BEGIN:VEVENT\r\n").count();
    assert_eq!(events, 9, "{ics}");
    assert_eq!(ics.matches("BEGIN:VALARM\r\n").count(), events);
    assert!(ics.contains("X-NEEDLEWISE-KIND:next-session\r\n"));
    assert!(ics.contains("X-NEEDLEWISE-KIND:checkin\r\n"));
    assert!(ics.contains("TRIGGER;RELATED=START:PT9H\r\n"));
    assert!(ics.contains("DTSTART;VALUE=DATE:"));

    // --out writes the same text to a file; stdout stays empty.
    let file = env.path("needlewise.ics");
    let file_arg = file.display().to_string();
    let out = env.ok(&later, &["export", "ics", "--out", &file_arg], 0);
    assert!(out.is_empty(), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ics);

    // The same moment gives the same calendar (stable UIDs).
    assert_eq!(env.ok(&later, &["export", "ics"], 0), ics);
    let v = env.json(&later, &["export", "ics"], 0);
    assert_eq!(v["events"].as_array().unwrap().len(), events);

    // An unwritable file is an error that names it.
    let bad = env.path("no/such/dir/x.ics").display().to_string();
    let out = env.run(&later, &["export", "ics", "--out", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write it"));
}

#[test]
fn export_pdf_writes_the_referral_report() {
    let env = Env::new();
    let answers = env.write("screen.json", &example_answers());
    env.ok(&at(0), &["screen", "--answers", &answers], 0);
    env.ok(&at(1), &["roller", "add", "--name", "Report roller"], 0);
    env.ok(
        &at(2),
        &[
            "session",
            "log",
            "--clinic",
            "--device",
            "Report roller",
            "--zones",
            "forehead,chin",
            "--needle-mm",
            "0.25",
        ],
        0,
    );
    let file = env.path("report.pdf");
    let file_arg = file.display().to_string();
    let out = env.run(&at(60), &["export", "pdf", "--out", &file_arg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Wrote the report (1 session, 0 photos)")
    );
    let pdf = std::fs::read(&file).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    // The text is in standard fonts, uncompressed: the facts are in the bytes.
    assert!(
        text.contains("Report roller"),
        "the device is in the report"
    );
    assert!(text.contains("Verdict: go_with_precautions"));
    assert!(text.contains("forehead, chin"));

    // Piped standard output gets the same report.
    let piped = env.run(&at(60), &["export", "pdf"]);
    assert_eq!(piped.status.code(), Some(0));
    assert_eq!(piped.stdout, pdf);

    // An unwritable file is an error that names it.
    let bad = env.path("no/such/dir/r.pdf").display().to_string();
    let out = env.run(&at(60), &["export", "pdf", "--out", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write it"));
}

// Portability: backup and restore, migrate-store, export all, delete-all.

/// Every byte of the SQLite store's files (database, WAL, shared memory).
fn store_bytes(env: &Env) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(env.path(&format!("data/needlewise.sqlite3{suffix}"))) {
            all.extend(b);
        }
    }
    all
}

fn holds(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A profile with a roller and two sessions, one with awkward notes.
fn some_data(env: &Env, profile: &str, notes: &str) {
    env.ok(
        T0,
        &["--profile", profile, "roller", "add", "--name", "r1"],
        0,
    );
    for (n, started) in [
        (notes, "2026-11-20T09:00:00Z"),
        (
            "second, with \"quotes\"\nand a new line",
            "2026-11-24T09:00:00Z",
        ),
    ] {
        env.ok(
            T0,
            &[
                "--profile",
                profile,
                "session",
                "log",
                "--clinic",
                "--device",
                "r1",
                "--started-at",
                started,
                "--zones",
                "forehead,chin",
                "--needle-mm",
                "0.25",
                "--notes",
                n,
            ],
            0,
        );
    }
}

#[test]
fn backup_restores_exactly_and_a_bad_file_changes_nothing() {
    let a = Env::new();
    some_data(&a, "me", "first session");
    let file = a.path("store.nwbackup.gz");
    let file_s = file.display().to_string();
    let v = a.json(T0, &["backup", "--out", &file_s], 0);
    assert!(v["rows"].as_u64().unwrap() >= 5, "{v}");

    let b = Env::new();
    b.ok(T0, &["profile", "list"], 0);
    let v = b.json(T0, &["restore", &file_s], 0);
    assert_eq!(v["created_at"], T0, "the backup's header follows --now");
    assert_eq!(
        v["rows"],
        a.json(T0, &["backup", "--out", &file_s], 0)["rows"]
    );
    assert_eq!(
        b.json(T0, &["session", "list"], 0),
        a.json(T0, &["session", "list"], 0)
    );

    // Into a store with data: refused without --replace.
    let out = a.run(T0, &["restore", &file_s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));

    // Bad files: named, and the store is unchanged.
    let before = b.json(T0, &["session", "list"], 0);
    let junk = b.path("junk.gz");
    std::fs::write(&junk, b"PK\x03\x04 this is a zip, not a backup").unwrap();
    let out = b.run(T0, &["restore", "--replace", &junk.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("not gzip") && err.contains("nothing was changed"),
        "{err}"
    );
    let bytes = std::fs::read(&file).unwrap();
    let cut = b.path("cut.gz");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let out = b.run(T0, &["restore", "--replace", &cut.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    assert_eq!(b.json(T0, &["session", "list"], 0), before);

    // --replace swaps everything for the backup's data.
    some_data(&b, "other", "other person");
    b.ok(T0, &["restore", "--replace", &file_s], 0);
    assert_eq!(
        b.json(T0, &["profile", "list"], 0),
        a.json(T0, &["profile", "list"], 0)
    );
}

#[test]
fn backup_runs_while_the_store_is_written() {
    let env = Env::new();
    some_data(&env, "me", "first");
    let file = env.path("b.gz").display().to_string();
    // A writer in another process at the same time.
    let mut writer = env.cmd(T0, &["roller", "add", "--name", "during"]);
    writer.stdout(Stdio::null());
    let child = writer.spawn().unwrap();
    env.ok(T0, &["backup", "--out", &file], 0);
    assert!(child.wait_with_output().unwrap().status.success());
    let fresh = Env::new();
    fresh.ok(T0, &["restore", &file], 0);
}

#[test]
fn migrate_store_copies_to_postgres_and_back_and_checks_both_sides() {
    let url = std::env::var("NEEDLEWISE_TEST_POSTGRES_URL").expect(
        "NEEDLEWISE_TEST_POSTGRES_URL is not set: start a server with scripts/pg-test-server",
    );
    let schema = format!("nw_cli_{}", uuid::Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let pg = format!("{url}{sep}options=-c%20search_path%3D{schema}");

    let a = Env::new();
    some_data(&a, "me", "first, \"quoted\"");
    some_data(&a, "kim", "kim's");
    let a_url = format!("sqlite://{}", a.path("data/needlewise.sqlite3").display());
    let b = Env::new();
    let b_url = format!("sqlite://{}", b.path("data/needlewise.sqlite3").display());

    let there = a.json(T0, &["migrate-store", "--from", &a_url, "--to", &pg], 0);
    assert_eq!(there["match"], true);
    assert_eq!(there["source"], there["target"]);
    // Copying again into the now full store is refused; it stays as it was.
    let out = a.run(T0, &["migrate-store", "--from", &a_url, "--to", &pg]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("nwtest@"));

    let back = b.json(T0, &["migrate-store", "--from", &pg, "--to", &b_url], 0);
    assert_eq!(back["match"], true);
    assert_eq!(back["target"], there["source"]);
    for args in [
        &["profile", "list"][..],
        &["session", "list"],
        &["--profile", "kim", "session", "list"],
        &["roller", "list"],
    ] {
        assert_eq!(b.json(T0, args, 0), a.json(T0, args, 0), "{args:?}");
    }
    // Plain output on a pipe: the table of counts and checksums.
    let c = Env::new();
    let c_url = format!("sqlite://{}", c.path("data/needlewise.sqlite3").display());
    let text = c.ok(T0, &["migrate-store", "--from", &a_url, "--to", &c_url], 0);
    assert!(text.contains("Counts and checksums match"), "{text}");
    assert!(text.contains("sessions"));
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .unwrap();
}

/// Adds photo metadata and a file for `profile`, as the web app would.
fn add_photo(env: &Env, profile: &str, bytes: &[u8]) -> String {
    use needlewise_store::Store as _;
    let store = needlewise_store::SqliteStore::open(&env.path("data/needlewise.sqlite3")).unwrap();
    let p = store
        .profile_by_name(needlewise_core::ids::AccountId::LOCAL, profile)
        .unwrap()
        .unwrap();
    let id = needlewise_core::ids::PhotoId(uuid::Uuid::now_v7());
    let dir = env.path(&format!("data/photos/{}", p.id));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{id}.jpg")), bytes).unwrap();
    store
        .add_photo(&needlewise_core::progress::Photo {
            profile_id: p.id,
            id,
            taken_at: T0.parse().unwrap(),
            zone: None,
            width: 10,
            height: 10,
            bytes: bytes.len() as u64,
            sha256: "ab".repeat(32),
            content_type: "image/jpeg".into(),
            stored_name: format!("{}/{id}.jpg", p.id),
        })
        .unwrap();
    id.to_string()
}

#[test]
fn export_all_writes_a_zip_per_profile_with_csv_and_photos() {
    use std::io::Read;
    let env = Env::new();
    some_data(&env, "me", "plain, with a comma");
    some_data(&env, "kim", "kim");
    let answers = env.write("screen.json", &example_answers());
    env.ok(T0, &["screen", "--answers", &answers], 0);
    let photo = add_photo(&env, "me", b"\xff\xd8\xff fake jpeg");
    let out = env.path("all.zip");
    let v = env.json(
        T0,
        &["export", "all", "--out", &out.display().to_string()],
        0,
    );
    assert_eq!(v["profiles"], 2);
    assert_eq!(v["sessions"], 4);
    assert_eq!(v["photos"], 1);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    assert!(names.contains(&"README.txt".to_owned()), "{names:?}");
    let me_dir = names
        .iter()
        .find(|n| n.starts_with("me-") && n.ends_with("/profile.json"))
        .unwrap()
        .trim_end_matches("profile.json")
        .to_owned();
    for f in [
        "sessions.csv",
        "checkins.csv",
        "ratings.csv",
        "profile.json",
        "fhir-bundle.json",
    ] {
        assert!(names.contains(&format!("{me_dir}{f}")), "{f} in {names:?}");
    }
    let mut read = |name: &str| {
        let mut s = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut s).unwrap();
        s
    };
    assert_eq!(
        read(&format!("{me_dir}photos/{photo}.jpg")),
        b"\xff\xd8\xff fake jpeg"
    );
    let csv = String::from_utf8(read(&format!("{me_dir}sessions.csv"))).unwrap();
    assert!(csv.starts_with("id,local_date,"), "{csv}");
    assert!(csv.contains("\"plain, with a comma\""), "{csv}");
    assert!(
        csv.contains("\"second, with \"\"quotes\"\"\nand a new line\""),
        "{csv}"
    );
    let json: Value = serde_json::from_slice(&read(&format!("{me_dir}profile.json"))).unwrap();
    assert_eq!(json["profile"]["name"], "me");
    assert_eq!(json["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(json["devices"][0]["device"]["name"], "r1");
    assert_eq!(json["screenings"].as_array().unwrap().len(), 1, "{json}");
    assert!(json["screenings"][0]["answers"].is_object());
    assert_eq!(json["photos"][0]["id"], photo.as_str());
    let bundle: Value =
        serde_json::from_slice(&read(&format!("{me_dir}fhir-bundle.json"))).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let procedures = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Procedure")
        .count();
    assert_eq!(procedures, 2, "one Procedure per session");
    let readme = String::from_utf8(read("README.txt")).unwrap();
    assert!(readme.contains("sessions.csv"));
    assert!(readme.contains("fhir-bundle.json"), "{readme}");
}

#[test]
fn deleting_leaves_nothing_of_the_person_in_the_store_files_or_on_disk() {
    let env = Env::new();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("Zelda{}", &tag[..10]);
    let notes = format!("secret-notes-{}", &tag[10..24]);
    some_data(&env, &name, &notes);
    some_data(&env, "me", "stays");
    add_photo(&env, &name, b"photo");
    let pid = env.json(T0, &["profile", "list"], 0)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let photos = env.path(&format!("data/photos/{pid}"));
    assert!(photos.exists());
    let before = store_bytes(&env);
    assert!(holds(&before, &name) && holds(&before, &notes));

    // No confirmation, no deletion (standard input is not a terminal).
    let out = env.run(T0, &["profile", "delete", &name]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(photos.exists());

    env.ok(T0, &["profile", "delete", &name, "--yes"], 0);
    let after = store_bytes(&env);
    assert!(
        !holds(&after, &name),
        "the profile name is still in the files"
    );
    assert!(!holds(&after, &notes), "the notes are still in the files");
    assert!(holds(&after, "stays"));
    assert!(!photos.exists());

    // delete-all: needs --yes, then every profile goes.
    assert_eq!(env.run(T0, &["delete-all"]).status.code(), Some(2));
    env.ok(T0, &["delete-all", "--yes"], 0);
    assert!(!holds(&store_bytes(&env), "stays"));
    assert_eq!(env.json(T0, &["profile", "list"], 0), serde_json::json!([]));
}

/// The size the issue asks about: one profile with 200 sessions and 50
/// photos (about 300 KB each). Prints how long `export all` takes.
#[test]
fn export_all_of_200_sessions_and_50_photos() {
    use needlewise_store::Store as _;
    let env = Env::new();
    env.ok(T0, &["profile", "add", "me"], 0);
    {
        let store =
            needlewise_store::SqliteStore::open(&env.path("data/needlewise.sqlite3")).unwrap();
        let p = store
            .profile_by_name(needlewise_core::ids::AccountId::LOCAL, "me")
            .unwrap()
            .unwrap();
        let start: jiff::Timestamp = T0.parse().unwrap();
        for i in 0..200i64 {
            let at = start - jiff::SignedDuration::from_hours(24 * 3 * (i + 1));
            let s = needlewise_core::records::SessionRecord {
                id: needlewise_core::ids::SessionId(uuid::Uuid::now_v7()),
                profile_id: p.id,
                device_id: None,
                started_at: at,
                ended_at: at + jiff::SignedDuration::from_mins(12),
                local_date: at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(),
                needle_length_mm: 0.25,
                zones: vec![needlewise_core::records::ZoneRecord {
                    zone: "forehead".parse().unwrap(),
                    seconds: 60,
                    strokes: Some(8),
                    skipped: false,
                }],
                products: vec![],
                notes: format!("session {i}, fine"),
                setting: needlewise_core::records::SessionSetting::Home,
                readiness_check_id: None,
            };
            store.log_session(&s, None).unwrap();
        }
    }
    let mut noise = vec![0u8; 300 * 1024];
    let mut x: u32 = 12345;
    for b in noise.iter_mut() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    for _ in 0..50 {
        add_photo(&env, "me", &noise);
    }
    let out = env.path("big.zip").display().to_string();
    let started = std::time::Instant::now();
    let v = env.json(T0, &["export", "all", "--out", &out], 0);
    let took = started.elapsed();
    eprintln!("export all: 200 sessions, 50 photos of 300 KB: {took:?}");
    assert_eq!(v["sessions"], 200);
    assert_eq!(v["photos"], 50);
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
}

#[test]
fn fhir_export_and_a_response_imported_back_give_the_same_verdict() {
    let env = Env::new();
    let answers = env.write("screen.json", &example_answers());
    let native = env.json(T0, &["screen", "--answers", &answers], 0);

    let q = env.path("questionnaire.json");
    let out = q.to_str().unwrap();
    env.ok(
        T0,
        &["export", "fhir", "--what", "questionnaire", "-o", out],
        0,
    );
    let q: Value = serde_json::from_slice(&std::fs::read(&q).unwrap()).unwrap();
    assert_eq!(q["resourceType"], "Questionnaire");
    assert_eq!(q["item"][0]["linkId"], "age");

    let r = env.path("response.json");
    let r = r.to_str().unwrap();
    env.ok(T0, &["export", "fhir", "--what", "response", "-o", r], 0);
    let imported = env.json(T0, &["screen", "--fhir-response", r], 0);
    assert_eq!(imported["verdict"], native["verdict"]);
    assert_eq!(imported["reasons"], native["reasons"]);

    // The bundle holds the profile and the latest screening's response.
    let b: Value = serde_json::from_str(&env.ok(T0, &["export", "fhir"], 0)).unwrap();
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "collection");
    let types: Vec<&str> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    for t in ["Patient", "QuestionnaireResponse", "CarePlan", "Consent"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
}

#[test]
fn a_bad_fhir_response_is_refused_naming_the_field_and_saves_nothing() {
    let env = Env::new();
    let bad = env.write(
        "bad.json",
        &serde_json::json!({
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "item": [{"linkId": "age", "answer": [{"valueInteger": 35}]},
                     {"linkId": "pregnant", "answer": [{"valueBoolean": "no"}]}]
        }),
    );
    let out = env.run(T0, &["screen", "--fhir-response", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("item[1].answer[0].valueBoolean: expected a boolean, got a string"),
        "{err}"
    );
    let out = env.run(T0, &["export", "fhir", "--what", "response"]);
    assert_eq!(out.status.code(), Some(2), "no screening was saved");
}

#[test]
fn a_refused_screening_creates_no_profile() {
    let env = Env::new();
    let file = env.write("partial.json", &serde_json::json!({"age": 35}));
    let out = env.run(T0, &["screen", "--answers", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("nothing was saved")
    );
    assert_eq!(
        env.json(T0, &["profile", "list"], 0),
        serde_json::json!([]),
        "no profile was created"
    );
}

/// Issue 17 §6: a reader that closes the pipe early ends the command
/// quietly, with no panic and no stack trace.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let env = Env::new();
    // The evidence base as JSON is far larger than a pipe's buffer.
    let mut child = env
        .cmd(T0, &["evidence", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "1")
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(err.is_empty(), "nothing on stderr: {err}");
}

/// Issue 17 §6: `serve` stops on SIGTERM, as containers and systemd send.
/// Issue 18: with RUST_LOG=info each request is logged with its id, status
/// and latency, and metrics are served on their own address.
#[test]
fn serve_logs_requests_serves_metrics_and_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let env = Env::new();
    let mut child = env
        .cmd(T0, &["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NEEDLEWISE_METRICS_LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let (mut addr, mut metrics) = (None, None);
    while addr.is_none() || metrics.is_none() {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve ended early"
        );
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("needlewise is running at http://") {
            addr = Some(rest.to_owned());
        }
        if let Some(rest) = l.strip_prefix("needlewise metrics at http://") {
            metrics = Some(rest.trim_end_matches("/metrics").to_owned());
        }
    }
    let get = |addr: &str, path: &str| {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        answer
    };
    let answer = get(addr.as_deref().unwrap(), "/healthz");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let id = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("a request id")
        .trim()
        .to_owned();
    let scraped = get(metrics.as_deref().unwrap(), "/metrics");
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(scraped.contains("text/plain; version=0.0.4"), "{scraped}");
    assert!(
        scraped.contains("needlewise_http_requests_total{class=\"2xx\"} 1"),
        "{scraped}"
    );
    assert!(scraped.contains("needlewise_outbox_depth 0"), "{scraped}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status:?} {rest}");
    assert!(rest.contains("stopping"), "{rest}");
    let logged = rest
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no log line with the request id {id}: {rest}"));
    for part in ["/healthz", "status=200", "latency_ms="] {
        assert!(logged.contains(part), "{part} in {logged}");
    }
}

/// Issue 17 §5: file inputs are read with a bound, so an endless file is
/// refused instead of filling memory.
#[test]
fn an_endless_answer_file_is_refused_without_reading_it_whole() {
    let env = Env::new();
    for args in [
        ["screen", "--answers", "/dev/zero"],
        ["screen", "--fhir-response", "/dev/zero"],
        ["ready", "--answers", "/dev/zero"],
    ] {
        let out = env.run(T0, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("larger than"), "{args:?}: {err}");
    }
}

/// Issue 17 §3: the data directory and every file in it are private to
/// their owner, whatever the umask; a shared directory made earlier gets a
/// loud warning with the fix.
#[cfg(unix)]
#[test]
fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    some_data(&env, "me", "first session");
    let file = env.path("store.nwbackup.gz");
    env.ok(T0, &["backup", "--out", file.to_str().unwrap()], 0);
    let data = env.dir.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let mut files = vec![file];
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.push(path);
        }
    }
    assert!(files.len() >= 2, "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.run(T0, &["session", "list"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("can be read by other accounts"), "{err}");
    assert!(err.contains("chmod -R go-rwx"), "{err}");
}

/// Issue 17 §3: a backup can leave the machine encrypted with a
/// passphrase (the age format); a wrong passphrase changes nothing.
#[test]
fn an_encrypted_backup_restores_only_with_its_passphrase() {
    let a = Env::new();
    some_data(&a, "me", "first session");
    let file = a.path("store.nwbackup.age");
    let file_s = file.display().to_string();
    let out = a
        .cmd(T0, &["backup", "--out", &file_s, "--encrypt"])
        .env("NEEDLEWISE_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"), "an age file");
    assert!(
        !bytes
            .windows(b"first session".len())
            .any(|w| w == b"first session"),
        "no plain text"
    );
    // No passphrase, or a short one: refused before anything is written.
    let out = a.run(
        T0,
        &[
            "backup",
            "--out",
            &a.path("x.age").display().to_string(),
            "--encrypt",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!a.path("x.age").exists());

    let b = Env::new();
    b.ok(T0, &["profile", "list"], 0);
    let before = b.json(T0, &["session", "list"], 0);
    let wrong = b
        .cmd(T0, &["restore", &file_s])
        .env("NEEDLEWISE_PASSPHRASE", "not the right passphrase")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(
        b.json(T0, &["session", "list"], 0),
        before,
        "nothing changed"
    );
    let pw = b.path("passphrase.txt");
    std::fs::write(&pw, "a long enough passphrase\n").unwrap();
    let right = b
        .cmd(
            T0,
            &[
                "--json",
                "restore",
                &file_s,
                "--passphrase-file",
                pw.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
    assert_eq!(
        right.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert_eq!(
        b.json(T0, &["session", "list"], 0),
        a.json(T0, &["session", "list"], 0)
    );
}

/// Issue 17 §3: `export all --encrypt` writes only the sealed archive; the
/// plain ZIP never stays on disk.
#[test]
fn export_all_can_be_encrypted() {
    let env = Env::new();
    some_data(&env, "me", "private notes here");
    let out = env.path("everything.zip.age");
    let run = env
        .cmd(
            T0,
            &[
                "export",
                "all",
                "--out",
                &out.display().to_string(),
                "--encrypt",
            ],
        )
        .env("NEEDLEWISE_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    let name = b"profile.json";
    assert!(
        !bytes.windows(name.len()).any(|w| w == name),
        "no plain ZIP entry names"
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.starts_with(".needlewise-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
