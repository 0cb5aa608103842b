//! Files as people and tools write them: each CSV dialect option by route and by flag, TSV,
//! sniffing (and the file it must refuse to guess), encodings, NULL spellings, date spellings
//! (and the refusal of ambiguous ones), renames, unknown fields, metadata columns and schema
//! evolution — each checked by what lands in ClickHouse or the exact error a user sees.

use crate::util::*;

/// Runs `ingest` with a config file holding `toml` (and `args`).
fn run_config(env: &Env, toml: &str, args: &[&str]) -> Output {
    let path = env.dir.path().join("ingest.toml");
    std::fs::write(&path, toml).unwrap();
    let mut all = vec!["--config", path.to_str().unwrap()];
    all.extend(args);
    env.ingest(&all)
}

fn rows(env: &Env, sql: &str) -> String {
    env.q(&format!("{sql} FORMAT TSV"))
}

fn table(env: &Env, name: &str, columns: &str) {
    env.q(&format!(
        "CREATE TABLE {{db}}.{name} ({columns}) ENGINE = MergeTree ORDER BY tuple()"
    ));
}

#[test]
fn each_dialect_option_by_route() {
    let env = Env::new("dialect_options");
    table(&env, "t", "id UInt32, name String");
    // Semicolons and single quotes holding a delimiter, with backslash escapes.
    env.write("semi/a.csv", "id;name\n1;'x;\\'y'\n2;plain\n");
    // Pipes, a trailing delimiter, comment lines and two lines of preamble.
    env.write(
        "pipe/b.csv",
        "Exported by a tool\non a day\nid|name|\n# a comment\n3|three|\n#another\n4|four|\n",
    );
    // No header: the route names the fields.
    env.write("named/c.csv", "five,5\nsix,6\n");
    // No header and no names: the table's columns in order.
    env.write("ordered/d.csv", "7,seven\n");
    let out = run_config(
        &env,
        "[[route]]\nglob = 'semi/*'\ntable = 't'\ndelimiter = ';'\nquote = \"'\"\nescape = 'backslash'\n\
         [[route]]\nglob = 'pipe/*'\ntable = 't'\ndelimiter = '|'\ntrailing_delimiter = true\ncomment = '#'\nskip_lines = 2\n\
         [[route]]\nglob = 'named/*'\ntable = 't'\nheader = false\nfields = ['name', 'id']\n\
         [[route]]\nglob = 'ordered/*'\ntable = 't'\nheader = false\n",
        &[],
    );
    assert_code(&out, 0);
    assert_eq!(
        rows(&env, "SELECT id, name FROM {db}.t ORDER BY id"),
        "1\tx;\\'y\n2\tplain\n3\tthree\n4\tfour\n5\tfive\n6\tsix\n7\tseven\n"
    );
}

#[test]
fn dialect_options_by_flag_and_tsv_as_its_own_format() {
    let env = Env::new("dialect_flags");
    table(&env, "t", "id UInt32, name String, note Nullable(String)");
    env.write("a.csv", "id\tname\tnote\n1\tone\t\n");
    let out = env.ingest(&["--table", "t", "--delimiter", "\\t", "--header", "true"]);
    assert_code(&out, 0);
    // TabSeparated escapes and \N, by the .tsv name.
    env.write(
        "b.tsv",
        "id\tname\tnote\n2\ttab\\there\t\\N\n3\tback\\\\slash\tx\n",
    );
    env.write("c.tab", "id\tname\tnote\n4\tnew\\nline\ty\n");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 0);
    assert_eq!(
        rows(
            &env,
            "SELECT id, name, ifNull(note, 'NULL') FROM {db}.t ORDER BY id"
        ),
        "1\tone\tNULL\n2\ttab\\there\tNULL\n3\tback\\\\slash\tx\n4\tnew\\nline\ty\n"
    );
    assert_eq!(
        env.q("SELECT groupUniqArray(format) FROM {db}.ingest_manifest WHERE event = 'done' AND path != 'a.csv'")
            .trim(),
        "['tsv']"
    );
}

#[test]
fn the_sniffer_shows_what_it_found_and_refuses_to_guess() {
    let env = Env::new("sniffing");
    table(&env, "t", "id UInt32, price Float64, day Date");
    env.write(
        "semicolons.csv",
        "id;price;day\n1;2.5;2024-01-01\n2;3.75;2024-01-02\n",
    );
    env.write("no_header.csv", "3,1.5,2024-01-03\n");
    env.write("undecidable.csv", "id;price,day\n4;5,6\n");
    let out = env.ingest(&["--table", "t", "--dry-run"]);
    assert_code(&out, 3);
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in {}", out.stdout))
            .to_owned()
    };
    assert!(
        line("semicolons.csv")
            .contains("delimiter ';' (sniffed), quote '\"' (sniffed), header (sniffed)"),
        "{}",
        out.stdout
    );
    assert!(
        line("no_header.csv").contains("no header (sniffed)"),
        "{}",
        out.stdout
    );
    assert!(
        line("undecidable.csv").contains(
            "undecidable.csv:1: cannot tell the delimiter: ',' or ';' each split every record \
             alike; set the route's `delimiter`"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(env.count("t"), 0, "a dry run inserts nothing");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 3);
    assert_eq!(
        rows(&env, "SELECT id, price, day FROM {db}.t ORDER BY id"),
        "1\t2.5\t2024-01-01\n2\t3.75\t2024-01-02\n3\t1.5\t2024-01-03\n"
    );
}

#[test]
fn each_encoding_is_read_and_bad_bytes_name_their_line() {
    let env = Env::new("encodings");
    table(&env, "t", "id UInt32, name String");
    let utf16 = |big: bool| {
        let text = "id,name\n1,Zoë ✓\n";
        let mut out = if big {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in text.encode_utf16() {
            let b = if big {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            out.extend(b);
        }
        out
    };
    env.write("utf8_bom.csv", b"\xEF\xBB\xBFid,name\n2,caf\xC3\xA9\n");
    env.write("utf16le.csv", utf16(false));
    env.write("utf16be/x.csv", utf16(true));
    env.write("legacy/cp1252.csv", b"id,name\n3,caf\xE9 \x80\n");
    env.write("legacy/lines.jsonl", b"{\"id\":4,\"name\":\"na\xEFve\"}\n");
    env.write(
        "decl.xml",
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<rows><row><id>5</id><name>\xC5land</name></row></rows>\n",
    );
    let out = run_config(
        &env,
        "table = 't'\n[[route]]\nglob = 'legacy/*'\ntable = 't'\nencoding = 'windows-1252'\n",
        &[],
    );
    assert_code(&out, 0);
    assert_eq!(
        rows(&env, "SELECT id, name FROM {db}.t ORDER BY id"),
        "1\tZoë ✓\n1\tZoë ✓\n2\tcafé\n3\tcafé €\n4\tnaïve\n5\tÅland\n"
    );
    // Bytes the encoding does not allow: the file fails, naming its line.
    env.write("bad/utf8.csv", b"id,name\n6,ok\n7,\xFF\xFE\n");
    let mut bad16 = vec![0xFF, 0xFE];
    for unit in "id,name\n8,a\n".encode_utf16() {
        bad16.extend(unit.to_le_bytes());
    }
    bad16.extend([0x00, 0xD8, b'b', 0]);
    env.write("bad/utf16.csv", bad16);
    let out = run_config(&env, "table = 't'\n", &[]);
    assert_code(&out, 3);
    assert!(
        out.all().contains(
            "bad/utf8.csv:3:name: invalid UTF-8 (set the route's `encoding` if the file is in another one)"
        ),
        "{}",
        out.all()
    );
    assert!(
        out.all().contains(
            "bad/utf16.csv:3: bytes that are not valid UTF-16LE text (set the route's `encoding` if the file is in another one)"
        ),
        "{}",
        out.all()
    );
    assert_eq!(env.count("t"), 6);
}

#[test]
fn null_markers_by_route_and_flag() {
    let env = Env::new("null_markers");
    table(
        &env,
        "t",
        "id UInt32, mass Nullable(Float64), sex Nullable(String)",
    );
    env.write("na/a.csv", "id,mass,sex\n1,NA,male\n2,3.5,NA\n");
    env.write("na/b.jsonl", "{\"id\":3,\"mass\":\"NA\",\"sex\":\"NA\"}\n");
    env.write("dash/c.csv", "id,mass,sex\n4,-,\\N\n");
    env.write("default/d.csv", "id,mass,sex\n5,\\N,\n");
    let out = run_config(
        &env,
        "table = 't'\n[[route]]\nglob = 'na/*'\ntable = 't'\nnull_values = ['NA']\n\
         [[route]]\nglob = 'default/*'\ntable = 't'\n",
        &["--null-value", "-", "--null-value", "\\N"],
    );
    assert_code(&out, 0);
    assert_eq!(
        rows(
            &env,
            "SELECT id, ifNull(toString(mass), 'NULL'), ifNull(sex, 'NULL') FROM {db}.t ORDER BY id"
        ),
        "1\tNULL\tmale\n2\t3.5\tNULL\n3\tNULL\tNULL\n4\tNULL\tNULL\n5\tNULL\tNULL\n"
    );
    // Without the marker, NA is not a number.
    env.write("other/e.csv", "id,mass,sex\n6,NA,x\n");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 3);
    assert!(
        out.all()
            .contains("other/e.csv:2:mass: cannot convert \"NA\" to Nullable(Float64)"),
        "{}",
        out.all()
    );
}

#[test]
fn dates_as_people_write_them_and_ambiguous_ones_refused() {
    let env = Env::new("date_spellings");
    table(&env, "t", "id UInt32, day Date, at DateTime('UTC')");
    env.write(
        "ok.csv",
        "id,day,at\n\
         1,2012/01/01,2010/01/01 00:00\n\
         2,2012.01.02,Jan 1 2000\n\
         3,20120103,\"Sat, 01 Jan 2000 12:00:00 +0200\"\n\
         4,Jan 4 2012,2000-01-01T10:00:00Z\n\
         5,5 January 2012,2000-01-01 10:00:00.25 -01:00\n\
         6,06-Jan-2012,January 1 2000 10:30 PM\n",
    );
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 0);
    assert_eq!(
        rows(&env, "SELECT id, day, at FROM {db}.t ORDER BY id"),
        "1\t2012-01-01\t2010-01-01 00:00:00\n\
         2\t2012-01-02\t2000-01-01 00:00:00\n\
         3\t2012-01-03\t2000-01-01 10:00:00\n\
         4\t2012-01-04\t2000-01-01 10:00:00\n\
         5\t2012-01-05\t2000-01-01 11:00:00\n\
         6\t2012-01-06\t2000-01-01 22:30:00\n"
    );
    env.write("ambiguous.csv", "id,day,at\n7,01/02/2012,2000-01-01\n");
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 3);
    assert!(
        out.all().contains(
            "ambiguous.csv:2:day: cannot convert \"01/02/2012\" to Date: ambiguous day and \
             month order; set `date_format` for the route or the column (for example \
             \"%d/%m/%Y\" or \"%m/%d/%Y\")"
        ),
        "{}",
        out.all()
    );
    // An explicit format per column, and one for the route.
    env.write("eu/a.csv", "id,day,at\n8,01/02/2012,03/04/2000 05:06:07\n");
    env.write("us/b.csv", "id,day,at\n9,01/02/2012,03/04/2000 05:06\n");
    let out = run_config(
        &env,
        "table = 't'\n\
         [[route]]\nglob = 'eu/*'\ntable = 't'\ndate_format = { day = '%d/%m/%Y', at = '%d/%m/%Y %H:%M:%S' }\n\
         [[route]]\nglob = 'us/*'\ntable = 't'\ndate_format = '%m/%d/%Y'\n\
         [[route]]\nglob = '*.csv'\ntable = 't'\n",
        &[],
    );
    assert_code(&out, 3);
    assert!(
        out.all().contains("us/b.csv:2:at: cannot convert \"03/04/2000 05:06\" to DateTime('UTC'): does not match date_format \"%m/%d/%Y\""),
        "{}",
        out.all()
    );
    assert_eq!(
        rows(
            &env,
            "SELECT id, day, at FROM {db}.t WHERE id > 6 ORDER BY id"
        ),
        "8\t2012-02-01\t2000-04-03 05:06:07\n"
    );
}

#[test]
fn inference_recognises_the_same_spellings() {
    let env = Env::new("date_inference");
    env.write(
        "w.csv",
        "date,when,stamp,price\n2012/01/01,Jan 1 2000,2010/01/01 00:00,1.5\n2012/01/02,Feb 1 2000,2010/01/01 01:00,2\n",
    );
    env.write("eu/x.csv", "id,day\n1,31/12/2012\n");
    let out = run_config(
        &env,
        "table = 'w'\ncreate_table = true\n\
         [[route]]\nglob = 'eu/*'\ntable = 'eu'\ncreate_table = true\ndate_format = '%d/%m/%Y'\n",
        &[],
    );
    assert_code(&out, 0);
    let types = |t: &str| {
        env.q(&format!(
            "SELECT groupArray(concat(name, ' ', type)) FROM (SELECT name, type FROM system.columns \
             WHERE database = '{{db}}' AND table = '{t}' AND name NOT LIKE '\\\\_ingest%')"
        ))
        .trim()
        .to_owned()
    };
    assert_eq!(
        types("w"),
        "['date Date','when DateTime','stamp DateTime','price Float64']"
    );
    assert_eq!(types("eu"), "['id Int64','day Date']");
    assert_eq!(rows(&env, "SELECT day FROM {db}.eu"), "2012-12-31\n");
}

#[test]
fn renames_case_and_unknown_fields() {
    let env = Env::new("column_mapping");
    table(&env, "t", "order_id UInt32, Name String");
    env.write("renamed/a.csv", "Order ID,Name\n1,a\n");
    env.write("cased/b.csv", "ORDER_ID,name\n2,b\n");
    env.write(
        "extra/c.jsonl",
        "{\"order_id\":3,\"Name\":\"c\",\"junk\":1}\n",
    );
    env.write("extra/d.csv", "order_id,junk,Name\n4,x,d\n");
    env.write("strict/e.csv", "order_id,junk\n5,x\n");
    let out = run_config(
        &env,
        "[[route]]\nglob = 'renamed/*'\ntable = 't'\ncolumns = { 'Order ID' = 'order_id' }\n\
         [[route]]\nglob = 'cased/*'\ntable = 't'\ncase_insensitive = true\n\
         [[route]]\nglob = 'extra/*'\ntable = 't'\nunknown_fields = 'ignore'\n\
         [[route]]\nglob = 'strict/*'\ntable = 't'\nunknown_fields = 'error'\n",
        &[],
    );
    assert_code(&out, 3);
    assert!(
        out.all()
            .contains("strict/e.csv: field `junk` has no column in table"),
        "{}",
        out.all()
    );
    assert_eq!(
        rows(&env, "SELECT order_id, Name FROM {db}.t ORDER BY order_id"),
        "1\ta\n2\tb\n3\tc\n4\td\n"
    );
}

#[test]
fn every_metadata_column() {
    let env = Env::new("metadata_columns");
    let time = if env.ch.is_old() {
        "DateTime"
    } else {
        "DateTime64(9)"
    };
    table(
        &env,
        "t",
        &format!(
            "id UInt32, src_file String, src_size UInt64, src_mtime {time}, run String, loaded DateTime"
        ),
    );
    env.write("in/a.csv", "id\n1\n2\n");
    env.write("in/b.jsonl", "{\"id\":3}\n");
    let mtime = |rel: &str| {
        std::fs::metadata(env.path(rel))
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = run_config(
        &env,
        "[[route]]\nglob = 'in/*'\ntable = 't'\nmetadata = { path = 'src_file', size = 'src_size', \
         mtime = 'src_mtime', run_id = 'run', ingested_at = 'loaded' }\n",
        &["--output", "json"],
    );
    assert_code(&out, 0);
    let run_id = out
        .stdout
        .split("\"run_id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("{}", out.stdout))
        .to_owned();
    assert_eq!(
        rows(
            &env,
            "SELECT id, src_file, src_size, toUnixTimestamp(src_mtime), run FROM {db}.t ORDER BY id"
        ),
        format!(
            "1\tin/a.csv\t7\t{a}\t{run_id}\n2\tin/a.csv\t7\t{a}\t{run_id}\n3\tin/b.jsonl\t9\t{b}\t{run_id}\n",
            a = mtime("in/a.csv"),
            b = mtime("in/b.jsonl")
        )
    );
    let loaded: u64 = env
        .q("SELECT min(toUnixTimestamp(loaded)) = max(toUnixTimestamp(loaded)), min(toUnixTimestamp(loaded)) FROM {db}.t")
        .trim()
        .split('\t')
        .map(|v| v.parse::<u64>().unwrap())
        .product();
    assert!(
        loaded >= before.saturating_sub(2) && loaded <= before + 60,
        "{loaded} vs {before}"
    );
    // A metadata column the table lacks is named in the error.
    env.write("other/c.csv", "id\n4\n");
    let out = run_config(
        &env,
        "[[route]]\nglob = 'other/*'\ntable = 't'\nmetadata = { path = 'origin' }\n",
        &[],
    );
    assert_code(&out, 3);
    assert!(
        out.all()
            .contains("other/c.csv: metadata column `origin` (path) is not a column of table"),
        "{}",
        out.all()
    );
}

#[test]
fn schema_evolution_adds_nullable_columns_and_shows_the_statement() {
    let env = Env::new("schema_evolution");
    table(&env, "t", "id UInt32, name String");
    env.q("INSERT INTO {db}.t VALUES (1, 'old')");
    env.write(
        "new/a.csv",
        "id,name,price,first seen\n2,b,2.5,2024-01-02\n",
    );
    env.write(
        "new/b.jsonl",
        "{\"id\":3,\"name\":\"c\",\"tags\":[\"x\"],\"name2\":\"n\"}\n",
    );
    let config = "[[route]]\nglob = 'new/*'\ntable = 't'\nschema = 'add-columns'\n\
                  columns = { 'first seen' = 'first_seen' }\nmetadata = { path = 'src' }\n";
    let out = run_config(&env, config, &["--dry-run"]);
    assert_code(&out, 0);
    let t = format!("`{}`.`t`", env.db);
    for stmt in [
        format!(
            "would alter table {}.t: ALTER TABLE {t} ADD COLUMN `price` Nullable(Float64)",
            env.db
        ),
        format!("ALTER TABLE {t} ADD COLUMN `first_seen` Nullable(Date)"),
        format!("ALTER TABLE {t} ADD COLUMN `tags` Array(String)"),
        format!("ALTER TABLE {t} ADD COLUMN `name2` Nullable(String)"),
        format!("ALTER TABLE {t} ADD COLUMN `src` Nullable(String)"),
    ] {
        assert!(out.stdout.contains(&stmt), "{stmt} in\n{}", out.stdout);
    }
    assert_eq!(
        env.q("SELECT count() FROM system.columns WHERE database = '{db}' AND table = 't'")
            .trim(),
        "2",
        "a dry run alters nothing"
    );
    let out = run_config(&env, config, &[]);
    assert_code(&out, 0);
    assert_eq!(
        rows(
            &env,
            "SELECT id, name, ifNull(toString(price), 'NULL'), ifNull(toString(first_seen), 'NULL'), \
             tags, ifNull(src, 'NULL') FROM {db}.t ORDER BY id"
        ),
        "1\told\tNULL\tNULL\t[]\tNULL\n\
         2\tb\t2.5\t2024-01-02\t[]\tnew/a.csv\n\
         3\tc\tNULL\tNULL\t['x']\tnew/b.jsonl\n"
    );
    // Never narrowed: a later file with text where a number column is fails for its data.
    env.write("new/c.csv", "id,price\n4,cheap\n");
    let out = run_config(&env, config, &[]);
    assert_code(&out, 3);
    assert!(out.all().contains("new/c.csv:2:price"), "{}", out.all());
    // Without the setting, a field the table lacks is an error naming it.
    env.write("fixed/d.csv", "id,colour\n5,red\n");
    let out = run_config(&env, "[[route]]\nglob = 'fixed/*'\ntable = 't'\n", &[]);
    assert_code(&out, 3);
    assert!(
        out.all()
            .contains("fixed/d.csv: field `colour` has no column in table"),
        "{}",
        out.all()
    );
}
