//! The rejects table as SQL: every record left out under `--on-error skip-row`, with where it was
//! and why.

use super::ident::TableRef;
use super::{ChError, Server, Sql};
use serde::{Deserialize, Serialize};

/// One rejected record. Field order is the table's column order.
#[derive(Debug, Clone, clickhouse::Row, Serialize)]
pub struct RejectRow {
    pub event_time: u32,
    pub run_id: String,
    pub target_table: String,
    pub file_hash: String,
    pub path: String,
    /// 0-based ordinal of the record in its file.
    pub record: u64,
    /// 1-based line where the record starts; 0 where the format has no lines.
    pub line: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

const COLUMNS: &str = "\
    event_time DateTime, run_id String, target_table String, file_hash String, path String, \
    record UInt64, line UInt64, column String, value String, reason String";

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    n: u64,
}

impl Server {
    /// Creates the rejects table if missing; `true` if it did.
    pub async fn create_rejects(&self, rejects: &TableRef) -> Result<bool, ChError> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {}{} ({COLUMNS}) ENGINE = {} \
             PARTITION BY toYYYYMM(event_time) ORDER BY (target_table, file_hash, record)",
            rejects.sql(),
            self.on_cluster(),
            self.own_engine(rejects)
        );
        self.create_if_missing("create rejects table", rejects, &ddl)
            .await
    }

    /// How many rejects of this content are recorded already (a resumed file's are).
    pub async fn rejects_recorded(
        &self,
        rejects: &TableRef,
        table: &TableRef,
        hash: &str,
    ) -> Result<u64, ChError> {
        let sql = Sql::new(format!(
            "SELECT count() AS n FROM {} WHERE target_table = ? AND file_hash = ?",
            rejects.sql()
        ))
        .arg(table.to_string())
        .arg(hash);
        let c: Count = self.fetch_one("count recorded rejects", &sql).await?;
        Ok(c.n)
    }

    pub async fn write_rejects(
        &self,
        rejects: &TableRef,
        rows: &[RejectRow],
    ) -> Result<(), ChError> {
        self.insert_rows("write rejects", rejects, rows).await
    }

    /// Deletes the recorded rejects of some content (`forget --delete-rows`) and waits until
    /// they are gone.
    pub async fn delete_rejects(&self, rejects: &TableRef, hash: &str) -> Result<(), ChError> {
        self.delete_where(rejects, "", "file_hash = ?", hash.into())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_has_a_column_for_every_field() {
        let columns: Vec<&str> = COLUMNS
            .split(',')
            .filter_map(|c| c.split_whitespace().next())
            .collect();
        assert_eq!(columns, <RejectRow as clickhouse::Row>::COLUMN_NAMES);
    }
}
