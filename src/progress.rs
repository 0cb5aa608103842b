//! A progress display for long runs started by hand on a terminal; under cron (stderr not a
//! terminal) there is none at all. Log lines are printed above the bar, never through it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The bar on screen, if any, so the log writer can step around it.
static ON_SCREEN: Mutex<Option<ProgressBar>> = Mutex::new(None);

const TEMPLATE: &str =
    "{spinner} {elapsed:>4} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {msg} ({eta} left)";

/// Files and bytes handled so far out of those the run must read. Cheap to clone.
#[derive(Clone, Default)]
pub struct Progress {
    shown: Option<Arc<Shown>>,
}

struct Shown {
    bar: ProgressBar,
    files: AtomicU64,
    done: AtomicU64,
}

impl Progress {
    /// A display on stderr if stderr is a terminal, else nothing.
    pub fn for_stderr() -> Progress {
        if !io::stderr().is_terminal() {
            return Progress::default();
        }
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4))
            .with_style(style);
        Progress {
            shown: Some(Arc::new(Shown {
                bar,
                files: AtomicU64::new(0),
                done: AtomicU64::new(0),
            })),
        }
    }

    /// Sets what the run has to read, and shows the bar.
    pub fn start(&self, files: u64, bytes: u64) {
        let Some(s) = &self.shown else { return };
        if files == 0 {
            return;
        }
        s.files.store(files, Ordering::Relaxed);
        s.bar.set_message(format!("0/{files} files"));
        s.bar.set_length(bytes);
        s.bar
            .enable_steady_tick(std::time::Duration::from_millis(250));
        if let Ok(mut on) = ON_SCREEN.lock() {
            *on = Some(s.bar.clone());
        }
    }

    /// One file's outcome is known.
    pub fn file_done(&self, bytes: u64) {
        let Some(s) = &self.shown else { return };
        let done = s.done.fetch_add(1, Ordering::Relaxed) + 1;
        s.bar.inc(bytes);
        s.bar
            .set_message(format!("{done}/{} files", s.files.load(Ordering::Relaxed)));
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        let Some(s) = &self.shown else { return };
        if let Ok(mut on) = ON_SCREEN.lock() {
            *on = None;
        }
        s.bar.finish_and_clear();
    }
}

/// Where log lines go: stderr, with the progress bar (if shown) lifted while a line is written.
#[derive(Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bar = ON_SCREEN.lock().ok().and_then(|on| on.clone());
        match bar {
            Some(bar) => bar.suspend(|| io::stderr().write_all(buf))?,
            None => io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
