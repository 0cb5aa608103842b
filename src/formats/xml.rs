//! XML: the root element's children are records; a record's attributes and child elements are
//! its fields. A field whose element has children of its own is a list of their texts, and so
//! is a field element repeated within one record. Read as a stream of events with a bound on
//! how many bytes one record may span; no DTD or external entity is ever resolved.

use super::fields::FieldNames;
use super::{FieldSink, Limits, ReadError, RecordError, RecordSource};
use crate::value::Value;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use std::io::{self, BufReader, Read};

const INPUT_CHUNK: usize = 64 * 1024;

/// Stops reading once the parser would need more than `allowed` bytes, so that one huge element
/// cannot grow the parser's buffer without bound.
struct Allowance {
    inner: Box<dyn Read + Send>,
    read: u64,
    allowed: u64,
}

impl Read for Allowance {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read >= self.allowed {
            return Err(io::Error::other(TooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("record too long")]
struct TooLong;

/// One field value of the record being assembled: a span of `text`.
struct Part {
    field: usize,
    start: usize,
    end: usize,
    /// The field element has child elements: the parts that follow with `item` are its list.
    list: bool,
    item: bool,
    nil: bool,
}

pub struct XmlSource {
    reader: quick_xml::Reader<BufReader<Allowance>>,
    buf: Vec<u8>,
    names: FieldNames,
    text: String,
    parts: Vec<Part>,
    /// The part of the field element being read.
    head: Option<usize>,
    /// Nesting below the root: 0 between records, 1 in a record, 2 in a field, 3 in a list item.
    depth: usize,
    /// Line of the next event's first byte.
    line: u64,
    record_line: u64,
    record: u64,
    problem: Option<String>,
    max_record_bytes: usize,
    done: bool,
}

fn field_name<'a>(e: &'a BytesStart<'_>) -> &'a str {
    e.name().into_inner()
}

fn entity(r: &BytesRef<'_>) -> Result<char, String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Ok(c);
    }
    match quick_xml::escape::resolve_predefined_entity(r) {
        Some(s) => s.chars().next().ok_or_else(|| "empty entity".to_owned()),
        None => Err(format!("unknown entity &{};", &**r)),
    }
}

impl XmlSource {
    /// Opens a reader; `transcoded` says the text was decoded to UTF-8 from the encoding its
    /// declaration (or its route, or its byte order mark) named, which the declaration then
    /// no longer describes.
    pub fn new(
        input: Box<dyn Read + Send>,
        limits: Limits,
        transcoded: bool,
    ) -> Result<XmlSource, ReadError> {
        let reader = BufReader::with_capacity(
            INPUT_CHUNK,
            Allowance {
                inner: input,
                read: 0,
                allowed: 0,
            },
        );
        let mut src = XmlSource {
            reader: quick_xml::Reader::from_reader(reader),
            buf: Vec::new(),
            names: FieldNames::default(),
            text: String::new(),
            parts: Vec::new(),
            head: None,
            depth: 0,
            line: 1,
            record_line: 1,
            record: 0,
            problem: None,
            max_record_bytes: limits.max_record_bytes,
            done: false,
        };
        src.allow_from_here();
        src.read_to_root(transcoded)?;
        Ok(src)
    }

    fn allow_from_here(&mut self) {
        let limit =
            self.reader.buffer_position() + self.max_record_bytes as u64 + 2 * INPUT_CHUNK as u64;
        self.reader.get_mut().get_mut().allowed = limit;
    }

    fn error(line: u64, reason: impl Into<String>) -> ReadError {
        ReadError::File {
            line: Some(line),
            reason: reason.into(),
        }
    }

    /// Reads the next event into `buf`, counting its lines.
    fn next_event<'b>(&mut self, buf: &'b mut Vec<u8>) -> Result<Event<'b>, ReadError> {
        buf.clear();
        let line = self.line;
        match self.reader.read_event_into(buf) {
            Ok(ev) => {
                self.line += ev.bytes().filter(|&b| b == b'\n').count() as u64;
                Ok(ev)
            }
            Err(quick_xml::Error::Io(e)) if e.get_ref().is_some_and(|r| r.is::<TooLong>()) => {
                Err(ReadError::File {
                    line: Some(line),
                    reason: format!("record is longer than {} bytes", self.max_record_bytes),
                })
            }
            Err(quick_xml::Error::Io(e)) => Err(ReadError::io(&e, Some(line))),
            Err(e) => Err(ReadError::File {
                line: Some(line),
                reason: format!("malformed XML: {e}"),
            }),
        }
    }

    /// Skips the prolog up to and into the root element.
    fn read_to_root(&mut self, transcoded: bool) -> Result<(), ReadError> {
        let mut empty = true;
        let mut buf = Vec::new();
        loop {
            let line = self.line;
            let ev = self.next_event(&mut buf)?;
            let blank = ev.trim_ascii().is_empty();
            let encoding = match &ev {
                Event::Decl(d) if !transcoded => {
                    d.encoding().and_then(Result::ok).map(|e| e.into_owned())
                }
                _ => None,
            };
            let root_state = match ev {
                Event::Start(_) => Some(false),
                Event::Empty(_) => Some(true),
                Event::Eof if empty => {
                    return Err(ReadError::file("the file is empty; expected XML"));
                }
                Event::Eof => return Err(Self::error(line, "no root element")),
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if !blank => {
                    return Err(Self::error(line, "not XML: text before the root element"));
                }
                _ => None,
            };
            empty = false;
            if let Some(enc) = encoding
                && !enc.eq_ignore_ascii_case("utf-8")
                && !enc.eq_ignore_ascii_case("utf8")
            {
                return Err(Self::error(
                    line,
                    format!("XML encoding {enc} is not supported; files must be UTF-8"),
                ));
            }
            match root_state {
                Some(self_closing) => {
                    self.done = self_closing;
                    return Ok(());
                }
                None => continue,
            }
        }
    }

    /// After the root element: only comments and whitespace may follow.
    fn read_epilog(&mut self) -> Result<(), ReadError> {
        let mut buf = Vec::new();
        loop {
            let line = self.line;
            let ev = self.next_event(&mut buf)?;
            let blank = ev.trim_ascii().is_empty();
            match ev {
                Event::Eof => return Ok(()),
                Event::Start(_) | Event::Empty(_) => {
                    return Err(Self::error(line, "more than one root element"));
                }
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if !blank => {
                    return Err(Self::error(line, "text after the root element"));
                }
                _ => {}
            }
        }
    }

    fn start_record(&mut self, e: &BytesStart<'_>, line: u64) -> Result<(), ReadError> {
        self.text.clear();
        self.parts.clear();
        self.problem = None;
        self.record_line = line;
        for attr in e.attributes() {
            let attr = match attr {
                Ok(a) => a,
                Err(err) => {
                    return Err(Self::error(line, format!("malformed XML attribute: {err}")));
                }
            };
            let name = attr.key.into_inner();
            if name == "xmlns" || name.starts_with("xmlns:") {
                continue;
            }
            let value = match attr.normalized_value(XmlVersion::Implicit1_0) {
                Ok(v) => v,
                Err(err) => {
                    self.problem = Some(format!("attribute {name}: {err}"));
                    continue;
                }
            };
            let field = self.names.index_of(name)?;
            let start = self.text.len();
            self.text.push_str(&value);
            self.parts.push(Part {
                field,
                start,
                end: self.text.len(),
                list: false,
                item: false,
                nil: false,
            });
        }
        Ok(())
    }

    /// Registers a field element (or, with `item`, a child of the current field).
    fn start_part(&mut self, e: &BytesStart<'_>, item: bool) -> Result<(), ReadError> {
        let field = match (item, self.head) {
            (true, Some(h)) => self.parts[h].field,
            _ => self.names.index_of(field_name(e))?,
        };
        if item {
            self.open_list();
        }
        let nil = e
            .attributes()
            .flatten()
            .any(|a| a.key.local_name().into_inner() == "nil" && a.value.trim() == "true");
        let start = self.text.len();
        self.parts.push(Part {
            field,
            start,
            end: start,
            list: false,
            item,
            nil,
        });
        if !item {
            self.head = Some(self.parts.len() - 1);
        }
        Ok(())
    }

    fn end_part(&mut self) {
        let end = self.text.len();
        if let Some(p) = self.parts.last_mut() {
            p.end = end;
        }
    }

    /// The current field got a child element: it is a list, and its own text must be blank.
    fn open_list(&mut self) {
        let Some(h) = self.head else { return };
        let head = &mut self.parts[h];
        if !head.list {
            if !self.text[head.start..].trim().is_empty() {
                self.problem = Some("text mixed with child elements in a field".to_owned());
            }
            self.text.truncate(head.start);
            head.list = true;
        }
    }

    fn push_text(&mut self, text: &str) {
        let in_list_head = self.depth == 2 && self.head.is_some_and(|h| self.parts[h].list);
        if self.depth == 1 || in_list_head {
            if !text.trim().is_empty() {
                self.problem = Some(match in_list_head {
                    true => "text mixed with child elements in a field".to_owned(),
                    false => "text directly inside a record, outside its fields".to_owned(),
                });
            }
        } else if self.depth <= 3 {
            self.text.push_str(text);
        }
    }

    /// Hands the assembled record to `sink`, one value per field.
    fn emit(&mut self, sink: &mut dyn FieldSink) -> Result<(), ReadError> {
        let record = self.record;
        self.record += 1;
        let line = Some(self.record_line);
        let fail = |column: Option<&str>, reason: String| {
            ReadError::Record(RecordError {
                line,
                record,
                column: column.map(str::to_owned),
                reason,
            })
        };
        if let Some(p) = self.problem.take() {
            return Err(fail(None, p));
        }
        let mut order: Vec<usize> = (0..self.parts.len()).collect();
        order.sort_by_key(|&i| self.parts[i].field);
        for group in order.chunk_by(|&a, &b| self.parts[a].field == self.parts[b].field) {
            let field = self.parts[group[0]].field;
            let name = &self.names.names()[field];
            let span = |p: &Part| Value::Text(&self.text.as_bytes()[p.start..p.end]);
            let heads: Vec<&Part> = group
                .iter()
                .map(|&i| &self.parts[i])
                .filter(|p| !p.item)
                .collect();
            let value = match heads.as_slice() {
                [h] if h.nil => Value::Null,
                [h] if h.list => Value::List(
                    group
                        .iter()
                        .map(|&i| &self.parts[i])
                        .filter(|p| p.item)
                        .map(span)
                        .collect(),
                ),
                [h] => span(h),
                many if many.iter().all(|p| !p.list && !p.nil) => {
                    Value::List(many.iter().map(|p| span(p)).collect())
                }
                _ => {
                    return Err(fail(
                        Some(name),
                        format!("element <{name}> appears more than once"),
                    ));
                }
            };
            sink.field(field, name, value)
                .map_err(|e| fail(Some(name), e.0))?;
        }
        Ok(())
    }

    /// Handles one event inside the root; `Some` once a record is complete or the root ends.
    fn step(
        &mut self,
        ev: Event<'_>,
        line: u64,
        sink: &mut dyn FieldSink,
    ) -> Result<Option<bool>, ReadError> {
        let blank = ev.trim_ascii().is_empty();
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(e) | Event::Empty(e) if self.depth == 0 => {
                self.start_record(&e, line)?;
                self.depth = 1;
                if empty {
                    self.depth = 0;
                    return self.emit(sink).map(|()| Some(true));
                }
            }
            Event::Start(e) | Event::Empty(e) if self.depth <= 2 => {
                self.start_part(&e, self.depth == 2)?;
                if empty {
                    self.end_part();
                } else {
                    self.depth += 1;
                }
            }
            Event::Start(_) => {
                self.problem = Some("elements nested more than three levels below the root".into());
                self.depth += 1;
            }
            Event::Empty(_) => {
                self.problem = Some("elements nested more than three levels below the root".into());
            }
            Event::End(_) => match self.depth {
                0 => {
                    self.read_epilog()?;
                    self.done = true;
                    return Ok(Some(false));
                }
                1 => {
                    self.depth = 0;
                    return self.emit(sink).map(|()| Some(true));
                }
                d => {
                    if d <= 3 {
                        self.end_part();
                    }
                    if d == 2 {
                        self.head = None;
                    }
                    self.depth -= 1;
                }
            },
            Event::Text(t) => {
                if self.depth == 0 && !blank {
                    return Err(Self::error(line, "text between records"));
                }
                self.push_text(&t.xml10_content());
            }
            Event::CData(t) => {
                if self.depth == 0 && !blank {
                    return Err(Self::error(line, "text between records"));
                }
                self.push_text(&t.xml10_content());
            }
            Event::GeneralRef(r) => match entity(&r) {
                Ok(c) => self.push_text(c.encode_utf8(&mut [0; 4])),
                Err(e) => self.problem = Some(e),
            },
            Event::Eof => {
                return Err(Self::error(
                    line,
                    "the XML is not closed (a truncated file?)",
                ));
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
        }
        Ok(None)
    }
}

impl RecordSource for XmlSource {
    fn fields(&self) -> &[String] {
        self.names.names()
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        if self.done {
            return Ok(false);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            if self.depth == 0 {
                self.allow_from_here();
            }
            let line = self.line;
            let ev = match self.next_event(&mut buf) {
                Ok(ev) => ev,
                Err(e) => break Err(e),
            };
            match self.step(ev, line, sink) {
                Ok(None) => {}
                Ok(Some(more)) => break Ok(more),
                Err(e) => break Err(e),
            }
        };
        self.buf = buf;
        if matches!(result, Err(ReadError::File { .. })) {
            self.done = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ConvError;

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl FieldSink for Collect {
        fn field(&mut self, _: usize, name: &str, value: Value<'_>) -> Result<(), ConvError> {
            let shown = match value {
                Value::List(items) => {
                    let items: Vec<String> = items.iter().map(|v| v.preview(20)).collect();
                    format!("[{}]", items.join("|"))
                }
                other => other.preview(20),
            };
            self.0.push(format!("{name}={shown}"));
            Ok(())
        }
    }

    fn read(data: &str, limits: Limits) -> (Vec<String>, Vec<String>) {
        let input = Box::new(std::io::Cursor::new(data.as_bytes().to_vec()));
        let mut src = match XmlSource::new(input, limits, false) {
            Ok(s) => s,
            Err(e) => return (Vec::new(), vec![e.describe("f.xml")]),
        };
        let mut sink = Collect::default();
        let mut errors = Vec::new();
        loop {
            match src.next_record(&mut sink) {
                Ok(true) => sink.0.push("/".into()),
                Ok(false) => break,
                Err(e @ ReadError::Record(_)) => errors.push(e.describe("f.xml")),
                Err(e) => {
                    errors.push(e.describe("f.xml"));
                    break;
                }
            }
        }
        (sink.0, errors)
    }

    #[test]
    fn attributes_and_child_elements_are_fields() {
        let (fields, errors) = read(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- export -->
<rows xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <row id="1" xmlns:x="urn:x"><name>A &amp; B &#x41;</name><note><![CDATA[<raw>]]></note></row>
  <row id="2">
    <name/>
    <tags><t>a</t><t>b</t></tags>
    <tag>x</tag><tag>y</tag>
    <n xsi:nil="true"/>
  </row>
  <row id="3"/>
</rows>
"#,
            Limits::default(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            fields,
            [
                "id=1",
                "name=A & B A",
                "note=<raw>",
                "/",
                "id=2",
                "name=",
                "tags=[a|b]",
                "tag=[x|y]",
                "n=null",
                "/",
                "id=3",
                "/"
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_and_a_doctype_are_skipped() {
        let (fields, errors) = read(
            "\u{feff}<!DOCTYPE r [<!ENTITY big \"x\">]>\n<r><a><x>&big;</x></a><a><x>1</x></a></r>",
            Limits::default(),
        );
        assert_eq!(fields, ["x=1", "/"]);
        assert_eq!(errors, ["f.xml:2: unknown entity &big;"]);
    }

    #[test]
    fn bad_records_name_their_line_and_reading_goes_on() {
        let (fields, errors) = read(
            "<r>\n<a><x><y><z>1</z></y></x></a>\n<a>text<x>1</x></a>\n<a><x>&nope;</x></a>\n<a><x>ok</x></a>\n</r>",
            Limits::default(),
        );
        assert_eq!(fields, ["x=ok", "/"]);
        assert_eq!(
            errors,
            [
                "f.xml:2: elements nested more than three levels below the root",
                "f.xml:3: text directly inside a record, outside its fields",
                "f.xml:4: unknown entity &nope;",
            ]
        );
    }

    #[test]
    fn broken_documents_are_file_errors() {
        let err = |d: &str| read(d, Limits::default()).1;
        assert_eq!(err(""), ["f.xml: the file is empty; expected XML"]);
        assert_eq!(
            err("id,name\n1,a\n"),
            ["f.xml:1: not XML: text before the root element"]
        );
        assert_eq!(
            err("<r>\n<a><x>1</x></a>\n<a><x>2</x>"),
            ["f.xml:3: the XML is not closed (a truncated file?)"]
        );
        let mismatched = err("<r>\n<a><x>1</y></a></r>");
        assert!(
            mismatched[0].starts_with("f.xml:2: malformed XML: "),
            "{mismatched:?}"
        );
        assert_eq!(
            err("<r><a><x>1</x></a></r><r/>"),
            ["f.xml:1: more than one root element"]
        );
        assert_eq!(
            err("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>"),
            ["f.xml:1: XML encoding ISO-8859-1 is not supported; files must be UTF-8"]
        );
    }

    #[test]
    fn records_are_bounded() {
        let data = format!("<r><a><x>{}</x></a></r>", "y".repeat(400_000));
        let limits = Limits {
            max_record_bytes: 1000,
            ..Limits::default()
        };
        assert_eq!(
            read(&data, limits).1,
            ["f.xml:1: record is longer than 1000 bytes"]
        );
    }
}
