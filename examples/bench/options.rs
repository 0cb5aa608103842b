//! The harness's flags: how many runs, which scenarios, and the data sizes (the brief's by default,
//! smaller with `--quick`).

use crate::server::Flavor;
use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Benchmarks `ingest` side by side with the floor (pre-encoded Native rows), \
             clickhouse-client and the server's own parse, on private ClickHouse servers."
)]
pub struct Options {
    /// Measured runs of every side of every scenario; medians are printed
    #[arg(long, env = "BENCH_RUNS", default_value_t = 3)]
    pub runs: usize,

    /// Smaller sizes that finish in minutes (each size flag still wins)
    #[arg(long, env = "BENCH_QUICK")]
    pub quick: bool,

    /// Scenarios to run, e.g. `1,3` (1: CSV, 2: JSONL and Parquet, 3: small files, 4: rerun)
    #[arg(
        long,
        env = "BENCH_SCENARIOS",
        value_delimiter = ',',
        default_value = "1,2,3,4"
    )]
    pub scenarios: Vec<u8>,

    /// Keep generated data in this folder and reuse it in later runs (default: a temporary
    /// folder removed at the end)
    #[arg(long, env = "BENCH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// `ingest --jobs` values, each measured as a side of its own; the last is taken as the
    /// default (the machine's cores) where one `ingest` run stands for all
    #[arg(long, env = "BENCH_JOBS", value_delimiter = ',', default_value = "1,2")]
    pub jobs: Vec<u32>,

    /// The `ingest` binary [default: target/release/ingest beside this harness]
    #[arg(long, value_name = "PATH")]
    pub ingest: Option<PathBuf>,

    /// The data generator [default: target/release/examples/gen_reviews]
    #[arg(long, value_name = "PATH")]
    pub generator: Option<PathBuf>,

    /// The servers to run every scenario on, one after the other: 18.16 (Debian's
    /// clickhouse-server), 26.9 (the chdb-core wheel)
    #[arg(
        long,
        env = "BENCH_SERVERS",
        value_enum,
        value_delimiter = ',',
        default_value = "18.16,26.9"
    )]
    pub servers: Vec<Flavor>,

    /// The clickhouse-server binary of the 18.16 server
    #[arg(
        long,
        env = "CLICKHOUSE_SERVER",
        value_name = "PATH",
        default_value = "/usr/sbin/clickhouse-server"
    )]
    pub clickhouse_server: PathBuf,

    /// A Python with the chdb-core wheel, for the 26.9 server [default: .chdb/venv/bin/python
    /// of this checkout, made by `scripts/clickhouse.sh install`]
    #[arg(long, env = "BENCH_CHDB_PYTHON", value_name = "PATH")]
    pub chdb_python: Option<PathBuf>,

    /// Scenario 1: number of CSV files in the set [default: 4]
    #[arg(long, value_name = "N")]
    pub csv_files: Option<u64>,
    /// Scenario 1: rows per file of the set [default: 250000; quick: 25000]
    #[arg(long, value_name = "N")]
    pub csv_rows: Option<u64>,
    /// Scenario 1: rows of the single large CSV file [default: 8000000, about 2.4 GB; quick: 400000]
    #[arg(long, value_name = "N")]
    pub big_rows: Option<u64>,
    /// Scenario 2: rows of the single JSONL and Parquet files [default: 1000000; quick: 200000]
    #[arg(long, value_name = "N")]
    pub jsonl_rows: Option<u64>,
    /// Scenario 3: number of small files [default: 5000; quick: 500]
    #[arg(long, value_name = "N")]
    pub small_files: Option<u64>,
    /// Scenario 3: rows per small file [default: 100]
    #[arg(long, value_name = "N")]
    pub small_rows: Option<u64>,
    /// Scenario 4: number of already-ingested files rerun over [default: 100000; quick: 10000]
    #[arg(long, value_name = "N")]
    pub rerun_files: Option<u64>,
    /// Scenario 4: a smaller set rerun too, to show whether the query count grows with files
    /// [default: 1000]
    #[arg(long, value_name = "N")]
    pub rerun_ref_files: Option<u64>,
    /// Scenario 4: rows per file [default: 10]
    #[arg(long, value_name = "N")]
    pub rerun_rows: Option<u64>,
}

/// Sizes after applying `--quick` and the size flags.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub csv_files: u64,
    pub csv_rows: u64,
    pub big_rows: u64,
    pub jsonl_rows: u64,
    pub small_files: u64,
    pub small_rows: u64,
    pub rerun_files: u64,
    pub rerun_ref_files: u64,
    pub rerun_rows: u64,
}

impl Options {
    pub fn sizes(&self) -> Sizes {
        let pick = |flag: Option<u64>, full: u64, quick: u64| {
            flag.unwrap_or(if self.quick { quick } else { full })
        };
        Sizes {
            csv_files: pick(self.csv_files, 4, 4),
            csv_rows: pick(self.csv_rows, 250_000, 25_000),
            big_rows: pick(self.big_rows, 8_000_000, 400_000),
            jsonl_rows: pick(self.jsonl_rows, 1_000_000, 200_000),
            small_files: pick(self.small_files, 5_000, 500),
            small_rows: pick(self.small_rows, 100, 100),
            rerun_files: pick(self.rerun_files, 100_000, 10_000),
            rerun_ref_files: pick(self.rerun_ref_files, 1_000, 1_000),
            rerun_rows: pick(self.rerun_rows, 10, 10),
        }
    }

    pub fn wants(&self, scenario: u8) -> bool {
        self.scenarios.contains(&scenario)
    }
}
