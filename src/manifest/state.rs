//! The latest event of every path and of every (table, content hash), read in two queries so a run
//! over many already-ingested files costs the same two queries however many files there are.

use super::{Event, Manifest};
use crate::ch::ChError;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// The latest event about a path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathState {
    pub event: Event,
    pub size: u64,
    pub mtime_ns: i64,
    pub file_hash: String,
    pub target_table: String,
    pub error_kind: String,
    /// The event's detail: for a quarantined file, where it went.
    pub detail: String,
}

/// The latest event about some content in some table.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentState {
    pub event: Event,
    pub path: String,
    pub batch_rows: u64,
    pub rows: u64,
    pub error: String,
    pub error_kind: String,
}

#[derive(Debug, Default, Clone)]
pub struct State {
    pub by_path: HashMap<String, PathState>,
    /// Keyed by (target table as `db.table`, content hash).
    pub by_content: HashMap<(String, String), ContentState>,
    /// Tables that have any manifest entry (to tell a lost manifest from a new table).
    pub tables: HashSet<String>,
}

#[derive(clickhouse::Row, Deserialize)]
struct PathRow {
    path: String,
    last_event: String,
    last_size: u64,
    last_mtime_ns: i64,
    last_hash: String,
    last_table: String,
    last_kind: String,
    last_detail: String,
}

#[derive(clickhouse::Row, Deserialize)]
struct ContentRow {
    target_table: String,
    file_hash: String,
    last_event: String,
    last_path: String,
    last_batch_rows: u64,
    last_rows: u64,
    last_error: String,
    last_kind: String,
}

impl State {
    pub fn content(&self, table: &str, hash: &str) -> Option<&ContentState> {
        self.by_content.get(&(table.to_owned(), hash.to_owned()))
    }
}

impl Manifest {
    /// Reads the current state of every path and content.
    pub async fn load_state(&self) -> Result<State, ChError> {
        let table = self.table.sql();
        // Aliases never reuse a column's name: newer servers resolve such a name to the alias.
        let paths_sql = format!(
            "SELECT path, argMax(event, seq) AS last_event, argMax(size, seq) AS last_size, \
             argMax(mtime_ns, seq) AS last_mtime_ns, argMax(file_hash, seq) AS last_hash, \
             argMax(target_table, seq) AS last_table, argMax(error_kind, seq) AS last_kind, \
             argMax(detail, seq) AS last_detail FROM {table} GROUP BY path"
        );
        let paths: Vec<PathRow> = self
            .server()
            .fetch_all("read manifest paths", |c| c.query_raw(&paths_sql))
            .await?;
        let content_sql = format!(
            "SELECT target_table, file_hash, argMax(event, seq) AS last_event, \
             argMax(path, seq) AS last_path, argMax(batch_rows, seq) AS last_batch_rows, \
             argMax(rows, seq) AS last_rows, argMax(error, seq) AS last_error, \
             argMax(error_kind, seq) AS last_kind \
             FROM {table} WHERE event NOT IN ('duplicate', 'changed', 'touched') \
             GROUP BY target_table, file_hash"
        );
        let contents: Vec<ContentRow> = self
            .server()
            .fetch_all("read manifest contents", |c| c.query_raw(&content_sql))
            .await?;
        let mut state = State::default();
        for r in paths {
            let Some(event) = Event::parse(&r.last_event) else {
                continue;
            };
            state.tables.insert(r.last_table.clone());
            state.by_path.insert(
                r.path,
                PathState {
                    event,
                    size: r.last_size,
                    mtime_ns: r.last_mtime_ns,
                    file_hash: r.last_hash,
                    target_table: r.last_table,
                    error_kind: r.last_kind,
                    detail: r.last_detail,
                },
            );
        }
        for r in contents {
            let Some(event) = Event::parse(&r.last_event) else {
                continue;
            };
            state.tables.insert(r.target_table.clone());
            state.by_content.insert(
                (r.target_table, r.file_hash),
                ContentState {
                    event,
                    path: r.last_path,
                    batch_rows: r.last_batch_rows,
                    rows: r.last_rows,
                    error: r.last_error,
                    error_kind: r.last_kind,
                },
            );
        }
        Ok(state)
    }
}
