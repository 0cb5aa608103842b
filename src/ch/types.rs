//! ClickHouse column types as `system.columns` spells them, parsed into a form the encoder can use.

use std::fmt;

/// A column type this tool can fill from a data file, or `Other` for one it cannot.
#[derive(Debug, Clone, PartialEq)]
pub enum ChType {
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
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
    /// Any type a data file cannot carry (Tuple, Map, AggregateFunction, …), kept verbatim.
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
        let mut p = Parser { s: input, pos: 0 };
        let ty = p.parse_type().map_err(|reason| TypeParseError {
            input: input.to_owned(),
            reason,
        })?;
        p.skip_ws();
        if p.pos != input.len() {
            return Err(TypeParseError {
                input: input.to_owned(),
                reason: format!("unexpected text at offset {}", p.pos),
            });
        }
        Ok(ty)
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
            ChType::UInt8 => f.write_str("UInt8"),
            ChType::UInt16 => f.write_str("UInt16"),
            ChType::UInt32 => f.write_str("UInt32"),
            ChType::UInt64 => f.write_str("UInt64"),
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
            ChType::Other(raw) => f.write_str(raw),
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

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        while self.rest().starts_with([' ', '\t', '\n']) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}` at offset {}", self.pos))
        }
    }

    fn ident(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.s[start..self.pos]
    }

    fn number(&mut self) -> Result<i64, String> {
        self.skip_ws();
        let start = self.pos;
        if self.rest().starts_with('-') {
            self.pos += 1;
        }
        let len = self
            .rest()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest().len());
        self.pos += len;
        self.s[start..self.pos]
            .parse()
            .map_err(|_| format!("expected a number at offset {start}"))
    }

    fn quoted(&mut self) -> Result<String, String> {
        self.skip_ws();
        if !self.rest().starts_with('\'') {
            return Err(format!("expected a quoted string at offset {}", self.pos));
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                '\'' => {
                    // A doubled quote is an escaped quote.
                    if self.rest()[i + 1..].starts_with('\'') {
                        chars.next();
                        out.push('\'');
                    } else {
                        self.pos += i + 1;
                        return Ok(out);
                    }
                }
                c => out.push(c),
            }
        }
        Err("unterminated quoted string".to_owned())
    }

    /// Skips a balanced argument list (after its opening parenthesis) and returns it raw.
    fn skip_args(&mut self) -> Result<(), String> {
        let mut depth = 1;
        let mut in_quote = false;
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if in_quote => {
                    chars.next();
                }
                '\'' => in_quote = !in_quote,
                '(' if !in_quote => depth += 1,
                ')' if !in_quote => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += i + 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err("unbalanced parentheses".to_owned())
    }

    fn parse_type(&mut self) -> Result<ChType, String> {
        let start = self.pos;
        let name = self.ident().to_owned();
        let simple = match name.as_str() {
            "Int8" => Some(ChType::Int8),
            "Int16" => Some(ChType::Int16),
            "Int32" => Some(ChType::Int32),
            "Int64" => Some(ChType::Int64),
            "UInt8" => Some(ChType::UInt8),
            "UInt16" => Some(ChType::UInt16),
            "UInt32" => Some(ChType::UInt32),
            "UInt64" => Some(ChType::UInt64),
            "Float32" => Some(ChType::Float32),
            "Float64" => Some(ChType::Float64),
            "Bool" | "Boolean" => Some(ChType::Bool),
            "String" => Some(ChType::String),
            "UUID" => Some(ChType::Uuid),
            "Date" => Some(ChType::Date),
            "Date32" => Some(ChType::Date32),
            "IPv4" => Some(ChType::Ipv4),
            "IPv6" => Some(ChType::Ipv6),
            _ => None,
        };
        if let Some(ty) = simple {
            return Ok(ty);
        }
        match name.as_str() {
            "" => Err(format!("expected a type name at offset {start}")),
            "DateTime" => {
                if self.eat('(') {
                    let tz = self.quoted()?;
                    self.expect(')')?;
                    Ok(ChType::DateTime(Some(tz)))
                } else {
                    Ok(ChType::DateTime(None))
                }
            }
            "DateTime64" => {
                self.expect('(')?;
                let precision = self.number()?;
                if !(0..=9).contains(&precision) {
                    return Err(format!("DateTime64 precision {precision} is out of range"));
                }
                let tz = if self.eat(',') {
                    Some(self.quoted()?)
                } else {
                    None
                };
                self.expect(')')?;
                Ok(ChType::DateTime64(precision as u8, tz))
            }
            "Decimal" => {
                self.expect('(')?;
                let precision = self.number()?;
                self.expect(',')?;
                let scale = self.number()?;
                self.expect(')')?;
                decimal(precision, scale)
            }
            "Decimal32" | "Decimal64" | "Decimal128" | "Decimal256" => {
                self.expect('(')?;
                let scale = self.number()?;
                self.expect(')')?;
                let precision = match name.as_str() {
                    "Decimal32" => 9,
                    "Decimal64" => 18,
                    "Decimal128" => 38,
                    _ => 76,
                };
                decimal(precision, scale)
            }
            "FixedString" => {
                self.expect('(')?;
                let n = self.number()?;
                self.expect(')')?;
                if n <= 0 {
                    return Err("FixedString length must be positive".to_owned());
                }
                Ok(ChType::FixedString(n as usize))
            }
            "Enum8" | "Enum16" => {
                self.expect('(')?;
                let mut items = Vec::new();
                loop {
                    let label = self.quoted()?;
                    self.expect('=')?;
                    let value = self.number()?;
                    items.push((label, value));
                    if !self.eat(',') {
                        break;
                    }
                }
                self.expect(')')?;
                if name == "Enum8" {
                    items
                        .into_iter()
                        .map(|(l, v)| i8::try_from(v).map(|v| (l, v)))
                        .collect::<Result<_, _>>()
                        .map(ChType::Enum8)
                        .map_err(|_| "Enum8 value out of range".to_owned())
                } else {
                    items
                        .into_iter()
                        .map(|(l, v)| i16::try_from(v).map(|v| (l, v)))
                        .collect::<Result<_, _>>()
                        .map(ChType::Enum16)
                        .map_err(|_| "Enum16 value out of range".to_owned())
                }
            }
            "Nullable" | "LowCardinality" | "Array" => {
                self.expect('(')?;
                let inner = Box::new(self.parse_type()?);
                self.expect(')')?;
                Ok(match name.as_str() {
                    "Nullable" => ChType::Nullable(inner),
                    "LowCardinality" => ChType::LowCardinality(inner),
                    _ => ChType::Array(inner),
                })
            }
            _ => {
                if self.eat('(') {
                    self.skip_args()?;
                }
                Ok(ChType::Other(self.s[start..self.pos].trim().to_owned()))
            }
        }
    }
}

fn decimal(precision: i64, scale: i64) -> Result<ChType, String> {
    if !(1..=76).contains(&precision) || !(0..=precision).contains(&scale) {
        return Err(format!("Decimal({precision}, {scale}) is out of range"));
    }
    Ok(ChType::Decimal {
        precision: precision as u8,
        scale: scale as u8,
    })
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
    fn keeps_unknown_types_verbatim() {
        assert_eq!(
            ChType::parse("Map(String, Tuple(Int8, String))").unwrap(),
            ChType::Other("Map(String, Tuple(Int8, String))".into())
        );
        assert_eq!(
            ChType::parse("AggregateFunction(uniq, String)").unwrap(),
            ChType::Other("AggregateFunction(uniq, String)".into())
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(ChType::parse("").is_err());
        assert!(ChType::parse("Nullable(").is_err());
        assert!(ChType::parse("Decimal(3, 5)").is_err());
        assert!(ChType::parse("Int32 junk").is_err());
    }
}
