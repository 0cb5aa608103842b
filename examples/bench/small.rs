//! Scenario 3, many small files: `ingest` (which coalesces them into few inserts) against one
//! clickhouse-client call per file, in files per second and the parts the inserts created, with
//! merges stopped on the table so that no part is merged away before it is counted.

use crate::bulk::PEAK_RSS_TARGET_MIB;
use crate::compare::{self, Plan, Series};
use crate::report::{self, Check, Table, thousands};
use crate::sides::Sides;

const FILES_PER_SECOND_TARGET: f64 = 500.0;
const PARTS_TARGET: u64 = 50;

const HEADER: [&str; 11] = [
    "side",
    "files",
    "rows",
    "median s",
    "runs s",
    "files/s",
    "parts",
    "peak RSS MiB",
    "CPU s",
    "server CPU s",
    "queries",
];

pub fn run(sides: &Sides, plan: &Plan, runs: usize) -> anyhow::Result<Vec<Check>> {
    let (ingest, client) = compare::side_by_side(sides, plan, runs)?;
    let files = plan.set.files.len() as u64;
    let mut table = Table::new(&HEADER);
    table.row(cells("ingest", files, &ingest));
    table.row(cells(
        "clickhouse-client, one call per file",
        files,
        &client,
    ));
    println!("## 3. Many small files\n");
    table.print();
    let files_per_second = |s: &Series| files as f64 / s.wall();
    println!(
        "ingest ÷ clickhouse-client in files/s: {:.2}×",
        files_per_second(&ingest) / files_per_second(&client)
    );
    let (same, line) = compare::same_content("small files", &ingest, &client);
    println!("{line}\n");
    let peak = ingest.peak_rss_kib() as f64 / 1024.0;
    Ok(vec![
        Check {
            what: "small files: files per second".to_owned(),
            measured: format!("{:.0}", files_per_second(&ingest)),
            target: format!("≥ {FILES_PER_SECOND_TARGET:.0}"),
            met: files_per_second(&ingest) >= FILES_PER_SECOND_TARGET,
        },
        Check {
            what: "small files: parts created".to_owned(),
            measured: thousands(ingest.parts()),
            target: format!("≤ {PARTS_TARGET}"),
            met: ingest.parts() <= PARTS_TARGET,
        },
        Check {
            what: "small files: peak memory of ingest".to_owned(),
            measured: format!("{peak:.1} MiB"),
            target: format!("≤ {PEAK_RSS_TARGET_MIB:.0} MiB"),
            met: peak <= PEAK_RSS_TARGET_MIB,
        },
        Check {
            what: "small files: same rows as clickhouse-client".to_owned(),
            measured: if same { "same" } else { "different" }.to_owned(),
            target: "same".to_owned(),
            met: same,
        },
    ])
}

fn cells(side: &str, files: u64, s: &Series) -> Vec<String> {
    vec![
        side.to_owned(),
        thousands(files),
        thousands(s.rows()),
        format!("{:.2}", s.wall()),
        s.all_walls(),
        format!("{:.0}", files as f64 / s.wall()),
        thousands(s.parts()),
        report::mib(s.peak_rss_kib()),
        format!("{:.2}", s.cpu()),
        format!("{:.2}", s.server_cpu()),
        thousands(s.queries()),
    ]
}
