//! `--jobs`: a run with two jobs lands what a run with one does, cut into the same inserts with
//! the same names, recorded by the same manifest events.

use crate::data::gzip;
use crate::util::*;

/// A file past the size read in memory (sent in its only pass), a compressed one of several
/// batches (checked first), and small files coalesced into one insert.
fn files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("big.csv".to_owned(), reviews_csv(0, 100_000).into_bytes()),
        (
            "packed.csv.gz".to_owned(),
            gzip(reviews_csv(200_000, 25_000).as_bytes()),
        ),
    ];
    for i in 0..3 {
        let name = format!("small-{i}.csv");
        files.push((name, reviews_csv(300_000 + i * 100, 100).into_bytes()));
    }
    files
}

/// What a run with `jobs` landed: the table's fingerprint, the manifest's events, and each
/// insert's name (without the folder's prefix) with its rows.
fn landed_with(jobs: &str) -> (String, String, String) {
    let env = Env::new(&format!("jobs_{jobs}"));
    create_reviews(&env, "reviews");
    for (name, content) in files() {
        env.write(&name, content);
    }
    let out = env.ingest(&[
        "--table",
        "reviews",
        "--batch-rows",
        "10000",
        "--insert-rows",
        "20000",
        "--insert-setting",
        "log_queries=1",
        "--jobs",
        jobs,
    ]);
    assert_code(&out, 0);
    let events = env.q(
        "SELECT event, path, file_hash, batch_rows, batch, rows FROM {db}.ingest_manifest \
         WHERE event IN ('claimed', 'batch', 'done') ORDER BY path, event, batch FORMAT TSV",
    );
    env.q("SYSTEM FLUSH LOGS");
    let finished = match env.ch.is_old() {
        true => "type = 2",
        false => "type = 'QueryFinish'",
    };
    // Names begin with `ingest-`, then the folder's own 12 characters.
    let inserts = env.q(&format!(
        "SELECT replaceRegexpOne(query_id, '^ingest-[0-9a-f]{{12}}-', '') AS name, written_rows \
         FROM system.query_log WHERE {finished} AND query_id LIKE 'ingest-%' \
         AND query LIKE 'INSERT INTO `{{db}}`.`reviews`%' ORDER BY name FORMAT TSV"
    ));
    (env.fingerprint("reviews", REVIEW_COLUMNS), events, inserts)
}

#[test]
fn two_jobs_land_the_same_rows_in_the_same_inserts_as_one() {
    let (rows1, events1, inserts1) = landed_with("1");
    let (rows2, events2, inserts2) = landed_with("2");
    assert!(rows1.starts_with("125300\t"), "{rows1}");
    assert_eq!(rows1, rows2);
    assert_eq!(events1, events2);
    // 100,000 and 25,000 rows in inserts of 20,000 (or fewer, sorted within 32 MiB), and the
    // small files in one.
    assert!(inserts1.lines().count() >= 1 + 5 + 2, "{inserts1}");
    assert_eq!(inserts1, inserts2);
}
