//! A running watcher's card in the data folder (`.ingest-watch.json`, beside the lock and the
//! folder's id): who it is, how it watches, what it did and when its loop last went round, so
//! that `ingest status` can show it and tell a stuck watcher from an idle one. Written whole
//! and renamed into place through the folder's handle, never through a symlink.

use crate::folder::Folder;
use crate::text::{escape, plural};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::path::Path;

pub const FILE: &str = ".ingest-watch.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Beacon {
    pub pid: u32,
    pub host: String,
    /// RFC 3339, UTC.
    pub started: String,
    /// When its loop last went round (it does while idle too).
    pub heartbeat: String,
    /// When it last ingested or decided a file; empty before the first.
    pub last_cycle: String,
    /// `events (inotify)` or `polling (…)`.
    pub watching_by: String,
    /// `watching`, `waiting for ClickHouse` or `stopped`.
    pub state: String,
    pub cycles: u64,
    pub files: u64,
    pub rows: u64,
}

impl Beacon {
    /// Writes the card into the data folder.
    pub fn write(&self, root: &Folder) -> io::Result<()> {
        let text = serde_json::to_vec(self).map_err(io::Error::other)?;
        let tmp = format!("{FILE}.{}.tmp", std::process::id());
        let written = write_new(root, &tmp, &text).and_then(|()| root.rename(&tmp, FILE));
        if written.is_err() {
            let _ = root.remove(&tmp);
        }
        written
    }

    /// The card in the data folder `dir`, if there is a readable one.
    pub fn read(dir: &Path) -> Option<Beacon> {
        let folder = Folder::open(dir).ok()?;
        let mut text = String::new();
        folder
            .open_exact(FILE)
            .ok()?
            .read_to_string(&mut text)
            .ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Whether the process that wrote the card is alive on this machine (`None`: another
    /// machine's, which cannot be told from here).
    pub fn alive(&self) -> Option<bool> {
        let here = gethostname::gethostname().to_string_lossy().into_owned();
        (self.host == here).then(|| Path::new(&format!("/proc/{}", self.pid)).exists())
    }
}

impl Beacon {
    /// What `status` prints of the card: `watcher: running …` or `not running`, then what it
    /// did; `running` as [`Beacon::alive`] tells it.
    pub fn describe(&self, running: Option<bool>) -> [String; 2] {
        let when = |t: &str| t.replace('T', " ").replace('Z', "");
        let state = match running {
            Some(true) => format!("running ({})", escape(&self.state)),
            Some(false) => "not running".to_owned(),
            None => format!("{} on another machine", escape(&self.state)),
        };
        let last = match self.last_cycle.is_empty() {
            true => "no file yet".to_owned(),
            false => format!("last files at {}", when(&self.last_cycle)),
        };
        [
            format!(
                "watcher: {state}, pid {} on {}, since {}, by {}",
                self.pid,
                escape(&self.host),
                when(&self.started),
                escape(&self.watching_by)
            ),
            format!(
                "         heartbeat {}; {last}; {} cycles, {} files, {} since it started",
                when(&self.heartbeat),
                self.cycles,
                self.files,
                plural(self.rows, "row")
            ),
        ]
    }
}

fn write_new(dir: &Folder, name: &str, bytes: &[u8]) -> io::Result<()> {
    match dir.remove(name) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = dir.create_new(name, 0o644)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::open(dir.path()).unwrap();
        let b = Beacon {
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            state: "watching".into(),
            cycles: 3,
            ..Beacon::default()
        };
        b.write(&folder).unwrap();
        b.write(&folder).unwrap();
        assert_eq!(Beacon::read(dir.path()), Some(b.clone()));
        assert_eq!(b.alive(), Some(true));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
