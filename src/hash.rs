//! blake3 content hashes: the permanent identity of a file's content (of a file's first bytes
//! too, for a file that grew).

use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

pub fn hex(hash: &blake3::Hash) -> String {
    hash.to_hex().to_string()
}

/// The hash of bytes already in memory.
pub fn of_bytes(bytes: &[u8]) -> String {
    hex(&blake3::hash(bytes))
}

/// The 64-bit id rows carry as provenance: the content hash's first 16 hex digits as a number.
/// Eight bytes a row instead of sixty-four keep provenance cheap for the server to store.
pub fn file_id(hex: &str) -> u64 {
    hex.get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// A reader that hashes every byte read through it; the hasher is shared so the result can be
/// taken after the reader has been handed to (and dropped by) a format reader.
pub struct HashingReader<R> {
    inner: R,
    hasher: Arc<Mutex<blake3::Hasher>>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> (HashingReader<R>, Arc<Mutex<blake3::Hasher>>) {
        Self::with(inner, blake3::Hasher::new())
    }

    /// Hashes on top of what `hasher` has seen already.
    pub fn with(
        inner: R,
        hasher: blake3::Hasher,
    ) -> (HashingReader<R>, Arc<Mutex<blake3::Hasher>>) {
        let hasher = Arc::new(Mutex::new(hasher));
        (
            HashingReader {
                inner,
                hasher: hasher.clone(),
            },
            hasher,
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .update(&buf[..n]);
        Ok(n)
    }
}

/// Finishes a shared hasher after reading everything that remains in `rest`.
pub fn finish(hasher: &Mutex<blake3::Hasher>) -> String {
    hex(&hasher.lock().unwrap_or_else(|p| p.into_inner()).finalize())
}

/// Adds the file's bytes `[from, to)` to `hasher`.
pub fn hash_range(
    file: &std::fs::File,
    from: u64,
    to: u64,
    hasher: &mut blake3::Hasher,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = from;
    while at < to {
        let want = buf.len().min((to - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

/// The bytes `[from, to)` of a file, read in order.
pub struct Range {
    file: std::fs::File,
    at: u64,
    to: u64,
}

impl Range {
    pub fn new(file: std::fs::File, from: u64, to: u64) -> Range {
        Range { file, at: from, to }
    }
}

impl Read for Range {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(self.to.saturating_sub(self.at) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_and_in_memory_hashes_agree() {
        let data = vec![7u8; 300_000];
        let (mut r, hasher) = HashingReader::new(&data[..]);
        let mut sink = Vec::new();
        r.read_to_end(&mut sink).unwrap();
        assert_eq!(finish(&hasher), of_bytes(&data));
        assert_eq!(of_bytes(b"").len(), 64);
        assert_eq!(file_id("00000000000000ff0123"), 255);
        assert_eq!(file_id(""), 0);
    }
}
