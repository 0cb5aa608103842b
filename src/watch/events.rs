//! How a watcher hears of files: inotify events through the `notify` crate, or nothing at all
//! (polling), chosen by `--watcher` or, by default, by the file system the folder is on: network
//! and FUSE file systems do not deliver events for changes made by other machines.

use crate::config::WatcherKind;
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Something happened to a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Created, written, renamed or removed: look at it again.
    Touched(PathBuf),
    /// Its writer closed it after writing.
    Closed(PathBuf),
    /// Events were lost (the kernel's queue overflowed): scan everything.
    Lost,
}

/// Where notices come from.
pub struct Source {
    /// Dropping it stops the events.
    _watcher: Option<RecommendedWatcher>,
    pub rx: mpsc::UnboundedReceiver<Notice>,
    /// `events (inotify)` or `polling`, for logs and `status`.
    pub how: String,
}

/// File systems whose changes made elsewhere raise no inotify event (statfs magic numbers).
const NO_EVENTS: &[(u64, &str)] = &[
    (0x6969, "nfs"),
    (0x517b, "smb"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x6573_5546, "fuse"),
    (0x00c3_6400, "ceph"),
    (0x0102_1997, "9p"),
    (0x5346_414f, "afs"),
    (0x0bd0_0bd0, "lustre"),
    (0x4750_4653, "gpfs"),
    (0x0116_1970, "gfs2"),
];

/// The network file system `dir` is on, if it is one without events.
fn network_fs(dir: &Path) -> Option<&'static str> {
    let magic = rustix::fs::statfs(dir).ok()?.f_type as u64;
    NO_EVENTS.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n)
}

/// Starts listening to `dir` as `kind` asks; polling where events cannot be had.
pub fn start(dir: &Path, kind: WatcherKind) -> Source {
    let (tx, rx) = mpsc::unbounded_channel();
    let polling = |how: String| Source {
        _watcher: None,
        rx: mpsc::unbounded_channel().1,
        how,
    };
    match (kind, network_fs(dir)) {
        (WatcherKind::Poll, _) => return polling("polling (--watcher poll)".to_owned()),
        (WatcherKind::Auto, Some(fs)) => {
            log::info!(
                "{} is on {fs}, which delivers no events: polling",
                dir.display()
            );
            return polling(format!("polling ({fs} delivers no events)"));
        }
        _ => {}
    }
    match listen(dir, tx) {
        Ok(watcher) => Source {
            _watcher: Some(watcher),
            rx,
            how: "events (inotify)".to_owned(),
        },
        Err(e) => {
            log::warn!("cannot watch {} for events ({e}): polling", dir.display());
            polling(format!("polling (no events: {e})"))
        }
    }
}

fn listen(dir: &Path, tx: mpsc::UnboundedSender<Notice>) -> notify::Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if dropped() {
            return;
        }
        let notices = match res {
            Ok(event) => notices(event),
            Err(e) => {
                log::warn!("file-system events: {e}");
                vec![Notice::Lost]
            }
        };
        for n in notices {
            let _ = tx.send(n);
        }
    })?;
    watcher.watch(dir, RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// The tests' lost events: every event is dropped while the failpoint is armed.
fn dropped() -> bool {
    #[cfg(feature = "failpoints")]
    return fail::eval("watch-drop-events", |_| ()).is_some();
    #[cfg(not(feature = "failpoints"))]
    false
}

fn notices(event: notify::Event) -> Vec<Notice> {
    if event.need_rescan() {
        return vec![Notice::Lost];
    }
    let closed = matches!(
        event.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
    );
    let touched = matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any
    );
    event
        .paths
        .into_iter()
        .filter_map(|p| match (closed, touched) {
            (true, _) => Some(Notice::Closed(p)),
            (false, true) => Some(Notice::Touched(p)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_closes_and_overflows_become_notices() {
        let p = PathBuf::from("/d/a.csv");
        let ev = |kind| notify::Event::new(kind).add_path(p.clone());
        assert_eq!(
            notices(ev(EventKind::Access(AccessKind::Close(AccessMode::Write)))),
            [Notice::Closed(p.clone())]
        );
        assert_eq!(
            notices(ev(EventKind::Create(notify::event::CreateKind::File))),
            [Notice::Touched(p.clone())]
        );
        assert!(notices(ev(EventKind::Access(AccessKind::Read))).is_empty());
        let lost = notify::Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(notices(lost), [Notice::Lost]);
    }
}
