//! A file under `--on-change append`: what of it was ingested before (the manifest's record of
//! the path), whether its bytes still begin with exactly that, and its new complete records as a
//! part of their own — coalesced with small files, or sent batch by batch like a large file —
//! numbered on from the file's earlier records. A part claimed by a run that stopped is finished
//! as it was claimed before anything new is read.

use super::small::SMALL_FILE_BYTES;
use super::{Candidate, Closed, Prepare};
use crate::append::{Growth, Prior, Segment, examine};
use crate::manifest::Event;
use crate::outcome::Status;
use crate::run::plan::Decision;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

impl Prepare {
    pub(super) fn append(&mut self, c: Candidate) -> Result<(), Closed> {
        let file = match self.opened(&c, c.entry.open_growing(c.entry.size)) {
            Ok(f) => f,
            Err(noted) => return noted,
        };
        let (prior, upto, claimed) = match self.in_flight(&c) {
            Some((prior, end, hash)) => (prior, Some(end), Some(hash)),
            None => (self.prior(&c).unwrap_or_default(), None, None),
        };
        let (size, detected, limits) = (c.entry.size, c.entry.detected, self.settings.limits);
        let growth = match examine(&file, size, &prior, detected, limits, upto) {
            Ok(g) => g,
            Err(e) => return self.fail_for_now(&c, "", e),
        };
        match growth {
            Growth::Grown { hash, .. } if claimed.as_ref().is_some_and(|h| *h != hash) => self
                .changed(
                    &c,
                    &file,
                    &prior,
                    "the part being ingested is not there any more",
                ),
            Growth::Grown { segment, hash } => self.ingest_part(c, file, segment, hash),
            Growth::Changed(why) => self.changed(&c, &file, &prior, &why),
            Growth::Incomplete => self.note(
                self.outcome(&c, Status::Unsettled)
                    .detail("its last line is not complete yet: it waits for the rest"),
                None,
            ),
            Growth::Same => {
                let segment = Segment {
                    end: size,
                    ..Segment::default()
                };
                match prior.len {
                    0 => self.ingest_part(c, file, segment, crate::hash::of_bytes(b"")),
                    _ => {
                        let decision = self.decide(&c, &prior.hash);
                        self.note_decision(&c, &prior.hash, decision)
                    }
                }
            }
        }
    }

    /// What of the path was ingested before: its last content, if ingested there (or as a
    /// duplicate of content ingested elsewhere), or what preceded a part that failed.
    fn prior(&self, c: &Candidate) -> Option<Prior> {
        let p = c.previous.as_deref()?;
        let table = c.target.table.to_string();
        if *p.target_table != *table {
            return None;
        }
        match p.event {
            Event::Done | Event::Touched | Event::Duplicate => {
                let content = self.state.content(&table, &p.file_hash)?;
                (content.event == Event::Done).then(|| Prior {
                    len: p.size,
                    hash: p.file_hash.clone(),
                    rows: content.records_end(),
                })
            }
            Event::Failed | Event::Quarantined if !p.prefix_hash.is_empty() => Some(Prior {
                len: p.from_byte,
                hash: p.prefix_hash.clone(),
                rows: p.from_row,
            }),
            _ => None,
        }
    }

    /// A part claimed by an earlier run that did not finish it: what preceded it, where it ends
    /// and its content hash.
    fn in_flight(&self, c: &Candidate) -> Option<(Prior, u64, String)> {
        let p = c.previous.as_deref()?;
        let same_table = *p.target_table == *c.target.table.to_string();
        if !same_table || !matches!(p.event, Event::Claimed | Event::Batch) {
            return None;
        }
        let prior = Prior {
            len: p.from_byte,
            hash: p.prefix_hash.clone(),
            rows: p.from_row,
        };
        Some((prior, p.size, p.file_hash.clone()))
    }

    /// Ingests `segment` of the file, whose content up to its end is `hash`.
    fn ingest_part(
        &mut self,
        mut c: Candidate,
        file: File,
        segment: Segment,
        hash: String,
    ) -> Result<(), Closed> {
        let len = segment.end - segment.from_byte;
        let from = segment.from_byte;
        c.entry.segment = Some(Arc::new(segment));
        let decision = self.decide(&c, &hash);
        let small = len <= SMALL_FILE_BYTES && !self.settings.dry_run && !c.target.recovery;
        match decision {
            Decision::Ingest { resume: None } if small => {
                let mut raw = vec![0u8; len as usize];
                if let Err(e) = file.read_exact_at(&mut raw, from) {
                    return self.fail_for_now(&c, &hash, e);
                }
                let Some(seg) = c.entry.segment.clone() else {
                    unreachable!("the segment was just set")
                };
                match crate::append::text(&seg, c.entry.detected, &raw, self.settings.limits) {
                    Ok((text, _)) => self.add_small(c, hash, text),
                    Err(e) => self.fail_for_now(&c, &hash, e),
                }
            }
            Decision::Ingest { .. } => match self.first_pass(&c, file) {
                Ok(pass) => self.ingest_large(c, pass),
                Err(e) => self.fail_for_now(&c, &hash, e),
            },
            other => self.note_decision(&c, &hash, other),
        }
    }

    /// The file is not what was ingested with more after it: held back, as a changed file is.
    fn changed(&self, c: &Candidate, file: &File, prior: &Prior, why: &str) -> Result<(), Closed> {
        let hash = match crate::rows::source::hash_file(file) {
            Ok(h) => h,
            Err(e) => return self.fail_for_now(c, "", e),
        };
        let mut event = self.file_event(Event::Changed, c, &hash);
        event.detail = prior.hash.clone();
        let outcome = self
            .outcome(c, Status::Changed)
            .detail(format!("it did not only grow ({why}); held back"))
            .hash(&hash);
        self.note(outcome, Some(event))
    }
}
