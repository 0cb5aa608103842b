//! Finding candidate files in the data folder: regular files with a known format, in a fixed order,
//! never files still being written under a temporary name, never anything outside the folder.

use crate::formats::Detected;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;
use walkdir::WalkDir;

/// A file as one observation saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Path relative to the data folder, with `/` separators.
    pub rel: String,
    pub path: PathBuf,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    pub detected: Detected,
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

pub fn mtime_ns(meta: &Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Scans `root` (absolute and canonical), skipping the folders in `exclude`; `detect` says what a
/// file is from its path relative to `root` and its name, or `None` for no data file.
pub fn scan(
    root: &Path,
    exclude: &[PathBuf],
    detect: impl Fn(&str, &str) -> Option<Detected>,
) -> std::io::Result<Scan> {
    std::fs::read_dir(root)?;
    let mut out = Scan::default();
    let walker = WalkDir::new(root)
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
                let rel = err.path().map(|p| rel_string(p, root)).unwrap_or_default();
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
        let rel = rel_string(entry.path(), root);
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
            match symlink_target_inside(entry.path(), root) {
                Ok(meta) => meta,
                Err(reason) => {
                    ignore(&reason);
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
        let Some(detected) = detect(&rel, name) else {
            ignore("unknown file type");
            continue;
        };
        out.files.push(FileEntry {
            rel,
            path: entry.path().to_path_buf(),
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            detected,
        });
    }
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn symlink_target_inside(link: &Path, root: &Path) -> Result<Metadata, String> {
    let target = link
        .canonicalize()
        .map_err(|e| format!("broken symlink: {e}"))?;
    if !target.starts_with(root) {
        return Err("symlink leads outside the data folder".to_owned());
    }
    let meta = std::fs::metadata(&target).map_err(|e| format!("cannot stat: {e}"))?;
    if meta.is_dir() {
        return Err("symlinked folders are not followed".to_owned());
    }
    Ok(meta)
}

fn rel_string(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Looks at a file again, for the settle check.
pub fn restat(entry: &FileEntry) -> Option<(u64, i64)> {
    std::fs::metadata(&entry.path)
        .ok()
        .map(|m| (m.len(), mtime_ns(&m)))
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

        let scan = scan(&root, &[root.join("quarantine")], |_, name| {
            crate::formats::detect(name)
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
