//! Files that must leave no row behind: one whose content changed while it was sent (what was sent
//! is not what was checked), one whose only pass found bad records after some of its rows were
//! sent, and a failed (or poison) file that an earlier run was sending when it crashed. Their rows
//! are deleted by provenance and their content forgotten, so that a later ingestion of the same
//! content gets new insert names.

use super::Sink;
use super::landed::Landed;
use super::work::LargeFile;
use crate::ch::ChError;
use crate::ch::ident::TableRef;
use crate::ch::schema::PROVENANCE_FILE;
use crate::hash::file_id;
use crate::manifest::{Event, EventRow, FailureKind};
use crate::outcome::{FileOutcome, Status};
use std::time::Duration;

impl Sink {
    /// A file whose content changed while it was sent: its rows are deleted (waiting for the
    /// mutation) and its content forgotten; the path is recorded as failed for now, so the next
    /// run reads it again.
    pub(super) async fn changed_underway(
        &mut self,
        lf: &LargeFile,
        landed: &dyn Landed,
        why: &str,
    ) {
        let table = &lf.target.table;
        let deleted = match landed.file_id(&lf.hash) {
            Some(_) => Some(self.delete_rows(table, &lf.hash).await),
            None => None,
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
                     failed ({e}): rows of it may be in {table} with {PROVENANCE_FILE} = {}",
                    file_id(&lf.hash)
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
        let facts = lf.entry.facts(table, &lf.hash);
        let mut events = Vec::new();
        if forget {
            events.push(self.manifest.file_event(Event::Forgotten, &facts));
        }
        events.push(
            self.manifest
                .stamp
                .failure_event(&facts, FailureKind::Transient, &detail),
        );
        if let Err(e) = self.manifest.write(&events).await {
            log::error!("{}: cannot record the change: {e}", lf.entry.rel);
            self.stop_if_unreachable(e);
        }
        let outcome = FileOutcome::of(&lf.entry, table, Status::Changed)
            .detail(detail)
            .hash(&lf.hash)
            .since(lf.started)
            .failure(FailureKind::Transient);
        self.finish(outcome);
    }

    /// A file whose only pass found bad records: the rows sent before they were found are
    /// deleted (waiting for the mutation) and, if any had landed, its content forgotten; it fails
    /// for its content as a file checked first does. Should the delete fail, it fails for now:
    /// the next run reads it again, finds it bad, and deletes its rows then.
    pub(super) async fn bad_underway(
        &mut self,
        lf: &LargeFile,
        landed: &dyn Landed,
        errors: &[String],
    ) {
        let table = &lf.target.table;
        let deleted = match landed.file_id(&lf.hash) {
            Some(_) => self.delete_rows(table, &lf.hash).await,
            None => Ok(0),
        };
        let facts = lf.entry.facts(table, &lf.hash);
        let mut detail = errors.join("\n");
        let mut events = Vec::new();
        let kind = match deleted {
            Ok(n) => {
                if n > 0 {
                    log::info!(
                        "{}: deleted the {n} rows sent before its bad records were found",
                        lf.entry.rel
                    );
                    events.push(self.manifest.file_event(Event::Forgotten, &facts));
                }
                FailureKind::Data
            }
            Err(e) => {
                detail.push_str(&format!(
                    "\n{}: deleting the rows sent before its bad records were found failed \
                     ({e}): rows of it may be in {table} with {PROVENANCE_FILE} = {}; the next \
                     run reads it again",
                    lf.entry.rel,
                    file_id(&lf.hash)
                ));
                FailureKind::Transient
            }
        };
        events.push(self.manifest.stamp.failure_event(&facts, kind, &detail));
        if let Err(e) = self.manifest.write(&events).await {
            log::error!("{}: cannot record its failure: {e}", lf.entry.rel);
            self.stop_if_unreachable(e);
        }
        let outcome = FileOutcome::of(&lf.entry, table, Status::Failed)
            .detail(detail)
            .hash(&lf.hash)
            .since(lf.started)
            .failure(kind);
        self.finish(outcome);
    }

    /// Records a poison file, first deleting the rows a crashed second pass may have sent of it
    /// (and forgetting its content): a failed file keeps no row in the table.
    pub(super) async fn poison(
        &mut self,
        mut outcome: FileOutcome,
        mut failed: EventRow,
        table: &TableRef,
    ) {
        let hash = outcome.hash.clone();
        let id = file_id(&hash);
        let landed = match self.server.provenance_counts(table, &[id]).await {
            Ok(counts) => counts.get(&id).map_or(0, |&(n, _)| n),
            Err(e) => {
                log::error!(
                    "{}: cannot look for rows of it in {table}: {e}",
                    outcome.rel
                );
                0
            }
        };
        if landed > 0 {
            match self.delete_rows(table, &hash).await {
                Ok(n) => {
                    let forgotten = self.manifest.file_event(Event::Forgotten, &outcome.facts());
                    self.events.push(forgotten);
                    outcome.detail.push_str(&format!(
                        "; the {n} rows an interrupted run sent of it were deleted from {table}"
                    ));
                }
                Err(e) => outcome.detail.push_str(&format!(
                    "; deleting the rows an interrupted run sent of it failed ({e}): they are in \
                     {table} with {PROVENANCE_FILE} = {id}"
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

    /// Deletes every row of a content once the folder's inserts have ended on the server (a
    /// mutation leaves parts written after it alone), and checks that none is left.
    async fn delete_rows(&self, table: &TableRef, hash: &str) -> Result<u64, ChError> {
        let id = file_id(hash);
        let mut deleted = 0;
        // An insert the server finishes after a delete is not touched by it: delete until none
        // is left (an insert ends within the insert timeout).
        for _ in 0..3 {
            self.server
                .wait_for_queries(&self.inserter.prefix, self.server.insert_timeout())
                .await?;
            deleted += self.server.delete_file_rows(table, id).await?;
            let left = self.server.provenance_counts(table, &[id]).await?;
            if left.get(&id).is_none_or(|&(n, _)| n == 0) {
                return Ok(deleted);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(ChError::Server {
            code: 0,
            message: "rows of it are still there after deleting them three times".into(),
        })
    }
}
