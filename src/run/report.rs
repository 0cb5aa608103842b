//! What a person reads after a run: the per-file table of a dry run, or a run's short summary.
//! Names, values and errors come from files: everything printed goes through `text::escape`.

use crate::outcome::RunReport;
use crate::outcome::Status;
use crate::text::{escape, one_line, plural};
use std::collections::BTreeMap;
use std::io::{self, Write};

pub fn print_report(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    for (table, sql) in &report.created {
        let what = if report.dry_run {
            "would create"
        } else {
            "created"
        };
        writeln!(out, "{what} table {table}: {}", escape(sql))?;
    }
    for (table, sql) in &report.altered {
        let what = if report.dry_run {
            "would alter"
        } else {
            "altered"
        };
        writeln!(out, "{what} table {table}: {}", escape(sql))?;
    }
    if report.dry_run {
        print_table(report, out)?;
    } else {
        print_problems(report, out)?;
    }
    for w in &report.warnings {
        writeln!(out, "warning: {}", escape(w))?;
    }
    writeln!(out, "{}", summary_line(report))
}

fn print_table(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let header = ["STATUS", "FILE", "FORMAT", "TABLE", "ROWS", "NOTE"];
    let rows: Vec<[String; 6]> = report
        .outcomes
        .iter()
        .map(|o| {
            let rows = match o.status {
                Status::New | Status::Resume => o.rows.to_string(),
                _ => String::new(),
            };
            [
                o.status.to_string(),
                escape(&o.rel).into_owned(),
                escape(&o.format).into_owned(),
                escape(&o.table).into_owned(),
                rows,
                one_line(&o.detail),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(&format!("{cell:>w$}  "));
            } else if i == cells.len() - 1 {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&header))?;
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cells))?;
    }
    Ok(())
}

fn print_problems(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    for o in &report.outcomes {
        let noteworthy = matches!(
            o.status,
            Status::Failed | Status::Changed | Status::Unsettled | Status::Interrupted
        ) || (o.status == Status::Ingested && !o.detail.is_empty());
        if noteworthy {
            writeln!(out, "{:<12} {}", o.status, one_line(&o.describe()))?;
        }
    }
    Ok(())
}

/// One line: counts by status, rows, time, and why the run stopped if it did.
pub fn summary_line(report: &RunReport) -> String {
    let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
    for o in &report.outcomes {
        *counts.entry(o.status).or_default() += 1;
    }
    let rows: u64 = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::Ingested | Status::New | Status::Resume))
        .map(|o| o.rows)
        .sum();
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let what = if report.dry_run { "dry run" } else { "run" };
    let files = if parts.is_empty() {
        "no files".to_owned()
    } else {
        parts.join(", ")
    };
    let mut line = format!(
        "{what} {}: {files}; {} {} in {:.1}s",
        report.run_id,
        plural(rows, "row"),
        if report.dry_run {
            "to ingest"
        } else {
            "ingested"
        },
        report.elapsed.as_secs_f64()
    );
    if let Some(why) = &report.stopped {
        line.push_str(&format!("; stopped early: {}", one_line(why)));
    }
    line
}
