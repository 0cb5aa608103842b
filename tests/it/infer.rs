//! `--create-table`: missing tables are created with types inferred from their files, with the
//! provenance columns and the configured engine and ORDER BY; a dry run only shows the statement.

use crate::util::*;
use arrow_array::builder::{ListBuilder, PrimitiveBuilder};
use arrow_array::types::Int64Type;
use arrow_array::{
    ArrayRef, Date32Array, Decimal128Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use std::sync::Arc;

/// `name type` lines of a table's columns, in order.
fn columns(env: &Env, table: &str) -> String {
    env.q(&format!(
        "SELECT name, type FROM system.columns WHERE database = '{{db}}' AND table = '{table}' \
         FORMAT TSVRaw"
    ))
}

fn table_info(env: &Env, table: &str) -> String {
    env.q(&format!(
        "SELECT engine, sorting_key FROM system.tables WHERE database = '{{db}}' AND name = '{table}' \
         FORMAT TSVRaw"
    ))
}

#[test]
fn create_table_infers_column_types_from_csv() {
    let env = Env::new("infer_csv");
    env.write(
        "a.csv",
        "id,price,ok,day,ts,full name,note,zip\n\
         1,1.5,true,2024-01-01,2024-01-01 10:00:00,a,,007\n\
         2,2,false,2024-01-02,2024-01-02T10:00:00Z,b,x,010\n",
    );
    let out = env.ingest(&["--table", "t", "--create-table"]);
    assert_code(&out, 0);
    // 18.16 has no Bool: booleans go into UInt8 there.
    let boolean = if env.ch.is_old() { "UInt8" } else { "Bool" };
    assert_eq!(
        columns(&env, "t"),
        format!(
            "id\tInt64\nprice\tFloat64\nok\t{boolean}\nday\tDate\nts\tDateTime\nfull name\tString\n\
             note\tNullable(String)\nzip\tString\n_ingest_file\tUInt64\n_ingest_row\tUInt64\n"
        )
    );
    assert_eq!(
        table_info(&env, "t"),
        "MergeTree\t_ingest_file, _ingest_row\n"
    );
    assert_eq!(
        env.q("SELECT id, price, toUInt8(ok), day, ts, `full name`, note, zip FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\t1.5\t1\t2024-01-01\t2024-01-01 10:00:00\ta\t\\N\t007\n\
         2\t2\t0\t2024-01-02\t2024-01-02 10:00:00\tb\tx\t010\n"
    );
    let created = format!(
        "created table {db}.t: CREATE TABLE IF NOT EXISTS `{db}`.`t` (`id` Int64, ",
        db = env.db
    );
    assert!(out.stdout.contains(&created), "{}", out.stdout);
}

fn parquet_facts() -> Vec<u8> {
    let mut nums = ListBuilder::new(PrimitiveBuilder::<Int64Type>::new());
    nums.values().append_value(1);
    nums.values().append_value(2);
    nums.append(true);
    nums.append(true);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2]))),
        (
            "price",
            Arc::new(
                Decimal128Array::from(vec![1234, -5])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        (
            "ts",
            Arc::new(TimestampMillisecondArray::from(vec![
                1_700_000_000_250,
                1_700_000_001_000,
            ])),
        ),
        ("day", Arc::new(Date32Array::from(vec![19_000, 19_001]))),
        ("name", Arc::new(StringArray::from(vec![Some("a"), None]))),
        ("nums", Arc::new(nums.finish())),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

#[test]
fn create_table_infers_from_json_lines_and_parquet() {
    let env = Env::new("infer_typed");
    env.write(
        "events/a.jsonl",
        "{\"id\":1,\"tags\":[\"a\",\"b\"],\"nums\":[1,2],\"obj\":{\"k\":1},\"score\":1.5,\
          \"when\":\"2024-01-01T00:00:00.250Z\",\"flag\":true}\n\
         {\"id\":2,\"tags\":[],\"nums\":[3,null],\"obj\":{\"k\":2},\"flag\":false,\"extra\":null}\n",
    );
    env.write("facts/b.parquet", parquet_facts());
    let config = env.dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        "create_table = true\n\
         [[route]]\nglob = 'events/**'\ntable = 'events'\n\
         [[route]]\nglob = 'facts/**'\ntable = 'facts'\n",
    )
    .unwrap();
    assert_code(&env.ingest(&["--config", config.to_str().unwrap()]), 0);
    // 18.16 has neither DateTime64 nor Bool: sub-second times go into DateTime (whole seconds),
    // booleans into UInt8.
    let (time, boolean, millis) = match env.ch.is_old() {
        true => ("DateTime", "UInt8", ""),
        false => ("DateTime64(3)", "Bool", ".250"),
    };
    assert_eq!(
        columns(&env, "events"),
        format!(
            "id\tInt64\ntags\tArray(String)\nnums\tArray(Nullable(Int64))\nobj\tString\n\
             score\tNullable(Float64)\nwhen\tNullable({time})\nflag\t{boolean}\n\
             extra\tNullable(String)\n_ingest_file\tUInt64\n_ingest_row\tUInt64\n"
        )
    );
    assert_eq!(
        env.q("SELECT id, tags, nums, obj, score, when, toUInt8(flag), extra FROM {db}.events ORDER BY id FORMAT TSV"),
        format!(
            "1\t['a','b']\t[1,2]\t{{\"k\":1}}\t1.5\t2024-01-01 00:00:00{millis}\t1\t\\N\n\
             2\t[]\t[3,NULL]\t{{\"k\":2}}\t\\N\t\\N\t0\t\\N\n"
        )
    );
    assert_eq!(
        columns(&env, "facts"),
        format!(
            "id\tInt64\nprice\tDecimal(38, 2)\nts\t{time}\nday\tDate\nname\tNullable(String)\n\
             nums\tArray(Int64)\n_ingest_file\tUInt64\n_ingest_row\tUInt64\n"
        )
    );
    let whole = if env.ch.is_old() { "" } else { ".000" };
    assert_eq!(
        env.q("SELECT id, price, ts, day, name, nums FROM {db}.facts ORDER BY id FORMAT TSV"),
        format!(
            "1\t12.34\t2023-11-14 22:13:20{millis}\t2022-01-08\ta\t[1,2]\n\
             2\t-0.05\t2023-11-14 22:13:21{whole}\t2022-01-09\t\\N\t[]\n"
        )
    );
}

#[test]
fn a_dry_run_prints_the_statement_and_creates_nothing() {
    let env = Env::new("infer_dry");
    env.write(
        "a.jsonl",
        "{\"id\":1,\"name\":\"x\"}\n{\"id\":2,\"name\":\"y\"}\n",
    );
    let out = env.ingest(&["--table", "t", "--create-table", "--dry-run"]);
    assert_code(&out, 0);
    // Where the server has it, a created table keeps a deduplication window for the tokens.
    let settings = match env.ch.is_old() {
        true => "",
        false => " SETTINGS non_replicated_deduplication_window = 1000",
    };
    let ddl = format!(
        "would create table {db}.t: CREATE TABLE IF NOT EXISTS `{db}`.`t` (`id` Int64, \
         `name` String, `_ingest_file` UInt64, `_ingest_row` UInt64) ENGINE = MergeTree \
         ORDER BY (_ingest_file, _ingest_row){settings}\n",
        db = env.db
    );
    assert!(out.stdout.starts_with(&ddl), "{}", out.stdout);
    let row: Vec<&str> = out
        .stdout
        .lines()
        .find(|l| l.starts_with("new "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[1..5],
        ["a.jsonl", "jsonl", &format!("{}.t", env.db), "2"]
    );
    assert_eq!(
        env.q("SELECT count() FROM system.tables WHERE database = '{db}' AND name = 't'")
            .trim(),
        "0"
    );
}

#[test]
fn routes_and_flags_choose_the_engine_and_order_by() {
    let env = Env::new("infer_engine");
    env.write("r/a.csv", "id,v\n1,a\n");
    env.write("other.csv", "id,v\n2,b\n");
    let config = env.dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        "table = 'plain'\n\
         [[route]]\nglob = 'r/**'\ntable = 'r'\ncreate_table = true\n\
         engine = 'ReplacingMergeTree'\norder_by = '(id)'\n",
    )
    .unwrap();
    let out = run(env
        .command("run")
        .args(["--config", config.to_str().unwrap()])
        .env("INGEST_CREATE_TABLE", "true")
        .env("INGEST_ORDER_BY", "tuple()"));
    assert_code(&out, 0);
    // Newer servers report a parenthesized single-column key with its parentheses.
    let key = if env.ch.is_old() { "id" } else { "(id)" };
    assert_eq!(
        table_info(&env, "r"),
        format!("ReplacingMergeTree\t{key}\n")
    );
    assert_eq!(table_info(&env, "plain"), "MergeTree\t\n");
    assert_eq!(env.count("r") + env.count("plain"), 2);
}

#[test]
fn a_missing_table_is_a_configuration_error_and_an_unusable_name_fails_its_file() {
    let env = Env::new("infer_errors");
    env.write("a.csv", "_ingest_row,x\n1,2\n");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 2);
    assert!(
        out.stderr.contains(&format!(
            "target table {}.t does not exist; create it first, or pass --create-table to \
             create it from its files",
            env.db
        )),
        "{}",
        out.stderr
    );
    let out = env.ingest(&["--table", "t", "--create-table"]);
    assert_code(&out, 3);
    assert!(
        squeezed(&out.stdout).contains(
            "failed a.csv: field `_ingest_row` is reserved for provenance, so the file \
             cannot shape the new table"
        ),
        "{}",
        out.all()
    );
    let out = env.ingest(&[
        "--table",
        "t",
        "--create-table",
        "--engine",
        "MergeTree; DROP",
    ]);
    assert_code(&out, 2);
    assert!(
        out.stderr.contains(
            "--engine: `MergeTree; DROP` is not an engine like MergeTree or ReplacingMergeTree(version)"
        ),
        "{}",
        out.stderr
    );
}
