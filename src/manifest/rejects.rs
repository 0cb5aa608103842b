//! The rejects table: every record left out under `--on-error skip-row`, with where it was and why.

use super::Manifest;
use crate::ch::ChError;
use crate::ch::ident::TableRef;
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

const DDL_COLUMNS: &str = "\
    event_time DateTime, run_id String, target_table String, file_hash String, path String, \
    record UInt64, line UInt64, column String, value String, reason String";

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    n: u64,
}

impl Manifest {
    pub fn rejects_table(&self) -> TableRef {
        TableRef {
            database: self.table.database.clone(),
            table: format!("{}_rejects", self.table.table),
        }
    }

    /// Creates the rejects table if missing; `true` if it did.
    pub(super) async fn ensure_rejects(&self) -> Result<bool, ChError> {
        let table = self.rejects_table();
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {} ({DDL_COLUMNS}) ENGINE = MergeTree \
             PARTITION BY toYYYYMM(event_time) ORDER BY (target_table, file_hash, record)",
            table.sql()
        );
        self.server()
            .create_if_missing("create rejects table", &table, &ddl)
            .await
    }

    /// How many rejects of this content are recorded already (a resumed file's are).
    pub async fn rejects_recorded(&self, table: &TableRef, hash: &str) -> Result<u64, ChError> {
        let sql = format!(
            "SELECT count() AS n FROM {} WHERE target_table = ? AND file_hash = ?",
            self.rejects_table().sql()
        );
        let c: Count = self
            .server()
            .fetch_one("count recorded rejects", |c| {
                c.query(&sql).bind(table.to_string()).bind(hash)
            })
            .await?;
        Ok(c.n)
    }

    pub async fn write_rejects(&self, rows: &[RejectRow]) -> Result<(), ChError> {
        if rows.is_empty() {
            return Ok(());
        }
        let table = self.rejects_table().sql();
        self.server()
            .retry("write rejects", || async {
                let server = self.server();
                let mut insert = server
                    .client()
                    .insert_unescaped::<RejectRow>(&table)
                    .await
                    .map_err(|e| server.classify(e))?;
                for r in rows {
                    insert.write(r).await.map_err(|e| server.classify(e))?;
                }
                insert.end().await.map_err(|e| server.classify(e))
            })
            .await
    }
}
