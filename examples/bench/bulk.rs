//! Scenarios 1 and 2, large files: `ingest` side by side with the floor, clickhouse-client and the
//! server's own parse over HTTP, all loading the same files (CSVWithNames, JSONEachRow, Parquet):
//! wall time, CPU per million rows and memory.

use crate::compare::{self, Outcome, Plan, Series};
use crate::report::{self, Check, Table};
use crate::sides::{Side, Sides};
use crate::summary::{Line, WALL_RATIO_TARGET};

/// The brief's memory ceiling for `ingest` at default settings, whatever the file size.
pub const PEAK_RSS_TARGET_MIB: f64 = 100.0;

/// One row group of the table: a data set, or why there is none.
pub struct Case<'a> {
    pub plan: Result<Plan<'a>, String>,
    pub name: String,
}

const HEADER: [&str; 12] = [
    "data",
    "side",
    "median s",
    "runs s",
    "MB/s",
    "peak RSS MiB",
    "client CPU s/M rows",
    "server CPU s/M rows",
    "CPU s/M rows",
    "queries",
    "parts",
    "ingest ÷ side",
];

pub fn run(
    title: &str,
    sides: &Sides,
    cases: &[Case],
    runs: usize,
    lines: &mut Vec<Line>,
) -> anyhow::Result<Vec<Check>> {
    let mut table = Table::new(&HEADER);
    let mut notes = Vec::new();
    let mut checks = Vec::new();
    let server = &sides.server.version;
    for case in cases {
        let plan = match &case.plan {
            Ok(plan) => plan,
            Err(why) => {
                let lead = vec![case.name.clone(), "all".to_owned()];
                compare::unavailable(&mut table, lead, HEADER.len(), why);
                continue;
            }
        };
        let outcome = compare::side_by_side(sides, plan, runs)?;
        let mb = plan.set.bytes as f64 / 1e6;
        for (side, result) in &outcome.sides {
            let lead = vec![case.name.clone(), side.describe(plan.format)];
            match result {
                Ok(s) => table.row(cells(lead, s, mb, versus(&outcome, s, *side))),
                Err(why) => compare::unavailable(&mut table, lead, HEADER.len(), why),
            }
        }
        notes.push(format!(
            "{}: {mb:.0} MB of .{} files, {:.0} MB as the floor's Native.",
            case.name,
            plan.set.format,
            outcome.native_bytes as f64 / 1e6
        ));
        let (same, line) = compare::same_content(&case.name, &outcome, plan.format);
        notes.push(line);
        checks.push(Check::new(
            format!("{}: same rows on every side", case.name),
            if same { "same" } else { "different" },
            "same",
            same,
        ));
        for side in outcome.ingest_sides() {
            checks.extend(targets(&case.name, &outcome, side));
        }
        lines.push(Line::new(&case.name, server, &outcome));
    }
    println!("### {title}\n");
    table.print();
    for line in notes.iter().filter(|l| !l.is_empty()) {
        println!("{line}  ");
    }
    println!();
    Ok(checks)
}

/// On the floor's and the peers' rows: each `ingest`'s wall time and CPU per million rows as
/// shares of the side's.
fn versus(outcome: &Outcome, s: &Series, side: Side) -> String {
    if side.is_ingest() {
        return String::new();
    }
    let shares: Vec<String> = outcome
        .ingest_sides()
        .into_iter()
        .filter_map(|i| outcome.get(i).map(|series| (i, series)))
        .map(|(i, series)| {
            let Side::Ingest(jobs) = i else {
                unreachable!("ingest sides only")
            };
            format!(
                "-j{jobs}: {:.2}× wall, {:.2}× CPU",
                series.wall() / s.wall(),
                series.total_cpu_per_m() / s.total_cpu_per_m()
            )
        })
        .collect();
    shares.join("; ")
}

/// The brief's targets for a large file, for `ingest` run as `side`: wall time against the
/// faster peer, CPU against the server's own parse, peak memory.
fn targets(name: &str, outcome: &Outcome, side: Side) -> Vec<Check> {
    let Some(ingest) = outcome.get(side) else {
        return Vec::new();
    };
    let name = &format!("{name}, {}", side.describe(""));
    let mut checks = Vec::new();
    if let Some((peer_side, peer)) = outcome.fastest_peer() {
        let r = ingest.wall() / peer.wall();
        checks.push(Check::new(
            format!(
                "{name}: wall time vs the faster peer ({})",
                peer_side.short()
            ),
            &format!("{r:.2}×"),
            &format!("≤ {WALL_RATIO_TARGET:.2}×"),
            r <= WALL_RATIO_TARGET,
        ));
    }
    if let Some(parse) = outcome.get(Side::Http) {
        let (mine, theirs) = (ingest.total_cpu_per_m(), parse.total_cpu_per_m());
        checks.push(Check::new(
            format!("{name}: client + server CPU per million rows vs the server's parse"),
            &format!("{mine:.2} s vs {theirs:.2} s"),
            "≤ the server's parse",
            mine <= theirs,
        ));
    }
    let peak = ingest.peak_rss_kib() as f64 / 1024.0;
    checks.push(Check::new(
        format!("{name}: peak memory of ingest"),
        &format!("{peak:.1} MiB"),
        &format!("≤ {PEAK_RSS_TARGET_MIB:.0} MiB"),
        peak <= PEAK_RSS_TARGET_MIB,
    ));
    checks
}

fn cells(mut lead: Vec<String>, s: &Series, mb: f64, note: String) -> Vec<String> {
    lead.extend([
        format!("{:.2}", s.wall()),
        s.all_walls(),
        format!("{:.0}", mb / s.wall()),
        report::mib(s.peak_rss_kib()),
        format!("{:.2}", s.cpu_per_m()),
        format!("{:.2}", s.server_cpu_per_m()),
        format!("{:.2}", s.total_cpu_per_m()),
        report::thousands(s.queries()),
        report::thousands(s.parts()),
        note,
    ]);
    lead
}
