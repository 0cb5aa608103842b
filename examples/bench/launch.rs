//! The processes each side runs — `ingest run`, clickhouse-client, and curl posting a file to the
//! server's HTTP interface — with their output in log files, checked for success.

use crate::measure::{self, Sample};
use crate::server::Server;
use anyhow::{Result, bail};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a side's processes write their output.
pub struct Logs {
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Logs {
    pub fn new(dir: &Path, name: &str) -> Logs {
        Logs {
            out: dir.join(format!("{name}.out")),
            err: dir.join(format!("{name}.err")),
        }
    }

    fn attach(&self, cmd: &mut Command) -> Result<()> {
        cmd.stdout(File::create(&self.out)?)
            .stderr(File::create(&self.err)?);
        Ok(())
    }
}

/// One `ingest run` over `dir` into `database.reviews`, at default settings except `--settle 0`
/// (settling is a fixed wait, not throughput), none of the caller's `INGEST_`/`CLICKHOUSE_`
/// variables passed on.
pub fn ingest(
    binary: &Path,
    server: &Server,
    user: &str,
    database: &str,
    dir: &Path,
    lock: &Path,
    logs: &Logs,
) -> Result<Command> {
    let mut cmd = Command::new(binary);
    cmd.arg("run")
        .arg("--data-dir")
        .arg(dir)
        .args(["--url", &server.url(), "--user", user])
        .args(["--database", database, "--table", "reviews"])
        .args(["--settle", "0"])
        .arg("--lock-file")
        .arg(lock);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("INGEST_") || name.starts_with("CLICKHOUSE_") {
            cmd.env_remove(&key);
        }
    }
    logs.attach(&mut cmd)?;
    Ok(cmd)
}

/// `clickhouse-client --query "INSERT INTO reviews FORMAT format" < file` over the native TCP
/// protocol; the client parses the file and sends `Native` blocks.
pub fn client(
    server: &Server,
    user: &str,
    database: &str,
    format: &str,
    file: &Path,
    logs: &Logs,
) -> Result<Command> {
    let mut cmd = Command::new("clickhouse-client");
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &server.tcp_port.to_string(),
    ])
    .args(["--user", user, "--database", database])
    .args(["--query", &format!("INSERT INTO reviews FORMAT {format}")])
    .stdin(File::open(file)?);
    logs.attach(&mut cmd)?;
    Ok(cmd)
}

/// `curl --upload-file - -X POST 'http://…/?query=INSERT INTO reviews FORMAT format' < file`: the
/// server parses the body itself. The file is streamed from stdin (`--data-binary @file` would
/// read all of it into memory first, which fails for the multi-GB file; a file name would be
/// appended to the URL's path, which 26.9 routes by). `extra` is appended to the URL's
/// parameters.
pub fn curl(
    server: &Server,
    user: &str,
    database: &str,
    format: &str,
    extra: &str,
    file: &Path,
    logs: &Logs,
) -> Result<Command> {
    let url = format!(
        "{}/?user={user}&database={database}&query=INSERT%20INTO%20reviews%20FORMAT%20{format}{extra}",
        server.url()
    );
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--fail-with-body"])
        .args([
            "--request",
            "POST",
            "--header",
            "Expect:",
            "--upload-file",
            "-",
        ])
        .arg(url)
        .stdin(File::open(file)?);
    logs.attach(&mut cmd)?;
    Ok(cmd)
}

/// Runs `cmd` to its end; fails with its output unless it exits with 0.
pub fn run_checked(cmd: &mut Command, what: &str, logs: &Logs) -> Result<Sample> {
    let sample = measure::run(cmd)?;
    if !sample.status.success() {
        bail!(
            "{what} ended with {}:\n{}{}",
            sample.status,
            tail(&logs.out),
            tail(&logs.err)
        );
    }
    Ok(sample)
}

/// The last lines of a log file, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[lines.len().saturating_sub(20)..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
