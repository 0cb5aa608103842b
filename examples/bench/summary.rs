//! The closing table of a report: every scenario on every server in one row each, with the floor,
//! both peers and `ingest` side by side, in wall time and in CPU per million rows.

use crate::compare::Outcome;
use crate::report::Table;
use crate::sides::Side;

/// The brief's wall-time target: `ingest` at most this share of the faster peer's time.
pub const WALL_RATIO_TARGET: f64 = 0.8;

/// One scenario on one server.
pub struct Line {
    pub data: String,
    pub server: String,
    /// Median wall seconds and client + server CPU seconds per million rows, for each side that ran.
    pub figures: Vec<(Side, f64, f64)>,
}

impl Line {
    pub fn new(data: &str, server: &str, outcome: &Outcome) -> Line {
        let figures = outcome
            .sides
            .iter()
            .filter_map(|(side, r)| {
                r.as_ref()
                    .ok()
                    .map(|s| (*side, s.wall(), s.total_cpu_per_m()))
            })
            .collect();
        Line {
            data: data.to_owned(),
            server: server.to_owned(),
            figures,
        }
    }

    fn get(&self, side: Side) -> Option<(f64, f64)> {
        self.figures
            .iter()
            .find(|(s, ..)| *s == side)
            .map(|&(_, wall, cpu)| (wall, cpu))
    }
}

/// The sides' columns, in order: every `ingest` that ran anywhere, then the floor and the peers.
fn order(lines: &[Line]) -> Vec<Side> {
    let mut jobs: Vec<u32> = lines
        .iter()
        .flat_map(|l| l.figures.iter())
        .filter_map(|(side, ..)| match side {
            Side::Ingest(j) => Some(*j),
            _ => None,
        })
        .collect();
    jobs.sort_unstable();
    jobs.dedup();
    Side::all(&jobs)
}

fn name(side: Side) -> String {
    match side {
        Side::Ingest(jobs) => format!("ingest -j{jobs}"),
        Side::Floor => "floor".to_owned(),
        Side::Client => "clickhouse-client".to_owned(),
        Side::Http => "server's parse".to_owned(),
    }
}

pub fn print(lines: &[Line]) {
    if lines.is_empty() {
        return;
    }
    let order = order(lines);
    let ingests: Vec<Side> = order.iter().copied().filter(|s| s.is_ingest()).collect();
    println!("## Every scenario on every server\n");
    println!(
        "Median wall seconds, then client + server CPU seconds per million rows; `—`: no peer \
         (the server's section says why). The ratios are of wall times; the faster peer is the \
         faster of clickhouse-client and the server's own parse.\n"
    );
    let mut header: Vec<String> = vec!["data".into(), "server".into()];
    header.extend(order.iter().map(|&s| format!("{} s", name(s))));
    for &i in &ingests {
        header.push(format!("{} ÷ faster peer", name(i)));
        header.push(format!("{} ÷ floor", name(i)));
    }
    header.extend(order.iter().map(|&s| format!("CPU s/M rows: {}", name(s))));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new(&header);
    for line in lines {
        let mut cells = vec![line.data.clone(), line.server.clone()];
        for &side in &order {
            cells.push(
                line.get(side)
                    .map_or("—".to_owned(), |(w, _)| format!("{w:.2}")),
            );
        }
        let peer = [Side::Client, Side::Http]
            .into_iter()
            .filter_map(|s| line.get(s))
            .map(|(w, _)| w)
            .min_by(f64::total_cmp);
        for &i in &ingests {
            let ingest = line.get(i);
            let ratio = |other: Option<f64>| match (ingest, other) {
                (Some((w, _)), Some(o)) if o > 0.0 => format!("{:.2}×", w / o),
                _ => "—".to_owned(),
            };
            cells.push(ratio(peer));
            cells.push(ratio(line.get(Side::Floor).map(|(w, _)| w)));
        }
        for &side in &order {
            cells.push(
                line.get(side)
                    .map_or("—".to_owned(), |(_, c)| format!("{c:.2}")),
            );
        }
        table.row(cells);
    }
    table.print();
    println!(
        "Target: ingest ÷ faster peer ≤ {WALL_RATIO_TARGET:.2}× on every format and server.\n"
    );
}
