//! Text in any encoding made UTF-8 before a format reader sees it: a byte order mark decides
//! (UTF-8, UTF-16 LE or BE), else the route's encoding (any WHATWG label), else, for XML, the
//! document's declaration. Bytes the encoding does not allow are an error naming their line.

use super::decompress::peek;
use super::{Format, ReadError};
use encoding_rs::{Decoder, DecoderResult, Encoding, UTF_8};
use std::io::{self, Read};

const CHUNK: usize = 64 * 1024;

/// Bytes that are not text in the file's encoding, carried inside `io::Error` to the reader.
#[derive(Debug, thiserror::Error)]
#[error(
    "bytes that are not valid {encoding} text (set the route's `encoding` if the file is in another one)"
)]
pub struct Malformed {
    /// 1-based line of the decoded text the bad bytes are on.
    pub line: u64,
    pub encoding: &'static str,
}

impl Malformed {
    pub fn find(err: &io::Error) -> Option<&Malformed> {
        err.get_ref()?.downcast_ref()
    }
}

/// How a file's text was decoded, for the dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoding {
    pub encoding: &'static Encoding,
    /// Told by a byte order mark (rather than the route or the default).
    pub by_bom: bool,
}

impl Decoding {
    /// UTF-8 without a byte order mark: what every file is unless it says otherwise.
    pub fn default_utf8() -> Decoding {
        Decoding {
            encoding: UTF_8,
            by_bom: false,
        }
    }

    pub fn describe(&self) -> String {
        let name = self.encoding.name().to_ascii_lowercase();
        match self.by_bom {
            true => format!("{name} (BOM)"),
            false => name,
        }
    }
}

/// The XML declaration's encoding, if the document starts with one that names a known label.
fn declared(head: &[u8]) -> Option<&'static Encoding> {
    let decl = head.strip_prefix(b"<?xml")?;
    let end = decl.windows(2).position(|w| w == b"?>")?;
    let decl = &decl[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = decl[at + 8..].trim_ascii_start().strip_prefix(b"=")?;
    let rest = rest.trim_ascii_start();
    let quote = *rest.first().filter(|q| matches!(q, b'"' | b'\''))?;
    let value = &rest[1..];
    let close = value.iter().position(|&c| c == quote)?;
    Encoding::for_label(&value[..close])
}

/// The file's text as UTF-8 (a UTF-8 byte order mark removed), and how it was decoded. Text
/// that is UTF-8 already passes through untouched: the readers check it as they go.
pub fn decoded(
    reader: Box<dyn Read + Send>,
    format: Format,
    encoding: Option<&'static Encoding>,
) -> Result<(Box<dyn Read + Send>, Decoding), ReadError> {
    let (head, mut reader) = peek(reader, 256).map_err(|e| ReadError::io(&e, None))?;
    let (encoding, by_bom) = match Encoding::for_bom(&head) {
        Some((enc, bom)) => {
            let mut skip = [0u8; 3];
            reader
                .read_exact(&mut skip[..bom])
                .map_err(|e| ReadError::io(&e, None))?;
            (enc, true)
        }
        None => {
            let from_xml = match format {
                Format::Xml if encoding.is_none() => declared(&head),
                _ => None,
            };
            (encoding.or(from_xml).unwrap_or(UTF_8), false)
        }
    };
    let decoding = Decoding { encoding, by_bom };
    if encoding == UTF_8 {
        return Ok((reader, decoding));
    }
    let transcode = Transcode {
        inner: reader,
        decoder: encoding.new_decoder_without_bom_handling(),
        name: encoding.name(),
        raw: vec![0; CHUNK],
        raw_start: 0,
        raw_end: 0,
        eof: false,
        done: false,
        out: vec![0; CHUNK * 3],
        out_start: 0,
        out_end: 0,
        line: 1,
    };
    Ok((Box::new(transcode), decoding))
}

/// Decodes its input to UTF-8 chunk by chunk, refusing malformed bytes.
struct Transcode {
    inner: Box<dyn Read + Send>,
    decoder: Decoder,
    name: &'static str,
    raw: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    eof: bool,
    done: bool,
    out: Vec<u8>,
    out_start: usize,
    out_end: usize,
    /// Line of the decoded text at `out_end`.
    line: u64,
}

impl Transcode {
    /// Decodes more input into the emptied output buffer.
    fn decode_more(&mut self) -> io::Result<()> {
        self.out_start = 0;
        self.out_end = 0;
        while self.out_end == 0 && !self.done {
            if self.raw_start == self.raw_end && !self.eof {
                self.raw_start = 0;
                self.raw_end = loop {
                    match self.inner.read(&mut self.raw) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                self.eof = self.raw_end == 0;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.raw[self.raw_start..self.raw_end],
                &mut self.out,
                self.eof,
            );
            self.raw_start += read;
            self.out_end = written;
            let produced = &self.out[..written];
            let newlines = memchr::memchr_iter(b'\n', produced).count() as u64;
            match result {
                DecoderResult::Malformed(..) => {
                    return Err(io::Error::other(Malformed {
                        line: self.line + newlines,
                        encoding: self.name,
                    }));
                }
                DecoderResult::InputEmpty if self.eof => self.done = true,
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {}
            }
            self.line += newlines;
        }
        Ok(())
    }
}

impl Read for Transcode {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_start == self.out_end {
            self.decode_more()?;
        }
        let n = buf.len().min(self.out_end - self.out_start);
        buf[..n].copy_from_slice(&self.out[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], format: Format, enc: Option<&str>) -> Result<(String, String), String> {
        let enc = enc.map(|l| Encoding::for_label(l.as_bytes()).unwrap());
        let (mut r, d) = decoded(Box::new(io::Cursor::new(bytes.to_vec())), format, enc)
            .map_err(|e| e.describe("f"))?;
        let mut out = String::new();
        r.read_to_string(&mut out)
            .map_err(|e| ReadError::io(&e, None).describe("f"))?;
        Ok((out, d.describe()))
    }

    #[test]
    fn byte_order_marks_decide() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFa,b\n", Format::Csv, Some("latin1")).unwrap(),
            ("a,b\n".into(), "utf-8 (BOM)".into())
        );
        assert_eq!(
            decode(b"\xFF\xFEa\0,\0\xE9\0", Format::Csv, None).unwrap(),
            ("a,é".into(), "utf-16le (BOM)".into())
        );
        assert_eq!(
            decode(b"\xFE\xFF\0a\0,\0\xE9", Format::Csv, None).unwrap(),
            ("a,é".into(), "utf-16be (BOM)".into())
        );
    }

    #[test]
    fn a_route_names_a_legacy_encoding() {
        assert_eq!(
            decode(b"caf\xE9 \x80", Format::Csv, Some("windows-1252")).unwrap(),
            ("café €".into(), "windows-1252".into())
        );
        assert_eq!(
            decode(b"plain", Format::Csv, None).unwrap(),
            ("plain".into(), "utf-8".into())
        );
    }

    #[test]
    fn an_xml_declaration_is_honoured() {
        let doc = b"<?xml version='1.0' encoding=\"ISO-8859-1\"?><r><a>\xE9</a></r>";
        let (text, how) = decode(doc, Format::Xml, None).unwrap();
        assert!(text.ends_with("<a>é</a></r>"), "{text}");
        assert_eq!(how, "windows-1252");
    }

    #[test]
    fn malformed_bytes_name_their_line() {
        // An unpaired surrogate on line 2.
        let err = decode(b"\xFF\xFEa\0\n\0\x00\xD8b\0", Format::Csv, None).unwrap_err();
        assert_eq!(
            err,
            "f:2: bytes that are not valid UTF-16LE text (set the route's `encoding` if the \
             file is in another one)"
        );
    }
}
