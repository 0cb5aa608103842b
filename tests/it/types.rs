//! Every type family a data file can fill, against the real server: boundaries land exactly,
//! values that do not fit are errors naming file, line and column.

use crate::util::*;
use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use std::sync::Arc;

/// Creates a table with experimental types allowed (`LowCardinality` on 18.16).
fn create(env: &Env, ddl: &str) {
    let sql = format!("CREATE TABLE {}.t {ddl}", env.db);
    let settings: &[(&str, &str)] = match env.ch.is_old() {
        true => &[("allow_experimental_low_cardinality_type", "1")],
        false => &[],
    };
    if let Err(e) = env.ch.try_query_with(&sql, settings) {
        panic!("{sql}\n{e}");
    }
}

/// The `error` of each failed file, as `path<TAB>error` lines in path order.
fn failures(env: &Env) -> String {
    env.q("SELECT path, error FROM {db}.ingest_manifest WHERE event = 'failed' ORDER BY path FORMAT TSVRaw")
}

fn lines(text: &[(&str, &str)]) -> String {
    text.iter().map(|(p, e)| format!("{p}\t{e}\n")).collect()
}

#[test]
fn integers_at_their_boundaries_and_beyond() {
    let env = Env::new("integers");
    create(
        &env,
        "(i8 Int8, i16 Int16, i32 Int32, i64 Int64, u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64) \
         ENGINE = MergeTree ORDER BY tuple()",
    );
    env.write(
        "min.csv",
        "i8,i16,i32,i64,u8,u16,u32,u64\n-128,-32768,-2147483648,-9223372036854775808,0,0,0,0\n",
    );
    env.write(
        "max.jsonl",
        r#"{"i8":127,"i16":32767,"i32":2147483647,"i64":9223372036854775807,"u8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615}"#,
    );
    env.write(
        "exponent.json",
        r#"[{"i8": 1e2, "i32": -2.0, "u64": "42"}]"#,
    );
    env.write("over_i16.csv", "i16\n1\n32768\n");
    env.write("neg_u32.jsonl", "{\"u32\": -1}\n");
    env.write("over_u64.json", "[\n{\"u64\": 18446744073709551616}\n]");
    env.write("fraction.jsonl", "{\"i32\": 1.5}\n");
    env.write(
        "over_i64.xml",
        "<rows>\n  <row><i64>9223372036854775808</i64></row>\n</rows>",
    );
    let batch =
        RecordBatch::try_from_iter([("i8", Arc::new(Int64Array::from(vec![1, -129])) as ArrayRef)])
            .unwrap();
    let mut parquet = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut parquet, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    env.write("under_i8.parquet", parquet);

    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 3);
    assert_eq!(
        env.q("SELECT i8, i16, i32, i64, u8, u16, u32, u64 FROM {db}.t ORDER BY i8 FORMAT TSV"),
        "-128\t-32768\t-2147483648\t-9223372036854775808\t0\t0\t0\t0\n\
         100\t0\t-2\t0\t0\t0\t0\t42\n\
         127\t32767\t2147483647\t9223372036854775807\t255\t65535\t4294967295\t18446744073709551615\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "fraction.jsonl",
                "fraction.jsonl:1:i32: cannot convert \"1.5\" to Int32: not an integer"
            ),
            (
                "neg_u32.jsonl",
                "neg_u32.jsonl:1:u32: cannot convert \"-1\" to UInt32: -1 is out of range for UInt32"
            ),
            (
                "over_i16.csv",
                "over_i16.csv:3:i16: cannot convert \"32768\" to Int16: 32768 is out of range for Int16"
            ),
            (
                "over_i64.xml",
                "over_i64.xml:2:i64: cannot convert \"9223372036854775808\" to Int64: 9223372036854775808 is out of range for Int64"
            ),
            (
                "over_u64.json",
                "over_u64.json:2:u64: cannot convert \"18446744073709551616\" to UInt64: 18446744073709551616 is out of range for UInt64"
            ),
            (
                "under_i8.parquet",
                "under_i8.parquet: record 2, column i8: cannot convert \"-129\" to Int8: -129 is out of range for Int8"
            ),
        ])
    );
}

#[test]
fn floats_and_decimals_are_exact_or_refused() {
    let env = Env::new("decimals");
    create(
        &env,
        "(id UInt8, f32 Float32, f64 Float64, d9 Decimal(9, 2), d18 Decimal(18, 4), \
         d38 Decimal(38, 10)) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "good.csv",
        "id,f32,f64,d9,d18,d38\n\
         1,3.4028235e38,1.7976931348623157e308,9999999.99,99999999999999.9999,9999999999999999999999999999.9999999999\n\
         2,-inf,nan,-9999999.99,-0.0001,-0.0000000001\n\
         3,1.5,-2e-3,.5,12,1e3\n",
    );
    env.write(
        "exact.jsonl",
        "{\"id\":4,\"f64\":0.1,\"d9\":-12.3,\"d38\":1234567890123456789012345678.0123456789}\n",
    );
    env.write("f32.csv", "id,f32\n5,1e39\n");
    env.write("f64.jsonl", "{\"id\":6,\"f64\":1e400}\n");
    env.write("d9_big.csv", "id,d9\n7,10000000.00\n");
    env.write("d9_places.json", "[{\"id\":8,\"d9\":1.005}]");
    env.write("word.csv", "id,f64\n9,twelve\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, f32, f64, d9, d18, d38 FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\t3.4028235e38\t1.7976931348623157e308\t9999999.99\t99999999999999.9999\t9999999999999999999999999999.9999999999\n\
         2\t-inf\tnan\t-9999999.99\t-0.0001\t-0.0000000001\n\
         3\t1.5\t-0.002\t0.50\t12.0000\t1000.0000000000\n\
         4\t0\t0.1\t-12.30\t0.0000\t1234567890123456789012345678.0123456789\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "d9_big.csv",
                "d9_big.csv:2:d9: cannot convert \"10000000.00\" to Decimal(9, 2): does not fit Decimal(9, 2)"
            ),
            (
                "d9_places.json",
                "d9_places.json:1:d9: cannot convert \"1.005\" to Decimal(9, 2): has more than 2 decimal places"
            ),
            (
                "f32.csv",
                "f32.csv:2:f32: cannot convert \"1e39\" to Float32: out of range for Float32"
            ),
            (
                "f64.jsonl",
                "f64.jsonl:1:f64: cannot convert \"1e400\" to Float64: out of range for Float64"
            ),
            (
                "word.csv",
                "word.csv:2:f64: cannot convert \"twelve\" to Float64: not a number"
            ),
        ])
    );
}

#[test]
fn strings_fixed_strings_uuids_and_enums() {
    let env = Env::new("strings");
    create(
        &env,
        "(id UInt8, s String, fs FixedString(3), u UUID, e8 Enum8('a' = 1, 'b' = -2), \
         e16 Enum16('x' = 1000, 'y' = -1000)) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "good.csv",
        "id,s,fs,u,e8,e16\n\
         1,\"tab\there, \"\"q\"\"\",ab,61f0c404-5cb3-11e7-907b-a6006ad3dba0,b,y\n\
         2,,abc,{61F0C4045CB311E7907BA6006AD3DBA0},1,1000\n",
    );
    env.write(
        "good.jsonl",
        "{\"id\":3,\"s\":\"\\u00e9\\n\",\"fs\":\"\",\"u\":\"00000000-0000-0000-0000-000000000000\",\"e8\":-2,\"e16\":\"x\"}\n",
    );
    env.write("fs.csv", "id,fs\n4,abcd\n");
    env.write(
        "uuid.jsonl",
        "{\"id\":5,\"u\":\"61f0c404-5cb3-11e7-907b\"}\n",
    );
    env.write("enum.xml", "<r><row id=\"6\"><e8>c</e8></row></r>");
    env.write("enum_number.jsonl", "{\"id\":7,\"e16\":999}\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, s, fs, u, e8, e16 FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\ttab\\there, \"q\"\tab\\0\t61f0c404-5cb3-11e7-907b-a6006ad3dba0\tb\ty\n\
         2\t\tabc\t61f0c404-5cb3-11e7-907b-a6006ad3dba0\ta\tx\n\
         3\té\\n\t\\0\\0\\0\t00000000-0000-0000-0000-000000000000\tb\tx\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "enum.xml",
                "enum.xml:1:e8: cannot convert \"c\" to Enum8('b' = -2, 'a' = 1): not one of the enum's values ('b', 'a')"
            ),
            (
                "enum_number.jsonl",
                "enum_number.jsonl:1:e16: cannot convert \"999\" to Enum16('y' = -1000, 'x' = 1000): not one of the enum's values ('y', 'x')"
            ),
            (
                "fs.csv",
                "fs.csv:2:fs: cannot convert \"abcd\" to FixedString(3): 4 bytes do not fit FixedString(3)"
            ),
            (
                "uuid.jsonl",
                "uuid.jsonl:1:u: cannot convert \"61f0c404-5cb3-11e7-907b\" to UUID: not a UUID"
            ),
        ])
    );
}

#[test]
fn dates_and_times_in_every_spelling() {
    let env = Env::new("times");
    create(
        &env,
        "(id UInt8, d Date, dt DateTime, tokyo DateTime('Asia/Tokyo')) \
         ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "good.csv",
        "id,d,dt,tokyo\n\
         1,2024-02-29,2024-02-29T12:34:56Z,2024-02-29 21:34:56\n\
         2,1970-01-01,2024-02-29T14:34:56+02:00,1709210096\n\
         3,2149-06-06,1709210096000,2024-02-29T12:34:56.789Z\n\
         4,2024-02-29T23:00:00Z,2024-02-29 12:34:56,1970-01-02T09:00:00+09:00\n",
    );
    env.write(
        "good.jsonl",
        "{\"id\":5,\"d\":\"2024-01-01\",\"dt\":1709210096,\"tokyo\":\"2024-02-29T12:34:56-0000\"}\n",
    );
    env.write("bad_day.csv", "id,d\n6,2023-02-29\n");
    env.write("early.csv", "id,d\n7,1969-12-31\n");
    env.write("month.jsonl", "{\"id\":8,\"dt\":\"2024-13-01 00:00:00\"}\n");
    env.write(
        "before_epoch.xml",
        "<r><row><id>9</id><dt>1960-01-01T00:00:00Z</dt></row></r>",
    );
    env.write("days.jsonl", "{\"id\":10,\"d\":19782}\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    // Day numbers and epoch seconds: 18.16 prints day 0 as 0000-00-00.
    assert_eq!(
        env.q("SELECT id, toUInt16(d), toUInt32(dt), toUInt32(tokyo), toString(tokyo) FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\t19782\t1709210096\t1709210096\t2024-02-29 21:34:56\n\
         2\t0\t1709210096\t1709210096\t2024-02-29 21:34:56\n\
         3\t65535\t1709210096\t1709210096\t2024-02-29 21:34:56\n\
         4\t19782\t1709210096\t86400\t1970-01-02 09:00:00\n\
         5\t19723\t1709210096\t1709210096\t2024-02-29 21:34:56\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "bad_day.csv",
                "bad_day.csv:2:d: cannot convert \"2023-02-29\" to Date: not a date (expected ISO 8601 like 2000-01-31, 2000/01/31, 20000131, Jan 31 2000 or epoch seconds)"
            ),
            (
                "before_epoch.xml",
                "before_epoch.xml:1:dt: cannot convert \"1960-01-01T00:00:00Z\" to DateTime: time is outside DateTime's range 1970-01-01..2106-02-07"
            ),
            (
                "days.jsonl",
                "days.jsonl:1:d: cannot convert \"19782\" to Date: not a date"
            ),
            (
                "early.csv",
                "early.csv:2:d: cannot convert \"1969-12-31\" to Date: date is outside Date's range 1970-01-01..2149-06-06"
            ),
            (
                "month.jsonl",
                "month.jsonl:1:dt: cannot convert \"2024-13-01 00:00:00\" to DateTime: not a date-time (expected ISO 8601 like 2000-01-31, 2000/01/31, 20000131, Jan 31 2000 or epoch seconds)"
            ),
        ])
    );
}

#[test]
fn nulls_empty_fields_defaults_arrays_and_low_cardinality() {
    let env = Env::new("nullable");
    create(
        &env,
        "(id UInt8, n Nullable(Int32), s String, i Int32, dflt Int32 DEFAULT 7, \
         a Array(Int32), an Array(Nullable(String)), lc LowCardinality(String), \
         lcn LowCardinality(Nullable(String))) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "good.csv",
        "id,n,s,i,dflt,a,an,lc,lcn\n\
         1,,,,,,,,\n\
         2,-5,x,3,4,\"[1,2]\",\"['a',NULL]\",v,w\n",
    );
    env.write(
        "good.jsonl",
        "{\"id\":3,\"n\":null,\"a\":[1,-2],\"an\":[\"z\",null],\"lc\":\"v\",\"lcn\":null}\n\
         {\"id\":4,\"i\":null,\"dflt\":null,\"lcn\":\"w\"}\n",
    );
    env.write("element.jsonl", "{\"id\":5,\"a\":[1,99999999999]}\n");
    env.write("scalar.jsonl", "{\"id\":6,\"a\":5}\n");
    env.write("object.jsonl", "{\"id\":7,\"i\":{\"x\":1}}\n");
    env.write("nullable.csv", "id,n\n8,x\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, n, s, i, dflt, a, an, lc, lcn FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\t\\N\t\t0\t7\t[]\t[]\t\t\\N\n\
         2\t-5\tx\t3\t4\t[1,2]\t['a',NULL]\tv\tw\n\
         3\t\\N\t\t0\t7\t[1,-2]\t['z',NULL]\tv\t\\N\n\
         4\t\\N\t\t0\t7\t[]\t[]\t\tw\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "element.jsonl",
                "element.jsonl:1:a: cannot convert \"[2 items]\" to Array(Int32): 99999999999 is out of range for Int32"
            ),
            (
                "nullable.csv",
                "nullable.csv:2:n: cannot convert \"x\" to Nullable(Int32): not an integer"
            ),
            (
                "object.jsonl",
                "object.jsonl:1:i: cannot convert \"{\\\"x\\\":1}\" to Int32: a JSON object goes only into a String, Map, named Tuple or JSON column"
            ),
            (
                "scalar.jsonl",
                "scalar.jsonl:1:a: cannot convert \"5\" to Array(Int32): expected an array"
            ),
        ])
    );
}

#[test]
fn json_values_map_as_a_user_expects() {
    let env = Env::new("json_values");
    create(
        &env,
        "(id UInt8, s String, n Int64, f Float64, b UInt8, d Decimal(20, 5), obj String, \
         e Enum8('on' = 1, 'off' = 0), absent String DEFAULT 'dflt', \
         computed String DEFAULT concat('id-', toString(id))) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "a.json",
        r#"[
  {"id": 1, "s": "text", "n": "12", "f": "1.5", "b": true, "d": 123456789012345.12345,
   "obj": {"a": [1, 2]}, "e": "on"},
  {"id": 2, "s": 42, "n": 1e3, "f": 2, "b": false, "d": "-0.5", "obj": "plain", "e": 0},
  {"id": 3, "s": true, "n": null, "f": null, "b": 1, "d": 0, "obj": null, "e": "off",
   "absent": "given"}
]"#,
    );
    env.write(
        "bad.json",
        "[\n  {\"id\": 4},\n  {\"id\": 5,\n   \"e\": \"maybe\"}\n]",
    );
    assert_code(&env.ingest(&["--table", "t"]), 3);
    // A default that refers to another column cannot be evaluated alone: such columns take
    // their type's zero value for absent keys (documented).
    assert_eq!(
        env.q(
            "SELECT id, s, n, f, b, d, obj, e, absent, computed FROM {db}.t ORDER BY id FORMAT TSV"
        ),
        "1\ttext\t12\t1.5\t1\t123456789012345.12345\t{\"a\": [1, 2]}\ton\tdflt\t\n\
         2\t42\t1000\t2\t0\t-0.50000\tplain\toff\tdflt\t\n\
         3\ttrue\t0\t0\t1\t0.00000\t\toff\tgiven\t\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[(
            "bad.json",
            "bad.json:3:e: cannot convert \"maybe\" to Enum8('off' = 0, 'on' = 1): not one of the enum's values ('off', 'on')"
        )])
    );
}
