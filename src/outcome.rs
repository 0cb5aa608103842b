//! What a run did: its identity and start, what happened to each file (or would happen, in a dry
//! run), and the whole run's report, for the summary, the history, the metrics and the exit code.

use crate::ch::ident::TableRef;
use crate::exit::Exit;
use crate::manifest::{FailureKind, FileFacts};
use crate::scan::FileEntry;
use chrono::{DateTime, Utc};
use std::fmt;
use std::time::{Duration, Instant};

/// When and as what a run started; known before anything can fail.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub instant: Instant,
}

impl RunStart {
    pub fn now() -> RunStart {
        RunStart {
            run_id: new_run_id(),
            at: Utc::now(),
            instant: Instant::now(),
        }
    }
}

/// Everything a run did, for the summary and the exit code.
#[derive(Debug)]
pub struct RunReport {
    pub run_id: String,
    pub dry_run: bool,
    pub outcomes: Vec<FileOutcome>,
    /// Tables created (or, in a dry run, that would be) and their `CREATE TABLE` statements.
    pub created: Vec<(String, String)>,
    /// Columns added (or, in a dry run, that would be) by `schema = "add-columns"`: each
    /// table with its `ALTER TABLE` statement.
    pub altered: Vec<(String, String)>,
    /// What the run did not fail for but an operator should hear about: data files no route
    /// matches, routes that matched no file.
    pub warnings: Vec<String>,
    pub stopped: Option<String>,
    pub exit: Exit,
    pub elapsed: std::time::Duration,
}

pub fn new_run_id() -> String {
    format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        fastrand::u16(..)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Dry run: would be ingested.
    New,
    /// Dry run: an interrupted ingestion would be resumed.
    Resume,
    Ingested,
    AlreadyIngested,
    Duplicate,
    /// Changed since it was ingested; held back.
    Changed,
    /// Held back in an earlier run and still unchanged since.
    ChangedBefore,
    Failed,
    /// Failed for its content in an earlier run; not retried until it changes.
    FailedBefore,
    /// Still being written (size or time moved during the settle interval).
    Unsettled,
    /// Not a data file, or not allowed (temporary name, symlink out of the folder, …).
    Ignored,
    /// Not finished because ClickHouse became unreachable; the next run continues it.
    Interrupted,
}

impl Status {
    /// Every status, in the order reports list them.
    pub const ALL: [Status; 12] = [
        Status::New,
        Status::Resume,
        Status::Ingested,
        Status::AlreadyIngested,
        Status::Duplicate,
        Status::Changed,
        Status::ChangedBefore,
        Status::Failed,
        Status::FailedBefore,
        Status::Unsettled,
        Status::Ignored,
        Status::Interrupted,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Resume => "resume",
            Status::Ingested => "ingested",
            Status::AlreadyIngested => "already-ingested",
            Status::Duplicate => "duplicate",
            Status::Changed => "changed",
            Status::ChangedBefore => "changed-before",
            Status::Failed => "failed",
            Status::FailedBefore => "failed-before",
            Status::Unsettled => "unsettled",
            Status::Ignored => "ignored",
            Status::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.label())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileOutcome {
    pub rel: String,
    pub status: Status,
    /// Target table (`db.table`), when routed.
    pub table: String,
    /// Detected format and compression, e.g. `csv.gz`.
    pub format: String,
    /// Rows inserted by this run (for a dry run: rows it would insert).
    pub rows: u64,
    /// Records left out under `--on-error skip-row`.
    pub rejected: u64,
    pub bytes: u64,
    /// Modification time as observed when the file was planned.
    pub mtime_ns: i64,
    /// Content hash, where the file was hashed (now or in an earlier run).
    pub hash: String,
    /// Why, for anything but a plain success: the error, the original of a duplicate, …
    pub detail: String,
    /// Why the file failed, for a failed file.
    pub failure: Option<FailureKind>,
    /// From when the run started working on the file to when its outcome was known; zero for
    /// files decided without being read.
    pub duration: Duration,
}

impl FileOutcome {
    pub fn new(rel: &str, status: Status) -> FileOutcome {
        FileOutcome {
            rel: rel.to_owned(),
            status,
            table: String::new(),
            format: String::new(),
            rows: 0,
            rejected: 0,
            bytes: 0,
            mtime_ns: 0,
            hash: String::new(),
            detail: String::new(),
            failure: None,
            duration: Duration::ZERO,
        }
    }

    /// An outcome for a scanned file routed to `table`.
    pub fn of(entry: &FileEntry, table: &TableRef, status: Status) -> FileOutcome {
        FileOutcome {
            table: table.to_string(),
            format: entry.detected.to_string(),
            bytes: entry.size,
            mtime_ns: entry.mtime_ns,
            ..FileOutcome::new(&entry.rel, status)
        }
    }

    /// `path: detail`, or the detail alone when it names the file itself (an error such as
    /// `a.csv:2:x: …`), or the path alone when there is no detail.
    pub fn describe(&self) -> String {
        let rel = self.rel.as_str();
        match self.detail.strip_prefix(rel) {
            _ if self.detail.is_empty() => rel.to_owned(),
            Some(rest) if rest.starts_with(':') => self.detail.clone(),
            _ => format!("{rel}: {}", self.detail),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> FileOutcome {
        self.detail = detail.into();
        self
    }

    pub fn hash(mut self, hash: &str) -> FileOutcome {
        self.hash = hash.to_owned();
        self
    }

    pub fn rows(mut self, rows: u64) -> FileOutcome {
        self.rows = rows;
        self
    }

    pub fn failure(mut self, kind: FailureKind) -> FileOutcome {
        self.failure = Some(kind);
        self
    }

    /// Failed (now or before) for a reason that waits for the file to change or for `ingest
    /// retry`.
    pub fn failed_for_good(&self) -> bool {
        self.failure.is_some_and(FailureKind::is_final)
    }

    /// What the manifest and the summary know of the file: path, size, time, content, table.
    pub fn facts(&self) -> FileFacts {
        FileFacts {
            path: self.rel.clone(),
            size: self.bytes,
            mtime_ns: self.mtime_ns,
            hash: self.hash.clone(),
            table: self.table.clone(),
            format: self.format.clone(),
            ..FileFacts::default()
        }
    }

    /// Stamps the time taken since the file's work started.
    pub fn since(mut self, started: Instant) -> FileOutcome {
        self.duration = started.elapsed();
        self
    }
}
