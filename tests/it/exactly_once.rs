//! Crashes at every window between sending rows and recording them, each followed by a clean run
//! that must leave exactly the source records: on a plain MergeTree table, where a duplicate would
//! stay visible.

use crate::util::*;

/// Crash points, in the order a file meets them. (Acknowledged batches are recorded with the
/// file's `done`, so "after the manifest write" is `after-done`; tables without provenance record
/// them at once, see below.)
const WINDOWS: &[&str] = &[
    "before-insert",
    "mid-insert",
    "after-insert",
    "before-read-back",
    "after-done",
];

struct Scenario {
    files: Vec<(String, String)>,
    args: Vec<&'static str>,
}

/// Three small files coalesced into one insert, and one file of four batches in two inserts.
fn scenario() -> Scenario {
    let mut files: Vec<(String, String)> = (0..3)
        .map(|i| (format!("small-{i}.csv"), reviews_csv(i * 100, 100)))
        .collect();
    files.push(("large.csv".into(), reviews_csv(1000, 1750)));
    Scenario {
        files,
        args: vec![
            "--table",
            "reviews",
            "--batch-rows",
            "500",
            "--insert-rows",
            "1000",
        ],
    }
}

fn prepare(env: &Env, s: &Scenario) -> String {
    create_reviews(env, "reviews");
    env.q(&format!("CREATE TABLE {{db}}.reference {REVIEWS_DDL}"));
    for (name, content) in &s.files {
        env.write(name, content);
        env.load_reference(
            "reference",
            &content
                .replace(",true\n", ",1\n")
                .replace(",false\n", ",0\n"),
        );
    }
    env.fingerprint("reference", REVIEW_COLUMNS)
}

#[track_caller]
fn assert_exactly_once(env: &Env, s: &Scenario, expected: &str) {
    assert_eq!(env.fingerprint("reviews", REVIEW_COLUMNS), expected);
    assert_eq!(env.duplicate_keys("reviews"), 0);
    let done = env.q(
        "SELECT count() FROM (SELECT file_hash, argMax(event, seq) AS state \
         FROM {db}.ingest_manifest WHERE event NOT IN ('duplicate','changed','touched') \
         GROUP BY file_hash) WHERE state = 'done'",
    );
    assert_eq!(done.trim(), s.files.len().to_string());
}

fn crash_then_recover(test: &str, failpoints: &str) {
    let env = Env::new(test);
    let s = scenario();
    let expected = prepare(&env, &s);
    let crashed = run(env
        .command("run")
        .args(&s.args)
        .env("FAILPOINTS", failpoints));
    assert_code(&crashed, 137);
    let recovered = env.ingest(&s.args);
    assert_code(&recovered, 0);
    assert_exactly_once(&env, &s, &expected);
    // And a further run changes nothing.
    assert_code(&env.ingest(&s.args), 0);
    assert_exactly_once(&env, &s, &expected);
}

#[test]
fn a_crash_in_any_window_of_the_first_insert_is_recovered_exactly_once() {
    for (i, window) in WINDOWS.iter().enumerate() {
        crash_then_recover(&format!("window_{i}"), &format!("{window}=return"));
    }
}

#[test]
fn a_crash_in_any_window_of_a_later_batch_is_recovered_exactly_once() {
    // The large file's two inserts come first, then the coalesced small files'.
    for (i, window) in ["before-insert", "mid-insert", "after-insert"]
        .iter()
        .enumerate()
    {
        crash_then_recover(&format!("later_{i}"), &format!("{window}=1*off->return"));
    }
}

#[test]
fn a_file_read_twice_one_sent_from_its_spill_and_one_sent_in_one_pass_are_cut_the_same_way() {
    // The first run dies before the large file's second insert, the next sends the rest: each
    // way of reading the file (checked first and read again, checked first and kept in a spill,
    // sent in its only pass) followed by another.
    let ways = [
        (Some("--check-first"), "no-spill=return"),
        (Some("--check-first"), ""),
        (None, ""),
    ];
    let pairs = [(0, 1), (1, 0), (2, 1), (0, 2)];
    for (i, (first, second)) in pairs.into_iter().enumerate() {
        let env = Env::new(&format!("spill_{i}"));
        let s = scenario();
        let expected = prepare(&env, &s);
        let ((first_flag, first), (second_flag, second)) = (ways[first], ways[second]);
        let crashed = run(env.command("run").args(&s.args).args(first_flag).env(
            "FAILPOINTS",
            format!("{first};before-insert=1*off->return").trim_start_matches(';'),
        ));
        assert_code(&crashed, 137);
        assert!(
            env.count("reviews") < 1750,
            "the second insert never started"
        );
        let recovered = run(env
            .command("run")
            .args(&s.args)
            .args(second_flag)
            .env("FAILPOINTS", second));
        assert_code(&recovered, 0);
        assert_exactly_once(&env, &s, &expected);
    }
}

#[test]
fn a_half_landed_batch_is_completed_row_by_row() {
    let env = Env::new("half_batch");
    let s = scenario();
    let expected = prepare(&env, &s);
    assert_code(&env.ingest(&s.args), 0);
    // Take away part of one batch and the record that it was ever done, as a crash between a
    // partition's part and the next would leave it.
    env.q(
        "ALTER TABLE {db}.reviews DELETE WHERE _ingest_row >= 600 AND _ingest_row < 700 \
           AND _ingest_file IN (SELECT file_id FROM {db}.ingest_manifest WHERE path = 'large.csv')",
    );
    wait_for_mutations(&env);
    env.q("ALTER TABLE {db}.ingest_manifest DELETE WHERE path = 'large.csv' AND event = 'done'");
    wait_for_mutations(&env);
    assert_eq!(env.count("reviews"), 1950);
    let out = env.ingest(&s.args);
    assert_code(&out, 0);
    assert_exactly_once(&env, &s, &expected);
    let sent = env.q(
        "SELECT batch, rows FROM {db}.ingest_manifest WHERE event = 'batch' \
         AND path = 'large.csv' ORDER BY seq DESC LIMIT 1",
    );
    assert_eq!(
        sent, "1\t100\n",
        "only the missing rows of batch 1 were sent"
    );
}

#[test]
fn a_lost_manifest_is_rebuilt_from_provenance_without_reingesting() {
    let env = Env::new("lost_manifest");
    let s = scenario();
    let expected = prepare(&env, &s);
    assert_code(&env.ingest(&s.args), 0);
    env.q("DROP TABLE {db}.ingest_manifest");
    let out = env.ingest(&s.args);
    assert_code(&out, 0);
    assert_exactly_once(&env, &s, &expected);
    assert_eq!(env.event_count("batch"), 0, "nothing was sent again");
    assert!(
        out.stdout.contains("; 0 rows ingested in "),
        "the summary counts no rows it did not send: {}",
        out.stdout
    );
}

#[test]
fn a_run_against_a_stopped_server_loses_nothing_and_the_next_completes() {
    let ch = crate::server::ClickHouse::start();
    let env = Env::on(&ch, "stopped");
    let s = scenario();
    let expected = prepare(&env, &s);
    // Stop the server while the run waits before its second insert.
    let child = env
        .command("run")
        .args(&s.args)
        .args(["--retries", "2"])
        .env("FAILPOINTS", "before-insert=1*off->sleep(3000)")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    ch.stop();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ch.restart();
    let recovered = env.ingest(&s.args);
    assert_code(&recovered, 0);
    assert_exactly_once(&env, &s, &expected);
}

pub fn wait_for_mutations(env: &Env) {
    for _ in 0..200 {
        if env
            .q("SELECT count() FROM system.mutations WHERE database = '{db}' AND is_done = 0")
            .trim()
            == "0"
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("mutations did not finish");
}

#[test]
fn a_transient_failure_is_retried_by_the_next_run_by_itself() {
    let env = Env::new("transient");
    let s = scenario();
    let expected = prepare(&env, &s);
    let failing = run(env
        .command("run")
        .args(&s.args)
        .args(["--retries", "1"])
        .env("FAILPOINTS", "insert-server-error=return"));
    assert_code(&failing, 3);
    assert_eq!(
        env.q("SELECT path, error_kind FROM {db}.ingest_manifest WHERE event = 'failed'"),
        "large.csv\ttransient\n"
    );
    assert!(
        failing.stdout.contains("Too many parts (injected"),
        "{}",
        failing.stdout
    );
    assert_code(&env.ingest(&s.args), 0);
    assert_exactly_once(&env, &s, &expected);
}

#[test]
fn without_provenance_a_crash_can_repeat_only_the_unacknowledged_batch() {
    let env = Env::new("no_provenance");
    let s = scenario();
    let expected_rows = 3 * 100 + 1750;
    prepare(&env, &s);
    let args = [
        "--table",
        "reviews",
        "--batch-rows",
        "500",
        "--insert-rows",
        "500",
        "--without-provenance",
    ];
    let crashed = run(env
        .command("run")
        .args(args)
        .env("FAILPOINTS", "after-insert=1*off->return"));
    assert_code(&crashed, 137);
    assert_code(&env.ingest(&args), 0);
    assert_eq!(
        env.q("SELECT count() FROM system.columns WHERE database = '{db}' AND table = 'reviews' AND name LIKE '\\_ingest%'").trim(),
        "0"
    );
    // Batch 1 of the large file was inserted but not acknowledged in the manifest: sent twice.
    assert_eq!(env.count("reviews"), expected_rows + 500);
    assert_code(&env.ingest(&args), 0);
    assert_eq!(env.count("reviews"), expected_rows + 500);
}

#[test]
fn without_provenance_a_crash_after_the_batch_is_recorded_repeats_nothing() {
    let env = Env::new("no_provenance_recorded");
    let s = scenario();
    let expected = prepare(&env, &s);
    let args = [
        "--table",
        "reviews",
        "--batch-rows",
        "500",
        "--insert-rows",
        "500",
        "--without-provenance",
    ];
    let crashed = run(env
        .command("run")
        .args(args)
        .env("FAILPOINTS", "after-batch-event=1*off->return"));
    assert_code(&crashed, 137);
    assert_code(&env.ingest(&args), 0);
    assert_eq!(env.fingerprint("reviews", REVIEW_COLUMNS), expected);
}
