//! A progress display for long runs started by hand on a terminal; under cron (stderr not a
//! terminal) there is none at all. Log lines are printed above the bar, never through it. The
//! bar moves as a large file is read, not only when a file is done.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
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
    /// Bytes of files being read that the bar already counts, by path.
    reading: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

/// Counts the bytes of one file as they are read. Cheap to clone.
#[derive(Clone)]
pub struct Reading {
    bar: ProgressBar,
    read: Arc<AtomicU64>,
}

impl Reading {
    /// `n` more bytes of the file were read.
    pub fn read(&self, n: u64) {
        self.read.fetch_add(n, Ordering::Relaxed);
        self.bar.inc(n);
    }
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
                reading: Mutex::new(HashMap::new()),
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

    /// A counter for the bytes of the file at `rel` as it is read, if a bar is shown.
    pub fn reading(&self, rel: &str) -> Option<Reading> {
        let s = self.shown.as_ref()?;
        let read = Arc::new(AtomicU64::new(0));
        if let Ok(mut files) = s.reading.lock() {
            files.insert(rel.to_owned(), read.clone());
        }
        Some(Reading {
            bar: s.bar.clone(),
            read,
        })
    }

    /// The outcome of the file at `rel`, of `bytes` bytes, is known.
    pub fn file_done(&self, rel: &str, bytes: u64) {
        let Some(s) = &self.shown else { return };
        let done = s.done.fetch_add(1, Ordering::Relaxed) + 1;
        let counted = s
            .reading
            .lock()
            .ok()
            .and_then(|mut files| files.remove(rel))
            .map_or(0, |read| read.load(Ordering::Relaxed));
        s.bar.inc(bytes.saturating_sub(counted));
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
