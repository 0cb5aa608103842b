//! Finding candidate files in the data folder: regular files with a known format, in a fixed order,
//! never files still being written under a temporary name, never anything outside the folder.

use crate::append::Segment;
use crate::ch::ident::TableRef;
use crate::folder::{Folder, Identity, OpenError};
use crate::formats::Detected;
use crate::manifest::FileFacts;
use crate::rules::Rules;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use walkdir::WalkDir;

/// A file as one observation saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Path relative to the data folder, with `/` separators.
    pub rel: String,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Device and inode of the file (of a symlink's target): opening it checks them.
    pub dev: u64,
    pub ino: u64,
    pub detected: Detected,
    /// The data folder the file is opened beneath.
    pub root: Arc<Folder>,
    /// Only this part of the file is read: it grew since it was ingested (`--on-change append`).
    pub segment: Option<Arc<Segment>>,
    /// How its route says it is written and mapped.
    pub rules: Arc<Rules>,
}

impl FileEntry {
    /// What an event says about the file, once its content and table are known.
    pub fn facts(&self, table: &TableRef, hash: &str) -> FileFacts {
        let seg = self.segment.as_deref().cloned().unwrap_or_default();
        FileFacts {
            path: self.rel.clone(),
            // Of a grown file, what is ingested once this part is: its first `end` bytes.
            size: self.segment.as_ref().map_or(self.size, |s| s.end),
            mtime_ns: self.mtime_ns,
            hash: hash.to_owned(),
            table: table.to_string(),
            format: self.detected.to_string(),
            from_byte: seg.from_byte,
            from_row: seg.from_row,
            prefix_hash: seg.prefix_hash,
        }
    }

    /// The first record's ordinal: 0, or where a grown file's new part starts.
    pub fn first_row(&self) -> u64 {
        self.segment.as_ref().map_or(0, |s| s.from_row)
    }

    pub fn identity(&self) -> Identity {
        Identity {
            dev: self.dev,
            ino: self.ino,
            size: self.size,
            mtime_ns: self.mtime_ns,
        }
    }

    /// Opens the file for reading, if it is still the file the scan saw, settled as it was; a
    /// file read in part (a segment) may have grown since, as long as that part is there.
    pub fn open(&self) -> Result<File, OpenError> {
        match &self.segment {
            None => self.root.open_expected(&self.rel, &self.identity()),
            Some(seg) => self.open_growing(seg.end),
        }
    }

    /// Opens the file for reading if it is still the file the scan saw and holds at least its
    /// first `len` bytes (it may have grown since).
    pub fn open_growing(&self, len: u64) -> Result<File, OpenError> {
        let file = self.root.open_file(&self.rel)?;
        let id = Identity::of(&file.metadata()?);
        match (id.dev, id.ino) == (self.dev, self.ino) {
            true if id.size >= len => Ok(file),
            true => Err(OpenError::Changed),
            false => Err(OpenError::Replaced),
        }
    }
}

/// Something in the data folder that will not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ignored {
    pub rel: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<FileEntry>,
    pub ignored: Vec<Ignored>,
}

/// Names of files that are still being written by their producer.
const TEMP_SUFFIXES: &[&str] = &[".tmp", ".part", ".partial", ".crdownload", ".swp", "~"];

/// Scans the folder `root` (opened at its absolute, canonical path), skipping the folders in
/// `exclude`; `detect` says what a file is from its path relative to `root` and its name, or
/// `None` for no data file. Symlinks count only where they lead to a file inside the folder,
/// through no symlinked folder.
pub fn scan(
    root: &Arc<Folder>,
    exclude: &[PathBuf],
    detect: impl Fn(&str, &str) -> Option<(Detected, Arc<Rules>)>,
) -> std::io::Result<Scan> {
    let dir = root.path();
    std::fs::read_dir(dir)?;
    let mut out = Scan::default();
    let walker = WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_name().to_string_lossy().starts_with('.')
                    || (e.file_type().is_dir() && exclude.iter().any(|x| x == e.path())))
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let rel = err.path().map(|p| rel_string(p, dir)).unwrap_or_default();
                out.ignored.push(Ignored {
                    rel,
                    reason: format!("cannot read: {err}"),
                });
                continue;
            }
        };
        if entry.depth() == 0 || entry.file_type().is_dir() {
            continue;
        }
        let rel = rel_string(entry.path(), dir);
        let mut ignore = |reason: &str| {
            out.ignored.push(Ignored {
                rel: rel.clone(),
                reason: reason.to_owned(),
            })
        };
        let Some(name) = entry.file_name().to_str() else {
            ignore("file name is not valid UTF-8");
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if TEMP_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
            ignore("temporary name: still being written");
            continue;
        }
        let meta = if entry.path_is_symlink() {
            match root.stat(&rel) {
                Ok((_, meta)) if meta.is_dir() => {
                    ignore("symlinked folders are not followed");
                    continue;
                }
                Ok((_, meta)) => meta,
                Err(e) if e.is_gone() => {
                    ignore("broken symlink");
                    continue;
                }
                Err(e) => {
                    ignore(&e.to_string());
                    continue;
                }
            }
        } else {
            match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    ignore(&format!("cannot stat: {e}"));
                    continue;
                }
            }
        };
        if !meta.is_file() {
            ignore("not a regular file");
            continue;
        }
        let Some((detected, rules)) = detect(&rel, name) else {
            ignore("unknown file type");
            continue;
        };
        let id = Identity::of(&meta);
        out.files.push(FileEntry {
            rel,
            size: id.size,
            mtime_ns: id.mtime_ns,
            dev: id.dev,
            ino: id.ino,
            detected,
            root: root.clone(),
            segment: None,
            rules,
        });
    }
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// What one path turned out to be, looked at on its own (a watcher's event names it).
#[derive(Debug)]
pub enum One {
    File(FileEntry),
    /// Not a data file, or one not allowed (as the scan would say).
    Ignored,
    /// Gone, a folder, or a path the scan never looks at (hidden, temporary, excluded).
    Nothing,
}

/// Looks at one path under `root` as the scan would: the same names skipped, the same symlink
/// rules, the same detection.
pub fn one(
    root: &Arc<Folder>,
    exclude: &[PathBuf],
    rel: &str,
    detect: impl Fn(&str, &str) -> Option<(Detected, Arc<Rules>)>,
) -> One {
    let hidden = rel.split('/').any(|c| c.is_empty() || c.starts_with('.'));
    let dir = root.path();
    let excluded = exclude.iter().any(|x| dir.join(rel).starts_with(x));
    let Some(name) = rel.rsplit('/').next().filter(|_| !hidden && !excluded) else {
        return One::Nothing;
    };
    if TEMP_SUFFIXES
        .iter()
        .any(|s| name.to_ascii_lowercase().ends_with(s))
    {
        return One::Nothing;
    }
    let meta = match root.stat(rel) {
        Ok((_, meta)) if meta.is_dir() => return One::Nothing,
        Ok((_, meta)) => meta,
        Err(e) if e.is_gone() => return One::Nothing,
        Err(_) => return One::Ignored,
    };
    if !meta.is_file() {
        return One::Ignored;
    }
    let Some((detected, rules)) = detect(rel, name) else {
        return One::Ignored;
    };
    let id = Identity::of(&meta);
    One::File(FileEntry {
        rel: rel.to_owned(),
        size: id.size,
        mtime_ns: id.mtime_ns,
        dev: id.dev,
        ino: id.ino,
        detected,
        root: root.clone(),
        segment: None,
        rules,
    })
}

/// A path under `root` as the scan names it (relative, with `/`).
pub fn rel_string(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn skips_temporary_hidden_unknown_and_escaping_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.join("b/.hidden")).unwrap();
        fs::create_dir_all(root.join("quarantine")).unwrap();
        for f in [
            "a.csv",
            "b/c.csv",
            "b/.hidden/x.csv",
            ".dot.csv",
            "d.csv.tmp",
            "e.csv.part",
            "notes.txt",
            "quarantine/q.csv",
        ] {
            fs::write(root.join(f), "x\n1\n").unwrap();
        }
        fs::write(outside.path().join("secret.csv"), "x\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.csv"), root.join("link.csv"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("a.csv"), root.join("inner.csv")).unwrap();

        let folder = Arc::new(Folder::open(&root).unwrap());
        let scan = scan(&folder, &[root.join("quarantine")], |_, name| {
            crate::formats::detect(name).map(|d| (d, Arc::default()))
        })
        .unwrap();
        let files: Vec<&str> = scan.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(files, ["a.csv", "b/c.csv", "inner.csv"]);
        let ignored: Vec<(&str, &str)> = scan
            .ignored
            .iter()
            .map(|i| (i.rel.as_str(), i.reason.as_str()))
            .collect();
        assert!(ignored.contains(&("d.csv.tmp", "temporary name: still being written")));
        assert!(ignored.contains(&("e.csv.part", "temporary name: still being written")));
        assert!(ignored.contains(&("notes.txt", "unknown file type")));
        assert!(ignored.contains(&("link.csv", "symlink leads outside the data folder")));
        assert_eq!(scan.files[0].size, 4);
    }
}
