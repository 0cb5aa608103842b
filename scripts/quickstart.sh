#!/usr/bin/env bash
# The main job end to end: start a local ClickHouse (installing it if needed), build `ingest`,
# generate a sample data/ folder of reviews, ingest it, show that a second run inserts nothing,
# add a file and ingest again, and print what is in ClickHouse. Each time it starts over: a fresh
# data/ folder and a fresh `quickstart` database.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust from https://rustup.rs first" >&2
    exit 1
fi
http_port=${CH_HTTP_PORT:-8123}
tcp_port=${CH_TCP_PORT:-9000}
ch() { clickhouse-client --host 127.0.0.1 --port "$tcp_port" "$@"; }

scripts/clickhouse.sh start
cargo build --release --quiet --bin ingest --example gen_reviews
ingest=target/release/ingest

rm -rf data
target/release/examples/gen_reviews --out data --files 4 --rows 25000 --seed 1
ch --query "DROP DATABASE IF EXISTS quickstart"
ch --query "CREATE DATABASE quickstart"
ch --query "CREATE TABLE quickstart.reviews (
    rating Float32, title String, text String, asin String, user_id String,
    timestamp UInt64, helpful_vote UInt32, verified_purchase UInt8
) ENGINE = MergeTree ORDER BY (asin, timestamp)"

export CLICKHOUSE_URL="http://127.0.0.1:$http_port" CLICKHOUSE_DATABASE=quickstart
echo
echo "== ingest run (files must be unchanged for --settle before they are read)"
$ingest run --data-dir data --table reviews --settle 1s
echo
echo "== ingest run again: everything is already ingested, nothing is inserted"
$ingest run --data-dir data --table reviews --settle 1s
echo
echo "== a new file arrives, and a renamed copy of an old one"
target/release/examples/gen_reviews --out data --files 1 --rows 5000 --seed 2 --prefix late
cp data/reviews-0000.csv data/copy-of-0000.csv
$ingest run --data-dir data --table reviews --settle 1s
echo
echo "== what ClickHouse holds"
ch --query "SELECT count() AS rows, uniqExact(_ingest_file) AS files FROM quickstart.reviews FORMAT PrettyCompact"
ch --query "SELECT event, count() FROM quickstart.ingest_manifest GROUP BY event ORDER BY event FORMAT PrettyCompact"
echo
$ingest status --limit 10
