//! The latest event of every path and of every (table, content hash), each read in one streamed
//! query, so a run over many already-ingested files costs the same queries however many files
//! there are; contents are read only when some file has to be looked at.

use super::{Event, FailureKind, Manifest};
use crate::ch::ChError;
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
    pub error_kind: Option<FailureKind>,
    /// The event's detail: for a quarantined file, where it went.
    pub detail: String,
    /// Whether the content this path last had is ingested into its table.
    pub content_done: bool,
    /// The latest event's part of a file that grew: see [`crate::manifest::FileFacts`].
    pub from_byte: u64,
    pub from_row: u64,
    pub prefix_hash: String,
    /// The run of the latest event.
    pub run_id: String,
}

/// The latest event about some content in some table.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentState {
    pub event: Event,
    pub path: String,
    pub batch_rows: u64,
    pub rows: u64,
    pub error: String,
    pub error_kind: Option<FailureKind>,
    /// How many times the content was forgotten: an ingestion after a `forget` is a new one,
    /// whose inserts must not be taken for repeats of the earlier one.
    pub generation: u64,
    /// Records left out of it (`rows` + `rejected` records were read).
    pub rejected: u64,
    /// For the grown part of a file: see [`crate::manifest::FileFacts`].
    pub from_byte: u64,
    pub from_row: u64,
    pub prefix_hash: String,
    /// The run of the latest event.
    pub run_id: String,
}

impl ContentState {
    /// The ordinal after the content's last record: where records appended to it start.
    pub fn records_end(&self) -> u64 {
        self.from_row + self.rows + self.rejected
    }
}

#[derive(Debug, Default, Clone)]
pub struct State {
    pub by_path: HashMap<String, PathState>,
    /// Keyed by (target table as `db.table`, content hash); empty until `load_contents`.
    pub by_content: HashMap<(String, String), ContentState>,
    /// Tables that have any manifest entry (to tell a lost manifest from a new table).
    pub tables: HashSet<String>,
    /// Whether `by_content` was read (it is only read when a file must be looked at).
    pub contents_loaded: bool,
    /// Other runs alive now (on other hosts, as the cluster lock's service knows them).
    pub live_runs: HashSet<String>,
}

impl State {
    pub fn content(&self, table: &str, hash: &str) -> Option<&ContentState> {
        self.by_content.get(&(table.to_owned(), hash.to_owned()))
    }

    /// The live run whose claim of a file is still open after `event` by `run_id`, if any: a
    /// file claimed (or part-sent) by another run that is still running is left to it.
    pub fn claimed_by_live_run<'a>(&self, event: Event, run_id: &'a str) -> Option<&'a str> {
        let open = matches!(event, Event::Claimed | Event::Batch);
        (open && self.live_runs.contains(run_id)).then_some(run_id)
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
        let (mut state, tables) = self
            .server()
            .fold_paths(
                &self.table,
                self.folder_filter(),
                self.has_segments(),
                &Event::path_only_names(),
                || (State::default(), HashMap::<String, Arc<str>>::new()),
                |(state, tables), r| {
                    let Some(event) = Event::parse(&r.last_event) else {
                        return;
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
                            error_kind: FailureKind::parse(&r.last_kind),
                            detail: r.last_detail,
                            content_done: r.content_event == Event::Done.as_str(),
                            from_byte: r.last_from_byte,
                            from_row: r.last_from_row,
                            prefix_hash: r.last_prefix,
                            run_id: r.last_run,
                        },
                    );
                },
            )
            .await?;
        state.tables = tables.into_keys().collect();
        Ok(state)
    }

    /// Adds the latest event of every (table, content) to `state`.
    pub async fn load_contents(&self, state: &mut State) -> Result<(), ChError> {
        let contents = self
            .server()
            .fold_contents(
                &self.table,
                self.has_segments(),
                &Event::path_only_names(),
                HashMap::new,
                |out, r| {
                    let Some(event) = Event::parse(&r.last_event) else {
                        return;
                    };
                    out.insert(
                        (r.target_table, r.file_hash),
                        ContentState {
                            event,
                            path: r.last_path,
                            batch_rows: r.last_batch_rows,
                            rows: r.last_rows,
                            error: r.last_error,
                            error_kind: FailureKind::parse(&r.last_kind),
                            generation: r.forgotten,
                            rejected: r.last_rejected,
                            from_byte: r.last_from_byte,
                            from_row: r.last_from_row,
                            prefix_hash: r.last_prefix,
                            run_id: r.last_run,
                        },
                    );
                },
            )
            .await?;
        state
            .tables
            .extend(contents.keys().map(|(table, _)| table.clone()));
        state.by_content = contents;
        state.contents_loaded = true;
        Ok(())
    }
}
