//! CSV with a header row: quoted fields with embedded newlines, a UTF-8 BOM and CRLF line ends.
//! Records are found with `memchr` in a reused buffer and handed over as slices of it, so a plain
//! field is never copied; a record larger than the limit is an error, never an allocation.

use super::{FieldSink, Limits, ReadError, RecordError, RecordSource};
use crate::value::Value;
use memchr::{memchr, memchr2};
use std::io::Read;

const INPUT_CHUNK: usize = 256 * 1024;
const MAX_FIELDS: usize = 10_000;

/// Where a field's bytes are: in the input buffer, or unescaped into the scratch buffer.
#[derive(Debug, Clone, Copy)]
enum Span {
    Input(usize, usize),
    Scratch(usize, usize),
}

/// Why a record could not be split into fields.
enum Scan {
    /// The record is complete: it ends at this offset, after its terminator.
    Record {
        end: usize,
        newlines: u64,
    },
    /// More input is needed to finish the record.
    NeedMore,
    /// A quoted field runs to the end of the input.
    Unterminated,
    TooManyFields,
}

pub struct CsvSource {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    spans: Vec<Span>,
    scratch: Vec<u8>,
    fields: Vec<String>,
    record: u64,
    /// Line where the next record starts.
    line: u64,
    max_record_bytes: usize,
}

impl CsvSource {
    pub fn new(input: Box<dyn Read + Send>, limits: Limits) -> Result<CsvSource, ReadError> {
        let mut src = CsvSource {
            input,
            buf: vec![0; INPUT_CHUNK],
            start: 0,
            end: 0,
            eof: false,
            spans: Vec::new(),
            scratch: Vec::new(),
            fields: Vec::new(),
            record: 0,
            line: 1,
            max_record_bytes: limits.max_record_bytes,
        };
        while src.end < 3 && !src.eof {
            src.fill()?;
        }
        if src.buf[..src.end].starts_with(b"\xEF\xBB\xBF") {
            src.start = 3;
        }
        let Some((_, rec_start, rec_end)) = src.next_raw()? else {
            return Err(ReadError::File {
                line: None,
                reason: "the file is empty; a CSV file needs a header row".into(),
            });
        };
        let header = ReadError::File {
            line: Some(1),
            reason: "the header row is not valid UTF-8".into(),
        };
        if simdutf8::basic::from_utf8(&src.buf[rec_start..rec_end]).is_err()
            || simdutf8::basic::from_utf8(&src.scratch).is_err()
        {
            return Err(header);
        }
        for i in 0..src.spans.len() {
            let name = String::from_utf8_lossy(src.bytes(src.spans[i]))
                .trim()
                .to_owned();
            if name.is_empty() {
                return Err(ReadError::File {
                    line: Some(1),
                    reason: format!("header field {} is empty", i + 1),
                });
            }
            if src.fields.contains(&name) {
                return Err(ReadError::File {
                    line: Some(1),
                    reason: format!("header names column {name:?} twice"),
                });
            }
            src.fields.push(name);
        }
        Ok(src)
    }

    fn bytes(&self, span: Span) -> &[u8] {
        match span {
            Span::Input(a, b) => &self.buf[a..b],
            Span::Scratch(a, b) => &self.scratch[a..b],
        }
    }

    /// Reads more input after what is buffered, moving the unread part to the front first.
    fn fill(&mut self) -> Result<(), ReadError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= self.max_record_bytes {
                return Err(ReadError::File {
                    line: Some(self.line),
                    reason: format!(
                        "record is longer than {} bytes (an unterminated quote?)",
                        self.max_record_bytes
                    ),
                });
            }
            let grown = (self.buf.len() * 2).min(self.max_record_bytes.max(INPUT_CHUNK));
            self.buf.resize(grown, 0);
        }
        let n = loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::io(&e, Some(self.line))),
            }
        };
        self.end += n;
        self.eof = n == 0;
        Ok(())
    }

    /// Splits the next record into `spans`. Returns the line it starts on and its byte range in
    /// the buffer, or `None` at the end of the input.
    fn next_raw(&mut self) -> Result<Option<(u64, usize, usize)>, ReadError> {
        loop {
            // Blank lines between records are skipped.
            while self.start < self.end && matches!(self.buf[self.start], b'\n' | b'\r') {
                if self.buf[self.start] == b'\n' {
                    self.line += 1;
                }
                self.start += 1;
            }
            if self.start == self.end {
                if self.eof {
                    return Ok(None);
                }
                self.fill()?;
                continue;
            }
            match self.scan(self.start) {
                Scan::Record { end, newlines } => {
                    let line = self.line;
                    let begin = self.start;
                    self.line += 1 + newlines;
                    self.start = end;
                    return Ok(Some((line, begin, end)));
                }
                Scan::NeedMore if !self.eof => self.fill()?,
                Scan::NeedMore | Scan::Unterminated => {
                    return Err(ReadError::File {
                        line: Some(self.line),
                        reason: "a quoted field is not closed before the end of the file".into(),
                    });
                }
                Scan::TooManyFields => {
                    return Err(ReadError::File {
                        line: Some(self.line),
                        reason: format!("record has more than {MAX_FIELDS} fields"),
                    });
                }
            }
        }
    }

    /// Scans one record starting at `pos`; at the end of the input, the end of the data ends it.
    fn scan(&mut self, mut pos: usize) -> Scan {
        self.spans.clear();
        self.scratch.clear();
        let end = self.end;
        let buf = &self.buf[..end];
        let mut newlines = 0u64;
        loop {
            if self.spans.len() == MAX_FIELDS {
                return Scan::TooManyFields;
            }
            if pos < end && buf[pos] == b'"' {
                let (span, after, lines) = match quoted(buf, pos, &mut self.scratch, self.eof) {
                    Some(q) => q,
                    None if self.eof => return Scan::Unterminated,
                    None => return Scan::NeedMore,
                };
                newlines += lines;
                self.spans.push(span);
                pos = after;
                // Anything between the closing quote and the delimiter is kept, as text.
                if pos < end && !matches!(buf[pos], b',' | b'\n' | b'\r') {
                    let Some(stop) = memchr2(b',', b'\n', &buf[pos..]).map(|k| pos + k) else {
                        if !self.eof {
                            return Scan::NeedMore;
                        }
                        return Scan::Unterminated;
                    };
                    let (a, b) = match span {
                        Span::Input(a, b) => {
                            let s = self.scratch.len();
                            self.scratch.extend_from_slice(&buf[a..b]);
                            (s, s + b - a)
                        }
                        Span::Scratch(a, b) => (a, b),
                    };
                    let tail = trim_cr(buf, pos, stop);
                    self.scratch.extend_from_slice(&buf[pos..tail]);
                    let last = self.spans.len() - 1;
                    self.spans[last] = Span::Scratch(a, b + tail - pos);
                    pos = stop;
                }
            } else {
                match memchr2(b',', b'\n', &buf[pos..]) {
                    Some(k) => {
                        self.spans
                            .push(Span::Input(pos, trim_cr(buf, pos, pos + k)));
                        pos += k;
                    }
                    None if self.eof => {
                        self.spans.push(Span::Input(pos, trim_cr(buf, pos, end)));
                        return Scan::Record { end, newlines };
                    }
                    None => return Scan::NeedMore,
                }
            }
            match buf.get(pos) {
                Some(b',') => pos += 1,
                Some(b'\n') => {
                    return Scan::Record {
                        end: pos + 1,
                        newlines,
                    };
                }
                Some(b'\r') => match buf.get(pos + 1) {
                    Some(b'\n') => {
                        return Scan::Record {
                            end: pos + 2,
                            newlines,
                        };
                    }
                    Some(_) => {
                        return Scan::Record {
                            end: pos + 1,
                            newlines,
                        };
                    }
                    None if self.eof => {
                        return Scan::Record {
                            end: pos + 1,
                            newlines,
                        };
                    }
                    None => return Scan::NeedMore,
                },
                Some(_) => unreachable!("fields end at a delimiter, a line end or the input's end"),
                None if self.eof => return Scan::Record { end: pos, newlines },
                None => return Scan::NeedMore,
            }
        }
    }
}

/// End of a field's text without the `\r` of a CRLF line end.
fn trim_cr(buf: &[u8], from: usize, to: usize) -> usize {
    if to > from && buf[to - 1] == b'\r' && buf.get(to) == Some(&b'\n') {
        to - 1
    } else {
        to
    }
}

/// A quoted field starting at `open`: its span, the offset after the closing quote, and the
/// newlines inside. `None` when the closing quote is not in the buffer (yet).
fn quoted(buf: &[u8], open: usize, scratch: &mut Vec<u8>, eof: bool) -> Option<(Span, usize, u64)> {
    let mut from = open + 1;
    let mut escaped: Option<usize> = None;
    loop {
        let q = from + memchr(b'"', &buf[from..])?;
        match buf.get(q + 1) {
            Some(b'"') => {
                escaped.get_or_insert(scratch.len());
                scratch.extend_from_slice(&buf[from..=q]);
                from = q + 2;
            }
            None if !eof => return None,
            _ => {
                let newlines = memchr::memchr_iter(b'\n', &buf[open + 1..q]).count() as u64;
                let span = match escaped {
                    None => Span::Input(open + 1, q),
                    Some(s) => {
                        scratch.extend_from_slice(&buf[from..q]);
                        Span::Scratch(s, scratch.len())
                    }
                };
                return Some((span, q + 1, newlines));
            }
        }
    }
}

impl RecordSource for CsvSource {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        let Some((line, rec_start, rec_end)) = self.next_raw()? else {
            return Ok(false);
        };
        let record = self.record;
        self.record += 1;
        let line = Some(line);
        if self.spans.len() != self.fields.len() {
            return Err(ReadError::Record(RecordError {
                line,
                record,
                column: None,
                reason: format!(
                    "expected {} fields as in the header, found {}",
                    self.fields.len(),
                    self.spans.len()
                ),
            }));
        }
        let valid = simdutf8::basic::from_utf8(&self.buf[rec_start..rec_end]).is_ok()
            && simdutf8::basic::from_utf8(&self.scratch).is_ok();
        if !valid {
            let field = self
                .spans
                .iter()
                .position(|&s| std::str::from_utf8(self.bytes(s)).is_err())
                .unwrap_or(0);
            return Err(ReadError::Record(RecordError {
                line,
                record,
                column: Some(self.fields[field].clone()),
                reason: "invalid UTF-8 (the file must be UTF-8 text)".into(),
            }));
        }
        for (i, &span) in self.spans.iter().enumerate() {
            let bytes = match span {
                Span::Input(a, b) => &self.buf[a..b],
                Span::Scratch(a, b) => &self.scratch[a..b],
            };
            if let Err(e) = sink.field(i, &self.fields[i], Value::Text(bytes)) {
                return Err(ReadError::Record(RecordError {
                    line,
                    record,
                    column: Some(self.fields[i].clone()),
                    reason: e.0,
                }));
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ConvError;

    #[derive(Default)]
    struct Collect(Vec<Vec<String>>);

    impl FieldSink for Collect {
        fn field(&mut self, index: usize, _: &str, value: Value<'_>) -> Result<(), ConvError> {
            let Value::Text(b) = value else {
                unreachable!()
            };
            if index == 0 {
                self.0.push(Vec::new());
            }
            let text = String::from_utf8(b.to_vec()).unwrap();
            if text == "boom" {
                return Err(ConvError::new("no booms"));
            }
            self.0.last_mut().unwrap().push(text);
            Ok(())
        }
    }

    /// A reader handing out a few bytes at a time, to cross every buffer boundary.
    struct Trickle(Vec<u8>, usize, usize);

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.2.min(out.len()).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    fn read_with(
        input: Box<dyn Read + Send>,
        limits: Limits,
    ) -> (Vec<String>, Vec<Vec<String>>, Vec<ReadError>) {
        let mut src = CsvSource::new(input, limits).unwrap();
        let mut sink = Collect::default();
        let mut errors = Vec::new();
        loop {
            match src.next_record(&mut sink) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e @ ReadError::Record(_)) => errors.push(e),
                Err(e) => {
                    errors.push(e);
                    break;
                }
            }
        }
        (src.fields().to_vec(), sink.0, errors)
    }

    fn read_all(data: &[u8], limits: Limits) -> (Vec<String>, Vec<Vec<String>>, Vec<ReadError>) {
        let whole = read_with(Box::new(std::io::Cursor::new(data.to_vec())), limits);
        for step in [1, 2, 3, 7] {
            let trickled = read_with(Box::new(Trickle(data.to_vec(), 0, step)), limits);
            assert_eq!(
                format!("{trickled:?}"),
                format!("{whole:?}"),
                "reading {step} bytes at a time"
            );
        }
        whole
    }

    fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn bom_crlf_quotes_and_embedded_newlines() {
        let data =
            b"\xEF\xBB\xBFid,text\r\n1,\"a, \"\"quoted\"\"\r\nline\"\r\n2,plain\r\n3,\"\"\r\n";
        let (fields, got, errors) = read_all(data, Limits::default());
        assert_eq!(fields, ["id", "text"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            got,
            rows(&[&["1", "a, \"quoted\"\r\nline"], &["2", "plain"], &["3", ""]])
        );
    }

    #[test]
    fn empty_fields_trailing_commas_and_text_after_quotes() {
        let (_, got, errors) = read_all(b"a,b,c\n,,\n\"x\"y,2,\n", Limits::default());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(got, rows(&[&["", "", ""], &["xy", "2", ""]]));
    }

    #[test]
    fn wrong_field_count_names_the_line_and_reading_goes_on() {
        let data = b"a,b\n1,2\n\"x\ny\",2,3\n4,5\n";
        let (_, got, errors) = read_all(data, Limits::default());
        assert_eq!(got.len(), 2);
        let ReadError::Record(e) = &errors[0] else {
            panic!("{errors:?}")
        };
        assert_eq!(e.line, Some(3));
        assert_eq!(e.record, 1);
        assert_eq!(e.reason, "expected 2 fields as in the header, found 3");
    }

    #[test]
    fn lines_count_embedded_newlines_and_blank_lines() {
        let (_, _, errors) = read_all(b"a,b\n\"1\n\n\",2\n\n\n3,boom\n", Limits::default());
        assert_eq!(errors[0].describe("f.csv"), "f.csv:7:b: no booms");
    }

    #[test]
    fn conversion_errors_carry_the_column() {
        let (_, _, errors) = read_all(b"a,b\n1,boom\n", Limits::default());
        assert_eq!(errors[0].describe("f.csv"), "f.csv:2:b: no booms");
    }

    #[test]
    fn invalid_utf8_is_reported() {
        let (_, _, errors) = read_all(b"a,b\n1,\xff\xfe\n", Limits::default());
        assert_eq!(
            errors[0].describe("f.csv"),
            "f.csv:2:b: invalid UTF-8 (the file must be UTF-8 text)"
        );
    }

    #[test]
    fn an_unclosed_quote_is_a_broken_file() {
        let (_, got, errors) = read_all(b"a,b\n1,2\n3,\"open\n", Limits::default());
        assert_eq!(got.len(), 1);
        assert_eq!(
            errors[0].describe("f.csv"),
            "f.csv:3: a quoted field is not closed before the end of the file"
        );
    }

    #[test]
    fn records_are_bounded() {
        let mut data = b"a\n\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 2_000_000));
        let (_, _, errors) = read_with(
            Box::new(std::io::Cursor::new(data)),
            Limits {
                max_record_bytes: 1 << 20,
                ..Limits::default()
            },
        );
        assert!(
            matches!(&errors[0], ReadError::File { reason, .. } if reason.contains("longer than 1048576 bytes")),
            "{errors:?}"
        );
    }

    #[test]
    fn headers_are_checked() {
        let err = |d: &[u8]| {
            CsvSource::new(
                Box::new(std::io::Cursor::new(d.to_vec())),
                Limits::default(),
            )
            .err()
            .unwrap()
            .describe("f.csv")
        };
        assert_eq!(
            err(b""),
            "f.csv: the file is empty; a CSV file needs a header row"
        );
        assert_eq!(err(b"a,,b\n"), "f.csv:1: header field 2 is empty");
        assert_eq!(err(b"a,a\n"), "f.csv:1: header names column \"a\" twice");
    }

    #[test]
    fn blank_lines_and_missing_final_newline() {
        let (_, got, errors) = read_all(b"a\n1\n\n2", Limits::default());
        assert!(errors.is_empty());
        assert_eq!(got, rows(&[&["1"], &["2"]]));
    }
}
