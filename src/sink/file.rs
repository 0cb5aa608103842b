//! One file sent batch by batch: claimed, planned against what already landed, streamed insert
//! by insert while the next one is encoded, read back, and only then recorded as done; retried
//! through the same path when the server fails on the way.

use super::Sink;
use super::acked::Progress;
use super::encoder::{self, Fault, Msg, Read};
use super::error::SinkError;
use super::insert::Stream;
use super::landed::Landed;
use super::layout::{BatchPlan, InsertNames};
use super::work::LargeFile;
use crate::manifest::Event;
use crate::outcome::FileOutcome;
use std::cell::Cell;
use tokio::sync::mpsc;

/// A file's inserts while its batches stream.
struct Streaming<'a> {
    lf: &'a LargeFile,
    landed: &'a dyn Landed,
    /// Named once the cut is known: from the start, or from the file's only pass.
    names: Option<InsertNames>,
    salt: String,
    per_insert: u64,
    columns: String,
    inserts: Stream,
    /// What reading the file found, once it is read to the end.
    read: Option<Read>,
}

impl Sink {
    /// Sends a file: in its only pass where it may be, then, if that did not finish it, through
    /// the resume path, retrying with backoff while the server fails.
    pub(super) async fn large(&mut self, mut lf: LargeFile) {
        let table = lf.target.table.clone();
        match self.claim(&[(&table.to_string(), &lf.hash)]).await {
            Err(e) => {
                let e = SinkError::Server(e);
                return self
                    .trouble(&lf.entry, &table, &lf.hash, lf.started, e)
                    .await;
            }
            Ok(held) => {
                if let Some(Some(holder)) = held.first() {
                    return self.left_to(&lf.entry, &table, &lf.hash, holder);
                }
            }
        }
        let landed = self.landed(&lf.target);
        if lf.one_pass && !self.only_pass(&mut lf, &*landed).await {
            return;
        }
        let sent = Cell::new(0);
        let what = format!("{}: checking what landed", lf.entry.rel);
        let this = &*self;
        let result = this
            .server
            .retry(&what, log::Level::Warn, |attempt| {
                let resume = lf.resume || attempt > 0;
                this.try_large(&lf, &*landed, resume, &sent)
            })
            .await;
        match result {
            Ok(outcome) => self.finish(outcome.since(lf.started)),
            Err(SinkError::Changed(why)) => self.changed_underway(&lf, &*landed, &why).await,
            Err(e) => {
                let table = lf.target.table.clone();
                self.trouble(&lf.entry, &table, &lf.hash, lf.started, e)
                    .await
            }
        }
    }

    /// What to send of each batch: everything on a first attempt; otherwise what the table (or
    /// the manifest) does not hold yet, once no insert of an earlier run is still executing.
    async fn plan_batches(
        &self,
        lf: &LargeFile,
        landed: &dyn Landed,
        resume: bool,
    ) -> Result<Vec<BatchPlan>, SinkError> {
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
            .wait_for_queries(&self.inserter.prefix, self.server.insert_timeout())
            .await?;
        landed
            .plan(&lf.hash, b, &expected, lf.entry.first_row())
            .await
    }

    async fn try_large(
        &self,
        lf: &LargeFile,
        landed: &dyn Landed,
        resume: bool,
        sent: &Cell<u64>,
    ) -> Result<FileOutcome, SinkError> {
        let table = &lf.target.table;
        let plans = self.plan_batches(lf, landed, resume).await?;
        let mut progress = Progress::new(sent.get());
        let mut claim = self.file_event(Event::Claimed, &lf.entry, table, &lf.hash);
        claim.rows = lf.rows();
        claim.rejected = lf.rejects.len() as u64;
        claim.batch_rows = lf.batch_rows;
        self.manifest.write(&[claim]).await?;
        log::debug!("{}: claimed, sending", lf.entry.rel);
        let streamed = match plans.iter().any(|p| *p != BatchPlan::Skip) {
            true => self.stream_batches(lf, landed, plans, &mut progress).await,
            false => Ok(None),
        };
        sent.set(progress.sent);
        streamed?;
        self.confirm(lf, landed, progress).await
    }

    /// Streams the batches `plans` asks for: the encoder (or the spill's replay) hands over
    /// bytes on its thread while inserts are sent and acknowledged here. A file's only pass
    /// (`lf.one_pass`) decides the cut as it goes. Returns what reading the file found.
    pub(super) async fn stream_batches(
        &self,
        lf: &LargeFile,
        landed: &dyn Landed,
        plans: Vec<BatchPlan>,
        progress: &mut Progress,
    ) -> Result<Option<Read>, SinkError> {
        let per_insert = (!lf.one_pass).then_some(lf.per_insert.max(1));
        let salt = self.inserter.salt(&lf.target, lf.generation);
        let names =
            per_insert.map(|p| InsertNames::new(&self.inserter.prefix, &lf.hash, &salt, &plans, p));
        let (tx, mut rx) = mpsc::channel(2);
        let handle = self
            .start_encoder(lf, landed, plans, per_insert, tx)
            .map_err(|e| SinkError::Local(format!("cannot start a thread: {e}")))?;
        let mut s = Streaming {
            lf,
            landed,
            names,
            salt,
            per_insert: per_insert.unwrap_or(0),
            columns: String::new(),
            inserts: Stream::new(landed.acks_are_the_record()),
            read: None,
        };
        let result = async {
            while let Some(msg) = rx.recv().await {
                self.on_message(&mut s, msg, progress).await?;
            }
            match s.inserts.last() {
                Some(done) => self.acknowledge(s.lf, s.landed, done, progress).await,
                None => Ok(()),
            }
        }
        .await;
        // Rows about to be deleted: let the last insert end first, so that the delete sees them.
        let let_end = matches!(result, Err(SinkError::Changed(_) | SinkError::Bad(_)));
        s.inserts.abandon(let_end).await;
        drop(rx);
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        result.map(|()| s.read)
    }

    /// The encoder, or, when the first pass kept every row, the spill's replay.
    fn start_encoder(
        &self,
        lf: &LargeFile,
        landed: &dyn Landed,
        plans: Vec<BatchPlan>,
        per_insert: Option<u64>,
        tx: mpsc::Sender<Msg>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        match &lf.spilled {
            Some(spilled) if plans.iter().all(|p| *p == BatchPlan::Full) => {
                log::debug!("{}: sending the rows kept by the first pass", lf.entry.rel);
                spilled.replay(landed.file_id(&lf.hash), lf.hash.clone(), tx)
            }
            _ => encoder::spawn(self.encoder_job(lf, plans, per_insert), tx),
        }
    }

    /// How the encoder reads `lf`: its batches per insert, or `None` to have it decide.
    pub(super) fn encoder_job(
        &self,
        lf: &LargeFile,
        plans: Vec<BatchPlan>,
        per_insert: Option<u64>,
    ) -> encoder::Job {
        encoder::Job {
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
            progress: per_insert
                .is_none()
                .then(|| self.progress.reading(&lf.entry.rel))
                .flatten(),
        }
    }

    async fn on_message(
        &self,
        s: &mut Streaming<'_>,
        msg: Msg,
        progress: &mut Progress,
    ) -> Result<(), SinkError> {
        match msg {
            Msg::Columns(list) => s.columns = list,
            Msg::Cut { per_insert } => {
                let prefix = &self.inserter.prefix;
                s.names = Some(InsertNames::new(
                    prefix,
                    &s.lf.hash,
                    &s.salt,
                    &[],
                    per_insert,
                ));
                s.per_insert = per_insert;
            }
            Msg::Begin { batch } => self.begin_batch(s, batch, progress).await?,
            Msg::Data(bytes) => s.inserts.send(bytes, &self.server).await?,
            Msg::End { batch, rows } => s.inserts.end_batch(batch, rows),
            Msg::Error(Fault::Changed(e)) => return Err(SinkError::Changed(e)),
            Msg::Error(Fault::Local(e)) => return Err(SinkError::Local(e)),
            Msg::Error(Fault::Bad(errors)) => return Err(SinkError::Bad(errors)),
            Msg::Done(read) => {
                if read.hash != s.lf.hash {
                    return Err(SinkError::Changed(format!(
                        "{}: content hash is now {}",
                        s.lf.entry.rel, read.hash
                    )));
                }
                s.read = Some(*read);
                self.close_insert(s, progress).await?;
            }
        }
        Ok(())
    }

    /// A batch begins: in the open insert, or in a new one when it starts the next insert.
    async fn begin_batch(
        &self,
        s: &mut Streaming<'_>,
        batch: u64,
        progress: &mut Progress,
    ) -> Result<(), SinkError> {
        let group = batch / s.per_insert.max(1);
        if s.inserts.open_group().is_some_and(|g| g != group) {
            self.close_insert(s, progress).await?;
        }
        if s.inserts.open_group().is_some() {
            return Ok(());
        }
        crash_point!("before-insert");
        self.server.check_fence()?;
        fail::fail_point!("insert-server-error", |_| {
            Err(SinkError::Server(crate::ch::ChError::Server {
                code: 252,
                message: "Too many parts (injected by a failpoint)".into(),
            }))
        });
        fail::fail_point!("insert-unreachable", |_| {
            Err(SinkError::Server(crate::ch::ChError::Unreachable {
                url: self.server.display_url().to_string(),
                reason: "connection refused (injected by a failpoint)".into(),
            }))
        });
        let Some(names) = &s.names else {
            return Err(SinkError::Local(format!(
                "{}: rows came before the file's cut into inserts",
                s.lf.entry.rel
            )));
        };
        let name = names.of(group);
        log::debug!("{}: insert {name}", s.lf.entry.rel);
        let insert = self
            .inserter
            .start(&s.lf.target, &s.columns, &name, s.lf.generation);
        s.inserts.begin(group, insert);
        Ok(())
    }

    /// Ends the open insert and acknowledges the inserts now due.
    async fn close_insert(
        &self,
        s: &mut Streaming<'_>,
        progress: &mut Progress,
    ) -> Result<(), SinkError> {
        for done in s.inserts.close() {
            self.acknowledge(s.lf, s.landed, done, progress).await?;
        }
        Ok(())
    }
}
