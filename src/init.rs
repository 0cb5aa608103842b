//! `ingest init`: everything a run would otherwise create or alter, done up front by an operator
//! with a privileged account, so that the ingesting account needs no CREATE or ALTER right.
//!
//! It creates the manifest table, its `_files` view, the rejects and run-history tables, and adds the
//! provenance columns to the configured target tables that exist. Target tables themselves are
//! made by a run from the files' inferred schema; creating them here, from the config, belongs in
//! `targets` below once the config can describe them.

use crate::ch::Server;
use crate::ch::ident::TableRef;
use crate::ch::schema::TableSchema;
use crate::config::InitConfig;
use crate::exit::Fatal;
use crate::history;
use crate::manifest::Manifest;
use std::io::Write;

pub async fn init(cfg: &InitConfig, out: &mut dyn Write) -> Result<(), Fatal> {
    let server = Server::connect(cfg.common.connect.clone()).await?;
    let manifest = Manifest::new(server.clone(), cfg.common.manifest.clone(), String::new());
    let mut lines = Vec::new();
    let created = manifest.ensure().await?;
    let tables = [
        manifest.table.clone(),
        manifest.files_view(),
        manifest.rejects_table(),
    ];
    for table in tables {
        lines.push(made(&table, created.contains(&table)));
    }
    let runs = history::table_for(&manifest.table);
    lines.push(made(&runs, history::ensure(&server, &runs).await?));
    lines.extend(targets(&server, &cfg.targets).await?);
    for line in lines {
        writeln!(out, "{line}").map_err(anyhow::Error::from)?;
    }
    Ok(())
}

fn made(table: &TableRef, created: bool) -> String {
    match created {
        true => format!("created {table}"),
        false => format!("exists  {table}"),
    }
}

/// Readies each configured target table for runs: adds the provenance columns where missing.
async fn targets(server: &Server, tables: &[TableRef]) -> Result<Vec<String>, Fatal> {
    let mut lines = Vec::new();
    for table in tables {
        let Some(mut schema) = TableSchema::load(server, table).await? else {
            lines.push(format!("missing {table}: create it before the first run"));
            continue;
        };
        if schema.has_provenance() {
            lines.push(format!("ready   {table}"));
        } else {
            schema.add_provenance(server).await?;
            lines.push(format!(
                "altered {table}: added provenance columns {} and {}",
                crate::ch::schema::PROVENANCE_FILE,
                crate::ch::schema::PROVENANCE_ROW
            ));
        }
    }
    Ok(lines)
}
