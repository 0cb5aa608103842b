//! Cutting a file's rows into batches, inserts and `Native` blocks — the same way in the first
//! pass (which may spill them to disk) and the second (which streams them to the sender while it
//! inserts the previous ones).

use super::encode::Target;
use super::prepare::SUB_BLOCK_BYTES;
use super::read::{HashedSource, column_plan};
use super::records::{ErrorPolicy, Records, Step};
use crate::crashes::{Crashes, Pass};
use crate::formats::Limits;
use crate::native::{BlockBuilder, Sink};
use crate::scan::FileEntry;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// Sent first: the INSERT's column list.
    Columns(String),
    Begin {
        batch: u64,
    },
    Data(Bytes),
    End {
        batch: u64,
        rows: u64,
    },
    /// The rows stopped coming.
    Error(Fault),
    /// Every record was read; the hash of what was read.
    Done {
        hash: String,
    },
}

/// Why a file's rows stopped coming before its end.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The data file no longer reads as its first pass did: its content changed.
    Changed(String),
    /// A local failure that says nothing about the file (reading the spill file back).
    Local(String),
}

/// Where a file's encoded rows go, batch by batch: the sender, a spill file, or nowhere (a pass
/// that only checks the rows).
pub trait Out {
    /// Whether blocks are kept; a pass that keeps none holds few rows at a time.
    fn keeps(&self) -> bool {
        true
    }
    fn begin(&mut self, batch: u64) -> Result<(), String>;
    /// Writes the block (its rows sorted by `key`) and empties it.
    fn block(&mut self, block: &mut BlockBuilder, key: &[usize]) -> Result<(), String>;
    fn end(&mut self, batch: u64, rows: u64) -> Result<(), String>;
}

/// A pass that keeps no rows.
pub struct Discard;

impl Out for Discard {
    fn keeps(&self) -> bool {
        false
    }
    fn begin(&mut self, _: u64) -> Result<(), String> {
        Ok(())
    }
    fn block(&mut self, block: &mut BlockBuilder, _: &[usize]) -> Result<(), String> {
        block.truncate(0);
        Ok(())
    }
    fn end(&mut self, _: u64, _: u64) -> Result<(), String> {
        Ok(())
    }
}

/// The rows of one insert are sorted together when the table's key allows it; this bounds the
/// memory that takes (a larger insert is sent as several sorted blocks, which the server sorts).
const SORTED_INSERT_BYTES: u64 = 32 << 20;

/// A pass that keeps no rows empties its block this often.
const CHECK_ROWS: usize = 4096;

/// How a file's rows are cut up.
#[derive(Debug, Clone)]
pub struct Layout {
    pub batch_rows: u64,
    /// Rows one insert may carry.
    pub insert_rows: u64,
    /// Block columns to sort each insert's rows by (empty: leave the order to the server).
    pub key: Vec<usize>,
}

impl Layout {
    /// Consecutive batches per insert when rows are not sorted here.
    fn by_rows(&self) -> u64 {
        (self.insert_rows / self.batch_rows).max(1)
    }

    /// Consecutive batches per insert when rows are sorted: as many as `insert_rows` allows and
    /// the sort budget holds, judged by the encoded size of the first batch's `rows`. The first
    /// pass decides it, so a file is always cut the same way.
    fn sorted(&self, first_batch_bytes: u64, rows: u64) -> u64 {
        if rows == 0 {
            return 1;
        }
        let row_bytes = (first_batch_bytes / rows).max(1);
        let batch_bytes = self.batch_rows.saturating_mul(row_bytes);
        (SORTED_INSERT_BYTES / batch_bytes).clamp(1, self.by_rows())
    }
}

/// Encodes the rows `plans` asks for (every row where it says nothing) into `out`, an insert
/// every `per_insert` batches; `per_insert` is decided from the first batch when not given.
/// Returns it. A bad record under the default policy stops the output but not the reading, so
/// that the errors can be reported.
pub fn encode_batches(
    records: &mut Records,
    block: &mut BlockBuilder,
    layout: &Layout,
    per_insert: Option<u64>,
    plans: &[BatchPlan],
    out: &mut dyn Out,
) -> Result<u64, String> {
    let batch_rows = layout.batch_rows;
    let key = &layout.key[..];
    let sorting = !key.is_empty();
    let mut per_insert = match sorting {
        true => per_insert,
        false => Some(per_insert.unwrap_or_else(|| layout.by_rows())),
    };
    // Unsorted rows go in small blocks; sorted ones wait for their insert's end.
    let block_bytes = if sorting {
        SORTED_INSERT_BYTES as usize
    } else {
        SUB_BLOCK_BYTES
    };
    // Encoded bytes of the first batch written out so far, while it is measured.
    let mut measured = 0u64;
    let mut keeping = out.keeps();
    // The batch being written, and its rows so far.
    let mut open: Option<(u64, u64)> = None;
    loop {
        // Edges are decided by the next record's ordinal, so nothing read belongs to the batch
        // or insert before it.
        let next = records.records;
        let batch_edge = next.is_multiple_of(batch_rows);
        if per_insert.is_none() && next == batch_rows {
            let rows = open.map_or(0, |(_, rows)| rows);
            per_insert = Some(layout.sorted(measured + block.byte_size() as u64, rows));
        }
        let insert_edge =
            per_insert.is_some_and(|p| next.is_multiple_of(batch_rows.saturating_mul(p)));
        if insert_edge || (!sorting && batch_edge) {
            let measuring = per_insert.is_none().then_some(&mut measured);
            flush(block, out, key, measuring, keeping)?;
        }
        if batch_edge && let Some((b, rows)) = open.take() {
            out.end(b, rows)?;
        }
        let before = block.rows();
        let ordinal = match records.step(block) {
            Step::Row(ordinal) => ordinal,
            Step::Skipped if records.policy() == ErrorPolicy::FailFile => {
                keeping = false;
                block.truncate(0);
                continue;
            }
            Step::Skipped => continue,
            Step::End => break,
        };
        let batch = ordinal / batch_rows;
        let keep = match plans.get(batch as usize).unwrap_or(&BatchPlan::Full) {
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
                out.begin(batch)?;
                open = Some((batch, 1));
            }
        }
        let full = match keeping || per_insert.is_none() {
            true => block.byte_size() >= block_bytes,
            false => block.rows() >= CHECK_ROWS,
        };
        if full {
            let measuring = per_insert.is_none().then_some(&mut measured);
            flush(block, out, key, measuring, keeping)?;
        }
    }
    let per_insert = per_insert.unwrap_or_else(|| {
        let rows = open.map_or(0, |(_, rows)| rows);
        layout.sorted(measured + block.byte_size() as u64, rows)
    });
    if let Some((b, rows)) = open {
        flush(block, out, key, None, keeping)?;
        out.end(b, rows)?;
    }
    flush(block, out, key, None, keeping)?;
    Ok(per_insert)
}

/// Hands the block's rows to `out` (or drops them when not `keeping`), adding their encoded size
/// to `measured` if given.
fn flush(
    block: &mut BlockBuilder,
    out: &mut dyn Out,
    key: &[usize],
    measured: Option<&mut u64>,
    keeping: bool,
) -> Result<(), String> {
    if block.rows() == 0 {
        return Ok(());
    }
    if let Some(m) = measured {
        *m += block.byte_size() as u64;
    }
    match keeping {
        true => out.block(block, key),
        false => {
            block.truncate(0);
            Ok(())
        }
    }
}

pub struct Job {
    pub entry: FileEntry,
    pub target: Arc<Target>,
    pub hash: String,
    pub batch_rows: u64,
    /// Rows one insert may carry.
    pub insert_rows: u64,
    /// Consecutive batches per insert, as the first pass decided.
    pub per_insert: u64,
    pub plans: Vec<BatchPlan>,
    pub limits: Limits,
    pub policy: ErrorPolicy,
    /// Where the file is noted while this pass reads it (not while it waits for the sender).
    pub crashes: Arc<Mutex<Crashes>>,
}

pub fn spawn(job: Job, tx: mpsc::Sender<Msg>) -> std::io::Result<std::thread::JoinHandle<()>> {
    super::spawn_reading("stream", move || {
        let rel = job.entry.rel.clone();
        crashes(&job.crashes).enter(Pass::Second, &job.entry);
        let result = encode(&job, &tx);
        match &result {
            Ok(()) => crashes(&job.crashes).leave(Pass::Second, &rel),
            Err(_) => crashes(&job.crashes).pause(Pass::Second),
        }
        if let Err(e) = result {
            let _ = tx.blocking_send(Msg::Error(e));
        }
    })
}

fn crashes(c: &Mutex<Crashes>) -> MutexGuard<'_, Crashes> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends to the sender, waiting for room; waiting is not reading the file.
fn blocking_send(tx: &mpsc::Sender<Msg>, crashes: &Mutex<Crashes>, m: Msg) -> bool {
    self::crashes(crashes).pause(Pass::Second);
    let sent = tx.blocking_send(m).is_ok();
    self::crashes(crashes).resume(Pass::Second);
    sent
}

/// The receiver went away (the insert failed); stop quietly.
const GONE: &str = "";

/// Hands encoded bytes on to the sender in pieces as a block is written.
struct Chunks<'a> {
    buf: Vec<u8>,
    tx: &'a mpsc::Sender<Msg>,
    crashes: &'a Mutex<Crashes>,
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
pub const CHUNK_BYTES: usize = 1 << 20;
const CHUNK_ROOM: usize = CHUNK_BYTES + CHUNK_BYTES / 2;

impl Chunks<'_> {
    fn send(&mut self) {
        if self.buf.is_empty() || self.gone {
            return;
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_ROOM));
        self.gone = !blocking_send(self.tx, self.crashes, Msg::Data(Bytes::from(piece)));
    }
}

/// Blocks and batch edges go straight to the sender.
struct ToSender<'a> {
    tx: &'a mpsc::Sender<Msg>,
    crashes: &'a Mutex<Crashes>,
}

impl ToSender<'_> {
    fn send(&self, m: Msg) -> Result<(), String> {
        match blocking_send(self.tx, self.crashes, m) {
            true => Ok(()),
            false => Err(GONE.to_owned()),
        }
    }
}

impl Out for ToSender<'_> {
    fn begin(&mut self, batch: u64) -> Result<(), String> {
        self.send(Msg::Begin { batch })
    }

    fn block(&mut self, block: &mut BlockBuilder, key: &[usize]) -> Result<(), String> {
        let mut out = Chunks {
            buf: Vec::with_capacity(CHUNK_ROOM),
            tx: self.tx,
            crashes: self.crashes,
            gone: false,
        };
        block.write_native_to(key, &mut out);
        out.send();
        match out.gone {
            true => Err(GONE.to_owned()),
            false => Ok(()),
        }
    }

    fn end(&mut self, batch: u64, rows: u64) -> Result<(), String> {
        // The crash tests' death in the middle of a second pass, some batches sent.
        fail::fail_point!("abort-second-pass", |_| std::process::abort());
        self.send(Msg::End { batch, rows })
    }
}

/// Reads the file again and sends its rows. Anything that makes it read otherwise than its
/// first pass did means the file changed; only a failure of the disk is local.
fn encode(job: &Job, tx: &mpsc::Sender<Msg>) -> Result<(), Fault> {
    let rel = &job.entry.rel;
    crate::rendezvous("second-pass");
    let changed = |e: String| Fault::Changed(e);
    let file = job
        .entry
        .open()
        .map_err(|e| changed(format!("{rel}: {e}")))?;
    let mut opened =
        HashedSource::open(file, &job.entry, job.limits, None).map_err(|e| match e.is_local() {
            true => Fault::Local(e.describe(rel)),
            false => changed(e.describe(rel)),
        })?;
    let mut plan = column_plan(&job.target, &job.entry, &*opened.source)
        .map_err(|e| changed(format!("{rel}: {e}")))?;
    let mut block = plan.new_block(job.target.server_tz).map_err(changed)?;
    let layout = Layout {
        batch_rows: job.batch_rows,
        insert_rows: job.insert_rows,
        key: plan.sort_columns().to_vec(),
    };
    let mut out = ToSender {
        tx,
        crashes: &job.crashes,
    };
    out.send(Msg::Columns(plan.column_list()))
        .map_err(changed)?;
    let mut records = Records::new(&mut *opened.source, &mut plan, &job.hash, job.policy, rel);
    encode_batches(
        &mut records,
        &mut block,
        &layout,
        Some(job.per_insert),
        &job.plans,
        &mut out,
    )
    .map_err(changed)?;
    if let Some(local) = records.local_failure() {
        return Err(Fault::Local(local));
    }
    if let Err(errors) = records.verdict() {
        return Err(changed(errors.join("; ")));
    }
    let hash = opened
        .finish()
        .map_err(|e| Fault::Local(format!("{rel}: {e}")))?;
    out.send(Msg::Done { hash }).map_err(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(batch_rows: u64, insert_rows: u64) -> Layout {
        Layout {
            batch_rows,
            insert_rows,
            key: vec![0],
        }
    }

    #[test]
    fn sorted_inserts_hold_as_many_batches_as_the_sort_budget_allows() {
        // 50,000 rows of 320 bytes: 15.3 MB a batch, two fit 32 MiB.
        assert_eq!(layout(50_000, 1_000_000).sorted(16_000_000, 50_000), 2);
        // Small rows: as many batches as --insert-rows allows.
        assert_eq!(layout(50_000, 1_000_000).sorted(500_000, 50_000), 20);
        assert_eq!(layout(50_000, 100_000).sorted(500_000, 50_000), 2);
        // A batch larger than the budget still goes, alone.
        assert_eq!(layout(50_000, 1_000_000).sorted(60_000_000, 50_000), 1);
        // A first batch of bad records only.
        assert_eq!(layout(50_000, 1_000_000).sorted(0, 0), 1);
        assert_eq!(layout(50_000, 1_000_000).by_rows(), 20);
    }
}
