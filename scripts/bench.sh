#!/usr/bin/env bash
# The benchmarks of the brief's performance targets, from one command on a fresh Debian machine:
# install ClickHouse if needed, build `ingest` and the harness in release mode, then run every
# scenario against a private server side by side with clickhouse-client (see BENCHMARKS.md).
#
#   scripts/bench.sh [--quick] [--runs N] [--scenarios 1,2,3,4] [--data-dir DIR] [...]
#   scripts/bench.sh --help      (every flag, with the data sizes)
#
# The report is Markdown on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust from https://rustup.rs first" >&2
    exit 1
fi
scripts/clickhouse.sh install
cargo build --release --quiet --bin ingest --example gen_reviews --example bench
exec target/release/examples/bench "$@"
