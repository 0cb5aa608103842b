//! Errors from ClickHouse sorted by what to do about them: retry later (the server or the network),
//! fix the setup (credentials, a missing table), or give up on the request (the data).

use std::time::Duration;

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
    /// The cluster lock may be lost: nothing more is written (another host may hold it now).
    #[error(
        "{0} may be lost (the coordination session was interrupted); stopping before anything more is written"
    )]
    Fenced(String),
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
    234, // NO_REPLICA_HAS_PART
    285, // TOO_FEW_LIVE_REPLICAS
    286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    289, // REPLICA_IS_NOT_IN_QUORUM
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

const AUTH_CODES: &[u32] = &[192, 193, 194, 195, 516];

/// An error that may pass if the same thing is tried again later.
pub trait Retryable: std::fmt::Display {
    fn is_transient(&self) -> bool;
}

impl Retryable for ChError {
    fn is_transient(&self) -> bool {
        ChError::is_transient(self)
    }
}

impl ChError {
    /// Whether trying again later can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ChError::Unreachable { .. } | ChError::Timeout(_) => true,
            ChError::Server { code, .. } => TRANSIENT_CODES.contains(code),
            ChError::Auth(_) | ChError::Client(_) | ChError::Fenced(_) => false,
        }
    }

    /// Whether the server could not be reached (or the run may not reach it any more): the run
    /// stops, and the next one continues.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ChError::Unreachable { .. } | ChError::Timeout(_) | ChError::Fenced(_)
        )
    }

    pub fn code(&self) -> Option<u32> {
        match self {
            ChError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(super) fn classify(err: clickhouse::error::Error, url: &str) -> ChError {
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
}
