//! The data folder, and the folders files are moved into, as open directory handles: every path
//! inside one is resolved beneath it a component at a time, never following a symlink the
//! kernel would follow, and every file is checked after it is opened — so nothing dropped into
//! the folder can redirect a read, a write or a move elsewhere, or make a run hang on a FIFO.

mod changes;

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

/// Symlinks followed from one name to its file, each resolved beneath the folder.
const MAX_LINKS: usize = 8;

/// An open folder: paths inside it are relative, with `/` separators.
#[derive(Debug)]
pub struct Folder {
    fd: OwnedFd,
    path: PathBuf,
}

impl PartialEq for Folder {
    fn eq(&self, other: &Folder) -> bool {
        self.path == other.path
    }
}

/// What identifies a file as a scan saw it; a file opened later must still match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

impl Identity {
    pub fn of(meta: &Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: mtime_ns(meta),
        }
    }
}

/// Why a data file was not opened, or not opened as the file the scan saw.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The name, or a folder on the way to it, is a symlink the folder does not allow.
    #[error("{0}")]
    Link(String),
    #[error("not a regular file (a FIFO, socket, device or folder)")]
    NotRegular,
    /// Another file is there now.
    #[error("it was replaced since it was scanned")]
    Replaced,
    /// The file's size or modification time changed since the scan.
    #[error("its size or modification time changed since it was scanned")]
    Changed,
}

impl OpenError {
    /// Whether the file is simply gone.
    pub fn is_gone(&self) -> bool {
        matches!(self, OpenError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }

    /// Whether the name no longer holds the file that was scanned, but something the folder
    /// does not read (a symlink leading out, a FIFO, another file): nothing is read, and the
    /// next scan looks again.
    pub fn is_swap(&self) -> bool {
        matches!(
            self,
            OpenError::Link(_) | OpenError::NotRegular | OpenError::Replaced
        )
    }
}

/// A path that leads through a symlinked folder, or climbs out, is a link problem; anything
/// else is the file system's.
fn walk_error(e: io::Error) -> OpenError {
    match e.kind() {
        io::ErrorKind::InvalidInput => OpenError::Link(e.to_string()),
        _ => OpenError::Io(e),
    }
}

fn oflags_dir() -> OFlags {
    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Splits a relative path into its names, refusing anything that could climb out.
fn components(rel: &str) -> io::Result<Vec<&str>> {
    let names: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    if names.is_empty() || names.iter().any(|c| *c == "." || *c == "..") || rel.starts_with('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel:?} is not a plain relative path"),
        ));
    }
    Ok(names)
}

/// `rel`'s folder joined with a symlink's `target`, resolved lexically; `None` if it leaves the
/// folder. Lexical resolution is exact here: no folder on the way may be a symlink.
fn join_link(rel: &str, target: &str, root: &Path) -> Option<String> {
    let (mut parts, rest): (Vec<&str>, &str) = match target.starts_with('/') {
        true => (
            Vec::new(),
            Path::new(target).strip_prefix(root).ok()?.to_str()?,
        ),
        false => {
            let mut parts: Vec<&str> = rel.split('/').collect();
            parts.pop();
            (parts, target)
        }
    };
    for c in rest.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    (!joined.is_empty()).then_some(joined)
}

impl Folder {
    /// Opens a folder the operator named (its own path is trusted; what lies inside is not).
    pub fn open(path: &Path) -> io::Result<Folder> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Folder {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens a folder the operator named, creating it (and its parents) where missing.
    pub fn open_or_create(path: &Path) -> io::Result<Folder> {
        std::fs::create_dir_all(path)?;
        Folder::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder `rel` beneath this one as a folder of its own, made where missing when
    /// `create`; no folder on the way may be a symlink.
    pub fn subfolder(&self, rel: &str, create: bool) -> io::Result<Folder> {
        let mut fd = rustix::fs::openat(&self.fd, ".", oflags_dir(), Mode::empty())?;
        for name in components(rel)? {
            fd = self.step(&fd, name, create)?;
        }
        Ok(Folder {
            fd,
            path: self.path.join(rel),
        })
    }

    /// Opens the folder `name` in `dir` without following a symlink, making it if `create`.
    fn step(&self, dir: &OwnedFd, name: &str, create: bool) -> io::Result<OwnedFd> {
        let open = || rustix::fs::openat(dir, name, oflags_dir(), Mode::empty());
        let fd = match open() {
            Err(rustix::io::Errno::NOENT) if create => {
                match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                open()?
            }
            // O_DIRECTORY with O_NOFOLLOW refuses a symlink as "not a folder".
            Err(rustix::io::Errno::NOTDIR) | Err(rustix::io::Errno::LOOP) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{name} is not a folder (symlinked folders are not followed)"),
                ));
            }
            other => other?,
        };
        Ok(fd)
    }

    /// The folder holding `rel` and `rel`'s own name in it.
    fn parent_of<'r>(&self, rel: &'r str, create: bool) -> io::Result<(OwnedFd, &'r str)> {
        let names = components(rel)?;
        let (name, dirs) = names
            .split_last()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an empty path"))?;
        let mut fd = rustix::fs::openat(&self.fd, ".", oflags_dir(), Mode::empty())?;
        for d in dirs {
            fd = self.step(&fd, d, create)?;
        }
        Ok((fd, name))
    }

    /// Follows `rel` through symlinks that stay inside the folder (at most `MAX_LINKS`), each
    /// resolved here rather than by the kernel; returns the path of the file they lead to.
    pub fn resolve(&self, rel: &str) -> Result<String, OpenError> {
        let mut rel = rel.to_owned();
        for _ in 0..=MAX_LINKS {
            let (dir, name) = self.parent_of(&rel, false).map_err(walk_error)?;
            let target = match rustix::fs::readlinkat(&dir, name, Vec::new()) {
                Ok(t) => t,
                // Not a symlink.
                Err(rustix::io::Errno::INVAL) => return Ok(rel),
                Err(e) => return Err(io::Error::from(e).into()),
            };
            let target = target.to_str().map_err(|_| {
                OpenError::Link("a symlink whose target is not valid UTF-8".to_owned())
            })?;
            rel = join_link(&rel, target, &self.path).ok_or_else(|| {
                OpenError::Link("symlink leads outside the data folder".to_owned())
            })?;
        }
        Err(OpenError::Link(format!(
            "more than {MAX_LINKS} symlinks in a row"
        )))
    }

    /// What a name holds, following symlinks as `resolve` does: the resolved path and the
    /// file's metadata.
    pub fn stat(&self, rel: &str) -> Result<(String, Metadata), OpenError> {
        let file = self.resolve(rel)?;
        let (dir, name) = self.parent_of(&file, false).map_err(walk_error)?;
        let fd = rustix::fs::openat(
            &dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        let meta = File::from(fd).metadata()?;
        Ok((file, meta))
    }

    /// Opens a file for reading, following symlinks only as `resolve` does, never blocking on
    /// a FIFO or touching a device; only a regular file is returned.
    pub fn open_file(&self, rel: &str) -> Result<File, OpenError> {
        self.open_exact(&self.resolve(rel)?)
    }

    /// Opens the file named `rel` itself for reading: a symlink there is refused, as are
    /// anything but a regular file and any symlinked folder on the way.
    pub fn open_exact(&self, rel: &str) -> Result<File, OpenError> {
        let (dir, name) = self.parent_of(rel, false).map_err(walk_error)?;
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::empty()).map_err(|e| match e {
            rustix::io::Errno::LOOP => OpenError::Link("a symlink, which is not followed".into()),
            e => io::Error::from(e).into(),
        })?;
        let file = File::from(fd);
        if !file.metadata()?.file_type().is_file() {
            return Err(OpenError::NotRegular);
        }
        rustix::fs::fcntl_setfl(&file, OFlags::empty()).map_err(io::Error::from)?;
        Ok(file)
    }

    /// Opens the file a scan saw, checking that it is that same file, settled as it was.
    pub fn open_expected(&self, rel: &str, expected: &Identity) -> Result<File, OpenError> {
        let file = self.open_file(rel)?;
        let now = Identity::of(&file.metadata()?);
        if (now.dev, now.ino) != (expected.dev, expected.ino) {
            return Err(OpenError::Replaced);
        }
        if now != *expected {
            return Err(OpenError::Changed);
        }
        Ok(file)
    }

    /// Whether anything (a symlink included) has the name `rel`.
    pub fn exists(&self, rel: &str) -> bool {
        self.parent_of(rel, false).is_ok_and(|(dir, name)| {
            rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
        })
    }
}

impl AsFd for Folder {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

pub fn mtime_ns(meta: &Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn folder() -> (tempfile::TempDir, Folder) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let f = Folder::open(&root).unwrap();
        (dir, f)
    }

    #[test]
    fn links_are_followed_only_inside_the_folder() {
        let (_dir, f) = folder();
        let root = f.path().to_path_buf();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.csv"), "a").unwrap();
        symlink("sub/a.csv", root.join("rel.csv")).unwrap();
        symlink(root.join("sub/a.csv"), root.join("abs.csv")).unwrap();
        symlink("../rel.csv", root.join("sub/up.csv")).unwrap();
        symlink(outside.path().join("secret"), root.join("out.csv")).unwrap();
        symlink("../../etc/passwd", root.join("sub/climb.csv")).unwrap();
        symlink(outside.path(), root.join("linked")).unwrap();
        symlink("loop.csv", root.join("loop.csv")).unwrap();
        for ok in ["sub/a.csv", "rel.csv", "abs.csv", "sub/up.csv"] {
            assert_eq!(f.resolve(ok).unwrap(), "sub/a.csv", "{ok}");
            assert!(f.open_file(ok).is_ok(), "{ok}");
        }
        for bad in [
            "out.csv",
            "sub/climb.csv",
            "linked/secret",
            "loop.csv",
            "../x",
            "/etc/passwd",
        ] {
            assert!(f.open_file(bad).is_err(), "{bad}");
        }
        assert_eq!(
            f.open_file("out.csv").unwrap_err().to_string(),
            "symlink leads outside the data folder"
        );
    }

    #[test]
    fn fifos_are_refused_without_blocking() {
        let (_dir, f) = folder();
        rustix::fs::mkfifoat(&f, "p.csv", Mode::from_raw_mode(0o644)).unwrap();
        assert!(matches!(f.open_file("p.csv"), Err(OpenError::NotRegular)));
    }

    #[test]
    fn a_file_must_still_be_the_one_scanned() {
        let (_dir, f) = folder();
        std::fs::write(f.path().join("a.csv"), "one").unwrap();
        let seen = Identity::of(&std::fs::metadata(f.path().join("a.csv")).unwrap());
        assert!(f.open_expected("a.csv", &seen).is_ok());
        std::fs::write(f.path().join("b.csv"), "two").unwrap();
        std::fs::rename(f.path().join("b.csv"), f.path().join("a.csv")).unwrap();
        assert!(matches!(
            f.open_expected("a.csv", &seen),
            Err(OpenError::Replaced)
        ));
    }

    #[test]
    fn writes_and_moves_stay_beneath_their_folder() {
        let (_dir, f) = folder();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(f.path().join("done")).unwrap();
        symlink(outside.path(), f.path().join("done/sub")).unwrap();
        std::fs::write(f.path().join("a.csv"), "a").unwrap();
        let done = f.subfolder("done", true).unwrap();
        assert!(f.move_to("a.csv", &done, "sub/a.csv").is_err());
        assert!(done.create_new("sub/a.csv.error.txt", 0o644).is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        f.move_to("a.csv", &done, "new/a.csv").unwrap();
        assert_eq!(
            std::fs::read_to_string(f.path().join("done/new/a.csv")).unwrap(),
            "a"
        );
        std::fs::write(f.path().join("b.csv"), "b").unwrap();
        let err = f.move_to("b.csv", &done, "new/a.csv").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(f.subfolder("done/sub", false).is_err());
    }
}
