//! `ingest init`: everything a run would otherwise create or alter, done up front by an operator
//! with a privileged account, so that the ingesting account needs no CREATE or ALTER right.
//!
//! It creates the manifest table, its `_files` view, the rejects and run-history tables, gives a
//! manifest made by an older version its folder ids, and adds the provenance columns to the
//! configured target tables that exist. A configured target table that is missing (and that runs
//! may not create) is an error: runs would fail on it. Target tables themselves are made by a run
//! from the files' inferred schema.

use crate::ch::Server;
use crate::ch::ident::TableRef;
use crate::ch::schema::TableSchema;
use crate::config::InitConfig;
use crate::config::flags::InitArgs;
use crate::exit::{Exit, Fatal};
use crate::history;
use crate::manifest::Manifest;
use crate::text::escape;
use std::io::Write;

pub async fn init(args: &InitArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = &InitConfig::build(args)?;
    let folder = folder_id(cfg)?;
    let server = Server::connect(cfg.common.connect.clone()).await?;
    let mut manifest = Manifest::new(
        server.clone(),
        cfg.common.manifest.clone(),
        String::new(),
        folder.clone().unwrap_or_default(),
    );
    let mut lines = Vec::new();
    let ensured = manifest.ensure().await?;
    let tables = [
        manifest.table.clone(),
        manifest.files_view(),
        manifest.rejects_table(),
    ];
    for table in tables {
        lines.push(made(&table, ensured.created.contains(&table)));
    }
    if ensured.migrated {
        lines.push(format!(
            "altered {}: added folder ids; the events it holds belong to folder {}",
            manifest.table,
            escape(&manifest.stamp.folder)
        ));
    }
    let runs = history::table_for(&manifest.table);
    lines.push(made(
        &runs,
        history::ensure(&server, &runs, &manifest.stamp.folder).await?,
    ));
    let (more, missing) = targets(&server, &cfg.targets).await?;
    lines.extend(more);
    for line in lines {
        writeln!(out, "{line}").map_err(anyhow::Error::from)?;
    }
    let (what, them) = match missing.len() {
        0 => return Ok(Exit::Ok),
        1 => ("table", "it"),
        _ => ("tables", "them"),
    };
    Err(Fatal::config(format!(
        "target {what} {} {}: create {them} before the first run, or let runs create {them} \
         with --create-table",
        missing.join(", "),
        if missing.len() == 1 {
            "is missing"
        } else {
            "are missing"
        },
    )))
}

/// The data folder's id, where `init` can know it: configured, or from (or made in) the data
/// folder when it exists.
fn folder_id(cfg: &InitConfig) -> Result<Option<String>, Fatal> {
    if let Some(id) = &cfg.common.folder_id {
        return Ok(Some(id.clone()));
    }
    let Ok(dir) = cfg.common.data_dir.canonicalize() else {
        return Ok(None);
    };
    if !dir.is_dir() {
        return Ok(None);
    }
    let id = crate::folder_id::resolve(&dir, None, true).map_err(Fatal::Config)?;
    Ok(Some(id.id))
}

fn made(table: &TableRef, created: bool) -> String {
    match created {
        true => format!("created {table}"),
        false => format!("exists  {table}"),
    }
}

/// Readies each configured target table for runs: adds the provenance columns where missing.
/// Returns what it did, and the tables that are missing though runs may not create them.
async fn targets(
    server: &Server,
    tables: &[(TableRef, bool)],
) -> Result<(Vec<String>, Vec<String>), Fatal> {
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for (table, create) in tables {
        let Some(mut schema) = TableSchema::load(server, table).await? else {
            match create {
                true => lines.push(format!(
                    "missing {table}: a run creates it from its files (--create-table)"
                )),
                false => {
                    lines.push(format!("missing {table}: create it before the first run"));
                    missing.push(table.to_string());
                }
            }
            continue;
        };
        let layout = server.layout(table).await?;
        if let Some(local) = &layout.local
            && let Some(mut local) = TableSchema::load(server, local).await?
            && !local.has_provenance()
        {
            local.add_provenance(server, false).await?;
            lines.push(format!(
                "altered {}: added provenance columns {} and {}",
                local.table,
                crate::ch::schema::PROVENANCE_FILE,
                crate::ch::schema::PROVENANCE_ROW
            ));
        }
        if schema.has_provenance() {
            lines.push(format!("ready   {table}"));
        } else {
            schema
                .add_provenance(server, layout.local.is_some())
                .await?;
            lines.push(format!(
                "altered {table}: added provenance columns {} and {}",
                crate::ch::schema::PROVENANCE_FILE,
                crate::ch::schema::PROVENANCE_ROW
            ));
        }
    }
    Ok((lines, missing))
}
