//! Validating and quoting identifiers, which come from config and files and must never inject SQL.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IdentError {
    #[error(
        "`{0}` is not a valid database or table name (letters, digits and `_`, not starting with a digit)"
    )]
    BadName(String),
    #[error("column name {0:?} is empty, too long or has control characters")]
    BadColumn(String),
}

/// A plain name for a database or table: `[A-Za-z_][A-Za-z0-9_]*`, at most 128 bytes.
pub fn check_name(name: &str) -> Result<&str, IdentError> {
    let mut chars = name.chars();
    let ok = name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(IdentError::BadName(name.to_owned()))
    }
}

/// A column name as files spell them: anything printable up to 256 bytes; always quoted.
pub fn check_column(name: &str) -> Result<&str, IdentError> {
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        Err(IdentError::BadColumn(name.to_owned()))
    } else {
        Ok(name)
    }
}

/// Quotes an identifier with backticks, escaping what ClickHouse's lexer treats specially.
pub fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        match c {
            '`' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// A validated `database.table` pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    pub database: String,
    pub table: String,
}

impl TableRef {
    /// Parses `table` or `database.table`, taking `default_db` when no database is given.
    pub fn parse(spec: &str, default_db: &str) -> Result<TableRef, IdentError> {
        let (db, table) = match spec.split_once('.') {
            Some((db, table)) => (db, table),
            None => (default_db, spec),
        };
        Ok(TableRef {
            database: check_name(db)?.to_owned(),
            table: check_name(table)?.to_owned(),
        })
    }

    /// The quoted form for SQL text.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote(&self.database), quote(&self.table))
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(check_name("reviews_2024").is_ok());
        assert!(check_name("_x").is_ok());
        for bad in ["", "1abc", "a-b", "a b", "a`b", "x;DROP", "a.b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_column("user id (ß)").is_ok());
        assert!(check_column("a\nb").is_err());
        assert!(check_column("").is_err());
    }

    #[test]
    fn quoting_escapes_backticks_and_backslashes() {
        assert_eq!(quote("a`b\\c"), "`a\\`b\\\\c`");
        assert_eq!(quote("plain"), "`plain`");
    }

    #[test]
    fn table_refs_take_the_default_database() {
        let t = TableRef::parse("events", "analytics").unwrap();
        assert_eq!(t.to_string(), "analytics.events");
        assert_eq!(t.sql(), "`analytics`.`events`");
        let t = TableRef::parse("db2.events", "analytics").unwrap();
        assert_eq!(t.database, "db2");
        assert!(TableRef::parse("a.b.c", "x").is_err());
    }
}
