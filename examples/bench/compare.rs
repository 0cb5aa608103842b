//! Running every side over the same data set, interleaved run by run (each round starts with the
//! next side, so a drift in the machine's load hits all alike), and summarising each side's runs.

use crate::data::DataSet;
use crate::report::{self, Table};
use crate::sides::{Measured, Side, Sides};
use crate::tables::{Landed, Merges, Schema};
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

    /// The side's own CPU seconds per million rows landed.
    pub fn cpu_per_m(&self) -> f64 {
        self.cpu() * 1e6 / self.rows() as f64
    }

    /// The server's CPU seconds per million rows landed.
    pub fn server_cpu_per_m(&self) -> f64 {
        self.server_cpu() * 1e6 / self.rows() as f64
    }

    /// Both, per million rows: what loading the rows cost the machine.
    pub fn total_cpu_per_m(&self) -> f64 {
        report::median_secs(self.runs.iter().map(|(m, _)| m.cpu + m.server_cpu)) * 1e6
            / self.rows() as f64
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

/// How the sides will be run over one data set.
pub struct Plan<'a> {
    pub label: &'a str,
    pub set: &'a DataSet,
    pub schema: Schema,
    pub merges: Merges,
    /// The ClickHouse input format clickhouse-client and the server's parse read the files as.
    pub format: &'a str,
    /// Whether each side can load the set, and if not, why not.
    pub sides: Vec<(Side, Result<(), String>)>,
}

impl Plan<'_> {
    pub fn can(&self, side: Side) -> bool {
        self.sides.iter().any(|(s, ok)| *s == side && ok.is_ok())
    }
}

/// What every side of a plan did, or why it did not run.
pub struct Outcome {
    pub sides: Vec<(Side, Result<Series, String>)>,
    /// Size of the floor's `Native` body.
    pub native_bytes: u64,
}

impl Outcome {
    pub fn get(&self, side: Side) -> Option<&Series> {
        self.sides
            .iter()
            .find(|(s, _)| *s == side)
            .and_then(|(_, r)| r.as_ref().ok())
    }

    /// The `ingest` sides that ran, in the order of the report.
    pub fn ingest_sides(&self) -> Vec<Side> {
        self.sides
            .iter()
            .filter(|(s, r)| s.is_ingest() && r.is_ok())
            .map(|(s, _)| *s)
            .collect()
    }

    /// The faster of clickhouse-client and the server's own parse: the peer to beat.
    pub fn fastest_peer(&self) -> Option<(Side, &Series)> {
        [Side::Client, Side::Http]
            .into_iter()
            .filter_map(|side| self.get(side).map(|s| (side, s)))
            .min_by(|a, b| a.1.wall().total_cmp(&b.1.wall()))
    }
}

/// `runs` runs of each side that can load the set, each into a fresh table, checked against the
/// set's rows. The floor's `Native` body is written from the first table that landed, so the floor
/// runs last in the first round.
pub fn side_by_side(sides: &Sides, plan: &Plan, runs: usize) -> Result<Outcome> {
    plan.set.warm_page_cache()?;
    let native = sides
        .scratch
        .join(format!("floor-{}.native", plan.label.replace(' ', "-")));
    let _ = std::fs::remove_file(&native);
    let able: Vec<Side> = sides
        .all()
        .into_iter()
        .filter(|&s| s != Side::Floor && plan.can(s))
        .chain(plan.can(Side::Floor).then_some(Side::Floor))
        .collect();
    let mut series: Vec<(Side, Series)> = able.iter().map(|&s| (s, Series::default())).collect();
    for r in 0..runs {
        for i in 0..able.len() {
            let at = (i + r) % able.len();
            let side = able[at];
            let target = sides.target(plan.schema, plan.merges)?;
            let measured = sides.run(side, &target, plan.set, plan.format, &native)?;
            let landed = sides.landed(&target, plan.set.rows())?;
            if !native.exists() {
                sides.write_native(&target, &native)?;
            }
            sides.drop_target(target)?;
            eprintln!(
                "{}: run {}/{runs}: {} {:.2}s, {} rows, {} parts, peak {:.1} MiB",
                plan.label,
                r + 1,
                side.describe(plan.format),
                measured.wall.as_secs_f64(),
                landed.rows,
                landed.parts,
                measured.peak_rss_kib as f64 / 1024.0
            );
            series[at].1.runs.push((measured, landed));
        }
    }
    let native_bytes = std::fs::metadata(&native).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&native);
    let mut out = Vec::new();
    for (side, ok) in &plan.sides {
        let result = match ok {
            Ok(()) => match series.iter().position(|(s, _)| s == side) {
                Some(i) => Ok(series.swap_remove(i).1),
                None => Err("not run".to_owned()),
            },
            Err(why) => Err(why.clone()),
        };
        out.push((*side, result));
    }
    Ok(Outcome {
        sides: out,
        native_bytes,
    })
}

/// A table row for a side that could not run, with the reason in the last column.
pub fn unavailable(table: &mut Table, lead: Vec<String>, width: usize, why: &str) {
    let mut cells = lead;
    while cells.len() + 1 < width {
        cells.push("—".to_owned());
    }
    cells.push(format!("no peer: {}", why.replace('\n', " ")));
    table.row(cells);
}

/// Whether every run of every side landed the same content; a line saying so either way.
pub fn same_content(label: &str, outcome: &Outcome, format: &str) -> (bool, String) {
    let ran: Vec<(Side, &Series)> = outcome
        .sides
        .iter()
        .filter_map(|(side, r)| r.as_ref().ok().map(|s| (*side, s)))
        .collect();
    let mut all = ran.iter().flat_map(|(_, s)| s.checksums());
    let Some(first) = all.next() else {
        return (true, String::new());
    };
    if all.all(|c| c == first) {
        let n = ran.len();
        (
            true,
            format!(
                "{label}: every run of all {n} sides landed the same rows (checksum {first:x})."
            ),
        )
    } else {
        let list: Vec<String> = ran
            .iter()
            .map(|(side, s)| {
                let sums: Vec<String> = s.checksums().map(|c| format!("{c:x}")).collect();
                format!("{} {}", side.describe(format), sums.join(" "))
            })
            .collect();
        (
            false,
            format!("{label}: **the rows landed differ** — {}.", list.join("; ")),
        )
    }
}
