//! Parquet read column by column lands what reading it record by record lands: the same rows,
//! provenance, metadata and rejects, under a route's renames, case-insensitive names and ignored
//! fields. `FAILPOINTS=parquet-row-path=return` makes a run read record by record.

use crate::util::*;
use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, BooleanArray, Date32Array, Float32Array, Int32Array, Int64Array};
use arrow_array::{RecordBatch, StringArray, TimestampMillisecondArray};
use std::sync::Arc;

const DDL: &str = "order_id Int64, name String, small Int16, f Float32, fw Float64, \
                   ns Nullable(String), fs FixedString(4), b UInt8, ni Nullable(Int32), nn Int32, \
                   ts DateTime, day Date, origin String";

const COLUMNS: &str = "order_id, name, small, f, fw, ns, fs, b, ni, nn, ts, day, origin, \
                       _ingest_file, _ingest_row";

const ROUTE: &str = "[[route]]\nglob = '*.parquet'\ntable = 't'\n\
                     columns = { 'Order ID' = 'order_id' }\ncase_insensitive = true\n\
                     unknown_fields = 'ignore'\nmetadata = { path = 'origin' }\n";

/// `rows` records in row groups of 6,000; `bad` records have a `small` that does not fit Int16.
fn file(rows: i64, bad: &[i64]) -> Vec<u8> {
    let mut text = StringBuilder::new();
    let mut maybe = StringBuilder::new();
    for i in 0..rows {
        text.append_value(format!("review {i} {}", "é".repeat((i * 31 % 90) as usize)));
        match i % 4 {
            0 => maybe.append_null(),
            1 => maybe.append_value(""),
            _ => maybe.append_value(format!("v{}", i % 97)),
        }
    }
    let tenth = |i: i64| (i % 13) as f32 * [1.0, 0.1, 0.25][i as usize % 3];
    let nullable = |i: i64| (i % 7 != 3).then_some(i as i32 - 5_000);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("Order ID", Arc::new(Int64Array::from_iter_values(0..rows))),
        ("NAME", Arc::new(text.finish())),
        (
            "small",
            Arc::new(Int64Array::from_iter_values((0..rows).map(
                |i| match bad.contains(&i) {
                    true => 70_000,
                    false => i % 60_000 - 30_000,
                },
            ))),
        ),
        (
            "f",
            Arc::new(Float32Array::from_iter_values((0..rows).map(tenth))),
        ),
        (
            "fw",
            Arc::new(Float32Array::from_iter_values((0..rows).map(tenth))),
        ),
        ("ns", Arc::new(maybe.finish())),
        (
            "fs",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("{}", i % 9_999)),
            )),
        ),
        (
            "b",
            Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 3 == 1)))),
        ),
        (
            "ni",
            Arc::new(Int32Array::from_iter((0..rows).map(nullable))),
        ),
        (
            "nn",
            Arc::new(Int32Array::from_iter((0..rows).map(nullable))),
        ),
        (
            "ts",
            Arc::new(TimestampMillisecondArray::from_iter_values(
                (0..rows).map(|i| 1_700_000_000_000 + i * 60_001),
            )),
        ),
        (
            "day",
            Arc::new(Date32Array::from_iter_values(
                (0..rows).map(|i| 19_000 + (i % 900) as i32),
            )),
        ),
        (
            "extra",
            Arc::new(Int64Array::from_iter_values((0..rows).map(|i| -i))),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(6_000))
        .build();
    let mut out = Vec::new();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

/// Ingests the files into a fresh table, by columns or by records; the table's fingerprint,
/// the rejects, and the run's exit code and errors.
fn ingest(test: &str, by_records: bool, files: &[(&str, &[u8])], args: &[&str]) -> [String; 3] {
    let env = Env::new(test);
    env.q(&format!(
        "CREATE TABLE {{db}}.t ({DDL}) ENGINE = MergeTree ORDER BY (name, order_id)"
    ));
    for (name, bytes) in files {
        env.write(name, bytes);
    }
    let config = env.dir.path().join("ingest.toml");
    std::fs::write(&config, ROUTE).unwrap();
    let mut cmd = env.command("run");
    cmd.args(["--config", config.to_str().unwrap()]).args(args);
    if by_records {
        cmd.env("FAILPOINTS", "parquet-row-path=return");
    }
    let out = run(&mut cmd);
    let all = out.all();
    let errors: Vec<&str> = all.lines().filter(|l| l.contains(".parquet:")).collect();
    let said = format!("code {}\n{}", out.code, errors.join("\n"));
    let rejects = env.q(
        "SELECT path, record, column, value, reason FROM {db}.ingest_manifest_rejects \
         ORDER BY path, record",
    );
    [env.fingerprint("t", COLUMNS), rejects, said]
}

#[test]
fn parquet_by_columns_lands_what_parquet_by_records_lands() {
    let (a, b) = (file(25_000, &[]), file(9_000, &[]));
    let files: [(&str, &[u8]); 2] = [("a.parquet", &a), ("b.parquet", &b)];
    let args = ["--batch-rows", "4000", "--insert-rows", "12000"];
    let by_columns = ingest("parquet_by_columns", false, &files, &args);
    let by_records = ingest("parquet_by_records", true, &files, &args);
    assert!(by_columns[0].starts_with("34000\t"), "{}", by_columns[2]);
    assert_eq!(by_columns, by_records);
    // A lone file: read twice (checked, then sent).
    let lone: [(&str, &[u8]); 1] = [("a.parquet", &a)];
    let by_columns = ingest("parquet_lone_by_columns", false, &lone, &[]);
    let by_records = ingest("parquet_lone_by_records", true, &lone, &[]);
    assert!(by_columns[0].starts_with("25000\t"), "{}", by_columns[2]);
    assert_eq!(by_columns, by_records);
}

#[test]
fn parquet_values_that_do_not_fit_are_reported_as_by_records() {
    let good = file(10_000, &[]);
    let bad = file(10_000, &[2, 4_095, 4_096, 8_000]);
    let files: [(&str, &[u8]); 2] = [("good.parquet", &good), ("bad.parquet", &bad)];
    let args = ["--batch-rows", "3000"];
    let by_columns = ingest("parquet_bad_by_columns", false, &files, &args);
    let by_records = ingest("parquet_bad_by_records", true, &files, &args);
    assert!(
        by_columns[2].contains(
            "bad.parquet: record 3, column small: cannot convert \"70000\" to Int16: 70000 is \
             out of range for Int16"
        ),
        "{}",
        by_columns[2]
    );
    assert!(by_columns[0].starts_with("10000\t"), "{}", by_columns[2]);
    assert_eq!(by_columns, by_records);
    let mut skip = args.to_vec();
    skip.extend(["--on-error", "skip-row"]);
    let by_columns = ingest("parquet_skip_by_columns", false, &files, &skip);
    let by_records = ingest("parquet_skip_by_records", true, &files, &skip);
    assert!(by_columns[0].starts_with("19996\t"), "{}", by_columns[2]);
    assert_eq!(by_columns[1].lines().count(), 4, "{}", by_columns[1]);
    assert_eq!(by_columns, by_records);
}
