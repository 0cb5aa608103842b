//! A large file sent in its only pass: its rows go out while its records are checked, so the file
//! is read (and parsed) once instead of twice. A bad record found on the way deletes what landed
//! of it, so that it fails with no row in the table, as a file checked first would; this needs a
//! table whose rows can be taken back with nothing downstream having seen them (a MergeTree with
//! no materialized view on it), which the reading side decides. A file whose only pass stopped
//! short for the server's trouble is read through to learn its rows, then resumed as any other.

use super::Sink;
use super::acked::Progress;
use super::encoder::{self, Fault, Read};
use super::error::SinkError;
use super::landed::Landed;
use super::work::LargeFile;
use crate::manifest::Event;
use crate::outcome::FileOutcome;

impl Sink {
    /// Tries a file in its only pass. `true` when it is not finished but can be: it then goes
    /// through the resume path, knowing what reading it found.
    pub(super) async fn only_pass(&mut self, lf: &mut LargeFile, landed: &dyn Landed) -> bool {
        let e = match self.send_checking(lf, landed).await {
            Ok(outcome) => {
                self.finish(outcome.since(lf.started));
                return false;
            }
            Err(e) => e,
        };
        let e = match e {
            SinkError::Server(e) if !e.is_unreachable() => {
                log::warn!("{}: {e}; the next attempt resumes it", lf.entry.rel);
                if !lf.one_pass {
                    return true;
                }
                match self.read_through(lf).await {
                    Ok(()) => return true,
                    Err(e) => e,
                }
            }
            other => other,
        };
        self.stopped_short(lf, landed, e).await;
        false
    }

    /// Records a file whose only pass (or the read that followed it) ended with `e`.
    async fn stopped_short(&mut self, lf: &LargeFile, landed: &dyn Landed, e: SinkError) {
        match e {
            SinkError::Changed(why) => self.changed_underway(lf, landed, &why).await,
            SinkError::Bad(errors) => self.bad_underway(lf, landed, &errors).await,
            other => {
                let table = lf.target.table.clone();
                self.trouble(&lf.entry, &table, &lf.hash, lf.started, other)
                    .await;
            }
        }
    }

    /// Claims the file and sends it as its only pass reads it; once the whole file is read,
    /// what reading it found is kept in `lf` (which then is a file like any other).
    async fn send_checking(
        &self,
        lf: &mut LargeFile,
        landed: &dyn Landed,
    ) -> Result<FileOutcome, SinkError> {
        let mut claim = self.file_event(Event::Claimed, &lf.entry, &lf.target.table, &lf.hash);
        claim.batch_rows = lf.batch_rows;
        self.manifest.write(&[claim]).await?;
        log::debug!("{}: claimed, sending while reading", lf.entry.rel);
        let mut progress = Progress::new(0);
        let read = self
            .stream_batches(lf, landed, Vec::new(), &mut progress)
            .await?;
        let read = read.ok_or_else(|| {
            SinkError::Local(format!("{}: its rows ended before its end", lf.entry.rel))
        })?;
        lf.learn(read);
        self.confirm(lf, landed, progress).await
    }

    /// Reads the whole file without sending anything, to learn what the resume path needs.
    async fn read_through(&self, lf: &mut LargeFile) -> Result<(), SinkError> {
        let job = self.encoder_job(lf, Vec::new(), None);
        let handle = encoder::spawn_check(job)
            .map_err(|e| SinkError::Local(format!("cannot start a thread: {e}")))?;
        let joined = tokio::task::spawn_blocking(move || handle.join()).await;
        let read: Result<Read, Fault> = match joined {
            Ok(Ok(result)) => result,
            _ => Err(Fault::Local(format!("{}: reading it failed", lf.entry.rel))),
        };
        match read {
            Ok(read) if read.hash == lf.hash => {
                lf.learn(read);
                Ok(())
            }
            Ok(read) => Err(SinkError::Changed(format!(
                "{}: content hash is now {}",
                lf.entry.rel, read.hash
            ))),
            Err(Fault::Bad(errors)) => Err(SinkError::Bad(errors)),
            Err(Fault::Changed(why)) => Err(SinkError::Changed(why)),
            Err(Fault::Local(why)) => Err(SinkError::Local(why)),
        }
    }
}
