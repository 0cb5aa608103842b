//! `Map` and `Tuple` columns: how a JSON object, a JSON array or ClickHouse's text form of one
//! (`{'a':1}`, `(1,'x')`) becomes a row. A Map is sent as `Array(Tuple(K, V))`: offsets, then the
//! keys column, then the values column; a Tuple as each element's column in order.

use super::cells::{Cells, is_empty};
use super::text::{self, Brackets};
use crate::convert::{ConvError, ConvResult};
use crate::value::Value;
use crate::value::json::{Item, object_members};

#[derive(Debug)]
pub(super) struct MapEnc<E> {
    pub(super) offsets: Vec<u64>,
    pub(super) keys: Box<E>,
    pub(super) values: Box<E>,
}

fn not_an_object(e: serde_json::Error) -> ConvError {
    ConvError::new(format!("not a JSON object: {e}"))
}

impl<E: Cells> MapEnc<E> {
    pub(super) fn push(&mut self, value: &Value<'_>) -> ConvResult {
        let before = self.keys.rows();
        let result = match value {
            Value::Json(json) => self.push_object(json),
            v if is_empty(v) => Ok(()),
            Value::Text(b) | Value::Str(b) => match text::unwrap(b) {
                Some((Brackets::Curly, inner)) => {
                    text::for_each_pair(inner, |k, v| self.push_entry(&k, &v))
                }
                _ => Err(ConvError::new("expected a map like {'key': value}")),
            },
            _ => Err(ConvError::new("expected a JSON object")),
        };
        if let Err(e) = result {
            self.keys.truncate(before);
            self.values.truncate(before);
            return Err(e);
        }
        self.offsets.push(self.keys.rows() as u64);
        Ok(())
    }

    fn push_object(&mut self, json: &[u8]) -> ConvResult {
        let members = object_members(json).map_err(not_an_object)?;
        for (key, raw) in &members.0 {
            let item =
                Item::decode(raw).map_err(|e| ConvError::new(format!("key `{}`: {e}", key.0)))?;
            self.push_entry(&Value::Str(key.0.as_bytes()), &item.value())?;
        }
        Ok(())
    }

    fn push_entry(&mut self, key: &Value<'_>, value: &Value<'_>) -> ConvResult {
        let named = |e: ConvError| ConvError::new(format!("key `{}`: {}", key.preview(40), e.0));
        self.keys.push(key, None).map_err(named)?;
        self.values.push(value, None).map_err(named)
    }
}

#[derive(Debug)]
pub(super) struct TupleEnc<E> {
    names: Vec<Option<String>>,
    pub(super) elems: Vec<E>,
    /// Which elements the current row has set (by-name forms).
    set: Vec<bool>,
}

impl<E: Cells> TupleEnc<E> {
    pub(super) fn new(names: Vec<Option<String>>, elems: Vec<E>) -> TupleEnc<E> {
        let set = vec![false; elems.len()];
        TupleEnc { names, elems, set }
    }

    pub(super) fn rows(&self) -> usize {
        self.elems.first().map_or(0, Cells::rows)
    }

    fn named(&self) -> bool {
        self.names.iter().all(Option::is_some)
    }

    /// How errors name element `i`.
    fn label(&self, i: usize) -> String {
        match &self.names[i] {
            Some(n) => format!("element `{n}`"),
            None => format!("element {}", i + 1),
        }
    }

    pub(super) fn push(&mut self, value: &Value<'_>) -> ConvResult {
        let rows = self.rows();
        let result = match value {
            Value::Json(json) => self.push_object(json),
            Value::List(items) => {
                let mut i = 0;
                items
                    .iter()
                    .try_for_each(|item| {
                        let r = self.push_at(i, item);
                        i += 1;
                        r
                    })
                    .and_then(|()| self.check_count(i))
            }
            v if is_empty(v) => {
                self.fill_defaults(&vec![false; self.elems.len()]);
                Ok(())
            }
            Value::Text(b) | Value::Str(b) => match text::unwrap(b) {
                Some((Brackets::Round | Brackets::Square, inner)) => {
                    let mut i = 0;
                    text::for_each_element(inner, |item| {
                        let r = self.push_at(i, &item);
                        i += 1;
                        r
                    })
                    .and_then(|()| self.check_count(i))
                }
                Some((Brackets::Curly, inner)) if self.named() => self.by_name(|t| {
                    text::for_each_pair(inner, |k, v| match k {
                        Value::Str(name) => t.push_named(name, &v),
                        _ => Err(ConvError::new("expected element names")),
                    })
                }),
                _ => Err(ConvError::new("expected a tuple like (1,'x')")),
            },
            _ => Err(ConvError::new("expected a JSON object or array")),
        };
        if let Err(e) = result {
            for elem in &mut self.elems {
                elem.truncate(rows);
            }
            return Err(e);
        }
        Ok(())
    }

    fn push_at(&mut self, i: usize, value: &Value<'_>) -> ConvResult {
        if i >= self.elems.len() {
            return Err(ConvError::new(format!(
                "more than the tuple's {} elements",
                self.elems.len()
            )));
        }
        self.elems[i]
            .push(value, None)
            .map_err(|e| ConvError::new(format!("{}: {}", self.label(i), e.0)))
    }

    fn check_count(&self, found: usize) -> ConvResult {
        match found == self.elems.len() {
            true => Ok(()),
            false => Err(ConvError::new(format!(
                "expected {} elements, found {found}",
                self.elems.len()
            ))),
        }
    }

    /// A JSON object fills a named tuple by element names.
    fn push_object(&mut self, json: &[u8]) -> ConvResult {
        if !self.named() {
            return Err(ConvError::new(
                "an unnamed Tuple takes a JSON array, not an object",
            ));
        }
        let members = object_members(json).map_err(not_an_object)?;
        self.by_name(|t| {
            members.0.iter().try_for_each(|(key, raw)| {
                let item = Item::decode(raw)
                    .map_err(|e| ConvError::new(format!("element `{}`: {e}", key.0)))?;
                t.push_named(key.0.as_bytes(), &item.value())
            })
        })
    }

    /// Runs `fill` that sets elements by name; the elements it leaves out take their defaults.
    fn by_name(&mut self, fill: impl FnOnce(&mut Self) -> ConvResult) -> ConvResult {
        self.set.iter_mut().for_each(|s| *s = false);
        fill(self)?;
        let set = std::mem::take(&mut self.set);
        self.fill_defaults(&set);
        self.set = set;
        Ok(())
    }

    fn push_named(&mut self, name: &[u8], value: &Value<'_>) -> ConvResult {
        let i = self
            .names
            .iter()
            .position(|n| n.as_deref().map(str::as_bytes) == Some(name))
            .ok_or_else(|| {
                ConvError::new(format!(
                    "the tuple has no element `{}`",
                    String::from_utf8_lossy(name)
                ))
            })?;
        if self.set[i] {
            return Err(ConvError::new(format!("{} appears twice", self.label(i))));
        }
        self.push_at(i, value)?;
        self.set[i] = true;
        Ok(())
    }

    fn fill_defaults(&mut self, set: &[bool]) {
        for (elem, _) in self.elems.iter_mut().zip(set).filter(|(_, s)| !**s) {
            // An empty value never fails to encode.
            let _ = elem.push(&Value::Null, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ch::types::ChType;
    use crate::native::column::Enc;
    use chrono_tz::Tz;

    fn enc(ty: &str) -> Enc {
        Enc::new(&ChType::parse(ty).unwrap(), Tz::UTC).unwrap()
    }

    fn body(e: &mut Enc) -> Vec<u8> {
        let mut out = Vec::new();
        e.write_and_clear(None, &mut out);
        out
    }

    /// `SELECT … FORMAT Native` on ClickHouse 26.9, the column body after its name and type.
    #[test]
    fn maps_tuples_and_nested_arrays_match_what_clickhouse_26_9_writes() {
        // map('a', 1, 'bc', 2)::Map(String, UInt8)
        let mut m = enc("Map(String, UInt8)");
        m.push(&Value::Json(br#"{"a": 1, "bc": 2}"#), None).unwrap();
        let mut expected = vec![2, 0, 0, 0, 0, 0, 0, 0];
        expected.extend(b"\x01a\x02bc\x01\x02");
        assert_eq!(body(&mut m), expected);
        m.push(&Value::Text(b"{'a':1, 'bc' : 2}"), None).unwrap();
        assert_eq!(body(&mut m), expected);

        // CAST((1, 'x'), 'Tuple(a UInt8, b String)')
        let mut t = enc("Tuple(a UInt8, b String)");
        t.push(&Value::Json(br#"{"b": "x", "a": 1}"#), None)
            .unwrap();
        assert_eq!(body(&mut t), b"\x01\x01x");
        t.push(&Value::Text(b"(1,'x')"), None).unwrap();
        assert_eq!(body(&mut t), b"\x01\x01x");

        // [[1,2],[3]]::Array(Array(UInt8))
        let mut a = enc("Array(Array(UInt8))");
        a.push(&Value::Text(b"[[1,2],[3]]"), None).unwrap();
        let mut expected = vec![2, 0, 0, 0, 0, 0, 0, 0];
        expected.extend([2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
        assert_eq!(body(&mut a), expected);
    }

    #[test]
    fn low_cardinality_inside_writes_its_version_before_any_offsets() {
        // [toLowCardinality('a'), toLowCardinality('b')] on 26.9
        let mut a = enc("Array(LowCardinality(String))");
        a.push(&Value::List(vec![Value::Str(b"a"), Value::Str(b"b")]), None)
            .unwrap();
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        expected.extend([0, 6, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend(b"\x00\x01a\x01b");
        expected.extend([2, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(body(&mut a), expected);

        // CAST(map('a', 'x'), 'Map(LowCardinality(String), LowCardinality(String))') on 26.9
        let mut m = enc("Map(LowCardinality(String), LowCardinality(String))");
        m.push(&Value::Json(br#"{"a": "x"}"#), None).unwrap();
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        expected.extend([1, 0, 0, 0, 0, 0, 0, 0]);
        for v in [b'a', b'x'] {
            expected.extend([0, 6, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, v]);
            expected.extend([1, 0, 0, 0, 0, 0, 0, 0, 1]);
        }
        assert_eq!(body(&mut m), expected);
    }

    #[test]
    fn composite_values_that_do_not_fit_leave_no_trace() {
        let mut m = enc("Map(String, UInt8)");
        assert_eq!(
            m.push(&Value::Json(br#"{"a": 1, "b": 300}"#), None)
                .unwrap_err()
                .0,
            "key `b`: 300 is out of range for UInt8"
        );
        assert_eq!(m.rows(), 0);
        assert_eq!(
            m.push(&Value::List(vec![]), None).unwrap_err().0,
            "expected a JSON object"
        );
        let mut t = enc("Tuple(a UInt8, b Nullable(String))");
        assert_eq!(
            t.push(&Value::Json(br#"{"a": 1, "c": 2}"#), None)
                .unwrap_err()
                .0,
            "the tuple has no element `c`"
        );
        assert_eq!(
            t.push(&Value::Json(br#"{"b": "x", "a": 256}"#), None)
                .unwrap_err()
                .0,
            "element `a`: 256 is out of range for UInt8"
        );
        assert_eq!(
            t.push(&Value::Json(br#"{"a": 1, "a": 2}"#), None)
                .unwrap_err()
                .0,
            "element `a` appears twice"
        );
        assert_eq!(
            t.push(&Value::List(vec![Value::Int(1)]), None)
                .unwrap_err()
                .0,
            "expected 2 elements, found 1"
        );
        assert_eq!(t.rows(), 0);
        // Members left out take their defaults: 0 and NULL.
        t.push(&Value::Json(b"{}"), None).unwrap();
        assert_eq!(body(&mut t), [0, 1, 0]);
        let mut u = enc("Tuple(UInt8, String)");
        assert_eq!(
            u.push(&Value::Json(br#"{"a": 1}"#), None).unwrap_err().0,
            "an unnamed Tuple takes a JSON array, not an object"
        );
        u.push(&Value::List(vec![Value::Int(7), Value::Str(b"y")]), None)
            .unwrap();
        assert_eq!(body(&mut u), b"\x07\x01y");
    }

    #[test]
    fn text_forms_fill_by_position_or_by_name() {
        let mut t = enc("Tuple(a UInt8, b Nullable(String))");
        t.push(&Value::Text(b"{'b': 'x'}"), None).unwrap();
        t.push(&Value::Text(b"[3, NULL]"), None).unwrap();
        assert_eq!(body(&mut t), [0, 3, 0, 1, 1, b'x', 0]);
        let mut m = enc("Map(UInt8, LowCardinality(String))");
        m.push(&Value::Json(br#"{"1": "x", "2": "y"}"#), None)
            .unwrap();
        assert_eq!(
            m.push(&Value::Json(br#"{"-1": "z"}"#), None).unwrap_err().0,
            "key `-1`: -1 is out of range for UInt8"
        );
        assert_eq!(
            m.push(&Value::Text(b"[1, 2]"), None).unwrap_err().0,
            "expected a map like {'key': value}"
        );
        assert_eq!(m.rows(), 1);
    }
}
