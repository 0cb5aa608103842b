//! ClickHouse column types as `system.columns` spells them, parsed into a form the encoder can use.

mod parse;

use std::fmt;

/// How deeply types may nest (`Array(Array(…))`, `Tuple(Map(…))`). Conversion of a value follows
/// its column's type, so this also bounds the recursion over nested values.
pub const MAX_TYPE_DEPTH: usize = 32;

/// A column type this tool can fill from a data file, or `Other` for one it cannot.
#[derive(Debug, Clone, PartialEq)]
pub enum ChType {
    Int8,
    Int16,
    Int32,
    Int64,
    Int128,
    Int256,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    UInt128,
    UInt256,
    Float32,
    Float64,
    Bool,
    /// Precision and scale; the storage width follows from the precision.
    Decimal {
        precision: u8,
        scale: u8,
    },
    String,
    FixedString(usize),
    Uuid,
    Date,
    Date32,
    /// Optional explicit time zone.
    DateTime(Option<String>),
    /// Sub-second precision (0–9) and optional time zone.
    DateTime64(u8, Option<String>),
    Enum8(Vec<(String, i8)>),
    Enum16(Vec<(String, i16)>),
    Ipv4,
    Ipv6,
    Nullable(Box<ChType>),
    LowCardinality(Box<ChType>),
    Array(Box<ChType>),
    /// Keys and values; sent as `Array(Tuple(K, V))`.
    Map(Box<ChType>, Box<ChType>),
    /// Elements in order, with their names when the tuple is named.
    Tuple(Vec<(Option<String>, ChType)>),
    /// The `JSON` object type (25.3+), spelled as the server gives it (with any arguments).
    Json(String),
    /// Any type a data file cannot carry (AggregateFunction, Variant, …), kept verbatim.
    Other(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("cannot parse ClickHouse type `{input}`: {reason}")]
pub struct TypeParseError {
    input: String,
    reason: String,
}

impl ChType {
    pub fn parse(input: &str) -> Result<ChType, TypeParseError> {
        parse::parse(input).map_err(|reason| TypeParseError {
            input: input.to_owned(),
            reason,
        })
    }

    /// Whether a `JSON` object type is in this type.
    pub fn contains_json(&self) -> bool {
        match self {
            ChType::Json(_) => true,
            ChType::Nullable(i) | ChType::LowCardinality(i) | ChType::Array(i) => i.contains_json(),
            ChType::Map(k, v) => k.contains_json() || v.contains_json(),
            ChType::Tuple(items) => items.iter().any(|(_, t)| t.contains_json()),
            _ => false,
        }
    }

    /// The type with every `JSON` replaced by `String`: how such a column travels in a `Native`
    /// block, for the server to convert.
    pub fn json_as_string(&self) -> ChType {
        let boxed = |t: &ChType| Box::new(t.json_as_string());
        match self {
            ChType::Json(_) => ChType::String,
            ChType::Nullable(i) => ChType::Nullable(boxed(i)),
            ChType::LowCardinality(i) => ChType::LowCardinality(boxed(i)),
            ChType::Array(i) => ChType::Array(boxed(i)),
            ChType::Map(k, v) => ChType::Map(boxed(k), boxed(v)),
            ChType::Tuple(items) => ChType::Tuple(
                items
                    .iter()
                    .map(|(n, t)| (n.clone(), t.json_as_string()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn is_nullable(&self) -> bool {
        match self {
            ChType::Nullable(_) => true,
            ChType::LowCardinality(inner) => inner.is_nullable(),
            _ => false,
        }
    }

    /// The type with `Nullable` and `LowCardinality` wrappers removed.
    pub fn base(&self) -> &ChType {
        match self {
            ChType::Nullable(inner) | ChType::LowCardinality(inner) => inner.base(),
            other => other,
        }
    }

    /// Decimal storage width in bytes for a given precision.
    pub fn decimal_width(precision: u8) -> usize {
        match precision {
            0..=9 => 4,
            10..=18 => 8,
            19..=38 => 16,
            _ => 32,
        }
    }
}

impl fmt::Display for ChType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChType::Int8 => f.write_str("Int8"),
            ChType::Int16 => f.write_str("Int16"),
            ChType::Int32 => f.write_str("Int32"),
            ChType::Int64 => f.write_str("Int64"),
            ChType::Int128 => f.write_str("Int128"),
            ChType::Int256 => f.write_str("Int256"),
            ChType::UInt8 => f.write_str("UInt8"),
            ChType::UInt16 => f.write_str("UInt16"),
            ChType::UInt32 => f.write_str("UInt32"),
            ChType::UInt64 => f.write_str("UInt64"),
            ChType::UInt128 => f.write_str("UInt128"),
            ChType::UInt256 => f.write_str("UInt256"),
            ChType::Float32 => f.write_str("Float32"),
            ChType::Float64 => f.write_str("Float64"),
            ChType::Bool => f.write_str("Bool"),
            ChType::Decimal { precision, scale } => write!(f, "Decimal({precision}, {scale})"),
            ChType::String => f.write_str("String"),
            ChType::FixedString(n) => write!(f, "FixedString({n})"),
            ChType::Uuid => f.write_str("UUID"),
            ChType::Date => f.write_str("Date"),
            ChType::Date32 => f.write_str("Date32"),
            ChType::DateTime(None) => f.write_str("DateTime"),
            ChType::DateTime(Some(tz)) => write!(f, "DateTime('{}')", escape_quoted(tz)),
            ChType::DateTime64(p, None) => write!(f, "DateTime64({p})"),
            ChType::DateTime64(p, Some(tz)) => {
                write!(f, "DateTime64({p}, '{}')", escape_quoted(tz))
            }
            ChType::Enum8(items) => {
                write_enum(f, "Enum8", items.iter().map(|(n, v)| (n, *v as i16)))
            }
            ChType::Enum16(items) => write_enum(f, "Enum16", items.iter().map(|(n, v)| (n, *v))),
            ChType::Ipv4 => f.write_str("IPv4"),
            ChType::Ipv6 => f.write_str("IPv6"),
            ChType::Nullable(inner) => write!(f, "Nullable({inner})"),
            ChType::LowCardinality(inner) => write!(f, "LowCardinality({inner})"),
            ChType::Array(inner) => write!(f, "Array({inner})"),
            ChType::Map(k, v) => write!(f, "Map({k}, {v})"),
            ChType::Tuple(items) => {
                f.write_str("Tuple(")?;
                for (i, (name, ty)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(name) = name {
                        write!(f, "{} ", quote_name(name))?;
                    }
                    write!(f, "{ty}")?;
                }
                f.write_str(")")
            }
            ChType::Json(raw) | ChType::Other(raw) => f.write_str(raw),
        }
    }
}

fn write_enum<'a>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    items: impl Iterator<Item = (&'a String, i16)>,
) -> fmt::Result {
    write!(f, "{name}(")?;
    for (i, (label, value)) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "'{}' = {value}", escape_quoted(label))?;
    }
    f.write_str(")")
}

fn escape_quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// A tuple element name as ClickHouse writes it: bare when it is an identifier, else in backticks.
fn quote_name(name: &str) -> String {
    let bare = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare {
        name.to_owned()
    } else {
        format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> ChType {
        let ty = ChType::parse(s).unwrap();
        assert_eq!(ChType::parse(&ty.to_string()).unwrap(), ty, "{s}");
        ty
    }

    #[test]
    fn parses_the_types_18_16_reports() {
        assert_eq!(roundtrip("Int32"), ChType::Int32);
        assert_eq!(
            roundtrip("Nullable(Decimal(18, 4))"),
            ChType::Nullable(Box::new(ChType::Decimal {
                precision: 18,
                scale: 4
            }))
        );
        assert_eq!(
            roundtrip("Decimal128(5)"),
            ChType::Decimal {
                precision: 38,
                scale: 5
            }
        );
        assert_eq!(
            roundtrip("DateTime('Europe/Berlin')"),
            ChType::DateTime(Some("Europe/Berlin".into()))
        );
        assert_eq!(
            roundtrip("DateTime64(3, 'UTC')"),
            ChType::DateTime64(3, Some("UTC".into()))
        );
        assert_eq!(
            roundtrip("LowCardinality(Nullable(String))"),
            ChType::LowCardinality(Box::new(ChType::Nullable(Box::new(ChType::String))))
        );
        assert_eq!(
            roundtrip("Array(Nullable(Int32))"),
            ChType::Array(Box::new(ChType::Nullable(Box::new(ChType::Int32))))
        );
        assert_eq!(roundtrip("FixedString(3)"), ChType::FixedString(3));
    }

    #[test]
    fn parses_enums_with_quotes_spaces_and_negative_values() {
        assert_eq!(
            roundtrip("Enum16('x y' = -3, 'it\\'s' = 300, 'a''b' = 4)"),
            ChType::Enum16(vec![
                ("x y".into(), -3),
                ("it's".into(), 300),
                ("a'b".into(), 4)
            ])
        );
        assert!(ChType::parse("Enum8('a' = 300)").is_err());
    }

    #[test]
    fn parses_the_types_modern_servers_report() {
        assert_eq!(
            roundtrip("Map(String, Tuple(Int8, String))"),
            ChType::Map(
                Box::new(ChType::String),
                Box::new(ChType::Tuple(vec![
                    (None, ChType::Int8),
                    (None, ChType::String)
                ]))
            )
        );
        assert_eq!(
            roundtrip("Tuple(a UInt256, `b c` Nullable(Int128), d Array(Array(UInt8)))"),
            ChType::Tuple(vec![
                (Some("a".into()), ChType::UInt256),
                (
                    Some("b c".into()),
                    ChType::Nullable(Box::new(ChType::Int128))
                ),
                (
                    Some("d".into()),
                    ChType::Array(Box::new(ChType::Array(Box::new(ChType::UInt8))))
                ),
            ])
        );
        assert_eq!(
            roundtrip("JSON(max_dynamic_paths = 10, a.b UInt32)"),
            ChType::Json("JSON(max_dynamic_paths = 10, a.b UInt32)".into())
        );
        assert_eq!(roundtrip("JSON"), ChType::Json("JSON".into()));
        assert_eq!(
            ChType::parse("Map(String, Array(JSON))")
                .unwrap()
                .json_as_string()
                .to_string(),
            "Map(String, Array(String))"
        );
        assert_eq!(
            ChType::parse("AggregateFunction(uniq, String)").unwrap(),
            ChType::Other("AggregateFunction(uniq, String)".into())
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = |n: usize| format!("{}UInt8{}", "Array(".repeat(n), ")".repeat(n));
        assert!(ChType::parse(&deep(MAX_TYPE_DEPTH - 1)).is_ok());
        assert_eq!(
            ChType::parse(&deep(100_000)).unwrap_err().to_string(),
            format!(
                "cannot parse ClickHouse type `{}`: types nest deeper than 32 levels",
                deep(100_000)
            )
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(ChType::parse("").is_err());
        assert!(ChType::parse("Nullable(").is_err());
        assert!(ChType::parse("Decimal(3, 5)").is_err());
        assert!(ChType::parse("Int32 junk").is_err());
        assert!(ChType::parse("Tuple(a UInt8").is_err());
        assert!(ChType::parse("Map(String)").is_err());
    }
}
