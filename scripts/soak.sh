#!/usr/bin/env bash
# The chaos test for a long time: many rounds of SIGKILLed runs, server restarts and overlapping
# runs while files arrive, then a check that every record is in ClickHouse exactly once.
#
#   scripts/soak.sh [ROUNDS] [SEED]      (defaults: 300 rounds, a seed from the clock)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/clickhouse.sh install
export INGEST_CHAOS_ROUNDS=${1:-300}
export INGEST_CHAOS_SEED=${2:-$(date +%s)}
echo "soak: $INGEST_CHAOS_ROUNDS rounds, seed $INGEST_CHAOS_SEED"
cargo test --release --features failpoints --test it chaos -- --nocapture
