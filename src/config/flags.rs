//! Every setting, declared once: its flag, its environment variable, its type (choices as
//! `ValueEnum`s, durations and ranges checked by their parsers) and its default. A config file's
//! keys are the flags' names with `_`; `layered` gives them their place between the environment
//! and the default.

use super::choices::{AfterAction, OnChange, OnError, Output, WatcherKind};
use super::reading_flags::ReadingArgs;
use super::{DEFAULT_MANIFEST, DEFAULT_URL, MAX_BATCH_ROWS, parse_duration};
use crate::formats::Format;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, ValueHint};
use std::path::PathBuf;
use std::time::Duration;

/// A boolean flag that its environment variable sets with `1`/`0`, `true`/`false`, `yes`/`no`
/// or `on`/`off` too.
macro_rules! boolish {
    () => {
        BoolishValueParser::new()
    };
}

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text.trim()).ok_or_else(|| format!("use one of {}", Format::NAMES))
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err("must be a number between 0 and 1".to_owned()),
    }
}

/// Where the server and the data are; shared by every command.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// TOML config file; its keys are the long flag names with `_` for `-`
    #[arg(long, env = "INGEST_CONFIG", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub config: Option<PathBuf>,

    /// Data folder to ingest
    #[arg(long, env = "INGEST_DATA_DIR", value_name = "DIR", default_value = "data", value_hint = ValueHint::DirPath)]
    pub data_dir: PathBuf,

    /// ClickHouse HTTP(S) URL; repeat it (or give a comma-separated list) for replicas of one
    /// cluster, one URL each: requests move on to the next when a server is unreachable
    #[arg(long, env = "CLICKHOUSE_URL", default_value = DEFAULT_URL, value_delimiter = ',', action = ArgAction::Append)]
    pub url: Vec<String>,

    /// Run the tool's DDL (its tables, created target tables, provenance columns) `ON CLUSTER`
    /// this cluster, with its own tables replicated to every server of it
    #[arg(long, env = "INGEST_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,

    /// ClickHouse user [default: default]
    #[arg(long, env = "CLICKHOUSE_USER")]
    pub user: Option<String>,

    /// ClickHouse password (prefer the environment variable; it is never printed)
    #[arg(long, env = "CLICKHOUSE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// Database for target tables named without one, and for the manifest
    #[arg(long, env = "CLICKHOUSE_DATABASE", default_value = "default")]
    pub database: String,

    /// Manifest table, `table` or `database.table`
    #[arg(long, env = "INGEST_MANIFEST_TABLE", value_name = "TABLE", default_value = DEFAULT_MANIFEST)]
    pub manifest_table: String,

    /// How long to wait for a query before giving up on it (`500ms`, `3s`, `2m`, …)
    #[arg(long, env = "INGEST_TIMEOUT", value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Retries of a request that failed for a reason that can pass
    #[arg(long, env = "INGEST_RETRIES", value_name = "N", default_value_t = 5)]
    pub retries: u32,

    /// This data folder's id in the manifest [default: the id in DATA_DIR/.ingest-folder-id,
    /// made on the first run]
    #[arg(long, env = "INGEST_FOLDER_ID", value_name = "ID")]
    pub folder_id: Option<String>,

    /// Allow plain HTTP to a server that is not on this machine (credentials travel in clear)
    #[arg(long, env = "INGEST_ALLOW_INSECURE_HTTP", action = ArgAction::SetTrue, value_parser = boolish!())]
    pub allow_insecure_http: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Target table for files no route matches, `table` or `database.table`
    #[arg(long, env = "INGEST_TABLE")]
    pub table: Option<String>,

    /// Rows per batch; a file always splits into the same batches
    #[arg(long, env = "INGEST_BATCH_ROWS", value_name = "N", default_value_t = 50_000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH_ROWS))]
    pub batch_rows: u64,

    /// Rows one INSERT carries at most, in whole batches: fewer, larger inserts make fewer parts
    #[arg(long, env = "INGEST_INSERT_ROWS", value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub insert_rows: u64,

    /// Threads that read one large file: above 1, a CSV, TSV or JSON Lines file is cut into
    /// pieces of whole records converted side by side, and its bytes are read and decoded
    /// ahead; batches and inserts are the same whatever the number [default: the machine's
    /// cores]
    #[arg(long, env = "INGEST_JOBS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,

    /// Read every large file through before sending any of its rows, so that readers of the
    /// table never see rows of a file that then fails (by default a file is sent while it is
    /// checked, and a bad one's rows are deleted, where the table has no materialized views)
    #[arg(long, env = "INGEST_CHECK_FIRST", action = ArgAction::SetTrue, value_parser = boolish!())]
    pub check_first: bool,

    /// How long a file's size and modification time must stay unchanged before it is read
    #[arg(long, env = "INGEST_SETTLE", value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub settle: Duration,

    /// Lock file that keeps runs on one data folder from overlapping [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub lock_file: Option<PathBuf>,

    /// A lock for the data folder in ZooKeeper (or ClickHouse Keeper) instead of the lock file,
    /// for runs on several hosts: `zk://host:port[,host:port…]/path`
    #[arg(long, env = "INGEST_COORDINATION", value_name = "URL")]
    pub coordination: Option<String>,

    /// Take only the files whose path hashes to shard K of N (from 0), under a lock of that
    /// shard's own: N hosts share one folder (needs --coordination)
    #[arg(long, env = "INGEST_SHARD", value_name = "K/N")]
    pub shard: Option<String>,

    /// What the run prints at the end: a short summary, or one JSON object
    #[arg(long, env = "INGEST_OUTPUT", value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// Prometheus textfile-collector file to update after every run that is not a dry run
    #[arg(long, env = "INGEST_METRICS_FILE", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub metrics_file: Option<PathBuf>,

    /// Report what a run would do with each file, writing nothing to ClickHouse
    #[arg(long, env = "INGEST_DRY_RUN", action = ArgAction::SetTrue, value_parser = boolish!())]
    pub dry_run: bool,

    /// A file with bad records: none of its rows are inserted (fail-file), or the good rows are
    /// and each bad one is recorded in the rejects table (skip-row)
    #[arg(long, env = "INGEST_ON_ERROR", value_name = "POLICY", value_enum, default_value_t = OnError::FailFile)]
    pub on_error: OnError,

    /// With skip-row: a file with more bad records than this fails as a whole [default: 1000]
    #[arg(long, env = "INGEST_MAX_ERRORS", value_name = "N")]
    pub max_errors: Option<u64>,

    /// With skip-row: a file whose share of bad records exceeds this fails as a whole (0 to 1)
    #[arg(long, env = "INGEST_MAX_ERROR_RATIO", value_name = "RATIO", value_parser = parse_ratio)]
    pub max_error_ratio: Option<f64>,

    /// A path ingested before whose content changed: hold it back (report, exit code 6), add
    /// the new content, the old rows staying (ingest), or, for a file that only grew, add the
    /// complete records after what was ingested (append; CSV, TSV and JSON Lines)
    #[arg(long, env = "INGEST_ON_CHANGE", value_name = "POLICY", value_enum, default_value_t = OnChange::Report)]
    pub on_change: OnChange,

    /// After a file's rows are confirmed in ClickHouse: keep it, move it (to --done-dir) or
    /// delete it
    #[arg(long, env = "INGEST_AFTER", value_name = "ACTION", value_enum, default_value_t = AfterAction::Keep)]
    pub after: AfterAction,

    /// Folder that `--after move` moves ingested files into, keeping their relative paths
    #[arg(long, env = "INGEST_DONE_DIR", value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub done_dir: Option<PathBuf>,

    /// Move files that fail for their content here, with an `.error.txt` report beside each
    #[arg(long, env = "INGEST_QUARANTINE_DIR", value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub quarantine_dir: Option<PathBuf>,

    /// Do not add the provenance columns to target tables that lack them; ingestion into such
    /// tables is then at-least-once (an interrupted batch may be sent twice)
    #[arg(long, env = "INGEST_WITHOUT_PROVENANCE", action = ArgAction::SetTrue, value_parser = boolish!())]
    pub without_provenance: bool,

    /// Read files as this format whatever their names say: csv, tsv, json, jsonl, parquet or xml
    /// (a .gz or .zst ending still means compressed) [default: by extension]
    #[arg(long, env = "INGEST_FORMAT", value_parser = parse_format)]
    pub format: Option<Format>,

    /// Create missing target tables, with column types inferred from their files
    #[arg(long, env = "INGEST_CREATE_TABLE", action = ArgAction::SetTrue, value_parser = boolish!())]
    pub create_table: bool,

    /// Engine of tables --create-table creates [default: MergeTree]
    #[arg(long, env = "INGEST_ENGINE")]
    pub engine: Option<String>,

    /// ORDER BY of tables --create-table creates [default: (_ingest_file, _ingest_row)]
    #[arg(long, env = "INGEST_ORDER_BY", value_name = "EXPR")]
    pub order_by: Option<String>,

    /// Most columns --create-table gives a table; a file whose fields would pass it fails
    #[arg(long, env = "INGEST_MAX_COLUMNS", value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_columns: u64,

    /// A ClickHouse setting every INSERT carries, e.g. insert_quorum=2 (repeatable; the
    /// environment variable takes a comma-separated list)
    #[arg(
        long = "insert-setting",
        env = "INGEST_INSERT_SETTINGS",
        value_name = "NAME=VALUE",
        value_delimiter = ','
    )]
    pub insert_settings: Vec<String>,

    /// Make the run's warnings (a data file no route matches, a route that matched no file)
    /// fail it with exit code 3
    #[arg(long, env = "INGEST_FAIL_ON_WARNING", action = ArgAction::SetTrue, value_parser = boolish!())]
    pub fail_on_warning: bool,

    #[command(flatten)]
    pub reading: ReadingArgs,
}

/// `ingest watch`: every setting of `run`, and how to notice files.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// How to notice files: file-system events (inotify), polling the folder, or events where
    /// the file system delivers them and polling where it does not (network file systems)
    #[arg(long, env = "INGEST_WATCHER", value_name = "HOW", value_enum, default_value_t = WatcherKind::Auto)]
    pub watcher: WatcherKind,

    /// With polling: how often the folder is scanned for new and grown files
    #[arg(long, env = "INGEST_POLL_INTERVAL", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// How often the whole folder is scanned and the manifest read again, so that a missed
    /// event costs latency, never data
    #[arg(long, env = "INGEST_RESCAN_INTERVAL", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub rescan_interval: Duration,

    /// How long files that arrive together are gathered before they are read, so that a burst
    /// of small files makes few inserts
    #[arg(long, env = "INGEST_BATCH_WINDOW", value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub batch_window: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Target table for files no route matches, `table` or `database.table`
    #[arg(long, env = "INGEST_TABLE")]
    pub table: Option<String>,

    /// Runs create missing target tables (so a missing one is not an error here)
    #[arg(long, env = "INGEST_CREATE_TABLE", action = ArgAction::SetTrue, value_parser = boolish!())]
    pub create_table: bool,
}
