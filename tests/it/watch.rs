//! `ingest watch`: files picked up by events without a rescan, none missed when events are lost,
//! a burst coalesced into few inserts, a server restart and SIGTERM survived with every record
//! once, the config read again on SIGHUP, and `status` showing the watcher.

use crate::server::ClickHouse;
use crate::util::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A watcher running as a child process, its stderr in a file.
pub struct Watching<'a> {
    env: &'a Env<'a>,
    child: Child,
    pub log: PathBuf,
}

impl<'a> Watching<'a> {
    /// Starts `ingest watch` with `args` and waits until it has connected.
    pub fn start(env: &'a Env<'a>, args: &[&str], extra_env: &[(&str, &str)]) -> Watching<'a> {
        let log = env
            .dir
            .path()
            .join(format!("watch-{}.log", fastrand::u32(..)));
        let mut cmd = env.command("watch");
        cmd.args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let w = Watching {
            env,
            child: cmd.spawn().expect("spawn ingest watch"),
            log,
        };
        w.wait_for_log("watching for files");
        w
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (a minute at most) until the watcher has logged `text`.
    #[track_caller]
    pub fn wait_for_log(&self, text: &str) {
        self.wait_for_logged(text, 1);
    }

    /// Waits (a minute at most) until the watcher has logged `text` `times` times.
    #[track_caller]
    pub fn wait_for_logged(&self, text: &str, times: usize) {
        let until = Instant::now() + Duration::from_secs(60);
        while self.log_text().matches(text).count() < times {
            assert!(
                Instant::now() < until,
                "the watcher never logged {text:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, name: &str) {
        let out = run(Command::new("kill").args(["-s", name, &self.pid().to_string()]));
        assert_code(&out, 0);
    }

    /// Stops the watcher with SIGTERM; it must exit 0.
    #[track_caller]
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let status = self.child.wait().expect("wait");
        let log = self.log_text();
        assert_eq!(
            status.code(),
            Some(0),
            "the watcher's exit; its log:\n{log}"
        );
        log
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = self.env;
    }
}

/// Waits (two minutes at most) until `table` holds `rows` rows.
#[track_caller]
pub fn wait_for_rows(env: &Env, table: &str, rows: u64) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let have = env
            .ch
            .try_query(&format!("SELECT count() FROM {}.{table}", env.db))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if have == rows {
            return;
        }
        assert!(
            Instant::now() < until,
            "{table} holds {have} rows, not {rows}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn table(env: &Env) {
    env.q("CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
}

/// `n` rows of `id,name` from `first` on, with a header.
fn rows(first: u32, n: u32) -> String {
    let mut s = String::from("id,name\n");
    for i in first..first + n {
        s.push_str(&format!("{i},name {i}\n"));
    }
    s
}

/// Every id from 0 to `n` once.
#[track_caller]
fn assert_ids_once(env: &Env, table: &str, n: u32) {
    assert_eq!(
        env.q(&format!(
            "SELECT count(), uniqExact(id), min(id), max(id) FROM {{db}}.{table}"
        ))
        .trim(),
        format!("{n}\t{n}\t0\t{}", n - 1)
    );
    assert_eq!(env.duplicate_keys(table), 0);
}

#[test]
fn new_files_are_picked_up_by_events_before_any_rescan_and_status_shows_the_watcher() {
    let env = Env::new("watch_events");
    table(&env);
    let prom = env.dir.path().join("ingest.prom");
    let w = Watching::start(
        &env,
        &[
            "--table",
            "t",
            "--rescan-interval",
            "1h",
            "--settle",
            "10m",
            "--metrics-file",
            prom.to_str().unwrap(),
        ],
        &[],
    );
    // Written and closed after the first scan: only its close event can bring it in before the
    // settle interval (ten minutes) or a rescan (an hour).
    env.write("a.csv", rows(0, 50));
    wait_for_rows(&env, "t", 50);
    // A new folder, then a file in it once its events are watched too.
    std::fs::create_dir(env.path("sub")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    env.write("sub/b.csv", rows(50, 50));
    wait_for_rows(&env, "t", 100);
    let status = env.command("status").output().expect("status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("watcher: running (watching)") && text.contains("by events (inotify)"),
        "{text}"
    );
    let log = w.stop();
    assert!(log.contains("asked to stop"), "{log}");
    assert_ids_once(&env, "t", 100);
    check_metrics(&prom);
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(
        metrics.contains("ingest_watch_heartbeat_timestamp_seconds{folder="),
        "{metrics}"
    );
    let runs = env.q("SELECT sum(files_ingested), sum(rows) FROM {db}.ingest_manifest_runs");
    assert_eq!(runs.trim(), "2\t100");
    let status = env.command("status").output().expect("status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("watcher: not running"), "{text}");
}

#[test]
fn no_file_is_missed_when_events_are_lost() {
    let env = Env::new("watch_lost_events");
    table(&env);
    let w = Watching::start(
        &env,
        &["--table", "t", "--rescan-interval", "2s", "--settle", "0"],
        &[("FAILPOINTS", "watch-drop-events=return")],
    );
    for i in 0..5 {
        env.write(&format!("f{i}.csv"), rows(i * 10, 10));
    }
    wait_for_rows(&env, "t", 50);
    w.stop();
    assert_ids_once(&env, "t", 50);
}

#[test]
fn a_watcher_on_a_folder_without_events_polls_it() {
    let env = Env::new("watch_poll");
    table(&env);
    let w = Watching::start(
        &env,
        &[
            "--table",
            "t",
            "--watcher",
            "poll",
            "--poll-interval",
            "200ms",
        ],
        &[],
    );
    assert!(w.log_text().contains("by polling (--watcher poll)"));
    env.write("p.csv", rows(0, 7));
    wait_for_rows(&env, "t", 7);
    w.stop();
}

#[test]
fn a_burst_of_small_files_makes_few_inserts() {
    let env = Env::new("watch_burst");
    table(&env);
    let w = Watching::start(
        &env,
        &["--table", "t", "--batch-window", "1s", "--settle", "0"],
        &[],
    );
    for i in 0..400 {
        env.write(&format!("burst/{i:04}.csv"), rows(i * 5, 5));
    }
    wait_for_rows(&env, "t", 2000);
    w.stop();
    assert_ids_once(&env, "t", 2000);
    // Parts of level 0 are the inserts (merges make higher levels; old parts stay listed).
    let inserts: u64 = env
        .q("SELECT count() FROM system.parts WHERE database = '{db}' AND table = 't' AND level = 0")
        .trim()
        .parse()
        .unwrap();
    assert!(inserts <= 10, "400 files made {inserts} inserts");
}

#[test]
fn a_server_restart_and_sigterm_leave_every_record_once() {
    let ch = ClickHouse::start();
    let env = Env::on(&ch, "watch_restart");
    table(&env);
    let args = [
        "--table",
        "t",
        "--settle",
        "0",
        "--batch-rows",
        "300",
        "--insert-rows",
        "600",
        "--retries",
        "2",
    ];
    let w = Watching::start(&env, &args, &[]);
    let mut next = 0;
    for round in 0..6u32 {
        let n = if round % 2 == 0 { 1500 } else { 40 };
        env.write(&format!("r{round}.csv"), rows(next, n));
        next += n;
        std::thread::sleep(Duration::from_millis(150));
        if round == 2 {
            ch.restart();
        }
        if round == 3 {
            ch.stop();
            std::thread::sleep(Duration::from_secs(3));
            ch.restart();
        }
    }
    wait_for_rows(&env, "t", u64::from(next));
    // Stopped while a large file is on its way; the next watcher finishes it.
    env.write("last.csv", rows(next, 3000));
    next += 3000;
    std::thread::sleep(Duration::from_millis(300));
    w.stop();
    let again = Watching::start(&env, &args, &[]);
    wait_for_rows(&env, "t", u64::from(next));
    again.stop();
    assert_ids_once(&env, "t", next);
}

#[test]
fn sighup_reads_the_config_file_again() {
    let env = Env::new("watch_sighup");
    env.q("CREATE TABLE {db}.t1 (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
    env.q("CREATE TABLE {db}.t2 (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
    let config = env.dir.path().join("ingest.toml");
    std::fs::write(&config, "table = 't1'\nsettle = '0s'\n").unwrap();
    let w = Watching::start(&env, &["--config", config.to_str().unwrap()], &[]);
    env.write("a.csv", rows(0, 3));
    wait_for_rows(&env, "t1", 3);
    // Files named b… go to t2 from now on; a.csv stays where it went.
    std::fs::write(
        &config,
        "table = 't1'\nsettle = '0s'\n[[route]]\nglob = 'b*'\ntable = 't2'\n",
    )
    .unwrap();
    w.signal("HUP");
    w.wait_for_log("read the config again");
    w.wait_for_logged("watching for files", 2);
    env.write("b.csv", rows(3, 4));
    wait_for_rows(&env, "t2", 4);
    w.stop();
    assert_eq!(env.count("t1"), 3);
}

#[test]
fn a_watcher_refuses_a_cluster_lock_it_would_not_hold() {
    let env = Env::new("watch_coordination");
    let out = run(env.command("watch").args([
        "--table",
        "t",
        "--coordination",
        "zk://127.0.0.1:9/ingest",
    ]));
    assert_code(&out, 2);
    assert!(
        out.stderr.contains(
            "--coordination is for `ingest run`: a watcher holds the folder's lock file, so run \
             one watcher per folder"
        ),
        "{}",
        out.stderr
    );
}
