//! A large file sent in its only pass: a bad record found after some of its rows landed leaves
//! none of them (as when the file is checked first), a crash before the bad record is found too,
//! and a table that a materialized view reads is never sent a row of a bad file.

use crate::util::*;

const ARGS: [&str; 6] = [
    "--table",
    "t",
    "--batch-rows",
    "100",
    "--insert-rows",
    "100",
];

/// 1,000 rows whose record `bad` (0-based) does not fit its column.
fn file_bad_at(bad: usize) -> String {
    let mut csv = String::from("id,v\n");
    for i in 0..1000 {
        match i == bad {
            true => csv.push_str("x,bad\n"),
            false => csv.push_str(&format!("{i},v{i}\n")),
        }
    }
    csv
}

fn failure(env: &Env) -> String {
    env.q("SELECT path, error_kind, error FROM {db}.ingest_manifest WHERE event = 'failed' FORMAT TSV")
}

#[test]
fn a_bad_record_found_after_rows_were_sent_leaves_none_of_them() {
    let mut failures = Vec::new();
    for (i, extra) in [&[][..], &["--check-first"][..]].iter().enumerate() {
        let env = Env::new(&format!("one_pass_bad_{i}"));
        env.q("CREATE TABLE {db}.t (id Int64, v String) ENGINE = MergeTree ORDER BY id");
        env.write("big.csv", file_bad_at(900));
        env.write("good.csv", "id,v\n5000,fine\n");
        let args: Vec<&str> = ARGS.iter().chain(extra.iter()).copied().collect();
        let out = env.ingest(&args);
        assert_code(&out, 3);
        assert!(
            out.stdout
                .contains("big.csv:902:id: cannot convert \"x\" to Int64"),
            "{}",
            out.all()
        );
        assert_eq!(env.q("SELECT groupArray(id) FROM {db}.t").trim(), "[5000]");
        // Sent in one pass, nine inserts had landed before the bad record was read.
        let forgotten = env.event_count("forgotten");
        assert_eq!(forgotten, u64::from(extra.is_empty()), "{}", out.all());
        failures.push(failure(&env));
        // It stays failed for its content, as a file checked first does.
        let again = env.ingest(&args);
        assert_code(&again, 0);
        assert!(again.stdout.contains("1 failed-before"), "{}", again.all());
        assert_eq!(env.count("t"), 1);
    }
    assert_eq!(failures[0], failures[1], "the same failure either way");
}

#[test]
fn a_run_that_died_before_the_bad_record_leaves_none_of_its_rows_after_the_next() {
    let env = Env::new("one_pass_died");
    env.q("CREATE TABLE {db}.t (id Int64, v String) ENGINE = MergeTree ORDER BY id");
    env.write("big.csv", file_bad_at(900));
    let died = run(env
        .command("run")
        .args(ARGS)
        .env("FAILPOINTS", "after-insert=3*off->return"));
    assert_code(&died, 137);
    assert!(
        env.count("t") >= 300,
        "some inserts landed before the crash"
    );
    let out = env.ingest(&ARGS);
    assert_code(&out, 3);
    assert!(
        out.stdout
            .contains("rows an interrupted run sent of it were deleted"),
        "{}",
        out.all()
    );
    assert_eq!(env.count("t"), 0);
    assert!(failure(&env).starts_with("big.csv\tdata\tbig.csv:902:id: cannot convert"));
}

#[test]
fn a_table_a_materialized_view_reads_never_sees_a_row_of_a_bad_file() {
    let env = Env::new("one_pass_view");
    env.q("CREATE TABLE {db}.t (id Int64, v String) ENGINE = MergeTree ORDER BY id");
    env.q("CREATE MATERIALIZED VIEW {db}.seen ENGINE = MergeTree ORDER BY id AS SELECT id FROM {db}.t");
    env.write("big.csv", file_bad_at(900));
    let out = env.ingest(&ARGS);
    assert_code(&out, 3);
    assert_eq!(env.count("t"), 0);
    assert_eq!(env.count("seen"), 0, "the view saw no row of the bad file");
    assert_eq!(
        env.event_count("forgotten"),
        0,
        "nothing was sent to delete"
    );
    env.write("more.csv", file_bad_at(5000));
    assert_code(&env.ingest(&ARGS), 0);
    assert_eq!(env.count("seen"), 1000);
}
