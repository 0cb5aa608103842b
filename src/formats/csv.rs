//! CSV with a header row: quoted fields with embedded newlines, a UTF-8 BOM and CRLF line ends,
//! parsed with `csv-core` into buffers that are reused for every record and bounded in size.

use super::{FieldSink, Limits, ReadError, RecordError, RecordSource};
use crate::value::Value;
use csv_core::{ReadRecordResult, Reader};
use std::io::Read;

const INPUT_CHUNK: usize = 256 * 1024;
const MAX_FIELDS: usize = 10_000;

pub struct CsvSource {
    input: Box<dyn Read + Send>,
    reader: Reader,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    out: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
    fields: Vec<String>,
    record: u64,
    line: u64,
    max_record_bytes: usize,
}

impl CsvSource {
    pub fn new(input: Box<dyn Read + Send>, limits: Limits) -> Result<CsvSource, ReadError> {
        let mut src = CsvSource {
            input,
            reader: Reader::new(),
            buf: vec![0; INPUT_CHUNK],
            pos: 0,
            len: 0,
            eof: false,
            out: vec![0; 4096],
            ends: vec![0; 64],
            nfields: 0,
            fields: Vec::new(),
            record: 0,
            line: 1,
            max_record_bytes: limits.max_record_bytes,
        };
        src.fill()?;
        if src.buf[..src.len].starts_with(b"\xEF\xBB\xBF") {
            src.pos = 3;
        }
        if !src.read_raw()? {
            return Err(ReadError::File {
                line: None,
                reason: "the file is empty; a CSV file needs a header row".into(),
            });
        }
        let text =
            std::str::from_utf8(&src.out[..src.record_len()]).map_err(|_| ReadError::File {
                line: Some(1),
                reason: "the header row is not valid UTF-8".into(),
            })?;
        let mut start = 0;
        for &end in &src.ends[..src.nfields] {
            let name = text[start..end].trim();
            if name.is_empty() {
                return Err(ReadError::File {
                    line: Some(1),
                    reason: format!("header field {} is empty", src.fields.len() + 1),
                });
            }
            if src.fields.iter().any(|f| f == name) {
                return Err(ReadError::File {
                    line: Some(1),
                    reason: format!("header names column {name:?} twice"),
                });
            }
            src.fields.push(name.to_owned());
            start = end;
        }
        Ok(src)
    }

    fn record_len(&self) -> usize {
        if self.nfields == 0 {
            0
        } else {
            self.ends[self.nfields - 1]
        }
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        if self.pos < self.len || self.eof {
            return Ok(());
        }
        self.pos = 0;
        self.len = loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::io(&e, Some(self.reader.line()))),
            }
        };
        self.eof = self.len == 0;
        Ok(())
    }

    /// Reads the next raw record into `out`/`ends`. `Ok(false)` at the end of input.
    fn read_raw(&mut self) -> Result<bool, ReadError> {
        let mut nout = 0;
        let mut nend = 0;
        self.line = self.reader.line();
        loop {
            self.fill()?;
            let (res, nin, o, e) = self.reader.read_record(
                &self.buf[self.pos..self.len],
                &mut self.out[nout..],
                &mut self.ends[nend..],
            );
            self.pos += nin;
            nout += o;
            nend += e;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.out.len() >= self.max_record_bytes {
                        return Err(ReadError::File {
                            line: Some(self.line),
                            reason: format!(
                                "record is longer than {} bytes (an unterminated quote?)",
                                self.max_record_bytes
                            ),
                        });
                    }
                    let grown = (self.out.len() * 2).min(self.max_record_bytes);
                    self.out.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() >= MAX_FIELDS {
                        return Err(ReadError::File {
                            line: Some(self.line),
                            reason: format!("record has more than {MAX_FIELDS} fields"),
                        });
                    }
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => {
                    self.nfields = nend;
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }
}

impl RecordSource for CsvSource {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        if !self.read_raw()? {
            return Ok(false);
        }
        let record = self.record;
        self.record += 1;
        let line = Some(self.line);
        if self.nfields != self.fields.len() {
            return Err(ReadError::Record(RecordError {
                line,
                record,
                column: None,
                reason: format!(
                    "expected {} fields as in the header, found {}",
                    self.fields.len(),
                    self.nfields
                ),
            }));
        }
        let data = &self.out[..self.record_len()];
        let ends = &self.ends[..self.nfields];
        if let Err(e) = std::str::from_utf8(data) {
            let field = ends
                .iter()
                .position(|&end| end > e.valid_up_to())
                .unwrap_or(0);
            return Err(ReadError::Record(RecordError {
                line,
                record,
                column: Some(self.fields[field].clone()),
                reason: "invalid UTF-8 (the file must be UTF-8 text)".into(),
            }));
        }
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            if let Err(e) = sink.field(i, &self.fields[i], Value::Text(&data[start..end])) {
                return Err(ReadError::Record(RecordError {
                    line,
                    record,
                    column: Some(self.fields[i].clone()),
                    reason: e.0,
                }));
            }
            start = end;
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

    fn read_all(data: &[u8], limits: Limits) -> (Vec<String>, Vec<Vec<String>>, Vec<ReadError>) {
        let mut src =
            CsvSource::new(Box::new(std::io::Cursor::new(data.to_vec())), limits).unwrap();
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

    #[test]
    fn bom_crlf_quotes_and_embedded_newlines() {
        let data = b"\xEF\xBB\xBFid,text\r\n1,\"a, \"\"quoted\"\"\r\nline\"\r\n2,plain\r\n";
        let (fields, rows, errors) = read_all(data, Limits::default());
        assert_eq!(fields, ["id", "text"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rows,
            [
                vec!["1".to_string(), "a, \"quoted\"\r\nline".to_string()],
                vec!["2".to_string(), "plain".to_string()]
            ]
        );
    }

    #[test]
    fn wrong_field_count_names_the_line_and_reading_goes_on() {
        let data = b"a,b\n1,2\n\"x\ny\",2,3\n4,5\n";
        let (_, rows, errors) = read_all(data, Limits::default());
        assert_eq!(rows.len(), 2);
        let ReadError::Record(e) = &errors[0] else {
            panic!("{errors:?}")
        };
        assert_eq!(e.line, Some(3));
        assert_eq!(e.record, 1);
        assert_eq!(e.reason, "expected 2 fields as in the header, found 3");
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
    fn records_are_bounded() {
        let mut data = b"a\n\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100_000));
        let (_, _, errors) = read_all(
            &data,
            Limits {
                max_record_bytes: 10_000,
                ..Limits::default()
            },
        );
        assert!(
            matches!(&errors[0], ReadError::File { reason, .. } if reason.contains("longer than 10000 bytes"))
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
        let (_, rows, errors) = read_all(b"a\n1\n\n2", Limits::default());
        assert!(errors.is_empty());
        assert_eq!(rows.len(), 2);
    }
}
