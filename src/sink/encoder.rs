//! The second pass over a large file, on a thread of its own: reads the file again, encodes the
//! rows the send plan asks for, and hands the bytes to the sender while it inserts the previous
//! ones, checking on the way that the file still reads as its first pass did.

use super::layout::{BatchPlan, Layout, Out, encode_batches};
use crate::config::ErrorPolicy;
use crate::crashes::{Crashes, Pass};
use crate::formats::Limits;
use crate::native::{BlockBuilder, Sink};
use crate::rows::records::Records;
use crate::rows::source::{HashedSource, column_plan};
use crate::rows::target::Target;
use crate::scan::FileEntry;
use bytes::Bytes;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

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
    crate::rows::spawn_reading("stream", move || {
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
    crate::failpoints::rendezvous("second-pass");
    let changed = |e: String| Fault::Changed(e);
    let file = job
        .entry
        .open()
        .map_err(|e| changed(format!("{rel}: {e}")))?;
    let mut opened = HashedSource::open_part(file, &job.entry, job.limits, None).map_err(|e| {
        match e.is_local() {
            true => Fault::Local(e.describe(rel)),
            false => changed(e.describe(rel)),
        }
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
    let mut records = Records::new(&mut *opened.source, &mut plan, &job.hash, job.policy, rel)
        .of_part(job.entry.segment.as_deref());
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
