//! How a route says its text files are written: the CSV or TSV dialect (each part left unset is
//! sniffed from the file), the text encoding, and the spellings that mean NULL.

use encoding_rs::Encoding;

/// How quotes inside a quoted field are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// `""` stands for one `"` (RFC 4180).
    Double,
    /// `\"` stands for one `"`, and a backslash makes any character after it literal.
    Backslash,
}

/// A CSV dialect as a route gives it: `None` is "not said", which the sniffer decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialectSettings {
    pub delimiter: Option<u8>,
    /// `Some(None)`: fields are never quoted.
    pub quote: Option<Option<u8>>,
    pub escape: Option<Escape>,
    pub header: Option<bool>,
    /// Lines starting with this byte are skipped.
    pub comment: Option<u8>,
    /// Lines skipped at the top of the file, before the header.
    pub skip_lines: usize,
    /// Every line ends with a delimiter: the empty field after it is not a field.
    pub trailing_delimiter: bool,
}

/// Everything a route says about reading its text files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextOptions {
    pub dialect: DialectSettings,
    /// The text encoding when the file has no byte order mark (`None`: UTF-8).
    pub encoding: Option<&'static Encoding>,
    /// Field texts that mean NULL (`None`: the format's own: `\N` for CSV and TSV).
    pub null_values: Option<Vec<Vec<u8>>>,
    /// Names of the fields of a file without a header row, in order.
    pub fields: Option<Vec<String>>,
}

impl TextOptions {
    /// Whether `text` is one of the route's spellings of NULL.
    pub fn is_null(&self, text: &[u8]) -> bool {
        match &self.null_values {
            Some(list) => list.iter().any(|n| n == text),
            None => false,
        }
    }
}

/// A byte as a person reads it in a message: `','`, `'\t'`, `0x1f`.
pub fn show_byte(b: u8) -> String {
    match b {
        b'\t' => "'\\t'".to_owned(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("0x{b:02x}"),
    }
}

/// Parses a one-byte setting (`;`, `\t`, `tab`, `|`, `0x1f`).
pub fn parse_byte(text: &str, what: &str) -> Result<u8, String> {
    let b = match text {
        "\\t" | "tab" | "\t" => b'\t',
        "space" => b' ',
        t if t.len() == 1 && t.is_ascii() => t.as_bytes()[0],
        t if t.starts_with("0x") && t.len() == 4 => u8::from_str_radix(&t[2..], 16)
            .map_err(|_| format!("{what} `{text}` is not a byte like 0x1f"))?,
        _ => {
            return Err(format!(
                "{what} must be one ASCII character (or \\t, tab, 0xNN), not `{text}`"
            ));
        }
    };
    if matches!(b, b'\n' | b'\r') {
        return Err(format!("{what} cannot be a line end"));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_parse_and_show() {
        assert_eq!(parse_byte(";", "delimiter"), Ok(b';'));
        assert_eq!(parse_byte("\\t", "delimiter"), Ok(b'\t'));
        assert_eq!(parse_byte("tab", "delimiter"), Ok(b'\t'));
        assert_eq!(parse_byte("0x1f", "delimiter"), Ok(0x1f));
        assert!(parse_byte(";;", "delimiter").is_err());
        assert!(parse_byte("\n", "delimiter").is_err());
        assert!(parse_byte("é", "delimiter").is_err());
        assert_eq!(show_byte(b'\t'), "'\\t'");
        assert_eq!(show_byte(b'|'), "'|'");
        assert_eq!(show_byte(0x1f), "0x1f");
    }
}
