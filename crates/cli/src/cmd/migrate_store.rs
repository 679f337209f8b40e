//! `needlewise migrate-store`: copies everything from one store to another
//! (SQLite to PostgreSQL or back), then checks both sides.

use needlewise_store::snapshot::ChecksumBuilder;
use needlewise_store::{RestoreMode, SnapshotRow, Store, StoreError};

use super::progress::Progress;
use crate::app::{App, Exit, Failure, bad, redact};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store to copy from: sqlite://PATH or postgres://…
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The store to copy into: empty, or freshly made (only the local
    /// account). sqlite://PATH or postgres://…
    #[arg(long, value_name = "URL")]
    pub to: String,
}

fn open(url: &str) -> Result<Box<dyn Store>, Failure> {
    needlewise_store::open(url).map_err(|e| {
        Failure::Other(
            anyhow::Error::new(e).context(format!("could not open the store at {}", redact(url))),
        )
    })
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    if args.from == args.to {
        return Err(bad("--from and --to are the same store"));
    }
    let source = open(&args.from)?;
    let target = open(&args.to)?;
    // For the bar's length only (counted, not read); the copy is one
    // consistent snapshot.
    let total = source.snapshot_row_count()?;
    let mut progress = Progress::new("Copying", Some(total), "rows");

    // Rows go through a bounded channel. A read error goes through it too,
    // so the target's one transaction sees it and rolls back.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<SnapshotRow, StoreError>>(1024);
    let (copied, read) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut sums = ChecksumBuilder::new();
            let result = source.snapshot_rows(&mut |row| {
                sums.add(&row)?;
                tx.send(Ok(row)).map_err(|_| target_stopped())
            });
            if let Err(e) = &result {
                // The target may have stopped already; then it has its own error.
                let _ = tx.send(Err(StoreError::backend(format!(
                    "reading the source failed: {e}"
                ))));
            }
            drop(tx);
            result.map(|()| sums.finish())
        });
        let mut n = 0u64;
        let mut rows = rx.iter().inspect(|_| {
            n += 1;
            if n % 500 == 0 {
                progress.set(n);
            }
        });
        let copied = target.restore_rows(&mut rows, RestoreMode::IntoEmpty);
        drop(rows);
        // Unblock the reader if the target failed early.
        drop(rx);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(StoreError::backend("the reader panicked".to_owned())));
        (copied, read)
    });
    // When the target refused the rows, the reader only saw it stop taking
    // them: the target's error is the one to tell.
    let read = match read {
        Ok(sums) => Some(sums),
        Err(e) if copied.is_err() && e.to_string() == target_stopped().to_string() => None,
        Err(e) => {
            return Err(Failure::Other(
                anyhow::Error::new(e).context("reading the source failed; the target is unchanged"),
            ));
        }
    };
    let copied = copied.map_err(|e| match e {
        StoreError::Conflict { what } => bad(format!(
            "{what}; the target is unchanged. migrate-store copies into an empty store only"
        )),
        other => Failure::Other(
            anyhow::Error::new(other).context("copying failed; the target is unchanged"),
        ),
    })?;
    let Some(read) = read else {
        return Err(Failure::Other(anyhow::anyhow!(
            "the copy ended without the source's checksums"
        )));
    };
    progress.finish(copied);

    let target_sums = target.checksums()?;
    let problems = read.differences(&target_sums);
    if app.json {
        crate::output::json(&serde_json::json!({
            "from": source.backend(),
            "to": target.backend(),
            "rows": copied,
            "source": read.tables,
            "target": target_sums.tables,
            "match": problems.is_empty(),
        }))?;
    } else {
        println!(
            "Copied {copied} rows from {} ({}) to {} ({}).",
            redact(&args.from),
            source.backend(),
            redact(&args.to),
            target.backend()
        );
        println!("  {:<18} {:>8} {:>8}  sha256", "table", "source", "target");
        for (s, t) in read.tables.iter().zip(&target_sums.tables) {
            let mark = if s == t { "" } else { "  MISMATCH" };
            println!(
                "  {:<18} {:>8} {:>8}  {}{}",
                s.table, s.rows, t.rows, t.sha256, mark
            );
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Other(anyhow::anyhow!(
            "the copy does not match the source: {}",
            problems.join("; ")
        )));
    }
    if !app.json {
        println!("Counts and checksums match on both sides.");
    }
    Ok(Exit::Ok)
}

/// What the reader sees when the target has stopped taking rows.
fn target_stopped() -> StoreError {
    StoreError::backend("the target stopped taking rows".to_owned())
}
