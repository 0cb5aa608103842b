//! The type lattice of schema inference: what each sampled value suggests, how suggestions
//! combine, and the ClickHouse type a column ends up with on the connected server.

use crate::ch::Caps;
use crate::ch::types::ChType;
use crate::convert::{days_since_epoch, parse_datetime_nanos, spelled};
use crate::value::Value;
use chrono_tz::Tz;

const NANOS: i128 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Bool,
    Int {
        min: i128,
        max: i128,
    },
    Float,
    Decimal {
        scale: u8,
    },
    /// Days since the epoch.
    Date {
        min: i64,
        max: i64,
    },
    /// Seconds since the epoch, and how many sub-second digits the values need.
    DateTime {
        digits: u8,
        min: i128,
        max: i128,
    },
    String,
    Array(Box<Column>),
}

/// What the sample says about one column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub kind: Option<Kind>,
    /// A null or empty value was seen.
    pub nulls: bool,
    /// Records that had the field.
    pub present: u64,
}

impl Column {
    /// Adds what another sample says about the same column.
    pub fn merge(&mut self, other: Column) {
        self.nulls |= other.nulls;
        self.present += other.present;
        self.kind = match (self.kind.take(), other.kind) {
            (Some(a), Some(b)) => Some(join(a, b)),
            (a, b) => a.or(b),
        };
    }

    pub fn add(&mut self, value: &Value<'_>) {
        match kind_of(value) {
            None => self.nulls = true,
            Some(k) => {
                self.kind = Some(match self.kind.take() {
                    None => k,
                    Some(old) => join(old, k),
                })
            }
        }
    }
}

/// Which optional types the server has.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    pub bool: bool,
    pub datetime64: bool,
    pub date32: bool,
}

impl Features {
    pub fn of(caps: &Caps) -> Features {
        Features {
            bool: caps.has_bool(),
            datetime64: caps.has_datetime64(),
            date32: caps.has_date32(),
        }
    }
}

fn sub_second_digits(nanos: i128) -> u8 {
    match nanos.rem_euclid(NANOS) {
        0 => 0,
        n if n % 1_000_000 == 0 => 3,
        n if n % 1_000 == 0 => 6,
        _ => 9,
    }
}

fn datetime(nanos: i128) -> Kind {
    let secs = nanos.div_euclid(NANOS);
    Kind::DateTime {
        digits: sub_second_digits(nanos),
        min: secs,
        max: secs,
    }
}

fn is_integer(t: &[u8]) -> bool {
    let digits = t.strip_prefix(b"-").or(t.strip_prefix(b"+")).unwrap_or(t);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits[0] != b'0')
}

fn is_float(t: &[u8]) -> bool {
    let unsigned = t.strip_prefix(b"-").or(t.strip_prefix(b"+")).unwrap_or(t);
    let leading_zero = unsigned.len() > 1 && unsigned[0] == b'0' && unsigned[1] != b'.';
    !leading_zero
        && t.iter().any(u8::is_ascii_digit)
        && t.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'))
        && std::str::from_utf8(t).is_ok_and(|s| s.parse::<f64>().is_ok())
}

/// Dates and date-times written as text, in the spellings conversion reads. As in ClickHouse's
/// own inference, a date alone written with numbers is a `Date`, one with a month name a
/// `DateTime`; day and month orders the text cannot tell stay text.
fn temporal(t: &[u8]) -> Option<Kind> {
    let written = spelled::parse(t).ok()?;
    if written.time.is_none() && !written.month_name {
        let d = days_since_epoch(written.date);
        return Some(Kind::Date { min: d, max: d });
    }
    parse_datetime_nanos(t, Tz::UTC).ok().map(datetime)
}

/// Text from a text format: numbers, booleans, dates and times are recognised.
fn text_kind(t: &[u8]) -> Kind {
    let t = t.trim_ascii();
    if t.eq_ignore_ascii_case(b"true") || t.eq_ignore_ascii_case(b"false") {
        return Kind::Bool;
    }
    if is_integer(t) {
        return match std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<i128>().ok())
        {
            Some(v) => Kind::Int { min: v, max: v },
            None => Kind::String,
        };
    }
    if is_float(t) {
        return Kind::Float;
    }
    temporal(t).unwrap_or(Kind::String)
}

fn kind_of(value: &Value<'_>) -> Option<Kind> {
    Some(match value {
        Value::Null => return None,
        Value::Text(t) if t.is_empty() || *t == b"\\N" => return None,
        Value::Text(t) => text_kind(t),
        // A string by type stays a string, unless it spells a date or time.
        Value::Str(s) => temporal(s.trim_ascii()).unwrap_or(Kind::String),
        Value::Json(_) => Kind::String,
        Value::Num(n) if is_integer(n) => text_kind(n),
        Value::Num(_) | Value::Float(_) => Kind::Float,
        Value::Bool(_) => Kind::Bool,
        Value::Int(i) => Kind::Int {
            min: (*i).into(),
            max: (*i).into(),
        },
        Value::UInt(u) => Kind::Int {
            min: (*u).into(),
            max: (*u).into(),
        },
        Value::Decimal(_, scale) => Kind::Decimal { scale: *scale },
        Value::Date(d) => Kind::Date {
            min: (*d).into(),
            max: (*d).into(),
        },
        Value::Timestamp(ns) => datetime(*ns),
        Value::List(items) => {
            let mut element = Column::default();
            for item in items {
                element.add(item);
            }
            Kind::Array(Box::new(element))
        }
    })
}

fn join(a: Kind, b: Kind) -> Kind {
    use Kind::*;
    match (a, b) {
        (Bool, Bool) => Bool,
        (Int { min: a, max: b }, Int { min: c, max: d }) => Int {
            min: a.min(c),
            max: b.max(d),
        },
        (Bool, Int { min, max }) | (Int { min, max }, Bool) if min >= 0 && max <= 1 => Bool,
        (Float, Float | Int { .. }) | (Int { .. }, Float) => Float,
        (Decimal { scale: a }, Decimal { scale: b }) => Decimal { scale: a.max(b) },
        (Decimal { scale }, Int { .. }) | (Int { .. }, Decimal { scale }) => Decimal { scale },
        (Decimal { .. }, Float) | (Float, Decimal { .. }) => Float,
        (Date { min: a, max: b }, Date { min: c, max: d }) => Date {
            min: a.min(c),
            max: b.max(d),
        },
        (
            DateTime { digits, min, max },
            DateTime {
                digits: e,
                min: c,
                max: d,
            },
        ) => DateTime {
            digits: digits.max(e),
            min: min.min(c),
            max: max.max(d),
        },
        (
            Date { min, max },
            DateTime {
                digits,
                min: c,
                max: d,
            },
        )
        | (
            DateTime {
                digits,
                min: c,
                max: d,
            },
            Date { min, max },
        ) => DateTime {
            digits,
            min: (i128::from(min) * 86_400).min(c),
            max: (i128::from(max) * 86_400).max(d),
        },
        (Array(a), Array(b)) => {
            let kind = match (a.kind, b.kind) {
                (Some(x), Some(y)) => Some(join(x, y)),
                (x, y) => x.or(y),
            };
            Array(Box::new(Column {
                kind,
                nulls: a.nulls || b.nulls,
                present: 0,
            }))
        }
        _ => String,
    }
}

fn base_type(kind: Option<&Kind>, f: Features) -> ChType {
    let Some(kind) = kind else {
        return ChType::String;
    };
    match kind {
        Kind::Bool if f.bool => ChType::Bool,
        Kind::Bool => ChType::UInt8,
        Kind::Int { min, max } if *min >= i128::from(i64::MIN) && *max <= i128::from(i64::MAX) => {
            ChType::Int64
        }
        Kind::Int { min, max } if *min >= 0 && *max <= i128::from(u64::MAX) => ChType::UInt64,
        Kind::Int { .. } | Kind::String => ChType::String,
        Kind::Float => ChType::Float64,
        Kind::Decimal { scale } => ChType::Decimal {
            precision: 38,
            scale: (*scale).min(38),
        },
        Kind::Date { min, max } if *min >= 0 && *max <= 65_535 => ChType::Date,
        Kind::Date { min, max } if f.date32 && *min >= -25_567 && *max <= 120_529 => ChType::Date32,
        Kind::Date { .. } => ChType::String,
        Kind::DateTime { digits, .. } if *digits > 0 && f.datetime64 => {
            ChType::DateTime64(*digits, None)
        }
        Kind::DateTime { min, max, .. } if *min >= 0 && *max <= i128::from(u32::MAX) => {
            ChType::DateTime(None)
        }
        Kind::DateTime { .. } if f.datetime64 => ChType::DateTime64(0, None),
        Kind::DateTime { .. } => ChType::String,
        Kind::Array(element) => {
            let inner = base_type(element.kind.as_ref(), f);
            let inner = match element.nulls && !matches!(inner, ChType::Array(_)) {
                true => ChType::Nullable(Box::new(inner)),
                false => inner,
            };
            ChType::Array(Box::new(inner))
        }
    }
}

/// The column's type: `Nullable` when a value was null or empty, or some records lacked it.
pub fn column_type(column: &Column, records: u64, f: Features) -> ChType {
    let base = base_type(column.kind.as_ref(), f);
    if matches!(base, ChType::Array(_)) || !(column.nulls || column.present < records) {
        base
    } else {
        ChType::Nullable(Box::new(base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: Features = Features {
        bool: false,
        datetime64: false,
        date32: false,
    };
    const NEW: Features = Features {
        bool: true,
        datetime64: true,
        date32: true,
    };

    fn infer(values: &[Value<'_>], f: Features) -> String {
        let mut c = Column::default();
        for v in values {
            c.add(v);
            c.present += 1;
        }
        column_type(&c, values.len() as u64, f).to_string()
    }

    fn texts(values: &[&str], f: Features) -> String {
        let v: Vec<Value<'_>> = values.iter().map(|t| Value::Text(t.as_bytes())).collect();
        infer(&v, f)
    }

    #[test]
    fn text_values() {
        assert_eq!(texts(&["1", "-20"], OLD), "Int64");
        assert_eq!(texts(&["1", "18446744073709551615"], OLD), "UInt64");
        assert_eq!(texts(&["-1", "18446744073709551615"], OLD), "String");
        assert_eq!(texts(&["1", "2.5"], OLD), "Float64");
        assert_eq!(texts(&["1", ""], OLD), "Nullable(Int64)");
        assert_eq!(texts(&["007"], OLD), "String");
        assert_eq!(texts(&["true", "FALSE"], OLD), "UInt8");
        assert_eq!(texts(&["true", "0"], NEW), "Bool");
        assert_eq!(texts(&["true", "5"], OLD), "String");
        assert_eq!(texts(&["2024-02-29"], OLD), "Date");
        assert_eq!(texts(&["1969-12-31"], OLD), "String");
        assert_eq!(texts(&["1969-12-31"], NEW), "Date32");
        assert_eq!(
            texts(&["2024-02-29", "2024-03-01 10:00:00"], OLD),
            "DateTime"
        );
        assert_eq!(texts(&["2024-03-01T10:00:00.5Z"], OLD), "DateTime");
        assert_eq!(texts(&["2024-03-01T10:00:00.5Z"], NEW), "DateTime64(3)");
        assert_eq!(texts(&["2024-02-30"], OLD), "String");
        assert_eq!(texts(&["2012/01/01", "2012/01/02"], OLD), "Date");
        assert_eq!(texts(&["2010/01/01 00:00"], OLD), "DateTime");
        assert_eq!(texts(&["Jan 1 2000", "Feb 1 2000"], OLD), "DateTime");
        assert_eq!(texts(&["01/02/2000"], OLD), "String");
        assert_eq!(texts(&["", ""], OLD), "Nullable(String)");
    }

    #[test]
    fn typed_values() {
        assert_eq!(infer(&[Value::Num(b"1"), Value::Num(b"2")], OLD), "Int64");
        assert_eq!(
            infer(&[Value::Num(b"1"), Value::Num(b"2.0")], OLD),
            "Float64"
        );
        assert_eq!(infer(&[Value::Str(b"12")], OLD), "String");
        assert_eq!(infer(&[Value::Str(b"")], OLD), "String");
        assert_eq!(infer(&[Value::Str(b"2024-01-01")], OLD), "Date");
        assert_eq!(
            infer(&[Value::Bool(true), Value::Null], OLD),
            "Nullable(UInt8)"
        );
        assert_eq!(
            infer(&[Value::Decimal(1, 2), Value::Int(3)], OLD),
            "Decimal(38, 2)"
        );
        assert_eq!(
            infer(&[Value::Timestamp(1_000_000_001), Value::Date(3)], NEW),
            "DateTime64(9)"
        );
        let list = Value::List(vec![Value::Num(b"1"), Value::Null]);
        assert_eq!(
            infer(&[list, Value::List(vec![])], OLD),
            "Array(Nullable(Int64))"
        );
        let nested = Value::List(vec![Value::List(vec![Value::Str(b"a")])]);
        assert_eq!(infer(&[nested, Value::Null], OLD), "Array(Array(String))");
        assert_eq!(
            infer(&[Value::List(vec![]), Value::Str(b"x")], OLD),
            "String"
        );
    }

    #[test]
    fn absent_fields_make_a_column_nullable() {
        let mut c = Column::default();
        c.add(&Value::Num(b"1"));
        c.present = 1;
        assert_eq!(column_type(&c, 2, OLD).to_string(), "Nullable(Int64)");
    }
}
