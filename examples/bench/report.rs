//! What the harness prints: Markdown tables (ready to paste into BENCHMARKS.md), medians, and the
//! brief's targets as checks that were met or missed.

use std::time::Duration;

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, &w)| format!("{c:<w$}"))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        line(&self.header);
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        println!("|-{}-|", rule.join("-|-"));
        for row in &self.rows {
            line(row);
        }
        println!();
    }
}

/// One of the brief's targets and how this run did against it.
pub struct Check {
    /// The server the check was measured on.
    pub server: String,
    pub what: String,
    pub measured: String,
    pub target: String,
    pub met: bool,
}

impl Check {
    pub fn new(what: String, measured: &str, target: &str, met: bool) -> Check {
        Check {
            server: String::new(),
            what,
            measured: measured.to_owned(),
            target: target.to_owned(),
            met,
        }
    }
}

pub fn print_checks(checks: &[Check]) {
    if checks.is_empty() {
        return;
    }
    println!("## Targets\n");
    let mut table = Table::new(&["server", "target", "measured", "goal", ""]);
    for c in checks {
        let verdict = if c.met { "met" } else { "missed" };
        table.row(vec![
            c.server.clone(),
            c.what.clone(),
            c.measured.clone(),
            c.target.clone(),
            verdict.to_owned(),
        ]);
    }
    table.print();
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

pub fn median_secs(values: impl IntoIterator<Item = Duration>) -> f64 {
    let secs: Vec<f64> = values.into_iter().map(|d| d.as_secs_f64()).collect();
    median(&secs)
}

pub fn median_u64(values: impl IntoIterator<Item = u64>) -> u64 {
    let v: Vec<f64> = values.into_iter().map(|n| n as f64).collect();
    median(&v).round() as u64
}

/// Every run's wall time, in run order: the spread shows how noisy the machine was.
pub fn all_secs(values: impl IntoIterator<Item = Duration>) -> String {
    let v: Vec<String> = values
        .into_iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    v.join(" ")
}

pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
