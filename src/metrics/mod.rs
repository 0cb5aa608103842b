//! Prometheus metrics in node_exporter's textfile-collector format, written after every run.
//!
//! Each run is a new process, so counters (`*_total`, the file-duration histogram) are carried
//! over: the previous file is read and this run's numbers are added, making them cumulative across
//! runs as Prometheus' `rate()` and `increase()` expect (deleting the file is a counter reset,
//! which those functions handle). Gauges describe the last run, and the files that need attention
//! after it. Every series carries the data folder's id as its `folder` label, so that several
//! folders' files in one collector never collide. The file is replaced atomically.

mod totals;

pub use totals::BUCKETS;

use crate::folder::Folder;
use crate::manifest::ATTENTION_REASONS;
use crate::summary::Summary;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::Path;
use totals::{Totals, epoch, le_label};

/// Series written in the text format, each carrying the folder's label.
struct Text {
    out: String,
    folder: String,
}

impl Text {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// A metric family: `series` are (other labels, value).
    fn family(&mut self, name: &str, kind: &str, help: &str, series: &[(String, String)]) {
        self.head(name, kind, help);
        for (labels, value) in series {
            let labels = match labels.is_empty() {
                true => self.folder.clone(),
                false => format!("{},{labels}", self.folder),
            };
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
    }

    /// A family of one series with no other label.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl ToString) {
        self.family(name, kind, help, &[(String::new(), value.to_string())]);
    }

    /// A family labelled by one label, from a map.
    fn by(&mut self, name: &str, kind: &str, help: &str, label: &str, map: &BTreeMap<String, u64>) {
        let series: Vec<_> = map
            .iter()
            .map(|(k, n)| (format!("{label}=\"{}\"", label_text(k)), n.to_string()))
            .collect();
        self.family(name, kind, help, &series);
    }

    fn histogram(&mut self, t: &Totals) {
        let name = "ingest_file_duration_seconds";
        self.head(
            name,
            "histogram",
            "Time to read, send and confirm a file (ingested or failed).",
        );
        let folder = &self.folder;
        for le in BUCKETS
            .iter()
            .map(|b| le_label(*b))
            .chain(["+Inf".to_owned()])
        {
            let n = t.buckets.get(&le).copied().unwrap_or(0);
            let _ = writeln!(self.out, "{name}_bucket{{{folder},le=\"{le}\"}} {n}");
        }
        let _ = writeln!(self.out, "{name}_sum{{{folder}}} {}", t.duration_sum);
        let _ = writeln!(self.out, "{name}_count{{{folder}}} {}", t.duration_count);
    }
}

/// The whole file for this run, given what earlier runs wrote.
fn render(previous: &str, s: &Summary) -> String {
    let mut t = Totals::parse(previous);
    t.add(s);
    let mut m = Text {
        out: String::new(),
        folder: format!("folder=\"{}\"", label_text(&s.folder)),
    };
    m.family(
        "ingest_build_info",
        "gauge",
        "Version of ingest that wrote this file.",
        &[(
            format!("version=\"{}\"", label_text(s.version)),
            "1".to_owned(),
        )],
    );
    m.by(
        "ingest_runs_total",
        "counter",
        "Runs, by exit code.",
        "exit_code",
        &t.runs,
    );
    m.by(
        "ingest_files_total",
        "counter",
        "Files seen by runs, by outcome.",
        "outcome",
        &t.files,
    );
    m.single("ingest_rows_total", "counter", "Rows ingested.", t.rows);
    m.single(
        "ingest_bytes_total",
        "counter",
        "Bytes of the files ingested.",
        t.bytes,
    );
    m.single(
        "ingest_rejected_records_total",
        "counter",
        "Records left out of ingested files (--on-error skip-row).",
        t.rejected,
    );
    m.histogram(&t);
    let attention: BTreeMap<String, u64> = ATTENTION_REASONS
        .iter()
        .map(|r| ((*r).to_owned(), t.attention.get(*r).copied().unwrap_or(0)))
        .collect();
    m.by(
        "ingest_files_needing_attention",
        "gauge",
        "Files of the folder that need an operator after the last run, by reason (held back, \
         failed, quarantined, poison, in flight).",
        "reason",
        &attention,
    );
    last_run(&mut m, s, &t);
    if let Some(at) = s.heartbeat {
        m.single(HEARTBEAT, "gauge", HEARTBEAT_HELP, epoch(at));
    }
    m.out
}

const HEARTBEAT: &str = "ingest_watch_heartbeat_timestamp_seconds";
const HEARTBEAT_HELP: &str =
    "When `ingest watch` last went round its loop (Unix time); it beats while idle.";

/// Renews only the watcher's heartbeat in the metrics file at `path`, leaving every other
/// series as the last cycle wrote it: a stale value means a stuck or dead watcher, not a quiet
/// folder.
pub fn beat(path: &Path, folder: &str, at: chrono::DateTime<chrono::Utc>) -> io::Result<()> {
    replace(path, |previous| {
        let mut m = Text {
            out: previous
                .lines()
                .filter(|l| !l.contains(HEARTBEAT))
                .map(|l| format!("{l}\n"))
                .collect(),
            folder: format!("folder=\"{}\"", label_text(folder)),
        };
        m.single(HEARTBEAT, "gauge", HEARTBEAT_HELP, epoch(at));
        m.out
    })
}

/// The gauges that describe the last run.
fn last_run(m: &mut Text, s: &Summary, t: &Totals) {
    m.single(
        "ingest_last_run_warnings",
        "gauge",
        "Warnings of the last run (data files no route matches, routes that matched no file).",
        s.warnings.len(),
    );
    m.single(
        "ingest_run_duration_seconds",
        "gauge",
        "Wall time of the last run.",
        s.duration.as_secs_f64(),
    );
    m.single(
        "ingest_last_run_timestamp_seconds",
        "gauge",
        "When the last run ended (Unix time).",
        epoch(s.finished),
    );
    m.single(
        "ingest_last_run_exit_code",
        "gauge",
        "Exit code of the last run (0 ok, 3 files failed, 4 ClickHouse unreachable, ...).",
        s.exit.code(),
    );
    m.single(
        "ingest_last_success_timestamp_seconds",
        "gauge",
        "When a run last ended with exit code 0 (Unix time; 0 if never).",
        t.last_success,
    );
}

/// A label value as the text format wants it: `\\`, `\"` and `\n` escaped.
fn label_text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Adds this run to the metrics file at `path`.
pub fn write(path: &Path, s: &Summary) -> io::Result<()> {
    replace(path, |previous| render(previous, s))
}

/// Replaces the metrics file at `path` with what `make` makes of its previous text: writes the
/// new one to a temporary file in the same folder and renames it over the old one. Neither is
/// ever opened through a symlink; a symlink planted in the file's place is replaced, not
/// followed.
fn replace(path: &Path, make: impl FnOnce(&str) -> String) -> io::Result<()> {
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
    let text = make(&previous);
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
    use crate::exit::Exit;
    use crate::exit::Fatal;
    use crate::outcome::FileOutcome;
    use crate::outcome::RunReport;
    use crate::outcome::RunStart;
    use crate::outcome::Status;
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
