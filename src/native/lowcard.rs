//! `LowCardinality` columns: a dictionary of distinct encoded values and one index per row, in the
//! layout ClickHouse reads in `Native` (a dictionary per block, sent with the block).

use super::buffers::{Sink, reuse};
use super::cells::is_empty_for;
use crate::convert::{ConvResult, Scalar};
use crate::value::Value;
use std::collections::HashMap;

/// The column prefix, written before any data of the column it is in (an Array's offsets
/// included): key serialization version 1, shared dictionaries with additional keys.
pub(super) const KEYS_VERSION: u64 = 1;

#[derive(Debug)]
pub(super) struct LowCard {
    pub(super) scalar: Scalar,
    pub(super) nullable: bool,
    /// Encoded dictionary keys: the null placeholder (if nullable), the default, then values.
    pub(super) keys: Vec<u8>,
    pub(super) key_count: u32,
    dict: HashMap<Vec<u8>, u32>,
    pub(super) indexes: Vec<u32>,
    scratch: Vec<u8>,
}

impl LowCard {
    pub(super) fn new(scalar: Scalar, nullable: bool) -> LowCard {
        let mut lc = LowCard {
            scalar,
            nullable,
            keys: Vec::new(),
            key_count: 0,
            dict: HashMap::new(),
            indexes: Vec::new(),
            scratch: Vec::new(),
        };
        lc.reset_dictionary();
        lc
    }

    fn reset_dictionary(&mut self) {
        self.keys.clear();
        self.dict.clear();
        self.key_count = 0;
        if self.nullable {
            self.scalar.encode_zero(&mut self.keys);
            self.key_count += 1;
        }
        let mut zero = Vec::new();
        self.scalar.encode_zero(&mut zero);
        self.keys.extend_from_slice(&zero);
        self.dict.insert(zero, self.key_count);
        self.key_count += 1;
    }

    pub(super) fn push(&mut self, value: &Value<'_>, default: Option<&[u8]>) -> ConvResult {
        if is_empty_for(value, &self.scalar) {
            if self.nullable {
                self.indexes.push(0);
                return Ok(());
            }
            if let Some(d) = default {
                self.scratch.clear();
                self.scratch.extend_from_slice(d);
            } else {
                self.indexes.push(0);
                return Ok(());
            }
        } else {
            self.scratch.clear();
            self.scalar.encode(value, &mut self.scratch)?;
        }
        let index = match self.dict.get(self.scratch.as_slice()) {
            Some(&i) => i,
            None => {
                let i = self.key_count;
                self.keys.extend_from_slice(&self.scratch);
                self.dict.insert(self.scratch.clone(), i);
                self.key_count += 1;
                i
            }
        };
        self.indexes.push(index);
        Ok(())
    }

    /// Writes the column body (after the prefix [`KEYS_VERSION`]) and starts a new dictionary.
    pub(super) fn write_and_clear(&mut self, order: Option<&[u32]>, out: &mut dyn Sink) {
        const HAS_ADDITIONAL_KEYS: u64 = 1 << 9;
        const NEED_UPDATE_DICTIONARY: u64 = 1 << 10;
        let (index_type, width) = match self.key_count {
            0..=0xff => (0u64, 1),
            0x100..=0xffff => (1, 2),
            _ => (2, 4),
        };
        let out = out.buf();
        out.extend_from_slice(
            &(index_type | HAS_ADDITIONAL_KEYS | NEED_UPDATE_DICTIONARY).to_le_bytes(),
        );
        out.extend_from_slice(&u64::from(self.key_count).to_le_bytes());
        out.extend_from_slice(&self.keys);
        out.extend_from_slice(&(self.indexes.len() as u64).to_le_bytes());
        match order {
            None => {
                for &i in &self.indexes {
                    out.extend_from_slice(&i.to_le_bytes()[..width]);
                }
            }
            Some(order) => {
                for &r in order {
                    out.extend_from_slice(&self.indexes[r as usize].to_le_bytes()[..width]);
                }
            }
        }
        reuse(&mut self.indexes);
        self.reset_dictionary();
    }
}
