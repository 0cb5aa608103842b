//! The first look at the data folder: scan it, route each data file to its table, and decide what
//! the manifest alone can say about each (already ingested, held back, failed before) — the rest
//! must be read. Files no route takes and routes that take no file are warnings.

use super::plan::{self, Known, Plan};
use crate::ch::ident::TableRef;
use crate::config::{After, RunConfig};
use crate::folder::Folder;
use crate::manifest::{PathState, State};
use crate::outcome::{FileOutcome, Status};
use crate::scan::{self, FileEntry};
use anyhow::Context;
use std::sync::Arc;
use std::time::Instant;

/// What the survey found.
pub(super) struct Survey {
    /// Files decided without reading them (and files not read at all).
    pub outcomes: Vec<FileOutcome>,
    /// Files to read, with their table and what the manifest last said of their path.
    pub checks: Vec<(FileEntry, TableRef, Option<Box<PathState>>)>,
    pub warnings: Vec<String>,
    /// When the folder was scanned: files must stay unchanged for the settle time after.
    pub scanned_at: Instant,
}

/// Scans `root` and decides what it can from `state`.
pub(super) fn survey(cfg: &RunConfig, root: &Arc<Folder>, state: &State) -> anyhow::Result<Survey> {
    let scanned_at = Instant::now();
    let found = scan::scan(root, &cfg.disposal.folders(), |rel, name| {
        cfg.routes.recognise(rel, name)
    })
    .with_context(|| format!("cannot scan {}", cfg.common.data_dir.display()))?;
    crate::failpoints::rendezvous("after-scan");
    let mut survey = Survey {
        outcomes: found
            .ignored
            .iter()
            .map(|i| FileOutcome::new(&i.rel, Status::Ignored).detail(i.reason.clone()))
            .collect(),
        checks: Vec::new(),
        warnings: Vec::new(),
        scanned_at,
    };
    let routes = cfg.routes.describe();
    let mut route_hits = vec![0u64; routes.len()];
    let any_data = !found.files.is_empty();
    let (mine, others): (Vec<_>, Vec<_>) = found
        .files
        .into_iter()
        .partition(|f| cfg.shard.is_none_or(|s| s.takes(&f.rel)));
    if let (Some(shard), false) = (cfg.shard, others.is_empty()) {
        log::info!(
            "{} of the folder's files are other shards' than {shard}",
            others.len()
        );
    }
    for other in &others {
        if let Some(i) = cfg.routes.route_index(&other.rel) {
            route_hits[i] += 1;
        }
    }
    for entry in mine {
        if let Some(i) = cfg.routes.route_index(&entry.rel) {
            route_hits[i] += 1;
        }
        let Some(table) = cfg.routes.table_for(&entry.rel) else {
            survey.unrouted(&entry.rel);
            continue;
        };
        let on_change = cfg.routes.on_change_for(&entry.rel);
        match plan::plan(&entry, &table.to_string(), state, on_change) {
            Plan::Known(known) => {
                let outcome = known_outcome(&entry, table, known, state);
                survey.outcomes.push(outcome);
            }
            Plan::Check { previous } => {
                survey
                    .checks
                    .push((entry, table.clone(), previous.map(Box::new)))
            }
        }
    }
    // Files stay in the folder: a route that matches none of them is most likely a typo. (Files
    // moved or deleted after ingestion leave routes idle between arrivals.)
    if any_data && cfg.disposal.after == After::Keep {
        for (route, hits) in routes.iter().zip(&route_hits) {
            if *hits == 0 {
                survey
                    .warnings
                    .push(format!("route {route} matched no file in the data folder"));
            }
        }
    }
    Ok(survey)
}

/// A watcher's survey of the files it saw change and settle: those the manifest knows as they are
/// are left out, not reported.
pub(super) fn of_files(cfg: &RunConfig, files: Vec<FileEntry>, state: &State) -> Survey {
    let mut survey = Survey {
        outcomes: Vec::new(),
        checks: Vec::new(),
        warnings: Vec::new(),
        scanned_at: Instant::now(),
    };
    for entry in files {
        let Some(table) = cfg.routes.table_for(&entry.rel) else {
            survey.unrouted(&entry.rel);
            continue;
        };
        let on_change = cfg.routes.on_change_for(&entry.rel);
        if let Plan::Check { previous } = plan::plan(&entry, &table.to_string(), state, on_change) {
            survey
                .checks
                .push((entry, table.clone(), previous.map(Box::new)));
        }
    }
    survey
}

impl Survey {
    fn unrouted(&mut self, rel: &str) {
        self.warnings.push(format!(
            "{rel}: no route matches this data file and no --table is set"
        ));
        self.outcomes.push(
            FileOutcome::new(rel, Status::Ignored)
                .detail("no route matches it and no --table is set"),
        );
    }
}

fn known_outcome(entry: &FileEntry, table: &TableRef, known: Known, state: &State) -> FileOutcome {
    let (status, detail) = match known {
        Known::Ingested => (Status::AlreadyIngested, ""),
        Known::Duplicate => (Status::Duplicate, "recorded as a duplicate before"),
        Known::FailedBefore => (
            Status::FailedBefore,
            "failed for its content before; change the file or run `ingest retry`",
        ),
        Known::HeldBack => (
            Status::ChangedBefore,
            "changed since ingested; held back earlier",
        ),
        Known::Busy(run) => {
            return FileOutcome::of(entry, table, Status::Unsettled).detail(format!(
                "claimed by run {run}, which is still running (on another host): left to it"
            ));
        }
    };
    let known = state.by_path.get(&entry.rel);
    let mut outcome = FileOutcome::of(entry, table, status)
        .detail(detail)
        .hash(known.map_or("", |p| p.file_hash.as_str()));
    outcome.failure = known.and_then(|p| p.error_kind);
    outcome
}
