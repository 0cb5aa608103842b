//! blake3 content hashes: the permanent identity of a file's content.

use std::io::{self, Read};
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
