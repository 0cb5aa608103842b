//! Chaos: runs SIGKILLed at random moments, the server restarted in the middle of runs, and runs
//! started two at a time, while files keep arriving; then every record must be in the table
//! exactly once. `scripts/soak.sh` runs the same test for many more rounds.

use crate::server::ClickHouse;
use crate::util::*;
use std::process::Child;
use std::time::Duration;

/// Starts a run whose summary and log go to a file of the test's, to be shown when it surprises.
fn spawn(env: &Env, args: &[&str]) -> (Child, std::path::PathBuf) {
    let log = env
        .dir
        .path()
        .join(format!("run-{}.log", fastrand::u32(..)));
    let file = std::fs::File::create(&log).expect("create the run's log");
    let child = env
        .command("run")
        .args(args)
        .stdout(file.try_clone().expect("clone the log file"))
        .stderr(file)
        .spawn()
        .expect("spawn ingest");
    (child, log)
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn kills_restarts_and_overlaps_leave_every_record_exactly_once() {
    let rounds = setting("INGEST_CHAOS_ROUNDS", 12);
    let seed = setting("INGEST_CHAOS_SEED", 20261124);
    println!("chaos: {rounds} rounds, seed {seed} (INGEST_CHAOS_ROUNDS, INGEST_CHAOS_SEED)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let ch = ClickHouse::start();
    let env = Env::on(&ch, "chaos");
    create_reviews(&env, "reviews");
    env.q(&format!("CREATE TABLE {{db}}.reference {REVIEWS_DDL}"));
    let args = [
        "--table",
        "reviews",
        "--batch-rows",
        "400",
        "--retries",
        "8",
    ];

    let mut next_row = 0u64;
    let mut files = 0;
    for round in 0..rounds {
        // New files arrive: a few small ones and sometimes a large one.
        for _ in 0..rng.usize(1..4) {
            let rows = if rng.u8(..4) == 0 {
                rng.u64(1200..3000)
            } else {
                rng.u64(20..300)
            };
            let content = reviews_csv(next_row, rows);
            next_row += rows;
            env.write(&format!("r{round:03}/f{files:04}.csv"), &content);
            env.load_reference(
                "reference",
                &content
                    .replace(",true\n", ",1\n")
                    .replace(",false\n", ",0\n"),
            );
            files += 1;
        }
        match round % 4 {
            0 | 1 => {
                let (mut child, _) = spawn(&env, &args);
                std::thread::sleep(Duration::from_millis(rng.u64(0..700)));
                let _ = child.kill();
                let _ = child.wait();
            }
            2 => {
                let (mut child, log) = spawn(&env, &args);
                std::thread::sleep(Duration::from_millis(rng.u64(50..500)));
                ch.restart();
                let status = child.wait().expect("wait");
                assert!(
                    matches!(status.code(), Some(0 | 4)),
                    "a run through a server restart ends in success or unreachable: {status}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            _ => {
                let (mut a, _) = spawn(&env, &args);
                let (mut b, _) = spawn(&env, &args);
                let codes = [a.wait().expect("wait"), b.wait().expect("wait")]
                    .map(|s| s.code().unwrap_or(-1));
                assert!(
                    codes.iter().all(|c| matches!(c, 0 | 5)),
                    "overlapping runs: {codes:?}"
                );
            }
        }
    }
    let last = env.ingest(&args);
    assert_code(&last, 0);
    assert_eq!(
        env.fingerprint("reviews", REVIEW_COLUMNS),
        env.fingerprint("reference", REVIEW_COLUMNS)
    );
    assert_eq!(env.duplicate_keys("reviews"), 0);
    assert_eq!(env.count("reviews"), next_row);
    let again = env.ingest(&args);
    assert_code(&again, 0);
    assert_eq!(env.count("reviews"), next_row);
}
