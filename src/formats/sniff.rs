//! Deciding the parts of a CSV dialect a route leaves unset from the start of the file, as
//! DuckDB's sniffer does: the delimiter the first record splits on and every record agrees with,
//! the quote fields open with, and whether the first record is a header. What the start of the
//! file cannot settle is an error asking for the setting, never a guess.

use super::options::{DialectSettings, Escape, show_byte};

/// Delimiters tried when a route names none.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records of the sample that are looked at to tell delimiters apart…
const SAMPLE_RECORDS: usize = 100;
/// …and to tell a header.
const HEADER_RECORDS: usize = 20;

/// A dialect with every part decided, and which parts the sniffer decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: Option<u8>,
    pub escape: Escape,
    pub header: bool,
    pub comment: Option<u8>,
    pub trailing_delimiter: bool,
    pub sniffed_delimiter: bool,
    pub sniffed_quote: bool,
    /// `Some(true)`: the header was sniffed; `Some(false)`: the file could not tell, and one was
    /// assumed; `None`: the route said.
    pub sniffed_header: Option<bool>,
}

impl Dialect {
    /// The dialect as the dry run shows it.
    pub fn describe(&self) -> String {
        let mark = |sniffed: bool| if sniffed { " (sniffed)" } else { "" };
        let mut parts = vec![format!(
            "delimiter {}{}",
            show_byte(self.delimiter),
            mark(self.sniffed_delimiter)
        )];
        match self.quote {
            Some(q) => parts.push(format!(
                "quote {}{}",
                show_byte(q),
                mark(self.sniffed_quote)
            )),
            None => parts.push("no quoting".to_owned()),
        }
        if self.escape == Escape::Backslash {
            parts.push("backslash escapes".to_owned());
        }
        let header = if self.header { "header" } else { "no header" };
        parts.push(match self.sniffed_header {
            Some(true) => format!("{header} (sniffed)"),
            Some(false) => format!("{header} (assumed)"),
            None => header.to_owned(),
        });
        if let Some(c) = self.comment {
            parts.push(format!("comments {}", show_byte(c)));
        }
        if self.trailing_delimiter {
            parts.push("trailing delimiter".to_owned());
        }
        parts.join(", ")
    }
}

/// Builds a `csv-core` reader for a dialect.
pub fn core_reader(
    delimiter: u8,
    quote: Option<u8>,
    escape: Escape,
    comment: Option<u8>,
) -> csv_core::Reader {
    let mut b = csv_core::ReaderBuilder::new();
    b.delimiter(delimiter)
        .quoting(quote.is_some())
        .quote(quote.unwrap_or(b'"'))
        .comment(comment);
    if escape == Escape::Backslash {
        b.double_quote(false).escape(Some(b'\\'));
    }
    b.build()
}

/// The first `limit` records of `sample` split with a dialect, each as its fields; a record the
/// sample cuts off is left out unless the sample is the whole file.
fn records(
    sample: &[u8],
    mut reader: csv_core::Reader,
    whole: bool,
    limit: usize,
) -> Vec<Vec<Vec<u8>>> {
    use csv_core::ReadRecordResult as R;
    let mut out = Vec::new();
    let mut input = sample;
    let mut field = vec![0u8; 1024];
    let mut ends = vec![0usize; 64];
    let (mut nout, mut nends) = (0, 0);
    while out.len() < limit {
        let (res, nin, o, e) = reader.read_record(input, &mut field[nout..], &mut ends[nends..]);
        input = &input[nin..];
        nout += o;
        nends += e;
        let done = match res {
            R::Record => true,
            R::OutputFull => {
                field.resize(field.len() * 2, 0);
                false
            }
            R::OutputEndsFull => {
                ends.resize(ends.len() * 2, 0);
                false
            }
            R::InputEmpty if whole && input.is_empty() => {
                let (res, _, o, e) =
                    reader.read_record(&[], &mut field[nout..], &mut ends[nends..]);
                nout += o;
                nends += e;
                if res == R::Record {
                    out.push(split_fields(&field, &ends[..nends]));
                }
                break;
            }
            R::InputEmpty if whole => false,
            R::InputEmpty | R::End => break,
        };
        if done {
            out.push(split_fields(&field, &ends[..nends]));
            (nout, nends) = (0, 0);
        }
    }
    let _ = nout;
    out
}

fn split_fields(field: &[u8], ends: &[usize]) -> Vec<Vec<u8>> {
    let mut from = 0;
    ends.iter()
        .map(|&e| {
            let f = field[from..e].to_vec();
            from = e;
            f
        })
        .collect()
}

/// Whether a field looks like data rather than a column name: a number, a boolean or a date.
fn typed(value: &[u8]) -> bool {
    let v = value.trim_ascii();
    if v.is_empty() {
        return false;
    }
    if v.eq_ignore_ascii_case(b"true") || v.eq_ignore_ascii_case(b"false") {
        return true;
    }
    if let Ok(s) = std::str::from_utf8(v)
        && s.parse::<f64>().is_ok()
    {
        return true;
    }
    crate::convert::looks_temporal(v)
}

/// Whether the first record is a header: `Some(true)` when a column whose values are all data
/// starts with a name, `Some(false)` when every column is data from its first value on, `None`
/// when every column holds text (nothing tells).
fn header(records: &[Vec<Vec<u8>>]) -> Option<bool> {
    let (first, rest) = records.split_first()?;
    if rest.is_empty() {
        // One record: data if every field is, else the names of a file with no rows yet.
        return Some(!first.iter().all(|v| typed(v)));
    }
    let width = first.len();
    let mut typed_columns = 0;
    let mut named = false;
    for (col, name) in first.iter().enumerate().take(width) {
        let values: Vec<&[u8]> = rest
            .iter()
            .filter_map(|r| r.get(col))
            .map(Vec::as_slice)
            .filter(|v| !v.trim_ascii().is_empty())
            .collect();
        if values.is_empty() || !values.iter().all(|v| typed(v)) {
            continue;
        }
        typed_columns += 1;
        if !typed(name) {
            named = true;
        }
    }
    if named {
        return Some(true);
    }
    if typed_columns == width && first.iter().all(|v| typed(v)) {
        return Some(false);
    }
    None
}

/// Counts fields that open with `quote` right after a delimiter or at a line start.
fn openers(sample: &[u8], delimiter: u8, quote: u8) -> usize {
    sample
        .windows(2)
        .filter(|w| w[1] == quote && (w[0] == delimiter || w[0] == b'\n'))
        .count()
        + usize::from(sample.first() == Some(&quote))
}

/// Decides the dialect of a file starting with `sample` (`whole`: the sample is the whole file).
pub fn sniff(sample: &[u8], given: &DialectSettings, whole: bool) -> Result<Dialect, String> {
    let escape = given.escape.unwrap_or(Escape::Double);
    let comment = given.comment;
    let quote0 = given.quote.unwrap_or(Some(b'"'));
    let split = |d: u8, q: Option<u8>, limit: usize| {
        records(sample, core_reader(d, q, escape, comment), whole, limit)
    };
    let (delimiter, sniffed_delimiter) = match given.delimiter {
        Some(d) => (d, false),
        None => (pick_delimiter(sample, &split, quote0)?, true),
    };
    let (quote, sniffed_quote) = match given.quote {
        Some(q) => (q, false),
        None => {
            let single = openers(sample, delimiter, b'\'');
            let double = openers(sample, delimiter, b'"');
            match single > 0 && double == 0 {
                true => (Some(b'\''), true),
                false => (Some(b'"'), true),
            }
        }
    };
    // A quote that is the delimiter could split nothing: fields are then never quoted.
    let quote = quote.filter(|&q| q != delimiter);
    let (header, sniffed_header) = match given.header {
        Some(h) => (h, None),
        None => {
            let mut recs = split(delimiter, quote, HEADER_RECORDS);
            if given.trailing_delimiter {
                for r in &mut recs {
                    if r.last().is_some_and(|f| f.is_empty()) {
                        r.pop();
                    }
                }
            }
            match header(&recs) {
                Some(h) => (h, Some(true)),
                None => (true, Some(false)),
            }
        }
    };
    Ok(Dialect {
        delimiter,
        quote,
        escape,
        header,
        comment,
        trailing_delimiter: given.trailing_delimiter,
        sniffed_delimiter,
        sniffed_quote,
        sniffed_header,
    })
}

/// The delimiter: of the candidates the first record splits on, the one every sampled record
/// agrees with; none splits it: a single column.
fn pick_delimiter(
    sample: &[u8],
    split: &dyn Fn(u8, Option<u8>, usize) -> Vec<Vec<Vec<u8>>>,
    quote: Option<u8>,
) -> Result<u8, String> {
    // Only candidates that split the first record are looked at further, and the rest of the
    // sample only when more than one does.
    let splitting: Vec<u8> = CANDIDATES
        .into_iter()
        .filter(|&d| memchr::memchr(d, sample).is_some())
        .filter(|&d| split(d, quote, 1).first().is_some_and(|r| r.len() >= 2))
        .collect();
    let agreeing: Vec<u8> = match splitting.len() {
        0 | 1 => splitting.clone(),
        _ => splitting
            .iter()
            .copied()
            .filter(|&d| {
                let recs = split(d, quote, SAMPLE_RECORDS);
                recs.iter().all(|r| r.len() == recs[0].len())
            })
            .collect(),
    };
    let names = |ds: &[u8]| {
        ds.iter()
            .map(|&d| show_byte(d))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    match (splitting.as_slice(), agreeing.as_slice()) {
        ([], _) => Ok(b','),
        ([only], _) => Ok(*only),
        (_, [one]) => Ok(*one),
        (_, []) => Err(format!(
            "cannot tell the delimiter: the first record splits on {} but no delimiter gives \
             every record as many fields; set the route's `delimiter`",
            names(&splitting)
        )),
        (_, many) => Err(format!(
            "cannot tell the delimiter: {} each split every record alike; set the route's \
             `delimiter`",
            names(many)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(text: &str) -> Result<String, String> {
        sniff(text.as_bytes(), &DialectSettings::default(), true).map(|d| d.describe())
    }

    #[test]
    fn delimiters_are_the_one_every_record_agrees_with() {
        assert_eq!(
            sniffed("a;b\n1;2,5\n3;4\n").unwrap(),
            "delimiter ';' (sniffed), quote '\"' (sniffed), header (sniffed)"
        );
        assert_eq!(
            sniffed("a\tb c\n1\t2\n").unwrap(),
            "delimiter '\\t' (sniffed), quote '\"' (sniffed), header (sniffed)"
        );
        assert_eq!(
            sniffed("name|note\nx|\"a,b\"\n").unwrap(),
            "delimiter '|' (sniffed), quote '\"' (sniffed), header (assumed)"
        );
        assert!(sniffed("only\n1\n").unwrap().starts_with("delimiter ','"));
    }

    #[test]
    fn an_undecidable_delimiter_is_refused() {
        assert_eq!(
            sniffed("a;b,c\n1;2,3\n").unwrap_err(),
            "cannot tell the delimiter: ',' or ';' each split every record alike; set the \
             route's `delimiter`"
        );
        assert!(
            sniffed("a;b,c\n1;2\n3,4,5\n")
                .unwrap_err()
                .contains("no delimiter")
        );
    }

    #[test]
    fn headers_are_names_over_data() {
        assert!(
            sniffed("1,2,3\n4,5,6\n")
                .unwrap()
                .ends_with("no header (sniffed)")
        );
        assert!(
            sniffed("id,when\n1,2020-01-01\n")
                .unwrap()
                .ends_with("header (sniffed)")
        );
        assert!(sniffed("a,b\nx,y\n").unwrap().ends_with("header (assumed)"));
        assert!(
            sniffed("date,v\nJan 1 2000,3\n")
                .unwrap()
                .ends_with("header (sniffed)")
        );
    }

    #[test]
    fn single_quotes_are_noticed() {
        assert_eq!(
            sniffed("a,b\n'x,y',1\n").unwrap(),
            "delimiter ',' (sniffed), quote ''' (sniffed), header (sniffed)"
        );
    }

    #[test]
    fn settings_are_kept() {
        let given = DialectSettings {
            delimiter: Some(b';'),
            header: Some(false),
            ..DialectSettings::default()
        };
        let d = sniff(b"a,b;c\n", &given, true).unwrap();
        assert_eq!(
            d.describe(),
            "delimiter ';', quote '\"' (sniffed), no header"
        );
    }
}
