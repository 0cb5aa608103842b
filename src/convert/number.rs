//! Integers, floats, booleans and decimals from text or typed values, refusing anything that does not fit.

use super::ConvError;
use crate::value::Value;

/// Parses an optionally signed decimal integer without losing precision.
fn parse_i128(text: &[u8]) -> Option<i128> {
    let text = text.trim_ascii();
    let (neg, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 39 {
        return None;
    }
    let mut v: i128 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

fn as_str(b: &[u8]) -> Result<&str, ConvError> {
    std::str::from_utf8(b).map_err(|_| ConvError::new("not valid UTF-8"))
}

pub(super) fn int<T>(value: &Value<'_>, name: &str) -> Result<T, ConvError>
where
    T: TryFrom<i128>,
{
    let wide: i128 = match value {
        Value::Text(b) | Value::Str(b) => {
            parse_i128(b).ok_or_else(|| ConvError::new("not an integer"))?
        }
        // A JSON number may spell an integer as `1.0` or `1e3`.
        Value::Num(b) => match parse_i128(b) {
            Some(v) => v,
            None => parse_decimal(b, 38, 0).map_err(|e| match e.0.contains("decimal places") {
                true => ConvError::new("not an integer"),
                false => ConvError::new(format!(
                    "{} is out of range for {name}",
                    String::from_utf8_lossy(b)
                )),
            })?,
        },
        Value::Int(i) => i128::from(*i),
        Value::UInt(u) => i128::from(*u),
        Value::Bool(b) => i128::from(*b),
        Value::Float(f) => {
            if f.fract() != 0.0 || !f.is_finite() || f.abs() > 1e38 {
                return Err(ConvError::new("not an integer"));
            }
            *f as i128
        }
        Value::Decimal(v, s) => {
            let div = 10i128.pow(u32::from(*s));
            if v % div != 0 {
                return Err(ConvError::new("not an integer"));
            }
            v / div
        }
        _ => return Err(ConvError::new("not an integer")),
    };
    T::try_from(wide).map_err(|_| ConvError::new(format!("{wide} is out of range for {name}")))
}

/// `UInt8` takes integers and also booleans, which ClickHouse 18.16 stores there.
pub(super) fn uint8_or_bool(value: &Value<'_>) -> Result<u8, ConvError> {
    match value {
        Value::Bool(b) => Ok(u8::from(*b)),
        Value::Text(b) | Value::Str(b) => match parse_i128(b) {
            Some(_) => int::<u8>(value, "UInt8"),
            None => bool_word(b)
                .map(u8::from)
                .ok_or_else(|| ConvError::new("not an integer or boolean")),
        },
        _ => int::<u8>(value, "UInt8"),
    }
}

fn bool_word(b: &[u8]) -> Option<bool> {
    let b = b.trim_ascii();
    const TRUE: [&[u8]; 6] = [b"true", b"t", b"yes", b"y", b"on", b"1"];
    const FALSE: [&[u8]; 6] = [b"false", b"f", b"no", b"n", b"off", b"0"];
    if TRUE.iter().any(|w| w.eq_ignore_ascii_case(b)) {
        Some(true)
    } else if FALSE.iter().any(|w| w.eq_ignore_ascii_case(b)) {
        Some(false)
    } else {
        None
    }
}

pub(super) fn boolean(value: &Value<'_>) -> Result<bool, ConvError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Text(b) | Value::Str(b) | Value::Num(b) => {
            bool_word(b).ok_or_else(|| ConvError::new("not a boolean"))
        }
        Value::Int(0) | Value::UInt(0) => Ok(false),
        Value::Int(1) | Value::UInt(1) => Ok(true),
        _ => Err(ConvError::new("not a boolean")),
    }
}

/// Whether number text names an infinity or NaN rather than overflowing into one.
fn names_non_finite(text: &str) -> bool {
    let named = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
    named.starts_with("inf") || named == "nan"
}

pub(super) fn float64(value: &Value<'_>) -> Result<f64, ConvError> {
    match value {
        Value::Text(b) | Value::Str(b) | Value::Num(b) => {
            let text = as_str(b)?.trim();
            let v: f64 = text.parse().map_err(|_| ConvError::new("not a number"))?;
            if !v.is_finite() && !names_non_finite(text) {
                return Err(ConvError::new("out of range for Float64"));
            }
            Ok(v)
        }
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::UInt(u) => Ok(*u as f64),
        Value::Decimal(v, s) => Ok(*v as f64 / 10f64.powi(i32::from(*s))),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        _ => Err(ConvError::new("not a number")),
    }
}

pub(super) fn float32(value: &Value<'_>) -> Result<f32, ConvError> {
    let (v, finite_source) = match value {
        Value::Text(b) | Value::Str(b) | Value::Num(b) => {
            let text = as_str(b)?.trim();
            let v: f32 = text.parse().map_err(|_| ConvError::new("not a number"))?;
            (v, !names_non_finite(text))
        }
        other => {
            let wide = float64(other)?;
            (wide as f32, wide.is_finite())
        }
    };
    if finite_source && !v.is_finite() {
        return Err(ConvError::new("out of range for Float32"));
    }
    Ok(v)
}

/// Parses decimal text (`-12.5`, `1e3`) into an unscaled integer at `scale`, checking `precision`.
pub fn parse_decimal(text: &[u8], precision: u8, scale: u8) -> Result<i128, ConvError> {
    let bad = || ConvError::new("not a decimal number");
    let text = text.trim_ascii();
    let (neg, rest) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
        None => return Err(bad()),
    };
    let (mantissa, exp) = match rest.iter().position(|c| matches!(c, b'e' | b'E')) {
        Some(i) => {
            let e = std::str::from_utf8(&rest[i + 1..])
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
                .ok_or_else(bad)?;
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&c| c == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &b""[..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    // All digits as one integer, with the decimal point `shift` places from the right.
    let mut digits: i128 = 0;
    let mut significant = 0usize;
    let overflow = || ConvError::new(format!("does not fit Decimal({precision}, {scale})"));
    for &c in int_part.iter().chain(frac_part) {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        if digits != 0 || c != b'0' {
            significant += 1;
        }
        if significant > 38 {
            return Err(overflow());
        }
        digits = digits * 10 + i128::from(c - b'0');
    }
    let shift = frac_part.len() as i32 - exp;
    let target = i32::from(scale);
    let unscaled = if shift > target {
        let drop = (shift - target) as u32;
        let div = 10i128.checked_pow(drop);
        match div {
            Some(div) if digits % div == 0 => digits / div,
            None if digits == 0 => 0,
            _ => {
                return Err(ConvError::new(format!(
                    "has more than {scale} decimal places"
                )));
            }
        }
    } else {
        let mul = 10i128
            .checked_pow((target - shift) as u32)
            .ok_or_else(overflow)?;
        digits.checked_mul(mul).ok_or_else(overflow)?
    };
    let limit = 10i128.checked_pow(u32::from(precision.min(38)));
    if let Some(limit) = limit
        && unscaled >= limit
    {
        return Err(overflow());
    }
    Ok(if neg { -unscaled } else { unscaled })
}

pub(super) fn decimal(value: &Value<'_>, precision: u8, scale: u8) -> Result<i128, ConvError> {
    match value {
        Value::Text(b) | Value::Str(b) | Value::Num(b) => parse_decimal(b, precision, scale),
        Value::Int(i) => parse_decimal(i.to_string().as_bytes(), precision, scale),
        Value::UInt(u) => parse_decimal(u.to_string().as_bytes(), precision, scale),
        Value::Float(f) if f.is_finite() => {
            parse_decimal(f.to_string().as_bytes(), precision, scale)
        }
        Value::Decimal(v, s) => parse_decimal(format_decimal(*v, *s).as_bytes(), precision, scale),
        _ => Err(ConvError::new("not a decimal number")),
    }
}

pub(super) fn format_decimal(v: i128, scale: u8) -> String {
    if scale == 0 {
        return v.to_string();
    }
    let digits = v.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (i, f) = padded.split_at(padded.len() - scale);
    format!("{}{i}.{f}", if v < 0 { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_refuse_overflow_and_junk() {
        assert_eq!(int::<i8>(&Value::Text(b"-128"), "Int8"), Ok(-128));
        assert_eq!(
            int::<i8>(&Value::Text(b"128"), "Int8").unwrap_err().0,
            "128 is out of range for Int8"
        );
        assert_eq!(
            int::<u64>(&Value::Text(b"18446744073709551615"), "UInt64"),
            Ok(u64::MAX)
        );
        assert!(int::<u64>(&Value::Text(b"18446744073709551616"), "UInt64").is_err());
        assert!(int::<u32>(&Value::Text(b"-1"), "UInt32").is_err());
        assert!(int::<i32>(&Value::Text(b"1.5"), "Int32").is_err());
        assert!(int::<i32>(&Value::Text(b""), "Int32").is_err());
        assert_eq!(int::<i32>(&Value::Float(3.0), "Int32"), Ok(3));
        assert!(int::<i32>(&Value::Float(3.5), "Int32").is_err());
    }

    #[test]
    fn json_numbers_may_spell_integers_with_exponents() {
        assert_eq!(int::<i32>(&Value::Num(b"1e3"), "Int32"), Ok(1000));
        assert_eq!(int::<i32>(&Value::Num(b"-2.0"), "Int32"), Ok(-2));
        assert_eq!(
            int::<i32>(&Value::Num(b"2.5"), "Int32").unwrap_err().0,
            "not an integer"
        );
        assert_eq!(
            int::<i8>(&Value::Num(b"1e3"), "Int8").unwrap_err().0,
            "1000 is out of range for Int8"
        );
        assert_eq!(
            int::<i64>(&Value::Num(b"1e40"), "Int64").unwrap_err().0,
            "1e40 is out of range for Int64"
        );
        assert!(int::<i32>(&Value::Text(b"1e3"), "Int32").is_err());
    }

    #[test]
    fn uint8_takes_booleans() {
        assert_eq!(uint8_or_bool(&Value::Text(b"true")), Ok(1));
        assert_eq!(uint8_or_bool(&Value::Text(b"FALSE")), Ok(0));
        assert_eq!(uint8_or_bool(&Value::Bool(true)), Ok(1));
        assert_eq!(uint8_or_bool(&Value::Text(b"255")), Ok(255));
        assert!(uint8_or_bool(&Value::Text(b"256")).is_err());
        assert!(uint8_or_bool(&Value::Text(b"maybe")).is_err());
    }

    #[test]
    fn float32_overflow_is_an_error_but_inf_is_not() {
        assert!(float32(&Value::Text(b"1e40")).is_err());
        assert!(float32(&Value::Text(b"inf")).unwrap().is_infinite());
        assert_eq!(float32(&Value::Text(b"1.5")), Ok(1.5));
        assert!(float64(&Value::Text(b"x1")).is_err());
        assert_eq!(
            float64(&Value::Num(b"1e400")).unwrap_err().0,
            "out of range for Float64"
        );
        assert!(float64(&Value::Text(b"-Infinity")).unwrap().is_infinite());
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal(b"-12.34", 10, 2), Ok(-1234));
        assert_eq!(parse_decimal(b"12", 10, 2), Ok(1200));
        assert_eq!(parse_decimal(b"1.50", 10, 1), Ok(15));
        assert_eq!(parse_decimal(b"1.5e2", 10, 2), Ok(15000));
        assert_eq!(
            parse_decimal(b"1.005", 10, 2).unwrap_err().0,
            "has more than 2 decimal places"
        );
        assert_eq!(
            parse_decimal(b"123456789", 9, 2).unwrap_err().0,
            "does not fit Decimal(9, 2)"
        );
        assert_eq!(parse_decimal(b".5", 3, 1), Ok(5));
        assert!(parse_decimal(b"1.2.3", 10, 2).is_err());
        assert!(parse_decimal(b"", 10, 2).is_err());
        assert_eq!(
            parse_decimal(b"99999999999999999999999999999999999999", 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
    }

    #[test]
    fn formats_decimals() {
        assert_eq!(format_decimal(-1234, 2), "-12.34");
        assert_eq!(format_decimal(5, 3), "0.005");
        assert_eq!(format_decimal(7, 0), "7");
    }
}
