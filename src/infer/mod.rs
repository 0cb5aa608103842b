//! `--create-table`: a missing target table is created with columns inferred from the first
//! records of the files routed to it, plus the provenance columns. A dry run only shows the
//! statement, and goes on as if the table existed.

mod sample;
mod types;

use crate::ch::ddl::{self, CreateSpec};
use crate::ch::ident::TableRef;
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW, TableColumn, TableSchema};
use crate::ch::{ChError, Server};
use crate::exit::Fatal;
use crate::formats::Limits;
use crate::scan::FileEntry;
use sample::Sample;
use types::Features;

/// A table made (or, in a dry run, planned) from the files' inferred schema.
#[derive(Debug)]
pub struct Created {
    pub schema: TableSchema,
    /// The `CREATE TABLE` statement that was run (or would be).
    pub sql: String,
}

fn column(name: &str, type_name: String) -> TableColumn {
    TableColumn {
        name: name.to_owned(),
        type_name,
        default_kind: String::new(),
        default_expression: String::new(),
    }
}

/// Infers the columns of `table` from `files` and creates it, unless `dry_run`.
pub async fn create_table(
    server: &Server,
    table: &TableRef,
    files: Vec<FileEntry>,
    spec: &CreateSpec,
    dry_run: bool,
) -> Result<Created, Fatal> {
    let count = files.len();
    let sample = tokio::task::spawn_blocking(move || {
        let mut sample = Sample::default();
        for f in &files {
            sample.read(f, Limits::default());
        }
        sample
    })
    .await
    .map_err(|e| Fatal::Internal(e.into()))?;
    let columns = sample
        .columns(Features::of(&server.caps))
        .map_err(|e| Fatal::config(format!("cannot create table {table}: {e}")))?;
    if columns.is_empty() {
        let why = sample
            .first_error
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default();
        return Err(Fatal::config(format!(
            "cannot create table {table}: no fields found in the first records of its \
             {count} files{why}"
        )));
    }
    let dedup_window = server
        .caps
        .has_merge_tree_setting("non_replicated_deduplication_window");
    let sql = ddl::create_table_sql(table, &columns, spec, dedup_window);
    if dry_run {
        let mut cols: Vec<TableColumn> = columns
            .iter()
            .map(|(name, ty)| column(name, ty.to_string()))
            .collect();
        cols.push(column(PROVENANCE_FILE, "UInt64".to_owned()));
        cols.push(column(PROVENANCE_ROW, "UInt64".to_owned()));
        let schema = TableSchema {
            sort_key: Vec::new(),
            table: table.clone(),
            engine: spec.engine.clone(),
            columns: cols,
        };
        return Ok(Created { schema, sql });
    }
    server.create_table(&sql).await?;
    log::warn!(
        "created table {table} from {} records of {} files",
        sample.records,
        sample.files_read
    );
    let schema = TableSchema::load(server, table)
        .await?
        .ok_or_else(|| ChError::Client(format!("table {table} is missing after CREATE TABLE")))?;
    Ok(Created { schema, sql })
}
