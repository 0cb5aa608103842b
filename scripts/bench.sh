#!/usr/bin/env bash
# The benchmarks of the brief's performance targets, from one command on a fresh Debian machine:
# install both ClickHouse servers if needed (18.16 from Debian, 26.9 from the chdb-core wheel),
# build `ingest` and the harness in release mode, then run every scenario on a private server of
# each version, side by side with the floor (pre-encoded Native rows), clickhouse-client and the
# server's own parse over HTTP (see BENCHMARKS.md).
#
#   scripts/bench.sh [--quick] [--servers 18.16,26.9] [--runs N] [--scenarios 1,2,3,4] [...]
#   scripts/bench.sh --help      (every flag, with the data sizes)
#   scripts/bench.sh --latency [--seconds 60 --files-per-second 20 ...]
#                                (`ingest watch`: seconds from a file's close or a line's append
#                                 until its rows are visible, idle CPU, parts per minute, against
#                                 a private 18.16 server; `--latency --help` for its flags)
#
# The report is Markdown on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust from https://rustup.rs first" >&2
    exit 1
fi
scripts/clickhouse.sh install
# The server's own parse and the floor are posted with curl.
if ! command -v curl >/dev/null 2>&1; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi
if [ "${1:-}" = "--latency" ]; then
    shift
    cargo build --release --quiet --bin ingest --example latency
    port=${CH_HTTP_PORT:-18123}
    CH_HTTP_PORT=$port CH_TCP_PORT=${CH_TCP_PORT:-19123} scripts/clickhouse.sh start >&2
    trap 'CH_HTTP_PORT=$port scripts/clickhouse.sh stop >&2' EXIT
    target/release/examples/latency --url "http://127.0.0.1:$port" "$@"
    exit
fi
cargo build --release --quiet --bin ingest --example gen_reviews --example bench
exec target/release/examples/bench "$@"
