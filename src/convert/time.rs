//! Dates and times: ISO 8601 text with or without an offset, epoch numbers, and typed temporal values.

use super::ConvError;
use super::spelled::{self, Written};
use crate::value::Value;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

const NANOS: i128 = 1_000_000_000;
const DAY_SECS: i64 = 86_400;

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, &c| {
        acc.checked_mul(10)?.checked_add(u32::from(c - b'0'))
    })
}

fn parse_ymd(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )
}

/// `HH:MM[:SS[.fraction]]`, returning the time and the nanoseconds of the fraction.
fn parse_hms(b: &[u8]) -> Option<NaiveTime> {
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let h = digits(&b[0..2])?;
    let m = digits(&b[3..5])?;
    let (s, nanos) = if b.len() == 5 {
        (0, 0)
    } else {
        if b[5] != b':' || b.len() < 8 {
            return None;
        }
        let s = digits(&b[6..8])?;
        let nanos = if b.len() == 8 {
            0
        } else {
            if b[8] != b'.' && b[8] != b',' {
                return None;
            }
            let frac = &b[9..];
            if frac.is_empty() || frac.len() > 9 {
                return None;
            }
            digits(frac)? * 10u32.pow(9 - frac.len() as u32)
        };
        (s, nanos)
    };
    NaiveTime::from_hms_nano_opt(h, m, s, nanos)
}

/// A trailing `Z` or `±HH[:MM]` offset, returned with the text before it.
fn split_offset(b: &[u8]) -> Result<(&[u8], Option<i32>), ()> {
    if let Some(rest) = b.strip_suffix(b"Z").or_else(|| b.strip_suffix(b"z")) {
        return Ok((rest, Some(0)));
    }
    // An offset sign can only come after the time's seconds or minutes (position ≥ 5).
    let Some(pos) = b.iter().rposition(|&c| c == b'+' || c == b'-') else {
        return Ok((b, None));
    };
    if pos < 5 {
        return Ok((b, None));
    }
    let sign = if b[pos] == b'-' { -1 } else { 1 };
    let off = &b[pos + 1..];
    let (h, m) = match off.len() {
        2 => (digits(off), Some(0)),
        4 => (digits(&off[..2]), digits(&off[2..])),
        5 if off[2] == b':' => (digits(&off[..2]), digits(&off[3..])),
        _ => return Err(()),
    };
    match (h, m) {
        (Some(h), Some(m)) if h < 24 && m < 60 => {
            Ok((&b[..pos], Some(sign * (h * 3600 + m * 60) as i32)))
        }
        _ => Err(()),
    }
}

fn local_to_nanos(naive: NaiveDateTime, tz: Tz) -> Result<i128, ConvError> {
    let dt = tz
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| ConvError::new(format!("local time does not exist in {tz}")))?;
    Ok(to_nanos(dt.timestamp(), dt.timestamp_subsec_nanos()))
}

fn to_nanos(secs: i64, nanos: u32) -> i128 {
    i128::from(secs) * NANOS + i128::from(nanos)
}

/// Epoch numbers: seconds, or milliseconds/microseconds/nanoseconds when the magnitude of the
/// whole part says so; a fraction is a fraction of that unit.
fn epoch_nanos(b: &[u8]) -> Option<i128> {
    let (neg, body) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if int.is_empty() || int.len() > 19 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let whole: i128 = std::str::from_utf8(int).ok()?.parse().ok()?;
    let (unit, unit_digits) = match whole {
        w if w >= 100_000_000_000_000_000 => (1, 0),
        w if w >= 100_000_000_000_000 => (1_000, 3),
        w if w >= 100_000_000_000 => (1_000_000, 6),
        _ => (NANOS, 9),
    };
    let mut nanos = whole * unit;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > unit_digits || !f.iter().all(u8::is_ascii_digit) {
            return None;
        }
        nanos += i128::from(digits(f)?) * 10i128.pow((unit_digits - f.len()) as u32);
    }
    if neg {
        nanos = -nanos;
    }
    Some(nanos)
}

/// Parses date-time text into nanoseconds since the epoch; local times are read in `tz`. ISO
/// 8601 is read directly; other spellings people use go through `spelled`; digits alone are
/// epoch seconds (or milli-, micro-, nanoseconds by their magnitude), except that 8 and 14
/// digits are `YYYYMMDD[hhmmss]`, as ClickHouse's best-effort parser reads them.
pub fn parse_datetime_nanos(text: &[u8], tz: Tz) -> Result<i128, ConvError> {
    let b = text.trim_ascii();
    if let Some(n) = iso_nanos(b, tz)? {
        return Ok(n);
    }
    let stamp = matches!(b.len(), 8 | 14) && b.iter().all(u8::is_ascii_digit);
    if !stamp && let Some(n) = epoch_nanos(b) {
        return Ok(n);
    }
    let w = spelled::parse(b).map_err(|e| ConvError::new(e.message("date-time")))?;
    written_nanos(&w, tz)
}

/// The instant a written date and time stand for; without an offset it is local time in `tz`.
pub fn written_nanos(w: &Written, tz: Tz) -> Result<i128, ConvError> {
    let naive = w.date.and_time(w.time.unwrap_or(NaiveTime::MIN));
    match w.offset {
        None => local_to_nanos(naive, tz),
        Some(off) => {
            let utc = naive.and_utc();
            let secs = utc.timestamp() - i64::from(off);
            Ok(to_nanos(secs, utc.timestamp_subsec_nanos()))
        }
    }
}

/// Strict ISO 8601 (`YYYY-MM-DD[(T| )HH:MM[:SS[.f]]][Z|±HH[:MM]]`), the common case, read at
/// fixed positions; `None` for text of another shape.
fn iso_nanos(b: &[u8], tz: Tz) -> Result<Option<i128>, ConvError> {
    if b.len() < 10 || b[4] != b'-' {
        return Ok(None);
    }
    let Some(date) = parse_ymd(&b[..10]) else {
        return Ok(None);
    };
    if b.len() == 10 {
        return local_to_nanos(date.and_time(NaiveTime::MIN), tz).map(Some);
    }
    if b[10] != b'T' && b[10] != b' ' && b[10] != b't' {
        return Ok(None);
    }
    let Ok((time_text, offset)) = split_offset(&b[11..]) else {
        return Ok(None);
    };
    let Some(time) = parse_hms(time_text) else {
        return Ok(None);
    };
    let w = Written {
        date,
        time: Some(time),
        offset,
        month_name: false,
    };
    written_nanos(&w, tz).map(Some)
}

/// Whether text spells a date or a date-time (not a bare number).
pub fn looks_temporal(text: &[u8]) -> bool {
    spelled::parse(text).is_ok()
}

/// Parses a date (optionally followed by a time, whose calendar date is kept) into days since
/// 1970-01-01, in any spelling `spelled` reads.
pub fn parse_date_days(text: &[u8]) -> Result<i64, ConvError> {
    let b = text.trim_ascii();
    let date = match b.get(..10).and_then(parse_ymd) {
        Some(date) if b.len() == 10 => date,
        _ => {
            spelled::parse(b)
                .map_err(|e| ConvError::new(e.message("date")))?
                .date
        }
    };
    Ok(days_since_epoch(date))
}

pub fn days_since_epoch(date: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&date)) - 719_163
}

pub(super) fn date_days(value: &Value<'_>) -> Result<i64, ConvError> {
    match value {
        Value::Text(b) | Value::Str(b) => parse_date_days(b),
        Value::Date(d) => Ok(i64::from(*d)),
        Value::Timestamp(ns) => Ok((ns.div_euclid(NANOS) as i64).div_euclid(DAY_SECS)),
        _ => Err(ConvError::new("not a date")),
    }
}

pub(super) fn datetime_nanos(value: &Value<'_>, tz: Tz) -> Result<i128, ConvError> {
    match value {
        Value::Text(b) | Value::Str(b) => parse_datetime_nanos(b, tz),
        Value::Num(b) => {
            epoch_nanos(b.trim_ascii()).ok_or_else(|| ConvError::new("not an epoch time"))
        }
        Value::Int(i) => {
            let b = i.to_string();
            epoch_nanos(b.as_bytes()).ok_or_else(|| ConvError::new("not an epoch time"))
        }
        Value::UInt(u) => {
            let b = u.to_string();
            epoch_nanos(b.as_bytes()).ok_or_else(|| ConvError::new("not an epoch time"))
        }
        Value::Timestamp(ns) => Ok(*ns),
        Value::Date(d) => local_to_nanos(
            NaiveDate::from_num_days_from_ce_opt(*d + 719_163)
                .ok_or_else(|| ConvError::new("date out of range"))?
                .and_time(NaiveTime::MIN),
            tz,
        ),
        _ => Err(ConvError::new("not a date-time")),
    }
}

pub(super) fn format_date(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163)
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("{days} days"))
}

pub(super) fn format_timestamp(nanos: i128) -> String {
    let secs = nanos.div_euclid(NANOS) as i64;
    let sub = nanos.rem_euclid(NANOS) as u32;
    DateTime::from_timestamp(secs, sub)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S%.f").to_string())
        .unwrap_or_else(|| format!("{nanos}ns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str, tz: Tz) -> i128 {
        parse_datetime_nanos(text.as_bytes(), tz).unwrap() / NANOS
    }

    #[test]
    fn iso_with_and_without_offsets() {
        assert_eq!(secs("2020-01-02 03:04:05", Tz::UTC), 1_577_934_245);
        assert_eq!(secs("2020-01-02T03:04:05Z", Tz::UTC), 1_577_934_245);
        assert_eq!(secs("2020-01-02T05:04:05+02:00", Tz::UTC), 1_577_934_245);
        assert_eq!(secs("2020-01-02T05:04:05+0200", Tz::UTC), 1_577_934_245);
        assert_eq!(secs("2020-01-02T01:04:05-02", Tz::UTC), 1_577_934_245);
        assert_eq!(
            secs("2020-01-02 04:04:05", Tz::Europe__Berlin),
            1_577_934_245
        );
        assert_eq!(secs("2020-01-02", Tz::UTC), 1_577_923_200);
        assert_eq!(secs("2020-01-02T03:04", Tz::UTC), 1_577_934_240);
        assert_eq!(
            parse_datetime_nanos(b"2020-01-02T03:04:05.123456789Z", Tz::UTC).unwrap() % NANOS,
            123_456_789
        );
    }

    #[test]
    fn spellings_people_write() {
        assert_eq!(secs("2010/01/01 00:00", Tz::UTC), 1_262_304_000);
        assert_eq!(secs("Jan 1 2000", Tz::UTC), 946_684_800);
        assert_eq!(
            secs("Sat, 01 Jan 2000 02:00:00 +0200", Tz::UTC),
            946_684_800
        );
        assert_eq!(secs("20000101", Tz::UTC), 946_684_800);
        assert_eq!(secs("20000101000001", Tz::UTC), 946_684_801);
        assert!(parse_datetime_nanos(b"1/5/2011 00:00:00", Tz::UTC).is_err());
    }

    #[test]
    fn epoch_seconds_and_milliseconds() {
        assert_eq!(secs("1577934245", Tz::UTC), 1_577_934_245);
        assert_eq!(secs("1577934245000", Tz::UTC), 1_577_934_245);
        assert_eq!(
            parse_datetime_nanos(b"1577934245.5", Tz::UTC).unwrap(),
            1_577_934_245_500_000_000
        );
        // A fraction is a fraction of the unit the magnitude names (here milliseconds).
        assert_eq!(
            parse_datetime_nanos(b"1577934245123.456", Tz::UTC).unwrap(),
            1_577_934_245_123_456_000
        );
        assert!(parse_datetime_nanos(b"1577934245123.4567891", Tz::UTC).is_err());
    }

    #[test]
    fn bad_dates_are_errors() {
        for bad in [
            "2020-13-01",
            "2020-02-30",
            "2020-01-02 25:00:00",
            "yesterday",
            "",
        ] {
            assert!(
                parse_datetime_nanos(bad.as_bytes(), Tz::UTC).is_err(),
                "{bad}"
            );
        }
        assert!(parse_date_days(b"2021-02-29").is_err());
        assert_eq!(parse_date_days(b"1970/01/03"), Ok(2));
        assert_eq!(parse_date_days(b"Jan 2 1970"), Ok(1));
        assert_eq!(parse_date_days(b"19700102"), Ok(1));
        assert_eq!(
            parse_date_days(b"02/01/1970").unwrap_err().0,
            "ambiguous day and month order; set `date_format` for the route or the column \
             (for example \"%d/%m/%Y\" or \"%m/%d/%Y\")"
        );
        assert_eq!(parse_date_days(b"1970-01-02"), Ok(1));
        assert_eq!(parse_date_days(b"2020-01-02T10:00:00Z"), Ok(18263));
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_date(18263), "2020-01-02");
        assert_eq!(
            format_timestamp(1_577_934_245_000_000_000),
            "2020-01-02 03:04:05"
        );
    }
}
