//! `ingest watch`: the folder lock for the watcher's life, the folder's identity, then the
//! watcher until it is asked to stop.

use crate::config::WatchConfig;
use crate::config::flags::WatchArgs;
use crate::exit::{Exit, Fatal};
use crate::watch::Watcher;
use crate::{folder_id, lock};
use std::io::Write;

pub async fn watch(args: &WatchArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = WatchConfig::build(args)?;
    let _held = lock::acquire(&cfg.run.lock_file)?;
    let id = folder_id::resolve(
        &cfg.run.common.data_dir,
        cfg.run.common.folder_id.as_deref(),
        true,
    )
    .map_err(Fatal::Config)?;
    Watcher::new(cfg, id.id, out).run().await
}
