//! `ingest retry`: lets the next run try failed, quarantined, poison or held-back files again
//! (moving quarantined files back into the data folder), and repairs files whose rows `ingest
//! verify` found missing, short or doubled.

use super::manage::{
    Entry, content_entry, delete_rows, entry_event, find, open, path_entry, rows_in_table, short,
    table_ref, write_line,
};
use crate::config::state_flags::RetryArgs;
use crate::config::{Common, ManageConfig};
use crate::exit::{Exit, Fatal};
use crate::folder::Folder;
use crate::manifest::{Event, EventRow, Manifest, State};
use crate::reconcile::{self};
use crate::text::{escape, plural};
use std::io::Write;
use std::path::Path;

/// Marks failed, quarantined or held-back files to be tried again by the next run (moving
/// quarantined files back into the data folder), and files whose rows are missing, short or
/// doubled to be ingested again.
pub async fn retry(args: &RetryArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = ManageConfig::build(
        &args.common,
        args.lock_file.as_ref(),
        args.coordination.as_ref(),
    )?;
    let _lock = super::manage::lock(&cfg)?;
    let (common, opts) = (&cfg.common, args);
    let data_dir = &common.data_dir;
    let (manifest, state) = open(common).await?;
    let (entries, held_back) = named(args, &manifest, &state, data_dir).await?;
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

/// The entries the operator named, by target or by `--all-failed` / `--all-mismatched`, each
/// once; and the held-back paths `--all-failed` leaves alone.
async fn named(
    args: &RetryArgs,
    manifest: &Manifest,
    state: &State,
    data_dir: &Path,
) -> Result<(Vec<Entry>, Vec<String>), Fatal> {
    let mut entries = Vec::new();
    for t in &args.targets {
        entries.extend(find(state, data_dir, t)?);
    }
    let mut held_back = Vec::new();
    if args.all_failed {
        for (path, p) in &state.by_path {
            match p.event {
                Event::Failed | Event::Quarantined => entries.extend(path_entry(state, path)),
                Event::Changed => held_back.push(path.clone()),
                _ => {}
            }
        }
    }
    if args.all_mismatched {
        for m in reconcile::check(manifest).await?.mismatches {
            if !m.problem.retry_repairs() {
                continue;
            }
            if let Some(c) = state.content(&m.table, &m.hash) {
                entries.push(content_entry(state, &m.table, &m.hash, c, Some(m.problem)));
            }
        }
    }
    entries.sort_by(|a, b| (&a.path, &a.hash).cmp(&(&b.path, &b.hash)));
    entries.dedup_by(|a, b| a.path == b.path && a.hash == b.hash && a.table == b.table);
    held_back.sort();
    Ok((entries, held_back))
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
