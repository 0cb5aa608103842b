//! The latency benchmark of `ingest watch` (`scripts/bench.sh --latency`): files written at a
//! steady rate (`--files-per-second` files of `--rows` rows) and one JSON Lines file appended
//! (`--lines` lines every `--append-every`) into a watched folder, against a running ClickHouse
//! (`--url`). It reports the median and p99 seconds from a file's close (or a chunk of lines'
//! append) until its rows are visible, the watcher's CPU while idle, and the parts per minute it
//! made. Visibility is polled every 50 ms, which the figures include.

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
struct Args {
    /// ClickHouse HTTP URL.
    #[arg(long, default_value = "http://127.0.0.1:8123")]
    url: String,
    /// The `ingest` binary.
    #[arg(long, default_value = "target/release/ingest")]
    ingest: PathBuf,
    /// Seconds of writing.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    #[arg(long, default_value_t = 20)]
    files_per_second: u64,
    /// Rows per file.
    #[arg(long, default_value_t = 100)]
    rows: u64,
    /// Lines per append to the JSON Lines file.
    #[arg(long, default_value_t = 100)]
    lines: u64,
    /// Milliseconds between appends.
    #[arg(long, default_value_t = 100)]
    append_every: u64,
    /// The watcher's --settle.
    #[arg(long, default_value = "3s")]
    settle: String,
    /// Seconds the idle watcher's CPU is measured.
    #[arg(long, default_value_t = 30)]
    idle_seconds: u64,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

struct Ch {
    url: String,
}

impl Ch {
    fn q(&self, sql: &str) -> Result<String> {
        let mut r = ureq::post(&self.url)
            .send(sql)
            .with_context(|| format!("query {sql}"))?;
        Ok(r.body_mut().read_to_string()?)
    }
}

/// When each unit (a file, a chunk of lines) was written, by its `src` value.
type Written = Arc<Mutex<HashMap<String, f64>>>;

/// Notes when a unit was written.
fn record(written: &Written, src: String) {
    if let Ok(mut w) = written.lock() {
        w.insert(src, now());
    }
}

fn write_files(dir: &Path, a: &Args, written: &Written) -> Result<()> {
    let every = Duration::from_secs_f64(1.0 / a.files_per_second as f64);
    let start = Instant::now();
    for n in 0..a.seconds * a.files_per_second {
        let src = format!("f{n}");
        let mut text = String::from("src,id,v\n");
        for i in 0..a.rows {
            text.push_str(&format!("{src},{i},{}\n", i * 7));
        }
        let path = dir.join(format!("files/{n:06}.csv"));
        std::fs::write(&path, text)?;
        record(written, src);
        let next = start + every * (n as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

fn append_lines(dir: &Path, a: &Args, written: &Written) -> Result<()> {
    let path = dir.join("stream/events.jsonl");
    let every = Duration::from_millis(a.append_every);
    let chunks = a.seconds * 1000 / a.append_every;
    let start = Instant::now();
    for k in 0..chunks {
        let src = format!("j{k}");
        let mut text = String::new();
        for i in 0..a.lines {
            text.push_str(&format!("{{\"src\":\"{src}\",\"id\":{i},\"v\":{k}}}\n"));
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(text.as_bytes())?;
        drop(f);
        record(written, src);
        let next = start + every * (k as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn start_watcher(a: &Args, dir: &Path, db: &str) -> Result<Child> {
    let config = dir.join("ingest.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = 'data'\ntable = 't'\ndatabase = '{db}'\nsettle = '{}'\n\
             [[route]]\nglob = 'stream/*.jsonl'\ntable = 't'\non_change = 'append'\n",
            a.settle
        ),
    )?;
    Ok(Command::new(&a.ingest)
        .args(["watch", "--config"])
        .arg(&config)
        .env("CLICKHOUSE_URL", &a.url)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("watch.log"))?)
        .spawn()?)
}

fn main() -> Result<()> {
    let a = Args::parse();
    let ch = Ch { url: a.url.clone() };
    let db = format!("latency_{}", std::process::id());
    ch.q(&format!("CREATE DATABASE {db}"))?;
    ch.q(&format!(
        "CREATE TABLE {db}.t (src String, id UInt64, v UInt64) ENGINE = MergeTree ORDER BY (src, id)"
    ))?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    for sub in ["data/files", "data/stream"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let mut watcher = start_watcher(&a, dir, &db)?;
    std::thread::sleep(Duration::from_secs(2));
    let written: Written = Arc::default();
    let data = dir.join("data");
    let began = Instant::now();
    let writers = [
        std::thread::spawn({
            let (d, w, a) = (data.clone(), written.clone(), Args::parse());
            move || write_files(&d, &a, &w)
        }),
        std::thread::spawn({
            let (d, w, a) = (data.clone(), written.clone(), Args::parse());
            move || append_lines(&d, &a, &w)
        }),
    ];
    let expected = (a.seconds * a.files_per_second + a.seconds * 1000 / a.append_every) as usize;
    let mut seen: HashMap<String, f64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(a.seconds + 60);
    while seen.len() < expected && Instant::now() < deadline {
        let text = ch.q(&format!("SELECT DISTINCT src FROM {db}.t"))?;
        let at = now();
        for src in text.lines() {
            seen.entry(src.to_owned()).or_insert(at);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let writing = began.elapsed();
    for w in writers {
        w.join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    if seen.len() < expected {
        bail!(
            "only {} of {expected} files and chunks became visible",
            seen.len()
        );
    }
    let written = written
        .lock()
        .map_err(|_| anyhow::anyhow!("a writer panicked"))?
        .clone();
    let mut files = Vec::new();
    let mut lines = Vec::new();
    for (src, at) in &seen {
        let lag = at - written[src];
        match src.starts_with('f') {
            true => files.push(lag),
            false => lines.push(lag),
        }
    }
    files.sort_by(f64::total_cmp);
    lines.sort_by(f64::total_cmp);
    // Idle: nothing arrives; only the heartbeat and the rescans run.
    std::thread::sleep(Duration::from_secs(5));
    let (cpu0, t0) = (cpu_seconds(watcher.id())?, Instant::now());
    std::thread::sleep(Duration::from_secs(a.idle_seconds));
    let idle = (cpu_seconds(watcher.id())? - cpu0) / t0.elapsed().as_secs_f64();
    let parts = |table: &str| -> Result<f64> {
        let n: f64 = ch
            .q(&format!(
                "SELECT count() FROM system.parts WHERE database = '{db}' AND table = '{table}' \
                 AND level = 0"
            ))?
            .trim()
            .parse()?;
        Ok(n / (writing.as_secs_f64() / 60.0))
    };
    let rows = ch.q(&format!("SELECT count(), uniqExact(src, id) FROM {db}.t"))?;
    let per_minute = [
        parts("t")?,
        parts("ingest_manifest")?,
        parts("ingest_manifest_runs")?,
    ];
    let _ = watcher.kill();
    let _ = watcher.wait();
    ch.q(&format!("DROP DATABASE {db}"))?;

    println!("### Latency of `ingest watch` (settle {})\n", a.settle);
    println!(
        "{} files/s of {} rows and {} lines appended every {} ms to one JSON Lines file, for {} s; \
         rows (count, distinct): {}\n",
        a.files_per_second,
        a.rows,
        a.lines,
        a.append_every,
        a.seconds,
        rows.trim().replace('\t', ", ")
    );
    println!("| what | median s | p99 s | n |\n|---|---|---|---|");
    for (what, v) in [
        ("file closed → rows visible", &files),
        ("lines appended → rows visible", &lines),
    ] {
        println!(
            "| {what} | {:.2} | {:.2} | {} |",
            percentile(v, 0.5),
            percentile(v, 0.99),
            v.len()
        );
    }
    println!(
        "\nidle CPU: {:.2}% of a core; parts per minute while writing: {:.1} in the table, \
         {:.1} in the manifest, {:.1} in the run history",
        idle * 100.0,
        per_minute[0],
        per_minute[1],
        per_minute[2]
    );
    Ok(())
}
