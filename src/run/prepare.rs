//! The reading side of a run, on its own thread: settle check, hashing, the decision by content,
//! and converting rows — small files coalesced into shared inserts, large ones checked in a first
//! pass so that a bad row is found before any of the file's rows are sent.

use super::encode::{ColumnPlan, Target};
use super::outcome::{FileOutcome, Status};
use super::plan::{Decision, decide};
use super::read::{self, FirstPass, Pass};
use super::records::{ErrorPolicy, Records, Reject};
use super::spill::Spilled;
use crate::ch::ident::TableRef;
use crate::crashes::{Crashes, POISON_AFTER, Pass as Reading};
use crate::folder::OpenError;
use crate::formats::Limits;
use crate::manifest::{
    Event, EventRow, KIND_DATA, KIND_POISON, KIND_TRANSIENT, Manifest, PathState, State,
};
use crate::native::BlockBuilder;
use crate::progress::Progress;
use crate::scan::FileEntry;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Files up to this size are read once into memory, hashed and converted in one pass.
pub const SMALL_FILE_BYTES: u64 = 8 << 20;
/// A coalesced insert is sent once its encoded body reaches this size.
const GROUP_BODY_BYTES: usize = 16 << 20;
/// Encoded rows are cut into `Native` blocks of about this size.
pub const SUB_BLOCK_BYTES: usize = 8 << 20;

/// A file that must be read to decide what to do with it.
pub struct Candidate {
    pub entry: FileEntry,
    pub target: Arc<Target>,
    pub previous: Option<Box<PathState>>,
    /// Set when the file cannot go into its table whatever it holds: it fails, unread.
    pub refused: Option<Refusal>,
}

/// Why a file fails before it is read, and whether that is for its content.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub kind: &'static str,
    pub reason: String,
}

impl Refusal {
    /// For the file's content (its fields): retried when it changes.
    pub fn data(reason: String) -> Refusal {
        Refusal {
            kind: KIND_DATA,
            reason,
        }
    }

    /// For the state of things (no table to go into yet): retried by the next run.
    pub fn transient(reason: String) -> Refusal {
        Refusal {
            kind: KIND_TRANSIENT,
            reason,
        }
    }
}

/// A unit of work for the sending side, in file order.
pub enum Work {
    /// A decision that needs no insert: report `outcome`, record `event`.
    Note {
        outcome: FileOutcome,
        event: Option<Box<EventRow>>,
    },
    /// Small files of one table and column list, coalesced into one insert.
    Group(Group),
    /// A file sent batch by batch, after its first pass found no error.
    Large(LargeFile),
    /// A file set aside as poison: like a note, but rows an earlier run's crashed second pass
    /// sent of it are deleted from `table` first.
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

    pub fn from_group(f: GroupFile, target: Arc<Target>, batch_rows: u64) -> LargeFile {
        LargeFile {
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

#[derive(Debug, Clone)]
pub struct Settings {
    pub batch_rows: u64,
    /// Rows a coalesced insert of small files carries at most.
    pub insert_rows: u64,
    pub settle: Duration,
    pub scanned_at: Instant,
    pub limits: Limits,
    pub policy: ErrorPolicy,
    pub ingest_changed: bool,
    pub dry_run: bool,
    /// Where a large file's encoded rows are kept between its two passes (none: read it twice).
    pub spill_dir: Option<std::path::PathBuf>,
}

/// The receiving side went away (it stopped the run); stop reading.
struct Closed;

struct GroupBuilder {
    target: Arc<Target>,
    key: String,
    plan: ColumnPlan,
    block: BlockBuilder,
    files: Vec<GroupFile>,
    rows: u64,
    body: Vec<u8>,
}

pub struct Prepare {
    settings: Settings,
    progress: Progress,
    state: Arc<State>,
    manifest: Manifest,
    tx: mpsc::Sender<Work>,
    /// Content claimed earlier in this run, by target (its address: one per table) and hash.
    claimed: HashMap<(usize, blake3::Hash), String>,
    group: Option<GroupBuilder>,
    /// When work on the current file started.
    file_started: Instant,
    /// Whether files follow the current one. A large file's rows are kept between its passes
    /// only then: keeping them costs the first pass time that nothing else overlaps with when
    /// no file follows, while reading the file again overlaps with its inserts.
    more_follow: bool,
    /// Where the files being read are noted, so that one that kills the process is known.
    crashes: Arc<Mutex<Crashes>>,
}

impl Prepare {
    pub fn new(
        settings: Settings,
        progress: Progress,
        state: Arc<State>,
        manifest: Manifest,
        tx: mpsc::Sender<Work>,
        crashes: Arc<Mutex<Crashes>>,
    ) -> Prepare {
        Prepare {
            settings,
            progress,
            state,
            manifest,
            tx,
            claimed: HashMap::new(),
            group: None,
            file_started: Instant::now(),
            more_follow: false,
            crashes,
        }
    }

    fn crashes(&self) -> MutexGuard<'_, Crashes> {
        self.crashes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Processes the candidates in order, then sends what is left in the last group.
    pub fn run(mut self, candidates: Vec<Candidate>) {
        if !candidates.is_empty() {
            let waited = self.settings.scanned_at.elapsed();
            if waited < self.settings.settle {
                std::thread::sleep(self.settings.settle - waited);
            }
        }
        let last = candidates.len().saturating_sub(1);
        for (i, c) in candidates.into_iter().enumerate() {
            self.more_follow = i < last;
            if self.process(c).is_err() {
                return;
            }
        }
        let _ = self.flush_group();
    }

    /// Hands work to the sending side, waiting for room; a death while waiting is not the
    /// fault of the file being read.
    fn send(&self, work: Work) -> Result<(), Closed> {
        self.crashes().pause(Reading::First);
        let sent = self.tx.blocking_send(work).map_err(|_| Closed);
        self.crashes().resume(Reading::First);
        sent
    }

    fn outcome(&self, c: &Candidate, status: Status) -> FileOutcome {
        FileOutcome::of(&c.entry, &c.target.table, status).since(self.file_started)
    }

    fn file_event(&self, event: Event, c: &Candidate, hash: &str) -> EventRow {
        let mut ev = self.manifest.event(event);
        ev.path = c.entry.rel.clone();
        ev.size = c.entry.size;
        ev.mtime_ns = c.entry.mtime_ns;
        ev.file_hash = hash.to_owned();
        ev.target_table = c.target.table.to_string();
        ev.format = c.entry.detected.to_string();
        ev
    }

    fn note(&self, outcome: FileOutcome, event: Option<EventRow>) -> Result<(), Closed> {
        self.send(Work::Note {
            outcome,
            event: event.map(Box::new),
        })
    }

    fn failure(
        &self,
        c: &Candidate,
        hash: &str,
        kind: &str,
        errors: &[String],
    ) -> (FileOutcome, EventRow) {
        let text = errors.join("\n");
        let mut ev = self.file_event(Event::Failed, c, hash);
        ev.error = text.clone();
        ev.error_kind = kind.to_owned();
        let mut outcome = self.outcome(c, Status::Failed).detail(text).hash(hash);
        outcome.transient = kind == KIND_TRANSIENT;
        outcome.poison = kind == KIND_POISON;
        (outcome, ev)
    }

    fn fail(&self, c: &Candidate, hash: &str, kind: &str, errors: &[String]) -> Result<(), Closed> {
        let (outcome, ev) = self.failure(c, hash, kind, errors);
        self.note(outcome, Some(ev))
    }

    /// Reads a file, unless reading it crashed the process twice in a row: then it is set
    /// aside as poison.
    fn process(&mut self, c: Candidate) -> Result<(), Closed> {
        self.file_started = Instant::now();
        if self.crashes().is_poison(&c.entry) {
            return self.poison(&c);
        }
        if let Some(refusal) = &c.refused {
            return self.refuse(&c, refusal);
        }
        let rel = c.entry.rel.clone();
        self.crashes().enter(Reading::First, &c.entry);
        let done = self.read(c);
        self.crashes().leave(Reading::First, &rel);
        done
    }

    /// The content hash of a file that is not read otherwise, for the failure's record; `Err`
    /// is what noting why it could not be hashed returned.
    fn hash_only(&self, c: &Candidate) -> Result<String, Result<(), Closed>> {
        let file = self.open(c)?;
        read::hash_file(&file).map_err(|e| {
            let rel = &c.entry.rel;
            self.fail(c, "", KIND_TRANSIENT, &[format!("{rel}: {e}")])
        })
    }

    fn refuse(&self, c: &Candidate, refusal: &Refusal) -> Result<(), Closed> {
        match self.hash_only(c) {
            Ok(hash) => self.fail(
                c,
                &hash,
                refusal.kind,
                std::slice::from_ref(&refusal.reason),
            ),
            Err(noted) => noted,
        }
    }

    fn poison(&self, c: &Candidate) -> Result<(), Closed> {
        let rel = &c.entry.rel;
        let hash = match self.hash_only(c) {
            Ok(h) => h,
            Err(noted) => return noted,
        };
        // Recorded in the manifest from now on; `ingest retry` then starts it from nothing.
        if !self.settings.dry_run {
            self.crashes().forget(rel);
        }
        let why = format!(
            "{rel}: poison: reading it crashed the process {POISON_AFTER} times in a row; set \
             aside (run `ingest retry {rel}` to read it again)"
        );
        let (outcome, event) = self.failure(c, &hash, KIND_POISON, &[why]);
        if self.settings.dry_run || !c.target.provenance {
            return self.note(outcome, Some(event));
        }
        self.send(Work::Poison {
            outcome,
            event: Box::new(event),
            table: c.target.table.clone(),
        })
    }

    fn read(&mut self, c: Candidate) -> Result<(), Closed> {
        let file = match self.open(&c) {
            Ok(f) => f,
            Err(skip) => return skip,
        };
        if !self.settings.dry_run && c.entry.size <= SMALL_FILE_BYTES {
            let bytes = match read_small(&file, c.entry.size) {
                Ok(Some(b)) => b,
                Ok(None) => return self.unsettled(&c),
                Err(e) => {
                    return self.fail(&c, "", KIND_TRANSIENT, &[format!("{}: {e}", c.entry.rel)]);
                }
            };
            let hash = crate::hash::of_bytes(&bytes);
            match self.decide(&c, &hash) {
                Decision::Ingest { resume: None } if !c.target.recovery => {
                    return self.add_small(c, hash, bytes, true);
                }
                Decision::Ingest { .. } => {}
                other => return self.note_decision(&c, &hash, other),
            }
        }
        let pass = match self.first_pass(&c, file) {
            Ok(p) => p,
            Err(e) => {
                return self.fail(&c, "", KIND_TRANSIENT, &[format!("{}: {e}", c.entry.rel)]);
            }
        };
        self.ingest_large(c, pass)
    }

    /// Opens a candidate if it is still the settled file the scan saw; otherwise says why not
    /// (the `Err` is what noting that returned).
    fn open(&self, c: &Candidate) -> Result<File, Result<(), Closed>> {
        let rel = &c.entry.rel;
        c.entry.open().map_err(|e| match e {
            e if e.is_gone() => self.note(
                self.outcome(c, Status::Ignored)
                    .detail("disappeared before it could be read"),
                None,
            ),
            OpenError::Changed => self.unsettled(c),
            e if e.is_swap() => self.note(
                self.outcome(c, Status::Ignored)
                    .detail(format!("not read: {e}")),
                None,
            ),
            e => self.fail(c, "", KIND_TRANSIENT, &[format!("{rel}: cannot open: {e}")]),
        })
    }

    fn first_pass(&self, c: &Candidate, file: File) -> std::io::Result<Pass> {
        FirstPass {
            entry: &c.entry,
            limits: self.settings.limits,
            target: &c.target,
            policy: self.settings.policy,
            batch_rows: self.settings.batch_rows,
            insert_rows: self.settings.insert_rows,
            spill_dir: self
                .settings
                .spill_dir
                .as_deref()
                .filter(|_| self.more_follow),
            progress: self.progress.reading(&c.entry.rel),
        }
        .run(file)
    }

    fn unsettled(&self, c: &Candidate) -> Result<(), Closed> {
        self.note(
            self.outcome(c, Status::Unsettled)
                .detail("still being written: size or time changed while settling"),
            None,
        )
    }

    fn claim_key(c: &Candidate, hash: &str) -> Option<(usize, blake3::Hash)> {
        let hash = blake3::Hash::from_hex(hash).ok()?;
        Some((Arc::as_ptr(&c.target) as usize, hash))
    }

    fn decide(&self, c: &Candidate, hash: &str) -> Decision {
        let table = c.target.table.to_string();
        let in_run = Self::claim_key(c, hash)
            .and_then(|k| self.claimed.get(&k))
            .map(String::as_str);
        match decide(
            &c.entry.rel,
            hash,
            &table,
            c.previous.as_deref(),
            &self.state,
            in_run,
        ) {
            Decision::Changed { .. } if self.settings.ingest_changed => {
                Decision::Ingest { resume: None }
            }
            other => other,
        }
    }

    /// How often the content was forgotten before this ingestion of it.
    fn generation(&self, c: &Candidate, hash: &str) -> u64 {
        self.state
            .content(&c.target.table.to_string(), hash)
            .map_or(0, |content| content.generation)
    }

    fn claim(&mut self, c: &Candidate, hash: &str) {
        if let Some(key) = Self::claim_key(c, hash) {
            self.claimed.insert(key, c.entry.rel.clone());
        }
    }

    fn note_decision(&self, c: &Candidate, hash: &str, decision: Decision) -> Result<(), Closed> {
        let (outcome, event) = match decision {
            Decision::Duplicate { of } => {
                let mut ev = self.file_event(Event::Duplicate, c, hash);
                ev.detail = of.clone();
                (
                    self.outcome(c, Status::Duplicate)
                        .detail(format!("same content as {of}")),
                    ev,
                )
            }
            Decision::Touched => (
                self.outcome(c, Status::AlreadyIngested)
                    .detail("modified on disk, content unchanged"),
                self.file_event(Event::Touched, c, hash),
            ),
            Decision::Changed { old_hash } => {
                let mut ev = self.file_event(Event::Changed, c, hash);
                ev.detail = old_hash;
                (
                    self.outcome(c, Status::Changed)
                        .detail("content changed since it was ingested; held back"),
                    ev,
                )
            }
            Decision::FailedBefore { error, kind } => {
                let mut ev = self.file_event(Event::Failed, c, hash);
                ev.error = error.clone();
                let mut outcome = self
                    .outcome(c, Status::FailedBefore)
                    .detail(format!("same content failed before: {error}"));
                outcome.poison = kind == KIND_POISON;
                ev.error_kind = kind;
                (outcome, ev)
            }
            Decision::Ingest { .. } => unreachable!("ingest decisions are not notes"),
        };
        self.note(outcome.hash(hash), Some(event))
    }

    fn ingest_large(&mut self, c: Candidate, pass: Pass) -> Result<(), Closed> {
        let resume = match self.decide(&c, &pass.hash) {
            Decision::Ingest { resume } => resume,
            other => return self.note_decision(&c, &pass.hash, other),
        };
        if let Some(errors) = &pass.failure {
            return self.fail(&c, &pass.hash, KIND_DATA, errors);
        }
        let resume = resume
            .map(|b| if b == 0 { self.settings.batch_rows } else { b })
            .or(c.target.recovery.then_some(self.settings.batch_rows));
        self.claim(&c, &pass.hash);
        if self.settings.dry_run {
            let status = if resume.is_some() {
                Status::Resume
            } else {
                Status::New
            };
            let mut outcome = self.outcome(&c, status);
            outcome.rows = pass.rows();
            outcome.rejected = pass.rejects.len() as u64;
            let mut notes: Vec<String> = pass.described.iter().cloned().collect();
            notes.extend(c.entry.rules.describe());
            if let Some(first) = pass.rejects.first() {
                notes.push(format!(
                    "{} bad records would be left out, first: {}",
                    pass.rejects.len(),
                    first.error.describe(&c.entry.rel)
                ));
            }
            outcome.detail = notes.join("; ");
            return self.note(outcome, None);
        }
        self.flush_group()?;
        self.send(Work::Large(LargeFile {
            generation: self.generation(&c, &pass.hash),
            batch_rows: resume.unwrap_or(self.settings.batch_rows),
            resume: resume.is_some(),
            entry: c.entry,
            target: c.target,
            hash: pass.hash,
            records: pass.records,
            rejects: pass.rejects,
            per_insert: pass.per_insert,
            spilled: pass.spilled,
            started: self.file_started,
        }))
    }

    /// Converts a small file into the current group. `retry` allows one more attempt in a fresh
    /// group when the file does not fit the current one.
    fn add_small(
        &mut self,
        c: Candidate,
        hash: String,
        bytes: bytes::Bytes,
        retry: bool,
    ) -> Result<(), Closed> {
        let mut source = match read::open_bytes(bytes.clone(), &c.entry, self.settings.limits) {
            Ok(s) => s,
            Err(e) => {
                let kind = if e.is_local() {
                    KIND_TRANSIENT
                } else {
                    KIND_DATA
                };
                return self.fail(&c, &hash, kind, &[e.describe(&c.entry.rel)]);
            }
        };
        let plan = match read::column_plan(&c.target, &c.entry, &*source) {
            Ok(p) => p,
            Err(e) => return self.fail(&c, &hash, KIND_DATA, &[format!("{}: {e}", c.entry.rel)]),
        };
        let key = format!("{} {}", c.target.table, plan.column_list());
        if self.group.as_ref().is_some_and(|g| g.key != key) {
            self.flush_group()?;
        }
        if let Some(g) = self.group.as_mut() {
            // The same columns: this file's own plan (its field order, rules and metadata).
            g.plan = plan;
        } else {
            let block = match plan.new_block(c.target.server_tz) {
                Ok(b) => b,
                Err(e) => {
                    return self.fail(&c, &hash, KIND_DATA, &[format!("{}: {e}", c.entry.rel)]);
                }
            };
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
        let batch_rows = self.settings.batch_rows;
        let Some(g) = self.group.as_mut() else {
            unreachable!("a group was just ensured")
        };
        let mark = g.block.rows();
        let mut records = Records::new(
            &mut *source,
            &mut g.plan,
            &hash,
            self.settings.policy,
            &c.entry.rel,
        );
        let mut rows = 0u64;
        while records.next(&mut g.block).is_some() {
            rows += 1;
            if rows > batch_rows {
                break;
            }
        }
        let verdict = match records.local_failure() {
            Some(local) => Err((KIND_TRANSIENT, vec![local])),
            None => records.verdict().map_err(|errors| (KIND_DATA, errors)),
        };
        let total = records.records;
        let rejects = std::mem::take(&mut records.rejects);
        if rows > batch_rows {
            // More rows than one batch: this file goes batch by batch.
            g.block.truncate(mark);
            let file = match self.open(&c) {
                Ok(f) => f,
                Err(skip) => return skip,
            };
            return match self.first_pass(&c, file) {
                Ok(p) if p.hash == hash => self.ingest_large(c, p),
                Ok(_) => self.unsettled(&c),
                Err(e) => self.fail(
                    &c,
                    &hash,
                    KIND_TRANSIENT,
                    &[format!("{}: {e}", c.entry.rel)],
                ),
            };
        }
        if let Err((kind, errors)) = verdict {
            g.block.truncate(mark);
            return self.fail(&c, &hash, kind, &errors);
        }
        let insert_rows = self.settings.insert_rows.max(batch_rows);
        if g.rows + rows > insert_rows && !g.files.is_empty() && retry {
            g.block.truncate(mark);
            self.flush_group()?;
            return self.add_small(c, hash, bytes, false);
        }
        g.rows += rows;
        // Rows sorted by the table's key are written as one block when the group is sent.
        if g.plan.sort_columns().is_empty() && g.block.byte_size() >= SUB_BLOCK_BYTES {
            g.block.write_native(&mut g.body);
        }
        let full = g.rows >= insert_rows || g.body.len() + g.block.byte_size() >= GROUP_BODY_BYTES;
        self.claim(&c, &hash);
        let generation = self.generation(&c, &hash);
        if let Some(g) = self.group.as_mut() {
            g.files.push(GroupFile {
                entry: c.entry,
                hash,
                generation,
                records: total,
                rejects,
                started: self.file_started,
            });
        }
        if full {
            self.flush_group()?;
        }
        Ok(())
    }

    fn flush_group(&mut self) -> Result<(), Closed> {
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
fn read_small(file: &File, size: u64) -> std::io::Result<Option<bytes::Bytes>> {
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
    Ok(Some(bytes::Bytes::from(buf)))
}
