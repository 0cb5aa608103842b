//! The choices a user makes about how files are treated, as types: what a bad record does to
//! its file, and what happens to a file once it is done or has failed.

use std::path::PathBuf;

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
