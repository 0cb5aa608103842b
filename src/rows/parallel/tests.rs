use super::*;
use crate::config::ErrorPolicy;
use crate::formats::pieces::PIECE_BYTES;
use crate::formats::{Compression, Detected, Format, Input, Limits, TextOptions};
use crate::rows::records::Records;
use crate::rows::target::Target;
use crate::sink::layout::{Capture, Layout, encode_batches};

const COLUMNS: [(&str, &str); 5] = [
    ("id", "UInt64"),
    ("name", "String"),
    ("price", "Nullable(Float64)"),
    ("at", "DateTime"),
    ("note", "Nullable(String)"),
];

fn target() -> Target {
    crate::rows::target::table_of(&COLUMNS, &[])
}

/// A CSV file of `rows` records several pieces long: quoted fields with line ends and quotes
/// inside, CRLF and blank lines, NULLs; `bad` records have a price that is no number.
fn csv(rows: usize, bad: &[usize]) -> Vec<u8> {
    let mut out = b"id,name,price,at,note\n".to_vec();
    for i in 0..rows {
        let name = match i % 7 {
            0 => format!("\"multi\nline {i}, with \"\"quotes\"\"\""),
            1 => format!("plain{}", "x".repeat(i * 31 % 90)),
            _ => format!("\"q{i}\""),
        };
        let price = match (bad.contains(&i), i % 5) {
            (true, _) => "cheap".to_owned(),
            (false, 0) => String::new(),
            _ => format!("{}.{}", i % 1000, i % 100),
        };
        let end = if i % 11 == 0 { "\r\n" } else { "\n" };
        let blank = if i % 97 == 0 { "\n" } else { "" };
        let line = format!(
            "{i},{name},{price},2024-01-02 03:04:{:02},n{i}{end}{blank}",
            i % 60
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn jsonl(rows: usize, bad: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..rows {
        let price = match bad.contains(&i) {
            true => "\"cheap\"".to_owned(),
            false => format!("{}.5", i % 1000),
        };
        let blank = if i % 89 == 0 { "\n" } else { "" };
        let line = format!(
            "{{\"id\":{i},\"name\":\"n\\u00e9{}\",\"price\":{price},\"at\":\"2024-01-02 03:04:05\"}}\n{blank}",
            "y".repeat(i * 17 % 120)
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// What a pass over the file sent, how many records it read, and its rejects and verdict.
fn pass(
    text: &[u8],
    format: Format,
    jobs: usize,
    layout: &Layout,
    policy: ErrorPolicy,
) -> (Capture, u64, String) {
    let detected = Detected {
        format,
        compression: Compression::None,
    };
    let input = Input::Stream {
        reader: Box::new(std::io::Cursor::new(text.to_vec())),
        size: text.len() as u64,
    };
    let limits = Limits {
        max_record_bytes: 64 << 10,
        ..Limits::default()
    };
    let mut source =
        crate::formats::open(input, detected, limits, &TextOptions::default()).unwrap();
    let t = target();
    let rules = Arc::default();
    let mut plan = match format.fields_known_up_front() {
        true => ColumnPlan::for_fields(&t, source.fields(), false, &rules).unwrap(),
        false => ColumnPlan::for_table(&t, &rules).unwrap(),
    };
    let mut block = plan.new_block(Tz::UTC).unwrap();
    let mut out = Capture::default();
    let mut records =
        Records::new(&mut *source, &mut plan, "0123abcd", policy, "f").on_jobs(jobs, Tz::UTC);
    encode_batches(&mut records, &mut block, layout, None, &[], &mut out).unwrap();
    let report = format!("{:?} {:?}", records.rejects, records.verdict());
    (out, records.records, report)
}

fn same_on_any_jobs(text: &[u8], format: Format, layout: &Layout, policy: ErrorPolicy) -> String {
    let one = pass(text, format, 1, layout, policy);
    for jobs in [2, 3] {
        let many = pass(text, format, jobs, layout, policy);
        assert_eq!(many.1, one.1, "{jobs} jobs: records");
        assert_eq!(many.2, one.2, "{jobs} jobs: rejects");
        let names = |c: &Capture| c.0.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>();
        assert_eq!(names(&many.0), names(&one.0), "{jobs} jobs: {layout:?}");
        assert!(many.0 == one.0, "{jobs} jobs: the bytes differ");
    }
    one.2
}

fn layouts() -> [Layout; 2] {
    [
        Layout {
            batch_rows: 7_000,
            insert_rows: 21_000,
            key: Vec::new(),
        },
        Layout {
            batch_rows: 5_000,
            insert_rows: 50_000,
            key: vec![1, 0],
        },
    ]
}

fn skip(max_errors: u64) -> ErrorPolicy {
    ErrorPolicy::SkipRow {
        max_errors,
        max_ratio: None,
    }
}

#[test]
fn files_read_in_pieces_are_cut_and_sent_as_on_one_thread() {
    let text = csv(60_000, &[]);
    assert!(text.len() > 3 * PIECE_BYTES);
    for layout in layouts() {
        same_on_any_jobs(&text, Format::Csv, &layout, ErrorPolicy::FailFile);
    }
    let text = jsonl(40_000, &[]);
    assert!(text.len() > 3 * PIECE_BYTES);
    for layout in layouts() {
        same_on_any_jobs(&text, Format::Jsonl, &layout, ErrorPolicy::FailFile);
    }
}

#[test]
fn bad_records_are_found_with_their_lines_as_on_one_thread() {
    let bad = [3, 9_000, 9_001, 20_500, 39_999];
    let text = csv(40_000, &bad);
    let layout = &layouts()[0];
    let report = same_on_any_jobs(&text, Format::Csv, layout, ErrorPolicy::FailFile);
    assert!(report.contains("line: Some(7)"), "{report}");
    same_on_any_jobs(&text, Format::Csv, layout, skip(10));
    same_on_any_jobs(&text, Format::Csv, layout, skip(2));
    let text = jsonl(25_000, &bad);
    same_on_any_jobs(&text, Format::Jsonl, layout, ErrorPolicy::FailFile);
    same_on_any_jobs(&text, Format::Jsonl, layout, skip(10));
}

#[test]
fn a_file_that_breaks_midway_breaks_where_it_does_on_one_thread() {
    let layout = &layouts()[0];
    // A quote left open two pieces in, and a record past the limit.
    let mut text = csv(30_000, &[]);
    text.extend_from_slice(b"1,\"open,1.5,2024-01-02 03:04:05,x\n");
    for i in 0..20_000 {
        text.extend_from_slice(format!("{i},plain,1.5,2024-01-02 03:04:05,n\n").as_bytes());
    }
    let report = same_on_any_jobs(&text, Format::Csv, layout, skip(10));
    assert!(
        report.contains("not closed") || report.contains("longer than"),
        "{report}"
    );
    let mut text = jsonl(20_000, &[]);
    text.extend(std::iter::repeat_n(b'x', 100 << 10));
    text.extend_from_slice(&jsonl(100, &[]));
    let report = same_on_any_jobs(&text, Format::Jsonl, layout, skip(10));
    assert!(report.contains("longer than"), "{report}");
}

#[test]
fn only_formats_cut_into_pieces_and_blocks_of_plain_columns_go_to_workers() {
    let t = target();
    let rules = Arc::default();
    let open = |text: &[u8], format| {
        let input = Input::Bytes(bytes::Bytes::copy_from_slice(text));
        let detected = Detected {
            format,
            compression: Compression::None,
        };
        crate::formats::open(input, detected, Limits::default(), &TextOptions::default()).unwrap()
    };
    let mut source = open(&csv(10, &[]), Format::Csv);
    let plan = ColumnPlan::for_fields(&t, source.fields(), false, &rules).unwrap();
    assert!(Parallel::start(&mut *source, &plan, Tz::UTC, 1).is_none());
    assert!(Parallel::start(&mut *source, &plan, Tz::UTC, 2).is_some());
    let mut source = open(b"[{\"id\":1}]", Format::Json);
    let plan = ColumnPlan::for_table(&t, &rules).unwrap();
    assert!(Parallel::start(&mut *source, &plan, Tz::UTC, 2).is_none());
}
