//! Scenarios 1 and 2, large files: `ingest` against clickhouse-client inserting the same files in
//! the matching server-side format (CSVWithNames, JSONEachRow, Parquet), wall time and memory.

use crate::compare::{self, Plan, Series};
use crate::report::{self, Check, Table, thousands};

/// The brief's memory ceiling for `ingest` at default settings, whatever the file size.
pub const PEAK_RSS_TARGET_MIB: f64 = 100.0;

/// One row group of the table: a data set, or why there is none.
pub struct Case<'a> {
    pub plan: Result<Plan<'a>, String>,
    pub name: String,
    /// The most `ingest`'s wall time may be, as a share of clickhouse-client's.
    pub wall_ratio_target: Option<f64>,
}

const HEADER: [&str; 13] = [
    "data",
    "side",
    "rows",
    "MB",
    "median s",
    "runs s",
    "MB/s",
    "peak RSS MiB",
    "CPU s",
    "server CPU s",
    "queries",
    "parts",
    "ingest ÷ client",
];

pub fn run(
    title: &str,
    sides: &crate::sides::Sides,
    cases: &[Case],
    runs: usize,
) -> anyhow::Result<Vec<Check>> {
    let mut table = Table::new(&HEADER);
    let mut notes = Vec::new();
    let mut checks = Vec::new();
    for case in cases {
        let plan = match &case.plan {
            Ok(plan) => plan,
            Err(why) => {
                let lead = vec![case.name.clone(), "both".to_owned()];
                compare::unavailable(&mut table, lead, HEADER.len(), why);
                continue;
            }
        };
        let (ingest, client) = compare::side_by_side(sides, plan, runs)?;
        let mb = plan.set.bytes as f64 / 1e6;
        let ratio =
            (plan.ingest.is_ok() && plan.client.is_ok()).then(|| ingest.wall() / client.wall());
        let lead = |side: &str| vec![case.name.clone(), side.to_owned()];
        match &plan.ingest {
            Ok(()) => {
                let note = ratio.map_or(String::new(), |r| format!("{r:.2}×"));
                table.row(cells(lead("ingest"), &ingest, mb, note));
            }
            Err(why) => compare::unavailable(&mut table, lead("ingest"), HEADER.len(), why),
        }
        match &plan.client {
            Ok(format) => {
                let side = format!("clickhouse-client {format}");
                table.row(cells(lead(&side), &client, mb, String::new()));
            }
            Err(why) => {
                compare::unavailable(&mut table, lead("clickhouse-client"), HEADER.len(), why);
            }
        }
        let (same, line) = compare::same_content(&case.name, &ingest, &client);
        notes.push(line);
        if plan.ingest.is_ok() && plan.client.is_ok() {
            checks.push(Check {
                what: format!("{}: same rows as clickhouse-client", case.name),
                measured: if same { "same" } else { "different" }.to_owned(),
                target: "same".to_owned(),
                met: same,
            });
        }
        if let (Some(r), Some(target)) = (ratio, case.wall_ratio_target) {
            checks.push(Check {
                what: format!("{}: wall time vs clickhouse-client", case.name),
                measured: format!("{r:.2}×"),
                target: format!("≤ {target:.2}×"),
                met: r <= target,
            });
        }
        if plan.ingest.is_ok() {
            let peak = ingest.peak_rss_kib() as f64 / 1024.0;
            checks.push(Check {
                what: format!("{}: peak memory of ingest", case.name),
                measured: format!("{peak:.1} MiB"),
                target: format!("≤ {PEAK_RSS_TARGET_MIB:.0} MiB"),
                met: peak <= PEAK_RSS_TARGET_MIB,
            });
        }
    }
    println!("## {title}\n");
    table.print();
    for line in notes.iter().filter(|l| !l.is_empty()) {
        println!("{line}");
    }
    println!();
    Ok(checks)
}

fn cells(mut lead: Vec<String>, s: &Series, mb: f64, note: String) -> Vec<String> {
    lead.extend([
        thousands(s.rows()),
        format!("{mb:.0}"),
        format!("{:.2}", s.wall()),
        s.all_walls(),
        format!("{:.0}", mb / s.wall()),
        report::mib(s.peak_rss_kib()),
        format!("{:.2}", s.cpu()),
        format!("{:.2}", s.server_cpu()),
        thousands(s.queries()),
        thousands(s.parts()),
        note,
    ]);
    lead
}
