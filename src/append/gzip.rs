//! Gzip files that grow by appended members: where the complete members end (a member still
//! being written ends nothing), and the text of a run of members, bounded.

use std::io::{self, BufRead, BufReader, Read};

/// The text of concatenated gzip members read from `raw`, at most `max` bytes of it.
pub fn decoder(raw: Box<dyn Read + Send>, max: u64) -> impl Read + Send {
    flate2::read::MultiGzDecoder::new(raw).take(max)
}

/// Where complete members end in `raw` (which starts at a member's start): the offsets, from
/// `raw`'s start, after each member whose text so far ends a line, and the text's lines. Stops
/// at the first member that is not complete (still being written) or not gzip.
pub fn line_ends(raw: impl Read, max: u64) -> (Vec<u64>, u64) {
    let mut reader = BufReader::with_capacity(64 * 1024, Counted { inner: raw, n: 0 });
    let (mut ends, mut lines, mut out, mut last) = (Vec::new(), 0u64, 0u64, b'\n');
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(_) => {}
        }
        let mut member = flate2::bufread::GzDecoder::new(&mut reader);
        let (mut member_lines, mut member_last) = (0u64, last);
        let complete = loop {
            match member.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    out += n as u64;
                    member_lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                    member_last = buf[n - 1];
                    if out > max {
                        break false;
                    }
                }
                Err(_) => break false,
            }
        };
        if !complete {
            break;
        }
        lines += member_lines;
        last = member_last;
        if last == b'\n' {
            let at = reader.get_ref().n - reader.buffer().len() as u64;
            ends.push(at);
        }
    }
    (ends, lines)
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn member(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn complete_members_that_end_a_line_are_places_to_stop() {
        let (a, b, c) = (member("x\n1\n"), member("2\n3"), member("\n4\n"));
        let mut all = [a.clone(), b.clone(), c.clone()].concat();
        let (ends, lines) = line_ends(&all[..], 1 << 20);
        let (la, lb) = (a.len() as u64, b.len() as u64);
        assert_eq!(ends, [la, la + lb + c.len() as u64]);
        assert_eq!(lines, 5);
        // A member still being written ends nothing.
        all.truncate(all.len() - 3);
        assert_eq!(line_ends(&all[..], 1 << 20).0, [la]);
        let mut text = String::new();
        decoder(Box::new(Cursor::new([a, b].concat())), 100)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "x\n1\n2\n3");
    }

    use std::io::Cursor;
}
