//! What landed of a file, asked of whatever can say: the table itself by its provenance columns
//! (exact: every row is traceable to its file and record), or — for a table without them — the
//! manifest's record of acknowledged batches (at-least-once: a batch in flight when a run died is
//! sent again). The sink asks one or the other through one trait, never by testing which it is.

use super::error::SinkError;
use super::layout::BatchPlan;
use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use crate::hash::file_id;
use crate::manifest::Manifest;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

/// An answer on its way from the server.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// For each content hash: rows in the table, and distinct records among them.
pub type Counts = HashMap<String, (u64, u64)>;

pub trait Landed {
    /// What to send of each batch of a content cut into batches of `batch_rows`, `expected[k]`
    /// being the rows batch `k` holds, when some may be in the table already. Its records are
    /// numbered from `first_row` (a grown file's new part), batches from its first record.
    fn plan<'a>(
        &'a self,
        hash: &'a str,
        batch_rows: u64,
        expected: &'a [u64],
        first_row: u64,
    ) -> Pending<'a, Result<Vec<BatchPlan>, SinkError>>;

    /// For each content, given with the rows it should have: the rows the table holds of it and
    /// how many distinct records they are (a difference means duplicate rows).
    fn counts<'a>(&'a self, files: &'a [(&'a str, u64)]) -> Pending<'a, Result<Counts, ChError>>;

    /// Whether acknowledgements are all there is to know of what landed: then each is recorded
    /// at once, and each insert is waited for before the next starts, so that a crash can repeat
    /// one insert at most.
    fn acks_are_the_record(&self) -> bool;

    /// The id a content's rows carry, when they carry one.
    fn file_id(&self, hash: &str) -> Option<u64>;
}

/// The table answers by its provenance columns. When its rows are replicated, the replica asked
/// is made to catch up first: one that has not fetched a part yet would say its rows are missing.
pub struct ByProvenance {
    pub server: Server,
    pub table: TableRef,
    pub replicated: Option<TableRef>,
}

/// The manifest answers from the batches it recorded as acknowledged.
pub struct ByManifest {
    pub manifest: Manifest,
    pub table: TableRef,
}

impl ByProvenance {
    async fn plan_from_table(
        &self,
        hash: &str,
        b: u64,
        expected: &[u64],
        first: u64,
    ) -> Result<Vec<BatchPlan>, SinkError> {
        let (table, id) = (&self.table, file_id(hash));
        if let Some(replicated) = &self.replicated {
            self.server.catch_up(replicated).await?;
        }
        let landed = self.server.landed_batches(table, id, b, first).await?;
        let batches = expected.len();
        if let Some(k) = landed.keys().find(|&&k| k as usize >= batches) {
            return Err(SinkError::Data(format!(
                "{table} holds rows of batch {k} of this file, which has only {batches} batches \
                 of {b} rows; was it ingested with another --batch-rows?"
            )));
        }
        let mut plans = Vec::with_capacity(batches);
        for (k, &want) in expected.iter().enumerate() {
            let k = k as u64;
            let n = landed.get(&k).copied().unwrap_or(0);
            plans.push(if n == want {
                BatchPlan::Skip
            } else if n == 0 {
                BatchPlan::Full
            } else {
                let have: HashSet<u64> = self
                    .server
                    .landed_ordinals(table, id, first + k * b, first + (k + 1) * b)
                    .await?
                    .into_iter()
                    .map(|r| r - first)
                    .collect();
                if have.len() as u64 != n || n > want {
                    return Err(SinkError::Data(format!(
                        "{table} holds {n} rows of batch {k} of this file, {} distinct, but the \
                         batch has {want}: duplicate rows",
                        have.len()
                    )));
                }
                BatchPlan::Fill(have)
            });
        }
        Ok(plans)
    }

    async fn counts_from_table(&self, files: &[(&str, u64)]) -> Result<Counts, ChError> {
        let by_id: HashMap<u64, &str> = files.iter().map(|(h, _)| (file_id(h), *h)).collect();
        let ids: Vec<u64> = by_id.keys().copied().collect();
        let counts = self.server.provenance_counts(&self.table, &ids).await?;
        Ok(counts
            .into_iter()
            .filter_map(|(id, c)| by_id.get(&id).map(|h| ((*h).to_owned(), c)))
            .collect())
    }
}

impl Landed for ByProvenance {
    fn plan<'a>(
        &'a self,
        hash: &'a str,
        batch_rows: u64,
        expected: &'a [u64],
        first_row: u64,
    ) -> Pending<'a, Result<Vec<BatchPlan>, SinkError>> {
        Box::pin(self.plan_from_table(hash, batch_rows, expected, first_row))
    }

    fn counts<'a>(&'a self, files: &'a [(&'a str, u64)]) -> Pending<'a, Result<Counts, ChError>> {
        Box::pin(self.counts_from_table(files))
    }

    fn acks_are_the_record(&self) -> bool {
        false
    }

    fn file_id(&self, hash: &str) -> Option<u64> {
        Some(file_id(hash))
    }
}

impl Landed for ByManifest {
    fn plan<'a>(
        &'a self,
        hash: &'a str,
        batch_rows: u64,
        expected: &'a [u64],
        _first_row: u64,
    ) -> Pending<'a, Result<Vec<BatchPlan>, SinkError>> {
        Box::pin(async move {
            let acked = self
                .manifest
                .acknowledged_batches(&self.table, hash, batch_rows)
                .await?;
            Ok((0..expected.len() as u64)
                .map(|k| match acked.contains(&k) {
                    true => BatchPlan::Skip,
                    false => BatchPlan::Full,
                })
                .collect())
        })
    }

    /// Without provenance the table cannot be asked: an acknowledged insert is taken as landed.
    fn counts<'a>(&'a self, files: &'a [(&'a str, u64)]) -> Pending<'a, Result<Counts, ChError>> {
        Box::pin(async move {
            Ok(files
                .iter()
                .map(|(h, rows)| ((*h).to_owned(), (*rows, *rows)))
                .collect())
        })
    }

    fn acks_are_the_record(&self) -> bool {
        true
    }

    fn file_id(&self, _: &str) -> Option<u64> {
        None
    }
}
