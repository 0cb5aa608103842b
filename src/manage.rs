//! `ingest retry` and `ingest forget`: an operator's explicit say over files the manifest holds —
//! try a failed or held-back file again, or treat content as never seen (optionally deleting its
//! rows by provenance).

use crate::ch::Server;
use crate::ch::ident::TableRef;
use crate::config::Common;
use crate::exit::{Exit, Fatal};
use crate::folder::Folder;
use crate::manifest::{Event, EventRow, Manifest, State};
use std::io::Write;
use std::path::Path;

/// One (table, content) the operator named, with the path it was last seen at.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    table: String,
    hash: String,
    path: String,
    event: Event,
    batch_rows: u64,
}

/// Finds entries by path (relative to the data folder) or content hash (or a prefix of at least
/// eight hex digits).
fn find(state: &State, target: &str) -> Result<Vec<Entry>, Fatal> {
    let mut found = Vec::new();
    if let Some(p) = state.by_path.get(target) {
        let content = state.content(&p.target_table, &p.file_hash);
        found.push(Entry {
            table: p.target_table.to_string(),
            hash: p.file_hash.clone(),
            path: target.to_owned(),
            event: p.event,
            batch_rows: content.map_or(0, |c| c.batch_rows),
        });
        return Ok(found);
    }
    let is_hash = target.len() >= 8 && target.chars().all(|c| c.is_ascii_hexdigit());
    if is_hash {
        for ((table, hash), c) in &state.by_content {
            if hash.starts_with(&target.to_ascii_lowercase()) {
                found.push(Entry {
                    table: table.clone(),
                    hash: hash.clone(),
                    path: c.path.clone(),
                    event: c.event,
                    batch_rows: c.batch_rows,
                });
            }
        }
    }
    let distinct: std::collections::HashSet<&str> = found.iter().map(|e| e.hash.as_str()).collect();
    if distinct.len() > 1 {
        return Err(Fatal::config(format!(
            "`{target}` matches {} different contents; give more of the hash",
            distinct.len()
        )));
    }
    if found.is_empty() {
        return Err(Fatal::config(format!(
            "the manifest knows no file or content hash `{target}`"
        )));
    }
    Ok(found)
}

fn entry_event(manifest: &Manifest, event: Event, e: &Entry) -> EventRow {
    let mut ev = manifest.event(event);
    ev.path = e.path.clone();
    ev.file_hash = e.hash.clone();
    ev.target_table = e.table.clone();
    ev.batch_rows = e.batch_rows;
    ev
}

/// Connects, reads the manifest's state and finds the entries the operator named.
async fn open(common: &Common, targets: &[String]) -> Result<(Manifest, State, Vec<Entry>), Fatal> {
    let server = Server::connect(common.connect.clone()).await?;
    let manifest = Manifest::new(server, common.manifest.clone(), crate::run::new_run_id());
    if !manifest.exists().await? {
        return Err(Fatal::config(format!(
            "no manifest table {} yet: nothing has been ingested",
            manifest.table
        )));
    }
    let state = manifest.load_state().await?;
    let mut entries = Vec::new();
    for t in targets {
        entries.extend(find(&state, t)?);
    }
    Ok((manifest, state, entries))
}

/// Marks failed, quarantined or held-back files to be tried again by the next run, moving
/// quarantined files back into the data folder.
pub async fn retry(
    common: &Common,
    data_dir: &Path,
    targets: &[String],
    all_failed: bool,
    out: &mut dyn Write,
) -> Result<Exit, Fatal> {
    let (manifest, state, mut entries) = open(common, targets).await?;
    if all_failed {
        for (path, p) in &state.by_path {
            let content = state.content(&p.target_table, &p.file_hash);
            let failed = matches!(p.event, Event::Failed | Event::Quarantined | Event::Changed);
            if failed {
                entries.push(Entry {
                    table: p.target_table.to_string(),
                    hash: p.file_hash.clone(),
                    path: path.clone(),
                    event: p.event,
                    batch_rows: content.map_or(0, |c| c.batch_rows),
                });
            }
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries.dedup();
    let mut events = Vec::new();
    for e in &entries {
        if e.event == Event::Done {
            writeln!(
                out,
                "{} is ingested; nothing to retry (use `ingest forget`)",
                e.path
            )
            .map_err(anyhow::Error::from)?;
            continue;
        }
        let mut note = String::new();
        if let Some(p) = state.by_path.get(&e.path)
            && p.event == Event::Quarantined
            && !p.detail.is_empty()
        {
            note = restore(data_dir, &e.path, Path::new(&p.detail))?;
        }
        events.push(entry_event(&manifest, Event::Retry, e));
        writeln!(out, "will retry {} into {}{note}", e.path, e.table)
            .map_err(anyhow::Error::from)?;
    }
    manifest.write(&events).await?;
    if events.is_empty() && !all_failed {
        return Err(Fatal::config("nothing to retry"));
    }
    writeln!(
        out,
        "{} files will be tried again by the next run",
        events.len()
    )
    .map_err(anyhow::Error::from)?;
    Ok(Exit::Ok)
}

/// Moves a quarantined file back to where it was found (`rel` in the data folder), removing its
/// error report. A quarantine folder inside the data folder is walked beneath it without
/// following a symlink; one outside it is the operator's own.
fn restore(data_dir: &Path, rel: &str, from: &Path) -> Result<String, Fatal> {
    let fail = |e: std::io::Error| {
        Fatal::Internal(anyhow::anyhow!("cannot move {} back: {e}", from.display()))
    };
    let root = Folder::open(data_dir).map_err(fail)?;
    let (source, from_rel) = match from.strip_prefix(data_dir) {
        Ok(inside) => (None, inside.to_string_lossy().into_owned()),
        Err(_) => {
            let parent = from.parent().unwrap_or(Path::new("/"));
            (Some(Folder::open(parent).map_err(fail)?), file_name(from))
        }
    };
    let source = source.as_ref().unwrap_or(&root);
    if !source.exists(&from_rel) {
        return Ok(format!(
            " ({} is gone; put the file back yourself)",
            from.display()
        ));
    }
    if root.exists(rel) {
        return Ok(format!(
            " ({} exists; left the quarantined copy)",
            data_dir.join(rel).display()
        ));
    }
    crate::run::dispose::move_into(source, &from_rel, &root, rel, "").map_err(fail)?;
    let _ = source.remove(&format!("{from_rel}.error.txt"));
    Ok(format!(" (moved back from {})", from.display()))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Treats content as never seen, so its file is ingested again; optionally deletes its rows.
pub async fn forget(
    common: &Common,
    targets: &[String],
    delete_rows: bool,
    out: &mut dyn Write,
) -> Result<Exit, Fatal> {
    let (manifest, _, entries) = open(common, targets).await?;
    for e in &entries {
        if delete_rows {
            let table = TableRef::parse(&e.table, &common.database)
                .map_err(|err| Fatal::config(err.to_string()))?;
            let server = manifest.server();
            let deleted = server
                .delete_file_rows(&table, crate::hash::file_id(&e.hash))
                .await?;
            server
                .delete_rejects(&manifest.rejects_table(), &e.hash)
                .await?;
            writeln!(out, "deleted {deleted} rows of {} from {}", e.path, e.table)
                .map_err(anyhow::Error::from)?;
        }
        writeln!(
            out,
            "forgot {} ({} in {})",
            e.path,
            e.hash.get(..12).unwrap_or(&e.hash),
            e.table
        )
        .map_err(anyhow::Error::from)?;
    }
    let events: Vec<EventRow> = entries
        .iter()
        .map(|e| entry_event(&manifest, Event::Forgotten, e))
        .collect();
    manifest.write(&events).await?;
    Ok(Exit::Ok)
}
