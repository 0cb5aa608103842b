//! The machine and software a benchmark ran on, printed above its numbers: without them the
//! numbers cannot be compared with anyone else's.

use std::path::Path;
use std::process::Command;

pub fn describe(ingest: &Path) -> Vec<(&'static str, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib as f64 / 1048576.0),
        );
    vec![
        ("CPU", format!("{cpu}, {cores} cores available")),
        ("memory", memory),
        ("kernel", read_trimmed("/proc/sys/kernel/osrelease")),
        ("load average at start", load_average()),
        (
            "clickhouse-client",
            output("clickhouse-client", &["--version"]),
        ),
        ("ingest", output(&ingest.to_string_lossy(), &["--version"])),
        ("ingest commit", commit()),
        (
            "date",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
    ]
}

/// The 1, 5 and 15 minute load averages: other work on the machine shows here.
pub fn load_average() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The commit of this checkout, marked `-dirty` when tracked files have uncommitted changes.
fn commit() -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    let head = output("git", &["-C", repo, "rev-parse", "--short=12", "HEAD"]);
    if head == "unknown" {
        return head;
    }
    let dirty = !output(
        "git",
        &["-C", repo, "status", "--porcelain", "--untracked-files=no"],
    )
    .is_empty();
    if dirty { format!("{head}-dirty") } else { head }
}
