//! Keeping a state read from the manifest up to date with the events written since, as the
//! manifest's own queries would fold them (the latest event by sequence wins), so that a
//! watcher need not read the whole manifest again for every cycle.

use super::{ContentState, Event, EventRow, FailureKind, PathState, State};
use std::sync::Arc;

impl State {
    /// Folds events written after the state was read into it.
    pub fn apply(&mut self, events: &[EventRow]) {
        let mut events: Vec<&EventRow> = events.iter().collect();
        events.sort_by_key(|e| e.seq);
        for e in events {
            let Some(event) = Event::parse(&e.event) else {
                continue;
            };
            self.tables.insert(e.target_table.clone());
            if !event.is_path_only() {
                self.apply_content(event, e);
            }
            if !e.path.is_empty() {
                self.apply_path(event, e);
            }
        }
    }

    fn apply_content(&mut self, event: Event, e: &EventRow) {
        let key = (e.target_table.clone(), e.file_hash.clone());
        let generation = self.by_content.get(&key).map_or(0, |c| c.generation);
        let path = match e.path.is_empty() {
            false => e.path.clone(),
            true => self
                .by_content
                .get(&key)
                .map(|c| c.path.clone())
                .unwrap_or_default(),
        };
        let content = ContentState {
            event,
            path,
            batch_rows: e.batch_rows,
            rows: e.rows,
            error: e.error.clone(),
            error_kind: FailureKind::parse(&e.error_kind),
            generation: generation + u64::from(event == Event::Forgotten),
            rejected: e.rejected,
            from_byte: e.from_byte,
            from_row: e.from_row,
            prefix_hash: e.prefix_hash.clone(),
            run_id: e.run_id.clone(),
        };
        self.by_content.insert(key, content);
    }

    fn apply_path(&mut self, event: Event, e: &EventRow) {
        let content_done = self
            .content(&e.target_table, &e.file_hash)
            .is_some_and(|c| c.event == Event::Done);
        let target_table = Arc::from(e.target_table.as_str());
        self.by_path.insert(
            e.path.clone(),
            PathState {
                event,
                size: e.size,
                mtime_ns: e.mtime_ns,
                file_hash: e.file_hash.clone(),
                target_table,
                error_kind: FailureKind::parse(&e.error_kind),
                detail: e.detail.clone(),
                content_done,
                from_byte: e.from_byte,
                from_row: e.from_row,
                prefix_hash: e.prefix_hash.clone(),
                run_id: e.run_id.clone(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, event: Event, path: &str, hash: &str) -> EventRow {
        EventRow {
            seq,
            event: event.as_str().into(),
            path: path.into(),
            file_hash: hash.into(),
            target_table: "db.t".into(),
            size: 10,
            rows: 3,
            ..EventRow::default()
        }
    }

    #[test]
    fn the_latest_event_wins_for_paths_and_contents() {
        let mut s = State::default();
        s.apply(&[
            row(3, Event::Done, "a.csv", "h1"),
            row(1, Event::Claimed, "a.csv", "h1"),
            row(4, Event::Duplicate, "b.csv", "h1"),
        ]);
        assert_eq!(s.by_path["a.csv"].event, Event::Done);
        assert!(s.by_path["a.csv"].content_done);
        assert_eq!(s.by_path["b.csv"].event, Event::Duplicate);
        assert!(s.by_path["b.csv"].content_done);
        let c = s.content("db.t", "h1").unwrap();
        assert_eq!(
            (c.event, c.path.as_str(), c.rows),
            (Event::Done, "a.csv", 3)
        );
        assert!(s.tables.contains("db.t"));
    }
}
