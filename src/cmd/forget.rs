//! `ingest forget`: treats content as never seen, so that its file is ingested again — from
//! scratch if its rows are deleted too.

use super::manage::{
    delete_rows, entry_event, find, open, rows_in_table, short, table_ref, write_line,
};
use crate::config::ManageConfig;
use crate::config::flags::ForgetArgs;
use crate::exit::{Exit, Fatal};
use crate::lock;
use crate::manifest::Event;
use crate::text::{escape, plural};
use std::io::Write;

/// Treats content as never seen, so its file is ingested again by the next run — from scratch if
/// `delete_rows` removed its rows; otherwise the next run finds the rows that stayed and sends
/// only what is missing. For a held-back path, the content forgotten is the one ingested there.
pub async fn forget(args: &ForgetArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = ManageConfig::build(&args.common, args.lock_file.as_ref())?;
    let _lock = lock::acquire(&cfg.lock_file)?;
    let (common, targets, delete_rows_too) = (&cfg.common, &args.targets, args.delete_rows);
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
