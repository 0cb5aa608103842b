#!/usr/bin/env bash
# The whole test suite: unit tests once, then the integration tests against each real ClickHouse
# server the tests start themselves — 18.16 (Debian's clickhouse-server) and 26.9 (the chdb-core
# wheel). `INGEST_TEST_SERVERS="26.9"` runs one only; extra arguments go to `cargo test` (and skip
# the second pass of the crash tests with `--jobs 2`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/clickhouse.sh install
# The deployment tests verify the systemd units, fake a terminal with `script` and check metrics
# and alert rules with promtool; the cluster tests need ZooKeeper and Java.
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v script >/dev/null 2>&1 || missing+=(util-linux)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# The watcher tests send signals with kill(1).
{ [ -x /bin/kill ] || [ -x /usr/bin/kill ]; } || missing+=(procps)
# The cluster tests start ZooKeeper (Debian's zookeeper package, which pulls in a JRE).
[ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo test --features failpoints --all-targets --no-run --quiet
cargo test --features failpoints --bins --examples "$@"
failed=()
for server in ${INGEST_TEST_SERVERS:-18.16 26.9}; do
    echo
    echo "=== integration tests on ClickHouse $server"
    if ! INGEST_TEST_SERVER=$server cargo test --features failpoints --test it "$@"; then
        failed+=("$server")
    fi
    # Every run above has one job; the crash, chaos and one-pass tests again with two.
    if [ $# -eq 0 ]; then
        echo
        echo "=== crash and chaos tests with --jobs 2 on ClickHouse $server"
        if ! INGEST_JOBS=2 INGEST_TEST_SERVER=$server cargo test --features failpoints --test it \
            -- exactly_once:: chaos:: one_pass:: append::; then
            failed+=("$server (--jobs 2)")
        fi
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "integration tests failed on ClickHouse ${failed[*]}" >&2
    exit 1
fi
echo "all tests passed on ClickHouse ${INGEST_TEST_SERVERS:-18.16 26.9}"
