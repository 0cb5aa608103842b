//! Reading a large file to send its rows, on a thread of its own: encodes the rows the send plan
//! asks for and hands the bytes to the sender while it inserts the previous ones. Either the
//! file's only pass, which checks every record as it goes (a bad one stops the rows), or a second
//! pass after a first one checked them, checking on the way that the file still reads as the
//! first pass did.

use super::layout::{BatchPlan, Discard, Layout, Out, encode_batches};
use crate::config::ErrorPolicy;
use crate::crashes::{Crashes, Pass};
use crate::formats::Limits;
use crate::native::{BlockBuilder, Sink};
use crate::progress::Reading;
use crate::rows::records::{Records, Reject};
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
    /// The batches per insert, decided by the file's only pass from its first batch, before the
    /// first `Begin`.
    Cut {
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
    /// The rows stopped coming.
    Error(Fault),
    /// Every record was read.
    Done(Box<Read>),
}

/// What reading a whole file found.
#[derive(Debug, Default)]
pub struct Read {
    /// The content hash of what was read.
    pub hash: String,
    /// Records read, good and bad.
    pub records: u64,
    /// Bad records left out under `--on-error skip-row`.
    pub rejects: Vec<Reject>,
    /// Consecutive batches per insert.
    pub per_insert: u64,
}

/// Why a file's rows stopped coming before its end.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The data file no longer reads as its first pass did: its content changed.
    Changed(String),
    /// A local failure that says nothing about the file (reading the spill file back).
    Local(String),
    /// The file's only pass found it bad: the errors to report. Rows sent before the verdict
    /// are in the table.
    Bad(Vec<String>),
}

pub struct Job {
    pub entry: FileEntry,
    pub target: Arc<Target>,
    pub hash: String,
    pub batch_rows: u64,
    /// Rows one insert may carry.
    pub insert_rows: u64,
    /// Consecutive batches per insert, as the first pass decided; `None` for a file's only
    /// pass, which decides it and says so (`Msg::Cut`).
    pub per_insert: Option<u64>,
    pub plans: Vec<BatchPlan>,
    pub limits: Limits,
    pub policy: ErrorPolicy,
    /// Where the file is noted while this pass reads it (not while it waits for the sender).
    pub crashes: Arc<Mutex<Crashes>>,
    /// Counts the bytes read for the progress display (a file's only pass).
    pub progress: Option<Reading>,
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

/// Blocks and batch edges go straight to the sender; a batch's `Begin` goes with its first
/// bytes (or its end), so that it follows the `Cut` it belongs to.
struct ToSender<'a> {
    tx: &'a mpsc::Sender<Msg>,
    crashes: &'a Mutex<Crashes>,
    begun: Option<u64>,
}

impl ToSender<'_> {
    fn send(&self, m: Msg) -> Result<(), String> {
        match blocking_send(self.tx, self.crashes, m) {
            true => Ok(()),
            false => Err(GONE.to_owned()),
        }
    }

    fn begin_now(&mut self) -> Result<(), String> {
        match self.begun.take() {
            Some(batch) => self.send(Msg::Begin { batch }),
            None => Ok(()),
        }
    }
}

impl Out for ToSender<'_> {
    fn columns(&mut self, list: String) -> Result<(), String> {
        self.send(Msg::Columns(list))
    }

    fn cut(&mut self, per_insert: u64) -> Result<(), String> {
        self.send(Msg::Cut { per_insert })
    }

    fn begin(&mut self, batch: u64) -> Result<(), String> {
        self.begun = Some(batch);
        Ok(())
    }

    fn block(&mut self, block: &mut BlockBuilder, key: &[usize]) -> Result<(), String> {
        self.begin_now()?;
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
        self.begin_now()?;
        self.send(Msg::End { batch, rows })
    }
}

/// Reads the file and sends its rows.
fn encode(job: &Job, tx: &mpsc::Sender<Msg>) -> Result<(), Fault> {
    crate::failpoints::rendezvous("second-pass");
    let mut out = ToSender {
        tx,
        crashes: &job.crashes,
        begun: None,
    };
    let read = read_into(job, &mut out)?;
    out.send(Msg::Done(Box::new(read))).map_err(Fault::Changed)
}

/// Reads a whole file sent in its only pass, keeping no row, on a thread of its own: what a
/// retry needs to know of it when its only pass stopped before the end.
pub fn spawn_check(job: Job) -> std::io::Result<std::thread::JoinHandle<Result<Read, Fault>>> {
    crate::rows::spawn_reading("check", move || {
        crashes(&job.crashes).enter(Pass::Second, &job.entry);
        let result = read_into(&job, &mut Discard);
        match &result {
            Ok(_) => crashes(&job.crashes).leave(Pass::Second, &job.entry.rel),
            Err(_) => crashes(&job.crashes).pause(Pass::Second),
        }
        result
    })
}

/// Reads the file, encoding its rows into `out`. In a second pass, anything that makes it read
/// otherwise than its first pass did means the file changed; in a file's only pass, bad records
/// make it bad, unless it no longer has the content it was hashed with. Only a failure of the
/// disk is local.
fn read_into(job: &Job, out: &mut dyn Out) -> Result<Read, Fault> {
    let rel = &job.entry.rel;
    let changed = |e: String| Fault::Changed(e);
    let file = job
        .entry
        .open()
        .map_err(|e| changed(format!("{rel}: {e}")))?;
    let only_pass = job.per_insert.is_none();
    let opened = HashedSource::open_part(file, &job.entry, job.limits, job.progress.clone());
    let mut opened = match opened {
        Ok(o) => o,
        Err(e) if e.is_local() => return Err(Fault::Local(e.describe(rel))),
        Err(e) if only_pass => return Err(bad_unless_changed(job, vec![e.describe(rel)])),
        Err(e) => return Err(changed(e.describe(rel))),
    };
    let mut plan = match column_plan(&job.target, &job.entry, &*opened.source) {
        Ok(p) => p,
        Err(e) if only_pass => return Err(bad_unless_changed(job, vec![format!("{rel}: {e}")])),
        Err(e) => return Err(changed(format!("{rel}: {e}"))),
    };
    let mut block = plan.new_block(job.target.server_tz).map_err(changed)?;
    let layout = Layout {
        batch_rows: job.batch_rows,
        insert_rows: job.insert_rows,
        key: job.target.sort_key(&plan),
        whole_inserts: job.target.whole_inserts,
    };
    out.columns(plan.column_list()).map_err(changed)?;
    let mut records = Records::new(&mut *opened.source, &mut plan, &job.hash, job.policy, rel)
        .of_part(job.entry.segment.as_deref())
        .on_jobs(job.limits.jobs, job.target.server_tz);
    let per_insert = encode_batches(
        &mut records,
        &mut block,
        &layout,
        job.per_insert,
        &job.plans,
        out,
    )
    .map_err(changed)?;
    if let Some(local) = records.local_failure() {
        return Err(Fault::Local(local));
    }
    let verdict = records.verdict();
    let (count, rejects) = (records.records, std::mem::take(&mut records.rejects));
    drop(records);
    if let Err(errors) = verdict {
        return Err(match only_pass {
            true => bad_unless_changed(job, errors),
            false => changed(errors.join("; ")),
        });
    }
    let hash = opened
        .finish()
        .map_err(|e| Fault::Local(format!("{rel}: {e}")))?;
    Ok(Read {
        hash,
        records: count,
        rejects,
        per_insert,
    })
}

/// A file's only pass found it bad: for its content, if it still has the content it was hashed
/// with; otherwise it changed under the run.
fn bad_unless_changed(job: &Job, errors: Vec<String>) -> Fault {
    let rel = &job.entry.rel;
    let now = job
        .entry
        .open()
        .map_err(|e| e.to_string())
        .and_then(|f| crate::rows::source::hash_file(&f).map_err(|e| e.to_string()));
    match now {
        Ok(hash) if hash == job.hash => Fault::Bad(errors),
        Ok(hash) => Fault::Changed(format!("{rel}: content hash is now {hash}")),
        Err(e) => Fault::Changed(format!("{rel}: {e}")),
    }
}
