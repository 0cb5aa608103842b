//! Reading the first records of each file routed to a new table, and remembering what each
//! field's values look like. A file that cannot be read cleanly shapes nothing; a file whose
//! fields cannot become columns (a bad or reserved name, too many) is refused on its own.

use super::types::{Column, Features, column_type};
use crate::ch::ident::check_column;
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW};
use crate::ch::types::ChType;
use crate::convert::ConvError;
use crate::formats::{self, FieldSink, Input, Limits, ReadError};
use crate::rules::Rules;
use crate::scan::FileEntry;
use crate::value::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Records read from each file at most.
pub const SAMPLE_RECORDS: u64 = 10_000;

/// What the records of one or more files say about their fields.
#[derive(Debug, Default)]
pub struct Sample {
    names: Vec<String>,
    columns: Vec<Column>,
    by_name: HashMap<String, usize>,
    /// The current file's field indexes, resolved to columns.
    by_field: Vec<Option<usize>>,
    pub records: u64,
    pub files_read: usize,
    pub first_error: Option<String>,
    /// The rules of the file being read: renames and date formats shape its columns.
    rules: Arc<Rules>,
}

impl FieldSink for Sample {
    fn field(&mut self, index: usize, name: &str, value: Value<'_>) -> Result<(), ConvError> {
        let rules = self.rules.clone();
        let column = rules.new_column_name(name);
        let col = self.column(index, column);
        self.columns[col].present += 1;
        let formatted = match (&value, rules.format_for(column)) {
            (Value::Text(t) | Value::Str(t), Some(format)) if !t.is_empty() => {
                format.read(t).ok().map(|w| match (w.time, w.offset) {
                    (None, None) => Value::Date(crate::convert::days_since_epoch(w.date) as i32),
                    _ => Value::Timestamp(
                        crate::convert::written_nanos(&w, chrono_tz::Tz::UTC).unwrap_or(0),
                    ),
                })
            }
            _ => None,
        };
        self.columns[col].add(formatted.as_ref().unwrap_or(&value));
        Ok(())
    }
}

/// Why a file's fields cannot become columns of the table.
fn unusable(name: &str) -> Option<String> {
    if name == PROVENANCE_FILE || name == PROVENANCE_ROW {
        return Some(format!("field `{name}` is reserved for provenance"));
    }
    check_column(name).err().map(|e| e.to_string())
}

impl Sample {
    fn column(&mut self, index: usize, name: &str) -> usize {
        if let Some(Some(col)) = self.by_field.get(index) {
            return *col;
        }
        let col = match self.by_name.get(name) {
            Some(&c) => c,
            None => {
                self.names.push(name.to_owned());
                self.columns.push(Column::default());
                self.by_name.insert(name.to_owned(), self.names.len() - 1);
                self.names.len() - 1
            }
        };
        if self.by_field.len() <= index {
            self.by_field.resize(index + 1, None);
        }
        self.by_field[index] = Some(col);
        col
    }

    /// Samples up to [`SAMPLE_RECORDS`] records of a file into this sample. `Err` says why
    /// the file's fields cannot become columns of a table of at most `max_columns`: the file
    /// is then refused and shapes nothing. A file that cannot be read cleanly shapes nothing
    /// either, but is left to fail when it is read.
    pub fn read(
        &mut self,
        entry: &FileEntry,
        limits: Limits,
        max_columns: usize,
    ) -> Result<(), String> {
        let Some(file) = self.read_file(entry, limits) else {
            return Ok(());
        };
        if file.names.len() > max_columns {
            return Err(format!(
                "it has {} fields, more than a created table may have (--max-columns {max_columns})",
                file.names.len()
            ));
        }
        if let Some(why) = file.names.iter().find_map(|n| unusable(n)) {
            return Err(format!("{why}, so the file cannot shape the new table"));
        }
        let new = file
            .names
            .iter()
            .filter(|n| !self.by_name.contains_key(*n))
            .count();
        if self.names.len() + new > max_columns {
            return Err(format!(
                "its fields would give the new table {} columns, more than --max-columns \
                 {max_columns}",
                self.names.len() + new
            ));
        }
        self.merge(file);
        Ok(())
    }

    /// The sample of one file, or `None` (noting why) when it cannot be read cleanly.
    fn read_file(&mut self, entry: &FileEntry, limits: Limits) -> Option<Sample> {
        let mut note = |e: ReadError| {
            self.first_error.get_or_insert(e.describe(&entry.rel));
            None
        };
        let opened = entry
            .open()
            .map_err(|e| ReadError::file(format!("cannot open: {e}")))
            .and_then(|f| formats::open(Input::File(f), entry.detected, limits, &entry.rules.text));
        let mut source = match opened {
            Ok(s) => s,
            Err(e) => return note(e),
        };
        let mut file = Sample {
            rules: entry.rules.clone(),
            ..Sample::default()
        };
        if entry.detected.format.fields_known_up_front() {
            for (i, name) in source.fields().iter().enumerate() {
                file.column(i, entry.rules.new_column_name(name));
            }
        }
        while file.records < SAMPLE_RECORDS {
            match source.next_record(&mut file) {
                Ok(true) => file.records += 1,
                Ok(false) => break,
                Err(e) => return note(e),
            }
        }
        Some(file)
    }

    fn merge(&mut self, file: Sample) {
        self.files_read += 1;
        self.records += file.records;
        for (name, column) in file.names.into_iter().zip(file.columns) {
            match self.by_name.get(&name) {
                Some(&i) => self.columns[i].merge(column),
                None => {
                    self.by_name.insert(name.clone(), self.names.len());
                    self.names.push(name);
                    self.columns.push(column);
                }
            }
        }
    }

    /// The inferred columns in order of first appearance.
    pub fn columns(&self, f: Features) -> Vec<(String, ChType)> {
        self.names
            .iter()
            .zip(&self.columns)
            .map(|(name, column)| (name.clone(), column_type(column, self.records, f)))
            .collect()
    }
}
