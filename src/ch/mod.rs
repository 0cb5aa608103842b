//! The one door to ClickHouse: the connection (to one server, or to any of several replicas, with
//! failover), what the server can do, errors sorted by whether a retry can help, jittered
//! exponential backoff around every request, and every statement the tool sends. SQL text is
//! written only in this module's files; the rest of the program asks for an operation.

mod caps;
pub mod cluster;
pub mod ddl;
mod error;
pub mod ident;
pub mod insert;
pub mod manifest;
mod provenance;
pub mod rejects;
mod replicas;
pub mod runs;
pub mod schema;
mod sql;
pub mod status;
pub mod types;

pub use caps::Caps;
pub use error::{ChError, Retryable};
pub use replicas::Fence;
pub use sql::{Arg, Sql};

use caps::{OPTIONAL_MERGE_TREE_SETTINGS, OPTIONAL_SETTINGS};
use chrono_tz::Tz;
use clickhouse::Client;
use log::Level;
use replicas::Replicas;
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How to reach the server and how patient to be with it.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// One server, or replicas of one cluster: requests go to the first that answers, and move
    /// on to the next when it becomes unreachable.
    pub urls: Vec<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub query_timeout: Duration,
    pub insert_timeout: Duration,
    /// LZ4-compress requests and responses (worth it across a network).
    pub compress: bool,
    pub retry: RetryPolicy,
    /// The cluster (`remote_servers`) the tool's DDL reaches with `ON CLUSTER`, if any.
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0-based): exponential, capped, with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        exp.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Probe {
    version: String,
    timezone: String,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct SettingName {
    name: String,
}

/// A connected server (or set of replicas). Cheap to clone.
#[derive(Clone)]
pub struct Server {
    replicas: Replicas,
    pub caps: Arc<Caps>,
    opts: Arc<ConnectOptions>,
    /// Set while this process may write (see [`Fence`]); checked before every write.
    fence: Option<Fence>,
}

fn client_for(url: &str, opts: &ConnectOptions) -> Client {
    let mut client = Client::default()
        .with_url(url.to_owned())
        .with_validation(false)
        .with_compression(match opts.compress {
            true => clickhouse::Compression::Lz4,
            false => clickhouse::Compression::None,
        })
        .with_product_info("ingest", env!("CARGO_PKG_VERSION"));
    if let Some(user) = &opts.user {
        client = client.with_user(user.clone());
    }
    if let Some(password) = &opts.password {
        client = client.with_password(password.clone());
    }
    client
}

impl Server {
    /// Connects (to the first of the URLs that answers) and learns the server's version, time
    /// zone and optional settings. Replicas are taken to run one version.
    pub async fn connect(opts: ConnectOptions) -> Result<Server, ChError> {
        let replicas = Replicas::new(
            opts.urls
                .iter()
                .map(|url| (client_for(url, &opts), display_url(url)))
                .collect(),
        );
        let mut server = Server {
            replicas,
            caps: Arc::new(Caps::unknown()),
            opts: Arc::new(opts),
            fence: None,
        };
        let probe: Probe = server
            .fetch_one(
                "probe server",
                &Sql::new("SELECT version() AS version, timezone() AS timezone"),
            )
            .await?;
        let names: Vec<SettingName> = server
            .fetch_all(
                "list server settings",
                &Sql::new("SELECT name FROM system.settings WHERE name IN ?")
                    .arg(strings(OPTIONAL_SETTINGS)),
            )
            .await?;
        let tree_settings: Vec<SettingName> = server
            .fetch_all(
                "list table settings",
                &Sql::new("SELECT name FROM system.merge_tree_settings WHERE name IN ?")
                    .arg(strings(OPTIONAL_MERGE_TREE_SETTINGS)),
            )
            .await?;
        let timezone = probe.timezone.parse().unwrap_or_else(|_| {
            log::warn!(
                "server time zone `{}` is unknown here; reading local times as UTC",
                probe.timezone
            );
            Tz::UTC
        });
        server.caps = Arc::new(Caps::new(
            probe.version,
            timezone,
            names.into_iter().map(|s| s.name).collect(),
            tree_settings.into_iter().map(|s| s.name).collect(),
        ));
        log::debug!(
            "connected to ClickHouse {} at {} (time zone {})",
            server.caps.version,
            server.display_url(),
            server.caps.timezone
        );
        Ok(server)
    }

    /// The same server, writing only while `fence` says this process may.
    pub fn with_fence(mut self, fence: Fence) -> Server {
        self.fence = Some(fence);
        self
    }

    /// An error if this process may no longer write (it lost its cluster lock).
    pub fn check_fence(&self) -> Result<(), ChError> {
        self.fence.as_ref().map_or(Ok(()), Fence::check)
    }

    /// The address of the server requests go to now, as it may be shown (scheme, host and port).
    pub fn display_url(&self) -> Arc<str> {
        self.replicas.current().1.display_url.clone()
    }

    /// The cluster the tool's DDL runs on, as an `ON CLUSTER` clause (empty without one).
    pub fn on_cluster(&self) -> String {
        match &self.opts.cluster {
            Some(c) => format!(" ON CLUSTER {}", ident::quote(c)),
            None => String::new(),
        }
    }

    pub fn cluster(&self) -> Option<&str> {
        self.opts.cluster.as_deref()
    }

    pub fn insert_timeout(&self) -> Duration {
        self.opts.insert_timeout
    }

    /// Sorts an error of a data insert; an unreachable server hands requests to the next one.
    pub fn classify(&self, err: clickhouse::error::Error) -> ChError {
        let (at, replica) = self.replicas.current();
        let e = match ChError::classify(err, &replica.display_url) {
            ChError::Timeout(_) => ChError::Timeout(self.opts.insert_timeout),
            other => other,
        };
        self.replicas.fail_over_if(&e, at);
        e
    }

    /// Runs `op` until it succeeds, fails for good, or retries run out, with jittered
    /// exponential backoff between attempts; `op` is told which attempt it is (0 first). Retries
    /// are logged at `level`.
    pub async fn retry<T, E, F, Fut>(
        &self,
        what: &str,
        level: log::Level,
        mut op: F,
    ) -> Result<T, E>
    where
        E: Retryable,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let policy = self.opts.retry;
        let mut attempt = 0;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && attempt < policy.retries => {
                    let delay = policy.delay(attempt);
                    log::log!(level, "{what}: {e}; retrying in {delay:.1?}");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for a request to replica `at` within the query timeout; an unreachable replica
    /// hands the next requests to the next one.
    async fn timed<T>(
        &self,
        at: usize,
        fut: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, ChError> {
        let e = match tokio::time::timeout(self.opts.query_timeout, fut).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => ChError::classify(e, &self.replicas.get(at).display_url),
            Err(_) => ChError::Timeout(self.opts.query_timeout),
        };
        self.replicas.fail_over_if(&e, at);
        Err(e)
    }

    /// A query for the replica requests go to now, and which one that is.
    fn query(&self, sql: &Sql) -> (usize, clickhouse::query::Query) {
        let (at, replica) = self.replicas.current();
        (at, sql.build(&replica.client, self.caps.query_parameters()))
    }

    /// Runs a statement that returns nothing, with retries.
    pub async fn execute(&self, what: &str, sql: &Sql) -> Result<(), ChError> {
        self.retry(what, Level::Info, |_| {
            let (at, q) = self.query(sql);
            self.timed(at, q.execute())
        })
        .await
    }

    pub async fn fetch_all<T>(&self, what: &str, sql: &Sql) -> Result<Vec<T>, ChError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.retry(what, Level::Info, |_| {
            let (at, q) = self.query(sql);
            self.timed(at, q.fetch_all::<T>())
        })
        .await
    }

    pub async fn fetch_one<T>(&self, what: &str, sql: &Sql) -> Result<T, ChError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.retry(what, Level::Info, |_| {
            let (at, q) = self.query(sql);
            self.timed(at, q.fetch_one::<T>())
        })
        .await
    }

    /// Streams the rows of a query into a value made by `init`, one row at a time, so a large
    /// result is never held whole; a retry starts again from `init`.
    pub async fn fold<T, S>(
        &self,
        what: &str,
        sql: &Sql,
        init: impl Fn() -> S,
        add: impl FnMut(&mut S, T),
    ) -> Result<S, ChError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        let add = std::cell::RefCell::new(add);
        let add = &add;
        self.retry(what, Level::Info, |_| {
            let mut acc = init();
            async move {
                let (at, q) = self.query(sql);
                let mut rows = match q.fetch::<T>() {
                    Ok(rows) => rows,
                    Err(e) => return self.timed(at, async { Err(e) }).await,
                };
                while let Some(row) = self.timed(at, rows.next()).await? {
                    (add.borrow_mut())(&mut acc, row);
                }
                Ok(acc)
            }
        })
        .await
    }

    /// Appends rows to one of the tool's own tables in one insert, with retries. An acknowledged
    /// insert is written (never queued as an asynchronous insert).
    pub async fn insert_rows<T>(
        &self,
        what: &str,
        table: &ident::TableRef,
        rows: &[T],
    ) -> Result<(), ChError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        self.check_fence()?;
        let table = table.sql();
        self.retry(what, Level::Info, |_| async {
            let (at, replica) = self.replicas.current();
            let mut insert = self
                .timed(at, replica.client.insert_unescaped::<T>(&table))
                .await?;
            if self.caps.has_setting("async_insert") {
                insert = insert.with_setting("async_insert", "0");
            }
            for row in rows {
                self.timed(at, insert.write(row)).await?;
            }
            self.timed(at, insert.end()).await
        })
        .await
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The URL as it may be shown: scheme, host and port only.
pub fn display_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let d = p.delay(attempt);
            let cap = Duration::from_millis(100 * 2u64.pow(attempt.min(4))).min(p.max_delay);
            assert!(d <= cap && d >= cap / 2, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn urls_are_shown_without_credentials_or_paths() {
        assert_eq!(
            display_url("https://u:p@ch.example.com:8443/db?x=1"),
            "https://ch.example.com:8443"
        );
        assert_eq!(
            display_url("http://localhost:8123"),
            "http://localhost:8123"
        );
    }
}
