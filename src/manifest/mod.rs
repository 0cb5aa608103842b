//! The manifest: an append-only table of file events inside ClickHouse, and the current state of
//! every path and every (table, content hash) derived from it in two queries.

mod rejects;
mod state;

pub use rejects::RejectRow;
pub use state::{ContentState, PathState, State};

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What happened to a file. Stored as text so operators can read it with plain SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A run started ingesting this content into this table, in batches of `batch_rows`.
    Claimed,
    /// Batch number `batch` was inserted and acknowledged.
    Batch,
    /// Every row is confirmed in the table by reading it back.
    Done,
    /// The content could not be ingested (`error_kind` says whether retrying can help).
    Failed,
    /// The path holds content already ingested into the table from another path.
    Duplicate,
    /// The path was ingested with other content; the new content is held back.
    Changed,
    /// The path's size or time changed but its content did not.
    Touched,
    /// The failed file was moved to the quarantine folder.
    Quarantined,
    /// An operator asked for the content to be treated as never seen.
    Forgotten,
    /// An operator asked for a failed or held-back file to be tried again.
    Retry,
}

impl Event {
    pub const ALL: [Event; 10] = [
        Event::Claimed,
        Event::Batch,
        Event::Done,
        Event::Failed,
        Event::Duplicate,
        Event::Changed,
        Event::Touched,
        Event::Quarantined,
        Event::Forgotten,
        Event::Retry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Claimed => "claimed",
            Event::Batch => "batch",
            Event::Done => "done",
            Event::Failed => "failed",
            Event::Duplicate => "duplicate",
            Event::Changed => "changed",
            Event::Touched => "touched",
            Event::Quarantined => "quarantined",
            Event::Forgotten => "forgotten",
            Event::Retry => "retry",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Events that speak about the content (table, hash) rather than only about a path.
    pub fn is_content_event(self) -> bool {
        !matches!(self, Event::Duplicate | Event::Changed | Event::Touched)
    }
}

/// `error_kind` values.
pub const KIND_DATA: &str = "data";
pub const KIND_TRANSIENT: &str = "transient";

/// One manifest row. Field order is the table's column order.
#[derive(Debug, Clone, Default, clickhouse::Row, Serialize)]
pub struct EventRow {
    pub event_time: u32,
    pub seq: u64,
    pub run_id: String,
    pub host: String,
    pub event: String,
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub file_hash: String,
    /// `hash::file_id` of `file_hash`: what the rows' `_ingest_file` holds. Filled on write.
    pub file_id: u64,
    pub target_table: String,
    pub format: String,
    pub batch_rows: u64,
    pub batch: u64,
    pub rows: u64,
    pub rejected: u64,
    pub error: String,
    pub error_kind: String,
    pub detail: String,
}

static LAST_SEQ: AtomicU64 = AtomicU64::new(0);

/// A strictly increasing event sequence: wall-clock nanoseconds, bumped when the clock stalls.
fn next_seq() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut last = LAST_SEQ.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_SEQ.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

const DDL_COLUMNS: &str = "\
    event_time DateTime, seq UInt64, run_id String, host String, event String, path String, \
    size UInt64, mtime_ns Int64, file_hash String, file_id UInt64, target_table String, \
    format String, \
    batch_rows UInt64, batch UInt64, rows UInt64, rejected UInt64, error String, \
    error_kind String, detail String";

/// The manifest table of one deployment, and the identity of the run writing to it.
#[derive(Clone)]
pub struct Manifest {
    server: Server,
    pub table: TableRef,
    pub run_id: String,
    pub host: String,
}

impl Manifest {
    pub fn new(server: Server, table: TableRef, run_id: String) -> Manifest {
        Manifest {
            server,
            table,
            run_id,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }

    /// The view with the latest state of every file, `<manifest>_files`.
    pub fn files_view(&self) -> TableRef {
        TableRef {
            database: self.table.database.clone(),
            table: format!("{}_files", self.table.table),
        }
    }

    /// Creates the manifest table, its `_files` view and the rejects table where missing, and
    /// says which it created.
    /// Nothing is created when both exist, so a user without CREATE rights can run.
    pub async fn ensure(&self) -> Result<Vec<TableRef>, ChError> {
        let mut created = Vec::new();
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {} ({DDL_COLUMNS}) ENGINE = MergeTree \
             PARTITION BY toYYYYMM(event_time) ORDER BY (target_table, file_hash, seq)",
            self.table.sql()
        );
        if self
            .server
            .create_if_missing("create manifest table", &self.table, &ddl)
            .await?
        {
            created.push(self.table.clone());
        }
        let view = self.files_view();
        let ddl = format!(
            "CREATE VIEW IF NOT EXISTS {} AS SELECT target_table, file_hash, \
             last_path AS path, state, last_rows AS rows, last_error AS error, first_seen, \
             last_event FROM ({})",
            view.sql(),
            latest_by_content(&self.table)
        );
        if self
            .server
            .create_if_missing("create manifest view", &view, &ddl)
            .await?
        {
            created.push(view);
        }
        if self.ensure_rejects().await? {
            created.push(self.rejects_table());
        }
        Ok(created)
    }

    pub async fn exists(&self) -> Result<bool, ChError> {
        self.server.table_exists(&self.table).await
    }

    /// A new event row stamped with this run, host and time.
    pub fn event(&self, event: Event) -> EventRow {
        EventRow {
            event_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as u32),
            seq: next_seq(),
            run_id: self.run_id.clone(),
            host: self.host.clone(),
            event: event.as_str().to_owned(),
            ..EventRow::default()
        }
    }

    /// Appends events in one insert, retrying what can be retried (a repeated event is harmless:
    /// state is the latest event by sequence).
    pub async fn write(&self, events: &[EventRow]) -> Result<(), ChError> {
        if events.is_empty() {
            return Ok(());
        }
        let events: Vec<EventRow> = events
            .iter()
            .map(|e| EventRow {
                file_id: crate::hash::file_id(&e.file_hash),
                ..e.clone()
            })
            .collect();
        let events = &events;
        let table = self.table.sql();
        self.server
            .retry("write manifest events", || async {
                let mut insert = self
                    .server
                    .client()
                    .insert_unescaped::<EventRow>(&table)
                    .await
                    .map_err(|e| self.server.classify(e))?;
                for ev in events {
                    insert
                        .write(ev)
                        .await
                        .map_err(|e| self.server.classify(e))?;
                }
                insert.end().await.map_err(|e| self.server.classify(e))
            })
            .await
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Batches of some content acknowledged by the server in earlier runs, for tables without
    /// provenance where the table itself cannot be asked.
    pub async fn acknowledged_batches(
        &self,
        table: &TableRef,
        hash: &str,
        batch_rows: u64,
    ) -> Result<std::collections::HashSet<u64>, ChError> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Batch {
            b: u64,
        }
        let sql = format!(
            "SELECT DISTINCT batch AS b FROM {} WHERE target_table = ? AND file_hash = ? \
             AND event = 'batch' AND batch_rows = ?",
            self.table.sql()
        );
        let rows: Vec<Batch> = self
            .server
            .fetch_all("read acknowledged batches", |c| {
                c.query(&sql)
                    .bind(table.to_string())
                    .bind(hash)
                    .bind(batch_rows)
            })
            .await?;
        Ok(rows.into_iter().map(|r| r.b).collect())
    }
}

/// The latest state of every (table, content) as a subquery: `target_table`, `file_hash`,
/// `last_path`, `state`, `last_rows`, `last_error`, `first_seen`, `last_event`. (Aliases never
/// reuse a column's name: newer servers would resolve the column to the alias.)
pub fn latest_by_content(table: &TableRef) -> String {
    format!(
        "SELECT target_table, file_hash, argMax(path, seq) AS last_path, \
         argMax(event, seq) AS state, argMax(rows, seq) AS last_rows, \
         argMax(error, seq) AS last_error, min(event_time) AS first_seen, \
         max(event_time) AS last_event \
         FROM {} WHERE event NOT IN ('duplicate', 'changed', 'touched') \
         GROUP BY target_table, file_hash",
        table.sql()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_is_strictly_increasing() {
        let mut last = 0;
        for _ in 0..10_000 {
            let s = next_seq();
            assert!(s > last);
            last = s;
        }
    }

    #[test]
    fn events_round_trip_through_text() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
        assert_eq!(Event::parse("nope"), None);
    }
}
