//! The deployment examples under `examples/`: what can be checked without a container engine or a
//! cluster — systemd's own verifier, the YAML parsed and its key fields, the files they point to,
//! and the alert rules against the metrics a real run writes.

use crate::util::*;
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(example(rel)).unwrap_or_else(|e| panic!("examples/{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_norway::from_str(&read(rel)).unwrap_or_else(|e| panic!("examples/{rel}: {e}"))
}

#[track_caller]
fn text<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

/// A systemd unit file as section → key → values (keys may repeat).
fn unit(rel: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut current = String::new();
    for line in read(rel).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        sections
            .entry(current.clone())
            .or_default()
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    sections
}

#[test]
fn systemd_units_verify_and_run_ingest_as_a_oneshot_on_a_timer() {
    let service = unit("systemd/ingest.service");
    let s = &service["Service"];
    assert_eq!(s["Type"], ["oneshot"]);
    assert_ne!(s["User"], ["root"]);
    assert!(
        s.contains_key("EnvironmentFile"),
        "the password comes from a file"
    );
    let exec = &s["ExecStart"][0];
    assert!(exec.starts_with("/usr/local/bin/ingest run "), "{exec}");
    assert!(exec.contains("--metrics-file "), "{exec}");
    let timer = unit("systemd/ingest.timer");
    assert!(timer["Timer"].contains_key("OnUnitInactiveSec"));
    assert_eq!(timer["Install"]["WantedBy"], ["timers.target"]);

    let Ok(found) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!(
            "SKIPPED systemd-analyze verify: systemd-analyze is not installed (Debian: systemd)"
        );
        return;
    };
    assert!(found.status.success());
    // The verifier wants ExecStart's program to exist: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    for name in ["ingest.service", "ingest.timer"] {
        let body = read(&format!("systemd/{name}")).replace("/usr/local/bin/ingest", BIN);
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let out = run(Command::new("systemd-analyze")
        .current_dir(dir.path())
        .args(["verify", "./ingest.service", "./ingest.timer"]));
    assert_code(&out, 0);
    assert_eq!(out.stderr, "", "systemd-analyze verify has remarks");
}

#[test]
fn the_watch_service_runs_ingest_watch_and_restarts_it_on_failure() {
    let service = unit("systemd/ingest-watch.service");
    let s = &service["Service"];
    assert!(["simple", "notify"].contains(&s["Type"][0].as_str()));
    assert_eq!(s["Restart"], ["on-failure"]);
    assert_ne!(s["User"], ["root"]);
    assert!(s.contains_key("EnvironmentFile"));
    let exec = &s["ExecStart"][0];
    assert!(exec.starts_with("/usr/local/bin/ingest watch "), "{exec}");
    assert!(exec.contains("--metrics-file "), "{exec}");
    assert_eq!(s["ExecReload"], ["/bin/kill -HUP $MAINPID"]);
    assert!(s.contains_key("TimeoutStopSec"));
    assert_eq!(service["Install"]["WantedBy"], ["multi-user.target"]);

    let Ok(found) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!(
            "SKIPPED systemd-analyze verify: systemd-analyze is not installed (Debian: systemd)"
        );
        return;
    };
    assert!(found.status.success());
    let dir = tempfile::tempdir().unwrap();
    let body = read("systemd/ingest-watch.service").replace("/usr/local/bin/ingest", BIN);
    std::fs::write(dir.path().join("ingest-watch.service"), body).unwrap();
    let out = run(Command::new("systemd-analyze")
        .current_dir(dir.path())
        .args(["verify", "./ingest-watch.service"]));
    assert_code(&out, 0);
    assert_eq!(out.stderr, "", "systemd-analyze verify has remarks");
}

#[test]
fn the_kubernetes_deployment_runs_one_watcher_at_a_time() {
    let k = yaml("kubernetes/deployment.yaml");
    assert_eq!(k["apiVersion"], "apps/v1");
    assert_eq!(k["kind"], "Deployment");
    let spec = &k["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"]["type"], "Recreate");
    assert_eq!(
        spec["selector"]["matchLabels"],
        spec["template"]["metadata"]["labels"]
    );
    let pod = &spec["template"]["spec"];
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 60);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
    let container = &pod["containers"][0];
    assert_eq!(container["args"][0], "watch");
    let env = container["env"].as_sequence().unwrap();
    let password = env
        .iter()
        .find(|e| e["name"] == "CLICKHOUSE_PASSWORD")
        .expect("a password variable");
    assert!(password.get("value").is_none());
    assert!(password["valueFrom"]["secretKeyRef"]["key"].is_string());
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    assert!(
        mounts.iter().any(|m| m["mountPath"] == "/tmp"),
        "a TMPDIR volume"
    );
    let data = env.iter().find(|e| e["name"] == "INGEST_DATA_DIR").unwrap();
    assert!(
        mounts.iter().any(|m| m["mountPath"] == data["value"]),
        "the data folder is a volume"
    );
}

#[test]
fn the_cron_entry_runs_ingest_every_five_minutes() {
    let body = read("cron/ingest");
    let entries: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.split_whitespace().next().unwrap().contains('='))
        .collect();
    assert_eq!(entries.len(), 1, "{body}");
    let fields: Vec<&str> = entries[0].splitn(7, ' ').collect();
    assert_eq!(fields[..5], ["*/5", "*", "*", "*", "*"]);
    assert_eq!(fields[5], "ingest", "an /etc/cron.d entry names its user");
    assert!(
        fields[6].contains("/usr/local/bin/ingest run --config /etc/ingest/ingest.toml"),
        "{}",
        fields[6]
    );
}

/// Dockerfile instructions as (stage index, instruction, arguments), continuation lines joined.
fn dockerfile() -> Vec<(usize, String, String)> {
    let joined = read("docker/Dockerfile").replace("\\\n", " ");
    let mut stage = 0;
    let mut out = Vec::new();
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, args) = line.split_once(' ').unwrap_or((line, ""));
        let word = word.to_ascii_uppercase();
        if word == "FROM" {
            stage += 1;
        }
        out.push((
            stage,
            word,
            args.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    out
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_a_slim_non_root_image() {
    let steps = dockerfile();
    let froms: Vec<&str> = steps
        .iter()
        .filter(|s| s.1 == "FROM")
        .map(|s| s.2.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{}", froms[0]);
    assert!(
        froms[1].contains("slim") || froms[1].contains("distroless"),
        "{}",
        froms[1]
    );
    let in_stage = |stage: usize, word: &str| -> Vec<&str> {
        steps
            .iter()
            .filter(|s| s.0 == stage && s.1 == word)
            .map(|s| s.2.as_str())
            .collect()
    };
    assert!(
        in_stage(1, "RUN")
            .iter()
            .any(|r| r.contains("cargo build --release --locked --bin ingest"))
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for copy in in_stage(1, "COPY") {
        let parts: Vec<&str> = copy.split(' ').collect();
        for source in &parts[..parts.len() - 1] {
            assert!(
                root.join(source).exists(),
                "COPY {source}: not in the repository"
            );
        }
    }
    assert!(
        in_stage(2, "COPY")
            .iter()
            .any(|c| c.starts_with("--from=build ") && c.ends_with(" /usr/local/bin/ingest"))
    );
    assert_eq!(in_stage(2, "USER"), ["10001:10001"]);
    assert_eq!(in_stage(2, "ENTRYPOINT"), [r#"["/usr/local/bin/ingest"]"#]);
}

/// Where a named volume is mounted in a compose service.
fn mount_of<'a>(service: &'a Value, volume: &str) -> &'a str {
    service["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str()?.strip_prefix(&format!("{volume}:")))
        .map(|rest| rest.split(':').next().unwrap())
        .next()
        .unwrap_or_else(|| panic!("volume {volume} is not mounted"))
}

#[test]
fn the_compose_file_runs_clickhouse_and_ingest_on_a_schedule() {
    let c = yaml("docker/compose.yaml");
    let s = &c["services"];
    let ch = &s["clickhouse"];
    assert!(text(&ch["image"], "image").starts_with("clickhouse/clickhouse-server:"));
    assert!(ch["healthcheck"]["test"].is_sequence());
    let init_sql = ch["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|v| v.as_str()?.strip_prefix("./init.sql:"))
        .expect("init.sql is mounted");
    assert!(init_sql.starts_with("/docker-entrypoint-initdb.d/"));
    assert!(example("docker/init.sql").exists());

    let ingest = &s["ingest"];
    let context = example("docker").join(text(&ingest["build"]["context"], "context"));
    let dockerfile = context.join(text(&ingest["build"]["dockerfile"], "dockerfile"));
    assert!(dockerfile.exists(), "{}", dockerfile.display());
    assert_eq!(
        ingest["depends_on"]["clickhouse"]["condition"],
        "service_healthy"
    );
    let command = text(&ingest["command"][0], "command");
    assert!(
        command.contains("ingest run") && command.contains("sleep 300"),
        "{command}"
    );
    let env = &ingest["environment"];
    assert_eq!(env["CLICKHOUSE_URL"], "http://clickhouse:8123");
    assert!(text(&env["CLICKHOUSE_PASSWORD"], "password").starts_with("${"));
    let metrics = Path::new(text(&env["INGEST_METRICS_FILE"], "metrics file"));
    assert_eq!(
        metrics.parent().unwrap(),
        Path::new(mount_of(ingest, "metrics"))
    );
    let exporter = &s["node-exporter"];
    let textfile_dir = format!(
        "--collector.textfile.directory={}",
        mount_of(exporter, "metrics")
    );
    assert!(
        exporter["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|a| a.as_str() == Some(&textfile_dir)),
        "node_exporter reads the folder ingest writes"
    );
}

#[test]
fn the_kubernetes_cronjob_forbids_overlapping_runs() {
    let k = yaml("kubernetes/cronjob.yaml");
    assert_eq!(k["apiVersion"], "batch/v1");
    assert_eq!(k["kind"], "CronJob");
    let spec = &k["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert_eq!(text(&spec["schedule"], "schedule").split(' ').count(), 5);
    let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["runAsUser"], 10001,
        "the image's user"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["args"][0], "run");
    let env = container["env"].as_sequence().unwrap();
    let password = env
        .iter()
        .find(|e| e["name"] == "CLICKHOUSE_PASSWORD")
        .expect("a password variable");
    assert!(
        password.get("value").is_none(),
        "the password comes from a Secret"
    );
    assert!(password["valueFrom"]["secretKeyRef"]["key"].is_string());
    let url = env.iter().find(|e| e["name"] == "CLICKHOUSE_URL").unwrap();
    assert!(text(&url["value"], "url").starts_with("https://"));
    // A read-only root file system leaves temporary files nowhere unless TMPDIR is a volume.
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    let tmpdir = env
        .iter()
        .find(|e| e["name"] == "TMPDIR")
        .map_or("/tmp", |e| text(&e["value"], "TMPDIR"));
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let tmp = mounts
        .iter()
        .find(|m| m["mountPath"] == tmpdir)
        .unwrap_or_else(|| panic!("no volume at TMPDIR ({tmpdir})"));
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == tmp["name"])
        .expect("the TMPDIR volume");
    assert!(
        volume["emptyDir"].is_mapping(),
        "TMPDIR is a scratch volume"
    );
}

/// Metric names (`ingest_…`) and the values of a label (`name="v"` or `name=~"a|b"`) in text.
fn names_and_labels(text: &str, label: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("ingest_") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.insert(name);
    }
    let mut values = BTreeSet::new();
    for part in text.split(&format!("{label}=")).skip(1) {
        let quoted = part.trim_start_matches('~');
        let value = quoted[1..].split('"').next().unwrap();
        values.extend(value.split('|').map(String::from));
    }
    (names, values)
}

#[test]
fn alert_rules_use_the_metrics_a_run_writes_with_the_seed_thresholds() {
    let rules = yaml("prometheus/ingest-alerts.yml");
    let rules: Vec<&Value> = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .collect();
    let by_name: BTreeMap<&str, &Value> = rules
        .iter()
        .map(|r| (text(&r["alert"], "alert"), *r))
        .collect();
    for rule in &rules {
        assert!(
            ["warning", "critical"].contains(&text(&rule["labels"]["severity"], "severity")),
            "{rule:?}"
        );
        assert!(rule["annotations"]["summary"].is_string(), "{rule:?}");
    }
    let expr = |name: &str| text(&by_name[name]["expr"], "expr").to_owned();
    assert!(expr("IngestErrorRateHigh").contains("> 0.05"));
    assert!(expr("IngestFileSlow").contains(r#"le="600.0""#));
    assert!(expr("IngestNoSuccess").contains("ingest_last_success_timestamp_seconds"));
    assert!(expr("IngestClickHouseUnreachable").contains("ingest_last_run_exit_code == 4"));
    assert!(expr("IngestLastRunFailed").contains("ingest_last_run_exit_code != 0"));

    let env = Env::new("alert_rules");
    env.q("CREATE TABLE {db}.t (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.write("ok.csv", "x\n1\n");
    env.write("bad.csv", "x\n-1\n");
    let prom = env.dir.path().join("ingest.prom");
    let out = env.ingest(&["--table", "t", "--metrics-file", prom.to_str().unwrap()]);
    assert_code(&out, 3);
    check_metrics(&prom);
    // A watcher writes the same file, and its heartbeat.
    let watched = env.dir.path().join("watch.prom");
    let w = crate::watch::Watching::start(
        &env,
        &["--table", "t", "--metrics-file", watched.to_str().unwrap()],
        &[],
    );
    w.stop();
    check_metrics(&watched);
    let written =
        std::fs::read_to_string(&prom).unwrap() + &std::fs::read_to_string(&watched).unwrap();
    let (written_names, written_outcomes) = names_and_labels(&written, "outcome");
    let (_, written_reasons) = names_and_labels(&written, "reason");
    let (_, written_les) = names_and_labels(&written, "le");
    let all = read("prometheus/ingest-alerts.yml");
    let (used, outcomes) = names_and_labels(&all, "outcome");
    let (_, les) = names_and_labels(&all, "le");
    let (_, reasons) = names_and_labels(&all, "reason");
    assert!(reasons.is_subset(&written_reasons), "{reasons:?}");
    assert!(!used.is_empty());
    for name in &used {
        assert!(written_names.contains(name), "{name} is not in\n{written}");
    }
    assert!(outcomes.is_subset(&written_outcomes), "{outcomes:?}");
    assert!(les.is_subset(&written_les), "{les:?} vs {written_les:?}");
}

#[test]
fn the_example_config_file_is_accepted() {
    let env = Env::new("example_config");
    let config = example("ingest.toml");
    let out = run(env
        .command("init")
        .env("CLICKHOUSE_USER", "default")
        .args(["--config", config.to_str().unwrap()]));
    assert_code(&out, 2);
    let db = &env.db;
    assert!(
        out.stdout.ends_with(&format!(
            "missing {db}.misc_events: create it before the first run\n\
             missing {db}.reviews: create it before the first run\n\
             missing sales.orders: create it before the first run\n"
        )),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        format!(
            "ingest: error: target tables {db}.misc_events, {db}.reviews, sales.orders are missing: \
             create them before the first run, or let runs create them with --create-table\n"
        )
    );
}

#[test]
fn every_alert_rule_passes_its_promtool_unit_tests() {
    let dir = example("prometheus");
    let check = run(Command::new("promtool").current_dir(&dir).args([
        "check",
        "rules",
        "ingest-alerts.yml",
    ]));
    assert_code(&check, 0);
    let tested = run(Command::new("promtool").current_dir(&dir).args([
        "test",
        "rules",
        "ingest-alerts.test.yml",
    ]));
    assert_code(&tested, 0);
    assert!(tested.stdout.contains("SUCCESS"), "{}", tested.all());

    // Every alert has a test in which it fires.
    let rules = yaml("prometheus/ingest-alerts.yml");
    let alerts: BTreeSet<&str> = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .map(|r| text(&r["alert"], "alert"))
        .collect();
    let tests = yaml("prometheus/ingest-alerts.test.yml");
    let firing: BTreeSet<&str> = tests["tests"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_sequence().unwrap())
        .filter(|case| {
            case["exp_alerts"]
                .as_sequence()
                .is_some_and(|a| !a.is_empty())
        })
        .map(|case| text(&case["alertname"], "alertname"))
        .collect();
    assert_eq!(alerts, firing, "alerts without a test in which they fire");
}

/// Text between `<tag>` and `</tag>`, every occurrence.
fn xml_all<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    text.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .collect()
}

#[test]
fn the_cluster_compose_file_runs_two_shards_of_two_replicas_and_two_ingest_hosts() {
    let mut c = yaml("cluster/compose.yaml");
    c.apply_merge().unwrap();
    let s = &c["services"];
    assert!(text(&s["zookeeper"]["image"], "image").starts_with("zookeeper:3."));
    // The cluster the servers share: two shards, each of two of the compose's servers.
    let cluster = read("cluster/clickhouse/cluster.xml");
    let remote = xml_all(&cluster, "remote_servers")[0];
    let name = remote
        .trim()
        .strip_prefix('<')
        .and_then(|r| r.split('>').next())
        .unwrap();
    let shards: Vec<Vec<&str>> = xml_all(remote, "shard")
        .into_iter()
        .map(|sh| {
            assert!(sh.contains("<internal_replication>true</internal_replication>"));
            xml_all(sh, "host")
        })
        .collect();
    assert_eq!(shards, [["ch1", "ch2"], ["ch3", "ch4"]]);
    assert_eq!(
        xml_all(&cluster, "host")[0],
        "zookeeper",
        "ZooKeeper by its service name"
    );
    assert!(cluster.contains("<distributed_ddl>"));
    // Each server: its own macros, the shard it is in above, and the shared file.
    let mut replicas = BTreeSet::new();
    for (k, hosts) in shards.iter().enumerate() {
        for host in hosts {
            let server = &s[*host];
            assert!(text(&server["image"], "image").starts_with("clickhouse/clickhouse-server:"));
            let mounts: Vec<&str> = server["volumes"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let macros = format!("./clickhouse/macros-{host}.xml:");
            let file = mounts
                .iter()
                .find_map(|m| m.strip_prefix("./"))
                .filter(|_| {
                    mounts
                        .iter()
                        .any(|m| m.starts_with("./clickhouse/cluster.xml:"))
                })
                .expect("cluster.xml is mounted");
            assert!(
                example("cluster")
                    .join(file.split(':').next().unwrap())
                    .exists()
            );
            assert!(
                mounts.iter().any(|m| m.starts_with(&macros)),
                "{host}: {mounts:?}"
            );
            let m = read(&format!("cluster/clickhouse/macros-{host}.xml"));
            assert_eq!(xml_all(&m, "shard"), [(k + 1).to_string()], "{host}");
            assert_eq!(xml_all(&m, "interserver_http_host"), [*host]);
            replicas.insert(xml_all(&m, "replica")[0].to_owned());
        }
    }
    assert_eq!(
        replicas.len(),
        4,
        "replica names are unique across the cluster"
    );
    // Two ingest hosts on one folder: one cluster lock service, a shard each, the same folder
    // id, the cluster of the servers, and the replicas of one shard each.
    let setup = read("cluster/setup.sql");
    assert!(setup.contains(&format!("Distributed({name}, analytics, reviews_local")));
    for (host, shard, urls) in [
        ("ingest-a", "0/2", "http://ch1:8123,http://ch2:8123"),
        ("ingest-b", "1/2", "http://ch3:8123,http://ch4:8123"),
    ] {
        let svc = &s[host];
        let env = &svc["environment"];
        assert_eq!(env["INGEST_SHARD"], shard, "{host}");
        assert_eq!(env["CLICKHOUSE_URL"], urls, "{host}");
        assert_eq!(env["INGEST_CLUSTER"], name, "{host}");
        assert_eq!(env["INGEST_FOLDER_ID"], "reviews-drop", "{host}");
        assert!(
            text(&env["INGEST_COORDINATION"], "coordination").starts_with("zk://zookeeper:2181/")
        );
        assert!(text(&env["CLICKHOUSE_PASSWORD"], "password").starts_with("${"));
        assert_eq!(svc["volumes"][0], "./data:/data:ro");
        assert_eq!(
            svc["depends_on"]["ingest-init"]["condition"],
            "service_completed_successfully"
        );
        assert!(text(&svc["command"][0], "command").contains("ingest run"));
        // The flags and variables are the ones `ingest run` knows.
        let help = run(Command::new(BIN).args(["run", "--help"]));
        for var in [
            "INGEST_SHARD",
            "INGEST_COORDINATION",
            "INGEST_CLUSTER",
            "INGEST_FOLDER_ID",
        ] {
            assert!(help.stdout.contains(var), "{var}");
        }
    }
    assert_eq!(s["ingest-init"]["command"][0], "init");
}
