//! Converting field values into the bytes a ClickHouse column type stores, or a precise reason why not.

pub mod date_format;
mod json_object;
mod json_text;
mod number;
pub mod spelled;
mod time;
mod wide;

use crate::ch::types::ChType;
use crate::value::Value;
use chrono_tz::Tz;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use time::{days_since_epoch, looks_temporal, parse_datetime_nanos, written_nanos};
pub use wide::WideInt;

/// Why a value does not fit its column. The caller adds file, line, column and expected type.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvError(pub String);

impl ConvError {
    pub fn new(reason: impl Into<String>) -> Self {
        ConvError(reason.into())
    }
}

pub type ConvResult = Result<(), ConvError>;

/// The storage kind of a non-composite column type, ready to convert values into.
#[derive(Debug, Clone)]
pub enum Scalar {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    /// `Int128`, `UInt128`, `Int256`, `UInt256`.
    Wide(WideInt),
    F32,
    F64,
    Bool,
    Decimal {
        width: usize,
        precision: u8,
        scale: u8,
    },
    Date,
    Date32,
    DateTime(Tz),
    DateTime64 {
        precision: u8,
        tz: Tz,
    },
    Uuid,
    Enum8(Vec<(String, i8)>),
    Enum16(Vec<(String, i16)>),
    Ipv4,
    Ipv6,
    FixedString(usize),
    String,
    /// The `JSON` object type, sent as the object's text for the server to convert.
    Json,
}

impl Scalar {
    /// Builds the scalar kind for a base type, resolving time zones against the server's.
    pub fn from_type(ty: &ChType, server_tz: Tz) -> Result<Scalar, String> {
        let tz = |name: &Option<String>| -> Result<Tz, String> {
            match name {
                None => Ok(server_tz),
                Some(n) => n
                    .parse()
                    .map_err(|_| format!("type {ty} has an unknown time zone `{n}`")),
            }
        };
        Ok(match ty {
            ChType::Int8 => Scalar::I8,
            ChType::Int16 => Scalar::I16,
            ChType::Int32 => Scalar::I32,
            ChType::Int64 => Scalar::I64,
            ChType::UInt8 => Scalar::U8,
            ChType::UInt16 => Scalar::U16,
            ChType::UInt32 => Scalar::U32,
            ChType::UInt64 => Scalar::U64,
            ChType::Int128 => Scalar::Wide(WideInt::I128),
            ChType::UInt128 => Scalar::Wide(WideInt::U128),
            ChType::Int256 => Scalar::Wide(WideInt::I256),
            ChType::UInt256 => Scalar::Wide(WideInt::U256),
            ChType::Float32 => Scalar::F32,
            ChType::Float64 => Scalar::F64,
            ChType::Bool => Scalar::Bool,
            ChType::Decimal { precision, scale } => Scalar::Decimal {
                width: ChType::decimal_width(*precision),
                precision: *precision,
                scale: *scale,
            },
            ChType::String => Scalar::String,
            ChType::FixedString(n) => Scalar::FixedString(*n),
            ChType::Uuid => Scalar::Uuid,
            ChType::Date => Scalar::Date,
            ChType::Date32 => Scalar::Date32,
            ChType::DateTime(name) => Scalar::DateTime(tz(name)?),
            ChType::DateTime64(precision, name) => Scalar::DateTime64 {
                precision: *precision,
                tz: tz(name)?,
            },
            ChType::Enum8(items) => Scalar::Enum8(items.clone()),
            ChType::Enum16(items) => Scalar::Enum16(items.clone()),
            ChType::Ipv4 => Scalar::Ipv4,
            ChType::Ipv6 => Scalar::Ipv6,
            ChType::Json(_) => Scalar::Json,
            other => return Err(format!("type {other} cannot be filled from a data file")),
        })
    }

    /// Bytes per value, or `None` for `String`.
    pub fn width(&self) -> Option<usize> {
        Some(match self {
            Scalar::I8 | Scalar::U8 | Scalar::Bool | Scalar::Enum8(_) => 1,
            Scalar::I16 | Scalar::U16 | Scalar::Date | Scalar::Enum16(_) => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 | Scalar::Date32 | Scalar::DateTime(_) => 4,
            Scalar::Ipv4 => 4,
            Scalar::I64 | Scalar::U64 | Scalar::F64 | Scalar::DateTime64 { .. } => 8,
            Scalar::Decimal { width, .. } => *width,
            Scalar::Uuid | Scalar::Ipv6 => 16,
            Scalar::FixedString(n) => *n,
            Scalar::Wide(w) => w.width(),
            Scalar::String | Scalar::Json => return None,
        })
    }

    /// Appends the type's default value: zero, or an enum's smallest value as ClickHouse has it.
    pub fn encode_zero(&self, out: &mut Vec<u8>) {
        match self {
            Scalar::Enum8(items) => {
                let min = items.iter().map(|(_, v)| *v).min().unwrap_or(0);
                out.extend_from_slice(&min.to_le_bytes());
            }
            Scalar::Enum16(items) => {
                let min = items.iter().map(|(_, v)| *v).min().unwrap_or(0);
                out.extend_from_slice(&min.to_le_bytes());
            }
            Scalar::Json => write_string(out, b"{}"),
            _ => match self.width() {
                Some(w) => out.resize(out.len() + w, 0),
                None => out.push(0),
            },
        }
    }

    /// Appends `value` converted to this type. On error `out` is left as it was.
    pub fn encode(&self, value: &Value<'_>, out: &mut Vec<u8>) -> ConvResult {
        if !matches!(self, Scalar::String | Scalar::Json) {
            match value {
                Value::List(_) => {
                    return Err(ConvError::new(
                        "a list goes only into an Array, Tuple or String column",
                    ));
                }
                Value::Json(_) => {
                    return Err(ConvError::new(
                        "a JSON object goes only into a String, Map, named Tuple or JSON column",
                    ));
                }
                _ => {}
            }
        }
        match self {
            Scalar::String => encode_string(value, out),
            Scalar::I8 => put(out, number::int::<i8>(value, "Int8")?.to_le_bytes()),
            Scalar::I16 => put(out, number::int::<i16>(value, "Int16")?.to_le_bytes()),
            Scalar::I32 => put(out, number::int::<i32>(value, "Int32")?.to_le_bytes()),
            Scalar::I64 => put(out, number::int::<i64>(value, "Int64")?.to_le_bytes()),
            Scalar::U8 => put(out, number::uint8_or_bool(value)?.to_le_bytes()),
            Scalar::U16 => put(out, number::int::<u16>(value, "UInt16")?.to_le_bytes()),
            Scalar::U32 => put(out, number::int::<u32>(value, "UInt32")?.to_le_bytes()),
            Scalar::U64 => put(out, number::int::<u64>(value, "UInt64")?.to_le_bytes()),
            Scalar::Wide(w) => w.encode(value, out),
            Scalar::Json => json_object::encode(value, out),
            Scalar::F32 => put(out, number::float32(value)?.to_le_bytes()),
            Scalar::F64 => put(out, number::float64(value)?.to_le_bytes()),
            Scalar::Bool => put(out, [u8::from(number::boolean(value)?)]),
            Scalar::Decimal {
                width,
                precision,
                scale,
            } => {
                if *width > 16 {
                    return wide::encode_decimal256(value, *precision, *scale, out);
                }
                let v = number::decimal(value, *precision, *scale)?;
                out.extend_from_slice(&v.to_le_bytes()[..*width]);
                Ok(())
            }
            Scalar::Date => {
                let days = time::date_days(value)?;
                let d = u16::try_from(days).map_err(|_| {
                    ConvError::new("date is outside Date's range 1970-01-01..2149-06-06")
                })?;
                put(out, d.to_le_bytes())
            }
            Scalar::Date32 => {
                let days = time::date_days(value)?;
                // Date32 covers 1900-01-01 ..= 2299-12-31.
                if !(-25567..=120529).contains(&days) {
                    return Err(ConvError::new(
                        "date is outside Date32's range 1900-01-01..2299-12-31",
                    ));
                }
                put(out, (days as i32).to_le_bytes())
            }
            Scalar::DateTime(tz) => {
                let nanos = time::datetime_nanos(value, *tz)?;
                let secs = nanos.div_euclid(1_000_000_000);
                let s = u32::try_from(secs).map_err(|_| {
                    ConvError::new("time is outside DateTime's range 1970-01-01..2106-02-07")
                })?;
                put(out, s.to_le_bytes())
            }
            Scalar::DateTime64 { precision, tz } => {
                let nanos = time::datetime_nanos(value, *tz)?;
                let divisor = 10i128.pow(9 - u32::from(*precision));
                if nanos % divisor != 0 {
                    return Err(ConvError::new(format!(
                        "time has more precision than DateTime64({precision}) keeps"
                    )));
                }
                // DateTime64 covers 1900-01-01 00:00:00 ..= 2299-12-31 23:59:59.999999999 UTC.
                if !(-2_208_988_800 * NANOS..10_413_792_000 * NANOS).contains(&nanos) {
                    return Err(ConvError::new(
                        "time is outside DateTime64's range 1900-01-01..2299-12-31",
                    ));
                }
                // Nanosecond ticks end in 2262.
                let ticks = i64::try_from(nanos / divisor).map_err(|_| {
                    ConvError::new("time is outside DateTime64(9)'s range 1900-01-01..2262-04-11")
                })?;
                put(out, ticks.to_le_bytes())
            }
            Scalar::Uuid => put(out, parse_uuid(text_of(value, "UUID")?)?),
            Scalar::Enum8(items) => {
                let v = enum_value(
                    value,
                    items.iter().map(|(l, v)| (l.as_str(), i16::from(*v))),
                )?;
                put(out, (v as i8).to_le_bytes())
            }
            Scalar::Enum16(items) => {
                let v = enum_value(value, items.iter().map(|(l, v)| (l.as_str(), *v)))?;
                put(out, v.to_le_bytes())
            }
            Scalar::Ipv4 => {
                let text = std::str::from_utf8(text_of(value, "IPv4")?)
                    .map_err(|_| ConvError::new("not valid UTF-8"))?;
                let ip: Ipv4Addr = text
                    .trim()
                    .parse()
                    .map_err(|_| ConvError::new("not an IPv4 address"))?;
                put(out, u32::from(ip).to_le_bytes())
            }
            Scalar::Ipv6 => {
                let text = std::str::from_utf8(text_of(value, "IPv6")?)
                    .map_err(|_| ConvError::new("not valid UTF-8"))?;
                let text = text.trim();
                let ip: Ipv6Addr = match text.parse::<Ipv4Addr>() {
                    Ok(v4) => v4.to_ipv6_mapped(),
                    Err(_) => text
                        .parse()
                        .map_err(|_| ConvError::new("not an IPv6 address"))?,
                };
                put(out, ip.octets())
            }
            Scalar::FixedString(n) => {
                let bytes = string_bytes(value)?;
                if bytes.len() > *n {
                    return Err(ConvError::new(format!(
                        "{} bytes do not fit FixedString({n})",
                        bytes.len()
                    )));
                }
                out.extend_from_slice(&bytes);
                out.resize(out.len() + (*n - bytes.len()), 0);
                Ok(())
            }
        }
    }
}

const NANOS: i128 = 1_000_000_000;

fn put<const N: usize>(out: &mut Vec<u8>, bytes: [u8; N]) -> ConvResult {
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Appends a ClickHouse `String`: a LEB128 length followed by the bytes.
pub fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn encode_string(value: &Value<'_>, out: &mut Vec<u8>) -> ConvResult {
    match value {
        Value::Text(b) | Value::Str(b) | Value::Num(b) | Value::Json(b) => write_string(out, b),
        other => write_string(out, string_bytes(other)?.as_ref()),
    }
    Ok(())
}

/// The textual form of a value for a string column.
fn string_bytes<'v>(value: &'v Value<'_>) -> Result<std::borrow::Cow<'v, [u8]>, ConvError> {
    use std::borrow::Cow;
    Ok(match value {
        Value::Text(b) | Value::Str(b) | Value::Num(b) | Value::Json(b) => Cow::Borrowed(*b),
        Value::Null => Cow::Borrowed(&[]),
        Value::Bool(b) => Cow::Borrowed(if *b { b"true" } else { b"false" }),
        Value::Int(i) => Cow::Owned(i.to_string().into_bytes()),
        Value::UInt(u) => Cow::Owned(u.to_string().into_bytes()),
        Value::Float(f) => Cow::Owned(f.to_string().into_bytes()),
        Value::Decimal(v, s) => Cow::Owned(number::format_decimal(*v, *s).into_bytes()),
        Value::Date(d) => Cow::Owned(time::format_date(*d).into_bytes()),
        Value::Timestamp(t) => Cow::Owned(time::format_timestamp(*t).into_bytes()),
        Value::List(items) => Cow::Owned(json_text::list_json(items).into_bytes()),
    })
}

/// The text of a value that must be given as text.
fn text_of<'v>(value: &'v Value<'_>, ty: &str) -> Result<&'v [u8], ConvError> {
    match value {
        Value::Text(b) | Value::Str(b) => Ok(b),
        _ => Err(ConvError::new(format!("expected text for {ty}"))),
    }
}

fn parse_uuid(text: &[u8]) -> Result<[u8; 16], ConvError> {
    let text = text.trim_ascii();
    let text = text
        .strip_prefix(b"{")
        .and_then(|t| t.strip_suffix(b"}"))
        .unwrap_or(text);
    let mut nibbles = [0u8; 32];
    let mut n = 0;
    for (i, &c) in text.iter().enumerate() {
        if c == b'-' && matches!(i, 8 | 13 | 18 | 23) && text.len() == 36 {
            continue;
        }
        let v = (c as char)
            .to_digit(16)
            .ok_or_else(|| ConvError::new("not a UUID"))?;
        if n == 32 {
            return Err(ConvError::new("not a UUID"));
        }
        nibbles[n] = v as u8;
        n += 1;
    }
    if n != 32 {
        return Err(ConvError::new("not a UUID"));
    }
    let mut raw = [0u8; 16];
    for (i, pair) in nibbles.chunks(2).enumerate() {
        raw[i] = (pair[0] << 4) | pair[1];
    }
    // ClickHouse stores a UUID as two little-endian 64-bit halves, high half first.
    let mut out = [0u8; 16];
    for i in 0..8 {
        out[i] = raw[7 - i];
        out[8 + i] = raw[15 - i];
    }
    Ok(out)
}

fn enum_value<'l>(
    value: &Value<'_>,
    items: impl Iterator<Item = (&'l str, i16)> + Clone,
) -> Result<i16, ConvError> {
    let by_number = |n: i64| {
        items
            .clone()
            .find(|(_, v)| i64::from(*v) == n)
            .map(|(_, v)| v)
    };
    let found = match value {
        Value::Text(b) | Value::Str(b) => items
            .clone()
            .find(|(l, _)| l.as_bytes() == *b)
            .map(|(_, v)| v)
            .or_else(|| {
                std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .and_then(by_number)
            }),
        Value::Num(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(by_number),
        Value::Int(i) => by_number(*i),
        Value::UInt(u) => i64::try_from(*u).ok().and_then(by_number),
        _ => None,
    };
    found.ok_or_else(|| {
        let labels: Vec<String> = items.take(8).map(|(l, _)| format!("'{l}'")).collect();
        ConvError::new(format!(
            "not one of the enum's values ({})",
            labels.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &Scalar, v: Value<'_>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        s.encode(&v, &mut out).map_err(|e| e.0)?;
        Ok(out)
    }

    #[test]
    fn uuid_layout_matches_clickhouse() {
        // Bytes ClickHouse 18.16 itself produced for this UUID in Native format.
        let out = enc(
            &Scalar::Uuid,
            Value::Text(b"61f0c404-5cb3-11e7-907b-a6006ad3dba0"),
        )
        .unwrap();
        assert_eq!(
            out,
            [
                0xe7, 0x11, 0xb3, 0x5c, 0x04, 0xc4, 0xf0, 0x61, 0xa0, 0xdb, 0xd3, 0x6a, 0x00, 0xa6,
                0x7b, 0x90
            ]
        );
        assert!(enc(&Scalar::Uuid, Value::Text(b"61f0c404-5cb3")).is_err());
    }

    #[test]
    fn enums_accept_labels_and_numbers() {
        let e = Scalar::Enum8(vec![("a".into(), 1), ("b".into(), -2)]);
        assert_eq!(enc(&e, Value::Text(b"b")).unwrap(), [0xfe]);
        assert_eq!(enc(&e, Value::Text(b"1")).unwrap(), [1]);
        assert_eq!(
            enc(&e, Value::Text(b"c")).unwrap_err(),
            "not one of the enum's values ('a', 'b')"
        );
    }

    #[test]
    fn an_enum_defaults_to_its_smallest_value() {
        let mut out = Vec::new();
        Scalar::Enum8(vec![("a".into(), 1), ("b".into(), -2)]).encode_zero(&mut out);
        Scalar::Enum16(vec![("x".into(), 300)]).encode_zero(&mut out);
        assert_eq!(out, [0xfe, 0x2c, 0x01]);
    }

    #[test]
    fn fixed_strings_pad_and_refuse_overflow() {
        let f = Scalar::FixedString(3);
        assert_eq!(enc(&f, Value::Text(b"ab")).unwrap(), b"ab\0");
        assert!(enc(&f, Value::Text(b"abcd")).is_err());
    }

    #[test]
    fn strings_are_length_prefixed() {
        assert_eq!(enc(&Scalar::String, Value::Text(b"hi")).unwrap(), b"\x02hi");
        assert_eq!(
            enc(&Scalar::String, Value::Bool(true)).unwrap(),
            b"\x04true"
        );
        let long = vec![b'x'; 300];
        let out = enc(&Scalar::String, Value::Text(&long)).unwrap();
        assert_eq!(&out[..2], &[0xac, 0x02]);
    }

    #[test]
    fn ips_are_stored_as_clickhouse_does() {
        assert_eq!(
            enc(&Scalar::Ipv4, Value::Text(b"1.2.3.4")).unwrap(),
            [4, 3, 2, 1]
        );
        let v6 = enc(&Scalar::Ipv6, Value::Text(b"::1")).unwrap();
        assert_eq!(v6[15], 1);
    }

    #[test]
    fn wide_decimals_are_sign_extended() {
        let d = Scalar::Decimal {
            width: 32,
            precision: 50,
            scale: 0,
        };
        let out = enc(&d, Value::Text(b"-1")).unwrap();
        assert_eq!(out, vec![0xff; 32]);
    }

    #[test]
    fn json_defaults_to_an_empty_object() {
        let mut zero = Vec::new();
        Scalar::Json.encode_zero(&mut zero);
        assert_eq!(zero, b"\x02{}");
    }

    #[test]
    fn datetime64_keeps_its_digits_and_its_range() {
        let dt = |p| Scalar::DateTime64 {
            precision: p,
            tz: Tz::UTC,
        };
        let micros = 1_704_164_645_123_456i64;
        for v in [
            Value::Text(b"2024-01-02 03:04:05.123456"),
            Value::Num(b"1704164645.123456"),
            Value::Num(b"1704164645123456"),
            Value::Num(b"1704164645123.456"),
            Value::Timestamp(i128::from(micros) * 1000),
        ] {
            assert_eq!(
                enc(&dt(6), v.clone()).unwrap(),
                micros.to_le_bytes(),
                "{v:?}"
            );
        }
        assert_eq!(
            enc(&dt(3), Value::Text(b"2024-01-02 03:04:05.123456")).unwrap_err(),
            "time has more precision than DateTime64(3) keeps"
        );
        assert!(enc(&dt(0), Value::Text(b"1900-01-01 00:00:00")).is_ok());
        assert_eq!(
            enc(&dt(0), Value::Text(b"1899-12-31 23:59:59")).unwrap_err(),
            "time is outside DateTime64's range 1900-01-01..2299-12-31"
        );
        assert_eq!(
            enc(&dt(3), Value::Text(b"2300-01-01 00:00:00")).unwrap_err(),
            "time is outside DateTime64's range 1900-01-01..2299-12-31"
        );
        assert_eq!(
            enc(&dt(9), Value::Text(b"2262-04-12 00:00:00")).unwrap_err(),
            "time is outside DateTime64(9)'s range 1900-01-01..2262-04-11"
        );
    }
}
