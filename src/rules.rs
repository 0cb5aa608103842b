//! What a route says about its files beyond their table: how their text is written (dialect,
//! encoding, NULL spellings), how their fields find columns (renames, case, unknown fields, date
//! formats), which metadata columns every row gets, and whether missing columns are added.

use crate::convert::date_format::DateFormat;
use crate::formats::TextOptions;
use std::collections::HashMap;

/// What a field that no column takes does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unknown {
    /// The file fails, naming the field (the default).
    #[default]
    Error,
    /// The field is left out.
    Ignore,
}

/// Facts about a file (or the run) a metadata column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// The path under the data folder.
    Path,
    /// Size in bytes.
    Size,
    /// Modification time, as observed when the file was planned.
    Mtime,
    /// The id of the run that ingested the row.
    RunId,
    /// When the run that ingested the row started.
    IngestedAt,
}

impl Meta {
    pub const ALL: [Meta; 5] = [
        Meta::Path,
        Meta::Size,
        Meta::Mtime,
        Meta::RunId,
        Meta::IngestedAt,
    ];

    /// The key naming it in a route's `metadata` table.
    pub fn key(self) -> &'static str {
        match self {
            Meta::Path => "path",
            Meta::Size => "size",
            Meta::Mtime => "mtime",
            Meta::RunId => "run_id",
            Meta::IngestedAt => "ingested_at",
        }
    }

    pub fn parse(key: &str) -> Option<Meta> {
        Meta::ALL.into_iter().find(|m| m.key() == key)
    }

    /// The type a created or added column gets.
    pub fn column_type(self, datetime64: bool) -> &'static str {
        match (self, datetime64) {
            (Meta::Path | Meta::RunId, _) => "String",
            (Meta::Size, _) => "UInt64",
            (Meta::Mtime, true) => "DateTime64(9)",
            (Meta::Mtime | Meta::IngestedAt, _) => "DateTime",
        }
    }
}

/// A route's rules; every file a route takes is read and mapped by them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub text: TextOptions,
    /// Field name → column name.
    pub renames: HashMap<String, String>,
    /// Field names find columns whatever their case.
    pub case_insensitive: bool,
    pub unknown: Unknown,
    /// The format of every date and time column without its own.
    pub date_format: Option<DateFormat>,
    /// Formats by column name.
    pub column_formats: HashMap<String, DateFormat>,
    /// Metadata columns, by name, in the order of `Meta::ALL`.
    pub metadata: Vec<(Meta, String)>,
    /// A field the table has no column for becomes a new `Nullable` column.
    pub add_columns: bool,
}

impl Rules {
    /// The column a field goes to among `columns` (the table's), if any: its rename, its own name,
    /// or (when case does not matter) the one column that differs from it only in case.
    pub fn column_for<'c>(&self, field: &str, columns: &'c [String]) -> Option<&'c String> {
        let wanted = self.renames.get(field).map_or(field, String::as_str);
        if let Some(c) = columns.iter().find(|c| *c == wanted) {
            return Some(c);
        }
        if !self.case_insensitive {
            return None;
        }
        let mut found = columns.iter().filter(|c| c.eq_ignore_ascii_case(wanted));
        match (found.next(), found.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }

    /// The column a field would be added as: its rename, or its own name.
    pub fn new_column_name<'a>(&'a self, field: &'a str) -> &'a str {
        self.renames.get(field).map_or(field, String::as_str)
    }

    pub fn is_metadata(&self, column: &str) -> bool {
        self.metadata.iter().any(|(_, c)| c == column)
    }

    /// The date format of a column, if it has one (its own, else the route's).
    pub fn format_for(&self, column: &str) -> Option<&DateFormat> {
        self.column_formats
            .get(column)
            .or(self.date_format.as_ref())
    }

    /// What the dry run shows of the mapping.
    pub fn describe(&self) -> Vec<String> {
        let mut parts = Vec::new();
        let mut renames: Vec<_> = self.renames.iter().collect();
        renames.sort();
        for (field, column) in renames {
            parts.push(format!("`{field}` → {column}"));
        }
        if self.case_insensitive {
            parts.push("names matched ignoring case".to_owned());
        }
        if self.unknown == Unknown::Ignore {
            parts.push("unknown fields ignored".to_owned());
        }
        if !self.metadata.is_empty() {
            let cols: Vec<String> = self
                .metadata
                .iter()
                .map(|(m, c)| format!("{c} ({})", m.key()))
                .collect();
            parts.push(format!("metadata {}", cols.join(", ")));
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_find_columns_by_rename_name_and_case() {
        let mut r = Rules::default();
        r.renames.insert("Order ID".into(), "order_id".into());
        let c = cols(&["order_id", "Name", "name2", "NAME2"]);
        assert_eq!(r.column_for("Order ID", &c).unwrap(), "order_id");
        assert_eq!(r.column_for("Name", &c).unwrap(), "Name");
        assert_eq!(r.column_for("name", &c), None);
        r.case_insensitive = true;
        assert_eq!(r.column_for("name", &c).unwrap(), "Name");
        assert_eq!(
            r.column_for("Name2", &c),
            None,
            "two columns differ only in case"
        );
        assert_eq!(r.column_for("name2", &c).unwrap(), "name2");
    }
}
