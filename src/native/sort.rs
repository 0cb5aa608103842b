//! Ordering a block's rows by the table's sorting key before it is sent. A MergeTree server checks
//! whether an inserted block is already sorted and skips its own sort when it is, which takes
//! about a third off the server's work for an insert; a key this cannot compare is left unsorted.

use super::buffers::string_starts;
use super::column::Enc;
use crate::convert::Scalar;
use std::cmp::Ordering;

/// One key column's values, ready to compare row by row.
enum Key<'a> {
    Signed(Vec<i64>),
    Unsigned(Vec<u64>),
    Float(Vec<f64>),
    /// Byte strings compared as ClickHouse compares `String`: bytewise, a prefix first.
    Bytes(&'a [u8], Vec<(u32, u32)>),
    /// UUIDs compare as their high then low 64-bit halves.
    Pair(Vec<(u64, u64)>),
}

impl Key<'_> {
    fn cmp(&self, a: usize, b: usize) -> Ordering {
        match self {
            Key::Signed(v) => v[a].cmp(&v[b]),
            Key::Unsigned(v) => v[a].cmp(&v[b]),
            // NaN sorts last, as in ClickHouse.
            Key::Float(v) => v[a]
                .partial_cmp(&v[b])
                .unwrap_or_else(|| v[a].is_nan().cmp(&v[b].is_nan())),
            Key::Bytes(data, spans) => {
                let (sa, la) = spans[a];
                let (sb, lb) = spans[b];
                data[sa as usize..(sa + la) as usize].cmp(&data[sb as usize..(sb + lb) as usize])
            }
            Key::Pair(v) => v[a].cmp(&v[b]),
        }
    }
}

fn fixed<T>(data: &[u8], width: usize, read: impl Fn(&[u8]) -> T) -> Vec<T> {
    data.chunks_exact(width).map(read).collect()
}

fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(w)
}

fn le_i64(b: &[u8]) -> i64 {
    let fill = if b.last().is_some_and(|x| x & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut w = [fill; 8];
    w[..b.len()].copy_from_slice(b);
    i64::from_le_bytes(w)
}

/// Spans (start, length) of the string bodies, without their length prefixes.
fn string_spans(data: &[u8], rows: usize) -> Vec<(u32, u32)> {
    let starts = string_starts(data, rows);
    starts
        .windows(2)
        .map(|w| {
            let mut body = w[0];
            while data[body] & 0x80 != 0 {
                body += 1;
            }
            body += 1;
            (body as u32, (w[1] - body) as u32)
        })
        .collect()
}

fn scalar_key<'a>(scalar: &Scalar, data: &'a [u8], rows: usize) -> Option<Key<'a>> {
    use Scalar::*;
    Some(match scalar {
        I8 | I16 | I32 | I64 | Date32 | DateTime64 { .. } | Enum8(_) | Enum16(_) => {
            Key::Signed(fixed(data, scalar.width()?, le_i64))
        }
        Decimal { width, .. } if *width <= 8 => Key::Signed(fixed(data, *width, le_i64)),
        U8 | U16 | U32 | U64 | Bool | Date | DateTime(_) | Ipv4 => {
            Key::Unsigned(fixed(data, scalar.width()?, le_u64))
        }
        F32 => Key::Float(fixed(data, 4, |b| {
            f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        })),
        F64 => Key::Float(fixed(data, 8, |b| f64::from_bits(le_u64(b)))),
        Uuid => Key::Pair(fixed(data, 16, |b| (le_u64(&b[..8]), le_u64(&b[8..])))),
        FixedString(_) | Ipv6 => {
            let n = scalar.width()?;
            Key::Bytes(
                data,
                (0..rows).map(|i| ((i * n) as u32, n as u32)).collect(),
            )
        }
        String => Key::Bytes(data, string_spans(data, rows)),
        _ => return None,
    })
}

fn key(enc: &Enc) -> Option<Key<'_>> {
    match enc {
        Enc::Plain {
            scalar, data, rows, ..
        } => scalar_key(scalar, data, *rows),
        Enc::LowCardinality(lc) if !lc.nullable && matches!(lc.scalar, Scalar::String) => {
            let dict = string_spans(&lc.keys, lc.key_count as usize);
            let spans = lc.indexes.iter().map(|&i| dict[i as usize]).collect();
            Some(Key::Bytes(&lc.keys, spans))
        }
        _ => None,
    }
}

/// The order of `rows` rows sorted by the key columns, or `None` if a key cannot be compared
/// here (the server then sorts).
pub(super) fn order(keys: &[&Enc], rows: usize) -> Option<Vec<u32>> {
    let keys: Vec<Key<'_>> = keys.iter().map(|e| key(e)).collect::<Option<_>>()?;
    let mut order: Vec<u32> = (0..rows as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        keys.iter()
            .map(|k| k.cmp(a as usize, b as usize))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    Some(order)
}
