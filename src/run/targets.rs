//! The target tables of a run, ready to take rows: each loaded (or created from its files where
//! configured), given provenance columns where it lacks them (a Distributed table's local table
//! too), told where its rows are written and whether they are replicated, and recognised as a
//! table whose manifest was lost; files that cannot go into theirs are refused, each with why.

use super::prepare::Refusal;
use crate::ch::Server;
use crate::ch::ident::TableRef;
use crate::ch::schema::TableSchema;
use crate::config::RunConfig;
use crate::crashes::Crashes;
use crate::exit::Fatal;
use crate::manifest::State;
use crate::rows::target::{RunStamp, Target};
use crate::scan::FileEntry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// What loading the target tables needs.
pub(super) struct Targets<'a> {
    pub server: &'a Server,
    pub cfg: &'a RunConfig,
    pub state: &'a State,
    pub crashes: &'a Arc<Mutex<Crashes>>,
    /// The run, for the metadata columns.
    pub stamp: RunStamp,
}

impl Targets<'_> {
    /// Loads each target table (creating a missing one where configured), adding provenance
    /// columns where missing (and saying so). Files that cannot go in (their fields cannot
    /// become columns, or no table could be made from the files) are `refused`, each with why.
    pub async fn prepare(
        &self,
        tables: BTreeMap<&TableRef, Vec<&FileEntry>>,
        created: &mut Vec<(String, String)>,
        altered: &mut Vec<(String, String)>,
        refused: &mut HashMap<String, Refusal>,
    ) -> Result<BTreeMap<TableRef, Arc<Target>>, Fatal> {
        let mut targets = BTreeMap::new();
        for (table, files) in tables {
            let target = match TableSchema::load(self.server, table).await? {
                Some(mut schema) => {
                    self.evolve(&mut schema, &files, altered, refused).await?;
                    self.target(schema, false).await?
                }
                None => match self.create(table, files, refused).await? {
                    Some((schema, sql)) => {
                        created.push((table.to_string(), sql));
                        self.target(schema, true).await?
                    }
                    // Every file of the table is refused: a table with no column stands in.
                    None => Target::new(TableSchema::empty(table), self.server.caps.timezone),
                },
            };
            targets.insert(table.clone(), Arc::new(target));
        }
        Ok(targets)
    }

    /// Adds the columns the files of routes with `schema = "add-columns"` need (in a dry run,
    /// only to the schema in memory), noting each statement.
    async fn evolve(
        &self,
        schema: &mut TableSchema,
        files: &[&FileEntry],
        altered: &mut Vec<(String, String)>,
        refused: &mut HashMap<String, Refusal>,
    ) -> Result<(), Fatal> {
        let evolving: Vec<FileEntry> = files
            .iter()
            .filter(|f| f.rules.add_columns)
            .map(|f| (*f).clone())
            .collect();
        if evolving.is_empty() {
            return Ok(());
        }
        let done = crate::infer::evolve::add_columns(
            self.server,
            schema,
            evolving,
            self.cfg.dry_run,
            self.cfg.max_columns,
            self.crashes.clone(),
        )
        .await?;
        for sql in done.statements {
            altered.push((schema.table.to_string(), sql));
        }
        for (rel, why) in done.refused {
            let reason = format!("{rel}: {why}");
            refused.insert(rel, Refusal::data(reason));
        }
        Ok(())
    }

    /// Creates a missing table from its files where configured; `None` when the files give no
    /// table (each of them then refused).
    async fn create(
        &self,
        table: &TableRef,
        files: Vec<&FileEntry>,
        refused: &mut HashMap<String, Refusal>,
    ) -> Result<Option<(TableSchema, String)>, Fatal> {
        let Some(spec) = self.cfg.routes.create_for(table) else {
            return Err(Fatal::config(format!(
                "target table {table} does not exist; create it first, or pass \
                 --create-table to create it from its files"
            )));
        };
        let rels: Vec<String> = files.iter().map(|f| f.rel.clone()).collect();
        let files = files.into_iter().cloned().collect();
        let made = crate::infer::create_table(
            self.server,
            table,
            files,
            &spec,
            self.cfg.dry_run,
            self.cfg.max_columns,
            self.crashes.clone(),
        )
        .await?;
        for (rel, why) in made.refused {
            let reason = format!("{rel}: {why}");
            refused.insert(rel, Refusal::data(reason));
        }
        match made.created {
            Ok(c) => Ok(Some((c.schema, c.sql))),
            Err(why) => {
                log::warn!("{why}");
                for rel in rels {
                    refused
                        .entry(rel.clone())
                        .or_insert_with(|| Refusal::transient(format!("{rel}: {why}")));
                }
                Ok(None)
            }
        }
    }

    async fn target(&self, mut schema: TableSchema, new: bool) -> Result<Target, Fatal> {
        let (server, cfg) = (self.server, self.cfg);
        let table = &schema.table.clone();
        let layout = server.layout(table).await?;
        let mut takes_back = schema.rows_can_be_taken_back();
        if let Some(local) = &layout.local {
            // A Distributed table's rows go into its local table, which needs the columns first.
            takes_back = false;
            if let Some(mut local) = TableSchema::load(server, local).await? {
                self.provenance(&mut local, false).await?;
                takes_back = local.rows_can_be_taken_back();
            }
        }
        self.provenance(&mut schema, layout.local.is_some()).await?;
        let schema_has_provenance = schema.has_provenance();
        let recovery = !new
            && schema_has_provenance
            && !self.state.tables.contains(&table.to_string())
            && server.has_provenance_rows(table).await?;
        if recovery {
            log::warn!(
                "the manifest has no record of table {table}, which holds ingested rows; \
                 checking every file against the table before sending it"
            );
        }
        let defaults = schema.constant_defaults(server).await?;
        let mut target = Target::new(schema, server.caps.timezone).with_defaults(&defaults);
        target.recovery = recovery;
        target.provenance = schema_has_provenance;
        target.insert_settings = cfg.routes.insert_settings_for(table).clone();
        target.stamp = self.stamp.clone();
        // Rows deleted from a replicated table would leave their blocks' hashes behind, so the
        // same rows sent again would be taken for duplicates: such a table gets two passes.
        target.one_pass = takes_back
            && schema_has_provenance
            && layout.replicated.is_none()
            && !recovery
            && !cfg.check_first
            && !cfg.dry_run;
        target.whole_inserts = server.caps.whole_inserts();
        target.layout = layout;
        Ok(target)
    }

    /// Adds the provenance columns a table lacks (and says so), unless told not to.
    async fn provenance(&self, schema: &mut TableSchema, here_only: bool) -> Result<(), Fatal> {
        let table = &schema.table.clone();
        if schema.has_provenance() {
            return Ok(());
        }
        if !self.cfg.add_provenance {
            log::warn!(
                "table {table} has no provenance columns (--without-provenance): ingestion \
                 into it is at-least-once"
            );
        } else if self.cfg.dry_run {
            log::warn!(
                "table {table} has no provenance columns; a run would add them \
                 (ALTER TABLE ADD COLUMN, metadata only)"
            );
        } else {
            schema.add_provenance(self.server, here_only).await?;
            log::warn!(
                "added provenance columns {} and {} to table {table}",
                crate::ch::schema::PROVENANCE_FILE,
                crate::ch::schema::PROVENANCE_ROW
            );
        }
        Ok(())
    }
}
