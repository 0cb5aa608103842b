//! One column's values, encoded as they arrive into the buffers ClickHouse's `Native` format sends.
//! Composite columns nest: an Array, Map or Tuple holds the encoders of its parts.

use super::buffers::{CHUNK_BYTES, CHUNK_ROWS, Sink, reuse, string_offset, string_starts};
use super::cells::{Cells, is_empty, is_empty_for};
use super::composite::{MapEnc, TupleEnc};
use super::lowcard::{KEYS_VERSION, LowCard};
use super::text::{self, Brackets};
use crate::ch::types::ChType;
use crate::convert::{ConvError, ConvResult, Scalar, write_string};
use crate::value::Value;
use chrono_tz::Tz;

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
    Map(MapEnc<Enc>),
    Tuple(TupleEnc<Enc>),
    LowCardinality(LowCard),
}

impl Enc {
    /// The encoder of a column type; recursion follows the type, whose depth the parser limits.
    pub(super) fn new(ty: &ChType, server_tz: Tz) -> Result<Enc, String> {
        let unsupported = || Err(format!("type {ty} is not supported"));
        Ok(match ty {
            ChType::Nullable(inner) => match **inner {
                ChType::Array(_)
                | ChType::Nullable(_)
                | ChType::LowCardinality(_)
                | ChType::Map(..)
                | ChType::Tuple(_) => return unsupported(),
                _ => Enc::Nullable {
                    nulls: Vec::new(),
                    inner: Box::new(Enc::new(inner, server_tz)?),
                },
            },
            ChType::Array(inner) => Enc::Array {
                offsets: Vec::new(),
                inner: Box::new(Enc::new(inner, server_tz)?),
            },
            ChType::Map(k, v) => Enc::Map(MapEnc {
                offsets: Vec::new(),
                keys: Box::new(Enc::new(k, server_tz)?),
                values: Box::new(Enc::new(v, server_tz)?),
            }),
            ChType::Tuple(items) if items.is_empty() => return unsupported(),
            ChType::Tuple(items) => Enc::Tuple(TupleEnc::new(
                items.iter().map(|(n, _)| n.clone()).collect(),
                items
                    .iter()
                    .map(|(_, t)| Enc::new(t, server_tz))
                    .collect::<Result<_, _>>()?,
            )),
            ChType::LowCardinality(inner) => {
                let (nullable, base) = match &**inner {
                    ChType::Nullable(b) => (true, &**b),
                    b => (false, b),
                };
                Enc::LowCardinality(LowCard::new(Scalar::from_type(base, server_tz)?, nullable))
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
            Enc::Array { offsets, .. } | Enc::Map(MapEnc { offsets, .. }) => offsets.len(),
            Enc::Tuple(t) => t.rows(),
            Enc::LowCardinality(lc) => lc.indexes.len(),
        }
    }

    pub(super) fn byte_size(&self) -> usize {
        match self {
            Enc::Plain { data, .. } => data.len(),
            Enc::Nullable { nulls, inner } => nulls.len() + inner.byte_size(),
            Enc::Array { offsets, inner } => offsets.len() * 8 + inner.byte_size(),
            Enc::Map(m) => m.offsets.len() * 8 + m.keys.byte_size() + m.values.byte_size(),
            Enc::Tuple(t) => t.elems.iter().map(Enc::byte_size).sum(),
            Enc::LowCardinality(lc) => lc.keys.len() + lc.indexes.len() * 4,
        }
    }

    /// Appends a value; `default` is the encoded value to use for an empty non-nullable field.
    /// On error the column is left as it was.
    pub(super) fn push(&mut self, value: &Value<'_>, default: Option<&[u8]>) -> ConvResult {
        match self {
            Enc::Plain {
                scalar,
                data,
                rows,
                last_start,
            } => {
                let start = data.len();
                if is_empty_for(value, scalar) {
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
                let empty = match &**inner {
                    Enc::Plain { scalar, .. } => is_empty_for(value, scalar),
                    _ => is_empty(value),
                };
                if empty {
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
                    v if is_empty(v) => Ok(()),
                    Value::Text(b) | Value::Str(b) => match text::unwrap(b) {
                        Some((Brackets::Square, items)) => {
                            text::for_each_element(items, |item| inner.push(&item, None))
                        }
                        _ => Err(ConvError::new("expected an array like [1,2,3]")),
                    },
                    _ => Err(ConvError::new("expected an array")),
                };
                if let Err(e) = result {
                    inner.truncate(before);
                    return Err(e);
                }
                offsets.push(inner.rows() as u64);
                Ok(())
            }
            Enc::Map(m) => m.push(value),
            Enc::Tuple(t) => t.push(value),
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
            Enc::Map(m) => m.offsets.push(m.keys.rows() as u64),
            Enc::Tuple(t) => t.elems.iter_mut().for_each(Enc::push_zero),
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
                inner.truncate(offsets.last().copied().unwrap_or(0) as usize);
            }
            Enc::Map(m) => {
                m.offsets.truncate(keep);
                let entries = m.offsets.last().copied().unwrap_or(0) as usize;
                m.keys.truncate(entries);
                m.values.truncate(entries);
            }
            Enc::Tuple(t) => t.elems.iter_mut().for_each(|e| e.truncate(keep)),
            Enc::LowCardinality(lc) => lc.indexes.truncate(keep),
        }
    }

    /// Writes the column in `Native` layout, rows in `order` (or as appended), and empties the
    /// buffers, keeping their capacity.
    pub(super) fn write_and_clear(&mut self, order: Option<&[u32]>, out: &mut dyn Sink) {
        self.write_prefix(out.buf());
        self.write_body_and_clear(order, out);
    }

    /// The state a column's serialization starts with: every `LowCardinality` inside it writes
    /// its keys version here, before any offsets or data (as ClickHouse's prefix does).
    fn write_prefix(&self, out: &mut Vec<u8>) {
        match self {
            Enc::Plain { .. } => {}
            Enc::Nullable { inner, .. } | Enc::Array { inner, .. } => inner.write_prefix(out),
            Enc::Map(m) => {
                m.keys.write_prefix(out);
                m.values.write_prefix(out);
            }
            Enc::Tuple(t) => t.elems.iter().for_each(|e| e.write_prefix(out)),
            Enc::LowCardinality(_) => out.extend_from_slice(&KEYS_VERSION.to_le_bytes()),
        }
    }

    fn write_body_and_clear(&mut self, order: Option<&[u32]>, out: &mut dyn Sink) {
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
                inner.write_body_and_clear(order, out);
            }
            Enc::Array { offsets, inner } => {
                let inner_order = write_offsets(offsets, order, out.buf());
                inner.write_body_and_clear(inner_order.as_deref(), out);
            }
            Enc::Map(m) => {
                let inner_order = write_offsets(&mut m.offsets, order, out.buf());
                m.keys.write_body_and_clear(inner_order.as_deref(), out);
                m.values.write_body_and_clear(inner_order.as_deref(), out);
            }
            Enc::Tuple(t) => t
                .elems
                .iter_mut()
                .for_each(|e| e.write_body_and_clear(order, out)),
            Enc::LowCardinality(lc) => lc.write_and_clear(order, out),
        }
    }
}

/// Writes an Array's (or Map's) offsets for rows in `order` and empties them; returns the order
/// of the elements when the rows are reordered.
fn write_offsets(
    offsets: &mut Vec<u64>,
    order: Option<&[u32]>,
    buf: &mut Vec<u8>,
) -> Option<Vec<u32>> {
    let elements = order.map(|order| {
        let mut end = 0u64;
        let mut elements = Vec::new();
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
        for o in offsets.iter() {
            buf.extend_from_slice(&o.to_le_bytes());
        }
    }
    reuse(offsets);
    elements
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

impl Cells for Enc {
    fn push(&mut self, value: &Value<'_>, default: Option<&[u8]>) -> ConvResult {
        Enc::push(self, value, default)
    }

    fn rows(&self) -> usize {
        Enc::rows(self)
    }

    fn truncate(&mut self, rows: usize) {
        Enc::truncate(self, rows)
    }
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
    fn an_empty_string_is_a_value_only_where_text_is() {
        let mut s = enc("Nullable(String)");
        s.push(&Value::Str(b""), None).unwrap();
        s.push(&Value::Text(b""), None).unwrap();
        // Not NULL, then NULL; the empty string's length byte, then the placeholder's.
        assert_eq!(body(&mut s), [0, 1, 0, 0]);
        let mut n = enc("Nullable(Float64)");
        n.push(&Value::Str(b""), None).unwrap();
        assert_eq!(body(&mut n)[0], 1, "NULL");
        let mut i = enc("Int32");
        i.push(&Value::Str(b""), Some(&[7, 0, 0, 0])).unwrap();
        assert_eq!(body(&mut i), [7, 0, 0, 0], "the default");
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
}
