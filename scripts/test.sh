#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against a real ClickHouse server that
# the tests start themselves (or the one named by INGEST_TEST_CLICKHOUSE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/clickhouse.sh install
cargo test --features failpoints --all-targets "$@"
