//! `ingest status`: whether ingestion is healthy at a glance — the last runs, files in flight,
//! failed and quarantined files with their first error, recent files and totals — as text for
//! people or as one JSON document for programs.

use crate::ch::Server;
use crate::ch::manifest;
use crate::config::{Output, StatusConfig};
use crate::exit::Fatal;
use crate::history::{self, RunRow};
use crate::manifest::{Event, Manifest};
use crate::summary::timestamp;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Serialize)]
struct FileRow {
    path: String,
    #[serde(rename(serialize = "table"))]
    target_table: String,
    state: String,
    rows: u64,
    error: String,
    #[serde(rename(serialize = "run_id"))]
    run: String,
    #[serde(rename(serialize = "host"))]
    host_name: String,
    #[serde(serialize_with = "as_timestamp", rename(serialize = "last_event"))]
    last: u32,
}

#[derive(Debug, Serialize)]
struct StateCount {
    state: String,
    files: u64,
    rows: u64,
}

/// Everything `status` shows.
#[derive(Debug, Default, Serialize)]
struct Report {
    manifest: String,
    exists: bool,
    totals: Vec<StateCount>,
    runs: Vec<JsonRun>,
    in_flight: Vec<FileRow>,
    problems: Vec<FileRow>,
    recent: Vec<FileRow>,
}

#[derive(Debug, Serialize)]
struct JsonRun {
    #[serde(flatten)]
    row: RunRow,
    started_at: String,
    finished_at: String,
}

impl From<manifest::FileRow> for FileRow {
    fn from(r: manifest::FileRow) -> FileRow {
        FileRow {
            path: r.path,
            target_table: r.target_table,
            state: r.state,
            rows: r.rows,
            error: r.error,
            run: r.run,
            host_name: r.host_name,
            last: r.last,
        }
    }
}

fn as_timestamp<S: serde::Serializer>(t: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timestamp(epoch(*t)))
}

fn epoch(t: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(i64::from(t), 0).unwrap_or_default()
}

pub async fn status(cfg: &StatusConfig, out: &mut dyn Write) -> Result<(), Fatal> {
    let server = Server::connect(cfg.common.connect.clone()).await?;
    let manifest = Manifest::new(server.clone(), cfg.common.manifest.clone(), String::new());
    let mut report = Report {
        manifest: manifest.table.to_string(),
        ..Report::default()
    };
    if manifest.exists().await? {
        report.exists = true;
        gather(&server, &manifest, cfg.limit, &mut report).await?;
    }
    match cfg.output {
        Output::Json => serde_json::to_writer(&mut *out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        Output::Text => print(out, &report),
    }
    .map_err(anyhow::Error::from)?;
    Ok(())
}

async fn gather(
    server: &Server,
    manifest: &Manifest,
    limit: u64,
    report: &mut Report,
) -> Result<(), Fatal> {
    let table = &manifest.table;
    let path_only = Event::path_only_names();
    report.totals = server
        .manifest_totals(table, &path_only)
        .await?
        .into_iter()
        .map(|t| StateCount {
            state: t.state,
            files: t.files,
            rows: t.rows,
        })
        .collect();
    report.runs = history::recent(server, table, limit)
        .await?
        .into_iter()
        .map(|row| JsonRun {
            started_at: timestamp(epoch(row.started)),
            finished_at: timestamp(epoch(row.finished)),
            row,
        })
        .collect();
    let files = |states: &'static [&'static str]| async move {
        let rows = server
            .manifest_files(table, &Event::path_only_names(), states, limit)
            .await?;
        Ok::<Vec<FileRow>, Fatal>(rows.into_iter().map(FileRow::from).collect())
    };
    report.in_flight = files(&["claimed", "batch"]).await?;
    report.problems = files(&["failed", "quarantined"]).await?;
    report.recent = files(&[]).await?;
    Ok(())
}

fn when(t: u32) -> String {
    epoch(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn print(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    if !r.exists {
        return writeln!(
            out,
            "no manifest table {} yet: nothing has been ingested",
            r.manifest
        );
    }
    let totals: Vec<String> = r
        .totals
        .iter()
        .map(|t| format!("{} {} ({} rows)", t.files, t.state, t.rows))
        .collect();
    writeln!(out, "manifest {}", r.manifest)?;
    match totals.is_empty() {
        true => writeln!(out, "files: none")?,
        false => writeln!(out, "files: {}", totals.join(", "))?,
    }

    writeln!(out, "\nlast runs:")?;
    if r.runs.is_empty() {
        writeln!(out, "  none recorded")?;
    } else {
        writeln!(
            out,
            "{:<20} {:>8} {:>4} {:>6} {:>8} {:>6} {:>10}  RUN",
            "STARTED (UTC)", "SECONDS", "EXIT", "FILES", "INGESTED", "FAILED", "ROWS"
        )?;
    }
    for run in &r.runs {
        let row = &run.row;
        writeln!(
            out,
            "{:<20} {:>8.1} {:>4} {:>6} {:>8} {:>6} {:>10}  {} on {}",
            when(row.started),
            row.duration_seconds,
            row.exit_code,
            row.files_total,
            row.files_ingested,
            row.files_failed,
            row.rows,
            row.run_id,
            row.host
        )?;
        if !row.error.is_empty() {
            writeln!(out, "{:<20} error: {}", "", first_line(&row.error))?;
        }
    }

    writeln!(out, "\nin flight (claimed, not done):")?;
    if r.in_flight.is_empty() {
        writeln!(out, "  none")?;
    }
    for f in &r.in_flight {
        writeln!(
            out,
            "{:<20} {:<10} {:<24} {} (run {} on {})",
            when(f.last),
            f.state,
            f.target_table,
            f.path,
            f.run,
            f.host_name
        )?;
    }

    writeln!(out, "\nfailed or quarantined:")?;
    if r.problems.is_empty() {
        writeln!(out, "  none")?;
    }
    for f in &r.problems {
        writeln!(
            out,
            "{:<20} {:<11} {:<24} {}",
            when(f.last),
            f.state,
            f.target_table,
            f.path
        )?;
        writeln!(out, "{:<20} error: {}", "", first_line(&f.error))?;
    }

    writeln!(out, "\nrecent files:")?;
    writeln!(
        out,
        "{:<20} {:<11} {:>10}  {:<24} FILE",
        "LAST EVENT (UTC)", "STATE", "ROWS", "TABLE"
    )?;
    for f in &r.recent {
        writeln!(
            out,
            "{:<20} {:<11} {:>10}  {:<24} {}",
            when(f.last),
            f.state,
            f.rows,
            f.target_table,
            f.path
        )?;
    }
    Ok(())
}
