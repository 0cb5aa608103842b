//! The ZooKeeper session, on a thread with a runtime of its own so that its heartbeats go out
//! whatever the run is doing, holding the run's nodes until it is stopped, and clearing the fence
//! the moment the session is interrupted (a disconnected session may expire, and its lock go to
//! another host, before it reconnects).

use super::claims::{self, Claims};
use super::{Coordination, Holder};
use crate::ch::Fence;
use crate::exit::Fatal;
use std::collections::HashSet;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc as mpsc_tokio;
use tokio::sync::oneshot;
use zookeeper_client as zk;

/// How long ZooKeeper keeps a silent host's session (and its lock): a dead host's shard is free
/// again this long after it died.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

/// Connecting, and each request, may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What taking the lock found.
pub(super) enum Taken {
    /// The lock node is ours; `others` are the other lock nodes of the folder with their
    /// holders, for the caller to judge.
    Held {
        live_runs: HashSet<String>,
        others: Vec<(String, String)>,
    },
    /// Another run holds it: who.
    Refused(String),
}

pub(super) struct Session {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What the session thread is to do.
struct Job {
    coord: Coordination,
    claims: mpsc_tokio::UnboundedReceiver<claims::Request>,
    folder: String,
    name: String,
    holder: Holder,
    fence: Fence,
}

impl Session {
    pub(super) fn start(
        coord: &Coordination,
        folder: &str,
        name: &str,
        holder: &Holder,
        fence: Fence,
    ) -> Result<(Session, Taken, Claims), Fatal> {
        let (claims, requests) = Claims::new();
        let job = Job {
            coord: coord.clone(),
            claims: requests,
            folder: folder.to_owned(),
            name: name.to_owned(),
            holder: holder.clone(),
            fence,
        };
        let (taken_tx, taken_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("zookeeper".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match rt {
                    Ok(rt) => rt.block_on(serve(job, taken_tx, stop_rx)),
                    Err(e) => drop(taken_tx.send(Err(format!("cannot start a runtime: {e}")))),
                }
            })
            .map_err(|e| Fatal::Internal(anyhow::anyhow!("cannot start a thread: {e}")))?;
        let mut session = Session {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match taken_rx.recv() {
            Ok(Ok(taken)) => Ok((session, taken, claims)),
            Ok(Err(why)) => {
                session.stop();
                Err(Fatal::Coordination(format!(
                    "ZooKeeper at {}: {why}",
                    coord.display()
                )))
            }
            Err(_) => {
                session.stop();
                Err(Fatal::Internal(anyhow::anyhow!(
                    "the ZooKeeper session ended before it answered"
                )))
            }
        }
    }

    /// Lets the nodes go and ends the session; waits for it.
    pub(super) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    mut job: Job,
    taken_tx: mpsc::Sender<Result<Taken, String>>,
    stop_rx: oneshot::Receiver<()>,
) {
    let connecting = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_fail_eagerly()
        .connect(&job.coord.hosts);
    let client = match tokio::time::timeout(REQUEST_TIMEOUT, connecting).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return drop(taken_tx.send(Err(format!("cannot connect: {e}")))),
        Err(_) => return drop(taken_tx.send(Err("no answer".to_owned()))),
    };
    let (locks, runs) = (
        format!("{}/locks", job.coord.root),
        format!("{}/runs", job.coord.root),
    );
    let lock = format!("{locks}/{}", job.name);
    let run = format!("{runs}/{}", job.holder.run_id);
    let taken = tokio::time::timeout(REQUEST_TIMEOUT, take(&client, &job, &lock, &run)).await;
    let taken = match taken {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(format!("{e}")),
        Err(_) => Err("no answer".to_owned()),
    };
    let held = matches!(taken, Ok(Taken::Held { .. }));
    let _ = taken_tx.send(taken);
    if held {
        let mut states = client.state_watcher();
        let mut stop_rx = stop_rx;
        let claims_dir = format!("{}/claims", job.coord.root);
        let me = job.holder.describe();
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                state = interrupted(&mut states) => {
                    job.fence.release();
                    log::warn!(
                        "the ZooKeeper session is {state:?}: the lock may go to another host; \
                         nothing more is written"
                    );
                    break;
                }
                Some(request) = job.claims.recv() => {
                    claims::answer(&client, &claims_dir, &me, request).await;
                }
            }
        }
    }
    job.fence.release();
    // A refused run never touches the lock node: it is the holder's.
    let release = async {
        if held {
            let _ = client.delete(&lock, None).await;
        }
        let _ = client.delete(&run, None).await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), release).await;
}

/// Returns when the session leaves the connected state.
async fn interrupted(states: &mut zk::StateWatcher) -> zk::SessionState {
    loop {
        match states.changed().await {
            zk::SessionState::SyncConnected => continue,
            other => return other,
        }
    }
}

/// Registers the run and creates the lock node; what is in the way if it cannot.
async fn take(client: &zk::Client, job: &Job, lock: &str, run: &str) -> Result<Taken, zk::Error> {
    let dir = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let root = &job.coord.root;
    client.mkdir(&format!("{root}/locks"), &dir).await?;
    client.mkdir(&format!("{root}/runs"), &dir).await?;
    client.mkdir(&format!("{root}/claims"), &dir).await?;
    let me = job.holder.describe();
    client.create(run, me.as_bytes(), &ephemeral).await?;
    match client.create(lock, me.as_bytes(), &ephemeral).await {
        Ok(_) => {}
        Err(zk::Error::NodeExists) => {
            let by = holder_of(client, lock).await?;
            return Ok(Taken::Refused(by));
        }
        Err(e) => return Err(e),
    }
    let mut others = Vec::new();
    for child in client.list_children(&format!("{root}/locks")).await? {
        if child != job.name && child.starts_with(&job.folder) {
            let by = holder_of(client, &format!("{root}/locks/{child}")).await?;
            others.push((child, by));
        }
    }
    let live_runs = client
        .list_children(&format!("{root}/runs"))
        .await?
        .into_iter()
        .collect();
    Ok(Taken::Held { live_runs, others })
}

/// Who a lock node says holds it (a node gone meanwhile was held by a run that just ended).
async fn holder_of(client: &zk::Client, path: &str) -> Result<String, zk::Error> {
    match client.get_data(path).await {
        Ok((data, _)) => Ok(String::from_utf8_lossy(&data).into_owned()),
        Err(zk::Error::NoNode) => Ok("a run that just ended".to_owned()),
        Err(e) => Err(e),
    }
}
