//! `ingest status`: whether ingestion is healthy at a glance — the last runs, every file that needs
//! attention (held back, failed, quarantined, poisoned, in flight) until it is resolved, recent
//! files and totals, by path with the content each path has now, and tables that lost rows the
//! manifest records — as text for people or as one JSON document for programs.

use crate::ch::Server;
use crate::ch::ident::TableRef;
use crate::ch::status::PathStatusRow;
use crate::config::state_flags::StatusArgs;
use crate::config::{Output, StatusConfig};
use crate::exit::{Exit, Fatal};
use crate::history::{self, epoch};
use crate::manifest::{Event, Manifest};
use crate::summary::{RunFields, SCHEMA_VERSION, timestamp};
use crate::text::{escape, one_line, plural};
use crate::watch::Beacon;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// A path as `status` lists it.
#[derive(Debug, Serialize)]
struct FileJson {
    path: String,
    folder: String,
    /// The latest event: `done`, `changed`, `failed`, `claimed`, …
    state: String,
    table: String,
    /// The content the path has now (for a held-back file, the new content).
    hash: String,
    rows: u64,
    error: Option<String>,
    error_kind: String,
    detail: String,
    run_id: String,
    host: String,
    /// RFC 3339, UTC.
    last_event: String,
    #[serde(skip)]
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
    schema_version: u32,
    manifest: String,
    /// The data folder's id; `null` when the listing covers every folder of the manifest.
    folder: Option<String>,
    exists: bool,
    error: Option<String>,
    warnings: Vec<String>,
    totals: Vec<StateCount>,
    /// Files needing attention, by reason (every reason included).
    attention_counts: BTreeMap<String, u64>,
    /// The watcher of the data folder (`ingest watch`), as its card says, if one ever ran here.
    watcher: Option<WatcherJson>,
    runs: Vec<RunFields>,
    attention: Vec<FileJson>,
    recent: Vec<FileJson>,
}

/// A watcher's card, with whether it is running.
#[derive(Debug, Serialize)]
struct WatcherJson {
    #[serde(flatten)]
    card: Beacon,
    /// `true`/`false` on the machine it runs on; `null` seen from another machine.
    running: Option<bool>,
}

impl From<PathStatusRow> for FileJson {
    fn from(r: PathStatusRow) -> FileJson {
        FileJson {
            path: r.path,
            folder: r.folder,
            state: r.state,
            table: r.tbl,
            hash: r.last_hash,
            rows: r.file_rows,
            error: Some(r.last_error).filter(|e| !e.is_empty()),
            error_kind: r.kind,
            detail: r.last_detail,
            run_id: r.run,
            host: r.host_name,
            last_event: timestamp(epoch(r.last)),
            last: r.last,
        }
    }
}

/// The folder `status` is about: the configured id, else the one in the data folder's id file;
/// `None` (every folder) when there is neither.
fn folder_of(cfg: &StatusConfig) -> Result<Option<String>, Fatal> {
    if let Some(id) = &cfg.common.folder_id {
        return Ok(Some(id.clone()));
    }
    let dir = &cfg.common.data_dir;
    if !dir.is_dir() {
        return Ok(None);
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| Fatal::config(format!("data folder {}: {e}", dir.display())))?;
    crate::folder_id::read(&dir.join(crate::folder_id::ID_FILE)).map_err(Fatal::Config)
}

pub async fn status(args: &StatusArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = &StatusConfig::build(args)?;
    let folder = folder_of(cfg)?;
    let server = Server::connect(cfg.common.connect.clone()).await?;
    let mut manifest = Manifest::new(
        server.clone(),
        cfg.common.manifest.clone(),
        String::new(),
        folder.clone().unwrap_or_default(),
    );
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        manifest: manifest.table.to_string(),
        folder,
        watcher: Beacon::read(&cfg.common.data_dir).map(|card| WatcherJson {
            running: card.alive().map(|alive| alive && card.state != "stopped"),
            card,
        }),
        ..Report::default()
    };
    let missing = match manifest.open().await? {
        true => {
            report.exists = true;
            gather(&server, &manifest, cfg.limit, &mut report).await?;
            None
        }
        false => {
            let msg = format!(
                "no manifest table {}: nothing was ingested with it (check --database and \
                 --manifest-table)",
                manifest.table
            );
            report.error = Some(msg.clone());
            Some(msg)
        }
    };
    match cfg.output {
        Output::Json => serde_json::to_writer(&mut *out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        Output::Text if missing.is_none() => print(out, &report),
        Output::Text => Ok(()),
    }
    .map_err(anyhow::Error::from)?;
    match missing {
        Some(msg) => Err(Fatal::Config(msg)),
        None => Ok(Exit::Ok),
    }
}

async fn gather(
    server: &Server,
    manifest: &Manifest,
    limit: u64,
    report: &mut Report,
) -> Result<(), Fatal> {
    let table = &manifest.table;
    let folder = manifest.folder_filter();
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for t in server
        .path_totals(table, folder, manifest.has_folders())
        .await?
    {
        let entry = totals
            .entry(display_state(&t.state).to_owned())
            .or_default();
        entry.0 += t.files;
        entry.1 += t.rows;
    }
    report.totals = totals
        .into_iter()
        .map(|(state, (files, rows))| StateCount { state, files, rows })
        .collect();
    report.attention_counts = manifest.attention_counts().await?;
    report.runs = history::recent(server, table, folder, limit)
        .await?
        .iter()
        .map(|row| row.fields())
        .collect();
    report.attention = manifest
        .attention(limit)
        .await?
        .into_iter()
        .map(FileJson::from)
        .collect();
    report.recent = server
        .path_states(table, folder, manifest.has_folders(), &[], true, limit)
        .await?
        .into_iter()
        .map(FileJson::from)
        .collect();
    report.warnings = lost_rows(server, manifest).await?;
    Ok(())
}

/// States as the totals show them: a touched path's content is ingested; a claimed file and one
/// with batches sent are both in flight.
fn display_state(state: &str) -> &str {
    match state {
        "touched" => "done",
        "claimed" | "batch" => "in-flight",
        other => other,
    }
}

/// Tables the manifest records rows for that are missing or empty now.
async fn lost_rows(server: &Server, manifest: &Manifest) -> Result<Vec<String>, Fatal> {
    let mut warnings = Vec::new();
    let recorded = server
        .done_rows_by_table(&manifest.table, &Event::path_only_names())
        .await?;
    for t in recorded.into_iter().filter(|t| t.rows > 0) {
        let Ok(table) = TableRef::parse(&t.tbl, &manifest.table.database) else {
            continue;
        };
        let problem = match server.table_exists(&table).await? {
            false => "is missing",
            true if server.row_count(&table).await? == 0 => "is empty",
            true => continue,
        };
        warnings.push(format!(
            "table {table} {problem}, but the manifest records {} ingested into it; `ingest \
             verify` lists the files",
            plural(t.rows, "row")
        ));
    }
    Ok(warnings)
}

fn when(t: u32) -> String {
    epoch(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// What a path's state means for whoever reads the list, on one line.
fn explain(f: &FileJson) -> String {
    let short = |h: &str| h.get(..12).unwrap_or(h).to_owned();
    let path = escape(&f.path);
    match f.state.as_str() {
        "changed" => format!(
            "held back: its content ({}) is not what was ingested ({}); `ingest retry {path}` \
             adds it next to the old rows, `ingest retry --replace {path}` replaces them",
            short(&f.hash),
            short(&f.detail)
        ),
        "claimed" | "batch" => format!(
            "claimed by run {} on {}: a run in progress, or one that stopped and will be resumed",
            escape(&f.run_id),
            escape(&f.host)
        ),
        "retry" => "waiting for the next run (`ingest retry`)".to_owned(),
        "quarantined" => format!(
            "moved to {}; `ingest retry {path}` brings it back",
            escape(&f.detail)
        ),
        _ => String::new(),
    }
}

fn print(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    match &r.folder {
        Some(folder) => writeln!(out, "manifest {}, folder {}", r.manifest, escape(folder))?,
        None => writeln!(out, "manifest {}, every folder", r.manifest)?,
    }
    let totals: Vec<String> = r
        .totals
        .iter()
        .map(|t| format!("{} {} ({})", t.files, t.state, plural(t.rows, "row")))
        .collect();
    match totals.is_empty() {
        true => writeln!(out, "files: none")?,
        false => writeln!(out, "files: {}", escape(&totals.join(", ")))?,
    }
    for w in &r.warnings {
        writeln!(out, "warning: {}", escape(w))?;
    }
    if let Some(w) = &r.watcher {
        for line in w.card.describe(w.running) {
            writeln!(out, "{line}")?;
        }
    }
    print_runs(out, &r.runs)?;
    print_attention(out, &r.attention)?;
    print_recent(out, &r.recent)
}

fn print_runs(out: &mut dyn Write, runs: &[RunFields]) -> io::Result<()> {
    writeln!(out, "\nlast runs:")?;
    if runs.is_empty() {
        writeln!(out, "  none recorded")?;
    } else {
        writeln!(
            out,
            "{:<20} {:>8} {:>4} {:>6} {:>8} {:>6} {:>10}  RUN",
            "STARTED (UTC)", "SECONDS", "EXIT", "FILES", "INGESTED", "FAILED", "ROWS"
        )?;
    }
    for run in runs {
        let files: u64 = run.files.values().sum();
        let started = run.started.replace('T', " ").replace('Z', "");
        writeln!(
            out,
            "{:<20} {:>8.1} {:>4} {:>6} {:>8} {:>6} {:>10}  {} on {}",
            started,
            run.duration_seconds,
            run.exit_code,
            files,
            run.files.get("ingested").copied().unwrap_or(0),
            run.files.get("failed").copied().unwrap_or(0),
            run.rows,
            escape(&run.run_id),
            escape(&run.host)
        )?;
        if let Some(error) = &run.error {
            writeln!(out, "{:<20} error: {}", "", one_line(error))?;
        }
    }
    Ok(())
}

fn print_attention(out: &mut dyn Write, attention: &[FileJson]) -> io::Result<()> {
    writeln!(
        out,
        "\nneeds attention (until a run, `ingest retry` or `ingest forget` resolves it):"
    )?;
    if attention.is_empty() {
        writeln!(out, "  none")?;
    }
    for f in attention {
        writeln!(
            out,
            "{:<20} {:<11} {:<24} {}",
            when(f.last),
            escape(&f.state),
            escape(&f.table),
            escape(&f.path)
        )?;
        let note = explain(f);
        if !note.is_empty() {
            writeln!(out, "{:<20} {note}", "")?;
        }
        if let Some(error) = &f.error {
            writeln!(out, "{:<20} error: {}", "", one_line(error))?;
        }
    }
    Ok(())
}

fn print_recent(out: &mut dyn Write, recent: &[FileJson]) -> io::Result<()> {
    writeln!(out, "\nrecent files:")?;
    writeln!(
        out,
        "{:<20} {:<11} {:>10}  {:<24} FILE",
        "LAST EVENT (UTC)", "STATE", "ROWS", "TABLE"
    )?;
    for f in recent {
        writeln!(
            out,
            "{:<20} {:<11} {:>10}  {:<24} {}",
            when(f.last),
            escape(&f.state),
            f.rows,
            escape(&f.table),
            escape(&f.path)
        )?;
    }
    Ok(())
}
