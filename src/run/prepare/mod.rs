//! The reading side of a run, on its own thread: settle check, hashing, the decision by content,
//! and converting rows — small files coalesced into shared inserts; large ones hashed and handed
//! to the writing side to be sent in their only pass where the table allows it (see
//! `sink::only_pass`), otherwise checked in a first pass so that a bad row is found before any of
//! the file's rows are sent.

mod append;
mod first_pass;
mod large;
mod notes;
mod small;

use super::plan::{Decision, decide};
use crate::config::{ErrorPolicy, OnChange};
use crate::crashes::{Crashes, POISON_AFTER, Pass as Reading};
use crate::folder::OpenError;
use crate::formats::Limits;
use crate::manifest::{FailureKind, PathState, Stamp, State};
use crate::outcome::Status;
use crate::progress::Progress;
use crate::rows::source;
use crate::rows::target::Target;
use crate::scan::FileEntry;
use crate::sink::work::Work;
use small::{GroupBuilder, SMALL_FILE_BYTES, read_small};
use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A file that must be read to decide what to do with it.
pub struct Candidate {
    pub entry: FileEntry,
    pub target: Arc<Target>,
    pub previous: Option<Box<PathState>>,
    /// Set when the file cannot go into its table whatever it holds: it fails, unread.
    pub refused: Option<Refusal>,
    /// What a change of the file since it was ingested does (its route's `on_change`).
    pub on_change: OnChange,
}

/// Why a file fails before it is read, and whether that is for its content.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub kind: FailureKind,
    pub reason: String,
}

impl Refusal {
    /// For the file's content (its fields): retried when it changes.
    pub fn data(reason: String) -> Refusal {
        Refusal {
            kind: FailureKind::Data,
            reason,
        }
    }

    /// For the state of things (no table to go into yet): retried by the next run.
    pub fn transient(reason: String) -> Refusal {
        Refusal {
            kind: FailureKind::Transient,
            reason,
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
    pub dry_run: bool,
    /// Where a large file's encoded rows are kept between its two passes (none: read it twice).
    pub spill_dir: Option<std::path::PathBuf>,
}

/// The receiving side went away (it stopped the run); stop reading.
struct Closed;

/// The reading side: takes the candidates in order and hands work to the sending side.
pub struct Prepare {
    settings: Settings,
    progress: Progress,
    state: Arc<State>,
    stamp: Stamp,
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
    /// The current file was only hashed here: its records are read by the writing side.
    only_hashed: bool,
}

impl Prepare {
    pub fn new(
        settings: Settings,
        progress: Progress,
        state: Arc<State>,
        stamp: Stamp,
        tx: mpsc::Sender<Work>,
        crashes: Arc<Mutex<Crashes>>,
    ) -> Prepare {
        Prepare {
            settings,
            progress,
            state,
            stamp,
            tx,
            claimed: HashMap::new(),
            group: None,
            file_started: Instant::now(),
            more_follow: false,
            crashes,
            only_hashed: false,
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
        self.only_hashed = false;
        self.crashes().enter(Reading::First, &c.entry);
        let done = self.read(c);
        match self.only_hashed {
            true => self.crashes().pause(Reading::First),
            false => self.crashes().leave(Reading::First, &rel),
        }
        done
    }

    /// The content hash of a file that is not read otherwise, for the failure's record; `Err`
    /// is what noting why it could not be hashed returned.
    fn hash_only(&self, c: &Candidate) -> Result<String, Result<(), Closed>> {
        let file = self.open(c)?;
        source::hash_file(&file).map_err(|e| self.fail_for_now(c, "", e))
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
        let (outcome, event) = self.failure(c, &hash, FailureKind::Poison, &[why]);
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
        if c.on_change == OnChange::Append && crate::append::appendable(c.entry.detected) {
            return self.append(c);
        }
        let file = match self.open(&c) {
            Ok(f) => f,
            Err(skip) => return skip,
        };
        if !self.settings.dry_run && c.entry.size <= SMALL_FILE_BYTES {
            let bytes = match read_small(&file, c.entry.size) {
                Ok(Some(b)) => b,
                Ok(None) => return self.unsettled(&c),
                Err(e) => return self.fail_for_now(&c, "", e),
            };
            let hash = crate::hash::of_bytes(&bytes);
            match self.decide(&c, &hash) {
                Decision::Ingest { resume: None } if !c.target.recovery => {
                    return self.add_small(c, hash, bytes);
                }
                Decision::Ingest { .. } => {}
                other => return self.note_decision(&c, &hash, other),
            }
        } else if c.target.one_pass && c.entry.size > SMALL_FILE_BYTES {
            // Hashing reads no record: a death meanwhile is not the file's doing.
            self.crashes().pause(Reading::First);
            let hash = match source::hash_file(&file) {
                Ok(h) => h,
                Err(e) => return self.fail_for_now(&c, "", e),
            };
            match self.decide(&c, &hash) {
                Decision::Ingest { resume: None } => return self.only_pass(c, hash),
                Decision::Ingest { .. } => self.crashes().resume(Reading::First),
                other => return self.note_decision(&c, &hash, other),
            }
        }
        let pass = match self.first_pass(&c, file) {
            Ok(p) => p,
            Err(e) => return self.fail_for_now(&c, "", e),
        };
        self.ingest_large(c, pass)
    }

    /// Opens a candidate if it is still the settled file the scan saw; otherwise says why not
    /// (the `Err` is what noting that returned).
    fn open(&self, c: &Candidate) -> Result<File, Result<(), Closed>> {
        self.opened(c, c.entry.open())
    }

    /// A file as it could be opened, or why not, noted.
    fn opened(
        &self,
        c: &Candidate,
        file: Result<File, OpenError>,
    ) -> Result<File, Result<(), Closed>> {
        file.map_err(|e| match e {
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
            e => self.fail_for_now(c, "", format!("cannot open: {e}")),
        })
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
        // The new part of a grown file continues what the path holds: not a change of it.
        let previous = match &c.entry.segment {
            Some(s) if s.from_byte > 0 => None,
            _ => c.previous.as_deref(),
        };
        match decide(&c.entry.rel, hash, &table, previous, &self.state, in_run) {
            Decision::Changed { .. } if c.on_change == OnChange::Ingest => {
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
}

#[cfg(test)]
mod tests;
