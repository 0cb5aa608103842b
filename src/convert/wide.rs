//! Integers and decimals wider than 64 bits (`Int128`…`UInt256`, `Decimal` past 38 digits), exact
//! on 256-bit arithmetic: a value either fits as written or is refused, never rounded.

use super::ConvError;
use super::number::format_decimal;
use crate::value::Value;
use ethnum::U256;

/// The wide integer types, by the range they hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WideInt {
    I128,
    U128,
    I256,
    U256,
}

impl WideInt {
    pub fn name(self) -> &'static str {
        match self {
            WideInt::I128 => "Int128",
            WideInt::U128 => "UInt128",
            WideInt::I256 => "Int256",
            WideInt::U256 => "UInt256",
        }
    }

    pub fn width(self) -> usize {
        match self {
            WideInt::I128 | WideInt::U128 => 16,
            WideInt::I256 | WideInt::U256 => 32,
        }
    }

    /// Whether a sign and magnitude are in range.
    fn holds(self, neg: bool, mag: U256) -> bool {
        let bits = match self {
            WideInt::I128 | WideInt::U128 => 128,
            WideInt::I256 | WideInt::U256 => 256,
        };
        match (self, neg) {
            (_, true) if mag == U256::ZERO => true,
            (WideInt::U128 | WideInt::U256, true) => false,
            (WideInt::U128 | WideInt::U256, false) => bits == 256 || mag <= U256::from(u128::MAX),
            // A signed type holds -2^(bits-1) ..= 2^(bits-1) - 1.
            (_, neg) => {
                let limit = U256::ONE << (bits - 1);
                if neg { mag <= limit } else { mag < limit }
            }
        }
    }

    /// Appends the value's little-endian two's complement bytes.
    pub fn encode(self, value: &Value<'_>, out: &mut Vec<u8>) -> Result<(), ConvError> {
        let (neg, mag) = integer(value)?;
        if !self.holds(neg, mag) {
            let sign = if neg { "-" } else { "" };
            return Err(ConvError::new(format!(
                "{sign}{mag} is out of range for {}",
                self.name()
            )));
        }
        put_twos_complement(neg, mag, self.width(), out);
        Ok(())
    }
}

fn put_twos_complement(neg: bool, mag: U256, width: usize, out: &mut Vec<u8>) {
    let v = if neg { mag.wrapping_neg() } else { mag };
    out.extend_from_slice(&v.to_le_bytes()[..width]);
}

/// Sign and magnitude of an integer value; text must be plain digits, JSON numbers may use an
/// exponent or a zero fraction (`1e3`, `2.0`).
fn integer(value: &Value<'_>) -> Result<(bool, U256), ConvError> {
    let not_int = || ConvError::new("not an integer");
    match value {
        Value::Text(b) | Value::Str(b) => {
            let t = b.trim_ascii();
            let digits = t.strip_prefix(b"-").or(t.strip_prefix(b"+")).unwrap_or(t);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(not_int());
            }
            scaled(t, 0).map_err(|e| match e {
                Scaled::Overflow => ConvError::new(format!(
                    "{} is out of range for 256 bits",
                    String::from_utf8_lossy(t)
                )),
                _ => not_int(),
            })
        }
        Value::Num(b) => scaled(b, 0).map_err(|e| match e {
            Scaled::Overflow => ConvError::new(format!(
                "{} is out of range for 256 bits",
                String::from_utf8_lossy(b)
            )),
            _ => not_int(),
        }),
        Value::Int(i) => Ok((*i < 0, U256::from(i.unsigned_abs()))),
        Value::UInt(u) => Ok((false, U256::from(*u))),
        Value::Bool(b) => Ok((false, U256::from(u8::from(*b)))),
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 => {
            scaled(format!("{f:.0}").as_bytes(), 0).map_err(|_| not_int())
        }
        Value::Decimal(v, s) => scaled(format_decimal(*v, *s).as_bytes(), 0).map_err(|_| not_int()),
        _ => Err(not_int()),
    }
}

/// Why decimal text did not scale.
#[derive(Debug, PartialEq)]
enum Scaled {
    NotANumber,
    TooManyPlaces,
    Overflow,
}

/// Parses decimal text (`-12.5`, `1e3`) into sign and unscaled magnitude at `scale`, exactly.
fn scaled(text: &[u8], scale: u8) -> Result<(bool, U256), Scaled> {
    let text = text.trim_ascii();
    let (neg, rest) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
        None => return Err(Scaled::NotANumber),
    };
    let (mantissa, exp) = match rest.iter().position(|c| matches!(c, b'e' | b'E')) {
        Some(i) => {
            let e = std::str::from_utf8(&rest[i + 1..])
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
                .ok_or(Scaled::NotANumber)?;
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&c| c == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &b""[..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(Scaled::NotANumber);
    }
    let ten = U256::from(10u8);
    let mut digits = U256::ZERO;
    for &c in int_part.iter().chain(frac_part) {
        if !c.is_ascii_digit() {
            return Err(Scaled::NotANumber);
        }
        digits = digits
            .checked_mul(ten)
            .and_then(|d| d.checked_add(U256::from(c - b'0')))
            .ok_or(Scaled::Overflow)?;
    }
    let shift = i64::from(frac_part.len() as u32) - i64::from(exp);
    let target = i64::from(scale);
    let mag = if shift > target {
        let drop = u32::try_from(shift - target).map_err(|_| Scaled::TooManyPlaces)?;
        match ten.checked_pow(drop) {
            Some(div) if digits % div == U256::ZERO => digits / div,
            None if digits == U256::ZERO => U256::ZERO,
            _ => return Err(Scaled::TooManyPlaces),
        }
    } else {
        let up = u32::try_from(target - shift).map_err(|_| Scaled::Overflow)?;
        if digits == U256::ZERO {
            U256::ZERO
        } else {
            ten.checked_pow(up)
                .and_then(|m| digits.checked_mul(m))
                .ok_or(Scaled::Overflow)?
        }
    };
    Ok((neg, mag))
}

/// Encodes a decimal of more than 38 digits of precision into 32 bytes.
pub fn encode_decimal256(
    value: &Value<'_>,
    precision: u8,
    scale: u8,
    out: &mut Vec<u8>,
) -> Result<(), ConvError> {
    let text: std::borrow::Cow<'_, [u8]> = match value {
        Value::Text(b) | Value::Str(b) | Value::Num(b) => (*b).into(),
        Value::Int(i) => i.to_string().into_bytes().into(),
        Value::UInt(u) => u.to_string().into_bytes().into(),
        Value::Float(f) if f.is_finite() => f.to_string().into_bytes().into(),
        Value::Decimal(v, s) => format_decimal(*v, *s).into_bytes().into(),
        _ => return Err(ConvError::new("not a decimal number")),
    };
    let overflow = || ConvError::new(format!("does not fit Decimal({precision}, {scale})"));
    let (neg, mag) = scaled(&text, scale).map_err(|e| match e {
        Scaled::NotANumber => ConvError::new("not a decimal number"),
        Scaled::TooManyPlaces => ConvError::new(format!("has more than {scale} decimal places")),
        Scaled::Overflow => overflow(),
    })?;
    let limit = U256::from(10u8)
        .checked_pow(u32::from(precision))
        .ok_or_else(overflow)?;
    if mag >= limit {
        return Err(overflow());
    }
    put_twos_complement(neg, mag, 32, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(w: WideInt, v: Value<'_>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        w.encode(&v, &mut out).map_err(|e| e.0)?;
        Ok(out)
    }

    fn dec(p: u8, s: u8, text: &str) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        encode_decimal256(&Value::Text(text.as_bytes()), p, s, &mut out).map_err(|e| e.0)?;
        Ok(out)
    }

    #[test]
    fn wide_integers_hold_their_exact_ranges() {
        // Bytes ClickHouse 26.9 writes for `toInt128(-2)` and `toUInt256(258)` in Native.
        let mut minus_two = vec![0xfe];
        minus_two.extend([0xff; 15]);
        assert_eq!(int(WideInt::I128, Value::Text(b"-2")).unwrap(), minus_two);
        let mut u = vec![2, 1];
        u.extend([0; 30]);
        assert_eq!(int(WideInt::U256, Value::Num(b"258")).unwrap(), u);

        let i128_min = "-170141183460469231731687303715884105728";
        assert!(int(WideInt::I128, Value::Text(i128_min.as_bytes())).is_ok());
        assert_eq!(
            int(
                WideInt::I128,
                Value::Text(b"170141183460469231731687303715884105728")
            )
            .unwrap_err(),
            "170141183460469231731687303715884105728 is out of range for Int128"
        );
        let u256_max =
            "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(
            int(WideInt::U256, Value::Text(u256_max.as_bytes())).unwrap(),
            vec![0xff; 32]
        );
        assert_eq!(
            int(WideInt::U256, Value::Text(b"115792089237316195423570985008687907853269984665640564039457584007913129639936"))
                .unwrap_err(),
            "115792089237316195423570985008687907853269984665640564039457584007913129639936 is out of range for 256 bits"
        );
        assert_eq!(
            int(WideInt::I256, Value::Text(u256_max.as_bytes())).unwrap_err(),
            format!("{u256_max} is out of range for Int256")
        );
        assert_eq!(
            int(WideInt::U128, Value::Int(-1)).unwrap_err(),
            "-1 is out of range for UInt128"
        );
        assert_eq!(int(WideInt::U128, Value::Text(b"-0")).unwrap(), vec![0; 16]);
        assert_eq!(
            int(WideInt::I256, Value::Num(b"1e3")).unwrap()[..2],
            [0xe8, 0x03]
        );
        assert_eq!(
            int(WideInt::I256, Value::Num(b"1.5")).unwrap_err(),
            "not an integer"
        );
        assert_eq!(
            int(WideInt::I256, Value::Text(b"1e3")).unwrap_err(),
            "not an integer"
        );
    }

    #[test]
    fn decimal256_is_exact() {
        // `toDecimal256('-1.5', 2)` in Native: -150 in 32 bytes.
        let mut expected = vec![0x6a];
        expected.extend([0xff; 31]);
        assert_eq!(dec(76, 2, "-1.5").unwrap(), expected);
        let max = format!("{}.{}", "9".repeat(66), "9".repeat(10));
        assert!(dec(76, 10, &max).is_ok());
        assert_eq!(
            dec(76, 10, &format!("1{}", "0".repeat(66))).unwrap_err(),
            "does not fit Decimal(76, 10)"
        );
        assert_eq!(
            dec(76, 2, "0.125").unwrap_err(),
            "has more than 2 decimal places"
        );
        assert_eq!(dec(50, 0, "1.20e1").unwrap()[0], 12);
        assert_eq!(dec(50, 0, "x").unwrap_err(), "not a decimal number");
    }
}
