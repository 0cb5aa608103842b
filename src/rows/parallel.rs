//! One file's records read and converted on several threads (`--jobs` above 1): its text is cut
//! into pieces of whole records, each piece is read and converted into rows by a copy of the
//! file's reader on one of the workers, and the rows, rejects and errors come back in the file's
//! order. Whoever takes them sees what reading the file on one thread gives, so batches, blocks,
//! inserts and their names do not depend on the number of jobs.

use super::columnar::Room;
use super::target::{ColumnPlan, RowWriter};
use crate::formats::pieces::{Forks, Piece};
use crate::formats::{ReadError, RecordError, RecordSource};
use crate::native::BlockBuilder;
use chrono_tz::Tz;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// A worker hands its rows over in blocks of about this many bytes.
const FRAGMENT_BYTES: usize = 2 << 20;

/// What the cutting thread gives a worker.
enum Task {
    Piece(Piece),
    /// Every piece was handed out.
    Done,
}

/// What a worker hands back, piece by piece, in order.
enum Event {
    /// Good rows, in a block of the file's columns (metadata and provenance not yet stamped).
    Rows(BlockBuilder),
    /// A bad record, and the value at fault.
    Reject(RecordError, String),
    /// Reading cannot go on: nothing after this counts.
    Broken(ReadError),
    /// The piece is over; the next comes from the next worker.
    PieceEnd,
    /// There are no more pieces.
    End,
}

/// What the next records are.
pub enum Next {
    /// This many rows were appended to the block.
    Rows(usize),
    /// A bad record, and the value at fault.
    Reject(RecordError, String),
    Broken(ReadError),
    /// The end of the file.
    End,
    /// Asked for rows only, and the next record is not a good one.
    NotRows,
}

/// The taking end: rows in the file's order.
pub struct Parallel {
    outputs: Vec<Receiver<Event>>,
    turn: usize,
    held: Option<Event>,
    /// The block rows are being taken from, and how many were taken.
    rows: Option<(BlockBuilder, usize)>,
    /// Columns stamped here rather than copied.
    stamped: Vec<usize>,
    /// Where emptied blocks go back to the worker they came from, to be filled again.
    spares: Vec<SyncSender<BlockBuilder>>,
    threads: Vec<JoinHandle<()>>,
}

impl Parallel {
    /// Starts reading the rest of `source` on `jobs` workers, when there is more than one, its
    /// format can be cut into pieces and its rows copied from block to block (every column plain
    /// or nullable); `None` leaves the source as it was.
    pub fn start(
        source: &mut dyn RecordSource,
        plan: &ColumnPlan,
        tz: Tz,
        jobs: usize,
    ) -> Option<Parallel> {
        if jobs < 2 || !plan.new_block(tz).ok()?.takes_bulk() {
            return None;
        }
        let split = source.split()?;
        let forks: Arc<dyn Forks> = Arc::from(split.forks);
        let mut inputs = Vec::with_capacity(jobs);
        let mut outputs = Vec::with_capacity(jobs);
        let mut threads = Vec::with_capacity(jobs + 1);
        let mut spares = Vec::with_capacity(jobs);
        // A worker that cannot be started leaves the file to fewer; with none, or without the
        // cutting thread, the workers stop without saying the file ended, which `next` reports
        // as a local failure (the source gave its input away).
        for _ in 0..jobs {
            let (task_tx, tasks) = sync_channel::<Task>(1);
            let (event_tx, events) = sync_channel::<Event>(2);
            let (spare_tx, spare) = sync_channel::<BlockBuilder>(2);
            let (forks, plan) = (forks.clone(), plan.clone());
            let worker = move || {
                let new_block = |plan: &ColumnPlan| match spare.try_recv() {
                    Ok(block) => Some(block),
                    Err(_) => plan.new_block(tz).ok(),
                };
                work(&tasks, &event_tx, &*forks, plan, &new_block);
            };
            match crate::rows::spawn_reading("convert", worker) {
                Ok(t) => threads.push(t),
                Err(_) => break,
            }
            inputs.push(task_tx);
            outputs.push(events);
            spares.push(spare_tx);
        }
        let pieces = split.pieces;
        let cutter = move || {
            let n = inputs.len();
            for (i, piece) in pieces.enumerate() {
                if inputs[i % n].send(Task::Piece(piece)).is_err() {
                    return;
                }
            }
            for input in &inputs {
                let _ = input.send(Task::Done);
            }
        };
        if !outputs.is_empty()
            && let Ok(t) = std::thread::Builder::new().name("cut".into()).spawn(cutter)
        {
            threads.push(t);
        }
        Some(Parallel {
            outputs,
            turn: 0,
            held: None,
            rows: None,
            stamped: plan.stamped_columns(),
            spares,
            threads,
        })
    }

    /// Appends the next good rows to `block`, stamped with `file_id` and ordinals from `first`,
    /// as many as `room` allows; or says what the next record is instead. With `rows_only`, a
    /// record that is not a good one is left for the next call.
    pub fn next(
        &mut self,
        block: &mut BlockBuilder,
        plan: &ColumnPlan,
        (file_id, first): (u64, u64),
        room: Room,
        rows_only: bool,
    ) -> Next {
        loop {
            if let Some((from, at)) = &mut self.rows {
                let n = room.rows.min(from.rows() - *at);
                if n > 0 {
                    let start = block.rows();
                    block.extend_from(from, *at, n, &self.stamped);
                    plan.stamp_rows(block, file_id, first, n);
                    let n = block.keep_reaching(start, room.bytes);
                    *at += n;
                    return Next::Rows(n);
                }
                if room.rows == 0 {
                    return Next::NotRows;
                }
                if let Some((mut done, _)) = self.rows.take() {
                    done.truncate(0);
                    let _ = self.spares[self.turn].try_send(done);
                }
            }
            let event = match self.held.take() {
                Some(e) => e,
                None => match self.outputs.get(self.turn).map(Receiver::recv) {
                    Some(Ok(e)) => e,
                    _ => Event::Broken(ReadError::Local(
                        "a thread converting the file's records stopped".into(),
                    )),
                },
            };
            match event {
                Event::Rows(b) => self.rows = Some((b, 0)),
                Event::PieceEnd => self.turn = (self.turn + 1) % self.outputs.len(),
                other if rows_only => {
                    self.held = Some(other);
                    return Next::NotRows;
                }
                Event::Reject(e, v) => return Next::Reject(e, v),
                Event::Broken(e) => {
                    self.held = Some(Event::End);
                    return Next::Broken(e);
                }
                Event::End => {
                    self.held = Some(Event::End);
                    return Next::End;
                }
            }
        }
    }
}

impl Drop for Parallel {
    /// Stops the threads (they stop at their next hand-over once nobody takes it) and waits for
    /// them, so that nothing reads the file any more.
    fn drop(&mut self) {
        self.outputs.clear();
        self.spares.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A worker: reads the pieces it is given into blocks of rows until there are no more.
fn work(
    tasks: &Receiver<Task>,
    events: &SyncSender<Event>,
    forks: &dyn Forks,
    mut plan: ColumnPlan,
    new_block: &dyn Fn(&ColumnPlan) -> Option<BlockBuilder>,
) {
    let send = |e: Event| events.send(e).is_ok();
    loop {
        let piece = match tasks.recv() {
            Ok(Task::Piece(p)) => p,
            Ok(Task::Done) => {
                send(Event::End);
                return;
            }
            Err(_) => return,
        };
        let mut source = forks.open(piece);
        plan.reset_fields();
        if !convert(&mut *source, &mut plan, new_block, &send) || !send(Event::PieceEnd) {
            return;
        }
    }
}

/// Reads one piece's records, handing over its rows, rejects and the error that stops it, if
/// one does; `false` once nobody takes them.
fn convert(
    source: &mut dyn RecordSource,
    plan: &mut ColumnPlan,
    new_block: &dyn Fn(&ColumnPlan) -> Option<BlockBuilder>,
    send: &dyn Fn(Event) -> bool,
) -> bool {
    let Some(mut block) = new_block(plan) else {
        return send(Event::Broken(ReadError::Local(
            "the table's columns cannot be encoded".into(),
        )));
    };
    let hand_over = |block: &mut BlockBuilder, plan: &ColumnPlan| -> bool {
        if block.rows() == 0 {
            return true;
        }
        match new_block(plan) {
            Some(fresh) => send(Event::Rows(std::mem::replace(block, fresh))),
            None => false,
        }
    };
    loop {
        let mut writer = RowWriter::new(plan, &mut block);
        let result = source.next_record(&mut writer);
        let bad_value = writer.take_bad_value();
        match result {
            Ok(true) => {
                plan.stamp(&mut block, 0, 0);
                if block.byte_size() >= FRAGMENT_BYTES && !hand_over(&mut block, plan) {
                    return false;
                }
            }
            Ok(false) => return hand_over(&mut block, plan),
            Err(ReadError::Record(error)) => {
                block.abort_row();
                let reject = Event::Reject(error, bad_value.unwrap_or_default());
                if !hand_over(&mut block, plan) || !send(reject) {
                    return false;
                }
            }
            Err(e) => {
                block.abort_row();
                let _ = hand_over(&mut block, plan) && send(Event::Broken(e));
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ErrorPolicy;
    use crate::formats::pieces::PIECE_BYTES;
    use crate::formats::{Compression, Detected, Format, Input, Limits, TextOptions};
    use crate::rows::records::Records;
    use crate::rows::target::Target;
    use crate::sink::layout::{Capture, Layout, encode_batches};

    const COLUMNS: [(&str, &str); 5] = [
        ("id", "UInt64"),
        ("name", "String"),
        ("price", "Nullable(Float64)"),
        ("at", "DateTime"),
        ("note", "Nullable(String)"),
    ];

    fn target() -> Target {
        crate::rows::target::table_of(&COLUMNS, &[])
    }

    /// A CSV file of `rows` records several pieces long: quoted fields with line ends and quotes
    /// inside, CRLF and blank lines, NULLs; `bad` records have a price that is no number.
    fn csv(rows: usize, bad: &[usize]) -> Vec<u8> {
        let mut out = b"id,name,price,at,note\n".to_vec();
        for i in 0..rows {
            let name = match i % 7 {
                0 => format!("\"multi\nline {i}, with \"\"quotes\"\"\""),
                1 => format!("plain{}", "x".repeat(i * 31 % 90)),
                _ => format!("\"q{i}\""),
            };
            let price = match (bad.contains(&i), i % 5) {
                (true, _) => "cheap".to_owned(),
                (false, 0) => String::new(),
                _ => format!("{}.{}", i % 1000, i % 100),
            };
            let end = if i % 11 == 0 { "\r\n" } else { "\n" };
            let blank = if i % 97 == 0 { "\n" } else { "" };
            let line = format!(
                "{i},{name},{price},2024-01-02 03:04:{:02},n{i}{end}{blank}",
                i % 60
            );
            out.extend_from_slice(line.as_bytes());
        }
        out
    }

    fn jsonl(rows: usize, bad: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..rows {
            let price = match bad.contains(&i) {
                true => "\"cheap\"".to_owned(),
                false => format!("{}.5", i % 1000),
            };
            let blank = if i % 89 == 0 { "\n" } else { "" };
            let line = format!(
                "{{\"id\":{i},\"name\":\"n\\u00e9{}\",\"price\":{price},\"at\":\"2024-01-02 03:04:05\"}}\n{blank}",
                "y".repeat(i * 17 % 120)
            );
            out.extend_from_slice(line.as_bytes());
        }
        out
    }

    /// What a pass over the file sent, how many records it read, and its rejects and verdict.
    fn pass(
        text: &[u8],
        format: Format,
        jobs: usize,
        layout: &Layout,
        policy: ErrorPolicy,
    ) -> (Capture, u64, String) {
        let detected = Detected {
            format,
            compression: Compression::None,
        };
        let input = Input::Stream {
            reader: Box::new(std::io::Cursor::new(text.to_vec())),
            size: text.len() as u64,
        };
        let limits = Limits {
            max_record_bytes: 64 << 10,
            ..Limits::default()
        };
        let mut source =
            crate::formats::open(input, detected, limits, &TextOptions::default()).unwrap();
        let t = target();
        let rules = Arc::default();
        let mut plan = match format.fields_known_up_front() {
            true => ColumnPlan::for_fields(&t, source.fields(), false, &rules).unwrap(),
            false => ColumnPlan::for_table(&t, &rules).unwrap(),
        };
        let mut block = plan.new_block(Tz::UTC).unwrap();
        let mut out = Capture::default();
        let mut records =
            Records::new(&mut *source, &mut plan, "0123abcd", policy, "f").on_jobs(jobs, Tz::UTC);
        let per_insert =
            encode_batches(&mut records, &mut block, layout, None, &[], &mut out).unwrap();
        let report = format!(
            "{per_insert} batches an insert; {:?} {:?}",
            records.rejects,
            records.verdict()
        );
        (out, records.records, report)
    }

    fn same_on_any_jobs(
        text: &[u8],
        format: Format,
        layout: &Layout,
        policy: ErrorPolicy,
    ) -> String {
        let one = pass(text, format, 1, layout, policy);
        for jobs in [2, 3] {
            let many = pass(text, format, jobs, layout, policy);
            assert_eq!(many.1, one.1, "{jobs} jobs: records");
            assert_eq!(many.2, one.2, "{jobs} jobs: rejects");
            let names = |c: &Capture| c.0.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>();
            assert_eq!(names(&many.0), names(&one.0), "{jobs} jobs: {layout:?}");
            assert!(many.0 == one.0, "{jobs} jobs: the bytes differ");
        }
        one.2
    }

    fn layouts() -> [Layout; 2] {
        [
            Layout {
                batch_rows: 7_000,
                insert_rows: 21_000,
                key: Vec::new(),
                whole_inserts: false,
            },
            Layout {
                batch_rows: 5_000,
                insert_rows: 50_000,
                key: vec![1, 0],
                whole_inserts: true,
            },
        ]
    }

    fn skip(max_errors: u64) -> ErrorPolicy {
        ErrorPolicy::SkipRow {
            max_errors,
            max_ratio: None,
        }
    }

    #[test]
    fn files_read_in_pieces_are_cut_and_sent_as_on_one_thread() {
        let text = csv(60_000, &[]);
        assert!(text.len() > 3 * PIECE_BYTES);
        for layout in layouts() {
            same_on_any_jobs(&text, Format::Csv, &layout, ErrorPolicy::FailFile);
        }
        let text = jsonl(40_000, &[]);
        assert!(text.len() > 3 * PIECE_BYTES);
        for layout in layouts() {
            same_on_any_jobs(&text, Format::Jsonl, &layout, ErrorPolicy::FailFile);
        }
    }

    #[test]
    fn whole_inserts_hold_as_many_sorted_batches_as_insert_rows_allows() {
        let text = csv(60_000, &[]);
        let mut layout = Layout {
            batch_rows: 1_000,
            insert_rows: 1_000_000,
            key: vec![1, 0],
            whole_inserts: false,
        };
        // About 80 KB a batch: the 32 MiB sort budget holds a few hundred.
        let cut = same_on_any_jobs(&text, Format::Csv, &layout, ErrorPolicy::FailFile);
        let per_insert: u64 = cut.split(' ').next().unwrap().parse().unwrap();
        assert!((2..1000).contains(&per_insert), "{cut}");
        layout.whole_inserts = true;
        let whole = same_on_any_jobs(&text, Format::Csv, &layout, ErrorPolicy::FailFile);
        assert!(whole.starts_with("1000 batches an insert"), "{whole}");
    }

    #[test]
    fn bad_records_are_found_with_their_lines_as_on_one_thread() {
        let bad = [3, 9_000, 9_001, 20_500, 39_999];
        let text = csv(40_000, &bad);
        let layout = &layouts()[0];
        let report = same_on_any_jobs(&text, Format::Csv, layout, ErrorPolicy::FailFile);
        assert!(report.contains("line: Some(7)"), "{report}");
        same_on_any_jobs(&text, Format::Csv, layout, skip(10));
        same_on_any_jobs(&text, Format::Csv, layout, skip(2));
        let text = jsonl(25_000, &bad);
        same_on_any_jobs(&text, Format::Jsonl, layout, ErrorPolicy::FailFile);
        same_on_any_jobs(&text, Format::Jsonl, layout, skip(10));
    }

    #[test]
    fn a_file_that_breaks_midway_breaks_where_it_does_on_one_thread() {
        let layout = &layouts()[0];
        // A quote left open two pieces in, and a record past the limit.
        let mut text = csv(30_000, &[]);
        text.extend_from_slice(b"1,\"open,1.5,2024-01-02 03:04:05,x\n");
        for i in 0..20_000 {
            text.extend_from_slice(format!("{i},plain,1.5,2024-01-02 03:04:05,n\n").as_bytes());
        }
        let report = same_on_any_jobs(&text, Format::Csv, layout, skip(10));
        assert!(
            report.contains("not closed") || report.contains("longer than"),
            "{report}"
        );
        let mut text = jsonl(20_000, &[]);
        text.extend(std::iter::repeat_n(b'x', 100 << 10));
        text.extend_from_slice(&jsonl(100, &[]));
        let report = same_on_any_jobs(&text, Format::Jsonl, layout, skip(10));
        assert!(report.contains("longer than"), "{report}");
    }

    #[test]
    fn only_formats_cut_into_pieces_and_blocks_of_plain_columns_go_to_workers() {
        let t = target();
        let rules = Arc::default();
        let open = |text: &[u8], format| {
            let input = Input::Bytes(bytes::Bytes::copy_from_slice(text));
            let detected = Detected {
                format,
                compression: Compression::None,
            };
            crate::formats::open(input, detected, Limits::default(), &TextOptions::default())
                .unwrap()
        };
        let mut source = open(&csv(10, &[]), Format::Csv);
        let plan = ColumnPlan::for_fields(&t, source.fields(), false, &rules).unwrap();
        assert!(Parallel::start(&mut *source, &plan, Tz::UTC, 1).is_none());
        assert!(Parallel::start(&mut *source, &plan, Tz::UTC, 2).is_some());
        let mut source = open(b"[{\"id\":1}]", Format::Json);
        let plan = ColumnPlan::for_table(&t, &rules).unwrap();
        assert!(Parallel::start(&mut *source, &plan, Tz::UTC, 2).is_none());
    }
}
