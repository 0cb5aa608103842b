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
        let figures = Side::ALL
            .into_iter()
            .filter_map(|side| {
                outcome
                    .get(side)
                    .map(|s| (side, s.wall(), s.total_cpu_per_m()))
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

const ORDER: [Side; 4] = [Side::Ingest, Side::Floor, Side::Client, Side::Http];

pub fn print(lines: &[Line]) {
    if lines.is_empty() {
        return;
    }
    println!("## Every scenario on every server\n");
    println!(
        "Median wall seconds, then client + server CPU seconds per million rows; `—`: no peer \
         (the server's section says why). The ratios are of wall times; the faster peer is the \
         faster of clickhouse-client and the server's own parse.\n"
    );
    let mut table = Table::new(&[
        "data",
        "server",
        "ingest s",
        "floor s",
        "clickhouse-client s",
        "server's parse s",
        "ingest ÷ faster peer",
        "ingest ÷ floor",
        "CPU s/M rows: ingest",
        "floor",
        "clickhouse-client",
        "server's parse",
    ]);
    for line in lines {
        let mut cells = vec![line.data.clone(), line.server.clone()];
        for side in ORDER {
            cells.push(
                line.get(side)
                    .map_or("—".to_owned(), |(w, _)| format!("{w:.2}")),
            );
        }
        let ingest = line.get(Side::Ingest);
        let peer = [Side::Client, Side::Http]
            .into_iter()
            .filter_map(|s| line.get(s))
            .map(|(w, _)| w)
            .min_by(f64::total_cmp);
        let ratio = |other: Option<f64>| match (ingest, other) {
            (Some((w, _)), Some(o)) if o > 0.0 => format!("{:.2}×", w / o),
            _ => "—".to_owned(),
        };
        cells.push(ratio(peer));
        cells.push(ratio(line.get(Side::Floor).map(|(w, _)| w)));
        for side in ORDER {
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
