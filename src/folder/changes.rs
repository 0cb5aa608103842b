//! Changing what is beneath a folder without ever following a symlink: files made new (never
//! replacing one), the tool's own files opened or made, renames, removals, and moves into another
//! folder (copied and synced across file systems).

use super::Folder;
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;

impl Folder {
    /// Creates a new file `rel` (with the folders on its way), never over anything already
    /// there, symlinks included.
    pub fn create_new(&self, rel: &str, mode: u32) -> io::Result<File> {
        let (dir, name) = self.parent_of(rel, true)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(mode))?;
        Ok(File::from(fd))
    }

    /// Opens this tool's own file `rel` to read and write, making it if missing; never through
    /// a symlink, never anything but a regular file.
    pub fn open_own(&self, rel: &str, mode: u32) -> io::Result<File> {
        let (dir, name) = self.parent_of(rel, false)?;
        let flags = OFlags::RDWR
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::NOCTTY
            | OFlags::CLOEXEC;
        let file = File::from(rustix::fs::openat(
            &dir,
            name,
            flags,
            Mode::from_raw_mode(mode),
        )?);
        if !file.metadata()?.file_type().is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{rel} is not a regular file"),
            ));
        }
        rustix::fs::fcntl_setfl(&file, OFlags::empty())?;
        Ok(file)
    }

    /// Renames `from` to `to` in this folder, replacing what `to` names (a symlink there is
    /// replaced, never followed).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (src_dir, src) = self.parent_of(from, false)?;
        let (dst_dir, dst) = self.parent_of(to, false)?;
        rustix::fs::renameat(&src_dir, src, &dst_dir, dst)?;
        Ok(())
    }

    /// Removes the name `rel` (a symlink is removed itself, never what it points to).
    pub fn remove(&self, rel: &str) -> io::Result<()> {
        let (dir, name) = self.parent_of(rel, false)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::empty())?;
        Ok(())
    }

    /// Moves `from_rel` here to `to_rel` in `to`, making the folders on the way and never
    /// replacing anything (`AlreadyExists` then); across file systems the file is copied,
    /// synced and removed.
    pub fn move_to(&self, from_rel: &str, to: &Folder, to_rel: &str) -> io::Result<()> {
        let (src_dir, src) = self.parent_of(from_rel, false)?;
        let (dst_dir, dst) = to.parent_of(to_rel, true)?;
        match rustix::fs::renameat_with(&src_dir, src, &dst_dir, dst, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) => Err(io::ErrorKind::AlreadyExists.into()),
            Err(rustix::io::Errno::XDEV) => copy_across(&src_dir, src, &dst_dir, dst),
            // A file system without RENAME_NOREPLACE.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                if rustix::fs::statat(&dst_dir, dst, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                match rustix::fs::renameat(&src_dir, src, &dst_dir, dst) {
                    Err(rustix::io::Errno::XDEV) => copy_across(&src_dir, src, &dst_dir, dst),
                    other => Ok(other?),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn copy_across(src_dir: &OwnedFd, src: &str, dst_dir: &OwnedFd, dst: &str) -> io::Result<()> {
    let read = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let mut from = File::from(rustix::fs::openat(src_dir, src, read, Mode::empty())?);
    if !from.metadata()?.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    rustix::fs::fcntl_setfl(&from, OFlags::empty())?;
    let write = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut to = File::from(rustix::fs::openat(
        dst_dir,
        dst,
        write,
        Mode::from_raw_mode(0o644),
    )?);
    let copied = io::copy(&mut from, &mut to).and_then(|_| to.sync_all());
    if let Err(e) = copied {
        let _ = rustix::fs::unlinkat(dst_dir, dst, AtFlags::empty());
        return Err(e);
    }
    rustix::fs::unlinkat(src_dir, src, AtFlags::empty())?;
    Ok(())
}
