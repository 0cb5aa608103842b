//! Broken files of every kind never panic, land no rows, and are reported with file, line (or
//! record), column and reason, in the manifest and in what the run prints.

use crate::data;
use crate::util::*;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use std::sync::Arc;

fn parquet_ids(ids: &[i64]) -> Vec<u8> {
    let names: Vec<String> = ids.iter().map(|i| format!("name {i}")).collect();
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
        ("name", Arc::new(StringArray::from(names)) as ArrayRef),
    ])
    .unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn many_rows(n: u32) -> String {
    let mut s = String::from("id,name\n");
    for i in 0..n {
        s.push_str(&format!("{},name number {i}\n", i % 200));
    }
    s
}

/// Broken files, each with the exact error the manifest records for it.
fn broken_files(env: &Env) -> Vec<(&'static str, String)> {
    let mut truncated = data::gzip(many_rows(5000).as_bytes());
    truncated.truncate(truncated.len() / 2);
    let mut footless = parquet_ids(&[1, 2, 3]);
    footless.truncate(footless.len() - 10);
    let mut pages = parquet_ids(&(0..100).collect::<Vec<_>>());
    for b in &mut pages[8..40] {
        *b = 0xff;
    }
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "pages.parquet",
            pages,
            "pages.parquet: corrupt Parquet data at record 1: Parquet argument error: Parquet error: \
          Required field compressed_page_size is missing",
        ),
        (
            "columns.csv",
            b"id,name\n1,a\n2,b,c\n".to_vec(),
            "columns.csv:3: expected 2 fields as in the header, found 3",
        ),
        (
            "number.jsonl",
            b"{\"id\":1,\"name\":\"a\"}\n{\"id\":\"x1\",\"name\":\"b\"}\n".to_vec(),
            "number.jsonl:2:id: cannot convert \"x1\" to UInt8: not an integer or boolean",
        ),
        (
            "truncated.csv.gz",
            truncated,
            "truncated.csv.gz:2345: gzip data is truncated or corrupt (incomplete deflate stream)",
        ),
        (
            "malformed.jsonl",
            b"{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"\n".to_vec(),
            "malformed.jsonl:2: malformed JSON: EOF while parsing an object at column 18",
        ),
        (
            "junk.json",
            b"\x00\xff\x13junk\x89".to_vec(),
            "junk.json:1: not a JSON array (a .json file holds an array of objects)",
        ),
        (
            "junk.xml",
            b"\x00\xff\x13junk\x89".to_vec(),
            "junk.xml:1: malformed XML: cannot decode input using UTF-8: invalid utf-8 sequence of 1 bytes from index 1",
        ),
        (
            "junk.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\xff".to_vec(),
            "junk.csv:1: the header row is not valid UTF-8 (for another encoding, set `encoding`)",
        ),
        (
            "footless.parquet",
            footless,
            "footless.parquet: corrupt Parquet file: Invalid Parquet file. Corrupt footer",
        ),
        (
            "claims.json",
            b"id,name\n1,a\n".to_vec(),
            "claims.json:1: not a JSON array (a .json file holds an array of objects)",
        ),
        (
            "plain.csv.gz",
            b"id,name\n1,a\n".to_vec(),
            "plain.csv.gz: not gzip data although the name ends in .gz",
        ),
        (
            "compressed.csv",
            data::gzip(b"id,name\n1,a\n"),
            "compressed.csv: gzip-compressed data although the name does not end in .gz",
        ),
        (
            "parquet.csv",
            parquet_ids(&[1]),
            "parquet.csv: Parquet data although the name says csv",
        ),
        (
            "text.parquet",
            b"id,name\n1,a\n".to_vec(),
            "text.parquet: not Parquet data (it does not start with PAR1) although the name says parquet",
        ),
        (
            "tags.xml",
            b"<r>\n<row><id>1</id></row>\n<row><id>2</name></row>\n</r>\n".to_vec(),
            "tags.xml:3: malformed XML: ill-formed document: expected `</id>`, but `</name>` was found",
        ),
        (
            "element.json",
            b"[{\"id\":1,\"name\":\"a\"},\n {\"id\":300,\"name\":\"b\"}]".to_vec(),
            "element.json:2:id: cannot convert \"300\" to UInt8: 300 is out of range for UInt8",
        ),
        (
            "record.parquet",
            parquet_ids(&[1, 300]),
            "record.parquet: record 2, column id: cannot convert \"300\" to UInt8: 300 is out of range for UInt8",
        ),
        (
            "record.xml",
            b"<r>\n<row><id>1</id></row>\n<row><id>x</id></row>\n</r>".to_vec(),
            "record.xml:3:id: cannot convert \"x\" to UInt8: not an integer or boolean",
        ),
    ];
    files
        .into_iter()
        .map(|(name, bytes, error)| {
            env.write(name, bytes);
            (name, error.to_owned())
        })
        .collect()
}

fn check_rejected(args: &[&str]) {
    let env = Env::new("broken");
    env.q("CREATE TABLE {db}.t (id UInt8, name String) ENGINE = MergeTree ORDER BY id");
    env.write("good.csv", "id,name\n7,fine\n");
    let expected = broken_files(&env);
    let mut all = vec!["--table", "t"];
    all.extend(args);
    let out = env.ingest(&all);
    assert_code(&out, 3);
    assert!(!out.all().contains("panicked"), "{}", out.all());
    assert_eq!(
        env.q("SELECT groupArray(id) FROM {db}.t").trim(),
        "[7]",
        "only the good file lands"
    );
    let recorded = env.q("SELECT path, error FROM {db}.ingest_manifest WHERE event = 'failed' ORDER BY path FORMAT TSV");
    let mut want: Vec<(&str, String)> = expected.clone();
    want.sort();
    let want: String = want.iter().map(|(p, e)| format!("{p}\t{e}\n")).collect();
    assert_eq!(recorded, want);
    for (_, error) in &expected {
        assert!(
            out.stdout.contains(error.as_str()),
            "{error} not in:\n{}",
            out.stdout
        );
    }
}

#[test]
fn broken_files_are_rejected_whole_with_the_reason() {
    check_rejected(&[]);
}

#[test]
fn broken_files_are_rejected_whole_when_read_batch_by_batch() {
    check_rejected(&["--batch-rows", "1"]);
}

#[test]
fn a_dry_run_reports_the_same_errors() {
    let env = Env::new("broken_dry");
    env.q("CREATE TABLE {db}.t (id UInt8, name String) ENGINE = MergeTree ORDER BY id");
    let expected = broken_files(&env);
    let out = env.ingest(&["--table", "t", "--dry-run"]);
    assert_code(&out, 3);
    assert!(!out.all().contains("panicked"), "{}", out.all());
    for (name, error) in &expected {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", out.stdout));
        assert!(line.starts_with("failed "), "{line}");
        assert!(
            line.ends_with(error.as_str()),
            "{line}\ndoes not end with {error}"
        );
    }
    assert_eq!(env.count("t"), 0);
}
