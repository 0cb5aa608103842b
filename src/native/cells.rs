//! What the encoders of composite columns (Map, Tuple) need of the columns inside them, so that
//! they hold columns of any type without knowing how each is encoded.

use crate::convert::{ConvResult, Scalar};
use crate::value::Value;

/// A column's values under construction.
pub(super) trait Cells {
    /// Appends a value; `default` is the encoded value an empty non-nullable field takes.
    fn push(&mut self, value: &Value<'_>, default: Option<&[u8]>) -> ConvResult;
    fn rows(&self) -> usize;
    /// Takes back values so that `rows` remain.
    fn truncate(&mut self, rows: usize);
}

/// Whether a value means "no value here": NULL for nullable columns, the default otherwise.
pub(super) fn is_empty(value: &Value<'_>) -> bool {
    match value {
        Value::Null => true,
        Value::Text(b) => b.is_empty() || *b == b"\\N",
        _ => false,
    }
}

/// Whether a value means "no value here" in a column of type `scalar`: an empty string (a quoted
/// `""` in CSV, `""` in JSON) is a value only where text is (`String`, `FixedString`).
pub(super) fn is_empty_for(value: &Value<'_>, scalar: &Scalar) -> bool {
    is_empty(value)
        || (matches!(value, Value::Str(b""))
            && !matches!(scalar, Scalar::String | Scalar::FixedString(_)))
}
