//! Settings for `ingest watch`: a run's settings, and how the watcher notices files; checked
//! before the watcher starts.

use super::RunConfig;
use super::choices::WatcherKind;
use super::flags::WatchArgs;
use crate::exit::Fatal;
use std::time::Duration;

/// Settings for `ingest watch`: a run's, and how files are noticed.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub run: RunConfig,
    pub watcher: WatcherKind,
    pub poll_interval: Duration,
    pub rescan_interval: Duration,
    pub batch_window: Duration,
}

impl WatchConfig {
    pub fn build(args: &WatchArgs) -> Result<WatchConfig, Fatal> {
        if args.run.dry_run {
            return Err(Fatal::config(
                "--dry-run is for `ingest run`: a watcher writes as files arrive",
            ));
        }
        let positive = |flag: &str, d: Duration| match d.is_zero() {
            true => Err(Fatal::config(format!("{flag} must be more than 0"))),
            false => Ok(d),
        };
        let run = RunConfig::build(&args.run)?;
        if run.coordination.is_some() {
            return Err(Fatal::config(
                "--coordination is for `ingest run`: a watcher holds the folder's lock file, so \
                 run one watcher per folder",
            ));
        }
        Ok(WatchConfig {
            run,
            watcher: args.watcher,
            poll_interval: positive("--poll-interval", args.poll_interval)?,
            rescan_interval: positive("--rescan-interval", args.rescan_interval)?,
            batch_window: args.batch_window,
        })
    }
}
