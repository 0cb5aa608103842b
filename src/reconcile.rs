//! Reconciling the manifest with the tables: for every content the manifest records as ingested,
//! the rows under its provenance id must be exactly the rows recorded. A table dropped, emptied or
//! partly deleted behind the manifest's back, or a file sent twice, is found here — for `ingest
//! verify` to report and `ingest retry` to repair.

use crate::ch::ident::TableRef;
use crate::ch::schema::TableSchema;
use crate::exit::Fatal;
use crate::hash::file_id;
use crate::manifest::{ContentState, Event, FailureKind, Manifest, State};
use crate::summary::SCHEMA_VERSION;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What is wrong with a file's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// Recorded as ingested; none of its rows are in the table (or the table is gone).
    Missing,
    /// Fewer rows than recorded.
    Short,
    /// More rows than recorded: some were sent twice.
    Doubled,
    /// Recorded as failed for its content (or quarantined), yet rows of it are in the table.
    RowsOfFailed,
}

impl Problem {
    pub fn label(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Short => "short",
            Problem::Doubled => "doubled",
            Problem::RowsOfFailed => "rows-of-failed",
        }
    }

    /// Whether `ingest retry` repairs it (by sending what is missing, or deleting the content's
    /// rows and sending it again).
    pub fn retry_repairs(self) -> bool {
        self != Problem::RowsOfFailed
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub problem: Problem,
    pub path: String,
    pub table: String,
    pub hash: String,
    pub rows_recorded: u64,
    pub rows_found: u64,
}

/// A table whose files cannot be checked.
#[derive(Debug, Serialize)]
pub struct Unverifiable {
    pub table: String,
    pub files: u64,
    pub reason: String,
}

/// Rows in a table under a provenance id the manifest has no file for.
#[derive(Debug, Serialize)]
pub struct Unknown {
    pub table: String,
    pub file_id: String,
    pub rows: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Verification {
    pub schema_version: u32,
    pub manifest: String,
    /// Contents recorded as ingested that were checked, and how many of them match.
    pub files_checked: u64,
    pub files_matching: u64,
    pub mismatches: Vec<Mismatch>,
    pub unverifiable: Vec<Unverifiable>,
    pub unknown: Vec<Unknown>,
}

/// Checks every content the manifest records as ingested against its table.
pub async fn check(manifest: &Manifest) -> Result<Verification, Fatal> {
    let server = manifest.server();
    let mut state = State::default();
    manifest.load_contents(&mut state).await?;
    let mut by_table: BTreeMap<&str, Vec<(&str, &ContentState)>> = BTreeMap::new();
    for ((table, hash), c) in &state.by_content {
        by_table
            .entry(table.as_str())
            .or_default()
            .push((hash.as_str(), c));
    }
    let mut v = Verification {
        schema_version: SCHEMA_VERSION,
        manifest: manifest.table.to_string(),
        ..Verification::default()
    };
    for (name, contents) in by_table {
        let done: Vec<&(&str, &ContentState)> = contents
            .iter()
            .filter(|(_, c)| c.event == Event::Done)
            .collect();
        let Ok(table) = TableRef::parse(name, &manifest.table.database) else {
            continue;
        };
        let mut found = match TableSchema::load(server, &table).await? {
            None => HashMap::new(),
            Some(schema) if !schema.has_provenance() => {
                if !done.is_empty() {
                    v.unverifiable.push(Unverifiable {
                        table: name.to_owned(),
                        files: done.len() as u64,
                        reason: "it has no provenance columns".to_owned(),
                    });
                }
                continue;
            }
            Some(_) => server.rows_by_file(&table).await?,
        };
        compare_done(&mut v, name, &done, &mut found);
        leftovers(&mut v, name, &contents, found);
    }
    v.mismatches
        .sort_by(|a, b| (&a.table, &a.path).cmp(&(&b.table, &b.path)));
    Ok(v)
}

/// Compares each ingested content's rows in its table with what the manifest recorded.
fn compare_done(
    v: &mut Verification,
    name: &str,
    done: &[&(&str, &ContentState)],
    found: &mut HashMap<u64, u64>,
) {
    for (hash, c) in done {
        v.files_checked += 1;
        let n = found.remove(&file_id(hash)).unwrap_or(0);
        let problem = match n.cmp(&c.rows) {
            std::cmp::Ordering::Equal => {
                v.files_matching += 1;
                continue;
            }
            std::cmp::Ordering::Less if n == 0 => Problem::Missing,
            std::cmp::Ordering::Less => Problem::Short,
            std::cmp::Ordering::Greater => Problem::Doubled,
        };
        v.mismatches.push(mismatch(problem, name, hash, c, n));
    }
}

/// Rows left over belong to contents in another state, or to none the manifest knows.
fn leftovers(
    v: &mut Verification,
    name: &str,
    contents: &[(&str, &ContentState)],
    found: HashMap<u64, u64>,
) {
    let others: HashMap<u64, (&str, &ContentState)> = contents
        .iter()
        .filter(|(_, c)| c.event != Event::Done)
        .map(|(h, c)| (file_id(h), (*h, *c)))
        .collect();
    let mut left: Vec<(u64, u64)> = found.into_iter().filter(|(id, _)| *id != 0).collect();
    left.sort_unstable();
    for (id, n) in left {
        match others.get(&id) {
            Some((hash, c))
                if matches!(c.event, Event::Failed | Event::Quarantined)
                    && c.error_kind == Some(FailureKind::Data) =>
            {
                v.mismatches
                    .push(mismatch(Problem::RowsOfFailed, name, hash, c, n))
            }
            // Forgotten, retried, in flight or failed for a passing reason: the next run
            // settles it.
            Some(_) => {}
            None => v.unknown.push(Unknown {
                table: name.to_owned(),
                file_id: format!("{id:016x}"),
                rows: n,
            }),
        }
    }
}

fn mismatch(problem: Problem, table: &str, hash: &str, c: &ContentState, n: u64) -> Mismatch {
    Mismatch {
        problem,
        path: c.path.clone(),
        table: table.to_owned(),
        hash: hash.to_owned(),
        rows_recorded: c.rows,
        rows_found: n,
    }
}
