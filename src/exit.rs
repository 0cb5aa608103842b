//! Exit codes: what a run's status means to cron, systemd and CI.

use crate::ch::ChError;
use std::path::PathBuf;

/// The process exit code. Values are part of the interface; never renumber them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every file was handled, or there was nothing to do.
    Ok = 0,
    /// A bug or an unexpected local failure (I/O on the lock or data folder).
    Internal = 1,
    /// Bad flags, environment, config file, or a target table that does not fit the files.
    Config = 2,
    /// Some files failed or were quarantined; the others were ingested.
    FilesFailed = 3,
    /// ClickHouse (or the coordination service) could not be reached (or kept failing); nothing
    /// was lost, the next run goes on.
    Unreachable = 4,
    /// Another run holds this data folder's lock.
    Locked = 5,
    /// Files changed after they were ingested and were held back.
    Changed = 6,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The exit-code table printed by `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success, or nothing to do
  1  internal error (a bug, or an I/O failure outside the data files)
  2  configuration or usage error
  3  some files failed (recorded in the manifest; the other files were ingested)
  4  ClickHouse unreachable, or ZooKeeper with --coordination (nothing is lost; the next run
     continues)
  5  another run holds the data folder's lock (or its shard's cluster lock)
  6  files changed after ingestion were held back (see --on-change)";

/// A reason the whole command stopped. Bad files are never fatal; these are.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Unreachable(ChError),
    #[error("another ingest run{} holds the lock {}", holder.map(|p| format!(" (pid {p})")).unwrap_or_default(), path.display())]
    Locked {
        path: PathBuf,
        /// The holder's process id, where the kernel tells it.
        holder: Option<u32>,
    },
    /// Another live run, maybe on another host, holds the data folder's cluster lock.
    #[error("another ingest run holds the lock {lock}: {holder}")]
    HeldElsewhere { lock: String, holder: String },
    /// The coordination service (ZooKeeper) could not be reached.
    #[error("{0}")]
    Coordination(String),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl Fatal {
    pub fn exit(&self) -> Exit {
        match self {
            Fatal::Config(_) => Exit::Config,
            Fatal::Unreachable(_) => Exit::Unreachable,
            Fatal::Locked { .. } | Fatal::HeldElsewhere { .. } => Exit::Locked,
            Fatal::Coordination(_) => Exit::Unreachable,
            Fatal::Internal(_) => Exit::Internal,
        }
    }

    pub fn config(msg: impl Into<String>) -> Fatal {
        Fatal::Config(msg.into())
    }
}

impl From<ChError> for Fatal {
    /// A server error that is not about reachability means the setup is wrong (permissions,
    /// a missing database, an incompatible table), which is a configuration problem.
    fn from(e: ChError) -> Fatal {
        if e.is_transient() {
            Fatal::Unreachable(e)
        } else {
            Fatal::Config(e.to_string())
        }
    }
}

/// An error message on one line, as the command prints it.
pub fn one_line(msg: &str) -> String {
    msg.split('\n').map(str::trim).collect::<Vec<_>>().join(" ")
}

/// The line a command that stops on an error prints on stderr, safe for a terminal.
pub fn error_line(msg: &str) -> String {
    format!("ingest: error: {}", crate::text::escape(&one_line(msg)))
}

impl From<anyhow::Error> for Fatal {
    fn from(e: anyhow::Error) -> Fatal {
        Fatal::Internal(e)
    }
}
