//! The second pass over a large file, on its own thread: convert the rows of the batches still to
//! be sent into `Native` blocks and stream them to the sender while it inserts the previous ones.

use super::encode::Target;
use super::prepare::SUB_BLOCK_BYTES;
use super::read::{HashedSource, column_plan};
use super::records::{ErrorPolicy, Records, Step};
use crate::formats::Limits;
use crate::native::{BlockBuilder, Sink};
use crate::scan::FileEntry;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What to send of one batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchPlan {
    /// Fully in the table already.
    Skip,
    /// Not in the table at all.
    Full,
    /// Partly in the table: send the rows whose ordinals are not in the set.
    Fill(HashSet<u64>),
}

#[derive(Debug)]
pub enum Msg {
    /// Sent first: the INSERT's column list, and how many consecutive batches go in one insert.
    Columns {
        list: String,
        per_insert: u64,
    },
    Begin {
        batch: u64,
    },
    Data(Bytes),
    End {
        batch: u64,
        rows: u64,
    },
    /// The file no longer reads as it did in the first pass.
    Error(String),
    /// Every record was read; the hash of what was read.
    Done {
        hash: String,
    },
}

pub struct Job {
    pub entry: FileEntry,
    pub target: Arc<Target>,
    pub hash: String,
    pub batch_rows: u64,
    /// Rows one insert may carry.
    pub insert_rows: u64,
    /// Encoded bytes per row, as the first pass measured them.
    pub row_bytes: u64,
    pub plans: Vec<BatchPlan>,
    pub limits: Limits,
    pub policy: ErrorPolicy,
}

/// The rows of one insert are sorted together when the table's key allows it; this bounds the
/// memory that takes (a larger insert is sent as several sorted blocks, which the server sorts).
const SORTED_INSERT_BYTES: u64 = 32 << 20;

impl Job {
    /// Consecutive batches per insert: as many as `insert_rows` allows, and when sorting, as many
    /// as fit the sort budget.
    fn per_insert(&self, sorting: bool) -> u64 {
        let by_rows = (self.insert_rows / self.batch_rows).max(1);
        if !sorting {
            return by_rows;
        }
        let batch_bytes = self.batch_rows.saturating_mul(self.row_bytes.max(1));
        (SORTED_INSERT_BYTES / batch_bytes).clamp(1, by_rows)
    }
}

pub fn spawn(job: Job, tx: mpsc::Sender<Msg>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        if let Err(e) = encode(&job, &tx) {
            let _ = tx.blocking_send(Msg::Error(e));
        }
    })
}

/// The receiver went away (the insert failed); stop quietly.
const GONE: &str = "";

/// Hands encoded bytes on in pieces as a block is written.
struct Chunks<'a> {
    buf: Vec<u8>,
    tx: &'a mpsc::Sender<Msg>,
    gone: bool,
}

impl Sink for Chunks<'_> {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn checkpoint(&mut self) {
        if self.buf.len() >= CHUNK_BYTES {
            self.send();
        }
    }
}

/// Pieces are sent once this large; they are allocated with room to spare so they never grow.
const CHUNK_BYTES: usize = 1 << 20;
const CHUNK_ROOM: usize = CHUNK_BYTES + CHUNK_BYTES / 2;

impl Chunks<'_> {
    fn send(&mut self) {
        if self.buf.is_empty() || self.gone {
            return;
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_ROOM));
        self.gone = self
            .tx
            .blocking_send(Msg::Data(Bytes::from(piece)))
            .is_err();
    }
}

fn encode(job: &Job, tx: &mpsc::Sender<Msg>) -> Result<(), String> {
    let send = |m: Msg| tx.blocking_send(m).map_err(|_| GONE.to_owned());
    let rel = &job.entry.rel;
    let mut opened = HashedSource::open(&job.entry.path, job.entry.detected, job.limits)
        .map_err(|e| e.describe(rel))?;
    let mut plan = column_plan(&job.target, job.entry.detected.format, &*opened.source)
        .map_err(|e| format!("{rel}: {e}"))?;
    let mut block = plan.new_block(job.target.server_tz)?;
    let key = plan.sort_columns().to_vec();
    let per_insert = job.per_insert(!key.is_empty());
    // Unsorted rows go in small blocks; sorted ones wait for their insert's end.
    let block_bytes = match key.is_empty() {
        true => SUB_BLOCK_BYTES,
        false => SORTED_INSERT_BYTES as usize,
    };
    send(Msg::Columns {
        list: plan.column_list(),
        per_insert,
    })?;
    let flush = |block: &mut BlockBuilder| -> Result<(), String> {
        if block.rows() == 0 {
            return Ok(());
        }
        let mut out = Chunks {
            buf: Vec::with_capacity(CHUNK_ROOM),
            tx,
            gone: false,
        };
        block.write_native_to(&key, &mut out);
        out.send();
        if out.gone {
            Err(GONE.to_owned())
        } else {
            Ok(())
        }
    };
    let mut records = Records::new(&mut *opened.source, &mut plan, &job.hash, job.policy, rel);
    let group_rows = job.batch_rows * per_insert;
    // The batch being sent, and its rows so far.
    let mut open: Option<(u64, u64)> = None;
    loop {
        // Edges are decided by the next record's ordinal, so nothing read belongs to the batch
        // or insert before it.
        let next = records.records;
        let batch_edge = next.is_multiple_of(job.batch_rows);
        if next.is_multiple_of(group_rows) || (key.is_empty() && batch_edge) {
            flush(&mut block)?;
        }
        if batch_edge && let Some((b, rows)) = open.take() {
            send(Msg::End { batch: b, rows })?;
        }
        let before = block.rows();
        let ordinal = match records.step(&mut block) {
            Step::Row(ordinal) => ordinal,
            Step::Skipped if job.policy == ErrorPolicy::FailFile => break,
            Step::Skipped => continue,
            Step::End => break,
        };
        let batch = ordinal / job.batch_rows;
        let keep = match job.plans.get(batch as usize).unwrap_or(&BatchPlan::Full) {
            BatchPlan::Skip => false,
            BatchPlan::Full => true,
            BatchPlan::Fill(landed) => !landed.contains(&ordinal),
        };
        if !keep {
            block.truncate(before);
            continue;
        }
        match &mut open {
            Some((_, rows)) => *rows += 1,
            None => {
                send(Msg::Begin { batch })?;
                open = Some((batch, 1));
            }
        }
        if block.byte_size() >= block_bytes {
            flush(&mut block)?;
        }
    }
    if let Err(errors) = records.verdict() {
        return Err(errors.join("; "));
    }
    if let Some((b, rows)) = open {
        flush(&mut block)?;
        send(Msg::End { batch: b, rows })?;
    }
    flush(&mut block)?;
    let hash = opened
        .finish(&job.entry.path, job.entry.size)
        .map_err(|e| format!("{rel}: {e}"))?;
    send(Msg::Done { hash })
}
