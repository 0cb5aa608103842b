//! Command-line flags. Every flag can also come from an environment variable or the config file;
//! flags win over the environment, which wins over the file. Defaults live in `config`.

use crate::exit::EXIT_CODES_HELP;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};
use std::path::PathBuf;

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
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// TOML config file; its keys are the long flag names with `_` for `-`
    #[arg(long, env = "INGEST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Data folder to ingest [default: data]
    #[arg(long, env = "INGEST_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// ClickHouse HTTP(S) URL [default: http://localhost:8123]
    #[arg(long, env = "CLICKHOUSE_URL")]
    pub url: Option<String>,

    /// ClickHouse user [default: default]
    #[arg(long, env = "CLICKHOUSE_USER")]
    pub user: Option<String>,

    /// ClickHouse password (prefer the environment variable; it is never printed)
    #[arg(long, env = "CLICKHOUSE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// Database for target tables named without one, and for the manifest [default: default]
    #[arg(long, env = "CLICKHOUSE_DATABASE")]
    pub database: Option<String>,

    /// Manifest table, `table` or `database.table` [default: ingest_manifest]
    #[arg(long, env = "INGEST_MANIFEST_TABLE", value_name = "TABLE")]
    pub manifest_table: Option<String>,

    /// Seconds to wait for a query before giving up on it [default: 300]
    #[arg(long, env = "INGEST_TIMEOUT", value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Retries of a request that failed for a reason that can pass [default: 5]
    #[arg(long, env = "INGEST_RETRIES", value_name = "N")]
    pub retries: Option<u32>,

    /// This data folder's id in the manifest [default: the id in DATA_DIR/.ingest-folder-id,
    /// made on the first run]
    #[arg(long, env = "INGEST_FOLDER_ID", value_name = "ID")]
    pub folder_id: Option<String>,

    /// Allow plain HTTP to a server that is not on this machine (credentials travel in clear)
    #[arg(long, env = "INGEST_ALLOW_INSECURE_HTTP", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub allow_insecure_http: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Target table for files no route matches, `table` or `database.table`
    #[arg(long, env = "INGEST_TABLE")]
    pub table: Option<String>,

    /// Rows per batch; a file always splits into the same batches [default: 50000]
    #[arg(long, env = "INGEST_BATCH_ROWS", value_name = "N")]
    pub batch_rows: Option<u64>,

    /// Rows one INSERT carries at most, in whole batches: fewer, larger inserts make fewer parts
    /// [default: 1000000]
    #[arg(long, env = "INGEST_INSERT_ROWS", value_name = "N")]
    pub insert_rows: Option<u64>,

    /// How long a file's size and modification time must stay unchanged before it is read [default: 3s]
    #[arg(long, env = "INGEST_SETTLE", value_name = "DURATION")]
    pub settle: Option<String>,

    /// Lock file that keeps runs on one data folder from overlapping [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE")]
    pub lock_file: Option<PathBuf>,

    /// What the run prints at the end: `text` (a short summary) or `json` (one JSON object) [default: text]
    #[arg(long, env = "INGEST_OUTPUT", value_name = "FORMAT")]
    pub output: Option<String>,

    /// Prometheus textfile-collector file to update after every run that is not a dry run
    #[arg(long, env = "INGEST_METRICS_FILE", value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

    /// Report what a run would do with each file, writing nothing to ClickHouse
    #[arg(long, env = "INGEST_DRY_RUN", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub dry_run: bool,

    /// A file with bad records: fail-file (none of its rows are inserted) or skip-row (insert
    /// the good rows, record each bad one in the rejects table) [default: fail-file]
    #[arg(long, env = "INGEST_ON_ERROR", value_name = "POLICY")]
    pub on_error: Option<String>,

    /// With skip-row: a file with more bad records than this fails as a whole [default: 1000]
    #[arg(long, env = "INGEST_MAX_ERRORS", value_name = "N")]
    pub max_errors: Option<u64>,

    /// With skip-row: a file whose share of bad records exceeds this fails as a whole (0 to 1)
    #[arg(long, env = "INGEST_MAX_ERROR_RATIO", value_name = "RATIO")]
    pub max_error_ratio: Option<f64>,

    /// A path ingested before whose content changed: report (hold it back, exit code 6) or
    /// ingest (add the new content; the old rows stay) [default: report]
    #[arg(long, env = "INGEST_ON_CHANGE", value_name = "POLICY")]
    pub on_change: Option<String>,

    /// After a file's rows are confirmed in ClickHouse: keep, move (to --done-dir) or delete it
    /// [default: keep]
    #[arg(long, env = "INGEST_AFTER", value_name = "ACTION")]
    pub after: Option<String>,

    /// Folder that `--after move` moves ingested files into, keeping their relative paths
    #[arg(long, env = "INGEST_DONE_DIR", value_name = "DIR")]
    pub done_dir: Option<PathBuf>,

    /// Move files that fail for their content here, with an `.error.txt` report beside each
    #[arg(long, env = "INGEST_QUARANTINE_DIR", value_name = "DIR")]
    pub quarantine_dir: Option<PathBuf>,

    /// Do not add the provenance columns to target tables that lack them; ingestion into such
    /// tables is then at-least-once (an interrupted batch may be sent twice)
    #[arg(long, env = "INGEST_WITHOUT_PROVENANCE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub without_provenance: bool,

    /// Read files as this format whatever their names say: csv, tsv, json, jsonl, parquet or xml
    /// (a .gz or .zst ending still means compressed) [default: by extension]
    #[arg(long, env = "INGEST_FORMAT")]
    pub format: Option<String>,

    /// Create missing target tables, with column types inferred from their files
    #[arg(long, env = "INGEST_CREATE_TABLE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub create_table: bool,

    /// Engine of tables --create-table creates [default: MergeTree]
    #[arg(long, env = "INGEST_ENGINE")]
    pub engine: Option<String>,

    /// ORDER BY of tables --create-table creates [default: (_ingest_file, _ingest_row)]
    #[arg(long, env = "INGEST_ORDER_BY", value_name = "EXPR")]
    pub order_by: Option<String>,

    /// Most columns --create-table gives a table; a file whose fields would pass it fails
    /// [default: 1000]
    #[arg(long, env = "INGEST_MAX_COLUMNS", value_name = "N")]
    pub max_columns: Option<usize>,

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
    #[arg(long, env = "INGEST_FAIL_ON_WARNING", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub fail_on_warning: bool,

    #[command(flatten)]
    pub reading: ReadingArgs,
}

/// How files are written and how their fields map onto the table, for files whose route does
/// not say (routes set the same keys in the config file).
#[derive(Debug, Clone, Default, Args)]
pub struct ReadingArgs {
    /// CSV field delimiter: one character, `\t` or `tab` [default: sniffed from the file]
    #[arg(long, env = "INGEST_DELIMITER", value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// CSV quote character, or `none` [default: sniffed: `"` or `'`]
    #[arg(long, env = "INGEST_QUOTE", value_name = "CHAR")]
    pub quote: Option<String>,

    /// How a quote is written inside a quoted CSV field: double (`""`) or backslash (`\"`)
    /// [default: double]
    #[arg(long, env = "INGEST_ESCAPE", value_name = "STYLE")]
    pub escape: Option<String>,

    /// Whether CSV and TSV files start with a header row (true or false) [default: sniffed]
    #[arg(long, env = "INGEST_HEADER", value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub header: Option<bool>,

    /// CSV and TSV lines starting with this character are comments, skipped
    #[arg(long, env = "INGEST_COMMENT", value_name = "CHAR")]
    pub comment: Option<String>,

    /// Lines to skip at the top of CSV and TSV files, before the header [default: 0]
    #[arg(long, env = "INGEST_SKIP_LINES", value_name = "N")]
    pub skip_lines: Option<usize>,

    /// Every CSV or TSV line ends with a delimiter, which ends no field
    #[arg(long, env = "INGEST_TRAILING_DELIMITER", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub trailing_delimiter: bool,

    /// Text encoding of files without a byte order mark: any WHATWG label (windows-1252,
    /// iso-8859-15, shift_jis, …) [default: utf-8; XML: its declaration]
    #[arg(long, env = "INGEST_ENCODING", value_name = "LABEL")]
    pub encoding: Option<String>,

    /// A field text that means NULL (repeatable; the environment variable takes a
    /// comma-separated list) [default: \N, and an empty field is NULL or the column's default]
    #[arg(
        long = "null-value",
        env = "INGEST_NULL_VALUES",
        value_name = "TEXT",
        value_delimiter = ','
    )]
    pub null_values: Vec<String>,

    /// strftime format of date and time fields whose day and month order the text cannot tell,
    /// e.g. %d/%m/%Y (routes may give one per column)
    #[arg(long, env = "INGEST_DATE_FORMAT", value_name = "FORMAT")]
    pub date_format: Option<String>,

    /// Match field names to column names ignoring case
    #[arg(long, env = "INGEST_CASE_INSENSITIVE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub case_insensitive: bool,

    /// A field the table has no column for: error (the file fails) or ignore [default: error]
    #[arg(long, env = "INGEST_UNKNOWN_FIELDS", value_name = "POLICY")]
    pub unknown_fields: Option<String>,

    /// fixed, or add-columns: a field the table lacks becomes a new Nullable column (ALTER
    /// TABLE … ADD COLUMN); columns are never dropped or narrowed [default: fixed]
    #[arg(long, env = "INGEST_SCHEMA", value_name = "POLICY")]
    pub schema: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// How many runs, failures and recent files to list [default: 20]
    #[arg(long, env = "INGEST_STATUS_LIMIT", value_name = "N")]
    pub limit: Option<u64>,

    /// `text` or `json` (one JSON document) [default: text]
    #[arg(long, env = "INGEST_OUTPUT", value_name = "FORMAT")]
    pub output: Option<String>,

    /// Short for `--output json`
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Target table for files no route matches, `table` or `database.table`
    #[arg(long, env = "INGEST_TABLE")]
    pub table: Option<String>,

    /// Runs create missing target tables (so a missing one is not an error here)
    #[arg(long, env = "INGEST_CREATE_TABLE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub create_table: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Lock file shared with `ingest run` [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE")]
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

#[derive(Debug, Clone, Default, Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Lock file shared with `ingest run` [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE")]
    pub lock_file: Option<PathBuf>,

    /// Also delete the content's rows from its table (by provenance), waiting until they are gone
    #[arg(long)]
    pub delete_rows: bool,

    /// Paths (relative to the data folder, or including it, or absolute inside it), or content
    /// hashes (at least 8 hex digits)
    #[arg(value_name = "PATH|HASH", required = true)]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// `text` or `json` (one JSON document) [default: text]
    #[arg(long, env = "INGEST_OUTPUT", value_name = "FORMAT")]
    pub output: Option<String>,

    /// Short for `--output json`
    #[arg(long)]
    pub json: bool,
}
