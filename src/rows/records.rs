//! Reading a file's records into rows under the error policy: by default one bad record fails the
//! whole file; with `--on-error skip-row` bad records are set aside, up to a limit, and reported.

use super::columnar::{Columnar, Fill, Room};
use super::parallel::{Next, Parallel};
use super::target::{ColumnPlan, RowWriter};
use crate::config::ErrorPolicy;
use crate::formats::{ReadError, RecordError, RecordSource};
use crate::native::BlockBuilder;
use chrono_tz::Tz;

/// How many errors a failing file reports.
const REPORTED_ERRORS: usize = 5;

impl ErrorPolicy {
    fn keep_reading(&self, errors: usize) -> bool {
        match self {
            ErrorPolicy::FailFile => errors < REPORTED_ERRORS,
            ErrorPolicy::SkipRow { max_errors, .. } => (errors as u64) <= *max_errors,
        }
    }
}

/// A record left out of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub error: RecordError,
    /// The offending value, shortened, when one field was at fault.
    pub value: String,
}

/// The result of reading one record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// A good record, appended as a row with this ordinal.
    Row(u64),
    /// A bad record, set aside.
    Skipped,
    /// The end of the file, or reading must stop.
    End,
}

/// Rows read from one file so far.
pub struct Records<'a> {
    source: &'a mut dyn RecordSource,
    plan: &'a mut ColumnPlan,
    file_id: u64,
    policy: ErrorPolicy,
    rel: &'a str,
    /// Records consumed, good and bad: the next record's ordinal.
    pub records: u64,
    pub rejects: Vec<Reject>,
    /// Why reading stopped before the end of the file, if it did.
    pub broken: Option<ReadError>,
    /// The ordinal of the first record read (a grown file's new part starts after the others).
    first_row: u64,
    /// How far the reader's line numbers are from the file's (a part read after a header).
    line_shift: i64,
    /// Whether (and how) records are read column by column, once decided.
    columnar: Option<Option<Columnar>>,
    /// Records to read one by one before trying columns again.
    by_record: usize,
    /// The rest of the file read on other threads, once started.
    parallel: Option<Parallel>,
}

impl<'a> Records<'a> {
    pub fn new(
        source: &'a mut dyn RecordSource,
        plan: &'a mut ColumnPlan,
        hash: &str,
        policy: ErrorPolicy,
        rel: &'a str,
    ) -> Records<'a> {
        plan.reset_fields();
        Records {
            source,
            plan,
            file_id: crate::hash::file_id(hash),
            policy,
            rel,
            records: 0,
            rejects: Vec::new(),
            broken: None,
            first_row: 0,
            line_shift: 0,
            columnar: None,
            by_record: 0,
            parallel: None,
        }
    }

    /// Reads the rest of the file on `jobs` threads where it can be (see `Parallel::start`),
    /// with blocks for a server in `tz`; the records, rows and errors are the same either way.
    pub fn on_jobs(mut self, jobs: usize, tz: Tz) -> Records<'a> {
        if self.first_row == 0 && self.line_shift == 0 {
            self.parallel = Parallel::start(self.source, self.plan, tz, jobs);
        }
        self
    }

    /// Reads the part of a grown file an entry stands for: its records are numbered on from the
    /// file's earlier ones, and errors name the file's own lines.
    pub fn of_part(mut self, part: Option<&crate::append::Segment>) -> Records<'a> {
        if let Some(seg) = part {
            self.first_row = seg.from_row;
            self.line_shift = seg.line_shift();
        }
        self
    }

    fn shift(&self, line: Option<u64>) -> Option<u64> {
        line.map(|l| (l as i64 + self.line_shift).max(1) as u64)
    }

    pub fn policy(&self) -> ErrorPolicy {
        self.policy
    }

    /// Reads one record: a good one is appended to `block` as a row.
    pub fn step(&mut self, block: &mut BlockBuilder) -> Step {
        if self.broken.is_some() {
            return Step::End;
        }
        let ordinal = self.records;
        if let Some(p) = &mut self.parallel {
            let one = Room {
                rows: 1,
                bytes: None,
            };
            let at = (self.file_id, self.first_row + ordinal);
            return match p.next(block, self.plan, at, one, false) {
                Next::Rows(_) => {
                    self.records += 1;
                    Step::Row(ordinal)
                }
                Next::Reject(error, value) => self.reject(error, value),
                Next::Broken(e) => {
                    self.broken = Some(e);
                    Step::End
                }
                Next::End | Next::NotRows => Step::End,
            };
        }
        let mut writer = RowWriter::new(self.plan, block);
        let result = self.source.next_record(&mut writer);
        let bad_value = writer.take_bad_value();
        match result {
            Ok(true) => {
                self.records += 1;
                self.plan
                    .stamp(block, self.file_id, self.first_row + ordinal);
                Step::Row(ordinal)
            }
            Ok(false) => Step::End,
            Err(ReadError::Record(mut error)) => {
                block.abort_row();
                error.line = self.shift(error.line);
                self.reject(error, bad_value.unwrap_or_default())
            }
            Err(mut e) => {
                block.abort_row();
                if let ReadError::File { line, .. } = &mut e {
                    *line = self.shift(*line);
                }
                self.broken = Some(e);
                Step::End
            }
        }
    }

    /// Sets the next record aside as bad.
    fn reject(&mut self, mut error: RecordError, value: String) -> Step {
        error.record = self.records;
        self.records += 1;
        self.rejects.push(Reject { error, value });
        match self.policy.keep_reading(self.rejects.len()) {
            true => Step::Skipped,
            false => Step::End,
        }
    }

    /// Appends as many of the next records to `block` at once as `room` allows, column by column,
    /// where the reader decodes columns and they convert whole: the first one's ordinal and how
    /// many. `None`: read the next record with `step`.
    pub fn step_many(&mut self, block: &mut BlockBuilder, room: Room) -> Option<(u64, usize)> {
        if self.broken.is_some() || room.rows == 0 {
            return None;
        }
        if let Some(p) = &mut self.parallel {
            let first = self.records;
            let at = (self.file_id, self.first_row + first);
            return match p.next(block, self.plan, at, room, true) {
                Next::Rows(n) => {
                    self.records += n as u64;
                    Some((first, n))
                }
                _ => None,
            };
        }
        if self.by_record > 0 {
            self.by_record -= 1;
            return None;
        }
        let columnar = match &self.columnar {
            Some(c) => c.as_ref()?,
            None => self
                .columnar
                .insert(Columnar::new(self.source, self.plan, block))
                .as_ref()?,
        };
        let first = self.records;
        let ordinal = self.first_row + first;
        match columnar.fill(self.source, self.plan, block, room, self.file_id, ordinal) {
            Fill::Rows(n) => {
                self.records += n as u64;
                Some((first, n))
            }
            // The record `step` reads next is the first of them.
            Fill::Refused(n) => {
                self.by_record = n - 1;
                None
            }
            Fill::Nothing => None,
        }
    }

    /// Appends the next good record to `block` and returns its ordinal; `None` at the end of
    /// the file or when reading must stop (a broken file, too many errors).
    pub fn next(&mut self, block: &mut BlockBuilder) -> Option<u64> {
        loop {
            match self.step(block) {
                Step::Row(ordinal) => return Some(ordinal),
                Step::Skipped => {}
                Step::End => return None,
            }
        }
    }

    /// Why reading stopped, if the disk or the machine stopped it rather than the content: the
    /// file is then tried again, not failed for its data.
    pub fn local_failure(&self) -> Option<String> {
        self.broken
            .as_ref()
            .filter(|b| b.is_local())
            .map(|b| b.describe(self.rel))
    }

    /// After reading: `Err` with the errors to report if the file must fail as a whole.
    pub fn verdict(&self) -> Result<(), Vec<String>> {
        let describe = |n: usize| -> Vec<String> {
            self.rejects
                .iter()
                .take(n)
                .map(|r| r.error.describe(self.rel))
                .collect()
        };
        if let Some(broken) = &self.broken {
            let mut errors = describe(REPORTED_ERRORS - 1);
            errors.push(broken.describe(self.rel));
            return Err(errors);
        }
        let bad = self.rejects.len() as u64;
        match self.policy {
            ErrorPolicy::FailFile if bad > 0 => Err(describe(REPORTED_ERRORS)),
            ErrorPolicy::SkipRow { max_errors, .. } if bad > max_errors => {
                let mut errors = vec![format!(
                    "{}: more than {max_errors} bad records (--max-errors); first ones:",
                    self.rel
                )];
                errors.extend(describe(REPORTED_ERRORS));
                Err(errors)
            }
            ErrorPolicy::SkipRow {
                max_ratio: Some(ratio),
                ..
            } if self.records > 0 && bad as f64 / self.records as f64 > ratio => {
                let mut errors = vec![format!(
                    "{}: {bad} of {} records are bad, more than --max-error-ratio {ratio}; first ones:",
                    self.rel, self.records
                )];
                errors.extend(describe(REPORTED_ERRORS));
                Err(errors)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_file_reads_only_enough_errors_to_report() {
        let p = ErrorPolicy::FailFile;
        assert!(p.keep_reading(4));
        assert!(!p.keep_reading(5));
        let s = ErrorPolicy::SkipRow {
            max_errors: 10,
            max_ratio: None,
        };
        assert!(s.keep_reading(10));
        assert!(!s.keep_reading(11));
    }
}
