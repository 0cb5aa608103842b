//! The flags that say how files are written and how their fields map onto their tables
//! (dialect, encoding, NULL spellings, date formats, names, schema evolution), flattened into
//! `ingest run`'s: declared once, like every flag in `flags`, and valid as the config file's
//! top-level keys; routes give the same keys per route (see `reading`).

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};

/// How files are written and how their fields map onto the table, for files whose route does
/// not say (routes set the same keys in the config file).
#[derive(Debug, Clone, Default, Args)]
pub struct ReadingArgs {
    /// CSV field delimiter: one character, `\t` or `tab` [default: sniffed from the file]
    #[arg(long, env = "INGEST_DELIMITER", value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// CSV quote character, or `none` [default: sniffed: `"` or `'`]
    #[arg(long, env = "INGEST_QUOTE", value_name = "CHAR")]
    pub quote: Option<String>,

    /// How a quote is written inside a quoted CSV field: double (`""`) or backslash (`\"`)
    /// [default: double]
    #[arg(long, env = "INGEST_ESCAPE", value_name = "STYLE", value_parser = ["double", "backslash"])]
    pub escape: Option<String>,

    /// Whether CSV and TSV files start with a header row (true or false) [default: sniffed]
    #[arg(long, env = "INGEST_HEADER", value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub header: Option<bool>,

    /// CSV and TSV lines starting with this character are comments, skipped
    #[arg(long, env = "INGEST_COMMENT", value_name = "CHAR")]
    pub comment: Option<String>,

    /// Lines to skip at the top of CSV and TSV files, before the header [default: 0]
    #[arg(long, env = "INGEST_SKIP_LINES", value_name = "N")]
    pub skip_lines: Option<usize>,

    /// Every CSV or TSV line ends with a delimiter, which ends no field
    #[arg(long, env = "INGEST_TRAILING_DELIMITER", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub trailing_delimiter: bool,

    /// Text encoding of files without a byte order mark: any WHATWG label (windows-1252,
    /// iso-8859-15, shift_jis, …) [default: utf-8; XML: its declaration]
    #[arg(long, env = "INGEST_ENCODING", value_name = "LABEL")]
    pub encoding: Option<String>,

    /// A field text that means NULL (repeatable; the environment variable takes a
    /// comma-separated list) [default: \N, and an empty field is NULL or the column's default]
    #[arg(
        long = "null-value",
        env = "INGEST_NULL_VALUES",
        value_name = "TEXT",
        value_delimiter = ','
    )]
    pub null_values: Vec<String>,

    /// strftime format of date and time fields whose day and month order the text cannot tell,
    /// e.g. %d/%m/%Y (routes may give one per column)
    #[arg(long, env = "INGEST_DATE_FORMAT", value_name = "FORMAT")]
    pub date_format: Option<String>,

    /// Match field names to column names ignoring case
    #[arg(long, env = "INGEST_CASE_INSENSITIVE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub case_insensitive: bool,

    /// A field the table has no column for: error (the file fails) or ignore [default: error]
    #[arg(long, env = "INGEST_UNKNOWN_FIELDS", value_name = "POLICY", value_parser = ["error", "ignore"])]
    pub unknown_fields: Option<String>,

    /// fixed, or add-columns: a field the table lacks becomes a new Nullable column (ALTER
    /// TABLE … ADD COLUMN); columns are never dropped or narrowed [default: fixed]
    #[arg(long, env = "INGEST_SCHEMA", value_name = "POLICY", value_parser = ["fixed", "add-columns"])]
    pub schema: Option<String>,
}
