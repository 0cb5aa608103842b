//! A large file's rows as its first pass encoded them, kept in an anonymous file beside the data
//! so that sending them needs no second parse: the second pass replays the blocks, writing the
//! file's id (known only once the whole file is hashed) into each block's provenance column.

use super::encoder::{CHUNK_BYTES, Fault, Msg, Read};
use super::layout::Out;
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW};
use crate::native::{BlockBuilder, Sink};
use bytes::Bytes;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Disk space a spill leaves free, beyond what it takes: the server may share the disk.
const KEEP_FREE: u64 = 2 << 30;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    Begin(u64),
    Block { offset: u64, len: u64, rows: u64 },
    End { batch: u64, rows: u64 },
}

/// Writes encoded batches to a spill file, giving up (and keeping nothing) if the disk fills
/// or the spill would leave less than `KEEP_FREE` of it.
pub struct SpillOut {
    file: Option<File>,
    buf: Vec<u8>,
    written: u64,
    budget: u64,
    log: Vec<Entry>,
}

impl SpillOut {
    /// A spill in `dir`, or `None` where none can be made.
    pub fn create(dir: &Path) -> Option<SpillOut> {
        fail::fail_point!("no-spill", |_| None);
        let free = rustix::fs::statvfs(dir)
            .ok()
            .map(|s| s.f_bavail.saturating_mul(s.f_frsize))?;
        let budget = free.checked_sub(KEEP_FREE).filter(|&b| b > 0)?;
        let file = tempfile::tempfile_in(dir)
            .inspect_err(|e| log::debug!("no spill file in {}: {e}", dir.display()))
            .ok()?;
        Some(SpillOut {
            file: Some(file),
            buf: Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 2),
            written: 0,
            budget,
            log: Vec::new(),
        })
    }

    fn write_buf(&mut self) {
        let Some(file) = &mut self.file else {
            self.buf.clear();
            return;
        };
        let over = self.written + self.buf.len() as u64 > self.budget;
        match over {
            true => self.give_up("it would leave the disk too full"),
            false => match file.write_all(&self.buf) {
                Ok(()) => self.written += self.buf.len() as u64,
                Err(e) => self.give_up(&e.to_string()),
            },
        }
        self.buf.clear();
    }

    fn give_up(&mut self, why: &str) {
        if self.file.take().is_some() {
            log::debug!("spill abandoned: {why}");
        }
        self.log = Vec::new();
    }

    /// The spilled rows, if every block made it to disk, for an insert of `columns`.
    pub fn finish(mut self, columns: String) -> Option<Spilled> {
        self.write_buf();
        Some(Spilled {
            file: Arc::new(self.file.take()?),
            log: std::mem::take(&mut self.log),
            columns,
        })
    }
}

impl Sink for SpillOut {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn checkpoint(&mut self) {
        if self.buf.len() >= CHUNK_BYTES {
            self.write_buf();
        }
    }
}

impl Out for SpillOut {
    fn keeps(&self) -> bool {
        self.file.is_some()
    }

    fn begin(&mut self, batch: u64) -> Result<(), String> {
        self.log.push(Entry::Begin(batch));
        Ok(())
    }

    fn block(&mut self, block: &mut BlockBuilder, key: &[usize]) -> Result<(), String> {
        let offset = self.written + self.buf.len() as u64;
        let rows = block.rows() as u64;
        block.write_native_to(key, self);
        let len = self.written + self.buf.len() as u64 - offset;
        if self.file.is_some() {
            self.log.push(Entry::Block { offset, len, rows });
        }
        Ok(())
    }

    fn end(&mut self, batch: u64, rows: u64) -> Result<(), String> {
        self.log.push(Entry::End { batch, rows });
        Ok(())
    }
}

/// A file's rows on disk, ready to be sent. The file has no name: it goes when this does.
#[derive(Debug)]
pub struct Spilled {
    file: Arc<File>,
    log: Vec<Entry>,
    /// The INSERT's column list.
    columns: String,
}

/// Where a block's `_ingest_file` values lie: the block ends with that column and then
/// `_ingest_row`, each a name, a type and `rows` eight-byte values.
fn file_id_range(block_end: u64, rows: u64) -> (u64, u64) {
    let column = |name: &str| 1 + name.len() as u64 + 1 + "UInt64".len() as u64 + 8 * rows;
    let end = block_end - column(PROVENANCE_ROW);
    debug_assert!(column(PROVENANCE_FILE) <= end);
    (end - 8 * rows, end)
}

impl Spilled {
    /// Sends the spilled batches as the second pass would, on a thread of their own; with
    /// `file_id`, each block's provenance carries it.
    pub fn replay(
        &self,
        file_id: Option<u64>,
        hash: String,
        tx: mpsc::Sender<Msg>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let spilled = Spilled {
            file: self.file.clone(),
            log: self.log.clone(),
            columns: self.columns.clone(),
        };
        std::thread::Builder::new()
            .name("replay".to_owned())
            .spawn(move || {
                if let Err(e) = spilled.send(file_id, hash, &tx) {
                    let _ = tx.blocking_send(Msg::Error(Fault::Local(e)));
                }
            })
    }

    fn send(
        &self,
        file_id: Option<u64>,
        hash: String,
        tx: &mpsc::Sender<Msg>,
    ) -> Result<(), String> {
        let send = |m: Msg| tx.blocking_send(m).map_err(|_| String::new());
        send(Msg::Columns(self.columns.clone()))?;
        for entry in &self.log {
            match *entry {
                Entry::Begin(batch) => send(Msg::Begin { batch })?,
                Entry::End { batch, rows } => send(Msg::End { batch, rows })?,
                Entry::Block { offset, len, rows } => {
                    let end = offset + len;
                    match file_id {
                        Some(id) => {
                            let (from, to) = file_id_range(end, rows);
                            self.copy(offset, from, &send)?;
                            let ids = id.to_le_bytes().repeat(rows as usize);
                            for piece in ids.chunks(CHUNK_BYTES) {
                                send(Msg::Data(Bytes::copy_from_slice(piece)))?;
                            }
                            self.copy(to, end, &send)?;
                        }
                        None => self.copy(offset, end, &send)?,
                    }
                }
            }
        }
        // What the first pass found is known already: the hash is all that is to be checked.
        send(Msg::Done(Box::new(Read {
            hash,
            ..Read::default()
        })))
    }

    /// Sends the spill's bytes from `from` to `to` in pieces.
    fn copy(
        &self,
        mut from: u64,
        to: u64,
        send: &dyn Fn(Msg) -> Result<(), String>,
    ) -> Result<(), String> {
        fail::fail_point!("spill-read-error", |_| Err(
            "cannot read the spill file: injected by a failpoint".to_owned()
        ));
        while from < to {
            let n = (to - from).min(CHUNK_BYTES as u64) as usize;
            let mut piece = vec![0; n];
            self.file
                .read_exact_at(&mut piece, from)
                .map_err(|e| format!("cannot read the spill file: {e}"))?;
            send(Msg::Data(Bytes::from(piece)))?;
            from += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::ColumnSpec;
    use crate::value::Value;
    use chrono_tz::Tz;

    fn block(file_id: u64) -> BlockBuilder {
        let specs: Vec<ColumnSpec> = [("s", "String"), (PROVENANCE_FILE, "UInt64")]
            .iter()
            .chain([(PROVENANCE_ROW, "UInt64")].iter())
            .map(|(n, t)| ColumnSpec::new(n, t).unwrap())
            .collect();
        let mut b = BlockBuilder::new(&specs, Tz::UTC).unwrap();
        for (row, text) in ["b", "a", "c"].iter().enumerate() {
            b.push(0, &Value::Str(text.as_bytes())).unwrap();
            b.push(1, &Value::UInt(file_id)).unwrap();
            b.push(2, &Value::UInt(row as u64)).unwrap();
            b.finish_row();
        }
        b
    }

    fn replayed(spilled: Spilled, file_id: Option<u64>) -> Vec<Msg> {
        let (tx, mut rx) = mpsc::channel(1000);
        spilled
            .replay(file_id, "h".into(), tx)
            .unwrap()
            .join()
            .unwrap();
        let mut msgs = Vec::new();
        while let Ok(m) = rx.try_recv() {
            msgs.push(m);
        }
        msgs
    }

    fn data(msgs: &[Msg]) -> Vec<u8> {
        msgs.iter()
            .filter_map(|m| match m {
                Msg::Data(b) => Some(b.to_vec()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn replay_writes_the_file_id_into_each_sorted_block() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = SpillOut::create(dir.path()).expect("room for a spill");
        spill.begin(0).unwrap();
        spill.block(&mut block(0), &[0]).unwrap();
        spill.block(&mut block(0), &[]).unwrap();
        spill.end(0, 6).unwrap();
        let msgs = replayed(spill.finish("(s)".into()).unwrap(), Some(0xfeed_beef));
        let mut expected = Vec::new();
        block(0xfeed_beef).write_native_to(&[0], &mut expected);
        block(0xfeed_beef).write_native_to(&[], &mut expected);
        assert_eq!(data(&msgs), expected);
        assert!(matches!(msgs.first(), Some(Msg::Columns(c)) if c == "(s)"));
        assert!(matches!(msgs[1], Msg::Begin { batch: 0 }));
        assert!(matches!(
            msgs[msgs.len() - 2],
            Msg::End { batch: 0, rows: 6 }
        ));
        assert!(matches!(msgs.last(), Some(Msg::Done(read)) if read.hash == "h"));
    }

    #[test]
    fn a_spill_over_its_budget_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = SpillOut::create(dir.path()).expect("room for a spill");
        spill.budget = 10;
        spill.begin(0).unwrap();
        spill.block(&mut block(0), &[]).unwrap();
        assert!(spill.finish("(s)".into()).is_none());
    }
}
