//! What happens to files after a run: ingested ones are kept, moved or deleted, failed ones may be
//! moved to a quarantine folder with an error report beside them. Only files whose content is
//! confirmed in ClickHouse (or confirmed bad) are touched, and only if they have not changed since.

use crate::config::{After, Disposal};
use crate::folder::Folder;
use crate::manifest::{Event, EventRow, FailureKind, Manifest};
use crate::outcome::{FileOutcome, Status};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

impl Disposal {
    /// Applies the disposal to the run's files in the data folder `root`; returns manifest
    /// events to record.
    pub fn apply(
        &self,
        root: &Folder,
        manifest: &Manifest,
        outcomes: &mut [FileOutcome],
    ) -> Vec<EventRow> {
        let mut events = Vec::new();
        let mut done_dir = Target::default();
        let mut quarantine_dir = Target::default();
        for o in outcomes.iter_mut() {
            let done = matches!(
                o.status,
                Status::Ingested | Status::AlreadyIngested | Status::Duplicate
            );
            let bad = (o.status == Status::Failed && o.failed_for_good())
                || o.status == Status::FailedBefore;
            if !(done && self.after != After::Keep || bad && self.quarantine.is_some()) {
                continue;
            }
            if !unchanged(root, o) {
                log::warn!("{} changed since it was read; left in place", o.rel);
                continue;
            }
            let result = if done {
                match &self.after {
                    After::Move(dir) => done_dir
                        .open(root, dir)
                        .and_then(|to| move_into(root, &o.rel, to, &o.rel, &o.hash))
                        .map(|to| append(&mut o.detail, &format!("moved to {}", to.display()))),
                    After::Delete => root
                        .remove(&o.rel)
                        .map(|()| append(&mut o.detail, "deleted")),
                    After::Keep => Ok(()),
                }
            } else {
                let Some(dir) = &self.quarantine else {
                    continue;
                };
                quarantine_dir
                    .open(root, dir)
                    .and_then(|to| quarantine(root, to, o))
                    .map(|to| {
                        let mut ev = manifest.event(Event::Quarantined);
                        ev.path = o.rel.clone();
                        ev.size = o.bytes;
                        ev.mtime_ns = o.mtime_ns;
                        ev.file_hash = o.hash.clone();
                        ev.target_table = o.table.clone();
                        ev.format = o.format.clone();
                        ev.error = o.detail.clone();
                        ev.error_kind = o.failure.unwrap_or(FailureKind::Data).as_str().to_owned();
                        ev.detail = to.display().to_string();
                        events.push(ev);
                        append(&mut o.detail, &format!("quarantined to {}", to.display()));
                    })
            };
            if let Err(e) = result {
                log::error!("{}: cannot dispose of the file: {e}", o.rel);
            }
        }
        events
    }
}

/// A folder files are moved into, opened once a file needs it.
#[derive(Default)]
struct Target(Option<Folder>);

impl Target {
    /// The folder `dir`: beneath the data folder `root` without following a symlink when it
    /// lies inside it (where anyone who drops files could plant one), else where configured.
    fn open(&mut self, root: &Folder, dir: &Path) -> io::Result<&Folder> {
        if self.0.is_none() {
            let folder = match dir.strip_prefix(root.path()) {
                Ok(inside) => root.subfolder(&inside.to_string_lossy(), true)?,
                Err(_) => Folder::open_or_create(dir)?,
            };
            self.0 = Some(folder);
        }
        self.0.as_ref().ok_or_else(|| io::Error::other("no folder"))
    }
}

fn append(detail: &mut String, note: &str) {
    if !detail.is_empty() {
        detail.push_str("; ");
    }
    detail.push_str(note);
}

fn unchanged(root: &Folder, o: &FileOutcome) -> bool {
    root.stat(&o.rel)
        .is_ok_and(|(_, m)| m.len() == o.bytes && crate::folder::mtime_ns(&m) == o.mtime_ns)
}

/// Moves `rel` in `from` to `to_rel` in the folder `to` (making the folders on the way, none of
/// which may be a symlink), adding the hash to the name if something is already there, and
/// copying when the folders are on different file systems. Returns where it went.
pub fn move_into(
    from: &Folder,
    rel: &str,
    to: &Folder,
    to_rel: &str,
    hash: &str,
) -> io::Result<PathBuf> {
    match from.move_to(rel, to, to_rel) {
        Ok(()) => Ok(to.path().join(to_rel)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !hash.is_empty() => {
            let other = format!("{to_rel}.{}", &hash[..hash.len().min(12)]);
            from.move_to(rel, to, &other)?;
            Ok(to.path().join(other))
        }
        Err(e) => Err(e),
    }
}

fn quarantine(root: &Folder, dir: &Folder, o: &FileOutcome) -> io::Result<PathBuf> {
    let to = move_into(root, &o.rel, dir, &o.rel, &o.hash)?;
    let moved = to
        .strip_prefix(dir.path())
        .map_err(io::Error::other)?
        .to_string_lossy()
        .into_owned();
    let report = format!("{moved}.error.txt");
    let text = format!(
        "file: {}\ntable: {}\ncontent hash: {}\nquarantined: {}\n\n{}\n",
        o.rel,
        o.table,
        o.hash,
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
        o.detail
    );
    // A report left from an earlier file of this name goes (a symlink is removed, not followed).
    match dir.remove(&report) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    dir.create_new(&report, 0o644)?.write_all(text.as_bytes())?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_keep_relative_paths_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let root = Folder::open(&dir.path().canonicalize().unwrap()).unwrap();
        let src = root.path().join("sub/a.csv");
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, "one").unwrap();
        let done = root.subfolder("done", true).unwrap();
        let to = move_into(&root, "sub/a.csv", &done, "sub/a.csv", "abcdef0123456789").unwrap();
        assert_eq!(to, root.path().join("done/sub/a.csv"));
        std::fs::write(&src, "two").unwrap();
        let to2 = move_into(&root, "sub/a.csv", &done, "sub/a.csv", "abcdef0123456789").unwrap();
        assert_eq!(to2, root.path().join("done/sub/a.csv.abcdef012345"));
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(&to2).unwrap(), "two");
        assert!(!src.exists());
    }
}
