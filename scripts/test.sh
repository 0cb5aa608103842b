#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against a real ClickHouse server that
# the tests start themselves (or the one named by INGEST_TEST_CLICKHOUSE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/clickhouse.sh install
# The deployment tests verify the systemd units and fake a terminal with `script`.
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v script >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo test --features failpoints --all-targets "$@"
