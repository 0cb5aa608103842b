//! The end of each insert and of a file sent batch by batch: acknowledged batches recorded in the
//! manifest (together, now and then), and the read-back that reconciles what landed with what was
//! read before the file is recorded as done.

use super::Sink;
use super::error::SinkError;
use super::insert::Finishing;
use super::landed::Landed;
use super::work::LargeFile;
use crate::ch::ChError;
use crate::manifest::{Event, EventRow};
use crate::outcome::FileOutcome;
use std::time::{Duration, Instant};

/// Batch events are recorded with the file's `done`, or this often for a file that takes long:
/// each insert into the manifest costs the server a new part, and what landed is known from the
/// table anyway.
const BATCH_EVENTS_EVERY: Duration = Duration::from_secs(10);

/// What one attempt at a file has had acknowledged.
pub(super) struct Progress {
    /// Batch events not recorded yet.
    pending: Vec<EventRow>,
    /// When batch events were last recorded.
    since: Instant,
    /// Rows this run has had acknowledged (a resumed file's rows already in the table are not
    /// among them).
    pub(super) sent: u64,
}

impl Progress {
    pub(super) fn new(sent: u64) -> Progress {
        Progress {
            pending: Vec::new(),
            since: Instant::now(),
            sent,
        }
    }
}

impl Sink {
    /// Reads back what landed of a file whose rows were all sent, and records it as done.
    pub(super) async fn confirm(
        &self,
        lf: &LargeFile,
        landed: &dyn Landed,
        mut progress: Progress,
    ) -> Result<FileOutcome, SinkError> {
        let table = &lf.target.table;
        crash_point!("before-read-back");
        log::debug!("{}: sent, reading back", lf.entry.rel);
        let counts = landed.counts(&[(&lf.hash, lf.rows())]).await?;
        let (n, u) = counts.get(&lf.hash).copied().unwrap_or((0, 0));
        if n != u {
            return Err(SinkError::Data(format!(
                "{table} holds {n} rows of this file but only {u} distinct ones: duplicate rows"
            )));
        }
        if n != lf.rows() {
            return Err(SinkError::short(format!(
                "read back {n} of {} rows",
                lf.rows()
            )));
        }
        self.record_rejects(&lf.entry, table, &lf.hash, &lf.rejects)
            .await?;
        let mut done = self.file_event(Event::Done, &lf.entry, table, &lf.hash);
        done.rows = n;
        done.rejected = lf.rejects.len() as u64;
        done.batch_rows = lf.batch_rows;
        self.write_acked(&mut progress, &[done]).await?;
        crash_point!("after-done");
        let rows = (n, progress.sent);
        Ok(Self::ingested(
            &lf.entry,
            table,
            &lf.hash,
            rows,
            &lf.rejects,
        ))
    }

    /// Waits for the server to finish an insert and records its batches.
    pub(super) async fn acknowledge(
        &self,
        lf: &LargeFile,
        landed: &dyn Landed,
        done: Finishing,
        progress: &mut Progress,
    ) -> Result<(), SinkError> {
        let batches = done.acknowledged(&self.server).await?;
        crash_point!("after-insert");
        for (batch, rows) in batches {
            progress.sent += rows;
            let mut ev = self.file_event(Event::Batch, &lf.entry, &lf.target.table, &lf.hash);
            ev.batch = batch;
            ev.rows = rows;
            ev.batch_rows = lf.batch_rows;
            progress.pending.push(ev);
        }
        if landed.acks_are_the_record() || progress.since.elapsed() >= BATCH_EVENTS_EVERY {
            self.write_acked(progress, &[]).await?;
            crash_point!("after-batch-event");
        }
        Ok(())
    }

    /// Writes the acknowledged batches not recorded yet, with `more` events in the same insert.
    async fn write_acked(&self, progress: &mut Progress, more: &[EventRow]) -> Result<(), ChError> {
        let mut events = std::mem::take(&mut progress.pending);
        events.extend_from_slice(more);
        self.manifest.write(&events).await?;
        progress.since = Instant::now();
        Ok(())
    }
}
