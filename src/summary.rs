//! One run's result in the form every report of it needs: the history row, the metrics file and
//! the JSON summary are all built from the same `Summary`, so they always agree.

pub use crate::exit::one_line;
use crate::exit::{Exit, Fatal};
use crate::outcome::{FileOutcome, Status};
use crate::outcome::{RunReport, RunStart};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

/// The version of the JSON documents `run --output json`, `status --json` and `verify --json`
/// print; it changes only when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug)]
pub struct Summary<'a> {
    pub run_id: &'a str,
    pub host: String,
    pub version: &'static str,
    /// The data folder's id, once known.
    pub folder: String,
    pub data_dir: String,
    pub dry_run: bool,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub duration: Duration,
    pub exit: Exit,
    /// Why the run stopped: the fatal error, or what made it stop early.
    pub error: Option<String>,
    pub outcomes: &'a [FileOutcome],
    pub warnings: &'a [String],
    /// Files of the folder that need attention, by reason, after the run (when asked).
    pub attention: Option<BTreeMap<String, u64>>,
    /// A watcher's cycle: when its loop last went round.
    pub heartbeat: Option<DateTime<Utc>>,
}

impl<'a> Summary<'a> {
    pub fn new(
        start: &'a RunStart,
        dry_run: bool,
        result: &'a Result<RunReport, Fatal>,
    ) -> Summary<'a> {
        let (exit, error, outcomes, warnings) = match result {
            Ok(r) => (
                r.exit,
                r.stopped.clone(),
                r.outcomes.as_slice(),
                r.warnings.as_slice(),
            ),
            Err(e) => (e.exit(), Some(one_line(&e.to_string())), &[][..], &[][..]),
        };
        Summary {
            run_id: &start.run_id,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            version: env!("CARGO_PKG_VERSION"),
            folder: String::new(),
            data_dir: String::new(),
            dry_run,
            started: start.at,
            finished: Utc::now(),
            duration: start.instant.elapsed(),
            exit,
            error,
            outcomes,
            warnings,
            attention: None,
            heartbeat: None,
        }
    }

    /// Files by status, every status included.
    pub fn counts(&self) -> BTreeMap<Status, u64> {
        let mut counts: BTreeMap<Status, u64> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for o in self.outcomes {
            *counts.entry(o.status).or_default() += 1;
        }
        counts
    }

    pub fn count(&self, status: Status) -> u64 {
        self.outcomes.iter().filter(|o| o.status == status).count() as u64
    }

    /// Files whose rows were (or, in a dry run, would be) inserted.
    pub fn loaded(&self) -> impl Iterator<Item = &'a FileOutcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Ingested | Status::New | Status::Resume))
    }

    /// Rows this run inserted (would insert, in a dry run).
    pub fn rows(&self) -> u64 {
        self.loaded().map(|o| o.rows).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.loaded().map(|o| o.bytes).sum()
    }

    /// Records left out under `--on-error skip-row`.
    pub fn rejected(&self) -> u64 {
        self.loaded().map(|o| o.rejected).sum()
    }

    /// The fields every report of a run shares.
    pub fn fields(&self) -> RunFields {
        RunFields {
            run_id: self.run_id.to_owned(),
            host: self.host.clone(),
            version: self.version.to_owned(),
            folder: self.folder.clone(),
            data_dir: self.data_dir.clone(),
            dry_run: self.dry_run,
            started: timestamp(self.started),
            finished: timestamp(self.finished),
            duration_seconds: self.duration.as_secs_f64(),
            exit_code: self.exit.code(),
            error: self.error.clone(),
            files: self
                .counts()
                .into_iter()
                .map(|(s, n)| (s.label(), n))
                .collect(),
            rows: self.rows(),
            bytes: self.bytes(),
            rejected: self.rejected(),
        }
    }

    /// The one JSON object `--output json` prints.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let doc = JsonSummary {
            schema_version: SCHEMA_VERSION,
            run: self.fields(),
            warnings: self.warnings,
            outcomes: self
                .outcomes
                .iter()
                .map(|o| JsonOutcome {
                    path: &o.rel,
                    status: o.status.label(),
                    table: &o.table,
                    format: &o.format,
                    rows: o.rows,
                    rejected: o.rejected,
                    bytes: o.bytes,
                    duration_seconds: o.duration.as_secs_f64(),
                    detail: &o.detail,
                })
                .collect(),
        };
        serde_json::to_writer(&mut *out, &doc)?;
        writeln!(out)
    }
}

/// A run as every JSON document shows it: `run --output json` at its top level, `status --json`
/// in its `runs` list.
#[derive(Debug, Serialize)]
pub struct RunFields {
    pub run_id: String,
    pub host: String,
    pub version: String,
    pub folder: String,
    pub data_dir: String,
    pub dry_run: bool,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    pub duration_seconds: f64,
    pub exit_code: u8,
    /// Why the run stopped early; `null` when it did not.
    pub error: Option<String>,
    /// Files by status, every status included.
    pub files: BTreeMap<&'static str, u64>,
    pub rows: u64,
    pub bytes: u64,
    pub rejected: u64,
}

#[derive(Serialize)]
struct JsonSummary<'a> {
    schema_version: u32,
    #[serde(flatten)]
    run: RunFields,
    warnings: &'a [String],
    outcomes: Vec<JsonOutcome<'a>>,
}

#[derive(Serialize)]
struct JsonOutcome<'a> {
    path: &'a str,
    status: &'static str,
    table: &'a str,
    format: &'a str,
    rows: u64,
    rejected: u64,
    bytes: u64,
    duration_seconds: f64,
    detail: &'a str,
}

/// RFC 3339 in UTC with whole seconds, e.g. `2024-05-01T12:00:00Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(rel: &str, status: Status, rows: u64, bytes: u64) -> FileOutcome {
        let mut o = FileOutcome::new(rel, status);
        o.rows = rows;
        o.bytes = bytes;
        o
    }

    #[test]
    fn json_counts_rows_and_bytes_of_loaded_files_only() {
        let start = RunStart::now();
        let report = Ok(RunReport {
            run_id: start.run_id.clone(),
            dry_run: false,
            outcomes: vec![
                outcome("a.csv", Status::Ingested, 10, 100),
                outcome("b.csv", Status::Failed, 0, 50).detail("b.csv:2:x: bad"),
                outcome("c.csv", Status::AlreadyIngested, 0, 70),
            ],
            created: Vec::new(),
            altered: Vec::new(),
            warnings: Vec::new(),
            stopped: None,
            exit: Exit::FilesFailed,
            elapsed: Duration::ZERO,
        });
        let summary = Summary::new(&start, false, &report);
        let mut out = Vec::new();
        summary.write_json(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["exit_code"], 3);
        assert_eq!(v["rows"], 10);
        assert_eq!(v["bytes"], 100);
        assert_eq!(v["error"], serde_json::Value::Null);
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["files"]["ingested"], 1);
        assert_eq!(v["files"]["failed"], 1);
        assert_eq!(v["files"]["already-ingested"], 1);
        assert_eq!(v["files"]["duplicate"], 0, "every status is counted");
        assert_eq!(v["files"].as_object().unwrap().len(), Status::ALL.len());
        assert_eq!(v["outcomes"][1]["detail"], "b.csv:2:x: bad");
        assert!(out.ends_with(b"}\n") && !out[..out.len() - 1].contains(&b'\n'));
    }

    #[test]
    fn a_fatal_error_is_the_summary_error() {
        let start = RunStart::now();
        let result = Err(Fatal::config(
            "target table d.t does not exist;\n create it",
        ));
        let summary = Summary::new(&start, false, &result);
        assert_eq!(summary.exit, Exit::Config);
        assert_eq!(
            summary.error.as_deref(),
            Some("target table d.t does not exist; create it")
        );
        assert!(summary.outcomes.is_empty());
    }
}
