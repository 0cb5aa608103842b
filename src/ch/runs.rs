//! The run-history table as SQL (`<manifest>_runs`): one row per run, so whether ingestion is
//! healthy is a plain SQL question.

use super::ident::TableRef;
use super::{ChError, Server, Sql};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long recording a run may take: a server that went away during the run would only delay
/// its exit.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

const COLUMNS: &str = "\
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

fn column_names() -> Vec<&'static str> {
    COLUMNS
        .split(',')
        .filter_map(|c| c.split_whitespace().next())
        .collect()
}

impl Server {
    /// Creates the history table if it is missing; says whether it did.
    pub async fn create_runs(&self, runs: &TableRef) -> Result<bool, ChError> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {} ({COLUMNS}) ENGINE = MergeTree \
             PARTITION BY toYYYYMM(started) ORDER BY (started, run_id)",
            runs.sql()
        );
        self.create_if_missing("create run history table", runs, &ddl)
            .await
    }

    /// Records a run, creating the table first if needed, within a bounded time.
    pub async fn write_run(&self, runs: &TableRef, row: &RunRow) -> Result<(), ChError> {
        tokio::time::timeout(WRITE_TIMEOUT, async {
            self.create_runs(runs).await?;
            self.insert_rows("record the run", runs, std::slice::from_ref(row))
                .await
        })
        .await
        .unwrap_or(Err(ChError::Timeout(WRITE_TIMEOUT)))
    }

    /// The latest runs, newest first; none if the table does not exist yet.
    pub async fn recent_runs(&self, runs: &TableRef, limit: u64) -> Result<Vec<RunRow>, ChError> {
        if !self.table_exists(runs).await? {
            return Ok(Vec::new());
        }
        let sql = Sql::new(format!(
            "SELECT {} FROM {} ORDER BY started DESC, finished DESC LIMIT ?",
            column_names().join(", "),
            runs.sql()
        ))
        .arg(limit);
        self.fetch_all("read run history", &sql).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_has_a_column_for_every_field() {
        assert_eq!(column_names(), <RunRow as clickhouse::Row>::COLUMN_NAMES);
    }
}
