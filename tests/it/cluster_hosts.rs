//! Several `ingest` hosts on one folder, coordinated through ZooKeeper (`--coordination`): a run
//! never overlaps another (the second exits 5, as with the lock file), `--shard K/N` splits the
//! folder so that hosts together land every file once, a run killed while holding the lock is
//! resumed by another host's run, and failover between replicas: all on the real cluster of
//! `cluster_harness.rs` (ClickHouse 18.16; the 26.9 server cannot replicate).

use crate::cluster::CEnv;
use crate::cluster_harness::{cluster, runs_here};
use crate::util::{assert_code, reviews_csv};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn spawn(env: &CEnv, nodes: &[usize], args: &[&str]) -> Child {
    env.command(nodes)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ingest")
}

/// Runs until a run is not turned away by the lock (exit 5), for at most a minute.
fn run_when_free(env: &CEnv, nodes: &[usize], args: &[&str]) -> crate::util::Output {
    let started = Instant::now();
    loop {
        let out = env.ingest(nodes, args);
        if out.code != 5 || started.elapsed() > Duration::from_secs(60) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits for a rendezvous file the run makes (see `failpoints::rendezvous`).
fn wait_for(path: &std::path::Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} never came",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_run_on_the_folder_is_turned_away_and_a_killed_holder_is_resumed_by_another_host() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "zklock");
    env.reviews_with_provenance("local", "dist");
    env.reference();
    env.files("f", 0, 3, 3000);
    let coordination = env.coordination();
    let hooks = tempfile::tempdir().unwrap();
    // Host A claims the files and stops right after its first insert: killed there, it holds
    // the cluster lock until its ZooKeeper session expires.
    let args = [
        "--table",
        "dist",
        "--batch-rows",
        "500",
        "--insert-rows",
        "500",
        "--coordination",
        &coordination,
    ];
    let mut a = env
        .command(&[0, 1])
        .args(args)
        .env(
            "FAILPOINTS",
            format!("after-scan=return({})", hooks.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&hooks.path().join("after-scan.reached"));
    // While A holds the lock, host B (through other replicas of the shard) is turned away.
    let b = env.ingest(&[1, 0], &args);
    assert_code(&b, 5);
    assert!(
        b.stderr.contains("another ingest run holds the lock zk://"),
        "{}",
        b.stderr
    );
    // A goes on, and dies mid-file.
    std::fs::write(hooks.path().join("after-scan.go"), "").unwrap();
    let started = Instant::now();
    while env.n(0, "SELECT count() FROM {db}.dist") == 0
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().unwrap();
    a.wait().unwrap();
    let sent_by_a = env.n(0, "SELECT count() FROM {db}.dist");
    assert!(
        sent_by_a > 0 && sent_by_a < 9000,
        "A died mid-run: {sent_by_a}"
    );
    // B waits out A's session, then resumes A's files through the other replica.
    let b = run_when_free(&env, &[1, 0], &args);
    assert_code(&b, 0);
    cl.sync(&format!("{}.local", env.db));
    env.assert_exactly_once(0, "dist");
    let claims = env.n(
        1,
        "SELECT uniqExact(run_id) FROM {db}.ingest_manifest WHERE event = 'claimed'",
    );
    assert_eq!(claims, 2, "A claimed the files, B resumed them");
}

#[test]
fn two_shards_of_hosts_split_the_folder_and_land_every_file_once() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "shards");
    env.reviews_with_provenance("local", "dist");
    env.reference();
    env.files("s", 0, 12, 400);
    let coordination = env.coordination();
    let base = [
        "--table",
        "dist",
        "--coordination",
        &coordination,
        "--shard",
    ];
    let args = |k: &'static str| {
        let mut v = base.to_vec();
        v.push(k);
        v
    };
    // Two hosts at once, each through the replicas of its own ClickHouse shard.
    let mut a = spawn(&env, &[0, 1], &args("0/2"));
    let mut b = spawn(&env, &[2, 3], &args("1/2"));
    assert_eq!(a.wait().unwrap().code(), Some(0));
    assert_eq!(b.wait().unwrap().code(), Some(0));
    cl.sync(&format!("{}.local", env.db));
    env.assert_exactly_once(3, "dist");
    let by_host = env.q(
        0,
        "SELECT uniqExact(run_id), count() FROM {db}.ingest_manifest WHERE event = 'done'",
    );
    assert_eq!(by_host, "2\t12\n", "each file done once, by two runs");
    // Both shards took some: neither host did it all.
    assert!(env.n(0, "SELECT count() FROM {db}.local") > 0);
    assert!(env.n(2, "SELECT count() FROM {db}.local") > 0);
    // The same shard twice at once: the second is turned away.
    env.files("t", 4800, 2, 400);
    let hooks = tempfile::tempdir().unwrap();
    let mut first = env
        .command(&[0])
        .args(args("0/2"))
        .env(
            "FAILPOINTS",
            format!("after-scan=return({})", hooks.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&hooks.path().join("after-scan.reached"));
    assert_code(&env.ingest(&[1], &args("0/2")), 5);
    let whole = env.ingest(&[1], &["--table", "dist", "--coordination", &coordination]);
    assert_code(&whole, 5);
    std::fs::write(hooks.path().join("after-scan.go"), "").unwrap();
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_code(&env.ingest(&[2], &args("1/2")), 0);
    cl.sync(&format!("{}.local", env.db));
    env.assert_exactly_once(1, "dist");
}

#[test]
fn runs_fail_over_to_another_replica_and_lose_nothing_when_one_stops_mid_run() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "failover");
    env.reviews("rep", "");
    env.reference();
    env.files("a", 0, 2, 500);
    // The tool's DDL ON CLUSTER waits for every server: the first run has them all.
    assert_code(&env.ingest(&[0, 1], &["--table", "rep"]), 0);
    env.files("b", 1000, 2, 500);
    // The first URL's server is down: the run goes to the next replica.
    cl.stop_node(0);
    let out = env.ingest(&[0, 1], &["--table", "rep"]);
    assert_code(&out, 0);
    assert!(out.stderr.contains("going on with"), "{}", out.stderr);
    cl.start_node(0);
    // A replica stopped in the middle of a run: what it took, the run (or the next) finds.
    env.files("c", 2000, 4, 4000);
    let hooks = tempfile::tempdir().unwrap();
    let mut child = env
        .command(&[0, 1])
        .args([
            "--table",
            "rep",
            "--batch-rows",
            "1000",
            "--insert-rows",
            "1000",
        ])
        .env(
            "FAILPOINTS",
            format!("after-scan=return({})", hooks.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&hooks.path().join("after-scan.reached"));
    std::fs::write(hooks.path().join("after-scan.go"), "").unwrap();
    let started = Instant::now();
    while env.n(0, "SELECT count() FROM {db}.rep") <= 3000
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    cl.stop_node(0);
    let code = child.wait().unwrap().code();
    assert!(matches!(code, Some(0 | 4)), "{code:?}");
    cl.start_node(0);
    let last = env.ingest(
        &[1, 0],
        &[
            "--table",
            "rep",
            "--batch-rows",
            "1000",
            "--insert-rows",
            "1000",
        ],
    );
    assert_code(&last, 0);
    cl.sync(&format!("{}.rep", env.db));
    env.assert_exactly_once(0, "rep");
    env.assert_exactly_once(1, "rep");
}

#[test]
fn zookeeper_stopped_and_restarted_mid_run_loses_nothing_and_doubles_nothing() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "zkdown");
    env.reviews_with_provenance("local", "dist");
    env.reference();
    env.files("z", 0, 4, 4000);
    let coordination = env.coordination();
    let args = [
        "--table",
        "dist",
        "--batch-rows",
        "1000",
        "--insert-rows",
        "1000",
        "--coordination",
        &coordination,
    ];
    let hooks = tempfile::tempdir().unwrap();
    let mut child = env
        .command(&[0, 1])
        .args(args)
        .env(
            "FAILPOINTS",
            format!("after-scan=return({})", hooks.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&hooks.path().join("after-scan.reached"));
    std::fs::write(hooks.path().join("after-scan.go"), "").unwrap();
    let started = Instant::now();
    while env.n(0, "SELECT count() FROM {db}.local") == 0
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    cl.stop_zk();
    let code = child.wait().unwrap().code();
    assert!(matches!(code, Some(0 | 4)), "{code:?}");
    cl.start_zk();
    let last = run_when_free(&env, &[0, 1], &args);
    let last = match last.code {
        // Replicated tables stay read-only for a moment after ZooKeeper returns.
        4 => {
            std::thread::sleep(Duration::from_secs(5));
            run_when_free(&env, &[0, 1], &args)
        }
        _ => last,
    };
    assert_code(&last, 0);
    cl.sync(&format!("{}.local", env.db));
    env.assert_exactly_once(0, "dist");
    env.assert_exactly_once(1, "local");
}

#[test]
fn chaos_kills_on_two_hosts_and_a_replica_restart_leave_every_record_exactly_once() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "chaos");
    env.reviews_with_provenance("local", "dist");
    env.reference();
    let seed = std::env::var("INGEST_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261130u64);
    println!("cluster chaos: seed {seed} (INGEST_CHAOS_SEED)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let hosts: [(&[usize], &str); 2] = [(&[0, 1], "0/2"), (&[2, 3], "1/2")];
    let args = |shard: &str| env.shard_args(shard);
    let mut next = 0u64;
    for round in 0..6 {
        for f in 0..rng.u64(2..5) {
            let rows = if rng.u8(..3) == 0 {
                rng.u64(1500..4000)
            } else {
                rng.u64(20..400)
            };
            let csv = reviews_csv(next, rows);
            next += rows;
            env.write(&format!("r{round}/f{f}.csv"), &csv);
            env.add_reference(&csv);
        }
        let mut children: Vec<Child> = hosts
            .iter()
            .map(|(nodes, shard)| {
                let a = args(shard);
                let a: Vec<&str> = a.iter().map(String::as_str).collect();
                spawn(&env, nodes, &a)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.u64(100..900)));
        if round % 3 == 2 {
            // A replica restarts under the runs.
            let node = if rng.bool() { 1 } else { 3 };
            cl.stop_node(node);
            cl.start_node(node);
        } else {
            for child in &mut children {
                if rng.bool() {
                    let _ = child.kill();
                }
            }
        }
        for mut child in children {
            let code = child.wait().unwrap().code();
            assert!(
                matches!(code, None | Some(0 | 4 | 5)),
                "round {round}: {code:?}"
            );
        }
    }
    for (nodes, shard) in hosts {
        let a = args(shard);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = run_when_free(&env, nodes, &a);
        assert_code(&out, 0);
    }
    cl.sync(&format!("{}.local", env.db));
    for i in 0..4 {
        env.assert_exactly_once(i, "dist");
    }
    assert_eq!(env.n(2, "SELECT count() FROM {db}.dist"), next);
}
