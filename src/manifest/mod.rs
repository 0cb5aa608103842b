//! The manifest: an append-only table of file events inside ClickHouse, and the current state of
//! every path and every (table, content hash) derived from it in two queries.

mod attention;
mod event;
mod rejects;
mod state;

pub use event::{Event, FailureKind, FileFacts};

pub use attention::REASONS as ATTENTION_REASONS;

pub use rejects::RejectRow;
pub use state::{ContentState, PathState, State};

pub use crate::ch::manifest::EventRow;

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static LAST_SEQ: AtomicU64 = AtomicU64::new(0);

/// A strictly increasing event sequence: wall-clock nanoseconds, bumped when the clock stalls.
fn next_seq() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut last = LAST_SEQ.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_SEQ.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// What [`Manifest::ensure`] did.
#[derive(Debug, Default)]
pub struct Ensured {
    /// Tables and views it created.
    pub created: Vec<TableRef>,
    /// Whether it gave an older manifest its folder ids.
    pub migrated: bool,
}

/// The manifest table of one deployment, the data folder whose paths are asked about, and the
/// identity of the run writing to it.
#[derive(Clone)]
pub struct Manifest {
    server: Server,
    pub table: TableRef,
    pub run_id: String,
    pub host: String,
    /// The data folder's id (see `folder`); empty when the question is about every folder.
    pub folder: String,
    /// Whether the table records folder ids: a manifest made by an older version does not until
    /// a run (or `ingest init`) adds the column. Until then it serves one folder.
    folder_column: bool,
}

impl Manifest {
    pub fn new(server: Server, table: TableRef, run_id: String, folder: String) -> Manifest {
        Manifest {
            server,
            table,
            run_id,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            folder,
            folder_column: true,
        }
    }

    /// Connects the manifest to what the table is: whether it exists, and whether it records
    /// folder ids yet.
    pub async fn open(&mut self) -> Result<bool, ChError> {
        let exists = self.exists().await?;
        self.folder_column = !exists
            || self
                .server
                .has_column(&self.table, crate::ch::manifest::FOLDER_COLUMN)
                .await?;
        Ok(exists)
    }

    /// Whether the table records folder ids (see [`Manifest::open`]).
    pub fn has_folders(&self) -> bool {
        self.folder_column
    }

    /// The folder whose paths the questions are about: `None` for every folder, and for a
    /// manifest without folder ids (one folder).
    pub fn folder_filter(&self) -> Option<&str> {
        (self.folder_column && !self.folder.is_empty()).then_some(self.folder.as_str())
    }

    /// The view with the latest state of every file, `<manifest>_files`.
    pub fn files_view(&self) -> TableRef {
        crate::ch::manifest::files_view(&self.table)
    }

    /// Creates the manifest table, its `_files` view and the rejects table where missing, and
    /// says which it created. Nothing is created when they exist, so a user without CREATE
    /// rights can run.
    /// A manifest made before folder ids gets its `folder_id` column here; the events it holds
    /// then belong to this folder (the one that has been using it). Without a folder id (`init`
    /// without a data folder) that is left to the first run.
    pub async fn ensure(&mut self) -> Result<Ensured, ChError> {
        let mut created = self
            .server
            .create_manifest(&self.table, &Event::path_only_names())
            .await?;
        let mut migrated = false;
        let had = created.contains(&self.table)
            || self
                .server
                .has_column(&self.table, crate::ch::manifest::FOLDER_COLUMN)
                .await?;
        if !had && !self.folder.is_empty() {
            migrated = self
                .server
                .add_folder_column(&self.table, &self.folder)
                .await
                .map_err(|e| match e {
                    ChError::Server { code, message } => ChError::Server {
                        code,
                        message: format!(
                            "cannot add folder ids to manifest {} (a manifest made by an older \
                             version; run `ingest init` with an account that may alter it): \
                             {message}",
                            self.table
                        ),
                    },
                    other => other,
                })?;
            if migrated {
                log::warn!(
                    "added column {} to manifest {}: the events it holds belong to this data \
                     folder (id {})",
                    crate::ch::manifest::FOLDER_COLUMN,
                    self.table,
                    self.folder
                );
            }
        }
        // Added now, or by another run a moment ago.
        self.folder_column = had || !self.folder.is_empty();
        if self.ensure_rejects().await? {
            created.push(self.rejects_table());
        }
        Ok(Ensured { created, migrated })
    }

    /// On a replicated manifest, makes the replica asked catch up first: a run on any replica
    /// then sees every event a run on another one recorded.
    pub async fn catch_up(&self) -> Result<(), ChError> {
        if self.server.is_replicated(&self.table).await? {
            self.server.catch_up(&self.table).await?;
        }
        Ok(())
    }

    pub async fn exists(&self) -> Result<bool, ChError> {
        self.server.table_exists(&self.table).await
    }

    /// A new event row stamped with this run, host and time.
    pub fn event(&self, event: Event) -> EventRow {
        EventRow {
            event_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as u32),
            seq: next_seq(),
            run_id: self.run_id.clone(),
            host: self.host.clone(),
            event: event.as_str().to_owned(),
            folder_id: self.folder.clone(),
            ..EventRow::default()
        }
    }

    /// An event about a file, as `facts` describe it: the one way an event row about a file is
    /// made.
    pub fn file_event(&self, event: Event, facts: &FileFacts) -> EventRow {
        EventRow {
            path: facts.path.clone(),
            size: facts.size,
            mtime_ns: facts.mtime_ns,
            file_hash: facts.hash.clone(),
            target_table: facts.table.clone(),
            format: facts.format.clone(),
            ..self.event(event)
        }
    }

    /// A failure of a file, with its errors and their kind.
    pub fn failure_event(&self, facts: &FileFacts, kind: FailureKind, error: &str) -> EventRow {
        EventRow {
            error: error.to_owned(),
            error_kind: kind.as_str().to_owned(),
            ..self.file_event(Event::Failed, facts)
        }
    }

    /// Appends events in one insert, retrying what can be retried (a repeated event is harmless:
    /// state is the latest event by sequence).
    pub async fn write(&self, events: &[EventRow]) -> Result<(), ChError> {
        let events: Vec<EventRow> = events
            .iter()
            .map(|e| EventRow {
                file_id: crate::hash::file_id(&e.file_hash),
                ..e.clone()
            })
            .collect();
        self.server.write_events(&self.table, &events).await
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Batches of some content acknowledged by the server in earlier runs, for tables without
    /// provenance where the table itself cannot be asked.
    pub async fn acknowledged_batches(
        &self,
        table: &TableRef,
        hash: &str,
        batch_rows: u64,
    ) -> Result<HashSet<u64>, ChError> {
        let batches = self
            .server
            .acknowledged_batches(&self.table, table, hash, batch_rows)
            .await?;
        Ok(batches.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_is_strictly_increasing() {
        let mut last = 0;
        for _ in 0..10_000 {
            let s = next_seq();
            assert!(s > last);
            last = s;
        }
    }
}
