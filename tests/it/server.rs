//! Real ClickHouse servers for the tests, started on free loopback ports with a private data folder:
//! ClickHouse 18.16 (Debian's `clickhouse-server`) or 26.9 (the engine of the `chdb-core` wheel,
//! served by `scripts/chdb_server.py`), chosen by `INGEST_TEST_SERVER` (`18.16`, the default, or
//! `26.9`); or an existing server named by `INGEST_TEST_CLICKHOUSE_URL`. `scripts/test.sh` runs the
//! suite once on each, and every failure says which server it happened on.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

/// Which server program the tests start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Debian's `clickhouse-server` package: 18.16, the oldest server the tool supports.
    Packaged,
    /// The engine in the `chdb-core` wheel (26.9): the new analyzer, async inserts by default.
    Chdb,
}

impl Flavor {
    fn from_env() -> Flavor {
        match std::env::var("INGEST_TEST_SERVER").as_deref() {
            Err(_) | Ok("" | "18" | "18.16") => Flavor::Packaged,
            Ok("26" | "26.9") => Flavor::Chdb,
            Ok(other) => panic!("INGEST_TEST_SERVER must be 18.16 or 26.9, not `{other}`"),
        }
    }
}

#[allow(dead_code)] // `tcp_port`, `start` and `restart` serve the crash tests.
pub struct ClickHouse {
    pub url: String,
    pub flavor: Flavor,
    /// `version()` as the server reports it, e.g. `26.9.2.1`.
    pub version: String,
    process: Mutex<Option<Running>>,
    dir: Option<tempfile::TempDir>,
    http_port: u16,
    tcp_port: u16,
    shared: bool,
}

/// The server runs under a small shell watchdog reading our stdin: when this process ends, however
/// it ends, the pipe closes and the watchdog stops the server.
struct Running {
    child: Child,
    stdin: ChildStdin,
}

/// A port for a test server: below Linux's ephemeral range (32768 and up), where a client
/// connection's own port (or a port the kernel handed out to anyone asking for "any") could take
/// it between now and the server's bind; each test process counts through its own stretch, so
/// its servers never pick the same one.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let stretch = 20_000 + (std::process::id() % 12) * 1_000;
    for _ in 0..1_000 {
        let port = (stretch + NEXT.fetch_add(1, Ordering::Relaxed) % 1_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000")
}

fn packaged_binary() -> PathBuf {
    std::env::var_os("CLICKHOUSE_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/clickhouse-server"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has `chdb-core` (`scripts/clickhouse.sh install` makes `.chdb/venv`).
fn chdb_python() -> PathBuf {
    let python = std::env::var_os("INGEST_TEST_CHDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".chdb/venv/bin/python"));
    assert!(
        python.exists(),
        "ClickHouse 26.9 needs the chdb-core wheel: {} is missing; run `scripts/clickhouse.sh install`",
        python.display()
    );
    python
}

static SHARED: OnceLock<ClickHouse> = OnceLock::new();
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);
static NAMED: Once = Once::new();

/// Makes every failure say which server it happened on.
fn name_the_server_in_failures(version: &str) {
    let version = version.to_owned();
    NAMED.call_once(move || {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            eprintln!("[on ClickHouse {version}]");
            previous(info);
        }));
    });
}

#[allow(dead_code)]
impl ClickHouse {
    /// The server all tests share (each in its own database).
    pub fn shared() -> &'static ClickHouse {
        SHARED.get_or_init(|| match std::env::var("INGEST_TEST_CLICKHOUSE_URL") {
            Ok(url) if !url.is_empty() => {
                let mut ch = ClickHouse {
                    url,
                    flavor: Flavor::Packaged,
                    version: String::new(),
                    process: Mutex::new(None),
                    dir: None,
                    http_port: 0,
                    tcp_port: 0,
                    shared: true,
                };
                ch.learn_version();
                if !ch.is_old() {
                    ch.flavor = Flavor::Chdb;
                }
                ch
            }
            _ => ClickHouse::start_with(true),
        })
    }

    /// A private server, for tests that stop and restart it.
    pub fn start() -> ClickHouse {
        ClickHouse::start_with(false)
    }

    /// `shared` servers live until the test process ends; their watchdog removes their folder.
    fn start_with(shared: bool) -> ClickHouse {
        let dir = tempfile::Builder::new()
            .prefix("ingest-ch-")
            .tempdir()
            .expect("temp dir");
        let http_port = free_port();
        let tcp_port = free_port();
        let flavor = Flavor::from_env();
        write_config(flavor, dir.path(), http_port, tcp_port);
        let mut ch = ClickHouse {
            url: format!("http://127.0.0.1:{http_port}"),
            flavor,
            version: String::new(),
            process: Mutex::new(None),
            dir: Some(dir),
            http_port,
            tcp_port,
            shared,
        };
        ch.launch();
        ch.learn_version();
        ch
    }

    fn learn_version(&mut self) {
        self.version = self.query("SELECT version()").trim().to_owned();
        name_the_server_in_failures(&self.version);
    }

    /// `(major, minor)` of the server's version.
    pub fn version_parts(&self) -> (u32, u32) {
        let mut it = self.version.split('.').map(|p| p.parse().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    }

    /// A server from before 20.x (18.16 here): no query parameters, no `DateTime64`, no `Bool`,
    /// experimental `LowCardinality`, asynchronous mutations only.
    pub fn is_old(&self) -> bool {
        self.version_parts() < (20, 0)
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("a private server").path()
    }

    fn launch(&self) {
        let dir = self.dir().display().to_string();
        let program = match self.flavor {
            Flavor::Packaged => format!(
                "'{}' --config-file='{dir}/config.xml'",
                packaged_binary().display()
            ),
            Flavor::Chdb => format!(
                "'{}' '{}' '{dir}'",
                chdb_python().display(),
                repo().join("scripts/chdb_server.py").display()
            ),
        };
        let cleanup = if self.shared {
            format!("; rm -rf '{dir}'")
        } else {
            String::new()
        };
        let script = format!(
            "{program} >'{dir}/stdout.log' 2>&1 & pid=$!; read _; kill $pid; wait $pid{cleanup}"
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the ClickHouse server");
        let stdin = child.stdin.take().expect("piped stdin");
        *self.process.lock().unwrap() = Some(Running { child, stdin });
        self.wait_ready(Duration::from_secs(60));
    }

    fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(r) = ureq::get(&format!("{}/ping", self.url)).call()
                && r.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir().join("stdout.log")).unwrap_or_default();
        panic!(
            "the {:?} ClickHouse server did not start within {limit:?}: {log}",
            self.flavor
        );
    }

    /// Stops a private server and waits until it is gone.
    pub fn stop(&self) {
        if let Some(mut running) = self.process.lock().unwrap().take() {
            let _ = running.stdin.write_all(b"stop\n");
            drop(running.stdin);
            let _ = running.child.wait();
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if std::net::TcpStream::connect(("127.0.0.1", self.http_port)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts a stopped private server again, on the same ports and data.
    pub fn restart(&self) {
        self.stop();
        self.launch();
    }

    /// Where the server's `file()` table function reads files from: the folder the 26.9
    /// engine runs in, or 18.16's `user_files_path`.
    pub fn user_files(&self) -> PathBuf {
        match self.flavor {
            Flavor::Chdb => self.dir().to_path_buf(),
            Flavor::Packaged => self.dir().join("data/user_files"),
        }
    }

    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// Runs SQL over HTTP and returns the text result (TabSeparated), panicking on errors.
    pub fn query(&self, sql: &str) -> String {
        match self.try_query(sql) {
            Ok(text) => text,
            Err(e) => panic!("query failed: {sql}\n{e}"),
        }
    }

    pub fn try_query(&self, sql: &str) -> Result<String, String> {
        self.try_query_with(sql, &[])
    }

    /// Settings that make a newer server print results the way 18.16 does.
    fn output_as_18_16(&self) -> &'static [(&'static str, &'static str)] {
        match self.version.is_empty() || self.is_old() {
            true => &[],
            false => &[("output_format_decimal_trailing_zeros", "1")],
        }
    }

    /// Runs SQL with settings passed as URL parameters.
    pub fn try_query_with(&self, sql: &str, settings: &[(&str, &str)]) -> Result<String, String> {
        let settings: Vec<_> = self
            .output_as_18_16()
            .iter()
            .chain(settings)
            .copied()
            .collect();
        post_sql(&self.url, &settings, sql)
    }

    /// A fresh database for one test.
    pub fn database(&self, test: &str) -> String {
        let n = DB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name: String = format!("t_{test}_{}_{n}", std::process::id())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.query(&format!("CREATE DATABASE {name}"));
        name
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        if self.dir.is_some() && !self.shared {
            self.stop();
        }
    }
}

/// Accounts every server has: `default`, one that may not run DDL, one with a password.
const USERS: &str = r#"
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default><no_ddl><max_memory_usage>4000000000</max_memory_usage><allow_ddl>0</allow_ddl></no_ddl></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <no_ddl_user><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>no_ddl</profile><quota>default</quota></no_ddl_user>
    <secret_user><password>s3cret-Pa55</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></secret_user>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
"#;

fn write_config(flavor: Flavor, dir: &Path, http_port: u16, tcp_port: u16) {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let (root, config) = match flavor {
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
  <mark_cache_size>268435456</mark_cache_size>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log>"#
            ),
        ),
        Flavor::Chdb => (
            "clickhouse",
            r#"
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log>"#
                .to_owned(),
        ),
    };
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0"?>
<{root}>{config}
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <users_config>{d}/users.xml</users_config>
  <timezone>UTC</timezone>
  <max_concurrent_queries>200</max_concurrent_queries>
</{root}>
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("users.xml"),
        format!("<?xml version=\"1.0\"?>\n<{root}>{USERS}</{root}>\n"),
    )
    .unwrap();
}

/// Posts `sql` to a server's HTTP interface with `settings` as URL parameters: the body as
/// tab-separated text, or the server's error.
pub fn post_sql(url: &str, settings: &[(&str, &str)], sql: &str) -> Result<String, String> {
    let mut request = ureq::post(url);
    for (name, value) in settings {
        request = request.query(*name, *value);
    }
    let mut response = request
        .query("default_format", "TabSeparated")
        .config()
        .http_status_as_error(false)
        .build()
        .send(sql)
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    if status == 200 { Ok(body) } else { Err(body) }
}
