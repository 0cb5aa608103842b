//! Field names of formats whose fields appear record by record (JSON, XML): each name gets a
//! stable index on first sight, and a file cannot make the list grow without bound.

use super::ReadError;
use std::collections::HashMap;

/// At most this many distinct field names per file.
pub const MAX_FIELDS: usize = 10_000;

#[derive(Debug, Default)]
pub struct FieldNames {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl FieldNames {
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The index of `name`, registering it if it is new.
    pub fn index_of(&mut self, name: &str) -> Result<usize, ReadError> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        if self.names.len() >= MAX_FIELDS {
            return Err(ReadError::file(format!(
                "more than {MAX_FIELDS} distinct field names"
            )));
        }
        let i = self.names.len();
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_stable() {
        let mut f = FieldNames::default();
        assert_eq!(f.index_of("a").unwrap(), 0);
        assert_eq!(f.index_of("b").unwrap(), 1);
        assert_eq!(f.index_of("a").unwrap(), 0);
        assert_eq!(f.names(), ["a", "b"]);
    }
}
