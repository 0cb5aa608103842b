//! `ingest` on a real ZooKeeper-backed cluster (see `cluster_harness.rs`): Replicated and
//! Distributed targets take every file exactly once, by counts and checksums across all shards
//! and by provenance; the tool's DDL reaches every server; any replica sees one manifest;
//! replicated block deduplication meets retried inserts and identical batches of two files;
//! replicas and ZooKeeper go away mid-run and a later run completes with nothing lost or doubled.
//! The cluster is ClickHouse 18.16: the 26.9 server cannot replicate.

use crate::cluster_harness::{CLUSTER, Cluster, cluster, runs_here};
use crate::util::{Output, assert_code, reviews_csv, run};
use std::path::PathBuf;
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_ingest");

/// One cluster test's world: a database on every server and a data folder.
pub struct CEnv<'a> {
    pub cl: &'a Cluster,
    pub db: String,
    pub dir: tempfile::TempDir,
}

pub const LOCAL_DDL: &str = "(rating Float32, title String, text String, asin String, \
     user_id String, timestamp UInt64, helpful_vote UInt32, verified_purchase UInt8)";
pub const COLUMNS: &str =
    "rating, title, text, asin, user_id, timestamp, helpful_vote, verified_purchase";

impl<'a> CEnv<'a> {
    /// The cluster lock's home for this test: `zk://…/ingest-tests/DB`.
    pub fn coordination(&self) -> String {
        self.cl.coordination(&format!("/ingest-tests/{}", self.db))
    }

    /// The arguments of a run of shard `shard` (`K/N`) into `dist`, in batches of 500 rows,
    /// under this test's cluster lock.
    pub fn shard_args(&self, shard: &str) -> Vec<String> {
        ["--table", "dist", "--batch-rows", "500", "--coordination"]
            .into_iter()
            .map(str::to_owned)
            .chain([self.coordination(), "--shard".to_owned(), shard.to_owned()])
            .collect()
    }

    pub fn new(cl: &'a Cluster, test: &str) -> CEnv<'a> {
        let dir = tempfile::Builder::new()
            .prefix("ingest-cluster-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        CEnv {
            cl,
            db: cl.database(test),
            dir,
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.data().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// `ingest run` on the cluster through the replicas `nodes` (in order), quick to give up.
    pub fn command(&self, nodes: &[usize]) -> Command {
        let mut cmd = self.subcommand("run", nodes);
        cmd.env("INGEST_SETTLE", "0");
        cmd
    }

    /// Another command, the same way.
    pub fn subcommand(&self, sub: &str, nodes: &[usize]) -> Command {
        let urls: Vec<&str> = nodes
            .iter()
            .map(|&i| self.cl.nodes[i].url.as_str())
            .collect();
        let mut cmd = Command::new(BIN);
        cmd.arg(sub)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CLICKHOUSE_URL", urls.join(","))
            .env("CLICKHOUSE_DATABASE", &self.db)
            .env("INGEST_DATA_DIR", self.data())
            .env("INGEST_CLUSTER", CLUSTER)
            .env("INGEST_TIMEOUT", "20s")
            .env("INGEST_RETRIES", "3")
            .env("INGEST_FOLDER_ID", "shared-folder");
        cmd
    }

    pub fn ingest(&self, nodes: &[usize], args: &[&str]) -> Output {
        run(self.command(nodes).args(args))
    }

    /// SQL on node `i` with `{db}` standing for this test's database.
    pub fn q(&self, i: usize, sql: &str) -> String {
        self.cl.query(i, &sql.replace("{db}", &self.db))
    }

    pub fn n(&self, i: usize, sql: &str) -> u64 {
        self.q(i, sql).trim().parse().expect("a number")
    }

    /// A replicated table of reviews on every server, with a Distributed table over it.
    pub fn reviews(&self, local: &str, dist: &str) {
        self.reviews_with(local, dist, LOCAL_DDL);
    }

    /// The same, with the provenance columns from the start (on every server).
    pub fn reviews_with_provenance(&self, local: &str, dist: &str) {
        let ddl = LOCAL_DDL.replace("UInt8)", "UInt8, _ingest_file UInt64, _ingest_row UInt64)");
        self.reviews_with(local, dist, &ddl);
    }

    fn reviews_with(&self, local: &str, dist: &str, columns: &str) {
        self.q(
            0,
            &format!(
                "CREATE TABLE {{db}}.{local} ON CLUSTER {CLUSTER} {columns} ENGINE = \
                 ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{}/{local}', '{{replica}}') \
                 ORDER BY (asin, timestamp)",
                self.db
            ),
        );
        if !dist.is_empty() {
            self.q(
                0,
                &format!(
                    "CREATE TABLE {{db}}.{dist} ON CLUSTER {CLUSTER} {columns} ENGINE = \
                     Distributed({CLUSTER}, {}, {local}, rand())",
                    self.db
                ),
            );
        }
    }

    /// A plain table on node 0 that ClickHouse's own CSV parser fills, as the reference.
    pub fn reference(&self) {
        self.q(
            0,
            &format!("CREATE TABLE {{db}}.reference {LOCAL_DDL} ENGINE = MergeTree ORDER BY asin"),
        );
    }

    pub fn add_reference(&self, csv: &str) {
        let body = csv.split_once('\n').map_or("", |(_, rest)| rest);
        let body = body.replace(",true\n", ",1\n").replace(",false\n", ",0\n");
        self.cl.query(
            0,
            &format!("INSERT INTO {}.reference FORMAT CSV\n{body}", self.db),
        );
    }

    /// Rows, checksum and duplicate provenance keys of `table` as node `i` reads it, against the
    /// reference: every record exactly once.
    #[track_caller]
    pub fn assert_exactly_once(&self, i: usize, table: &str) {
        let fingerprint = |node: usize, t: &str| {
            self.q(
                node,
                &format!("SELECT count(), sum(cityHash64({COLUMNS})) FROM {{db}}.{t}"),
            )
        };
        assert_eq!(
            fingerprint(i, table),
            fingerprint(0, "reference"),
            "{table} on node {i}"
        );
        let doubled = self.n(
            i,
            &format!(
                "SELECT count() FROM (SELECT _ingest_file, _ingest_row, count() AS c \
                 FROM {{db}}.{table} GROUP BY _ingest_file, _ingest_row HAVING c > 1)"
            ),
        );
        assert_eq!(
            doubled, 0,
            "duplicate provenance keys in {table} on node {i}"
        );
    }

    /// Writes `files` review files of `rows` rows each, numbered from `first`, named `prefix…`;
    /// adds them to the reference.
    pub fn files(&self, prefix: &str, first: u64, files: u64, rows: u64) {
        for f in 0..files {
            let csv = reviews_csv(first + f * rows, rows);
            self.write(&format!("{prefix}{f:03}.csv"), &csv);
            self.add_reference(&csv);
        }
    }
}

/// Every node's view of a table after the replicas have caught up.
fn synced(env: &CEnv, table: &str) {
    env.cl.sync(&format!("{}.{table}", env.db));
}

#[test]
fn replicated_and_distributed_targets_take_every_file_once_seen_from_any_replica() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "targets");
    env.reviews("local", "dist");
    env.reviews("rep", "");
    env.reference();
    // Three files through a replica of shard 1, then three more through a replica of shard 2.
    env.files("a", 0, 3, 700);
    let first = env.ingest(&[0], &["--table", "dist", "--batch-rows", "300"]);
    assert_code(&first, 0);
    env.files("b", 2100, 3, 700);
    let second = env.ingest(
        &[2],
        &["--table", "dist", "--batch-rows", "300", "--output", "json"],
    );
    assert_code(&second, 0);
    let summary: serde_json::Value = serde_json::from_str(second.stdout.trim()).unwrap();
    assert_eq!(summary["files"]["ingested"], 3, "{}", second.stdout);
    assert_eq!(
        summary["files"]["already-ingested"], 3,
        "a run through another shard's replica sees the first run's manifest"
    );
    synced(&env, "local");
    // The tool added the provenance columns to the local table on every server (ON CLUSTER),
    // and to the Distributed table where it ran (18.16 refuses a distributed ALTER of a table
    // that is not replicated).
    let provenance = |i: usize, t: &str| {
        env.n(
            i,
            &format!(
                "SELECT count() FROM system.columns WHERE database = '{{db}}' AND table = '{t}' \
                 AND name IN ('_ingest_file', '_ingest_row')"
            ),
        )
    };
    for i in 0..4 {
        assert_eq!(provenance(i, "local"), 2, "local on node {i}");
    }
    assert_eq!(provenance(1, "dist"), 0);
    for i in [0, 2] {
        assert_eq!(provenance(i, "dist"), 2, "dist on node {i}");
        env.assert_exactly_once(i, "dist");
    }
    // Rows were written into the local table of the replica connected to: each shard holds the
    // files of the run through it.
    assert_eq!(env.n(1, "SELECT count() FROM {db}.local"), 2100);
    assert_eq!(env.n(3, "SELECT count() FROM {db}.local"), 2100);
    // The manifest, its history and rejects are replicated to every server.
    for i in 0..4 {
        let engines = env.q(
            i,
            "SELECT name, engine FROM system.tables WHERE database = '{db}' AND name LIKE 'ingest%' \
             ORDER BY name",
        );
        assert_eq!(
            engines,
            "ingest_manifest\tReplicatedMergeTree\ningest_manifest_files\tView\n\
             ingest_manifest_rejects\tReplicatedMergeTree\ningest_manifest_runs\tReplicatedMergeTree\n",
            "node {i}"
        );
    }
    // A rerun through the other replica of shard 2 has nothing to do.
    let again = env.ingest(&[3], &["--table", "dist", "--batch-rows", "300"]);
    assert_code(&again, 0);
    assert!(
        again.stdout.contains("6 already-ingested"),
        "{}",
        again.stdout
    );
    env.assert_exactly_once(2, "dist");
    // A file whose rows are on shard 2, forgotten with its rows through a replica of shard 1:
    // the delete reaches its local table there; the next run ingests it again, once.
    let forget = run(env
        .subcommand("forget", &[0])
        .args(["--delete-rows", "b000.csv"]));
    assert_code(&forget, 0);
    assert_eq!(env.n(2, "SELECT count() FROM {db}.dist"), 3500);
    let back = env.ingest(&[0], &["--table", "dist", "--batch-rows", "300"]);
    assert_code(&back, 0);
    synced(&env, "local");
    env.assert_exactly_once(2, "dist");

    // A Replicated table as the target, through the second replica of shard 1.
    let rep = env.ingest(&[1], &["--table", "rep", "--batch-rows", "300"]);
    assert_code(&rep, 0);
    synced(&env, "rep");
    env.assert_exactly_once(0, "rep");
    env.assert_exactly_once(1, "rep");
    assert_eq!(
        env.n(2, "SELECT count() FROM {db}.rep"),
        0,
        "shard 2 has its own rep"
    );
}

#[test]
fn created_tables_are_replicated_on_every_server_of_the_cluster() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "create");
    env.reference();
    env.files("f", 0, 2, 500);
    let out = env.ingest(&[2], &["--table", "made", "--create-table"]);
    assert_code(&out, 0);
    for i in 0..4 {
        let engine = env.q(
            i,
            "SELECT engine FROM system.tables WHERE database = '{db}' AND name = 'made'",
        );
        assert_eq!(engine, "ReplicatedMergeTree\n", "node {i}");
    }
    synced(&env, "made");
    assert_eq!(env.n(3, "SELECT count() FROM {db}.made"), 1000);
    assert_eq!(
        env.n(0, "SELECT count() FROM {db}.made"),
        0,
        "shard 1 has its own"
    );
}

#[test]
fn replicated_deduplication_drops_a_repeated_insert_and_keeps_identical_batches_of_two_files() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "dedup");
    env.reviews("rep", "");
    env.reference();
    // Every coalesced insert is sent twice, as a client that lost the first answer would: the
    // replicas keep one (the same block under the same name), and the read-back agrees.
    env.files("f", 0, 4, 100);
    let repeated = run(env
        .command(&[0])
        .args([
            "--table",
            "rep",
            "--batch-rows",
            "100",
            "--insert-rows",
            "100",
        ])
        .env("FAILPOINTS", "repeat-insert=return"));
    assert_code(&repeated, 0);
    synced(&env, "rep");
    env.assert_exactly_once(1, "rep");

    // Two files whose rows are identical but whose bytes are not (one has CRLF line ends): with
    // provenance their blocks differ; without it, a replicated table would take the second for a
    // repeat of the first and drop it, so such inserts are sent with deduplication off.
    env.q(
        0,
        &format!(
            "CREATE TABLE {{db}}.bare ON CLUSTER {CLUSTER} {LOCAL_DDL} ENGINE = \
             ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{}/bare', '{{replica}}') \
             ORDER BY (asin, timestamp)",
            env.db
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let csv = reviews_csv(5000, 100);
    std::fs::write(dir.path().join("lf.csv"), &csv).unwrap();
    std::fs::write(dir.path().join("crlf.csv"), csv.replace('\n', "\r\n")).unwrap();
    for table in ["rep", "bare"] {
        let mut cmd = env.command(&[0]);
        cmd.env("INGEST_DATA_DIR", dir.path())
            .env("INGEST_FOLDER_ID", format!("twins-{table}"))
            .args([
                "--table",
                table,
                "--batch-rows",
                "100",
                "--insert-rows",
                "100",
            ]);
        if table == "bare" {
            cmd.arg("--without-provenance");
        }
        let out = run(&mut cmd);
        assert_code(&out, 0);
    }
    synced(&env, "rep");
    synced(&env, "bare");
    assert_eq!(env.n(1, "SELECT count() FROM {db}.rep"), 600);
    assert_eq!(
        env.n(1, "SELECT count() FROM {db}.bare"),
        200,
        "both files' identical batches landed"
    );
}
