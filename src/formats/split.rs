//! The CSV reader's fast path, for the dialects whose quotes are escaped by doubling (all but
//! backslash escapes): a record is split with `memchr` in the input buffer and its fields are
//! handed over as slices of it, so a plain field is never copied. `csv-core` splits a record at a
//! few hundred MB/s, byte by byte through its state machine; this skips to the next delimiter,
//! line end or quote, about twice as fast on the benchmark's rows (see BENCHMARKS.md).

use super::pieces::{Cut, Cutter};
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

/// Where records end by the fast path's rules, found without splitting fields (so that a piece
/// of a file starts exactly where the file's own reader would start its next record): a line
/// feed outside quotes ends a record, and so does a CR right after a closing quote; a quote opens
/// a quoted field only at a field's start, and a doubled one inside is a quote. Lines are counted
/// as the reader counts them: every line feed, and a record's lone CR end.
pub struct RecordEnds {
    pub delimiter: u8,
    pub quote: Option<u8>,
}

/// Where the quoted field whose opening quote is at `open` ends, as `quoted` reads it: the
/// offset after its closing quote; `None` when the text ends before it is closed (or before what
/// follows its last quote is known).
fn quoted_end(text: &[u8], open: usize, q: u8, eof: bool) -> Option<usize> {
    let mut from = open + 1;
    loop {
        let at = from + memchr(q, &text[from..])?;
        match text.get(at + 1) {
            Some(&next) if next == q => from = at + 2,
            None if !eof => return None,
            _ => return Some(at + 1),
        }
    }
}

impl Cutter for RecordEnds {
    fn cut(&mut self, text: &[u8], want: usize, eof: bool) -> Cut {
        let len = text.len();
        let (d, q) = (self.delimiter, self.quote);
        let mut pos = 0;
        // Records that ended at a lone CR, which counts as a line of its own.
        let mut crs = 0u64;
        // Where the record being scanned starts (before any CRs the reader skips).
        let mut record = 0;
        // The end of the last whole record, and the lone CR ends before it.
        let mut whole = (0, 0);
        loop {
            let next = match q {
                Some(q) => memchr2(b'\n', q, &text[pos..]),
                None => memchr(b'\n', &text[pos..]),
            };
            let Some(k) = next else {
                if eof && len > record {
                    whole = (len, crs);
                }
                break;
            };
            let at = pos + k;
            if text[at] == b'\n' {
                pos = at + 1;
                record = pos;
                whole = (pos, crs);
                if pos >= want {
                    break;
                }
                continue;
            }
            let field_start = match at.checked_sub(1) {
                None => true,
                Some(before) => text[before] == d || text[record..at].iter().all(|&c| c == b'\r'),
            };
            if !field_start {
                pos = at + 1;
                continue;
            }
            let Some(after) = quoted_end(text, at, text[at], eof) else {
                if eof && whole.0 == 0 {
                    return Cut::Stop;
                }
                break;
            };
            pos = after;
            if text.get(pos) == Some(&b'\r') {
                match text.get(pos + 1) {
                    Some(b'\n') => {}
                    None if !eof => break,
                    _ => {
                        crs += 1;
                        pos += 1;
                        record = pos;
                        whole = (pos, crs);
                        if pos >= want {
                            break;
                        }
                    }
                }
            }
        }
        match whole {
            (0, _) => Cut::Short,
            (end, crs) => {
                let newlines = memchr::memchr_iter(b'\n', &text[..end]).count() as u64;
                Cut::Whole {
                    end,
                    lines: newlines + crs,
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The places the file's reader is at a record's start when it reads all of `text`, with
    /// the lines it counted to there; the places after the first record it cannot split are
    /// unknown.
    fn starts(text: &[u8], d: u8, q: Option<u8>) -> Vec<(usize, u64)> {
        let (mut spans, mut quoted, mut out) = (Vec::new(), Vec::new(), Vec::new());
        let (mut pos, mut lines) = (0, 0);
        let mut at = vec![(0, 0)];
        loop {
            while pos < text.len() && (text[pos] == b'\n' || text[pos] == b'\r') {
                lines += u64::from(text[pos] == b'\n');
                pos += 1;
                at.push((pos, lines));
            }
            if pos == text.len() {
                return at;
            }
            let mut splitter = Splitter {
                delimiter: d,
                quote: q,
                eof: true,
                max_fields: 1000,
                spans: &mut spans,
                quoted: &mut quoted,
                out: &mut out,
            };
            match splitter.split(text, pos) {
                Split::Record { end, newlines } => {
                    lines += 1 + newlines;
                    pos = end;
                    at.push((pos, lines));
                }
                _ => return at,
            }
        }
    }

    #[test]
    fn record_ends_are_where_the_reader_starts_its_next_record() {
        let alphabet = b"a,\"\n\r\"a,";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cuts = 0;
        for case in 0..20_000 {
            let len = (next() % 40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let quote = (case % 5 != 0).then_some(b'"');
            let known = starts(&text, b',', quote);
            let last_known = known.last().map_or(0, |&(p, _)| p);
            let mut ends = RecordEnds {
                delimiter: b',',
                quote,
            };
            for cut_at in 0..=len {
                for (eof, upto) in [(false, cut_at), (true, len)] {
                    let want = 1 + cut_at % 7;
                    match ends.cut(&text[..upto], want, eof) {
                        // All of the text at its end is the rest of the file, read as one.
                        Cut::Whole { end, .. } if eof && end == len => {}
                        Cut::Whole { end, lines } => {
                            cuts += 1;
                            assert!(
                                known.contains(&(end, lines)),
                                "{:?} cut at {end} with {lines} lines, want {want}, eof {eof}: \
                             known {known:?}",
                                String::from_utf8_lossy(&text[..upto])
                            );
                        }
                        Cut::Stop => assert!(eof && last_known < len, "{text:?}"),
                        Cut::Short => {}
                    }
                }
            }
        }
        assert!(cuts > 100_000, "{cuts}");
    }
}
