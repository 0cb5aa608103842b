//! Small files, read whole and converted in one pass into a shared block: many small files of one
//! table and column list make one insert (and so one part), each row keeping its own file's
//! provenance. A file with more rows than one batch goes batch by batch after all.

use super::{Candidate, Closed, Prepare};
use crate::manifest::FailureKind;
use crate::native::BlockBuilder;
use crate::rows::records::{Records, Reject};
use crate::rows::source;
use crate::rows::target::{ColumnPlan, Target};
use crate::sink::layout::SUB_BLOCK_BYTES;
use crate::sink::work::{Group, GroupFile, Work};
use bytes::Bytes;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Files up to this size are read once into memory, hashed and converted in one pass.
pub const SMALL_FILE_BYTES: u64 = 8 << 20;
/// A coalesced insert is sent once its encoded body reaches this size.
const GROUP_BODY_BYTES: usize = 16 << 20;

/// Small files being coalesced into one insert.
pub(super) struct GroupBuilder {
    target: Arc<Target>,
    /// The table and column list: files with the same key share the insert.
    key: String,
    plan: ColumnPlan,
    block: BlockBuilder,
    files: Vec<GroupFile>,
    rows: u64,
    /// Blocks already written out, when the rows are not sorted as one.
    body: Vec<u8>,
}

/// What converting a small file into the open group came to.
enum Converted {
    /// Its rows are in the group's block.
    Fits {
        rows: u64,
        records: u64,
        rejects: Vec<Reject>,
    },
    /// More rows than one batch: it goes batch by batch.
    TooLarge,
    /// Its rows would make the group larger than one insert: taken back.
    Overflows,
    /// Bad (or unreadable) content.
    Failed(FailureKind, Vec<String>),
}

impl Prepare {
    /// Converts a small file into the current group; a file that would overflow a group holding
    /// others goes into a fresh one, which takes any small file.
    pub(super) fn add_small(
        &mut self,
        c: Candidate,
        hash: String,
        bytes: Bytes,
    ) -> Result<(), Closed> {
        let converted = match self.convert_small(&c, &hash, &bytes)? {
            Converted::Overflows => {
                self.flush_group()?;
                self.convert_small(&c, &hash, &bytes)?
            }
            other => other,
        };
        match converted {
            Converted::Fits {
                rows,
                records,
                rejects,
            } => self.keep_small(c, hash, rows, records, rejects),
            Converted::TooLarge => self.large_after_all(c, &hash),
            Converted::Failed(kind, errors) => self.fail(&c, &hash, kind, &errors),
            Converted::Overflows => unreachable!("an empty group takes any small file"),
        }
    }

    fn convert_small(
        &mut self,
        c: &Candidate,
        hash: &str,
        bytes: &Bytes,
    ) -> Result<Converted, Closed> {
        let rel = &c.entry.rel;
        let mut source = match source::open_bytes(bytes.clone(), &c.entry, self.settings.limits) {
            Ok(s) => s,
            Err(e) => {
                let kind = match e.is_local() {
                    true => FailureKind::Transient,
                    false => FailureKind::Data,
                };
                return Ok(Converted::Failed(kind, vec![e.describe(rel)]));
            }
        };
        let plan = match source::column_plan(&c.target, &c.entry, &*source) {
            Ok(p) => p,
            Err(e) => {
                return Ok(Converted::Failed(
                    FailureKind::Data,
                    vec![format!("{rel}: {e}")],
                ));
            }
        };
        let key = format!("{} {}", c.target.table, plan.column_list());
        if self.group.as_ref().is_some_and(|g| g.key != key) {
            self.flush_group()?;
        }
        if let Err(e) = self.open_group(c, key, plan) {
            return Ok(Converted::Failed(
                FailureKind::Data,
                vec![format!("{rel}: {e}")],
            ));
        }
        let (batch_rows, policy) = (self.settings.batch_rows, self.settings.policy);
        let insert_rows = self.settings.insert_rows.max(batch_rows);
        let Some(g) = self.group.as_mut() else {
            unreachable!("a group was just opened")
        };
        let mark = g.block.rows();
        let mut records = Records::new(&mut *source, &mut g.plan, hash, policy, rel)
            .of_part(c.entry.segment.as_deref());
        let mut rows = 0u64;
        while rows <= batch_rows && records.next(&mut g.block).is_some() {
            rows += 1;
        }
        let verdict = match records.local_failure() {
            Some(local) => Err((FailureKind::Transient, vec![local])),
            None => records
                .verdict()
                .map_err(|errors| (FailureKind::Data, errors)),
        };
        let (total, rejects) = (records.records, std::mem::take(&mut records.rejects));
        let taken_back = match (rows > batch_rows, verdict) {
            (true, _) => Some(Converted::TooLarge),
            (false, Err((kind, errors))) => Some(Converted::Failed(kind, errors)),
            (false, Ok(())) if g.rows + rows > insert_rows && !g.files.is_empty() => {
                Some(Converted::Overflows)
            }
            (false, Ok(())) => None,
        };
        if let Some(converted) = taken_back {
            g.block.truncate(mark);
            return Ok(converted);
        }
        g.rows += rows;
        // Rows sorted by the table's key are written as one block when the group is sent.
        if g.plan.sort_columns().is_empty() && g.block.byte_size() >= SUB_BLOCK_BYTES {
            g.block.write_native(&mut g.body);
        }
        Ok(Converted::Fits {
            rows,
            records: total,
            rejects,
        })
    }

    /// Opens a group for this file's table and columns (`key`) unless one is open.
    fn open_group(&mut self, c: &Candidate, key: String, plan: ColumnPlan) -> Result<(), String> {
        if let Some(g) = self.group.as_mut() {
            // The same columns: this file's own plan (its field order, rules and metadata).
            g.plan = plan;
        } else {
            let block = plan.new_block(c.target.server_tz)?;
            self.group = Some(GroupBuilder {
                target: c.target.clone(),
                key,
                plan,
                block,
                files: Vec::new(),
                rows: 0,
                body: Vec::new(),
            });
        }
        Ok(())
    }

    /// A file whose rows are in the group: claimed, and the group sent once it is full.
    fn keep_small(
        &mut self,
        c: Candidate,
        hash: String,
        rows: u64,
        records: u64,
        rejects: Vec<Reject>,
    ) -> Result<(), Closed> {
        self.claim(&c, &hash);
        let generation = self.generation(&c, &hash);
        let insert_rows = self.settings.insert_rows.max(self.settings.batch_rows);
        let Some(g) = self.group.as_mut() else {
            unreachable!("the file's rows are in the open group")
        };
        debug_assert!(records >= rows);
        g.files.push(GroupFile {
            entry: c.entry,
            hash,
            generation,
            records,
            rejects,
            started: self.file_started,
        });
        let full = g.rows >= insert_rows || g.body.len() + g.block.byte_size() >= GROUP_BODY_BYTES;
        match full {
            true => self.flush_group(),
            false => Ok(()),
        }
    }

    /// A small file with more rows than one batch: sent batch by batch, in its only pass where
    /// the table allows, else read again.
    fn large_after_all(&mut self, c: Candidate, hash: &str) -> Result<(), Closed> {
        if c.target.one_pass {
            return self.only_pass(c, hash.to_owned());
        }
        let file = match self.open(&c) {
            Ok(f) => f,
            Err(noted) => return noted,
        };
        match self.first_pass(&c, file) {
            Ok(p) if p.hash == hash => self.ingest_large(c, p),
            Ok(_) => self.unsettled(&c),
            Err(e) => self.fail_for_now(&c, hash, e),
        }
    }

    /// Sends the open group, if it holds any file.
    pub(super) fn flush_group(&mut self) -> Result<(), Closed> {
        let Some(mut g) = self.group.take() else {
            return Ok(());
        };
        if g.files.is_empty() {
            return Ok(());
        }
        if g.block.rows() > 0 {
            g.body.reserve_exact(g.block.byte_size() + 64 * 1024);
            g.block.write_native_to(g.plan.sort_columns(), &mut g.body);
        }
        let columns = g.plan.column_list();
        self.send(Work::Group(Group {
            target: g.target,
            columns,
            batch_rows: self.settings.batch_rows,
            files: g.files,
            body: g.body,
        }))
    }
}

/// Reads a small file whole, leaving its position at the start for a pass that may follow.
/// `None` if its size changed since it was observed.
pub(super) fn read_small(file: &File, size: u64) -> std::io::Result<Option<Bytes>> {
    let mut buf = vec![0u8; size as usize + 1];
    let mut have = 0;
    while have < buf.len() {
        match file.read_at(&mut buf[have..], have as u64) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if have as u64 != size {
        return Ok(None);
    }
    buf.truncate(have);
    Ok(Some(Bytes::from(buf)))
}
