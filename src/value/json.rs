//! JSON text decoded into field values: an object's members with their values not yet decoded,
//! and values whose strings borrow from the text where they can. The JSON readers use it for
//! records; Map and Tuple columns use it for the objects inside a record.

use super::Value;
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// How deeply arrays may nest inside a value; decoding deeper arrays would exhaust the stack.
pub const MAX_VALUE_DEPTH: usize = 64;

/// Why a JSON value could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("arrays nest deeper than {MAX_VALUE_DEPTH} levels")]
    TooDeep,
}

/// A string, borrowed from the input when it has no escapes.
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// An object's members in order, their values not yet decoded.
pub struct Members<'a>(pub Vec<(Text<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    out.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A decoded JSON value that a `Value` can borrow from.
pub enum Item<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    /// A nested object, kept as its JSON text.
    Object(&'a str),
    List(Vec<Item<'a>>),
}

impl<'a> Item<'a> {
    /// Decodes a value; arrays nested deeper than [`MAX_VALUE_DEPTH`] are refused.
    pub fn decode(raw: &'a RawValue) -> Result<Item<'a>, DecodeError> {
        Self::decode_at(raw, 0)
    }

    fn decode_at(raw: &'a RawValue, depth: usize) -> Result<Item<'a>, DecodeError> {
        let text = raw.get();
        Ok(match text.as_bytes().first() {
            Some(b'"') => Item::Str(serde_json::from_str::<Text<'a>>(text)?.0),
            Some(b'{') => Item::Object(text),
            Some(b'[') if depth >= MAX_VALUE_DEPTH => return Err(DecodeError::TooDeep),
            Some(b'[') => Item::List(
                serde_json::from_str::<Vec<&'a RawValue>>(text)?
                    .into_iter()
                    .map(|item| Item::decode_at(item, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Some(b't') => Item::Bool(true),
            Some(b'f') => Item::Bool(false),
            Some(b'n') => Item::Null,
            Some(_) => Item::Num(text),
            None => return Err(serde_json::Error::custom("empty value").into()),
        })
    }

    pub fn value(&self) -> Value<'_> {
        match self {
            Item::Null => Value::Null,
            Item::Bool(b) => Value::Bool(*b),
            Item::Num(n) => Value::Num(n.as_bytes()),
            Item::Str(s) => Value::Str(s.as_bytes()),
            Item::Object(o) => Value::Json(o.as_bytes()),
            Item::List(items) => Value::List(items.iter().map(Item::value).collect()),
        }
    }
}

/// The members of a JSON object's text, in order.
pub fn object_members(text: &[u8]) -> Result<Members<'_>, serde_json::Error> {
    serde_json::from_slice(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_arrays_are_refused_without_recursing_into_them() {
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_VALUE_DEPTH),
            "]".repeat(MAX_VALUE_DEPTH)
        );
        let raw: &RawValue = serde_json::from_str(&ok).unwrap();
        assert!(Item::decode(raw).is_ok());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let raw: &RawValue = serde_json::from_str(&deep).unwrap();
        assert!(matches!(Item::decode(raw), Err(DecodeError::TooDeep)));
    }

    #[test]
    fn members_borrow_or_unescape() {
        let m = object_members(br#"{"a": 1, "b\u0021": {"c": [2]}}"#).unwrap();
        let names: Vec<&str> = m.0.iter().map(|(k, _)| k.0.as_ref()).collect();
        assert_eq!(names, ["a", "b!"]);
        assert_eq!(m.0[1].1.get(), r#"{"c": [2]}"#);
    }
}
