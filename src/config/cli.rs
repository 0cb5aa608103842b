//! The command line: the subcommands and the flags each takes.

use super::flags::{CommonArgs, InitArgs, RunArgs, WatchArgs};
use super::state_flags::{ForgetArgs, RetryArgs, StatusArgs, VerifyArgs};
use crate::exit::EXIT_CODES_HELP;
use clap::{Parser, Subcommand};

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
    /// Keep ingesting as files arrive or grow: a long-running `run`, woken by file-system events
    #[command(after_help = EXIT_CODES_HELP)]
    Watch(WatchArgs),
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

impl Command {
    /// The settings every command shares.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Command::Run(a) => &a.common,
            Command::Watch(a) => &a.run.common,
            Command::Status(a) => &a.common,
            Command::Retry(a) => &a.common,
            Command::Forget(a) => &a.common,
            Command::Init(a) => &a.common,
            Command::Verify(a) => &a.common,
        }
    }
}
