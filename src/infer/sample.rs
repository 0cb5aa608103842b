//! Reading the first records of each file routed to a new table, and remembering what each
//! field's values look like.

use super::types::{Column, Features, column_type};
use crate::ch::ident::check_column;
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW};
use crate::ch::types::ChType;
use crate::convert::ConvError;
use crate::formats::{self, FieldSink, Input, Limits, ReadError};
use crate::scan::FileEntry;
use crate::value::Value;
use std::collections::HashMap;

/// Records read from each file at most.
pub const SAMPLE_RECORDS: u64 = 10_000;

#[derive(Debug, Default)]
pub struct Sample {
    names: Vec<String>,
    columns: Vec<Column>,
    /// Where each field was first seen, for error messages.
    origins: Vec<String>,
    by_name: HashMap<String, usize>,
    /// The current file's field indexes, resolved to columns.
    by_field: Vec<Option<usize>>,
    current: String,
    pub records: u64,
    pub files_read: usize,
    pub first_error: Option<String>,
}

impl FieldSink for Sample {
    fn field(&mut self, index: usize, name: &str, value: Value<'_>) -> Result<(), ConvError> {
        let col = self.column(index, name);
        self.columns[col].present += 1;
        self.columns[col].add(&value);
        Ok(())
    }
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
                self.origins.push(self.current.clone());
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

    /// Reads up to [`SAMPLE_RECORDS`] records of a file. Bad records are skipped; a file that
    /// cannot be read only contributes what was read before.
    pub fn read(&mut self, entry: &FileEntry, limits: Limits) {
        self.by_field.clear();
        self.current = entry.rel.clone();
        let opened = entry
            .open()
            .map_err(|e| ReadError::file(format!("cannot open: {e}")))
            .and_then(|f| formats::open(Input::File(f), entry.detected, limits));
        let mut source = match opened {
            Ok(s) => s,
            Err(e) => {
                self.first_error.get_or_insert(e.describe(&entry.rel));
                return;
            }
        };
        if entry.detected.format.fields_known_up_front() {
            for (i, name) in source.fields().iter().enumerate() {
                self.column(i, name);
            }
        }
        self.files_read += 1;
        let mut seen = 0;
        while seen < SAMPLE_RECORDS {
            seen += 1;
            match source.next_record(self) {
                Ok(true) => self.records += 1,
                Ok(false) => break,
                Err(e @ ReadError::Record(_)) => {
                    self.first_error.get_or_insert(e.describe(&entry.rel));
                }
                Err(e) => {
                    self.first_error.get_or_insert(e.describe(&entry.rel));
                    break;
                }
            }
        }
    }

    /// The inferred columns in order of first appearance, with checked names.
    pub fn columns(&self, f: Features) -> Result<Vec<(String, ChType)>, String> {
        self.names
            .iter()
            .zip(&self.columns)
            .zip(&self.origins)
            .map(|((name, column), origin)| {
                if name == PROVENANCE_FILE || name == PROVENANCE_ROW {
                    return Err(format!(
                        "field `{name}` of {origin} is reserved for provenance"
                    ));
                }
                check_column(name).map_err(|e| format!("{origin}: {e}"))?;
                Ok((name.clone(), column_type(column, self.records, f)))
            })
            .collect()
    }
}
