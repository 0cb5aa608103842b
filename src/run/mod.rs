//! `ingest run`: lock the folder, read the manifest once, scan, decide per file, then ingest with a
//! reading thread and a writing task working side by side; the exit code is decided at the end.

pub mod dispose;
mod plan;
mod prepare;
mod report;
mod targets;

use crate::ch::ident::TableRef;
use crate::ch::{ChError, Server};
use crate::config::RunConfig;
use crate::crashes::Crashes;
use crate::exit::{Exit, Fatal};
use crate::formats::Limits;
use crate::manifest::{Manifest, State};
use crate::outcome::{FileOutcome, Status};
use crate::outcome::{RunReport, RunStart};
use crate::progress::Progress;
use crate::scan;
use crate::sink::Sink;
use anyhow::Context;
use plan::{Known, Plan};
use prepare::{Candidate, Prepare, Settings};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use targets::Targets;

pub use plan::is_known;
pub use report::print_report;

/// A short stable id for this data folder and manifest, used in query ids.
fn query_folder(folder: &str, cfg: &RunConfig) -> String {
    let key = format!("{folder}\n{}", cfg.common.manifest);
    blake3::hash(key.as_bytes()).to_hex()[..12].to_owned()
}

/// Ingests the data folder, whose id is `folder`. The caller holds the folder's lock (unless this
/// is a dry run) and has connected to `server`; `start` names and times the run.
pub async fn run(
    cfg: &RunConfig,
    server: Server,
    folder: &str,
    start: &RunStart,
    progress: &Progress,
) -> Result<RunReport, Fatal> {
    let mut session = Session::open(cfg, server, folder, &start.run_id).await?;
    let state = session.load_state().await?;
    let scanned_at = Instant::now();
    let found = session.scan(cfg)?;
    crate::failpoints::rendezvous("after-scan");
    let pass = PassOptions {
        scanned_at,
        settle: cfg.settle,
        quiet: false,
        stop: None,
    };
    let (mut report, _) = session.pass(cfg, state, found, progress, pass).await?;
    report.elapsed = start.instant.elapsed();
    Ok(report)
}

/// How one pass over files goes.
pub struct PassOptions {
    /// When the files were observed, and how long they must have stayed unchanged since.
    pub scanned_at: Instant,
    pub settle: Duration,
    /// Report only the files that were read (a watcher's cycles): not those known without
    /// reading, not ignored ones, and no warning about idle routes.
    pub quiet: bool,
    /// Set when the pass should stop after the work under way (a watcher asked to stop).
    pub stop: Option<Arc<AtomicBool>>,
}

/// A hold on the data folder and its manifest, opened once: `ingest run` makes one pass with
/// it, `ingest watch` one per cycle.
pub struct Session {
    pub server: Server,
    pub manifest: Manifest,
    /// Whether the manifest held anything when it was opened (a new one is not read).
    existed: bool,
    root: Arc<crate::folder::Folder>,
    crashes: Arc<Mutex<Crashes>>,
    folder: String,
}

impl Session {
    /// Checks the insert settings, opens (and unless this is a dry run, readies) the manifest,
    /// and opens the data folder.
    pub async fn open(
        cfg: &RunConfig,
        server: Server,
        folder: &str,
        run_id: &str,
    ) -> Result<Session, Fatal> {
        let mut manifest = Manifest::new(
            server.clone(),
            cfg.common.manifest.clone(),
            run_id.to_owned(),
            folder.to_owned(),
        );
        check_insert_settings(&server, cfg).await?;
        let existed = manifest.open().await?;
        if !cfg.dry_run {
            for created in manifest.ensure().await?.created {
                log::info!("created {created}");
            }
        }
        let root = Arc::new(
            crate::folder::Folder::open(&cfg.common.data_dir)
                .with_context(|| format!("cannot open {}", cfg.common.data_dir.display()))?,
        );
        Ok(Session {
            server,
            manifest,
            existed,
            root,
            crashes: Arc::new(Mutex::new(Crashes::open(&cfg.lock_file))),
            folder: folder.to_owned(),
        })
    }

    /// The latest state of every path of the folder (contents are read when a pass needs them).
    pub async fn load_state(&mut self) -> Result<State, Fatal> {
        if !self.existed {
            // A manifest made by this session holds only what it wrote: it is read from now on.
            self.existed = self.manifest.exists().await?;
            return Ok(State::default());
        }
        Ok(self.manifest.load_paths().await?)
    }

    pub fn root(&self) -> &Arc<crate::folder::Folder> {
        &self.root
    }

    /// Scans the whole data folder.
    pub fn scan(&self, cfg: &RunConfig) -> Result<scan::Scan, Fatal> {
        scan::scan(&self.root, &cfg.disposal.folders(), |rel, name| {
            cfg.routes.detect(rel, name)
        })
        .with_context(|| format!("cannot scan {}", cfg.common.data_dir.display()))
        .map_err(Fatal::from)
    }

    /// One pass over the files `found`: decide each against `state`, read and send what must
    /// be, record it. Returns what happened and the state (which a watcher keeps up to date).
    pub async fn pass(
        &mut self,
        cfg: &RunConfig,
        mut state: State,
        found: scan::Scan,
        progress: &Progress,
        opts: PassOptions,
    ) -> Result<(RunReport, State), Fatal> {
        let started = Instant::now();
        let mut outcomes: Vec<FileOutcome> = match opts.quiet {
            true => Vec::new(),
            false => found
                .ignored
                .iter()
                .map(|i| FileOutcome::new(&i.rel, Status::Ignored).detail(i.reason.clone()))
                .collect(),
        };
        let mut checks = Vec::new();
        let mut warnings = Vec::new();
        let routes = cfg.routes.describe();
        let mut route_hits = vec![0u64; routes.len()];
        let any_data = !found.files.is_empty();
        for entry in found.files {
            if let Some(i) = cfg.routes.route_index(&entry.rel) {
                route_hits[i] += 1;
            }
            let Some(table) = cfg.routes.table_for(&entry.rel) else {
                warnings.push(format!(
                    "{}: no route matches this data file and no --table is set",
                    entry.rel
                ));
                outcomes.push(
                    FileOutcome::new(&entry.rel, Status::Ignored)
                        .detail("no route matches it and no --table is set"),
                );
                continue;
            };
            let on_change = cfg.routes.on_change_for(&entry.rel);
            match plan::plan(&entry, &table.to_string(), &state, on_change) {
                Plan::Known(_) if opts.quiet => {}
                Plan::Known(known) => outcomes.push(known_outcome(&entry, table, known, &state)),
                Plan::Check { previous } => checks.push((entry, table.clone(), previous)),
            }
        }

        // Files stay in the folder: a route that matches none of them is most likely a typo.
        // (Files moved or deleted after ingestion leave routes idle between arrivals.)
        if any_data && !opts.quiet && cfg.disposal.after == crate::config::After::Keep {
            for (route, hits) in routes.iter().zip(&route_hits) {
                if *hits == 0 {
                    warnings.push(format!("route {route} matched no file in the data folder"));
                }
            }
        }

        if self.existed && !checks.is_empty() && !state.contents_loaded {
            self.manifest.load_contents(&mut state).await?;
        }
        let mut tables: BTreeMap<&TableRef, Vec<&scan::FileEntry>> = BTreeMap::new();
        for (entry, table, _) in &checks {
            tables.entry(table).or_default().push(entry);
        }
        let mut created = Vec::new();
        let mut refused = HashMap::new();
        let targets = Targets {
            server: &self.server,
            cfg,
            state: &state,
            crashes: &self.crashes,
        }
        .prepare(tables, &mut created, &mut refused)
        .await?;
        let candidates: Vec<Candidate> = checks
            .into_iter()
            .map(|(entry, table, previous)| Candidate {
                refused: refused.remove(&entry.rel),
                on_change: cfg.routes.on_change_for(&entry.rel),
                entry,
                target: targets[&table].clone(),
                previous: previous.map(Box::new),
            })
            .collect();
        let sent = self.send(cfg, state, candidates, progress, &opts).await?;
        let (sink_outcomes, stopped, state) = sent;
        outcomes.extend(sink_outcomes);
        outcomes.sort_by(|a, b| a.rel.cmp(&b.rel));
        if !cfg.dry_run && stopped.is_none() {
            let events = cfg
                .disposal
                .apply(&self.root, &self.manifest, &mut outcomes);
            if let Err(e) = self.manifest.write(&events).await {
                log::error!("cannot record {} quarantine events: {e}", events.len());
            }
        }
        let failing_warnings = cfg.fail_on_warning && !warnings.is_empty();
        let exit = exit_code(&outcomes, stopped.as_ref(), failing_warnings);
        let report = RunReport {
            run_id: self.manifest.run_id.clone(),
            dry_run: cfg.dry_run,
            outcomes,
            created,
            warnings,
            stopped: stopped.map(|e| e.to_string()),
            exit,
            elapsed: started.elapsed(),
        };
        Ok((report, state))
    }

    /// Reads the candidates on their own thread while their rows are sent here; the outcome of
    /// every candidate (those not reached too), why sending stopped if it did, and the state.
    async fn send(
        &self,
        cfg: &RunConfig,
        state: State,
        candidates: Vec<Candidate>,
        progress: &Progress,
        opts: &PassOptions,
    ) -> Result<(Vec<FileOutcome>, Option<ChError>, State), Fatal> {
        progress.start(
            candidates.len() as u64,
            candidates.iter().map(|c| c.entry.size).sum(),
        );
        let expected: Vec<(String, String)> = candidates
            .iter()
            .map(|c| (c.entry.rel.clone(), c.target.table.to_string()))
            .collect();
        let settings = Settings {
            batch_rows: cfg.batch_rows,
            insert_rows: cfg.insert_rows,
            settle: opts.settle,
            scanned_at: opts.scanned_at,
            limits: Limits::default(),
            policy: cfg.on_error,
            dry_run: cfg.dry_run,
            spill_dir: (!cfg.dry_run).then(|| cfg.common.data_dir.clone()),
        };
        let state = Arc::new(state);
        // One unit of work ahead: a coalesced group holds up to 16 MiB of rows.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let prepare = Prepare::new(
            settings,
            progress.clone(),
            state.clone(),
            self.manifest.clone(),
            tx,
            self.crashes.clone(),
        );
        let reader = crate::rows::spawn_reading("read", move || prepare.run(candidates))
            .context("cannot start the reading thread")?;
        let mut sender = Sink::new(
            self.server.clone(),
            self.manifest.clone(),
            cfg,
            &query_folder(&self.folder, cfg),
            progress.clone(),
            self.crashes.clone(),
        );
        sender.stop = opts.stop.clone();
        sender.run(rx).await;
        let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        let state = Arc::try_unwrap(state).unwrap_or_else(|shared| (*shared).clone());

        let seen: HashSet<&str> = sender.outcomes.iter().map(|o| o.rel.as_str()).collect();
        let mut missing = Vec::new();
        for (rel, table) in &expected {
            if !seen.contains(rel.as_str()) {
                let mut o = FileOutcome::new(rel, Status::Interrupted)
                    .detail("not reached: the run stopped early");
                o.table = table.clone();
                missing.push(o);
            }
        }
        let mut outcomes = sender.outcomes;
        outcomes.extend(missing);
        Ok((outcomes, sender.stopped, state))
    }
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

fn known_outcome(
    entry: &scan::FileEntry,
    table: &TableRef,
    known: Known,
    state: &State,
) -> FileOutcome {
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
    };
    let known = state.by_path.get(&entry.rel);
    let mut outcome = FileOutcome::of(entry, table, status)
        .detail(detail)
        .hash(known.map_or("", |p| p.file_hash.as_str()));
    outcome.failure = known.and_then(|p| p.error_kind);
    outcome
}
