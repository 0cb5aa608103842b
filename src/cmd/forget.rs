//! `ingest forget`: treats content as never seen, so that its file is ingested again — from
//! scratch if its rows are deleted too.

use super::manage::{
    delete_rows, entry_event, find, open, rows_in_table, short, table_ref, write_line,
};
use crate::ch::ident::TableRef;
use crate::config::ManageConfig;
use crate::config::state_flags::ForgetArgs;
use crate::exit::{Exit, Fatal};
use crate::manifest::Event;
use crate::text::{escape, plural};
use std::io::Write;

/// Treats content as never seen, so its file is ingested again by the next run — from scratch if
/// `delete_rows` removed its rows; otherwise the next run finds the rows that stayed and sends
/// only what is missing. For a held-back path, the content forgotten is the one ingested there.
pub async fn forget(args: &ForgetArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = ManageConfig::build(
        &args.common,
        args.lock_file.as_ref(),
        args.coordination.as_ref(),
    )?;
    let _lock = super::manage::lock(&cfg)?;
    let common = &cfg.common;
    let (manifest, state) = open(common).await?;
    let mut entries = Vec::new();
    for t in &args.targets {
        entries.extend(find(&state, &common.data_dir, t)?);
    }
    let mut events = Vec::new();
    for e in &entries {
        let hash = e.ingested.as_deref().unwrap_or(&e.hash);
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
        let present = rows_in_table(manifest.server(), &table, hash).await?;
        let rows = match (present, args.delete_rows) {
            (None, true) => {
                return Err(Fatal::config(format!(
                    "--delete-rows: table {table} has no provenance columns, so the rows of \
                     {path} cannot be told from the others"
                )));
            }
            (None, false) => Rows::Untold,
            (Some(_), true) => Rows::Deleted(delete_rows(&manifest, &table, hash).await?),
            (Some((n, _)), false) => Rows::Stay(n),
        };
        let line = match e.ingested.as_ref().map(|_| &e.hash) {
            Some(new) => held_back_line(&path, &table, hash, new, &rows),
            None => forgotten_line(&path, &table, hash, &rows),
        };
        write_line(out, &line)?;
        events.push(entry_event(&manifest, Event::Forgotten, e, hash));
    }
    manifest.write(&events).await?;
    Ok(Exit::Ok)
}

/// What became of a forgotten content's rows.
enum Rows {
    /// The table has no provenance columns: its rows cannot be told from the others.
    Untold,
    Deleted(u64),
    Stay(u64),
}

/// A held-back file: the content forgotten is the one ingested there; the next run ingests the
/// file's new content.
fn held_back_line(path: &str, table: &TableRef, hash: &str, new: &str, rows: &Rows) -> String {
    let old_rows = match rows {
        Rows::Deleted(n) => format!("deleted its {} from {table}", plural(*n, "row")),
        Rows::Stay(n) => format!("its {} stay in {table}", plural(*n, "row")),
        Rows::Untold => format!("{table} has no provenance columns: its rows stay"),
    };
    format!(
        "forgot {path}'s ingested content ({} in {table}): {old_rows}; the next run ingests the \
         file's new content ({})",
        short(hash),
        short(new)
    )
}

fn forgotten_line(path: &str, table: &TableRef, hash: &str, rows: &Rows) -> String {
    let what = match rows {
        Rows::Untold => format!(
            "{table} has no provenance columns, so the next run cannot tell whether its rows are \
             there: it sends the file again (at-least-once)"
        ),
        Rows::Deleted(n) => {
            return format!(
                "deleted {} of {path} from {table}\nforgot {path} ({} in {table}): the next run \
                 ingests it again",
                plural(*n, "row"),
                short(hash)
            );
        }
        Rows::Stay(0) => format!("{table} holds none of its rows: the next run ingests it again"),
        Rows::Stay(1) => format!(
            "its row stays in {table}: the next run finds it there and sends only what is \
             missing (with --delete-rows it would ingest it again from scratch)"
        ),
        Rows::Stay(n) => format!(
            "its {n} rows stay in {table}: the next run finds them there and sends only what is \
             missing (with --delete-rows it would ingest it again from scratch)"
        ),
    };
    format!("forgot {path} ({} in {table}): {what}", short(hash))
}
