//! Composite values written as text, as ClickHouse prints them or as JSON spells them: arrays
//! `[1,2]`, tuples `(1,'x')`, maps `{'a':1}`. Text formats (CSV, XML) carry them this way. Nested
//! elements are handed on as their raw text, so the element's own column parses them in turn.

use crate::convert::{ConvError, ConvResult};
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Brackets {
    /// `[…]`
    Square,
    /// `(…)`
    Round,
    /// `{…}`
    Curly,
}

/// The brackets around `text` and what is between them.
pub(super) fn unwrap(text: &[u8]) -> Option<(Brackets, &[u8])> {
    let t = text.trim_ascii();
    let (open, close, kind) = match t.first()? {
        b'[' => (b'[', b']', Brackets::Square),
        b'(' => (b'(', b')', Brackets::Round),
        b'{' => (b'{', b'}', Brackets::Curly),
        _ => return None,
    };
    let inner = t.strip_prefix(&[open])?.strip_suffix(&[close])?;
    Some((kind, inner))
}

/// Calls `f` with each comma-separated element of `inner` (the text between brackets).
pub(super) fn for_each_element(
    inner: &[u8],
    mut f: impl FnMut(Value<'_>) -> ConvResult,
) -> ConvResult {
    let mut buf = Vec::new();
    let mut rest = inner;
    if rest.trim_ascii().is_empty() {
        return Ok(());
    }
    loop {
        let (piece, stop, after) = next_piece(rest, b",")?;
        f(piece_value(piece, &mut buf)?)?;
        match stop {
            None => return Ok(()),
            Some(_) => rest = after,
        }
    }
}

/// Calls `f` with each `key: value` pair of `inner` (the text between braces).
pub(super) fn for_each_pair(
    inner: &[u8],
    mut f: impl FnMut(Value<'_>, Value<'_>) -> ConvResult,
) -> ConvResult {
    let (mut key_buf, mut value_buf) = (Vec::new(), Vec::new());
    let mut rest = inner;
    if rest.trim_ascii().is_empty() {
        return Ok(());
    }
    loop {
        let (key, stop, after) = next_piece(rest, b":")?;
        if stop != Some(b':') {
            return Err(ConvError::new("expected `key: value` pairs"));
        }
        let (value, stop, after) = next_piece(after, b",")?;
        f(
            piece_value(key, &mut key_buf)?,
            piece_value(value, &mut value_buf)?,
        )?;
        match stop {
            None => return Ok(()),
            Some(_) => rest = after,
        }
    }
}

/// An element's text, the delimiter that ended it (none at the end), and the text after that.
type Piece<'t> = (&'t [u8], Option<u8>, &'t [u8]);

/// Cuts `text` at the first of `stops` outside quotes and brackets.
fn next_piece<'t>(text: &'t [u8], stops: &[u8]) -> Result<Piece<'t>, ConvError> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'[' | b'(' | b'{' => depth += 1,
                b']' | b')' | b'}' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| ConvError::new("unbalanced brackets"))?;
                }
                c if depth == 0 && stops.contains(&c) => {
                    return Ok((&text[..i], Some(c), &text[i + 1..]));
                }
                _ => {}
            },
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(ConvError::new("unterminated string"));
    }
    if depth != 0 {
        return Err(ConvError::new("unbalanced brackets"));
    }
    Ok((text, None, &[]))
}

/// One element's value: a quoted string unescaped, `NULL`, or its raw text.
fn piece_value<'b>(piece: &'b [u8], buf: &'b mut Vec<u8>) -> Result<Value<'b>, ConvError> {
    let p = piece.trim_ascii();
    if p.is_empty() {
        return Err(ConvError::new("empty element"));
    }
    if p.eq_ignore_ascii_case(b"null") {
        return Ok(Value::Null);
    }
    let q = p[0];
    if !matches!(q, b'\'' | b'"') {
        return Ok(Value::Str(p));
    }
    buf.clear();
    let mut i = 1;
    loop {
        match p.get(i) {
            None => return Err(ConvError::new("unterminated string")),
            Some(b'\\') => {
                let c = *p
                    .get(i + 1)
                    .ok_or_else(|| ConvError::new("unterminated string"))?;
                buf.push(match c {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'0' => 0,
                    c => c,
                });
                i += 2;
            }
            Some(&c) if c == q => break,
            Some(&c) => {
                buf.push(c);
                i += 1;
            }
        }
    }
    if i + 1 != p.len() {
        return Err(ConvError::new("text after a quoted string"));
    }
    Ok(Value::Str(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Result<Vec<String>, String> {
        let (_, inner) = unwrap(text.as_bytes()).ok_or("no brackets")?;
        let mut out = Vec::new();
        for_each_element(inner, |v| {
            out.push(format!("{v:?}"));
            Ok(())
        })
        .map_err(|e| e.0)?;
        Ok(out)
    }

    #[test]
    fn elements_respect_quotes_and_nesting() {
        assert_eq!(
            elements(r#"['a,b', "c\"d", e, NULL, [1, [2, 3]], (4,'5')]"#).unwrap(),
            [
                "Str([97, 44, 98])",
                "Str([99, 34, 100])",
                "Str([101])",
                "Null",
                "Str([91, 49, 44, 32, 91, 50, 44, 32, 51, 93, 93])",
                "Str([40, 52, 44, 39, 53, 39, 41])",
            ]
        );
        assert_eq!(elements("[]").unwrap(), Vec::<String>::new());
        assert_eq!(elements("[1,,2]").unwrap_err(), "empty element");
        assert_eq!(elements("[[1,2]").unwrap_err(), "unbalanced brackets");
        assert_eq!(elements("[(1]").unwrap_err(), "unbalanced brackets");
        assert_eq!(elements("['a]").unwrap_err(), "unterminated string");
        assert_eq!(
            elements("['a'b]").unwrap_err(),
            "text after a quoted string"
        );
    }

    #[test]
    fn pairs_split_at_the_first_top_level_colon() {
        let mut out = Vec::new();
        for_each_pair(br#"'a:b': 1, "c": {'d': 2}"#, |k, v| {
            out.push(format!("{} = {}", k.preview(20), v.preview(20)));
            Ok(())
        })
        .unwrap();
        assert_eq!(out, ["a:b = 1", "c = {'d': 2}"]);
        assert_eq!(
            for_each_pair(b"'a' 1", |_, _| Ok(())).unwrap_err().0,
            "expected `key: value` pairs"
        );
    }
}
