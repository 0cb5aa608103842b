//! Run history: one row per run in a table beside the manifest (`<manifest>_runs`), so whether
//! ingestion is healthy is a plain SQL question, and `ingest status` can show the last runs.

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use crate::run::outcome::Status;
use crate::summary::Summary;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long recording a run may take: a server that went away during the run would only delay
/// its exit, and the metrics file still tells of the run.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

const DDL_COLUMNS: &str = "\
    run_id String, host String, version String, data_dir String, \
    started DateTime, finished DateTime, duration_seconds Float64, \
    exit_code UInt8, error String, files_total UInt64, \
    files_ingested UInt64, files_already_ingested UInt64, files_duplicate UInt64, \
    files_changed UInt64, files_changed_before UInt64, files_failed UInt64, \
    files_failed_before UInt64, files_unsettled UInt64, files_ignored UInt64, \
    files_interrupted UInt64, rows UInt64, bytes UInt64";

/// One run. Field order is the table's column order.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct RunRow {
    pub run_id: String,
    pub host: String,
    pub version: String,
    pub data_dir: String,
    pub started: u32,
    pub finished: u32,
    pub duration_seconds: f64,
    pub exit_code: u8,
    pub error: String,
    pub files_total: u64,
    pub files_ingested: u64,
    pub files_already_ingested: u64,
    pub files_duplicate: u64,
    pub files_changed: u64,
    pub files_changed_before: u64,
    pub files_failed: u64,
    pub files_failed_before: u64,
    pub files_unsettled: u64,
    pub files_ignored: u64,
    pub files_interrupted: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// The history table that goes with a manifest table.
pub fn table_for(manifest: &TableRef) -> TableRef {
    TableRef {
        database: manifest.database.clone(),
        table: format!("{}_runs", manifest.table),
    }
}

/// Creates the history table if it is missing; says whether it did.
pub async fn ensure(server: &Server, table: &TableRef) -> Result<bool, ChError> {
    let ddl = format!(
        "CREATE TABLE IF NOT EXISTS {} ({DDL_COLUMNS}) ENGINE = MergeTree \
         PARTITION BY toYYYYMM(started) ORDER BY (started, run_id)",
        table.sql()
    );
    server
        .create_if_missing("create run history table", table, &ddl)
        .await
}

impl RunRow {
    pub fn new(summary: &Summary, data_dir: &str) -> RunRow {
        let n = |s| summary.count(s);
        RunRow {
            run_id: summary.run_id.to_owned(),
            host: summary.host.clone(),
            version: summary.version.to_owned(),
            data_dir: data_dir.to_owned(),
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
        }
    }
}

fn epoch_seconds(t: chrono::DateTime<chrono::Utc>) -> u32 {
    u32::try_from(t.timestamp()).unwrap_or(0)
}

/// Records a finished run, creating the table first if needed. Best effort: a failure is logged
/// and changes nothing about the run.
pub async fn record(server: &Server, manifest: &TableRef, row: &RunRow) {
    let table = table_for(manifest);
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        ensure(server, &table).await?;
        insert(server, &table, row).await
    })
    .await
    .unwrap_or(Err(ChError::Timeout(WRITE_TIMEOUT)));
    if let Err(e) = written {
        log::warn!("cannot record run {} in {table}: {e}", row.run_id);
    }
}

async fn insert(server: &Server, table: &TableRef, row: &RunRow) -> Result<(), ChError> {
    let mut insert = server
        .client()
        .insert_unescaped::<RunRow>(&table.sql())
        .await
        .map_err(|e| server.classify(e))?;
    insert.write(row).await.map_err(|e| server.classify(e))?;
    insert.end().await.map_err(|e| server.classify(e))
}

/// The latest runs, newest first; none if the table does not exist yet.
pub async fn recent(
    server: &Server,
    manifest: &TableRef,
    limit: u64,
) -> Result<Vec<RunRow>, ChError> {
    let table = table_for(manifest);
    if !server.table_exists(&table).await? {
        return Ok(Vec::new());
    }
    let columns: Vec<&str> = DDL_COLUMNS
        .split(',')
        .filter_map(|c| c.split_whitespace().next())
        .collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY started DESC, finished DESC LIMIT ?",
        columns.join(", "),
        table.sql()
    );
    server
        .fetch_all("read run history", |c| c.query(&sql).bind(limit))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_has_a_column_for_every_field() {
        let columns: Vec<&str> = DDL_COLUMNS
            .split(',')
            .filter_map(|c| c.split_whitespace().next())
            .collect();
        assert_eq!(columns, <RunRow as clickhouse::Row>::COLUMN_NAMES);
    }

    #[test]
    fn the_history_table_sits_beside_the_manifest() {
        let m = TableRef::parse("ops.ingest_manifest", "default").unwrap();
        assert_eq!(table_for(&m).to_string(), "ops.ingest_manifest_runs");
    }
}
