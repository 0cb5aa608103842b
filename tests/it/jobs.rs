//! `--jobs`: a run with two jobs lands what a run with one does, cut into the same inserts with
//! the same names, recorded by the same manifest events.

use crate::data::gzip;
use crate::util::*;

/// Review rows as JSON Lines; rows in `bad` have a rating that is no number.
fn reviews_jsonl(first: u64, count: u64, bad: &[u64]) -> Vec<u8> {
    let mut s = String::new();
    for i in first..first + count {
        let rating = match bad.contains(&i) {
            true => "\"five\"".to_owned(),
            false => format!("{}", 1 + i % 5),
        };
        s.push_str(&format!(
            "{{\"rating\":{rating},\"title\":\"T\\u00eftle {i}\",\"text\":\"{}\",\"asin\":\"B{:06}\",\
             \"user_id\":\"user_{}\",\"timestamp\":{},\"helpful_vote\":{},\"verified_purchase\":{}}}\n",
            "t".repeat((i % 300) as usize),
            i % 997,
            i % 131,
            1_600_000_000_000u64 + i,
            i % 7,
            i % 2
        ));
    }
    s.into_bytes()
}

/// Review rows as CSV whose rows in `bad` have a rating that is no number.
fn reviews_csv_with_bad(first: u64, count: u64, bad: &[u64]) -> Vec<u8> {
    let text = reviews_csv(first, count);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        match i > 0 && bad.contains(&(first + i as u64 - 1)) {
            true => out.push_str(&line.replacen(".0,", "x,", 1)),
            false => out.push_str(line),
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// Files past the size read in memory (sent in their only pass), a compressed one of several
/// batches (checked first), and small files coalesced into one insert.
fn files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("big.csv".to_owned(), reviews_csv(0, 100_000).into_bytes()),
        ("big.jsonl".to_owned(), reviews_jsonl(500_000, 30_000, &[])),
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
    assert!(rows1.starts_with("155300\t"), "{rows1}");
    assert_eq!(rows1, rows2);
    assert_eq!(events1, events2);
    // 100,000 and 25,000 rows in inserts of 20,000 (or fewer, sorted within 32 MiB), and the
    // small files in one.
    assert!(inserts1.lines().count() >= 1 + 5 + 2, "{inserts1}");
    assert_eq!(inserts1, inserts2);
}

/// What a run with `jobs` under `--on-error skip-row` landed and set aside.
fn rejected_with(jobs: &str) -> (String, String) {
    let env = Env::new(&format!("jobs_skip_{jobs}"));
    create_reviews(&env, "reviews");
    let bad = [7, 8, 15_000, 33_333, 59_999];
    env.write("bad.csv", reviews_csv_with_bad(0, 60_000, &bad));
    let bad = [100_007, 100_008, 115_000, 133_333, 139_999];
    env.write("bad.jsonl", reviews_jsonl(100_000, 40_000, &bad));
    let out = env.ingest(&[
        "--table",
        "reviews",
        "--on-error",
        "skip-row",
        "--jobs",
        jobs,
    ]);
    assert_code(&out, 0);
    let rejects = env.q(
        "SELECT path, record, line, column, value, reason FROM {db}.ingest_manifest_rejects \
         ORDER BY path, record FORMAT TSV",
    );
    (env.fingerprint("reviews", REVIEW_COLUMNS), rejects)
}

#[test]
fn two_jobs_set_aside_the_same_bad_records_with_the_same_lines_as_one() {
    let (rows1, rejects1) = rejected_with("1");
    let (rows2, rejects2) = rejected_with("2");
    assert!(rows1.starts_with("99990\t"), "{rows1}");
    assert_eq!(rows1, rows2);
    assert_eq!(rejects1.lines().count(), 10, "{rejects1}");
    assert!(
        rejects1.contains("bad.csv\t15000\t15002\trating\t1x"),
        "{rejects1}"
    );
    assert!(
        rejects1.contains("bad.jsonl\t33333\t33334\trating\tfive"),
        "{rejects1}"
    );
    assert_eq!(rejects1, rejects2);
}
