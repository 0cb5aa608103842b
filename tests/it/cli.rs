//! The command line as cron sees it: documented exit codes and one-line errors, never a panic,
//! a backtrace or a password.

use crate::util::*;
use std::net::TcpListener;

#[track_caller]
fn assert_one_line_error(out: &Output, contains: &str) {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr:\n{}",
        out.stderr
    );
    assert!(lines[0].starts_with("ingest: error: "), "{}", out.stderr);
    assert!(
        lines[0].contains(contains),
        "{} does not mention {contains}",
        out.stderr
    );
    assert!(!out.all().contains("panicked"), "{}", out.all());
    assert!(!out.all().contains("RUST_BACKTRACE"), "{}", out.all());
}

#[test]
fn an_unreachable_server_exits_4_with_one_line() {
    let env = Env::new("unreachable");
    env.write("a.csv", "x\n1\n");
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(env
        .command("run")
        .env("CLICKHOUSE_URL", format!("http://127.0.0.1:{port}"))
        .env("INGEST_RETRIES", "1")
        .args(["--table", "t"]));
    assert_code(&out, 4);
    assert_one_line_error(&out, "ClickHouse is unreachable at http://127.0.0.1:");
}

#[test]
fn bad_configuration_exits_2_with_one_line() {
    let env = Env::new("bad_config");
    env.write("a.csv", "x\n1\n");
    let config = env.dir.path().join("bad.toml");
    std::fs::write(&config, "tabel = 'x'\n").unwrap();
    let out = env.ingest(&["--config", config.to_str().unwrap()]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "unknown field `tabel`");

    let out = env.ingest(&[]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "no target table");

    let out = env.ingest(&["--table", "bad-name;DROP"]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "is not a valid database or table name");

    let out = env.ingest(&["--table", "missing"]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "does not exist");

    let out = env.ingest(&["--table", "t", "--batch-rows", "0"]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "--batch-rows");

    let out = run(env
        .command("run")
        .env("INGEST_DATA_DIR", "/nonexistent/dir")
        .args(["--table", "t"]));
    assert_code(&out, 2);
    assert_one_line_error(&out, "data folder /nonexistent/dir");

    let out = env.ingest(&["--table", "t", "--url", "http://db.example.com:8123"]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "plain HTTP");

    let out = env.ingest(&["--tabel", "t"]);
    assert_code(&out, 2);
}

#[test]
fn wrong_credentials_are_a_config_error_and_the_password_is_never_shown() {
    let env = Env::new("credentials");
    env.write("a.csv", "x\n1\n");
    let out = run(env
        .command("run")
        .env("CLICKHOUSE_USER", "secret_user")
        .env("CLICKHOUSE_PASSWORD", "wrong-Pa55word")
        .env("RUST_LOG", "debug")
        .args(["--table", "t"]));
    assert_code(&out, 2);
    assert!(out.stderr.contains("refused the login"), "{}", out.stderr);
    assert!(
        !out.all().contains("wrong-Pa55word"),
        "password leaked:\n{}",
        out.all()
    );

    let out = run(env.command("run").args([
        "--table",
        "t",
        "--password",
        "another-Secret",
        "--url",
        "http://user:pw@localhost:1",
    ]));
    assert_code(&out, 2);
    assert!(
        !out.all().contains("another-Secret") && !out.all().contains(":pw@"),
        "{}",
        out.all()
    );
}

#[test]
fn a_second_run_on_a_locked_folder_exits_5() {
    let env = Env::new("locked");
    env.q("CREATE TABLE {db}.t (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.write("a.csv", "x\n1\n");
    let lock = std::fs::File::create(env.path(".ingest.lock")).unwrap();
    lock.lock().unwrap();
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 5);
    assert_one_line_error(&out, "holds the lock");
    assert_eq!(env.count("t"), 0);
    drop(lock);
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.count("t"), 1);
}

#[test]
fn help_lists_the_exit_codes() {
    let out = run(std::process::Command::new(BIN).args(["run", "--help"]));
    assert_code(&out, 0);
    for line in [
        "0  success",
        "3  some files failed",
        "4  ClickHouse unreachable",
        "5  another run holds",
    ] {
        assert!(
            out.stdout.contains(line),
            "{line} missing from:\n{}",
            out.stdout
        );
    }
}

/// Every long flag of a command's `--help`, with its environment variable if it has one.
fn help_flags(command: &str) -> Vec<(String, Option<String>)> {
    let out = run(std::process::Command::new(BIN)
        .args([command, "--help"])
        .env("COLUMNS", "1000"));
    assert_code(&out, 0);
    // Each flag's block: its line, then (in the long layout) its help with `[env: …]` below.
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    for line in out.stdout.lines().map(str::trim_start) {
        if line.starts_with("--") || line.starts_with('-') && line.contains(", --") {
            let flag = line
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
                .unwrap_or_default()
                .to_owned();
            flags.push((flag, None));
        }
        if let (Some((_, rest)), Some(last)) = (line.split_once("[env: "), flags.last_mut()) {
            last.1 = Some(rest.split(['=', ']']).next().unwrap_or("").to_owned());
        }
    }
    flags.retain(|(flag, _)| flag != "--help" && flag != "--version");
    flags
}

#[test]
fn the_readme_settings_table_is_in_step_with_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("\n| flag | environment | default | |\n")
        .nth(1)
        .expect("the settings table");
    let mut documented = std::collections::BTreeMap::new();
    for row in table.lines().skip(1).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let flag = cells[1].split('`').nth(1).unwrap().to_owned();
        let env = cells[2].split('`').nth(1).map(String::from);
        documented.insert(flag, env);
    }
    let mut seen = std::collections::BTreeSet::new();
    for command in [
        "run", "watch", "status", "retry", "forget", "init", "verify",
    ] {
        for (flag, env) in help_flags(command) {
            assert_eq!(
                documented.get(&flag),
                Some(&env),
                "`ingest {command} --help` has {flag} (environment {env:?}); the README's settings \
                 table says {:?}",
                documented.get(&flag)
            );
            seen.insert(flag);
        }
    }
    let stale: Vec<&String> = documented.keys().filter(|f| !seen.contains(*f)).collect();
    assert!(
        stale.is_empty(),
        "the README documents flags no command has: {stale:?}"
    );
}

#[test]
fn cluster_settings_are_checked_before_anything_runs() {
    let env = Env::new("cluster_flags");
    for (args, error) in [
        (
            vec!["--shard", "0/2"],
            "ingest: error: --shard needs --coordination: a shard's lock is a cluster lock\n",
        ),
        (
            vec!["--coordination", "zk://127.0.0.1:1/x", "--shard", "2/2"],
            "ingest: error: --shard: `2/2` is not K/N with 0 <= K < N, e.g. 0/2\n",
        ),
        (
            vec!["--coordination", "127.0.0.1:2181"],
            "ingest: error: --coordination: expected zk://host:port[,host:port…]/path\n",
        ),
        (
            vec!["--cluster", "c;DROP"],
            "ingest: error: --cluster: `c;DROP` is not a valid database or table name (letters, \
             digits and `_`, not starting with a digit)\n",
        ),
    ] {
        let out = env.ingest(&[&["--table", "t"], &args[..]].concat());
        assert_code(&out, 2);
        assert_eq!(out.stderr, error, "{args:?}");
    }
    // ZooKeeper that does not answer is "unreachable", with nothing done.
    let out = env.ingest(&["--table", "t", "--coordination", "zk://127.0.0.1:1/ingest"]);
    assert_code(&out, 4);
    assert!(
        out.stderr
            .contains("ingest: error: ZooKeeper at zk://127.0.0.1:1/ingest: cannot connect"),
        "{}",
        out.stderr
    );
    assert!(!env.manifest_exists());
}
