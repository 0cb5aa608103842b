//! Integration tests against a real ClickHouse server (see `server.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod broken;
mod chaos;
mod cli;
mod data;
mod day2;
mod deploy;
mod exactly_once;
mod formats;
mod fuzz;
mod hostile;
mod infer;
mod inserts;
mod lifecycle;
mod modern_types;
mod one_pass;
mod ops;
mod policy;
mod safe_output;
mod server;
mod types;
mod util;
mod verify;
