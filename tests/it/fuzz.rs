//! Mutated files of every format and compression, fed through runs: no panic, no abort, memory
//! bounded, and every file ends ingested (or a duplicate) or failed with a reason — as the JSON
//! summary, the table and the manifest all say. Seeded and reproducible (`INGEST_FUZZ_SEED`,
//! `INGEST_FUZZ_FILES`).

use crate::data;
use crate::util::*;
use std::time::{Duration, Instant};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes that make readers change state: brackets, quotes, separators, markup, line ends.
const STRUCTURE: &[u8] = b"[]{}\",:<>/&;\n\r\\'=\x00\xff";

/// A light, seeded mutation that often leaves the file valid: a line repeated elsewhere.
fn repeat_line(rng: &mut fastrand::Rng, input: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
    if lines.len() < 3 {
        return input.to_vec();
    }
    let line = lines[rng.usize(1..lines.len() - 1)];
    let at = rng.usize(1..lines.len() - 1);
    let mut out = Vec::with_capacity(input.len() + line.len());
    for (i, l) in lines.iter().enumerate() {
        if i == at {
            out.extend_from_slice(line);
        }
        out.extend_from_slice(l);
    }
    out
}

/// One seeded mutation of `input`: now and then a light one, mostly damage.
fn mutate(rng: &mut fastrand::Rng, input: &[u8]) -> Vec<u8> {
    if rng.u8(..4) == 0 {
        return repeat_line(rng, input);
    }
    let mut out = input.to_vec();
    for _ in 0..rng.usize(1..4) {
        let len = out.len().max(1);
        let at = rng.usize(..len);
        match rng.u8(..8) {
            0 => {
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << rng.u8(..8);
                }
            }
            1 => {
                if let Some(b) = out.get_mut(at) {
                    *b = STRUCTURE[rng.usize(..STRUCTURE.len())];
                }
            }
            2 => {
                let n = rng.usize(1..16);
                for _ in 0..n {
                    out.insert(at.min(out.len()), STRUCTURE[rng.usize(..STRUCTURE.len())]);
                }
            }
            3 => {
                let end = (at + rng.usize(1..64)).min(out.len());
                out.drain(at.min(end)..end);
            }
            4 => out.truncate(at),
            5 => {
                let end = (at + rng.usize(1..256)).min(out.len());
                let piece = out[at.min(end)..end].to_vec();
                let to = rng.usize(..out.len().max(1));
                out.splice(to..to, piece);
            }
            6 => {
                // Nesting far past the limit, or a long run of one byte.
                let b = [b'[', b'{', b'<', b'"', b'a'][rng.usize(..5)];
                let n = rng.usize(100..5000);
                out.splice(
                    at.min(out.len())..at.min(out.len()),
                    std::iter::repeat_n(b, n),
                );
            }
            _ => {
                let n = rng.usize(1..32);
                let junk: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
                out.splice(at.min(out.len())..at.min(out.len()), junk);
            }
        }
    }
    out
}

/// The process's peak resident memory so far, in KiB, while it runs.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `ingest run` and watches its peak memory. Its output goes to files, so that a long one
/// never blocks it.
fn run_watched(env: &Env, args: &[&str]) -> (Output, u64) {
    let (out_path, err_path) = (env.dir.path().join("stdout"), env.dir.path().join("stderr"));
    let mut child = env
        .command("run")
        .args(args)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn ingest");
    let (pid, mut peak) = (child.id(), 0);
    let until = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        peak = peak.max(peak_kib(pid).unwrap_or(0));
        if Instant::now() > until {
            let _ = child.kill();
            panic!(
                "ingest hung: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read =
        |p: &std::path::Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    let output = Output {
        code: status.code().unwrap_or(-1),
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    (output, peak)
}

/// Peak memory a run over small files may take.
const PEAK_KIB: u64 = 100 * 1024;

#[test]
fn mutated_files_of_every_format_fail_alone_and_never_crash() {
    let seed = setting("INGEST_FUZZ_SEED", 20261130);
    let count = setting("INGEST_FUZZ_FILES", 300) as usize;
    println!("fuzz: {count} files, seed {seed} (INGEST_FUZZ_SEED, INGEST_FUZZ_FILES)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let env = Env::new("fuzz");
    env.q(&format!("CREATE TABLE {{db}}.t {}", data::DDL));
    let recs = data::records(40);
    let plain: Vec<(&str, Vec<u8>)> = vec![
        ("csv", data::csv(&recs).into_bytes()),
        ("json", data::json(&recs).into_bytes()),
        ("jsonl", data::jsonl(&recs).into_bytes()),
        ("xml", data::xml(&recs).into_bytes()),
        ("parquet", data::parquet(&recs)),
    ];
    for i in 0..count {
        let (format, bytes) = &plain[i % plain.len()];
        let (suffix, content) = match (i / plain.len()) % 3 {
            0 => ("", mutate(&mut rng, bytes)),
            // A valid stream of mutated content, or a mutated stream.
            1 if rng.bool() => (".gz", data::gzip(&mutate(&mut rng, bytes))),
            1 => (".gz", mutate(&mut rng, &data::gzip(bytes))),
            _ if rng.bool() => (".zst", data::zstd(&mutate(&mut rng, bytes))),
            _ => (".zst", mutate(&mut rng, &data::zstd(bytes))),
        };
        env.write(&format!("f{i:04}.{format}{suffix}"), content);
    }
    let args = ["--table", "t", "--output", "json", "--batch-rows", "16"];
    let (dry, dry_peak) = run_watched(&env, &[&args[..], &["--dry-run"]].concat());
    let (out, peak) = run_watched(&env, &args);
    for (what, o, peak) in [("dry run", &dry, dry_peak), ("run", &out, peak)] {
        assert!(
            matches!(o.code, 0 | 3),
            "{what} exit {}:\n{}",
            o.code,
            o.stderr
        );
        assert!(!o.stderr.contains("panicked"), "{what}:\n{}", o.stderr);
        assert!(peak < PEAK_KIB, "{what} peaked at {peak} KiB");
        println!("{what}: peak {} MiB", peak / 1024);
    }
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let outcomes = summary["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), count, "every file is accounted for");
    let (mut ingested, mut failed, mut rows) = (0u64, 0u64, 0u64);
    for o in outcomes {
        let (status, detail) = (o["status"].as_str().unwrap(), o["detail"].as_str().unwrap());
        match status {
            "ingested" => {
                ingested += 1;
                rows += o["rows"].as_u64().unwrap();
            }
            "duplicate" => {}
            "failed" => {
                failed += 1;
                assert!(!detail.is_empty(), "a failure without a reason: {o}");
                assert!(!detail.contains("panic"), "{o}");
            }
            other => panic!("file ended {other}: {o}"),
        }
    }
    println!("fuzz: {ingested} ingested, {failed} failed, {rows} rows");
    assert!(
        ingested > 0 && failed > 0,
        "the mutations exercise both ends"
    );
    assert_eq!(env.count("t"), rows);
    assert_eq!(env.duplicate_keys("t"), 0);
    assert_eq!(env.event_count("done"), ingested);
    let reasons = env.q(
        "SELECT count() FROM {db}.ingest_manifest WHERE event = 'failed' AND error != '' \
         AND error_kind = 'data'",
    );
    assert_eq!(reasons.trim(), failed.to_string());
    // A second run has nothing to do and changes nothing.
    let (again, _) = run_watched(&env, &args);
    assert_code(&again, 0);
    assert_eq!(env.count("t"), rows);
}
