//! Which files a watcher may read now: each file's last observation (size, time, inode) and
//! since when it has held, so that a file is read only once it stayed unchanged for the settle
//! interval, or its writer closed it, or its records are final as they arrive (append mode).

use crate::scan::FileEntry;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A file waiting to be read.
struct Waiting {
    entry: FileEntry,
    /// When it was first seen as it is now.
    since: Instant,
    /// Read without settling: its writer closed it, or its complete records are final.
    now: bool,
}

/// Files seen changing and not read yet, by path.
pub struct Tracker {
    settle: Duration,
    files: HashMap<String, Waiting>,
}

fn same(a: &FileEntry, b: &FileEntry) -> bool {
    (a.dev, a.ino, a.size, a.mtime_ns) == (b.dev, b.ino, b.size, b.mtime_ns)
}

impl Tracker {
    pub fn new(settle: Duration) -> Tracker {
        Tracker {
            settle,
            files: HashMap::new(),
        }
    }

    /// A file as it was just seen; `now` reads it without waiting for it to settle.
    pub fn observe(&mut self, entry: FileEntry, now: bool, at: Instant) {
        match self.files.get_mut(&entry.rel) {
            Some(w) if same(&w.entry, &entry) => w.now |= now,
            _ => {
                let rel = entry.rel.clone();
                let since = at;
                self.files.insert(rel, Waiting { entry, since, now });
            }
        }
    }

    /// The writer of a file closed it: as last seen, it is complete.
    pub fn closed(&mut self, rel: &str) {
        if let Some(w) = self.files.get_mut(rel) {
            w.now = true;
        }
    }

    pub fn forget(&mut self, rel: &str) {
        self.files.remove(rel);
    }

    fn ready_from(&self, w: &Waiting) -> Instant {
        match w.now {
            true => w.since,
            false => w.since + self.settle,
        }
    }

    /// When the next file may be read, if any waits.
    pub fn next_ready(&self) -> Option<Instant> {
        self.files.values().map(|w| self.ready_from(w)).min()
    }

    /// The files that may be read at `at`, taken out of the tracker, in path order.
    pub fn take_ready(&mut self, at: Instant) -> Vec<FileEntry> {
        let ready: Vec<String> = self
            .files
            .iter()
            .filter(|(_, w)| self.ready_from(w) <= at)
            .map(|(rel, _)| rel.clone())
            .collect();
        let mut out: Vec<FileEntry> = ready
            .iter()
            .filter_map(|rel| self.files.remove(rel))
            .map(|w| w.entry)
            .collect();
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::Folder;
    use std::sync::Arc;

    fn entry(rel: &str, size: u64) -> FileEntry {
        FileEntry {
            rel: rel.into(),
            size,
            mtime_ns: 1,
            dev: 1,
            ino: 2,
            detected: crate::formats::detect(rel).unwrap(),
            root: Arc::new(Folder::open(std::path::Path::new(".")).unwrap()),
            segment: None,
            rules: Arc::default(),
        }
    }

    #[test]
    fn a_file_is_ready_once_it_held_for_the_settle_interval_or_was_closed() {
        let t0 = Instant::now();
        let s = Duration::from_secs(3);
        let mut t = Tracker::new(s);
        t.observe(entry("a.csv", 10), false, t0);
        t.observe(entry("b.csv", 10), false, t0);
        assert_eq!(t.next_ready(), Some(t0 + s));
        assert!(t.take_ready(t0 + Duration::from_secs(2)).is_empty());
        // a.csv grew: its wait starts again; b.csv was closed by its writer.
        t.observe(entry("a.csv", 20), false, t0 + Duration::from_secs(2));
        t.closed("b.csv");
        let ready = t.take_ready(t0 + Duration::from_secs(2));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].rel, "b.csv");
        assert!(t.take_ready(t0 + Duration::from_secs(4)).is_empty());
        let ready = t.take_ready(t0 + Duration::from_secs(5));
        assert_eq!((ready[0].rel.as_str(), ready[0].size), ("a.csv", 20));
        assert_eq!(t.next_ready(), None);
        // Seen again unchanged, a file keeps its wait.
        t.observe(entry("c.jsonl", 5), true, t0);
        t.observe(entry("c.jsonl", 5), false, t0 + s);
        assert_eq!(t.next_ready(), Some(t0));
    }
}
