//! The four scenarios: their data sets, generated once for every server, and their plans on one
//! server, where a one-row file of each format shows which sides can load it.

use crate::bulk;
use crate::compare::Plan;
use crate::data::{DataSet, Generator};
use crate::options::Options;
use crate::report::{Check, thousands};
use crate::rerun;
use crate::sides::{Side, Sides};
use crate::small;
use crate::summary::Line;
use crate::tables::{Merges, Schema};
use anyhow::Result;
use std::path::Path;

/// Every data set the wanted scenarios need.
pub struct Data {
    csv_set: Option<DataSet>,
    csv_single: Option<DataSet>,
    jsonl: Option<DataSet>,
    parquet: Option<DataSet>,
    small: Option<DataSet>,
    /// From the smallest folder to the largest.
    rerun: Vec<DataSet>,
    /// A one-row file of each format, for the probes.
    probes: Vec<DataSet>,
}

impl Data {
    pub fn make(opts: &Options, generator: &Generator, dir: &Path, probe: &Path) -> Result<Data> {
        let sizes = opts.sizes();
        let make = |name: &str, format: &str, files: u64, rows: u64, seed: u64| {
            generator.make(&dir.join(name), format, files, rows, seed)
        };
        let mut data = Data {
            csv_set: None,
            csv_single: None,
            jsonl: None,
            parquet: None,
            small: None,
            rerun: Vec::new(),
            probes: Vec::new(),
        };
        if opts.wants(1) {
            data.csv_set = Some(make("csv-set", "csv", sizes.csv_files, sizes.csv_rows, 1)?);
            data.csv_single = Some(make("csv-single", "csv", 1, sizes.big_rows, 2)?);
        }
        if opts.wants(2) {
            data.jsonl = Some(make("jsonl", "jsonl", 1, sizes.jsonl_rows, 3)?);
            data.parquet = Some(make("parquet", "parquet", 1, sizes.jsonl_rows, 7)?);
        }
        if opts.wants(3) {
            let (files, rows) = (sizes.small_files, sizes.small_rows);
            data.small = Some(make("small", "csv", files, rows, 4)?);
        }
        if opts.wants(4) {
            let rows = sizes.rerun_rows;
            if sizes.rerun_ref_files < sizes.rerun_files {
                let files = sizes.rerun_ref_files;
                data.rerun
                    .push(make("rerun-reference", "csv", files, rows, 5)?);
            }
            data.rerun
                .push(make("rerun", "csv", sizes.rerun_files, rows, 6)?);
        }
        for format in ["csv", "jsonl", "parquet"] {
            let set = generator.make(&probe.join(format), format, 1, 1, 1)?;
            data.probes.push(set);
        }
        Ok(data)
    }

    fn probe(&self, format: &str) -> Option<&DataSet> {
        self.probes.iter().find(|p| p.format == format)
    }
}

/// Runs every wanted scenario on the server behind `sides`; the summary gets one line per data set.
pub fn run(sides: &Sides, data: &Data, runs: usize, lines: &mut Vec<Line>) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let csv = availability(sides, data.probe("csv"), Schema::CsvText, "CSVWithNames");
    if let (Some(set), Some(single)) = (&data.csv_set, &data.csv_single) {
        let cases: Vec<bulk::Case> = [(set, "csv set"), (single, "csv single")]
            .into_iter()
            .map(|(s, label)| bulk::Case {
                name: name("CSV", s),
                plan: Ok(Plan {
                    label,
                    set: s,
                    schema: Schema::CsvText,
                    merges: Merges::Running,
                    format: "CSVWithNames",
                    sides: csv.clone(),
                }),
            })
            .collect();
        checks.extend(bulk::run("1. Large CSV", sides, &cases, runs, lines)?);
    }
    if let (Some(jsonl), Some(parquet)) = (&data.jsonl, &data.parquet) {
        let mut cases = Vec::new();
        for (set, format) in [(jsonl, "JSONEachRow"), (parquet, "Parquet")] {
            let able = availability(sides, data.probe(&set.format), Schema::Typed, format);
            cases.push(bulk::Case {
                name: name(&set.format, set),
                plan: Ok(Plan {
                    label: &set.format,
                    set,
                    schema: Schema::Typed,
                    merges: Merges::Running,
                    format,
                    sides: able,
                }),
            });
        }
        checks.extend(bulk::run(
            "2. Large JSONL and Parquet",
            sides,
            &cases,
            runs,
            lines,
        )?);
    }
    if let Some(set) = &data.small {
        let plan = Plan {
            label: "small files",
            set,
            schema: Schema::CsvText,
            merges: Merges::Stopped,
            format: "CSVWithNames",
            sides: csv.clone(),
        };
        checks.extend(small::run(sides, &plan, runs, lines)?);
    }
    if !data.rerun.is_empty() {
        let sets: Vec<&DataSet> = data.rerun.iter().collect();
        checks.extend(rerun::run(sides, &sets, runs)?);
    }
    Ok(checks)
}

fn name(format: &str, set: &DataSet) -> String {
    format!(
        "{format}, {} × {} rows",
        set.files.len(),
        thousands(set.rows_per_file)
    )
}

/// Which sides load files of `format` on this server, tried on the one-row `probe`; the floor
/// needs one side that does, to land the rows it encodes.
fn availability(
    sides: &Sides,
    probe: Option<&DataSet>,
    schema: Schema,
    format: &str,
) -> Vec<(Side, Result<(), String>)> {
    let mut able: Vec<(Side, Result<(), String>)> = Vec::new();
    for side in sides.all() {
        let result = match (side, probe) {
            (_, None) => Err("no one-row file to try".to_owned()),
            (Side::Floor, _) if able.iter().any(|(_, r)| r.is_ok()) => Ok(()),
            (Side::Floor, _) => {
                Err("no side loads this format, so there are no rows to encode".to_owned())
            }
            (side, Some(set)) => sides
                .reads(side, set, schema, format)
                .map_err(|why| format!("{}: {}", who(side), short(&why))),
        };
        if let Err(why) = &result {
            eprintln!("{}: {why}", side.describe(format));
        }
        able.push((side, result));
    }
    able
}

fn who(side: Side) -> &'static str {
    match side {
        Side::Ingest(_) => "this ingest cannot load it",
        Side::Client => "clickhouse-client parses the file itself, and says",
        Side::Http => "the server says",
        Side::Floor => "floor",
    }
}

/// ClickHouse's own words from an error, without the command and the stack of wrappers.
fn short(why: &str) -> String {
    let text = match why.find("Exception: ") {
        Some(at) => &why[at + "Exception: ".len()..],
        None => why,
    };
    let text = text.split(", e.what()").next().unwrap_or(text);
    text.split(" (version")
        .next()
        .unwrap_or(text)
        .trim()
        .to_owned()
}
