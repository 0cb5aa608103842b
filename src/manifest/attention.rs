//! Files that need an operator: a path whose latest event leaves it held back, failed,
//! quarantined, poisoned or stuck in flight stays listed (by `status`) and counted (in the
//! metrics' gauge) until a later event resolves it — a run ingesting it, `retry`, `forget`.

use super::Manifest;
use crate::ch::ChError;
use crate::ch::status::PathStatusRow;
use std::collections::BTreeMap;

/// Why a file needs attention: the label values of `ingest_files_needing_attention{reason}`.
pub const REASONS: [&str; 5] = ["changed", "failed", "quarantined", "poison", "in-flight"];

/// The reason a path whose latest event is `event` needs attention, if it does. (`poison` is the
/// event of a file whose reading crashed the process.)
pub fn reason(event: &str) -> Option<&'static str> {
    match event {
        "changed" => Some("changed"),
        "failed" => Some("failed"),
        "quarantined" => Some("quarantined"),
        "poison" => Some("poison"),
        "claimed" | "batch" => Some("in-flight"),
        _ => None,
    }
}

/// Latest events `status` lists as needing attention: the reasons above, and `retry`, which waits
/// for the next run.
const LISTED: [&str; 7] = [
    "changed",
    "failed",
    "quarantined",
    "poison",
    "claimed",
    "batch",
    "retry",
];

impl Manifest {
    /// The folder's paths that need attention, by reason, every reason included.
    pub async fn attention_counts(&self) -> Result<BTreeMap<String, u64>, ChError> {
        let totals = self
            .server()
            .path_totals(&self.table, self.folder_filter(), self.has_folders())
            .await?;
        let mut out: BTreeMap<String, u64> = REASONS.iter().map(|r| ((*r).to_owned(), 0)).collect();
        for t in totals {
            if let Some(r) = reason(&t.state) {
                *out.entry(r.to_owned()).or_default() += t.files;
            }
        }
        Ok(out)
    }

    /// The folder's paths that need attention (or wait for a retry), by path.
    pub async fn attention(&self, limit: u64) -> Result<Vec<PathStatusRow>, ChError> {
        self.server()
            .path_states(
                &self.table,
                self.folder_filter(),
                self.has_folders(),
                &LISTED,
                false,
                limit,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_have_reasons_and_resolved_states_none() {
        assert_eq!(reason("batch"), Some("in-flight"));
        assert_eq!(reason("poison"), Some("poison"));
        for fine in ["done", "touched", "duplicate", "forgotten", "retry"] {
            assert_eq!(reason(fine), None, "{fine}");
        }
        for r in REASONS {
            assert!(LISTED.iter().any(|l| reason(l) == Some(r)), "{r}");
        }
    }
}
