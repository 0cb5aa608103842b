//! The settings of runs on several hosts: where the cluster lock lives, which shard of the
//! folder's files this host takes, and the lock file (the crash record's home) that goes with it.

use super::flags::RunArgs;
use crate::coord::{Coordination, Shard};
use crate::exit::Fatal;

pub(super) fn coordination(url: Option<&str>) -> Result<Option<Coordination>, Fatal> {
    url.map(Coordination::parse)
        .transpose()
        .map_err(|e| Fatal::config(format!("--coordination: {e}")))
}

/// The cluster lock's home, the shard, and the name of the lock file in the data folder: beside
/// it lies the record of crashes while reading, and each shard keeps its own, since hosts of
/// different shards read the same folder at once.
pub(super) fn of_run(
    args: &RunArgs,
) -> Result<(Option<Coordination>, Option<Shard>, String), Fatal> {
    let coordination = coordination(args.coordination.as_deref())?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(|e| Fatal::config(format!("--shard: {e}")))?;
    if shard.is_some() && coordination.is_none() {
        return Err(Fatal::config(
            "--shard needs --coordination: a shard's lock is a cluster lock",
        ));
    }
    let lock_name = match shard {
        Some(s) => format!(".ingest.shard-{}-of-{}.lock", s.k, s.n),
        None => ".ingest.lock".to_owned(),
    };
    Ok((coordination, shard, lock_name))
}
