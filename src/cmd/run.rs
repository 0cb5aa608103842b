//! One `ingest run` from start to finish: the folder lock (a lock file, or a cluster lock in
//! ZooKeeper for runs on several hosts), the folder's identity, the connection, the run itself,
//! then what it leaves for operators (a history row, the metrics file) while the lock is still
//! held, and what it prints.

use crate::ch::Server;
use crate::config::flags::RunArgs;
use crate::config::{Output, RunConfig};
use crate::exit::{Exit, Fatal, error_line};
use crate::history::{self, RunRow};
use crate::manifest::Manifest;
use crate::outcome::RunStart;
use crate::progress::Progress;
use crate::summary::Summary;
use crate::{coord, folder_id, lock, metrics, run};
use std::io::Write;

/// Whichever lock keeps other runs off this run's files.
#[derive(Debug)]
enum Held {
    File(#[allow(dead_code)] lock::RunLock),
    Cluster(coord::ClusterLock),
}

pub async fn run(args: &RunArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = &RunConfig::build(args)?;
    let start = RunStart::now();
    let progress = Progress::for_stderr();
    let mut held = None;
    let mut server = None;
    let mut folder = None;
    let result = async {
        if !cfg.dry_run && cfg.coordination.is_none() {
            held = Some(Held::File(lock::acquire(&cfg.lock_file)?));
        }
        // A dry run writes nothing, not even the folder's id file.
        let id = folder_id::resolve(
            &cfg.common.data_dir,
            cfg.common.folder_id.as_deref(),
            !cfg.dry_run,
        )
        .map_err(Fatal::Config)?;
        folder = Some(id.id.clone());
        if let (Some(coordination), false) = (&cfg.coordination, cfg.dry_run) {
            let holder = coord::Holder {
                run_id: start.run_id.clone(),
                host: gethostname::gethostname().to_string_lossy().into_owned(),
                pid: std::process::id(),
            };
            let lock = coord::acquire(coordination, &id.id, cfg.shard, &holder)?;
            held = Some(Held::Cluster(lock));
        }
        let mut connected = Server::connect(cfg.common.connect.clone()).await?;
        let mut peers = run::Peers::default();
        if let Some(Held::Cluster(lock)) = &held {
            connected = connected.with_fence(lock.fence.clone());
            peers.live_runs = lock.live_runs.clone();
            peers.live_runs.remove(&start.run_id);
            // Runs of other shards may meet the same content under other names at once.
            peers.claims = cfg.shard.map(|_| lock.claims.clone());
        }
        server = Some(connected.clone());
        run::run(cfg, connected, &id.id, &start, &progress, peers).await
    }
    .await;
    progress.finish();
    let mut summary = Summary::new(&start, cfg.dry_run, &result);
    summary.folder = folder.unwrap_or_default();
    summary.data_dir = cfg.common.data_dir.display().to_string();
    // A run turned away by the lock leaves the record to the run that holds it.
    if held.is_some() {
        keep_record(cfg, server.as_ref(), &mut summary).await;
    }
    drop(held);
    match cfg.output {
        Output::Json => summary.write_json(out),
        Output::Text => match &result {
            Ok(report) => run::print_report(report, out),
            Err(_) => Ok(()),
        },
    }
    .map_err(anyhow::Error::from)?;
    let report = result?;
    if let Some(why) = &report.stopped {
        eprintln!("{}", error_line(why));
    }
    Ok(report.exit)
}

/// The history row (when the server was reached) and the metrics file; neither can fail the run.
async fn keep_record(cfg: &RunConfig, server: Option<&Server>, summary: &mut Summary<'_>) {
    if let Some(server) = server {
        let row = RunRow::new(summary);
        history::record(server, &cfg.common.manifest, &row).await;
        if cfg.metrics_file.is_some() && summary.exit != Exit::Unreachable {
            summary.attention = attention(cfg, server, summary).await;
        }
    }
    if let Some(path) = &cfg.metrics_file
        && let Err(e) = metrics::write(path, summary)
    {
        log::error!("cannot write the metrics file {}: {e}", path.display());
    }
}

/// The folder's files that need attention after the run, for the metrics' gauge; `None` (the
/// gauge keeps its last values) when the manifest cannot tell.
async fn attention(
    cfg: &RunConfig,
    server: &Server,
    summary: &Summary<'_>,
) -> Option<std::collections::BTreeMap<String, u64>> {
    let mut manifest = Manifest::new(
        server.clone(),
        cfg.common.manifest.clone(),
        summary.run_id.to_owned(),
        summary.folder.clone(),
    );
    let counted = async {
        if !manifest.open().await? {
            return Ok(Default::default());
        }
        manifest.attention_counts().await
    }
    .await;
    match counted {
        Ok(counts) => Some(counts),
        Err(e) => {
            log::warn!("cannot count the files that need attention: {e}");
            None
        }
    }
}
