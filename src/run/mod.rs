//! One run over the data folder: read the manifest once, survey the folder, ready the target
//! tables, then ingest with a reading thread (`prepare`) and the writing side (`sink`) working side
//! by side; dispose of the files and decide the exit code at the end.

pub mod dispose;
mod plan;
mod prepare;
mod report;
mod survey;
mod targets;

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use crate::config::{OnChange, RunConfig};
use crate::crashes::Crashes;
use crate::exit::{Exit, Fatal};
use crate::folder::Folder;
use crate::formats::Limits;
use crate::manifest::{Manifest, PathState, State};
use crate::outcome::{FileOutcome, RunReport, RunStart, Status};
use crate::progress::Progress;
use crate::scan::FileEntry;
use crate::sink::Sink;
use crate::sink::work::Work;
use anyhow::Context;
use prepare::{Candidate, Prepare, Settings};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use targets::Targets;

pub use report::print_report;

/// A short stable id for this data folder and manifest, used in query ids.
fn query_folder(folder: &str, cfg: &RunConfig) -> String {
    let key = format!("{folder}\n{}", cfg.common.manifest);
    blake3::hash(key.as_bytes()).to_hex()[..12].to_owned()
}

/// Other runs on the folder, on other hosts (with `--coordination`).
#[derive(Debug, Default)]
pub struct Peers {
    /// Runs alive now: files they claimed are left to them.
    pub live_runs: HashSet<String>,
    /// Where content is claimed before it is sent, when runs of other shards work at once.
    pub claims: Option<crate::coord::Claims>,
}

/// Ingests the data folder, whose id is `folder`. The caller holds the folder's lock (unless this
/// is a dry run) and has connected to `server`; `start` names and times the run; `peers` are the
/// runs on other hosts.
pub async fn run(
    cfg: &RunConfig,
    server: Server,
    folder: &str,
    start: &RunStart,
    progress: &Progress,
    peers: Peers,
) -> Result<RunReport, Fatal> {
    let (manifest, exists, mut state) = open_manifest(cfg, &server, folder, start).await?;
    state.live_runs = peers.live_runs;
    let crashes = Arc::new(Mutex::new(Crashes::open(&cfg.lock_file)));
    let root = Arc::new(
        Folder::open(&cfg.common.data_dir)
            .with_context(|| format!("cannot open {}", cfg.common.data_dir.display()))?,
    );
    let survey = survey::survey(cfg, &root, &state)?;
    if exists && !survey.checks.is_empty() {
        manifest.load_contents(&mut state).await?;
    }
    let mut created = Vec::new();
    let candidates =
        candidates(cfg, &server, &state, &crashes, survey.checks, &mut created).await?;
    progress.start(
        candidates.len() as u64,
        candidates.iter().map(|c| c.entry.size).sum(),
    );
    let expected: Vec<(String, String)> = candidates
        .iter()
        .map(|c| (c.entry.rel.clone(), c.target.table.to_string()))
        .collect();
    // One unit of work ahead: a coalesced group holds up to 16 MiB of rows.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let reading = Prepare::new(
        settings(cfg, survey.scanned_at),
        progress.clone(),
        Arc::new(state),
        manifest.clone(),
        tx,
        crashes.clone(),
    );
    let mut sink = Sink::new(
        server,
        manifest.clone(),
        cfg,
        &query_folder(folder, cfg),
        progress.clone(),
        crashes,
        peers.claims,
    );
    ingest(reading, candidates, rx, &mut sink).await?;
    let mut outcomes = survey.outcomes;
    outcomes.extend(std::mem::take(&mut sink.outcomes));
    outcomes.extend(not_reached(&expected, &outcomes));
    outcomes.sort_by(|a, b| a.rel.cmp(&b.rel));
    if !cfg.dry_run && sink.stopped.is_none() {
        let events = cfg.disposal.apply(&root, &manifest, &mut outcomes);
        if let Err(e) = manifest.write(&events).await {
            log::error!("cannot record {} quarantine events: {e}", events.len());
        }
    }
    let failing_warnings = cfg.fail_on_warning && !survey.warnings.is_empty();
    let exit = exit_code(&outcomes, sink.stopped.as_ref(), failing_warnings);
    Ok(RunReport {
        run_id: manifest.run_id.clone(),
        dry_run: cfg.dry_run,
        outcomes,
        created,
        warnings: survey.warnings,
        stopped: sink.stopped.map(|e| e.to_string()),
        exit,
        elapsed: start.instant.elapsed(),
    })
}

/// The manifest (created where missing, unless this is a dry run), whether it existed, and the
/// latest state of every path.
async fn open_manifest(
    cfg: &RunConfig,
    server: &Server,
    folder: &str,
    start: &RunStart,
) -> Result<(Manifest, bool, State), Fatal> {
    let mut manifest = Manifest::new(
        server.clone(),
        cfg.common.manifest.clone(),
        start.run_id.clone(),
        folder.to_owned(),
    );
    check_insert_settings(server, cfg).await?;
    let exists = manifest.open().await?;
    if !cfg.dry_run {
        for created in manifest.ensure().await?.created {
            log::info!("created {created}");
        }
    }
    if exists {
        manifest.catch_up().await?;
    }
    let state = match exists {
        true => manifest.load_paths().await?,
        false => State::default(),
    };
    Ok((manifest, exists, state))
}

/// The files to read, each with its table ready (and the `CREATE TABLE`s run to make them).
async fn candidates(
    cfg: &RunConfig,
    server: &Server,
    state: &State,
    crashes: &Arc<Mutex<Crashes>>,
    checks: Vec<(FileEntry, TableRef, Option<Box<PathState>>)>,
    created: &mut Vec<(String, String)>,
) -> Result<Vec<Candidate>, Fatal> {
    let mut tables: BTreeMap<&TableRef, Vec<&FileEntry>> = BTreeMap::new();
    for (entry, table, _) in &checks {
        tables.entry(table).or_default().push(entry);
    }
    let mut refused = HashMap::new();
    let targets = Targets {
        server,
        cfg,
        state,
        crashes,
    }
    .prepare(tables, created, &mut refused)
    .await?;
    Ok(checks
        .into_iter()
        .map(|(entry, table, previous)| Candidate {
            refused: refused.remove(&entry.rel),
            entry,
            target: targets[&table].clone(),
            previous,
        })
        .collect())
}

fn settings(cfg: &RunConfig, scanned_at: Instant) -> Settings {
    Settings {
        batch_rows: cfg.batch_rows,
        insert_rows: cfg.insert_rows,
        settle: cfg.settle,
        scanned_at,
        limits: Limits::default(),
        policy: cfg.on_error,
        ingest_changed: cfg.on_change == OnChange::Ingest,
        dry_run: cfg.dry_run,
        spill_dir: (!cfg.dry_run).then(|| cfg.common.data_dir.clone()),
    }
}

/// Reads the candidates on a thread of their own while the sink writes what it is handed.
async fn ingest(
    reading: Prepare,
    candidates: Vec<Candidate>,
    rx: tokio::sync::mpsc::Receiver<Work>,
    sink: &mut Sink,
) -> Result<(), Fatal> {
    let reader = crate::rows::spawn_reading("read", move || reading.run(candidates))
        .context("cannot start the reading thread")?;
    sink.run(rx).await;
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    Ok(())
}

/// Files the run meant to read but never finished: it stopped early.
fn not_reached(expected: &[(String, String)], outcomes: &[FileOutcome]) -> Vec<FileOutcome> {
    let seen: HashSet<&str> = outcomes.iter().map(|o| o.rel.as_str()).collect();
    expected
        .iter()
        .filter(|(rel, _)| !seen.contains(rel.as_str()))
        .map(|(rel, table)| {
            let mut o = FileOutcome::new(rel, Status::Interrupted)
                .detail("not reached: the run stopped early");
            o.table = table.clone();
            o
        })
        .collect()
}

/// Every `--insert-setting` must be one the server knows, before anything is inserted.
async fn check_insert_settings(server: &Server, cfg: &RunConfig) -> Result<(), Fatal> {
    let unknown = server
        .unknown_settings(&cfg.routes.insert_setting_names())
        .await?;
    match unknown.first() {
        None => Ok(()),
        Some(name) => Err(Fatal::config(format!(
            "--insert-setting: ClickHouse {} has no setting `{name}`",
            server.caps.version
        ))),
    }
}

fn exit_code(outcomes: &[FileOutcome], stopped: Option<&ChError>, failing_warnings: bool) -> Exit {
    if let Some(e) = stopped {
        return if e.is_unreachable() {
            Exit::Unreachable
        } else {
            Exit::Config
        };
    }
    let any = |s: Status| outcomes.iter().any(|o| o.status == s);
    if any(Status::Failed) || failing_warnings {
        Exit::FilesFailed
    } else if any(Status::Changed) {
        Exit::Changed
    } else {
        Exit::Ok
    }
}
