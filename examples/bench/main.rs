//! The benchmark harness: generates the data with `gen_reviews`, starts each private ClickHouse
//! server in turn (18.16 and 26.9), and runs every scenario of the brief's performance targets on
//! it with `ingest`, the floor and both peers side by side, printing medians, ratios, CPU per
//! million rows and peak memory as Markdown. `scripts/bench.sh` runs it; BENCHMARKS.md explains
//! what each scenario measures.

mod bulk;
mod compare;
mod data;
mod launch;
mod machine;
mod measure;
mod options;
mod report;
mod rerun;
mod scenarios;
mod server;
mod sides;
mod small;
mod summary;
mod tables;
mod watchdog;

use anyhow::{Context, Result, bail};
use clap::Parser;
use data::Generator;
use options::{Options, Sizes};
use report::thousands;
use server::{Programs, Server};
use sides::Sides;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use watchdog::Watchdog;

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
    if opts.servers.is_empty() {
        bail!("--servers names no server");
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
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let programs = Programs {
        packaged: opts.clickhouse_server.clone(),
        chdb_python: opts
            .chdb_python
            .clone()
            .unwrap_or_else(|| repo.join(".chdb/venv/bin/python")),
        chdb_script: repo.join("scripts/chdb_server.py"),
    };
    let root = tempfile::Builder::new()
        .prefix("ingest-bench-")
        .tempdir()?
        .keep();
    let _cleanup = match Watchdog::remove_at_exit(&root) {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&root);
            return Err(e);
        }
    };
    let data_dir = opts.data_dir.clone().unwrap_or_else(|| root.join("data"));
    let sizes = opts.sizes();
    print_header(&ingest, opts, &sizes);
    let data = scenarios::Data::make(opts, &generator, &data_dir, &root.join("probe"))?;

    let mut checks = Vec::new();
    let mut lines = Vec::new();
    for &flavor in &opts.servers {
        eprintln!("starting ClickHouse {}", flavor.name());
        let dir = root.join(format!("server-{}", flavor.name()));
        let server = Server::start(flavor, &programs, &dir)?;
        let scratch = root.join(format!("scratch-{}", flavor.name()));
        let sides = Sides::new(&server, ingest.clone(), opts.jobs.clone(), scratch)?;
        println!("## ClickHouse {}\n", server.version);
        println!(
            "Server: {}. Load average when its scenarios start: {}.\n",
            server.program,
            machine::load_average()
        );
        let mut found = scenarios::run(&sides, &data, opts.runs, &mut lines)?;
        for check in &mut found {
            check.server.clone_from(&server.version);
        }
        checks.extend(found);
        eprintln!("stopping ClickHouse {}", server.version);
    }
    summary::print(&lines);
    report::print_checks(&checks);
    println!("Load average at the end: {}.", machine::load_average());
    Ok(())
}

fn print_header(ingest: &Path, opts: &Options, sizes: &Sizes) {
    println!("# ingest benchmark\n");
    let mut table = report::Table::new(&["machine", ""]);
    for (key, value) in machine::describe(ingest) {
        table.row(vec![key.to_owned(), value]);
    }
    let servers: Vec<&str> = opts.servers.iter().map(|f| f.name()).collect();
    table.row(vec!["servers".to_owned(), servers.join(", ")]);
    table.print();
    println!(
        "Measured runs per side: {}; medians, with every run's wall time listed. Sides: \
         `ingest run` at its default settings except `--settle 0`; the floor, all of the \
         set's rows pre-encoded as Native in the table's key order and posted in one call \
         with curl (the server neither parses nor sorts); clickhouse-client, one call per \
         file (it parses the file and sends Native blocks); the server's own parse, one \
         `curl --upload-file - < file` per file. Every run inserts into a fresh database and \
         table on a private server (for `ingest`: a fresh manifest too); the sides take \
         turns run by run, each round starting with the next side; the files are read once \
         beforehand so that every side reads them from the page cache, and the rows landed \
         are counted and checksummed after every run. Peak RSS is the highest of all runs \
         (of any one process of the side); client CPU is the side's own processes' user + \
         system time, server CPU what the server process used meanwhile (/proc/PID/stat), \
         both per million rows landed; queries are counted in system.query_log.\n",
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
