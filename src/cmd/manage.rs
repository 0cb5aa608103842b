//! What `ingest retry` and `ingest forget` share: finding the files the operator named (by path
//! relative to the data folder, a path through it, or a content hash) in the manifest, and asking
//! a table what it holds of a content. Neither command ever makes a row land twice: the next run
//! asks the table what it holds of a forgotten or retried content before sending it.

use crate::ch::Server;
use crate::ch::ident::TableRef;
use crate::config::{Common, ManageConfig};
use crate::exit::Fatal;
use crate::hash::file_id;
use crate::manifest::{ContentState, Event, EventRow, Manifest, State};
use crate::reconcile::Problem;
use crate::text::escape;
use std::io::Write;
use std::path::{Component, Path};

/// One (table, content) the operator named, with the path it was last seen at.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    pub(super) table: String,
    pub(super) hash: String,
    pub(super) path: String,
    /// The path's latest event (for a path), or the content's (for a hash).
    pub(super) event: Event,
    pub(super) batch_rows: u64,
    /// For a held-back path: the content that was ingested there (the one held back is `hash`).
    pub(super) ingested: Option<String>,
    /// What `ingest verify` found wrong with its rows, when that is why it is named.
    pub(super) problem: Option<Problem>,
    /// Named by its hash while its path holds other content now: events about it leave the path
    /// alone (they carry no path), so the path keeps resolving to what it holds.
    pub(super) content_only: bool,
}

pub(super) fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

pub(super) fn write_line(out: &mut dyn Write, line: &str) -> Result<(), Fatal> {
    writeln!(out, "{line}").map_err(|e| Fatal::Internal(e.into()))
}

/// A path as the manifest keeps it (relative to the data folder, `/`-separated), from what the
/// operator typed: relative to the data folder, or a path (relative to the current folder, so
/// possibly through the data folder, or absolute) that leads inside it.
pub(super) fn relative_path(data_dir: &Path, target: &str) -> Option<String> {
    let typed = Path::new(target);
    let absolute = std::path::absolute(typed).ok()?;
    let resolved = absolute.canonicalize().ok().or_else(|| {
        let parent = absolute.parent()?.canonicalize().ok()?;
        Some(parent.join(absolute.file_name()?))
    })?;
    let rel = resolved.strip_prefix(data_dir).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(p) => p.to_str(),
            _ => None,
        })
        .collect();
    parts.filter(|p| !p.is_empty()).map(|p| p.join("/"))
}

pub(super) fn path_entry(state: &State, path: &str) -> Option<Entry> {
    let p = state.by_path.get(path)?;
    let content = state.content(&p.target_table, &p.file_hash);
    Some(Entry {
        table: p.target_table.to_string(),
        hash: p.file_hash.clone(),
        path: path.to_owned(),
        event: p.event,
        batch_rows: content.map_or(0, |c| c.batch_rows),
        ingested: (p.event == Event::Changed).then(|| p.detail.clone()),
        problem: None,
        content_only: false,
    })
}

/// Finds what `target` names: a path of this folder (as the manifest has it, or leading into
/// the data folder) resolves to the content the path has now; a content hash (or a prefix of at
/// least eight hex digits) to that content in every table that has it.
pub(super) fn find(state: &State, data_dir: &Path, target: &str) -> Result<Vec<Entry>, Fatal> {
    let trimmed = target.trim_start_matches("./");
    if let Some(e) = path_entry(state, trimmed) {
        return Ok(vec![e]);
    }
    if let Some(e) = relative_path(data_dir, target).and_then(|rel| path_entry(state, &rel)) {
        return Ok(vec![e]);
    }
    let mut found = Vec::new();
    let is_hash = target.len() >= 8 && target.chars().all(|c| c.is_ascii_hexdigit());
    if is_hash {
        let prefix = target.to_ascii_lowercase();
        for ((table, hash), c) in &state.by_content {
            if hash.starts_with(&prefix) {
                found.push(content_entry(state, table, hash, c, None));
            }
        }
    }
    let distinct: std::collections::HashSet<&str> = found.iter().map(|e| e.hash.as_str()).collect();
    if distinct.len() > 1 {
        return Err(Fatal::config(format!(
            "`{}` matches {} different contents; give more of the hash",
            escape(target),
            distinct.len()
        )));
    }
    if found.is_empty() {
        return Err(Fatal::config(format!(
            "the manifest knows no file of this data folder ({}) or content hash `{}`",
            data_dir.display(),
            escape(target)
        )));
    }
    Ok(found)
}

/// An entry for a content named by its hash (or found by `verify`).
pub(super) fn content_entry(
    state: &State,
    table: &str,
    hash: &str,
    c: &ContentState,
    problem: Option<Problem>,
) -> Entry {
    let elsewhere = state
        .by_path
        .get(&c.path)
        .is_some_and(|p| p.file_hash != hash);
    Entry {
        table: table.to_owned(),
        hash: hash.to_owned(),
        path: c.path.clone(),
        event: c.event,
        batch_rows: c.batch_rows,
        ingested: None,
        problem,
        content_only: elsewhere,
    }
}

pub(super) fn entry_event(manifest: &Manifest, event: Event, e: &Entry, hash: &str) -> EventRow {
    let mut ev = manifest.event(event);
    if !e.content_only {
        ev.path = e.path.clone();
    }
    ev.file_hash = hash.to_owned();
    ev.target_table = e.table.clone();
    ev.batch_rows = e.batch_rows;
    ev
}

/// Whichever lock keeps runs off the folder while an operator command changes its state.
#[derive(Debug)]
pub(super) enum Held {
    File(#[allow(dead_code)] crate::lock::RunLock),
    Cluster(#[allow(dead_code)] crate::coord::ClusterLock),
}

/// The lock file, or with `--coordination` the folder's cluster lock (which keeps out every run
/// of the folder, of any shard, on any host).
pub(super) fn lock(cfg: &ManageConfig) -> Result<Held, Fatal> {
    let Some(coordination) = &cfg.coordination else {
        return crate::lock::acquire(&cfg.lock_file).map(Held::File);
    };
    let common = &cfg.common;
    let folder = crate::folder_id::resolve(&common.data_dir, common.folder_id.as_deref(), true)
        .map_err(Fatal::Config)?;
    let holder = crate::coord::Holder {
        run_id: crate::outcome::new_run_id(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        pid: std::process::id(),
    };
    crate::coord::acquire(coordination, &folder.id, None, &holder).map(Held::Cluster)
}

/// Connects as the data folder (whose id it reads, or makes, under the caller's lock), readies a
/// manifest made by an older version, and reads its state.
pub(super) async fn open(common: &Common) -> Result<(Manifest, State), Fatal> {
    let folder = crate::folder_id::resolve(&common.data_dir, common.folder_id.as_deref(), true)
        .map_err(Fatal::Config)?;
    let server = Server::connect(common.connect.clone()).await?;
    let mut manifest = Manifest::new(
        server,
        common.manifest.clone(),
        crate::outcome::new_run_id(),
        folder.id,
    );
    if !manifest.open().await? {
        return Err(Fatal::config(format!(
            "no manifest table {}: nothing was ingested with it (check --database and \
             --manifest-table)",
            manifest.table
        )));
    }
    manifest.ensure().await?;
    let state = manifest.load_state().await?;
    Ok((manifest, state))
}

pub(super) fn table_ref(common: &Common, table: &str) -> Result<TableRef, Fatal> {
    TableRef::parse(table, &common.database).map_err(|e| Fatal::config(e.to_string()))
}

/// Rows of a content in its table, or `None` when the table cannot say (no provenance columns, or
/// no table).
pub(super) async fn rows_in_table(
    server: &Server,
    table: &TableRef,
    hash: &str,
) -> Result<Option<(u64, u64)>, Fatal> {
    match crate::ch::schema::TableSchema::load(server, table).await? {
        Some(schema) if schema.has_provenance() => {
            let id = file_id(hash);
            let counts = server.provenance_counts(table, &[id]).await?;
            Ok(Some(counts.get(&id).copied().unwrap_or((0, 0))))
        }
        _ => Ok(None),
    }
}

/// Deletes a content's rows and recorded rejects, waiting until they are gone; how many rows.
pub(super) async fn delete_rows(
    manifest: &Manifest,
    table: &TableRef,
    hash: &str,
) -> Result<u64, Fatal> {
    let server = manifest.server();
    let deleted = server.delete_file_rows(table, file_id(hash)).await?;
    server
        .delete_rejects(&manifest.rejects_table(), hash)
        .await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_through_the_data_folder_become_relative() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("sub/a.csv"), "x").unwrap();
        let data = data.canonicalize().unwrap();
        let abs = data.join("sub/a.csv");
        assert_eq!(
            relative_path(&data, abs.to_str().unwrap()).as_deref(),
            Some("sub/a.csv")
        );
        let gone = data.join("sub/gone.csv");
        assert_eq!(
            relative_path(&data, gone.to_str().unwrap()).as_deref(),
            Some("sub/gone.csv"),
            "a file that is not there any more still names its path"
        );
        assert_eq!(relative_path(&data, "/etc/passwd"), None);
        assert_eq!(relative_path(&data, data.to_str().unwrap()), None);
    }
}
