//! `ingest watch`: the pipeline of `ingest run`, driven again and again while the folder lock is
//! held. File-system events (or polling) say which files changed; each waits until it has
//! settled; files that become ready together are read in one cycle after a short batching
//! window, so that a burst makes few inserts; the whole folder is scanned and the manifest read
//! again at an interval, so that a missed event costs latency, never data. A cycle is a run:
//! same decisions, same exactly-once, same history row and metrics.

mod beacon;
mod events;
mod record;
mod settle;
mod signals;

pub use beacon::Beacon;

use crate::ch::Server;
use crate::config::{OnChange, WatchConfig};
use crate::exit::{Exit, Fatal};
use crate::manifest::State;
use crate::outcome::RunStart;
use crate::run::{PassOptions, Peers, Session};
use crate::scan::{self, FileEntry, One};
use events::{Notice, Source};
use settle::Tracker;
use signals::Signal;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// How often the heartbeat is renewed while nothing happens.
const BEAT_EVERY: Duration = Duration::from_secs(10);
/// The longest wait between attempts to reach ClickHouse.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub struct Watcher<'a> {
    cfg: WatchConfig,
    /// The data folder's id.
    folder: String,
    out: &'a mut dyn Write,
    stop: Arc<AtomicBool>,
    session: Option<Session>,
    state: Option<State>,
    tracker: Tracker,
    source: Source,
    next_rescan: Instant,
    /// Whether the next rescan reads the manifest again too.
    reread: bool,
    next_poll: Option<Instant>,
    next_beat: Instant,
    backoff: Duration,
    record: record::Record,
}

impl<'a> Watcher<'a> {
    pub fn new(cfg: WatchConfig, folder: String, out: &'a mut dyn Write) -> Watcher<'a> {
        let source = events::start(&cfg.run.common.data_dir, cfg.watcher);
        let polling = source.how.starts_with("polling");
        log::info!(
            "watching {} by {}",
            cfg.run.common.data_dir.display(),
            source.how
        );
        let now = Instant::now();
        Watcher {
            tracker: Tracker::new(cfg.run.settle),
            record: record::Record::new(&folder, &source.how),
            next_poll: polling.then_some(now + cfg.poll_interval),
            cfg,
            folder,
            out,
            stop: Arc::new(AtomicBool::new(false)),
            session: None,
            state: None,
            source,
            next_rescan: now,
            reread: false,
            next_beat: now,
            backoff: Duration::from_secs(1),
        }
    }

    /// Watches until asked to stop; `Ok` then. Only an error ClickHouse being unreachable does
    /// not explain ends it early.
    pub async fn run(mut self) -> Result<Exit, Fatal> {
        let mut signals = signals::listen(self.stop.clone())
            .map_err(|e| Fatal::Internal(anyhow::anyhow!("cannot listen for signals: {e}")))?;
        while !self.stop.load(Ordering::SeqCst) {
            if self.session.is_none()
                && let Err(e) = self.connect().await
            {
                self.unreachable(e, &mut signals).await?;
                continue;
            }
            self.step(&mut signals).await?;
        }
        self.record.stopped(&self.cfg, self.session.as_ref());
        Ok(Exit::Ok)
    }

    /// Waits for the next thing to do, and does it.
    async fn step(&mut self, signals: &mut UnboundedReceiver<Signal>) -> Result<(), Fatal> {
        let deadline = self.deadline();
        tokio::select! {
            s = signals.recv() => self.signal(s),
            n = self.source.rx.recv() => {
                let mut next = n;
                while let Some(n) = next {
                    self.notice(n);
                    next = self.source.rx.try_recv().ok();
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
        let now = Instant::now();
        if now >= self.next_rescan {
            self.rescan().await?;
        } else if self.next_poll.is_some_and(|p| now >= p) {
            self.next_poll = Some(now + self.cfg.poll_interval);
            self.look_at_all()?;
        }
        if self
            .tracker
            .next_ready()
            .is_some_and(|at| at + self.cfg.batch_window <= now)
        {
            self.cycle().await?;
        }
        if Instant::now() >= self.next_beat {
            self.beat();
        }
        Ok(())
    }

    /// The next moment something is due.
    fn deadline(&self) -> Instant {
        let mut at = self.next_rescan.min(self.next_beat);
        if let Some(p) = self.next_poll {
            at = at.min(p);
        }
        if let Some(r) = self.tracker.next_ready() {
            at = at.min(r + self.cfg.batch_window);
        }
        at
    }

    fn signal(&mut self, s: Option<Signal>) {
        match s {
            Some(Signal::Reload) => self.reload(),
            Some(Signal::Stop) | None => {}
        }
    }

    fn beat(&mut self) {
        self.next_beat = Instant::now() + BEAT_EVERY;
        let root = self.session.as_ref().map(|s| &**s.root());
        self.record.beat(&self.cfg, root);
    }

    /// Connects, opens the manifest and reads it; the next step scans the whole folder.
    async fn connect(&mut self) -> Result<(), Fatal> {
        let cfg = &self.cfg.run;
        let server = Server::connect(cfg.common.connect.clone()).await?;
        let mut session = Session::open(cfg, server, &self.folder, "", Peers::default()).await?;
        session.manifest.keep_journal();
        self.state = Some(session.load_state().await?);
        self.session = Some(session);
        self.next_rescan = Instant::now();
        self.reread = false;
        self.backoff = Duration::from_secs(1);
        self.record.set_state("watching");
        log::info!("connected; watching for files");
        Ok(())
    }

    /// ClickHouse cannot be reached: waits (noticing files, answering signals), longer each
    /// time. Any other error ends the watcher.
    async fn unreachable(
        &mut self,
        e: Fatal,
        signals: &mut UnboundedReceiver<Signal>,
    ) -> Result<(), Fatal> {
        let Fatal::Unreachable(why) = e else {
            return Err(e);
        };
        let wait = self.backoff.mul_f64(0.75 + fastrand::f64() / 2.0);
        log::warn!("{why}; trying again in {:.1}s", wait.as_secs_f64());
        self.record.set_state("waiting for ClickHouse");
        self.beat();
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        let until = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                s = signals.recv() => self.signal(s),
                n = self.source.rx.recv() => if let Some(n) = n { self.notice(n) },
                _ = tokio::time::sleep_until(until) => return Ok(()),
            }
            if self.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
        }
    }

    /// The server went away during a cycle: what was written may be more than the state knows,
    /// so everything is read again once it is back.
    fn lost_server(&mut self) {
        self.session = None;
        self.state = None;
    }

    /// SIGHUP: reads the config file (and the environment) again. The data folder and lock file
    /// stay as they are; the connection is made again with the new settings.
    fn reload(&mut self) {
        let parsed = crate::config::parse().and_then(|cli| match cli.command {
            crate::config::cli::Command::Watch(args) => WatchConfig::build(&args),
            _ => Err(Fatal::config("not a watch command line")),
        });
        let mut cfg = match parsed {
            Ok(cfg) => cfg,
            Err(e) => {
                log::error!("cannot read the config again, keeping the one in use: {e}");
                return;
            }
        };
        let (old, new) = (&self.cfg.run, &mut cfg.run);
        if new.common.data_dir != old.common.data_dir || new.lock_file != old.lock_file {
            log::warn!("the data folder and lock file stay as they were; restart to change them");
            new.common.data_dir = old.common.data_dir.clone();
            new.lock_file = old.lock_file.clone();
        }
        self.tracker = Tracker::new(cfg.run.settle);
        self.next_poll = self.next_poll.map(|_| Instant::now() + cfg.poll_interval);
        self.cfg = cfg;
        self.lost_server();
        log::warn!("read the config again (SIGHUP)");
    }

    /// Whether a file is read as soon as it is seen: its complete records are final when they
    /// arrive (append mode), so it need not settle.
    fn at_once(&self, entry: &FileEntry) -> bool {
        self.cfg.run.routes.on_change_for(&entry.rel) == OnChange::Append
            && crate::append::appendable(entry.detected)
    }

    /// A file seen changed: waits to be read, unless the manifest knows it as it is.
    fn observe(&mut self, entry: FileEntry) {
        let known = self
            .state
            .as_ref()
            .is_some_and(|s| crate::run::is_known(&self.cfg.run, s, &entry));
        if known {
            self.tracker.forget(&entry.rel);
            return;
        }
        let now = self.at_once(&entry);
        self.tracker.observe(entry, now, Instant::now());
    }

    fn notice(&mut self, n: Notice) {
        let (path, closed) = match n {
            Notice::Lost => {
                log::warn!("file-system events were lost: scanning the folder");
                self.next_rescan = Instant::now();
                return;
            }
            Notice::Touched(p) => (p, false),
            Notice::Closed(p) => (p, true),
        };
        let dir = self.cfg.run.common.data_dir.clone();
        let Ok(inside) = path.strip_prefix(&dir) else {
            return;
        };
        let rel = scan::rel_string(inside, std::path::Path::new(""));
        if rel.is_empty() {
            return;
        }
        let Some(session) = &self.session else {
            self.next_rescan = Instant::now();
            return;
        };
        let run = &self.cfg.run;
        match scan::one(
            session.root(),
            &run.disposal.folders(),
            &rel,
            |rel, name| run.routes.recognise(rel, name),
        ) {
            One::File(entry) => {
                self.observe(entry);
                if closed {
                    self.tracker.closed(&rel);
                }
            }
            One::Ignored => {}
            One::Nothing if path.is_dir() => self.next_rescan = Instant::now(),
            One::Nothing => self.tracker.forget(&rel),
        }
    }

    /// Looks at every file of the folder (polling, or a rescan).
    fn look_at_all(&mut self) -> Result<(), Fatal> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let found = session.scan(&self.cfg.run)?;
        for entry in found.files {
            self.observe(entry);
        }
        Ok(())
    }

    /// Scans the whole folder, reading the manifest again first every other time.
    async fn rescan(&mut self) -> Result<(), Fatal> {
        self.next_rescan = Instant::now() + self.cfg.rescan_interval;
        if self.reread
            && let Some(session) = &mut self.session
        {
            match session.load_state().await {
                Ok(state) => self.state = Some(state),
                Err(e @ Fatal::Unreachable(_)) => {
                    log::warn!("cannot read the manifest: {e}");
                    self.lost_server();
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
            self.record.attention_due = true;
        }
        self.reread = true;
        self.look_at_all()
    }

    /// Reads and sends the files that are ready, as one run.
    async fn cycle(&mut self) -> Result<(), Fatal> {
        let files = self.tracker.take_ready(Instant::now());
        let Some(session) = self.session.as_mut().filter(|_| !files.is_empty()) else {
            return Ok(());
        };
        let start = RunStart::now();
        session.manifest.stamp.run_id = start.run_id.clone();
        let state = self.state.take().unwrap_or_default();
        let opts = PassOptions {
            settle: Duration::ZERO,
            stop: Some(self.stop.clone()),
        };
        // The heartbeat goes on while a long file is sent: busy is not stuck.
        let root = session.root().clone();
        let mut beats =
            tokio::time::interval_at(tokio::time::Instant::now() + BEAT_EVERY, BEAT_EVERY);
        let passed = {
            let pass = session.pass_over(&self.cfg.run, state, files, opts);
            tokio::pin!(pass);
            loop {
                tokio::select! {
                    passed = &mut pass => break passed,
                    _ = beats.tick() => self.record.beat(&self.cfg, Some(&root)),
                }
            }
        };
        let result = passed.map(|(mut report, state)| {
            self.state = Some(state);
            report.elapsed = start.instant.elapsed();
            report
        });
        let unreachable = match &result {
            Ok(r) => r.exit == Exit::Unreachable,
            Err(e) => matches!(e, Fatal::Unreachable(_)),
        };
        self.record
            .cycle(&self.cfg, self.session.as_ref(), &start, &result, self.out)
            .await;
        self.next_beat = Instant::now() + BEAT_EVERY;
        match result {
            _ if unreachable => {
                self.lost_server();
                Ok(())
            }
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }
}
