#!/usr/bin/env bash
# The benchmarks of the brief's performance targets, from one command on a fresh Debian machine:
# install both ClickHouse servers if needed (18.16 from Debian, 26.9 from the chdb-core wheel),
# build `ingest` and the harness in release mode, then run every scenario on a private server of
# each version, side by side with the floor (pre-encoded Native rows), clickhouse-client and the
# server's own parse over HTTP (see BENCHMARKS.md).
#
#   scripts/bench.sh [--quick] [--servers 18.16,26.9] [--runs N] [--scenarios 1,2,3,4] [...]
#   scripts/bench.sh --help      (every flag, with the data sizes)
#   scripts/bench.sh --latency [--server 18.16|26.9] [--seconds 60 --files-per-second 20 ...]
#                                (`ingest watch`: seconds from a file's close or a line's append
#                                 until its rows are visible, idle CPU, parts per minute, against
#                                 a private server, 18.16 unless named; `--latency --help` for
#                                 its flags)
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
    server=18.16
    if [ "${1:-}" = "--server" ]; then
        server=$2
        shift 2
    fi
    cargo build --release --quiet --bin ingest --example latency
    port=${CH_HTTP_PORT:-18123}
    tcp=${CH_TCP_PORT:-19123}
    case "$server" in
        18.16)
            CH_HTTP_PORT=$port CH_TCP_PORT=$tcp scripts/clickhouse.sh start >&2
            trap 'CH_HTTP_PORT=$port scripts/clickhouse.sh stop >&2' EXIT
            ;;
        26.9)
            home=$(mktemp -d)
            mkdir -p "$home/data"
            cat >"$home/config.xml" <<XML
<clickhouse>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$port</http_port>
  <tcp_port>$tcp</tcp_port>
  <timezone>UTC</timezone>
</clickhouse>
XML
            .chdb/venv/bin/python scripts/chdb_server.py "$home" >"$home/server.log" 2>&1 &
            pid=$!
            trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$home"' EXIT
            for _ in $(seq 1 100); do
                curl -fs "http://127.0.0.1:$port/ping" >/dev/null 2>&1 && break
                sleep 0.2
            done
            ;;
        *) echo "--server is 18.16 or 26.9" >&2; exit 2 ;;
    esac
    target/release/examples/latency --url "http://127.0.0.1:$port" "$@"
    exit
fi
cargo build --release --quiet --bin ingest --example gen_reviews --example bench
exec target/release/examples/bench "$@"
