//! The flags of the commands that look at the folder's state or change it: `status`, `retry`,
//! `forget` and `verify`.

use super::choices::Output;
use super::flags::CommonArgs;
use clap::{Args, ValueHint};
use std::path::PathBuf;

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
pub struct RetryArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Lock file shared with `ingest run` [default: DATA_DIR/.ingest.lock]
    #[arg(long, env = "INGEST_LOCK_FILE", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub lock_file: Option<PathBuf>,

    /// The cluster lock shared with `ingest run --coordination` (instead of the lock file):
    /// `zk://host:port[,host:port…]/path`
    #[arg(long, env = "INGEST_COORDINATION", value_name = "URL")]
    pub coordination: Option<String>,

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

    /// The cluster lock shared with `ingest run --coordination` (instead of the lock file):
    /// `zk://host:port[,host:port…]/path`
    #[arg(long, env = "INGEST_COORDINATION", value_name = "URL")]
    pub coordination: Option<String>,

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
