//! An explicit date format (`date_format = "%d/%m/%Y"`, chrono's strftime syntax) for dates whose
//! day and month order cannot be told from the text. Text read with one is rewritten as ISO
//! 8601, which every date and time column takes.

use super::ConvError;
use super::spelled::Written;
use chrono::format::{Item, Parsed, StrftimeItems, parse};
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    pattern: String,
}

impl DateFormat {
    /// Checks a pattern: it must be valid and name a day, a month and a year.
    pub fn new(pattern: &str) -> Result<DateFormat, String> {
        let items: Vec<Item<'_>> = StrftimeItems::new(pattern).collect();
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return Err(format!(
                "date format `{pattern}` is not a valid strftime pattern"
            ));
        }
        let has = |specs: &[&str]| specs.iter().any(|s| pattern.contains(s));
        let day = has(&["%d", "%e", "%j", "%F", "%D", "%x", "%c", "%+", "%s"]);
        let year = has(&["%Y", "%y", "%F", "%D", "%x", "%c", "%+", "%s", "%G"]);
        if !day || !year {
            return Err(format!(
                "date format `{pattern}` must name the day and the year (like %d/%m/%Y)"
            ));
        }
        Ok(DateFormat {
            pattern: pattern.to_owned(),
        })
    }

    /// Reads text written in this format.
    pub fn read(&self, text: &[u8]) -> Result<Written, ConvError> {
        let bad = || ConvError::new(format!("does not match date_format \"{}\"", self.pattern));
        let text = std::str::from_utf8(text).map_err(|_| bad())?.trim();
        let mut parsed = Parsed::new();
        parse(&mut parsed, text, StrftimeItems::new(&self.pattern)).map_err(|_| bad())?;
        if let Some(ts) = parsed.timestamp {
            let dt = chrono::DateTime::from_timestamp(ts, parsed.nanosecond.unwrap_or(0))
                .ok_or_else(bad)?;
            return Ok(Written {
                date: dt.date_naive(),
                time: Some(dt.time()),
                offset: Some(0),
                month_name: false,
            });
        }
        let date = parsed.to_naive_date().map_err(|_| bad())?;
        let time = match parsed.hour_div_12.is_some() || parsed.hour_mod_12.is_some() {
            true => Some(parsed.to_naive_time().map_err(|_| bad())?),
            false => None,
        };
        Ok(Written {
            date,
            time,
            offset: parsed.offset,
            month_name: false,
        })
    }

    /// Rewrites text written in this format as ISO 8601 into `out`.
    pub fn to_iso(&self, text: &[u8], out: &mut String) -> Result<(), ConvError> {
        let w = self.read(text)?;
        out.clear();
        let _ = write!(out, "{}", w.date.format("%Y-%m-%d"));
        if let Some(t) = w.time {
            let _ = write!(out, " {}", t.format("%H:%M:%S%.f"));
        }
        if let Some(off) = w.offset {
            let (sign, abs) = if off < 0 { ('-', -off) } else { ('+', off) };
            let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(pattern: &str, text: &str) -> Result<String, String> {
        let f = DateFormat::new(pattern)?;
        let mut out = String::new();
        f.to_iso(text.as_bytes(), &mut out).map_err(|e| e.0)?;
        Ok(out)
    }

    #[test]
    fn day_month_orders_are_read_as_told() {
        assert_eq!(iso("%d/%m/%Y", "01/02/2000").unwrap(), "2000-02-01");
        assert_eq!(iso("%m/%d/%Y", "01/02/2000").unwrap(), "2000-01-02");
        assert_eq!(
            iso("%m/%d/%Y %H:%M:%S", "1/5/2011 00:00:00").unwrap(),
            "2011-01-05 00:00:00"
        );
        assert_eq!(
            iso("%d.%m.%Y %H:%M %z", "31.12.1999 23:30 +0100").unwrap(),
            "1999-12-31 23:30:00+01:00"
        );
        assert_eq!(
            iso("%d/%m/%Y", "13/13/2000").unwrap_err(),
            "does not match date_format \"%d/%m/%Y\""
        );
    }

    #[test]
    fn patterns_are_checked() {
        assert!(DateFormat::new("%H:%M").is_err());
        assert!(DateFormat::new("%d/%m/%Y %Q").is_err());
        assert!(DateFormat::new("%Y-%j").is_ok());
    }
}
