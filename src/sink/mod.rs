//! The writing side of a run: claims, inserts, acknowledgements and read-back, in that order, so
//! that whatever instant the process dies at, the next run can tell exactly what landed.
//!
//! The reading side hands it [`work::Work`] in file order. Small files come coalesced into one
//! insert ([`group`]); large files go batch by batch ([`file`]), their rows cut the same way on
//! every attempt ([`layout`]), encoded by a thread of their own ([`encoder`], or replayed from a
//! [`spill`]), each INSERT named and streamed by [`insert`]. What landed is asked of the table or
//! the manifest through [`landed::Landed`]; why a file could not be finished is a
//! [`error::SinkError`].

mod acked;
mod cleanup;
pub mod encoder;
mod error;
mod file;
mod group;
mod insert;
mod landed;
pub mod layout;
mod only_pass;
pub mod spill;
pub mod work;

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use crate::config::{ErrorPolicy, RunConfig};
use crate::coord::Claims;
use crate::crashes::Crashes;
use crate::formats::Limits;
use crate::manifest::{Event, EventRow, FailureKind, Manifest, RejectRow};
use crate::outcome::{FileOutcome, Status};
use crate::progress::Progress;
use crate::rows::records::Reject;
use crate::rows::target::Target;
use crate::scan::FileEntry;
use error::SinkError;
use insert::Inserter;
use landed::{ByManifest, ByProvenance, Landed};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use work::Work;

/// Events of decisions are written to the manifest this many at a time.
const EVENT_FLUSH: usize = 1000;

pub struct Sink {
    server: Server,
    manifest: Manifest,
    inserter: Inserter,
    limits: Limits,
    policy: ErrorPolicy,
    /// Rows a file's batches are sent in one insert up to (whole batches).
    insert_rows: u64,
    dry_run: bool,
    progress: Progress,
    /// Events not written yet.
    events: Vec<EventRow>,
    pub outcomes: Vec<FileOutcome>,
    /// Set when ClickHouse became unreachable; the rest of the run is abandoned.
    pub stopped: Option<ChError>,
    /// Where a second pass notes the file it reads.
    crashes: Arc<Mutex<Crashes>>,
    /// Set from outside to stop after the work under way (a watcher asked to stop).
    pub stop: Option<Arc<AtomicBool>>,
    /// Where content is claimed before it is sent, when runs on other hosts work at once.
    claims: Option<Claims>,
}

impl Sink {
    pub fn new(
        server: Server,
        manifest: Manifest,
        cfg: &RunConfig,
        folder_id: &str,
        progress: Progress,
        crashes: Arc<Mutex<Crashes>>,
        claims: Option<Claims>,
    ) -> Sink {
        Sink {
            inserter: Inserter::new(server.clone(), folder_id, &manifest.stamp.run_id),
            server,
            manifest,
            limits: cfg.limits(),
            policy: cfg.on_error,
            insert_rows: cfg.insert_rows,
            dry_run: cfg.dry_run,
            progress,
            events: Vec::new(),
            outcomes: Vec::new(),
            stopped: None,
            crashes,
            stop: None,
            claims,
        }
    }

    /// Takes work until the reading side is done, then writes the events left.
    pub async fn run(&mut self, mut rx: mpsc::Receiver<Work>) {
        while let Some(work) = rx.recv().await {
            let halting = self.stop.as_ref().is_some_and(|s| s.load(Relaxed));
            if self.stopped.is_some() || halting {
                rx.close();
                self.interrupted(work);
                continue;
            }
            match work {
                Work::Note { outcome, event } => {
                    self.finish(outcome);
                    if let Some(ev) = event
                        && !self.dry_run
                    {
                        self.record(*ev).await;
                    }
                }
                Work::Group(g) => self.group(g).await,
                Work::Large(lf) => self.large(lf).await,
                Work::Poison {
                    outcome,
                    event,
                    table,
                } => self.poison(outcome, *event, &table).await,
            }
        }
        self.flush_events().await;
    }

    /// Who can say what landed of a file in `target`.
    fn landed(&self, target: &Target) -> Box<dyn Landed> {
        let table = target.table.clone();
        match target.provenance {
            true => Box::new(ByProvenance {
                server: self.server.clone(),
                table,
                replicated: target.layout.replicated.clone(),
            }),
            false => Box::new(ByManifest {
                manifest: self.manifest.clone(),
                table,
            }),
        }
    }

    fn interrupted(&mut self, work: Work) {
        let files: Vec<(FileEntry, String)> = match work {
            Work::Note { outcome, .. } | Work::Poison { outcome, .. } => {
                return self.finish(outcome);
            }
            Work::Group(g) => g
                .files
                .into_iter()
                .map(|f| (f.entry, g.target.table.to_string()))
                .collect(),
            Work::Large(lf) => vec![(lf.entry, lf.target.table.to_string())],
        };
        let why = match self.stopped {
            Some(_) => "not finished: ClickHouse became unreachable",
            None => "not started: the watcher is stopping",
        };
        for (entry, table) in files {
            let mut o = FileOutcome::new(&entry.rel, Status::Interrupted).detail(why);
            o.table = table;
            o.bytes = entry.size;
            self.finish(o);
        }
    }

    /// Keeps an event to be written with the next ones.
    async fn record(&mut self, event: EventRow) {
        self.events.push(event);
        if self.events.len() >= EVENT_FLUSH {
            self.flush_events().await;
        }
    }

    async fn flush_events(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        if let Err(e) = self.manifest.write(&events).await {
            // Lost notes are found again by the next run; only reachability matters here.
            log::error!("cannot record {} manifest events: {e}", events.len());
            self.stop_if_unreachable(e);
        }
    }

    fn stop_if_unreachable(&mut self, e: ChError) {
        if e.is_unreachable() {
            self.stopped.get_or_insert(e);
        }
    }

    fn file_event(
        &self,
        event: Event,
        entry: &FileEntry,
        table: &TableRef,
        hash: &str,
    ) -> EventRow {
        self.manifest.file_event(event, &entry.facts(table, hash))
    }

    /// The outcome of an ingested file of `rows` rows of which this run sent `sent`, mentioning
    /// the records left out, if any. A file whose rows were all in the table already (a
    /// forgotten file whose rows stayed, a lost manifest being rebuilt) sent none, and says so.
    fn ingested(
        entry: &FileEntry,
        table: &TableRef,
        hash: &str,
        (rows, sent): (u64, u64),
        rejects: &[Reject],
    ) -> FileOutcome {
        let mut o = FileOutcome::of(entry, table, Status::Ingested)
            .rows(sent)
            .hash(hash);
        o.rejected = rejects.len() as u64;
        if sent == 0 && rows > 0 {
            o.status = Status::AlreadyIngested;
            o.detail =
                format!("its rows were in {table} already: recorded as ingested, nothing sent");
            return o;
        }
        if let Some(first) = rejects.first() {
            o.detail = format!(
                "{} bad records left out (see the rejects table), first: {}",
                rejects.len(),
                first.error.describe(&entry.rel)
            );
        }
        o
    }

    /// Records a file's rejected records once: a resumed file's may be recorded already.
    async fn record_rejects(
        &self,
        entry: &FileEntry,
        table: &TableRef,
        hash: &str,
        rejects: &[Reject],
    ) -> Result<(), ChError> {
        if rejects.is_empty() || self.manifest.rejects_recorded(table, hash).await? > 0 {
            return Ok(());
        }
        let now = self.manifest.event(Event::Done).event_time;
        let rows: Vec<RejectRow> = rejects
            .iter()
            .map(|r| RejectRow {
                event_time: now,
                run_id: self.manifest.stamp.run_id.clone(),
                target_table: table.to_string(),
                file_hash: hash.to_owned(),
                path: entry.rel.clone(),
                record: entry.first_row() + r.error.record,
                line: r.error.line.unwrap_or(0),
                column: r.error.column.clone().unwrap_or_default(),
                value: r.value.clone(),
                reason: r.error.reason.clone(),
            })
            .collect();
        self.manifest.write_rejects(&rows).await
    }

    /// With runs of other shards at work: claims these (table, content) for this run, and says
    /// for each whether another live run holds it (and which). Without them, none is held.
    async fn claim(&self, contents: &[(&str, &str)]) -> Result<Vec<Option<String>>, ChError> {
        match &self.claims {
            Some(claims) => claims.claim(contents).await,
            None => Ok(vec![None; contents.len()]),
        }
    }

    /// A file whose content another live run is ingesting (under another name): left to it,
    /// the next run finds it ingested.
    fn left_to(&mut self, entry: &FileEntry, table: &TableRef, hash: &str, holder: &str) {
        self.finish(
            FileOutcome::of(entry, table, Status::Unsettled)
                .hash(hash)
                .detail(format!(
                    "its content is being ingested by {holder}, a run of another shard: left to it"
                )),
        );
    }

    fn finish(&mut self, outcome: FileOutcome) {
        log_outcome(&outcome);
        self.progress.file_done(&outcome.rel, outcome.bytes);
        self.outcomes.push(outcome);
    }

    /// Records a file that could not be finished; a server gone away stops the run.
    async fn trouble(
        &mut self,
        entry: &FileEntry,
        table: &TableRef,
        hash: &str,
        started: Instant,
        e: SinkError,
    ) {
        let (kind, error) = match e {
            SinkError::Server(e) if e.is_unreachable() => {
                self.finish(
                    FileOutcome::of(entry, table, Status::Interrupted)
                        .detail(format!("not finished: {e}"))
                        .since(started),
                );
                self.stopped.get_or_insert(e);
                return;
            }
            SinkError::Data(msg) => (FailureKind::Data, format!("{}: {msg}", entry.rel)),
            other => (FailureKind::Transient, format!("{}: {other}", entry.rel)),
        };
        let mut ev = self.file_event(Event::Failed, entry, table, hash);
        ev.error = error.clone();
        ev.error_kind = kind.as_str().to_owned();
        self.record(ev).await;
        let outcome = FileOutcome::of(entry, table, Status::Failed)
            .detail(error)
            .hash(hash)
            .since(started)
            .failure(kind);
        self.finish(outcome);
    }
}

fn log_outcome(o: &FileOutcome) {
    let took = o.duration.as_secs_f64();
    if o.detail.is_empty() {
        log::info!(
            "{} {} → {} ({}, {}, {took:.2}s)",
            o.status,
            o.rel,
            o.table,
            crate::text::plural(o.rows, "row"),
            crate::text::plural(o.bytes, "byte")
        );
    } else {
        log::info!("{} {} ({took:.2}s)", o.status, o.describe());
    }
}
