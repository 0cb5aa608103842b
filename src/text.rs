//! Text for people. Names, values and errors come from files and must be made safe to print: a
//! control character in a file name must not clear a terminal or fake a line of a log, so every
//! message for people goes through [`escape`] on its way to stdout, stderr or the log (JSON
//! output escapes on its own). And counts read as English: `1 file`, `2 files`.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that change how text is shown rather than being shown: ASCII and C1 control
/// characters, Unicode line separators, and the bidirectional controls that can reorder a line.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every unsafe character written as an escape (`\n`, `\t`, `\x1b`, `\u{202e}`), so
/// what is printed is one line of visible characters. Text without such characters is returned
/// as is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if !is_unsafe(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// Text that may span lines (such as a file's first errors) as one safe line: its line breaks
/// are shown as `\n`, like any other, so a break inside a file name is never taken for one
/// between errors.
pub fn one_line(text: &str) -> String {
    escape(text.trim_end_matches(['\n', '\r'])).into_owned()
}

/// `1 file`, `2 files`, `0 rows`.
pub fn plural(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert!(matches!(escape("reviews/a.csv"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\x1b[2Jb\nrun x: all good.csv"),
            "a\\x1b[2Jb\\nrun x: all good.csv"
        );
        assert_eq!(escape("tab\there\r\x7f\u{85}"), "tab\\there\\r\\x7f\\u{85}");
        assert_eq!(escape("abc\u{202e}txt.csv"), "abc\\u{202e}txt.csv");
        assert_eq!(escape("café ✓"), "café ✓");
    }

    #[test]
    fn several_lines_become_one() {
        assert_eq!(
            one_line("a.csv:2: bad\na\nb.csv:3: worse\n"),
            "a.csv:2: bad\\na\\nb.csv:3: worse"
        );
        assert_eq!(one_line("x\x1b"), "x\\x1b");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(0, "row"), "0 rows");
        assert_eq!(plural(2, "file"), "2 files");
    }
}
