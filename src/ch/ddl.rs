//! Statements that create and describe tables: whether a table exists, creating one only when it
//! is missing (so a run by a user without CREATE rights works against tables an operator made
//! with `ingest init`), and the `CREATE TABLE` for an inferred schema with the checks on the engine
//! and ORDER BY clauses, which come from the configuration as SQL text.

use super::ident::{TableRef, quote};
use super::schema::{PROVENANCE_FILE, PROVENANCE_ROW, provenance_column_ddl};
use super::types::ChType;
use super::{ChError, Server, Sql};
use serde::Deserialize;

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    n: u64,
}

impl Server {
    /// Whether a table or view exists, asked of `system.tables` (which needs no extra right).
    pub async fn table_exists(&self, table: &TableRef) -> Result<bool, ChError> {
        let sql =
            Sql::new("SELECT count() AS n FROM system.tables WHERE database = ? AND name = ?")
                .arg(&table.database)
                .arg(&table.table);
        let c: Count = self.fetch_one("look up a table", &sql).await?;
        Ok(c.n > 0)
    }

    /// Runs `ddl` (a `CREATE … IF NOT EXISTS`) only if `table` does not exist yet; says whether it
    /// ran it.
    pub async fn create_if_missing(
        &self,
        what: &str,
        table: &TableRef,
        ddl: &str,
    ) -> Result<bool, ChError> {
        if self.table_exists(table).await? {
            return Ok(false);
        }
        match self.execute(what, &Sql::new(ddl)).await {
            Ok(()) => Ok(true),
            Err(ChError::Server { code, message }) => Err(ChError::Server {
                code,
                message: format!("cannot create {table}: {message}"),
            }),
            Err(e) => Err(e),
        }
    }

    /// Rows in a table (MergeTree answers from its parts' metadata).
    pub async fn row_count(&self, table: &TableRef) -> Result<u64, ChError> {
        let sql = Sql::new(format!("SELECT count() AS n FROM {}", table.sql()));
        let c: Count = self.fetch_one("count rows", &sql).await?;
        Ok(c.n)
    }

    /// `ALTER TABLE … ADD COLUMN name ty` for a column an older version's table lacks (a
    /// metadata-only change); `false` if another run added it first. `ty` is the program's own.
    pub async fn add_column(
        &self,
        table: &TableRef,
        name: &str,
        ty: &str,
    ) -> Result<bool, ChError> {
        let sql = Sql::new(add_column_sql(table, &self.on_cluster(), name, ty));
        match self.execute("add a column", &sql).await {
            Ok(()) => Ok(true),
            Err(e) if e.code().is_some_and(|c| DUPLICATE_COLUMN.contains(&c)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Runs a `CREATE TABLE` made by [`create_table_sql`].
    pub async fn create_table(&self, ddl: &str) -> Result<(), ChError> {
        self.execute("create table", &Sql::new(ddl)).await
    }
}

/// "Cannot add column: already exists" (15 on current servers, 44 on 18.x).
pub(super) const DUPLICATE_COLUMN: [u32; 2] = [15, 44];

pub const DEFAULT_ENGINE: &str = "MergeTree";

/// How to create a missing table.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSpec {
    pub engine: String,
    pub order_by: String,
}

impl Default for CreateSpec {
    fn default() -> Self {
        CreateSpec {
            engine: DEFAULT_ENGINE.to_owned(),
            order_by: format!("({PROVENANCE_FILE}, {PROVENANCE_ROW})"),
        }
    }
}

/// One SQL clause: balanced parentheses and quotes, and nothing that could end the statement or
/// start a comment outside quotes.
fn check_clause(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("is empty".to_owned());
    }
    if text.chars().any(char::is_control) {
        return Err("has control characters".to_owned());
    }
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "has an unbalanced `)`".to_owned())?;
            }
            (None, ';') => return Err("must not contain `;`".to_owned()),
            (None, '-') if chars.peek() == Some(&'-') => {
                return Err("must not contain a comment".to_owned());
            }
            (None, '/') if chars.peek() == Some(&'*') => {
                return Err("must not contain a comment".to_owned());
            }
            (None, '#') => return Err("must not contain a comment".to_owned()),
            _ => {}
        }
    }
    if quote.is_some() {
        return Err("has an unclosed quote".to_owned());
    }
    if depth != 0 {
        return Err("has an unclosed `(`".to_owned());
    }
    Ok(())
}

/// An engine: a name such as `MergeTree`, optionally with arguments in parentheses.
pub fn check_engine(text: &str) -> Result<(), String> {
    let text = text.trim();
    let name_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let rest = text[name_len..].trim_start();
    let named = text.starts_with(|c: char| c.is_ascii_alphabetic());
    if !named || !(rest.is_empty() || (rest.starts_with('(') && rest.ends_with(')'))) {
        return Err(format!(
            "`{text}` is not an engine like MergeTree or ReplacingMergeTree(version)"
        ));
    }
    check_clause(text).map_err(|e| format!("`{text}` {e}"))
}

pub fn check_order_by(text: &str) -> Result<(), String> {
    check_clause(text).map_err(|e| format!("`{}` {e}", text.trim()))
}

/// `CREATE TABLE IF NOT EXISTS` with the inferred columns, then the provenance columns. Where the
/// server has it, a plain MergeTree table keeps a deduplication window so that the tokens inserts
/// carry take effect (extra safety on top of provenance).
/// `ALTER TABLE … ADD COLUMN`: a metadata-only change. (`IF NOT EXISTS` is newer than 18.16;
/// [`Server::add_column`] takes a column added meanwhile as added.) `ty` is a type this program
/// wrote (a `ChType` or one of its own), never text from a file.
pub fn add_column_sql(table: &TableRef, on_cluster: &str, name: &str, ty: &str) -> String {
    format!(
        "ALTER TABLE {}{on_cluster} ADD COLUMN {} {ty}",
        table.sql(),
        quote(name)
    )
}

pub fn create_table_sql(
    table: &TableRef,
    columns: &[(String, ChType)],
    spec: &CreateSpec,
    dedup_window: bool,
    on_cluster: &str,
) -> String {
    let mut defs: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("{} {ty}", quote(name)))
        .collect();
    defs.push(provenance_column_ddl());
    // On a cluster, the default engine is replicated within each shard.
    let engine = match on_cluster.is_empty() || spec.engine != DEFAULT_ENGINE {
        true => spec.engine.clone(),
        false => format!(
            "ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{}/{}', '{{replica}}')",
            table.database, table.table
        ),
    };
    let engine_name = engine.split('(').next().unwrap_or("").trim();
    let mut order_by = if engine_name.ends_with("MergeTree") {
        format!(" ORDER BY {}", spec.order_by)
    } else {
        String::new()
    };
    if dedup_window && engine_name == "MergeTree" {
        order_by.push_str(" SETTINGS non_replicated_deduplication_window = 1000");
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {}{on_cluster} ({}) ENGINE = {engine}{order_by}",
        table.sql(),
        defs.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_and_order_by_are_checked() {
        assert!(check_engine("MergeTree").is_ok());
        assert!(check_engine("ReplicatedMergeTree('/t/{shard}', '{replica}')").is_ok());
        assert!(check_engine("ReplacingMergeTree(ver)").is_ok());
        assert_eq!(
            check_engine("MergeTree; DROP TABLE x").unwrap_err(),
            "`MergeTree; DROP TABLE x` is not an engine like MergeTree or ReplacingMergeTree(version)"
        );
        assert!(check_engine("MergeTree() SETTINGS x = 1").is_err());
        assert!(check_engine("(x)").is_err());
        assert!(check_order_by("(a, toDate(ts))").is_ok());
        assert!(check_order_by("tuple()").is_ok());
        assert_eq!(
            check_order_by("a;").unwrap_err(),
            "`a;` must not contain `;`"
        );
        assert!(check_order_by("a -- x").is_err());
        assert!(check_order_by("(a").is_err());
        assert!(check_order_by("a)").is_err());
        assert!(check_order_by("'a").is_err());
        assert!(check_order_by("  ").is_err());
        assert!(check_order_by("concat('a;b', x)").is_ok());
    }

    #[test]
    fn statements_quote_names_and_end_with_provenance() {
        let t = TableRef::parse("events", "db").unwrap();
        let cols = vec![
            ("id".to_owned(), ChType::Int64),
            (
                "user name".to_owned(),
                ChType::Nullable(Box::new(ChType::String)),
            ),
        ];
        assert_eq!(
            create_table_sql(&t, &cols, &CreateSpec::default(), false, ""),
            "CREATE TABLE IF NOT EXISTS `db`.`events` (`id` Int64, `user name` Nullable(String), \
             `_ingest_file` UInt64, `_ingest_row` UInt64) ENGINE = MergeTree \
             ORDER BY (_ingest_file, _ingest_row)"
        );
        assert!(
            create_table_sql(&t, &cols, &CreateSpec::default(), true, "")
                .ends_with(" SETTINGS non_replicated_deduplication_window = 1000")
        );
        let log = CreateSpec {
            engine: "Log".into(),
            ..CreateSpec::default()
        };
        assert!(create_table_sql(&t, &cols, &log, true, "").ends_with("ENGINE = Log"));
        assert_eq!(
            create_table_sql(
                &t,
                &cols[..1],
                &CreateSpec::default(),
                true,
                " ON CLUSTER `c`"
            ),
            "CREATE TABLE IF NOT EXISTS `db`.`events` ON CLUSTER `c` (`id` Int64, \
             `_ingest_file` UInt64, `_ingest_row` UInt64) ENGINE = \
             ReplicatedMergeTree('/clickhouse/tables/{shard}/db/events', '{replica}') \
             ORDER BY (_ingest_file, _ingest_row)"
        );
    }
}
