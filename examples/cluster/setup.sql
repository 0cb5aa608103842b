-- The target tables on every server of cluster `c`: rows replicated within each shard, and a
-- Distributed table over both shards that `ingest` reads through (and writes into the local
-- table of the replica it is connected to).
CREATE DATABASE IF NOT EXISTS analytics ON CLUSTER c;

CREATE TABLE IF NOT EXISTS analytics.reviews_local ON CLUSTER c
(
    rating Float32, title String, text String, asin String, user_id String,
    timestamp UInt64, helpful_vote UInt32, verified_purchase UInt8,
    _ingest_file UInt64, _ingest_row UInt64
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/analytics/reviews_local', '{replica}')
ORDER BY (asin, timestamp);

CREATE TABLE IF NOT EXISTS analytics.reviews ON CLUSTER c AS analytics.reviews_local
ENGINE = Distributed(c, analytics, reviews_local, cityHash64(asin));
