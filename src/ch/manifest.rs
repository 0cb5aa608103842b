//! The manifest table as SQL: its columns, the `_files` view, and the questions the run, `status`,
//! `retry` and `forget` ask of it. Events are appended, never changed; the latest by `seq` wins.

use super::ident::TableRef;
use super::{ChError, Server, Sql, strings};
use serde::{Deserialize, Serialize};

/// One manifest row. Field order is the table's column order.
#[derive(Debug, Clone, Default, clickhouse::Row, Serialize)]
pub struct EventRow {
    pub event_time: u32,
    pub seq: u64,
    pub run_id: String,
    pub host: String,
    pub event: String,
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub file_hash: String,
    /// `hash::file_id` of `file_hash`: what the rows' `_ingest_file` holds.
    pub file_id: u64,
    pub target_table: String,
    pub format: String,
    pub batch_rows: u64,
    pub batch: u64,
    pub rows: u64,
    pub rejected: u64,
    pub error: String,
    pub error_kind: String,
    pub detail: String,
    /// The data folder the event is about (see `folder`): paths are relative to it.
    pub folder_id: String,
    /// For a file that grew (`--on-change append`): where the bytes this event is about start
    /// (the bytes before were ingested earlier, as content `prefix_hash`), and the ordinal of
    /// their first record. 0, 0 and empty for a whole file.
    pub from_byte: u64,
    pub from_row: u64,
    pub prefix_hash: String,
}

const COLUMNS: &str = "\
    event_time DateTime, seq UInt64, run_id String, host String, event String, path String, \
    size UInt64, mtime_ns Int64, file_hash String, file_id UInt64, target_table String, \
    format String, \
    batch_rows UInt64, batch UInt64, rows UInt64, rejected UInt64, error String, \
    error_kind String, detail String, folder_id String, \
    from_byte UInt64, from_row UInt64, prefix_hash String";

/// The columns manifests made before appended files lack, with their types.
pub const SEGMENT_COLUMNS: [(&str, &str); 3] = [
    ("from_byte", "UInt64"),
    ("from_row", "UInt64"),
    ("prefix_hash", "String"),
];

/// The column manifests made before folder ids lack.
pub const FOLDER_COLUMN: &str = "folder_id";

/// The latest event of a path, with the latest event of the content it last had.
#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct PathRow {
    pub path: String,
    pub last_event: String,
    pub last_size: u64,
    pub last_mtime_ns: i64,
    pub last_hash: String,
    pub last_table: String,
    pub last_kind: String,
    pub last_detail: String,
    pub content_event: String,
    pub last_from_byte: u64,
    pub last_from_row: u64,
    pub last_prefix: String,
    pub last_run: String,
}

/// The latest event of a (table, content).
#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct ContentRow {
    pub target_table: String,
    pub file_hash: String,
    pub last_event: String,
    pub last_path: String,
    pub last_batch_rows: u64,
    pub last_rows: u64,
    pub last_error: String,
    pub last_kind: String,
    /// How many times the content was forgotten: each time starts a new ingestion of it.
    pub forgotten: u64,
    pub last_rejected: u64,
    pub last_from_byte: u64,
    pub last_from_row: u64,
    pub last_prefix: String,
    pub last_run: String,
}

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    n: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct Batch {
    b: u64,
}

/// The `_files` view of a manifest table.
pub fn files_view(manifest: &TableRef) -> TableRef {
    TableRef {
        database: manifest.database.clone(),
        table: format!("{}_files", manifest.table),
    }
}

/// The latest state of every (table, content) as a subquery: `target_table`, `file_hash`,
/// `last_path`, `state`, `last_rows`, `last_error`, `last_run`, `last_host`, `first_seen`,
/// `last_event`; events about a path only (`path_only`) are left out. (Aliases never reuse a
/// column's name: newer servers would resolve the column to the alias.)
pub(super) fn latest_by_content(manifest: &TableRef, path_only: &[&str]) -> String {
    format!(
        "SELECT target_table, file_hash, argMaxIf(path, seq, path != '') AS last_path, \
         argMax(event, seq) AS state, argMax(rows, seq) AS last_rows, \
         argMax(error, seq) AS last_error, argMax(run_id, seq) AS last_run, \
         argMax(host, seq) AS last_host, min(event_time) AS first_seen, \
         max(event_time) AS last_event \
         FROM {} WHERE event NOT IN {} GROUP BY target_table, file_hash",
        manifest.sql(),
        literal_list(path_only)
    )
}

/// Event names are the program's own constants; a view's text cannot carry parameters.
fn literal_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("({})", quoted.join(", "))
}

impl Server {
    /// Creates the manifest table and its `_files` view where missing; says which it created.
    pub async fn create_manifest(
        &self,
        manifest: &TableRef,
        path_only: &[&str],
    ) -> Result<Vec<TableRef>, ChError> {
        let mut created = Vec::new();
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {}{} ({COLUMNS}) ENGINE = {} \
             PARTITION BY toYYYYMM(event_time) ORDER BY (target_table, file_hash, seq)",
            manifest.sql(),
            self.on_cluster(),
            self.own_engine(manifest)
        );
        if self
            .create_if_missing("create manifest table", manifest, &ddl)
            .await?
        {
            created.push(manifest.clone());
        }
        let view = files_view(manifest);
        let ddl = format!(
            "CREATE VIEW IF NOT EXISTS {}{} AS SELECT target_table, file_hash, \
             last_path AS path, state, last_rows AS rows, last_error AS error, first_seen, \
             last_event FROM ({})",
            view.sql(),
            self.on_cluster(),
            latest_by_content(manifest, path_only)
        );
        if self
            .create_if_missing("create manifest view", &view, &ddl)
            .await?
        {
            created.push(view);
        }
        Ok(created)
    }

    pub async fn write_events(
        &self,
        manifest: &TableRef,
        events: &[EventRow],
    ) -> Result<(), ChError> {
        self.insert_rows("write manifest events", manifest, events)
            .await
    }

    /// The latest event of every path, with the latest event of its content, folded into a value
    /// row by row.
    pub async fn fold_paths<S>(
        &self,
        manifest: &TableRef,
        folder: Option<&str>,
        segments: bool,
        path_only: &[&str],
        init: impl Fn() -> S,
        add: impl FnMut(&mut S, PathRow),
    ) -> Result<S, ChError> {
        let table = manifest.sql();
        let (filter, folder) = folder_filter(folder);
        let seg = segment_columns(segments);
        let mut sql = Sql::new(format!(
            "SELECT path, last_event, last_size, last_mtime_ns, last_hash, last_table, last_kind, \
             last_detail, content_event, last_from_byte, last_from_row, last_prefix, last_run FROM (\
               SELECT path, argMax(event, seq) AS last_event, argMax(size, seq) AS last_size, \
               argMax(mtime_ns, seq) AS last_mtime_ns, argMax(file_hash, seq) AS last_hash, \
               argMax(target_table, seq) AS last_table, argMax(error_kind, seq) AS last_kind, \
               argMax(detail, seq) AS last_detail, {seg}, argMax(run_id, seq) AS last_run \
               FROM {table} {filter} GROUP BY path\
             ) AS paths ANY LEFT JOIN (\
               SELECT target_table AS last_table, file_hash AS last_hash, \
               argMax(event, seq) AS content_event FROM {table} \
               WHERE event NOT IN ? GROUP BY target_table, file_hash\
             ) AS contents USING (last_table, last_hash)"
        ));
        if let Some(folder) = folder {
            sql = sql.arg(folder);
        }
        self.fold(
            "read manifest paths",
            &sql.arg(strings(path_only)),
            init,
            add,
        )
        .await
    }

    /// The latest event of every (table, content), folded into a value row by row.
    pub async fn fold_contents<S>(
        &self,
        manifest: &TableRef,
        segments: bool,
        path_only: &[&str],
        init: impl Fn() -> S,
        add: impl FnMut(&mut S, ContentRow),
    ) -> Result<S, ChError> {
        let sql = Sql::new(format!(
            "SELECT target_table, file_hash, argMax(event, seq) AS last_event, \
             argMaxIf(path, seq, path != '') AS last_path, argMax(batch_rows, seq) AS last_batch_rows, \
             argMax(rows, seq) AS last_rows, argMax(error, seq) AS last_error, \
             argMax(error_kind, seq) AS last_kind, countIf(event = 'forgotten') AS forgotten, \
             argMax(rejected, seq) AS last_rejected, {}, argMax(run_id, seq) AS last_run \
             FROM {} WHERE event NOT IN ? GROUP BY target_table, file_hash",
            segment_columns(segments),
            manifest.sql()
        ))
        .arg(strings(path_only));
        self.fold("read manifest contents", &sql, init, add).await
    }

    /// Batches of some content recorded as acknowledged, for tables without provenance where the
    /// table itself cannot be asked.
    pub async fn acknowledged_batches(
        &self,
        manifest: &TableRef,
        table: &TableRef,
        hash: &str,
        batch_rows: u64,
    ) -> Result<Vec<u64>, ChError> {
        let sql = Sql::new(format!(
            "SELECT DISTINCT batch AS b FROM {} WHERE target_table = ? AND file_hash = ? \
             AND event = 'batch' AND batch_rows = ?",
            manifest.sql()
        ))
        .arg(table.to_string())
        .arg(hash)
        .arg(batch_rows);
        let rows: Vec<Batch> = self.fetch_all("read acknowledged batches", &sql).await?;
        Ok(rows.into_iter().map(|r| r.b).collect())
    }

    /// Whether the manifest has a column (manifests made by older versions lack some).
    pub async fn has_column(&self, table: &TableRef, column: &str) -> Result<bool, ChError> {
        let sql = Sql::new(
            "SELECT count() AS n FROM system.columns WHERE database = ? AND table = ? AND name = ?",
        )
        .arg(&table.database)
        .arg(&table.table)
        .arg(column);
        let c: Count = self.fetch_one("look up a column", &sql).await?;
        Ok(c.n > 0)
    }

    /// Gives a manifest made before folder ids its `folder_id` column, a metadata-only change:
    /// the events recorded before read as belonging to `folder`, the folder migrating it. Says
    /// whether this call added it (another run may have been first).
    pub async fn add_folder_column(
        &self,
        manifest: &TableRef,
        folder: &str,
    ) -> Result<bool, ChError> {
        add_column_with_default(self, manifest, FOLDER_COLUMN, folder).await
    }

    /// Gives a manifest made before appended files the columns that record them (metadata
    /// only; the events it holds read as whole files). Says whether this call added any.
    pub async fn add_segment_columns(&self, manifest: &TableRef) -> Result<bool, ChError> {
        let mut added = false;
        for (name, ty) in SEGMENT_COLUMNS {
            if !self.has_column(manifest, name).await? {
                added |= self.add_column(manifest, name, ty).await?;
            }
        }
        Ok(added)
    }
}

/// The latest event's segment columns (see [`EventRow::from_byte`]), as `last_from_byte`,
/// `last_from_row` and `last_prefix`; a manifest made before them has whole files only.
fn segment_columns(present: bool) -> &'static str {
    match present {
        true => {
            "argMax(from_byte, seq) AS last_from_byte, argMax(from_row, seq) AS last_from_row, \
             argMax(prefix_hash, seq) AS last_prefix"
        }
        false => "toUInt64(0) AS last_from_byte, toUInt64(0) AS last_from_row, '' AS last_prefix",
    }
}

/// The condition on the events of a question about paths: only events about a path (an operator
/// event about content alone has none), of one folder when it is given; and that folder.
pub(super) fn folder_filter(folder: Option<&str>) -> (&'static str, Option<&str>) {
    match folder {
        Some(f) => ("WHERE path != '' AND folder_id = ?", Some(f)),
        None => ("WHERE path != ''", None),
    }
}

/// `ALTER TABLE … ADD COLUMN name String DEFAULT 'value'` for a column older tables lack; `false`
/// if it exists already. `value` is a folder id (letters, digits, `.`, `_`, `-`): a DEFAULT
/// clause cannot take a query parameter, so it is checked and written as a literal.
pub(super) async fn add_column_with_default(
    server: &Server,
    table: &TableRef,
    name: &str,
    value: &str,
) -> Result<bool, ChError> {
    if crate::folder_id::check(value).is_err() {
        return Err(ChError::Client(format!(
            "`{value}` cannot be a column default"
        )));
    }
    let sql = Sql::new(format!(
        "ALTER TABLE {}{} ADD COLUMN {} String DEFAULT '{value}'",
        table.sql(),
        server.on_cluster(),
        super::ident::quote(name)
    ));
    match server.execute("add a column", &sql).await {
        Ok(()) => Ok(true),
        Err(e)
            if e.code()
                .is_some_and(|c| super::ddl::DUPLICATE_COLUMN.contains(&c)) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_has_a_column_for_every_field() {
        let columns: Vec<&str> = COLUMNS
            .split(',')
            .filter_map(|c| c.split_whitespace().next())
            .collect();
        assert_eq!(columns, <EventRow as clickhouse::Row>::COLUMN_NAMES);
    }
}
