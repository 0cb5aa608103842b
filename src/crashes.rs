//! Files that crash the process. Before a file is read, the run writes its name into a marker
//! of its own, beside the lock file and locked while the process lives; a marker found unlocked
//! was left by a process that died reading the file it names. Those deaths are counted per file
//! (by name, size and modification time); a file whose reading ended in a crash twice in a row
//! is set aside as `poison` instead of being read a third time, and the run goes on.
//!
//! A run reads in two places at once: the first pass of one file and the second pass of an
//! earlier one. A death while both are noted is blamed on the first pass (the second reads bytes
//! its own first pass has read without harm); a death in a second pass alone is the second
//! pass's, and a clean first pass does not clear it. Time spent waiting for the server is not
//! reading: the marker is cleared while a pass waits.
//!
//! The trace is local rather than in the manifest so that it costs no insert per file, works in
//! a dry run (which writes nothing to ClickHouse) and needs no server. It is not synced: a
//! process that dies leaves what it wrote to the kernel, which is all it guards against. It is
//! best effort: where no marker can be made, files are read without one.

use crate::folder::Folder;
use crate::scan::FileEntry;
use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Crashes in a row after which a file is set aside.
pub const POISON_AFTER: u32 = 2;

/// Which pass over a file was reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The first (or only) read: settle, hash, check every record.
    First,
    /// A large file read again to send its rows.
    Second,
}

impl Pass {
    fn index(self) -> usize {
        match self {
            Pass::First => 0,
            Pass::Second => 1,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Pass::First => "first",
            Pass::Second => "second",
        }
    }

    fn parse(tag: &str) -> Option<Pass> {
        match tag {
            "first" => Some(Pass::First),
            "second" => Some(Pass::Second),
            _ => None,
        }
    }
}

/// Consecutive crashes while reading one version of a file, and in which pass the last one was.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Count {
    size: u64,
    mtime_ns: i64,
    crashes: u32,
    pass: Pass,
}

/// One line naming a file read in a pass: `pass size mtime "rel"`, the name as a JSON string.
fn line(pass: Pass, size: u64, mtime_ns: i64, rel: &str) -> String {
    let name = serde_json::to_string(rel).unwrap_or_default();
    format!("{} {size} {mtime_ns} {name}\n", pass.tag())
}

fn parse_line(text: &str) -> Option<(Pass, u64, i64, String)> {
    let mut parts = text.splitn(4, ' ');
    let pass = Pass::parse(parts.next()?)?;
    let size = parts.next()?.parse().ok()?;
    let mtime = parts.next()?.parse().ok()?;
    let rel = serde_json::from_str(parts.next()?).ok()?;
    Some((pass, size, mtime, rel))
}

type Counts = HashMap<String, Count>;

/// The counts file's text: `crashes pass size mtime "rel"` lines; a damaged line is skipped.
fn parse_counts(text: &str) -> Counts {
    let mut counts = Counts::new();
    for l in text.lines() {
        let Some((crashes, rest)) = l.split_once(' ') else {
            continue;
        };
        if let (Ok(crashes), Some((pass, size, mtime_ns, rel))) =
            (crashes.parse(), parse_line(rest))
        {
            let count = Count {
                size,
                mtime_ns,
                crashes,
                pass,
            };
            counts.insert(rel, count);
        }
    }
    counts
}

fn render_counts(counts: &Counts) -> String {
    let mut rels: Vec<&String> = counts.keys().collect();
    rels.sort();
    rels.into_iter()
        .map(|rel| {
            let c = counts[rel];
            format!("{} {}", c.crashes, line(c.pass, c.size, c.mtime_ns, rel))
        })
        .collect()
}

#[derive(Debug)]
struct Marker {
    name: String,
    file: File,
    /// By pass: the file being read, and whether the pass is reading it now (not waiting).
    reading: [Option<String>; 2],
    active: [bool; 2],
}

impl Marker {
    /// Writes what the passes are reading now.
    fn write(&mut self) {
        let text: String = self
            .reading
            .iter()
            .zip(self.active)
            .filter_map(|(line, active)| line.as_deref().filter(|_| active))
            .collect();
        let _ = self
            .file
            .set_len(0)
            .and_then(|()| self.file.write_all_at(text.as_bytes(), 0));
    }
}

/// The crash record of one data folder, as this process keeps it.
#[derive(Debug, Default)]
pub struct Crashes {
    dir: Option<Folder>,
    /// The lock file's name; the record's files are named after it.
    base: String,
    marker: Option<Marker>,
    counts: Counts,
}

impl Crashes {
    /// A record that keeps nothing.
    pub fn none() -> Crashes {
        Crashes::default()
    }

    /// Opens the record kept beside `lock_file`: counts the deaths that unlocked markers tell of
    /// (removing those markers) and makes this process's marker.
    pub fn open(lock_file: &Path) -> Crashes {
        let (Some(parent), Some(base)) = (lock_file.parent(), lock_file.file_name()) else {
            return Crashes::none();
        };
        let parent = match parent.as_os_str().is_empty() {
            true => Path::new("."),
            false => parent,
        };
        let mut c = Crashes {
            dir: Folder::open(parent)
                .inspect_err(|e| log::debug!("no crash record in {}: {e}", parent.display()))
                .ok(),
            base: base.to_string_lossy().into_owned(),
            marker: None,
            counts: Counts::new(),
        };
        if let Err(e) = c.update(Crashes::count_deaths) {
            log::debug!("cannot keep the crash record: {e}");
        }
        c.marker = c.new_marker();
        c
    }

    fn counts_name(&self) -> String {
        format!("{}.crashes", self.base)
    }

    fn marker_prefix(&self) -> String {
        format!("{}.reading-", self.base)
    }

    /// Reads the counts afresh under the counts file's lock, changes them with `change` and
    /// writes them back if it says they changed (in place, so the lock stays on one file).
    fn update(
        &mut self,
        change: impl FnOnce(&Crashes, &mut Counts) -> bool,
    ) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let file = dir.open_own(&self.counts_name(), 0o644)?;
        file.lock()?;
        let mut text = String::new();
        // A damaged file (not text) counts as empty.
        let _ = (&file).read_to_string(&mut text);
        let mut counts = parse_counts(&text);
        if change(self, &mut counts) {
            file.set_len(0)?;
            file.write_all_at(render_counts(&counts).as_bytes(), 0)?;
        }
        self.counts = counts;
        Ok(())
    }

    /// Adds the deaths that unlocked markers tell of, removing the markers.
    fn count_deaths(&self, counts: &mut Counts) -> bool {
        let Some(dir) = &self.dir else {
            return false;
        };
        let Ok(names) = std::fs::read_dir(dir.path()) else {
            return false;
        };
        let prefix = self.marker_prefix();
        let mut changed = false;
        for entry in names.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&prefix) {
                continue;
            }
            let Ok(marker) = dir.open_exact(&name) else {
                continue;
            };
            if let Err(TryLockError::WouldBlock | TryLockError::Error(_)) = marker.try_lock() {
                continue;
            }
            let mut said = String::new();
            let _ = (&marker).read_to_string(&mut said);
            let lines: Vec<_> = said.lines().filter_map(parse_line).collect();
            let first = lines.iter().any(|(pass, ..)| *pass == Pass::First);
            for (pass, size, mtime_ns, rel) in lines {
                if first && pass == Pass::Second {
                    continue;
                }
                log::warn!("an earlier run died while reading {rel}");
                let fresh = Count {
                    size,
                    mtime_ns,
                    crashes: 0,
                    pass,
                };
                let count = counts.entry(rel).or_insert(fresh);
                if (count.size, count.mtime_ns) != (size, mtime_ns) {
                    *count = fresh;
                }
                count.crashes += 1;
                count.pass = pass;
                changed = true;
            }
            let _ = dir.remove(&name);
        }
        changed
    }

    /// This process's marker, locked; a name another process locked first is given up.
    fn new_marker(&self) -> Option<Marker> {
        let dir = self.dir.as_ref()?;
        for _ in 0..8 {
            let name = format!("{}{:016x}", self.marker_prefix(), fastrand::u64(..));
            let file = match dir.create_new(&name, 0o644) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    log::debug!("no crash marker: {e}");
                    return None;
                }
            };
            if file.try_lock().is_ok() {
                return Some(Marker {
                    name,
                    file,
                    reading: [None, None],
                    active: [false, false],
                });
            }
        }
        None
    }

    /// How often reading this version of the file ended in a crash, in a row.
    pub fn crashes(&self, entry: &FileEntry) -> u32 {
        match self.counts.get(&entry.rel) {
            Some(c) if (c.size, c.mtime_ns) == (entry.size, entry.mtime_ns) => c.crashes,
            _ => 0,
        }
    }

    /// Whether the file is to be set aside rather than read.
    pub fn is_poison(&self, entry: &FileEntry) -> bool {
        self.crashes(entry) >= POISON_AFTER
    }

    /// Notes that `pass` starts reading `entry`.
    pub fn enter(&mut self, pass: Pass, entry: &FileEntry) {
        if let Some(m) = &mut self.marker {
            m.reading[pass.index()] = Some(line(pass, entry.size, entry.mtime_ns, &entry.rel));
            m.active[pass.index()] = true;
            m.write();
        }
    }

    /// Clears `pass` from the marker while it waits for something other than the file (a death
    /// then is not the file's doing); `resume` notes it again.
    pub fn pause(&mut self, pass: Pass) {
        if let Some(m) = &mut self.marker
            && m.active[pass.index()]
        {
            m.active[pass.index()] = false;
            m.write();
        }
    }

    pub fn resume(&mut self, pass: Pass) {
        if let Some(m) = &mut self.marker
            && m.reading[pass.index()].is_some()
            && !m.active[pass.index()]
        {
            m.active[pass.index()] = true;
            m.write();
        }
    }

    /// Notes that `pass` ended reading `rel` without a crash: crashes it could have caused no
    /// longer count (a first pass does not clear a second pass's).
    pub fn leave(&mut self, pass: Pass, rel: &str) {
        if let Some(m) = &mut self.marker {
            m.reading[pass.index()] = None;
            m.active[pass.index()] = false;
            m.write();
        }
        let clears = match self.counts.get(rel) {
            Some(c) => pass == Pass::Second || c.pass == Pass::First,
            None => false,
        };
        if clears {
            self.forget(rel);
        }
    }

    /// Drops a file's count: it read fine, or its poison is recorded in the manifest now (so
    /// that `ingest retry` starts it from nothing).
    pub fn forget(&mut self, rel: &str) {
        let result = self.update(|_, counts| counts.remove(rel).is_some());
        if let Err(e) = result {
            log::debug!("cannot keep the crash record: {e}");
        }
    }
}

impl Drop for Crashes {
    /// A process that ends normally takes its marker with it.
    fn drop(&mut self) {
        if let (Some(dir), Some(m)) = (&self.dir, self.marker.take()) {
            let _ = dir.remove(&m.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn entry(dir: &Path, rel: &str) -> FileEntry {
        std::fs::write(dir.join(rel), "x\n1\n").unwrap();
        let meta = std::fs::metadata(dir.join(rel)).unwrap();
        let id = crate::folder::Identity::of(&meta);
        FileEntry {
            rel: rel.to_owned(),
            size: id.size,
            mtime_ns: id.mtime_ns,
            dev: id.dev,
            ino: id.ino,
            detected: crate::formats::detect(rel).unwrap(),
            root: Arc::new(Folder::open(dir).unwrap()),
            segment: None,
            rules: Arc::default(),
        }
    }

    /// What a process that dies while reading leaves: its marker, unlocked.
    fn die_reading(lock: &Path, reading: &[(Pass, &FileEntry)]) {
        let mut c = Crashes::open(lock);
        for (pass, e) in reading {
            c.enter(*pass, e);
        }
        if let Some(m) = c.marker.take() {
            drop(m.file);
        }
    }

    #[test]
    fn two_deaths_in_a_row_make_a_file_poison_and_a_good_read_clears_one() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".ingest.lock");
        let (a, b) = (entry(dir.path(), "a.jsonl"), entry(dir.path(), "b.jsonl"));
        die_reading(&lock, &[(Pass::First, &a)]);
        let mut c = Crashes::open(&lock);
        assert_eq!((c.crashes(&a), c.crashes(&b)), (1, 0));
        assert!(!c.is_poison(&a));
        // A run reading `b` meanwhile is alive: its marker is not counted.
        c.enter(Pass::First, &b);
        die_reading(&lock, &[(Pass::First, &a)]);
        let again = Crashes::open(&lock);
        assert!(again.is_poison(&a));
        assert_eq!(again.crashes(&b), 0);
        c.leave(Pass::First, &b.rel);
        drop(c);
        drop(again);
        let mut third = Crashes::open(&lock);
        assert!(third.is_poison(&a));
        third.forget(&a.rel);
        assert!(!Crashes::open(&lock).is_poison(&a));
        let markers = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".reading-"))
            .count();
        // Only the live record's own marker.
        assert_eq!(markers, 1);
    }

    #[test]
    fn a_changed_file_starts_counting_again() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".ingest.lock");
        let a = entry(dir.path(), "a.jsonl");
        die_reading(&lock, &[(Pass::First, &a)]);
        die_reading(&lock, &[(Pass::First, &a)]);
        let mut changed = a.clone();
        changed.size += 1;
        let c = Crashes::open(&lock);
        assert!(c.is_poison(&a));
        assert_eq!(c.crashes(&changed), 0);
    }

    #[test]
    fn a_death_in_both_passes_is_the_first_pass_and_one_in_a_second_pass_stays() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".ingest.lock");
        let (a, b) = (entry(dir.path(), "a.csv"), entry(dir.path(), "b.csv"));
        die_reading(&lock, &[(Pass::Second, &a), (Pass::First, &b)]);
        let c = Crashes::open(&lock);
        assert_eq!((c.crashes(&a), c.crashes(&b)), (0, 1));
        drop(c);
        die_reading(&lock, &[(Pass::Second, &a)]);
        let mut c = Crashes::open(&lock);
        assert_eq!(c.crashes(&a), 1);
        // A first pass that reads it fine does not clear a second pass's crash…
        c.enter(Pass::First, &a);
        c.leave(Pass::First, &a.rel);
        assert_eq!(c.crashes(&a), 1);
        // …and a pass that waits is not reading.
        c.enter(Pass::Second, &a);
        c.pause(Pass::Second);
        drop(c.marker.take().map(|m| m.file));
        drop(c);
        let mut c = Crashes::open(&lock);
        assert_eq!(c.crashes(&a), 1);
        c.enter(Pass::Second, &a);
        c.leave(Pass::Second, &a.rel);
        assert_eq!(c.crashes(&a), 0);
    }

    #[test]
    fn names_survive_the_record() {
        let mut counts = Counts::new();
        let odd = "we ird\n\"name\".jsonl";
        counts.insert(
            odd.to_owned(),
            Count {
                size: 3,
                mtime_ns: -5,
                crashes: 2,
                pass: Pass::Second,
            },
        );
        assert_eq!(parse_counts(&render_counts(&counts)), counts);
        assert!(parse_counts("garbage\n1 2\n").is_empty());
    }
}
