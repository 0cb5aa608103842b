//! What a watcher is told by signals: SIGTERM or SIGINT stop it once the work under way is
//! done (a second one stops it at once, as a crash would, which exactly-once survives); SIGHUP
//! reads the config file again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Stop,
    Reload,
}

/// Listens for the signals on a task of its own; `stop` is set at the first stop signal, so
/// that a pass under way sees it.
pub fn listen(stop: Arc<AtomicBool>) -> std::io::Result<mpsc::UnboundedReceiver<Signal>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let got = tokio::select! {
                _ = term.recv() => Signal::Stop,
                _ = int.recv() => Signal::Stop,
                _ = hup.recv() => Signal::Reload,
            };
            if got == Signal::Stop && stop.swap(true, Ordering::SeqCst) {
                log::warn!("asked to stop again: stopping now; the next start resumes the work");
                std::process::exit(0);
            }
            if got == Signal::Stop {
                log::info!("asked to stop: finishing the work under way");
            }
            if tx.send(got).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}
