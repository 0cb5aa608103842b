//! Day-2 operations keep the promise: `forget` and `retry` never make a row land twice, a
//! held-back file is never swept up with the failed ones, two data folders sharing a manifest
//! never confuse each other's files (and a manifest from before folder ids keeps working), every
//! file that needs attention stays visible, and nothing is a silent no-op.

use crate::exactly_once::wait_for_mutations;
use crate::ops::{occurred, parse_metrics};
use crate::util::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn table(env: &Env) {
    env.q("CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
}

fn ids(env: &Env) -> String {
    env.q("SELECT groupArray(id) FROM (SELECT id FROM {db}.t ORDER BY id)")
        .trim()
        .to_owned()
}

fn outcome<'a>(summary: &'a Value, path: &str) -> &'a Value {
    summary["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == path)
        .unwrap_or_else(|| panic!("no outcome for {path} in {summary}"))
}

/// The latest event of every content of the table, as `path event rows`.
fn content_states(env: &Env) -> Vec<String> {
    env.q(
        "SELECT argMax(path, seq), argMax(event, seq), argMax(rows, seq) FROM {db}.ingest_manifest \
         WHERE event NOT IN ('duplicate', 'changed', 'touched') GROUP BY file_hash \
         ORDER BY argMax(path, seq)",
    )
    .lines()
    .map(|l| l.replace('\t', " "))
    .collect()
}

#[test]
fn forget_without_delete_rows_never_sends_a_row_twice() {
    let env = Env::new("forget_keeps_rows");
    table(&env);
    env.write("a.csv", "id,name\n1,a\n2,b\n3,c\n");
    let big: String = (10..15).map(|i| format!("{i},n{i}\n")).collect();
    env.write("big.csv", format!("id,name\n{big}"));
    let args = ["--table", "t", "--batch-rows", "2", "--output", "json"];
    assert_code(&env.ingest(&args), 0);
    assert_eq!(env.count("t"), 8);

    let forgot = run(env.command("forget").arg("a.csv"));
    assert_code(&forgot, 0);
    let hash = env
        .q("SELECT file_hash FROM {db}.ingest_manifest WHERE path = 'a.csv' AND event = 'done'")
        .trim()
        .to_owned();
    assert_eq!(
        forgot.stdout,
        format!(
            "forgot a.csv ({} in {db}.t): its 3 rows stay in {db}.t: the next run finds them \
             there and sends only what is missing (with --delete-rows it would ingest it again \
             from scratch)\n",
            &hash[..12],
            db = env.db
        )
    );
    let out = env.ingest(&args);
    assert_code(&out, 0);
    let s = json_of(&out);
    let a = outcome(&s, "a.csv");
    assert_eq!(a["status"], "already-ingested", "{s}");
    assert_eq!(a["rows"], 0);
    assert_eq!(
        a["detail"],
        format!(
            "its rows were in {}.t already: recorded as ingested, nothing sent",
            env.db
        )
    );
    assert_eq!(s["rows"], 0, "nothing was sent");
    assert_eq!(env.count("t"), 8, "every row once");
    assert_eq!(env.duplicate_keys("t"), 0);
    assert_eq!(content_states(&env), ["a.csv done 3", "big.csv done 5"]);

    // Rows deleted behind the manifest's back, then the file forgotten: only they are sent.
    env.q("ALTER TABLE {db}.t DELETE WHERE id = 12");
    wait_for_mutations(&env);
    let forgot = run(env.command("forget").arg("big.csv"));
    assert_code(&forgot, 0);
    assert!(
        forgot.stdout.contains(": its 4 rows stay in "),
        "{}",
        forgot.stdout
    );
    let out = env.ingest(&args);
    assert_code(&out, 0);
    let s = json_of(&out);
    assert_eq!(outcome(&s, "big.csv")["status"], "ingested");
    assert_eq!(outcome(&s, "big.csv")["rows"], 1);
    assert_eq!(s["rows"], 1);
    assert_eq!(ids(&env), "[1,2,3,10,11,12,13,14]");
    assert_eq!(env.duplicate_keys("t"), 0);

    // The text summary never claims rows it did not send.
    assert_code(&run(env.command("forget").arg("a.csv")), 0);
    let text = env.ingest(&["--table", "t"]);
    assert_code(&text, 0);
    assert!(
        text.stdout.contains("2 already-ingested; 0 rows ingested"),
        "{}",
        text.stdout
    );
    assert_eq!(env.count("t"), 8);
}

#[test]
fn retry_all_failed_leaves_a_held_back_file_held_back() {
    let env = Env::new("retry_all_held_back");
    env.q("CREATE TABLE {db}.t (id UInt8) ENGINE = MergeTree ORDER BY tuple()");
    env.write("daily.csv", "id\n1\n2\n3\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    env.write("daily.csv", "id\n1\n2\n3\n4\n");
    env.write("big.csv", "id\n300\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    env.q("ALTER TABLE {db}.t MODIFY COLUMN id UInt16");

    let retry = run(env.command("retry").arg("--all-failed"));
    assert_code(&retry, 0);
    assert_eq!(
        retry.stdout,
        format!(
            "daily.csv is held back because its content changed: not retried by --all-failed; \
             `ingest retry daily.csv` adds the new content next to the old rows, `ingest retry \
             --replace daily.csv` replaces them\n\
             will retry big.csv into {}.t\n\
             1 file will be tried again by the next run\n",
            env.db
        )
    );
    let out = env.ingest(&["--table", "t", "--output", "json"]);
    assert_code(&out, 0);
    let s = json_of(&out);
    assert_eq!(outcome(&s, "daily.csv")["status"], "changed-before");
    assert_eq!(outcome(&s, "big.csv")["status"], "ingested");
    assert_eq!(
        ids(&env),
        "[1,2,3,300]",
        "the old rows once, the held-back ones not at all"
    );
}

#[test]
fn retry_of_a_held_back_file_says_the_old_rows_stay_or_replaces_them() {
    let env = Env::new("retry_replace");
    table(&env);
    env.write("daily.csv", "id,name\n1,a\n2,b\n");
    env.write("other.csv", "id,name\n7,g\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    let old = env
        .q("SELECT file_hash FROM {db}.ingest_manifest WHERE path = 'daily.csv'")
        .trim()
        .to_owned();
    env.write("daily.csv", "id,name\n3,c\n");
    assert_code(&env.ingest(&["--table", "t"]), 6);

    let replaced = run(env.command("retry").args(["--replace", "daily.csv"]));
    assert_code(&replaced, 0);
    let lines: Vec<&str> = replaced.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "deleted 2 rows of daily.csv's old content ({}) from {}.t",
            &old[..12],
            env.db
        )
    );
    assert!(
        lines[1].starts_with(&format!(
            "will retry daily.csv into {}.t: its new content (",
            env.db
        )) && lines[1].ends_with(") replaces the old"),
        "{}",
        replaced.stdout
    );
    assert_eq!(
        ids(&env),
        "[7]",
        "the old rows are gone before the command returns"
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(ids(&env), "[3,7]");
    assert_eq!(env.duplicate_keys("t"), 0);

    // Without --replace, the new content goes next to the old rows, as the command says.
    env.write("daily.csv", "id,name\n3,c\n4,d\n");
    assert_code(&env.ingest(&["--table", "t"]), 6);
    let added = run(env.command("retry").arg("daily.csv"));
    assert_code(&added, 0);
    assert!(
        added
            .stdout
            .contains(") is added and the rows of its old content (")
            && added
                .stdout
                .contains(") stay (use --replace to delete them first)"),
        "{}",
        added.stdout
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(ids(&env), "[3,3,4,7]");
}

/// Sets a file's modification time.
fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn folder(env: &Env, name: &str) -> PathBuf {
    let dir = env.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

fn ingest_in(env: &Env, dir: &Path, args: &[&str]) -> Output {
    run(env.command("run").env("INGEST_DATA_DIR", dir).args(args))
}

#[test]
fn two_folders_sharing_a_manifest_each_land_their_own_day_csv() {
    let env = Env::new("two_folders");
    table(&env);
    let a = folder(&env, "srcA");
    let b = folder(&env, "srcB");
    std::fs::write(a.join("day.csv"), "id,name\n1,a\n").unwrap();
    std::fs::write(b.join("day.csv"), "id,name\n2,b\n").unwrap();
    let t = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&a.join("day.csv"), t);
    set_mtime(&b.join("day.csv"), t);

    assert_code(&ingest_in(&env, &a, &["--table", "t"]), 0);
    let out = ingest_in(&env, &b, &["--table", "t", "--output", "json"]);
    assert_code(&out, 0);
    assert_eq!(outcome(&json_of(&out), "day.csv")["status"], "ingested");
    assert_eq!(ids(&env), "[1,2]");
    let folders = env.q("SELECT DISTINCT folder_id FROM {db}.ingest_manifest ORDER BY folder_id");
    assert_eq!(folders.lines().count(), 2, "{folders}");

    // Each folder's status is its own.
    let status = run(env
        .command("status")
        .env("INGEST_DATA_DIR", &b)
        .arg("--json"));
    assert_code(&status, 0);
    let s = json_of(&status);
    assert_eq!(
        s["totals"],
        json!([{"state": "done", "files": 1, "rows": 1}])
    );

    // The same folder reached by another path, or moved, is still the same folder: its file is
    // known without being read again.
    let events = env.events().len();
    let link = env.dir.path().join("via-link");
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let out = ingest_in(&env, &link, &["--table", "t", "--output", "json"]);
    assert_code(&out, 0);
    assert_eq!(
        occurred(&json_of(&out)["files"]),
        json!({"already-ingested": 1})
    );
    let moved = env.dir.path().join("srcA-moved");
    std::fs::rename(&a, &moved).unwrap();
    let out = ingest_in(&env, &moved, &["--table", "t", "--output", "json"]);
    assert_code(&out, 0);
    assert_eq!(
        occurred(&json_of(&out)["files"]),
        json!({"already-ingested": 1})
    );
    assert_eq!(
        env.events().len(),
        events,
        "nothing was read or recorded again"
    );
    assert_eq!(ids(&env), "[1,2]");

    // Or a folder id set in the config: several hosts of one logical folder share it.
    let c = folder(&env, "srcC");
    std::fs::write(c.join("day.csv"), "id,name\n2,b\n").unwrap();
    let shared = ingest_in(&env, &c, &["--table", "t", "--folder-id", &folder_of(&b)]);
    assert_code(&shared, 0);
    assert!(
        shared.stdout.contains("1 already-ingested"),
        "{}",
        shared.stdout
    );
    assert!(!c.join(".ingest-folder-id").exists());
    let bad = ingest_in(&env, &c, &["--table", "t", "--folder-id", "no spaces"]);
    assert_code(&bad, 2);
}

fn folder_of(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join(".ingest-folder-id")).unwrap();
    text.lines().last().unwrap().to_owned()
}

#[test]
fn a_manifest_from_before_folder_ids_keeps_working_and_is_migrated_in_place() {
    let env = Env::new("old_manifest");
    table(&env);
    env.write("a.csv", "id,name\n1,a\n");
    env.write("bad.csv", "id,name\nx,y\n");
    env.write("daily.csv", "id,name\n5,e\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    env.write("daily.csv", "id,name\n5,e\n6,f\n");
    assert_code(&env.ingest(&["--table", "t"]), 6);
    // What a manifest, a run history and a folder looked like before folder ids.
    env.q("ALTER TABLE {db}.ingest_manifest DROP COLUMN folder_id");
    env.q("ALTER TABLE {db}.ingest_manifest_runs DROP COLUMN folder_id");
    env.q("ALTER TABLE {db}.ingest_manifest_runs DROP COLUMN rows_rejected");
    std::fs::remove_file(env.path(".ingest-folder-id")).unwrap();
    let events = env.events().len();

    let status = run(&mut env.command("status"));
    assert_code(&status, 0);
    assert!(
        status.stdout.starts_with(&format!(
            "manifest {}.ingest_manifest, every folder\nfiles: 1 changed (0 rows), 1 done \
             (1 row), 1 failed (0 rows)\n",
            env.db
        )),
        "{}",
        status.stdout
    );
    let dry = env.ingest(&["--table", "t", "--dry-run", "--output", "json"]);
    assert_code(&dry, 0);
    assert_eq!(
        occurred(&json_of(&dry)["files"]),
        json!({"already-ingested": 1, "changed-before": 1, "failed-before": 1})
    );
    assert!(
        !env.path(".ingest-folder-id").exists(),
        "a dry run writes nothing"
    );

    let out = env.ingest(&["--table", "t", "--output", "json"]);
    assert_code(&out, 0);
    assert_eq!(
        occurred(&json_of(&out)["files"]),
        json!({"already-ingested": 1, "changed-before": 1, "failed-before": 1}),
        "the old events are this folder's"
    );
    let id = folder_id(&env);
    assert_eq!(
        env.q("SELECT DISTINCT folder_id FROM {db}.ingest_manifest")
            .trim(),
        id,
        "old events read as the folder that migrated the manifest"
    );
    assert_eq!(env.events().len(), events, "no file was read again");
    assert_eq!(
        env.q("SELECT DISTINCT folder_id FROM {db}.ingest_manifest_runs")
            .trim(),
        id
    );
    let status = run(env.command("status").arg("--json"));
    assert_code(&status, 0);
    let s = json_of(&status);
    assert_eq!(s["folder"], id.as_str());
    assert_eq!(s["attention_counts"]["changed"], 1);
    assert_eq!(s["runs"].as_array().unwrap().len(), 3);

    // A second folder on the same manifest now is a folder of its own.
    let other = folder(&env, "other");
    std::fs::write(other.join("a.csv"), "id,name\n9,z\n").unwrap();
    set_mtime(
        &other.join("a.csv"),
        std::fs::metadata(env.path("a.csv"))
            .unwrap()
            .modified()
            .unwrap(),
    );
    assert_code(&ingest_in(&env, &other, &["--table", "t"]), 0);
    assert_eq!(ids(&env), "[1,5,9]");
}

#[test]
fn a_held_back_file_stays_in_status_and_the_attention_gauge_until_released() {
    let env = Env::new("held_back_visible");
    table(&env);
    let prom = env.dir.path().join("ingest.prom");
    let metrics = ["--table", "t", "--metrics-file", prom.to_str().unwrap()];
    env.write("daily.csv", "id,name\n1,a\n");
    assert_code(&env.ingest(&metrics), 0);
    env.write("daily.csv", "id,name\n1,a\n2,b\n");
    let gauge = |reason: &str| {
        parse_metrics(&prom)[&format!("ingest_files_needing_attention{{reason=\"{reason}\"}}")]
    };
    let attention = |env: &Env| -> Vec<(String, String)> {
        let out = run(env.command("status").arg("--json"));
        assert_code(&out, 0);
        json_of(&out)["attention"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_owned(),
                    f["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_code(&env.ingest(&metrics), 6);
    assert_eq!(gauge("changed"), 1.0);
    for _ in 0..2 {
        assert_code(&env.ingest(&metrics), 0);
        assert_eq!(gauge("changed"), 1.0, "the alert stays firing");
        assert_eq!(
            attention(&env),
            [("daily.csv".to_owned(), "changed".to_owned())]
        );
    }
    let text = run(&mut env.command("status")).stdout;
    assert!(
        text.contains("held back: its content (",)
            && text.contains("`ingest retry daily.csv` adds it next to the old rows"),
        "{text}"
    );

    assert_code(&run(env.command("retry").arg("daily.csv")), 0);
    assert_eq!(
        attention(&env),
        [("daily.csv".to_owned(), "retry".to_owned())]
    );
    assert_code(&env.ingest(&metrics), 0);
    assert_eq!(gauge("changed"), 0.0);
    assert_eq!(attention(&env), []);
    assert_eq!(ids(&env), "[1,1,2]");
}

#[test]
fn a_file_fixed_in_place_leaves_its_old_error_behind() {
    let env = Env::new("fixed_in_place");
    table(&env);
    env.write("a.csv", "id,name\nx,y\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    env.write("a.csv", "id,name\n1,y\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    let out = run(env.command("status").arg("--json"));
    let s = json_of(&out);
    assert_eq!(s["attention"], json!([]), "{s}");
    assert_eq!(s["recent"][0]["state"], "done");
    assert_eq!(s["recent"][0]["error"], Value::Null);
    let new = env
        .q("SELECT file_hash FROM {db}.ingest_manifest WHERE event = 'done'")
        .trim()
        .to_owned();
    let old = env
        .q("SELECT file_hash FROM {db}.ingest_manifest WHERE event = 'failed'")
        .trim()
        .to_owned();
    // The old content, named by its hash, is retried on its own: the path keeps its content.
    let retried = run(env.command("retry").arg(&old[..10]));
    assert_code(&retried, 0);
    assert!(
        retried.stdout.starts_with("will retry a.csv into "),
        "{}",
        retried.stdout
    );
    let forgot = run(env.command("forget").arg("a.csv"));
    assert_code(&forgot, 0);
    assert!(
        forgot
            .stdout
            .starts_with(&format!("forgot a.csv ({} in ", &new[..12])),
        "the path names the content it has now: {}",
        forgot.stdout
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(ids(&env), "[1]", "every row once");
}

#[test]
fn forgetting_a_held_back_file_forgets_what_was_ingested_there() {
    let env = Env::new("forget_held_back");
    table(&env);
    env.write("daily.csv", "id,name\n1,a\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    env.write("daily.csv", "id,name\n2,b\n");
    assert_code(&env.ingest(&["--table", "t"]), 6);
    let forgot = run(env.command("forget").args(["--delete-rows", "daily.csv"]));
    assert_code(&forgot, 0);
    assert!(
        forgot
            .stdout
            .starts_with("forgot daily.csv's ingested content (")
            && forgot.stdout.contains("): deleted its 1 row from ")
            && forgot
                .stdout
                .contains("; the next run ingests the file's new content ("),
        "{}",
        forgot.stdout
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(ids(&env), "[2]");
}

#[test]
fn retry_and_forget_take_paths_through_the_data_folder() {
    let env = Env::new("manage_paths");
    table(&env);
    env.write("in/bad.csv", "id,name\nx,y\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    let at = |args: &[&str]| run(env.command("retry").current_dir(env.dir.path()).args(args));
    let out = at(&["data/in/bad.csv"]);
    assert_code(&out, 0);
    assert!(
        out.stdout.starts_with("will retry in/bad.csv into "),
        "{}",
        out.stdout
    );
    assert_code(&env.ingest(&["--table", "t"]), 3);
    let absolute = env.path("in/bad.csv");
    let out = at(&[absolute.to_str().unwrap()]);
    assert_code(&out, 0);
    assert!(
        out.stdout.starts_with("will retry in/bad.csv into "),
        "{}",
        out.stdout
    );
    let outside = at(&["/etc/hostname"]);
    assert_code(&outside, 2);
    assert!(
        outside
            .stderr
            .contains("the manifest knows no file of this data folder"),
        "{}",
        outside.stderr
    );
    let forgot = run(env
        .command("forget")
        .current_dir(env.dir.path())
        .arg("./data/in/bad.csv"));
    assert_code(&forgot, 0);
    assert!(
        forgot.stdout.starts_with("forgot in/bad.csv ("),
        "{}",
        forgot.stdout
    );
}

#[test]
fn an_unrouted_file_and_an_idle_route_are_warnings_or_failures() {
    let env = Env::new("warnings");
    table(&env);
    let config = env.dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        "[[route]]\nglob = \"orders/*.csv\"\ntable = \"t\"\n\n\
         [[route]]\nglob = \"ordres/*.csv\"\ntable = \"t\"\n",
    )
    .unwrap();
    env.write("orders/a.csv", "id,name\n1,a\n");
    env.write("misc/b.csv", "id,name\n2,b\n");
    let prom = env.dir.path().join("ingest.prom");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--metrics-file",
        prom.to_str().unwrap(),
    ];
    let out = env.ingest(&args);
    assert_code(&out, 0);
    let warnings = [
        "misc/b.csv: no route matches this data file and no --table is set".to_owned(),
        format!(
            "route `ordres/*.csv` → {}.t matched no file in the data folder",
            env.db
        ),
    ];
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[..2],
        [
            format!("warning: {}", warnings[0]),
            format!("warning: {}", warnings[1])
        ],
        "{}",
        out.stdout
    );
    assert_eq!(parse_metrics(&prom)["ingest_last_run_warnings"], 2.0);
    let json = run(env.command("run").args(args).args(["--output", "json"]));
    assert_code(&json, 0);
    assert_eq!(json_of(&json)["warnings"], json!(warnings));

    let strict = run(env.command("run").args(args).arg("--fail-on-warning"));
    assert_code(&strict, 3);
    let strict = run(env
        .command("run")
        .env("INGEST_FAIL_ON_WARNING", "1")
        .args(args));
    assert_code(&strict, 3);
    assert_eq!(env.count("t"), 1);
}

#[test]
fn rejected_records_are_counted_in_the_json_the_metrics_and_the_history() {
    let env = Env::new("rejects_counted");
    env.q("CREATE TABLE {db}.t (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.write("a.csv", "x\n1\nbad\n2\n300\n");
    let prom = env.dir.path().join("ingest.prom");
    let out = env.ingest(&[
        "--table",
        "t",
        "--on-error",
        "skip-row",
        "--output",
        "json",
        "--metrics-file",
        prom.to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    let s = json_of(&out);
    assert_eq!(s["rejected"], 2);
    assert_eq!(s["rows"], 2);
    assert_eq!(outcome(&s, "a.csv")["rejected"], 2);
    assert_eq!(parse_metrics(&prom)["ingest_rejected_records_total"], 2.0);
    let run_id = s["run_id"].as_str().unwrap();
    assert_eq!(
        env.q(&format!(
            "SELECT rows, rows_rejected FROM {{db}}.ingest_manifest_runs WHERE run_id = '{run_id}'"
        )),
        "2\t2\n"
    );
    let status = json_of(&run(env.command("status").arg("--json")));
    assert_eq!(status["runs"][0]["rejected"], 2);
}

#[test]
fn boolean_variables_take_one_and_zero_and_yes_and_no() {
    let env = Env::new("booleans");
    table(&env);
    env.write("a.csv", "id,name\n1,a\n");
    for on in ["1", "yes", "true"] {
        let out = run(env
            .command("run")
            .env("INGEST_DRY_RUN", on)
            .args(["--table", "t"]));
        assert_code(&out, 0);
        assert!(out.stdout.starts_with("STATUS"), "{on}: {}", out.stdout);
        assert!(!env.manifest_exists(), "{on}");
    }
    let out = run(env
        .command("run")
        .env("INGEST_DRY_RUN", "0")
        .args(["--table", "t"]));
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 1);
    let bad = run(env
        .command("run")
        .env("INGEST_DRY_RUN", "maybe")
        .args(["--table", "t"]));
    assert_code(&bad, 2);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let env = Env::new("closed_stdout");
    table(&env);
    for i in 0..30 {
        env.write(&format!("f{i:02}.csv"), format!("id,name\n{i},n\n"));
    }
    assert_code(&env.ingest(&["--table", "t"]), 0);
    for args in [&["status"][..], &["run", "--table", "t", "--dry-run"]] {
        let mut child = env
            .command(args[0])
            .args(&args[1..])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Like `| head -0`: the reader is gone before anything is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "{args:?} says nothing about the closed pipe"
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn a_run_stopped_by_an_unreachable_server_prints_the_error_line() {
    let env = Env::new("stopped_unreachable");
    table(&env);
    env.write("a.csv", "id,name\n1,a\n2,b\n3,c\n");
    let out = run(env
        .command("run")
        .env("FAILPOINTS", "insert-unreachable=return")
        .env("INGEST_RETRIES", "0")
        .args(["--table", "t", "--batch-rows", "1"]));
    assert_code(&out, 4);
    let url = env.ch.url.trim_end_matches('/');
    assert_eq!(
        out.stderr.lines().last(),
        Some(
            format!(
                "ingest: error: ClickHouse is unreachable at {url}: connection refused (injected \
                 by a failpoint)"
            )
            .as_str()
        ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("ingest: error:").count(), 1);
    assert!(out.stdout.contains("1 interrupted"), "{}", out.stdout);
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.count("t"), 3);
}
