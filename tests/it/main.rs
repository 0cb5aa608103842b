//! Integration tests against a real ClickHouse server (see `server.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod cli;
mod deploy;
mod ops;
mod server;
mod util;
