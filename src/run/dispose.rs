//! What happens to files after a run: ingested ones are kept, moved or deleted, failed ones may be
//! moved to a quarantine folder with an error report beside them. Only files whose content is
//! confirmed in ClickHouse (or confirmed bad) are touched, and only if they have not changed since.

use super::outcome::{FileOutcome, Status};
use crate::manifest::{Event, EventRow, KIND_DATA, Manifest};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What to do with a file once its rows are confirmed in ClickHouse.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Keep,
    /// Move into this folder, keeping the path relative to the data folder.
    Move(PathBuf),
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disposal {
    pub after: After,
    pub quarantine: Option<PathBuf>,
}

impl Disposal {
    /// Folders the scan must not descend into.
    pub fn folders(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.quarantine.iter().cloned().collect();
        if let After::Move(done) = &self.after {
            out.push(done.clone());
        }
        out
    }

    /// Applies the disposal to the run's files; returns manifest events to record.
    pub fn apply(
        &self,
        data_dir: &Path,
        manifest: &Manifest,
        outcomes: &mut [FileOutcome],
    ) -> Vec<EventRow> {
        let mut events = Vec::new();
        for o in outcomes.iter_mut() {
            let path = data_dir.join(&o.rel);
            let done = matches!(
                o.status,
                Status::Ingested | Status::AlreadyIngested | Status::Duplicate
            );
            let bad =
                (o.status == Status::Failed && !o.transient) || o.status == Status::FailedBefore;
            if !(done && self.after != After::Keep || bad && self.quarantine.is_some()) {
                continue;
            }
            if !unchanged(&path, o) {
                log::warn!("{} changed since it was read; left in place", o.rel);
                continue;
            }
            let result = if done {
                match &self.after {
                    After::Move(dir) => move_into(&path, dir, &o.rel, &o.hash).map(|to| {
                        append(&mut o.detail, &format!("moved to {}", to.display()));
                    }),
                    After::Delete => {
                        fs::remove_file(&path).map(|()| append(&mut o.detail, "deleted"))
                    }
                    After::Keep => Ok(()),
                }
            } else {
                let Some(dir) = &self.quarantine else {
                    continue;
                };
                quarantine(&path, dir, o).map(|to| {
                    let mut ev = manifest.event(Event::Quarantined);
                    ev.path = o.rel.clone();
                    ev.size = o.bytes;
                    ev.mtime_ns = o.mtime_ns;
                    ev.file_hash = o.hash.clone();
                    ev.target_table = o.table.clone();
                    ev.format = o.format.clone();
                    ev.error = o.detail.clone();
                    ev.error_kind = KIND_DATA.to_owned();
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

fn append(detail: &mut String, note: &str) {
    if !detail.is_empty() {
        detail.push_str("; ");
    }
    detail.push_str(note);
}

fn unchanged(path: &Path, o: &FileOutcome) -> bool {
    fs::metadata(path).is_ok_and(|m| m.len() == o.bytes && crate::scan::mtime_ns(&m) == o.mtime_ns)
}

/// Moves `path` to `dir/rel`, adding the hash to the name if something is already there, and
/// copying when the folders are on different file systems. Returns where it went.
pub fn move_into(path: &Path, dir: &Path, rel: &str, hash: &str) -> io::Result<PathBuf> {
    let mut to = dir.join(rel);
    if to.exists() {
        let short = &hash[..hash.len().min(12)];
        let name = to
            .file_name()
            .map(|n| format!("{}.{short}", n.to_string_lossy()))
            .unwrap_or_else(|| short.to_owned());
        to.set_file_name(name);
    }
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::rename(path, &to) {
        Ok(()) => Ok(to),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            fs::copy(path, &to)?;
            fs::File::open(&to)?.sync_all()?;
            fs::remove_file(path)?;
            Ok(to)
        }
        Err(e) => Err(e),
    }
}

fn quarantine(path: &Path, dir: &Path, o: &FileOutcome) -> io::Result<PathBuf> {
    let to = move_into(path, dir, &o.rel, &o.hash)?;
    let mut report = to.clone().into_os_string();
    report.push(".error.txt");
    let text = format!(
        "file: {}\ntable: {}\ncontent hash: {}\nquarantined: {}\n\n{}\n",
        o.rel,
        o.table,
        o.hash,
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
        o.detail
    );
    fs::write(report, text)?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_keep_relative_paths_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in/sub/a.csv");
        fs::create_dir_all(src.parent().unwrap()).unwrap();
        fs::write(&src, "one").unwrap();
        let done = dir.path().join("done");
        let to = move_into(&src, &done, "sub/a.csv", "abcdef0123456789").unwrap();
        assert_eq!(to, done.join("sub/a.csv"));
        fs::write(&src, "two").unwrap();
        let to2 = move_into(&src, &done, "sub/a.csv", "abcdef0123456789").unwrap();
        assert_eq!(to2, done.join("sub/a.csv.abcdef012345"));
        assert_eq!(fs::read_to_string(&to).unwrap(), "one");
        assert_eq!(fs::read_to_string(&to2).unwrap(), "two");
        assert!(!src.exists());
    }
}
