//! A file's life around ingestion: settling, quarantine, moving or deleting after ingestion,
//! changed files, and the operator's `retry` and `forget`.

use crate::exactly_once::wait_for_mutations;
use crate::util::*;
use std::io::Write;
use std::time::Duration;

fn table(env: &Env) {
    env.q("CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
}

#[test]
fn a_file_still_being_written_is_left_for_the_next_run() {
    let env = Env::new("settle");
    table(&env);
    env.write("growing.csv", "id,name\n");
    env.write("steady.csv", "id,name\n1,a\n");
    let path = env.path("growing.csv");
    let writer = std::thread::spawn(move || {
        for i in 0..25 {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            writeln!(f, "{},row", 100 + i).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let dry = env.ingest(&["--table", "t", "--settle", "1s", "--dry-run"]);
    assert!(dry.stdout.contains("unsettled"), "{}", dry.stdout);
    let out = env.ingest(&["--table", "t", "--settle", "1s"]);
    assert_code(&out, 0);
    assert!(out.stdout.contains("unsettled"), "{}", out.stdout);
    assert_eq!(env.q("SELECT groupArray(id) FROM {db}.t").trim(), "[1]");
    assert_eq!(
        env.q("SELECT count() FROM {db}.ingest_manifest WHERE path = 'growing.csv'")
            .trim(),
        "0",
        "an unsettled file leaves no trace"
    );
    writer.join().unwrap();
    assert_code(&env.ingest(&["--table", "t", "--settle", "300ms"]), 0);
    assert_eq!(env.count("t"), 26);
}

#[test]
fn bad_files_are_quarantined_with_a_report_and_retry_brings_them_back() {
    let env = Env::new("quarantine");
    table(&env);
    let quarantine = env.dir.path().join("quarantine");
    let q = quarantine.to_str().unwrap();
    env.write("ok.csv", "id,name\n1,a\n");
    env.write("in/extra.csv", "id,name,colour\n2,b,red\n");
    let out = env.ingest(&["--table", "t", "--quarantine-dir", q]);
    assert_code(&out, 3);
    assert!(!env.path("in/extra.csv").exists());
    let moved = quarantine.join("in/extra.csv");
    assert!(moved.exists());
    let report = std::fs::read_to_string(quarantine.join("in/extra.csv.error.txt")).unwrap();
    assert!(
        report.contains(&format!(
            "in/extra.csv: field `colour` has no column in table {}.t",
            env.db
        )),
        "{report}"
    );
    assert_eq!(
        env.q("SELECT event, detail FROM {db}.ingest_manifest WHERE path = 'in/extra.csv' ORDER BY seq"),
        format!("failed\t\nquarantined\t{}\n", moved.display())
    );

    // The table learns the column; the operator asks for the file again.
    env.q("ALTER TABLE {db}.t ADD COLUMN colour String");
    let retry = run(env.command("retry").arg("in/extra.csv"));
    assert_code(&retry, 0);
    assert!(env.path("in/extra.csv").exists(), "{}", retry.stdout);
    assert!(!quarantine.join("in/extra.csv.error.txt").exists());
    assert_code(&env.ingest(&["--table", "t", "--quarantine-dir", q]), 0);
    assert_eq!(
        env.q("SELECT id, colour FROM {db}.t WHERE id = 2").trim(),
        "2\tred"
    );
}

#[test]
fn a_failed_file_is_not_retried_until_asked() {
    let env = Env::new("retry_all");
    env.q("CREATE TABLE {db}.t (id UInt8) ENGINE = MergeTree ORDER BY tuple()");
    env.write("big.csv", "id\n300\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    env.q("ALTER TABLE {db}.t MODIFY COLUMN id UInt16");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(
        env.count("t"),
        0,
        "failed for its content: not retried by itself"
    );
    let retry = run(env.command("retry").arg("--all-failed"));
    assert_code(&retry, 0);
    assert!(
        retry.stdout.contains("will retry big.csv"),
        "{}",
        retry.stdout
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.q("SELECT groupArray(id) FROM {db}.t").trim(), "[300]");
}

#[test]
fn ingested_files_can_be_moved_or_deleted_but_never_before_they_are_confirmed() {
    let env = Env::new("after");
    table(&env);
    let done = env.dir.path().join("done");
    env.write("a/1.csv", "id,name\n1,a\n");
    env.write("copy.csv", "id,name\n1,a\n");
    env.write("bad.csv", "id,name\nx,y\n");
    let out = env.ingest(&[
        "--table",
        "t",
        "--after",
        "move",
        "--done-dir",
        done.to_str().unwrap(),
    ]);
    assert_code(&out, 3);
    assert!(done.join("a/1.csv").exists() && !env.path("a/1.csv").exists());
    assert!(
        done.join("copy.csv").exists(),
        "a duplicate's content is ingested too"
    );
    assert!(env.path("bad.csv").exists(), "a failed file stays");
    assert_eq!(env.count("t"), 1);

    env.write("b.csv", "id,name\n2,b\n");
    assert_code(&env.ingest(&["--table", "t", "--after", "delete"]), 0);
    assert!(!env.path("b.csv").exists());
    assert_eq!(env.count("t"), 2);
    // A done folder inside the data folder is not scanned.
    let inner = env.path("archive");
    env.write("c.csv", "id,name\n3,c\n");
    assert_code(
        &env.ingest(&[
            "--table",
            "t",
            "--after",
            "move",
            "--done-dir",
            inner.to_str().unwrap(),
        ]),
        0,
    );
    assert_code(
        &env.ingest(&[
            "--table",
            "t",
            "--after",
            "move",
            "--done-dir",
            inner.to_str().unwrap(),
        ]),
        0,
    );
    assert_eq!(env.count("t"), 3);
}

#[test]
fn a_changed_file_is_held_back_or_ingested_on_request() {
    let env = Env::new("changed");
    table(&env);
    env.write("daily.csv", "id,name\n1,a\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    env.write("daily.csv", "id,name\n1,a\n2,b\n");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 6);
    assert!(out.stdout.contains("changed"), "{}", out.stdout);
    assert_eq!(env.count("t"), 1);
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.event_count("changed"), 1, "reported once");

    let out = env.ingest(&["--table", "t", "--on-change", "ingest"]);
    assert_code(&out, 0);
    assert_eq!(
        env.count("t"),
        3,
        "the new content is added; the old rows stay"
    );

    env.write("daily.csv", "id,name\n5,e\n");
    assert_code(&env.ingest(&["--table", "t", "--on-change", "ingest"]), 0);
    assert_eq!(env.count("t"), 4);
    assert_eq!(env.duplicate_keys("t"), 0);
}

#[test]
fn retry_releases_a_held_back_file() {
    let env = Env::new("retry_changed");
    table(&env);
    env.write("daily.csv", "id,name\n1,a\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    env.write("daily.csv", "id,name\n2,b\n");
    assert_code(&env.ingest(&["--table", "t"]), 6);
    assert_code(&run(env.command("retry").arg("daily.csv")), 0);
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(
        env.q("SELECT groupArray(id) FROM (SELECT id FROM {db}.t ORDER BY id)")
            .trim(),
        "[1,2]"
    );
}

#[test]
fn touching_a_file_without_changing_it_ingests_nothing() {
    let env = Env::new("touched");
    table(&env);
    env.write("a.csv", "id,name\n1,a\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    std::thread::sleep(Duration::from_millis(20));
    env.write("a.csv", "id,name\n1,a\n");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 1);
    assert_eq!(env.event_count("touched"), 1);
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(
        env.event_count("touched"),
        1,
        "recognised by size and time afterwards"
    );
}

#[test]
fn forget_with_delete_rows_lets_a_file_be_ingested_again_from_scratch() {
    let env = Env::new("forget");
    table(&env);
    env.write("a.csv", "id,name\n1,a\n2,b\n");
    env.write("b.csv", "id,name\n3,c\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    let hash =
        env.q("SELECT file_hash FROM {db}.ingest_manifest WHERE path = 'a.csv' AND event = 'done'");
    let out = run(env
        .command("forget")
        .args(["--delete-rows", &hash.trim()[..10]]));
    assert_code(&out, 0);
    assert!(
        out.stdout.contains("deleted 2 rows of a.csv"),
        "{}",
        out.stdout
    );
    wait_for_mutations(&env);
    assert_eq!(env.q("SELECT groupArray(id) FROM {db}.t").trim(), "[3]");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.count("t"), 3);
    assert_eq!(env.duplicate_keys("t"), 0);

    let unknown = run(env.command("forget").arg("nope.csv"));
    assert_code(&unknown, 2);
    assert!(
        unknown.stderr.contains("or content hash `nope.csv`"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_stale_lock_file_never_blocks() {
    let env = Env::new("stale_lock");
    table(&env);
    env.write(".ingest.lock", "99999\n");
    env.write("a.csv", "id,name\n1,a\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.count("t"), 1);
}
