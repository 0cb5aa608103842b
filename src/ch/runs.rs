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
    files_interrupted UInt64, rows UInt64, bytes UInt64, folder_id String, \
    rows_rejected UInt64";

/// Columns older history tables lack, with what their rows read as until a run adds them.
const ADDED: [(&str, &str); 2] = [("folder_id", "''"), ("rows_rejected", "toUInt64(0)")];

#[derive(clickhouse::Row, Deserialize)]
struct ColumnName {
    name: String,
}

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
    pub folder_id: String,
    /// Records left out under `--on-error skip-row`.
    pub rows_rejected: u64,
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
            "CREATE TABLE IF NOT EXISTS {}{} ({COLUMNS}) ENGINE = {} \
             PARTITION BY toYYYYMM(started) ORDER BY (started, run_id)",
            runs.sql(),
            self.on_cluster(),
            self.own_engine(runs)
        );
        self.create_if_missing("create run history table", runs, &ddl)
            .await
    }

    /// Creates the history table if it is missing, or adds the columns an older one lacks (the
    /// runs it holds then belong to `folder`; without a folder that waits for a run). Says
    /// whether it created the table.
    pub async fn ensure_runs(&self, runs: &TableRef, folder: &str) -> Result<bool, ChError> {
        if self.create_runs(runs).await? {
            return Ok(true);
        }
        let have = self.run_columns(runs).await?;
        if !have.iter().any(|c| c == "folder_id") && !folder.is_empty() {
            super::manifest::add_column_with_default(self, runs, "folder_id", folder).await?;
        }
        if !have.iter().any(|c| c == "rows_rejected") {
            self.add_column(runs, "rows_rejected", "UInt64").await?;
        }
        Ok(false)
    }

    /// Records a run, readying the table first, within a bounded time.
    pub async fn write_run(&self, runs: &TableRef, row: &RunRow) -> Result<(), ChError> {
        tokio::time::timeout(WRITE_TIMEOUT, async {
            self.ensure_runs(runs, &row.folder_id).await?;
            self.insert_rows("record the run", runs, std::slice::from_ref(row))
                .await
        })
        .await
        .unwrap_or(Err(ChError::Timeout(WRITE_TIMEOUT)))
    }

    async fn run_columns(&self, runs: &TableRef) -> Result<Vec<String>, ChError> {
        let sql = Sql::new("SELECT name FROM system.columns WHERE database = ? AND table = ?")
            .arg(&runs.database)
            .arg(&runs.table);
        let names: Vec<ColumnName> = self.fetch_all("read history columns", &sql).await?;
        Ok(names.into_iter().map(|c| c.name).collect())
    }

    /// The latest runs, newest first, of one folder or of all; none if the table does not exist
    /// yet.
    pub async fn recent_runs(
        &self,
        runs: &TableRef,
        folder: Option<&str>,
        limit: u64,
    ) -> Result<Vec<RunRow>, ChError> {
        if !self.table_exists(runs).await? {
            return Ok(Vec::new());
        }
        let have = self.run_columns(runs).await?;
        let select: Vec<String> = column_names()
            .into_iter()
            .map(|c| match ADDED.iter().find(|(name, _)| *name == c) {
                Some((name, value)) if !have.iter().any(|h| h == name) => {
                    format!("{value} AS {name}")
                }
                _ => c.to_owned(),
            })
            .collect();
        let filter = match folder {
            Some(_) if have.iter().any(|h| h == "folder_id") => "WHERE folder_id = ?",
            _ => "",
        };
        let mut sql = Sql::new(format!(
            "SELECT {} FROM {} {filter} ORDER BY started DESC, finished DESC LIMIT ?",
            select.join(", "),
            runs.sql()
        ));
        if let (Some(folder), false) = (folder, filter.is_empty()) {
            sql = sql.arg(folder);
        }
        self.fetch_all("read run history", &sql.arg(limit)).await
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
