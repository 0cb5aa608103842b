//! `--on-error skip-row`: the good rows land, every bad one is recorded once in the rejects table,
//! and a file past the limits fails as a whole.

use crate::util::*;

fn table(env: &Env) {
    env.q("CREATE TABLE {db}.t (id UInt32, amount Decimal(9, 2)) ENGINE = MergeTree ORDER BY id");
}

/// `n` records with ids from 0; the records at `bad` ordinals have an amount that is no number.
fn csv(n: u64, bad: &[u64]) -> String {
    let mut s = String::from("id,amount\n");
    for i in 0..n {
        if bad.contains(&i) {
            s.push_str(&format!("{i},oops{i}\n"));
        } else {
            s.push_str(&format!("{i},{}.25\n", i % 100));
        }
    }
    s
}

fn rejects(env: &Env) -> String {
    env.q("SELECT path, record, line, column, value, reason FROM {db}.ingest_manifest_rejects ORDER BY path, record")
}

#[test]
fn skip_row_loads_the_good_rows_and_records_each_bad_one() {
    let env = Env::new("skip_small");
    table(&env);
    env.write("a.csv", "id,amount\n1,1.50\n2,abc\n3,3\n4,4,extra\n5,5.5\n");
    let out = env.ingest(&["--table", "t", "--on-error", "skip-row"]);
    assert_code(&out, 0);
    assert_eq!(
        env.q("SELECT groupArray(id) FROM (SELECT id FROM {db}.t ORDER BY id)")
            .trim(),
        "[1,3,5]"
    );
    assert_eq!(
        rejects(&env),
        "a.csv\t1\t3\tamount\tabc\tcannot convert \"abc\" to Decimal(9, 2): not a decimal number\n\
         a.csv\t3\t5\t\t\texpected 2 fields as in the header, found 3\n"
    );
    assert_eq!(
        env.q("SELECT rows, rejected FROM {db}.ingest_manifest WHERE event = 'done'"),
        "3\t2\n"
    );
    assert_eq!(
        env.q("SELECT groupArray(_ingest_row) FROM (SELECT _ingest_row FROM {db}.t ORDER BY id)")
            .trim(),
        "[0,2,4]"
    );
    assert!(
        out.all().contains("2 bad records left out"),
        "{}",
        out.all()
    );
}

#[test]
fn skip_row_keeps_batches_deterministic_around_the_gaps() {
    let env = Env::new("skip_large");
    table(&env);
    env.write("big.csv", csv(350, &[50, 150, 151, 340]));
    let args = [
        "--table",
        "t",
        "--on-error",
        "skip-row",
        "--batch-rows",
        "100",
    ];
    assert_code(&env.ingest(&args), 0);
    assert_eq!(env.count("t"), 346);
    assert_eq!(
        env.q("SELECT groupArray(rows) FROM (SELECT batch, rows FROM {db}.ingest_manifest WHERE event = 'batch' ORDER BY batch)").trim(),
        "[99,98,100,49]"
    );
    assert_eq!(
        env.q("SELECT count() FROM {db}.t WHERE _ingest_row IN (50, 150, 151, 340)")
            .trim(),
        "0"
    );
    assert_eq!(
        env.q("SELECT count() FROM {db}.ingest_manifest_rejects")
            .trim(),
        "4"
    );
}

#[test]
fn a_crash_under_skip_row_still_lands_every_good_row_once_and_records_rejects_once() {
    let env = Env::new("skip_crash");
    table(&env);
    env.write("big.csv", csv(350, &[5, 120, 299]));
    env.write("small.csv", csv(20, &[3]).replace("\n0,", "\n1000,"));
    let args = [
        "--table",
        "t",
        "--on-error",
        "skip-row",
        "--batch-rows",
        "100",
    ];
    for failpoint in [
        "after-insert=1*off->return",
        "before-read-back=return",
        "after-done=return",
    ] {
        let crashed = run(env.command("run").args(args).env("FAILPOINTS", failpoint));
        assert_code(&crashed, 137);
    }
    assert_code(&env.ingest(&args), 0);
    assert_eq!(env.count("t"), 347 + 19);
    assert_eq!(env.duplicate_keys("t"), 0);
    assert_eq!(
        env.q("SELECT count() FROM {db}.ingest_manifest_rejects")
            .trim(),
        "4"
    );
}

#[test]
fn past_the_limits_a_file_fails_as_a_whole() {
    let env = Env::new("skip_limits");
    table(&env);
    env.write("many.csv", csv(10, &[1, 2, 3]));
    env.write("ratio.csv", csv(10, &[7, 8]).replace("\n0,", "\n100,"));
    let out = env.ingest(&[
        "--table",
        "t",
        "--on-error",
        "skip-row",
        "--max-errors",
        "2",
        "--max-error-ratio",
        "0.15",
    ]);
    assert_code(&out, 3);
    assert_eq!(env.count("t"), 0);
    let errors =
        env.q("SELECT path, error FROM {db}.ingest_manifest WHERE event = 'failed' ORDER BY path");
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(
        lines[0],
        "many.csv\tmany.csv: more than 2 bad records (--max-errors); first ones:\\nmany.csv:3:amount: cannot convert \"oops1\" to Decimal(9, 2): not a decimal number\\nmany.csv:4:amount: cannot convert \"oops2\" to Decimal(9, 2): not a decimal number\\nmany.csv:5:amount: cannot convert \"oops3\" to Decimal(9, 2): not a decimal number"
    );
    assert!(
        lines[1].starts_with(
            "ratio.csv\tratio.csv: 2 of 10 records are bad, more than --max-error-ratio 0.15"
        ),
        "{errors}"
    );
    assert_eq!(
        env.q("SELECT count() FROM {db}.ingest_manifest_rejects")
            .trim(),
        "0"
    );
}

#[test]
fn the_default_policy_reports_the_first_errors_and_loads_nothing() {
    let env = Env::new("fail_file");
    table(&env);
    env.write("a.csv", csv(300, &[10, 20, 30, 40, 50, 60, 70]));
    let out = env.ingest(&["--table", "t", "--batch-rows", "100"]);
    assert_code(&out, 3);
    assert_eq!(env.count("t"), 0);
    let error = env.q("SELECT error FROM {db}.ingest_manifest WHERE event = 'failed'");
    assert_eq!(error.trim().split("\\n").count(), 5, "{error}");
    assert!(
        error.starts_with("a.csv:12:amount: cannot convert \"oops10\" to Decimal(9, 2)"),
        "{error}"
    );
    let bad = run(env
        .command("run")
        .args(["--table", "t", "--max-errors", "3"]));
    assert_code(&bad, 2);
    assert!(
        bad.stderr.contains("apply to --on-error skip-row"),
        "{}",
        bad.stderr
    );
}
