//! Every format, plain and compressed, loads the same records: identical counts and checksums,
//! checked against ClickHouse's own parser; formats can be forced by flag or route.

use crate::data;
use crate::util::*;

const FORMATS: [&str; 5] = ["csv", "json", "jsonl", "xml", "parquet"];

fn encode(format: &str, recs: &[data::Rec]) -> Vec<u8> {
    match format {
        "csv" => data::csv(recs).into_bytes(),
        "json" => data::json(recs).into_bytes(),
        "jsonl" => data::jsonl(recs).into_bytes(),
        "xml" => data::xml(recs).into_bytes(),
        "parquet" => data::parquet(recs),
        other => unreachable!("{other}"),
    }
}

/// Writes the records in every format and compression, each routed to its own table, runs
/// `ingest` with `args`, and checks every table against the reference.
fn load_everywhere(env: &Env, records: u32, args: &[&str]) {
    let recs = data::records(records);
    env.q(&format!("CREATE TABLE {{db}}.reference {}", data::DDL));
    env.ch.query(&format!(
        "INSERT INTO {}.reference FORMAT TabSeparated\n{}",
        env.db,
        data::tsv(&recs)
    ));
    let expected = env.fingerprint("reference", data::COLUMNS);
    assert_eq!(
        expected.split('\t').next(),
        Some(records.to_string().as_str())
    );
    let mut config = String::new();
    let mut tables = Vec::new();
    for format in FORMATS {
        let plain = encode(format, &recs);
        for (comp, suffix, bytes) in [
            ("plain", "", plain.clone()),
            ("gz", ".gz", data::gzip(&plain)),
            ("zst", ".zst", data::zstd(&plain)),
        ] {
            let table = format!("{format}_{comp}");
            env.q(&format!("CREATE TABLE {{db}}.{table} {}", data::DDL));
            env.write(&format!("{table}/records.{format}{suffix}"), bytes);
            config.push_str(&format!(
                "[[route]]\nglob = '{table}/**'\ntable = '{table}'\n"
            ));
            tables.push(table);
        }
    }
    let path = env.dir.path().join("ingest.toml");
    std::fs::write(&path, config).unwrap();
    let mut all = vec!["--config", path.to_str().unwrap()];
    all.extend(args);
    let out = env.ingest(&all);
    assert_code(&out, 0);
    for table in &tables {
        assert_eq!(
            env.fingerprint(table, data::COLUMNS),
            expected,
            "table {table}"
        );
        assert_eq!(env.duplicate_keys(table), 0, "table {table}");
    }
    let formats =
        env.q("SELECT groupUniqArray(format) FROM {db}.ingest_manifest WHERE event = 'done'");
    for f in [
        "csv",
        "json.gz",
        "jsonl.zst",
        "xml",
        "parquet.gz",
        "parquet.zst",
    ] {
        assert!(formats.contains(&format!("'{f}'")), "{formats}");
    }
}

#[test]
fn every_format_and_compression_loads_the_same_records() {
    let env = Env::new("all_formats");
    load_everywhere(&env, 200, &[]);
    assert_eq!(
        env.q(
            "SELECT id, name, price, ts, day, flag, score, tags FROM {db}.xml_gz \
               WHERE id IN (7, 10, 11, 13, 18) ORDER BY id FORMAT TSV"
        ),
        "7\tquote \"x\", comma 7\t-40.41\t2023-11-15 05:13:27\t2022-01-15\t0\t-8.25\t['t0','t1','t2']\n\
         10\tName 10\t-36.30\t2023-11-15 08:13:30\t2022-01-18\t0\t\\N\t['t0','t1']\n\
         11\tZoë ✓ <b>&amp; 11\t-34.93\t2023-11-15 09:13:31\t2022-01-19\t0\t-7.25\t['t0','t1','t2']\n\
         13\ttwo\\nlines 13\t-32.19\t2023-11-15 11:13:33\t2022-01-21\t0\t-6.75\t['t0']\n\
         18\tName 18\t-25.34\t2023-11-15 16:13:38\t2022-01-26\t1\t-5.5\t['t0','x,y']\n"
    );
}

#[test]
fn every_format_and_compression_loads_the_same_records_in_batches() {
    let env = Env::new("all_formats_batches");
    load_everywhere(&env, 300, &["--batch-rows", "64"]);
    assert_eq!(
        env.q("SELECT count(), uniqExact(path) FROM {db}.ingest_manifest WHERE event = 'batch'")
            .trim(),
        "75\t15"
    );
}

#[test]
fn the_format_flag_and_route_formats_override_the_name() {
    let env = Env::new("format_override");
    env.q("CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
    // JSON Lines under a .json name, read with --format jsonl.
    env.write(
        "lines.json",
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n",
    );
    let out = env.ingest(&["--table", "t", "--format", "jsonl"]);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 2);

    // A route reads .dat files as gzip-compressed CSV; other files keep their own formats.
    env.write("exports/a.dat.gz", data::gzip(b"id,name\n3,c\n"));
    env.write("exports/b.dat", "id,name\n4,d\n");
    env.write("more.jsonl", "{\"id\":5,\"name\":\"e\"}\n");
    let config = env.dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        "table = 't'\n[[route]]\nglob = 'exports/*'\ntable = 't'\nformat = 'csv'\n",
    )
    .unwrap();
    let out = env.ingest(&["--config", config.to_str().unwrap()]);
    assert_code(&out, 0);
    assert_eq!(
        env.q("SELECT groupArray(id) FROM (SELECT id FROM {db}.t ORDER BY id)")
            .trim(),
        "[1,2,3,4,5]"
    );
    assert_eq!(
        env.q("SELECT path, format FROM {db}.ingest_manifest WHERE event = 'done' ORDER BY path FORMAT TSV"),
        "exports/a.dat.gz\tcsv.gz\nexports/b.dat\tcsv\nlines.json\tjsonl\nmore.jsonl\tjsonl\n"
    );

    let out = env.ingest(&["--table", "t", "--format", "xls"]);
    assert_code(&out, 2);
    assert!(
        out.stderr.contains(
            "invalid value 'xls' for '--format <FORMAT>': use one of csv, tsv (or tab), json, jsonl (or ndjson), parquet, xml"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn json_nested_values_and_xml_lists_fit_string_and_array_columns() {
    let env = Env::new("nested");
    env.q(
        "CREATE TABLE {db}.t (id UInt32, obj String, list Array(Nullable(Int32)), \
           list_text String, words Array(String)) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "a.jsonl",
        "{\"id\":1,\"obj\":{\"k\": [1, \"x\"]},\"list\":[1,null,3],\"list_text\":[\"a\",{\"b\":1}],\"words\":[]}\n",
    );
    env.write(
        "b.xml",
        "<r><row><id>2</id><obj>plain</obj><list><i>4</i><i/></list><words><w>x</w><w>y z</w></words></row></r>",
    );
    assert_code(&env.ingest(&["--table", "t"]), 0);
    assert_eq!(
        env.q("SELECT id, obj, list, list_text, words FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\t{\"k\": [1, \"x\"]}\t[1,NULL,3]\t[\"a\",{\"b\":1}]\t[]\n\
         2\tplain\t[4,NULL]\t\t['x','y z']\n"
    );
}
