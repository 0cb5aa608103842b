//! Routing files to target tables by glob on their path under the data folder, with how to read
//! them (a format that overrides the file name) and how to create a missing table.

use super::choices::OnChange;
use super::file::RouteConfig;
use super::reading::ReadingConfig;
use super::settings::{self, InsertSettings};
use crate::ch::ddl::{self, CreateSpec};
use crate::ch::ident::TableRef;
use crate::formats::{self, Compression, Detected, Format};
use crate::rules::Rules;
use globset::{GlobBuilder, GlobMatcher};
use std::sync::Arc;

/// Settings every route has unless it says otherwise (flags, environment, config file).
#[derive(Debug, Clone, Default)]
pub struct RouteDefaults {
    pub format: Option<Format>,
    pub create_table: bool,
    pub engine: Option<String>,
    pub order_by: Option<String>,
    pub insert_settings: InsertSettings,
    pub on_change: OnChange,
    /// How files are written and mapped, where their route does not say.
    pub reading: ReadingConfig,
}

#[derive(Debug, Clone)]
struct Route {
    glob: GlobMatcher,
    table: TableRef,
    format: Option<Format>,
    create_table: Option<bool>,
    engine: Option<String>,
    order_by: Option<String>,
    insert_settings: InsertSettings,
    on_change: Option<OnChange>,
    rules: Arc<Rules>,
}

#[derive(Debug, Clone)]
pub struct Routes {
    routes: Vec<Route>,
    default: Option<TableRef>,
    format: Option<Format>,
    on_change: OnChange,
    create_table: bool,
    create: CreateSpec,
    insert_settings: InsertSettings,
    /// The rules of files no route takes.
    rules: Arc<Rules>,
}

fn parse_on_change(text: &str, what: &str) -> Result<OnChange, String> {
    clap::ValueEnum::from_str(text.trim(), true)
        .map_err(|_| format!("{what}: unknown on_change `{text}`; use report, ingest or append"))
}

fn parse_format(text: &str, what: &str) -> Result<Format, String> {
    Format::parse(text.trim()).ok_or_else(|| {
        format!(
            "{what}: unknown format `{text}`; use one of {}",
            Format::NAMES
        )
    })
}

impl Routes {
    pub fn build(
        configs: &[RouteConfig],
        default: Option<TableRef>,
        database: &str,
        defaults: &RouteDefaults,
    ) -> Result<Routes, String> {
        let routes = configs
            .iter()
            .map(|r| {
                let what = format!("route `{}`", r.glob);
                let glob = GlobBuilder::new(&r.glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("route glob `{}`: {e}", r.glob))?;
                let table =
                    TableRef::parse(&r.table, database).map_err(|e| format!("{what}: {e}"))?;
                let format = r
                    .format
                    .as_deref()
                    .map(|f| parse_format(f, &what))
                    .transpose()?;
                for (text, check) in [
                    (
                        &r.engine,
                        ddl::check_engine as fn(&str) -> Result<(), String>,
                    ),
                    (&r.order_by, ddl::check_order_by),
                ] {
                    if let Some(t) = text {
                        check(t).map_err(|e| format!("{what}: {e}"))?;
                    }
                }
                let on_change = r
                    .on_change
                    .as_deref()
                    .map(|c| parse_on_change(c, &what))
                    .transpose()?;
                let own = match &r.insert_settings {
                    Some(t) => settings::from_table(t).map_err(|e| format!("{what}: {e}"))?,
                    None => InsertSettings::new(),
                };
                let rules = r.reading().over(&defaults.reading).build(&what)?;
                Ok(Route {
                    rules: Arc::new(rules),
                    glob: glob.compile_matcher(),
                    table,
                    format,
                    create_table: r.create_table,
                    engine: r.engine.clone(),
                    order_by: r.order_by.clone(),
                    insert_settings: settings::merged(&defaults.insert_settings, &own),
                    on_change,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if routes.is_empty() && default.is_none() {
            return Err(
                "no target table: pass --table, or add [[route]] entries to the config file"
                    .to_owned(),
            );
        }
        let format = defaults.format;
        let mut create = CreateSpec::default();
        if let Some(engine) = &defaults.engine {
            ddl::check_engine(engine).map_err(|e| format!("--engine: {e}"))?;
            create.engine = engine.trim().to_owned();
        }
        if let Some(order_by) = &defaults.order_by {
            ddl::check_order_by(order_by).map_err(|e| format!("--order-by: {e}"))?;
            create.order_by = order_by.trim().to_owned();
        }
        for (i, r) in routes.iter().enumerate() {
            if let Some(other) = routes[..i]
                .iter()
                .find(|o| o.table == r.table && o.insert_settings != r.insert_settings)
            {
                return Err(format!(
                    "routes `{}` and `{}` both go to table {} with different insert_settings",
                    other.glob.glob(),
                    r.glob.glob(),
                    r.table
                ));
            }
        }
        let rules = Arc::new(defaults.reading.build("settings")?);
        Ok(Routes {
            routes,
            default,
            format,
            on_change: defaults.on_change,
            create_table: defaults.create_table,
            create,
            insert_settings: defaults.insert_settings.clone(),
            rules,
        })
    }

    /// The rules a file's path takes: its route's, else the global ones.
    pub fn rules_for(&self, rel_path: &str) -> Arc<Rules> {
        self.route_for(rel_path)
            .map_or(&self.rules, |r| &r.rules)
            .clone()
    }

    fn route_for(&self, rel_path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.glob.is_match(rel_path))
    }

    /// The table for a path relative to the data folder: the first matching route, else the default.
    pub fn table_for(&self, rel_path: &str) -> Option<&TableRef> {
        self.route_for(rel_path)
            .map(|r| &r.table)
            .or(self.default.as_ref())
    }

    /// The position of the route a path takes, if a route (not the default table) takes it.
    pub fn route_index(&self, rel_path: &str) -> Option<usize> {
        self.routes.iter().position(|r| r.glob.is_match(rel_path))
    }

    /// What a changed file at this path does: its route's `on_change`, else `--on-change`.
    pub fn on_change_for(&self, rel_path: &str) -> OnChange {
        self.route_for(rel_path)
            .and_then(|r| r.on_change)
            .unwrap_or(self.on_change)
    }

    /// Each route as `glob → table`, in order.
    pub fn describe(&self) -> Vec<String> {
        self.routes
            .iter()
            .map(|r| format!("`{}` → {}", r.glob.glob(), r.table))
            .collect()
    }

    /// What a file is: the format its route (or `--format`) sets, else what its name says.
    /// What a file is and how its route says it is written: `None` for a file of no known type.
    pub fn recognise(&self, rel_path: &str, name: &str) -> Option<(Detected, Arc<Rules>)> {
        let detected = self.detect(rel_path, name)?;
        Some((detected, self.rules_for(rel_path)))
    }

    pub fn detect(&self, rel_path: &str, name: &str) -> Option<Detected> {
        if self.format.is_none() && self.routes.iter().all(|r| r.format.is_none()) {
            return formats::detect(name);
        }
        let forced = match self.route_for(rel_path) {
            Some(r) => r.format.or(self.format),
            None if self.default.is_some() => self.format,
            None => None,
        };
        match forced {
            Some(format) => Some(Detected {
                format,
                compression: Compression::of_name(name).0,
            }),
            None => formats::detect(name),
        }
    }

    /// The settings every insert into `table` carries.
    pub fn insert_settings_for(&self, table: &TableRef) -> &InsertSettings {
        self.routes
            .iter()
            .find(|r| &r.table == table)
            .map_or(&self.insert_settings, |r| &r.insert_settings)
    }

    /// Every setting name any insert carries, once each.
    pub fn insert_setting_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .routes
            .iter()
            .flat_map(|r| &r.insert_settings)
            .chain(&self.insert_settings)
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// How to create `table` if it is missing, or `None` if it must exist already.
    pub fn create_for(&self, table: &TableRef) -> Option<CreateSpec> {
        let mine: Vec<&Route> = self.routes.iter().filter(|r| &r.table == table).collect();
        let enabled = mine
            .iter()
            .find_map(|r| r.create_table)
            .unwrap_or(self.create_table);
        if !enabled {
            return None;
        }
        let mut spec = self.create.clone();
        if let Some(engine) = mine.iter().find_map(|r| r.engine.as_ref()) {
            spec.engine = engine.trim().to_owned();
        }
        if let Some(order_by) = mine.iter().find_map(|r| r.order_by.as_ref()) {
            spec.order_by = order_by.trim().to_owned();
        }
        Some(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(glob: &str, table: &str) -> RouteConfig {
        RouteConfig {
            glob: glob.into(),
            table: table.into(),
            ..RouteConfig::default()
        }
    }

    fn build(configs: &[RouteConfig], defaults: &RouteDefaults) -> Result<Routes, String> {
        Routes::build(
            configs,
            Some(TableRef::parse("misc", "db").unwrap()),
            "db",
            defaults,
        )
    }

    #[test]
    fn first_matching_route_wins_then_the_default() {
        let routes = build(
            &[route("reviews/**", "reviews"), route("*.json", "events")],
            &RouteDefaults::default(),
        )
        .unwrap();
        assert_eq!(
            routes.table_for("reviews/2024/a.csv").unwrap().table,
            "reviews"
        );
        assert_eq!(routes.table_for("x.json").unwrap().table, "events");
        assert_eq!(routes.table_for("sub/x.json").unwrap().table, "misc");
    }

    #[test]
    fn no_table_at_all_is_a_config_error() {
        let d = RouteDefaults::default();
        assert!(Routes::build(&[], None, "db", &d).is_err());
        assert!(Routes::build(&[route("[", "t")], None, "db", &d).is_err());
    }

    #[test]
    fn formats_come_from_the_route_then_the_flag_then_the_name() {
        let mut dat = route("exports/*", "events");
        dat.format = Some("ndjson".into());
        let defaults = RouteDefaults {
            format: Some(Format::Csv),
            ..RouteDefaults::default()
        };
        let routes = build(&[dat, route("*.json", "events")], &defaults).unwrap();
        let d = |rel: &str| {
            let name = rel.rsplit('/').next().unwrap();
            routes.detect(rel, name).map(|d| d.to_string())
        };
        assert_eq!(d("exports/a.dat.gz").as_deref(), Some("jsonl.gz"));
        assert_eq!(d("x.json").as_deref(), Some("csv"));
        assert_eq!(d("notes.txt").as_deref(), Some("csv"));
        let plain = build(&[], &RouteDefaults::default()).unwrap();
        assert_eq!(plain.detect("notes.txt", "notes.txt"), None);
        let mut bad = route("*", "t");
        bad.format = Some("xls".into());
        assert_eq!(
            build(&[bad], &RouteDefaults::default()).unwrap_err(),
            "route `*`: unknown format `xls`; use one of csv, tsv (or tab), json, jsonl (or ndjson), parquet, xml"
        );
    }

    #[test]
    fn table_creation_is_per_table_with_route_settings_first() {
        let mut events = route("events/**", "events");
        events.create_table = Some(true);
        events.engine = Some("ReplacingMergeTree".into());
        let mut kept = route("kept/**", "kept");
        kept.create_table = Some(false);
        let defaults = RouteDefaults {
            create_table: false,
            order_by: Some("tuple()".into()),
            ..RouteDefaults::default()
        };
        let routes = build(&[events, kept], &defaults).unwrap();
        let t = |n: &str| TableRef::parse(n, "db").unwrap();
        let spec = routes.create_for(&t("events")).unwrap();
        assert_eq!(spec.engine, "ReplacingMergeTree");
        assert_eq!(spec.order_by, "tuple()");
        assert!(routes.create_for(&t("misc")).is_none());
        let all = build(
            &[],
            &RouteDefaults {
                create_table: true,
                ..RouteDefaults::default()
            },
        )
        .unwrap();
        assert_eq!(all.create_for(&t("misc")).unwrap(), CreateSpec::default());
    }
}
