//! Turning a file's records into rows of a target table's `Native` block: which columns a file
//! fills, converting each field, and stamping every row with its provenance.

use crate::ch::ident::{TableRef, quote};
use crate::ch::schema::{PROVENANCE_FILE, PROVENANCE_ROW, TableSchema};
use crate::convert::ConvError;
use crate::formats::FieldSink;
use crate::native::{BlockBuilder, ColumnSpec};
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
}

impl Target {
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
    by_field: Vec<Option<usize>>,
    /// Columns of the table this tool cannot fill, with the reason.
    unsupported: Arc<HashMap<String, String>>,
    /// Positions of the provenance columns, when the table has them.
    provenance: Option<(usize, usize)>,
    /// Positions of the table's sorting key columns, when the file fills all of them.
    sort: Vec<usize>,
    table: String,
}

impl ColumnPlan {
    /// For formats whose fields are known up front: exactly these fields, in this order, so
    /// columns the file lacks take the table's own defaults.
    pub fn for_fields(target: &Target, fields: &[String]) -> Result<ColumnPlan, String> {
        let mut specs = Vec::with_capacity(fields.len() + 2);
        for f in fields {
            if f == PROVENANCE_FILE || f == PROVENANCE_ROW {
                return Err(format!("field `{f}` is reserved for provenance"));
            }
            if let Some(reason) = target.unsupported.get(f) {
                return Err(format!("column `{f}`: {reason}"));
            }
            match target.data_specs.iter().find(|s| &s.name == f) {
                Some(spec) => specs.push(spec.clone()),
                None => {
                    return Err(match target.schema.column(f) {
                        Some(c) => format!(
                            "field `{f}` is a {} column of table {} and cannot be inserted",
                            c.default_kind, target.table
                        ),
                        None => format!("field `{f}` has no column in table {}", target.table),
                    });
                }
            }
        }
        Ok(Self::with_provenance(specs, target))
    }

    /// For formats whose fields appear record by record: every data column of the table this
    /// tool can fill; a record that sets another column fails.
    pub fn for_table(target: &Target) -> ColumnPlan {
        Self::with_provenance(target.data_specs.clone(), target)
    }

    fn with_provenance(mut specs: Vec<ColumnSpec>, target: &Target) -> ColumnPlan {
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
        if !target.provenance {
            return ColumnPlan {
                specs,
                by_name,
                by_field: Vec::new(),
                unsupported,
                provenance: None,
                sort,
                table,
            };
        }
        let hash_col = specs.len();
        specs.push(ColumnSpec {
            name: PROVENANCE_FILE.to_owned(),
            type_name: "UInt64".to_owned(),
            ty: crate::ch::types::ChType::UInt64,
            default: None,
        });
        specs.push(ColumnSpec {
            name: PROVENANCE_ROW.to_owned(),
            type_name: "UInt64".to_owned(),
            ty: crate::ch::types::ChType::UInt64,
            default: None,
        });
        ColumnPlan {
            specs,
            by_name,
            by_field: Vec::new(),
            unsupported,
            provenance: Some((hash_col, hash_col + 1)),
            sort,
            table,
        }
    }

    /// The `(col, …)` list of the INSERT; files with the same list can share an insert.
    pub fn column_list(&self) -> String {
        let cols: Vec<String> = self.specs.iter().map(|s| quote(&s.name)).collect();
        format!("({})", cols.join(", "))
    }

    pub fn new_block(&self, server_tz: Tz) -> Result<BlockBuilder, String> {
        BlockBuilder::new(&self.specs, server_tz)
    }

    fn resolve(&mut self, index: usize, name: &str) -> Option<usize> {
        if let Some(Some(col)) = self.by_field.get(index) {
            return Some(*col);
        }
        let col = self.by_name.get(name).copied();
        if self.by_field.len() <= index {
            self.by_field.resize(index + 1, None);
        }
        self.by_field[index] = col;
        col
    }

    /// The block columns to sort rows by before sending (empty: leave the order to the server).
    pub fn sort_columns(&self) -> &[usize] {
        &self.sort
    }

    /// Forgets the per-file field cache before the plan serves another file.
    pub fn reset_fields(&mut self) {
        self.by_field.clear();
    }

    /// Completes the block's current row with its provenance.
    pub fn stamp(&self, block: &mut BlockBuilder, file_id: u64, ordinal: u64) {
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
        let Some(col) = self.plan.resolve(index, name) else {
            return match self.plan.unsupported.get(name) {
                // No value leaves the column to its default, as if the field were absent.
                Some(_) if matches!(value, Value::Null | Value::Text(b"")) => Ok(()),
                Some(reason) => Err(ConvError::new(reason.clone())),
                None => Err(ConvError::new(format!(
                    "field `{name}` has no column in table {}",
                    self.plan.table
                ))),
            };
        };
        if self.block.is_set(col) {
            return Err(ConvError::new(format!("field `{name}` appears twice")));
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
