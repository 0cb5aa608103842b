//! One run at a time per data folder: an exclusive `flock` on a lock file, which the kernel
//! releases when the process ends however it ends, so a stale file never blocks a later run.
//!
//! The file lies where anyone who drops data files can write, so it is opened without following
//! a symlink or blocking on a FIFO, must be a regular file, and is never written to: the lock
//! is all it is for. `flock` needs only read access, so a lock file another user (root) made
//! still serves every user who can read it.

use crate::exit::Fatal;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Held for the life of a run; dropping it (or dying) releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Never follow a symlink, never wait for a FIFO's writer, never take a terminal.
const SAFE: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Opens the lock file, making it if missing (readable by all, so that every account that runs
/// `ingest` on the folder can lock it).
fn open(path: &Path) -> io::Result<File> {
    let created = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(SAFE)
        .open(path);
    match created {
        Ok(file) => {
            // Whatever the umask says.
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
            Ok(file)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().read(true).custom_flags(SAFE).open(path)
        }
        Err(e) => Err(e),
    }
}

/// What to tell the operator when the lock file cannot be opened: the file, the cause and the
/// fix; a setup the operator must change is a configuration error, a failing machine (a full
/// disk) an internal one.
fn cannot_open(path: &Path, e: &io::Error) -> Fatal {
    let shown = path.display();
    let meta = std::fs::symlink_metadata(path).ok();
    if e.raw_os_error() == Some(libc::ELOOP) || meta.as_ref().is_some_and(|m| m.is_symlink()) {
        return Fatal::Internal(anyhow::anyhow!(
            "lock file {shown} is a symbolic link, which is never followed; remove it (or set \
             --lock-file to a path outside the data folder)"
        ));
    }
    if e.kind() == io::ErrorKind::PermissionDenied {
        let owner = meta
            .map(|m| {
                format!(
                    " (it belongs to uid {}, mode {:o})",
                    m.uid(),
                    m.mode() & 0o777
                )
            })
            .unwrap_or_default();
        return Fatal::config(format!(
            "cannot open lock file {shown}: permission denied{owner}; make it readable by this \
             user (chmod a+r), remove it so that a run makes it again, or set --lock-file"
        ));
    }
    if e.kind() == io::ErrorKind::NotFound {
        return Fatal::config(format!(
            "cannot create lock file {shown}: its folder is missing"
        ));
    }
    Fatal::Internal(anyhow::anyhow!("cannot create lock file {shown}: {e}"))
}

pub fn acquire(path: &Path) -> Result<RunLock, Fatal> {
    let file = open(path).map_err(|e| cannot_open(path, &e))?;
    let meta = file
        .metadata()
        .map_err(|e| Fatal::Internal(anyhow::anyhow!("cannot look at {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Fatal::Internal(anyhow::anyhow!(
            "lock file {} is not a regular file; remove it",
            path.display()
        )));
    }
    match file.try_lock() {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(Fatal::Locked {
            path: path.to_path_buf(),
            holder: holder(meta.dev(), meta.ino()),
        }),
        Err(TryLockError::Error(e)) => Err(Fatal::Internal(anyhow::anyhow!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// The process holding a `flock` on the file `(dev, ino)`, from the kernel's table of locks
/// (Linux); `None` where that cannot be told.
fn holder(dev: u64, ino: u64) -> Option<u32> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    let want = format!("{major:02x}:{minor:02x}:{ino}");
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        let pid = fields.get(at + 3)?;
        let file = fields.get(at + 4)?;
        (*file == want).then(|| pid.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".ingest.lock");
        let first = acquire(&path).unwrap();
        match acquire(&path) {
            Err(Fatal::Locked { holder, .. }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        assert!(acquire(&path).is_ok());
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn a_symlink_is_never_followed_and_its_target_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let path = dir.path().join(".ingest.lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = acquire(&path).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(err.exit(), crate::exit::Exit::Internal);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn a_full_disk_is_the_machine_and_a_missing_folder_the_setup() {
        let path = Path::new("/no/such/folder/.ingest.lock");
        let full = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(cannot_open(path, &full).exit(), crate::exit::Exit::Internal);
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(
            cannot_open(path, &missing).exit(),
            crate::exit::Exit::Config
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(cannot_open(path, &denied).exit(), crate::exit::Exit::Config);
    }

    #[test]
    fn a_read_only_lock_file_still_locks_and_a_fifo_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.lock");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let held = acquire(&path).unwrap();
        assert!(matches!(acquire(&path), Err(Fatal::Locked { .. })));
        drop(held);
        let fifo = dir.path().join("fifo.lock");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
        )
        .unwrap();
        let err = acquire(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
