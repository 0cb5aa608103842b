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
        // A worker that cannot be started leaves the file to fewer; with none, or without the
        // cutting thread, the workers stop without saying the file ended, which `next` reports
        // as a local failure (the source gave its input away).
        for _ in 0..jobs {
            let (task_tx, tasks) = sync_channel::<Task>(1);
            let (event_tx, events) = sync_channel::<Event>(2);
            let (forks, plan) = (forks.clone(), plan.clone());
            let worker = move || work(&tasks, &event_tx, &*forks, plan, tz);
            match crate::rows::spawn_reading("convert", worker) {
                Ok(t) => threads.push(t),
                Err(_) => break,
            }
            inputs.push(task_tx);
            outputs.push(events);
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
                self.rows = None;
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
    tz: Tz,
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
        if !convert(&mut *source, &mut plan, tz, &send) || !send(Event::PieceEnd) {
            return;
        }
    }
}

/// Reads one piece's records, handing over its rows, rejects and the error that stops it, if
/// one does; `false` once nobody takes them.
fn convert(
    source: &mut dyn RecordSource,
    plan: &mut ColumnPlan,
    tz: Tz,
    send: &dyn Fn(Event) -> bool,
) -> bool {
    let new_block = |plan: &ColumnPlan| plan.new_block(tz).ok();
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
mod tests;
