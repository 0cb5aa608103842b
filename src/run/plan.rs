//! Deciding what to do with each file: first from the manifest alone (path, size, modification
//! time), then, for files that must be read, from their content hash.

use crate::config::{OnChange, RunConfig};
use crate::manifest::{Event, FailureKind, PathState, State};
use crate::scan::FileEntry;

/// A decision made without reading the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    /// Ingested before (or same content as ingested): nothing to do.
    Ingested,
    /// Recorded as a duplicate of another file before.
    Duplicate,
    /// Failed for its content before; retried only when it changes or on `ingest retry`.
    FailedBefore,
    /// Changed after ingestion and held back before.
    HeldBack,
    /// Claimed by another run (this one) that is still running, on another host: left to it.
    Busy(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Known(Known),
    /// Read and hash the file; `previous` is the path's last recorded state, if any.
    Check {
        previous: Option<PathState>,
    },
}

/// Whether a file needs no reading at all: unrouted, or known from the manifest alone.
pub fn is_known(cfg: &RunConfig, state: &State, entry: &FileEntry) -> bool {
    let Some(table) = cfg.routes.table_for(&entry.rel) else {
        return true;
    };
    let on_change = cfg.routes.on_change_for(&entry.rel);
    matches!(
        plan(entry, &table.to_string(), state, on_change),
        Plan::Known(_)
    )
}

/// Plans a file from the manifest alone. Unchanged files are never read or hashed; a file held
/// back earlier is read again when changed content is to be ingested.
pub fn plan(entry: &FileEntry, table: &str, state: &State, on_change: OnChange) -> Plan {
    let ingest_changed = on_change == OnChange::Ingest;
    let Some(prev) = state.by_path.get(&entry.rel) else {
        return Plan::Check { previous: None };
    };
    if let Some(run) = state.claimed_by_live_run(prev.event, &prev.run_id) {
        return Plan::Known(Known::Busy(run.to_owned()));
    }
    let same =
        prev.size == entry.size && prev.mtime_ns == entry.mtime_ns && &*prev.target_table == table;
    // A duplicate or touched path is known only while its content is still ingested.
    if same {
        match prev.event {
            Event::Done => return Plan::Known(Known::Ingested),
            Event::Touched if prev.content_done => return Plan::Known(Known::Ingested),
            Event::Duplicate if prev.content_done => return Plan::Known(Known::Duplicate),
            Event::Changed if !ingest_changed => return Plan::Known(Known::HeldBack),
            Event::Failed | Event::Quarantined
                if prev.error_kind.is_some_and(FailureKind::is_final) =>
            {
                return Plan::Known(Known::FailedBefore);
            }
            _ => {}
        }
    }
    Plan::Check {
        previous: Some(prev.clone()),
    }
}

/// A decision made from the file's content hash.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Ingest; `resume` is set when some of its rows may already be in the table, which is then
    /// asked before anything is sent: it carries the batch size the content was first claimed
    /// with (0 when it never was: the run's own).
    Ingest { resume: Option<u64> },
    /// The same content is already in the table from `of`.
    Duplicate { of: String },
    /// The path changed on disk but its content is what was ingested.
    Touched,
    /// The path was ingested with other content (`old_hash`); this content is held back.
    Changed { old_hash: String },
    /// This content failed for good before (possibly under another name): `kind` says why.
    FailedBefore { error: String, kind: FailureKind },
    /// Another run that is still running claimed this content (under `path`): left to it.
    Busy { run: String, path: String },
}

/// Decides by content. `claimed_in_run` finds content another path claimed earlier in this run.
/// Content the manifest has any other record of (forgotten, retried, claimed, failed for a
/// passing reason) may have rows in the table already, so it is ingested by asking the table
/// first: an operator's `forget` or `retry` never sends a row twice.
pub fn decide(
    rel: &str,
    hash: &str,
    table: &str,
    previous: Option<&PathState>,
    state: &State,
    claimed_in_run: Option<&str>,
) -> Decision {
    if let Some(of) = claimed_in_run {
        return Decision::Duplicate { of: of.to_owned() };
    }
    let content = state.content(table, hash);
    if let Some(content) = content {
        if let Some(run) = state.claimed_by_live_run(content.event, &content.run_id) {
            return Decision::Busy {
                run: run.to_owned(),
                path: content.path.clone(),
            };
        }
        match content.event {
            Event::Done => {
                return if content.path == rel {
                    Decision::Touched
                } else {
                    Decision::Duplicate {
                        of: content.path.clone(),
                    }
                };
            }
            Event::Failed | Event::Quarantined
                if content.error_kind.is_some_and(FailureKind::is_final) =>
            {
                return Decision::FailedBefore {
                    error: content.error.clone(),
                    kind: content.error_kind.unwrap_or(FailureKind::Data),
                };
            }
            Event::Forgotten => {
                return Decision::Ingest {
                    resume: Some(content.batch_rows),
                };
            }
            _ => {}
        }
    }
    if let Some(prev) = previous
        && matches!(prev.event, Event::Done | Event::Touched | Event::Changed)
        && prev.file_hash != hash
        && &*prev.target_table == table
    {
        return Decision::Changed {
            old_hash: prev.file_hash.clone(),
        };
    }
    Decision::Ingest {
        resume: content.map(|c| c.batch_rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::detect;
    use crate::manifest::ContentState;

    fn entry(rel: &str, size: u64, mtime: i64) -> FileEntry {
        FileEntry {
            rel: rel.into(),
            dev: 0,
            ino: 0,
            root: std::sync::Arc::new(
                crate::folder::Folder::open(std::path::Path::new(".")).unwrap(),
            ),
            size,
            mtime_ns: mtime,
            detected: detect(rel).unwrap(),
            segment: None,
            rules: std::sync::Arc::default(),
        }
    }

    fn path_state(event: Event, hash: &str, kind: &str) -> PathState {
        PathState {
            event,
            size: 10,
            mtime_ns: 5,
            file_hash: hash.into(),
            target_table: "db.t".into(),
            error_kind: FailureKind::parse(kind),
            detail: String::new(),
            content_done: false,
            from_byte: 0,
            from_row: 0,
            prefix_hash: String::new(),
            run_id: "r0".into(),
        }
    }

    fn content(event: Event, path: &str, batch_rows: u64, kind: &str) -> ContentState {
        ContentState {
            event,
            path: path.into(),
            batch_rows,
            rows: 0,
            error: "bad".into(),
            error_kind: FailureKind::parse(kind),
            generation: 0,
            rejected: 0,
            from_byte: 0,
            from_row: 0,
            prefix_hash: String::new(),
            run_id: "r0".into(),
        }
    }

    #[test]
    fn unchanged_files_are_known_without_reading() {
        let mut state = State::default();
        state
            .by_path
            .insert("a.csv".into(), path_state(Event::Done, "h1", ""));
        assert_eq!(
            plan(&entry("a.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Known(Known::Ingested)
        );
        assert!(matches!(
            plan(&entry("a.csv", 11, 5), "db.t", &state, OnChange::Report),
            Plan::Check { previous: Some(_) }
        ));
        assert!(matches!(
            plan(&entry("a.csv", 10, 5), "db.other", &state, OnChange::Report),
            Plan::Check { .. }
        ));
        assert_eq!(
            plan(&entry("b.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Check { previous: None }
        );
    }

    #[test]
    fn a_duplicate_is_known_only_while_its_original_is_ingested() {
        let mut state = State::default();
        state
            .by_path
            .insert("copy.csv".into(), path_state(Event::Duplicate, "h1", ""));
        assert!(matches!(
            plan(&entry("copy.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Check { .. }
        ));
        if let Some(p) = state.by_path.get_mut("copy.csv") {
            p.content_done = true;
        }
        assert_eq!(
            plan(&entry("copy.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Known(Known::Duplicate)
        );
    }

    #[test]
    fn failures_are_retried_only_when_transient() {
        let mut state = State::default();
        state
            .by_path
            .insert("a.csv".into(), path_state(Event::Failed, "h1", "data"));
        state
            .by_path
            .insert("b.csv".into(), path_state(Event::Failed, "h2", "transient"));
        assert_eq!(
            plan(&entry("a.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Known(Known::FailedBefore)
        );
        assert!(matches!(
            plan(&entry("b.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Check { .. }
        ));
    }

    #[test]
    fn content_decides_duplicates_changes_and_resumes() {
        let mut state = State::default();
        state.by_content.insert(
            ("db.t".into(), "h1".into()),
            content(Event::Done, "a.csv", 100, ""),
        );
        state.by_content.insert(
            ("db.t".into(), "h2".into()),
            content(Event::Batch, "c.csv", 100, ""),
        );
        assert_eq!(
            decide("b.csv", "h1", "db.t", None, &state, None),
            Decision::Duplicate { of: "a.csv".into() }
        );
        assert_eq!(
            decide("a.csv", "h1", "db.t", None, &state, None),
            Decision::Touched
        );
        assert_eq!(
            decide("b.csv", "h1", "db.other", None, &state, None),
            Decision::Ingest { resume: None }
        );
        assert_eq!(
            decide("renamed.csv", "h2", "db.t", None, &state, None),
            Decision::Ingest { resume: Some(100) }
        );
        let prev = path_state(Event::Done, "h1", "");
        assert_eq!(
            decide("a.csv", "h9", "db.t", Some(&prev), &state, None),
            Decision::Changed {
                old_hash: "h1".into()
            }
        );
        assert_eq!(
            decide("x.csv", "h9", "db.t", None, &state, Some("y.csv")),
            Decision::Duplicate { of: "y.csv".into() }
        );
    }

    #[test]
    fn files_a_live_run_claimed_are_left_to_it_and_a_dead_runs_are_resumed() {
        let mut state = State::default();
        state
            .by_path
            .insert("a.csv".into(), path_state(Event::Claimed, "h1", ""));
        state.by_content.insert(
            ("db.t".into(), "h1".into()),
            content(Event::Batch, "a.csv", 100, ""),
        );
        assert!(matches!(
            plan(&entry("a.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Check { .. }
        ));
        assert_eq!(
            decide("b.csv", "h1", "db.t", None, &state, None),
            Decision::Ingest { resume: Some(100) },
            "its claimer is gone: resumed"
        );
        state.live_runs.insert("r0".into());
        assert_eq!(
            plan(&entry("a.csv", 10, 5), "db.t", &state, OnChange::Report),
            Plan::Known(Known::Busy("r0".into()))
        );
        assert_eq!(
            decide("b.csv", "h1", "db.t", None, &state, None),
            Decision::Busy {
                run: "r0".into(),
                path: "a.csv".into()
            }
        );
    }

    #[test]
    fn forgotten_or_retried_content_asks_the_table_before_sending() {
        let mut state = State::default();
        state.by_content.insert(
            ("db.t".into(), "h1".into()),
            content(Event::Forgotten, "a.csv", 100, ""),
        );
        state.by_content.insert(
            ("db.t".into(), "h2".into()),
            content(Event::Retry, "b.csv", 0, ""),
        );
        let prev = path_state(Event::Done, "h0", "");
        assert_eq!(
            decide("a.csv", "h1", "db.t", Some(&prev), &state, None),
            Decision::Ingest { resume: Some(100) },
            "forgotten content is ingested again, but not blindly"
        );
        assert_eq!(
            decide("b.csv", "h2", "db.t", None, &state, None),
            Decision::Ingest { resume: Some(0) }
        );
        assert_eq!(
            decide("c.csv", "h3", "db.t", None, &state, None),
            Decision::Ingest { resume: None },
            "content never seen cannot be in the table"
        );
    }
}
