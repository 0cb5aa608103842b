//! Scenario 3, many small files: `ingest` (which coalesces them into few inserts) side by side with
//! one clickhouse-client call and one curl call per file, and the floor (all rows in one `Native`
//! body), in files per second and the parts the inserts created, with merges stopped on the table
//! so that no part is merged away before it is counted.

use crate::bulk::PEAK_RSS_TARGET_MIB;
use crate::compare::{self, Plan, Series};
use crate::report::{self, Check, Table, thousands};
use crate::sides::{Side, Sides};
use crate::summary::Line;

const FILES_PER_SECOND_TARGET: f64 = 2000.0;
const PARTS_TARGET: u64 = 50;

const HEADER: [&str; 11] = [
    "side",
    "median s",
    "runs s",
    "files/s",
    "parts",
    "peak RSS MiB",
    "client CPU s/M rows",
    "server CPU s/M rows",
    "CPU s/M rows",
    "queries",
    "ingest ÷ side, files/s",
];

pub fn run(
    sides: &Sides,
    plan: &Plan,
    runs: usize,
    lines: &mut Vec<Line>,
) -> anyhow::Result<Vec<Check>> {
    let outcome = compare::side_by_side(sides, plan, runs)?;
    let files = plan.set.files.len() as f64;
    let per_second = |s: &Series| files / s.wall();
    let mut table = Table::new(&HEADER);
    for (side, result) in &outcome.sides {
        let name = match side {
            Side::Client | Side::Http => {
                format!("{}, one call per file", side.describe(plan.format))
            }
            Side::Floor => "floor: curl Native, all rows in one call".to_owned(),
            Side::Ingest(_) => side.describe(plan.format),
        };
        let s = match result {
            Ok(s) => s,
            Err(why) => {
                compare::unavailable(&mut table, vec![name], HEADER.len(), why);
                continue;
            }
        };
        let ratio = match side.is_ingest() {
            true => String::new(),
            false => outcome
                .ingest_sides()
                .into_iter()
                .filter_map(|i| outcome.get(i).map(|series| (i, series)))
                .map(|(i, series)| {
                    let jobs = match i {
                        Side::Ingest(jobs) => jobs,
                        _ => 0,
                    };
                    format!("-j{jobs}: {:.2}×", per_second(series) / per_second(s))
                })
                .collect::<Vec<_>>()
                .join("; "),
        };
        table.row(vec![
            name,
            format!("{:.2}", s.wall()),
            s.all_walls(),
            format!("{:.0}", per_second(s)),
            thousands(s.parts()),
            report::mib(s.peak_rss_kib()),
            format!("{:.2}", s.cpu_per_m()),
            format!("{:.2}", s.server_cpu_per_m()),
            format!("{:.2}", s.total_cpu_per_m()),
            thousands(s.queries()),
            ratio,
        ]);
    }
    let name = format!(
        "{} files × {} rows",
        thousands(plan.set.files.len() as u64),
        thousands(plan.set.rows_per_file)
    );
    println!("### 3. Many small files: {name}\n");
    table.print();
    let (same, line) = compare::same_content("small files", &outcome, plan.format);
    println!("{line}\n");
    lines.push(Line::new(
        &format!("small files, {name}"),
        &sides.server.version,
        &outcome,
    ));
    let mut checks = vec![Check::new(
        "small files: same rows on every side".to_owned(),
        if same { "same" } else { "different" },
        "same",
        same,
    )];
    for side in outcome.ingest_sides() {
        let Some(ingest) = outcome.get(side) else {
            continue;
        };
        let who = side.describe("");
        let peak = ingest.peak_rss_kib() as f64 / 1024.0;
        checks.extend([
            Check::new(
                format!("small files, {who}: files per second"),
                &format!("{:.0}", per_second(ingest)),
                &format!("≥ {FILES_PER_SECOND_TARGET:.0}"),
                per_second(ingest) >= FILES_PER_SECOND_TARGET,
            ),
            Check::new(
                format!("small files, {who}: parts created"),
                &thousands(ingest.parts()),
                &format!("≤ {PARTS_TARGET}"),
                ingest.parts() <= PARTS_TARGET,
            ),
            Check::new(
                format!("small files, {who}: peak memory"),
                &format!("{peak:.1} MiB"),
                &format!("≤ {PEAK_RSS_TARGET_MIB:.0} MiB"),
                peak <= PEAK_RSS_TARGET_MIB,
            ),
        ]);
    }
    Ok(checks)
}
