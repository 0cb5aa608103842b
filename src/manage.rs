//! `ingest retry` and `ingest forget`: an operator's explicit say over files the manifest holds —
//! try a failed, quarantined or held-back file again, repair a file whose rows `ingest verify`
//! found missing, short or doubled, or treat content as never seen (optionally deleting its rows
//! by provenance). Neither ever makes a row land twice: the next run asks the table what it holds
//! of a forgotten or retried content before sending it, and each command says what it will do.

use crate::ch::Server;
use crate::ch::ident::TableRef;
use crate::config::Common;
use crate::exit::{Exit, Fatal};
use crate::folder::Folder;
use crate::hash::file_id;
use crate::manifest::{ContentState, Event, EventRow, Manifest, State};
use crate::text::{escape, plural};
use crate::verify::{self, Problem};
use std::io::Write;
use std::path::{Component, Path};

/// One (table, content) the operator named, with the path it was last seen at.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    table: String,
    hash: String,
    path: String,
    /// The path's latest event (for a path), or the content's (for a hash).
    event: Event,
    batch_rows: u64,
    /// For a held-back path: the content that was ingested there (the one held back is `hash`).
    ingested: Option<String>,
    /// What `ingest verify` found wrong with its rows, when that is why it is named.
    problem: Option<Problem>,
    /// Named by its hash while its path holds other content now: events about it leave the path
    /// alone (they carry no path), so the path keeps resolving to what it holds.
    content_only: bool,
}

/// What the operator asked for, from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryOptions {
    pub all_failed: bool,
    pub all_mismatched: bool,
    pub replace: bool,
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn write_line(out: &mut dyn Write, line: &str) -> Result<(), Fatal> {
    writeln!(out, "{line}").map_err(|e| Fatal::Internal(e.into()))
}

/// A path as the manifest keeps it (relative to the data folder, `/`-separated), from what the
/// operator typed: relative to the data folder, or a path (relative to the current folder, so
/// possibly through the data folder, or absolute) that leads inside it.
fn relative_path(data_dir: &Path, target: &str) -> Option<String> {
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

fn path_entry(state: &State, path: &str) -> Option<Entry> {
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
fn find(state: &State, data_dir: &Path, target: &str) -> Result<Vec<Entry>, Fatal> {
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
fn content_entry(
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

fn entry_event(manifest: &Manifest, event: Event, e: &Entry, hash: &str) -> EventRow {
    let mut ev = manifest.event(event);
    if !e.content_only {
        ev.path = e.path.clone();
    }
    ev.file_hash = hash.to_owned();
    ev.target_table = e.table.clone();
    ev.batch_rows = e.batch_rows;
    ev
}

/// Connects as the data folder (whose id it reads, or makes, under the caller's lock), readies a
/// manifest made by an older version, and reads its state.
async fn open(common: &Common) -> Result<(Manifest, State), Fatal> {
    let folder = crate::folder_id::resolve(&common.data_dir, common.folder_id.as_deref(), true)
        .map_err(Fatal::Config)?;
    let server = Server::connect(common.connect.clone()).await?;
    let mut manifest = Manifest::new(
        server,
        common.manifest.clone(),
        crate::run::new_run_id(),
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

fn table_ref(common: &Common, table: &str) -> Result<TableRef, Fatal> {
    TableRef::parse(table, &common.database).map_err(|e| Fatal::config(e.to_string()))
}

/// Rows of a content in its table, or `None` when the table cannot say (no provenance columns, or
/// no table).
async fn rows_in_table(
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
async fn delete_rows(manifest: &Manifest, table: &TableRef, hash: &str) -> Result<u64, Fatal> {
    let server = manifest.server();
    let deleted = server.delete_file_rows(table, file_id(hash)).await?;
    server
        .delete_rejects(&manifest.rejects_table(), hash)
        .await?;
    Ok(deleted)
}

/// Marks failed, quarantined or held-back files to be tried again by the next run (moving
/// quarantined files back into the data folder), and files whose rows are missing, short or
/// doubled to be ingested again.
pub async fn retry(
    common: &Common,
    targets: &[String],
    opts: RetryOptions,
    out: &mut dyn Write,
) -> Result<Exit, Fatal> {
    let data_dir = &common.data_dir;
    let (manifest, state) = open(common).await?;
    let mut entries = Vec::new();
    for t in targets {
        entries.extend(find(&state, data_dir, t)?);
    }
    let mut held_back = Vec::new();
    if opts.all_failed {
        for (path, p) in &state.by_path {
            match p.event {
                Event::Failed | Event::Quarantined => {
                    entries.extend(path_entry(&state, path));
                }
                Event::Changed => held_back.push(path.clone()),
                _ => {}
            }
        }
    }
    if opts.all_mismatched {
        for m in verify::check(&manifest).await?.mismatches {
            if !m.problem.retry_repairs() {
                continue;
            }
            let Some(c) = state.content(&m.table, &m.hash) else {
                continue;
            };
            entries.push(content_entry(&state, &m.table, &m.hash, c, Some(m.problem)));
        }
    }
    entries.sort_by(|a, b| (&a.path, &a.hash).cmp(&(&b.path, &b.hash)));
    entries.dedup_by(|a, b| a.path == b.path && a.hash == b.hash && a.table == b.table);
    held_back.sort();
    for path in &held_back {
        write_line(
            out,
            &format!(
                "{} is held back because its content changed: not retried by --all-failed; \
                 `ingest retry {0}` adds the new content next to the old rows, `ingest retry \
                 --replace {0}` replaces them",
                escape(path)
            ),
        )?;
    }
    let mut events = Vec::new();
    for e in &entries {
        let lines = match e.event {
            Event::Failed | Event::Quarantined => {
                retry_failed(data_dir, &state, &manifest, e, &mut events)?
            }
            Event::Changed => {
                retry_changed(common, &manifest, e, opts.replace, &mut events).await?
            }
            Event::Done | Event::Touched | Event::Duplicate => {
                retry_ingested(common, &manifest, &state, e, &mut events).await?
            }
            Event::Claimed | Event::Batch | Event::Retry | Event::Forgotten => vec![format!(
                "{} is waiting for the next run, which ingests it (nothing to retry)",
                escape(&e.path)
            )],
        };
        for line in lines {
            write_line(out, &line)?;
        }
    }
    manifest.write(&events).await?;
    let retried = events
        .iter()
        .filter(|e| e.event == Event::Retry.as_str())
        .count() as u64;
    if retried == 0 && !opts.all_failed && !opts.all_mismatched {
        return Err(Fatal::config("nothing to retry"));
    }
    write_line(
        out,
        &format!(
            "{} will be tried again by the next run",
            plural(retried, "file")
        ),
    )?;
    Ok(Exit::Ok)
}

/// A failed or quarantined file: the next run reads it again (a quarantined one is moved back).
fn retry_failed(
    data_dir: &Path,
    state: &State,
    manifest: &Manifest,
    e: &Entry,
    events: &mut Vec<EventRow>,
) -> Result<Vec<String>, Fatal> {
    let mut note = String::new();
    if let Some(p) = state.by_path.get(&e.path)
        && p.event == Event::Quarantined
        && !p.detail.is_empty()
    {
        note = restore(data_dir, &e.path, Path::new(&p.detail))?;
    }
    events.push(entry_event(manifest, Event::Retry, e, &e.hash));
    Ok(vec![format!(
        "will retry {} into {}{note}",
        escape(&e.path),
        e.table
    )])
}

/// A file held back because its content changed: released, its new content going next to the
/// old rows — or, with `replace`, instead of them.
async fn retry_changed(
    common: &Common,
    manifest: &Manifest,
    e: &Entry,
    replace: bool,
    events: &mut Vec<EventRow>,
) -> Result<Vec<String>, Fatal> {
    let path = escape(&e.path);
    let old = e.ingested.clone().unwrap_or_default();
    let mut lines = Vec::new();
    if replace && !old.is_empty() {
        let table = table_ref(common, &e.table)?;
        if rows_in_table(manifest.server(), &table, &old)
            .await?
            .is_none()
        {
            return Err(Fatal::config(format!(
                "--replace: table {table} has no provenance columns, so the rows of {path}'s old \
                 content cannot be told from the others"
            )));
        }
        let deleted = delete_rows(manifest, &table, &old).await?;
        events.push(entry_event(manifest, Event::Forgotten, e, &old));
        lines.push(format!(
            "deleted {} of {path}'s old content ({}) from {table}",
            plural(deleted, "row"),
            short(&old)
        ));
        lines.push(format!(
            "will retry {path} into {}: its new content ({}) replaces the old",
            e.table,
            short(&e.hash)
        ));
    } else {
        lines.push(format!(
            "will retry {path} into {}: its new content ({}) is added and the rows of its old \
             content ({}) stay (use --replace to delete them first)",
            e.table,
            short(&e.hash),
            short(&old)
        ));
    }
    events.push(entry_event(manifest, Event::Retry, e, &e.hash));
    Ok(lines)
}

/// A file recorded as ingested: retried only if its rows in the table are not what was recorded
/// (what `ingest verify` reports). Missing or short rows are sent by the next run; doubled ones
/// are deleted first. Either way the content starts a new ingestion, so that no insert of it is
/// taken by the server for a repeat of an earlier one.
async fn retry_ingested(
    common: &Common,
    manifest: &Manifest,
    state: &State,
    e: &Entry,
    events: &mut Vec<EventRow>,
) -> Result<Vec<String>, Fatal> {
    let path = escape(&e.path);
    let table = table_ref(common, &e.table)?;
    let done = state
        .content(&e.table, &e.hash)
        .filter(|c| c.event == Event::Done);
    let Some(content) = done else {
        return Ok(vec![format!(
            "{path} is not recorded as ingested; nothing to retry"
        )]);
    };
    let Some((n, distinct)) = rows_in_table(manifest.server(), &table, &e.hash).await? else {
        return Ok(vec![format!(
            "{path} is ingested, and table {table} cannot say whether its rows are all there \
             (no provenance columns); `ingest forget` makes the next run send it again"
        )]);
    };
    let want = content.rows;
    let mut lines = Vec::new();
    if n == want && distinct == n {
        return Ok(vec![format!(
            "{path} is ingested and its {} are in {table}; nothing to retry",
            plural(want, "row")
        )]);
    }
    if n > distinct || n > want {
        let deleted = delete_rows(manifest, &table, &e.hash).await?;
        lines.push(format!(
            "{table} held {} of {path}, {want} recorded: deleted them",
            plural(deleted, "row")
        ));
    } else {
        lines.push(format!(
            "{table} holds {n} of {path}'s {}: the next run sends the missing ones",
            plural(want, "row")
        ));
    }
    let mut entry = e.clone();
    entry.batch_rows = content.batch_rows;
    events.push(entry_event(manifest, Event::Forgotten, &entry, &e.hash));
    events.push(entry_event(manifest, Event::Retry, &entry, &e.hash));
    lines.push(format!(
        "will retry {path} into {table}{}",
        absent_note(common, e)
    ));
    Ok(lines)
}

fn absent_note(common: &Common, e: &Entry) -> String {
    match common.data_dir.join(&e.path).exists() {
        true => String::new(),
        false => " (the file is not in the data folder: put it back for the next run to read it)"
            .to_owned(),
    }
}

/// Moves a quarantined file back to where it was found (`rel` in the data folder), removing its
/// error report. A quarantine folder inside the data folder is walked beneath it without
/// following a symlink; one outside it is the operator's own.
fn restore(data_dir: &Path, rel: &str, from: &Path) -> Result<String, Fatal> {
    let shown = escape(&from.display().to_string()).into_owned();
    let fail =
        |e: std::io::Error| Fatal::Internal(anyhow::anyhow!("cannot move {shown} back: {e}"));
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
        return Ok(format!(" ({shown} is gone; put the file back yourself)"));
    }
    if root.exists(rel) {
        return Ok(format!(
            " ({} exists; left the quarantined copy)",
            escape(&data_dir.join(rel).display().to_string())
        ));
    }
    crate::run::dispose::move_into(source, &from_rel, &root, rel, "").map_err(fail)?;
    let _ = source.remove(&format!("{from_rel}.error.txt"));
    Ok(format!(" (moved back from {shown})"))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Treats content as never seen, so its file is ingested again by the next run — from scratch if
/// `delete_rows` removed its rows; otherwise the next run finds the rows that stayed and sends
/// only what is missing. For a held-back path, the content forgotten is the one ingested there.
pub async fn forget(
    common: &Common,
    targets: &[String],
    delete_rows_too: bool,
    out: &mut dyn Write,
) -> Result<Exit, Fatal> {
    let (manifest, state) = open(common).await?;
    let mut entries = Vec::new();
    for t in targets {
        entries.extend(find(&state, &common.data_dir, t)?);
    }
    let mut events = Vec::new();
    for e in &entries {
        let hash = e.ingested.clone().unwrap_or_else(|| e.hash.clone());
        let path = escape(&e.path);
        if hash.is_empty() {
            write_line(
                out,
                &format!(
                    "{path} has no content recorded (it could not be read); nothing to forget"
                ),
            )?;
            continue;
        }
        let table = table_ref(common, &e.table)?;
        let present = rows_in_table(manifest.server(), &table, &hash).await?;
        if let Some(new) = e.ingested.as_ref().map(|_| &e.hash) {
            // A held-back file: the content forgotten is the one ingested there; the next run
            // ingests the file's new content.
            let old_rows = match (present, delete_rows_too) {
                (Some(_), true) => {
                    let deleted = delete_rows(&manifest, &table, &hash).await?;
                    format!("deleted its {} from {table}", plural(deleted, "row"))
                }
                (Some((n, _)), false) => format!("its {} stay in {table}", plural(n, "row")),
                (None, true) => {
                    return Err(Fatal::config(format!(
                        "--delete-rows: table {table} has no provenance columns, so the rows of \
                         {path} cannot be told from the others"
                    )));
                }
                (None, false) => format!("{table} has no provenance columns: its rows stay"),
            };
            write_line(
                out,
                &format!(
                    "forgot {path}'s ingested content ({} in {table}): {old_rows}; the next run \
                     ingests the file's new content ({})",
                    short(&hash),
                    short(new)
                ),
            )?;
            events.push(entry_event(&manifest, Event::Forgotten, e, &hash));
            continue;
        }
        let what = match (present, delete_rows_too) {
            (None, true) => {
                return Err(Fatal::config(format!(
                    "--delete-rows: table {table} has no provenance columns, so the rows of \
                     {path} cannot be told from the others"
                )));
            }
            (None, false) => format!(
                "{table} has no provenance columns, so the next run cannot tell whether its \
                 rows are there: it sends the file again (at-least-once)"
            ),
            (Some(_), true) => {
                let deleted = delete_rows(&manifest, &table, &hash).await?;
                write_line(
                    out,
                    &format!("deleted {} of {path} from {table}", plural(deleted, "row")),
                )?;
                "the next run ingests it again".to_owned()
            }
            (Some((0, _)), false) => {
                format!("{table} holds none of its rows: the next run ingests it again")
            }
            (Some((n, _)), false) => format!(
                "{} in {table}: the next run finds {} there and sends only what is missing (with \
                 --delete-rows it would ingest it again from scratch)",
                match n {
                    1 => "its row stays".to_owned(),
                    n => format!("its {n} rows stay"),
                },
                if n == 1 { "it" } else { "them" }
            ),
        };
        write_line(
            out,
            &format!("forgot {path} ({} in {table}): {what}", short(&hash)),
        )?;
        events.push(entry_event(&manifest, Event::Forgotten, e, &hash));
    }
    manifest.write(&events).await?;
    Ok(Exit::Ok)
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
