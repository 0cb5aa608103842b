//! The same records written in every format the tool reads, compressed or not, and as a
//! TabSeparated reference that ClickHouse parses itself.

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, RecordBatch, StringArray,
    TimestampSecondArray, UInt32Array,
};
use chrono::{DateTime, NaiveDate};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::io::Write;
use std::sync::Arc;

pub const DDL: &str = "(id UInt32, name String, price Decimal(10, 2), ts DateTime, day Date, \
     flag UInt8, score Nullable(Float64), tags Array(String)) ENGINE = MergeTree ORDER BY id";

/// Order-independent columns for `Env::fingerprint`.
pub const COLUMNS: &str = "id, name, toString(price), ts, day, flag, \
     ifNull(toString(score), 'null'), tags";

pub struct Rec {
    pub id: u32,
    pub name: String,
    pub cents: i64,
    pub ts: i64,
    pub day: i32,
    pub flag: bool,
    pub score: Option<f64>,
    pub tags: Vec<String>,
}

pub fn records(n: u32) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            id: i,
            name: match i {
                i if i % 17 == 0 => String::new(),
                i if i % 13 == 0 => format!("two\nlines {i}"),
                i if i % 11 == 0 => format!("Zoë ✓ <b>&amp; {i}"),
                i if i % 7 == 0 => format!("quote \"x\", comma {i}"),
                i => format!("Name {i}"),
            },
            cents: i64::from(i) * 137 % 100_000 - 5_000,
            ts: 1_700_000_000 + i64::from(i) * 3601,
            day: 19_000 + i as i32,
            flag: i % 3 == 0,
            score: (i % 5 != 0).then(|| f64::from(i) * 0.25 - 10.0),
            tags: (0..i % 4)
                .map(|k| match (i % 9, k) {
                    (0, 1) => "x,y".to_owned(),
                    _ => format!("t{k}"),
                })
                .collect(),
        })
        .collect()
}

fn price(r: &Rec) -> String {
    let sign = if r.cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", r.cents.abs() / 100, r.cents.abs() % 100)
}

fn time(secs: i64, fmt: &str) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format(fmt)
        .to_string()
}

fn day(r: &Rec) -> String {
    (NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(r.day.into()))
        .to_string()
}

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

pub fn csv(recs: &[Rec]) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("id,name,price,ts,day,flag,score,tags\n");
    for r in recs {
        let tags: Vec<String> = r.tags.iter().map(|t| format!("'{t}'")).collect();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.id,
            q(&r.name),
            price(r),
            time(r.ts, "%Y-%m-%dT%H:%M:%SZ"),
            day(r),
            r.flag,
            r.score.map(|s| s.to_string()).unwrap_or_default(),
            q(&format!("[{}]", tags.join(",")))
        ));
    }
    out
}

fn object(r: &Rec, ts: &str, flag: &str, score: Option<String>) -> String {
    let tags: Vec<String> = r.tags.iter().map(|t| js(t)).collect();
    let score = score.map(|s| format!(",\"score\":{s}")).unwrap_or_default();
    format!(
        "{{\"id\":{},\"name\":{},\"price\":{},\"ts\":{ts},\"day\":{},\"flag\":{flag}{score},\"tags\":[{}]}}",
        r.id,
        js(&r.name),
        price(r),
        js(&day(r)),
        tags.join(",")
    )
}

/// A JSON array; times as epoch seconds, missing scores as `null`.
pub fn json(recs: &[Rec]) -> String {
    let items: Vec<String> = recs
        .iter()
        .map(|r| {
            let score = Some(r.score.map_or("null".to_owned(), |s| s.to_string()));
            object(r, &r.ts.to_string(), &r.flag.to_string(), score)
        })
        .collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// JSON Lines; times with a +02:00 offset, flags as 1/0, missing scores left out.
pub fn jsonl(recs: &[Rec]) -> String {
    recs.iter()
        .map(|r| {
            let ts = js(&time(r.ts + 7200, "%Y-%m-%dT%H:%M:%S+02:00"));
            let flag = u8::from(r.flag).to_string();
            object(r, &ts, &flag, r.score.map(|s| s.to_string())) + "\n"
        })
        .collect()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// XML: `id` as an attribute, the rest as elements, tags as a list; missing scores as a nil
/// element or left out.
pub fn xml(recs: &[Rec]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rows xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n",
    );
    for r in recs {
        let score = match (r.score, r.id % 2) {
            (Some(s), _) => format!("<score>{s}</score>"),
            (None, 0) => "<score xsi:nil=\"true\"/>".to_owned(),
            (None, _) => String::new(),
        };
        let tags: String = r.tags.iter().map(|t| format!("<tag>{t}</tag>")).collect();
        out.push_str(&format!(
            "  <row id=\"{}\">\n    <name>{}</name>\n    <price>{}</price><ts>{}</ts><day>{}</day>\n    <flag>{}</flag>{score}<tags>{tags}</tags>\n  </row>\n",
            r.id,
            xml_escape(&r.name),
            price(r),
            time(r.ts, "%Y-%m-%d %H:%M:%S"),
            day(r),
            r.flag
        ));
    }
    out.push_str("</rows>\n");
    out
}

pub fn parquet(recs: &[Rec]) -> Vec<u8> {
    let mut tags = ListBuilder::new(StringBuilder::new());
    for r in recs {
        for t in &r.tags {
            tags.values().append_value(t);
        }
        tags.append(true);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "id",
            Arc::new(UInt32Array::from_iter_values(recs.iter().map(|r| r.id))),
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(recs.iter().map(|r| &r.name))),
        ),
        (
            "price",
            Arc::new(
                Decimal128Array::from_iter_values(recs.iter().map(|r| i128::from(r.cents)))
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        (
            "ts",
            Arc::new(TimestampSecondArray::from_iter_values(
                recs.iter().map(|r| r.ts),
            )),
        ),
        (
            "day",
            Arc::new(Date32Array::from_iter_values(recs.iter().map(|r| r.day))),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from_iter(recs.iter().map(|r| Some(r.flag)))),
        ),
        (
            "score",
            Arc::new(Float64Array::from_iter(recs.iter().map(|r| r.score))),
        ),
        ("tags", Arc::new(tags.finish())),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(70))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

/// TabSeparated rows for ClickHouse's own parser, the reference the formats are checked against.
pub fn tsv(recs: &[Rec]) -> String {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
    };
    recs.iter()
        .map(|r| {
            let tags: Vec<String> = r
                .tags
                .iter()
                .map(|t| format!("'{}'", t.replace('\'', "\\'")))
                .collect();
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t[{}]\n",
                r.id,
                esc(&r.name),
                price(r),
                time(r.ts, "%Y-%m-%d %H:%M:%S"),
                day(r),
                u8::from(r.flag),
                r.score.map_or("\\N".to_owned(), |s| s.to_string()),
                tags.join(",")
            )
        })
        .collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}
