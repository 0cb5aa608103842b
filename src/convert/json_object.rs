//! Values for the `JSON` object type (25.3+): a JSON object, checked here so that what the server
//! would refuse on arrival (not an object, broken text, one path twice) is an error with its file,
//! line and column rather than a failed insert. The object travels as its text (see `native`).

use super::{ConvError, ConvResult, write_string};
use crate::value::Value;
use crate::value::json::{MAX_VALUE_DEPTH, object_members};
use std::collections::HashSet;

/// Appends the object's text as a `String` value.
pub(super) fn encode(value: &Value<'_>, out: &mut Vec<u8>) -> ConvResult {
    let text = match value {
        Value::Json(b) => *b,
        Value::Text(b) | Value::Str(b) if b.trim_ascii_start().starts_with(b"{") => b,
        _ => return Err(ConvError::new("the JSON type takes a JSON object")),
    };
    let mut paths = HashSet::new();
    check_paths(text, "", 0, &mut paths)?;
    write_string(out, text);
    Ok(())
}

/// Checks what ClickHouse 26.9 refuses as duplicate paths: a key twice in one object (`{"a": 1,
/// "a": {"b": 2}}`), or a value twice at one path, keys joined by `.` (`{"a": {"b": 1}, "a.b": 2}`).
fn check_paths(
    object: &[u8],
    prefix: &str,
    depth: usize,
    paths: &mut HashSet<String>,
) -> ConvResult {
    if depth >= MAX_VALUE_DEPTH {
        return Err(ConvError::new(format!(
            "objects nest deeper than {MAX_VALUE_DEPTH} levels"
        )));
    }
    let members = object_members(object)
        .map_err(|e| ConvError::new(format!("not a valid JSON object: {e}")))?;
    let mut keys = HashSet::with_capacity(members.0.len());
    for (key, raw) in &members.0 {
        if !keys.insert(key.0.as_ref()) {
            return Err(ConvError::new(format!("key `{}` appears twice", key.0)));
        }
        let path = match prefix {
            "" => key.0.to_string(),
            p => format!("{p}.{}", key.0),
        };
        let text = raw.get();
        if text.starts_with('{') {
            check_paths(text.as_bytes(), &path, depth + 1, paths)?;
        } else if !paths.insert(path.clone()) {
            return Err(ConvError::new(format!("path `{path}` appears twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: Value<'_>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        encode(&v, &mut out).map_err(|e| e.0)?;
        Ok(out)
    }

    #[test]
    fn json_columns_take_objects_only() {
        assert_eq!(enc(Value::Json(br#"{"a":1}"#)).unwrap(), b"\x07{\"a\":1}");
        assert!(enc(Value::Text(br#" {"a": [1], "b": {"c": {}}}"#)).is_ok());
        assert_eq!(
            enc(Value::List(vec![])).unwrap_err(),
            "the JSON type takes a JSON object"
        );
        assert_eq!(
            enc(Value::Num(b"1")).unwrap_err(),
            "the JSON type takes a JSON object"
        );
        assert!(
            enc(Value::Text(b"{oops"))
                .unwrap_err()
                .starts_with("not a valid JSON object: ")
        );
    }

    #[test]
    fn a_path_twice_is_refused_as_the_server_would() {
        assert_eq!(
            enc(Value::Json(br#"{"a": 1, "a": 2}"#)).unwrap_err(),
            "key `a` appears twice"
        );
        assert_eq!(
            enc(Value::Json(br#"{"a": {"b": 1}, "a.b": [2]}"#)).unwrap_err(),
            "path `a.b` appears twice"
        );
        assert_eq!(
            enc(Value::Json(br#"{"x": {"a": {}, "a": {}}}"#)).unwrap_err(),
            "key `a` appears twice"
        );
        assert!(enc(Value::Json(br#"{"a": {"b": 1}, "a.c": 2, "": 3}"#)).is_ok());
        assert!(enc(Value::Json(br#"{"a": 1, "a.b": 2}"#)).is_ok());
        let deep = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
        assert_eq!(
            enc(Value::Text(deep.as_bytes())).unwrap_err(),
            "objects nest deeper than 64 levels"
        );
    }
}
