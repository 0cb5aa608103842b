//! `ingest verify` reconciles the manifest with the tables: an emptied, dropped or partly deleted
//! table and a doubled file are found (exit code 3), `ingest status` warns about the lost rows,
//! and `ingest retry` repairs what verify reports.

use crate::exactly_once::wait_for_mutations;
use crate::util::*;
use serde_json::json;

fn setup(env: &Env) {
    env.q("CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
    env.write("a.csv", "id,name\n1,a\n2,b\n");
    env.write("b.csv", "id,name\n3,c\n4,d\n5,e\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
}

fn verify(env: &Env) -> Output {
    run(env.command("verify").arg("--json"))
}

fn hash_of(env: &Env, path: &str) -> String {
    env.q(&format!(
        "SELECT file_hash FROM {{db}}.ingest_manifest WHERE path = '{path}' AND event = 'done' \
         LIMIT 1"
    ))
    .trim()
    .to_owned()
}

#[test]
fn verify_finds_an_emptied_table_and_retry_fills_it_again() {
    let env = Env::new("verify_emptied");
    setup(&env);
    let ok = verify(&env);
    assert_code(&ok, 0);
    let v = json_of(&ok);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(
        (&v["files_checked"], &v["files_matching"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(v["mismatches"], json!([]));

    env.q("TRUNCATE TABLE {db}.t");
    let out = verify(&env);
    assert_code(&out, 3);
    let v = json_of(&out);
    let table = format!("{}.t", env.db);
    assert_eq!(
        v["mismatches"],
        json!([
            {"problem": "missing", "path": "a.csv", "table": table, "hash": hash_of(&env, "a.csv"),
             "rows_recorded": 2, "rows_found": 0},
            {"problem": "missing", "path": "b.csv", "table": table, "hash": hash_of(&env, "b.csv"),
             "rows_recorded": 3, "rows_found": 0},
        ])
    );
    let text = run(&mut env.command("verify"));
    assert_code(&text, 3);
    assert_eq!(
        text.stdout.lines().next().unwrap(),
        format!("checked 2 files recorded as ingested: 0 match, 2 do not (in {table})")
    );
    assert!(
        text.stdout.contains(&format!(
            "{:<15} {table} a.csv: 0 of 2 rows in the table",
            "missing"
        )),
        "{}",
        text.stdout
    );

    // `status` warns; the runs alone would never notice.
    let status = json_of(&run(env.command("status").arg("--json")));
    assert_eq!(
        status["warnings"],
        json!([format!(
            "table {table} is empty, but the manifest records 5 rows ingested into it; `ingest \
             verify` lists the files"
        )])
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.count("t"), 0, "files known by path are not read again");

    let retry = run(env.command("retry").arg("--all-mismatched"));
    assert_code(&retry, 0);
    assert!(
        retry.stdout.contains(&format!(
            "{table} holds 0 of a.csv's 2 rows: the next run sends the missing ones"
        )),
        "{}",
        retry.stdout
    );
    assert!(
        retry
            .stdout
            .ends_with("2 files will be tried again by the next run\n"),
        "{}",
        retry.stdout
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(env.count("t"), 5);
    assert_eq!(env.duplicate_keys("t"), 0);
    assert_code(&verify(&env), 0);

    env.q("DROP TABLE {db}.t");
    assert_code(&verify(&env), 3);
    let status = json_of(&run(env.command("status").arg("--json")));
    assert!(
        status["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "table {table} is missing, but the manifest records 5 rows"
            )),
        "{status}"
    );
}

#[test]
fn verify_finds_a_doubled_and_a_short_file_and_retry_repairs_them() {
    let env = Env::new("verify_doubled");
    setup(&env);
    let a = hash_of(&env, "a.csv");
    // a.csv's rows sent twice; one row of b.csv deleted behind the manifest's back.
    let id = u64::from_str_radix(&a[..16], 16).unwrap();
    env.q(&format!(
        "INSERT INTO {{db}}.t SELECT * FROM {{db}}.t WHERE _ingest_file = {id}"
    ));
    assert_eq!(
        env.count("t"),
        7,
        "the doubling matched a.csv's provenance id"
    );
    env.q("ALTER TABLE {db}.t DELETE WHERE id = 4");
    wait_for_mutations(&env);
    let out = verify(&env);
    assert_code(&out, 3);
    let v = json_of(&out);
    let problems: Vec<(&str, &str, u64, u64)> = v["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap(),
                m["problem"].as_str().unwrap(),
                m["rows_recorded"].as_u64().unwrap(),
                m["rows_found"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [("a.csv", "doubled", 2, 4), ("b.csv", "short", 3, 2)]
    );

    let table = format!("{}.t", env.db);
    let retry = run(env.command("retry").args(["a.csv", "b.csv"]));
    assert_code(&retry, 0);
    assert_eq!(
        retry.stdout,
        format!(
            "{table} held 4 rows of a.csv, 2 recorded: deleted them\n\
             will retry a.csv into {table}\n\
             {table} holds 2 of b.csv's 3 rows: the next run sends the missing ones\n\
             will retry b.csv into {table}\n\
             2 files will be tried again by the next run\n"
        )
    );
    let out = env.ingest(&["--table", "t", "--output", "json"]);
    assert_code(&out, 0);
    assert_eq!(
        json_of(&out)["rows"],
        3,
        "a.csv's two rows and b.csv's missing one"
    );
    assert_eq!(
        env.q("SELECT groupArray(id) FROM (SELECT id FROM {db}.t ORDER BY id)")
            .trim(),
        "[1,2,3,4,5]"
    );
    assert_eq!(env.duplicate_keys("t"), 0);
    assert_code(&verify(&env), 0);

    let nothing = run(env.command("retry").arg("a.csv"));
    assert_code(&nothing, 2);
    assert_eq!(
        nothing.stdout,
        format!("a.csv is ingested and its 2 rows are in {table}; nothing to retry\n")
    );
}
