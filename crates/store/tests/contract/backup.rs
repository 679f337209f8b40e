//! The backup file: round trips, and every kind of bad file refused with
//! a clear message and no change to the store (including fuzz-style
//! property tests: truncation, flipped bytes, wrong types, unknown fields,
//! hostile strings, oversized lines).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use needlewise_store::backup::{self, BackupReader};
use needlewise_store::{Checksums, RestoreMode, SqliteStore, Store, StoreError};
use proptest::prelude::*;

use super::portability::populate_all;

fn now() -> jiff::Timestamp {
    "2026-11-25T19:00:00Z".parse().unwrap()
}

/// A valid backup of a populated store, made once.
fn sample() -> &'static (PathBuf, Checksums, Vec<u8>) {
    static SAMPLE: OnceLock<(PathBuf, Checksums, Vec<u8>)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let store = SqliteStore::open(&dir.join("a.db")).unwrap();
        populate_all(&store);
        let path = dir.join("backup.nwb.gz");
        let written = backup::write_backup(&store, &path, now(), &mut |_| {}).unwrap();
        assert_eq!(written.checksums, store.checksums().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        (path, written.checksums, bytes)
    })
}

fn plain(gz: &[u8]) -> String {
    let mut s = String::new();
    GzDecoder::new(gz).read_to_string(&mut s).unwrap();
    s
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

/// A target store with other data in it.
fn target() -> SqliteStore {
    let store = SqliteStore::open_in_memory().unwrap();
    super::cases::profile(&store, "someone else");
    store
}

/// Restores `bytes` (Replace: the most dangerous mode) into a fresh
/// target; returns the error message, checking the target is unchanged.
fn refused(bytes: &[u8]) -> String {
    let store = target();
    let before = store.checksums().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gz");
    std::fs::write(&path, bytes).unwrap();
    let result = backup::restore_file(&store, &path, RestoreMode::Replace, &mut |_| {});
    assert_eq!(
        store.checksums().unwrap(),
        before,
        "a refused backup changed the store"
    );
    match result {
        Err(StoreError::Invalid { what: m }) => m,
        other => panic!("expected the file to be refused, got {other:?}"),
    }
}

fn assert_mentions(m: &str, words: &[&str]) {
    for w in words {
        assert!(m.contains(w), "{m:?} should mention {w:?}");
    }
}

#[test]
fn a_backup_restores_exactly_into_an_empty_store_of_either_kind() {
    let (path, sums, _) = sample();
    let (header, rows) = backup::verify_file(path).unwrap();
    assert_eq!(&header.checksums, sums);
    assert_eq!(header.source, "sqlite");
    assert_eq!(rows, header.total_rows());
    let fresh = SqliteStore::open_in_memory().unwrap();
    backup::restore_file(&fresh, path, RestoreMode::IntoEmpty, &mut |_| {}).unwrap();
    assert_eq!(&fresh.checksums().unwrap(), sums);
    let pg = super::postgres_store();
    backup::restore_file(&pg, path, RestoreMode::IntoEmpty, &mut |_| {}).unwrap();
    assert_eq!(&pg.checksums().unwrap(), sums);
    // Into a store with data: refused without --replace, done with it.
    let other = target();
    let before = other.checksums().unwrap();
    assert!(matches!(
        backup::restore_file(&other, path, RestoreMode::IntoEmpty, &mut |_| {}),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(other.checksums().unwrap(), before);
    backup::restore_file(&other, path, RestoreMode::Replace, &mut |_| {}).unwrap();
    assert_eq!(&other.checksums().unwrap(), sums);
}

#[test]
fn a_backup_of_postgres_restores_into_sqlite() {
    let pg = super::postgres_store();
    populate_all(&pg);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pg.gz");
    backup::write_backup(&pg, &path, now(), &mut |_| {}).unwrap();
    let lite = SqliteStore::open_in_memory().unwrap();
    backup::restore_file(&lite, &path, RestoreMode::IntoEmpty, &mut |_| {}).unwrap();
    assert_eq!(lite.checksums().unwrap(), pg.checksums().unwrap());
    assert_eq!(lite.snapshot().unwrap(), pg.snapshot().unwrap());
}

#[test]
fn foreign_and_damaged_files_are_refused_by_name() {
    let (_, _, gz) = sample();
    let text = plain(gz);

    assert_mentions(
        &refused(b"{\"magic\":\"needlewise-backup\"}\n"),
        &["not gzip"],
    );
    assert_mentions(&refused(b""), &["not gzip"]);
    assert_mentions(
        &refused(&gzip(b"hello world\n")),
        &["line 1", "not valid JSON"],
    );
    assert_mentions(&refused(&gzip(b"{\"magic\":\"tarball\"}\n")), &["magic"]);
    assert_mentions(&refused(&gzip(b"")), &["empty"]);

    let header_end = text.find('\n').unwrap();
    let (header, rest) = text.split_at(header_end);
    let newer = header.replace("\"format\":1", "\"format\":2");
    assert_mentions(
        &refused(&gzip(format!("{newer}{rest}").as_bytes())),
        &["format version 2", "upgrade"],
    );
    let schema = header.replace(
        &format!(
            "\"schema_version\":{}",
            needlewise_store::snapshot::SCHEMA_VERSION
        ),
        "\"schema_version\":99",
    );
    assert_ne!(schema, header);
    assert_mentions(
        &refused(&gzip(format!("{schema}{rest}").as_bytes())),
        &["schema version 99"],
    );

    // Cut off: at a line end (no end marker), mid-line, and mid-gzip.
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    assert_mentions(&refused(&gzip(cut.as_bytes())), &["truncated"]);
    assert_mentions(
        &refused(&gzip(&text.as_bytes()[..text.len() - 30])),
        &["truncated"],
    );
    assert_mentions(&refused(&gz[..gz.len() / 2]), &["truncated or corrupt"]);

    // A changed value: the checksum does not match.
    let changed = text.replace("local notes", "local notez");
    assert_ne!(changed, text);
    assert_mentions(
        &refused(&gzip(changed.as_bytes())),
        &["checksums", "sessions"],
    );

    // A wrong type, named by line, table and column.
    let notes_line = lines
        .iter()
        .position(|l| l.contains("\"table\":\"sessions\"") && l.contains("\"row\""))
        .unwrap();
    let mut typed = lines.clone();
    let replaced = typed[notes_line].replace("\"notes\":\"", "\"notes\":12,\"x\":\"");
    typed[notes_line] = &replaced;
    let m = refused(&gzip((typed.join("\n") + "\n").as_bytes()));
    assert_mentions(
        &m,
        &[
            &format!("line {}", notes_line + 1),
            "sessions",
            "notes",
            "text",
        ],
    );

    // An unknown column and an unknown field.
    let mut unknown = lines.clone();
    let extra = unknown[notes_line].replacen("{\"row\":{", "{\"row\":{\"shoe_size\":44,", 1);
    let extra = if extra == unknown[notes_line] {
        unknown[notes_line].replacen("\"row\":{", "\"row\":{\"shoe_size\":44,", 1)
    } else {
        extra
    };
    unknown[notes_line] = &extra;
    assert_mentions(
        &refused(&gzip((unknown.join("\n") + "\n").as_bytes())),
        &["sessions", "shoe_size"],
    );
    let mut field = lines.clone();
    let extra_field = field[notes_line].replacen('{', "{\"comment\":\"hi\",", 1);
    field[notes_line] = &extra_field;
    assert_mentions(
        &refused(&gzip((field.join("\n") + "\n").as_bytes())),
        &["unknown field", "comment"],
    );

    // An unknown table, and data after the end marker.
    let mut table = lines.clone();
    let t = table[notes_line].replace(
        "\"table\":\"sessions\"",
        "\"table\":\"sessions; DROP TABLE x\"",
    );
    table[notes_line] = &t;
    assert_mentions(
        &refused(&gzip((table.join("\n") + "\n").as_bytes())),
        &["unknown table"],
    );
    assert_mentions(
        &refused(&gzip(format!("{text}{{}}\n").as_bytes())),
        &["after the end marker"],
    );

    // An oversized line.
    let mut huge = String::from(header);
    huge.push('\n');
    huge.push_str(&"x".repeat(backup::MAX_LINE + 10));
    assert_mentions(&refused(&gzip(huge.as_bytes())), &["longer than"]);
}

/// Re-gzips a mutated text and restores it: never a panic; refused with
/// the store unchanged, unless the text means the same rows.
fn restore_mutated_text(text: &str) {
    let bytes = gzip(text.as_bytes());
    let store = target();
    let before = store.checksums().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gz");
    std::fs::write(&path, &bytes).unwrap();
    match backup::restore_file(&store, &path, RestoreMode::Replace, &mut |_| {}) {
        Ok(_) => assert_eq!(&store.checksums().unwrap(), &sample().1),
        Err(StoreError::Invalid { what: m } | StoreError::Conflict { what: m }) => {
            assert!(!m.is_empty());
            assert_eq!(store.checksums().unwrap(), before);
        }
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

fn restore_bytes(bytes: &[u8]) {
    let store = target();
    let before = store.checksums().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join("m.gz");
    std::fs::write(path, bytes).unwrap();
    match backup::restore_file(&store, path, RestoreMode::Replace, &mut |_| {}) {
        Ok(_) => assert_eq!(&store.checksums().unwrap(), &sample().1),
        Err(_) => assert_eq!(store.checksums().unwrap(), before),
    }
    // The streaming reader never panics either.
    if let Ok(r) = BackupReader::new(Box::new(bytes)) {
        let _ = r.verify();
    }
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\u{0}".to_owned()),
        Just("'; DROP TABLE profiles; --".to_owned()),
        Just("\u{202e}evil\u{feff}".to_owned()),
        Just("\\\"}\n{\"table\":\"accounts\"".to_owned()),
        Just("x".repeat(5000)),
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn truncated_files_are_refused(cut in 0usize..100_000) {
        let gz = &sample().2;
        restore_bytes(&gz[..cut % gz.len()]);
    }

    #[test]
    fn flipped_bytes_are_refused(pos in 0usize..100_000, bits in 1u8..=255) {
        let mut gz = sample().2.clone();
        let i = pos % gz.len();
        gz[i] ^= bits;
        restore_bytes(&gz);
    }

    #[test]
    fn flipped_bytes_inside_the_text_are_refused(pos in 0usize..1_000_000, byte in any::<u8>()) {
        let text = plain(&sample().2);
        let mut bytes = text.into_bytes();
        let i = pos % bytes.len();
        bytes[i] = byte;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        restore_mutated_text(&text);
    }

    #[test]
    fn values_of_the_wrong_type_are_refused(
        line in 1usize..1000,
        value in prop_oneof![
            Just("null".to_owned()), Just("true".to_owned()), Just("-1".to_owned()),
            Just("1.5".to_owned()), Just("[]".to_owned()), Just("{}".to_owned()),
            Just("\"\"".to_owned()), Just("99999999999999999999999".to_owned()),
            hostile().prop_map(|s| serde_json::to_string(&s).unwrap()),
        ],
        column in 0usize..12,
    ) {
        let text = plain(&sample().2);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let n = 1 + line % (lines.len() - 2);
        let mut v: serde_json::Value = serde_json::from_str(&lines[n]).unwrap();
        if let Some(row) = v.get_mut("row").and_then(|r| r.as_object_mut()) {
            let keys: Vec<String> = row.keys().cloned().collect();
            let k = &keys[column % keys.len()];
            row.insert(k.clone(), serde_json::from_str(&value).unwrap());
        }
        lines[n] = v.to_string();
        restore_mutated_text(&(lines.join("\n") + "\n"));
    }

    #[test]
    fn unknown_fields_and_hostile_strings_are_refused(line in 1usize..1000, name in hostile(), value in hostile()) {
        let text = plain(&sample().2);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let n = 1 + line % (lines.len() - 2);
        let mut v: serde_json::Value = serde_json::from_str(&lines[n]).unwrap();
        if let Some(row) = v.get_mut("row").and_then(|r| r.as_object_mut()) {
            row.insert(name, serde_json::Value::String(value));
        }
        lines[n] = v.to_string();
        restore_mutated_text(&(lines.join("\n") + "\n"));
    }
}

/// A backup file as needlewise wrote it at schema `version`: the tables
/// and columns of that schema only, with that schema's checksums. Written
/// under `dir`; returns its path.
pub fn old_backup_file(
    expected: &needlewise_store::Snapshot,
    version: i64,
    created_at: &str,
    dir: &Path,
) -> PathBuf {
    let mut builder = needlewise_store::snapshot::ChecksumBuilder::for_version(version);
    let mut lines = Vec::new();
    for row in expected.rows() {
        let def = row.def();
        if !def.in_version(version) {
            continue;
        }
        builder.add(&row).unwrap();
        let mut json = backup::row_json(&row);
        for c in def.columns.iter().filter(|c| c.since > version) {
            json.as_object_mut().unwrap().remove(c.name);
        }
        lines.push(serde_json::json!({"table": def.name, "row": json}).to_string());
    }
    let header = serde_json::json!({
        "magic": backup::MAGIC,
        "format": 1,
        "schema_version": version,
        "created_at": created_at,
        "source": "sqlite",
        "tables": builder.finish().tables,
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
    let path = dir.join(format!("v{version}.nwb.gz"));
    let mut gz = GzEncoder::new(std::fs::File::create(&path).unwrap(), Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
    path
}
