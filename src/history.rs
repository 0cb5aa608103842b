//! Run history: one row per run in a table beside the manifest (`<manifest>_runs`), so whether
//! ingestion is healthy is a plain SQL question, and `ingest status` can show the last runs.

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use crate::outcome::Status;
use crate::summary::{RunFields, Summary, timestamp};

pub use crate::ch::runs::RunRow;

/// The history table that goes with a manifest table.
pub fn table_for(manifest: &TableRef) -> TableRef {
    TableRef {
        database: manifest.database.clone(),
        table: format!("{}_runs", manifest.table),
    }
}

/// Creates the history table if it is missing (or adds the columns an older one lacks); says
/// whether it created it.
pub async fn ensure(server: &Server, table: &TableRef, folder: &str) -> Result<bool, ChError> {
    server.ensure_runs(table, folder).await
}

impl RunRow {
    pub fn new(summary: &Summary) -> RunRow {
        let n = |s| summary.count(s);
        RunRow {
            run_id: summary.run_id.to_owned(),
            host: summary.host.clone(),
            version: summary.version.to_owned(),
            data_dir: summary.data_dir.clone(),
            started: epoch_seconds(summary.started),
            finished: epoch_seconds(summary.finished),
            duration_seconds: summary.duration.as_secs_f64(),
            exit_code: summary.exit.code(),
            error: summary.error.clone().unwrap_or_default(),
            files_total: summary.outcomes.len() as u64,
            files_ingested: n(Status::Ingested),
            files_already_ingested: n(Status::AlreadyIngested),
            files_duplicate: n(Status::Duplicate),
            files_changed: n(Status::Changed),
            files_changed_before: n(Status::ChangedBefore),
            files_failed: n(Status::Failed),
            files_failed_before: n(Status::FailedBefore),
            files_unsettled: n(Status::Unsettled),
            files_ignored: n(Status::Ignored),
            files_interrupted: n(Status::Interrupted),
            rows: summary.rows(),
            bytes: summary.bytes(),
            folder_id: summary.folder.clone(),
            rows_rejected: summary.rejected(),
        }
    }

    /// The run as every JSON document shows it (see `summary::RunFields`).
    pub fn fields(&self) -> RunFields {
        let counts = [
            (Status::Ingested, self.files_ingested),
            (Status::AlreadyIngested, self.files_already_ingested),
            (Status::Duplicate, self.files_duplicate),
            (Status::Changed, self.files_changed),
            (Status::ChangedBefore, self.files_changed_before),
            (Status::Failed, self.files_failed),
            (Status::FailedBefore, self.files_failed_before),
            (Status::Unsettled, self.files_unsettled),
            (Status::Ignored, self.files_ignored),
            (Status::Interrupted, self.files_interrupted),
        ];
        RunFields {
            run_id: self.run_id.clone(),
            host: self.host.clone(),
            version: self.version.clone(),
            folder: self.folder_id.clone(),
            data_dir: self.data_dir.clone(),
            dry_run: false,
            started: timestamp(epoch(self.started)),
            finished: timestamp(epoch(self.finished)),
            duration_seconds: self.duration_seconds,
            exit_code: self.exit_code,
            error: Some(self.error.clone()).filter(|e| !e.is_empty()),
            files: Status::ALL
                .iter()
                .map(|s| {
                    let n = counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n);
                    (s.label(), n)
                })
                .collect(),
            rows: self.rows,
            bytes: self.bytes,
            rejected: self.rows_rejected,
        }
    }
}

fn epoch_seconds(t: chrono::DateTime<chrono::Utc>) -> u32 {
    u32::try_from(t.timestamp()).unwrap_or(0)
}

/// A `DateTime` column's value as a time.
pub fn epoch(t: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(i64::from(t), 0).unwrap_or_default()
}

/// Records a finished run, creating the table first if needed. Best effort: a failure is logged
/// and changes nothing about the run.
pub async fn record(server: &Server, manifest: &TableRef, row: &RunRow) {
    let table = table_for(manifest);
    if let Err(e) = server.write_run(&table, row).await {
        log::warn!("cannot record run {} in {table}: {e}", row.run_id);
    }
}

/// The latest runs of a folder (or of all, for `None`), newest first; none if the table does not
/// exist yet.
pub async fn recent(
    server: &Server,
    manifest: &TableRef,
    folder: Option<&str>,
    limit: u64,
) -> Result<Vec<RunRow>, ChError> {
    server
        .recent_runs(&table_for(manifest), folder, limit)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_table_sits_beside_the_manifest() {
        let m = TableRef::parse("ops.ingest_manifest", "default").unwrap();
        assert_eq!(table_for(&m).to_string(), "ops.ingest_manifest_runs");
    }
}
