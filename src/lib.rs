//! `ingest`: keeps a ClickHouse database in step with a folder of arriving data files, exactly once.

/// A place where the crash tests end the process as abruptly as SIGKILL would; compiled in only
/// with `--features failpoints` and armed through the `FAILPOINTS` environment variable.
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        fail::fail_point!($name, |_| { std::process::exit(137) })
    };
}

pub mod ch;
pub mod cli;
pub mod config;
pub mod convert;
pub mod crashes;
pub mod exit;
pub mod folder;
pub mod formats;
pub mod hash;
pub mod history;
pub mod infer;
pub mod init;
pub mod job;
pub mod lock;
pub mod manage;
pub mod manifest;
pub mod memory;
pub mod metrics;
pub mod native;
pub mod progress;
pub mod run;
pub mod scan;
pub mod status;
pub mod summary;
pub mod value;
