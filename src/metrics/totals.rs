//! The cumulative part of the metrics file — counters and the duration histogram — read back from
//! what the previous run wrote, with this run's numbers added.

use crate::exit::Exit;
use crate::outcome::Status;
use crate::summary::Summary;
use std::collections::BTreeMap;

/// Upper bounds of the per-file duration histogram, in seconds; 600 is the "slow file" threshold.
pub const BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 600.0, 1800.0, 3600.0];

/// The cumulative part, as read from the previous file and as written to the next.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Totals {
    pub(super) runs: BTreeMap<String, u64>,
    pub(super) files: BTreeMap<String, u64>,
    pub(super) rows: u64,
    pub(super) bytes: u64,
    pub(super) rejected: u64,
    /// Keyed by the `le` label as written; `+Inf` included.
    pub(super) buckets: BTreeMap<String, u64>,
    pub(super) duration_sum: f64,
    pub(super) duration_count: u64,
    pub(super) last_success: f64,
    /// The gauge of files needing attention, by reason: kept from the previous file when a run
    /// cannot ask the manifest.
    pub(super) attention: BTreeMap<String, u64>,
}

/// Bounds are written as floats (`1.0`, not `1`), the form Prometheus 3 normalises `le` to, so
/// rules matching `le="600.0"` work with every Prometheus version.
pub(super) fn le_label(bound: f64) -> String {
    format!("{bound:?}")
}

/// Statuses whose duration measures real work on the file (read, converted, sent).
fn timed(status: Status) -> bool {
    matches!(status, Status::Ingested | Status::Failed)
}

impl Totals {
    /// Reads what an earlier run wrote; lines it does not know are ignored.
    pub(super) fn parse(text: &str) -> Totals {
        let mut t = Totals::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, label) = match series.split_once('{') {
                Some((name, rest)) => (name, label_value(rest)),
                None => (series, None),
            };
            // Series written before the `folder` label have no other.
            let label = label.filter(|l| !l.is_empty());
            let count = value as u64;
            match (name, label) {
                ("ingest_runs_total", Some(l)) => {
                    t.runs.insert(l, count);
                }
                ("ingest_files_total", Some(l)) => {
                    t.files.insert(l, count);
                }
                ("ingest_file_duration_seconds_bucket", Some(l)) => {
                    t.buckets.insert(l, count);
                }
                ("ingest_files_needing_attention", Some(l)) => {
                    t.attention.insert(l, count);
                }
                ("ingest_rows_total", None) => t.rows = count,
                ("ingest_bytes_total", None) => t.bytes = count,
                ("ingest_rejected_records_total", None) => t.rejected = count,
                ("ingest_file_duration_seconds_sum", None) => t.duration_sum = value,
                ("ingest_file_duration_seconds_count", None) => t.duration_count = count,
                ("ingest_last_success_timestamp_seconds", None) => t.last_success = value,
                _ => {}
            }
        }
        t
    }

    pub(super) fn add(&mut self, s: &Summary) {
        *self.runs.entry(s.exit.code().to_string()).or_default() += 1;
        // Present from the first run on, so that `increase()` sees the first failure too.
        for status in [Status::Ingested, Status::Failed] {
            self.files.entry(status.label().to_owned()).or_default();
        }
        for (status, n) in s.counts() {
            *self.files.entry(status.label().to_owned()).or_default() += n;
        }
        self.rows += s.rows();
        self.bytes += s.bytes();
        self.rejected += s.rejected();
        if let Some(attention) = &s.attention {
            self.attention = attention.clone();
        }
        for o in s.outcomes.iter().filter(|o| timed(o.status)) {
            let secs = o.duration.as_secs_f64();
            for b in BUCKETS.iter().filter(|&&b| secs <= b) {
                *self.buckets.entry(le_label(*b)).or_default() += 1;
            }
            *self.buckets.entry("+Inf".to_owned()).or_default() += 1;
            self.duration_sum += secs;
            self.duration_count += 1;
        }
        if s.exit == Exit::Ok {
            self.last_success = epoch(s.finished);
        }
    }
}

/// The value of the label other than `folder` in `rest` (what follows `{`), e.g.
/// `folder="x",outcome="failed"}`; empty when there is no other.
fn label_value(rest: &str) -> Option<String> {
    let mut rest = rest;
    loop {
        let (name, quoted) = rest.split_once("=\"")?;
        let (value, after) = quoted.split_once('"')?;
        if name.trim_start_matches(',').trim() != "folder" {
            return Some(value.to_owned());
        }
        rest = after;
        if rest.trim_start().starts_with('}') {
            return Some(String::new());
        }
    }
}

pub(super) fn epoch(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}
