//! Compressed files (gzip, zstd) decoded as streams whose expanded size is bounded, and the
//! magic-byte checks that catch content that is not what the file's name claims.

use super::{Compression, Detected, Format, ReadError};
use std::io::{self, BufReader, Read};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
pub const PARQUET_MAGIC: &[u8] = b"PAR1";

/// Errors of the decompression layer, carried inside `io::Error` through the format readers.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("decompressed size exceeds {0} bytes: possibly a decompression bomb")]
    TooLarge(u64),
    #[error("{kind} data is truncated or corrupt ({detail})")]
    Corrupt { kind: &'static str, detail: String },
}

impl StreamError {
    pub fn find(err: &io::Error) -> Option<&StreamError> {
        err.get_ref()?.downcast_ref()
    }
}

/// Marks errors of the underlying file, so they are not blamed on the compressed data.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RawIo(io::Error);

struct MarkRaw<R>(R);

impl<R: Read> Read for MarkRaw<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| io::Error::other(RawIo(e)))
    }
}

/// The decoder's output, with its errors explained and its size bounded.
struct Decoded<R> {
    inner: R,
    kind: &'static str,
    produced: u64,
    limit: u64,
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            if e.get_ref().is_some_and(|r| r.is::<RawIo>()) {
                match e.into_inner().map(|r| r.downcast::<RawIo>()) {
                    Some(Ok(raw)) => raw.0,
                    _ => io::Error::other("read error"),
                }
            } else {
                io::Error::other(StreamError::Corrupt {
                    kind: self.kind,
                    detail: e.to_string(),
                })
            }
        })?;
        self.produced += n as u64;
        if self.produced > self.limit {
            return Err(io::Error::other(StreamError::TooLarge(self.limit)));
        }
        Ok(n)
    }
}

/// Reads up to `n` bytes from the start of `reader` and gives them back with a reader that
/// still yields every byte.
pub fn peek(
    mut reader: Box<dyn Read + Send>,
    n: usize,
) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(n);
    (&mut reader).take(n as u64).read_to_end(&mut head)?;
    let rest = io::Cursor::new(head.clone()).chain(reader);
    Ok((head, Box::new(rest)))
}

fn mismatch(what: &str) -> ReadError {
    ReadError::file(what.to_owned())
}

/// The decompressed content of a file, after checking that its first bytes fit its name.
pub fn decompressed(
    reader: Box<dyn Read + Send>,
    detected: Detected,
    limit: u64,
) -> Result<Box<dyn Read + Send>, ReadError> {
    let (head, reader) = peek(reader, 5).map_err(|e| ReadError::io(&e, None))?;
    let (kind, decoder): (&'static str, Box<dyn Read + Send>) = match detected.compression {
        Compression::None => {
            if head.starts_with(GZIP_MAGIC) {
                return Err(mismatch(
                    "gzip-compressed data although the name does not end in .gz",
                ));
            }
            if head.starts_with(ZSTD_MAGIC) {
                return Err(mismatch(
                    "zstd-compressed data although the name does not end in .zst",
                ));
            }
            check_content(&head, detected.format)?;
            return Ok(reader);
        }
        Compression::Gzip => {
            if !head.starts_with(GZIP_MAGIC) {
                return Err(mismatch("not gzip data although the name ends in .gz"));
            }
            let raw = BufReader::with_capacity(64 * 1024, MarkRaw(reader));
            ("gzip", Box::new(flate2::bufread::MultiGzDecoder::new(raw)))
        }
        Compression::Zstd => {
            if !head.starts_with(ZSTD_MAGIC) {
                return Err(mismatch("not zstd data although the name ends in .zst"));
            }
            let raw = BufReader::with_capacity(64 * 1024, MarkRaw(reader));
            let decoder = zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| ReadError::file(format!("cannot start zstd decoding: {e}")))?;
            ("zstd", Box::new(decoder))
        }
    };
    let decoded = Decoded {
        inner: decoder,
        kind,
        produced: 0,
        limit,
    };
    let (head, reader) = peek(Box::new(decoded), 5).map_err(|e| ReadError::io(&e, None))?;
    check_content(&head, detected.format)?;
    Ok(reader)
}

/// Catches Parquet data in a file named as a text format, and text in a file named `.parquet`.
fn check_content(head: &[u8], format: Format) -> Result<(), ReadError> {
    let parquet = head.starts_with(PARQUET_MAGIC) && head.get(4).is_some_and(|&b| b < 0x20);
    match format {
        Format::Parquet if !head.starts_with(PARQUET_MAGIC) => Err(mismatch(
            "not Parquet data (it does not start with PAR1) although the name says parquet",
        )),
        Format::Parquet => Ok(()),
        other if parquet => Err(ReadError::file(format!(
            "Parquet data although the name says {}",
            other.name()
        ))),
        _ => Ok(()),
    }
}

/// Copies a (decompressed) Parquet file into an unnamed temporary file, for random access.
pub fn spool(
    reader: Box<dyn Read + Send>,
    compression: Compression,
    limit: u64,
) -> Result<std::fs::File, ReadError> {
    let detected = Detected {
        format: Format::Parquet,
        compression,
    };
    let mut content = decompressed(reader, detected, limit)?;
    let local = |what: &str, e: io::Error| {
        ReadError::Local(format!(
            "cannot {what} the temporary file a compressed Parquet file is expanded into \
             (in {}): {e}; TMPDIR must name a writable folder with room",
            std::env::temp_dir().display()
        ))
    };
    let mut file = tempfile::tempfile().map_err(|e| local("create", e))?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match content.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::io(&e, None)),
        };
        io::Write::write_all(&mut file, &buf[..n]).map_err(|e| local("write", e))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn read(bytes: Vec<u8>, name: &str, limit: u64) -> Result<Vec<u8>, String> {
        let detected = super::super::detect(name).unwrap();
        let mut r = decompressed(Box::new(io::Cursor::new(bytes)), detected, limit)
            .map_err(|e| e.describe(name))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map_err(|e| ReadError::io(&e, None).describe(name))?;
        Ok(out)
    }

    #[test]
    fn gzip_and_zstd_round_trip_and_concatenated_members_are_read() {
        let mut two = gzip(b"a\n1\n");
        two.extend(gzip(b"2\n"));
        assert_eq!(read(two, "x.csv.gz", 1000).unwrap(), b"a\n1\n2\n");
        let z = zstd::encode_all(&b"a\n1\n"[..], 3).unwrap();
        assert_eq!(read(z, "x.csv.zst", 1000).unwrap(), b"a\n1\n");
    }

    #[test]
    fn truncated_streams_are_errors() {
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut g = gzip(&data);
        g.truncate(g.len() / 2);
        let err = read(g, "x.csv.gz", 1 << 30).unwrap_err();
        assert!(
            err.starts_with("x.csv.gz: gzip data is truncated or corrupt ("),
            "{err}"
        );
        let mut z = zstd::encode_all(&data[..], 3).unwrap();
        z.truncate(z.len() / 2);
        let err = read(z, "x.csv.zst", 1 << 30).unwrap_err();
        assert!(
            err.starts_with("x.csv.zst: zstd data is truncated or corrupt ("),
            "{err}"
        );
    }

    #[test]
    fn expansion_is_bounded() {
        let g = gzip(&vec![b'a'; 100_000]);
        assert_eq!(
            read(g, "x.csv.gz", 10_000).unwrap_err(),
            "x.csv.gz: decompressed size exceeds 10000 bytes: possibly a decompression bomb"
        );
    }

    #[test]
    fn content_must_match_the_name() {
        assert_eq!(
            read(b"a,b\n".to_vec(), "x.csv.gz", 100).unwrap_err(),
            "x.csv.gz: not gzip data although the name ends in .gz"
        );
        assert_eq!(
            read(b"a,b\n".to_vec(), "x.csv.zst", 100).unwrap_err(),
            "x.csv.zst: not zstd data although the name ends in .zst"
        );
        assert_eq!(
            read(gzip(b"a"), "x.csv", 100).unwrap_err(),
            "x.csv: gzip-compressed data although the name does not end in .gz"
        );
        assert_eq!(
            read(b"PAR1\x15\x04".to_vec(), "x.json", 100).unwrap_err(),
            "x.json: Parquet data although the name says json"
        );
        assert_eq!(
            read(b"PAR1,x\n".to_vec(), "x.csv", 100).unwrap(),
            b"PAR1,x\n"
        );
    }
}
