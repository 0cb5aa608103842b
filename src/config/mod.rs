//! One validated config per command, built from flags, environment and the config file (merged
//! once, in `layered`); everything a command needs is checked here, before any work starts. The
//! config imports nothing from the run: the choices it hands over are its own types.

mod choices;
pub mod cli;
mod file;
pub mod flags;
mod hosts;
mod layered;
mod policies;
pub mod reading;
mod reading_flags;
mod routes;
mod settings;
pub mod state_flags;
mod urls;
mod watch;

pub use choices::{After, Disposal, ErrorPolicy, OnChange, Output, WatcherKind};
pub use layered::parse;
pub use routes::{RouteDefaults, Routes};
pub use watch::WatchConfig;

use crate::ch::ident::{TableRef, check_name};
use crate::ch::{ConnectOptions, RetryPolicy};
use crate::coord::{Coordination, Shard};
use crate::exit::Fatal;
use file::FileConfig;
use flags::{CommonArgs, InitArgs, RunArgs};
use policies::{disposal, error_policy};
use state_flags::{LockArgs, StatusArgs, VerifyArgs};
use std::path::{Path, PathBuf};
use std::time::Duration;
use urls::check_url;

pub const DEFAULT_URL: &str = "http://localhost:8123";
/// Keeps every batch inside one ClickHouse insert block (`max_insert_block_size` is 1,048,576).
pub const MAX_BATCH_ROWS: u64 = 1_000_000;
pub const DEFAULT_MANIFEST: &str = "ingest_manifest";

/// Settings every command shares.
#[derive(Debug, Clone)]
pub struct Common {
    pub data_dir: PathBuf,
    pub connect: ConnectOptions,
    pub database: String,
    pub manifest: TableRef,
    /// The data folder's id when configured (else it comes from the folder: see `folder_id`).
    pub folder_id: Option<String>,
}

/// Settings for `ingest run`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub common: Common,
    pub routes: Routes,
    pub batch_rows: u64,
    /// Rows one INSERT carries at most (whole batches; at least one batch).
    pub insert_rows: u64,
    /// Threads that read, check and encode files.
    pub jobs: usize,
    /// Every large file is read through before any of its rows is sent.
    pub check_first: bool,
    pub settle: Duration,
    pub lock_file: PathBuf,
    pub dry_run: bool,
    pub on_error: ErrorPolicy,
    pub disposal: Disposal,
    /// Add provenance columns to target tables that lack them (the exactly-once default).
    pub add_provenance: bool,
    pub output: Output,
    pub metrics_file: Option<PathBuf>,
    /// Warnings (unrouted files, idle routes) fail the run.
    pub fail_on_warning: bool,
    /// Most columns `--create-table` gives a table.
    pub max_columns: usize,
    /// The cluster lock's home, when runs on several hosts share the folder (else the lock file).
    pub coordination: Option<Coordination>,
    /// The files this host takes, when several share the folder.
    pub shard: Option<Shard>,
}

/// Settings for `ingest retry` and `ingest forget`, which change state a run relies on.
#[derive(Debug, Clone)]
pub struct ManageConfig {
    pub common: Common,
    pub lock_file: PathBuf,
    /// The cluster lock's home, when runs on several hosts share the folder (else the lock file).
    pub coordination: Option<Coordination>,
}

impl ManageConfig {
    pub fn build(args: &CommonArgs, lock: &LockArgs) -> Result<ManageConfig, Fatal> {
        let mut common = Common::build(args)?;
        common.data_dir = common.existing_data_dir()?;
        let lock_file = lock
            .lock_file
            .clone()
            .unwrap_or_else(|| common.data_dir.join(".ingest.lock"));
        let coordination = hosts::coordination(lock.coordination.as_deref())?;
        Ok(ManageConfig {
            common,
            lock_file,
            coordination,
        })
    }
}

/// Settings for `ingest status`.
#[derive(Debug, Clone)]
pub struct StatusConfig {
    pub common: Common,
    pub limit: u64,
    pub output: Output,
}

/// Settings for `ingest verify`.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub common: Common,
    pub output: Output,
}

/// Settings for `ingest init`.
#[derive(Debug, Clone)]
pub struct InitConfig {
    pub common: Common,
    /// The target tables the config names (`--table` and routes), in order, without repeats,
    /// each with whether a run may create it (`--create-table`).
    pub targets: Vec<(TableRef, bool)>,
}

/// The config file's routes and insert settings (its flag values are merged in `layered`).
fn load_file(args: &CommonArgs) -> Result<FileConfig, Fatal> {
    match &args.config {
        Some(path) => FileConfig::load(path).map_err(Fatal::Config),
        None => Ok(FileConfig::default()),
    }
}

impl Common {
    fn build(args: &CommonArgs) -> Result<Common, Fatal> {
        let mut local = true;
        for url in &args.url {
            local &= check_url(url, args.allow_insecure_http)?;
        }
        if args.url.is_empty() {
            return Err(Fatal::config("--url: give at least one"));
        }
        check_name(&args.database).map_err(|e| Fatal::config(format!("--database: {e}")))?;
        if let Some(c) = &args.cluster {
            check_name(c).map_err(|e| Fatal::config(format!("--cluster: {e}")))?;
        }
        let manifest = TableRef::parse(&args.manifest_table, &args.database)
            .map_err(|e| Fatal::config(format!("--manifest-table: {e}")))?;
        if let Some(id) = &args.folder_id {
            crate::folder_id::check(id).map_err(|e| Fatal::config(format!("--folder-id: {e}")))?;
        }
        Ok(Common {
            data_dir: args.data_dir.clone(),
            connect: ConnectOptions {
                urls: args.url.clone(),
                user: args.user.clone(),
                password: args.password.clone(),
                query_timeout: args.timeout,
                insert_timeout: args.timeout,
                // Compressing costs more CPU than it saves when the server is on this machine.
                compress: !local,
                retry: RetryPolicy {
                    retries: args.retries,
                    base_delay: Duration::from_millis(250),
                    max_delay: Duration::from_secs(15),
                },
                cluster: args.cluster.clone(),
            },
            database: args.database.clone(),
            manifest,
            folder_id: args.folder_id.clone(),
        })
    }

    /// The data folder, which must exist, made absolute.
    fn existing_data_dir(&self) -> Result<PathBuf, Fatal> {
        let dir = &self.data_dir;
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => dir
                .canonicalize()
                .map_err(|e| Fatal::config(format!("data folder {}: {e}", dir.display()))),
            Ok(_) => Err(Fatal::config(format!(
                "data folder {} is not a folder",
                dir.display()
            ))),
            Err(e) => Err(Fatal::config(format!("data folder {}: {e}", dir.display()))),
        }
    }
}

impl RunConfig {
    pub fn build(args: &RunArgs) -> Result<RunConfig, Fatal> {
        let file = load_file(&args.common)?;
        let mut common = Common::build(&args.common)?;
        let given_data_dir = common.data_dir.clone();
        common.data_dir = common.existing_data_dir()?;
        let default_table = args
            .table
            .as_ref()
            .map(|t| TableRef::parse(t, &common.database))
            .transpose()
            .map_err(|e| Fatal::config(format!("--table: {e}")))?;
        let insert_settings = match (&args.insert_settings[..], &file.insert_settings) {
            ([], Some(table)) => settings::from_table(table),
            (flags, _) => settings::from_flags(flags),
        }
        .map_err(|e| Fatal::config(format!("--insert-setting: {e}")))?;
        let defaults = RouteDefaults {
            format: args.format,
            create_table: args.create_table,
            engine: args.engine.clone(),
            order_by: args.order_by.clone(),
            insert_settings,
            on_change: args.on_change,
            reading: reading::ReadingConfig::from_flags(&args.reading),
        };
        let routes = Routes::build(&file.routes, default_table, &common.database, &defaults)
            .map_err(Fatal::Config)?;

        let disposal = disposal(args, &given_data_dir, &common.data_dir)?;
        if let Some(path) = &args.metrics_file {
            check_metrics_file(path)?;
        }
        let (coordination, shard, lock_name) = hosts::of_run(args)?;
        let lock_file = args
            .lock_file
            .clone()
            .unwrap_or_else(|| common.data_dir.join(lock_name));
        Ok(RunConfig {
            common,
            routes,
            batch_rows: args.batch_rows,
            insert_rows: args.insert_rows,
            jobs: args.jobs.map_or_else(machine_cores, |j| j as usize),
            check_first: args.check_first,
            settle: args.settle,
            lock_file,
            dry_run: args.dry_run,
            on_error: error_policy(args)?,
            disposal,
            add_provenance: !args.without_provenance,
            output: args.output,
            metrics_file: args.metrics_file.clone(),
            fail_on_warning: args.fail_on_warning,
            max_columns: usize::try_from(args.max_columns).unwrap_or(usize::MAX),
            coordination,
            shard,
        })
    }
}

impl RunConfig {
    /// The bounds on reading files, and how many threads read one.
    pub fn limits(&self) -> crate::formats::Limits {
        crate::formats::Limits {
            jobs: self.jobs,
            ..Default::default()
        }
    }
}

/// The cores this process may run on: the default number of jobs.
fn machine_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `--json` is short for `--output json`.
fn output(output: Output, json: bool) -> Output {
    match json {
        true => Output::Json,
        false => output,
    }
}

impl StatusConfig {
    pub fn build(args: &StatusArgs) -> Result<StatusConfig, Fatal> {
        Ok(StatusConfig {
            common: Common::build(&args.common)?,
            limit: args.limit,
            output: output(args.output, args.json),
        })
    }
}

impl VerifyConfig {
    pub fn build(args: &VerifyArgs) -> Result<VerifyConfig, Fatal> {
        Ok(VerifyConfig {
            common: Common::build(&args.common)?,
            output: output(args.output, args.json),
        })
    }
}

impl InitConfig {
    pub fn build(args: &InitArgs) -> Result<InitConfig, Fatal> {
        let file = load_file(&args.common)?;
        let common = Common::build(&args.common)?;
        let create_all = args.create_table;
        let mut specs: Vec<(&String, bool)> = args.table.iter().map(|t| (t, create_all)).collect();
        specs.extend(
            file.routes
                .iter()
                .map(|r| (&r.table, r.create_table.unwrap_or(create_all))),
        );
        let mut targets: Vec<(TableRef, bool)> = Vec::new();
        for (spec, create) in specs {
            let table = TableRef::parse(spec, &common.database)
                .map_err(|e| Fatal::config(format!("target table: {e}")))?;
            match targets.iter_mut().find(|(t, _)| *t == table) {
                Some((_, c)) => *c |= create,
                None => targets.push((table, create)),
            }
        }
        Ok(InitConfig { common, targets })
    }
}

/// The metrics file is written after the run; a folder that is not there is a setup mistake
/// better reported before anything is ingested.
fn check_metrics_file(path: &Path) -> Result<(), Fatal> {
    let bad = |why: String| Fatal::config(format!("--metrics-file {}: {why}", path.display()));
    if path.file_name().is_none() {
        return Err(bad("names no file".to_owned()));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(bad(format!("no such folder {}", dir.display())));
    }
    Ok(())
}

/// Parses `250ms`, `3s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 3s, 500ms or 2m"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{text}` has an unknown unit (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
