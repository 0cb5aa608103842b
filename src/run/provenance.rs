//! Asking a target table which rows of a file it already holds, by the provenance columns: the
//! question behind every resume, every retry and every "done".

use crate::ch::ident::TableRef;
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW};
use crate::ch::{ChError, Server};
use crate::hash::file_id;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
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
struct Count {
    n: u64,
}

/// Rows of each batch of a file already in the table.
pub async fn landed_batches(
    server: &Server,
    table: &TableRef,
    hash: &str,
    batch_rows: u64,
) -> Result<HashMap<u64, u64>, ChError> {
    let sql = format!(
        "SELECT intDiv({PROVENANCE_ROW}, ?) AS batch, count() AS n FROM {} \
         WHERE {PROVENANCE_FILE} = ? GROUP BY batch",
        table.sql()
    );
    let rows: Vec<BatchCount> = server
        .fetch_all("check landed batches", |c| {
            c.query(&sql).bind(batch_rows).bind(file_id(hash))
        })
        .await?;
    Ok(rows.into_iter().map(|r| (r.batch, r.n)).collect())
}

/// Ordinals in `[from, to)` of a file already in the table.
pub async fn landed_ordinals(
    server: &Server,
    table: &TableRef,
    hash: &str,
    from: u64,
    to: u64,
) -> Result<HashSet<u64>, ChError> {
    let sql = format!(
        "SELECT {PROVENANCE_ROW} AS r FROM {} WHERE {PROVENANCE_FILE} = ? \
         AND {PROVENANCE_ROW} >= ? AND {PROVENANCE_ROW} < ?",
        table.sql()
    );
    let rows: Vec<Ordinal> = server
        .fetch_all("check landed rows", |c| {
            c.query(&sql).bind(file_id(hash)).bind(from).bind(to)
        })
        .await?;
    Ok(rows.into_iter().map(|r| r.r).collect())
}

/// For each file hash: rows in the table, and distinct ordinals among them (a difference means
/// duplicate rows).
pub async fn row_counts(
    server: &Server,
    table: &TableRef,
    hashes: &[&str],
) -> Result<HashMap<String, (u64, u64)>, ChError> {
    let by_id: HashMap<u64, &str> = hashes.iter().map(|h| (file_id(h), *h)).collect();
    let ids: Vec<u64> = by_id.keys().copied().collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(2000) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT {PROVENANCE_FILE} AS f, count() AS n, uniqExact({PROVENANCE_ROW}) AS u \
             FROM {} WHERE {PROVENANCE_FILE} IN ({placeholders}) GROUP BY f",
            table.sql()
        );
        let rows: Vec<FileCount> = server
            .fetch_all("read back row counts", |c| {
                chunk.iter().fold(c.query(&sql), |q, id| q.bind(*id))
            })
            .await?;
        for r in rows {
            if let Some(h) = by_id.get(&r.f) {
                out.insert((*h).to_owned(), (r.n, r.u));
            }
        }
    }
    Ok(out)
}

/// Whether the table holds any row with provenance (to recognise a lost manifest).
pub async fn has_provenance_rows(server: &Server, table: &TableRef) -> Result<bool, ChError> {
    let sql = format!(
        "SELECT count() AS n FROM (SELECT 1 FROM {} WHERE {PROVENANCE_FILE} != 0 LIMIT 1)",
        table.sql()
    );
    let c: Count = server
        .fetch_one("look for provenance", |c| c.query(&sql))
        .await?;
    Ok(c.n > 0)
}

/// Waits until no insert started by an earlier run on this folder is still executing on the
/// server, so that what the table holds is final before it is compared with the file.
pub async fn wait_for_inflight(
    server: &Server,
    query_id_prefix: &str,
    max_wait: Duration,
) -> Result<(), ChError> {
    let started = Instant::now();
    loop {
        let c: Count = server
            .fetch_one("check running inserts", |c| {
                c.query("SELECT count() AS n FROM system.processes WHERE startsWith(query_id, ?)")
                    .bind(query_id_prefix)
            })
            .await?;
        if c.n == 0 {
            return Ok(());
        }
        if started.elapsed() >= max_wait {
            return Err(ChError::Server {
                code: 216,
                message: format!(
                    "an earlier insert ({query_id_prefix}…) is still running after {max_wait:?}"
                ),
            });
        }
        log::info!("waiting for an earlier run's insert to finish on the server");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
