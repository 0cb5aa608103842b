//! Integration tests against a real ClickHouse server (see `server.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod broken;
mod cli;
mod data;
mod formats;
mod infer;
mod server;
mod types;
mod util;
