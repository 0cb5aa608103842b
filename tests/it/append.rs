//! `--on-change append`: files that only grow have their new complete records added, numbered on
//! from the earlier ones, across several growths, in CSV, JSON Lines and gzip; an incomplete last
//! line waits; a rewritten prefix is a change; a crash in any window is recovered exactly once;
//! a manifest made before appended files is given their columns.

use crate::util::*;
use std::io::Write;

fn table(env: &Env) {
    env.q("CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
}

fn csv_rows(first: u32, n: u32) -> String {
    (first..first + n)
        .map(|i| format!("{i},name {i}\n"))
        .collect()
}

fn json_rows(first: u32, n: u32) -> String {
    (first..first + n)
        .map(|i| format!("{{\"id\":{i},\"name\":\"name {i}\"}}\n"))
        .collect()
}

fn append(env: &Env, rel: &str, text: impl AsRef<[u8]>) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.path(rel))
        .unwrap();
    f.write_all(text.as_ref()).unwrap();
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

const ARGS: &[&str] = &["--table", "t", "--on-change", "append"];

/// Each path's rows: `(path, count, distinct ordinals, first ordinal, last ordinal)` as the
/// table and the manifest together say, and every id once.
#[track_caller]
fn assert_rows(env: &Env, ids: u32, per_path: &[(&str, u32)]) {
    assert_eq!(
        env.q("SELECT count(), uniqExact(id), min(id), max(id) FROM {db}.t")
            .trim(),
        format!("{ids}\t{ids}\t0\t{}", ids - 1)
    );
    assert_eq!(env.duplicate_keys("t"), 0);
    for (path, n) in per_path {
        // The file's rows carry its record ordinals 0..n, whichever part they came in.
        let got = env.q(&format!(
            "SELECT count(), uniqExact(_ingest_row), min(_ingest_row), max(_ingest_row) \
             FROM {{db}}.t WHERE _ingest_file IN (SELECT file_id FROM {{db}}.ingest_manifest \
             WHERE path = '{path}' AND event = 'done')"
        ));
        assert_eq!(got.trim(), format!("{n}\t{n}\t0\t{}", n - 1), "{path}");
    }
}

#[test]
fn only_appended_records_are_added_across_several_growths() {
    let env = Env::new("append_growths");
    table(&env);
    env.write("a.csv", format!("id,name\n{}", csv_rows(0, 10)));
    env.write("b.jsonl", json_rows(100, 10));
    env.write("c.csv.gz", gz(&format!("id,name\n{}", csv_rows(200, 10))));
    assert_code(&env.ingest(ARGS), 0);
    for growth in 1..4u32 {
        append(&env, "a.csv", csv_rows(growth * 10, 10));
        append(&env, "b.jsonl", json_rows(100 + growth * 10, 10));
        append(&env, "c.csv.gz", gz(&csv_rows(200 + growth * 10, 10)));
        let out = env.ingest(&[ARGS, &["--output", "json"]].concat());
        assert_code(&out, 0);
        let v = json_of(&out);
        assert_eq!(v["files"]["ingested"], 3, "{}", out.stdout);
        assert_eq!(v["rows"], 30);
    }
    assert_code(&env.ingest(ARGS), 0);
    assert_eq!(env.count("t"), 120);
    // Ids are 0..40, 100..140 and 200..240: shift them into one range to check each once.
    let ids = env.q(
        "SELECT count(), uniqExact(id) FROM {db}.t WHERE id < 40 OR (id >= 100 AND id < 140) \
         OR (id >= 200 AND id < 240)",
    );
    assert_eq!(ids.trim(), "120\t120");
    assert_eq!(env.duplicate_keys("t"), 0);
    for path in ["a.csv", "b.jsonl", "c.csv.gz"] {
        let got = env.q(&format!(
            "SELECT count(), uniqExact(_ingest_row), min(_ingest_row), max(_ingest_row) \
             FROM {{db}}.t WHERE _ingest_file IN (SELECT file_id FROM {{db}}.ingest_manifest \
             WHERE path = '{path}' AND event = 'done')"
        ));
        assert_eq!(got.trim(), "40\t40\t0\t39", "{path}");
    }
    // Each part is its own content in the manifest, with where it starts.
    let parts = env.q(
        "SELECT from_byte > 0, from_row, rows FROM {db}.ingest_manifest \
         WHERE path = 'a.csv' AND event = 'done' ORDER BY seq",
    );
    assert_eq!(parts, "0\t0\t10\n1\t10\t10\n1\t20\t10\n1\t30\t10\n");
    let verify = run(&mut env.command("verify"));
    assert_code(&verify, 0);
}

#[test]
fn an_incomplete_last_line_waits_for_the_rest() {
    let env = Env::new("append_incomplete");
    table(&env);
    env.write("a.csv", "id,name\n0,name 0\n1,na");
    let out = env.ingest(ARGS);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 1);
    // Still incomplete: nothing more, nothing recorded.
    append(&env, "a.csv", "me");
    let out = env.ingest(ARGS);
    assert_code(&out, 0);
    assert!(
        out.stdout.contains("1 unsettled"),
        "the waiting line is reported: {}",
        out.stdout
    );
    assert_eq!(env.count("t"), 1);
    append(&env, "a.csv", " 1\n2,name 2\n");
    assert_code(&env.ingest(ARGS), 0);
    assert_rows(&env, 3, &[("a.csv", 3)]);
    assert_eq!(
        env.q("SELECT name FROM {db}.t WHERE id = 1").trim(),
        "name 1"
    );
}

#[test]
fn a_rewritten_prefix_or_a_shorter_file_is_a_change() {
    let env = Env::new("append_rewritten");
    table(&env);
    env.write("a.csv", format!("id,name\n{}", csv_rows(0, 5)));
    env.write("b.jsonl", json_rows(0, 5));
    assert_code(&env.ingest(ARGS), 0);
    env.write(
        "a.csv",
        format!("id,name\n{}", csv_rows(0, 6)).replace("name 2", "NAME 2"),
    );
    env.write("b.jsonl", json_rows(0, 4));
    let out = env.ingest(ARGS);
    assert_code(&out, 6);
    assert!(
        out.stdout
            .contains("a.csv: it did not only grow (its first"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("b.jsonl: it did not only grow (it is shorter")
    );
    assert_eq!(env.count("t"), 10);
    // Held back as any changed file is, until it is retried.
    let again = env.ingest(ARGS);
    assert_code(&again, 0);
    assert!(
        again.stdout.contains("2 changed-before"),
        "{}",
        again.stdout
    );
    assert_eq!(env.count("t"), 10);
}

#[test]
fn a_crash_in_any_window_of_an_appended_part_is_recovered_exactly_once() {
    // A small part goes in a coalesced insert; a large one batch by batch, in two inserts.
    let args = [ARGS, &["--batch-rows", "50", "--insert-rows", "100"]].concat();
    for (i, window) in [
        "before-insert",
        "mid-insert",
        "after-insert",
        "before-read-back",
        "after-done",
    ]
    .iter()
    .enumerate()
    {
        // The read-back of a large part is its file's alone: it is met once.
        let mut fails = vec![format!("{window}=return")];
        if *window != "before-read-back" {
            fails.push(format!("{window}=1*off->return"));
        }
        for (j, fail) in fails.iter().enumerate() {
            let env = Env::new(&format!("append_crash_{i}_{j}"));
            table(&env);
            env.write("small.csv", format!("id,name\n{}", csv_rows(0, 10)));
            env.write("large.jsonl", json_rows(1000, 30));
            assert_code(&env.ingest(&args), 0);
            append(&env, "small.csv", csv_rows(10, 5));
            append(&env, "large.jsonl", json_rows(1030, 170));
            let crashed = run(env.command("run").args(&args).env("FAILPOINTS", fail));
            assert_code(&crashed, 137);
            // More arrives before the next run: the part the crash stopped in is finished as
            // it was claimed, and what followed it is added by the run after.
            append(&env, "small.csv", csv_rows(15, 5));
            append(&env, "large.jsonl", json_rows(1200, 20));
            assert_code(&env.ingest(&args), 0);
            assert_code(&env.ingest(&args), 0);
            assert_code(&env.ingest(&args), 0);
            let got =
                env.q("SELECT count(), uniqExact(id) FROM {db}.t WHERE id < 20 OR id >= 1000");
            assert_eq!(got.trim(), "240\t240", "{fail}");
            assert_eq!(env.count("t"), 240, "{fail}");
            assert_eq!(env.duplicate_keys("t"), 0, "{fail}");
        }
    }
}

#[test]
fn a_manifest_made_before_appended_files_is_given_their_columns() {
    let env = Env::new("append_old_manifest");
    table(&env);
    env.write("a.csv", format!("id,name\n{}", csv_rows(0, 4)));
    assert_code(&env.ingest(&["--table", "t"]), 0);
    // As an older version made it: without the columns of appended parts.
    for column in ["from_byte", "from_row", "prefix_hash"] {
        env.q(&format!(
            "ALTER TABLE {{db}}.ingest_manifest DROP COLUMN {column}"
        ));
    }
    let status = run(&mut env.command("status"));
    assert_code(&status, 0);
    append(&env, "a.csv", csv_rows(4, 3));
    let out = env.ingest(ARGS);
    assert_code(&out, 0);
    assert!(
        out.stderr
            .contains("added columns from_byte, from_row and prefix_hash"),
        "{}",
        out.stderr
    );
    assert_rows(&env, 7, &[("a.csv", 7)]);
}
