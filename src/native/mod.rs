//! Builds ClickHouse `Native` blocks column by column from converted values, reusing buffers.
//!
//! ClickHouse 18.16 does not convert types on `Native` input, so every column is encoded exactly as
//! the table declares it (including `LowCardinality`), and sent under the type name the server gave.
//! The one exception is the `JSON` object type (25.3+), whose own serialization is a tree of
//! dynamic subcolumns: a JSON column travels as `String` holding the object's text, and the server
//! converts it on arrival (`input_format_native_allow_types_conversion`, which every server with
//! the JSON type has, on by default; the insert pins it). The object was checked to be one here,
//! so a bad value is an error with its file, line and column, not a failed insert.

mod buffers;
mod bulk;
mod cells;
mod column;
mod composite;
mod lowcard;
mod sort;
mod text;

use crate::ch::types::ChType;
use crate::convert::{ConvResult, write_string, write_varint};
use crate::value::Value;
pub use buffers::Sink;
pub use bulk::Bulk;
use chrono_tz::Tz;
use column::Enc;

/// A column to fill: its name, the type as the server spells it, and its parsed type.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub type_name: String,
    pub ty: ChType,
    /// The encoded value an empty field takes in a non-nullable column (the column's constant
    /// `DEFAULT`), or `None` for the type's zero value.
    pub default: Option<Vec<u8>>,
}

impl ColumnSpec {
    pub fn new(name: &str, type_name: &str) -> Result<ColumnSpec, String> {
        let ty = ChType::parse(type_name).map_err(|e| e.to_string())?;
        Ok(ColumnSpec {
            name: name.to_owned(),
            type_name: type_name.to_owned(),
            ty,
            default: None,
        })
    }

    /// Whether this tool can encode values of the column's type; `Err` says why not.
    pub fn fillable(&self, server_tz: Tz) -> Result<(), String> {
        Enc::new(&self.ty, server_tz).map(drop)
    }

    /// Sets the value empty fields take from the text of a constant default expression's result.
    pub fn with_default_text(mut self, text: &[u8], server_tz: Tz) -> Result<ColumnSpec, String> {
        if !self.ty.is_nullable() && !matches!(self.ty, ChType::Array(_)) {
            self.default = Some(column::encode_default(&self.ty, text, server_tz)?);
        }
        Ok(self)
    }
}

struct Column {
    name: String,
    type_name: String,
    default: Option<Vec<u8>>,
    enc: Enc,
}

/// A block under construction. Rows are appended field by field; a row is complete after
/// [`BlockBuilder::finish_row`] and can be taken back with [`BlockBuilder::abort_row`].
pub struct BlockBuilder {
    columns: Vec<Column>,
    rows: usize,
}

impl BlockBuilder {
    pub fn new(specs: &[ColumnSpec], server_tz: Tz) -> Result<BlockBuilder, String> {
        let columns = specs
            .iter()
            .map(|s| {
                let type_name = match s.ty.contains_json() {
                    true => s.ty.json_as_string().to_string(),
                    false => s.type_name.clone(),
                };
                Ok(Column {
                    name: s.name.clone(),
                    type_name,
                    default: s.default.clone(),
                    enc: Enc::new(&s.ty, server_tz)
                        .map_err(|e| format!("column `{}`: {e}", s.name))?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(BlockBuilder { columns, rows: 0 })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Approximate size of the encoded block in bytes.
    pub fn byte_size(&self) -> usize {
        self.columns.iter().map(|c| c.enc.byte_size()).sum()
    }

    /// Sets column `col` of the current row. Setting a column twice in one row is a caller bug.
    pub fn push(&mut self, col: usize, value: &Value<'_>) -> ConvResult {
        let c = &mut self.columns[col];
        debug_assert_eq!(c.enc.rows(), self.rows, "column set twice in one row");
        c.enc.push(value, c.default.as_deref())
    }

    /// Whether column `col` already has a value in the current row.
    pub fn is_set(&self, col: usize) -> bool {
        self.columns[col].enc.rows() > self.rows
    }

    /// Completes the row: columns not set take NULL or their default.
    pub fn finish_row(&mut self) {
        let rows = self.rows;
        for c in &mut self.columns {
            if c.enc.rows() == rows {
                // An empty value never fails to encode.
                let _ = c.enc.push(&Value::Null, c.default.as_deref());
            }
        }
        self.rows += 1;
    }

    /// Takes back whatever the current, unfinished row has set.
    pub fn abort_row(&mut self) {
        self.truncate(self.rows);
    }

    /// Takes back complete rows so that `rows` remain (and any unfinished row).
    pub fn truncate(&mut self, rows: usize) {
        for c in &mut self.columns {
            c.enc.truncate(rows);
        }
        self.rows = self.rows.min(rows);
    }

    /// Appends the block in `Native` format to `out` and empties the builder for reuse.
    pub fn write_native(&mut self, out: &mut Vec<u8>) {
        self.write_native_to(&[], out);
    }

    /// Writes the block in `Native` format, its rows sorted by the columns `key` where they can
    /// be compared here, and empties the builder. Says whether the rows were sorted.
    pub fn write_native_to(&mut self, key: &[usize], out: &mut dyn Sink) -> bool {
        let order = if key.is_empty() {
            None
        } else {
            let encs: Vec<&Enc> = key.iter().map(|&k| &self.columns[k].enc).collect();
            sort::order(&encs, self.rows)
        };
        let buf = out.buf();
        write_varint(buf, self.columns.len() as u64);
        write_varint(buf, self.rows as u64);
        for c in &mut self.columns {
            let buf = out.buf();
            write_string(buf, c.name.as_bytes());
            write_string(buf, c.type_name.as_bytes());
            c.enc.write_and_clear(order.as_deref(), out);
        }
        self.rows = 0;
        order.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of `cols` (name, type) for a server in UTC.
    pub(super) fn builder(cols: &[(&str, &str)]) -> BlockBuilder {
        let specs: Vec<ColumnSpec> = cols
            .iter()
            .map(|(n, t)| ColumnSpec::new(n, t).unwrap())
            .collect();
        BlockBuilder::new(&specs, Tz::UTC).unwrap()
    }

    #[test]
    fn block_layout_matches_clickhouse() {
        // `SELECT toString(number) AS s, toInt64(number) AS i FROM numbers(2) FORMAT Native`
        let mut b = builder(&[("s", "String"), ("i", "Int64")]);
        for n in 0..2u8 {
            let text = [b'0' + n];
            b.push(0, &Value::Str(&text)).unwrap();
            b.push(1, &Value::Int(i64::from(n))).unwrap();
            b.finish_row();
        }
        let mut out = Vec::new();
        b.write_native(&mut out);
        let mut expected = vec![2, 2, 1, b's', 6];
        expected.extend(b"String\x010\x011\x01i\x05Int64");
        expected.extend([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(out, expected);
        assert_eq!(b.rows(), 0);
    }

    #[test]
    fn rows_are_written_in_key_order() {
        let mut b = builder(&[
            ("k", "String"),
            ("n", "Nullable(Int32)"),
            ("a", "Array(UInt8)"),
            ("lc", "LowCardinality(String)"),
            ("t", "UInt16"),
        ]);
        let rows: [(&str, Option<i32>, &str, &str, u16); 3] = [
            ("b", Some(1), "[1]", "x", 2),
            ("a", None, "[2,3]", "y", 9),
            ("b", Some(3), "[]", "z", 1),
        ];
        for (k, n, a, lc, t) in rows {
            b.push(0, &Value::Str(k.as_bytes())).unwrap();
            if let Some(n) = n {
                b.push(1, &Value::Int(i64::from(n))).unwrap();
            }
            b.push(2, &Value::Text(a.as_bytes())).unwrap();
            b.push(3, &Value::Str(lc.as_bytes())).unwrap();
            b.push(4, &Value::UInt(u64::from(t))).unwrap();
            b.finish_row();
        }
        let mut sorted = Vec::new();
        assert!(b.write_native_to(&[0, 4], &mut sorted));
        // Expected: the same rows appended in key order (a,9), (b,1), (b,2).
        let mut expected = builder(&[
            ("k", "String"),
            ("n", "Nullable(Int32)"),
            ("a", "Array(UInt8)"),
            ("lc", "LowCardinality(String)"),
            ("t", "UInt16"),
        ]);
        for i in [1, 2, 0] {
            let (k, n, a, lc, t) = rows[i];
            expected.push(0, &Value::Str(k.as_bytes())).unwrap();
            if let Some(n) = n {
                expected.push(1, &Value::Int(i64::from(n))).unwrap();
            }
            expected.push(2, &Value::Text(a.as_bytes())).unwrap();
            expected.push(3, &Value::Str(lc.as_bytes())).unwrap();
            expected.push(4, &Value::UInt(u64::from(t))).unwrap();
            expected.finish_row();
        }
        let mut want = Vec::new();
        expected.write_native(&mut want);
        // Dictionaries keep first-seen order, so compare everything but the LowCardinality column.
        let lc_at = |v: &[u8]| {
            v.windows(22)
                .position(|w| w == b"LowCardinality(String)")
                .unwrap()
        };
        assert_eq!(sorted[..lc_at(&sorted)], want[..lc_at(&want)]);
        assert_eq!(b.rows(), 0);
    }

    #[test]
    fn keys_it_cannot_compare_leave_the_rows_alone() {
        let mut b = builder(&[("n", "Nullable(Int32)")]);
        b.push(0, &Value::Int(2)).unwrap();
        b.finish_row();
        let mut out = Vec::new();
        assert!(!b.write_native_to(&[0], &mut out));
    }

    #[test]
    fn unset_columns_take_defaults_and_rows_can_be_taken_back() {
        let mut b = builder(&[("a", "Int32"), ("b", "Nullable(String)")]);
        b.push(0, &Value::Int(1)).unwrap();
        b.finish_row();
        b.push(1, &Value::Str(b"x")).unwrap();
        assert!(b.push(0, &Value::Text(b"nope")).is_err());
        b.abort_row();
        assert_eq!(b.rows(), 1);
        let mut out = Vec::new();
        b.write_native(&mut out);
        let mut expected = vec![2, 1, 1, b'a', 5];
        expected.extend(b"Int32\x01\0\0\0\x01b\x10Nullable(String)\x01\0");
        assert_eq!(out, expected);
    }
}
