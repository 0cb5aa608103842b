"""A ClickHouse server from the engine in the `chdb-core` wheel, for tests and benchmarks.

Usage: chdb_server.py DIR

DIR holds a config.xml (`<clickhouse>` with listen_host, http_port, tcp_port, ...); the data goes to
DIR/data. The HTTP and native TCP listeners live as long as the query that keeps them open, that is
until the process gets SIGTERM or SIGINT.
"""

import os
import sys

# The engine reads ./config.xml when it starts; it must be loaded before the directory changes.
import chdb._chdb as engine

KEEP_OPEN = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    "SELECT sleep(1) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null"
)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    home = os.path.abspath(sys.argv[1])
    os.chdir(home)
    engine.query(KEEP_OPEN, "TabSeparated", path=os.path.join(home, "data"))


if __name__ == "__main__":
    main()
