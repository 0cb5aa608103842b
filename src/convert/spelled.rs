//! Dates and times as people write them, beyond ISO 8601: `2012/01/01`, `2012.01.01`,
//! `20120101`, month names (`Jan 1 2000`, `1 January 2000`, `01-Jan-2000`), RFC 2822 (`Sat, 01
//! Jan 2000 10:00:00 +0200`), 12-hour clocks and zone names — the unambiguous spellings
//! ClickHouse's best-effort parser takes. Day and month written as two numbers (`01/02/2000`)
//! are never guessed: that takes an explicit format (see `formats`).

use chrono::{NaiveDate, NaiveTime};

/// A date and time as written, before a time zone makes it an instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    /// Seconds east of UTC, when the text names an offset or zone.
    pub offset: Option<i32>,
    /// The date was written with a month name (ClickHouse's inference then types it DateTime).
    pub month_name: bool,
}

/// Why text is not a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDate {
    /// Day and month are both numbers, in an order that is not said.
    Ambiguous,
    Unknown,
}

impl NotDate {
    pub fn message(self, what: &str) -> String {
        match self {
            NotDate::Ambiguous => "ambiguous day and month order; set `date_format` for the \
                                   route or the column (for example \"%d/%m/%Y\" or \
                                   \"%m/%d/%Y\")"
                .to_owned(),
            NotDate::Unknown => format!(
                "not a {what} (expected ISO 8601 like 2000-01-31, 2000/01/31, 20000131, \
                 Jan 31 2000 or epoch seconds)"
            ),
        }
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The month a word names, by its full name or its first three letters (`Sept` too).
fn month(word: &[u8]) -> Option<u32> {
    let w = std::str::from_utf8(word).ok()?.to_ascii_lowercase();
    let w = w.strip_suffix('.').unwrap_or(&w);
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(w) || (w == "sept" && *m == "september"))
        .map(|i| i as u32 + 1)
}

fn weekday(word: &[u8]) -> bool {
    let Ok(w) = std::str::from_utf8(word) else {
        return false;
    };
    let w = w.to_ascii_lowercase();
    w.len() >= 3 && WEEKDAYS.iter().any(|d| d.starts_with(&w))
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            return true;
        }
        false
    }

    fn spaces(&mut self) -> usize {
        let from = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - from
    }

    fn digits(&mut self) -> &'a [u8] {
        let from = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        &self.b[from..self.i]
    }

    fn word(&mut self) -> &'a [u8] {
        let from = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        if self.i > from {
            self.eat(b'.');
        }
        &self.b[from..self.i]
    }

    /// A separator between the parts of a date: one of `-/. ` (spaces repeat), or a comma.
    fn date_sep(&mut self) -> Option<u8> {
        let c = self.peek()?;
        match c {
            b'-' | b'/' | b'.' => {
                self.i += 1;
                Some(c)
            }
            b' ' | b'\t' | b',' => {
                self.eat(b',');
                self.spaces();
                Some(b' ')
            }
            _ => None,
        }
    }
}

fn num(d: &[u8]) -> Option<u32> {
    if d.is_empty() || d.len() > 9 {
        return None;
    }
    d.iter()
        .try_fold(0u32, |acc, &c| Some(acc * 10 + u32::from(c - b'0')))
}

fn ymd(y: &[u8], m: u32, d: &[u8]) -> Result<NaiveDate, NotDate> {
    if y.len() != 4 || d.is_empty() || d.len() > 2 {
        return Err(NotDate::Unknown);
    }
    let y = num(y).ok_or(NotDate::Unknown)? as i32;
    let d = num(d).ok_or(NotDate::Unknown)?;
    NaiveDate::from_ymd_opt(y, m, d).ok_or(NotDate::Unknown)
}

/// The date at the start of the text; `true` when it was written with a month name.
fn date(c: &mut Cursor<'_>) -> Result<(NaiveDate, bool), NotDate> {
    if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        let at = c.i;
        let w = c.word();
        if weekday(w) && month(w).is_none() {
            c.eat(b',');
            c.spaces();
        } else {
            c.i = at;
        }
    }
    if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        // `Jan 1 2000`, `January 1, 2000`, `Jan-01-2000`
        let m = month(c.word()).ok_or(NotDate::Unknown)?;
        c.date_sep().ok_or(NotDate::Unknown)?;
        let d = c.digits();
        c.date_sep().ok_or(NotDate::Unknown)?;
        let y = c.digits();
        return Ok((ymd(y, m, d)?, true));
    }
    let first = c.digits();
    match first.len() {
        4 => {
            let sep = c.date_sep().ok_or(NotDate::Unknown)?;
            if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                // `2000-Jan-01`
                let m = month(c.word()).ok_or(NotDate::Unknown)?;
                c.date_sep().ok_or(NotDate::Unknown)?;
                return Ok((ymd(first, m, c.digits())?, true));
            }
            if sep == b' ' {
                return Err(NotDate::Unknown);
            }
            let m = c.digits();
            if m.is_empty() || m.len() > 2 || !c.eat(sep) {
                return Err(NotDate::Unknown);
            }
            let m = num(m).ok_or(NotDate::Unknown)?;
            Ok((ymd(first, m, c.digits())?, false))
        }
        8 | 14 => {
            // `20000131` (and `20000131235959`, whose time is read next)
            let m = num(&first[4..6]).ok_or(NotDate::Unknown)?;
            let date = ymd(&first[..4], m, &first[6..8])?;
            if first.len() == 14 {
                c.i -= 6;
            }
            Ok((date, false))
        }
        1 | 2 => {
            c.date_sep().ok_or(NotDate::Unknown)?;
            if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                // `1 January 2000`, `01-Jan-2000`
                let m = month(c.word()).ok_or(NotDate::Unknown)?;
                c.date_sep().ok_or(NotDate::Unknown)?;
                return Ok((ymd(c.digits(), m, first)?, true));
            }
            let second = c.digits();
            if (1..=2).contains(&second.len()) && c.date_sep().is_some() {
                let third = c.digits();
                if matches!(third.len(), 2 | 4) {
                    return Err(NotDate::Ambiguous);
                }
            }
            Err(NotDate::Unknown)
        }
        _ => Err(NotDate::Unknown),
    }
}

/// `HH:MM[:SS[.fraction]]` with an optional `AM`/`PM`, or the `hhmmss` of a 14-digit stamp.
fn time(c: &mut Cursor<'_>) -> Option<NaiveTime> {
    let h = c.digits();
    let (h, m, s) = if h.len() == 6 {
        (num(&h[..2])?, num(&h[2..4])?, num(&h[4..])?)
    } else {
        if h.is_empty() || h.len() > 2 || !c.eat(b':') {
            return None;
        }
        let m = c.digits();
        if m.len() != 2 {
            return None;
        }
        let s = match c.eat(b':') {
            true => {
                let s = c.digits();
                if s.len() != 2 {
                    return None;
                }
                num(s)?
            }
            false => 0,
        };
        (num(h)?, num(m)?, s)
    };
    let mut nanos = 0;
    if c.peek() == Some(b'.') || c.peek() == Some(b',') {
        let at = c.i;
        c.i += 1;
        let f = c.digits();
        match f.len() {
            0 => c.i = at,
            1..=9 => nanos = num(f)? * 10u32.pow(9 - f.len() as u32),
            _ => return None,
        }
    }
    let at = c.i;
    c.spaces();
    let ampm = c.word().to_ascii_lowercase();
    let h = match ampm.as_slice() {
        b"am" | b"a.m." if (1..=12).contains(&h) => h % 12,
        b"pm" | b"p.m." if (1..=12).contains(&h) => h % 12 + 12,
        b"am" | b"pm" | b"a.m." | b"p.m." => return None,
        _ => {
            c.i = at;
            h
        }
    };
    NaiveTime::from_hms_nano_opt(h, m, s, nanos)
}

/// `Z`, `UTC`, `GMT`, `UT`, `±HH`, `±HHMM` or `±HH:MM` (also after a zone name); `None` for
/// anything else.
fn offset(c: &mut Cursor<'_>) -> Option<i32> {
    let at = c.i;
    let w = c.word().to_ascii_lowercase();
    let named = match w.as_slice() {
        b"z" => return Some(0),
        b"utc" | b"gmt" | b"ut" => true,
        b"" => false,
        _ => {
            c.i = at;
            return None;
        }
    };
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ if named => return Some(0),
        _ => return None,
    };
    c.i += 1;
    let h = c.digits();
    let (h, m) = match h.len() {
        1 | 2 => {
            let m = match c.eat(b':') {
                true => c.digits(),
                false => &[][..],
            };
            (num(h)?, if m.is_empty() { 0 } else { num(m)? })
        }
        4 => (num(&h[..2])?, num(&h[2..])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60) as i32)
}

/// Parses a date, optionally with a time and a zone, as people write them.
pub fn parse(text: &[u8]) -> Result<Written, NotDate> {
    let mut c = Cursor {
        b: text.trim_ascii(),
        i: 0,
    };
    let (date, month_name) = date(&mut c)?;
    let mut written = Written {
        date,
        time: None,
        offset: None,
        month_name,
    };
    if c.at_end() {
        return Ok(written);
    }
    let stamp = c.i == 8 && c.b.len() >= 14;
    if !(stamp || c.eat(b'T') || c.eat(b't')) && c.date_sep() != Some(b' ') {
        return Err(NotDate::Unknown);
    }
    written.time = Some(time(&mut c).ok_or(NotDate::Unknown)?);
    c.spaces();
    if !c.at_end() {
        written.offset = Some(offset(&mut c).ok_or(NotDate::Unknown)?);
        c.spaces();
    }
    match c.at_end() {
        true => Ok(written),
        false => Err(NotDate::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> String {
        match parse(text.as_bytes()) {
            Ok(w) => {
                let mut s = w.date.to_string();
                if let Some(t) = w.time {
                    s.push_str(&format!(" {t}"));
                }
                if let Some(o) = w.offset {
                    s.push_str(&format!(" {o:+}"));
                }
                s
            }
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn spellings_people_use() {
        for (text, want) in [
            ("2012/01/01", "2012-01-01"),
            ("2012.01.31", "2012-01-31"),
            ("2000/1/2", "2000-01-02"),
            ("20120131", "2012-01-31"),
            ("20120131235959", "2012-01-31 23:59:59"),
            ("2010/01/01 00:00", "2010-01-01 00:00:00"),
            ("Jan 1 2000", "2000-01-01"),
            ("January 1, 2000", "2000-01-01"),
            ("1 January 2000", "2000-01-01"),
            ("01-Jan-2000", "2000-01-01"),
            ("2000-Jan-01", "2000-01-01"),
            ("Sept 3 2001", "2001-09-03"),
            (
                "Sat, 01 Jan 2000 10:00:00 +0200",
                "2000-01-01 10:00:00 +7200",
            ),
            ("Sat, 01 Jan 2000 10:00:00 GMT", "2000-01-01 10:00:00 +0"),
            ("Jan 1 2000 10:00 PM", "2000-01-01 22:00:00"),
            ("Jan 1 2000 12:30 am", "2000-01-01 00:30:00"),
            ("2000-01-02T10:00:00.5Z", "2000-01-02 10:00:00.500 +0"),
            (
                "2000-01-02 10:00:00,25 -03:30",
                "2000-01-02 10:00:00.250 -12600",
            ),
            ("2000-01-02T10:00:00 UTC+1", "2000-01-02 10:00:00 +3600"),
        ] {
            assert_eq!(show(text), want, "{text}");
        }
    }

    #[test]
    fn day_and_month_as_numbers_are_never_guessed() {
        for text in [
            "01/02/2000",
            "13/02/2000",
            "1/5/2011 00:00:00",
            "01.02.2000",
            "01-02-99",
        ] {
            assert_eq!(show(text), "Ambiguous", "{text}");
        }
    }

    #[test]
    fn nonsense_is_not_a_date() {
        for text in [
            "2000/13/01",
            "2000-02-30",
            "Foo 1 2000",
            "Jan 1",
            "2000/01-02",
            "2000-01-02 25:00",
            "2000-01-02 13:00 PM",
            "2000-01-02 10:00 +25",
            "2000-01-02 10:00 nonsense",
            "123",
            "",
        ] {
            assert_eq!(show(text), "Unknown", "{text}");
        }
    }
}
