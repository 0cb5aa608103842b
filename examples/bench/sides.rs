//! The sides of every comparison — `ingest run`, clickhouse-client, the server's own parse over
//! HTTP, and the floor (pre-encoded `Native` rows over HTTP) — each into its own fresh database and
//! table on the private server, with what landed checked after.

use crate::data::DataSet;
use crate::launch::{self, Logs};
use crate::measure::{self, Sample};
use crate::server::{CLIENT_USER, FLOOR_USER, HTTP_USER, INGEST_USER, Server};
use crate::tables::{Merges, Schema, Target};
use anyhow::Result;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Who loads the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `ingest run --jobs N`.
    Ingest(u32),
    /// `clickhouse-client … < file`, one call per file.
    Client,
    /// `curl --upload-file - < file`, one call per file: the server parses the file itself.
    Http,
    /// All of the set's rows in one `Native` body, in the table's key order: the server neither
    /// parses nor sorts.
    Floor,
}

impl Side {
    /// Every side, in the order of a report's rows: `ingest` with each of `jobs`, then the
    /// floor and the peers.
    pub fn all(jobs: &[u32]) -> Vec<Side> {
        let peers = [Side::Floor, Side::Client, Side::Http];
        jobs.iter().map(|&j| Side::Ingest(j)).chain(peers).collect()
    }

    pub fn is_ingest(self) -> bool {
        matches!(self, Side::Ingest(_))
    }

    fn user(self) -> &'static str {
        match self {
            Side::Ingest(_) => INGEST_USER,
            Side::Client => CLIENT_USER,
            Side::Http => HTTP_USER,
            Side::Floor => FLOOR_USER,
        }
    }

    /// The side in a few words, whatever the format.
    pub fn short(self) -> &'static str {
        match self {
            Side::Ingest(_) => "ingest",
            Side::Client => "clickhouse-client",
            Side::Http => "the server's parse",
            Side::Floor => "the floor",
        }
    }

    /// The side as a report names it, reading files of `format`.
    pub fn describe(self, format: &str) -> String {
        match self {
            Side::Ingest(jobs) => format!("ingest --jobs {jobs}"),
            Side::Client => format!("clickhouse-client {format}"),
            Side::Http => format!("server's parse: curl {format}"),
            Side::Floor => "floor: curl Native".to_owned(),
        }
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
    /// CPU time the server process spent during the run.
    pub server_cpu: Duration,
    /// Queries the side sent, from `system.query_log`.
    pub queries: u64,
}

pub struct Sides<'a> {
    pub server: &'a Server,
    pub ingest: PathBuf,
    /// The `--jobs` values `ingest` runs with, each a side of its own.
    pub jobs: Vec<u32>,
    pub scratch: PathBuf,
    counter: Cell<u32>,
}

impl<'a> Sides<'a> {
    pub fn new(
        server: &'a Server,
        ingest: PathBuf,
        jobs: Vec<u32>,
        scratch: PathBuf,
    ) -> Result<Sides<'a>> {
        std::fs::create_dir_all(scratch.join("logs"))?;
        Ok(Sides {
            server,
            ingest,
            jobs,
            scratch,
            counter: Cell::new(0),
        })
    }

    /// Every side of a comparison, `ingest` once for each `--jobs` value.
    pub fn all(&self) -> Vec<Side> {
        Side::all(&self.jobs)
    }

    /// `ingest` at its default: as many jobs as the machine has cores (the last value given).
    pub fn default_ingest(&self) -> Side {
        Side::Ingest(self.jobs.last().copied().unwrap_or(1))
    }

    pub fn next(&self) -> u32 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }

    pub fn logs(&self, side: &str) -> Logs {
        Logs::new(
            &self.scratch.join("logs"),
            &format!("{side}-{}", self.next()),
        )
    }

    /// One measured run of `side` loading `set` (files of the ClickHouse format `format`; the
    /// floor sends `native` instead) into `target`.
    pub fn run(
        &self,
        side: Side,
        target: &Target,
        set: &DataSet,
        format: &str,
        native: &Path,
    ) -> Result<Measured> {
        let db = &target.database;
        let user = side.user();
        let server = self.server;
        self.measure(user, || {
            let mut samples = Vec::new();
            match side {
                Side::Ingest(jobs) => {
                    let logs = self.logs("ingest");
                    let lock = self.scratch.join("ingest.lock");
                    let mut cmd =
                        launch::ingest(&self.ingest, server, user, db, &set.dir, &lock, &logs)?;
                    cmd.args(["--jobs", &jobs.to_string()]);
                    let what = format!("`ingest run` over {}", set.dir.display());
                    samples.push(launch::run_checked(&mut cmd, &what, &logs)?);
                }
                Side::Client | Side::Http => {
                    let logs = self.logs(if side == Side::Client {
                        "client"
                    } else {
                        "http"
                    });
                    for file in &set.files {
                        let (mut cmd, what): (Command, _) = if side == Side::Client {
                            let cmd = launch::client(server, user, db, format, file, &logs)?;
                            (cmd, format!("clickhouse-client < {}", file.display()))
                        } else {
                            let cmd = launch::curl(server, user, db, format, "", file, &logs)?;
                            (cmd, format!("curl --upload-file - < {}", file.display()))
                        };
                        samples.push(launch::run_checked(&mut cmd, &what, &logs)?);
                    }
                }
                Side::Floor => {
                    let logs = self.logs("floor");
                    let sync = server.sync_insert;
                    let mut cmd = launch::curl(server, user, db, "Native", sync, native, &logs)?;
                    let what = format!("curl --upload-file - < {}", native.display());
                    samples.push(launch::run_checked(&mut cmd, &what, &logs)?);
                }
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

    /// Whether `side` loads the set's files (a one-row set), by loading them into a scratch
    /// table; if not, why not, in one line.
    pub fn reads(
        &self,
        side: Side,
        set: &DataSet,
        schema: Schema,
        format: &str,
    ) -> Result<(), String> {
        let attempt = || -> Result<u64> {
            let target = self.target(schema, Merges::Running)?;
            let loaded = self.run(side, &target, set, format, Path::new("/dev/null"));
            let rows = loaded.and_then(|_| {
                self.server
                    .query_u64(&format!("SELECT count() FROM {}.reviews", target.database))
            });
            self.drop_target(target)?;
            rows
        };
        match attempt() {
            Ok(rows) if rows == set.rows() => Ok(()),
            Ok(rows) => Err(format!(
                "{rows} of {} rows of a one-row .{} file landed",
                set.rows(),
                set.format
            )),
            Err(e) => Err(one_line(&format!("{e:#}"))),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
