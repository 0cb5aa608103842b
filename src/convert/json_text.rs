//! The JSON text of a list, which is what a list (a JSON array, an XML list, a Parquet LIST)
//! stores in a `String` column.

use super::{number, time};
use crate::value::Value;
use std::fmt::Write;

pub(super) fn list_json(items: &[Value<'_>]) -> String {
    let mut out = String::new();
    write_list(items, &mut out);
    out
}

fn write_list(items: &[Value<'_>], out: &mut String) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(item, out);
    }
    out.push(']');
}

fn write_string(s: &str, out: &mut String) {
    // Serializing a string cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn write_value(v: &Value<'_>, out: &mut String) {
    let _ = match v {
        Value::Null => write!(out, "null"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Int(i) => write!(out, "{i}"),
        Value::UInt(u) => write!(out, "{u}"),
        Value::Float(f) if f.is_finite() => write!(out, "{f}"),
        Value::Float(_) => write!(out, "null"),
        Value::Num(b) | Value::Json(b) => write!(out, "{}", String::from_utf8_lossy(b)),
        Value::Text(b) | Value::Str(b) => {
            write_string(&String::from_utf8_lossy(b), out);
            Ok(())
        }
        Value::Decimal(v, s) => write!(out, "{}", number::format_decimal(*v, *s)),
        Value::Date(d) => {
            write_string(&time::format_date(*d), out);
            Ok(())
        }
        Value::Timestamp(t) => {
            write_string(&time::format_timestamp(*t), out);
            Ok(())
        }
        Value::List(items) => {
            write_list(items, out);
            Ok(())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_render_as_json() {
        let v = [
            Value::Num(b"1.50"),
            Value::Str(b"a\"b"),
            Value::Null,
            Value::List(vec![Value::Bool(true), Value::Decimal(-5, 1)]),
            Value::Date(1),
        ];
        assert_eq!(
            list_json(&v),
            r#"[1.50,"a\"b",null,[true,-0.5],"1970-01-02"]"#
        );
    }
}
