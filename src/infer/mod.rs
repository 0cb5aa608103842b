//! `--create-table`: a missing target table is created with columns inferred from the first
//! records of the files routed to it, plus the provenance columns. A dry run only shows the
//! statement, and goes on as if the table existed.

pub mod evolve;
mod sample;
mod types;

use crate::ch::ddl::{self, CreateSpec};
use crate::ch::ident::TableRef;
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW, TableColumn, TableSchema};
use crate::ch::types::ChType;
use crate::ch::{ChError, Server};
use crate::crashes::{Crashes, Pass};
use crate::exit::Fatal;
use crate::formats::Limits;
use crate::scan::FileEntry;
use sample::Sample;
use std::sync::{Arc, Mutex};
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

/// What inference made of a table's files.
#[derive(Debug)]
pub struct Inferred {
    /// The table, or why none can be made from the files.
    pub created: Result<Created, String>,
    /// Files whose fields cannot become columns, and why: they fail on their own.
    pub refused: Vec<(String, String)>,
}

/// Samples `files`, each on its own: a file that crashed reading twice is not read again, a
/// file that cannot be read cleanly shapes nothing, one whose fields cannot become columns (or
/// would give the table more than `max_columns`) is refused.
pub(crate) fn sample(
    files: &[FileEntry],
    max_columns: usize,
    crashes: &Mutex<Crashes>,
) -> (Sample, Vec<(String, String)>) {
    let mut sample = Sample::default();
    let mut refused = Vec::new();
    let crashes = || crashes.lock().unwrap_or_else(|e| e.into_inner());
    for f in files {
        if crashes().is_poison(f) {
            continue;
        }
        crashes().enter(Pass::First, f);
        let read = sample.read(f, Limits::default(), max_columns);
        crashes().leave(Pass::First, &f.rel);
        if let Err(why) = read {
            refused.push((f.rel.clone(), why));
        }
    }
    (sample, refused)
}

/// Infers the columns of `table` from `files` and creates it, unless `dry_run`. A table is
/// never made from zero records or with more than `max_columns` columns.
pub async fn create_table(
    server: &Server,
    table: &TableRef,
    files: Vec<FileEntry>,
    spec: &CreateSpec,
    dry_run: bool,
    max_columns: usize,
    crashes: Arc<Mutex<Crashes>>,
) -> Result<Inferred, Fatal> {
    let count = files.len();
    let metadata: Vec<_> = files
        .iter()
        .flat_map(|f| f.rules.metadata.iter().cloned())
        .collect();
    let (sample, refused) =
        tokio::task::spawn_blocking(move || sample(&files, max_columns, &crashes))
            .await
            .map_err(|e| Fatal::Internal(e.into()))?;
    let features = Features::of(&server.caps);
    let mut columns = sample.columns(features);
    if columns.is_empty() || sample.records == 0 {
        let why = sample
            .first_error
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default();
        let what = match columns.is_empty() {
            true => "no usable fields",
            false => "no records",
        };
        let created = Err(format!(
            "table {table} does not exist, and its {count} files give {what} to create it \
             from{why}"
        ));
        return Ok(Inferred { created, refused });
    }
    for (meta, name) in metadata {
        if !columns.iter().any(|(c, _)| c == &name) {
            let ty = ChType::parse(meta.column_type(features.datetime64))
                .map_err(|e| Fatal::Internal(anyhow::anyhow!("{e}")))?;
            columns.push((name, ty));
        }
    }
    let dedup_window = server
        .caps
        .has_merge_tree_setting("non_replicated_deduplication_window");
    let sql = ddl::create_table_sql(table, &columns, spec, dedup_window, &server.on_cluster());
    if dry_run {
        let mut cols: Vec<TableColumn> = columns
            .iter()
            .map(|(name, ty)| column(name, ty.to_string()))
            .collect();
        cols.push(column(PROVENANCE_FILE, "UInt64".to_owned()));
        cols.push(column(PROVENANCE_ROW, "UInt64".to_owned()));
        let schema = TableSchema {
            columns: cols,
            ..TableSchema::empty(table)
        };
        let created = Ok(Created { schema, sql });
        return Ok(Inferred { created, refused });
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
    let created = Ok(Created { schema, sql });
    Ok(Inferred { created, refused })
}
