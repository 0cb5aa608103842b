//! The manifest's vocabulary: what can happen to a file (`event`), why a file failed
//! (`error_kind`), and what an event says about the file — each stored as the text operators read
//! with plain SQL, typed everywhere else.

/// What happened to a file. Stored as text so operators can read it with plain SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A run started ingesting this content into this table, in batches of `batch_rows`.
    Claimed,
    /// Batch number `batch` was inserted and acknowledged.
    Batch,
    /// Every row is confirmed in the table by reading it back.
    Done,
    /// The content could not be ingested (`error_kind` says whether retrying can help).
    Failed,
    /// The path holds content already ingested into the table from another path.
    Duplicate,
    /// The path was ingested with other content; the new content is held back.
    Changed,
    /// The path's size or time changed but its content did not.
    Touched,
    /// The failed file was moved to the quarantine folder.
    Quarantined,
    /// An operator asked for the content to be treated as never seen.
    Forgotten,
    /// An operator asked for a failed or held-back file to be tried again.
    Retry,
}

impl Event {
    pub const ALL: [Event; 10] = [
        Event::Claimed,
        Event::Batch,
        Event::Done,
        Event::Failed,
        Event::Duplicate,
        Event::Changed,
        Event::Touched,
        Event::Quarantined,
        Event::Forgotten,
        Event::Retry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Claimed => "claimed",
            Event::Batch => "batch",
            Event::Done => "done",
            Event::Failed => "failed",
            Event::Duplicate => "duplicate",
            Event::Changed => "changed",
            Event::Touched => "touched",
            Event::Quarantined => "quarantined",
            Event::Forgotten => "forgotten",
            Event::Retry => "retry",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Events that speak about a path only, not about the content (table, hash) it has.
    pub fn is_path_only(self) -> bool {
        matches!(self, Event::Duplicate | Event::Changed | Event::Touched)
    }

    /// The names of the path-only events, for queries about contents.
    pub fn path_only_names() -> Vec<&'static str> {
        Event::ALL
            .into_iter()
            .filter(|e| e.is_path_only())
            .map(Event::as_str)
            .collect()
    }
}

/// Why a file failed, by what brings it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The content is bad: tried again when the file changes, or on `ingest retry`.
    Data,
    /// The failure can pass (the server, the local environment): the next run tries again.
    Transient,
    /// Reading the file crashed the process twice in a row: set aside like bad content.
    Poison,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Data => "data",
            FailureKind::Transient => "transient",
            FailureKind::Poison => "poison",
        }
    }

    /// The kind a manifest row records; an event that is no failure records none.
    pub fn parse(s: &str) -> Option<FailureKind> {
        [
            FailureKind::Data,
            FailureKind::Transient,
            FailureKind::Poison,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the failure waits for the file to change or for `ingest retry`.
    pub fn is_final(self) -> bool {
        self != FailureKind::Transient
    }
}

/// What an event says about the file it is about: the path and how it looked, its content, and
/// the table it goes to.
#[derive(Debug, Clone, Default)]
pub struct FileFacts {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub hash: String,
    /// `db.table`.
    pub table: String,
    /// Format and compression, e.g. `csv.gz`.
    pub format: String,
    /// For the grown part of a file (`--on-change append`): where it starts, its first
    /// record's ordinal, and the content hash of the bytes before it.
    pub from_byte: u64,
    pub from_row: u64,
    pub prefix_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_kinds_round_trip_through_text() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
        assert_eq!(Event::parse("nope"), None);
        assert_eq!(
            Event::path_only_names(),
            ["duplicate", "changed", "touched"]
        );
        for k in [
            FailureKind::Data,
            FailureKind::Transient,
            FailureKind::Poison,
        ] {
            assert_eq!(FailureKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(FailureKind::parse(""), None);
        assert!(FailureKind::Poison.is_final() && !FailureKind::Transient.is_final());
    }
}
