//! The rejects table beside the manifest (`<manifest>_rejects`): where `--on-error skip-row`
//! records every record it left out.

use super::Manifest;
use crate::ch::ChError;
use crate::ch::ident::TableRef;

pub use crate::ch::rejects::RejectRow;

impl Manifest {
    pub fn rejects_table(&self) -> TableRef {
        TableRef {
            database: self.table.database.clone(),
            table: format!("{}_rejects", self.table.table),
        }
    }

    /// Creates the rejects table if missing; `true` if it did.
    pub(super) async fn ensure_rejects(&self) -> Result<bool, ChError> {
        self.server().create_rejects(&self.rejects_table()).await
    }

    /// How many rejects of this content are recorded already (a resumed file's are).
    pub async fn rejects_recorded(&self, table: &TableRef, hash: &str) -> Result<u64, ChError> {
        self.server()
            .rejects_recorded(&self.rejects_table(), table, hash)
            .await
    }

    pub async fn write_rejects(&self, rows: &[RejectRow]) -> Result<(), ChError> {
        self.server()
            .write_rejects(&self.rejects_table(), rows)
            .await
    }
}
