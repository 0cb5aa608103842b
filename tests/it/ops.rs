//! Operating `ingest`: the run history kept in ClickHouse, `ingest status`, the JSON summary, the
//! Prometheus metrics file, logs and progress, and `ingest init` for a least-privileged account.

use crate::util::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

const OK_CSV: &str = "x\n1\n2\n";
const BAD_CSV: &str = "x\n999\n";

fn setup(env: &Env) {
    env.q("CREATE TABLE {db}.t (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.write("ok.csv", OK_CSV);
    env.write("bad.csv", BAD_CSV);
}

/// The file counts of a JSON document without the statuses that did not occur.
pub fn occurred(files: &Value) -> Value {
    let counts = files.as_object().expect("file counts");
    assert_eq!(counts.len(), 12, "every status is counted: {files}");
    Value::Object(
        counts
            .iter()
            .filter(|(_, n)| **n != json!(0))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

fn outcome<'a>(summary: &'a Value, path: &str) -> &'a Value {
    summary["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == path)
        .unwrap_or_else(|| panic!("no outcome for {path} in {summary}"))
}

/// The history row of one run, column by column.
fn history_row(env: &Env, run_id: &str) -> BTreeMap<String, String> {
    let columns = "run_id, host, version, data_dir, started, finished, exit_code, error, \
                   files_total, files_ingested, files_already_ingested, files_failed, \
                   files_failed_before, files_ignored, rows, bytes";
    let text = env.q(&format!(
        "SELECT {columns} FROM {{db}}.ingest_manifest_runs WHERE run_id = '{run_id}' FORMAT TSV"
    ));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one history row for {run_id}: {text}");
    columns
        .split(", ")
        .map(|c| c.trim().to_owned())
        .zip(lines[0].split('\t').map(String::from))
        .collect()
}

#[test]
fn each_run_leaves_a_history_row_that_matches_its_json_summary() {
    let env = Env::new("history");
    setup(&env);
    env.write("notes.txt", "not data");
    let out = env.ingest(&["--table", "t", "--output", "json"]);
    assert_code(&out, 3);
    let s = json_of(&out);
    assert_eq!(s["exit_code"], 3);
    assert_eq!(s["dry_run"], false);
    assert_eq!(s["error"], Value::Null);
    assert_eq!(s["schema_version"], 1);
    assert_eq!(
        occurred(&s["files"]),
        json!({"ingested": 1, "failed": 1, "ignored": 1})
    );
    assert_eq!(s["rows"], 2);
    assert_eq!(s["bytes"], OK_CSV.len());
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    let ok = outcome(&s, "ok.csv");
    assert_eq!(ok["status"], "ingested");
    assert_eq!(ok["table"], format!("{}.t", env.db));
    assert_eq!(ok["format"], "csv");
    assert_eq!(ok["rows"], 2);
    assert!(ok["duration_seconds"].as_f64().unwrap() > 0.0, "{ok}");
    let bad = outcome(&s, "bad.csv");
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .starts_with("bad.csv:2:x: cannot convert \"999\""),
        "{bad}"
    );
    assert_eq!(outcome(&s, "notes.txt")["status"], "ignored");

    let run_id = s["run_id"].as_str().unwrap();
    let row = history_row(&env, run_id);
    let data_dir = env.data().canonicalize().unwrap();
    assert_eq!(row["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(row["data_dir"], data_dir.to_str().unwrap());
    assert!(!row["host"].is_empty());
    assert!(row["started"] <= row["finished"], "{row:?}");
    for (column, value) in [
        ("exit_code", "3"),
        ("error", ""),
        ("files_total", "3"),
        ("files_ingested", "1"),
        ("files_failed", "1"),
        ("files_ignored", "1"),
        ("rows", "2"),
        ("bytes", &OK_CSV.len().to_string()),
    ] {
        assert_eq!(row[column], value, "{column} in {row:?}");
    }

    let again = run(env
        .command("run")
        .env("INGEST_OUTPUT", "json")
        .args(["--table", "t"]));
    assert_code(&again, 0);
    let s2 = json_of(&again);
    assert_eq!(
        occurred(&s2["files"]),
        json!({"already-ingested": 1, "failed-before": 1, "ignored": 1})
    );
    assert_eq!(s2["rows"], 0);
    let row = history_row(&env, s2["run_id"].as_str().unwrap());
    assert_eq!(
        (
            &*row["exit_code"],
            &*row["files_already_ingested"],
            &*row["files_failed_before"],
            &*row["rows"]
        ),
        ("0", "1", "1", "0")
    );
    assert_eq!(env.count("ingest_manifest_runs"), 2);
}

#[test]
fn a_run_stopped_by_an_error_after_connecting_is_recorded_and_summarised() {
    let env = Env::new("history_error");
    env.write("a.csv", OK_CSV);
    let out = env.ingest(&["--table", "missing", "--output", "json"]);
    assert_code(&out, 2);
    let s = json_of(&out);
    assert_eq!(s["exit_code"], 2);
    assert_eq!(s["outcomes"], json!([]));
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("target table {}.missing does not exist", env.db)),
        "{error}"
    );
    assert_eq!(
        out.stderr.trim(),
        format!("ingest: error: {error}"),
        "the one-line error still goes to stderr"
    );
    let row = history_row(&env, s["run_id"].as_str().unwrap());
    assert_eq!(row["exit_code"], "2");
    assert_eq!(row["error"], error);

    // A dry run is never recorded.
    let dry = env.ingest(&["--table", "missing", "--dry-run"]);
    assert_code(&dry, 2);
    assert_eq!(env.count("ingest_manifest_runs"), 1);
}

/// A metrics file as `series → value` (series named without their `folder` label, which every
/// one must have), checking its shape on the way: `promtool check metrics` finds nothing wrong,
/// every sample belongs to a family declared with `# TYPE`, and every family is ours.
pub fn parse_metrics(path: &Path) -> BTreeMap<String, f64> {
    check_metrics(path);
    let text = std::fs::read_to_string(path).unwrap();
    let mut families = Vec::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            families.push(name.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(
            families.iter().any(|f| name == f
                || name
                    .strip_prefix(f.as_str())
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))),
            "{name} has no # TYPE line before it in\n{text}"
        );
        assert!(name.starts_with("ingest_"), "{line}");
        let labels = series.split_once('{').map_or("", |(_, l)| l);
        let folder = labels
            .split(',')
            .next()
            .map(|l| l.trim_end_matches('}'))
            .filter(|l| l.starts_with("folder=\""))
            .unwrap_or_else(|| panic!("{line} has no folder label first"));
        let series = series
            .replace(&format!("{folder},"), "")
            .replace(&format!("{{{folder}}}"), "");
        samples.insert(series, value.parse().unwrap());
    }
    samples
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn the_metrics_file_adds_up_runs_and_tells_of_failures() {
    let env = Env::new("metrics");
    setup(&env);
    let folder = env.dir.path().join("textfile");
    std::fs::create_dir(&folder).unwrap();
    let prom = folder.join("ingest.prom");
    let metrics_arg = prom.to_str().unwrap();
    let before = now().floor();
    assert_code(
        &env.ingest(&["--table", "t", "--metrics-file", metrics_arg]),
        3,
    );
    let m = parse_metrics(&prom);
    let v = |m: &BTreeMap<String, f64>, series: &str| {
        *m.get(series)
            .unwrap_or_else(|| panic!("no {series} in {m:?}"))
    };
    assert_eq!(v(&m, r#"ingest_files_total{outcome="ingested"}"#), 1.0);
    assert_eq!(v(&m, r#"ingest_files_total{outcome="failed"}"#), 1.0);
    assert_eq!(v(&m, "ingest_rows_total"), 2.0);
    assert_eq!(v(&m, "ingest_bytes_total"), OK_CSV.len() as f64);
    assert_eq!(v(&m, "ingest_file_duration_seconds_count"), 2.0);
    assert_eq!(
        v(&m, r#"ingest_file_duration_seconds_bucket{le="+Inf"}"#),
        2.0
    );
    assert_eq!(v(&m, r#"ingest_runs_total{exit_code="3"}"#), 1.0);
    assert_eq!(v(&m, "ingest_last_run_exit_code"), 3.0);
    assert_eq!(v(&m, "ingest_last_success_timestamp_seconds"), 0.0);
    let last_run = v(&m, "ingest_last_run_timestamp_seconds");
    assert!(before <= last_run && last_run <= now(), "{last_run}");
    assert!(v(&m, "ingest_run_duration_seconds") > 0.0);

    env.write("new.csv", "x\n3\n4\n5\n");
    // Through the environment this time.
    let out = run(env
        .command("run")
        .env("INGEST_METRICS_FILE", &prom)
        .args(["--table", "t"]));
    assert_code(&out, 0);
    let m = parse_metrics(&prom);
    assert_eq!(v(&m, r#"ingest_files_total{outcome="ingested"}"#), 2.0);
    assert_eq!(v(&m, r#"ingest_files_total{outcome="failed"}"#), 1.0);
    assert_eq!(
        v(&m, r#"ingest_files_total{outcome="already-ingested"}"#),
        1.0
    );
    assert_eq!(v(&m, r#"ingest_files_total{outcome="failed-before"}"#), 1.0);
    assert_eq!(v(&m, "ingest_rows_total"), 5.0);
    assert_eq!(v(&m, "ingest_file_duration_seconds_count"), 3.0);
    assert_eq!(v(&m, r#"ingest_runs_total{exit_code="0"}"#), 1.0);
    assert_eq!(v(&m, r#"ingest_runs_total{exit_code="3"}"#), 1.0);
    assert_eq!(v(&m, "ingest_last_run_exit_code"), 0.0);
    let success = v(&m, "ingest_last_success_timestamp_seconds");
    assert_eq!(success, v(&m, "ingest_last_run_timestamp_seconds"));

    // A dry run leaves the file alone; a run that cannot reach ClickHouse is counted.
    let text = std::fs::read_to_string(&prom).unwrap();
    assert_code(
        &env.ingest(&["--table", "t", "--metrics-file", metrics_arg, "--dry-run"]),
        0,
    );
    assert_eq!(std::fs::read_to_string(&prom).unwrap(), text);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(env
        .command("run")
        .env("CLICKHOUSE_URL", format!("http://127.0.0.1:{port}"))
        .env("INGEST_RETRIES", "0")
        .args(["--table", "t", "--metrics-file", metrics_arg]));
    assert_code(&out, 4);
    let m = parse_metrics(&prom);
    assert_eq!(v(&m, "ingest_last_run_exit_code"), 4.0);
    assert_eq!(v(&m, r#"ingest_runs_total{exit_code="4"}"#), 1.0);
    assert_eq!(v(&m, "ingest_last_success_timestamp_seconds"), success);
    assert_eq!(v(&m, "ingest_rows_total"), 5.0);
    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, ["ingest.prom"], "no temporary file is left behind");
}

#[test]
fn a_metrics_file_in_a_missing_folder_is_a_configuration_error() {
    let env = Env::new("metrics_dir");
    let out = env.ingest(&["--table", "t", "--metrics-file", "/nonexistent/dir/x.prom"]);
    assert_code(&out, 2);
    assert!(
        out.stderr
            .contains("--metrics-file /nonexistent/dir/x.prom: no such folder /nonexistent/dir"),
        "{}",
        out.stderr
    );
}

/// Lines of one section of `ingest status`, from its heading to the next blank line.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn status_shows_runs_files_in_flight_and_failures_as_text_and_json() {
    let env = Env::new("status_ops");
    setup(&env);
    let out = env.ingest(&["--table", "t", "--output", "json"]);
    assert_code(&out, 3);
    let run_id = json_of(&out)["run_id"].as_str().unwrap().to_owned();
    // What a run killed after claiming a file leaves behind.
    let folder = folder_id(&env);
    env.q(&format!(
        "INSERT INTO {{db}}.ingest_manifest (event_time, seq, run_id, host, event, path, \
         file_hash, target_table, rows, folder_id) VALUES (now(), 1, 'dead-run', 'elsewhere', \
         'claimed', 'stuck.csv', 'abc', '{}.t', 5, '{folder}')",
        env.db
    ));

    let out = run(&mut env.command("status"));
    assert_code(&out, 0);
    let text = &out.stdout;
    assert_eq!(
        text.lines().take(2).collect::<Vec<_>>(),
        [
            format!("manifest {}.ingest_manifest, folder {folder}", env.db),
            "files: 1 done (2 rows), 1 failed (0 rows), 1 in-flight (5 rows)".to_owned()
        ]
    );
    let runs = section(text, "last runs:");
    assert_eq!(runs.len(), 2, "{text}");
    assert!(runs[0].starts_with("STARTED (UTC)"), "{text}");
    let fields: Vec<&str> = runs[1].split_whitespace().collect();
    assert_eq!(
        fields[3..10],
        ["3", "2", "1", "1", "2", &run_id, "on"],
        "{text}"
    );
    let attention = section(
        text,
        "needs attention (until a run, `ingest retry` or `ingest forget` resolves it):",
    );
    assert_eq!(attention.len(), 4, "{text}");
    let table = format!("{}.t", env.db);
    assert_eq!(
        attention[0].split_whitespace().skip(2).collect::<Vec<_>>(),
        ["failed", &table, "bad.csv"],
        "{text}"
    );
    assert_eq!(
        attention[1].trim(),
        "error: bad.csv:2:x: cannot convert \"999\" to UInt8: 999 is out of range for UInt8"
    );
    assert_eq!(
        attention[2].split_whitespace().skip(2).collect::<Vec<_>>(),
        ["claimed", &table, "stuck.csv"],
        "{text}"
    );
    assert_eq!(
        attention[3].trim(),
        "claimed by run dead-run on elsewhere: a run in progress, or one that stopped and will \
         be resumed"
    );
    assert_eq!(section(text, "recent files:").len(), 4, "{text}");

    let out = run(env.command("status").arg("--json"));
    assert_code(&out, 0);
    let s = json_of(&out);
    assert_eq!(s["schema_version"], 1);
    assert_eq!(s["exists"], true);
    assert_eq!(s["error"], Value::Null);
    assert_eq!(s["folder"], folder.as_str());
    assert_eq!(s["manifest"], format!("{}.ingest_manifest", env.db));
    assert_eq!(
        s["totals"],
        json!([
            {"state": "done", "files": 1, "rows": 2},
            {"state": "failed", "files": 1, "rows": 0},
            {"state": "in-flight", "files": 1, "rows": 5},
        ])
    );
    assert_eq!(
        s["attention_counts"],
        json!({"changed": 0, "failed": 1, "in-flight": 1, "poison": 0, "quarantined": 0})
    );
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["run_id"], run_id.as_str());
    assert_eq!(runs[0]["exit_code"], 3);
    assert_eq!(runs[0]["files"]["failed"], 1);
    assert_eq!(runs[0]["rows"], 2);
    assert_eq!(runs[0]["error"], Value::Null);
    assert!(runs[0]["started"].as_str().unwrap().ends_with('Z'));
    let attention = s["attention"].as_array().unwrap();
    assert_eq!(attention.len(), 2);
    let stuck = &attention[1];
    assert_eq!(
        [
            &stuck["path"],
            &stuck["state"],
            &stuck["run_id"],
            &stuck["host"],
            &stuck["rows"]
        ],
        [
            &json!("stuck.csv"),
            &json!("claimed"),
            &json!("dead-run"),
            &json!("elsewhere"),
            &json!(5)
        ]
    );
    assert_eq!(attention[0]["path"], "bad.csv");
    assert_eq!(attention[0]["table"], table.as_str());
    assert!(
        attention[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("bad.csv:2:x: cannot convert")
    );
    assert_eq!(s["recent"].as_array().unwrap().len(), 3);

    let limited = run(env
        .command("status")
        .env("INGEST_OUTPUT", "json")
        .args(["--limit", "1"]));
    assert_eq!(json_of(&limited)["recent"].as_array().unwrap().len(), 1);
}

#[test]
fn status_without_a_manifest_is_an_error() {
    let env = Env::new("status_empty");
    let out = run(env.command("status").arg("--json"));
    assert_code(&out, 2);
    let s = json_of(&out);
    assert_eq!(s["exists"], false);
    assert_eq!(s["runs"], json!([]));
    let error = format!(
        "no manifest table {}.ingest_manifest: nothing was ingested with it (check --database \
         and --manifest-table)",
        env.db
    );
    assert_eq!(s["error"], error.as_str());
    let out = run(&mut env.command("status"));
    assert_code(&out, 2);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, format!("ingest: error: {error}\n"));
}

#[test]
fn init_lets_an_account_without_ddl_rights_run() {
    let env = Env::new("init");
    env.q("CREATE TABLE {db}.t (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.write("ok.csv", OK_CSV);
    let no_ddl = |env: &Env| {
        run(env
            .command("run")
            .env("CLICKHOUSE_USER", "no_ddl_user")
            .args(["--table", "t"]))
    };
    let refused = no_ddl(&env);
    assert_code(&refused, 2);
    assert!(
        refused
            .stderr
            .contains(&format!("cannot create {}.ingest_manifest: ", env.db)),
        "{}",
        refused.stderr
    );
    assert!(!env.manifest_exists());

    let out = run(env.command("init").args(["--table", "t"]));
    assert_code(&out, 0);
    let db = &env.db;
    assert_eq!(
        out.stdout,
        format!(
            "created {db}.ingest_manifest\ncreated {db}.ingest_manifest_files\n\
             created {db}.ingest_manifest_rejects\ncreated {db}.ingest_manifest_runs\n\
             altered {db}.t: added provenance columns _ingest_file and _ingest_row\n"
        )
    );
    let out = no_ddl(&env);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 2);
    assert_eq!(
        env.q("SELECT exit_code, files_ingested FROM {db}.ingest_manifest_runs FORMAT TSV"),
        "0\t1\n"
    );

    let again = run(env.command("init").args(["--table", "t"]));
    assert_code(&again, 0);
    assert_eq!(
        again.stdout,
        format!(
            "exists  {db}.ingest_manifest\nexists  {db}.ingest_manifest_files\n\
             exists  {db}.ingest_manifest_rejects\nexists  {db}.ingest_manifest_runs\n\
             ready   {db}.t\n"
        )
    );
    let missing = run(env.command("init").args(["--table", "nope"]));
    assert_code(&missing, 2);
    assert!(
        missing.stdout.ends_with(&format!(
            "missing {db}.nope: create it before the first run\n"
        )),
        "{}",
        missing.stdout
    );
    assert_eq!(
        missing.stderr,
        format!(
            "ingest: error: target table {db}.nope is missing: create it before the first run, \
             or let runs create it with --create-table\n"
        )
    );
    let created_by_runs = run(env
        .command("init")
        .args(["--table", "nope", "--create-table"]));
    assert_code(&created_by_runs, 0);
    assert!(
        created_by_runs.stdout.ends_with(&format!(
            "missing {db}.nope: a run creates it from its files (--create-table)\n"
        )),
        "{}",
        created_by_runs.stdout
    );
}

#[test]
fn logs_have_a_line_per_file_and_no_progress_display_off_a_terminal() {
    let env = Env::new("logs");
    setup(&env);
    let quiet = env.ingest(&["--table", "t"]);
    assert_code(&quiet, 3);
    env.write("new.csv", "x\n7\n");
    let out = run(env
        .command("run")
        .env("RUST_LOG", "info")
        .args(["--table", "t"]));
    assert_code(&out, 0);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let for_file: Vec<&&str> = lines.iter().filter(|l| l.contains("new.csv")).collect();
    assert_eq!(for_file.len(), 1, "{}", out.stderr);
    // The line's level and text, not the module that logs it (`[… INFO  module] text`).
    let (head, text) = for_file[0].split_once("] ").expect("a log line");
    assert!(head.contains(" INFO "), "{}", for_file[0]);
    assert!(
        text.starts_with(&format!(
            "ingested new.csv → {}.t (1 row, 4 bytes, ",
            env.db
        )),
        "{}",
        for_file[0]
    );

    env.write("other.csv", "x\n8\n");
    let plain = env.ingest(&["--table", "t"]);
    assert_code(&plain, 0);
    assert_eq!(
        plain.stderr, "",
        "nothing but warnings on stderr under cron"
    );
}

#[test]
fn a_terminal_gets_a_progress_display_that_clears_before_the_summary() {
    let env = Env::new("progress");
    setup(&env);
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: `script` (util-linux) is not installed, so no terminal can be faked");
        return;
    }
    let command = format!("{BIN} run --table t");
    let out = run(std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("CLICKHOUSE_URL", &env.ch.url)
        .env("CLICKHOUSE_DATABASE", &env.db)
        .env("INGEST_DATA_DIR", env.data())
        .env("INGEST_SETTLE", "1s"));
    assert_code(&out, 3);
    assert!(out.stdout.contains("/2 files"), "{:?}", out.stdout);
    let summary = out.stdout.lines().last().unwrap_or("");
    assert!(
        summary.contains("1 ingested, 1 failed; 2 rows ingested"),
        "{:?}",
        out.stdout
    );
}

#[test]
fn the_progress_display_moves_while_a_large_file_is_read() {
    let env = Env::new("progress_bytes");
    create_reviews(&env, "reviews");
    env.write("big.csv", reviews_csv(0, 150_000));
    let command = format!("{BIN} run --table reviews");
    let out = run(std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("CLICKHOUSE_URL", &env.ch.url)
        .env("CLICKHOUSE_DATABASE", &env.db)
        .env("INGEST_DATA_DIR", env.data())
        .env("INGEST_SETTLE", "0"));
    assert_code(&out, 0);
    // Frames drawn before the file is done: `[====>   ] 5.25 MiB/13.40 MiB 0/1 files (2s left)`.
    let progress: Vec<(&str, &str)> = out
        .stdout
        .split(['\r', '\n'])
        .filter_map(|frame| {
            let after_bar = frame.rsplit("] ").next()?;
            let (bytes, _) = after_bar.split_once(" 0/1 files")?;
            bytes.split_once('/')
        })
        .collect();
    assert!(
        progress
            .iter()
            .any(|(done, total)| *done != "0 B" && done != total),
        "the bar only moved when the file was done: {progress:?}"
    );
    assert_eq!(env.count("reviews"), 150_000);
}

#[test]
fn a_run_turned_away_by_the_lock_leaves_the_record_to_the_holder() {
    let env = Env::new("locked_ops");
    setup(&env);
    let prom = env.dir.path().join("ingest.prom");
    let lock = std::fs::File::create(env.path(".ingest.lock")).unwrap();
    lock.lock().unwrap();
    let out = env.ingest(&[
        "--table",
        "t",
        "--output",
        "json",
        "--metrics-file",
        prom.to_str().unwrap(),
    ]);
    assert_code(&out, 5);
    let s = json_of(&out);
    assert_eq!(s["exit_code"], 5);
    assert!(
        s["error"].as_str().unwrap().contains("holds the lock"),
        "{s}"
    );
    assert!(!prom.exists(), "no metrics from a run that did not run");
    assert!(!env.manifest_exists());
}
