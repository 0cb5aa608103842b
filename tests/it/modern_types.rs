//! The column types modern tables have (Bool, DateTime64, Date32, 128/256-bit integers,
//! Decimal256, IPv4/IPv6, Map, Tuple, nested Array, LowCardinality, JSON), each with a value that
//! fits and one that does not, against the real server. Types ClickHouse 18.16 lacks are tested on
//! 26.9; on 18.16 each test checks what that server offers in their place, as the README says.

use crate::util::*;
use arrow_array::{ArrayRef, RecordBatch, TimestampMicrosecondArray, UInt8Array};
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

fn parquet(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    out
}

const U256_MAX: &str =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";
const I256_MIN: &str =
    "-57896044618658097711785492504343953926634992332820282019728792003956564819968";

#[test]
fn bool_and_128_and_256_bit_integers_at_their_limits() {
    let env = Env::new("wide_ints");
    if env.ch.is_old() {
        // 18.16 has no Bool and nothing wider than 64 bits: booleans go into UInt8.
        create(&env, "(id UInt8, b UInt8) ENGINE = MergeTree ORDER BY id");
        env.write("good.csv", "id,b\n1,true\n2,FALSE\n3,1\n");
        env.write("good.jsonl", "{\"id\":4,\"b\":true}\n");
        env.write("maybe.csv", "id,b\n5,maybe\n");
        assert_code(&env.ingest(&["--table", "t"]), 3);
        assert_eq!(
            env.q("SELECT id, b FROM {db}.t ORDER BY id FORMAT TSV"),
            "1\t1\n2\t0\n3\t1\n4\t1\n"
        );
        assert_eq!(
            failures(&env),
            lines(&[(
                "maybe.csv",
                "maybe.csv:2:b: cannot convert \"maybe\" to UInt8: not an integer or boolean"
            )])
        );
        return;
    }
    create(
        &env,
        "(id UInt8, b Bool, i128 Int128, u128 UInt128, i256 Int256, u256 UInt256) \
         ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "min.csv",
        format!(
            "id,b,i128,u128,i256,u256\n\
             1,false,-170141183460469231731687303715884105728,0,{I256_MIN},0\n"
        ),
    );
    env.write(
        "max.jsonl",
        format!(
            "{{\"id\":2,\"b\":true,\"i128\":170141183460469231731687303715884105727,\
             \"u128\":\"340282366920938463463374607431768211455\",\
             \"i256\":57896044618658097711785492504343953926634992332820282019728792003956564819967,\
             \"u256\":{U256_MAX}}}\n"
        ),
    );
    env.write(
        "words.xml",
        "<rows><row id=\"3\" b=\"yes\" i128=\"-1\" u256=\"1e0\"/></rows>",
    );
    env.write("bool.jsonl", "{\"id\":4,\"b\":2}\n");
    env.write(
        "i128.csv",
        "id,i128\n5,170141183460469231731687303715884105728\n",
    );
    env.write("u128.jsonl", "{\"id\":6,\"u128\":-1}\n");
    env.write(
        "i256.json",
        "[{\"id\":7,\"i256\":-57896044618658097711785492504343953926634992332820282019728792003956564819969}]",
    );
    env.write(
        "u256.csv",
        "id,u256\n8,115792089237316195423570985008687907853269984665640564039457584007913129639936\n",
    );
    env.write("fraction.jsonl", "{\"id\":9,\"i256\":1.5}\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, b, i128, u128, i256, u256 FROM {db}.t ORDER BY id FORMAT TSV"),
        format!(
            "1\tfalse\t-170141183460469231731687303715884105728\t0\t{I256_MIN}\t0\n\
             2\ttrue\t170141183460469231731687303715884105727\t340282366920938463463374607431768211455\t\
             57896044618658097711785492504343953926634992332820282019728792003956564819967\t{U256_MAX}\n"
        )
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "bool.jsonl",
                "bool.jsonl:1:b: cannot convert \"2\" to Bool: not a boolean"
            ),
            (
                "fraction.jsonl",
                "fraction.jsonl:1:i256: cannot convert \"1.5\" to Int256: not an integer"
            ),
            (
                "i128.csv",
                "i128.csv:2:i128: cannot convert \"170141183460469231731687303715884105728\" to Int128: 170141183460469231731687303715884105728 is out of range for Int128"
            ),
            (
                "i256.json",
                "i256.json:1:i256: cannot convert \"-5789604461865809771178549250434395392663499233282028201972…\" to Int256: -57896044618658097711785492504343953926634992332820282019728792003956564819969 is out of range for Int256"
            ),
            (
                "u128.jsonl",
                "u128.jsonl:1:u128: cannot convert \"-1\" to UInt128: -1 is out of range for UInt128"
            ),
            (
                "u256.csv",
                "u256.csv:2:u256: cannot convert \"11579208923731619542357098500868790785326998466564056403945…\" to UInt256: 115792089237316195423570985008687907853269984665640564039457584007913129639936 is out of range for 256 bits"
            ),
            (
                "words.xml",
                "words.xml:1:u256: cannot convert \"1e0\" to UInt256: not an integer"
            ),
        ])
    );
}

#[test]
fn datetime64_keeps_sub_second_digits_from_every_format() {
    let env = Env::new("datetime64");
    let micros = 1_704_164_645_123_456i64;
    if env.ch.is_old() {
        // 18.16 has no DateTime64: a DateTime keeps whole seconds, as ClickHouse's does.
        create(
            &env,
            "(id UInt8, dt DateTime) ENGINE = MergeTree ORDER BY id",
        );
        env.write("a.csv", "id,dt\n1,2024-01-02 03:04:05.123456\n");
        env.write("b.jsonl", "{\"id\":2,\"dt\":1704164645.123456}\n");
        env.write("early.csv", "id,dt\n3,1969-12-31 23:59:59\n");
        assert_code(&env.ingest(&["--table", "t"]), 3);
        assert_eq!(
            env.q("SELECT id, toUInt32(dt) FROM {db}.t ORDER BY id FORMAT TSV"),
            "1\t1704164645\n2\t1704164645\n"
        );
        assert_eq!(
            failures(&env),
            lines(&[(
                "early.csv",
                "early.csv:2:dt: cannot convert \"1969-12-31 23:59:59\" to DateTime: time is outside DateTime's range 1970-01-01..2106-02-07"
            )])
        );
        return;
    }
    create(
        &env,
        "(id UInt8, us DateTime64(6), ms DateTime64(3, 'Asia/Tokyo'), ns DateTime64(9, 'UTC')) \
         ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "a.csv",
        "id,us,ms,ns\n1,2024-01-02 03:04:05.123456,2024-01-02 12:04:05.123,2024-01-02T03:04:05.123456789Z\n",
    );
    env.write(
        "b.jsonl",
        "{\"id\":2,\"us\":\"2024-01-02T03:04:05.123456Z\",\"ms\":1704164645123,\"ns\":\"1704164645123456789\"}\n\
         {\"id\":3,\"us\":1704164645.123456,\"ms\":\"1704164645.123\",\"ns\":1704164645123456.789}\n\
         {\"id\":4,\"us\":1704164645123456,\"ms\":1704164645123.0,\"ns\":1704164645.123456789}\n",
    );
    env.write(
        "c.xml",
        "<r><row id=\"5\" us=\"2024-01-02 03:04:05.123456\"><ms>2024-01-02T03:04:05.123+00:00</ms></row></r>",
    );
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(UInt8Array::from(vec![6])) as ArrayRef),
        (
            "us",
            Arc::new(TimestampMicrosecondArray::from(vec![micros])) as ArrayRef,
        ),
    ])
    .unwrap();
    env.write("d.parquet", parquet(&batch));
    env.write("digits.csv", "id,ms\n7,2024-01-02 03:04:05.1234\n");
    env.write("early.jsonl", "{\"id\":8,\"us\":\"1899-12-31 23:59:59\"}\n");
    env.write("late.csv", "id,ns\n9,2262-04-12 00:00:00\n");
    let too_fine = RecordBatch::try_from_iter([(
        "ms",
        Arc::new(TimestampMicrosecondArray::from(vec![micros])) as ArrayRef,
    )])
    .unwrap();
    env.write("too_fine.parquet", parquet(&too_fine));
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, us, ms, ns FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\t2024-01-02 03:04:05.123456\t2024-01-02 12:04:05.123\t2024-01-02 03:04:05.123456789\n\
         2\t2024-01-02 03:04:05.123456\t2024-01-02 12:04:05.123\t2024-01-02 03:04:05.123456789\n\
         3\t2024-01-02 03:04:05.123456\t2024-01-02 12:04:05.123\t2024-01-02 03:04:05.123456789\n\
         4\t2024-01-02 03:04:05.123456\t2024-01-02 12:04:05.123\t2024-01-02 03:04:05.123456789\n\
         5\t2024-01-02 03:04:05.123456\t2024-01-02 12:04:05.123\t1970-01-01 00:00:00.000000000\n\
         6\t2024-01-02 03:04:05.123456\t1970-01-01 09:00:00.000\t1970-01-01 00:00:00.000000000\n"
    );
    assert_eq!(
        env.q("SELECT count() FROM {db}.t WHERE toUnixTimestamp64Micro(us) = 1704164645123456 FORMAT TSV"),
        "6\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "digits.csv",
                "digits.csv:2:ms: cannot convert \"2024-01-02 03:04:05.1234\" to DateTime64(3, 'Asia/Tokyo'): time has more precision than DateTime64(3) keeps"
            ),
            (
                "early.jsonl",
                "early.jsonl:1:us: cannot convert \"1899-12-31 23:59:59\" to DateTime64(6): time is outside DateTime64's range 1900-01-01..2299-12-31"
            ),
            (
                "late.csv",
                "late.csv:2:ns: cannot convert \"2262-04-12 00:00:00\" to DateTime64(9, 'UTC'): time is outside DateTime64(9)'s range 1900-01-01..2262-04-11"
            ),
            (
                "too_fine.parquet",
                "too_fine.parquet: record 1, column ms: cannot convert \"timestamp 1704164645123456000ns\" to DateTime64(3, 'Asia/Tokyo'): time has more precision than DateTime64(3) keeps"
            ),
        ])
    );
}

#[test]
fn date32_decimal256_ips_and_uuids() {
    let env = Env::new("date32");
    if env.ch.is_old() {
        // 18.16 has no Date32, Decimal256 or IP types; its UUID and Decimal128 hold the same ground.
        create(
            &env,
            "(id UInt8, d Decimal128(20), u UUID) ENGINE = MergeTree ORDER BY id",
        );
        env.write(
            "good.csv",
            "id,d,u\n1,-999999999999999999.99999999999999999999,61f0c404-5cb3-11e7-907b-a6006ad3dba0\n",
        );
        env.write("places.jsonl", "{\"id\":2,\"d\":0.000000000000000000001}\n");
        env.write("uuid.csv", "id,u\n3,61f0c404\n");
        assert_code(&env.ingest(&["--table", "t"]), 3);
        assert_eq!(
            env.q("SELECT id, d, u FROM {db}.t ORDER BY id FORMAT TSV"),
            "1\t-999999999999999999.99999999999999999999\t61f0c404-5cb3-11e7-907b-a6006ad3dba0\n"
        );
        assert_eq!(
            failures(&env),
            lines(&[
                (
                    "places.jsonl",
                    "places.jsonl:1:d: cannot convert \"0.000000000000000000001\" to Decimal(38, 20): has more than 20 decimal places"
                ),
                (
                    "uuid.csv",
                    "uuid.csv:2:u: cannot convert \"61f0c404\" to UUID: not a UUID"
                ),
            ])
        );
        return;
    }
    create(
        &env,
        "(id UInt8, d32 Date32, dec Decimal256(20), v4 IPv4, v6 IPv6, u UUID) \
         ENGINE = MergeTree ORDER BY id",
    );
    let max = format!("{}.{}", "9".repeat(56), "9".repeat(20));
    env.write(
        "good.csv",
        format!(
            "id,d32,dec,v4,v6,u\n\
             1,1900-01-01,-{max},0.0.0.0,::,00000000-0000-0000-0000-000000000000\n\
             2,2299-12-31,{max},255.255.255.255,2001:db8::ff00:42:8329,61f0c404-5cb3-11e7-907b-a6006ad3dba0\n"
        ),
    );
    env.write(
        "good.jsonl",
        "{\"id\":3,\"d32\":\"1969-07-20\",\"dec\":1e-20,\"v4\":\"10.0.0.1\",\"v6\":\"10.0.0.1\",\"u\":\"{61F0C4045CB311E7907BA6006AD3DBA0}\"}\n",
    );
    env.write("d32.csv", "id,d32\n4,1899-12-31\n");
    env.write(
        "dec_big.jsonl",
        format!("{{\"id\":5,\"dec\":1{}}}\n", "0".repeat(56)),
    );
    env.write(
        "dec_places.xml",
        "<r><row><id>6</id><dec>0.123456789012345678901</dec></row></r>",
    );
    env.write("v4.csv", "id,v4\n7,256.0.0.1\n");
    env.write("v6.jsonl", "{\"id\":8,\"v6\":\"2001:db8:::1\"}\n");
    env.write(
        "uuid.jsonl",
        "{\"id\":9,\"u\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba0x\"}\n",
    );
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, d32, dec, v4, v6, u FROM {db}.t ORDER BY id FORMAT TSV"),
        format!(
            "1\t1900-01-01\t-{max}\t0.0.0.0\t::\t00000000-0000-0000-0000-000000000000\n\
             2\t2299-12-31\t{max}\t255.255.255.255\t2001:db8::ff00:42:8329\t61f0c404-5cb3-11e7-907b-a6006ad3dba0\n\
             3\t1969-07-20\t0.00000000000000000001\t10.0.0.1\t::ffff:10.0.0.1\t61f0c404-5cb3-11e7-907b-a6006ad3dba0\n"
        )
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "d32.csv",
                "d32.csv:2:d32: cannot convert \"1899-12-31\" to Date32: date is outside Date32's range 1900-01-01..2299-12-31"
            ),
            (
                "dec_big.jsonl",
                "dec_big.jsonl:1:dec: cannot convert \"100000000000000000000000000000000000000000000000000000000\" to Decimal(76, 20): does not fit Decimal(76, 20)"
            ),
            (
                "dec_places.xml",
                "dec_places.xml:1:dec: cannot convert \"0.123456789012345678901\" to Decimal(76, 20): has more than 20 decimal places"
            ),
            (
                "uuid.jsonl",
                "uuid.jsonl:1:u: cannot convert \"61f0c404-5cb3-11e7-907b-a6006ad3dba0x\" to UUID: not a UUID"
            ),
            (
                "v4.csv",
                "v4.csv:2:v4: cannot convert \"256.0.0.1\" to IPv4: not an IPv4 address"
            ),
            (
                "v6.jsonl",
                "v6.jsonl:1:v6: cannot convert \"2001:db8:::1\" to IPv6: not an IPv6 address"
            ),
        ])
    );
}

#[test]
fn maps_and_tuples_from_json_objects_arrays_and_text() {
    let env = Env::new("maps_tuples");
    let old = env.ch.is_old();
    // 18.16 has named and unnamed tuples but no Map.
    let map_columns = if old {
        ""
    } else {
        "m Map(String, UInt16), mn Map(String, Array(Nullable(Int8))), "
    };
    create(
        &env,
        &format!(
            "(id UInt8, {map_columns}t Tuple(a UInt8, b Nullable(String), c Array(String)), \
             p Tuple(UInt8, String)) ENGINE = MergeTree ORDER BY id"
        ),
    );
    env.write(
        "good.jsonl",
        "{\"id\":1,\"t\":{\"c\":[\"x\",\"y\"],\"a\":7},\"p\":[1,\"one\"]}\n\
         {\"id\":2,\"t\":{\"a\":8,\"b\":\"bee\",\"c\":[]},\"p\":null}\n",
    );
    env.write(
        "good.csv",
        "id,t,p\n3,\"(9,'q',['r'])\",\"(2,'two')\"\n4,,\"[3, 'three']\"\n",
    );
    env.write("member.jsonl", "{\"id\":5,\"t\":{\"a\":1,\"d\":2}}\n");
    env.write("element.json", "[{\"id\":6,\"t\":{\"a\":256}}]");
    env.write("count.csv", "id,p\n7,\"(1,'x',3)\"\n");
    env.write("object.jsonl", "{\"id\":8,\"p\":{\"a\":1}}\n");
    if !old {
        env.write(
            "maps.jsonl",
            "{\"id\":10,\"m\":{\"a\":1,\"b\":65535},\"mn\":{\"x\":[1,null,-3],\"y\":[]}}\n\
             {\"id\":11,\"m\":{}}\n",
        );
        env.write(
            "maps.xml",
            "<r><row id=\"12\"><m>{'k': 5, 'l': 6}</m><mn>{\"z\": [NULL, 2]}</mn></row></r>",
        );
        env.write("key.jsonl", "{\"id\":13,\"m\":{\"a\":1,\"big\":65536}}\n");
        env.write("nested.jsonl", "{\"id\":14,\"mn\":{\"x\":[1,128]}}\n");
        env.write("array.jsonl", "{\"id\":15,\"m\":[1,2]}\n");
    }
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, t, p FROM {db}.t WHERE id < 10 ORDER BY id FORMAT TSV"),
        "1\t(7,NULL,['x','y'])\t(1,'one')\n\
         2\t(8,'bee',[])\t(0,'')\n\
         3\t(9,'q',['r'])\t(2,'two')\n\
         4\t(0,NULL,[])\t(3,'three')\n"
    );
    let mut expected = vec![
        (
            "count.csv",
            "count.csv:2:p: cannot convert \"(1,'x',3)\" to Tuple(UInt8, String): more than the tuple's 2 elements",
        ),
        (
            "element.json",
            "element.json:1:t: cannot convert \"{\\\"a\\\":256}\" to Tuple(a UInt8, b Nullable(String), c Array(String)): element `a`: 256 is out of range for UInt8",
        ),
        (
            "member.jsonl",
            "member.jsonl:1:t: cannot convert \"{\\\"a\\\":1,\\\"d\\\":2}\" to Tuple(a UInt8, b Nullable(String), c Array(String)): the tuple has no element `d`",
        ),
        (
            "object.jsonl",
            "object.jsonl:1:p: cannot convert \"{\\\"a\\\":1}\" to Tuple(UInt8, String): an unnamed Tuple takes a JSON array, not an object",
        ),
    ];
    if !old {
        assert_eq!(
            env.q("SELECT id, m, mn FROM {db}.t WHERE id >= 10 ORDER BY id FORMAT TSV"),
            "10\t{'a':1,'b':65535}\t{'x':[1,NULL,-3],'y':[]}\n\
             11\t{}\t{}\n\
             12\t{'k':5,'l':6}\t{'z':[NULL,2]}\n"
        );
        expected.extend([
            (
                "array.jsonl",
                "array.jsonl:1:m: cannot convert \"[2 items]\" to Map(String, UInt16): expected a JSON object",
            ),
            (
                "key.jsonl",
                "key.jsonl:1:m: cannot convert \"{\\\"a\\\":1,\\\"big\\\":65536}\" to Map(String, UInt16): key `big`: 65536 is out of range for UInt16",
            ),
            (
                "nested.jsonl",
                "nested.jsonl:1:mn: cannot convert \"{\\\"x\\\":[1,128]}\" to Map(String, Array(Nullable(Int8))): key `x`: 128 is out of range for Int8",
            ),
        ]);
        expected.sort();
    }
    assert_eq!(failures(&env), lines(&expected));
}

#[test]
fn nested_arrays_and_low_cardinality_inside_them() {
    let env = Env::new("nested_arrays");
    create(
        &env,
        "(id UInt8, aa Array(Array(UInt8)), an Array(Nullable(String)), \
         alc Array(LowCardinality(String)), lcn LowCardinality(Nullable(String)), \
         aaa Array(Array(Array(Int16)))) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "good.jsonl",
        "{\"id\":1,\"aa\":[[1,2],[],[3]],\"an\":[\"a\",null],\"alc\":[\"x\",\"y\",\"x\"],\"lcn\":null,\"aaa\":[[[1],[-2,3]],[]]}\n\
         {\"id\":2,\"aa\":[],\"alc\":[],\"lcn\":\"z\"}\n",
    );
    env.write(
        "good.csv",
        "id,aa,an,alc,lcn,aaa\n3,\"[[4],[5,6]]\",\"[NULL,'b']\",\"['y']\",w,\"[[[7]]]\"\n",
    );
    env.write("inner.jsonl", "{\"id\":4,\"aa\":[[1],[256]]}\n");
    env.write("depth.csv", "id,aa\n5,\"[1,2]\"\n");
    env.write("flat.jsonl", "{\"id\":6,\"aaa\":[[1]]}\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, aa, an, alc, lcn, aaa FROM {db}.t ORDER BY id FORMAT TSV"),
        "1\t[[1,2],[],[3]]\t['a',NULL]\t['x','y','x']\t\\N\t[[[1],[-2,3]],[]]\n\
         2\t[]\t[]\t[]\tz\t[]\n\
         3\t[[4],[5,6]]\t[NULL,'b']\t['y']\tw\t[[[7]]]\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "depth.csv",
                "depth.csv:2:aa: cannot convert \"[1,2]\" to Array(Array(UInt8)): expected an array like [1,2,3]"
            ),
            (
                "flat.jsonl",
                "flat.jsonl:1:aaa: cannot convert \"[1 items]\" to Array(Array(Array(Int16))): expected an array"
            ),
            (
                "inner.jsonl",
                "inner.jsonl:1:aa: cannot convert \"[2 items]\" to Array(Array(UInt8)): 256 is out of range for UInt8"
            ),
        ])
    );
}

#[test]
fn json_object_columns_take_objects_and_refuse_the_rest() {
    let env = Env::new("json_type");
    if env.ch.is_old() {
        // 18.16 has no JSON type: an object goes into a String column as its text.
        create(&env, "(id UInt8, j String) ENGINE = MergeTree ORDER BY id");
        env.write("a.jsonl", "{\"id\":1,\"j\":{\"a\": {\"b\": [1, 2]}}}\n");
        env.write("b.jsonl", "{\"id\":2,\"j\":[1]}\n");
        assert_code(&env.ingest(&["--table", "t"]), 0);
        assert_eq!(
            env.q("SELECT id, j FROM {db}.t ORDER BY id FORMAT TSV"),
            "1\t{\"a\": {\"b\": [1, 2]}}\n2\t[1]\n"
        );
        return;
    }
    create(
        &env,
        "(id UInt8, j JSON, tj Tuple(n UInt8, doc JSON)) ENGINE = MergeTree ORDER BY id",
    );
    env.write(
        "a.jsonl",
        "{\"id\":1,\"j\":{\"a\": {\"b\": \"x\"}, \"n\": 5},\"tj\":{\"n\":1,\"doc\":{\"k\":\"v\"}}}\n{\"id\":2}\n",
    );
    env.write("b.json", "[{\"id\": 3, \"j\": {\"list\": [\"p\", \"q\"]}}]");
    env.write("c.csv", "id,j\n4,\"{\"\"from\"\": \"\"csv\"\"}\"\n");
    env.write(
        "d.xml",
        "<r><row id=\"5\"><j>{\"from\": \"xml\"}</j></row></r>",
    );
    env.write("array.jsonl", "{\"id\":6}\n{\"id\":7,\"j\":[1, 2]}\n");
    env.write("text.csv", "id,j\n8,plain\n");
    // The server refuses a path twice; the error names the file, line and column instead.
    env.write(
        "paths.jsonl",
        "{\"id\":10,\"j\":{\"a\":{\"b\":1},\"a.b\":2}}\n",
    );
    env.write("broken.xml", "<r><row id=\"9\"><j>{\"a\": </j></row></r>");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q(
            "SELECT id, toString(j), tj.n, toString(tj.doc) FROM {db}.t ORDER BY id FORMAT TSVRaw"
        ),
        "1\t{\"a\":{\"b\":\"x\"},\"n\":5}\t1\t{\"k\":\"v\"}\n\
         2\t{}\t0\t{}\n\
         3\t{\"list\":[\"p\",\"q\"]}\t0\t{}\n\
         4\t{\"from\":\"csv\"}\t0\t{}\n\
         5\t{\"from\":\"xml\"}\t0\t{}\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "array.jsonl",
                "array.jsonl:2:j: cannot convert \"[2 items]\" to JSON: the JSON type takes a JSON object"
            ),
            (
                "broken.xml",
                "broken.xml:1:j: cannot convert \"{\\\"a\\\": \" to JSON: not a valid JSON object: EOF while parsing a value at line 1 column 6"
            ),
            (
                "paths.jsonl",
                "paths.jsonl:1:j: cannot convert \"{\\\"a\\\":{\\\"b\\\":1},\\\"a.b\\\":2}\" to JSON: path `a.b` appears twice"
            ),
            (
                "text.csv",
                "text.csv:2:j: cannot convert \"plain\" to JSON: the JSON type takes a JSON object"
            ),
        ])
    );
}

#[test]
fn a_column_the_tool_cannot_fill_fails_only_the_files_that_set_it() {
    let env = Env::new("unfillable");
    // `AggregateFunction` exists on every server; no data file can carry its state.
    create(
        &env,
        "(id UInt8, s String, agg AggregateFunction(uniq, String)) \
         ENGINE = AggregatingMergeTree ORDER BY (id, s)",
    );
    env.write(
        "a.jsonl",
        "{\"id\":1,\"s\":\"x\"}\n{\"id\":2,\"agg\":null}\n",
    );
    env.write("b.xml", "<r><row id=\"3\" agg=\"\"><s>y</s></row></r>");
    env.write("c.csv", "id,s\n4,z\n");
    env.write("sets.jsonl", "{\"id\":5}\n{\"id\":6,\"agg\":\"x\"}\n");
    env.write("sets.xml", "<r><row id=\"7\" agg=\"x\"/></r>");
    env.write("header.csv", "id,agg\n8,\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, s, uniqMerge(agg) FROM {db}.t GROUP BY id, s ORDER BY id FORMAT TSV"),
        "1\tx\t0\n2\t\t0\n3\ty\t0\n4\tz\t0\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "header.csv",
                "header.csv: column `agg`: type AggregateFunction(uniq, String) cannot be filled from a data file"
            ),
            (
                "sets.jsonl",
                "sets.jsonl:2:agg: type AggregateFunction(uniq, String) cannot be filled from a data file"
            ),
            (
                "sets.xml",
                "sets.xml:1:agg: type AggregateFunction(uniq, String) cannot be filled from a data file"
            ),
        ])
    );
}

/// Regression: a JSON value nested 100,000 arrays deep overflowed the stack and killed the run.
#[test]
fn hostile_nesting_is_a_record_error_not_a_crash() {
    let env = Env::new("deep_nesting");
    create(
        &env,
        "(id UInt8, s String, aa Array(Array(UInt8))) ENGINE = MergeTree ORDER BY id",
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    env.write("deep.jsonl", format!("{{\"id\":1,\"s\":{deep}}}\n"));
    env.write("deep.csv", format!("id,aa\n2,\"{deep}\"\n"));
    env.write("ok.jsonl", "{\"id\":3,\"s\":[[[1]]],\"aa\":[[1]]}\n");
    assert_code(&env.ingest(&["--table", "t"]), 3);
    assert_eq!(
        env.q("SELECT id, s, aa FROM {db}.t ORDER BY id FORMAT TSV"),
        "3\t[[[1]]]\t[[1]]\n"
    );
    assert_eq!(
        failures(&env),
        lines(&[
            (
                "deep.csv",
                "deep.csv:2:aa: cannot convert \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[…\" to Array(Array(UInt8)): not an integer or boolean"
            ),
            (
                "deep.jsonl",
                "deep.jsonl:1: arrays and objects nested more than 64 levels deep (the limit)"
            ),
        ])
    );
}

#[test]
fn created_tables_keep_microseconds_from_every_format() {
    let env = Env::new("infer_micros");
    let micros = 1_704_164_645_123_456i64;
    env.write("a.csv", "id,ts\n1,2024-01-02 03:04:05.123456\n");
    env.write(
        "b.jsonl",
        "{\"id\":2,\"ts\":\"2024-01-02T03:04:05.123456Z\"}\n",
    );
    env.write(
        "c.xml",
        "<r><row id=\"3\"><ts>2024-01-02T05:04:05.123456+02:00</ts></row></r>",
    );
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(UInt8Array::from(vec![4])) as ArrayRef),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![micros])) as ArrayRef,
        ),
    ])
    .unwrap();
    env.write("d.parquet", parquet(&batch));
    assert_code(&env.ingest(&["--table", "t", "--create-table"]), 0);
    // 18.16 has no DateTime64: the inferred DateTime keeps whole seconds (README).
    let (ty, value) = match env.ch.is_old() {
        true => ("DateTime", "toUInt32(ts)"),
        false => ("DateTime64(6)", "toUnixTimestamp64Micro(ts)"),
    };
    assert_eq!(
        env.q("SELECT type FROM system.columns WHERE database = '{db}' AND table = 't' AND name = 'ts' FORMAT TSV"),
        format!("{ty}\n")
    );
    let expected = match env.ch.is_old() {
        true => "1\t1704164645\n2\t1704164645\n3\t1704164645\n4\t1704164645\n".to_owned(),
        false => (1..=4).map(|i| format!("{i}\t{micros}\n")).collect(),
    };
    assert_eq!(
        env.q(&format!(
            "SELECT id, {value} FROM {{db}}.t ORDER BY id FORMAT TSV"
        )),
        expected
    );
}
