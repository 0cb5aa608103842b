//! The writing side of a run: claims, inserts, acknowledgements and read-back, in that order, so
//! that whatever instant the process dies at, the next run can tell exactly what landed.

use super::encode::Target;
use super::outcome::{FileOutcome, Status};
use super::prepare::{Group, LargeFile, Work};
use super::provenance;
use super::records::{ErrorPolicy, Reject};
use super::stream::{self, BatchPlan, Fault, Msg};
use crate::ch::ident::TableRef;
use crate::ch::insert::{Dedup, InsertSpec};
use crate::ch::{ChError, Server};
use crate::config::RunConfig;
use crate::crashes::Crashes;
use crate::formats::Limits;
use crate::manifest::{Event, EventRow, KIND_DATA, KIND_TRANSIENT, Manifest, RejectRow};
use crate::progress::Progress;
use crate::scan::FileEntry;
use clickhouse::insert_formatted::InsertFormatted;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Why one file could not be finished.
enum Trouble {
    /// The server or network; the file is retried (now, then by the next run).
    Server(ChError),
    /// The content: recorded as failed, not retried until it changes.
    Data(String),
    /// The file changed under us: what was sent is not what was checked. Its rows are deleted
    /// and the next run reads it again.
    Changed(String),
    /// A local failure that says nothing about the file (its spill could not be read back):
    /// what landed stays and the next run resumes.
    Local(String),
}

impl From<ChError> for Trouble {
    fn from(e: ChError) -> Trouble {
        if e.is_transient() {
            Trouble::Server(e)
        } else {
            Trouble::Data(e.to_string())
        }
    }
}

/// Batch events are recorded with the file's `done`, or this often for a file that takes long:
/// each insert into the manifest costs the server a new part, and what landed is known from
/// provenance anyway.
const BATCH_EVENTS_EVERY: Duration = Duration::from_secs(10);

/// Acknowledged batches of the file being sent, not yet recorded.
struct Acked {
    events: Vec<EventRow>,
    since: Instant,
}

impl Default for Acked {
    fn default() -> Acked {
        Acked {
            events: Vec::new(),
            since: Instant::now(),
        }
    }
}

/// An insert being streamed: consecutive batches of one file.
struct OpenInsert {
    group: u64,
    insert: InsertFormatted,
    /// Batches sent in it so far, with their rows.
    batches: Vec<(u64, u64)>,
}

/// An insert fully sent, waiting for the server's answer.
struct Finishing {
    batches: Vec<(u64, u64)>,
    end: tokio::task::JoinHandle<clickhouse::error::Result<()>>,
}

/// Deterministic query ids (and, where the server has them, deduplication tokens) for a file's
/// inserts: the same id always means the same rows, so a token never hides different content.
struct InsertNames {
    /// The prefix, the content and what else tells this ingestion of it apart (see `salt`).
    base: String,
    per_insert: u64,
    /// Per insert group: a digest of what is left out of it, if anything is.
    partial: std::collections::HashMap<u64, String>,
}

impl InsertNames {
    fn new(
        prefix: &str,
        hash: &str,
        salt: &str,
        plans: &[BatchPlan],
        per_insert: u64,
    ) -> InsertNames {
        let mut partial = std::collections::HashMap::new();
        for (group, chunk) in plans.chunks(per_insert as usize).enumerate() {
            if chunk.iter().all(|p| *p == BatchPlan::Full) {
                continue;
            }
            let mut hasher = blake3::Hasher::new();
            for p in chunk {
                match p {
                    BatchPlan::Full => hasher.update(b"F"),
                    BatchPlan::Skip => hasher.update(b"S"),
                    BatchPlan::Fill(landed) => {
                        let mut rows: Vec<u64> = landed.iter().copied().collect();
                        rows.sort_unstable();
                        hasher.update(b"P");
                        rows.iter()
                            .fold(&mut hasher, |h, r| h.update(&r.to_le_bytes()))
                    }
                };
            }
            partial.insert(group as u64, hasher.finalize().to_hex()[..12].to_owned());
        }
        InsertNames {
            base: format!("{prefix}{}{salt}", &hash[..16]),
            per_insert,
            partial,
        }
    }

    /// The name of insert `group`: it holds batches `group × per_insert` onwards, so the
    /// cut is part of the name.
    fn of(&self, group: u64) -> String {
        let (base, per) = (&self.base, self.per_insert);
        match self.partial.get(&group) {
            None => format!("{base}-i{group}x{per}"),
            Some(digest) => format!("{base}-i{group}x{per}-{digest}"),
        }
    }
}

pub struct Sender {
    server: Server,
    manifest: Manifest,
    query_id_prefix: String,
    limits: Limits,
    policy: ErrorPolicy,
    /// Rows a file's batches are sent in one insert up to (whole batches).
    insert_rows: u64,
    acked: std::cell::RefCell<Acked>,
    /// Rows of the current large file this run has had acknowledged (a resumed file's rows
    /// already in the table are not among them).
    sent: std::cell::Cell<u64>,
    dry_run: bool,
    progress: Progress,
    events: Vec<EventRow>,
    pub outcomes: Vec<FileOutcome>,
    /// Set when ClickHouse became unreachable; the rest of the run is abandoned.
    pub stopped: Option<ChError>,
    /// Where a second pass notes the file it reads.
    crashes: Arc<Mutex<Crashes>>,
}

const EVENT_FLUSH: usize = 1000;

impl Sender {
    pub fn new(
        server: Server,
        manifest: Manifest,
        cfg: &RunConfig,
        folder_id: &str,
        progress: Progress,
        crashes: Arc<Mutex<Crashes>>,
    ) -> Sender {
        Sender {
            crashes,
            server,
            manifest,
            query_id_prefix: format!("ingest-{folder_id}-"),
            limits: Limits::default(),
            policy: cfg.on_error,
            insert_rows: cfg.insert_rows,
            acked: Default::default(),
            sent: Default::default(),
            dry_run: cfg.dry_run,
            progress,
            events: Vec::new(),
            outcomes: Vec::new(),
            stopped: None,
        }
    }

    pub async fn run(&mut self, mut rx: mpsc::Receiver<Work>) {
        while let Some(work) = rx.recv().await {
            if self.stopped.is_some() {
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
                        self.events.push(*ev);
                        if self.events.len() >= EVENT_FLUSH {
                            self.flush_events().await;
                        }
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
        for (entry, table) in files {
            let mut o = FileOutcome::new(&entry.rel, Status::Interrupted)
                .detail("not finished: ClickHouse became unreachable");
            o.table = table;
            o.bytes = entry.size;
            self.finish(o);
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
            if e.is_unreachable() {
                self.stopped.get_or_insert(e);
            }
        }
    }

    fn file_event(
        &self,
        event: Event,
        entry: &FileEntry,
        table: &TableRef,
        hash: &str,
    ) -> EventRow {
        let mut ev = self.manifest.event(event);
        ev.path = entry.rel.clone();
        ev.size = entry.size;
        ev.mtime_ns = entry.mtime_ns;
        ev.file_hash = hash.to_owned();
        ev.target_table = table.to_string();
        ev.format = entry.detected.to_string();
        ev
    }

    /// What tells this ingestion of some content apart from earlier ones in insert names (and so
    /// in deduplication tokens): how often it was forgotten, and, when the manifest was lost and
    /// that is unknown, the run.
    fn salt(&self, target: &Target, generation: u64) -> String {
        match (target.recovery, generation) {
            (true, _) => format!("-r{}", self.manifest.run_id),
            (false, 0) => String::new(),
            (false, g) => format!("-g{g}"),
        }
    }

    /// How the server may deduplicate an insert named `name`. Where the server takes tokens, the
    /// name is the token, and names never repeat for other rows. Elsewhere the server compares
    /// blocks by checksum, which only rows with provenance make safe, and only while no earlier
    /// ingestion of the same content may have left identical blocks behind.
    fn dedup(&self, target: &Target, generation: u64, name: &str) -> Dedup {
        let checksums_safe = target.provenance && generation == 0 && !target.recovery;
        if self.server.caps.has_deduplication_token() || checksums_safe {
            Dedup::Token(name.to_owned())
        } else {
            Dedup::Off
        }
    }

    fn start_insert(
        &self,
        target: &Target,
        columns: &str,
        name: &str,
        generation: u64,
    ) -> InsertFormatted {
        self.server.start_insert(&InsertSpec {
            table: &target.table,
            columns,
            query_id: name,
            dedup: self.dedup(target, generation, name),
            settings: &target.insert_settings,
        })
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
        let mut o = Self::outcome(entry, table, Status::Ingested, sent).hash(hash);
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
                run_id: self.manifest.run_id.clone(),
                target_table: table.to_string(),
                file_hash: hash.to_owned(),
                path: entry.rel.clone(),
                record: r.error.record,
                line: r.error.line.unwrap_or(0),
                column: r.error.column.clone().unwrap_or_default(),
                value: r.value.clone(),
                reason: r.error.reason.clone(),
            })
            .collect();
        self.manifest.write_rejects(&rows).await
    }

    fn finish(&mut self, outcome: FileOutcome) {
        log_outcome(&outcome);
        self.progress.file_done(&outcome.rel, outcome.bytes);
        self.outcomes.push(outcome);
    }

    fn outcome(entry: &FileEntry, table: &TableRef, status: Status, rows: u64) -> FileOutcome {
        FileOutcome::of(entry, table, status).rows(rows)
    }

    /// Records a file that could not be finished and decides whether the run goes on.
    async fn trouble(
        &mut self,
        entry: &FileEntry,
        table: &TableRef,
        hash: &str,
        started: Instant,
        t: Trouble,
    ) {
        let (kind, error) = match t {
            Trouble::Server(e) if e.is_unreachable() => {
                self.finish(
                    Self::outcome(entry, table, Status::Interrupted, 0)
                        .detail(format!("not finished: {e}"))
                        .since(started),
                );
                self.stopped.get_or_insert(e);
                return;
            }
            Trouble::Server(e) => (KIND_TRANSIENT, format!("{}: {e}", entry.rel)),
            Trouble::Data(msg) => (KIND_DATA, format!("{}: {msg}", entry.rel)),
            Trouble::Changed(msg) | Trouble::Local(msg) => {
                (KIND_TRANSIENT, format!("{}: {msg}", entry.rel))
            }
        };
        let mut ev = self.file_event(Event::Failed, entry, table, hash);
        ev.error = error.clone();
        ev.error_kind = kind.to_owned();
        self.events.push(ev);
        let mut outcome = Self::outcome(entry, table, Status::Failed, 0)
            .detail(error)
            .hash(hash)
            .since(started);
        outcome.transient = kind == KIND_TRANSIENT;
        self.finish(outcome);
    }

    async fn group(&mut self, g: Group) {
        let table = g.target.table.clone();
        let claims: Vec<EventRow> = g
            .files
            .iter()
            .map(|f| {
                let mut ev = self.file_event(Event::Claimed, &f.entry, &table, &f.hash);
                ev.rows = f.rows();
                ev.rejected = f.rejects.len() as u64;
                ev.batch_rows = g.batch_rows;
                ev
            })
            .collect();
        if let Err(e) = self.manifest.write(&claims).await {
            self.stopped.get_or_insert(e);
            return self.interrupted(Work::Group(g));
        }
        crash_point!("before-insert");
        let mut digest = blake3::Hasher::new();
        for f in &g.files {
            digest.update(f.hash.as_bytes());
            digest.update(self.salt(&g.target, f.generation).as_bytes());
        }
        let query_id = format!(
            "{}g{}",
            self.query_id_prefix,
            &digest.finalize().to_hex()[..16]
        );
        let generation = g.files.iter().map(|f| f.generation).max().unwrap_or(0);
        let mut insert = self.start_insert(&g.target, &g.columns, &query_id, generation);
        let sent = async {
            insert.send(bytes::Bytes::from(g.body)).await?;
            crash_point!("mid-insert");
            insert.end().await
        }
        .await;
        if let Err(e) = sent {
            let e = self.server.classify(e);
            log::warn!("insert of {} files into {table} failed: {e}", g.files.len());
            // Whatever landed is found by provenance: each file is finished on its own.
            return self
                .files_one_by_one(g.files, &g.target, g.batch_rows)
                .await;
        }
        crash_point!("after-insert");
        let hashes: Vec<&str> = g.files.iter().map(|f| f.hash.as_str()).collect();
        let counts = if g.target.provenance {
            match provenance::row_counts(&self.server, &table, &hashes).await {
                Ok(c) => c,
                Err(_) => {
                    return self
                        .files_one_by_one(g.files, &g.target, g.batch_rows)
                        .await;
                }
            }
        } else {
            g.files
                .iter()
                .map(|f| (f.hash.clone(), (f.rows(), f.rows())))
                .collect()
        };
        let mut events = Vec::new();
        let mut outcomes = Vec::new();
        let mut again = Vec::new();
        let mut landed = Vec::new();
        for f in g.files {
            let (n, u) = counts.get(&f.hash).copied().unwrap_or((0, 0));
            if n == f.rows() && u == f.rows() {
                landed.push(f);
            } else {
                again.push(f);
            }
        }
        for f in &landed {
            if let Err(e) = self
                .record_rejects(&f.entry, &table, &f.hash, &f.rejects)
                .await
            {
                self.stopped.get_or_insert(e);
                return self.files_one_by_one(landed, &g.target, g.batch_rows).await;
            }
        }
        for f in landed {
            let mut ev = self.file_event(Event::Done, &f.entry, &table, &f.hash);
            ev.rows = f.rows();
            ev.rejected = f.rejects.len() as u64;
            ev.batch_rows = g.batch_rows;
            events.push(ev);
            outcomes.push(
                Self::ingested(&f.entry, &table, &f.hash, (f.rows(), f.rows()), &f.rejects)
                    .since(f.started),
            );
        }
        if let Err(e) = self.manifest.write(&events).await {
            self.events.extend(events);
            if e.is_unreachable() {
                self.stopped.get_or_insert(e);
            }
        }
        crash_point!("after-done");
        for o in outcomes {
            self.finish(o);
        }
        self.files_one_by_one(again, &g.target, g.batch_rows).await;
    }

    /// Finishes files of a coalesced insert that failed or did not fully land, each on its own
    /// through the resume path, so a bad file cannot take the others down with it.
    async fn files_one_by_one(
        &mut self,
        files: Vec<super::prepare::GroupFile>,
        target: &Arc<super::encode::Target>,
        batch_rows: u64,
    ) {
        for f in files {
            let lf = LargeFile::from_group(f, target.clone(), batch_rows);
            if self.stopped.is_some() {
                self.interrupted(Work::Large(lf));
            } else {
                self.large(lf).await;
            }
        }
    }

    /// A file sent batch by batch, retried with backoff through the resume path.
    async fn large(&mut self, lf: LargeFile) {
        let policy = self.server.retry_policy();
        let mut resume = lf.resume;
        let mut attempt = 0;
        self.sent.set(0);
        loop {
            match self.try_large(&lf, resume).await {
                Ok(outcome) => return self.finish(outcome.since(lf.started)),
                Err(Trouble::Server(e)) if attempt < policy.retries => {
                    let delay = policy.delay(attempt);
                    log::warn!(
                        "{}: {e}; checking what landed and retrying in {delay:.1?}",
                        lf.entry.rel
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                    resume = true;
                }
                Err(Trouble::Changed(why)) => return self.changed_underway(&lf, &why).await,
                Err(t) => {
                    let table = lf.target.table.clone();
                    return self
                        .trouble(&lf.entry, &table, &lf.hash, lf.started, t)
                        .await;
                }
            }
        }
    }

    /// A file whose content changed while it was sent: what was sent is not what was checked,
    /// so none of it may stay. Its rows are deleted by provenance (waiting for the mutation) and
    /// its content forgotten, so that content sent again later gets new insert names; the path
    /// is recorded as failed for now, so the next run reads it again.
    async fn changed_underway(&mut self, lf: &LargeFile, why: &str) {
        let table = &lf.target.table;
        let file_id = crate::hash::file_id(&lf.hash);
        let deleted = match lf.target.provenance {
            true => Some(self.delete_rows(lf).await),
            false => None,
        };
        let (detail, forget) = match deleted {
            Some(Ok(n)) => (
                format!(
                    "changed while it was being ingested ({why}); its {n} rows sent so far were \
                     deleted from {table}, and the next run reads it again"
                ),
                true,
            ),
            Some(Err(e)) => (
                format!(
                    "changed while it was being ingested ({why}); deleting the rows it sent \
                     failed ({e}): rows of it may be in {table} with {} = {file_id}",
                    crate::ch::schema::PROVENANCE_FILE
                ),
                false,
            ),
            None => (
                format!(
                    "changed while it was being ingested ({why}); {table} has no provenance \
                     columns, so rows of it may be in it"
                ),
                false,
            ),
        };
        let mut events = Vec::new();
        if forget {
            events.push(self.file_event(Event::Forgotten, &lf.entry, table, &lf.hash));
        }
        let mut failed = self.file_event(Event::Failed, &lf.entry, table, &lf.hash);
        failed.error = detail.clone();
        failed.error_kind = KIND_TRANSIENT.to_owned();
        events.push(failed);
        if let Err(e) = self.manifest.write(&events).await {
            log::error!("{}: cannot record the change: {e}", lf.entry.rel);
            if e.is_unreachable() {
                self.stopped.get_or_insert(e);
            }
        }
        let mut outcome = Self::outcome(&lf.entry, table, Status::Changed, 0)
            .detail(detail)
            .hash(&lf.hash)
            .since(lf.started);
        outcome.transient = true;
        self.finish(outcome);
    }

    /// Records a poison file, first deleting the rows a crashed second pass may have sent of it
    /// (and forgetting its content, so that a later ingestion gets new insert names): a failed
    /// file keeps no row in the table.
    async fn poison(&mut self, mut outcome: FileOutcome, mut failed: EventRow, table: &TableRef) {
        let hash = outcome.hash.clone();
        let landed = match provenance::row_counts(&self.server, table, &[&hash]).await {
            Ok(counts) => counts.get(&hash).map_or(0, |&(n, _)| n),
            Err(e) => {
                log::error!(
                    "{}: cannot look for rows of it in {table}: {e}",
                    outcome.rel
                );
                0
            }
        };
        if landed > 0 {
            let deleted = self
                .server
                .wait_for_queries(&self.query_id_prefix, self.server.insert_timeout())
                .await;
            let deleted = match deleted {
                Ok(()) => {
                    self.server
                        .delete_file_rows(table, crate::hash::file_id(&hash))
                        .await
                }
                Err(e) => Err(e),
            };
            match deleted {
                Ok(n) => {
                    let mut forgotten = self.manifest.event(Event::Forgotten);
                    forgotten.path = failed.path.clone();
                    forgotten.size = failed.size;
                    forgotten.mtime_ns = failed.mtime_ns;
                    forgotten.file_hash = hash.clone();
                    forgotten.target_table = failed.target_table.clone();
                    forgotten.format = failed.format.clone();
                    self.events.push(forgotten);
                    outcome.detail.push_str(&format!(
                        "; the {n} rows an interrupted run sent of it were deleted from {table}"
                    ));
                }
                Err(e) => outcome.detail.push_str(&format!(
                    "; deleting the rows an interrupted run sent of it failed ({e}): they are in \
                     {table} with {} = {}",
                    crate::ch::schema::PROVENANCE_FILE,
                    crate::hash::file_id(&hash)
                )),
            }
            // After the content was forgotten: the latest event says the file failed.
            let now = self.manifest.event(Event::Failed);
            (failed.seq, failed.event_time) = (now.seq, now.event_time);
            failed.error = outcome.detail.clone();
        }
        self.events.push(failed);
        self.finish(outcome);
    }

    /// Deletes every row of a file once its inserts have ended on the server (a mutation leaves
    /// parts written after it alone), and checks that none is left.
    async fn delete_rows(&self, lf: &LargeFile) -> Result<u64, ChError> {
        let table = &lf.target.table;
        let mut deleted = 0;
        // An insert the server finishes after a delete is not touched by it: delete until none
        // is left (an insert ends within the insert timeout).
        for _ in 0..3 {
            self.server
                .wait_for_queries(&self.query_id_prefix, self.server.insert_timeout())
                .await?;
            deleted += self
                .server
                .delete_file_rows(table, crate::hash::file_id(&lf.hash))
                .await?;
            let left = provenance::row_counts(&self.server, table, &[&lf.hash]).await?;
            if left.get(&lf.hash).is_none_or(|&(n, _)| n == 0) {
                return Ok(deleted);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(ChError::Server {
            code: 0,
            message: "rows of it are still there after deleting them three times".into(),
        })
    }

    async fn plan_batches(&self, lf: &LargeFile, resume: bool) -> Result<Vec<BatchPlan>, Trouble> {
        let b = lf.batch_rows;
        let batches = lf.records.div_ceil(b) as usize;
        if !resume {
            return Ok(vec![BatchPlan::Full; batches]);
        }
        let mut expected: Vec<u64> = (0..batches as u64)
            .map(|k| b.min(lf.records - k * b))
            .collect();
        for r in &lf.rejects {
            if let Some(e) = expected.get_mut((r.error.record / b) as usize) {
                *e -= 1;
            }
        }
        self.server
            .wait_for_queries(&self.query_id_prefix, self.server.insert_timeout())
            .await?;
        let table = &lf.target.table;
        if !lf.target.provenance {
            // At-least-once: only batches the server acknowledged are known to be in.
            let acked = self
                .manifest
                .acknowledged_batches(table, &lf.hash, b)
                .await?;
            return Ok((0..batches as u64)
                .map(|k| match acked.contains(&k) {
                    true => BatchPlan::Skip,
                    false => BatchPlan::Full,
                })
                .collect());
        }
        let landed = provenance::landed_batches(&self.server, table, &lf.hash, b).await?;
        if let Some(k) = landed.keys().find(|&&k| k as usize >= batches) {
            return Err(Trouble::Data(format!(
                "{table} holds rows of batch {k} of this file, which has only {batches} batches \
                 of {b} rows; was it ingested with another --batch-rows?"
            )));
        }
        let mut plans = Vec::with_capacity(batches);
        for (k, &want) in expected.iter().enumerate() {
            let k = k as u64;
            let n = landed.get(&k).copied().unwrap_or(0);
            plans.push(if n == want {
                BatchPlan::Skip
            } else if n == 0 {
                BatchPlan::Full
            } else {
                let have =
                    provenance::landed_ordinals(&self.server, table, &lf.hash, k * b, (k + 1) * b)
                        .await?;
                if have.len() as u64 != n || n > want {
                    return Err(Trouble::Data(format!(
                        "{table} holds {n} rows of batch {k} of this file, {} distinct, but the \
                         batch has {want}: duplicate rows",
                        have.len()
                    )));
                }
                BatchPlan::Fill(have)
            });
        }
        Ok(plans)
    }

    async fn try_large(&mut self, lf: &LargeFile, resume: bool) -> Result<FileOutcome, Trouble> {
        let table = &lf.target.table;
        let plans = self.plan_batches(lf, resume).await?;
        *self.acked.borrow_mut() = Acked::default();
        let mut claim = self.file_event(Event::Claimed, &lf.entry, table, &lf.hash);
        claim.rows = lf.rows();
        claim.rejected = lf.rejects.len() as u64;
        claim.batch_rows = lf.batch_rows;
        self.manifest.write(&[claim]).await?;
        log::debug!("{}: claimed, sending", lf.entry.rel);
        if plans.iter().any(|p| *p != BatchPlan::Skip) {
            self.stream_batches(lf, plans).await?;
        }
        crash_point!("before-read-back");
        log::debug!("{}: sent, reading back", lf.entry.rel);
        let (n, u) = if lf.target.provenance {
            let counts = provenance::row_counts(&self.server, table, &[&lf.hash]).await?;
            counts.get(&lf.hash).copied().unwrap_or((0, 0))
        } else {
            (lf.rows(), lf.rows())
        };
        if n != u {
            return Err(Trouble::Data(format!(
                "{table} holds {n} rows of this file but only {u} distinct ones: duplicate rows"
            )));
        }
        if n != lf.rows() {
            return Err(Trouble::Server(ChError::Server {
                code: 0,
                message: format!("read back {n} of {} rows", lf.rows()),
            }));
        }
        self.record_rejects(&lf.entry, table, &lf.hash, &lf.rejects)
            .await?;
        let mut done = self.file_event(Event::Done, &lf.entry, table, &lf.hash);
        done.rows = n;
        done.rejected = lf.rejects.len() as u64;
        done.batch_rows = lf.batch_rows;
        self.write_acked(&[done]).await?;
        crash_point!("after-done");
        Ok(Self::ingested(
            &lf.entry,
            table,
            &lf.hash,
            (n, self.sent.get()),
            &lf.rejects,
        ))
    }

    /// Waits for the server to finish an insert and records its batches.
    async fn acknowledge(&self, lf: &LargeFile, done: Finishing) -> Result<(), Trouble> {
        done.end
            .await
            .map_err(|e| ChError::Client(format!("insert task: {e}")))?
            .map_err(|e| self.server.classify(e))?;
        crash_point!("after-insert");
        let rows: u64 = done.batches.iter().map(|(_, rows)| rows).sum();
        self.sent.set(self.sent.get() + rows);
        let due = {
            let mut pending = self.acked.borrow_mut();
            for &(batch, rows) in &done.batches {
                let mut ev = self.file_event(Event::Batch, &lf.entry, &lf.target.table, &lf.hash);
                ev.batch = batch;
                ev.rows = rows;
                ev.batch_rows = lf.batch_rows;
                pending.events.push(ev);
            }
            // Without provenance the manifest is the only record of what landed: write at once.
            !lf.target.provenance || pending.since.elapsed() >= BATCH_EVENTS_EVERY
        };
        if due {
            self.write_acked(&[]).await?;
            crash_point!("after-batch-event");
        }
        Ok(())
    }

    /// Writes the acknowledged batches not recorded yet, with `more` events in the same insert.
    async fn write_acked(&self, more: &[EventRow]) -> Result<(), ChError> {
        let mut events = std::mem::take(&mut self.acked.borrow_mut().events);
        events.extend_from_slice(more);
        self.manifest.write(&events).await?;
        self.acked.borrow_mut().since = Instant::now();
        Ok(())
    }

    async fn stream_batches(
        &mut self,
        lf: &LargeFile,
        plans: Vec<BatchPlan>,
    ) -> Result<(), Trouble> {
        let mut columns = String::new();
        let per_insert = lf.per_insert.max(1);
        let salt = self.salt(&lf.target, lf.generation);
        let names = InsertNames::new(&self.query_id_prefix, &lf.hash, &salt, &plans, per_insert);
        let (tx, mut rx) = mpsc::channel(2);
        let handle = match &lf.spilled {
            Some(spilled) if plans.iter().all(|p| *p == BatchPlan::Full) => {
                log::debug!("{}: sending the rows kept by the first pass", lf.entry.rel);
                let file_id = lf.target.provenance.then(|| crate::hash::file_id(&lf.hash));
                spilled.replay(file_id, lf.hash.clone(), tx)
            }
            _ => stream::spawn(
                stream::Job {
                    entry: lf.entry.clone(),
                    target: lf.target.clone(),
                    hash: lf.hash.clone(),
                    batch_rows: lf.batch_rows,
                    insert_rows: self.insert_rows,
                    per_insert,
                    plans,
                    limits: self.limits,
                    policy: self.policy,
                    crashes: self.crashes.clone(),
                },
                tx,
            ),
        }
        .map_err(|e| Trouble::Local(format!("cannot start a thread: {e}")))?;
        let mut open: Option<OpenInsert> = None;
        // The insert the server is finishing while the next one streams.
        let mut finishing: Option<Finishing> = None;
        let result = async {
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Columns(list) => columns = list,
                    Msg::Begin { batch } => {
                        let group = batch / per_insert;
                        if open.as_ref().is_some_and(|o| o.group != group) {
                            self.close_insert(lf, &mut open, &mut finishing).await?;
                        }
                        if open.is_none() {
                            crash_point!("before-insert");
                            fail::fail_point!("insert-server-error", |_| {
                                Err(Trouble::Server(ChError::Server {
                                    code: 252,
                                    message: "Too many parts (injected by a failpoint)".into(),
                                }))
                            });
                            fail::fail_point!("insert-unreachable", |_| {
                                Err(Trouble::Server(ChError::Unreachable {
                                    url: self.server.display_url().to_owned(),
                                    reason: "connection refused (injected by a failpoint)".into(),
                                }))
                            });
                            let name = names.of(group);
                            log::debug!("{}: insert {name}", lf.entry.rel);
                            open = Some(OpenInsert {
                                group,
                                insert: self.start_insert(
                                    &lf.target,
                                    &columns,
                                    &name,
                                    lf.generation,
                                ),
                                batches: Vec::new(),
                            });
                        }
                    }
                    Msg::Data(bytes) => {
                        if let Some(o) = open.as_mut() {
                            o.insert
                                .send(bytes)
                                .await
                                .map_err(|e| self.server.classify(e))?;
                            crash_point!("mid-insert");
                        }
                    }
                    Msg::End { batch, rows } => {
                        if let Some(o) = open.as_mut() {
                            o.batches.push((batch, rows));
                        }
                    }
                    Msg::Error(Fault::Changed(e)) => return Err(Trouble::Changed(e)),
                    Msg::Error(Fault::Local(e)) => return Err(Trouble::Local(e)),
                    Msg::Done { hash } => {
                        if hash != lf.hash {
                            return Err(Trouble::Changed(format!(
                                "{}: content hash is now {hash}",
                                lf.entry.rel
                            )));
                        }
                        self.close_insert(lf, &mut open, &mut finishing).await?;
                    }
                }
            }
            if let Some(done) = finishing.take() {
                self.acknowledge(lf, done).await?;
            }
            Ok(())
        }
        .await;
        if let Some(abandoned) = finishing {
            match &result {
                // Its rows are about to be deleted: let its last insert end first, so that the
                // delete sees them.
                Err(Trouble::Changed(_)) => drop(abandoned.end.await),
                _ => abandoned.end.abort(),
            }
        }
        drop(open);
        drop(rx);
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        result
    }

    /// Ends the open insert; the server finishes it while the next one streams, and the one
    /// before it is acknowledged first.
    async fn close_insert(
        &self,
        lf: &LargeFile,
        open: &mut Option<OpenInsert>,
        finishing: &mut Option<Finishing>,
    ) -> Result<(), Trouble> {
        let Some(o) = open.take() else {
            return Ok(());
        };
        let next = Finishing {
            batches: o.batches,
            end: tokio::spawn(o.insert.end()),
        };
        if let Some(done) = finishing.replace(next) {
            self.acknowledge(lf, done).await?;
        }
        // Without provenance, an insert in flight when the process dies would be sent again:
        // keep that to one insert by waiting for each.
        if !lf.target.provenance
            && let Some(done) = finishing.take()
        {
            self.acknowledge(lf, done).await?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn insert_names_say_which_batches_and_what_of_them() {
        let full = vec![BatchPlan::Full; 4];
        let two = InsertNames::new("ingest-f-", HASH, "", &full, 2);
        assert_eq!(two.of(0), "ingest-f-0123456789abcdef-i0x2");
        assert_eq!(two.of(1), "ingest-f-0123456789abcdef-i1x2");
        // Another cut never reuses a name for other rows.
        let one = InsertNames::new("ingest-f-", HASH, "", &full, 1);
        assert_ne!(one.of(1), two.of(1));

        let mut partial = full.clone();
        partial[3] = BatchPlan::Fill([7u64, 9].into_iter().collect());
        let names = InsertNames::new("ingest-f-", HASH, "", &partial, 2);
        assert_eq!(names.of(0), two.of(0));
        let named = names.of(1);
        assert!(
            named.starts_with("ingest-f-0123456789abcdef-i1x2-"),
            "{named}"
        );
        let mut other = full.clone();
        other[3] = BatchPlan::Fill([7u64].into_iter().collect());
        assert_ne!(
            InsertNames::new("ingest-f-", HASH, "", &other, 2).of(1),
            named
        );
        assert_eq!(
            InsertNames::new("ingest-f-", HASH, "", &partial, 2).of(1),
            named
        );
    }
}
