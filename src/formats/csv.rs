//! CSV in any dialect, and TSV with ClickHouse's TabSeparated escapes. Parts of the dialect a
//! route leaves unset are sniffed from the start of the file (with `csv-core`). Records are split
//! into reused buffers and handed over as slices: by `split` where quotes are escaped by doubling
//! (the fast path), by `csv-core`'s allocation-free state machine otherwise (backslash escapes,
//! lone CR line ends). A record larger than the limit is an error, never an allocation.

use super::options::{Escape, TextOptions};
use super::pieces::{Forks, Piece, PieceText, Pieces, Split};
use super::sniff::{self, Dialect};
use super::split::{self as fast, RecordEnds, Span, Splitter};
use super::{FieldSink, Limits, ReadError, RecordError, RecordSource};
use crate::value::Value;
use csv_core::ReadRecordResult;
use std::io::Read;

const INPUT_CHUNK: usize = 256 * 1024;
/// How much of the file the sniffer looks at.
const SNIFF_BYTES: usize = 64 * 1024;
const MAX_FIELDS: usize = 10_000;

/// Which of the two text formats this reader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Csv,
    /// Tab-separated, never quoted, with backslash escapes and `\N` for NULL.
    Tsv,
}

pub struct CsvSource {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    core: csv_core::Reader,
    /// Split records with `split` rather than `core`.
    fast: bool,
    /// Field bytes that are not in `buf` as they are (unescaped, or all of them for `core`),
    /// and where `core`'s fields end.
    out: Vec<u8>,
    ends: Vec<usize>,
    /// How much of `out` the current record uses.
    out_len: usize,
    /// The current record's fields.
    spans: Vec<Span>,
    fields_in_record: usize,
    /// Newlines the fast path consumed.
    lines: u64,
    /// TSV fields with escapes, unescaped.
    scratch: Vec<u8>,
    fields: Vec<String>,
    /// Without a header or named fields, fields are known by position only.
    positional: bool,
    record: u64,
    /// Lines skipped before the reader saw them (skipped, blank and comment lines); with the
    /// newlines `core` consumed, the line of the next unread byte.
    skipped: u64,
    /// Inside a comment line, skipping to its end.
    in_comment: bool,
    max_record_bytes: usize,
    flavor: Flavor,
    dialect: Dialect,
    /// The text is known to be UTF-8 (it was transcoded), so records need no check.
    checked_utf8: bool,
    options: TextOptions,
    /// A read that failed while the sniffer read ahead, reported when the records reach it
    /// (so that it names the line it is on).
    deferred: Option<std::io::Error>,
    /// Where the current record's bytes start in `buf`: they are kept there until it is read
    /// (its fields may be slices of them, and an empty field is told quoted or not from them).
    rec_start: usize,
    /// Which fields of the current record were quoted (`core`: only when one is empty).
    quoted: Vec<bool>,
}

impl CsvSource {
    /// Opens a reader; `transcoded` says the text was decoded to UTF-8 already.
    pub fn new(
        input: Box<dyn Read + Send>,
        limits: Limits,
        options: &TextOptions,
        flavor: Flavor,
        transcoded: bool,
    ) -> Result<CsvSource, ReadError> {
        let mut given = options.dialect.clone();
        if flavor == Flavor::Tsv {
            given.delimiter = Some(given.delimiter.unwrap_or(b'\t'));
            given.quote = Some(None);
        }
        let dialect = Dialect {
            delimiter: b',',
            quote: None,
            escape: Escape::Double,
            header: true,
            comment: None,
            trailing_delimiter: false,
            sniffed_delimiter: false,
            sniffed_quote: false,
            sniffed_header: None,
        };
        let mut src = CsvSource::blank(input, limits.max_record_bytes, flavor, dialect, options);
        src.checked_utf8 = transcoded;
        src.skip_lines(given.skip_lines)?;
        while src.end - src.start < SNIFF_BYTES && !src.eof && src.deferred.is_none() {
            src.fill_or_defer()?;
        }
        let dialect =
            sniff::sniff(&src.buf[src.start..src.end], &given, src.eof).map_err(|reason| {
                ReadError::File {
                    line: Some(src.line()),
                    reason,
                }
            })?;
        src.core = sniff::core_reader(dialect.delimiter, dialect.quote, dialect.escape, None);
        src.fast = dialect.escape == Escape::Double && !lone_cr(&src.buf[src.start..src.end]);
        src.dialect = dialect;
        src.read_header()?;
        Ok(src)
    }

    /// A reader that has read nothing, in `dialect`.
    fn blank(
        input: Box<dyn Read + Send>,
        max_record_bytes: usize,
        flavor: Flavor,
        dialect: Dialect,
        options: &TextOptions,
    ) -> CsvSource {
        CsvSource {
            input,
            buf: vec![0; INPUT_CHUNK],
            start: 0,
            end: 0,
            eof: false,
            core: sniff::core_reader(dialect.delimiter, dialect.quote, dialect.escape, None),
            fast: true,
            out: vec![0; 4096],
            ends: vec![0; 64],
            out_len: 0,
            spans: Vec::new(),
            fields_in_record: 0,
            lines: 0,
            scratch: Vec::new(),
            fields: Vec::new(),
            positional: false,
            record: 0,
            skipped: 0,
            in_comment: false,
            max_record_bytes,
            flavor,
            dialect,
            checked_utf8: false,
            options: options.clone(),
            deferred: None,
            rec_start: 0,
            quoted: Vec::new(),
        }
    }

    /// A reader of one piece of the file, with the settings this one found (no header, no
    /// sniffing), counting lines from the piece's first.
    fn fork(&self, piece: Piece) -> CsvSource {
        let input = piece.text.into_reader();
        let (flavor, dialect) = (self.flavor, self.dialect.clone());
        let mut src =
            CsvSource::blank(input, self.max_record_bytes, flavor, dialect, &self.options);
        src.fast = self.fast;
        src.fields = self.fields.clone();
        src.positional = self.positional;
        src.skipped = piece.first_line - 1;
        src.checked_utf8 = self.checked_utf8;
        src
    }

    fn read_header(&mut self) -> Result<(), ReadError> {
        let named = self.options.fields.clone();
        if self.dialect.header {
            let Some(line) = self.next_raw()? else {
                return Err(ReadError::File {
                    line: None,
                    reason: "the file is empty; it needs a header row (or set `header = false`)"
                        .into(),
                });
            };
            self.check_utf8().map_err(|_| ReadError::File {
                line: Some(line),
                reason: "the header row is not valid UTF-8 (for another encoding, set \
                         `encoding`)"
                    .into(),
            })?;
            if let Some(names) = named {
                self.fields = names;
                return Ok(());
            }
            for i in 0..self.fields_in_record {
                let name = String::from_utf8_lossy(self.field_bytes(i))
                    .trim()
                    .to_owned();
                if name.is_empty() {
                    return Err(ReadError::File {
                        line: Some(line),
                        reason: format!("header field {} is empty", i + 1),
                    });
                }
                if self.fields.contains(&name) {
                    return Err(ReadError::File {
                        line: Some(line),
                        reason: format!("header names column {name:?} twice"),
                    });
                }
                self.fields.push(name);
            }
            return Ok(());
        }
        match named {
            Some(names) => self.fields = names,
            None => {
                // Names for positions, as ClickHouse gives a file without a header: c1, c2, …
                // The width is the first record's; the record itself is read again.
                self.skip_to_record()?;
                let width = self.peek_width()?;
                self.fields = (1..=width).map(|i| format!("c{i}")).collect();
                self.positional = true;
            }
        }
        Ok(())
    }

    /// The line of the next unread byte (`core` counts from line 1).
    fn line(&self) -> u64 {
        self.skipped + self.core.line() + self.lines
    }

    /// The number of fields of the first record, without consuming it.
    fn peek_width(&mut self) -> Result<usize, ReadError> {
        let at = self.start;
        let mut reader = sniff::core_reader(
            self.dialect.delimiter,
            self.dialect.quote,
            self.dialect.escape,
            self.dialect.comment,
        );
        let mut out = vec![0u8; SNIFF_BYTES];
        let mut ends = vec![0usize; MAX_FIELDS];
        let input = &self.buf[at..self.end];
        let (res, nin, _, nend) = reader.read_record(input, &mut out, &mut ends);
        let nend = match res {
            ReadRecordResult::InputEmpty if self.eof && nin == input.len() => {
                reader.read_record(&[], &mut out, &mut ends).3 + nend
            }
            _ => nend,
        };
        Ok(self.trimmed_width(&ends[..nend]))
    }

    /// A record's field count without the empty field a trailing delimiter leaves.
    fn trimmed_width(&self, ends: &[usize]) -> usize {
        let n = ends.len();
        let last_empty = match n {
            0 => false,
            1 => ends[0] == 0,
            _ => ends[n - 1] == ends[n - 2],
        };
        match self.dialect.trailing_delimiter && last_empty && n > 1 {
            true => n - 1,
            false => n,
        }
    }

    fn field_bytes(&self, i: usize) -> &[u8] {
        match self.spans[i] {
            Span::Input(a, b) => &self.buf[a..b],
            Span::Out(a, b) => &self.out[a..b],
        }
    }

    /// Checks the current record is UTF-8: its bytes in `buf` and what was put in `out`.
    fn check_utf8(&self) -> Result<(), ()> {
        if self.checked_utf8 {
            return Ok(());
        }
        let raw = match self.fast {
            true => &self.buf[self.rec_start..self.start],
            false => &[][..],
        };
        let ok = simdutf8::basic::from_utf8(raw).is_ok()
            && simdutf8::basic::from_utf8(&self.out[..self.out_len]).is_ok();
        if ok { Ok(()) } else { Err(()) }
    }

    /// Reads ahead for the sniffer: a failure about the content waits until the records
    /// reach it; a local one is reported now.
    fn fill_or_defer(&mut self) -> Result<(), ReadError> {
        match self.read_more() {
            Err(e) if !ReadError::io(&e, None).is_local() => {
                self.deferred = Some(e);
                Ok(())
            }
            other => other.map_err(|e| ReadError::io(&e, Some(self.line()))),
        }
    }

    /// Reads more input after what is buffered, moving the unread part to the front first.
    fn fill(&mut self) -> Result<(), ReadError> {
        if let Some(e) = self.deferred.take() {
            return Err(ReadError::io(&e, Some(self.line())));
        }
        if self.rec_start.min(self.start) == 0
            && self.end == self.buf.len()
            && self.buf.len() >= self.max_record_bytes
        {
            return Err(ReadError::File {
                line: Some(self.line()),
                reason: format!(
                    "record is longer than {} bytes (an unterminated quote?)",
                    self.max_record_bytes
                ),
            });
        }
        self.read_more()
            .map_err(|e| ReadError::io(&e, Some(self.line())))
    }

    fn read_more(&mut self) -> std::io::Result<()> {
        let keep = self.rec_start.min(self.start);
        if keep > 0 {
            self.buf.copy_within(keep..self.end, 0);
            self.end -= keep;
            self.start -= keep;
            self.rec_start -= keep;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(self.max_record_bytes.max(INPUT_CHUNK));
            self.buf.resize(grown.max(self.buf.len() + 1), 0);
        }
        let n = loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.end += n;
        self.eof = n == 0;
        Ok(())
    }

    /// Skips the first `n` lines of the file.
    fn skip_lines(&mut self, mut n: usize) -> Result<(), ReadError> {
        while n > 0 {
            match memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                Some(k) => {
                    self.start += k + 1;
                    self.skipped += 1;
                    n -= 1;
                }
                None if self.eof => {
                    self.start = self.end;
                    return Ok(());
                }
                None => {
                    self.start = self.end;
                    self.fill()?;
                }
            }
        }
        Ok(())
    }

    /// Skips blank lines and comment lines before a record. `false` at the end of the input.
    fn skip_to_record(&mut self) -> Result<bool, ReadError> {
        loop {
            if self.start == self.end {
                if self.eof {
                    return Ok(false);
                }
                self.fill()?;
                continue;
            }
            if self.in_comment {
                match memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                    Some(k) => {
                        self.start += k + 1;
                        self.skipped += 1;
                        self.in_comment = false;
                    }
                    None => self.start = self.end,
                }
                continue;
            }
            match self.buf[self.start] {
                b'\n' => {
                    self.skipped += 1;
                    self.start += 1;
                }
                b'\r' => self.start += 1,
                c if Some(c) == self.dialect.comment => self.in_comment = true,
                _ => return Ok(true),
            }
        }
    }

    /// Splits the next record into `spans`; returns the line it starts on, or `None` at the end
    /// of the input.
    fn next_raw(&mut self) -> Result<Option<u64>, ReadError> {
        self.rec_start = self.start;
        if !self.skip_to_record()? {
            return Ok(None);
        }
        self.rec_start = self.start;
        let line = self.line();
        let found = match self.fast {
            true => self.split_fast(line).map(|()| true)?,
            false => self.split_core(line)?,
        };
        Ok(found.then_some(line))
    }

    fn split_fast(&mut self, line: u64) -> Result<(), ReadError> {
        loop {
            let mut splitter = Splitter {
                delimiter: self.dialect.delimiter,
                quote: self.dialect.quote,
                eof: self.eof,
                max_fields: MAX_FIELDS,
                spans: &mut self.spans,
                quoted: &mut self.quoted,
                out: &mut self.out,
            };
            match splitter.split(&self.buf[..self.end], self.start) {
                fast::Split::Record { end, newlines } => {
                    self.lines += 1 + newlines;
                    self.start = end;
                    self.out_len = self.out.len();
                    break;
                }
                fast::Split::NeedMore if !self.eof => self.fill()?,
                fast::Split::NeedMore | fast::Split::Unterminated => {
                    return Err(ReadError::File {
                        line: Some(line),
                        reason: "a quoted field is not closed before the end of the file".into(),
                    });
                }
                fast::Split::TooManyFields => {
                    return Err(ReadError::File {
                        line: Some(line),
                        reason: format!("record has more than {MAX_FIELDS} fields"),
                    });
                }
            }
        }
        let n = self.spans.len();
        let last_empty = match self.spans.last() {
            Some(Span::Input(a, b) | Span::Out(a, b)) => a == b,
            None => false,
        };
        self.fields_in_record = match self.dialect.trailing_delimiter && last_empty && n > 1 {
            true => n - 1,
            false => n,
        };
        Ok(())
    }

    /// Splits a record with `core`; `false` when the input ended before one.
    fn split_core(&mut self, line: u64) -> Result<bool, ReadError> {
        if self.out.len() < 4096 {
            self.out.resize(4096, 0);
        }
        let mut nout = 0;
        let mut nends = 0;
        loop {
            let input = &self.buf[self.start..self.end];
            let (res, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nends..]);
            self.start += nin;
            nout += o;
            nends += e;
            match res {
                ReadRecordResult::Record => break,
                ReadRecordResult::End => {
                    self.fields_in_record = 0;
                    self.out_len = 0;
                    return Ok(false);
                }
                ReadRecordResult::InputEmpty if self.eof => {
                    let (res, _, o, e) =
                        self.core
                            .read_record(&[], &mut self.out[nout..], &mut self.ends[nends..]);
                    nout += o;
                    nends += e;
                    match res {
                        ReadRecordResult::Record => {
                            self.unclosed_quote(line)?;
                            break;
                        }
                        ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                            self.grow(res, line)?
                        }
                        _ => {
                            self.fields_in_record = 0;
                            self.out_len = 0;
                            return Ok(false);
                        }
                    }
                }
                ReadRecordResult::InputEmpty => self.fill()?,
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                    self.grow(res, line)?
                }
            }
        }
        let n = self.trimmed_width(&self.ends[..nends]);
        self.fields_in_record = n;
        self.out_len = nout;
        self.spans.clear();
        let mut from = 0;
        for &to in &self.ends[..n] {
            self.spans.push(Span::Out(from, to));
            from = to;
        }
        self.quoted.clear();
        if let Some(q) = self.dialect.quote {
            let empty = (0..n).any(|i| self.ends[i] == if i == 0 { 0 } else { self.ends[i - 1] });
            if empty {
                quoted_fields(
                    &self.buf[self.rec_start..self.start],
                    self.dialect.delimiter,
                    q,
                    self.dialect.escape,
                    &mut self.quoted,
                );
            }
        }
        Ok(true)
    }

    /// A record the end of the file closed while a quote was open.
    fn unclosed_quote(&self, line: u64) -> Result<(), ReadError> {
        let raw = &self.buf[self.rec_start..self.start];
        let open = match self.dialect.quote {
            Some(q) => left_open(raw, q, self.dialect.escape),
            None => false,
        };
        if open {
            return Err(ReadError::File {
                line: Some(line),
                reason: "a quoted field is not closed before the end of the file".into(),
            });
        }
        Ok(())
    }

    fn grow(&mut self, res: ReadRecordResult, line: u64) -> Result<(), ReadError> {
        if res == ReadRecordResult::OutputFull {
            if self.out.len() >= self.max_record_bytes {
                return Err(ReadError::File {
                    line: Some(line),
                    reason: format!(
                        "record is longer than {} bytes (an unterminated quote?)",
                        self.max_record_bytes
                    ),
                });
            }
            let grown = (self.out.len() * 2).min(self.max_record_bytes);
            self.out.resize(grown, 0);
        } else {
            if self.ends.len() >= MAX_FIELDS {
                return Err(ReadError::File {
                    line: Some(line),
                    reason: format!("record has more than {MAX_FIELDS} fields"),
                });
            }
            let grown = (self.ends.len() * 2).min(MAX_FIELDS);
            self.ends.resize(grown, 0);
        }
        Ok(())
    }
}

/// Whether a quote is still open at the end of a record's raw bytes.
fn left_open(raw: &[u8], quote: u8, escape: Escape) -> bool {
    let mut inside = false;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\\' if inside && escape == Escape::Backslash => i += 1,
            c if c == quote => inside = !inside,
            _ => {}
        }
        i += 1;
    }
    inside
}

/// Whether text has a CR that ends a line on its own (old Mac line ends), which only `core` reads.
fn lone_cr(text: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', text).any(|i| i + 1 < text.len() && text[i + 1] != b'\n')
}

/// Which fields of a record's raw bytes open with a quote (an empty quoted field is an empty
/// string, where an empty unquoted one is no value).
fn quoted_fields(raw: &[u8], delimiter: u8, quote: u8, escape: Escape, out: &mut Vec<bool>) {
    let mut at_start = true;
    let mut inside = false;
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if inside {
            match escape {
                Escape::Backslash if c == b'\\' => i += 1,
                Escape::Double if c == quote && raw.get(i + 1) == Some(&quote) => i += 1,
                _ if c == quote => inside = false,
                _ => {}
            }
        } else if at_start && c == quote {
            out.push(true);
            inside = true;
            at_start = false;
        } else if c == delimiter {
            if at_start {
                out.push(false);
            }
            at_start = true;
        } else if c == b'\n' || c == b'\r' {
            break;
        } else if at_start {
            out.push(false);
            at_start = false;
        }
        i += 1;
    }
    if at_start {
        out.push(false);
    }
}

/// Undoes TabSeparated escapes (`\t`, `\n`, `\\`, …) into `out`.
fn unescape_tsv(field: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < field.len() {
        let c = field[i];
        if c != b'\\' || i + 1 == field.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = field[i + 1];
        out.push(match e {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'r' => b'\r',
            b'n' => b'\n',
            b't' => b'\t',
            b'0' => 0,
            b'a' => 0x07,
            b'v' => 0x0b,
            other => other,
        });
        i += 2;
    }
}

/// Readers of a file's pieces: copies of its reader as it stood after the header.
struct CsvForks(std::sync::Mutex<CsvSource>);

impl Forks for CsvForks {
    fn open(&self, piece: Piece) -> Box<dyn RecordSource> {
        let template = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Box::new(template.fork(piece))
    }
}

impl RecordSource for CsvSource {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Only where records are split by the fast path, which finds their ends, and no comment
    /// line (whose quotes are no quotes) can hide one.
    fn split(&mut self) -> Option<Split> {
        if !self.fast || self.dialect.comment.is_some() || self.deferred.is_some() {
            return None;
        }
        let input = std::mem::replace(&mut self.input, Box::new(std::io::empty()));
        let ends = RecordEnds {
            delimiter: self.dialect.delimiter,
            quote: self.dialect.quote,
        };
        let pieces = Pieces::new(
            &self.buf[self.start..self.end],
            input,
            self.line(),
            Box::new(ends),
            self.max_record_bytes,
        );
        self.start = self.end;
        self.eof = true;
        let template = self.fork(Piece {
            text: PieceText::Bytes(Vec::new()),
            first_line: 1,
        });
        Some(Split {
            pieces,
            forks: Box::new(CsvForks(std::sync::Mutex::new(template))),
        })
    }

    fn positional(&self) -> bool {
        self.positional
    }

    fn describe(&self) -> Option<String> {
        match self.flavor {
            Flavor::Csv => Some(self.dialect.describe()),
            Flavor::Tsv if self.dialect.sniffed_header.is_some() => {
                let header = if self.dialect.header {
                    "header"
                } else {
                    "no header"
                };
                let how = match self.dialect.sniffed_header {
                    Some(true) => " (sniffed)",
                    _ => " (assumed)",
                };
                Some(format!("{header}{how}"))
            }
            Flavor::Tsv => None,
        }
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        let Some(line) = self.next_raw()? else {
            return Ok(false);
        };
        let record = self.record;
        self.record += 1;
        let line = Some(line);
        if self.fields_in_record != self.fields.len() {
            let what = match (self.dialect.header, self.positional) {
                (true, _) => "as in the header",
                (false, true) => "as in the first record",
                (false, false) => "as the route's `fields` name",
            };
            return Err(ReadError::Record(RecordError {
                line,
                record,
                column: None,
                reason: format!(
                    "expected {} fields {what}, found {}",
                    self.fields.len(),
                    self.fields_in_record
                ),
            }));
        }
        if self.check_utf8().is_err() {
            let field = (0..self.fields_in_record)
                .position(|i| std::str::from_utf8(self.field_bytes(i)).is_err())
                .unwrap_or(0);
            return Err(ReadError::Record(RecordError {
                line,
                record,
                column: Some(self.fields[field].clone()),
                reason: "invalid UTF-8 (set the route's `encoding` if the file is in another \
                         one)"
                    .into(),
            }));
        }
        let custom_nulls = self.options.null_values.is_some();
        for i in 0..self.fields_in_record {
            let bytes = match self.spans[i] {
                Span::Input(a, b) => &self.buf[a..b],
                Span::Out(a, b) => &self.out[a..b],
            };
            let value = if bytes.is_empty() && self.quoted.get(i) == Some(&true) {
                Value::Str(b"")
            } else if custom_nulls && self.options.is_null(bytes) {
                Value::Null
            } else if self.flavor == Flavor::Tsv {
                if bytes == b"\\N" && !custom_nulls {
                    Value::Null
                } else if memchr::memchr(b'\\', bytes).is_some() {
                    unescape_tsv(bytes, &mut self.scratch);
                    Value::Text(&self.scratch)
                } else {
                    Value::Text(bytes)
                }
            } else {
                Value::Text(bytes)
            };
            if let Err(e) = sink.field(i, &self.fields[i], value) {
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
    use crate::formats::options::DialectSettings;

    #[derive(Default)]
    struct Collect(Vec<Vec<String>>);

    impl FieldSink for Collect {
        fn field(&mut self, index: usize, _: &str, value: Value<'_>) -> Result<(), ConvError> {
            let text = match value {
                Value::Text(b) => String::from_utf8(b.to_vec()).unwrap(),
                Value::Str(b) => format!("str:{}", String::from_utf8(b.to_vec()).unwrap()),
                Value::Null => "NULL".to_owned(),
                other => unreachable!("{other:?}"),
            };
            if index == 0 {
                self.0.push(Vec::new());
            }
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

    type Read3 = (Vec<String>, Vec<Vec<String>>, Vec<ReadError>);

    fn read_with(
        input: Box<dyn Read + Send>,
        limits: Limits,
        options: &TextOptions,
        flavor: Flavor,
    ) -> Read3 {
        let mut src = CsvSource::new(input, limits, options, flavor, false).unwrap();
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

    fn read_opts(data: &[u8], options: &TextOptions, flavor: Flavor) -> Read3 {
        let limits = Limits::default();
        let whole = read_with(
            Box::new(std::io::Cursor::new(data.to_vec())),
            limits,
            options,
            flavor,
        );
        for step in [1, 2, 3, 7] {
            let trickled = read_with(
                Box::new(Trickle(data.to_vec(), 0, step)),
                limits,
                options,
                flavor,
            );
            assert_eq!(
                format!("{trickled:?}"),
                format!("{whole:?}"),
                "reading {step} bytes at a time"
            );
        }
        whole
    }

    fn read_all(data: &[u8]) -> Read3 {
        read_opts(data, &comma(), Flavor::Csv)
    }

    /// Options fixing the delimiter and the header, as the tests of the reader itself need.
    fn comma() -> TextOptions {
        TextOptions {
            dialect: DialectSettings {
                delimiter: Some(b','),
                header: Some(true),
                ..DialectSettings::default()
            },
            ..TextOptions::default()
        }
    }

    fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn crlf_quotes_and_embedded_newlines() {
        let data = b"id,text\r\n1,\"a, \"\"quoted\"\"\r\nline\"\r\n2,plain\r\n3,\"\"\r\n";
        let (fields, got, errors) = read_all(data);
        assert_eq!(fields, ["id", "text"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            got,
            rows(&[
                &["1", "a, \"quoted\"\r\nline"],
                &["2", "plain"],
                &["3", "str:"]
            ])
        );
    }

    #[test]
    fn empty_fields_trailing_commas_and_text_after_quotes() {
        let (_, got, errors) = read_all(b"a,b,c\n,,\n\"x\"y,2,\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(got, rows(&[&["", "", ""], &["xy", "2", ""]]));
    }

    #[test]
    fn wrong_field_count_names_the_line_and_reading_goes_on() {
        let (_, got, errors) = read_all(b"a,b\n1,2\n\"x\ny\",2,3\n4,5\n");
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
        let (_, _, errors) = read_all(b"a,b\n\"1\n\n\",2\n\n\n3,boom\n");
        assert_eq!(errors[0].describe("f.csv"), "f.csv:7:b: no booms");
    }

    #[test]
    fn invalid_utf8_is_reported() {
        let (_, _, errors) = read_all(b"a,b\n1,\xff\xfe\n");
        assert_eq!(
            errors[0].describe("f.csv"),
            "f.csv:2:b: invalid UTF-8 (set the route's `encoding` if the file is in another one)"
        );
    }

    #[test]
    fn an_unclosed_quote_is_a_broken_file() {
        let (_, got, errors) = read_all(b"a,b\n1,2\n3,\"open\n");
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
            &comma(),
            Flavor::Csv,
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
                &comma(),
                Flavor::Csv,
                false,
            )
            .err()
            .unwrap()
            .describe("f.csv")
        };
        assert_eq!(
            err(b""),
            "f.csv: the file is empty; it needs a header row (or set `header = false`)"
        );
        assert_eq!(err(b"a,,b\n"), "f.csv:1: header field 2 is empty");
        assert_eq!(err(b"a,a\n"), "f.csv:1: header names column \"a\" twice");
    }

    #[test]
    fn blank_lines_and_missing_final_newline() {
        let (_, got, errors) = read_all(b"a\n1\n\n2");
        assert!(errors.is_empty());
        assert_eq!(got, rows(&[&["1"], &["2"]]));
    }

    fn with(f: impl FnOnce(&mut DialectSettings)) -> TextOptions {
        let mut o = TextOptions::default();
        f(&mut o.dialect);
        o
    }

    #[test]
    fn dialects_semicolons_single_quotes_backslashes() {
        let o = with(|d| {
            d.delimiter = Some(b';');
            d.quote = Some(Some(b'\''));
            d.escape = Some(Escape::Backslash);
        });
        let (fields, got, errors) = read_opts(b"a;b\n'x;\\'y';2\n", &o, Flavor::Csv);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(fields, ["a", "b"]);
        assert_eq!(got, rows(&[&["x;'y", "2"]]));
    }

    #[test]
    fn comments_skipped_lines_and_trailing_delimiters() {
        let o = with(|d| {
            d.delimiter = Some(b'|');
            d.comment = Some(b'#');
            d.skip_lines = 2;
            d.trailing_delimiter = true;
        });
        let data = b"exported by X\nat noon\na|b|\n# note\n1|2|\n#x\n3|boom|\n";
        let (fields, got, errors) = read_opts(data, &o, Flavor::Csv);
        assert_eq!(fields, ["a", "b"]);
        assert_eq!(got, rows(&[&["1", "2"], &["3"]]));
        assert_eq!(errors[0].describe("f"), "f:7:b: no booms");
    }

    #[test]
    fn no_header_gives_positions_or_the_routes_names() {
        let o = with(|d| d.header = Some(false));
        let data = b"1,2\n3,4\n";
        let src = CsvSource::new(
            Box::new(std::io::Cursor::new(data.to_vec())),
            Limits::default(),
            &o,
            Flavor::Csv,
            false,
        )
        .unwrap();
        assert!(src.positional());
        let (fields, got, _) = read_opts(data, &o, Flavor::Csv);
        assert_eq!(fields, ["c1", "c2"]);
        assert_eq!(got, rows(&[&["1", "2"], &["3", "4"]]));
        let mut named = o.clone();
        named.fields = Some(vec!["x".into(), "y".into()]);
        let (fields, got, _) = read_opts(data, &named, Flavor::Csv);
        assert_eq!(fields, ["x", "y"]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn an_empty_quoted_field_is_an_empty_string() {
        let data = b"a,b,c\n1,\"\",\n\"\",x,\"\"\"\"\n";
        let (_, got, errors) = read_all(data);
        assert!(errors.is_empty());
        assert_eq!(got, rows(&[&["1", "str:", ""], &["str:", "x", "\""]]));
        let mut q = Vec::new();
        quoted_fields(
            b"1,\"\",,\"a,b\"\"\",x\r\n",
            b',',
            b'"',
            Escape::Double,
            &mut q,
        );
        assert_eq!(q, [false, true, false, true, false]);
    }

    #[test]
    fn both_engines_read_alike() {
        // Backslash escapes take `csv-core`; doubled quotes the fast path. Without backslashes
        // or escaped quotes in the data, both must read every file alike.
        for data in [
            &b"a,b\n1,\"x\ny\"\n\n\n2,\"\"\n3,plain\r\n4,\"q\"tail\n"[..],
            b"a,b\n1,2\n\"x\ny\",2,3\n4,5\n",
            b"a,b\n1,2\n3,\"open\n",
            b"a,b\n1,\xff\n2,3",
            b"# c\na|b|\n1|2|\n",
        ] {
            let run = |escape| {
                let o = with(|d| {
                    d.escape = Some(escape);
                    d.delimiter = Some(if data.contains(&b'|') { b'|' } else { b',' });
                    d.comment = Some(b'#');
                    d.trailing_delimiter = true;
                    d.header = Some(true);
                });
                format!("{:?}", read_opts(data, &o, Flavor::Csv))
            };
            assert_eq!(run(Escape::Double), run(Escape::Backslash), "{data:?}");
        }
        // Lone CR line ends take `csv-core` too.
        let (_, got, errors) = read_all(b"a,b\r1,2\r3,4\r");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(got, rows(&[&["1", "2"], &["3", "4"]]));
    }

    #[test]
    fn null_markers_are_nulls() {
        let mut o = comma();
        o.null_values = Some(vec![b"NA".to_vec(), b"".to_vec()]);
        let (_, got, _) = read_opts(b"a,b\nNA,x\n,NAN\n", &o, Flavor::Csv);
        assert_eq!(got, rows(&[&["NULL", "x"], &["NULL", "NAN"]]));
    }

    #[test]
    fn tsv_unescapes_and_knows_null() {
        let o = TextOptions::default();
        let data = b"a\tb\nx\\ty\\\\z\t\\N\n\"q\"\tplain\n";
        let (fields, got, errors) = read_opts(data, &o, Flavor::Tsv);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(fields, ["a", "b"]);
        assert_eq!(got, rows(&[&["x\ty\\z", "NULL"], &["\"q\"", "plain"]]));
    }

    #[test]
    fn an_undecidable_file_asks_for_the_delimiter() {
        let err = CsvSource::new(
            Box::new(std::io::Cursor::new(b"a;b,c\n1;2,3\n".to_vec())),
            Limits::default(),
            &TextOptions::default(),
            Flavor::Csv,
            false,
        )
        .err()
        .unwrap();
        assert!(
            err.describe("f.csv")
                .starts_with("f.csv:1: cannot tell the delimiter"),
            "{err:?}"
        );
    }
}
