//! Creating tables only when they are missing, so that a run by a user without the right to create
//! tables works against tables an operator made beforehand (`ingest init`).

use super::ident::TableRef;
use super::{ChError, Server};
use serde::Deserialize;

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    n: u64,
}

impl Server {
    /// Whether a table or view exists, asked of `system.tables` (which needs no extra right).
    pub async fn table_exists(&self, table: &TableRef) -> Result<bool, ChError> {
        let c: Count = self
            .fetch_one("look up a table", |c| {
                c.query("SELECT count() AS n FROM system.tables WHERE database = ? AND name = ?")
                    .bind(&table.database)
                    .bind(&table.table)
            })
            .await?;
        Ok(c.n > 0)
    }

    /// Runs `ddl` (a `CREATE … IF NOT EXISTS`) only if `table` does not exist yet; says whether it
    /// ran it.
    pub async fn create_if_missing(
        &self,
        what: &str,
        table: &TableRef,
        ddl: &str,
    ) -> Result<bool, ChError> {
        if self.table_exists(table).await? {
            return Ok(false);
        }
        match self.execute(what, |c| c.query_raw(ddl)).await {
            Ok(()) => Ok(true),
            Err(ChError::Server { code, message }) => Err(ChError::Server {
                code,
                message: format!("cannot create {table}: {message}"),
            }),
            Err(e) => Err(e),
        }
    }
}
