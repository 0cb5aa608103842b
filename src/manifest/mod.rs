//! The manifest: an append-only table of file events inside ClickHouse, and the current state of
//! every path and every (table, content hash) derived from it in two queries.

mod apply;
mod attention;
mod event;
mod rejects;
mod stamp;
mod state;

pub use event::{Event, FailureKind, FileFacts};

pub use attention::REASONS as ATTENTION_REASONS;

pub use rejects::RejectRow;
pub use stamp::Stamp;
pub use state::{ContentState, PathState, State};

pub use crate::ch::manifest::EventRow;

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

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
    /// The run, host and data folder its events carry.
    pub stamp: Stamp,
    /// Whether the table records folder ids: a manifest made by an older version does not until
    /// a run (or `ingest init`) adds the column. Until then it serves one folder.
    folder_column: bool,
    /// Whether the table records appended files (`from_byte`, …): older ones do not until a
    /// run adds the columns.
    segment_columns: bool,
    /// Events written so far, kept when a watcher keeps its state up to date by them.
    journal: Option<Arc<Mutex<Vec<EventRow>>>>,
}

impl Manifest {
    pub fn new(server: Server, table: TableRef, run_id: String, folder: String) -> Manifest {
        Manifest {
            server,
            table,
            stamp: Stamp::new(run_id, folder),
            folder_column: true,
            segment_columns: true,
            journal: None,
        }
    }

    /// Keeps every event written from now on, for [`Manifest::take_journal`].
    pub fn keep_journal(&mut self) {
        self.journal = Some(Arc::default());
    }

    /// The events written since the journal was last taken, in the order they were written.
    pub fn take_journal(&self) -> Vec<EventRow> {
        self.journal
            .as_ref()
            .map(|j| std::mem::take(&mut *j.lock().unwrap_or_else(|e| e.into_inner())))
            .unwrap_or_default()
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
        self.segment_columns = !exists
            || self
                .server
                .has_column(&self.table, crate::ch::manifest::SEGMENT_COLUMNS[2].0)
                .await?;
        Ok(exists)
    }

    /// Whether the table records appended files (see [`Manifest::open`]).
    pub fn has_segments(&self) -> bool {
        self.segment_columns
    }

    /// Whether the table records folder ids (see [`Manifest::open`]).
    pub fn has_folders(&self) -> bool {
        self.folder_column
    }

    /// The folder whose paths the questions are about: `None` for every folder, and for a
    /// manifest without folder ids (one folder).
    pub fn folder_filter(&self) -> Option<&str> {
        (self.folder_column && !self.stamp.folder.is_empty()).then_some(self.stamp.folder.as_str())
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
        if !had && !self.stamp.folder.is_empty() {
            migrated = self
                .server
                .add_folder_column(&self.table, &self.stamp.folder)
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
                    self.stamp.folder
                );
            }
        }
        // Added now, or by another run a moment ago.
        self.folder_column = had || !self.stamp.folder.is_empty();
        if !created.contains(&self.table) && !self.segment_columns {
            if self.server.add_segment_columns(&self.table).await? {
                log::warn!(
                    "added columns from_byte, from_row and prefix_hash to manifest {}, for files \
                     that grow (--on-change append)",
                    self.table
                );
            }
            self.segment_columns = true;
        }
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

    pub fn event(&self, event: Event) -> EventRow {
        self.stamp.event(event)
    }

    pub fn file_event(&self, event: Event, facts: &FileFacts) -> EventRow {
        self.stamp.file_event(event, facts)
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
        self.server.write_events(&self.table, &events).await?;
        if let Some(journal) = &self.journal {
            journal
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(events);
        }
        Ok(())
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
