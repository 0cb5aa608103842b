//! JSON Lines (NDJSON): one object per line, read line by line into a reused, bounded buffer;
//! blank lines are skipped and a malformed line is an error of that line alone.

use super::fields::FieldNames;
use super::object::{self, OnePass, Origin};
use super::pieces::{Forks, Lines, Piece, Pieces, Split};
use super::{FieldSink, Limits, ReadError, RecordSource};
use std::io::{BufRead, BufReader, Read};

pub struct JsonLinesSource {
    input: BufReader<Box<dyn Read + Send>>,
    buf: Vec<u8>,
    /// Number of the line last read.
    line: u64,
    record: u64,
    names: FieldNames,
    parser: OnePass,
    max_record_bytes: usize,
    max_depth: usize,
}

impl JsonLinesSource {
    pub fn new(input: Box<dyn Read + Send>, limits: Limits) -> JsonLinesSource {
        JsonLinesSource {
            input: BufReader::with_capacity(256 * 1024, input),
            buf: Vec::new(),
            line: 0,
            record: 0,
            names: FieldNames::default(),
            parser: OnePass::default(),
            max_record_bytes: limits.max_record_bytes,
            max_depth: limits.max_depth,
        }
    }

    /// Reads the next line into `buf`. `Ok(false)` at the end of input.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        self.buf.clear();
        let line = self.line + 1;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::io(&e, Some(line))),
            };
            if chunk.is_empty() {
                if self.buf.is_empty() {
                    return Ok(false);
                }
                break;
            }
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if self.buf.len() + take > self.max_record_bytes {
                return Err(ReadError::File {
                    line: Some(line),
                    reason: format!("line is longer than {} bytes", self.max_record_bytes),
                });
            }
            self.buf.extend_from_slice(&chunk[..take]);
            self.input.consume(take);
            if done {
                break;
            }
        }
        self.line = line;
        // The crash tests' poison: a line holding the failpoint's word kills the process.
        #[cfg(feature = "failpoints")]
        fail::eval("abort-reading", |word| {
            if word.is_some_and(|w| memchr::memmem::find(&self.buf, w.as_bytes()).is_some()) {
                std::process::abort();
            }
        });
        if line == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
        }
        Ok(true)
    }
}

/// Readers of a JSON Lines file's pieces.
struct LineForks {
    limits: Limits,
}

impl Forks for LineForks {
    fn open(&self, piece: Piece) -> Box<dyn RecordSource> {
        let mut src = JsonLinesSource::new(piece.text.into_reader(), self.limits);
        src.line = piece.first_line - 1;
        Box::new(src)
    }
}

impl RecordSource for JsonLinesSource {
    fn fields(&self) -> &[String] {
        self.names.names()
    }

    fn split(&mut self) -> Option<Split> {
        let buffered = self.input.buffer().to_vec();
        let input = std::mem::replace(self.input.get_mut(), Box::new(std::io::empty()));
        self.input.consume(buffered.len());
        let limits = Limits {
            max_record_bytes: self.max_record_bytes,
            max_depth: self.max_depth,
            ..Limits::default()
        };
        Some(Split {
            pieces: Pieces::new(
                &buffered,
                input,
                self.line + 1,
                Box::new(Lines),
                self.max_record_bytes,
            ),
            forks: Box::new(LineForks { limits }),
        })
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        loop {
            if !self.read_line()? {
                return Ok(false);
            }
            if !self.buf.trim_ascii().is_empty() {
                break;
            }
        }
        let at = Origin {
            line: self.line,
            column: 1,
            record: self.record,
        };
        self.record += 1;
        object::decode(
            self.buf.trim_ascii_end(),
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
    struct Count(usize);

    impl FieldSink for Count {
        fn field(&mut self, _: usize, _: &str, _: Value<'_>) -> Result<(), ConvError> {
            self.0 += 1;
            Ok(())
        }
    }

    fn read(data: &[u8], limits: Limits) -> (usize, Vec<String>) {
        let mut src = JsonLinesSource::new(Box::new(std::io::Cursor::new(data.to_vec())), limits);
        let mut sink = Count::default();
        let mut errors = Vec::new();
        loop {
            match src.next_record(&mut sink) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e @ ReadError::Record(_)) => errors.push(e.describe("f.jsonl")),
                Err(e) => {
                    errors.push(e.describe("f.jsonl"));
                    break;
                }
            }
        }
        (sink.0, errors)
    }

    #[test]
    fn lines_blank_lines_crlf_and_a_bad_line() {
        let (fields, errors) = read(
            b"\xEF\xBB\xBF{\"a\":1,\"b\":2}\r\n\n{\"a\":3}\n{\"a\": }\n{\"a\":4}",
            Limits::default(),
        );
        assert_eq!(fields, 4);
        assert_eq!(
            errors,
            ["f.jsonl:4: malformed JSON: expected value at column 7"]
        );
    }

    #[test]
    fn a_deeply_nested_line_is_an_error_of_that_line() {
        let mut data = b"{\"a\":1}\n{\"a\":".to_vec();
        data.extend(b"[".repeat(7000));
        data.extend(b"]".repeat(7000));
        data.extend(b"}\n{\"a\":2}\n");
        let (fields, errors) = read(&data, Limits::default());
        assert_eq!(fields, 2);
        assert_eq!(
            errors,
            ["f.jsonl:2: arrays and objects nested more than 64 levels deep (the limit)"]
        );
    }

    #[test]
    fn lines_are_bounded() {
        let mut data = b"{\"a\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        let limits = Limits {
            max_record_bytes: 1000,
            ..Limits::default()
        };
        let (_, errors) = read(&data, limits);
        assert_eq!(errors, ["f.jsonl:1: line is longer than 1000 bytes"]);
    }
}
