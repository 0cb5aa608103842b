//! Data file formats behind one trait: detection by name, streaming record readers, and the
//! positions (line, record, column) that every error about a file's content carries.

mod csv;

use crate::convert::ConvError;
use crate::value::Value;
use std::fmt;
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
}

impl Format {
    /// Whether the reader knows every field name once the file is opened (a header, a schema);
    /// otherwise fields appear record by record.
    pub fn fields_known_up_front(self) -> bool {
        match self {
            Format::Csv => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
}

/// What a file's name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Detected {
    pub format: Format,
    pub compression: Compression,
}

impl fmt::Display for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.format {
            Format::Csv => "csv",
        })?;
        match self.compression {
            Compression::None => Ok(()),
        }
    }
}

/// Detects format and compression from a file name, or `None` for a name no format claims.
pub fn detect(name: &str) -> Option<Detected> {
    let lower = name.to_ascii_lowercase();
    let format = match lower.rsplit_once('.')?.1 {
        "csv" => Format::Csv,
        _ => return None,
    };
    Some(Detected {
        format,
        compression: Compression::None,
    })
}

/// Bounds that keep a hostile file from exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest record (a CSV row, a JSON line or object, an XML element) in bytes.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 16 << 20,
        }
    }
}

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
    /// The file cannot be read further (I/O error, truncated stream, broken structure).
    File { line: Option<u64>, reason: String },
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
        }
    }

    pub fn io(err: &std::io::Error, line: Option<u64>) -> ReadError {
        ReadError::File {
            line,
            reason: format!("read error: {err}"),
        }
    }
}

/// Receives the fields of one record as the reader decodes them.
pub trait FieldSink {
    /// Called for each field of a record; `index` is stable for a `name` within one file, so a
    /// sink may cache what it resolves per index. The error says why the value does not fit.
    fn field(&mut self, index: usize, name: &str, value: Value<'_>) -> Result<(), ConvError>;
}

/// A streaming reader of records. Memory stays bounded whatever the file's size.
pub trait RecordSource: Send {
    /// Names of the fields seen so far, indexed as `FieldSink::field` receives them.
    fn fields(&self) -> &[String];

    /// Decodes the next record into `sink`. `Ok(false)` at the end of the file.
    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError>;
}

/// Opens a reader over the (raw) bytes of a file of the detected kind.
pub fn open(
    input: Box<dyn Read + Send>,
    detected: Detected,
    limits: Limits,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let input = match detected.compression {
        Compression::None => input,
    };
    Ok(match detected.format {
        Format::Csv => Box::new(csv::CsvSource::new(input, limits)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_extension() {
        assert_eq!(
            detect("A.CSV").map(|d| d.to_string()).as_deref(),
            Some("csv")
        );
        assert_eq!(detect("notes.txt"), None);
        assert_eq!(detect("noext"), None);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = RecordError {
            line: Some(3),
            record: 1,
            column: Some("price".into()),
            reason: "bad".into(),
        };
        assert_eq!(e.describe("a.csv"), "a.csv:3:price: bad");
        let e = RecordError {
            line: None,
            record: 1,
            column: Some("price".into()),
            reason: "bad".into(),
        };
        assert_eq!(
            e.describe("a.parquet"),
            "a.parquet: record 2, column price: bad"
        );
    }
}
