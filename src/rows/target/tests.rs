//! How a file's fields find their columns, and what a row writer puts in a block.

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
        engine: "MergeTree".to_owned(),
        dependents: Vec::new(),
    };
    Target::new(schema, Tz::UTC)
}

fn rules() -> Arc<Rules> {
    Arc::default()
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn names(plan: &ColumnPlan) -> Vec<&str> {
    plan.specs.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn a_file_fills_its_own_fields_in_its_order_then_the_provenance() {
    let plan =
        ColumnPlan::for_fields(&target(), &fields(&["note", "at", "id"]), false, &rules()).unwrap();
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
    let plan =
        ColumnPlan::for_fields(&target(), &fields(&["id", "note"]), false, &rules()).unwrap();
    assert!(plan.sort_columns().is_empty());
}

#[test]
fn fields_without_a_fillable_column_are_refused_with_the_reason() {
    let t = target();
    let refused = |f: &[&str]| ColumnPlan::for_fields(&t, &fields(f), false, &rules()).unwrap_err();
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
    let plan = ColumnPlan::for_table(&target(), &rules()).unwrap();
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
    let plan = ColumnPlan::for_table(&t, &rules()).unwrap();
    assert_eq!(names(&plan), ["id", "at", "note"]);
    assert_eq!(plan.sort_columns(), [0, 1]);
}

#[test]
fn a_record_fills_each_column_once_and_says_which_value_did_not_convert() {
    let t = target();
    let mut plan = ColumnPlan::for_table(&t, &rules()).unwrap();
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
    let mut plan = ColumnPlan::for_table(&t, &rules()).unwrap();
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
