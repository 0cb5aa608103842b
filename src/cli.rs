//! Command-line flags. Every flag can also come from an environment variable or the config file;
//! flags win over the environment, which wins over the file. Defaults live in `config`.

use crate::exit::EXIT_CODES_HELP;
use clap::{Args, Parser, Subcommand};
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest the data folder's new files (what cron or a systemd timer runs)
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),
    /// Show recent files, their state, rows and errors, from the manifest
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),
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

    /// Allow plain HTTP to a server that is not on this machine (credentials travel in clear)
    #[arg(long, env = "INGEST_ALLOW_INSECURE_HTTP")]
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

    /// How long a file's size and modification time must stay unchanged before it is read [default: 3s]
    #[arg(long, env = "INGEST_SETTLE", value_name = "DURATION")]
    pub settle: Option<String>,

    /// Lock file that keeps runs on one data folder from overlapping [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE")]
    pub lock_file: Option<PathBuf>,

    /// Report what a run would do with each file, writing nothing to ClickHouse
    #[arg(long, env = "INGEST_DRY_RUN")]
    pub dry_run: bool,

    /// Read files as this format whatever their names say: csv, json, jsonl, parquet or xml
    /// (a .gz or .zst ending still means compressed) [default: by extension]
    #[arg(long, env = "INGEST_FORMAT")]
    pub format: Option<String>,

    /// Create missing target tables, with column types inferred from their files
    #[arg(long, env = "INGEST_CREATE_TABLE")]
    pub create_table: bool,

    /// Engine of tables --create-table creates [default: MergeTree]
    #[arg(long, env = "INGEST_ENGINE")]
    pub engine: Option<String>,

    /// ORDER BY of tables --create-table creates [default: (_ingest_file_hash, _ingest_row)]
    #[arg(long, env = "INGEST_ORDER_BY", value_name = "EXPR")]
    pub order_by: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// How many recent files to list [default: 20]
    #[arg(long, env = "INGEST_STATUS_LIMIT", value_name = "N")]
    pub limit: Option<u64>,
}
