//! What `status` asks of the manifest: every path's latest state with the content it has now,
//! totals by state, and the rows recorded as ingested by table.

use super::ident::TableRef;
use super::manifest::{folder_filter, latest_by_content};
use super::{ChError, Server, Sql, strings};
use serde::Deserialize;

/// Paths in one state, for `status`.
#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct StateCount {
    pub state: String,
    pub files: u64,
    pub rows: u64,
}

/// A path's latest event, as `status` lists it: the state and content it has now.
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub struct PathStatusRow {
    pub path: String,
    pub folder: String,
    pub state: String,
    pub last_hash: String,
    pub tbl: String,
    /// Rows of the content's latest claim or `done`.
    pub file_rows: u64,
    pub last_error: String,
    pub kind: String,
    pub last_detail: String,
    pub run: String,
    pub host_name: String,
    pub last: u32,
}

/// Rows the manifest records as ingested into a table.
#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct TableRows {
    pub tbl: String,
    pub rows: u64,
}

impl Server {
    /// Paths by their latest state, with the rows of their content; one folder's, or all.
    pub async fn path_totals(
        &self,
        manifest: &TableRef,
        folder: Option<&str>,
        has_folders: bool,
    ) -> Result<Vec<StateCount>, ChError> {
        let (inner, folder) = latest_by_path(manifest, folder, has_folders);
        let mut sql = Sql::new(format!(
            "SELECT state, count() AS files, sum(file_rows) AS rows FROM ({inner}) \
             GROUP BY state ORDER BY state"
        ));
        if let Some(folder) = folder {
            sql = sql.arg(folder);
        }
        self.fetch_all("read manifest totals", &sql).await
    }

    /// Paths whose latest state is one of `states` (any if empty), by path, or the most recent
    /// first when `recent`.
    pub async fn path_states(
        &self,
        manifest: &TableRef,
        folder: Option<&str>,
        has_folders: bool,
        states: &[&str],
        recent: bool,
        limit: u64,
    ) -> Result<Vec<PathStatusRow>, ChError> {
        let (inner, folder) = latest_by_path(manifest, folder, has_folders);
        let filter = match states.is_empty() {
            true => "",
            false => "WHERE state IN ?",
        };
        let order = match recent {
            true => "last DESC, folder, path",
            false => "folder, path",
        };
        let mut sql = Sql::new(format!(
            "SELECT path, folder, state, last_hash, tbl, file_rows, last_error, kind, last_detail, \
             run, host_name, last FROM ({inner}) {filter} ORDER BY {order} LIMIT ?"
        ));
        if let Some(folder) = folder {
            sql = sql.arg(folder);
        }
        if !states.is_empty() {
            sql = sql.arg(strings(states));
        }
        self.fetch_all("read manifest files", &sql.arg(limit)).await
    }

    /// Rows the manifest records as ingested, by target table (contents whose latest state is
    /// `done`, whatever folder they came from).
    pub async fn done_rows_by_table(
        &self,
        manifest: &TableRef,
        path_only: &[&str],
    ) -> Result<Vec<TableRows>, ChError> {
        let sql = Sql::new(format!(
            "SELECT target_table AS tbl, sum(last_rows) AS rows FROM ({}) WHERE state = 'done' \
             GROUP BY target_table ORDER BY target_table",
            latest_by_content(manifest, path_only)
        ));
        self.fetch_all("read ingested rows by table", &sql).await
    }
}

/// The latest event of every path as a subquery (see [`PathStatusRow`]), with the `?` for the
/// folder, if any, and its value. A manifest without folder ids has one, unnamed, folder.
fn latest_by_path<'a>(
    manifest: &TableRef,
    folder: Option<&'a str>,
    has_folders: bool,
) -> (String, Option<&'a str>) {
    let (filter, folder) = folder_filter(folder.filter(|_| has_folders));
    let folder_expr = match has_folders {
        true => "folder_id",
        false => "''",
    };
    let inner = format!(
        "SELECT path, {folder_expr} AS folder, argMax(event, seq) AS state, \
         argMax(file_hash, seq) AS last_hash, argMax(target_table, seq) AS tbl, \
         if(state IN ('done', 'touched', 'claimed', 'batch'), \
            argMaxIf(rows, seq, event IN ('claimed', 'done')), 0) AS file_rows, \
         argMax(error, seq) AS last_error, argMax(error_kind, seq) AS kind, \
         argMax(detail, seq) AS last_detail, argMax(run_id, seq) AS run, \
         argMax(host, seq) AS host_name, max(event_time) AS last \
         FROM {} {filter} GROUP BY {folder_expr}, path",
        manifest.sql()
    );
    (inner, folder)
}
