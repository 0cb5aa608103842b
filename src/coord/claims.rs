//! Claims of content between hosts: with `--shard`, two hosts may meet the same content under
//! two names (a copy that hashes to the other shard) at the same moment, and neither manifest
//! snapshot knows the other's claim yet. Before a run sends content it claims it in ZooKeeper
//! (an ephemeral node, gone with the run's session); content another live run holds is left to
//! it, and the next run finds it ingested.

use crate::ch::ChError;
use tokio::sync::{mpsc, oneshot};
use zookeeper_client as zk;

/// A question to the session: claim these contents.
pub(super) struct Request {
    names: Vec<String>,
    reply: oneshot::Sender<Result<Vec<Option<String>>, String>>,
}

/// This run's way to claim content. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Claims {
    tx: mpsc::UnboundedSender<Request>,
}

impl Claims {
    pub(super) fn new() -> (Claims, mpsc::UnboundedReceiver<Request>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Claims { tx }, rx)
    }

    /// Claims each (table, content hash) for this run: for each, `None` when this run holds it
    /// now, or the run that does. An error when the session is gone: nothing more is written.
    pub async fn claim(&self, contents: &[(&str, &str)]) -> Result<Vec<Option<String>>, ChError> {
        let gone = || ChError::Fenced("the cluster lock's ZooKeeper session".to_owned());
        let names = contents
            .iter()
            .map(|(table, hash)| format!("{table}-{hash}"))
            .collect();
        let (reply, answer) = oneshot::channel();
        self.tx.send(Request { names, reply }).map_err(|_| gone())?;
        match answer.await {
            Ok(Ok(holders)) => Ok(holders),
            Ok(Err(e)) => Err(ChError::Unreachable {
                url: "ZooKeeper".to_owned(),
                reason: e,
            }),
            Err(_) => Err(gone()),
        }
    }
}

/// Answers a request in the session: creates each claim node (or finds it held).
pub(super) async fn answer(client: &zk::Client, dir: &str, me: &str, request: Request) {
    let mut holders = Vec::with_capacity(request.names.len());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    for name in &request.names {
        let path = format!("{dir}/{name}");
        let holder = match client.create(&path, me.as_bytes(), &ephemeral).await {
            Ok(_) => None,
            Err(zk::Error::NodeExists) => match client.get_data(&path).await {
                Ok((data, _)) if data == me.as_bytes() => None,
                Ok((data, _)) => Some(String::from_utf8_lossy(&data).into_owned()),
                // Released a moment ago: the next run looks again.
                Err(zk::Error::NoNode) => Some("a run that just ended".to_owned()),
                Err(e) => return drop(request.reply.send(Err(e.to_string()))),
            },
            Err(e) => return drop(request.reply.send(Err(e.to_string()))),
        };
        holders.push(holder);
    }
    let _ = request.reply.send(Ok(holders));
}
