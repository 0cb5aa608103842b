//! Whether a file only grew since it was ingested, and what of it can be ingested now: its first
//! bytes must be exactly what was ingested (their length and blake3 hash, as the manifest
//! records them), and only complete lines (in a gzip file, complete members ending a line)
//! count; an incomplete last line waits.

use super::{Segment, gzip};
use crate::formats::{Compression, Detected, Format, Limits};
use crate::hash::{Range, hash_range};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// What was ingested of a file before: its first `len` bytes, as content `hash`, whose records
/// end before ordinal `rows`. Nothing (`len` 0) for a file never ingested.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prior {
    pub len: u64,
    pub hash: String,
    pub rows: u64,
}

#[derive(Debug, PartialEq)]
pub enum Growth {
    /// Not a file that only grew: why.
    Changed(String),
    /// Nothing follows what was ingested.
    Same,
    /// It grew, but no complete line follows yet.
    Incomplete,
    /// The part to ingest now, and the content hash of the file up to its end.
    Grown { segment: Segment, hash: String },
}

/// The longest header line kept.
const MAX_HEADER: usize = 1 << 20;

/// What was learnt reading the bytes already ingested (decompressed, for a gzip file).
#[derive(Default)]
struct Text {
    lines: u64,
    header: Vec<u8>,
    ends_line: bool,
}

impl Text {
    fn add(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        if self.lines == 0 && self.header.len() < MAX_HEADER {
            let upto = memchr::memchr(b'\n', chunk).map_or(chunk.len(), |i| i + 1);
            self.header.extend_from_slice(&chunk[..upto]);
        }
        self.lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
        self.ends_line = chunk.last() == Some(&b'\n');
    }
}

/// Looks at `file` (of `size` bytes as observed) against what was ingested of it. The part to
/// ingest ends at the last complete line, or at `upto` (a part claimed before, to finish).
pub fn examine(
    file: &File,
    size: u64,
    prior: &Prior,
    detected: Detected,
    limits: Limits,
    upto: Option<u64>,
) -> io::Result<Growth> {
    let gz = detected.compression == Compression::Gzip;
    if size < prior.len {
        return Ok(Growth::Changed(format!(
            "it is shorter than the {} bytes ingested",
            prior.len
        )));
    }
    let mut hasher = blake3::Hasher::new();
    let mut text = Text {
        ends_line: true,
        ..Text::default()
    };
    let mut raw = RangeChunks::new(file, 0, prior.len);
    while let Some(chunk) = raw.next_chunk()? {
        hasher.update(chunk);
        if !gz {
            text.add(chunk);
        }
    }
    if prior.len > 0 && crate::hash::hex(&hasher.finalize()) != prior.hash {
        return Ok(Growth::Changed(format!(
            "its first {} bytes are not the ones ingested",
            prior.len
        )));
    }
    if gz && prior.len > 0 {
        text = decompressed(file, prior.len, limits)?;
    }
    if !text.ends_line {
        return Ok(Growth::Changed(
            "what was ingested of it did not end with a complete line".to_owned(),
        ));
    }
    if size == prior.len {
        return Ok(Growth::Same);
    }
    let end = match (upto, gz) {
        (Some(upto), _) if upto > size => {
            return Ok(Growth::Changed(format!(
                "it is shorter than the {upto} bytes being ingested"
            )));
        }
        (Some(upto), _) => Some(upto),
        (None, false) => last_line_end(file, prior.len, size)?,
        (None, true) => {
            let max = limits.max_decompressed(size);
            let (ends, _) = gzip::line_ends(Range::new(file.try_clone()?, prior.len, size), max);
            ends.last().map(|e| prior.len + e)
        }
    };
    let Some(end) = end else {
        return Ok(Growth::Incomplete);
    };
    hash_range(file, prior.len, end, &mut hasher)?;
    let header = match (detected.format, prior.len) {
        (Format::Csv, 1..) => text.header,
        _ => Vec::new(),
    };
    let segment = Segment {
        from_byte: prior.len,
        from_row: prior.rows,
        prefix_hash: prior.hash.clone(),
        end,
        header,
        lines_before: text.lines,
    };
    let hash = crate::hash::hex(&hasher.finalize());
    Ok(Growth::Grown { segment, hash })
}

/// The text of a gzip file's first `len` bytes.
fn decompressed(file: &File, len: u64, limits: Limits) -> io::Result<Text> {
    let raw = Box::new(Range::new(file.try_clone()?, 0, len));
    let mut reader = gzip::decoder(raw, limits.max_decompressed(len));
    let mut text = Text {
        ends_line: true,
        ..Text::default()
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(text),
            n => text.add(&buf[..n]),
        }
    }
}

/// The position after the last `\n` in `[from, to)`, searched from the end.
fn last_line_end(file: &File, from: u64, to: u64) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut hi = to;
    while hi > from {
        let lo = hi.saturating_sub(buf.len() as u64).max(from);
        let chunk = &mut buf[..(hi - lo) as usize];
        file.read_exact_at(chunk, lo)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(Some(lo + i as u64 + 1));
        }
        hi = lo;
    }
    Ok(None)
}

/// A file's bytes `[from, to)` in chunks.
struct RangeChunks<'a> {
    file: &'a File,
    at: u64,
    to: u64,
    buf: Vec<u8>,
}

impl<'a> RangeChunks<'a> {
    fn new(file: &'a File, from: u64, to: u64) -> RangeChunks<'a> {
        RangeChunks {
            file,
            at: from,
            to,
            buf: vec![0u8; 256 * 1024],
        }
    }

    fn next_chunk(&mut self) -> io::Result<Option<&[u8]>> {
        let want = self.buf.len().min(self.to.saturating_sub(self.at) as usize);
        if want == 0 {
            return Ok(None);
        }
        let n = self.file.read_at(&mut self.buf[..want], self.at)?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        self.at += n as u64;
        Ok(Some(&self.buf[..n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn look(text: &[u8], prior: &Prior, name: &str) -> Growth {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(text).unwrap();
        let d = crate::formats::detect(name).unwrap();
        examine(&f, text.len() as u64, prior, d, Limits::default(), None).unwrap()
    }

    fn prior(text: &[u8], rows: u64) -> Prior {
        Prior {
            len: text.len() as u64,
            hash: crate::hash::of_bytes(text),
            rows,
        }
    }

    #[test]
    fn only_complete_lines_after_an_unchanged_prefix_are_taken() {
        let first = b"a,b\n1,x\n";
        let p = prior(first, 1);
        assert_eq!(look(first, &p, "f.csv"), Growth::Same);
        assert_eq!(look(b"a,b\n1,x\n2,", &p, "f.csv"), Growth::Incomplete);
        let grown = b"a,b\n1,x\n2,y\n3,";
        let Growth::Grown { segment, hash } = look(grown, &p, "f.csv") else {
            panic!("grown")
        };
        assert_eq!(
            (segment.from_byte, segment.end, segment.from_row),
            (8, 12, 1)
        );
        assert_eq!(segment.header, b"a,b\n");
        assert_eq!((segment.lines_before, segment.line_shift()), (2, 1));
        assert_eq!(hash, crate::hash::of_bytes(&grown[..12]));
        assert!(matches!(
            look(b"a,b\n9,x\n2,y\n", &p, "f.csv"),
            Growth::Changed(_)
        ));
        assert!(matches!(look(b"a,b\n", &p, "f.csv"), Growth::Changed(_)));
        // A new file: its complete lines, from the start, with no header of its own to add.
        let Growth::Grown { segment, .. } =
            look(b"{\"a\":1}\n{\"a\"", &Prior::default(), "f.jsonl")
        else {
            panic!("grown")
        };
        assert_eq!(
            (segment.from_byte, segment.end, segment.header.len()),
            (0, 8, 0)
        );
    }

    #[test]
    fn a_gzip_file_grows_by_members() {
        let member = |t: &str| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(t.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let first = member("a,b\n1,x\n");
        let p = prior(&first, 1);
        let second = member("2,y\n");
        let grown = [first.clone(), second.clone(), member("3,z\n")[..5].to_vec()].concat();
        let Growth::Grown { segment, hash } = look(&grown, &p, "f.csv.gz") else {
            panic!("grown")
        };
        let end = (first.len() + second.len()) as u64;
        assert_eq!((segment.from_byte, segment.end), (first.len() as u64, end));
        assert_eq!(segment.header, b"a,b\n");
        assert_eq!(hash, crate::hash::of_bytes(&grown[..end as usize]));
    }
}
