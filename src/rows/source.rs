//! A file's records as a stream: opened through hashing (so its content hash comes from the same
//! read) and the format reader, and the columns of the target table its fields fill.

use super::target::{ColumnPlan, Target};
use crate::formats::{self, Compression, Detected, Format, Input, Limits, ReadError, RecordSource};
use crate::hash::{HashingReader, Range, hash_range};
use crate::progress::Reading;
use crate::scan::FileEntry;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Opens records over bytes already in memory, read as the file's route says.
pub fn open_bytes(
    bytes: bytes::Bytes,
    entry: &FileEntry,
    limits: Limits,
) -> Result<Box<dyn RecordSource>, ReadError> {
    // A grown file's new part comes as its text, decompressed.
    let detected = match &entry.segment {
        Some(_) => Detected {
            compression: Compression::None,
            ..entry.detected
        },
        None => entry.detected,
    };
    formats::open(Input::Bytes(bytes), detected, limits, &entry.rules.text)
}

/// The columns a file fills: its own fields where the format names them up front, else all;
/// found by its route's rules, and ready to stamp its rows' metadata.
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
    /// Bytes the reader is given; for a segment, those after its start.
    size: u64,
    /// For a segment: where it ends (its content is the file's bytes up to there).
    end: Option<u64>,
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
                end: None,
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
            end: None,
            in_place: false,
        })
    }

    /// Starts reading a file: the whole of it, or of a grown file the part still to be ingested
    /// (`part`), after its header, hashed on top of the bytes before it (so that the hash is the
    /// content hash of the file up to the part's end).
    pub fn open_part(
        file: File,
        entry: &FileEntry,
        limits: Limits,
        progress: Option<Reading>,
    ) -> Result<HashedSource, ReadError> {
        let Some(seg) = entry.segment.as_deref() else {
            return HashedSource::open(file, entry, limits, progress);
        };
        let own = file.try_clone().map_err(|e| ReadError::io(&e, None))?;
        let mut prefix = blake3::Hasher::new();
        hash_range(&file, 0, seg.from_byte, &mut prefix).map_err(|e| ReadError::io(&e, None))?;
        let count = Arc::new(AtomicU64::new(0));
        let size = seg.end - seg.from_byte;
        let counting = Counting {
            inner: BufReader::with_capacity(256 * 1024, Range::new(file, seg.from_byte, seg.end)),
            count: count.clone(),
            progress,
        };
        let (reader, hasher) = HashingReader::with(counting, prefix);
        let records = crate::append::stream(
            seg,
            entry.detected,
            Box::new(reader),
            limits,
            &entry.rules.text,
        )?;
        Ok(HashedSource {
            source: records,
            hasher,
            count,
            file: own,
            size,
            end: Some(seg.end),
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
            return Ok(crate::hash::finish(&self.hasher));
        }
        match self.end {
            None => hash_file(&self.file),
            Some(end) => {
                let mut hasher = blake3::Hasher::new();
                hash_range(&self.file, 0, end, &mut hasher)?;
                Ok(crate::hash::hex(&hasher.finalize()))
            }
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
