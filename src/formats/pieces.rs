//! A text file's records cut into pieces of whole records (`--jobs` above 1), each read by a copy
//! of the file's reader on another thread. Where the cut cannot be sure of a record's end (a
//! quote left open, an over-long record, a failed read), the rest of the file is one last piece,
//! read as one reader would read it: the pieces' readers see exactly the records, lines and
//! errors the file's own reader would have.

use super::RecordSource;
use std::io::{self, Cursor, Read};

/// Bytes a piece holds at least, but at the end of the file.
pub const PIECE_BYTES: usize = 1 << 20;

/// Some of a file's text, starting at a record's start.
pub struct Piece {
    pub text: PieceText,
    /// The file's line number at the piece's first byte.
    pub first_line: u64,
}

pub enum PieceText {
    /// Whole records.
    Bytes(Vec<u8>),
    /// The rest of the file, whatever it holds.
    Rest(Box<dyn Read + Send>),
}

impl PieceText {
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        match self {
            PieceText::Bytes(b) => Box::new(Cursor::new(b)),
            PieceText::Rest(r) => r,
        }
    }
}

/// Where whole records end in a format's text.
pub enum Cut {
    /// The records in the first `end` bytes are whole, and span `lines` lines.
    Whole { end: usize, lines: u64 },
    /// No record ends in the text yet: more is needed.
    Short,
    /// From here on, only reading record by record can tell.
    Stop,
}

/// Finds record ends for one format.
pub trait Cutter: Send {
    /// Where the whole records in `text` end (the first ones making at least `want` bytes, if
    /// there are that many); `eof`: nothing follows `text`.
    fn cut(&mut self, text: &[u8], want: usize, eof: bool) -> Cut;
}

/// Opens a reader of one piece with the settings the file's own reader found.
pub trait Forks: Send + Sync {
    fn open(&self, piece: Piece) -> Box<dyn RecordSource>;
}

/// What a reader hands over to be read in pieces: the cutter and the readers' maker.
pub struct Split {
    pub pieces: Pieces,
    pub forks: Box<dyn Forks>,
}

/// A file's text from where its reader stopped, cut into pieces.
pub struct Pieces {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    len: usize,
    eof: bool,
    line: u64,
    cutter: Box<dyn Cutter>,
    max_record_bytes: usize,
    done: bool,
}

impl Pieces {
    /// Pieces of `input`, after `buffered` bytes its reader had read ahead, from line `line`.
    pub fn new(
        buffered: &[u8],
        input: Box<dyn Read + Send>,
        line: u64,
        cutter: Box<dyn Cutter>,
        max_record_bytes: usize,
    ) -> Pieces {
        let mut buf = buffered.to_vec();
        let len = buf.len();
        buf.resize(len.max(PIECE_BYTES * 2), 0);
        Pieces {
            input,
            buf,
            len,
            eof: false,
            line,
            cutter,
            max_record_bytes,
            done: false,
        }
    }

    /// The rest of the file as one piece.
    fn rest(&mut self, failed: Option<io::Error>) -> Piece {
        self.done = true;
        let held = Cursor::new(self.buf[..self.len].to_vec());
        let input = std::mem::replace(&mut self.input, Box::new(io::empty()));
        let text: Box<dyn Read + Send> = match failed {
            Some(e) => Box::new(held.chain(Failing(Some(e)))),
            None => Box::new(held.chain(input)),
        };
        Piece {
            text: PieceText::Rest(text),
            first_line: self.line,
        }
    }

    /// Reads until `want` bytes are held or the input ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.len < want && !self.eof {
            match self.input.read(&mut self.buf[self.len..want]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Iterator for Pieces {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        let mut want = PIECE_BYTES;
        loop {
            if self.done {
                return None;
            }
            if let Err(e) = self.fill(want) {
                return Some(self.rest(Some(e)));
            }
            if self.len == 0 && self.eof {
                return None;
            }
            match self
                .cutter
                .cut(&self.buf[..self.len], PIECE_BYTES, self.eof)
            {
                Cut::Whole { end, lines } if end > 0 => {
                    let mut rest = Vec::with_capacity(self.buf.len());
                    rest.extend_from_slice(&self.buf[end..self.len]);
                    let mut piece = std::mem::replace(&mut self.buf, rest);
                    piece.truncate(end);
                    self.len -= end;
                    let first_line = self.line;
                    self.line += lines;
                    return Some(Piece {
                        text: PieceText::Bytes(piece),
                        first_line,
                    });
                }
                Cut::Short if !self.eof && self.len < self.max_record_bytes + PIECE_BYTES => {
                    want = (want * 2).min(self.max_record_bytes + PIECE_BYTES);
                    want = want.max(self.len + 1);
                }
                _ => return Some(self.rest(None)),
            }
        }
    }
}

/// A read that fails where the file's read failed.
struct Failing(Option<io::Error>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// Lines of text: records end at a line feed (JSON Lines).
pub struct Lines;

impl Cutter for Lines {
    fn cut(&mut self, text: &[u8], _: usize, eof: bool) -> Cut {
        let end = match memchr::memrchr(b'\n', text) {
            _ if eof => text.len(),
            Some(i) => i + 1,
            None => return Cut::Short,
        };
        let lines = memchr::memchr_iter(b'\n', &text[..end]).count() as u64;
        Cut::Whole { end, lines }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut_all(text: &[u8], max_record_bytes: usize) -> Vec<(Option<Vec<u8>>, u64)> {
        let input = Box::new(Cursor::new(text.to_vec()));
        Pieces::new(b"", input, 1, Box::new(Lines), max_record_bytes)
            .map(|p| match p.text {
                PieceText::Bytes(b) => (Some(b), p.first_line),
                PieceText::Rest(mut r) => {
                    let mut rest = Vec::new();
                    r.read_to_end(&mut rest).unwrap();
                    assert_eq!(&rest[..], &text[text.len() - rest.len()..]);
                    (None, p.first_line)
                }
            })
            .collect()
    }

    #[test]
    fn lines_are_cut_after_a_line_feed_and_keep_every_byte() {
        let line = b"{\"a\":1}\n".repeat(PIECE_BYTES / 8 * 3 + 5);
        let mut text = line.clone();
        text.extend_from_slice(b"{\"last\":true}");
        let pieces = cut_all(&text, 16 << 20);
        let joined: Vec<u8> = pieces
            .iter()
            .flat_map(|(b, _)| b.clone().unwrap())
            .collect();
        assert_eq!(joined, text);
        assert!(pieces.len() >= 3);
        let mut line_no = 1;
        for (bytes, first) in &pieces {
            let bytes = bytes.as_ref().unwrap();
            assert_eq!(*first, line_no);
            assert!(bytes.ends_with(b"\n") || bytes.ends_with(b"}"));
            line_no += memchr::memchr_iter(b'\n', bytes).count() as u64;
        }
    }

    #[test]
    fn a_line_longer_than_the_limit_leaves_the_rest_to_one_reader() {
        let mut text = b"{\"a\":1}\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 3 * PIECE_BYTES));
        let pieces = cut_all(&text, 1000);
        assert_eq!(pieces, [(Some(b"{\"a\":1}\n".to_vec()), 1), (None, 2)]);
    }

    #[test]
    fn a_failed_read_is_met_where_it_happened() {
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(b'\n');
                self.0 -= n;
                Ok(n)
            }
        }
        let mut pieces = Pieces::new(b"", Box::new(Broken(10)), 1, Box::new(Lines), 1 << 20);
        let Some(Piece {
            text: PieceText::Rest(mut r),
            first_line: 1,
        }) = pieces.next()
        else {
            panic!("expected the rest as one piece");
        };
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.to_string(), "disk");
        assert_eq!(got, vec![b'\n'; 10]);
        assert!(pieces.next().is_none());
    }
}
