//! Turning a file's records into rows of a target table's `Native` block: which columns a file
//! fills, converting each field, and stamping every row with its metadata and provenance. How
//! fields find columns under a route's rules is in `mapping`.

mod mapping;

use mapping::{FileFacts, Slot, check_meta, temporal};

use crate::ch::ident::{TableRef, quote};
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW, TableSchema};
use crate::ch::types::ChType;
use crate::convert::ConvError;
use crate::convert::date_format::DateFormat;
use crate::formats::FieldSink;
use crate::native::{BlockBuilder, ColumnSpec};
use crate::rules::{Meta, Rules};
use crate::scan::FileEntry;
use crate::value::Value;
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::Arc;

/// A target table ready for ingestion.
#[derive(Debug)]
pub struct Target {
    pub table: TableRef,
    pub schema: TableSchema,
    /// Data columns (insertable, not provenance) this tool can fill, with their encoders' specs.
    pub data_specs: Vec<ColumnSpec>,
    /// Data columns it cannot fill (an `AggregateFunction`, a type it cannot parse), by name, with
    /// the reason. A file that fills one fails; others leave it to the server's default.
    pub unsupported: Arc<HashMap<String, String>>,
    pub server_tz: Tz,
    /// The manifest has no entries for this table although it holds ingested rows: every file
    /// is checked against the table's provenance before its rows are sent.
    pub recovery: bool,
    /// Rows carry provenance columns. Without them, ingestion is at-least-once: what landed of
    /// an interrupted file cannot be asked of the table.
    pub provenance: bool,
    /// Settings every insert into the table carries (`--insert-setting`, checked).
    pub insert_settings: Vec<(String, String)>,
    /// A large file may be sent in its only pass, checked as it goes: rows of a file found bad
    /// on the way can be deleted before anything reads them (see `sink::only_pass`).
    pub one_pass: bool,
    /// The server takes a large file's rows better in inserts of up to `--insert-rows`, which
    /// it sorts itself, than in inserts sorted here and cut at the sort budget
    /// (`Caps::whole_inserts`).
    pub whole_inserts: bool,
    /// The run, for the metadata columns.
    pub stamp: RunStamp,
    /// Where its rows are written, and whether they are replicated.
    pub layout: crate::ch::cluster::Layout,
}

/// The run rows are ingested by, as metadata columns tell it.
#[derive(Debug, Clone)]
pub struct RunStamp {
    pub run_id: Arc<str>,
    /// When the run started, in nanoseconds since the epoch.
    pub started_ns: i128,
}

impl Default for RunStamp {
    fn default() -> Self {
        RunStamp {
            run_id: Arc::from(""),
            started_ns: 0,
        }
    }
}

impl Target {
    /// The block columns a large file's inserts are sorted by here: none for a server that
    /// takes whole inserts, which sorts each one itself (its several sorted blocks would not
    /// make one sorted block anyway); on 26.9 this saved a quarter of `ingest`'s CPU and most of
    /// its memory for the same wall time (BENCHMARKS.md).
    pub fn sort_key(&self, plan: &ColumnPlan) -> Vec<usize> {
        match self.whole_inserts {
            true => Vec::new(),
            false => plan.sort_columns().to_vec(),
        }
    }

    /// The table rows are inserted into: a Distributed table's local table, else the table.
    pub fn write_table(&self) -> &TableRef {
        self.layout.local.as_ref().unwrap_or(&self.table)
    }

    pub fn new(schema: TableSchema, server_tz: Tz) -> Target {
        let mut data_specs = Vec::new();
        let mut unsupported = HashMap::new();
        for c in schema.data_columns() {
            let spec = ColumnSpec::new(&c.name, &c.type_name)
                .and_then(|s| s.fillable(server_tz).map(|()| s));
            match spec {
                Ok(spec) => data_specs.push(spec),
                Err(reason) => {
                    log::debug!("column {} of table {}: {reason}", c.name, schema.table);
                    unsupported.insert(c.name.clone(), reason);
                }
            }
        }
        Target {
            table: schema.table.clone(),
            schema,
            data_specs,
            unsupported: Arc::new(unsupported),
            server_tz,
            recovery: false,
            provenance: true,
            insert_settings: Vec::new(),
            one_pass: false,
            whole_inserts: false,
            stamp: RunStamp::default(),
            layout: Default::default(),
        }
    }
}

impl Target {
    /// Gives columns with a constant `DEFAULT` that value for empty fields and absent keys.
    pub fn with_defaults(mut self, defaults: &[(String, String)]) -> Target {
        for spec in &mut self.data_specs {
            let Some((_, text)) = defaults.iter().find(|(name, _)| name == &spec.name) else {
                continue;
            };
            match spec
                .clone()
                .with_default_text(text.as_bytes(), self.server_tz)
            {
                Ok(with) => *spec = with,
                Err(e) => log::debug!("default of column {}: {e}", spec.name),
            }
        }
        self
    }
}

/// The columns one file fills, in block order, and how its fields find them.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub specs: Vec<ColumnSpec>,
    by_name: HashMap<String, usize>,
    /// Names of the data columns fields may fill, for the route's name matching.
    names: Vec<String>,
    /// Field index → block column, resolved once per field (per file).
    by_field: Vec<Slot>,
    /// For formats whose fields are known up front: the column of each field, fixed when the
    /// plan is made (`None`: the field is ignored).
    fixed: Option<Vec<Option<usize>>>,
    /// Columns of the table this tool cannot fill, with the reason.
    unsupported: Arc<HashMap<String, String>>,
    /// Positions of the provenance columns, when the table has them.
    provenance: Option<(usize, usize)>,
    /// Positions of the table's sorting key columns, when the file fills all of them.
    sort: Vec<usize>,
    table: String,
    rules: Arc<Rules>,
    /// The metadata columns, by position, and what each holds.
    meta: Vec<(usize, Meta)>,
    file: FileFacts,
    /// The date format each column's text is read with, if any.
    formats: Vec<Option<DateFormat>>,
    /// Text rewritten by a date format, reused.
    iso: String,
}

impl ColumnPlan {
    /// For formats whose fields appear record by record: every data column of the table this
    /// tool can fill (but the route's metadata columns); a record that sets another column fails.
    pub fn for_table(target: &Target, rules: &Arc<Rules>) -> Result<ColumnPlan, String> {
        let specs = target
            .data_specs
            .iter()
            .filter(|s| !rules.is_metadata(&s.name))
            .cloned()
            .collect();
        Self::with_provenance(specs, target, rules)
    }

    fn with_provenance(
        mut specs: Vec<ColumnSpec>,
        target: &Target,
        rules: &Arc<Rules>,
    ) -> Result<ColumnPlan, String> {
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let mut formats: Vec<Option<DateFormat>> = specs
            .iter()
            .map(|s| match temporal(&s.ty) {
                true => rules.format_for(&s.name).cloned(),
                false => None,
            })
            .collect();
        let meta = Self::metadata_columns(&mut specs, target, rules)?;
        formats.resize(specs.len(), None);
        let by_name = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let table = target.table.to_string();
        let unsupported = Arc::clone(&target.unsupported);
        let sort: Option<Vec<usize>> = target
            .schema
            .sort_key
            .iter()
            .map(|k| specs.iter().position(|s| &s.name == k))
            .collect();
        let sort = sort.unwrap_or_default();
        let provenance = target.provenance.then(|| {
            let file_col = specs.len();
            for name in [PROVENANCE_FILE, PROVENANCE_ROW] {
                specs.push(ColumnSpec {
                    name: name.to_owned(),
                    type_name: "UInt64".to_owned(),
                    ty: ChType::UInt64,
                    default: None,
                });
            }
            (file_col, file_col + 1)
        });
        formats.resize(specs.len(), None);
        Ok(ColumnPlan {
            specs,
            by_name,
            names,
            by_field: Vec::new(),
            fixed: None,
            unsupported,
            provenance,
            sort,
            table,
            rules: Arc::clone(rules),
            meta,
            file: FileFacts {
                run_id: Arc::clone(&target.stamp.run_id),
                started_ns: target.stamp.started_ns,
                ..FileFacts::default()
            },
            formats,
            iso: String::new(),
        })
    }

    /// The route's metadata columns, added to `specs`: each with where it is and what it holds.
    fn metadata_columns(
        specs: &mut Vec<ColumnSpec>,
        target: &Target,
        rules: &Rules,
    ) -> Result<Vec<(usize, Meta)>, String> {
        let mut meta = Vec::new();
        for (m, column) in &rules.metadata {
            let spec = target
                .data_specs
                .iter()
                .find(|s| &s.name == column)
                .ok_or_else(|| {
                    format!(
                        "metadata column `{column}` ({}) is not a column of table {}; add it, \
                         or set schema = \"add-columns\"",
                        m.key(),
                        target.table
                    )
                })?;
            check_meta(spec, *m, target.server_tz)?;
            meta.push((specs.len(), *m));
            specs.push(spec.clone());
        }
        Ok(meta)
    }

    /// Sets the file whose rows the metadata columns describe.
    pub fn start_file(&mut self, entry: &FileEntry) {
        self.file.path = entry.rel.clone();
        self.file.size = entry.size;
        self.file.mtime_ns = entry.mtime_ns;
    }

    /// The `(col, …)` list of the INSERT; files with the same list can share an insert.
    pub fn column_list(&self) -> String {
        let cols: Vec<String> = self.specs.iter().map(|s| quote(&s.name)).collect();
        format!("({})", cols.join(", "))
    }

    pub fn new_block(&self, server_tz: Tz) -> Result<BlockBuilder, String> {
        BlockBuilder::new(&self.specs, server_tz)
    }

    /// The block columns to sort rows by before sending (empty: leave the order to the server).
    pub fn sort_columns(&self) -> &[usize] {
        &self.sort
    }

    /// For formats whose fields are known up front: each field's block column (`None`: ignored).
    pub fn field_columns(&self) -> Option<&[Option<usize>]> {
        self.fixed.as_deref()
    }

    /// Whether text for column `col` is read with one of the route's date formats.
    pub fn reads_with_date_format(&self, col: usize) -> bool {
        self.formats.get(col).is_some_and(Option::is_some)
    }

    /// Forgets the per-file field cache before the plan serves another file.
    pub fn reset_fields(&mut self) {
        self.by_field.clear();
    }

    /// Completes the block's current row with its metadata and provenance.
    pub fn stamp(&self, block: &mut BlockBuilder, file_id: u64, ordinal: u64) {
        self.push_metadata(block);
        if let Some((file_col, row_col)) = self.provenance {
            // Provenance values always fit their UInt64 columns.
            let _ = block.push(file_col, &Value::UInt(file_id));
            let _ = block.push(row_col, &Value::UInt(ordinal));
        }
        block.finish_row();
    }
}

/// Receives one record's fields into a block's current row.
pub struct RowWriter<'a> {
    plan: &'a mut ColumnPlan,
    block: &'a mut BlockBuilder,
    bad_value: Option<String>,
}

impl<'a> RowWriter<'a> {
    pub fn new(plan: &'a mut ColumnPlan, block: &'a mut BlockBuilder) -> RowWriter<'a> {
        RowWriter {
            plan,
            block,
            bad_value: None,
        }
    }

    /// The value that did not convert, if that is why the record failed.
    pub fn take_bad_value(&mut self) -> Option<String> {
        self.bad_value.take()
    }
}

impl FieldSink for RowWriter<'_> {
    fn field(&mut self, index: usize, name: &str, value: Value<'_>) -> Result<(), ConvError> {
        let col = match self.plan.resolve(index, name) {
            Slot::Column(col) => col,
            Slot::Ignored => return Ok(()),
            Slot::Unresolved => {
                return match self.plan.unsupported.get(name) {
                    // No value leaves the column to its default, as if the field were absent.
                    Some(_) if matches!(value, Value::Null | Value::Text(b"")) => Ok(()),
                    Some(reason) => Err(ConvError::new(reason.clone())),
                    None => Err(ConvError::new(format!(
                        "field `{name}` has no column in table {}",
                        self.plan.table
                    ))),
                };
            }
        };
        if self.block.is_set(col) {
            return Err(ConvError::new(format!("field `{name}` appears twice")));
        }
        if let Some(format) = &self.plan.formats[col]
            && let Value::Text(text) | Value::Str(text) = value
            && !text.is_empty()
            && text != b"\\N"
        {
            let mut iso = std::mem::take(&mut self.plan.iso);
            let result = format.to_iso(text, &mut iso).and_then(|()| {
                self.block
                    .push(col, &Value::Text(iso.as_bytes()))
                    .map_err(|e| ConvError::new(e.0))
            });
            self.plan.iso = iso;
            return result.map_err(|e| {
                let shown = value.preview(60);
                let msg = format!(
                    "cannot convert {shown:?} to {}: {}",
                    self.plan.specs[col].type_name, e.0
                );
                self.bad_value = Some(shown);
                ConvError::new(msg)
            });
        }
        self.block.push(col, &value).map_err(|e| {
            let shown = value.preview(60);
            let msg = format!(
                "cannot convert {shown:?} to {}: {}",
                self.plan.specs[col].type_name, e.0
            );
            self.bad_value = Some(shown);
            ConvError::new(msg)
        })
    }
}

/// For tests: a MergeTree table `db.t` of `columns`, ordered by `sort_key`, on a server in UTC.
#[cfg(test)]
pub fn table_of(columns: &[(&str, &str)], sort_key: &[&str]) -> Target {
    let column = |&(name, type_name): &(&str, &str)| crate::ch::schema::TableColumn {
        name: name.to_owned(),
        type_name: type_name.to_owned(),
        default_kind: String::new(),
        default_expression: String::new(),
    };
    let schema = TableSchema {
        table: TableRef::parse("db.t", "default").unwrap(),
        columns: columns.iter().map(column).collect(),
        sort_key: sort_key.iter().map(|k| (*k).to_owned()).collect(),
        engine: "MergeTree".to_owned(),
        dependents: Vec::new(),
    };
    Target::new(schema, Tz::UTC)
}

#[cfg(test)]
mod tests;
