//! What the connected server is and can do, learned once at connection: its version, time zone
//! and the optional settings it knows. Every difference between server versions is decided here.

use chrono_tz::Tz;
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub struct Caps {
    pub version: String,
    version_parts: (u32, u32),
    pub timezone: Tz,
    settings: HashSet<String>,
    merge_tree_settings: HashSet<String>,
}

/// Settings that only some server versions know; each is used only where it exists.
pub(super) const OPTIONAL_SETTINGS: &[&str] = &[
    "async_insert",
    "insert_deduplication_token",
    "insert_deduplicate",
    "deduplicate_insert",
    "mutations_sync",
    "input_format_native_allow_types_conversion",
];

/// Table settings that only some server versions know.
pub(super) const OPTIONAL_MERGE_TREE_SETTINGS: &[&str] = &["non_replicated_deduplication_window"];

impl Caps {
    pub(super) fn new(
        version: String,
        timezone: Tz,
        settings: HashSet<String>,
        merge_tree_settings: HashSet<String>,
    ) -> Caps {
        Caps {
            version_parts: parse_version(&version),
            version,
            timezone,
            settings,
            merge_tree_settings,
        }
    }

    /// Before the first answer: assume the oldest server.
    pub(super) fn unknown() -> Caps {
        Caps::new(String::new(), Tz::UTC, HashSet::new(), HashSet::new())
    }

    pub fn has_setting(&self, name: &str) -> bool {
        self.settings.contains(name)
    }

    pub fn has_merge_tree_setting(&self, name: &str) -> bool {
        self.merge_tree_settings.contains(name)
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version_parts >= (major, minor)
    }

    /// Query parameters (`{name:Type}` with `param_name`), which 18.16 lacks.
    pub fn query_parameters(&self) -> bool {
        self.at_least(19, 11)
    }

    /// `Bool` columns, which 18.16 lacks (booleans go into `UInt8` there).
    pub fn has_bool(&self) -> bool {
        self.at_least(21, 12)
    }

    /// `DateTime64` columns.
    pub fn has_datetime64(&self) -> bool {
        self.at_least(20, 1)
    }

    /// `Date32` columns.
    pub fn has_date32(&self) -> bool {
        self.at_least(21, 9)
    }

    /// A large file's rows cost less in inserts of up to `--insert-rows` that the server sorts
    /// itself than in inserts sorted here and cut at the 32 MiB sort budget, which make many
    /// parts to merge: on 26.9 the 8,000,000-row CSV file took 16–17 s against 23–26 s, with
    /// less CPU on both sides (BENCHMARKS.md). 18.16 is the other way round: it sorts a large
    /// insert on one thread after its last byte (32–36 s against 25–27 s). Only those two were
    /// measured; releases before 20.1 are taken to behave as 18.16.
    pub fn whole_inserts(&self) -> bool {
        self.at_least(20, 1)
    }

    /// Each insert may carry a deduplication token of its own.
    pub fn has_deduplication_token(&self) -> bool {
        self.has_setting("insert_deduplication_token")
    }
}

fn parse_version(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_major_and_minor() {
        let caps = |v: &str| Caps::new(v.into(), Tz::UTC, HashSet::new(), HashSet::new());
        assert!(!caps("18.16.1").query_parameters());
        assert!(caps("26.9.2.1").query_parameters());
        assert!(caps("22.1.3").has_bool());
        assert!(!caps("21.11").has_bool());
        assert!(!caps("").at_least(1, 0));
        assert!(caps("26.9.2.1").whole_inserts());
        assert!(!caps("18.16.1").whole_inserts());
    }
}
