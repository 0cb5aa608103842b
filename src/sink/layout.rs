//! The deterministic cut of a file into batches and inserts: the same rows always make the same
//! batches, the same inserts and the same insert names, whether they are read in a first pass
//! (which may keep them in a spill file), read again, or replayed — so that a retry re-creates
//! exactly the blocks an earlier attempt sent.

use crate::config::ErrorPolicy;
use crate::native::BlockBuilder;
use crate::rows::columnar::Room;
use crate::rows::records::{Records, Step};
use std::collections::HashSet;

/// Encoded rows are cut into `Native` blocks of about this size.
pub const SUB_BLOCK_BYTES: usize = 8 << 20;

/// What to send of one batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchPlan {
    /// Fully in the table already.
    Skip,
    /// Not in the table at all.
    Full,
    /// Partly in the table: send the rows whose ordinals are not in the set.
    Fill(HashSet<u64>),
}

/// Where a file's encoded rows go, batch by batch: the sender, a spill file, or nowhere (a pass
/// that only checks the rows).
pub trait Out {
    /// Whether blocks are kept; a pass that keeps none holds few rows at a time.
    fn keeps(&self) -> bool {
        true
    }
    /// The INSERT's column list, before anything else.
    fn columns(&mut self, _list: String) -> Result<(), String> {
        Ok(())
    }
    /// The batches per insert, once decided (when it was not given): before any block is
    /// written.
    fn cut(&mut self, _per_insert: u64) -> Result<(), String> {
        Ok(())
    }
    fn begin(&mut self, batch: u64) -> Result<(), String>;
    /// Writes the block (its rows sorted by `key`) and empties it.
    fn block(&mut self, block: &mut BlockBuilder, key: &[usize]) -> Result<(), String>;
    fn end(&mut self, batch: u64, rows: u64) -> Result<(), String>;
}

/// A pass that keeps no rows.
pub struct Discard;

impl Out for Discard {
    fn keeps(&self) -> bool {
        false
    }
    fn begin(&mut self, _: u64) -> Result<(), String> {
        Ok(())
    }
    fn block(&mut self, block: &mut BlockBuilder, _: &[usize]) -> Result<(), String> {
        block.truncate(0);
        Ok(())
    }
    fn end(&mut self, _: u64, _: u64) -> Result<(), String> {
        Ok(())
    }
}

/// Everything a pass hands on, for tests: batch edges and every block's bytes.
#[cfg(test)]
#[derive(Default, Debug, PartialEq)]
pub struct Capture(pub Vec<(String, Vec<u8>)>);

#[cfg(test)]
impl Out for Capture {
    fn begin(&mut self, batch: u64) -> Result<(), String> {
        self.0.push((format!("begin {batch}"), Vec::new()));
        Ok(())
    }
    fn block(&mut self, block: &mut BlockBuilder, key: &[usize]) -> Result<(), String> {
        let mut bytes = Vec::new();
        block.write_native_to(key, &mut bytes);
        self.0.push((format!("block of {}", bytes.len()), bytes));
        Ok(())
    }
    fn end(&mut self, batch: u64, rows: u64) -> Result<(), String> {
        self.0
            .push((format!("end {batch}: {rows} rows"), Vec::new()));
        Ok(())
    }
}

/// The rows of one insert are sorted together when the table's key allows it; this bounds the
/// memory that takes (a larger insert is sent as several sorted blocks, which the server sorts).
const SORTED_INSERT_BYTES: u64 = 32 << 20;

/// A pass that keeps no rows empties its block this often.
const CHECK_ROWS: usize = 4096;

/// How a file's rows are cut up.
#[derive(Debug, Clone)]
pub struct Layout {
    pub batch_rows: u64,
    /// Rows one insert may carry.
    pub insert_rows: u64,
    /// Block columns to sort each insert's rows by (empty: leave the order to the server).
    pub key: Vec<usize>,
    /// Sorted rows still go in inserts of up to `insert_rows`, as several sorted blocks, for a
    /// server that absorbs a few large inserts better than many small ones (`Caps`); otherwise
    /// the sort budget cuts the inserts too.
    pub whole_inserts: bool,
}

impl Layout {
    /// Consecutive batches per insert when rows are not sorted here.
    fn by_rows(&self) -> u64 {
        (self.insert_rows / self.batch_rows).max(1)
    }

    /// Consecutive batches per insert when rows are sorted: as many as `insert_rows` allows and
    /// the sort budget holds, judged by the encoded size of the first batch's `rows`. The first
    /// pass decides it, so a file is always cut the same way.
    fn sorted(&self, first_batch_bytes: u64, rows: u64) -> u64 {
        if rows == 0 {
            return 1;
        }
        let row_bytes = (first_batch_bytes / rows).max(1);
        let batch_bytes = self.batch_rows.saturating_mul(row_bytes);
        (SORTED_INSERT_BYTES / batch_bytes).clamp(1, self.by_rows())
    }

    /// Whether `sorted` is bound to say 1 once the first batch is complete, its encoded rows
    /// having reached `bytes` already: however few rows are left to come, each takes at least
    /// `bytes / batch_rows`, so a batch takes more than half the sort budget. Decided early, the
    /// cut is known before the first block is written.
    fn single_already(&self, bytes: u64) -> bool {
        self.batch_rows.saturating_mul(bytes / self.batch_rows) > SORTED_INSERT_BYTES / 2
    }
}

/// Encodes the rows `plans` asks for (every row where it says nothing) into `out`, an insert
/// every `per_insert` batches; `per_insert` is decided from the first batch when not given, and
/// told to `out` before any block is written. Returns it. A bad record under the default policy
/// stops the output but not the reading, so that the errors can be reported.
pub fn encode_batches(
    records: &mut Records,
    block: &mut BlockBuilder,
    layout: &Layout,
    per_insert: Option<u64>,
    plans: &[BatchPlan],
    out: &mut dyn Out,
) -> Result<u64, String> {
    let batch_rows = layout.batch_rows;
    let key = &layout.key[..];
    let sorting = !key.is_empty();
    let mut per_insert = match (per_insert, sorting && !layout.whole_inserts) {
        (None, false) => {
            out.cut(layout.by_rows())?;
            Some(layout.by_rows())
        }
        (given, _) => given,
    };
    // Unsorted rows go in small blocks; sorted ones wait for their insert's end.
    let block_bytes = if sorting {
        SORTED_INSERT_BYTES as usize
    } else {
        SUB_BLOCK_BYTES
    };
    // Encoded bytes of the first batch written out so far, while it is measured.
    let mut measured = 0u64;
    let mut keeping = out.keeps();
    // The batch being written, and its rows so far.
    let mut open: Option<(u64, u64)> = None;
    loop {
        // Edges are decided by the next record's ordinal, so nothing read belongs to the batch
        // or insert before it.
        let next = records.records;
        let batch_edge = next.is_multiple_of(batch_rows);
        if per_insert.is_none() && next == batch_rows {
            let rows = open.map_or(0, |(_, rows)| rows);
            let decided = layout.sorted(measured + block.byte_size() as u64, rows);
            per_insert = Some(decided);
            out.cut(decided)?;
        }
        let insert_edge =
            per_insert.is_some_and(|p| next.is_multiple_of(batch_rows.saturating_mul(p)));
        if insert_edge || (!sorting && batch_edge) {
            let measuring = per_insert.is_none().then_some(&mut measured);
            flush(block, out, key, measuring, keeping)?;
        }
        if batch_edge && let Some((b, rows)) = open.take() {
            out.end(b, rows)?;
        }
        let before = block.rows();
        // Whole rows of a batch sent whole may come many at once, up to where one at a time
        // would end the batch or write the block out.
        let by_size = (keeping || per_insert.is_none()).then_some(block_bytes);
        let room = room(plans, next, batch_rows, block.rows(), by_size);
        let (ordinal, count) = match records.step_many(block, room) {
            Some(many) => many,
            None => match records.step(block) {
                Step::Row(ordinal) => (ordinal, 1),
                Step::Skipped if records.policy() == ErrorPolicy::FailFile => {
                    keeping = false;
                    block.truncate(0);
                    continue;
                }
                Step::Skipped => continue,
                Step::End => break,
            },
        };
        let batch = ordinal / batch_rows;
        if !wanted(plans, batch, ordinal) {
            block.truncate(before);
            continue;
        }
        match &mut open {
            Some((_, rows)) => *rows += count as u64,
            None => {
                out.begin(batch)?;
                open = Some((batch, count as u64));
            }
        }
        let full = match keeping || per_insert.is_none() {
            true => block.byte_size() >= block_bytes,
            false => block.rows() >= CHECK_ROWS,
        };
        if full {
            if per_insert.is_none() && layout.single_already(measured + block.byte_size() as u64) {
                per_insert = Some(1);
                out.cut(1)?;
            }
            let measuring = per_insert.is_none().then_some(&mut measured);
            flush(block, out, key, measuring, keeping)?;
        }
    }
    let per_insert = match per_insert {
        Some(p) => p,
        None => {
            let rows = open.map_or(0, |(_, rows)| rows);
            let decided = layout.sorted(measured + block.byte_size() as u64, rows);
            out.cut(decided)?;
            decided
        }
    };
    if let Some((b, rows)) = open {
        flush(block, out, key, None, keeping)?;
        out.end(b, rows)?;
    }
    flush(block, out, key, None, keeping)?;
    Ok(per_insert)
}

/// How many rows may come at once from the record `next` on: none in a batch sent in part,
/// else up to the batch's end, and up to the block's byte budget `by_size` (or, without one,
/// the rows a block is checked by).
fn room(
    plans: &[BatchPlan],
    next: u64,
    batch_rows: u64,
    block_rows: usize,
    by_size: Option<usize>,
) -> Room {
    match plans.get((next / batch_rows) as usize) {
        None | Some(BatchPlan::Full) => Room {
            rows: (batch_rows - next % batch_rows).min(match by_size {
                Some(_) => u64::MAX,
                None => CHECK_ROWS.saturating_sub(block_rows) as u64,
            }) as usize,
            bytes: by_size,
        },
        Some(_) => Room {
            rows: 0,
            bytes: None,
        },
    }
}

/// Whether the row `ordinal` of batch `batch` is to be sent, as the batch's plan says.
fn wanted(plans: &[BatchPlan], batch: u64, ordinal: u64) -> bool {
    match plans.get(batch as usize).unwrap_or(&BatchPlan::Full) {
        BatchPlan::Skip => false,
        BatchPlan::Full => true,
        BatchPlan::Fill(landed) => !landed.contains(&ordinal),
    }
}

/// Hands the block's rows to `out` (or drops them when not `keeping`), adding their encoded size
/// to `measured` if given.
fn flush(
    block: &mut BlockBuilder,
    out: &mut dyn Out,
    key: &[usize],
    measured: Option<&mut u64>,
    keeping: bool,
) -> Result<(), String> {
    if block.rows() == 0 {
        return Ok(());
    }
    if let Some(m) = measured {
        *m += block.byte_size() as u64;
    }
    match keeping {
        true => out.block(block, key),
        false => {
            block.truncate(0);
            Ok(())
        }
    }
}

/// Deterministic query ids (and, where the server has them, deduplication tokens) for a file's
/// inserts: the same id always means the same rows, so a token never hides different content.
pub struct InsertNames {
    /// The prefix, the content and what else tells this ingestion of it apart (see `salt`).
    base: String,
    per_insert: u64,
    /// Per insert group: a digest of what is left out of it, if anything is.
    partial: std::collections::HashMap<u64, String>,
}

impl InsertNames {
    pub fn new(
        prefix: &str,
        hash: &str,
        salt: &str,
        plans: &[BatchPlan],
        per_insert: u64,
    ) -> InsertNames {
        let mut partial = std::collections::HashMap::new();
        for (group, chunk) in plans.chunks(per_insert as usize).enumerate() {
            if chunk.iter().all(|p| *p == BatchPlan::Full) {
                continue;
            }
            let mut hasher = blake3::Hasher::new();
            for p in chunk {
                match p {
                    BatchPlan::Full => hasher.update(b"F"),
                    BatchPlan::Skip => hasher.update(b"S"),
                    BatchPlan::Fill(landed) => {
                        let mut rows: Vec<u64> = landed.iter().copied().collect();
                        rows.sort_unstable();
                        hasher.update(b"P");
                        rows.iter()
                            .fold(&mut hasher, |h, r| h.update(&r.to_le_bytes()))
                    }
                };
            }
            partial.insert(group as u64, hasher.finalize().to_hex()[..12].to_owned());
        }
        InsertNames {
            base: format!("{prefix}{}{salt}", &hash[..16]),
            per_insert,
            partial,
        }
    }

    /// The name of insert `group`: it holds batches `group × per_insert` onwards, so the
    /// cut is part of the name.
    pub fn of(&self, group: u64) -> String {
        let (base, per) = (&self.base, self.per_insert);
        match self.partial.get(&group) {
            None => format!("{base}-i{group}x{per}"),
            Some(digest) => format!("{base}-i{group}x{per}-{digest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(batch_rows: u64, insert_rows: u64) -> Layout {
        Layout {
            batch_rows,
            insert_rows,
            key: vec![0],
            whole_inserts: false,
        }
    }

    #[test]
    fn sorted_inserts_hold_as_many_batches_as_the_sort_budget_allows() {
        // 50,000 rows of 320 bytes: 15.3 MB a batch, two fit 32 MiB.
        assert_eq!(layout(50_000, 1_000_000).sorted(16_000_000, 50_000), 2);
        // Small rows: as many batches as --insert-rows allows.
        assert_eq!(layout(50_000, 1_000_000).sorted(500_000, 50_000), 20);
        assert_eq!(layout(50_000, 100_000).sorted(500_000, 50_000), 2);
        // A batch larger than the budget still goes, alone.
        assert_eq!(layout(50_000, 1_000_000).sorted(60_000_000, 50_000), 1);
        // A first batch of bad records only.
        assert_eq!(layout(50_000, 1_000_000).sorted(0, 0), 1);
        assert_eq!(layout(50_000, 1_000_000).by_rows(), 20);
    }

    #[test]
    fn a_first_batch_past_the_sort_budget_is_alone_in_its_insert_already() {
        let budget = SORTED_INSERT_BYTES;
        for batch_rows in [1, 7, 50_000, 1_000_000] {
            let l = layout(batch_rows, 1_000_000);
            assert!(l.single_already(budget), "{batch_rows}");
            // Whatever rows and bytes complete the batch, the cut says one batch per insert.
            for (more_bytes, rows) in [(0, batch_rows), (budget, batch_rows), (0, 1)] {
                assert_eq!(l.sorted(budget + more_bytes, rows), 1, "{batch_rows}");
            }
        }
        assert!(!layout(50_000, 1_000_000).single_already(budget / 2));
    }

    const HASH: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn insert_names_say_which_batches_and_what_of_them() {
        let full = vec![BatchPlan::Full; 4];
        let two = InsertNames::new("ingest-f-", HASH, "", &full, 2);
        assert_eq!(two.of(0), "ingest-f-0123456789abcdef-i0x2");
        assert_eq!(two.of(1), "ingest-f-0123456789abcdef-i1x2");
        // Another cut never reuses a name for other rows.
        let one = InsertNames::new("ingest-f-", HASH, "", &full, 1);
        assert_ne!(one.of(1), two.of(1));

        let mut partial = full.clone();
        partial[3] = BatchPlan::Fill([7u64, 9].into_iter().collect());
        let names = InsertNames::new("ingest-f-", HASH, "", &partial, 2);
        assert_eq!(names.of(0), two.of(0));
        let named = names.of(1);
        assert!(
            named.starts_with("ingest-f-0123456789abcdef-i1x2-"),
            "{named}"
        );
        let mut other = full.clone();
        other[3] = BatchPlan::Fill([7u64].into_iter().collect());
        assert_ne!(
            InsertNames::new("ingest-f-", HASH, "", &other, 2).of(1),
            named
        );
        assert_eq!(
            InsertNames::new("ingest-f-", HASH, "", &partial, 2).of(1),
            named
        );
    }
}
