//! `ingest status`: recent files with their state, rows and errors, read from the manifest.

use crate::ch::Server;
use crate::config::StatusConfig;
use crate::exit::Fatal;
use crate::manifest::Manifest;
use serde::Deserialize;
use std::io::Write;

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Recent {
    path: String,
    target_table: String,
    state: String,
    rows: u64,
    error: String,
    last: u32,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct StateCount {
    state: String,
    files: u64,
    rows: u64,
}

pub async fn status(cfg: &StatusConfig, out: &mut dyn Write) -> Result<(), Fatal> {
    let server = Server::connect(cfg.common.connect.clone()).await?;
    let manifest = Manifest::new(server.clone(), cfg.common.manifest.clone(), String::new());
    if !manifest.exists().await? {
        writeln!(
            out,
            "no manifest table {} yet: nothing has been ingested",
            manifest.table
        )
        .map_err(anyhow::Error::from)?;
        return Ok(());
    }
    let latest = crate::manifest::latest_by_content(&manifest.table);
    let totals_sql = format!(
        "SELECT state, count() AS files, sum(last_rows) AS rows FROM ({latest}) \
         GROUP BY state ORDER BY state"
    );
    let totals: Vec<StateCount> = server
        .fetch_all("read manifest totals", |c| c.query_raw(&totals_sql))
        .await?;
    let recent_sql = format!(
        "SELECT last_path AS path, target_table, state, last_rows AS rows, \
         last_error AS error, last_event AS last FROM ({latest}) \
         ORDER BY last DESC, path LIMIT ?"
    );
    let recent: Vec<Recent> = server
        .fetch_all("read recent files", |c| {
            c.query(&recent_sql).bind(cfg.limit)
        })
        .await?;
    print(out, &totals, &recent).map_err(anyhow::Error::from)?;
    Ok(())
}

fn print(out: &mut dyn Write, totals: &[StateCount], recent: &[Recent]) -> std::io::Result<()> {
    let summary: Vec<String> = totals
        .iter()
        .map(|t| format!("{} {} ({} rows)", t.files, t.state, t.rows))
        .collect();
    writeln!(
        out,
        "files: {}",
        if summary.is_empty() {
            "none".to_owned()
        } else {
            summary.join(", ")
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<20} {:<10} {:>10}  {:<24} FILE",
        "LAST EVENT (UTC)", "STATE", "ROWS", "TABLE"
    )?;
    for r in recent {
        let when = chrono::DateTime::from_timestamp(i64::from(r.last), 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        writeln!(
            out,
            "{when:<20} {:<10} {:>10}  {:<24} {}",
            r.state, r.rows, r.target_table, r.path
        )?;
        if !r.error.is_empty() {
            let first = r.error.lines().next().unwrap_or("");
            writeln!(out, "{:<20} error: {first}", "")?;
        }
    }
    Ok(())
}
