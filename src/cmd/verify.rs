//! `ingest verify`: reports (text or JSON, exit code 3) the files whose rows in their table are
//! not what the manifest records.

use crate::ch::Server;
use crate::config::state_flags::VerifyArgs;
use crate::config::{Output, VerifyConfig};
use crate::exit::{Exit, Fatal};
use crate::manifest::Manifest;
use crate::reconcile::{Problem, Verification, check};
use crate::text::{escape, plural};
use std::io::{self, Write};

pub async fn verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<Exit, Fatal> {
    let cfg = VerifyConfig::build(args)?;
    let server = Server::connect(cfg.common.connect.clone()).await?;
    let mut manifest = Manifest::new(
        server,
        cfg.common.manifest.clone(),
        String::new(),
        String::new(),
    );
    if !manifest.open().await? {
        return Err(Fatal::config(format!(
            "no manifest table {}: nothing was ingested with it (check --database and \
             --manifest-table)",
            manifest.table
        )));
    }
    let v = check(&manifest).await?;
    match cfg.output {
        Output::Json => serde_json::to_writer(&mut *out, &v)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        Output::Text => print(out, &v),
    }
    .map_err(anyhow::Error::from)?;
    Ok(match v.mismatches.is_empty() {
        true => Exit::Ok,
        false => Exit::FilesFailed,
    })
}

fn print(out: &mut dyn Write, v: &Verification) -> io::Result<()> {
    let tables: std::collections::BTreeSet<&str> =
        v.mismatches.iter().map(|m| m.table.as_str()).collect();
    writeln!(
        out,
        "checked {} recorded as ingested: {} match, {} do not{}",
        plural(v.files_checked, "file"),
        v.files_matching,
        v.mismatches.len(),
        match tables.len() {
            0 => String::new(),
            _ => format!(
                " (in {})",
                tables.into_iter().collect::<Vec<_>>().join(", ")
            ),
        }
    )?;
    for m in &v.mismatches {
        let what = match m.problem {
            Problem::Missing | Problem::Short => {
                format!(
                    "{} of {} in the table",
                    m.rows_found,
                    plural(m.rows_recorded, "row")
                )
            }
            Problem::Doubled => format!(
                "{} in the table, {} recorded",
                plural(m.rows_found, "row"),
                m.rows_recorded
            ),
            Problem::RowsOfFailed => format!(
                "{} in the table, though it is recorded as failed (`ingest forget --delete-rows` \
                 removes them)",
                plural(m.rows_found, "row")
            ),
        };
        writeln!(
            out,
            "{:<15} {} {}: {what} (content {})",
            m.problem.label(),
            escape(&m.table),
            escape(&m.path),
            m.hash.get(..12).unwrap_or(&m.hash)
        )?;
    }
    for u in &v.unverifiable {
        writeln!(
            out,
            "table {} cannot be checked ({}): {} not verified",
            escape(&u.table),
            u.reason,
            plural(u.files, "file")
        )?;
    }
    for u in &v.unknown {
        writeln!(
            out,
            "table {} holds {} under a provenance id no file in the manifest has ({})",
            escape(&u.table),
            plural(u.rows, "row"),
            u.file_id
        )?;
    }
    if v.mismatches.iter().any(|m| m.problem.retry_repairs()) {
        writeln!(
            out,
            "`ingest retry PATH` (or `ingest retry --all-mismatched`) ingests what is missing, \
             short or doubled again"
        )?;
    }
    Ok(())
}
