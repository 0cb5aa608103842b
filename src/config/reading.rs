//! The settings that say how a route's files are written and how their fields map onto the
//! table (dialect, encoding, NULL spellings, date formats, renames, metadata columns, schema
//! evolution): parsed and checked here into `Rules`, a route's own over the global ones.

use super::reading_flags::ReadingArgs;
use crate::convert::date_format::DateFormat;
use crate::formats::options::{DialectSettings, Escape, TextOptions, parse_byte};
use crate::rules::{Meta, Rules, Unknown};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// `date_format = "%d/%m/%Y"` for every date column, or a table of formats by column.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DateFormats {
    All(String),
    ByColumn(BTreeMap<String, String>),
}

/// Reading settings as given, each unset unless said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadingConfig {
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    pub escape: Option<String>,
    pub header: Option<bool>,
    pub comment: Option<String>,
    pub skip_lines: Option<usize>,
    pub trailing_delimiter: Option<bool>,
    pub encoding: Option<String>,
    pub null_values: Option<Vec<String>>,
    pub fields: Option<Vec<String>>,
    pub date_format: Option<DateFormats>,
    pub columns: Option<BTreeMap<String, String>>,
    pub case_insensitive: Option<bool>,
    pub unknown_fields: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub schema: Option<String>,
}

macro_rules! over {
    ($self:ident, $base:ident, $($f:ident),*) => {
        ReadingConfig { $($f: $self.$f.clone().or_else(|| $base.$f.clone()),)* }
    };
}

impl ReadingConfig {
    /// These settings, with `base`'s where these say nothing.
    pub fn over(&self, base: &ReadingConfig) -> ReadingConfig {
        over!(
            self,
            base,
            delimiter,
            quote,
            escape,
            header,
            comment,
            skip_lines,
            trailing_delimiter,
            encoding,
            null_values,
            fields,
            date_format,
            columns,
            case_insensitive,
            unknown_fields,
            metadata,
            schema
        )
    }

    pub fn from_flags(a: &ReadingArgs) -> ReadingConfig {
        ReadingConfig {
            delimiter: a.delimiter.clone(),
            quote: a.quote.clone(),
            escape: a.escape.clone(),
            header: a.header,
            comment: a.comment.clone(),
            skip_lines: a.skip_lines,
            trailing_delimiter: a.trailing_delimiter.then_some(true),
            encoding: a.encoding.clone(),
            null_values: (!a.null_values.is_empty()).then(|| a.null_values.clone()),
            fields: None,
            date_format: a.date_format.clone().map(DateFormats::All),
            columns: None,
            case_insensitive: a.case_insensitive.then_some(true),
            unknown_fields: a.unknown_fields.clone(),
            metadata: None,
            schema: a.schema.clone(),
        }
    }

    /// Checks the settings and builds the rules; errors start with `what` (the route or flag).
    pub fn build(&self, what: &str) -> Result<Rules, String> {
        let err = |e: String| format!("{what}: {e}");
        let byte = |v: &Option<String>, name: &str| {
            v.as_deref()
                .map(|t| parse_byte(t, name))
                .transpose()
                .map_err(err)
        };
        let quote = match self.quote.as_deref() {
            None => None,
            Some("" | "none") => Some(None),
            Some(q) => Some(Some(parse_byte(q, "quote").map_err(err)?)),
        };
        let escape = match self.escape.as_deref() {
            None => None,
            Some("double") => Some(Escape::Double),
            Some("backslash") => Some(Escape::Backslash),
            Some(other) => {
                return Err(err(format!(
                    "escape must be double or backslash, not `{other}`"
                )));
            }
        };
        let dialect = DialectSettings {
            delimiter: byte(&self.delimiter, "delimiter")?,
            quote,
            escape,
            header: self.header,
            comment: byte(&self.comment, "comment")?,
            skip_lines: self.skip_lines.unwrap_or(0),
            trailing_delimiter: self.trailing_delimiter.unwrap_or(false),
        };
        if dialect.delimiter.is_some() && dialect.delimiter == dialect.quote.flatten() {
            return Err(err("the delimiter and the quote must differ".to_owned()));
        }
        let encoding = match self.encoding.as_deref() {
            None => None,
            Some(label) => Some(
                encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
                    err(format!(
                        "unknown encoding `{label}` (use a WHATWG label such as utf-8, \
                         windows-1252, iso-8859-15, utf-16le, shift_jis)"
                    ))
                })?,
            ),
        };
        if let Some(fields) = &self.fields {
            if fields.is_empty() {
                return Err(err("fields must name at least one field".to_owned()));
            }
            if self.header.is_none() {
                return Err(err(
                    "fields names the fields of files without a header: set header = false \
                     (or true, to read past a header with other names)"
                        .to_owned(),
                ));
            }
        }
        let text = TextOptions {
            dialect,
            encoding,
            null_values: self
                .null_values
                .as_ref()
                .map(|v| v.iter().map(|s| s.as_bytes().to_vec()).collect()),
            fields: self.fields.clone(),
        };
        let (date_format, column_formats) = match &self.date_format {
            None => (None, HashMap::new()),
            Some(DateFormats::All(p)) => (Some(DateFormat::new(p).map_err(err)?), HashMap::new()),
            Some(DateFormats::ByColumn(m)) => {
                let mut by = HashMap::new();
                for (col, p) in m {
                    by.insert(col.clone(), DateFormat::new(p).map_err(err)?);
                }
                (None, by)
            }
        };
        let unknown = match self.unknown_fields.as_deref() {
            None | Some("error") => Unknown::Error,
            Some("ignore") => Unknown::Ignore,
            Some(other) => {
                return Err(err(format!(
                    "unknown_fields must be error or ignore, not `{other}`"
                )));
            }
        };
        let mut metadata = Vec::new();
        if let Some(m) = &self.metadata {
            for (key, column) in m {
                let meta = Meta::parse(key).ok_or_else(|| {
                    err(format!(
                        "metadata has no `{key}`; use path, size, mtime, run_id or ingested_at"
                    ))
                })?;
                crate::ch::ident::check_column(column)
                    .map_err(|e| err(format!("metadata column: {e}")))?;
                metadata.push((meta, column.clone()));
            }
            metadata.sort_by_key(|(m, _)| Meta::ALL.iter().position(|x| x == m));
        }
        let add_columns = match self.schema.as_deref() {
            None | Some("fixed") => false,
            Some("add-columns") => true,
            Some(other) => {
                return Err(err(format!(
                    "schema must be fixed or add-columns, not `{other}`"
                )));
            }
        };
        let renames: HashMap<String, String> = self
            .columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        for column in renames.values() {
            crate::ch::ident::check_column(column).map_err(|e| err(format!("columns: {e}")))?;
        }
        Ok(Rules {
            text,
            renames,
            case_insensitive: self.case_insensitive.unwrap_or(false),
            unknown,
            date_format,
            column_formats,
            metadata,
            add_columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_routes_override_the_global_ones() {
        let global = ReadingConfig {
            delimiter: Some(";".into()),
            null_values: Some(vec!["NA".into()]),
            ..ReadingConfig::default()
        };
        let route = ReadingConfig {
            delimiter: Some("\\t".into()),
            ..ReadingConfig::default()
        };
        let rules = route.over(&global).build("route `x`").unwrap();
        assert_eq!(rules.text.dialect.delimiter, Some(b'\t'));
        assert_eq!(rules.text.null_values, Some(vec![b"NA".to_vec()]));
        let bad = |c: ReadingConfig| c.build("route `x`").unwrap_err();
        assert_eq!(
            bad(ReadingConfig {
                encoding: Some("klingon".into()),
                ..ReadingConfig::default()
            }),
            "route `x`: unknown encoding `klingon` (use a WHATWG label such as utf-8, \
             windows-1252, iso-8859-15, utf-16le, shift_jis)"
        );
        assert!(
            bad(ReadingConfig {
                date_format: Some(DateFormats::All("%H".into())),
                ..ReadingConfig::default()
            })
            .contains("must name the day and the year")
        );
        assert!(
            bad(ReadingConfig {
                metadata: Some([("when".to_owned(), "w".to_owned())].into()),
                ..ReadingConfig::default()
            })
            .contains("metadata has no `when`")
        );
        assert!(
            bad(ReadingConfig {
                schema: Some("drop-columns".into()),
                ..ReadingConfig::default()
            })
            .contains("fixed or add-columns")
        );
    }
}
