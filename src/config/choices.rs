//! The choices a user makes, as types: what a command prints, what a bad record does to its
//! file, what a changed file does, and what happens to a file once it is done or has failed.
//! The flags take them by name (`ValueEnum`); the run takes the built forms below them.

use clap::ValueEnum;
use std::path::PathBuf;

/// What a command prints: for people, or one JSON document for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    FailFile,
    SkipRow,
}

/// `--on-change`: what a path ingested before with other content does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OnChange {
    /// Held back and reported.
    #[default]
    Report,
    /// Its new content is ingested; the old rows stay.
    Ingest,
    /// A file that grew, its earlier bytes unchanged: the complete records after what was
    /// ingested are added. Any other change is held back, as with `Report`.
    Append,
}

/// `--watcher`: how `ingest watch` notices files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WatcherKind {
    /// Events where the file system delivers them, polling where it does not.
    Auto,
    /// File-system events (inotify).
    Events,
    /// Scanning the folder every `--poll-interval`.
    Poll,
}

/// `--after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AfterAction {
    Keep,
    Move,
    Delete,
}

/// What to do with a file that has bad records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErrorPolicy {
    /// Any bad record fails the file: none of its rows are inserted.
    FailFile,
    /// Bad records are left out and recorded; the file fails only past these limits.
    SkipRow {
        max_errors: u64,
        max_ratio: Option<f64>,
    },
}

/// What to do with a file once its rows are confirmed in ClickHouse.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Keep,
    /// Move into this folder, keeping the path relative to the data folder.
    Move(PathBuf),
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disposal {
    pub after: After,
    pub quarantine: Option<PathBuf>,
}

impl Disposal {
    /// Folders the scan must not descend into.
    pub fn folders(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.quarantine.iter().cloned().collect();
        if let After::Move(done) = &self.after {
            out.push(done.clone());
        }
        out
    }
}
