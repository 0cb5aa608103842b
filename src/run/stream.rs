//! The second pass over a large file, on its own thread: convert the rows of the batches still to
//! be sent into `Native` blocks and stream them to the sender while it inserts the previous ones.

use super::encode::Target;
use super::prepare::SUB_BLOCK_BYTES;
use super::read::{HashedSource, column_plan};
use super::records::{ErrorPolicy, Records, Step};
use crate::formats::Limits;
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
    /// The INSERT's column list, sent first.
    Columns(String),
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
    pub plans: Vec<BatchPlan>,
    pub limits: Limits,
    pub policy: ErrorPolicy,
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

fn encode(job: &Job, tx: &mpsc::Sender<Msg>) -> Result<(), String> {
    let send = |m: Msg| tx.blocking_send(m).map_err(|_| GONE.to_owned());
    let rel = &job.entry.rel;
    let mut opened = HashedSource::open(&job.entry.path, job.entry.detected, job.limits)
        .map_err(|e| e.describe(rel))?;
    let mut plan = column_plan(&job.target, job.entry.detected.format, &*opened.source)
        .map_err(|e| format!("{rel}: {e}"))?;
    let mut block = plan.new_block(job.target.server_tz)?;
    send(Msg::Columns(plan.column_list()))?;
    let mut records = Records::new(&mut *opened.source, &mut plan, &job.hash, job.policy, rel);
    // The batch being sent, and its rows so far.
    let mut open: Option<(u64, u64)> = None;
    loop {
        if let Some((b, rows)) = open
            && records.records.is_multiple_of(job.batch_rows)
        {
            flush(&mut block, &send)?;
            send(Msg::End { batch: b, rows })?;
            open = None;
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
        if block.byte_size() >= SUB_BLOCK_BYTES {
            flush(&mut block, &send)?;
        }
    }
    if let Err(errors) = records.verdict() {
        return Err(errors.join("; "));
    }
    if let Some((b, rows)) = open {
        flush(&mut block, &send)?;
        send(Msg::End { batch: b, rows })?;
    }
    let hash = opened
        .finish(&job.entry.path, job.entry.size)
        .map_err(|e| format!("{rel}: {e}"))?;
    send(Msg::Done { hash })
}

fn flush(
    block: &mut crate::native::BlockBuilder,
    send: &impl Fn(Msg) -> Result<(), String>,
) -> Result<(), String> {
    if block.rows() == 0 {
        return Ok(());
    }
    let mut buf = Vec::with_capacity(block.byte_size() + 1024);
    block.write_native(&mut buf);
    send(Msg::Data(Bytes::from(buf)))
}
