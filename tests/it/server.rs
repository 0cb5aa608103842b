//! A real ClickHouse server for the tests: started on free loopback ports with a private data
//! folder, or an existing one named by `INGEST_TEST_CLICKHOUSE_URL`.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

#[allow(dead_code)] // `tcp_port`, `start` and `restart` serve the crash tests.
pub struct ClickHouse {
    pub url: String,
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

fn server_binary() -> PathBuf {
    std::env::var_os("CLICKHOUSE_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/clickhouse-server"))
}

static SHARED: OnceLock<ClickHouse> = OnceLock::new();
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

#[allow(dead_code)]
impl ClickHouse {
    /// The server all tests share (each in its own database).
    pub fn shared() -> &'static ClickHouse {
        SHARED.get_or_init(|| match std::env::var("INGEST_TEST_CLICKHOUSE_URL") {
            Ok(url) if !url.is_empty() => ClickHouse {
                url,
                process: Mutex::new(None),
                dir: None,
                http_port: 0,
                tcp_port: 0,
                shared: true,
            },
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
        write_config(dir.path(), http_port, tcp_port);
        let ch = ClickHouse {
            url: format!("http://127.0.0.1:{http_port}"),
            process: Mutex::new(None),
            dir: Some(dir),
            http_port,
            tcp_port,
            shared,
        };
        ch.launch();
        ch
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("a private server").path()
    }

    fn launch(&self) {
        let config = self.dir().join("config.xml");
        let cleanup = if self.shared {
            format!("; rm -rf '{}'", self.dir().display())
        } else {
            String::new()
        };
        let script = format!(
            "'{}' --config-file='{}' >'{}/stdout.log' 2>&1 & pid=$!; read _; kill $pid; wait $pid{cleanup}",
            server_binary().display(),
            config.display(),
            self.dir().display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start clickhouse-server (is it installed?)");
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
        panic!("clickhouse-server did not start within {limit:?}: {log}");
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
        let mut response = ureq::post(&self.url)
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

fn write_config(dir: &Path, http_port: u16, tcp_port: u16) {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
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
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
  <max_concurrent_queries>200</max_concurrent_queries>
</yandex>
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("users.xml"),
        r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default><no_ddl><max_memory_usage>4000000000</max_memory_usage><allow_ddl>0</allow_ddl></no_ddl></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <no_ddl_user><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>no_ddl</profile><quota>default</quota></no_ddl_user>
    <secret_user><password>s3cret-Pa55</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></secret_user>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#,
    )
    .unwrap();
}
