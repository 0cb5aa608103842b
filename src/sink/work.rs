//! What the reading side hands the writing side, in file order: decisions to record, coalesced
//! inserts of small files, and large files to send batch by batch.

use super::encoder::Read;
use super::spill::Spilled;
use crate::ch::ident::TableRef;
use crate::manifest::EventRow;
use crate::outcome::FileOutcome;
use crate::rows::records::Reject;
use crate::rows::target::Target;
use crate::scan::FileEntry;
use std::sync::Arc;
use std::time::Instant;

/// A unit of work for the sending side, in file order.
pub enum Work {
    /// A decision that needs no insert: report `outcome`, record `event`.
    Note {
        outcome: FileOutcome,
        event: Option<Box<EventRow>>,
    },
    /// Small files of one table and column list, coalesced into one insert.
    Group(Group),
    /// A file sent batch by batch: after its first pass found no error, or in its only pass.
    Large(LargeFile),
    /// A file that fails (set aside as poison, or found bad) whose content an earlier run may
    /// have sent rows of before it died: like a note, but those rows are deleted from `table`
    /// first.
    Poison {
        outcome: FileOutcome,
        event: Box<EventRow>,
        table: TableRef,
    },
}

pub struct Group {
    pub target: Arc<Target>,
    pub columns: String,
    /// Every file of the group is one batch of this size (its rows never exceed it).
    pub batch_rows: u64,
    pub files: Vec<GroupFile>,
    /// The insert body: one or more `Native` blocks.
    pub body: Vec<u8>,
}

pub struct GroupFile {
    pub entry: FileEntry,
    pub hash: String,
    /// How often the content was forgotten: which ingestion of it this is.
    pub generation: u64,
    /// Records in the file, good and bad.
    pub records: u64,
    /// Bad records left out under `--on-error skip-row`.
    pub rejects: Vec<Reject>,
    pub started: Instant,
}

pub struct LargeFile {
    pub entry: FileEntry,
    pub target: Arc<Target>,
    pub hash: String,
    /// How often the content was forgotten: which ingestion of it this is.
    pub generation: u64,
    /// Not read yet: it is sent in its only pass, which checks its records as it goes; the
    /// counts below are learnt from it.
    pub one_pass: bool,
    pub records: u64,
    pub rejects: Vec<Reject>,
    /// Consecutive batches per insert, as the first pass cut them.
    pub per_insert: u64,
    /// The encoded rows, if the first pass could keep them.
    pub spilled: Option<Spilled>,
    pub batch_rows: u64,
    /// Some batches may already be in the table: ask it before sending.
    pub resume: bool,
    pub started: Instant,
}

impl GroupFile {
    pub fn rows(&self) -> u64 {
        self.records - self.rejects.len() as u64
    }
}

impl LargeFile {
    pub fn rows(&self) -> u64 {
        self.records - self.rejects.len() as u64
    }

    /// Keeps what reading the whole file found.
    pub fn learn(&mut self, read: Read) {
        self.records = read.records;
        self.rejects = read.rejects;
        self.per_insert = read.per_insert;
        self.one_pass = false;
    }

    pub fn from_group(f: GroupFile, target: Arc<Target>, batch_rows: u64) -> LargeFile {
        LargeFile {
            one_pass: false,
            per_insert: 1,
            spilled: None,
            entry: f.entry,
            target,
            hash: f.hash,
            generation: f.generation,
            records: f.records,
            rejects: f.rejects,
            batch_rows,
            resume: true,
            started: f.started,
        }
    }
}
