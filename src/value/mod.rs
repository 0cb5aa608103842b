//! One field of one record as a format reader hands it over, before conversion to a column type.

pub mod json;

/// A borrowed field value. Text formats hand over `Text`; typed formats hand over what they have.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// An explicit null (JSON `null`, a Parquet null).
    Null,
    /// Text from a text format (CSV, XML). Empty text is an empty field: NULL or the default.
    Text(&'a [u8]),
    /// A value that is a string by type (a JSON string, a Parquet string): empty stays empty.
    Str(&'a [u8]),
    /// The literal text of a number (JSON), kept as text so no precision is lost.
    Num(&'a [u8]),
    /// The text of a nested JSON object, which only a string column takes.
    Json(&'a [u8]),
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// An exact decimal: unscaled value and scale (Parquet DECIMAL).
    Decimal(i128, u8),
    /// Days since 1970-01-01 (Parquet DATE).
    Date(i32),
    /// Nanoseconds since 1970-01-01T00:00:00Z (Parquet TIMESTAMP).
    Timestamp(i128),
    /// A list of values (JSON array, Parquet LIST).
    List(Vec<Value<'a>>),
}

impl Value<'_> {
    /// The value as text for error messages, shortened to `max` characters.
    pub fn preview(&self, max: usize) -> String {
        let full = match self {
            Value::Null => "null".to_owned(),
            Value::Text(b) | Value::Str(b) | Value::Num(b) | Value::Json(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Decimal(v, s) => format!("{v}e-{s}"),
            Value::Date(d) => format!("date {d}"),
            Value::Timestamp(t) => format!("timestamp {t}ns"),
            Value::List(items) => format!("[{} items]", items.len()),
        };
        shorten(&full, max)
    }
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_shortened() {
        assert_eq!(Value::Text(b"abcdef").preview(4), "abc…");
        assert_eq!(Value::Text(b"abc").preview(4), "abc");
        assert_eq!(Value::Null.preview(10), "null");
    }
}
