//! The first pass over a large file: hashes it and converts every record before any row is sent,
//! so that a bad record fails the file with nothing inserted; it cuts the rows into batches and
//! inserts as they will be sent, and keeps them on disk where it can.

use crate::config::ErrorPolicy;
use crate::formats::Limits;
use crate::progress::Reading;
use crate::rows::records::{Records, Reject};
use crate::rows::source::{HashedSource, column_plan, hash_file};
use crate::rows::target::Target;
use crate::scan::FileEntry;
use crate::sink::layout::{Discard, Layout, Out, encode_batches};
use crate::sink::spill::{SpillOut, Spilled};
use std::fs::File;
use std::path::Path;

/// What a full pass over a file found.
#[derive(Debug, Default)]
pub struct Pass {
    pub hash: String,
    /// Records read, good and bad.
    pub records: u64,
    /// Bad records left out under `--on-error skip-row`.
    pub rejects: Vec<Reject>,
    /// Set when the file fails as a whole: the errors to report.
    pub failure: Option<Vec<String>>,
    /// Consecutive batches per insert.
    pub per_insert: u64,
    /// The rows, encoded, when they could be kept on disk.
    pub spilled: Option<Spilled>,
    /// How the file was read where the file decided it (a sniffed dialect, an encoding).
    pub described: Option<String>,
}

impl Pass {
    /// Rows the table receives from this file.
    pub fn rows(&self) -> u64 {
        self.records - self.rejects.len() as u64
    }
}

/// Where and how a first pass reads a file.
pub struct FirstPass<'a> {
    pub entry: &'a FileEntry,
    pub limits: Limits,
    pub target: &'a Target,
    pub policy: ErrorPolicy,
    pub batch_rows: u64,
    pub insert_rows: u64,
    /// A folder to keep the encoded rows in, if they are to be kept.
    pub spill_dir: Option<&'a Path>,
    /// Counts the bytes read for the progress display.
    pub progress: Option<Reading>,
}

impl FirstPass<'_> {
    /// Hashes and checks every record of the opened file, cutting its rows into batches and
    /// inserts as they will be sent, and keeps them on disk where it can.
    pub fn run(&self, file: File) -> std::io::Result<Pass> {
        let rel = &self.entry.rel;
        let mut pass = Pass::default();
        let hashable = file.try_clone()?;
        let mut opened =
            match HashedSource::open_part(file, self.entry, self.limits, self.progress.clone()) {
                Ok(s) => s,
                Err(e) if e.is_local() => return Err(std::io::Error::other(e.describe(rel))),
                Err(e) => {
                    pass.failure = Some(vec![e.describe(rel)]);
                    pass.hash = hash_file(&hashable)?;
                    return Ok(pass);
                }
            };
        // Rows read in place are kept only if the file reads the same before and after: what
        // is sent from the spill is then what was hashed.
        let before = match opened.in_place() && self.spill_dir.is_some() {
            true => Some(hash_file(&hashable)?),
            false => None,
        };
        pass.described = opened.source.describe();
        match column_plan(self.target, self.entry, &*opened.source) {
            Err(e) => pass.failure = Some(vec![format!("{rel}: {e}")]),
            Ok(mut plan) => {
                let mut block = plan
                    .new_block(self.target.server_tz)
                    .map_err(std::io::Error::other)?;
                let layout = Layout {
                    batch_rows: self.batch_rows,
                    insert_rows: self.insert_rows,
                    key: self.target.sort_key(&plan),
                    whole_inserts: self.target.whole_inserts,
                };
                let mut spill = self.spill_dir.and_then(SpillOut::create);
                let out: &mut dyn Out = match &mut spill {
                    Some(s) => s,
                    None => &mut Discard,
                };
                let mut records =
                    Records::new(&mut *opened.source, &mut plan, "", self.policy, rel)
                        .of_part(self.entry.segment.as_deref())
                        .on_jobs(self.limits.jobs, self.target.server_tz);
                pass.per_insert = encode_batches(&mut records, &mut block, &layout, None, &[], out)
                    .map_err(std::io::Error::other)?;
                if let Some(local) = records.local_failure() {
                    return Err(std::io::Error::other(local));
                }
                pass.failure = records.verdict().err();
                pass.records = records.records;
                pass.rejects = std::mem::take(&mut records.rejects);
                drop(records);
                if pass.failure.is_none() {
                    pass.spilled = spill.and_then(|s| s.finish(plan.column_list()));
                }
            }
        }
        pass.hash = opened.finish()?;
        if before.is_some_and(|h| h != pass.hash) {
            pass.spilled = None;
        }
        Ok(pass)
    }
}
