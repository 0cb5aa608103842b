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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ch::schema::TableColumn;

    fn column(name: &str, type_name: &str, default_kind: &str) -> TableColumn {
        TableColumn {
            name: name.to_owned(),
            type_name: type_name.to_owned(),
            default_kind: default_kind.to_owned(),
            default_expression: String::new(),
        }
    }

    /// `events(id UInt64, at DateTime, note String, agg AggregateFunction(…), total MATERIALIZED,
    /// provenance)`, ordered by `(id, at)`.
    fn target() -> Target {
        let schema = TableSchema {
            table: TableRef::parse("db.events", "default").unwrap(),
            columns: vec![
                column("id", "UInt64", ""),
                column("at", "DateTime", ""),
                column("note", "String", ""),
                column("agg", "AggregateFunction(uniq, UInt64)", ""),
                column("total", "UInt64", "MATERIALIZED"),
                column(PROVENANCE_FILE, "UInt64", ""),
                column(PROVENANCE_ROW, "UInt64", ""),
            ],
            sort_key: vec!["id".to_owned(), "at".to_owned()],
        };
        Target::new(schema, Tz::UTC)
    }

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn names(plan: &ColumnPlan) -> Vec<&str> {
        plan.specs.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn a_file_fills_its_own_fields_in_its_order_then_the_provenance() {
        let plan = ColumnPlan::for_fields(&target(), &fields(&["note", "at", "id"])).unwrap();
        assert_eq!(
            names(&plan),
            ["note", "at", "id", PROVENANCE_FILE, PROVENANCE_ROW]
        );
        assert_eq!(plan.sort_columns(), [2, 1]);
        assert_eq!(
            plan.column_list(),
            "(`note`, `at`, `id`, `_ingest_file`, `_ingest_row`)"
        );
    }

    #[test]
    fn rows_are_sorted_only_when_the_file_fills_the_whole_sorting_key() {
        let plan = ColumnPlan::for_fields(&target(), &fields(&["id", "note"])).unwrap();
        assert!(plan.sort_columns().is_empty());
    }

    #[test]
    fn fields_without_a_fillable_column_are_refused_with_the_reason() {
        let t = target();
        let refused = |f: &[&str]| ColumnPlan::for_fields(&t, &fields(f)).unwrap_err();
        assert_eq!(
            refused(&["id", "colour"]),
            "field `colour` has no column in table db.events"
        );
        assert_eq!(
            refused(&["total"]),
            "field `total` is a MATERIALIZED column of table db.events and cannot be inserted"
        );
        assert_eq!(
            refused(&[PROVENANCE_ROW]),
            "field `_ingest_row` is reserved for provenance"
        );
        assert!(
            refused(&["agg"]).starts_with("column `agg`: "),
            "{}",
            refused(&["agg"])
        );
    }

    #[test]
    fn records_with_their_own_keys_may_fill_any_fillable_column() {
        let plan = ColumnPlan::for_table(&target());
        assert_eq!(
            names(&plan),
            ["id", "at", "note", PROVENANCE_FILE, PROVENANCE_ROW]
        );
        assert_eq!(plan.sort_columns(), [0, 1]);
    }

    #[test]
    fn a_table_without_provenance_gets_no_provenance_columns() {
        let mut t = target();
        t.provenance = false;
        let plan = ColumnPlan::for_table(&t);
        assert_eq!(names(&plan), ["id", "at", "note"]);
        assert_eq!(plan.sort_columns(), [0, 1]);
    }

    #[test]
    fn a_record_fills_each_column_once_and_says_which_value_did_not_convert() {
        let t = target();
        let mut plan = ColumnPlan::for_table(&t);
        let mut block = plan.new_block(Tz::UTC).unwrap();
        let mut row = RowWriter::new(&mut plan, &mut block);
        row.field(0, "id", Value::Text(b"7")).unwrap();
        assert_eq!(
            row.field(1, "id", Value::Text(b"8")).unwrap_err().0,
            "field `id` appears twice"
        );
        assert_eq!(
            row.field(2, "colour", Value::Text(b"red")).unwrap_err().0,
            "field `colour` has no column in table db.events"
        );
        row.field(3, "agg", Value::Null).unwrap();
        assert!(row.field(3, "agg", Value::Text(b"x")).is_err());
        let err = row.field(4, "at", Value::Text(b"yesterday")).unwrap_err();
        assert!(
            err.0
                .starts_with("cannot convert \"yesterday\" to DateTime: "),
            "{}",
            err.0
        );
        assert_eq!(row.take_bad_value().as_deref(), Some("yesterday"));
        assert_eq!(row.take_bad_value(), None);
    }

    #[test]
    fn every_row_is_stamped_with_its_file_and_ordinal() {
        let t = target();
        let mut plan = ColumnPlan::for_table(&t);
        let mut block = plan.new_block(Tz::UTC).unwrap();
        for ordinal in 0..3 {
            let mut row = RowWriter::new(&mut plan, &mut block);
            row.field(0, "id", Value::UInt(ordinal)).unwrap();
            plan.stamp(&mut block, 42, ordinal);
        }
        assert_eq!(block.rows(), 3);
        let mut native = Vec::new();
        block.write_native(&mut native);
        let u64s =
            |values: &[u64]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        // The last two columns, each a name, a type and its values.
        let mut tail = u64s(&[42, 42, 42]);
        tail.push(PROVENANCE_ROW.len() as u8);
        tail.extend(PROVENANCE_ROW.as_bytes());
        tail.push(6);
        tail.extend(b"UInt64");
        tail.extend(u64s(&[0, 1, 2]));
        assert!(native.ends_with(&tail), "{native:?}");
    }
}
