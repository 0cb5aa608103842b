//! A real ClickHouse cluster for the cluster tests, beside the single server of `server.rs`:
//! ZooKeeper 3.8 (Debian's `zookeeper` package, started without its service scripts) and four
//! ClickHouse 18.16 servers (Debian's `clickhouse-server`), two shards of two replicas, cluster
//! `c`, on free loopback ports with private folders. Each process runs under a shell watchdog
//! reading our stdin, so it stops when the test process ends however it ends.
//!
//! The cluster is always 18.16: the 26.9 server of the `chdb-core` wheel has no interserver port
//! and cannot replicate. The cluster tests run in the 18.16 pass of `scripts/test.sh`, one at a
//! time (they stop and start servers), and say so in the 26.9 pass.

use crate::server::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// A process under its watchdog.
struct Running {
    child: Child,
    stdin: ChildStdin,
}

/// A process the tests start and stop.
struct Proc {
    /// The shell command that runs it in the foreground.
    program: String,
    log: PathBuf,
    /// A port that answers while it is up.
    port: u16,
    running: Mutex<Option<Running>>,
}

impl Proc {
    fn start(&self) {
        let script = format!(
            "{} >>'{}' 2>&1 & pid=$!; read _; kill $pid; wait $pid",
            self.program,
            self.log.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start a cluster process");
        let stdin = child.stdin.take().expect("piped stdin");
        *self.running.lock().unwrap() = Some(Running { child, stdin });
    }

    fn stop(&self) {
        if let Some(mut running) = self.running.lock().unwrap().take() {
            let _ = running.stdin.write_all(b"stop\n");
            drop(running.stdin);
            let _ = running.child.wait();
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) && port_open(self.port) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// One ClickHouse server of the cluster.
pub struct Node {
    pub url: String,
    proc: Proc,
}

pub struct Cluster {
    pub zk_port: u16,
    zk: Proc,
    pub nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// The cluster name in every server's `remote_servers`.
pub const CLUSTER: &str = "c";

static SHARED: OnceLock<Cluster> = OnceLock::new();
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether the cluster tests run in this pass; in the 26.9 pass they say why not.
pub fn runs_here() -> bool {
    match std::env::var("INGEST_TEST_SERVER").as_deref() {
        Err(_) | Ok("" | "18" | "18.16") => true,
        Ok(other) => {
            // Written past the test harness's capture, so that the pass shows what it left out.
            let _ = writeln!(
                std::io::stderr(),
                "cluster tests run on ClickHouse 18.16 only (the {other} server of the chdb-core \
                 wheel has no interserver port, so it cannot replicate): not run in this pass"
            );
            false
        }
    }
}

/// The shared cluster, for one test at a time.
pub fn cluster() -> (MutexGuard<'static, ()>, &'static Cluster) {
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cl = SHARED.get_or_init(Cluster::start);
    cl.heal();
    (guard, cl)
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("ingest-cluster-")
            .tempdir()
            .expect("temp dir");
        let zk_port = free_port();
        let zk_dir = dir.path().join("zk");
        std::fs::create_dir_all(&zk_dir).unwrap();
        let zk = Proc {
            program: format!(
                "java -Xmx256m -Dzookeeper.admin.enableServer=false \
                 -Dzookeeper.4lw.commands.whitelist=srvr -cp '/usr/share/java/*' \
                 org.apache.zookeeper.server.ZooKeeperServerMain {zk_port} '{}'",
                zk_dir.display()
            ),
            log: dir.path().join("zk.log"),
            port: zk_port,
            running: Mutex::new(None),
        };
        let ports: Vec<(u16, u16, u16)> = (0..4)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let nodes: Vec<Node> = ports
            .iter()
            .enumerate()
            .map(|(i, &(http, _, _))| {
                let d = dir.path().join(format!("ch{}", i + 1));
                let shard = i as u32 / 2 + 1;
                write_config(&d, i, &ports, zk_port, shard);
                Node {
                    url: format!("http://127.0.0.1:{http}"),
                    proc: Proc {
                        program: format!(
                            "/usr/sbin/clickhouse-server --config-file='{}/config.xml'",
                            d.display()
                        ),
                        log: d.join("stdout.log"),
                        port: http,
                        running: Mutex::new(None),
                    },
                }
            })
            .collect();
        let cl = Cluster {
            zk_port,
            zk,
            nodes,
            _dir: dir,
        };
        cl.start_zk();
        for i in 0..cl.nodes.len() {
            cl.nodes[i].proc.start();
        }
        for i in 0..cl.nodes.len() {
            cl.wait_node(i);
        }
        cl
    }

    /// Whatever an earlier test stopped is started again.
    fn heal(&self) {
        if !port_open(self.zk_port) {
            self.start_zk();
        }
        for i in 0..self.nodes.len() {
            if !port_open(self.nodes[i].proc.port) {
                self.start_node(i);
            }
        }
    }

    /// `zk://127.0.0.1:PORT/path`
    pub fn coordination(&self, path: &str) -> String {
        format!("zk://127.0.0.1:{}{path}", self.zk_port)
    }

    pub fn start_zk(&self) {
        self.zk.start();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if zk_serving(self.zk_port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "ZooKeeper did not start: {}",
            std::fs::read_to_string(&self.zk.log).unwrap_or_default()
        );
    }

    pub fn stop_zk(&self) {
        self.zk.stop();
    }

    pub fn stop_node(&self, i: usize) {
        self.nodes[i].proc.stop();
    }

    pub fn start_node(&self, i: usize) {
        self.nodes[i].proc.start();
        self.wait_node(i);
    }

    fn wait_node(&self, i: usize) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if self.try_query(i, "SELECT 1").is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "ClickHouse node {i} did not start: {}",
            std::fs::read_to_string(&self.nodes[i].proc.log).unwrap_or_default()
        );
    }

    pub fn try_query(&self, i: usize, sql: &str) -> Result<String, String> {
        crate::server::post_sql(&self.nodes[i].url, &[], sql)
    }

    /// Runs SQL on node `i`, panicking on errors.
    pub fn query(&self, i: usize, sql: &str) -> String {
        self.try_query(i, sql)
            .unwrap_or_else(|e| panic!("node {i}: {sql}\n{e}"))
    }

    /// A fresh database on every node, for one test.
    pub fn database(&self, test: &str) -> String {
        let n = DB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("c_{test}_{}_{n}", std::process::id());
        // The first DDL after the servers start may find the queue not ready yet: again, a
        // few times, until every server has the database.
        let sql = format!("CREATE DATABASE IF NOT EXISTS {name} ON CLUSTER {CLUSTER}");
        let has = |i| {
            let sql = format!("SELECT count() FROM system.databases WHERE name = '{name}'");
            self.try_query(i, &sql).is_ok_and(|r| r.trim() == "1")
        };
        let started = Instant::now();
        while !(0..self.nodes.len()).all(has) {
            let tried = self.try_query(0, &sql);
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{sql}: {tried:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        name
    }

    /// Waits until every replica of `db.table` has fetched what the others have.
    pub fn sync(&self, table: &str) {
        for i in 0..self.nodes.len() {
            let exists = self.query(
                i,
                &format!(
                    "SELECT count() FROM system.replicas WHERE database = '{}' AND table = '{}'",
                    table.split('.').next().unwrap(),
                    table.split('.').nth(1).unwrap()
                ),
            );
            if exists.trim() == "1" {
                self.query(i, &format!("SYSTEM SYNC REPLICA {table}"));
            }
        }
    }
}

/// Whether ZooKeeper answers `srvr` as a serving server.
fn zk_serving(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut out = String::new();
    s.write_all(b"srvr").is_ok() && s.read_to_string(&mut out).is_ok() && out.contains("Mode:")
}

fn write_config(d: &Path, i: usize, ports: &[(u16, u16, u16)], zk: u16, shard: u32) {
    std::fs::create_dir_all(d.join("data")).unwrap();
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    let (http, tcp, interserver) = ports[i];
    let replica = |p: &(u16, u16, u16)| {
        format!(
            "<replica><host>127.0.0.1</host><port>{}</port></replica>",
            p.1
        )
    };
    let shards: String = ports
        .chunks(2)
        .map(|pair| {
            format!(
                "<shard><internal_replication>true</internal_replication>{}</shard>",
                pair.iter().map(replica).collect::<String>()
            )
        })
        .collect();
    let d = d.display();
    let config = format!(
        r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><size>100M</size><count>1</count></logger>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/data/user_files/</user_files_path>
  <format_schema_path>{d}/data/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_concurrent_queries>200</max_concurrent_queries>
  <zookeeper><node><host>127.0.0.1</host><port>{zk}</port></node><session_timeout_ms>10000</session_timeout_ms></zookeeper>
  <macros><shard>{shard}</shard><replica>r{n}</replica></macros>
  <remote_servers><{CLUSTER}>{shards}</{CLUSTER}></remote_servers>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
"#,
        n = i + 1
    );
    std::fs::write(format!("{d}/config.xml"), config).unwrap();
    std::fs::write(
        format!("{d}/users.xml"),
        r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#,
    )
    .unwrap();
}
