//! Parquet through the arrow reader: read in place (or from a temporary file once decompressed)
//! in batches of bounded size, every value handed over with the type the file gives it.

use super::decompress::{PARQUET_MAGIC, spool};
use super::parquet_footer::schema_depth;
use super::{Compression, FieldSink, Input, Limits, ReadError, RecordError, RecordSource};
use crate::value::Value;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;
use std::cell::Cell;
use std::collections::HashSet;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

/// Rows decoded at a time; with the reader's page buffers, this bounds memory.
const BATCH_ROWS: usize = 4096;

/// Schema levels a file may have: each list takes two or three, so this leaves room for lists
/// nested as deep as `Limits::max_depth` allows, and keeps the reader's recursive schema
/// building far from the end of the stack.
const MAX_SCHEMA_LEVELS: usize = 256;

pub struct ParquetSource {
    reader: ParquetRecordBatchReader,
    fields: Vec<String>,
    batch: Option<RecordBatch>,
    row: usize,
    record: u64,
    /// Why the next batch did not decode, found by `Columns::peek`, for the next record to say.
    pending: Option<ReadError>,
}

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs a call into the Parquet reader, which can panic on corrupt input, turning a panic into
/// an error about the file. The panic is not reported on stderr: it is the file's fault.
pub fn guarded<T>(call: impl FnOnce() -> T) -> Result<T, ReadError> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(true));
    let result = catch_unwind(AssertUnwindSafe(call));
    GUARDED.with(|g| g.set(false));
    result.map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        ReadError::file(format!("corrupt Parquet file: {why}"))
    })
}

fn not_parquet() -> ReadError {
    ReadError::file("not Parquet data (it does not start with PAR1) although the name says parquet")
}

fn corrupt(e: impl std::fmt::Display) -> ReadError {
    let text = e.to_string();
    let text = text.strip_prefix("Parquet error: ").unwrap_or(&text);
    ReadError::file(format!("corrupt Parquet file: {text}"))
}

impl ParquetSource {
    pub fn open(
        input: Input,
        compression: Compression,
        limits: Limits,
        max_out: u64,
    ) -> Result<ParquetSource, ReadError> {
        let depth = limits.max_depth;
        let (fields, reader) = match (compression, input) {
            (Compression::None, Input::Bytes(b)) => {
                if !b.starts_with(PARQUET_MAGIC) {
                    return Err(not_parquet());
                }
                reader(b, depth)?
            }
            (Compression::None, Input::File(f)) => {
                let mut head = [0u8; 4];
                let read = std::os::unix::fs::FileExt::read_at(&f, &mut head, 0)
                    .map_err(|e| ReadError::io(&e, None))?;
                if read < 4 || head != PARQUET_MAGIC {
                    return Err(not_parquet());
                }
                reader(f, depth)?
            }
            (c, input) => reader(spool(input.into_reader(), c, max_out)?, depth)?,
        };
        Ok(ParquetSource {
            reader,
            fields,
            batch: None,
            row: 0,
            record: 0,
            pending: None,
        })
    }
}

/// Refuses a footer whose schema nests deeper than the reader may safely build. A footer this
/// check cannot find is left to the reader to report.
fn check_schema_depth<T: ChunkReader>(input: &T) -> Result<(), ReadError> {
    let len = input.len();
    let Some(tail) = len
        .checked_sub(8)
        .and_then(|at| input.get_bytes(at, 8).ok())
    else {
        return Ok(());
    };
    if &tail[4..] != PARQUET_MAGIC {
        return Ok(());
    }
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    let Some(footer) = len
        .checked_sub(8 + footer_len)
        .and_then(|at| input.get_bytes(at, footer_len as usize).ok())
    else {
        return Ok(());
    };
    match schema_depth(&footer) {
        Ok(levels) if levels > MAX_SCHEMA_LEVELS => Err(ReadError::file(format!(
            "the Parquet schema nests {levels} levels deep, more than {MAX_SCHEMA_LEVELS} (the \
             limit)"
        ))),
        Ok(_) => Ok(()),
        Err(why) => Err(ReadError::file(format!("corrupt Parquet file: {why}"))),
    }
}

/// How deeply lists nest in a column's type, counted without recursion.
fn list_depth(ty: &DataType) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(ty, 0usize)];
    while let Some((ty, depth)) = todo.pop() {
        deepest = deepest.max(depth);
        match ty {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                todo.push((f.data_type(), depth + 1));
            }
            DataType::Dictionary(_, values) => todo.push((values, depth)),
            DataType::Struct(fields) => {
                todo.extend(fields.iter().map(|f| (f.data_type(), depth + 1)));
            }
            DataType::Map(f, _) => todo.push((f.data_type(), depth + 1)),
            _ => {}
        }
    }
    deepest
}

/// The file's top-level field names and a batch reader over it.
fn reader<T: ChunkReader + 'static>(
    input: T,
    max_depth: usize,
) -> Result<(Vec<String>, ParquetRecordBatchReader), ReadError> {
    check_schema_depth(&input)?;
    let builder = guarded(|| ParquetRecordBatchReaderBuilder::try_new(input))?.map_err(corrupt)?;
    let mut seen = HashSet::new();
    let mut fields = Vec::new();
    for f in builder.schema().fields() {
        if !seen.insert(f.name().as_str()) {
            return Err(ReadError::file(format!(
                "the schema names column {:?} twice",
                f.name()
            )));
        }
        // The record is the first level, as in JSON.
        if list_depth(f.data_type()) + 1 > max_depth {
            return Err(ReadError::file(format!(
                "column {:?} has lists nested more than {max_depth} levels deep (the limit)",
                f.name()
            )));
        }
        fields.push(f.name().clone());
    }
    let reader = guarded(|| builder.with_batch_size(BATCH_ROWS).build())?.map_err(corrupt)?;
    Ok((fields, reader))
}

/// Records decoded column by column (Parquet's record batches), for a reader that converts whole
/// columns at once; records taken this way are not read again by `RecordSource::next_record`.
pub trait Columns {
    /// The batch holding the next record, and that record's row in it; `None` at the end of the
    /// file, or when the next batch does not decode (`next_record` then says why).
    fn peek(&mut self) -> Option<(&RecordBatch, usize)>;

    /// Takes the next `n` records, rows of the batch `peek` gave, as read.
    fn consume(&mut self, n: usize);
}

impl ParquetSource {
    /// Makes a batch with records left current; `false` at the end of the file.
    fn load(&mut self) -> Result<bool, ReadError> {
        while self.batch.as_ref().is_none_or(|b| self.row >= b.num_rows()) {
            match guarded(|| self.reader.next())? {
                None => return Ok(false),
                Some(Ok(b)) => {
                    self.batch = Some(b);
                    self.row = 0;
                }
                Some(Err(e)) => {
                    return Err(ReadError::file(format!(
                        "corrupt Parquet data at record {}: {e}",
                        self.record + 1
                    )));
                }
            }
        }
        Ok(true)
    }
}

impl Columns for ParquetSource {
    fn peek(&mut self) -> Option<(&RecordBatch, usize)> {
        if self.pending.is_some() {
            return None;
        }
        match self.load() {
            Ok(true) => self.batch.as_ref().map(|b| (b, self.row)),
            Ok(false) => None,
            Err(e) => {
                self.pending = Some(e);
                None
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.row += n;
        self.record += n as u64;
    }
}

impl RecordSource for ParquetSource {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if !self.load()? {
            return Ok(false);
        }
        let Some(batch) = self.batch.as_ref() else {
            return Ok(false);
        };
        let (row, record) = (self.row, self.record);
        self.row += 1;
        self.record += 1;
        for (i, column) in batch.columns().iter().enumerate() {
            let name = &self.fields[i];
            let fail = |reason: String| {
                ReadError::Record(RecordError {
                    line: None,
                    record,
                    column: Some(name.clone()),
                    reason,
                })
            };
            let value = guarded(|| value_at(column.as_ref(), row))?.map_err(fail)?;
            sink.field(i, name, value).map_err(|e| fail(e.0))?;
        }
        Ok(true)
    }

    fn columns(&mut self) -> Option<&mut dyn Columns> {
        Some(self)
    }
}

/// A `Float32` widened through its shortest decimal form, so 0.1f32 stays 0.1.
pub fn widen(v: f32) -> f64 {
    let mut buf = [0u8; 32];
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    if write!(cur, "{v:e}").is_err() {
        return f64::from(v);
    }
    let len = cur.position() as usize;
    std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::from(v))
}

fn decimal(v: i128, scale: i8) -> Result<Value<'static>, String> {
    if scale >= 0 {
        return Ok(Value::Decimal(v, scale as u8));
    }
    10i128
        .checked_pow(u32::from(scale.unsigned_abs()))
        .and_then(|m| v.checked_mul(m))
        .map(|v| Value::Decimal(v, 0))
        .ok_or_else(|| "decimal is too large".to_owned())
}

fn nanos(v: i64, unit: &TimeUnit) -> i128 {
    let per = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    i128::from(v) * per
}

/// The row of an integer array (dictionary keys), as an index.
fn index_at(keys: &dyn Array, row: usize) -> Option<usize> {
    let v: i128 = match keys.data_type() {
        DataType::Int8 => keys.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => keys.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => keys.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => keys.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => keys.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => keys.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => keys.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => keys.as_primitive::<UInt64Type>().value(row).into(),
        _ => return None,
    };
    usize::try_from(v).ok()
}

fn list<'a>(values: &'a dyn Array, start: usize, end: usize) -> Result<Value<'a>, String> {
    (start..end)
        .map(|j| value_at(values, j))
        .collect::<Result<_, _>>()
        .map(Value::List)
}

/// The value at `row` of a column, with the type the file gives it.
pub fn value_at(a: &dyn Array, row: usize) -> Result<Value<'_>, String> {
    if a.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match a.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
        DataType::Int8 => Value::Int(a.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Int(a.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Int(a.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Int(a.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::UInt(a.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::UInt(a.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::UInt(a.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => Value::UInt(a.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => {
            Value::Float(widen(a.as_primitive::<Float16Type>().value(row).to_f32()))
        }
        DataType::Float32 => Value::Float(widen(a.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => Value::Float(a.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Str(a.as_string::<i32>().value(row).as_bytes()),
        DataType::LargeUtf8 => Value::Str(a.as_string::<i64>().value(row).as_bytes()),
        DataType::Utf8View => Value::Str(a.as_string_view().value(row).as_bytes()),
        DataType::Binary => Value::Str(a.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Value::Str(a.as_binary::<i64>().value(row)),
        DataType::BinaryView => Value::Str(a.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => Value::Str(a.as_fixed_size_binary().value(row)),
        DataType::Decimal32(_, s) => {
            decimal(a.as_primitive::<Decimal32Type>().value(row).into(), *s)?
        }
        DataType::Decimal64(_, s) => {
            decimal(a.as_primitive::<Decimal64Type>().value(row).into(), *s)?
        }
        DataType::Decimal128(_, s) => decimal(a.as_primitive::<Decimal128Type>().value(row), *s)?,
        DataType::Decimal256(_, s) => {
            let v = a.as_primitive::<Decimal256Type>().value(row);
            decimal(v.to_i128().ok_or("decimal is too large")?, *s)?
        }
        DataType::Date32 => Value::Date(a.as_primitive::<Date32Type>().value(row)),
        DataType::Date64 => Value::Timestamp(nanos(
            a.as_primitive::<Date64Type>().value(row),
            &TimeUnit::Millisecond,
        )),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(row),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(row),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(row),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(row),
            };
            Value::Timestamp(nanos(v, unit))
        }
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            let key = index_at(d.keys(), row).ok_or("bad dictionary key")?;
            value_at(d.values().as_ref(), key)?
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            list(l.values().as_ref(), o[row] as usize, o[row + 1] as usize)?
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            list(l.values().as_ref(), o[row] as usize, o[row + 1] as usize)?
        }
        DataType::FixedSizeList(_, n) => {
            let l = a.as_fixed_size_list();
            let start = l.value_offset_at(row);
            list(l.values().as_ref(), start, start + *n as usize)?
        }
        other => return Err(format!("Parquet type {other} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float32_widens_through_its_shortest_form() {
        assert_eq!(widen(0.1), 0.1);
        assert_eq!(widen(-3.4e38), -3.4e38);
        assert!(widen(f32::NAN).is_nan());
        assert_eq!(widen(f32::INFINITY), f64::INFINITY);
    }

    fn sample_file() -> Vec<u8> {
        use arrow_array::{ArrayRef, Int64Array, StringArray};
        let ids: Vec<i64> = (0..50).collect();
        let names: Vec<String> = ids.iter().map(|i| format!("name {i}")).collect();
        let batch = RecordBatch::try_from_iter([
            ("id", std::sync::Arc::new(Int64Array::from(ids)) as ArrayRef),
            (
                "name",
                std::sync::Arc::new(StringArray::from(names)) as ArrayRef,
            ),
        ])
        .unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let mut out = Vec::new();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    }

    struct Ignore;

    impl FieldSink for Ignore {
        fn field(
            &mut self,
            _: usize,
            _: &str,
            _: Value<'_>,
        ) -> Result<(), crate::convert::ConvError> {
            Ok(())
        }
    }

    /// Reads every record; `Err` with the first file-level error.
    fn read_all(bytes: Vec<u8>) -> Result<u64, String> {
        read_with(bytes, Limits::default())
    }

    fn read_with(bytes: Vec<u8>, limits: Limits) -> Result<u64, String> {
        let mut src = ParquetSource::open(
            Input::Bytes(bytes::Bytes::from(bytes)),
            Compression::None,
            limits,
            1 << 30,
        )
        .map_err(|e| e.describe("f"))?;
        let mut n = 0;
        loop {
            match src.next_record(&mut Ignore) {
                Ok(true) => n += 1,
                Ok(false) => return Ok(n),
                Err(ReadError::Record(_)) => n += 1,
                Err(e) => return Err(e.describe("f")),
            }
        }
    }

    #[test]
    fn corrupt_bytes_anywhere_are_errors_not_panics() {
        let good = sample_file();
        assert_eq!(read_all(good.clone()), Ok(50));
        let mut failures = 0;
        for i in 4..good.len() - 4 {
            for flip in [0xffu8, 0x01] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                if read_all(bad).is_err() {
                    failures += 1;
                }
            }
        }
        assert!(failures > 0);
    }

    #[test]
    fn a_deeply_nested_schema_is_refused_before_the_reader_builds_it() {
        let footer = crate::formats::parquet_footer::tests::nested_footer(100_000);
        let mut file = PARQUET_MAGIC.to_vec();
        file.extend(&footer);
        file.extend((footer.len() as u32).to_le_bytes());
        file.extend(PARQUET_MAGIC);
        assert_eq!(
            read_all(file),
            Err("f: the Parquet schema nests 100000 levels deep, more than 256 (the limit)".into())
        );
    }

    #[test]
    fn lists_nested_too_deeply_are_refused() {
        use arrow_array::{ArrayRef, ListArray};
        use std::sync::Arc;
        fn nested(depth: usize) -> Vec<u8> {
            let one = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])]);
            let offsets = one.offsets().clone();
            let mut array: ArrayRef = Arc::new(one);
            for _ in 1..depth {
                let item = arrow_schema::Field::new("item", array.data_type().clone(), true);
                array = Arc::new(ListArray::new(Arc::new(item), offsets.clone(), array, None));
            }
            let batch = RecordBatch::try_from_iter([("a", array)]).unwrap();
            let mut out = Vec::new();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            out
        }
        let limits = Limits {
            max_depth: 16,
            ..Limits::default()
        };
        assert_eq!(read_with(nested(15), limits), Ok(1));
        assert_eq!(
            read_with(nested(16), limits),
            Err("f: column \"a\" has lists nested more than 16 levels deep (the limit)".into())
        );
    }

    #[test]
    fn negative_scales_scale_up() {
        assert_eq!(decimal(12, -2).unwrap(), Value::Decimal(1200, 0));
        assert_eq!(decimal(12, 3).unwrap(), Value::Decimal(12, 3));
        assert!(decimal(i128::MAX, -2).is_err());
    }
}
