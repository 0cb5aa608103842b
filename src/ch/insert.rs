//! The INSERT that carries a file's rows: `Native` blocks streamed over HTTP under a deterministic
//! query id, never queued as an asynchronous insert, with the deduplication each server version
//! allows, and the insert settings a user asked for — except those the guarantees depend on.

use super::ident::TableRef;
use super::{ChError, Server, Sql};
use clickhouse::insert_formatted::InsertFormatted;
use serde::Deserialize;

/// Settings the exactly-once design depends on; a user may not set them.
pub const PROTECTED_SETTINGS: &[(&str, &str)] = &[
    (
        "async_insert",
        "an acknowledged insert must be written, not queued",
    ),
    (
        "wait_for_async_insert",
        "an acknowledged insert must be written, not queued",
    ),
    (
        "async_insert_deduplicate",
        "the tool decides how each insert is deduplicated",
    ),
    (
        "insert_deduplicate",
        "the tool decides how each insert is deduplicated",
    ),
    (
        "deduplicate_insert",
        "the tool decides how each insert is deduplicated",
    ),
    (
        "insert_deduplication_token",
        "each insert's token names its exact content",
    ),
    ("query_id", "each insert's id names its exact content"),
    (
        "max_insert_block_size",
        "a batch must stay one block, inserted whole or not at all",
    ),
    (
        "input_format_native_allow_types_conversion",
        "rows are encoded for the column types",
    ),
];

/// Why a setting cannot be overridden, if it cannot.
pub fn protected(name: &str) -> Option<&'static str> {
    PROTECTED_SETTINGS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, why)| *why)
}

/// How the server may deduplicate an insert.
#[derive(Debug, Clone, PartialEq)]
pub enum Dedup {
    /// The insert's content is named by this token: a repeat of it is dropped (on servers that
    /// take tokens; elsewhere the server's own block checksums apply).
    Token(String),
    /// The insert must land even if an identical one landed before (rows without provenance can
    /// repeat across files, and a forgotten file's rows are sent again).
    Off,
}

/// One data insert.
#[derive(Debug)]
pub struct InsertSpec<'a> {
    pub table: &'a TableRef,
    /// The `(col, …)` list, quoted.
    pub columns: &'a str,
    pub query_id: &'a str,
    pub dedup: Dedup,
    /// Settings the user asked for, already checked against [`PROTECTED_SETTINGS`].
    pub settings: &'a [(String, String)],
}

#[derive(clickhouse::Row, Deserialize)]
struct SettingName {
    name: String,
}

impl Server {
    /// Starts an insert; rows are sent with `send` and it is acknowledged by `end`.
    pub fn start_insert(&self, spec: &InsertSpec) -> InsertFormatted {
        let sql = format!(
            "INSERT INTO {} {} FORMAT Native",
            spec.table.sql(),
            spec.columns
        );
        let timeout = Some(self.insert_timeout());
        let mut insert = self
            .replicas
            .current()
            .1
            .client
            .insert_formatted_with(sql)
            .with_timeouts(timeout, timeout)
            .with_setting("query_id", spec.query_id);
        for (name, value) in spec.settings {
            insert = insert.with_setting(name.clone(), value.clone());
        }
        for (name, value) in self.insert_guards(&spec.dedup) {
            insert = insert.with_setting(name, value);
        }
        insert
    }

    /// The settings every data insert carries on this server.
    fn insert_guards(&self, dedup: &Dedup) -> Vec<(&'static str, String)> {
        let caps = &self.caps;
        let mut out = Vec::new();
        if caps.has_setting("async_insert") {
            out.push(("async_insert", "0".to_owned()));
        }
        // JSON object columns travel as String for the server to convert (see `native`).
        if caps.has_setting("input_format_native_allow_types_conversion") {
            out.push(("input_format_native_allow_types_conversion", "1".to_owned()));
        }
        let on = matches!(dedup, Dedup::Token(_));
        if caps.has_setting("deduplicate_insert") {
            let mode = if on { "enable" } else { "disable" };
            out.push(("deduplicate_insert", mode.to_owned()));
        }
        if caps.has_setting("insert_deduplicate") {
            out.push(("insert_deduplicate", u8::from(on).to_string()));
        }
        if let Dedup::Token(token) = dedup
            && caps.has_deduplication_token()
        {
            out.push(("insert_deduplication_token", token.clone()));
        }
        out
    }

    /// Of `names`, those the server does not know as settings.
    pub async fn unknown_settings(&self, names: &[String]) -> Result<Vec<String>, ChError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = Sql::new("SELECT name FROM system.settings WHERE name IN ?").arg(names.to_vec());
        let known: Vec<SettingName> = self.fetch_all("check insert settings", &sql).await?;
        Ok(names
            .iter()
            .filter(|n| !known.iter().any(|k| &k.name == *n))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guarantees_settings_are_protected_whatever_their_case() {
        assert!(protected("async_insert").is_some());
        assert!(protected("Insert_Deduplication_Token").is_some());
        assert!(protected("insert_quorum").is_none());
    }
}
