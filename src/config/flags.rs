//! Every setting, declared once: its flag, its environment variable, its type (choices as
//! `ValueEnum`s, durations and ranges checked by their parsers) and its default. A config file's
//! keys are the flags' names with `_`; `layered` gives them their place between the environment
//! and the default.

use super::choices::{AfterAction, OnChange, OnError, Output};
use super::{DEFAULT_MANIFEST, DEFAULT_URL, MAX_BATCH_ROWS, parse_duration};
use crate::exit::EXIT_CODES_HELP;
use crate::formats::Format;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueHint};
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

#[derive(Debug, Parser)]
#[command(
    name = "ingest",
    version,
    about = "Keep a ClickHouse database in step with a folder of arriving data files, exactly once.",
    after_help = EXIT_CODES_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest the data folder's new files (what cron or a systemd timer runs)
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),
    /// Show the last runs, files in flight, failures and recent files, from the manifest
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),
    /// Let the next run try failed, quarantined or held-back files again
    #[command(after_help = EXIT_CODES_HELP)]
    Retry(RetryArgs),
    /// Treat files as never ingested, so the next run ingests them again
    #[command(after_help = EXIT_CODES_HELP)]
    Forget(ForgetArgs),
    /// Create the manifest and run-history tables (and add provenance columns to configured target
    /// tables), so that runs can use an account without CREATE or ALTER rights
    #[command(after_help = EXIT_CODES_HELP)]
    Init(InitArgs),
    /// Check that every file the manifest records as ingested has exactly its rows in its table
    #[command(after_help = EXIT_CODES_HELP)]
    Verify(VerifyArgs),
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

    /// ClickHouse HTTP(S) URL
    #[arg(long, env = "CLICKHOUSE_URL", default_value = DEFAULT_URL)]
    pub url: String,

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

    /// Threads that read, check and encode files at once (a large CSV or JSON Lines file is cut
    /// into pieces parsed side by side); batches and inserts are the same whatever the number
    /// [default: the machine's cores]
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

    /// A path ingested before whose content changed: hold it back (report, exit code 6) or add
    /// the new content, the old rows staying (ingest)
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

    /// Read files as this format whatever their names say: csv, json, jsonl, parquet or xml
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
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// How many runs, failures and recent files to list
    #[arg(
        long,
        env = "INGEST_STATUS_LIMIT",
        value_name = "N",
        default_value_t = 20
    )]
    pub limit: u64,

    /// For people, or one JSON document
    #[arg(long, env = "INGEST_OUTPUT", value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// Short for `--output json`
    #[arg(long)]
    pub json: bool,
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

#[derive(Debug, Clone, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Lock file shared with `ingest run` [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub lock_file: Option<PathBuf>,

    /// Every failed or quarantined file (not the held-back ones: name those one by one)
    #[arg(long)]
    pub all_failed: bool,

    /// Every ingested file whose rows in its table are missing, short or doubled (what `ingest
    /// verify` reports)
    #[arg(long)]
    pub all_mismatched: bool,

    /// For a file held back because its content changed: delete the old content's rows first
    /// (waiting until they are gone), so the new content replaces them
    #[arg(long)]
    pub replace: bool,

    /// Paths (relative to the data folder, or including it, or absolute inside it), or content
    /// hashes (at least 8 hex digits)
    #[arg(
        value_name = "PATH|HASH",
        required_unless_present_any = ["all_failed", "all_mismatched"]
    )]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Lock file shared with `ingest run` [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub lock_file: Option<PathBuf>,

    /// Also delete the content's rows from its table (by provenance), waiting until they are gone
    #[arg(long)]
    pub delete_rows: bool,

    /// Paths (relative to the data folder, or including it, or absolute inside it), or content
    /// hashes (at least 8 hex digits)
    #[arg(value_name = "PATH|HASH", required = true)]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// For people, or one JSON document
    #[arg(long, env = "INGEST_OUTPUT", value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// Short for `--output json`
    #[arg(long)]
    pub json: bool,
}

impl Command {
    /// The settings every command shares.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Command::Run(a) => &a.common,
            Command::Status(a) => &a.common,
            Command::Retry(a) => &a.common,
            Command::Forget(a) => &a.common,
            Command::Init(a) => &a.common,
            Command::Verify(a) => &a.common,
        }
    }
}
