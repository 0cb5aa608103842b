//! A JSON array of objects, streamed: each element's bytes are cut out of the input into a
//! reused, bounded buffer (tracking strings and nesting), then decoded on its own, so memory does
//! not grow with the file and a malformed element is an error of that element alone.

use super::fields::FieldNames;
use super::object::{self, OnePass, Origin};
use super::{FieldSink, Limits, ReadError, RecordSource};
use std::io::{BufRead, BufReader, Read};

pub struct JsonArraySource {
    input: BufReader<Box<dyn Read + Send>>,
    element: Vec<u8>,
    /// Position of the next unread byte: 1-based line and byte column.
    line: u64,
    column: u64,
    record: u64,
    names: FieldNames,
    parser: OnePass,
    max_record_bytes: usize,
    max_depth: usize,
    /// An element was read, so a `,` or `]` comes next.
    after_element: bool,
    done: bool,
}

/// The buffered input, refilled if it is empty; empty at the end of input.
fn fill(input: &mut BufReader<Box<dyn Read + Send>>, line: u64) -> Result<&[u8], ReadError> {
    loop {
        match input.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::io(&e, Some(line))),
        }
    }
    input.fill_buf().map_err(|e| ReadError::io(&e, Some(line)))
}

impl JsonArraySource {
    pub fn new(input: Box<dyn Read + Send>, limits: Limits) -> Result<JsonArraySource, ReadError> {
        let mut src = JsonArraySource {
            input: BufReader::with_capacity(256 * 1024, input),
            element: Vec::new(),
            line: 1,
            column: 1,
            record: 0,
            names: FieldNames::default(),
            parser: OnePass::default(),
            max_record_bytes: limits.max_record_bytes,
            max_depth: limits.max_depth,
            after_element: false,
            done: false,
        };
        if src.fill()?.starts_with(b"\xEF\xBB\xBF") {
            src.input.consume(3);
        }
        match src.skip_whitespace()? {
            Some(b'[') => {
                src.advance(1);
                Ok(src)
            }
            None => Err(ReadError::file(
                "the file is empty; a .json file holds an array of objects",
            )),
            Some(b'{') => Err(src.error(
                "not a JSON array but an object (for one object per line, name the file \
                 .jsonl or pass --format jsonl)",
            )),
            Some(_) => Err(src.error("not a JSON array (a .json file holds an array of objects)")),
        }
    }

    fn error(&self, reason: &str) -> ReadError {
        ReadError::File {
            line: Some(self.line),
            reason: reason.to_owned(),
        }
    }

    fn fill(&mut self) -> Result<&[u8], ReadError> {
        fill(&mut self.input, self.line)
    }

    /// Consumes `n` buffered bytes, keeping the position up to date.
    fn advance(&mut self, n: usize) {
        let consumed = &self.input.buffer()[..n];
        match consumed.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += consumed.iter().filter(|&&b| b == b'\n').count() as u64;
                self.column = (n - last) as u64;
            }
            None => self.column += n as u64,
        }
        self.input.consume(n);
    }

    /// Skips whitespace and returns the next byte without consuming it.
    fn skip_whitespace(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            let chunk = self.fill()?;
            if chunk.is_empty() {
                return Ok(None);
            }
            match chunk.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let b = chunk[i];
                    self.advance(i);
                    return Ok(Some(b));
                }
                None => {
                    let n = chunk.len();
                    self.advance(n);
                }
            }
        }
    }

    /// Copies the next element's bytes into `element`.
    fn read_element(&mut self) -> Result<(), ReadError> {
        self.element.clear();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        let max = self.max_record_bytes;
        loop {
            let chunk = fill(&mut self.input, self.line)?;
            if chunk.is_empty() {
                return Err(self.error("the JSON array is not closed (a truncated file?)"));
            }
            let mut end = None;
            for (i, &b) in chunk.iter().enumerate() {
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    b',' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    b if depth == 0 && b.is_ascii_whitespace() => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let n = end.unwrap_or(chunk.len());
            if self.element.len() + n > max {
                return Err(self.error(&format!("record is longer than {max} bytes")));
            }
            self.element.extend_from_slice(&chunk[..n]);
            self.advance(n);
            if end.is_some() {
                return Ok(());
            }
        }
    }

    fn finish(&mut self) -> Result<bool, ReadError> {
        self.done = true;
        match self.skip_whitespace()? {
            None => Ok(false),
            Some(_) => Err(self.error("unexpected text after the end of the JSON array")),
        }
    }
}

impl RecordSource for JsonArraySource {
    fn fields(&self) -> &[String] {
        self.names.names()
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        if self.done {
            return Ok(false);
        }
        let next = self.skip_whitespace()?;
        match (next, self.after_element) {
            (None, _) => return Err(self.error("the JSON array is not closed (a truncated file?)")),
            (Some(b']'), _) => {
                self.advance(1);
                return self.finish();
            }
            (Some(b','), true) => {
                self.advance(1);
                if matches!(self.skip_whitespace()?, Some(b']') | None) {
                    return Err(self.error("expected a record after `,`"));
                }
            }
            (Some(_), true) => {
                return Err(self.error("expected `,` or `]` after a record"));
            }
            (Some(_), false) => {}
        }
        let at = Origin {
            line: self.line,
            column: self.column,
            record: self.record,
        };
        self.read_element()?;
        self.after_element = true;
        self.record += 1;
        object::decode(
            &self.element,
            &mut self.names,
            &mut self.parser,
            sink,
            at,
            self.max_depth,
        )?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ConvError;
    use crate::value::Value;

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl FieldSink for Collect {
        fn field(&mut self, _: usize, name: &str, value: Value<'_>) -> Result<(), ConvError> {
            self.0.push(format!("{name}={}", value.preview(20)));
            Ok(())
        }
    }

    fn read(data: &str, limits: Limits) -> (Vec<String>, Vec<String>) {
        let mut src = match JsonArraySource::new(
            Box::new(std::io::Cursor::new(data.as_bytes().to_vec())),
            limits,
        ) {
            Ok(s) => s,
            Err(e) => return (Vec::new(), vec![e.describe("f.json")]),
        };
        let mut sink = Collect::default();
        let mut errors = Vec::new();
        loop {
            match src.next_record(&mut sink) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e @ ReadError::Record(_)) => errors.push(e.describe("f.json")),
                Err(e) => {
                    errors.push(e.describe("f.json"));
                    break;
                }
            }
        }
        (sink.0, errors)
    }

    #[test]
    fn elements_are_streamed_with_their_lines() {
        let (fields, errors) = read(
            "[\n {\"a\": \"x]}\\\"\", \"b\": [1, {\"c\": 2}]},\n {\"a\": nope},\n 5,\n{\"a\":1}\n]\n",
            Limits::default(),
        );
        assert_eq!(fields, ["a=x]}\"", "b=[2 items]", "a=1"]);
        assert_eq!(
            errors,
            [
                "f.json:3: malformed JSON: expected ident at column 9",
                "f.json:4: expected a JSON object, found a number",
            ]
        );
    }

    #[test]
    fn empty_arrays_and_structural_errors() {
        assert_eq!(read(" [ ] ", Limits::default()), (vec![], vec![]));
        let err = |d: &str| read(d, Limits::default()).1;
        assert_eq!(
            err(""),
            ["f.json: the file is empty; a .json file holds an array of objects"]
        );
        assert_eq!(
            err("{\"a\":1}\n{\"a\":2}\n"),
            [
                "f.json:1: not a JSON array but an object (for one object per line, name the file .jsonl or pass --format jsonl)"
            ]
        );
        assert_eq!(
            err("[{\"a\":1}\n"),
            ["f.json:2: the JSON array is not closed (a truncated file?)"]
        );
        assert_eq!(
            err("[{\"a\":1} {\"a\":2}]"),
            ["f.json:1: expected `,` or `]` after a record"]
        );
        assert_eq!(
            err("[{\"a\":1},]"),
            ["f.json:1: expected a record after `,`"]
        );
        assert_eq!(
            err("[{\"a\":1}] x"),
            ["f.json:1: unexpected text after the end of the JSON array"]
        );
    }

    #[test]
    fn elements_are_bounded() {
        let data = format!("[{{\"a\": \"{}\"}}]", "x".repeat(5000));
        let limits = Limits {
            max_record_bytes: 1000,
            ..Limits::default()
        };
        assert_eq!(
            read(&data, limits).1,
            ["f.json:1: record is longer than 1000 bytes"]
        );
    }
}
