//! Prometheus metrics in node_exporter's textfile-collector format, written after every run.
//!
//! Each run is a new process, so counters (`*_total`, the file-duration histogram) are carried
//! over: the previous file is read and this run's numbers are added, making them cumulative across
//! runs as Prometheus' `rate()` and `increase()` expect (deleting the file is a counter reset,
//! which those functions handle). Gauges describe the last run, and the files that need attention
//! after it. Every series carries the data folder's id as its `folder` label, so that several
//! folders' files in one collector never collide. The file is replaced atomically.

use crate::exit::Exit;
use crate::folder::Folder;
use crate::manifest::ATTENTION_REASONS;
use crate::run::outcome::Status;
use crate::summary::Summary;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::Path;

/// Upper bounds of the per-file duration histogram, in seconds; 600 is the "slow file" threshold.
pub const BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 600.0, 1800.0, 3600.0];

/// The cumulative part, as read from the previous file and as written to the next.
#[derive(Debug, Default, Clone, PartialEq)]
struct Totals {
    runs: BTreeMap<String, u64>,
    files: BTreeMap<String, u64>,
    rows: u64,
    bytes: u64,
    rejected: u64,
    /// Keyed by the `le` label as written; `+Inf` included.
    buckets: BTreeMap<String, u64>,
    duration_sum: f64,
    duration_count: u64,
    last_success: f64,
    /// The gauge of files needing attention, by reason: kept from the previous file when a run
    /// cannot ask the manifest.
    attention: BTreeMap<String, u64>,
}

/// Bounds are written as floats (`1.0`, not `1`), the form Prometheus 3 normalises `le` to, so
/// rules matching `le="600.0"` work with every Prometheus version.
fn le_label(bound: f64) -> String {
    format!("{bound:?}")
}

/// Statuses whose duration measures real work on the file (read, converted, sent).
fn timed(status: Status) -> bool {
    matches!(status, Status::Ingested | Status::Failed)
}

impl Totals {
    /// Reads what an earlier run wrote; lines it does not know are ignored.
    fn parse(text: &str) -> Totals {
        let mut t = Totals::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, label) = match series.split_once('{') {
                Some((name, rest)) => (name, label_value(rest)),
                None => (series, None),
            };
            // Series written before the `folder` label have no other.
            let label = label.filter(|l| !l.is_empty());
            let count = value as u64;
            match (name, label) {
                ("ingest_runs_total", Some(l)) => {
                    t.runs.insert(l, count);
                }
                ("ingest_files_total", Some(l)) => {
                    t.files.insert(l, count);
                }
                ("ingest_file_duration_seconds_bucket", Some(l)) => {
                    t.buckets.insert(l, count);
                }
                ("ingest_files_needing_attention", Some(l)) => {
                    t.attention.insert(l, count);
                }
                ("ingest_rows_total", None) => t.rows = count,
                ("ingest_bytes_total", None) => t.bytes = count,
                ("ingest_rejected_records_total", None) => t.rejected = count,
                ("ingest_file_duration_seconds_sum", None) => t.duration_sum = value,
                ("ingest_file_duration_seconds_count", None) => t.duration_count = count,
                ("ingest_last_success_timestamp_seconds", None) => t.last_success = value,
                _ => {}
            }
        }
        t
    }

    fn add(&mut self, s: &Summary) {
        *self.runs.entry(s.exit.code().to_string()).or_default() += 1;
        // Present from the first run on, so that `increase()` sees the first failure too.
        for status in [Status::Ingested, Status::Failed] {
            self.files.entry(status.label().to_owned()).or_default();
        }
        for (status, n) in s.counts() {
            *self.files.entry(status.label().to_owned()).or_default() += n;
        }
        self.rows += s.rows();
        self.bytes += s.bytes();
        self.rejected += s.rejected();
        if let Some(attention) = &s.attention {
            self.attention = attention.clone();
        }
        for o in s.outcomes.iter().filter(|o| timed(o.status)) {
            let secs = o.duration.as_secs_f64();
            for b in BUCKETS.iter().filter(|&&b| secs <= b) {
                *self.buckets.entry(le_label(*b)).or_default() += 1;
            }
            *self.buckets.entry("+Inf".to_owned()).or_default() += 1;
            self.duration_sum += secs;
            self.duration_count += 1;
        }
        if s.exit == Exit::Ok {
            self.last_success = epoch(s.finished);
        }
    }
}

/// The value of the label other than `folder` in `rest` (what follows `{`), e.g.
/// `folder="x",outcome="failed"}`; empty when there is no other.
fn label_value(rest: &str) -> Option<String> {
    let mut rest = rest;
    loop {
        let (name, quoted) = rest.split_once("=\"")?;
        let (value, after) = quoted.split_once('"')?;
        if name.trim_start_matches(',').trim() != "folder" {
            return Some(value.to_owned());
        }
        rest = after;
        if rest.trim_start().starts_with('}') {
            return Some(String::new());
        }
    }
}

fn epoch(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The whole file for this run, given what earlier runs wrote.
fn render(previous: &str, s: &Summary) -> String {
    let mut t = Totals::parse(previous);
    t.add(s);
    let folder = format!("folder=\"{}\"", label_text(&s.folder));
    let mut out = String::new();
    let family =
        |out: &mut String, name: &str, kind: &str, help: &str, series: &[(String, String)]| {
            head(out, name, kind, help);
            for (labels, value) in series {
                let labels = match labels.is_empty() {
                    true => folder.clone(),
                    false => format!("{folder},{labels}"),
                };
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        };
    let plain = |v: String| vec![(String::new(), v)];
    family(
        &mut out,
        "ingest_build_info",
        "gauge",
        "Version of ingest that wrote this file.",
        &[(
            format!("version=\"{}\"", label_text(s.version)),
            "1".to_owned(),
        )],
    );
    let runs: Vec<_> = t
        .runs
        .iter()
        .map(|(code, n)| (format!("exit_code=\"{}\"", label_text(code)), n.to_string()))
        .collect();
    family(
        &mut out,
        "ingest_runs_total",
        "counter",
        "Runs, by exit code.",
        &runs,
    );
    let files: Vec<_> = t
        .files
        .iter()
        .map(|(o, n)| (format!("outcome=\"{}\"", label_text(o)), n.to_string()))
        .collect();
    family(
        &mut out,
        "ingest_files_total",
        "counter",
        "Files seen by runs, by outcome.",
        &files,
    );
    family(
        &mut out,
        "ingest_rows_total",
        "counter",
        "Rows ingested.",
        &plain(t.rows.to_string()),
    );
    family(
        &mut out,
        "ingest_bytes_total",
        "counter",
        "Bytes of the files ingested.",
        &plain(t.bytes.to_string()),
    );
    family(
        &mut out,
        "ingest_rejected_records_total",
        "counter",
        "Records left out of ingested files (--on-error skip-row).",
        &plain(t.rejected.to_string()),
    );
    let mut histogram: Vec<(String, String)> = Vec::new();
    for le in BUCKETS
        .iter()
        .map(|b| le_label(*b))
        .chain(["+Inf".to_owned()])
    {
        let n = t.buckets.get(&le).copied().unwrap_or(0);
        histogram.push((format!("le=\"{le}\""), n.to_string()));
    }
    head(
        &mut out,
        "ingest_file_duration_seconds",
        "histogram",
        "Time to read, send and confirm a file (ingested or failed).",
    );
    for (labels, n) in &histogram {
        let _ = writeln!(
            out,
            "ingest_file_duration_seconds_bucket{{{folder},{labels}}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "ingest_file_duration_seconds_sum{{{folder}}} {}",
        t.duration_sum
    );
    let _ = writeln!(
        out,
        "ingest_file_duration_seconds_count{{{folder}}} {}",
        t.duration_count
    );
    let attention: Vec<_> = ATTENTION_REASONS
        .iter()
        .map(|r| {
            let n = t.attention.get(*r).copied().unwrap_or(0);
            (format!("reason=\"{r}\""), n.to_string())
        })
        .collect();
    family(
        &mut out,
        "ingest_files_needing_attention",
        "gauge",
        "Files of the folder that need an operator after the last run, by reason (held back, \
         failed, quarantined, poison, in flight).",
        &attention,
    );
    family(
        &mut out,
        "ingest_last_run_warnings",
        "gauge",
        "Warnings of the last run (data files no route matches, routes that matched no file).",
        &plain(s.warnings.len().to_string()),
    );
    family(
        &mut out,
        "ingest_run_duration_seconds",
        "gauge",
        "Wall time of the last run.",
        &plain(s.duration.as_secs_f64().to_string()),
    );
    family(
        &mut out,
        "ingest_last_run_timestamp_seconds",
        "gauge",
        "When the last run ended (Unix time).",
        &plain(epoch(s.finished).to_string()),
    );
    family(
        &mut out,
        "ingest_last_run_exit_code",
        "gauge",
        "Exit code of the last run (0 ok, 3 files failed, 4 ClickHouse unreachable, ...).",
        &plain(s.exit.code().to_string()),
    );
    family(
        &mut out,
        "ingest_last_success_timestamp_seconds",
        "gauge",
        "When a run last ended with exit code 0 (Unix time; 0 if never).",
        &plain(t.last_success.to_string()),
    );
    out
}

/// A label value as the text format wants it: `\\`, `\"` and `\n` escaped.
fn label_text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Adds this run to the metrics file at `path`: reads the previous file, writes the new one to a
/// temporary file in the same folder, and renames it over the old one. Neither is ever opened
/// through a symlink; a symlink planted in the file's place is replaced, not followed.
pub fn write(path: &Path, s: &Summary) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the metrics path names no file",
            )
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = Folder::open(parent)?;
    let previous = match dir.open_exact(&name) {
        Ok(mut file) => {
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            text
        }
        Err(e) if e.is_gone() || e.is_swap() => String::new(),
        Err(e) => return Err(io::Error::other(e)),
    };
    let text = render(&previous, s);
    // A dot name ending in `.tmp` is never picked up by the collector, which reads `*.prom`.
    let tmp = format!(".{name}.{}.tmp", std::process::id());
    let written = write_new(&dir, &tmp, text.as_bytes()).and_then(|()| dir.rename(&tmp, &name));
    if written.is_err() {
        let _ = dir.remove(&tmp);
    }
    written
}

/// Writes a new file, readable by everyone (node_exporter usually runs as another user).
fn write_new(dir: &Folder, name: &str, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match dir.remove(name) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = dir.create_new(name, 0o644)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Fatal;
    use crate::run::RunReport;
    use crate::run::outcome::FileOutcome;
    use crate::summary::RunStart;
    use std::time::Duration;

    fn report(exit: Exit, outcomes: Vec<FileOutcome>) -> Result<RunReport, Fatal> {
        Ok(RunReport {
            run_id: String::new(),
            dry_run: false,
            outcomes,
            created: Vec::new(),
            altered: Vec::new(),
            warnings: Vec::new(),
            stopped: None,
            exit,
            elapsed: Duration::ZERO,
        })
    }

    fn file(status: Status, rows: u64, secs: u64) -> FileOutcome {
        let mut o = FileOutcome::new("f.csv", status);
        o.rows = rows;
        o.bytes = rows * 10;
        o.duration = Duration::from_secs(secs);
        o
    }

    /// A series' value, named without its `folder` label.
    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .map(|l| l.replace("{folder=\"\"}", "").replace("folder=\"\",", ""))
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    #[test]
    fn counters_add_up_across_runs_and_gauges_describe_the_last() {
        let start = RunStart::now();
        let first = report(
            Exit::FilesFailed,
            vec![file(Status::Ingested, 5, 2), file(Status::Failed, 0, 700)],
        );
        let one = render("", &Summary::new(&start, false, &first));
        assert_eq!(value(&one, "ingest_last_success_timestamp_seconds"), 0.0);
        let second = report(Exit::Ok, vec![file(Status::Ingested, 7, 0)]);
        let summary = Summary::new(&start, false, &second);
        let two = render(&one, &summary);
        assert_eq!(value(&two, "ingest_rows_total"), 12.0);
        assert_eq!(value(&two, "ingest_bytes_total"), 120.0);
        assert_eq!(value(&two, "ingest_files_total{outcome=\"ingested\"}"), 2.0);
        assert_eq!(value(&two, "ingest_files_total{outcome=\"failed\"}"), 1.0);
        assert_eq!(value(&two, "ingest_runs_total{exit_code=\"3\"}"), 1.0);
        assert_eq!(value(&two, "ingest_runs_total{exit_code=\"0\"}"), 1.0);
        assert_eq!(value(&two, "ingest_file_duration_seconds_count"), 3.0);
        assert_eq!(value(&two, "ingest_file_duration_seconds_sum"), 702.0);
        assert_eq!(
            value(&two, "ingest_file_duration_seconds_bucket{le=\"0.1\"}"),
            1.0
        );
        assert_eq!(
            value(&two, "ingest_file_duration_seconds_bucket{le=\"600.0\"}"),
            2.0
        );
        assert_eq!(
            value(&two, "ingest_file_duration_seconds_bucket{le=\"+Inf\"}"),
            3.0
        );
        assert_eq!(value(&two, "ingest_last_run_exit_code"), 0.0);
        assert_eq!(
            value(&two, "ingest_last_success_timestamp_seconds"),
            epoch(summary.finished)
        );
        let three = render(&two, &Summary::new(&start, false, &Err(Fatal::config("x"))));
        assert_eq!(value(&three, "ingest_last_run_exit_code"), 2.0);
        assert_eq!(
            value(&three, "ingest_last_success_timestamp_seconds"),
            epoch(summary.finished),
            "a failed run keeps the last success"
        );
        assert_eq!(value(&three, "ingest_rows_total"), 12.0);
    }

    #[test]
    fn every_series_names_its_folder_and_the_attention_gauge_outlives_a_run_that_cannot_ask() {
        let start = RunStart::now();
        let r = report(Exit::Changed, vec![file(Status::Changed, 0, 0)]);
        let mut s = Summary::new(&start, false, &r);
        s.folder = "shop-eu".to_owned();
        s.attention = Some([("changed".to_owned(), 1)].into_iter().collect());
        let one = render("", &s);
        for line in one.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("{folder=\"shop-eu\""), "{line}");
        }
        s.attention = None;
        let two = render(&one, &s);
        assert!(
            two.contains(
                "ingest_files_needing_attention{folder=\"shop-eu\",reason=\"changed\"} 1\n"
            )
        );
        assert!(
            two.contains(
                "ingest_files_needing_attention{folder=\"shop-eu\",reason=\"poison\"} 0\n"
            )
        );
        assert!(two.contains("ingest_runs_total{folder=\"shop-eu\",exit_code=\"6\"} 2\n"));
    }

    #[test]
    fn a_damaged_previous_file_starts_the_counters_again() {
        let start = RunStart::now();
        let r = report(Exit::Ok, vec![file(Status::Ingested, 3, 0)]);
        let text = render(
            "ingest_rows_total x\ngarbage{\n",
            &Summary::new(&start, false, &r),
        );
        assert_eq!(value(&text, "ingest_rows_total"), 3.0);
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest.prom");
        let start = RunStart::now();
        let r = report(Exit::Ok, vec![file(Status::Ingested, 3, 0)]);
        write(&path, &Summary::new(&start, false, &r)).unwrap();
        write(&path, &Summary::new(&start, false, &r)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(value(&text, "ingest_rows_total"), 6.0);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "readable by node_exporter");
    }

    #[test]
    fn symlinks_planted_for_the_file_or_its_temporary_file_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "ingest_rows_total 1000\n").unwrap();
        let path = dir.path().join("ingest.prom");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let tmp = dir
            .path()
            .join(format!(".ingest.prom.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&target, &tmp).unwrap();
        let start = RunStart::now();
        let r = report(Exit::Ok, vec![file(Status::Ingested, 3, 0)]);
        write(&path, &Summary::new(&start, false, &r)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "ingest_rows_total 1000\n"
        );
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(value(&text, "ingest_rows_total"), 3.0);
    }
}
