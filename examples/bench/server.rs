//! The private ClickHouse server the benchmark runs against: free loopback ports, data in the
//! harness's temporary folder, query logging on, and one user per side so every query is counted
//! against whoever sent it.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The user `ingest` connects as.
pub const INGEST_USER: &str = "ingest";
/// The user the clickhouse-client baselines connect as.
pub const CLIENT_USER: &str = "client";

pub struct Server {
    pub http_port: u16,
    pub tcp_port: u16,
    /// The clickhouse-server process (not the watchdog), for its CPU time.
    pub pid: u32,
    watchdog: Child,
    stdin: Option<ChildStdin>,
    dir: PathBuf,
}

impl Server {
    /// Starts a server whose files live in `root/server`. A watchdog shell reading our stdin stops
    /// the server and removes `root` when this process ends, however it ends; it runs in its own
    /// process group so that Ctrl-C reaches only the harness, whose exit then closes the pipe.
    pub fn start(binary: &Path, root: &Path) -> Result<Server> {
        let dir = root.join("server");
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        let http_port = free_port()?;
        let tcp_port = free_port()?;
        write_config(&dir, http_port, tcp_port)?;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(r#""$1" --config-file="$2/config.xml" >"$2/stdout.log" 2>&1 & pid=$!; echo $pid; read _; kill $pid; wait $pid; rm -rf "$3""#)
            .arg("sh")
            .arg(binary)
            .arg(&dir)
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot start the watchdog shell")?;
        let stdin = watchdog.stdin.take();
        let mut line = String::new();
        if let Some(out) = watchdog.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let pid = line
            .trim()
            .parse()
            .context("the watchdog did not report a pid")?;
        let server = Server {
            http_port,
            tcp_port,
            pid,
            watchdog,
            stdin,
            dir,
        };
        server.wait_ready(Duration::from_secs(60))?;
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
        bail!("clickhouse-server did not start: {log}{errors}")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Runs SQL as the `default` user and returns the TabSeparated result, trimmed.
    pub fn query(&self, sql: &str) -> Result<String> {
        let mut response = ureq::post(&self.url())
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

    /// Whether the server parses `format` on INSERT, and if not, why.
    pub fn reads_format(&self, format: &str) -> Result<(), String> {
        let sql =
            format!("SELECT count() FROM system.formats WHERE name = '{format}' AND is_input");
        match self.query_u64(&sql) {
            Ok(1) => Ok(()),
            Ok(_) => Err(format!(
                "ClickHouse {} has no {format} input format (not in system.formats)",
                self.version().unwrap_or_default()
            )),
            Err(e) => Err(format!(
                "cannot tell whether the server reads {format}: {e:#}"
            )),
        }
    }

    pub fn version(&self) -> Result<String> {
        self.query("SELECT version()")
    }
}

/// Stops the server and removes the harness's temporary folder, waiting until both are done.
impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
        }
        let _ = self.watchdog.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn write_config(dir: &Path, http_port: u16, tcp_port: u16) -> Result<()> {
    let d = dir.display();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><size>100M</size><count>1</count></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/data/user_files/</user_files_path>
  <format_schema_path>{d}/data/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size>
  <timezone>UTC</timezone>
  <max_concurrent_queries>200</max_concurrent_queries>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>7500</flush_interval_milliseconds></query_log>
</yandex>
"#
        ),
    )?;
    let user = |name: &str| {
        format!(
            "<{name}><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\
             <profile>default</profile><quota>default</quota></{name}>"
        )
    };
    std::fs::write(
        dir.join("users.xml"),
        format!(
            r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><log_queries>1</log_queries></default></profiles>
  <users>{}{}{}</users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#,
            user("default"),
            user(INGEST_USER),
            user(CLIENT_USER)
        ),
    )?;
    Ok(())
}
