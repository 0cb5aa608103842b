//! Target tables as ClickHouse describes them, and the provenance columns that make resumes exact.

use super::ident::{TableRef, quote};
use super::{ChError, Server, Sql};
use serde::Deserialize;

/// The file a row came from: the first 64 bits of its content hash (see `hash::file_id`).
pub const PROVENANCE_FILE: &str = "_ingest_file";
/// Ordinal of the row's record in its file, from 0.
pub const PROVENANCE_ROW: &str = "_ingest_row";

/// "Cannot add column: already exists" (15 on current servers, 44 on 18.x).
const DUPLICATE_COLUMN: [u32; 2] = [15, 44];

#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub struct TableColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub default_kind: String,
    pub default_expression: String,
}

impl TableColumn {
    /// MATERIALIZED and ALIAS columns are computed by the server and cannot be inserted.
    pub fn is_insertable(&self) -> bool {
        !matches!(self.default_kind.as_str(), "MATERIALIZED" | "ALIAS")
    }
}

#[derive(Debug, Clone)]
pub struct TableSchema {
    pub table: TableRef,
    pub columns: Vec<TableColumn>,
    /// The sorting key as plain column names, or empty when it is not (or has expressions).
    pub sort_key: Vec<String>,
    /// The table engine, e.g. `MergeTree`.
    pub engine: String,
    /// Tables (materialized views) that read every insert into this one.
    pub dependents: Vec<String>,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct KeyRow {
    sorting_key: String,
    engine: String,
    dependencies_table: Vec<String>,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct TextRow {
    text: String,
}

impl TableSchema {
    /// A schema with no column, for a table that does not exist.
    pub fn empty(table: &TableRef) -> TableSchema {
        TableSchema {
            table: table.clone(),
            columns: Vec::new(),
            sort_key: Vec::new(),
            engine: String::new(),
            dependents: Vec::new(),
        }
    }

    /// Whether rows inserted into the table can be taken back before anything else has seen
    /// them: a MergeTree (which deletes by mutation) that no materialized view reads.
    pub fn rows_can_be_taken_back(&self) -> bool {
        self.engine.ends_with("MergeTree") && self.dependents.is_empty()
    }

    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn has_provenance(&self) -> bool {
        self.column(PROVENANCE_FILE).is_some() && self.column(PROVENANCE_ROW).is_some()
    }

    /// Columns a data file may fill: insertable, and not the provenance columns.
    pub fn data_columns(&self) -> impl Iterator<Item = &TableColumn> {
        self.columns
            .iter()
            .filter(|c| c.is_insertable() && c.name != PROVENANCE_FILE && c.name != PROVENANCE_ROW)
    }

    /// Loads a table's columns, or `None` if the table does not exist.
    pub async fn load(server: &Server, table: &TableRef) -> Result<Option<TableSchema>, ChError> {
        let sql = Sql::new(
            "SELECT sorting_key, engine, dependencies_table FROM system.tables \
             WHERE database = ? AND name = ?",
        )
        .arg(&table.database)
        .arg(&table.table);
        let keys: Vec<KeyRow> = server.fetch_all("look up table", &sql).await?;
        let Some(key) = keys.into_iter().next() else {
            return Ok(None);
        };
        let sql = Sql::new(
            "SELECT name, type, default_kind, default_expression \
             FROM system.columns WHERE database = ? AND table = ?",
        )
        .arg(&table.database)
        .arg(&table.table);
        let columns: Vec<TableColumn> = server.fetch_all("read table columns", &sql).await?;
        let sort_key = plain_columns(&key.sorting_key);
        Ok(Some(TableSchema {
            sort_key,
            table: table.clone(),
            columns,
            engine: key.engine,
            dependents: key.dependencies_table,
        }))
    }

    /// The values of `DEFAULT` expressions that need no other column, as text, by column name;
    /// evaluated once, for fields a record lacks. An expression that refers to other columns
    /// fails to evaluate alone and is left out.
    pub async fn constant_defaults(
        &self,
        server: &Server,
    ) -> Result<Vec<(String, String)>, ChError> {
        let mut out = Vec::new();
        for c in self.data_columns() {
            if c.default_kind != "DEFAULT" || c.default_expression.is_empty() {
                continue;
            }
            // The expression is the table's own SQL, as the server reports it.
            let sql = Sql::new(format!("SELECT toString({}) AS text", c.default_expression));
            match server
                .fetch_one::<TextRow>("evaluate a column default", &sql)
                .await
            {
                Ok(row) => out.push((c.name.clone(), row.text)),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => log::debug!("default of column {} is not constant: {e}", c.name),
            }
        }
        Ok(out)
    }

    /// Adds the provenance columns this table lacks. A metadata-only change on MergeTree tables.
    /// On a cluster, the change reaches every server (`ON CLUSTER`) unless `here_only`: a
    /// Distributed table is altered on the server connected to (18.16 refuses a distributed
    /// ALTER of a table that is not replicated on a cluster of replicated shards).
    pub async fn add_provenance(
        &mut self,
        server: &Server,
        here_only: bool,
    ) -> Result<(), ChError> {
        let on_cluster = match here_only {
            true => String::new(),
            false => server.on_cluster(),
        };
        for (name, ty) in [(PROVENANCE_FILE, "UInt64"), (PROVENANCE_ROW, "UInt64")] {
            if self.column(name).is_some() {
                continue;
            }
            // `IF NOT EXISTS` is newer than 18.16; a column added meanwhile by another run is fine.
            let sql = format!(
                "ALTER TABLE {}{on_cluster} ADD COLUMN {} {ty}",
                self.table.sql(),
                quote(name)
            );
            match server
                .execute("add provenance column", &Sql::new(sql))
                .await
            {
                Err(e) if e.code().is_some_and(|c| DUPLICATE_COLUMN.contains(&c)) => {}
                other => other?,
            }
            self.columns.push(TableColumn {
                name: name.to_owned(),
                type_name: ty.to_owned(),
                default_kind: String::new(),
                default_expression: String::new(),
            });
        }
        Ok(())
    }
}

/// A sorting key such as `asin, timestamp` (or `(id)`, as newer servers report a parenthesized
/// single column) as column names; empty if any part is an expression.
fn plain_columns(key: &str) -> Vec<String> {
    let key = key.trim();
    let key = key
        .strip_prefix('(')
        .and_then(|k| k.strip_suffix(')'))
        .filter(|k| !k.contains(['(', ')']))
        .unwrap_or(key);
    let names: Option<Vec<String>> = key
        .split(',')
        .map(|part| {
            let part = part.trim();
            let name = part
                .strip_prefix('`')
                .and_then(|p| p.strip_suffix('`'))
                .unwrap_or(part);
            let plain = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            plain.then(|| name.to_owned())
        })
        .collect();
    names.unwrap_or_default()
}

/// Column definitions for the provenance columns in a `CREATE TABLE`.
pub fn provenance_column_ddl() -> String {
    format!(
        "{} UInt64, {} UInt64",
        quote(PROVENANCE_FILE),
        quote(PROVENANCE_ROW)
    )
}

#[cfg(test)]
mod tests {
    use super::plain_columns;

    #[test]
    fn only_plain_column_keys_are_kept() {
        assert_eq!(plain_columns("asin, timestamp"), ["asin", "timestamp"]);
        assert_eq!(plain_columns("(id)"), ["id"]);
        assert_eq!(plain_columns("(id), (x)"), Vec::<String>::new());
        assert_eq!(plain_columns("`user id`"), Vec::<String>::new());
        assert_eq!(plain_columns("id, toDate(ts)"), Vec::<String>::new());
        assert_eq!(plain_columns(""), Vec::<String>::new());
        assert_eq!(plain_columns("tuple()"), Vec::<String>::new());
    }
}
