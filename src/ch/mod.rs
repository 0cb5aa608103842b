//! The connection to ClickHouse: what the server can do, errors sorted by whether a retry can help,
//! and jittered exponential backoff around every request.

pub mod ddl;
pub mod ident;
pub mod schema;
pub mod types;

use chrono_tz::Tz;
use clickhouse::Client;
use clickhouse::query::Query;
use serde::Deserialize;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How to reach the server and how patient to be with it.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub query_timeout: Duration,
    pub insert_timeout: Duration,
    /// LZ4-compress requests and responses (worth it across a network).
    pub compress: bool,
    pub retry: RetryPolicy,
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

#[derive(Debug, thiserror::Error)]
pub enum ChError {
    #[error("ClickHouse is unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("ClickHouse did not answer within {0:?}")]
    Timeout(Duration),
    #[error("ClickHouse refused the login: {0}")]
    Auth(String),
    #[error("ClickHouse error {code}: {message}")]
    Server { code: u32, message: String },
    #[error("ClickHouse client error: {0}")]
    Client(String),
}

/// Server error codes that describe the server's state rather than the request's content.
const TRANSIENT_CODES: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    160, // TOO_SLOW
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    216, // QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    285, // TOO_FEW_LIVE_REPLICAS
    286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

const AUTH_CODES: &[u32] = &[192, 193, 194, 195, 516];

impl ChError {
    /// Whether trying again later can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ChError::Unreachable { .. } | ChError::Timeout(_) => true,
            ChError::Server { code, .. } => TRANSIENT_CODES.contains(code),
            ChError::Auth(_) | ChError::Client(_) => false,
        }
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self, ChError::Unreachable { .. } | ChError::Timeout(_))
    }

    pub fn code(&self) -> Option<u32> {
        match self {
            ChError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn classify(err: clickhouse::error::Error, url: &str) -> ChError {
        use clickhouse::error::Error as E;
        match err {
            E::Network(source) => ChError::Unreachable {
                url: url.to_owned(),
                reason: error_chain(&*source),
            },
            E::TimedOut => ChError::Timeout(Duration::ZERO),
            E::BadResponse(text) => match parse_code(&text) {
                Some(code) if AUTH_CODES.contains(&code) => ChError::Auth(clean_message(&text)),
                Some(code) => ChError::Server {
                    code,
                    message: clean_message(&text),
                },
                // A proxy or load balancer answered instead of ClickHouse.
                None => ChError::Unreachable {
                    url: url.to_owned(),
                    reason: clean_message(&text),
                },
            },
            other => ChError::Client(other.to_string()),
        }
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// The server's error code from either the 18.x (`Code: 60, e.displayText() = …`) or the
/// current (`Code: 60. DB::Exception: …`) message layout.
fn parse_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + 6..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// The human part of a server error message, on one line.
fn clean_message(text: &str) -> String {
    let mut msg = text;
    if let Some(i) = msg.find("DB::Exception: ") {
        msg = &msg[i + 15..];
    }
    if let Some(i) = msg.find(", e.what() = ") {
        msg = &msg[..i];
    }
    if let Some(i) = msg.find(" (version ") {
        msg = &msg[..i];
    }
    let line = msg.lines().next().unwrap_or("").trim();
    crate::value::shorten(line, 500)
}

/// What the connected server is and which optional settings it knows.
#[derive(Debug, Clone)]
pub struct Caps {
    pub version: String,
    version_parts: (u32, u32),
    pub timezone: Tz,
    settings: HashSet<String>,
    merge_tree_settings: HashSet<String>,
}

impl Caps {
    pub fn has_setting(&self, name: &str) -> bool {
        self.settings.contains(name)
    }

    pub fn has_merge_tree_setting(&self, name: &str) -> bool {
        self.merge_tree_settings.contains(name)
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version_parts >= (major, minor)
    }
}

/// Settings that only some server versions know; each is used only where it exists.
const OPTIONAL_SETTINGS: &[&str] = &[
    "async_insert",
    "insert_deduplication_token",
    "insert_deduplicate",
];

/// Table settings that only some server versions know.
const OPTIONAL_MERGE_TREE_SETTINGS: &[&str] = &["non_replicated_deduplication_window"];

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Probe {
    version: String,
    timezone: String,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct SettingName {
    name: String,
}

/// A connected server. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    client: Client,
    pub caps: Arc<Caps>,
    opts: Arc<ConnectOptions>,
    display_url: Arc<str>,
}

impl Server {
    /// Connects and learns the server's version, time zone and optional settings.
    pub async fn connect(opts: ConnectOptions) -> Result<Server, ChError> {
        let mut client = Client::default()
            .with_url(opts.url.clone())
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
        let display_url: Arc<str> = display_url(&opts.url).into();
        let mut server = Server {
            client,
            caps: Arc::new(Caps {
                version: String::new(),
                version_parts: (0, 0),
                timezone: Tz::UTC,
                settings: HashSet::new(),
                merge_tree_settings: HashSet::new(),
            }),
            opts: Arc::new(opts),
            display_url,
        };
        let probe: Probe = server
            .fetch_one("probe server", |c| {
                c.query("SELECT version() AS version, timezone() AS timezone")
            })
            .await?;
        let names: Vec<SettingName> = server
            .fetch_all("list server settings", |c| {
                c.query("SELECT name FROM system.settings WHERE has(?, name)")
                    .bind(OPTIONAL_SETTINGS)
            })
            .await?;
        let tree_settings: Vec<SettingName> = server
            .fetch_all("list table settings", |c| {
                c.query("SELECT name FROM system.merge_tree_settings WHERE has(?, name)")
                    .bind(OPTIONAL_MERGE_TREE_SETTINGS)
            })
            .await?;
        let timezone = probe.timezone.parse().unwrap_or_else(|_| {
            log::warn!(
                "server time zone `{}` is unknown here; reading local times as UTC",
                probe.timezone
            );
            Tz::UTC
        });
        server.caps = Arc::new(Caps {
            version_parts: parse_version(&probe.version),
            version: probe.version,
            timezone,
            settings: names.into_iter().map(|s| s.name).collect(),
            merge_tree_settings: tree_settings.into_iter().map(|s| s.name).collect(),
        });
        log::debug!(
            "connected to ClickHouse {} at {} (time zone {})",
            server.caps.version,
            server.display_url,
            server.caps.timezone
        );
        Ok(server)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    pub fn insert_timeout(&self) -> Duration {
        self.opts.insert_timeout
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.opts.retry
    }

    pub fn classify(&self, err: clickhouse::error::Error) -> ChError {
        match ChError::classify(err, &self.display_url) {
            ChError::Timeout(_) => ChError::Timeout(self.opts.insert_timeout),
            other => other,
        }
    }

    /// Runs `op` until it succeeds, fails for good, or retries run out.
    pub async fn retry<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, ChError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ChError>>,
    {
        let policy = self.opts.retry;
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && attempt < policy.retries => {
                    let delay = policy.delay(attempt);
                    log::info!("{what}: {e}; retrying in {delay:.1?}");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn timed<T>(
        &self,
        fut: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, ChError> {
        match tokio::time::timeout(self.opts.query_timeout, fut).await {
            Ok(r) => r.map_err(|e| self.classify(e)),
            Err(_) => Err(ChError::Timeout(self.opts.query_timeout)),
        }
    }

    /// Runs a statement that returns nothing, with retries.
    pub async fn execute(
        &self,
        what: &str,
        build: impl Fn(&Client) -> Query,
    ) -> Result<(), ChError> {
        self.retry(what, || self.timed(build(&self.client).execute()))
            .await
    }

    pub async fn fetch_all<T>(
        &self,
        what: &str,
        build: impl Fn(&Client) -> Query,
    ) -> Result<Vec<T>, ChError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.retry(what, || self.timed(build(&self.client).fetch_all::<T>()))
            .await
    }

    pub async fn fetch_one<T>(
        &self,
        what: &str,
        build: impl Fn(&Client) -> Query,
    ) -> Result<T, ChError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.retry(what, || self.timed(build(&self.client).fetch_one::<T>()))
            .await
    }
}

fn parse_version(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
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
    fn error_codes_parse_in_both_layouts() {
        let old = "Code: 193, e.displayText() = DB::Exception: Wrong password for user x, e.what() = DB::Exception";
        assert_eq!(parse_code(old), Some(193));
        assert_eq!(clean_message(old), "Wrong password for user x");
        let new = "Code: 60. DB::Exception: Table d.t does not exist. (UNKNOWN_TABLE) (version 24.3.1.1)\n";
        assert_eq!(parse_code(new), Some(60));
        assert_eq!(
            clean_message(new),
            "Table d.t does not exist. (UNKNOWN_TABLE)"
        );
        assert_eq!(parse_code("502 Bad Gateway"), None);
    }

    #[test]
    fn transient_errors_are_told_apart() {
        let server = |code| ChError::Server {
            code,
            message: String::new(),
        };
        assert!(server(252).is_transient());
        assert!(!server(27).is_transient());
        assert!(!ChError::Auth(String::new()).is_transient());
        assert!(
            ChError::Unreachable {
                url: String::new(),
                reason: String::new()
            }
            .is_transient()
        );
    }

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
