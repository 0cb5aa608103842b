//! The shape ARCHITECTURE.md promises, checked on the source itself: every module says why it
//! exists, no module imports one that imports it back, files stay small (flat tables aside), and
//! SQL is written only behind the one door to ClickHouse, `src/ch/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files allowed past the size limit: flat tables (type parsers, per-type conversions) and
/// format readers, which read best whole.
const FLAT_TABLES: &[&str] = &[
    "ch/types/parse.rs",
    "convert/mod.rs",
    "formats/csv.rs",
    "formats/xml.rs",
    "formats/parquet.rs",
];

/// Lines of code (before a file's unit tests) a module may have.
const MAX_LINES: usize = 400;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, by its path relative to `src/`.
fn sources() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(src())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// The code of a file before its unit tests.
fn code(text: &str) -> &str {
    text.split("\n#[cfg(test)]").next().unwrap_or(text)
}

/// A file's module path: `sink/file.rs` is `sink::file`, `sink/mod.rs` is `sink`.
fn module(rel: &str) -> String {
    let path = rel.trim_end_matches(".rs");
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !matches!(*p, "mod" | "main"))
        .collect();
    parts.join("::")
}

/// The modules a file imports through `crate::` and `super::` paths, resolved to the longest
/// module that exists.
fn imports(rel: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let here = module(rel);
    // `super` in `a/b.rs` and in `a/b/mod.rs` (module `a::b`) is `a`.
    let segments: Vec<&str> = here.split("::").collect();
    let parent: Vec<&str> = segments[..segments.len().saturating_sub(1)].to_vec();
    let mut out = BTreeSet::new();
    let mut add = |path: String| {
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        for n in (1..=segs.len()).rev() {
            let m = segs[..n].join("::");
            if modules.contains(&m) {
                if m != here && !here.starts_with(&format!("{m}::")) {
                    out.insert(m);
                }
                return;
            }
        }
    };
    let code = code(text);
    for (prefix, base) in [("crate::", vec![]), ("super::", parent.clone())] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let after = &rest[i + prefix.len()..];
            let before_ok = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric();
            rest = after;
            if !before_ok {
                continue;
            }
            // A path, possibly ending in a `{a, b::c}` group.
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(after.len());
            let path = after[..end].trim_end_matches(':');
            let mut full: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
            full.extend(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            if after[end..].starts_with('{') {
                let group = &after[end + 1..after[end..].find('}').map_or(end, |j| end + j)];
                for item in group.split(',') {
                    let item = item.trim().split(" as ").next().unwrap_or("").trim();
                    let mut p = full.clone();
                    p.extend(item.split("::").map(str::to_owned));
                    add(p.join("::"));
                }
            } else {
                add(full.join("::"));
            }
        }
    }
    out
}

#[test]
fn every_module_says_why_it_exists() {
    for (rel, text) in sources() {
        assert!(
            text.starts_with("//!"),
            "src/{rel} does not open with a `//!` line"
        );
    }
}

#[test]
fn modules_stay_small_unless_they_are_flat_tables() {
    for (rel, text) in sources() {
        let lines = code(&text).lines().count();
        if !FLAT_TABLES.contains(&rel.as_str()) {
            assert!(
                lines <= MAX_LINES,
                "src/{rel} has {lines} lines of code (at most {MAX_LINES}): split it by concern"
            );
        }
    }
}

/// Panics with the circle if some module reaches itself through its imports.
fn assert_no_circle(graph: &BTreeMap<String, BTreeSet<String>>, what: &str) {
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Vec<String>> = graph[start]
            .iter()
            .map(|m| vec![start.clone(), m.clone()])
            .collect();
        while let Some(path) = todo.pop() {
            let Some(m) = path.last() else { continue };
            assert!(m != start, "{what} import circle: {}", path.join(" -> "));
            if !seen.insert(m.clone()) {
                continue;
            }
            for next in graph.get(m).into_iter().flatten() {
                let mut p = path.clone();
                p.push(next.clone());
                todo.push(p);
            }
        }
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let sources = sources();
    let modules: BTreeSet<String> = sources.keys().map(|r| module(r)).collect();
    let graph: BTreeMap<String, BTreeSet<String>> = sources
        .iter()
        .map(|(rel, text)| (module(rel), imports(rel, text, &modules)))
        .collect();
    assert_no_circle(&graph, "a file-level");
    // Layers too: `run` may use `sink`, but then nothing in `sink` may use `run`.
    let mut layers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, targets) in &graph {
        let top = |m: &str| m.split("::").next().unwrap_or(m).to_owned();
        let entry = layers.entry(top(m)).or_default();
        entry.extend(targets.iter().map(|t| top(t)).filter(|t| *t != top(m)));
    }
    assert_no_circle(&layers, "a top-level");
}

#[test]
fn sql_is_written_only_behind_the_one_door() {
    let statements = [
        "\"SELECT ",
        "\"INSERT INTO ",
        "\"ALTER TABLE ",
        "\"CREATE TABLE ",
        "\"CREATE VIEW ",
    ];
    for (rel, text) in sources() {
        if rel.starts_with("ch/") {
            continue;
        }
        for s in statements {
            assert!(
                !code(&text).contains(s),
                "src/{rel} writes SQL ({s}…): statements belong in src/ch/"
            );
        }
    }
}
