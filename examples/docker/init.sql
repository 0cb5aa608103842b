-- Run once by the ClickHouse image on first start: the table the demo ingests into.
CREATE TABLE IF NOT EXISTS analytics.reviews
(
    rating Float32,
    title String,
    text String,
    asin String,
    user_id String,
    timestamp UInt64,
    helpful_vote UInt32,
    verified_purchase UInt8
)
ENGINE = MergeTree
ORDER BY (asin, timestamp);
