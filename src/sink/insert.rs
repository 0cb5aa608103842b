//! One INSERT of a file's rows: named so that the same name always means the same rows (and, where
//! the server takes tokens, deduplicated by that name), started, streamed, closed while the next
//! one streams, and acknowledged.

use super::error::SinkError;
use super::work::GroupFile;
use crate::ch::Server;
use crate::ch::insert::{Dedup, InsertSpec};
use crate::rows::target::Target;
use bytes::Bytes;
use clickhouse::insert_formatted::InsertFormatted;
use tokio::task::JoinHandle;

/// Names and starts the inserts of one run.
pub struct Inserter {
    server: Server,
    /// `ingest-<folder>-`: every insert of this folder's runs is named with it, so that a later
    /// run can wait for an earlier one's inserts that are still executing.
    pub prefix: String,
    run_id: String,
}

impl Inserter {
    pub fn new(server: Server, folder_id: &str, run_id: &str) -> Inserter {
        Inserter {
            server,
            prefix: format!("ingest-{folder_id}-"),
            run_id: run_id.to_owned(),
        }
    }

    /// What tells this ingestion of some content apart from earlier ones in insert names (and so
    /// in deduplication tokens): how often it was forgotten, and, when the manifest was lost and
    /// that is unknown, the run.
    pub fn salt(&self, target: &Target, generation: u64) -> String {
        match (target.recovery, generation) {
            (true, _) => format!("-r{}", self.run_id),
            (false, 0) => String::new(),
            (false, g) => format!("-g{g}"),
        }
    }

    /// The name of a coalesced insert of small files: of their contents and ingestions.
    pub fn group_name(&self, target: &Target, files: &[GroupFile]) -> String {
        let mut digest = blake3::Hasher::new();
        for f in files {
            digest.update(f.hash.as_bytes());
            digest.update(self.salt(target, f.generation).as_bytes());
        }
        format!("{}g{}", self.prefix, &digest.finalize().to_hex()[..16])
    }

    /// How the server may deduplicate an insert named `name`. Where the server takes tokens, the
    /// name is the token, and names never repeat for other rows. Elsewhere the server compares
    /// blocks by checksum, which only rows with provenance make safe, and only while no earlier
    /// ingestion of the same content may have left identical blocks behind.
    fn dedup(&self, target: &Target, generation: u64, name: &str) -> Dedup {
        let checksums_safe = target.provenance && generation == 0 && !target.recovery;
        if self.server.caps.has_deduplication_token() || checksums_safe {
            Dedup::Token(name.to_owned())
        } else {
            Dedup::Off
        }
    }

    /// Starts an insert named `name` into `target`'s `columns`.
    pub fn start(
        &self,
        target: &Target,
        columns: &str,
        name: &str,
        generation: u64,
    ) -> InsertFormatted {
        self.server.start_insert(&InsertSpec {
            table: target.write_table(),
            columns,
            query_id: name,
            dedup: self.dedup(target, generation, name),
            settings: &target.insert_settings,
        })
    }
}

/// An insert being streamed: consecutive batches of one file.
struct OpenInsert {
    group: u64,
    insert: InsertFormatted,
    /// Batches sent in it so far, with their rows.
    batches: Vec<(u64, u64)>,
}

/// An insert fully sent, waiting for the server's answer.
pub struct Finishing {
    batches: Vec<(u64, u64)>,
    end: JoinHandle<clickhouse::error::Result<()>>,
}

impl Finishing {
    /// Waits for the server's answer; the batches it acknowledged, with their rows.
    pub async fn acknowledged(self, server: &Server) -> Result<Vec<(u64, u64)>, SinkError> {
        self.end
            .await
            .map_err(|e| SinkError::Local(format!("insert task: {e}")))?
            .map_err(|e| server.classify(e))?;
        Ok(self.batches)
    }
}

/// A file's inserts while its batches stream: the one open, and the one the server is
/// finishing while the next streams.
pub struct Stream {
    open: Option<OpenInsert>,
    finishing: Option<Finishing>,
    /// Each insert is waited for before the next starts.
    wait_each: bool,
}

impl Stream {
    pub fn new(wait_each: bool) -> Stream {
        Stream {
            open: None,
            finishing: None,
            wait_each,
        }
    }

    /// The insert group open now, if any.
    pub fn open_group(&self) -> Option<u64> {
        self.open.as_ref().map(|o| o.group)
    }

    pub fn begin(&mut self, group: u64, insert: InsertFormatted) {
        self.open = Some(OpenInsert {
            group,
            insert,
            batches: Vec::new(),
        });
    }

    pub async fn send(&mut self, bytes: Bytes, server: &Server) -> Result<(), SinkError> {
        if let Some(o) = self.open.as_mut() {
            o.insert.send(bytes).await.map_err(|e| server.classify(e))?;
            crash_point!("mid-insert");
        }
        Ok(())
    }

    pub fn end_batch(&mut self, batch: u64, rows: u64) {
        if let Some(o) = self.open.as_mut() {
            o.batches.push((batch, rows));
        }
    }

    /// Ends the open insert; returns the inserts now due to be acknowledged, in order: the one
    /// before it (the server finishes this one while the next streams), and this one too when
    /// each is waited for.
    pub fn close(&mut self) -> Vec<Finishing> {
        let Some(o) = self.open.take() else {
            return Vec::new();
        };
        let next = Finishing {
            batches: o.batches,
            end: tokio::spawn(o.insert.end()),
        };
        let mut due: Vec<Finishing> = self.finishing.replace(next).into_iter().collect();
        if self.wait_each {
            due.extend(self.finishing.take());
        }
        due
    }

    /// The last insert, once no more follow.
    pub fn last(&mut self) -> Option<Finishing> {
        self.finishing.take()
    }

    /// Gives up on the inserts: the one finishing is aborted, or, when `let_end`, allowed to
    /// end first (a delete that follows then sees its rows).
    pub async fn abandon(mut self, let_end: bool) {
        self.open = None;
        if let Some(finishing) = self.finishing.take() {
            match let_end {
                true => drop(finishing.end.await),
                false => finishing.end.abort(),
            }
        }
    }
}
