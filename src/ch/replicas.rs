//! Several URLs for one deployment (one replica each): requests go to one of them at a time and
//! move on to the next when it becomes unreachable. Nothing is repeated here: a failed request is
//! retried by its caller, and a failed insert is followed by the question of what landed, on
//! whichever replica answers next.
//!
//! And the fence: while a cluster lock guards the run, writes stop the moment the lock may be
//! lost.

use super::{ChError, Server, Sql};
use clickhouse::Client;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub(super) struct Replica {
    pub(super) client: Client,
    pub(super) display_url: Arc<str>,
}

/// The replicas and which of them requests go to now. Cheap to clone; clones share the choice.
#[derive(Clone)]
pub(super) struct Replicas {
    all: Arc<[Replica]>,
    current: Arc<AtomicUsize>,
}

impl Replicas {
    pub(super) fn new(all: Vec<(Client, String)>) -> Replicas {
        Replicas {
            all: all
                .into_iter()
                .map(|(client, url)| Replica {
                    client,
                    display_url: url.into(),
                })
                .collect(),
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.all.len()
    }

    pub(super) fn get(&self, at: usize) -> &Replica {
        &self.all[at % self.all.len()]
    }

    /// The replica requests go to now, and its index.
    pub(super) fn current(&self) -> (usize, &Replica) {
        let at = self.current.load(Ordering::Relaxed);
        (at, self.get(at))
    }

    /// After `e` from replica `at`: when it says the replica is unreachable, the next one takes
    /// the requests (unless another request moved on already).
    pub(super) fn fail_over_if(&self, e: &ChError, at: usize) {
        let gone = matches!(e, ChError::Unreachable { .. } | ChError::Timeout(_));
        if !gone || self.all.len() < 2 {
            return;
        }
        let next = (at + 1) % self.all.len();
        if self
            .current
            .compare_exchange(at, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            log::warn!("{e}; going on with {}", self.get(next).display_url);
        }
    }
}

/// Whether this process may still write: cleared the moment its cluster lock may be lost (the
/// coordination session is disconnected or expired), after which every write is refused.
#[derive(Debug, Clone)]
pub struct Fence {
    held: Arc<AtomicBool>,
    what: Arc<str>,
}

impl Fence {
    /// A fence for the lock described by `what`, held to begin with.
    pub fn new(what: &str) -> Fence {
        Fence {
            held: Arc::new(AtomicBool::new(true)),
            what: what.into(),
        }
    }

    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
    }

    pub fn check(&self) -> Result<(), ChError> {
        match self.held.load(Ordering::SeqCst) {
            true => Ok(()),
            false => Err(ChError::Fenced(self.what.to_string())),
        }
    }
}

impl Server {
    /// Asks every replica the same question, once each (no retry, no failover): the answers of
    /// those that answered, and whether any did not.
    pub async fn fetch_one_everywhere<T>(&self, sql: &Sql) -> (Vec<T>, Option<ChError>)
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        let mut answers = Vec::new();
        let mut failed = None;
        // A replica cut off by the network must not hold up every question for a whole timeout.
        let per_replica = self
            .opts
            .query_timeout
            .min(std::time::Duration::from_secs(10));
        for at in 0..self.replicas.len() {
            let q = sql.build(&self.replicas.get(at).client, self.caps.query_parameters());
            match tokio::time::timeout(per_replica, q.fetch_one::<T>()).await {
                Ok(Ok(v)) => answers.push(v),
                Ok(Err(e)) => {
                    failed = Some(ChError::classify(e, &self.replicas.get(at).display_url))
                }
                Err(_) => failed = Some(ChError::Timeout(per_replica)),
            }
        }
        (answers, failed)
    }
}
