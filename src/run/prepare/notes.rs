//! What the reading side reports without sending rows: outcomes and manifest events for files
//! decided by their content (duplicates, held-back changes, earlier failures), failed, or not
//! read at all.

use super::{Candidate, Closed, Prepare};
use crate::manifest::{Event, EventRow, FailureKind};
use crate::outcome::{FileOutcome, Status};
use crate::run::plan::Decision;
use crate::sink::work::Work;

impl Prepare {
    pub(super) fn outcome(&self, c: &Candidate, status: Status) -> FileOutcome {
        FileOutcome::of(&c.entry, &c.target.table, status).since(self.file_started)
    }

    pub(super) fn file_event(&self, event: Event, c: &Candidate, hash: &str) -> EventRow {
        self.stamp
            .file_event(event, &c.entry.facts(&c.target.table, hash))
    }

    pub(super) fn note(&self, outcome: FileOutcome, event: Option<EventRow>) -> Result<(), Closed> {
        self.send(Work::Note {
            outcome,
            event: event.map(Box::new),
        })
    }

    pub(super) fn failure(
        &self,
        c: &Candidate,
        hash: &str,
        kind: FailureKind,
        errors: &[String],
    ) -> (FileOutcome, EventRow) {
        let text = errors.join("\n");
        let facts = c.entry.facts(&c.target.table, hash);
        let ev = self.stamp.failure_event(&facts, kind, &text);
        let outcome = self
            .outcome(c, Status::Failed)
            .detail(text)
            .hash(hash)
            .failure(kind);
        (outcome, ev)
    }

    pub(super) fn fail(
        &self,
        c: &Candidate,
        hash: &str,
        kind: FailureKind,
        errors: &[String],
    ) -> Result<(), Closed> {
        let (outcome, ev) = self.failure(c, hash, kind, errors);
        self.note(outcome, Some(ev))
    }

    /// A failure for a passing reason, with one error naming the file.
    pub(super) fn fail_for_now(
        &self,
        c: &Candidate,
        hash: &str,
        e: impl std::fmt::Display,
    ) -> Result<(), Closed> {
        let error = format!("{}: {e}", c.entry.rel);
        self.fail(c, hash, FailureKind::Transient, &[error])
    }

    pub(super) fn unsettled(&self, c: &Candidate) -> Result<(), Closed> {
        self.note(
            self.outcome(c, Status::Unsettled)
                .detail("still being written: size or time changed while settling"),
            None,
        )
    }

    pub(super) fn note_decision(
        &self,
        c: &Candidate,
        hash: &str,
        decision: Decision,
    ) -> Result<(), Closed> {
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
                let facts = c.entry.facts(&c.target.table, hash);
                let ev = self.stamp.failure_event(&facts, kind, &error);
                let outcome = self
                    .outcome(c, Status::FailedBefore)
                    .detail(format!("same content failed before: {error}"))
                    .failure(kind);
                (outcome, ev)
            }
            Decision::Busy { run, path } => {
                let outcome = self.outcome(c, Status::Unsettled).detail(format!(
                    "same content as {path}, which run {run} (still running, on another host) \
                     claimed: left to it"
                ));
                return self.note(outcome.hash(hash), None);
            }
            Decision::Ingest { .. } => unreachable!("ingest decisions are not notes"),
        };
        self.note(outcome.hash(hash), Some(event))
    }
}
