//! What a cluster changes. Rows of a Distributed table are written into its local table on the
//! replica connected to (one atomic, deduplicated part per insert, never a queue of the
//! Distributed table's own), and asked about through the Distributed table (every shard).
//! Replicated tables are made to catch up (`SYSTEM SYNC REPLICA`) before anything is asked of
//! what landed in them, so that a replica that has not fetched a part yet never makes the tool
//! send its rows again. And the tool's own tables, on a cluster, are replicated to every server.

use super::ident::TableRef;
use super::{ChError, Server, Sql};
use serde::Deserialize;

/// How a target table's rows are laid out on the servers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Where rows are inserted when it is not the table itself: a Distributed table's local table.
    pub local: Option<TableRef>,
    /// The replicated table holding the rows, if they are replicated.
    pub replicated: Option<TableRef>,
}

#[derive(clickhouse::Row, Deserialize)]
struct Engine {
    engine: String,
    engine_full: String,
}

impl Server {
    async fn engine(&self, table: &TableRef) -> Result<Option<Engine>, ChError> {
        let sql = Sql::new(
            "SELECT engine, engine_full FROM system.tables WHERE database = ? AND name = ?",
        )
        .arg(&table.database)
        .arg(&table.table);
        let rows: Vec<Engine> = self.fetch_all("look up a table's engine", &sql).await?;
        Ok(rows.into_iter().next())
    }

    /// Whether a table is replicated (a `Replicated…MergeTree`).
    pub async fn is_replicated(&self, table: &TableRef) -> Result<bool, ChError> {
        Ok(self
            .engine(table)
            .await?
            .is_some_and(|e| e.engine.starts_with("Replicated")))
    }

    /// How a target table's rows are laid out: a Distributed table's local table (which must
    /// exist on the replica connected to), and whether the rows are replicated.
    pub async fn layout(&self, table: &TableRef) -> Result<Layout, ChError> {
        let Some(e) = self.engine(table).await? else {
            return Ok(Layout::default());
        };
        if e.engine.starts_with("Replicated") {
            return Ok(Layout {
                local: None,
                replicated: Some(table.clone()),
            });
        }
        if e.engine != "Distributed" {
            return Ok(Layout::default());
        }
        let local = distributed_local(&e.engine_full, &table.database).ok_or_else(|| {
            ChError::Client(format!(
                "cannot tell the local table of Distributed table {table} from `{}`",
                e.engine_full
            ))
        })?;
        if self.engine(&local).await?.is_none() {
            return Err(ChError::Server {
                code: 60,
                message: format!(
                    "the local table {local} of Distributed table {table} is not on the server \
                     at {} (rows are written into the local table of the replica connected to)",
                    self.display_url()
                ),
            });
        }
        let replicated = self.is_replicated(&local).await?.then(|| local.clone());
        Ok(Layout {
            local: Some(local),
            replicated,
        })
    }

    /// Waits until this replica of a replicated table has fetched every part the others had
    /// committed: only then does what it holds answer what landed.
    pub async fn catch_up(&self, table: &TableRef) -> Result<(), ChError> {
        let sql = Sql::new(format!("SYSTEM SYNC REPLICA {}", table.sql()));
        self.execute("wait for the replica to catch up", &sql)
            .await
            .map_err(|e| match e {
                ChError::Timeout(t) => ChError::Server {
                    code: 159,
                    message: format!(
                        "replica {} of {table} did not catch up within {t:?} (a part it lacks \
                         may be on a replica that is down)",
                        self.display_url()
                    ),
                },
                other => other,
            })
    }

    /// The engine of one of the tool's own tables: on a cluster, replicated to every server of
    /// it (one ZooKeeper path for all shards, so every host sees one manifest).
    pub fn own_engine(&self, table: &TableRef) -> String {
        match self.cluster() {
            Some(_) => format!(
                "ReplicatedMergeTree('/clickhouse/ingest/{}/{}', '{{replica}}')",
                table.database, table.table
            ),
            None => "MergeTree".to_owned(),
        }
    }
}

/// The local table named by `Distributed(cluster, database, table[, key…])` (arguments may be
/// quoted; `currentDatabase()` is the Distributed table's own).
fn distributed_local(engine_full: &str, own_database: &str) -> Option<TableRef> {
    let args = engine_full
        .trim()
        .strip_prefix("Distributed(")?
        .split(',')
        .map(|a| {
            a.trim()
                .trim_matches(['\'', '`', '"', ')'])
                .replace("\\'", "")
        })
        .collect::<Vec<_>>();
    let database = match args.get(1)?.as_str() {
        "currentDatabase(" | "currentDatabase()" | "" => own_database.to_owned(),
        d => d.to_owned(),
    };
    TableRef::parse(args.get(2)?, &database).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_table_of_a_distributed_table_is_read_from_its_engine() {
        let t = |s: &str| distributed_local(s, "own").map(|t| t.to_string());
        assert_eq!(t("Distributed(c, d, t, rand())").as_deref(), Some("d.t"));
        assert_eq!(t("Distributed('c', 'd', 't')").as_deref(), Some("d.t"));
        assert_eq!(
            t("Distributed(c, currentDatabase(), t)").as_deref(),
            Some("own.t")
        );
        assert_eq!(t("MergeTree ORDER BY x"), None);
    }
}
