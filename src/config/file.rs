//! The optional TOML config file: the same settings as the flags, plus routes from globs to tables.

use super::reading::{DateFormats, ReadingConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a config file holds beyond flag values: routes, and the insert settings table. Its other
/// keys are flag values, which `layered` makes the flags' defaults.
#[derive(Debug, Default, Deserialize)]
pub struct FileConfig {
    /// Settings every INSERT carries: `insert_settings = { insert_quorum = 2 }`.
    pub insert_settings: Option<SettingsTable>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// The file's other keys: flag values by the flags' names with `_`.
    #[serde(skip)]
    pub settings: toml::Table,
    /// The file's folder: relative paths in it are relative to it.
    #[serde(skip)]
    pub base: PathBuf,
}

/// The keys that are not flag values.
pub const STRUCTURAL_KEYS: &[&str] = &["route", "insert_settings"];

/// `[[route]]`: files whose path under the data folder matches `glob` go to `table`, read as
/// `format` if set; `create_table`, `engine` and `order_by` say how to create a missing table;
/// `insert_settings` are added to every insert into it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub glob: String,
    pub table: String,
    pub format: Option<String>,
    pub create_table: Option<bool>,
    pub engine: Option<String>,
    pub order_by: Option<String>,
    /// What a changed file of this route does (`report`, `ingest` or `append`), over
    /// `--on-change`.
    pub on_change: Option<String>,
    /// Settings the inserts into this route's table carry, over the global ones.
    pub insert_settings: Option<SettingsTable>,
    /// How the files are written and map onto the table (see `ReadingConfig`).
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

impl RouteConfig {
    /// How the route's files are written and map onto its table.
    pub fn reading(&self) -> ReadingConfig {
        ReadingConfig {
            delimiter: self.delimiter.clone(),
            quote: self.quote.clone(),
            escape: self.escape.clone(),
            header: self.header,
            comment: self.comment.clone(),
            skip_lines: self.skip_lines,
            trailing_delimiter: self.trailing_delimiter,
            encoding: self.encoding.clone(),
            null_values: self.null_values.clone(),
            fields: self.fields.clone(),
            date_format: self.date_format.clone(),
            columns: self.columns.clone(),
            case_insensitive: self.case_insensitive,
            unknown_fields: self.unknown_fields.clone(),
            metadata: self.metadata.clone(),
            schema: self.schema.clone(),
        }
    }
}

/// `name = value` pairs of ClickHouse settings; values may be strings, numbers or booleans.
pub type SettingsTable = std::collections::BTreeMap<String, toml::Value>;

impl FileConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        let fail =
            |e: toml::de::Error| format!("config file {}: {}", path.display(), describe(&text, &e));
        let mut cfg: FileConfig = toml::from_str(&text).map_err(fail)?;
        cfg.settings = toml::from_str(&text).map_err(fail)?;
        cfg.settings.retain(|k, _| !STRUCTURAL_KEYS.contains(&k));
        cfg.base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(cfg)
    }
}

/// Whether a key's value may be a secret (a password, a token, credentials in a URL).
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "credential", "key", "url"]
        .iter()
        .any(|s| key.contains(s))
}

/// Text between backticks or double quotes in an error message: a value from the file.
fn without_values(message: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push_str("(not shown)");
                quote = None;
            }
            Some(_) => {}
            None if c == '`' || c == '"' => quote = Some(c),
            None => out.push(c),
        }
    }
    if quote.is_some() {
        out.push_str("(not shown)");
    }
    out
}

/// A config file error as the line number, the key and the problem, never the file's text: the
/// line may hold a password. Syntax errors name no key (their line may be inside a value).
fn describe(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return without_values(e.message().trim());
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    if toml::from_str::<toml::Table>(text).is_err() {
        return format!("line {line_no}: invalid TOML: {}", e.message().trim());
    }
    // The document is valid, so the error is about a value (or a table): the key is what comes
    // before the last `=` on its line before the error, or the table header.
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..start];
    let key = match before.rfind('=') {
        Some(eq) => before[..eq]
            .rsplit(['{', ','])
            .next()
            .map(str::trim)
            .unwrap_or_default(),
        None => before.trim().trim_matches(['[', ']']).trim(),
    };
    // Messages about keys quote keys; any other quotes a value, which may be a password put
    // under the wrong key.
    let message = e.message().trim();
    let about_keys = [
        "unknown field",
        "missing field",
        "duplicate key",
        "unknown variant",
    ]
    .iter()
    .any(|m| message.starts_with(m));
    let message = match about_keys && !is_secret(key) {
        true => message.to_owned(),
        false => without_values(message),
    };
    match key.is_empty() {
        true => format!("line {line_no}: {message}"),
        false => format!("line {line_no}, key `{key}`: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        let e = toml::from_str::<FileConfig>(text).unwrap_err();
        describe(text, &e)
    }

    /// The file's flag values are checked in `layered`; what it checks here is the file's syntax
    /// and its routes and insert settings.
    #[test]
    fn errors_name_the_key_and_never_show_a_secret() {
        let secret = "hunter2-Sup3r";
        for text in [
            format!("password = \"{secret}"),
            format!("password = \"\"\"{secret}\n"),
            format!("password = {secret}\n"),
            format!("password = '{secret}\n"),
            format!("password = \"{secret}\"\ntable = 'a'\ntable = 'b'\n"),
            format!("[[route]]\nglob = '*'\ntable = 't'\npassword = \"{secret}\"\n"),
            format!("[[route]]\nglob = '*'\ntable = \"{secret}\"\ncreate_table = \"{secret}\"\n"),
            format!("insert_settings = \"{secret}\"\n"),
        ] {
            let err = error(&text);
            assert!(!err.contains("hunter2"), "{text:?} gave {err:?}");
            assert!(err.starts_with("line "), "{err}");
        }
        assert!(
            error("[[route]]\nglob = '*'\ntable = 't'\ntabel = 'x'\n")
                .contains("unknown field `tabel`")
        );
        assert!(error("[[route]]\nglob = '*'\n").contains("missing field `table`"));
    }

    #[test]
    fn routes_parse() {
        let cfg: FileConfig = toml::from_str(
            "table = 'events'\n[[route]]\nglob = 'reviews/**'\ntable = 'shop.reviews'\n\
             format = 'jsonl'\ncreate_table = true\nengine = 'ReplacingMergeTree'\n",
        )
        .unwrap();
        assert_eq!(cfg.routes.len(), 1);
        assert_eq!(cfg.routes[0].table, "shop.reviews");
        assert_eq!(cfg.routes[0].format.as_deref(), Some("jsonl"));
        assert_eq!(cfg.routes[0].create_table, Some(true));
    }

    #[test]
    fn routes_say_how_their_files_are_written() {
        let cfg: FileConfig = toml::from_str(
            "[[route]]\nglob = '*.csv'\ntable = 't'\ndelimiter = ';'\nencoding = 'windows-1252'\n\
             null_values = ['', 'NA']\ndate_format = { shipped = '%d/%m/%Y' }\n\
             columns = { 'Order ID' = 'order_id' }\nmetadata = { path = 'src_file' }\n\
             schema = 'add-columns'\n",
        )
        .unwrap();
        let r = cfg.routes[0].reading();
        assert_eq!(r.delimiter.as_deref(), Some(";"));
        assert_eq!(r.null_values.unwrap(), ["", "NA"]);
        assert!(matches!(r.date_format, Some(DateFormats::ByColumn(_))));
        assert_eq!(r.columns.unwrap()["Order ID"], "order_id");
        let rules = cfg.routes[0].reading().build("route").unwrap();
        assert!(rules.add_columns);
        assert!(
            toml::from_str::<FileConfig>("[[route]]\nglob='*'\ntable='t'\ndelimeter=';'\n")
                .is_err()
        );
    }
}
