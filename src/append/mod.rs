//! Files that only grow (`--on-change append`): which formats can be read from where an earlier
//! run stopped, whether a file's earlier bytes are still what was ingested (`examine`), where
//! its complete records end, and its new records as a stream of their own, read after the
//! file's header.

mod examine;
mod gzip;

pub use examine::{Growth, Prior, examine};

use crate::formats::{
    self, Compression, Detected, Format, Input, Limits, ReadError, RecordSource, TextOptions,
};
use std::io::{Cursor, Read};

/// Whether records can be added to a file of this kind by appending bytes: line formats, plain
/// or gzip (a gzip stream grows by appended members).
pub fn appendable(d: Detected) -> bool {
    matches!(d.format, Format::Csv | Format::Jsonl)
        && matches!(d.compression, Compression::None | Compression::Gzip)
}

/// The part of a grown file that is still to be ingested: the bytes from `from_byte` to `end`,
/// whose records are numbered from `from_row`. The bytes before were ingested as content
/// `prefix_hash` (empty for a file ingested for the first time).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    pub from_byte: u64,
    pub from_row: u64,
    pub prefix_hash: String,
    /// The end of the last complete line (or gzip member ending one): what follows waits.
    pub end: u64,
    /// For CSV, the header line read from the start of the file, put before the segment's
    /// records (decompressed).
    pub header: Vec<u8>,
    /// Lines before the segment's first, so that errors name the file's own lines.
    pub lines_before: u64,
}

impl Segment {
    /// How far line numbers read from the header and the segment are from the file's.
    pub fn line_shift(&self) -> i64 {
        let header_lines = self.header.iter().filter(|b| **b == b'\n').count() as i64;
        self.lines_before as i64 - header_lines
    }
}

/// The records of a segment, from its raw bytes (`raw`, compressed as the file is): the header
/// first, then what the bytes hold.
pub fn stream(
    seg: &Segment,
    detected: Detected,
    raw: Box<dyn Read + Send>,
    limits: Limits,
    text: &TextOptions,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let size = seg.end - seg.from_byte;
    let body: Box<dyn Read + Send> = match detected.compression {
        Compression::Gzip => Box::new(gzip::decoder(raw, limits.max_decompressed(size))),
        _ => raw,
    };
    let header = Cursor::new(seg.header.clone());
    let reader = Box::new(header.chain(body));
    let plain = Detected {
        format: detected.format,
        compression: Compression::None,
    };
    formats::open(
        Input::Stream {
            reader,
            size: seg.header.len() as u64 + size,
        },
        plain,
        limits,
        text,
    )
}

/// A segment held in memory (its raw bytes `raw`) as the text its records are read from: the
/// header, then the bytes decompressed; and the kind of file that text is.
pub fn text(
    seg: &Segment,
    detected: Detected,
    raw: &[u8],
    limits: Limits,
) -> std::io::Result<(bytes::Bytes, Detected)> {
    let mut text = seg.header.clone();
    match detected.compression {
        Compression::Gzip => {
            let max = limits.max_decompressed(raw.len() as u64);
            gzip::decoder(Box::new(Cursor::new(raw.to_vec())), max).read_to_end(&mut text)?;
        }
        _ => text.extend_from_slice(raw),
    }
    let plain = Detected {
        format: detected.format,
        compression: Compression::None,
    };
    Ok((bytes::Bytes::from(text), plain))
}
