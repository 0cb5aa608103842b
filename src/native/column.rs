//! One column's values, encoded as they arrive into the buffers ClickHouse's `Native` format sends.

use crate::ch::types::ChType;
use crate::convert::{ConvError, ConvResult, Scalar, write_string};
use crate::value::Value;
use chrono_tz::Tz;
use std::collections::HashMap;

/// Column buffers, reused from block to block.
#[derive(Debug)]
pub(super) enum Enc {
    Plain {
        scalar: Scalar,
        data: Vec<u8>,
        rows: usize,
        /// Start of the last value in `data`, so a failed row can be taken back cheaply.
        last_start: usize,
    },
    Nullable {
        nulls: Vec<u8>,
        inner: Box<Enc>,
    },
    Array {
        offsets: Vec<u64>,
        inner: Box<Enc>,
    },
    LowCardinality(LowCard),
}

#[derive(Debug)]
pub(super) struct LowCard {
    pub(super) scalar: Scalar,
    pub(super) nullable: bool,
    /// Encoded dictionary keys: the null placeholder (if nullable), the default, then values.
    pub(super) keys: Vec<u8>,
    pub(super) key_count: u32,
    dict: HashMap<Vec<u8>, u32>,
    pub(super) indexes: Vec<u32>,
    scratch: Vec<u8>,
}

/// Whether a value means "no value here": NULL for nullable columns, the default otherwise.
fn is_empty(value: &Value<'_>) -> bool {
    match value {
        Value::Null => true,
        Value::Text(b) => b.is_empty() || *b == b"\\N",
        _ => false,
    }
}

impl Enc {
    pub(super) fn new(ty: &ChType, server_tz: Tz) -> Result<Enc, String> {
        Ok(match ty {
            ChType::Nullable(inner) => match **inner {
                ChType::Array(_) | ChType::Nullable(_) | ChType::LowCardinality(_) => {
                    return Err(format!("type {ty} is not supported"));
                }
                _ => Enc::Nullable {
                    nulls: Vec::new(),
                    inner: Box::new(Enc::new(inner, server_tz)?),
                },
            },
            ChType::Array(inner) => {
                if contains_low_cardinality(inner) {
                    return Err(format!("type {ty} is not supported"));
                }
                Enc::Array {
                    offsets: Vec::new(),
                    inner: Box::new(Enc::new(inner, server_tz)?),
                }
            }
            ChType::LowCardinality(inner) => {
                let (nullable, base) = match &**inner {
                    ChType::Nullable(b) => (true, &**b),
                    b => (false, b),
                };
                let scalar = Scalar::from_type(base, server_tz)?;
                let mut lc = LowCard {
                    scalar,
                    nullable,
                    keys: Vec::new(),
                    key_count: 0,
                    dict: HashMap::new(),
                    indexes: Vec::new(),
                    scratch: Vec::new(),
                };
                lc.reset_dictionary();
                Enc::LowCardinality(lc)
            }
            other => Enc::Plain {
                scalar: Scalar::from_type(other, server_tz)?,
                data: Vec::new(),
                rows: 0,
                last_start: 0,
            },
        })
    }

    pub(super) fn rows(&self) -> usize {
        match self {
            Enc::Plain { rows, .. } => *rows,
            Enc::Nullable { nulls, .. } => nulls.len(),
            Enc::Array { offsets, .. } => offsets.len(),
            Enc::LowCardinality(lc) => lc.indexes.len(),
        }
    }

    pub(super) fn byte_size(&self) -> usize {
        match self {
            Enc::Plain { data, .. } => data.len(),
            Enc::Nullable { nulls, inner } => nulls.len() + inner.byte_size(),
            Enc::Array { offsets, inner } => offsets.len() * 8 + inner.byte_size(),
            Enc::LowCardinality(lc) => lc.keys.len() + lc.indexes.len() * 4,
        }
    }

    /// Appends a value; `default` is the encoded value to use for an empty non-nullable field.
    pub(super) fn push(&mut self, value: &Value<'_>, default: Option<&[u8]>) -> ConvResult {
        match self {
            Enc::Plain {
                scalar,
                data,
                rows,
                last_start,
            } => {
                let start = data.len();
                if is_empty(value) {
                    match default {
                        Some(d) => data.extend_from_slice(d),
                        None => scalar.encode_zero(data),
                    }
                } else {
                    scalar.encode(value, data)?;
                }
                *last_start = start;
                *rows += 1;
                Ok(())
            }
            Enc::Nullable { nulls, inner } => {
                if is_empty(value) {
                    inner.push_zero();
                    nulls.push(1);
                } else {
                    inner.push(value, None)?;
                    nulls.push(0);
                }
                Ok(())
            }
            Enc::Array { offsets, inner } => {
                let before = inner.rows();
                let result = match value {
                    Value::List(items) => items.iter().try_for_each(|item| inner.push(item, None)),
                    Value::Text(b) | Value::Str(b) if !b.is_empty() => {
                        for_each_array_item(b, |item| inner.push(&item, None))
                    }
                    v if is_empty(v) => Ok(()),
                    _ => Err(ConvError::new("expected an array")),
                };
                if let Err(e) = result {
                    inner.truncate(before);
                    return Err(e);
                }
                offsets.push(inner.rows() as u64);
                Ok(())
            }
            Enc::LowCardinality(lc) => lc.push(value, default),
        }
    }

    /// Appends the type's zero value (a placeholder under a NULL).
    fn push_zero(&mut self) {
        match self {
            Enc::Plain {
                scalar,
                data,
                rows,
                last_start,
            } => {
                *last_start = data.len();
                scalar.encode_zero(data);
                *rows += 1;
            }
            Enc::Nullable { nulls, inner } => {
                inner.push_zero();
                nulls.push(1);
            }
            Enc::Array { offsets, inner } => offsets.push(inner.rows() as u64),
            Enc::LowCardinality(lc) => lc.indexes.push(u32::from(lc.nullable)),
        }
    }

    /// Takes back values so that `rows` remain.
    pub(super) fn truncate(&mut self, keep: usize) {
        if keep >= self.rows() {
            return;
        }
        match self {
            Enc::Plain {
                scalar,
                data,
                rows,
                last_start,
            } => {
                let cut = match scalar.width() {
                    Some(w) => keep * w,
                    None if keep + 1 == *rows => *last_start,
                    None => string_offset(data, keep),
                };
                data.truncate(cut);
                *rows = keep;
                *last_start = cut;
            }
            Enc::Nullable { nulls, inner } => {
                nulls.truncate(keep);
                inner.truncate(keep);
            }
            Enc::Array { offsets, inner } => {
                offsets.truncate(keep);
                let elems = offsets.last().copied().unwrap_or(0) as usize;
                inner.truncate(elems);
            }
            Enc::LowCardinality(lc) => lc.indexes.truncate(keep),
        }
    }

    /// Writes the column body in `Native` layout, rows in `order` (or as appended), and empties
    /// the buffers, keeping their capacity.
    pub(super) fn write_and_clear(&mut self, order: Option<&[u32]>, out: &mut dyn Sink) {
        match self {
            Enc::Plain {
                scalar,
                data,
                rows,
                last_start,
            } => {
                match (order, scalar.width()) {
                    (None, _) => {
                        for piece in data.chunks(CHUNK_BYTES) {
                            out.buf().extend_from_slice(piece);
                            out.checkpoint();
                        }
                    }
                    (Some(order), Some(w)) => {
                        for rows in order.chunks(CHUNK_ROWS) {
                            let buf = out.buf();
                            for &i in rows {
                                let at = i as usize * w;
                                buf.extend_from_slice(&data[at..at + w]);
                            }
                            out.checkpoint();
                        }
                    }
                    (Some(order), None) => {
                        let starts = string_starts(data, *rows);
                        for rows in order.chunks(CHUNK_ROWS) {
                            let buf = out.buf();
                            for &i in rows {
                                let i = i as usize;
                                buf.extend_from_slice(&data[starts[i]..starts[i + 1]]);
                            }
                            out.checkpoint();
                        }
                    }
                }
                reuse(data);
                *rows = 0;
                *last_start = 0;
            }
            Enc::Nullable { nulls, inner } => {
                match order {
                    None => out.buf().extend_from_slice(nulls),
                    Some(order) => {
                        let buf = out.buf();
                        buf.extend(order.iter().map(|&i| nulls[i as usize]));
                    }
                }
                reuse(nulls);
                inner.write_and_clear(order, out);
            }
            Enc::Array { offsets, inner } => {
                let inner_order = order.map(|order| {
                    let mut end = 0u64;
                    let mut elements = Vec::new();
                    let buf = out.buf();
                    for &i in order {
                        let i = i as usize;
                        let from = if i == 0 { 0 } else { offsets[i - 1] };
                        end += offsets[i] - from;
                        buf.extend_from_slice(&end.to_le_bytes());
                        elements.extend(from as u32..offsets[i] as u32);
                    }
                    elements
                });
                if order.is_none() {
                    let buf = out.buf();
                    for o in offsets.iter() {
                        buf.extend_from_slice(&o.to_le_bytes());
                    }
                }
                reuse(offsets);
                inner.write_and_clear(inner_order.as_deref(), out);
            }
            Enc::LowCardinality(lc) => lc.write_and_clear(order, out),
        }
    }
}

/// Empties a buffer for the next block, keeping room for a block like the last one: growth by
/// doubling would otherwise leave up to twice the memory a block needs allocated for good.
fn reuse<T>(buf: &mut Vec<T>) {
    let room = buf.len() + buf.len() / 8;
    buf.clear();
    buf.shrink_to(room);
}

/// Bytes handed on from a column at a time; a large column is handed on in pieces.
const CHUNK_BYTES: usize = 1 << 20;
const CHUNK_ROWS: usize = 2048;

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

fn contains_low_cardinality(ty: &ChType) -> bool {
    match ty {
        ChType::LowCardinality(_) => true,
        ChType::Nullable(i) | ChType::Array(i) => contains_low_cardinality(i),
        _ => false,
    }
}

/// Byte offset of the `n`th value in a buffer of length-prefixed strings.
fn string_offset(data: &[u8], n: usize) -> usize {
    string_offset_from(data, 0, n)
}

/// Byte offset `n` values after the value starting at `pos`.
fn string_offset_from(data: &[u8], mut pos: usize, n: usize) -> usize {
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

/// Where an unquoted array element ends: at the first `,` outside brackets and quotes, so that
/// a nested array (`[[1,2],[3]]`) stays one element, handed to the inner column as text. Counted
/// without recursion; how deep the text may nest is the column type's business.
fn item_end(text: &[u8]) -> usize {
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    for (i, &c) in text.iter().enumerate() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == b'\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => return i,
                _ => {}
            },
        }
    }
    text.len()
}

/// Splits ClickHouse or JSON array text (`[1,2]`, `['a','b']`, `["a"]`) into its elements.
fn for_each_array_item(text: &[u8], mut f: impl FnMut(Value<'_>) -> ConvResult) -> ConvResult {
    let t = text.trim_ascii();
    let inner = t
        .strip_prefix(b"[")
        .and_then(|r| r.strip_suffix(b"]"))
        .ok_or_else(|| ConvError::new("expected an array like [1,2,3]"))?;
    if inner.trim_ascii().is_empty() {
        return Ok(());
    }
    let mut unescaped = Vec::new();
    let mut rest = inner;
    loop {
        rest = rest.trim_ascii_start();
        let (item, after): (Value<'_>, &[u8]) = match rest.first() {
            Some(&q @ (b'\'' | b'"')) => {
                unescaped.clear();
                let mut i = 1;
                loop {
                    match rest.get(i) {
                        None => return Err(ConvError::new("unterminated string in array")),
                        Some(b'\\') => {
                            let c = *rest
                                .get(i + 1)
                                .ok_or_else(|| ConvError::new("unterminated string in array"))?;
                            unescaped.push(match c {
                                b'n' => b'\n',
                                b't' => b'\t',
                                b'r' => b'\r',
                                b'0' => 0,
                                c => c,
                            });
                            i += 2;
                        }
                        Some(&c) if c == q => break,
                        Some(&c) => {
                            unescaped.push(c);
                            i += 1;
                        }
                    }
                }
                (Value::Str(&unescaped), &rest[i + 1..])
            }
            _ => {
                let end = item_end(rest);
                let raw = rest[..end].trim_ascii();
                let v = if raw.eq_ignore_ascii_case(b"null") {
                    Value::Null
                } else {
                    Value::Str(raw)
                };
                (v, &rest[end..])
            }
        };
        f(item)?;
        let after = after.trim_ascii_start();
        match after.first() {
            None => return Ok(()),
            Some(b',') => rest = &after[1..],
            Some(_) => return Err(ConvError::new("expected `,` between array elements")),
        }
    }
}

impl LowCard {
    fn reset_dictionary(&mut self) {
        self.keys.clear();
        self.dict.clear();
        self.key_count = 0;
        if self.nullable {
            self.scalar.encode_zero(&mut self.keys);
            self.key_count += 1;
        }
        let mut zero = Vec::new();
        self.scalar.encode_zero(&mut zero);
        self.keys.extend_from_slice(&zero);
        self.dict.insert(zero, self.key_count);
        self.key_count += 1;
    }

    fn push(&mut self, value: &Value<'_>, default: Option<&[u8]>) -> ConvResult {
        if is_empty(value) {
            if self.nullable {
                self.indexes.push(0);
                return Ok(());
            }
            if let Some(d) = default {
                self.scratch.clear();
                self.scratch.extend_from_slice(d);
            } else {
                self.indexes.push(0);
                return Ok(());
            }
        } else {
            self.scratch.clear();
            self.scalar.encode(value, &mut self.scratch)?;
        }
        let index = match self.dict.get(self.scratch.as_slice()) {
            Some(&i) => i,
            None => {
                let i = self.key_count;
                self.keys.extend_from_slice(&self.scratch);
                self.dict.insert(self.scratch.clone(), i);
                self.key_count += 1;
                i
            }
        };
        self.indexes.push(index);
        Ok(())
    }

    fn write_and_clear(&mut self, order: Option<&[u32]>, out: &mut dyn Sink) {
        const HAS_ADDITIONAL_KEYS: u64 = 1 << 9;
        const NEED_UPDATE_DICTIONARY: u64 = 1 << 10;
        let (index_type, width) = match self.key_count {
            0..=0xff => (0u64, 1),
            0x100..=0xffff => (1, 2),
            _ => (2, 4),
        };
        let out = out.buf();
        // Key serialization version: shared dictionaries with additional keys.
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(
            &(index_type | HAS_ADDITIONAL_KEYS | NEED_UPDATE_DICTIONARY).to_le_bytes(),
        );
        out.extend_from_slice(&u64::from(self.key_count).to_le_bytes());
        out.extend_from_slice(&self.keys);
        out.extend_from_slice(&(self.indexes.len() as u64).to_le_bytes());
        match order {
            None => {
                for &i in &self.indexes {
                    out.extend_from_slice(&i.to_le_bytes()[..width]);
                }
            }
            Some(order) => {
                for &r in order {
                    out.extend_from_slice(&self.indexes[r as usize].to_le_bytes()[..width]);
                }
            }
        }
        reuse(&mut self.indexes);
        self.reset_dictionary();
    }
}

/// Encodes one value the way a plain column of `scalar` would, for a column default.
pub(super) fn encode_default(
    scalar_ty: &ChType,
    text: &[u8],
    server_tz: Tz,
) -> Result<Vec<u8>, String> {
    let scalar = Scalar::from_type(scalar_ty.base(), server_tz)?;
    let mut out = Vec::new();
    match scalar {
        Scalar::String => write_string(&mut out, text),
        _ => scalar
            .encode(&Value::Str(text), &mut out)
            .map_err(|e| e.0)?,
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(ty: &str) -> Enc {
        Enc::new(&ChType::parse(ty).unwrap(), Tz::UTC).unwrap()
    }

    fn body(e: &mut Enc) -> Vec<u8> {
        let mut out = Vec::new();
        e.write_and_clear(None, &mut out);
        out
    }

    #[test]
    fn low_cardinality_matches_what_clickhouse_18_16_writes() {
        // `SELECT toLowCardinality(toString(number % 2)) FROM numbers(3) FORMAT Native`
        let mut e = enc("LowCardinality(String)");
        for v in ["0", "1", "0"] {
            e.push(&Value::Str(v.as_bytes()), None).unwrap();
        }
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0];
        expected.extend([3, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'0', 1, b'1']);
        expected.extend([3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1]);
        assert_eq!(body(&mut e), expected);
    }

    #[test]
    fn nullable_low_cardinality_reserves_null_and_default() {
        let mut e = enc("LowCardinality(Nullable(String))");
        e.push(&Value::Str(b"0"), None).unwrap();
        e.push(&Value::Null, None).unwrap();
        e.push(&Value::Str(b"2"), None).unwrap();
        let out = body(&mut e);
        // keys: null placeholder, default, "0", "2"; indexes 2, 0, 3
        assert_eq!(&out[24..30], &[0, 0, 1, b'0', 1, b'2']);
        assert_eq!(&out[38..], &[2, 0, 3]);
    }

    #[test]
    fn nullable_takes_empty_text_as_null() {
        let mut e = enc("Nullable(Int32)");
        e.push(&Value::Text(b""), None).unwrap();
        e.push(&Value::Text(b"7"), None).unwrap();
        assert_eq!(body(&mut e), [1, 0, 0, 0, 0, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn failed_values_leave_no_trace() {
        let mut e = enc("Nullable(Int8)");
        assert!(e.push(&Value::Text(b"999"), None).is_err());
        assert_eq!(e.rows(), 0);
        let mut a = enc("Array(Int8)");
        assert!(a.push(&Value::Text(b"[1,2,999]"), None).is_err());
        assert_eq!(a.rows(), 0);
        a.push(&Value::Text(b"[1, 2]"), None).unwrap();
        assert_eq!(body(&mut a), [2, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn arrays_of_strings_parse_quotes() {
        let mut a = enc("Array(String)");
        a.push(&Value::Text(br#"['a,b', "c\"d", e]"#), None)
            .unwrap();
        let out = body(&mut a);
        assert_eq!(&out[8..], b"\x03a,b\x03c\"d\x01e");
    }

    #[test]
    fn nested_array_text_keeps_inner_arrays_whole() {
        let mut a = enc("Array(Array(String))");
        a.push(&Value::Text(br#"[['a,b', 'c'], [], ["]"]]"#), None)
            .unwrap();
        let out = body(&mut a);
        // Outer offsets (one row: 3 arrays), inner offsets (2, 2, 3), then the strings.
        assert_eq!(&out[..8], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            &out[8..32],
            &[
                2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(&out[32..], b"\x03a,b\x01c\x01]");
        let mut n = enc("Array(Array(Int32))");
        assert!(n.push(&Value::Text(b"[[1, 2], [3]]"), None).is_ok());
        assert!(n.push(&Value::Text(b"[[[1]]]"), None).is_err());
    }

    #[test]
    fn strings_truncate_to_any_row() {
        let mut s = enc("String");
        for v in ["a", "bb", "ccc"] {
            s.push(&Value::Str(v.as_bytes()), None).unwrap();
        }
        s.truncate(1);
        assert_eq!(body(&mut s), b"\x01a");
    }

    #[test]
    fn empty_fields_take_the_given_default() {
        let mut s = enc("Int32");
        s.push(&Value::Text(b""), Some(&[5, 0, 0, 0])).unwrap();
        s.push(&Value::Text(b""), None).unwrap();
        assert_eq!(body(&mut s), [5, 0, 0, 0, 0, 0, 0, 0]);
    }
}
