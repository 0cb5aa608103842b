//! Data file formats behind one trait: detection by name, streaming record readers, and the
//! positions (line, record, column) that every error about a file's content carries.

mod csv;
mod decompress;
pub mod encoding;
mod error;
mod fields;
mod json;
mod jsonl;
mod nulls;
mod object;
pub mod options;
mod parquet;
mod parquet_footer;
pub mod pieces;
mod read_ahead;
mod sniff;
mod split;
mod xml;

pub use error::{ReadError, RecordError};
pub use options::TextOptions;
pub use parquet::{Columns, guarded, value_at, widen};

use crate::convert::ConvError;
use crate::value::Value;
use std::fmt;
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    /// Tab-separated values with ClickHouse's TabSeparated escapes (`\t`, `\n`, `\\`, `\N`).
    Tsv,
    /// A JSON array of objects.
    Json,
    /// One JSON object per line (JSON Lines, NDJSON).
    Jsonl,
    Parquet,
    /// The root's child elements are records; their attributes and child elements are fields.
    Xml,
}

impl Format {
    pub const NAMES: &'static str = "csv, tsv (or tab), json, jsonl (or ndjson), parquet, xml";

    /// Whether the reader knows every field name once the file is opened (a header, a schema);
    /// otherwise fields appear record by record.
    pub fn fields_known_up_front(self) -> bool {
        match self {
            Format::Csv | Format::Tsv | Format::Parquet => true,
            Format::Json | Format::Jsonl | Format::Xml => false,
        }
    }

    /// The format a name or extension stands for (`csv`, `ndjson`, …), case-insensitively.
    pub fn parse(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "parquet" => Format::Parquet,
            "xml" => Format::Xml,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
            Format::Xml => "xml",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression a file name's last extension says, and the name without it.
    pub fn of_name(name: &str) -> (Compression, &str) {
        let lower = name.to_ascii_lowercase();
        for (ext, c) in [
            (".gz", Compression::Gzip),
            (".zst", Compression::Zstd),
            (".zstd", Compression::Zstd),
        ] {
            if lower.ends_with(ext) {
                return (c, &name[..name.len() - ext.len()]);
            }
        }
        (Compression::None, name)
    }
}

/// What a file's name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Detected {
    pub format: Format,
    pub compression: Compression,
}

impl fmt::Display for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format.name())?;
        match self.compression {
            Compression::None => Ok(()),
            Compression::Gzip => f.write_str(".gz"),
            Compression::Zstd => f.write_str(".zst"),
        }
    }
}

/// Detects format and compression from a file name, or `None` for a name no format claims.
pub fn detect(name: &str) -> Option<Detected> {
    let (compression, rest) = Compression::of_name(name);
    let format = Format::parse(rest.rsplit_once('.')?.1)?;
    Some(Detected {
        format,
        compression,
    })
}

/// The default bound on nesting: far beyond what data files use, far below what overflows a
/// reading thread's stack.
pub const MAX_DEPTH: usize = 64;

/// Bounds that keep a hostile file from exhausting memory or the stack.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest record (a CSV row, a JSON line or object, an XML element) in bytes.
    pub max_record_bytes: usize,
    /// A compressed file may always expand to this many bytes…
    pub min_decompressed_bytes: u64,
    /// …and to this many times its own size beyond that.
    pub max_expansion: u64,
    /// Deepest nesting of arrays and objects (JSON) or of lists (Parquet) a record may have:
    /// values are decoded and converted recursively, so depth must be bounded.
    pub max_depth: usize,
    /// Threads that read one file (`--jobs`): above 1, a streamed file's bytes are read,
    /// decompressed and decoded on a thread of their own ahead of the parser, and its records
    /// are read in pieces where the format allows.
    pub jobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 16 << 20,
            min_decompressed_bytes: 1 << 30,
            max_expansion: 1000,
            max_depth: MAX_DEPTH,
            jobs: 1,
        }
    }
}

impl Limits {
    /// The most bytes a compressed file of `size` bytes may decompress to.
    pub fn max_decompressed(&self, size: u64) -> u64 {
        self.min_decompressed_bytes
            .max(size.saturating_mul(self.max_expansion))
    }
}

/// Receives the fields of one record as the reader decodes them.
pub trait FieldSink {
    /// Called for each field of a record; `index` is stable for a `name` within one file, so a
    /// sink may cache what it resolves per index. The error says why the value does not fit.
    fn field(&mut self, index: usize, name: &str, value: Value<'_>) -> Result<(), ConvError>;
}

/// A streaming reader of records. Memory stays bounded whatever the file's size.
pub trait RecordSource: Send {
    /// Names of the fields seen so far, indexed as `FieldSink::field` receives them.
    fn fields(&self) -> &[String];

    /// Decodes the next record into `sink`. `Ok(false)` at the end of the file.
    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError>;

    /// Whether the fields have no names of their own (a file without a header, whose route
    /// names none): they then fill the table's columns in order.
    fn positional(&self) -> bool {
        false
    }

    /// How the file is read, where that was decided from the file (a sniffed dialect, an
    /// encoding), for the dry run.
    fn describe(&self) -> Option<String> {
        None
    }

    /// The records as decoded columns, where the reader decodes them so.
    fn columns(&mut self) -> Option<&mut dyn Columns> {
        None
    }

    /// Hands the rest of the file over to be read in pieces on other threads, where records
    /// can be found without reading them; the source itself then reads nothing more.
    fn split(&mut self) -> Option<pieces::Split> {
        None
    }
}

/// A source and what decoding its text found, shown together in the dry run.
struct Described {
    inner: Box<dyn RecordSource>,
    decoding: encoding::Decoding,
}

impl RecordSource for Described {
    fn fields(&self) -> &[String] {
        self.inner.fields()
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        self.inner.next_record(sink)
    }

    fn positional(&self) -> bool {
        self.inner.positional()
    }

    fn split(&mut self) -> Option<pieces::Split> {
        self.inner.split()
    }

    fn describe(&self) -> Option<String> {
        let text = format!("encoding {}", self.decoding.describe());
        Some(match self.inner.describe() {
            Some(d) => format!("{d}; {text}"),
            None => text,
        })
    }
}

/// Where a file's raw bytes (compressed, for a compressed file) come from.
pub enum Input {
    /// The whole file, in memory.
    Bytes(bytes::Bytes),
    /// The file itself, which formats that need random access (Parquet) read in place.
    File(std::fs::File),
    /// The file's bytes read once from start to end, `size` bytes in all.
    Stream {
        reader: Box<dyn Read + Send>,
        size: u64,
    },
}

impl Input {
    fn size(&self) -> Result<u64, ReadError> {
        match self {
            Input::Bytes(b) => Ok(b.len() as u64),
            Input::File(f) => f
                .metadata()
                .map(|m| m.len())
                .map_err(|e| ReadError::io(&e, None)),
            Input::Stream { size, .. } => Ok(*size),
        }
    }

    fn into_reader(self) -> Box<dyn Read + Send> {
        match self {
            Input::Bytes(b) => Box::new(std::io::Cursor::new(b)),
            Input::File(f) => Box::new(std::io::BufReader::with_capacity(256 * 1024, f)),
            Input::Stream { reader, .. } => reader,
        }
    }
}

/// Opens a reader over a file of the detected kind, checking that its content is what its name
/// claims.
pub fn open(
    input: Input,
    detected: Detected,
    limits: Limits,
    options: &TextOptions,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let max_out = limits.max_decompressed(input.size()?);
    // Files read whole into memory are small: read before a thread pays off.
    // A file read in pieces is read ahead by the thread that cuts them.
    let ahead = limits.jobs > 1
        && matches!(input, Input::Stream { .. })
        && !read_in_pieces(detected.format, options);
    if detected.format == Format::Parquet {
        return Ok(Box::new(parquet::ParquetSource::open(
            input,
            detected.compression,
            limits,
            max_out,
        )?));
    }
    let reader = decompress::decompressed(input.into_reader(), detected, max_out)?;
    let (reader, decoding) = encoding::decoded(reader, detected.format, options.encoding)?;
    let reader: Box<dyn Read + Send> = match ahead {
        true => Box::new(read_ahead::spawn(reader).map_err(|e| ReadError::io(&e, None))?),
        false => reader,
    };
    let transcoded = decoding.encoding != encoding_rs::UTF_8;
    let inner: Box<dyn RecordSource> = match detected.format {
        Format::Csv | Format::Tsv => {
            let flavor = match detected.format {
                Format::Tsv => csv::Flavor::Tsv,
                _ => csv::Flavor::Csv,
            };
            Box::new(csv::CsvSource::new(
                reader, limits, options, flavor, transcoded,
            )?)
        }
        Format::Json => Box::new(json::JsonArraySource::new(reader, limits)?),
        Format::Jsonl => Box::new(jsonl::JsonLinesSource::new(reader, limits)),
        Format::Xml => Box::new(xml::XmlSource::new(reader, limits, transcoded)?),
        Format::Parquet => unreachable!("Parquet is opened above"),
    };
    let inner = match (&options.null_values, detected.format) {
        (Some(markers), Format::Json | Format::Jsonl | Format::Xml) => Box::new(nulls::Nulls {
            inner,
            markers: markers.clone(),
        }),
        _ => inner,
    };
    Ok(match decoding == encoding::Decoding::default_utf8() {
        true => inner,
        false => Box::new(Described { inner, decoding }),
    })
}

/// Whether a file's reader will hand its records over to be read in pieces (`split`), as far as
/// the route tells: CSV and TSV unless backslash escapes or comment lines make their record ends
/// depend on more than quotes (or the file turns out to end its lines with CRs alone), and JSON
/// Lines.
fn read_in_pieces(format: Format, options: &TextOptions) -> bool {
    let d = &options.dialect;
    match format {
        Format::Csv | Format::Tsv => {
            d.escape != Some(options::Escape::Backslash) && d.comment.is_none()
        }
        Format::Jsonl => true,
        Format::Json | Format::Parquet | Format::Xml => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_extension() {
        let d = |n: &str| detect(n).map(|d| d.to_string());
        assert_eq!(d("A.CSV").as_deref(), Some("csv"));
        assert_eq!(d("a.json").as_deref(), Some("json"));
        assert_eq!(d("a.ndjson").as_deref(), Some("jsonl"));
        assert_eq!(d("a.jsonl.gz").as_deref(), Some("jsonl.gz"));
        assert_eq!(d("a.Parquet.ZST").as_deref(), Some("parquet.zst"));
        assert_eq!(d("a.xml.zstd").as_deref(), Some("xml.zst"));
        assert_eq!(d("a.tsv").as_deref(), Some("tsv"));
        assert_eq!(d("a.TAB.gz").as_deref(), Some("tsv.gz"));
        assert_eq!(detect("notes.txt"), None);
        assert_eq!(detect("notes.txt.gz"), None);
        assert_eq!(detect("noext"), None);
        assert_eq!(detect("csv.gz"), None);
    }

    #[test]
    fn decompression_is_bounded_by_size_and_ratio() {
        let l = Limits::default();
        assert_eq!(l.max_decompressed(10), 1 << 30);
        assert_eq!(l.max_decompressed(10 << 20), 10_000 << 20);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = RecordError {
            line: Some(3),
            record: 1,
            column: Some("price".into()),
            reason: "bad".into(),
        };
        assert_eq!(e.describe("a.csv"), "a.csv:3:price: bad");
        let e = RecordError {
            line: None,
            record: 1,
            column: Some("price".into()),
            reason: "bad".into(),
        };
        assert_eq!(
            e.describe("a.parquet"),
            "a.parquet: record 2, column price: bad"
        );
    }
}
