//! Reading a file's records: opening it through hashing and the format reader, and the first
//! pass over a large file that hashes, converts and counts every record, keeping the encoded
//! rows on disk where it can.

use super::encode::{ColumnPlan, Target};
use super::records::{ErrorPolicy, Records, Reject};
use super::spill::{SpillOut, Spilled};
use super::stream::{Discard, Layout, Out, encode_batches};
use crate::formats::{self, Compression, Format, Input, Limits, ReadError, RecordSource};
use crate::hash::HashingReader;
use crate::progress::Reading;
use crate::scan::FileEntry;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Opens records over bytes already in memory.
pub fn open_bytes(
    bytes: bytes::Bytes,
    entry: &FileEntry,
    limits: Limits,
) -> Result<Box<dyn RecordSource>, ReadError> {
    formats::open(
        Input::Bytes(bytes),
        entry.detected,
        limits,
        &entry.rules.text,
    )
}

/// The columns a file fills: its own fields where the format names them up front, else all;
/// ready to stamp its rows' metadata.
pub fn column_plan(
    target: &Target,
    entry: &FileEntry,
    source: &dyn RecordSource,
) -> Result<ColumnPlan, String> {
    let rules = &entry.rules;
    let mut plan = if entry.detected.format.fields_known_up_front() {
        ColumnPlan::for_fields(target, source.fields(), source.positional(), rules)?
    } else {
        ColumnPlan::for_table(target, rules)?
    };
    plan.start_file(entry);
    Ok(plan)
}

/// Counts bytes read through it, so a reader can tell whether a consumer saw the whole file (and
/// the progress display can move as it is read).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
    progress: Option<Reading>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.read(n as u64);
        }
        Ok(n)
    }
}

/// A file opened for a streaming pass, hashing its raw bytes on the way.
pub struct HashedSource {
    pub source: Box<dyn RecordSource>,
    hasher: Arc<std::sync::Mutex<blake3::Hasher>>,
    count: Arc<AtomicU64>,
    /// The file, to hash it on its own when the reader did not see every byte.
    file: File,
    size: u64,
    /// Read in place (uncompressed Parquet): the reader sees its bytes out of order.
    in_place: bool,
}

impl HashedSource {
    /// Starts reading an opened file; `progress` counts its bytes for the progress display.
    pub fn open(
        file: File,
        entry: &FileEntry,
        limits: Limits,
        progress: Option<Reading>,
    ) -> Result<HashedSource, ReadError> {
        let (detected, text) = (entry.detected, &entry.rules.text);
        let size = file.metadata().map_err(|e| ReadError::io(&e, None))?.len();
        let own = file.try_clone().map_err(|e| ReadError::io(&e, None))?;
        let count = Arc::new(AtomicU64::new(0));
        let hasher = Arc::new(std::sync::Mutex::new(blake3::Hasher::new()));
        if detected.format == Format::Parquet && detected.compression == Compression::None {
            // Read in place; `finish` hashes the file on its own.
            return Ok(HashedSource {
                source: formats::open(Input::File(file), detected, limits, text)?,
                hasher,
                count,
                file: own,
                size,
                in_place: true,
            });
        }
        let counting = Counting {
            inner: BufReader::with_capacity(256 * 1024, file),
            count: count.clone(),
            progress,
        };
        let (reader, hasher) = HashingReader::new(counting);
        let source = formats::open(
            Input::Stream {
                reader: Box::new(reader),
                size,
            },
            detected,
            limits,
            text,
        )?;
        Ok(HashedSource {
            source,
            hasher,
            count,
            file: own,
            size,
            in_place: false,
        })
    }

    /// Whether the reader saw the file's bytes out of order, so that only hashing it on its own
    /// gives the content hash.
    pub fn in_place(&self) -> bool {
        self.in_place
    }

    /// The content hash, once reading is over: of every byte if the reader saw them all,
    /// otherwise of the whole file read again.
    pub fn finish(self) -> std::io::Result<String> {
        drop(self.source);
        if self.count.load(Ordering::Relaxed) == self.size {
            Ok(crate::hash::finish(&self.hasher))
        } else {
            hash_file(&self.file)
        }
    }
}

/// The content hash of an open file, read from its start whatever its position.
pub fn hash_file(file: &File) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    loop {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(crate::hash::hex(&hasher.finalize()))
}

/// What a full pass over a file found.
#[derive(Debug, Default)]
pub struct Pass {
    pub hash: String,
    /// Records read, good and bad.
    pub records: u64,
    /// Bad records left out under `--on-error skip-row`.
    pub rejects: Vec<Reject>,
    /// Set when the file fails as a whole: the errors to report.
    pub failure: Option<Vec<String>>,
    /// Consecutive batches per insert.
    pub per_insert: u64,
    /// The rows, encoded, when they could be kept on disk.
    pub spilled: Option<Spilled>,
    /// How the file was read where the file decided it (a sniffed dialect, an encoding).
    pub described: Option<String>,
}

impl Pass {
    /// Rows the table receives from this file.
    pub fn rows(&self) -> u64 {
        self.records - self.rejects.len() as u64
    }
}

/// Where and how a first pass reads a file.
pub struct FirstPass<'a> {
    pub entry: &'a FileEntry,
    pub limits: Limits,
    pub target: &'a Target,
    pub policy: ErrorPolicy,
    pub batch_rows: u64,
    pub insert_rows: u64,
    /// A folder to keep the encoded rows in, if they are to be kept.
    pub spill_dir: Option<&'a Path>,
    /// Counts the bytes read for the progress display.
    pub progress: Option<Reading>,
}

impl FirstPass<'_> {
    /// Hashes and checks every record of the opened file, cutting its rows into batches and
    /// inserts as they will be sent, and keeps them on disk where it can.
    pub fn run(&self, file: File) -> std::io::Result<Pass> {
        let rel = &self.entry.rel;
        let mut pass = Pass::default();
        let hashable = file.try_clone()?;
        let mut opened =
            match HashedSource::open(file, self.entry, self.limits, self.progress.clone()) {
                Ok(s) => s,
                Err(e) if e.is_local() => return Err(std::io::Error::other(e.describe(rel))),
                Err(e) => {
                    pass.failure = Some(vec![e.describe(rel)]);
                    pass.hash = hash_file(&hashable)?;
                    return Ok(pass);
                }
            };
        // Rows read in place are kept only if the file reads the same before and after: what
        // is sent from the spill is then what was hashed.
        let before = match opened.in_place() && self.spill_dir.is_some() {
            true => Some(hash_file(&hashable)?),
            false => None,
        };
        pass.described = opened.source.describe();
        match column_plan(self.target, self.entry, &*opened.source) {
            Err(e) => pass.failure = Some(vec![format!("{rel}: {e}")]),
            Ok(mut plan) => {
                let mut block = plan
                    .new_block(self.target.server_tz)
                    .map_err(std::io::Error::other)?;
                let layout = Layout {
                    batch_rows: self.batch_rows,
                    insert_rows: self.insert_rows,
                    key: plan.sort_columns().to_vec(),
                };
                let mut spill = self.spill_dir.and_then(SpillOut::create);
                let out: &mut dyn Out = match &mut spill {
                    Some(s) => s,
                    None => &mut Discard,
                };
                let mut records =
                    Records::new(&mut *opened.source, &mut plan, "", self.policy, rel);
                pass.per_insert = encode_batches(&mut records, &mut block, &layout, None, &[], out)
                    .map_err(std::io::Error::other)?;
                if let Some(local) = records.local_failure() {
                    return Err(std::io::Error::other(local));
                }
                pass.failure = records.verdict().err();
                pass.records = records.records;
                pass.rejects = std::mem::take(&mut records.rejects);
                drop(records);
                if pass.failure.is_none() {
                    pass.spilled = spill.and_then(|s| s.finish(plan.column_list()));
                }
            }
        }
        pass.hash = opened.finish()?;
        if before.is_some_and(|h| h != pass.hash) {
            pass.spilled = None;
        }
        Ok(pass)
    }
}
