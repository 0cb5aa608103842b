//! Runs on several hosts: the data folder's lock (or the lock of one shard of its files) held as
//! an ephemeral node in ZooKeeper or ClickHouse Keeper, so that it goes with the session of a host
//! that dies, and the runs that are alive, so that a file another live run claimed is left to it.
//! The ZooKeeper client is `zookeeper-client`; this module only names nodes and reads answers.

mod claims;
mod session;
mod shard;

pub use claims::Claims;
pub use shard::Shard;

use crate::ch::Fence;
use crate::exit::Fatal;
use std::collections::HashSet;

/// Where the locks live: `zk://host:port[,host:port…]/path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Coordination {
    /// `host:port,host:port`, as ZooKeeper clients take it.
    pub hosts: String,
    /// The folder of the tool's nodes, e.g. `/ingest`.
    pub root: String,
}

impl Coordination {
    pub fn parse(url: &str) -> Result<Coordination, String> {
        let rest = url
            .strip_prefix("zk://")
            .ok_or("expected zk://host:port[,host:port…]/path")?;
        let (hosts, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/ingest"),
        };
        if hosts.is_empty() || hosts.split(',').any(|h| !valid_host(h)) {
            return Err("expected zk://host:port[,host:port…]/path".to_owned());
        }
        let root = path.trim_end_matches('/');
        let root = if root.is_empty() { "/ingest" } else { root };
        if !root.split('/').skip(1).all(valid_segment) {
            return Err(format!(
                "the path {root} may have only letters, digits, `.`, `_` and `-` between its `/`"
            ));
        }
        Ok(Coordination {
            hosts: hosts.to_owned(),
            root: root.to_owned(),
        })
    }

    /// As it may be shown.
    pub fn display(&self) -> String {
        format!("zk://{}{}", self.hosts, self.root)
    }
}

fn valid_host(h: &str) -> bool {
    let Some((host, port)) = h.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_[]:".contains(c))
        && port.parse::<u16>().is_ok()
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// What this run is, as the nodes it holds say (shown to a run that finds them).
#[derive(Debug, Clone)]
pub struct Holder {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
}

impl Holder {
    pub(super) fn describe(&self) -> String {
        format!("run {} on {} (pid {})", self.run_id, self.host, self.pid)
    }
}

/// The folder's lock in ZooKeeper, held until it is dropped (or the process dies, and its
/// session with it).
pub struct ClusterLock {
    /// Cleared when the session is interrupted: writes stop.
    pub fence: Fence,
    /// Runs alive when the lock was taken (each holds a node while it runs).
    pub live_runs: HashSet<String>,
    /// Claims of content, for runs that share the folder with runs of other shards.
    pub claims: Claims,
    session: session::Session,
}

impl std::fmt::Debug for ClusterLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLock").finish_non_exhaustive()
    }
}

/// The lock node's name: the folder, or the folder and its shard.
fn lock_name(folder: &str, shard: Option<Shard>) -> String {
    match shard {
        None => folder.to_owned(),
        Some(s) => format!("{folder}.{}", s.node_suffix()),
    }
}

/// Whether a lock named `other` keeps a run holding `mine` (of `folder`) out: the whole folder
/// overlaps every shard of it, and shards cut another way overlap each other.
fn overlaps(folder: &str, mine: Option<Shard>, other: &str) -> bool {
    let Some(rest) = other.strip_prefix(folder) else {
        return false;
    };
    let theirs = match rest {
        "" => None,
        r => match r.strip_prefix('.').and_then(Shard::from_node_suffix) {
            Some(s) => Some(s),
            None => return false,
        },
    };
    match (mine, theirs) {
        (Some(a), Some(b)) => a.n != b.n || a.k == b.k,
        _ => true,
    }
}

/// Takes the lock of `folder` (or of its `shard`) for `holder`: exit code 5 when a live run holds
/// it (or an overlapping one), 4 when ZooKeeper cannot be reached.
pub fn acquire(
    coord: &Coordination,
    folder: &str,
    shard: Option<Shard>,
    holder: &Holder,
) -> Result<ClusterLock, Fatal> {
    let name = lock_name(folder, shard);
    let shown = format!("{}/locks/{name}", coord.display());
    let fence = Fence::new(&format!("the cluster lock {shown}"));
    let (mut session, taken, claims) =
        session::Session::start(coord, folder, &name, holder, fence.clone())?;
    let taken = match taken {
        session::Taken::Held { live_runs, others } => {
            match others.iter().find(|(n, _)| overlaps(folder, shard, n)) {
                Some((_, by)) => Err(by.clone()),
                None => Ok(live_runs),
            }
        }
        session::Taken::Refused(by) => Err(by),
    };
    match taken {
        Ok(live_runs) => Ok(ClusterLock {
            fence,
            live_runs,
            claims,
            session,
        }),
        Err(by) => {
            session.stop();
            Err(Fatal::HeldElsewhere {
                lock: shown,
                holder: by,
            })
        }
    }
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        self.fence.release();
        self.session.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordination_urls_parse() {
        let c = Coordination::parse("zk://a:2181,b:2182/ingest/prod").unwrap();
        assert_eq!(c.hosts, "a:2181,b:2182");
        assert_eq!(c.root, "/ingest/prod");
        assert_eq!(Coordination::parse("zk://a:2181").unwrap().root, "/ingest");
        assert!(Coordination::parse("a:2181/x").is_err());
        assert!(Coordination::parse("zk://a/x").is_err());
        assert!(Coordination::parse("zk://a:1/x/../y").is_err());
        assert!(Coordination::parse("zk://a:1/x y").is_err());
    }

    #[test]
    fn the_whole_folder_and_its_shards_keep_each_other_out() {
        let s = |k, n| Some(Shard { k, n });
        assert!(overlaps("f1", None, "f1"));
        assert!(overlaps("f1", None, "f1.shard-0-of-2"));
        assert!(overlaps("f1", s(0, 2), "f1"));
        assert!(overlaps("f1", s(0, 2), "f1.shard-0-of-2"));
        assert!(!overlaps("f1", s(0, 2), "f1.shard-1-of-2"));
        assert!(overlaps("f1", s(0, 2), "f1.shard-1-of-3"));
        assert!(!overlaps("f1", None, "f2"));
        assert!(!overlaps("f1", None, "f10"));
    }
}
