//! Generates sample data in the seed's Amazon-review schema, deterministically from a seed:
//! `cargo run --release --example gen_reviews -- --out data --files 4 --rows 250000`.
//!
//! Writes CSV with a header (the default), JSON Lines (`--format jsonl`) or Parquet
//! (`--format parquet`, row groups of 65,536 rows, snappy). Rows average about
//! 295 bytes of CSV, like the benchmark set in the brief.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

const WORDS: &[&str] = &[
    "great",
    "product",
    "quality",
    "works",
    "as",
    "described",
    "the",
    "battery",
    "life",
    "is",
    "excellent",
    "would",
    "buy",
    "again",
    "not",
    "worth",
    "price",
    "arrived",
    "late",
    "but",
    "packaging",
    "was",
    "fine",
    "my",
    "kids",
    "love",
    "it",
    "sturdy",
    "and",
    "easy",
    "to",
    "use",
    "disappointed",
    "with",
    "size",
    "colour",
    "matches",
    "photos",
    "five",
    "stars",
    "returned",
    "after",
    "a",
    "week",
    "comfortable",
    "fits",
    "perfectly",
    "cheap",
    "plastic",
    "feels",
];

struct Args {
    out: PathBuf,
    files: u64,
    rows: u64,
    seed: u64,
    format: String,
    prefix: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::from("data"),
        files: 4,
        rows: 2500,
        seed: 42,
        format: "csv".into(),
        prefix: "reviews".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => args.out = PathBuf::from(value()?),
            "--files" => args.files = value()?.parse().map_err(|e| format!("--files: {e}"))?,
            "--rows" => args.rows = value()?.parse().map_err(|e| format!("--rows: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--format" => args.format = value()?,
            "--prefix" => args.prefix = value()?,
            "--help" | "-h" => {
                return Err(
                    "usage: gen_reviews [--out DIR] [--files N] [--rows N] [--seed N] \
                     [--format csv|jsonl|parquet] [--prefix NAME]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !matches!(args.format.as_str(), "csv" | "jsonl" | "parquet") {
        return Err(format!("unknown format {}", args.format));
    }
    Ok(args)
}

struct Review {
    rating: f32,
    title: String,
    text: String,
    asin: String,
    user_id: String,
    timestamp: u64,
    helpful_vote: u32,
    verified_purchase: bool,
}

fn sentence(rng: &mut fastrand::Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(if rng.u8(..20) == 0 { ',' } else { ' ' });
            if s.ends_with(',') {
                s.push(' ');
            }
        }
        s.push_str(WORDS[rng.usize(..WORDS.len())]);
    }
    if rng.u8(..10) == 0 {
        s.push_str(" \"really\"");
    }
    s
}

fn review(rng: &mut fastrand::Rng) -> Review {
    let title_words = rng.usize(2..7);
    let text_words = rng.usize(20..55);
    Review {
        rating: f32::from(rng.u8(1..=5)),
        title: sentence(rng, title_words),
        text: sentence(rng, text_words),
        asin: format!("B{:09}", rng.u32(..1_000_000)),
        user_id: format!("AE{:026X}", rng.u128(..) & ((1u128 << 104) - 1)),
        timestamp: 1_500_000_000_000 + rng.u64(..250_000_000_000),
        helpful_vote: if rng.u8(..4) == 0 { rng.u32(1..200) } else { 0 },
        verified_purchase: rng.u8(..10) < 8,
    }
}

fn csv_field(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    if s.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", s.replace('"', "\"\""))
    } else {
        out.write_all(s.as_bytes())
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parquet in row groups of this many rows, each built in memory.
const PARQUET_GROUP: u64 = 65_536;

fn write_parquet(path: &PathBuf, rng: &mut fastrand::Rng, rows: u64) -> std::io::Result<()> {
    use arrow_array::{ArrayRef, BooleanArray, Float32Array, RecordBatch, StringArray};
    use arrow_array::{UInt32Array, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("rating", DataType::Float32, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("asin", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, false),
        Field::new("timestamp", DataType::UInt64, false),
        Field::new("helpful_vote", DataType::UInt32, false),
        Field::new("verified_purchase", DataType::Boolean, false),
    ]));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let file = File::create(path)?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props))
        .map_err(std::io::Error::other)?;
    let mut left = rows;
    while left > 0 {
        let n = left.min(PARQUET_GROUP);
        left -= n;
        let batch: Vec<Review> = (0..n).map(|_| review(rng)).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float32Array::from_iter_values(
                batch.iter().map(|r| r.rating),
            )),
            Arc::new(StringArray::from_iter_values(
                batch.iter().map(|r| &r.title),
            )),
            Arc::new(StringArray::from_iter_values(batch.iter().map(|r| &r.text))),
            Arc::new(StringArray::from_iter_values(batch.iter().map(|r| &r.asin))),
            Arc::new(StringArray::from_iter_values(
                batch.iter().map(|r| &r.user_id),
            )),
            Arc::new(UInt64Array::from_iter_values(
                batch.iter().map(|r| r.timestamp),
            )),
            Arc::new(UInt32Array::from_iter_values(
                batch.iter().map(|r| r.helpful_vote),
            )),
            Arc::new(BooleanArray::from(
                batch
                    .iter()
                    .map(|r| r.verified_purchase)
                    .collect::<Vec<_>>(),
            )),
        ];
        let record =
            RecordBatch::try_new(schema.clone(), columns).map_err(std::io::Error::other)?;
        writer.write(&record).map_err(std::io::Error::other)?;
    }
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

fn write_file(
    path: &PathBuf,
    rng: &mut fastrand::Rng,
    rows: u64,
    format: &str,
) -> std::io::Result<()> {
    if format == "parquet" {
        return write_parquet(path, rng, rows);
    }
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    if format == "csv" {
        writeln!(
            out,
            "rating,title,text,asin,user_id,timestamp,helpful_vote,verified_purchase"
        )?;
    }
    for _ in 0..rows {
        let r = review(rng);
        if format == "csv" {
            write!(out, "{:.1},", r.rating)?;
            csv_field(&mut out, &r.title)?;
            out.write_all(b",")?;
            csv_field(&mut out, &r.text)?;
            writeln!(
                out,
                ",{},{},{},{},{}",
                r.asin, r.user_id, r.timestamp, r.helpful_vote, r.verified_purchase
            )?;
        } else {
            writeln!(
                out,
                "{{\"rating\":{:.1},\"title\":{},\"text\":{},\"asin\":\"{}\",\"user_id\":\"{}\",\"timestamp\":{},\"helpful_vote\":{},\"verified_purchase\":{}}}",
                r.rating,
                json_string(&r.title),
                json_string(&r.text),
                r.asin,
                r.user_id,
                r.timestamp,
                r.helpful_vote,
                r.verified_purchase
            )?;
        }
    }
    out.flush()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("cannot create {}: {e}", args.out.display());
        std::process::exit(1);
    }
    let mut rng = fastrand::Rng::with_seed(args.seed);
    for i in 0..args.files {
        let path = args
            .out
            .join(format!("{}-{:04}.{}", args.prefix, i, args.format));
        // Write under a temporary name and rename, as a well-behaved producer does.
        let tmp = path.with_extension(format!("{}.tmp", args.format));
        if let Err(e) = write_file(&tmp, &mut rng, args.rows, &args.format)
            .and_then(|()| std::fs::rename(&tmp, &path))
        {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    println!(
        "wrote {} {} files of {} rows to {}",
        args.files,
        args.format,
        args.rows,
        args.out.display()
    );
}
