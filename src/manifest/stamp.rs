//! Who writes an event — the run, its host and the data folder — and the one way an event row is
//! begun: the reading side makes events with this alone, never talking to the server.

use super::{Event, EventRow, FailureKind, FileFacts};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static LAST_SEQ: AtomicU64 = AtomicU64::new(0);

/// A strictly increasing event sequence: wall-clock nanoseconds, bumped when the clock stalls.
fn next_seq() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut last = LAST_SEQ.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_SEQ.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stamp {
    pub run_id: String,
    pub host: String,
    /// The data folder's id (see `folder_id`); empty when the question is about every folder.
    pub folder: String,
}

impl Stamp {
    pub fn new(run_id: String, folder: String) -> Stamp {
        Stamp {
            run_id,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            folder,
        }
    }

    /// A new event row stamped with this run, host, folder and time.
    pub fn event(&self, event: Event) -> EventRow {
        EventRow {
            event_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as u32),
            seq: next_seq(),
            run_id: self.run_id.clone(),
            host: self.host.clone(),
            event: event.as_str().to_owned(),
            folder_id: self.folder.clone(),
            ..EventRow::default()
        }
    }

    /// An event about a file, as `facts` describe it.
    pub fn file_event(&self, event: Event, facts: &FileFacts) -> EventRow {
        EventRow {
            path: facts.path.clone(),
            size: facts.size,
            mtime_ns: facts.mtime_ns,
            file_hash: facts.hash.clone(),
            target_table: facts.table.clone(),
            format: facts.format.clone(),
            from_byte: facts.from_byte,
            from_row: facts.from_row,
            prefix_hash: facts.prefix_hash.clone(),
            ..self.event(event)
        }
    }

    /// A failure of a file, with its errors and their kind.
    pub fn failure_event(&self, facts: &FileFacts, kind: FailureKind, error: &str) -> EventRow {
        EventRow {
            error: error.to_owned(),
            error_kind: kind.as_str().to_owned(),
            ..self.file_event(Event::Failed, facts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_ordered_even_when_made_in_the_same_nanosecond() {
        let stamp = Stamp::new("r1".to_owned(), "f1".to_owned());
        let seqs: Vec<u64> = (0..1000).map(|_| stamp.event(Event::Done).seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_failure_names_its_kind_and_the_file_as_the_facts_give_it() {
        let stamp = Stamp::new("r1".to_owned(), "f1".to_owned());
        let facts = FileFacts {
            path: "a/b.csv".to_owned(),
            size: 10,
            mtime_ns: 5,
            hash: "ab".repeat(32),
            table: "db.t".to_owned(),
            format: "csv".to_owned(),
            ..FileFacts::default()
        };
        let ev = stamp.failure_event(&facts, FailureKind::Data, "a.csv:2:3: bad");
        assert_eq!(
            (ev.event.as_str(), ev.error_kind.as_str(), ev.error.as_str()),
            ("failed", "data", "a.csv:2:3: bad")
        );
        assert_eq!(
            (
                ev.path.as_str(),
                ev.size,
                ev.mtime_ns,
                ev.target_table.as_str()
            ),
            ("a/b.csv", 10, 5, "db.t")
        );
        assert_eq!((ev.run_id.as_str(), ev.folder_id.as_str()), ("r1", "f1"));
    }
}
