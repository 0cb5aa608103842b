//! What a target table holds of a file, asked by content hash: the provenance questions of a run,
//! in the run's terms (hashes, not the 64-bit ids the rows carry).

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use crate::hash::file_id;
use std::collections::{HashMap, HashSet};

/// Rows of each batch of a file already in the table.
pub async fn landed_batches(
    server: &Server,
    table: &TableRef,
    hash: &str,
    batch_rows: u64,
) -> Result<HashMap<u64, u64>, ChError> {
    server
        .landed_batches(table, file_id(hash), batch_rows)
        .await
}

/// Ordinals in `[from, to)` of a file already in the table.
pub async fn landed_ordinals(
    server: &Server,
    table: &TableRef,
    hash: &str,
    from: u64,
    to: u64,
) -> Result<HashSet<u64>, ChError> {
    let rows = server
        .landed_ordinals(table, file_id(hash), from, to)
        .await?;
    Ok(rows.into_iter().collect())
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
    let counts = server.provenance_counts(table, &ids).await?;
    Ok(counts
        .into_iter()
        .filter_map(|(id, c)| by_id.get(&id).map(|h| ((*h).to_owned(), c)))
        .collect())
}
