//! What every test needs: its own database and data folder, the `ingest` binary run as a user
//! runs it, and questions to ClickHouse about what landed.

use crate::server::ClickHouse;
use std::path::PathBuf;
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_ingest");

/// One test's world: a database on a server and a data folder.
pub struct Env<'a> {
    pub ch: &'a ClickHouse,
    pub db: String,
    pub dir: tempfile::TempDir,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl<'a> Env<'a> {
    pub fn new(test: &str) -> Env<'static> {
        Env::on(ClickHouse::shared(), test)
    }

    pub fn on(ch: &'a ClickHouse, test: &str) -> Env<'a> {
        let dir = tempfile::Builder::new()
            .prefix("ingest-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        Env {
            ch,
            db: ch.database(test),
            dir,
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.data().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, content).expect("write data file");
    }

    /// The binary, set up to use this test's server, database and folder, without settling.
    pub fn command(&self, subcommand: &str) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg(subcommand)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CLICKHOUSE_URL", &self.ch.url)
            .env("CLICKHOUSE_DATABASE", &self.db)
            .env("INGEST_DATA_DIR", self.data())
            .env("INGEST_JOBS", jobs());
        if subcommand == "run" {
            cmd.env("INGEST_SETTLE", "0");
        }
        cmd
    }

    pub fn ingest(&self, args: &[&str]) -> Output {
        run(self.command("run").args(args))
    }

    /// SQL with `{db}` standing for this test's database.
    pub fn q(&self, sql: &str) -> String {
        self.ch.query(&sql.replace("{db}", &self.db))
    }

    pub fn count(&self, table: &str) -> u64 {
        self.q(&format!("SELECT count() FROM {{db}}.{table}"))
            .trim()
            .parse()
            .expect("a count")
    }

    /// Order-independent fingerprint of a table's columns: row count and a hash sum.
    pub fn fingerprint(&self, table: &str, columns: &str) -> String {
        self.q(&format!(
            "SELECT count(), sum(cityHash64({columns})) FROM {{db}}.{table}"
        ))
        .trim()
        .to_owned()
    }

    /// Loads CSV text into `table` with ClickHouse's own CSV parser, as a reference.
    pub fn load_reference(&self, table: &str, csv_with_header: &str) {
        let body = csv_with_header
            .split_once('\n')
            .map_or("", |(_, rest)| rest);
        let sql = format!("INSERT INTO {}.{table} FORMAT CSV\n{body}", self.db);
        self.ch.query(&sql);
    }

    /// Manifest events as `event path rows` lines, in order.
    pub fn events(&self) -> Vec<String> {
        self.q("SELECT event, path, rows FROM {db}.ingest_manifest ORDER BY seq")
            .lines()
            .map(|l| l.replace('\t', " "))
            .collect()
    }

    pub fn event_count(&self, event: &str) -> u64 {
        self.q(&format!(
            "SELECT count() FROM {{db}}.ingest_manifest WHERE event = '{event}'"
        ))
        .trim()
        .parse()
        .expect("a count")
    }

    pub fn manifest_exists(&self) -> bool {
        self.q("SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'ingest_manifest'")
            .trim()
            == "1"
    }

    /// Number of (hash, row) provenance keys that occur more than once.
    pub fn duplicate_keys(&self, table: &str) -> u64 {
        self.q(&format!(
            "SELECT count() FROM (SELECT _ingest_file, _ingest_row, count() AS c \
             FROM {{db}}.{table} GROUP BY _ingest_file, _ingest_row HAVING c > 1)"
        ))
        .trim()
        .parse()
        .expect("a count")
    }
}

/// The `--jobs` every run of the tool gets: the test process's `INGEST_JOBS` (`scripts/test.sh`
/// runs the crash tests a second time with 2), else 1, whatever the machine's cores.
pub fn jobs() -> String {
    std::env::var("INGEST_JOBS").unwrap_or_else(|_| "1".to_owned())
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run ingest");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts a run's exit code, showing its output when it is not the expected one.
#[track_caller]
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.code,
        code,
        "unexpected exit code; output:\n{}",
        out.all()
    );
}

/// Review rows in the seed's schema, as CSV with a header.
pub fn reviews_csv(first: u64, count: u64) -> String {
    let mut s =
        String::from("rating,title,text,asin,user_id,timestamp,helpful_vote,verified_purchase\n");
    for i in first..first + count {
        s.push_str(&format!(
            "{}.0,\"Title {i}\",\"Text with, comma \"\"quoted\"\" {i}\",B{:06},user_{},{},{},{}\n",
            1 + i % 5,
            i % 997,
            i % 131,
            1_600_000_000_000u64 + i,
            i % 7,
            if i % 2 == 0 { "true" } else { "false" }
        ));
    }
    s
}

pub const REVIEWS_DDL: &str = "(rating Float32, title String, text String, asin String, \
     user_id String, timestamp UInt64, helpful_vote UInt32, verified_purchase UInt8) \
     ENGINE = MergeTree ORDER BY (asin, timestamp)";

pub const REVIEW_COLUMNS: &str =
    "rating, title, text, asin, user_id, timestamp, helpful_vote, verified_purchase";

pub fn create_reviews(env: &Env, table: &str) {
    env.q(&format!("CREATE TABLE {{db}}.{table} {REVIEWS_DDL}"));
}

/// The id the data folder got on its first run (the last line of its id file).
pub fn folder_id(env: &Env) -> String {
    let text = std::fs::read_to_string(env.path(".ingest-folder-id")).expect("the folder id file");
    text.lines().last().expect("an id").trim().to_owned()
}

/// Runs `promtool check metrics` (Debian's `prometheus` package) on a metrics file a run wrote:
/// it must find nothing to say.
#[track_caller]
pub fn check_metrics(path: &std::path::Path) {
    let file = std::fs::File::open(path).expect("the metrics file");
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(file)
        .output()
        .expect("promtool (Debian's prometheus package; scripts/test.sh installs it)");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics on {}:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The one JSON document a command printed on stdout.
#[track_caller]
pub fn json_of(out: &Output) -> serde_json::Value {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line of JSON:\n{}", out.all());
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// Text with every run of spaces made one, for lines whose columns are padded.
pub fn squeezed(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
