//! Integration tests against a real ClickHouse server (see `server.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod append;
mod architecture;
mod basics;
mod broken;
mod chaos;
mod cli;
mod cluster;
mod cluster_harness;
mod cluster_hosts;
mod cluster_shards;
mod corpus;
mod data;
mod day2;
mod deploy;
mod dialects;
mod exactly_once;
mod formats;
mod fuzz;
mod hostile;
mod infer;
mod inserts;
mod jobs;
mod lifecycle;
mod modern_types;
mod one_pass;
mod ops;
mod parquet_columns;
mod policy;
mod safe_output;
mod server;
mod types;
mod util;
mod verify;
mod watch;
