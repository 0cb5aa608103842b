//! `ingest run`: lock the folder, read the manifest once, scan, decide per file, then ingest with a
//! reading thread and a writing task working side by side; the exit code is decided at the end.

pub mod dispose;
mod plan;
mod prepare;
mod report;

use crate::ch::ident::TableRef;
use crate::ch::schema::TableSchema;
use crate::ch::{ChError, Server};
use crate::config::RunConfig;
use crate::crashes::Crashes;
use crate::exit::{Exit, Fatal};
use crate::formats::Limits;
use crate::manifest::{Manifest, State};
use crate::outcome::{FileOutcome, Status};
use crate::outcome::{RunReport, RunStart};
use crate::progress::Progress;
use crate::rows::target::Target;
use crate::scan;
use crate::sink::Sink;
use anyhow::Context;
use plan::{Known, Plan};
use prepare::{Candidate, Prepare, Refusal, Settings};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    let started = start.instant;
    let mut manifest = Manifest::new(
        server.clone(),
        cfg.common.manifest.clone(),
        start.run_id.clone(),
        folder.to_owned(),
    );
    check_insert_settings(&server, cfg).await?;
    let manifest_exists = manifest.open().await?;
    if !cfg.dry_run {
        for created in manifest.ensure().await?.created {
            log::info!("created {created}");
        }
    }
    let mut state = if manifest_exists {
        manifest.load_paths().await?
    } else {
        State::default()
    };

    let crashes = Arc::new(Mutex::new(Crashes::open(&cfg.lock_file)));
    let root = Arc::new(
        crate::folder::Folder::open(&cfg.common.data_dir)
            .with_context(|| format!("cannot open {}", cfg.common.data_dir.display()))?,
    );
    let scanned_at = Instant::now();
    let found = scan::scan(&root, &cfg.disposal.folders(), |rel, name| {
        cfg.routes.detect(rel, name)
    })
    .with_context(|| format!("cannot scan {}", cfg.common.data_dir.display()))?;
    crate::failpoints::rendezvous("after-scan");
    let mut outcomes: Vec<FileOutcome> = found
        .ignored
        .iter()
        .map(|i| FileOutcome::new(&i.rel, Status::Ignored).detail(i.reason.clone()))
        .collect();
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
        match plan::plan(
            &entry,
            &table.to_string(),
            &state,
            cfg.on_change == crate::config::OnChange::Ingest,
        ) {
            Plan::Known(known) => outcomes.push(known_outcome(&entry, table, known, &state)),
            Plan::Check { previous } => checks.push((entry, table.clone(), previous.map(Box::new))),
        }
    }

    // Files stay in the folder: a route that matches none of them is most likely a typo. (Files
    // moved or deleted after ingestion leave routes idle between arrivals.)
    if any_data && cfg.disposal.after == crate::config::After::Keep {
        for (route, hits) in routes.iter().zip(&route_hits) {
            if *hits == 0 {
                warnings.push(format!("route {route} matched no file in the data folder"));
            }
        }
    }

    if manifest_exists && !checks.is_empty() {
        manifest.load_contents(&mut state).await?;
    }
    let mut tables: BTreeMap<&TableRef, Vec<&scan::FileEntry>> = BTreeMap::new();
    for (entry, table, _) in &checks {
        tables.entry(table).or_default().push(entry);
    }
    let mut created = Vec::new();
    let mut refused = HashMap::new();
    let targets = Targets {
        server: &server,
        cfg,
        state: &state,
        crashes: &crashes,
    }
    .prepare(tables, &mut created, &mut refused)
    .await?;
    let candidates: Vec<Candidate> = checks
        .into_iter()
        .map(|(entry, table, previous)| Candidate {
            refused: refused.remove(&entry.rel),
            entry,
            target: targets[&table].clone(),
            previous,
        })
        .collect();
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
        settle: cfg.settle,
        scanned_at,
        limits: Limits::default(),
        policy: cfg.on_error,
        ingest_changed: cfg.on_change == crate::config::OnChange::Ingest,
        dry_run: cfg.dry_run,
        spill_dir: (!cfg.dry_run).then(|| cfg.common.data_dir.clone()),
    };
    // One unit of work ahead: a coalesced group holds up to 16 MiB of rows.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let prepare = Prepare::new(
        settings,
        progress.clone(),
        Arc::new(state),
        manifest.clone(),
        tx,
        crashes.clone(),
    );
    let reader = crate::rows::spawn_reading("read", move || prepare.run(candidates))
        .context("cannot start the reading thread")?;
    let mut sender = Sink::new(
        server,
        manifest.clone(),
        cfg,
        &query_folder(folder, cfg),
        progress.clone(),
        crashes,
    );
    sender.run(rx).await;
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;

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
    outcomes.extend(sender.outcomes);
    outcomes.extend(missing);
    outcomes.sort_by(|a, b| a.rel.cmp(&b.rel));
    if !cfg.dry_run && sender.stopped.is_none() {
        let events = cfg.disposal.apply(&root, &manifest, &mut outcomes);
        if let Err(e) = manifest.write(&events).await {
            log::error!("cannot record {} quarantine events: {e}", events.len());
        }
    }
    let failing_warnings = cfg.fail_on_warning && !warnings.is_empty();
    let exit = exit_code(&outcomes, sender.stopped.as_ref(), failing_warnings);
    Ok(RunReport {
        run_id: manifest.run_id.clone(),
        dry_run: cfg.dry_run,
        outcomes,
        created,
        warnings,
        stopped: sender.stopped.map(|e| e.to_string()),
        exit,
        elapsed: started.elapsed(),
    })
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

/// What loading the target tables needs.
struct Targets<'a> {
    server: &'a Server,
    cfg: &'a RunConfig,
    state: &'a State,
    crashes: &'a Arc<Mutex<Crashes>>,
}

impl Targets<'_> {
    /// Loads each target table (creating a missing one where configured), adding provenance
    /// columns where missing (and saying so). Files that cannot go in (their fields cannot
    /// become columns, or no table could be made from the files) are `refused`, each with why.
    async fn prepare(
        &self,
        tables: BTreeMap<&TableRef, Vec<&scan::FileEntry>>,
        created: &mut Vec<(String, String)>,
        refused: &mut HashMap<String, Refusal>,
    ) -> Result<BTreeMap<TableRef, Arc<Target>>, Fatal> {
        let mut targets = BTreeMap::new();
        for (table, files) in tables {
            let target = match TableSchema::load(self.server, table).await? {
                Some(schema) => self.target(schema, false).await?,
                None => match self.create(table, files, refused).await? {
                    Some((schema, sql)) => {
                        created.push((table.to_string(), sql));
                        self.target(schema, true).await?
                    }
                    // Every file of the table is refused: a table with no column stands in.
                    None => Target::new(TableSchema::empty(table), self.server.caps.timezone),
                },
            };
            targets.insert(table.clone(), Arc::new(target));
        }
        Ok(targets)
    }

    /// Creates a missing table from its files where configured; `None` when the files give no
    /// table (each of them then refused).
    async fn create(
        &self,
        table: &TableRef,
        files: Vec<&scan::FileEntry>,
        refused: &mut HashMap<String, Refusal>,
    ) -> Result<Option<(TableSchema, String)>, Fatal> {
        let Some(spec) = self.cfg.routes.create_for(table) else {
            return Err(Fatal::config(format!(
                "target table {table} does not exist; create it first, or pass \
                 --create-table to create it from its files"
            )));
        };
        let rels: Vec<String> = files.iter().map(|f| f.rel.clone()).collect();
        let files = files.into_iter().cloned().collect();
        let made = crate::infer::create_table(
            self.server,
            table,
            files,
            &spec,
            self.cfg.dry_run,
            self.cfg.max_columns,
            self.crashes.clone(),
        )
        .await?;
        for (rel, why) in made.refused {
            let reason = format!("{rel}: {why}");
            refused.insert(rel, Refusal::data(reason));
        }
        match made.created {
            Ok(c) => Ok(Some((c.schema, c.sql))),
            Err(why) => {
                log::warn!("{why}");
                for rel in rels {
                    refused
                        .entry(rel.clone())
                        .or_insert_with(|| Refusal::transient(format!("{rel}: {why}")));
                }
                Ok(None)
            }
        }
    }

    async fn target(&self, mut schema: TableSchema, new: bool) -> Result<Target, Fatal> {
        let (server, cfg) = (self.server, self.cfg);
        let table = &schema.table.clone();
        if !schema.has_provenance() {
            if !cfg.add_provenance {
                log::warn!(
                    "table {table} has no provenance columns (--without-provenance): ingestion \
                     into it is at-least-once"
                );
            } else if cfg.dry_run {
                log::warn!(
                    "table {table} has no provenance columns; a run would add them \
                     (ALTER TABLE ADD COLUMN, metadata only)"
                );
            } else {
                schema.add_provenance(server).await?;
                log::warn!(
                    "added provenance columns {} and {} to table {table}",
                    crate::ch::schema::PROVENANCE_FILE,
                    crate::ch::schema::PROVENANCE_ROW
                );
            }
        }
        let schema_has_provenance = schema.has_provenance();
        let recovery = !new
            && schema_has_provenance
            && !self.state.tables.contains(&table.to_string())
            && server.has_provenance_rows(table).await?;
        if recovery {
            log::warn!(
                "the manifest has no record of table {table}, which holds ingested rows; \
                 checking every file against the table before sending it"
            );
        }
        let defaults = schema.constant_defaults(server).await?;
        let mut target = Target::new(schema, server.caps.timezone).with_defaults(&defaults);
        target.recovery = recovery;
        target.provenance = schema_has_provenance;
        target.insert_settings = cfg.routes.insert_settings_for(table).clone();
        target.one_pass = schema_has_provenance
            && target.schema.rows_can_be_taken_back()
            && !recovery
            && !cfg.check_first
            && !cfg.dry_run;
        Ok(target)
    }
}
