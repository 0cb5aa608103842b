//! `ingest run` end to end: files land once, reruns do nothing, duplicates and new files are
//! recognised, dry runs write nothing, and the documented exit codes come back.

use crate::util::*;

fn reference(env: &Env, files: &[String]) -> String {
    env.q(&format!("CREATE TABLE {{db}}.reference {REVIEWS_DDL}"));
    for f in files {
        env.load_reference(
            "reference",
            &f.replace(",true\n", ",1\n").replace(",false\n", ",0\n"),
        );
    }
    env.fingerprint("reference", REVIEW_COLUMNS)
}

#[test]
fn files_land_exactly_once_and_a_rerun_inserts_nothing() {
    let env = Env::new("exactly_once");
    create_reviews(&env, "reviews");
    let files: Vec<String> = (0..3).map(|i| reviews_csv(i * 1000, 1000)).collect();
    for (i, f) in files.iter().enumerate() {
        env.write(&format!("part-{i}.csv"), f);
    }
    let out = env.ingest(&["--table", "reviews"]);
    assert_code(&out, 0);
    assert_eq!(env.count("reviews"), 3000);
    assert_eq!(
        env.fingerprint("reviews", REVIEW_COLUMNS),
        reference(&env, &files)
    );
    assert_eq!(env.event_count("done"), 3);
    assert_eq!(env.duplicate_keys("reviews"), 0);

    let again = env.ingest(&["--table", "reviews"]);
    assert_code(&again, 0);
    assert_eq!(env.count("reviews"), 3000);
    assert_eq!(env.event_count("claimed"), 3, "a rerun claims nothing");
    assert!(
        again.stdout.contains("3 already-ingested"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_renamed_copy_is_a_duplicate_and_a_new_file_is_picked_up() {
    let env = Env::new("dup_new");
    create_reviews(&env, "reviews");
    let first = reviews_csv(0, 50);
    env.write("a.csv", &first);
    assert_code(&env.ingest(&["--table", "reviews"]), 0);

    env.write("renamed-copy.csv", &first);
    env.write("sub/new.csv", reviews_csv(50, 25));
    let out = env.ingest(&["--table", "reviews"]);
    assert_code(&out, 0);
    assert_eq!(env.count("reviews"), 75);
    assert_eq!(env.duplicate_keys("reviews"), 0);
    let dup = env.q("SELECT path, detail FROM {db}.ingest_manifest WHERE event = 'duplicate'");
    assert_eq!(dup.trim(), "renamed-copy.csv\ta.csv");
    assert_eq!(
        env.q("SELECT count() FROM {db}.reviews WHERE asin >= 'B000050' AND asin < 'B000075'")
            .trim(),
        "25"
    );
}

#[test]
fn two_identical_new_files_in_one_run_land_once() {
    let env = Env::new("same_run_dup");
    create_reviews(&env, "reviews");
    let data = reviews_csv(0, 10);
    env.write("x.csv", &data);
    env.write("y.csv", &data);
    assert_code(&env.ingest(&["--table", "reviews"]), 0);
    assert_eq!(env.count("reviews"), 10);
    assert_eq!(env.event_count("duplicate"), 1);
}

#[test]
fn dry_run_inserts_and_records_nothing() {
    let env = Env::new("dry_run");
    create_reviews(&env, "reviews");
    env.write("a.csv", reviews_csv(0, 20));
    env.write("bad.csv", "rating,title\nnot-a-number,x\n");
    env.write("notes.txt", "hello");
    let out = env.ingest(&["--table", "reviews", "--dry-run"]);
    assert_code(&out, 3);
    assert_eq!(env.count("reviews"), 0);
    assert!(!env.manifest_exists(), "a dry run creates no manifest");
    let columns: Vec<String> = env
        .q("SELECT name FROM system.columns WHERE database = '{db}' AND table = 'reviews'")
        .lines()
        .map(String::from)
        .collect();
    assert!(
        !columns.iter().any(|c| c.starts_with("_ingest")),
        "a dry run alters no table"
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("STATUS"), "{}", out.stdout);
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no row for {name} in:\n{}", out.stdout))
    };
    assert_eq!(row("a.csv")[0], "new");
    assert_eq!(row("a.csv")[4], "20");
    assert_eq!(row("bad.csv")[0], "failed");
    assert!(
        out.stdout
            .contains("bad.csv:2:rating: cannot convert \"not-a-number\" to Float32"),
        "{}",
        out.stdout
    );
    assert_eq!(row("notes.txt")[0], "ignored");

    // After a real run, a dry run over new files still writes nothing.
    env.write("bad.csv", "rating,title\n1,x\n");
    assert_code(&env.ingest(&["--table", "reviews"]), 0);
    let events = env.events().len();
    env.write("b.csv", reviews_csv(100, 5));
    let out = env.ingest(&["--table", "reviews", "--dry-run"]);
    assert_code(&out, 0);
    assert_eq!(env.count("reviews"), 21);
    assert_eq!(env.events().len(), events);
    assert!(out.stdout.contains("already-ingested"), "{}", out.stdout);
}

#[test]
fn csv_dialect_bom_crlf_quotes_and_embedded_newlines() {
    let env = Env::new("dialect");
    env.q(
        "CREATE TABLE {db}.t (id UInt32, note String, flag UInt8) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "a.csv",
        b"\xEF\xBB\xBFid,note,flag\r\n1,\"multi\r\nline, with \"\"quotes\"\"\",true\r\n2,plain,FALSE\r\n3,,1\r\n",
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(
        env.q("SELECT id, note, flag FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\tmulti\\r\\nline, with \"quotes\"\t1\n2\tplain\t0\n3\t\t1\n"
    );
}

#[test]
fn values_convert_to_the_column_types() {
    let env = Env::new("types");
    env.q(
        "CREATE TABLE {db}.t (i8 Int8, u64 UInt64, f Float64, s String, d Date, dt DateTime, \
         n Nullable(Int32), b UInt8, dflt String DEFAULT 'fallback') ENGINE = MergeTree ORDER BY tuple()",
    );
    env.write(
        "a.csv",
        "i8,u64,f,s,d,dt,n,b\n\
         -128,18446744073709551615,1.5,hello,2024-02-29,2024-02-29T12:34:56Z,,true\n\
         127,0,-2e3,,1970-01-01,2024-02-29 12:34:56,42,false\n\
         0,1,0,x,2149-06-06,1709210096,-1,1\n",
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(
        // Dates as day numbers: 18.16 prints day 0 as 0000-00-00.
        env.q(
            "SELECT i8, u64, f, s, toUInt16(d), dt, n, b, dflt FROM {db}.t ORDER BY i8 FORMAT TSV"
        ),
        "-128\t18446744073709551615\t1.5\thello\t19782\t2024-02-29 12:34:56\t\\N\t1\tfallback\n\
         0\t1\t0\tx\t65535\t2024-02-29 12:34:56\t-1\t1\tfallback\n\
         127\t0\t-2000\t\t0\t2024-02-29 12:34:56\t42\t0\tfallback\n"
    );
}

#[test]
fn a_bad_file_fails_alone_with_file_line_and_column() {
    let env = Env::new("bad_file");
    env.q("CREATE TABLE {db}.t (id UInt8, name String) ENGINE = MergeTree ORDER BY id");
    env.write("good.csv", "id,name\n1,a\n2,b\n");
    env.write("overflow.csv", "id,name\n3,c\n300,d\n");
    env.write("extra.csv", "id,name,colour\n4,e,red\n");
    env.write("short.csv", "id,name\n5,f\n6\n");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 3);
    assert_eq!(
        env.q("SELECT groupArray(id) FROM (SELECT id FROM {db}.t ORDER BY id)")
            .trim(),
        "[1,2]"
    );
    let errors =
        env.q("SELECT path, error FROM {db}.ingest_manifest WHERE event = 'failed' ORDER BY path");
    assert_eq!(
        errors,
        "extra.csv\textra.csv: field `colour` has no column in table {db}.t\n\
         overflow.csv\toverflow.csv:3:id: cannot convert \"300\" to UInt8: 300 is out of range for UInt8\n\
         short.csv\tshort.csv:3: expected 2 fields as in the header, found 1\n"
            .replace("{db}", &env.db)
    );
    assert!(out.stdout.contains("overflow.csv:3:id"), "{}", out.stdout);
    // Not retried while unchanged.
    let again = env.ingest(&["--table", "t"]);
    assert_code(&again, 0);
    assert_eq!(env.event_count("failed"), 3);
}

#[test]
fn big_files_go_in_deterministic_batches() {
    let env = Env::new("batches");
    create_reviews(&env, "reviews");
    env.write("big.csv", reviews_csv(0, 2500));
    assert_code(
        &env.ingest(&["--table", "reviews", "--batch-rows", "1000"]),
        0,
    );
    assert_eq!(env.count("reviews"), 2500);
    assert_eq!(
        env.q("SELECT groupArray(rows) FROM (SELECT batch, rows FROM {db}.ingest_manifest WHERE event = 'batch' ORDER BY batch)").trim(),
        "[1000,1000,500]"
    );
    assert_eq!(
        env.q(
            "SELECT min(_ingest_row), max(_ingest_row), uniqExact(_ingest_row) FROM {db}.reviews"
        )
        .trim(),
        "0\t2499\t2500"
    );
}

#[test]
fn columns_the_file_lacks_take_the_table_defaults() {
    let env = Env::new("defaults");
    env.q("CREATE TABLE {db}.t (id UInt32, label String DEFAULT concat('id-', toString(id)), n Nullable(Int8)) ENGINE = MergeTree ORDER BY id");
    env.write("a.csv", "id\n7\n");
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(
        env.q("SELECT id, label, n FROM {db}.t FORMAT TSV"),
        "7\tid-7\t\\N\n"
    );
}

#[test]
fn routes_send_files_to_their_tables() {
    let env = Env::new("routes");
    env.q("CREATE TABLE {db}.a (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.q("CREATE TABLE {db}.b (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.write("alpha/1.csv", "x\n1\n");
    env.write("beta/2.csv", "x\n2\n");
    env.write("other.csv", "x\n3\n");
    let config = env.dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        "table = 'b'\n[[route]]\nglob = 'alpha/**'\ntable = 'a'\n",
    )
    .unwrap();
    assert_code(&env.ingest(&["--config", config.to_str().unwrap()]), 0);
    assert_eq!(env.q("SELECT groupArray(x) FROM {db}.a").trim(), "[1]");
    assert_eq!(
        env.q("SELECT groupArray(x) FROM (SELECT x FROM {db}.b ORDER BY x)")
            .trim(),
        "[2,3]"
    );
}

#[test]
fn status_lists_recent_files_and_failures() {
    let env = Env::new("status");
    env.q("CREATE TABLE {db}.t (x UInt8) ENGINE = MergeTree ORDER BY x");
    env.write("ok.csv", "x\n1\n2\n");
    env.write("bad.csv", "x\n999\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    let out = run(&mut env.command("status"));
    assert_code(&out, 0);
    assert!(out.stdout.contains("1 done (2 rows)"), "{}", out.stdout);
    assert!(out.stdout.contains("1 failed"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("bad.csv:2:x: cannot convert \"999\" to UInt8"),
        "{}",
        out.stdout
    );
}
