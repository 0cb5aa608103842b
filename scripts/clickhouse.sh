#!/usr/bin/env bash
# A local ClickHouse for development: install the servers, start or stop one whose data lives in
# .clickhouse/ at the top of the repository.
#
#   scripts/clickhouse.sh install | start | stop | status
#
# `install` sets up both servers the tests use: ClickHouse 18.16 from Debian's clickhouse-server and
# clickhouse-client packages, and ClickHouse 26.9 from the chdb-core wheel in a virtualenv in
# .chdb/venv (served by scripts/chdb_server.py). `start` starts the 18.16 server.
#
# Ports come from CH_HTTP_PORT (default 8123) and CH_TCP_PORT (default 9000).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
home="$root/.clickhouse"
http_port=${CH_HTTP_PORT:-8123}
tcp_port=${CH_TCP_PORT:-9000}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packaged() {
    if command -v clickhouse-client >/dev/null 2>&1 && [ -x /usr/sbin/clickhouse-server ]; then
        return 0
    fi
    echo "installing clickhouse-server and clickhouse-client (Debian packages)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

chdb_version=26.9.0
install_chdb() {
    local venv="$root/.chdb/venv"
    if "$venv/bin/python" -c 'import chdb._chdb' >/dev/null 2>&1; then
        return 0
    fi
    echo "installing ClickHouse 26.9 (the chdb-core $chdb_version wheel) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "chdb-core==$chdb_version"
}

install() {
    install_packaged
    install_chdb
}

ready() {
    clickhouse-client --host 127.0.0.1 --port "$tcp_port" --query "SELECT 1" >/dev/null 2>&1
}

write_config() {
    mkdir -p "$home/data" "$home/tmp" "$home/log"
    cat >"$home/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$home/log/server.log</log><errorlog>$home/log/error.log</errorlog><size>100M</size><count>2</count></logger>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$home/data/</path>
  <tmp_path>$home/tmp/</tmp_path>
  <user_files_path>$home/data/user_files/</user_files_path>
  <format_schema_path>$home/data/format_schemas/</format_schema_path>
  <users_config>$home/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
XML
    cat >"$home/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

start() {
    install_packaged
    if ready; then
        echo "ClickHouse is already answering on port $tcp_port"
        return 0
    fi
    write_config
    nohup /usr/sbin/clickhouse-server --config-file="$home/config.xml" >"$home/log/stdout.log" 2>&1 &
    echo $! >"$home/server.pid"
    for _ in $(seq 1 300); do
        if ready; then
            echo "ClickHouse $(clickhouse-client --port "$tcp_port" -q 'SELECT version()') is up: http://127.0.0.1:$http_port"
            return 0
        fi
        sleep 0.2
    done
    echo "ClickHouse did not start; see $home/log/" >&2
    tail -20 "$home/log/stdout.log" >&2 || true
    exit 1
}

stop() {
    if [ -f "$home/server.pid" ]; then
        kill "$(cat "$home/server.pid")" 2>/dev/null || true
        rm -f "$home/server.pid"
        echo "stopped"
    else
        echo "no server started by this script"
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) if ready; then echo "up on port $tcp_port"; else echo "down"; exit 1; fi ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
