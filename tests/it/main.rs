//! Integration tests against a real ClickHouse server (see `server.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod chaos;
mod cli;
mod deploy;
mod exactly_once;
mod lifecycle;
mod ops;
mod policy;
mod server;
mod util;
