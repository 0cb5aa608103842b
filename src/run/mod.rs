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
use crate::config::RunConfig;
use crate::crashes::Crashes;
use crate::exit::{Exit, Fatal};
use crate::folder::Folder;
use crate::manifest::{Manifest, PathState, State};
use crate::outcome::{FileOutcome, RunReport, RunStart, Status};
use crate::progress::Progress;
use crate::rows::target::RunStamp;
use crate::scan::FileEntry;
use crate::sink::Sink;
use crate::sink::work::Work;
use anyhow::Context;
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
    let mut session = Session::open(cfg, server, folder, &start.run_id, peers).await?;
    let state = session.load_state().await?;
    let survey = survey::survey(cfg, &session.root, &state)?;
    let opts = PassOptions {
        settle: cfg.settle,
        stop: None,
    };
    let (mut report, _) = session.pass(cfg, state, survey, progress, opts).await?;
    report.elapsed = start.instant.elapsed();
    Ok(report)
}

/// How one pass over files goes.
pub struct PassOptions {
    /// How long files must have stayed unchanged since they were observed.
    pub settle: Duration,
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
    root: Arc<Folder>,
    crashes: Arc<Mutex<Crashes>>,
    folder: String,
    peers: Peers,
}

impl Session {
    /// Checks the insert settings, opens (and unless this is a dry run, readies) the manifest,
    /// and opens the data folder.
    pub async fn open(
        cfg: &RunConfig,
        server: Server,
        folder: &str,
        run_id: &str,
        peers: Peers,
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
            Folder::open(&cfg.common.data_dir)
                .with_context(|| format!("cannot open {}", cfg.common.data_dir.display()))?,
        );
        Ok(Session {
            server,
            manifest,
            existed,
            root,
            crashes: Arc::new(Mutex::new(Crashes::open(&cfg.lock_file))),
            folder: folder.to_owned(),
            peers,
        })
    }

    /// The latest state of every path of the folder (contents are read when a pass needs them).
    pub async fn load_state(&mut self) -> Result<State, Fatal> {
        if !self.existed {
            // A manifest this session made holds only what it wrote: it is read from now on.
            self.existed = self.manifest.exists().await?;
            return Ok(State {
                live_runs: self.peers.live_runs.clone(),
                ..State::default()
            });
        }
        self.manifest.catch_up().await?;
        let mut state = self.manifest.load_paths().await?;
        state.live_runs = self.peers.live_runs.clone();
        Ok(state)
    }

    pub fn root(&self) -> &Arc<Folder> {
        &self.root
    }

    /// Scans the whole data folder, as a run's survey does.
    pub fn scan(&self, cfg: &RunConfig) -> Result<crate::scan::Scan, Fatal> {
        crate::scan::scan(&self.root, &cfg.disposal.folders(), |rel, name| {
            cfg.routes.recognise(rel, name)
        })
        .with_context(|| format!("cannot scan {}", cfg.common.data_dir.display()))
        .map_err(Fatal::from)
    }

    /// A watcher's cycle: a pass over `files`, which it saw change and settle. Only what was
    /// read is reported.
    pub async fn pass_over(
        &mut self,
        cfg: &RunConfig,
        state: State,
        files: Vec<FileEntry>,
        opts: PassOptions,
    ) -> Result<(RunReport, State), Fatal> {
        let survey = survey::of_files(cfg, files, &state);
        self.pass(cfg, state, survey, &Progress::default(), opts)
            .await
    }

    /// One pass over what the survey found: ready the tables, read and send what must be, dispose
    /// of the files, decide the exit code. Returns what happened and the state, kept up to date
    /// by the events written when the manifest keeps a journal.
    async fn pass(
        &mut self,
        cfg: &RunConfig,
        mut state: State,
        survey: survey::Survey,
        progress: &Progress,
        opts: PassOptions,
    ) -> Result<(RunReport, State), Fatal> {
        let started = Instant::now();
        if self.existed && !survey.checks.is_empty() && !state.contents_loaded {
            self.manifest.load_contents(&mut state).await?;
        }
        let mut ddl = Ddl::default();
        let stamp = RunStamp {
            run_id: Arc::from(self.manifest.stamp.run_id.as_str()),
            started_ns: i128::from(chrono::Utc::now().timestamp()) * 1_000_000_000,
        };
        let candidates = candidates(
            cfg,
            &self.server,
            (&state, &self.crashes, stamp),
            survey.checks,
            &mut ddl,
        )
        .await?;
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
        let state = Arc::new(state);
        let reading = Prepare::new(
            settings(cfg, survey.scanned_at, opts.settle),
            progress.clone(),
            state.clone(),
            self.manifest.stamp.clone(),
            tx,
            self.crashes.clone(),
        );
        let mut sink = Sink::new(
            self.server.clone(),
            self.manifest.clone(),
            cfg,
            &query_folder(&self.folder, cfg),
            progress.clone(),
            self.crashes.clone(),
            self.peers.claims.clone(),
        );
        sink.stop = opts.stop;
        ingest(reading, candidates, rx, &mut sink).await?;
        let mut state = Arc::try_unwrap(state).unwrap_or_else(|shared| (*shared).clone());
        let mut outcomes = survey.outcomes;
        outcomes.extend(std::mem::take(&mut sink.outcomes));
        outcomes.extend(not_reached(&expected, &outcomes));
        outcomes.sort_by(|a, b| a.rel.cmp(&b.rel));
        if !cfg.dry_run && sink.stopped.is_none() {
            let events = cfg
                .disposal
                .apply(&self.root, &self.manifest, &mut outcomes);
            if let Err(e) = self.manifest.write(&events).await {
                log::error!("cannot record {} quarantine events: {e}", events.len());
            }
        }
        state.apply(&self.manifest.take_journal());
        let failing_warnings = cfg.fail_on_warning && !survey.warnings.is_empty();
        let exit = exit_code(&outcomes, sink.stopped.as_ref(), failing_warnings);
        let report = RunReport {
            run_id: self.manifest.stamp.run_id.clone(),
            dry_run: cfg.dry_run,
            outcomes,
            created: ddl.created,
            altered: ddl.altered,
            warnings: survey.warnings,
            stopped: sink.stopped.map(|e| e.to_string()),
            exit,
            elapsed: started.elapsed(),
        };
        Ok((report, state))
    }
}

/// The statements that readied the tables (in a dry run: that would), by table.
#[derive(Debug, Default)]
struct Ddl {
    created: Vec<(String, String)>,
    altered: Vec<(String, String)>,
}

/// The files to read, each with its table ready (and the `CREATE TABLE`s and `ALTER TABLE`s run
/// to make them so).
async fn candidates(
    cfg: &RunConfig,
    server: &Server,
    (state, crashes, stamp): (&State, &Arc<Mutex<Crashes>>, RunStamp),
    checks: Vec<(FileEntry, TableRef, Option<Box<PathState>>)>,
    ddl: &mut Ddl,
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
        stamp,
    }
    .prepare(tables, &mut ddl.created, &mut ddl.altered, &mut refused)
    .await?;
    Ok(checks
        .into_iter()
        .map(|(entry, table, previous)| Candidate {
            refused: refused.remove(&entry.rel),
            on_change: cfg.routes.on_change_for(&entry.rel),
            entry,
            target: targets[&table].clone(),
            previous,
        })
        .collect())
}

fn settings(cfg: &RunConfig, scanned_at: Instant, settle: Duration) -> Settings {
    Settings {
        batch_rows: cfg.batch_rows,
        insert_rows: cfg.insert_rows,
        settle,
        scanned_at,
        limits: cfg.limits(),
        policy: cfg.on_error,
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
