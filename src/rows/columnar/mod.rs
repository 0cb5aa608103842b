//! Parquet's decoded columns straight into a block, many rows at a time: each field's arrow array
//! is converted as a whole into its column's `Native` encoding, and the rows get the values,
//! metadata, provenance and block boundaries reading record by record gives them. Rows with a
//! value that does not convert so are left to record-by-record reading, which says what is
//! wrong exactly as it always does.

mod kernels;

use super::target::ColumnPlan;
use crate::formats::{RecordSource, guarded};
use crate::native::BlockBuilder;
use arrow_array::RecordBatch;

/// What `Columnar::fill` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// This many rows were appended.
    Rows(usize),
    /// This many records must be read one by one: one of them does not convert column-wise.
    Refused(usize),
    /// Nothing to convert: the end of the file, or a batch that does not decode.
    Nothing,
}

/// How many rows one `Columnar::fill` may append: at most `rows`, and none after the one with
/// which the block holds `bytes` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    pub rows: usize,
    pub bytes: Option<usize>,
}

/// How one file's fields are read column by column.
#[derive(Debug)]
pub struct Columnar {
    /// The block column of each field (`None`: the field is ignored).
    fields: Vec<Option<usize>>,
}

impl Columnar {
    /// Column-wise reading of a file, where its reader decodes columns, its fields are known up
    /// front, every block column is plain or nullable and none reads text with a date format.
    pub fn new(
        source: &mut dyn RecordSource,
        plan: &ColumnPlan,
        block: &BlockBuilder,
    ) -> Option<Columnar> {
        source.columns()?;
        let fields = plan.field_columns()?.to_vec();
        let formatted = fields
            .iter()
            .flatten()
            .any(|&c| plan.reads_with_date_format(c));
        if formatted || !block.takes_bulk() || crate::failpoints::armed("parquet-row-path") {
            return None;
        }
        Some(Columnar { fields })
    }

    /// Appends as many of the next records to `block` as `room` allows, as complete rows, the
    /// first with ordinal `first`; fewer at the end of a decoded batch. Rows stop where `room`
    /// says the block is full: where record-by-record reading would write it out.
    pub fn fill(
        &self,
        source: &mut dyn RecordSource,
        plan: &ColumnPlan,
        block: &mut BlockBuilder,
        room: Room,
        file_id: u64,
        first: u64,
    ) -> Fill {
        let Some(columns) = source.columns() else {
            return Fill::Nothing;
        };
        let Some((batch, row)) = columns.peek() else {
            return Fill::Nothing;
        };
        let n = room.rows.min(batch.num_rows() - row);
        if n == 0 {
            return Fill::Nothing;
        }
        let start = block.rows();
        let converted = guarded(|| self.convert(batch, row, n, block)).unwrap_or(false);
        if !converted {
            block.truncate(start);
            return Fill::Refused(n);
        }
        plan.stamp_rows(block, file_id, first, n);
        let n = block.keep_reaching(start, room.bytes);
        columns.consume(n);
        Fill::Rows(n)
    }

    /// Appends rows `from..from + n` of every field to its column; `false` if a value does not
    /// convert (the block then holds part of them).
    fn convert(
        &self,
        batch: &RecordBatch,
        from: usize,
        n: usize,
        block: &mut BlockBuilder,
    ) -> bool {
        batch.num_columns() == self.fields.len()
            && batch
                .columns()
                .iter()
                .zip(&self.fields)
                .all(|(array, col)| match col {
                    Some(col) => kernels::fill(array.as_ref(), from..from + n, block, *col),
                    None => kernels::readable(array.as_ref(), from..from + n),
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ErrorPolicy;
    use crate::formats::{Compression, Detected, FieldSink, Format, Input, Limits, ReadError};
    use crate::rows::records::Records;
    use crate::rows::target::Target;
    use crate::sink::layout::{Capture, Layout, encode_batches};
    use arrow_array::{ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array};
    use arrow_array::{Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow_array::{UInt32Array, builder::StringBuilder};
    use chrono_tz::Tz;
    use std::sync::Arc;

    /// The table's columns, and the file's fields filling them in order.
    const COLUMNS: [(&str, &str); 14] = [
        ("id", "Int64"),
        ("small", "Int8"),
        ("u", "UInt32"),
        ("f", "Float32"),
        ("fw", "Float64"),
        ("d", "Float64"),
        ("s", "String"),
        ("ns", "Nullable(String)"),
        ("fs", "FixedString(4)"),
        ("b", "UInt8"),
        ("ni", "Nullable(Int32)"),
        ("nn", "Int32"),
        ("ts", "DateTime"),
        ("day", "Date"),
    ];

    /// `rows` rows in row groups of 10,000; `bad` rows get a `small` that does not fit Int8.
    fn file(rows: usize, bad: &[usize]) -> Vec<u8> {
        let n = rows as i64;
        let mut long = StringBuilder::new();
        let mut nulls = StringBuilder::new();
        for i in 0..rows {
            long.append_value("x".repeat(i * 7919 % 400));
            match i % 3 {
                0 => nulls.append_null(),
                1 => nulls.append_value(""),
                _ => nulls.append_value(format!("v{i}")),
            }
        }
        let small = (0..n).map(|i| match bad.contains(&(i as usize)) {
            true => 300,
            false => i % 200 - 100,
        });
        let maybe = |i: i64| (i % 5 != 0).then_some(i as i32 - 7);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(Int64Array::from_iter_values(small)),
            Arc::new(UInt32Array::from_iter_values((0..n).map(|i| i as u32 * 3))),
            Arc::new(Float32Array::from_iter_values(
                (0..n).map(|i| (i % 11) as f32 * [1.0, 0.1][i as usize % 2]),
            )),
            Arc::new(Float32Array::from_iter_values(
                (0..n).map(|i| (i % 13) as f32 * [1.0, 0.1][i as usize % 2]),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| i as f64 / 3.0),
            )),
            Arc::new(long.finish()),
            Arc::new(nulls.finish()),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("{}", i % 1000)),
            )),
            Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 3 == 0)))),
            Arc::new(Int32Array::from_iter((0..n).map(maybe))),
            Arc::new(Int32Array::from_iter((0..n).map(maybe))),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000 + i * 1_001),
            )),
            Arc::new(Date32Array::from_iter_values(
                (0..n).map(|i| 19_000 + i as i32 % 500),
            )),
        ];
        let names = COLUMNS.iter().map(|(name, _)| *name);
        let batch = RecordBatch::try_from_iter(names.zip(columns)).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(10_000))
            .build();
        let mut out = Vec::new();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    }

    fn target(sort_key: &[&str]) -> Target {
        crate::rows::target::table_of(&COLUMNS, sort_key)
    }

    /// A reader that hands over records one by one only.
    struct ByRecord(Box<dyn RecordSource>);

    impl RecordSource for ByRecord {
        fn fields(&self) -> &[String] {
            self.0.fields()
        }

        fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
            self.0.next_record(sink)
        }
    }

    /// What a pass over the file sent, how many records it read, its rejects and its verdict.
    fn pass(
        bytes: &[u8],
        by_columns: bool,
        layout: &Layout,
        target: &Target,
        policy: ErrorPolicy,
    ) -> (Capture, u64, String) {
        let detected = Detected {
            format: Format::Parquet,
            compression: Compression::None,
        };
        let input = Input::Bytes(bytes::Bytes::copy_from_slice(bytes));
        let opened =
            crate::formats::open(input, detected, Limits::default(), &Default::default()).unwrap();
        let mut source = match by_columns {
            true => opened,
            false => Box::new(ByRecord(opened)),
        };
        let rules = Arc::default();
        let mut plan = ColumnPlan::for_fields(target, source.fields(), false, &rules).unwrap();
        let mut block = plan.new_block(Tz::UTC).unwrap();
        let mut out = Capture::default();
        let mut records = Records::new(&mut *source, &mut plan, "0123abcd", policy, "f.parquet");
        encode_batches(&mut records, &mut block, layout, None, &[], &mut out).unwrap();
        let report = format!("{:?} {:?}", records.rejects, records.verdict());
        (out, records.records, report)
    }

    fn same_either_way(bytes: &[u8], layout: Layout, target: &Target, policy: ErrorPolicy) {
        let by_records = pass(bytes, false, &layout, target, policy);
        let by_columns = pass(bytes, true, &layout, target, policy);
        assert!(by_records.0.0.len() > 2, "{layout:?}");
        assert_eq!(by_columns.1, by_records.1, "{layout:?}");
        assert_eq!(by_columns.2, by_records.2, "{layout:?}");
        let names = |c: &Capture| c.0.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>();
        assert_eq!(names(&by_columns.0), names(&by_records.0), "{layout:?}");
        assert!(by_columns.0 == by_records.0, "{layout:?}: the bytes differ");
    }

    #[test]
    fn columns_send_the_bytes_records_send() {
        let bytes = file(60_000, &[]);
        let few = file(3_000, &[]);
        let unsorted = target(&[]);
        // Blocks written out by size (8 MiB) inside a batch, and at batch edges.
        for (batch_rows, insert_rows, bytes) in [
            (40_000, 80_000, &bytes),
            (7_000, 21_000, &bytes),
            (1, 3, &few),
        ] {
            let layout = Layout {
                batch_rows,
                insert_rows,
                key: Vec::new(),
                whole_inserts: false,
            };
            same_either_way(bytes, layout, &unsorted, ErrorPolicy::FailFile);
        }
        let sorted = target(&["s", "id"]);
        let layout = Layout {
            batch_rows: 7_000,
            insert_rows: 50_000,
            key: vec![6, 0],
            whole_inserts: false,
        };
        same_either_way(&bytes, layout, &sorted, ErrorPolicy::FailFile);
    }

    #[test]
    fn values_that_do_not_fit_are_found_by_records_as_ever() {
        let bytes = file(20_000, &[5, 4_100, 4_101, 13_000]);
        let layout = Layout {
            batch_rows: 3_000,
            insert_rows: 9_000,
            key: Vec::new(),
            whole_inserts: false,
        };
        let t = target(&[]);
        same_either_way(&bytes, layout.clone(), &t, ErrorPolicy::FailFile);
        let skip = ErrorPolicy::SkipRow {
            max_errors: 10,
            max_ratio: None,
        };
        same_either_way(&bytes, layout, &t, skip);
    }

    #[test]
    fn a_parquet_file_of_plain_columns_is_read_by_columns() {
        let bytes = file(5_000, &[]);
        let t = target(&[]);
        let input = Input::Bytes(bytes::Bytes::from(bytes));
        let detected = Detected {
            format: Format::Parquet,
            compression: Compression::None,
        };
        let mut source =
            crate::formats::open(input, detected, Limits::default(), &Default::default()).unwrap();
        let plan = ColumnPlan::for_fields(&t, source.fields(), false, &Arc::default()).unwrap();
        let mut block = plan.new_block(Tz::UTC).unwrap();
        let columnar = Columnar::new(&mut *source, &plan, &block).unwrap();
        let room = Room {
            rows: 10_000,
            bytes: None,
        };
        // The reader decodes 4,096 rows at a time.
        let fill = columnar.fill(&mut *source, &plan, &mut block, room, 1, 0);
        assert_eq!(fill, Fill::Rows(4_096));
        assert_eq!(block.rows(), 4_096);
    }
}
