//! What a watcher leaves for operators: after every cycle that read files, the run's history row,
//! the metrics file and a line (or JSON document) on stdout, as `ingest run` leaves them; and
//! whenever its loop goes round, its heartbeat in the metrics file and its card in the data
//! folder.

use super::beacon::Beacon;
use crate::config::{Output, WatchConfig};
use crate::exit::{Exit, Fatal};
use crate::folder::Folder;
use crate::history::{self, RunRow};
use crate::outcome::{RunReport, RunStart};
use crate::run::Session;
use crate::summary::{Summary, timestamp};
use chrono::Utc;
use std::io::Write;

pub struct Record {
    beacon: Beacon,
    folder: String,
    /// Whether the next cycle's metrics count the files that need attention (a query of the
    /// whole manifest, so only after the manifest was read again).
    pub attention_due: bool,
}

impl Record {
    pub fn new(folder: &str, how: &str) -> Record {
        let now = timestamp(Utc::now());
        Record {
            beacon: Beacon {
                pid: std::process::id(),
                host: gethostname::gethostname().to_string_lossy().into_owned(),
                started: now.clone(),
                heartbeat: now,
                watching_by: how.to_owned(),
                state: "starting".to_owned(),
                ..Beacon::default()
            },
            folder: folder.to_owned(),
            attention_due: true,
        }
    }

    pub fn set_state(&mut self, state: &str) {
        self.beacon.state = state.to_owned();
    }

    /// Renews the heartbeat: the card (in the data folder `root`, once it is open), and the
    /// metrics file's gauge.
    pub fn beat(&mut self, cfg: &WatchConfig, root: Option<&Folder>) {
        let now = Utc::now();
        self.beacon.heartbeat = timestamp(now);
        if let Some(root) = root
            && let Err(e) = self.beacon.write(root)
        {
            log::warn!(
                "cannot write the watcher's card {}: {e}",
                super::beacon::FILE
            );
        }
        if let Some(path) = &cfg.run.metrics_file
            && let Err(e) = crate::metrics::beat(path, &self.folder, now)
        {
            log::error!("cannot write the metrics file {}: {e}", path.display());
        }
    }

    /// The watcher stopped: says so on its card.
    pub fn stopped(&mut self, cfg: &WatchConfig, session: Option<&Session>) {
        self.set_state("stopped");
        self.beat(cfg, session.map(|s| &**s.root()));
        log::info!("stopped");
    }

    /// Records a cycle that read files (or failed): history row, metrics, output, card.
    pub async fn cycle(
        &mut self,
        cfg: &WatchConfig,
        session: Option<&Session>,
        start: &RunStart,
        result: &Result<RunReport, Fatal>,
        out: &mut dyn Write,
    ) {
        let mut summary = Summary::new(start, false, result);
        summary.folder = self.folder.clone();
        summary.data_dir = cfg.run.common.data_dir.display().to_string();
        let now = Utc::now();
        summary.heartbeat = Some(now);
        if let Some(session) = session
            && summary.exit != Exit::Unreachable
        {
            history::record(
                &session.server,
                &cfg.run.common.manifest,
                &RunRow::new(&summary),
            )
            .await;
            if self.attention_due {
                summary.attention = session.manifest.attention_counts().await.ok();
                self.attention_due = summary.attention.is_none();
            }
        }
        if let Some(path) = &cfg.run.metrics_file
            && let Err(e) = crate::metrics::write(path, &summary)
        {
            log::error!("cannot write the metrics file {}: {e}", path.display());
        }
        let printed = match (cfg.run.output, result) {
            (Output::Json, _) => summary.write_json(out),
            (Output::Text, Ok(report)) => crate::run::print_report(report, out),
            (Output::Text, Err(_)) => Ok(()),
        };
        if let Err(e) = printed.and_then(|()| out.flush()) {
            log::warn!("cannot print the cycle's summary: {e}");
        }
        if let Err(e) = result {
            log::error!("{e}");
        }
        self.beacon.cycles += 1;
        self.beacon.files += summary.count(crate::outcome::Status::Ingested);
        self.beacon.rows += summary.rows();
        self.beacon.last_cycle = timestamp(now);
        self.beat(cfg, session.map(|s| &**s.root()));
    }
}
