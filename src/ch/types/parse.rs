//! The parser of type names: a small recursive descent over the server's spelling, with a depth
//! limit so that no type name can exhaust the stack.

use super::{ChType, MAX_TYPE_DEPTH};

pub(super) fn parse(input: &str) -> Result<ChType, String> {
    let mut p = Parser {
        s: input,
        pos: 0,
        depth: 0,
    };
    let ty = p.parse_type()?;
    p.skip_ws();
    if p.pos != input.len() {
        return Err(format!("unexpected text at offset {}", p.pos));
    }
    Ok(ty)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    depth: usize,
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

    /// Skips a balanced argument list (after its opening parenthesis).
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
        self.depth += 1;
        if self.depth > MAX_TYPE_DEPTH {
            return Err(format!("types nest deeper than {MAX_TYPE_DEPTH} levels"));
        }
        let ty = self.parse_type_at_depth();
        self.depth -= 1;
        ty
    }

    /// A tuple element: `name Type` or `Type`.
    fn tuple_element(&mut self) -> Result<(Option<String>, ChType), String> {
        self.skip_ws();
        let start = self.pos;
        let name = if self.rest().starts_with('`') || self.rest().starts_with('"') {
            Some(self.quoted_name()?)
        } else {
            let word = self.ident().to_owned();
            let after = self.pos;
            self.skip_ws();
            let is_name =
                !word.is_empty() && self.rest().starts_with(|c: char| c.is_ascii_alphabetic());
            self.pos = if is_name { self.pos } else { after };
            if is_name { Some(word) } else { None }
        };
        if name.is_none() {
            self.pos = start;
        }
        Ok((name, self.parse_type()?))
    }

    /// A name in backticks or double quotes, with backslash escapes.
    fn quoted_name(&mut self) -> Result<String, String> {
        let quote = self.rest().chars().next().ok_or("expected a name")?;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err("unterminated quoted name".to_owned())
    }

    fn parse_type_at_depth(&mut self) -> Result<ChType, String> {
        let start = self.pos;
        let name = self.ident().to_owned();
        let simple = match name.as_str() {
            "Int8" => Some(ChType::Int8),
            "Int16" => Some(ChType::Int16),
            "Int32" => Some(ChType::Int32),
            "Int64" => Some(ChType::Int64),
            "Int128" => Some(ChType::Int128),
            "Int256" => Some(ChType::Int256),
            "UInt8" => Some(ChType::UInt8),
            "UInt16" => Some(ChType::UInt16),
            "UInt32" => Some(ChType::UInt32),
            "UInt64" => Some(ChType::UInt64),
            "UInt128" => Some(ChType::UInt128),
            "UInt256" => Some(ChType::UInt256),
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
            "Map" => {
                self.expect('(')?;
                let key = Box::new(self.parse_type()?);
                self.expect(',')?;
                let value = Box::new(self.parse_type()?);
                self.expect(')')?;
                Ok(ChType::Map(key, value))
            }
            "Tuple" => {
                self.expect('(')?;
                let mut items = Vec::new();
                if !self.eat(')') {
                    loop {
                        items.push(self.tuple_element()?);
                        if !self.eat(',') {
                            break;
                        }
                    }
                    self.expect(')')?;
                }
                Ok(ChType::Tuple(items))
            }
            _ => {
                if self.eat('(') {
                    self.skip_args()?;
                }
                let raw = self.s[start..self.pos].trim().to_owned();
                Ok(match name.as_str() {
                    "JSON" => ChType::Json(raw),
                    _ => ChType::Other(raw),
                })
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
