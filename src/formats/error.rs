//! Why reading a file or one of its records failed, and how the error names the place.

use super::{decompress, encoding};

/// What is wrong with one record. Other records of the file may be fine.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    /// 1-based line where the record starts, where the format has lines.
    pub line: Option<u64>,
    /// 0-based ordinal of the record in the file.
    pub record: u64,
    /// The field's name, when one field is at fault.
    pub column: Option<String>,
    pub reason: String,
}

impl RecordError {
    /// `file:line:column: reason`, or `file: record N, column C: reason` without lines.
    pub fn describe(&self, file: &str) -> String {
        match (self.line, &self.column) {
            (Some(line), Some(col)) => format!("{file}:{line}:{col}: {}", self.reason),
            (Some(line), None) => format!("{file}:{line}: {}", self.reason),
            (None, Some(col)) => format!(
                "{file}: record {}, column {col}: {}",
                self.record + 1,
                self.reason
            ),
            (None, None) => format!("{file}: record {}: {}", self.record + 1, self.reason),
        }
    }
}

/// Why reading a file stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    /// One bad record; the reader can go on with the next one.
    Record(RecordError),
    /// The file's content cannot be read further (truncated stream, broken structure).
    File { line: Option<u64>, reason: String },
    /// A local failure that says nothing about the content (reading the disk, a temporary
    /// file): the file is tried again by the next run.
    Local(String),
}

impl ReadError {
    pub fn describe(&self, file: &str) -> String {
        match self {
            ReadError::Record(r) => r.describe(file),
            ReadError::File {
                line: Some(line),
                reason,
            } => format!("{file}:{line}: {reason}"),
            ReadError::File { line: None, reason } => format!("{file}: {reason}"),
            ReadError::Local(reason) => format!("{file}: {reason}"),
        }
    }

    /// Whether the failure is local, not the content's.
    pub fn is_local(&self) -> bool {
        matches!(self, ReadError::Local(_))
    }

    /// A failed read: errors of the decompression layer are about the content and speak for
    /// themselves; any other is the disk's.
    pub fn io(err: &std::io::Error, line: Option<u64>) -> ReadError {
        if let Some(e) = encoding::Malformed::find(err) {
            return ReadError::File {
                line: Some(e.line),
                reason: e.to_string(),
            };
        }
        match decompress::StreamError::find(err) {
            Some(e) => ReadError::File {
                line,
                reason: e.to_string(),
            },
            None => ReadError::Local(format!("read error: {err}")),
        }
    }

    pub fn file(reason: impl Into<String>) -> ReadError {
        ReadError::File {
            line: None,
            reason: reason.into(),
        }
    }
}
