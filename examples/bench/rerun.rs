//! Scenario 4, a rerun over files that are all ingested already: seconds and queries per rerun,
//! over two folder sizes so that a query count growing with the number of files shows. There is no
//! peer: clickhouse-client and curl keep no record of what they loaded, and the floor inserts
//! nothing when nothing is new.

use crate::bulk::PEAK_RSS_TARGET_MIB;
use crate::compare::Series;
use crate::data::DataSet;
use crate::report::{self, Check, Table, thousands};
use crate::sides::Sides;
use crate::tables::{Merges, Schema};
use std::path::Path;

const RERUN_SECONDS_TARGET: f64 = 1.0;

const HEADER: [&str; 10] = [
    "files",
    "rows",
    "first run s",
    "first run queries",
    "median rerun s",
    "reruns s",
    "queries per rerun",
    "peak RSS MiB",
    "CPU s",
    "server CPU s",
];

/// `sets` from the smallest to the largest; every set is ingested once, then rerun `runs` times
/// (reruns find everything ingested, so they all start from the same state).
pub fn run(sides: &Sides, sets: &[&DataSet], runs: usize) -> anyhow::Result<Vec<Check>> {
    let mut table = Table::new(&HEADER);
    let mut reruns: Vec<(u64, Series)> = Vec::new();
    for set in sets {
        let files = set.files.len() as u64;
        let label = format!("rerun over {} files", thousands(files));
        set.warm_page_cache()?;
        let target = sides.target(Schema::Typed, Merges::Running)?;
        let first = sides.run(sides.default_ingest(), &target, set, "", Path::new(""))?;
        sides.landed(&target, set.rows())?;
        eprintln!("{label}: first run {:.2}s", first.wall.as_secs_f64());
        let mut series = Series::default();
        for r in 0..runs {
            let measured = sides.run(sides.default_ingest(), &target, set, "", Path::new(""))?;
            let landed = sides.landed(&target, set.rows())?;
            eprintln!(
                "{label}: rerun {}/{runs}: {:.2}s, {} queries",
                r + 1,
                measured.wall.as_secs_f64(),
                measured.queries
            );
            series.runs.push((measured, landed));
        }
        sides.drop_target(target)?;
        table.row(vec![
            thousands(files),
            thousands(set.rows()),
            format!("{:.2}", first.wall.as_secs_f64()),
            thousands(first.queries),
            format!("{:.2}", series.wall()),
            series.all_walls(),
            thousands(series.queries()),
            report::mib(series.peak_rss_kib()),
            format!("{:.2}", series.cpu()),
            format!("{:.2}", series.server_cpu()),
        ]);
        reruns.push((files, series));
    }
    println!("### 4. Rerun over already-ingested files\n");
    table.print();
    let mut checks = Vec::new();
    if let Some((files, largest)) = reruns.last() {
        checks.push(Check::new(
            format!("rerun over {} files: seconds", thousands(*files)),
            &format!("{:.2} s", largest.wall()),
            &format!("≤ {RERUN_SECONDS_TARGET:.0} s"),
            largest.wall() <= RERUN_SECONDS_TARGET,
        ));
        let peak = largest.peak_rss_kib() as f64 / 1024.0;
        checks.push(Check::new(
            format!("rerun over {} files: peak memory", thousands(*files)),
            &format!("{peak:.1} MiB"),
            &format!("≤ {PEAK_RSS_TARGET_MIB:.0} MiB"),
            peak <= PEAK_RSS_TARGET_MIB,
        ));
    }
    if let [(few, smallest), .., (many, largest)] = reruns.as_slice() {
        checks.push(Check::new(
            "rerun: queries as the folder grows".to_owned(),
            &format!(
                "{} files: {}, {} files: {}",
                thousands(*few),
                smallest.queries(),
                thousands(*many),
                largest.queries()
            ),
            "no growth",
            largest.queries() <= smallest.queries(),
        ));
    }
    Ok(checks)
}
