//! The reading side against real files in a scratch folder, watched through the work it hands
//! the sending side: which files share an insert, which go batch by batch, and which are decided
//! without sending a row. No server is involved: the reading side never talks to one.

use super::*;
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW};
use crate::folder::Folder;
use crate::manifest::{ContentState, Event};

fn settings(batch_rows: u64, insert_rows: u64) -> Settings {
    Settings {
        batch_rows,
        insert_rows,
        settle: Duration::ZERO,
        scanned_at: Instant::now(),
        limits: Limits::default(),
        policy: ErrorPolicy::FailFile,
        dry_run: false,
        spill_dir: None,
    }
}

fn target() -> Arc<Target> {
    let columns = [
        ("id", "UInt64"),
        ("note", "String"),
        (PROVENANCE_FILE, "UInt64"),
        (PROVENANCE_ROW, "UInt64"),
    ];
    Arc::new(crate::rows::target::table_of(&columns, &["id"]))
}

/// `rows` records `i,<tag>` under an `id,note` header.
fn csv(tag: &str, rows: u64) -> String {
    let mut text = "id,note\n".to_owned();
    for i in 0..rows {
        text.push_str(&format!("{i},{tag}\n"));
    }
    text
}

/// What the reading side handed over, one line per unit of work.
fn prepare(files: &[(&str, &str)], settings: Settings, state: State) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for (name, text) in files {
        std::fs::write(root.join(name), text).unwrap();
    }
    let folder = Arc::new(Folder::open(&root).unwrap());
    let found = crate::scan::scan(&folder, &[], |_, name| {
        crate::formats::detect(name).map(|d| (d, std::sync::Arc::default()))
    })
    .unwrap();
    let target = target();
    let mut candidates: Vec<Candidate> = found
        .files
        .into_iter()
        .map(|entry| Candidate {
            previous: state.by_path.get(&entry.rel).cloned().map(Box::new),
            entry,
            target: target.clone(),
            refused: None,
            on_change: crate::config::OnChange::Report,
        })
        .collect();
    let order: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    candidates.sort_by_key(|c| order.iter().position(|n| *n == c.entry.rel));
    let (tx, mut rx) = mpsc::channel(1);
    let reading = Prepare::new(
        settings,
        Progress::default(),
        Arc::new(state),
        Stamp::new("run".to_owned(), "folder".to_owned()),
        tx,
        Arc::new(Mutex::new(Crashes::none())),
    );
    let thread = std::thread::spawn(move || reading.run(candidates));
    let mut work = Vec::new();
    while let Some(w) = rx.blocking_recv() {
        work.push(describe(&w));
    }
    thread.join().unwrap();
    work
}

fn describe(work: &Work) -> String {
    match work {
        Work::Note { outcome, .. } => {
            format!("{:?} {}: {}", outcome.status, outcome.rel, outcome.detail)
        }
        Work::Group(g) => {
            let files: Vec<&str> = g.files.iter().map(|f| f.entry.rel.as_str()).collect();
            let rows: u64 = g.files.iter().map(|f| f.rows()).sum();
            format!("insert of {} ({rows} rows)", files.join(" "))
        }
        Work::Large(l) => format!(
            "{} batch by batch ({} rows of {} per batch{})",
            l.entry.rel,
            l.rows(),
            l.batch_rows,
            if l.resume { ", resumed" } else { "" }
        ),
        Work::Poison { outcome, .. } => format!("poison {}", outcome.rel),
    }
}

fn done(path: &str, batch_rows: u64, event: Event) -> ContentState {
    ContentState {
        event,
        path: path.to_owned(),
        batch_rows,
        rows: 1,
        error: String::new(),
        error_kind: None,
        generation: 0,
        rejected: 0,
        from_byte: 0,
        from_row: 0,
        prefix_hash: String::new(),
        run_id: String::new(),
    }
}

#[test]
fn small_files_of_one_table_and_column_list_share_one_insert() {
    let files = [
        ("a.csv", csv("a", 1)),
        ("b.csv", csv("b", 2)),
        ("c.csv", csv("c", 3)),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    assert_eq!(
        prepare(&files, settings(100, 1000), State::default()),
        ["insert of a.csv b.csv c.csv (6 rows)"]
    );
}

#[test]
fn another_column_list_starts_another_insert() {
    let files = [
        ("a.csv", "id,note\n1,a\n"),
        ("b.csv", "note,id\nb,2\n"),
        ("c.csv", "id,note\n3,c\n"),
    ];
    assert_eq!(
        prepare(&files, settings(100, 1000), State::default()),
        [
            "insert of a.csv (1 rows)",
            "insert of b.csv (1 rows)",
            "insert of c.csv (1 rows)"
        ]
    );
}

#[test]
fn an_insert_holds_at_most_insert_rows() {
    let files = [
        ("a.csv", csv("a", 2)),
        ("b.csv", csv("b", 1)),
        ("c.csv", csv("c", 2)),
        ("d.csv", csv("d", 2)),
        ("e.csv", csv("e", 1)),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    // c would make 5 rows: it starts the next insert, which d fills.
    assert_eq!(
        prepare(&files, settings(2, 4), State::default()),
        [
            "insert of a.csv b.csv (3 rows)",
            "insert of c.csv d.csv (4 rows)",
            "insert of e.csv (1 rows)"
        ]
    );
}

#[test]
fn a_file_of_more_rows_than_a_batch_goes_batch_by_batch_after_the_open_insert() {
    let files = [
        ("a.csv", csv("a", 1)),
        ("big.csv", csv("big", 5)),
        ("c.csv", csv("c", 1)),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    assert_eq!(
        prepare(&files, settings(2, 4), State::default()),
        [
            "insert of a.csv (1 rows)",
            "big.csv batch by batch (5 rows of 2 per batch)",
            "insert of c.csv (1 rows)"
        ]
    );
}

#[test]
fn a_bad_file_fails_alone_naming_line_and_field() {
    let files = [
        ("a.csv", "id,note\n1,a\n"),
        ("b.csv", "id,note\n2,b\nminus one,b\n"),
        ("c.csv", "id,note\n3,c\n"),
    ];
    assert_eq!(
        prepare(&files, settings(100, 1000), State::default()),
        [
            "Failed b.csv: b.csv:3:id: cannot convert \"minus one\" to UInt64: not an integer",
            "insert of a.csv c.csv (2 rows)"
        ]
    );
}

#[test]
fn the_same_content_at_two_paths_is_sent_once() {
    let files = [("a.csv", "id,note\n1,a\n"), ("copy.csv", "id,note\n1,a\n")];
    let work = prepare(&files, settings(100, 1000), State::default());
    assert_eq!(work.len(), 2, "{work:?}");
    assert!(work[0].starts_with("Duplicate copy.csv: "), "{}", work[0]);
    assert!(work[0].contains("a.csv"), "{}", work[0]);
    assert_eq!(work[1], "insert of a.csv (1 rows)");
}

#[test]
fn content_the_manifest_knows_is_decided_by_it() {
    let ingested = "id,note\n1,old\n";
    let forgotten = csv("forgotten", 4);
    let mut state = State::default();
    for (content, as_state) in [
        (ingested, done("old.csv", 100, Event::Done)),
        (forgotten.as_str(), done("f.csv", 3, Event::Forgotten)),
    ] {
        let key = ("db.t".to_owned(), crate::hash::of_bytes(content.as_bytes()));
        state.by_content.insert(key, as_state);
    }
    let files = [
        ("new.csv", ingested),
        ("f.csv", forgotten.as_str()),
        ("c.csv", "id,note\n3,c\n"),
    ];
    let work = prepare(&files, settings(100, 1000), state);
    assert_eq!(work.len(), 3, "{work:?}");
    assert!(work[0].starts_with("Duplicate new.csv: "), "{}", work[0]);
    assert!(work[0].contains("old.csv"), "{}", work[0]);
    // Forgotten content may have rows in the table: the table is asked, batch by batch as the
    // content was first cut.
    assert_eq!(
        work[1],
        "f.csv batch by batch (4 rows of 3 per batch, resumed)"
    );
    assert_eq!(work[2], "insert of c.csv (1 rows)");
}
