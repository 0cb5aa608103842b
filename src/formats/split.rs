//! The CSV reader's fast path, for the dialects whose quotes are escaped by doubling (all but
//! backslash escapes): a record is split with `memchr` in the input buffer and its fields are
//! handed over as slices of it, so a plain field is never copied. `csv-core` splits a record at a
//! few hundred MB/s, byte by byte through its state machine; this skips to the next delimiter,
//! line end or quote, about twice as fast on the benchmark's rows (see BENCHMARKS.md).

use memchr::{memchr, memchr2};

/// Where a field's bytes are: in the input buffer, or unescaped into the output buffer.
#[derive(Debug, Clone, Copy)]
pub enum Span {
    Input(usize, usize),
    Out(usize, usize),
}

/// How far splitting one record got.
pub enum Split {
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

/// What splitting a record needs to know and where it puts the fields.
pub struct Splitter<'a> {
    pub delimiter: u8,
    pub quote: Option<u8>,
    pub eof: bool,
    pub max_fields: usize,
    pub spans: &'a mut Vec<Span>,
    /// Whether each field was quoted.
    pub quoted: &'a mut Vec<bool>,
    pub out: &'a mut Vec<u8>,
}

impl Splitter<'_> {
    /// Splits the record starting at `pos` of `buf`; at the end of the input, the end of the
    /// data ends it.
    pub fn split(&mut self, buf: &[u8], mut pos: usize) -> Split {
        self.spans.clear();
        self.quoted.clear();
        self.out.clear();
        let end = buf.len();
        let d = self.delimiter;
        let mut newlines = 0u64;
        loop {
            if self.spans.len() == self.max_fields {
                return Split::TooManyFields;
            }
            let quote = self.quote.filter(|&q| pos < end && buf[pos] == q);
            if let Some(q) = quote {
                let (span, after, lines) = match quoted(buf, pos, q, self.out, self.eof) {
                    Some(found) => found,
                    None if self.eof => return Split::Unterminated,
                    None => return Split::NeedMore,
                };
                newlines += lines;
                self.spans.push(span);
                self.quoted.push(true);
                pos = after;
                // Anything between the closing quote and the delimiter is kept, as text.
                if pos < end && buf[pos] != d && buf[pos] != b'\n' && buf[pos] != b'\r' {
                    let Some(stop) = memchr2(d, b'\n', &buf[pos..]).map(|k| pos + k) else {
                        return match self.eof {
                            true => Split::Unterminated,
                            false => Split::NeedMore,
                        };
                    };
                    let (a, b) = match span {
                        Span::Input(a, b) => {
                            let s = self.out.len();
                            self.out.extend_from_slice(&buf[a..b]);
                            (s, s + b - a)
                        }
                        Span::Out(a, b) => (a, b),
                    };
                    let tail = trim_cr(buf, pos, stop);
                    self.out.extend_from_slice(&buf[pos..tail]);
                    let last = self.spans.len() - 1;
                    self.spans[last] = Span::Out(a, b + tail - pos);
                    pos = stop;
                }
            } else {
                self.quoted.push(false);
                match memchr2(d, b'\n', &buf[pos..]) {
                    Some(k) => {
                        self.spans
                            .push(Span::Input(pos, trim_cr(buf, pos, pos + k)));
                        pos += k;
                    }
                    None if self.eof => {
                        self.spans.push(Span::Input(pos, trim_cr(buf, pos, end)));
                        return Split::Record { end, newlines };
                    }
                    None => return Split::NeedMore,
                }
            }
            match buf.get(pos) {
                Some(&c) if c == d => pos += 1,
                Some(b'\n') => {
                    return Split::Record {
                        end: pos + 1,
                        newlines,
                    };
                }
                Some(b'\r') => match buf.get(pos + 1) {
                    Some(b'\n') => {
                        return Split::Record {
                            end: pos + 2,
                            newlines,
                        };
                    }
                    None if !self.eof => return Split::NeedMore,
                    _ => {
                        return Split::Record {
                            end: pos + 1,
                            newlines,
                        };
                    }
                },
                Some(_) => unreachable!("fields end at a delimiter, a line end or the input's end"),
                None if self.eof => return Split::Record { end: pos, newlines },
                None => return Split::NeedMore,
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
fn quoted(
    buf: &[u8],
    open: usize,
    q: u8,
    out: &mut Vec<u8>,
    eof: bool,
) -> Option<(Span, usize, u64)> {
    let mut from = open + 1;
    let mut escaped: Option<usize> = None;
    loop {
        let at = from + memchr(q, &buf[from..])?;
        match buf.get(at + 1) {
            Some(&next) if next == q => {
                escaped.get_or_insert(out.len());
                out.extend_from_slice(&buf[from..=at]);
                from = at + 2;
            }
            None if !eof => return None,
            _ => {
                let newlines = memchr::memchr_iter(b'\n', &buf[open + 1..at]).count() as u64;
                let span = match escaped {
                    None => Span::Input(open + 1, at),
                    Some(s) => {
                        out.extend_from_slice(&buf[from..at]);
                        Span::Out(s, out.len())
                    }
                };
                return Some((span, at + 1, newlines));
            }
        }
    }
}
