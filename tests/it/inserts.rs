//! What every insert carries to the server, and how servers that deduplicate inserts (tokens on
//! 22.x+, block checksums on replicated tables, `deduplicate_insert` on 26.2+) are kept from
//! swallowing an insert that must land. On 18.16 plain MergeTree tables deduplicate nothing, so
//! there the deduplication tests show only that the same runs land every row.

use crate::exactly_once::wait_for_mutations;
use crate::util::*;

/// The value of `setting` in the settings of this test's finished `ingest` inserts into `table`,
/// one line per insert, as `system.query_log` recorded them.
fn logged_setting(env: &Env, table: &str, setting: &str) -> Vec<String> {
    env.q("SYSTEM FLUSH LOGS");
    // 18.16 keeps settings in a Nested column and the query's type as a number.
    let (value, finished) = match env.ch.is_old() {
        true => (
            format!("Settings.Values[indexOf(Settings.Names, '{setting}')]"),
            "type = 2",
        ),
        false => (format!("Settings['{setting}']"), "type = 'QueryFinish'"),
    };
    env.q(&format!(
        "SELECT {value} FROM system.query_log WHERE {finished} \
         AND query_id LIKE 'ingest-%' AND query LIKE 'INSERT INTO `{{db}}`.`{table}`%' \
         ORDER BY event_time"
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn insert_settings_reach_the_server_with_every_insert() {
    let env = Env::new("insert_settings");
    env.q("CREATE TABLE {db}.t (id UInt32) ENGINE = MergeTree ORDER BY id");
    env.write("small.csv", "id\n1\n2\n");
    env.write("big.csv", many_ids(10, 30));
    // 18.16 logs queries only when asked to, which also shows the setting arrived.
    let out = env.ingest(&[
        "--table",
        "t",
        "--batch-rows",
        "10",
        "--insert-setting",
        "log_queries=1",
        "--insert-setting",
        "max_threads=3",
    ]);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 32);
    let logged = logged_setting(&env, "t", "max_threads");
    assert!(!logged.is_empty(), "no insert was logged");
    assert!(logged.iter().all(|v| v == "3"), "{logged:?}");

    let config = env.dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        "table = 't'\n[insert_settings]\nlog_queries = true\nmax_threads = 5\n",
    )
    .unwrap();
    env.write("more.csv", "id\n100\n");
    assert_code(&env.ingest(&["--config", config.to_str().unwrap()]), 0);
    let logged = logged_setting(&env, "t", "max_threads");
    assert!(logged.contains(&"5".to_owned()), "{logged:?}");
}

#[test]
fn settings_the_guarantees_rest_on_and_unknown_settings_are_refused() {
    let env = Env::new("insert_settings_refused");
    env.q("CREATE TABLE {db}.t (id UInt32) ENGINE = MergeTree ORDER BY id");
    env.write("a.csv", "id\n1\n");
    let out = env.ingest(&["--table", "t", "--insert-setting", "async_insert=1"]);
    assert_code(&out, 2);
    assert_eq!(
        out.stderr.trim(),
        "ingest: error: --insert-setting: `async_insert` cannot be set: an acknowledged insert \
         must be written, not queued"
    );
    let out = env.ingest(&["--table", "t", "--insert-setting", "no_such_setting=1"]);
    assert_code(&out, 2);
    assert!(
        out.stderr.contains("--insert-setting: ClickHouse ")
            && out.stderr.contains(" has no setting `no_such_setting`"),
        "{}",
        out.stderr
    );
    assert!(
        !env.manifest_exists(),
        "nothing may happen before the check"
    );
    assert_eq!(env.count("t"), 0);

    let config = env.dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        "[[route]]\nglob = '*.csv'\ntable = 't'\ninsert_settings = { insert_deduplication_token = 'x' }\n",
    )
    .unwrap();
    let out = env.ingest(&["--config", config.to_str().unwrap()]);
    assert_code(&out, 2);
    assert!(
        out.stderr
            .contains("`insert_deduplication_token` cannot be set"),
        "{}",
        out.stderr
    );
}

fn many_ids(from: u32, n: u32) -> String {
    let mut s = String::from("id\n");
    for i in from..from + n {
        s.push_str(&format!("{i}\n"));
    }
    s
}

#[test]
fn inserts_are_never_queued_as_asynchronous_inserts() {
    let env = Env::new("no_async_insert");
    env.q("CREATE TABLE {db}.t (id UInt32) ENGINE = MergeTree ORDER BY id");
    env.write("a.csv", many_ids(0, 30));
    let out = env.ingest(&[
        "--table",
        "t",
        "--batch-rows",
        "10",
        "--insert-setting",
        "log_queries=1",
    ]);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 30);
    let logged = logged_setting(&env, "t", "async_insert");
    assert!(!logged.is_empty());
    // 18.16 has no asynchronous inserts; newer servers turn them on by default (26.2+).
    let expected = if env.ch.is_old() { "" } else { "0" };
    assert!(logged.iter().all(|v| v == expected), "{logged:?}");
}

/// A table that keeps the last inserts' deduplication tokens, as tables `--create-table` makes
/// on servers that can (a plain MergeTree on 18.16, which cannot).
fn dedup_table(env: &Env, columns: &str) {
    let settings = match env.ch.is_old() {
        true => "",
        false => " SETTINGS non_replicated_deduplication_window = 1000",
    };
    env.q(&format!(
        "CREATE TABLE {{db}}.t ({columns}) ENGINE = MergeTree ORDER BY tuple(){settings}"
    ));
}

#[test]
fn a_forgotten_file_is_ingested_again_even_where_the_server_remembers_its_inserts() {
    let env = Env::new("forget_dedup");
    dedup_table(&env, "id UInt32");
    env.write("small.csv", "id\n1\n2\n");
    env.write("big.csv", many_ids(10, 30));
    let args = ["--table", "t", "--batch-rows", "10"];
    assert_code(&env.ingest(&args), 0);
    assert_eq!(env.count("t"), 32);
    for round in 1..=2 {
        for path in ["small.csv", "big.csv"] {
            let out = run(env.command("forget").args(["--delete-rows", path]));
            assert_code(&out, 0);
        }
        wait_for_mutations(&env);
        assert_eq!(env.count("t"), 0, "round {round}");
        let out = env.ingest(&args);
        assert_code(&out, 0);
        assert!(out.stdout.contains("2 ingested"), "{}", out.stdout);
        assert_eq!(env.count("t"), 32, "round {round}");
        assert_eq!(env.duplicate_keys("t"), 0);
    }
}

#[test]
fn without_provenance_identical_batches_of_two_files_both_land() {
    let env = Env::new("dedup_no_provenance");
    dedup_table(&env, "id UInt32, v String");
    // The first batch of each file is the same rows; the files differ after it.
    let same: String = (0..10).map(|i| format!("{i},same\n")).collect();
    env.write("a.csv", format!("id,v\n{same}100,a\n"));
    env.write("b.csv", format!("id,v\n{same}200,b\n"));
    let out = env.ingest(&[
        "--table",
        "t",
        "--without-provenance",
        "--batch-rows",
        "10",
        "--insert-rows",
        "10",
    ]);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 22);
    assert_eq!(
        env.q("SELECT countIf(v = 'same'), countIf(v != 'same') FROM {db}.t")
            .trim(),
        "20\t2"
    );
}
