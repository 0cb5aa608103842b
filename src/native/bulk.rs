//! Filling a block many rows at a time, for readers that decode whole columns (Parquet): a plain or
//! nullable column opened to take encoded values directly, rows completed together, and where in
//! what was appended the block reached a size (so that blocks are cut where row by row cuts them).

use super::BlockBuilder;
use super::buffers::{string_offset, string_offset_from};
use super::column::Enc;
use crate::convert::{ConvResult, Scalar, write_string};
use crate::value::Value;

/// A plain or nullable column taking values past the block's complete rows.
pub struct Bulk<'a> {
    scalar: &'a Scalar,
    data: &'a mut Vec<u8>,
    rows: &'a mut usize,
    last_start: &'a mut Option<usize>,
    nulls: Option<&'a mut Vec<u8>>,
    default: Option<&'a [u8]>,
}

impl<'a> Bulk<'a> {
    pub fn scalar(&self) -> &'a Scalar {
        self.scalar
    }

    fn appended(&mut self, start: usize, null: u8) {
        *self.last_start = Some(start);
        *self.rows += 1;
        if let Some(nulls) = self.nulls.as_deref_mut() {
            nulls.push(null);
        }
    }

    /// Appends a value `write` encodes as the column's type.
    #[inline]
    pub fn put_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.data.len();
        write(self.data);
        self.appended(start, 0);
    }

    /// Appends a value already encoded as the column's type.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) {
        self.put_with(|data| data.extend_from_slice(bytes));
    }

    /// Appends a value of a `String` column.
    #[inline]
    pub fn put_str(&mut self, bytes: &[u8]) {
        self.put_with(|data| write_string(data, bytes));
    }

    /// Appends what no value leaves: NULL, or else the column's default (or its type's zero).
    pub fn put_null(&mut self) {
        let start = self.data.len();
        match (self.nulls.is_some(), self.default) {
            (false, Some(default)) => self.data.extend_from_slice(default),
            _ => self.scalar.encode_zero(self.data),
        }
        self.appended(start, 1);
    }
}

/// A plain column, or the plain column inside a nullable one: whether it is nullable, its type,
/// its encoded values.
fn plain(enc: &Enc) -> Option<(bool, &Scalar, &[u8])> {
    match enc {
        Enc::Plain { scalar, data, .. } => Some((false, scalar, data)),
        Enc::Nullable { inner, .. } => match &**inner {
            Enc::Plain { scalar, data, .. } => Some((true, scalar, data)),
            _ => None,
        },
        _ => None,
    }
}

/// Appends rows `from..from + n` of a plain or nullable column to one of the same type.
fn copy_rows(to: &mut Enc, of: &Enc, from: usize, n: usize) {
    match (to, of) {
        (
            Enc::Plain {
                scalar,
                data,
                rows,
                last_start,
            },
            Enc::Plain { data: src, .. },
        ) => {
            let (a, b) = match scalar.width() {
                Some(w) => (from * w, (from + n) * w),
                None => {
                    let a = match from {
                        0 => 0,
                        _ => string_offset(src, from),
                    };
                    match from + n == of.rows() {
                        true => (a, src.len()),
                        false => (a, string_offset_from(src, a, n)),
                    }
                }
            };
            data.extend_from_slice(&src[a..b]);
            *rows += n;
            *last_start = None;
        }
        (
            Enc::Nullable { nulls, inner },
            Enc::Nullable {
                nulls: src,
                inner: of,
            },
        ) => {
            nulls.extend_from_slice(&src[from..from + n]);
            copy_rows(inner, of, from, n);
        }
        _ => unreachable!("rows are copied between blocks of the same plain or nullable columns"),
    }
}

impl BlockBuilder {
    /// Whether every column is plain or nullable, so that `bulk` opens each and
    /// `rows_reaching` can measure them.
    pub fn takes_bulk(&self) -> bool {
        self.columns.iter().all(|c| plain(&c.enc).is_some())
    }

    /// Column `col` opened to take values past the complete rows, if it is plain or nullable.
    pub fn bulk(&mut self, col: usize) -> Option<Bulk<'_>> {
        let c = &mut self.columns[col];
        let default = c.default.as_deref();
        match &mut c.enc {
            Enc::Plain {
                scalar,
                data,
                rows,
                last_start,
            } => Some(Bulk {
                scalar,
                data,
                rows,
                last_start,
                nulls: None,
                default,
            }),
            Enc::Nullable { nulls, inner } => match &mut **inner {
                Enc::Plain {
                    scalar,
                    data,
                    rows,
                    last_start,
                } => Some(Bulk {
                    scalar,
                    data,
                    rows,
                    last_start,
                    nulls: Some(nulls),
                    default: None,
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// Appends a value to column `col` past the complete rows, converted as `push` converts it.
    pub fn extend(&mut self, col: usize, value: &Value<'_>) -> ConvResult {
        let c = &mut self.columns[col];
        c.enc.push(value, c.default.as_deref())
    }

    /// Completes `n` rows whose values were appended column by column; a column given fewer
    /// takes NULL or its default for the rest, as `finish_row` does.
    pub fn add_rows(&mut self, n: usize) {
        let rows = self.rows + n;
        for c in &mut self.columns {
            while c.enc.rows() < rows {
                // An empty value never fails to encode.
                let _ = c.enc.push(&Value::Null, c.default.as_deref());
            }
        }
        self.rows = rows;
    }

    /// Appends rows `from..from + n` of `src`, a block of the same columns, to every column but
    /// those in `skip`, past the complete rows (`add_rows` completes them). Both blocks take
    /// bulk.
    pub fn extend_from(&mut self, src: &BlockBuilder, from: usize, n: usize, skip: &[usize]) {
        for (i, (to, of)) in self.columns.iter_mut().zip(&src.columns).enumerate() {
            if !skip.contains(&i) {
                copy_rows(&mut to.enc, &of.enc, from, n);
            }
        }
    }

    /// Takes back the rows appended after `start` that follow the one with which the block holds
    /// `bytes` bytes (where reading row by row writes it out); the rows after `start` kept.
    pub fn keep_reaching(&mut self, start: usize, bytes: Option<usize>) -> usize {
        let end = bytes
            .filter(|&bytes| self.byte_size() >= bytes)
            .and_then(|bytes| self.rows_reaching(start, bytes));
        if let Some(end) = end {
            self.truncate(end);
        }
        self.rows - start
    }

    /// The fewest complete rows, more than `from`, with which the block holds at least `bytes`
    /// bytes as `byte_size` counts them; `None` if all of them hold fewer, or a column is
    /// neither plain nor nullable.
    pub fn rows_reaching(&self, from: usize, bytes: usize) -> Option<usize> {
        let mut per_row = vec![0usize; self.rows.checked_sub(from)?];
        let mut size = 0;
        for c in &self.columns {
            let (nullable, scalar, data) = plain(&c.enc)?;
            let null = usize::from(nullable);
            match scalar.width() {
                Some(w) => {
                    size += from * (w + null);
                    per_row.iter_mut().for_each(|r| *r += w + null);
                }
                None => {
                    let mut at = string_offset(data, from);
                    size += from * null + at;
                    for r in &mut per_row {
                        let next = string_offset_from(data, at, 1);
                        *r += next - at + null;
                        at = next;
                    }
                }
            }
        }
        per_row.iter().enumerate().find_map(|(i, r)| {
            size += r;
            (size >= bytes).then_some(from + i + 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::tests::builder;

    const COLUMNS: [(&str, &str); 3] = [("s", "Nullable(String)"), ("i", "Int32"), ("t", "String")];

    #[test]
    fn bulk_rows_are_the_rows_pushed_one_by_one() {
        let rows: [(Option<&str>, Option<i32>, Option<&str>); 3] = [
            (Some("a"), Some(1), None),
            (None, None, Some("")),
            (Some(""), Some(-7), Some("xyz")),
        ];
        let mut one = builder(&COLUMNS);
        for (s, i, t) in rows {
            let v = |s: Option<&'static str>| s.map_or(Value::Null, |s| Value::Str(s.as_bytes()));
            one.push(0, &v(s)).unwrap();
            one.push(1, &i.map_or(Value::Null, |i| Value::Int(i.into())))
                .unwrap();
            one.push(2, &v(t)).unwrap();
            one.finish_row();
        }
        let mut many = builder(&COLUMNS);
        for (col, pick) in [(0, 0), (2, 1)] {
            let mut b = many.bulk(col).unwrap();
            for r in rows {
                match [r.0, r.2][pick] {
                    Some(v) => b.put_str(v.as_bytes()),
                    None => b.put_null(),
                }
            }
        }
        let mut b = many.bulk(1).unwrap();
        for (_, i, _) in rows {
            match i {
                Some(i) => b.put(&i.to_le_bytes()),
                None => b.put_null(),
            }
        }
        many.add_rows(3);
        assert_eq!(many.rows(), 3);
        assert_eq!(many.byte_size(), one.byte_size());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        one.write_native(&mut a);
        many.write_native(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn rows_copied_from_another_block_are_the_rows_pushed_there() {
        let texts = ["", "abc", "de", "f", "ghij"];
        let push = |b: &mut BlockBuilder, k: usize| {
            let s = match k % 2 {
                0 => Value::Null,
                _ => Value::Str(texts[k].as_bytes()),
            };
            b.push(0, &s).unwrap();
            b.push(1, &Value::Int(k as i64 * 10)).unwrap();
            b.push(2, &Value::Str(texts[k].as_bytes())).unwrap();
            b.finish_row();
        };
        let mut whole = builder(&COLUMNS);
        (0..5).for_each(|k| push(&mut whole, k));
        let mut src = builder(&COLUMNS);
        (0..5).for_each(|k| push(&mut src, k));
        let mut copied = builder(&COLUMNS);
        push(&mut copied, 0);
        copied.extend_from(&src, 1, 3, &[]);
        copied.add_rows(3);
        copied.extend_from(&src, 4, 1, &[1]);
        copied.extend(1, &Value::Int(40)).unwrap();
        copied.add_rows(1);
        assert_eq!(copied.rows(), 5);
        assert_eq!(copied.byte_size(), whole.byte_size());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        whole.write_native(&mut a);
        copied.write_native(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn rows_reaching_finds_the_row_that_fills_the_block() {
        let mut b = builder(&COLUMNS);
        for t in ["", "abc", "de", "f"] {
            b.extend(0, &Value::Null).unwrap();
            b.extend(1, &Value::Int(1)).unwrap();
            b.extend(2, &Value::Str(t.as_bytes())).unwrap();
        }
        b.add_rows(4);
        // Each row: 1 + 1 (null, empty string) + 4 + 1 + len(t).
        assert_eq!(b.byte_size(), 7 * 4 + 6);
        assert_eq!(b.rows_reaching(0, 7), Some(1));
        assert_eq!(b.rows_reaching(0, 8), Some(2));
        assert_eq!(b.rows_reaching(0, 17), Some(2));
        assert_eq!(b.rows_reaching(1, 18), Some(3));
        assert_eq!(b.rows_reaching(2, 34), Some(4));
        assert_eq!(b.rows_reaching(2, 35), None);
        b.truncate(2);
        assert_eq!(b.byte_size(), 17);
        assert!(b.takes_bulk());
        assert!(!builder(&[("a", "Array(Int8)")]).takes_bulk());
    }
}
