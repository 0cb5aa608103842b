//! The latest event of every path and of every (table, content hash), each read in one streamed
//! query, so a run over many already-ingested files costs the same queries however many files
//! there are; contents are read only when some file has to be looked at.

use super::{Event, Manifest};
use crate::ch::ChError;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The latest event about a path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathState {
    pub event: Event,
    pub size: u64,
    pub mtime_ns: i64,
    pub file_hash: String,
    /// `db.table`; shared between the paths of one table.
    pub target_table: Arc<str>,
    pub error_kind: String,
    /// The event's detail: for a quarantined file, where it went.
    pub detail: String,
    /// Whether the content this path last had is ingested into its table.
    pub content_done: bool,
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
    /// Keyed by (target table as `db.table`, content hash); empty until `load_contents`.
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
    content_event: String,
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

/// Events that speak about a path only, not about the content.
const PATH_ONLY: &str = "('duplicate', 'changed', 'touched')";

impl State {
    pub fn content(&self, table: &str, hash: &str) -> Option<&ContentState> {
        self.by_content.get(&(table.to_owned(), hash.to_owned()))
    }
}

impl Manifest {
    /// Reads the current state of every path and every content.
    pub async fn load_state(&self) -> Result<State, ChError> {
        let mut state = self.load_paths().await?;
        self.load_contents(&mut state).await?;
        Ok(state)
    }

    /// Reads the latest event of every path, with whether its content is ingested.
    pub async fn load_paths(&self) -> Result<State, ChError> {
        let table = self.table.sql();
        // Aliases never reuse a column's name: newer servers resolve such a name to the alias.
        let sql = format!(
            "SELECT path, last_event, last_size, last_mtime_ns, last_hash, last_table, last_kind, \
             last_detail, content_event FROM (\
               SELECT path, argMax(event, seq) AS last_event, argMax(size, seq) AS last_size, \
               argMax(mtime_ns, seq) AS last_mtime_ns, argMax(file_hash, seq) AS last_hash, \
               argMax(target_table, seq) AS last_table, argMax(error_kind, seq) AS last_kind, \
               argMax(detail, seq) AS last_detail FROM {table} GROUP BY path\
             ) AS paths ANY LEFT JOIN (\
               SELECT target_table AS last_table, file_hash AS last_hash, \
               argMax(event, seq) AS content_event FROM {table} \
               WHERE event NOT IN {PATH_ONLY} GROUP BY target_table, file_hash\
             ) AS contents USING (last_table, last_hash)"
        );
        let server = self.server();
        server
            .retry("read manifest paths", || async {
                let mut state = State::default();
                let mut tables: HashMap<String, Arc<str>> = HashMap::new();
                let mut rows = server
                    .client()
                    .query_raw(&sql)
                    .fetch::<PathRow>()
                    .map_err(|e| server.classify(e))?;
                while let Some(r) = server.timed(rows.next()).await? {
                    let Some(event) = Event::parse(&r.last_event) else {
                        continue;
                    };
                    let target_table = tables
                        .entry(r.last_table)
                        .or_insert_with_key(|t| Arc::from(t.as_str()))
                        .clone();
                    state.by_path.insert(
                        r.path,
                        PathState {
                            event,
                            size: r.last_size,
                            mtime_ns: r.last_mtime_ns,
                            file_hash: r.last_hash,
                            target_table,
                            error_kind: r.last_kind,
                            detail: r.last_detail,
                            content_done: r.content_event == Event::Done.as_str(),
                        },
                    );
                }
                state.tables = tables.into_keys().collect();
                Ok(state)
            })
            .await
    }

    /// Adds the latest event of every (table, content) to `state`.
    pub async fn load_contents(&self, state: &mut State) -> Result<(), ChError> {
        let table = self.table.sql();
        let sql = format!(
            "SELECT target_table, file_hash, argMax(event, seq) AS last_event, \
             argMax(path, seq) AS last_path, argMax(batch_rows, seq) AS last_batch_rows, \
             argMax(rows, seq) AS last_rows, argMax(error, seq) AS last_error, \
             argMax(error_kind, seq) AS last_kind \
             FROM {table} WHERE event NOT IN {PATH_ONLY} GROUP BY target_table, file_hash"
        );
        let server = self.server();
        let contents = server
            .retry("read manifest contents", || async {
                let mut out = HashMap::new();
                let mut rows = server
                    .client()
                    .query_raw(&sql)
                    .fetch::<ContentRow>()
                    .map_err(|e| server.classify(e))?;
                while let Some(r) = server.timed(rows.next()).await? {
                    let Some(event) = Event::parse(&r.last_event) else {
                        continue;
                    };
                    out.insert(
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
                Ok(out)
            })
            .await?;
        state
            .tables
            .extend(contents.keys().map(|(table, _)| table.clone()));
        state.by_content = contents;
        Ok(())
    }
}
