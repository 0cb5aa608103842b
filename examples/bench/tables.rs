//! The fresh table every run loads into, what it holds afterwards (rows, parts, a checksum of every
//! row), and the floor's `Native` body written from it.

use crate::sides::Sides;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// The review columns, in the generator's order.
const COLUMNS: &str =
    "rating, title, text, asin, user_id, timestamp, helpful_vote, verified_purchase";

/// The review table's columns, with `verified_purchase` as the booleans' type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// `UInt8`, the natural type, which ClickHouse's JSONEachRow reads `true`/`false` into.
    Typed,
    /// `String`: ClickHouse 18.16's CSV parser does not read `true`/`false` into `UInt8`, and
    /// every side must fill the same table.
    CsvText,
}

impl Schema {
    fn columns(self) -> String {
        let boolean = match self {
            Schema::Typed => "UInt8",
            Schema::CsvText => "String",
        };
        format!(
            "rating Float32, title String, text String, asin String, user_id String, \
             timestamp UInt64, helpful_vote UInt32, verified_purchase {boolean}"
        )
    }
}

/// What a table holds after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landed {
    pub rows: u64,
    /// Active parts of the table.
    pub parts: u64,
    /// Sum of a hash of every row's review columns: equal tables have equal checksums.
    pub checksum: u64,
}

/// A fresh database holding an empty `reviews` table.
pub struct Target {
    pub database: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merges {
    /// The server merges parts in the background, as it does by default.
    Running,
    /// Merges stopped on the table (and its part limits raised), so every part an insert
    /// created is still there to count.
    Stopped,
}

impl Sides<'_> {
    pub fn target(&self, schema: Schema, merges: Merges) -> Result<Target> {
        let database = format!("bench_{}", self.next());
        self.server.query(&format!("CREATE DATABASE {database}"))?;
        let settings = match merges {
            Merges::Running => "",
            Merges::Stopped => {
                " SETTINGS parts_to_delay_insert = 1000000, parts_to_throw_insert = 1000000"
            }
        };
        self.server.query(&format!(
            "CREATE TABLE {database}.reviews ({}) \
             ENGINE = MergeTree ORDER BY (asin, timestamp){settings}",
            schema.columns()
        ))?;
        if merges == Merges::Stopped {
            self.server
                .query(&format!("SYSTEM STOP MERGES {database}.reviews"))?;
        }
        Ok(Target { database })
    }

    /// Drops the run's database, its data at once: 26.9's Atomic databases otherwise keep a
    /// dropped table's files for 8 minutes, and the multi-GB runs filled the disk. 18.16's
    /// Ordinary databases drop at once and know no `SYNC`.
    pub fn drop_target(&self, target: Target) -> Result<()> {
        let sync = match self.server.version.starts_with("18.") {
            true => "",
            false => " SYNC",
        };
        self.server
            .query(&format!("DROP DATABASE {}{sync}", target.database))?;
        Ok(())
    }

    /// Writes every row of `target` into `path` as one `Native` body in the table's key order:
    /// what the floor sends.
    pub fn write_native(&self, target: &Target, path: &Path) -> Result<()> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {}.reviews ORDER BY asin, timestamp FORMAT Native",
            target.database
        );
        let url = format!(
            "{}/?max_bytes_before_external_sort=1000000000",
            self.server.url()
        );
        let logs = self.logs("native");
        let mut cmd = Command::new("curl");
        cmd.args(["--silent", "--show-error", "--fail-with-body", "--output"])
            .arg(path)
            .args(["--data-binary", &sql, &url])
            .stderr(std::fs::File::create(&logs.err)?);
        let status = cmd.status().context("cannot run curl")?;
        if !status.success() {
            bail!(
                "cannot write the floor's rows to {}: curl ended with {status}: {}",
                path.display(),
                std::fs::read_to_string(path).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// What `target` holds; fails unless it holds `expected` rows.
    pub fn landed(&self, target: &Target, expected: u64) -> Result<Landed> {
        let db = &target.database;
        let text = self.server.query(&format!(
            "SELECT count(), sum(cityHash64({COLUMNS})) FROM {db}.reviews"
        ))?;
        let (rows, checksum) = text
            .split_once('\t')
            .and_then(|(r, c)| Some((r.parse().ok()?, c.parse().ok()?)))
            .with_context(|| format!("unexpected count and checksum: {text}"))?;
        if rows != expected {
            bail!("{db}.reviews holds {rows} rows, expected {expected}: the run is not valid");
        }
        let parts = self.server.query_u64(&format!(
            "SELECT count() FROM system.parts \
             WHERE database = '{db}' AND table = 'reviews' AND active"
        ))?;
        Ok(Landed {
            rows,
            parts,
            checksum,
        })
    }
}
