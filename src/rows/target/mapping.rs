//! How one file's fields find their table's columns under its route's rules (renames, case,
//! positions, fields to ignore), the facts its metadata columns hold, and the checks that a
//! metadata column can hold them.

use super::{ColumnPlan, Target};
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW};
use crate::ch::types::ChType;
use crate::native::{BlockBuilder, ColumnSpec};
use crate::rules::{Meta, Rules, Unknown};
use crate::value::Value;
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Slot {
    Unresolved,
    Column(usize),
    Ignored,
}

/// What the metadata columns of one file's rows hold.
#[derive(Debug, Clone, Default)]
pub(super) struct FileFacts {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub run_id: Arc<str>,
    pub started_ns: i128,
}

/// Whether a column holds dates or times (so that a date format applies to it).
pub(super) fn temporal(ty: &ChType) -> bool {
    match ty {
        ChType::Nullable(t) | ChType::LowCardinality(t) => temporal(t),
        ChType::Date | ChType::Date32 | ChType::DateTime(_) | ChType::DateTime64(..) => true,
        _ => false,
    }
}

impl ColumnPlan {
    /// For formats whose fields are known up front: the columns these fields go to, in their
    /// order (by the route's rules; `positional`: the table's columns in order), so columns the
    /// file lacks take the table's own defaults.
    pub fn for_fields(
        target: &Target,
        fields: &[String],
        positional: bool,
        rules: &Arc<Rules>,
    ) -> Result<ColumnPlan, String> {
        let mut specs: Vec<ColumnSpec> = Vec::with_capacity(fields.len() + 2);
        let mut fixed = Vec::with_capacity(fields.len());
        let data: Vec<String> = target
            .schema
            .data_columns()
            .map(|c| c.name.clone())
            .filter(|n| !rules.is_metadata(n))
            .collect();
        let mut filled_by: HashMap<&str, &str> = HashMap::new();
        for (i, f) in fields.iter().enumerate() {
            if f == PROVENANCE_FILE || f == PROVENANCE_ROW {
                return Err(format!("field `{f}` is reserved for provenance"));
            }
            let column = match positional {
                true => data.get(i).ok_or_else(|| {
                    format!(
                        "the file has {} fields and no header, but table {} has {} columns to                          fill in order; set the route's `fields`",
                        fields.len(),
                        target.table,
                        data.len()
                    )
                })?,
                false => match rules.column_for(f, &data) {
                    Some(c) => c,
                    None if rules.is_metadata(rules.new_column_name(f)) => {
                        return Err(format!(
                            "field `{f}` would fill metadata column `{}`",
                            rules.new_column_name(f)
                        ));
                    }
                    None if rules.unknown == Unknown::Ignore => {
                        fixed.push(None);
                        continue;
                    }
                    None => return Err(no_column(target, rules.new_column_name(f), f)),
                },
            };
            if let Some(other) = filled_by.insert(column.as_str(), f.as_str()) {
                return Err(format!(
                    "fields `{other}` and `{f}` would both fill column `{column}`"
                ));
            }
            if let Some(reason) = target.unsupported.get(column) {
                return Err(format!("column `{column}`: {reason}"));
            }
            match target.data_specs.iter().find(|s| &s.name == column) {
                Some(spec) => {
                    fixed.push(Some(specs.len()));
                    specs.push(spec.clone());
                }
                None => return Err(no_column(target, column, f)),
            }
        }
        let mut plan = Self::with_provenance(specs, target, rules)?;
        plan.fixed = Some(fixed);
        Ok(plan)
    }

    pub(super) fn resolve(&mut self, index: usize, name: &str) -> Slot {
        if let Some(fixed) = &self.fixed {
            return match fixed.get(index) {
                Some(Some(col)) => Slot::Column(*col),
                Some(None) => Slot::Ignored,
                None => Slot::Unresolved,
            };
        }
        match self.by_field.get(index) {
            Some(Slot::Unresolved) | None => {}
            Some(slot) => return *slot,
        }
        let slot = match self.rules.column_for(name, &self.names) {
            Some(column) => self
                .by_name
                .get(column)
                .map_or(Slot::Unresolved, |c| Slot::Column(*c)),
            None if self.rules.unknown == Unknown::Ignore
                && !self.unsupported.contains_key(name)
                && !self.rules.is_metadata(self.rules.new_column_name(name)) =>
            {
                Slot::Ignored
            }
            None => Slot::Unresolved,
        };
        if self.by_field.len() <= index {
            self.by_field.resize(index + 1, Slot::Unresolved);
        }
        self.by_field[index] = slot;
        slot
    }

    /// Sets the current row's metadata columns.
    pub(super) fn push_metadata(&self, block: &mut BlockBuilder) {
        for (col, m) in &self.meta {
            let value = meta_value(&self.file, *m);
            // Checked to fit when the plan was made (`check_meta`); a time out of the column's
            // range takes its default.
            if block.push(*col, &value).is_err() {
                let _ = block.push(*col, &Value::Null);
            }
        }
    }
}

impl ColumnPlan {
    /// The columns `stamp` fills: metadata and provenance.
    pub fn stamped_columns(&self) -> Vec<usize> {
        let mut cols: Vec<usize> = self.meta.iter().map(|(c, _)| *c).collect();
        cols.extend(self.provenance.iter().flat_map(|&(f, r)| [f, r]));
        cols
    }

    /// Completes `n` rows whose fields were appended column by column with their metadata and
    /// provenance, as `stamp` completes one; the first row's ordinal is `first`.
    pub fn stamp_rows(&self, block: &mut BlockBuilder, file_id: u64, first: u64, n: usize) {
        let f = &self.file;
        for (col, m) in &self.meta {
            let value = meta_value(f, *m);
            for _ in 0..n {
                if block.extend(*col, &value).is_err() {
                    let _ = block.extend(*col, &Value::Null);
                }
            }
        }
        if let Some((file_col, row_col)) = self.provenance {
            if let Some(mut b) = block.bulk(file_col) {
                (0..n).for_each(|_| b.put(&file_id.to_le_bytes()));
            }
            if let Some(mut b) = block.bulk(row_col) {
                (first..first + n as u64).for_each(|o| b.put(&o.to_le_bytes()));
            }
        }
        block.add_rows(n);
    }
}

fn meta_value(f: &FileFacts, m: Meta) -> Value<'_> {
    match m {
        Meta::Path => Value::Str(f.path.as_bytes()),
        Meta::Size => Value::UInt(f.size),
        Meta::Mtime => Value::Timestamp(i128::from(f.mtime_ns)),
        Meta::RunId => Value::Str(f.run_id.as_bytes()),
        Meta::IngestedAt => Value::Timestamp(f.started_ns),
    }
}

/// Why a field has no column to go to.
fn no_column(target: &Target, column: &str, field: &str) -> String {
    let named = match column == field {
        true => format!("field `{field}`"),
        false => format!("field `{field}` (as `{column}`)"),
    };
    match target.schema.column(column) {
        Some(c) if !c.default_kind.is_empty() => format!(
            "{named} is a {} column of table {} and cannot be inserted",
            c.default_kind, target.table
        ),
        _ => format!("{named} has no column in table {}", target.table),
    }
}

/// A metadata column must hold what it is for: a path in a text column, a time in a time column.
pub(super) fn check_meta(spec: &ColumnSpec, m: Meta, tz: Tz) -> Result<(), String> {
    let sample = match m {
        Meta::Path | Meta::RunId => Value::Str(b"x"),
        Meta::Size => Value::UInt(1),
        Meta::Mtime | Meta::IngestedAt => Value::Timestamp(1_700_000_000_000_000_000),
    };
    let mut block = BlockBuilder::new(std::slice::from_ref(spec), tz)?;
    block.push(0, &sample).map_err(|e| {
        format!(
            "metadata column `{}` ({}) is a {}: {}",
            spec.name,
            m.key(),
            spec.type_name,
            e.0
        )
    })
}
