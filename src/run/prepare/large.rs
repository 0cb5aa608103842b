//! A large file on the reading side: hashed and handed to the writing side to be sent in its only
//! pass where its table allows that, otherwise checked whole in a first pass (its rows kept in a
//! spill where they can be), then handed over with what the pass found.

use super::first_pass::{FirstPass, Pass};
use super::{Candidate, Closed, Prepare};
use crate::manifest::FailureKind;
use crate::outcome::Status;
use crate::run::plan::Decision;
use crate::sink::work::{LargeFile, Work};
use std::fs::File;

impl Prepare {
    pub(super) fn first_pass(&self, c: &Candidate, file: File) -> std::io::Result<Pass> {
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

    pub(super) fn ingest_large(&mut self, c: Candidate, pass: Pass) -> Result<(), Closed> {
        let resume = match self.decide(&c, &pass.hash) {
            Decision::Ingest { resume } => resume,
            other => return self.note_decision(&c, &pass.hash, other),
        };
        if let Some(errors) = &pass.failure {
            if resume.is_some() && c.target.provenance && !self.settings.dry_run {
                // A run that died sending it in its only pass may have left rows of it.
                let (outcome, event) = self.failure(&c, &pass.hash, FailureKind::Data, errors);
                return self.send(Work::Poison {
                    outcome,
                    event: Box::new(event),
                    table: c.target.table.clone(),
                });
            }
            return self.fail(&c, &pass.hash, FailureKind::Data, errors);
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
            one_pass: false,
            records: pass.records,
            rejects: pass.rejects,
            per_insert: pass.per_insert,
            spilled: pass.spilled,
            started: self.file_started,
        }))
    }

    /// Hands a hashed file to the writing side, which reads it once: sending its rows while it
    /// checks them.
    pub(super) fn only_pass(&mut self, c: Candidate, hash: String) -> Result<(), Closed> {
        self.only_hashed = true;
        self.claim(&c, &hash);
        self.flush_group()?;
        self.send(Work::Large(LargeFile {
            generation: self.generation(&c, &hash),
            batch_rows: self.settings.batch_rows,
            resume: false,
            one_pass: true,
            entry: c.entry,
            target: c.target,
            hash,
            records: 0,
            rejects: Vec::new(),
            per_insert: 0,
            spilled: None,
            started: self.file_started,
        }))
    }
}
