//! The private ClickHouse servers the benchmark runs against — 18.16 (Debian's
//! `clickhouse-server`) or 26.9 (the engine of the `chdb-core` wheel, served by
//! `scripts/chdb_server.py`) — on free loopback ports with their data in the harness's temporary
//! folder, query logging on, and one user per side so every query is counted against whoever sent
//! it.

use crate::watchdog::Watchdog;
use anyhow::{Context, Result, bail};
use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The user `ingest` connects as.
pub const INGEST_USER: &str = "ingest";
/// The user the clickhouse-client baselines connect as.
pub const CLIENT_USER: &str = "client";
/// The user of the server's own parse over HTTP (curl with the file as the body).
pub const HTTP_USER: &str = "http";
/// The user that sends the floor's pre-encoded `Native` rows.
pub const FLOOR_USER: &str = "floor";

/// Which server program the benchmark starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    /// Debian's `clickhouse-server` package.
    #[value(name = "18.16")]
    Packaged,
    /// The engine in the `chdb-core` wheel.
    #[value(name = "26.9")]
    Chdb,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Packaged => "18.16",
            Flavor::Chdb => "26.9",
        }
    }
}

/// Where the server programs are.
pub struct Programs {
    /// `clickhouse-server` (18.16).
    pub packaged: PathBuf,
    /// A Python that has the `chdb-core` wheel (26.9).
    pub chdb_python: PathBuf,
    /// `scripts/chdb_server.py`.
    pub chdb_script: PathBuf,
}

pub struct Server {
    pub flavor: Flavor,
    pub http_port: u16,
    pub tcp_port: u16,
    /// The process that is the server (for 26.9 the Python process hosting the engine), for its
    /// CPU time.
    pub pid: u32,
    /// `version()` as the server reports it.
    pub version: String,
    /// What the server program is, for the report.
    pub program: String,
    /// URL parameters that make an insert synchronous where the server defaults to asynchronous
    /// inserts (26.2 and later).
    pub sync_insert: &'static str,
    dir: PathBuf,
    _watchdog: Watchdog,
}

impl Server {
    /// Starts a server whose files live in `dir`; its watchdog stops it and removes `dir` when
    /// the server is dropped or the harness ends, however it ends.
    pub fn start(flavor: Flavor, programs: &Programs, dir: &Path) -> Result<Server> {
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        let http_port = free_port()?;
        let tcp_port = free_port()?;
        write_config(flavor, dir, http_port, tcp_port)?;
        let config = dir.join("config.xml");
        let config_flag = format!("--config-file={}", config.display());
        let (watchdog, program) = match flavor {
            Flavor::Packaged => (
                Watchdog::serve(
                    dir,
                    programs.packaged.as_os_str(),
                    [OsStr::new(&config_flag)],
                )?,
                programs.packaged.display().to_string(),
            ),
            Flavor::Chdb => {
                for path in [&programs.chdb_python, &programs.chdb_script] {
                    if !path.exists() {
                        bail!(
                            "ClickHouse 26.9 needs {}: run `scripts/clickhouse.sh install`",
                            path.display()
                        );
                    }
                }
                (
                    Watchdog::serve(
                        dir,
                        programs.chdb_python.as_os_str(),
                        [programs.chdb_script.as_os_str(), dir.as_os_str()],
                    )?,
                    "the chdb-core wheel's engine, served by scripts/chdb_server.py".to_owned(),
                )
            }
        };
        let pid = watchdog
            .pid
            .context("the watchdog did not start a server")?;
        let mut server = Server {
            flavor,
            http_port,
            tcp_port,
            pid,
            version: String::new(),
            program,
            sync_insert: "",
            dir: dir.to_owned(),
            _watchdog: watchdog,
        };
        server.wait_ready(Duration::from_secs(60))?;
        server.version = server.query("SELECT version()")?;
        if server.query_u64("SELECT count() FROM system.settings WHERE name = 'async_insert'")? > 0
        {
            server.sync_insert = "&async_insert=0";
        }
        Ok(server)
    }

    fn wait_ready(&self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.query("SELECT 1").is_ok() {
                return Ok(());
            }
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        let errors = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        bail!(
            "the ClickHouse {} server did not start: {log}{errors}",
            self.flavor.name()
        )
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Runs SQL as the `default` user and returns the TabSeparated result, trimmed.
    pub fn query(&self, sql: &str) -> Result<String> {
        let mut response = ureq::post(&format!("{}/?default_format=TabSeparated", self.url()))
            .config()
            .http_status_as_error(false)
            .build()
            .send(sql)
            .with_context(|| format!("ClickHouse unreachable for: {sql}"))?;
        let status = response.status();
        let body = response.body_mut().read_to_string()?;
        if status != 200 {
            bail!("query failed: {sql}\n{}", body.trim());
        }
        Ok(body.trim().to_owned())
    }

    pub fn query_u64(&self, sql: &str) -> Result<u64> {
        let text = self.query(sql)?;
        text.parse()
            .with_context(|| format!("not a number from {sql}: {text}"))
    }

    /// Queries sent so far by `user` (started or refused), from `system.query_log`.
    pub fn queries_by(&self, user: &str) -> Result<u64> {
        self.query("SYSTEM FLUSH LOGS")?;
        let exists = self.query_u64("EXISTS TABLE system.query_log")?;
        if exists == 0 {
            return Ok(0);
        }
        self.query_u64(&format!(
            "SELECT count() FROM system.query_log \
             WHERE user = '{user}' AND is_initial_query AND toUInt8(type) IN (1, 3)"
        ))
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn write_config(flavor: Flavor, dir: &Path, http_port: u16, tcp_port: u16) -> Result<()> {
    let d = dir.display();
    let query_log = "<query_log><database>system</database><table>query_log</table>\
                     <flush_interval_milliseconds>7500</flush_interval_milliseconds></query_log>";
    // The 26.9 engine takes its data folder from chdb_server.py and has no separate log files.
    let (root, own) = match flavor {
        Flavor::Packaged => (
            "yandex",
            format!(
                r#"
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><size>100M</size><count>1</count></logger>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/data/user_files/</user_files_path>
  <format_schema_path>{d}/data/format_schemas/</format_schema_path>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size>"#
            ),
        ),
        Flavor::Chdb => ("clickhouse", String::new()),
    };
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0"?>
<{root}>{own}
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <users_config>{d}/users.xml</users_config>
  <timezone>UTC</timezone>
  <max_concurrent_queries>200</max_concurrent_queries>
  {query_log}
</{root}>
"#
        ),
    )?;
    let user = |name: &str| {
        format!(
            "<{name}><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\
             <profile>default</profile><quota>default</quota></{name}>"
        )
    };
    let users: String = ["default", INGEST_USER, CLIENT_USER, HTTP_USER, FLOOR_USER]
        .iter()
        .map(|u| user(u))
        .collect();
    std::fs::write(
        dir.join("users.xml"),
        format!(
            r#"<?xml version="1.0"?>
<{root}>
  <profiles><default><max_memory_usage>12000000000</max_memory_usage><log_queries>1</log_queries></default></profiles>
  <users>{users}</users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</{root}>
"#
        ),
    )?;
    Ok(())
}
