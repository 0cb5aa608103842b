//! The two sides of every comparison — one `ingest run` and one clickhouse-client baseline — each
//! into its own fresh database and table on the private server, with what landed checked after.

use crate::data::DataSet;
use crate::measure::{self, Sample};
use crate::server::{CLIENT_USER, INGEST_USER, Server};
use anyhow::{Context, Result, bail};
use std::cell::Cell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The review table's columns, with `verified_purchase` as the booleans' type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// `UInt8`, the natural type, which ClickHouse's JSONEachRow reads `true`/`false` into.
    Typed,
    /// `String`: ClickHouse 18.16's CSV parser does not read `true`/`false` into `UInt8`, and
    /// both sides must fill the same table.
    CsvText,
}

impl Schema {
    fn columns(self) -> String {
        let boolean = match self {
            Schema::Typed => "UInt8",
            Schema::CsvText => "String",
        };
        format!(
            "rating Float32, title String, text String, asin String, user_id String, \
             timestamp UInt64, helpful_vote UInt32, verified_purchase {boolean}"
        )
    }
}

/// What one measured run of one side cost.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    /// Largest peak resident memory of the side's processes.
    pub peak_rss_kib: u64,
    /// CPU time of the side's processes.
    pub cpu: Duration,
    /// CPU time clickhouse-server spent during the run.
    pub server_cpu: Duration,
    /// Queries the side sent, from `system.query_log`.
    pub queries: u64,
}

/// What a table holds after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landed {
    pub rows: u64,
    /// Active parts of the table.
    pub parts: u64,
    /// Sum of a hash of every row's review columns: equal tables have equal checksums.
    pub checksum: u64,
}

/// A fresh database holding an empty `reviews` table.
pub struct Target {
    pub database: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merges {
    /// The server merges parts in the background, as it does by default.
    Running,
    /// Merges stopped on the table (and its part limits raised), so every part an insert
    /// created is still there to count.
    Stopped,
}

pub struct Sides<'a> {
    pub server: &'a Server,
    pub ingest: PathBuf,
    pub scratch: PathBuf,
    counter: Cell<u32>,
}

impl<'a> Sides<'a> {
    pub fn new(server: &'a Server, ingest: PathBuf, scratch: PathBuf) -> Result<Sides<'a>> {
        std::fs::create_dir_all(scratch.join("logs"))?;
        Ok(Sides {
            server,
            ingest,
            scratch,
            counter: Cell::new(0),
        })
    }

    fn next(&self) -> u32 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }

    pub fn target(&self, schema: Schema, merges: Merges) -> Result<Target> {
        let database = format!("bench_{}", self.next());
        self.server.query(&format!("CREATE DATABASE {database}"))?;
        let settings = match merges {
            Merges::Running => "",
            Merges::Stopped => {
                " SETTINGS parts_to_delay_insert = 1000000, parts_to_throw_insert = 1000000"
            }
        };
        self.server.query(&format!(
            "CREATE TABLE {database}.reviews ({}) \
             ENGINE = MergeTree ORDER BY (asin, timestamp){settings}",
            schema.columns()
        ))?;
        if merges == Merges::Stopped {
            self.server
                .query(&format!("SYSTEM STOP MERGES {database}.reviews"))?;
        }
        Ok(Target { database })
    }

    pub fn drop_target(&self, target: Target) -> Result<()> {
        self.server
            .query(&format!("DROP DATABASE {}", target.database))?;
        Ok(())
    }

    /// The command line of one `ingest run` over `dir` into `target`, at default settings except
    /// `--settle 0` (settling is a fixed wait, not throughput).
    fn ingest_command(&self, target: &Target, dir: &Path, log: &str) -> Result<Command> {
        let mut cmd = Command::new(&self.ingest);
        cmd.arg("run")
            .arg("--data-dir")
            .arg(dir)
            .args(["--url", &self.server.url(), "--user", INGEST_USER])
            .args(["--database", &target.database, "--table", "reviews"])
            .args(["--settle", "0"])
            .arg("--lock-file")
            .arg(self.scratch.join("ingest.lock"));
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("INGEST_") || name.starts_with("CLICKHOUSE_") {
                cmd.env_remove(&key);
            }
        }
        cmd.stdout(File::create(self.log(log, "out"))?)
            .stderr(File::create(self.log(log, "err"))?);
        Ok(cmd)
    }

    fn log(&self, name: &str, ext: &str) -> PathBuf {
        self.scratch.join("logs").join(format!("{name}.{ext}"))
    }

    /// One `ingest run` over the set's folder; fails unless it exits with 0.
    pub fn ingest(&self, target: &Target, set: &DataSet) -> Result<Measured> {
        let log = format!("ingest-{}", self.next());
        let mut cmd = self.ingest_command(target, &set.dir, &log)?;
        self.measure(INGEST_USER, || {
            let sample = measure::run(&mut cmd)?;
            if !sample.status.success() {
                bail!(
                    "`ingest run` over {} ended with {}:\n{}{}",
                    set.dir.display(),
                    sample.status,
                    tail(&self.log(&log, "out")),
                    tail(&self.log(&log, "err"))
                );
            }
            Ok(vec![sample])
        })
    }

    /// One clickhouse-client call per file of the set, one after the other, each reading the
    /// file from stdin (`INSERT INTO reviews FORMAT format`).
    pub fn client(&self, target: &Target, set: &DataSet, format: &str) -> Result<Measured> {
        let query = format!("INSERT INTO reviews FORMAT {format}");
        let port = self.server.tcp_port.to_string();
        let log = format!("client-{}", self.next());
        let err = self.log(&log, "err");
        self.measure(CLIENT_USER, || {
            let mut samples = Vec::with_capacity(set.files.len());
            for file in &set.files {
                let mut cmd = Command::new("clickhouse-client");
                cmd.args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port,
                    "--user",
                    CLIENT_USER,
                ])
                .args(["--database", &target.database, "--query", &query])
                .stdin(File::open(file)?)
                .stdout(Stdio::null())
                .stderr(File::create(&err)?);
                let sample = measure::run(&mut cmd)?;
                if !sample.status.success() {
                    bail!(
                        "clickhouse-client < {} ended with {}:\n{}",
                        file.display(),
                        sample.status,
                        tail(&err)
                    );
                }
                samples.push(sample);
            }
            Ok(samples)
        })
    }

    /// Times `side`, which runs the processes it returns, and adds the server's CPU time and the
    /// queries `user` sent meanwhile.
    fn measure(&self, user: &str, side: impl FnOnce() -> Result<Vec<Sample>>) -> Result<Measured> {
        let queries_before = self.server.queries_by(user)?;
        let server_before = measure::process_cpu(self.server.pid)?;
        let started = Instant::now();
        let samples = side()?;
        let wall = started.elapsed();
        let server_cpu = measure::process_cpu(self.server.pid)?.saturating_sub(server_before);
        let queries = self.server.queries_by(user)? - queries_before;
        Ok(Measured {
            wall,
            peak_rss_kib: samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0),
            cpu: samples.iter().map(|s| s.cpu).sum(),
            server_cpu,
            queries,
        })
    }

    /// Whether this `ingest` reads the set's format, by ingesting it into a scratch table.
    pub fn ingest_reads(&self, set: &DataSet, schema: Schema) -> Result<(), String> {
        let attempt = || -> Result<u64> {
            let target = self.target(schema, Merges::Running)?;
            self.ingest(&target, set)?;
            let rows = self
                .server
                .query_u64(&format!("SELECT count() FROM {}.reviews", target.database))?;
            self.drop_target(target)?;
            Ok(rows)
        };
        match attempt() {
            Ok(rows) if rows == set.rows() => Ok(()),
            Ok(rows) => Err(format!(
                "this `ingest` does not read .{} files yet: {rows} of {} rows of a test file landed",
                set.format,
                set.rows()
            )),
            Err(e) => Err(format!(
                "this `ingest` cannot ingest a .{} test file: {}",
                set.format,
                one_line(&format!("{e:#}"))
            )),
        }
    }

    /// What `target` holds; fails unless it holds `expected` rows.
    pub fn landed(&self, target: &Target, expected: u64) -> Result<Landed> {
        let db = &target.database;
        let text = self.server.query(&format!(
            "SELECT count(), sum(cityHash64(rating, title, text, asin, user_id, timestamp, \
             helpful_vote, verified_purchase)) FROM {db}.reviews"
        ))?;
        let (rows, checksum) = text
            .split_once('\t')
            .and_then(|(r, c)| Some((r.parse().ok()?, c.parse().ok()?)))
            .with_context(|| format!("unexpected count and checksum: {text}"))?;
        if rows != expected {
            bail!("{db}.reviews holds {rows} rows, expected {expected}: the run is not valid");
        }
        let parts = self.server.query_u64(&format!(
            "SELECT count() FROM system.parts \
             WHERE database = '{db}' AND table = 'reviews' AND active"
        ))?;
        Ok(Landed {
            rows,
            parts,
            checksum,
        })
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The last lines of a log file, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[lines.len().saturating_sub(20)..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
