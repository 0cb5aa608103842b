//! Routing files to target tables by glob on their path under the data folder.

use super::RouteConfig;
use crate::ch::ident::TableRef;
use globset::{GlobBuilder, GlobMatcher};

#[derive(Debug, Clone)]
pub struct Routes {
    routes: Vec<(GlobMatcher, TableRef)>,
    default: Option<TableRef>,
}

impl Routes {
    pub fn build(
        configs: &[RouteConfig],
        default: Option<TableRef>,
        database: &str,
    ) -> Result<Routes, String> {
        let routes = configs
            .iter()
            .map(|r| {
                let glob = GlobBuilder::new(&r.glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("route glob `{}`: {e}", r.glob))?;
                let table = TableRef::parse(&r.table, database)
                    .map_err(|e| format!("route `{}`: {e}", r.glob))?;
                Ok((glob.compile_matcher(), table))
            })
            .collect::<Result<Vec<_>, String>>()?;
        if routes.is_empty() && default.is_none() {
            return Err(
                "no target table: pass --table, or add [[route]] entries to the config file"
                    .to_owned(),
            );
        }
        Ok(Routes { routes, default })
    }

    /// The table for a path relative to the data folder: the first matching route, else the default.
    pub fn table_for(&self, rel_path: &str) -> Option<&TableRef> {
        self.routes
            .iter()
            .find(|(glob, _)| glob.is_match(rel_path))
            .map(|(_, t)| t)
            .or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(glob: &str, table: &str) -> RouteConfig {
        RouteConfig {
            glob: glob.into(),
            table: table.into(),
        }
    }

    #[test]
    fn first_matching_route_wins_then_the_default() {
        let routes = Routes::build(
            &[route("reviews/**", "reviews"), route("*.json", "events")],
            Some(TableRef::parse("misc", "db").unwrap()),
            "db",
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
        assert!(Routes::build(&[], None, "db").is_err());
        assert!(Routes::build(&[route("[", "t")], None, "db").is_err());
    }
}
