//! `schema = "add-columns"`: fields of a route's files that the table lacks become new `Nullable`
//! columns, typed as `--create-table` types them, and metadata columns a route names are added
//! too. Columns are only ever added: never dropped, renamed or narrowed. A dry run shows the
//! statements and reads on as if they had run.

use super::sample::Sample;
use super::types::Features;
use crate::ch::ddl::add_column_sql;
use crate::ch::schema::{TableColumn, TableSchema};
use crate::ch::types::ChType;
use crate::ch::{ChError, Server};
use crate::crashes::Crashes;
use crate::exit::Fatal;
use crate::scan::FileEntry;
use std::sync::{Arc, Mutex};

/// What adding columns did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Evolved {
    /// The `ALTER TABLE` statements, in order.
    pub statements: Vec<String>,
    /// Files whose fields cannot become columns, and why: they fail on their own.
    pub refused: Vec<(String, String)>,
}

/// The columns `files` need that `schema` lacks, each with its type: fields (after renames) as
/// `Nullable` of their inferred type, then metadata columns.
fn missing(
    schema: &TableSchema,
    sample: &Sample,
    files: &[FileEntry],
    f: Features,
) -> Vec<(String, String)> {
    let ignore_case = files.iter().any(|e| e.rules.case_insensitive);
    let has = |name: &str, added: &[(String, String)]| {
        let same = |c: &str| c == name || (ignore_case && c.eq_ignore_ascii_case(name));
        schema.columns.iter().any(|c| same(&c.name)) || added.iter().any(|(c, _)| same(c))
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let metadata: Vec<_> = files.iter().flat_map(|e| e.rules.metadata.iter()).collect();
    for (name, ty) in sample.columns(f) {
        if has(&name, &out) || metadata.iter().any(|(_, c)| *c == name) {
            continue;
        }
        let ty = match ty {
            ChType::Nullable(_) | ChType::Array(_) => ty,
            other => ChType::Nullable(Box::new(other)),
        };
        out.push((name, ty.to_string()));
    }
    for (meta, name) in metadata {
        if !has(name, &out) {
            out.push((
                name.clone(),
                format!("Nullable({})", meta.column_type(f.datetime64)),
            ));
        }
    }
    out
}

/// Adds to `schema`'s table the columns `files` need; the schema then has them (in a dry run
/// too, so that the files read as they would after the statements ran).
pub async fn add_columns(
    server: &Server,
    schema: &mut TableSchema,
    files: Vec<FileEntry>,
    dry_run: bool,
    max_columns: usize,
    crashes: Arc<Mutex<Crashes>>,
) -> Result<Evolved, Fatal> {
    let read = files.clone();
    let (sample, refused) =
        tokio::task::spawn_blocking(move || super::sample(&read, max_columns, &crashes))
            .await
            .map_err(|e| Fatal::Internal(e.into()))?;
    let missing = missing(schema, &sample, &files, Features::of(&server.caps));
    let mut evolved = Evolved {
        refused,
        ..Evolved::default()
    };
    for (name, ty) in missing {
        evolved.statements.push(add_column_sql(
            &schema.table,
            &server.on_cluster(),
            &name,
            &ty,
        ));
        if !dry_run {
            server.add_column(&schema.table, &name, &ty).await?;
        }
        schema.columns.push(TableColumn {
            name,
            type_name: ty,
            default_kind: String::new(),
            default_expression: String::new(),
        });
    }
    if !dry_run && !evolved.statements.is_empty() {
        *schema = TableSchema::load(server, &schema.table.clone())
            .await?
            .ok_or_else(|| ChError::Client(format!("table {} is gone", schema.table)))?;
        log::warn!(
            "added {} columns to table {}",
            evolved.statements.len(),
            schema.table
        );
    }
    Ok(evolved)
}
