//! The buffers column encoders write into: where a block's bytes go, how buffers are kept for
//! the next block, and how to find values in a buffer of length-prefixed strings.

/// Empties a buffer for the next block, keeping room for a block like the last one: growth by
/// doubling would otherwise leave up to twice the memory a block needs allocated for good.
pub(super) fn reuse<T>(buf: &mut Vec<T>) {
    let room = buf.len() + buf.len() / 8;
    buf.clear();
    buf.shrink_to(room);
}

/// Bytes handed on from a column at a time; a large column is handed on in pieces.
pub(super) const CHUNK_BYTES: usize = 1 << 20;
pub(super) const CHUNK_ROWS: usize = 2048;

/// Where encoded blocks are written: a buffer its owner may empty at each checkpoint.
pub trait Sink {
    fn buf(&mut self) -> &mut Vec<u8>;
    /// A point between values where the bytes so far may be handed on.
    fn checkpoint(&mut self);
}

impl Sink for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }

    fn checkpoint(&mut self) {}
}

/// Start offsets of the `rows` length-prefixed strings in `data`, and its end.
pub(super) fn string_starts(data: &[u8], rows: usize) -> Vec<usize> {
    let mut starts = Vec::with_capacity(rows + 1);
    let mut pos = 0;
    for _ in 0..rows {
        starts.push(pos);
        pos = string_offset_from(data, pos, 1);
    }
    starts.push(pos);
    starts
}

/// Byte offset of the `n`th value in a buffer of length-prefixed strings.
pub(super) fn string_offset(data: &[u8], n: usize) -> usize {
    string_offset_from(data, 0, n)
}

/// Byte offset `n` values after the value starting at `pos`.
pub(super) fn string_offset_from(data: &[u8], mut pos: usize, n: usize) -> usize {
    for _ in 0..n {
        let mut len: u64 = 0;
        let mut shift = 0;
        loop {
            let b = data[pos];
            pos += 1;
            len |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        pos += len as usize;
    }
    pos
}
