//! The optional TOML config file: the same settings as the flags, plus routes from globs to tables.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub url: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    pub manifest_table: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub allow_insecure_http: Option<bool>,
    pub folder_id: Option<String>,
    pub table: Option<String>,
    pub batch_rows: Option<u64>,
    pub insert_rows: Option<u64>,
    pub settle: Option<String>,
    pub lock_file: Option<PathBuf>,
    pub output: Option<String>,
    pub metrics_file: Option<PathBuf>,
    pub dry_run: Option<bool>,
    pub on_error: Option<String>,
    pub max_errors: Option<u64>,
    pub max_error_ratio: Option<f64>,
    pub on_change: Option<String>,
    pub after: Option<String>,
    pub done_dir: Option<PathBuf>,
    pub quarantine_dir: Option<PathBuf>,
    pub without_provenance: Option<bool>,
    pub format: Option<String>,
    pub create_table: Option<bool>,
    pub engine: Option<String>,
    pub order_by: Option<String>,
    pub limit: Option<u64>,
    pub fail_on_warning: Option<bool>,
    /// Settings every INSERT carries: `insert_settings = { insert_quorum = 2 }`.
    pub insert_settings: Option<SettingsTable>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
}

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
    /// Settings the inserts into this route's table carry, over the global ones.
    pub insert_settings: Option<SettingsTable>,
}

/// `name = value` pairs of ClickHouse settings; values may be strings, numbers or booleans.
pub type SettingsTable = std::collections::BTreeMap<String, toml::Value>;

impl FileConfig {
    /// Reads a config file; relative paths in it are taken relative to the file's folder.
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        let mut cfg: FileConfig = toml::from_str(&text).map_err(|e| {
            format!(
                "config file {}: {}",
                path.display(),
                e.to_string().trim_end().replace('\n', " ")
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut cfg.data_dir, &mut cfg.lock_file, &mut cfg.metrics_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<FileConfig>("urll = 'x'").unwrap_err();
        assert!(err.to_string().contains("unknown field `urll`"), "{err}");
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
}
