//! A coalesced insert of small files: one claim for all, one INSERT, one read-back; a file that
//! did not land whole is finished on its own, through the path that resumes a large file.

use super::Sink;
use super::work::{Group, GroupFile, LargeFile, Work};
use crate::manifest::{Event, EventRow};
use crate::rows::target::Target;
use std::sync::Arc;

impl Sink {
    pub(super) async fn group(&mut self, mut g: Group) {
        let table = g.target.table.clone();
        let name = table.to_string();
        let contents: Vec<(&str, &str)> = g
            .files
            .iter()
            .map(|f| (name.as_str(), f.hash.as_str()))
            .collect();
        match self.claim(&contents).await {
            Err(e) => {
                self.stopped.get_or_insert(e);
                return self.interrupted(Work::Group(g));
            }
            // Each file then goes alone, and those another run holds are left to it.
            Ok(held) if held.iter().any(Option::is_some) => {
                return self
                    .files_one_by_one(g.files, &g.target, g.batch_rows)
                    .await;
            }
            Ok(_) => {}
        }
        let claims: Vec<EventRow> = g
            .files
            .iter()
            .map(|f| self.group_event(Event::Claimed, f, &g))
            .collect();
        if let Err(e) = self.manifest.write(&claims).await {
            self.stopped.get_or_insert(e);
            return self.interrupted(Work::Group(g));
        }
        crash_point!("before-insert");
        if let Err(e) = self.server.check_fence() {
            self.stopped.get_or_insert(e);
            return self.interrupted(Work::Group(g));
        }
        let body = bytes::Bytes::from(std::mem::take(&mut g.body));
        let sent = self.send_group(&g, body).await;
        if let Err(e) = sent {
            let e = self.server.classify(e);
            log::warn!("insert of {} files into {table} failed: {e}", g.files.len());
            // Whatever landed is found by what the table holds: each file is finished alone.
            return self
                .files_one_by_one(g.files, &g.target, g.batch_rows)
                .await;
        }
        crash_point!("after-insert");
        let expected: Vec<(&str, u64)> = g
            .files
            .iter()
            .map(|f| (f.hash.as_str(), f.rows()))
            .collect();
        let counts = match self.landed(&g.target).counts(&expected).await {
            Ok(c) => c,
            Err(_) => {
                return self
                    .files_one_by_one(g.files, &g.target, g.batch_rows)
                    .await;
            }
        };
        let (landed, again): (Vec<GroupFile>, Vec<GroupFile>) =
            g.files.into_iter().partition(|f| {
                let (n, u) = counts.get(&f.hash).copied().unwrap_or((0, 0));
                n == f.rows() && u == f.rows()
            });
        self.finish_landed(landed, &g.target, g.batch_rows).await;
        self.files_one_by_one(again, &g.target, g.batch_rows).await;
    }

    /// The group's one INSERT.
    async fn send_group(
        &mut self,
        g: &Group,
        body: bytes::Bytes,
    ) -> Result<(), clickhouse::error::Error> {
        let name = self.inserter.group_name(&g.target, &g.files);
        let generation = g.files.iter().map(|f| f.generation).max().unwrap_or(0);
        let mut insert = self
            .inserter
            .start(&g.target, &g.columns, &name, generation);
        insert.send(body.clone()).await?;
        crash_point!("mid-insert");
        insert.end().await?;
        // The same insert again, as a client that lost the first answer would send it: the
        // tests show what the server's deduplication makes of it.
        #[cfg(feature = "failpoints")]
        if fail::eval("repeat-insert", |_| ()).is_some() {
            let mut again = self
                .inserter
                .start(&g.target, &g.columns, &name, generation);
            again.send(body).await?;
            again.end().await?;
        }
        Ok(())
    }

    /// Files of the group that landed whole: their rejects recorded, then done together; if the
    /// rejects cannot be recorded, the run stops and each is finished on its own.
    async fn finish_landed(
        &mut self,
        landed: Vec<GroupFile>,
        target: &Arc<Target>,
        batch_rows: u64,
    ) {
        let table = target.table.clone();
        let mut rejects_recorded = Ok(());
        for f in &landed {
            rejects_recorded = self
                .record_rejects(&f.entry, &table, &f.hash, &f.rejects)
                .await;
            if rejects_recorded.is_err() {
                break;
            }
        }
        match rejects_recorded {
            Ok(()) => self.done_together(&landed, target, batch_rows).await,
            Err(e) => {
                self.stopped.get_or_insert(e);
                self.files_one_by_one(landed, target, batch_rows).await;
            }
        }
    }

    /// Records the files of a coalesced insert that landed whole as done, in one insert.
    async fn done_together(&mut self, landed: &[GroupFile], target: &Target, batch_rows: u64) {
        let table = &target.table;
        let mut events = Vec::new();
        let mut outcomes = Vec::new();
        for f in landed {
            let mut ev = self.file_event(Event::Done, &f.entry, table, &f.hash);
            ev.rows = f.rows();
            ev.rejected = f.rejects.len() as u64;
            ev.batch_rows = batch_rows;
            events.push(ev);
            outcomes.push(
                Self::ingested(&f.entry, table, &f.hash, (f.rows(), f.rows()), &f.rejects)
                    .since(f.started),
            );
        }
        if let Err(e) = self.manifest.write(&events).await {
            self.events.extend(events);
            self.stop_if_unreachable(e);
        }
        crash_point!("after-done");
        for o in outcomes {
            self.finish(o);
        }
    }

    fn group_event(&self, event: Event, f: &GroupFile, g: &Group) -> EventRow {
        let mut ev = self.file_event(event, &f.entry, &g.target.table, &f.hash);
        ev.rows = f.rows();
        ev.rejected = f.rejects.len() as u64;
        ev.batch_rows = g.batch_rows;
        ev
    }

    /// Finishes files of a coalesced insert that failed or did not fully land, each on its own
    /// through the resume path, so a bad file cannot take the others down with it.
    async fn files_one_by_one(
        &mut self,
        files: Vec<GroupFile>,
        target: &Arc<Target>,
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
}
