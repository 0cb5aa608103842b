//! Questions to a target table about the rows of a file, by the provenance columns — the question
//! behind every resume, every retry and every "done" — and deleting a file's rows by them.

use super::ident::TableRef;
use super::schema::{PROVENANCE_FILE, PROVENANCE_ROW};
use super::{Arg, ChError, Server, Sql};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(clickhouse::Row, Deserialize)]
struct BatchCount {
    batch: u64,
    n: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct Ordinal {
    r: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct FileCount {
    f: u64,
    n: u64,
    u: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct FileRows {
    f: u64,
    n: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    n: u64,
}

/// File ids asked about in one query.
const IDS_PER_QUERY: usize = 2000;

impl Server {
    /// Rows of each batch of a file already in the table, its batches counted from the record
    /// `first_row` (0, or where a grown file's new part starts).
    pub async fn landed_batches(
        &self,
        table: &TableRef,
        file_id: u64,
        batch_rows: u64,
        first_row: u64,
    ) -> Result<HashMap<u64, u64>, ChError> {
        let sql = Sql::new(format!(
            "SELECT toUInt64(intDiv({PROVENANCE_ROW} - ?, ?)) AS batch, count() AS n FROM {} \
             WHERE {PROVENANCE_FILE} = ? AND {PROVENANCE_ROW} >= ? GROUP BY batch",
            table.sql()
        ))
        .arg(first_row)
        .arg(batch_rows)
        .arg(file_id)
        .arg(first_row);
        let rows: Vec<BatchCount> = self.fetch_all("check landed batches", &sql).await?;
        Ok(rows.into_iter().map(|r| (r.batch, r.n)).collect())
    }

    /// Ordinals in `[from, to)` of a file already in the table.
    pub async fn landed_ordinals(
        &self,
        table: &TableRef,
        file_id: u64,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, ChError> {
        let sql = Sql::new(format!(
            "SELECT {PROVENANCE_ROW} AS r FROM {} WHERE {PROVENANCE_FILE} = ? \
             AND {PROVENANCE_ROW} >= ? AND {PROVENANCE_ROW} < ?",
            table.sql()
        ))
        .arg(file_id)
        .arg(from)
        .arg(to);
        let rows: Vec<Ordinal> = self.fetch_all("check landed rows", &sql).await?;
        Ok(rows.into_iter().map(|r| r.r).collect())
    }

    /// For each file id: rows in the table, and distinct ordinals among them (a difference
    /// means duplicate rows). Ids with no rows are absent.
    pub async fn provenance_counts(
        &self,
        table: &TableRef,
        file_ids: &[u64],
    ) -> Result<HashMap<u64, (u64, u64)>, ChError> {
        let mut out = HashMap::new();
        for chunk in file_ids.chunks(IDS_PER_QUERY) {
            let sql = Sql::new(format!(
                "SELECT {PROVENANCE_FILE} AS f, count() AS n, uniqExact({PROVENANCE_ROW}) AS u \
                 FROM {} WHERE {PROVENANCE_FILE} IN ? GROUP BY f",
                table.sql()
            ))
            .arg(chunk.to_vec());
            let rows: Vec<FileCount> = self.fetch_all("read back row counts", &sql).await?;
            out.extend(rows.into_iter().map(|r| (r.f, (r.n, r.u))));
        }
        Ok(out)
    }

    /// Rows in the table by file id, for every file that has some (one scan of the provenance
    /// column, for `ingest verify`).
    pub async fn rows_by_file(&self, table: &TableRef) -> Result<HashMap<u64, u64>, ChError> {
        let sql = Sql::new(format!(
            "SELECT {PROVENANCE_FILE} AS f, count() AS n FROM {} GROUP BY f",
            table.sql()
        ));
        self.fold(
            "count rows by file",
            &sql,
            HashMap::new,
            |out, r: FileRows| {
                out.insert(r.f, r.n);
            },
        )
        .await
    }

    /// Whether the table holds any row with provenance (to recognise a lost manifest).
    pub async fn has_provenance_rows(&self, table: &TableRef) -> Result<bool, ChError> {
        let sql = Sql::new(format!(
            "SELECT count() AS n FROM (SELECT 1 FROM {} WHERE {PROVENANCE_FILE} != 0 LIMIT 1)",
            table.sql()
        ));
        let c: Count = self.fetch_one("look for provenance", &sql).await?;
        Ok(c.n > 0)
    }

    /// Waits until no query whose id starts with `prefix` (an insert of an earlier run on this
    /// folder) is still executing on the server (on any of the replicas configured that answers:
    /// the earlier run may have written through another), so that what the table holds is final
    /// before it is compared with the file.
    pub async fn wait_for_queries(&self, prefix: &str, max_wait: Duration) -> Result<(), ChError> {
        let started = Instant::now();
        let sql =
            Sql::new("SELECT count() AS n FROM system.processes WHERE startsWith(query_id, ?)")
                .arg(prefix);
        loop {
            let (answers, failed) = self.fetch_one_everywhere::<Count>(&sql).await;
            let running: u64 = match (answers.is_empty(), failed) {
                (true, Some(e)) => return Err(e),
                _ => answers.iter().map(|c| c.n).sum(),
            };
            if running == 0 {
                return Ok(());
            }
            if started.elapsed() >= max_wait {
                return Err(ChError::Server {
                    code: 216,
                    message: format!(
                        "an earlier insert ({prefix}…) is still running after {max_wait:?}"
                    ),
                });
            }
            log::info!("waiting for an earlier run's insert to finish on the server");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Deletes a file's rows by provenance, waiting until they are gone; returns how many there
    /// were. A Distributed table's rows are deleted from its local tables (on every shard, with
    /// `--cluster`).
    pub async fn delete_file_rows(&self, table: &TableRef, file_id: u64) -> Result<u64, ChError> {
        let sql = Sql::new(format!(
            "SELECT count() AS n FROM {} WHERE {PROVENANCE_FILE} = ?",
            table.sql()
        ))
        .arg(file_id);
        let before: Count = self.fetch_one("count rows to delete", &sql).await?;
        let condition = format!("{PROVENANCE_FILE} = ?");
        let Some(local) = self.layout(table).await?.local else {
            self.delete_where(table, "", &condition, file_id.into())
                .await?;
            return Ok(before.n);
        };
        self.delete_where(&local, &self.on_cluster(), &condition, file_id.into())
            .await?;
        // The other shards' mutations are waited for by what the Distributed table still shows.
        let started = Instant::now();
        loop {
            let left: Count = self.fetch_one("count rows left", &sql).await?;
            if left.n == 0 {
                return Ok(before.n);
            }
            if started.elapsed() > self.insert_timeout() {
                return Err(ChError::Timeout(self.insert_timeout()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `ALTER TABLE …[ ON CLUSTER] DELETE WHERE condition` (one `?`, for `value`), then waits
    /// until the mutation is done here: mutations run in the background (always on 18.16).
    pub(super) async fn delete_where(
        &self,
        table: &TableRef,
        on_cluster: &str,
        condition: &str,
        value: Arg,
    ) -> Result<(), ChError> {
        let sql = Sql::new(format!(
            "ALTER TABLE {}{on_cluster} DELETE WHERE {condition}",
            table.sql()
        ))
        .arg(value);
        self.execute("delete rows", &sql).await?;
        let pending = Sql::new(
            "SELECT count() AS n FROM system.mutations WHERE database = ? AND table = ? \
             AND is_done = 0",
        )
        .arg(&table.database)
        .arg(&table.table);
        let started = Instant::now();
        loop {
            let c: Count = self.fetch_one("wait for delete", &pending).await?;
            if c.n == 0 {
                return Ok(());
            }
            if started.elapsed() > self.insert_timeout() {
                return Err(ChError::Timeout(self.insert_timeout()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
