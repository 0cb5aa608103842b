//! The ClickHouse URLs a user gives: checked before anything is sent, so that credentials never
//! travel in a URL or in clear to another machine.

use crate::exit::Fatal;

/// Accepts `http(s)://host[:port][/]`; refuses credentials in the URL and plain HTTP to another
/// machine unless explicitly allowed. Says whether the server is on this machine.
pub(super) fn check_url(url: &str, allow_insecure: bool) -> Result<bool, Fatal> {
    let bad = |why: &str| Fatal::config(format!("--url {}: {why}", crate::ch::display_url(url)));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected http://host:port or https://host:port"))?;
    if scheme != "http" && scheme != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad(
            "credentials do not belong in the URL; use --user and CLICKHOUSE_PASSWORD",
        ));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let loopback = is_loopback(host);
    if scheme == "http" && !loopback && !allow_insecure {
        return Err(bad(
            "plain HTTP to another machine sends credentials in clear; use https:// or pass --allow-insecure-http",
        ));
    }
    Ok(loopback)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("http://localhost:8123", false).is_ok());
        assert!(check_url("http://127.0.0.1:8123/", false).is_ok());
        assert!(check_url("http://[::1]:8123", false).is_ok());
        assert!(check_url("https://ch.example.com:8443", false).is_ok());
        assert!(check_url("http://ch.example.com:8123", true).is_ok());
        let err = check_url("http://ch.example.com:8123", false).unwrap_err();
        assert!(err.to_string().contains("plain HTTP"), "{err}");
        let err = check_url("http://user:secret@localhost:8123", false).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(check_url("ftp://x", false).is_err());
        assert!(check_url("localhost:8123", false).is_err());
    }
}
