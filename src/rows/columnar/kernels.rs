//! One arrow array's rows into one block column. The common pairs (integers, floats, booleans,
//! strings into columns of their own kind) are copied straight into the column's buffer, doing
//! what converting each value would do; every other pair converts each value as a record's field
//! is converted, so both ways give the same bytes.

use crate::convert::Scalar;
use crate::formats::{value_at, widen};
use crate::native::{BlockBuilder, Bulk};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayAccessor, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::DataType;
use std::ops::Range;

/// Appends the rows of `a` to column `col`; `false` if a value does not convert.
pub fn fill(a: &dyn Array, rows: Range<usize>, block: &mut BlockBuilder, col: usize) -> bool {
    if let Some(mut bulk) = block.bulk(col)
        && let Some(done) = copy(a, rows.clone(), &mut bulk)
    {
        return done;
    }
    rows.into_iter()
        .all(|i| value_at(a, i).is_ok_and(|v| block.extend(col, &v).is_ok()))
}

/// Whether every row of an ignored field reads, as reading records requires.
pub fn readable(a: &dyn Array, rows: Range<usize>) -> bool {
    let always = match a.data_type() {
        DataType::Decimal32(_, s) | DataType::Decimal64(_, s) | DataType::Decimal128(_, s) => {
            *s >= 0
        }
        DataType::Null | DataType::Boolean | DataType::Date32 | DataType::Date64 => true,
        DataType::Timestamp(..) => true,
        t => is_bytes(t) || t.is_integer() || t.is_floating(),
    };
    always || rows.into_iter().all(|i| value_at(a, i).is_ok())
}

/// Types whose values are their bytes: strings and binary.
fn is_bytes(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

/// Copies the rows where the pair has a direct copy: `None` where it has not, else whether every
/// value converted.
fn copy(a: &dyn Array, rows: Range<usize>, b: &mut Bulk) -> Option<bool> {
    Some(match a.data_type() {
        DataType::Int8 => ints(a.as_primitive::<Int8Type>(), rows, b)?,
        DataType::Int16 => ints(a.as_primitive::<Int16Type>(), rows, b)?,
        DataType::Int32 => ints(a.as_primitive::<Int32Type>(), rows, b)?,
        DataType::Int64 => ints(a.as_primitive::<Int64Type>(), rows, b)?,
        DataType::UInt8 => ints(a.as_primitive::<UInt8Type>(), rows, b)?,
        DataType::UInt16 => ints(a.as_primitive::<UInt16Type>(), rows, b)?,
        DataType::UInt32 => ints(a.as_primitive::<UInt32Type>(), rows, b)?,
        DataType::UInt64 => ints(a.as_primitive::<UInt64Type>(), rows, b)?,
        DataType::Float32 => floats(a.as_primitive::<Float32Type>(), rows, b, widen_exact)?,
        DataType::Float64 => floats(a.as_primitive::<Float64Type>(), rows, b, |v| v)?,
        DataType::Boolean => match b.scalar() {
            Scalar::U8 | Scalar::Bool => each(a.as_boolean(), rows, b, |v, b| {
                b.put(&[u8::from(v)]);
                true
            }),
            _ => return None,
        },
        DataType::Utf8 => bytes(a.as_string::<i32>(), rows, b, str::as_bytes)?,
        DataType::LargeUtf8 => bytes(a.as_string::<i64>(), rows, b, str::as_bytes)?,
        DataType::Utf8View => bytes(a.as_string_view(), rows, b, str::as_bytes)?,
        DataType::Binary => bytes(a.as_binary::<i32>(), rows, b, |v| v)?,
        DataType::LargeBinary => bytes(a.as_binary::<i64>(), rows, b, |v| v)?,
        DataType::BinaryView => bytes(a.as_binary_view(), rows, b, |v| v)?,
        DataType::FixedSizeBinary(_) => bytes(a.as_fixed_size_binary(), rows, b, |v| v)?,
        _ => return None,
    })
}

/// Appends each row through `put`, NULLs as the column takes them; `false` at the first value
/// `put` refuses.
fn each<A: ArrayAccessor>(
    a: A,
    rows: Range<usize>,
    b: &mut Bulk,
    mut put: impl FnMut(A::Item, &mut Bulk) -> bool,
) -> bool {
    for i in rows {
        if a.is_null(i) {
            b.put_null();
        } else if !put(a.value(i), b) {
            return false;
        }
    }
    true
}

/// Integers into integer and float columns, refusing what is out of a column's range.
fn ints<T>(a: &PrimitiveArray<T>, rows: Range<usize>, b: &mut Bulk) -> Option<bool>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i128>,
{
    fn to<N: TryFrom<i128>, const W: usize>(
        bytes: impl Fn(N) -> [u8; W],
    ) -> impl Fn(i128, &mut Bulk) -> bool {
        move |v, b| match N::try_from(v) {
            Ok(v) => {
                b.put(&bytes(v));
                true
            }
            Err(_) => false,
        }
    }
    fn run<T: ArrowPrimitiveType>(
        a: &PrimitiveArray<T>,
        rows: Range<usize>,
        b: &mut Bulk,
        put: impl Fn(i128, &mut Bulk) -> bool,
    ) -> bool
    where
        T::Native: Into<i128>,
    {
        each(a, rows, b, |v, b| put(v.into(), b))
    }
    Some(match b.scalar() {
        Scalar::I8 => run(a, rows, b, to(i8::to_le_bytes)),
        Scalar::I16 => run(a, rows, b, to(i16::to_le_bytes)),
        Scalar::I32 => run(a, rows, b, to(i32::to_le_bytes)),
        Scalar::I64 => run(a, rows, b, to(i64::to_le_bytes)),
        Scalar::U8 => run(a, rows, b, to(u8::to_le_bytes)),
        Scalar::U16 => run(a, rows, b, to(u16::to_le_bytes)),
        Scalar::U32 => run(a, rows, b, to(u32::to_le_bytes)),
        Scalar::U64 => run(a, rows, b, to(u64::to_le_bytes)),
        // As a record's integer goes into a float column: through `f64`.
        Scalar::F64 => run(a, rows, b, |v, b| {
            b.put(&(v as f64).to_le_bytes());
            true
        }),
        Scalar::F32 => run(a, rows, b, |v, b| {
            b.put(&((v as f64) as f32).to_le_bytes());
            true
        }),
        _ => return None,
    })
}

/// `widen` for every value, quicker where its answer is known: an integer an `f32` holds exactly
/// is its own shortest decimal form.
fn widen_exact(v: f32) -> f64 {
    match v.fract() == 0.0 && v.abs() <= 16_777_216.0 {
        true => f64::from(v),
        false => widen(v),
    }
}

/// Floats into float columns, as a record's float value goes there: through `f64` (a `Float32`
/// by `widen`), refusing a finite value that overflows `Float32`.
fn floats<T>(
    a: &PrimitiveArray<T>,
    rows: Range<usize>,
    b: &mut Bulk,
    wide: impl Fn(T::Native) -> f64,
) -> Option<bool>
where
    T: ArrowPrimitiveType,
{
    Some(match b.scalar() {
        Scalar::F64 => each(a, rows, b, |v, b| {
            b.put(&wide(v).to_le_bytes());
            true
        }),
        Scalar::F32 => each(a, rows, b, |v, b| {
            let w = wide(v);
            let v = w as f32;
            b.put(&v.to_le_bytes());
            v.is_finite() || !w.is_finite()
        }),
        _ => return None,
    })
}

/// Strings and binary into `String` columns, and `FixedString` columns they fit.
fn bytes<'a, A: ArrayAccessor + 'a>(
    a: A,
    rows: Range<usize>,
    b: &mut Bulk,
    raw: impl Fn(A::Item) -> &'a [u8],
) -> Option<bool> {
    Some(match *b.scalar() {
        Scalar::String => each(a, rows, b, |v, b| {
            b.put_str(raw(v));
            true
        }),
        Scalar::FixedString(n) => each(a, rows, b, |v, b| {
            let v = raw(v);
            b.put_with(|data| {
                data.extend_from_slice(v);
                data.resize(data.len() + n.saturating_sub(v.len()), 0);
            });
            v.len() <= n
        }),
        _ => return None,
    })
}
