//! The identity of a data folder in the manifest. Paths in the manifest are relative to their
//! folder, so two folders sharing a manifest must never read each other's paths: every event
//! carries the id of its folder. The id lives in a small file inside the folder (so the folder
//! keeps it when it is reached by another path, mounted on another host or moved), or is set in
//! the config (`folder_id`), which several hosts serving one logical folder can share.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The file inside the data folder that holds its id (a dotfile: never taken for data).
pub const ID_FILE: &str = ".ingest-folder-id";

const HEADER: &str = "# The identity of this data folder in ingest's manifest: keep this file with the \
                      folder (when it moves, or is shared by several hosts).\n";

/// A folder id: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn check(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "`{}` is not a folder id (1 to 64 letters, digits, `.`, `_` or `-`)",
            crate::text::escape(id)
        )),
    }
}

/// Where a folder's id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--folder-id`, `INGEST_FOLDER_ID` or `folder_id` in the config file.
    Config,
    /// The id file in the folder.
    File,
    /// Made now and written to the id file.
    Created,
    /// Derived from the folder's path: the id file could not be written (a read-only folder),
    /// or, in a dry run, is not written.
    Path,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderId {
    pub id: String,
    pub source: Source,
}

/// The id of `data_dir` (absolute and canonical): the configured one, else the id file's, else a
/// new one written to the id file when `create` is set, else one derived from the path.
pub fn resolve(
    data_dir: &Path,
    configured: Option<&str>,
    create: bool,
) -> Result<FolderId, String> {
    if let Some(id) = configured {
        check(id).map_err(|e| format!("--folder-id: {e}"))?;
        return Ok(FolderId {
            id: id.to_owned(),
            source: Source::Config,
        });
    }
    let file = data_dir.join(ID_FILE);
    if let Some(id) = read(&file)? {
        return Ok(FolderId {
            id,
            source: Source::File,
        });
    }
    if create {
        match write_new(data_dir, &new_id()) {
            Ok(id) => {
                return Ok(FolderId {
                    id,
                    source: Source::Created,
                });
            }
            Err(e) => log::warn!(
                "cannot write {}: {e}; this folder is known by its path instead (set folder_id \
                 in the config to keep its identity if the folder moves)",
                file.display()
            ),
        }
    }
    Ok(FolderId {
        id: path_id(data_dir),
        source: Source::Path,
    })
}

/// The id the file holds, if there is one. The file is opened without following a symlink or
/// waiting on a FIFO, and must be a regular file.
pub fn read(file: &Path) -> Result<Option<String>, String> {
    let bad = |why: String| format!("folder id file {}: {why}", file.display());
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(file);
    let mut f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(bad("is a symlink".to_owned()));
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let meta = f.metadata().map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("is not a regular file".to_owned()));
    }
    let mut text = String::new();
    (&mut f)
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| bad(e.to_string()))?;
    let id = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| bad("holds no id".to_owned()))?;
    check(id).map_err(bad)?;
    Ok(Some(id.to_owned()))
}

/// A new random id: 16 hex digits.
fn new_id() -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&fastrand::u64(..).to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.update(&now.to_le_bytes());
    hasher.finalize().to_hex()[..16].to_owned()
}

/// The id of a folder that cannot hold an id file: from its path.
fn path_id(data_dir: &Path) -> String {
    let hash = blake3::hash(data_dir.as_os_str().as_encoded_bytes());
    format!("path-{}", &hash.to_hex()[..16])
}

/// Writes the id file whole or not at all (a temporary file linked into place); if another
/// process wrote one first, that id wins.
fn write_new(data_dir: &Path, id: &str) -> io::Result<String> {
    let file = data_dir.join(ID_FILE);
    let tmp = data_dir.join(format!("{ID_FILE}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(format!("{HEADER}{id}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, &file)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(id.to_owned()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(&file)
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("the id file is empty")),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_made_once_and_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(dir.path(), None, true).unwrap();
        assert_eq!(first.source, Source::Created);
        assert_eq!(first.id.len(), 16);
        let again = resolve(dir.path(), None, true).unwrap();
        assert_eq!(again.id, first.id);
        assert_eq!(again.source, Source::File);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        let configured = resolve(dir.path(), Some("shop-eu"), true).unwrap();
        assert_eq!(configured.id, "shop-eu");
    }

    #[test]
    fn without_writing_the_id_comes_from_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let id = resolve(dir.path(), None, false).unwrap();
        assert_eq!(id.source, Source::Path);
        assert!(id.id.starts_with("path-"));
        assert!(!dir.path().join(ID_FILE).exists());
    }

    #[test]
    fn a_planted_symlink_or_a_bad_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret");
        std::fs::write(&target, "abc\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(ID_FILE)).unwrap();
        let err = resolve(dir.path(), None, true).unwrap_err();
        assert!(err.ends_with("is a symlink"), "{err}");
        std::fs::remove_file(dir.path().join(ID_FILE)).unwrap();
        std::fs::write(dir.path().join(ID_FILE), "# c\nno spaces allowed\n").unwrap();
        assert!(resolve(dir.path(), None, true).is_err());
        assert!(check("a\u{1b}").is_err());
        assert!(check(&"x".repeat(65)).is_err());
    }
}
