//! One `ingest run` from start to finish: the folder lock, the connection, the run itself, then
//! what it leaves for operators (a history row, the metrics file) while the lock is still held,
//! and what it prints.

use crate::ch::Server;
use crate::config::{Output, RunConfig};
use crate::exit::{Exit, Fatal};
use crate::history::{self, RunRow};
use crate::progress::Progress;
use crate::summary::{RunStart, Summary};
use crate::{lock, metrics, run};
use std::io::Write;

pub async fn run(cfg: &RunConfig, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let start = RunStart::now();
    let progress = Progress::for_stderr();
    let mut held = None;
    let mut server = None;
    let result = async {
        if !cfg.dry_run {
            held = Some(lock::acquire(&cfg.lock_file)?);
        }
        let connected = Server::connect(cfg.common.connect.clone()).await?;
        server = Some(connected.clone());
        run::run(cfg, connected, &start, &progress).await
    }
    .await;
    progress.finish();
    let summary = Summary::new(&start, cfg.dry_run, &result);
    // A run turned away by the lock leaves the record to the run that holds it.
    if held.is_some() {
        keep_record(cfg, server.as_ref(), &summary).await;
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
    result.map(|report| report.exit)
}

/// The history row (when the server was reached) and the metrics file; neither can fail the run.
async fn keep_record(cfg: &RunConfig, server: Option<&Server>, summary: &Summary<'_>) {
    if let Some(server) = server {
        let row = RunRow::new(summary, &cfg.common.data_dir.display().to_string());
        history::record(server, &cfg.common.manifest, &row).await;
    }
    if let Some(path) = &cfg.metrics_file
        && let Err(e) = metrics::write(path, summary)
    {
        log::error!("cannot write the metrics file {}: {e}", path.display());
    }
}
