//! Running both sides over the same data set, interleaved run by run (alternating which goes
//! first, so a drift in the machine's load hits both alike), and summarising each side's runs.

use crate::data::DataSet;
use crate::report::{self, Table};
use crate::sides::{Landed, Measured, Merges, Schema, Sides};
use anyhow::Result;

/// Every measured run of one side.
#[derive(Default)]
pub struct Series {
    pub runs: Vec<(Measured, Landed)>,
}

impl Series {
    pub fn wall(&self) -> f64 {
        report::median_secs(self.runs.iter().map(|(m, _)| m.wall))
    }

    pub fn all_walls(&self) -> String {
        report::all_secs(self.runs.iter().map(|(m, _)| m.wall))
    }

    /// The highest peak of all runs: the memory a user must provide.
    pub fn peak_rss_kib(&self) -> u64 {
        self.runs
            .iter()
            .map(|(m, _)| m.peak_rss_kib)
            .max()
            .unwrap_or(0)
    }

    pub fn cpu(&self) -> f64 {
        report::median_secs(self.runs.iter().map(|(m, _)| m.cpu))
    }

    pub fn server_cpu(&self) -> f64 {
        report::median_secs(self.runs.iter().map(|(m, _)| m.server_cpu))
    }

    pub fn queries(&self) -> u64 {
        report::median_u64(self.runs.iter().map(|(m, _)| m.queries))
    }

    pub fn parts(&self) -> u64 {
        report::median_u64(self.runs.iter().map(|(_, l)| l.parts))
    }

    pub fn rows(&self) -> u64 {
        self.runs.first().map_or(0, |(_, l)| l.rows)
    }

    pub fn checksums(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs.iter().map(|(_, l)| l.checksum)
    }
}

/// How each side will be run, or why it cannot be.
pub struct Plan<'a> {
    pub label: &'a str,
    pub set: &'a DataSet,
    pub schema: Schema,
    pub merges: Merges,
    pub ingest: Result<(), String>,
    /// The format clickhouse-client inserts the files as.
    pub client: Result<&'a str, String>,
}

/// `runs` runs of each available side, each into a fresh table, checked against the set's rows.
pub fn side_by_side(sides: &Sides, plan: &Plan, runs: usize) -> Result<(Series, Series)> {
    plan.set.warm_page_cache()?;
    let mut ingest = Series::default();
    let mut client = Series::default();
    for r in 0..runs {
        let order = if r % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ingest in order {
            let target = sides.target(plan.schema, plan.merges)?;
            let measured = match (is_ingest, &plan.client) {
                (true, _) if plan.ingest.is_ok() => sides.ingest(&target, plan.set)?,
                (false, Ok(format)) => sides.client(&target, plan.set, format)?,
                _ => {
                    sides.drop_target(target)?;
                    continue;
                }
            };
            let landed = sides.landed(&target, plan.set.rows())?;
            sides.drop_target(target)?;
            let name = if is_ingest {
                "ingest"
            } else {
                "clickhouse-client"
            };
            eprintln!(
                "{}: run {}/{runs}: {name} {:.2}s, {} rows, {} parts, peak {:.1} MiB",
                plan.label,
                r + 1,
                measured.wall.as_secs_f64(),
                landed.rows,
                landed.parts,
                measured.peak_rss_kib as f64 / 1024.0
            );
            let series = if is_ingest { &mut ingest } else { &mut client };
            series.runs.push((measured, landed));
        }
    }
    Ok((ingest, client))
}

/// A table row for a side that could not run, with the reason in the last column.
pub fn unavailable(table: &mut Table, lead: Vec<String>, width: usize, why: &str) {
    let mut cells = lead;
    while cells.len() + 1 < width {
        cells.push("—".to_owned());
    }
    cells.push(format!("unavailable: {}", why.replace('\n', " ")));
    table.row(cells);
}

/// Whether every run of both sides landed the same content; a line saying so either way.
pub fn same_content(label: &str, ingest: &Series, client: &Series) -> (bool, String) {
    let mut all = ingest.checksums().chain(client.checksums());
    let Some(first) = all.next() else {
        return (true, String::new());
    };
    if all.all(|c| c == first) {
        (
            true,
            format!("{label}: every run of both sides landed the same rows (checksum {first:x})."),
        )
    } else {
        let list = |s: &Series| {
            s.checksums()
                .map(|c| format!("{c:x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        (
            false,
            format!(
                "{label}: **the rows landed differ** — ingest checksums {}, clickhouse-client {}.",
                list(ingest),
                list(client)
            ),
        )
    }
}
