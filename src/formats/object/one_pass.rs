//! A JSON record read in one pass, the common case: a valid object's members are kept as spans of
//! its text (strings unescaped once, into a reused buffer) and handed over only once the whole
//! object has proved valid. Whatever it does not accept — invalid JSON, nesting beyond the limit —
//! it leaves to the strict reader, which says precisely what is wrong; it never accepts text
//! the strict reader refuses.

use crate::value::Value;
use crate::value::json::MAX_VALUE_DEPTH;
use memchr::memchr2;

/// Where a string's bytes are: in the text, or unescaped into the scratch buffer.
#[derive(Debug, Clone, Copy)]
enum Span {
    Text(usize, usize),
    Scratch(usize, usize),
}

/// A member's value, as spans of the text.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Num(usize, usize),
    Str(Span),
    /// A nested object, kept as its text.
    Object(usize, usize),
    List(Vec<Node>),
}

/// Parses records one after the other, reusing its buffers.
#[derive(Debug, Default)]
pub struct OnePass {
    scratch: Vec<u8>,
    members: Vec<(Span, Node)>,
}

/// The text being parsed and the position reached.
struct Cursor<'t> {
    text: &'t [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.text.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number as JSON writes it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            (self.digits() > 0).then_some(())?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        Some((start, self.pos))
    }
}

fn hex4(text: &[u8], at: usize) -> Option<u32> {
    let digits = text.get(at..at + 4)?;
    digits.iter().try_fold(0u32, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc * 16 + d)
    })
}

/// Decodes the escape at `at` (a backslash), appending it to `out` when given; the position
/// after it.
fn escape(text: &[u8], at: usize, out: Option<&mut Vec<u8>>) -> Option<usize> {
    let (c, after) = match text.get(at + 1)? {
        b'"' => ('"', at + 2),
        b'\\' => ('\\', at + 2),
        b'/' => ('/', at + 2),
        b'b' => ('\u{8}', at + 2),
        b'f' => ('\u{c}', at + 2),
        b'n' => ('\n', at + 2),
        b'r' => ('\r', at + 2),
        b't' => ('\t', at + 2),
        b'u' => {
            let first = hex4(text, at + 2)?;
            match first {
                0xD800..=0xDBFF => {
                    if text.get(at + 6..at + 8)? != b"\\u" {
                        return None;
                    }
                    let low = hex4(text, at + 8)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return None;
                    }
                    let code = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                    (char::from_u32(code)?, at + 12)
                }
                _ => (char::from_u32(first)?, at + 6),
            }
        }
        _ => return None,
    };
    if let Some(out) = out {
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
    Some(after)
}

impl OnePass {
    /// Parses `text`, which must be one object with nothing but whitespace around it and no
    /// nesting deeper than `max_depth` levels (the object itself being the first). `None`
    /// when it is not: the strict reader then finds out why.
    pub fn parse(&mut self, text: &[u8], max_depth: usize) -> Option<()> {
        self.scratch.clear();
        self.members.clear();
        simdutf8::basic::from_utf8(text).ok()?;
        let mut c = Cursor { text, pos: 0 };
        c.ws();
        if c.next()? != b'{' {
            return None;
        }
        c.ws();
        if c.peek()? == b'}' {
            c.pos += 1;
        } else {
            loop {
                c.ws();
                let key = self.string(&mut c, true)?;
                c.ws();
                if c.next()? != b':' {
                    return None;
                }
                c.ws();
                let value = self.value(&mut c, 2, max_depth)?;
                self.members.push((key, value));
                c.ws();
                match c.next()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        c.ws();
        (c.pos == text.len()).then_some(())
    }

    /// A string starting at the cursor (a quote), unescaped into the scratch buffer if it has
    /// escapes and `keep` is set; only checked otherwise.
    fn string(&mut self, c: &mut Cursor<'_>, keep: bool) -> Option<Span> {
        let text = c.text;
        if c.next()? != b'"' {
            return None;
        }
        let start = c.pos;
        let mut at = start;
        let mut unescaped: Option<usize> = None;
        loop {
            let stop = at + memchr2(b'"', b'\\', &text[at..])?;
            if text[at..stop].iter().any(|&b| b < 0x20) {
                return None;
            }
            if text[stop] == b'"' {
                c.pos = stop + 1;
                return Some(match unescaped {
                    None => Span::Text(start, stop),
                    Some(from) => {
                        self.scratch.extend_from_slice(&text[at..stop]);
                        Span::Scratch(from, self.scratch.len())
                    }
                });
            }
            if !keep {
                at = escape(text, stop, None)?;
                continue;
            }
            unescaped.get_or_insert(self.scratch.len());
            self.scratch.extend_from_slice(&text[at..stop]);
            at = escape(text, stop, Some(&mut self.scratch))?;
        }
    }

    /// A value at nesting level `depth` (arrays and objects count).
    fn value(&mut self, c: &mut Cursor<'_>, depth: usize, max_depth: usize) -> Option<Node> {
        Some(match c.peek()? {
            b'"' => Node::Str(self.string(c, true)?),
            b'{' => {
                let start = c.pos;
                self.skip(c, depth, max_depth)?;
                Node::Object(start, c.pos)
            }
            b'[' => {
                if depth > max_depth || depth >= MAX_VALUE_DEPTH + 2 {
                    return None;
                }
                c.pos += 1;
                let mut items = Vec::new();
                c.ws();
                if c.peek()? == b']' {
                    c.pos += 1;
                    return Some(Node::List(items));
                }
                loop {
                    c.ws();
                    items.push(self.value(c, depth + 1, max_depth)?);
                    c.ws();
                    match c.next()? {
                        b',' => {}
                        b']' => break,
                        _ => return None,
                    }
                }
                Node::List(items)
            }
            b't' => c.literal(b"true").map(|()| Node::Bool(true))?,
            b'f' => c.literal(b"false").map(|()| Node::Bool(false))?,
            b'n' => c.literal(b"null").map(|()| Node::Null)?,
            _ => {
                let (a, b) = c.number()?;
                Node::Num(a, b)
            }
        })
    }

    /// Checks a value at nesting level `depth` without keeping anything of it.
    fn skip(&mut self, c: &mut Cursor<'_>, depth: usize, max_depth: usize) -> Option<()> {
        let (open, close) = match c.peek()? {
            b'"' => return self.string(c, false).map(drop),
            b'{' => (b'{', b'}'),
            b'[' => (b'[', b']'),
            b't' => return c.literal(b"true"),
            b'f' => return c.literal(b"false"),
            b'n' => return c.literal(b"null"),
            _ => return c.number().map(drop),
        };
        if depth > max_depth {
            return None;
        }
        c.pos += 1;
        c.ws();
        if c.peek()? == close {
            c.pos += 1;
            return Some(());
        }
        loop {
            c.ws();
            if open == b'{' {
                self.string(c, false)?;
                c.ws();
                if c.next()? != b':' {
                    return None;
                }
                c.ws();
            }
            self.skip(c, depth + 1, max_depth)?;
            c.ws();
            match c.next()? {
                b',' => {}
                b if b == close => return Some(()),
                _ => return None,
            }
        }
    }

    fn bytes<'a>(&'a self, text: &'a [u8], span: Span) -> &'a [u8] {
        match span {
            Span::Text(a, b) => &text[a..b],
            Span::Scratch(a, b) => &self.scratch[a..b],
        }
    }

    fn value_of<'a>(&'a self, text: &'a [u8], node: &Node) -> Value<'a> {
        match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(a, b) => Value::Num(&text[*a..*b]),
            Node::Str(span) => Value::Str(self.bytes(text, *span)),
            Node::Object(a, b) => Value::Json(&text[*a..*b]),
            Node::List(items) => {
                Value::List(items.iter().map(|n| self.value_of(text, n)).collect())
            }
        }
    }

    /// The members of the object last parsed from `text`, in order: name and value.
    pub fn members<'a>(
        &'a self,
        text: &'a [u8],
    ) -> impl Iterator<Item = (Result<&'a str, std::str::Utf8Error>, Value<'a>)> + 'a {
        self.members.iter().map(move |(key, node)| {
            let name = std::str::from_utf8(self.bytes(text, *key));
            (name, self.value_of(text, node))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json::{Item, object_members};

    /// What the strict reader makes of `text`, as the fields it hands over.
    fn strict(text: &str) -> Option<Vec<(String, String)>> {
        let members = object_members(text.as_bytes()).ok()?;
        members
            .0
            .iter()
            .map(|(k, raw)| {
                let item = Item::decode(raw).ok()?;
                Some((k.0.to_string(), format!("{:?}", item.value())))
            })
            .collect()
    }

    fn fast(text: &str) -> Option<Vec<(String, String)>> {
        let mut p = OnePass::default();
        p.parse(text.as_bytes(), 64)?;
        Some(
            p.members(text.as_bytes())
                .map(|(k, v)| (k.unwrap().to_owned(), format!("{v:?}")))
                .collect(),
        )
    }

    #[test]
    fn agrees_with_the_strict_reader_on_valid_records() {
        for text in [
            r#"{}"#,
            r#" { "a" : 1 , "b":-0.5e+3,"c":"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00" } "#,
            r#"{"n": null, "t": true, "f": false, "o": {"x": [1, {"y": "}"}]}, "l": [[], [1, "a"], [null]]}"#,
            r#"{"a\u0041": "dup", "a\u0041": "dup", "empty": "", "big": 123456789012345678901234567890}"#,
            "{\"a\":\t\"é ü 漢字\"\r\n}",
        ] {
            assert!(fast(text).is_some(), "{text}");
            assert_eq!(fast(text), strict(text), "{text}");
        }
    }

    #[test]
    fn leaves_everything_invalid_to_the_strict_reader() {
        for text in [
            "",
            "[1]",
            "{\"a\": 1,}",
            "{\"a\" 1}",
            "{\"a\": 01}",
            "{\"a\": 1.}",
            "{\"a\": .5}",
            "{\"a\": 1e}",
            "{\"a\": -}",
            "{\"a\": +1}",
            "{\"a\": tru}",
            "{\"a\": truex}",
            "{\"a\": \"\u{1}\"}",
            "{\"a\": \"\\x\"}",
            "{\"a\": \"\\ud800\"}",
            "{\"a\": \"\\udc00\"}",
            "{\"a\": \"\\u12\"}",
            "{\"a\": [1 2]}",
            "{\"a\": {\"b\" 1}}",
            "{\"a\": {\"b\": 1,}}",
            "{\"a\": 1} x",
            "{\"a\": 1}}",
            "{\"a\": \"open}",
            "{a: 1}",
            "{\"a\": 1, \"b\": [1, 2,]}",
        ] {
            assert_eq!(fast(text), None, "{text:?}");
            assert_eq!(strict(text), None, "{text:?}");
        }
        assert_eq!(fast("\u{c}{}"), None);
        let mut p = OnePass::default();
        assert!(p.parse(b"{\"a\": \"\xff\"}", 64).is_none());
    }

    #[test]
    fn nesting_beyond_the_limit_is_left_to_the_strict_reader() {
        let mut p = OnePass::default();
        assert!(p.parse(br#"{"a": [[1]], "b": {"c": {}}}"#, 3).is_some());
        assert!(p.parse(br#"{"a": [[[1]]]}"#, 3).is_none());
        assert!(p.parse(br#"{"b": {"c": {"d": 1}}}"#, 3).is_some());
        assert!(p.parse(br#"{"b": {"c": {"d": {}}}}"#, 3).is_none());
        assert!(p.parse(br#"{"b": [{"c": [1]}]}"#, 3).is_none());
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(p.parse(deep.as_bytes(), 64).is_none());
    }
}
