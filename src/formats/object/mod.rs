//! One JSON object decoded into fields, for both JSON layouts: numbers keep their literal text,
//! strings are unescaped, arrays become lists, and nested objects stay JSON text. A valid object
//! is read in one pass ([`one_pass`]); the strict reader below finds what is wrong with any other.

mod one_pass;

use super::fields::FieldNames;
use super::{FieldSink, ReadError, RecordError};
use crate::value::json::{DecodeError, Item, Members};

/// Where an object's text starts in its file, for error positions.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub line: u64,
    /// 1-based byte column of the object's first byte on its line.
    pub column: u64,
    pub record: u64,
}

/// Where the nesting of arrays and objects in `text` first exceeds `max` levels: the line
/// offset within `text` (0 for its first line), or `None` if it never does. Brackets inside
/// strings do not count.
fn too_deep(text: &[u8], max: usize) -> Option<u64> {
    let (mut depth, mut in_string, mut escaped, mut lines) = (0usize, false, false, 0u64);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(lines);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => lines += 1,
            _ => {}
        }
    }
    None
}

/// What a JSON text starts with, for "expected an object" errors.
fn kind_of(text: &[u8]) -> &'static str {
    match text.trim_ascii_start().first() {
        None => "nothing",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(_) => "something that is not JSON",
    }
}

fn malformed(e: &serde_json::Error, at: Origin) -> ReadError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    let line = at.line + e.line().saturating_sub(1) as u64;
    let column = if e.line() <= 1 {
        at.column + e.column().saturating_sub(1) as u64
    } else {
        e.column() as u64
    };
    ReadError::Record(RecordError {
        line: Some(line),
        record: at.record,
        column: None,
        reason: format!("malformed JSON: {msg} at column {column}"),
    })
}

pub use one_pass::OnePass;

/// Decodes the object in `text` and hands its members to `sink`; arrays and objects may nest
/// `max_depth` levels deep, the record itself being the first. `parser` is the reader's own,
/// reused from record to record.
pub fn decode(
    text: &[u8],
    names: &mut FieldNames,
    parser: &mut OnePass,
    sink: &mut dyn FieldSink,
    at: Origin,
    max_depth: usize,
) -> Result<(), ReadError> {
    let record_error = |column: Option<String>, reason: String| {
        ReadError::Record(RecordError {
            line: Some(at.line),
            record: at.record,
            column,
            reason,
        })
    };
    if parser.parse(text, max_depth).is_some() {
        for (name, value) in parser.members(text) {
            let name = name.map_err(|e| record_error(None, format!("malformed JSON: {e}")))?;
            let index = names.index_of(name)?;
            sink.field(index, name, value)
                .map_err(|e| record_error(Some(name.to_owned()), e.0))?;
        }
        return Ok(());
    }
    if text.trim_ascii_start().first() != Some(&b'{') {
        return Err(record_error(
            None,
            format!("expected a JSON object, found {}", kind_of(text)),
        ));
    }
    if let Some(offset) = too_deep(text, max_depth) {
        return Err(ReadError::Record(RecordError {
            line: Some(at.line + offset),
            record: at.record,
            column: None,
            reason: format!(
                "arrays and objects nested more than {max_depth} levels deep (the limit)"
            ),
        }));
    }
    let members: Members<'_> = serde_json::from_slice(text).map_err(|e| malformed(&e, at))?;
    for (key, raw) in &members.0 {
        let name = key.0.as_ref();
        let index = names.index_of(name)?;
        let item = Item::decode(raw).map_err(|e| match e {
            DecodeError::Json(e) => malformed(&e, at),
            too_deep => record_error(Some(name.to_owned()), too_deep.to_string()),
        })?;
        sink.field(index, name, item.value())
            .map_err(|e| record_error(Some(name.to_owned()), e.0))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ConvError;
    use crate::value::Value;

    #[derive(Default)]
    struct Collect(Vec<(usize, String, String)>);

    impl FieldSink for Collect {
        fn field(&mut self, index: usize, name: &str, value: Value<'_>) -> Result<(), ConvError> {
            if name == "bad" {
                return Err(ConvError::new("no"));
            }
            self.0.push((index, name.to_owned(), format!("{value:?}")));
            Ok(())
        }
    }

    const AT: Origin = Origin {
        line: 7,
        column: 3,
        record: 2,
    };

    fn run(text: &str) -> Result<Vec<(usize, String, String)>, String> {
        let mut names = FieldNames::default();
        let mut sink = Collect::default();
        let mut parser = OnePass::default();
        decode(text.as_bytes(), &mut names, &mut parser, &mut sink, AT, 4)
            .map_err(|e| e.describe("f"))?;
        Ok(sink.0)
    }

    #[test]
    fn members_map_to_values() {
        let got = run(
            r#"{"n": 12345678901234567890.5, "s": "a\"b", "t": true, "z": null,
                "o": {"x": [1]}, "l": [1, "x", [null]]}"#,
        )
        .unwrap();
        let values: Vec<&str> = got.iter().map(|(_, _, v)| v.as_str()).collect();
        assert_eq!(
            values,
            [
                "Num([49, 50, 51, 52, 53, 54, 55, 56, 57, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 48, 46, 53])",
                "Str([97, 34, 98])",
                "Bool(true)",
                "Null",
                "Json([123, 34, 120, 34, 58, 32, 91, 49, 93, 125])",
                "List([Num([49]), Str([120]), List([Null])])",
            ]
        );
        assert_eq!(got[5].0, 5);
    }

    #[test]
    fn errors_carry_positions() {
        assert_eq!(
            run("[1]").unwrap_err(),
            "f:7: expected a JSON object, found an array"
        );
        assert_eq!(
            run(r#"{"a": tru}"#).unwrap_err(),
            "f:7: malformed JSON: expected ident at column 12"
        );
        assert_eq!(
            run("{\"a\": 1,\n \"b\" 2}").unwrap_err(),
            "f:8: malformed JSON: expected `:` at column 6"
        );
        assert_eq!(run(r#"{"bad": 1}"#).unwrap_err(), "f:7:bad: no");
    }

    #[test]
    fn nesting_is_bounded_and_brackets_in_strings_do_not_count() {
        assert!(run(r#"{"a": [[["x"]]], "o": {"p": {"q": 1}}}"#).is_ok());
        assert!(run(r#"{"a": "[[[[[[[[[[", "b": ["{{{{{{"]}"#).is_ok());
        assert_eq!(
            run("{\"a\": [1,\n [[[2]]]]}").unwrap_err(),
            "f:8: arrays and objects nested more than 4 levels deep (the limit)"
        );
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(run(&deep).unwrap_err().ends_with("(the limit)"));
    }
}
