//! The benchmark harness: generates the data with `gen_reviews`, starts a private ClickHouse
//! server, and runs every scenario of the brief's performance targets side by side with its
//! baseline, printing medians, ratios and peak memory as Markdown. `scripts/bench.sh` runs it;
//! BENCHMARKS.md explains what each scenario measures.

mod bulk;
mod compare;
mod data;
mod machine;
mod measure;
mod options;
mod report;
mod rerun;
mod server;
mod sides;
mod small;

use anyhow::{Context, Result, bail};
use clap::Parser;
use compare::Plan;
use data::{DataSet, Generator};
use options::{Options, Sizes};
use report::{Check, thousands};
use server::Server;
use sides::{Merges, Schema, Sides};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(&Options::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &Options) -> Result<()> {
    if opts.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let here = std::env::current_exe()?
        .parent()
        .context("the harness's own folder")?
        .to_owned();
    let ingest = opts
        .ingest
        .clone()
        .unwrap_or_else(|| here.join("..").join("ingest"));
    let generator = Generator {
        path: opts
            .generator
            .clone()
            .unwrap_or_else(|| here.join("gen_reviews")),
    };
    for binary in [&ingest, &generator.path] {
        if !binary.is_file() {
            bail!(
                "{} is missing: run scripts/bench.sh, which builds it",
                binary.display()
            );
        }
    }
    let root = tempfile::Builder::new()
        .prefix("ingest-bench-")
        .tempdir()?
        .keep();
    let server = match Server::start(&opts.server, &root) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&root);
            return Err(e);
        }
    };
    let data = opts.data_dir.clone().unwrap_or_else(|| root.join("data"));
    let sides = Sides::new(&server, ingest.clone(), root.join("scratch"))?;
    let sizes = opts.sizes();
    print_header(&server, &ingest, opts, &sizes);

    let mut checks: Vec<Check> = Vec::new();
    if opts.wants(1) {
        checks.extend(csv(&sides, &generator, &data, &sizes, opts.runs)?);
    }
    if opts.wants(2) {
        checks.extend(other_formats(&sides, &generator, &data, &sizes, opts.runs)?);
    }
    if opts.wants(3) {
        let set = generator.make(
            &data.join("small"),
            "csv",
            sizes.small_files,
            sizes.small_rows,
            4,
        )?;
        let plan = Plan {
            label: "small files",
            set: &set,
            schema: Schema::CsvText,
            merges: Merges::Stopped,
            ingest: Ok(()),
            client: Ok("CSVWithNames"),
        };
        checks.extend(small::run(&sides, &plan, opts.runs)?);
    }
    if opts.wants(4) {
        let mut sets = Vec::new();
        if sizes.rerun_ref_files < sizes.rerun_files {
            let dir = data.join("rerun-reference");
            sets.push(generator.make(&dir, "csv", sizes.rerun_ref_files, sizes.rerun_rows, 5)?);
        }
        let dir = data.join("rerun");
        sets.push(generator.make(&dir, "csv", sizes.rerun_files, sizes.rerun_rows, 6)?);
        let sets: Vec<&DataSet> = sets.iter().collect();
        checks.extend(rerun::run(&sides, &sets, opts.runs)?);
    }
    report::print_checks(&checks);
    println!("Load average at the end: {}.", machine::load_average());
    Ok(())
}

fn print_header(server: &Server, ingest: &Path, opts: &Options, sizes: &Sizes) {
    println!("# ingest benchmark\n");
    let mut table = report::Table::new(&["machine", ""]);
    for (key, value) in machine::describe(server, ingest) {
        table.row(vec![key.to_owned(), value]);
    }
    table.print();
    println!(
        "Measured runs per side: {}; medians, with every run's wall time listed. `ingest run` at \
         its default settings except `--settle 0` (settling is a fixed wait before a file is \
         read, not throughput). Every run inserts into a fresh database and table on a private \
         ClickHouse server (for `ingest`: a fresh manifest too); clickhouse-client inserts the \
         same files, one call per file, into its own fresh table. The two sides alternate run \
         by run, the files are read once beforehand so that both read them from the page \
         cache, and the rows landed are checked after every run. Peak RSS is the highest of \
         all runs (for clickhouse-client, of any one call); CPU s is the side's own user + \
         system time, server CPU s what clickhouse-server used meanwhile; queries are counted \
         in system.query_log.\n",
        opts.runs
    );
    println!(
        "Sizes: CSV set {} × {} rows; single CSV file {} rows; JSONL/Parquet {} rows; small \
         files {} × {} rows; rerun over {} (and {}) files of {} rows.\n",
        sizes.csv_files,
        thousands(sizes.csv_rows),
        thousands(sizes.big_rows),
        thousands(sizes.jsonl_rows),
        thousands(sizes.small_files),
        sizes.small_rows,
        thousands(sizes.rerun_files),
        thousands(sizes.rerun_ref_files),
        sizes.rerun_rows
    );
}

/// Scenario 1: the CSV set and the single large CSV file.
fn csv(
    sides: &Sides,
    generator: &Generator,
    data: &Path,
    sizes: &Sizes,
    runs: usize,
) -> Result<Vec<Check>> {
    let set = generator.make(
        &data.join("csv-set"),
        "csv",
        sizes.csv_files,
        sizes.csv_rows,
        1,
    )?;
    let big = generator.make(&data.join("csv-single"), "csv", 1, sizes.big_rows, 2)?;
    let cases: Vec<bulk::Case> = [(&set, "csv set"), (&big, "csv single")]
        .into_iter()
        .map(|(s, label)| bulk::Case {
            name: format!(
                "CSV, {} × {} rows",
                s.files.len(),
                thousands(s.rows_per_file)
            ),
            plan: Ok(Plan {
                label,
                set: s,
                schema: Schema::CsvText,
                merges: Merges::Running,
                ingest: Ok(()),
                client: Ok("CSVWithNames"),
            }),
            wall_ratio_target: Some(0.8),
        })
        .collect();
    bulk::run("1. Large CSV", sides, &cases, runs)
}

/// Scenario 2: one large JSONL file and one large Parquet file, each side only where it reads
/// the format (and the Parquet row only once the generator writes Parquet).
fn other_formats(
    sides: &Sides,
    generator: &Generator,
    data: &Path,
    sizes: &Sizes,
    runs: usize,
) -> Result<Vec<Check>> {
    let formats = [("jsonl", "JSONEachRow", 3), ("parquet", "Parquet", 7)];
    let mut sets: Vec<(&str, &str, Result<DataSet, String>)> = Vec::new();
    for (format, client_format, seed) in formats {
        let set = match generator.supports(format, &sides.scratch) {
            Ok(()) => Ok(generator.make(&data.join(format), format, 1, sizes.jsonl_rows, seed)?),
            Err(why) => Err(format!(
                "gen_reviews does not write {format} yet ({why}), so there is no data; \
                 clickhouse-client: {}",
                sides
                    .server
                    .reads_format(client_format)
                    .err()
                    .unwrap_or_else(|| format!("reads {client_format}"))
            )),
        };
        sets.push((format, client_format, set));
    }
    let mut cases = Vec::new();
    for (format, client_format, set) in &sets {
        let name = format!("{format}, 1 × {} rows", thousands(sizes.jsonl_rows));
        let plan = match set {
            Ok(set) => Ok(Plan {
                label: format,
                set,
                schema: Schema::Typed,
                merges: Merges::Running,
                ingest: probe_ingest(sides, generator, format)?,
                client: sides
                    .server
                    .reads_format(client_format)
                    .map(|()| *client_format),
            }),
            Err(why) => Err(why.clone()),
        };
        cases.push(bulk::Case {
            name,
            plan,
            wall_ratio_target: None,
        });
    }
    bulk::run("2. Large JSONL and Parquet", sides, &cases, runs)
}

/// Whether `ingest` reads `format`, tried on a one-row file.
fn probe_ingest(sides: &Sides, generator: &Generator, format: &str) -> Result<Result<(), String>> {
    let dir: PathBuf = sides.scratch.join(format!("probe-ingest-{format}"));
    let tiny = generator.make(&dir, format, 1, 1, 1)?;
    Ok(sides.ingest_reads(&tiny, Schema::Typed))
}
